//! The guided rotation: every step with its status, from the rotation's
//! survey (the same one `rotui plan` prints), and the selected one's why,
//! preview and result.

use crate::app::loadable::{Loadable, Stamp, Tracked};
use crate::app::selection::Selection;
use crate::app::source::{Answer, PlanView, Request, Source, StepStatus, StepView};
use crate::rotation::StepId;
use crate::rotation::step::{Step, StepKind};
use crate::secret::Redacted;

use super::pane::{About, Around, Column, Landed, PaneModel, Place};

/// Refresh intervals between looks at the step list while a step waits.
pub const WAITING_STEP_CADENCE: i32 = 3;

/// Steps whose state the cluster or the database's connections move on,
/// not rotui: a sync, the Secret, a rollout, the drain (and the drops, which
/// wait for it). While one is next, the list looks as often as for a
/// waiting step, so it keeps up with the Cluster and Connections panes.
const FOLLOW_THE_WORLD: [StepKind; 8] = [
    StepKind::ForceSync,
    StepKind::VerifySecret,
    StepKind::Rollout,
    StepKind::Drain,
    StepKind::DropOldUser { also_check: vec![] },
    StepKind::SyncBack,
    StepKind::VerifySecretBack,
    StepKind::RolloutBack,
];

#[derive(Debug, Clone, Default)]
pub struct StepsPane {
    pub plan: Loadable<PlanView>,
    pub selection: Selection,
}

impl StepsPane {
    pub const ABOUT: About = About {
        title: "Steps",
        tab: "Steps",
        focus_key: "focus_steps",
        focus_help: "steps pane",
        place: Place {
            column: Column::Left,
            row: 0,
            percent: 55,
        },
        // Observed when the cluster changes and every 120th interval:
        // observing the plan reads the database, Secrets Manager (about ten
        // calls) and the pods' environment (through exec), too much to ask
        // every second of a production estate, unless a step is waiting or
        // the next one is moved on by the cluster or the connections.
        every: Some(120),
        filterable: false,
    };

    pub fn steps(&self) -> &[StepView] {
        self.plan.data.as_ref().map(|p| p.steps.as_slice()).unwrap_or(&[])
    }

    pub fn step(&self, id: &str) -> Option<&StepView> {
        self.steps().iter().find(|s| s.id == id)
    }

    pub fn old_user(&self) -> Option<&str> {
        self.plan.data.as_ref().and_then(|p| p.old_user.as_deref())
    }

    pub fn new_user(&self) -> Option<&str> {
        self.plan.data.as_ref().and_then(|p| p.new_user.as_deref())
    }

    /// Whether the first step not yet done is one the world moves on.
    fn next_follows_the_world(&self) -> bool {
        let next = self
            .steps()
            .iter()
            .find(|s| !matches!(s.status, StepStatus::Done | StepStatus::Skipped));
        next.is_some_and(|s| {
            let slug = s.id.rsplit('/').next().unwrap_or_default();
            FOLLOW_THE_WORLD.iter().any(|k| Step::slug(k) == slug)
        })
    }

    pub fn step_running(&self) -> bool {
        self.steps().iter().any(|s| s.status == StepStatus::Running)
    }

    /// A step the operator started moved on; whether it is one shown.
    pub fn step_changed(&mut self, id: &StepId, status: StepStatus, result: Option<Redacted>) -> bool {
        let Some(step) = self
            .plan
            .data
            .as_mut()
            .and_then(|p| p.steps.iter_mut().find(|s| s.id == id.0))
        else {
            return false;
        };
        step.status = status;
        if result.is_some() {
            step.result = result.map(Redacted::into_string);
        }
        true
    }

    /// A rollback began: its steps are shown until the run ends. Whether
    /// there was a plan to show them in.
    pub fn show_rollback(&mut self, steps: Vec<StepView>) -> bool {
        let Some(p) = self.plan.data.as_mut() else {
            return false;
        };
        p.steps = steps;
        p.rollback = Some("rolling back".into());
        p.can_roll_back = false;
        true
    }
}

impl PaneModel for StepsPane {
    fn selection(&self) -> &Selection {
        &self.selection
    }

    fn selection_mut(&mut self) -> &mut Selection {
        &mut self.selection
    }

    fn row_count(&self) -> usize {
        self.steps().len()
    }

    fn row_key(&self, row: usize) -> Option<String> {
        self.steps().get(row).map(|s| s.id.clone())
    }

    fn shown(&self) -> &dyn Tracked {
        &self.plan
    }

    fn sources(&self, _: &Around) -> Vec<Source> {
        vec![Source::Fetch(Request::Plan)]
    }

    /// A step waiting on the world (a rollout, the drain), or next to do and
    /// moved on by it, is what the operator is watching: look every few
    /// seconds until it moves on.
    fn cadence(&self, _: &Source) -> Option<i32> {
        if self.steps().iter().any(|s| s.status == StepStatus::Waiting) || self.next_follows_the_world() {
            Some(WAITING_STEP_CADENCE)
        } else {
            Self::ABOUT.every
        }
    }

    fn tracked(&self, source: &Source) -> Option<&dyn Tracked> {
        matches!(source, Source::Fetch(Request::Plan)).then_some(&self.plan as &dyn Tracked)
    }

    fn tracked_mut(&mut self, source: &Source) -> Option<&mut dyn Tracked> {
        matches!(source, Source::Fetch(Request::Plan)).then_some(&mut self.plan as &mut dyn Tracked)
    }

    fn land(&mut self, stamp: Stamp, answer: Answer, _: &Around) -> Result<Landed, Answer> {
        match answer {
            Answer::Plan(result) => Ok(Landed::rows(self.plan.accept(stamp, result) == Some(true))),
            other => Err(other),
        }
    }

    fn reset(&mut self) {
        self.plan.reset();
        self.selection = Selection::default();
    }
}
