//! Deterministic fault points, for the tests that kill or freeze rotui in
//! the middle of a write: `ROTUI_FAULT=<point>:<n>` kills the process (a
//! real SIGKILL: no destructor runs, nothing is flushed, the servers see
//! the connections drop) the `n`th time it passes `point` (or any point
//! under it: `write` matches `write/db`; `write|mark/clear` either);
//! `ROTUI_FAULT=<point>:<n>:stop`
//! stops it instead (SIGSTOP), so that a test can freeze an outside system
//! at that exact moment and then let rotui continue (SIGCONT). Several
//! specs, comma-separated, are armed together, each counting its own.
//!
//! Always compiled in: the tests drive the binary that ships, and the
//! variable can do nothing that `kill -9` / `kill -STOP` could not do to
//! the same process. Unset (always, outside the tests), a point costs one
//! load of a `OnceLock` and an empty loop.
//!
//! The points, each passed right after the call it names succeeded:
//! `write/db` (one statement), `write/secret` (AWSPENDING stored,
//! promoted, rolled back), `write/cluster` (force-sync annotated),
//! `write/restart` (a workload's `rollout restart` patched, before rotui
//! journals it or watches its gate), `write/pause` (a Deployment paused or
//! resumed for `--stagger`),
//! `mark/set`, `mark/clear` (the rotation mark), `secret-call` (each
//! Secrets Manager call of a staged write: the rollback's move of
//! AWSCURRENT, then of AWSPENDING), `definer-backup` (a MySQL routine or
//! trigger saved, nothing dropped yet), `step/<env>/<slug>` (before each
//! step, once its heartbeat is written).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable's name.
pub const VAR: &str = "ROTUI_FAULT";

struct Armed {
    point: String,
    nth: u64,
    stop: bool,
    seen: AtomicU64,
}

/// Every spec of the variable (comma-separated); a malformed one arms nothing.
fn armed() -> &'static [Armed] {
    static ARMED: OnceLock<Vec<Armed>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var(VAR)
            .ok()
            .map(|v| v.split(',').filter_map(parse).collect())
            .unwrap_or_default()
    })
}

fn parse(spec: &str) -> Option<Armed> {
    let mut parts = spec.split(':');
    let point = parts.next().filter(|p| !p.is_empty())?.to_owned();
    let nth = parts.next().map_or(Some(1), |n| n.parse().ok())?;
    let stop = match parts.next() {
        None => false,
        Some("stop") => true,
        Some(_) => return None,
    };
    Some(Armed {
        point,
        nth,
        stop,
        seen: AtomicU64::new(0),
    })
}

/// Whether `name` is one of `armed`'s points (`write|mark/clear`), or under one.
fn matches(armed: &str, name: &str) -> bool {
    armed
        .split('|')
        .any(|p| name == p || name.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
}

/// Pass fault point `name`: nothing, unless `ROTUI_FAULT` arms it and this
/// is its `n`th passage.
pub fn point(name: &str) {
    for a in armed() {
        if matches(&a.point, name) && a.seen.fetch_add(1, Ordering::SeqCst) + 1 == a.nth {
            fire(a, name);
        }
    }
}

fn fire(a: &Armed, name: &str) {
    use nix::sys::signal::{Signal, raise};
    let (signal, what) = if a.stop {
        (Signal::SIGSTOP, "stopping")
    } else {
        (Signal::SIGKILL, "killed")
    };
    // The test reads this line to know which point fired.
    eprintln!("rotui: fault point {name} #{}: {what}", a.nth);
    let _ = raise(signal);
}

/// Await `call`, then pass point `name` if it succeeded: a write that
/// happened, and then the process died before anything recorded it.
pub async fn after<T, E>(name: &str, call: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let r = call.await;
    if r.is_ok() {
        point(name);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_names() {
        let a = parse("write:3").unwrap();
        assert_eq!((a.point.as_str(), a.nth, a.stop), ("write", 3, false));
        let a = parse("mark/set:1:stop").unwrap();
        assert!(a.stop && a.nth == 1);
        assert_eq!(parse("write").unwrap().nth, 1);
        assert!(parse("write:x").is_none() && parse(":1").is_none() && parse("a:1:boom").is_none());
        assert!(matches("write", "write/db") && matches("write/db", "write/db"));
        assert!(!matches("write", "writer") && !matches("write/db", "write"));
        assert!(matches("write|mark/clear", "mark/clear") && !matches("write|mark/clear", "mark/set"));
    }
}
