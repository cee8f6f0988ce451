use std::io::{IsTerminal, Write};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use color_eyre::eyre::Result;
use rotui::cli::{Cli, Command};
use rotui::cmd;

fn main() {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if db_url_on_command_line(&matches)
        && cli
            .conn
            .db_url
            .as_deref()
            .is_some_and(rotui::cli::url_carries_password)
    {
        report(&color_eyre::eyre::eyre!(
            "--db-url carries a password, and any user on this machine can read a command line (`ps`): \
             pass the URL in ROTUI_DB_URL instead, or leave the password out and rotui reads it from the \
             admin secret (<env>-rds-admin-passwords)"
        ));
        std::process::exit(2);
    }
    // The dashboard mostly waits: one thread does its waiting, rendering and
    // I/O, with no hand-offs between threads each second (anything blocking
    // goes to tokio's blocking pool). The sandbox runs servers and
    // controllers side by side, and the one-shot commands take all cores.
    let runtime = match cli.command {
        None | Some(Command::Tui) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            report(&e.into());
            std::process::exit(1);
        }
    };
    let log = match start_log(&cli) {
        Ok(log) => log,
        Err(e) => {
            report(&e);
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(run(cli));
    if let Err(e) = &result {
        tracing::error!("{e:#}");
    }
    // Whatever is still waiting on a server that does not answer (a pooled
    // connection being given back, a background release) is abandoned
    // rather than waited for: the process's exit closes its sockets.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    // Flush the log before exiting (exit runs no destructors).
    drop(log);
    // Ended by a signal: say so (and what failed, if anything did), then
    // exit as a shell reports a process it killed.
    if let Some(signal) = rotui::tui::received_signal() {
        if let Err(e) = &result {
            report(e);
        }
        let name = nix::sys::signal::Signal::try_from(signal).map_or("a signal", |s| s.as_str());
        let _ = writeln!(std::io::stderr(), "rotui: ended by {name}");
        std::process::exit(128 + signal);
    }
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            report(&e);
            std::process::exit(1);
        }
    }
}

/// Whether `--db-url` was typed on the command line (not from ROTUI_DB_URL),
/// at the top level or after the subcommand.
fn db_url_on_command_line(matches: &ArgMatches) -> bool {
    let mut m = Some(matches);
    while let Some(here) = m {
        if here.value_source("db_url") == Some(ValueSource::CommandLine) {
            return true;
        }
        m = here.subcommand().map(|(_, sub)| sub);
    }
    false
}

/// Every command logs to `<state dir>/rotui.log` (see `rotui::logging`). The
/// dashboard cannot start without its log; the one-shot commands warn and go on.
fn start_log(cli: &Cli) -> Result<Option<rotui::logging::LogGuard>> {
    let dashboard = matches!(cli.command, None | Some(Command::Tui));
    // The sandbox logs its own way; a credential_process is a kube exec
    // plugin's helper, run at every token: it keeps out of the operator's log.
    if matches!(
        cli.command,
        Some(Command::Sandbox(_) | Command::CredentialProcess(_))
    ) {
        return Ok(None);
    }
    let started = rotui::rotation::journal::state_dir()
        .map_err(|e| color_eyre::eyre::eyre!("{e}"))
        .and_then(|dir| {
            rotui::logging::init(&dir)
                .map_err(|e| color_eyre::eyre::eyre!("cannot write the log in {}: {e}", dir.display()))
        });
    match started {
        Ok(guard) => Ok(Some(guard)),
        Err(e) if dashboard => Err(e),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "rotui: warning: {} (set ROTUI_STATE_DIR to a writable directory)",
                rotui::text::escape_controls(&rotui::secret::redact(&e.to_string()))
            );
            Ok(None)
        }
    }
}

/// Whether stderr may carry colour: a terminal, and NO_COLOR unset or empty.
fn stderr_colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The error report: what failed and why, each cause on its line, secrets
/// masked and control characters shown escaped; colour only on a terminal.
fn report(e: &color_eyre::eyre::Report) {
    let (red, bold, reset) = if stderr_colour() {
        ("\x1b[31m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let clean = |s: String| rotui::text::escape_controls_keep_lines(&rotui::secret::redact(&s)).into_owned();
    let mut text = format!("{red}{bold}Error:{reset} {}\n", clean(e.to_string()));
    for cause in e.chain().skip(1) {
        text.push_str(&format!("  caused by: {}\n", clean(cause.to_string())));
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}

async fn run(cli: Cli) -> Result<i32> {
    // Restores the terminal on any panic (also in a background task) first.
    rotui::tui::install_hooks()?;
    // `rotui plan | head` should end quietly, as other command-line tools do,
    // not report a broken pipe.
    // SAFETY: SIG_DFL installs no handler of ours; sigaction itself is thread-safe.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    match cli.command.unwrap_or(Command::Tui) {
        Command::Tui => cmd::dashboard::run(&cli.target, &cli.conn, cli.read_only).await?,
        Command::Inspect(args) => cmd::inspect::run(&cli.conn, &cli.target, &args).await?,
        Command::Plan(args) => cmd::rotate::plan(&cli.target, &cli.conn, &args).await?,
        Command::Rotate(args) => {
            return cmd::rotate::rotate(&cli.target, &cli.conn, &args, cli.read_only).await;
        }
        Command::Rollback(args) => {
            return cmd::rotate::rollback(&cli.target, &cli.conn, &args, cli.read_only).await;
        }
        Command::Journal(args) => cmd::rotate::journal(args.id.as_deref())?,
        Command::Report(args) => cmd::report::run(&args)?,
        // Enter on a row: the dashboard on that app; quitting it comes back
        // to the fleet, read afresh.
        Command::Fleet(args) => loop {
            match cmd::fleet::run(&cli.target, &cli.conn, &args).await? {
                cmd::fleet::FleetExit::Code(code) => return Ok(code),
                cmd::fleet::FleetExit::Open(target) => {
                    cmd::dashboard::run(&target, &cli.conn, cli.read_only).await?;
                    // A signal ended it: it ends the fleet too.
                    if rotui::tui::received_signal().is_some() {
                        return Ok(0);
                    }
                }
            }
        },
        Command::Sandbox(args) => cmd::sandbox::run(&args)?,
        Command::CredentialProcess(args) => cmd::credential_process::run(&args).await?,
    }
    Ok(0)
}
