//! Kubernetes: the app's ExternalSecret (status, watch, force sync), the
//! Secret it writes (DATABASE_URL check), every consumer of that Secret
//! (`consumers`), their rollouts and the runbook's `env` check inside their
//! pods, and the `--tunnel` relay pod that
//! carries database sessions to RDS through the API server.
//!
//! Everything goes through kube's real client; anything that waits uses a
//! watch, never a poll loop.

pub mod access;
pub mod blast;
mod client;
pub mod consumers;
pub mod cron;
pub mod db_sync;
mod error;
pub mod exec;
pub mod externalsecret;
pub mod rollout;
pub mod secret_check;
pub mod tunnel;

pub use client::{DEFAULT_NAMESPACE, K8s, KubeOptions, give_exec_env};
pub use error::K8sError;
pub use secret_check::{Expected, UrlCheck};
