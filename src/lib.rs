//! rotui: rotate an application's AWS RDS credentials end to end, and watch
//! every part of it happen live.

pub mod aws;
pub mod cli;
pub mod db;
pub mod k8s;
pub mod sandbox;
pub mod secret;
pub mod target;
