//! A rollback's own steps: the secret back on the old user's version, and
//! the new user dropped once nothing uses it. (Its sync, Secret check and rollout are
//! the cluster steps, expecting the old credentials.)

use tokio::time::Instant;

use super::super::context::StepCtx;
use super::super::interlock::InterlockKind;
use super::super::outcome::{Applied, Observation, StepError, StepResult, Wait};
use super::super::ports::{PortErrorKind, System};
use super::super::step::{Step, StepKind};
use crate::db::Statement;

struct Names<'a> {
    old: &'a str,
    new: &'a str,
    owner: &'a str,
}

fn names<'a>(step: &Step, cx: &'a StepCtx<'a>) -> StepResult<Names<'a>> {
    Ok(Names {
        old: cx.rotation.old_user(&step.env),
        new: &cx.rotation.new_username,
        owner: &cx.ports()?.target.owner_role,
    })
}

pub(super) async fn observe(step: &Step, cx: &StepCtx<'_>) -> StepResult<Observation> {
    let n = names(step, cx)?;
    let ports = cx.ports()?;
    match &step.kind {
        StepKind::RestoreSecret => {
            if cx.read(System::Database, ports.db.user(n.old)).await?.is_none() {
                return Ok(Observation::Blocked(format!(
                    "no rollback: {} was dropped in {}",
                    n.old, step.env
                )));
            }
            let current = cx.read(System::SecretsManager, ports.secrets.current()).await?;
            if current.username != n.old {
                return Ok(Observation::NotDone(format!(
                    "AWSCURRENT names {}, not {}",
                    current.username, n.old
                )));
            }
            if let Some(p) = cx.read(System::SecretsManager, ports.secrets.pending()).await?
                && p.username != n.old
            {
                return Ok(Observation::NotDone(format!(
                    "AWSCURRENT names {}; AWSPENDING still holds {}",
                    n.old, p.username
                )));
            }
            // The credentials the app goes back to must work.
            match cx
                .read(System::Database, ports.db.test_login(n.old, &current.password))
                .await
            {
                Ok(()) => Ok(Observation::Done(format!(
                    "AWSCURRENT names {} and logs in; nothing pending",
                    n.old
                ))),
                Err(StepError::Port(e))
                    if matches!(e.kind, PortErrorKind::BadPassword | PortErrorKind::NotFound) =>
                {
                    Ok(Observation::Blocked(format!(
                        "AWSCURRENT names {} but cannot log in ({e}): fix the password by hand",
                        n.old
                    )))
                }
                Err(e) => Err(e),
            }
        }
        StepKind::DropNewUser => match cx.read(System::Database, ports.db.user(n.new)).await? {
            None => Ok(Observation::Done(format!("{} does not exist", n.new))),
            Some(_) => {
                let live = cx.read(System::Database, ports.db.connections(n.new)).await?;
                Ok(Observation::NotDone(format!(
                    "{} exists ({live} connections)",
                    n.new
                )))
            }
        },
        other => unreachable!("{other:?} is not a rollback step of its own"),
    }
}

pub(super) async fn preview(step: &Step, cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    let n = names(step, cx)?;
    let ports = cx.ports()?;
    let secret = &ports.target.app_secret;
    match &step.kind {
        StepKind::RestoreSecret => {
            let current = cx.read(System::SecretsManager, ports.secrets.current()).await?;
            let pending = cx.read(System::SecretsManager, ports.secrets.pending()).await?;
            let mut out = vec![];
            if current.username != n.old {
                out.push(format!(
                    "UpdateSecretVersionStage {secret}: AWSCURRENT moves back to the AWSPREVIOUS version ({}), \
                     off {}'s version",
                    n.old, current.username
                ));
            }
            if let Some(p) = pending.filter(|p| p.username != n.old) {
                out.push(format!(
                    "UpdateSecretVersionStage {secret}: AWSPENDING removed from {}'s version",
                    p.username
                ));
            }
            if out.is_empty() {
                out.push(format!(
                    "-- nothing to change: AWSCURRENT names {} and nothing is pending",
                    n.old
                ));
            }
            out.push(format!(
                "-- then log in as {} with the AWSCURRENT password (read only)",
                n.old
            ));
            out.push(ports.db.rollback_note(n.old, n.owner));
            Ok(out)
        }
        StepKind::DropNewUser => {
            let mut out = vec![format!(
                "-- first checks: AWSCURRENT and AWSPENDING do not name {}, and it has no connections \
                 (waits up to {} s)",
                n.new,
                cx.opts.drain_timeout.as_secs()
            )];
            let drop = cx
                .read(System::Database, ports.db.drop_user(n.new, n.owner))
                .await?;
            out.extend(drop.iter().map(Statement::preview));
            Ok(out)
        }
        other => unreachable!("{other:?} is not a rollback step of its own"),
    }
}

pub(super) async fn apply(step: &Step, cx: &StepCtx<'_>) -> StepResult<Applied> {
    let n = names(step, cx)?;
    let ports = cx.ports()?;
    match &step.kind {
        StepKind::RestoreSecret => {
            if let Observation::Blocked(why) = observe(step, cx).await? {
                return Err(StepError::Blocked(why));
            }
            let desc = preview(step, cx)
                .await?
                .into_iter()
                .filter(|l| !l.starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            cx.write(
                System::SecretsManager,
                &desc,
                ports.secrets.restore_previous(n.old),
            )
            .await?;
            Ok(Applied::Done)
        }
        StepKind::DropNewUser => drop_new_user(cx, &n).await,
        // A check: observe said not done, and applying cannot change that.
        _ => match step.observe(cx).await? {
            Observation::Done(_) => Ok(Applied::Done),
            Observation::NotDone(why) | Observation::Blocked(why) => Err(StepError::Blocked(why)),
        },
    }
}

async fn drop_new_user(cx: &StepCtx<'_>, n: &Names<'_>) -> StepResult<Applied> {
    let ports = cx.ports()?;
    let env = &cx.step.env;
    // Never drop a user the app may be told to use.
    let current = cx.read(System::SecretsManager, ports.secrets.current()).await?;
    let pending = cx.read(System::SecretsManager, ports.secrets.pending()).await?;
    if current.username == n.new || pending.is_some_and(|p| p.username == n.new) {
        return Err(StepError::interlock(
            InterlockKind::SecretStillNamesUser,
            format!("{env}'s secret still names {}: roll the secret back first", n.new),
        ));
    }
    let lost = cx
        .read(System::Database, ports.db.objects_lost_on_drop(n.new))
        .await?;
    if !lost.is_empty() {
        return Err(StepError::interlock(
            InterlockKind::ObjectsWouldBeLost,
            format!(
                "{} {} {} objects: move them to the admin before dropping it",
                n.new,
                ports.db.objects_verb(),
                lost.len()
            ),
        ));
    }
    // The app's last pods on the new user may still be going away.
    let deadline = Instant::now() + cx.opts.drain_timeout;
    loop {
        let live = cx.read(System::Database, ports.db.connections(n.new)).await?;
        if live == 0 {
            break;
        }
        if Instant::now() >= deadline {
            return Ok(Applied::Waiting(Wait::Drain {
                env: env.clone(),
                user: n.new.to_owned(),
                detail: format!("{} still has {live} connections", n.new),
            }));
        }
        tokio::time::sleep(cx.opts.poll).await;
    }
    let drop = cx
        .read(System::Database, ports.db.drop_user(n.new, n.owner))
        .await?;
    cx.execute(&drop).await?;
    Ok(Applied::Done)
}
