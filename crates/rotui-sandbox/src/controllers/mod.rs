//! The sandbox cluster's behaviour: the controllers a real GOV.UK cluster
//! runs for rotui's purposes (External Secrets, Reloader, the Deployment
//! controller) and the pods' runtime. The controllers are ordinary kube-rs
//! clients of the sandbox API server, so they see and cause exactly the
//! watch events, resourceVersions and status writes a real cluster would.
//!
//! Wiring: one [`AppPods`] serves both the API server (exec, port-forward)
//! and the cluster (which runs the pods):
//!
//! ```ignore
//! let pods = AppPods::new();
//! let server = KubeApiServer::start(Arc::new(pods.clone())).await?;
//! let client = kube::Client::try_from(kube::Config::new(server.url().parse()?))?;
//! let cluster = Cluster::start(client, "apps", Arc::new(AwsSource::new(sm_client)), pods);
//! // seed: govuk::external_secret(&target), govuk::deployment(&target, 2)
//! ```
//!
//! Knobs for rehearsals: the ExternalSecret annotation [`FAIL_ANNOTATION`]
//! (or [`Cluster::set_sync_failure`]) makes syncs fail; the pod-template
//! annotation `sandbox.rotui.dev/connections` sets how many database
//! sessions each app pod holds (default 2); `sandbox.rotui.dev/ready-only-for-user`
//! ([`READY_ONLY_FOR_USER`]) fails the readiness of pods on any other user
//! (a switch the health gate must stop).

mod aws_source;
mod deployment;
mod eso;
mod gc;
pub mod govuk;
mod podnet;
mod pods;
mod reloader;
mod source;
mod statefulset;
mod template;

use std::sync::Arc;

use tokio::task::JoinHandle;

pub use aws_source::AwsSource;
use eso::FailSwitch;
pub use eso::{ExternalSecret, ExternalSecretSpec, ExternalSecretStatus, FAIL_ANNOTATION};
pub use pods::{AppPods, READY_ONLY_FOR_USER};
pub use reloader::{AUTO_ANNOTATION, LAST_RELOADED_FROM};
pub use source::{MapSource, SecretSource};

/// The running controllers of one namespace. Dropping it (or
/// [`Cluster::shutdown`]) stops them; the pods' database connections close
/// when the [`AppPods`] runtime stops.
pub struct Cluster {
    tasks: Vec<JoinHandle<()>>,
    pods: AppPods,
    fail: FailSwitch,
}

impl Cluster {
    /// Start the External Secrets controller (reading from `source`),
    /// Reloader, the Deployment and StatefulSet controllers, the garbage collector and the pod runtime `pods` (the
    /// same one the API server was given for exec and port-forward).
    pub fn start(
        client: kube::Client,
        namespace: &str,
        source: Arc<dyn SecretSource>,
        pods: AppPods,
    ) -> Cluster {
        let fail = FailSwitch::default();
        let ns = namespace.to_owned();
        let tasks = vec![
            tokio::spawn(eso::run(client.clone(), ns.clone(), source, fail.clone())),
            tokio::spawn(reloader::run(client.clone(), ns.clone())),
            tokio::spawn(deployment::run(client.clone(), ns.clone())),
            tokio::spawn(statefulset::run(client.clone(), ns.clone())),
            tokio::spawn(gc::run(client.clone(), ns.clone())),
            tokio::spawn(pods.clone().run(client, ns)),
        ];
        Cluster { tasks, pods, fail }
    }

    /// Make every ExternalSecret sync fail with `message` (`None`: stop failing).
    pub fn set_sync_failure(&self, message: Option<String>) {
        self.fail.set(message);
    }

    /// Stop the controllers and close every pod's database connections.
    pub async fn shutdown(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        self.pods.stop_all().await;
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("tasks", &self.tasks.len())
            .field("pods", &self.pods)
            .field("failing", &self.fail)
            .finish()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.pods.abort_all();
    }
}

/// A controller step that failed; the text is already free of secrets.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ControllerError(String);

impl ControllerError {
    fn kube(e: kube::Error) -> ControllerError {
        ControllerError(rotui::secret::redact(&e.to_string()))
    }
}

/// FNV-1a, 64 bit, as hex: a stable content hash (std's hasher may change
/// between Rust releases; these values end up in API objects).
pub(crate) fn fnv_hex(bytes: &[u8]) -> String {
    format!("{:016x}", fnv(bytes))
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Now, as Kubernetes writes times: RFC 3339, whole seconds, UTC.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
