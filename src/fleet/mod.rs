//! The fleet: every database app's credentials in one environment, how old
//! they are, whether they are due, and whether anything is half-rotated —
//! read from Secrets Manager (the `govuk/*` database secrets, their versions
//! and rotation marks) and the cluster (the ExternalSecrets reading them and
//! the Secrets they write, and the workloads reading those), and each
//! app's server, logged in to with AWSCURRENT to read its version.
//!
//! Read-only by construction: [`load`] only lists, gets, describes and logs
//! in; no write call is reachable from this module. One [`FleetRow`] per
//! (environment, app secret), so several environments side by side are just
//! more rows.

mod load;
mod model;
mod probe;
pub mod render;
pub mod view;

pub use load::{CONCURRENCY, LOGIN_LIMIT, Logins, Read, SECRET_PREFIX, Tried, apply_logins, load, read};
pub use model::{
    Calls, EsSync, FleetError, FleetReport, FleetRow, InProgress, Login, Matches, RowRestore, app_of_secret,
    engine_of_secret, username_date,
};
