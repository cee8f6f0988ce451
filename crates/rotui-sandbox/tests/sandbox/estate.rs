//! The default estate (`assets/sandbox/estate.toml`), started for real:
//! production, staging and integration as separate accounts and clusters,
//! every consumer connected from its own pod address, CronJob runs, and the
//! data sync (db-backup CronJobs) run with the real dump and restore
//! programs and read back by rotui. One estate, checked step by step (it
//! starts nine servers).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{ListParams, PostParams};
use kube::{Api, ResourceExt};
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui::k8s::db_sync::{self, RunOutcome};
use rotui::k8s::{K8s, KubeOptions};
use rotui::secret::SecretString;
use rotui::target::Engine;
use rotui_sandbox::estate::{EngineKind, Estate, EstateSpec, SyncOutcome, SyncReport};
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
    for (env, want) in [
        ("production", "111111111111"),
        ("staging", "222222222222"),
        ("integration", "333333333333"),
    ] {
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

    data_sync(&estate, &spec).await;

    estate.wait_for_consumers(Duration::from_secs(60)).await.unwrap();
    estate.shutdown().await;
}

/// rotui's view of `env`'s cluster, through the estate's kubeconfig and
/// that environment's AWS profile (as rotui gets it).
async fn rotui_k8s(estate: &Estate, env: &str) -> K8s {
    let info = estate.info();
    let s = |p: &std::path::Path| SecretString::from(p.to_string_lossy().into_owned());
    let exec = rotui::aws::ExecEnv {
        set: vec![
            ("AWS_CONFIG_FILE".into(), s(&info.aws_config_file)),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                s(&info.aws_shared_credentials_file),
            ),
            (
                "AWS_PROFILE".into(),
                SecretString::from(estate.env(env).aws_profile.clone()),
            ),
        ],
        drop: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
            .map(String::from)
            .to_vec(),
    };
    K8s::connect(&KubeOptions {
        kubeconfig: Some(info.kubeconfig.clone()),
        context: Some(estate.kube_context(env).to_owned()),
        namespace: Some(info.namespace.clone()),
        exec_env: Some(exec),
    })
    .await
    .unwrap()
}

fn engine(k: EngineKind) -> Engine {
    match k {
        EngineKind::Mysql => Engine::Mysql,
        EngineKind::Postgres => Engine::Postgres,
    }
}

fn failed(r: &SyncReport) -> (&str, &str) {
    match &r.outcome {
        SyncOutcome::Failed { step, why } => (step, why),
        SyncOutcome::Succeeded => panic!("the run should have failed: {r:?}"),
    }
}

async fn pg_scalar<T>(estate: &Estate, env: &str, db: &str, sql: &'static str, bind: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut c = sqlx::PgConnection::connect_with(&estate.postgres(env).superuser_options(db))
        .await
        .unwrap();
    let v = sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    v
}

async fn pg_databases(estate: &Estate, env: &str, prefix: &str) -> Vec<String> {
    let mut c = sqlx::PgConnection::connect_with(&estate.postgres(env).superuser_options("postgres"))
        .await
        .unwrap();
    let v =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1")
            .bind(prefix)
            .fetch_all(&mut c)
            .await
            .unwrap();
    c.close().await.unwrap();
    v
}

async fn mysql_root(estate: &Estate, env: &str) -> sqlx::MySqlConnection {
    sqlx::mysql::MySqlConnectOptions::from_url(&estate.mysql(env).root_url().parse().unwrap())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// The data sync: every CronJob as rotui reads it, then runs of each kind.
async fn data_sync(estate: &Estate, spec: &EstateSpec) {
    let ns = &spec.namespace;
    // rotui reads every environment's CronJobs as the estate file says,
    // and the PostgreSQL copies' runs at start-up.
    for env in ["production", "staging", "integration"] {
        let k8s = rotui_k8s(estate, env).await;
        for (name, app) in &spec.apps {
            let sync = db_sync::read(&k8s, engine(app.engine), &app.database)
                .await
                .unwrap();
            let want = spec.sync_of(name, env);
            assert_eq!(sync.jobs.len(), usize::from(want.is_some()), "{env}/{name}");
            let (Some(want), Some(job)) = (want, sync.jobs.first()) else {
                continue;
            };
            assert_eq!(job.cronjob, format!("db-backup-{}", app.host_label()));
            assert_eq!(job.db_host, app.host_label());
            assert_eq!(job.engine, engine(app.engine));
            assert_eq!(job.database, app.database);
            assert_eq!(job.restored_from(), want.from, "{env}/{name}");
            assert_eq!(job.suspended, want.suspend, "{env}/{name}");
            assert_eq!(
                job.db_owner
                    .as_ref()
                    .filter(|o| o.explicit)
                    .map(|o| o.name.clone()),
                want.db_owner,
                "{env}/{name}"
            );
            let transforms: Vec<String> = want
                .transform
                .iter()
                .map(|t| t.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            assert_eq!(job.transforms(), transforms);
            assert!(transforms.iter().all(|t| sync.scripts.contains_key(t)));
            assert!(sync.unread.is_empty(), "{:?}", sync.unread);
            if want.from.is_some() && app.engine == EngineKind::Postgres {
                let last = job.last_run.as_ref().expect("the copy made at start-up");
                assert!(matches!(last.outcome, RunOutcome::Succeeded { .. }), "{last:?}");
            } else {
                assert!(job.last_run.is_none(), "{env}/{name}: {:?}", job.last_run);
            }
        }
    }
    assert_eq!(
        rotui_k8s(estate, "staging")
            .await
            .api::<CronJob>()
            .get("db-backup-content-store-postgres")
            .await
            .unwrap()
            .spec
            .unwrap()
            .schedule,
        "06 22 * * 0-4"
    );

    // PostgreSQL: a new database swapped in, handed to DB_OWNER, the
    // transform applied, `-old` dropped, a Complete Job the CronJob owns.
    let db = "email-alert-api_production";
    let run = estate.run_sync("staging", "email-alert-api").await.unwrap();
    assert!(run.succeeded(), "{run:?}");
    assert_eq!(run.source.as_deref(), Some("production"));
    assert!(run.old_oid.is_some(), "staging started as a restored copy");
    assert_ne!(run.old_oid, run.new_oid, "a new database");
    assert_eq!(run.owner.as_deref(), Some("email-alert-api"));
    assert_eq!(run.errors, 0, "{:?}", run.error_lines);
    assert!(
        run.job.starts_with("db-backup-email-alert-api-postgres-"),
        "{}",
        run.job
    );
    let owner: String = pg_scalar(
        estate,
        "staging",
        "postgres",
        "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
        db,
    )
    .await;
    assert_eq!(owner, "email-alert-api");
    assert_eq!(
        pg_databases(estate, "staging", db).await,
        [db],
        "no -old, no -restore left"
    );
    let emails_owner: String = pg_scalar(
        estate,
        "staging",
        db,
        "SELECT tableowner::text FROM pg_tables WHERE tablename = $1",
        "emails",
    )
    .await;
    assert_eq!(
        emails_owner, "email-alert-api",
        "the transform's ALTER TABLE … OWNER"
    );
    let recent: i64 = pg_scalar(
        estate,
        "staging",
        db,
        "SELECT count(*) FROM emails WHERE $1 <> ''",
        "x",
    )
    .await;
    let all: i64 = pg_scalar(
        estate,
        "production",
        db,
        "SELECT count(*) FROM emails WHERE $1 <> ''",
        "x",
    )
    .await;
    assert_eq!(
        (recent, all),
        (1, 2),
        "the transform kept only the last day's emails"
    );
    let staging_jobs: Api<Job> = Api::namespaced(estate.client("staging").clone(), ns);
    let job = staging_jobs.get(&run.job).await.unwrap();
    let owner = &job.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("CronJob", run.cronjob.as_str())
    );
    let status = job.status.unwrap();
    assert_eq!(status.succeeded, Some(1));
    assert!(
        status
            .conditions
            .unwrap()
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
    );
    let seen = db_sync::read(&rotui_k8s(estate, "staging").await, Engine::Postgres, db)
        .await
        .unwrap();
    let last = seen.jobs[0].last_run.clone().unwrap();
    assert_eq!(last.job, run.job);
    assert!(
        matches!(last.outcome, RunOutcome::Succeeded { at: Some(_) }),
        "{last:?}"
    );

    // The transform runs as `psql "$DB_DATABASE" < script`, without
    // ON_ERROR_STOP (as the chart's backup-postgres): a failing statement is
    // counted and the Job still completes.
    let scripts: Api<ConfigMap> = Api::namespaced(estate.client("staging").clone(), ns);
    let mut cm = scripts.get("db-backup").await.unwrap();
    let script = cm.data.as_mut().unwrap().get_mut("email-alert-api.sql").unwrap();
    let original = script.clone();
    script.push_str("ALTER TABLE emails OWNER TO \"email-alert-api-gone\";\n");
    scripts
        .replace("db-backup", &PostParams::default(), &cm)
        .await
        .unwrap();
    let lenient = estate.run_sync("staging", "email-alert-api").await.unwrap();
    assert!(lenient.succeeded(), "{lenient:?}");
    assert_eq!(lenient.errors, 1, "{lenient:?}");
    assert!(
        lenient.error_lines[0].contains("email-alert-api-gone"),
        "{lenient:?}"
    );
    let mut cm = scripts.get("db-backup").await.unwrap();
    cm.data
        .as_mut()
        .unwrap()
        .insert("email-alert-api.sql".into(), original);
    scripts
        .replace("db-backup", &PostParams::default(), &cm)
        .await
        .unwrap();

    // A role production has and staging lacks: psql reports it and goes on.
    let cs_db = "content_store_production";
    let mut su = sqlx::PgConnection::connect_with(&estate.postgres("production").superuser_options(cs_db))
        .await
        .unwrap();
    su.execute("CREATE ROLE content_store_reader NOLOGIN")
        .await
        .unwrap();
    su.execute("GRANT SELECT ON content_items TO content_store_reader")
        .await
        .unwrap();
    su.close().await.unwrap();
    let cs = estate.run_sync("staging", "content-store").await.unwrap();
    assert!(cs.succeeded(), "{cs:?}");
    assert_eq!(
        cs.owner.as_deref(),
        Some("content_store"),
        "lib.sh's default DB_OWNER"
    );
    assert!(
        cs.errors >= 1 && cs.error_lines.iter().any(|l| l.contains("content_store_reader")),
        "{cs:?}"
    );
    let n: i64 = pg_scalar(
        estate,
        "staging",
        cs_db,
        "SELECT count(*) FROM content_items WHERE $1 <> ''",
        "x",
    )
    .await;
    assert_eq!(n, 3, "the data came over anyway");

    // A DB_OWNER naming a role the target lacks: the swap is done, then the
    // Job fails, `-old` left behind (as the script leaves it).
    let pa_db = "publishing_api_production";
    estate
        .set_sync_db_owner("staging", "publishing-api", Some("publishing-api-owner"))
        .await
        .unwrap();
    let bad = estate.run_sync("staging", "publishing-api").await.unwrap();
    let (step, why) = failed(&bad);
    assert_eq!(step, "0-restore");
    assert!(
        why.contains("after the swap")
            && why.contains("\"publishing-api-owner\"")
            && why.contains("does not exist"),
        "{why}"
    );
    assert!(
        bad.new_oid.is_some() && bad.old_oid != bad.new_oid,
        "swapped: {bad:?}"
    );
    assert_eq!(
        pg_databases(estate, "staging", pa_db).await,
        [pa_db.to_owned(), format!("{pa_db}-old")]
    );
    let status = staging_jobs.get(&bad.job).await.unwrap().status.unwrap();
    assert_eq!(status.failed, Some(1));
    let cond = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Failed")
        .unwrap();
    assert!(cond.message.unwrap().contains("0-restore"));
    let seen = db_sync::read(&rotui_k8s(estate, "staging").await, Engine::Postgres, pa_db)
        .await
        .unwrap();
    match &seen.jobs[0].last_run.as_ref().unwrap().outcome {
        RunOutcome::Failed { why } => assert!(why.contains("publishing-api-owner"), "{why}"),
        other => panic!("rotui sees {other:?}"),
    }
    estate
        .set_sync_db_owner("staging", "publishing-api", Some("publishing-api-owner-role"))
        .await
        .unwrap();
    let fixed = estate.run_sync("staging", "publishing-api").await.unwrap();
    assert!(fixed.succeeded(), "{fixed:?}");
    assert_eq!(pg_databases(estate, "staging", pa_db).await, [pa_db]);

    // Backup only: nothing restored.
    let aa = estate.run_sync("staging", "account-api").await.unwrap();
    assert!(
        aa.succeeded() && aa.source.is_none() && aa.old_oid.is_none(),
        "{aa:?}"
    );

    // DB_PASSWORD's Secret, written by External Secrets from
    // govuk/db-backup/passwd: a key per synced host (MySQL runs log in with it).
    let secrets: Api<Secret> = Api::namespaced(estate.client("staging").clone(), ns);
    let want: BTreeSet<String> = spec
        .apps
        .iter()
        .filter(|(n, _)| spec.sync_of(n, "staging").is_some())
        .map(|(_, a)| a.host_label())
        .collect();
    poll("db-backup-passwd", || async {
        let keys: Option<BTreeSet<String>> = secrets
            .get_opt("db-backup-passwd")
            .await
            .unwrap()
            .and_then(|s| s.data)
            .map(|d| d.into_keys().collect());
        keys.as_ref() == Some(&want)
    })
    .await;

    // MySQL: production's view and data, with production's definer.
    let wh_db = "whitehall_production";
    let mut prod = mysql_root(estate, "production").await;
    for sql in [
        "INSERT INTO whitehall_production.editions (title, state) VALUES ('Synced', 'published')",
        "CREATE DEFINER = 'whitehall'@'%' SQL SECURITY DEFINER VIEW whitehall_production.sync_probe AS SELECT id FROM whitehall_production.editions",
    ] {
        prod.execute(sql).await.unwrap();
    }
    let wh = estate.run_sync("staging", "whitehall-admin").await.unwrap();
    assert!(wh.succeeded(), "{wh:?}");
    assert_eq!((wh.source.as_deref(), wh.old_oid), (Some("production"), None));
    let mut staging = mysql_root(estate, "staging").await;
    let definer = |table: &'static str, kind: &'static str| {
        let sql = match kind {
            "view" => {
                "SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?"
            }
            _ => {
                "SELECT DEFINER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME = ?"
            }
        };
        sqlx::query_scalar::<_, String>(sql).bind(wh_db).bind(table)
    };
    assert_eq!(
        definer("sync_probe", "view")
            .fetch_one(&mut staging)
            .await
            .unwrap(),
        "whitehall@%"
    );
    assert_eq!(
        definer("editions_touch", "trigger")
            .fetch_one(&mut staging)
            .await
            .unwrap(),
        "whitehall@%"
    );
    let synced: i64 =
        sqlx::query_scalar("SELECT count(*) FROM whitehall_production.editions WHERE title = 'Synced'")
            .fetch_one(&mut staging)
            .await
            .unwrap();
    assert_eq!(synced, 1);
    // A dump that fails (a view over a dropped table) fails the Job, staging untouched.
    for sql in [
        "CREATE TABLE whitehall_production.gone (id INT)",
        "CREATE DEFINER = 'whitehall'@'%' VIEW whitehall_production.broken AS SELECT id FROM whitehall_production.gone",
        "DROP TABLE whitehall_production.gone",
    ] {
        prod.execute(sql).await.unwrap();
    }
    let broken = estate.run_sync("staging", "whitehall-admin").await.unwrap();
    let (step, why) = failed(&broken);
    assert_eq!(step, "0-restore");
    assert!(
        why.contains("mysqldump of production's whitehall_production") && why.contains("broken"),
        "{why}"
    );
    assert!(
        definer("sync_probe", "view")
            .fetch_optional(&mut staging)
            .await
            .unwrap()
            .is_some()
    );
    prod.execute("DROP VIEW whitehall_production.broken")
        .await
        .unwrap();
    prod.close().await.unwrap();
    staging.close().await.unwrap();

    // Suspended: refused unless forced.
    let e = estate.run_sync("integration", "signon").await.unwrap_err();
    assert!(format!("{e:#}").contains("suspended"), "{e:#}");
    let forced = estate.run_sync_forced("integration", "signon").await.unwrap();
    assert_eq!(forced.source.as_deref(), Some("staging"));
    // signon's seed has a view defined by root@localhost: aws_db_admin
    // cannot set that definer, so the load stops there (as on RDS).
    let (step, why) = failed(&forced);
    assert_eq!(step, "0-restore");
    assert!(why.contains("SYSTEM_USER"), "{why}");
    let e = estate.run_sync("qa", "signon").await.unwrap_err();
    assert!(format!("{e:#}").contains("no environment `qa`"), "{e:#}");
}
