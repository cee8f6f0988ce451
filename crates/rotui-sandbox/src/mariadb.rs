//! A throwaway MariaDB whose admin is shaped like RDS's master user.
//!
//! `aws_db_admin`@`%` gets the privileges RDS for MariaDB gives its master
//! user (global, WITH GRANT OPTION, but no SUPER, CONNECTION ADMIN or SET
//! USER), plus `DELETE HISTORY`, without which a non-SUPER admin cannot
//! `GRANT ALL` on a database. Like RDS, it ends other users' sessions through
//! `mysql.rds_kill(id)` / `mysql.rds_kill_query(id)`, procedures defined by a
//! superuser with SQL SECURITY DEFINER. So code that works here works without
//! privileges RDS never gives.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::guard::{Guarded, StartSlot, free_port, is_root, on_a_free_port, scratch_dir};
pub use crate::mysql::MysqlFlavor;
use rotui::db::ident::{mysql_account, mysql_ident, mysql_str};
use rotui::secret::{self, ExposeSecret, SecretString};

/// The RDS master user's name.
pub const ADMIN_USER: &str = "aws_db_admin";

/// What RDS for MariaDB grants its master user on `*.*` (AWS "Master user
/// account privileges"), plus DELETE HISTORY (see the module docs).
/// `BINLOG MONITOR` is MariaDB ≥ 10.5's name for REPLICATION CLIENT.
const ADMIN_PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, \
REFERENCES, INDEX, ALTER, SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, \
REPLICATION SLAVE, BINLOG MONITOR, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, \
CREATE USER, EVENT, TRIGGER, DELETE HISTORY";

/// A running throwaway MySQL-family server: MariaDB 10.11 (started here) or
/// MySQL 9.7 LTS (started by [`crate::mysql`]); both have the same test API,
/// so a test can run on either ([`MysqlFlavor`]). Stopped, and its directory
/// removed, when it is dropped or when this process exits (see [`Guarded`]).
#[derive(Debug)]
pub struct MysqlServer {
    pub port: u16,
    pub(crate) flavor: MysqlFlavor,
    pub(crate) version: String,
    pub(crate) dir: PathBuf,
    pub(crate) admin_password: SecretString,
    pub(crate) root_password: SecretString,
    pub(crate) _guard: Guarded,
}

/// An application database and its user, as the runbook's `signon` has
/// (`GRANT ALL PRIVILEGES ON signon_production.* TO 'signon'@'%'`).
#[derive(Debug, Clone)]
pub struct AppAccount {
    pub database: String,
    pub user: String,
    pub host: String,
    pub password: SecretString,
}

impl MysqlServer {
    /// Start a server on a free port and bootstrap the admin. Blocking.
    pub fn start() -> io::Result<MysqlServer> {
        MysqlServer::start_with(&[])
    }

    /// The same with more mariadbd options (TLS: `tls::mysql_args`). Blocking.
    pub fn start_with(extra: &[String]) -> io::Result<MysqlServer> {
        let _slot = StartSlot::take();
        on_a_free_port(|| MysqlServer::start_once(extra))
    }

    fn start_once(extra: &[String]) -> io::Result<MysqlServer> {
        let install = find_binary(&["mariadb-install-db", "mysql_install_db"])?;
        let server = find_binary(&["mariadbd", "mysqld"])?;
        let client = ClientCmd {
            program: find_binary(&["mariadb", "mysql"])?,
            pre_args: Vec::new(),
        };

        let dir = scratch_dir("rotui-mariadb-")?;
        let data = dir.join("data");
        let log = dir.join("server.log");
        let root_user: &[&str] = if is_root() { &["--user=root"] } else { &[] };

        let out = Command::new(&install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .args(root_user)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(io::Error::other(format!(
                "{} failed: {}{}",
                install.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }

        let port = free_port();
        let socket = data.join("sock");
        let mut args = vec![
            "--no-defaults".to_owned(),
            format!("--datadir={}", data.display()),
            format!("--port={port}"),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--socket={}", socket.display()),
            "--innodb-log-file-size=8M".to_owned(),
            "--max-connections=1000".to_owned(),
            "--skip-name-resolve".to_owned(),
            // The event scheduler runs events; definer tests need it on.
            "--event-scheduler=ON".to_owned(),
        ];
        args.extend(root_user.iter().map(|s| s.to_string()));
        args.extend(extra.iter().cloned());
        let mut guard = Guarded::spawn(&server, &args, None, &log, Some(&dir))?;

        wait_ready(
            &mut guard,
            &client,
            &socket,
            &log,
            "MariaDB",
            port,
            Duration::from_secs(20),
        )?;

        let admin_password = secret::generate_password();
        let root_password = secret::generate_password();
        run_sql(&client, &socket, &bootstrap_sql(&admin_password, &root_password))
            .map_err(|e| io::Error::other(format!("bootstrapping MariaDB failed: {e}")))?;
        let version = binary_version(&server, &[]);

        Ok(MysqlServer {
            port,
            flavor: MysqlFlavor::Mariadb,
            version,
            dir,
            admin_password,
            root_password,
            _guard: guard,
        })
    }

    /// The MariaDB server shared by every test in this binary, started on
    /// first use. Share only the server: sqlx pools belong to one tokio
    /// runtime, and each `#[tokio::test]` has its own.
    pub fn shared() -> &'static MysqlServer {
        static SHARED: OnceLock<MysqlServer> = OnceLock::new();
        SHARED.get_or_init(|| {
            MysqlServer::start().unwrap_or_else(|e| panic!("cannot start the test MariaDB: {e}"))
        })
    }

    /// The shared server of one flavor (MySQL 9.7 with
    /// `log_bin_trust_function_creators` OFF, as MySQL and RDS default to).
    pub fn shared_flavor(flavor: MysqlFlavor) -> &'static MysqlServer {
        match flavor {
            MysqlFlavor::Mariadb => MysqlServer::shared(),
            MysqlFlavor::Mysql => crate::mysql::shared(),
        }
    }

    /// Start a fresh server of one flavor. Blocking.
    pub fn start_flavor(flavor: MysqlFlavor) -> io::Result<MysqlServer> {
        match flavor {
            MysqlFlavor::Mariadb => MysqlServer::start(),
            MysqlFlavor::Mysql => crate::mysql::start(&[]),
        }
    }

    /// Which server this is.
    pub fn flavor(&self) -> MysqlFlavor {
        self.flavor
    }

    /// The server's own version line (`mysqld --version`).
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory (holds the socket and the server log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn admin_password(&self) -> SecretString {
        self.admin_password.clone()
    }

    /// `mysql://aws_db_admin:PW@127.0.0.1:PORT[/db]`. Holds a password: never print it.
    pub fn admin_url(&self, database: Option<&str>) -> String {
        self.url(ADMIN_USER, self.admin_password.expose_secret(), database)
    }

    /// The superuser, for fixtures that RDS's master user could not make
    /// either (e.g. PROXY grants). Holds a password: never print it.
    pub fn root_url(&self) -> String {
        self.url("root", self.root_password.expose_secret(), None)
    }

    /// A URL for any user; every part is percent-encoded.
    pub fn url(&self, user: &str, password: &str, database: Option<&str>) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode as enc};
        let db = database
            .map(|d| format!("/{}", enc(d, NON_ALPHANUMERIC)))
            .unwrap_or_default();
        format!(
            "mysql://{}:{}@{}:{}{db}",
            enc(user, NON_ALPHANUMERIC),
            enc(password, NON_ALPHANUMERIC),
            self.host(),
            self.port
        )
    }

    /// Make a fresh application database and a user with
    /// `GRANT ALL PRIVILEGES ON db.*`, both named from `hint` plus a unique
    /// suffix (hints may hold any characters: that is the point of some tests).
    pub async fn create_app(&self, hint: &str) -> io::Result<AppAccount> {
        let suffix = unique_suffix();
        // MySQL user names are at most 32 characters (MariaDB's 80): a long
        // hint is cut, the unique suffix kept.
        let max = match self.flavor {
            MysqlFlavor::Mysql => 32,
            MysqlFlavor::Mariadb => 80,
        };
        let head: String = hint.chars().take(max - suffix.len() - 1).collect();
        let app = AppAccount {
            database: format!("{hint}_production_{suffix}"),
            user: format!("{head}_{suffix}"),
            host: "%".to_owned(),
            password: secret::generate_password(),
        };
        let account = mysql_account(&app.user, &app.host);
        let statements = [
            format!("CREATE DATABASE {}", mysql_ident(&app.database)),
            format!(
                "CREATE USER {account} IDENTIFIED BY {}",
                mysql_str(app.password.expose_secret())
            ),
            format!(
                "GRANT ALL PRIVILEGES ON {}.* TO {account}",
                mysql_ident(&app.database)
            ),
        ];
        self.admin_exec(&statements).await?;
        Ok(app)
    }

    /// Run statements as the admin, on one short-lived connection.
    pub async fn admin_exec(&self, statements: &[String]) -> io::Result<()> {
        exec_as(&self.admin_url(None), statements).await
    }

    /// Run statements as root, on one short-lived connection.
    pub async fn root_exec(&self, statements: &[String]) -> io::Result<()> {
        exec_as(&self.root_url(), statements).await
    }
}

/// Run statements one by one on one connection; errors are redacted.
async fn exec_as(url: &str, statements: &[String]) -> io::Result<()> {
    use sqlx::{Connection, Executor};
    let fail = |e: sqlx::Error| io::Error::other(secret::redact(&e.to_string()));
    let mut conn = sqlx::MySqlConnection::connect(url).await.map_err(fail)?;
    for s in statements {
        conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(s.clone())))
            .await
            .map_err(fail)?;
    }
    conn.close().await.map_err(fail)
}

/// A suffix that makes names unique within this process and across processes
/// sharing a server.
pub fn unique_suffix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}{}",
        std::process::id() % 10_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) fn bootstrap_sql(admin: &SecretString, root: &SecretString) -> String {
    let admin_account = mysql_account(ADMIN_USER, "%");
    let root_pw = mysql_str(root.expose_secret());
    format!(
        "CREATE USER {admin_account} IDENTIFIED BY {admin_pw};
GRANT {ADMIN_PRIVILEGES} ON *.* TO {admin_account} WITH GRANT OPTION;
DELIMITER //
CREATE DEFINER='root'@'localhost' PROCEDURE mysql.rds_kill(IN thread BIGINT)
  SQL SECURITY DEFINER
BEGIN
  KILL CONNECTION thread;
END//
CREATE DEFINER='root'@'localhost' PROCEDURE mysql.rds_kill_query(IN thread BIGINT)
  SQL SECURITY DEFINER
BEGIN
  KILL QUERY thread;
END//
DELIMITER ;
GRANT EXECUTE ON PROCEDURE mysql.rds_kill TO {admin_account};
GRANT EXECUTE ON PROCEDURE mysql.rds_kill_query TO {admin_account};
ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED BY {root_pw},
  'root'@'127.0.0.1' IDENTIFIED BY {root_pw}, 'root'@'::1' IDENTIFIED BY {root_pw};
",
        admin_pw = mysql_str(admin.expose_secret()),
    )
}

/// Run SQL through the command-line client as root over the socket (the
/// root password is still empty when this runs). SQL goes through stdin,
/// never the command line, so no password shows in `ps`.
pub(crate) fn run_sql(client: &ClientCmd, socket: &Path, sql: &str) -> io::Result<()> {
    let mut child = Command::new(&client.program)
        .args(&client.pre_args)
        .arg("--no-defaults")
        .arg(format!("--socket={}", socket.display()))
        .arg("--user=root")
        .arg("--batch")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(sql.as_bytes())?;
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(secret::redact(
            String::from_utf8_lossy(&out.stderr).trim(),
        )))
    }
}

/// How to run the command-line client: a program and the arguments before
/// its own (MySQL 9.7's runs through Debian sid's loader).
#[derive(Debug, Clone)]
pub(crate) struct ClientCmd {
    pub program: PathBuf,
    pub pre_args: Vec<String>,
}

/// `SERVER --version`, trimmed (e.g. `mysqld  Ver 9.7.4-2 for Linux …`).
pub(crate) fn binary_version(program: &Path, pre_args: &[String]) -> String {
    Command::new(program)
        .args(pre_args)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Find the first of `names` on PATH, /usr/sbin or /usr/bin.
fn find_binary(names: &[&str]) -> io::Result<PathBuf> {
    for name in names {
        if let Ok(p) = which::which(name) {
            return Ok(p);
        }
        for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "`{}` not found on PATH or in /usr/sbin, /usr/bin: install the Debian package \
             mariadb-server (apt-get install mariadb-server)",
            names[0]
        ),
    ))
}

/// Wait until root can run a statement over the socket; on a timeout or a
/// server that died, stop it and fail with the end of its log.
pub(crate) fn wait_ready(
    guard: &mut Guarded,
    client: &ClientCmd,
    socket: &Path,
    log: &Path,
    name: &str,
    port: u16,
    within: Duration,
) -> io::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if run_sql(client, socket, "SELECT 1").is_ok() {
            return Ok(());
        }
        if !guard.is_running() || Instant::now() > deadline {
            let tail = log_tail(log);
            guard.stop();
            return Err(io::Error::other(format!(
                "{name} did not become ready on port {port} within {} s; server log:\n{tail}",
                within.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_names_the_package() {
        let err = find_binary(&["rotui-no-such-mariadbd"]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("mariadb-server"), "{err}");
    }

    #[test]
    fn urls_encode_every_part_and_debug_hides_passwords() {
        let pw = secret::secret("pa:ss/w@rd#1");
        let app = AppAccount {
            database: "sïgn on".into(),
            user: "a@b".into(),
            host: "%".into(),
            password: pw.clone(),
        };
        assert!(!format!("{app:?}").contains("pa:ss"));
        let sql = bootstrap_sql(&pw, &pw);
        assert!(sql.contains("GRANT SELECT, INSERT"), "admin grants present");
        assert!(!sql.contains("SUPER") && !sql.contains("CONNECTION ADMIN") && !sql.contains("SET USER"));
    }
}
