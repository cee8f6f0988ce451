//! The subcommands, each a thin layer over the library.

pub mod credential_process;
pub mod dashboard;
pub mod fleet;
pub mod inspect;
pub mod report;
pub mod restores;
pub mod rotate;
pub mod sandbox;

use color_eyre::eyre::{Result, eyre};

use crate::cli::ConnArgs;
use crate::config::Config;

/// The config, once every environment a command names is one it knows
/// (see [`crate::environments::require_configured`]): refused before
/// anything is connected to, for every command that takes `--env`.
pub(crate) fn config_for(conn: &ConnArgs, envs: &[String]) -> Result<Config> {
    let config = Config::load(conn.config.as_deref())?;
    let path = crate::config::resolved_path(conn.config.as_deref());
    crate::environments::require_configured(&config.environments, envs, path.as_deref())
        .map_err(|e| eyre!(e))?;
    Ok(config)
}
