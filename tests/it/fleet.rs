//! `rotui fleet` on the classic sandbox (signon on MySQL, account-api on
//! PostgreSQL): every app with its age, due by policy, a half-finished
//! rotation with its holder, `--json` and the exit code agreeing, a failing
//! cluster marking its column, the table rendered, and Enter's target.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui::fleet::view::{FleetEffect, FleetView};
use rotui::rotation::mark::RotationMark;
use rotui::rotation::ports::SecretsPort;
use rotui::rotation::{Mode, PlanSpec, Rotation};
use rotui::secret::SecretString;
use rotui::target::{Engine, Target};
use rotui_sandbox::world::World;
use serde_json::Value;

use crate::support::assert_no_secret;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_shows_every_app_its_age_what_is_due_and_who_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let env = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("sandbox.env")).unwrap(),
    );
    let fleet = |config: Option<&Path>, extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rotui"));
        cmd.args(["fleet", "--json"])
            .args(extra)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", dir.path())
            .env("ROTUI_STATE_DIR", dir.path().join("state"))
            .envs(&env);
        if let Some(c) = config {
            cmd.env("ROTUI_CONFIG", c);
        }
        let out = cmd.output().expect("rotui runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let doc: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), doc, stdout)
    };
    let row = |doc: &Value, app: &str| -> Value {
        doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["app"] == app)
            .unwrap_or_else(|| panic!("no row for {app}: {doc}"))
            .clone()
    };

    let session = AwsSession::with_credentials(
        &AwsOptions {
            endpoint_url: Some(world.info().aws_endpoint_url.clone()),
            region: Some(world.info().aws_region.clone()),
            ..AwsOptions::default()
        },
        &StaticCredentials::new("testing", "testing"),
    )
    .await
    .unwrap();
    let sm = session.secrets();
    let passwords: Vec<SecretString> = {
        let mut p = Vec::new();
        for s in ["govuk/signon/mysql", "govuk/account-api/postgres"] {
            p.push(sm.app_secret(s).await.unwrap().password);
        }
        p
    };

    // Every app, fresh credentials: nothing due, exit 0, synced and matching.
    let (code, doc, stdout) = fleet(None, &[]);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["env"], "sandbox");
    assert_eq!(doc["rows"].as_array().unwrap().len(), 2, "{doc:#}");
    for (app, engine, secret) in [
        ("signon", "mysql", "govuk/signon/mysql"),
        ("account-api", "postgres", "govuk/account-api/postgres"),
    ] {
        let r = row(&doc, app);
        assert_eq!(r["engine"], engine);
        assert_eq!(r["secret"], secret);
        assert_eq!(r["username"], app);
        assert_eq!(r["age_days"], 0, "created just now: {r:#}");
        assert!(r["current_since"].is_string(), "{r:#}");
        assert_eq!(r["due"], false);
        assert_eq!(r["max_age_days"], 90);
        assert!(r["rotation"].is_null());
        let es = &r["external_secrets"][0];
        assert_eq!(es["name"], format!("{app}-{engine}"));
        assert_eq!(es["ready"], true, "{r:#}");
        assert_eq!(es["matches"]["state"], "yes", "{r:#}");
        // Its readers, and AWSCURRENT logged in to its server, whose
        // version is read there.
        assert_eq!(
            es["consumers"],
            serde_json::json!([format!("deployment/{app}")]),
            "{r:#}"
        );
        assert_eq!(es["paused"], serde_json::json!([]), "{r:#}");
        assert_eq!(r["login"]["state"], "ok", "{r:#}");
        let version = r["login"]["detail"]["version"].as_str().unwrap();
        assert!(version.starts_with(|c: char| c.is_ascii_digit()), "{r:#}");
    }
    // One listing page, then AWSCURRENT and its versions per app; one
    // ExternalSecret list, one Secret per app and one list per workload
    // kind; one login per app.
    assert_eq!(doc["calls"]["secrets_manager"], 5, "{doc:#}");
    assert_eq!(doc["calls"]["kubernetes"], 8, "{doc:#}");
    assert_eq!(doc["calls"]["databases"], 2, "{doc:#}");
    let refs: Vec<&SecretString> = passwords.iter().collect();
    assert_no_secret(&stdout, &refs);

    // Policy 0 days for this environment: both due, exit 3, and the
    // document says so.
    let config = dir.path().join("fleet.toml");
    std::fs::write(
        &config,
        "[fleet]\nmax_age_days = 90\n[fleet.environments.sandbox]\nmax_age_days = 0\n",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, doc, _) = fleet(Some(&config), &[]);
    assert_eq!(code, Some(3), "{doc:#}");
    for app in ["signon", "account-api"] {
        let r = row(&doc, app);
        assert_eq!(
            (r["due"].clone(), r["max_age_days"].clone()),
            (Value::from(true), Value::from(0))
        );
    }

    // A half-finished rotation of account-api, left as rotui leaves one: a
    // pending version and the rotation mark naming its holder.
    let target = Target::new("sandbox", "account-api", Engine::Postgres);
    let port = rotui::rotation::adapters::AwsSecrets::new(session.clone(), &target.app_secret);
    let rotation = Rotation {
        id: "20261203-104500-f1ee70".into(),
        spec: PlanSpec {
            app: target.app.clone(),
            engine: Engine::Postgres,
            envs: vec!["sandbox".into()],
            mode: Mode::Normal,
            restores: rotui::rotation::plan::default_restores(),
        },
        old_users: [("sandbox".into(), "account-api".to_string())].into(),
        new_username: "account-api-user-20261203".into(),
    };
    let new_password = rotui::secret::generate_password();
    port.put_pending(&rotation.id, &rotation.new_username, &new_password)
        .await
        .unwrap();
    let mark = RotationMark::new(
        &rotation,
        "alice@laptop",
        "arn:aws:sts::123456789012:assumed-role/fulladmin/alice",
        chrono::Utc::now(),
    );
    port.set_rotation_mark(&mark).await.unwrap();
    let (code, doc, stdout) = fleet(None, &[]);
    assert_eq!(code, Some(3), "half-rotated alerts: {doc:#}");
    let r = row(&doc, "account-api");
    assert_eq!(r["due"], false);
    assert_eq!(r["rotation"]["pending"], true, "{r:#}");
    assert_eq!(r["rotation"]["holder"], "alice@laptop");
    assert_eq!(r["rotation"]["rotation_id"], rotation.id.as_str());
    assert!(
        r["rotation"]["phase"]
            .as_str()
            .unwrap()
            .contains("account-api-user-20261203 pending"),
        "{r:#}"
    );
    // The app still uses AWSCURRENT, which its Secret holds.
    assert_eq!(r["external_secrets"][0]["matches"]["state"], "yes");
    assert!(row(&doc, "signon")["rotation"].is_null());
    assert_no_secret(&stdout, &[&passwords[0], &passwords[1], &new_password]);

    // The same through the library, drawn: the holder is on screen.
    let k8s = rotui::k8s::K8s::connect(&rotui::k8s::KubeOptions {
        kubeconfig: Some(world.info().kubeconfig.clone()),
        context: None,
        namespace: Some("apps".into()),
        exec_env: None,
    })
    .await
    .unwrap();
    let report = rotui::fleet::load(
        "sandbox",
        Ok(sm.clone()),
        Ok(k8s),
        90,
        Some(rotui::fleet::LOGIN_LIMIT),
        chrono::Utc::now(),
    )
    .await;
    assert_eq!(report.exit_code(), 3);
    let mut view = FleetView::new(
        "sandbox",
        rotui::app::Keymap::default(),
        rotui::app::state::ThemeName::Mono,
        chrono::Utc::now(),
    );
    view.loaded(report);
    let text = rotui::fleet::render::render_to_text(&view, 170, 8);
    let line = text.lines().find(|l| l.contains("account-api")).unwrap();
    assert!(line.contains("alice@laptop since 0m"), "{text}");
    assert!(line.contains("postgres") && line.contains("0d"), "{text}");
    assert_no_secret(&text, &[&passwords[0], &passwords[1], &new_password]);

    // Enter on the half-rotated app (listed first) opens the dashboard on
    // exactly the names the sandbox uses.
    let Some(FleetEffect::Open(chosen)) = view.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)) else {
        panic!("Enter opens the selected app")
    };
    let args = rotui::cmd::fleet::dashboard_args(&Default::default(), &chosen);
    let mut opened = Target::from_args(&args).unwrap();
    // The names are given as flags (the fleet found them); compare the names.
    opened.sources = Default::default();
    assert_eq!(opened, target);

    // Rolled back (no pending, no mark): a cluster that cannot be reached
    // fails its columns, not the view, and the exit code says so.
    port.restore_previous("account-api").await.unwrap();
    port.clear_rotation_mark(&rotation.id).await.unwrap();
    let (code, doc, _) = fleet(None, &["--context", "no-such-context"]);
    assert_eq!(code, Some(1), "{doc:#}");
    let r = row(&doc, "account-api");
    assert!(r["rotation"].is_null(), "{r:#}");
    assert!(
        r["cluster_error"].as_str().unwrap().contains("no-such-context"),
        "{r:#}"
    );
    assert_eq!(r["username"], "account-api");
    assert_eq!(doc["errors"][0]["system"], "kubernetes", "{doc:#}");

    // AWSCURRENT edited by hand to a password the server does not know:
    // the login says so, never the value.
    let wrong = "Wr0ngButLongEnoughForTheRedactor";
    aws_sdk_secretsmanager::Client::new(session.sdk_config())
        .put_secret_value()
        .secret_id("govuk/signon/mysql")
        .secret_string(
            serde_json::json!({
                "username": "signon",
                "password": wrong,
                "host": sm.app_secret("govuk/signon/mysql").await.unwrap().host,
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let (_, doc, stdout) = fleet(None, &[]);
    let r = row(&doc, "signon");
    assert_eq!(r["login"]["state"], "refused", "{r:#}");
    assert_eq!(row(&doc, "account-api")["login"]["state"], "ok", "{doc:#}");
    assert_no_secret(
        &stdout,
        &[&rotui::secret::secret(wrong), &passwords[0], &passwords[1]],
    );

    // account-api's Deployment paused (as a `--stagger` run that stopped
    // leaves it): its row names it, signon's does not.
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(world.client().clone(), "apps");
    deployments
        .patch(
            "account-api",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({ "spec": { "paused": true } })),
        )
        .await
        .unwrap();
    let (_, doc, _) = fleet(None, &[]);
    assert_eq!(
        row(&doc, "account-api")["external_secrets"][0]["paused"],
        serde_json::json!(["deployment/account-api"]),
        "{doc:#}"
    );
    assert_eq!(
        row(&doc, "signon")["external_secrets"][0]["paused"],
        serde_json::json!([]),
        "{doc:#}"
    );
    world.shutdown().await;
}

/// The full screen, by keys in tmux: the table comes up with each server's
/// version, `?` explains it, `/` narrows it, Enter opens the dashboard on
/// that app, `q` there comes back to the fleet, and `q` quits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enter_on_a_fleet_row_opens_the_dashboard_on_that_app() {
    use std::time::Duration;

    use crate::tmux::{Tmux, exit_code};
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
    tokio::task::spawn_blocking(move || {
        let t = Tmux::start("rotui-fleet", &env, env!("CARGO_BIN_EXE_rotui"), "fleet");
        let screen = t.wait_for("the fleet table", Duration::from_secs(30), |s| {
            s.contains("2 apps") && s.contains("account-api") && s.contains("signon")
        });
        assert!(screen.contains("rotui fleet · sandbox"), "{screen}");
        // Each server's version, read with the app's own credentials.
        let versions =
            regex::Regex::new(r"(?s)mysql \d+\.\d+.*postgres \d+\.\d+|postgres \d+\.\d+.*mysql \d+\.\d+")
                .unwrap();
        t.wait_for("the versions", Duration::from_secs(10), |s| versions.is_match(s));
        // `?` shows the fleet's keys and what the columns mean; `?` or Esc
        // closes it, as the dashboard's does, and other keys leave it open.
        t.keys(&["?"]);
        t.wait_for("the help", Duration::from_secs(10), |s| {
            s.contains("sort by the next column") && s.contains("readers  workloads")
        });
        t.keys(&["j"]);
        std::thread::sleep(Duration::from_millis(500));
        assert!(t.capture().contains("Fleet help"), "j closed the help");
        t.keys(&["Escape"]);
        t.wait_for("the help to close", Duration::from_secs(10), |s| {
            !s.contains("Fleet help")
        });
        t.keys(&["/"]);
        t.keys(&["a", "c", "c", "o", "u", "n", "t"]);
        t.wait_for("the filter", Duration::from_secs(10), |s| {
            s.contains("apps (1 of 2)")
        });
        t.keys(&["Enter", "Enter"]);
        t.wait_for("the dashboard on account-api", Duration::from_secs(30), |s| {
            s.contains("sandbox/account-api/postgres")
        });
        // `q` in the dashboard comes back to the fleet; `q` there quits.
        t.keys(&["q"]);
        t.wait_for("the fleet again", Duration::from_secs(30), |s| {
            s.contains("rotui fleet · sandbox") && s.contains("signon")
        });
        let back = t.capture();
        assert_eq!(exit_code(&back), None, "rotui ended instead: {back}");
        t.keys(&["q"]);
        let end = t.wait_for("rotui to exit", Duration::from_secs(20), |s| {
            exit_code(s).is_some()
        });
        assert_eq!(exit_code(&end), Some(0), "{end}");
    })
    .await
    .unwrap();
    world.shutdown().await;
}
