//! The estate's description (`assets/sandbox/estate.toml`): environments,
//! each its own AWS account and cluster, and apps with their drifted names
//! and every consumer of their Secret.

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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSpec {
    /// Its AWS account (12 digits).
    pub account_id: String,
    /// The environment its PostgreSQL databases are restored from nightly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
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
    /// Copied to environments with `restored_from` (false: planned as its own environment).
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
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<()> {
        for (name, env) in &self.environments {
            let ok = env.account_id.len() == 12 && env.account_id.bytes().all(|b| b.is_ascii_digit());
            if !ok {
                return Err(eyre!("environment {name}: account_id must be 12 digits"));
            }
            if let Some(from) = &env.restored_from
                && !self.environments.contains_key(from)
            {
                return Err(eyre!(
                    "environment {name}: restored_from names no environment `{from}`"
                ));
            }
        }
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

    /// The environments restored from another, with their source.
    pub fn restored(&self) -> impl Iterator<Item = (&str, &str)> {
        self.environments
            .iter()
            .filter_map(|(n, e)| e.restored_from.as_deref().map(|f| (n.as_str(), f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_estate_parses() {
        let spec = EstateSpec::load(&EstateSpec::default_path()).unwrap();
        assert_eq!(spec.environments["production"].account_id, "111111111111");
        assert_eq!(spec.restored().collect::<Vec<_>>(), [("staging", "production")]);
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
}
