//! The worker layer: carries out the dashboard's [`Command`]s in background
//! tasks and answers with [`Action`]s. It owns every connection; the app
//! loop never waits on I/O. Each fetch runs in its own task with a deadline,
//! so a dead server shows up as an error on its pane, never as a frozen screen.
//! The cluster is the exception: it is watched ([`cluster`]).

pub mod cluster;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::{Mutex, RwLock};

use crate::app::state::{PlanView, SessionView, StepStatus, StepView};
use crate::app::{Action, Command, KillTarget, Request};
use crate::cli::ConnArgs;
use crate::connect::{self, Connected};
use crate::k8s::Expected;
use crate::k8s::externalsecret::{ForceSync, SyncOutcome};
use crate::rotation::journal::{self, Journal};
use crate::rotation::runner::{self, StepEventKind};
use crate::rotation::step::{Confirm, Observation, StepCtx};
use crate::rotation::{Ctx, Mode, Plan, PlanSpec, RunOptions};
use crate::secret::redact;
use crate::target::Target;

/// How long one fetch may take before its pane shows an error.
const FETCH_DEADLINE: Duration = Duration::from_secs(20);

/// One target's connections, shared by the tasks working for it.
struct Backend {
    connected: Connected,
    ctx: Result<Ctx, String>,
    spec: PlanSpec,
    journal: Result<Journal, String>,
    /// AWSCURRENT's credentials for the Secret check, kept briefly: the
    /// cluster pane refreshes every other second, and Secrets Manager need
    /// not be asked that often. A finished step clears it.
    current: Mutex<Option<(std::time::Instant, Expected, crate::secret::SecretString)>>,
}

/// How long AWSCURRENT's credentials are reused for the Secret check.
const CURRENT_TTL: Duration = Duration::from_secs(15);

impl Backend {
    async fn current_credentials(&self) -> Result<(Expected, crate::secret::SecretString), String> {
        let mut slot = self.current.lock().await;
        if let Some((at, exp, pw)) = slot.as_ref()
            && at.elapsed() < CURRENT_TTL
        {
            return Ok((exp.clone(), pw.clone()));
        }
        let session = self.connected.session.as_ref().map_err(Clone::clone)?;
        let app = session
            .secrets()
            .app_secret(&self.connected.target.app_secret)
            .await
            .map_err(|e| redact(&e.to_string()))?;
        let exp = Expected::new(app.username.clone(), app.password.clone());
        *slot = Some((std::time::Instant::now(), exp.clone(), app.password.clone()));
        Ok((exp, app.password))
    }

    async fn open(target: &Target, conn: &ConnArgs) -> Backend {
        let connected = connect::open(target, conn).await;
        let ctx = connected.ports().map(|p| Ctx::new([p]));
        let spec = PlanSpec::for_target(target, &[], Mode::Normal);
        let journal = journal::state_dir()
            .map(|dir| Journal::for_spec(&dir, &spec))
            .map_err(|e| redact(&e.to_string()));
        Backend {
            connected,
            ctx,
            spec,
            journal,
            current: Mutex::new(None),
        }
    }
}

/// Start the worker layer for `target`. It stops when the command channel
/// closes or on [`Command::Quit`], closing its connections (and tunnel).
/// With `read_only`, writes are refused here too, not only in the UI.
pub fn spawn(
    target: Option<Target>,
    conn: ConnArgs,
    read_only: bool,
    commands: UnboundedReceiver<Command>,
    actions: UnboundedSender<Action>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(serve(target, conn, read_only, commands, actions))
}

async fn serve(
    target: Option<Target>,
    conn: ConnArgs,
    read_only: bool,
    mut commands: UnboundedReceiver<Command>,
    actions: UnboundedSender<Action>,
) {
    // The backend is opened once, by whichever task needs it first; a switch
    // of target replaces it.
    let backend: Arc<RwLock<Option<Arc<Backend>>>> = Arc::new(RwLock::new(None));
    let opening = Arc::new(Mutex::new(()));
    let target = Arc::new(RwLock::new(target));
    let running = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    // The one live watch of the cluster; a new request (refresh, a finished
    // step, a new target) replaces it.
    let mut cluster_watch: Option<tokio::task::JoinHandle<()>> = None;
    while let Some(cmd) = commands.recv().await {
        let get = {
            let (backend, opening, target, conn) =
                (backend.clone(), opening.clone(), target.clone(), conn.clone());
            move || async move { backend_for(&backend, &opening, &target, &conn).await }
        };
        let tx = actions.clone();
        if read_only && cmd.is_write() {
            let _ = tx.send(Action::Failed {
                what: "write".into(),
                error: "rotui runs with --read-only".into(),
            });
            continue;
        }
        match cmd {
            Command::Quit => break,
            Command::SwitchTarget(t) => {
                stop(&mut cluster_watch).await;
                *target.write().await = Some(*t);
                if let Some(old) = backend.write().await.take()
                    && let Ok(old) = Arc::try_unwrap(old)
                {
                    tokio::spawn(old.connected.close());
                }
            }
            Command::Fetch {
                request: Request::Cluster,
                generation,
            } => {
                stop(&mut cluster_watch).await;
                cluster_watch = Some(tokio::spawn(async move {
                    let Some(b) = get().await else { return };
                    watch_cluster(b, generation, tx).await;
                }));
            }
            Command::Fetch { request, generation } => {
                tokio::spawn(async move {
                    let Some(b) = get().await else { return };
                    let fetched = tokio::time::timeout(FETCH_DEADLINE, fetch(&b, &request)).await;
                    let _ = tx.send(answer(request, generation, fetched));
                });
            }
            Command::Kill(k) => {
                tokio::spawn(async move {
                    let Some(b) = get().await else { return };
                    let _ = tx.send(kill(&b, k).await);
                });
            }
            Command::ForceSync => {
                tokio::spawn(async move {
                    let Some(b) = get().await else { return };
                    let _ = tx.send(force_sync(&b).await);
                });
            }
            Command::RunStep(id) => {
                let running = running.clone();
                tokio::spawn(async move {
                    if !running.lock().await.insert(id.clone()) {
                        return;
                    }
                    if let Some(b) = get().await {
                        run_step(&b, &id, &tx).await;
                    }
                    running.lock().await.remove(&id);
                });
            }
        }
    }
    stop(&mut cluster_watch).await;
    if let Some(b) = backend.write().await.take()
        && let Ok(b) = Arc::try_unwrap(b)
    {
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

/// Feed the Cluster pane from watches until aborted (see [`cluster::watch`]).
async fn watch_cluster(b: Arc<Backend>, generation: u64, tx: UnboundedSender<Action>) {
    let send = |result| {
        let _ = tx.send(Action::ClusterLoaded {
            generation,
            at: Utc::now(),
            result,
        });
    };
    let k8s = match &b.connected.k8s {
        Ok(k) => k.clone(),
        Err(e) => return send(Err(e.clone())),
    };
    let t = &b.connected.target;
    let names = cluster::ClusterNames {
        external_secret: t.external_secret.clone(),
        secret: t.k8s_secret.clone(),
        deployment: t.deployment.clone(),
    };
    let credentials: cluster::Credentials = {
        let b = b.clone();
        Box::new(move || {
            let b = b.clone();
            Box::pin(async move { b.current_credentials().await })
        })
    };
    cluster::watch(k8s, names, credentials, FETCH_DEADLINE, send).await;
}

async fn backend_for(
    slot: &RwLock<Option<Arc<Backend>>>,
    opening: &Mutex<()>,
    target: &RwLock<Option<Target>>,
    conn: &ConnArgs,
) -> Option<Arc<Backend>> {
    if let Some(b) = slot.read().await.clone() {
        return Some(b);
    }
    let _one_at_a_time = opening.lock().await;
    if let Some(b) = slot.read().await.clone() {
        return Some(b);
    }
    let t = target.read().await.clone()?;
    let b = Arc::new(Backend::open(&t, conn).await);
    *slot.write().await = Some(b.clone());
    Some(b)
}

/// Results of a fetch, before they become an Action (short-lived: no boxing).
#[allow(clippy::large_enum_variant)]
enum Fetched {
    Users(Vec<crate::db::model::User>),
    Grants(Vec<crate::db::model::Grant>),
    Objects(Vec<crate::db::model::DbObject>),
    Connections(crate::db::model::ConnectionSnapshot),
    Steps(PlanView),
    Session(SessionView),
}

async fn fetch(b: &Backend, request: &Request) -> Result<Fetched, String> {
    let db = || b.connected.db.as_ref().map_err(Clone::clone);
    let e = |e: crate::db::DbError| redact(&e.to_string());
    Ok(match request {
        Request::Users => Fetched::Users(db()?.users().await.map_err(e)?),
        Request::Grants { user } => {
            // Users are keyed `name@host` (MySQL) or `name` (PostgreSQL).
            let (name, host) = match user.rsplit_once('@') {
                Some((n, h)) if db()?.engine() == crate::target::Engine::Mysql => (n, Some(h)),
                _ => (user.as_str(), None),
            };
            Fetched::Grants(db()?.grants(name, host).await.map_err(e)?)
        }
        Request::Objects => Fetched::Objects(db()?.objects(&b.connected.target.database).await.map_err(e)?),
        Request::Connections { rows } => Fetched::Connections(db()?.connections(*rows).await.map_err(e)?),
        // Watched, not fetched: see `watch_cluster`.
        Request::Cluster => return Err("internal: the cluster is watched".into()),
        Request::Steps => Fetched::Steps(plan_view(b).await?),
        Request::Session => Fetched::Session(session_view(b).await),
    })
}

fn answer(
    request: Request,
    generation: u64,
    fetched: Result<Result<Fetched, String>, tokio::time::error::Elapsed>,
) -> Action {
    let at = Utc::now();
    let fetched = fetched.unwrap_or_else(|_| Err(format!("no answer within {}s", FETCH_DEADLINE.as_secs())));
    macro_rules! map {
        ($variant:ident) => {
            fetched.and_then(|f| match f {
                Fetched::$variant(v) => Ok(v),
                _ => Err("internal: mismatched answer".into()),
            })
        };
    }
    match request {
        Request::Users => Action::UsersLoaded {
            generation,
            at,
            result: map!(Users),
        },
        Request::Grants { user } => Action::GrantsLoaded {
            generation,
            at,
            user,
            result: map!(Grants),
        },
        Request::Objects => Action::ObjectsLoaded {
            generation,
            at,
            result: map!(Objects),
        },
        Request::Connections { .. } => Action::ConnectionsLoaded {
            generation,
            at,
            result: map!(Connections),
        },
        Request::Cluster => Action::ClusterLoaded {
            generation,
            at,
            result: fetched.and(Err("internal: the cluster is watched".into())),
        },
        Request::Steps => Action::StepsLoaded {
            generation,
            at,
            result: map!(Steps),
        },
        Request::Session => Action::SessionLoaded {
            generation,
            at,
            result: map!(Session),
        },
    }
}

async fn session_view(b: &Backend) -> SessionView {
    let c = &b.connected;
    let mut view = SessionView {
        kube_context: c.kube_context.clone(),
        flavor: c.db.as_ref().ok().map(|d| d.flavor().clone()),
        ..SessionView::default()
    };
    if let Ok(s) = &c.session {
        view.session_expires = s.expiry();
        view.aws_identity = s
            .caller_identity()
            .await
            .ok()
            .map(|i| i.principal_name().to_owned());
    }
    view
}

/// Every step of the plan with its live state and preview.
async fn plan_view(b: &Backend) -> Result<PlanView, String> {
    let ctx = b.ctx.as_ref().map_err(Clone::clone)?;
    let journal = b.journal.as_ref().map_err(Clone::clone)?;
    let plan = Plan::build(&b.spec).map_err(|e| e.to_string())?;
    let opts = RunOptions::default();
    let (rotation, _) = runner::decide(&b.spec, ctx, journal, &opts)
        .await
        .map_err(|e| redact(&e.to_string()))?;
    let mut done = BTreeSet::new();
    let mut steps = Vec::new();
    for step in &plan.steps {
        let cx = StepCtx {
            ctx,
            rotation: &rotation,
            step,
            opts: &opts,
            recorder: None,
        };
        let (status, result) = match step.observe(&cx).await {
            Ok(Observation::Done(d)) => {
                done.insert(step.id.clone());
                (StepStatus::Done, d)
            }
            Ok(Observation::NotDone(d)) => (StepStatus::Pending, d),
            Ok(Observation::Blocked(d)) => (StepStatus::Blocked, d),
            Err(e) => (StepStatus::Blocked, redact(&e.to_string())),
        };
        let status = if status == StepStatus::Pending && !plan.unmet(step, |id| done.contains(id)).is_empty()
        {
            StepStatus::Blocked
        } else {
            status
        };
        let preview = step
            .preview(&cx)
            .await
            .unwrap_or_else(|e| vec![format!("(preview unavailable: {})", redact(&e.to_string()))]);
        let confirm = step.confirm(&rotation);
        steps.push(StepView {
            id: step.id.to_string(),
            title: step.title(),
            why: step.why().to_owned(),
            status,
            preview,
            result: Some(result),
            destructive: matches!(confirm, Confirm::Destructive | Confirm::Typed(_)),
            confirm_text: match confirm {
                Confirm::Typed(word) => Some(word),
                _ => None,
            },
        });
    }
    Ok(PlanView {
        old_user: rotation.old_users.get(&b.connected.target.env).cloned(),
        new_user: Some(rotation.new_username.clone()),
        steps,
    })
}

/// Run one step (the UI only offers steps whose prerequisites are done, and
/// has already shown the preview and asked for any confirmation).
async fn run_step(b: &Backend, id: &str, tx: &UnboundedSender<Action>) {
    let failed = |error: String| Action::Failed {
        what: format!("step {id}"),
        error,
    };
    let (Ok(ctx), Ok(journal)) = (&b.ctx, &b.journal) else {
        let why = b
            .ctx
            .as_ref()
            .err()
            .or(b.journal.as_ref().err())
            .cloned()
            .unwrap_or_default();
        let _ = tx.send(failed(why));
        return;
    };
    let plan = match Plan::build(&b.spec) {
        Ok(p) => p,
        Err(e) => return drop(tx.send(failed(e.to_string()))),
    };
    let Some(step) = plan.steps.iter().find(|s| s.id.to_string() == id) else {
        let _ = tx.send(failed("no such step".into()));
        return;
    };
    let mut opts = RunOptions {
        yes: true,
        stop_after: Some(step.id.clone()),
        ..RunOptions::default()
    };
    let rotation = match runner::start_or_resume(&b.spec, ctx, journal, &opts).await {
        Ok(r) => r,
        Err(e) => return drop(tx.send(failed(redact(&e.to_string())))),
    };
    if let Confirm::Typed(word) = step.confirm(&rotation) {
        // The dashboard asked for this word to be typed before sending RunStep.
        opts.typed.push(word);
    }
    let (events_tx, mut events) = unbounded_channel();
    opts.events = Some(events_tx);
    let _ = tx.send(Action::StepChanged {
        id: id.to_owned(),
        status: StepStatus::Running,
        result: None,
    });
    let run = runner::run(&plan, ctx, &rotation, journal, &opts);
    tokio::pin!(run);
    let outcome = loop {
        tokio::select! {
            outcome = &mut run => break outcome,
            Some(ev) = events.recv() => {
                let (status, text) = match ev.kind {
                    StepEventKind::Started { .. } => (StepStatus::Running, "started".to_owned()),
                    StepEventKind::Call { text, .. } => (StepStatus::Running, text),
                    StepEventKind::Finished => (StepStatus::Done, "done".to_owned()),
                    StepEventKind::Skipped { reason } => (StepStatus::Skipped, reason),
                    StepEventKind::Waiting(w) => (StepStatus::Waiting, w.to_string()),
                    StepEventKind::Failed(e) => (StepStatus::Failed, e),
                    StepEventKind::Observed(o) => match o {
                        Observation::Done(d) => (StepStatus::Done, d),
                        Observation::NotDone(d) => (StepStatus::Running, d),
                        Observation::Blocked(d) => (StepStatus::Blocked, d),
                    },
                };
                let _ = tx.send(Action::StepChanged { id: ev.step.to_string(), status, result: Some(redact(&text)) });
            }
        }
    };
    let notice = match outcome {
        runner::Outcome::Done => Action::Notice("rotation complete".into()),
        runner::Outcome::Waiting(w) => Action::Notice(redact(&w.to_string())),
        runner::Outcome::Failed(e) => failed(redact(&e.to_string())),
    };
    // The step may have moved AWSCURRENT: read it afresh.
    *b.current.lock().await = None;
    let _ = tx.send(notice);
    let _ = tx.send(Action::RunEnded);
}

async fn kill(b: &Backend, k: KillTarget) -> Action {
    let db = match &b.connected.db {
        Ok(db) => db,
        Err(e) => {
            return Action::Failed {
                what: "kill".into(),
                error: e.clone(),
            };
        }
    };
    let result = match &k {
        KillTarget::Connection { id, .. } => db.kill(*id).await.map(|sql| format!("ran: {sql}")),
        KillTarget::AllOf { user, .. } => db
            .kill_user(user)
            .await
            .map(|n| format!("ended {n} connections of {user}")),
    };
    match result {
        Ok(text) => Action::Notice(text),
        Err(e) => Action::Failed {
            what: "kill".into(),
            error: redact(&e.to_string()),
        },
    }
}

async fn force_sync(b: &Backend) -> Action {
    let what = || "force-sync".to_owned();
    let k8s = match &b.connected.k8s {
        Ok(k) => k,
        Err(e) => {
            return Action::Failed {
                what: what(),
                error: e.clone(),
            };
        }
    };
    let plan = match ForceSync::plan(k8s, &b.connected.target.external_secret, None).await {
        Ok(p) => p,
        Err(e) => {
            return Action::Failed {
                what: what(),
                error: redact(&e.to_string()),
            };
        }
    };
    match plan.run(k8s, Duration::from_secs(60)).await {
        Ok(SyncOutcome::Synced(_)) => Action::Notice(format!("synced: {}", plan.preview())),
        Ok(other) => Action::Failed {
            what: what(),
            error: redact(&format!("{other:?}")),
        },
        Err(e) => Action::Failed {
            what: what(),
            error: redact(&e.to_string()),
        },
    }
}
