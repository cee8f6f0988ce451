//! `rotui fleet`: every database app of one environment, as a full-screen
//! table or (`--json`) one document for scripts. Reads only.
//!
//! Exit codes with `--json`: 0 nothing due or half-rotated; 3 an app is due
//! (older than `max_age_days`) or half-rotated (AWSPENDING or a rotation
//! mark); 1 a system could not be read (the document still lists what was).

use std::io::Write;

use chrono::Utc;
use color_eyre::eyre::{Result, eyre};
use futures::StreamExt;

use crate::cli::{ConnArgs, FleetArgs};
use crate::config::Config;
use crate::fleet::view::{FleetEffect, FleetView};
use crate::fleet::{FleetReport, FleetRow};
use crate::k8s::{DEFAULT_NAMESPACE, K8s, KubeOptions};
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

pub async fn run(target: &TargetArgs, conn: &ConnArgs, args: &FleetArgs) -> Result<FleetExit> {
    let config = Config::load(conn.config.as_deref())?;
    let env = target
        .env
        .clone()
        .ok_or_else(|| eyre!("missing --env (or ROTUI_ENV): the environment whose fleet to show"))?;
    let max_age = config.fleet.max_age_days(&env);
    if args.json {
        let report = load(&env, target, conn, max_age).await;
        let json = redact(&serde_json::to_string_pretty(&report)?);
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", crate::text::escape_json_controls(&json))?;
        return Ok(FleetExit::Code(report.exit_code()));
    }
    let (keymap, _warnings) = config.keymap();
    let theme = crate::app::state::ThemeName::from_env(config.theme.as_deref());
    let view = FleetView::new(&env, keymap, theme, Utc::now());
    let chosen = screen(view, target, conn, max_age).await?;
    Ok(match chosen {
        Some(row) => FleetExit::Open(Box::new(dashboard_args(target, &row))),
        None => FleetExit::Code(0),
    })
}

/// One load of `env` with the session and context the flags name.
pub async fn load(env: &str, target: &TargetArgs, conn: &ConnArgs, max_age_days: u32) -> FleetReport {
    let kube = KubeOptions {
        kubeconfig: None,
        context: conn.context.clone(),
        namespace: Some(
            target
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
        ),
    };
    let (session, k8s) = tokio::join!(crate::connect::aws_session(conn), K8s::connect(&kube));
    let secrets = session.map(|s| s.secrets()).map_err(Redacted::error);
    let k8s = k8s.map_err(Redacted::error);
    crate::fleet::load(env, secrets, k8s, max_age_days, Utc::now()).await
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

/// The full-screen table until `q` (None) or Enter (the chosen row). Loads
/// run as background tasks; the screen never waits on one.
async fn screen(
    mut view: FleetView,
    target: &TargetArgs,
    conn: &ConnArgs,
    max_age: u32,
) -> Result<Option<FleetRow>> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<FleetReport>();
    let env = view.env.clone();
    let spawn_load = || {
        let (tx, env, target, conn) = (tx.clone(), env.clone(), target.clone(), conn.clone());
        tokio::spawn(async move {
            let _ = tx.send(load(&env, &target, &conn, max_age).await);
        });
    };
    spawn_load();
    let mut tui = crate::tui::Tui::enter()?;
    let (mut events, reader) = events();
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
            Some(report) = rx.recv() => view.loaded(report),
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
    // The reader must be gone before the dashboard (Enter) reads the
    // terminal, or it would take the dashboard's replies and keys.
    drop(events);
    let _ = tokio::task::spawn_blocking(move || reader.join()).await;
    drop(tui);
    Ok(chosen)
}

/// Terminal events from a reader thread that ends once the stream is
/// dropped (it looks every 100 ms), unlike `tui::events`, whose reader
/// lives as long as the process: the fleet hands the terminal on.
fn events() -> (
    impl futures::Stream<Item = std::io::Result<crossterm::event::Event>> + Unpin,
    std::thread::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = std::thread::spawn(move || {
        while !tx.is_closed() {
            match crossterm::event::poll(std::time::Duration::from_millis(100)) {
                Ok(false) => continue,
                Ok(true) => {
                    let event = crossterm::event::read();
                    let failed = event.is_err();
                    if tx.send(event).is_err() || failed {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        }
    });
    (futures::stream::poll_fn(move |cx| rx.poll_recv(cx)), reader)
}
