//! The cluster side: the ExternalSecret copies AWSCURRENT into the
//! Kubernetes Secret, and the app restarts with the new DATABASE_URL.

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::Instant;

use crate::text::shell_quote as q;

use super::super::context::StepCtx;
use super::super::journal::Event;
use super::super::outcome::{Applied, Observation, StepError, StepResult, Wait};
use super::super::ports::{
    AppCredentials, FailedLogins, PortError, PortErrorKind, RolloutCheck, SyncVerdict, System,
};

/// The user this step brings the cluster to: the rotation's new user, or,
/// for a rollback's steps, the environment's old user.
fn expected_user<'a>(cx: &'a StepCtx<'a>) -> &'a str {
    if cx.step.kind.is_rollback() {
        cx.rotation.old_user(&cx.step.env)
    } else {
        &cx.rotation.new_username
    }
}

/// AWSCURRENT when it names the expected user ([`expected_user`]);
/// otherwise what the step is waiting for. The cluster matching the other
/// credentials is not this step's work done.
async fn current(cx: &StepCtx<'_>) -> StepResult<Result<AppCredentials, String>> {
    let creds = cx
        .read(System::SecretsManager, cx.ports()?.secrets.current())
        .await?;
    let want = expected_user(cx);
    Ok(if creds.username == want {
        Ok(creds)
    } else {
        let first = if cx.step.kind.is_rollback() {
            "roll the secret back first"
        } else {
            "promote first"
        };
        Err(format!(
            "AWSCURRENT still names {}, not {want}: {first}",
            creds.username
        ))
    })
}

/// Does the Kubernetes Secret carry AWSCURRENT? `strict` (the verify step)
/// turns "no" into Blocked: only a sync can fix it, and that step came before.
pub(super) async fn observe_secret(cx: &StepCtx<'_>, strict: bool) -> StepResult<Observation> {
    let ports = cx.ports()?;
    let creds = match current(cx).await? {
        Ok(c) => c,
        Err(not_yet) if strict => return Ok(Observation::Blocked(not_yet)),
        Err(not_yet) => return Ok(Observation::NotDone(not_yet)),
    };
    let check = cx
        .read(System::Kubernetes, ports.cluster.check_secret(&creds))
        .await?;
    let secret = &ports.target.k8s_secret;
    let state = match check {
        Some(c) if c.matches => {
            return Ok(Observation::Done(format!("Secret {secret}: {}", c.summary)));
        }
        Some(c) => format!(
            "Secret {secret} does not hold AWSCURRENT ({}): {}",
            creds.username, c.summary
        ),
        None => format!("Secret {secret} has no DATABASE_URL"),
    };
    Ok(if strict {
        Observation::Blocked(format!("{state}; force-sync the ExternalSecret"))
    } else {
        Observation::NotDone(state)
    })
}

// Previews are what a person may paste into a shell: every name in a
// kubectl line is quoted as a shell word (`crate::text::shell_quote`), and
// what is not a command is a `#` comment or a `--` line.

pub(super) fn preview_sync(cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    let t = &cx.ports()?.target;
    Ok(vec![
        format!(
            "kubectl annotate -n {} externalsecrets.external-secrets.io {} force-sync=\"$(date +%s)\" --overwrite",
            q(&t.namespace),
            q(&t.external_secret)
        ),
        format!(
            "-- wait up to {} s for Ready=True (SecretSynced) with refreshTime after the annotation",
            cx.opts.sync_timeout.as_secs()
        ),
    ])
}

pub(super) fn preview_verify(cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    let t = &cx.ports()?.target;
    Ok(vec![format!(
        "kubectl get secret -n {} {} -o json | jq '.data.DATABASE_URL | @base64d'   # read only",
        q(&t.namespace),
        q(&t.k8s_secret)
    )])
}

pub(super) fn preview_rollout(cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    let t = &cx.ports()?.target;
    Ok(vec![
        format!(
            "-- wait up to {} s for deployment/{} and every other consumer of Secret {} (Deployments, StatefulSets, DaemonSets; running Jobs) to roll out",
            cx.opts.rollout_timeout.as_secs(),
            t.deployment,
            t.k8s_secret
        ),
        format!(
            "kubectl exec -n {} {} --container={} -- env | grep DATABASE_URL   # read only; rotui checks every pod of every consumer, by its variable name",
            q(&t.namespace),
            q(&format!("deployment/{}", t.deployment)),
            q(&t.container)
        ),
    ])
}

pub(super) async fn force_sync(cx: &StepCtx<'_>) -> StepResult<Applied> {
    let ports = cx.ports()?;
    let t = &ports.target;
    let desc = preview_sync(cx)?.remove(0);
    let limit = cx.opts.sync_timeout + cx.opts.call_timeout;
    // Where the drain starts: the pods' connections before the switch.
    sample_drain(cx, &mut None).await?;
    let verdict = cx
        .write_within(
            System::Kubernetes,
            &desc,
            limit,
            ports.cluster.force_sync(cx.opts.sync_timeout),
        )
        .await?;
    match verdict {
        SyncVerdict::Synced => {
            // A sync that was already running when we annotated can report
            // success with the old data; ours follows it. Wait for the Secret.
            let deadline = Instant::now() + cx.opts.sync_timeout;
            loop {
                match observe_secret(cx, true).await? {
                    Observation::Done(_) => {
                        sample_drain(cx, &mut None).await?;
                        return Ok(Applied::Done);
                    }
                    Observation::NotDone(w) | Observation::Blocked(w) if Instant::now() >= deadline => {
                        return Err(StepError::Blocked(format!(
                            "the ExternalSecret synced but {w}; does it read {}?",
                            t.app_secret
                        )));
                    }
                    _ => tokio::time::sleep(cx.opts.poll).await,
                }
            }
        }
        SyncVerdict::Failed(why) => Err(StepError::Port(
            PortError::new(
                System::Kubernetes,
                PortErrorKind::Other,
                format!("ExternalSecret {} failed to sync: {why}", t.external_secret),
            )
            .with_hint("check the ClusterSecretStore and the secret's keys"),
        )),
        SyncVerdict::TimedOut(_) => Ok(Applied::Waiting(Wait::Sync {
            env: cx.step.env.clone(),
            external_secret: t.external_secret.clone(),
        })),
    }
}

pub(super) async fn observe_rollout(cx: &StepCtx<'_>) -> StepResult<Observation> {
    Ok(match rollout_check(cx).await? {
        Ok((r, user)) => {
            let seen = rollout_observation(&r, &user, &cx.ports()?.target.deployment);
            if let Observation::Done(_) = seen {
                // Rolled out before the step ran (or as it ends): journalled
                // as ready by now; the report keeps each one's first.
                journal_ready(cx, &r, &mut BTreeSet::new())?;
                sample_drain(cx, &mut None).await?;
            }
            seen
        }
        Err(not_yet) => Observation::NotDone(not_yet),
    })
}

/// Every consumer's rollout against AWSCURRENT, and the user it names;
/// otherwise what the step is waiting for.
async fn rollout_check(cx: &StepCtx<'_>) -> StepResult<Result<(RolloutCheck, String), String>> {
    let ports = cx.ports()?;
    let creds = match current(cx).await? {
        Ok(c) => c,
        Err(not_yet) => return Ok(Err(not_yet)),
    };
    let r = cx
        .read(System::Kubernetes, ports.cluster.check_rollout(&creds))
        .await?;
    Ok(Ok((r, creds.username)))
}

/// Journal the connections of the user the pods move off (the old user;
/// for a rollback, the new), as they restart: `rotui report`'s drain curve;
/// and the failed logins beside it.
async fn sample_drain(cx: &StepCtx<'_>, last: &mut Option<(i64, BTreeMap<String, i64>)>) -> StepResult<()> {
    let leaving = if cx.step.kind.is_rollback() {
        cx.rotation.new_username.as_str()
    } else {
        cx.rotation.old_user(&cx.step.env)
    };
    sample_connections(cx, leaving, last).await?;
    sample_failed_logins(cx, false, &mut None).await?;
    Ok(())
}

/// The drain's words on failed logins: `; failed logins since the switch:
/// signon 0, signon_user_20260121 0` (or `not observable: …`); nothing
/// when they could not be read.
pub(super) fn logins_note(logins: Option<FailedLogins>) -> String {
    logins
        .map(|l| format!("; failed logins since the switch: {}", l.summary()))
        .unwrap_or_default()
}

/// Journal the failed logins of the environment's old and new users when
/// they changed since `last` (a `baseline`, the count before the switch,
/// always). Returns them counted since the switch, for the drain's
/// progress. A count that cannot be read is left out, as a connection
/// count is: it does not stop the rotation.
pub(super) async fn sample_failed_logins(
    cx: &StepCtx<'_>,
    baseline: bool,
    last: &mut Option<FailedLogins>,
) -> StepResult<Option<FailedLogins>> {
    let Some(rec) = cx.recorder else { return Ok(None) };
    let users = [
        cx.rotation.old_user(&cx.step.env).to_owned(),
        cx.rotation.new_username.clone(),
    ];
    let Ok(now) = cx
        .read(System::Database, cx.ports()?.db.failed_logins(&users))
        .await
    else {
        return Ok(None);
    };
    if baseline || last.as_ref() != Some(&now) {
        rec.journal(Event::FailedLogins {
            step: cx.step.id.clone(),
            baseline,
            logins: now.clone(),
        })?;
        *last = Some(now.clone());
    }
    Ok(Some(now.since(rec.failed_logins_baseline(&cx.step.env).as_ref())))
}

/// Journal `old`'s connections (in all, and per pod where the cluster
/// names the client) when they changed since `last`: the drain curve of
/// `rotui report`, sampled as the sync begins, by the rollout as the pods
/// restart, and by the drain. A count that cannot be read is left out; it
/// does not stop the drain.
pub(super) async fn sample_connections(
    cx: &StepCtx<'_>,
    old: &str,
    last: &mut Option<(i64, BTreeMap<String, i64>)>,
) -> StepResult<()> {
    let Some(rec) = cx.recorder else { return Ok(()) };
    let ports = cx.ports()?;
    let Ok(total) = cx.read(System::Database, ports.db.connections(old)).await else {
        return Ok(());
    };
    let mut by_pod = BTreeMap::new();
    if total > 0 {
        let clients = cx
            .read(System::Database, ports.db.connection_clients(old))
            .await
            .unwrap_or_default();
        let pods = cx
            .read(System::Kubernetes, ports.cluster.attribute_clients(&clients))
            .await
            .unwrap_or_default();
        for (i, client) in clients.iter().enumerate() {
            let pod = match pods.get(i) {
                Some(Some(pod)) => pod.clone(),
                // The address without its port: one key per client host.
                _ => format!(
                    "{} (no pod)",
                    client.rsplit_once(':').map_or(client.as_str(), |(h, _)| h)
                ),
            };
            *by_pod.entry(pod).or_insert(0) += 1;
        }
    }
    let now = Some((total, by_pod));
    if *last != now {
        let (total, by_pod) = now.clone().unwrap_or_default();
        rec.journal(Event::DrainSample {
            step: cx.step.id.clone(),
            user: old.to_owned(),
            total,
            by_pod,
        })?;
        *last = now;
    }
    Ok(())
}

/// Journal each restarting consumer (Deployment, StatefulSet, DaemonSet)
/// the first time it is rolled out with every serving pod on the expected
/// credentials: when each was ready, for `rotui report`.
fn journal_ready(cx: &StepCtx<'_>, r: &RolloutCheck, ready: &mut BTreeSet<String>) -> StepResult<()> {
    let Some(rec) = cx.recorder else { return Ok(()) };
    for w in &r.workloads {
        if !w.complete || w.workload.starts_with("cronjob/") || w.workload.starts_with("job/") {
            continue;
        }
        let pods: Vec<_> = r.pods.iter().filter(|p| p.workload == w.workload).collect();
        if pods.iter().any(|p| !p.check.matches) || !ready.insert(w.workload.clone()) {
            continue;
        }
        let mut names: Vec<&str> = pods.iter().map(|p| p.pod.as_str()).collect();
        names.dedup();
        rec.journal(Event::WorkloadReady {
            step: cx.step.id.clone(),
            workload: w.workload.clone(),
            pods: names.len(),
            summary: w.summary.clone(),
        })?;
    }
    Ok(())
}

/// Done when every consumer is complete and every checked container holds
/// `user`; otherwise each consumer still waited for, named with what it
/// still holds.
pub(crate) fn rollout_observation(r: &RolloutCheck, user: &str, deployment: &str) -> Observation {
    let on_new = r.pods.iter().filter(|p| p.check.matches).count();
    let unlisted = if r.unlisted.is_empty() {
        String::new()
    } else {
        format!(" (not looked at: {})", r.unlisted.join("; "))
    };
    let others: Vec<String> = r
        .workloads
        .iter()
        .filter(|w| w.complete && !r.pods.iter().any(|p| p.workload == w.workload))
        .map(|w| format!("{}: {}", w.workload, w.summary))
        .collect();
    let others = if others.is_empty() {
        String::new()
    } else {
        format!("; {}", others.join("; "))
    };
    if r.complete && !r.pods.is_empty() && on_new == r.pods.len() {
        let mut with_pods: Vec<&str> = r.pods.iter().map(|p| p.workload.as_str()).collect();
        with_pods.dedup();
        let what = if with_pods.len() <= 1 {
            format!("deployment/{deployment}: all {on_new} serving pods use {user}")
        } else {
            format!(
                "{}: all {on_new} credential variables of their serving pods use {user}",
                with_pods.join(", ")
            )
        };
        return Observation::Done(format!("{what}{others}{unlisted}"));
    }
    if r.workloads.len() <= 1 && r.pods.iter().all(|p| p.variable == "DATABASE_URL") {
        // The app Deployment alone: the runbook's words.
        let pods = r.pods.len();
        let stale: Vec<String> = r
            .pods
            .iter()
            .filter(|p| !p.check.matches)
            .map(|p| format!("{} ({})", p.pod, p.check.user))
            .collect();
        return Observation::NotDone(format!(
            "deployment/{deployment}: {on_new} of {pods} serving pods use {user}{}; {}{unlisted}",
            if stale.is_empty() {
                String::new()
            } else {
                format!(", not: {}", stale.join(", "))
            },
            r.summary
        ));
    }
    let waiting: Vec<String> = r
        .workloads
        .iter()
        .filter_map(|w| {
            let pods: Vec<_> = r.pods.iter().filter(|p| p.workload == w.workload).collect();
            let stale: Vec<String> = pods
                .iter()
                .filter(|p| !p.check.matches)
                .map(|p| {
                    let held = if p.check.user.is_empty() {
                        p.check.summary.clone()
                    } else {
                        p.check.user.clone()
                    };
                    format!("{} ({} {}: {held})", p.pod, p.container, p.variable)
                })
                .collect();
            if w.complete && stale.is_empty() && !(pods.is_empty() && w.workload.starts_with("deployment/")) {
                return None;
            }
            let on = pods.iter().filter(|p| p.check.matches).count();
            Some(format!(
                "{}: {on} of {} use {user}{}; {}",
                w.workload,
                pods.len(),
                if stale.is_empty() {
                    String::new()
                } else {
                    format!(", not: {}", stale.join(", "))
                },
                w.summary
            ))
        })
        .collect();
    Observation::NotDone(format!("waiting for {}{unlisted}", waiting.join("; ")))
}

/// The consumers whose pods still hold `old` (exec `env`), for the drain's
/// waiting message: `deployment/signon-worker (signon-worker-5d…)`. Empty
/// when unknown (the cluster cannot be asked, or nothing holds it).
pub(super) async fn holding(cx: &StepCtx<'_>, old: &str) -> Vec<String> {
    let Ok(ports) = cx.ports() else { return vec![] };
    let Ok(creds) = cx.read(System::SecretsManager, ports.secrets.current()).await else {
        return vec![];
    };
    if creds.username == old {
        return vec![];
    }
    let Ok(r) = cx
        .read(System::Kubernetes, ports.cluster.check_rollout(&creds))
        .await
    else {
        return vec![];
    };
    let mut out: Vec<String> = vec![];
    for p in r.pods.iter().filter(|p| p.check.user == old) {
        let line = format!("{} ({})", p.workload, p.pod);
        if !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

pub(super) async fn await_rollout(cx: &StepCtx<'_>) -> StepResult<Applied> {
    let deadline = Instant::now() + cx.opts.rollout_timeout;
    let mut ready = BTreeSet::new();
    let mut last = None;
    loop {
        sample_drain(cx, &mut last).await?;
        let seen = match rollout_check(cx).await? {
            Ok((r, user)) => {
                journal_ready(cx, &r, &mut ready)?;
                rollout_observation(&r, &user, &cx.ports()?.target.deployment)
            }
            Err(not_yet) => Observation::NotDone(not_yet),
        };
        match seen {
            Observation::Done(_) => return Ok(Applied::Done),
            Observation::NotDone(detail) | Observation::Blocked(detail) if Instant::now() >= deadline => {
                return Ok(Applied::Waiting(Wait::Rollout {
                    env: cx.step.env.clone(),
                    detail,
                }));
            }
            _ => tokio::time::sleep(cx.opts.poll).await,
        }
    }
}
