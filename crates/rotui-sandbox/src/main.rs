//! `rotui-sandbox` (also reached as `rotui sandbox`): start the local world
//! and keep it up until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use color_eyre::eyre::Result;
use rotui_sandbox::guard::scratch_dir;
use rotui_sandbox::postgres::PgFlavour;
use rotui_sandbox::world::{Servers, World};
use tokio::signal::unix::{SignalKind, signal};

/// Start a local world (databases, Secrets Manager, Kubernetes) to try rotui in.
#[derive(Debug, Parser)]
#[command(name = "rotui-sandbox", version)]
struct Args {
    /// Where to write kubeconfig, sandbox.json and sandbox.env [default: a fresh temp dir].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The MySQL app's server: `mysql` (MySQL 9.7 LTS, as production's 8.4) or `mariadb`.
    #[arg(long, default_value = "mysql")]
    mysql: rotui_sandbox::mariadb::Flavour,
    /// PostgreSQL server for account-api: 17 (Debian trixie's, the estate's) or 15 (the system's).
    #[arg(long, default_value = "17", value_parser = clap::value_parser!(PgFlavour))]
    postgres: PgFlavour,
}

#[tokio::main]
async fn main() -> Result<()> {
    color_eyre::install()?;
    let args = Args::parse();
    let started = Instant::now();
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => scratch_dir("rotui-sandbox-")?,
    };
    let mut term = signal(SignalKind::terminate())?;
    let servers = Servers {
        mysql: args.mysql,
        postgres: args.postgres,
    };
    let world = World::start_with_servers(&dir, &servers).await?;
    let info = world.info();
    println!("rotui sandbox ready in {:.1} s", started.elapsed().as_secs_f64());
    println!();
    println!("  directory         {}", dir.display());
    println!("  kubeconfig        {}", info.kubeconfig.display());
    println!(
        "  Secrets Manager   {} ({})",
        info.aws_endpoint_url, info.aws_region
    );
    println!(
        "  {:<17} {}",
        format!("{} (signon)", info.mysql.flavour),
        info.mysql.admin_url
    );
    println!(
        "  {:<17} {}",
        format!("{} (account-api)", info.postgres.flavour),
        info.postgres.admin_url
    );
    println!();
    println!("In another shell:");
    println!("  source {}", dir.join("sandbox.env").display());
    println!("  rotui --app signon --engine mysql          # or --app account-api --engine postgres");
    println!("  kubectl get externalsecrets,secrets,deployments,pods -n apps");
    println!();
    println!("Ctrl-C stops the sandbox.");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    println!("stopping the sandbox…");
    world.shutdown().await;
    Ok(())
}
