//! Loading one environment's fleet: Secrets Manager and the cluster side by
//! side, each with at most [`CONCURRENCY`] calls in flight, every call
//! counted. Only reads: ListSecrets, GetSecretValue, ListSecretVersionIds;
//! list ExternalSecrets, get Secrets. A system that fails marks the rows (or
//! the column) it could not fill, with the error redacted; the rest shows.
//!
//! Passwords are read to be compared (AWSCURRENT's with each Secret's
//! DATABASE_URL) and tried (a login to the server AWSCURRENT names, see
//! [`super::probe`]), and dropped here: a [`FleetRow`] holds only verdicts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Secret;

use super::model::{
    Calls, EsSync, FleetError, FleetReport, FleetRow, InProgress, Login, Matches, RowRestore, app_of_secret,
    engine_of_secret, username_date,
};
use super::probe::{self, Probe};
use crate::aws::{AWSCURRENT, AWSPENDING, AppSecret, AwsErrorKind, ListedSecret, SecretsManager};
use crate::db::tls::TlsMode;
use crate::k8s::consumers::{self, Kind, PodTemplated};
use crate::k8s::externalsecret::{EsStatus, ExternalSecret};
use crate::k8s::secret_check::{Expected, check_url, database_url, unparsable_note};
use crate::k8s::{K8s, db_sync};
use crate::model::{System, Verdict};
use crate::rotation::mark::RotationMark;
use crate::secret::{ExposeSecret, Redacted, SecretString, redact};
use crate::target::Engine;

/// The database app secrets' common prefix (`govuk/<app>/<engine>`).
pub const SECRET_PREFIX: &str = "govuk/";
/// The label naming the app an ExternalSecret belongs to.
const APP_LABEL: &str = "app.kubernetes.io/name";
/// Calls in flight per system at most.
pub const CONCURRENCY: usize = 8;
/// How long one login to an app's server may take (connect and answer).
pub const LOGIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Load `env`'s fleet at `now` from its Secrets Manager and cluster (each
/// given as connected, or as the error connecting gave), then try each
/// row's AWSCURRENT on its server, each login within `login` (`None`: not
/// tried).
pub async fn load(
    env: &str,
    secrets: Result<SecretsManager, Redacted>,
    k8s: Result<K8s, Redacted>,
    max_age_days: u32,
    login: Option<std::time::Duration>,
    now: DateTime<Utc>,
) -> FleetReport {
    let Read { mut report, logins } = read(env, secrets, k8s, max_age_days, now).await;
    if let Some(limit) = login {
        let tried = logins.try_all(limit, &report.calls).await;
        report.apply_logins(&tried);
    }
    report
}

/// An environment read, and the logins it leaves to try.
pub struct Read {
    pub report: FleetReport,
    pub logins: Logins,
}

/// [`load`] without the logins: every row's `login` is `None`, and
/// [`Read::logins`] holds them, to try when the caller chooses (the full
/// screen shows the rows first).
pub async fn read(
    env: &str,
    secrets: Result<SecretsManager, Redacted>,
    k8s: Result<K8s, Redacted>,
    max_age_days: u32,
    now: DateTime<Utc>,
) -> Read {
    let calls = Calls::default();
    let (secret_side, cluster_side) = tokio::join!(
        async {
            match &secrets {
                Ok(sm) => read_secrets(sm, &calls).await,
                Err(e) => Err(e.clone()),
            }
        },
        async {
            match &k8s {
                Ok(k) => read_cluster(k, &calls).await,
                Err(e) => Err(e.clone()),
            }
        }
    );
    let mut errors = Vec::new();
    let found = match secret_side {
        Ok(found) => found,
        Err(message) => {
            errors.push(FleetError {
                env: env.to_owned(),
                system: System::SecretsManager,
                scope: None,
                message: message.to_string(),
            });
            Vec::new()
        }
    };
    match &cluster_side {
        Err(message) => errors.push(FleetError {
            env: env.to_owned(),
            system: System::Kubernetes,
            scope: None,
            message: message.to_string(),
        }),
        // A kind that could not be listed: its consumers are unknown.
        Ok(cluster) => errors.extend(cluster.unlisted.iter().map(|(kind, why)| FleetError {
            env: env.to_owned(),
            system: System::Kubernetes,
            scope: Some(kind.resource().to_owned()),
            message: redact(why),
        })),
    }
    let mut rows = Vec::with_capacity(found.len());
    let mut logins = Logins::default();
    for f in found {
        let mut row = f.row(env, max_age_days, now);
        if let Some(e) = &row.secrets_error {
            errors.push(FleetError {
                env: env.to_owned(),
                system: System::SecretsManager,
                scope: Some(row.secret.clone()),
                message: e.clone(),
            });
        }
        let database = match &cluster_side {
            Ok(cluster) => {
                let database = cluster.fill(&mut row, f.current.as_ref());
                row.restores = cluster.restores(&row, database.as_deref(), now);
                database
            }
            Err(message) => {
                row.cluster_error = Some(message.to_string());
                None
            }
        };
        if let Some(current) = &f.current {
            let key = (row.env.clone(), row.secret.clone());
            match Probe::new(key.clone(), row.engine, current, database) {
                Ok(p) => logins.probes.push(p),
                Err(why) => logins.not_tried.push(Tried {
                    env: key.0,
                    secret: key.1,
                    login: Login::NotTried(why.to_string()),
                }),
            }
        }
        rows.push(row);
    }
    rows.sort_by(|a, b| a.app.cmp(&b.app).then(a.secret.cmp(&b.secret)));
    Read {
        report: FleetReport {
            env: env.to_owned(),
            envs: vec![env.to_owned()],
            loaded_at: now,
            rows,
            errors,
            calls,
            credentials_expire: Vec::new(),
        },
        logins,
    }
}

/// The logins a read leaves to try: AWSCURRENT's credentials per row
/// (held until tried, never shown), and the rows that have none to try.
#[derive(Default)]
pub struct Logins {
    probes: Vec<Probe>,
    not_tried: Vec<Tried>,
}

/// What one row's login gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    pub env: String,
    pub secret: String,
    pub login: Login,
}

impl Logins {
    /// Several environments' logins as one batch.
    pub fn merge(all: impl IntoIterator<Item = Logins>) -> Logins {
        let mut out = Logins::default();
        for l in all {
            out.probes.extend(l.probes);
            out.not_tried.extend(l.not_tried);
        }
        out
    }

    /// Secure every login as `tls` says (the environment's CA bundle).
    pub fn secure(&mut self, tls: &TlsMode) {
        for p in &mut self.probes {
            p.tls = tls.clone();
        }
    }

    /// Try every login, at most [`CONCURRENCY`] at a time, each within
    /// `limit`, counted in `calls`.
    pub async fn try_all(self, limit: std::time::Duration, calls: &Calls) -> Vec<Tried> {
        let mut tried = self.not_tried;
        tried.extend(
            probe::run_all(self.probes, limit, calls)
                .await
                .into_iter()
                .map(|((env, secret), login)| Tried { env, secret, login }),
        );
        tried
    }
}

impl FleetReport {
    /// Each row's login, as tried.
    pub fn apply_logins(&mut self, tried: &[Tried]) {
        apply_logins(&mut self.rows, tried);
    }
}

/// Each of `rows`' login, as tried.
pub fn apply_logins(rows: &mut [FleetRow], tried: &[Tried]) {
    for t in tried {
        if let Some(r) = rows.iter_mut().find(|r| r.env == t.env && r.secret == t.secret) {
            r.login = Some(t.login.clone());
        }
    }
}

/// A database secret read: its AWSCURRENT (password only to compare) and
/// the creation of that version, or why it could not be read.
struct Found {
    listed: ListedSecret,
    current: Option<AppSecret>,
    created: Option<DateTime<Utc>>,
    error: Option<String>,
}

impl Found {
    fn row(&self, env: &str, max_age_days: u32, now: DateTime<Utc>) -> FleetRow {
        let name = &self.listed.name;
        let username = self.current.as_ref().map(|c| c.username.clone());
        let mut row = FleetRow {
            env: env.to_owned(),
            app: app_of_secret(name).unwrap_or(name).to_owned(),
            secret: name.clone(),
            engine: engine_of_secret(name),
            username_date: username.as_deref().and_then(username_date),
            username,
            current_since: self.created,
            age_days: None,
            max_age_days,
            due: false,
            rotation: self.in_progress(),
            external_secrets: Vec::new(),
            secrets_error: self.error.clone(),
            cluster_error: None,
            stale: false,
            login: None,
            restores: Vec::new(),
        };
        row.set_age(now);
        row
    }

    /// AWSPENDING on a version other than AWSCURRENT, and/or a rotation mark.
    fn in_progress(&self) -> Option<InProgress> {
        let pending = self
            .listed
            .stages
            .values()
            .any(|s| s.iter().any(|l| l == AWSPENDING) && !s.iter().any(|l| l == AWSCURRENT));
        let mark = RotationMark::from_tags(&self.listed.tags);
        if !pending && mark.is_none() {
            return None;
        }
        let (mark, mark_error) = match mark {
            Some(Ok(m)) => (Some(m), None),
            Some(Err(e)) => (None, Some(redact(&e))),
            None => (None, None),
        };
        let current = self.current.as_ref().map(|c| c.username.as_str());
        let phase = match (&mark, pending) {
            (Some(m), true) => format!("new user {} pending, not yet current", m.new_username),
            (Some(m), false) if current == Some(m.new_username.as_str()) => {
                let old: Vec<&str> = m.old_users.values().map(String::as_str).collect();
                format!("promoted; old user {} not yet dropped", old.join(", "))
            }
            (Some(_), false) => "marked; nothing pending".to_owned(),
            (None, _) => "AWSPENDING without a rotation mark".to_owned(),
        };
        Some(InProgress {
            pending,
            rotation_id: mark.as_ref().map(|m| m.rotation_id.clone()),
            holder: mark.as_ref().map(|m| m.holder.clone()),
            since: mark.as_ref().map(|m| m.since),
            heartbeat: mark.as_ref().map(|m| m.heartbeat),
            new_username: mark.as_ref().map(|m| m.new_username.clone()),
            step: mark.as_ref().and_then(|m| m.step.clone()),
            phase,
            mark_error,
        })
    }
}

/// Every `govuk/` secret whose AWSCURRENT has username, password and host.
async fn read_secrets(sm: &SecretsManager, calls: &Calls) -> Result<Vec<Found>, Redacted> {
    let listed = list_secrets(sm, calls).await?;
    let found: Vec<Option<Found>> = stream::iter(listed)
        .map(|l| read_one(sm, calls, l))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    Ok(found.into_iter().flatten().collect())
}

/// Every `govuk/<app>/<…>` secret ListSecrets names.
async fn list_secrets(sm: &SecretsManager, calls: &Calls) -> Result<Vec<ListedSecret>, Redacted> {
    let listed = sm.list_by_prefix(SECRET_PREFIX).await;
    let listed = listed.map_err(Redacted::error)?;
    calls.add(System::SecretsManager, listed.calls);
    Ok(listed
        .value
        .into_iter()
        .filter(|l| app_of_secret(&l.name).is_some())
        .collect())
}

/// AWSCURRENT and its creation; `None` when it is not a database secret.
async fn read_one(sm: &SecretsManager, calls: &Calls, listed: ListedSecret) -> Option<Found> {
    let failed = |listed: ListedSecret, e: String| {
        Some(Found {
            listed,
            current: None,
            created: None,
            error: Some(redact(&e)),
        })
    };
    calls.count(System::SecretsManager);
    let current = match sm.app_secret(&listed.name).await {
        Ok(s) => s,
        // Binary, or JSON without username, password and host: not a database secret.
        Err(e) if e.kind == AwsErrorKind::Invalid => return None,
        Err(e) => return failed(listed, e.to_string()),
    };
    let created = sm.version_created(&listed.name, &current.version_id).await;
    let created = match created {
        Ok(c) => {
            calls.add(System::SecretsManager, c.calls);
            c.value
        }
        Err(e) => {
            calls.count(System::SecretsManager);
            return Some(Found {
                listed,
                current: Some(current),
                created: None,
                error: Some(redact(&e.to_string())),
            });
        }
    };
    Some(Found {
        listed,
        current: Some(current),
        created,
        error: None,
    })
}

/// The cluster's side: every ExternalSecret reading a `govuk/` key, the
/// DATABASE_URL of each Secret they write (kept secret, compared later) and
/// its keys, and every workload that may read one.
struct ClusterSide {
    /// Remote keys, status, and the app its `app.kubernetes.io/name` label names.
    externals: Vec<(BTreeSet<String>, EsStatus, Option<String>)>,
    secrets: BTreeMap<String, SecretRead>,
    workloads: Workloads,
    /// Kinds that could not be listed (RBAC), and why.
    unlisted: Vec<(Kind, String)>,
}

struct SecretRead {
    url: Result<SecretString, Redacted>,
    keys: Vec<String>,
}

/// The namespace's workloads of every kind whose pods may read a Secret.
#[derive(Default)]
struct Workloads {
    deployments: Vec<Deployment>,
    statefulsets: Vec<StatefulSet>,
    daemonsets: Vec<DaemonSet>,
    cronjobs: Vec<CronJob>,
    jobs: Vec<Job>,
}

impl Workloads {
    /// `kind/name` of each workload reading `secret` (whose keys are
    /// `keys`); a Job only while it runs pods.
    fn reading(&self, secret: &str, keys: &[String]) -> Vec<String> {
        fn of<K: PodTemplated>(items: &[K], secret: &str, keys: &[String]) -> Vec<consumers::Consumer> {
            items
                .iter()
                .filter_map(|o| consumers::consumer(o, secret, keys))
                .collect()
        }
        let mut all = of(&self.deployments, secret, keys);
        all.extend(of(&self.statefulsets, secret, keys));
        all.extend(of(&self.daemonsets, secret, keys));
        all.extend(of(&self.cronjobs, secret, keys));
        all.extend(of(&self.jobs, secret, keys).into_iter().filter(|c| c.active > 0));
        let mut names: Vec<String> = all.iter().map(|c| c.workload.to_string()).collect();
        names.sort();
        names
    }

    /// Those of [`Workloads::reading`] that are paused Deployments.
    fn paused_reading(&self, secret: &str, keys: &[String]) -> Vec<String> {
        let mut names: Vec<String> = self
            .deployments
            .iter()
            .filter(|d| d.spec.as_ref().and_then(|s| s.paused) == Some(true))
            .filter_map(|d| consumers::consumer(d, secret, keys))
            .map(|c| c.workload.to_string())
            .collect();
        names.sort();
        names
    }
}

async fn read_cluster(k8s: &K8s, calls: &Calls) -> Result<ClusterSide, Redacted> {
    calls.count(System::Kubernetes);
    let list = k8s
        .api::<ExternalSecret>()
        .list(&Default::default())
        .await
        .map_err(|e| Redacted::error(k8s.op("list", "externalsecrets.external-secrets.io").err(e)))?;
    let externals: Vec<(BTreeSet<String>, EsStatus, Option<String>)> = list
        .items
        .iter()
        .map(|es| {
            let app = es
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(APP_LABEL))
                .filter(|a| !a.is_empty())
                .cloned();
            (remote_keys(es), EsStatus::from(es), app)
        })
        .filter(|(keys, ..)| keys.iter().any(|k| k.starts_with(SECRET_PREFIX)))
        .collect();
    let targets: BTreeSet<String> = externals.iter().map(|(_, s, _)| s.target.clone()).collect();
    let secrets = stream::iter(targets)
        .map(|name| async move {
            calls.count(System::Kubernetes);
            let read = match k8s.api::<Secret>().get(&name).await {
                Ok(secret) => SecretRead {
                    url: database_url(k8s, &name, &secret).map_err(Redacted::error),
                    keys: secret.data.iter().flat_map(|d| d.keys().cloned()).collect(),
                },
                Err(e) => SecretRead {
                    url: Err(Redacted::error(k8s.op("get", "secrets").named(&name).err(e))),
                    keys: vec![crate::k8s::secret_check::DATABASE_URL.to_owned()],
                },
            };
            (name, read)
        })
        .buffer_unordered(CONCURRENCY);
    let (secrets, deployments, statefulsets, daemonsets, cronjobs, jobs) = tokio::join!(
        secrets.collect::<BTreeMap<_, _>>(),
        list_all::<Deployment>(k8s, calls),
        list_all::<StatefulSet>(k8s, calls),
        list_all::<DaemonSet>(k8s, calls),
        list_all::<CronJob>(k8s, calls),
        list_all::<Job>(k8s, calls),
    );
    let mut unlisted = Vec::new();
    let workloads = Workloads {
        deployments: take(&mut unlisted, Kind::Deployment, deployments),
        statefulsets: take(&mut unlisted, Kind::StatefulSet, statefulsets),
        daemonsets: take(&mut unlisted, Kind::DaemonSet, daemonsets),
        cronjobs: take(&mut unlisted, Kind::CronJob, cronjobs),
        jobs: take(&mut unlisted, Kind::Job, jobs),
    };
    Ok(ClusterSide {
        externals,
        secrets,
        workloads,
        unlisted,
    })
}

/// A kind's list, or none (noting why) when it could not be listed.
fn take<K>(unlisted: &mut Vec<(Kind, String)>, kind: Kind, listed: Result<Option<Vec<K>>, String>) -> Vec<K> {
    listed
        .unwrap_or_else(|why| {
            unlisted.push((kind, why));
            None
        })
        .unwrap_or_default()
}

/// Every `K` in the namespace: `Ok(None)` when the API server does not
/// serve the kind, an error when listing it was denied or failed.
async fn list_all<K>(k8s: &K8s, calls: &Calls) -> Result<Option<Vec<K>>, String>
where
    K: PodTemplated + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    calls.count(System::Kubernetes);
    match k8s.api::<K>().list(&Default::default()).await {
        Ok(list) => Ok(Some(list.items)),
        Err(e) => match k8s.op("list", K::KIND.resource()).err(e) {
            crate::k8s::K8sError::NotFound { .. } => Ok(None),
            e => Err(e.to_string()),
        },
    }
}

/// The Secrets Manager keys an ExternalSecret reads: `dataFrom[].extract.key`
/// and `data[].remoteRef.key`.
pub(crate) fn remote_keys(es: &ExternalSecret) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let items =
        |v: &Option<serde_json::Value>| v.as_ref().and_then(|v| v.as_array().cloned()).unwrap_or_default();
    for item in items(&es.spec.data_from) {
        if let Some(k) = item.pointer("/extract/key").and_then(|k| k.as_str()) {
            keys.insert(k.to_owned());
        }
    }
    for item in items(&es.spec.data) {
        if let Some(k) = item.pointer("/remoteRef/key").and_then(|k| k.as_str()) {
            keys.insert(k.to_owned());
        }
    }
    keys
}

impl ClusterSide {
    /// The restores of `row`'s database into this environment, from the
    /// CronJobs and Jobs already listed (no further call).
    fn restores(&self, row: &FleetRow, database: Option<&str>, now: DateTime<Utc>) -> Vec<RowRestore> {
        let (Some(engine), Some(database)) = (row.engine, database) else {
            return Vec::new();
        };
        db_sync::of_database(&self.workloads.cronjobs, &self.workloads.jobs, engine, database)
            .iter()
            .filter(|j| j.restores())
            .map(|j| RowRestore::of(j, row.username.as_deref(), now))
            .collect()
    }

    /// The row's ExternalSecrets, their sync state, whether each one's
    /// Secret holds `current`'s user and password, and who reads it.
    /// Returns the database the first readable DATABASE_URL names.
    fn fill(&self, row: &mut FleetRow, current: Option<&AppSecret>) -> Option<String> {
        let mut apps = BTreeSet::new();
        let mut database = None;
        for (keys, es, app) in &self.externals {
            if !keys.contains(&row.secret) {
                continue;
            }
            apps.extend(app.clone());
            let read = self.secrets.get(&es.target);
            if database.is_none()
                && let Some(Ok(url)) = read.map(|r| &r.url)
            {
                database = database_of(url.expose_secret());
            }
            let matches = match (read.map(|r| &r.url), current) {
                (Some(Ok(url)), Some(cur)) => {
                    let expected = Expected::new(cur.username.clone(), cur.password.clone());
                    match check_url(url.expose_secret(), &expected) {
                        // Whoever's credentials it holds, the app cannot use them.
                        Ok(c) if c.unparsable.is_some() => {
                            Matches::Unknown(unparsable_note(c.unparsable.as_deref().unwrap_or_default()))
                        }
                        Ok(c) => {
                            if row.engine.is_none() {
                                row.engine = Engine::of_scheme(&c.scheme);
                            }
                            if c.matches() {
                                Matches::Yes
                            } else {
                                Matches::No {
                                    user_matches: c.user_matches,
                                    password_matches: c.password_matches,
                                }
                            }
                        }
                        Err(e) => Matches::Unknown(redact(&e.to_string())),
                    }
                }
                (Some(Err(e)), _) => Matches::Unknown(e.to_string()),
                (None, _) => Matches::Unknown("the Secret was not read".into()),
                (_, None) => Matches::Unknown("AWSCURRENT could not be read".into()),
            };
            let ready = es.ready.as_ref();
            row.external_secrets.push(EsSync {
                name: es.name.clone(),
                ready: ready.map_or(Verdict::Unknown, |c| Verdict::from(c.status == "True")),
                reason: ready.and_then(|c| c.reason.clone()),
                message: ready
                    .filter(|c| c.status != "True")
                    .and_then(|c| c.message.as_deref())
                    .map(redact),
                secret: es.target.clone(),
                matches,
                consumers: self
                    .workloads
                    .reading(&es.target, read.map_or(&[][..], |r| &r.keys)),
                paused: self
                    .workloads
                    .paused_reading(&es.target, read.map_or(&[][..], |r| &r.keys)),
            });
        }
        row.external_secrets.sort_by(|a, b| a.name.cmp(&b.name));
        // The deployed app's name, when its ExternalSecrets agree on one: a
        // drifted secret's second part need not be the app's name.
        if let [app] = Vec::from_iter(apps).as_slice() {
            row.app = app.clone();
        }
        database
    }
}

/// The database a DATABASE_URL names (its path), never its credentials.
fn database_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let path = parsed.path().trim_start_matches('/');
    (!path.is_empty()).then(|| {
        percent_encoding::percent_decode_str(path)
            .decode_utf8_lossy()
            .into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_keys_come_from_data_from_and_data() {
        let es: ExternalSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": { "name": "router-mongo", "namespace": "apps" },
            "spec": {
                "dataFrom": [ { "extract": { "key": "govuk/signon/mysql" } }, { "find": {} } ],
                "data": [
                    { "secretKey": "CS", "remoteRef": { "key": "govuk/content-store/postgres", "property": "password" } }
                ]
            }
        }))
        .unwrap();
        assert_eq!(
            remote_keys(&es).into_iter().collect::<Vec<_>>(),
            vec!["govuk/content-store/postgres", "govuk/signon/mysql"]
        );
    }
}
