//! moto's server: a local Secrets Manager (and STS, IAM) that the real AWS
//! SDK talks to over HTTP. The sandbox and the tests start it on a free port
//! under a [`Guarded`] shell, so it dies with this process.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::guard::{Guarded, scratch_dir};

/// Env var naming the `moto_server` executable (the justfile sets it).
pub const MOTO_ENV: &str = "ROTUI_MOTO_SERVER";

/// Why moto's server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("moto_server not found (looked at {looked}): run `just tools` to install it")]
    NotInstalled { looked: String },
    #[error("could not start moto_server: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("moto_server was not ready within {secs} s; its log: {log}")]
    NotReady { secs: u64, log: String },
}

/// A running moto server on 127.0.0.1. Dropping it stops the server.
#[derive(Debug)]
pub struct MotoServer {
    port: u16,
    dir: PathBuf,
    _guard: Guarded,
}

/// Python starts in about a second, but a loaded machine starting several
/// servers at once (an estate) can take far longer.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl MotoServer {
    /// Start a fresh server (blocking until it answers, at most 30 s).
    pub fn start() -> Result<Self, MotoError> {
        Self::start_in(None)
    }

    /// A server playing the AWS account `account_id` (12 digits): moto's
    /// `MOTO_ACCOUNT_ID`, so STS GetCallerIdentity answers that account and
    /// ARNs carry it. One server per account, as each GOV.UK environment is
    /// its own account.
    pub fn start_for_account(account_id: &str) -> Result<Self, MotoError> {
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MotoError::Spawn(std::io::Error::other(format!(
                "an AWS account id is 12 digits, not `{account_id}`"
            ))));
        }
        Self::start_in(Some(account_id))
    }

    fn start_in(account_id: Option<&str>) -> Result<Self, MotoError> {
        let program = find_moto_server()?;
        let _slot = crate::guard::StartSlot::take();
        let dir = scratch_dir("rotui-moto-")?;
        let log = dir.join("moto.log");
        // Port 0: the server binds a free port itself and logs it, so two
        // servers starting at once can never race for the same port.
        let mut args: Vec<String> = ["-H", "127.0.0.1", "-p", "0"].map(str::to_owned).into();
        let guard = match account_id {
            // `env` execs moto, so the guard still signals moto itself.
            Some(id) => {
                args.insert(0, program.to_string_lossy().into_owned());
                args.insert(0, format!("MOTO_ACCOUNT_ID={id}"));
                Guarded::spawn(Path::new("env"), &args, None, &log, Some(&dir))?
            }
            None => Guarded::spawn(&program, &args, None, &log, Some(&dir))?,
        };
        let started = Instant::now();
        let port = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(port) = logged_port(&text) {
                break port;
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(MotoError::NotReady {
                    secs: READY_TIMEOUT.as_secs(),
                    log: text,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let server = MotoServer {
            port,
            dir,
            _guard: guard,
        };
        server.wait_ready(READY_TIMEOUT.saturating_sub(started.elapsed()))?;
        Ok(server)
    }

    /// One server shared by every test in this process; tests isolate by
    /// unique secret names rather than resetting it.
    pub fn shared() -> &'static MotoServer {
        static SHARED: OnceLock<MotoServer> = OnceLock::new();
        SHARED.get_or_init(|| MotoServer::start().unwrap_or_else(|e| panic!("{e}")))
    }

    /// `http://127.0.0.1:PORT`, for `--aws-endpoint-url` / `AWS_ENDPOINT_URL`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("moto.log")
    }

    /// POST to one of moto's own control endpoints (`/moto-api/...`), e.g.
    /// `reset-auth` with body `0` to enforce IAM from now on. Returns the body.
    pub fn moto_api(&self, path: &str, body: &str) -> std::io::Result<String> {
        let (status, body) = http_post(self.port, &format!("/moto-api/{path}"), &[], body)?;
        if status != 200 {
            return Err(std::io::Error::other(format!(
                "moto-api/{path} answered {status}: {body}"
            )));
        }
        Ok(body)
    }

    fn wait_ready(&self, within: Duration) -> Result<(), MotoError> {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Ok((200, _)) = http_get(self.port, "/moto-api/data.json") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(MotoError::NotReady {
            secs: READY_TIMEOUT.as_secs(),
            log: std::fs::read_to_string(self.log_path()).unwrap_or_default(),
        })
    }
}

/// The port of werkzeug's " * Running on http://127.0.0.1:PORT" line.
fn logged_port(log: &str) -> Option<u16> {
    let rest = &log[log.find("Running on http://127.0.0.1:")? + "Running on http://127.0.0.1:".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|p| *p != 0)
}

/// `$ROTUI_MOTO_SERVER`, else the crate's `.venv/bin/moto_server`, else PATH.
/// Where `moto_server` is (`ROTUI_MOTO_SERVER`, the crate's venv, PATH).
pub fn moto_server_path() -> Result<PathBuf, MotoError> {
    find_moto_server()
}

fn find_moto_server() -> Result<PathBuf, MotoError> {
    locate(
        std::env::var_os(MOTO_ENV).map(PathBuf::from),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server"),
        || which::which("moto_server").ok(),
    )
}

/// The first executable of `from_env`, `venv`, then what `on_path` finds.
fn locate(
    from_env: Option<PathBuf>,
    venv: &Path,
    on_path: impl FnOnce() -> Option<PathBuf>,
) -> Result<PathBuf, MotoError> {
    let mut looked = Vec::new();
    for candidate in from_env.iter().map(PathBuf::as_path).chain([venv]) {
        if is_executable(candidate) {
            return Ok(candidate.to_owned());
        }
        looked.push(candidate.display().to_string());
    }
    looked.push("PATH".to_owned());
    on_path().ok_or(MotoError::NotInstalled {
        looked: looked.join(", "),
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A minimal HTTP/1.1 request over a fresh connection (`Connection: close`),
/// enough for moto's control endpoints and test fixtures; no HTTP client
/// crate needed for these few calls.
pub fn http_post(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    http_request(port, "POST", path, headers, body)
}

fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    http_request(port, "GET", path, &[], "")
}

fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head}")))?;
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_prefers_the_env_then_the_venv_then_path() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("moto_server");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let missing = dir.path().join("missing");
        let path_hit = || Some(PathBuf::from("/on/path/moto_server"));
        assert_eq!(locate(Some(exe.clone()), &missing, || None).unwrap(), exe);
        assert_eq!(locate(Some(missing.clone()), &exe, || None).unwrap(), exe);
        assert_eq!(
            locate(Some(missing.clone()), &missing, path_hit).unwrap(),
            PathBuf::from("/on/path/moto_server")
        );
        let err = locate(None, &missing, || None).unwrap_err().to_string();
        assert!(
            err.contains("run `just tools`") && err.contains("missing, PATH"),
            "{err}"
        );
    }

    #[test]
    fn reads_the_port_werkzeug_logs() {
        let log = "WARNING: This is a development server.\n * Running on http://127.0.0.1:39575\nPress CTRL+C to quit\n";
        assert_eq!(logged_port(log), Some(39575));
        assert_eq!(logged_port("WARNING: This is a development server.\n"), None);
        assert_eq!(logged_port(" * Running on http://127.0.0.1:"), None);
    }

    #[test]
    fn dechunks_chunked_bodies() {
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }
}
