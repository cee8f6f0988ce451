//! Environments as configuration: each environment its own AWS account (a
//! moto server of its own, with its own account id) and its own cluster (a
//! kubeconfig context whose cluster is an EKS ARN). The real binary runs
//! against the sandbox with a config file, as an operator would.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_secretsmanager::Client;
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui_sandbox::moto::MotoServer;
use rotui_sandbox::world::World;

/// moto's account when `MOTO_ACCOUNT_ID` is not set: the sandbox's.
const SANDBOX_ACCOUNT: &str = "123456789012";
const STAGING_ACCOUNT: &str = "222222222222";

fn arn(account: &str) -> String {
    format!("arn:aws:eks:eu-west-1:{account}:cluster/govuk")
}

/// A kubeconfig with contexts `production` and `staging`, each naming a
/// cluster by its EKS ARN; both reach the sandbox's API server.
fn two_contexts(world: &World, dir: &Path, production: &str, staging: &str) -> PathBuf {
    let text = std::fs::read_to_string(&world.info().kubeconfig).unwrap();
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("kubeconfig names a server");
    let mut out = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for cluster in [production, staging] {
        out.push_str(&format!("- name: {cluster}\n  cluster:\n    server: {server}\n"));
    }
    out.push_str("users:\n- name: u\n  user: {}\ncontexts:\n");
    for (name, cluster) in [("production", production), ("staging", staging)] {
        out.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {cluster}\n    user: u\n"
        ));
    }
    out.push_str("current-context: production\n");
    let path = dir.join("kubeconfig-two");
    std::fs::write(&path, out).unwrap();
    path
}

/// `rotui ARGS` with the sandbox's credentials but neither its endpoint nor
/// its kubeconfig: the config says where each environment is.
fn rotui(
    dir: &Path,
    sandbox_env: &HashMap<String, String>,
    kubeconfig: &Path,
    config: &str,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let path = dir.join("config.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rotui"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", dir)
        .env("ROTUI_STATE_DIR", dir.join("state"))
        .envs(
            sandbox_env
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "AWS_ENDPOINT_URL" | "KUBECONFIG")),
        )
        .env("KUBECONFIG", kubeconfig)
        .env("ROTUI_CONFIG", &path)
        .output()
        .expect("rotui runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn env_block(name: &str, endpoint: &str, account: &str, context: &str, cluster: &str) -> String {
    format!(
        "[environments.{name}]\naws_endpoint_url = \"{endpoint}\"\naccount_id = \"{account}\"\n\
         kube_context = \"{context}\"\ncluster = \"{cluster}\"\n"
    )
}

async fn session_on(endpoint: &str, key: &str) -> AwsSession {
    let opts = AwsOptions {
        endpoint_url: Some(endpoint.to_owned()),
        region: Some("eu-west-1".into()),
        ..AwsOptions::default()
    };
    AwsSession::with_credentials(&opts, &StaticCredentials::new(key, key))
        .await
        .unwrap()
}

/// Versions of the app secret and users named like the new one: what a
/// rotation's first writes would change.
async fn written(session: &AwsSession, secret: &str, admin: &rotui::db::Db, app: &str) -> (usize, usize) {
    let versions = session.secrets().versions(secret).await.unwrap().len();
    let prefix = format!("{app}_user_");
    let users = admin.users().await.unwrap();
    (
        versions,
        users.iter().filter(|u| u.name.starts_with(&prefix)).count(),
    )
}

#[test]
fn several_environments_without_config_are_refused_showing_the_toml() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[environments.production]\naccount_id = \"111111111111\"\nkube_context = \"production\"\n";
    let kubeconfig = dir.path().join("no-kubeconfig");
    let started = std::time::Instant::now();
    let (code, _, stderr) = rotui(
        dir.path(),
        &HashMap::new(),
        &kubeconfig,
        config,
        &[
            "rotate",
            "--yes",
            "--env",
            "production",
            "--also-env",
            "staging",
            "--app",
            "signon",
            "--engine",
            "mysql",
        ],
    );
    assert_ne!(code, Some(0), "{stderr}");
    let path = dir.path().join("config.toml");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("staging is not configured"), "{stderr}");
    assert!(stderr.contains("[environments.staging]"), "{stderr}");
    assert!(stderr.contains("account_id = "), "{stderr}");
    assert!(stderr.contains("kube_context = "), "{stderr}");
    assert!(
        stderr.contains("credential_command = \"gds aws govuk-staging-platformengineer -e\""),
        "{stderr}"
    );
    assert!(!stderr.contains("[environments.production]"), "{stderr}");
    // Refused before connecting to anything (there is nothing to connect to).
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// The sandbox's environment plays production. Its config names account
/// 111…, but the session is the sandbox's account, which the config says is
/// staging's: refused, naming both, with nothing written. Then a context whose cluster is staging's. Then, right,
/// the preflight passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_refuses_another_environments_account_or_cluster_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let info = world.info().clone();
    let sandbox_env = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("sandbox.env")).unwrap(),
    );
    let moto = &info.aws_endpoint_url;
    let session = session_on(moto, &info.aws_access_key_id).await;
    let admin_password = session
        .secrets()
        .admin_password(&info.mysql.admin_secret, &info.mysql.app)
        .await
        .unwrap();
    let admin = rotui::db::Db::connect(
        rotui::target::Engine::Mysql,
        &info.mysql.admin_url,
        Some(&admin_password),
    )
    .await
    .unwrap();
    let app = &info.mysql.app;
    let before = written(&session, &info.mysql.app_secret, &admin, app).await;
    let kubeconfig = two_contexts(&world, dir.path(), &arn(SANDBOX_ACCOUNT), &arn(STAGING_ACCOUNT));
    let prod = info.env.as_str();
    let args = [
        "rotate", "--yes", "--env", prod, "--app", app, "--engine", "mysql",
    ];

    // The session is the sandbox's account, which is staging's here.
    let config = env_block(prod, moto, "111111111111", "production", &arn(SANDBOX_ACCOUNT))
        + &env_block("staging", moto, SANDBOX_ACCOUNT, "staging", &arn(STAGING_ACCOUNT));
    let (code, _, stderr) = rotui(dir.path(), &sandbox_env, &kubeconfig, &config, &args);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{prod}: the AWS session is account {SANDBOX_ACCOUNT} (staging?), expected 111111111111"
        )),
        "{stderr}"
    );
    assert_eq!(
        written(&session, &info.mysql.app_secret, &admin, app).await,
        before
    );

    // The right account, but production's context is staging's cluster.
    let config = env_block(prod, moto, SANDBOX_ACCOUNT, "staging", &arn(SANDBOX_ACCOUNT))
        + &env_block("staging", moto, STAGING_ACCOUNT, "staging", &arn(STAGING_ACCOUNT));
    let (code, _, stderr) = rotui(dir.path(), &sandbox_env, &kubeconfig, &config, &args);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("1 of"), "only the cluster is wrong: {stderr}");
    assert!(
        stderr.contains(&format!(
            "{prod}: kube context staging is cluster {} (staging?), expected {}",
            arn(STAGING_ACCOUNT),
            arn(SANDBOX_ACCOUNT)
        )),
        "{stderr}"
    );
    assert_eq!(
        written(&session, &info.mysql.app_secret, &admin, app).await,
        before
    );

    // Both right: `plan` shows the checks passing.
    let config = env_block(prod, moto, SANDBOX_ACCOUNT, "production", &arn(SANDBOX_ACCOUNT));
    let (code, stdout, stderr) = rotui(
        dir.path(),
        &sandbox_env,
        &kubeconfig,
        &config,
        &["plan", "--env", prod, "--app", app, "--engine", "mysql"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("checks passed"), "{stdout}");
    admin.close().await;
    world.shutdown().await;
}

/// `--env sandbox --also-env staging` (the sandbox playing production):
/// staging's secrets exist only in
/// staging's own account (a second moto server), so the plan and its
/// preflight pass only if each environment uses its own endpoint, and the
/// session of each is checked against its own account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_uses_its_own_account_and_context() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let info = world.info().clone();
    let sandbox_env = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("sandbox.env")).unwrap(),
    );
    let staging = MotoServer::start_for_account(STAGING_ACCOUNT).expect("moto starts");
    let production = session_on(&info.aws_endpoint_url, &info.aws_access_key_id).await;
    let staged = session_on(&staging.endpoint_url(), &info.aws_access_key_id).await;
    assert_eq!(staged.caller_identity().await.unwrap().account, STAGING_ACCOUNT);

    // Staging's copies of the app and admin secrets, in staging's account only.
    let raw = |s: &AwsSession, name: &str| {
        let client = Client::new(s.sdk_config());
        let name = name.to_owned();
        async move {
            client
                .get_secret_value()
                .secret_id(name)
                .send()
                .await
                .unwrap()
                .secret_string
                .unwrap()
        }
    };
    let app_secret = raw(&production, &info.mysql.app_secret).await;
    let admin_secret = raw(&production, &info.mysql.admin_secret).await;
    let staging_admin = info.mysql.admin_secret.replacen(&info.env, "staging", 1);
    assert_ne!(staging_admin, info.mysql.admin_secret);
    for (name, value) in [
        (&info.mysql.app_secret, app_secret),
        (&staging_admin, admin_secret),
    ] {
        Client::new(staged.sdk_config())
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
    let staging_admin_in_production = Client::new(production.sdk_config())
        .describe_secret()
        .secret_id(&staging_admin)
        .send()
        .await;
    assert!(
        staging_admin_in_production.is_err(),
        "staging's admin secret is only in staging's account"
    );

    let kubeconfig = two_contexts(&world, dir.path(), &arn(SANDBOX_ACCOUNT), &arn(STAGING_ACCOUNT));
    let config = env_block(
        &info.env,
        &info.aws_endpoint_url,
        SANDBOX_ACCOUNT,
        "production",
        &arn(SANDBOX_ACCOUNT),
    ) + &env_block(
        "staging",
        &staging.endpoint_url(),
        STAGING_ACCOUNT,
        "staging",
        &arn(STAGING_ACCOUNT),
    );
    let app = &info.mysql.app;
    let args = [
        "plan",
        "--env",
        &info.env,
        "--also-env",
        "staging",
        "--app",
        app,
        "--engine",
        "mysql",
    ];
    let (code, stdout, stderr) = rotui(dir.path(), &sandbox_env, &kubeconfig, &config, &args);
    assert_eq!(code, Some(0), "{stderr}\n{stdout}");
    assert!(stdout.contains("checks passed"), "{stdout}");

    // Staging pointed at production's account: its own secret is not there,
    // and its session is named as production's.
    let config = env_block(
        &info.env,
        &info.aws_endpoint_url,
        SANDBOX_ACCOUNT,
        "production",
        &arn(SANDBOX_ACCOUNT),
    ) + &env_block(
        "staging",
        &info.aws_endpoint_url,
        STAGING_ACCOUNT,
        "staging",
        &arn(STAGING_ACCOUNT),
    );
    let (code, stdout, stderr) = rotui(dir.path(), &sandbox_env, &kubeconfig, &config, &args);
    assert_ne!(code, Some(0), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "staging: the AWS session is account {SANDBOX_ACCOUNT} ({}?), expected {STAGING_ACCOUNT}",
            info.env
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&staging_admin),
        "its admin secret is not found: {stderr}"
    );
    world.shutdown().await;
}
