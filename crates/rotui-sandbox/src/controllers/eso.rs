//! The External Secrets controller, behaving like ESO's for what GOV.UK uses:
//! `dataFrom.extract` / `data.remoteRef`, `target.template.data`, the
//! `refreshInterval` timer, and a re-sync whenever the generation, labels or
//! annotations change (that is all a `force-sync` annotation is). A sync
//! writes the target Secret (owned by the ExternalSecret) and the status ESO
//! writes: a Ready condition, `refreshTime`, `syncedResourceVersion`.
//!
//! Syncs can be made to fail, to rehearse the failure path: the annotation
//! `sandbox.rotui.dev/fail-sync: "<message>"` on the ExternalSecret, or
//! [`FailSwitch::set`] for all of them.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, CustomResource, Resource, ResourceExt};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::source::is_secret_key;
use super::{ControllerError, SecretSource, fnv_hex, now_rfc3339, template};
use rotui::secret::redact;

/// Annotation that makes every sync of its ExternalSecret fail with its value.
pub const FAIL_ANNOTATION: &str = "sandbox.rotui.dev/fail-sync";
/// How soon a failed sync is retried (ESO backs off; the sandbox stays brisk).
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// `external-secrets.io/v1` ExternalSecret, the fields the sandbox honours.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ExternalSecret",
    namespaced,
    status = "ExternalSecretStatus",
    schema = "disabled",
    shortname = "es"
)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_store_ref: Option<StoreRef>,
    /// Go duration ("1h", "15m", "0" = fetch once). Default 1h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<String>,
    /// Periodic (default), OnChange or CreatedOnce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_from: Vec<DataFrom>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct StoreRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct TargetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateSpec>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    /// Replace (default: only the templated keys) or Merge (plus the fetched ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_policy: Option<String>,
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct DataItem {
    pub secret_key: String,
    pub remote_ref: RemoteRef,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct RemoteRef {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct DataFrom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<RemoteRef>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<EsCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EsCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Binding {
    pub name: String,
}

/// A process-wide "make every sync fail with this message" switch.
#[derive(Clone, Debug, Default)]
pub struct FailSwitch(Arc<RwLock<Option<String>>>);

impl FailSwitch {
    /// `Some(message)`: syncs fail with it from now on; `None`: they succeed again.
    pub fn set(&self, message: Option<String>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = message;
    }

    fn get(&self) -> Option<String> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

struct Ctx {
    client: kube::Client,
    namespace: String,
    source: Arc<dyn SecretSource>,
    fail: FailSwitch,
}

/// Run the controller until the task is aborted.
pub(super) async fn run(
    client: kube::Client,
    namespace: String,
    source: Arc<dyn SecretSource>,
    fail: FailSwitch,
) {
    let api: Api<ExternalSecret> = Api::namespaced(client.clone(), &namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let ctx = Arc::new(Ctx {
        client,
        namespace,
        source,
        fail,
    });
    Controller::new(api, watcher::Config::default())
        .owns(secrets, watcher::Config::default())
        .run(reconcile, |_, _, _| Action::requeue(RETRY_AFTER), ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %redact(&e.to_string()), "external-secrets controller");
            }
        })
        .await;
}

async fn reconcile(es: Arc<ExternalSecret>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    let name = es.name_any();
    let api: Api<ExternalSecret> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    // The watch cache can lag this controller's own status write: the
    // reconcile that the new target Secret triggers would then see "never
    // synced" and sync again, picking up whatever the provider holds by now.
    // Judge the object as the API server has it.
    let fresh = api.get_opt(&name).await.map_err(ControllerError::kube)?;
    let Some(es) = fresh.filter(|es| es.meta().deletion_timestamp.is_none()) else {
        return Ok(Action::await_change());
    };
    let status = es.status.clone().unwrap_or_default();
    let version = synced_resource_version(&es);
    let interval = match es.spec.refresh_interval.as_deref().map(parse_go_duration) {
        None => Duration::from_secs(3600),
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            write_failure(&api, &name, &status, &format!("invalid refreshInterval: {e}")).await?;
            return Ok(Action::await_change());
        }
    };
    let now = chrono::Utc::now();
    if let Some(wait) = next_refresh(&es, &status, &version, interval, now) {
        // Like ESO, a missing or hand-edited target is rewritten regardless.
        if target_intact(&es, &ctx).await? {
            return Ok(wait.map_or_else(Action::await_change, Action::requeue));
        }
    }

    match sync(&es, &ctx).await {
        Ok(target) => {
            let ready = condition(&status, "True", "SecretSynced", "secret synced");
            let patch = json!({ "status": {
                "refreshTime": now_rfc3339(),
                "syncedResourceVersion": version,
                "conditions": [ready],
                "binding": { "name": target },
            }});
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(ControllerError::kube)?;
            tracing::info!(externalsecret = %name, "secret synced");
            Ok(if interval.is_zero() {
                Action::await_change()
            } else {
                Action::requeue(interval)
            })
        }
        Err(message) => {
            tracing::warn!(externalsecret = %name, %message, "secret sync failed");
            write_failure(&api, &name, &status, &message).await?;
            Ok(Action::requeue(RETRY_AFTER))
        }
    }
}

/// `None` when a sync is due now; otherwise how long until it is (`None`
/// inside: only a change to the object will make one due). ESO's rules:
/// a changed `syncedResourceVersion` triggers a sync, except that with
/// refreshInterval 0 nothing does once the first sync has happened.
fn next_refresh(
    es: &ExternalSecret,
    status: &ExternalSecretStatus,
    version: &str,
    interval: Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Option<Duration>> {
    let synced = status.synced_resource_version.as_deref();
    let changed = synced != Some(version);
    match es.spec.refresh_policy.as_deref() {
        Some("CreatedOnce") => return if synced.is_none() { None } else { Some(None) },
        Some("OnChange") => return if changed { None } else { Some(None) },
        _ => {}
    }
    if interval.is_zero() && synced.is_some() {
        return Some(None);
    }
    // A failed sync is retried until one succeeds (ESO requeues errors),
    // even if the change that triggered it was undone meanwhile.
    let failing = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "False");
    if changed || failing {
        return None;
    }
    let last = status
        .refresh_time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    // Never refreshed (or unreadable): due now.
    let last = last?;
    let due = last.with_timezone(&chrono::Utc)
        + chrono::Duration::from_std(interval).unwrap_or(chrono::TimeDelta::MAX);
    match (due - now).to_std() {
        Ok(left) if !left.is_zero() => Some(Some(left)),
        _ => None,
    }
}

/// Fetch, render and write the target Secret. Returns the target's name.
/// Errors are ESO's status messages, already redacted.
async fn sync(es: &ExternalSecret, ctx: &Ctx) -> Result<String, String> {
    if let Some(message) = es
        .annotations()
        .get(FAIL_ANNOTATION)
        .cloned()
        .or_else(|| ctx.fail.get())
    {
        return Err(format!("could not get secret data from provider: {message}"));
    }
    let fetched = fetch(es, ctx.source.as_ref())
        .await
        .map_err(|e| redact(&format!("could not get secret data from provider: {e}")))?;
    let target = es.spec.target.clone().unwrap_or_default();
    let data = match &target.template {
        None => fetched,
        Some(t) => {
            let mut out = if t.merge_policy.as_deref() == Some("Merge") {
                fetched.clone()
            } else {
                BTreeMap::new()
            };
            for (key, tpl) in &t.data {
                let value = template::render(key, tpl, &fetched)
                    .map_err(|e| format!("could not apply template: {e}"))?;
                out.insert(key.clone(), value);
            }
            out
        }
    };
    let name = target.name.clone().unwrap_or_else(|| es.name_any());
    write_secret(es, ctx, &name, data)
        .await
        .map_err(|e| redact(&format!("could not update secret {name}: {e}")))?;
    Ok(name)
}

/// The provider's key/value pairs: every `dataFrom.extract` document merged in
/// order, then every `data` entry.
async fn fetch(es: &ExternalSecret, source: &dyn SecretSource) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for from in &es.spec.data_from {
        let Some(r) = &from.extract else { continue };
        let doc = property(source.get(&r.key).await?, r)?;
        let serde_json::Value::Object(map) = doc else {
            return Err(format!("secret {} is not a JSON object", r.key));
        };
        for (k, v) in map {
            let v = plain(v);
            if is_secret_key(&k) {
                rotui::secret::register(&v);
            }
            out.insert(k, v);
        }
    }
    for item in &es.spec.data {
        let r = &item.remote_ref;
        let v = plain(property(source.get(&r.key).await?, r)?);
        if is_secret_key(&item.secret_key) || r.property.as_deref().is_some_and(is_secret_key) {
            rotui::secret::register(&v);
        }
        out.insert(item.secret_key.clone(), v);
    }
    Ok(out)
}

fn property(doc: serde_json::Value, r: &RemoteRef) -> Result<serde_json::Value, String> {
    match &r.property {
        None => Ok(doc),
        Some(p) => doc
            .get(p)
            .cloned()
            .ok_or_else(|| format!("key {p} does not exist in secret {}", r.key)),
    }
}

fn plain(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Create or update the target Secret so it holds exactly `data`, owned by
/// the ExternalSecret. Unchanged data means no write.
async fn write_secret(
    es: &ExternalSecret,
    ctx: &Ctx,
    name: &str,
    data: BTreeMap<String, String>,
) -> Result<(), String> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let owner = es
        .controller_owner_ref(&())
        .ok_or("the ExternalSecret has no uid yet")?;
    let hash = data_hash(&data);
    let existing = api.get_opt(name).await.map_err(|e| e.to_string())?;
    let Some(existing) = existing else {
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(ctx.namespace.clone()),
                labels: Some(
                    [(
                        "reconcile.external-secrets.io/managed".to_owned(),
                        "true".to_owned(),
                    )]
                    .into(),
                ),
                annotations: Some([(DATA_HASH.to_owned(), hash)].into()),
                owner_references: Some(vec![owner]),
                ..Default::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(
                data.into_iter()
                    .map(|(k, v)| (k, ByteString(v.into_bytes())))
                    .collect(),
            ),
            ..Default::default()
        };
        api.create(&PostParams::default(), &secret)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    };
    if let Some(other) = existing
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.uid != owner.uid)
    {
        return Err(format!(
            "target is owned by another {} ({})",
            other.kind, other.name
        ));
    }
    let current: BTreeMap<String, Vec<u8>> = existing
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    let wanted: BTreeMap<String, Vec<u8>> = data
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    let owned = existing.owner_references().iter().any(|o| o.uid == owner.uid);
    if current == wanted && owned {
        return Ok(());
    }
    // A merge patch can only delete keys by naming them with null.
    let mut patch_data = serde_json::Map::new();
    for k in current.keys().filter(|k| !wanted.contains_key(*k)) {
        patch_data.insert(k.clone(), serde_json::Value::Null);
    }
    for (k, v) in &data {
        patch_data.insert(k.clone(), json!(base64_encode(v.as_bytes())));
    }
    let mut owners: Vec<OwnerReference> = existing.owner_references().to_vec();
    if !owned {
        owners.push(owner);
    }
    let patch = json!({
        "metadata": { "annotations": { DATA_HASH: hash }, "ownerReferences": owners },
        "data": patch_data,
    });
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

const DATA_HASH: &str = "reconcile.external-secrets.io/data-hash";

fn data_hash(data: &BTreeMap<String, String>) -> String {
    fnv_hex(serde_json::to_string(data).unwrap_or_default().as_bytes())
}

/// Whether the target Secret exists and still holds what we last wrote
/// (ESO's `isSecretValid`: its data-hash annotation matches its data).
async fn target_intact(es: &ExternalSecret, ctx: &Ctx) -> Result<bool, ControllerError> {
    let name = es
        .spec
        .target
        .as_ref()
        .and_then(|t| t.name.clone())
        .unwrap_or_else(|| es.name_any());
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let Some(secret) = api.get_opt(&name).await.map_err(ControllerError::kube)? else {
        return Ok(false);
    };
    let data: BTreeMap<String, String> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    Ok(secret.annotations().get(DATA_HASH) == Some(&data_hash(&data)))
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Ready=False/SecretSyncedError, leaving refreshTime and
/// syncedResourceVersion as they were (so the failed change is retried).
/// Skipped when the status already says exactly this, so retries don't
/// spin on their own status events.
async fn write_failure(
    api: &Api<ExternalSecret>,
    name: &str,
    status: &ExternalSecretStatus,
    message: &str,
) -> Result<(), ControllerError> {
    let cond = condition(status, "False", "SecretSyncedError", message);
    if status.conditions.iter().any(|c| c == &cond) {
        return Ok(());
    }
    let patch = json!({ "status": { "conditions": [cond] } });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(ControllerError::kube)?;
    Ok(())
}

/// The Ready condition, keeping lastTransitionTime while the status holds.
fn condition(status: &ExternalSecretStatus, value: &str, reason: &str, message: &str) -> EsCondition {
    let since = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == value)
        .and_then(|c| c.last_transition_time.clone());
    EsCondition {
        type_: "Ready".into(),
        status: value.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: Some(since.unwrap_or_else(now_rfc3339)),
    }
}

/// ESO's `<generation>-<hash of labels and annotations>`.
fn synced_resource_version(es: &ExternalSecret) -> String {
    let meta = json!({ "labels": es.labels(), "annotations": es.annotations() });
    format!(
        "{}-{}",
        es.meta().generation.unwrap_or(0),
        fnv_hex(meta.to_string().as_bytes())
    )
}

/// Parse a Go duration: "0", "1h", "15m", "1h30m", "90s", "500ms".
pub(crate) fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || format!("time: invalid duration \"{s}\"");
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_go_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_go_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_go_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_go_duration("1 hour").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("10").is_err());
    }

    fn es(interval: &str, annotations: &[(&str, &str)]) -> ExternalSecret {
        let mut es = ExternalSecret::new(
            "signon-mysql",
            ExternalSecretSpec {
                refresh_interval: Some(interval.into()),
                ..Default::default()
            },
        );
        es.metadata.generation = Some(1);
        es.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        );
        es
    }

    #[tokio::test]
    async fn fetch_merges_data_from_then_data_items() {
        let source = super::super::MapSource::new();
        source.set(
            "govuk/a/postgres",
            json!({ "username": "a", "password": "fetchPassw0rd", "port": 5432 }),
        );
        source.set("govuk/shared", json!({ "replica": { "host": "r1" } }));
        let es: ExternalSecret = serde_json::from_value(json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": { "name": "a" },
            "spec": {
                "dataFrom": [{ "extract": { "key": "govuk/a/postgres" } }, { "extract": { "key": "govuk/shared", "property": "replica" } }],
                "data": [{ "secretKey": "user", "remoteRef": { "key": "govuk/a/postgres", "property": "username" } }],
            }
        }))
        .unwrap();
        let got = fetch(&es, &source).await.unwrap();
        let want: BTreeMap<String, String> = [
            ("username", "a"),
            ("password", "fetchPassw0rd"),
            ("port", "5432"),
            ("host", "r1"),
            ("user", "a"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(got, want);
        assert_eq!(
            rotui::secret::redact("x fetchPassw0rd"),
            format!("x {}", rotui::secret::MASK)
        );

        let mut missing = es.clone();
        missing.spec.data[0].remote_ref.property = Some("nope".into());
        let e = fetch(&missing, &source).await.unwrap_err();
        assert_eq!(e, "key nope does not exist in secret govuk/a/postgres");
    }

    #[test]
    fn refresh_rules_follow_eso() {
        let now = chrono::Utc::now();
        let synced = es("1h", &[]);
        let v = synced_resource_version(&synced);
        let status = ExternalSecretStatus {
            refresh_time: Some(now.to_rfc3339()),
            synced_resource_version: Some(v.clone()),
            ..Default::default()
        };
        let hour = Duration::from_secs(3600);
        // Never synced: due.
        assert_eq!(
            next_refresh(&synced, &ExternalSecretStatus::default(), &v, hour, now),
            None
        );
        // Synced just now: wait about an hour.
        let wait = next_refresh(&synced, &status, &v, hour, now).unwrap().unwrap();
        assert!(wait > Duration::from_secs(3590));
        // An annotation changes the version: due.
        let annotated = es("1h", &[("force-sync", "1700000000")]);
        let v2 = synced_resource_version(&annotated);
        assert_ne!(v, v2);
        assert_eq!(next_refresh(&annotated, &status, &v2, hour, now), None);
        // With refreshInterval 0 the annotation does nothing once synced.
        assert_eq!(
            next_refresh(&annotated, &status, &v2, Duration::ZERO, now),
            Some(None)
        );
        // A failed sync is retried even when the version is back to the synced one.
        let mut failing = status.clone();
        failing.conditions = vec![condition(&status, "False", "SecretSyncedError", "boom")];
        assert_eq!(next_refresh(&synced, &failing, &v, hour, now), None);
        // An hour later: due.
        assert_eq!(
            next_refresh(&synced, &status, &v, hour, now + chrono::Duration::seconds(3601)),
            None
        );
    }
}
