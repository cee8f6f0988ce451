//! A Stakater Reloader (annotations strategy): when a Secret's data changes,
//! every Deployment and StatefulSet annotated `reloader.stakater.com/auto: "true"` (or any
//! annotation Reloader honours, as `rotui::k8s::blast::reloader` reads them) that uses
//! it (env `secretKeyRef` or `envFrom`) gets
//! `reloader.stakater.com/last-reloaded-from` written into its pod template,
//! which bumps its generation and so starts a rollout.
//!
//! Like Reloader's default (`reloadOnCreate: false`), the first sight of a
//! Secret only records its hash; only a later change triggers a reload.

use std::collections::HashMap;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec, Secret};
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::fnv_hex;
use rotui::secret::redact;

/// The opt-in annotation on a Deployment.
pub const AUTO_ANNOTATION: &str = "reloader.stakater.com/auto";
/// The pod-template annotation Reloader writes.
pub const LAST_RELOADED_FROM: &str = "reloader.stakater.com/last-reloaded-from";

pub(super) async fn run(client: kube::Client, namespace: String) {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client, &namespace);
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut events = watcher(secrets).boxed();
    while let Some(event) = events.next().await {
        let secret = match event {
            Ok(Event::Apply(s) | Event::InitApply(s)) => s,
            // A Secret made again later is a creation, not a change.
            Ok(Event::Delete(s)) => {
                seen.remove(&s.name_any());
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %redact(&e.to_string()), "reloader watch");
                continue;
            }
        };
        let name = secret.name_any();
        let hash = data_hash(&secret);
        let previous = seen.insert(name.clone(), hash.clone());
        if previous.is_none() || previous.as_deref() == Some(hash.as_str()) {
            continue;
        }
        let deployment_template = |d: &Deployment| d.spec.as_ref().map(|s| s.template.clone());
        let statefulset_template = |s: &StatefulSet| s.spec.as_ref().map(|s| s.template.clone());
        let reloaded = match reload_users(&deployments, deployment_template, &namespace, &secret, &hash).await
        {
            Ok(()) => reload_users(&statefulsets, statefulset_template, &namespace, &secret, &hash).await,
            e => e,
        };
        if let Err(e) = reloaded {
            tracing::warn!(secret = %name, error = %redact(&e.to_string()), "reloader could not restart a workload");
        }
    }
}

fn watcher(api: Api<Secret>) -> impl futures::Stream<Item = Result<Event<Secret>, watcher::Error>> {
    watcher::watcher(api, watcher::Config::default()).default_backoff()
}

/// Reloader's hash is over the Secret's data only (not its metadata).
fn data_hash(secret: &Secret) -> String {
    let data: std::collections::BTreeMap<_, _> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), fnv_hex(&v.0)))
        .collect();
    fnv_hex(serde_json::to_string(&data).unwrap_or_default().as_bytes())
}

async fn reload_users<K>(
    api: &Api<K>,
    template_of: impl Fn(&K) -> Option<PodTemplateSpec>,
    namespace: &str,
    changed: &Secret,
    hash: &str,
) -> kube::Result<()>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let secret = changed.name_any();
    let secret = secret.as_str();
    for d in api.list(&ListParams::default()).await? {
        if rotui::k8s::blast::reloader(d.annotations(), secret, changed.annotations()).is_err() {
            continue;
        }
        let Some(template) = template_of(&d) else {
            continue;
        };
        let Some(pod) = template.spec.as_ref() else {
            continue;
        };
        let containers = containers_using(pod, secret);
        if containers.is_empty() {
            continue;
        }
        let already = template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(LAST_RELOADED_FROM))
            .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
            .is_some_and(|v| v["name"] == secret && v["hash"] == hash);
        if already {
            continue;
        }
        let source = json!({
            "type": "SECRET",
            "name": secret,
            "namespace": namespace,
            "hash": hash,
            "containerRefs": containers,
            "observedAt": chrono::Utc::now().timestamp(),
        });
        let patch = json!({ "spec": { "template": { "metadata": { "annotations": {
            LAST_RELOADED_FROM: source.to_string(),
        }}}}});
        api.patch(&d.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        tracing::info!(workload = %d.name_any(), %secret, "reloader restarted a workload");
    }
    Ok(())
}

/// Names of the containers (init containers too) that read `secret`.
fn containers_using(pod: &PodSpec, secret: &str) -> Vec<String> {
    pod.init_containers
        .iter()
        .flatten()
        .chain(&pod.containers)
        .filter(|c| {
            let from_env = c.env.iter().flatten().any(|e| {
                e.value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                    .is_some_and(|r| r.name == secret)
            });
            let from_env_from = c
                .env_from
                .iter()
                .flatten()
                .any(|e| e.secret_ref.as_ref().is_some_and(|r| r.name == secret));
            from_env || from_env_from
        })
        .map(|c| c.name.clone())
        .collect()
}
