//! PostgreSQL and RDS for PostgreSQL.
//!
//! [`PgDb`] holds a pool of at most two connections (rotui never needs more
//! per server, and the drain view must not inflate what it measures), all
//! tagged `application_name=rotui`, each with a `statement_timeout` and a
//! `lock_timeout`. Work that must happen in another database (REASSIGN OWNED
//! and friends act on the current database only) uses a short-lived
//! connection that is closed straight after.
//!
//! Reads are in `catalog` and `connections`; the owner-role conversion
//! in `owner_roles` (default privileges in `default_privileges`); the new
//! login user in `login`; retiring the old user in `retire`; the role
//! facts plans start from in `roles`. Every write is first a list of
//! [`Statement`]s computed from live state, so a preview is exact and a
//! second run plans nothing.

/// `sqlx::FromRow` by column name for a plain struct, without sqlx's
/// `macros` feature: its proc-macro crate compiles sqlx, tokio and their
/// dependencies a second time (for the host), in every build and lint.
/// Fields listed after `;` are not columns and start as their default.
macro_rules! from_pg_row {
    ($ty:ident { $($field:ident),* $(,)? } $(; $($skip:ident),*)?) => {
        impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for $ty {
            fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok($ty {
                    $($field: row.try_get(stringify!($field))?,)*
                    $($($skip: Default::default(),)*)?
                })
            }
        }
    };
}

mod catalog;
mod connections;
mod default_privileges;
mod equivalence;
mod failed_logins;
mod login;
mod owner_roles;
mod retire;
mod roles;

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, Postgres};

use super::error::{DbError, DbErrorKind, DbResult};
use super::watch::{WatchConn, WatchError};
use crate::db::Statement;
use crate::db::tls::{Secured, TlsMode};
use crate::model::{Flavor, FlavorKind};
use crate::secret::{self, ExposeSecret, SecretString};

/// The port PostgreSQL (and RDS for PostgreSQL) listens on by default.
pub const DEFAULT_PORT: u16 = 5432;
/// The schemes that name PostgreSQL in a DATABASE_URL (Rails' `postgis`
/// adapter among them); rotui writes the first.
pub const URL_SCHEMES: &[&str] = &["postgresql", "postgres", "postgis"];

pub use equivalence::{Equivalence, PrivilegeDifference};
pub use login::{Inheritance, MAX_ROLE_NAME_BYTES};
pub use owner_roles::OwnerRoleStatus;
pub use retire::Retired;

/// PostgreSQL's one error table, by SQLSTATE. The useful part of some
/// errors is in DETAIL (which objects still depend on a role, for instance).
pub(crate) fn database_error(err: &sqlx::postgres::PgDatabaseError) -> DbError {
    use DbErrorKind::*;
    let code = err.code();
    let (kind, hint) = match code {
        "28P01" => (BadPassword, "check the password (is the admin secret current?)"),
        // Not a wrong password: the role may not log in (NOLOGIN), or
        // pg_hba.conf refuses the client.
        "28000" => (
            BadPassword,
            "the server refuses this login: is the role NOLOGIN, or does pg_hba.conf exclude this client?",
        ),
        "42501" => (Privilege, "the admin user lacks a privilege named above"),
        "42710" => (
            AlreadyExists,
            "it may exist already: refresh to see the live state",
        ),
        "3D000" => (NotFound, "the database does not exist: check its name"),
        "53300" => (
            Unreachable,
            "the server has no connection slots left: wait, or end idle sessions",
        ),
        "57P01" => (Other, "the session was terminated by an administrator; reconnect"),
        "42704" => (
            NotFound,
            "it does not exist (any more): refresh to see the live state",
        ),
        "55P03" => (
            LockTimeout,
            "another session holds a lock; retry when it is quiet",
        ),
        "2BP01" => (DependentObjects, "objects still depend on it: move them first"),
        "57014" => (Timeout, "the statement took too long and was cancelled"),
        _ => (Other, ""),
    };
    let message = match err.detail() {
        Some(detail) => format!("{}: {detail}", err.message()),
        None => err.message().to_owned(),
    };
    let mut e = DbError::new(kind, message);
    e.code = Some(code.to_owned());
    if !hint.is_empty() {
        e.hint = Some(hint.into());
    }
    e
}

/// The `application_name` of every rotui connection, so the drain view (and
/// the benchmark) can tell rotui's own sessions apart.
pub const APPLICATION_NAME: &str = "rotui";

/// Timeouts for a [`PgDb`].
#[derive(Debug, Clone, Copy)]
pub struct PgConfig {
    /// Server-side limit on any one statement.
    pub statement_timeout: Duration,
    /// How long a statement waits for a lock (REASSIGN OWNED takes
    /// AccessExclusive locks; better to fail clearly than to stall the app).
    pub lock_timeout: Duration,
    /// Opening a connection, including DNS and authentication.
    pub connect_timeout: Duration,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            statement_timeout: Duration::from_secs(15),
            lock_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The connection list's last answer: the server's text, its rows, and
/// which of them was the query's own session.
type LastRows = (String, Arc<[crate::model::Connection]>, Option<usize>);

/// A PostgreSQL server as rotui's admin sees it.
#[derive(Clone)]
pub struct PgDb {
    pool: PgPool,
    /// The connection the connections view polls on.
    watch: Arc<WatchConn<PgConnection>>,
    /// The connection list's last answer, as the server's JSON text and as
    /// rows: an unchanged answer is not decoded again.
    last_rows: Arc<std::sync::Mutex<Option<LastRows>>>,
    /// Holds the password: never Debug-printed (see the manual impl).
    options: PgConnectOptions,
    config: PgConfig,
    flavor: Flavor,
    version_num: i32,
    database: String,
    user: String,
    /// How every connection is secured (the status bar, the test logins).
    tls: TlsMode,
}

impl std::fmt::Debug for PgDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDb")
            .field("host", &self.options.get_host())
            .field("port", &self.options.get_port())
            .field("user", &self.user)
            .field("database", &self.database)
            .field("flavor", &self.flavor)
            .finish_non_exhaustive()
    }
}

impl PgDb {
    /// Connect with a URL (`postgresql://user:password@host:port/database`).
    /// The URL's password is registered for redaction.
    pub async fn connect(url: &str) -> DbResult<Self> {
        Self::open(url, None, PgConfig::default()).await
    }

    /// Connect with a URL that carries no password, and a separate password
    /// (the admin password comes from Secrets Manager, not from a URL).
    pub async fn connect_with(url: &str, password: &SecretString) -> DbResult<Self> {
        Self::open(url, Some(password), PgConfig::default()).await
    }

    /// Connect with explicit timeouts, TLS required where the server offers it.
    pub async fn open(url: &str, password: Option<&SecretString>, config: PgConfig) -> DbResult<Self> {
        Self::open_secured(url, password, config, TlsMode::Require).await
    }

    /// Connect secured as `tls` says ([`crate::db::tls`]); a URL's own
    /// `sslmode` is overridden, so the status bar says what is true.
    pub async fn open_secured(
        url: &str,
        password: Option<&SecretString>,
        config: PgConfig,
        tls: TlsMode,
    ) -> DbResult<Self> {
        tls.check_bundle()?;
        let mut options = parse_url(url)?;
        if let Some(p) = password {
            secret::register(p.expose_secret());
            options = options.password(p.expose_secret());
        }
        // sqlx logs statement text; CREATE USER … PASSWORD must never reach a log.
        let options = options.disable_statement_logging();
        let options = options.application_name(APPLICATION_NAME).options([
            (
                "statement_timeout",
                format!("{}ms", config.statement_timeout.as_millis()),
            ),
            ("lock_timeout", format!("{}ms", config.lock_timeout.as_millis())),
            // A session that dies mid-transaction must not hold locks for long.
            ("idle_in_transaction_session_timeout", "60s".to_owned()),
        ]);
        // One direct login first, so a TLS refusal is told apart (and, with
        // no bundle, a server refusing TLS is spoken to in plaintext).
        let (first, tls) = connect_secured(&options, &tls, config.connect_timeout).await?;
        let _ = first.close().await;
        let options = tls.pg(options);
        // Two connections in all: the pool's one, and the connections
        // view's own (see `db::watch`), opened when first asked for.
        let watch = Arc::new(WatchConn::new(options.clone(), None));
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(config.connect_timeout)
            .idle_timeout(Duration::from_secs(60))
            .connect_lazy_with(options.clone());
        let mut db = PgDb {
            pool,
            watch,
            last_rows: Arc::default(),
            options,
            config,
            flavor: Flavor {
                kind: FlavorKind::Postgres,
                version: String::new(),
                rds: false,
            },
            version_num: 0,
            database: String::new(),
            user: String::new(),
            tls,
        };
        db.detect().await?;
        Ok(db)
    }

    /// Version, RDS-ness and who we are, in one round trip. The first query
    /// also opens the first connection, so connection errors surface here.
    async fn detect(&mut self) -> DbResult<()> {
        let (version, num, rds, user, database): (String, i32, bool, String, String) = self
            .timed(
                sqlx::query_as(
                    "SELECT current_setting('server_version'), current_setting('server_version_num')::int,
                            EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser'),
                            current_user::text, current_database()::text",
                )
                .fetch_one(&self.pool),
            )
            .await?;
        self.flavor.version = version;
        self.flavor.rds = rds;
        self.version_num = num;
        self.user = user;
        self.database = database;
        Ok(())
    }

    pub fn flavor(&self) -> &Flavor {
        &self.flavor
    }

    /// Whether the server sees this session as encrypted (`pg_stat_ssl`).
    pub async fn session_encrypted(&self) -> DbResult<bool> {
        self.timed(
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&self.pool),
        )
        .await
    }

    /// How the admin's connections are secured.
    pub fn tls(&self) -> &TlsMode {
        &self.tls
    }

    /// The user rotui is logged in as (the admin).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The database the pool is connected to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Close the pool's connections.
    pub async fn close(&self) {
        self.watch.close().await;
        self.pool.close().await;
    }

    /// A query on the connections view's own connection.
    async fn watch_fetch<T>(&self, sql: &'static str) -> DbResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin + 'static,
    {
        let limit = self.config.statement_timeout + Duration::from_secs(5);
        let run = self
            .watch
            .run(limit, |c| Box::pin(sqlx::query_as::<_, T>(sql).fetch_all(c)));
        match run.await {
            Ok(rows) => Ok(rows),
            Err(WatchError::Sql(e)) => Err(DbError::from(e)),
            Err(WatchError::Elapsed) => Err(DbError::new(
                DbErrorKind::Timeout,
                format!("the server did not answer within {}s", limit.as_secs()),
            )
            .with_hint("the server or the network is slow or gone; retry")),
        }
    }

    /// Try to take the advisory lock `key` (`pg_try_advisory_lock`: no
    /// waiting; scoped to this database) on a connection of its own, taken
    /// out of the pool; `None` when another session holds it. Give it back
    /// with [`release_advisory_lock`].
    pub async fn try_advisory_lock(&self, key: i64) -> DbResult<Option<PgConnection>> {
        let mut conn = self.timed(self.pool.acquire()).await?.detach();
        let got: bool = self
            .timed(
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut conn),
            )
            .await?;
        if got {
            Ok(Some(conn))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }

    /// Whether a role exists.
    pub async fn role_exists(&self, name: &str) -> DbResult<bool> {
        self.timed(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(name)
                .fetch_one(&self.pool),
        )
        .await
    }

    /// Log in once with the given credentials (to check a new secret before
    /// promoting it), then close. Returns who the session runs as.
    pub async fn test_login(
        host: &str,
        port: u16,
        user: &str,
        password: &SecretString,
        database: &str,
    ) -> DbResult<LoginCheck> {
        Self::test_login_secured(host, port, user, password, database, &TlsMode::Require).await
    }

    /// [`PgDb::test_login`] secured as `tls` says (the admin connection's own mode).
    pub async fn test_login_secured(
        host: &str,
        port: u16,
        user: &str,
        password: &SecretString,
        database: &str,
        tls: &TlsMode,
    ) -> DbResult<LoginCheck> {
        let config = PgConfig::default();
        let options = login_options(host, port, user, password, database);
        let (mut conn, _) = connect_secured(&options, tls, config.connect_timeout).await?;
        let row: Result<(String, String), DbError> = timed(
            config.statement_timeout,
            sqlx::query_as("SELECT session_user::text, current_user::text").fetch_one(&mut conn),
        )
        .await;
        let _ = conn.close().await;
        let (session_user, current_user) = row?;
        Ok(LoginCheck {
            session_user,
            current_user,
        })
    }

    /// The server's version, asked as the app would ask: log in with its
    /// credentials (`limit` for connecting and for the answer), read
    /// `server_version`, log out. The fleet view's per-row check.
    pub async fn server_version(
        host: &str,
        port: u16,
        user: &str,
        password: &SecretString,
        database: &str,
        limit: Duration,
        tls: &TlsMode,
    ) -> DbResult<String> {
        let options = login_options(host, port, user, password, database);
        let (mut conn, _) = connect_secured(&options, tls, limit).await?;
        let version: DbResult<String> = timed(
            limit,
            sqlx::query_scalar("SELECT current_setting('server_version')").fetch_one(&mut conn),
        )
        .await;
        let _ = conn.close().await;
        version
    }

    /// Run statements in order, each in the database it names (the pool's
    /// own for `None`). Stops at the first failure, naming the statement (its
    /// preview: passwords masked). Statements are written to be re-runnable
    /// plans, so after a failure, re-planning resumes where it stopped.
    pub async fn execute(&self, statements: &[Statement]) -> DbResult<()> {
        let mut i = 0;
        while i < statements.len() {
            let db = statements[i].database.as_deref();
            let run = statements[i..]
                .iter()
                .take_while(|s| s.database.as_deref() == db)
                .count();
            let mut conn = self.conn_in(db).await?;
            for st in &statements[i..i + run] {
                tracing::info!(statement = %st.preview(), "running");
                let r = self
                    .timed(sqlx::raw_sql(AssertSqlSafe(st.sql())).execute(&mut *conn))
                    .await;
                if let Err(e) = r {
                    conn.finish().await;
                    return Err(e.context(&format!("running `{}`", statement_text(st))));
                }
            }
            conn.finish().await;
            i += run;
        }
        Ok(())
    }

    /// A connection in `database`: from the pool when it is the pool's own,
    /// otherwise a fresh one, to be closed with [`Conn::finish`].
    async fn conn_in(&self, database: Option<&str>) -> DbResult<Conn> {
        match database {
            Some(db) if db != self.database => {
                let options = self.options.clone().database(db);
                Ok(Conn::Own(
                    connect_one(&options, self.config.connect_timeout).await?,
                ))
            }
            _ => Ok(Conn::Pooled(self.timed(self.pool.acquire()).await?)),
        }
    }

    /// Run a query future under the client-side deadline (the server's
    /// statement_timeout plus slack, for a network that went silent).
    async fn timed<T>(&self, fut: impl Future<Output = Result<T, sqlx::Error>>) -> DbResult<T> {
        timed(self.config.statement_timeout + Duration::from_secs(5), fut).await
    }

    /// PostgreSQL 16+ keeps INHERIT per membership grant, not per role.
    fn inherit_per_grant(&self) -> bool {
        self.version_num >= 160000
    }

    /// `pg_terminate_backend` waits for the backend to exit on PostgreSQL 14+.
    fn terminate_waits(&self) -> bool {
        self.version_num >= 140000
    }
}

/// Give back a lock [`PgDb::try_advisory_lock`] took, and close its connection.
pub async fn release_advisory_lock(mut conn: PgConnection, key: i64) {
    let limit = Duration::from_secs(10);
    let release = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut conn);
    let _ = tokio::time::timeout(limit, release).await;
    let _ = tokio::time::timeout(limit, conn.close()).await;
}

/// Who a test login runs as: `current_user` differs from `session_user` when
/// the role has `ALTER ROLE … SET role` (the new user acts as the owner role).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoginCheck {
    pub session_user: String,
    pub current_user: String,
}

/// A pooled connection, or a short-lived one in another database.
enum Conn {
    Pooled(PoolConnection<Postgres>),
    Own(PgConnection),
}

impl Conn {
    async fn finish(self) {
        if let Conn::Own(c) = self {
            let _ = c.close().await;
        }
    }
}

impl std::ops::Deref for Conn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        match self {
            Conn::Pooled(c) => c,
            Conn::Own(c) => c,
        }
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Conn::Pooled(c) => c,
            Conn::Own(c) => c,
        }
    }
}

/// Parse a URL without ever echoing it: its password is registered for
/// redaction first, and a parse error does not quote the input.
fn parse_url(url: &str) -> DbResult<PgConnectOptions> {
    if let Ok(u) = url::Url::parse(url)
        && let Some(p) = u.password()
    {
        secret::register(p);
        if let Ok(decoded) = percent_encoding::percent_decode_str(p).decode_utf8() {
            secret::register(&decoded);
        }
    }
    PgConnectOptions::from_str(url).map_err(|_| {
        DbError::new(DbErrorKind::Other, "the PostgreSQL URL is not valid")
            .with_hint("expected postgresql://user:password@host:port/database")
    })
}

/// A one-off login as `user` (its password registered for redaction first).
fn login_options(
    host: &str,
    port: u16,
    user: &str,
    password: &SecretString,
    database: &str,
) -> PgConnectOptions {
    secret::register(password.expose_secret());
    PgConnectOptions::new_without_pgpass()
        .host(host)
        .port(port)
        .username(user)
        .password(password.expose_secret())
        .database(database)
        .application_name(APPLICATION_NAME)
        .disable_statement_logging()
}

async fn connect_one(options: &PgConnectOptions, limit: Duration) -> DbResult<PgConnection> {
    match tokio::time::timeout(limit, PgConnection::connect_with(options)).await {
        Ok(r) => r.map_err(DbError::from),
        Err(_) => Err(DbError::new(
            DbErrorKind::Unreachable,
            format!(
                "no answer from {}:{} within {}s",
                options.get_host(),
                options.get_port(),
                limit.as_secs()
            ),
        )
        .with_hint("is the server up and reachable (tunnel, VPN, security group)?")),
    }
}

/// One connection secured as `tls` says, and the mode it ended with: with
/// no bundle, a server that refuses TLS is tried once more in plaintext;
/// a TLS failure is told in words (file, name, what to do).
async fn connect_secured(
    options: &PgConnectOptions,
    tls: &TlsMode,
    limit: Duration,
) -> DbResult<(PgConnection, TlsMode)> {
    let attempt = |tls: TlsMode| async move {
        match tokio::time::timeout(limit, PgConnection::connect_with(&tls.pg(options.clone()))).await {
            Ok(r) => Ok(r),
            Err(_) => Err(DbError::new(
                DbErrorKind::Unreachable,
                format!(
                    "no answer from {}:{} within {}s",
                    options.get_host(),
                    options.get_port(),
                    limit.as_secs()
                ),
            )
            .with_hint("is the server up and reachable (tunnel, VPN, security group)?")),
        }
    };
    let (result, tls) = match attempt(tls.clone()).await? {
        Err(e) => match tls.fallback(&e) {
            Some(plain) => {
                tracing::warn!(host = %options.get_host(), "the server refused TLS: plaintext");
                (attempt(plain.clone()).await?, plain)
            }
            None => (Err(e), tls.clone()),
        },
        ok => (ok, tls.clone()),
    };
    match result {
        Ok(conn) => Ok((conn, tls)),
        Err(e) => Err(tls
            .explain(&e, options.get_host())
            .unwrap_or_else(|| DbError::from(e))),
    }
}

async fn timed<T>(limit: Duration, fut: impl Future<Output = Result<T, sqlx::Error>>) -> DbResult<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(DbError::from),
        Err(_) => Err(DbError::new(
            DbErrorKind::Timeout,
            format!("the server did not answer within {}s", limit.as_secs()),
        )
        .with_hint("the server or the network is slow or gone; retry")),
    }
}

/// A statement's text without the `-- in database` line of its preview.
fn statement_text(st: &Statement) -> String {
    let p = st.preview();
    match &st.database {
        Some(_) => p.split_once('\n').map(|(_, t)| t.to_owned()).unwrap_or(p),
        None => p,
    }
}
