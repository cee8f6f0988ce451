//! Rolling an unfinished rotation back while its old user still exists: a
//! plan of its own, made of steps like the rotation's (observed from live
//! state, previewed, journalled, idempotent), run by the same runner.
//!
//! Per environment: AWSCURRENT back on the old user's version and no
//! AWSPENDING of the new user (`rollback-secret`), force-sync
//! (`rollback-sync`), the Secret names the old credentials
//! (`rollback-verify-secret`), every pod does (`rollback-rollout`); then,
//! only if the operator types its name, the new user is dropped
//! where the rotation created it (`drop-new-user`, once every environment
//! is back). Nothing in the database needs undoing: the old user's grants
//! were never changed, MySQL objects moved to the admin work for every
//! caller, and PostgreSQL's owner role is granted to the old user too.
//!
//! The rotation rolled back is the one `rotate` would resume
//! ([`runner::decide`]); once rolled back the journal closes it
//! ([`Event::RolledBack`]) and the next `rotate` starts afresh, with a new
//! username. There is no rollback once the old user is dropped.

use std::io::Write;

use super::context::{Ctx, RunOptions, StepCtx};
use super::hold::identify;
use super::journal::{Event, Journal};
use super::outcome::{Observation, RotationError, StepError};
use super::plan::{Plan, PlanError};
use super::ports::{System, within};
use super::progress::print_event;
use super::runner::{self, RunOutcome};
use super::spec::{PlanSpec, Rotation};
use super::step::{Confirm, Step, StepId, StepKind};
use crate::target::EnvName;

/// Whether the rotation can be rolled back, as `rotui plan` and the Steps pane say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollbackable {
    /// No rotation is under way.
    NoRotation,
    /// Possible until these steps (each environment's drop of the old user) run.
    Possible { until: Vec<StepId> },
    /// The old user is gone in `env`: there is nothing to go back to.
    Dropped { env: EnvName, user: String },
}

impl std::fmt::Display for Rollbackable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rollbackable::NoRotation => f.write_str("no rollback: no rotation under way"),
            Rollbackable::Possible { until } => write!(
                f,
                "rollback possible (until {})",
                until.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join(", ")
            ),
            Rollbackable::Dropped { env, user } => {
                write!(f, "no rollback: {user} was dropped in {env}")
            }
        }
    }
}

/// The step id of `kind` in `env`.
fn id(env: &str, kind: &StepKind) -> StepId {
    StepId(format!("{env}/{}", Step::slug(kind)))
}

/// The rollback of a rotation of `spec`: each environment the rotation
/// touches, in the rotation's order, back to its old user; then the new user
/// dropped where the rotation created it.
pub fn plan(spec: &PlanSpec) -> Result<Plan, PlanError> {
    let rotation = Plan::build(spec)?;
    let mut order: Vec<EnvName> = vec![];
    for s in &rotation.steps {
        if !order.contains(&s.env) {
            order.push(s.env.clone());
        }
    }
    let mut steps = vec![];
    let mut back = vec![];
    for env in &order {
        let mut prev: Option<StepId> = None;
        for kind in [
            StepKind::RestoreSecret,
            StepKind::SyncBack,
            StepKind::VerifySecretBack,
            StepKind::RolloutBack,
        ] {
            let step = Step {
                id: id(env, &kind),
                env: env.clone(),
                engine: spec.engine,
                kind,
                requires: prev.take().into_iter().collect(),
            };
            prev = Some(step.id.clone());
            steps.push(step);
        }
        back.extend(prev);
    }
    // Wherever the rotation creates the new user: also a restored
    // environment (PostgreSQL staging), where pg_dump brings no roles and
    // the rotation makes the login itself.
    for env in &order {
        if rotation.steps.iter().any(|s| {
            &s.env == env
                && matches!(
                    s.kind,
                    StepKind::CreateUser | StepKind::CreateRestoredLogin { .. }
                )
        }) {
            steps.push(Step {
                id: id(env, &StepKind::DropNewUser),
                env: env.clone(),
                engine: spec.engine,
                kind: StepKind::DropNewUser,
                requires: back.clone(),
            });
        }
    }
    Ok(Plan {
        spec: spec.clone(),
        steps,
    })
}

/// Can `rotation` (the journal's unfinished one when `resumed`) be rolled
/// back? Reads each environment's database; writes nothing.
pub async fn rollbackable(
    rotation_plan: &Plan,
    rotation: &Rotation,
    resumed: bool,
    ctx: &Ctx,
    opts: &RunOptions,
) -> Result<Rollbackable, StepError> {
    if !resumed {
        return Ok(Rollbackable::NoRotation);
    }
    for env in &rotation_plan.spec.envs {
        let old = rotation.old_user(env);
        let db = &ctx.env(env)?.db;
        if within(System::Database, opts.call_timeout, db.user(old))
            .await?
            .is_none()
        {
            return Ok(Rollbackable::Dropped {
                env: env.clone(),
                user: old.to_owned(),
            });
        }
    }
    Ok(Rollbackable::Possible {
        until: rotation_plan
            .steps
            .iter()
            .filter(|s| matches!(s.kind, StepKind::DropOldUser { .. }))
            .map(|s| s.id.clone())
            .collect(),
    })
}

/// Start (or resume) rolling back the rotation `rotate` would resume:
/// refused, writing nothing, when there is none or its old user is gone.
/// Records [`Event::RollbackStarted`] the first time.
pub async fn start(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &Journal,
    opts: &RunOptions,
) -> Result<Rotation, RotationError> {
    let err = |error: StepError| RotationError { step: None, error };
    Plan::build(spec).map_err(|e| err(StepError::Blocked(e.to_string())))?;
    let (rotation, resumed) = runner::decide(spec, ctx, journal, opts).await?;
    let rotation_plan = Plan::build(&rotation.spec).map_err(|e| err(StepError::Blocked(e.to_string())))?;
    match rollbackable(&rotation_plan, &rotation, resumed, ctx, opts)
        .await
        .map_err(err)?
    {
        Rollbackable::Possible { .. } => {}
        Rollbackable::NoRotation => return Err(err(StepError::Blocked(super::hold::NO_ROLLBACK.into()))),
        refused => return Err(err(StepError::Blocked(refused.to_string()))),
    }
    // The same locks, mark and holder rule as `rotate`: one operator at a time.
    let rotation = runner::hold(spec, ctx, journal, opts, runner::Purpose::Rollback).await?;
    let started = journal
        .rolling_back(&rotation.id)
        .map_err(|e| err(StepError::Journal(e.to_string())))?;
    if !started {
        // `hold` recorded the resume (or pick-up, or take-over) and who.
        let operator = identify(spec, ctx, opts.call_timeout).await;
        journal
            .append(&rotation.id, Event::RollbackStarted { operator })
            .map_err(|e| err(StepError::Journal(e.to_string())))?;
    }
    Ok(rotation)
}

/// `rotui rollback --yes`: roll the unfinished rotation back until done, a
/// wait or a failure, printing progress as `rotate` does (same exit codes).
pub async fn rollback_cmd(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &Journal,
    opts: RunOptions,
    out: &mut dyn Write,
) -> RunOutcome {
    if let Err(e) = plan(spec) {
        let error = StepError::Blocked(e.to_string());
        let _ = writeln!(out, "failed: {error}");
        return RunOutcome::Failed(RotationError { step: None, error });
    }
    let rotation = match start(spec, ctx, journal, &opts).await {
        Ok(r) => r,
        Err(e) => {
            // Run again after it finished: nothing to do, and that is fine.
            if let Some(id) = rolled_back_last(journal) {
                let _ = writeln!(out, "done: rotation {id} was rolled back already; nothing to do");
                return RunOutcome::Done;
            }
            let _ = writeln!(out, "failed: {e}");
            return RunOutcome::Failed(e);
        }
    };
    // The rotation's own spec: the restores it started with.
    let plan = match plan(&rotation.spec) {
        Ok(p) => p,
        Err(e) => {
            let error = StepError::Blocked(e.to_string());
            let _ = writeln!(out, "failed: {error}");
            return RunOutcome::Failed(RotationError { step: None, error });
        }
    };
    let opts = options(opts, &plan, &rotation);
    let olds: Vec<String> = rotation
        .old_users
        .iter()
        .map(|(e, u)| format!("{u} in {e}"))
        .collect();
    let _ = writeln!(
        out,
        "rolling back rotation {} of {}: back to {} (new user {})",
        rotation.id,
        spec.label(),
        olds.join(", "),
        rotation.new_username
    );
    let outcome = runner::drive(&plan, ctx, &rotation, journal, &opts, |ev| print_event(out, ev)).await;
    let _ = match &outcome {
        RunOutcome::Done => writeln!(out, "done: rotation {} rolled back", rotation.id),
        RunOutcome::Waiting(w) => writeln!(out, "waiting: {w}"),
        RunOutcome::Failed(e) => writeln!(out, "failed: {e}"),
    };
    outcome
}

/// The journal's latest rotation, when it ended rolled back.
fn rolled_back_last(journal: &Journal) -> Option<String> {
    let entries = journal.entries().ok()?;
    let last = entries.iter().rev().find_map(|e| match e.event {
        Event::Started { .. } | Event::Adopted { .. } => Some(e.rotation.clone()),
        _ => None,
    })?;
    entries
        .iter()
        .any(|e| e.rotation == last && e.event == Event::RolledBack)
        .then_some(last)
}

/// Run options for a rollback: the drop of the new user is skipped (and
/// journalled so) unless the operator typed its name.
pub fn options(mut opts: RunOptions, plan: &Plan, rotation: &Rotation) -> RunOptions {
    for s in plan.steps.iter().filter(|s| s.kind == StepKind::DropNewUser) {
        if !opts.typed.iter().any(|t| t == &rotation.new_username) {
            opts.skip.insert(
                s.id.clone(),
                format!(
                    "{} kept, not dropped: its name was not typed to confirm the drop",
                    rotation.new_username
                ),
            );
        }
    }
    opts
}

/// One step of a rollback, as its preview shows it.
#[derive(Debug, Clone)]
pub struct PreviewedStep {
    pub step: Step,
    /// What the live systems show now (done or not, and why).
    pub observed: Result<Observation, crate::secret::Redacted>,
    /// The calls and statements it would make, masked; or why not known.
    pub preview: Result<Vec<String>, crate::secret::Redacted>,
    pub confirm: Confirm,
}

/// The whole rollback, previewed from live state; writes nothing (refused
/// as [`start`] would be).
pub async fn preview(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &Journal,
    opts: &RunOptions,
) -> Result<(Rotation, Vec<PreviewedStep>), RotationError> {
    let err = |error: StepError| RotationError { step: None, error };
    plan(spec).map_err(|e| err(StepError::Blocked(e.to_string())))?;
    let (rotation, resumed) = runner::decide(spec, ctx, journal, opts).await?;
    let rotation_plan = Plan::build(&rotation.spec).map_err(|e| err(StepError::Blocked(e.to_string())))?;
    let rollback_plan = plan(&rotation.spec).map_err(|e| err(StepError::Blocked(e.to_string())))?;
    match rollbackable(&rotation_plan, &rotation, resumed, ctx, opts)
        .await
        .map_err(err)?
    {
        Rollbackable::Possible { .. } => {}
        Rollbackable::NoRotation => return Err(err(StepError::Blocked(super::hold::NO_ROLLBACK.into()))),
        refused => return Err(err(StepError::Blocked(refused.to_string()))),
    }
    let mut out = vec![];
    for step in &rollback_plan.steps {
        let cx = StepCtx {
            ctx,
            rotation: &rotation,
            step,
            opts,
            recorder: None,
        };
        out.push(PreviewedStep {
            observed: step.observe(&cx).await.map_err(crate::secret::Redacted::error),
            preview: step.preview(&cx).await.map_err(crate::secret::Redacted::error),
            confirm: step.confirm(&rotation),
            step: step.clone(),
        });
    }
    Ok((rotation, out))
}
