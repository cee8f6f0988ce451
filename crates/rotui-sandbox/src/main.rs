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
    after_help = "With --estate, each environment's cluster has the estate's data sync: a CronJob \
                  db-backup-<host> per synced app (GOV.UK's db-backup chart). Nothing runs them on \
                  a schedule; run them on demand:\n  \
                  kill -USR1 PID   run every restoring CronJob that is not suspended, staging then \
                  integration (dump the source, restore, swap, DB_OWNER, transform, backup)\n  \
                  echo 'ENV APP [force]' > DIR/run-sync; kill -USR2 PID   run one app's CronJob in ENV \
                  (force: even if suspended)\nThe PID and DIR are printed at start; each run leaves a \
                  Job db-backup-<host>-<n>, Complete or Failed with the step and why."
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
    let mut usr2 = signal(SignalKind::user_defined2())?;
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
        for app in estate.synced_apps(&e.name) {
            let s = spec.sync_of(&app, &e.name).expect("a synced app");
            println!(
                "    data sync      {:<16} {} ({}){}",
                app,
                s.from
                    .as_deref()
                    .map_or("backup only".to_owned(), |f| format!("from {f}")),
                s.schedule,
                if s.suspend { ", suspended" } else { "" }
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
    let request = info.dir.join("run-sync");
    let pid = std::process::id();
    println!("`kill -USR1 {pid}` runs every restoring data sync now (staging, then integration);");
    println!(
        "`echo 'staging content-store' > {}; kill -USR2 {pid}` runs one; Ctrl-C stops the estate.",
        request.display()
    );
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = usr1.recv() => {
                for (env, app, r) in estate.run_restoring_syncs().await {
                    say_sync(&env, &app, r);
                }
            }
            _ = usr2.recv() => {
                let text = std::fs::read_to_string(&request).unwrap_or_default();
                let _ = std::fs::remove_file(&request);
                match text.split_whitespace().collect::<Vec<_>>()[..] {
                    [env, app] => say_sync(env, app, estate.run_sync(env, app).await),
                    [env, app, "force"] => say_sync(env, app, estate.run_sync_forced(env, app).await),
                    _ => println!(
                        "SIGUSR2: {} should hold `ENV APP` or `ENV APP force`; it held {:?}",
                        request.display(),
                        text.trim()
                    ),
                }
            }
        }
    }
    println!("stopping the estate…");
    estate.shutdown().await;
    Ok(())
}

/// One line for a sync run: its Job and outcome, or why it did not start.
fn say_sync(env: &str, app: &str, r: Result<rotui_sandbox::estate::SyncReport>) {
    use rotui_sandbox::estate::SyncOutcome;
    match r {
        Ok(r) => {
            let oids = match (r.old_oid, r.new_oid) {
                (_, None) => String::new(),
                (old, Some(new)) => {
                    format!(", OID {} -> {new}", old.map_or("-".to_owned(), |o| o.to_string()))
                }
            };
            let owner = r
                .owner
                .as_deref()
                .map_or(String::new(), |o| format!(", DB_OWNER {o}"));
            let from = r
                .source
                .as_deref()
                .map_or("backup".to_owned(), |s| format!("from {s}"));
            match &r.outcome {
                SyncOutcome::Succeeded => println!(
                    "{env}/{app}: Job {} complete ({from}{oids}{owner}, {} errors ignored)",
                    r.job, r.errors
                ),
                SyncOutcome::Failed { step, why } => {
                    println!(
                        "{env}/{app}: Job {} FAILED at {step} ({from}{oids}{owner}): {why}",
                        r.job
                    )
                }
            }
        }
        Err(e) => println!("{env}/{app}: not run: {e:#}"),
    }
}
