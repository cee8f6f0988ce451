//! The dashboard's config file: `$XDG_CONFIG_HOME/rotui/config.toml`.
//!
//! ```toml
//! refresh_ms = 1000        # connections & co. poll interval
//! theme = "default"        # or "mono" (also chosen by NO_COLOR)
//! [keys]                   # action = key or [keys]; replaces that action's keys
//! kill = "ctrl-k"
//! down = ["j", "down", "ctrl-n"]
//! [environments.production]  # see crate::environments
//! account_id = "172025368201"
//! kube_context = "production"
//! [apps.account-api]
//! copied_by_restore = false
//! ```
//!
//! A missing file is the defaults. Bad keymap entries are warnings shown in
//! the dashboard, not failures; a file that is not valid TOML is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::environments::{AppConfig, Environments};

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub refresh_ms: Option<u64>,
    pub theme: Option<String>,
    #[serde(default)]
    pub keys: BTreeMap<String, Keys>,
    /// Each environment's AWS account and cluster ([`crate::environments`]).
    #[serde(default)]
    pub environments: Environments,
    /// Per-app settings, by app name.
    #[serde(default)]
    pub apps: BTreeMap<String, AppConfig>,
    /// `rotui fleet`'s policy (`[fleet]`).
    #[serde(default)]
    pub fleet: FleetConfig,
}

/// One key or several.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Keys {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
}

/// The conventional path, if the platform has a config dir.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "rotui").map(|d| d.config_dir().join("config.toml"))
}

/// The file [`Config::load`] reads: `path`, else the default path.
pub fn resolved_path(path: Option<&Path>) -> Option<PathBuf> {
    path.map(Path::to_path_buf).or_else(default_path)
}

impl Config {
    /// Load `path` (or the default path); a missing file gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = resolved_path(path) else {
            return Ok(Config::default());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text).map_err(|message| ConfigError::Parse { path, message }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        for (name, env) in &config.environments {
            env.check(name)?;
        }
        Ok(config)
    }

    /// Each `[keys]` entry as action → keys, for the keymap to apply.
    pub fn key_overrides(&self) -> BTreeMap<String, Vec<String>> {
        self.keys
            .iter()
            .map(|(action, keys)| {
                let keys = match keys {
                    Keys::One(k) => vec![k.clone()],
                    Keys::Many(ks) => ks.clone(),
                };
                (action.clone(), keys)
            })
            .collect()
    }
}

/// The fleet's policy when the config names none.
pub const DEFAULT_MAX_AGE_DAYS: u32 = 90;

/// `rotui fleet`'s policy (`[fleet]`):
///
/// ```toml
/// [fleet]
/// max_age_days = 90                 # credentials older than this are due
/// [fleet.environments.integration]
/// max_age_days = 30                 # per environment
/// ```
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    pub max_age_days: Option<u32>,
    #[serde(default)]
    pub environments: BTreeMap<String, FleetEnvConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FleetEnvConfig {
    pub max_age_days: Option<u32>,
}

impl FleetConfig {
    /// The policy for `env`: its own, else the fleet's, else 90 days.
    pub fn max_age_days(&self, env: &str) -> u32 {
        self.environments
            .get(env)
            .and_then(|e| e.max_age_days)
            .or(self.max_age_days)
            .unwrap_or(DEFAULT_MAX_AGE_DAYS)
    }
}

#[cfg(test)]
mod fleet_policy_tests {
    use crate::config::Config;

    #[test]
    fn environments_override_the_fleet_policy() {
        let c =
            Config::parse("[fleet]\nmax_age_days = 60\n[fleet.environments.integration]\nmax_age_days = 7\n")
                .unwrap();
        assert_eq!(c.fleet.max_age_days("integration"), 7);
        assert_eq!(c.fleet.max_age_days("production"), 60);
        assert_eq!(Config::default().fleet.max_age_days("production"), 90);
        assert!(Config::parse("[fleet]\nmax_age = 1\n").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(Some(&dir.path().join("nope.toml"))).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn invalid_toml_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "refresh_ms = \"often\"\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("config.toml") && err.contains("not valid"), "{err}");
    }
}
