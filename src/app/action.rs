//! Messages into the app loop ([`Action`]) and side effects asked of the
//! worker layer ([`Effect`]). Workers only ever send Actions; only `update`
//! reads them.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::app::state::{ClusterView, PlanView, SessionView};
use crate::model::{ConnectionSnapshot, DbObject, Grant, User};
use crate::rotation::StepId;
use crate::secret::Redacted;
use crate::target::Target;

/// A worker's answer: data, or an error message, redacted by construction.
pub type Fetched<T> = Result<T, Redacted>;

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
        status: crate::app::state::StepStatus,
        result: Option<Redacted>,
    },
    /// A run of steps the operator started has ended (its outcome comes as
    /// `Notice` or `Failed`): every pane is read afresh, now that the
    /// runner has recorded everything it did.
    RunEnded,
    /// The rollback's preview, step by step, for its dialog.
    RollbackPreview(Result<Vec<crate::app::state::StepView>, Redacted>),
    /// A rollback began: the Steps pane shows its steps until the run ends.
    RollbackSteps(Vec<crate::app::state::StepView>),
    /// A command finished with something to tell the operator (kill done, sync requested).
    Notice(Redacted),
    /// A command failed; shown as the last error.
    Failed {
        what: String,
        error: Redacted,
    },
}

/// What a source answered: the data of a [`Request`] (or of the cluster
/// watch), or why there is none.
// One answer at a time, gone once applied: boxing the big ones buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Answer {
    Users(Fetched<Vec<User>>),
    /// `user`: the key the grants were asked for (dropped if another user
    /// is selected by the time they come).
    Grants {
        user: String,
        result: Fetched<Vec<Grant>>,
    },
    Objects(Fetched<Vec<DbObject>>),
    Connections(Fetched<ConnectionSnapshot>),
    Cluster(Fetched<ClusterView>),
    Plan(Fetched<PlanView>),
    Session(Fetched<SessionView>),
}

/// What a refresh fetches. The parameters the worker needs travel with it;
/// each request has one answer, the [`Answer`] of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Users,
    /// `user` is the selected row's key: `name@host` (MySQL) or the role name.
    Grants {
        user: String,
    },
    Objects,
    /// `rows`: the single connections too, not only the counts per user.
    Connections {
        rows: bool,
    },
    /// The rotation plan: every step with its state (the Steps pane).
    Plan,
    Session,
}

/// Where a pane's data comes from: fetched on request, or (the cluster)
/// watched, answering whenever it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Fetch(Request),
    Cluster,
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
            | Effect::SwitchTarget(_)
            | Effect::Quit => false,
        }
    }
}
