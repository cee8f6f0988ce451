//! The worker layer: carries out the dashboard's [`Effect`]s in background
//! tasks and answers with [`Action`]s. It owns every connection; the app
//! loop never waits on I/O.
//!
//! - [`backend`]: the target's connections, opened once and shared.
//! - [`credentials`]: AWSCURRENT, cached briefly for the Secret check.
//! - [`fetch`]: each request answered by its action, within a deadline.
//! - [`plan`]: the Steps pane, from the rotation's survey.
//! - [`run`]: one step the operator started, pumped through the runner.
//! - [`rollback`]: the rollback's preview, and the rollback the operator confirmed.
//! - [`writes`]: ending connections and forcing a sync.
//! - [`cluster`]: the cluster watch (watched, not fetched).

mod backend;
pub mod cluster;
mod credentials;
mod fetch;
pub mod plan;
mod report;
mod rollback;
mod run;
mod writes;

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::app::{Action, Effect};
use crate::cli::ConnArgs;
use crate::rotation::StepId;
use crate::rotation::notice::Notifier;
use crate::target::Target;
use backend::Backends;

/// Start the worker layer for `target`. It stops when the effect channel
/// closes or on [`Effect::Quit`], closing its connections (and tunnel).
/// With `read_only`, writes are refused here too, not only in the UI.
/// `notify` takes the team's notices of the runs it starts (webhooks).
pub fn spawn(
    target: Option<Target>,
    conn: ConnArgs,
    read_only: bool,
    notify: Option<Notifier>,
    effects: UnboundedReceiver<Effect>,
    actions: UnboundedSender<Action>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(serve(target, conn, read_only, notify, effects, actions))
}

async fn serve(
    target: Option<Target>,
    conn: ConnArgs,
    read_only: bool,
    notify: Option<Notifier>,
    mut effects: UnboundedReceiver<Effect>,
    actions: UnboundedSender<Action>,
) {
    let backends = Backends::new(target, conn);
    let running = Arc::new(Mutex::new(BTreeSet::<StepId>::new()));
    // The one live watch of the cluster; a new Watch (refresh, a finished
    // step, a new target) replaces it.
    let mut cluster_watch: Option<tokio::task::JoinHandle<()>> = None;
    while let Some(effect) = effects.recv().await {
        let (tx, backends, notify) = (actions.clone(), backends.clone(), notify.clone());
        if read_only && effect.is_write() {
            let _ = tx.send(Action::Failed {
                what: "write".into(),
                error: "rotui runs with --read-only".into(),
            });
            continue;
        }
        match effect {
            Effect::Quit => break,
            Effect::SwitchTarget(t) => {
                stop(&mut cluster_watch).await;
                if let Some(old) = backends.switch(Some(*t)) {
                    tokio::spawn(old.connected.close());
                }
            }
            Effect::Watch { generation } => {
                stop(&mut cluster_watch).await;
                cluster_watch = Some(tokio::spawn(async move {
                    let Some(b) = backends.get().await else { return };
                    cluster::watch_backend(b, generation, tx).await;
                }));
            }
            Effect::Fetch { request, generation } => {
                tokio::spawn(async move {
                    let Some(b) = backends.get().await else { return };
                    let _ = tx.send(fetch::answer(&b, request, generation).await);
                });
            }
            Effect::Kill(k) => {
                tokio::spawn(async move {
                    let Some(b) = backends.get().await else { return };
                    let _ = tx.send(writes::kill(&b, k).await);
                });
            }
            Effect::ForceSync => {
                tokio::spawn(async move {
                    let Some(b) = backends.get().await else { return };
                    let _ = tx.send(writes::force_sync(&b).await);
                });
            }
            Effect::WriteReport => {
                tokio::spawn(async move {
                    let Some(b) = backends.get().await else { return };
                    let _ = tx.send(report::write(&b));
                });
            }
            Effect::PreviewRollback => {
                tokio::spawn(async move {
                    if let Some(b) = backends.get().await {
                        rollback::preview(&b, &tx).await;
                    }
                });
            }
            Effect::Rollback { drop_new } => {
                let running = running.clone();
                tokio::spawn(async move {
                    // One write run at a time, as for steps.
                    let key = StepId("rollback".into());
                    if !running.lock().await.insert(key.clone()) {
                        return;
                    }
                    if let Some(b) = backends.get().await {
                        rollback::run(&b, drop_new, notify, &tx).await;
                    }
                    running.lock().await.remove(&key);
                });
            }
            Effect::RunStep(id) => {
                let running = running.clone();
                tokio::spawn(async move {
                    if !running.lock().await.insert(id.clone()) {
                        return;
                    }
                    if let Some(b) = backends.get().await {
                        run::run_step(&b, &id, notify, &tx).await;
                    }
                    running.lock().await.remove(&id);
                });
            }
        }
    }
    stop(&mut cluster_watch).await;
    if let Some(b) = backends.switch(None) {
        b.connected.close().await;
    }
}

/// End a task and wait until it has let go of what it held.
async fn stop(task: &mut Option<tokio::task::JoinHandle<()>>) {
    if let Some(t) = task.take() {
        t.abort();
        let _ = t.await;
    }
}
