//! `rotui sandbox`: start the local world and keep it up until Ctrl-C or SIGTERM.

use std::time::Instant;

use color_eyre::eyre::Result;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::SandboxArgs;
use crate::sandbox::guard::scratch_dir;
use crate::sandbox::world::World;

pub async fn run(args: &SandboxArgs) -> Result<()> {
    let started = Instant::now();
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => scratch_dir("rotui-sandbox-")?,
    };
    let mut term = signal(SignalKind::terminate())?;
    let world = World::start(&dir).await?;
    let info = world.info();
    println!("rotui sandbox ready in {:.1} s", started.elapsed().as_secs_f64());
    println!();
    println!("  directory         {}", dir.display());
    println!("  kubeconfig        {}", info.kubeconfig.display());
    println!(
        "  Secrets Manager   {} ({})",
        info.aws_endpoint_url, info.aws_region
    );
    println!("  MariaDB (signon)  {}", info.mysql.admin_url);
    println!("  PostgreSQL        {}", info.postgres.admin_url);
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
