use clap::Parser;
use color_eyre::eyre::Result;
use rotui::cli::{Cli, Command};
use rotui::cmd;

#[tokio::main]
async fn main() -> Result<()> {
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
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Tui) {
        Command::Tui => cmd::dashboard::run(&cli.target, &cli.conn, cli.read_only).await?,
        Command::Inspect(args) => cmd::inspect::run(&cli.conn, &cli.target, &args).await?,
        Command::Plan(args) => cmd::rotate::plan(&cli.target, &cli.conn, &args).await?,
        Command::Rotate(args) => {
            let code = cmd::rotate::rotate(&cli.target, &cli.conn, &args, cli.read_only).await?;
            std::process::exit(code);
        }
        Command::Journal(args) => cmd::rotate::journal(args.id.as_deref())?,
        Command::Sandbox(args) => cmd::sandbox::run(&args).await?,
    }
    Ok(())
}
