//! [`ClusterPort`] on `crate::k8s`: the ExternalSecret's forced sync, the
//! Secret's DATABASE_URL and the app pods' environment.

use std::time::Duration;

use crate::k8s::externalsecret::{ForceSync, SyncOutcome};
use crate::k8s::secret_check::{Expected, UrlCheck, check_secret};
use crate::k8s::{K8s, K8sError, exec, rollout};
use crate::rotation::ports::{
    AppCredentials, ClusterPort, CredCheck, PodCheck, PortError, PortErrorKind, PortFuture, RolloutCheck,
    SyncVerdict, System,
};

/// One environment's cluster, for the app's objects (in the client's namespace).
#[derive(Clone)]
pub struct K8sCluster {
    k8s: K8s,
    external_secret: String,
    secret: String,
    deployment: String,
    container: String,
}

impl K8sCluster {
    pub fn new(
        k8s: K8s,
        external_secret: impl Into<String>,
        secret: impl Into<String>,
        deployment: impl Into<String>,
        container: impl Into<String>,
    ) -> Self {
        K8sCluster {
            k8s,
            external_secret: external_secret.into(),
            secret: secret.into(),
            deployment: deployment.into(),
            container: container.into(),
        }
    }
}

impl From<K8sError> for PortError {
    fn from(e: K8sError) -> Self {
        let kind = match &e {
            K8sError::Forbidden { .. } | K8sError::Unauthorized { .. } => PortErrorKind::Denied,
            K8sError::NotFound { .. } => PortErrorKind::NotFound,
            K8sError::Unreachable { .. } => PortErrorKind::Unreachable,
            K8sError::Config(_) | K8sError::MissingKey { .. } | K8sError::Invalid(_) => {
                PortErrorKind::Invalid
            }
            K8sError::Timeout { .. } => PortErrorKind::Timeout,
            K8sError::Other(_) => PortErrorKind::Other,
        };
        PortError::new(System::Kubernetes, kind, e.to_string())
    }
}

fn expected(c: &AppCredentials) -> Expected {
    Expected::new(c.username.clone(), c.password.clone())
}

fn cred_check(c: &UrlCheck) -> CredCheck {
    CredCheck {
        user: c.user.clone(),
        matches: c.matches(),
        summary: c.summary(),
    }
}

impl ClusterPort for K8sCluster {
    fn force_sync(&self, timeout: Duration) -> PortFuture<'_, SyncVerdict> {
        Box::pin(async move {
            let plan = ForceSync::plan(&self.k8s, &self.external_secret, None).await?;
            Ok(match plan.run(&self.k8s, timeout).await? {
                SyncOutcome::Synced(_) => SyncVerdict::Synced,
                SyncOutcome::Failed { message, .. } => SyncVerdict::Failed(message),
                SyncOutcome::TimedOut(last) => SyncVerdict::TimedOut(match last {
                    Some(s) => format!(
                        "ready: {}, refreshed {}",
                        s.is_ready(),
                        s.refresh_time
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_else(|| "never".into())
                    ),
                    None => "no status seen".into(),
                }),
            })
        })
    }

    fn check_secret<'a>(&'a self, creds: &'a AppCredentials) -> PortFuture<'a, Option<CredCheck>> {
        Box::pin(async move {
            match check_secret(&self.k8s, &self.secret, &expected(creds)).await {
                Ok(c) => Ok(Some(cred_check(&c))),
                Err(K8sError::NotFound { .. } | K8sError::MissingKey { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn check_rollout<'a>(&'a self, creds: &'a AppCredentials) -> PortFuture<'a, RolloutCheck> {
        Box::pin(async move {
            let snap = rollout::snapshot(&self.k8s, &self.deployment).await?;
            let want = expected(creds);
            let mut pods = vec![];
            // A pod replaced between the listing and its exec (a rollout
            // still under way) is no failure: the rollout is not complete,
            // and the next look sees its successor.
            let mut vanished = false;
            for p in snap.pods.iter().filter(|p| p.is_serving()) {
                match exec::check_pod(&self.k8s, &p.name, &self.container, &want).await {
                    Ok(c) => pods.push(PodCheck {
                        pod: p.name.clone(),
                        check: cred_check(&c.check),
                    }),
                    Err(K8sError::NotFound { .. }) => vanished = true,
                    Err(e) => return Err(e.into()),
                }
            }
            let status = snap.deployment.as_ref();
            Ok(RolloutCheck {
                complete: !vanished && status.is_some_and(|d| d.is_complete()),
                summary: status
                    .map(|d| d.summary())
                    .unwrap_or_else(|| "no Deployment".into()),
                pods,
            })
        })
    }
}
