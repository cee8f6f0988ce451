//! Staging's "nightly" restore, on demand, as GOV.UK's db-backup job does it
//! with the real PostgreSQL programs: `pg_dump -Fc` of production's
//! database; in staging, end the sessions on it, drop it, create it anew,
//! `pg_restore` (keeping ownership and grants: statements naming roles
//! staging lacks fail, pg_restore reports them and carries on), then `ALTER
//! DATABASE … OWNER TO` the owner. pg_dump copies no roles. Each restore is
//! recorded in staging's cluster as a completed Job, so a client can tell
//! when the last one finished. Passwords reach the programs through
//! PGPASSWORD, never their arguments.

use std::path::Path;
use std::process::Stdio;

use color_eyre::eyre::{Result, WrapErr, eyre};
use serde::Serialize;
use sqlx::{Connection, Executor, PgConnection};

use super::{EngineKind, Estate};
use crate::controllers::now_rfc3339;
use crate::postgres::{PostgresServer, SUPERUSER};
use crate::world::create_object;
use rotui::db::ident::pg_ident;
use rotui::secret::{ExposeSecret, redact};

/// The label naming the database a restore Job restored.
pub const RESTORE_LABEL: &str = "rotui.dev/restore-of";

/// What one restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub app: String,
    pub database: String,
    /// Where the dump came from and where it went.
    pub from_env: String,
    pub to_env: String,
    /// The database's OID in the target before (None: it did not exist) and after.
    pub old_oid: Option<u32>,
    pub new_oid: u32,
    /// Who owns the restored database.
    pub owner: String,
    /// pg_restore's "errors ignored on restore" count (0 when clean).
    pub errors: usize,
    /// pg_restore's error lines (no passwords in them).
    pub error_lines: Vec<String>,
    /// The Job recording the restore in the target's cluster.
    pub job: String,
    /// RFC 3339, the Job's completionTime.
    pub completed_at: String,
}

impl Estate {
    /// Run the nightly restore of `app` now, into the estate's restored
    /// environment (the first with `restored_from`; see
    /// [`Estate::nightly_restore_into`] for a given one).
    pub async fn nightly_restore(&self, app: &str) -> Result<RestoreReport> {
        let (env, _) = self
            .spec
            .restored()
            .next()
            .ok_or_else(|| eyre!("no environment of the estate is restored from another"))?;
        let env = env.to_owned();
        self.nightly_restore_into(&env, app).await
    }

    /// Restore `app`'s database into `env` from its `restored_from`.
    pub async fn nightly_restore_into(&self, env: &str, app_name: &str) -> Result<RestoreReport> {
        let app = self
            .spec
            .apps
            .get(app_name)
            .ok_or_else(|| eyre!("the estate has no app `{app_name}`"))?;
        if app.engine != EngineKind::Postgres {
            return Err(eyre!(
                "{app_name} is not a PostgreSQL app: only PostgreSQL is restored"
            ));
        }
        if !app.copied_by_restore {
            return Err(eyre!(
                "{app_name} is not copied by the restore (copied_by_restore = false)"
            ));
        }
        let from = self
            .spec
            .environments
            .get(env)
            .and_then(|e| e.restored_from.clone())
            .ok_or_else(|| eyre!("environment {env} is not restored from another"))?;
        let db = &app.database;
        let source = self.postgres(&from);
        let target = self.postgres(env);
        let scratch = tempfile::tempdir()?; // 0700
        let dump = scratch.path().join("dump.pgdump");

        let mut src = PgConnection::connect_with(&source.superuser_options("postgres")).await?;
        let source_owner: String =
            sqlx::query_scalar("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1")
                .bind(db)
                .fetch_optional(&mut src)
                .await?
                .ok_or_else(|| eyre!("{from} has no database {db}"))?;
        src.close().await?;
        let out = run(
            source,
            "pg_dump",
            &["-Fc", "-f", &dump.to_string_lossy(), "-d", db],
        )
        .await?;
        if !out.status.success() {
            return Err(eyre!("pg_dump of {from}'s {db} failed: {}", redact(&out.stderr)));
        }

        let mut su = PgConnection::connect_with(&target.superuser_options("postgres")).await?;
        let old_oid = oid(&mut su, db).await?;
        su.execute(
            sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
                .bind(db),
        )
        .await?;
        // FORCE: the apps reconnect at once; end those sessions too.
        su.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            pg_ident(db)
        )))
        .await?;
        su.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {}", pg_ident(db))))
            .await?;
        let restored = run(target, "pg_restore", &["-d", db, &dump.to_string_lossy()]).await?;
        let error_lines: Vec<String> = restored
            .stderr
            .lines()
            .filter(|l| l.contains("error:"))
            .map(redact)
            .collect();
        let errors = ignored_errors(&restored.stderr).unwrap_or(error_lines.len());
        if !restored.status.success() && errors == 0 {
            return Err(eyre!(
                "pg_restore into {env}'s {db} failed: {}",
                redact(&restored.stderr)
            ));
        }
        // The owner: production's owner role if staging has it, else the app's login.
        let has_role: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&source_owner)
            .fetch_one(&mut su)
            .await?;
        let owner = if has_role {
            source_owner
        } else {
            app.username.clone()
        };
        su.execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {} OWNER TO {}",
            pg_ident(db),
            pg_ident(&owner)
        )))
        .await?;
        let new_oid = oid(&mut su, db)
            .await?
            .ok_or_else(|| eyre!("{db} is missing after its restore"))?;
        su.close().await?;

        let completed_at = now_rfc3339();
        let job = self
            .record_restore(env, app_name, db, &completed_at, errors)
            .await?;
        tracing::info!(app = app_name, %env, errors, "nightly restore done");
        Ok(RestoreReport {
            app: app_name.to_owned(),
            database: db.clone(),
            from_env: from,
            to_env: env.to_owned(),
            old_oid,
            new_oid,
            owner,
            errors,
            error_lines,
            job,
            completed_at,
        })
    }

    /// A completed Job `<app>-db-restore-<timestamp>` in `env`'s cluster.
    async fn record_restore(
        &self,
        env: &str,
        app: &str,
        db: &str,
        at: &str,
        errors: usize,
    ) -> Result<String> {
        let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
        let client = self.client(env);
        for attempt in 0..10 {
            let name = match attempt {
                0 => format!("{app}-db-restore-{stamp}"),
                n => format!("{app}-db-restore-{stamp}-{n}"),
            };
            let job = serde_json::json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {
                    "name": name, "namespace": self.spec.namespace,
                    "labels": { RESTORE_LABEL: db, "app.kubernetes.io/name": "db-backup" },
                    "annotations": { "rotui.dev/restore-errors": errors.to_string() },
                },
                "spec": { "backoffLimit": 0, "template": { "spec": {
                    "restartPolicy": "Never",
                    "containers": [{ "name": "restore", "image": "ghcr.io/alphagov/govuk-db-backup:latest" }],
                }}},
                "status": {
                    "startTime": at, "completionTime": at, "succeeded": 1,
                    "conditions": [{ "type": "Complete", "status": "True", "lastTransitionTime": at }],
                },
            });
            match create_object(client, &self.spec.namespace, job).await {
                Ok(()) => return Ok(name),
                Err(e) if e.to_string().contains("already exists") => continue,
                Err(e) => return Err(e),
            }
        }
        Err(eyre!("no free Job name for the restore of {app}"))
    }
}

async fn oid(conn: &mut PgConnection, db: &str) -> Result<Option<u32>> {
    let oid: Option<sqlx::postgres::types::Oid> =
        sqlx::query_scalar("SELECT oid FROM pg_database WHERE datname = $1")
            .bind(db)
            .fetch_optional(conn)
            .await?;
    Ok(oid.map(|o| o.0))
}

struct Output {
    status: std::process::ExitStatus,
    stderr: String,
}

/// Run one of the server's own client programs as its superuser over TCP;
/// the password goes through the environment.
async fn run(server: &PostgresServer, program: &str, args: &[&str]) -> Result<Output> {
    let path = server.bin_dir().join(program);
    let out = tokio::process::Command::new(&path)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port().to_string(),
            "-U",
            SUPERUSER,
            "--no-password",
        ])
        .args(args)
        .env("PGPASSWORD", server.superuser_password().expose_secret())
        .env_remove("PGPASSFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .wrap_err_with(|| format!("running {}", Path::new(&path).display()))?;
    Ok(Output {
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `pg_restore: warning: errors ignored on restore: 3`
fn ignored_errors(stderr: &str) -> Option<usize> {
    stderr
        .lines()
        .find_map(|l| l.split("errors ignored on restore:").nth(1))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_pg_restores_ignored_errors() {
        let err = "pg_restore: error: could not execute query: ERROR:  role \"x\" does not exist\n\
                   pg_restore: warning: errors ignored on restore: 2\n";
        assert_eq!(super::ignored_errors(err), Some(2));
        assert_eq!(super::ignored_errors(""), None);
    }
}
