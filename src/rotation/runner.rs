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

use std::collections::BTreeSet;

use super::context::{Ctx, StepCtx};
use super::hold::{claim, clear_marks, heartbeat, lock_all, release};
use super::journal::{Event, Journal, StepOutcome};
use super::mark::RotationMark;
use super::notice::NoticeKind;
use super::operator::Operator;
use super::outcome::{Applied, Observation, StepError};
use super::plan::Plan;
use super::spec::Rotation;
use super::step::{Confirm, Step, StepId};

// What a run gives its steps, and what comes of them, live below the runner
// (`context.rs`, `outcome.rs`), where the steps use them too; their names stay here.
pub use super::context::{Recorder, RunOptions, StepEvent, StepEventKind};
pub use super::outcome::{RotationError, Wait};
// Deciding and holding a rotation live in `hold`; their names stay here too.
pub use super::hold::{Purpose, Source, decide, decide_from, hold, mark_of, start_or_resume};

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
    let (end, told) = if plan.steps.iter().any(|s| s.kind.is_rollback()) {
        (Event::RolledBack, NoticeKind::RolledBack)
    } else {
        (Event::Finished, NoticeKind::Finished)
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
                Ok(()) => {
                    opts.notify(told, rotation, None, "");
                    RunOutcome::Done
                }
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
            // Whatever stopped the plan at a step (blocked, failed, a health
            // gate that did not pass) is one kind of notice.
            let step = err
                .step
                .as_ref()
                .and_then(|id| plan.steps.iter().find(|s| &s.id == id));
            opts.notify(NoticeKind::Blocked, rotation, step, &err.error.to_string());
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
        crate::fault::point(&format!("step/{}", step.id.0));
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
            // The operator is needed: a confirmation, or a wait to come back to.
            opts.notify(NoticeKind::Waiting, rotation, Some(step), &wait.to_string());
            return stop(rec, step, wait).map_err(fail);
        }
        satisfied.insert(step.id.clone());
        // Stopping after the last step would leave a done rotation unfinished
        // (marked, journalled as waiting): it ends here as a whole run does.
        if opts.stop_after.as_ref() == Some(&step.id) && i + 1 < plan.steps.len() {
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
