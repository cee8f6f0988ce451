//! [`ClusterPort`] on `crate::k8s`: the ExternalSecret's forced sync, the
//! Secret's DATABASE_URL, and every consumer's rollout and pods' environment.

use std::time::Duration;

use crate::k8s::blast;
use crate::k8s::consumers::{self, Consumer, Consumers, ContainerReads, KeyRead, Kind, ReadVia, Workload};
use crate::k8s::db_sync;
use crate::k8s::externalsecret::{ForceSync, SyncOutcome};
use crate::k8s::secret_check::{
    DATABASE_URL, Expected, UrlCheck, check_secret, read_url, unparsable, unparsable_note,
};
use crate::k8s::{K8s, K8sError, exec, rollout};
use crate::rotation::ports::{
    AppCredentials, BlastRadius, ClusterPort, CredCheck, CronImpact, PodCheck, PortError, PortErrorKind,
    PortFuture, RestartImpact, RestoreOutcome, RestoreRun, RolloutCheck, SyncNaming, SyncVerdict, System,
    WorkloadCheck, WorkloadHealth,
};
use crate::secret::ExposeSecret;
use crate::target::Engine;

/// One environment's cluster, for the app's objects (in the client's namespace).
#[derive(Clone)]
pub struct K8sCluster {
    k8s: K8s,
    external_secret: String,
    secret: String,
    deployment: String,
    container: String,
    /// The app's database, whose data sync [`ClusterPort::sync_naming`] reads.
    database: Option<(Engine, String)>,
}

impl K8sCluster {
    pub fn new(
        k8s: K8s,
        external_secret: impl Into<String>,
        secret: impl Into<String>,
        deployment: impl Into<String>,
        container: impl Into<String>,
    ) -> Self {
        K8sCluster {
            k8s,
            external_secret: external_secret.into(),
            secret: secret.into(),
            deployment: deployment.into(),
            container: container.into(),
            database: None,
        }
    }

    /// The app's database, for its data sync.
    pub fn with_database(mut self, engine: Engine, database: impl Into<String>) -> Self {
        self.database = Some((engine, database.into()));
        self
    }
}

impl From<K8sError> for PortError {
    fn from(e: K8sError) -> Self {
        let kind = match &e {
            K8sError::Forbidden { .. } | K8sError::Unauthorized { .. } => PortErrorKind::Denied,
            K8sError::NotFound { .. } => PortErrorKind::NotFound,
            K8sError::Unreachable { .. } => PortErrorKind::Unreachable,
            K8sError::Config(_) | K8sError::MissingKey { .. } | K8sError::Invalid(_) => {
                PortErrorKind::Invalid
            }
            K8sError::Timeout { .. } => PortErrorKind::Timeout,
            K8sError::Other(_) => PortErrorKind::Other,
        };
        PortError::new(System::Kubernetes, kind, e.to_string())
    }
}

fn expected(c: &AppCredentials) -> Expected {
    Expected::new(c.username.clone(), c.password.clone())
}

fn cred_check(c: &UrlCheck) -> CredCheck {
    CredCheck {
        user: c.user.clone(),
        matches: c.matches(),
        summary: c.summary(),
    }
}

impl ClusterPort for K8sCluster {
    fn force_sync(&self, timeout: Duration) -> PortFuture<'_, SyncVerdict> {
        Box::pin(async move {
            let plan = ForceSync::plan(&self.k8s, &self.external_secret, None).await?;
            Ok(match plan.run(&self.k8s, timeout).await? {
                SyncOutcome::Synced(_) => SyncVerdict::Synced,
                SyncOutcome::Failed { message, .. } => SyncVerdict::Failed(message),
                SyncOutcome::TimedOut(last) => SyncVerdict::TimedOut(match last {
                    Some(s) => format!(
                        "ready: {}, refreshed {}",
                        s.is_ready(),
                        s.refresh_time
                            .map(|t| t.to_rfc3339())
                            .unwrap_or_else(|| "never".into())
                    ),
                    None => "no status seen".into(),
                }),
            })
        })
    }

    fn check_secret<'a>(&'a self, creds: &'a AppCredentials) -> PortFuture<'a, Option<CredCheck>> {
        Box::pin(async move {
            match check_secret(&self.k8s, &self.secret, &expected(creds)).await {
                Ok(c) => Ok(Some(cred_check(&c))),
                Err(K8sError::NotFound { .. } | K8sError::MissingKey { .. }) => Ok(None),
                // A DATABASE_URL that cannot be read holds no credentials
                // the app can use: not synced yet, for a rotation and a
                // rollback alike, never a failure that blocks both.
                Err(K8sError::Invalid(why)) => Ok(Some(CredCheck {
                    user: String::new(),
                    matches: false,
                    summary: why,
                })),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn check_rollout<'a>(&'a self, creds: &'a AppCredentials) -> PortFuture<'a, RolloutCheck> {
        Box::pin(async move {
            let want = expected(creds);
            let found = consumers::list(&self.k8s, &self.secret).await?;
            let mut check = RolloutCheck {
                complete: true,
                summary: "no Deployment".into(),
                pods: vec![],
                workloads: vec![],
                unlisted: found
                    .unlisted
                    .iter()
                    .map(|u| format!("{}: {}", u.kind.resource(), u.reason))
                    .collect(),
            };
            // Reloader reads the Secret's annotations too (ignore, match).
            let secret_annotations = match self
                .k8s
                .api::<k8s_openapi::api::core::v1::Secret>()
                .get(&self.secret)
                .await
            {
                Ok(s) => kube::ResourceExt::annotations(&s).clone(),
                Err(_) => Default::default(),
            };
            for c in self.to_check(found) {
                self.check_consumer(&c, &want, &secret_annotations, &mut check)
                    .await?;
            }
            // Pods started from a URL they cannot read never become ready:
            // waiting will not help, so the wait says why and what to do.
            if !check.complete
                && let Ok(url) = read_url(&self.k8s, &self.secret).await
                && let Some(why) = unparsable(url.expose_secret())
            {
                check.summary = format!(
                    "{}; Secret {}: {}; its new pods cannot start until it parses: give the user \
                     a password without @ : / % # ? or spaces (a rotation does), or percent-encode \
                     it in the ExternalSecret's template",
                    check.summary,
                    self.secret,
                    unparsable_note(&why)
                );
            }
            Ok(check)
        })
    }

    fn sync_naming<'a>(&'a self, login: &'a str) -> PortFuture<'a, Vec<SyncNaming>> {
        Box::pin(async move {
            let Some((engine, database)) = &self.database else {
                return Ok(vec![]);
            };
            let sync = db_sync::read(&self.k8s, *engine, database).await?;
            Ok(sync
                .naming(login)
                .into_iter()
                .map(|n| SyncNaming {
                    values_key: n
                        .cronjob
                        .strip_prefix(db_sync::PREFIX)
                        .unwrap_or(&n.cronjob)
                        .to_owned(),
                    cronjob: n.cronjob,
                    what: n.what,
                })
                .collect())
        })
    }

    fn restore_runs(&self) -> PortFuture<'_, Vec<RestoreRun>> {
        Box::pin(async move {
            let Some((engine, database)) = &self.database else {
                return Ok(vec![]);
            };
            let sync = db_sync::read(&self.k8s, *engine, database).await?;
            let now = chrono::Utc::now();
            Ok(sync
                .jobs
                .iter()
                .filter(|j| j.restores())
                .map(|j| RestoreRun {
                    cronjob: j.cronjob.clone(),
                    from: j.restored_from(),
                    suspended: j.suspended,
                    next: j.next_run(now),
                    last: j.last_run.as_ref().map(|r| {
                        let outcome = match &r.outcome {
                            db_sync::RunOutcome::Running => RestoreOutcome::Running,
                            db_sync::RunOutcome::Succeeded { .. } => RestoreOutcome::Succeeded,
                            db_sync::RunOutcome::Failed { why } => RestoreOutcome::Failed(why.clone()),
                        };
                        (r.job.clone(), outcome)
                    }),
                })
                .collect())
        })
    }

    fn blast_radius(&self) -> PortFuture<'_, BlastRadius> {
        Box::pin(async move {
            let b = blast::read(&self.k8s, &self.secret, chrono::Utc::now()).await?;
            Ok(BlastRadius {
                restarts: b
                    .restarts
                    .into_iter()
                    .map(|r| RestartImpact {
                        workload: r.consumer.workload.to_string(),
                        reads: consumers::describe_reads(&r.consumer),
                        app: r.consumer.app,
                        restarted: r.reloader,
                        replicas: r.replicas,
                        strategy: r.strategy,
                        readiness: r.readiness,
                        pdbs: r.pdbs,
                    })
                    .collect(),
                cronjobs: b
                    .cronjobs
                    .into_iter()
                    .map(|c| CronImpact {
                        workload: c.consumer.workload.to_string(),
                        reads: consumers::describe_reads(&c.consumer),
                        schedule: c.schedule,
                        next: c.next,
                    })
                    .collect(),
                jobs: b
                    .jobs
                    .iter()
                    .map(|j| {
                        let pods = if j.active == 1 { "pod" } else { "pods" };
                        format!("{}: {} {pods} running", blast::job_name(j), j.active)
                    })
                    .collect(),
                unlisted: b.unlisted,
            })
        })
    }

    fn restart<'a>(&'a self, workload: &'a str, at: &'a str) -> PortFuture<'a, ()> {
        Box::pin(async move {
            let w = Workload::parse(workload).ok_or_else(|| {
                PortError::new(
                    System::Kubernetes,
                    PortErrorKind::Invalid,
                    format!("{workload} is not a workload rotui can restart"),
                )
            })?;
            crate::fault::after("write/restart", rollout::restart(&self.k8s, &w, at)).await?;
            Ok(())
        })
    }

    fn set_paused<'a>(&'a self, workload: &'a str, paused: bool) -> PortFuture<'a, ()> {
        Box::pin(async move {
            let name = match Workload::parse(workload) {
                Some(Workload {
                    kind: Kind::Deployment,
                    name,
                }) => name,
                _ => {
                    return Err(PortError::new(
                        System::Kubernetes,
                        PortErrorKind::Invalid,
                        format!("{workload}: only a Deployment can be paused"),
                    ));
                }
            };
            crate::fault::after("write/pause", rollout::set_paused(&self.k8s, &name, paused)).await?;
            Ok(())
        })
    }

    fn attribute_clients<'a>(&'a self, clients: &'a [String]) -> PortFuture<'a, Vec<Option<String>>> {
        Box::pin(async move {
            let addresses = consumers::list_pod_addresses(&self.k8s).await?;
            Ok(clients
                .iter()
                .map(|c| consumers::attribute(c, &addresses))
                .collect())
        })
    }
}

impl K8sCluster {
    /// The consumers to check, the configured Deployment first: as before
    /// (its container's DATABASE_URL) when it does not show up as reading
    /// the Secret, so a Secret read in a way rotui cannot see still gets
    /// the runbook's check.
    fn to_check(&self, found: Consumers) -> Vec<Consumer> {
        let app = Workload::new(Kind::Deployment, self.deployment.clone());
        let (mut first, rest): (Vec<Consumer>, Vec<Consumer>) =
            found.consumers.into_iter().partition(|c| c.workload == app);
        if first.is_empty() {
            first.push(Consumer {
                workload: app,
                app: None,
                containers: vec![ContainerReads {
                    container: self.container.clone(),
                    init: false,
                    reads: vec![KeyRead {
                        key: DATABASE_URL.into(),
                        variable: Some(DATABASE_URL.into()),
                        source: ReadVia::Env,
                    }],
                }],
                selector: None,
                owner: None,
                active: 0,
            });
        }
        first.extend(rest);
        first
    }

    async fn check_consumer(
        &self,
        c: &Consumer,
        want: &Expected,
        secret_annotations: &std::collections::BTreeMap<String, String>,
        out: &mut RolloutCheck,
    ) -> Result<(), PortError> {
        let mut health = None;
        let name = c.workload.to_string();
        let is_app = c.workload.kind == Kind::Deployment && c.workload.name == self.deployment;
        let (complete, summary, pods) = match c.workload.kind {
            Kind::CronJob => {
                out.workloads.push(WorkloadCheck {
                    workload: name,
                    complete: true,
                    summary: "next run uses the new credentials (read when its pods start)".into(),
                    health: None,
                });
                return Ok(());
            }
            Kind::Job => {
                // Every running pod; readiness means nothing to a batch pod.
                let selector = c.selector.clone().unwrap_or_default();
                let pods = rollout::pods_matching(&self.k8s, &selector).await?;
                let running: Vec<String> = pods
                    .into_iter()
                    .filter(|p| p.phase == "Running" && !p.terminating)
                    .map(|p| p.name)
                    .collect();
                let owner = c.owner.as_ref().map(|o| format!(" (of {o})")).unwrap_or_default();
                (true, format!("running{owner}, {} pods", running.len()), running)
            }
            _ => {
                let Some(r) = rollout::workload(&self.k8s, &c.workload).await? else {
                    if is_app {
                        // As before: the app's Deployment must exist.
                        rollout::get(&self.k8s, &self.deployment).await?;
                    }
                    return Ok(());
                };
                let pods = rollout::pods_matching(&self.k8s, &r.selector).await?;
                health = Some(WorkloadHealth {
                    reloader: blast::reloader(&r.annotations, &self.secret, secret_annotations),
                    replicas: r.desired,
                    available: r.available,
                    min_available: r.min_available,
                    restarts: pods.iter().map(|p| p.restarts).sum(),
                    crash_looping: pods
                        .iter()
                        .filter(|p| !p.terminating && p.waiting.as_deref() == Some("CrashLoopBackOff"))
                        .map(|p| format!("{} (CrashLoopBackOff, {} restarts)", p.name, p.restarts))
                        .collect(),
                    paused: r.paused,
                });
                let serving = pods
                    .into_iter()
                    .filter(|p| p.is_serving())
                    .map(|p| p.name)
                    .collect();
                (r.complete, r.summary, serving)
            }
        };
        let first_pod = out.pods.len();
        // A pod replaced between the listing and its exec (a rollout still
        // under way) is no failure: the rollout is not complete, and the
        // next look sees its successor.
        let mut vanished = false;
        for pod in &pods {
            for container in c.containers.iter().filter(|k| !k.init) {
                let vars: Vec<&str> = container.credential_vars().map(|(_, v)| v).collect();
                if vars.is_empty() {
                    continue;
                }
                match exec::check_pod_vars(&self.k8s, pod, &container.container, &vars, want).await {
                    Ok(checks) => out
                        .pods
                        .extend(checks.into_iter().map(|(variable, check)| PodCheck {
                            workload: name.clone(),
                            pod: pod.clone(),
                            container: container.container.clone(),
                            check: match check {
                                Some(u) => cred_check(&u),
                                None => CredCheck {
                                    user: String::new(),
                                    matches: false,
                                    summary: format!("{variable} is not set"),
                                },
                            },
                            variable,
                        })),
                    Err(K8sError::NotFound { .. }) => vanished = true,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let stale: Vec<&str> = out.pods[first_pod..]
            .iter()
            .filter(|p| !p.check.matches)
            .map(|p| p.pod.as_str())
            .collect();
        let (complete, summary) = if c.workload.kind == Kind::Job && !stale.is_empty() {
            let mut stale = stale;
            stale.dedup();
            (
                false,
                format!("{summary}; still on other credentials: {}", stale.join(", ")),
            )
        } else {
            (complete && !vanished, summary)
        };
        if is_app {
            out.summary = summary.clone();
        }
        out.complete &= complete;
        out.workloads.push(WorkloadCheck {
            workload: name,
            complete,
            summary,
            health,
        });
        Ok(())
    }
}
