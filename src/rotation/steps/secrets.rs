//! The app's secret: the new credentials go in as AWSPENDING first and are
//! promoted to AWSCURRENT only after a fresh, successful login test.

use super::super::context::StepCtx;
use super::super::interlock::InterlockKind;
use super::super::outcome::{Applied, Observation, StepError, StepResult};
use super::super::ports::{AppCredentials, PortErrorKind, System};
use super::blast;
use crate::secret::{self, MASK};

/// The credentials Secrets Manager holds for the new user in `env`: the
/// pending version, or the current one once promoted.
pub(super) async fn new_credentials(cx: &StepCtx<'_>, env: &str) -> StepResult<Option<AppCredentials>> {
    let secrets = &cx.ports_of(env)?.secrets;
    let new = &cx.rotation.new_username;
    if let Some(p) = cx.read(System::SecretsManager, secrets.pending()).await?
        && &p.username == new
    {
        return Ok(Some(p));
    }
    let c = cx.read(System::SecretsManager, secrets.current()).await?;
    Ok((&c.username == new).then_some(c))
}

pub(super) async fn observe_pending(cx: &StepCtx<'_>) -> StepResult<Observation> {
    Ok(match new_credentials(cx, &cx.step.env).await? {
        Some(_) => Observation::Done(format!(
            "Secrets Manager holds credentials for {}",
            cx.rotation.new_username
        )),
        None => Observation::NotDone(format!(
            "no secret version names {} yet",
            cx.rotation.new_username
        )),
    })
}

pub(super) fn preview_pending(cx: &StepCtx<'_>, source: Option<&str>) -> StepResult<Vec<String>> {
    let t = &cx.ports()?.target;
    let from = match source {
        None => "a new 32-character password".to_owned(),
        Some(s) => format!("the password {s} holds for the new user"),
    };
    Ok(vec![format!(
        "PutSecretValue {} (stage AWSPENDING): username={}, password={MASK} ({from}); other keys kept",
        t.app_secret, cx.rotation.new_username
    )])
}

pub(super) async fn store_pending(cx: &StepCtx<'_>, source: Option<&str>) -> StepResult<Applied> {
    let password = match source {
        None => secret::generate_password(),
        Some(s) => match new_credentials(cx, s).await? {
            Some(c) => c.password,
            None => {
                return Err(StepError::Blocked(format!(
                    "{s} holds no credentials for {} yet: run {s} first",
                    cx.rotation.new_username
                )));
            }
        },
    };
    let ports = cx.ports()?;
    let desc = preview_pending(cx, source)?.remove(0);
    cx.write(
        System::SecretsManager,
        &desc,
        ports
            .secrets
            .put_pending(&cx.rotation.id, &cx.rotation.new_username, &password),
    )
    .await?;
    Ok(Applied::Done)
}

pub(super) async fn observe_promoted(cx: &StepCtx<'_>) -> StepResult<Observation> {
    let secrets = &cx.ports()?.secrets;
    let c = cx.read(System::SecretsManager, secrets.current()).await?;
    Ok(if c.username == cx.rotation.new_username {
        if cx
            .read(System::SecretsManager, secrets.pending_on_current())
            .await?
        {
            Observation::NotDone(format!(
                "AWSCURRENT names {}, and AWSPENDING is still on it: the promotion was interrupted",
                c.username
            ))
        } else {
            Observation::Done(format!("AWSCURRENT names {}", c.username))
        }
    } else {
        Observation::NotDone(format!("AWSCURRENT still names {}", c.username))
    })
}

fn promote_call(cx: &StepCtx<'_>) -> StepResult<String> {
    Ok(format!(
        "UpdateSecretVersionStage {}: AWSCURRENT -> the AWSPENDING version (the old one becomes AWSPREVIOUS)",
        cx.ports()?.target.app_secret
    ))
}

pub(super) async fn preview_promote(cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    let mut lines = vec![
        format!(
            "-- log in as {} with the AWSPENDING password (again, just before promoting)",
            cx.rotation.new_username
        ),
        promote_call(cx)?,
    ];
    lines.extend(blast::preview(cx).await?);
    Ok(lines)
}

/// Interlock: never promote a secret whose login test fails — tested again
/// here, right before the switch, whatever earlier steps reported.
pub(super) async fn promote(cx: &StepCtx<'_>) -> StepResult<Applied> {
    let ports = cx.ports()?;
    let new = &cx.rotation.new_username;
    let desc = promote_call(cx)?;
    // Interrupted after AWSCURRENT moved: only AWSPENDING is left to take off.
    if cx
        .read(System::SecretsManager, ports.secrets.current())
        .await?
        .username
        == *new
    {
        cx.write(System::SecretsManager, &desc, ports.secrets.promote_pending())
            .await?;
        return Ok(Applied::Done);
    }
    let pending = cx
        .read(System::SecretsManager, ports.secrets.pending())
        .await?
        .filter(|p| &p.username == new)
        .ok_or_else(|| {
            StepError::interlock(
                InterlockKind::NoPendingPassword,
                format!("no AWSPENDING version names {new}: nothing to promote"),
            )
        })?;
    match cx
        .read(System::Database, ports.db.test_login(new, &pending.password))
        .await
    {
        Ok(()) => {}
        Err(StepError::Port(e))
            if e.kind == PortErrorKind::BadPassword || e.kind == PortErrorKind::NotFound =>
        {
            return Err(StepError::interlock(
                InterlockKind::LoginFails { system: e.system },
                format!("{new} cannot log in with the pending password ({e}); not promoting"),
            ));
        }
        Err(StepError::Port(e)) => {
            return Err(StepError::interlock(
                InterlockKind::LoginUntested { system: e.system },
                format!("could not test {new}'s login ({e}); not promoting"),
            ));
        }
        Err(e) => return Err(e),
    }
    // The failed logins before the switch (after the test login, which
    // must not count as one): what the report counts from.
    super::cluster::sample_failed_logins(cx, true, &mut None).await?;
    cx.write(System::SecretsManager, &desc, ports.secrets.promote_pending())
        .await?;
    Ok(Applied::Done)
}
