//! What a step sees while it runs: every environment's ports ([`Ctx`]), the
//! run's options ([`RunOptions`]), and the [`Recorder`] that journals each
//! write before it is made and sends progress ([`StepEvent`]) to whoever
//! watches; [`StepCtx`] bundles them for one step.
//!
//! Below both the steps and the runner, which share these types: the
//! runner builds a `StepCtx` for each step, the steps read and write
//! through it, and neither has to import the other.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::journal::{Event, Journal};
use super::memo;
use super::notice::{Notice, NoticeKind, Notifier};
use super::operator;
use super::outcome::{Observation, StepError, StepResult, Wait};
use super::ports::{EnvPorts, FailedLogins, PortError, System, within};
use super::spec::Rotation;
use super::step::{Step, StepId};
use crate::db::Statement;
use crate::target::EnvName;

/// How a run behaves. Defaults suit the headless `rotui rotate`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Apply writes without asking (`--yes`). Without it the run stops before the first write.
    pub yes: bool,
    /// Words the operator typed to confirm irreversible steps (the username to drop).
    pub typed: Vec<String>,
    /// Steps the operator chose to skip, with the reason (recorded in the journal).
    pub skip: BTreeMap<StepId, String>,
    /// End the old user's connections that outlive the drain timeout.
    pub kill_leftovers: bool,
    /// Drop the old user even with live connections (they are killed first):
    /// the operator types the username.
    pub force_drop: Option<String>,
    /// Stop (as waiting) once this step is done, whether by this run or before;
    /// for step-by-step driving and the interrupt-and-resume tests. After the
    /// plan's last step nothing is left to stop for: the rotation ends.
    pub stop_after: Option<StepId>,
    /// Deadline of any single call to an outside system.
    pub call_timeout: Duration,
    pub sync_timeout: Duration,
    pub rollout_timeout: Duration,
    /// The health gate: how long a restarting workload may take to be
    /// ready on the new credentials before the rollout step stops the plan.
    pub gate_timeout: Duration,
    /// `--stagger`: the sync step pauses the Deployments Reloader restarts,
    /// so the rollout step resumes them one at a time, each gated.
    pub stagger: bool,
    pub drain_timeout: Duration,
    /// How often waits poll.
    pub poll: Duration,
    /// Live progress for the dashboard.
    pub events: Option<UnboundedSender<StepEvent>>,
    /// The team's notices (a webhook per environment): only enqueued, never
    /// waited on.
    pub notify: Option<Notifier>,
    /// Take the rotation over from another holder (`--take-over`): allowed
    /// once that holder has been idle for [`super::mark::STALE_AFTER`]; recorded in
    /// the mark and the journal.
    pub take_over: bool,
    /// Who this run is, as rotation marks name holders; `os-user@host` when unset.
    pub holder: Option<String>,
    /// How long to wait for another rotui's database lock before refusing
    /// (starting or resuming holds it only briefly; a run, throughout).
    pub lock_wait: Duration,
}

impl RunOptions {
    /// This run's holder name.
    pub fn holder(&self) -> String {
        self.holder.clone().unwrap_or_else(operator::local_holder)
    }

    /// Tell the team (when a webhook listens): enqueued, never waited on.
    pub fn notify(&self, kind: NoticeKind, rotation: &Rotation, step: Option<&Step>, detail: &str) {
        if let Some(n) = &self.notify {
            n.send(Notice::new(kind, rotation, step, detail, &self.holder()));
        }
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            yes: false,
            typed: vec![],
            skip: BTreeMap::new(),
            kill_leftovers: false,
            force_drop: None,
            stop_after: None,
            call_timeout: Duration::from_secs(30),
            sync_timeout: Duration::from_secs(120),
            rollout_timeout: Duration::from_secs(600),
            // A Rails app boots in well under a minute; five leave room for
            // image pulls and a surge pod's scheduling, not for a crash loop.
            gate_timeout: Duration::from_secs(300),
            stagger: false,
            drain_timeout: Duration::from_secs(300),
            poll: Duration::from_secs(2),
            events: None,
            notify: None,
            take_over: false,
            holder: None,
            lock_wait: Duration::from_secs(5),
        }
    }
}

/// The ports of every environment in a rotation.
#[derive(Clone, Default)]
pub struct Ctx {
    envs: BTreeMap<EnvName, EnvPorts>,
}

impl Ctx {
    pub fn new(envs: impl IntoIterator<Item = EnvPorts>) -> Self {
        Ctx {
            envs: envs.into_iter().map(|p| (p.target.env.clone(), p)).collect(),
        }
    }

    /// The same environments, each read answered once for the life of the
    /// result (see [`super::memo`]): for a survey, which only reads.
    pub fn memoized(&self) -> Ctx {
        Ctx {
            envs: self
                .envs
                .iter()
                .map(|(env, p)| (env.clone(), memo::memoize(p)))
                .collect(),
        }
    }

    /// Every environment of the rotation.
    pub fn env_names(&self) -> impl Iterator<Item = &EnvName> {
        self.envs.keys()
    }

    pub fn env(&self, env: &str) -> StepResult<&EnvPorts> {
        self.envs
            .get(env)
            .ok_or_else(|| StepError::NoEnvironment(env.to_owned()))
    }
}

/// What a step sees while it runs.
pub struct StepCtx<'a> {
    pub ctx: &'a Ctx,
    pub rotation: &'a Rotation,
    pub step: &'a Step,
    pub opts: &'a RunOptions,
    /// Journal and events; `None` for `rotui plan`, which writes nothing.
    pub recorder: Option<&'a Recorder>,
}

impl StepCtx<'_> {
    pub fn ports(&self) -> StepResult<&EnvPorts> {
        self.ctx.env(&self.step.env)
    }

    pub fn ports_of(&self, env: &str) -> StepResult<&EnvPorts> {
        self.ctx.env(env)
    }

    /// A read, with the call timeout.
    pub async fn read<T>(
        &self,
        system: System,
        fut: impl Future<Output = Result<T, PortError>>,
    ) -> StepResult<T> {
        Ok(within(system, self.opts.call_timeout, fut).await?)
    }

    /// A write: journalled (masked) before it is made, then made with the call timeout.
    pub async fn write<T>(
        &self,
        system: System,
        description: &str,
        fut: impl Future<Output = Result<T, PortError>>,
    ) -> StepResult<T> {
        self.write_within(system, description, self.opts.call_timeout, fut)
            .await
    }

    /// A write that may take up to `limit` (one that waits for a controller).
    pub async fn write_within<T>(
        &self,
        system: System,
        description: &str,
        limit: std::time::Duration,
        fut: impl Future<Output = Result<T, PortError>>,
    ) -> StepResult<T> {
        if let Some(r) = self.recorder {
            r.call(self.step, system, description)?;
        }
        Ok(within(system, limit, fut).await?)
    }

    /// Run statements in this step's environment, each journalled first.
    pub async fn execute(&self, statements: &[Statement]) -> StepResult<()> {
        self.execute_in(&self.step.env, statements).await
    }

    /// Run statements in `env`'s database, each journalled first.
    pub async fn execute_in(&self, env: &str, statements: &[Statement]) -> StepResult<()> {
        let db = &self.ctx.env(env)?.db;
        for s in statements {
            let what = if env == self.step.env {
                s.preview()
            } else {
                format!("-- in {env}\n{}", s.preview())
            };
            self.write(System::Database, &what, db.execute(s)).await?;
        }
        Ok(())
    }
}

/// Progress, for the dashboard.
#[derive(Debug, Clone)]
pub struct StepEvent {
    pub rotation: String,
    pub step: StepId,
    pub kind: StepEventKind,
}

#[derive(Debug, Clone)]
pub enum StepEventKind {
    Observed(Observation),
    Started { preview: Vec<String> },
    Call { system: System, text: String },
    Finished,
    Skipped { reason: String },
    Waiting(Wait),
    Failed(String),
}

/// Writes the journal (first) and sends events (second).
pub struct Recorder {
    journal: Option<Journal>,
    rotation: String,
    events: Option<UnboundedSender<StepEvent>>,
}

impl Recorder {
    pub fn new(journal: Option<Journal>, rotation: &str, events: Option<UnboundedSender<StepEvent>>) -> Self {
        Recorder {
            journal,
            rotation: rotation.to_owned(),
            events,
        }
    }

    pub(super) fn journal(&self, event: Event) -> Result<(), StepError> {
        match &self.journal {
            Some(j) => j
                .append(&self.rotation, event)
                .map_err(|e| StepError::Journal(e.to_string())),
            None => Ok(()),
        }
    }

    /// The failed-login count taken in `env` before the switch, as this
    /// rotation journalled it (the latest, should the promote have run
    /// twice); `None` without a journal or before the promote.
    pub(super) fn failed_logins_baseline(&self, env: &str) -> Option<FailedLogins> {
        let entries = self.journal.as_ref()?.entries().ok()?;
        entries.into_iter().rev().find_map(|e| match e.event {
            Event::FailedLogins {
                step,
                baseline: true,
                logins,
            } if e.rotation == self.rotation && step.env() == env => Some(logins),
            _ => None,
        })
    }

    pub(super) fn emit(&self, step: &Step, kind: StepEventKind) {
        if let Some(tx) = &self.events {
            // A closed dashboard must not stop a rotation.
            let _ = tx.send(StepEvent {
                rotation: self.rotation.clone(),
                step: step.id.clone(),
                kind,
            });
        }
    }

    /// Record a write before it is made.
    pub fn call(&self, step: &Step, system: System, text: &str) -> Result<(), StepError> {
        let text = crate::secret::redact(text);
        self.journal(Event::Call {
            step: step.id.clone(),
            system,
            text: text.clone(),
        })?;
        self.emit(step, StepEventKind::Call { system, text });
        Ok(())
    }
}
