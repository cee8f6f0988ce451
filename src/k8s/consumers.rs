//! Every consumer of the app's Secret: each workload in the namespace whose
//! pod template reads it (Deployments, StatefulSets, DaemonSets, CronJobs
//! and the Jobs they run), whichever app it belongs to, and per container
//! which keys it reads under which variable names. On the estate the web
//! Deployment is one consumer among several: `<app>-worker` (container
//! `worker`), CronJobs, and other apps (router reads content-store's Secret
//! as `CONTENT_STORE_DATABASE_URL`).
//!
//! The reading itself is pure ([`reads`], [`consumer`]) so it can be tested
//! over k8s-openapi objects; [`list`] asks the API server, and a kind it
//! does not serve (or RBAC denies) is reported in [`Consumers::unlisted`],
//! never fatal: a cluster without CronJobs still has Deployments to check.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::ResourceExt;
use serde::de::DeserializeOwned;

use super::secret_check::DATABASE_URL;
use super::{K8s, K8sError};

/// The kinds of workload whose pods may read a Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
    CronJob,
    Job,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::CronJob,
        Kind::Job,
    ];

    /// `Deployment`, as in `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::CronJob => "CronJob",
            Kind::Job => "Job",
        }
    }

    /// The REST resource, `deployments`.
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Deployment => "deployments",
            Kind::StatefulSet => "statefulsets",
            Kind::DaemonSet => "daemonsets",
            Kind::CronJob => "cronjobs",
            Kind::Job => "jobs",
        }
    }

    /// Rolled out by a controller that replaces its pods (so the rollout
    /// step waits for it), as opposed to CronJobs and Jobs, which read the
    /// Secret when their pods start.
    pub fn rolls_out(self) -> bool {
        matches!(self, Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet)
    }

    pub fn from_kind(kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == kind)
    }
}

/// One workload: `deployment/signon-worker`, as kubectl names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Workload {
    pub kind: Kind,
    pub name: String,
}

impl Workload {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Workload {
            kind,
            name: name.into(),
        }
    }

    /// `deployment/signon-worker` (as [`fmt::Display`] writes it) back to a workload.
    pub fn parse(s: &str) -> Option<Workload> {
        let (kind, name) = s.split_once('/')?;
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(kind))?;
        (!name.is_empty()).then(|| Workload::new(kind, name))
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str().to_ascii_lowercase(), self.name)
    }
}

/// How a container gets a key of the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadVia {
    /// `env[].valueFrom.secretKeyRef`.
    Env,
    /// `envFrom[].secretRef` (every key, under an optional prefix).
    EnvFrom,
    /// A secret or projected volume, mounted at this file path.
    Volume { path: String },
}

/// One key of the Secret as one container reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRead {
    pub key: String,
    /// The environment variable it becomes; `None` for a volume file.
    pub variable: Option<String>,
    pub source: ReadVia,
}

/// What one container reads from the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerReads {
    pub container: String,
    /// An init container: it ran once, at the pod's start.
    pub init: bool,
    pub reads: Vec<KeyRead>,
}

impl ContainerReads {
    /// `(key, variable)` for each credential key read into the environment:
    /// what the `env` check compares.
    pub fn credential_vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.reads.iter().filter_map(|r| {
            let var = r.variable.as_deref()?;
            is_credential_key(&r.key).then_some((r.key.as_str(), var))
        })
    }
}

/// A key holding database credentials: `DATABASE_URL`, and the estate's
/// variants of it (`REPLICA_DATABASE_URL`).
pub fn is_credential_key(key: &str) -> bool {
    key == DATABASE_URL || key.ends_with("_DATABASE_URL")
}

/// A workload reading the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub workload: Workload,
    /// The app it belongs to (label `app.kubernetes.io/name`, else `app`).
    pub app: Option<String>,
    /// Only the containers that read the Secret.
    pub containers: Vec<ContainerReads>,
    /// Its pods' label selector (`matchLabels`); `None` for a CronJob.
    pub selector: Option<String>,
    /// A Job's CronJob (its controller).
    pub owner: Option<Workload>,
    /// A Job's pods running now (`status.active`).
    pub active: i32,
}

impl Consumer {
    /// Some container reads a credential key into its environment.
    pub fn reads_credentials(&self) -> bool {
        self.containers
            .iter()
            .any(|c| c.credential_vars().next().is_some())
    }
}

/// A kind that could not be listed, and why (not served, RBAC denied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlisted {
    pub kind: Kind,
    pub reason: String,
}

/// The Secret's consumers in the namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consumers {
    /// The Secret's key names (values never read here).
    pub keys: Vec<String>,
    /// Sorted by kind, then name.
    pub consumers: Vec<Consumer>,
    pub unlisted: Vec<Unlisted>,
}

impl Consumers {
    pub fn get(&self, w: &Workload) -> Option<&Consumer> {
        self.consumers.iter().find(|c| &c.workload == w)
    }
}

/// Which containers of `spec` read `secret` (whose keys are `keys`), and how.
pub fn reads(spec: &PodSpec, secret: &str, keys: &[String]) -> Vec<ContainerReads> {
    // Volume name → the keys it shows and the file name of each.
    let mut volumes: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for v in spec.volumes.iter().flatten() {
        let mut files = vec![];
        if let Some(s) = v
            .secret
            .as_ref()
            .filter(|s| s.secret_name.as_deref() == Some(secret))
        {
            files.extend(items(s.items.as_deref(), keys));
        }
        for p in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = p.secret.as_ref().filter(|s| s.name == secret) {
                files.extend(items(s.items.as_deref(), keys));
            }
        }
        if !files.is_empty() {
            volumes.insert(&v.name, files);
        }
    }
    let containers = spec.init_containers.iter().flatten().map(|c| (c, true));
    let containers = containers.chain(spec.containers.iter().map(|c| (c, false)));
    containers
        .filter_map(|(c, init)| {
            let reads = container_reads(c, secret, keys, &volumes);
            (!reads.is_empty()).then(|| ContainerReads {
                container: c.name.clone(),
                init,
                reads,
            })
        })
        .collect()
}

/// `items` of a secret volume (key → path), or every key under its own name.
fn items(items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>, keys: &[String]) -> Vec<(String, String)> {
    match items {
        Some(items) => items.iter().map(|i| (i.key.clone(), i.path.clone())).collect(),
        None => keys.iter().map(|k| (k.clone(), k.clone())).collect(),
    }
}

fn container_reads(
    c: &Container,
    secret: &str,
    keys: &[String],
    volumes: &BTreeMap<&str, Vec<(String, String)>>,
) -> Vec<KeyRead> {
    let mut out: Vec<KeyRead> = vec![];
    // envFrom first: an `env` entry of the same name overrides it, as in kubelet.
    for from in c.env_from.iter().flatten() {
        if from.secret_ref.as_ref().is_some_and(|s| s.name == secret) {
            let prefix = from.prefix.as_deref().unwrap_or("");
            for k in keys {
                let var = format!("{prefix}{k}");
                out.retain(|r| r.variable.as_deref() != Some(var.as_str()));
                out.push(KeyRead {
                    key: k.clone(),
                    variable: Some(var),
                    source: ReadVia::EnvFrom,
                });
            }
        }
    }
    for e in c.env.iter().flatten() {
        let from_secret = e
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
            .filter(|r| r.name == secret);
        // Any `env` entry replaces an envFrom variable of that name.
        out.retain(|r| r.variable.as_deref() != Some(e.name.as_str()));
        if let Some(r) = from_secret {
            out.push(KeyRead {
                key: r.key.clone(),
                variable: Some(e.name.clone()),
                source: ReadVia::Env,
            });
        }
    }
    for m in c.volume_mounts.iter().flatten() {
        for (key, file) in volumes.get(m.name.as_str()).into_iter().flatten() {
            let path = match &m.sub_path {
                Some(sub) if sub == file => m.mount_path.clone(),
                Some(_) => continue,
                None => format!("{}/{file}", m.mount_path.trim_end_matches('/')),
            };
            out.push(KeyRead {
                key: key.clone(),
                variable: None,
                source: ReadVia::Volume { path },
            });
        }
    }
    out
}

fn selector_string(s: Option<&LabelSelector>) -> Option<String> {
    let labels = s?.match_labels.as_ref()?;
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn app_of(meta: &ObjectMeta) -> Option<String> {
    let labels = meta.labels.as_ref()?;
    labels
        .get("app.kubernetes.io/name")
        .or_else(|| labels.get("app"))
        .cloned()
}

/// A workload object as a [`Consumer`] of `secret`, when its pod template reads it.
pub trait PodTemplated: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug {
    const KIND: Kind;
    fn pod_spec(&self) -> Option<&PodSpec>;
    fn selector(&self) -> Option<String>;
    fn active(&self) -> i32 {
        0
    }
}

impl PodTemplated for Deployment {
    const KIND: Kind = Kind::Deployment;
    fn pod_spec(&self) -> Option<&PodSpec> {
        self.spec.as_ref()?.template.spec.as_ref()
    }
    fn selector(&self) -> Option<String> {
        selector_string(Some(&self.spec.as_ref()?.selector))
    }
}

impl PodTemplated for StatefulSet {
    const KIND: Kind = Kind::StatefulSet;
    fn pod_spec(&self) -> Option<&PodSpec> {
        self.spec.as_ref()?.template.spec.as_ref()
    }
    fn selector(&self) -> Option<String> {
        selector_string(Some(&self.spec.as_ref()?.selector))
    }
}

impl PodTemplated for DaemonSet {
    const KIND: Kind = Kind::DaemonSet;
    fn pod_spec(&self) -> Option<&PodSpec> {
        self.spec.as_ref()?.template.spec.as_ref()
    }
    fn selector(&self) -> Option<String> {
        selector_string(Some(&self.spec.as_ref()?.selector))
    }
}

impl PodTemplated for CronJob {
    const KIND: Kind = Kind::CronJob;
    fn pod_spec(&self) -> Option<&PodSpec> {
        self.spec
            .as_ref()?
            .job_template
            .spec
            .as_ref()?
            .template
            .spec
            .as_ref()
    }
    fn selector(&self) -> Option<String> {
        None
    }
}

impl PodTemplated for Job {
    const KIND: Kind = Kind::Job;
    fn pod_spec(&self) -> Option<&PodSpec> {
        self.spec.as_ref()?.template.spec.as_ref()
    }
    /// The Job controller labels its pods `job-name` (and `batch.kubernetes.io/job-name`).
    fn selector(&self) -> Option<String> {
        selector_string(self.spec.as_ref()?.selector.as_ref())
            .or_else(|| Some(format!("job-name={}", self.name_any())))
    }
    fn active(&self) -> i32 {
        self.status.as_ref().and_then(|s| s.active).unwrap_or(0)
    }
}

/// `obj` as a consumer of `secret`, or `None` when no container reads it.
pub fn consumer<K: PodTemplated>(obj: &K, secret: &str, keys: &[String]) -> Option<Consumer> {
    let containers = reads(obj.pod_spec()?, secret, keys);
    if containers.is_empty() {
        return None;
    }
    Some(Consumer {
        workload: Workload::new(K::KIND, obj.name_any()),
        app: app_of(obj.meta()),
        containers,
        selector: obj.selector(),
        owner: controller_of(obj.meta()),
        active: obj.active(),
    })
}

/// The workload kind/name that controls an object (its controller owner
/// reference), a ReplicaSet mapped to its Deployment.
fn controller_of(meta: &ObjectMeta) -> Option<Workload> {
    let owner = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))?;
    if owner.kind == "ReplicaSet" {
        // `<deployment>-<pod-template-hash>`.
        let hash = meta.labels.as_ref().and_then(|l| l.get("pod-template-hash"));
        let name = match hash.and_then(|h| owner.name.strip_suffix(&format!("-{h}"))) {
            Some(n) => n.to_owned(),
            None => owner
                .name
                .rsplit_once('-')
                .map_or(owner.name.clone(), |(n, _)| n.to_owned()),
        };
        return Some(Workload::new(Kind::Deployment, name));
    }
    Some(Workload::new(Kind::from_kind(&owner.kind)?, owner.name.clone()))
}

/// The workload a pod belongs to (its controller; a ReplicaSet's Deployment).
pub fn pod_workload(pod: &Pod) -> Option<Workload> {
    controller_of(&pod.metadata)
}

/// A pod's address, for naming the consumer behind a database connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodAddress {
    /// `status.podIP` (and every `status.podIPs`).
    pub ip: String,
    pub pod: String,
    pub workload: Option<Workload>,
}

/// Every address of each pod that has one.
pub fn pod_addresses<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Vec<PodAddress> {
    let mut out = vec![];
    for p in pods {
        let Some(status) = &p.status else { continue };
        let mut ips: Vec<&str> = status.pod_ip.as_deref().into_iter().collect();
        for ip in status.pod_ips.iter().flatten() {
            if !ips.contains(&ip.ip.as_str()) {
                ips.push(&ip.ip);
            }
        }
        for ip in ips {
            out.push(PodAddress {
                ip: ip.to_owned(),
                pod: p.name_any(),
                workload: pod_workload(p),
            });
        }
    }
    out.sort_by(|a, b| a.ip.cmp(&b.ip).then_with(|| a.pod.cmp(&b.pod)));
    out
}

/// The client address of a database connection (`10.0.3.7:53412`,
/// `[fd00::7]:53412`, `10.0.3.7`) without its port.
pub fn client_ip(client: &str) -> &str {
    if let Some(rest) = client.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match client.rsplit_once(':') {
        // One colon: host:port. More: a bare IPv6 address.
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => client,
    }
}

/// Who is behind a connection from `client`: `signon-worker-5d… (deployment/signon-worker)`;
/// when several pods share the address (host networking, a NAT), their
/// workload if they have one in common, else how many pods. `None` when
/// no pod has it.
pub fn attribute(client: &str, addresses: &[PodAddress]) -> Option<String> {
    attribute_among(client, addresses, None)
}

/// [`attribute`], knowing which workloads read the app's Secret
/// (`readers`, as `deployment/signon`) and whether the connection logs in as
/// the app's user (`app_user`): where several pods share the address (the
/// sandbox, host networking), the app's user's connection comes from a
/// reader's pod and anyone else's from another's, when that leaves any.
pub fn attribute_among(
    client: &str,
    addresses: &[PodAddress],
    readers: Option<(&[String], bool)>,
) -> Option<String> {
    let ip = client_ip(client);
    let mut pods: Vec<&PodAddress> = addresses.iter().filter(|a| a.ip == ip).collect();
    if let Some((readers, app_user)) = readers {
        let reads = |p: &PodAddress| {
            p.workload
                .as_ref()
                .is_some_and(|w| readers.contains(&w.to_string()))
        };
        let narrowed: Vec<&PodAddress> = pods.iter().copied().filter(|p| reads(p) == app_user).collect();
        if !narrowed.is_empty() {
            pods = narrowed;
        }
    }
    match pods.as_slice() {
        [] => None,
        [one] => Some(match &one.workload {
            Some(w) => format!("{} ({w})", one.pod),
            None => one.pod.clone(),
        }),
        [first, rest @ ..] => {
            let w = first.workload.as_ref();
            Some(
                match w.filter(|w| rest.iter().all(|p| p.workload.as_ref() == Some(w))) {
                    Some(w) => format!("{w} ({} pods)", pods.len()),
                    None => format!("one of {} pods", pods.len()),
                },
            )
        }
    }
}

/// The Secret's key names, `DATABASE_URL` when it cannot be read (envFrom
/// then still shows the key that matters).
pub(crate) async fn secret_keys(k8s: &K8s, secret: &str) -> Result<Vec<String>, K8sError> {
    match k8s.api::<Secret>().get(secret).await {
        Ok(s) => {
            let mut keys: Vec<String> = s.data.iter().flat_map(|d| d.keys().cloned()).collect();
            keys.extend(s.string_data.iter().flat_map(|d| d.keys().cloned()));
            keys.sort();
            keys.dedup();
            Ok(keys)
        }
        Err(e) => match k8s.op("get", "secrets").named(secret).err(e) {
            e @ (K8sError::Unreachable { .. } | K8sError::Unauthorized { .. }) => Err(e),
            _ => Ok(vec![DATABASE_URL.to_owned()]),
        },
    }
}

/// Why a kind could not be listed, when that is no reason to stop.
fn unlisted(kind: Kind, e: K8sError) -> Result<Unlisted, K8sError> {
    Ok(Unlisted {
        kind,
        reason: why_unlisted(e)?,
    })
}

/// Why a listing failed, when that is no reason to stop (not served, RBAC).
pub(crate) fn why_unlisted(e: K8sError) -> Result<String, K8sError> {
    match e {
        K8sError::NotFound { .. } => Ok("not served by the API server".to_owned()),
        K8sError::Forbidden { message, .. } => Ok(format!("listing denied (RBAC): {message}")),
        e => Err(e),
    }
}

async fn list_kind<K>(k8s: &K8s, secret: &str, keys: &[String], out: &mut Consumers) -> Result<(), K8sError>
where
    K: PodTemplated + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let found = list_objects::<K>(k8s, secret, keys, &mut out.unlisted).await?;
    out.consumers.extend(found.into_iter().map(|(_, c)| c));
    Ok(())
}

/// Every object of kind `K` reading `secret`, with its [`Consumer`]; a kind
/// that cannot be listed goes to `unlisted`. (The blast radius reads more
/// of each object than a [`Consumer`] keeps.)
pub(crate) async fn list_objects<K>(
    k8s: &K8s,
    secret: &str,
    keys: &[String],
    unlisted_kinds: &mut Vec<Unlisted>,
) -> Result<Vec<(K, Consumer)>, K8sError>
where
    K: PodTemplated + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    match k8s.api::<K>().list(&Default::default()).await {
        Ok(list) => Ok(list
            .items
            .into_iter()
            .filter_map(|o| consumer(&o, secret, keys).map(|c| (o, c)))
            .collect()),
        Err(e) => {
            unlisted_kinds.push(unlisted(K::KIND, k8s.op("list", K::KIND.resource()).err(e))?);
            Ok(vec![])
        }
    }
}

/// Every workload in the namespace that reads `secret`. Jobs are listed
/// only while they run pods (`status.active`): a finished Job holds nothing.
pub async fn list(k8s: &K8s, secret: &str) -> Result<Consumers, K8sError> {
    let keys = secret_keys(k8s, secret).await?;
    let mut out = Consumers {
        keys: keys.clone(),
        ..Default::default()
    };
    list_kind::<Deployment>(k8s, secret, &keys, &mut out).await?;
    list_kind::<StatefulSet>(k8s, secret, &keys, &mut out).await?;
    list_kind::<DaemonSet>(k8s, secret, &keys, &mut out).await?;
    list_kind::<CronJob>(k8s, secret, &keys, &mut out).await?;
    list_kind::<Job>(k8s, secret, &keys, &mut out).await?;
    out.consumers
        .retain(|c| c.workload.kind != Kind::Job || c.active > 0);
    out.consumers.sort_by(|a, b| a.workload.cmp(&b.workload));
    Ok(out)
}

/// Every pod address in the namespace.
pub async fn list_pod_addresses(k8s: &K8s) -> Result<Vec<PodAddress>, K8sError> {
    let pods = k8s
        .api::<Pod>()
        .list(&Default::default())
        .await
        .map_err(|e| k8s.op("list", "pods").err(e))?;
    Ok(pod_addresses(&pods.items))
}

/// Watch every pod address in the namespace: yields the whole list once
/// the pods are listed and after each change of it. Errors are yielded and
/// the watch retries with backoff.
pub fn watch_pod_addresses(
    k8s: &K8s,
) -> impl futures::Stream<Item = Result<Vec<PodAddress>, K8sError>> + Send + 'static {
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let k8s = k8s.clone();
    async_stream::stream! {
        let events = watcher(k8s.api::<Pod>(), watcher::Config::default()).default_backoff();
        let mut events = std::pin::pin!(events);
        let mut pods: BTreeMap<String, Pod> = BTreeMap::new();
        let mut buffer: Option<BTreeMap<String, Pod>> = None;
        let mut listed = false;
        let mut last: Option<Vec<PodAddress>> = None;
        while let Some(ev) = events.next().await {
            match ev {
                Ok(watcher::Event::Init) => buffer = Some(BTreeMap::new()),
                Ok(watcher::Event::InitApply(p)) => {
                    buffer.get_or_insert_with(BTreeMap::new).insert(p.name_any(), p);
                    continue;
                }
                Ok(watcher::Event::InitDone) => {
                    pods = buffer.take().unwrap_or_default();
                    listed = true;
                }
                Ok(watcher::Event::Apply(p)) => {
                    pods.insert(p.name_any(), p);
                }
                Ok(watcher::Event::Delete(p)) => {
                    pods.remove(&p.name_any());
                }
                Err(e) => {
                    yield Err(k8s.op("watch", "pods").watch_err(e));
                    continue;
                }
            }
            if !listed {
                continue;
            }
            let now = pod_addresses(pods.values());
            if last.as_ref() != Some(&now) {
                last = Some(now.clone());
                yield Ok(now);
            }
        }
    }
}

/// `worker: DATABASE_URL`, `app: CONTENT_STORE_DATABASE_URL ← DATABASE_URL`,
/// `app: file /etc/db/url ← DATABASE_URL`: what each container reads.
pub fn describe_reads(c: &Consumer) -> String {
    c.containers
        .iter()
        .map(|k| {
            let reads: Vec<String> = k
                .reads
                .iter()
                .map(|r| match (&r.variable, &r.source) {
                    (Some(v), _) if v == &r.key => v.clone(),
                    (Some(v), _) => format!("{v} ← {}", r.key),
                    (None, ReadVia::Volume { path }) => format!("file {path} ← {}", r.key),
                    (None, _) => r.key.clone(),
                })
                .collect();
            let init = if k.init { " (init)" } else { "" };
            format!("{}{init}: {}", k.container, reads.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
