//! The sandbox cluster's behaviour, end to end through the real kube client:
//! the sandbox API server, the controllers as its clients, pods holding real
//! PostgreSQL/MariaDB sessions, exec and port-forward over WebSocket.

use crate::support::unique;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{AttachParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use rotui::secret::ExposeSecret;
use rotui::target::{Engine, Target};
use rotui_sandbox::apiserver::KubeApiServer;
use rotui_sandbox::controllers::{
    AppPods, AwsSource, Cluster, ExternalSecret, FAIL_ANNOTATION, LAST_RELOADED_FROM, MapSource,
    SecretSource, govuk,
};
use rotui_sandbox::guard::{Guarded, free_port, scratch_dir};
use rotui_sandbox::mariadb::MysqlServer;
use rotui_sandbox::postgres::PostgresServer;
use serde_json::json;
use sqlx::{ConnectOptions, Connection, Row};

const NS: &str = "apps";
const WAIT: Duration = Duration::from_secs(40);

/// One test's cluster: its own API server, controllers and pods.
struct World {
    client: kube::Client,
    source: MapSource,
    pods: AppPods,
    cluster: Option<Cluster>,
    server: Option<KubeApiServer>,
}

impl World {
    /// A world whose External Secrets controller reads from `w.source`.
    async fn start() -> World {
        let source = MapSource::new();
        let mut w = World::start_with(Arc::new(source.clone())).await;
        w.source = source;
        w
    }

    /// A world whose External Secrets controller reads from `source`.
    async fn start_with(source: Arc<dyn SecretSource>) -> World {
        let pods = AppPods::new();
        let server = KubeApiServer::start(Arc::new(pods.clone()))
            .await
            .expect("API server starts");
        let mut config = kube::Config::new(server.url().parse().unwrap());
        config.default_namespace = NS.into();
        let client = kube::Client::try_from(config).unwrap();
        let cluster = Cluster::start(client.clone(), NS, source, pods.clone());
        World {
            client,
            source: MapSource::new(),
            pods,
            cluster: Some(cluster),
            server: Some(server),
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        Api::namespaced(self.client.clone(), NS)
    }

    /// Run kubectl against this world and return its stdout; `None` when
    /// kubectl isn't installed. A failing kubectl fails the test.
    async fn kubectl(&self, args: &[&str]) -> Option<String> {
        let bin = which::which("kubectl").ok()?;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("kubeconfig");
        self.server
            .as_ref()
            .unwrap()
            .write_kubeconfig(&config, NS)
            .unwrap();
        let out = tokio::process::Command::new(bin)
            .arg(format!("--kubeconfig={}", config.display()))
            .arg(format!("--cache-dir={}", dir.path().join("cache").display()))
            .args(args)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?} failed: {stderr}");
        Some(String::from_utf8(out.stdout).unwrap())
    }

    async fn stop(mut self) {
        if let Some(c) = self.cluster.take() {
            c.shutdown().await;
        }
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// Poll `f` until it gives `Some`, or fail with `what`.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn external_secret(name: &str, key: &str, interval: &str, url_template: &str) -> ExternalSecret {
    serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": { "name": name, "namespace": NS },
        "spec": {
            "refreshInterval": interval,
            "secretStoreRef": { "kind": "ClusterSecretStore", "name": "aws-secretsmanager" },
            "dataFrom": [{ "extract": { "key": key } }],
            "target": { "name": name, "template": { "data": { "DATABASE_URL": url_template } } },
        }
    }))
    .unwrap()
}

async fn database_url(w: &World, secret: &str) -> Option<String> {
    let s = w.api::<Secret>().get_opt(secret).await.ok()??;
    let v = s.data?.get("DATABASE_URL")?.0.clone();
    Some(String::from_utf8(v).unwrap())
}

async fn es_status(w: &World, name: &str) -> serde_json::Value {
    let es = w.api::<ExternalSecret>().get(name).await.unwrap();
    serde_json::to_value(es.status).unwrap()
}

fn ready_condition(status: &serde_json::Value) -> (String, String, String) {
    let c = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .unwrap_or_default();
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
    (s("status"), s("reason"), s("message"))
}

async fn annotate(w: &World, name: &str, key: &str, value: Option<&str>) {
    let patch = json!({ "metadata": { "annotations": { key: value } } });
    w.api::<ExternalSecret>()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_secret_renders_database_url_and_force_sync_resyncs() {
    let w = World::start().await;
    let key = "govuk/signon/mysql";
    w.source.set(
        key,
        json!({ "username": "signon", "password": "firstPassw0rd", "host": "db.internal" }),
    );
    let es = external_secret(
        "signon-mysql",
        key,
        "1h",
        "mysql2://{{ .username }}:{{ .password }}@{{ .host }}/signon_production",
    );
    w.api::<ExternalSecret>()
        .create(&PostParams::default(), &es)
        .await
        .unwrap();

    let url = eventually("the Secret", || database_url(&w, "signon-mysql")).await;
    assert_eq!(url, "mysql2://signon:firstPassw0rd@db.internal/signon_production");
    let created = w.api::<ExternalSecret>().get("signon-mysql").await.unwrap();
    let secret = w.api::<Secret>().get("signon-mysql").await.unwrap();
    let owner = &secret.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), Some(owner.uid.clone())),
        ("ExternalSecret", created.uid())
    );
    assert_eq!(
        secret.data.unwrap().len(),
        1,
        "the template decides the keys (mergePolicy Replace)"
    );

    let status = eventually("Ready", || async {
        let s = es_status(&w, "signon-mysql").await;
        (ready_condition(&s).0 == "True").then_some(s)
    })
    .await;
    assert_eq!(
        ready_condition(&status),
        ("True".into(), "SecretSynced".into(), "secret synced".into())
    );
    assert!(
        status["syncedResourceVersion"]
            .as_str()
            .unwrap()
            .starts_with("1-")
    );
    assert!(status["refreshTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(status["binding"]["name"], "signon-mysql");

    // What the runbook's `kubectl -n apps get externalsecrets` shows.
    if let Some(out) = w.kubectl(&["get", "externalsecrets"]).await {
        let row = out
            .lines()
            .find(|l| l.starts_with("signon-mysql"))
            .unwrap_or_default();
        assert!(
            row.contains("1h") && row.contains("SecretSynced") && row.contains("True"),
            "{out}"
        );
    }

    // The provider changes; with a 1h interval nothing happens by itself…
    w.source.set(
        key,
        json!({ "username": "signon_user_2", "password": "secondPassw0rd", "host": "db.internal" }),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(database_url(&w, "signon-mysql").await.unwrap(), url);

    // …until the runbook's force-sync annotation.
    let at = chrono::Utc::now().timestamp();
    annotate(&w, "signon-mysql", "force-sync", Some(&at.to_string())).await;
    let url = eventually("the re-synced Secret", || async {
        database_url(&w, "signon-mysql")
            .await
            .filter(|u| u.contains("signon_user_2"))
    })
    .await;
    assert_eq!(
        url,
        "mysql2://signon_user_2:secondPassw0rd@db.internal/signon_production"
    );
    let status = eventually("the new refreshTime", || async {
        let s = es_status(&w, "signon-mysql").await;
        let t = chrono::DateTime::parse_from_rfc3339(s["refreshTime"].as_str()?).ok()?;
        (t.timestamp() >= at).then_some(s)
    })
    .await;
    assert_eq!(ready_condition(&status).1, "SecretSynced");

    // A hand-edited or deleted target is rewritten, as ESO does.
    let patch = json!({ "data": { "DATABASE_URL": base64("mysql2://someone:else@x/y") } });
    w.api::<Secret>()
        .patch("signon-mysql", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually("the edit undone", || async {
        database_url(&w, "signon-mysql")
            .await
            .filter(|u| u.contains("signon_user_2"))
    })
    .await;
    w.api::<Secret>()
        .delete("signon-mysql", &Default::default())
        .await
        .unwrap();
    eventually("the Secret recreated", || async {
        database_url(&w, "signon-mysql")
            .await
            .filter(|u| u.contains("signon_user_2"))
    })
    .await;

    // The Secret belongs to the ExternalSecret and goes with it.
    w.api::<ExternalSecret>()
        .delete("signon-mysql", &Default::default())
        .await
        .unwrap();
    eventually("the Secret collected", || async {
        w.api::<Secret>()
            .get_opt("signon-mysql")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_interval_zero_ignores_force_sync_but_a_short_interval_refreshes() {
    let w = World::start().await;
    w.source.set(
        "k/once",
        json!({ "username": "u1", "password": "onePassw0rd", "host": "h" }),
    );
    w.source.set(
        "k/often",
        json!({ "username": "u1", "password": "onePassw0rd", "host": "h" }),
    );
    let tpl = "postgresql://{{ .username }}:{{ .password }}@{{ .host }}/d";
    let api = w.api::<ExternalSecret>();
    api.create(
        &PostParams::default(),
        &external_secret("once", "k/once", "0", tpl),
    )
    .await
    .unwrap();
    api.create(
        &PostParams::default(),
        &external_secret("often", "k/often", "2s", tpl),
    )
    .await
    .unwrap();
    eventually("first syncs", || async {
        let once = ready_condition(&es_status(&w, "once").await).0 == "True";
        let often = ready_condition(&es_status(&w, "often").await).0 == "True";
        (once && often).then_some(())
    })
    .await;
    let synced = es_status(&w, "once").await;

    w.source.set(
        "k/once",
        json!({ "username": "u2", "password": "twoPassw0rd", "host": "h" }),
    );
    w.source.set(
        "k/often",
        json!({ "username": "u2", "password": "twoPassw0rd", "host": "h" }),
    );
    annotate(
        &w,
        "once",
        "force-sync",
        Some(&chrono::Utc::now().timestamp().to_string()),
    )
    .await;
    eventually("the periodic refresh", || async {
        database_url(&w, "often").await.filter(|u| u.contains("u2:"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        database_url(&w, "once").await.unwrap().contains("u1:"),
        "refreshInterval 0: force-sync is a no-op"
    );
    let after = es_status(&w, "once").await;
    assert_eq!(after["refreshTime"], synced["refreshTime"]);
    assert_eq!(after["syncedResourceVersion"], synced["syncedResourceVersion"]);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_syncs_report_secret_synced_error_and_keep_refresh_time() {
    let w = World::start().await;
    let api = w.api::<ExternalSecret>();
    w.source.set(
        "govuk/a/postgres",
        json!({ "username": "a", "password": "aPassw0rdAAA", "host": "h" }),
    );
    let tpl = "postgresql://{{ .username }}:{{ .password }}@{{ .host }}/a_production";
    api.create(
        &PostParams::default(),
        &external_secret("a-postgres", "govuk/a/postgres", "1h", tpl),
    )
    .await
    .unwrap();
    let synced = eventually("Ready", || async {
        let s = es_status(&w, "a-postgres").await;
        (ready_condition(&s).0 == "True").then_some(s)
    })
    .await;

    // The annotation switch: the change itself triggers the (failing) sync.
    annotate(
        &w,
        "a-postgres",
        FAIL_ANNOTATION,
        Some("AccessDeniedException: not allowed"),
    )
    .await;
    let failed = eventually("SecretSyncedError", || async {
        let s = es_status(&w, "a-postgres").await;
        (ready_condition(&s).0 == "False").then_some(s)
    })
    .await;
    let (_, reason, message) = ready_condition(&failed);
    assert_eq!(reason, "SecretSyncedError");
    assert!(
        message.contains("AccessDeniedException: not allowed"),
        "{message}"
    );
    assert_eq!(
        failed["refreshTime"], synced["refreshTime"],
        "a failed sync keeps refreshTime"
    );
    annotate(&w, "a-postgres", FAIL_ANNOTATION, None).await;
    eventually("Ready again", || async {
        (ready_condition(&es_status(&w, "a-postgres").await).1 == "SecretSynced").then_some(())
    })
    .await;

    // The handle switch, and a real provider error: a missing key.
    w.cluster
        .as_ref()
        .unwrap()
        .set_sync_failure(Some("throttled".into()));
    annotate(&w, "a-postgres", "force-sync", Some("1")).await;
    eventually("the handle's failure", || async {
        (ready_condition(&es_status(&w, "a-postgres").await)
            .2
            .contains("throttled"))
        .then_some(())
    })
    .await;
    w.cluster.as_ref().unwrap().set_sync_failure(None);
    w.source.remove("govuk/a/postgres");
    annotate(&w, "a-postgres", "force-sync", Some("2")).await;
    let message = eventually("the provider's error", || async {
        let (_, _, m) = ready_condition(&es_status(&w, "a-postgres").await);
        m.contains("govuk/a/postgres").then_some(m)
    })
    .await;
    assert!(
        message.starts_with("could not get secret data from provider"),
        "{message}"
    );

    // A template naming a key the secret lacks.
    w.source.set(
        "govuk/a/postgres",
        json!({ "username": "a", "password": "aPassw0rdAAA" }),
    );
    annotate(&w, "a-postgres", "force-sync", Some("3")).await;
    let message = eventually("the template error", || async {
        let (_, _, m) = ready_condition(&es_status(&w, "a-postgres").await);
        m.contains("could not apply template").then_some(m)
    })
    .await;
    assert!(
        message.contains("\"host\"") && !message.contains("aPassw0rdAAA"),
        "{message}"
    );
    assert!(
        database_url(&w, "a-postgres").await.unwrap().contains("@h/"),
        "the Secret is left as it was"
    );
    w.stop().await;
}

// ---- pods, rollout, exec and port-forward against a real PostgreSQL ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloader_rolls_the_deployment_and_old_connections_drain() {
    let pg = postgres();
    let app = unique("app");
    let (old_user, new_user) = (format!("{app}-old"), format!("{app}-new"));
    let db = format!("{app}_production");
    // The old user owns the app's database, as `account-api` does; the new
    // one may connect to it.
    pg.0.seed_app(&old_user, &rotui::secret::secret("oldPassw0rdOld"), &db)
        .await
        .unwrap();
    let mut admin = pg.admin().await;
    for sql in [
        format!("CREATE ROLE \"{new_user}\" LOGIN PASSWORD 'newPassw0rdNew'"),
        format!("GRANT ALL ON DATABASE \"{db}\" TO \"{new_user}\""),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    admin.close().await.unwrap();

    // The app's objects as GOV.UK has them.
    let target = Target::new("sandbox", &app, Engine::Postgres);
    assert_eq!(target.database, db);
    let (key, es_name) = (target.app_secret.clone(), target.external_secret.clone());
    let w = World::start().await;
    let host = format!("127.0.0.1:{}", pg.port());
    w.source.set(
        &key,
        json!({ "username": old_user, "password": "oldPassw0rdOld", "host": host }),
    );
    w.api::<ExternalSecret>()
        .create(&PostParams::default(), &govuk::external_secret(&target))
        .await
        .unwrap();
    w.api::<Deployment>()
        .create(&PostParams::default(), &govuk::deployment(&target, 2))
        .await
        .unwrap();

    let deployments = w.api::<Deployment>();
    let rolled_out = |generation: i64| {
        let deployments = deployments.clone();
        let app = app.clone();
        async move {
            let d = deployments.get(&app).await.ok()?;
            let s = d.status.clone()?;
            let progressing = s.conditions.iter().flatten().find(|c| c.type_ == "Progressing")?;
            let done = d.metadata.generation == Some(generation)
                && s.observed_generation == Some(generation)
                && s.updated_replicas == Some(2)
                && s.ready_replicas == Some(2)
                && s.available_replicas == Some(2)
                && s.replicas == Some(2)
                && progressing.reason.as_deref() == Some("NewReplicaSetAvailable");
            done.then_some(d)
        }
    };
    eventually("the first rollout", || rolled_out(1)).await;
    let sessions = |user: String| async move { pg.sessions(&user).await };
    eventually("two pods x two sessions of the old user", || async {
        (sessions(old_user.clone()).await == 4).then_some(())
    })
    .await;
    let old_pods = pods_of(&w, &app).await;
    assert_eq!(old_pods.len(), 2);
    let apps = pg.application_names(&old_user).await;
    assert!(
        old_pods.iter().all(|p| apps.contains(p)),
        "application_name is the pod name: {apps:?}"
    );

    // The runbook's check inside a pod, over the real exec WebSocket.
    let env = exec(&w, &old_pods[0], &["env"]).await;
    assert!(
        env.contains(&format!(
            "DATABASE_URL=postgresql://{old_user}:oldPassw0rdOld@{host}/{db}\n"
        )),
        "{env}"
    );
    assert!(env.contains("RAILS_ENV=production\n") && env.contains(&format!("HOSTNAME={}\n", old_pods[0])));

    // Rotate: new credentials in the provider, force-sync, Reloader rolls.
    w.source.set(
        &key,
        json!({ "username": new_user, "password": "newPassw0rdNew", "host": host }),
    );
    let patch = json!({ "metadata": { "annotations": { "force-sync": chrono::Utc::now().timestamp().to_string() } } });
    w.api::<ExternalSecret>()
        .patch(&es_name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let d = eventually("the second rollout", || rolled_out(2)).await;
    let reloaded =
        d.spec.unwrap().template.metadata.unwrap().annotations.unwrap()[LAST_RELOADED_FROM].clone();
    let reloaded: serde_json::Value = serde_json::from_str(&reloaded).unwrap();
    assert_eq!(
        (reloaded["type"].as_str(), reloaded["name"].as_str()),
        (Some("SECRET"), Some(es_name.as_str()))
    );

    eventually("the old user's sessions to drain", || async {
        (sessions(old_user.clone()).await == 0).then_some(())
    })
    .await;
    eventually("the new user's sessions", || async {
        (sessions(new_user.clone()).await == 4).then_some(())
    })
    .await;
    let new_pods = pods_of(&w, &app).await;
    assert!(new_pods.iter().all(|p| !old_pods.contains(p)));
    let env = exec(&w, &new_pods[0], &["env"]).await;
    assert!(
        env.contains(&format!("DATABASE_URL=postgresql://{new_user}:newPassw0rdNew@")),
        "{env}"
    );

    // What an operator sees with kubectl (when installed).
    if let Some(out) = w.kubectl(&["get", "deployments,pods"]).await {
        let deployment = out
            .lines()
            .find(|l| l.contains(&format!("deployment.apps/{app} ")))
            .unwrap_or_default();
        assert!(deployment.contains("2/2"), "{out}");
        for pod in &new_pods {
            let row = out.lines().find(|l| l.contains(pod.as_str())).unwrap_or_default();
            assert!(row.contains("1/1") && row.contains("Running"), "{out}");
        }
    }

    // The runbook's own command, with plain kubectl (when installed). Once
    // in a while (1 run in many, on a loaded machine) kubectl ends the
    // stream before printing what the pod wrote; it is asked again then,
    // and what it prints must still be the new URL.
    let target = format!("deployment/{app}");
    let args = ["exec", target.as_str(), "--container=app", "--", "env"];
    let runbook_exec = || w.kubectl(&args);
    let mut out = runbook_exec().await;
    for _ in 0..3 {
        if out.as_deref().is_none_or(|o| !o.trim().is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        out = runbook_exec().await;
    }
    if let Some(out) = out {
        assert!(
            out.contains(&format!("DATABASE_URL=postgresql://{new_user}:newPassw0rdNew@")),
            "{out}"
        );
    }

    // Other commands don't exist in the sandbox's pods.
    let mut attached = w
        .api::<Pod>()
        .exec(
            &new_pods[0],
            vec!["sh", "-c", "id"],
            &AttachParams::default().container("app").stderr(true).stdout(true),
        )
        .await
        .unwrap();
    let status = attached.take_status().unwrap().await.unwrap();
    assert_eq!(status.status.as_deref(), Some("Failure"));
    assert!(format!("{status:?}").contains("127"), "{status:?}");

    // Deleting the Deployment's pods' owner isn't needed: stopping the
    // cluster closes every connection.
    w.stop().await;
    eventually("connections closed on shutdown", || async {
        (sessions(new_user.clone()).await == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_whose_login_fails_crash_loops_without_leaking_the_password() {
    let pg = postgres();
    let user = unique("nobody");
    let w = World::start().await;
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": "bad-url" },
        "stringData": {},
        "data": { "DATABASE_URL": base64(&format!("postgres://{user}:wrongPassw0rdX@127.0.0.1:{}/postgres", pg.port())) },
    }))
    .unwrap();
    w.api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": "crasher" },
        "spec": { "containers": [{ "name": "app", "image": "app", "envFrom": [{ "secretRef": { "name": "bad-url" } }] }] },
    }))
    .unwrap();
    w.api::<Pod>().create(&PostParams::default(), &pod).await.unwrap();
    let waiting = eventually("CrashLoopBackOff", || async {
        let p = w.api::<Pod>().get("crasher").await.ok()?;
        let cs = p.status?.container_statuses?.into_iter().next()?;
        let waiting = cs.state.clone()?.waiting?;
        (waiting.reason.as_deref() == Some("CrashLoopBackOff") && !cs.ready).then_some(cs)
    })
    .await;
    let message = waiting
        .state
        .unwrap()
        .waiting
        .unwrap()
        .message
        .unwrap_or_default();
    assert!(message.contains(&user), "the message names the user: {message}");
    assert!(message.contains("password authentication failed"), "{message}");
    assert!(!message.contains("wrongPassw0rdX"), "{message}");
    let last = waiting.last_state.unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert!(waiting.restart_count >= 1);

    // A pod whose Secret doesn't exist waits, like kubelet, then starts once it does.
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": "early" },
        "spec": { "containers": [{ "name": "app", "image": "app",
            "env": [{ "name": "X", "valueFrom": { "secretKeyRef": { "name": "later", "key": "X" } } }] }] },
    }))
    .unwrap();
    w.api::<Pod>().create(&PostParams::default(), &pod).await.unwrap();
    eventually("CreateContainerConfigError", || async {
        let p = w.api::<Pod>().get("early").await.ok()?;
        let cs = p.status?.container_statuses?.into_iter().next()?;
        (cs.state?.waiting?.reason.as_deref() == Some("CreateContainerConfigError")).then_some(())
    })
    .await;
    let later: Secret =
        serde_json::from_value(json!({ "metadata": { "name": "later" }, "data": { "X": base64("y") } }))
            .unwrap();
    w.api::<Secret>()
        .create(&PostParams::default(), &later)
        .await
        .unwrap();
    eventually("the pod to start", || async {
        let p = w.api::<Pod>().get("early").await.ok()?;
        (p.status?.phase.as_deref() == Some("Running")).then_some(())
    })
    .await;
    assert!(exec(&w, "early", &["env"]).await.contains("X=y\n"));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_to_a_relay_pod_carries_a_sql_session() {
    let pg = postgres();
    let w = World::start().await;
    let relay = |name: &str, target: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": name, "labels": { "app.kubernetes.io/managed-by": "rotui" } },
            "spec": { "containers": [{ "name": "relay", "image": "alpine/socat:latest",
                "args": ["tcp-listen:5432,fork,reuseaddr", format!("tcp-connect:{target}")],
                "securityContext": { "runAsNonRoot": true, "capabilities": { "drop": ["ALL"] } } }] },
        }))
        .unwrap()
    };
    let pods = w.api::<Pod>();
    pods.create(
        &PostParams::default(),
        &relay("tunnel", &format!("127.0.0.1:{}", pg.port())),
    )
    .await
    .unwrap();
    pods.create(&PostParams::default(), &relay("outside", "db.example.com:5432"))
        .await
        .unwrap();
    eventually("the relay to be ready", || async {
        let p = pods.get("tunnel").await.ok()?;
        let ready = p
            .status?
            .conditions?
            .into_iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        ready.then_some(())
    })
    .await;

    // A local listener whose every connection gets a fresh port-forward, as
    // rotui's tunnel does; then a real PostgreSQL login and query through it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap();
    let forwarder = tokio::spawn({
        let pods = pods.clone();
        async move {
            loop {
                let (mut tcp, _) = listener.accept().await.unwrap();
                let mut pf = pods.portforward("tunnel", &[5432]).await.unwrap();
                let mut upstream = pf.take_stream(5432).unwrap();
                tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut upstream).await;
                    drop(pf);
                });
            }
        }
    });
    let mut conn =
        pg.0.superuser_options("postgres")
            .port(local.port())
            .connect()
            .await
            .expect("a SQL session through the tunnel");
    let row = sqlx::query("SELECT current_user::text AS u, 41 + 1 AS n")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        (row.get::<String, _>("u"), row.get::<i32, _>("n")),
        ("postgres".to_owned(), 42)
    );
    conn.close().await.unwrap();
    forwarder.abort();

    // Only loopback targets, and only the relay's own port.
    let e = forward_error(&pods, "outside", 5432).await;
    assert!(e.contains("loopback"), "{e}");
    let e = forward_error(&pods, "tunnel", 6000).await;
    assert!(e.contains("6000"), "{e}");
    w.stop().await;
}

// One thread: every task the world spawns logs where the capture listens.
#[tokio::test]
async fn no_password_reaches_logs_or_debug_output() {
    let (captured, _capturing) = crate::support::capture_logs().await;
    let w = World::start().await;
    w.source.set(
        "govuk/leak/mysql",
        json!({ "username": "leak", "password": "leakyPassw0rdZ", "host": "127.0.0.1:1" }),
    );
    let tpl = "mysql2://{{ .username }}:{{ .password }}@{{ .host }}/leak_production";
    w.api::<ExternalSecret>()
        .create(
            &PostParams::default(),
            &external_secret("leak-mysql", "govuk/leak/mysql", "1h", tpl),
        )
        .await
        .unwrap();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": "leaky" },
        "spec": { "containers": [{ "name": "app", "image": "app", "envFrom": [{ "secretRef": { "name": "leak-mysql" } }] }] },
    }))
    .unwrap();
    w.api::<Pod>().create(&PostParams::default(), &pod).await.unwrap();
    // Port 1 refuses: the pod crash-loops, logging its connection error.
    eventually("the crash", || async {
        let p = w.api::<Pod>().get("leaky").await.ok()?;
        let cs = p.status?.container_statuses?.into_iter().next()?;
        (cs.restart_count >= 1).then_some(())
    })
    .await;
    let pod_json = serde_json::to_string(&w.api::<Pod>().get("leaky").await.unwrap()).unwrap();
    assert!(
        !pod_json.contains("leakyPassw0rdZ"),
        "the resolved env stays out of the API"
    );
    // The pod runtime holds the resolved env (exec shows it); Debug must not.
    let debug = format!("{:?} {:?} {:?}", w.source, w.pods, w.cluster);
    assert!(debug.contains("leaky"), "Debug names the pods: {debug}");
    assert!(!debug.contains("leakyPassw0rdZ"), "{debug}");
    w.stop().await;
    // The capture must have heard the crash: a capture that heard nothing
    // would pass the leak check below by accident.
    let logs = captured.text();
    assert!(
        logs.contains("app could not connect"),
        "the capture works: {logs}"
    );
    assert!(!logs.contains("leakyPassw0rdZ"), "a password reached the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql2_pods_hold_sessions_are_replaced_and_scale_to_zero() {
    let db = mariadb();
    let account = db.0.create_app("signon").await.unwrap();
    let user = account.user.clone();
    let w = World::start().await;
    let url = format!(
        "mysql2://{user}:{}@127.0.0.1:{}/{}",
        account.password.expose_secret(),
        db.0.port(),
        account.database
    );
    let secret: Secret = serde_json::from_value(
        json!({ "metadata": { "name": "signon-mysql" }, "data": { "DATABASE_URL": base64(&url) } }),
    )
    .unwrap();
    w.api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "signon" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app.kubernetes.io/name": "signon" } },
            "template": {
                "metadata": { "labels": { "app.kubernetes.io/name": "signon" }, "annotations": { "sandbox.rotui.dev/connections": "3" } },
                "spec": { "containers": [{ "name": "app", "image": "signon",
                    "envFrom": [{ "secretRef": { "name": "signon-mysql" } }] }] },
            },
        },
    }))
    .unwrap();
    w.api::<Deployment>()
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    eventually("three sessions", || async {
        (db.sessions(&user).await == 3).then_some(())
    })
    .await;
    let first = pods_of(&w, "signon").await;
    assert_eq!(first.len(), 1);

    // Without Reloader's annotation a Secret change restarts nothing.
    let patch = json!({ "data": { "OTHER": base64("x") } });
    w.api::<Secret>()
        .patch("signon-mysql", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let d = w.api::<Deployment>().get("signon").await.unwrap();
    assert_eq!(d.metadata.generation, Some(1), "not opted into Reloader");
    assert_eq!(pods_of(&w, "signon").await, first);

    // A deleted pod is replaced (and its sessions go with it).
    w.api::<Pod>()
        .delete(&first[0], &Default::default())
        .await
        .unwrap();
    let second = eventually("a replacement pod", || async {
        let now = pods_of(&w, "signon").await;
        (now.len() == 1 && now != first).then_some(now)
    })
    .await;
    eventually("the replacement's sessions", || async {
        let ready = w.api::<Pod>().get(&second[0]).await.ok()?.status?.phase == Some("Running".into());
        (ready && db.sessions(&user).await == 3).then_some(())
    })
    .await;

    // Scaled to zero: no pods, no sessions.
    let patch = json!({ "spec": { "replicas": 0 } });
    w.api::<Deployment>()
        .patch("signon", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually("no sessions", || async {
        (db.sessions(&user).await == 0).then_some(())
    })
    .await;
    assert!(pods_of(&w, "signon").await.is_empty());

    // Back to one, then the Deployment goes: its pods are garbage collected.
    let patch = json!({ "spec": { "replicas": 1 } });
    w.api::<Deployment>()
        .patch("signon", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually("sessions again", || async {
        (db.sessions(&user).await == 3).then_some(())
    })
    .await;
    w.api::<Deployment>()
        .delete("signon", &Default::default())
        .await
        .unwrap();
    eventually("the orphans collected", || async {
        (pods_of(&w, "signon").await.is_empty() && db.sessions(&user).await == 0).then_some(())
    })
    .await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_secrets_read_secrets_manager_through_the_sdk() {
    let client = secrets_manager().await;
    let key = format!("govuk/{}/mysql", unique("app"));
    let doc =
        |user: &str, pw: &str| json!({ "username": user, "password": pw, "host": "db:3306" }).to_string();
    client
        .create_secret()
        .name(&key)
        .secret_string(doc("app", "awsPassw0rdOne"))
        .send()
        .await
        .unwrap();
    let source = AwsSource::new(client.clone());
    assert_eq!(source.get(&key).await.unwrap()["username"], "app");
    let missing = source.get("govuk/nothing/mysql").await.unwrap_err();
    assert!(missing.contains("ResourceNotFoundException"), "{missing}");

    let w = World::start_with(Arc::new(source)).await;
    let tpl = "mysql2://{{ .username }}:{{ .password }}@{{ .host }}/app_production";
    w.api::<ExternalSecret>()
        .create(
            &PostParams::default(),
            &external_secret("app-mysql", &key, "1h", tpl),
        )
        .await
        .unwrap();
    let url = eventually("the Secret", || database_url(&w, "app-mysql")).await;
    assert_eq!(url, "mysql2://app:awsPassw0rdOne@db:3306/app_production");

    // A new AWSCURRENT version, then the runbook's force-sync.
    client
        .put_secret_value()
        .secret_id(&key)
        .secret_string(doc("app_2", "awsPassw0rdTwo"))
        .send()
        .await
        .unwrap();
    annotate(
        &w,
        "app-mysql",
        "force-sync",
        Some(&chrono::Utc::now().timestamp().to_string()),
    )
    .await;
    eventually("the new version", || async {
        database_url(&w, "app-mysql")
            .await
            .filter(|u| u == "mysql2://app_2:awsPassw0rdTwo@db:3306/app_production")
    })
    .await;

    // Deleted upstream: the sync fails with the provider's error.
    client
        .delete_secret()
        .secret_id(&key)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    annotate(&w, "app-mysql", "force-sync", Some("again")).await;
    let (_, reason, message) = eventually("SecretSyncedError", || async {
        let c = ready_condition(&es_status(&w, "app-mysql").await);
        (c.0 == "False").then_some(c)
    })
    .await;
    assert_eq!(reason, "SecretSyncedError");
    assert!(message.contains("ResourceNotFoundException"), "{message}");
    w.stop().await;
}

// ---- helpers ----

async fn pods_of(w: &World, app: &str) -> Vec<String> {
    let mut names: Vec<String> = w
        .api::<Pod>()
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/name={app}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| p.name_any())
        .collect();
    names.sort();
    names
}

async fn exec(w: &World, pod: &str, command: &[&str]) -> String {
    use tokio::io::AsyncReadExt;
    let params = AttachParams::default()
        .container("app")
        .stdout(true)
        .stderr(false);
    let mut attached = w.api::<Pod>().exec(pod, command.to_vec(), &params).await.unwrap();
    let mut out = String::new();
    attached.stdout().unwrap().read_to_string(&mut out).await.unwrap();
    attached.join().await.unwrap();
    out
}

async fn forward_error(pods: &Api<Pod>, pod: &str, port: u16) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut pf = match pods.portforward(pod, &[port]).await {
        Ok(pf) => pf,
        Err(e) => return e.to_string(),
    };
    let err = pf.take_error(port);
    let mut stream = pf.take_stream(port).unwrap();
    let _ = stream.write_all(b"\0").await;
    let mut buf = [0u8; 16];
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    match err {
        Some(e) => tokio::time::timeout(Duration::from_secs(5), e)
            .await
            .ok()
            .flatten()
            .unwrap_or_default(),
        None => String::new(),
    }
}

fn base64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The shared test PostgreSQL, through its superuser (fixtures and counts).
#[derive(Clone, Copy)]
struct Pg(&'static PostgresServer);

fn postgres() -> Pg {
    Pg(PostgresServer::shared())
}

impl Pg {
    fn port(self) -> u16 {
        self.0.port()
    }

    async fn admin(self) -> sqlx::PgConnection {
        let options = self
            .0
            .superuser_options("postgres")
            .application_name("rotui-test-admin");
        options.connect().await.expect("superuser login")
    }

    /// Sessions of `user`, as the runbook counts them.
    async fn sessions(self, user: &str) -> i64 {
        let mut c = self.admin().await;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE usename = $1")
            .bind(user)
            .fetch_one(&mut c)
            .await
            .unwrap();
        let _ = c.close().await;
        n
    }

    async fn application_names(self, user: &str) -> Vec<String> {
        let mut c = self.admin().await;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT application_name FROM pg_stat_activity WHERE usename = $1")
                .bind(user)
                .fetch_all(&mut c)
                .await
                .unwrap();
        let _ = c.close().await;
        names
    }
}

/// The shared test MariaDB, through root.
#[derive(Clone, Copy)]
struct Maria(&'static MysqlServer);

fn mariadb() -> Maria {
    Maria(MysqlServer::shared())
}

impl Maria {
    /// The runbook's check: `information_schema.PROCESSLIST` rows of `user`.
    async fn sessions(self, user: &str) -> i64 {
        let mut c = sqlx::MySqlConnection::connect(&self.0.root_url())
            .await
            .expect("root login");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?")
            .bind(user)
            .fetch_one(&mut c)
            .await
            .unwrap();
        let _ = c.close().await;
        n
    }
}

/// A Secrets Manager client for the shared moto server (started on first use).
async fn secrets_manager() -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    static MOTO: OnceLock<(u16, Guarded)> = OnceLock::new();
    let (port, _) = MOTO.get_or_init(|| {
        let dir = scratch_dir("rotui-cluster-moto-").unwrap();
        let port = free_port();
        let bin = which::which("moto_server").expect("moto_server on PATH (pip install 'moto[server]')");
        let args = [
            "-H".to_owned(),
            "127.0.0.1".to_owned(),
            "-p".to_owned(),
            port.to_string(),
        ];
        let guard = Guarded::spawn(&bin, &args, None, &dir.join("log"), Some(&dir)).unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        (port, guard)
    });
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        )
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}
