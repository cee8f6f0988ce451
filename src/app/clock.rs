//! Every text on screen that changes with the clock alone, in one place.
//!
//! The app loop redraws when data or input changes, and otherwise only when
//! one of these texts turns over ([`face`]). So the screen of a dashboard
//! left watching a quiet server stays still and costs nothing to keep:
//! events are shown as clock times (which never change), ages only where
//! something is late (stale data, an error), and the session countdown in
//! minutes until its last five.

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};

use crate::app::state::{Freshness, Loadable, Pane, State};
use crate::model::Connection;

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

/// When a connection's state began, as its row shows it (at most 8
/// characters; the day alone before today): to the second while it is
/// busy, since how long a query or an open transaction has run matters; to
/// the minute while idle, so sessions that go idle again after each query
/// (every app's) leave the list still from one refresh to the next.
pub fn connection_since(offset: FixedOffset, now: DateTime<Utc>, c: &Connection) -> String {
    let Some(t) = c.since else {
        return String::new();
    };
    let at = t.with_timezone(&offset);
    if at.date_naive() != now.with_timezone(&offset).date_naive() {
        at.format("%d %b").to_string()
    } else if c.is_idle() {
        at.format("%H:%M").to_string()
    } else {
        at.format("%H:%M:%S").to_string()
    }
}

/// The operator's UTC offset now (tests use UTC).
pub fn local_offset() -> FixedOffset {
    *chrono::Local::now().offset()
}

/// What a pane's title says about its data: nothing while it is fresh.
pub fn freshness_text<T>(
    state: &State,
    data: &Loadable<T>,
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
    pane.cadence().map(|c| state.interval() * c as u32)
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
        .map(|&p| {
            let every = every(state, p);
            match p {
                Pane::Users => freshness_text(state, &state.users, every),
                Pane::Objects => freshness_text(state, &state.objects, every),
                Pane::Connections => freshness_text(state, &state.connections, every),
                Pane::Cluster => freshness_text(state, &state.cluster, every),
                Pane::Steps => freshness_text(state, &state.plan, every),
            }
            .unwrap_or_default()
        })
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

    #[test]
    fn a_connection_shows_the_minute_idle_the_second_busy_and_the_day_before_today() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
            .unwrap()
            .to_utc();
        let utc = FixedOffset::east_opt(0).unwrap();
        let mut c = Connection {
            id: 1,
            user: None,
            client: None,
            database: None,
            application: None,
            state: Some("idle".into()),
            since: Some(now - TimeDelta::seconds(75)),
        };
        assert_eq!(connection_since(utc, now, &c), "09:58");
        c.state = Some("Sleep".into());
        assert_eq!(connection_since(utc, now, &c), "09:58");
        c.state = Some("idle in transaction".into());
        assert_eq!(connection_since(utc, now, &c), "09:58:45");
        c.state = Some("Query: executing".into());
        assert_eq!(connection_since(utc, now, &c), "09:58:45");
        c.since = Some(now - TimeDelta::days(2));
        assert_eq!(connection_since(utc, now, &c), "01 Dec");
        c.since = None;
        assert_eq!(connection_since(utc, now, &c), "");
    }
}
