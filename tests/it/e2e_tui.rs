//! The real binary in tmux, against the sandbox: a whole MySQL rotation by
//! keypresses, read off the captured screens — the old user's connections
//! falling to 0 live among them — with no password on any screen, and the
//! Steps pane agreeing with `rotui plan` at the start and mid-rotation.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::tmux::Tmux;
use regex::Regex;
use rotui_sandbox::world::World;

/// (number, status word, title) of each row of the Steps pane.
pub(crate) fn steps(screen: &str) -> Vec<(usize, String, String)> {
    let re =
        Regex::new(r"^│\s*(\d+) \S+ (done|pending|blocked|running|failed|waiting|skipped)\s+!?(.+?)\s*│")
            .unwrap();
    screen
        .lines()
        .filter_map(|l| re.captures(l))
        .map(|c| (c[1].parse().unwrap(), c[2].to_owned(), c[3].to_owned()))
        .collect()
}

/// Whether the screen says the rotation finished (the notice, or the Steps
/// pane's last line once it shows the next rotation's plan).
fn finished(screen: &str) -> bool {
    Regex::new(r"rotation \d{8}-\d{6}-\w+ (of \S+ )?finished")
        .unwrap()
        .is_match(screen)
}

/// "Steps 12/13 done": (done, total).
fn progress(screen: &str) -> Option<(usize, usize)> {
    let re = Regex::new(r"Steps (\d+)/(\d+) done").unwrap();
    re.captures(screen)
        .map(|c| (c[1].parse().unwrap(), c[2].parse().unwrap()))
}

/// The drain history's latest count for `app` while it is the old user
/// (once the rotation is done, the next one's "old" is the new user).
fn old_user_count(screen: &str, app: &str) -> Option<i64> {
    let re = Regex::new(&format!(r"old {} +(\d+)", regex::escape(app))).unwrap();
    re.captures(screen).map(|c| c[1].parse().unwrap())
}

/// `rotui plan` with the dashboard's environment: the new user, each
/// step's state word in order, and how many are done.
fn plan(env: &HashMap<String, String>, app: &str, engine: &str) -> (String, Vec<String>, usize) {
    let out = Command::new(env!("CARGO_BIN_EXE_rotui"))
        .args(["plan", "--app", app, "--engine", engine])
        .env_clear()
        .envs(env)
        .output()
        .expect("rotui plan runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_user = Regex::new(r"new user: (\S+)")
        .unwrap()
        .captures(&text)
        .expect(&text)[1]
        .to_owned();
    let states = Regex::new(r"(?m)^ +now: (done|to do|blocked|waiting|unknown): ")
        .unwrap()
        .captures_iter(&text)
        .map(|c| c[1].to_owned())
        .collect();
    let done = Regex::new(r"(\d+)/\d+ done")
        .unwrap()
        .captures(&text)
        .expect(&text)[1]
        .parse()
        .unwrap();
    (new_user, states, done)
}

/// Whether the Steps pane on `screen` says what `rotui plan` says: the same
/// new user, the same count done, and each visible row in the same state
/// (the pane marks a step that cannot run yet, for whatever reason, blocked).
fn agrees(screen: &str, (new_user, states, done): &(String, Vec<String>, usize)) -> bool {
    let rows = steps(screen);
    !rows.is_empty()
        && screen.contains(&format!("→ {new_user}"))
        && progress(screen) == Some((*done, states.len()))
        && rows.iter().all(|(n, status, _)| {
            matches!(
                (status.as_str(), states.get(n - 1).map(String::as_str)),
                ("done", Some("done"))
                    | ("pending", Some("to do"))
                    | ("blocked", Some("blocked" | "waiting" | "unknown"))
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_mysql_rotation_by_keypresses() {
    whole_rotation_by_keypresses("signon", "mysql", 2).await;
}

/// The PostgreSQL app starts with its tables owned by the login user, so its
/// rotation also converts it to an owner role (on PostgreSQL 17).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_postgres_rotation_by_keypresses() {
    whole_rotation_by_keypresses("account-api", "postgres", 1).await;
}

/// `rotui ARGS` with the dashboard's environment: exit code and stdout.
fn rotui(env: &HashMap<String, String>, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rotui"))
        .args(args)
        .env_clear()
        .envs(env)
        .output()
        .expect("rotui runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), text + &String::from_utf8_lossy(&out.stderr))
}

/// After the dashboard dropped the old user, the rotation is over as a
/// headless `rotui rotate` ends one: the journal says finished, the rotation
/// mark is gone from the app secret, `rotui plan` resumes nothing and says
/// the rotation finished, and `rotui fleet --json` shows no rotation under way.
async fn finished_everywhere(env: &HashMap<String, String>, world: &World, app: &str, engine: &str) {
    let (code, journal) = rotui(env, &["journal"]);
    assert_eq!(code, Some(0), "{journal}");
    let line = journal
        .lines()
        .find(|l| l.contains(app))
        .unwrap_or_else(|| panic!("the rotation is journalled:\n{journal}"));
    assert!(line.trim_end().ends_with("finished"), "rotui journal: {line}");
    let id = line.split_whitespace().next().unwrap().to_owned();

    let session = rotui::aws::AwsSession::with_credentials(
        &rotui::aws::AwsOptions {
            endpoint_url: Some(world.info().aws_endpoint_url.clone()),
            region: Some("eu-west-1".into()),
            ..Default::default()
        },
        &rotui::aws::StaticCredentials::new("testing", "testing"),
    )
    .await
    .unwrap();
    let secret = format!("govuk/{app}/{engine}");
    let port = rotui::rotation::adapters::AwsSecrets::new(session, &secret);
    use rotui::rotation::ports::SecretsPort;
    assert_eq!(
        port.rotation_mark().await.unwrap(),
        None,
        "the rotation mark is cleared"
    );

    let (code, plan) = rotui(env, &["plan", "--app", app, "--engine", engine]);
    assert_eq!(code, Some(0), "{plan}");
    assert!(
        !plan.contains("resuming rotation") && !plan.contains("held by"),
        "rotui plan resumes nothing:\n{plan}"
    );
    assert!(
        plan.contains(&format!("rotation {id} finished")),
        "rotui plan says the rotation finished:\n{plan}"
    );

    let (code, fleet) = rotui(env, &["fleet", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&fleet).unwrap_or_else(|e| panic!("{e}: {fleet}"));
    let row = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["app"] == app)
        .unwrap_or_else(|| panic!("no row for {app}: {doc:#}"));
    assert!(row["rotation"].is_null(), "no rotation under way: {row:#}");
    assert_eq!(
        code,
        Some(0),
        "fleet --json: nothing due, nothing half-rotated: {doc:#}"
    );
}

/// Where the screens of a failed drive are written.
fn captures_path(engine: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-captures-{engine}.txt"))
}

/// Writes every screen seen to [`captures_path`] if the drive panics, for
/// whoever has to find out why.
struct ScreensOnPanic<'a>(&'a Tmux, &'a str);

impl Drop for ScreensOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = std::fs::write(captures_path(self.1), self.0.captures().join("\n=====\n"));
        }
    }
}

/// Drive a whole rotation of `app` by keys; `done_at_start` steps (the
/// read-only inspections) are done before any is run.
async fn whole_rotation_by_keypresses(app: &'static str, engine: &'static str, done_at_start: usize) {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let mut env = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("sandbox.env")).unwrap(),
    );
    env.insert(
        "ROTUI_STATE_DIR".into(),
        dir.path().join("state").to_string_lossy().into_owned(),
    );
    env.insert("HOME".into(), dir.path().to_string_lossy().into_owned());
    env.insert("PATH".into(), std::env::var("PATH").unwrap());
    env.insert("ROTUI_LOG".into(), "trace".into());
    let cli_env = env.clone();

    let tmux = tokio::task::spawn_blocking(move || {
        let t = Tmux::start(
            &format!("rotui-e2e-{engine}"),
            &env,
            env!("CARGO_BIN_EXE_rotui"),
            &format!("--app {app} --engine {engine}"),
        );
        let _keep = ScreensOnPanic(&t, engine);
        t.wait_for("the step list", Duration::from_secs(30), |s| steps(s).len() >= 10);
        // `rotui plan` and the dashboard agree at the start: nothing but the
        // read-only inspections is done, whatever the cluster shows.
        let start = plan(&env, app, engine);
        assert_eq!(start.2, done_at_start, "done at the start: {start:?}");
        t.wait_for(
            "the Steps pane to agree with rotui plan",
            Duration::from_secs(30),
            |s| agrees(s, &start),
        );
        let mut compared_after_promotion = false;
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            if Instant::now() >= deadline {
                panic!(
                    "the rotation did not finish; last screen:\n{}",
                    t.captures().last().map(String::as_str).unwrap_or("")
                );
            }
            let screen = t.capture();
            if finished(&screen) {
                break;
            }
            let rows = steps(&screen);
            assert!(
                rows.iter().all(|(_, status, _)| status != "failed"),
                "a step failed:\n{screen}"
            );
            let (done, total) = progress(&screen).expect("the Steps pane says how many are done");
            if done == total {
                // The last step is done: the run is ending the rotation (or,
                // as before, never does, and the deadline says so).
                std::thread::sleep(Duration::from_millis(300));
                continue;
            }
            let Some((n, status, title)) = rows.iter().find(|(_, s, _)| s != "done").cloned() else {
                // The steps left are below the fold: scroll to them.
                t.keys(&["G"]);
                std::thread::sleep(Duration::from_millis(300));
                continue;
            };
            if status == "running" || status == "waiting" || status == "blocked" {
                std::thread::sleep(Duration::from_millis(300));
                continue;
            }
            if title.starts_with("Force-sync") && !compared_after_promotion {
                // Mid-rotation (promoted, not yet synced): they agree again.
                let mid = plan(&env, app, engine);
                t.wait_for(
                    "the Steps pane to agree with rotui plan mid-rotation",
                    Duration::from_secs(30),
                    |s| agrees(s, &mid),
                );
                assert_eq!(mid.1[n - 1], "to do", "{mid:?}");
                compared_after_promotion = true;
            }
            // Aim at step n, open its preview, run it, answer any confirmation.
            t.keys(&["g"]);
            for _ in 1..n {
                t.keys(&["j"]);
            }
            t.keys(&["Enter"]);
            let s = t.wait_for("the preview", Duration::from_secs(5), |s| s.contains("Preview:"));
            assert!(
                s.contains(&title[..title.len().min(20)]),
                "preview of {title}:\n{s}"
            );
            if title.starts_with("Promote") {
                // The blast radius before the switch: who restarts.
                assert!(
                    s.contains("who the switch touches")
                        && s.contains(&format!("restarts: deployment/{app}")),
                    "the promote preview lists the workloads restarting:\n{s}"
                );
            }
            t.read_preview();
            t.run_previewed(app);
            t.wait_for(
                &format!("step {n} ({title}) to finish"),
                Duration::from_secs(120),
                |s| {
                    finished(s)
                        || steps(s)
                            .iter()
                            .any(|(m, st, _)| *m == n && (st == "done" || st == "failed" || st == "waiting"))
                },
            );
        }
        assert!(compared_after_promotion, "the comparison after the promotion ran");
        // The run that dropped the old user ended the rotation, and the
        // screen says so in words.
        t.wait_for("the rotation to be finished", Duration::from_secs(30), finished);
        // The report key writes the finished rotation's report.
        t.keys(&["W"]);
        t.wait_for("the report written", Duration::from_secs(20), |s| {
            s.contains("report of rotation")
        });
        t.capture();
        t.captures()
    })
    .await
    .unwrap_or_else(|e| {
        // Its first line again, last: what a log cut to its head and tail keeps.
        let payload = e.into_panic();
        let said = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        panic!(
            "driving the dashboard failed: {} (every screen: {})",
            said.lines().next().unwrap_or_default(),
            captures_path(engine).display()
        )
    });
    let captures = tmux;
    finished_everywhere(&cli_env, &world, app, engine).await;
    // Every screen seen, in order: the old user's count as the drain went.
    let drain_counts: Vec<i64> = captures.iter().filter_map(|s| old_user_count(s, app)).collect();

    // The old user's connections were seen live, then seen falling to 0.
    assert!(
        drain_counts.iter().any(|n| *n > 0),
        "old user's connections seen: {drain_counts:?}"
    );
    assert_eq!(
        drain_counts.last(),
        Some(&0),
        "drained to 0: {drain_counts:?}; last screen:\n{}",
        captures.last().map(String::as_str).unwrap_or_default()
    );

    // No password ever appeared on screen: the old, the new and the admin's.
    let sm = aws_sdk_secretsmanager::Client::new(
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
    );
    let mut secrets = Vec::new();
    for stage in ["AWSCURRENT", "AWSPREVIOUS"] {
        let v = sm
            .get_secret_value()
            .secret_id(format!("govuk/{app}/{engine}"))
            .version_stage(stage)
            .send()
            .await
            .unwrap();
        let doc: serde_json::Value = serde_json::from_str(v.secret_string().unwrap()).unwrap();
        secrets.push(doc["password"].as_str().unwrap().to_owned());
        if stage == "AWSCURRENT" {
            assert!(
                doc["username"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{app}{}user", if engine == "mysql" { "_" } else { "-" })),
                "the secret names the new user"
            );
        }
    }
    let admin = sm
        .get_secret_value()
        .secret_id("sandbox-rds-admin-passwords")
        .send()
        .await
        .unwrap();
    let admin: serde_json::Value = serde_json::from_str(admin.secret_string().unwrap()).unwrap();
    secrets.extend(
        admin
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_str().unwrap().to_owned()),
    );
    for screen in &captures {
        for s in &secrets {
            assert!(!screen.contains(s.as_str()), "a password reached the screen");
        }
    }
    check_report(&cli_env, &dir.path().join("state"), app, &secrets);
    // The dashboard ran at ROTUI_LOG=trace through the whole rotation: no
    // file it wrote (log, journal, backups) holds a password, in plain text
    // or hex, and none is readable by others.
    use std::os::unix::fs::PermissionsExt;
    let state = dir.path().join("state");
    let mut files = 0;
    let mut pending = vec![state.clone()];
    while let Some(d) = pending.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", d.display());
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            files += 1;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{} is {mode:o}", path.display());
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            for s in &secrets {
                let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                assert!(
                    !text.contains(s.as_str()) && !text.to_lowercase().contains(&hex),
                    "a password is in {}",
                    path.display()
                );
            }
        }
    }
    let log = std::fs::read_to_string(state.join("rotui.log")).unwrap();
    assert!(log.contains("TRACE"), "the log is at trace level");
    assert!(files >= 2, "the log and the journal were written");
    world.shutdown().await;
}

/// The report the dashboard wrote (`W`, under the state dir) and the one
/// `rotui report` writes of the same rotation: every step with its timing,
/// the app's restart, the drain of the old user, and no password in either.
fn check_report(env: &HashMap<String, String>, state: &std::path::Path, app: &str, secrets: &[String]) {
    use std::os::unix::fs::PermissionsExt;
    let mut written: Vec<std::path::PathBuf> = std::fs::read_dir(state.join("reports"))
        .expect("the dashboard wrote its report under the state dir")
        .map(|e| e.unwrap().path())
        .collect();
    written.sort();
    assert_eq!(written.len(), 2, "{written:?}");
    let id = written[0]
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("rotui-report-")
        .to_owned();
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_rotui"))
        .args(["report", &id[..id.len() - 2], "--out"])
        .arg(out.path())
        .env_clear()
        .envs(env)
        .output()
        .expect("rotui report runs");
    let said = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let md_path = out.path().join(format!("rotui-report-{id}.md"));
    let json_path = out.path().join(format!("rotui-report-{id}.json"));
    assert!(said.contains(&*md_path.to_string_lossy()), "{said}");
    let mut texts = vec![];
    for p in [&md_path, &json_path, &written[0], &written[1]] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", p.display());
        texts.push(std::fs::read_to_string(p).unwrap());
    }
    for (text, s) in texts.iter().flat_map(|t| secrets.iter().map(move |s| (t, s))) {
        assert!(!text.contains(s.as_str()), "a password is in a report");
    }
    let (md, json) = (&texts[0], &texts[1]);
    let rep: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(rep["rotation"], id.as_str());
    assert!(
        !rep["operators"][0]["os_user"].as_str().unwrap().is_empty(),
        "{json}"
    );
    assert!(rep["operators"][0]["host"].is_string(), "{json}");
    // Every step of the plan, each with its start, end and duration.
    let steps = rep["steps"].as_array().unwrap();
    assert!(steps.len() >= 10, "{json}");
    for s in steps {
        assert!(
            matches!(s["outcome"].as_str(), Some("done" | "already done")),
            "{s}"
        );
        assert!(s["started"].is_string() && s["ended"].is_string(), "{s}");
        assert!(s["duration_s"].as_f64().unwrap() >= 0.0, "{s}");
    }
    let run_step = |slug: &str| {
        steps
            .iter()
            .find(|s| s["step"].as_str().unwrap().ends_with(&format!("/{slug}")))
            .unwrap_or_else(|| panic!("no {slug} in {json}"))
    };
    assert!(
        !run_step("create-user")["changes"].as_array().unwrap().is_empty(),
        "{json}"
    );
    assert_eq!(run_step("drain")["rollback_available"], true, "{json}");
    assert_eq!(run_step("drop-old-user")["rollback_available"], false, "{json}");
    // The app's Deployment restarted, and how long after the sync it was ready.
    let env0 = &rep["environments"][0];
    let restarts = env0["restarts"].as_array().unwrap();
    assert!(
        restarts
            .iter()
            .any(|w| w["workload"] == format!("deployment/{app}") && w["ready_after_s"].as_f64().is_some()),
        "{json}"
    );
    // The drain, sample by sample: the old user's connections falling to 0.
    let drain = env0["drain"].as_array().unwrap();
    eprintln!("drain of the old user in the report: {drain:?}");
    let counts: Vec<i64> = drain.iter().map(|d| d["connections"].as_i64().unwrap()).collect();
    assert!(
        counts.first().is_some_and(|n| *n >= 2),
        "the pods' connections before the sync: {json}"
    );
    assert_eq!(counts.last(), Some(&0), "{json}");
    // Each connection counted against the pod its client address names
    // (`signon-… (deployment/signon)`, or `one of N pods` when they share one).
    let by_pod = drain[0]["by_pod"].as_object().unwrap();
    assert_eq!(
        by_pod.values().map(|n| n.as_i64().unwrap()).sum::<i64>(),
        counts[0],
        "{json}"
    );
    // Failed logins since the switch: none where the engine counts them
    // per user (MySQL), and where it cannot (PostgreSQL) why, never a 0.
    let logins = &env0["failed_logins"];
    eprintln!("failed logins in the report: {logins}");
    if app == "signon" {
        let counted = logins["counted"].as_object().unwrap_or_else(|| panic!("{json}"));
        assert_eq!(counted.len(), 2, "the old and the new user: {json}");
        assert!(counted.values().all(|n| n == 0), "{json}");
    } else {
        assert!(logins["not_observable"].is_string(), "{json}");
        assert!(md.contains("Not observable: PostgreSQL"), "{md}");
    }
    for heading in [
        "## Who ran it",
        "## Steps",
        "### Workloads restarted",
        "### Drain of the old user",
        "### Failed logins since the switch",
    ] {
        assert!(md.contains(heading), "{md}");
    }
    assert!(md.contains(&format!("deployment/{app}")), "{md}");
}
