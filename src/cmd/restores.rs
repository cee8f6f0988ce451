//! Which environments of a run are copies of another, read from each
//! environment's cluster (its `db-backup-…` CronJobs, read-only: see
//! [`crate::k8s::db_sync`]) rather than assumed. The config can still say
//! otherwise (`copied_by_restore = false` for the app, `restored_from` for
//! an environment): it wins, and the run says where it disagrees with the
//! cluster. Where a cluster cannot be read, the config (or, with none, the
//! estate's default) is followed, and that is said too.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::connect::Connected;
use crate::k8s::db_sync::{self, RunOutcome, SyncJob};
use crate::rotation::{Restore, default_restores};

/// What a run follows, and what it says about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restores {
    /// `(restored env, env it is copied from)`.
    pub pairs: Vec<(String, String)>,
    /// One line per environment: where its copy comes from and when the
    /// next one runs, or why none is followed.
    pub lines: Vec<String>,
}

/// One environment and its sync as its cluster shows it (`Err`: unread, why).
pub type EnvSync = (String, Result<db_sync::Sync, String>);

/// Read each connected environment's sync for the target's database.
pub async fn read_all(connected: &[Connected]) -> Vec<EnvSync> {
    let mut out = Vec::new();
    for c in connected {
        let t = &c.target;
        let read = match &c.k8s {
            Ok(k8s) => db_sync::read(k8s, t.engine, &t.database)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        out.push((t.env.to_string(), read));
    }
    out
}

/// Decide the restores of `app` among `syncs`' environments.
pub fn decide(app: &str, config: &Config, syncs: &[EnvSync], now: DateTime<Utc>) -> Restores {
    let app_off = config.apps.get(app).and_then(|a| a.copied_by_restore) == Some(false);
    let configured = |env: &str| config.environments.get(env).and_then(|e| e.restored_from.clone());
    let fallback = |env: &str| -> Option<String> {
        if config.environments.is_empty() {
            default_restores()
                .into_iter()
                .find(|r: &Restore| r.env == env)
                .map(|r| r.from.to_string())
        } else {
            configured(env)
        }
    };
    let mut out = Restores::default();
    for (env, read) in syncs {
        let env = env.as_str();
        let (followed, line) = match read {
            Err(why) => {
                let from = if app_off { None } else { fallback(env) };
                let follows = match &from {
                    Some(f) => format!("following the config: restored from {f}"),
                    None => "following the config: not restored".to_owned(),
                };
                (
                    from,
                    format!("{env}: the data sync could not be read ({why}); {follows}"),
                )
            }
            Ok(sync) => {
                let read = restoring(sync);
                let seen = describe(env, sync, read, now);
                let read_from = read.and_then(SyncJob::restored_from);
                let config_from = if app_off {
                    Some(None)
                } else {
                    configured(env).map(Some)
                };
                match config_from {
                    Some(c) if c != read_from => {
                        let says = match (&c, app_off) {
                            (_, true) => format!("[apps.{app}] copied_by_restore = false"),
                            (Some(f), _) => format!("[environments.{env}] restored_from = \"{f}\""),
                            (None, _) => "no restore".to_owned(),
                        };
                        (
                            c,
                            format!(
                                "{seen}; the config says otherwise ({says}) and is followed: \
                                 correct the config if the cluster is right"
                            ),
                        )
                    }
                    _ => (read_from, seen),
                }
            }
        };
        if let Some(from) = followed.filter(|f| f != env) {
            out.pairs.push((env.to_owned(), from));
        }
        out.lines.push(line);
    }
    out
}

/// The CronJob whose runs restore this database (a suspended one does not).
fn restoring(sync: &db_sync::Sync) -> Option<&SyncJob> {
    sync.jobs.iter().find(|j| j.restores() && !j.suspended)
}

/// `staging: restored from production by db-backup-x-postgres (0 1 * * 1-5),
/// next 2026-12-07 01:00 UTC, last run succeeded`.
fn describe(env: &str, sync: &db_sync::Sync, job: Option<&SyncJob>, now: DateTime<Utc>) -> String {
    let Some(job) = job else {
        if let Some(j) = sync.jobs.iter().find(|j| j.restores() && j.suspended) {
            return format!("{env}: not restored ({} is suspended)", j.cronjob);
        }
        return match sync.jobs.first() {
            Some(j) => format!("{env}: not restored ({} only backs up)", j.cronjob),
            None => format!("{env}: not restored (no db-backup CronJob for this database)"),
        };
    };
    let from = job.restored_from().unwrap_or_else(|| "an unknown source".into());
    let next = match job.next_run(now) {
        Ok(Some(t)) => format!("next {}", t.format("%Y-%m-%d %H:%M UTC")),
        Ok(None) => "no next run".to_owned(),
        Err(why) => format!("next run unknown: {why}"),
    };
    let last = match job.last_run.as_ref().map(|r| &r.outcome) {
        None => "no run yet".to_owned(),
        Some(RunOutcome::Running) => "a run is under way".to_owned(),
        Some(RunOutcome::Succeeded { .. }) => "last run succeeded".to_owned(),
        Some(RunOutcome::Failed { why }) => format!("last run failed: {why}"),
    };
    format!(
        "{env}: restored from {from} by {} ({}), {next}, {last}",
        job.cronjob, job.schedule
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::db_sync::{LastRun, Operation, Sync};
    use crate::target::Engine;

    fn job(from: Option<&str>, suspended: bool, last: Option<RunOutcome>) -> SyncJob {
        let mut operations = vec![];
        if let Some(f) = from {
            operations.push(Operation {
                op: "restore".into(),
                script: None,
                bucket: Some(format!("s3://govuk-{f}-database-backups")),
            });
        }
        operations.push(Operation {
            op: "backup".into(),
            script: None,
            bucket: None,
        });
        SyncJob {
            cronjob: "db-backup-email-alert-api-postgres".into(),
            engine: Engine::Postgres,
            db_host: "email-alert-api-postgres".into(),
            database: "email-alert-api_production".into(),
            schedule: "0 1 * * 1-5".into(),
            time_zone: None,
            suspended,
            operations,
            db_owner: None,
            last_run: last.map(|outcome| LastRun {
                job: "db-backup-email-alert-api-postgres-1".into(),
                started: None,
                outcome,
            }),
        }
    }

    fn read(jobs: Vec<SyncJob>) -> Result<Sync, String> {
        Ok(Sync {
            jobs,
            ..Sync::default()
        })
    }

    fn now() -> DateTime<Utc> {
        // A Saturday: staging's next weekday run is Monday 01:00.
        "2026-12-05T12:00:00Z".parse().unwrap()
    }

    fn syncs(list: Vec<(&str, Result<Sync, String>)>) -> Vec<EnvSync> {
        list.into_iter().map(|(e, r)| (e.to_owned(), r)).collect()
    }

    #[test]
    fn the_clusters_say_which_environment_is_copied_from_which() {
        let s = syncs(vec![
            ("production", read(vec![job(None, false, None)])),
            (
                "staging",
                read(vec![job(
                    Some("production"),
                    false,
                    Some(RunOutcome::Succeeded { at: None }),
                )]),
            ),
            ("integration", read(vec![job(Some("staging"), false, None)])),
        ]);
        let r = decide("email-alert-api", &Config::default(), &s, now());
        assert_eq!(
            r.pairs,
            [
                ("staging".to_owned(), "production".to_owned()),
                ("integration".to_owned(), "staging".to_owned())
            ]
        );
        assert_eq!(
            r.lines[1],
            "staging: restored from production by db-backup-email-alert-api-postgres (0 1 * * 1-5), \
             next 2026-12-07 01:00 UTC, last run succeeded"
        );
        assert!(r.lines[0].contains("only backs up"), "{}", r.lines[0]);
    }

    #[test]
    fn no_sync_and_a_suspended_one_are_not_waited_for() {
        let s = syncs(vec![
            ("production", read(vec![])),
            ("staging", read(vec![])),
            ("integration", read(vec![job(Some("staging"), true, None)])),
        ]);
        let r = decide("account-api", &Config::default(), &s, now());
        assert!(r.pairs.is_empty(), "{:?}", r.pairs);
        assert!(r.lines[1].contains("no db-backup CronJob"), "{}", r.lines[1]);
        assert!(r.lines[2].contains("is suspended"), "{}", r.lines[2]);
    }

    #[test]
    fn the_config_overrides_the_cluster_and_says_so() {
        let config = Config::parse(
            "[environments.staging]\naccount_id = \"222222222222\"\nkube_context = \"staging\"\n\
             restored_from = \"production\"\n",
        )
        .unwrap();
        let s = syncs(vec![("production", read(vec![])), ("staging", read(vec![]))]);
        let r = decide("app", &config, &s, now());
        assert_eq!(r.pairs, [("staging".to_owned(), "production".to_owned())]);
        assert!(
            r.lines[1]
                .contains("config says otherwise ([environments.staging] restored_from = \"production\")"),
            "{}",
            r.lines[1]
        );

        let off = Config::parse("[apps.app]\ncopied_by_restore = false\n").unwrap();
        let s = syncs(vec![
            ("production", read(vec![])),
            ("staging", read(vec![job(Some("production"), false, None)])),
        ]);
        let r = decide("app", &off, &s, now());
        assert!(r.pairs.is_empty());
        assert!(r.lines[1].contains("copied_by_restore = false"), "{}", r.lines[1]);
    }

    #[test]
    fn an_unread_cluster_follows_the_config_or_the_default() {
        let s = syncs(vec![
            ("production", Err("forbidden".into())),
            ("staging", Err("forbidden".into())),
        ]);
        let r = decide("app", &Config::default(), &s, now());
        assert_eq!(r.pairs, [("staging".to_owned(), "production".to_owned())]);
        assert!(
            r.lines[1].contains("could not be read (forbidden)")
                && r.lines[1].contains("restored from production"),
            "{}",
            r.lines[1]
        );
    }
}
