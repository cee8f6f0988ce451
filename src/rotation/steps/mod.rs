//! What each kind of step observes, previews and applies, grouped by the
//! system it mostly works on, and [`Step`]'s `observe`, `preview`, `apply`
//! and `verify`, which pick the right one. What a step is lives in
//! `step.rs`, what it sees in `context.rs`: both below this module.

mod blast;
mod cluster;
mod database;
mod restore;
mod rollback;
mod secrets;

#[cfg(test)]
pub(crate) use cluster::rollout_observation;

use super::context::StepCtx;
use super::outcome::{Applied, Observation, StepError, StepResult};
use super::step::{Step, StepKind};

impl Step {
    /// Read live state: is this step done already?
    pub async fn observe(&self, cx: &StepCtx<'_>) -> StepResult<Observation> {
        use StepKind::*;
        match &self.kind {
            StorePending { .. } => secrets::observe_pending(cx).await,
            Promote => secrets::observe_promoted(cx).await,
            ForceSync => cluster::observe_secret(cx, false).await,
            VerifySecret => cluster::observe_secret(cx, true).await,
            Rollout | RolloutBack => cluster::observe_rollout(cx).await,
            SyncBack => cluster::observe_secret(cx, false).await,
            VerifySecretBack => cluster::observe_secret(cx, true).await,
            RestoreSecret | DropNewUser => rollback::observe(self, cx).await,
            _ => database::observe(self, cx).await,
        }
    }

    /// The exact statements and calls apply will make, secrets masked.
    pub async fn preview(&self, cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
        use StepKind::*;
        match &self.kind {
            StorePending { source } => secrets::preview_pending(cx, source.as_deref()),
            Promote => secrets::preview_promote(cx).await,
            ForceSync | SyncBack => cluster::preview_sync(cx),
            VerifySecret | VerifySecretBack => cluster::preview_verify(cx),
            Rollout | RolloutBack => cluster::preview_rollout(cx).await,
            RestoreSecret | DropNewUser => rollback::preview(self, cx).await,
            _ => database::preview(self, cx).await,
        }
    }

    /// Do it. Applying a step that is done changes nothing.
    pub async fn apply(&self, cx: &StepCtx<'_>) -> StepResult<Applied> {
        use StepKind::*;
        // Idempotence: a step that is done already is not applied again.
        if let Observation::Done(_) = self.observe(cx).await? {
            return Ok(Applied::Done);
        }
        match &self.kind {
            StorePending { source } => secrets::store_pending(cx, source.as_deref()).await,
            Promote => secrets::promote(cx).await,
            ForceSync | SyncBack => cluster::force_sync(cx).await,
            Rollout | RolloutBack => cluster::await_rollout(cx).await,
            RestoreSecret | DropNewUser | VerifySecretBack => rollback::apply(self, cx).await,
            _ => database::apply(self, cx).await,
        }
    }

    /// Check that apply achieved what it should, from live state.
    pub async fn verify(&self, cx: &StepCtx<'_>) -> StepResult<()> {
        match self.observe(cx).await? {
            Observation::Done(_) => Ok(()),
            Observation::NotDone(why) | Observation::Blocked(why) => Err(StepError::Verify(why)),
        }
    }
}
