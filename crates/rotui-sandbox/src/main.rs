//! `rotui-sandbox` (also reached as `rotui sandbox`): start the local world
//! (or, with `--estate`, a multi-environment estate) and keep it up until
//! Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use color_eyre::eyre::Result;
use rotui_sandbox::estate::{Estate, EstateSpec};
use rotui_sandbox::guard::scratch_dir;
use rotui_sandbox::postgres::PgFlavor;
use rotui_sandbox::world::{Servers, World};
use tokio::signal::unix::{SignalKind, signal};

/// Start a local world (databases, Secrets Manager, Kubernetes) to try rotui in.
#[derive(Debug, Parser)]
#[command(
    name = "rotui-sandbox",
    version,
    after_help = "With --estate, send SIGUSR1 to the running sandbox (`kill -USR1 PID`, the PID is printed) \
                  to run the nightly restore now: every restored environment's copied PostgreSQL \
                  databases are dumped from their source and restored (pg_dump -Fc / pg_restore)."
)]
struct Args {
    /// Start a multi-environment estate described by FILE (TOML) instead of
    /// the single-environment sandbox [default FILE: assets/sandbox/estate.toml].
    /// Writes kubeconfig, aws/config, aws/credentials, rotui.toml, estate.json
    /// and estate.env into --dir.
    #[arg(long, value_name = "FILE")]
    estate: Option<Option<PathBuf>>,
    /// Where to write kubeconfig, sandbox.json and sandbox.env [default: a fresh temp dir].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The MySQL app's server: `mysql` (MySQL 9.7 LTS, as production's 8.4) or `mariadb`.
    #[arg(long, default_value = "mysql")]
    mysql: rotui_sandbox::mariadb::MysqlFlavor,
    /// PostgreSQL server for account-api: 17 (Debian trixie's, the estate's) or 15 (the system's).
    #[arg(long, default_value = "17", value_parser = clap::value_parser!(PgFlavor))]
    postgres: PgFlavor,
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
    if let Some(file) = &args.estate {
        let file = file.clone().unwrap_or_else(EstateSpec::default_path);
        let file = file.canonicalize().unwrap_or(file);
        return run_estate(&file, &dir, started, &mut term).await;
    }
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
        format!("{} (signon)", info.mysql.flavor),
        info.mysql.admin_url
    );
    println!(
        "  {:<17} {}",
        format!("{} (account-api)", info.postgres.flavor),
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

/// `--estate`: start it, print what is where, restore on SIGUSR1.
async fn run_estate(
    file: &std::path::Path,
    dir: &std::path::Path,
    started: Instant,
    term: &mut tokio::signal::unix::Signal,
) -> Result<()> {
    let spec = EstateSpec::load(file)?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let estate = Estate::start(dir, &spec).await?;
    let info = estate.info();
    println!(
        "rotui sandbox estate ({}) ready in {:.1} s",
        file.display(),
        started.elapsed().as_secs_f64()
    );
    println!();
    println!("  directory    {}", info.dir.display());
    println!("  kubeconfig   {}", info.kubeconfig.display());
    println!("  AWS config   {}", info.aws_config_file.display());
    println!("  rotui config {}", info.rotui_config.display());
    for e in info.environments.values() {
        println!();
        println!("  {} (account {})", e.name, e.account_id);
        println!(
            "    kube context   {}  ({}, {})",
            e.kube_context, e.cluster, e.kube_url
        );
        println!("    AWS profile    {}  ({})", e.aws_profile, e.aws_endpoint_url);
        println!("    {:<14} {}", e.mysql.flavor, e.mysql.admin_url);
        println!("    {:<14} {}", e.postgres.flavor, e.postgres.admin_url);
        println!("    admin secret   {}", e.admin_secret);
        if let Some(from) = &e.restored_from {
            println!(
                "    restored from  {from} (nightly: {})",
                estate.restored_apps().join(", ")
            );
        }
    }
    println!();
    println!("  apps");
    for (name, a) in &info.apps {
        let consumers: Vec<String> = a
            .consumers
            .iter()
            .map(|c| format!("{:?} {}", c.kind, c.name))
            .collect();
        println!(
            "    {name:<22} {:?} {} (secret {}, {}, admin key {}): {}",
            a.engine,
            a.database,
            a.app_secret,
            a.secret,
            a.admin_key,
            consumers.join(", ")
        );
    }
    println!();
    println!("In another shell:");
    println!("  source {}", info.dir.join("estate.env").display());
    println!("  kubectl --context staging get externalsecrets,deployments,cronjobs,jobs,pods");
    println!();
    println!(
        "`kill -USR1 {}` runs the nightly restore now; Ctrl-C stops the estate.",
        std::process::id()
    );
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = usr1.recv() => {
                for (env, _) in spec.restored() {
                    for app in estate.restored_apps() {
                        match estate.nightly_restore_into(env, &app).await {
                            Ok(r) => println!(
                                "restored {} into {env} (OID {} -> {}, owner {}, {} errors ignored): Job {}",
                                r.database,
                                r.old_oid.map_or("-".to_owned(), |o| o.to_string()),
                                r.new_oid,
                                r.owner,
                                r.errors,
                                r.job
                            ),
                            Err(e) => println!("restoring {app} into {env} failed: {e:#}"),
                        }
                    }
                }
            }
        }
    }
    println!("stopping the estate…");
    estate.shutdown().await;
    Ok(())
}
