//! The rotation engine: the runbook as guided, resumable, verifiable steps.
//!
//! - [`plan`]: the ordered steps per engine and mode, and the rotation's decisions.
//! - [`step`]: one step — preview, observe (live state), apply, verify.
//! - [`ports`]: the narrow interfaces to the database, Secrets Manager and the cluster.
//! - [`runner`]: walks a plan until done, a wait or a failure; running again resumes.
//! - [`journal`]: the append-only, secret-free record each rotation resumes from.
//! - [`cli`]: `rotui plan`, `rotui rotate`, `rotui journal`.
//! - [`adapters`]: the ports on the real `db`, `aws` and `k8s` modules.
//!
//! Wiring `rotui rotate` (the engine never sees flags or URLs):
//!
//! ```no_run
//! # async fn rotate(target: rotui::target::Target, session: rotui::aws::AwsSession,
//! #                 db_url: &str, kube: rotui::k8s::KubeOptions) -> i32 {
//! use rotui::rotation::{adapters, cli, journal, Ctx, Mode, PlanSpec, RunOptions};
//! let spec = PlanSpec::for_target(&target, &[], Mode::Normal);
//! let ports = adapters::connect_env(&target, session, db_url, &kube).await.unwrap();
//! let dir = journal::state_dir().unwrap();
//! let opts = RunOptions { yes: true, ..Default::default() };
//! let outcome = cli::rotate_cmd(
//!     &spec,
//!     &Ctx::new([ports]),
//!     &journal::Journal::for_spec(&dir, &spec),
//!     opts,
//!     &mut std::io::stdout(),
//! )
//! .await;
//! outcome.exit_code() // 0 done, 10 waiting, 1 failed
//! # }
//! ```

pub mod adapters;
pub mod cli;
pub mod interlock;
pub mod journal;
pub mod plan;
pub mod ports;
pub mod runner;
pub mod step;
mod steps;
pub mod survey;

#[cfg(test)]
mod tests;

pub use plan::{Mode, Plan, PlanSpec, Rotation};
pub use runner::{RunOptions, RunOutcome, StepEvent, Wait};
pub use step::{Ctx, Step, StepId};
