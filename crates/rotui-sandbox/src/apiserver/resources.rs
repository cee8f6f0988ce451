//! The kinds this API server serves, and how each behaves.

/// One served resource type.
#[derive(Debug)]
pub struct ResourceType {
    pub group: &'static str,
    /// Served versions, preferred (storage) version first.
    pub versions: &'static [&'static str],
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// Has a `/status` subresource: status is ignored on the main resource
    /// and everything but status is ignored on `/status`.
    pub status_subresource: bool,
    /// Has `metadata.generation`, bumped when the spec changes.
    pub generation: bool,
}

#[allow(clippy::too_many_arguments)] // a table row, read positionally
const fn rt(
    group: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    status_subresource: bool,
    generation: bool,
) -> ResourceType {
    ResourceType {
        group,
        versions,
        plural,
        singular,
        kind,
        namespaced,
        short_names,
        status_subresource,
        generation,
    }
}

/// Every served type; the index into this table identifies a type.
/// Columns: group, versions, plural, singular, kind, namespaced,
/// short names, has /status, has generation.
#[rustfmt::skip]
pub static RESOURCES: &[ResourceType] = &[
    rt("", &["v1"], "namespaces", "namespace", "Namespace", false, &["ns"], true, false),
    rt("", &["v1"], "pods", "pod", "Pod", true, &["po"], true, true),
    rt("", &["v1"], "secrets", "secret", "Secret", true, &[], false, false),
    rt("", &["v1"], "configmaps", "configmap", "ConfigMap", true, &["cm"], false, false),
    rt("", &["v1"], "events", "event", "Event", true, &["ev"], false, false),
    // What kube-runtime's event Recorder writes; kept apart from core Events.
    rt("events.k8s.io", &["v1"], "events", "event", "Event", true, &[], false, false),
    rt("apps", &["v1"], "deployments", "deployment", "Deployment", true, &["deploy"], true, true),
    rt("apps", &["v1"], "replicasets", "replicaset", "ReplicaSet", true, &["rs"], true, true),
    rt("apps", &["v1"], "statefulsets", "statefulset", "StatefulSet", true, &["sts"], true, true),
    rt("apps", &["v1"], "daemonsets", "daemonset", "DaemonSet", true, &["ds"], true, true),
    rt("batch", &["v1"], "cronjobs", "cronjob", "CronJob", true, &["cj"], true, true),
    rt("batch", &["v1"], "jobs", "job", "Job", true, &[], true, true),
    rt("policy", &["v1"], "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, &["pdb"], true,
       true),
    rt("external-secrets.io", &["v1", "v1beta1"], "externalsecrets", "externalsecret", "ExternalSecret",
       true, &["es"], true, true),
];

/// The index of a type in [`RESOURCES`].
pub type ResId = usize;

impl ResourceType {
    /// `apiVersion` of the preferred version.
    pub fn api_version(&self) -> String {
        api_version(self.group, self.versions[0])
    }

    /// Discovery categories: `kubectl get all` lists the `all` ones.
    pub fn categories(&self) -> &'static [&'static str] {
        match self.kind {
            "Pod" | "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "CronJob" | "Job" => &["all"],
            "ExternalSecret" => &["external-secrets"],
            _ => &[],
        }
    }

    pub fn serves(&self, version: &str) -> bool {
        self.versions.contains(&version)
    }
}

pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// The type served at `group/version/plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<ResId> {
    RESOURCES
        .iter()
        .position(|r| r.group == group && r.plural == plural && r.serves(version))
}

/// The type of an object from its `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<ResId> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    RESOURCES
        .iter()
        .position(|r| r.group == group && r.kind == kind && r.serves(version))
}

/// A type by `plural` or `plural.group` (for the in-process handle).
pub fn by_name(name: &str) -> Option<ResId> {
    RESOURCES.iter().position(|r| {
        r.plural == name || format!("{}.{}", r.plural, r.group) == name || r.short_names.contains(&name)
    })
}

pub const NAMESPACES: ResId = 0;
