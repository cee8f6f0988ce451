//! The sandbox's kubelet: it "runs" the pods of its namespace.
//!
//! An app pod resolves its environment from Secrets when its container
//! starts — as kubelet does, so a running pod keeps the DATABASE_URL it
//! started with however the Secret changes — and then holds N real database
//! connections with it. Connected means Running and Ready; a failed login
//! means CrashLoopBackOff and retries with backoff. Deleting the pod closes
//! its connections, which is how the old database user's sessions drain.
//!
//! Relay pods (image `alpine/socat`) are Ready at once, and a port-forward to
//! them opens a TCP connection to the `tcp-connect:` address in their args
//! (loopback only: the sandbox must not reach out).
//!
//! Resolved environments live only in this process's memory, never in API
//! objects; `exec … env` prints them.
//!
//! With [`AppPods::with_pod_ips`] each pod gets its own address 127.0.0.N
//! (its `status.podIP`) and its database connections come from it
//! ([`super::podnet`]), so a database's connection list names the pod.
//! A pod's database URL is its `DATABASE_URL`, else the first variable that
//! holds a MySQL or PostgreSQL URL (e.g. `CONTENT_STORE_DATABASE_URL`).
//! A Job's pod holds its connections until [`AppPods::complete`] ends it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::api::{Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, ResourceExt};
use serde_json::json;
use sqlx::{ConnectOptions, Connection};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::now_rfc3339;
use super::podnet::{Forwarder, next_pod_ip};
use super::source::is_secret_key;
use crate::apiserver::{ExecOutput, PodRuntime};
use rotui::secret::{redact, register};

/// Connections an app pod holds unless its `sandbox.rotui.dev/connections`
/// annotation says otherwise.
const DEFAULT_CONNECTIONS: usize = 2;
const CONNECTIONS_ANNOTATION: &str = "sandbox.rotui.dev/connections";
/// A rehearsal of a bad switch: a pod whose database URL names any other
/// user runs (and holds its connections) but its readiness probe fails,
/// so it never becomes Ready — as an app whose health check queries a
/// table the new user cannot read.
pub const READY_ONLY_FOR_USER: &str = "sandbox.rotui.dev/ready-only-for-user";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a running app checks its connections are still alive.
const HEALTH_EVERY: Duration = Duration::from_secs(2);
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The pod runtime: hand it to the API server (for exec and port-forward)
/// and to [`super::Cluster::start`] (which runs it). Clones share state.
#[derive(Clone, Default)]
pub struct AppPods {
    inner: Arc<Mutex<HashMap<PodKey, Running>>>,
    /// Each pod gets its own 127.0.0.N and connects from it.
    pod_ips: bool,
}

type PodKey = (String, String);

/// One started pod: its live environment per container (set while the
/// container runs), where it relays to, and how to stop it.
struct Running {
    uid: String,
    ip: Option<Ipv4Addr>,
    env: Arc<Mutex<Option<Env>>>,
    relay: Option<Relay>,
    stop: CancellationToken,
    /// Set before `stop` when the pod's work is done (a Job's pod).
    succeed: Arc<AtomicBool>,
    /// Cancelled once the pod has stopped and reported its last status.
    exited: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// Container name → its environment, in `env` output order.
type Env = BTreeMap<String, Vec<(String, String)>>;

#[derive(Clone, Debug, PartialEq)]
struct Relay {
    listen: u16,
    host: String,
    port: u16,
}

impl std::fmt::Debug for AppPods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pods: Vec<String> = self.lock().keys().map(|(ns, p)| format!("{ns}/{p}")).collect();
        f.debug_struct("AppPods").field("pods", &pods).finish()
    }
}

impl AppPods {
    pub fn new() -> AppPods {
        AppPods::default()
    }

    /// A runtime whose pods each get an address of their own (127.0.0.N,
    /// in `status.podIP`) from which their database connections come.
    pub fn with_pod_ips() -> AppPods {
        AppPods {
            pod_ips: true,
            ..AppPods::default()
        }
    }

    /// The address of a started pod (None without [`AppPods::with_pod_ips`]).
    pub fn pod_ip(&self, namespace: &str, pod: &str) -> Option<Ipv4Addr> {
        self.lock()
            .get(&(namespace.to_owned(), pod.to_owned()))
            .and_then(|r| r.ip)
    }

    /// End a pod whose work is done, as a Job's container exiting 0: its
    /// connections close and it reports phase Succeeded. Returns once the
    /// status is written.
    pub async fn complete(&self, namespace: &str, pod: &str) -> Result<(), String> {
        let exited = {
            let pods = self.lock();
            let r = pods
                .get(&(namespace.to_owned(), pod.to_owned()))
                .ok_or_else(|| format!("pod {namespace}/{pod} is not running"))?;
            r.succeed.store(true, Ordering::SeqCst);
            r.stop.cancel();
            r.exited.clone()
        };
        tokio::time::timeout(Duration::from_secs(10), exited.cancelled())
            .await
            .map_err(|_| format!("pod {namespace}/{pod} did not stop within 10 s"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PodKey, Running>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watch the namespace's pods, starting and stopping them, until aborted.
    pub(super) async fn run(self, client: kube::Client, namespace: String) {
        let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        let mut events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut listed: HashSet<String> = HashSet::new();
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Init) => listed.clear(),
                Ok(Event::InitApply(p)) => {
                    listed.insert(p.name_any());
                    self.observe(&client, &namespace, p);
                }
                Ok(Event::InitDone) => {
                    // Pods deleted while we weren't watching.
                    let gone: Vec<PodKey> = self
                        .lock()
                        .keys()
                        .filter(|(ns, p)| *ns == namespace && !listed.contains(p))
                        .cloned()
                        .collect();
                    gone.iter().for_each(|k| self.stop(k));
                }
                Ok(Event::Apply(p)) => self.observe(&client, &namespace, p),
                Ok(Event::Delete(p)) => self.stop(&(namespace.clone(), p.name_any())),
                Err(e) => tracing::debug!(error = %redact(&e.to_string()), "pod watch"),
            }
        }
    }

    /// Start a pod we haven't seen; stop one that is terminating or was
    /// replaced by a namesake.
    fn observe(&self, client: &kube::Client, namespace: &str, pod: Pod) {
        let key = (namespace.to_owned(), pod.name_any());
        let uid = pod.uid().unwrap_or_default();
        if pod.metadata.deletion_timestamp.is_some() {
            self.stop(&key);
            return;
        }
        let mut pods = self.lock();
        if pods.get(&key).is_some_and(|r| r.uid == uid) {
            return;
        }
        // A pod that ran to completion is never started again.
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            return;
        }
        if let Some(old) = pods.remove(&key) {
            old.stop.cancel();
        }
        let env = Arc::new(Mutex::new(None));
        let stop = CancellationToken::new();
        let succeed = Arc::new(AtomicBool::new(false));
        let exited = CancellationToken::new();
        let relay = relay_of(&pod);
        let ip = self.pod_ips.then(next_pod_ip);
        let life = PodLife {
            ip,
            env: env.clone(),
            stop: stop.clone(),
            succeed: succeed.clone(),
        };
        let done = exited.clone();
        let (client, ns) = (client.clone(), namespace.to_owned());
        let task = tokio::spawn(async move {
            run_pod(client, ns, pod, life).await;
            done.cancel();
        });
        pods.insert(
            key,
            Running {
                uid,
                ip,
                env,
                relay,
                stop,
                succeed,
                exited,
                task,
            },
        );
    }

    fn stop(&self, key: &PodKey) {
        if let Some(r) = self.lock().remove(key) {
            r.stop.cancel();
        }
    }

    /// Stop every pod, waiting for their connections to close.
    pub(super) async fn stop_all(&self) {
        let all: Vec<Running> = self.lock().drain().map(|(_, r)| r).collect();
        for r in all {
            r.stop.cancel();
            let _ = r.task.await;
        }
    }

    /// Stop every pod without waiting (from `Drop`).
    pub(super) fn abort_all(&self) {
        for (_, r) in self.lock().drain() {
            r.stop.cancel();
        }
    }

    fn exec_now(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[String],
    ) -> Result<ExecOutput, String> {
        let pods = self.lock();
        let running = pods
            .get(&(namespace.to_owned(), pod.to_owned()))
            .ok_or_else(|| format!("pods \"{pod}\" not found"))?;
        let env = running.env.lock().unwrap_or_else(|e| e.into_inner());
        let env = env
            .as_ref()
            .ok_or_else(|| format!("container {container} is not running in pod {pod}"))?;
        let vars = if container.is_empty() {
            env.values().next()
        } else {
            env.get(container)
        }
        .ok_or_else(|| format!("container {container} is not valid for pod {pod}"))?;
        match command.first().map(String::as_str) {
            Some("env") if command.len() == 1 => {
                let mut out = String::new();
                for (k, v) in vars {
                    out.push_str(&format!("{k}={v}\n"));
                }
                Ok(ExecOutput {
                    stdout: out.into_bytes(),
                    stderr: Vec::new(),
                    exit_code: 0,
                })
            }
            other => Ok(ExecOutput {
                stdout: Vec::new(),
                stderr: format!(
                    "exec: \"{}\": executable file not found in $PATH (the sandbox's pods only run `env`)\n",
                    other.unwrap_or_default()
                )
                .into_bytes(),
                exit_code: 127,
            }),
        }
    }

    fn relay_target(&self, namespace: &str, pod: &str, port: u16) -> Result<(String, u16), String> {
        let pods = self.lock();
        let running = pods
            .get(&(namespace.to_owned(), pod.to_owned()))
            .ok_or_else(|| format!("pods \"{pod}\" not found"))?;
        let relay = running.relay.as_ref().ok_or_else(|| {
            format!("pod {pod} listens on no port {port} (only relay pods forward in the sandbox)")
        })?;
        if relay.listen != port {
            return Err(format!(
                "pod {pod} does not listen on port {port} (it relays port {})",
                relay.listen
            ));
        }
        if !is_loopback(&relay.host) {
            return Err(format!(
                "the sandbox relays only to loopback addresses, not {}",
                relay.host
            ));
        }
        Ok((relay.host.clone(), relay.port))
    }
}

impl PodRuntime for AppPods {
    fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: Vec<String>,
    ) -> BoxFuture<'static, Result<ExecOutput, String>> {
        Box::pin(futures::future::ready(
            self.exec_now(namespace, pod, container, &command),
        ))
    }

    fn port_forward(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
    ) -> BoxFuture<'static, Result<TcpStream, String>> {
        let target = self.relay_target(namespace, pod, port);
        Box::pin(async move {
            let (host, port) = target?;
            let connect = TcpStream::connect((host.as_str(), port));
            match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                Ok(Ok(s)) => Ok(s),
                Ok(Err(e)) => Err(format!("relay could not connect to {host}:{port}: {e}")),
                Err(_) => Err(format!("relay timed out connecting to {host}:{port}")),
            }
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `tcp-listen:5432,fork,reuseaddr tcp-connect:HOST:PORT` from a socat container.
fn relay_of(pod: &Pod) -> Option<Relay> {
    let c = pod
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.image.as_deref().is_some_and(|i| i.contains("socat")))?;
    let words: Vec<&String> = c
        .command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .collect();
    let listen = words
        .iter()
        .find_map(|w| {
            w.strip_prefix("tcp-listen:")
                .or_else(|| w.strip_prefix("TCP-LISTEN:"))
        })?
        .split(',')
        .next()?
        .parse()
        .ok()?;
    let target = words
        .iter()
        .find_map(|w| w.strip_prefix("tcp-connect:").or_else(|| w.strip_prefix("TCP:")))?
        .split(',')
        .next()?;
    let (host, port) = target.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    Some(Relay {
        listen,
        host,
        port: port.parse().ok()?,
    })
}

/// The life of one pod: resolve env, connect, report status, stay healthy,
/// and on stop close its connections.
/// What one pod's task is given: its address, where to publish its live
/// environment, and how it is told to stop (and whether it succeeded).
struct PodLife {
    ip: Option<Ipv4Addr>,
    env: Arc<Mutex<Option<Env>>>,
    stop: CancellationToken,
    succeed: Arc<AtomicBool>,
}

async fn run_pod(client: kube::Client, namespace: String, pod: Pod, life: PodLife) {
    let PodLife {
        ip,
        env: env_slot,
        stop,
        succeed,
    } = life;
    let name = pod.name_any();
    let status = StatusWriter::new(&client, &namespace, &pod, ip);
    let connections = pod
        .annotations()
        .get(CONNECTIONS_ANNOTATION)
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CONNECTIONS);
    let mut restarts = 0u32;
    loop {
        // Like kubelet, env is resolved each time the container starts.
        let env = match resolve_env(&client, &namespace, &pod, ip).await {
            Ok(env) => env,
            Err(message) => {
                status
                    .waiting("CreateContainerConfigError", &message, restarts)
                    .await;
                if sleep_or_stop(&stop, Duration::from_secs(1)).await {
                    return;
                }
                continue;
            }
        };
        let db_url = database_url(&env);
        // The pod's own address, via a forwarder living as long as its connections.
        let forwarder = match (&db_url, ip) {
            (Some(url), Some(ip)) => match forwarder_for(url, ip).await {
                Ok(f) => Some(f),
                Err(message) => {
                    restarts += 1;
                    status.waiting("CrashLoopBackOff", &message, restarts).await;
                    if sleep_or_stop(&stop, backoff(restarts)).await {
                        return;
                    }
                    continue;
                }
            },
            _ => None,
        };
        let via = forwarder.as_ref().map(Forwarder::addr);
        let mut conns = Vec::new();
        if let Some(url) = &db_url {
            match open_all(url, &name, connections, via).await {
                Ok(c) => conns = c,
                Err(message) => {
                    restarts += 1;
                    tracing::info!(pod = %name, %message, "app could not connect to its database");
                    status.waiting("CrashLoopBackOff", &message, restarts).await;
                    if sleep_or_stop(&stop, backoff(restarts)).await {
                        return;
                    }
                    continue;
                }
            }
        }
        *env_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(env);
        let ready_only_for = pod.annotations().get(READY_ONLY_FOR_USER);
        let user = db_url
            .as_deref()
            .and_then(|u| DbTarget::parse(u).ok())
            .map(|t| t.user);
        if ready_only_for.is_some_and(|want| user.as_ref() != Some(want)) {
            status.unready(restarts).await;
        } else {
            status.running(restarts).await;
        }
        tracing::info!(pod = %name, connections = conns.len(), "pod running");

        // Stay up until stopped; a connection that dies is reopened, and if
        // that fails the app crashes (as a Rails app whose login stopped
        // working would).
        let crashed = loop {
            if sleep_or_stop(&stop, HEALTH_EVERY).await {
                for c in conns {
                    c.close().await;
                }
                drop(forwarder);
                *env_slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
                if succeed.load(Ordering::SeqCst) {
                    status.succeeded(restarts).await;
                }
                return;
            }
            let mut failure = None;
            for c in conns.iter_mut() {
                if c.ping().await.is_err() {
                    match open(db_url.as_deref().unwrap_or_default(), &name, via).await {
                        Ok(fresh) => *c = fresh,
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            }
            if let Some(e) = failure {
                break e;
            }
        };
        *env_slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
        for c in conns {
            c.close().await;
        }
        restarts += 1;
        tracing::info!(pod = %name, message = %crashed, "app lost its database connection");
        status.waiting("CrashLoopBackOff", &crashed, restarts).await;
        if sleep_or_stop(&stop, backoff(restarts)).await {
            return;
        }
    }
}

/// Kubelet's crash backoff, compressed for the sandbox: 1 s doubling to 10 s.
fn backoff(restarts: u32) -> Duration {
    Duration::from_secs(1u64 << restarts.saturating_sub(1).min(4)).min(Duration::from_secs(10))
}

/// Sleep unless stopped first; true when stopped.
async fn sleep_or_stop(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// The environment of every container, as kubelet builds it: PATH and
/// HOSTNAME, then `envFrom` sources, then `env` entries (which win).
async fn resolve_env(
    client: &kube::Client,
    namespace: &str,
    pod: &Pod,
    ip: Option<Ipv4Addr>,
) -> Result<Env, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let mut out = Env::new();
    for c in pod.spec.iter().flat_map(|s| &s.containers) {
        out.insert(c.name.clone(), container_env(c, pod, ip, &secrets, &maps).await?);
    }
    Ok(out)
}

async fn container_env(
    c: &Container,
    pod: &Pod,
    ip: Option<Ipv4Addr>,
    secrets: &Api<Secret>,
    maps: &Api<ConfigMap>,
) -> Result<Vec<(String, String)>, String> {
    let mut vars: Vec<(String, String)> =
        vec![("PATH".into(), PATH.into()), ("HOSTNAME".into(), pod.name_any())];
    let set = |vars: &mut Vec<(String, String)>, k: String, v: String| {
        if is_secret_key(&k) {
            register(&v);
        }
        if let Some(p) = url::Url::parse(&v)
            .ok()
            .and_then(|u| u.password().map(str::to_owned))
        {
            register(&p);
        }
        match vars.iter_mut().find(|(name, _)| *name == k) {
            Some(slot) => slot.1 = v,
            None => vars.push((k, v)),
        }
    };
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.secret_ref
            && let Some(data) = secret_data(secrets, &r.name, r.optional.unwrap_or(false)).await?
        {
            data.into_iter()
                .for_each(|(k, v)| set(&mut vars, format!("{prefix}{k}"), v));
        }
        if let Some(r) = &from.config_map_ref
            && let Some(data) = config_map_data(maps, &r.name, r.optional.unwrap_or(false)).await?
        {
            data.into_iter()
                .for_each(|(k, v)| set(&mut vars, format!("{prefix}{k}"), v));
        }
    }
    for e in c.env.iter().flatten() {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) => Some(v.clone()),
            (None, None) => Some(String::new()),
            (None, Some(from)) => {
                if let Some(r) = &from.secret_key_ref {
                    let optional = r.optional.unwrap_or(false);
                    match secret_data(secrets, &r.name, optional).await? {
                        None => None,
                        Some(data) => match data.get(&r.key) {
                            Some(v) => Some(v.clone()),
                            None if optional => None,
                            None => return Err(format!("couldn't find key {} in Secret {}", r.key, r.name)),
                        },
                    }
                } else if let Some(r) = &from.config_map_key_ref {
                    let optional = r.optional.unwrap_or(false);
                    match config_map_data(maps, &r.name, optional).await? {
                        None => None,
                        Some(data) => match data.get(&r.key) {
                            Some(v) => Some(v.clone()),
                            None if optional => None,
                            None => {
                                return Err(format!("couldn't find key {} in ConfigMap {}", r.key, r.name));
                            }
                        },
                    }
                } else if let Some(f) = &from.field_ref {
                    match f.field_path.as_str() {
                        "metadata.name" => Some(pod.name_any()),
                        "metadata.namespace" => pod.namespace(),
                        "status.podIP" => Some(ip.unwrap_or(Ipv4Addr::LOCALHOST).to_string()),
                        "status.hostIP" => Some("127.0.0.1".into()),
                        other => return Err(format!("unsupported fieldRef {other}")),
                    }
                } else {
                    return Err(format!("unsupported valueFrom for {}", e.name));
                }
            }
        };
        if let Some(v) = value {
            set(&mut vars, e.name.clone(), v);
        }
    }
    Ok(vars)
}

async fn secret_data(
    api: &Api<Secret>,
    name: &str,
    optional: bool,
) -> Result<Option<BTreeMap<String, String>>, String> {
    match api.get_opt(name).await.map_err(|e| redact(&e.to_string()))? {
        None if optional => Ok(None),
        None => Err(format!("secret \"{name}\" not found")),
        Some(s) => Ok(Some(
            s.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .collect(),
        )),
    }
}

async fn config_map_data(
    api: &Api<ConfigMap>,
    name: &str,
    optional: bool,
) -> Result<Option<BTreeMap<String, String>>, String> {
    match api.get_opt(name).await.map_err(|e| redact(&e.to_string()))? {
        None if optional => Ok(None),
        None => Err(format!("configmap \"{name}\" not found")),
        Some(m) => Ok(Some(m.data.unwrap_or_default())),
    }
}

/// A live database session held by an app pod.
enum Conn {
    MySql(sqlx::MySqlConnection),
    Postgres(sqlx::PgConnection),
}

impl Conn {
    async fn ping(&mut self) -> Result<(), sqlx::Error> {
        let ping = async {
            match self {
                Conn::MySql(c) => c.ping().await,
                Conn::Postgres(c) => c.ping().await,
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, ping)
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
    }

    async fn close(self) {
        let close = async {
            let _ = match self {
                Conn::MySql(c) => c.close().await,
                Conn::Postgres(c) => c.close().await,
            };
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
    }
}

/// The URL a pod's app connects with: `DATABASE_URL`, else the first
/// variable (in `env` order) holding a MySQL or PostgreSQL URL.
fn database_url(env: &Env) -> Option<String> {
    let vars = || env.values().flatten();
    vars()
        .find(|(k, _)| k == "DATABASE_URL")
        .or_else(|| vars().find(|(_, v)| DbTarget::parse(v).is_ok()))
        .map(|(_, v)| v.clone())
}

/// A forwarder from `ip` to the database `url` names.
async fn forwarder_for(url: &str, ip: Ipv4Addr) -> Result<Forwarder, String> {
    let t = DbTarget::parse(url)?;
    let port = t.port.unwrap_or(match t.engine {
        Engine::MySql => 3306,
        Engine::Postgres => 5432,
    });
    Forwarder::start(ip, &t.host, port)
        .await
        .map_err(|e| format!("could not reach {}:{port} from {ip}: {e}", t.host))
}

/// Open `n` connections (through `via` when given); all or nothing.
async fn open_all(url: &str, pod: &str, n: usize, via: Option<SocketAddr>) -> Result<Vec<Conn>, String> {
    let results = futures::future::join_all((0..n).map(|_| open(url, pod, via))).await;
    let mut conns = Vec::with_capacity(n);
    let mut failure = None;
    for r in results {
        match r {
            Ok(c) => conns.push(c),
            Err(e) => failure = Some(e),
        }
    }
    if let Some(e) = failure {
        for c in conns {
            c.close().await;
        }
        return Err(e);
    }
    Ok(conns)
}

/// Connect as the app would with its DATABASE_URL (`mysql2://` as Rails
/// writes it, or `postgres(ql)://`). Errors are redacted and name no password.
async fn open(url: &str, pod: &str, via: Option<SocketAddr>) -> Result<Conn, String> {
    let mut target = DbTarget::parse(url)?;
    if let Some(v) = via {
        target.host = v.ip().to_string();
        target.port = Some(v.port());
    }
    let connect = async {
        match target.engine {
            Engine::MySql => sqlx::mysql::MySqlConnectOptions::new()
                .host(&target.host)
                .port(target.port.unwrap_or(3306))
                .username(&target.user)
                .password(&target.password)
                .database(&target.database)
                .disable_statement_logging()
                .connect()
                .await
                .map(Conn::MySql),
            Engine::Postgres => sqlx::postgres::PgConnectOptions::new()
                .host(&target.host)
                .port(target.port.unwrap_or(5432))
                .username(&target.user)
                .password(&target.password)
                .database(&target.database)
                .application_name(pod)
                .disable_statement_logging()
                .connect()
                .await
                .map(Conn::Postgres),
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(redact(&format!(
            "could not connect to {} as {}: {e}",
            target.host, target.user
        ))),
        Err(_) => Err(format!(
            "timed out connecting to {} as {}",
            target.host, target.user
        )),
    }
}

#[derive(Debug, PartialEq)]
enum Engine {
    MySql,
    Postgres,
}

/// The parts of a DATABASE_URL. Debug never shows the password.
struct DbTarget {
    engine: Engine,
    host: String,
    port: Option<u16>,
    user: String,
    password: String,
    database: String,
}

impl DbTarget {
    fn parse(url: &str) -> Result<DbTarget, String> {
        let u = url::Url::parse(url).map_err(|e| format!("DATABASE_URL is not a URL: {e}"))?;
        let engine = match u.scheme() {
            "mysql2" | "mysql" | "trilogy" => Engine::MySql,
            "postgres" | "postgresql" => Engine::Postgres,
            other => return Err(format!("DATABASE_URL has unsupported scheme {other}")),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let password = decode(u.password().unwrap_or_default());
        register(&password);
        Ok(DbTarget {
            engine,
            host: u
                .host_str()
                .ok_or("DATABASE_URL has no host")?
                .trim_matches(['[', ']'])
                .to_owned(),
            port: u.port(),
            user: decode(u.username()),
            password,
            database: decode(u.path().trim_start_matches('/')),
        })
    }
}

/// Writes one pod's status the way kubelet reports it.
struct StatusWriter {
    api: Api<Pod>,
    name: String,
    containers: Vec<(String, String)>,
    started: String,
    ip: String,
}

impl StatusWriter {
    fn new(client: &kube::Client, namespace: &str, pod: &Pod, ip: Option<Ipv4Addr>) -> StatusWriter {
        let containers = pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
            .collect();
        StatusWriter {
            api: Api::namespaced(client.clone(), namespace),
            name: pod.name_any(),
            containers,
            started: now_rfc3339(),
            ip: ip.unwrap_or(Ipv4Addr::LOCALHOST).to_string(),
        }
    }

    /// Every container exited 0: phase Succeeded, not ready.
    async fn succeeded(&self, restarts: u32) {
        let now = now_rfc3339();
        let state = json!({ "terminated": { "exitCode": 0, "reason": "Completed", "startedAt": self.started, "finishedAt": now } });
        self.write("Succeeded", false, state, None, restarts).await;
    }

    async fn running(&self, restarts: u32) {
        let now = now_rfc3339();
        let state = json!({ "running": { "startedAt": now } });
        self.write("Running", true, state, None, restarts).await;
    }

    /// Running, its readiness probe failing.
    async fn unready(&self, restarts: u32) {
        let now = now_rfc3339();
        let state = json!({ "running": { "startedAt": now } });
        self.write("Running", false, state, None, restarts).await;
    }

    async fn waiting(&self, reason: &str, message: &str, restarts: u32) {
        let message = redact(message);
        let state = json!({ "waiting": { "reason": reason, "message": message } });
        // As kubelet reports a crash: the last run ended in error.
        let last = (reason == "CrashLoopBackOff").then(|| {
            json!({ "terminated": { "exitCode": 1, "reason": "Error", "message": message, "finishedAt": now_rfc3339() } })
        });
        self.write("Pending", false, state, last, restarts).await;
    }

    async fn write(
        &self,
        phase: &str,
        ready: bool,
        state: serde_json::Value,
        last: Option<serde_json::Value>,
        restarts: u32,
    ) {
        let flag = if ready { "True" } else { "False" };
        let now = now_rfc3339();
        let cond = |t: &str, s: &str| json!({ "type": t, "status": s, "lastTransitionTime": now });
        let containers: Vec<_> = self
            .containers
            .iter()
            .map(|(name, image)| {
                json!({
                    "name": name, "image": image, "imageID": format!("sandbox://{image}"),
                    "ready": ready, "started": ready, "restartCount": restarts, "state": state,
                    "lastState": last.clone().unwrap_or_else(|| json!({})),
                })
            })
            .collect();
        // A crashed container that has run before reports Running phase.
        let phase = if restarts > 0 && phase == "Pending" {
            "Running"
        } else {
            phase
        };
        let patch = json!({ "status": {
            "phase": phase,
            "conditions": [
                cond("PodScheduled", "True"), cond("Initialized", "True"),
                cond("ContainersReady", flag), cond("Ready", flag),
            ],
            "containerStatuses": containers,
            "hostIP": "127.0.0.1", "podIP": self.ip, "podIPs": [{ "ip": self.ip }],
            "startTime": self.started,
        }});
        if let Err(e) = self
            .api
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::debug!(pod = %self.name, error = %redact(&e.to_string()), "pod status");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_urls_without_leaking() {
        let t = DbTarget::parse("mysql2://signon_user_1:s3cretPassw0rd@127.0.0.1:3307/signon_production")
            .unwrap();
        assert_eq!(
            (t.engine, t.host.as_str(), t.port),
            (Engine::MySql, "127.0.0.1", Some(3307))
        );
        assert_eq!(
            (t.user.as_str(), t.database.as_str()),
            ("signon_user_1", "signon_production")
        );
        let t =
            DbTarget::parse("postgresql://account-api:pw0rdpw0rd@localhost/account-api_production").unwrap();
        assert_eq!(
            (t.engine, t.user.as_str(), t.port),
            (Engine::Postgres, "account-api", None)
        );
        let e = DbTarget::parse("redis://u:hunter2hunter2@h/0").err().unwrap();
        assert!(!e.contains("hunter2hunter2"), "{e}");
    }

    #[test]
    fn reads_socat_relays() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": "rotui-tunnel-x" },
            "spec": { "containers": [{ "name": "relay", "image": "alpine/socat:1.8",
                "args": ["tcp-listen:5432,fork,reuseaddr", "tcp-connect:127.0.0.1:6543"] }] }
        }))
        .unwrap();
        assert_eq!(
            relay_of(&pod),
            Some(Relay {
                listen: 5432,
                host: "127.0.0.1".into(),
                port: 6543
            })
        );
        assert!(is_loopback("127.0.0.2") && is_loopback("localhost") && is_loopback("::1"));
        assert!(!is_loopback("db.eu-west-1.rds.amazonaws.com") && !is_loopback("10.0.0.1"));
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(9), Duration::from_secs(10));
    }
}
