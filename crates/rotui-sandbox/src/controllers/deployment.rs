//! The Deployment controller, folded: it manages a Deployment's pods
//! directly (no ReplicaSet objects), labelling each with the template's
//! `pod-template-hash`. A template change rolls out like the real one with
//! the RollingUpdate defaults (maxSurge 1, maxUnavailable 0): a new pod must
//! be Ready before an old one goes. Each reconcile takes one step; pod status
//! events bring the next.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use rand::Rng;
use serde_json::json;

use super::{ControllerError, fnv, now_rfc3339};
use rotui::secret::redact;

const HASH_LABEL: &str = "pod-template-hash";
/// Kubernetes' alphabet for generated names (no vowels, no look-alikes).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

struct Ctx {
    client: kube::Client,
    namespace: String,
}

pub(super) async fn run(client: kube::Client, namespace: String) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let ctx = Arc::new(Ctx { client, namespace });
    Controller::new(api, watcher::Config::default())
        .owns(pods, watcher::Config::default())
        .run(reconcile, |_, _, _| Action::requeue(Duration::from_secs(2)), ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %redact(&e.to_string()), "deployment controller");
            }
        })
        .await;
}

async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Result<Action, ControllerError> {
    if d.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = d.name_any();
    let spec = d.spec.clone().unwrap_or_default();
    let replicas = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
    let hash = template_hash(&spec.template);
    let (surge, unavailable) = rolling_limits(&spec, replicas);
    let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");

    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let uid = d.uid().unwrap_or_default();
    let mut pods: Vec<Pod> = pods_api
        .list(&ListParams::default())
        .await
        .map_err(ControllerError::kube)?
        .items
        .into_iter()
        .filter(|p| p.meta().deletion_timestamp.is_none())
        .filter(|p| p.owner_references().iter().any(|o| o.uid == uid))
        .collect();
    // Unready pods first, so they are the ones scaled away.
    pods.sort_by_key(is_ready);
    let new: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.labels().get(HASH_LABEL) == Some(&hash))
        .collect();
    let views: Vec<(bool, bool)> = pods
        .iter()
        .map(|p| (p.labels().get(HASH_LABEL) == Some(&hash), is_ready(p)))
        .collect();
    let limits = Limits {
        replicas,
        surge,
        unavailable,
        recreate,
    };
    // `kubectl rollout pause`: a template change waits until resumed.
    let (doomed, create) = if spec.paused == Some(true) {
        (vec![], 0)
    } else {
        plan(&views, limits)
    };
    let delete: Vec<&Pod> = doomed.into_iter().map(|i| &pods[i]).collect();

    for p in &delete {
        match pods_api.delete(&p.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(ControllerError::kube(e)),
        }
    }
    for _ in 0..create {
        pods_api
            .create(&PostParams::default(), &new_pod(&d, &hash))
            .await
            .map_err(ControllerError::kube)?;
    }

    let status = status(&d, &pods, &new, replicas, &hash);
    if !same_status(d.status.as_ref(), &status) {
        let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await
        .map_err(ControllerError::kube)?;
    }
    Ok(if delete.is_empty() && create == 0 {
        Action::requeue(Duration::from_secs(30))
    } else {
        Action::requeue(Duration::from_secs(1))
    })
}

#[derive(Clone, Copy, Debug)]
struct Limits {
    replicas: usize,
    surge: usize,
    unavailable: usize,
    recreate: bool,
}

/// One step of the rollout, from each pod's (has the current template,
/// is ready): which pods to delete (indices) and how many new ones to make.
/// RollingUpdate never goes above replicas + surge pods nor below
/// replicas - unavailable ready ones; pods that aren't ready count for
/// nothing and old ones of them go first. Recreate empties, then fills.
fn plan(pods: &[(bool, bool)], l: Limits) -> (Vec<usize>, usize) {
    let new: Vec<usize> = (0..pods.len()).filter(|&i| pods[i].0).collect();
    let old_unready: Vec<usize> = (0..pods.len()).filter(|&i| !pods[i].0 && !pods[i].1).collect();
    let old_ready: Vec<usize> = (0..pods.len()).filter(|&i| !pods[i].0 && pods[i].1).collect();
    let ready = pods.iter().filter(|p| p.1).count();
    let mut delete = Vec::new();
    let mut create = 0;
    if l.recreate {
        if old_unready.is_empty() && old_ready.is_empty() {
            create = l.replicas.saturating_sub(new.len());
        } else {
            delete.extend(old_unready.iter().chain(&old_ready));
        }
    } else {
        delete.extend(&old_unready);
        let total = pods.len() - old_unready.len();
        create = l
            .replicas
            .saturating_sub(new.len())
            .min((l.replicas + l.surge).saturating_sub(total));
        let can_remove = ready.saturating_sub(l.replicas.saturating_sub(l.unavailable));
        delete.extend(old_ready.iter().take(can_remove));
    }
    if new.len() > l.replicas {
        // Unready first: `pods` arrives sorted that way.
        delete.extend(new.iter().take(new.len() - l.replicas));
    }
    (delete, create)
}

/// maxSurge and maxUnavailable resolved against `replicas` as Kubernetes
/// does: surge rounds up, unavailability down, and both zero means one may
/// be unavailable.
fn rolling_limits(spec: &k8s_openapi::api::apps::v1::DeploymentSpec, replicas: usize) -> (usize, usize) {
    let ru = spec.strategy.as_ref().and_then(|s| s.rolling_update.as_ref());
    let resolve = |v: Option<&IntOrString>, default: usize, round_up: bool| match v {
        None => default,
        Some(IntOrString::Int(i)) => usize::try_from(*i).unwrap_or(0),
        Some(IntOrString::String(s)) => {
            let pct: usize = s.trim_end_matches('%').parse().unwrap_or(0);
            if round_up {
                (replicas * pct).div_ceil(100)
            } else {
                replicas * pct / 100
            }
        }
    };
    let surge = resolve(ru.and_then(|r| r.max_surge.as_ref()), 1, true);
    let unavailable = resolve(ru.and_then(|r| r.max_unavailable.as_ref()), 0, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A stable 10-character hash of the pod template, in the name alphabet.
fn template_hash(template: &k8s_openapi::api::core::v1::PodTemplateSpec) -> String {
    let mut h = fnv(serde_json::to_string(template).unwrap_or_default().as_bytes());
    (0..10)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

fn new_pod(d: &Deployment, hash: &str) -> Pod {
    let template = d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(HASH_LABEL.to_owned(), hash.to_owned());
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}-{suffix}", d.name_any())),
            namespace: d.namespace(),
            labels: Some(labels),
            annotations: meta.annotations,
            owner_references: d.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

fn status(d: &Deployment, pods: &[Pod], new: &[&Pod], replicas: usize, hash: &str) -> DeploymentStatus {
    let i = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let new_ready = new.iter().filter(|p| is_ready(p)).count();
    let available = ready >= replicas;
    let complete = new.len() == replicas && pods.len() == replicas && new_ready == replicas;
    let rs = format!("{}-{hash}", d.name_any());
    let old = d
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let cond = |type_: &str, status: bool, reason: &str, message: String| {
        let value = if status { "True" } else { "False" };
        let prev = old.iter().find(|c| c.type_ == type_);
        let since = prev
            .filter(|c| c.status == value)
            .and_then(|c| c.last_transition_time.clone());
        let changed = prev.is_none_or(|c| c.reason.as_deref() != Some(reason) || c.status != value);
        let updated = if changed {
            None
        } else {
            prev.and_then(|c| c.last_update_time.clone())
        };
        serde_json::from_value(json!({
            "type": type_,
            "status": value,
            "reason": reason,
            "message": message,
            "lastTransitionTime": since.map_or_else(|| json!(now_rfc3339()), |t| json!(t)),
            "lastUpdateTime": updated.map_or_else(|| json!(now_rfc3339()), |t| json!(t)),
        }))
        .expect("a well-formed DeploymentCondition")
    };
    let available_cond = if available {
        cond(
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
        )
    } else {
        cond(
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
        )
    };
    let progressing = if complete {
        cond(
            "Progressing",
            true,
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{rs}\" has successfully progressed."),
        )
    } else {
        cond(
            "Progressing",
            true,
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{rs}\" is progressing."),
        )
    };
    DeploymentStatus {
        observed_generation: d.meta().generation,
        replicas: Some(i(pods.len())),
        updated_replicas: Some(i(new.len())),
        ready_replicas: Some(i(ready)),
        available_replicas: Some(i(ready)),
        unavailable_replicas: Some(i(replicas.saturating_sub(ready))),
        conditions: Some(vec![available_cond, progressing]),
        ..Default::default()
    }
}

/// Equal but for condition timestamps (which we carry over anyway).
fn same_status(current: Option<&DeploymentStatus>, wanted: &DeploymentStatus) -> bool {
    let strip = |s: &DeploymentStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_transition_time = None;
            c.last_update_time = None;
        }
        s.unavailable_replicas = s.unavailable_replicas.filter(|n| *n != 0);
        s
    };
    current.is_some_and(|c| strip(c) == strip(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Play a rollout to the end: every step's new pods become ready before
    /// the next step. Returns the fewest ready pods seen and the most pods.
    fn roll(mut pods: Vec<(bool, bool)>, l: Limits) -> (usize, usize, Vec<(bool, bool)>) {
        let (mut min_ready, mut max_pods) = (usize::MAX, 0);
        for _ in 0..20 {
            pods.sort_by_key(|p| p.1);
            let (delete, create) = plan(&pods, l);
            if delete.is_empty() && create == 0 {
                break;
            }
            let mut next: Vec<_> = (0..pods.len())
                .filter(|i| !delete.contains(i))
                .map(|i| pods[i])
                .collect();
            next.extend(std::iter::repeat_n((true, false), create));
            max_pods = max_pods.max(next.len());
            min_ready = min_ready.min(next.iter().filter(|p| p.1).count());
            // The new pods connect and turn ready.
            pods = next.into_iter().map(|(n, r)| (n, r || n)).collect();
        }
        (min_ready, max_pods, pods)
    }

    #[test]
    fn rolling_update_surges_one_and_never_drops_below_replicas() {
        let l = Limits {
            replicas: 2,
            surge: 1,
            unavailable: 0,
            recreate: false,
        };
        let (min_ready, max_pods, end) = roll(vec![(false, true), (false, true)], l);
        assert_eq!((min_ready, max_pods), (2, 3));
        assert_eq!(end, vec![(true, true), (true, true)]);
    }

    #[test]
    fn a_new_pod_that_never_gets_ready_stalls_the_rollout_safely() {
        let l = Limits {
            replicas: 2,
            surge: 1,
            unavailable: 0,
            recreate: false,
        };
        let pods = vec![(true, false), (false, true), (false, true)];
        assert_eq!(
            plan(&pods, l),
            (vec![], 0),
            "nothing to do until the new pod is ready"
        );
    }

    #[test]
    fn crash_looping_old_pods_go_at_once_and_recreate_empties_first() {
        let l = Limits {
            replicas: 2,
            surge: 1,
            unavailable: 0,
            recreate: false,
        };
        let (delete, create) = plan(&[(false, false), (false, false)], l);
        assert_eq!((delete, create), (vec![0, 1], 2));
        let r = Limits { recreate: true, ..l };
        assert_eq!(plan(&[(false, true), (false, true)], r), (vec![0, 1], 0));
        assert_eq!(plan(&[], r), (vec![], 2));
        // Scaling down removes new pods, unready ones first.
        let down = Limits { replicas: 1, ..l };
        assert_eq!(plan(&[(true, false), (true, true)], down), (vec![0], 0));
    }

    #[test]
    fn limits_resolve_like_kubernetes() {
        let spec: k8s_openapi::api::apps::v1::DeploymentSpec = serde_json::from_value(serde_json::json!({
            "selector": {}, "template": {},
            "strategy": { "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } }
        }))
        .unwrap();
        assert_eq!(rolling_limits(&spec, 2), (1, 0));
        assert_eq!(rolling_limits(&spec, 4), (1, 1));
        let zero: k8s_openapi::api::apps::v1::DeploymentSpec = serde_json::from_value(serde_json::json!({
            "selector": {}, "template": {},
            "strategy": { "rollingUpdate": { "maxSurge": 0, "maxUnavailable": 0 } }
        }))
        .unwrap();
        assert_eq!(rolling_limits(&zero, 2), (0, 1));
    }
}
