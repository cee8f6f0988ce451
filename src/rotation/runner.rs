//! The headless runner: walks a plan's steps in order — observe, skip if
//! done, preview (journalled), apply, verify (journalled) — until the
//! rotation is done, must wait for something outside, or fails. Running it
//! again resumes: observe() reads the live systems; the decisions (rotation
//! id, old and new users) come from this laptop's journal, or from the
//! rotation mark on the app secret when the rotation began elsewhere.
//!
//! One at a time: a run holds each environment's database advisory lock
//! (`rotui:<env>/<app>`) throughout, and starting or resuming takes it
//! before deciding, so two rotuis never decide, mark or write at once. The
//! mark says who holds the rotation; another operator is refused unless it
//! takes the rotation over (`RunOptions::take_over`), which the holder's
//! idleness must allow ([`super::mark::access`]). Deciding and holding
//! live in [`super::hold`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

use super::hold::{claim, clear_marks, heartbeat, lock_all, release};
use super::journal::{Event, Journal, StepOutcome};
use super::mark::RotationMark;
use super::operator::{self, Operator};
use super::plan::Plan;
use super::ports::System;
use super::spec::Rotation;
use super::step::{Applied, Confirm, Ctx, Observation, Step, StepCtx, StepError, StepId};

// Deciding and holding a rotation live in `hold`; their names stay here too.
pub use super::hold::{Purpose, Source, decide, decide_from, hold, mark_of, start_or_resume};

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
    /// for step-by-step driving and the interrupt-and-resume tests.
    pub stop_after: Option<StepId>,
    /// Deadline of any single call to an outside system.
    pub call_timeout: Duration,
    pub sync_timeout: Duration,
    pub rollout_timeout: Duration,
    pub drain_timeout: Duration,
    /// How often waits poll.
    pub poll: Duration,
    /// Live progress for the dashboard.
    pub events: Option<UnboundedSender<StepEvent>>,
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
            drain_timeout: Duration::from_secs(300),
            poll: Duration::from_secs(2),
            events: None,
            take_over: false,
            holder: None,
            lock_wait: Duration::from_secs(5),
        }
    }
}

/// Why a run stopped without finishing or failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "wait")]
pub enum Wait {
    Overnight {
        env: String,
        from: String,
    },
    Sync {
        env: String,
        external_secret: String,
    },
    Rollout {
        env: String,
        detail: String,
    },
    Drain {
        env: String,
        user: String,
        detail: String,
    },
    Confirmation {
        step: StepId,
        confirm: Confirm,
    },
    Paused {
        after: StepId,
    },
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wait::Overnight { env, from } => write!(
                f,
                "waiting for the overnight {from}-to-{env} sync: run `rotui rotate` again tomorrow"
            ),
            Wait::Sync { env, external_secret } => write!(
                f,
                "ExternalSecret {external_secret} in {env} has not synced yet: run again to keep waiting"
            ),
            Wait::Rollout { env, detail } => write!(f, "{env}: {detail}: run again to keep waiting"),
            Wait::Drain { env, user, detail } => write!(
                f,
                "{env}: {detail}: run again to keep waiting, or end {user}'s connections (kill leftovers)"
            ),
            Wait::Confirmation { step, confirm } => match confirm {
                Confirm::Typed(word) => write!(f, "{step} needs confirmation: type {word}"),
                _ => write!(f, "{step} writes: confirm it (or run with --yes)"),
            },
            Wait::Paused { after } => write!(f, "paused after {after}"),
        }
    }
}

/// A failure, with the step it happened in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{error}", .step.as_ref().map(|s| format!("{s}: ")).unwrap_or_default())]
pub struct RotationError {
    pub step: Option<StepId>,
    pub error: StepError,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    Done,
    Waiting(Wait),
    Failed(RotationError),
}

impl RunOutcome {
    /// `rotui rotate`'s exit status: 0 done, 10 waiting (run again later), 1 failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunOutcome::Done => 0,
            RunOutcome::Waiting(_) => 10,
            RunOutcome::Failed(_) => 1,
        }
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

    fn journal(&self, event: Event) -> Result<(), StepError> {
        match &self.journal {
            Some(j) => j
                .append(&self.rotation, event)
                .map_err(|e| StepError::Journal(e.to_string())),
            None => Ok(()),
        }
    }

    fn emit(&self, step: &Step, kind: StepEventKind) {
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

/// Walk `plan` for `rotation` until done, a wait, or a failure, holding
/// every environment's database lock throughout; refused (failed, with
/// [`StepError::Held`]) while another rotui holds a lock or the rotation's
/// mark names another holder. When the rotation finishes, its mark is removed.
pub async fn run(
    plan: &Plan,
    ctx: &Ctx,
    rotation: &Rotation,
    journal: &Journal,
    opts: &RunOptions,
) -> RunOutcome {
    let locks = match lock_all(&plan.spec, ctx, opts).await {
        Ok(l) => l,
        Err(e) => return failed_before_steps(journal, rotation, e),
    };
    let outcome = run_locked(plan, ctx, rotation, journal, opts).await;
    release(locks).await;
    outcome
}

async fn run_locked(
    plan: &Plan,
    ctx: &Ctx,
    rotation: &Rotation,
    journal: &Journal,
    opts: &RunOptions,
) -> RunOutcome {
    let top = |error: StepError| RunOutcome::Failed(RotationError { step: None, error });
    let mut mark = match claim(&plan.spec, ctx, rotation, opts).await {
        Ok(m) => m,
        Err(error) => return failed_before_steps(journal, rotation, RotationError { step: None, error }),
    };
    let rec = Recorder::new(Some(journal.clone()), &rotation.id, opts.events.clone());
    // A rollback's plan ends the rotation as rolled back.
    let end = if plan.steps.iter().any(|s| s.kind.is_rollback()) {
        Event::RolledBack
    } else {
        Event::Finished
    };
    match walk(plan, ctx, rotation, &rec, opts, &mut mark).await {
        Ok(RunOutcome::Done) => {
            // Finished or rolled back: the team no longer sees it as under way.
            if let Err(e) = clear_marks(&plan.spec, ctx, &rotation.id, opts).await {
                let _ = rec.journal(Event::Failed {
                    step: None,
                    error: e.to_string(),
                });
                return top(e);
            }
            match rec.journal(end) {
                Ok(()) => RunOutcome::Done,
                Err(e) => top(e),
            }
        }
        Ok(other) => other,
        Err(err) => {
            // Best effort: the failure is returned whether or not the journal takes it.
            let _ = rec.journal(Event::Failed {
                step: err.step.clone(),
                error: err.error.to_string(),
            });
            RunOutcome::Failed(err)
        }
    }
}

/// A run that could not begin: an outage is journalled as the rotation's
/// failure; a refusal (another holder) is not this rotation's event, so the
/// refused operator's journal stays as it was.
fn failed_before_steps(journal: &Journal, rotation: &Rotation, err: RotationError) -> RunOutcome {
    if !matches!(err.error, StepError::Held(_)) {
        // Best effort, as for any failure.
        let _ = journal.append(
            &rotation.id,
            Event::Failed {
                step: None,
                error: err.error.to_string(),
            },
        );
    }
    RunOutcome::Failed(err)
}

/// [`run`], calling `on_event` with each step event as it happens (and any
/// left when the run ends): the one loop `rotui rotate` and the dashboard
/// both pump. Events already asked for in `opts.events` are still sent there.
pub async fn drive(
    plan: &Plan,
    ctx: &Ctx,
    rotation: &Rotation,
    journal: &Journal,
    opts: &RunOptions,
    mut on_event: impl FnMut(&StepEvent),
) -> RunOutcome {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut opts = opts.clone();
    let forward = opts.events.replace(tx);
    let mut deliver = |ev: StepEvent| {
        on_event(&ev);
        if let Some(f) = &forward {
            let _ = f.send(ev);
        }
    };
    let outcome = {
        let run = run(plan, ctx, rotation, journal, &opts);
        tokio::pin!(run);
        loop {
            tokio::select! {
                outcome = &mut run => break outcome,
                Some(ev) = rx.recv() => deliver(ev),
            }
        }
    };
    while let Ok(ev) = rx.try_recv() {
        deliver(ev);
    }
    outcome
}

async fn walk(
    plan: &Plan,
    ctx: &Ctx,
    rotation: &Rotation,
    rec: &Recorder,
    opts: &RunOptions,
    mark: &mut RotationMark,
) -> Result<RunOutcome, RotationError> {
    let mut satisfied: BTreeSet<StepId> = BTreeSet::new();
    for (i, step) in plan.steps.iter().enumerate() {
        // The mark names the step begun, so the fleet view (and a colleague)
        // sees where the rotation stands; the claim has just written the
        // mark, so the first step writes it only when the step is news.
        let now_at = Some(step.id.0.clone());
        if i > 0 || mark.step != now_at {
            mark.step = now_at;
            heartbeat(&plan.spec, ctx, mark, opts).await;
        }
        let fail = |error: StepError| {
            rec.emit(step, StepEventKind::Failed(error.to_string()));
            RotationError {
                step: Some(step.id.clone()),
                error,
            }
        };
        let unmet = plan.unmet(step, |id| satisfied.contains(id));
        if !unmet.is_empty() {
            return Err(fail(StepError::Blocked(format!(
                "needs {} first",
                unmet.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join(", ")
            ))));
        }
        let cx = StepCtx {
            ctx,
            rotation,
            step,
            opts,
            recorder: Some(rec),
        };
        if let Some(wait) = one_step(&cx, rec, opts).await.map_err(fail)? {
            return stop(rec, step, wait).map_err(fail);
        }
        satisfied.insert(step.id.clone());
        if opts.stop_after.as_ref() == Some(&step.id) {
            let wait = Wait::Paused {
                after: step.id.clone(),
            };
            return stop(rec, step, wait).map_err(fail);
        }
    }
    Ok(RunOutcome::Done)
}

/// Bring one step to done (or skipped by override); `Some` when it must wait.
async fn one_step(cx: &StepCtx<'_>, rec: &Recorder, opts: &RunOptions) -> Result<Option<Wait>, StepError> {
    let step = cx.step;
    let seen = step.observe(cx).await?;
    rec.emit(step, StepEventKind::Observed(seen.clone()));
    match seen {
        Observation::Done(detail) => {
            rec.journal(Event::StepFinished {
                step: step.id.clone(),
                result: StepOutcome::AlreadyDone,
                detail,
            })?;
            return Ok(None);
        }
        _ if opts.skip.contains_key(&step.id) => {
            let reason = opts.skip[&step.id].clone();
            rec.journal(Event::Skipped {
                step: step.id.clone(),
                reason: reason.clone(),
                by: Operator::os_user(),
            })?;
            rec.emit(step, StepEventKind::Skipped { reason });
            return Ok(None);
        }
        Observation::Blocked(why) => return Err(StepError::Blocked(why)),
        Observation::NotDone(_) => {}
    }

    let confirm = step.confirm(cx.rotation);
    let confirmed = match &confirm {
        Confirm::None => true,
        Confirm::Yes | Confirm::Destructive => opts.yes,
        Confirm::Typed(word) => opts.typed.iter().any(|t| t == word),
    };
    if !confirmed {
        return Ok(Some(Wait::Confirmation {
            step: step.id.clone(),
            confirm,
        }));
    }

    let preview = step.preview(cx).await?;
    rec.journal(Event::StepStarted {
        step: step.id.clone(),
        title: step.title(),
        preview: preview.clone(),
    })?;
    rec.emit(step, StepEventKind::Started { preview });
    if let Applied::Waiting(w) = step.apply(cx).await? {
        return Ok(Some(w));
    }
    step.verify(cx).await?;
    rec.journal(Event::StepFinished {
        step: step.id.clone(),
        result: StepOutcome::Done,
        detail: String::new(),
    })?;
    rec.emit(step, StepEventKind::Finished);
    Ok(None)
}

fn stop(rec: &Recorder, step: &Step, wait: Wait) -> Result<RunOutcome, StepError> {
    rec.journal(Event::Waiting {
        step: Some(step.id.clone()),
        reason: wait.to_string(),
    })?;
    rec.emit(step, StepEventKind::Waiting(wait.clone()));
    Ok(RunOutcome::Waiting(wait))
}
