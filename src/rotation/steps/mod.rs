//! What each kind of step observes, previews and applies, grouped by the
//! system it mostly works on.

mod cluster;
mod database;
mod secrets;

use super::step::{Applied, Observation, Step, StepCtx, StepKind, StepResult};

pub(super) async fn observe(step: &Step, cx: &StepCtx<'_>) -> StepResult<Observation> {
    use StepKind::*;
    match &step.kind {
        StorePending { .. } => secrets::observe_pending(cx).await,
        Promote => secrets::observe_promoted(cx).await,
        ForceSync => cluster::observe_secret(cx, false).await,
        VerifySecret => cluster::observe_secret(cx, true).await,
        Rollout => cluster::observe_rollout(cx).await,
        _ => database::observe(step, cx).await,
    }
}

pub(super) async fn preview(step: &Step, cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    use StepKind::*;
    match &step.kind {
        StorePending { source } => secrets::preview_pending(cx, source.as_deref()),
        Promote => secrets::preview_promote(cx),
        ForceSync => cluster::preview_sync(cx),
        VerifySecret => cluster::preview_verify(cx),
        Rollout => cluster::preview_rollout(cx),
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
        ForceSync => cluster::force_sync(cx).await,
        Rollout => cluster::await_rollout(cx).await,
        _ => database::apply(step, cx).await,
    }
}
