//! The rollback from the dashboard: its preview for the dialog, and the run
//! the operator confirmed, pumped through the runner's one loop
//! ([`runner::drive`]) as a step run is, its steps shown in the Steps pane.

use tokio::sync::mpsc::UnboundedSender;

use super::backend::Backend;
use super::run::step_changed;
use crate::app::Action;
use crate::app::source::{StepStatus, StepView};
use crate::rotation::Observation;
use crate::rotation::RunOptions;
use crate::rotation::notice::Notifier;
use crate::rotation::rollback::{self, PreviewedStep};
use crate::rotation::runner::{self, RunOutcome};
use crate::rotation::survey::StepState;
use crate::secret::Redacted;

fn view(p: &PreviewedStep) -> StepView {
    let state = match &p.observed {
        Ok(Observation::Done(d)) => StepState::Done(d.clone()),
        Ok(Observation::NotDone(d)) => StepState::Ready(d.clone()),
        Ok(Observation::Blocked(d)) => StepState::Blocked(d.clone()),
        Err(e) => StepState::Unknown(e.clone()),
    };
    let mut v = super::plan::step_view(p.step.clone(), &state, &p.preview, &p.confirm);
    // Later steps wait for earlier ones: pending, not blocked, in the preview.
    if v.status == StepStatus::Blocked && matches!(state, StepState::Ready(_)) {
        v.status = StepStatus::Pending;
    }
    v
}

/// The rollback's preview, every step, for the dialog. Writes nothing.
pub(super) async fn preview(b: &Backend, tx: &UnboundedSender<Action>) {
    let answer = async {
        let (ctx, journal) = b.engine()?;
        let (_, steps) = rollback::preview(&b.spec, ctx, journal, &RunOptions::default())
            .await
            .map_err(Redacted::error)?;
        Ok(steps.iter().map(view).collect())
    }
    .await;
    let _ = tx.send(Action::RollbackPreview(answer));
}

/// Roll back (the operator has seen the preview and confirmed; `drop_new`
/// is the new user's name when it was typed to drop it too).
pub(super) async fn run(
    b: &Backend,
    drop_new: Option<String>,
    notify: Option<Notifier>,
    tx: &UnboundedSender<Action>,
) {
    let failed = |error: Redacted| Action::Failed {
        what: "rollback".into(),
        error,
    };
    let (ctx, journal) = match b.engine() {
        Ok(e) => e,
        Err(why) => return drop(tx.send(failed(why))),
    };
    let plan = match rollback::plan(&b.spec) {
        Ok(p) => p,
        Err(e) => return drop(tx.send(failed(Redacted::error(e)))),
    };
    // Everything it needs, checked before anything is written.
    let report = crate::preflight::check(&b.connected, b.connected.tunnel.is_some()).await;
    if !report.passed() {
        return drop(tx.send(failed(Redacted::new(report.to_string().trim_end()))));
    }
    let opts = RunOptions {
        yes: true,
        typed: drop_new.into_iter().collect(),
        notify,
        ..RunOptions::default()
    };
    if let Ok((_, steps)) = rollback::preview(&b.spec, ctx, journal, &opts).await {
        let _ = tx.send(Action::RollbackSteps(steps.iter().map(view).collect()));
    }
    let rotation = match rollback::start(&b.spec, ctx, journal, &opts).await {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(failed(Redacted::error(e)));
            return drop(tx.send(Action::RunEnded));
        }
    };
    let opts = rollback::options(opts, &plan, &rotation);
    let outcome = runner::drive(&plan, ctx, &rotation, journal, &opts, |ev| {
        let _ = tx.send(step_changed(ev));
    })
    .await;
    let notice = match outcome {
        RunOutcome::Done => Action::Notice(format!("rotation {} rolled back", rotation.id).into()),
        RunOutcome::Waiting(w) => Action::Notice(Redacted::error(w)),
        RunOutcome::Failed(e) => failed(Redacted::error(e)),
    };
    b.current.forget().await;
    let _ = tx.send(notice);
    let _ = tx.send(Action::RunEnded);
}
