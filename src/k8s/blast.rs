//! The blast radius of changing the app's Secret: of its consumers
//! (`consumers::list_objects`, the same reading the rollout check does),
//! which workloads Reloader will restart and how (replicas, rollout
//! strategy, readiness probes, the PodDisruptionBudgets over their pods),
//! which read it but will not be restarted and so keep the old credentials,
//! the CronJobs' next runs and the Jobs running now. Read-only; the pure
//! parts ([`reloader`], [`strategy`], [`readiness`], [`selects`]) are
//! tested over k8s-openapi objects.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{PodSpec, Secret};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::consumers::{self, Consumer, PodTemplated};
use super::cron::Schedule;
use super::{K8s, K8sError};

/// Reloader's annotations (its annotations strategy), on the workload.
pub const AUTO: &str = "reloader.stakater.com/auto";
pub const SECRET_AUTO: &str = "secret.reloader.stakater.com/auto";
pub const SECRET_RELOAD: &str = "secret.reloader.stakater.com/reload";
pub const SEARCH: &str = "reloader.stakater.com/search";
/// On the Secret: found by workloads that `search`; never reloaded for.
pub const MATCH: &str = "reloader.stakater.com/match";
pub const IGNORE: &str = "reloader.stakater.com/ignore";

/// A Deployment, StatefulSet or DaemonSet reading the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    pub consumer: Consumer,
    /// `Ok(which annotation restarts it)`, `Err(why nothing will)`.
    pub reloader: Result<String, String>,
    /// Desired pods (a DaemonSet: the nodes it is scheduled on).
    pub replicas: i32,
    pub strategy: String,
    pub readiness: String,
    /// `pdb/signon (minAvailable 1; 1 disruption allowed now)`.
    pub pdbs: Vec<String>,
}

/// A CronJob reading the Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronRun {
    pub consumer: Consumer,
    pub schedule: String,
    /// The next run, or why it is not known (suspended, a time zone, a bad schedule).
    pub next: Result<Option<DateTime<Utc>>, String>,
}

/// Everything changing the Secret touches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blast {
    pub restarts: Vec<Restart>,
    pub cronjobs: Vec<CronRun>,
    /// Jobs with pods running now: started before the change, on what the Secret held then.
    pub jobs: Vec<Consumer>,
    /// What could not be looked at: `poddisruptionbudgets: not served by the API server`.
    pub unlisted: Vec<String>,
}

fn is_true(v: Option<&String>) -> bool {
    v.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Whether Reloader restarts a workload with `annotations` when `secret`
/// (annotated `secret_annotations`) changes, by which annotation.
pub fn reloader(
    annotations: &BTreeMap<String, String>,
    secret: &str,
    secret_annotations: &BTreeMap<String, String>,
) -> Result<String, String> {
    if is_true(secret_annotations.get(IGNORE)) {
        return Err(format!("Secret {secret} is annotated {IGNORE}"));
    }
    if let Some(list) = annotations.get(SECRET_RELOAD)
        && list.split(',').any(|n| n.trim() == secret)
    {
        return Ok(format!("{SECRET_RELOAD} names {secret}"));
    }
    for auto in [AUTO, SECRET_AUTO] {
        if is_true(annotations.get(auto)) {
            return Ok(format!("{auto}: \"true\""));
        }
    }
    if is_true(annotations.get(SEARCH)) {
        return if is_true(secret_annotations.get(MATCH)) {
            Ok(format!("{SEARCH}, and Secret {secret} has {MATCH}"))
        } else {
            Err(format!("{SEARCH}, but Secret {secret} lacks {MATCH}: \"true\""))
        };
    }
    Err("no Reloader annotation".into())
}

fn int_or(v: Option<&IntOrString>, default: &str) -> String {
    match v {
        Some(IntOrString::Int(n)) => n.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
        None => default.to_owned(),
    }
}

/// The rollout strategy in words, and whether a template change replaces
/// pods at all (`OnDelete` replaces none).
pub fn strategy(
    kind_strategy: Option<&str>,
    max_unavailable: Option<&IntOrString>,
    max_surge: Option<&IntOrString>,
    defaults: (&str, &str),
) -> (String, bool) {
    match kind_strategy.unwrap_or("RollingUpdate") {
        "Recreate" => ("Recreate: every pod stops before new ones start".into(), true),
        "OnDelete" => ("OnDelete: pods are replaced only when deleted".into(), false),
        other => (
            format!(
                "{other} maxUnavailable {}, maxSurge {}",
                int_or(max_unavailable, defaults.0),
                int_or(max_surge, defaults.1)
            ),
            true,
        ),
    }
}

/// Which serving containers have a readiness probe.
pub fn readiness(pod: &PodSpec) -> String {
    let without: Vec<&str> = pod
        .containers
        .iter()
        .filter(|c| c.readiness_probe.is_none())
        .map(|c| c.name.as_str())
        .collect();
    match without.len() {
        0 => "readiness probe on every container".into(),
        n if n == pod.containers.len() => {
            "no readiness probe: a new pod counts as ready as soon as it starts".into()
        }
        _ => format!("no readiness probe on {}", without.join(", ")),
    }
}

/// Does `selector` select a pod labelled `labels`? (policy/v1: an empty
/// selector selects every pod, a missing one none.)
pub fn selects(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(s) = selector else { return false };
    let by_labels = s
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = s.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let have = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => have.is_none_or(|v| !values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        }
    });
    by_labels && by_expressions
}

fn describe_pdb(p: &PodDisruptionBudget) -> String {
    let spec = p.spec.clone().unwrap_or_default();
    let budget = match (&spec.min_available, &spec.max_unavailable) {
        (Some(m), _) => format!("minAvailable {}", int_or(Some(m), "")),
        (None, Some(m)) => format!("maxUnavailable {}", int_or(Some(m), "")),
        (None, None) => "no budget set".into(),
    };
    let allowed = p
        .status
        .as_ref()
        .map(|s| format!("; {} disruptions allowed now", s.disruptions_allowed))
        .unwrap_or_default();
    format!("pdb/{} ({budget}{allowed})", p.name_any())
}

/// What a rolling workload's object says beyond its [`Consumer`].
trait Rolling: PodTemplated {
    fn labels(&self) -> BTreeMap<String, String>;
    fn replicas(&self) -> i32;
    fn strategy(&self) -> (String, bool);
}

fn template_labels(t: &k8s_openapi::api::core::v1::PodTemplateSpec) -> BTreeMap<String, String> {
    t.metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

impl Rolling for Deployment {
    fn labels(&self) -> BTreeMap<String, String> {
        self.spec
            .as_ref()
            .map(|s| template_labels(&s.template))
            .unwrap_or_default()
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn strategy(&self) -> (String, bool) {
        let s = self.spec.as_ref().and_then(|s| s.strategy.as_ref());
        let r = s.and_then(|s| s.rolling_update.as_ref());
        strategy(
            s.and_then(|s| s.type_.as_deref()),
            r.and_then(|r| r.max_unavailable.as_ref()),
            r.and_then(|r| r.max_surge.as_ref()),
            ("25%", "25%"),
        )
    }
}

impl Rolling for StatefulSet {
    fn labels(&self) -> BTreeMap<String, String> {
        self.spec
            .as_ref()
            .map(|s| template_labels(&s.template))
            .unwrap_or_default()
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn strategy(&self) -> (String, bool) {
        let s = self.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
        let r = s.and_then(|s| s.rolling_update.as_ref());
        let (text, replaces) = strategy(
            s.and_then(|s| s.type_.as_deref()),
            r.and_then(|r| r.max_unavailable.as_ref()),
            None,
            ("1", "0 (one pod at a time, highest ordinal first)"),
        );
        match r.and_then(|r| r.partition).filter(|p| *p > 0) {
            Some(p) => (
                format!("{text}, partition {p} (pods below it keep the old template)"),
                replaces,
            ),
            None => (text, replaces),
        }
    }
}

impl Rolling for DaemonSet {
    fn labels(&self) -> BTreeMap<String, String> {
        self.spec
            .as_ref()
            .map(|s| template_labels(&s.template))
            .unwrap_or_default()
    }
    fn replicas(&self) -> i32 {
        self.status.as_ref().map_or(0, |s| s.desired_number_scheduled)
    }
    fn strategy(&self) -> (String, bool) {
        let s = self.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
        let r = s.and_then(|s| s.rolling_update.as_ref());
        strategy(
            s.and_then(|s| s.type_.as_deref()),
            r.and_then(|r| r.max_unavailable.as_ref()),
            r.and_then(|r| r.max_surge.as_ref()),
            ("1", "0"),
        )
    }
}

fn restart<K: Rolling>(
    obj: &K,
    consumer: Consumer,
    secret: &str,
    secret_annotations: &BTreeMap<String, String>,
    pdbs: &[PodDisruptionBudget],
) -> Restart {
    let (strategy, replaces) = obj.strategy();
    let mut reloader = reloader(obj.annotations(), secret, secret_annotations);
    if reloader.is_ok() && !replaces {
        reloader = Err("Reloader changes its template, but OnDelete replaces no pod".into());
    }
    let labels = obj.labels();
    Restart {
        reloader,
        replicas: obj.replicas(),
        strategy,
        readiness: obj.pod_spec().map(readiness).unwrap_or_default(),
        pdbs: pdbs
            .iter()
            .filter(|p| selects(p.spec.as_ref().and_then(|s| s.selector.as_ref()), &labels))
            .map(describe_pdb)
            .collect(),
        consumer,
    }
}

fn cron_run(cj: &CronJob, consumer: Consumer, now: DateTime<Utc>) -> CronRun {
    let spec = cj.spec.clone().unwrap_or_default();
    let next = if spec.suspend == Some(true) {
        Err("suspended".to_owned())
    } else {
        match spec.time_zone.as_deref() {
            Some(tz) if !matches!(tz, "UTC" | "Etc/UTC") => {
                Err(format!("scheduled in time zone {tz}: next run not worked out"))
            }
            _ => Schedule::parse(&spec.schedule).map(|s| s.next_after(now)),
        }
    };
    CronRun {
        consumer,
        schedule: spec.schedule,
        next,
    }
}

/// The blast radius of changing `secret`, as of `now`.
pub async fn read(k8s: &K8s, secret: &str, now: DateTime<Utc>) -> Result<Blast, K8sError> {
    let keys = consumers::secret_keys(k8s, secret).await?;
    let secret_annotations = match k8s.api::<Secret>().get(secret).await {
        Ok(s) => s.annotations().clone(),
        Err(_) => BTreeMap::new(),
    };
    let mut unlisted = vec![];
    let mut out = Blast::default();
    let pdbs = match k8s.api::<PodDisruptionBudget>().list(&Default::default()).await {
        Ok(l) => l.items,
        Err(e) => {
            let why = consumers::why_unlisted(k8s.op("list", "poddisruptionbudgets").err(e))?;
            out.unlisted.push(format!("poddisruptionbudgets: {why}"));
            vec![]
        }
    };
    for (o, c) in consumers::list_objects::<Deployment>(k8s, secret, &keys, &mut unlisted).await? {
        out.restarts
            .push(restart(&o, c, secret, &secret_annotations, &pdbs));
    }
    for (o, c) in consumers::list_objects::<StatefulSet>(k8s, secret, &keys, &mut unlisted).await? {
        out.restarts
            .push(restart(&o, c, secret, &secret_annotations, &pdbs));
    }
    for (o, c) in consumers::list_objects::<DaemonSet>(k8s, secret, &keys, &mut unlisted).await? {
        out.restarts
            .push(restart(&o, c, secret, &secret_annotations, &pdbs));
    }
    for (o, c) in consumers::list_objects::<CronJob>(k8s, secret, &keys, &mut unlisted).await? {
        out.cronjobs.push(cron_run(&o, c, now));
    }
    for (_, c) in consumers::list_objects::<Job>(k8s, secret, &keys, &mut unlisted).await? {
        if c.active > 0 {
            out.jobs.push(c);
        }
    }
    out.unlisted.extend(
        unlisted
            .iter()
            .map(|u| format!("{}: {}", u.kind.resource(), u.reason)),
    );
    out.restarts
        .sort_by(|a, b| a.consumer.workload.cmp(&b.consumer.workload));
    out.cronjobs
        .sort_by(|a, b| a.consumer.workload.cmp(&b.consumer.workload));
    out.jobs.sort_by(|a, b| a.workload.cmp(&b.workload));
    Ok(out)
}

/// A Job's name with its CronJob: `job/signon-cleanup-29000000 (of cronjob/signon-cleanup)`.
pub fn job_name(c: &Consumer) -> String {
    match &c.owner {
        Some(o) => format!("{} (of {o})", c.workload),
        None => c.workload.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reloader_annotations_as_stakater_reads_them() {
        let none = map(&[]);
        assert!(reloader(&map(&[(AUTO, "true")]), "s", &none).is_ok());
        assert!(reloader(&map(&[(SECRET_AUTO, "true")]), "s", &none).is_ok());
        assert!(reloader(&map(&[(SECRET_RELOAD, "a, s")]), "s", &none).is_ok());
        assert!(reloader(&map(&[(SECRET_RELOAD, "a,b")]), "s", &none).is_err());
        assert!(reloader(&map(&[(AUTO, "false")]), "s", &none).is_err());
        assert!(reloader(&map(&[(SEARCH, "true")]), "s", &map(&[(MATCH, "true")])).is_ok());
        assert!(
            reloader(&map(&[(SEARCH, "true")]), "s", &none)
                .unwrap_err()
                .contains(MATCH)
        );
        assert!(reloader(&map(&[(AUTO, "true")]), "s", &map(&[(IGNORE, "true")])).is_err());
        assert_eq!(reloader(&none, "s", &none).unwrap_err(), "no Reloader annotation");
    }

    #[test]
    fn selectors_and_strategies() {
        let labels = map(&[("app", "signon"), ("tier", "web")]);
        assert!(!selects(None, &labels));
        assert!(selects(Some(&LabelSelector::default()), &labels));
        let s = LabelSelector {
            match_labels: Some(map(&[("app", "signon")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["web".into()]),
            }]),
        };
        assert!(selects(Some(&s), &labels));
        assert!(!selects(Some(&s), &map(&[("app", "signon")])));
        let (text, replaces) = strategy(None, None, Some(&IntOrString::Int(1)), ("25%", "25%"));
        assert_eq!(text, "RollingUpdate maxUnavailable 25%, maxSurge 1");
        assert!(replaces);
        assert!(!strategy(Some("OnDelete"), None, None, ("1", "0")).1);
    }
}
