//! rotui's Kubernetes side through kube's real client, against the sandbox
//! API server with the sandbox's controllers (External Secrets, Reloader,
//! Deployment controller, pod runtime) running. Each test gets its own API
//! server and cluster, so tests run in parallel without sharing objects.

use crate::support::assert_no_secret;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use rotui::k8s::externalsecret::{self, ExternalSecret, ForceSync, SyncOutcome};
use rotui::k8s::tunnel::{self, Tunnel, TunnelConfig};
use rotui::k8s::{Expected, K8s, K8sError, KubeOptions, exec, rollout, secret_check};
use rotui::secret::{ExposeSecret, SecretString, generate_password};
use rotui_sandbox::apiserver::KubeApiServer;
use rotui_sandbox::controllers::{AppPods, Cluster, MapSource};
use rotui_sandbox::postgres::PostgresServer;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// One API server, its controllers, and a client made from the kubeconfig
/// the server wrote — exactly how rotui meets a real cluster.
struct World {
    server: KubeApiServer,
    cluster: Cluster,
    source: MapSource,
    k8s: K8s,
    kubeconfig: tempfile::TempDir,
}

async fn world() -> World {
    let pods = AppPods::new();
    let server = KubeApiServer::start(Arc::new(pods.clone()))
        .await
        .expect("API server starts");
    let kubeconfig = tempfile::tempdir().unwrap();
    let path = kubeconfig.path().join("kubeconfig");
    server.write_kubeconfig(&path, "default").unwrap();
    let k8s = K8s::connect(&KubeOptions {
        kubeconfig: Some(path),
        context: Some("sandbox".into()),
        namespace: None,
        exec_env: None,
    })
    .await
    .expect("kubeconfig loads");
    assert_eq!(
        k8s.namespace(),
        "apps",
        "the namespace defaults to apps, not the context's"
    );
    let source = MapSource::new();
    let cluster = Cluster::start(k8s.client().clone(), "apps", Arc::new(source.clone()), pods);
    World {
        server,
        cluster,
        source,
        k8s,
        kubeconfig,
    }
}

/// What Secrets Manager would hold under `govuk/<app>/mysql`.
fn creds(user: &str, password: &SecretString, host: &str) -> serde_json::Value {
    json!({ "username": user, "password": password.expose_secret(), "host": host })
}

/// GOV.UK's ExternalSecret for an app's MySQL credentials.
/// The app's credentials in the source and an ExternalSecret over them,
/// synced once: the starting point of most tests here.
async fn synced_es(w: &World, app: &str, password: &SecretString, refresh: &str) -> String {
    w.source
        .set(&format!("govuk/{app}/mysql"), creds(app, password, "db.internal"));
    let name = create_es(w, app, refresh).await;
    let mut updates = pin!(externalsecret::watch(&w.k8s, &name));
    let _ = until(
        &mut updates,
        "first sync",
        |u| matches!(u, Ok(Some(s)) if s.is_ready()),
    )
    .await;
    name
}

async fn create_es(w: &World, app: &str, refresh: &str) -> String {
    let name = format!("{app}-mysql");
    let es: ExternalSecret = serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": { "name": name, "namespace": "apps" },
        "spec": {
            "refreshInterval": refresh,
            "secretStoreRef": { "kind": "ClusterSecretStore", "name": "aws-secretsmanager" },
            "target": {
                "name": name,
                "template": { "data": {
                    "DATABASE_URL": format!("mysql2://{{{{ .username }}}}:{{{{ .password }}}}@{{{{ .host }}}}/{app}_production")
                } }
            },
            "dataFrom": [ { "extract": { "key": format!("govuk/{app}/mysql") } } ]
        }
    }))
    .unwrap();
    w.k8s
        .api::<ExternalSecret>()
        .create(&PostParams::default(), &es)
        .await
        .expect("create ExternalSecret");
    name
}

/// The next item of `stream` satisfying `pred`, or panic after [`WAIT`].
async fn until<T: std::fmt::Debug>(
    stream: &mut (impl Stream<Item = T> + Unpin),
    what: &str,
    mut pred: impl FnMut(&T) -> bool,
) -> T {
    let mut last = None;
    let found = tokio::time::timeout(WAIT, async {
        while let Some(item) = stream.next().await {
            if pred(&item) {
                return Some(item);
            }
            last = Some(item);
        }
        None
    })
    .await;
    match found {
        Ok(Some(item)) => item,
        _ => panic!("timed out waiting for {what}; last seen: {last:?}"),
    }
}

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

#[tokio::test]
async fn watch_follows_external_secret_status() {
    let w = world().await;
    let pw = generate_password();
    w.source
        .set("govuk/watched/mysql", creds("watched", &pw, "db.internal"));
    let mut updates = pin!(externalsecret::watch(&w.k8s, "watched-mysql"));
    // Not there yet: the watch says so rather than erroring.
    let first = within("first watch item", updates.next()).await.unwrap().unwrap();
    assert_eq!(first, None);

    let name = create_es(&w, "watched", "1h").await;
    let ready = until(
        &mut updates,
        "Ready",
        |u| matches!(u, Ok(Some(s)) if s.is_ready()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(ready.name, name);
    assert_eq!(
        ready.store.as_deref(),
        Some("ClusterSecretStore/aws-secretsmanager")
    );
    assert_eq!(ready.target, name);
    assert_eq!(ready.refresh_interval.as_deref(), Some("1h"));
    assert_eq!(
        ready.ready.as_ref().unwrap().reason.as_deref(),
        Some("SecretSynced")
    );
    assert!(ready.refresh_time.is_some() && ready.synced_resource_version.is_some());

    // A failing sync shows up on the same stream.
    w.cluster
        .set_sync_failure(Some("AccessDeniedException: not allowed".into()));
    let plan = ForceSync::plan(&w.k8s, &name, None).await.unwrap();
    plan.apply(&w.k8s).await.unwrap();
    let failed = until(
        &mut updates,
        "SecretSyncedError",
        |u| matches!(u, Ok(Some(s)) if s.sync_error().is_some()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        failed.sync_error().unwrap().contains("AccessDenied"),
        "{failed:?}"
    );
    assert_eq!(failed.force_sync.as_deref(), Some(plan.at.to_string().as_str()));

    w.k8s
        .api::<ExternalSecret>()
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    let _ = until(&mut updates, "deletion", |u| matches!(u, Ok(None))).await;
    let listed = externalsecret::list(&w.k8s, "watched").await.unwrap();
    assert!(listed.is_empty());
}

#[tokio::test]
async fn force_sync_confirms_the_new_credentials() {
    let w = world().await;
    let old_pw = generate_password();
    let name = synced_es(&w, "fsok", &old_pw, "1h").await;

    // Secrets Manager now holds the new user; the Secret still the old one.
    let new_pw = generate_password();
    w.source.set(
        "govuk/fsok/mysql",
        creds("fsok_user_20260121", &new_pw, "db.internal"),
    );
    let expected = Expected::new("fsok_user_20260121", new_pw.clone());
    let stale = secret_check::check_secret(&w.k8s, &name, &expected)
        .await
        .unwrap();
    assert!(!stale.user_matches && !stale.password_matches);
    assert_eq!(stale.user, "fsok");

    // refreshTime has whole seconds: start the sync in a later second than the first one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let plan = ForceSync::plan(&w.k8s, &name, Some(&expected)).await.unwrap();
    assert!(plan.already_done.is_none());
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    assert!(
        plan.preview().contains(&format!(
            r#"{{"metadata":{{"annotations":{{"force-sync":"{}"}}}}}}"#,
            plan.at
        )),
        "{}",
        plan.preview()
    );
    let patched = plan.apply(&w.k8s).await.unwrap();
    // Applying the same plan again is a no-op on the server.
    let again = plan.apply(&w.k8s).await.unwrap();
    assert_eq!(
        (again.generation, &again.force_sync),
        (patched.generation, &patched.force_sync)
    );
    match plan.confirm(&w.k8s, &patched, WAIT).await.unwrap() {
        SyncOutcome::Synced(s) => {
            assert!(s.refresh_time.unwrap().timestamp() >= plan.at);
            assert!(s.is_ready());
        }
        other => panic!("expected Synced, got {other:?}"),
    }

    let fresh = secret_check::check_secret(&w.k8s, &name, &expected)
        .await
        .unwrap();
    assert!(fresh.matches(), "{fresh:?}");
    assert_eq!(
        (
            fresh.host.as_str(),
            fresh.database.as_str(),
            fresh.scheme.as_str()
        ),
        ("db.internal", "fsok_production", "mysql2")
    );
    assert_no_secret(&format!("{fresh:?} {}", fresh.summary()), &[&new_pw, &old_pw]);

    // Observed first: nothing left to do.
    let replan = ForceSync::plan(&w.k8s, &name, Some(&expected)).await.unwrap();
    assert!(replan.already_done.is_some(), "{replan:?}");
    assert_no_secret(&format!("{replan:?}"), &[&new_pw, &old_pw]);
}

#[tokio::test]
async fn force_sync_reports_the_controllers_failure() {
    let w = world().await;
    let pw = generate_password();
    let name = synced_es(&w, "fsbad", &pw, "1h").await;

    w.cluster.set_sync_failure(Some(
        "could not get secret data from provider: AccessDeniedException".into(),
    ));
    let plan = ForceSync::plan(&w.k8s, &name, None).await.unwrap();
    match plan.run(&w.k8s, WAIT).await.unwrap() {
        SyncOutcome::Failed { message, status } => {
            assert!(message.contains("AccessDeniedException"), "{message}");
            assert_eq!(status.ready.unwrap().reason.as_deref(), Some("SecretSyncedError"));
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn refresh_interval_zero_is_flagged_and_the_annotation_does_nothing() {
    let w = world().await;
    let pw = generate_password();
    let name = synced_es(&w, "once", &pw, "0").await;

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let plan = ForceSync::plan(&w.k8s, &name, None).await.unwrap();
    assert_eq!(plan.warnings.len(), 1);
    assert!(plan.warnings[0].contains("no-op"), "{:?}", plan.warnings);
    match plan.run(&w.k8s, Duration::from_secs(4)).await.unwrap() {
        SyncOutcome::TimedOut(Some(last)) => assert!(last.refresh_time.unwrap().timestamp() < plan.at),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn database_url_check_never_shows_the_password() {
    let w = world().await;
    let right = generate_password();
    let wrong = generate_password();
    let make = |name: &str, data: serde_json::Value| {
        serde_json::from_value::<Secret>(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": name, "namespace": "apps" },
            "stringData": data,
        }))
        .unwrap()
    };
    let secrets: Api<Secret> = w.k8s.api();
    let url = |pw: &SecretString| {
        format!(
            "mysql2://dbcheck_user:{}@db.internal:3306/dbcheck_production",
            pw.expose_secret()
        )
    };
    for (name, data) in [
        ("dbcheck-ok", json!({ "DATABASE_URL": url(&right) })),
        ("dbcheck-wrong", json!({ "DATABASE_URL": url(&wrong) })),
        (
            "dbcheck-nokey",
            json!({ "OTHER_URL": url(&right), "SECRET_KEY_BASE": "x" }),
        ),
        (
            "dbcheck-garbage",
            json!({ "DATABASE_URL": format!("not a url {}", right.expose_secret()) }),
        ),
    ] {
        secrets
            .create(&PostParams::default(), &make(name, data))
            .await
            .unwrap();
    }
    let expected = Expected::new("dbcheck_user", right.clone());

    let ok = secret_check::check_secret(&w.k8s, "dbcheck-ok", &expected)
        .await
        .unwrap();
    assert!(ok.matches());
    assert_eq!(ok.port, Some(3306));
    let bad = secret_check::check_secret(&w.k8s, "dbcheck-wrong", &expected)
        .await
        .unwrap();
    assert!(bad.user_matches && !bad.password_matches);
    assert!(bad.summary().contains("password DIFFERS"), "{}", bad.summary());

    let missing = secret_check::check_secret(&w.k8s, "dbcheck-nokey", &expected)
        .await
        .unwrap_err();
    match &missing {
        K8sError::MissingKey { key, keys, .. } => {
            assert_eq!(key, "DATABASE_URL");
            assert!(keys.contains(&"OTHER_URL".to_owned()) && keys.contains(&"SECRET_KEY_BASE".to_owned()));
        }
        other => panic!("expected MissingKey, got {other:?}"),
    }
    let garbage = secret_check::check_secret(&w.k8s, "dbcheck-garbage", &expected)
        .await
        .unwrap_err();
    let absent = secret_check::check_secret(&w.k8s, "dbcheck-absent", &expected)
        .await
        .unwrap_err();
    assert!(matches!(absent, K8sError::NotFound { .. }), "{absent:?}");

    let shown = format!(
        "{ok:?} {} {bad:?} {} {missing} {missing:?} {garbage} {garbage:?}",
        ok.summary(),
        bad.summary()
    );
    assert_no_secret(&shown, &[&right, &wrong]);
}

/// A Deployment of `app` that Reloader restarts when `<app>-mysql` changes;
/// its pods hold no database connections (this test is about Kubernetes).
async fn create_deployment(w: &World, app: &str, replicas: i32, with_url: bool) {
    let env = if with_url {
        json!([{ "name": "DATABASE_URL",
                 "valueFrom": { "secretKeyRef": { "name": format!("{app}-mysql"), "key": "DATABASE_URL" } } },
               { "name": "RAILS_ENV", "value": "production" }])
    } else {
        json!([{ "name": "RAILS_ENV", "value": "production" }])
    };
    let d: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": app, "namespace": "apps",
                      "annotations": { "reloader.stakater.com/auto": "true" } },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": app } },
            "template": {
                "metadata": { "labels": { "app": app },
                              "annotations": { "sandbox.rotui.dev/connections": "0" } },
                "spec": { "containers": [{ "name": "app", "image": format!("ghcr.io/alphagov/{app}"), "env": env }] }
            }
        }
    }))
    .unwrap();
    w.k8s
        .api::<Deployment>()
        .create(&PostParams::default(), &d)
        .await
        .expect("create Deployment");
}

#[tokio::test]
async fn rollout_after_a_secret_change_and_the_pods_env() {
    let w = world().await;
    let old_pw = generate_password();
    let es = synced_es(&w, "roll", &old_pw, "1h").await;
    create_deployment(&w, "roll", 2, true).await;

    let mut snaps = pin!(rollout::watch(&w.k8s, "roll"));
    let epoch = chrono::DateTime::<Utc>::UNIX_EPOCH;
    let first = until(&mut snaps, "first rollout", |s| {
        matches!(s, Ok(s) if s.complete_since(epoch) && s.pods.iter().filter(|p| p.is_serving()).count() == 2)
    })
    .await
    .unwrap();
    let d = first.deployment.as_ref().unwrap();
    assert!(d.is_complete(), "{}", d.summary());
    assert_eq!(d.last_reloaded_from, None);
    let old_pods: Vec<String> = first.pods.iter().map(|p| p.name.clone()).collect();

    // The runbook's check in a pod: still the old credentials.
    let old = Expected::new("roll", old_pw.clone());
    let check = exec::check_deployment(&w.k8s, "roll", "app", &old).await.unwrap();
    assert!(check.check.matches(), "{check:?}");
    assert!(old_pods.contains(&check.pod));

    // Rotate: new credentials in Secrets Manager, force sync, Reloader rolls.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let new_pw = generate_password();
    w.source.set(
        "govuk/roll/mysql",
        creds("roll_user_20260121", &new_pw, "db.internal"),
    );
    let new = Expected::new("roll_user_20260121", new_pw.clone());
    let plan = ForceSync::plan(&w.k8s, &es, Some(&new)).await.unwrap();
    // The Secret changed when the controller synced it: the dashboard's
    // before/after line.
    let changed_at = match plan.run(&w.k8s, WAIT).await.unwrap() {
        SyncOutcome::Synced(s) => s.refresh_time.unwrap(),
        other => panic!("expected Synced, got {other:?}"),
    };

    let mut saw_old_and_new = false;
    let done = until(&mut snaps, "rollout onto the new Secret", |s| {
        let Ok(s) = s else { return false };
        let (before, after) = s.split(changed_at);
        saw_old_and_new |= !before.is_empty() && !after.is_empty();
        s.complete_since(changed_at)
    })
    .await
    .unwrap();
    assert!(
        saw_old_and_new,
        "the watch showed the old and new pods side by side"
    );
    let d = done.deployment.as_ref().unwrap();
    assert!(
        d.last_reloaded_from.is_some(),
        "Reloader's annotation is reported"
    );
    assert!(d.generation >= 2 && d.observed_generation >= d.generation);
    assert!(done.pods.iter().all(|p| !old_pods.contains(&p.name)));
    let snap = rollout::snapshot(&w.k8s, "roll").await.unwrap();
    assert!(snap.complete_since(changed_at));

    let check = exec::check_deployment(&w.k8s, "roll", "app", &new).await.unwrap();
    assert!(check.check.matches(), "{check:?}");
    assert_eq!(check.container, "app");
    let stale = exec::check_pod(&w.k8s, &check.pod, "app", &old).await.unwrap();
    assert!(!stale.check.user_matches && !stale.check.password_matches);
    let wrong_container = exec::check_pod(&w.k8s, &check.pod, "sidecar", &new)
        .await
        .unwrap_err();
    assert_no_secret(
        &format!("{check:?} {stale:?} {wrong_container} {}", stale.check.summary()),
        &[&new_pw, &old_pw],
    );
}

#[tokio::test]
async fn env_check_without_database_url_names_the_variables_only() {
    let w = world().await;
    create_deployment(&w, "nourl", 1, false).await;
    let mut snaps = pin!(rollout::watch(&w.k8s, "nourl"));
    let _ = until(
        &mut snaps,
        "pod running",
        |s| matches!(s, Ok(s) if s.pods.iter().any(|p| p.is_serving())),
    )
    .await;
    let pw = generate_password();
    let err = exec::check_deployment(&w.k8s, "nourl", "app", &Expected::new("x", pw))
        .await
        .unwrap_err();
    match &err {
        K8sError::MissingKey { key, keys, .. } => {
            assert_eq!(key, "DATABASE_URL");
            assert!(keys.contains(&"RAILS_ENV".to_owned()), "{keys:?}");
            assert!(
                !err.to_string().contains("production"),
                "values are not shown: {err}"
            );
        }
        other => panic!("expected MissingKey, got {other:?}"),
    }
    let none = exec::check_deployment(&w.k8s, "absent", "app", &Expected::new("x", generate_password()))
        .await
        .unwrap_err();
    assert!(matches!(none, K8sError::NotFound { .. }), "{none:?}");
}

#[tokio::test]
async fn tunnel_carries_a_real_sql_session() {
    let w = world().await;
    let pg = PostgresServer::shared();
    let user = "tunnel-app";
    let pw = generate_password();
    let db = format!("tunnel_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    pg.seed_app(&format!("{user}-{db}"), &pw, &db)
        .await
        .expect("seed database");
    let user = format!("{user}-{db}");

    let mut cfg = TunnelConfig::new("127.0.0.1", pg.port());
    cfg.ready_timeout = WAIT;
    let preview = tunnel::preview(&cfg, "apps");
    assert!(
        preview.contains(&format!("tcp-connect:127.0.0.1:{}", pg.port())),
        "{preview}"
    );
    let t = Tunnel::start(&w.k8s, &cfg).await.expect("tunnel starts");
    let pod: Pod = w.k8s.api::<Pod>().get(t.pod_name()).await.unwrap();
    let labels = pod.metadata.labels.clone().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "rotui");
    assert_eq!(
        pod.metadata.annotations.as_ref().unwrap()[tunnel::OWNER],
        tunnel::owner()
    );

    let addr = t.local_addr();
    assert!(addr.ip().is_loopback());
    let local = t.local_url(&pg.url(&user, &pw, &db)).unwrap();
    assert!(
        local
            .expose_secret()
            .contains(&format!("@127.0.0.1:{}/", addr.port()))
    );
    // The database layer connects with the rewritten URL.
    let opts: sqlx::postgres::PgConnectOptions = local.expose_secret().parse().unwrap();
    use sqlx::Connection;
    // Two sessions at once: each gets its own port-forward stream.
    let (mut a, mut b) = within("two sessions through the tunnel", async {
        let a = sqlx::PgConnection::connect_with(&opts)
            .await
            .expect("connect through the tunnel");
        let b = sqlx::PgConnection::connect_with(&opts)
            .await
            .expect("second session");
        (a, b)
    })
    .await;
    let (who, db_now): (String, String) =
        sqlx::query_as("SELECT current_user::text, current_database()::text")
            .fetch_one(&mut a)
            .await
            .unwrap();
    assert_eq!((who.as_str(), db_now.as_str()), (user.as_str(), db.as_str()));
    let pids: (i32, i32) = (
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut a)
            .await
            .unwrap(),
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut b)
            .await
            .unwrap(),
    );
    assert_ne!(pids.0, pids.1, "two real server sessions");
    // A big result crosses the stream intact.
    let n: i64 = sqlx::query_scalar("SELECT sum(length(repeat('x', g))) FROM generate_series(1, 2000) g")
        .fetch_one(&mut b)
        .await
        .unwrap();
    assert_eq!(n, 2000 * 2001 / 2);
    a.close().await.unwrap();
    b.close().await.unwrap();
    assert!(t.stats().total >= 2, "{:?}", t.stats());

    // A start that created its pod and then died is re-run: the pod is
    // adopted, not duplicated. Dropped without close (an early return, a
    // panic), the tunnel still deletes it.
    let mut again = TunnelConfig::new("127.0.0.1", pg.port());
    again.ready_timeout = WAIT;
    w.k8s
        .api::<Pod>()
        .create(&PostParams::default(), &tunnel::relay_pod(&again))
        .await
        .unwrap();
    let uid = w
        .k8s
        .api::<Pod>()
        .get(&again.name)
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    let dropped = Tunnel::start(&w.k8s, &again)
        .await
        .expect("re-run start adopts its pod");
    let dropped_pod = dropped.pod_name().to_owned();
    assert_eq!(dropped_pod, again.name);
    assert_eq!(
        w.k8s
            .api::<Pod>()
            .get(&dropped_pod)
            .await
            .unwrap()
            .metadata
            .uid
            .as_ref(),
        Some(&uid),
        "the same pod, not a new one"
    );
    drop(dropped);
    within(
        "the dropped tunnel's pod to be deleted",
        kube::runtime::wait::await_condition(
            w.k8s.api::<Pod>(),
            &dropped_pod,
            kube::runtime::wait::conditions::is_deleted(&uid),
        ),
    )
    .await
    .unwrap();

    let pod_name = t.pod_name().to_owned();
    t.close().await.unwrap();
    let gone = w.k8s.api::<Pod>().get_opt(&pod_name).await.unwrap();
    assert!(
        gone.is_none_or(|p| p.metadata.deletion_timestamp.is_some()),
        "relay pod deleted on close"
    );
}

#[tokio::test]
async fn stale_relay_pods_are_cleaned_up_and_live_ones_kept() {
    let w = world().await;
    let pods: Api<Pod> = w.k8s.api();
    let me = tunnel::owner();
    // A pid that surely no longer exists: a child we started and reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let now = Utc::now().timestamp();
    let relay = |name: &str, owner: &str, pid: u32, beat: i64| {
        let mut cfg = TunnelConfig::new("127.0.0.1", 5432);
        cfg.owner = owner.into();
        cfg.name = name.into();
        let mut p = tunnel::relay_pod(&cfg);
        let a = p.metadata.annotations.as_mut().unwrap();
        a.insert(tunnel::PID.into(), pid.to_string());
        a.insert(tunnel::HEARTBEAT.into(), beat.to_string());
        p
    };
    for p in [
        relay("relay-crashed", &me, dead_pid, now - 20),
        relay("relay-abandoned", "carol@elsewhere", 4242, now - 3 * 3600),
        relay("relay-colleague", "dave@elsewhere", 4242, now - 20),
        relay("relay-mine-live", &me, std::process::id(), now - 20),
    ] {
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let cfg = TunnelConfig::new("127.0.0.1", 5432);
    let mut removed = tunnel::cleanup_stale(&w.k8s, &cfg).await.unwrap();
    removed.sort();
    assert_eq!(removed, vec!["relay-abandoned", "relay-crashed"]);
    let left: Vec<String> = pods
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=rotui"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name)
        .collect();
    assert!(left.contains(&"relay-colleague".to_owned()) && left.contains(&"relay-mine-live".to_owned()));
    assert!(!left.contains(&"relay-crashed".to_owned()));
    // Running it again finds nothing more: idempotent.
    assert!(tunnel::cleanup_stale(&w.k8s, &cfg).await.unwrap().is_empty());
}

#[tokio::test]
async fn rbac_denials_name_the_verb_and_resource() {
    let w = world().await;
    let pw = generate_password();
    w.source
        .set("govuk/rbac/mysql", creds("rbac", &pw, "db.internal"));
    let name = create_es(&w, "rbac", "1h").await;
    // The RBAC switch applies to every client, the controllers included, so
    // the app runs before anything is denied.
    create_deployment(&w, "rbac", 1, false).await;
    let mut snaps = pin!(rollout::watch(&w.k8s, "rbac"));
    let _ = until(
        &mut snaps,
        "pod running",
        |s| matches!(s, Ok(s) if s.pods.iter().any(|p| p.is_serving())),
    )
    .await;
    let store = w.server.store();

    store.deny("patch", "externalsecrets");
    let plan = ForceSync::plan(&w.k8s, &name, None).await.unwrap();
    let err = plan.apply(&w.k8s).await.unwrap_err();
    assert!(matches!(err, K8sError::Forbidden { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("cannot patch externalsecrets.external-secrets.io"),
        "{text}"
    );
    assert!(text.contains("RBAC"), "{text}");

    store.deny("list", "externalsecrets");
    let mut updates = pin!(externalsecret::watch(&w.k8s, &name));
    match within("a denied watch", updates.next()).await.unwrap() {
        Err(e @ K8sError::Forbidden { .. }) => {
            assert!(
                e.to_string()
                    .contains("cannot list externalsecrets.external-secrets.io"),
                "{e}"
            )
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }

    store.deny("get", "secrets");
    let err = secret_check::check_secret(&w.k8s, &name, &Expected::new("rbac", pw.clone()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot get secrets"), "{err}");

    store.deny("create", "pods/portforward");
    let mut cfg = TunnelConfig::new("127.0.0.1", 5432);
    cfg.ready_timeout = WAIT;
    let err = Tunnel::start(&w.k8s, &cfg).await.unwrap_err();
    assert!(
        err.to_string().contains("cannot create pods/portforward"),
        "{err}"
    );
    // The relay pod it made is gone again.
    let left = w
        .k8s
        .api::<Pod>()
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=rotui"))
        .await
        .unwrap();
    assert!(
        left.items.iter().all(|p| p.metadata.deletion_timestamp.is_some()),
        "{:?}",
        left.items.iter().map(|p| &p.metadata.name).collect::<Vec<_>>()
    );

    store.deny("create", "pods");
    let cfg = TunnelConfig::new("127.0.0.1", 5432);
    let err = Tunnel::start(&w.k8s, &cfg).await.unwrap_err();
    assert!(err.to_string().contains("cannot create pods"), "{err}");

    store.deny("create", "pods/exec");
    let err = exec::check_deployment(&w.k8s, "rbac", "app", &Expected::new("rbac", pw.clone()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot create pods/exec"), "{err}");
}

#[tokio::test]
async fn connection_problems_are_explained() {
    let w = world().await;
    // A context that doesn't exist.
    let err = K8s::connect(&KubeOptions {
        kubeconfig: Some(w.kubeconfig.path().join("kubeconfig")),
        context: Some("production".into()),
        namespace: None,
        exec_env: None,
    })
    .await
    .unwrap_err();
    assert!(matches!(err, K8sError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("production"), "{err}");

    // A server that is not there.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let port = rotui_sandbox::guard::free_port();
    std::fs::write(
        &path,
        rotui_sandbox::apiserver::kubeconfig(&format!("http://127.0.0.1:{port}"), "apps"),
    )
    .unwrap();
    let k8s = K8s::connect(&KubeOptions {
        kubeconfig: Some(path),
        ..Default::default()
    })
    .await
    .unwrap();
    let err = k8s.check().await.unwrap_err();
    assert!(matches!(err, K8sError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(w.k8s.check().await.is_ok());

    // Credentials from an exec plugin, as `aws eks get-token` provides them:
    // one that works, and one whose AWS session has expired.
    let plugin = |script: &str| {
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: eks
  cluster:
    server: {}
users:
- name: eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: sh
      args: [\"-c\", {script:?}]
      interactiveMode: Never
contexts:
- name: eks
  context: {{cluster: eks, user: eks}}
current-context: eks
",
            w.server.url()
        )
    };
    let good = dir.path().join("good");
    std::fs::write(
        &good,
        plugin(r#"echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"k8s-aws-v1.abc"}}'"#),
    )
    .unwrap();
    let via_plugin = K8s::connect(&KubeOptions {
        kubeconfig: Some(good),
        ..Default::default()
    })
    .await;
    let via_plugin = match via_plugin {
        Ok(k) => k.check().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(via_plugin.is_ok(), "{via_plugin:?}");
    let expired = dir.path().join("expired");
    std::fs::write(
        &expired,
        plugin("echo 'An error occurred (ExpiredTokenException) when calling the GetCallerIdentity operation' >&2; exit 255"),
    )
    .unwrap();
    let err = match K8s::connect(&KubeOptions {
        kubeconfig: Some(expired),
        ..Default::default()
    })
    .await
    {
        Ok(k) => k.check().await.unwrap_err(),
        Err(e) => e,
    };
    assert!(matches!(err, K8sError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("gds aws"), "{err}");
}

/// The dashboard's Cluster pane is fed by watches: after one request, a
/// force sync, the Secret it rewrites and the rollout Reloader starts all
/// reach the pane by themselves, and the DATABASE_URL check follows.
#[tokio::test]
async fn the_cluster_pane_follows_a_rotation_through_watches_alone() {
    use rotui::workers::cluster::{self, ClusterNames, Credentials};
    let w = world().await;
    let old_pw = generate_password();
    w.source
        .set("govuk/pane/mysql", creds("pane", &old_pw, "db.internal"));
    let es = create_es(&w, "pane", "1h").await;
    create_deployment(&w, "pane", 2, true).await;
    // AWSCURRENT, as the worker would read it; the test moves it on.
    let current = Arc::new(std::sync::Mutex::new(Expected::new("pane", old_pw.clone())));
    let credentials: Credentials = {
        let current = current.clone();
        Box::new(move || {
            let e = current.lock().unwrap().clone();
            Box::pin(async move { Ok((e.clone(), e.password)) })
        })
    };
    let names = ClusterNames {
        external_secret: es.clone(),
        secret: es.clone(),
        deployment: "pane".into(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watching = tokio::spawn(cluster::watch(
        w.k8s.clone(),
        names,
        credentials,
        WAIT,
        move |view| {
            let _ = tx.send(view);
        },
    ));
    let mut views = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let matches = |v: &rotui::app::state::ClusterView, user: &str| {
        v.secret_check.as_ref().is_some_and(|c| {
            c.user.as_deref() == Some(user) && c.matches_app_secret == rotui::model::Verdict::Yes
        })
    };
    let first = until(&mut views, "synced, matching, rolled out", |v| {
        matches!(v, Ok(v) if matches(v, "pane")
            && v.rollout.as_ref().is_some_and(|r| r.complete)
            && v.pods.iter().filter(|p| p.ready).count() == 2)
    })
    .await
    .unwrap();
    assert_eq!(
        first.external_secret.as_ref().unwrap().ready,
        rotui::model::Verdict::Yes
    );
    let old_pods: Vec<String> = first.pods.iter().map(|p| p.name.clone()).collect();

    // Rotate: new credentials in Secrets Manager, then a force sync; nothing
    // asks the pane to look again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let new_pw = generate_password();
    w.source.set(
        "govuk/pane/mysql",
        creds("pane_user_20260121", &new_pw, "db.internal"),
    );
    *current.lock().unwrap() = Expected::new("pane_user_20260121", new_pw.clone());
    let plan = ForceSync::plan(&w.k8s, &es, None).await.unwrap();
    plan.apply(&w.k8s).await.unwrap();
    let last = until(
        &mut views,
        "the new Secret checked and the new pods rolled out",
        |v| {
            let Ok(v) = v else { return false };
            matches(v, "pane_user_20260121")
                && v.rollout.as_ref().is_some_and(|r| r.complete)
                && v.pods.len() == 2
                && v.pods.iter().all(|p| p.ready && !old_pods.contains(&p.name))
        },
    )
    .await
    .unwrap();
    let es_view = last.external_secret.as_ref().unwrap();
    assert!(
        es_view.force_sync_requested.is_some() && es_view.refresh_time >= es_view.force_sync_requested,
        "{es_view:?}"
    );
    assert_no_secret(&format!("{first:?} {last:?}"), &[&old_pw, &new_pw]);

    // Paused (as a stopped `--stagger` run leaves it), then resumed: the
    // pane is told both, by the watch alone.
    rotui::k8s::rollout::set_paused(&w.k8s, "pane", true)
        .await
        .unwrap();
    until(
        &mut views,
        "the Deployment paused",
        |v| matches!(v, Ok(v) if v.rollout.as_ref().is_some_and(|r| r.paused)),
    )
    .await
    .unwrap();
    rotui::k8s::rollout::set_paused(&w.k8s, "pane", false)
        .await
        .unwrap();
    until(
        &mut views,
        "the Deployment resumed",
        |v| matches!(v, Ok(v) if v.rollout.as_ref().is_some_and(|r| !r.paused)),
    )
    .await
    .unwrap();
    watching.abort();
}

#[tokio::test]
async fn access_reviews_find_what_the_role_may_not_do_before_any_request() {
    use rotui::k8s::access;
    let w = world().await;
    let needs = access::rotation_needs("signon-mysql", "signon-mysql", "signon", true);
    assert!(
        access::denied(&w.k8s, &needs).await.unwrap().is_empty(),
        "an unrestricted role may do everything a rotation needs"
    );

    let store = w.server.store();
    store.deny("patch", "externalsecrets");
    store.deny("create", "pods/exec");
    let denied = access::denied(&w.k8s, &needs).await.unwrap();
    let said: Vec<String> = denied.iter().map(|p| p.can_i()).collect();
    assert_eq!(
        said,
        [
            "patch externalsecrets.external-secrets.io/signon-mysql",
            "create pods --subresource=exec"
        ]
    );
    // Without --tunnel the relay's needs are not asked for; a denied
    // portforward then does not count against the rotation.
    store.deny("create", "pods/portforward");
    let plain = access::rotation_needs("signon-mysql", "signon-mysql", "signon", false);
    assert_eq!(access::denied(&w.k8s, &plain).await.unwrap().len(), 2);
    assert_eq!(access::denied(&w.k8s, &needs).await.unwrap().len(), 3);
}

/// Promoted but not yet synced: the Secret still carries the old password,
/// which is not AWSCURRENT's. The Cluster pane keeps it (masked until `v`)
/// rather than showing `pane:@host`, an empty password.
#[tokio::test]
async fn the_cluster_pane_keeps_a_password_that_differs_from_awscurrent_for_v() {
    use rotui::workers::cluster::{self, ClusterNames, Credentials};
    let w = world().await;
    let old_pw = generate_password();
    w.source
        .set("govuk/promoted/mysql", creds("promoted", &old_pw, "db.internal"));
    let es = create_es(&w, "promoted", "1h").await;
    create_deployment(&w, "promoted", 1, true).await;
    // AWSCURRENT has moved on; the Secret has not been synced since.
    let new_pw = generate_password();
    let credentials: Credentials = {
        let e = Expected::new("promoted_user_20260121", new_pw.clone());
        Box::new(move || {
            let e = e.clone();
            Box::pin(async move { Ok((e.clone(), e.password)) })
        })
    };
    let names = ClusterNames {
        external_secret: es.clone(),
        secret: es.clone(),
        deployment: "promoted".into(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watching = tokio::spawn(cluster::watch(
        w.k8s.clone(),
        names,
        credentials,
        WAIT,
        move |view| {
            let _ = tx.send(view);
        },
    ));
    let mut views = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let view = until(&mut views, "the Secret checked", |v| {
        matches!(v, Ok(v) if v.secret_check.as_ref().is_some_and(|c| c.user.as_deref() == Some("promoted")))
    })
    .await
    .unwrap();
    let check = view.secret_check.as_ref().unwrap();
    assert_eq!(check.matches_app_secret, rotui::model::Verdict::No, "{check:?}");
    assert_eq!(
        check.password.as_ref().map(|p| p.0.expose_secret().to_owned()),
        Some(old_pw.expose_secret().to_owned()),
        "the URL's own password, for `v`"
    );
    assert_no_secret(&format!("{view:?}"), &[&old_pw, &new_pw]);
    watching.abort();
}

/// A `db-backup-…` CronJob as govuk-helm-charts renders it for staging:
/// restore from production, a transform, a backup; `DB_OWNER` in every
/// container's env when the values set it.
fn sync_cronjob(
    name: &str,
    dbms: &str,
    database: &str,
    owner: Option<&str>,
    transform: Option<&str>,
) -> k8s_openapi::api::batch::v1::CronJob {
    let env = |bucket: &str| {
        let mut e = vec![
            json!({ "name": "DB_HOST", "value": &name["db-backup-".len()..] }),
            json!({ "name": "DB_DATABASE", "value": database }),
            json!({ "name": "BUCKET", "value": bucket }),
        ];
        if let Some(o) = owner {
            e.push(json!({ "name": "DB_OWNER", "value": o }));
        }
        e
    };
    let op = |i: usize, op: &str, script: Option<&str>, bucket: &str| {
        let mut args = vec![op.to_owned()];
        args.extend(script.map(str::to_owned));
        json!({ "name": format!("{i}-{op}"), "image": "govuk-toolbox", "command": [format!("/opt/bin/backup-{dbms}")],
                "args": args, "env": env(bucket) })
    };
    let mut init = vec![op(0, "restore", None, "s3://govuk-production-database-backups")];
    init.extend(transform.map(|t| op(1, "transform", Some(t), "")));
    let last = init.len();
    serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": { "name": name, "namespace": "apps" },
        "spec": { "schedule": "54 1 * * 1-5", "concurrencyPolicy": "Forbid",
            "jobTemplate": { "spec": { "backoffLimit": 0, "template": { "spec": {
                "restartPolicy": "Never", "initContainers": init,
                "containers": [op(last, "backup", None, "s3://govuk-staging-database-backups")] } } } } }
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_sync_is_read_from_its_cronjobs_jobs_and_transforms() {
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    use k8s_openapi::api::core::v1::ConfigMap;
    use rotui::k8s::db_sync::{self, RunOutcome};
    use rotui::target::Engine;

    let w = world().await;
    let pp = PostParams::default();
    let name = "db-backup-email-alert-api-postgres";
    let database = "email-alert-api_production";
    let cj = w
        .k8s
        .api::<CronJob>()
        .create(
            &pp,
            &sync_cronjob(
                name,
                "postgres",
                database,
                Some("email-alert-api"),
                Some("email-alert-api.sql"),
            ),
        )
        .await
        .unwrap();
    // Another database's sync and a MySQL one are not this one's.
    for other in [
        sync_cronjob(
            "db-backup-content-store-postgres",
            "postgres",
            "content_store_production",
            None,
            None,
        ),
        sync_cronjob("db-backup-whitehall-mysql", "mysql", database, None, None),
    ] {
        w.k8s.api::<CronJob>().create(&pp, &other).await.unwrap();
    }

    // Before the chart's ConfigMap exists, the transform cannot be read: said.
    let sync = db_sync::read(&w.k8s, Engine::Postgres, database).await.unwrap();
    assert_eq!(sync.jobs.len(), 1, "{sync:?}");
    let job = &sync.jobs[0];
    assert_eq!(job.cronjob, name);
    assert_eq!(job.restored_from().as_deref(), Some("production"));
    assert_eq!(job.last_run, None);
    assert_eq!(sync.unread, vec!["transforms: no ConfigMap db-backup".to_owned()]);
    let said = |sync: &db_sync::Sync| -> Vec<String> {
        sync.naming("email-alert-api")
            .into_iter()
            .map(|n| format!("{}: {}", n.cronjob, n.what))
            .collect()
    };
    assert_eq!(
        said(&sync),
        vec![format!("{name}: sets DB_OWNER=email-alert-api")]
    );

    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "db-backup" },
        "data": { "email-alert-api.sql": "DROP TABLE IF EXISTS emails_old;\nALTER TABLE emails OWNER TO \"email-alert-api\";\n" }
    }))
    .unwrap();
    w.k8s.api::<ConfigMap>().create(&pp, &cm).await.unwrap();
    // Two runs: the older succeeded, the latest failed.
    let owner = json!([{ "apiVersion": "batch/v1", "kind": "CronJob", "name": name,
                         "uid": cj.metadata.uid.clone().unwrap(), "controller": true }]);
    for (n, status) in [
        (
            "1",
            json!({ "succeeded": 1, "conditions": [{ "type": "Complete", "status": "True" }] }),
        ),
        (
            "2",
            json!({ "failed": 1, "conditions": [{ "type": "Failed", "status": "True",
                      "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" }] }),
        ),
    ] {
        let job: Job = serde_json::from_value(json!({
            "metadata": { "name": format!("{name}-{n}"), "ownerReferences": owner },
            "spec": { "template": { "spec": { "restartPolicy": "Never",
                "containers": [{ "name": "2-backup", "image": "govuk-toolbox" }] } } }
        }))
        .unwrap();
        let created = w.k8s.api::<Job>().create(&pp, &job).await.unwrap();
        let mut with_status = created.clone();
        with_status.status = Some(serde_json::from_value(status).unwrap());
        w.k8s
            .api::<Job>()
            .replace_status(&created.metadata.name.clone().unwrap(), &pp, &with_status)
            .await
            .unwrap();
        // Creation times are whole seconds: the second run is created in a later one.
        if n == "1" {
            let first = created.metadata.creation_timestamp.clone().unwrap().0;
            while k8s_openapi::jiff::Timestamp::now().as_second() <= first.as_second() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let sync = db_sync::read(&w.k8s, Engine::Postgres, database).await.unwrap();
    assert!(sync.unread.is_empty(), "{:?}", sync.unread);
    let last = sync.jobs[0].last_run.clone().unwrap();
    assert_eq!(last.job, format!("{name}-2"));
    assert_eq!(
        last.outcome,
        RunOutcome::Failed {
            why: "Job has reached the specified backoff limit".into()
        }
    );
    assert_eq!(
        said(&sync),
        vec![
            format!("{name}: sets DB_OWNER=email-alert-api"),
            format!(
                "{name}: transform email-alert-api.sql: ALTER TABLE emails OWNER TO \"email-alert-api\";"
            ),
        ]
    );
    // The login a rotation creates is named nowhere.
    assert!(sync.naming("email-alert-api-owner").is_empty());
    drop(w);
}
