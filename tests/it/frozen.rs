//! Frozen systems (issue 21, item 5): rotui stopped at a step's start
//! (`ROTUI_FAULT=step/…:1:stop`), one outside system frozen there — the
//! database and moto by SIGSTOP, the API server by a proxy that stops
//! answering (it runs inside this test process) — then rotui continued.
//! The step fails naming the system, the process exits within a bound
//! (nothing on the way out waits on the frozen system), and once the system
//! thaws a rerun finishes with nothing written twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::faults::{App, Ran, Sb, ran, rotate_all, signal, strs, until_stopped};

/// The process listening on 127.0.0.1:`port` (a child of this test).
fn listener_pid(port: u16) -> u32 {
    let out = std::process::Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{port}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text
        .find("pid=")
        .unwrap_or_else(|| panic!("no listener on {port}: {text}"));
    text[at + 4..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn port_of(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap()
}

/// A TCP proxy in front of the API server that can stop answering: while
/// frozen, it reads nothing and forwards nothing, as a stopped process.
struct Proxy {
    port: u16,
    frozen: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(to: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let f = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let f = f.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", to)).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pump(cr, sw, f.clone()), pump(sr, cw, f));
                });
            }
        });
        Proxy { port, frozen }
    }

    fn freeze(&self, on: bool) {
        self.frozen.store(on, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Which system to freeze.
#[derive(Debug, Clone, Copy)]
enum Sys {
    Database,
    SecretsManager,
    ApiServer,
}

struct Freezer<'a> {
    sb: &'a Sb,
    /// The user being rotated (what the drop's confirmation names).
    old: String,
    proxy: Proxy,
    kubeconfig: String,
}

impl Freezer<'_> {
    fn set(&self, sys: Sys, on: bool) {
        let info = self.sb.world.info();
        let sig = if on { Signal::SIGSTOP } else { Signal::SIGCONT };
        match sys {
            Sys::Database => signal(listener_pid(port_of(&info.mysql.admin_url)), sig),
            Sys::SecretsManager => signal(listener_pid(port_of(&info.aws_endpoint_url)), sig),
            Sys::ApiServer => self.proxy.freeze(on),
        }
    }

    /// `rotate` stopped before `step`, `sys` frozen, `rotate` continued:
    /// how it ended, with `sys` thawed afterwards.
    async fn frozen_at(&self, sys: Sys, step: &str) -> Ran {
        let app = App::Signon;
        let fault = format!("step/sandbox/{step}:1:stop");
        let mut rotate = rotate_all(&self.old);
        rotate.extend(["--call-timeout".to_owned(), CALL_TIMEOUT.to_string()]);
        let mut cmd = self.sb.command(
            app,
            &strs(&rotate),
            &[("ROTUI_FAULT", &fault), ("KUBECONFIG", &self.kubeconfig)],
        );
        let child = cmd.spawn().unwrap();
        let pid = child.id().unwrap();
        until_stopped(pid).await;
        self.set(sys, true);
        let started = Instant::now();
        signal(pid, Signal::SIGCONT);
        // Far beyond any bound rotui should keep: then it is stuck.
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output()).await;
        self.set(sys, false);
        match out {
            Ok(out) => ran(out.unwrap(), started),
            // (Dropping the wait killed it.)
            Err(_) => {
                panic!("{sys:?} frozen at {step}: rotui had not exited after 120 s");
            }
        }
    }
}

async fn frozen(cases: &[(Sys, &str, u64)]) {
    let app = App::Signon;
    let sb = Sb::start().await;
    let objects = sb.objects(app).await;
    let old = sb.current(app).await.0;
    let info = sb.world.info();
    let kube_port = {
        let text = std::fs::read_to_string(&info.kubeconfig).unwrap();
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("server:"))
            .unwrap();
        port_of(line.trim_start().trim_start_matches("server:").trim())
    };
    let proxy = Proxy::start(kube_port).await;
    let kubeconfig = sb.dir.path().join("kubeconfig-proxied");
    std::fs::write(
        &kubeconfig,
        rotui_sandbox::apiserver::kubeconfig(&format!("http://127.0.0.1:{}", proxy.port), "apps"),
    )
    .unwrap();
    let f = Freezer {
        sb: &sb,
        old: old.clone(),
        proxy,
        kubeconfig: kubeconfig.to_string_lossy().into_owned(),
    };

    let mut took = vec![];
    for &(sys, step, timeout) in cases {
        let r = f.frozen_at(sys, step).await;
        let what = format!("{sys:?} frozen at {step}");
        assert_eq!(r.code, Some(1), "{what}: {r:?}");
        assert!(
            r.text.contains(&format!("sandbox/{step}")),
            "{what}: the step is named: {}",
            r.text
        );
        // The step's own timeout, and a few seconds on the way out.
        assert!(
            r.took < Duration::from_secs(timeout + 15),
            "{what}: exited after {:?}: {}",
            r.took,
            r.text
        );
        took.push(format!("{what}: {:.1} s", r.took.as_secs_f32()));
        // Each thaw: the next case resumes from another laptop.
    }
    eprintln!("{took:#?}");
    sb.rotate_to_the_end(app, &old).await;
    sb.settled(app, &objects, "after the frozen runs").await;
    assert_eq!(sb.versions(app).await, 2, "one AWSPENDING version, once");
}

/// Every run here bounds each call at this many seconds (`--call-timeout`),
/// so a frozen system costs seconds, not the default 30.
const CALL_TIMEOUT: u64 = 5;

/// The database frozen in each kind of step that reads or writes it: a
/// database write, the promotion (which logs in first, where rotui once
/// printed its failure and never exited), the drain (counting
/// connections) and the drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_ends_the_run_in_bounded_time_and_a_rerun_finishes() {
    frozen(&[
        (Sys::Database, "create-user", 10),
        (Sys::Database, "promote", 10),
        (Sys::Database, "drain", 10),
        (Sys::Database, "drop-old-user", 10),
    ])
    .await;
}

/// Secrets Manager frozen at each of its writes: the pending version and
/// the promotion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_secrets_manager_ends_the_run_in_bounded_time_and_a_rerun_finishes() {
    frozen(&[
        (Sys::SecretsManager, "store-pending", CALL_TIMEOUT),
        (Sys::SecretsManager, "promote", CALL_TIMEOUT),
    ])
    .await;
}

/// The API server frozen at its write (the force-sync) and in the waits
/// that watch it (the Secret's check, the rollout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_api_server_ends_the_run_in_bounded_time_and_a_rerun_finishes() {
    frozen(&[
        (Sys::ApiServer, "force-sync", CALL_TIMEOUT),
        (Sys::ApiServer, "verify-secret", CALL_TIMEOUT),
        (Sys::ApiServer, "rollout", CALL_TIMEOUT),
    ])
    .await;
}

/// The dashboard, its panes reading the database, quit (`q`) while the
/// database is frozen: it leaves within a bound, the terminal restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_quits_within_a_bound_while_the_database_is_frozen() {
    let sb = Sb::start().await;
    let env = sb.env_for_laptop();
    let mysqld = listener_pid(port_of(&sb.world.info().mysql.admin_url));
    let (took, screen) = tokio::task::spawn_blocking(move || {
        let t = crate::tmux::Tmux::start(
            "rotui-frozen-dash",
            &env,
            env!("CARGO_BIN_EXE_rotui"),
            "--app signon --engine mysql",
        );
        t.wait_for("the dashboard's panes", Duration::from_secs(60), |s| {
            s.contains("Deployment signon") && s.contains("db user")
        });
        signal(mysqld, Signal::SIGSTOP);
        // Its reads are now waiting on the frozen server.
        std::thread::sleep(Duration::from_secs(3));
        let started = Instant::now();
        t.keys(&["q"]);
        let screen = t.wait_for("the exit", Duration::from_secs(60), |s| s.contains("exit="));
        let took = started.elapsed();
        signal(mysqld, Signal::SIGCONT);
        (took, screen)
    })
    .await
    .unwrap();
    assert_eq!(crate::tmux::exit_code(&screen), Some(0), "{screen}");
    assert!(took < Duration::from_secs(8), "quit took {took:?}");
    eprintln!(
        "the dashboard quit in {:.1} s with the database frozen",
        took.as_secs_f32()
    );
}
