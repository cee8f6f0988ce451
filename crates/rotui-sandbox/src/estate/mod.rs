//! `rotui-sandbox --estate`: the sandbox shaped like GOV.UK's estate rather
//! than like rotui's assumptions. Each environment of an [`EstateSpec`] is
//! its own AWS account (its own moto, `MOTO_ACCOUNT_ID`) and its own cluster
//! (its own API server and controllers, pods with their own addresses),
//! with its own MySQL 9.7 and PostgreSQL 17 servers. Apps keep their drifted
//! names and every consumer of their Secret (workers, CronJobs, other apps);
//! the data sync is GOV.UK's db-backup CronJobs in each cluster, run on
//! demand with the real dump and restore programs ([`Estate::run_sync`]).
//!
//! [`Estate::start`] writes `kubeconfig` (a context per environment),
//! `aws/config` + `aws/credentials` (a profile `govuk-<env>` per
//! environment), `rotui.toml`, `estate.json` and `estate.env`.

pub mod creds;
mod files;
mod jobs;
mod objects;
mod spec;
mod sync;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, eyre};
use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, Client};
use serde::{Deserialize, Serialize};
use sqlx::{Connection, Executor};

use crate::apiserver::{KubeApiServer, KubeStore, TokenAuth};
use crate::controllers::{AppPods, AwsSource, Cluster};
use crate::mariadb::MysqlServer;
use crate::moto::MotoServer;
use crate::postgres::{PgFlavor, PostgresServer};
use crate::tls::{LOCAL_NAMES, SandboxCa};
use crate::world::{AWS_KEY, create_object, create_secret, sql_statements};
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui::db::ident::{mysql_str, pg_ident, pg_str};
use rotui::secret::{ExposeSecret, SecretString, generate_password};

pub use spec::{AppSpec, AppSync, ConsumerKind, ConsumerSpec, EngineKind, EnvSpec, EstateSpec, SyncSpec};
pub use sync::{PASSWD_KEY, PASSWD_SECRET, SCRIPTS_CONFIGMAP, SyncOutcome, SyncReport, bucket, cronjob_name};

/// What `estate.json` holds: everything needed to reach the estate, no passwords.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EstateInfo {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub aws_config_file: PathBuf,
    pub aws_shared_credentials_file: PathBuf,
    /// rotui's config (`ROTUI_CONFIG`).
    pub rotui_config: PathBuf,
    pub namespace: String,
    pub region: String,
    /// What `estate.env` selects (production when there is one).
    pub default_env: String,
    pub environments: BTreeMap<String, EnvInfo>,
    pub apps: BTreeMap<String, AppSpec>,
    /// The estate's CA (as RDS's bundle): every database server requires
    /// TLS with a certificate it signed, for 127.0.0.1 and localhost.
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
}

/// One environment: its account, profile, cluster and servers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvInfo {
    pub name: String,
    pub account_id: String,
    /// `govuk-<env>` in `aws/config`.
    pub aws_profile: String,
    /// Its own moto.
    pub aws_endpoint_url: String,
    /// The kubeconfig context (the environment's name).
    pub kube_context: String,
    /// The EKS cluster ARN (`arn:aws:eks:eu-west-1:<account>:cluster/govuk`).
    pub cluster: String,
    /// Its own API server.
    pub kube_url: String,
    /// The environment its data sync restores from (`[sync.*.<env>] from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
    /// `<env>-rds-admin-passwords`
    pub admin_secret: String,
    pub mysql: ServerInfo,
    pub postgres: ServerInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    pub flavor: String,
    pub version: String,
    /// `127.0.0.1:PORT`, what the app secrets' `host` holds.
    pub host: String,
    /// The admin's URL without its password (that is in the admin secret).
    pub admin_url: String,
}

/// One environment's running parts.
struct EnvWorld {
    info: EnvInfo,
    client: Client,
    pods: AppPods,
    cluster: Option<Cluster>,
    kube: Option<KubeApiServer>,
    mysql: MysqlServer,
    postgres: PostgresServer,
    moto: MotoServer,
}

/// The running estate. Dropping it stops everything.
pub struct Estate {
    info: EstateInfo,
    spec: EstateSpec,
    envs: BTreeMap<String, EnvWorld>,
}

impl std::fmt::Debug for Estate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Estate")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The servers of one environment, started in parallel, each requiring
/// TLS with a certificate `ca` signs (MySQL's files go under `tls_dir`).
async fn start_servers(
    account_id: &str,
    ca: &SandboxCa,
    ca_file: &Path,
    tls_dir: &Path,
) -> Result<(MysqlServer, PostgresServer, MotoServer)> {
    let mysql_cert = ca.server_cert(&LOCAL_NAMES)?;
    let pg_cert = ca.server_cert(&LOCAL_NAMES)?;
    std::fs::create_dir_all(tls_dir)?;
    let mut mysql_args = crate::tls::mysql_args(ca_file, &mysql_cert.write(tls_dir, None)?);
    mysql_args.push("--log-bin-trust-function-creators=ON".to_owned());
    let mysql = tokio::task::spawn_blocking(move || {
        crate::mysql::start(&mysql_args.iter().map(String::as_str).collect::<Vec<_>>())
    });
    let postgres = tokio::task::spawn_blocking(move || PostgresServer::start_tls(PgFlavor::Pg17, &pg_cert));
    let id = account_id.to_owned();
    let moto = tokio::task::spawn_blocking(move || MotoServer::start_for_account(&id));
    let mysql = mysql.await?.wrap_err("starting MySQL 9.7")?;
    let postgres = postgres.await?.wrap_err("starting PostgreSQL 17")?;
    let moto = moto.await?.wrap_err("starting moto (run `just tools`)")?;
    Ok((mysql, postgres, moto))
}

impl Estate {
    /// Start every environment of `spec`, seed it, write the files into
    /// `dir`, create the sync CronJobs and run every PostgreSQL restoring
    /// one once (each environment after its source), and return once every
    /// consumer Deployment is available.
    pub async fn start(dir: &Path, spec: &EstateSpec) -> Result<Estate> {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let ca = SandboxCa::new("rotui sandbox estate CA")?;
        let ca_file = dir.join("rds-ca-bundle.pem");
        ca.write(&ca_file)?;
        let starts = spec.environments.iter().map(|(name, e)| {
            let tls_dir = dir.join("tls").join(name);
            let (ca, ca_file) = (&ca, &ca_file);
            async move { start_servers(&e.account_id, ca, ca_file, &tls_dir).await }
        });
        let servers = futures::future::try_join_all(starts).await?;
        // Seeding too in parallel: each environment is its own servers and cluster.
        let seeds =
            spec.environments
                .iter()
                .zip(servers)
                .map(|((name, env), (mysql, postgres, moto))| async move {
                    let world = start_env(spec, name, env, mysql, postgres, moto)
                        .await
                        .wrap_err_with(|| format!("starting environment {name}"))?;
                    Ok::<_, color_eyre::eyre::Report>((name.clone(), world))
                });
        let envs: BTreeMap<String, EnvWorld> =
            futures::future::try_join_all(seeds).await?.into_iter().collect();
        let default_env = if spec.environments.contains_key("production") {
            "production".to_owned()
        } else {
            spec.environments
                .keys()
                .next()
                .cloned()
                .ok_or_else(|| eyre!("the estate has no environment"))?
        };
        let info = EstateInfo {
            kubeconfig: dir.join("kubeconfig"),
            aws_config_file: dir.join("aws/config"),
            aws_shared_credentials_file: dir.join("aws/credentials"),
            rotui_config: dir.join("rotui.toml"),
            dir: dir.clone(),
            namespace: spec.namespace.clone(),
            region: spec.region.clone(),
            default_env,
            environments: envs.iter().map(|(n, w)| (n.clone(), w.info.clone())).collect(),
            apps: spec.apps.clone(),
            ca_bundle: Some(ca_file),
        };
        files::write_all(&info, spec)?;
        let estate = Estate {
            info,
            spec: spec.clone(),
            envs,
        };
        for (name, w) in &estate.envs {
            for obj in sync::manifests(spec, name)? {
                create_object(&w.client, &spec.namespace, obj)
                    .await
                    .wrap_err_with(|| format!("creating the data sync in {name}"))?;
            }
        }
        // Restored environments start with a copy of their source's
        // PostgreSQL databases, as after a night: each environment's syncs
        // together, after its source's. MySQL databases are seeded in every
        // environment and synced on demand only (signon's seed has a view
        // whose root definer aws_db_admin cannot set: its load fails, as it
        // would on RDS).
        for (env, _) in spec.restored() {
            let runs = estate
                .synced_apps(env)
                .into_iter()
                .filter(|app| {
                    spec.is_restored_copy(app, env) && spec.apps[app].engine == EngineKind::Postgres
                })
                .map(|app| {
                    let estate = &estate;
                    async move {
                        let r = estate.run_sync_forced(env, &app).await;
                        (app, r)
                    }
                });
            for (app, r) in futures::future::join_all(runs).await {
                let r = r.wrap_err_with(|| format!("restoring {app} into {env}"))?;
                if let SyncOutcome::Failed { step, why } = &r.outcome {
                    return Err(eyre!(
                        "restoring {app} into {env}: Job {} failed at {step}: {why}",
                        r.job
                    ));
                }
            }
        }
        for (name, w) in &estate.envs {
            for obj in objects::manifests(spec) {
                create_object(&w.client, &spec.namespace, obj)
                    .await
                    .wrap_err_with(|| format!("creating the apps in {name}"))?;
            }
        }
        estate.wait_for_consumers(Duration::from_secs(120)).await?;
        Ok(estate)
    }

    pub fn info(&self) -> &EstateInfo {
        &self.info
    }

    pub fn spec(&self) -> &EstateSpec {
        &self.spec
    }

    fn world(&self, env: &str) -> &EnvWorld {
        self.envs
            .get(env)
            .unwrap_or_else(|| panic!("the estate has no environment `{env}`"))
    }

    /// One environment's account, profile, context and servers. Panics for
    /// an environment the estate does not have (as the other accessors).
    pub fn env(&self, env: &str) -> &EnvInfo {
        &self.world(env).info
    }

    /// A kube client of the environment's own cluster (namespace: the apps').
    pub fn client(&self, env: &str) -> &Client {
        &self.world(env).client
    }

    /// The environment's API server objects and RBAC switch.
    pub fn kube_store(&self, env: &str) -> KubeStore {
        self.world(env)
            .kube
            .as_ref()
            .expect("running until shutdown")
            .store()
            .clone()
    }

    /// The environment's controllers (e.g. to make External Secrets fail).
    pub fn cluster(&self, env: &str) -> &Cluster {
        self.world(env).cluster.as_ref().expect("running until shutdown")
    }

    /// The environment's pod runtime (pod addresses, Job pods).
    pub fn pods(&self, env: &str) -> &AppPods {
        &self.world(env).pods
    }

    /// The kubeconfig context of `env`.
    pub fn kube_context(&self, env: &str) -> &str {
        &self.env(env).kube_context
    }

    /// `http://127.0.0.1:PORT` of the environment's own moto.
    pub fn aws_endpoint_url(&self, env: &str) -> &str {
        &self.env(env).aws_endpoint_url
    }

    pub fn account_id(&self, env: &str) -> &str {
        &self.env(env).account_id
    }

    pub fn mysql(&self, env: &str) -> &MysqlServer {
        &self.world(env).mysql
    }

    pub fn postgres(&self, env: &str) -> &PostgresServer {
        &self.world(env).postgres
    }

    pub fn moto(&self, env: &str) -> &MotoServer {
        &self.world(env).moto
    }

    /// Wait until every consumer Deployment of every environment reports
    /// all its replicas available.
    pub async fn wait_for_consumers(&self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let names: Vec<&str> = self
            .spec
            .apps
            .values()
            .flat_map(|a| &a.consumers)
            .filter(|c| c.kind == ConsumerKind::Deployment)
            .map(|c| c.name.as_str())
            .collect();
        for (env, w) in &self.envs {
            let api: Api<Deployment> = Api::namespaced(w.client.clone(), &self.spec.namespace);
            for name in &names {
                loop {
                    let d = api.get(name).await?;
                    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    let have = d.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
                    if have >= want {
                        break;
                    }
                    if start.elapsed() > timeout {
                        return Err(eyre!(
                            "{env}: Deployment {name} was not available within {timeout:?}"
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        Ok(())
    }

    /// Stop every environment's controllers (closing the pods' connections)
    /// and API server; the servers stop when the estate is dropped.
    pub async fn shutdown(mut self) {
        // The environments in parallel: each API server may wait seconds for its watches.
        let stops = self.envs.values_mut().map(|w| {
            let (cluster, kube) = (w.cluster.take(), w.kube.take());
            async move {
                if let Some(c) = cluster {
                    c.shutdown().await;
                }
                if let Some(k) = kube {
                    k.shutdown().await;
                }
            }
        });
        futures::future::join_all(stops).await;
    }
}

/// Seed one environment's servers and secrets, and start its cluster
/// (without the apps' objects yet).
async fn start_env(
    spec: &EstateSpec,
    name: &str,
    env: &EnvSpec,
    mysql: MysqlServer,
    postgres: PostgresServer,
    moto: MotoServer,
) -> Result<EnvWorld> {
    let mysql_host = format!("127.0.0.1:{}", mysql.port());
    let pg_host = format!("127.0.0.1:{}", postgres.port());
    let aws = AwsSession::with_credentials(
        &AwsOptions {
            endpoint_url: Some(moto.endpoint_url()),
            region: Some(spec.region.clone()),
            ..AwsOptions::default()
        },
        &StaticCredentials::new(AWS_KEY, AWS_KEY),
    )
    .await
    .map_err(|e| eyre!("{e}"))?;
    let sm = aws_sdk_secretsmanager::Client::new(aws.sdk_config());
    let mut admin_keys = serde_json::Map::new();
    // `govuk/db-backup/passwd`: the hand-kept copy of each admin password,
    // keyed by host label, that the sync's ExternalSecret reads.
    let mut backup_passwd = serde_json::Map::new();
    for (app_name, app) in &spec.apps {
        let password = generate_password();
        let seed = match &app.seed {
            Some(p) => Some(std::fs::read_to_string(p).wrap_err_with(|| format!("reading {}", p.display()))?),
            None => None,
        };
        let (host, admin_password) = match app.engine {
            EngineKind::Mysql => {
                seed_mysql(&mysql, app, seed.as_deref(), &password)
                    .await
                    .wrap_err_with(|| format!("seeding {app_name}"))?;
                (&mysql_host, mysql.admin_password())
            }
            EngineKind::Postgres => {
                // A restored copy gets its database from the sync; its login
                // and the DBAs' roles are its own.
                let copy = spec.is_restored_copy(app_name, name);
                let roles = spec
                    .sync
                    .get(app_name)
                    .map(|s| s.roles.as_slice())
                    .unwrap_or_default();
                seed_postgres(
                    &postgres,
                    app,
                    if copy { None } else { seed.as_deref() },
                    &password,
                    roles,
                    !copy,
                )
                .await
                .wrap_err_with(|| format!("seeding {app_name}"))?;
                (&pg_host, postgres.admin_password().clone())
            }
        };
        let body = serde_json::json!({
            "username": app.username,
            "password": password.expose_secret(),
            "host": host,
        });
        create_secret(&sm, &app.app_secret, &body).await?;
        admin_keys.insert(app.admin_key.clone(), admin_password.expose_secret().into());
        if spec.sync_of(app_name, name).is_some() {
            backup_passwd.insert(app.host_label(), admin_password.expose_secret().into());
        }
    }
    let admin_secret = format!("{name}-rds-admin-passwords");
    create_secret(&sm, &admin_secret, &serde_json::Value::Object(admin_keys)).await?;
    if !backup_passwd.is_empty() {
        create_secret(&sm, sync::PASSWD_KEY, &serde_json::Value::Object(backup_passwd)).await?;
    }

    let pods = AppPods::with_pod_ips();
    // Its own account's tokens only, as EKS (the controllers are in-cluster).
    let auth = Arc::new(TokenAuth::new(&env.account_id, moto.port()));
    let kube =
        KubeApiServer::start_authenticated(KubeStore::new(), Arc::new(pods.clone()), Some(auth.clone()))
            .await
            .wrap_err("starting the Kubernetes API server")?;
    let mut config = kube::Config::new(kube.url().parse()?);
    config.default_namespace = spec.namespace.clone();
    config.auth_info.token = Some(rotui::secret::SecretString::from(auth.internal_token.clone()));
    let client = Client::try_from(config)?;
    let cluster = Cluster::start(
        client.clone(),
        &spec.namespace,
        Arc::new(AwsSource::new(sm)),
        pods.clone(),
    );
    let pg_admin_url = format!("postgresql://aws_db_admin@{pg_host}/postgres");
    let info = EnvInfo {
        name: name.to_owned(),
        account_id: env.account_id.clone(),
        aws_profile: files::profile(name),
        aws_endpoint_url: moto.endpoint_url(),
        kube_context: name.to_owned(),
        cluster: files::cluster_arn(&spec.region, &env.account_id),
        kube_url: kube.url(),
        restored_from: spec.restored_from(name).map(str::to_owned),
        admin_secret,
        mysql: ServerInfo {
            flavor: mysql.flavor().to_string(),
            version: mysql.version().to_owned(),
            admin_url: format!("mysql://aws_db_admin@{mysql_host}"),
            host: mysql_host,
        },
        postgres: ServerInfo {
            flavor: postgres.flavor().name().to_owned(),
            version: postgres.version().to_owned(),
            admin_url: pg_admin_url,
            host: pg_host,
        },
    };
    Ok(EnvWorld {
        info,
        client,
        pods,
        cluster: Some(cluster),
        kube: Some(kube),
        mysql,
        postgres,
        moto,
    })
}

/// Run the app's seed script as root (`{{password}}`: the login's password).
async fn seed_mysql(
    server: &MysqlServer,
    app: &AppSpec,
    seed: Option<&str>,
    password: &SecretString,
) -> Result<()> {
    let script = match seed {
        Some(s) => s.to_owned(),
        None => format!(
            "CREATE DATABASE IF NOT EXISTS `{db}`;\nCREATE USER IF NOT EXISTS {user}@'%' IDENTIFIED BY {{{{password}}}};\nGRANT ALL PRIVILEGES ON `{db}`.* TO {user}@'%';\n",
            db = app.database.replace('`', "``"),
            user = mysql_str(&app.username),
        ),
    };
    let script = script.replace("{{password}}", &mysql_str(password.expose_secret()));
    server.root_exec(&sql_statements(&script)).await?;
    Ok(())
}

/// The login (created by the RDS-shaped admin, as on RDS) and `roles`
/// (NOLOGIN, granted to it), and unless `with_database` is false its
/// database, owned by the login, with the seed run in it as the superuser.
async fn seed_postgres(
    server: &PostgresServer,
    app: &AppSpec,
    seed: Option<&str>,
    password: &SecretString,
    roles: &[String],
    with_database: bool,
) -> Result<()> {
    let user = pg_ident(&app.username);
    let mut admin = sqlx::PgConnection::connect_with(&server.admin_options("postgres")).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE ROLE {user} LOGIN PASSWORD {}",
            pg_str(password.expose_secret())
        )))
        .await?;
    for role in roles {
        let role = pg_ident(role);
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} NOLOGIN")))
            .await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("GRANT {role} TO {user}")))
            .await?;
    }
    admin.close().await?;
    if !with_database {
        return Ok(());
    }
    let mut su = sqlx::PgConnection::connect_with(&server.superuser_options("postgres")).await?;
    su.execute(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {} OWNER {user}",
        pg_ident(&app.database)
    )))
    .await?;
    su.close().await?;
    if let Some(script) = seed {
        let mut db = sqlx::PgConnection::connect_with(&server.superuser_options(&app.database)).await?;
        db.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(script.to_owned())))
            .await?;
        db.close().await?;
    }
    Ok(())
}
