//! The domain: users, grants, objects, connections and the server's flavor,
//! as the database layer reports them and the screen and the rotation engine
//! read them. Both engines map their catalogues into these types, so nothing
//! above `db` branches on SQL dialects; neither `db` nor `ui` owns them.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which server rotui is talking to, detected on connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flavor {
    pub kind: FlavorKind,
    /// `SELECT VERSION()` as the server reports it.
    pub version: String,
    /// Amazon RDS (e.g. `mysql.rds_kill` exists, or the `rds_superuser` role).
    pub rds: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlavorKind {
    Mysql,
    Mariadb,
    Postgres,
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.kind {
            FlavorKind::Mysql => "MySQL",
            FlavorKind::Mariadb => "MariaDB",
            FlavorKind::Postgres => "PostgreSQL",
        };
        let short = self.version.split(['-', ' ']).next().unwrap_or(&self.version);
        write!(f, "{name} {short}{}", if self.rds { " (RDS)" } else { "" })
    }
}

/// A database user (MySQL account) or role (PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    /// MySQL host part (`%`, `localhost`, …); `None` for PostgreSQL and MariaDB roles.
    pub host: Option<String>,
    pub can_login: bool,
    pub superuser: bool,
    /// MySQL: auth plugin. PostgreSQL: none.
    pub auth_plugin: Option<String>,
    pub password_expired: bool,
    pub account_locked: bool,
    /// MySQL Grant_priv / PostgreSQL CREATEROLE.
    pub can_grant: bool,
    /// PostgreSQL attributes as `\du` prints them ("Create role", "Cannot login", …).
    pub attributes: Vec<String>,
    /// Roles this user is a member of (PostgreSQL) or has been granted (MySQL roles).
    pub member_of: Vec<String>,
    /// PostgreSQL `rolvaliduntil`.
    pub valid_until: Option<String>,
    /// PostgreSQL per-role settings (`ALTER ROLE … SET`), as `key=value`.
    pub settings: Vec<String>,
    /// MariaDB/MySQL role (not a login account).
    pub is_role: bool,
}

impl User {
    /// `name@host` for MySQL accounts, `name` otherwise: the stable key of a row.
    pub fn key(&self) -> String {
        match &self.host {
            Some(h) => format!("{}@{}", self.name, h),
            None => self.name.clone(),
        }
    }
}

/// One privilege grant, structured.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// What is granted: privileges (`SELECT`, `ALL PRIVILEGES`, `SELECT (col)`),
    /// a role name, or `PROXY`.
    pub privileges: Vec<String>,
    /// Where: `*.*`, `` `db`.* ``, `` `db`.`tbl` ``, `FUNCTION db.f`, a PostgreSQL
    /// object (`TABLE public.users`), or empty for role memberships.
    pub on: String,
    pub kind: GrantKind,
    pub with_grant_option: bool,
    /// The statement as the server printed it (credentials stripped).
    pub raw: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    Global,
    Database,
    Table,
    Column,
    Routine,
    Proxy,
    Role,
    DefaultRole,
    /// PostgreSQL object privilege.
    Object,
    /// PostgreSQL role membership.
    Membership,
}

/// A database object with its owner (PostgreSQL) or definer (MySQL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbObject {
    /// `view`, `procedure`, `function`, `trigger`, `event`, `table`,
    /// `sequence`, `materialized view`, `type`, `schema`, `database`.
    pub kind: String,
    pub schema: Option<String>,
    pub name: String,
    /// Owner role (PostgreSQL) or definer `user@host` (MySQL).
    pub owner: String,
}

/// Databases where a PostgreSQL role still owns something (from pg_shdepend).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedIn {
    pub database: String,
    pub objects: i64,
}

/// A PostgreSQL default-privileges entry (`ALTER DEFAULT PRIVILEGES`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultPrivilege {
    pub owner: String,
    pub schema: Option<String>,
    /// `table`, `sequence`, `function`, `type`, `schema`.
    pub object_type: String,
    pub acl: Vec<String>,
}

/// One server connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Thread id (MySQL) or backend pid (PostgreSQL).
    pub id: i64,
    /// `None` when PostgreSQL no longer knows the role (it was dropped).
    pub user: Option<String>,
    pub client: Option<String>,
    pub database: Option<String>,
    pub application: Option<String>,
    pub state: Option<String>,
    /// When it entered its current state/command (a time, not an age, so
    /// an idle connection looks the same from one refresh to the next;
    /// PostgreSQL gives an idle one's to the minute, as the list shows it).
    pub since: Option<DateTime<Utc>>,
    /// The start of the statement it is running (none while idle), on one
    /// line, with known secrets masked (`db::statement_text`).
    #[serde(default)]
    pub query: Option<String>,
}

impl Connection {
    /// Between statements: PostgreSQL's `idle`, MySQL's `Sleep` command.
    pub fn is_idle(&self) -> bool {
        matches!(self.state.as_deref(), Some("idle"))
            || self.state.as_deref().is_some_and(|s| s.starts_with("Sleep"))
    }
}

/// Connections per user: the drain view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionCount {
    pub user: Option<String>,
    pub count: i64,
}

/// A snapshot of connections, taken with one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSnapshot {
    pub at: DateTime<Utc>,
    pub counts: Vec<ConnectionCount>,
    /// The single rows, when asked for: shared, as an unchanged answer
    /// hands on the last one's rows rather than copies.
    pub rows: std::sync::Arc<[Connection]>,
    /// rotui's own session, as the server saw the one that took this
    /// snapshot.
    #[serde(default)]
    pub own: Option<OwnSession>,
}

/// The session a connection snapshot was taken on: rotui's own. Every
/// connection of its user from its client address is rotui's too (its
/// pool, its locks, its watch), which the dashboard marks and will not kill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnSession {
    pub user: Option<String>,
    /// `ip:port` as the server lists it; `None` when only counts were read.
    pub client: Option<String>,
}

impl ConnectionSnapshot {
    /// The client address of each of `user`'s connections (rows asked for).
    pub fn clients_of(&self, user: &str) -> Vec<String> {
        self.rows
            .iter()
            .filter(|c| c.user.as_deref() == Some(user))
            .filter_map(|c| c.client.clone())
            .collect()
    }
}

/// The outside system a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    Database,
    SecretsManager,
    Kubernetes,
}

impl System {
    pub const ALL: [System; 3] = [System::SecretsManager, System::Kubernetes, System::Database];
}

impl std::fmt::Display for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            System::Database => "database",
            System::SecretsManager => "Secrets Manager",
            System::Kubernetes => "Kubernetes",
        })
    }
}

/// Yes, no, or not known (not read, not reported, not comparable): three
/// states by name, where an `Option<bool>`'s `None` could mean anything. In
/// JSON it stays `true`, `false` or `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No,
    #[default]
    Unknown,
}

impl Verdict {
    /// Every verdict of `all` together: `No` if any is, else `Unknown` if
    /// any is, else `Yes`; `Unknown` for none at all.
    pub fn all(all: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut seen = false;
        let mut out = Verdict::Yes;
        for v in all {
            seen = true;
            match v {
                Verdict::No => return Verdict::No,
                Verdict::Unknown => out = Verdict::Unknown,
                Verdict::Yes => {}
            }
        }
        if seen { out } else { Verdict::Unknown }
    }
}

impl From<bool> for Verdict {
    fn from(b: bool) -> Self {
        if b { Verdict::Yes } else { Verdict::No }
    }
}

impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Verdict::Yes => s.serialize_bool(true),
            Verdict::No => s.serialize_bool(false),
            Verdict::Unknown => s.serialize_none(),
        }
    }
}

/// Failed logins as a server counts them for some users: its own
/// cumulative counters (since it started, or its counters were reset), so
/// a rotation counts from a baseline of its own; or why it cannot tell,
/// which is never shown as zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailedLogins {
    /// Every user asked about, with 0 when the server counted none.
    Counted(std::collections::BTreeMap<String, i64>),
    /// Why this server cannot say, in words for the operator.
    NotObservable(String),
}

impl FailedLogins {
    /// What happened after `baseline` (the count taken before the switch):
    /// per user, the counters' growth. A counter lower than its baseline
    /// was reset (a server restart, a TRUNCATE of the summary): what it
    /// holds now all came after. Without a counted baseline nothing can be
    /// blamed on the rotation, and it says so.
    pub fn since(&self, baseline: Option<&FailedLogins>) -> FailedLogins {
        let now = match self {
            FailedLogins::NotObservable(_) => return self.clone(),
            FailedLogins::Counted(now) => now,
        };
        let Some(FailedLogins::Counted(base)) = baseline else {
            return FailedLogins::NotObservable(
                "no count was taken before the switch, so none can be told apart from older failures".into(),
            );
        };
        FailedLogins::Counted(
            now.iter()
                .map(|(user, &n)| {
                    let before = base.get(user).copied().unwrap_or(0);
                    (user.clone(), if n >= before { n - before } else { n })
                })
                .collect(),
        )
    }

    /// `signon 0, signon_user_20260121 2` or `not observable: <why>`.
    pub fn summary(&self) -> String {
        match self {
            FailedLogins::Counted(by_user) => by_user
                .iter()
                .map(|(user, n)| format!("{user} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            FailedLogins::NotObservable(why) => format!("not observable: {why}"),
        }
    }
}

// ---- how a database connection is secured ----------------------------

/// Where the RDS CA bundle comes from: what a refusal tells the operator to get.
pub const RDS_BUNDLE_URL: &str = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem";

/// How one login is secured: chosen before connecting, and after it what
/// the status bar and the plan show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Certificate chain checked against this CA bundle, and the name
    /// against the host connected to.
    VerifyFull(PathBuf),
    /// Through `--tunnel`: rotui's own local end of the tunnel did the
    /// verify-full handshake (against the RDS name, not 127.0.0.1); the
    /// driver speaks plaintext to that end, inside this process.
    VerifiedByTunnel { ca: PathBuf, name: String },
    /// TLS, certificate not checked (no CA bundle given).
    Require,
    /// The server refused TLS: no encryption at all.
    Plaintext,
}

impl TlsMode {
    /// The first mode to try for a server: verify-full with a bundle, else
    /// TLS required.
    pub fn for_bundle(ca_bundle: Option<&Path>) -> TlsMode {
        match ca_bundle {
            Some(p) => TlsMode::VerifyFull(p.to_path_buf()),
            None => TlsMode::Require,
        }
    }

    /// Whether the certificate was (or will be) checked.
    pub fn verified(&self) -> bool {
        matches!(self, TlsMode::VerifyFull(_) | TlsMode::VerifiedByTunnel { .. })
    }

    /// The CA bundle in use, if any.
    pub fn ca_bundle(&self) -> Option<&Path> {
        match self {
            TlsMode::VerifyFull(ca) | TlsMode::VerifiedByTunnel { ca, .. } => Some(ca),
            _ => None,
        }
    }

    /// The words the status bar and the plan show.
    pub fn label(&self) -> String {
        let file = |p: &Path| {
            p.file_name()
                .map_or_else(|| p.display().to_string(), |f| f.to_string_lossy().into_owned())
        };
        match self {
            TlsMode::VerifyFull(ca) => format!("TLS verified (CA {})", file(ca)),
            TlsMode::VerifiedByTunnel { ca, .. } => format!("TLS verified (CA {}, tunnel)", file(ca)),
            TlsMode::Require => "TLS unverified".to_owned(),
            TlsMode::Plaintext => "plaintext".to_owned(),
        }
    }

    /// A warning for the screen, when the connection is not verified.
    pub fn warning(&self) -> Option<String> {
        match self {
            TlsMode::Require => Some(format!(
                "TLS not verified: any host between here and the server could read the admin \
                 password — set ca_bundle for this environment (the RDS bundle: {RDS_BUNDLE_URL})"
            )),
            TlsMode::Plaintext => Some(
                "plaintext: the server refused TLS, so passwords cross the network unencrypted — \
                 enable TLS on the server and set ca_bundle"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// How long before an environment's credentials expire rotui gets new ones
/// (re-runs its `credential_command`): in time for the call in flight, and
/// what the status bar's countdown counts to.
pub const CREDENTIALS_REFRESH_BEFORE: std::time::Duration = std::time::Duration::from_secs(5 * 60);
