//! Each pane's view, one file each: how it draws, and what its tab says
//! while it is hidden. The view of a pane is found by its id ([`view`]),
//! the one place `ui` names every pane.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::app::panes::Pane;
use crate::app::state::State;

mod cluster;
mod connections;
mod objects;
pub(super) mod steps;
mod users;

/// A pane's view.
pub(super) struct View {
    /// Draw the pane into its area.
    pub render: fn(&mut Frame, Rect, &State),
    /// What its tab says beside its name (besides the ✗ of an error), in a word.
    pub badge: fn(&State) -> Option<String>,
}

/// For a pane that has nothing to say in its tab.
fn no_badge(_: &State) -> Option<String> {
    None
}

pub(super) fn view(pane: Pane) -> View {
    match pane {
        Pane::Users => users::VIEW,
        Pane::Objects => objects::VIEW,
        Pane::Connections => connections::VIEW,
        Pane::Cluster => cluster::VIEW,
        Pane::Steps => steps::VIEW,
    }
}
