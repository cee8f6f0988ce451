//! Answers landing: the one way a worker's answer changes the state. The
//! pane that reads the answer's source takes it (accepting it, or dropping
//! it as older than what is shown, is `Loadable::accept`, the same for every
//! source); what the landing asks of the rest of the dashboard is done here.

use crate::app::action::Effect;
use crate::app::layout;
use crate::app::loadable::{Fetched, Stamp};
use crate::app::panes::Pane;
use crate::app::panes::pane::Landed;
use crate::app::source::{Answer, SessionView};
use crate::app::state::State;

use super::lists;
use super::schedule::{ask, in_flight};

/// A source's answer lands in the pane that reads it.
pub(super) fn loaded(state: &mut State, stamp: Stamp, answer: Answer, out: &mut Vec<Effect>) {
    let mut around = state.around();
    let areas = state.screen.map(|s| layout::areas(s, state.focus, state.zoom));
    let mut answer = answer;
    for pane in Pane::ALL {
        around.area = areas.as_ref().and_then(|a| a.area_of(pane));
        match state.panes.get_mut(pane).land(stamp, answer, &around) {
            Ok(landed) => return after(state, pane, landed, out),
            Err(not_its_own) => answer = not_its_own,
        }
    }
    // No pane reads it: who we are, for the status bar.
    if let Answer::Session(result) = answer {
        session(state, stamp, result);
    }
}

/// What a landing asks of the rest: a redraw, the selection put back on its
/// row, another look at a source; then whatever the panes derive from the
/// others, in step.
fn after(state: &mut State, pane: Pane, landed: Landed, out: &mut Vec<Effect>) {
    state.dirty |= landed.changed;
    if landed.reindex {
        lists::reindex(state, pane, out);
    }
    if let Some(source) = landed.look_again
        && !state.paused
        && !in_flight(state, &source)
    {
        ask(state, source, out);
    }
    let around = state.around();
    for pane in Pane::ALL {
        state.panes.get_mut(pane).sync(&around);
    }
}

fn session(state: &mut State, stamp: Stamp, result: Fetched<SessionView>) {
    let asked = unresolved_key(state);
    if let Some(changed) = state.session.accept(stamp, result) {
        state.dirty |= changed;
    }
    if !asked && unresolved_key(state) {
        state.notice = Some((
            state.now,
            "the admin password's key is not the app's name: press n to choose it".into(),
        ));
    }
}

/// Whether the connected target's admin key waits for the operator's choice.
fn unresolved_key(state: &State) -> bool {
    !state.admin_key_choice().is_empty()
}

/// Connections that came while a kill was aimed land once it is not.
pub(super) fn release_held(state: &mut State, out: &mut Vec<Effect>) {
    if state.aiming_kill() {
        return;
    }
    if let Some((stamp, result)) = state.panes.connections.held.take() {
        loaded(state, stamp, Answer::Connections(result), out);
    }
}
