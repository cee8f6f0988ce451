//! The StatefulSet controller, reduced: pods `<name>-0 … <name>-(n-1)`
//! created in order (OrderedReady: the next once the previous is Ready),
//! labelled with the template's `controller-revision-hash`; a template
//! change rolls them like RollingUpdate does, highest ordinal first, one at
//! a time and only while every pod is Ready. Enough for a StatefulSet that
//! reads an app's Secret to run, restart and report like a Deployment.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::{ControllerError, fnv_hex};
use rotui::secret::redact;

const REVISION_LABEL: &str = "controller-revision-hash";

struct Ctx {
    client: kube::Client,
    namespace: String,
}

pub(super) async fn run(client: kube::Client, namespace: String) {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let ctx = Arc::new(Ctx { client, namespace });
    Controller::new(api, watcher::Config::default())
        .owns(pods, watcher::Config::default())
        .run(reconcile, |_, _, _| Action::requeue(Duration::from_secs(2)), ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %redact(&e.to_string()), "statefulset controller");
            }
        })
        .await;
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn reconcile(s: Arc<StatefulSet>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    if s.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = s.name_any();
    let spec = s.spec.clone().unwrap_or_default();
    let replicas = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
    let revision = format!(
        "{name}-{}",
        &fnv_hex(
            serde_json::to_string(&spec.template)
                .unwrap_or_default()
                .as_bytes()
        )[..10]
    );
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let uid = s.uid().unwrap_or_default();
    let owned: Vec<Pod> = pods_api
        .list(&ListParams::default())
        .await
        .map_err(ControllerError::kube)?
        .items
        .into_iter()
        .filter(|p| p.owner_references().iter().any(|o| o.uid == uid))
        .collect();
    let ordinal = |p: &Pod| {
        p.name_any()
            .strip_prefix(&format!("{name}-"))
            .and_then(|n| n.parse::<usize>().ok())
    };
    let mut by_ordinal: Vec<Option<&Pod>> = vec![None; replicas];
    let mut changed = false;
    for p in &owned {
        match ordinal(p) {
            Some(i) if i < replicas => by_ordinal[i] = Some(p),
            // Scaled away (or not ours by name): the highest go.
            _ => {
                delete(&pods_api, p).await?;
                changed = true;
            }
        }
    }
    // OrderedReady: create the first missing ordinal once all before it are Ready.
    if let Some(i) = by_ordinal.iter().position(Option::is_none)
        && by_ordinal[..i].iter().all(|p| p.is_some_and(is_ready))
    {
        pods_api
            .create(&PostParams::default(), &new_pod(&s, i, &revision))
            .await
            .map_err(ControllerError::kube)?;
        changed = true;
    }
    // RollingUpdate: the highest outdated pod goes, once every pod is Ready.
    let all_ready = by_ordinal.iter().all(|p| p.is_some_and(is_ready));
    if !changed
        && all_ready
        && let Some(p) = by_ordinal
            .iter()
            .rev()
            .flatten()
            .find(|p| p.labels().get(REVISION_LABEL) != Some(&revision))
    {
        delete(&pods_api, p).await?;
        changed = true;
    }
    let present: Vec<&Pod> = by_ordinal.iter().flatten().copied().collect();
    let ready = present.iter().filter(|p| is_ready(p)).count();
    let updated = present
        .iter()
        .filter(|p| p.labels().get(REVISION_LABEL) == Some(&revision))
        .count();
    let status = json!({
        "observedGeneration": s.metadata.generation,
        "replicas": present.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": updated,
        "updatedReplicas": updated,
        "currentRevision": revision,
        "updateRevision": revision,
    });
    let current = serde_json::to_value(&s.status).unwrap_or_default();
    let same = [
        "observedGeneration",
        "replicas",
        "readyReplicas",
        "updatedReplicas",
        "updateRevision",
    ]
    .iter()
    .all(|k| current.get(*k).unwrap_or(&json!(0)) == status.get(*k).unwrap_or(&json!(0)));
    if !same {
        let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await
        .map_err(ControllerError::kube)?;
    }
    Ok(Action::requeue(Duration::from_secs(if changed { 1 } else { 30 })))
}

async fn delete(api: &Api<Pod>, p: &Pod) -> Result<(), ControllerError> {
    match api.delete(&p.name_any(), &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(ControllerError::kube(e)),
    }
}

fn new_pod(s: &StatefulSet, ordinal: usize, revision: &str) -> Pod {
    let template = s.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    let name = format!("{}-{ordinal}", s.name_any());
    labels.insert(REVISION_LABEL.to_owned(), revision.to_owned());
    labels.insert("statefulset.kubernetes.io/pod-name".to_owned(), name.clone());
    labels.insert("apps.kubernetes.io/pod-index".to_owned(), ordinal.to_string());
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: s.namespace(),
            labels: Some(labels),
            annotations: meta.annotations,
            owner_references: s.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}
