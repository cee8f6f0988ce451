//! The app's ExternalSecret (external-secrets.io/v1): its status, a watch of
//! it, and the runbook's force sync
//! (`kubectl annotate externalsecrets.external-secrets.io X force-sync=$(date +%s) --overwrite`)
//! with a confirmation that the controller really re-synced.
//!
//! ESO has no special force-sync key: any annotation change makes it
//! reconcile. Success is `status.refreshTime` at or after the annotation time
//! with Ready=True/SecretSynced; failure is Ready=False/SecretSyncedError.

use std::pin::pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use kube::api::{Patch, PatchParams};
use kube::{CustomResource, ResourceExt};
use serde::{Deserialize, Serialize};

use super::error::Op;
use super::secret_check::{Expected, check_secret};
use super::{K8s, K8sError};

/// The annotation the runbook sets.
pub const FORCE_SYNC: &str = "force-sync";
const RESOURCE: &str = "externalsecrets.external-secrets.io";

/// The parts of an ExternalSecret rotui reads; unknown fields are ignored,
/// and nothing here is ever written back except annotations.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ExternalSecret",
    namespaced,
    status = "ExternalSecretStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<String>,
    /// `Periodic` (default), `OnChange` or `CreatedOnce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_store_ref: Option<StoreRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<EsTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_from: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct StoreRef {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct EsTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<EsCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EsCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// What the dashboard shows about an ExternalSecret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsStatus {
    pub name: String,
    pub namespace: String,
    pub resource_version: Option<String>,
    pub generation: Option<i64>,
    /// The Ready condition, when the controller has written one.
    pub ready: Option<EsCondition>,
    pub refresh_time: Option<DateTime<Utc>>,
    pub refresh_interval: Option<String>,
    pub refresh_policy: Option<String>,
    /// `Kind/name` of the secret store, e.g. `ClusterSecretStore/aws-secretsmanager`.
    pub store: Option<String>,
    /// The Secret it writes (defaults to the ExternalSecret's own name).
    pub target: String,
    pub synced_resource_version: Option<String>,
    /// The current `force-sync` annotation (unix seconds), if any.
    pub force_sync: Option<String>,
}

impl From<&ExternalSecret> for EsStatus {
    fn from(es: &ExternalSecret) -> Self {
        let status = es.status.clone().unwrap_or_default();
        let spec = &es.spec;
        EsStatus {
            name: es.name_any(),
            namespace: es.namespace().unwrap_or_default(),
            resource_version: es.resource_version(),
            generation: es.metadata.generation,
            ready: status.conditions.iter().find(|c| c.type_ == "Ready").cloned(),
            refresh_time: status.refresh_time.as_deref().and_then(parse_time),
            refresh_interval: spec.refresh_interval.clone(),
            refresh_policy: spec.refresh_policy.clone(),
            store: spec
                .secret_store_ref
                .as_ref()
                .map(|s| format!("{}/{}", s.kind.as_deref().unwrap_or("SecretStore"), s.name)),
            target: spec
                .target
                .as_ref()
                .and_then(|t| t.name.clone())
                .unwrap_or_else(|| es.name_any()),
            synced_resource_version: status.synced_resource_version,
            force_sync: es.annotations().get(FORCE_SYNC).cloned(),
        }
    }
}

impl EsStatus {
    /// Ready=True.
    pub fn is_ready(&self) -> bool {
        self.ready.as_ref().is_some_and(|c| c.status == "True")
    }

    /// Ready=False with reason SecretSyncedError: its message.
    pub fn sync_error(&self) -> Option<&str> {
        self.ready
            .as_ref()
            .filter(|c| c.status == "False" && c.reason.as_deref() == Some("SecretSyncedError"))
            .map(|c| c.message.as_deref().unwrap_or("SecretSyncedError"))
    }

    /// The refresh interval in seconds (`1h`, `15m0s`, `0`…), if it parses.
    pub fn refresh_seconds(&self) -> Option<u64> {
        self.refresh_interval.as_deref().and_then(parse_go_duration)
    }

    /// Reasons a force sync would do nothing.
    pub fn force_sync_warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.refresh_seconds() == Some(0) {
            w.push(format!(
                "ExternalSecret {} has refreshInterval {:?}: the controller never refreshes it, so the force-sync annotation is a no-op",
                self.name,
                self.refresh_interval.as_deref().unwrap_or_default()
            ));
        }
        if self.refresh_policy.as_deref() == Some("CreatedOnce") {
            w.push(format!(
                "ExternalSecret {} has refreshPolicy CreatedOnce: it is never refreshed after creation",
                self.name
            ));
        }
        w
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parse a Go duration (`1h`, `1h30m`, `15m0s`, `90s`, `0`, `500ms`) to whole seconds.
pub fn parse_go_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let mut total_ms: u64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let ms_per = match &rest[..unit_len] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1000.0,
            "ms" => 1.0,
            "us" | "µs" => 0.001,
            "ns" => 0.000_001,
            _ => return None,
        };
        total_ms += (value * ms_per) as u64;
        rest = &rest[unit_len..];
    }
    Some(total_ms / 1000)
}

fn op<'a>(k8s: &'a K8s, verb: &'a str, name: &'a str) -> Op<'a> {
    k8s.op(verb, RESOURCE).named(name)
}

/// Read one ExternalSecret's status.
pub async fn get(k8s: &K8s, name: &str) -> Result<EsStatus, K8sError> {
    let es = k8s
        .api::<ExternalSecret>()
        .get(name)
        .await
        .map_err(|e| op(k8s, "get", name).err(e))?;
    Ok(EsStatus::from(&es))
}

/// The namespace's ExternalSecrets whose names start with `prefix` (the
/// runbook's `kubectl get externalsecrets | grep signon`).
pub async fn list(k8s: &K8s, prefix: &str) -> Result<Vec<EsStatus>, K8sError> {
    let list = k8s
        .api::<ExternalSecret>()
        .list(&Default::default())
        .await
        .map_err(|e| k8s.op("list", RESOURCE).err(e))?;
    let mut out: Vec<EsStatus> = list
        .items
        .iter()
        .filter(|es| es.name_any().starts_with(prefix))
        .map(EsStatus::from)
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Watch one ExternalSecret: yields its status now and after every change,
/// `None` while it does not exist. Errors are yielded and the watch retries
/// with backoff, so the stream only ends when dropped.
pub fn watch(
    k8s: &K8s,
    name: &str,
) -> impl Stream<Item = Result<Option<EsStatus>, K8sError>> + Send + 'static {
    k8s.watch_named(RESOURCE, name, |es: &ExternalSecret| Ok(EsStatus::from(es)))
}

/// A planned force sync: the exact merge-patch, and what we observed first.
#[derive(Debug, Clone)]
pub struct ForceSync {
    pub name: String,
    pub namespace: String,
    /// The annotation value: unix seconds when the sync was planned.
    pub at: i64,
    /// The ExternalSecret as observed when planning.
    pub before: EsStatus,
    /// Reasons the annotation may do nothing (refreshInterval 0…).
    pub warnings: Vec<String>,
    /// Set when nothing needs doing: the target Secret already holds the
    /// expected credentials and the ExternalSecret is Ready.
    pub already_done: Option<String>,
}

/// How a force sync ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// refreshTime ≥ annotation time and Ready=True/SecretSynced.
    Synced(EsStatus),
    /// Ready=False/SecretSyncedError after the annotation; its message.
    Failed { message: String, status: EsStatus },
    /// Neither within the timeout; the last status seen.
    TimedOut(Option<EsStatus>),
}

impl ForceSync {
    /// Observe the ExternalSecret (and, given the expected credentials, its
    /// target Secret) and plan the annotation with the current time.
    pub async fn plan(k8s: &K8s, name: &str, expected: Option<&Expected>) -> Result<ForceSync, K8sError> {
        let before = get(k8s, name).await?;
        let already_done = match expected {
            Some(exp) if before.is_ready() => match check_secret(k8s, &before.target, exp).await {
                Ok(c) if c.matches() => Some(format!(
                    "Secret {}/{} already holds user {} with the expected password",
                    before.namespace, before.target, c.user
                )),
                // A missing or stale Secret is exactly what a sync fixes.
                Ok(_) | Err(K8sError::NotFound { .. } | K8sError::MissingKey { .. }) => None,
                Err(e) => return Err(e),
            },
            _ => None,
        };
        // The annotation must change, or the controller sees nothing to do:
        // a second sync within the same second (a rollback, then a fresh
        // rotation at once) waits for the next second.
        let previous = before.force_sync.as_deref().and_then(|v| v.parse::<i64>().ok());
        let mut at = Utc::now().timestamp();
        if let Some(prev) = previous.filter(|p| *p >= at && *p - at < 5) {
            let wait = (prev - at + 1) as u64 * 1000 - u64::from(Utc::now().timestamp_subsec_millis());
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            at = Utc::now().timestamp().max(prev + 1);
        }
        Ok(ForceSync {
            name: name.to_owned(),
            namespace: k8s.namespace().to_owned(),
            at,
            warnings: before.force_sync_warnings(),
            before,
            already_done,
        })
    }

    /// The merge-patch body.
    pub fn patch(&self) -> serde_json::Value {
        serde_json::json!({ "metadata": { "annotations": { FORCE_SYNC: self.at.to_string() } } })
    }

    /// The exact call, and the kubectl command it equals.
    pub fn preview(&self) -> String {
        format!(
            "PATCH /apis/external-secrets.io/v1/namespaces/{ns}/externalsecrets/{name}\n\
             Content-Type: application/merge-patch+json\n{patch}\n\
             # same as: kubectl annotate -n {qns} externalsecrets.external-secrets.io {qname} {FORCE_SYNC}={at} --overwrite",
            ns = self.namespace,
            name = self.name,
            qns = crate::text::shell_quote(&self.namespace),
            qname = crate::text::shell_quote(&self.name),
            patch = self.patch(),
            at = self.at,
        )
    }

    /// Apply the patch; returns the ExternalSecret as the server stored it.
    /// Re-applying the same plan changes nothing.
    pub async fn apply(&self, k8s: &K8s) -> Result<EsStatus, K8sError> {
        let params = PatchParams::default();
        let es = k8s
            .api::<ExternalSecret>()
            .patch(&self.name, &params, &Patch::Merge(&self.patch()))
            .await
            .map_err(|e| op(k8s, "patch", &self.name).err(e))?;
        Ok(EsStatus::from(&es))
    }

    /// Watch until the controller reports success or failure for this
    /// annotation, or `timeout` passes.
    pub async fn confirm(
        &self,
        k8s: &K8s,
        patched: &EsStatus,
        timeout: Duration,
    ) -> Result<SyncOutcome, K8sError> {
        let mut last = None;
        let watch = async {
            let mut updates = pin!(watch(k8s, &self.name));
            while let Some(update) = updates.next().await {
                let status = match update {
                    Ok(Some(s)) => s,
                    Ok(None) => {
                        return Err(K8sError::NotFound {
                            resource: RESOURCE.to_owned(),
                            name: self.name.clone(),
                            namespace: Some(self.namespace.clone()),
                        });
                    }
                    // Permission or auth problems will not heal by waiting.
                    Err(e @ (K8sError::Forbidden { .. } | K8sError::Unauthorized { .. })) => return Err(e),
                    Err(_) => continue,
                };
                if let Some(outcome) = judge(self.at, patched.resource_version.as_deref(), &status) {
                    return Ok(outcome);
                }
                last = Some(status);
            }
            Ok(SyncOutcome::TimedOut(None))
        };
        match tokio::time::timeout(timeout, watch).await {
            Ok(r) => r,
            Err(_) => Ok(SyncOutcome::TimedOut(last)),
        }
    }

    /// Apply, then confirm.
    pub async fn run(&self, k8s: &K8s, timeout: Duration) -> Result<SyncOutcome, K8sError> {
        let patched = crate::fault::after("write/cluster", self.apply(k8s)).await?;
        self.confirm(k8s, &patched, timeout).await
    }
}

/// Whether `s` settles a force sync stamped `at` whose patch produced
/// resourceVersion `patched_rv`.
fn judge(at: i64, patched_rv: Option<&str>, s: &EsStatus) -> Option<SyncOutcome> {
    // Only a write after our patch can answer it: the watch starts after the
    // patch, so its first state may still be the patched object, whose
    // refreshTime can equal `at` when the last sync ran in the same second.
    if s.resource_version.as_deref() == patched_rv {
        return None;
    }
    let ready = s.ready.as_ref()?;
    if ready.status == "True"
        && ready.reason.as_deref() == Some("SecretSynced")
        && s.refresh_time.is_some_and(|t| t.timestamp() >= at)
    {
        return Some(SyncOutcome::Synced(s.clone()));
    }
    s.sync_error().map(|message| SyncOutcome::Failed {
        message: crate::secret::redact(message),
        status: s.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(rv: &str, ready: (&str, &str), refresh: Option<&str>) -> EsStatus {
        EsStatus {
            name: "signon-mysql".into(),
            namespace: "apps".into(),
            resource_version: Some(rv.into()),
            generation: Some(1),
            ready: Some(EsCondition {
                type_: "Ready".into(),
                status: ready.0.into(),
                reason: Some(ready.1.into()),
                message: Some("could not get secret data from provider".into()),
                last_transition_time: None,
            }),
            refresh_time: refresh.and_then(parse_time),
            refresh_interval: Some("1h".into()),
            refresh_policy: None,
            store: None,
            target: "signon-mysql".into(),
            synced_resource_version: None,
            force_sync: None,
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h"), Some(3600));
        assert_eq!(parse_go_duration("1h30m"), Some(5400));
        assert_eq!(parse_go_duration("15m0s"), Some(900));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("0s"), Some(0));
        assert_eq!(parse_go_duration("1.5h"), Some(5400));
        assert_eq!(parse_go_duration("soon"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn refresh_interval_zero_warns() {
        let mut s = status("1", ("True", "SecretSynced"), None);
        assert!(s.force_sync_warnings().is_empty());
        s.refresh_interval = Some("0s".into());
        assert!(s.force_sync_warnings()[0].contains("no-op"));
    }

    #[test]
    fn judging_a_force_sync() {
        let at = parse_time("2026-01-21T10:00:00Z").unwrap().timestamp();
        // An old successful refresh is not ours.
        assert_eq!(
            judge(
                at,
                Some("5"),
                &status("6", ("True", "SecretSynced"), Some("2026-01-21T09:00:00Z"))
            ),
            None
        );
        assert!(matches!(
            judge(
                at,
                Some("5"),
                &status("6", ("True", "SecretSynced"), Some("2026-01-21T10:00:00Z"))
            ),
            Some(SyncOutcome::Synced(_))
        ));
        // A failure already there when we patched is not an answer…
        assert_eq!(
            judge(at, Some("5"), &status("5", ("False", "SecretSyncedError"), None)),
            None
        );
        // …a failure written after it is.
        assert!(matches!(
            judge(at, Some("5"), &status("7", ("False", "SecretSyncedError"), None)),
            Some(SyncOutcome::Failed { .. })
        ));
    }

    #[test]
    fn preview_shows_the_exact_patch() {
        let plan = ForceSync {
            name: "signon-mysql".into(),
            namespace: "apps".into(),
            at: 1768989600,
            before: status("1", ("True", "SecretSynced"), None),
            warnings: vec![],
            already_done: None,
        };
        let p = plan.preview();
        assert!(
            p.contains(r#"{"metadata":{"annotations":{"force-sync":"1768989600"}}}"#),
            "{p}"
        );
        assert!(p.contains("kubectl annotate -n apps externalsecrets.external-secrets.io signon-mysql force-sync=1768989600 --overwrite"));
    }

    #[test]
    fn a_hostile_name_in_the_preview_stays_one_word_in_a_shell() {
        let plan = ForceSync {
            name: "x'; touch /tmp/pwned; echo 'DROP-mysql".into(),
            namespace: "apps $(id)".into(),
            at: 1768989600,
            before: status("1", ("True", "SecretSynced"), None),
            warnings: vec![],
            already_done: None,
        };
        let p = plan.preview();
        let line = p.lines().last().unwrap();
        let args = line.split_once("kubectl ").unwrap().1;
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf '%s\\n' {args}")])
            .output()
            .unwrap();
        let words: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            words,
            [
                "annotate",
                "-n",
                "apps $(id)",
                "externalsecrets.external-secrets.io",
                "x'; touch /tmp/pwned; echo 'DROP-mysql",
                "force-sync=1768989600",
                "--overwrite"
            ]
        );
    }
}
