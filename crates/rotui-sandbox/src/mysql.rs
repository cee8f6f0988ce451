//! A throwaway MySQL 9.7 LTS (the successor LTS of the estate's MySQL 8.4:
//! same roles, grants and definer rules) whose admin is shaped like RDS's
//! master user, beside [`crate::mariadb`]'s MariaDB 10.11 and with the same
//! test API ([`MysqlServer`]).
//!
//! The server is Debian sid's `mysql-server-core`, unpacked by
//! `scripts/mysql-server.sh` into `/var/tmp/rotui-servers-UID/mysql/root` and
//! run through sid's own dynamic loader (its glibc is newer than Debian 12's).
//! Binary logging stays ON (MySQL's default, and RDS's with backups), and
//! `log_bin_trust_function_creators` OFF unless a caller asks otherwise.
//! The master (`mysql_rds_master.sql`): `aws_db_admin`@`%` with RDS's
//! documented privileges, `SET_ANY_DEFINER`, no SUPER, no CONNECTION_ADMIN,
//! and root-defined `mysql.rds_kill` / `mysql.rds_kill_query`.
//!
//! A missing MySQL 9.7 is an error, never a skipped test: when the unpacked
//! root is absent this runs `scripts/mysql-server.sh` once, and if that
//! fails every MySQL test fails saying why.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::guard::{Guarded, StartSlot, free_port, is_root, on_a_free_port, scratch_dir};
use crate::mariadb::{ClientCmd, MysqlServer, binary_version, log_tail, run_sql, wait_ready};
use rotui::db::ident::mysql_str;
use rotui::secret::{self, ExposeSecret, SecretString};

const RDS_MASTER_SQL: &str = include_str!("mysql_rds_master.sql");

/// Which MySQL-family server a test or the sandbox runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MysqlFlavor {
    /// MySQL 9.7 LTS (production runs MySQL 8.4 on RDS).
    #[default]
    Mysql,
    /// MariaDB 10.11 (Debian 12's).
    Mariadb,
}

impl MysqlFlavor {
    /// Every flavor, the production-like one first.
    pub const ALL: [MysqlFlavor; 2] = [MysqlFlavor::Mysql, MysqlFlavor::Mariadb];

    pub fn name(self) -> &'static str {
        match self {
            MysqlFlavor::Mysql => "mysql",
            MysqlFlavor::Mariadb => "mariadb",
        }
    }
}

impl std::fmt::Display for MysqlFlavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for MysqlFlavor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mysql" => Ok(MysqlFlavor::Mysql),
            "mariadb" => Ok(MysqlFlavor::Mariadb),
            other => Err(format!("unknown MySQL flavor `{other}` (mysql or mariadb)")),
        }
    }
}

/// The shared MySQL 9.7 (trust OFF), started on first use.
pub fn shared() -> &'static MysqlServer {
    static SHARED: OnceLock<MysqlServer> = OnceLock::new();
    SHARED.get_or_init(|| start(&[]).unwrap_or_else(|e| panic!("cannot start the test MySQL 9.7: {e}")))
}

/// A shared MySQL 9.7 started with `log_bin_trust_function_creators=ON`, as
/// an RDS DB parameter group can set it (routines and triggers can then be
/// re-created without SUPER).
pub fn shared_trusting() -> &'static MysqlServer {
    static SHARED: OnceLock<MysqlServer> = OnceLock::new();
    SHARED.get_or_init(|| {
        start(&["--log-bin-trust-function-creators=ON"])
            .unwrap_or_else(|e| panic!("cannot start the test MySQL 9.7 (trusting): {e}"))
    })
}

/// The unpacked sid root holding `usr/sbin/mysqld`: `$ROTUI_MYSQL_ROOT`, or
/// what `scripts/mysql-server.sh root` reports, fetching it first if absent.
pub fn server_root() -> io::Result<PathBuf> {
    static ROOT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut cached = ROOT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(r) = cached.as_ref() {
        return Ok(r.clone());
    }
    if let Some(r) = std::env::var_os("ROTUI_MYSQL_ROOT") {
        let r = PathBuf::from(r);
        if !r.join("usr/sbin/mysqld").is_file() {
            return Err(io::Error::other(format!(
                "ROTUI_MYSQL_ROOT={} holds no usr/sbin/mysqld",
                r.display()
            )));
        }
        *cached = Some(r.clone());
        return Ok(r);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mysql-server.sh");
    let root_of = || -> Option<PathBuf> {
        let out = Command::new(&script)
            .arg("root")
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    };
    let root = match root_of() {
        Some(r) => r,
        None => {
            // Not unpacked yet: fetch it now (~55 MB, cached for every later run).
            let out = Command::new(&script)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| io::Error::other(format!("cannot run {}: {e}", script.display())))?;
            if !out.status.success() {
                return Err(io::Error::other(format!(
                    "MySQL 9.7 LTS is not installed and {} failed (MySQL tests cannot run \
                     without it; run `just tools`):\n{}",
                    script.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            root_of()
                .ok_or_else(|| io::Error::other(format!("{} ran but left no mysqld", script.display())))?
        }
    };
    *cached = Some(root.clone());
    Ok(root)
}

/// One of MySQL 9.7's client programs (`mysql`, `mysqldump`,
/// `mysqladmin`), found in the same unpacked root as the server: the
/// program to start (sid's loader) and the arguments before the client's own.
pub fn client_program(name: &str) -> io::Result<(PathBuf, Vec<String>)> {
    let root = server_root()?;
    let bin = root.join("usr/bin").join(name);
    if !bin.is_file() {
        return Err(io::Error::other(format!(
            "no {} in MySQL 9.7's root (re-run scripts/mysql-server.sh --force)",
            bin.display()
        )));
    }
    let run = Runner::new(&root)?;
    let pre = run.pre_args(&bin);
    Ok((run.loader, pre))
}

/// How to run one of the root's programs: sid's loader, then the program.
struct Runner {
    loader: PathBuf,
    libpath: String,
}

impl Runner {
    fn new(root: &Path) -> io::Result<Runner> {
        let loader = root.join("usr/lib64/ld-linux-x86-64.so.2");
        if !loader.exists() {
            return Err(io::Error::other(format!(
                "no dynamic loader at {} (re-run scripts/mysql-server.sh --force)",
                loader.display()
            )));
        }
        let libpath = [
            "usr/lib/x86_64-linux-gnu",
            "lib/x86_64-linux-gnu",
            "usr/lib/x86_64-linux-gnu/mysql",
        ]
        .iter()
        .map(|p| root.join(p).to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":");
        Ok(Runner { loader, libpath })
    }

    /// Arguments for the loader that run `program`.
    fn pre_args(&self, program: &Path) -> Vec<String> {
        vec![
            "--library-path".into(),
            self.libpath.clone(),
            program.to_string_lossy().into_owned(),
        ]
    }
}

/// Start a MySQL 9.7 server on a free port with an RDS-shaped master;
/// `extra` are more mysqld options. Blocking.
pub fn start(extra: &[&str]) -> io::Result<MysqlServer> {
    let _slot = StartSlot::take();
    on_a_free_port(|| start_once(extra))
}

fn start_once(extra: &[&str]) -> io::Result<MysqlServer> {
    let root = server_root()?;
    let run = Runner::new(&root)?;
    let mysqld = root.join("usr/sbin/mysqld");
    let client = ClientCmd {
        program: run.loader.clone(),
        pre_args: run.pre_args(&root.join("usr/bin/mysql")),
    };

    let dir = scratch_dir("rotui-mysql-")?;
    let data = dir.join("data");
    let files = dir.join("files");
    let tmp = dir.join("tmp");
    for d in [&files, &tmp] {
        std::fs::create_dir_all(d)?;
    }
    let log = dir.join("server.log");
    let r = |p: &str| root.join(p).to_string_lossy().into_owned();
    let mut common = vec![
        "--no-defaults".to_owned(),
        format!("--basedir={}", r("usr")),
        format!("--lc-messages-dir={}", r("usr/share/mysql")),
        format!("--character-sets-dir={}", r("usr/share/mysql/charsets")),
        format!("--plugin-dir={}", r("usr/lib/mysql/plugin")),
        format!("--datadir={}", data.display()),
        format!("--tmpdir={}", tmp.display()),
        format!("--log-error={}", log.display()),
    ];
    if is_root() {
        common.push("--user=root".to_owned());
    }

    let mut init = run.pre_args(&mysqld);
    init.extend(common.iter().cloned());
    init.push("--initialize-insecure".to_owned());
    init.push("--innodb-redo-log-capacity=8M".to_owned());
    let out = Command::new(&run.loader)
        .args(&init)
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        let tail = log_tail(&log);
        let _ = std::fs::remove_dir_all(&dir);
        return Err(io::Error::other(format!(
            "mysqld --initialize-insecure failed: {}{}\n{tail}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }

    let port = free_port();
    let socket = dir.join("sock");
    let mut args = run.pre_args(&mysqld);
    args.extend(common);
    args.extend([
        format!("--port={port}"),
        "--bind-address=127.0.0.1".to_owned(),
        format!("--socket={}", socket.display()),
        format!("--pid-file={}", dir.join("mysqld.pid").display()),
        format!("--secure-file-priv={}", files.display()),
        "--mysqlx=OFF".to_owned(),
        "--innodb-redo-log-capacity=8M".to_owned(),
        "--innodb-buffer-pool-size=32M".to_owned(),
        "--max-connections=1000".to_owned(),
        "--skip-name-resolve".to_owned(),
        // The event scheduler runs events (ON by default in MySQL; said anyway).
        "--event-scheduler=ON".to_owned(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut guard = Guarded::spawn(&run.loader, &args, None, &log, Some(&dir))?;

    wait_ready(
        &mut guard,
        &client,
        &socket,
        &log,
        "MySQL 9.7",
        port,
        Duration::from_secs(60),
    )?;

    let admin_password = secret::generate_password();
    let root_password = secret::generate_password();
    run_sql(&client, &socket, &bootstrap_sql(&admin_password, &root_password))
        .map_err(|e| io::Error::other(format!("bootstrapping MySQL 9.7 failed: {e}")))?;
    let version = binary_version(&run.loader, &run.pre_args(&mysqld));

    Ok(MysqlServer {
        port,
        flavor: MysqlFlavor::Mysql,
        version,
        dir,
        admin_password,
        root_password,
        _guard: guard,
    })
}

/// The RDS-shaped master, then root reachable over TCP with a password (as
/// the MariaDB harness's root is): `root`@`127.0.0.1` with every privilege.
fn bootstrap_sql(admin: &SecretString, root: &SecretString) -> String {
    let root_pw = mysql_str(root.expose_secret());
    format!(
        "{master}
CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY {root_pw};
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
GRANT PROXY ON ''@'' TO 'root'@'127.0.0.1' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY {root_pw};
",
        master = RDS_MASTER_SQL.replace("{{admin_password}}", &mysql_str(admin.expose_secret())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavors_parse_and_print() {
        for f in MysqlFlavor::ALL {
            assert_eq!(f.name().parse::<MysqlFlavor>().unwrap(), f);
        }
        assert!("postgres".parse::<MysqlFlavor>().is_err());
    }

    #[test]
    fn the_master_has_no_super_and_the_password_is_substituted() {
        let pw = secret::secret("Adm1nPassw0rd");
        let sql = bootstrap_sql(&pw, &secret::secret("R00tPassw0rd"));
        assert!(sql.contains("IDENTIFIED BY 'Adm1nPassw0rd'"));
        assert!(!sql.contains("{{"));
        assert!(sql.contains("SET_ANY_DEFINER"));
        let grants: Vec<&str> = sql
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect();
        let grants = grants.join("\n");
        assert!(!grants.contains(" SUPER") && !grants.contains("CONNECTION_ADMIN"));
    }
}
