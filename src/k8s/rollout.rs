//! The app's rollout after its Secret changed: the Deployment's progress
//! (generation, updated/ready/available replicas, conditions, Reloader's
//! `last-reloaded-from`), and its pods split into those started before and
//! after the change — watched, so the dashboard follows it live.

use std::collections::BTreeMap;
use std::pin::pin;

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::consumers::{Kind, Workload};
use super::{K8s, K8sError};

/// Stakater Reloader writes this into the pod template when it restarts the app.
pub const LAST_RELOADED_FROM: &str = "reloader.stakater.com/last-reloaded-from";

/// A Deployment's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutStatus {
    pub name: String,
    pub generation: i64,
    pub observed_generation: i64,
    /// `spec.replicas`.
    pub desired: i32,
    /// All pods, old and new (`status.replicas`).
    pub replicas: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub conditions: Vec<DeployCondition>,
    /// Reloader's annotation on the pod template, if it ever restarted the app.
    pub last_reloaded_from: Option<String>,
    /// `spec.selector.matchLabels`, as a label selector string.
    pub selector: String,
    /// `spec.paused` (`kubectl rollout pause`): it rolls nothing until resumed.
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployCondition {
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
}

impl From<&Deployment> for RolloutStatus {
    fn from(d: &Deployment) -> Self {
        let spec = d.spec.clone().unwrap_or_default();
        let status = d.status.clone().unwrap_or_default();
        let selector = spec
            .selector
            .match_labels
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        RolloutStatus {
            name: d.name_any(),
            generation: d.metadata.generation.unwrap_or(0),
            observed_generation: status.observed_generation.unwrap_or(0),
            desired: spec.replicas.unwrap_or(1),
            replicas: status.replicas.unwrap_or(0),
            updated: status.updated_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            conditions: status
                .conditions
                .unwrap_or_default()
                .into_iter()
                .map(|c| DeployCondition {
                    type_: c.type_,
                    status: c.status,
                    reason: c.reason,
                    message: c.message,
                })
                .collect(),
            last_reloaded_from: spec
                .template
                .metadata
                .and_then(|m| m.annotations)
                .and_then(|a| a.get(LAST_RELOADED_FROM).cloned()),
            selector,
            paused: spec.paused == Some(true),
        }
    }
}

impl RolloutStatus {
    /// The rollout is done, as `kubectl rollout status` decides it: the
    /// controller has seen the latest spec, every replica is updated and
    /// available, and no old replica is left.
    pub fn is_complete(&self) -> bool {
        self.observed_generation >= self.generation
            && self.updated >= self.desired
            && self.replicas <= self.updated
            && self.available >= self.updated
    }

    /// Why the rollout has failed (progress deadline exceeded), if it has.
    pub fn failure(&self) -> Option<String> {
        self.conditions
            .iter()
            .find(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
            .map(|c| {
                c.message
                    .clone()
                    .unwrap_or_else(|| "progress deadline exceeded".into())
            })
    }

    /// `2/3 updated, 2 ready, 2 available (generation 4 observed)`.
    pub fn summary(&self) -> String {
        let observed = if self.observed_generation >= self.generation {
            String::new()
        } else {
            format!(", controller has not seen generation {} yet", self.generation)
        };
        format!(
            "{}/{} updated, {} ready, {} available, {} total{observed}",
            self.updated, self.desired, self.ready, self.available, self.replicas
        )
    }
}

/// One pod of the Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub name: String,
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    pub phase: String,
    /// The Ready condition is True.
    pub ready: bool,
    /// `status.startTime`, else the creation time.
    pub started: Option<DateTime<Utc>>,
    /// Being deleted (`metadata.deletionTimestamp` set).
    pub terminating: bool,
    /// Its containers' restarts, summed (`restartCount`): a crash loop grows it.
    pub restarts: i32,
    /// A container's waiting reason (`CrashLoopBackOff`, `CreateContainerConfigError`).
    pub waiting: Option<String>,
}

impl From<&Pod> for PodInfo {
    fn from(p: &Pod) -> Self {
        let status = p.status.clone().unwrap_or_default();
        PodInfo {
            name: p.name_any(),
            phase: status.phase.unwrap_or_else(|| "Unknown".into()),
            ready: status
                .conditions
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True"),
            started: status
                .start_time
                .map(|t| t.0)
                .or_else(|| p.metadata.creation_timestamp.clone().map(|t| t.0))
                .and_then(|t| DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)),
            terminating: p.metadata.deletion_timestamp.is_some(),
            restarts: status
                .container_statuses
                .iter()
                .flatten()
                .map(|c| c.restart_count)
                .sum(),
            waiting: status
                .container_statuses
                .iter()
                .flatten()
                .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone()),
        }
    }
}

impl PodInfo {
    /// Running, ready and not on its way out: fit for the `env` check.
    pub fn is_serving(&self) -> bool {
        self.phase == "Running" && self.ready && !self.terminating
    }

    /// Started at or after `t`, so it read the Secret as it was at `t` or
    /// later. Kubernetes times have whole seconds, so `t` is compared by its
    /// second: a pod started in the second the Secret changed counts as after.
    pub fn started_after(&self, t: DateTime<Utc>) -> bool {
        self.started.is_some_and(|s| s.timestamp() >= t.timestamp())
    }
}

/// The Deployment and its pods at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutSnapshot {
    /// `None` when the Deployment does not exist (any more).
    pub deployment: Option<RolloutStatus>,
    /// Sorted by start time, oldest first.
    pub pods: Vec<PodInfo>,
}

impl RolloutSnapshot {
    /// Pods started before `t` (still using the old Secret) and at/after it.
    pub fn split(&self, t: DateTime<Utc>) -> (Vec<&PodInfo>, Vec<&PodInfo>) {
        self.pods.iter().partition(|p| !p.started_after(t))
    }

    /// The rollout is complete and no pod started before `t` is left — the
    /// app now runs only with what the Secret held at `t` or later.
    pub fn complete_since(&self, t: DateTime<Utc>) -> bool {
        self.deployment.as_ref().is_some_and(RolloutStatus::is_complete)
            && self.split(t).0.is_empty()
            && self.pods.iter().any(PodInfo::is_serving)
    }
}

/// Read the Deployment.
pub async fn get(k8s: &K8s, name: &str) -> Result<RolloutStatus, K8sError> {
    let d = k8s
        .api::<Deployment>()
        .get(name)
        .await
        .map_err(|e| k8s.op("get", "deployments").named(name).err(e))?;
    Ok(RolloutStatus::from(&d))
}

/// The Deployment's pods (by its matchLabels), oldest first.
pub async fn pods(k8s: &K8s, deployment: &RolloutStatus) -> Result<Vec<PodInfo>, K8sError> {
    let list = k8s
        .api::<Pod>()
        .list(&kube::api::ListParams::default().labels(&deployment.selector))
        .await
        .map_err(|e| k8s.op("list", "pods").err(e))?;
    let mut pods: Vec<PodInfo> = list.items.iter().map(PodInfo::from).collect();
    sort(&mut pods);
    Ok(pods)
}

/// The Deployment and its pods now.
pub async fn snapshot(k8s: &K8s, name: &str) -> Result<RolloutSnapshot, K8sError> {
    let d = get(k8s, name).await?;
    let pods = pods(k8s, &d).await?;
    Ok(RolloutSnapshot {
        deployment: Some(d),
        pods,
    })
}

/// The progress of any workload that rolls out (Deployment, StatefulSet,
/// DaemonSet), in the terms `kubectl rollout status` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadRollout {
    pub workload: Workload,
    pub complete: bool,
    pub summary: String,
    /// Its pods' label selector.
    pub selector: String,
    /// The workload's own annotations (Reloader's are read from them).
    pub annotations: BTreeMap<String, String>,
    /// Desired pods, and how many are available now.
    pub desired: i32,
    pub available: i32,
    /// The fewest available pods its strategy allows while it rolls:
    /// replicas − maxUnavailable (a percentage rounded down, as the
    /// controllers do); 0 for Recreate and OnDelete.
    pub min_available: i32,
    /// A Deployment paused (`kubectl rollout pause`): it rolls nothing until resumed.
    pub paused: bool,
}

/// `maxUnavailable` of `desired` pods, as the controllers resolve it: a
/// percentage rounds down (`25%` of 2 is 0), absent is `default`.
pub fn max_unavailable(v: Option<&IntOrString>, desired: i32, default: i32) -> i32 {
    match v {
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => s
            .trim_end_matches('%')
            .parse::<i64>()
            .map_or(default, |p| (i64::from(desired) * p / 100) as i32),
        None => default,
    }
}

impl From<&Deployment> for WorkloadRollout {
    fn from(dep: &Deployment) -> Self {
        let d = RolloutStatus::from(dep);
        let strategy = dep.spec.as_ref().and_then(|s| s.strategy.as_ref());
        let min_available = if strategy.and_then(|s| s.type_.as_deref()) == Some("Recreate") {
            0
        } else {
            // Kubernetes' default maxUnavailable for a Deployment: 25%.
            let default = max_unavailable(Some(&IntOrString::String("25%".into())), d.desired, 0);
            let max = strategy
                .and_then(|s| s.rolling_update.as_ref())
                .and_then(|r| r.max_unavailable.as_ref());
            d.desired - max_unavailable(max, d.desired, default)
        };
        WorkloadRollout {
            workload: Workload::new(Kind::Deployment, d.name.clone()),
            complete: d.is_complete(),
            summary: d.summary(),
            selector: d.selector.clone(),
            annotations: dep.annotations().clone(),
            desired: d.desired,
            available: d.available,
            min_available,
            paused: d.paused,
        }
    }
}

fn match_labels(s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector) -> String {
    s.match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn observed(generation: Option<i64>, observed: Option<i64>) -> (bool, String) {
    let (g, o) = (generation.unwrap_or(0), observed.unwrap_or(0));
    if o >= g {
        (true, String::new())
    } else {
        (false, format!(", controller has not seen generation {g} yet"))
    }
}

impl From<&StatefulSet> for WorkloadRollout {
    /// Complete as kubectl decides for RollingUpdate: every replica updated
    /// and ready, on the update revision.
    fn from(s: &StatefulSet) -> Self {
        let spec = s.spec.clone().unwrap_or_default();
        let st = s.status.clone().unwrap_or_default();
        let desired = spec.replicas.unwrap_or(1);
        let (seen, note) = observed(s.metadata.generation, st.observed_generation);
        let updated = st.updated_replicas.unwrap_or(0);
        let ready = st.ready_replicas.unwrap_or(0);
        let same_revision = st.update_revision.is_none() || st.current_revision == st.update_revision;
        WorkloadRollout {
            workload: Workload::new(Kind::StatefulSet, s.name_any()),
            complete: seen
                && updated >= desired
                && ready >= desired
                && st.replicas <= desired
                && same_revision,
            summary: format!(
                "{updated}/{desired} updated, {ready} ready, {} total{note}",
                st.replicas
            ),
            selector: match_labels(&spec.selector),
            annotations: s.annotations().clone(),
            desired,
            available: st.available_replicas.unwrap_or(ready),
            min_available: match spec.update_strategy.as_ref().and_then(|u| u.type_.as_deref()) {
                Some("OnDelete") => 0,
                _ => {
                    let max = spec
                        .update_strategy
                        .as_ref()
                        .and_then(|u| u.rolling_update.as_ref())
                        .and_then(|r| r.max_unavailable.as_ref());
                    desired - max_unavailable(max, desired, 1)
                }
            },
            paused: false,
        }
    }
}

impl From<&DaemonSet> for WorkloadRollout {
    /// Complete when every scheduled pod is updated and available.
    fn from(d: &DaemonSet) -> Self {
        let spec = d.spec.clone().unwrap_or_default();
        let st = d.status.clone().unwrap_or_default();
        let (seen, note) = observed(d.metadata.generation, st.observed_generation);
        let desired = st.desired_number_scheduled;
        let updated = st.updated_number_scheduled.unwrap_or(0);
        let available = st.number_available.unwrap_or(0);
        WorkloadRollout {
            workload: Workload::new(Kind::DaemonSet, d.name_any()),
            complete: seen && updated >= desired && available >= desired,
            summary: format!("{updated}/{desired} updated, {available} available{note}"),
            selector: match_labels(&spec.selector),
            annotations: d.annotations().clone(),
            desired,
            available,
            min_available: match spec.update_strategy.as_ref().and_then(|u| u.type_.as_deref()) {
                Some("OnDelete") => 0,
                _ => {
                    let max = spec
                        .update_strategy
                        .as_ref()
                        .and_then(|u| u.rolling_update.as_ref())
                        .and_then(|r| r.max_unavailable.as_ref());
                    desired - max_unavailable(max, desired, 1)
                }
            },
            paused: false,
        }
    }
}

/// A Deployment's, StatefulSet's or DaemonSet's rollout; `None` when it does
/// not exist (any more) or its kind does not roll out.
pub async fn workload(k8s: &K8s, w: &Workload) -> Result<Option<WorkloadRollout>, K8sError> {
    async fn one<K>(k8s: &K8s, name: &str, resource: &str) -> Result<Option<K>, K8sError>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        match k8s.api::<K>().get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) => match k8s.op("get", resource).named(name).err(e) {
                K8sError::NotFound { .. } => Ok(None),
                e => Err(e),
            },
        }
    }
    let name = &w.name;
    Ok(match w.kind {
        Kind::Deployment => one::<Deployment>(k8s, name, "deployments")
            .await?
            .map(|d| WorkloadRollout::from(&d)),
        Kind::StatefulSet => one::<StatefulSet>(k8s, name, "statefulsets")
            .await?
            .map(|s| WorkloadRollout::from(&s)),
        Kind::DaemonSet => one::<DaemonSet>(k8s, name, "daemonsets")
            .await?
            .map(|d| WorkloadRollout::from(&d)),
        Kind::CronJob | Kind::Job => None,
    })
}

/// The pods matching a label selector, oldest first.
pub async fn pods_matching(k8s: &K8s, selector: &str) -> Result<Vec<PodInfo>, K8sError> {
    let list = k8s
        .api::<Pod>()
        .list(&kube::api::ListParams::default().labels(selector))
        .await
        .map_err(|e| k8s.op("list", "pods").err(e))?;
    let mut pods: Vec<PodInfo> = list.items.iter().map(PodInfo::from).collect();
    sort(&mut pods);
    Ok(pods)
}

/// The pod-template annotation `kubectl rollout restart` writes.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// `kubectl rollout restart`: write `at` (RFC 3339) as the pod template's
/// [`RESTARTED_AT`], which changes the template and so rolls every pod, by
/// the workload's own strategy. A kind that does not roll out is refused.
pub async fn restart(k8s: &K8s, w: &Workload, at: &str) -> Result<(), K8sError> {
    let patch = serde_json::json!({ "spec": { "template": { "metadata": { "annotations": {
        RESTARTED_AT: at,
    }}}}});
    let (params, patch) = (PatchParams::default(), Patch::Merge(&patch));
    let resource = w.kind.resource();
    let done = match w.kind {
        Kind::Deployment => k8s
            .api::<Deployment>()
            .patch(&w.name, &params, &patch)
            .await
            .map(drop),
        Kind::StatefulSet => k8s
            .api::<StatefulSet>()
            .patch(&w.name, &params, &patch)
            .await
            .map(drop),
        Kind::DaemonSet => k8s
            .api::<DaemonSet>()
            .patch(&w.name, &params, &patch)
            .await
            .map(drop),
        Kind::CronJob | Kind::Job => {
            return Err(K8sError::Invalid(format!(
                "{w} does not roll out: nothing to restart"
            )));
        }
    };
    done.map_err(|e| k8s.op("patch", resource).named(&w.name).err(e))
}

/// `kubectl rollout pause` (`paused`) or `resume` of a Deployment.
pub async fn set_paused(k8s: &K8s, name: &str, paused: bool) -> Result<(), K8sError> {
    let patch = serde_json::json!({ "spec": { "paused": paused } });
    k8s.api::<Deployment>()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(|e| k8s.op("patch", "deployments").named(name).err(e))
}

fn sort(pods: &mut [PodInfo]) {
    pods.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.name.cmp(&b.name)));
}

enum Change {
    Deployment(Box<watcher::Result<watcher::Event<Deployment>>>),
    Pod(Box<watcher::Result<watcher::Event<Pod>>>),
}

/// Watch the Deployment and its pods; yields a snapshot once both are
/// listed and after every change. Errors are yielded and the watches retry
/// with backoff. The pod selector is read once, at the start.
pub fn watch(
    k8s: &K8s,
    name: &str,
) -> impl Stream<Item = Result<RolloutSnapshot, K8sError>> + Send + 'static {
    let k8s = k8s.clone();
    let name = name.to_owned();
    async_stream::stream! {
        let first = match get(&k8s, &name).await {
            Ok(d) => d,
            Err(e) => {
                yield Err(e);
                return;
            }
        };
        let deployments: Api<Deployment> = k8s.api();
        let pod_api: Api<Pod> = k8s.api();
        let d_cfg = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let p_cfg = watcher::Config::default().labels(&first.selector);
        let d_events = watcher(deployments, d_cfg).default_backoff().map(|e| Change::Deployment(Box::new(e)));
        let p_events = watcher(pod_api, p_cfg).default_backoff().map(|e| Change::Pod(Box::new(e)));
        let mut events = pin!(futures::stream::select(d_events, p_events));

        let mut deployment = Some(first);
        let mut pods: BTreeMap<String, PodInfo> = BTreeMap::new();
        // Lists in progress are buffered so a relist never shows half a world.
        let mut pod_buffer: Option<BTreeMap<String, PodInfo>> = None;
        let mut d_seen = false;
        let (mut d_listed, mut p_listed) = (false, false);
        let mut last: Option<RolloutSnapshot> = None;
        while let Some(change) = events.next().await {
            match change {
                Change::Deployment(ev) => match *ev {
                    Ok(watcher::Event::Init) => d_seen = false,
                    Ok(watcher::Event::InitApply(d) | watcher::Event::Apply(d)) if d.name_any() == name => {
                        d_seen = true;
                        deployment = Some(RolloutStatus::from(&d));
                    }
                    Ok(watcher::Event::Delete(d)) if d.name_any() == name => deployment = None,
                    Ok(watcher::Event::InitDone) => {
                        d_listed = true;
                        if !d_seen {
                            deployment = None;
                        }
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        yield Err(k8s.op("watch", "deployments").named(&name).watch_err(e));
                        continue;
                    }
                },
                Change::Pod(ev) => match *ev {
                    Ok(watcher::Event::Init) => pod_buffer = Some(BTreeMap::new()),
                    Ok(watcher::Event::InitApply(p)) => {
                        pod_buffer.get_or_insert_with(BTreeMap::new).insert(p.name_any(), PodInfo::from(&p));
                    }
                    Ok(watcher::Event::InitDone) => {
                        pods = pod_buffer.take().unwrap_or_default();
                        p_listed = true;
                    }
                    Ok(watcher::Event::Apply(p)) => {
                        pods.insert(p.name_any(), PodInfo::from(&p));
                    }
                    Ok(watcher::Event::Delete(p)) => {
                        pods.remove(&p.name_any());
                    }
                    Err(e) => {
                        yield Err(k8s.op("watch", "pods").watch_err(e));
                        continue;
                    }
                },
            }
            if !(d_listed && p_listed) {
                continue;
            }
            let mut list: Vec<PodInfo> = pods.values().cloned().collect();
            sort(&mut list);
            let snap = RolloutSnapshot { deployment: deployment.clone(), pods: list };
            if last.as_ref() != Some(&snap) {
                last = Some(snap.clone());
                yield Ok(snap);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(
        gen_: i64,
        observed: i64,
        desired: i32,
        replicas: i32,
        updated: i32,
        available: i32,
    ) -> RolloutStatus {
        RolloutStatus {
            name: "signon".into(),
            generation: gen_,
            observed_generation: observed,
            desired,
            replicas,
            updated,
            ready: available,
            available,
            conditions: vec![],
            last_reloaded_from: None,
            selector: "app=signon".into(),
            paused: false,
        }
    }

    #[test]
    fn completion_needs_every_replica_new_and_available() {
        assert!(status(2, 2, 2, 2, 2, 2).is_complete());
        assert!(
            !status(3, 2, 2, 2, 2, 2).is_complete(),
            "new generation not observed"
        );
        assert!(!status(2, 2, 2, 3, 2, 2).is_complete(), "an old pod remains");
        assert!(!status(2, 2, 2, 2, 2, 1).is_complete(), "one not yet available");
        assert!(!status(2, 2, 2, 2, 1, 1).is_complete());
    }

    #[test]
    fn statefulsets_and_daemonsets_complete_like_kubectl_says() {
        let sts = |updated: i32, ready: i32, cur: &str, upd: &str| -> StatefulSet {
            serde_json::from_value(serde_json::json!({
                "metadata": { "name": "sync", "generation": 2 },
                "spec": { "replicas": 2, "serviceName": "sync", "selector": { "matchLabels": { "app": "sync" } },
                          "template": {} },
                "status": { "observedGeneration": 2, "replicas": 2, "updatedReplicas": updated,
                            "readyReplicas": ready, "currentRevision": cur, "updateRevision": upd }
            }))
            .unwrap()
        };
        let done = WorkloadRollout::from(&sts(2, 2, "r2", "r2"));
        assert!(done.complete, "{done:?}");
        assert_eq!(done.workload.to_string(), "statefulset/sync");
        assert_eq!(done.selector, "app=sync");
        assert!(!WorkloadRollout::from(&sts(1, 2, "r1", "r2")).complete);
        assert!(
            !WorkloadRollout::from(&sts(2, 2, "r1", "r2")).complete,
            "revision not switched yet"
        );

        let ds = |updated: i32, available: i32| -> DaemonSet {
            serde_json::from_value(serde_json::json!({
                "metadata": { "name": "agent", "generation": 1 },
                "spec": { "selector": { "matchLabels": { "app": "agent" } }, "template": {} },
                "status": { "observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
                            "numberMisscheduled": 0, "numberReady": available,
                            "updatedNumberScheduled": updated, "numberAvailable": available }
            }))
            .unwrap()
        };
        assert!(WorkloadRollout::from(&ds(3, 3)).complete);
        assert!(!WorkloadRollout::from(&ds(2, 3)).complete);
        assert_eq!(
            WorkloadRollout::from(&ds(2, 3)).summary,
            "2/3 updated, 3 available"
        );
    }

    #[test]
    fn strategies_floor_available_pods_as_the_controllers_round() {
        let pct = |s: &str| IntOrString::String(s.into());
        assert_eq!(
            max_unavailable(Some(&pct("25%")), 2, 9),
            0,
            "25% of 2 rounds down"
        );
        assert_eq!(max_unavailable(Some(&pct("50%")), 3, 9), 1);
        assert_eq!(max_unavailable(Some(&IntOrString::Int(1)), 3, 9), 1);
        assert_eq!(max_unavailable(None, 3, 1), 1, "the kind's default");
        let dep = |strategy: serde_json::Value| -> Deployment {
            serde_json::from_value(serde_json::json!({
                "metadata": { "name": "web", "generation": 1, "annotations": { "a": "b" } },
                "spec": { "replicas": 4, "selector": { "matchLabels": { "app": "web" } },
                          "template": {}, "strategy": strategy, "paused": true },
                "status": { "observedGeneration": 1, "replicas": 4, "updatedReplicas": 4,
                            "readyReplicas": 3, "availableReplicas": 3 }
            }))
            .unwrap()
        };
        let w = WorkloadRollout::from(&dep(serde_json::json!({})));
        assert_eq!(
            (w.desired, w.available, w.min_available),
            (4, 3, 3),
            "default 25%"
        );
        assert!(w.paused);
        assert_eq!(w.annotations.get("a").map(String::as_str), Some("b"));
        let w = WorkloadRollout::from(&dep(serde_json::json!({ "type": "Recreate" })));
        assert_eq!(w.min_available, 0);
        let w = WorkloadRollout::from(&dep(
            serde_json::json!({ "rollingUpdate": { "maxUnavailable": 0 } }),
        ));
        assert_eq!(w.min_available, 4);
    }

    #[test]
    fn pods_split_at_the_secret_change() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let pod = |name: &str, at: &str| PodInfo {
            name: name.into(),
            phase: "Running".into(),
            ready: true,
            started: Some(t(at)),
            terminating: false,
            restarts: 0,
            waiting: None,
        };
        let snap = RolloutSnapshot {
            deployment: Some(status(2, 2, 1, 1, 1, 1)),
            pods: vec![
                pod("old", "2026-01-21T09:00:00Z"),
                pod("new", "2026-01-21T10:05:00Z"),
            ],
        };
        let change = t("2026-01-21T10:00:00Z");
        let (before, after) = snap.split(change);
        assert_eq!(before[0].name, "old");
        assert_eq!(after[0].name, "new");
        assert!(!snap.complete_since(change), "an old pod still runs");
        let done = RolloutSnapshot {
            pods: vec![pod("new", "2026-01-21T10:05:00Z")],
            ..snap
        };
        assert!(done.complete_since(change));
    }
}
