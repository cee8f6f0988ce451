//! `rotui plan` and `rotui rotate` as the binary runs them, on the whole
//! sandbox, for an app whose DATABASE_URL no longer parses: its password
//! holds `@ : / % # ?` and a space, which the ExternalSecret's template
//! writes unescaped. The plan says so before any write; the rotation mends
//! it, where it used to fail at force-sync on every rerun.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui::db::Db;
use rotui::db::ident::{mysql_account, mysql_str};
use rotui::k8s::externalsecret::{ForceSync, SyncOutcome};
use rotui::k8s::{K8s, KubeOptions};
use rotui::secret::{self, ExposeSecret};
use rotui::target::{Engine, Target};
use rotui_sandbox::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_flags_an_unparsable_database_url_and_rotate_mends_it() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let info = world.info();
    let target = Target::new(&info.env, &info.mysql.app, Engine::Mysql);

    // The app's password becomes one a URL must escape, in the database,
    // in AWSCURRENT and (synced, unescaped) in the Secret.
    let broken = secret::secret(format!(
        "{}@:/%#? {}",
        &secret::generate_password().expose_secret()[..8],
        &secret::generate_password().expose_secret()[..4]
    ));
    let opts = AwsOptions {
        endpoint_url: Some(info.aws_endpoint_url.clone()),
        region: Some(info.aws_region.clone()),
        ..AwsOptions::default()
    };
    let key = &info.aws_access_key_id;
    let session = AwsSession::with_credentials(&opts, &StaticCredentials::new(key, key))
        .await
        .unwrap();
    let admin_password = session
        .secrets()
        .admin_password(&target.admin_secret, &target.admin_secret_key)
        .await
        .unwrap();
    let db = Db::connect(Engine::Mysql, &info.mysql.admin_url, Some(&admin_password))
        .await
        .unwrap();
    let Db::Mysql(mysql) = &db else {
        panic!("a MySQL admin")
    };
    let app = &info.mysql.app;
    mysql
        .execute(&[rotui::db::Statement::new(format!(
            "ALTER USER {} IDENTIFIED BY {}",
            mysql_account(app, "%"),
            mysql_str(broken.expose_secret())
        ))])
        .await
        .unwrap();
    db.close().await;
    let current = session.secrets().app_secret(&target.app_secret).await.unwrap();
    let mut body = current.other.clone();
    body.insert("username".into(), app.clone().into());
    body.insert("password".into(), broken.expose_secret().into());
    body.insert("host".into(), current.host.clone().into());
    aws_sdk_secretsmanager::Client::new(session.sdk_config())
        .put_secret_value()
        .secret_id(&target.app_secret)
        .secret_string(serde_json::Value::Object(body).to_string())
        .send()
        .await
        .unwrap();
    let k8s = K8s::connect(&KubeOptions {
        kubeconfig: Some(info.kubeconfig.clone()),
        context: None,
        namespace: Some(info.namespace.clone()),
        exec_env: None,
    })
    .await
    .unwrap();
    let sync = ForceSync::plan(&k8s, &target.external_secret, None)
        .await
        .unwrap();
    assert!(matches!(
        sync.run(&k8s, Duration::from_secs(30)).await.unwrap(),
        SyncOutcome::Synced(_)
    ));
    let secrets: kube::Api<Secret> = kube::Api::namespaced(world.client().clone(), &info.namespace);
    let s = secrets.get(&target.k8s_secret).await.unwrap();
    let url = String::from_utf8(s.data.unwrap()["DATABASE_URL"].0.clone()).unwrap();
    assert!(
        url::Url::parse(&url).is_err(),
        "the Secret's URL no longer parses"
    );

    let env = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("sandbox.env")).unwrap(),
    );
    let rotui = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rotui"))
            .args(args)
            .args(["--app", "signon", "--engine", "mysql"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", dir.path())
            .env("ROTUI_STATE_DIR", dir.path().join("state"))
            .envs(&env)
            .env("KUBECONFIG", &info.kubeconfig)
            .output()
            .expect("rotui runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        crate::support::assert_no_secret(&text, &[&broken]);
        (out.status.code(), text)
    };

    // Said before any write, with what to do.
    let (code, text) = rotui(&["plan"]);
    assert_eq!(code, Some(0), "{text}");
    for words in [
        "do not stop the rotation",
        "DATABASE_URL is not a valid URL",
        "the app is broken already",
        "percent-encode",
    ] {
        assert!(text.contains(words), "{words}: {text}");
    }
    // The rotation says it too, and goes on to the drop's confirmation…
    let (code, text) = rotui(&["rotate", "--yes"]);
    assert_eq!(code, Some(10), "{text}");
    assert!(text.contains("DATABASE_URL is not a valid URL"), "{text}");
    // …and to the end: the app runs on a URL that parses.
    let (code, text) = rotui(&["rotate", "--yes", "--confirm-drop", app]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = rotui(&["plan"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("DATABASE_URL is not a valid URL"), "{text}");
    let s = secrets.get(&target.k8s_secret).await.unwrap();
    let url = String::from_utf8(s.data.unwrap()["DATABASE_URL"].0.clone()).unwrap();
    assert!(url::Url::parse(&url).is_ok(), "the Secret's URL parses");
    world.shutdown().await;
}
