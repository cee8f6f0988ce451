//! The fleet's policy in the config file:
//!
//! ```toml
//! [fleet]
//! max_age_days = 90                 # credentials older than this are due
//! [fleet.environments.integration]
//! max_age_days = 30                 # per environment
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// The policy when the config names none.
pub const DEFAULT_MAX_AGE_DAYS: u32 = 90;

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
mod tests {
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
