//! Messages into the app loop ([`Action`]) and side effects asked of the
//! worker layer ([`Effect`]). Workers only ever send Actions; only `update`
//! reads them.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::app::source::{Answer, Request, StepStatus, StepView};
use crate::rotation::StepId;
use crate::secret::Redacted;
use crate::target::Target;

/// Everything that can change the app's state.
// Actions live for one `update` call; boxing the big payloads buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    /// The terminal's size: at the start, and whenever it changes.
    Resize(u16, u16),
    /// The slow clock (~4 Hz). Carries the time so that `update` stays pure.
    Tick(DateTime<Utc>),
    /// A source's answer, under the generation it was asked with: answers
    /// older than what is shown are dropped on arrival.
    Loaded {
        generation: u64,
        at: DateTime<Utc>,
        answer: Answer,
    },
    /// Progress of a step the operator started.
    StepChanged {
        id: StepId,
        status: StepStatus,
        result: Option<Redacted>,
    },
    /// A run of steps the operator started has ended (its outcome comes as
    /// `Notice` or `Failed`): every pane is read afresh, now that the
    /// runner has recorded everything it did.
    RunEnded,
    /// The rollback's preview, step by step, for its dialog.
    RollbackPreview(Result<Vec<StepView>, Redacted>),
    /// A rollback began: the Steps pane shows its steps until the run ends.
    RollbackSteps(Vec<StepView>),
    /// What the last frame measured of the open dialog's scrolling text:
    /// its rows, wrapped to the dialog's width, and how many show at once.
    Measured {
        rows: u16,
        view: u16,
    },
    /// A command finished with something to tell the operator (kill done, sync requested).
    Notice(Redacted),
    /// A command failed; shown as the last error.
    Failed {
        what: String,
        error: Redacted,
    },
}

/// Who a force-kill is aimed at, captured when the operator pressed `K`, so a
/// refresh that reorders rows can never move it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillTarget {
    Connection { id: i64, user: Option<String> },
    AllOf { user: String, count: i64 },
}

/// Side effects `update` asks for; the worker layer carries them out and
/// answers with Actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Fetch {
        request: Request,
        generation: u64,
    },
    /// (Re)start the cluster watch; it answers with `Answer::Cluster` under
    /// this generation whenever the cluster changes.
    Watch {
        generation: u64,
    },
    RunStep(StepId),
    /// Work out the rollback's preview (answered by `RollbackPreview`).
    PreviewRollback,
    /// Roll the unfinished rotation back (dropping the new user when set).
    Rollback {
        drop_new: Option<String>,
    },
    Kill(KillTarget),
    ForceSync,
    /// Write the report of the target's latest rotation (local files only).
    WriteReport,
    SwitchTarget(Box<Target>),
    Quit,
}

impl Effect {
    /// Whether the effect writes anything (SQL, Secrets Manager, Kubernetes).
    /// Every variant is named, so a new effect must be decided here: the
    /// read-only gate cannot default it to "not a write".
    pub fn is_write(&self) -> bool {
        match self {
            Effect::RunStep(_) | Effect::Rollback { .. } | Effect::Kill(_) | Effect::ForceSync => true,
            Effect::Fetch { .. }
            | Effect::Watch { .. }
            | Effect::PreviewRollback
            | Effect::WriteReport
            | Effect::SwitchTarget(_)
            | Effect::Quit => false,
        }
    }
}
