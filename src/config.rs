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

use crate::app::keymap::Keymap;
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
    pub fleet: crate::fleet::FleetConfig,
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
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }

    /// The keymap with this config's overrides, and warnings for bad entries.
    pub fn keymap(&self) -> (Keymap, Vec<String>) {
        let overrides = self
            .keys
            .iter()
            .map(|(action, keys)| {
                let keys = match keys {
                    Keys::One(k) => vec![k.clone()],
                    Keys::Many(ks) => ks.clone(),
                };
                (action.clone(), keys)
            })
            .collect();
        Keymap::with_overrides(&overrides)
    }

    /// The refresh interval, kept within what `+`/`-` can reach.
    pub fn refresh_ms(&self) -> u64 {
        let ms = self.refresh_ms.unwrap_or(1000);
        let allowed = crate::app::state::INTERVALS_MS;
        *allowed.iter().min_by_key(|a| a.abs_diff(ms)).unwrap_or(&1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn a_missing_file_is_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(Some(&dir.path().join("nope.toml"))).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.refresh_ms(), 1000);
    }

    #[test]
    fn keys_override_one_action_at_a_time_and_bad_ones_warn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "refresh_ms = 1900\ntheme = \"mono\"\n[keys]\nkill = \"ctrl-k\"\ndown = [\"j\", \"ctrl-n\"]\nfly = \"x\"\n").unwrap();
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.refresh_ms(), 2000);
        assert_eq!(c.theme.as_deref(), Some("mono"));
        let (km, warnings) = c.keymap();
        assert_eq!(
            km.resolve(&KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL)),
            Some(crate::app::KeyAction::Kill)
        );
        assert_eq!(
            km.resolve(&KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL)),
            Some(crate::app::KeyAction::Down)
        );
        assert_eq!(
            km.resolve(&KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            warnings,
            vec!["keymap: unknown action \"fly\" (ignored)".to_string()]
        );
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
