//! The subcommands, each a thin layer over the library.

pub mod dashboard;
pub mod fleet;
pub mod inspect;
pub mod report;
pub mod rotate;
pub mod sandbox;
