//! What the fleet view shows: one row per (environment, app secret), the
//! errors of the systems that could not be read, and how many calls each
//! system took. Nothing here ever holds a password: the loader compares
//! them and keeps only the verdicts.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::target::Engine;

use crate::model::{System, Verdict};

/// One database app secret in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetRow {
    pub env: String,
    pub app: String,
    /// The Secrets Manager secret (`govuk/<app>/<engine>`, or a drifted name).
    pub secret: String,
    /// From the secret's name, else the Secret's DATABASE_URL scheme.
    pub engine: Option<Engine>,
    /// AWSCURRENT's username.
    pub username: Option<String>,
    /// When the AWSCURRENT version was created.
    pub current_since: Option<DateTime<Utc>>,
    /// The date in the username (`_user_YYYYMMDD` / `-user-YYYYMMDD`).
    pub username_date: Option<NaiveDate>,
    /// The credentials' age in whole days: from the older of the two dates,
    /// so an edit of the secret that kept the credentials does not hide them.
    pub age_days: Option<i64>,
    pub max_age_days: u32,
    /// Older than `max_age_days`.
    pub due: bool,
    /// An unfinished rotation (AWSPENDING, or a rotation mark).
    pub rotation: Option<InProgress>,
    /// The ExternalSecrets whose remote key is this secret.
    pub external_secrets: Vec<EsSync>,
    /// Secrets Manager could not be read for this row (redacted).
    pub secrets_error: Option<String>,
    /// The cluster could not be read for this row (redacted).
    pub cluster_error: Option<String>,
    /// The last refresh failed for this row: what is shown is from before.
    pub stale: bool,
    /// AWSCURRENT's credentials tried on the server they name (with the
    /// server's version when they log in); `None` when not tried.
    pub login: Option<Login>,
    /// The data sync of this database in this environment (its
    /// `db-backup-…` CronJobs that restore it); empty: not copied here.
    pub restores: Vec<RowRestore>,
}

/// One restore of the row's database into its environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowRestore {
    pub cronjob: String,
    /// The environment it copies from.
    pub from: Option<String>,
    pub suspended: bool,
    /// The next run (`None`: suspended, or not knowable).
    pub next: Option<DateTime<Utc>>,
    /// How the last run ended (`None`: no run kept).
    pub last: Option<crate::k8s::db_sync::RunOutcome>,
    /// Why the next restore would fail once this environment is rotated
    /// (its `DB_OWNER` is the login a rotation drops).
    pub would_fail: Option<String>,
}

impl RowRestore {
    /// From a parsed CronJob, for a row whose login is `login`.
    pub fn of(job: &crate::k8s::db_sync::SyncJob, login: Option<&str>, now: DateTime<Utc>) -> RowRestore {
        let would_fail = match (&job.db_owner, login) {
            (Some(owner), Some(login)) if owner.name == login => Some(format!(
                "its DB_OWNER is the login {login}: the restore fails once a rotation drops it \
                 (set DB_OWNER to an owner role first)"
            )),
            _ => None,
        };
        RowRestore {
            cronjob: job.cronjob.clone(),
            from: job.restored_from(),
            suspended: job.suspended,
            next: job.next_run(now).ok().flatten(),
            last: job.last_run.as_ref().map(|r| r.outcome.clone()),
            would_fail,
        }
    }

    /// `← production Mon 01:00, last ok`, `← staging suspended`.
    pub fn text(&self) -> String {
        use crate::k8s::db_sync::RunOutcome;
        let from = self.from.as_deref().unwrap_or("?");
        let when = match (self.suspended, self.next) {
            (true, _) => "suspended".to_owned(),
            (false, Some(t)) => format!("next {}", t.format("%a %d %b %H:%M")),
            (false, None) => "next unknown".to_owned(),
        };
        let last = match &self.last {
            None => "no run yet".to_owned(),
            Some(RunOutcome::Running) => "running".to_owned(),
            Some(RunOutcome::Succeeded { .. }) => "last ok".to_owned(),
            Some(RunOutcome::Failed { why }) => format!("LAST FAILED: {why}"),
        };
        let mut s = format!("restore ← {from} {when}, {last}");
        if let Some(why) = &self.would_fail {
            s.push_str(&format!("; ⚠ {why}"));
        }
        s
    }
}

/// What the server said to AWSCURRENT's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "detail")]
pub enum Login {
    /// Logged in: the server's version.
    Ok { version: String },
    /// The server refused them (redacted).
    Refused(String),
    /// No answer in time, or no route (redacted): from a laptop, RDS is
    /// often reachable only through a tunnel.
    Unreachable(String),
    /// Not tried, and why (no host, no engine, `--no-login`).
    NotTried(String),
}

/// A rotation that has begun and not ended, as the systems show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InProgress {
    /// An AWSPENDING version other than AWSCURRENT exists.
    pub pending: bool,
    pub rotation_id: Option<String>,
    /// `os-user@host` from the rotation mark.
    pub holder: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub heartbeat: Option<DateTime<Utc>>,
    pub new_username: Option<String>,
    /// The step its holder last began, from the rotation mark.
    pub step: Option<String>,
    /// Where it stands, as far as Secrets Manager tells.
    pub phase: String,
    /// The mark is there but cannot be read.
    pub mark_error: Option<String>,
}

/// One ExternalSecret reading the app's secret, and the Secret it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EsSync {
    pub name: String,
    /// Ready condition: Ready=True, not ready, or not reported yet.
    pub ready: Verdict,
    pub reason: Option<String>,
    /// The condition's message when not ready (redacted).
    pub message: Option<String>,
    /// The Kubernetes Secret it writes.
    pub secret: String,
    /// Whether that Secret's DATABASE_URL holds AWSCURRENT's user and password.
    pub matches: Matches,
    /// The workloads reading that Secret (`deployment/signon`,
    /// `cronjob/signon-cleanup`, …), whichever app they belong to.
    pub consumers: Vec<String>,
    /// Those of them that are paused Deployments (`kubectl rollout pause`,
    /// or a `--stagger` run that stopped before resuming them): they roll
    /// out nothing, the next sync's restart or a deploy included.
    pub paused: Vec<String>,
}

/// How a Secret's DATABASE_URL compares with AWSCURRENT (never the values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "detail")]
pub enum Matches {
    Yes,
    /// The user, the password or both differ.
    No {
        user_matches: bool,
        password_matches: bool,
    },
    /// Could not be compared (the Secret or the current version unreadable).
    Unknown(String),
}

/// An error of one system in one environment, for all its rows
/// (`scope: None`) or one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetError {
    pub env: String,
    pub system: System,
    /// The secret or object it is about, if not the whole system.
    pub scope: Option<String>,
    /// Redacted.
    pub message: String,
}

/// Calls made per system (the bench's measure; bounded concurrency keeps
/// the rate down, this keeps the total honest).
#[derive(Debug, Default, Serialize)]
pub struct Calls {
    pub secrets_manager: AtomicU32,
    pub kubernetes: AtomicU32,
    /// Logins to database servers.
    pub databases: AtomicU32,
}

impl Calls {
    fn counter(&self, system: System) -> &AtomicU32 {
        match system {
            System::SecretsManager => &self.secrets_manager,
            System::Kubernetes => &self.kubernetes,
            System::Database => &self.databases,
        }
    }

    pub fn count(&self, system: System) {
        self.add(system, 1);
    }

    pub fn add(&self, system: System, n: u32) {
        self.counter(system).fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self, system: System) -> u32 {
        self.counter(system).load(Ordering::Relaxed)
    }
}

impl Clone for Calls {
    fn clone(&self) -> Self {
        let c = Calls::default();
        for s in System::ALL {
            c.add(s, self.get(s));
        }
        c
    }
}

impl PartialEq for Calls {
    fn eq(&self, other: &Self) -> bool {
        System::ALL.iter().all(|s| self.get(*s) == other.get(*s))
    }
}

/// The fleet of one or more environments as loaded at `loaded_at`
/// (`rotui fleet --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetReport {
    /// The environments, comma-separated (as `--env` takes them).
    pub env: String,
    /// The environments, in the order asked for.
    pub envs: Vec<String>,
    pub loaded_at: DateTime<Utc>,
    pub rows: Vec<FleetRow>,
    pub errors: Vec<FleetError>,
    pub calls: Calls,
    /// When each environment's credentials expire (those that say), for
    /// the header's countdown; not part of `--json`.
    #[serde(skip)]
    pub credentials_expire: Vec<(String, DateTime<Utc>)>,
}

impl FleetRow {
    /// Due, or a rotation unfinished: what a scheduled job alerts on.
    pub fn needs_attention(&self) -> bool {
        self.due || self.rotation.is_some()
    }

    /// Every ExternalSecret's Secret holds AWSCURRENT: `Yes`; one does
    /// not: `No`; none known or not comparable: `Unknown`.
    pub fn secrets_match(&self) -> Verdict {
        Verdict::all(self.external_secrets.iter().map(|es| match es.matches {
            Matches::Yes => Verdict::Yes,
            Matches::No { .. } => Verdict::No,
            Matches::Unknown(_) => Verdict::Unknown,
        }))
    }

    /// Every workload reading one of the row's Secrets, each once.
    pub fn readers(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .external_secrets
            .iter()
            .flat_map(|es| es.consumers.iter().map(String::as_str))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Every paused Deployment reading one of the row's Secrets, each once.
    pub fn paused_readers(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .external_secrets
            .iter()
            .flat_map(|es| es.paused.iter().map(String::as_str))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Every ExternalSecret Ready: `Yes`; one not: `No`.
    pub fn synced(&self) -> Verdict {
        Verdict::all(self.external_secrets.iter().map(|es| es.ready))
    }

    /// Work out age and due from the two dates, at `now`.
    pub fn set_age(&mut self, now: DateTime<Utc>) {
        let from_name = self
            .username_date
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        let since = match (self.current_since, from_name) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let age = since.map(|s| now - s);
        self.age_days = age.map(|a| a.num_days().max(0));
        // A policy of 0 days makes everything due (an alert's dry run), even
        // a version whose second-rounded creation reads as just after now.
        self.due =
            age.is_some_and(|a| self.max_age_days == 0 || a > Duration::days(i64::from(self.max_age_days)));
    }
}

impl FleetReport {
    /// Several environments' loads as one: rows, errors and calls of all,
    /// loaded when the earliest was (the oldest data shown).
    pub fn merge(reports: Vec<FleetReport>) -> FleetReport {
        let envs: Vec<String> = reports.iter().flat_map(|r| r.envs.clone()).collect();
        let loaded_at = reports.iter().map(|r| r.loaded_at).min().unwrap_or_else(Utc::now);
        let calls = Calls::default();
        let (mut rows, mut errors, mut credentials_expire) = (Vec::new(), Vec::new(), Vec::new());
        for r in reports {
            credentials_expire.extend(r.credentials_expire);
            for system in System::ALL {
                calls.add(system, r.calls.get(system));
            }
            rows.extend(r.rows);
            errors.extend(r.errors);
        }
        FleetReport {
            env: envs.join(","),
            envs,
            loaded_at,
            rows,
            errors,
            calls,
            credentials_expire,
        }
    }

    /// `rotui fleet --json`'s exit code: 3 when an app is due or
    /// half-rotated, else 1 when a system could not be read, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.rows.iter().any(FleetRow::needs_attention) {
            3
        } else if !self.errors.is_empty() || self.rows.iter().any(|r| r.secrets_error.is_some()) {
            1
        } else {
            0
        }
    }
}

/// `govuk/<app>/<rest>` → `<app>`.
pub fn app_of_secret(name: &str) -> Option<&str> {
    let mut parts = name.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("govuk"), Some(app), Some(rest)) if !app.is_empty() && !rest.is_empty() => Some(app),
        _ => None,
    }
}

/// The engine a secret's name suggests: its last part mentions mysql,
/// mariadb or postgres (`mysql-primary`, `postgresql`).
pub fn engine_of_secret(name: &str) -> Option<Engine> {
    Engine::named_in(name.rsplit('/').next().unwrap_or(""))
}

/// The date a rotated username carries: `signon_user_20261203`,
/// `account-api-user-20261203-2` → 2026-12-03.
pub fn username_date(username: &str) -> Option<NaiveDate> {
    for marker in ["_user_", "-user-"] {
        if let Some(i) = username.rfind(marker) {
            let digits = username[i + marker.len()..].get(..8)?;
            if digits.chars().all(|c| c.is_ascii_digit()) {
                return NaiveDate::parse_from_str(digits, "%Y%m%d").ok();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_whose_db_owner_is_the_login_would_fail_after_a_rotation() {
        use crate::k8s::db_sync::{DbOwner, Operation, SyncJob};
        let job = |owner: &str| SyncJob {
            cronjob: "db-backup-email-alert-api-postgres".into(),
            engine: Engine::Postgres,
            db_host: "email-alert-api-postgres".into(),
            database: "email-alert-api_production".into(),
            schedule: "0 1 * * 1-5".into(),
            time_zone: None,
            suspended: false,
            operations: vec![Operation {
                op: "restore".into(),
                script: None,
                bucket: Some("s3://govuk-production-database-backups".into()),
            }],
            db_owner: Some(DbOwner {
                name: owner.into(),
                explicit: true,
            }),
            last_run: None,
        };
        let now: DateTime<Utc> = "2026-12-05T12:00:00Z".parse().unwrap();
        let login = Some("email-alert-api");
        let r = RowRestore::of(&job("email-alert-api"), login, now);
        assert_eq!(r.from.as_deref(), Some("production"));
        assert_eq!(r.next, Some("2026-12-07T01:00:00Z".parse().unwrap()));
        assert!(
            r.would_fail
                .unwrap()
                .contains("DB_OWNER is the login email-alert-api")
        );
        assert!(
            RowRestore::of(&job("email-alert-api-owner-role"), login, now)
                .would_fail
                .is_none()
        );
    }

    fn row() -> FleetRow {
        FleetRow {
            env: "production".into(),
            app: "signon".into(),
            secret: "govuk/signon/mysql".into(),
            engine: Some(Engine::Mysql),
            username: Some("signon_user_20260101".into()),
            current_since: None,
            username_date: username_date("signon_user_20260101"),
            age_days: None,
            max_age_days: 90,
            due: false,
            rotation: None,
            external_secrets: vec![],
            secrets_error: None,
            cluster_error: None,
            stale: false,
            login: None,
            restores: vec![],
        }
    }

    #[test]
    fn names_give_app_engine_and_date() {
        assert_eq!(app_of_secret("govuk/signon/mysql"), Some("signon"));
        assert_eq!(app_of_secret("govuk/signon"), None);
        assert_eq!(app_of_secret("other/signon/mysql"), None);
        assert_eq!(
            engine_of_secret("govuk/collections-publisher/mysql-primary"),
            Some(Engine::Mysql)
        );
        assert_eq!(
            engine_of_secret("govuk/account-api/postgres"),
            Some(Engine::Postgres)
        );
        assert_eq!(engine_of_secret("govuk/signon/oauth"), None);
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(username_date("signon_user_20261203"), d(2026, 12, 3));
        assert_eq!(username_date("account-api-user-20261203-2"), d(2026, 12, 3));
        assert_eq!(
            username_date("collections-pu1b4b_user_20261203_3"),
            d(2026, 12, 3)
        );
        assert_eq!(username_date("signon"), None);
        assert_eq!(username_date("x_user_2026"), None);
        assert_eq!(username_date("x_user_20261399"), None);
    }

    #[test]
    fn age_is_from_the_older_date_and_due_past_the_policy() {
        let now = DateTime::parse_from_rfc3339("2026-04-15T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut r = row();
        // The version is recent (an edit kept the credentials); the name is not.
        r.current_since = Some(now - Duration::days(3));
        r.set_age(now);
        assert_eq!(r.age_days, Some(104));
        assert!(r.due && r.needs_attention());
        r.max_age_days = 200;
        r.set_age(now);
        assert!(!r.due);
        // No dated name: the version's age; policy 0 makes any age due.
        r.username = Some("signon".into());
        r.username_date = None;
        r.max_age_days = 0;
        r.current_since = Some(now - Duration::minutes(1));
        r.set_age(now);
        assert_eq!(r.age_days, Some(0));
        assert!(r.due);
    }

    #[test]
    fn the_exit_code_alerts_on_due_or_half_rotated_first() {
        let mut report = FleetReport {
            env: "production".into(),
            envs: vec!["production".into()],
            loaded_at: Utc::now(),
            rows: vec![row()],
            errors: vec![],
            calls: Calls::default(),
            credentials_expire: Vec::new(),
        };
        assert_eq!(report.exit_code(), 0);
        report.errors.push(FleetError {
            env: "production".into(),
            system: System::Kubernetes,
            scope: None,
            message: "unreachable".into(),
        });
        assert_eq!(report.exit_code(), 1);
        report.rows[0].rotation = Some(InProgress {
            pending: true,
            rotation_id: None,
            holder: None,
            since: None,
            heartbeat: None,
            new_username: None,
            step: None,
            phase: "pending".into(),
            mark_error: None,
        });
        assert_eq!(report.exit_code(), 3);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["calls"]["secrets_manager"], 0);
        assert_eq!(json["rows"][0]["rotation"]["pending"], true);
    }

    #[test]
    fn several_environments_merge_into_one_report_and_one_exit_code() {
        let one = |env: &str, due: bool, sm: u32| {
            let mut r = row();
            r.env = env.into();
            r.due = due;
            let report = FleetReport {
                env: env.into(),
                envs: vec![env.into()],
                loaded_at: Utc::now(),
                rows: vec![r],
                errors: vec![],
                calls: Calls::default(),
                credentials_expire: Vec::new(),
            };
            report.calls.secrets_manager.store(sm, Ordering::Relaxed);
            report
        };
        let both = FleetReport::merge(vec![one("production", false, 5), one("staging", false, 3)]);
        assert_eq!(both.env, "production,staging");
        assert_eq!(both.envs, ["production", "staging"]);
        assert_eq!(both.rows.len(), 2);
        assert_eq!(both.calls.get(System::SecretsManager), 8);
        assert_eq!(both.exit_code(), 0);
        // Staging's due app is the whole fleet's alert.
        let both = FleetReport::merge(vec![one("production", false, 5), one("staging", true, 3)]);
        assert_eq!(both.exit_code(), 3);
    }

    #[test]
    fn match_and_sync_summaries() {
        let es = |ready, matches| EsSync {
            name: "signon-mysql".into(),
            ready,
            reason: None,
            message: None,
            secret: "signon-mysql".into(),
            matches,
            consumers: vec![],
            paused: vec![],
        };
        let mut r = row();
        assert_eq!(
            (r.secrets_match(), r.synced()),
            (Verdict::Unknown, Verdict::Unknown)
        );
        r.external_secrets = vec![es(Verdict::Yes, Matches::Yes)];
        assert_eq!((r.secrets_match(), r.synced()), (Verdict::Yes, Verdict::Yes));
        r.external_secrets
            .push(es(Verdict::Unknown, Matches::Unknown("x".into())));
        assert_eq!(
            (r.secrets_match(), r.synced()),
            (Verdict::Unknown, Verdict::Unknown)
        );
        r.external_secrets.push(es(
            Verdict::No,
            Matches::No {
                user_matches: true,
                password_matches: false,
            },
        ));
        assert_eq!((r.secrets_match(), r.synced()), (Verdict::No, Verdict::No));
    }
}
