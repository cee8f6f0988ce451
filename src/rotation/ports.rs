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

use crate::db::model::{DbObject, Grant, Statement, User};
use crate::db::{DbError, DbErrorKind};
use crate::secret::{self, ExposeSecret, SecretString};
use crate::target::Target;

/// What every port method returns.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PortError>> + Send + 'a>>;

/// The outside system a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    Database,
    SecretsManager,
    Kubernetes,
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            System::Database => "database",
            System::SecretsManager => "Secrets Manager",
            System::Kubernetes => "Kubernetes",
        })
    }
}

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
    /// Statements that create login user `name` with `password` (PostgreSQL:
    /// granted `owner_role`, whose objects it then works with).
    fn create_user<'a>(
        &'a self,
        name: &'a str,
        password: &'a SecretString,
        owner_role: Option<&'a str>,
    ) -> PortFuture<'a, Vec<Statement>>;
    /// Objects `user` defines (MySQL: views, routines, triggers, events) or
    /// owns (PostgreSQL, in every database).
    fn objects_of<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<DbObject>>;
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
    /// Statements that end `user`'s connections (`KILL`, `mysql.rds_kill`, `pg_terminate_backend`).
    fn kill_connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<Statement>>;
    /// Statements that drop `user` (PostgreSQL: `REASSIGN OWNED` to
    /// `reassign_to` and `DROP OWNED` in each database it owns something in, then `DROP USER`).
    fn drop_user<'a>(&'a self, user: &'a str, reassign_to: Option<&'a str>)
    -> PortFuture<'a, Vec<Statement>>;
    /// Run one statement (in `statement.database` when set).
    fn execute<'a>(&'a self, statement: &'a Statement) -> PortFuture<'a, ()>;
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
    /// `username` and `password` replaced (host and other keys kept).
    fn put_pending<'a>(&'a self, username: &'a str, password: &'a SecretString) -> PortFuture<'a, ()>;
    /// Move AWSCURRENT to the AWSPENDING version (the old one becomes AWSPREVIOUS).
    fn promote_pending(&self) -> PortFuture<'_, ()>;
}

/// A parsed `DATABASE_URL` (`mysql2://user:password@host/db`).
#[derive(Clone)]
pub struct DbUrl {
    pub username: String,
    pub password: SecretString,
    pub host: String,
    pub database: String,
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({}@{}/{})", self.username, self.host, self.database)
    }
}

impl DbUrl {
    /// Parse a DATABASE_URL; the password is registered for redaction and the
    /// error never quotes the URL.
    pub fn parse(text: &str) -> Result<DbUrl, PortError> {
        let invalid = |why: &str| {
            PortError::new(
                System::Kubernetes,
                PortErrorKind::Invalid,
                format!("DATABASE_URL {why}"),
            )
        };
        let url = url::Url::parse(text.trim()).map_err(|_| invalid("is not a URL"))?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let password = url
            .password()
            .map(decode)
            .ok_or_else(|| invalid("has no password"))?;
        Ok(DbUrl {
            username: decode(url.username()),
            password: secret::secret(password),
            host: url.host_str().unwrap_or_default().to_owned(),
            database: decode(url.path().trim_start_matches('/')),
        })
    }

    /// Does this URL carry exactly these credentials?
    pub fn names(&self, creds: &AppCredentials) -> bool {
        self.username == creds.username && self.password.expose_secret() == creds.password.expose_secret()
    }
}

/// The ExternalSecret's sync state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// Condition Ready=True.
    pub ready: bool,
    /// `SecretSynced`, `SecretSyncedError`, …
    pub reason: Option<String>,
    pub message: Option<String>,
    pub refresh_time: Option<DateTime<Utc>>,
}

/// One app pod and the DATABASE_URL in its environment.
#[derive(Debug, Clone)]
pub struct PodEnv {
    pub name: String,
    pub ready: bool,
    pub database_url: Option<DbUrl>,
}

/// The app Deployment's rollout and its pods.
#[derive(Debug, Clone)]
pub struct RolloutStatus {
    /// Every replica updated and available, no old ReplicaSet pods left.
    pub complete: bool,
    pub pods: Vec<PodEnv>,
}

/// One environment's cluster, for the app's ExternalSecret, Secret and Deployment.
pub trait ClusterPort: Send + Sync {
    /// Annotate the ExternalSecret with `force-sync=<now>`; returns that time.
    fn force_sync(&self) -> PortFuture<'_, DateTime<Utc>>;
    fn sync_status(&self) -> PortFuture<'_, SyncStatus>;
    /// The Kubernetes Secret's DATABASE_URL, when it has one.
    fn secret_database_url(&self) -> PortFuture<'_, Option<DbUrl>>;
    /// The rollout, and each running pod's DATABASE_URL (exec `env` in the app container).
    fn rollout(&self) -> PortFuture<'_, RolloutStatus>;
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
    fn database_urls_parse_without_leaking() {
        let u = DbUrl::parse("mysql2://signon_user_20260121:Zq9pW2portsTest@db.internal/signon_production")
            .unwrap();
        assert_eq!(u.username, "signon_user_20260121");
        assert_eq!(u.host, "db.internal");
        assert_eq!(u.database, "signon_production");
        assert!(!format!("{u:?}").contains("Zq9pW2portsTest"));
        assert!(secret::redact("x Zq9pW2portsTest y").contains(secret::MASK));
        let e = DbUrl::parse("postgresql://u@host/db").unwrap_err();
        assert_eq!(e.kind, PortErrorKind::Invalid);
        let e = DbUrl::parse("not a url with s3cretvalue").unwrap_err();
        assert!(!e.to_string().contains("s3cretvalue"));
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
