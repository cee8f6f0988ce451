//! `--tunnel`: reach an RDS host that only the cluster can see. A
//! short-lived relay pod (socat) listens on the database port and forwards
//! to the RDS host; rotui listens on 127.0.0.1 and, for each local
//! connection, opens a fresh port-forward stream to the pod through the API
//! server (`pods/portforward`) and pumps bytes both ways.
//!
//! Relay pods are labelled as rotui's and deleted on close (and, best
//! effort, on drop). A crashed rotui leaves one behind, so `start` first
//! removes stale relays. A relay pod is stale when
//! - its `rotui.dev/heartbeat` (refreshed every minute by the rotui that
//!   owns it) is older than [`TunnelConfig::stale_after`] — whoever owns it;
//! - it was started by this user on this host (`rotui.dev/tunnel-owner`) and
//!   the process in `rotui.dev/tunnel-pid` no longer exists; or
//! - it has finished (phase Succeeded/Failed, e.g. after its
//!   `activeDeadlineSeconds`, the backstop that ends a forgotten relay).
//!
//! A live colleague's tunnel is never touched: its heartbeat is fresh.
//!
//! (Over 600 lines on purpose: the relay's whole life — pod, adoption,
//! pumping, heartbeat, cleanup — reads as one story, and about 80 of the
//! lines are its tests.)

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{K8s, K8sError};
use crate::secret::{ExposeSecret, SecretString, redact};

/// socat 1.8.0.3, pinned by digest: a tag can be moved under a running
/// fleet, a digest cannot. A cluster that pulls only from its own registry
/// names its mirror in `tunnel_image` ([`crate::environments::EnvConfig`]).
/// (The digest is the one public pins of this tag give; it was not pulled
/// from Docker Hub here.)
pub const DEFAULT_IMAGE: &str =
    "alpine/socat:1.8.0.3@sha256:beb4a68d9e4fe6b0f21ea774a0fde6c31f580dde6368939ed70100c5385b015e";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const ROLE: &str = "rotui.dev/role";
/// Label (sanitised: label values cannot hold `@`) and annotation (exact `user@host`).
pub const OWNER: &str = "rotui.dev/tunnel-owner";
pub const PID: &str = "rotui.dev/tunnel-pid";
pub const HEARTBEAT: &str = "rotui.dev/heartbeat";
pub const REMOTE: &str = "rotui.dev/remote";
const SELECTOR: &str = "app.kubernetes.io/managed-by=rotui,rotui.dev/role=tunnel";

/// What relay to run and how to look after it.
#[derive(Debug, Clone)]
pub struct TunnelConfig {
    /// The relay pod's name: unique per config, so the preview names the pod
    /// that `start` creates.
    pub name: String,
    /// The relay image; it must run socat as its entrypoint.
    pub image: String,
    /// The database host and port as seen from inside the cluster.
    pub remote_host: String,
    pub remote_port: u16,
    /// The local port (0 = any free port).
    pub local_port: u16,
    /// `user@host` of whoever runs rotui.
    pub owner: String,
    /// A relay whose heartbeat is older than this is stale.
    pub stale_after: Duration,
    /// How often the heartbeat annotation is refreshed.
    pub heartbeat: Duration,
    /// How long the pod may take to be Running.
    pub ready_timeout: Duration,
    /// `activeDeadlineSeconds`: the cluster ends the relay after this.
    pub max_lifetime: Duration,
}

impl TunnelConfig {
    pub fn new(remote_host: impl Into<String>, remote_port: u16) -> Self {
        TunnelConfig {
            name: format!(
                "rotui-tunnel-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..10]
            ),
            image: DEFAULT_IMAGE.to_owned(),
            remote_host: remote_host.into(),
            remote_port,
            local_port: 0,
            owner: owner(),
            stale_after: Duration::from_secs(10 * 60),
            heartbeat: Duration::from_secs(60),
            ready_timeout: Duration::from_secs(120),
            max_lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

impl TunnelConfig {
    /// A relay to the `host` from the app's secret (`host` or `host:port`),
    /// on the engine's default port unless it names one.
    pub fn for_db(host: &str, engine: crate::target::Engine) -> Self {
        match crate::db::Endpoint::parse(host) {
            Ok(e) => {
                let port = e.port_or_default(engine);
                TunnelConfig::new(e.host, port)
            }
            // Unparsable: relayed as written, for socat to refuse visibly.
            Err(_) => TunnelConfig::new(host, engine.default_port()),
        }
    }
}

/// `user@host` for this process.
pub fn owner() -> String {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| nix::unistd::getuid().to_string());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| {
            std::process::Command::new("hostname")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        })
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

/// A Kubernetes label value for `s` (≤ 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends).
fn label_value(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// The relay pod rotui would create: shown as the preview, then created as is.
pub fn relay_pod(cfg: &TunnelConfig) -> Pod {
    let name = &cfg.name;
    let port = cfg.remote_port;
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {
                MANAGED_BY: "rotui",
                ROLE: "tunnel",
                OWNER: label_value(&cfg.owner),
            },
            "annotations": {
                OWNER: cfg.owner,
                PID: std::process::id().to_string(),
                HEARTBEAT: Utc::now().timestamp().to_string(),
                REMOTE: format!("{}:{}", cfg.remote_host, port),
            },
        },
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": cfg.max_lifetime.as_secs(),
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": 5,
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 1000,
                "seccompProfile": { "type": "RuntimeDefault" },
            },
            "containers": [{
                "name": "relay",
                "image": cfg.image,
                "args": [
                    format!("tcp-listen:{port},fork,reuseaddr"),
                    format!("tcp-connect:{}:{port}", cfg.remote_host),
                ],
                "ports": [{ "containerPort": port, "protocol": "TCP" }],
                "readinessProbe": { "tcpSocket": { "port": port }, "periodSeconds": 2 },
                "resources": {
                    "requests": { "cpu": "10m", "memory": "16Mi" },
                    "limits": { "memory": "64Mi" },
                },
                "securityContext": {
                    "runAsNonRoot": true,
                    "runAsUser": 1000,
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "capabilities": { "drop": ["ALL"] },
                },
            }],
        },
    });
    serde_json::from_value(pod).expect("the relay pod manifest is a valid Pod")
}

/// The exact create call, as YAML.
pub fn preview(cfg: &TunnelConfig, namespace: &str) -> String {
    let yaml = serde_saphyr::to_string(&relay_pod(cfg)).unwrap_or_default();
    format!("POST /api/v1/namespaces/{namespace}/pods\n{yaml}")
}

/// Counters for the status line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TunnelStats {
    pub active: usize,
    pub total: usize,
    pub last_error: Option<String>,
}

/// A running tunnel. Call [`Tunnel::close`] to stop it and delete the pod;
/// dropping it does the same on a best-effort basis.
pub struct Tunnel {
    k8s: K8s,
    pod: String,
    local: SocketAddr,
    stats: Arc<Mutex<TunnelStats>>,
    tasks: Vec<JoinHandle<()>>,
    closed: bool,
}

impl std::fmt::Debug for Tunnel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tunnel")
            .field("pod", &self.pod)
            .field("local", &self.local)
            .finish()
    }
}

impl Tunnel {
    /// Remove stale relays, create the relay pod (or adopt it, when a
    /// previous `start` with this config created it), wait until it runs,
    /// check that port-forward is allowed, and listen locally.
    pub async fn start(k8s: &K8s, cfg: &TunnelConfig) -> Result<Tunnel, K8sError> {
        cleanup_stale(k8s, cfg).await?;
        let name = cfg.name.clone();
        let api: Api<Pod> = k8s.api();
        match api.create(&PostParams::default(), &relay_pod(cfg)).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => adopt(k8s, cfg).await?,
            Err(e) => return Err(k8s.op("create", "pods").named(&name).err(e)),
        }
        // From here on the pod exists: any failure must delete it.
        let mut tunnel = Tunnel {
            k8s: k8s.clone(),
            pod: name,
            local: SocketAddr::from(([127, 0, 0, 1], 0)),
            stats: Arc::default(),
            tasks: Vec::new(),
            closed: false,
        };
        match tunnel.open(cfg).await {
            Ok(()) => Ok(tunnel),
            Err(e) => {
                let _ = tunnel.close().await;
                Err(e)
            }
        }
    }

    async fn open(&mut self, cfg: &TunnelConfig) -> Result<(), K8sError> {
        wait_running(&self.k8s, &self.pod, cfg.ready_timeout).await?;
        let port = cfg.remote_port;
        // One stream now, so a missing `create pods/portforward` permission
        // is reported here rather than as a reset database connection later.
        let pf = forward(&self.k8s, &self.pod, port).await?;
        drop(pf);
        let listener = TcpListener::bind(("127.0.0.1", cfg.local_port))
            .await
            .map_err(|e| K8sError::Other(format!("cannot listen on 127.0.0.1:{}: {e}", cfg.local_port)))?;
        self.local = listener
            .local_addr()
            .map_err(|e| K8sError::Other(format!("local address: {e}")))?;
        let (k8s, pod, stats) = (self.k8s.clone(), self.pod.clone(), self.stats.clone());
        self.tasks.push(tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(pump(k8s.clone(), pod.clone(), port, conn, stats.clone()));
            }
        }));
        let (k8s, pod, stats, every) = (
            self.k8s.clone(),
            self.pod.clone(),
            self.stats.clone(),
            cfg.heartbeat,
        );
        self.tasks.push(tokio::spawn(async move {
            let api: Api<Pod> = k8s.api();
            loop {
                tokio::time::sleep(every).await;
                let patch = serde_json::json!({"metadata": {"annotations": {HEARTBEAT: Utc::now().timestamp().to_string()}}});
                if let Err(e) = api.patch(&pod, &PatchParams::default(), &Patch::Merge(&patch)).await {
                    let e = k8s.op("patch", "pods").named(&pod).err(e);
                    stats.lock().unwrap_or_else(|p| p.into_inner()).last_error = Some(e.to_string());
                }
            }
        }));
        Ok(())
    }

    /// Where the database layer should connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `url` (a DATABASE_URL-style URL) pointed at the tunnel instead of its host.
    pub fn local_url(&self, url: &SecretString) -> Result<SecretString, K8sError> {
        let mut u = url::Url::parse(url.expose_secret())
            .map_err(|e| K8sError::Invalid(format!("database URL is not a valid URL ({e})")))?;
        let bad = |_| K8sError::Invalid("database URL cannot carry a host".into());
        u.set_host(Some(&self.local.ip().to_string())).map_err(bad)?;
        u.set_port(Some(self.local.port()))
            .map_err(|_| K8sError::Invalid("database URL cannot carry a port".into()))?;
        Ok(SecretString::from(String::from(u)))
    }

    pub fn pod_name(&self) -> &str {
        &self.pod
    }

    pub fn stats(&self) -> TunnelStats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stop listening and delete the relay pod.
    pub async fn close(mut self) -> Result<(), K8sError> {
        self.closed = true;
        for t in self.tasks.drain(..) {
            t.abort();
        }
        delete_pod(&self.k8s, &self.pod).await
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if !self.closed
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (k8s, pod) = (self.k8s.clone(), self.pod.clone());
            rt.spawn(async move {
                let _ = delete_pod(&k8s, &pod).await;
            });
        }
    }
}

/// Take over the existing pod named by `cfg` if this user on this host made
/// it and it is not going away; refuse anyone else's.
async fn adopt(k8s: &K8s, cfg: &TunnelConfig) -> Result<(), K8sError> {
    let name = cfg.name.as_str();
    let pod = k8s
        .api::<Pod>()
        .get(name)
        .await
        .map_err(|e| k8s.op("get", "pods").named(name).err(e))?;
    let owner = pod.annotations().get(OWNER).cloned().unwrap_or_default();
    if owner != cfg.owner {
        return Err(K8sError::Other(format!(
            "pod {name} already exists and is not a relay of {} (owner: {owner:?})",
            cfg.owner
        )));
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Err(K8sError::Other(format!(
            "relay pod {name} is still terminating; start the tunnel again with a fresh config"
        )));
    }
    let patch = serde_json::json!({"metadata": {"annotations": {
        PID: std::process::id().to_string(),
        HEARTBEAT: Utc::now().timestamp().to_string(),
    }}});
    k8s.api::<Pod>()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| k8s.op("patch", "pods").named(name).err(e))?;
    Ok(())
}

async fn delete_pod(k8s: &K8s, name: &str) -> Result<(), K8sError> {
    match k8s.api::<Pod>().delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(k8s.op("delete", "pods").named(name).err(e)),
    }
}

/// Wait (by watch) until the pod runs and, if it reports readiness, is ready.
async fn wait_running(k8s: &K8s, name: &str, timeout: Duration) -> Result<(), K8sError> {
    let api: Api<Pod> = k8s.api();
    let cfg = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let wait = async {
        let mut events = pin!(watcher(api, cfg));
        while let Some(ev) = events.next().await {
            let pod = match ev {
                Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) if p.name_any() == name => p,
                Ok(watcher::Event::Delete(p)) if p.name_any() == name => {
                    return Err(K8sError::Other(format!(
                        "relay pod {name} was deleted while starting"
                    )));
                }
                Ok(_) => continue,
                Err(e) => return Err(k8s.op("watch", "pods").named(name).watch_err(e)),
            };
            if let Some(verdict) = relay_state(&pod) {
                return verdict
                    .map_err(|why| K8sError::Other(format!("relay pod {name} failed to start: {why}")));
            }
        }
        Err(K8sError::Other(format!("watch of relay pod {name} ended")))
    };
    tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| K8sError::Timeout {
            what: format!("relay pod {name} to be Running"),
            seconds: timeout.as_secs(),
        })?
}

/// `Some(Ok)` when usable, `Some(Err(why))` when it will never be, `None` while starting.
fn relay_state(pod: &Pod) -> Option<Result<(), String>> {
    let status = pod.status.as_ref()?;
    let waiting = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
        .find(|w| {
            matches!(
                w.reason.as_deref(),
                Some(
                    "ErrImagePull"
                        | "ImagePullBackOff"
                        | "InvalidImageName"
                        | "CreateContainerConfigError"
                        | "CrashLoopBackOff"
                )
            )
        });
    if let Some(w) = waiting {
        return Some(Err(format!(
            "{} {}",
            w.reason.as_deref().unwrap_or_default(),
            w.message.as_deref().unwrap_or_default()
        )));
    }
    match status.phase.as_deref() {
        Some("Running") => {
            let ready = status.conditions.iter().flatten().find(|c| c.type_ == "Ready");
            match ready {
                Some(c) if c.status != "True" => None,
                _ => Some(Ok(())),
            }
        }
        Some(p @ ("Failed" | "Succeeded")) => Some(Err(format!(
            "phase {p}{}",
            status
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ))),
        _ => None,
    }
}

async fn forward(k8s: &K8s, pod: &str, port: u16) -> Result<kube::api::Portforwarder, K8sError> {
    k8s.api::<Pod>()
        .portforward(pod, &[port])
        .await
        .map_err(|e| k8s.op("create", "pods/portforward").named(pod).err(e))
}

/// Carry one local connection over its own port-forward stream.
async fn pump(k8s: K8s, pod: String, port: u16, mut conn: TcpStream, stats: Arc<Mutex<TunnelStats>>) {
    let note = |f: &dyn Fn(&mut TunnelStats)| f(&mut stats.lock().unwrap_or_else(|p| p.into_inner()));
    note(&|s| {
        s.active += 1;
        s.total += 1;
    });
    let result = async {
        let mut pf = forward(&k8s, &pod, port).await?;
        let mut stream = pf
            .take_stream(port)
            .ok_or_else(|| K8sError::Other("port-forward gave no stream".into()))?;
        let copied = tokio::io::copy_bidirectional(&mut conn, &mut stream).await;
        drop(stream);
        let _ = tokio::time::timeout(Duration::from_secs(5), pf.join()).await;
        copied
            .map(|_| ())
            .map_err(|e| K8sError::Other(format!("tunnel connection: {}", redact(&e.to_string()))))
    }
    .await;
    note(&|s| {
        s.active -= 1;
        if let Err(e) = &result {
            s.last_error = Some(e.to_string());
        }
    });
    if let Err(e) = result {
        tracing::warn!(pod, "tunnel connection failed: {e}");
    }
}

/// Delete stale relay pods (see the module docs); returns their names.
pub async fn cleanup_stale(k8s: &K8s, cfg: &TunnelConfig) -> Result<Vec<String>, K8sError> {
    let api: Api<Pod> = k8s.api();
    let pods = api
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .map_err(|e| k8s.op("list", "pods").err(e))?;
    let now = Utc::now().timestamp();
    let mut removed = Vec::new();
    for pod in &pods.items {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if is_stale(pod, &cfg.owner, now, cfg.stale_after, process_alive) {
            let name = pod.name_any();
            delete_pod(k8s, &name).await?;
            tracing::info!(pod = name, "deleted stale relay pod");
            removed.push(name);
        }
    }
    Ok(removed)
}

fn process_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        Err(_) => true, // EPERM: it exists, owned by someone else
    }
}

fn is_stale(pod: &Pod, owner: &str, now: i64, stale_after: Duration, alive: impl Fn(i32) -> bool) -> bool {
    let empty = BTreeMap::new();
    let ann = pod.metadata.annotations.as_ref().unwrap_or(&empty);
    if matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    ) {
        return true;
    }
    let beat = ann
        .get(HEARTBEAT)
        .and_then(|b| b.parse::<i64>().ok())
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()));
    if beat.is_some_and(|b| now - b > stale_after.as_secs() as i64) {
        return true;
    }
    let ours = ann.get(OWNER).is_some_and(|o| o == owner);
    let pid = ann.get(PID).and_then(|p| p.parse::<i32>().ok());
    ours && pid.is_some_and(|p| p != std::process::id() as i32 && !alive(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_pod_is_locked_down_and_labelled() {
        let mut cfg = TunnelConfig::new("db.abc.eu-west-1.rds.amazonaws.com", 5432);
        cfg.owner = "alice@laptop.local".into();
        let pod = relay_pod(&cfg);
        assert!(pod.metadata.name.as_ref().unwrap().starts_with("rotui-tunnel-"));
        let c = &pod.spec.as_ref().unwrap().containers[0];
        assert_eq!(c.image.as_deref(), Some(DEFAULT_IMAGE));
        assert!(DEFAULT_IMAGE.contains("@sha256:"), "pinned by digest");
        assert_eq!(
            c.args.as_ref().unwrap(),
            &vec![
                "tcp-listen:5432,fork,reuseaddr".to_owned(),
                "tcp-connect:db.abc.eu-west-1.rds.amazonaws.com:5432".to_owned()
            ]
        );
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.run_as_non_root, Some(true));
        assert_eq!(sc.run_as_user, Some(1000));
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_ref().unwrap(),
            &vec!["ALL".to_owned()]
        );
        assert_eq!(pod.labels()[OWNER], "alice_laptop.local");
        assert_eq!(pod.annotations()[OWNER], "alice@laptop.local");
        assert!(preview(&cfg, "apps").contains("tcp-listen:5432,fork,reuseaddr"));
        assert!(preview(&cfg, "apps").contains(&format!("name: {}", cfg.name)));
    }

    #[test]
    fn relay_targets_from_the_app_secret_host() {
        use crate::target::Engine;
        let c = TunnelConfig::for_db("signon.abc.eu-west-1.rds.amazonaws.com", Engine::Mysql);
        assert_eq!(
            (c.remote_host.as_str(), c.remote_port),
            ("signon.abc.eu-west-1.rds.amazonaws.com", 3306)
        );
        let c = TunnelConfig::for_db("db.internal:6432", Engine::Postgres);
        assert_eq!((c.remote_host.as_str(), c.remote_port), ("db.internal", 6432));
        // An IPv6 address is not a host and a port.
        let c = TunnelConfig::for_db("::1", Engine::Postgres);
        assert_eq!((c.remote_host.as_str(), c.remote_port), ("::1", 5432));
    }

    #[test]
    fn staleness() {
        let mut cfg = TunnelConfig::new("h", 3306);
        cfg.owner = "bob@host".into();
        let now = Utc::now().timestamp();
        let ten = Duration::from_secs(600);
        let pod_with = |owner: &str, pid: i32, beat: i64| {
            let mut c = cfg.clone();
            c.owner = owner.into();
            let mut p = relay_pod(&c);
            let a = p.metadata.annotations.as_mut().unwrap();
            a.insert(PID.into(), pid.to_string());
            a.insert(HEARTBEAT.into(), beat.to_string());
            p
        };
        // (owner, heartbeat age, is the owner's process alive?, stale?)
        let cases = [
            // Someone else's live tunnel: fresh heartbeat, never touched.
            ("carol@other", 30, false, false),
            // Anyone's, heartbeat too old.
            ("carol@other", 3600, true, true),
            // Ours, process gone.
            ("bob@host", 30, false, true),
            // Ours, still running.
            ("bob@host", 30, true, false),
        ];
        for (owner, age, alive, stale) in cases {
            let pod = pod_with(owner, 42, now - age);
            assert_eq!(
                is_stale(&pod, "bob@host", now, ten, |_| alive),
                stale,
                "{owner}, {age} s old, alive: {alive}"
            );
        }
    }
}
