//! One target's connections, opened once by whichever task needs them first
//! (a `tokio::sync::OnceCell`), and replaced when the operator switches target.

use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::credentials::CurrentCredentials;
use crate::cli::ConnArgs;
use crate::connect::{self, Connected};
use crate::rotation::journal::{self, Journal};
use crate::rotation::{Ctx, Mode, PlanSpec};
use crate::secret::Redacted;
use crate::target::Target;

/// One target's connections, shared by the tasks working for it.
pub(super) struct Backend {
    pub connected: Connected,
    pub ctx: Result<Ctx, Redacted>,
    pub spec: PlanSpec,
    pub journal: Result<Journal, Redacted>,
    pub current: CurrentCredentials,
    /// `stagger = true` under the app's `[apps.<app>]`: its rotations
    /// restart one workload at a time (`RunOptions::stagger`).
    pub stagger: bool,
}

impl Backend {
    async fn open(target: &Target, conn: &ConnArgs) -> Backend {
        let connected = connect::open(target, conn).await;
        let ctx = connected.ports().map(|p| Ctx::new([p]));
        let spec = PlanSpec::for_target(target, &[], Mode::Normal);
        let journal = journal::state_dir()
            .map(|dir| Journal::for_spec(&dir, &spec))
            .map_err(Redacted::error);
        let stagger = crate::config::Config::load(conn.config.as_deref())
            .ok()
            .and_then(|c| c.apps.get(&spec.app).and_then(|a| a.stagger))
            .unwrap_or(false);
        Backend {
            connected,
            ctx,
            spec,
            journal,
            current: CurrentCredentials::default(),
            stagger,
        }
    }

    /// The rotation engine's ports and journal, or why they are missing.
    pub fn engine(&self) -> Result<(&Ctx, &Journal), Redacted> {
        Ok((
            self.ctx.as_ref().map_err(Clone::clone)?,
            self.journal.as_ref().map_err(Clone::clone)?,
        ))
    }
}

/// A target and its backend, once opened.
struct Lazy {
    target: Option<Target>,
    backend: OnceCell<Arc<Backend>>,
}

impl Lazy {
    fn new(target: Option<Target>) -> Arc<Lazy> {
        Arc::new(Lazy {
            target,
            backend: OnceCell::new(),
        })
    }

    /// The backend, if nothing else holds it any more.
    fn into_backend(self: Arc<Self>) -> Option<Backend> {
        let lazy = Arc::try_unwrap(self).ok()?;
        Arc::try_unwrap(lazy.backend.into_inner()?).ok()
    }
}

/// The current target's backend, for every task of the worker layer.
#[derive(Clone)]
pub(super) struct Backends {
    current: Arc<Mutex<Arc<Lazy>>>,
    conn: ConnArgs,
}

impl Backends {
    pub fn new(target: Option<Target>, conn: ConnArgs) -> Self {
        Backends {
            current: Arc::new(Mutex::new(Lazy::new(target))),
            conn,
        }
    }

    fn lazy(&self) -> Arc<Lazy> {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The current target's backend, opened on first use; `None` without a target.
    pub async fn get(&self) -> Option<Arc<Backend>> {
        let lazy = self.lazy();
        let target = lazy.target.as_ref()?;
        let backend = lazy
            .backend
            .get_or_init(|| async { Arc::new(Backend::open(target, &self.conn).await) })
            .await;
        Some(backend.clone())
    }

    /// Work from now on goes to `target`. The old backend is returned to be
    /// closed unless a task still holds it (it is then dropped with the task).
    pub fn switch(&self, target: Option<Target>) -> Option<Backend> {
        let old = std::mem::replace(
            &mut *self.current.lock().unwrap_or_else(|e| e.into_inner()),
            Lazy::new(target),
        );
        old.into_backend()
    }
}
