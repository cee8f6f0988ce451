//! The engine's narrow view of the outside world. Each environment of a
//! rotation has a database, a Secrets Manager and a cluster; the engine talks
//! to them only through these traits, so it does not depend on the internals
//! of `crate::db`, `crate::aws` or `crate::k8s` (thin adapters implement the
//! traits on top of them).
//!
//! Contract for implementations: reads return live state (no caches), every
//! call has its own timeout, and no error text carries a secret (pass driver
//! text through [`crate::secret::redact`]). Methods returning `Vec<Statement>`
//! only compute statements — the engine previews, journals and runs them one
//! by one with [`DbPort::execute`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::Statement;
use crate::db::{DbError, DbErrorKind};
use crate::model::{DbObject, Grant, User};
use crate::secret::{self, SecretString};
use crate::stable_hash::{cut_to_fit, fnv1a_64};
use crate::target::Target;

pub use super::mark::RotationMark;

/// What every port method returns.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PortError>> + Send + 'a>>;

pub use crate::model::{FailedLogins, System};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortErrorKind {
    Unreachable,
    /// RBAC / IAM / SQL privilege.
    Denied,
    NotFound,
    BadPassword,
    Timeout,
    /// The system answered with something rotui cannot use (bad JSON, missing key…).
    Invalid,
    Other,
}

/// A failed call to an outside system, in words, never with a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{system}: {message}{}", .hint.as_ref().map(|h| format!(" — {h}")).unwrap_or_default())]
pub struct PortError {
    pub system: System,
    pub kind: PortErrorKind,
    /// Already redacted.
    pub message: String,
    pub hint: Option<String>,
}

impl PortError {
    pub fn new(system: System, kind: PortErrorKind, message: impl AsRef<str>) -> Self {
        PortError {
            system,
            kind,
            message: secret::redact(message.as_ref()),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(secret::redact(&hint.into()));
        self
    }
}

impl From<DbError> for PortError {
    fn from(e: DbError) -> Self {
        let kind = match e.kind {
            DbErrorKind::BadPassword => PortErrorKind::BadPassword,
            DbErrorKind::Unreachable => PortErrorKind::Unreachable,
            DbErrorKind::Privilege | DbErrorKind::Refused => PortErrorKind::Denied,
            DbErrorKind::NotFound => PortErrorKind::NotFound,
            DbErrorKind::Timeout | DbErrorKind::LockTimeout => PortErrorKind::Timeout,
            _ => PortErrorKind::Other,
        };
        let message = match &e.code {
            Some(code) => format!("{} (error {code})", e.message),
            None => e.message.clone(),
        };
        PortError {
            system: System::Database,
            kind,
            message: secret::redact(&message),
            hint: e.hint.map(|h| secret::redact(&h)),
        }
    }
}

/// Run a port call with a deadline: a hung server becomes an error, not a hang.
pub async fn within<T>(
    system: System,
    limit: Duration,
    fut: impl Future<Output = Result<T, PortError>>,
) -> Result<T, PortError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(PortError::new(
            system,
            PortErrorKind::Timeout,
            format!("no answer within {} s", limit.as_secs()),
        )
        .with_hint("is it reachable (tunnel, VPN, credentials)?")),
    }
}

/// The admin connection to one environment's database.
pub trait DbPort: Send + Sync {
    /// The user (MySQL account with its host, PostgreSQL role with `member_of`), if it exists.
    fn user<'a>(&'a self, name: &'a str) -> PortFuture<'a, Option<User>>;
    /// `name`'s grants, with credentials stripped.
    fn grants<'a>(&'a self, name: &'a str) -> PortFuture<'a, Vec<Grant>>;
    /// Statements that give `to` every grant `from` has and `to` lacks
    /// (all of them when `to` does not exist yet); empty when equivalent.
    /// Must never carry credentials (MariaDB's `IDENTIFIED BY PASSWORD` lines).
    fn clone_grants<'a>(&'a self, from: &'a str, to: &'a str) -> PortFuture<'a, Vec<Statement>>;
    /// Statements that create login user `name` with `password`, as the
    /// successor of `like`, or complete it: MySQL on the same host;
    /// PostgreSQL granted `owner_role`, whose objects it then works with
    /// (MySQL has no owner role and ignores it). Empty when it exists, complete.
    fn create_user<'a>(
        &'a self,
        name: &'a str,
        password: &'a SecretString,
        like: &'a str,
        owner_role: &'a str,
    ) -> PortFuture<'a, Vec<Statement>>;
    /// Whether a new user gets the old user's rights by having its grants
    /// copied ([`DbPort::clone_grants`], MySQL) rather than through the
    /// owner role [`DbPort::create_user`] grants it (PostgreSQL). A fact
    /// of the engine, not a call: the engine asks it instead of asking
    /// which engine it is.
    fn copies_grants(&self) -> bool;
    /// Objects `user` defines (MySQL: views, routines, triggers, events) or
    /// owns (PostgreSQL, in every database).
    fn objects_of<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<DbObject>>;
    /// How a user stands to the objects [`DbPort::objects_of`] lists, for
    /// sentences: `defines` (MySQL) or `owns` (PostgreSQL).
    fn objects_verb(&self) -> &'static str;
    /// The objects that would stop working if `user` were dropped now:
    /// MySQL's views, routines, triggers and events it defines (MariaDB
    /// drops a definer silently and they then fail with 1449); none on
    /// PostgreSQL, whose [`DbPort::drop_user`] hands them to the owner role.
    fn objects_lost_on_drop<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<DbObject>>;
    /// Why a user the rotation replaced works again once the secret names
    /// it, with no undo in the database (a preview's comment line).
    fn rollback_note(&self, old: &str, owner_role: &str) -> String;
    /// Statements that hand `from`'s objects to `to`: MySQL re-defines them
    /// as `to` (the admin); PostgreSQL converts to the owner role `to`
    /// (creating it NOLOGIN when missing, granting it to `from` so the running
    /// app keeps working, moving database and object ownership). Empty when
    /// nothing is left to move.
    fn move_objects<'a>(&'a self, from: &'a str, to: &'a str) -> PortFuture<'a, Vec<Statement>>;
    /// Log in as `user` with `password` (a fresh connection) and run a query.
    fn test_login<'a>(&'a self, user: &'a str, password: &'a SecretString) -> PortFuture<'a, ()>;
    /// How many connections `user` has now.
    fn connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, i64>;
    /// The client address of each of `user`'s connections (`10.0.3.7:51234`),
    /// for naming the pods a drain waits for. None known by default: the
    /// drain then records totals only.
    fn connection_clients<'a>(&'a self, _user: &'a str) -> PortFuture<'a, Vec<String>> {
        Box::pin(async { Ok(vec![]) })
    }
    /// Failed logins the server has counted for each of `users`: its own
    /// cumulative counters, which a rotation counts from a baseline taken
    /// before the switch; or why it cannot tell (never a zero it does not know).
    fn failed_logins<'a>(&'a self, _users: &'a [String]) -> PortFuture<'a, FailedLogins> {
        Box::pin(async {
            Ok(FailedLogins::NotObservable(
                "this database cannot count failed logins".into(),
            ))
        })
    }
    /// Statements that end `user`'s connections (`KILL`, `mysql.rds_kill`, `pg_terminate_backend`).
    fn kill_connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<Statement>>;
    /// Statements that drop `user` (PostgreSQL: `REASSIGN OWNED` to
    /// `owner_role` and `DROP OWNED` in each database it owns something in,
    /// then `DROP USER`; MySQL has no owner role and ignores it).
    fn drop_user<'a>(&'a self, user: &'a str, owner_role: &'a str) -> PortFuture<'a, Vec<Statement>>;
    /// A preview's comment line on what [`DbPort::drop_user`] planned
    /// (`planned`), where the engine's drop does more than `DROP USER`
    /// (PostgreSQL: whether `REASSIGN OWNED`/`DROP OWNED` are needed, and why
    /// not). None where there is nothing to say.
    fn drop_note(&self, _old: &str, _owner_role: &str, _planned: &[Statement]) -> Option<String> {
        None
    }
    /// Which incarnation of the app database this is (PostgreSQL: its
    /// `pg_database.oid`, e.g. `oid 16384`): a restore re-creates the
    /// database, so the value changes. `None` while the database does not
    /// exist (in the middle of a restore).
    fn database_incarnation(&self) -> PortFuture<'_, Option<String>>;
    /// Run one statement (in `statement.database` when set).
    fn execute<'a>(&'a self, statement: &'a Statement) -> PortFuture<'a, ()>;
    /// Try (without waiting) to take the advisory lock `key` on a connection
    /// of its own, held until the [`DbLock`] is released or dropped (MySQL
    /// `GET_LOCK`, PostgreSQL `pg_try_advisory_lock`). `None`: another
    /// session holds it.
    fn lock<'a>(&'a self, key: &'a str) -> PortFuture<'a, Option<DbLock>>;
}

type Release = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A database advisory lock, held on its own connection. [`DbLock::release`]
/// gives it back; dropping it does too (in the background), and a session
/// that dies releases its locks on the server.
pub struct DbLock {
    pub key: String,
    release: Option<Release>,
}

impl DbLock {
    pub fn new(
        key: impl Into<String>,
        release: impl FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + 'static,
    ) -> Self {
        DbLock {
            key: key.into(),
            release: Some(Box::new(release)),
        }
    }

    /// Give the lock back and close its connection.
    pub async fn release(mut self) {
        if let Some(r) = self.release.take() {
            r().await;
        }
    }
}

impl Drop for DbLock {
    fn drop(&mut self) {
        if let Some(r) = self.release.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(r());
        }
    }
}

impl fmt::Debug for DbLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbLock")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The advisory lock's name for `app` in `env`: `rotui:<env>/<app>`, cut to
/// MySQL's 64 characters (with a hash of the whole when cut, so two long
/// names do not share a lock).
pub fn lock_key(env: &str, app: &str) -> String {
    let full = format!("rotui:{env}/{app}");
    if full.len() <= 64 {
        return full;
    }
    let hash = format!("{:016x}", fnv1a_64(full.as_bytes()));
    let head = cut_to_fit(&full, 64 - 17, str::len);
    format!("{head}~{hash}")
}

/// The app's credentials as one version of its Secrets Manager secret holds them.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub username: String,
    pub password: SecretString,
}

/// One environment's Secrets Manager, for the app's secret.
pub trait SecretsPort: Send + Sync {
    /// Who we are (STS caller identity ARN), for the journal.
    fn caller_identity(&self) -> PortFuture<'_, String>;
    /// The AWSCURRENT version.
    fn current(&self) -> PortFuture<'_, AppCredentials>;
    /// The AWSPENDING version, when there is one distinct from AWSCURRENT.
    fn pending(&self) -> PortFuture<'_, Option<AppCredentials>>;
    /// Store a new version labelled AWSPENDING: the current JSON with
    /// `username` and `password` replaced (host and other keys kept). The
    /// rotation id makes the write idempotent (AWS's ClientRequestToken).
    fn put_pending<'a>(
        &'a self,
        rotation_id: &'a str,
        username: &'a str,
        password: &'a SecretString,
    ) -> PortFuture<'a, ()>;
    /// Move AWSCURRENT to the AWSPENDING version (the old one becomes
    /// AWSPREVIOUS), then take AWSPENDING off it; after an interrupted
    /// promotion (AWSCURRENT moved, AWSPENDING still on it), only the latter.
    fn promote_pending(&self) -> PortFuture<'_, ()>;
    /// Whether AWSPENDING is still on the AWSCURRENT version: a promotion
    /// interrupted between its two moves (AWS's own rotation would refuse
    /// to start while it is there).
    fn pending_on_current(&self) -> PortFuture<'_, bool> {
        Box::pin(async { Ok(false) })
    }
    /// Every username the secret has held (its version history), so a new
    /// rotation never reuses one, even of a user dropped since.
    fn past_usernames(&self) -> PortFuture<'_, Vec<String>>;
    /// The rotation mark on the secret (its tags), if there is one.
    fn rotation_mark(&self) -> PortFuture<'_, Option<RotationMark>>;
    /// Write `mark` on the secret (replacing any other mark's tags).
    fn set_rotation_mark<'a>(&'a self, mark: &'a RotationMark) -> PortFuture<'a, ()>;
    /// Remove the mark, but only when it is rotation `rotation_id`'s.
    fn clear_rotation_mark<'a>(&'a self, rotation_id: &'a str) -> PortFuture<'a, ()>;
    /// Roll the secret back to `old_username`'s version: AWSCURRENT moves
    /// back to it (the AWSPREVIOUS version after a promotion; refused when
    /// that version names someone else) and AWSPENDING leaves any version
    /// of another user. Done already (no call) when AWSCURRENT names
    /// `old_username` and nothing else is pending.
    fn restore_previous<'a>(&'a self, old_username: &'a str) -> PortFuture<'a, ()>;
}

/// How a DATABASE_URL (in the Secret, or a pod's environment) compares
/// with the credentials expected. Never holds the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredCheck {
    /// The user the URL names.
    pub user: String,
    /// User and password are the expected ones.
    pub matches: bool,
    /// One line for people: `user x @ host/db: password DIFFERS`.
    pub summary: String,
}

/// How a forced sync of the ExternalSecret ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncVerdict {
    /// Ready=True, SecretSynced, refreshed after the annotation.
    Synced,
    /// Ready=False, SecretSyncedError: the controller's message.
    Failed(String),
    /// No verdict within the timeout: the last state seen.
    TimedOut(String),
}

/// One credential variable in one container of a serving pod, and what it
/// says (exec `env`, compared by the variable's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodCheck {
    /// The consumer, as kubectl names it: `deployment/signon-worker`.
    pub workload: String,
    pub pod: String,
    pub container: String,
    /// The variable the Secret's key becomes in this container
    /// (`DATABASE_URL`, router's `CONTENT_STORE_DATABASE_URL`).
    pub variable: String,
    pub check: CredCheck,
}

/// One consumer of the Secret: its rollout, or for a CronJob what its next
/// run reads, or for a running Job whether its pods hold the expected
/// credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadCheck {
    /// `deployment/signon`, `cronjob/signon-cleanup`, `job/signon-cleanup-29000000`.
    pub workload: String,
    /// Nothing left to wait for: rolled out (Deployment, StatefulSet,
    /// DaemonSet), always for a CronJob (it reads the Secret when a run
    /// starts), no pod on other credentials for a running Job.
    pub complete: bool,
    pub summary: String,
    /// For a workload that rolls (Deployment, StatefulSet, DaemonSet): what
    /// the health gate reads. `None` for CronJobs and Jobs.
    pub health: Option<WorkloadHealth>,
}

/// What the health gate (`steps/cluster.rs`) reads of a rolling workload:
/// who restarts it, how available it is against what its strategy allows,
/// and whether its pods crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadHealth {
    /// `Ok(the annotation by which Reloader restarts it)`, `Err(why it will not)`:
    /// then rotui restarts it.
    pub reloader: Result<String, String>,
    pub replicas: i32,
    pub available: i32,
    /// replicas − maxUnavailable (0 for Recreate, OnDelete).
    pub min_available: i32,
    /// Each pod's restarts summed: growth while the gate watches is a crash.
    pub restarts: i32,
    /// Pods in a crash loop: `signon-worker-7c9 (CrashLoopBackOff, 3 restarts)`.
    pub crash_looping: Vec<String>,
    /// A paused Deployment (`--stagger` pauses Reloader's before the sync):
    /// the rollout step resumes it in its turn.
    pub paused: bool,
}

/// Every consumer's rollout, and every serving pod checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutCheck {
    /// Every consumer complete: replicas updated and available, no old pods
    /// left, no running Job on other credentials.
    pub complete: bool,
    /// The app Deployment's rollout in words.
    pub summary: String,
    pub pods: Vec<PodCheck>,
    /// Each consumer, the app Deployment first.
    pub workloads: Vec<WorkloadCheck>,
    /// Kinds that could not be looked at, with why
    /// (`cronjobs: not served by the API server`): their consumers are unknown.
    pub unlisted: Vec<String>,
}

/// A Deployment, StatefulSet or DaemonSet reading the Secret: whether
/// Reloader restarts it when the Secret changes, and how it rolls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartImpact {
    /// `deployment/router`.
    pub workload: String,
    /// Its app label (`app.kubernetes.io/name`, else `app`).
    pub app: Option<String>,
    /// What each container reads: `router: CONTENT_STORE_DATABASE_URL ← DATABASE_URL`.
    pub reads: String,
    /// `Ok(the annotation that restarts it)`, `Err(why nothing will)`.
    pub restarted: Result<String, String>,
    pub replicas: i32,
    /// `RollingUpdate maxUnavailable 0, maxSurge 1`.
    pub strategy: String,
    pub readiness: String,
    /// The PodDisruptionBudgets selecting its pods, in words.
    pub pdbs: Vec<String>,
}

/// A CronJob reading the Secret, and when it runs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronImpact {
    pub workload: String,
    pub reads: String,
    pub schedule: String,
    /// The next run (`None`: none within a year), or why it is not known.
    pub next: Result<Option<DateTime<Utc>>, String>,
}

/// Everything a change of the Secret touches in one environment: what the
/// promote step's preview shows before AWSCURRENT moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlastRadius {
    pub restarts: Vec<RestartImpact>,
    pub cronjobs: Vec<CronImpact>,
    /// Jobs with pods running now, on the credentials they started with:
    /// `job/signon-cleanup-29000000 (of cronjob/signon-cleanup): 1 pod running`.
    pub jobs: Vec<String>,
    /// Kinds that could not be looked at, with why.
    pub unlisted: Vec<String>,
}

/// A place this cluster's data sync names a login (`k8s::db_sync`): a
/// restore whose `DB_OWNER` is it, or a transform's line re-owning to it.
/// Once the login is dropped, that restore fails after its swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncNaming {
    pub cronjob: String,
    /// Its key in govuk-helm-charts' `charts/db-backup/values.yaml`
    /// (`cronjobs.<env>.<key>`): where the change is made.
    pub values_key: String,
    /// `sets DB_OWNER=email-alert-api`, `transform x.sql: ALTER TABLE …`.
    pub what: String,
}

/// How a restore job's latest run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreOutcome {
    Running,
    Succeeded,
    Failed(String),
}

/// A restore CronJob of the app's database in this cluster (the estate's
/// data sync): where it copies from, when it runs next, how it last ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRun {
    pub cronjob: String,
    /// The environment it restores from (its bucket's).
    pub from: Option<String>,
    pub suspended: bool,
    /// The next run (`None`: suspended or none within a year), or why unknown.
    pub next: Result<Option<DateTime<Utc>>, String>,
    /// The latest Job and how it ended.
    pub last: Option<(String, RestoreOutcome)>,
}

impl RestoreRun {
    /// `CronJob db-backup-x-postgres (from production; next Mon 01:54 UTC; last db-backup-x-1 succeeded)`.
    pub fn describe(&self) -> String {
        let from = self
            .from
            .as_deref()
            .map(|f| format!("from {f}; "))
            .unwrap_or_default();
        let next = match &self.next {
            _ if self.suspended => "suspended".to_owned(),
            Ok(Some(t)) => format!("next {}", t.format("%a %d %b %H:%M UTC")),
            Ok(None) => "no run within a year".to_owned(),
            Err(why) => format!("next run unknown: {why}"),
        };
        let last = match &self.last {
            None => "no run kept".to_owned(),
            Some((job, RestoreOutcome::Running)) => format!("{job} running"),
            Some((job, RestoreOutcome::Succeeded)) => format!("last {job} succeeded"),
            Some((job, RestoreOutcome::Failed(why))) => format!("last {job} FAILED: {why}"),
        };
        format!("CronJob {} ({from}{next}; {last})", self.cronjob)
    }
}

/// One environment's cluster, for the app's ExternalSecret, Secret and its consumers.
pub trait ClusterPort: Send + Sync {
    /// Annotate the ExternalSecret with `force-sync=<now>` and wait up to
    /// `timeout` for the controller's verdict on that annotation.
    fn force_sync(&self, timeout: Duration) -> PortFuture<'_, SyncVerdict>;
    /// Compare the Kubernetes Secret's DATABASE_URL with `expected`; `None`
    /// when the Secret or its DATABASE_URL does not exist.
    fn check_secret<'a>(&'a self, expected: &'a AppCredentials) -> PortFuture<'a, Option<CredCheck>>;
    /// Every consumer of the Secret (the app Deployment always): its
    /// rollout, and in each serving pod each container's credential
    /// variables (exec `env`) compared with `expected`.
    fn check_rollout<'a>(&'a self, expected: &'a AppCredentials) -> PortFuture<'a, RolloutCheck>;
    /// Who a change of the Secret restarts, who it leaves on the old
    /// credentials, the CronJobs' next runs and the Jobs running now
    /// (read-only). A cluster that cannot say answers an error, which the
    /// preview shows as unknown.
    fn blast_radius(&self) -> PortFuture<'_, BlastRadius> {
        Box::pin(async {
            Err(PortError::new(
                System::Kubernetes,
                PortErrorKind::Other,
                "this cluster does not report a blast radius",
            ))
        })
    }

    /// `kubectl rollout restart` of one rolling consumer (`deployment/x`):
    /// its pod template's `kubectl.kubernetes.io/restartedAt` set to `at`
    /// (RFC 3339, as kubectl writes it).
    fn restart<'a>(&'a self, workload: &'a str, _at: &'a str) -> PortFuture<'a, ()> {
        Box::pin(async move {
            Err(PortError::new(
                System::Kubernetes,
                PortErrorKind::Other,
                format!("this cluster cannot restart {workload}"),
            ))
        })
    }

    /// `kubectl rollout pause` (`paused`) or `resume` of a Deployment (`deployment/x`).
    fn set_paused<'a>(&'a self, workload: &'a str, _paused: bool) -> PortFuture<'a, ()> {
        Box::pin(async move {
            Err(PortError::new(
                System::Kubernetes,
                PortErrorKind::Other,
                format!("this cluster cannot pause or resume {workload}"),
            ))
        })
    }

    /// Where the data sync of the app's database in this cluster (the
    /// estate's `db-backup-…` CronJobs) names `login` (read-only). A
    /// cluster without one answers none.
    fn sync_naming<'a>(&'a self, _login: &'a str) -> PortFuture<'a, Vec<SyncNaming>> {
        Box::pin(async { Ok(vec![]) })
    }

    /// The restore CronJobs of the app's database in this cluster, with
    /// their latest runs (read-only). A cluster without one answers none.
    fn restore_runs(&self) -> PortFuture<'_, Vec<RestoreRun>> {
        Box::pin(async { Ok(vec![]) })
    }

    /// The pod (and its workload) behind each client address, in order;
    /// `None` where no pod has it. None known by default.
    fn attribute_clients<'a>(&'a self, clients: &'a [String]) -> PortFuture<'a, Vec<Option<String>>> {
        Box::pin(async move { Ok(vec![None; clients.len()]) })
    }
}

/// Everything the engine touches in one environment.
#[derive(Clone)]
pub struct EnvPorts {
    pub target: Target,
    pub db: Arc<dyn DbPort>,
    pub secrets: Arc<dyn SecretsPort>,
    pub cluster: Arc<dyn ClusterPort>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_fit_mysql_and_stay_distinct() {
        assert_eq!(lock_key("production", "signon"), "rotui:production/signon");
        let a = lock_key("production", &"a".repeat(80));
        let b = lock_key("production", &format!("{}b", "a".repeat(79)));
        assert!(a.len() <= 64 && b.len() <= 64, "{a} {b}");
        assert_ne!(a, b);
    }

    #[test]
    fn db_errors_keep_kind_and_code() {
        let mut d = DbError::new(DbErrorKind::BadPassword, "Access denied");
        d.code = Some("1045".into());
        let p = PortError::from(d);
        assert_eq!(p.kind, PortErrorKind::BadPassword);
        assert!(p.to_string().contains("1045"));
    }
}
