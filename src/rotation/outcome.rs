//! What comes of a step: its observation of live state ([`Observation`]),
//! what apply achieved ([`Applied`]), why a run waits ([`Wait`]), and how a
//! step or a run fails ([`StepError`], [`RotationError`]).
//!
//! Plain data, apart from what a step is (`step.rs`) and from what it sees
//! while running (`context.rs`): the steps return it, the runner, the survey
//! and the screens read it, and none of them has to import another for it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::interlock::InterlockKind;
use super::ports::PortError;
use super::step::{Confirm, Step, StepId, StepKind};
use crate::target::EnvName;

/// Live state, as observe() reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum Observation {
    Done(String),
    NotDone(String),
    /// Something apply cannot fix; the reason says what to do.
    Blocked(String),
}

impl Observation {
    pub fn is_done(&self) -> bool {
        matches!(self, Observation::Done(_))
    }
}

/// What apply achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// Not yet: something outside must happen first (sync, rollout, drain, overnight).
    Waiting(Wait),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "error", content = "detail")]
pub enum StepError {
    #[error("{0}")]
    Port(#[from] PortError),
    #[error("blocked: {0}")]
    Blocked(String),
    /// A safety interlock refused the step: which one, and why in words.
    #[error("refused by a safety interlock: {message}")]
    Interlock { kind: InterlockKind, message: String },
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("journal: {0}")]
    Journal(String),
    #[error("no connection set up for environment {0}")]
    NoEnvironment(String),
    /// Another operator, or another rotui, holds the rotation (its mark or
    /// the database lock): who, since when, and what to do.
    #[error("{0}")]
    Held(String),
}

impl StepError {
    /// The interlock `kind` refused the step, for the reason `message`.
    pub fn interlock(kind: InterlockKind, message: impl Into<String>) -> StepError {
        StepError::Interlock {
            kind,
            message: message.into(),
        }
    }
}

pub type StepResult<T> = Result<T, StepError>;

/// Why a run stopped without finishing or failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "wait")]
pub enum Wait {
    Overnight {
        env: EnvName,
        from: EnvName,
    },
    Sync {
        env: EnvName,
        external_secret: String,
    },
    Rollout {
        env: EnvName,
        detail: String,
    },
    Drain {
        env: EnvName,
        user: String,
        detail: String,
    },
    Confirmation {
        step: StepId,
        confirm: Confirm,
    },
    Paused {
        after: StepId,
    },
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wait::Overnight { env, from } => write!(
                f,
                "waiting for the overnight {from}-to-{env} sync: run `rotui rotate` again tomorrow"
            ),
            Wait::Sync { env, external_secret } => write!(
                f,
                "ExternalSecret {external_secret} in {env} has not synced yet: run again to keep waiting"
            ),
            Wait::Rollout { env, detail } => write!(f, "{env}: {detail}: run again to keep waiting"),
            Wait::Drain { env, user, detail } => write!(
                f,
                "{env}: {detail}: run again to keep waiting, or end {user}'s connections (kill leftovers)"
            ),
            Wait::Confirmation { step, confirm } => match confirm {
                // The flag `rotate` (or `rollback`) takes the typed word in.
                Confirm::Typed(word) => {
                    let flag = if step.0.ends_with(Step::slug(&StepKind::DropNewUser)) {
                        "--confirm-drop-new"
                    } else {
                        "--confirm-drop"
                    };
                    write!(
                        f,
                        "{step} drops {word} for good: run again with {flag} {word} to confirm"
                    )
                }
                _ => write!(f, "{step} writes: confirm it (or run with --yes)"),
            },
            // Not "paused": the dashboard's refresh pauses, which is another thing.
            Wait::Paused { after } => write!(
                f,
                "stopped after {after}, one step at a time: run the next step (or `rotui rotate`) to go on"
            ),
        }
    }
}

/// A failure, with the step it happened in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{error}", .step.as_ref().map(|s| format!("{s}: ")).unwrap_or_default())]
pub struct RotationError {
    pub step: Option<StepId>,
    pub error: StepError,
}
