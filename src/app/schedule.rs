//! When each source is asked again: the clock's schedule (cadences, one
//! fetch in flight per source), and asking: a source's next generation, as
//! a fetch or a new cluster watch. Every source belongs to the pane that
//! reads it (its cadence and loadable are the pane's), except who we are:
//! the status bar's.

use chrono::{DateTime, TimeDelta, Utc};

use crate::app::action::Effect;
use crate::app::loadable::Tracked;
use crate::app::panes::Pane;
use crate::app::source::{Request, Source};
use crate::app::state::{NOTICE_FOR, State};

/// Timers fire a little early or late; a fetch due within this is sent now.
pub(super) const WAKE_SLACK: TimeDelta = TimeDelta::milliseconds(5);
/// The loop looks at the clock at least this often (ages, countdowns).
const HEARTBEAT: TimeDelta = TimeDelta::seconds(1);

/// Who we are does not change within a session: asked once, and on `r`
/// (and near expiry, see [`cadence`]).
const SESSION: Source = Source::Fetch(Request::Session);

/// What the clock asks for, and `r`: every pane's sources, and who we are.
pub(super) fn polled(state: &State) -> Vec<Source> {
    let around = state.around();
    let mut sources: Vec<Source> = Pane::ALL
        .into_iter()
        .flat_map(|p| state.panes.get(p).sources(&around))
        .collect();
    sources.push(SESSION);
    sources
}

/// The loadable `source` fills.
fn tracked<'a>(state: &'a State, source: &Source) -> Option<&'a dyn Tracked> {
    if *source == SESSION {
        return Some(&state.session);
    }
    Pane::ALL
        .into_iter()
        .find_map(|p| state.panes.get(p).tracked(source))
}

fn tracked_mut<'a>(state: &'a mut State, source: &Source) -> Option<&'a mut dyn Tracked> {
    if *source == SESSION {
        return Some(&mut state.session);
    }
    let owner = Pane::ALL
        .into_iter()
        .find(|&p| state.panes.get(p).tracked(source).is_some())?;
    state.panes.get_mut(owner).tracked_mut(source)
}

/// How many refresh intervals apart `source` is asked; `None`: not by the
/// clock (watched, or asked once).
fn cadence(state: &State, source: &Source) -> Option<i32> {
    if *source == SESSION {
        // Asked again each interval once the shown expiry is within the
        // time a credential command is re-run before it: the countdown
        // then restarts from the refreshed credentials' expiry.
        let margin = chrono::Duration::from_std(crate::model::CREDENTIALS_REFRESH_BEFORE).unwrap_or_default();
        let near = state
            .session
            .data
            .as_ref()
            .and_then(|s| s.session_expires)
            .is_some_and(|at| at - state.now <= margin);
        return near.then_some(1);
    }
    Pane::ALL
        .into_iter()
        .map(|p| state.panes.get(p))
        .find(|p| p.tracked(source).is_some())
        .and_then(|p| p.cadence(source))
}

/// Whether an answer from `source` is awaited.
pub(super) fn in_flight(state: &State, source: &Source) -> bool {
    tracked(state, source).is_some_and(|t| t.in_flight())
}

/// When `source` should next be asked; `None`: not by the clock (a watched
/// source already answering, or a one-off already asked).
pub(super) fn due_at(state: &State, source: &Source) -> Option<DateTime<Utc>> {
    let slot = tracked(state, source)?;
    let Some(at) = slot.requested_at() else {
        return Some(state.now);
    };
    let interval = TimeDelta::from_std(state.interval()).unwrap_or(TimeDelta::seconds(1));
    // One fetch in flight per source; a slow source just shows its age. An
    // answer that never came (a lost worker) stops blocking after a while.
    if slot.in_flight() {
        return Some(at + (interval * 3).max(TimeDelta::seconds(15)));
    }
    cadence(state, source).map(|c| at + interval * c)
}

/// When the app loop should next wake with a tick if nothing else happens:
/// the next fetch due, a notice or reveal running out, or the heartbeat.
pub fn next_wake(state: &State) -> DateTime<Utc> {
    let mut wake = state.now + HEARTBEAT;
    if !state.paused && state.target.is_some() {
        for source in polled(state) {
            if let Some(at) = due_at(state, &source) {
                wake = wake.min(at);
            }
        }
    }
    if let Some((at, _)) = &state.notice {
        wake = wake.min(*at + NOTICE_FOR);
    }
    if let Some(until) = state.reveal_until {
        wake = wake.min(until);
    }
    wake
}

/// Ask a source for its next generation: a fetch, or a new cluster watch.
pub(super) fn ask(state: &mut State, source: Source, out: &mut Vec<Effect>) {
    let now = state.now;
    let Some(slot) = tracked_mut(state, &source) else {
        return;
    };
    let generation = slot.bump(now);
    out.push(match source {
        Source::Fetch(request) => Effect::Fetch { request, generation },
        Source::Cluster => Effect::Watch { generation },
    });
}

/// Everything at once (`r`, a finished run, a new target).
pub(super) fn refresh_all(state: &mut State, out: &mut Vec<Effect>) {
    if state.target.is_none() {
        return;
    }
    for source in polled(state) {
        ask(state, source, out);
    }
}
