//! What each kind of step observes, previews and applies, grouped by the
//! system it mostly works on.

mod cluster;
mod database;
mod restore;
mod rollback;
mod secrets;

#[cfg(test)]
pub(crate) use cluster::rollout_observation;

use super::step::{Applied, Observation, Step, StepCtx, StepKind, StepResult};

pub(super) async fn observe(step: &Step, cx: &StepCtx<'_>) -> StepResult<Observation> {
    use StepKind::*;
    match &step.kind {
        StorePending { .. } => secrets::observe_pending(cx).await,
        Promote => secrets::observe_promoted(cx).await,
        ForceSync => cluster::observe_secret(cx, false).await,
        VerifySecret => cluster::observe_secret(cx, true).await,
        Rollout | RolloutBack => cluster::observe_rollout(cx).await,
        SyncBack => cluster::observe_secret(cx, false).await,
        VerifySecretBack => cluster::observe_secret(cx, true).await,
        RestoreSecret | DropNewUser => rollback::observe(step, cx).await,
        _ => database::observe(step, cx).await,
    }
}

pub(super) async fn preview(step: &Step, cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    use StepKind::*;
    match &step.kind {
        StorePending { source } => secrets::preview_pending(cx, source.as_deref()),
        Promote => secrets::preview_promote(cx),
        ForceSync | SyncBack => cluster::preview_sync(cx),
        VerifySecret | VerifySecretBack => cluster::preview_verify(cx),
        Rollout | RolloutBack => cluster::preview_rollout(cx),
        RestoreSecret | DropNewUser => rollback::preview(step, cx).await,
        _ => database::preview(step, cx).await,
    }
}

pub(super) async fn apply(step: &Step, cx: &StepCtx<'_>) -> StepResult<Applied> {
    use StepKind::*;
    // Idempotence: a step that is done already is not applied again.
    if let Observation::Done(_) = observe(step, cx).await? {
        return Ok(Applied::Done);
    }
    match &step.kind {
        StorePending { source } => secrets::store_pending(cx, source.as_deref()).await,
        Promote => secrets::promote(cx).await,
        ForceSync | SyncBack => cluster::force_sync(cx).await,
        Rollout | RolloutBack => cluster::await_rollout(cx).await,
        RestoreSecret | DropNewUser | VerifySecretBack => rollback::apply(step, cx).await,
        _ => database::apply(step, cx).await,
    }
}
