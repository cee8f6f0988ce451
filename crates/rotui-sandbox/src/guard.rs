//! Child processes that cannot outlive the process that started them.
//!
//! Test servers live in `static`s shared within a test binary, and Rust never
//! drops statics, so `Drop` cannot stop them. Instead each server runs under a
//! tiny shell "guard" that reads its stdin: the stdin is a pipe whose write
//! end only we hold, so when this process exits — normally, by panic or by a
//! signal — the pipe closes, `read` returns, and the guard stops the server
//! and removes its directory.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// A running guarded child. Dropping it (or exiting) stops the child and
/// removes `cleanup_dir`.
#[derive(Debug)]
pub struct Guarded {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Guarded {
    /// Run `program args…` under a guard. `user`, when given, runs it through
    /// `runuser -u USER --` (PostgreSQL refuses to run as root). Its output
    /// goes to `log`. When the guard fires, the server gets SIGTERM (then
    /// SIGKILL after 10 s) and `cleanup_dir` is removed.
    pub fn spawn(
        program: &Path,
        args: &[String],
        user: Option<&str>,
        log: &Path,
        cleanup_dir: Option<&Path>,
    ) -> std::io::Result<Guarded> {
        let mut cmd_line = String::new();
        if let Some(u) = user {
            cmd_line.push_str(&format!("runuser -u {} -- ", shell_quote(u)));
        }
        cmd_line.push_str(&shell_quote(&program.to_string_lossy()));
        for a in args {
            cmd_line.push(' ');
            cmd_line.push_str(&shell_quote(a));
        }
        let rm = cleanup_dir
            .map(|d| format!("rm -rf {}", shell_quote(&d.to_string_lossy())))
            .unwrap_or_default();
        // setsid-like isolation is not needed: the guard kills its own child.
        // The cleanup runs when our end of the pipe closes (`read` returns)
        // and also when the guard itself is signalled (a Ctrl-C to the
        // whole process group), so the directory never outlives the server.
        let script = format!(
            r#"cleanup() {{
  trap '' TERM INT HUP
  kill -TERM $pid 2>/dev/null
  for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  {rm}
  exit 0
}}
{cmd_line} >>{log} 2>&1 </dev/null &
pid=$!
trap cleanup TERM INT HUP
read _ignored
cleanup
"#,
            log = shell_quote(&log.to_string_lossy()),
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Guarded { child, stdin })
    }

    /// Stop the child now and wait for the guard to finish cleaning up.
    pub fn stop(&mut self) {
        self.stdin.take();
        let _ = self.child.wait();
    }

    /// Whether the guard (and so, normally, the child) is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `s` as one shell word (rotui's own quoting, so previews and the
/// sandbox's scripts quote alike).
pub use rotui::text::shell_quote;

/// A free TCP port on 127.0.0.1 (bind to 0, read it, release it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0 always works")
}

/// How many servers (MySQL, MariaDB, PostgreSQL, moto) one process starts at
/// once. A start is mostly CPU (`mysqld --initialize`, initdb, Python
/// importing moto): a test run that started a dozen at once on two cores
/// (three estates of three environments) stretched each past its readiness
/// timeout. Queued, each runs at close to full speed, and the total is
/// about the same.
const STARTS_AT_ONCE: usize = 3;

/// Held while a server starts: see [`STARTS_AT_ONCE`]. The wait for it is
/// not counted in any start's own timeout, which begins after.
pub struct StartSlot(());

impl StartSlot {
    /// Wait until fewer than [`STARTS_AT_ONCE`] starts are under way.
    pub fn take() -> StartSlot {
        let (count, freed) = &START_SLOTS;
        let mut taken = count.lock().unwrap_or_else(|e| e.into_inner());
        while *taken >= STARTS_AT_ONCE {
            taken = freed.wait(taken).unwrap_or_else(|e| e.into_inner());
        }
        *taken += 1;
        StartSlot(())
    }
}

impl Drop for StartSlot {
    fn drop(&mut self) {
        let (count, freed) = &START_SLOTS;
        *count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        freed.notify_one();
    }
}

static START_SLOTS: (std::sync::Mutex<usize>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

/// `start` (a server start on a [`free_port`]) again, up to three times in
/// all, while it fails because the port was taken: between `free_port`
/// releasing a port and the server binding it, any other process may bind
/// it, or the kernel may hand it to an outgoing connection as its local
/// port. A test run starts hundreds of servers among thousands of
/// connections, so this happens. The server's error carries its log, which
/// says "Address already in use" (PostgreSQL, MySQL and MariaDB alike).
pub fn on_a_free_port<T>(mut start: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match start() {
            Err(e) if attempts < 3 && e.to_string().contains("Address already in use") => continue,
            other => return other,
        }
    }
}

/// A fresh directory under the system temp dir that outlives this handle
/// (the guard removes it), named for what it holds.
pub fn scratch_dir(prefix: &str) -> std::io::Result<PathBuf> {
    Ok(tempfile::Builder::new().prefix(prefix).tempdir()?.keep())
}

/// Whether this process runs as root (servers then drop to a service user).
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_more_than_the_allowed_starts_run_at_once() {
        let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..STARTS_AT_ONCE * 3)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                std::thread::spawn(move || {
                    let _slot = StartSlot::take();
                    let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), STARTS_AT_ONCE);
    }

    #[test]
    fn a_server_that_lost_its_port_is_started_again_and_other_errors_are_not_retried() {
        let mut calls = 0;
        let started = on_a_free_port(|| {
            calls += 1;
            if calls == 1 {
                Err(std::io::Error::other(
                    "log: Bind on TCP/IP port: Address already in use",
                ))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(started.unwrap(), 2);
        let mut calls = 0;
        let always_taken = on_a_free_port(|| -> std::io::Result<()> {
            calls += 1;
            Err(std::io::Error::other("Address already in use"))
        });
        assert!(always_taken.is_err());
        assert_eq!(calls, 3, "three tries in all");
        let mut calls = 0;
        let other = on_a_free_port(|| -> std::io::Result<()> {
            calls += 1;
            Err(std::io::Error::other("mysqld --initialize-insecure failed"))
        });
        assert!(other.is_err());
        assert_eq!(calls, 1, "only a taken port is tried again");
    }

    #[test]
    fn guard_stops_child_and_removes_dir_on_drop() {
        let dir = scratch_dir("rotui-guard-").unwrap();
        let log = dir.join("log");
        let mut g = Guarded::spawn(Path::new("sleep"), &["30".into()], None, &log, Some(&dir)).unwrap();
        assert!(g.is_running());
        g.stop();
        assert!(!dir.exists(), "the guard removes its directory");
    }

    #[test]
    fn a_signalled_guard_still_cleans_up() {
        let dir = scratch_dir("rotui-guard-").unwrap();
        let log = dir.join("log");
        let g = Guarded::spawn(Path::new("sleep"), &["30".into()], None, &log, Some(&dir)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let guard_pid = nix::unistd::Pid::from_raw(g.child.id() as i32);
        nix::sys::signal::kill(guard_pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        for _ in 0..100 {
            if !dir.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(!dir.exists(), "the guard removes its directory when signalled");
    }

    #[test]
    fn shell_quote_handles_quotes() {
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
        assert_eq!(shell_quote("/usr/bin/x"), "/usr/bin/x");
    }
}
