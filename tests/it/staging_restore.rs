//! PostgreSQL staging, refreshed every night from production as the estate
//! does it (`pg_dump -Fc` of one database, `pg_restore` into a re-created
//! database, then `ALTER DATABASE … OWNER TO $DB_OWNER`): two real
//! PostgreSQL 17 servers, each environment with its own secret and its own
//! sandbox cluster. The rotation waits across the night for a restore it
//! observes (the database re-created), then creates in staging the login
//! pg_dump did not copy, with production's username and password.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui::db::ident::{pg_ident, pg_str};
use rotui::db::postgres::PgDb;
use rotui::k8s::{K8s, KubeOptions};
use rotui::rotation::adapters::{AwsSecrets, K8sCluster, PgPort};
use rotui::rotation::journal::Journal;
use rotui::rotation::ports::*;
use rotui::rotation::runner::{self, RunOptions, RunOutcome, Wait};
use rotui::rotation::{Ctx, Mode, Plan, PlanSpec};
use rotui::secret::{self, ExposeSecret, SecretString};
use rotui::target::{Engine, Target};
use rotui_sandbox::apiserver::KubeApiServer;
use rotui_sandbox::controllers::{AppPods, Cluster, ExternalSecret, SecretSource, govuk};
use rotui_sandbox::moto::MotoServer;
use rotui_sandbox::postgres::{PgFlavor, PostgresServer, pg17_cache_bindir, skipping_pg17};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// One environment's cluster: the sandbox API server and its controllers
/// (External Secrets reading moto, Reloader, Deployments, app pods holding
/// real database sessions).
struct Sandbox {
    client: kube::Client,
    kubeconfig: PathBuf,
    cluster: Cluster,
    _server: KubeApiServer,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    async fn start(session: &AwsSession) -> Sandbox {
        let pods = AppPods::new();
        let server = KubeApiServer::start(Arc::new(pods.clone())).await.unwrap();
        let mut config = kube::Config::new(server.url().parse().unwrap());
        config.default_namespace = "apps".into();
        let client = kube::Client::try_from(config).unwrap();
        let source = Arc::new(CurrentStage(Client::new(session.sdk_config())));
        let cluster = Cluster::start(client.clone(), "apps", source, pods);
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig, "apps").unwrap();
        Sandbox {
            client,
            kubeconfig,
            cluster,
            _server: server,
            _dir: dir,
        }
    }

    /// The app deployed as GOV.UK has it: its ExternalSecret and a Deployment.
    async fn deploy(&self, t: &Target) -> Arc<dyn ClusterPort> {
        Api::<ExternalSecret>::namespaced(self.client.clone(), "apps")
            .create(&PostParams::default(), &govuk::external_secret(t))
            .await
            .unwrap();
        Api::<Deployment>::namespaced(self.client.clone(), "apps")
            .create(&PostParams::default(), &govuk::deployment(t, 1))
            .await
            .unwrap();
        let k8s = K8s::connect(&KubeOptions {
            kubeconfig: Some(self.kubeconfig.clone()),
            namespace: Some("apps".into()),
            ..Default::default()
        })
        .await
        .unwrap();
        Arc::new(K8sCluster::new(
            k8s,
            &t.external_secret,
            &t.k8s_secret,
            &t.deployment,
            &t.container,
        ))
    }
}

/// External Secrets' provider read, asking for AWSCURRENT by name (moto does
/// not move a secret's default version when AWSCURRENT moves).
struct CurrentStage(Client);

impl SecretSource for CurrentStage {
    fn get(&self, key: &str) -> futures::future::BoxFuture<'static, Result<serde_json::Value, String>> {
        let (client, key) = (self.0.clone(), key.to_owned());
        Box::pin(async move {
            let out = client
                .get_secret_value()
                .secret_id(&key)
                .version_stage("AWSCURRENT")
                .send()
                .await
                .map_err(|e| {
                    secret::redact(&aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
                })?;
            serde_json::from_str(out.secret_string().unwrap_or_default())
                .map_err(|_| format!("secret {key} is not a JSON document"))
        })
    }
}

async fn aws_session() -> AwsSession {
    let opts = AwsOptions {
        endpoint_url: Some(MotoServer::shared().endpoint_url()),
        region: Some("eu-west-1".into()),
        ..Default::default()
    };
    AwsSession::with_credentials(&opts, &StaticCredentials::new("testing", "testing"))
        .await
        .unwrap()
}

async fn app_secret(session: &AwsSession, id: &str, user: &str, password: &SecretString, host: &str) {
    Client::new(session.sdk_config())
        .create_secret()
        .name(id)
        .secret_string(
            json!({"username": user, "password": password.expose_secret(), "host": host}).to_string(),
        )
        .send()
        .await
        .expect("create the app secret in moto");
}

/// PostgreSQL 17's client programs, beside the server the tests run.
fn pg_program(name: &str) -> PathBuf {
    let system = PathBuf::from("/usr/lib/postgresql/17/bin").join(name);
    if system.is_file() {
        system
    } else {
        pg17_cache_bindir().join(name)
    }
}

/// The superuser's password, for the night's job (it runs as a superuser).
fn superuser_password(server: &PostgresServer) -> String {
    let url = url::Url::parse(server.superuser_url("postgres").expose_secret()).unwrap();
    let pw = url.password().unwrap_or_default();
    percent_encoding::percent_decode_str(pw)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// `program` against `server` as the superuser (the password in the
/// environment, never on the command line); its status and stderr.
fn pg_client(program: &str, server: &PostgresServer, args: &[&str]) -> (bool, String) {
    let port = server.port().to_string();
    let out = Command::new(pg_program(program))
        .env("PGPASSWORD", superuser_password(server))
        .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn superuser(server: &PostgresServer) -> PgConnection {
    PgConnection::connect_with(&server.superuser_options("postgres"))
        .await
        .unwrap()
}

/// The estate's nightly job (govuk-helm-charts `charts/db-backup`'s
/// `backup-postgres`): `pg_dump -Fc` of `from`'s `database`, restored into
/// `to`'s database re-created empty (without `--no-owner`: objects go to
/// their roles where `to` has them), then `ALTER DATABASE … OWNER TO
/// db_owner`. Roles are not part of the dump. (On two bare servers; the
/// estate's `Estate::run_sync` runs the whole script — `<db>-restore`, the
/// swap, DB_OWNER, the transform — from its clusters' CronJobs.)
async fn nightly_restore(from: &PostgresServer, to: &PostgresServer, database: &str, db_owner: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.pgc");
    let dump_path = dump.to_str().unwrap();
    let (ok, err) = pg_client("pg_dump", from, &["-Fc", "-f", dump_path, database]);
    assert!(ok, "pg_dump failed: {err}");
    let mut su = superuser(to).await;
    su.execute(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        pg_ident(database)
    )))
    .await
    .unwrap();
    su.execute(AssertSqlSafe(format!("CREATE DATABASE {}", pg_ident(database))))
        .await
        .unwrap();
    let (ok, err) = pg_client("pg_restore", to, &["-d", database, dump_path]);
    // pg_restore goes on past errors; the only ones allowed are grants and
    // owners naming roles this server does not have.
    if !ok {
        for line in err.lines().filter(|l| l.contains("error:")) {
            assert!(
                line.contains("role") && line.contains("does not exist") || line.contains("errors ignored"),
                "pg_restore failed: {err}"
            );
        }
    }
    su.execute(AssertSqlSafe(format!(
        "ALTER DATABASE {} OWNER TO {}",
        pg_ident(database),
        pg_ident(db_owner)
    )))
    .await
    .unwrap();
    su.close().await.unwrap();
}

async fn db_port(server: &PostgresServer, database: &str) -> Arc<dyn DbPort> {
    let admin = PgDb::connect(server.admin_url(database).expose_secret())
        .await
        .unwrap();
    Arc::new(PgPort::new(admin, "127.0.0.1", server.port(), database))
}

/// Poll until `f` holds, or fail naming `what`.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn postgres_staging_follows_a_nightly_restore_that_brings_no_roles() {
    if skipping_pg17("staging_restore::postgres_staging_follows_a_nightly_restore_that_brings_no_roles") {
        return;
    }
    let production = PostgresServer::shared_of(PgFlavor::Pg17);
    let staging = PostgresServer::start_flavor(PgFlavor::Pg17).expect("start staging's PostgreSQL 17");
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let app = format!("content-store-{tag}");
    let database = format!("content_store_{tag}_production");
    let owner = format!("{app}-owner-role");

    // Production: the app's login owns its database and every object.
    let prod_pw = secret::generate_password();
    production.seed_app(&app, &prod_pw, &database).await.unwrap();
    // Staging: its own login for the app (its own password), and the owner
    // role an earlier conversion left (roles outlive restores), both made by
    // the RDS-shaped admin; then last night's copy of production.
    let staging_pw = secret::generate_password();
    let mut admin = PgConnection::connect_with(&staging.admin_options("postgres"))
        .await
        .unwrap();
    for sql in [
        format!(
            "CREATE ROLE {} LOGIN PASSWORD {}",
            pg_ident(&app),
            pg_str(staging_pw.expose_secret())
        ),
        format!("CREATE ROLE {} NOLOGIN", pg_ident(&owner)),
        format!("GRANT {} TO {}", pg_ident(&owner), pg_ident(&app)),
    ] {
        admin.execute(AssertSqlSafe(sql)).await.unwrap();
    }
    admin.close().await.unwrap();
    nightly_restore(production, &staging, &database, &app).await;

    // Each environment its own secret (its own account) and its own cluster.
    let session = aws_session().await;
    let mut prod_t = Target::new("production", &app, Engine::Postgres);
    prod_t.database = database.clone();
    prod_t.app_secret = format!("govuk/{app}/postgres");
    prod_t.external_secret = format!("e2e-{tag}-postgres");
    prod_t.k8s_secret = prod_t.external_secret.clone();
    prod_t.deployment = format!("e2e-{tag}");
    let mut staging_t = PlanSpec::target_in(&prod_t, "staging");
    staging_t.app_secret = format!("staging/govuk/{app}/postgres");
    let host = |s: &PostgresServer| format!("127.0.0.1:{}", s.port());
    app_secret(&session, &prod_t.app_secret, &app, &prod_pw, &host(production)).await;
    app_secret(
        &session,
        &staging_t.app_secret,
        &app,
        &staging_pw,
        &host(&staging),
    )
    .await;
    let (prod_k8s, staging_k8s) = (Sandbox::start(&session).await, Sandbox::start(&session).await);
    let prod_ports = EnvPorts {
        target: prod_t.clone(),
        db: db_port(production, &database).await,
        secrets: Arc::new(AwsSecrets::new(session.clone(), &prod_t.app_secret)),
        cluster: prod_k8s.deploy(&prod_t).await,
    };
    let staging_ports = EnvPorts {
        target: staging_t.clone(),
        db: db_port(&staging, &database).await,
        secrets: Arc::new(AwsSecrets::new(session.clone(), &staging_t.app_secret)),
        cluster: staging_k8s.deploy(&staging_t).await,
    };
    for p in [&prod_ports, &staging_ports] {
        let (db, app) = (p.db.clone(), app.clone());
        eventually("the app's pod connected as the old user", || {
            let (db, app) = (db.clone(), app.clone());
            async move { db.connections(&app).await.unwrap_or(0) >= 1 }
        })
        .await;
    }
    let ctx = Ctx::new([prod_ports.clone(), staging_ports.clone()]);
    let envs = ["production".to_string(), "staging".to_string()];
    let restores = [("staging".to_string(), "production".to_string())];
    let spec = PlanSpec::for_target_with_restores(&prod_t, &envs, Mode::Normal, &restores);
    let plan = Plan::build(&spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::for_spec(dir.path(), &spec);
    let opts = RunOptions {
        yes: true,
        typed: vec![app.clone()],
        call_timeout: Duration::from_secs(20),
        sync_timeout: Duration::from_secs(30),
        rollout_timeout: Duration::from_secs(60),
        drain_timeout: Duration::from_secs(60),
        poll: Duration::from_millis(200),
        ..Default::default()
    };
    let overnight = RunOutcome::Waiting(Wait::Overnight {
        env: "staging".into(),
        from: "production".into(),
    });

    // Day one: production switches; staging waits, its database's identity recorded.
    let rotation = runner::start_or_resume(&spec, &ctx, &journal, &opts)
        .await
        .unwrap();
    assert_eq!(
        runner::run(&plan, &ctx, &rotation, &journal, &opts).await,
        overnight
    );
    let new = rotation.new_username.clone();
    let prod_now = prod_ports.secrets.current().await.unwrap();
    assert_eq!(prod_now.username, new);
    assert_eq!(staging_ports.secrets.current().await.unwrap().username, app);
    let mark = staging_ports.secrets.rotation_mark().await.unwrap().unwrap();
    let baseline = mark.restore_baselines["staging"].clone();
    assert_eq!(
        Some(baseline.clone()),
        staging_ports.db.database_incarnation().await.unwrap()
    );
    // Later that day: still waiting (nothing was restored).
    let again = runner::start_or_resume(&spec, &ctx, &journal, &opts)
        .await
        .unwrap();
    assert_eq!(again, rotation);
    assert_eq!(
        runner::run(&plan, &ctx, &rotation, &journal, &opts).await,
        overnight
    );

    // The night: production's dump restored into staging; the database now
    // belongs to the owner role ($DB_OWNER). No role comes with it.
    nightly_restore(production, &staging, &database, &owner).await;
    assert!(staging_ports.db.user(&new).await.unwrap().is_none());
    assert_ne!(
        staging_ports.db.database_incarnation().await.unwrap(),
        Some(baseline)
    );

    // The next day, a new rotui (fresh connections): staging follows.
    let next_day = Ctx::new([
        EnvPorts {
            db: db_port(production, &database).await,
            ..prod_ports.clone()
        },
        EnvPorts {
            db: db_port(&staging, &database).await,
            ..staging_ports.clone()
        },
    ]);
    let resumed = runner::start_or_resume(&spec, &next_day, &journal, &opts)
        .await
        .unwrap();
    assert_eq!(resumed, rotation);
    let out = runner::run(&plan, &next_day, &resumed, &journal, &opts).await;
    let raw = std::fs::read_to_string(journal.path()).unwrap();
    assert_eq!(out, RunOutcome::Done, "{}", secret::redact(&raw));

    // Staging has production's new login (the same password), made by rotui.
    let staging_db = next_day.env("staging").unwrap().db.clone();
    let staging_now = staging_ports.secrets.current().await.unwrap();
    assert_eq!(staging_now.username, new);
    assert_eq!(
        staging_now.password.expose_secret(),
        prod_now.password.expose_secret()
    );
    let login = staging_db
        .user(&new)
        .await
        .unwrap()
        .expect("the new login in staging");
    assert!(login.member_of.contains(&owner), "{login:?}");
    staging_db.test_login(&new, &staging_now.password).await.unwrap();
    let rollout = staging_ports.cluster.check_rollout(&staging_now).await.unwrap();
    assert!(
        rollout.complete && rollout.pods.iter().all(|p| p.check.matches),
        "{rollout:?}"
    );
    // The old logins are gone on both servers; the mark too.
    assert!(staging_db.user(&app).await.unwrap().is_none());
    let prod_db = next_day.env("production").unwrap().db.clone();
    assert!(prod_db.user(&app).await.unwrap().is_none());
    assert!(staging_ports.secrets.rotation_mark().await.unwrap().is_none());
    // The journal says why staging got a login, and holds no password.
    assert!(
        raw.contains("pg_dump copies no roles"),
        "{}",
        secret::redact(&raw)
    );
    assert!(raw.contains("rotui:restore-baseline:staging="));
    for pw in [&prod_pw, &staging_pw, &prod_now.password] {
        assert!(!raw.contains(pw.expose_secret()));
    }

    prod_k8s.cluster.shutdown().await;
    staging_k8s.cluster.shutdown().await;
    staging.stop();
}
