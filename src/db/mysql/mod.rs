//! MySQL 8, MariaDB and RDS for either: what rotui reads and writes.
//!
//! One pool of at most two connections per server (rotui must stay a light
//! guest on a production database), a timeout on every query, and the
//! flavor detected on connect so each read uses the right catalogue.
//! Writes come in two halves: a `*_plan` method reads live state and returns
//! the exact statements (empty when there is nothing to do), and
//! [`MysqlDb::execute`] runs them.

mod account;
pub mod backup;
mod connections;
mod definers;
mod grant_parse;
pub mod grants;
mod logins;
pub mod options;
mod read;
mod users;
mod verify;

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Executor, Row};

pub use account::Account;
pub use definers::{DefinerPlan, ObjectBackup, ObjectCheck};
pub use grants::{GrantLine, ParsedGrant};
pub use verify::GrantDiff;

use crate::db::Statement;
use crate::db::tls::{Secured, TlsMode};
use crate::db::{DbError, DbErrorKind, DbResult};
use crate::model::{Flavor, FlavorKind};
use crate::secret::{self, ExposeSecret, SecretString};

/// rotui's budget of connections per server.
pub const MAX_CONNECTIONS: u32 = 2;
/// The longest user name MySQL 8.0+ accepts, in characters.
pub const MAX_USERNAME_CHARS: usize = 32;
/// The port MySQL (and RDS for MySQL) listens on by default.
pub const DEFAULT_PORT: u16 = 3306;
/// The schemes that name the MySQL family in a DATABASE_URL (Rails'
/// `mysql2` and `trilogy` adapters among them); rotui writes the first.
pub const URL_SCHEMES: &[&str] = &["mysql", "mysql2", "mariadb", "trilogy"];

/// How long any one query may take unless changed with [`MysqlDb::with_timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Statements to run, with notes on what was found (e.g. "exists already").
#[derive(Debug, Clone, Default)]
pub struct WritePlan {
    pub statements: Vec<Statement>,
    pub notes: Vec<String>,
}

impl WritePlan {
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The statements as the operator sees them (passwords masked).
    pub fn previews(&self) -> Vec<String> {
        self.statements.iter().map(Statement::preview).collect()
    }
}

/// An admin connection to one MySQL-family server.
#[derive(Debug, Clone)]
pub struct MysqlDb {
    pool: MySqlPool,
    flavor: Flavor,
    /// The admin as the server knows it (`CURRENT_USER()`): the definer that
    /// migrated objects get.
    me: Account,
    timeout: Duration,
    /// How the connection is secured (the status bar, the test logins).
    tls: TlsMode,
}

impl MysqlDb {
    /// Connect with a `mysql://user:password@host:port/db` URL, TLS
    /// required where the server offers it (not verified).
    pub async fn connect(url: &str) -> DbResult<MysqlDb> {
        Self::connect_secured(url, None, TlsMode::Require).await
    }

    /// Connect with a URL that holds no password, and a password beside it.
    pub async fn connect_with(url: &str, password: &SecretString) -> DbResult<MysqlDb> {
        Self::connect_secured(url, Some(password), TlsMode::Require).await
    }

    /// Connect secured as `tls` says ([`crate::db::tls`]): a URL's own
    /// `ssl-mode` is overridden, so the status bar says what is true.
    pub async fn connect_secured(
        url: &str,
        password: Option<&SecretString>,
        tls: TlsMode,
    ) -> DbResult<MysqlDb> {
        let mut options = parse_url(url)?;
        if let Some(password) = password {
            secret::register(password.expose_secret());
            options = options.password(password.expose_secret());
        }
        Self::open(options, tls).await
    }

    async fn open(options: MySqlConnectOptions, tls: TlsMode) -> DbResult<MysqlDb> {
        tls.check_bundle()?;
        // sqlx adds PIPES_AS_CONCAT to sql_mode by default; routines re-created
        // from their SHOW CREATE text must parse as an ordinary client's would.
        // sqlx logs every statement's text, CREATE USER … IDENTIFIED BY
        // included: off; `execute` logs masked previews instead.
        let options = options.pipes_as_concat(false).disable_statement_logging();

        // One direct connection first: a pool retries refused connections
        // until its timeout and then reports only "timed out", while the
        // operator needs the real reason (refused, bad password, …) at once.
        // Plaintext only after the server refused TLS, never with a bundle.
        let mut tls = tls;
        let row = loop {
            match tokio::time::timeout(DEFAULT_TIMEOUT, probe(&tls.mysql(options.clone()))).await {
                Ok(Ok(row)) => break row,
                Ok(Err(e)) => match tls.fallback(&e) {
                    Some(next) => {
                        tracing::warn!(host = %options.get_host(), "the server refused TLS: plaintext");
                        tls = next;
                    }
                    None => {
                        return Err(tls
                            .explain(&e, options.get_host())
                            .unwrap_or_else(|| login_error(e)));
                    }
                },
                Err(_) => {
                    return Err(DbError::new(
                        DbErrorKind::Unreachable,
                        format!(
                            "no answer from {}:{} within {} s",
                            options.get_host(),
                            options.get_port(),
                            DEFAULT_TIMEOUT.as_secs()
                        ),
                    )
                    .with_hint("is the server up and reachable (tunnel, VPN, security group)?"));
                }
            }
        };
        let options = tls.mysql(options);
        let version = text(&row, 0);
        let kind = if version.to_ascii_lowercase().contains("mariadb") {
            FlavorKind::Mariadb
        } else {
            FlavorKind::Mysql
        };
        let flavor = Flavor {
            kind,
            version,
            rds: int(&row, 2) != 0,
        };
        let me = split_definer(&text(&row, 1));

        let pool = MySqlPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(DEFAULT_TIMEOUT)
            .idle_timeout(Duration::from_secs(60))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // `ident::mysql_str` doubles backslashes, which is only
                    // right without NO_BACKSLASH_ESCAPES.
                    conn.execute(
                        "SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(@@SESSION.sql_mode, \
                         'NO_BACKSLASH_ESCAPES', ''))",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Ok(MysqlDb {
            pool,
            flavor,
            me,
            timeout: DEFAULT_TIMEOUT,
            tls,
        })
    }

    /// Whether the server sees this session as encrypted (a non-empty
    /// `Ssl_cipher`).
    pub async fn session_encrypted(&self) -> DbResult<bool> {
        let rows = self
            .fetch_all(sqlx::query("SHOW SESSION STATUS LIKE 'Ssl_cipher'"))
            .await?;
        Ok(rows.first().is_some_and(|r| !text(r, 1).is_empty()))
    }

    /// How the admin connection is secured.
    pub fn tls(&self) -> &TlsMode {
        &self.tls
    }

    /// A copy whose queries may take `timeout` each.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn flavor(&self) -> &Flavor {
        &self.flavor
    }

    /// The admin account, as `CURRENT_USER()` names it.
    pub fn admin(&self) -> &Account {
        &self.me
    }

    /// Close the pool (waits for its connections to end).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Run statements in order on one connection. Stops at the first
    /// failure; the error names the statement (as previewed, no secrets).
    /// A statement that drops and re-creates a routine or trigger (from
    /// [`MysqlDb::definer_plan`]) runs with a backup first and a restore
    /// if the re-creation fails (see [`backup`]).
    pub async fn execute(&self, statements: &[Statement]) -> DbResult<()> {
        let mut rest = statements;
        while !rest.is_empty() {
            let recreate = |s: &Statement| backup::dropped_object(&s.preview());
            match rest.iter().position(|s| recreate(s).is_some()) {
                Some(0) => {
                    let (kind, db, name) = recreate(&rest[0]).expect("just matched");
                    self.execute_recreate(&rest[0], &kind, &db, &name).await?;
                    rest = &rest[1..];
                }
                Some(i) => {
                    self.execute_plain(&rest[..i]).await?;
                    rest = &rest[i..];
                }
                None => return self.execute_plain(rest).await,
            }
        }
        Ok(())
    }

    /// [`MysqlDb::execute`] without the re-create guard.
    pub(crate) async fn execute_plain(&self, statements: &[Statement]) -> DbResult<()> {
        let mut conn = self.conn().await?;
        // A batch may change session state (USE, sql_mode), and a failure may
        // leave it half-changed or mid-answer: such a connection is not reused.
        if statements
            .iter()
            .any(|s| s.database.is_some() || s.preview().starts_with("SET "))
        {
            conn.close_on_drop();
        }
        let result = self.run_batch(&mut conn, statements).await;
        if result.is_err() {
            conn.close_on_drop();
        }
        result
    }

    async fn run_batch(&self, conn: &mut sqlx::MySqlConnection, statements: &[Statement]) -> DbResult<()> {
        // DDL waiting on a metadata lock (the app holds the table) must give
        // up on the server, with a clear 1205, before our own timeout fires
        // and leaves it queued there.
        let lock_wait = self.timeout.as_secs().saturating_sub(1).max(1);
        self.run_one(conn, format!("SET SESSION lock_wait_timeout = {lock_wait}"))
            .await?;
        let total = statements.len();
        for (i, s) in statements.iter().enumerate() {
            tracing::debug!(statement = %s.preview(), "mysql execute");
            let in_context = |mut e: DbError| {
                e.message = format!(
                    "statement {} of {total} failed: {}\n  in: {}",
                    i + 1,
                    e.message,
                    s.preview()
                );
                e
            };
            if let Some(db) = &s.database {
                self.run_one(conn, format!("USE {}", crate::db::ident::mysql_ident(db)))
                    .await
                    .map_err(in_context)?;
            }
            for part in s.sql_parts() {
                self.run_one(conn, part).await.map_err(in_context)?;
            }
        }
        Ok(())
    }

    async fn run_one(&self, conn: &mut sqlx::MySqlConnection, sql: String) -> DbResult<()> {
        self.within(conn.execute(sqlx::raw_sql(AssertSqlSafe(sql))))
            .await
            .map(|_| ())
    }

    /// Try to take the named lock (`GET_LOCK(name, 0)`: no waiting) on a
    /// connection of its own, taken out of the pool; `None` when another
    /// session holds it. The lock lives as long as that connection: give
    /// it back with [`release_advisory_lock`].
    pub async fn try_advisory_lock(&self, name: &str) -> DbResult<Option<sqlx::MySqlConnection>> {
        use sqlx::Connection;
        let mut conn = self.conn().await?.detach();
        let got: Option<i64> = self
            .within(
                sqlx::query_scalar("SELECT CAST(GET_LOCK(?, 0) AS SIGNED)")
                    .bind(name)
                    .fetch_one(&mut conn),
            )
            .await?;
        if got == Some(1) {
            Ok(Some(conn))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }

    /// The first column of the first row of a read-only query, as text: for
    /// checks such as "does the view still answer?". `None` for no row or NULL.
    pub async fn query_scalar(&self, sql: &str) -> DbResult<Option<String>> {
        let rows = self.fetch_raw(sql.to_owned()).await?;
        Ok(rows.first().and_then(|r| opt_text(r, 0)))
    }

    /// Await a statement under the query timeout, mapping its errors.
    async fn within<T>(&self, fut: impl Future<Output = Result<T, sqlx::Error>>) -> DbResult<T> {
        self.timed(fut, statement_error).await
    }

    /// A pooled connection (opening one logs in, so errors read as logins).
    async fn conn(&self) -> DbResult<sqlx::pool::PoolConnection<sqlx::MySql>> {
        self.timed(self.pool.acquire(), login_error).await
    }

    async fn timed<T>(
        &self,
        fut: impl Future<Output = Result<T, sqlx::Error>>,
        map: fn(sqlx::Error) -> DbError,
    ) -> DbResult<T> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(map),
            Err(_) => Err(DbError::new(
                DbErrorKind::Timeout,
                format!(
                    "the server did not answer within {} s",
                    self.timeout.as_secs_f32()
                ),
            )
            .with_hint("the server may be overloaded or unreachable; try again")),
        }
    }

    async fn fetch_all<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    ) -> DbResult<Vec<MySqlRow>> {
        let mut conn = self.conn().await?;
        self.within(q.fetch_all(&mut *conn)).await
    }

    async fn fetch_one<'q>(
        &self,
        q: sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    ) -> DbResult<MySqlRow> {
        let mut conn = self.conn().await?;
        self.within(q.fetch_one(&mut *conn)).await
    }

    /// Rows of a statement that cannot be prepared (SHOW GRANTS, SHOW CREATE …).
    /// (A query abandoned by the timeout leaves its connection mid-answer;
    /// the pool's ping on release sees that and closes it.)
    async fn fetch_raw(&self, sql: String) -> DbResult<Vec<MySqlRow>> {
        let mut conn = self.conn().await?;
        self.within(sqlx::raw_sql(AssertSqlSafe(sql)).fetch_all(&mut *conn))
            .await
    }
}

/// Give back a lock [`MysqlDb::try_advisory_lock`] took, and close its connection.
pub async fn release_advisory_lock(mut conn: sqlx::MySqlConnection, name: &str) {
    use sqlx::Connection;
    let release = sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(name)
        .execute(&mut conn);
    let _ = tokio::time::timeout(DEFAULT_TIMEOUT, release).await;
    let _ = tokio::time::timeout(DEFAULT_TIMEOUT, conn.close()).await;
}

/// The admin's first login: version, who, RDS-ness; then log out.
async fn probe(options: &MySqlConnectOptions) -> Result<MySqlRow, sqlx::Error> {
    use sqlx::Connection;
    let mut conn = sqlx::MySqlConnection::connect_with(options).await?;
    let row = sqlx::query(
        "SELECT VERSION(), CURRENT_USER(), EXISTS(SELECT 1 FROM information_schema.ROUTINES \
         WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_NAME = 'rds_kill')",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(row)
}

/// One login as the app would log in, secured as `tls` says (with no
/// bundle, a server that refuses TLS is tried once more in plaintext).
async fn login_once(options: MySqlConnectOptions, tls: &TlsMode, query: &str) -> DbResult<String> {
    use sqlx::Connection;
    let host = options.get_host().to_owned();
    let attempt = |options: MySqlConnectOptions| async move {
        let mut conn = sqlx::MySqlConnection::connect_with(&options).await?;
        let answer: Result<String, sqlx::Error> = sqlx::query_scalar(AssertSqlSafe(query.to_owned()))
            .fetch_one(&mut conn)
            .await;
        let _ = conn.close().await;
        Ok::<_, sqlx::Error>(answer)
    };
    let connected = match attempt(tls.mysql(options.clone())).await {
        Err(e) => match tls.fallback(&e) {
            Some(plain) => attempt(plain.mysql(options)).await,
            None => Err(e),
        },
        ok => ok,
    };
    match connected {
        Ok(answer) => answer.map_err(statement_error),
        Err(e) => Err(tls.explain(&e, &host).unwrap_or_else(|| login_error(e))),
    }
}

/// The server's version, asked as the app would ask: log in with its
/// credentials (`limit` for the whole exchange), `SELECT VERSION()`, log
/// out, secured as `tls` says. The fleet view's per-row check.
pub async fn server_version(
    host: &str,
    port: u16,
    user: &str,
    password: &SecretString,
    limit: Duration,
    tls: &TlsMode,
) -> DbResult<String> {
    secret::register(password.expose_secret());
    let options = MySqlConnectOptions::new()
        .host(host)
        .port(port)
        .username(user)
        .password(password.expose_secret())
        .disable_statement_logging();
    match tokio::time::timeout(limit, login_once(options, tls, "SELECT VERSION()")).await {
        Ok(r) => r,
        Err(_) => Err(DbError::new(
            DbErrorKind::Unreachable,
            format!("no answer from {host}:{port} within {} s", limit.as_secs()),
        )),
    }
}

/// Log in once with the given credentials and log out: "does this password
/// work?" TLS required where the server offers it.
pub async fn test_login(
    host: &str,
    port: u16,
    user: &str,
    password: &SecretString,
    database: Option<&str>,
) -> DbResult<()> {
    test_login_secured(host, port, user, password, database, &TlsMode::Require).await
}

/// [`test_login`] secured as `tls` says (the admin connection's own mode).
pub async fn test_login_secured(
    host: &str,
    port: u16,
    user: &str,
    password: &SecretString,
    database: Option<&str>,
    tls: &TlsMode,
) -> DbResult<()> {
    secret::register(password.expose_secret());
    let mut options = MySqlConnectOptions::new()
        .host(host)
        .port(port)
        .username(user)
        .password(password.expose_secret())
        .disable_statement_logging();
    if let Some(db) = database {
        options = options.database(db);
    }
    match tokio::time::timeout(DEFAULT_TIMEOUT, login_once(options, tls, "SELECT CURRENT_USER()")).await {
        Ok(r) => r.map(drop),
        Err(_) => Err(DbError::new(
            DbErrorKind::Unreachable,
            format!(
                "no answer from {host}:{port} within {} s",
                DEFAULT_TIMEOUT.as_secs()
            ),
        )
        .with_hint("is the server up and reachable (tunnel, VPN, security group)?")),
    }
}

fn parse_url(url: &str) -> DbResult<MySqlConnectOptions> {
    let bad = |why: &str| {
        DbError::new(DbErrorKind::Other, format!("bad database URL: {why}"))
            .with_hint("expected mysql://user:password@host:port/database")
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if let Some(p) = parsed.password() {
        secret::register(&percent_encoding::percent_decode_str(p).decode_utf8_lossy());
    }
    if !matches!(parsed.scheme(), "mysql" | "mariadb") {
        return Err(bad(&format!("the scheme is {}, not mysql", parsed.scheme())));
    }
    MySqlConnectOptions::from_str(url).map_err(|e| {
        DbError::new(DbErrorKind::Other, format!("bad database URL: {e}"))
            .with_hint("expected mysql://user:password@host:port/database")
    })
}

/// MySQL's one error table: its error numbers are more precise than its
/// SQLSTATEs, so they classify here.
pub(crate) fn database_error(err: &sqlx::mysql::MySqlDatabaseError) -> DbError {
    use DbErrorKind::*;
    let number = err.number();
    let (kind, hint) = match number {
        1045 => (
            BadPassword,
            "check the user name and password (is the secret current?)",
        ),
        1044 | 1142 | 1143 | 1227 | 1370 | 1410 => (
            Privilege,
            "the admin lacks the privilege named above (RDS's master user has no SUPER)",
        ),
        1095 => (
            Privilege,
            "only the thread's owner, CONNECTION ADMIN or mysql.rds_kill can end it",
        ),
        // At login 1698 is an authentication failure (see `login_error`);
        // after it, MariaDB uses it for GRANT PROXY without the right to.
        1698 => (
            Privilege,
            "granting PROXY needs PROXY on that account WITH GRANT OPTION",
        ),
        1396 => (
            AlreadyExists,
            "the account exists already, or (on DROP) no more: refresh",
        ),
        1133 | 1141 | 1147 | 1305 | 1049 | 1146 => (NotFound, "it does not exist (any more): refresh"),
        1205 => (
            LockTimeout,
            "another session holds a lock on it; retry when the app is quiet",
        ),
        4006 => (
            DependentObjects,
            "move the user's views and routines to another definer first",
        ),
        1449 => (MissingDefiner, "re-create the object with an existing definer"),
        1969 | 3024 => (Timeout, "the statement took too long and was cancelled"),
        1040 | 1203 => (Unreachable, "the server or user has no connections to spare"),
        _ => (Other, ""),
    };
    let mut e = DbError::new(kind, err.message());
    e.code = Some(number.to_string());
    if !hint.is_empty() {
        e.hint = Some(hint.into());
    }
    e
}

/// A failure while logging in: 1698 means the login itself was refused.
fn login_error(err: sqlx::Error) -> DbError {
    let e = DbError::from_sqlx(err);
    if e.code.as_deref() == Some("1698") {
        DbError {
            kind: DbErrorKind::BadPassword,
            hint: Some("check the user name and password".into()),
            ..e
        }
    } else {
        e
    }
}

/// A failure of a statement on an open session. There 1045 is not a wrong
/// password: MariaDB reports it when a view or routine runs as a definer
/// that no longer exists (MySQL says 1449).
fn statement_error(err: sqlx::Error) -> DbError {
    let e = DbError::from_sqlx(err);
    if e.code.as_deref() == Some("1045") {
        DbError {
            kind: DbErrorKind::Privilege,
            hint: Some(
                "access denied inside the statement: a view, routine or trigger it uses may run as \
                 a definer that no longer exists"
                    .into(),
            ),
            ..e
        }
    } else {
        e
    }
}

/// `user@host` as information_schema prints definers (unquoted): the host
/// is after the last `@`, since hosts cannot hold one but user names can.
fn split_definer(definer: &str) -> Account {
    match definer.rfind('@') {
        Some(i) => Account::new(&definer[..i], &definer[i + 1..]),
        None => Account::role(definer),
    }
}

/// A text column, whether the server sends it as text or as bytes.
fn text(row: &MySqlRow, i: usize) -> String {
    opt_text(row, i).unwrap_or_default()
}

fn opt_text(row: &MySqlRow, i: usize) -> Option<String> {
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return v;
    }
    if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
        return v.map(|b| String::from_utf8_lossy(&b).into_owned());
    }
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map(|v| v.to_string());
    }
    if let Ok(v) = row.try_get::<Option<u64>, _>(i) {
        return v.map(|v| v.to_string());
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return v.map(|v| v.to_string());
    }
    row.try_get::<Option<chrono::NaiveDateTime>, _>(i)
        .ok()
        .flatten()
        .map(|v| v.to_string())
}

/// An integer column of any width or signedness.
fn int(row: &MySqlRow, i: usize) -> i64 {
    opt_int(row, i).unwrap_or_default()
}

fn opt_int(row: &MySqlRow, i: usize) -> Option<i64> {
    if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
        return v.map(i64::from);
    }
    opt_text(row, i).and_then(|s| s.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definers_split_at_the_last_at() {
        assert_eq!(split_definer("signon@%"), Account::new("signon", "%"));
        assert_eq!(split_definer("a@b@10.0.%"), Account::new("a@b", "10.0.%"));
    }
}
