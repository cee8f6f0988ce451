use clap::Parser;
use color_eyre::eyre::Result;
use rotui::cli::{Cli, Command};
use rotui::cmd;

fn main() -> Result<()> {
    let cli = Cli::parse();
    // The dashboard mostly waits: one thread does its waiting, rendering and
    // I/O, with no hand-offs between threads each second (anything blocking
    // goes to tokio's blocking pool). The sandbox runs servers and
    // controllers side by side, and the one-shot commands take all cores.
    let runtime = match cli.command {
        None | Some(Command::Tui) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
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
            let code = cmd::rotate::rotate(&cli.target, &cli.conn, &args, cli.read_only).await?;
            std::process::exit(code);
        }
        Command::Journal(args) => cmd::rotate::journal(args.id.as_deref())?,
        Command::Sandbox(args) => cmd::sandbox::run(&args)?,
    }
    Ok(())
}
