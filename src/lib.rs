//! rotui: rotate an application's AWS RDS credentials end to end, and watch
//! every part of it happen live.

pub mod app;
pub mod aws;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod connect;
pub mod db;
pub mod discover;
pub mod environments;
pub mod event_loop;
pub mod fault;
pub mod fleet;
pub mod k8s;
pub mod logging;
pub mod model;
pub mod paths;
pub mod preflight;
pub mod rotation;
pub mod secret;
pub mod stable_hash;
pub mod target;
pub mod text;
pub mod tui;
pub mod ui;
pub mod webhook;
pub mod workers;
