//! The rotation engine: the runbook as guided, resumable, verifiable steps.
//!
//! - [`spec`]: what a rotation is of ([`PlanSpec`]) and what it decided ([`Rotation`]).
//! - [`plan`]: the ordered steps per engine and mode.
//! - [`step`]: what one step is (id, kind, title, why, confirmation); what it does
//!   (observe live state, preview, apply, verify) lives in `steps/`.
//! - [`outcome`]: what comes of a step (observation, applied, wait, errors).
//! - [`context`]: what a step sees while it runs (every environment's ports, the run's
//!   options, the recorder that journals its writes).
//! - [`survey`]: the plan, the rotation and every step's state, read live (`rotui plan`, the Steps pane).
//! - [`ports`]: the narrow interfaces to the database, Secrets Manager and the cluster.
//! - [`runner`]: walks a plan until done, a wait or a failure ([`runner::drive`]: the one loop
//!   `rotui rotate` and the dashboard pump); running again resumes.
//! - [`journal`]: the append-only, secret-free audit record of each rotation.
//! - [`notice`]: what a run tells the team (started, waiting, blocked, finished, rolled
//!   back), only enqueued; [`crate::webhook`] delivers it.
//! - [`operator`]: who runs rotui (the OS user, AWS identities, the holder name marks use).
//! - [`mark`]: the rotation mark on the app secrets (tags): what any laptop resumes from, and
//!   the team-visible lock.
//! - [`rollback`]: the undo of an unfinished rotation while its old user exists, as a plan of its own.
//! - [`cli`]: `rotui plan`, `rotui rotate`, `rotui journal`; `progress`: how `rotate` and
//!   `rollback` print a run's events.
//! - [`adapters`]: the ports on the real `db`, `aws` and `k8s` modules.
//!
//! Each idea has one file, and the files are layered: each imports only
//! files listed before it here, so there is no import cycle among them.
//! `spec`, `operator`, `step`, `interlock`; `mark`, `ports`, `memo`; `plan`,
//! `outcome`, `journal`, `notice`, `context`; `hold` (whose the rotation is, and its
//! mark, which the restore step reads); `steps`; `runner`; `progress`;
//! `rollback`, `survey`, `cli`. The adapters sit on `ports` and `mark`. The
//! crate-facing names are re-exported below, and `runner` and `plan` still
//! re-export what callers have always found there.
//!
//! Wiring `rotui rotate` (the engine never sees flags or URLs): connect the
//! way every command does ([`crate::connect::open`]), then hand the ports to
//! [`cli::rotate_cmd`].
//!
//! ```no_run
//! # async fn rotate(target: rotui::target::Target, conn: rotui::cli::ConnArgs) -> i32 {
//! use rotui::rotation::{cli, journal, Ctx, Mode, PlanSpec, RunOptions};
//! let spec = PlanSpec::for_target(&target, &[], Mode::Normal);
//! let connected = rotui::connect::open(&target, &conn).await;
//! let ports = connected.ports().unwrap();
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
//! connected.close().await;
//! outcome.exit_code() // 0 done, 10 waiting, 1 failed
//! # }
//! ```

pub mod adapters;
pub mod cli;
pub mod context;
pub mod hold;
pub mod interlock;
pub mod journal;
pub mod mark;
mod memo;
pub mod notice;
pub mod operator;
pub mod outcome;
pub mod plan;
pub mod ports;
mod progress;
pub mod report;
pub mod rollback;
pub mod runner;
pub mod spec;
pub mod step;
mod steps;
pub mod survey;

#[cfg(test)]
mod tests;

pub use context::{Ctx, RunOptions, StepCtx, StepEvent};
pub use interlock::InterlockKind;
pub use outcome::{Applied, Observation, RotationError, StepError, StepResult, Wait};
pub use plan::Plan;
pub use runner::RunOutcome;
pub use spec::{Mode, PlanSpec, Restore, Rotation, default_restores};
pub use step::{Confirm, Step, StepId, StepKind};
