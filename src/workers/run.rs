//! The step pump: run one step the operator started, through the runner's
//! one loop ([`runner::drive`]), turning its events into `StepChanged`.

use tokio::sync::mpsc::UnboundedSender;

use super::backend::Backend;
use crate::app::Action;
use crate::app::source::StepStatus;
use crate::rotation::Observation;
use crate::rotation::notice::Notifier;
use crate::rotation::runner::{self, RunOutcome, StepEvent, StepEventKind, Wait};
use crate::rotation::step::Confirm;
use crate::rotation::{Plan, RunOptions, StepId};
use crate::secret::Redacted;

/// Run one step (the UI only offers steps whose prerequisites are done, and
/// has already shown the preview and asked for any confirmation).
pub(super) async fn run_step(
    b: &Backend,
    id: &StepId,
    notify: Option<Notifier>,
    tx: &UnboundedSender<Action>,
) {
    let failed = |error: Redacted| Action::Failed {
        what: format!("step {id}"),
        error,
    };
    let (ctx, journal) = match b.engine() {
        Ok(e) => e,
        Err(why) => return drop(tx.send(failed(why))),
    };
    let plan = match Plan::build(&b.spec) {
        Ok(p) => p,
        Err(e) => return drop(tx.send(failed(Redacted::error(e)))),
    };
    let Some(step) = plan.steps.iter().find(|s| &s.id == id) else {
        return drop(tx.send(failed("no such step".into())));
    };
    // Everything the rotation needs, checked before anything is written.
    let report = crate::preflight::check(&b.connected, b.connected.tunnel.is_some()).await;
    if !report.passed() {
        return drop(tx.send(failed(Redacted::new(report.to_string().trim_end()))));
    }
    // What could not be proven (a role rotui does not know) is said, not guessed.
    if let Some(role) = report.findings().find(|c| c.what.starts_with("role ")) {
        let why = role.problem.as_ref().map(Redacted::as_str).unwrap_or_default();
        let _ = tx.send(Action::Notice(Redacted::new(format!("{}: {why}", role.what))));
    }
    let mut opts = RunOptions {
        yes: true,
        stagger: b.stagger,
        stop_after: Some(step.id.clone()),
        notify,
        ..RunOptions::default()
    };
    let rotation = match runner::start_or_resume(&b.spec, ctx, journal, &opts).await {
        Ok(r) => r,
        Err(e) => return drop(tx.send(failed(Redacted::error(e)))),
    };
    if let Confirm::Typed(word) = step.confirm(&rotation) {
        // The dashboard asked for this word to be typed before sending RunStep.
        opts.typed.push(word);
    }
    let _ = tx.send(Action::StepChanged {
        id: id.clone(),
        status: StepStatus::Running,
        result: None,
    });
    let outcome = runner::drive(&plan, ctx, &rotation, journal, &opts, |ev| {
        let _ = tx.send(step_changed(ev));
    })
    .await;
    let notice = match outcome {
        RunOutcome::Done => Action::Notice(Redacted::new(format!(
            "rotation {} of {} finished: {} uses {}",
            rotation.id,
            b.spec.label(),
            b.spec.app,
            rotation.new_username
        ))),
        // One step at a time: the step is done, and the rotation goes on with the next.
        RunOutcome::Waiting(Wait::Paused { after }) => Action::Notice(Redacted::new(format!("{after} done"))),
        RunOutcome::Waiting(w) => Action::Notice(Redacted::error(w)),
        RunOutcome::Failed(e) => failed(Redacted::error(e)),
    };
    b.current.forget().await;
    let _ = tx.send(notice);
    let _ = tx.send(Action::RunEnded);
}

/// A runner event as the Steps pane shows it.
pub(super) fn step_changed(ev: &StepEvent) -> Action {
    let (status, text) = match &ev.kind {
        StepEventKind::Started { .. } => (StepStatus::Running, "started".to_owned()),
        StepEventKind::Call { text, .. } => (StepStatus::Running, text.clone()),
        StepEventKind::Finished => (StepStatus::Done, "done".to_owned()),
        StepEventKind::Skipped { reason } => (StepStatus::Skipped, reason.clone()),
        // Stopped after it, as asked: the step is done, nothing waits.
        StepEventKind::Waiting(Wait::Paused { .. }) => (StepStatus::Done, "done".to_owned()),
        StepEventKind::Waiting(w) => (StepStatus::Waiting, w.to_string()),
        StepEventKind::Failed(e) => (StepStatus::Failed, e.clone()),
        StepEventKind::Observed(o) => match o {
            Observation::Done(d) => (StepStatus::Done, d.clone()),
            Observation::NotDone(d) => (StepStatus::Running, d.clone()),
            Observation::Blocked(d) => (StepStatus::Blocked, d.clone()),
        },
    };
    Action::StepChanged {
        id: ev.step.clone(),
        status,
        result: Some(Redacted::new(text)),
    }
}
