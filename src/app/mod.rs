//! The dashboard's core, in The Elm Architecture's shape: [`State`] (the
//! model), [`Action`] (messages from keys, the clock and workers),
//! [`update`] (the only mutation, returning [`Command`]s for the worker
//! layer) and `ui::render` (a pure view of the state).

pub mod action;
pub mod keymap;
pub mod state;
pub mod update;

mod run;

pub use action::{Action, Command, Fetched, KillTarget, Request, StepId};
pub use keymap::{KeyAction, Keymap};
pub use run::{Outcome, run, run_loop};
pub use state::{Pane, State};
pub use update::update;

/// The state the dashboard starts in: the target, `--read-only`, and the
/// config's keymap (its warnings shown), refresh interval and theme
/// (`NO_COLOR` wins).
pub fn initial_state(
    target: Option<crate::target::Target>,
    read_only: bool,
    config: &crate::config::Config,
    now: chrono::DateTime<chrono::Utc>,
) -> State {
    let mut state = State::new(target, now);
    let (keymap, warnings) = config.keymap();
    state.keymap = keymap;
    state.warnings = warnings;
    state.read_only = read_only;
    state.interval_ms = config.refresh_ms();
    state.theme = crate::ui::theme::Theme::from_env(config.theme.as_deref());
    state
}
