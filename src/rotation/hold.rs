//! Who holds a rotation: its decisions (this laptop's journal, else the
//! rotation mark on the app secret, else new ones), each environment's
//! database advisory lock around every start and run, and the mark itself
//! (written before the first write, its heartbeat refreshed before each
//! step, cleared when the rotation ends). The runner walks the steps; this
//! file decides whose they are.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;

use super::context::{Ctx, RunOptions};
use super::journal::{Event, Journal};
use super::mark::{self, Access, RotationMark};
use super::notice::NoticeKind;
use super::operator::Operator;
use super::outcome::{RotationError, StepError};
use super::ports::{DbLock, System, within};
use super::spec::{PlanSpec, Rotation};

/// Take each environment's database lock, in the spec's order, waiting up
/// to `opts.lock_wait` for one that is held; refused naming the holder.
pub(super) async fn lock_all(
    spec: &PlanSpec,
    ctx: &Ctx,
    opts: &RunOptions,
) -> Result<Vec<DbLock>, RotationError> {
    let err = |error: StepError| RotationError { step: None, error };
    let mut held: Vec<DbLock> = vec![];
    for env in &spec.envs {
        let db = match ctx.env(env) {
            Ok(p) => p.db.clone(),
            Err(e) => {
                release(held).await;
                return Err(err(e));
            }
        };
        let key = super::ports::lock_key(env, &spec.app);
        let deadline = tokio::time::Instant::now() + opts.lock_wait;
        loop {
            match within(System::Database, opts.call_timeout, db.lock(&key)).await {
                Ok(Some(lock)) => {
                    held.push(lock);
                    break;
                }
                Ok(None) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(
                        opts.poll
                            .clamp(Duration::from_millis(50), Duration::from_millis(500)),
                    )
                    .await;
                }
                Ok(None) => {
                    release(held).await;
                    return Err(err(StepError::Held(
                        locked_text(spec, ctx, opts, env, &key).await,
                    )));
                }
                Err(e) => {
                    release(held).await;
                    return Err(err(e.into()));
                }
            }
        }
    }
    Ok(held)
}

/// How long giving the locks back may take. A server that does not answer
/// (frozen, unreachable) must not keep rotui from exiting: dropping the
/// lock's connection is a release too, once the server sees it close.
const RELEASE_WAIT: Duration = Duration::from_secs(3);

pub(super) async fn release(locks: Vec<DbLock>) {
    let all = async {
        for l in locks {
            l.release().await;
        }
    };
    if tokio::time::timeout(RELEASE_WAIT, all).await.is_err() {
        tracing::warn!("the database did not answer the lock's release; its connection was dropped instead");
    }
}

/// Why a lock could not be had: whose rotation is running, from the mark.
async fn locked_text(spec: &PlanSpec, ctx: &Ctx, opts: &RunOptions, env: &str, key: &str) -> String {
    let lock = format!("the database lock {key} in {env} is taken");
    match read_mark(spec, ctx, opts).await {
        Ok(Some(m)) => format!(
            "rotation {} of {} is {}, and its rotui is running now ({lock}): watch it in the \
             dashboard (`rotui`), or run again once it stops",
            m.rotation_id,
            m.spec.label(),
            m.held_text()
        ),
        _ => format!(
            "another rotui is starting or running a rotation of {} ({lock}): watch it in the \
             dashboard (`rotui`), or try again shortly",
            spec.label()
        ),
    }
}

/// The mark on the first environment's app secret.
pub(super) async fn read_mark(
    spec: &PlanSpec,
    ctx: &Ctx,
    opts: &RunOptions,
) -> Result<Option<RotationMark>, StepError> {
    let env = spec
        .envs
        .first()
        .ok_or_else(|| StepError::NoEnvironment("(none)".into()))?;
    let secrets = &ctx.env(env)?.secrets;
    Ok(within(System::SecretsManager, opts.call_timeout, secrets.rotation_mark()).await?)
}

/// The rotation mark on `spec`'s first environment's app secret, if any.
pub async fn mark_of(
    spec: &PlanSpec,
    ctx: &Ctx,
    opts: &RunOptions,
) -> Result<Option<RotationMark>, RotationError> {
    read_mark(spec, ctx, opts)
        .await
        .map_err(|error| RotationError { step: None, error })
}

/// Write `mark` on every environment's app secret.
pub(super) async fn write_marks(
    spec: &PlanSpec,
    ctx: &Ctx,
    mark: &RotationMark,
    opts: &RunOptions,
) -> Result<(), StepError> {
    for env in &spec.envs {
        let secrets = &ctx.env(env)?.secrets;
        within(
            System::SecretsManager,
            opts.call_timeout,
            secrets.set_rotation_mark(mark),
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn clear_marks(
    spec: &PlanSpec,
    ctx: &Ctx,
    rotation_id: &str,
    opts: &RunOptions,
) -> Result<(), StepError> {
    for env in &spec.envs {
        let secrets = &ctx.env(env)?.secrets;
        within(
            System::SecretsManager,
            opts.call_timeout,
            secrets.clear_rotation_mark(rotation_id),
        )
        .await?;
    }
    Ok(())
}

/// Under the locks: the mark must be this rotation's and this operator's
/// (a rotation without one gets it); its heartbeat is refreshed.
pub(super) async fn claim(
    spec: &PlanSpec,
    ctx: &Ctx,
    rotation: &Rotation,
    opts: &RunOptions,
) -> Result<RotationMark, StepError> {
    let me = opts.holder();
    let now = Utc::now();
    let mark = match read_mark(spec, ctx, opts).await? {
        Some(m) if m.rotation_id != rotation.id => {
            return Err(StepError::Held(format!(
                "rotation {} of {} is {}, not rotation {}: resume that one (`rotui rotate`), or watch it \
                 in the dashboard (`rotui`)",
                m.rotation_id,
                m.spec.label(),
                m.held_text(),
                rotation.id
            )));
        }
        Some(m) => match mark::access(Some(&m), &me, false, now) {
            Access::Refused(why) => return Err(StepError::Held(why)),
            _ => RotationMark { heartbeat: now, ..m },
        },
        None => {
            let arn = caller_arn(spec, ctx, opts).await;
            RotationMark::new(rotation, &me, &arn, now)
        }
    };
    write_marks(spec, ctx, &mark, opts).await?;
    Ok(mark)
}

/// The OS user and each environment's AWS caller identity.
pub(super) async fn identify(spec: &PlanSpec, ctx: &Ctx, limit: Duration) -> Operator {
    let mut aws = BTreeMap::new();
    for env in &spec.envs {
        let who = match ctx.env(env) {
            Ok(p) => match within(System::SecretsManager, limit, p.secrets.caller_identity()).await {
                Ok(arn) => arn,
                Err(e) => format!("unknown ({e})"),
            },
            Err(e) => format!("unknown ({e})"),
        };
        aws.insert(env.clone(), who);
    }
    Operator {
        os_user: Operator::os_user(),
        aws,
        host: super::operator::host(),
    }
}

/// The first environment's AWS caller identity, or why it is unknown.
async fn caller_arn(spec: &PlanSpec, ctx: &Ctx, opts: &RunOptions) -> String {
    let Some(Ok(p)) = spec.envs.first().map(|e| ctx.env(e)) else {
        return String::new();
    };
    within(
        System::SecretsManager,
        opts.call_timeout,
        p.secrets.caller_identity(),
    )
    .await
    .unwrap_or_else(|_| "unknown".into())
}

/// The holder's sign of life, before each step (best effort: a missed
/// heartbeat only makes the rotation look idle sooner).
pub(super) async fn heartbeat(spec: &PlanSpec, ctx: &Ctx, mark: &mut RotationMark, opts: &RunOptions) {
    mark.heartbeat = Utc::now();
    if let Err(e) = write_marks(spec, ctx, mark, opts).await {
        tracing::warn!(error = %e, "could not refresh the rotation mark's heartbeat");
    }
}

/// Where a rotation's decisions came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// This laptop's journal.
    Journal,
    /// The rotation mark on the app secret: begun elsewhere.
    Mark(Box<RotationMark>),
    /// Decided now: a new rotation.
    New,
}

/// The decisions for a rotation of `spec`: the unfinished one in the journal,
/// else the one the rotation mark names (begun on another laptop), or new
/// ones read from the live systems (old users from each environment's
/// AWSCURRENT, a dated new username free in every environment). A mark of
/// another rotation than the journal's wins: the systems are the truth.
/// Writes nothing.
pub async fn decide(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &Journal,
    opts: &RunOptions,
) -> Result<(Rotation, bool), RotationError> {
    let (rotation, source) = decide_from(spec, ctx, journal, opts).await?;
    Ok((rotation, source != Source::New))
}

/// [`decide`], saying where the decisions came from.
pub async fn decide_from(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &Journal,
    opts: &RunOptions,
) -> Result<(Rotation, Source), RotationError> {
    let err = |error: StepError| RotationError { step: None, error };
    let journalled = journal
        .unfinished()
        .map_err(|e| err(StepError::Journal(e.to_string())))?;
    let mark = read_mark(spec, ctx, opts).await.map_err(err)?;
    if let Some(r) = journalled
        && mark.as_ref().is_none_or(|m| m.rotation_id == r.id)
    {
        if !r.spec.same_run(spec) {
            return Err(err(StepError::Blocked(format!(
                "rotation {} of {} is unfinished: resume it with the same environments and mode, or finish it first",
                r.id,
                r.spec.label()
            ))));
        }
        return Ok((r, Source::Journal));
    }
    if let Some(m) = mark {
        if !m.spec.same_run(spec) {
            return Err(err(StepError::Blocked(format!(
                "rotation {} of {} ({}) is unfinished: resume it with the same environments and mode, \
                 or finish it first",
                m.rotation_id,
                m.spec.label(),
                m.held_text()
            ))));
        }
        return Ok((m.rotation(), Source::Mark(Box::new(m))));
    }
    let t = opts.call_timeout;
    let mut old_users = BTreeMap::new();
    for env in &spec.envs {
        let ports = ctx.env(env).map_err(err)?;
        let current = super::ports::within(System::SecretsManager, t, ports.secrets.current())
            .await
            .map_err(|e| err(e.into()))?;
        old_users.insert(env.clone(), current.username);
    }
    let today = chrono::Utc::now().date_naive();
    // Never a name an earlier rotation used, even of a user dropped since:
    // the secrets' version histories remember every one.
    let mut taken: BTreeSet<String> = old_users.values().cloned().collect();
    for env in &spec.envs {
        let ports = ctx.env(env).map_err(err)?;
        let past = super::ports::within(System::SecretsManager, t, ports.secrets.past_usernames())
            .await
            .map_err(|e| err(e.into()))?;
        taken.extend(past);
    }
    // Built on the old user's name (the target environment's), not the app's.
    let old = spec.envs.first().and_then(|e| old_users.get(e));
    let base = crate::target::username_base(old.map(String::as_str), &spec.app);
    let new_username = loop {
        let candidate = crate::target::new_username(base, spec.engine, today, |n| taken.contains(n));
        let mut free = true;
        for env in &spec.envs {
            let db = &ctx.env(env).map_err(err)?.db;
            let found = super::ports::within(System::Database, t, db.user(&candidate))
                .await
                .map_err(|e| err(e.into()))?;
            free &= found.is_none();
        }
        if free {
            break candidate;
        }
        taken.insert(candidate);
    };
    let id = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    Ok((
        Rotation {
            id,
            spec: spec.clone(),
            old_users,
            new_username,
        },
        Source::New,
    ))
}

/// Start a rotation or resume the unfinished one (from the journal, or from
/// the rotation mark when it began elsewhere), under every environment's
/// database lock: the mark is written on every environment's app secret
/// (holder, heartbeat) before anything else, and the journal records the
/// start, the resume, the pick-up from the mark or the take-over, with who.
/// Refused ([`StepError::Held`]) when another operator holds the rotation
/// and may not be taken over.
pub async fn start_or_resume(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &Journal,
    opts: &RunOptions,
) -> Result<Rotation, RotationError> {
    hold(spec, ctx, journal, opts, Purpose::Rotate).await
}

/// What a run takes hold of a rotation for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Forward: start a rotation, or resume one (not one being rolled back).
    Rotate,
    /// Back: only an unfinished rotation, never a new one.
    Rollback,
}

/// [`start_or_resume`] for `purpose`: the same locks, mark and holder rule.
pub async fn hold(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &Journal,
    opts: &RunOptions,
    purpose: Purpose,
) -> Result<Rotation, RotationError> {
    let locks = lock_all(spec, ctx, opts).await?;
    let begun = begin(spec, ctx, journal, opts, purpose).await;
    release(locks).await;
    begun
}

/// A rollback with no rotation under way: why, and what to do instead.
pub(super) const NO_ROLLBACK: &str = "no rollback: no rotation under way (a finished rotation's old user \
     is gone; `rotui journal` shows how each ended, `rotui rotate` starts a new one)";

async fn begin(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &Journal,
    opts: &RunOptions,
    purpose: Purpose,
) -> Result<Rotation, RotationError> {
    let err = |error: StepError| RotationError { step: None, error };
    let (rotation, source) = decide_from(spec, ctx, journal, opts).await?;
    if purpose == Purpose::Rollback && source == Source::New {
        return Err(err(StepError::Blocked(NO_ROLLBACK.into())));
    }
    if purpose == Purpose::Rotate && source == Source::New {
        refuse_before_the_mark(ctx, &rotation, opts).await?;
    }
    if purpose == Purpose::Rotate
        && matches!(source, Source::Journal)
        && journal.rolling_back(&rotation.id).unwrap_or(false)
    {
        return Err(err(StepError::Blocked(format!(
            "rotation {} is being rolled back: finish that with `rotui rollback`, then rotate afresh",
            rotation.id
        ))));
    }
    let operator = identify(spec, ctx, opts.call_timeout).await;
    let arn = spec
        .envs
        .first()
        .and_then(|e| operator.aws.get(e))
        .cloned()
        .unwrap_or_default();
    let me = opts.holder();
    let now = Utc::now();
    // The mark as it stands (this rotation's, if any: decide chose it).
    let marked = match &source {
        Source::Mark(m) => Some((**m).clone()),
        Source::Journal => read_mark(spec, ctx, opts)
            .await
            .map_err(err)?
            .filter(|m| m.rotation_id == rotation.id),
        Source::New => None,
    };
    let mut events = vec![];
    if let Source::Mark(m) = &source {
        events.push(Event::Adopted {
            decisions: rotation.clone(),
            operator: operator.clone(),
            started_by: m.holder.clone(),
            started: m.started,
        });
    }
    let mark = match mark::access(marked.as_ref(), &me, opts.take_over, now) {
        Access::Refused(why) => return Err(err(StepError::Held(why))),
        Access::TakeOver => {
            let m = marked.expect("a take-over has a mark");
            events.push(Event::TakenOver {
                from: m.holder.clone(),
                last_active: m.heartbeat,
                operator: operator.clone(),
            });
            RotationMark {
                holder: me,
                holder_arn: arn,
                since: now,
                heartbeat: now,
                taken_over_from: Some(m.holder.clone()),
                ..m
            }
        }
        Access::Own => match marked {
            Some(m) => RotationMark {
                holder_arn: arn,
                heartbeat: now,
                ..m
            },
            None => RotationMark::new(&rotation, &me, &arn, now),
        },
    };
    match source {
        Source::New => events.push(Event::Started {
            decisions: rotation.clone(),
            operator,
        }),
        Source::Journal => events.push(Event::Resumed { operator }),
        Source::Mark(_) => {}
    }
    // Before the first write of the rotation: the team sees it under way.
    write_marks(spec, ctx, &mark, opts).await.map_err(err)?;
    let started = events.iter().any(|e| matches!(e, Event::Started { .. }));
    for event in events {
        journal
            .append(&rotation.id, event)
            .map_err(|e| err(StepError::Journal(e.to_string())))?;
    }
    if started {
        opts.notify(NoticeKind::Started, &rotation, None, "");
    }
    Ok(rotation)
}

/// A new rotation that its first step already refuses (the data sync names
/// the login it would drop, say) is refused here, before the rotation mark
/// or anything else is written: nothing is left to clean up, and a run
/// after the estate is changed starts it afresh.
async fn refuse_before_the_mark(
    ctx: &Ctx,
    rotation: &Rotation,
    opts: &RunOptions,
) -> Result<(), RotationError> {
    let plan = super::plan::Plan::build(&rotation.spec).map_err(|e| RotationError {
        step: None,
        error: StepError::Blocked(e.to_string()),
    })?;
    let Some(first) = plan.steps.first() else {
        return Ok(());
    };
    let cx = super::context::StepCtx {
        ctx,
        rotation,
        step: first,
        opts,
        recorder: None,
    };
    match first.observe(&cx).await {
        Ok(super::outcome::Observation::Blocked(why)) => Err(RotationError {
            step: Some(first.id.clone()),
            error: StepError::Blocked(why),
        }),
        // Anything else is the run's to find and say, as it always has.
        _ => Ok(()),
    }
}
