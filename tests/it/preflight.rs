//! The preflight against the whole sandbox: a rotation's needs checked
//! before any write, each failure named.

use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui::connect::Connected;
use rotui::db::Db;
use rotui::k8s::{K8s, KubeOptions};
use rotui::preflight;
use rotui::target::{Engine, Target};
use rotui_sandbox::world::World;

/// What `connect::open` would build from the sandbox's exports, made
/// in-process (the tests share one environment, so no env vars).
async fn connected(world: &World, kubeconfig: &std::path::Path) -> Connected {
    let info = world.info();
    let target = Target::new(&info.env, &info.mysql.app, Engine::Mysql);
    let opts = AwsOptions {
        endpoint_url: Some(info.aws_endpoint_url.clone()),
        region: Some(info.aws_region.clone()),
        ..AwsOptions::default()
    };
    let key = &info.aws_access_key_id;
    let session = AwsSession::with_credentials(&opts, &StaticCredentials::new(key, key))
        .await
        .expect("sandbox session");
    let password = session
        .secrets()
        .admin_password(&target.admin_secret, &target.admin_secret_key)
        .await
        .expect("admin password");
    let db = Db::connect(Engine::Mysql, &info.mysql.admin_url, Some(&password))
        .await
        .expect("admin connects");
    let k8s = K8s::connect(&KubeOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
        namespace: Some(target.namespace.clone()),
        exec_env: None,
    })
    .await
    .map_err(rotui::secret::Redacted::error);
    Connected {
        target,
        session: Ok(session),
        db: Ok(db),
        k8s,
        kube_context: None,
        kube_cluster: None,
        environments: Default::default(),
        tunnel: None,
        db_addr: None,
        tls_relay: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_names_each_missing_permission_and_an_unreachable_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let c = connected(&world, &world.info().kubeconfig).await;

    let report = preflight::check(&c, false).await;
    assert!(report.passed(), "{report}");
    assert!(report.checks.len() > 8, "{report:?}");

    let store = world.kube_store();
    store.deny("patch", "externalsecrets");
    store.deny("create", "pods/exec");
    let report = preflight::check(&c, false).await;
    assert!(!report.passed());
    let failed: Vec<&str> = report.failures().map(|f| f.what.as_str()).collect();
    assert_eq!(
        failed,
        [
            "patch externalsecrets.external-secrets.io/signon-mysql",
            "create pods --subresource=exec"
        ]
    );
    let text = report.to_string();
    assert!(text.contains("2 of"), "{text}");
    assert!(text.contains("nothing was written"), "{text}");
    assert!(text.contains("kubectl auth can-i"), "{text}");
    store.allow("patch", "externalsecrets");
    store.allow("create", "pods/exec");

    // A kubeconfig whose server does not answer.
    let closed = rotui_sandbox::guard::free_port();
    let text = std::fs::read_to_string(&world.info().kubeconfig).unwrap();
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("kubeconfig names a server")
        .to_owned();
    let dead = dir.path().join("dead-kubeconfig");
    std::fs::write(
        &dead,
        text.replace(&server, &format!("http://127.0.0.1:{closed}")),
    )
    .unwrap();
    let c = connected(&world, &dead).await;
    let report = preflight::check(&c, false).await;
    let failed: Vec<String> = report
        .failures()
        .map(|f| format!("{}: {}", f.what, f.problem.as_ref().unwrap()))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].starts_with("reach http://127.0.0.1:"), "{failed:?}");
    assert!(failed[0].contains("cannot reach"), "{failed:?}");

    // Connected as the app's own user, which may not manage users.
    let mut c = connected(&world, &world.info().kubeconfig).await;
    let app = c
        .session
        .as_ref()
        .unwrap()
        .secrets()
        .app_secret(&c.target.app_secret)
        .await
        .unwrap();
    let url = world
        .info()
        .mysql
        .admin_url
        .replacen("aws_db_admin", &app.username, 1);
    c.db = Ok(Db::connect(Engine::Mysql, &url, Some(&app.password))
        .await
        .unwrap());
    c.target.admin_user = app.username.clone();
    let report = preflight::check(&c, false).await;
    let failed: Vec<&preflight::Check> = report.failures().collect();
    assert_eq!(failed.len(), 1, "{report}");
    // The app user cannot even read mysql.user: a database failure.
    assert_eq!(failed[0].system, "database");
    assert!(
        failed[0].problem.as_ref().unwrap().as_str().contains("denied"),
        "{report}"
    );
    crate::support::assert_no_secret(&format!("{report} {report:?}"), &[&app.password]);
    world.shutdown().await;
}

/// `rotui rotate --yes` refuses, having written nothing, when the role may
/// not patch the ExternalSecret or the API server does not answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_stops_before_any_write_when_the_cluster_would_fail_it() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let env = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("sandbox.env")).unwrap(),
    );
    let rotate = |kubeconfig: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rotui"))
            .args(["rotate", "--yes", "--app", "signon", "--engine", "mysql"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", dir.path())
            .env("ROTUI_STATE_DIR", dir.path().join("state"))
            .envs(&env)
            .env("KUBECONFIG", kubeconfig)
            .output()
            .expect("rotui runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let c = connected(&world, &world.info().kubeconfig).await;
    let written = || async {
        let secrets = c.session.as_ref().unwrap().secrets();
        let versions = secrets.versions(&c.target.app_secret).await.unwrap();
        let users = c.db.as_ref().unwrap().users().await.unwrap();
        (
            versions.len(),
            users.iter().filter(|u| u.name.starts_with("signon_")).count(),
        )
    };
    let before = written().await;

    world.kube_store().deny("patch", "externalsecrets");
    let (code, stderr) = rotate(&world.info().kubeconfig);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(
        stderr.contains("patch externalsecrets.external-secrets.io/signon-mysql"),
        "{stderr}"
    );
    assert_eq!(written().await, before, "no secret version, no user");
    world.kube_store().allow("patch", "externalsecrets");

    let closed = rotui_sandbox::guard::free_port();
    let text = std::fs::read_to_string(&world.info().kubeconfig).unwrap();
    let dead = dir.path().join("dead-kubeconfig");
    std::fs::write(
        &dead,
        regex::Regex::new(r"server: \S+")
            .unwrap()
            .replace(&text, format!("server: http://127.0.0.1:{closed}").as_str())
            .as_ref(),
    )
    .unwrap();
    let (code, stderr) = rotate(&dead);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot reach"), "{stderr}");
    assert_eq!(written().await, before, "no secret version, no user");
    world.shutdown().await;
}
