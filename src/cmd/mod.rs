//! The subcommands other than the dashboard.

pub mod inspect;
pub mod sandbox;
