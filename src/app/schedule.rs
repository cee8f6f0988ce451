//! When each source is asked again: the clock's schedule (cadences, one
//! fetch in flight per source), and the one table from a source to the
//! loadable state it fills.

use chrono::{DateTime, TimeDelta, Utc};

use crate::app::action::{Effect, Request, Source};
use crate::app::state::{Loadable, State, cadence, refresh_requests};

use super::update::NOTICE_FOR;

/// Timers fire a little early or late; a fetch due within this is sent now.
pub(super) const WAKE_SLACK: TimeDelta = TimeDelta::milliseconds(5);
/// The loop looks at the clock at least this often (ages, countdowns).
const HEARTBEAT: TimeDelta = TimeDelta::seconds(1);

/// What the clock asks for: every pane's source, and who we are.
pub(super) fn polled(state: &State) -> Vec<Source> {
    let mut sources = refresh_requests(state);
    sources.push(Source::Fetch(Request::Session));
    if state.aiming_kill() {
        // pg_activity's habit: the rows stand still while a kill is aimed.
        sources.retain(|r| !matches!(r, Source::Fetch(Request::Connections { .. })));
    }
    sources
}

/// When `source` should next be asked; `None`: not by the clock (a watched
/// source already answering, or a one-off already asked).
pub(super) fn due_at(state: &State, source: &Source) -> Option<DateTime<Utc>> {
    let slot = slot(state, source);
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

/// What the schedule needs of a source's loadable state, whatever its data.
trait Asked {
    fn requested_at(&self) -> Option<DateTime<Utc>>;
    fn in_flight(&self) -> bool;
    /// Ask again: the next generation.
    fn bump(&mut self, now: DateTime<Utc>) -> u64;
}

impl<T> Asked for Loadable<T> {
    fn requested_at(&self) -> Option<DateTime<Utc>> {
        self.requested_at
    }

    fn in_flight(&self) -> bool {
        Loadable::in_flight(self)
    }

    fn bump(&mut self, now: DateTime<Utc>) -> u64 {
        self.requested += 1;
        self.requested_at = Some(now);
        self.requested
    }
}

/// The one table from a source to the loadable state it fills.
macro_rules! sources {
    ($($source:pat => $field:ident),* $(,)?) => {
        fn slot<'a>(state: &'a State, source: &Source) -> &'a dyn Asked {
            match source { $($source => &state.$field,)* }
        }

        fn slot_mut<'a>(state: &'a mut State, source: &Source) -> &'a mut dyn Asked {
            match source { $($source => &mut state.$field,)* }
        }
    };
}

sources! {
    Source::Fetch(Request::Users) => users,
    Source::Fetch(Request::Grants { .. }) => grants,
    Source::Fetch(Request::Objects) => objects,
    Source::Fetch(Request::Connections { .. }) => connections,
    Source::Fetch(Request::Plan) => plan,
    Source::Fetch(Request::Session) => session,
    Source::Cluster => cluster,
}

/// Ask a source for its next generation: a fetch, or a new cluster watch.
pub(super) fn ask(state: &mut State, source: Source, out: &mut Vec<Effect>) {
    let now = state.now;
    let generation = slot_mut(state, &source).bump(now);
    out.push(match source {
        Source::Fetch(request) => Effect::Fetch { request, generation },
        Source::Cluster => Effect::Watch { generation },
    });
}

pub(super) fn refresh_all(state: &mut State, out: &mut Vec<Effect>) {
    if state.target.is_none() {
        return;
    }
    for r in refresh_requests(state) {
        if matches!(r, Source::Fetch(Request::Connections { .. })) && state.aiming_kill() {
            continue;
        }
        ask(state, r, out);
    }
    ask(state, Source::Fetch(Request::Session), out);
}
