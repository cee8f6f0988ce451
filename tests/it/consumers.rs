//! Every consumer of an app's Secret, on the sandbox cluster with real
//! MariaDB sessions: the web Deployment, a worker reading it by `envFrom`,
//! another app reading it as `CONTENT_STORE_DATABASE_URL`, a CronJob, and a
//! running Job that keeps the credentials it started with. The credentials
//! change (a new password, synced by the ExternalSecret, the Deployments
//! restarted by Reloader) and rotui's cluster port must wait for each
//! Deployment, name the Job still on the old credentials, and attribute the
//! database connections to the pods they come from.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rotui::db::mysql::MysqlDb;
use rotui::k8s::consumers::{self, attribute};
use rotui::k8s::{K8s, KubeOptions};
use rotui::rotation::adapters::K8sCluster;
use rotui::rotation::ports::{AppCredentials, ClusterPort, RolloutCheck};
use rotui::secret::{ExposeSecret, SecretString};
use rotui::target::{Engine, Target};
use rotui_sandbox::apiserver::KubeApiServer;
use rotui_sandbox::controllers::{AppPods, Cluster, ExternalSecret, MapSource, govuk};
use rotui_sandbox::mariadb::{AppAccount, MysqlServer};
use serde_json::json;

const NS: &str = "apps";

struct World {
    client: kube::Client,
    k8s: K8s,
    cluster: K8sCluster,
    pods: AppPods,
    source: MapSource,
    target: Target,
    app: AppAccount,
    _cluster: Cluster,
    server: KubeApiServer,
    _dir: tempfile::TempDir,
}

impl World {
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        Api::namespaced(self.client.clone(), NS)
    }

    fn secret_doc(&self, password: &SecretString) -> serde_json::Value {
        let server = MysqlServer::shared();
        json!({ "username": self.app.user, "password": password.expose_secret(),
                "host": format!("{}:{}", server.host(), server.port()) })
    }

    fn creds(&self, password: &SecretString) -> AppCredentials {
        AppCredentials {
            username: self.app.user.clone(),
            password: password.clone(),
        }
    }

    async fn check(&self, password: &SecretString) -> RolloutCheck {
        self.cluster.check_rollout(&self.creds(password)).await.unwrap()
    }

    /// Poll `check_rollout` until `done` holds; the last check otherwise.
    async fn until(
        &self,
        what: &str,
        password: &SecretString,
        done: impl Fn(&RolloutCheck) -> bool,
    ) -> RolloutCheck {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.check(password).await;
            if done(&r) {
                return r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {r:#?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// The app deployed as on the estate: its ExternalSecret and web
/// Deployment, a worker (`envFrom`), another app reading the Secret under
/// its own variable name, and a CronJob.
async fn world() -> World {
    let server = MysqlServer::shared();
    let app = server.create_app("consumers").await.unwrap();
    let source = MapSource::new();
    let pods = AppPods::with_pod_ips();
    let api = KubeApiServer::start(Arc::new(pods.clone())).await.unwrap();
    let mut config = kube::Config::new(api.url().parse().unwrap());
    config.default_namespace = NS.into();
    let client = kube::Client::try_from(config).unwrap();
    let cluster = Cluster::start(client.clone(), NS, Arc::new(source.clone()), pods.clone());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig, NS).unwrap();
    let k8s = K8s::connect(&KubeOptions {
        kubeconfig: Some(kubeconfig),
        namespace: Some(NS.into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut target = Target::new("production", &app.user, Engine::Mysql);
    target.database = app.database.clone();
    target.app_secret = format!("govuk/{}/mysql", app.user);
    target.external_secret = format!("signon-{tag}-mysql");
    target.k8s_secret = target.external_secret.clone();
    target.deployment = format!("signon-{tag}");
    let w = World {
        client,
        cluster: K8sCluster::new(
            k8s.clone(),
            &target.external_secret,
            &target.k8s_secret,
            &target.deployment,
            &target.container,
        ),
        k8s,
        pods,
        source,
        target,
        app,
        _cluster: cluster,
        server: api,
        _dir: dir,
    };
    w.source.set(&w.target.app_secret, w.secret_doc(&w.app.password));
    let t = &w.target;
    w.api::<ExternalSecret>()
        .create(&PostParams::default(), &govuk::external_secret(t))
        .await
        .unwrap();
    w.api::<Deployment>()
        .create(&PostParams::default(), &govuk::deployment(t, 1))
        .await
        .unwrap();
    // The worker: the same Secret by envFrom, container `worker`.
    let mut worker = serde_json::to_value(govuk::deployment(t, 1)).unwrap();
    let name = format!("{}-worker", t.deployment);
    worker["metadata"]["name"] = json!(name);
    let labels = json!({ "app.kubernetes.io/name": name });
    worker["spec"]["selector"]["matchLabels"] = labels.clone();
    worker["spec"]["template"]["metadata"]["labels"] = labels;
    worker["spec"]["template"]["spec"]["containers"] = json!([{
        "name": "worker", "image": "worker",
        "envFrom": [{ "secretRef": { "name": t.k8s_secret } }],
    }]);
    w.api::<Deployment>()
        .create(&PostParams::default(), &serde_json::from_value(worker).unwrap())
        .await
        .unwrap();
    // Another app (router) reading it as CONTENT_STORE_DATABASE_URL.
    let mut router = serde_json::to_value(govuk::deployment(t, 1)).unwrap();
    let name = format!("router-{tag}");
    router["metadata"]["name"] = json!(name);
    let labels = json!({ "app.kubernetes.io/name": name });
    router["spec"]["selector"]["matchLabels"] = labels.clone();
    router["spec"]["template"]["metadata"]["labels"] = labels;
    router["spec"]["template"]["spec"]["containers"] = json!([{
        "name": "app", "image": "router",
        "env": [{ "name": "CONTENT_STORE_DATABASE_URL",
                  "valueFrom": { "secretKeyRef": { "name": t.k8s_secret, "key": "DATABASE_URL" } } }],
    }]);
    w.api::<Deployment>()
        .create(&PostParams::default(), &serde_json::from_value(router).unwrap())
        .await
        .unwrap();
    let cronjob: CronJob = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": { "name": format!("{}-cleanup", t.deployment), "namespace": NS },
        "spec": { "schedule": "0 3 * * *", "jobTemplate": { "spec": { "template": { "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "task", "image": "signon",
                "env": [{ "name": "DATABASE_URL",
                          "valueFrom": { "secretKeyRef": { "name": t.k8s_secret, "key": "DATABASE_URL" } } }] }]
        } } } } }
    }))
    .unwrap();
    w.api::<CronJob>()
        .create(&PostParams::default(), &cronjob)
        .await
        .unwrap();
    w
}

/// A run of the CronJob, as its controller starts one: a Job owned by it
/// and the Job's pod (which reads the Secret as it starts).
async fn run_cronjob(w: &World) -> (String, String) {
    let cj = w
        .api::<CronJob>()
        .get(&format!("{}-cleanup", w.target.deployment))
        .await
        .unwrap();
    let job_name = format!("{}-29000000", cj.name_any());
    let template = serde_json::to_value(&cj.spec.as_ref().unwrap().job_template).unwrap();
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": job_name, "namespace": NS, "labels": { "job-name": job_name },
            "ownerReferences": [{ "apiVersion": "batch/v1", "kind": "CronJob", "name": cj.name_any(),
                                  "uid": cj.uid().unwrap_or_default(), "controller": true }] },
        "spec": template["spec"],
        "status": { "active": 1 },
    }))
    .unwrap();
    let job = w.api::<Job>().create(&PostParams::default(), &job).await.unwrap();
    let pod_name = format!("{job_name}-x7k2p");
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": pod_name, "namespace": NS, "labels": { "job-name": job_name },
            "ownerReferences": [{ "apiVersion": "batch/v1", "kind": "Job", "name": job_name,
                                  "uid": job.uid().unwrap_or_default(), "controller": true }] },
        "spec": template["spec"]["template"]["spec"],
    }))
    .unwrap();
    w.api::<Pod>().create(&PostParams::default(), &pod).await.unwrap();
    (job_name, pod_name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_consumer_is_checked_and_a_running_job_on_the_old_credentials_is_named() {
    let w = world().await;
    let t = w.target.clone();
    let old = w.app.password.clone();
    let (job, job_pod) = run_cronjob(&w).await;
    let worker = format!("deployment/{}-worker", t.deployment);
    let job_w = format!("job/{job}");

    // Before: every consumer found, each on the current credentials.
    let r = w
        .until("every consumer running on the old credentials", &old, |r| {
            r.complete && r.pods.len() == 4 && r.pods.iter().all(|p| p.check.matches)
        })
        .await;
    let names: Vec<&str> = r.workloads.iter().map(|w| w.workload.as_str()).collect();
    assert_eq!(
        names[0],
        format!("deployment/{}", t.deployment),
        "the app first: {names:?}"
    );
    for n in [&worker, &job_w, &format!("cronjob/{}-cleanup", t.deployment)] {
        assert!(names.contains(&n.as_str()), "{n} missing from {names:?}");
    }
    assert!(r.unlisted.is_empty(), "{:?}", r.unlisted);
    let var = |workload: &str| {
        r.pods
            .iter()
            .find(|p| p.workload.starts_with(workload))
            .map(|p| (p.container.clone(), p.variable.clone()))
            .unwrap()
    };
    assert_eq!(var(&worker), ("worker".into(), "DATABASE_URL".into()));
    assert_eq!(
        var("deployment/router-"),
        ("app".into(), "CONTENT_STORE_DATABASE_URL".into())
    );
    let cron = r
        .workloads
        .iter()
        .find(|w| w.workload.starts_with("cronjob/"))
        .unwrap();
    assert!(
        cron.complete && cron.summary.contains("next run uses the new credentials"),
        "{cron:?}"
    );

    // Connections come from the pods' own addresses, and name them.
    let db = MysqlDb::connect(&MysqlServer::shared().admin_url(None))
        .await
        .unwrap();
    let addresses = consumers::list_pod_addresses(&w.k8s).await.unwrap();
    let snap = db.connections(true).await.unwrap();
    let mine: Vec<_> = snap
        .rows
        .iter()
        .filter(|c| c.user.as_deref() == Some(w.app.user.as_str()))
        .collect();
    assert!(mine.len() >= 6, "web, worker and job pods each hold 2: {mine:?}");
    let who: Vec<String> = mine
        .iter()
        .map(|c| attribute(c.client.as_deref().unwrap_or(""), &addresses).unwrap_or_default())
        .collect();
    assert!(who.iter().any(|a| a.ends_with(&format!("({worker})"))), "{who:?}");
    assert!(who.iter().any(|a| a.starts_with(&job_pod)), "{who:?}");

    // New credentials: a new password, synced; Reloader restarts the Deployments.
    let new = rotui::secret::generate_password();
    MysqlServer::shared()
        .admin_exec(&[format!(
            "ALTER USER '{}'@'%' IDENTIFIED BY '{}'",
            w.app.user,
            new.expose_secret()
        )])
        .await
        .unwrap();
    w.source.set(&t.app_secret, w.secret_doc(&new));
    assert!(matches!(
        w.cluster.force_sync(Duration::from_secs(30)).await.unwrap(),
        rotui::rotation::ports::SyncVerdict::Synced
    ));

    // Every Deployment rolls out onto them; the Job keeps the old ones and is named.
    let r = w
        .until("the Deployments on the new credentials", &new, |r| {
            r.workloads
                .iter()
                .filter(|w| w.workload.starts_with("deployment/"))
                .all(|w| w.complete)
                && r.pods
                    .iter()
                    .filter(|p| p.workload.starts_with("deployment/"))
                    .count()
                    == 3
                && r.pods
                    .iter()
                    .filter(|p| p.workload.starts_with("deployment/"))
                    .all(|p| p.check.matches)
        })
        .await;
    assert!(!r.complete, "the running Job holds the old credentials: {r:#?}");
    let j = r.workloads.iter().find(|w| w.workload == job_w).unwrap();
    assert!(!j.complete && j.summary.contains(&job_pod), "{j:?}");
    let stale: Vec<_> = r.pods.iter().filter(|p| !p.check.matches).collect();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(
        (stale[0].pod.as_str(), stale[0].container.as_str()),
        (job_pod.as_str(), "task")
    );

    // The Job finishes: nothing is left to wait for.
    w.pods.complete(NS, &job_pod).await.unwrap();
    w.api::<Job>()
        .patch_status(
            &job,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": { "active": 0, "succeeded": 1 } })),
        )
        .await
        .unwrap();
    let r = w.until("the rollout complete", &new, |r| r.complete).await;
    assert!(r.pods.iter().all(|p| p.check.matches), "{r:#?}");
    assert!(
        !r.workloads.iter().any(|w| w.workload == job_w),
        "a finished Job holds nothing"
    );

    // A kind RBAC will not list is reported, not fatal.
    w.server.store().deny("list", "daemonsets");
    let r = w.check(&new).await;
    assert!(r.complete, "{r:#?}");
    assert_eq!(r.unlisted.len(), 1, "{:?}", r.unlisted);
    assert!(
        r.unlisted[0].starts_with("daemonsets: listing denied (RBAC)"),
        "{:?}",
        r.unlisted
    );
    db.close().await;
}
