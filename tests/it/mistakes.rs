//! The mistakes operators make, caught early with a message that says what
//! to do, on the sandbox estate (production 111111111111 and staging
//! 222222222222, each its own moto, cluster and servers), driven through
//! the real binary with the estate's exports: a misspelt environment, a
//! session of one account with another's context and no config, a
//! configured profile missing from the AWS config file, the wrong engine
//! for an app, an app that does not exist; the new user of a drifted app;
//! and a `rotate` refused because another operator holds the rotation,
//! which must say so.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client as SmClient;
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui_sandbox::estate::{Estate, EstateSpec};

struct Fixture {
    dir: tempfile::TempDir,
    estate: Estate,
    exports: HashMap<String, String>,
}

impl Fixture {
    async fn start() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let spec = EstateSpec::load(&EstateSpec::default_path()).unwrap();
        let estate = Estate::start(&dir.path().join("estate"), &spec)
            .await
            .expect("the estate starts");
        let exports = rotui_sandbox::world::parse_env_file(
            &std::fs::read_to_string(dir.path().join("estate/estate.env")).unwrap(),
        );
        Fixture { dir, estate, exports }
    }

    /// `rotui ARGS` with the estate's exports, less `without`, plus
    /// `extra`; the exit code, everything it printed, and how long it took.
    async fn rotui(
        &self,
        without: &[&str],
        extra: &[(&str, &str)],
        args: &[&str],
    ) -> (Option<i32>, String, Duration) {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_rotui"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.dir.path())
            .env("ROTUI_STATE_DIR", self.dir.path().join("state"))
            .envs(
                self.exports
                    .iter()
                    .filter(|(k, _)| !without.contains(&k.as_str())),
            )
            .stdin(std::process::Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let out = tokio::time::timeout(Duration::from_secs(240), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("rotui {args:?} did not end"))
            .expect("rotui runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text, started.elapsed())
    }

    /// rotui.toml with `edit` applied, written beside it; its path.
    fn config_with(&self, name: &str, edit: impl Fn(&mut toml::Table)) -> String {
        let path = self.dir.path().join("estate/rotui.toml");
        let mut table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        edit(&mut table);
        let out = self.dir.path().join(name);
        std::fs::write(&out, toml::to_string(&table).unwrap()).unwrap();
        out.to_string_lossy().into_owned()
    }

    async fn sm(&self, env: &str) -> SmClient {
        let session = AwsSession::with_credentials(
            &AwsOptions {
                endpoint_url: Some(self.estate.aws_endpoint_url(env).to_owned()),
                region: Some("eu-west-1".into()),
                ..AwsOptions::default()
            },
            &StaticCredentials::new("testing", "testing"),
        )
        .await
        .unwrap();
        SmClient::new(session.sdk_config())
    }

    /// The rotui tags on `env`'s app secret, and whether it has AWSPENDING.
    async fn marks(&self, env: &str, secret: &str) -> (HashMap<String, String>, bool) {
        let d = self
            .sm(env)
            .await
            .describe_secret()
            .secret_id(secret)
            .send()
            .await
            .unwrap();
        let pending = d
            .version_ids_to_stages()
            .is_some_and(|m| m.values().any(|s| s.iter().any(|s| s == "AWSPENDING")));
        let tags = d
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .filter(|(k, _)| k.starts_with("rotui"))
            .collect();
        (tags, pending)
    }

    async fn untouched(&self, problems: &mut Vec<String>, what: &str) {
        for env in ["production", "staging"] {
            for secret in ["govuk/signon/mysql", "govuk/account-api/postgres"] {
                let (tags, pending) = self.marks(env, secret).await;
                if !tags.is_empty() || pending {
                    problems.push(format!(
                        "{what}: {env}'s {secret} was written: {tags:?}, pending {pending}"
                    ));
                }
            }
        }
    }
}

/// Record a failed expectation and go on, so one run shows every one.
fn expect(problems: &mut Vec<String>, ok: bool, what: &str, text: &str) {
    if !ok {
        problems.push(format!("{what}:\n{text}\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_are_caught_before_anything_is_written_and_say_what_to_do() {
    let fx = Fixture::start().await;
    let mut p = Vec::new();
    let signon = ["--app", "signon", "--engine", "mysql"];
    let with = |head: &[&'static str], tail: &[&'static str]| -> Vec<&'static str> {
        head.iter().chain(tail).copied().collect()
    };

    // A misspelt environment: refused at once by every command taking
    // --env, listing the configured ones, nothing connected to.
    for args in [
        with(&["plan", "--env", "prod"], &signon),
        with(&["rotate", "--yes", "--env", "prod"], &signon),
        with(&["rollback", "--yes", "--env", "prod"], &signon),
        with(&["inspect", "--env", "prod"], &signon),
        with(&["--env", "prod"], &signon),
        vec!["fleet", "--json", "--env", "prod"],
        vec!["fleet", "--json", "--env", "production,prod"],
    ] {
        let (code, text, took) = fx.rotui(&[], &[], &args).await;
        let what = format!("{args:?}");
        expect(&mut p, code == Some(1), &format!("{what} exits 1"), &text);
        expect(
            &mut p,
            text.contains("prod is not configured (did you mean prod → production?)")
                && text.contains("names the environments integration, production, staging"),
            &format!("{what} names the configured environments"),
            &text,
        );
        expect(
            &mut p,
            took < Duration::from_secs(5),
            &format!("{what} refused at once, not after {took:?}"),
            &text,
        );
    }
    fx.untouched(&mut p, "a misspelt environment").await;

    // No config file: production's session (AWS_PROFILE) with staging's
    // context is refused by the preflight, naming both accounts.
    let no_config = ["ROTUI_CONFIG"];
    let args = with(
        &["rotate", "--yes", "--env", "production", "--context", "staging"],
        &signon,
    );
    let (code, text, _) = fx.rotui(&no_config, &[], &args).await;
    expect(
        &mut p,
        code == Some(1),
        "another account's context: exit 1",
        &text,
    );
    expect(
        &mut p,
        text.contains(
            "production: the AWS session is account 111111111111, but kube context staging is cluster \
             arn:aws:eks:eu-west-1:222222222222:cluster/govuk, in account 222222222222",
        ) && text.contains("nothing was written"),
        "another account's context: both accounts named",
        &text,
    );
    fx.untouched(&mut p, "another account's context").await;
    // The fleet does not read production's secrets as staging's cluster's.
    let args = [
        "fleet",
        "--json",
        "--no-login",
        "--env",
        "production",
        "--context",
        "staging",
    ];
    let (code, text, _) = fx.rotui(&no_config, &[], &args).await;
    expect(
        &mut p,
        code == Some(1)
            && text.contains("production: the AWS session is account 111111111111, but kube context staging")
            && !text.contains("\"app\": \"signon\""),
        "the fleet with another account's context: refused, no rows",
        &text,
    );
    // Its own context: the preflight passes.
    let args = with(&["plan", "--env", "production"], &signon);
    let (code, text, _) = fx.rotui(&no_config, &[], &args).await;
    expect(
        &mut p,
        code == Some(0) && text.contains("checks passed"),
        "no config, one account: the preflight passes",
        &text,
    );

    // A configured profile missing from the AWS config file, with shell
    // credentials set: the profile and the file are named.
    let nope = fx.config_with("no-profile.toml", |t| {
        let production = t["environments"]["production"].as_table_mut().unwrap();
        production.remove("credential_command");
        production.insert("aws_profile".into(), "govuk-production-nope".into());
    });
    let shell = [
        ("ROTUI_CONFIG", nope.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let args = with(&["plan", "--env", "production"], &signon);
    let (code, text, _) = fx.rotui(&["AWS_PROFILE"], &shell, &args).await;
    let aws_config = &fx.exports["AWS_CONFIG_FILE"];
    expect(&mut p, code != Some(0), "a missing profile fails", &text);
    expect(
        &mut p,
        text.contains(&format!(
            "AWS profile govuk-production-nope is not in {aws_config}"
        )) && text.contains("add [profile govuk-production-nope]")
            && !text.contains("gds aws"),
        "a missing profile is named with its file",
        &text,
    );

    // The wrong engine: said from the names found, not by a driver.
    for (app, engine, says, names) in [
        (
            "account-api",
            "mysql",
            "postgres",
            ["account-api-postgres", "govuk/account-api/postgres"],
        ),
        (
            "signon",
            "postgres",
            "mysql",
            ["signon-mysql", "govuk/signon/mysql"],
        ),
    ] {
        for cmd in ["plan", "inspect"] {
            let args = [cmd, "--env", "production", "--app", app, "--engine", engine];
            let (code, text, took) = fx.rotui(&[], &[], &args).await;
            let what = format!("{args:?}");
            expect(&mut p, code == Some(1), &format!("{what} exits 1"), &text);
            expect(
                &mut p,
                text.contains(&format!("--engine {engine}, but the app's names say {says}"))
                    && names.iter().all(|n| text.contains(n))
                    && text.contains(&format!("Pass --engine {says}")),
                &format!("{what} names the engine the names say"),
                &text,
            );
            // Refused from the names, never by a driver left waiting for a
            // greeting in the other engine's protocol (said by the words,
            // not by a clock: a loaded machine is slow either way).
            let lower = text.to_lowercase();
            expect(
                &mut p,
                !lower.contains("timed out") && !lower.contains("timeout"),
                &format!("{what}: no driver timeout ({took:?})"),
                &text,
            );
        }
    }

    // The wrong engine where no name tells: PostgreSQL's client at a MySQL
    // server hints at --engine, not only at the driver's words.
    let port = fx.estate.mysql("production").port();
    let url = format!("postgresql://root:x@127.0.0.1:{port}/signon_production");
    let (code, text, _) = fx
        .rotui(
            &[],
            &[("ROTUI_DB_URL", &url)],
            &["inspect", "--env", "production"],
        )
        .await;
    expect(
        &mut p,
        code == Some(1) && text.contains("is it the other engine (--engine mysql|postgres)"),
        "a PostgreSQL client at a MySQL server: the hint names --engine",
        &text,
    );

    // An app that does not exist: said so, with the apps that do.
    let args = [
        "plan",
        "--env",
        "production",
        "--app",
        "signin",
        "--engine",
        "mysql",
    ];
    let (code, text, _) = fx.rotui(&[], &[], &args).await;
    expect(&mut p, code == Some(1), "an unknown app: exit 1", &text);
    expect(
        &mut p,
        text.contains("no app signin found")
            && text.contains(&format!(
                "the apps there: {}",
                // Every app of the estate, in order.
                EstateSpec::load(&EstateSpec::default_path())
                    .unwrap()
                    .apps
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            && !text.contains("--admin-secret-key"),
        "an unknown app: the apps that exist",
        &text,
    );
    fx.untouched(&mut p, "wrong engines and unknown apps").await;

    // A drifted app's new user builds on its user (whitehall), not on the
    // app's name (whitehall-admin).
    let args = [
        "plan",
        "--env",
        "production",
        "--app",
        "whitehall-admin",
        "--engine",
        "mysql",
    ];
    let (code, text, _) = fx.rotui(&[], &[], &args).await;
    let today = chrono::Utc::now().format("%Y%m%d");
    expect(
        &mut p,
        code == Some(0)
            && text.contains(&format!(
                "old user: whitehall in production; new user: whitehall_user_{today}"
            )),
        "the drifted app's new user",
        &text,
    );

    assert!(p.is_empty(), "{} expectations failed:\n{}", p.len(), p.join("\n"));
    fx.estate.shutdown().await;
}

/// `rotui rotate` refused because another operator holds the rotation
/// prints who holds it and what to do, as `rollback` does; exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_rotate_says_who_holds_the_rotation() {
    let fx = Fixture::start().await;
    let args = [
        "rotate",
        "--env",
        "production",
        "--app",
        "signon",
        "--engine",
        "mysql",
    ];
    // Without --yes: the rotation starts (the mark names its holder) and
    // waits for the first confirmation.
    let (code, text, _) = fx.rotui(&[], &[], &args).await;
    assert_eq!(code, Some(10), "{text}");
    let (tags, _) = fx.marks("production", "govuk/signon/mysql").await;
    assert!(tags.contains_key("rotui:holder"), "{tags:?}");
    // Another operator holds it now (active just now).
    fx.sm("production")
        .await
        .tag_resource()
        .secret_id("govuk/signon/mysql")
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("rotui:holder")
                .value("alice@laptop")
                .build(),
        )
        .send()
        .await
        .unwrap();
    for cmd in ["rotate", "rollback"] {
        let mut args = args.to_vec();
        args[0] = cmd;
        args.push("--yes");
        let (code, text, _) = fx.rotui(&[], &[], &args).await;
        assert_eq!(code, Some(1), "{cmd}: {text}");
        assert!(
            text.contains("held by alice@laptop") && text.contains("--take-over"),
            "{cmd} says who holds it and what to do: {text:?}"
        );
    }
    fx.estate.shutdown().await;
}
