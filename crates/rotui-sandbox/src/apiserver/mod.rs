//! The sandbox's Kubernetes API server: the real REST/JSON protocol for the
//! objects rotui uses (Namespace, Pod, Secret, Event, events.k8s.io Event,
//! Deployment, ReplicaSet, StatefulSet, DaemonSet, batch/v1 CronJob and Job,
//! ExternalSecret v1 and v1beta1), so the real
//! `kube` client, kube-runtime watchers and plain `kubectl` work against it.
//!
//! - objects are JSON with uid, creationTimestamp, a string resourceVersion
//!   from one global counter, and `generation` moving with the spec; no-op
//!   writes change nothing;
//! - get, list (label and field selectors), watch (resume from a version,
//!   bookmarks, `sendInitialEvents`, 410 once compacted), create
//!   (`generateName`), replace (409 on a stale resourceVersion), delete and
//!   deletecollection (owners cascade), merge patch, JSON patch, strategic
//!   merge patch and server-side apply (both approximated as merge patch),
//!   `/status` for the kinds that have it; `dryRun=All` changes nothing;
//! - discovery and `meta.k8s.io/v1` Tables for kubectl (get, get --watch,
//!   describe, annotate, rollout restart, exec);
//! - `pods/exec` and `pods/portforward` over WebSocket (v5/v4 channel
//!   protocols), delegated to a [`PodRuntime`]; SPDY (`kubectl
//!   port-forward`) is refused with a clear message;
//! - an RBAC switch ([`KubeStore::deny`]) for the real server's 403s, and
//!   `SelfSubjectAccessReview`s that answer from it.
//!
//! Creating an object keeps the status it is given (handy for seeding);
//! updates and patches of the main resource never change the status of a
//! kind with a `/status` subresource, as on the real server. Deletion is
//! immediate (no graceful termination).

mod access;
mod auth;
mod discovery;
mod exec;
mod patch;
mod portforward;
mod resources;
mod rest;
mod runtime;
mod selector;
mod status;
mod store;
mod table;
mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use auth::TokenAuth;
pub use runtime::{ExecOutput, NoRuntime, PodRuntime};
pub use status::ApiError;
pub use store::{KubeStore, USER};

/// A running API server on 127.0.0.1. Dropping it stops it.
pub struct KubeApiServer {
    addr: SocketAddr,
    store: KubeStore,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for KubeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeApiServer").field("addr", &self.addr).finish()
    }
}

impl KubeApiServer {
    /// Start serving on a free port of 127.0.0.1, with namespaces
    /// `default`, `kube-system` and `apps`.
    pub async fn start(runtime: Arc<dyn PodRuntime>) -> std::io::Result<Self> {
        Self::start_with(KubeStore::new(), runtime).await
    }

    /// Start serving `store`, made beforehand (e.g. so the runtime can hold
    /// a clone of it).
    pub async fn start_with(store: KubeStore, runtime: Arc<dyn PodRuntime>) -> std::io::Result<Self> {
        Self::start_authenticated(store, runtime, None).await
    }

    /// Start serving `store` to `auth`'s account's tokens only (an estate
    /// cluster, as EKS: see [`TokenAuth`]).
    pub async fn start_authenticated(
        store: KubeStore,
        runtime: Arc<dyn PodRuntime>,
        auth: Option<Arc<TokenAuth>>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let app = Arc::new(rest::App {
            store: store.clone(),
            runtime,
            shutdown: shutdown.clone(),
            addr,
            auth,
        });
        let router = axum::Router::new().fallback(rest::dispatch).with_state(app);
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::warn!("sandbox API server stopped: {e}");
            }
        });
        Ok(KubeApiServer {
            addr,
            store,
            shutdown,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// In-process access to the objects, and the RBAC switch.
    pub fn store(&self) -> &KubeStore {
        &self.store
    }

    /// Write a kubeconfig for this server: cluster, user and context all
    /// named `sandbox`, no auth, the given default namespace.
    pub fn write_kubeconfig(&self, path: &Path, namespace: &str) -> std::io::Result<()> {
        std::fs::write(path, kubeconfig(&self.url(), namespace))
    }

    /// Stop serving: watches and exec/port-forward sessions end, and
    /// in-flight requests get a few seconds to finish.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for KubeApiServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A kubeconfig naming one cluster at `server`, context `sandbox`.
pub fn kubeconfig(server: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: {server}
users:
- name: sandbox
  user: {{}}
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: sandbox
    namespace: {namespace}
current-context: sandbox
preferences: {{}}
"
    )
}
