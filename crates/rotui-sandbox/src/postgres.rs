//! A throwaway PostgreSQL server with an admin shaped like RDS's master user.
//!
//! The server runs PostgreSQL 17 ([`PgFlavor::Pg17`], Debian trixie's
//! `postgresql-17` unpacked by `scripts/postgres-server.sh`, the default) or
//! the system's 15 ([`PgFlavor::Pg15`], Debian 12's `postgresql`) in a temp dir on a free port, 127.0.0.1 only, under
//! a [`Guarded`] process so it is stopped and its directory removed when the
//! test binary exits, even after a panic.
//!
//! TCP logins use scram-sha-256, so a wrong password is really refused. The
//! superuser `postgres` exists for setting up fixtures only; rotui itself
//! logs in as `aws_db_admin` (LOGIN CREATEROLE CREATEDB, not superuser, a
//! member of a NOLOGIN `rds_superuser` that holds what RDS gives it to see and
//! end other sessions), because that is what it meets in production.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor};

use super::guard::{Guarded, StartSlot, free_port, is_root, on_a_free_port, scratch_dir};
use rotui::db::ident::{pg_ident, pg_str};
use rotui::secret::{ExposeSecret, SecretString, generate_password};

/// The RDS master user's name.
pub const ADMIN_USER: &str = "aws_db_admin";
/// The bootstrap superuser (fixtures only).
pub const SUPERUSER: &str = "postgres";

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running throwaway PostgreSQL.
#[derive(Debug)]
pub struct PostgresServer {
    pub flavor: PgFlavor,
    /// The server's version, `17.12`.
    pub version: String,
    pub port: u16,
    /// Scratch directory (data dir, socket, log); removed when the guard fires.
    pub dir: PathBuf,
    /// Where its programs (`pg_dump`, `pg_restore`, `psql`, …) live.
    bin_dir: PathBuf,
    guard: Mutex<Guarded>,
    admin_password: SecretString,
    superuser_password: SecretString,
}

/// Which PostgreSQL a server runs. The estate runs 14, 16 and 17; Debian 12
/// ships 15 and `scripts/postgres-server.sh` unpacks Debian trixie's 17.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PgFlavor {
    /// PostgreSQL 17 from Debian trixie, unpacked into a cache by
    /// `scripts/postgres-server.sh` (the estate's newest major).
    #[default]
    Pg17,
    /// The system's PostgreSQL (Debian 12's `postgresql`: 15).
    Pg15,
}

impl PgFlavor {
    /// Every flavor the database tests run on.
    pub const ALL: [PgFlavor; 2] = [PgFlavor::Pg17, PgFlavor::Pg15];

    /// `postgresql-17` / `postgresql-15`: how test names and `sandbox.json` name it.
    pub fn name(self) -> &'static str {
        match self {
            PgFlavor::Pg17 => "postgresql-17",
            PgFlavor::Pg15 => "postgresql-15",
        }
    }

    pub fn major(self) -> u32 {
        match self {
            PgFlavor::Pg17 => 17,
            PgFlavor::Pg15 => 15,
        }
    }

    /// `17` or `15` (the sandbox's `--postgres`).
    pub fn parse(s: &str) -> Option<PgFlavor> {
        match s.trim().trim_start_matches("postgresql-") {
            "17" => Some(PgFlavor::Pg17),
            "15" => Some(PgFlavor::Pg15),
            _ => None,
        }
    }
}

impl std::fmt::Display for PgFlavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for PgFlavor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PgFlavor::parse(s).ok_or_else(|| format!("unknown PostgreSQL flavor `{s}` (expected 17 or 15)"))
    }
}

/// Where `scripts/postgres-server.sh` unpacks PostgreSQL 17's programs.
pub fn pg17_cache_bindir() -> PathBuf {
    let base = std::env::var_os("ROTUI_SERVERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/var/tmp/rotui-servers-{}", nix::unistd::getuid())));
    base.join("postgres-17/root/usr/lib/postgresql/17/bin")
}

/// The install script in this source tree (tests run from it).
fn install_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres-server.sh")
}

/// Where the server binaries live.
struct Binaries {
    initdb: PathBuf,
    postgres: PathBuf,
    pg_isready: PathBuf,
    psql: PathBuf,
}

impl Binaries {
    fn in_dir(bin: &Path) -> Option<Self> {
        let b = Binaries {
            initdb: bin.join("initdb"),
            postgres: bin.join("postgres"),
            pg_isready: bin.join("pg_isready"),
            psql: bin.join("psql"),
        };
        [&b.initdb, &b.postgres, &b.pg_isready, &b.psql]
            .iter()
            .all(|p| p.is_file())
            .then_some(b)
    }

    fn find(flavor: PgFlavor) -> io::Result<Self> {
        match flavor {
            PgFlavor::Pg17 => Self::find_17(),
            PgFlavor::Pg15 => Self::find_system(),
        }
    }

    /// The system's `/usr/lib/postgresql/17/bin`, else the cache; installed
    /// into the cache by `scripts/postgres-server.sh` when missing (one
    /// download, ~90 MB, then cached). A machine that cannot get it fails
    /// loudly: PostgreSQL 17 is what the estate runs.
    fn find_17() -> io::Result<Self> {
        if let Some(b) = Self::in_dir(Path::new("/usr/lib/postgresql/17/bin")) {
            return Ok(b);
        }
        let cache = pg17_cache_bindir();
        let patched = cache.join("../../../../../.patched");
        if patched.exists()
            && let Some(b) = Self::in_dir(&cache)
        {
            return Ok(b);
        }
        // One install at a time across threads (the script also takes a lock
        // across processes).
        static INSTALL: Mutex<()> = Mutex::new(());
        let _one = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        if !patched.exists() {
            let script = install_script();
            let out = Command::new("bash")
                .arg(&script)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| io::Error::other(format!("cannot run {}: {e}", script.display())))?;
            if !out.status.success() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "PostgreSQL 17 is not installed and {} failed (run `just tools`; \
                         ROTUI_SKIP_PG17=1 skips the PostgreSQL 17 tests, loudly): {}",
                        script.display(),
                        tail(&String::from_utf8_lossy(&out.stderr), 10)
                    ),
                ));
            }
        }
        Self::in_dir(&cache).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "PostgreSQL 17's programs are not in {} after scripts/postgres-server.sh ran",
                    cache.display()
                ),
            )
        })
    }

    /// `/usr/lib/postgresql/<highest below 17>/bin` (Debian 12: 15), else PATH.
    fn find_system() -> io::Result<Self> {
        let versioned = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let major: u32 = e.file_name().to_str()?.parse().ok()?;
                Some((major, e.path().join("bin")))
            })
            .filter(|(major, bin)| *major < 17 && bin.join("initdb").is_file())
            .max_by_key(|(major, _)| *major)
            .map(|(_, bin)| bin);
        let find = |name: &str| -> io::Result<PathBuf> {
            versioned
                .as_ref()
                .map(|bin| bin.join(name))
                .filter(|p| p.is_file())
                .or_else(|| which::which(name).ok())
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!(
                            "PostgreSQL's `{name}` was not found in /usr/lib/postgresql/*/bin or on PATH: \
                             install the Debian package `postgresql` (apt-get install postgresql)"
                        ),
                    )
                })
        };
        Ok(Binaries {
            initdb: find("initdb")?,
            postgres: find("postgres")?,
            pg_isready: find("pg_isready")?,
            psql: find("psql")?,
        })
    }

    /// `17.12` from `postgres (PostgreSQL) 17.12 (Debian …)`.
    fn version(&self) -> io::Result<String> {
        let out = Command::new(&self.postgres).arg("--version").output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .nth(2)
            .map(str::to_owned)
            .ok_or_else(|| io::Error::other(format!("unexpected `postgres --version`: {text}")))
    }
}

/// Whether the PostgreSQL 17 tests may be skipped on this machine
/// (`ROTUI_SKIP_PG17=1`); CI never sets it.
pub fn skip_pg17() -> bool {
    std::env::var_os("ROTUI_SKIP_PG17").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether `test` skips its PostgreSQL 17 part here; when it does, says so
/// on stderr and adds the test to the file `ROTUI_SKIPPED_LOG` names, which
/// `just test` prints after the run (a passing test's stderr is hidden).
pub fn skipping_pg17(test: &str) -> bool {
    if !skip_pg17() {
        return false;
    }
    eprintln!("SKIPPED on PostgreSQL 17: {test} (ROTUI_SKIP_PG17 is set)");
    if let Some(path) = std::env::var_os("ROTUI_SKIPPED_LOG") {
        use std::io::Write as _;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{test}");
        }
    }
    true
}

impl PostgresServer {
    /// Initialise a data dir, start the server and create the RDS-shaped
    /// admin. Blocking; about a second.
    pub fn start() -> io::Result<Self> {
        Self::start_flavor(PgFlavor::default())
    }

    /// Start a server of the given flavor.
    pub fn start_flavor(flavor: PgFlavor) -> io::Result<Self> {
        Self::start_with(flavor, None)
    }

    /// Start a server that requires TLS with `cert` (`ssl=on`, pg_hba
    /// `hostssl` only), as RDS PostgreSQL 15+ does (`rds.force_ssl=1`).
    pub fn start_tls(flavor: PgFlavor, cert: &crate::tls::ServerCert) -> io::Result<Self> {
        Self::start_with(flavor, Some(cert))
    }

    fn start_with(flavor: PgFlavor, tls: Option<&crate::tls::ServerCert>) -> io::Result<Self> {
        let bin = Binaries::find(flavor)?;
        let version = bin.version()?;
        let _slot = StartSlot::take();
        on_a_free_port(|| Self::start_once(&bin, flavor, &version, tls))
    }

    fn start_once(
        bin: &Binaries,
        flavor: PgFlavor,
        version: &str,
        tls: Option<&crate::tls::ServerCert>,
    ) -> io::Result<Self> {
        // PostgreSQL refuses to run as root: drop to the `postgres` user then.
        let run_as = if is_root() {
            nix::unistd::User::from_name(SUPERUSER)
                .ok()
                .flatten()
                .ok_or_else(|| {
                    io::Error::other(
                        "running as root, but there is no `postgres` system user to run PostgreSQL as: \
                         install the Debian package `postgresql`",
                    )
                })
                .map(Some)?
        } else {
            None
        };
        let user = run_as.as_ref().map(|u| u.name.as_str());

        let dir = scratch_dir("rotui-pg-")?;
        let data = dir.join("data");
        let log = dir.join("postgres.log");
        if let Some(u) = &run_as {
            std::os::unix::fs::chown(&dir, Some(u.uid.as_raw()), Some(u.gid.as_raw()))?;
        }

        // Bootstrap with local trust for the superuser only; TCP gets scram.
        let out = command(&bin.initdb, user)
            .args(["-D".as_ref(), data.as_os_str()])
            .args([
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .current_dir(&dir)
            .output()?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(io::Error::other(format!(
                "initdb failed: {}{}",
                tail(&String::from_utf8_lossy(&out.stderr), 10),
                if run_as.is_some() {
                    " (as root, the data dir must be reachable by the postgres user: check TMPDIR's permissions)"
                } else {
                    ""
                }
            )));
        }
        // TCP: scram, and with a certificate over TLS only (`hostssl`).
        let tcp = if tls.is_some() { "hostssl" } else { "host" };
        std::fs::write(
            data.join("pg_hba.conf"),
            format!("local all {SUPERUSER} trust\n{tcp} all all 127.0.0.0/8 scram-sha-256\n"),
        )?;
        let cert_files = match tls {
            Some(cert) => Some(cert.write(&data, run_as.as_ref().map(|u| (u.uid.as_raw(), u.gid.as_raw())))?),
            None => None,
        };

        let port = free_port();
        let args: Vec<String> = [
            "-D",
            &data.to_string_lossy(),
            "-p",
            &port.to_string(),
            "-k",
            &data.to_string_lossy(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=1000",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "shared_buffers=32MB",
            "-c",
            "password_encryption=scram-sha-256",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(cert_files.iter().flat_map(|f| {
            [
                "-c".to_owned(),
                "ssl=on".to_owned(),
                "-c".to_owned(),
                format!("ssl_cert_file={}", f.cert.display()),
                "-c".to_owned(),
                format!("ssl_key_file={}", f.key.display()),
            ]
        }))
        .collect();
        // As root, drop to the postgres user with setpriv rather than
        // runuser: setpriv execs, so the guard signals the postmaster itself
        // and removes the directory only once the server is gone, whereas
        // runuser would SIGKILL a postmaster still shutting down after 2 s and
        // leave its children writing into the directory being removed.
        let guard = match user {
            Some(u) => {
                let mut setpriv_args: Vec<String> = vec![
                    format!("--reuid={u}"),
                    format!("--regid={u}"),
                    "--init-groups".to_owned(),
                    "--".to_owned(),
                    bin.postgres.to_string_lossy().into_owned(),
                ];
                setpriv_args.extend(args);
                Guarded::spawn(Path::new("setpriv"), &setpriv_args, None, &log, Some(&dir))?
            }
            None => Guarded::spawn(&bin.postgres, &args, None, &log, Some(&dir))?,
        };

        let server = PostgresServer {
            flavor,
            version: version.to_owned(),
            port,
            dir,
            bin_dir: bin.postgres.parent().map(Path::to_path_buf).unwrap_or_default(),
            guard: Mutex::new(guard),
            admin_password: generate_password(),
            superuser_password: generate_password(),
        };
        server.wait_ready(bin, &data, &log)?;
        server.bootstrap(bin, &data)?;
        Ok(server)
    }

    fn wait_ready(&self, bin: &Binaries, data: &Path, log: &Path) -> io::Result<()> {
        let started = Instant::now();
        loop {
            // The postmaster marks its pid file `ready` once it accepts
            // connections; polling before that would be turned away with a
            // FATAL "the database system is starting up" in the log.
            let marked_ready = std::fs::read_to_string(data.join("postmaster.pid"))
                .is_ok_and(|pid| pid.lines().any(|l| l.trim() == "ready"));
            // As the superuser, whom pg_hba trusts locally: any other user
            // would be turned away with a FATAL line in the log.
            let ready = marked_ready
                && Command::new(&bin.pg_isready)
                    .args(["-q", "-U", SUPERUSER, "-d", "postgres", "-h"])
                    .arg(data)
                    .args(["-p", &self.port.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            let text = std::fs::read_to_string(log).unwrap_or_default();
            // A server that failed to start says so in its log right away
            // (a client turned away while it starts up is no failure).
            if text
                .lines()
                .any(|l| l.contains("FATAL:") && !l.contains("is starting up"))
            {
                return Err(io::Error::other(format!(
                    "PostgreSQL failed to start on port {}; log tail:\n{}",
                    self.port,
                    tail(&text, 20)
                )));
            }
            if started.elapsed() > START_TIMEOUT {
                let log = text;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "PostgreSQL did not accept connections on port {} within {}s; log tail:\n{}",
                        self.port,
                        START_TIMEOUT.as_secs(),
                        tail(&log, 20)
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Passwords for the superuser and the admin, and RDS's role shape.
    /// Through psql's stdin, so no password shows in a process list.
    fn bootstrap(&self, bin: &Binaries, data: &Path) -> io::Result<()> {
        let sql = format!(
            "ALTER ROLE {SUPERUSER} PASSWORD {su};\n\
             CREATE ROLE rds_superuser NOLOGIN;\n\
             GRANT pg_signal_backend, pg_monitor TO rds_superuser;\n\
             CREATE ROLE {ADMIN_USER} LOGIN CREATEROLE CREATEDB PASSWORD {admin} VALID UNTIL 'infinity';\n\
             GRANT rds_superuser TO {ADMIN_USER};\n",
            su = pg_str(self.superuser_password.expose_secret()),
            admin = pg_str(self.admin_password.expose_secret()),
        );
        let mut child = Command::new(&bin.psql)
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
                "-h",
            ])
            .arg(data)
            .args(["-p", &self.port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin is piped");
            stdin.write_all(sql.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "bootstrapping PostgreSQL failed: {}",
                rotui::secret::redact(&String::from_utf8_lossy(&out.stderr))
            )));
        }
        Ok(())
    }

    /// One server per test binary, started on first use. sqlx pools belong to
    /// the tokio runtime that made them, so only the process is shared: each
    /// test connects with its own pool.
    pub fn shared() -> &'static PostgresServer {
        Self::shared_of(PgFlavor::default())
    }

    /// One server of `flavor` per test binary, started on first use.
    pub fn shared_of(flavor: PgFlavor) -> &'static PostgresServer {
        static SHARED: [OnceLock<PostgresServer>; 2] = [OnceLock::new(), OnceLock::new()];
        let slot = match flavor {
            PgFlavor::Pg17 => &SHARED[0],
            PgFlavor::Pg15 => &SHARED[1],
        };
        slot.get_or_init(|| {
            PostgresServer::start_flavor(flavor)
                .unwrap_or_else(|e| panic!("cannot start the test PostgreSQL ({flavor}): {e}"))
        })
    }

    pub fn flavor(&self) -> PgFlavor {
        self.flavor
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory of the server's programs, for the client tools of the
    /// same version (`pg_dump`, `pg_restore`).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The superuser's password, for fixtures and the sandbox's own jobs.
    pub fn superuser_password(&self) -> &SecretString {
        &self.superuser_password
    }

    pub fn admin_user(&self) -> &'static str {
        ADMIN_USER
    }

    pub fn admin_password(&self) -> &SecretString {
        &self.admin_password
    }

    /// `postgresql://aws_db_admin:…@127.0.0.1:PORT/DATABASE`, the shape of an
    /// app's DATABASE_URL. It holds a password: never print it.
    pub fn admin_url(&self, database: &str) -> SecretString {
        self.url(ADMIN_USER, &self.admin_password, database)
    }

    /// The superuser's URL, for test fixtures only.
    pub fn superuser_url(&self, database: &str) -> SecretString {
        self.url(SUPERUSER, &self.superuser_password, database)
    }

    /// A URL for any user of this server.
    pub fn url(&self, user: &str, password: &SecretString, database: &str) -> SecretString {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        SecretString::from(format!(
            "postgresql://{}:{}@127.0.0.1:{}/{}",
            enc(user),
            enc(password.expose_secret()),
            self.port,
            enc(database)
        ))
    }

    /// Connection options for the superuser (fixtures).
    pub fn superuser_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new_without_pgpass()
            .host("127.0.0.1")
            .port(self.port)
            .username(SUPERUSER)
            .password(self.superuser_password.expose_secret())
            .database(database)
            .disable_statement_logging()
    }

    /// Connection options for the RDS-shaped admin.
    pub fn admin_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new_without_pgpass()
            .host("127.0.0.1")
            .port(self.port)
            .username(ADMIN_USER)
            .password(self.admin_password.expose_secret())
            .database(database)
            .disable_statement_logging()
    }

    /// Create (if missing) the login `user` with `password`, a database
    /// `database` it owns, and, connected as that user, the objects an app's
    /// migrations leave behind — so everything is owned by the login user,
    /// as with the runbook's `account-api`, and not by an owner role.
    /// Names may be anything: they are quoted.
    pub async fn seed_app(
        &self,
        user: &str,
        password: &SecretString,
        database: &str,
    ) -> Result<(), sqlx::Error> {
        let mut su = PgConnection::connect_with(&self.superuser_options("postgres")).await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(user)
            .fetch_one(&mut su)
            .await?;
        let u = pg_ident(user);
        if !exists {
            // As on RDS, the master user creates the app's login: on 16+ that
            // gives it ADMIN OPTION on the role (and nothing more).
            let mut admin = PgConnection::connect_with(&self.admin_options("postgres")).await?;
            admin
                .execute(AssertSqlSafe(format!(
                    "CREATE ROLE {u} LOGIN PASSWORD {}",
                    pg_str(password.expose_secret())
                )))
                .await?;
            admin.close().await?;
        }
        su.execute(AssertSqlSafe(format!(
            "CREATE DATABASE {} OWNER {u}",
            pg_ident(database)
        )))
        .await?;
        su.close().await?;

        let app = PgConnectOptions::new_without_pgpass()
            .host("127.0.0.1")
            .port(self.port)
            .username(user)
            .password(password.expose_secret())
            .database(database)
            .disable_statement_logging();
        let mut conn = PgConnection::connect_with(&app).await?;
        conn.execute(SEED_SQL).await?;
        conn.close().await?;
        Ok(())
    }

    /// Stop the server now and remove its directory (also happens at exit).
    pub fn stop(&self) {
        self.guard.lock().unwrap_or_else(|e| e.into_inner()).stop();
    }
}

/// What an app's migrations typically leave: tables (with an identity and a
/// serial sequence), a free sequence, a view, a materialized view, a
/// function, an enum type and a second schema — all owned by the app user.
const SEED_SQL: &str = r#"
CREATE TYPE user_state AS ENUM ('active', 'suspended');
CREATE TABLE users (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, email text NOT NULL, state user_state NOT NULL DEFAULT 'active');
CREATE TABLE auth_requests (id serial PRIMARY KEY, user_id bigint REFERENCES users(id), created_at timestamptz NOT NULL DEFAULT now());
CREATE SEQUENCE ticket_numbers;
CREATE VIEW active_users AS SELECT id, email FROM users WHERE state = 'active';
CREATE MATERIALIZED VIEW user_counts AS SELECT state, count(*) AS n FROM users GROUP BY state;
CREATE FUNCTION user_count() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM users';
CREATE SCHEMA "audit-log";
CREATE TABLE "audit-log".events (id bigserial PRIMARY KEY, note text);
INSERT INTO users (email) VALUES ('a@example.org'), ('b@example.org');
"#;

/// `cmd`, run as `user` through runuser when given.
fn command(program: &Path, user: Option<&str>) -> Command {
    match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
