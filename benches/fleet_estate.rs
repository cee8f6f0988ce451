//! `rotui fleet --env production,staging --json`, the real binary, on the
//! sandbox estate grown to 40 apps (the four it models and 36 more, half
//! MySQL, half PostgreSQL, each with its user on its server, its secret,
//! ExternalSecret and Secret, and a CronJob reading it) in both of its
//! accounts: 80 rows, each environment read with its own session and
//! context, its account checked first, every AWSCURRENT logged in. Wall
//! time per run (target ≤ 2 s, process start included) and the calls per
//! system from the document.
//!
//! `cargo bench --profile dev --bench fleet_estate -- --bench` runs it;
//! without `--bench` it only says so.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rotui_sandbox::estate::{AppSpec, ConsumerKind, ConsumerSpec, EngineKind, Estate, EstateSpec};

const MORE_APPS: usize = 36;
const RUNS: usize = 7;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("fleet_estate bench: skipped without --bench");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench());
}

async fn bench() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut spec = EstateSpec::load(&EstateSpec::default_path()).expect("the default estate");
    for i in 0..MORE_APPS {
        let (engine, suffix) = if i % 2 == 0 {
            (EngineKind::Mysql, "mysql")
        } else {
            (EngineKind::Postgres, "postgres")
        };
        let app = format!("app-{i:02}");
        spec.apps.insert(
            app.clone(),
            AppSpec {
                engine,
                database: format!("{}_production", app.replace('-', "_")),
                username: app.clone(),
                app_secret: format!("govuk/{app}/{suffix}"),
                secret: format!("{app}-{suffix}"),
                secret_key: "DATABASE_URL".into(),
                admin_key: app.clone(),
                seed: None,
                copied_by_restore: true,
                consumers: vec![ConsumerSpec {
                    kind: ConsumerKind::CronJob,
                    name: format!("{app}-nightly"),
                    container: "cron-task".into(),
                    containers: Vec::new(),
                    env: Some("DATABASE_URL".into()),
                    env_from: false,
                    replicas: 1,
                    schedule: Some("0 3 * * *".into()),
                }],
            },
        );
    }
    let apps = spec.apps.len();
    let started = Instant::now();
    let estate = Estate::start(&dir.path().join("estate"), &spec)
        .await
        .expect("the estate starts");
    println!(
        "estate of {apps} apps in {} environments ready in {:.1} s",
        spec.environments.len(),
        started.elapsed().as_secs_f64()
    );
    let exports = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("estate/estate.env")).expect("estate.env"),
    );
    let envs = spec.environments.keys().cloned().collect::<Vec<_>>().join(",");
    let mut walls = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let (code, doc) = fleet(dir.path(), &exports, &envs).await;
        walls.push(t.elapsed());
        last = Some((code, doc));
    }
    let (code, doc) = last.expect("ran");
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), apps * spec.environments.len(), "{doc:#}");
    assert_eq!(doc["errors"], serde_json::json!([]), "{doc:#}");
    assert_eq!(code, Some(0), "nothing due, nothing half-rotated: {doc:#}");
    assert!(
        rows.iter()
            .all(|r| r["login"]["state"] == "ok" && r["external_secrets"][0]["matches"]["state"] == "yes"),
        "every AWSCURRENT logs in and every Secret matches: {doc:#}"
    );
    walls.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "rotui fleet --env {envs} --json: {} rows, wall median {:.0} ms, max {:.0} ms over {RUNS} runs \
         (target ≤ 2000 ms); calls per run: Secrets Manager {}, Kubernetes {}, database logins {}; \
         at most {} in flight per system and environment",
        rows.len(),
        ms(walls[RUNS / 2]),
        ms(walls[RUNS - 1]),
        doc["calls"]["secrets_manager"],
        doc["calls"]["kubernetes"],
        doc["calls"]["databases"],
        rotui::fleet::CONCURRENCY,
    );
    estate.shutdown().await;
}

async fn fleet(
    dir: &Path,
    exports: &HashMap<String, String>,
    envs: &str,
) -> (Option<i32>, serde_json::Value) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rotui"))
        .args(["fleet", "--env", envs, "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("ROTUI_STATE_DIR", dir.join("state"))
        .envs(exports)
        .output()
        .await
        .expect("rotui runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc)
}
