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
