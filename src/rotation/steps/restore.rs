//! The wait for a nightly restore, observed: a restored environment's
//! database is re-created by each restore (PostgreSQL: a new
//! `pg_database.oid`), so the wait records the database's identity when it
//! first runs — once the source has switched and drained — on the rotation
//! mark (any laptop resuming sees it) and in the journal, and is done once
//! the identity differs: that database was restored after the switch. A
//! role appearing proves nothing (pg_dump copies no roles).

use super::super::context::StepCtx;
use super::super::hold::read_mark;
use super::super::mark::ABSENT;
use super::super::outcome::{Applied, Observation, StepError, StepResult, Wait};
use super::super::ports::{RestoreOutcome, RestoreRun, System};
use crate::target::EnvName;

/// This rotation's baseline for the step's environment, from the live mark.
async fn baseline(cx: &StepCtx<'_>) -> StepResult<Option<String>> {
    let mark = read_mark(&cx.rotation.spec, cx.ctx, cx.opts).await?;
    Ok(mark
        .filter(|m| m.rotation_id == cx.rotation.id)
        .and_then(|m| m.restore_baselines.get(&cx.step.env).cloned()))
}

/// The database's identity now ([`ABSENT`] while it does not exist).
async fn identity(cx: &StepCtx<'_>) -> StepResult<String> {
    let db = &cx.ports()?.db;
    Ok(cx
        .read(System::Database, db.database_incarnation())
        .await?
        .unwrap_or_else(|| ABSENT.to_owned()))
}

fn database(cx: &StepCtx<'_>) -> StepResult<String> {
    Ok(format!("{}'s {}", cx.step.env, cx.ports()?.target.database))
}

pub(super) async fn observe_wait(cx: &StepCtx<'_>, from: &str) -> StepResult<Observation> {
    let db = database(cx)?;
    // Past the wait already (the mark and its baseline go when the rotation ends).
    let secrets = &cx.ports()?.secrets;
    let current = cx.read(System::SecretsManager, secrets.current()).await?;
    if current.username == cx.rotation.new_username {
        return Ok(Observation::Done(format!(
            "{} uses {} already: the restore was awaited",
            cx.step.env, cx.rotation.new_username
        )));
    }
    let now = identity(cx).await?;
    let runs = restore_runs(cx).await;
    let jobs = if runs.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            runs.iter()
                .map(RestoreRun::describe)
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    Ok(match baseline(cx).await? {
        None => Observation::NotDone(format!(
            "{db} ({now}) has no baseline yet: the step records it on the rotation mark, then waits \
             for the nightly restore from {from} to re-create the database"
        )),
        Some(_) if now == ABSENT => {
            Observation::NotDone(format!("{db} does not exist right now: a restore is under way"))
        }
        Some(b) if b == now => Observation::NotDone(format!(
            "{db} was last re-created before {from}'s switch ({now}); waiting for the nightly restore{jobs}"
        )),
        // Swapped; the job goes on after the swap (the owner, transforms,
        // a backup), and only its success says the copy is whole.
        Some(b) => match runs.iter().find_map(|r| r.last.as_ref().map(|l| (r, l))) {
            Some((_, (job, RestoreOutcome::Running))) => Observation::NotDone(format!(
                "{db} was swapped by a restore after {from}'s switch ({b} then, {now} now); \
                 waiting for its job {job} to finish"
            )),
            Some((r, (job, RestoreOutcome::Failed(why)))) => Observation::NotDone(format!(
                "{db} was swapped by a restore after {from}'s switch ({b} then, {now} now), but its \
                 job {job} failed: {why}. Waiting for a run that succeeds ({}): see the job's logs \
                 (kubectl logs job/{job} --all-containers), fix the cause, and run the CronJob again \
                 (kubectl create job --from=cronjob/{} …)",
                r.describe(),
                r.cronjob
            )),
            _ => Observation::Done(format!(
                "{db} was re-created by a restore after {from}'s switch ({b} then, {now} now){jobs}"
            )),
        },
    })
}

/// The restore jobs of the step's environment; none where the cluster
/// cannot say (the wait then goes by the database's identity alone).
async fn restore_runs(cx: &StepCtx<'_>) -> Vec<RestoreRun> {
    let Ok(ports) = cx.ports() else { return vec![] };
    cx.read(System::Kubernetes, ports.cluster.restore_runs())
        .await
        .unwrap_or_default()
}

pub(super) async fn preview_wait(cx: &StepCtx<'_>, from: &str) -> StepResult<Vec<String>> {
    let db = database(cx)?;
    let mut out = vec![format!(
        "-- read only: {db}'s identity (pg_database.oid), against the one recorded once {from} had switched"
    )];
    if baseline(cx).await?.is_none() {
        out.push(format!(
            "-- record it: tag {}{} on the app secret of {}",
            "rotui:restore-baseline:",
            cx.step.env,
            cx.rotation.spec.envs.join(", ")
        ));
    }
    Ok(out)
}

/// Record the baseline when there is none yet, then wait for the night.
pub(super) async fn wait(cx: &StepCtx<'_>, from: &str) -> StepResult<Applied> {
    if baseline(cx).await?.is_none() {
        let now = identity(cx).await?;
        let spec = &cx.rotation.spec;
        let mut mark = read_mark(spec, cx.ctx, cx.opts)
            .await?
            .filter(|m| m.rotation_id == cx.rotation.id)
            .ok_or_else(|| {
                StepError::Blocked(format!(
                    "rotation {} has no mark on the app secret to record {}'s restore baseline on: \
                     run it with `rotui rotate`",
                    cx.rotation.id, cx.step.env
                ))
            })?;
        mark.restore_baselines.insert(cx.step.env.clone(), now.clone());
        for env in &spec.envs {
            let secrets = &cx.ports_of(env)?.secrets;
            let what = format!(
                "tag {env}'s app secret rotui:restore-baseline:{}={now} ({} before any restore after {from}'s switch)",
                cx.step.env,
                database(cx)?
            );
            cx.write(System::SecretsManager, &what, secrets.set_rotation_mark(&mark))
                .await?;
        }
    }
    Ok(Applied::Waiting(Wait::Overnight {
        env: cx.step.env.clone(),
        from: EnvName::from(from),
    }))
}

/// The data sync's interlock: a restore in any environment of this rotation
/// whose run names the login the rotation drops there (its `DB_OWNER`, a
/// transform re-owning to it) would fail after its swap once that login is
/// gone, every night after. So the plan's first step refuses until the
/// estate is changed, and says how; once the cluster shows the change, the
/// step goes on. `Ok(Err(notes))`: nothing names a login, with the
/// environments whose sync could not be read (said, not refused).
pub(super) async fn sync_blockers(cx: &StepCtx<'_>) -> StepResult<Result<Vec<String>, String>> {
    let mut blocks = vec![];
    let mut notes = vec![];
    for env in cx.ctx.env_names() {
        let login = cx.rotation.old_user(env);
        let ports = cx.ports_of(env)?;
        let names = match cx
            .read(System::Kubernetes, ports.cluster.sync_naming(login))
            .await
        {
            Ok(names) => names,
            Err(e) => {
                notes.push(format!("{env}'s data sync was not read ({e})"));
                continue;
            }
        };
        if names.is_empty() {
            continue;
        }
        let owner = &ports.target.owner_role;
        let keys: std::collections::BTreeSet<&str> = names.iter().map(|n| n.values_key.as_str()).collect();
        let changes: Vec<String> = keys.iter().map(|key| format!("cronjobs.{env}.{key}")).collect();
        let what: Vec<String> = names
            .iter()
            .map(|n| format!("{} {}", n.cronjob, n.what))
            .collect();
        blocks.push(format!(
            "{env}'s data sync names {login}, which this rotation drops: {}. Once {login} is gone \
             that restore fails after its swap. Change it first, in govuk-helm-charts \
             charts/db-backup/values.yaml at {}: set DB_OWNER to \"{owner}\" in extraEnv and make \
             any transform re-own to \"{owner}\" instead of \"{login}\"; once the cluster shows it, \
             run this step again",
            what.join("; "),
            changes.join(", "),
        ));
    }
    Ok(if blocks.is_empty() {
        Err(notes.join("; "))
    } else {
        Ok(blocks)
    })
}
