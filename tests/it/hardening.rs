//! Hardening (issue 13), with the real binary against the sandbox: no secret
//! in any file rotui writes even at `ROTUI_LOG=trace`, private file modes,
//! hostile names from the database inert on every text output, previews
//! that survive a shell, no password on the command line, the terminal
//! restored on every signal with 128 + signal as the exit code, and errors
//! that say what was wrong.

use crate::tmux::{Tmux, exit_code};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rotui_sandbox::world::World;
use sqlx::Connection;

/// A name carrying an OSC 52 clipboard write (and a CSI clear-screen).
const HOSTILE: &str = "v\u{1b}]52;c;aGFja2Vk\u{7}\u{1b}[2J";

/// The binary under test; `ROTUI_HARDENING_BIN` points these tests at
/// another build (e.g. an older one, to see them fail there).
fn bin() -> String {
    std::env::var("ROTUI_HARDENING_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rotui").to_owned())
}

fn rotui(env: &HashMap<String, String>, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_clear()
        .envs(env)
        .output()
        .expect("rotui runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// No byte a terminal acts on: C0 controls other than newline and tab,
/// DEL, and the C1 controls.
fn assert_inert(what: &str, out: &str) {
    let bad: Vec<char> = out
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect();
    assert!(
        bad.is_empty(),
        "{what} printed raw control characters {bad:?}:\n{out:?}"
    );
}

/// Run `check`, recording its failure instead of stopping: the test
/// reports every guarantee that does not hold, not only the first.
fn soft(problems: &mut Vec<String>, what: &str, check: impl FnOnce()) {
    if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        problems.push(format!("{what}: {}", msg.chars().take(600).collect::<String>()));
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every form a password could take in a dump: as is, and in hex.
fn forms(secret: &str) -> Vec<String> {
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let spaced: Vec<String> = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let decimal: Vec<String> = secret.bytes().map(|b| b.to_string()).collect();
    vec![
        secret.to_owned(),
        hex.clone(),
        hex.to_uppercase(),
        spaced.join(" "),
        decimal.join(", "),
    ]
}

fn assert_no_secret_in(files: &[PathBuf], secrets: &[String]) {
    assert!(!files.is_empty(), "rotui wrote no file");
    for f in files {
        let body = text(&std::fs::read(f).unwrap());
        for s in secrets {
            for form in forms(s) {
                assert!(
                    !body.contains(&form),
                    "{} holds a password (as {:?}…)",
                    f.display(),
                    &form[..form.len().min(6)]
                );
            }
        }
    }
}

async fn sm_client(world: &World) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(
        rotui::aws::AwsSession::with_credentials(
            &rotui::aws::AwsOptions {
                endpoint_url: Some(world.info().aws_endpoint_url.clone()),
                region: Some("eu-west-1".into()),
                ..Default::default()
            },
            &rotui::aws::StaticCredentials::new("testing", "testing"),
        )
        .await
        .unwrap()
        .sdk_config(),
    )
}

async fn secret_json(
    sm: &aws_sdk_secretsmanager::Client,
    id: &str,
    stage: &str,
) -> Option<serde_json::Value> {
    let v = sm
        .get_secret_value()
        .secret_id(id)
        .version_stage(stage)
        .send()
        .await
        .ok()?;
    serde_json::from_str(v.secret_string()?).ok()
}

/// Every password the sandbox's MySQL side holds: the app's (each stage) and
/// the admins'.
async fn passwords(world: &World) -> Vec<String> {
    let sm = sm_client(world).await;
    let mut out = Vec::new();
    for stage in ["AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"] {
        if let Some(doc) = secret_json(&sm, &world.info().mysql.app_secret, stage).await {
            out.push(doc["password"].as_str().unwrap().to_owned());
        }
    }
    let admin = secret_json(&sm, &world.info().mysql.admin_secret, "AWSCURRENT")
        .await
        .unwrap();
    out.extend(
        admin
            .as_object()
            .unwrap()
            .values()
            .filter_map(|v| v.as_str().map(str::to_owned)),
    );
    out.sort();
    out.dedup();
    out
}

/// The sandbox admin's URL with its password (for ROTUI_DB_URL and sqlx).
async fn admin_url_with_password(world: &World) -> String {
    let sm = sm_client(world).await;
    let admin = secret_json(&sm, &world.info().mysql.admin_secret, "AWSCURRENT")
        .await
        .unwrap();
    let pw = admin[world.info().mysql.app.as_str()].as_str().unwrap();
    let mut url = url::Url::parse(&world.info().mysql.admin_url).unwrap();
    url.set_password(Some(pw)).unwrap();
    url.to_string()
}

fn sandbox_env(dir: &Path) -> HashMap<String, String> {
    let mut env =
        rotui_sandbox::world::parse_env_file(&std::fs::read_to_string(dir.join("sandbox.env")).unwrap());
    env.insert(
        "ROTUI_STATE_DIR".into(),
        dir.join("state").to_string_lossy().into_owned(),
    );
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    env.insert("HOME".into(), home.to_string_lossy().into_owned());
    env.insert("PATH".into(), std::env::var("PATH").unwrap());
    env.insert("ROTUI_LOG".into(), "trace".into());
    env
}

/// The words a shell makes of `line` (`kubectl …` run as `printf '%s\n' …`).
fn shell_words(line: &str) -> Vec<String> {
    let rest = line.trim().strip_prefix("kubectl ").expect("a kubectl line");
    let out = Command::new("bash")
        .args(["-c", &format!("printf '%s\\n' {rest}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{line}: {}", text(&out.stderr));
    text(&out.stdout).lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_level_rotation_leaves_no_secret_private_files_and_inert_names() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let env = sandbox_env(dir.path());
    let state = dir.path().join("state");
    let target = ["--app", "signon", "--engine", "mysql"];
    let admin_url = admin_url_with_password(&world).await;
    let database = world.info().mysql.database.clone();

    // Hostile names: a user (by the admin) and a view made with the app's
    // own credentials, as whoever holds them could.
    let mut db = sqlx::MySqlConnection::connect(&admin_url).await.unwrap();
    let hostile_user = HOSTILE.replace('v', "u");
    let sql = format!("CREATE USER '{hostile_user}'@'%' IDENTIFIED BY 'x'");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut db)
        .await
        .unwrap();
    let app = secret_json(
        &sm_client(&world).await,
        &world.info().mysql.app_secret,
        "AWSCURRENT",
    )
    .await
    .unwrap();
    let mut app_url = url::Url::parse(&admin_url).unwrap();
    app_url.set_username(app["username"].as_str().unwrap()).unwrap();
    app_url.set_password(app["password"].as_str()).unwrap();
    let mut as_app = sqlx::MySqlConnection::connect(app_url.as_str()).await.unwrap();
    let sql = format!("CREATE VIEW `{database}`.`{HOSTILE}` AS SELECT 1 AS one");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut as_app)
        .await
        .unwrap();
    as_app.close().await.unwrap();

    // plan: the hostile view's name shown, escaped.
    let out = rotui(&env, &[&["plan"], &target[..]].concat());
    let plan = text(&out.stdout);
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("hardening-plan.txt"),
        &plan,
    );
    assert!(out.status.success(), "plan failed: {}", text(&out.stderr));
    let mut problems = Vec::new();
    let p = &mut problems;
    soft(p, "plan", || {
        assert_inert("plan", &plan);
        assert!(
            plan.contains(r"\x1b]52;c;aGFja2Vk\x07"),
            "plan names the view, escaped"
        );
    });

    // Its kubectl line is what a shell runs: the same words.
    soft(p, "preview in a shell", || {
        let line = plan
            .lines()
            .map(|l| l.trim_start().trim_start_matches("| "))
            .find(|l| l.starts_with("kubectl annotate"))
            .expect("a force-sync preview");
        let words = shell_words(line);
        assert_eq!(
            &words[..5],
            [
                "annotate",
                "-n",
                "apps",
                "externalsecrets.external-secrets.io",
                "signon-mysql"
            ]
        );
        assert!(
            words[5].starts_with("force-sync=") && words[5][11..].parse::<i64>().is_ok(),
            "{words:?}"
        );
        assert_eq!(&words[6..], ["--overwrite"]);
    });

    // inspect, text and JSON, with the URL in the environment.
    let mut env_url = env.clone();
    env_url.insert("ROTUI_DB_URL".into(), admin_url.clone());
    let out = rotui(&env_url, &["inspect"]);
    let inspect = text(&out.stdout);
    assert!(out.status.success(), "inspect failed: {}", text(&out.stderr));
    soft(p, "inspect", || {
        assert_inert("inspect", &inspect);
        assert!(
            inspect.contains(r"u\x1b]52"),
            "inspect shows the hostile user, escaped"
        );
    });
    let out = rotui(&env_url, &["inspect", "--json"]);
    let json = text(&out.stdout);
    soft(p, "inspect --json", || {
        assert_inert("inspect --json", &json);
        let doc: serde_json::Value = serde_json::from_str(&json).expect("still JSON");
        assert!(doc.to_string().contains("aGFja2Vk"));
    });

    // Errors: a hostile database name is named escaped.
    let out = rotui(&env, &[&["plan", "--database", HOSTILE], &target[..]].concat());
    assert!(!out.status.success());
    soft(p, "error report", || {
        assert_inert("the error report", &text(&out.stderr))
    });

    // The hostile view stays: the rotation moves its definer, and the
    // journal records the statements that name it.
    let sql = format!("DROP USER '{hostile_user}'@'%'");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    // The whole rotation, headless, at trace level.
    let mut codes = Vec::new();
    let started = Instant::now();
    loop {
        let out = rotui(
            &env,
            &[
                &[
                    "rotate",
                    "--yes",
                    "--compromised",
                    "--kill-leftovers",
                    "--confirm-drop",
                    "signon",
                ],
                &target[..],
            ]
            .concat(),
        );
        let code = out.status.code().unwrap_or(-1);
        codes.push(code);
        soft(p, "rotate", || assert_inert("rotate", &text(&out.stdout)));
        if code == 0 {
            break;
        }
        assert!(
            code == 10 && started.elapsed() < Duration::from_secs(420),
            "rotate exited {codes:?}:\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let out = rotui(&env, &["journal"]);
    assert!(out.status.success());
    let list = text(&out.stdout);
    soft(p, "journal", || assert_inert("journal", &list));
    let id = list
        .split_whitespace()
        .next()
        .expect("a rotation in the journal")
        .to_owned();
    let out = rotui(&env, &["journal", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    soft(p, "journal ID", || {
        assert_inert("journal ID", &shown);
        assert!(
            shown.contains(r"\x1b]52;c;aGFja2Vk"),
            "the journal names the view, escaped"
        );
    });

    // The dashboard at trace level too, long enough for the Cluster pane's
    // pod exec (which prints DATABASE_URL); SIGQUIT then ends it, with the
    // terminal restored and 128 + 3 as the exit code.
    let tmux_env = env.clone();
    let (code, alternate, cursor) = tokio::task::spawn_blocking(move || {
        let t = Tmux::start(
            "rotui-harden-dash",
            &tmux_env,
            &bin(),
            "--app signon --engine mysql",
        );
        t.wait_for("the Cluster pane's pods", Duration::from_secs(60), |s| {
            s.contains("Deployment signon") && s.contains("db user") && s.contains("signon_user_")
        });
        // A few refreshes of the exec check.
        std::thread::sleep(Duration::from_secs(8));
        t.signal("QUIT");
        let s = t.wait_for("the exit code", Duration::from_secs(30), |s| s.contains("exit="));
        (
            exit_code(&s),
            t.format("#{alternate_on}"),
            t.format("#{cursor_flag}"),
        )
    })
    .await
    .unwrap();
    soft(p, "dashboard SIGQUIT", || {
        assert_eq!(code, Some(131), "SIGQUIT exits 128 + 3");
        assert_eq!(alternate, "0", "the alternate screen was left");
        assert_eq!(cursor, "1", "the cursor is visible again");
    });

    // No password in any file rotui wrote, in any form; private modes.
    let secrets = passwords(&world).await;
    assert!(
        secrets.len() >= 3,
        "old, new and admin passwords: {}",
        secrets.len()
    );
    let mut files = files_under(&state);
    files.extend(files_under(&dir.path().join("home")));
    let log = std::fs::read_to_string(state.join("rotui.log")).unwrap();
    assert!(log.contains("TRACE"), "the log is at trace level");
    soft(p, "secrets at rest", || assert_no_secret_in(&files, &secrets));
    soft(p, "file modes", || {
        assert_eq!(mode(&state), 0o700, "the state directory");
        assert_eq!(mode(&state.join("journal")), 0o700, "the journal directory");
        for f in &files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
    });
    world.shutdown().await;
    assert!(
        problems.is_empty(),
        "guarantees that do not hold:\n{}",
        problems.join("\n")
    );
}

/// Each signal that ends the dashboard leaves the terminal as it found it
/// (main screen, cursor shown) and exits with 128 + its number.
#[test]
fn every_signal_restores_the_terminal_and_exits_128_plus_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = HashMap::new();
    env.insert(
        "ROTUI_STATE_DIR".to_owned(),
        dir.path().join("state").to_string_lossy().into_owned(),
    );
    env.insert("HOME".to_owned(), dir.path().to_string_lossy().into_owned());
    env.insert("PATH".to_owned(), std::env::var("PATH").unwrap());
    env.insert(
        "KUBECONFIG".to_owned(),
        dir.path().join("none").to_string_lossy().into_owned(),
    );
    for (name, number) in [("QUIT", 3), ("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let t = Tmux::start(&format!("rotui-sig-{name}"), &env, &bin(), "");
        let start = Instant::now();
        while t.format("#{alternate_on}") != "1" {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the dashboard did not open:\n{}",
                t.capture()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Let it draw, so there is something to restore.
        std::thread::sleep(Duration::from_millis(500));
        t.signal(name);
        let s = t.wait_for("the exit code", Duration::from_secs(20), |s| s.contains("exit="));
        assert_eq!(exit_code(&s), Some(128 + number), "SIG{name}:\n{s}");
        // It says why it ended, as every way out does.
        assert!(
            s.contains(&format!("rotui: ended by SIG{name}")),
            "SIG{name} ended it silently:\n{s}"
        );
        assert_eq!(
            t.format("#{alternate_on}"),
            "0",
            "SIG{name} left the alternate screen on"
        );
        assert_eq!(
            t.format("#{cursor_flag}"),
            "1",
            "SIG{name} left the cursor hidden"
        );
    }
}

#[test]
fn a_password_in_db_url_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<String, String> = [
        ("ROTUI_STATE_DIR", dir.path().join("state")),
        ("HOME", dir.path().to_path_buf()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_string_lossy().into_owned()))
    .collect();
    for args in [
        vec![
            "--db-url",
            "mysql://aws_db_admin:Hunter2Hunter2@127.0.0.1:1/x",
            "inspect",
        ],
        vec![
            "inspect",
            "--db-url=postgresql://u@127.0.0.1:1/x?password=Hunter2Hunter2",
        ],
        vec![
            "plan",
            "--app",
            "signon",
            "--engine",
            "mysql",
            "--env",
            "x",
            "--db-url",
            "mysql://u:Hunter2Hunter2@h/d",
        ],
    ] {
        let out = rotui(&env, &args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("ROTUI_DB_URL") && err.contains("ps"), "{err}");
        assert!(!err.contains("Hunter2Hunter2"), "{err}");
        assert_inert("the refusal", &err);
    }
}

#[test]
fn a_db_url_that_is_not_a_url_is_called_that() {
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<String, String> = [(
        "ROTUI_STATE_DIR".to_owned(),
        dir.path().to_string_lossy().into_owned(),
    )]
    .into();
    let out = rotui(&env, &["inspect", "--db-url", "db.internal:3306"]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is not a URL") && err.contains("mysql://"), "{err}");
    assert!(!err.contains("has no password"), "{err}");
    // Not a terminal: no colour.
    assert!(
        !err.contains('\u{1b}'),
        "colour on a non-terminal stderr: {err:?}"
    );
}

/// An endpoint that answers, but not as AWS (a proxy, a firewall's page):
/// the error says so and what to check, not just "error".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_is_not_aws_is_named_with_what_to_check() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<String, String> = [
        (
            "ROTUI_STATE_DIR",
            dir.path().join("state").to_string_lossy().into_owned(),
        ),
        ("HOME", dir.path().to_string_lossy().into_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_REGION", "eu-west-1".to_owned()),
        ("AWS_ENDPOINT_URL", format!("http://{addr}")),
        (
            "KUBECONFIG",
            dir.path().join("none").to_string_lossy().into_owned(),
        ),
        ("NO_COLOR", "1".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let out = tokio::task::spawn_blocking(move || {
        rotui(
            &env,
            &["plan", "--env", "sandbox", "--app", "signon", "--engine", "mysql"],
        )
    })
    .await
    .unwrap();
    server.abort();
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("HTTP 404") && err.contains("AWS_ENDPOINT_URL"),
        "{err}"
    );
    assert!(!err.contains(": error"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// On a terminal the error report is coloured, unless NO_COLOR is set.
#[test]
fn error_colour_only_on_a_terminal_and_never_with_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = HashMap::new();
    env.insert(
        "ROTUI_STATE_DIR".to_owned(),
        dir.path().join("state").to_string_lossy().into_owned(),
    );
    env.insert("HOME".to_owned(), dir.path().to_string_lossy().into_owned());
    env.insert("PATH".to_owned(), std::env::var("PATH").unwrap());
    let mut coloured = Vec::new();
    for no_color in [None, Some("1")] {
        let mut env = env.clone();
        if let Some(v) = no_color {
            env.insert("NO_COLOR".to_owned(), v.to_owned());
        }
        // A tmux server per run: the first one's kill-server may not have
        // finished when the second starts ("server exited unexpectedly").
        let name = format!("rotui-colour-{}", no_color.is_some());
        let t = Tmux::start(&name, &env, &bin(), "inspect --db-url notaurl");
        t.wait_for("the exit code", Duration::from_secs(20), |s| s.contains("exit="));
        let screen = t.capture_with(&["-e"]);
        assert!(screen.contains("is not a URL"), "{screen}");
        coloured.push(screen.contains('\u{1b}'));
    }
    assert_eq!(
        coloured,
        [true, false],
        "colour on a terminal, none with NO_COLOR"
    );
}
