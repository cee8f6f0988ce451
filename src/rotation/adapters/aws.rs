//! [`SecretsPort`] on `crate::aws`: the app secret's staged update.

use crate::aws::{
    AWSCURRENT, AWSPREVIOUS, AppSecret, AwsError, AwsErrorKind, AwsSession, SecretsManager, VersionRef,
};
use crate::fault;
use crate::rotation::mark::TAG_PREFIX;
use crate::rotation::ports::{
    AppCredentials, PortError, PortErrorKind, PortFuture, RotationMark, SecretsPort, System,
};
use crate::secret::SecretString;

/// One environment's app secret, through the operator's AWS session.
#[derive(Clone)]
pub struct AwsSecrets {
    session: AwsSession,
    secrets: SecretsManager,
    secret_id: String,
}

impl AwsSecrets {
    pub fn new(session: AwsSession, secret_id: impl Into<String>) -> Self {
        AwsSecrets {
            secrets: session.secrets(),
            session,
            secret_id: secret_id.into(),
        }
    }
}

impl From<AwsError> for PortError {
    fn from(e: AwsError) -> Self {
        let kind = match e.kind {
            AwsErrorKind::NotFound => PortErrorKind::NotFound,
            AwsErrorKind::AccessDenied | AwsErrorKind::ExpiredSession => PortErrorKind::Denied,
            AwsErrorKind::Network => PortErrorKind::Unreachable,
            AwsErrorKind::Invalid => PortErrorKind::Invalid,
            AwsErrorKind::Other => PortErrorKind::Other,
        };
        let mut p = PortError::new(System::SecretsManager, kind, &e.message);
        p.hint = e.hint.map(|h| crate::secret::redact(&h));
        p
    }
}

fn creds(s: AppSecret) -> AppCredentials {
    AppCredentials {
        username: s.username,
        password: s.password,
    }
}

impl SecretsPort for AwsSecrets {
    fn caller_identity(&self) -> PortFuture<'_, String> {
        Box::pin(async move { Ok(self.session.caller_identity().await?.arn) })
    }

    fn current(&self) -> PortFuture<'_, AppCredentials> {
        Box::pin(async move { Ok(creds(self.secrets.app_secret(&self.secret_id).await?)) })
    }

    fn pending(&self) -> PortFuture<'_, Option<AppCredentials>> {
        Box::pin(async move {
            // AWS leaves AWSPENDING on a promoted version; that one is current, not pending.
            Ok(self
                .secrets
                .pending(&self.secret_id)
                .await?
                .filter(|v| !v.stages.iter().any(|s| s == AWSCURRENT))
                .map(creds))
        })
    }

    fn pending_on_current(&self) -> PortFuture<'_, bool> {
        Box::pin(async move {
            Ok(self
                .secrets
                .pending(&self.secret_id)
                .await?
                .is_some_and(|v| v.stages.iter().any(|s| s == AWSCURRENT)))
        })
    }

    fn put_pending<'a>(
        &'a self,
        rotation_id: &'a str,
        username: &'a str,
        password: &'a SecretString,
    ) -> PortFuture<'a, ()> {
        Box::pin(async move {
            let put = self
                .secrets
                .put_pending(&self.secret_id, rotation_id, username, password);
            fault::after("write/secret", put).await?;
            Ok(())
        })
    }

    fn promote_pending(&self) -> PortFuture<'_, ()> {
        Box::pin(async move {
            let pending = self.secrets.pending(&self.secret_id).await?.ok_or_else(|| {
                PortError::new(
                    System::SecretsManager,
                    PortErrorKind::NotFound,
                    format!("secret {} has no AWSPENDING version to promote", self.secret_id),
                )
            })?;
            fault::after(
                "write/secret",
                self.secrets.promote(&self.secret_id, &pending.version_id),
            )
            .await?;
            Ok(())
        })
    }

    fn past_usernames(&self) -> PortFuture<'_, Vec<String>> {
        Box::pin(async move { Ok(self.secrets.past_usernames(&self.secret_id).await?) })
    }

    fn rotation_mark(&self) -> PortFuture<'_, Option<RotationMark>> {
        Box::pin(async move {
            let tags = self.secrets.tags(&self.secret_id).await?;
            match RotationMark::from_tags(&tags) {
                None => Ok(None),
                Some(Ok(m)) => Ok(Some(m)),
                Some(Err(why)) => Err(PortError::new(
                    System::SecretsManager,
                    PortErrorKind::Invalid,
                    format!("secret {}: {why}", self.secret_id),
                )
                .with_hint(format!(
                    "remove its {TAG_PREFIX}* tags only if no rotation is under way"
                ))),
            }
        })
    }

    fn set_rotation_mark<'a>(&'a self, mark: &'a RotationMark) -> PortFuture<'a, ()> {
        Box::pin(async move {
            let tags = mark.to_tags();
            // Tags of another mark that this one does not have (an
            // environment's old user, a take-over) would mix the two.
            let stale: Vec<String> = self
                .secrets
                .tags(&self.secret_id)
                .await?
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| k.starts_with(TAG_PREFIX) && !tags.iter().any(|(t, _)| t == k))
                .collect();
            self.secrets.untag(&self.secret_id, &stale).await?;
            fault::after("mark/set", self.secrets.tag(&self.secret_id, &tags)).await?;
            Ok(())
        })
    }

    fn clear_rotation_mark<'a>(&'a self, rotation_id: &'a str) -> PortFuture<'a, ()> {
        Box::pin(async move {
            let tags = self.secrets.tags(&self.secret_id).await?;
            let ours = tags.iter().any(|(k, v)| {
                k == "rotui:rotation" && crate::rotation::mark::decode(v).as_deref() == Some(rotation_id)
            });
            if ours {
                let keys: Vec<String> = tags
                    .into_iter()
                    .map(|(k, _)| k)
                    .filter(|k| k.starts_with(TAG_PREFIX))
                    .collect();
                fault::after("mark/clear", self.secrets.untag(&self.secret_id, &keys)).await?;
            }
            Ok(())
        })
    }

    fn restore_previous<'a>(&'a self, old_username: &'a str) -> PortFuture<'a, ()> {
        Box::pin(async move {
            let id = &self.secret_id;
            let current = self.secrets.app_secret(id).await?;
            if current.username != old_username {
                // Only ever back to the version that holds the old user.
                let previous = self
                    .secrets
                    .app_secret_at(id, VersionRef::Stage(AWSPREVIOUS))
                    .await?;
                match previous {
                    Some(p) if p.username == old_username => {}
                    other => {
                        return Err(PortError::new(
                            System::SecretsManager,
                            PortErrorKind::Invalid,
                            format!(
                                "secret {id}: AWSCURRENT names {}, and {AWSPREVIOUS} is {} rather than {old_username}'s version: not rolling back",
                                current.username,
                                other.map(|p| format!("{}'s", p.username)).unwrap_or_else(|| "missing".into())
                            ),
                        )
                        .with_hint("restore AWSCURRENT by hand (UpdateSecretVersionStage)"));
                    }
                }
                self.secrets.rollback(id, &current.version_id).await?;
            }
            if let Some(p) = self.secrets.pending(id).await?
                && p.username != old_username
            {
                self.secrets.remove_pending(id, &p.version_id).await?;
            }
            fault::point("write/secret");
            Ok(())
        })
    }
}
