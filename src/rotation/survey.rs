//! One survey of a rotation, read from the live systems and written nowhere:
//! the plan, the rotation it would start or resume, and each step's
//! observation, preview, confirmation and state. `rotui plan` prints it and
//! the dashboard's Steps pane shows it, so the two cannot disagree.
//!
//! A step is *done* only when what it establishes holds for this rotation
//! (the observation is about the new credentials) and every step it needs is
//! done first: before that it is waiting, never done, whatever the live
//! systems happen to show for the old credentials.

use std::collections::BTreeSet;

use super::context::{Ctx, RunOptions, StepCtx};
use super::outcome::{Observation, RotationError, StepError};
use super::plan::Plan;
use super::runner;
use super::spec::{PlanSpec, Rotation};
use super::step::{Confirm, Step, StepId};
use crate::secret::Redacted;

/// Where a step stands in this rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    /// What the step establishes holds for this rotation.
    Done(String),
    /// Its prerequisites are done; it has work to do.
    Ready(String),
    /// Something the step cannot fix (the text says what to do).
    Blocked(String),
    /// Steps it needs are not done yet; `now` is what the live systems show.
    Waiting { needs: Vec<StepId>, now: String },
    /// The live state could not be read.
    Unknown(Redacted),
}

impl StepState {
    /// One word for the state, the same in `rotui plan` and the dashboard's tests.
    pub fn label(&self) -> &'static str {
        match self {
            StepState::Done(_) => "done",
            StepState::Ready(_) => "to do",
            StepState::Blocked(_) => "blocked",
            StepState::Waiting { .. } => "waiting",
            StepState::Unknown(_) => "unknown",
        }
    }

    /// The state in words, for the operator.
    pub fn detail(&self) -> String {
        match self {
            StepState::Done(d) | StepState::Ready(d) | StepState::Blocked(d) => d.clone(),
            StepState::Unknown(e) => e.to_string(),
            StepState::Waiting { needs, now } => format!(
                "needs {} first; now: {now}",
                needs.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self, StepState::Done(_))
    }
}

/// One step, surveyed.
#[derive(Debug, Clone)]
pub struct SurveyedStep {
    pub step: Step,
    pub state: StepState,
    /// The statements and calls apply would make, masked; or why not known.
    pub preview: Result<Vec<String>, Redacted>,
    pub confirm: Confirm,
}

/// The whole rotation, surveyed.
#[derive(Debug, Clone)]
pub struct Survey {
    pub plan: Plan,
    pub rotation: Rotation,
    /// Whether `rotation` is under way (the journal's unfinished one, or the
    /// one the rotation mark names); else it would start.
    pub resumed: bool,
    /// The rotation mark on the first environment's app secret: whose
    /// rotation it is and since when (`None` before it starts).
    pub mark: Option<super::mark::RotationMark>,
    pub steps: Vec<SurveyedStep>,
    /// Whether the rotation can be rolled back now (`rotui rollback`).
    pub rollback: Result<super::rollback::Rollbackable, Redacted>,
    /// With no rotation under way: how the last one this laptop journalled
    /// ended, if it did (`rotation … finished at …`).
    pub last_ended: Option<super::journal::Ended>,
}

/// Survey `spec`'s rotation: decide it (or read the unfinished one from the
/// journal), then observe and preview every step in order. Writes nothing,
/// and reads each outside value once (through [`Ctx::memoized`]).
pub async fn survey(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &super::journal::Journal,
    opts: &RunOptions,
) -> Result<Survey, RotationError> {
    survey_as_is(spec, &ctx.memoized(), journal, opts).await
}

/// [`survey`] with `ctx`'s ports as they are, each step reading for itself
/// (what the survey did before it memoized): for counting calls.
pub(super) async fn survey_as_is(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &super::journal::Journal,
    opts: &RunOptions,
) -> Result<Survey, RotationError> {
    let blocked = |e: super::plan::PlanError| RotationError {
        step: None,
        error: StepError::Blocked(e.to_string()),
    };
    Plan::build(spec).map_err(blocked)?;
    let (rotation, resumed) = runner::decide(spec, ctx, journal, opts).await?;
    // A resumed rotation keeps the restores it started with.
    let plan = Plan::build(&rotation.spec).map_err(blocked)?;
    let mark = runner::mark_of(spec, ctx, opts)
        .await
        .ok()
        .flatten()
        .filter(|m| m.rotation_id == rotation.id);
    // As the runner counts them: done, or skipped by an override.
    let mut satisfied: BTreeSet<StepId> = BTreeSet::new();
    let mut steps = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let cx = StepCtx {
            ctx,
            rotation: &rotation,
            step,
            opts,
            recorder: None,
        };
        let needs = plan.unmet(step, |id| satisfied.contains(id));
        let state = match step.observe(&cx).await {
            Err(e) => StepState::Unknown(Redacted::error(e)),
            Ok(seen) if !needs.is_empty() => StepState::Waiting {
                needs,
                now: observed_text(seen),
            },
            Ok(Observation::Done(d)) => StepState::Done(d),
            Ok(Observation::NotDone(d)) => StepState::Ready(d),
            Ok(Observation::Blocked(d)) => StepState::Blocked(d),
        };
        let skipped =
            opts.skip.contains_key(&step.id) && matches!(state, StepState::Ready(_) | StepState::Blocked(_));
        if state.is_done() || skipped {
            satisfied.insert(step.id.clone());
        }
        let preview = step.preview(&cx).await.map_err(Redacted::error);
        steps.push(SurveyedStep {
            confirm: step.confirm(&rotation),
            step: step.clone(),
            state,
            preview,
        });
    }
    let rollback = super::rollback::rollbackable(&plan, &rotation, resumed, ctx, opts)
        .await
        .map_err(Redacted::error);
    // Best effort: the journal was read to decide just now.
    let last_ended = if resumed {
        None
    } else {
        journal.last_ended().ok().flatten()
    };
    Ok(Survey {
        last_ended,
        plan,
        rotation,
        resumed,
        mark,
        steps,
        rollback,
    })
}

fn observed_text(o: Observation) -> String {
    match o {
        Observation::Done(d) | Observation::NotDone(d) | Observation::Blocked(d) => d,
    }
}

impl Survey {
    /// `done/total`, as the Steps pane counts.
    pub fn done(&self) -> usize {
        self.steps.iter().filter(|s| s.state.is_done()).count()
    }
}
