//! The dashboard's core, in The Elm Architecture's shape: [`State`] (the
//! model), [`Action`] (messages from keys, the clock and workers),
//! [`update`] (the only mutation, returning [`Effect`]s for the worker
//! layer) and `ui::render` (a pure view of the state). `app` names neither
//! the screen nor the terminal: `ui` reads `app`'s state, and the loop that
//! joins them is `crate::event_loop`.
//!
//! Each pane is a unit ([`panes`]): its model here (what it reads, how
//! often, its rows and selection, how its answers land), its view in
//! `ui::panes`. What workers read and answer is [`source`]; an answer's
//! acceptance, generation by generation, is [`loadable`]'s, once for all.
//!
//! Plugging in the worker layer: create an `Action` channel and an `Effect`
//! channel, give the worker side the `Action` sender and the `Effect`
//! receiver, and call `event_loop::run`. For each `Effect::Fetch { request,
//! generation }` a worker answers with `Action::Loaded` carrying the same
//! generation and the request's [`Answer`] (older generations are dropped on
//! arrival); for `Effect::Watch { generation }` it sends `Answer::Cluster`
//! under that generation each time the cluster changes. Errors travel as text (`Err(String)`) and are
//! redacted again on arrival. Writes (`RunStep`, `Kill`, `ForceSync`) answer
//! with `StepChanged`, `Notice` or `Failed`.
//!
//! ```no_run
//! # async fn demo(target: rotui::target::Target) -> color_eyre::Result<()> {
//! rotui::tui::install_hooks()?;
//! let config = rotui::config::Config::load(None)?;
//! let state = rotui::app::initial_state(Some(target), false, &config, chrono::Utc::now());
//! let (actions_tx, actions_rx) = tokio::sync::mpsc::unbounded_channel();
//! let (commands_tx, mut commands_rx) = tokio::sync::mpsc::unbounded_channel();
//! tokio::spawn(async move {
//!     while let Some(command) = commands_rx.recv().await {
//!         // …carry it out, then `actions_tx.send(Action::…)`.
//!         # let _ = (&command, &actions_tx);
//!     }
//! });
//! rotui::event_loop::run(state, actions_rx, commands_tx).await
//! # }
//! ```

pub mod action;
pub mod clock;
pub mod command_line;
mod dialogs;
pub mod keymap;
pub mod layout;
mod lists;
pub mod loadable;
pub mod panes;
mod receive;
mod schedule;
pub mod selection;
pub mod source;
pub mod state;
pub mod update;

pub use action::{Action, Effect, KillTarget};
pub use keymap::{KeyAction, Keymap};
pub use loadable::Fetched;
pub use panes::Pane;
pub use source::{Answer, Request, Source};
pub use state::State;
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
    let (keymap, warnings) = keymap::Keymap::with_overrides(&config.key_overrides());
    state.keymap = keymap;
    state.warnings = warnings;
    state.read_only = read_only;
    state.interval_ms = state::nearest_interval(config.refresh_ms.unwrap_or(1000));
    state.theme = state::ThemeName::from_env(config.theme.as_deref());
    state.utc_offset = clock::local_offset();
    state
}
