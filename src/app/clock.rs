//! Every text on screen that changes with the clock alone, in one place.
//!
//! The app loop redraws when data or input changes, and otherwise only when
//! one of these texts turns over ([`face`]). So the screen of a dashboard
//! left watching a quiet server stays still and costs nothing to keep:
//! events are shown as clock times (which never change), ages only where
//! something is late (stale data, an error), and the session countdown in
//! minutes until its last five.

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};

use crate::app::loadable::{Freshness, Tracked};
use crate::app::panes::Pane;
use crate::app::state::State;

/// `12s`, `3m04s`, `2h05m`, `3d04h`.
pub fn fmt_age(d: TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// An event's time in the operator's time zone: `14:03:27` today,
/// `27 Nov 14:03` before.
pub fn clock_time(state: &State, t: DateTime<Utc>) -> String {
    let at = t.with_timezone(&state.utc_offset);
    let today = state.now.with_timezone(&state.utc_offset).date_naive();
    if at.date_naive() == today {
        at.format("%H:%M:%S").to_string()
    } else {
        at.format("%d %b %H:%M").to_string()
    }
}

/// The operator's UTC offset now (tests use UTC).
pub fn local_offset() -> FixedOffset {
    *chrono::Local::now().offset()
}

/// What a pane's title says about its data: nothing while it is fresh.
pub fn freshness_text(
    state: &State,
    data: &dyn Tracked,
    every: Option<std::time::Duration>,
) -> Option<String> {
    match data.freshness(state.now, every) {
        Freshness::Loading if state.target.is_none() => Some("no target".into()),
        Freshness::Loading => Some("loading…".into()),
        Freshness::Fresh => None,
        Freshness::Stale { age } => Some(format!("stale: {} old", fmt_age(age))),
        Freshness::Failed { age, .. } => Some(format!(
            "error{}",
            age.map(|a| format!(", data {} old", fmt_age(a)))
                .unwrap_or_default()
        )),
    }
}

/// How often `pane`'s data is refreshed, `None` when it is watched (live).
pub fn every(state: &State, pane: Pane) -> Option<std::time::Duration> {
    pane.about().every.map(|c| state.interval() * c as u32)
}

/// The session countdown: minutes, then seconds in the last five minutes.
pub fn expiry_text(left: TimeDelta, compact: bool) -> String {
    let s = left.num_seconds();
    if s <= 0 {
        return "session expired".into();
    }
    let left = if s < 300 {
        fmt_age(left)
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    };
    if compact {
        format!("exp {left}")
    } else {
        format!("expires in {left}")
    }
}

/// Every clock-driven text the screen can show now. Two faces that differ
/// mean the screen must be redrawn; equal faces mean it would not change.
pub fn face(state: &State) -> Vec<String> {
    let mut texts: Vec<String> = Pane::ALL
        .iter()
        .map(|&p| freshness_text(state, state.panes.get(p).shown(), every(state, p)).unwrap_or_default())
        .collect();
    if let Some(exp) = state.session.data.as_ref().and_then(|s| s.session_expires) {
        texts.push(expiry_text(exp - state.now, false));
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_turns_over_each_minute_then_each_second() {
        assert_eq!(
            expiry_text(TimeDelta::seconds(42 * 60 + 10), false),
            "expires in 42m"
        );
        assert_eq!(
            expiry_text(TimeDelta::seconds(42 * 60 + 59), false),
            "expires in 42m"
        );
        assert_eq!(expiry_text(TimeDelta::seconds(3 * 60 + 5), true), "exp 3m05s");
        assert_eq!(
            expiry_text(TimeDelta::seconds(2 * 3600 + 60), false),
            "expires in 2h01m"
        );
        assert_eq!(expiry_text(TimeDelta::seconds(0), false), "session expired");
    }

    #[test]
    fn event_times_are_local_and_dated_when_not_today() {
        let now = DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut state = State::new(None, now);
        state.utc_offset = FixedOffset::east_opt(3600).unwrap();
        let earlier = DateTime::parse_from_rfc3339("2026-11-28T09:59:58Z")
            .unwrap()
            .to_utc();
        assert_eq!(clock_time(&state, earlier), "10:59:58");
        let yesterday = DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(clock_time(&state, yesterday), "27 Nov 10:00");
    }
}
