//! Thin adapters from the engine's ports to the real modules: they translate
//! names and errors and add no behaviour of their own.

mod aws;
mod k8s;
mod mysql;
mod postgres;

pub use aws::AwsSecrets;
pub use k8s::K8sCluster;
pub use mysql::MysqlPort;
pub use postgres::PgPort;
