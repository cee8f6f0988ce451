//! rotui on the sandbox estate (`assets/sandbox/estate.toml`), driven as an
//! operator drives it: the real binary with only the estate's exports (a
//! profile per AWS account, a kubeconfig context per cluster, rotui.toml
//! naming each environment's). Production and staging are separate
//! accounts (separate moto servers), clusters and database servers.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client as SmClient;
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui_sandbox::estate::{Estate, EstateSpec};
use sqlx::{ConnectOptions, Connection};

struct Fixture {
    dir: tempfile::TempDir,
    estate: Estate,
    exports: HashMap<String, String>,
}

/// Everything a finished rotui printed.
fn said(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

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

impl Fixture {
    /// `rotui ARGS` with the estate's exports and `extra` on top; exit code
    /// and everything it printed.
    async fn rotui(&self, extra: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
        let out = self.command(extra, args).output().await.expect("rotui runs");
        (out.status.code(), said(&out))
    }

    /// The command [`Self::rotui`] runs.
    fn command(&self, extra: &[(&str, &str)], args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_rotui"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.dir.path())
            .env("ROTUI_STATE_DIR", self.dir.path().join("state"))
            .envs(&self.exports);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }

    /// Two laptops (two state directories) run `rotui ARGS` at the same
    /// moment (issue 21, item 6, on the estate). Each stops itself before
    /// production's promotion (`ROTUI_FAULT`), so the first there still
    /// holds the rotation when the other tries: the other must be refused,
    /// saying who holds it. The winner is then let go: its exit and words.
    async fn race(&self, args: &[&str]) -> (Option<i32>, String) {
        use nix::sys::signal::Signal;
        let laptop = |n: usize| {
            let state = self.dir.path().join(format!("laptop-{n}"));
            let mut cmd = self.command(
                &[
                    ("ROTUI_STATE_DIR", &state.to_string_lossy()),
                    ("ROTUI_FAULT", "step/production/promote:1:stop"),
                ],
                args,
            );
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("rotui runs")
        };
        let (mut a, mut b) = (laptop(1), laptop(2));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let (winner, loser) = loop {
            if a.try_wait().unwrap().is_some() {
                break (b, a);
            }
            if b.try_wait().unwrap().is_some() {
                break (a, b);
            }
            assert!(std::time::Instant::now() < deadline, "neither racing rotui ended");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        let lost = loser.wait_with_output().await.unwrap();
        let words = said(&lost);
        assert_eq!(lost.status.code(), Some(1), "the loser is refused: {words}");
        assert!(
            words.contains("held by") || words.contains("its rotui is running now"),
            "the loser says who holds the rotation: {words}"
        );
        let pid = winner.id().unwrap();
        crate::faults::until_stopped(pid).await;
        crate::faults::signal(pid, Signal::SIGCONT);
        let won = winner.wait_with_output().await.unwrap();
        (won.status.code(), said(&won))
    }

    /// A Secrets Manager client of one environment's account.
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

    /// The app secret's AWSCURRENT username and password in `env`'s account.
    async fn current(&self, env: &str, secret: &str) -> (String, String) {
        let v = self
            .sm(env)
            .await
            .get_secret_value()
            .secret_id(secret)
            // moto answers a stage-less read with the secret's first version.
            .version_stage("AWSCURRENT")
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(v.secret_string().unwrap()).unwrap();
        (
            body["username"].as_str().unwrap().to_owned(),
            body["password"].as_str().unwrap().to_owned(),
        )
    }

    /// Whether anything of a rotation was written to `env`'s app secret:
    /// a pending version or a rotation mark.
    async fn touched(&self, env: &str, secret: &str) -> bool {
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
        let marked = d
            .tags()
            .iter()
            .any(|t| t.key().is_some_and(|k| k.starts_with("rotui")));
        pending || marked
    }

    /// The MySQL users of `env`'s server.
    async fn mysql_users(&self, env: &str) -> Vec<String> {
        let mut c =
            sqlx::mysql::MySqlConnectOptions::from_url(&self.estate.mysql(env).root_url().parse().unwrap())
                .unwrap()
                .connect()
                .await
                .unwrap();
        let users: Vec<(String,)> = sqlx::query_as("SELECT CAST(user AS CHAR) FROM mysql.user")
            .fetch_all(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
        users.into_iter().map(|(u,)| u).collect()
    }

    /// The PostgreSQL login roles of `env`'s server.
    async fn pg_logins(&self, env: &str) -> Vec<String> {
        let mut c =
            sqlx::PgConnection::connect_with(&self.estate.postgres(env).superuser_options("postgres"))
                .await
                .unwrap();
        let roles: Vec<(String,)> = sqlx::query_as("SELECT rolname::text FROM pg_roles WHERE rolcanlogin")
            .fetch_all(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
        roles.into_iter().map(|(r,)| r).collect()
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
}

/// The lines `rotui plan` printed for step `id` (`production/promote`):
/// its heading to the next step's.
fn step_section(text: &str, id: &str) -> String {
    let heading = format!(". {id} — ");
    let is_heading = |l: &str| {
        l.trim_start()
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    let mut lines = text.lines().skip_while(|l| !l.contains(&heading));
    let first = lines.next().unwrap_or_else(|| panic!("no step {id}: {text}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| !is_heading(l)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Merge-patch a Deployment in `env`'s namespace.
async fn patch_deployment(fx: &Fixture, env: &str, name: &str, patch: serde_json::Value) {
    use k8s_openapi::api::apps::v1::Deployment;
    let api: kube::Api<Deployment> = kube::Api::namespaced(fx.estate.client(env).clone(), "apps");
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .unwrap();
}

fn env_table<'a>(t: &'a mut toml::Table, env: &str) -> &'a mut toml::Table {
    t["environments"]
        .as_table_mut()
        .unwrap()
        .get_mut(env)
        .unwrap()
        .as_table_mut()
        .unwrap()
}

/// MySQL across the estate: refusals before any write when a session or
/// context belongs to another environment; signon rotated in production and
/// staging, each with its own account's session and its own cluster, its
/// worker and CronJob checked and a Job still on the old credentials named;
/// then an app whose every name drifts rotated with no name flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_rotations_across_accounts_every_consumer_and_drifted_names() {
    let fx = start().await;
    let signon = ["--app", "signon", "--engine", "mysql"];
    let both = ["--env", "production", "--also-env", "staging"];
    let rotate = |extra: &'static [&'static str]| {
        let mut a = vec!["rotate"];
        a.extend(both);
        a.extend(signon);
        a.extend(extra);
        a
    };

    // Production's session is staging's account: refused, naming both, before any write.
    let staging_session = fx.config_with("wrong-account.toml", |t| {
        let staging = env_table(t, "staging").clone();
        let prod = env_table(t, "production");
        for key in ["aws_profile", "aws_endpoint_url"] {
            prod.insert(key.into(), staging[key].clone());
        }
    });
    let (code, text) = fx
        .rotui(&[("ROTUI_CONFIG", &staging_session)], &rotate(&["--yes"]))
        .await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("222222222222") && text.contains("111111111111"),
        "names both accounts: {text}"
    );
    // Production's context is staging's cluster: refused the same way.
    let staging_cluster = fx.config_with("wrong-cluster.toml", |t| {
        env_table(t, "production").insert("kube_context".into(), "staging".into());
    });
    let (code, text) = fx
        .rotui(&[("ROTUI_CONFIG", &staging_cluster)], &rotate(&["--yes"]))
        .await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("arn:aws:eks:eu-west-1:222222222222:cluster/govuk"),
        "names the cluster found: {text}"
    );
    // A multi-environment rotation without staging's configuration: the TOML to write.
    let no_staging = fx.config_with("no-staging.toml", |t| {
        t["environments"].as_table_mut().unwrap().remove("staging");
    });
    let (code, text) = fx
        .rotui(&[("ROTUI_CONFIG", &no_staging)], &rotate(&["--yes"]))
        .await;
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("[environments.staging]"),
        "shows the config to write: {text}"
    );
    // TLS (issue 22): the estate's servers require it, and rotui.toml names
    // the estate's CA, so the plan says the connection is verified.
    let mut plan = vec!["plan"];
    plan.extend(&signon[..]);
    plan.extend(["--env", "production"]);
    let (code, text) = fx.rotui(&[], &plan).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("TLS verified (CA rds-ca-bundle.pem)"),
        "the plan says the connection is verified: {text}"
    );
    // Another CA's bundle (`--ca-bundle`, here as ROTUI_CA_BUNDLE, over the
    // config's): refused at the admin's login, naming the file and what to do.
    let wrong_ca = fx.dir.path().join("another-ca.pem");
    rotui_sandbox::tls::SandboxCa::new("another CA")
        .unwrap()
        .write(&wrong_ca)
        .unwrap();
    let wrong_ca = wrong_ca.to_string_lossy().into_owned();
    let (code, text) = fx
        .rotui(&[("ROTUI_CA_BUNDLE", &wrong_ca)], &rotate(&["--yes"]))
        .await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("not signed by a CA in the bundle") && text.contains(&wrong_ca),
        "names the bundle: {text}"
    );
    // verify-full through --tunnel is refused for MySQL before the relay pod.
    let (code, text) = fx.rotui(&[], &rotate(&["--yes", "--tunnel"])).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("TLS verify-full through --tunnel is not supported for MySQL"),
        "{text}"
    );
    for env in ["production", "staging"] {
        assert!(
            !fx.touched(env, "govuk/signon/mysql").await,
            "{env} written before the refusal"
        );
        assert!(
            !fx.mysql_users(env)
                .await
                .iter()
                .any(|u| u.starts_with("signon_user_")),
            "{env}: a user made before the refusal"
        );
    }

    // The CronJob's run started before the rotation holds the old credentials.
    let job = fx
        .estate
        .run_cronjob("production", "signon-delete-expired-tokens")
        .await
        .unwrap();
    // The blast radius before promoting: the web Deployment (with the
    // PodDisruptionBudget over its pods), the worker, the CronJob, the Job
    // running on the old credentials.
    {
        use k8s_openapi::api::policy::v1::PodDisruptionBudget;
        let pdbs: kube::Api<PodDisruptionBudget> =
            kube::Api::namespaced(fx.estate.client("production").clone(), "apps");
        let pdb: PodDisruptionBudget = serde_json::from_value(serde_json::json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": { "name": "signon" },
            "spec": { "minAvailable": 1, "selector": { "matchLabels": { "app.kubernetes.io/name": "signon" } } },
        }))
        .unwrap();
        pdbs.create(&Default::default(), &pdb).await.unwrap();
    }
    let mut plan = vec!["plan"];
    plan.extend(both);
    plan.extend(signon);
    let (code, text) = fx.rotui(&[], &plan).await;
    assert_eq!(code, Some(0), "{text}");
    // TLS (issue 22): both environments' servers verified against the estate's CA.
    for env in ["production", "staging"] {
        assert!(
            text.contains(&format!(
                "Database connection for {env}/signon/mysql: TLS verified (CA rds-ca-bundle.pem)"
            )),
            "{env}: {text}"
        );
    }
    let promote = step_section(&text, "production/promote");
    for shown in [
        "restarts: deployment/signon, 2 replicas, RollingUpdate maxUnavailable 0, maxSurge 1; no readiness probe",
        "pdb/signon (minAvailable 1",
        "restarts: deployment/signon-worker, 1 replica",
        "worker: DATABASE_URL",
        "cronjob/signon-delete-expired-tokens (0 3 * * *): next run",
        &format!("running on the old credentials: job/{job} (of cronjob/signon-delete-expired-tokens)"),
    ] {
        assert!(
            promote.contains(shown),
            "the promote preview shows {shown:?}: {promote}"
        );
    }
    assert!(!promote.contains("NOT restarted"), "{promote}");
    assert!(
        step_section(&text, "staging/promote").contains("restarts: deployment/signon-worker"),
        "each environment its own: {text}"
    );
    // A reader without Reloader's annotation is named as not restarted.
    patch_deployment(
        &fx,
        "production",
        "whitehall-admin",
        serde_json::json!({ "metadata": { "annotations": { "reloader.stakater.com/auto": null } } }),
    )
    .await;
    let (code, text) = fx
        .rotui(
            &[],
            &[
                "plan",
                "--env",
                "production",
                "--app",
                "whitehall-admin",
                "--engine",
                "mysql",
            ],
        )
        .await;
    assert_eq!(code, Some(0), "{text}");
    let promote = step_section(&text, "production/promote");
    assert!(
        promote.contains(
            "NOT restarted: deployment/whitehall-admin (2 replicas; no Reloader annotation): keeps the old credentials"
        ),
        "{promote}"
    );
    patch_deployment(
        &fx,
        "production",
        "whitehall-admin",
        serde_json::json!({ "metadata": { "annotations": { "reloader.stakater.com/auto": "true" } } }),
    )
    .await;
    // Two laptops start it at once: one is refused, the other goes on.
    let (code, text) = fx.race(&rotate(&["--yes", "--wait-timeout", "20"])).await;
    assert_eq!(code, Some(10), "waits for the Job: {text}");
    assert!(
        text.contains("who the switch touches in production")
            && text.contains("restarts: deployment/signon-worker"),
        "rotate shows the blast radius as it promotes: {text}"
    );
    assert!(
        text.contains(&job),
        "names the Job still on the old credentials: {text}"
    );
    fx.estate.finish_job("production", &job).await.unwrap();
    let (code, text) = fx.rotui(&[], &rotate(&["--yes"])).await;
    assert_eq!(code, Some(10), "stops for the drop's confirmation: {text}");
    assert!(text.contains("--confirm-drop signon"), "{text}");
    let mut plan = vec!["plan"];
    plan.extend(both);
    plan.extend(signon);
    let (code, text) = fx.rotui(&[], &plan).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("signon-worker") && text.contains("next run uses the new credentials"),
        "the worker and the CronJob are checked: {text}"
    );
    let (code, text) = fx
        .rotui(&[], &rotate(&["--yes", "--confirm-drop", "signon"]))
        .await;
    assert_eq!(code, Some(0), "{text}");
    let (prod_user, prod_pw) = fx.current("production", "govuk/signon/mysql").await;
    let (staging_user, staging_pw) = fx.current("staging", "govuk/signon/mysql").await;
    assert!(prod_user.starts_with("signon_user_"), "{prod_user}");
    assert_eq!(prod_user, staging_user);
    assert_ne!(prod_pw, staging_pw, "each environment its own password");
    for env in ["production", "staging"] {
        let users = fx.mysql_users(env).await;
        assert!(
            users.contains(&prod_user) && !users.contains(&"signon".to_owned()),
            "{env}: {users:?}"
        );
        assert!(
            !fx.touched(env, "govuk/signon/mysql").await,
            "{env}: the mark is cleared"
        );
    }

    // Drifted names, no name flags: found from the cluster and the secrets.
    let drifted = [
        "--env",
        "production",
        "--app",
        "whitehall-admin",
        "--engine",
        "mysql",
    ];
    let mut plan = vec!["plan"];
    plan.extend(drifted);
    let (code, text) = fx.rotui(&[], &plan).await;
    assert_eq!(code, Some(0), "{text}");
    for found in [
        "govuk/whitehall/mysql-primary",
        "whitehall-database",
        "whitehall_production",
        "whitehall_admin",
    ] {
        assert!(text.contains(found), "discovers {found}: {text}");
    }
    let mut rotate = vec!["rotate"];
    rotate.extend(drifted);
    rotate.push("--yes");
    let (code, text) = fx.rotui(&[], &rotate).await;
    assert_eq!(code, Some(10), "{text}");
    rotate.extend(["--confirm-drop", "whitehall"]);
    let (code, text) = fx.rotui(&[], &rotate).await;
    assert_eq!(code, Some(0), "{text}");
    let (user, _) = fx.current("production", "govuk/whitehall/mysql-primary").await;
    assert!(
        user.starts_with("whitehall_user_"),
        "built on the old user: {user}"
    );
    let users = fx.mysql_users("production").await;
    assert!(
        users.contains(&user) && !users.contains(&"whitehall".to_owned()),
        "{users:?}"
    );
    fx.estate.shutdown().await;
}

/// PostgreSQL across a sandbox night: content-store (whose Secret router
/// reads as CONTENT_STORE_DATABASE_URL) is rotated in production; staging,
/// restored nightly by pg_dump/pg_restore (no roles), waits for an observed
/// restore, then gets the new login created and switches. account-api, not
/// copied by the restore, is planned with staging as its own environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_staging_follows_a_night_whose_restore_brought_no_roles() {
    let fx = start().await;
    let args = [
        "--env",
        "production",
        "--also-env",
        "staging",
        "--app",
        "content-store",
        "--engine",
        "postgres",
    ];
    let run = |extra: &'static [&'static str]| {
        let mut a = vec!["rotate"];
        a.extend(args);
        a.extend(extra);
        a
    };
    // Before promoting: router, another app, restarts with content-store.
    let mut plan = vec!["plan"];
    plan.extend(args);
    let (code, text) = fx.rotui(&[], &plan).await;
    assert_eq!(code, Some(0), "{text}");
    // TLS (issue 22): both environments' servers verified against the estate's CA.
    for env in ["production", "staging"] {
        assert!(
            text.contains(&format!(
                "Database connection for {env}/content-store/postgres: TLS verified (CA rds-ca-bundle.pem)"
            )),
            "{env}: {text}"
        );
    }
    // Through --tunnel, rotui's own end verifies the certificate against the
    // secret's host (not the tunnel's 127.0.0.1:random port).
    let mut tunnelled = plan.clone();
    tunnelled.push("--tunnel");
    let (code, tunnel_text) = fx.rotui(&[], &tunnelled).await;
    assert_eq!(code, Some(0), "{tunnel_text}");
    assert!(
        tunnel_text.contains("TLS verified (CA rds-ca-bundle.pem, tunnel)"),
        "{tunnel_text}"
    );
    let promote = step_section(&text, "production/promote");
    for shown in [
        "restarts: deployment/content-store, 2 replicas",
        "restarts: deployment/router [another app's: router], 1 replica",
        "router: CONTENT_STORE_DATABASE_URL ← DATABASE_URL",
    ] {
        assert!(
            promote.contains(shown),
            "the promote preview shows {shown:?}: {promote}"
        );
    }
    // Two laptops start it at once: one is refused, the other goes on.
    let (code, text) = fx.race(&run(&["--yes"])).await;
    assert_eq!(code, Some(10), "{text}");
    assert!(text.contains("overnight"), "waits for the night: {text}");
    let (prod_user, _) = fx.current("production", "govuk/content-store/postgres").await;
    assert!(prod_user.starts_with("content-store-user-"), "{prod_user}");
    assert!(
        !fx.pg_logins("staging").await.contains(&prod_user),
        "no login in staging before the night"
    );
    // Still day: another run keeps waiting.
    let (code, text) = fx.rotui(&[], &run(&["--yes"])).await;
    assert_eq!(code, Some(10), "{text}");

    // The night: production's database restored into staging; no roles come with it.
    let report = fx.estate.nightly_restore("content-store").await.unwrap();
    assert_ne!(report.old_oid, Some(report.new_oid));
    assert!(!fx.pg_logins("staging").await.contains(&prod_user));
    let (code, text) = fx.rotui(&[], &run(&["--yes"])).await;
    assert_eq!(code, Some(10), "stops for the drop's confirmation: {text}");
    assert!(text.contains("--confirm-drop content-store"), "{text}");
    assert!(
        fx.pg_logins("staging").await.contains(&prod_user),
        "the login pg_dump does not copy is made in staging"
    );
    let (staging_user, _) = fx.current("staging", "govuk/content-store/postgres").await;
    assert_eq!(staging_user, prod_user);
    let (code, text) = fx
        .rotui(&[], &run(&["--yes", "--confirm-drop", "content-store"]))
        .await;
    assert_eq!(code, Some(0), "{text}");
    for env in ["production", "staging"] {
        let logins = fx.pg_logins(env).await;
        assert!(!logins.contains(&"content-store".to_owned()), "{env}: {logins:?}");
    }

    // Not copied by the restore: staging is rotated directly, no wait.
    let (code, text) = fx
        .rotui(
            &[],
            &[
                "plan",
                "--env",
                "production",
                "--also-env",
                "staging",
                "--app",
                "account-api",
                "--engine",
                "postgres",
            ],
        )
        .await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("staging/create-user") && !text.contains("overnight"),
        "{text}"
    );
    fx.estate.shutdown().await;
}
