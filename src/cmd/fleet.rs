//! `rotui fleet`: every database app of one or more environments, as a
//! full-screen table or (`--json`) one document for scripts. Reads only.
//!
//! Each environment is read with its own AWS session and kube context from
//! the config (`[environments.<env>]`), after its caller identity's account
//! is checked: a session of another account is never read, so one
//! environment's numbers cannot show as another's.
//!
//! Exit codes with `--json`, over all environments: 0 nothing due or
//! half-rotated; 3 an app is due (older than `max_age_days`) or half-rotated
//! (AWSPENDING or a rotation mark); 1 a system could not be read (the
//! document still lists what was).

use std::io::Write;

use chrono::Utc;
use color_eyre::eyre::{Result, eyre};
use futures::StreamExt;

use crate::cli::{ConnArgs, FleetArgs};
use crate::environments::{self, Environments};
use crate::fleet::view::{FleetEffect, FleetView};
use crate::fleet::{FleetError, FleetReport, FleetRow, Logins, Read, Tried};
use crate::k8s::DEFAULT_NAMESPACE;
use crate::model::System;
use crate::secret::{Redacted, redact};
use crate::target::TargetArgs;

/// How `rotui fleet` ended.
#[derive(Debug)]
pub enum FleetExit {
    /// Exit with this code.
    Code(i32),
    /// Open the dashboard on these target flags (Enter on a row).
    Open(Box<TargetArgs>),
}

/// What every load needs: the environments with their policies, their
/// configuration, and the flags.
#[derive(Debug, Clone)]
pub struct FleetSources {
    /// (environment, max_age_days), in the order asked for.
    pub envs: Vec<(String, u32)>,
    pub environments: Environments,
    pub namespace: String,
    pub conn: ConnArgs,
    /// `--no-login`: AWSCURRENT is not tried on each server.
    pub no_login: bool,
}

pub async fn run(target: &TargetArgs, conn: &ConnArgs, args: &FleetArgs) -> Result<FleetExit> {
    let envs = fleet_envs(&args.env, target.env.as_deref());
    if envs.is_empty() {
        return Err(eyre!(
            "missing --env (or ROTUI_ENV): the environments whose fleet to show (e.g. production,staging)"
        ));
    }
    let config = super::config_for(conn, &envs)?;
    let sources = FleetSources {
        envs: envs
            .iter()
            .map(|e| (e.clone(), config.fleet.max_age_days(e)))
            .collect(),
        environments: config.environments.clone(),
        namespace: target
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
        conn: conn.clone(),
        no_login: args.no_login,
    };
    if args.json {
        let report = load_all(&sources).await;
        let json = redact(&serde_json::to_string_pretty(&report)?);
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", crate::text::escape_json_controls(&json))?;
        return Ok(FleetExit::Code(report.exit_code()));
    }
    let (keymap, _warnings) = crate::app::keymap::Keymap::with_overrides(&config.key_overrides());
    let theme = crate::app::state::ThemeName::from_env(config.theme.as_deref());
    let view = FleetView::new(&envs.join(","), keymap, theme, Utc::now());
    let chosen = screen(view, sources).await?;
    Ok(match chosen {
        Some(row) => FleetExit::Open(Box::new(dashboard_args(target, &row))),
        None => FleetExit::Code(0),
    })
}

/// The environments named: the fleet's `--env` (comma-separated or
/// repeated), else the global one given before `fleet`; each once, in
/// order. Every value is split on commas: a global `--env a,b` reaches the
/// fleet's unsplit.
pub fn fleet_envs(fleet: &[String], global: Option<&str>) -> Vec<String> {
    let named: Vec<&str> = if fleet.is_empty() {
        global.into_iter().collect()
    } else {
        fleet.iter().map(String::as_str).collect()
    };
    let mut out: Vec<String> = Vec::new();
    for e in named.iter().flat_map(|n| n.split(',')).map(str::trim) {
        if !e.is_empty() && !out.iter().any(|o| o == e) {
            out.push(e.to_owned());
        }
    }
    out
}

/// Every environment loaded side by side, as one report, with every row's
/// login tried (unless `--no-login`).
pub async fn load_all(sources: &FleetSources) -> FleetReport {
    let (mut report, logins) = read_all(sources).await;
    if !sources.no_login {
        let tried = logins.try_all(crate::fleet::LOGIN_LIMIT, &report.calls).await;
        report.apply_logins(&tried);
    }
    report
}

/// Every environment read side by side, as one report, and the logins left
/// to try.
pub async fn read_all(sources: &FleetSources) -> (FleetReport, Logins) {
    let reads = futures::future::join_all(
        sources
            .envs
            .iter()
            .map(|(env, max_age)| read(env, sources, *max_age)),
    )
    .await;
    let (reports, logins): (Vec<_>, Vec<_>) = reads.into_iter().map(|r| (r.report, r.logins)).unzip();
    (FleetReport::merge(reports), Logins::merge(logins))
}

/// One read of `env`: with its configured session and context, else the
/// flags' (the shell's session, `--context` or the current one). A
/// configured environment's account is checked first; another account's
/// secrets are not read, the environment failing with both accounts named.
pub async fn read(env: &str, sources: &FleetSources, max_age_days: u32) -> Read {
    let cfg = sources.environments.get(env);
    let context = cfg
        .map(|c| c.kube_context.clone())
        .or_else(|| sources.conn.context.clone());
    let (session, mut k8s) =
        crate::connect::env_connect(&sources.conn, cfg, context.clone(), &sources.namespace).await;
    if let (Some(cfg), Ok(s)) = (cfg, &session) {
        let account = match s.caller_identity().await {
            Ok(who) => environments::check_account(env, &sources.environments, &who.account),
            Err(e) => Err(format!(
                "{env}: the AWS session's account could not be checked: {e}"
            )),
        };
        if let Err(why) = account {
            return Read {
                report: refused(env, System::SecretsManager, &why),
                logins: Logins::default(),
            };
        }
        let context = context.as_deref().unwrap_or(&cfg.kube_context);
        let cluster = environments::context_cluster(context);
        if let Err(why) = environments::check_cluster(env, &sources.environments, context, cluster.as_deref())
        {
            k8s = Err(Redacted::new(why));
        }
    }
    // Not configured: the session and the context must still be one
    // account (an EKS cluster's ARN names its own).
    if let (None, Ok(s)) = (cfg, &session)
        && let Some(context) = context
            .clone()
            .or_else(|| kube::config::Kubeconfig::read().ok()?.current_context)
        && let Some(cluster) = environments::context_cluster(&context)
        && environments::eks_account(&cluster).is_some()
    {
        let agree = match s.caller_identity().await {
            Ok(who) => {
                environments::check_session_matches_cluster(env, &who.account, &context, Some(&cluster))
            }
            Err(e) => Err(format!(
                "{env}: the AWS session's account could not be checked: {e}"
            )),
        };
        if let Err(why) = agree {
            return Read {
                report: refused(env, System::SecretsManager, &why),
                logins: Logins::default(),
            };
        }
    }
    let expires = session.as_ref().ok().and_then(|s| s.expiry());
    let secrets = session.map(|s| s.secrets());
    let mut read = crate::fleet::read(env, secrets, k8s, max_age_days, Utc::now()).await;
    read.report.credentials_expire = expires.map(|at| (env.to_owned(), at)).into_iter().collect();
    read.logins.secure(&crate::connect::db_tls(&sources.conn, cfg));
    read
}

/// An environment not read at all: no rows, `why` as its error.
fn refused(env: &str, system: System, why: &str) -> FleetReport {
    FleetReport {
        env: env.to_owned(),
        envs: vec![env.to_owned()],
        loaded_at: Utc::now(),
        rows: Vec::new(),
        errors: vec![FleetError {
            env: env.to_owned(),
            system,
            scope: None,
            message: redact(why),
        }],
        calls: Default::default(),
        credentials_expire: Vec::new(),
    }
}

/// The dashboard's flags for a row: its env, app and engine, and the names
/// the fleet found (the secret, the ExternalSecret and its Secret).
pub fn dashboard_args(target: &TargetArgs, row: &FleetRow) -> TargetArgs {
    let mut t = target.clone();
    t.env = Some(row.env.clone());
    t.app = Some(row.app.clone());
    t.engine = row.engine;
    t.app_secret = Some(row.secret.clone());
    if let [es] = row.external_secrets.as_slice() {
        t.external_secret = Some(es.name.clone());
        t.k8s_secret = Some(es.secret.clone());
    }
    t
}

/// What a background load sends the screen: the rows, then their logins.
enum Loaded {
    Report(FleetReport),
    Logins(Vec<Tried>),
}

/// The full-screen table until `q` (None) or Enter (the chosen row). Loads
/// run as background tasks; the screen never waits on one. The rows show as
/// soon as the systems are read; the logins (a server reachable only
/// through a tunnel takes their whole limit) fill in after.
async fn screen(mut view: FleetView, sources: FleetSources) -> Result<Option<FleetRow>> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Loaded>();
    let spawn_load = || {
        let (tx, sources) = (tx.clone(), sources.clone());
        tokio::spawn(async move {
            let (report, logins) = read_all(&sources).await;
            let calls = report.calls.clone();
            let _ = tx.send(Loaded::Report(report));
            if !sources.no_login {
                let tried = logins.try_all(crate::fleet::LOGIN_LIMIT, &calls).await;
                let _ = tx.send(Loaded::Logins(tried));
            }
        });
    };
    spawn_load();
    let mut tui = crate::tui::Tui::enter()?;
    let mut events = crate::tui::events();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let chosen = loop {
        if view.dirty {
            crate::tui::while_drawing(|| {
                tui.terminal
                    .draw(|f| crate::fleet::render::render(f, &view))
                    .map(drop)
            })?;
            view.dirty = false;
        }
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(crossterm::event::Event::Key(k))) if k.kind == crossterm::event::KeyEventKind::Press => {
                    match view.key(k) {
                        Some(FleetEffect::Quit) => break None,
                        Some(FleetEffect::Open(row)) => break Some(*row),
                        Some(FleetEffect::Refresh) => spawn_load(),
                        None => {}
                    }
                }
                Some(Ok(crossterm::event::Event::Resize(..))) => view.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break None,
            },
            Some(loaded) = rx.recv() => match loaded {
                Loaded::Report(report) => view.loaded(report),
                Loaded::Logins(tried) => view.logins(&tried),
            },
            _ = tick.tick() => {
                let now = Utc::now();
                // The "since" texts change by the minute.
                if now.timestamp() / 60 != view.now.timestamp() / 60 {
                    view.dirty = true;
                }
                view.now = now;
            }
            _ = crate::tui::shutdown_signal() => break None,
        }
    };
    // The dashboard (Enter) takes the terminal's events over from here.
    drop(events);
    drop(tui);
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn fleet(args: &[&str]) -> Vec<String> {
        let cli = Cli::try_parse_from(args).unwrap();
        match cli.command {
            Some(Command::Fleet(f)) => fleet_envs(&f.env, cli.target.env.as_deref()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn environments_comma_separated_repeated_or_before_the_subcommand() {
        let both = vec!["production".to_owned(), "staging".to_owned()];
        assert_eq!(fleet(&["rotui", "fleet", "--env", "production,staging"]), both);
        assert_eq!(
            fleet(&[
                "rotui",
                "fleet",
                "--env",
                "production",
                "--env",
                "staging",
                "--env",
                "production"
            ]),
            both
        );
        assert_eq!(fleet(&["rotui", "--env", "production,staging", "fleet"]), both);
        assert_eq!(
            fleet(&["rotui", "fleet", "--json", "--env", "production"]),
            ["production"]
        );
        assert!(fleet(&["rotui", "fleet"]).is_empty() || std::env::var_os("ROTUI_ENV").is_some());
        assert_eq!(fleet_envs(&[], Some(" a, ,b,a ")), ["a", "b"]);
    }
}
