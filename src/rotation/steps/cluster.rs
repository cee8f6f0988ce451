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
    let mut out = vec![];
    if staggers(cx) {
        out.push(format!(
            "kubectl rollout pause -n {} deployment/…   # --stagger: each Deployment Reloader restarts, first, so its restart waits for the rollout step to resume it, one at a time (StatefulSets and DaemonSets cannot be paused: Reloader restarts them at once)",
            q(&t.namespace)
        ));
    }
    out.extend([
        format!(
            "kubectl annotate -n {} externalsecrets.external-secrets.io {} force-sync=\"$(date +%s)\" --overwrite",
            q(&t.namespace),
            q(&t.external_secret)
        ),
        format!(
            "-- wait up to {} s for Ready=True (SecretSynced) with refreshTime after the annotation",
            cx.opts.sync_timeout.as_secs()
        ),
    ]);
    Ok(out)
}

/// `--stagger` applies to a rotation's sync, not a rollback's: a rollback
/// wants every pod back at once.
fn staggers(cx: &StepCtx<'_>) -> bool {
    cx.opts.stagger && !cx.step.kind.is_rollback()
}

/// Pause each Deployment Reloader will restart (`--stagger`), before the
/// sync: Reloader still writes its template, and the Deployment rolls only
/// once the rollout step resumes it. Already paused ones are left.
async fn pause_reloaders(cx: &StepCtx<'_>) -> StepResult<()> {
    let ports = cx.ports()?;
    let blast = cx.read(System::Kubernetes, ports.cluster.blast_radius()).await?;
    for r in blast
        .restarts
        .iter()
        .filter(|r| r.restarted.is_ok() && r.workload.starts_with("deployment/"))
    {
        let desc = format!(
            "kubectl rollout pause -n {} {}",
            q(&ports.target.namespace),
            q(&r.workload)
        );
        cx.write(
            System::Kubernetes,
            &desc,
            ports.cluster.set_paused(&r.workload, true),
        )
        .await?;
    }
    Ok(())
}

pub(super) fn preview_verify(cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    let t = &cx.ports()?.target;
    Ok(vec![format!(
        "kubectl get secret -n {} {} -o json | jq '.data.DATABASE_URL | @base64d'   # read only",
        q(&t.namespace),
        q(&t.k8s_secret)
    )])
}

pub(super) async fn preview_rollout(cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    let ports = cx.ports()?;
    let t = &ports.target;
    let creds = if cx.step.kind.is_rollback() { "old" } else { "new" };
    let mut out = vec![format!(
        "-- wait up to {} s for deployment/{} and every other consumer of Secret {} (Deployments, StatefulSets, DaemonSets; running Jobs) to roll out",
        cx.opts.rollout_timeout.as_secs(),
        t.deployment,
        t.k8s_secret
    )];
    // Who Reloader leaves: rotui restarts them (read-only here; a cluster
    // that cannot say is left out, and the step still finds them live).
    if let Ok(b) = cx.read(System::Kubernetes, ports.cluster.blast_radius()).await {
        for r in b.restarts.iter().filter(|r| r.restarted.is_err()) {
            out.push(format!(
                "kubectl rollout restart -n {} {}   # {}: Reloader will not restart it; rotui does, one at a time, each once the one before is ready",
                q(&t.namespace),
                q(&r.workload),
                r.restarted.as_ref().err().map_or("", String::as_str)
            ));
        }
    }
    out.push(format!(
        "-- health gate, each restarting workload: ready on the {creds} credentials within {} s, no pod crash-looping or restarting, available pods never below replicas − maxUnavailable; a failure stops the plan here{}",
        cx.opts.gate_timeout.as_secs(),
        if cx.step.kind.is_rollback() {
            ""
        } else {
            " and offers the rollback (`rotui rollback`, B in the dashboard)"
        }
    ));
    out.push(format!(
        "kubectl exec -n {} {} --container={} -- env | grep DATABASE_URL   # read only; rotui checks every pod of every consumer, by its variable name",
        q(&t.namespace),
        q(&format!("deployment/{}", t.deployment)),
        q(&t.container)
    ));
    Ok(out)
}

pub(super) async fn force_sync(cx: &StepCtx<'_>) -> StepResult<Applied> {
    let ports = cx.ports()?;
    let t = &ports.target;
    let desc = preview_sync(cx)?
        .into_iter()
        .find(|l| l.starts_with("kubectl annotate"))
        .unwrap_or_default();
    let limit = cx.opts.sync_timeout + cx.opts.call_timeout;
    if staggers(cx) {
        pause_reloaders(cx).await?;
    }
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
    holding_and_health(cx, old).await.0
}

/// [`holding`], and beside it each restarting consumer's pods as the
/// health gate reads them (`deployment/signon 2/2 available, 0 restarts`):
/// what the drain shows next to the connections and the failed logins, so
/// a crash on the new credentials is seen where the old user drains.
pub(super) async fn holding_and_health(cx: &StepCtx<'_>, old: &str) -> (Vec<String>, Vec<String>) {
    let Ok(ports) = cx.ports() else {
        return (vec![], vec![]);
    };
    let Ok(creds) = cx.read(System::SecretsManager, ports.secrets.current()).await else {
        return (vec![], vec![]);
    };
    if creds.username == old {
        return (vec![], vec![]);
    }
    let Ok(r) = cx
        .read(System::Kubernetes, ports.cluster.check_rollout(&creds))
        .await
    else {
        return (vec![], vec![]);
    };
    let mut out: Vec<String> = vec![];
    for p in r.pods.iter().filter(|p| p.check.user == old) {
        let line = format!("{} ({})", p.workload, p.pod);
        if !out.contains(&line) {
            out.push(line);
        }
    }
    (out, pods_health(&r))
}

/// `deployment/signon 2/2 available, 0 restarts` per rolling consumer;
/// a crash loop named.
pub(crate) fn pods_health(r: &RolloutCheck) -> Vec<String> {
    r.workloads
        .iter()
        .filter_map(|w| {
            let h = w.health.as_ref()?;
            let crash = if h.crash_looping.is_empty() {
                String::new()
            } else {
                format!(", crash-looping: {}", h.crash_looping.join(", "))
            };
            Some(format!(
                "{} {}/{} available, {} restart{}{crash}",
                w.workload,
                h.available,
                h.replicas,
                h.restarts,
                if h.restarts == 1 { "" } else { "s" }
            ))
        })
        .collect()
}

/// The health gate of each restarting consumer, as the rollout step
/// watches it: pure, fed one [`RolloutCheck`] per look (tested below).
/// A workload's clock starts when the step first sees it restarting (or
/// when rotui restarts it); one waiting its turn for rotui's restart is not
/// timed. Available pods below replicas − maxUnavailable must be seen on
/// two looks running: the controller writes status a moment after it
/// replaces a pod, and one stale read is no outage.
#[derive(Debug, Default)]
pub(crate) struct Gates {
    watched: BTreeMap<String, Watched>,
}

#[derive(Debug)]
struct Watched {
    since: Instant,
    restarts: i32,
    below_floor: bool,
}

impl Gates {
    /// rotui restarted `workload` at `now`: its clock starts again.
    pub(crate) fn restarted(&mut self, workload: &str, now: Instant) {
        self.watched.remove(workload);
        self.watched.insert(
            workload.to_owned(),
            Watched {
                since: now,
                restarts: i32::MAX,
                below_floor: false,
            },
        );
    }

    /// The first gate failure in `r`: the workload and why. `ready` are the
    /// workloads already rolled out on the expected credentials (their gate
    /// passed); `queued`, those waiting for rotui's restart.
    pub(crate) fn check(
        &mut self,
        r: &RolloutCheck,
        ready: &BTreeSet<String>,
        queued: &[String],
        now: Instant,
        timeout: std::time::Duration,
    ) -> Option<(String, String)> {
        for w in &r.workloads {
            let Some(h) = &w.health else { continue };
            if ready.contains(&w.workload) || queued.contains(&w.workload) {
                continue;
            }
            let g = self.watched.entry(w.workload.clone()).or_insert(Watched {
                since: now,
                restarts: h.restarts,
                below_floor: false,
            });
            // rotui's restart: the count as the new pods first show it.
            if g.restarts == i32::MAX {
                g.restarts = h.restarts;
            }
            if !h.crash_looping.is_empty() {
                return Some((
                    w.workload.clone(),
                    format!("is crash-looping: {}", h.crash_looping.join(", ")),
                ));
            }
            if h.restarts > g.restarts {
                return Some((
                    w.workload.clone(),
                    format!(
                        "has pods restarting ({} restarts while rotui watched): {}",
                        h.restarts - g.restarts,
                        w.summary
                    ),
                ));
            }
            let below = h.available < h.min_available;
            if below && g.below_floor {
                return Some((
                    w.workload.clone(),
                    format!(
                        "has {} available pods, fewer than its strategy allows ({} replicas − maxUnavailable = {}): {}",
                        h.available, h.replicas, h.min_available, w.summary
                    ),
                ));
            }
            g.below_floor = below;
            if now.duration_since(g.since) >= timeout {
                let pods: Vec<_> = r.pods.iter().filter(|p| p.workload == w.workload).collect();
                let on = pods.iter().filter(|p| p.check.matches).count();
                return Some((
                    w.workload.clone(),
                    format!(
                        "is not ready within {} s ({on} of {} serving pods on the expected credentials): {}",
                        timeout.as_secs(),
                        pods.len(),
                        w.summary
                    ),
                ));
            }
        }
        None
    }
}

/// What rotui does to a consumer in its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Turn {
    /// `kubectl rollout restart`: Reloader will not restart it.
    Restart,
    /// `kubectl rollout resume`: paused for `--stagger` before the sync.
    Resume,
}

/// The consumers rotui restarts or resumes itself, in order, one at a
/// time: paused Deployments (Reloader's restart waits in them), and
/// rolling ones Reloader will not restart, rolled out (not restarting now,
/// so never restarted twice) with a serving pod still on other credentials.
pub(crate) fn turns(r: &RolloutCheck) -> Vec<(String, Turn)> {
    r.workloads
        .iter()
        .filter_map(|w| {
            let h = w.health.as_ref()?;
            if h.paused {
                return Some((w.workload.clone(), Turn::Resume));
            }
            let stale = r
                .pods
                .iter()
                .any(|p| p.workload == w.workload && !p.check.matches);
            (h.reloader.is_err() && w.complete && stale).then(|| (w.workload.clone(), Turn::Restart))
        })
        .collect()
}

/// What a gate failure says: the workload, why, and what to do next.
fn gate_failure(cx: &StepCtx<'_>, workload: &str, reason: &str) -> String {
    let next = if cx.step.kind.is_rollback() {
        "mend the workload (kubectl describe, its logs), then run the rollback again".to_owned()
    } else {
        format!(
            "roll back to {} with `rotui rollback` (the same --env/--app, then --yes) or B in the \
             dashboard's Steps pane; or mend the workload and run again",
            cx.rotation.old_user(&cx.step.env)
        )
    };
    format!(
        "{}: health gate: {workload} {reason}; the switch stops here: {next}",
        cx.step.env
    )
}

pub(super) async fn await_rollout(cx: &StepCtx<'_>) -> StepResult<Applied> {
    let ports = cx.ports()?;
    let deadline = Instant::now() + cx.opts.rollout_timeout;
    let mut ready = BTreeSet::new();
    let mut last = None;
    let mut gates = Gates::default();
    // The one workload rotui restarted and is waiting for: the next waits
    // until it is ready (one at a time, each behind its gate).
    let mut restarting: Option<String> = None;
    loop {
        sample_drain(cx, &mut last).await?;
        let seen = match rollout_check(cx).await? {
            Ok((r, user)) => {
                journal_ready(cx, &r, &mut ready)?;
                let mut queue = turns(&r);
                queue.retain(|(w, _)| Some(w) != restarting.as_ref());
                let queued: Vec<String> = queue.iter().map(|(w, _)| w.clone()).collect();
                if let Some((workload, reason)) =
                    gates.check(&r, &ready, &queued, Instant::now(), cx.opts.gate_timeout)
                {
                    if let Some(rec) = cx.recorder {
                        rec.journal(Event::GateFailed {
                            step: cx.step.id.clone(),
                            workload: workload.clone(),
                            reason: reason.clone(),
                        })?;
                    }
                    // What the rollout check knows of why (a DATABASE_URL
                    // the pods cannot parse, say) goes with it.
                    let mut said = gate_failure(cx, &workload, &reason);
                    if let Observation::NotDone(why) | Observation::Blocked(why) =
                        rollout_observation(&r, &user, &ports.target.deployment)
                    {
                        said.push_str(&format!(" (the rollout: {why})"));
                    }
                    return Err(StepError::Blocked(said));
                }
                // One at a time, from what the cluster shows (so a run
                // killed mid-restart does not start a second beside it):
                // no gated workload rolling, and rotui's last one ready.
                let busy = r
                    .workloads
                    .iter()
                    .any(|w| w.health.is_some() && !w.complete && !queued.contains(&w.workload));
                let turn = !busy && restarting.as_ref().is_none_or(|w| ready.contains(w));
                if turn && let Some((next, how)) = queue.first() {
                    if !cx.opts.yes {
                        // A write the operator has not confirmed (a resumed
                        // run without --yes): ask, as every write does.
                        return Ok(Applied::Waiting(Wait::Confirmation {
                            step: cx.step.id.clone(),
                            confirm: super::super::step::Confirm::Yes,
                        }));
                    }
                    let ns = q(&ports.target.namespace);
                    // Journalled before the write, as its call is: a run
                    // killed right after the patch still says rotui made it.
                    let journal = |event| match cx.recorder {
                        Some(rec) => rec.journal(event),
                        None => Ok(()),
                    };
                    match how {
                        Turn::Restart => {
                            // As kubectl writes it: RFC 3339, whole seconds, UTC.
                            let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
                            journal(Event::WorkloadRestarted {
                                step: cx.step.id.clone(),
                                workload: next.clone(),
                                restarted_at: at.clone(),
                            })?;
                            let desc = format!("kubectl rollout restart -n {ns} {}", q(next));
                            cx.write(System::Kubernetes, &desc, ports.cluster.restart(next, &at))
                                .await?;
                        }
                        Turn::Resume => {
                            journal(Event::WorkloadResumed {
                                step: cx.step.id.clone(),
                                workload: next.clone(),
                            })?;
                            let desc = format!("kubectl rollout resume -n {ns} {}", q(next));
                            cx.write(System::Kubernetes, &desc, ports.cluster.set_paused(next, false))
                                .await?;
                        }
                    }
                    gates.restarted(next, Instant::now());
                    restarting = Some(next.clone());
                    continue;
                }
                rollout_observation(&r, &user, &ports.target.deployment)
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::rotation::ports::{CredCheck, PodCheck, WorkloadCheck, WorkloadHealth};

    fn health(reloader: bool, available: i32, restarts: i32, crash: &[&str]) -> WorkloadHealth {
        WorkloadHealth {
            reloader: if reloader {
                Ok("reloader.stakater.com/auto: \"true\"".into())
            } else {
                Err("no Reloader annotation".into())
            },
            replicas: 2,
            available,
            min_available: 2,
            restarts,
            crash_looping: crash.iter().map(|c| c.to_string()).collect(),
            paused: false,
        }
    }

    fn check(workloads: Vec<(&str, bool, WorkloadHealth)>, stale: &[&str]) -> RolloutCheck {
        let pods = workloads
            .iter()
            .map(|(w, _, _)| PodCheck {
                workload: w.to_string(),
                pod: format!("{w}-1"),
                container: "app".into(),
                variable: "DATABASE_URL".into(),
                check: CredCheck {
                    user: "u".into(),
                    matches: !stale.contains(w),
                    summary: String::new(),
                },
            })
            .collect();
        RolloutCheck {
            complete: workloads.iter().all(|w| w.1),
            summary: String::new(),
            pods,
            workloads: workloads
                .into_iter()
                .map(|(w, complete, h)| WorkloadCheck {
                    workload: w.into(),
                    complete,
                    summary: "1/2 updated".into(),
                    health: Some(h),
                })
                .collect(),
            unlisted: vec![],
        }
    }

    /// Beside the drain: each restarting consumer's pods, a crash named.
    #[test]
    fn the_drain_names_each_consumers_pods() {
        let r = check(
            vec![
                ("deployment/web", true, health(true, 2, 0, &[])),
                (
                    "deployment/worker",
                    false,
                    health(true, 1, 3, &["worker-1 (CrashLoopBackOff, 3 restarts)"]),
                ),
            ],
            &[],
        );
        assert_eq!(
            pods_health(&r),
            vec![
                "deployment/web 2/2 available, 0 restarts".to_owned(),
                "deployment/worker 1/2 available, 3 restarts, crash-looping: worker-1 (CrashLoopBackOff, 3 restarts)"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn rotui_restarts_only_what_reloader_leaves_and_only_once() {
        let r = check(
            vec![
                ("deployment/a", true, health(true, 2, 0, &[])),
                ("deployment/b", true, health(false, 2, 0, &[])),
                ("deployment/c", true, health(false, 2, 0, &[])),
                ("deployment/d", false, health(false, 2, 0, &[])),
            ],
            &["deployment/a", "deployment/b", "deployment/d"],
        );
        // a: Reloader's; c: already on the new credentials; d: rolling now.
        assert_eq!(turns(&r), vec![("deployment/b".to_owned(), Turn::Restart)]);
        let mut paused = health(true, 2, 0, &[]);
        paused.paused = true;
        let r = check(vec![("deployment/a", false, paused)], &["deployment/a"]);
        assert_eq!(turns(&r), vec![("deployment/a".to_owned(), Turn::Resume)]);
    }

    #[test]
    fn gates_fail_on_crash_loops_restarts_too_few_available_and_time() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(60);
        let none = BTreeSet::new();
        let rolling = |h| check(vec![("deployment/a", false, h)], &["deployment/a"]);

        let mut g = Gates::default();
        assert_eq!(
            g.check(&rolling(health(true, 2, 0, &[])), &none, &[], t0, timeout),
            None
        );
        let (w, why) = g
            .check(
                &rolling(health(true, 2, 0, &["a-1 (CrashLoopBackOff, 2 restarts)"])),
                &none,
                &[],
                t0,
                timeout,
            )
            .unwrap();
        assert_eq!(w, "deployment/a");
        assert!(why.contains("crash-looping: a-1"), "{why}");

        let mut g = Gates::default();
        assert_eq!(
            g.check(&rolling(health(true, 2, 3, &[])), &none, &[], t0, timeout),
            None
        );
        let (_, why) = g
            .check(&rolling(health(true, 2, 4, &[])), &none, &[], t0, timeout)
            .unwrap();
        assert!(why.contains("1 restarts while rotui watched"), "{why}");

        // One look below the floor is a stale status; two running stop it.
        let mut g = Gates::default();
        assert_eq!(
            g.check(&rolling(health(true, 1, 0, &[])), &none, &[], t0, timeout),
            None
        );
        assert_eq!(
            g.check(&rolling(health(true, 2, 0, &[])), &none, &[], t0, timeout),
            None
        );
        assert_eq!(
            g.check(&rolling(health(true, 1, 0, &[])), &none, &[], t0, timeout),
            None
        );
        let (_, why) = g
            .check(&rolling(health(true, 1, 0, &[])), &none, &[], t0, timeout)
            .unwrap();
        assert!(
            why.contains(
                "1 available pods, fewer than its strategy allows (2 replicas − maxUnavailable = 2)"
            ),
            "{why}"
        );

        let mut g = Gates::default();
        assert_eq!(
            g.check(&rolling(health(true, 2, 0, &[])), &none, &[], t0, timeout),
            None
        );
        let (_, why) = g
            .check(
                &rolling(health(true, 2, 0, &[])),
                &none,
                &[],
                t0 + timeout,
                timeout,
            )
            .unwrap();
        assert!(
            why.contains("not ready within 60 s (0 of 1 serving pods"),
            "{why}"
        );

        // Ready (gate passed) or waiting its turn for rotui's restart: not gated.
        let mut g = Gates::default();
        let crashing = rolling(health(false, 0, 9, &["a-1 (CrashLoopBackOff, 9 restarts)"]));
        let ready: BTreeSet<String> = ["deployment/a".to_owned()].into();
        assert_eq!(g.check(&crashing, &ready, &[], t0, timeout), None);
        assert_eq!(
            g.check(&crashing, &none, &["deployment/a".into()], t0, timeout),
            None
        );
        // rotui's restart starts its clock again.
        let mut g = Gates::default();
        let ok = rolling(health(false, 2, 0, &[]));
        assert_eq!(g.check(&ok, &none, &[], t0, timeout), None);
        g.restarted("deployment/a", t0 + timeout);
        assert_eq!(g.check(&ok, &none, &[], t0 + timeout, timeout), None);
    }
}
