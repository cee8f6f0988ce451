//! The CPU time rotui spends watching a server with 200 connections at a 1 s
//! refresh, against pg_activity at the same refresh on the same server in
//! the same run (issue 5 (b); target: rotui at most 0.2× pg_activity).
//!
//! Both run side by side in detached tmux sessions (160×48), each `exec`ed so
//! the pane's process is the tool itself; after a warm-up, the CPU time each
//! process used over one window is summed over its threads from the
//! scheduler's nanosecond counts (sampled every second).
//!
//! `just bench` (or `cargo bench --bench watch_cpu`) runs it; pg_activity comes
//! from `./scripts/tools.sh .venv bench` (`$ROTUI_PG_ACTIVITY`, else
//! `.venv/bin/pg_activity`, else PATH). Without `--bench` (as under
//! `cargo test --benches`) it returns at once. `WATCH_CPU_SECS` sets the
//! window (default 120 s, long enough to hold the step list's look every
//! two minutes); `WATCH_CPU_SCREENS=1` prints the screens it measured.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use rotui::secret::{ExposeSecret, SecretString};
use rotui::target::{Engine, Target};
use rotui_sandbox::guard::shell_quote;
use rotui_sandbox::world::{self, World};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

const IDLE_CONNECTIONS: usize = 200;
const WARM_UP: Duration = Duration::from_secs(5);
const TARGET_RATIO: f64 = 0.2;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("watch_cpu: skipped: run with --bench");
        return;
    }
    let window = Duration::from_secs(
        std::env::var("WATCH_CPU_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120),
    );
    let pg_activity = find_pg_activity();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run(&pg_activity, window));
}

fn find_pg_activity() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/pg_activity");
    std::env::var_os("ROTUI_PG_ACTIVITY")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| venv.is_file().then_some(venv))
        .or_else(|| which::which("pg_activity").ok())
        .expect("pg_activity not found: run `./scripts/tools.sh .venv bench` (or `just bench`)")
}

async fn run(pg_activity: &Path, window: Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let info = world.info().clone();
    let target = Target::new(world::ENV, &info.postgres.app, Engine::Postgres);
    let admin_password = admin_password(&info.aws_endpoint_url, &target).await;
    let url = url::Url::parse(&info.postgres.admin_url).expect("the sandbox's admin URL");
    let (host, port) = (
        url.host_str().expect("a host").to_owned(),
        url.port().expect("a port"),
    );
    let user = url.username().to_owned();
    let database = info.postgres.database.clone();

    // The server under watch: 200 idle sessions besides the app's own.
    let options = PgConnectOptions::new_without_pgpass()
        .host(&host)
        .port(port)
        .username(&user)
        .password(admin_password.expose_secret())
        .database(&database)
        .application_name("watch-cpu-idle");
    let idle: Vec<PgConnection> = stream::iter(0..IDLE_CONNECTIONS)
        .map(|_| {
            let o = options.clone();
            async move {
                PgConnection::connect_with(&o)
                    .await
                    .expect("opening an idle connection")
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut probe = PgConnection::connect_with(&options)
        .await
        .expect("probe connection");
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
            .fetch_one(&mut probe)
            .await
            .expect("counting connections");
    probe.close().await.ok();
    let total = total - 1; // not the probe

    // rotui: the sandbox's exports, its own state dir and HOME.
    let mut env = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("sandbox.env")).expect("sandbox.env"),
    );
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    env.insert(
        "ROTUI_STATE_DIR".into(),
        dir.path().join("state").display().to_string(),
    );
    env.insert("HOME".into(), home.display().to_string());
    env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
    let rotui_cmd = format!(
        "{} --app {} --engine postgres",
        shell_quote(env!("CARGO_BIN_EXE_rotui")),
        shell_quote(&target.app)
    );

    // pg_activity: the password from a 0600 pgpass file, never argv or env.
    let pgpass = dir.path().join("pgpass");
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&pgpass)
        .expect("pgpass file");
    writeln!(
        f,
        "{host}:{port}:*:{user}:{}",
        pgpass_escape(admin_password.expose_secret())
    )
    .unwrap();
    drop(f);
    let pg_env: HashMap<String, String> = [
        ("PGPASSFILE", pgpass.display().to_string()),
        ("HOME", home.display().to_string()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let pg_cmd = format!(
        "{} --refresh 1 --rds -h {} -p {port} -U {} -d {}",
        shell_quote(&pg_activity.display().to_string()),
        shell_quote(&host),
        shell_quote(&user),
        shell_quote(&database)
    );

    let rows = tokio::task::spawn_blocking(move || measure(&env, &rotui_cmd, &pg_env, &pg_cmd, window))
        .await
        .expect("the measurement");
    drop(idle);
    world.shutdown().await;
    report(&rows, total, window);
}

struct Row {
    tool: &'static str,
    cpu: f64,
}

fn measure(
    rotui_env: &HashMap<String, String>,
    rotui_cmd: &str,
    pg_env: &HashMap<String, String>,
    pg_cmd: &str,
    window: Duration,
) -> Vec<Row> {
    let rotui = Tmux::start("watch-cpu-rotui", rotui_env, rotui_cmd);
    let rotui_rows = Tmux::start("watch-cpu-rotui-rows", rotui_env, rotui_cmd);
    let pg = Tmux::start("watch-cpu-pg-activity", pg_env, pg_cmd);
    // All on screen and watching: rotui counts the server's sessions…
    let total = regex::Regex::new(r"(\d+) total · every 1s").unwrap();
    let counted = |s: &str| {
        total
            .captures(s)
            .is_some_and(|c| c[1].parse::<usize>().unwrap() >= IDLE_CONNECTIONS)
    };
    rotui.wait_for("rotui counting the connections", Duration::from_secs(60), counted);
    // …the second one lists each of them (`c`), as pg_activity does…
    rotui_rows.wait_for("the second rotui", Duration::from_secs(60), counted);
    rotui_rows.keys(&["c"]);
    let row = regex::Regex::new(r"\d+\s+aws_db_admin\s+127\.0\.0\.1:\d+").unwrap();
    rotui_rows.wait_for("rotui listing each connection", Duration::from_secs(20), |s| {
        row.is_match(s)
    });
    // …and pg_activity shows its header.
    pg.wait_for("pg_activity's screen", Duration::from_secs(60), |s| {
        s.contains("PostgreSQL")
    });
    std::thread::sleep(WARM_UP);
    let tools = [
        ("rotui", &rotui, "rotui"),
        ("rotui, c", &rotui_rows, "rotui"),
        ("pg_activity", &pg, "pg_activity"),
    ];
    let pids: Vec<u32> = tools
        .iter()
        .map(|(name, t, comm)| {
            let pid = t.pane_pid();
            let c = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            assert!(c.starts_with(comm), "{name}'s pane runs {c:?}, not {comm}");
            pid
        })
        .collect();
    // Each thread's time on a CPU, read every second: a thread that ends
    // within the window (a blocking-pool worker) keeps what it used until
    // its last sample, at most a second short.
    let mut clocks: Vec<CpuClock> = pids.iter().map(|p| CpuClock::start(*p)).collect();
    let started = Instant::now();
    while started.elapsed() < window {
        std::thread::sleep((window - started.elapsed()).min(Duration::from_secs(1)));
        for c in &mut clocks {
            c.sample();
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < window + Duration::from_secs(1),
        "the window overran: {elapsed:?}"
    );
    // Still the same processes, still watching.
    for (pid, (name, t, _)) in pids.iter().zip(&tools) {
        assert_eq!(t.pane_pid(), *pid, "{name} restarted during the window");
        let s = t.capture();
        assert!(!s.trim().is_empty(), "{name}'s screen went blank");
        if std::env::var_os("WATCH_CPU_SCREENS").is_some() {
            println!("{name}'s screen at the end:\n{s}");
        }
    }
    tools
        .iter()
        .zip(&clocks)
        .map(|((name, _, _), c)| Row {
            tool: name,
            cpu: c.seconds(),
        })
        .collect()
}

fn report(rows: &[Row], total_connections: i64, window: Duration) {
    let profile = if cfg!(debug_assertions) {
        "dev (debug)"
    } else {
        "release"
    };
    let secs = window.as_secs_f64();
    println!();
    println!(
        "watch_cpu: {IDLE_CONNECTIONS} idle connections ({total_connections} client sessions before the \
         tools connected), 1 s refresh, {secs:.0} s window, rotui built {profile}"
    );
    println!("{:<12} {:>12} {:>12}", "tool", "CPU s", "% of a core");
    for r in rows {
        println!("{:<12} {:>12.3} {:>11.2}%", r.tool, r.cpu, 100.0 * r.cpu / secs);
    }
    let pg = rows
        .iter()
        .find(|r| r.tool == "pg_activity")
        .map_or(0.0, |r| r.cpu);
    for r in rows.iter().filter(|r| r.tool != "pg_activity") {
        if pg > 0.0 {
            let ratio = r.cpu / pg;
            let verdict = if ratio <= TARGET_RATIO { "meets" } else { "MISSES" };
            println!(
                "ratio {}/pg_activity: {ratio:.2}× — {verdict} the target (≤ {TARGET_RATIO}×)",
                r.tool
            );
        } else {
            println!(
                "ratio {}/pg_activity: undefined (pg_activity used no measurable CPU)",
                r.tool
            );
        }
    }
    println!("(rotui: its default view, connections counted per user; rotui, c: each connection listed)");
}

/// The admin password, read from the sandbox's admin secret as rotui reads it.
async fn admin_password(endpoint: &str, target: &Target) -> SecretString {
    let session = rotui::aws::AwsSession::with_credentials(
        &rotui::aws::AwsOptions {
            endpoint_url: Some(endpoint.to_owned()),
            region: Some(world::REGION.into()),
            ..Default::default()
        },
        &rotui::aws::StaticCredentials::new(world::AWS_KEY, world::AWS_KEY),
    )
    .await
    .expect("an AWS session on moto");
    let sm = aws_sdk_secretsmanager::Client::new(session.sdk_config());
    let v = sm
        .get_secret_value()
        .secret_id(&target.admin_secret)
        .send()
        .await
        .expect("reading the admin secret");
    let doc: serde_json::Value =
        serde_json::from_str(v.secret_string().unwrap_or_default()).expect("JSON secret");
    let password = doc[&target.admin_secret_key]
        .as_str()
        .expect("the admin secret holds the app's key");
    rotui::secret::secret(password)
}

/// A process's time on a CPU, per thread, from the scheduler's own
/// nanosecond count (`/proc/<pid>/task/<tid>/schedstat`), not the 10 ms
/// ticks of utime/stime, which would round a quiet process to zero.
struct CpuClock {
    pid: u32,
    start: HashMap<u32, u64>,
    last: HashMap<u32, u64>,
}

impl CpuClock {
    fn start(pid: u32) -> CpuClock {
        let start = thread_times(pid);
        CpuClock {
            pid,
            last: start.clone(),
            start,
        }
    }

    fn sample(&mut self) {
        self.last.extend(thread_times(self.pid));
    }

    fn seconds(&self) -> f64 {
        let ns: u64 = self
            .last
            .iter()
            .map(|(tid, t)| t - self.start.get(tid).copied().unwrap_or(0))
            .sum();
        ns as f64 / 1e9
    }
}

fn thread_times(pid: u32) -> HashMap<u32, u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process is alive");
    tasks
        .filter_map(|t| {
            let t = t.ok()?;
            let tid = t.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
            Some((tid, stat.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

/// A .pgpass field: `\` and `:` are escaped.
fn pgpass_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace(':', "\\:")
}

/// A detached tmux session whose pane process is `cmd` itself (`exec`).
struct Tmux {
    session: String,
}

impl Tmux {
    fn start(name: &str, env: &HashMap<String, String>, cmd: &str) -> Tmux {
        let session = format!("{name}-{}", std::process::id());
        let exports: String = env
            .iter()
            .map(|(k, v)| format!("export {k}={}; ", shell_quote(v)))
            .collect();
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", "160", "-y", "48"])
            .args(["bash", "-c", &format!("{exports}exec {cmd}")])
            .status()
            .expect("tmux runs")
            .success();
        assert!(ok, "tmux new-session failed");
        // Keep a dead pane's last screen for the error message.
        let _ = Command::new("tmux")
            .args(["set", "-t", &session, "remain-on-exit", "on"])
            .status();
        Tmux { session }
    }

    fn pane_pid(&self) -> u32 {
        let out = Command::new("tmux")
            .args(["display-message", "-p", "-t", &self.session, "#{pane_pid}"])
            .output()
            .expect("tmux display-message");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a pane pid")
    }

    fn keys(&self, keys: &[&str]) {
        let _ = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status();
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let s = self.capture();
            if pred(&s) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}
