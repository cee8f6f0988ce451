//! `rotui fleet`'s load at estate scale: the sandbox grown to 40 database
//! apps (the two seeded ones and 38 more secrets, each read by its own
//! ExternalSecret that the sandbox's External Secrets controller syncs), then
//! [`rotui::fleet::load`] as `rotui fleet` runs it: wall time per load
//! (target ≤ 2 s) and the calls it made to each system, with at most
//! [`rotui::fleet::CONCURRENCY`] in flight per system. Each app's user
//! exists on its server, so every load also logs in 40 times (the login
//! column), as against a real estate.
//!
//! `cargo bench --profile dev --bench fleet -- --bench` runs it; without
//! `--bench` (`cargo test --benches`) it only says so: a sandbox costs
//! seconds that CI need not spend.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui::k8s::externalsecret::ExternalSecret;
use rotui::k8s::{K8s, KubeOptions};
use rotui_sandbox::world::{self, World};

const APPS: usize = 40;
const LOADS: usize = 10;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("fleet bench: skipped without --bench");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench());
}

async fn bench() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let info = world.info().clone();
    let session = AwsSession::with_credentials(
        &AwsOptions {
            endpoint_url: Some(info.aws_endpoint_url.clone()),
            region: Some(info.aws_region.clone()),
            ..AwsOptions::default()
        },
        &StaticCredentials::new(world::AWS_KEY, world::AWS_KEY),
    )
    .await
    .expect("a session");
    let sm = session.secrets();
    let host_of = |secret: String| {
        let sm = sm.clone();
        async move { sm.app_secret(&secret).await.expect("a seeded app secret").host }
    };
    let mysql_host = host_of(info.mysql.app_secret.clone()).await;
    let pg_host = host_of(info.postgres.app_secret.clone()).await;
    let mut mysql_admin = admin::<sqlx::MySqlConnection>(&sm, &info.mysql).await;
    let mut pg_admin = admin::<sqlx::PgConnection>(&sm, &info.postgres).await;

    // Grow the estate: 38 more apps, half MySQL, half PostgreSQL.
    let externals: Api<ExternalSecret> = Api::namespaced(world.client().clone(), &info.namespace);
    let mut names = Vec::new();
    for i in 0..APPS - 2 {
        let app = format!("app-{i:02}");
        let user = format!("{app}_user_20260101");
        let password = rotui::secret::generate_password();
        let pw = rotui::secret::ExposeSecret::expose_secret(&password);
        // Names and passwords made here are plain (letters, digits, `-`, `_`).
        let (engine, scheme, host, database) = if i % 2 == 0 {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE USER '{user}'@'%' IDENTIFIED BY '{pw}'"
            )))
            .execute(&mut mysql_admin)
            .await
            .expect("a MySQL user");
            ("mysql", "mysql2", &mysql_host, format!("{app}_production"))
        } else {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE ROLE \"{user}\" LOGIN PASSWORD '{pw}'"
            )))
            .execute(&mut pg_admin)
            .await
            .expect("a PostgreSQL role");
            ("postgres", "postgresql", &pg_host, info.postgres.database.clone())
        };
        let key = format!("govuk/{app}/{engine}");
        sm.create_if_missing(
            &key,
            &serde_json::json!({
                "username": user,
                "password": pw,
                "host": host,
            }),
        )
        .await
        .expect("a secret");
        let name = format!("{app}-{engine}");
        let es: ExternalSecret = serde_json::from_value(serde_json::json!({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": { "name": name, "namespace": info.namespace },
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": { "kind": "ClusterSecretStore", "name": "aws-secretsmanager" },
                "dataFrom": [ { "extract": { "key": key } } ],
                "target": {
                    "name": name,
                    "template": { "data": {
                        "DATABASE_URL": format!("{scheme}://{{{{ .username }}}}:{{{{ .password }}}}@{{{{ .host }}}}/{database}")
                    } }
                }
            }
        }))
        .expect("an ExternalSecret");
        externals
            .create(&PostParams::default(), &es)
            .await
            .expect("created");
        names.push(name);
    }
    // Wait for the controller to write every Secret.
    let secrets: Api<Secret> = Api::namespaced(world.client().clone(), &info.namespace);
    let start = Instant::now();
    for name in &names {
        while secrets.get_opt(name).await.expect("get").is_none() {
            assert!(start.elapsed() < Duration::from_secs(60), "{name} never synced");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let k8s = K8s::connect(&KubeOptions {
        kubeconfig: Some(info.kubeconfig.clone()),
        context: None,
        namespace: Some(info.namespace.clone()),
        exec_env: None,
    })
    .await
    .expect("the cluster");
    let mut walls = Vec::new();
    let mut last = None;
    for _ in 0..LOADS {
        let t = Instant::now();
        let report = rotui::fleet::load(
            &info.env,
            Ok(sm.clone()),
            Ok(k8s.clone()),
            90,
            Some(rotui::fleet::LOGIN_LIMIT),
            chrono::Utc::now(),
        )
        .await;
        walls.push(t.elapsed());
        last = Some(report);
    }
    let report = last.expect("loaded");
    assert_eq!(report.rows.len(), APPS, "{:?}", report.errors);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(
        report
            .rows
            .iter()
            .all(|r| r.secrets_match() == rotui::model::Verdict::Yes),
        "every Secret matches AWSCURRENT"
    );
    assert!(
        report
            .rows
            .iter()
            .all(|r| matches!(r.login, Some(rotui::fleet::Login::Ok { .. }))),
        "every AWSCURRENT logs in: {:?}",
        report.rows.iter().map(|r| (&r.app, &r.login)).collect::<Vec<_>>()
    );
    walls.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "fleet of {APPS} apps: load median {:.1} ms, max {:.1} ms over {LOADS} loads (target ≤ 2000 ms); \
         calls per load: Secrets Manager {}, Kubernetes {}, database logins {}; at most {} in flight per system",
        ms(walls[LOADS / 2]),
        ms(walls[LOADS - 1]),
        report.calls.get(rotui::model::System::SecretsManager),
        report.calls.get(rotui::model::System::Kubernetes),
        report.calls.get(rotui::model::System::Database),
        rotui::fleet::CONCURRENCY,
    );
    world.shutdown().await;
}

/// A connection as the sandbox's admin: its URL, with the password from the
/// admin secret (as rotui reads it).
async fn admin<C: sqlx::Connection>(sm: &rotui::aws::SecretsManager, engine: &world::EngineInfo) -> C {
    let target = rotui::target::Target::new(
        world::ENV,
        &engine.app,
        if engine.admin_url.starts_with("postgres") {
            rotui::target::Engine::Postgres
        } else {
            rotui::target::Engine::Mysql
        },
    );
    let password = sm
        .admin_password(&target.admin_secret, &target.admin_secret_key)
        .await
        .expect("the admin password");
    let mut url = url::Url::parse(&engine.admin_url).expect("the admin URL");
    url.set_password(Some(rotui::secret::ExposeSecret::expose_secret(&password)))
        .expect("a password");
    C::connect(url.as_str()).await.expect("connected as the admin")
}
