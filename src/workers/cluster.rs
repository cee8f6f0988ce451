//! The Cluster pane's source: watches, not polls. The ExternalSecret, the
//! Secret it writes, the Deployment and its pods are each watched (kube's
//! watcher: one list, then changes as they happen, retried with backoff),
//! and a new view is sent whenever what the pane shows changes. Every pod's
//! address is watched too (to name the consumer behind a connection), and
//! the Secret's consumers are listed again whenever the pods change. A quiet
//! cluster costs nothing; a rollout shows up as it happens, not on the next
//! poll.

use std::pin::Pin;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};

use crate::app::source::{
    ClusterView, ConsumerView, EsStatusView, PodView, Revealable, RolloutView, SecretCheckView,
};
use crate::k8s::consumers::{self, PodAddress};
use crate::k8s::externalsecret::{self, EsStatus};
use crate::k8s::rollout::{self, RolloutSnapshot};
use crate::k8s::{Expected, K8s, K8sError, secret_check};
use crate::model::Verdict;
use crate::secret::{Redacted, SecretString};

/// What the pane watches.
#[derive(Debug, Clone)]
pub struct ClusterNames {
    pub external_secret: String,
    /// The Secret to check until the ExternalSecret names its target.
    pub secret: String,
    pub deployment: String,
}

/// The credentials the Secret should carry (AWSCURRENT), asked for each
/// time the Secret changes.
pub type Credentials =
    Box<dyn Fn() -> BoxFuture<'static, Result<(Expected, SecretString), Redacted>> + Send + Sync>;

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, K8sError>> + Send>>;

// One change at a time, gone as soon as it is applied: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Change {
    ExternalSecret(Result<Option<EsStatus>, K8sError>),
    Secret(Result<Option<SecretString>, K8sError>),
    Rollout(Option<Result<RolloutSnapshot, K8sError>>),
    Addresses(Result<Vec<PodAddress>, K8sError>),
}

/// Watch until dropped, calling `send` with each new view of the cluster,
/// or with an error while the ExternalSecret or rollout cannot be watched
/// (the watches keep retrying; the next good view replaces the error).
/// Nothing is sent until every watch has listed once, so the pane never
/// shows half a cluster; if that takes longer than `first_deadline`, an
/// error says so.
pub async fn watch(
    k8s: K8s,
    names: ClusterNames,
    credentials: Credentials,
    first_deadline: Duration,
    mut send: impl FnMut(Result<ClusterView, Redacted>),
) {
    let e = |e: K8sError| Redacted::error(e);
    let mut secret_name = names.secret.clone();
    let mut es_events: Boxed<Option<EsStatus>> =
        Box::pin(externalsecret::watch(&k8s, &names.external_secret));
    let mut secret_events: Boxed<Option<SecretString>> =
        Box::pin(secret_check::watch_url(&k8s, &secret_name));
    let mut rollout_events = Box::pin(rollout::watch(&k8s, &names.deployment));
    let mut rollout_open = true;
    // Every pod's address: who is behind each database connection. Pods
    // coming and going is also when the Secret's consumers may change.
    let mut address_events = Box::pin(consumers::watch_pod_addresses(&k8s));
    let mut addresses: Vec<PodAddress> = vec![];
    let mut readers: Option<(Vec<ConsumerView>, Option<String>)> = None;

    // What each watch said last; `None` until it has listed once.
    let mut es: Option<Option<EsStatus>> = None;
    let mut url: Option<Result<Option<SecretString>, Redacted>> = None;
    let mut snapshot: Option<Result<RolloutSnapshot, Redacted>> = None;
    let mut check: Option<SecretCheckView> = None;
    let mut last: Option<Result<ClusterView, Redacted>> = None;
    let first = tokio::time::sleep(first_deadline);
    tokio::pin!(first);
    let mut late = false;

    loop {
        let change = tokio::select! {
            Some(ev) = es_events.next() => Change::ExternalSecret(ev),
            Some(ev) = secret_events.next() => Change::Secret(ev),
            ev = rollout_events.next(), if rollout_open => Change::Rollout(ev),
            Some(ev) = address_events.next() => Change::Addresses(ev),
            _ = &mut first, if last.is_none() && !late => {
                late = true;
                send(Err(Redacted::new(format!(
                    "no answer within {}s from the cluster",
                    first_deadline.as_secs()
                ))));
                continue;
            }
        };
        let mut failed = None;
        match change {
            Change::ExternalSecret(Ok(status)) => {
                // Follow the Secret the ExternalSecret actually writes.
                if let Some(target) = status.as_ref().map(|s| s.target.clone())
                    && target != secret_name
                {
                    secret_name = target;
                    secret_events = Box::pin(secret_check::watch_url(&k8s, &secret_name));
                    url = None;
                    readers = None;
                }
                es = Some(status);
            }
            Change::ExternalSecret(Err(err)) => failed = Some(e(err)),
            Change::Secret(result) => {
                url = Some(result.map_err(e));
                check = None;
            }
            Change::Rollout(Some(Ok(snap))) => snapshot = Some(Ok(snap)),
            // Before the first snapshot (the Deployment cannot be read) the
            // error stands in for it; after, a failing watch is reported
            // until it recovers.
            Change::Rollout(Some(Err(err))) if snapshot.is_none() => snapshot = Some(Err(e(err))),
            Change::Rollout(Some(Err(err))) => failed = Some(e(err)),
            Change::Rollout(None) => rollout_open = false,
            Change::Addresses(Ok(now)) => {
                addresses = now;
                readers = None;
            }
            // Attribution is a nicety: without it the pane shows what it has.
            Change::Addresses(Err(_)) => {}
        }
        let view = match failed {
            Some(err) => Err(err),
            None => {
                let (Some(es), Some(url), Some(snapshot)) = (&es, &url, &snapshot) else {
                    continue;
                };
                if check.is_none() {
                    check = Some(secret_view(&k8s, &secret_name, url, &credentials).await);
                }
                let check = check.clone().expect("just set");
                if readers.is_none() {
                    readers = Some(consumer_views(&k8s, &secret_name).await);
                }
                let (consumers, consumers_note) = readers.clone().expect("just set");
                snapshot.clone().map(|snap| ClusterView {
                    consumers,
                    consumers_note,
                    pod_addresses: addresses.clone(),
                    ..view(es.as_ref(), check, &snap)
                })
            }
        };
        if last.as_ref() != Some(&view) {
            last = Some(view.clone());
            send(view);
        }
    }
}

/// The Secret's consumers, for the pane; a failure or a kind that could
/// not be listed is the note.
async fn consumer_views(k8s: &K8s, secret: &str) -> (Vec<ConsumerView>, Option<String>) {
    match consumers::list(k8s, secret).await {
        Ok(found) => {
            let note = (!found.unlisted.is_empty()).then(|| {
                found
                    .unlisted
                    .iter()
                    .map(|u| format!("{} {}", u.kind.resource(), u.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            let views = found
                .consumers
                .iter()
                .map(|c| ConsumerView {
                    workload: c.workload.to_string(),
                    reads: consumers::describe_reads(c),
                })
                .collect();
            (views, note)
        }
        Err(e) => (vec![], Some(Redacted::error(e).into_string())),
    }
}

/// The Secret's DATABASE_URL checked against AWSCURRENT: user, host,
/// database and a yes/no, the password kept only for `v`.
async fn secret_view(
    k8s: &K8s,
    name: &str,
    url: &Result<Option<SecretString>, Redacted>,
    credentials: &Credentials,
) -> SecretCheckView {
    let problem = |problem: Redacted| SecretCheckView {
        secret: name.to_owned(),
        problem: Some(problem.into_string()),
        ..Default::default()
    };
    let url = match url {
        Ok(Some(url)) => url,
        Ok(None) => return problem(format!("Secret {name} does not exist").into()),
        Err(err) => return problem(err.clone()),
    };
    let (expected, _) = match credentials().await {
        Ok(c) => c,
        Err(err) => return problem(err.context("cannot read the app secret")),
    };
    match secret_check::check_database_url(k8s, name, url, &expected) {
        Ok(u) => SecretCheckView {
            secret: name.to_owned(),
            user: Some(u.user.clone()),
            host: Some(u.host.clone()),
            database: Some(u.database.clone()),
            // The URL's own, AWSCURRENT's or not (before the sync it is the
            // old one): masked until `v`, never shown as an empty password.
            password: secret_check::url_password(url).map(Revealable),
            matches_app_secret: Verdict::from(u.matches()),
            problem: u.unparsable.as_deref().map(secret_check::unparsable_note),
        },
        Err(err) => problem(Redacted::error(err)),
    }
}

fn view(es: Option<&EsStatus>, secret_check: SecretCheckView, snap: &RolloutSnapshot) -> ClusterView {
    let rollout = snap.deployment.as_ref().map(|d| RolloutView {
        deployment: d.name.clone(),
        desired: d.desired,
        updated: d.updated,
        ready: d.ready,
        available: d.available,
        complete: d.is_complete(),
        restarted_at: None,
        paused: d.paused,
    });
    let pods = snap
        .pods
        .iter()
        .map(|p| PodView {
            name: p.name.clone(),
            phase: if p.terminating {
                "Terminating".into()
            } else {
                p.phase.clone()
            },
            ready: p.ready,
            restarts: 0,
            started: p.started,
            db_user: None,
        })
        .collect();
    ClusterView {
        external_secret: es.map(|es| EsStatusView {
            name: es.name.clone(),
            ready: es
                .ready
                .as_ref()
                .map_or(Verdict::Unknown, |c| Verdict::from(c.status == "True")),
            reason: es.ready.as_ref().and_then(|c| c.reason.clone()),
            message: es.ready.as_ref().and_then(|c| c.message.clone()),
            refresh_time: es.refresh_time,
            refresh_interval: es.refresh_interval.clone(),
            force_sync_requested: es
                .force_sync
                .as_deref()
                .and_then(|s| s.parse::<i64>().ok())
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
        }),
        secret_check: Some(secret_check),
        rollout,
        pods,
        ..Default::default()
    }
}

/// Feed the Cluster pane from `b`'s cluster until aborted (see [`watch`]),
/// each view sent as `Answer::Cluster` under `generation`.
pub(super) async fn watch_backend(
    b: std::sync::Arc<super::backend::Backend>,
    generation: u64,
    tx: tokio::sync::mpsc::UnboundedSender<crate::app::Action>,
) {
    let send = |result| {
        let _ = tx.send(crate::app::Action::Loaded {
            generation,
            at: chrono::Utc::now(),
            answer: crate::app::Answer::Cluster(result),
        });
    };
    let k8s = match &b.connected.k8s {
        Ok(k) => k.clone(),
        Err(e) => return send(Err(e.clone())),
    };
    let t = &b.connected.target;
    let names = ClusterNames {
        external_secret: t.external_secret.clone(),
        secret: t.k8s_secret.clone(),
        deployment: t.deployment.clone(),
    };
    let credentials: Credentials = {
        let b = b.clone();
        Box::new(move || {
            let b = b.clone();
            Box::pin(async move {
                let secrets = b.connected.secrets_port()?;
                b.current.get(secrets.as_ref()).await
            })
        })
    };
    watch(k8s, names, credentials, super::fetch::DEADLINE, send).await;
}
