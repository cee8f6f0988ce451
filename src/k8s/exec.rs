//! The runbook's check inside the app
//! (`kubectl exec deployment/X --container=app -- env | grep DATABASE_URL`):
//! run `env` in a serving pod and compare its DATABASE_URL with the expected
//! credentials. The environment holds other secrets too, so the output is
//! never kept, logged or put in an error: only variable names may be shown.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::AttachParams;
use tokio::io::AsyncReadExt;

use super::rollout::{self, PodInfo};
use super::secret_check::{DATABASE_URL, Expected, UrlCheck, check_url, find_env};
use super::{K8s, K8sError};
use crate::secret::{ExposeSecret, SecretString, redact};

/// How long `env` may take, connection included.
const EXEC_TIMEOUT: Duration = Duration::from_secs(30);
/// `env` of a real app is a few KiB; anything past this is not an env dump.
const MAX_OUTPUT: u64 = 1 << 20;

/// What the pod's environment says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEnvCheck {
    pub pod: String,
    pub container: String,
    pub check: UrlCheck,
}

/// Run `env` in `container` of `pod` and check DATABASE_URL.
pub async fn check_pod(
    k8s: &K8s,
    pod: &str,
    container: &str,
    expected: &Expected,
) -> Result<PodEnvCheck, K8sError> {
    let env = run_env(k8s, pod, container).await?;
    let Some(url) = find_env(env.expose_secret(), DATABASE_URL) else {
        let names = env
            .expose_secret()
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_owned()))
            .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        return Err(K8sError::MissingKey {
            object: format!(
                "the environment of pod {}/{pod} container {container}",
                k8s.namespace()
            ),
            key: DATABASE_URL.to_owned(),
            keys: names,
        });
    };
    let check = check_url(url, expected)
        .map_err(|e| K8sError::Invalid(format!("pod {pod} container {container}: {e}")))?;
    Ok(PodEnvCheck {
        pod: pod.to_owned(),
        container: container.to_owned(),
        check,
    })
}

/// Run `env` once in `container` of `pod` and check each of `variables`
/// (a consumer's names for the Secret's credential keys, e.g. router's
/// `CONTENT_STORE_DATABASE_URL`); `None` for a variable the environment
/// does not have.
pub async fn check_pod_vars(
    k8s: &K8s,
    pod: &str,
    container: &str,
    variables: &[&str],
    expected: &Expected,
) -> Result<Vec<(String, Option<UrlCheck>)>, K8sError> {
    let env = run_env(k8s, pod, container).await?;
    variables
        .iter()
        .map(|var| {
            let check =
                match find_env(env.expose_secret(), var) {
                    Some(url) => Some(check_url(url, expected).map_err(|e| {
                        K8sError::Invalid(format!("pod {pod} container {container} {var}: {e}"))
                    })?),
                    None => None,
                };
            Ok(((*var).to_owned(), check))
        })
        .collect()
}

/// The same check in the newest serving pod of `deployment`, as
/// `kubectl exec deployment/X` picks one.
pub async fn check_deployment(
    k8s: &K8s,
    deployment: &str,
    container: &str,
    expected: &Expected,
) -> Result<PodEnvCheck, K8sError> {
    let d = rollout::get(k8s, deployment).await?;
    let pods = rollout::pods(k8s, &d).await?;
    let pod = pods
        .iter()
        .rev()
        .find(|p| p.is_serving())
        .map(|p: &PodInfo| p.name.clone())
        .ok_or_else(|| {
            K8sError::Invalid(format!(
                "Deployment {}/{deployment} has no running, ready pod to check ({} pods)",
                k8s.namespace(),
                pods.len()
            ))
        })?;
    check_pod(k8s, &pod, container, expected).await
}

/// `env`'s stdout, held as a secret.
async fn run_env(k8s: &K8s, pod: &str, container: &str) -> Result<SecretString, K8sError> {
    let op = k8s.op("create", "pods/exec").named(pod);
    let params = AttachParams::default()
        .container(container)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let work = async {
        let mut proc = k8s
            .api::<Pod>()
            .exec(pod, ["env"], &params)
            .await
            .map_err(|e| op.err(e))?;
        let stdout = proc.stdout();
        let stderr = proc.stderr();
        let status = proc.take_status();
        // Drain both at once: each has a small buffer and a full one stalls the other.
        let read_out = async {
            let mut buf = Vec::new();
            if let Some(s) = stdout {
                s.take(MAX_OUTPUT).read_to_end(&mut buf).await.ok();
            }
            buf
        };
        let read_err = async {
            let mut buf = Vec::new();
            if let Some(s) = stderr {
                s.take(64 * 1024).read_to_end(&mut buf).await.ok();
            }
            buf
        };
        let (out, err) = tokio::join!(read_out, read_err);
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        proc.join()
            .await
            .map_err(|e| K8sError::Other(format!("exec env in pod {pod}: {}", redact(&e.to_string()))))?;
        if let Some(s) = status.filter(|s| s.status.as_deref() == Some("Failure")) {
            let stderr = redact(String::from_utf8_lossy(&err).trim());
            return Err(K8sError::Other(format!(
                "`env` failed in pod {pod} container {container}: {} {}",
                redact(s.message.as_deref().unwrap_or("non-zero exit")),
                stderr
            )));
        }
        String::from_utf8(out)
            .map(SecretString::from)
            .map_err(|_| K8sError::Invalid(format!("`env` in pod {pod} printed non-UTF-8 output")))
    };
    tokio::time::timeout(EXEC_TIMEOUT, work)
        .await
        .map_err(|_| K8sError::Timeout {
            what: format!("`env` in pod {pod} container {container}"),
            seconds: EXEC_TIMEOUT.as_secs(),
        })?
}
