//! The estate's description (`assets/sandbox/estate.toml`): environments,
//! each its own AWS account and cluster, apps with their drifted names and
//! every consumer of their Secret, and the data sync (`[sync.<app>.<env>]`,
//! one db-backup CronJob each).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr, eyre};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstateSpec {
    /// The apps' namespace in every cluster.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub environments: BTreeMap<String, EnvSpec>,
    pub apps: BTreeMap<String, AppSpec>,
    /// The data sync, by app: GOV.UK's db-backup CronJobs.
    #[serde(default)]
    pub sync: BTreeMap<String, AppSync>,
}

/// One app's data sync: a CronJob per environment, and the roles its
/// restores hand objects to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AppSync {
    /// NOLOGIN roles the DBAs made in every environment (PostgreSQL), each
    /// granted to the app's login: owner roles, a `db_owner` that is not
    /// the login. A restore handing the database to a role the target
    /// lacks fails, as on GOV.UK.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// By environment.
    #[serde(flatten)]
    pub envs: BTreeMap<String, SyncSpec>,
}

/// `db-backup-<host label>` in one environment (HC `charts/db-backup/values.yaml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSpec {
    /// The environment whose backups it restores (`0-restore`); absent: backup only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Cron, UTC.
    pub schedule: String,
    #[serde(default)]
    pub suspend: bool,
    /// PostgreSQL: `DB_OWNER` (default: the database's name without
    /// `_production`/`draft_`, `-` → `_`, as `scripts/lib.sh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_owner: Option<String>,
    /// `1-transform`'s script, relative to the estate file; the ConfigMap
    /// `db-backup` holds it under its file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSpec {
    /// Its AWS account (12 digits).
    pub account_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Mysql,
    Postgres,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub engine: EngineKind,
    pub database: String,
    /// The login user the app's secret names.
    pub username: String,
    /// The Secrets Manager secret (`username`, `password`, `host`).
    pub app_secret: String,
    /// The ExternalSecret and the Secret it writes (one name, as on GOV.UK).
    pub secret: String,
    /// The templated key of the Secret.
    #[serde(default = "default_secret_key")]
    pub secret_key: String,
    /// The key in `<env>-rds-admin-passwords`.
    pub admin_key: String,
    /// Seed script, relative to the estate file (made absolute by [`EstateSpec::load`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<PathBuf>,
    /// Copied by the data sync (false: planned as its own environment; no
    /// `[sync]` entry of the app may restore).
    #[serde(default = "yes")]
    pub copied_by_restore: bool,
    #[serde(default)]
    pub consumers: Vec<ConsumerSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsumerKind {
    Deployment,
    StatefulSet,
    CronJob,
}

/// A workload reading the app's Secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    pub kind: ConsumerKind,
    pub name: String,
    #[serde(default = "default_container")]
    pub container: String,
    /// The pod's containers when it has several, each reading the Secret
    /// alike (a worker Deployment has one per worker type); else `container`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<String>,
    /// The variable the Secret's key is read into (`env.valueFrom.secretKeyRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Reads the whole Secret (`envFrom.secretRef`).
    #[serde(default)]
    pub env_from: bool,
    #[serde(default = "default_replicas")]
    pub replicas: i32,
    /// A CronJob's schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

fn default_namespace() -> String {
    "apps".into()
}
fn default_region() -> String {
    "eu-west-1".into()
}
fn default_secret_key() -> String {
    "DATABASE_URL".into()
}
fn default_container() -> String {
    "app".into()
}
fn default_replicas() -> i32 {
    1
}
fn yes() -> bool {
    true
}

impl EstateSpec {
    /// `assets/sandbox/estate.toml` in this source tree.
    pub fn default_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/sandbox/estate.toml")
    }

    /// Read and check an estate file; seed paths become absolute.
    pub fn load(path: &Path) -> Result<EstateSpec> {
        let text = std::fs::read_to_string(path).wrap_err_with(|| format!("reading {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).wrap_err_with(|| format!("in {}", path.display()))
    }

    /// Parse an estate; relative seed paths are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<EstateSpec> {
        let mut spec: EstateSpec = toml::from_str(text)?;
        for app in spec.apps.values_mut() {
            if let Some(seed) = &app.seed
                && seed.is_relative()
            {
                app.seed = Some(base.join(seed));
            }
        }
        for sync in spec.sync.values_mut().flat_map(|s| s.envs.values_mut()) {
            if let Some(t) = &sync.transform
                && t.is_relative()
            {
                sync.transform = Some(base.join(t));
            }
        }
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<()> {
        for (name, env) in &self.environments {
            let ok = env.account_id.len() == 12 && env.account_id.bytes().all(|b| b.is_ascii_digit());
            if !ok {
                return Err(eyre!("environment {name}: account_id must be 12 digits"));
            }
        }
        self.check_sync()?;
        for (name, app) in &self.apps {
            for c in &app.consumers {
                if c.env.is_none() && !c.env_from {
                    return Err(eyre!(
                        "app {name}, consumer {}: give `env` or `env_from = true`",
                        c.name
                    ));
                }
                if c.kind == ConsumerKind::CronJob && c.schedule.is_none() {
                    return Err(eyre!("app {name}, CronJob {}: needs a schedule", c.name));
                }
            }
        }
        Ok(())
    }

    fn check_sync(&self) -> Result<()> {
        let envs = || self.environments.keys().cloned().collect::<Vec<_>>().join(", ");
        let mut scripts: BTreeMap<String, &Path> = BTreeMap::new();
        for (app_name, sync) in &self.sync {
            let Some(app) = self.apps.get(app_name) else {
                return Err(eyre!(
                    "[sync.{app_name}]: the estate has no app `{app_name}` (apps: {}); \
                     name an `[apps.*]` key",
                    self.apps.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            };
            if !sync.roles.is_empty() && app.engine != EngineKind::Postgres {
                return Err(eyre!(
                    "[sync.{app_name}]: `roles` are PostgreSQL's; {app_name} is MySQL"
                ));
            }
            for (env, s) in &sync.envs {
                let at = format!("[sync.{app_name}.{env}]");
                if !self.environments.contains_key(env) {
                    return Err(eyre!(
                        "{at}: the estate has no environment `{env}` (environments: {})",
                        envs()
                    ));
                }
                if let Some(from) = &s.from {
                    if !self.environments.contains_key(from) {
                        return Err(eyre!(
                            "{at}: `from` names no environment `{from}` (environments: {})",
                            envs()
                        ));
                    }
                    if from == env {
                        return Err(eyre!("{at}: an environment cannot restore from itself"));
                    }
                    if !app.copied_by_restore {
                        return Err(eyre!(
                            "{at}: {app_name} says `copied_by_restore = false`; drop `from` (backup only) or that line"
                        ));
                    }
                }
                if s.schedule.split_whitespace().count() != 5 {
                    return Err(eyre!(
                        "{at}: schedule `{}` is not a 5-field cron line",
                        s.schedule
                    ));
                }
                if s.db_owner.is_some() && app.engine != EngineKind::Postgres {
                    return Err(eyre!("{at}: `db_owner` is PostgreSQL's; {app_name} is MySQL"));
                }
                if let Some(t) = &s.transform {
                    if s.from.is_none() {
                        return Err(eyre!("{at}: a transform runs after a restore; give `from`"));
                    }
                    let name = script_name(t)
                        .ok_or_else(|| eyre!("{at}: transform {} has no file name", t.display()))?;
                    if !t.is_file() {
                        return Err(eyre!("{at}: transform {} is not a file", t.display()));
                    }
                    if let Some(other) = scripts.insert(name.clone(), t)
                        && other != t.as_path()
                    {
                        return Err(eyre!(
                            "{at}: transform {} and {} share the ConfigMap key {name}; rename one",
                            t.display(),
                            other.display()
                        ));
                    }
                }
            }
        }
        // One source per environment, and no cycle: the syncs run in an order.
        for env in self.environments.keys() {
            let froms: std::collections::BTreeSet<&str> = self
                .sync
                .values()
                .filter_map(|s| s.envs.get(env)?.from.as_deref())
                .collect();
            if froms.len() > 1 {
                return Err(eyre!(
                    "environment {env} is restored from {}: the estate restores each environment from one",
                    froms.into_iter().collect::<Vec<_>>().join(" and ")
                ));
            }
        }
        if self.restored().len()
            != self
                .environments
                .keys()
                .filter(|e| self.restored_from(e).is_some())
                .count()
        {
            return Err(eyre!(
                "the sync's sources form a cycle: no environment can be restored first"
            ));
        }
        Ok(())
    }

    /// The environment `env` is restored from (by any of its syncs).
    pub fn restored_from(&self, env: &str) -> Option<&str> {
        self.sync.values().find_map(|s| s.envs.get(env)?.from.as_deref())
    }

    /// The restored environments with their source, each after its source
    /// (staging, then integration).
    pub fn restored(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = vec![];
        let pending: Vec<(&str, &str)> = self
            .environments
            .keys()
            .filter_map(|e| Some((e.as_str(), self.restored_from(e)?)))
            .collect();
        loop {
            let before = out.len();
            for &(env, from) in &pending {
                let ready = self.restored_from(from).is_none() || out.iter().any(|(e, _)| *e == from);
                if ready && !out.iter().any(|(e, _)| *e == env) {
                    out.push((env, from));
                }
            }
            if out.len() == before {
                return out;
            }
        }
    }

    /// The sync of `app` in `env`, if it has a CronJob there.
    pub fn sync_of(&self, app: &str, env: &str) -> Option<&SyncSpec> {
        self.sync.get(app)?.envs.get(env)
    }

    /// `env` restores the app's database from another environment.
    pub fn is_restored_copy(&self, app: &str, env: &str) -> bool {
        self.sync_of(app, env).is_some_and(|s| s.from.is_some())
    }
}

/// The ConfigMap key of a transform: its file name.
pub fn script_name(path: &Path) -> Option<String> {
    Some(path.file_name()?.to_string_lossy().into_owned())
}

impl AppSpec {
    /// The RDS host's first label (`DB_HOST`, the CronJob's suffix): the
    /// admin key with `-` for `_`, then the engine (INFRA `rds.tf`).
    pub fn host_label(&self) -> String {
        let engine = match self.engine {
            EngineKind::Mysql => "mysql",
            EngineKind::Postgres => "postgres",
        };
        format!("{}-{engine}", self.admin_key.replace('_', "-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_estate_parses() {
        let spec = EstateSpec::load(&EstateSpec::default_path()).unwrap();
        assert_eq!(spec.environments["production"].account_id, "111111111111");
        assert_eq!(spec.environments["integration"].account_id, "333333333333");
        assert_eq!(
            spec.restored(),
            [("staging", "production"), ("integration", "staging")]
        );
        let email = spec.sync_of("email-alert-api", "staging").unwrap();
        assert_eq!(email.db_owner.as_deref(), Some("email-alert-api"));
        assert!(email.transform.as_ref().is_some_and(|t| t.is_file()));
        assert!(spec.sync_of("signon", "integration").unwrap().suspend);
        assert!(spec.sync_of("account-api", "staging").unwrap().from.is_none());
        assert!(
            spec.sync_of("whitehall-admin", "production")
                .unwrap()
                .from
                .is_none()
        );
        assert_eq!(spec.apps["whitehall-admin"].host_label(), "whitehall-mysql");
        assert_eq!(spec.apps["content-store"].host_label(), "content-store-postgres");
        let wh = &spec.apps["whitehall-admin"];
        assert_eq!(
            (wh.secret.as_str(), wh.admin_key.as_str()),
            ("whitehall-admin-mysql", "whitehall")
        );
        assert_eq!(spec.apps["govuk-chat"].admin_key, "chat");
        assert!(!spec.apps["account-api"].copied_by_restore);
        // Apps without a seed get an empty database.
        assert!(
            spec.apps
                .values()
                .all(|a| a.seed.as_ref().is_none_or(|s| s.is_file()))
        );
        let router = &spec.apps["content-store"].consumers[1];
        assert_eq!(router.env.as_deref(), Some("CONTENT_STORE_DATABASE_URL"));
    }

    #[test]
    fn unknown_fields_and_bad_accounts_are_refused() {
        let e =
            EstateSpec::parse("[environments.x]\naccount_id = \"1\"\n[apps]\n", Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("12 digits"), "{e}");
        let e = EstateSpec::parse("nope = 1\n[environments]\n[apps]\n", Path::new(".")).unwrap_err();
        assert!(format!("{e:#}").contains("unknown field"), "{e:#}");
    }

    #[test]
    fn a_sync_naming_an_unknown_app_or_environment_is_refused() {
        let base = "[environments.production]\naccount_id = \"111111111111\"\n\
                    [environments.staging]\naccount_id = \"222222222222\"\n\
                    [apps.a]\nengine = \"postgres\"\ndatabase = \"a_production\"\nusername = \"a\"\n\
                    app_secret = \"govuk/a/postgres\"\nsecret = \"a-postgres\"\nadmin_key = \"a\"\n";
        let parse = |sync: &str| EstateSpec::parse(&format!("{base}{sync}"), Path::new("."));
        let ok = parse("[sync.a.staging]\nfrom = \"production\"\nschedule = \"0 1 * * 1-5\"\n").unwrap();
        assert_eq!(ok.restored(), [("staging", "production")]);
        for (sync, said) in [
            ("[sync.b.staging]\nschedule = \"0 1 * * *\"\n", "no app `b`"),
            ("[sync.a.qa]\nschedule = \"0 1 * * *\"\n", "no environment `qa`"),
            (
                "[sync.a.staging]\nfrom = \"prod\"\nschedule = \"0 1 * * *\"\n",
                "`from` names no environment `prod`",
            ),
            (
                "[sync.a.staging]\nfrom = \"production\"\nschedule = \"daily\"\n",
                "5-field",
            ),
            (
                "[sync.a.staging]\nfrom = \"production\"\nschedule = \"0 1 * * *\"\n\
                 [sync.a.production]\nfrom = \"staging\"\nschedule = \"0 1 * * *\"\n",
                "cycle",
            ),
            (
                "[sync.a.staging]\nschedule = \"0 1 * * *\"\nhow = 1\n",
                "unknown field",
            ),
        ] {
            let e = parse(sync).unwrap_err();
            assert!(format!("{e:#}").contains(said), "{sync}: {e:#}");
        }
    }
}
