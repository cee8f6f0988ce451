//! The default estate (`assets/sandbox/estate.toml`), started for real:
//! production and staging as separate accounts and clusters, every consumer
//! connected from its own pod address, CronJob runs, and staging's nightly
//! PostgreSQL restore with pg_dump's real behaviour. One estate, checked
//! step by step (it starts six servers).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{ListParams, PostParams};
use kube::{Api, ResourceExt};
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui_sandbox::estate::{Estate, EstateSpec};
use sqlx::{ConnectOptions, Connection, Executor};

async fn poll<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn pods_of<'a>(pods: &'a [Pod], prefix: &str) -> Vec<&'a Pod> {
    pods.iter()
        .filter(|p| {
            p.labels()
                .get("app.kubernetes.io/name")
                .is_some_and(|n| n == prefix)
        })
        .collect()
}

fn is_running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

fn ip(p: &Pod) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default()
}

async fn mysql_hosts(estate: &Estate, env: &str, user: &str) -> BTreeSet<String> {
    let mut c = sqlx::mysql::MySqlConnectOptions::from_url(&estate.mysql(env).root_url().parse().unwrap())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let hosts: Vec<String> =
        sqlx::query_scalar("SELECT host FROM information_schema.processlist WHERE user = ?")
            .bind(user)
            .fetch_all(&mut c)
            .await
            .unwrap();
    c.close().await.unwrap();
    // `127.0.0.5:41234` → `127.0.0.5`
    hosts
        .into_iter()
        .map(|h| h.rsplit_once(':').map_or(h.clone(), |(a, _)| a.to_owned()))
        .collect()
}

/// (application_name, client_addr) of `user`'s sessions.
async fn pg_sessions(estate: &Estate, env: &str, user: &str) -> BTreeSet<(String, String)> {
    let mut c = sqlx::PgConnection::connect_with(&estate.postgres(env).superuser_options("postgres"))
        .await
        .unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT application_name, host(client_addr) FROM pg_stat_activity WHERE usename = $1")
            .bind(user)
            .fetch_all(&mut c)
            .await
            .unwrap();
    c.close().await.unwrap();
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_estate() {
    let dir = tempfile::tempdir().unwrap();
    let spec = EstateSpec::load(&EstateSpec::default_path()).unwrap();
    let estate = Estate::start(dir.path(), &spec).await.expect("the estate starts");
    let ns = &spec.namespace;

    // Files: a context and a profile per environment, rotui's config.
    for f in [
        "kubeconfig",
        "aws/config",
        "aws/credentials",
        "rotui.toml",
        "estate.json",
        "estate.env",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let aws_config = std::fs::read_to_string(dir.path().join("aws/config")).unwrap();

    // Separate accounts: each profile's endpoint answers STS with its own account.
    for (env, want) in [("production", "111111111111"), ("staging", "222222222222")] {
        let info = estate.env(env);
        assert_eq!(info.account_id, want);
        assert_eq!(
            info.cluster,
            format!("arn:aws:eks:eu-west-1:{want}:cluster/govuk")
        );
        let section = aws_config
            .split(&format!("[profile govuk-{env}]"))
            .nth(1)
            .expect("a profile per environment");
        let endpoint = section
            .lines()
            .find_map(|l| l.strip_prefix("endpoint_url = "))
            .unwrap();
        assert_eq!(endpoint, info.aws_endpoint_url);
        let session = AwsSession::with_credentials(
            &AwsOptions {
                endpoint_url: Some(endpoint.to_owned()),
                region: Some("eu-west-1".into()),
                ..AwsOptions::default()
            },
            &StaticCredentials::new("testing", "testing"),
        )
        .await
        .unwrap();
        assert_eq!(session.caller_identity().await.unwrap().account, want, "{env}");
    }
    assert_ne!(
        estate.aws_endpoint_url("production"),
        estate.aws_endpoint_url("staging")
    );

    // Each cluster serves its own objects.
    let prod_secrets: Api<Secret> = Api::namespaced(estate.client("production").clone(), ns);
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("only-in-production".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    prod_secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let staging_secrets: Api<Secret> = Api::namespaced(estate.client("staging").clone(), ns);
    assert!(
        staging_secrets
            .get_opt("only-in-production")
            .await
            .unwrap()
            .is_none()
    );
    let url = |s: Secret| String::from_utf8(s.data.unwrap()["DATABASE_URL"].0.clone()).unwrap();
    let (p, s) = (
        url(prod_secrets.get("whitehall-admin-mysql").await.unwrap()),
        url(staging_secrets.get("whitehall-admin-mysql").await.unwrap()),
    );
    assert!(p.ends_with("/whitehall_production") && s.ends_with("/whitehall_production"));
    assert_ne!(p, s, "each environment its own server and password");

    // Every consumer pod runs, and its sessions come from its own address.
    for env in ["production", "staging"] {
        let pods: Vec<Pod> = Api::<Pod>::namespaced(estate.client(env).clone(), ns)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        for name in [
            "signon",
            "signon-worker",
            "whitehall-admin",
            "whitehall-admin-worker",
            "collections-publisher",
            "collections-publisher-worker",
            "content-store",
            "router",
            "account-api",
            "govuk-chat",
            "govuk-chat-worker",
            "bouncer",
        ] {
            let of = pods_of(&pods, name);
            assert!(!of.is_empty(), "{env}: pods of {name}");
            for p in &of {
                let phase = p.status.as_ref().and_then(|s| s.phase.clone());
                assert_eq!(phase.as_deref(), Some("Running"), "{env}: {}", p.name_any());
                assert!(ip(p).starts_with("127.") && ip(p) != "127.0.0.1", "{}", ip(p));
            }
        }
        let signon_ips: BTreeSet<String> = pods_of(&pods, "signon")
            .into_iter()
            .chain(pods_of(&pods, "signon-worker"))
            .map(ip)
            .collect();
        let hosts = mysql_hosts(&estate, env, "signon").await;
        assert!(signon_ips.is_subset(&hosts), "{env}: {signon_ips:?} in {hosts:?}");
        assert!(!hosts.contains("127.0.0.1"), "{hosts:?}");
        let wh: BTreeSet<String> = pods_of(&pods, "whitehall-admin").into_iter().map(ip).collect();
        assert!(wh.is_subset(&mysql_hosts(&estate, env, "whitehall").await));
        // content-store's login is used by content-store and by router, each from its pod.
        let sessions = pg_sessions(&estate, env, "content-store").await;
        for p in pods_of(&pods, "content-store")
            .into_iter()
            .chain(pods_of(&pods, "router"))
        {
            assert!(
                sessions.contains(&(p.name_any(), ip(p))),
                "{env}: {} from {} in {sessions:?}",
                p.name_any(),
                ip(p)
            );
        }
    }

    // A StatefulSet reading a Secret runs like a Deployment, and Reloader
    // restarts it (here for naming the Secret, as Reloader also allows).
    let sts: StatefulSet = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "signon-cache", "annotations": {"secret.reloader.stakater.com/reload": "other, signon-mysql"}},
        "spec": {
            "replicas": 2, "serviceName": "signon-cache",
            "selector": {"matchLabels": {"app.kubernetes.io/name": "signon-cache"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "signon-cache"}},
                "spec": {"containers": [{"name": "cache", "image": "x", "envFrom": [{"secretRef": {"name": "signon-mysql"}}]}]},
            },
        },
    }))
    .unwrap();
    let statefulsets: Api<StatefulSet> = Api::namespaced(estate.client("production").clone(), ns);
    statefulsets.create(&PostParams::default(), &sts).await.unwrap();
    let ready = |want: i32| {
        let api = statefulsets.clone();
        async move {
            let s = api.get("signon-cache").await.unwrap();
            let st = s.status.unwrap_or_default();
            st.ready_replicas == Some(want) && st.updated_replicas == Some(want)
        }
    };
    poll("the StatefulSet's pods", || ready(2)).await;
    let prod_pods: Api<Pod> = Api::namespaced(estate.client("production").clone(), ns);
    let first = prod_pods.get("signon-cache-0").await.unwrap();
    assert!(
        mysql_hosts(&estate, "production", "signon")
            .await
            .contains(&ip(&first))
    );
    let mut changed = prod_secrets.get("signon-mysql").await.unwrap();
    changed
        .data
        .get_or_insert_default()
        .insert("EXTRA".into(), k8s_openapi::ByteString(b"1".to_vec()));
    changed.metadata.managed_fields = None;
    prod_secrets
        .replace("signon-mysql", &PostParams::default(), &changed)
        .await
        .unwrap();
    poll("Reloader to roll the StatefulSet", || async {
        let p = prod_pods.get_opt("signon-cache-0").await.unwrap();
        p.is_some_and(|p| p.uid() != first.uid() && !ip(&p).is_empty() && is_running(&p))
    })
    .await;

    // A CronJob run holds its connections until it finishes.
    let env = "production";
    let job = estate
        .run_cronjob(env, "signon-delete-expired-tokens")
        .await
        .unwrap();
    let pods_api: Api<Pod> = Api::namespaced(estate.client(env).clone(), ns);
    let job_pods = ListParams::default().labels(&format!("job-name={job}"));
    poll("the job's pod to run", || async {
        pods_api
            .list(&job_pods)
            .await
            .unwrap()
            .items
            .iter()
            .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    })
    .await;
    let pod = pods_api.list(&job_pods).await.unwrap().items.remove(0);
    let job_ip = ip(&pod);
    assert!(mysql_hosts(&estate, env, "signon").await.contains(&job_ip));
    let jobs: Api<Job> = Api::namespaced(estate.client(env).clone(), ns);
    let j = jobs.get(&job).await.unwrap();
    assert_eq!(j.owner_references()[0].name, "signon-delete-expired-tokens");
    let cronjobs: Api<CronJob> = Api::namespaced(estate.client(env).clone(), ns);
    let cj = cronjobs.get("signon-delete-expired-tokens").await.unwrap();
    let st = cj.status.unwrap();
    assert!(st.last_schedule_time.is_some());
    assert_eq!(st.active.unwrap()[0].name.as_deref(), Some(job.as_str()));
    estate.finish_job(env, &job).await.unwrap();
    let done = jobs.get(&job).await.unwrap().status.unwrap();
    assert!(done.completion_time.is_some() && done.succeeded == Some(1));
    let pod = pods_api.get(&pod.name_any()).await.unwrap();
    assert_eq!(pod.status.unwrap().phase.as_deref(), Some("Succeeded"));
    poll("the job's sessions to close", || async {
        !mysql_hosts(&estate, env, "signon").await.contains(&job_ip)
    })
    .await;

    // The nightly restore: a new database, owned as before, recorded as a Job.
    let db = "content_store_production";
    let first = estate.nightly_restore("content-store").await.unwrap();
    assert_eq!(
        (first.from_env.as_str(), first.to_env.as_str()),
        ("production", "staging")
    );
    assert_ne!(first.old_oid, Some(first.new_oid), "a new database");
    assert!(first.old_oid.is_some(), "staging started as a restored copy");
    assert_eq!(first.errors, 0, "{:?}", first.error_lines);
    assert_eq!(first.owner, "content-store");
    let staging_jobs: Api<Job> = Api::namespaced(estate.client("staging").clone(), ns);
    let recorded = staging_jobs
        .list(&ListParams::default().labels(&format!("rotui.dev/restore-of={db}")))
        .await
        .unwrap();
    assert!(recorded.items.iter().any(|j| j.name_any() == first.job));
    assert!(first.job.starts_with("content-store-db-restore-"));
    assert!(
        estate.nightly_restore("account-api").await.is_err(),
        "account-api is not copied"
    );

    // A role production has and staging lacks: pg_restore reports it and goes on.
    let mut su = sqlx::PgConnection::connect_with(&estate.postgres("production").superuser_options(db))
        .await
        .unwrap();
    su.execute("CREATE ROLE content_store_reader NOLOGIN")
        .await
        .unwrap();
    su.execute("GRANT SELECT ON content_items TO content_store_reader")
        .await
        .unwrap();
    su.close().await.unwrap();
    let second = estate.nightly_restore("content-store").await.unwrap();
    assert_eq!(second.old_oid, Some(first.new_oid));
    assert_ne!(second.new_oid, first.new_oid);
    assert!(second.errors >= 1, "{second:?}");
    assert!(
        second
            .error_lines
            .iter()
            .any(|l| l.contains("content_store_reader")),
        "{:?}",
        second.error_lines
    );
    // The data came over anyway, and staging's own login still works.
    let mut c = sqlx::PgConnection::connect_with(&estate.postgres("staging").superuser_options(db))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM content_items")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 3);
    c.close().await.unwrap();
    estate.wait_for_consumers(Duration::from_secs(60)).await.unwrap();
    estate.shutdown().await;
}
