//! The estate's data sync as GOV.UK runs it (HC `charts/db-backup/`): in
//! every environment a CronJob `db-backup-<host label>` per synced app, its
//! operations init containers `<i>-restore`, `<i>-transform` and a last
//! container `<i>-backup` running `/opt/bin/backup-<dbms> <op> [script]`,
//! and the ConfigMap `db-backup` holding the transforms.
//!
//! [`Estate::run_sync`] runs one now as its Job would, with the real server
//! programs and what `scripts/backup-postgres` / `backup-mysql` do, reading
//! the CronJob from the cluster (so an edited `DB_OWNER` or transform is
//! what runs). The restore takes the source environment's database as its
//! latest backup would hold it (a dump made now, not a file in a bucket).
//! Programs connect as the target's superuser (PostgreSQL) or `aws_db_admin`
//! (MySQL); passwords reach them through `PGPASSWORD` or a 0600 option file
//! in a private directory (the script's own `~/.my.cnf`), never arguments.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use tokio::io::AsyncWriteExt;

use super::Estate;
use super::spec::{AppSpec, EngineKind, EstateSpec, SyncSpec, script_name};
use crate::controllers::now_rfc3339;
use crate::mariadb::MysqlServer;
use crate::postgres::{PostgresServer, SUPERUSER};
use rotui::db::ident::pg_ident;
use rotui::k8s::db_sync::SyncJob;
use rotui::secret::{ExposeSecret, SecretString, redact};

/// The chart's ConfigMap of scripts (transforms).
pub const SCRIPTS_CONFIGMAP: &str = "db-backup";
/// The Secret holding each host's admin password, keyed by host label
/// (its ExternalSecret's name too).
pub const PASSWD_SECRET: &str = "db-backup-passwd";
/// Its Secrets Manager key: a hand-kept copy of the admin passwords, which
/// the runbook updates by hand after an admin rotation.
pub const PASSWD_KEY: &str = "govuk/db-backup/passwd";
const IMAGE: &str = "ghcr.io/alphagov/govuk-toolbox:latest";
const INSTANCE_LABELS: [(&str, &str); 2] = [
    ("app.kubernetes.io/name", "db-backup"),
    ("app.kubernetes.io/instance", "db-backup"),
];

/// `s3://govuk-<env>-database-backups`
pub fn bucket(env: &str) -> String {
    format!("s3://govuk-{env}-database-backups")
}

/// The CronJob's name for `app`.
pub fn cronjob_name(app: &AppSpec) -> String {
    format!("db-backup-{}", app.host_label())
}

/// The sync objects of `env`'s cluster: the ConfigMap of transforms, then
/// a CronJob per app synced there.
pub(super) fn manifests(spec: &EstateSpec, env: &str) -> Result<Vec<Value>> {
    if !spec.sync.values().any(|s| s.envs.contains_key(env)) {
        return Ok(vec![]);
    }
    let mut scripts = serde_json::Map::new();
    for sync in spec.sync.values().flat_map(|s| s.envs.values()) {
        if let Some(path) = &sync.transform {
            let name = script_name(path).unwrap_or_default();
            let text = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("reading transform {}", path.display()))?;
            scripts.insert(name, Value::String(text));
        }
    }
    let labels: serde_json::Map<String, Value> = INSTANCE_LABELS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let mut out = vec![
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": SCRIPTS_CONFIGMAP, "namespace": spec.namespace, "labels": labels },
            "data": scripts,
        }),
        // HC templates/externalsecrets.yaml: every key of the document, no template.
        json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": { "name": PASSWD_SECRET, "namespace": spec.namespace, "labels": labels },
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": { "kind": "ClusterSecretStore", "name": "aws-secretsmanager" },
                "target": { "name": PASSWD_SECRET, "deletionPolicy": "Delete" },
                "dataFrom": [{ "extract": { "key": PASSWD_KEY } }],
            },
        }),
    ];
    for (name, app) in &spec.apps {
        if let Some(sync) = spec.sync_of(name, env) {
            out.push(cronjob(spec, env, app, sync));
        }
    }
    Ok(out)
}

/// One CronJob in the chart's shape (`templates/cronjob.yaml`).
fn cronjob(spec: &EstateSpec, env: &str, app: &AppSpec, sync: &SyncSpec) -> Value {
    let host = app.host_label();
    let (dbms, _) = engine_names(app.engine);
    let mut ops: Vec<(&str, Option<String>, Option<String>)> = vec![];
    if let Some(from) = &sync.from {
        ops.push(("restore", None, Some(bucket(from))));
    }
    if let Some(t) = &sync.transform {
        ops.push(("transform", script_name(t), None));
    }
    ops.push(("backup", None, None));
    let containers: Vec<Value> = ops
        .iter()
        .enumerate()
        .map(|(i, (op, script, bucket))| {
            let mut env_vars = vec![
                json!({ "name": "GOVUK_ENVIRONMENT", "value": env }),
                json!({ "name": "DB_HOST", "value": host }),
                json!({ "name": "DB_DATABASE", "value": app.database }),
            ];
            if let Some(b) = bucket {
                env_vars.push(json!({ "name": "BUCKET", "value": b }));
            }
            env_vars.extend([
                json!({ "name": "PROMETHEUS_PUSHGATEWAY_URL",
                        "valueFrom": { "configMapKeyRef": { "name": "govuk-apps-env", "key": "PROMETHEUS_PUSHGATEWAY_URL" } } }),
                json!({ "name": "DB_USER", "value": "aws_db_admin" }),
                json!({ "name": "DB_PASSWORD",
                        "valueFrom": { "secretKeyRef": { "name": PASSWD_SECRET, "key": host } } }),
            ]);
            if let Some(owner) = &sync.db_owner {
                env_vars.push(json!({ "name": "DB_OWNER", "value": owner }));
            }
            let mut args = vec![json!(op)];
            if let Some(s) = script {
                args.push(json!(s));
            }
            json!({
                "name": format!("{i}-{op}"),
                "image": IMAGE,
                "command": [format!("/opt/bin/backup-{dbms}")],
                "args": args,
                "env": env_vars,
                "volumeMounts": [
                    { "name": "scripts", "mountPath": "/opt/bin", "readOnly": true },
                    { "name": "tmp", "mountPath": "/tmp" },
                ],
            })
        })
        .collect();
    // Every operation but the last is an init container, as the chart renders them.
    let (init, last) = containers.split_at(containers.len() - 1);
    let mut labels: serde_json::Map<String, Value> = INSTANCE_LABELS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    labels.insert("app.kubernetes.io/component".into(), json!(host));
    let mut pod_spec = json!({
        "enableServiceLinks": false,
        "restartPolicy": "Never",
        "serviceAccountName": "db-backup",
        "volumes": [
            { "name": "scripts", "configMap": { "name": SCRIPTS_CONFIGMAP, "defaultMode": 0o555 } },
            { "name": "tmp", "emptyDir": {} },
        ],
        "containers": last,
    });
    if !init.is_empty() {
        pod_spec["initContainers"] = json!(init);
    }
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {
            "name": cronjob_name(app), "namespace": spec.namespace, "labels": labels,
            "annotations": { "argocd.argoproj.io/ignore-healthcheck": "true" },
        },
        "spec": {
            "schedule": sync.schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 28800,
            "suspend": sync.suspend,
            "failedJobsHistoryLimit": 2,
            "successfulJobsHistoryLimit": 2,
            "jobTemplate": {
                "metadata": { "labels": labels },
                "spec": {
                    "activeDeadlineSeconds": 43200,
                    "backoffLimit": 0,
                    "template": { "metadata": { "labels": labels }, "spec": pod_spec },
                },
            },
        },
    })
}

fn engine_names(engine: EngineKind) -> (&'static str, &'static str) {
    match engine {
        EngineKind::Postgres => ("postgres", "PostgreSQL"),
        EngineKind::Mysql => ("mysql", "MySQL"),
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum SyncOutcome {
    Succeeded,
    /// `step` is the container (`0-restore`, `1-transform`, `2-backup`).
    Failed {
        step: String,
        why: String,
    },
}

/// What one run of a sync CronJob did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub env: String,
    pub app: String,
    pub database: String,
    pub cronjob: String,
    /// The Job of this run (owned by the CronJob).
    pub job: String,
    /// The environment restored from (None: a backup-only run).
    pub source: Option<String>,
    /// PostgreSQL: the database's OID before (None: it did not exist) and
    /// after the run (a restore swaps in a new database).
    pub old_oid: Option<u32>,
    pub new_oid: Option<u32>,
    /// PostgreSQL: the `DB_OWNER` the restore handed the database to (or tried to).
    pub owner: Option<String>,
    /// Statements that failed without failing the run (psql without
    /// ON_ERROR_STOP: the restore's and the transform's).
    pub errors: usize,
    /// Their error lines (redacted).
    pub error_lines: Vec<String>,
    pub outcome: SyncOutcome,
    /// RFC 3339: when the Job ended.
    pub completed_at: String,
}

impl SyncReport {
    pub fn succeeded(&self) -> bool {
        self.outcome == SyncOutcome::Succeeded
    }
}

/// A step's failure: the container and why.
struct StepError {
    step: String,
    why: String,
}

fn fail(step: &str, why: impl std::fmt::Display) -> StepError {
    StepError {
        step: step.to_owned(),
        why: redact(&why.to_string()),
    }
}

/// What the steps found, kept when a later one fails.
#[derive(Default)]
struct Progress {
    old_oid: Option<u32>,
    new_oid: Option<u32>,
    owner: Option<String>,
    error_lines: Vec<String>,
}

impl Estate {
    /// Run `app`'s sync CronJob in `env` now, as a Job the CronJob owns.
    /// Refused (an error, no Job) for an app without a CronJob there or a
    /// suspended one (see [`Estate::run_sync_forced`]); a run that fails is
    /// a report whose outcome says which step failed and why, its Job Failed.
    pub async fn run_sync(&self, env: &str, app: &str) -> Result<SyncReport> {
        self.run_sync_with(env, app, false).await
    }

    /// [`Estate::run_sync`], suspended or not (as `kubectl create job --from`).
    pub async fn run_sync_forced(&self, env: &str, app: &str) -> Result<SyncReport> {
        self.run_sync_with(env, app, true).await
    }

    /// Every restoring sync that is not suspended, each environment after
    /// its source (staging, then integration).
    pub async fn run_restoring_syncs(&self) -> Vec<(String, String, Result<SyncReport>)> {
        let mut out = vec![];
        for (env, _) in self.spec.restored() {
            for app in self.synced_apps(env) {
                let suspended = self.spec.sync_of(&app, env).is_some_and(|s| s.suspend);
                if self.spec.is_restored_copy(&app, env) && !suspended {
                    let r = self.run_sync(env, &app).await;
                    out.push((env.to_owned(), app, r));
                }
            }
        }
        out
    }

    /// The apps with a sync CronJob in `env`.
    pub fn synced_apps(&self, env: &str) -> Vec<String> {
        self.spec
            .sync
            .iter()
            .filter(|(_, s)| s.envs.contains_key(env))
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Set (or with None remove) `DB_OWNER` in every container of `app`'s
    /// sync CronJob in `env`, as an edit of the chart's values would.
    pub async fn set_sync_db_owner(&self, env: &str, app: &str, owner: Option<&str>) -> Result<()> {
        let spec = self.app_spec(app)?;
        let api: Api<CronJob> = Api::namespaced(self.client(env).clone(), &self.spec.namespace);
        let name = cronjob_name(spec);
        let mut cj = serde_json::to_value(
            api.get(&name)
                .await
                .wrap_err_with(|| format!("{env}: CronJob {name}"))?,
        )?;
        let pod = &mut cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        for list in ["initContainers", "containers"] {
            for c in pod[list].as_array_mut().into_iter().flatten() {
                let vars = c["env"]
                    .as_array_mut()
                    .ok_or_else(|| eyre!("{name}: a container without env"))?;
                vars.retain(|v| v["name"] != "DB_OWNER");
                if let Some(o) = owner {
                    vars.push(json!({ "name": "DB_OWNER", "value": o }));
                }
            }
        }
        api.replace(&name, &PostParams::default(), &serde_json::from_value(cj)?)
            .await?;
        Ok(())
    }

    fn app_spec(&self, app: &str) -> Result<&AppSpec> {
        self.spec.apps.get(app).ok_or_else(|| {
            eyre!(
                "the estate has no app `{app}` (apps: {})",
                self.spec.apps.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    async fn run_sync_with(&self, env: &str, app_name: &str, force: bool) -> Result<SyncReport> {
        if !self.spec.environments.contains_key(env) {
            return Err(eyre!(
                "the estate has no environment `{env}` (environments: {})",
                self.spec
                    .environments
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let app = self.app_spec(app_name)?;
        let ns = &self.spec.namespace;
        let name = cronjob_name(app);
        let cronjobs: Api<CronJob> = Api::namespaced(self.client(env).clone(), ns);
        let cj = cronjobs.get_opt(&name).await?.ok_or_else(|| {
            eyre!("{env} has no CronJob {name}: {app_name} is not synced there (add [sync.{app_name}.{env}] to the estate file)")
        })?;
        let job = SyncJob::parse(&cj)
            .ok_or_else(|| eyre!("{env}: CronJob {name} is not a db-backup CronJob rotui can read"))?;
        if job.suspended && !force {
            return Err(eyre!(
                "{env}: CronJob {name} is suspended, so it does not run; set `suspend = false` in [sync.{app_name}.{env}], or force this run (run_sync_forced; `{env} {app_name} force` for SIGUSR2)"
            ));
        }
        let source = job.restored_from();
        let job_name = self.start_job(env, &cj).await?;
        tracing::info!(%env, app = app_name, job = %job_name, "sync run started");
        let mut progress = Progress::default();
        let result = self.steps(env, app, &job, &mut progress).await;
        let outcome = match result {
            Ok(()) => SyncOutcome::Succeeded,
            Err(e) => SyncOutcome::Failed {
                step: e.step,
                why: e.why,
            },
        };
        let completed_at = self.end_job(env, &name, &job_name, &outcome).await?;
        tracing::info!(%env, app = app_name, job = %job_name, ?outcome, "sync run ended");
        Ok(SyncReport {
            env: env.to_owned(),
            app: app_name.to_owned(),
            database: job.database.clone(),
            cronjob: name,
            job: job_name,
            source,
            old_oid: progress.old_oid,
            new_oid: progress.new_oid,
            owner: progress.owner,
            errors: progress.error_lines.len(),
            error_lines: progress.error_lines,
            outcome,
            completed_at,
        })
    }

    /// The Job's operations in order, as its containers would run them.
    async fn steps(
        &self,
        env: &str,
        app: &AppSpec,
        job: &SyncJob,
        p: &mut Progress,
    ) -> Result<(), StepError> {
        // The pod's volume: 0700, the option files and dumps in it.
        let scratch =
            tempfile::tempdir().map_err(|e| fail("pod", format!("creating its scratch directory: {e}")))?;
        for (i, op) in job.operations.iter().enumerate() {
            let step = format!("{i}-{}", op.op);
            match op.op.as_str() {
                "restore" => {
                    let from = job
                        .restored_from()
                        .filter(|f| self.spec.environments.contains_key(f))
                        .ok_or_else(|| {
                            fail(
                                &step,
                                format!(
                                    "BUCKET {:?} is no environment's backups",
                                    op.bucket.as_deref().unwrap_or("")
                                ),
                            )
                        })?;
                    match app.engine {
                        EngineKind::Postgres => self.pg_restore(&from, env, job, scratch.path(), p).await,
                        EngineKind::Mysql => self.mysql_restore(&from, env, job, scratch.path()).await,
                    }
                    .map_err(|why| fail(&step, why))?;
                }
                "transform" => {
                    let name = op.script.clone().unwrap_or_default();
                    // The scripts volume: ConfigMap db-backup as it is now.
                    let api: Api<ConfigMap> = Api::namespaced(self.client(env).clone(), &self.spec.namespace);
                    let scripts = api
                        .get(SCRIPTS_CONFIGMAP)
                        .await
                        .map_err(|e| fail(&step, format!("reading ConfigMap {SCRIPTS_CONFIGMAP}: {e}")))?
                        .data
                        .unwrap_or_default();
                    let text = scripts.get(&name).ok_or_else(|| {
                        fail(
                            &step,
                            format!("no script {name} in ConfigMap {SCRIPTS_CONFIGMAP}"),
                        )
                    })?;
                    match app.engine {
                        EngineKind::Postgres => {
                            let out = psql(self.postgres(env), &job.database, &[], Some(text))
                                .await
                                .map_err(|e| fail(&step, e))?;
                            p.error_lines.extend(error_lines(&out.stderr));
                            if !out.status.success() {
                                return Err(fail(
                                    &step,
                                    format!("psql {name} failed: {}", out.stderr.trim()),
                                ));
                            }
                        }
                        EngineKind::Mysql => {
                            let cnf = MyCnf::write(
                                self.mysql(env),
                                &self
                                    .backup_password(env, &job.db_host)
                                    .await
                                    .map_err(|e| fail(&step, e))?,
                                scratch.path(),
                                "target",
                            )
                            .map_err(|e| fail(&step, e))?;
                            let out = mysql_client(&cnf, "mysql", &[&job.database], Some(text.as_bytes()))
                                .await
                                .map_err(|e| fail(&step, e))?;
                            if !out.status.success() {
                                return Err(fail(
                                    &step,
                                    format!("mysql < {name} failed: {}", out.stderr.trim()),
                                ));
                            }
                        }
                    }
                }
                "backup" => {
                    let dump = scratch.path().join("backup");
                    let out = match app.engine {
                        EngineKind::Postgres => {
                            pg_program(
                                self.postgres(env),
                                "pg_dump",
                                &["-Fc", "-Z1", "-f", &path_str(&dump), "-d", &job.database],
                            )
                            .await
                        }
                        EngineKind::Mysql => {
                            let cnf = MyCnf::write(
                                self.mysql(env),
                                &self
                                    .backup_password(env, &job.db_host)
                                    .await
                                    .map_err(|e| fail(&step, e))?,
                                scratch.path(),
                                "target",
                            )
                            .map_err(|e| fail(&step, e))?;
                            mysqldump(&cnf, &job.database, &dump).await
                        }
                    }
                    .map_err(|e| fail(&step, e))?;
                    if !out.status.success() {
                        return Err(fail(
                            &step,
                            format!("dumping {env}'s {} failed: {}", job.database, out.stderr.trim()),
                        ));
                    }
                }
                other => return Err(fail(&step, format!("unknown operation `{other}`"))),
            }
        }
        Ok(())
    }

    /// `backup-postgres restore`: into `<db>-restore`, swap, hand to DB_OWNER, drop `<db>-old`.
    async fn pg_restore(
        &self,
        from: &str,
        env: &str,
        job: &SyncJob,
        scratch: &Path,
        p: &mut Progress,
    ) -> Result<(), String> {
        let db = job.database.as_str();
        let (source, target) = (self.postgres(from), self.postgres(env));
        let owner = job
            .db_owner
            .as_ref()
            .map(|o| o.name.clone())
            .unwrap_or_else(|| rotui::k8s::db_sync::default_db_owner(db));
        p.owner = Some(owner.clone());
        // The source's latest backup: `pg_dump -Fc` of its database now.
        let dump = scratch.join("dump.pgdump");
        let out = pg_program(
            source,
            "pg_dump",
            &["-Fc", "-Z1", "-f", &path_str(&dump), "-d", db],
        )
        .await
        .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "pg_dump of {from}'s {db} (its backup) failed: {}",
                out.stderr.trim()
            ));
        }
        let mut su = PgConnection::connect_with(&target.superuser_options("postgres"))
            .await
            .map_err(|e| format!("connecting to {env}'s PostgreSQL: {e}"))?;
        let restore_db = format!("{db}-restore");
        let old_db = format!("{db}-old");
        p.old_oid = oid(&mut su, db).await?;
        let q = |sql: String| sqlx::AssertSqlSafe(sql);
        exec(
            &mut su,
            q(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                pg_ident(&restore_db)
            )),
        )
        .await?;
        exec(
            &mut su,
            q(format!(
                // The chart's job runs as DB_USER (aws_db_admin), whose
                // database it is until DB_OWNER is set: with DB_OWNER
                // failing, the admin can still hand it on.
                "CREATE DATABASE {} OWNER aws_db_admin TEMPLATE template0",
                pg_ident(&restore_db)
            )),
        )
        .await?;
        // pg_restore --no-comments -f - | psql -d <db>-restore (no ON_ERROR_STOP):
        // statements naming roles the target lacks fail and the run goes on.
        let script = scratch.join("restore.sql");
        let out = pg_program(
            target,
            "pg_restore",
            &["--no-comments", "-f", &path_str(&script), &path_str(&dump)],
        )
        .await
        .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "pg_restore of {from}'s {db} failed: {}",
                out.stderr.trim()
            ));
        }
        let out = psql(
            target,
            &restore_db,
            &[
                "-c",
                "SET session_replication_role = 'replica';",
                "-f",
                &path_str(&script),
            ],
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
        p.error_lines.extend(error_lines(&out.stderr));
        if !out.status.success() {
            return Err(format!("psql into {restore_db} failed: {}", out.stderr.trim()));
        }
        if p.old_oid.is_some() {
            exec(
                &mut su,
                q(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    pg_ident(&old_db)
                )),
            )
            .await?;
            swap(&mut su, &restore_db, db, &old_db).await?;
        } else {
            exec(
                &mut su,
                q(format!(
                    "ALTER DATABASE {} RENAME TO {}",
                    pg_ident(&restore_db),
                    pg_ident(db)
                )),
            )
            .await?;
        }
        p.new_oid = oid(&mut su, db).await?;
        // After the swap, as the script: a role the target lacks fails the run here.
        exec(
            &mut su,
            q(format!(
                "ALTER DATABASE {} OWNER TO {}",
                pg_ident(db),
                pg_ident(&owner)
            )),
        )
        .await
        .map_err(|e| format!("after the swap, ALTER DATABASE \"{db}\" OWNER TO \"{owner}\" failed: {e}"))?;
        exec(
            &mut su,
            q(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                pg_ident(&old_db)
            )),
        )
        .await?;
        su.close().await.ok();
        Ok(())
    }

    /// `backup-mysql restore`: drop, create, load the source's mysqldump
    /// (views and triggers with their DEFINERs; no routines, no events).
    async fn mysql_restore(
        &self,
        from: &str,
        env: &str,
        job: &SyncJob,
        scratch: &Path,
    ) -> Result<(), String> {
        let db = job.database.as_str();
        // Each environment's job reads its own `db-backup-passwd` (the source's made the backup).
        let src_pw = self.backup_password(from, &job.db_host).await?;
        let dst_pw = self.backup_password(env, &job.db_host).await?;
        let src = MyCnf::write(self.mysql(from), &src_pw, scratch, "source").map_err(|e| e.to_string())?;
        let dst = MyCnf::write(self.mysql(env), &dst_pw, scratch, "target").map_err(|e| e.to_string())?;
        let dump = scratch.join("dump.sql");
        let out = mysqldump(&src, db, &dump).await.map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "mysqldump of {from}'s {db} (its backup) failed: {}",
                out.stderr.trim()
            ));
        }
        // `mysqladmin drop -f "$DB_DATABASE" || true`
        let _ = mysql_client(&dst, "mysqladmin", &["drop", "-f", db], None).await;
        let out = mysql_client(&dst, "mysqladmin", &["create", db], None)
            .await
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("mysqladmin create {db} failed: {}", out.stderr.trim()));
        }
        let text = std::fs::read(&dump).map_err(|e| format!("reading the dump: {e}"))?;
        let out = mysql_client(&dst, "mysql", &[db], Some(&text))
            .await
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "loading {from}'s dump into {env}'s {db} failed: {}",
                out.stderr.trim()
            ));
        }
        Ok(())
    }

    /// `DB_PASSWORD`: key `host` of `env`'s Secret `db-backup-passwd`, as
    /// the pod's `secretKeyRef` resolves it (waiting a little for External
    /// Secrets to write it after start-up).
    async fn backup_password(&self, env: &str, host: &str) -> Result<SecretString, String> {
        let api: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(self.client(env).clone(), &self.spec.namespace);
        let start = std::time::Instant::now();
        loop {
            let secret = api
                .get_opt(PASSWD_SECRET)
                .await
                .map_err(|e| format!("reading {env}'s Secret {PASSWD_SECRET}: {e}"))?;
            if let Some(value) = secret.as_ref().and_then(|s| s.data.as_ref()?.get(host)) {
                let text = String::from_utf8(value.0.clone())
                    .map_err(|_| format!("{env}'s Secret {PASSWD_SECRET} key {host} is not text"))?;
                return Ok(SecretString::from(text));
            }
            if start.elapsed() > Duration::from_secs(15) {
                return Err(format!(
                    "{env}'s Secret {PASSWD_SECRET} has no key {host} (the pod could not start): \
                     add it to {PASSWD_KEY} and force-sync the ExternalSecret {PASSWD_SECRET}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A Job of `cj` (named as the CronJob controller names them), running.
    async fn start_job(&self, env: &str, cj: &CronJob) -> Result<String> {
        let ns = &self.spec.namespace;
        let jobs: Api<Job> = Api::namespaced(self.client(env).clone(), ns);
        let cronjobs: Api<CronJob> = Api::namespaced(self.client(env).clone(), ns);
        let name = cj.name_any();
        let template = serde_json::to_value(
            &cj.spec
                .as_ref()
                .ok_or_else(|| eyre!("{name} has no spec"))?
                .job_template,
        )?;
        let now = now_rfc3339();
        let minute = chrono::Utc::now().timestamp() / 60;
        let owner = json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "name": name,
            "uid": cj.uid().unwrap_or_default(), "controller": true, "blockOwnerDeletion": true,
        });
        for attempt in 0..100 {
            let job_name = match attempt {
                0 => format!("{name}-{minute}"),
                n => format!("{name}-{minute}-{n}"),
            };
            let body: Job = serde_json::from_value(json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {
                    "name": job_name, "namespace": ns,
                    "labels": template["metadata"]["labels"],
                    "annotations": { "cronjob.kubernetes.io/instantiate": "manual" },
                    "ownerReferences": [owner],
                },
                "spec": template["spec"],
                "status": { "active": 1, "startTime": now },
            }))?;
            match jobs.create(&PostParams::default(), &body).await {
                Ok(_) => {
                    let active = json!([{ "apiVersion": "batch/v1", "kind": "Job", "name": job_name, "namespace": ns }]);
                    cronjobs
                        .patch_status(
                            &name,
                            &PatchParams::default(),
                            &Patch::Merge(
                                &json!({ "status": { "lastScheduleTime": now, "active": active } }),
                            ),
                        )
                        .await?;
                    return Ok(job_name);
                }
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(eyre!("{env}: no free Job name for {name}"))
    }

    /// The Job's end: Complete, or Failed with the step and why.
    async fn end_job(&self, env: &str, cronjob: &str, job: &str, outcome: &SyncOutcome) -> Result<String> {
        let ns = &self.spec.namespace;
        let jobs: Api<Job> = Api::namespaced(self.client(env).clone(), ns);
        let cronjobs: Api<CronJob> = Api::namespaced(self.client(env).clone(), ns);
        let now = now_rfc3339();
        let (status, cj_status) = match outcome {
            SyncOutcome::Succeeded => (
                json!({ "active": 0, "succeeded": 1, "completionTime": now, "conditions": [
                    { "type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now },
                    { "type": "Complete", "status": "True", "lastTransitionTime": now },
                ]}),
                json!({ "active": [], "lastSuccessfulTime": now }),
            ),
            SyncOutcome::Failed { step, why } => {
                let message = format!("container {step} failed: {why}");
                (
                    json!({ "active": 0, "failed": 1, "conditions": [
                        { "type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
                          "message": message, "lastTransitionTime": now },
                        { "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                          "message": message, "lastTransitionTime": now },
                    ]}),
                    json!({ "active": [] }),
                )
            }
        };
        jobs.patch_status(
            job,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "status": status })),
        )
        .await?;
        cronjobs
            .patch_status(
                cronjob,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "status": cj_status })),
            )
            .await?;
        Ok(now)
    }
}

/// `swap_dbs`: no new connections to `db`, then in one transaction end its
/// sessions and rename it to `old`, end `incoming`'s and rename it to `db`
/// (retried while a session lingers, as the script does).
async fn swap(su: &mut PgConnection, incoming: &str, db: &str, old: &str) -> Result<(), String> {
    let (incoming_q, db_q, old_q) = (pg_ident(incoming), pg_ident(db), pg_ident(old));
    let q = |sql: String| sqlx::AssertSqlSafe(sql);
    exec(su, q(format!("ALTER DATABASE {db_q} OWNER TO session_user"))).await?;
    exec(
        su,
        q(format!("ALTER DATABASE {db_q} WITH ALLOW_CONNECTIONS false")),
    )
    .await?;
    let terminate = |name: &str| {
        format!(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND datname = {}",
            rotui::db::ident::pg_str(name)
        )
    };
    let mut last = String::new();
    for _ in 0..10 {
        let attempt = async {
            let mut tx = su.begin().await?;
            tx.execute(q(terminate(db))).await?;
            tx.execute(q(format!("ALTER DATABASE {db_q} RENAME TO {old_q}")))
                .await?;
            tx.execute(q(terminate(incoming))).await?;
            tx.execute(q(format!("ALTER DATABASE {incoming_q} RENAME TO {db_q}")))
                .await?;
            tx.commit().await
        };
        match attempt.await {
            Ok(()) => {
                exec(
                    su,
                    q(format!("ALTER DATABASE {old_q} WITH ALLOW_CONNECTIONS true")),
                )
                .await?;
                return Ok(());
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let _ = exec(
        su,
        q(format!("ALTER DATABASE {db_q} WITH ALLOW_CONNECTIONS true")),
    )
    .await;
    Err(format!("the database swap failed after 10 tries: {last}"))
}

async fn exec(conn: &mut PgConnection, sql: sqlx::AssertSqlSafe<String>) -> Result<(), String> {
    conn.execute(sql).await.map(|_| ()).map_err(|e| e.to_string())
}

async fn oid(conn: &mut PgConnection, db: &str) -> Result<Option<u32>, String> {
    let oid: Option<sqlx::postgres::types::Oid> =
        sqlx::query_scalar("SELECT oid FROM pg_database WHERE datname = $1")
            .bind(db)
            .fetch_optional(conn)
            .await
            .map_err(|e| e.to_string())?;
    Ok(oid.map(|o| o.0))
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// psql's `ERROR:` lines, redacted.
fn error_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains("ERROR:"))
        .map(redact)
        .collect()
}

struct Output {
    status: std::process::ExitStatus,
    stderr: String,
}

/// Run `command` with `stdin`, keeping stderr (redacted) and dropping stdout.
async fn run(
    mut command: tokio::process::Command,
    what: &str,
    stdin: Option<&[u8]>,
) -> std::io::Result<Output> {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| std::io::Error::other(format!("running {what}: {e}")))?;
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(bytes).await?;
        drop(pipe);
    }
    let out = child.wait_with_output().await?;
    Ok(Output {
        status: out.status,
        stderr: redact(&String::from_utf8_lossy(&out.stderr)),
    })
}

/// One of the PostgreSQL server's own programs, as its superuser over TCP
/// (the password through PGPASSWORD).
fn pg_command(server: &PostgresServer, program: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(server.bin_dir().join(program));
    c.args([
        "-h",
        "127.0.0.1",
        "-p",
        &server.port().to_string(),
        "-U",
        SUPERUSER,
        "--no-password",
    ])
    .env("PGPASSWORD", server.superuser_password().expose_secret())
    .env_remove("PGPASSFILE")
    .env_remove("PGSERVICEFILE");
    c
}

async fn pg_program(server: &PostgresServer, program: &str, args: &[&str]) -> std::io::Result<Output> {
    let mut c = pg_command(server, program);
    c.args(args);
    run(c, program, None).await
}

/// `psql -d DB ARGS` (no ON_ERROR_STOP, as the scripts), `stdin` as its script.
async fn psql(
    server: &PostgresServer,
    db: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> std::io::Result<Output> {
    let mut c = pg_command(server, "psql");
    c.args(["-X", "-q", "-d", db]).args(args);
    run(c, "psql", stdin.map(str::as_bytes)).await
}

/// The script's `~/.my.cnf` for one server: 0600 in the run's 0700 scratch directory.
struct MyCnf {
    path: PathBuf,
}

impl MyCnf {
    /// `password`: aws_db_admin's, as `db-backup-passwd` holds it (letters and digits).
    fn write(
        server: &MysqlServer,
        password: &SecretString,
        dir: &Path,
        name: &str,
    ) -> std::io::Result<MyCnf> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(format!("{name}.cnf"));
        let text = format!(
            "[client]\nuser=aws_db_admin\npassword=\"{}\"\nhost=127.0.0.1\nport={}\n\
             [mysql]\ninit-command=\"SET SESSION unique_checks=0, foreign_key_checks=0;\"\n\
             [mysqldump]\nset-gtid-purged=OFF\n",
            password.expose_secret(),
            server.port()
        );
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        Ok(MyCnf { path })
    }
}

/// A MySQL 9.7 client program with `cnf` as its only option file.
async fn mysql_client(
    cnf: &MyCnf,
    program: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> std::io::Result<Output> {
    let (loader, pre) = crate::mysql::client_program(program)?;
    let mut c = tokio::process::Command::new(loader);
    c.args(pre)
        .arg(format!("--defaults-file={}", cnf.path.display()))
        .args(args)
        .env_remove("MYSQL_PWD")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD");
    run(c, program, stdin).await
}

/// `mysqldump --single-transaction DB > dump` (no --routines, no --events).
async fn mysqldump(cnf: &MyCnf, db: &str, dump: &Path) -> std::io::Result<Output> {
    mysql_client(
        cnf,
        "mysqldump",
        &[
            "--single-transaction",
            &format!("--result-file={}", dump.display()),
            db,
        ],
        None,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::CronJob;

    /// What rotui reads of every rendered CronJob is what the estate file says.
    #[test]
    fn rendered_cronjobs_parse_as_rotui_reads_them() {
        let spec = EstateSpec::load(&EstateSpec::default_path()).unwrap();
        let objs = manifests(&spec, "staging").unwrap();
        assert_eq!(objs[0]["kind"], "ConfigMap");
        assert!(
            objs[0]["data"]["email-alert-api.sql"]
                .as_str()
                .unwrap()
                .contains("OWNER TO \"email-alert-api\"")
        );
        assert_eq!(objs[1]["kind"], "ExternalSecret");
        assert_eq!(objs[1]["spec"]["dataFrom"][0]["extract"]["key"], PASSWD_KEY);
        let jobs: Vec<SyncJob> = objs[2..]
            .iter()
            .map(|o| SyncJob::parse(&serde_json::from_value::<CronJob>(o.clone()).unwrap()).unwrap())
            .collect();
        let email = jobs
            .iter()
            .find(|j| j.cronjob == "db-backup-email-alert-api-postgres")
            .unwrap();
        assert_eq!(email.database, "email-alert-api_production");
        assert_eq!(email.restored_from().as_deref(), Some("production"));
        assert_eq!(email.transforms(), ["email-alert-api.sql"]);
        let owner = email.db_owner.as_ref().unwrap();
        assert!(owner.explicit && owner.name == "email-alert-api");
        let email_obj = objs
            .iter()
            .find(|o| o["metadata"]["name"] == "db-backup-email-alert-api-postgres")
            .unwrap();
        let pod = &email_obj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        let names: Vec<&str> = pod["initContainers"]
            .as_array()
            .unwrap()
            .iter()
            .chain(pod["containers"].as_array().unwrap())
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["0-restore", "1-transform", "2-backup"]);
        assert_eq!(email_obj["spec"]["concurrencyPolicy"], "Forbid");
        assert_eq!(email_obj["spec"]["jobTemplate"]["spec"]["backoffLimit"], 0);
        let cs = jobs
            .iter()
            .find(|j| j.cronjob == "db-backup-content-store-postgres")
            .unwrap();
        assert_eq!(cs.db_owner.as_ref().unwrap().name, "content_store");
        assert_eq!(cs.schedule, "06 22 * * 0-4");
        let prod = manifests(&spec, "production").unwrap();
        for o in &prod[2..] {
            let j = SyncJob::parse(&serde_json::from_value::<CronJob>(o.clone()).unwrap()).unwrap();
            assert!(!j.restores(), "production backs up only: {}", j.cronjob);
            assert_eq!(j.operations.len(), 1);
        }
        let integration = manifests(&spec, "integration").unwrap();
        let signon = integration
            .iter()
            .find(|o| o["metadata"]["name"] == "db-backup-signon-mysql")
            .unwrap();
        assert_eq!(signon["spec"]["suspend"], true);
    }
}
