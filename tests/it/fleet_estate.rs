//! `rotui fleet` across the sandbox estate (production and staging, each
//! its own AWS account and cluster), the real binary with the estate's
//! exports: every app of both environments with its own account's numbers,
//! the policy, a session of the wrong account refused, and a half-finished
//! rotation with its holder — the JSON and the exit code agreeing.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use rotui_sandbox::estate::{Estate, EstateSpec};
use serde_json::Value;

/// `rotui ARGS` with the estate's exports and `extra`: exit code, the JSON
/// on stdout (if any) and everything printed.
async fn rotui(
    dir: &Path,
    exports: &HashMap<String, String>,
    extra: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, Option<Value>, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_rotui"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", dir)
        .env("ROTUI_STATE_DIR", dir.join("state"))
        .envs(exports);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("rotui runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), serde_json::from_str(&stdout).ok(), text)
}

/// The row of `secret` in `env`.
fn row<'a>(doc: &'a Value, env: &str, secret: &str) -> &'a Value {
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["env"] == env && r["secret"] == secret)
        .unwrap_or_else(|| panic!("no row {env} {secret}: {doc:#}"))
}

/// The exit code the document implies: 3 due or half-rotated, else 1 an
/// error, else 0.
fn implied_code(doc: &Value) -> i32 {
    let rows = doc["rows"].as_array().unwrap();
    if rows.iter().any(|r| r["due"] == true || !r["rotation"].is_null()) {
        3
    } else if !doc["errors"].as_array().unwrap().is_empty()
        || rows.iter().any(|r| !r["secrets_error"].is_null())
    {
        1
    } else {
        0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_of_production_and_staging_each_from_its_own_account() {
    let dir = tempfile::tempdir().unwrap();
    let spec = EstateSpec::load(&EstateSpec::default_path()).unwrap();
    let estate = Estate::start(&dir.path().join("estate"), &spec)
        .await
        .expect("the estate starts");
    let exports = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("estate/estate.env")).unwrap(),
    );
    let base = std::fs::read_to_string(dir.path().join("estate/rotui.toml")).unwrap();
    let config = |name: &str, edit: &dyn Fn(&mut toml::Table)| -> String {
        let mut table: toml::Table = base.parse().unwrap();
        edit(&mut table);
        let path = dir.path().join(name);
        std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
        path.to_string_lossy().into_owned()
    };
    let fleet = ["fleet", "--env", "production,staging", "--json"];
    // Every app of the estate, drifted names included: (app, secret, ExternalSecret).
    let apps: Vec<(&str, &str, &str)> = spec
        .apps
        .iter()
        .map(|(name, a)| (name.as_str(), a.app_secret.as_str(), a.secret.as_str()))
        .collect();
    let n = apps.len();

    // Every app of both environments, fresh: 0 days, nothing due, exit 0.
    let (code, doc, text) = rotui(dir.path(), &exports, &[], &fleet).await;
    let doc = doc.unwrap_or_else(|| panic!("{text}"));
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(code, Some(implied_code(&doc)));
    assert_eq!(doc["envs"], serde_json::json!(["production", "staging"]));
    assert_eq!(doc["rows"].as_array().unwrap().len(), 2 * n, "{doc:#}");
    let mut usernames = BTreeSet::new();
    for env in ["production", "staging"] {
        for &(app, secret, es) in &apps {
            let r = row(&doc, env, secret);
            assert_eq!(r["app"], app, "{r:#}");
            assert_eq!(r["age_days"], 0, "{r:#}");
            assert_eq!(
                (r["due"].clone(), r["max_age_days"].clone()),
                (false.into(), 90.into())
            );
            assert!(r["rotation"].is_null(), "{r:#}");
            assert_eq!(r["external_secrets"][0]["name"], es, "{r:#}");
            assert_eq!(r["external_secrets"][0]["matches"]["state"], "yes", "{r:#}");
            assert!(
                r["secrets_error"].is_null() && r["cluster_error"].is_null(),
                "{r:#}"
            );
            usernames.insert(r["username"].as_str().unwrap().to_owned());
            // AWSCURRENT logs in to this account's own servers: MySQL 9.7 and PostgreSQL 17.
            let version = r["login"]["detail"]["version"]
                .as_str()
                .unwrap_or_else(|| panic!("{r:#}"));
            let major = if r["engine"] == "mysql" { "9." } else { "17." };
            assert!(version.starts_with(major), "{r:#}");
        }
        // Each row's data sync, from the CronJobs and Jobs the fleet lists:
        // staging's copies come from production and ran at start-up;
        // production only backs up; account-api is copied nowhere.
        let restores = |secret: &str| row(&doc, env, secret)["restores"].clone();
        if env == "staging" {
            let r = &restores("govuk/email-alert-api/postgres")[0];
            assert_eq!(
                (&r["cronjob"], &r["from"], &r["suspended"]),
                (
                    &serde_json::json!("db-backup-email-alert-api-postgres"),
                    &serde_json::json!("production"),
                    &serde_json::json!(false)
                ),
                "{r:#}"
            );
            assert_eq!(r["last"]["outcome"], "succeeded", "{r:#}");
            assert!(r["next"].is_string(), "{r:#}");
            // Its DB_OWNER is the login: a rotation would break the next restore.
            assert!(
                r["would_fail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("DB_OWNER is the login email-alert-api"),
                "{r:#}"
            );
            assert!(restores("govuk/publishing-api/postgres")[0]["would_fail"].is_null());
        } else {
            assert_eq!(restores("govuk/email-alert-api/postgres"), serde_json::json!([]));
        }
        assert_eq!(
            restores("govuk/account-api/postgres"),
            serde_json::json!([]),
            "{env}"
        );
        // Every workload reading signon's Secret, the worker and the CronJob too.
        assert_eq!(
            row(&doc, env, "govuk/signon/mysql")["external_secrets"][0]["consumers"],
            serde_json::json!([
                "cronjob/signon-delete-expired-tokens",
                "deployment/signon",
                "deployment/signon-worker"
            ]),
            "{env}"
        );
    }
    assert!(usernames.contains("whitehall"), "{usernames:?}");

    // Repeated --env is the same fleet; the policy 0 days makes every app due.
    let due = config("due.toml", &|t| {
        t.insert(
            "fleet".into(),
            toml::Value::Table("max_age_days = 0".parse().unwrap()),
        );
    });
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let args = ["fleet", "--json", "--env", "production", "--env", "staging"];
    let (code, doc, text) = rotui(dir.path(), &exports, &[("ROTUI_CONFIG", &due)], &args).await;
    let doc = doc.unwrap_or_else(|| panic!("{text}"));
    assert_eq!(code, Some(3), "{doc:#}");
    assert_eq!(code, Some(implied_code(&doc)));
    assert_eq!(doc["rows"].as_array().unwrap().len(), 2 * n, "{doc:#}");
    assert!(
        doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["due"] == true && r["max_age_days"] == 0),
        "{doc:#}"
    );

    // Staging's session is production's account: staging is not read (no
    // production numbers shown as staging's), its error names both accounts.
    let wrong = config("wrong-account.toml", &|t| {
        let envs = t["environments"].as_table_mut().unwrap();
        let prod = envs["production"].as_table().unwrap().clone();
        let staging = envs["staging"].as_table_mut().unwrap();
        for key in ["credential_command", "aws_endpoint_url"] {
            if let Some(v) = prod.get(key) {
                staging.insert(key.into(), v.clone());
            }
        }
    });
    let (code, doc, text) = rotui(dir.path(), &exports, &[("ROTUI_CONFIG", &wrong)], &fleet).await;
    let doc = doc.unwrap_or_else(|| panic!("{text}"));
    assert_eq!(code, Some(1), "{doc:#}");
    assert_eq!(code, Some(implied_code(&doc)));
    let rows = doc["rows"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["env"] == "production"), "{doc:#}");
    assert_eq!(rows.len(), n, "{doc:#}");
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{doc:#}");
    assert_eq!(errors[0]["env"], "staging");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("111111111111") && message.contains("222222222222"),
        "{message}"
    );

    // Several environments need each configured: the TOML to write.
    let no_staging = config("no-staging.toml", &|t| {
        t["environments"].as_table_mut().unwrap().remove("staging");
    });
    let (code, _, text) = rotui(dir.path(), &exports, &[("ROTUI_CONFIG", &no_staging)], &fleet).await;
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("[environments.staging]"), "{text}");

    // A rotation of signon in production stopped at the drop's confirmation:
    // promoted, the old user not dropped, the mark naming its holder.
    let (code, _, text) = rotui(
        dir.path(),
        &exports,
        &[],
        &[
            "rotate",
            "--env",
            "production",
            "--app",
            "signon",
            "--engine",
            "mysql",
            "--yes",
        ],
    )
    .await;
    assert_eq!(code, Some(10), "stops for the drop's confirmation: {text}");
    let (code, doc, text) = rotui(dir.path(), &exports, &[], &fleet).await;
    let doc = doc.unwrap_or_else(|| panic!("{text}"));
    assert_eq!(code, Some(3), "half-rotated alerts: {doc:#}");
    assert_eq!(code, Some(implied_code(&doc)));
    let r = row(&doc, "production", "govuk/signon/mysql");
    let rotation = &r["rotation"];
    assert!(
        rotation["holder"].as_str().is_some_and(|h| h.contains('@')),
        "{r:#}"
    );
    assert!(rotation["rotation_id"].is_string(), "{r:#}");
    let new_user = rotation["new_username"].as_str().unwrap();
    assert!(new_user.starts_with("signon_user_"), "{r:#}");
    assert_eq!(r["username"], new_user, "promoted: {r:#}");
    assert!(
        rotation["phase"].as_str().unwrap().contains("not yet dropped"),
        "{r:#}"
    );
    // The step it stopped at, from the mark the holder refreshes per step.
    assert_eq!(rotation["step"], "production/drop-old-user", "{r:#}");
    assert_eq!(r["age_days"], 0, "{r:#}");
    // Staging's signon is untouched: its own account says so.
    let s = row(&doc, "staging", "govuk/signon/mysql");
    assert!(s["rotation"].is_null(), "{s:#}");
    assert_eq!(s["username"], "signon", "{s:#}");
    let attention: Vec<&Value> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["rotation"].is_null() || r["due"] == true)
        .collect();
    assert_eq!(attention.len(), 1, "{doc:#}");
    estate.shutdown().await;
}
