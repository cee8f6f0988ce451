//! One environment's ports from the operator's settings: the admin database
//! URL (its password may be left out: it is then read from the
//! `<env>-rds-admin-passwords` secret, as the runbook does), the AWS session
//! and the kubeconfig.

use std::sync::Arc;

use super::{AwsSecrets, K8sCluster, MysqlPort, PgPort};
use crate::aws::AwsSession;
use crate::db::mysql::MysqlDb;
use crate::db::postgres::PgDb;
use crate::k8s::{K8s, KubeOptions};
use crate::rotation::ports::{EnvPorts, PortError, PortErrorKind, System};
use crate::secret::{self, SecretString};
use crate::target::{Engine, Target};

/// Connect to `target`'s database, Secrets Manager and cluster. Nothing is
/// written; the cluster is not contacted until a step asks.
pub async fn connect_env(
    target: &Target,
    session: AwsSession,
    db_url: &str,
    kube: &KubeOptions,
) -> Result<EnvPorts, PortError> {
    let invalid = |why: &str| {
        PortError::new(
            System::Database,
            PortErrorKind::Invalid,
            format!("--db-url {why}"),
        )
        .with_hint("expected mysql://aws_db_admin@host:port or postgresql://aws_db_admin@host:port/database")
    };
    let mut url = url::Url::parse(db_url).map_err(|_| invalid("is not a URL"))?;
    let password: SecretString = match url.password() {
        Some(p) => secret::secret(percent_encoding::percent_decode_str(p).decode_utf8_lossy()),
        None => {
            session
                .secrets()
                .admin_password(&target.admin_secret, &target.admin_secret_key)
                .await?
        }
    };
    url.set_password(None)
        .map_err(|_| invalid("cannot carry a password"))?;
    let host = url.host_str().ok_or_else(|| invalid("has no host"))?.to_owned();
    let db: Arc<dyn crate::rotation::ports::DbPort> = match target.engine {
        Engine::Mysql => {
            let port = url.port().unwrap_or(3306);
            let admin = MysqlDb::connect_with(url.as_str(), &password).await?;
            Arc::new(MysqlPort::new(admin, host, port, &target.database))
        }
        Engine::Postgres => {
            let port = url.port().unwrap_or(5432);
            // Ownership is per database: the admin works in the app's.
            url.set_path(&target.database);
            let admin = PgDb::connect_with(url.as_str(), &password).await?;
            Arc::new(PgPort::new(admin, host, port, &target.database))
        }
    };
    let kube = KubeOptions {
        namespace: Some(target.namespace.clone()),
        ..kube.clone()
    };
    let k8s = K8s::connect(&kube).await?;
    Ok(EnvPorts {
        target: target.clone(),
        db,
        secrets: Arc::new(AwsSecrets::new(session, &target.app_secret)),
        cluster: Arc::new(K8sCluster::new(
            k8s,
            &target.external_secret,
            &target.k8s_secret,
            &target.deployment,
            &target.container,
        )),
    })
}
