//! The rotation engine: the runbook as guided, resumable, verifiable steps.
//!
//! - [`plan`]: the ordered steps per engine and mode, and the rotation's decisions.
//! - [`step`]: one step — preview, observe (live state), apply, verify.
//! - [`ports`]: the narrow interfaces to the database, Secrets Manager and the cluster.
//! - [`runner`]: walks a plan until done, a wait or a failure; running again resumes.
//! - [`journal`]: the append-only, secret-free record each rotation resumes from.
//! - [`cli`]: `rotui plan`, `rotui rotate`, `rotui journal`.

pub mod adapters;
pub mod cli;
pub mod interlock;
pub mod journal;
pub mod plan;
pub mod ports;
pub mod runner;
pub mod step;
mod steps;

#[cfg(test)]
mod tests;

pub use plan::{Mode, Plan, PlanSpec, Rotation};
pub use runner::{Outcome, RunOptions, StepEvent, Wait};
pub use step::{Ctx, Step, StepId};
