use clap::Parser;
use color_eyre::eyre::Result;
use rotui::cli::{Cli, Command};

#[tokio::main]
async fn main() -> Result<()> {
    color_eyre::install()?;
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Tui) {
        Command::Tui => println!("rotui: the dashboard is not built yet"),
        Command::Inspect(args) => rotui::cmd::inspect::run(&cli.conn, &cli.target, &args).await?,
        Command::Plan => println!("rotui plan: not built yet"),
        Command::Rotate(_) => println!("rotui rotate: not built yet"),
        Command::Journal(_) => println!("rotui journal: not built yet"),
        Command::Sandbox(args) => rotui::cmd::sandbox::run(&args).await?,
    }
    Ok(())
}
