//! `rotui sandbox`: the whole local world in one process — MariaDB and
//! PostgreSQL seeded like the runbook's examples, moto holding the app and
//! admin secrets, and a Kubernetes API server whose External Secrets,
//! Reloader, Deployment and pod controllers run the two apps with real
//! database connections. rotui then runs against it exactly as against a
//! real account, from the exports written to `sandbox.env`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, eyre};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::{Api, Client};
use serde::{Deserialize, Serialize};
use sqlx::{Connection, Executor};

use crate::apiserver::{KubeApiServer, KubeStore};
use crate::controllers::{AppPods, AwsSource, Cluster};
use crate::guard::shell_quote;
use crate::mariadb::{MysqlFlavor, MysqlServer};
use crate::moto::MotoServer;
use crate::postgres::{PgFlavor, PostgresServer};
use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
use rotui::db::ident::{mysql_str, pg_ident, pg_str};
use rotui::secret::{ExposeSecret, SecretString, generate_password};
use rotui::target::{Engine, Target};

/// The environment name the sandbox plays.
pub const ENV: &str = "sandbox";
pub const NAMESPACE: &str = "apps";
pub const REGION: &str = "eu-west-1";
/// moto accepts any credentials; these are not secrets.
pub const AWS_KEY: &str = "testing";

const SIGNON_SQL: &str = include_str!("../../../assets/sandbox/signon.sql");
const ACCOUNT_API_SQL: &str = include_str!("../../../assets/sandbox/account-api.sql");
const CLUSTER_YAML: &str = include_str!("../../../assets/sandbox/cluster.yaml");

/// What `sandbox.json` holds: how to point rotui (or anything else) at the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxInfo {
    pub kubeconfig: PathBuf,
    pub aws_endpoint_url: String,
    pub aws_region: String,
    pub aws_access_key_id: String,
    pub env: String,
    pub namespace: String,
    pub mysql: EngineInfo,
    pub postgres: EngineInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineInfo {
    /// Which server runs the app's database (`postgresql-17`, `mariadb`, …).
    #[serde(default)]
    pub flavor: String,
    /// That server's version (`17.12`).
    #[serde(default)]
    pub version: String,
    /// The admin's URL without its password: rotui reads that from the
    /// admin secret, as in a real account.
    pub admin_url: String,
    pub app: String,
    pub database: String,
    pub app_secret: String,
    pub admin_secret: String,
}

/// Which server flavors the sandbox runs (the estate's by default).
#[derive(Debug, Clone, Default)]
pub struct Servers {
    /// MySQL 9.7 LTS by default, as production's MySQL 8.4.
    pub mysql: MysqlFlavor,
    /// PostgreSQL 17 by default, as the estate's newest apps.
    pub postgres: PgFlavor,
}

/// The running sandbox. Dropping it stops everything (the servers' guards
/// remove their directories).
pub struct World {
    info: SandboxInfo,
    client: Client,
    cluster: Option<Cluster>,
    kube: Option<KubeApiServer>,
    _mariadb: MysqlServer,
    _postgres: PostgresServer,
    _moto: MotoServer,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl World {
    /// Start everything and write `kubeconfig`, `sandbox.json` and
    /// `sandbox.env` into `dir`. Returns once the apps' pods are connected.
    /// The MySQL app runs on MySQL 9.7, as production's on MySQL 8.4.
    pub async fn start(dir: &Path) -> Result<World> {
        Self::start_with_servers(dir, &Servers::default()).await
    }

    /// [`World::start`] on the given server flavors. MySQL runs with
    /// `log_bin_trust_function_creators=ON`, as the RDS DB parameter group
    /// must set it for rotui to move the definer of its trigger.
    pub async fn start_with_servers(dir: &Path, servers: &Servers) -> Result<World> {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
        // The three servers start in parallel: each is a second or two of waiting.
        let mysql = servers.mysql;
        let mariadb = tokio::task::spawn_blocking(move || match mysql {
            MysqlFlavor::Mysql => crate::mysql::start(&["--log-bin-trust-function-creators=ON"]),
            MysqlFlavor::Mariadb => MysqlServer::start(),
        });
        let pg_flavor = servers.postgres;
        let postgres = tokio::task::spawn_blocking(move || PostgresServer::start_flavor(pg_flavor));
        let moto = tokio::task::spawn_blocking(MotoServer::start);
        let mariadb = mariadb
            .await?
            .wrap_err_with(|| format!("starting the {mysql} server"))?;
        let postgres = postgres
            .await?
            .wrap_err_with(|| format!("starting PostgreSQL ({pg_flavor})"))?;
        let moto = moto.await?.wrap_err("starting moto (run `just tools`)")?;

        let signon = Target::new(ENV, "signon", Engine::Mysql);
        let account_api = Target::new(ENV, "account-api", Engine::Postgres);
        let signon_password = generate_password();
        let account_api_password = generate_password();
        seed_mariadb(&mariadb, &signon_password)
            .await
            .wrap_err_with(|| format!("seeding {mysql}"))?;
        seed_postgres(&postgres, &account_api, &account_api_password)
            .await
            .wrap_err("seeding PostgreSQL")?;

        let aws = AwsSession::with_credentials(
            &AwsOptions {
                endpoint_url: Some(moto.endpoint_url()),
                region: Some(REGION.to_owned()),
                ..AwsOptions::default()
            },
            &StaticCredentials::new(AWS_KEY, AWS_KEY),
        )
        .await
        .map_err(|e| eyre!("{e}"))?;
        let sm = aws_sdk_secretsmanager::Client::new(aws.sdk_config());
        let mysql_host = format!("127.0.0.1:{}", mariadb.port());
        let pg_host = format!("127.0.0.1:{}", postgres.port());
        let app_secrets = [
            (&signon, "signon", &signon_password, &mysql_host),
            (&account_api, "account-api", &account_api_password, &pg_host),
        ];
        for (target, user, password, host) in app_secrets {
            let body = serde_json::json!({
                "username": user,
                "password": password.expose_secret(),
                "host": host,
            });
            create_secret(&sm, &target.app_secret, &body).await?;
        }
        let admin = serde_json::json!({
            signon.admin_secret_key.clone(): mariadb.admin_password().expose_secret(),
            account_api.admin_secret_key.clone(): postgres.admin_password().expose_secret(),
        });
        create_secret(&sm, &signon.admin_secret, &admin).await?;

        let pods = AppPods::new();
        let kube = KubeApiServer::start(Arc::new(pods.clone()))
            .await
            .wrap_err("starting the Kubernetes API server")?;
        let kubeconfig = dir.join("kubeconfig");
        kube.write_kubeconfig(&kubeconfig, NAMESPACE)?;
        let mut config = kube::Config::new(kube.url().parse()?);
        config.default_namespace = NAMESPACE.into();
        let client = Client::try_from(config)?;
        let cluster = Cluster::start(client.clone(), NAMESPACE, Arc::new(AwsSource::new(sm)), pods);
        apply_manifests(&client, CLUSTER_YAML).await?;

        let info = SandboxInfo {
            kubeconfig,
            aws_endpoint_url: moto.endpoint_url(),
            aws_region: REGION.to_owned(),
            aws_access_key_id: AWS_KEY.to_owned(),
            env: ENV.to_owned(),
            namespace: NAMESPACE.to_owned(),
            mysql: EngineInfo {
                flavor: mariadb.flavor().to_string(),
                version: mariadb.version().to_owned(),
                admin_url: format!("mysql://aws_db_admin@{mysql_host}/{}", signon.database),
                app: signon.app.clone(),
                database: signon.database.clone(),
                app_secret: signon.app_secret.clone(),
                admin_secret: signon.admin_secret.clone(),
            },
            postgres: EngineInfo {
                flavor: postgres.flavor().name().to_owned(),
                version: postgres.version().to_owned(),
                admin_url: format!(
                    "postgresql://aws_db_admin@{pg_host}/{}",
                    percent_encoding::utf8_percent_encode(
                        &account_api.database,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                ),
                app: account_api.app.clone(),
                database: account_api.database.clone(),
                app_secret: account_api.app_secret.clone(),
                admin_secret: account_api.admin_secret.clone(),
            },
        };
        std::fs::write(dir.join("sandbox.json"), serde_json::to_string_pretty(&info)?)?;
        std::fs::write(dir.join("sandbox.env"), env_file(&info))?;
        let world = World {
            info,
            client,
            cluster: Some(cluster),
            kube: Some(kube),
            _mariadb: mariadb,
            _postgres: postgres,
            _moto: moto,
        };
        world.wait_for_apps(Duration::from_secs(60)).await?;
        Ok(world)
    }

    pub fn info(&self) -> &SandboxInfo {
        &self.info
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The controllers (e.g. to make External Secrets syncs fail).
    pub fn cluster(&self) -> &Cluster {
        self.cluster.as_ref().expect("running until shutdown")
    }

    /// The API server's objects and RBAC switch (e.g. to deny a verb).
    pub fn kube_store(&self) -> KubeStore {
        self.kube
            .as_ref()
            .expect("running until shutdown")
            .store()
            .clone()
    }

    /// Wait until both apps' Deployments report every replica available.
    pub async fn wait_for_apps(&self, timeout: Duration) -> Result<()> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), NAMESPACE);
        let start = Instant::now();
        loop {
            let mut ready = true;
            for name in ["signon", "account-api"] {
                let d = api.get(name).await?;
                let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                let have = d.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
                ready &= have >= want;
            }
            if ready {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(eyre!("the sandbox apps were not ready within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stop the controllers (closing the pods' connections) and the API server;
    /// the database and moto servers stop when the world is dropped.
    pub async fn shutdown(mut self) {
        if let Some(c) = self.cluster.take() {
            c.shutdown().await;
        }
        if let Some(k) = self.kube.take() {
            k.shutdown().await;
        }
    }
}

/// `sandbox.env`: the exports that point rotui, kubectl and the AWS CLI at the sandbox.
pub fn env_file(info: &SandboxInfo) -> String {
    let vars = [
        ("KUBECONFIG", info.kubeconfig.to_string_lossy().into_owned()),
        ("AWS_ENDPOINT_URL", info.aws_endpoint_url.clone()),
        ("AWS_REGION", info.aws_region.clone()),
        ("AWS_ACCESS_KEY_ID", info.aws_access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", info.aws_access_key_id.clone()),
        ("ROTUI_ENV", info.env.clone()),
        ("ROTUI_SANDBOX_MYSQL_URL", info.mysql.admin_url.clone()),
        ("ROTUI_SANDBOX_POSTGRES_URL", info.postgres.admin_url.clone()),
    ];
    exports("# rotui sandbox: `source` this file, then run rotui.\n", &vars)
}

/// `header` then one shell-quoted `export K=V` line per variable.
pub(crate) fn exports(header: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::from(header);
    for (k, v) in vars {
        out.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    out
}

/// The exports of a `sandbox.env` ([`env_file`]'s output), as a map: what
/// the tests and benchmarks give the processes they start.
pub fn parse_env_file(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = match v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                Some(quoted) => quoted.replace(r"'\''", "'"),
                None => v.to_owned(),
            };
            (k.to_owned(), v)
        })
        .collect()
}

pub(crate) async fn create_secret(
    sm: &aws_sdk_secretsmanager::Client,
    name: &str,
    body: &serde_json::Value,
) -> Result<()> {
    sm.create_secret()
        .name(name)
        .secret_string(body.to_string())
        .send()
        .await
        .map_err(|e| {
            eyre!(
                "creating secret {name}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
    Ok(())
}

/// `signon_production` with the `signon` user and the objects it defines.
async fn seed_mariadb(server: &MysqlServer, password: &SecretString) -> Result<()> {
    let script = SIGNON_SQL.replace("{{password}}", &mysql_str(password.expose_secret()));
    server.root_exec(&sql_statements(&script)).await?;
    Ok(())
}

/// `account-api_production`, owned with all its tables by the `account-api`
/// login user (not yet on owner roles).
async fn seed_postgres(server: &PostgresServer, target: &Target, password: &SecretString) -> Result<()> {
    let user = pg_ident(&target.app);
    // The RDS master creates the app's login (on 16+ that gives it ADMIN
    // OPTION on it, which rotating needs); a superuser makes the fixtures.
    let mut admin = sqlx::PgConnection::connect_with(&server.admin_options("postgres")).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE ROLE {user} LOGIN PASSWORD {}",
            pg_str(password.expose_secret())
        )))
        .await?;
    admin.close().await?;
    let mut su = sqlx::PgConnection::connect_with(&server.superuser_options("postgres")).await?;
    su.execute(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {} OWNER {user}",
        pg_ident(&target.database)
    )))
    .await?;
    su.close().await?;
    let mut db = sqlx::PgConnection::connect_with(&server.superuser_options(&target.database)).await?;
    db.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(ACCOUNT_API_SQL)))
        .await?;
    db.close().await?;
    Ok(())
}

/// Split a seed script into statements: each ends with `;` at the end of a line.
pub(crate) fn sql_statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in script.lines() {
        if line.trim_start().starts_with("--") || line.trim().is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(current.trim().trim_end_matches(';').to_owned());
            current.clear();
        }
    }
    out
}

/// Create each object of a multi-document YAML manifest.
async fn apply_manifests(client: &Client, yaml: &str) -> Result<()> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(yaml)?;
    for value in docs {
        create_object(client, NAMESPACE, value).await?;
    }
    Ok(())
}

/// Create one object given as JSON (in `namespace` unless it names one).
pub(crate) async fn create_object(client: &Client, namespace: &str, value: serde_json::Value) -> Result<()> {
    let obj: DynamicObject = serde_json::from_value(value)?;
    let types = obj
        .types
        .clone()
        .ok_or_else(|| eyre!("a manifest without apiVersion/kind"))?;
    let (group, version) = match types.api_version.split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (String::new(), types.api_version.clone()),
    };
    let gvk = GroupVersionKind::gvk(&group, &version, &types.kind);
    let plural = format!("{}s", types.kind.to_ascii_lowercase());
    let ar = ApiResource::from_gvk_with_plural(&gvk, &plural);
    let ns = obj
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| namespace.to_owned());
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
    api.create(&PostParams::default(), &obj).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_scripts_split_into_statements() {
        let stmts = sql_statements(SIGNON_SQL);
        assert!(
            stmts
                .iter()
                .any(|s| s.starts_with("CREATE DEFINER = 'signon'@'%' TRIGGER"))
        );
        assert!(stmts.iter().all(|s| !s.ends_with(';')));
    }

    #[test]
    fn env_files_read_back_as_written() {
        let info = SandboxInfo {
            kubeconfig: PathBuf::from("/tmp/a dir/kubeconfig"),
            aws_endpoint_url: "http://127.0.0.1:1".into(),
            aws_region: REGION.into(),
            aws_access_key_id: AWS_KEY.into(),
            env: ENV.into(),
            namespace: NAMESPACE.into(),
            mysql: EngineInfo {
                flavor: "mysql".into(),
                version: "9.7".into(),
                admin_url: "mysql://aws_db_admin@127.0.0.1:2/it's".into(),
                app: "signon".into(),
                database: "signon_production".into(),
                app_secret: "govuk/signon/mysql".into(),
                admin_secret: "sandbox-rds-admin-passwords".into(),
            },
            postgres: EngineInfo {
                flavor: "postgresql-17".into(),
                version: "17.12".into(),
                admin_url: "postgresql://aws_db_admin@127.0.0.1:3/d".into(),
                app: "account-api".into(),
                database: "account-api_production".into(),
                app_secret: "govuk/account-api/postgres".into(),
                admin_secret: "sandbox-rds-admin-passwords".into(),
            },
        };
        let env = parse_env_file(&env_file(&info));
        assert_eq!(env["KUBECONFIG"], "/tmp/a dir/kubeconfig");
        assert_eq!(
            env["ROTUI_SANDBOX_MYSQL_URL"],
            "mysql://aws_db_admin@127.0.0.1:2/it's"
        );
        assert_eq!(env["ROTUI_ENV"], "sandbox");
    }

    #[test]
    fn the_manifest_parses() {
        let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(CLUSTER_YAML).unwrap();
        assert_eq!(docs.len(), 4);
    }
}
