//! The panes' lists as update moves them: the selection put back on its
//! row after new data or a new filter, moved by keys, and followed by what
//! the pane asks for the selected row (the Users pane: its grants).

use crate::app::action::Effect;
use crate::app::panes::{Pane, pane};
use crate::app::state::State;

use super::schedule::ask;

/// After new data or a new filter: the visible rows again, the cursor back
/// on the selected key.
pub(super) fn reindex(state: &mut State, pane: Pane, out: &mut Vec<Effect>) {
    state.dirty = true;
    pane::reindex(state.panes.get_mut(pane));
    follow(state, pane, out);
}

pub(super) fn move_by(state: &mut State, pane: Pane, by: isize, out: &mut Vec<Effect>) {
    if pane::move_by(state.panes.get_mut(pane), by) {
        follow(state, pane, out);
    }
}

pub(super) fn set_filter(state: &mut State, pane: Pane, filter: String, out: &mut Vec<Effect>) {
    state.panes.get_mut(pane).selection_mut().filter = filter;
    reindex(state, pane, out);
}

/// Ask for what the pane needs of the row now selected.
fn follow(state: &mut State, pane: Pane, out: &mut Vec<Effect>) {
    let around = state.around();
    for source in state.panes.get_mut(pane).selection_moved(&around) {
        ask(state, source, out);
    }
}
