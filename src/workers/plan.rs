//! The Steps pane's data: the rotation's [`survey`](crate::rotation::survey),
//! the same one `rotui plan` prints, as the screen shows it.

use crate::app::source::{PlanView, StepStatus, StepView};
use crate::rotation::journal::Journal;
use crate::rotation::rollback::Rollbackable;
use crate::rotation::step::Confirm;
use crate::rotation::survey::{self, StepState, Survey};
use crate::rotation::{Ctx, PlanSpec, RunOptions};
use crate::secret::Redacted;

/// Survey `spec`'s rotation and show it as the Steps pane does. Writes nothing.
pub async fn plan_view(spec: &PlanSpec, ctx: &Ctx, journal: &Journal) -> Result<PlanView, Redacted> {
    let survey = survey::survey(spec, ctx, journal, &RunOptions::default())
        .await
        .map_err(Redacted::error)?;
    Ok(view(&survey))
}

/// How the pane marks a surveyed state: a step that cannot run yet (its
/// prerequisites, or something outside) is blocked.
pub fn status(state: &StepState) -> StepStatus {
    match state {
        StepState::Done(_) => StepStatus::Done,
        StepState::Ready(_) => StepStatus::Pending,
        StepState::Blocked(_) | StepState::Waiting { .. } | StepState::Unknown(_) => StepStatus::Blocked,
    }
}

/// Whose rotation it is and since when, as the Steps pane's title says it.
pub fn holder_text(m: &crate::rotation::mark::RotationMark) -> String {
    let day = if m.since.date_naive() == chrono::Utc::now().date_naive() {
        m.since.format("%H:%M UTC").to_string()
    } else {
        m.since.format("%Y-%m-%d %H:%M UTC").to_string()
    };
    format!("{} since {day}", m.holder)
}

/// The survey as the Steps pane shows it (old user: the first environment's).
pub fn view(survey: &Survey) -> PlanView {
    let env = survey.plan.spec.envs.first();
    PlanView {
        rollback: match &survey.rollback {
            Ok(Rollbackable::NoRotation) => None,
            Ok(r) => Some(r.to_string()),
            Err(e) => Some(format!("rollback: unknown ({e})")),
        },
        can_roll_back: matches!(survey.rollback, Ok(Rollbackable::Possible { .. })),
        old_user: env.and_then(|e| survey.rotation.old_users.get(e)).cloned(),
        new_user: Some(survey.rotation.new_username.clone()),
        holder: survey.mark.as_ref().map(holder_text),
        ended: survey.last_ended.as_ref().map(|e| e.to_string()),
        steps: survey
            .steps
            .iter()
            .map(|s| step_view(s.step.clone(), &s.state, &s.preview, &s.confirm))
            .collect(),
    }
}

/// One step as the pane shows it.
pub fn step_view(
    step: crate::rotation::Step,
    state: &StepState,
    preview: &Result<Vec<String>, Redacted>,
    confirm: &Confirm,
) -> StepView {
    StepView {
        id: step.id.to_string(),
        title: step.title(),
        why: step.why().to_owned(),
        status: status(state),
        preview: match preview {
            Ok(lines) => lines.clone(),
            Err(e) => vec![format!("(preview unavailable: {e})")],
        },
        result: Some(Redacted::new(state.detail()).into_string()),
        confirm: confirm.clone(),
    }
}
