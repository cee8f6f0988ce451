//! The estate's data sync, read from the cluster (read-only). Each
//! environment runs a CronJob `db-backup-<db host label>` per database
//! (govuk-helm-charts `charts/db-backup/templates/cronjob.yaml`): its
//! operations are containers `<i>-<op>` running `/opt/bin/backup-<dbms>
//! <op> [script]` (`restore`, `transform`, `backup`), with `DB_HOST`,
//! `DB_DATABASE`, `BUCKET` (a restore's source, `s3://govuk-<env>-database-
//! backups`) and any `DB_OWNER` in their env; each run is a Job it owns.
//! A PostgreSQL restore ends with `ALTER DATABASE … OWNER TO "$DB_OWNER"`,
//! `DB_OWNER` defaulting to the database's name without `_production` or
//! `draft_` and with `-` for `_` (`scripts/lib.sh` `default_db_owner`); a
//! transform is a script of the chart's ConfigMap `db-backup`.
//!
//! From these a rotation knows which environment is copied from which,
//! when the next copy runs, whether the last one succeeded, and whether the
//! next one can still succeed once a login is dropped: a `DB_OWNER` or a
//! transform naming that login makes the restore fail after its swap.
//! The pure parts ([`SyncJob::parse`], [`default_db_owner`],
//! [`lines_naming`]) are tested over k8s-openapi objects.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Container};
use kube::ResourceExt;
use serde::Serialize;

use super::cron::Schedule;
use super::{K8s, K8sError};
use crate::target::Engine;

/// Every sync CronJob's name starts so.
pub const PREFIX: &str = "db-backup-";
/// The chart's ConfigMap: its scripts, transforms included.
pub const SCRIPTS: &str = "db-backup";

/// One operation of a sync run (a container of the Job's pod).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operation {
    /// `restore`, `transform`, `backup`.
    pub op: String,
    /// The transform's script (a key of the ConfigMap [`SCRIPTS`]).
    pub script: Option<String>,
    /// A restore's bucket.
    pub bucket: Option<String>,
}

/// How the last run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RunOutcome {
    Running,
    Succeeded { at: Option<DateTime<Utc>> },
    Failed { why: String },
}

/// The latest Job of a sync CronJob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRun {
    pub job: String,
    pub started: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub outcome: RunOutcome,
}

/// Who the restore makes the database's owner, and where that comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbOwner {
    pub name: String,
    /// Set in the CronJob's env (`DB_OWNER`), not the script's default.
    pub explicit: bool,
}

/// One `db-backup-…` CronJob, as the sync reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncJob {
    pub cronjob: String,
    pub engine: Engine,
    /// `DB_HOST`: the RDS host's first label (`email-alert-api-postgres`).
    pub db_host: String,
    /// `DB_DATABASE`.
    pub database: String,
    pub schedule: String,
    pub time_zone: Option<String>,
    pub suspended: bool,
    pub operations: Vec<Operation>,
    /// PostgreSQL only: what the restore hands the database to.
    pub db_owner: Option<DbOwner>,
    /// The latest run, if any is kept.
    pub last_run: Option<LastRun>,
}

impl SyncJob {
    /// A sync CronJob's shape; `None` for another CronJob or another engine
    /// (MongoDB, DocumentDB).
    pub fn parse(cj: &CronJob) -> Option<SyncJob> {
        let name = cj.name_any();
        if !name.starts_with(PREFIX) {
            return None;
        }
        let spec = cj.spec.as_ref()?;
        let pod = spec.job_template.spec.as_ref()?.template.spec.as_ref()?;
        let containers: Vec<&Container> = pod
            .init_containers
            .iter()
            .flatten()
            .chain(pod.containers.iter())
            .collect();
        let engine = containers.iter().find_map(|c| {
            let command = c.command.as_ref()?.first()?;
            match command.rsplit('/').next()? {
                "backup-postgres" => Some(Engine::Postgres),
                "backup-mysql" => Some(Engine::Mysql),
                _ => None,
            }
        })?;
        let env = |c: &Container, key: &str| {
            c.env
                .iter()
                .flatten()
                .find(|e| e.name == key)
                .and_then(|e| e.value.clone())
        };
        let first = |key: &str| containers.iter().find_map(|c| env(c, key));
        let database = first("DB_DATABASE")?;
        let operations = containers
            .iter()
            .filter_map(|c| {
                let args = c.args.as_ref()?;
                Some(Operation {
                    op: args.first()?.clone(),
                    script: args.get(1).cloned(),
                    bucket: env(c, "BUCKET").filter(|b| !b.is_empty()),
                })
            })
            .collect();
        let db_owner = (engine == Engine::Postgres).then(|| match first("DB_OWNER") {
            Some(name) => DbOwner { name, explicit: true },
            None => DbOwner {
                name: default_db_owner(&database),
                explicit: false,
            },
        });
        Some(SyncJob {
            db_host: first("DB_HOST").unwrap_or_else(|| name[PREFIX.len()..].to_owned()),
            cronjob: name,
            engine,
            database,
            schedule: spec.schedule.clone(),
            time_zone: spec.time_zone.clone(),
            suspended: spec.suspend.unwrap_or(false),
            operations,
            db_owner,
            last_run: None,
        })
    }

    /// Does a run restore this database (rather than only back it up)?
    pub fn restores(&self) -> bool {
        self.operations.iter().any(|o| o.op == "restore")
    }

    /// The environment a restore copies from: the bucket
    /// `s3://govuk-<env>-database-backups`'s `<env>`, else the bucket itself.
    pub fn restored_from(&self) -> Option<String> {
        let bucket = self
            .operations
            .iter()
            .find(|o| o.op == "restore")?
            .bucket
            .as_deref()?;
        let name = bucket.trim_start_matches("s3://").trim_end_matches('/');
        Some(
            name.strip_prefix("govuk-")
                .and_then(|n| n.strip_suffix("-database-backups"))
                .unwrap_or(name)
                .to_owned(),
        )
    }

    /// The transforms' scripts, in order.
    pub fn transforms(&self) -> Vec<&str> {
        self.operations
            .iter()
            .filter(|o| o.op == "transform")
            .filter_map(|o| o.script.as_deref())
            .collect()
    }

    /// When the next run starts: `Ok(None)` when suspended, `Err` when it
    /// cannot be known (a time zone other than UTC, a schedule that does not parse).
    pub fn next_run(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
        if self.suspended {
            return Ok(None);
        }
        if let Some(tz) = self
            .time_zone
            .as_deref()
            .filter(|tz| !matches!(*tz, "UTC" | "Etc/UTC"))
        {
            return Err(format!("its schedule is in time zone {tz}"));
        }
        Ok(Schedule::parse(&self.schedule)?.next_after(now))
    }
}

/// `scripts/lib.sh`'s `default_db_owner`: `foo-bar_production` → `foo_bar`,
/// `draft-foo-bar_production` → `foo_bar`.
pub fn default_db_owner(database: &str) -> String {
    let stem = database.strip_suffix("_production").unwrap_or(database);
    let stem = stem
        .strip_prefix("draft_")
        .or_else(|| stem.strip_prefix("draft-"))
        .unwrap_or(stem);
    stem.replace('-', "_")
}

/// The lines of `script` that name `login` as an identifier: quoted
/// (`"email-alert-api"`, `` `x` ``, `'x'`), or bare where the name needs no
/// quotes. What a restore's transform would fail on once `login` is dropped.
pub fn lines_naming<'a>(script: &'a str, login: &str) -> Vec<&'a str> {
    let quoted = [format!("\"{login}\""), format!("`{login}`"), format!("'{login}'")];
    let bare_ok = login.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    script
        .lines()
        .filter(|line| {
            let code = line.split("--").next().unwrap_or_default();
            quoted.iter().any(|q| code.contains(q.as_str()))
                || (bare_ok
                    && code.match_indices(login).any(|(i, _)| {
                        let before = code[..i].chars().next_back();
                        let after = code[i + login.len()..].chars().next();
                        !before.is_some_and(ident) && !after.is_some_and(ident)
                    }))
        })
        .map(str::trim)
        .collect()
}

fn chrono_of(t: k8s_openapi::jiff::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32)
}

/// The latest of `jobs` owned by CronJob `cronjob`.
fn last_run(cronjob: &str, jobs: &[Job]) -> Option<LastRun> {
    let job = jobs
        .iter()
        .filter(|j| {
            j.owner_references()
                .iter()
                .any(|o| o.kind == "CronJob" && o.name == cronjob)
        })
        .max_by_key(|j| j.creation_timestamp().map(|t| t.0))?;
    let status = job.status.clone().unwrap_or_default();
    let condition = |kind: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    let outcome = if let Some(c) = condition("Failed") {
        RunOutcome::Failed {
            why: c
                .message
                .clone()
                .or_else(|| c.reason.clone())
                .unwrap_or_else(|| "failed".to_owned()),
        }
    } else if condition("Complete").is_some() || status.succeeded.unwrap_or(0) > 0 {
        RunOutcome::Succeeded {
            at: status.completion_time.and_then(|t| chrono_of(t.0)),
        }
    } else if status.failed.unwrap_or(0) > 0 {
        RunOutcome::Failed {
            why: "its pod failed".to_owned(),
        }
    } else {
        RunOutcome::Running
    };
    Some(LastRun {
        job: job.name_any(),
        started: status.start_time.and_then(|t| chrono_of(t.0)),
        outcome,
    })
}

/// What the cluster says about one database's sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sync {
    /// The CronJobs of this engine and database (usually one).
    pub jobs: Vec<SyncJob>,
    /// Each transform script's text, by name; a script the ConfigMap does
    /// not hold (or that could not be read) is absent.
    pub scripts: BTreeMap<String, String>,
    /// What could not be read, and why (RBAC, a missing ConfigMap).
    pub unread: Vec<String>,
}

/// A place a sync run names a login: the CronJob, and what in it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Naming {
    pub cronjob: String,
    /// `sets DB_OWNER=email-alert-api`, `transform email-alert-api.sql: ALTER TABLE …`.
    pub what: String,
}

impl Sync {
    /// Every place a restore of these jobs names `login`: `DB_OWNER`, or a
    /// line of a transform.
    pub fn naming(&self, login: &str) -> Vec<Naming> {
        let mut out = vec![];
        for j in self.jobs.iter().filter(|j| j.restores()) {
            let mut say = |what: String| {
                out.push(Naming {
                    cronjob: j.cronjob.clone(),
                    what,
                })
            };
            if let Some(owner) = j.db_owner.as_ref().filter(|o| o.name == login) {
                let how = if owner.explicit { "sets" } else { "defaults to" };
                say(format!("{how} DB_OWNER={}", owner.name));
            }
            for script in j.transforms() {
                if let Some(text) = self.scripts.get(script) {
                    for line in lines_naming(text, login) {
                        say(format!("transform {script}: {line}"));
                    }
                }
            }
        }
        out
    }
}

/// The sync CronJobs among `cronjobs` of `engine`'s `database`, each with
/// its latest run among `jobs`.
pub fn of_database(cronjobs: &[CronJob], jobs: &[Job], engine: Engine, database: &str) -> Vec<SyncJob> {
    cronjobs
        .iter()
        .filter_map(SyncJob::parse)
        .filter(|j| j.engine == engine && j.database == database)
        .map(|mut j| {
            j.last_run = last_run(&j.cronjob, jobs);
            j
        })
        .collect()
}

/// Read the sync CronJobs of `engine`'s `database`, their latest Jobs, and
/// the transforms they run. Listing CronJobs must work; Jobs and the
/// ConfigMap are read where allowed, and what is not is said in `unread`.
pub async fn read(k8s: &K8s, engine: Engine, database: &str) -> Result<Sync, K8sError> {
    let cronjobs = k8s
        .api::<CronJob>()
        .list(&Default::default())
        .await
        .map_err(|e| k8s.op("list", "cronjobs").err(e))?;
    let mut out = Sync {
        jobs: of_database(&cronjobs.items, &[], engine, database),
        ..Sync::default()
    };
    if out.jobs.is_empty() {
        return Ok(out);
    }
    match k8s.api::<Job>().list(&Default::default()).await {
        Ok(jobs) => out.jobs = of_database(&cronjobs.items, &jobs.items, engine, database),
        Err(e) => out
            .unread
            .push(format!("jobs: {}", k8s.op("list", "jobs").err(e))),
    }
    let wanted: Vec<String> = out
        .jobs
        .iter()
        .flat_map(|j| j.transforms())
        .map(str::to_owned)
        .collect();
    if !wanted.is_empty() {
        match k8s.api::<ConfigMap>().get_opt(SCRIPTS).await {
            Ok(Some(cm)) => {
                let data = cm.data.unwrap_or_default();
                for name in wanted {
                    match data.get(&name) {
                        Some(text) => {
                            out.scripts.insert(name, text.clone());
                        }
                        None => out
                            .unread
                            .push(format!("transform {name}: not in ConfigMap {SCRIPTS}")),
                    }
                }
            }
            Ok(None) => out.unread.push(format!("transforms: no ConfigMap {SCRIPTS}")),
            Err(e) => out.unread.push(format!(
                "transforms: {}",
                k8s.op("get", "configmaps").named(SCRIPTS).err(e)
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// staging's email-alert-api CronJob as the chart renders it.
    pub(crate) fn email_alert_api_staging() -> CronJob {
        let env = |extra: serde_json::Value| {
            let mut e = json!([
                { "name": "GOVUK_ENVIRONMENT", "value": "staging" },
                { "name": "DB_HOST", "value": "email-alert-api-postgres" },
                { "name": "DB_DATABASE", "value": "email-alert-api_production" },
                { "name": "DB_USER", "value": "aws_db_admin" },
                { "name": "DB_PASSWORD", "valueFrom": { "secretKeyRef": { "name": "db-backup-passwd", "key": "email-alert-api-postgres" } } },
                { "name": "DB_OWNER", "value": "email-alert-api" }
            ]);
            e.as_array_mut().unwrap().push(extra);
            e
        };
        serde_json::from_value(json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": { "name": "db-backup-email-alert-api-postgres", "namespace": "apps" },
            "spec": {
                "schedule": "54 1 * * 1-5",
                "suspend": false,
                "concurrencyPolicy": "Forbid",
                "jobTemplate": { "spec": { "backoffLimit": 0, "template": { "spec": {
                    "restartPolicy": "Never",
                    "initContainers": [
                        { "name": "0-restore", "image": "toolbox", "command": ["/opt/bin/backup-postgres"],
                          "args": ["restore"], "env": env(json!({ "name": "BUCKET", "value": "s3://govuk-production-database-backups" })) },
                        { "name": "1-transform", "image": "toolbox", "command": ["/opt/bin/backup-postgres"],
                          "args": ["transform", "email-alert-api.sql"], "env": env(json!({ "name": "BUCKET", "value": "" })) }
                    ],
                    "containers": [
                        { "name": "2-backup", "image": "toolbox", "command": ["/opt/bin/backup-postgres"],
                          "args": ["backup"], "env": env(json!({ "name": "BUCKET", "value": "s3://govuk-staging-database-backups" })) }
                    ]
                } } } }
            }
        }))
        .unwrap()
    }

    #[test]
    fn the_charts_cronjob_reads_as_a_restore_from_production_owned_by_the_login() {
        let j = SyncJob::parse(&email_alert_api_staging()).unwrap();
        assert_eq!(j.engine, Engine::Postgres);
        assert_eq!(j.db_host, "email-alert-api-postgres");
        assert_eq!(j.database, "email-alert-api_production");
        assert!(j.restores());
        assert_eq!(j.restored_from().as_deref(), Some("production"));
        assert_eq!(j.transforms(), vec!["email-alert-api.sql"]);
        assert_eq!(
            j.db_owner,
            Some(DbOwner {
                name: "email-alert-api".into(),
                explicit: true
            })
        );
        // Friday 2026-12-04 02:00 UTC: next is Monday 01:54.
        let now = "2026-12-04T02:00:00Z".parse().unwrap();
        assert_eq!(j.next_run(now), Ok(Some("2026-12-07T01:54:00Z".parse().unwrap())));
    }

    #[test]
    fn backups_only_and_other_cronjobs_are_told_apart() {
        let mut cj = email_alert_api_staging();
        let pod = cj.spec.as_mut().unwrap().job_template.spec.as_mut().unwrap();
        let pod = pod.template.spec.as_mut().unwrap();
        pod.init_containers = None;
        let j = SyncJob::parse(&cj).unwrap();
        assert!(!j.restores());
        assert_eq!(j.restored_from(), None);
        // Another CronJob of the app, or a MongoDB sync, is not one.
        let mut other = email_alert_api_staging();
        other.metadata.name = Some("email-alert-api-send-digests".into());
        assert_eq!(SyncJob::parse(&other), None);
        let mut mongo = email_alert_api_staging();
        for c in mongo
            .spec
            .as_mut()
            .unwrap()
            .job_template
            .spec
            .as_mut()
            .unwrap()
            .template
            .spec
            .as_mut()
            .unwrap()
            .containers
            .iter_mut()
        {
            c.command = Some(vec!["/opt/bin/backup-mongo".into()]);
        }
        let mut mongo_only = mongo.clone();
        mongo_only
            .spec
            .as_mut()
            .unwrap()
            .job_template
            .spec
            .as_mut()
            .unwrap()
            .template
            .spec
            .as_mut()
            .unwrap()
            .init_containers = None;
        assert_eq!(SyncJob::parse(&mongo_only), None);
        // Suspended: no next run.
        let mut suspended = email_alert_api_staging();
        suspended.spec.as_mut().unwrap().suspend = Some(true);
        let j = SyncJob::parse(&suspended).unwrap();
        assert_eq!(j.next_run(Utc::now()), Ok(None));
    }

    #[test]
    fn db_owner_defaults_as_lib_sh_does() {
        assert_eq!(default_db_owner("email-alert-api_production"), "email_alert_api");
        assert_eq!(
            default_db_owner("draft-content-store_production"),
            "content_store"
        );
        assert_eq!(
            default_db_owner("draft_content_store_production"),
            "content_store"
        );
        assert_eq!(default_db_owner("imminence_production"), "imminence");
        assert_eq!(default_db_owner("whitehall"), "whitehall");
        let mut cj = email_alert_api_staging();
        for c in cj
            .spec
            .as_mut()
            .unwrap()
            .job_template
            .spec
            .as_mut()
            .unwrap()
            .template
            .spec
            .as_mut()
            .unwrap()
            .init_containers
            .iter_mut()
            .flatten()
        {
            c.env.as_mut().unwrap().retain(|e| e.name != "DB_OWNER");
        }
        let pod = cj.spec.as_mut().unwrap().job_template.spec.as_mut().unwrap();
        for c in &mut pod.template.spec.as_mut().unwrap().containers {
            c.env.as_mut().unwrap().retain(|e| e.name != "DB_OWNER");
        }
        assert_eq!(
            SyncJob::parse(&cj).unwrap().db_owner,
            Some(DbOwner {
                name: "email_alert_api".into(),
                explicit: false
            })
        );
    }

    #[test]
    fn a_transform_naming_the_login_is_found_by_its_lines() {
        let script = "-- re-own to \"email-alert-api\" (a comment does not count)\n\
                      CREATE TABLE emails_new (LIKE emails);\n\
                      ALTER TABLE emails OWNER TO \"email-alert-api\";\n\
                      GRANT SELECT ON emails TO \"email-alert-api-reader\";\n";
        assert_eq!(
            lines_naming(script, "email-alert-api"),
            vec!["ALTER TABLE emails OWNER TO \"email-alert-api\";"]
        );
        let bare = "ALTER TABLE t OWNER TO signon;\nGRANT ALL ON t TO signon_user_2026;\n";
        assert_eq!(
            lines_naming(bare, "signon"),
            vec!["ALTER TABLE t OWNER TO signon;"]
        );
        assert!(lines_naming(bare, "sign").is_empty());
    }

    #[test]
    fn naming_lists_db_owner_and_transform_lines() {
        let j = SyncJob::parse(&email_alert_api_staging()).unwrap();
        let sync = Sync {
            jobs: vec![j],
            scripts: [(
                "email-alert-api.sql".to_owned(),
                "ALTER TABLE emails OWNER TO \"email-alert-api\";".to_owned(),
            )]
            .into(),
            unread: vec![],
        };
        let said: Vec<String> = sync
            .naming("email-alert-api")
            .into_iter()
            .map(|n| format!("{}: {}", n.cronjob, n.what))
            .collect();
        assert_eq!(
            said,
            vec![
                "db-backup-email-alert-api-postgres: sets DB_OWNER=email-alert-api".to_owned(),
                "db-backup-email-alert-api-postgres: transform email-alert-api.sql: \
                 ALTER TABLE emails OWNER TO \"email-alert-api\";"
                    .to_owned(),
            ]
        );
        assert!(sync.naming("email-alert-api-owner").is_empty());
    }

    #[test]
    fn the_latest_owned_job_says_how_the_last_run_ended() {
        let job = |name: &str, created: &str, status: serde_json::Value| -> Job {
            serde_json::from_value(json!({
                "metadata": {
                    "name": name,
                    "creationTimestamp": created,
                    "ownerReferences": [{ "apiVersion": "batch/v1", "kind": "CronJob",
                        "name": "db-backup-x-postgres", "uid": "u" }]
                },
                "status": status
            }))
            .unwrap()
        };
        let jobs = vec![
            job(
                "db-backup-x-postgres-1",
                "2026-12-01T01:54:00Z",
                json!({ "succeeded": 1 }),
            ),
            job(
                "db-backup-x-postgres-2",
                "2026-12-02T01:54:00Z",
                json!({ "failed": 1, "startTime": "2026-12-02T01:54:01Z", "conditions": [
                    { "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                      "message": "Job has reached the specified backoff limit" }
                ]}),
            ),
        ];
        let run = last_run("db-backup-x-postgres", &jobs).unwrap();
        assert_eq!(run.job, "db-backup-x-postgres-2");
        assert_eq!(
            run.outcome,
            RunOutcome::Failed {
                why: "Job has reached the specified backoff limit".into()
            }
        );
        assert_eq!(last_run("db-backup-y-postgres", &jobs), None);
        let running = vec![job(
            "db-backup-x-postgres-3",
            "2026-12-03T01:54:00Z",
            json!({ "active": 1 }),
        )];
        assert_eq!(
            last_run("db-backup-x-postgres", &running).unwrap().outcome,
            RunOutcome::Running
        );
    }
}
