//! Integration tests, one binary: the throwaway servers are started once per
//! run and shared; each test uses its own database and user names.

mod support;
mod tmux;

mod aws_secrets;
mod consumers;
mod db_mysql;
mod db_postgres;
mod discover;
mod e2e_screens;
mod e2e_tui;
mod environments;
mod estate;
mod failed_logins;
mod faults;
mod fleet;
mod fleet_estate;
mod frozen;
mod hardening;
mod inspect;
mod k8s;
mod layers;
mod mistakes;
mod preflight;
mod races;
mod rollback_cli;
mod rotation;
mod sandbox;
mod sandbox_cluster;
mod staging_restore;
mod tls;
mod ui;
mod unparsable_url_cli;
mod webhooks;
