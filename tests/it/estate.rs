//! rotui on the sandbox estate (`assets/sandbox/estate.toml`), driven as an
//! operator drives it: the real binary with only the estate's exports (a
//! profile per AWS account, a kubeconfig context per cluster, rotui.toml
//! naming each environment's). Production and staging are separate
//! accounts (separate moto servers), clusters and database servers.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_secretsmanager::Client as SmClient;
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui::secret::SecretString;
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

    /// The app secret's version at `stage` (username, password), if any.
    async fn staged(&self, env: &str, secret: &str, stage: &str) -> Option<(String, String)> {
        let v = self
            .sm(env)
            .await
            .get_secret_value()
            .secret_id(secret)
            .version_stage(stage)
            .send()
            .await
            .ok()?;
        let body: serde_json::Value = serde_json::from_str(v.secret_string()?).ok()?;
        Some((
            body["username"].as_str()?.to_owned(),
            body["password"].as_str()?.to_owned(),
        ))
    }

    /// Every string value of a secret (the admin passwords).
    async fn secret_values(&self, env: &str, secret: &str) -> Vec<String> {
        let v = self
            .sm(env)
            .await
            .get_secret_value()
            .secret_id(secret)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(v.secret_string().unwrap()).unwrap();
        body.as_object()
            .unwrap()
            .values()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
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

/// Issue 22: each environment's credentials from its own command, and its
/// cluster's token minted with them. Refusals come before any write.
async fn credentials_per_environment(fx: &Fixture, rotate: &[&str]) {
    let nothing_written = |why: &'static str| async move {
        for env in ["production", "staging"] {
            assert!(
                !fx.touched(env, "govuk/signon/mysql").await,
                "{env} written: {why}"
            );
        }
    };
    // Staging without a credential source: it runs on the shell's session,
    // production's platformengineer (its profile, endpoint and all, as a
    // laptop's shell would be): refused, showing the TOML to add.
    let no_source = fx.config_with("no-source.toml", |t| {
        let staging = env_table(t, "staging");
        staging.remove("credential_command");
        staging.remove("aws_endpoint_url");
    });
    let (code, text) = fx.rotui(&[("ROTUI_CONFIG", &no_source)], rotate).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "staging: the AWS session is account 111111111111 (production?), expected 222222222222"
        ),
        "{text}"
    );
    assert!(
        text.contains("credential_command = \"gds aws govuk-staging-platformengineer -e\""),
        "shows the TOML to add: {text}"
    );
    nothing_written("the shell's session for staging").await;

    // Staging's developer role may read its secret but not write it: refused, naming it.
    let developer = fx.config_with("developer.toml", |t| {
        let staging = env_table(t, "staging");
        let command = staging["credential_command"].as_str().unwrap().to_owned();
        staging.insert(
            "credential_command".into(),
            command
                .replace("--role platformengineer", "--role developer")
                .into(),
        );
    });
    let (code, text) = fx.rotui(&[("ROTUI_CONFIG", &developer)], rotate).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("role govuk-staging-developer is the estate's developer role"),
        "{text}"
    );
    assert!(
        text.contains("gds aws govuk-staging-platformengineer -e"),
        "names the role to use: {text}"
    );
    assert!(text.contains("nothing was written"), "{text}");
    nothing_written("a developer role").await;

    // A role the estate does not have: not guessed, said in the plan.
    let unknown = fx.config_with("unknown-role.toml", |t| {
        let staging = env_table(t, "staging");
        let command = staging["credential_command"].as_str().unwrap().to_owned();
        staging.insert(
            "credential_command".into(),
            command
                .replace("--role platformengineer", "--role breakglass")
                .into(),
        );
    });
    let plan: Vec<&str> = rotate
        .iter()
        .map(|a| if *a == "rotate" { "plan" } else { *a })
        .filter(|a| *a != "--yes")
        .collect();
    let (code, text) = fx.rotui(&[("ROTUI_CONFIG", &unknown)], &plan).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("role govuk-staging-breakglass is not one of the estate's")
            && text.contains("cannot be proven without writing"),
        "{text}"
    );

    // Each cluster takes its own account's token only: staging's API server
    // refuses one minted with production's credentials (401), takes staging's.
    let command = |env: &str| -> String {
        let t: toml::Table = std::fs::read_to_string(fx.dir.path().join("estate/rotui.toml"))
            .unwrap()
            .parse()
            .unwrap();
        t["environments"][env]["credential_command"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let plugin_env = |env: &'static str| async move {
        let creds = rotui::aws::credential_command::run(&command(env)).await.unwrap();
        let mut set = vec![
            (
                "AWS_ACCESS_KEY_ID".to_owned(),
                SecretString::from(creds.access_key_id.clone()),
            ),
            (
                "AWS_SECRET_ACCESS_KEY".to_owned(),
                creds.secret_access_key.clone(),
            ),
            (
                "AWS_SESSION_TOKEN".to_owned(),
                creds.session_token.clone().unwrap(),
            ),
            (
                "AWS_ENDPOINT_URL".to_owned(),
                SecretString::from(fx.estate.aws_endpoint_url(env).to_owned()),
            ),
        ];
        set.push((
            "AWS_REGION".to_owned(),
            SecretString::from("eu-west-1".to_owned()),
        ));
        (
            creds,
            rotui::aws::ExecEnv {
                set,
                drop: vec!["AWS_PROFILE".into()],
            },
        )
    };
    let staging_cluster = |exec_env| rotui::k8s::KubeOptions {
        kubeconfig: Some(fx.dir.path().join("estate/kubeconfig")),
        context: Some("staging".into()),
        namespace: Some("apps".into()),
        exec_env: Some(exec_env),
    };
    let (_, prod_env) = plugin_env("production").await;
    let k8s = rotui::k8s::K8s::connect(&staging_cluster(prod_env))
        .await
        .unwrap();
    let refused = k8s.check().await.unwrap_err().to_string();
    assert!(
        refused.contains("Unauthorized") || refused.contains("401"),
        "{refused}"
    );
    let (_, staging_env) = plugin_env("staging").await;
    let k8s = rotui::k8s::K8s::connect(&staging_cluster(staging_env))
        .await
        .unwrap();
    k8s.check().await.expect("staging's own token");

    // The fleet of both, each with its own command and token; the
    // commands' output kept aside (tee), to look for it afterwards.
    let issued = fx.dir.path().join("issued");
    let teed = fx.config_with("teed.toml", |t| {
        for env in ["production", "staging"] {
            let table = env_table(t, env);
            let command = table["credential_command"].as_str().unwrap().to_owned();
            table.insert(
                "credential_command".into(),
                format!("{command} | tee -a '{}'", issued.display()).into(),
            );
        }
    });
    // Every process's arguments, listed while each cluster's exec plugin
    // runs (it is handed the credentials): the plugin wrapped in a `ps`.
    let listed = fx.dir.path().join("process-args");
    let kubeconfig = fx.dir.path().join("kubeconfig-ps");
    let original = std::fs::read_to_string(fx.dir.path().join("estate/kubeconfig")).unwrap();
    let wrap = serde_json::to_string(&format!(
        "ps -eo args >> '{}'; exec \"$0\" \"$@\"",
        listed.display()
    ))
    .unwrap();
    let python = original
        .lines()
        .find_map(|l| l.trim().strip_prefix("command: "))
        .unwrap()
        .to_owned();
    let wrapped = original
        .replace(&format!("command: {python}"), "command: \"sh\"")
        .replace("args: [", &format!("args: [\"-c\", {wrap}, {python}, "));
    std::fs::write(&kubeconfig, wrapped).unwrap();
    let kubeconfig = kubeconfig.to_string_lossy().into_owned();
    let (code, text) = fx
        .rotui(
            &[("ROTUI_CONFIG", &teed), ("KUBECONFIG", &kubeconfig)],
            &["fleet", "--env", "production,staging", "--json", "--no-login"],
        )
        .await;
    let doc: serde_json::Value =
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e} (exit {code:?}): {text}"));
    for env in ["production", "staging"] {
        let row = doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["env"] == env && r["app"] == "signon")
            .unwrap_or_else(|| panic!("no signon row for {env}: {text}"));
        assert_eq!(
            row["external_secrets"][0]["matches"]["state"], "yes",
            "{env}'s cluster read with its own token: {row:#}"
        );
    }
    let (code, plan) = fx
        .rotui(
            &[("ROTUI_CONFIG", &teed), ("KUBECONFIG", &kubeconfig)],
            &[
                "plan",
                "--env",
                "production",
                "--also-env",
                "staging",
                "--app",
                "signon",
                "--engine",
                "mysql",
            ],
        )
        .await;
    assert_eq!(code, Some(0), "{plan}");
    // Both platformengineer roles: nothing to refuse or say about them.
    assert!(
        plan.contains("checks passed") && !plan.contains("role govuk-"),
        "{plan}"
    );
    // No credential a command gave in what rotui printed, its journal or its logs.
    let issued = std::fs::read_to_string(&issued).unwrap();
    let mut secrets = Vec::new();
    for block in issued.split("export AWS_ACCESS_KEY_ID=").skip(1) {
        let c = rotui::aws::credential_command::parse_output(&format!("export AWS_ACCESS_KEY_ID={block}"))
            .unwrap();
        secrets.push(c.secret_access_key.clone());
        secrets.push(c.session_token.clone().unwrap());
    }
    assert!(
        secrets.len() >= 4,
        "both environments' commands ran: {}",
        secrets.len()
    );
    let refs: Vec<&SecretString> = secrets.iter().collect();
    crate::support::assert_no_secret(&text, &refs);
    crate::support::assert_no_secret(&plan, &refs);
    let args = std::fs::read_to_string(&listed).unwrap();
    assert!(args.contains("eks-token.py"), "the plugin ran wrapped: {args}");
    crate::support::assert_no_secret(&args, &refs);
    let mut dirs = vec![fx.dir.path().join("state")];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(body) = std::fs::read_to_string(&path) {
                crate::support::assert_no_secret(&body, &refs);
            }
        }
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
        for key in ["credential_command", "aws_endpoint_url"] {
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
    // Through --tunnel, rotui's own end takes part in MySQL's handshake and
    // verifies the certificate against the secret's host (not the tunnel's
    // 127.0.0.1:random port), in both accounts.
    let mut tunnelled = vec!["plan"];
    tunnelled.extend(both);
    tunnelled.extend(signon);
    tunnelled.push("--tunnel");
    let (code, text) = fx.rotui(&[], &tunnelled).await;
    assert_eq!(code, Some(0), "{text}");
    for env in ["production", "staging"] {
        assert!(
            text.contains(&format!(
                "Database connection for {env}/signon/mysql: TLS verified (CA rds-ca-bundle.pem, tunnel)"
            )),
            "{env}: {text}"
        );
    }
    for env in ["production", "staging"] {
        assert!(
            !fx.touched(env, "govuk/signon/mysql").await,
            "{env} written by a refusal or a plan"
        );
        assert!(
            !fx.mysql_users(env)
                .await
                .iter()
                .any(|u| u.starts_with("signon_user_")),
            "{env}: a user made by a refusal or a plan"
        );
    }

    credentials_per_environment(&fx, &rotate(&["--yes"])).await;

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

    // Every app of the estate, drifted names included, is planned with no
    // name flags: each name found from the cluster and the secrets.
    every_app_is_planned_with_no_name_flags(&fx).await;

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
        "govuk/whitehall-admin/mysql",
        "whitehall-admin-mysql",
        "whitehall_production",
        "admin-secret-key  whitehall  (",
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
    let (user, _) = fx.current("production", "govuk/whitehall-admin/mysql").await;
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

/// `rotui plan` of every app of the estate, given only the environments,
/// app and engine: the Secret, ExternalSecret, Secrets Manager
/// key, database and admin key are the estate's, each discovered. govuk-chat's
/// admin key `chat` is neither its app's name nor its database's: its data
/// sync's CronJob names the RDS host (`DB_HOST chat-postgres`), which says
/// it (the sandbox's app secrets hold `127.0.0.1:PORT`, not the host name).
/// Planned in all three environments at once: a copied environment is
/// planned only with its source (alone, it is refused).
async fn every_app_is_planned_with_no_name_flags(fx: &Fixture) {
    use rotui_sandbox::estate::EngineKind;
    let envs = ["production", "staging", "integration"];
    for (app, spec) in &fx.estate.spec().apps {
        let engine = match spec.engine {
            EngineKind::Mysql => "mysql",
            EngineKind::Postgres => "postgres",
        };
        let plan = vec![
            "plan",
            "--env",
            envs[0],
            "--also-env",
            envs[1],
            "--also-env",
            envs[2],
            "--app",
            app,
            "--engine",
            engine,
        ];
        let (code, text) = fx.rotui(&[], &plan).await;
        if app == "govuk-chat" {
            assert!(
                text.contains("(admin secret key (db-backup CronJob's DB_HOST))"),
                "{app}: {text}"
            );
        }
        assert_eq!(code, Some(0), "{app}: {text}");
        for (flag, want) in [
            ("k8s-secret", &spec.secret),
            ("external-secret", &spec.secret),
            ("app-secret", &spec.app_secret),
            ("database", &spec.database),
            ("admin-secret-key", &spec.admin_key),
        ] {
            let line = format!("{flag:16}  {want}  (");
            assert_eq!(
                text.matches(&line).count(),
                envs.len(),
                "{app}: {line:?} once per environment: {text}"
            );
        }
        let admins: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("admin-secret-key"))
            .collect();
        assert_eq!(admins.len(), envs.len(), "{app}: {text}");
        assert!(
            admins.iter().all(|a| a.contains("(admin secret key (")),
            "{app}: discovered: {admins:?}"
        );
    }
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
    // Staging's restore job hands the database to the login this rotation
    // drops (as authenticating-proxy's, content-block-manager's and
    // email-alert-api's do): refused at the first step, nothing written,
    // the change to make said.
    fx.estate
        .set_sync_db_owner("staging", "content-store", Some("content-store"))
        .await
        .unwrap();
    let (code, text) = fx.rotui(&[], &run(&["--yes"])).await;
    assert_ne!(code, Some(0), "{text}");
    for said in [
        "staging's data sync names content-store, which this rotation drops",
        "db-backup-content-store-postgres sets DB_OWNER=content-store",
        "at cronjobs.staging.content-store-postgres: set DB_OWNER to \"content-store-owner-role\"",
    ] {
        assert!(text.contains(said), "{said:?} is said: {text}");
    }
    // Nothing but the rotation's hold (its mark) is written: no pending
    // version, no new login.
    for env in ["production", "staging"] {
        let d = fx
            .sm(env)
            .await
            .describe_secret()
            .secret_id("govuk/content-store/postgres")
            .send()
            .await
            .unwrap();
        let stages: Vec<&String> = d.version_ids_to_stages().unwrap().values().flatten().collect();
        assert!(
            !stages.iter().any(|s| *s == "AWSPENDING"),
            "{env}: nothing pending before the refusal: {stages:?}"
        );
        let logins = fx.pg_logins(env).await;
        assert!(
            !logins.iter().any(|l| l.starts_with("content-store-user-")),
            "{env}: {logins:?}"
        );
    }
    // Changed as said: the rotation goes on.
    fx.estate
        .set_sync_db_owner("staging", "content-store", Some("content-store-owner-role"))
        .await
        .unwrap();

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
    let report = fx.estate.run_sync("staging", "content-store").await.unwrap();
    // The owner role is staging's already (the rotation made it there), so
    // the new DB_OWNER takes.
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.owner.as_deref(), Some("content-store-owner-role"));
    assert_ne!(report.old_oid, report.new_oid);
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

/// Notifications (issue 24): production's webhook, a real HTTP server
/// started here, hears each kind of event from signon's rotations: one
/// blocked at its grants check (the new user's grants revoked while rotui
/// was stopped before the check) and rolled back, then one that waits for
/// the drop's confirmation and finishes. No body holds a password, and no
/// output the webhook's path. Then a webhook that takes the request and
/// never answers: whitehall-admin's rotation finishes, and rotui exits,
/// while the receiver still holds the first notice unanswered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_the_webhook_and_a_silent_one_slows_nothing() {
    use crate::webhooks::{Receiver, event_of};
    let fx = start().await;
    let receiver = Receiver::answering(&[]).await;
    let hook_path = "services/T0ESTATE/B0ESTATE/estateHookPath";
    let url = receiver.url(hook_path);
    let config = fx.config_with("hooks.toml", |t| {
        env_table(t, "production").insert("webhook_url".into(), url.clone().into());
    });
    let with_hooks = [("ROTUI_CONFIG", config.as_str())];
    let signon = ["--env", "production", "--app", "signon", "--engine", "mysql"];
    let args = |cmd: &'static str, extra: &[&'static str]| {
        let mut a = vec![cmd];
        a.extend(signon);
        a.extend(extra);
        a
    };
    let events = |r: &Receiver| r.bodies().iter().map(|b| event_of(b)).collect::<Vec<_>>();
    let mut passwords = vec![fx.current("production", "govuk/signon/mysql").await.1];
    passwords.extend(
        fx.secret_values("production", "production-rds-admin-passwords")
            .await,
    );
    let mut said = String::new();

    // Stopped before the grants check; the new user's grants revoked; let go: blocked.
    let mut cmd = fx.command(
        &[
            with_hooks[0],
            ("ROTUI_FAULT", "step/production/verify-grants:1:stop"),
        ],
        &args("rotate", &["--yes"]),
    );
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    crate::faults::until_stopped(pid).await;
    let (new_user, new_pw) = fx
        .staged("production", "govuk/signon/mysql", "AWSPENDING")
        .await
        .expect("the new password is pending");
    passwords.push(new_pw);
    {
        let mut c = sqlx::mysql::MySqlConnectOptions::from_url(
            &fx.estate.mysql("production").root_url().parse().unwrap(),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
        // The name is rotui's own (letters, digits, _), read back from the secret.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{new_user}'@'%'"
        )))
        .execute(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
    }
    crate::faults::signal(pid, nix::sys::signal::Signal::SIGCONT);
    let out = child.wait_with_output().await.unwrap();
    let text = said_by(&out);
    said.push_str(&text);
    assert_eq!(out.status.code(), Some(1), "{text}");
    receiver.wait_for("started and blocked", |b| b.len() >= 2).await;
    assert_eq!(events(&receiver), ["started", "blocked"]);
    let blocked: serde_json::Value = serde_json::from_str(&receiver.bodies()[1]).unwrap();
    let blocked = blocked["text"].as_str().unwrap();
    assert!(
        blocked.starts_with(
            "rotui: rotation of signon (mysql) in production is blocked at production/verify-grants: "
        ) && blocked.contains(&new_user),
        "{blocked}"
    );

    // Rolled back.
    let (code, text) = fx.rotui(&with_hooks, &args("rollback", &["--yes"])).await;
    said.push_str(&text);
    assert_eq!(code, Some(0), "{text}");
    receiver.wait_for("rolled_back", |b| b.len() >= 3).await;
    assert_eq!(events(&receiver)[2], "rolled_back");

    // A new rotation: waits for the drop's confirmation, then finishes.
    let (code, text) = fx.rotui(&with_hooks, &args("rotate", &["--yes"])).await;
    said.push_str(&text);
    assert_eq!(code, Some(10), "{text}");
    receiver.wait_for("started and waiting", |b| b.len() >= 5).await;
    let (code, text) = fx
        .rotui(
            &with_hooks,
            &args("rotate", &["--yes", "--confirm-drop", "signon"]),
        )
        .await;
    said.push_str(&text);
    assert_eq!(code, Some(0), "{text}");
    receiver.wait_for("finished", |b| b.len() >= 6).await;
    assert_eq!(
        events(&receiver),
        [
            "started",
            "blocked",
            "rolled_back",
            "started",
            "waiting",
            "finished"
        ]
    );
    let waiting: serde_json::Value = serde_json::from_str(&receiver.bodies()[4]).unwrap();
    assert!(
        waiting["text"]
            .as_str()
            .unwrap()
            .contains("waiting for the operator at production/drop-old-user"),
        "{waiting}"
    );
    let (final_user, final_pw) = fx.current("production", "govuk/signon/mysql").await;
    assert!(final_user.starts_with("signon_user_"), "{final_user}");
    passwords.push(final_pw);
    let bodies = receiver.bodies().join("\n");
    for pw in &passwords {
        assert!(!bodies.contains(pw.as_str()), "a password in a notice: {bodies}");
    }
    assert!(
        !said.contains(hook_path) && !said.contains("estateHookPath"),
        "{said}"
    );
    let journal = std::fs::read_dir(fx.dir.path().join("state/journal"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(!journal.contains("estateHookPath"), "{journal}");

    // A webhook that never answers: the rotation finishes, and rotui exits
    // after its bounded flush, while the receiver still holds the first notice.
    let silent = Receiver::holding().await;
    let url = silent.url("services/T1/B1/silentHookPath");
    let config = fx.config_with("silent.toml", |t| {
        env_table(t, "production").insert("webhook_url".into(), url.clone().into());
    });
    let drifted = [
        "rotate",
        "--env",
        "production",
        "--app",
        "whitehall-admin",
        "--engine",
        "mysql",
        "--yes",
        "--confirm-drop",
        "whitehall",
    ];
    let (code, text) = fx.rotui(&[("ROTUI_CONFIG", &config)], &drifted).await;
    assert_eq!(code, Some(0), "the rotation finished: {text}");
    // Every request it took (the first notice, and its retries after each
    // attempt's deadline) is still held, unanswered: delivery never got
    // past the first notice, and the rotation did not wait for it.
    let bodies = silent.bodies();
    assert!(!bodies.is_empty() && silent.held() == bodies.len(), "{bodies:?}");
    assert!(events_of(&bodies).iter().all(|e| e == "started"), "{bodies:?}");
    assert!(
        text.contains("notifications: 0 of them delivered")
            && text.contains("was given up")
            && !text.contains("silentHookPath"),
        "the lost notices are said, the URL masked: {text}"
    );
    let (user, _) = fx.current("production", "govuk/whitehall-admin/mysql").await;
    assert!(user.starts_with("whitehall_user_"), "{user}");
    silent.release();

    // A webhook that refuses (400: not retried): said once, on stderr and in
    // the journal, the URL masked; the rotation goes on to its wait.
    let refusing = Receiver::answering(&[400, 400, 400, 400]).await;
    let url = refusing.url("services/T2/B2/refusedHookPath");
    let config = fx.config_with("refusing.toml", |t| {
        env_table(t, "production").insert("webhook_url".into(), url.clone().into());
    });
    let (code, text) = fx
        .rotui(&[("ROTUI_CONFIG", &config)], &args("rotate", &["--yes"]))
        .await;
    assert_eq!(code, Some(10), "{text}");
    assert_eq!(
        text.matches("was not delivered: HTTP 400 Bad Request").count(),
        1,
        "said once: {text}"
    );
    assert!(
        text.contains(&format!("webhook http://127.0.0.1:{}/••••", refusing.port))
            && text.contains("notifications: 0 of them delivered; 2 could not be delivered")
            && !text.contains("refusedHookPath"),
        "{text}"
    );
    // signon's journal (whitehall-admin's may hold the silent webhook's failure).
    let journal =
        std::fs::read_to_string(fx.dir.path().join("state/journal/production_signon_mysql.jsonl")).unwrap();
    assert_eq!(
        journal.matches("\"event\":\"notification_failed\"").count(),
        1,
        "{journal}"
    );
    assert!(!journal.contains("refusedHookPath"), "{journal}");

    // The dashboard: its first step run starts content-store's rotation,
    // and the webhook hears it.
    let dashboard = Receiver::answering(&[]).await;
    let url = dashboard.url("services/T3/B3/dashboardHookPath");
    let config = fx.config_with("dashboard.toml", |t| {
        env_table(t, "production").insert("webhook_url".into(), url.clone().into());
    });
    let mut env = fx.exports.clone();
    for (k, v) in [
        ("ROTUI_CONFIG", config.clone()),
        (
            "ROTUI_STATE_DIR",
            fx.dir.path().join("state").to_string_lossy().into_owned(),
        ),
        ("HOME", fx.dir.path().to_string_lossy().into_owned()),
        ("PATH", std::env::var("PATH").unwrap()),
    ] {
        env.insert(k.into(), v);
    }
    let t = tokio::task::spawn_blocking(move || {
        let t = crate::tmux::Tmux::start(
            "rotui-hooks",
            &env,
            env!("CARGO_BIN_EXE_rotui"),
            "--env production --app content-store --engine postgres",
        );
        let s = t.wait_for("the step list", Duration::from_secs(60), |s| {
            crate::e2e_tui::steps(s).len() >= 10
        });
        let (n, _, _) = crate::e2e_tui::steps(&s)
            .into_iter()
            .find(|(_, status, _)| status != "done")
            .expect("a step to run");
        t.keys(&["g"]);
        for _ in 1..n {
            t.keys(&["j"]);
        }
        t.keys(&["Enter"]);
        t.wait_for("the preview", Duration::from_secs(10), |s| s.contains("Preview:"));
        t.read_preview();
        t.run_previewed("content-store");
        t.wait_for("the step to end", Duration::from_secs(60), |s| {
            crate::e2e_tui::steps(s)
                .iter()
                .any(|(m, st, _)| *m == n && st != "running" && st != "pending")
        });
        t
    })
    .await
    .unwrap();
    dashboard
        .wait_for("the dashboard's start", |b| {
            b.iter().any(|b| event_of(b) == "started")
        })
        .await;
    let body: serde_json::Value = serde_json::from_str(&dashboard.bodies()[0]).unwrap();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("rotui: rotation of content-store (postgres) in production started"),
        "{body}"
    );
    let screens = tokio::task::spawn_blocking(move || {
        t.keys(&["q"]);
        t.wait_for("rotui to exit", Duration::from_secs(30), |s| {
            crate::tmux::exit_code(s).is_some()
        });
        t.captures()
    })
    .await
    .unwrap();
    assert!(
        screens.iter().all(|s| !s.contains("dashboardHookPath")),
        "the webhook's path never on screen"
    );
    fx.estate.shutdown().await;
}

fn said_by(out: &std::process::Output) -> String {
    said(out)
}

fn events_of(bodies: &[String]) -> Vec<String> {
    bodies.iter().map(|b| crate::webhooks::event_of(b)).collect()
}

/// Which Deployments among `names` are rolling in `pods` (each pod: its
/// Deployment, template hash, ready): more than one template among its
/// pods, or a pod not ready.
fn rolling(pods: &HashMap<String, (String, String, bool)>, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter(|d| {
            let mine: Vec<_> = pods.values().filter(|p| p.0 == **d).collect();
            let templates: std::collections::BTreeSet<&str> = mine.iter().map(|p| p.1.as_str()).collect();
            templates.len() > 1 || mine.iter().any(|p| !p.2)
        })
        .map(|d| d.to_string())
        .collect()
}

/// Watch the pods of `env`'s namespace from now, in the API server's order
/// of changes, and record every moment at which some of `names` roll.
fn watch_rollouts(
    fx: &Fixture,
    env: &str,
    names: &'static [&'static str],
) -> (
    tokio::task::JoinHandle<Vec<Vec<String>>>,
    tokio::sync::oneshot::Sender<()>,
) {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::ResourceExt;
    use kube::runtime::watcher::{self, Event};
    let api: kube::Api<Pod> = kube::Api::namespaced(fx.estate.client(env).clone(), "apps");
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
        let mut pods: HashMap<String, (String, String, bool)> = HashMap::new();
        let mut seen: Vec<Vec<String>> = vec![];
        loop {
            let ev = tokio::select! {
                _ = &mut stopped => return seen,
                ev = events.next() => ev,
            };
            let Some(Ok(ev)) = ev else { continue };
            match ev {
                Event::Apply(p) | Event::InitApply(p) => {
                    let name = p.name_any();
                    let owner = p.owner_references().first().map(|o| o.name.clone());
                    match owner {
                        Some(owner) if p.metadata.deletion_timestamp.is_none() => {
                            let hash = p.labels().get("pod-template-hash").cloned().unwrap_or_default();
                            let ready = p
                                .status
                                .as_ref()
                                .and_then(|s| s.conditions.as_ref())
                                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                            pods.insert(name, (owner, hash, ready));
                        }
                        _ => {
                            pods.remove(&name);
                        }
                    }
                }
                Event::Delete(p) => {
                    pods.remove(&p.name_any());
                }
                _ => continue,
            }
            let now = rolling(&pods, names);
            if !now.is_empty() && seen.last() != Some(&now) {
                seen.push(now);
            }
        }
    });
    (task, stop)
}

/// The rotation id `rotate` printed (`rotation <id> of …`).
fn rotation_id(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("rotation ")?.split_whitespace().next())
        .unwrap_or_else(|| panic!("no rotation id: {text}"))
        .to_owned()
}

/// Health gates and rotui's own restarts (issue 24): signon's web and
/// worker Deployments without Reloader's annotation are named in the
/// promote preview as not restarted, then restarted by rotui, one at a
/// time, each behind its gate — never both rolling at once, as the API
/// server's order of pod changes shows. Then whitehall-admin, whose pods
/// fail readiness on any user but the old one, stops the plan at its gate,
/// naming it and the rollback; the rollback brings every pod back, ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_restart_what_reloader_leaves_one_at_a_time_and_stop_a_bad_switch() {
    let fx = start().await;
    // The gates are the point here: staging's signon restore from production
    // (which would keep the old user for the definers it copies, this run
    // not reading production) is suspended, so it is not followed.
    kube::Api::<k8s_openapi::api::batch::v1::CronJob>::namespaced(
        fx.estate.client("staging").clone(),
        "apps",
    )
    .patch(
        "db-backup-signon-mysql",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({ "spec": { "suspend": true } })),
    )
    .await
    .unwrap();
    let signon = ["--env", "production", "--app", "signon", "--engine", "mysql"];
    for d in ["signon", "signon-worker"] {
        patch_deployment(
            &fx,
            "production",
            d,
            serde_json::json!({ "metadata": { "annotations": { "reloader.stakater.com/auto": null } } }),
        )
        .await;
    }
    let mut plan = vec!["plan"];
    plan.extend(signon);
    let (code, text) = fx.rotui(&[], &plan).await;
    assert_eq!(code, Some(0), "{text}");
    let promote = step_section(&text, "production/promote");
    for d in ["deployment/signon ", "deployment/signon-worker "] {
        assert!(promote.contains(&format!("NOT restarted: {d}")), "{promote}");
    }
    let rollout = step_section(&text, "production/rollout");
    for shown in [
        "kubectl rollout restart -n apps deployment/signon ",
        "kubectl rollout restart -n apps deployment/signon-worker ",
        "-- health gate, each restarting workload: ready on the new credentials within 300 s",
    ] {
        assert!(
            rollout.contains(shown),
            "the rollout preview shows {shown:?}: {rollout}"
        );
    }

    let (watch, stop) = watch_rollouts(&fx, "production", &["signon", "signon-worker"]);
    let mut rotate = vec!["rotate"];
    rotate.extend(signon);
    rotate.push("--yes");
    // Killed right after its first restart's patch: run again, rotui
    // observes it rolling (then rolled) and does not restart it twice.
    let (code, text) = fx.rotui(&[("ROTUI_FAULT", "write/restart:1")], &rotate).await;
    assert_eq!(code, None, "killed after the patch: {text}");
    let first = restarted_at(&fx, "production", "signon").await;
    assert!(first.is_some(), "the patch was made");
    assert_eq!(restarted_at(&fx, "production", "signon-worker").await, None);
    let (code, text) = fx.rotui(&[], &rotate).await;
    let _ = stop.send(());
    assert_eq!(
        restarted_at(&fx, "production", "signon").await,
        first,
        "not restarted twice"
    );
    assert!(restarted_at(&fx, "production", "signon-worker").await.is_some());
    let seen = watch.await.unwrap();
    assert_eq!(
        code,
        Some(10),
        "the rollout done, waits for the drop's confirmation: {text}"
    );
    assert!(text.contains("--confirm-drop signon"), "{text}");
    assert!(
        seen.iter().any(|r| r == &["signon"]) && seen.iter().any(|r| r == &["signon-worker"]),
        "both rolled: {seen:?}"
    );
    assert!(
        seen.iter().all(|r| r.len() == 1),
        "never both rolling at once: {seen:?}"
    );
    let id = rotation_id(&text);
    let (code, journal) = fx.rotui(&[], &["journal", &id]).await;
    assert_eq!(code, Some(0), "{journal}");
    let restarted = |w: &str| {
        journal
            .lines()
            .position(|l| l.contains(&format!("rotui restarted {w} (restartedAt")))
            .unwrap_or_else(|| panic!("{w} restarted by rotui: {journal}"))
    };
    let ready_at = |w: &str| {
        journal
            .lines()
            .position(|l| l.contains(&format!("{w} ready (")))
            .unwrap_or_else(|| panic!("{w} ready: {journal}"))
    };
    // One at a time: the worker's restart only once the web's gate passed.
    assert!(restarted("deployment/signon") < ready_at("deployment/signon"));
    assert!(ready_at("deployment/signon") < restarted("deployment/signon-worker"));
    assert!(restarted("deployment/signon-worker") < ready_at("deployment/signon-worker"));
    // Observe first: run again, nothing is restarted twice.
    let (code, text) = fx.rotui(&[], &rotate).await;
    assert_eq!(code, Some(10), "{text}");
    let (_, journal) = fx.rotui(&[], &["journal", &id]).await;
    assert_eq!(journal.matches("rotui restarted").count(), 2, "{journal}");
    let out = fx.dir.path().join("reports");
    std::fs::create_dir_all(&out).unwrap();
    let (code, text) = fx
        .rotui(&[], &["report", &id, "--out", &out.to_string_lossy()])
        .await;
    assert_eq!(code, Some(0), "{text}");
    let md = std::fs::read_to_string(out.join(format!("rotui-report-{id}.md"))).unwrap();
    assert!(md.contains("### Health gates"), "{md}");
    for w in ["deployment/signon", "deployment/signon-worker"] {
        assert!(
            md.lines()
                .any(|l| l.starts_with(&format!("| {w} | rotui (restartedAt"))
                    && l.contains("| passed — ready")),
            "{w}'s restart and gate in the report: {md}"
        );
    }

    // --stagger in staging, where Reloader restarts both: each Deployment
    // paused before the sync, resumed one at a time, each gated.
    let staging = ["--env", "staging", "--app", "signon", "--engine", "mysql"];
    let (watch, stop) = watch_rollouts(&fx, "staging", &["signon", "signon-worker"]);
    let mut rotate = vec!["rotate"];
    rotate.extend(staging);
    rotate.extend(["--yes", "--stagger"]);
    // Killed right after the first resume (the two pauses before it): run
    // again, the other waits until the first is rolled out.
    let (code, paused) = fx.rotui(&[("ROTUI_FAULT", "write/pause:3")], &rotate).await;
    assert_eq!(code, None, "killed after the first resume: {paused}");
    let (code, text) = fx.rotui(&[], &rotate).await;
    let _ = stop.send(());
    let text = format!("{paused}{text}");
    let seen = watch.await.unwrap();
    assert_eq!(code, Some(10), "{text}");
    for w in ["deployment/signon\n", "deployment/signon-worker\n"] {
        assert!(
            text.contains(&format!("| kubectl rollout pause -n apps {w}")),
            "the sync pauses {w}: {text}"
        );
    }
    assert!(
        seen.iter().any(|r| r == &["signon"]) && seen.iter().any(|r| r == &["signon-worker"]),
        "both rolled: {seen:?}"
    );
    assert!(
        seen.iter().all(|r| r.len() == 1),
        "never both rolling at once: {seen:?}"
    );
    let id = rotation_id(&text);
    let (_, journal) = fx.rotui(&[], &["journal", &id]).await;
    for w in ["deployment/signon", "deployment/signon-worker"] {
        assert!(
            journal.contains(&format!("rotui resumed {w} (paused for --stagger)")),
            "{journal}"
        );
    }

    // whitehall-admin's pods are ready only on the old user.
    let whitehall = [
        "--env",
        "production",
        "--app",
        "whitehall-admin",
        "--engine",
        "mysql",
    ];
    patch_deployment(
        &fx,
        "production",
        "whitehall-admin",
        serde_json::json!({ "spec": { "template": { "metadata": { "annotations": {
            rotui_sandbox::controllers::READY_ONLY_FOR_USER: "whitehall",
        }}}}}),
    )
    .await;
    all_ready(&fx, "whitehall-admin").await;
    let mut rotate = vec!["rotate"];
    rotate.extend(whitehall);
    rotate.extend(["--yes", "--gate-timeout", "10"]);
    let (code, text) = fx.rotui(&[], &rotate).await;
    assert_eq!(code, Some(1), "stopped at the gate: {text}");
    assert!(
        text.contains("production: health gate: deployment/whitehall-admin is not ready within 10 s"),
        "names the workload and why: {text}"
    );
    assert!(
        text.contains("roll back to whitehall with `rotui rollback`") && text.contains("B in the"),
        "offers the rollback: {text}"
    );
    // A rollback restarts behind the same gates, bounded by its own
    // --gate-timeout: with pods ready for nobody it stops there, naming the
    // workload and what to do.
    patch_deployment(
        &fx,
        "production",
        "whitehall-admin",
        serde_json::json!({ "spec": { "template": { "metadata": { "annotations": {
            rotui_sandbox::controllers::READY_ONLY_FOR_USER: "nobody",
        }}}}}),
    )
    .await;
    let mut rollback = vec!["rollback"];
    rollback.extend(whitehall);
    rollback.push("--yes");
    let mut gated = rollback.clone();
    gated.extend(["--gate-timeout", "5"]);
    let (code, text) = fx.rotui(&[], &gated).await;
    assert_eq!(code, Some(1), "the rollback stopped at its gate: {text}");
    assert!(
        text.contains("production: health gate: deployment/whitehall-admin is not ready within 5 s")
            && text.contains("then run the rollback again"),
        "names the workload, its own bound and what to do: {text}"
    );
    patch_deployment(
        &fx,
        "production",
        "whitehall-admin",
        serde_json::json!({ "spec": { "template": { "metadata": { "annotations": {
            rotui_sandbox::controllers::READY_ONLY_FOR_USER: "whitehall",
        }}}}}),
    )
    .await;
    let (code, text) = fx.rotui(&[], &rollback).await;
    assert_eq!(code, Some(0), "the rollback finishes: {text}");
    let (user, _) = fx.current("production", "govuk/whitehall-admin/mysql").await;
    assert_eq!(user, "whitehall");
    // The rollback's rollout step checked every serving pod holds the old
    // user; none is left unready or on another template.
    all_ready(&fx, "whitehall-admin").await;
    fx.estate.shutdown().await;
}

/// The pod template's `kubectl.kubernetes.io/restartedAt` of Deployment `name`.
async fn restarted_at(fx: &Fixture, env: &str, name: &str) -> Option<String> {
    use k8s_openapi::api::apps::v1::Deployment;
    let api: kube::Api<Deployment> = kube::Api::namespaced(fx.estate.client(env).clone(), "apps");
    let d = api.get(name).await.unwrap();
    d.spec?
        .template
        .metadata?
        .annotations?
        .get("kubectl.kubernetes.io/restartedAt")
        .cloned()
}

/// Wait until Deployment `name` in production is rolled out: every pod of
/// one template, each ready, as many as it wants.
async fn all_ready(fx: &Fixture, name: &str) {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    let client = fx.estate.client("production").clone();
    let deployments: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), "apps");
    let pods: kube::Api<Pod> = kube::Api::namespaced(client, "apps");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let d = deployments.get(name).await.unwrap();
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1) as usize;
        let uid = d.metadata.uid.clone();
        let mine: Vec<Pod> = pods
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| {
                p.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| Some(&o.uid) == uid.as_ref())
            })
            .collect();
        let state: HashMap<String, (String, String, bool)> = mine
            .iter()
            .map(|p| {
                let ready = p
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                let hash = p
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("pod-template-hash"))
                    .cloned()
                    .unwrap_or_default();
                (
                    p.metadata.name.clone().unwrap_or_default(),
                    (name.to_owned(), hash, ready),
                )
            })
            .collect();
        if mine.len() == want && rolling(&state, &[name]).is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never rolled out: {state:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Issue 23, on the estate's three environments with the data sync run on
/// demand between steps:
/// - email-alert-api, whose staging and integration restores hand the
///   database to its login (`DB_OWNER`) and whose staging transform re-owns
///   a table to it: refused before any write, naming the CronJobs and the
///   change; once the clusters show the change it rotates in all three
///   environments (staging waiting for its restore, integration for its
///   weekly one from staging; a restore made to fail keeps the wait open,
///   saying why), and the next restores succeed with the table usable by
///   the app's new login and its pods connected;
/// - whitehall-admin (MySQL, a view and a trigger defined by its login,
///   synced with their DEFINERs): after the rotation and the next
///   restores every view and trigger in staging and integration works;
/// - account-api (backup only): every environment rotated with no wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_sync_is_followed_and_never_broken_by_a_rotation() {
    let fx = start().await;
    let envs = ["production", "staging", "integration"];
    let run = |verb: &'static str, app: &'static str, engine: &'static str, extra: &[&'static str]| {
        let mut a = vec![
            verb,
            "--env",
            "production",
            "--also-env",
            "staging",
            "--also-env",
            "integration",
            "--app",
            app,
            "--engine",
            engine,
        ];
        a.extend(extra);
        a
    };
    let secret = "govuk/email-alert-api/postgres";
    let owner = "email-alert-api-owner-role";

    // The plan reads each cluster's sync.
    let (code, text) = fx
        .rotui(&[], &run("plan", "email-alert-api", "postgres", &[]))
        .await;
    assert_eq!(code, Some(0), "{text}");
    for said in [
        "staging: restored from production by db-backup-email-alert-api-postgres (54 1 * * 1-5), next ",
        "integration: restored from staging by db-backup-email-alert-api-postgres (54 3 * * 1), next ",
        "production: not restored (db-backup-email-alert-api-postgres only backs up)",
    ] {
        assert!(text.contains(said), "{said:?} not in: {text}");
    }

    // Refused at its first step, before anything is written.
    let (code, refusal) = fx
        .rotui(&[], &run("rotate", "email-alert-api", "postgres", &["--yes"]))
        .await;
    assert_eq!(code, Some(1), "{refusal}");
    for said in [
        "production/inspect",
        "staging's data sync names email-alert-api, which this rotation drops",
        "db-backup-email-alert-api-postgres sets DB_OWNER=email-alert-api",
        "transform email-alert-api.sql: ALTER TABLE emails OWNER TO \"email-alert-api\";",
        "integration's data sync names email-alert-api",
        "cronjobs.staging.email-alert-api-postgres",
        "set DB_OWNER to \"email-alert-api-owner-role\"",
    ] {
        assert!(refusal.contains(said), "{said:?} not in: {refusal}");
    }
    for env in envs {
        assert!(!fx.touched(env, secret).await, "{env} written before the refusal");
    }

    // The dashboard on staging alone (a copy of production's database)
    // refuses before its first step, saying why and what to do, writing nothing.
    let mut env = fx.exports.clone();
    for (k, v) in [
        (
            "ROTUI_STATE_DIR",
            fx.dir.path().join("state").to_string_lossy().into_owned(),
        ),
        ("HOME", fx.dir.path().to_string_lossy().into_owned()),
        ("PATH", std::env::var("PATH").unwrap()),
    ] {
        env.insert(k.into(), v);
    }
    let screen = tokio::task::spawn_blocking(move || {
        let t = crate::tmux::Tmux::start(
            "rotui-sync",
            &env,
            env!("CARGO_BIN_EXE_rotui"),
            "--env staging --app email-alert-api --engine postgres",
        );
        let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let s = t.wait_for("the refusal", Duration::from_secs(90), |s| {
            flat(s).contains("staging is restored from production by the data sync")
        });
        t.keys(&["q"]);
        s
    })
    .await
    .unwrap();
    assert!(screen.contains("rotate production too"), "{screen}");
    assert!(!fx.touched("staging", secret).await);

    // The change the refusal shows, as the chart's values would make it.
    for env in ["staging", "integration"] {
        fx.estate
            .set_sync_db_owner(env, "email-alert-api", Some(owner))
            .await
            .unwrap();
    }
    {
        use k8s_openapi::api::core::v1::ConfigMap;
        let api: kube::Api<ConfigMap> = kube::Api::namespaced(fx.estate.client("staging").clone(), "apps");
        let mut cm = api.get("db-backup").await.unwrap();
        let data = cm.data.as_mut().unwrap();
        let script = data.get_mut("email-alert-api.sql").unwrap();
        *script = script.replace("OWNER TO \"email-alert-api\"", &format!("OWNER TO \"{owner}\""));
        api.replace("db-backup", &Default::default(), &cm).await.unwrap();
    }

    // Production rotates; staging waits for its restore.
    let (code, text) = fx
        .rotui(&[], &run("rotate", "email-alert-api", "postgres", &["--yes"]))
        .await;
    assert_eq!(code, Some(10), "{text}");
    assert!(text.contains("waiting") && text.contains("staging"), "{text}");
    let (new_user, _) = fx.current("production", secret).await;
    assert!(new_user.starts_with("email-alert-api-user-"), "{new_user}");

    // A restore that fails after its swap keeps the wait open, saying why.
    fx.estate
        .set_sync_db_owner("staging", "email-alert-api", Some("no-such-owner"))
        .await
        .unwrap();
    let failed = fx.estate.run_sync("staging", "email-alert-api").await.unwrap();
    assert!(!failed.succeeded(), "{failed:?}");
    let (code, text) = fx
        .rotui(&[], &run("rotate", "email-alert-api", "postgres", &["--yes"]))
        .await;
    assert_eq!(code, Some(10), "{text}");
    assert!(
        text.contains("staging: restored from production")
            && text.contains("last run failed: container 0-restore failed: after the swap")
            && text.contains("\"no-such-owner\""),
        "{text}"
    );
    // The wait's own line (plan, the Steps pane) names the Job and what to do.
    let (_, text) = fx
        .rotui(&[], &run("plan", "email-alert-api", "postgres", &[]))
        .await;
    assert!(
        text.contains(&format!("its job {} failed", failed.job))
            && text.contains(&format!("kubectl logs job/{}", failed.job)),
        "{text}"
    );
    assert_ne!(
        fx.current("staging", secret).await.0,
        new_user,
        "staging switched on a failed restore"
    );

    // Put right, the next restore succeeds: staging switches; integration
    // waits for its weekly restore from staging.
    fx.estate
        .set_sync_db_owner("staging", "email-alert-api", Some(owner))
        .await
        .unwrap();
    let night = fx.estate.run_sync("staging", "email-alert-api").await.unwrap();
    assert!(night.succeeded(), "{night:?}");
    let (code, text) = fx
        .rotui(&[], &run("rotate", "email-alert-api", "postgres", &["--yes"]))
        .await;
    assert_eq!(code, Some(10), "{text}");
    assert!(text.contains("integration"), "{text}");
    assert_eq!(fx.current("staging", secret).await.0, new_user);
    assert_ne!(fx.current("integration", secret).await.0, new_user);
    let weekly = fx
        .estate
        .run_sync("integration", "email-alert-api")
        .await
        .unwrap();
    assert!(weekly.succeeded(), "{weekly:?}");
    let (code, text) = fx
        .rotui(&[], &run("rotate", "email-alert-api", "postgres", &["--yes"]))
        .await;
    assert_eq!(code, Some(10), "stops for the drop's confirmation: {text}");
    let (code, text) = fx
        .rotui(
            &[],
            &run(
                "rotate",
                "email-alert-api",
                "postgres",
                &["--yes", "--confirm-drop", "email-alert-api"],
            ),
        )
        .await;
    assert_eq!(code, Some(0), "{text}");
    for env in envs {
        assert_eq!(fx.current(env, secret).await.0, new_user, "{env}");
        let logins = fx.pg_logins(env).await;
        assert!(
            logins.contains(&new_user) && !logins.contains(&"email-alert-api".to_owned()),
            "{env}: {logins:?}"
        );
    }

    // The next restores succeed, and the app works on what they bring.
    for env in ["staging", "integration"] {
        let r = fx.estate.run_sync(env, "email-alert-api").await.unwrap();
        assert!(r.succeeded(), "{env}: {r:?}");
        assert_eq!(r.owner.as_deref(), Some(owner), "{env}");
        let (user, password) = fx.current(env, secret).await;
        let mut app = sqlx::PgConnection::connect_with(
            &fx.estate
                .postgres(env)
                .superuser_options("email-alert-api_production")
                .username(&user)
                .password(&password),
        )
        .await
        .unwrap_or_else(|e| panic!("{env}: the app's login after the restore: {e}"));
        sqlx::query("INSERT INTO emails (address, subject) VALUES ('c@example.com', 'After the restore')")
            .execute(&mut app)
            .await
            .unwrap_or_else(|e| panic!("{env}: the restored emails table: {e}"));
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM emails")
            .fetch_one(&mut app)
            .await
            .unwrap();
        assert!(n >= 1, "{env}");
        app.close().await.unwrap();
        all_ready_in(&fx, env, "email-alert-api").await;
    }

    // MySQL: views and triggers arrive with their source's DEFINERs.
    let (code, text) = fx
        .rotui(&[], &run("rotate", "whitehall-admin", "mysql", &["--yes"]))
        .await;
    assert_eq!(code, Some(10), "stops for the drop's confirmation: {text}");
    let (code, text) = fx
        .rotui(
            &[],
            &run(
                "rotate",
                "whitehall-admin",
                "mysql",
                &["--yes", "--confirm-drop", "whitehall"],
            ),
        )
        .await;
    assert_eq!(code, Some(0), "{text}");
    for env in ["staging", "integration"] {
        let r = fx.estate.run_sync(env, "whitehall-admin").await.unwrap();
        assert!(r.succeeded(), "{env}: {r:?}");
        let (user, password) = fx.current(env, "govuk/whitehall-admin/mysql").await;
        assert_ne!(user, "whitehall");
        let mut app =
            sqlx::mysql::MySqlConnectOptions::from_url(&fx.estate.mysql(env).root_url().parse().unwrap())
                .unwrap()
                .username(&user)
                .password(&password)
                .database("whitehall_production")
                .connect()
                .await
                .unwrap_or_else(|e| panic!("{env}: the app's login: {e}"));
        let titles: Vec<(String,)> = sqlx::query_as("SELECT CAST(title AS CHAR) FROM published_editions")
            .fetch_all(&mut app)
            .await
            .unwrap_or_else(|e| panic!("{env}: the view after the restore: {e}"));
        assert!(!titles.is_empty(), "{env}");
        sqlx::query("UPDATE editions SET title = CONCAT(title, '') LIMIT 1")
            .execute(&mut app)
            .await
            .unwrap_or_else(|e| panic!("{env}: a write firing the trigger: {e}"));
        app.close().await.unwrap();
    }

    // Not copied: every environment rotated directly, no wait.
    let (code, text) = fx.rotui(&[], &run("plan", "account-api", "postgres", &[])).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("staging: not restored (db-backup-account-api-postgres only backs up)")
            && !text.contains("await-overnight-sync"),
        "{text}"
    );
    let (code, text) = fx
        .rotui(&[], &run("rotate", "account-api", "postgres", &["--yes"]))
        .await;
    assert_eq!(code, Some(10), "stops for the drop's confirmation: {text}");
    let (code, text) = fx
        .rotui(
            &[],
            &run(
                "rotate",
                "account-api",
                "postgres",
                &["--yes", "--confirm-drop", "account-api"],
            ),
        )
        .await;
    assert_eq!(code, Some(0), "{text}");

    // The apps no other test rotates, drifted names and all, with no name
    // flags (production: their copies follow the next restores).
    for app in ["collections-publisher", "govuk-chat", "bouncer", "publishing-api"] {
        let spec = &fx.estate.spec().apps[app];
        let engine = match spec.engine {
            rotui_sandbox::estate::EngineKind::Mysql => "mysql",
            rotui_sandbox::estate::EngineKind::Postgres => "postgres",
        };
        let args = [
            "rotate",
            "--env",
            "production",
            "--app",
            app,
            "--engine",
            engine,
            "--yes",
        ];
        let (code, text) = fx.rotui(&[], &args).await;
        assert_eq!(code, Some(10), "{app}: stops for the drop's confirmation: {text}");
        let mut confirmed = args.to_vec();
        confirmed.extend(["--confirm-drop", spec.username.as_str()]);
        let (code, text) = fx.rotui(&[], &confirmed).await;
        assert_eq!(code, Some(0), "{app}: {text}");
        let (user, _) = fx.current("production", &spec.app_secret).await;
        assert_ne!(user, spec.username, "{app}");
    }
    fx.estate.shutdown().await;
}

/// Wait until Deployment `name` in `env` has every replica ready.
async fn all_ready_in(fx: &Fixture, env: &str, name: &str) {
    use k8s_openapi::api::apps::v1::Deployment;
    let api: kube::Api<Deployment> = kube::Api::namespaced(fx.estate.client(env).clone(), "apps");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let d = api.get(name).await.unwrap();
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let ready = d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
        if ready >= want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{env}: {name} not ready: {:?}",
            d.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
