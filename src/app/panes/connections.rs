//! Live connections: counts per user (the drain), a history of the old user
//! against the new, and the single connections on demand (`c`). Polled
//! every interval: the drain is what the operator watches.

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::action::KillTarget;
use crate::app::loadable::{Fetched, Loadable, Stamp, Tracked};
use crate::app::selection::{Selection, row_at, window};
use crate::app::source::{Answer, Request, Source};
use crate::model::{Connection, ConnectionCount, ConnectionSnapshot};

use super::pane::{self, About, Around, Column, Landed, PaneModel, Place};

/// Time one column of the drain history covers. Coarser than the refresh,
/// so a steady count leaves the chart (and the screen) still for seconds at
/// a time; a rollout's drain takes minutes, which this still shows well.
pub const DRAIN_BUCKET: TimeDelta = TimeDelta::seconds(5);
/// Columns of drain history kept (20 minutes).
pub const DRAIN_POINTS: usize = 240;

/// One column of the drain history: connections of the old and new user
/// at the end of a [`DRAIN_BUCKET`] (or now, for the newest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainPoint {
    pub at: DateTime<Utc>,
    pub old: i64,
    pub new: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ConnectionsPane {
    pub snapshot: Loadable<ConnectionSnapshot>,
    /// The single connections are listed, not only the counts per user (`c`).
    pub rows_listed: bool,
    pub drain: Vec<DrainPoint>,
    /// An answer that came while a kill was being aimed, applied once the
    /// dialog closes (pg_activity's habit: the rows stand still meanwhile).
    pub held: Option<(Stamp, Fetched<ConnectionSnapshot>)>,
    pub selection: Selection,
}

/// The pane's parts, within its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// The old user against the new (empty before a rotation).
    pub drain: Rect,
    /// The counts per user.
    pub counts: Rect,
    /// The single connections, when listed.
    pub rows: Option<Rect>,
}

impl ConnectionsPane {
    pub const ABOUT: About = About {
        title: "Connections",
        tab: "Conns",
        focus_key: "focus_connections",
        focus_help: "connections pane",
        place: Place {
            column: Column::Right,
            row: 0,
            percent: 40,
        },
        every: Some(1),
        filterable: true,
    };

    /// The connection counts, busiest first (the order the pane lists them).
    pub fn counts(&self) -> &[ConnectionCount] {
        self.snapshot
            .data
            .as_ref()
            .map(|s| s.counts.as_slice())
            .unwrap_or(&[])
    }

    /// What `K` would aim at from the current selection; `Err` says why
    /// there is nothing to aim at (rotui's own connections are not killed).
    pub fn kill_target(&self) -> Result<KillTarget, String> {
        let none = || "no connection selected".to_string();
        let snap = self.snapshot.data.as_ref().ok_or_else(none)?;
        let row = row_at(&self.selection, self.selection.index).ok_or_else(none)?;
        if self.rows_listed {
            let c = snap.rows.get(row).ok_or_else(none)?;
            if self.is_own(c) {
                return Err(format!(
                    "connection {} is rotui's own ({} from {}): killing it would cut this \
                     dashboard's reads and any step running; it ends when you quit rotui",
                    c.id,
                    c.user.as_deref().unwrap_or("?"),
                    c.client.as_deref().unwrap_or("?")
                ));
            }
            Ok(KillTarget::Connection {
                id: c.id,
                user: c.user.clone(),
            })
        } else {
            let c = snap.counts.get(row).ok_or_else(none)?;
            let user = c.user.clone().ok_or_else(|| {
                "these sessions' role was dropped: press c and kill them one by one".to_string()
            })?;
            if self.own_user() == Some(user.as_str()) {
                return Err(format!(
                    "{user} is the admin rotui logs in as: killing all its connections would \
                     cut rotui's own; press c to list them and kill others one by one"
                ));
            }
            Ok(KillTarget::AllOf { user, count: c.count })
        }
    }

    /// The user rotui itself logs in as, as the last snapshot saw it.
    pub fn own_user(&self) -> Option<&str> {
        self.snapshot.data.as_ref()?.own.as_ref()?.user.as_deref()
    }

    /// Whether `c` is rotui's own: its user, from the address of the
    /// session that took the snapshot (its pool, its locks and its watch
    /// share both; an app's pod on the same address logs in as another user).
    pub fn is_own(&self, c: &Connection) -> bool {
        let Some(own) = self.snapshot.data.as_ref().and_then(|s| s.own.as_ref()) else {
            return false;
        };
        let ip = crate::k8s::consumers::client_ip;
        match (&own.client, &c.client) {
            (Some(mine), Some(theirs)) => own.user.is_some() && c.user == own.user && ip(mine) == ip(theirs),
            _ => false,
        }
    }

    /// While the drain history holds one value throughout, the time it has
    /// held it since: the pane says "steady since" instead of drawing a flat
    /// chart that would only scroll.
    pub fn drain_steady_since(&self) -> Option<DateTime<Utc>> {
        let first = self.drain.first()?;
        self.drain
            .iter()
            .all(|p| (p.old, p.new) == (first.old, first.new))
            .then_some(first.at)
    }

    /// Where the pane puts its parts in `body`: the counts above the drain;
    /// or, listing single connections, the drain, a few counts and the rows
    /// below them. `has_drain`: a rotation is under way (an old user).
    pub fn parts(&self, body: Rect, has_drain: bool) -> Parts {
        let drain_h = if has_drain {
            if body.height >= 16 { 4 } else { 2 }
        } else {
            0
        };
        if self.rows_listed {
            let counts_h = (self.counts().len() as u16 + 1).min(body.height / 4).max(2);
            let [drain, counts, rows] = Layout::vertical([
                Constraint::Length(drain_h),
                Constraint::Length(counts_h),
                Constraint::Min(0),
            ])
            .areas(body);
            Parts {
                drain,
                counts,
                rows: Some(rows),
            }
        } else {
            let [counts, drain] =
                Layout::vertical([Constraint::Min(0), Constraint::Length(drain_h)]).areas(body);
            Parts {
                drain,
                counts,
                rows: None,
            }
        }
    }

    /// Which single connections a list in `rows` (its header included) shows.
    pub fn rows_window(&self, rows: Rect) -> std::ops::Range<usize> {
        let all = self.snapshot.data.as_ref().map_or(0, |s| s.rows.len());
        let len = self.selection.visible.as_ref().map_or(all, Vec::len);
        window(len, self.selection.index, rows.height.saturating_sub(1) as usize)
    }

    /// The single connections on screen when the pane has `area`
    /// (`start..end` of the rows, unfiltered), as its view lists them: a
    /// refresh that changes only rows off screen (a monitor's own session,
    /// each second) leaves the screen still. `None` when no rows are
    /// listed, or they are filtered.
    pub fn rows_shown(&self, area: Rect, has_drain: bool) -> Option<(usize, usize)> {
        if !self.rows_listed || self.selection.visible.is_some() {
            return None;
        }
        let body = pane::body(area, &self.snapshot)?;
        let shown = self.rows_window(self.parts(body, has_drain).rows?);
        Some((shown.start, shown.end))
    }

    fn apply(&mut self, stamp: Stamp, result: Fetched<ConnectionSnapshot>, around: &Around) -> Landed {
        let result = result.map(|mut snap| {
            // Busiest first; ties by name so the order is stable between refreshes.
            snap.counts
                .sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.user.cmp(&b.user)));
            snap
        });
        // The snapshot's time is not shown; its counts are, and the rows on
        // screen (all of them when that is not known), as they show.
        let shown = around
            .area
            .and_then(|area| self.rows_shown(area, around.old_user.is_some()));
        let (offset, now) = (around.utc_offset, around.now);
        let face = |c: &Connection| {
            (
                c.id,
                c.user.clone(),
                c.client.clone(),
                c.database.clone(),
                c.state.clone(),
                connection_since(offset, now, c),
            )
        };
        let rows_look_the_same = |a: &[Connection], b: &[Connection]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || face(x) == face(y))
        };
        let same = |a: &ConnectionSnapshot, b: &ConnectionSnapshot| {
            a.counts == b.counts
                && (std::sync::Arc::ptr_eq(&a.rows, &b.rows)
                    || match shown {
                        Some((start, end)) if a.rows.len() == b.rows.len() && end <= a.rows.len() => {
                            rows_look_the_same(&a.rows[start..end], &b.rows[start..end])
                        }
                        _ => rows_look_the_same(&a.rows, &b.rows),
                    })
        };
        let Some(changed) = self.snapshot.accept_by(stamp, result, same) else {
            return Landed::default();
        };
        let mut drawn = changed;
        if let Some(snap) = &self.snapshot.data
            && self.snapshot.error.is_none()
        {
            let count = |u: Option<&str>| {
                u.map(|u| {
                    snap.counts
                        .iter()
                        .filter(|c| c.user.as_deref() == Some(u))
                        .map(|c| c.count)
                        .sum()
                })
                .unwrap_or(0)
            };
            let point = DrainPoint {
                at: snap.at,
                old: count(around.old_user.as_deref()),
                new: count(around.new_user.as_deref()),
            };
            drawn |= self.record_drain(point);
        }
        Landed {
            changed: drawn,
            reindex: changed,
            look_again: None,
        }
    }

    /// One column per [`DRAIN_BUCKET`]: within a bucket the newest count
    /// replaces the column's, so the chart moves only when a count changes
    /// or a new column starts (and not even then while the history is
    /// flat). Whether the chart changed.
    fn record_drain(&mut self, point: DrainPoint) -> bool {
        let bucket = |t: DateTime<Utc>| t.timestamp().div_euclid(DRAIN_BUCKET.num_seconds());
        match self.drain.last_mut() {
            Some(last) if bucket(last.at) == bucket(point.at) => {
                let changed = (last.old, last.new) != (point.old, point.new);
                *last = point;
                changed
            }
            _ => {
                self.drain.push(point);
                if self.drain.len() > DRAIN_POINTS {
                    self.drain.remove(0);
                }
                // A flat history is not drawn ("steady since"): a new column of it changes nothing.
                self.drain_steady_since().is_none()
            }
        }
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

impl PaneModel for ConnectionsPane {
    fn selection(&self) -> &Selection {
        &self.selection
    }

    fn selection_mut(&mut self) -> &mut Selection {
        &mut self.selection
    }

    fn row_count(&self) -> usize {
        match &self.snapshot.data {
            Some(s) if self.rows_listed => s.rows.len(),
            Some(s) => s.counts.len(),
            None => 0,
        }
    }

    fn row_key(&self, row: usize) -> Option<String> {
        let s = self.snapshot.data.as_ref()?;
        if self.rows_listed {
            s.rows.get(row).map(|c| c.id.to_string())
        } else {
            s.counts
                .get(row)
                .map(|c| c.user.clone().unwrap_or_else(|| "(dropped role)".into()))
        }
    }

    /// A single connection by any of its columns; a count by its user.
    fn row_texts(&self) -> Vec<String> {
        if !self.rows_listed {
            return pane::row_keys(self);
        }
        self.snapshot
            .data
            .iter()
            .flat_map(|s| s.rows.iter())
            .map(|c| {
                format!(
                    "{} {} {} {} {}",
                    c.id,
                    c.user.as_deref().unwrap_or(""),
                    c.client.as_deref().unwrap_or(""),
                    c.database.as_deref().unwrap_or(""),
                    c.state.as_deref().unwrap_or("")
                )
            })
            .collect()
    }

    fn shown(&self) -> &dyn Tracked {
        &self.snapshot
    }

    fn sources(&self, around: &Around) -> Vec<Source> {
        if around.aiming_kill {
            // pg_activity's habit: the rows stand still while a kill is aimed.
            return Vec::new();
        }
        vec![Source::Fetch(Request::Connections {
            rows: self.rows_listed,
        })]
    }

    fn cadence(&self, _: &Source) -> Option<i32> {
        Self::ABOUT.every
    }

    fn tracked(&self, source: &Source) -> Option<&dyn Tracked> {
        matches!(source, Source::Fetch(Request::Connections { .. })).then_some(&self.snapshot as &dyn Tracked)
    }

    fn tracked_mut(&mut self, source: &Source) -> Option<&mut dyn Tracked> {
        matches!(source, Source::Fetch(Request::Connections { .. }))
            .then_some(&mut self.snapshot as &mut dyn Tracked)
    }

    fn land(&mut self, stamp: Stamp, answer: Answer, around: &Around) -> Result<Landed, Answer> {
        match answer {
            Answer::Connections(result) if around.aiming_kill => {
                self.held = Some((stamp, result));
                Ok(Landed::default())
            }
            Answer::Connections(result) => Ok(self.apply(stamp, result, around)),
            other => Err(other),
        }
    }

    /// Whether rows are listed is how the operator looks, not what was read: it stays.
    fn reset(&mut self) {
        self.snapshot.reset();
        self.drain.clear();
        self.held = None;
        self.selection = Selection::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_shows_the_minute_idle_the_second_busy_and_the_day_before_today() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
            .unwrap()
            .to_utc();
        let utc = chrono::FixedOffset::east_opt(0).unwrap();
        let mut c = Connection {
            id: 1,
            user: None,
            client: None,
            database: None,
            application: None,
            state: Some("idle".into()),
            since: Some(now - chrono::TimeDelta::seconds(75)),
            query: None,
        };
        assert_eq!(connection_since(utc, now, &c), "09:58");
        c.state = Some("Sleep".into());
        assert_eq!(connection_since(utc, now, &c), "09:58");
        c.state = Some("idle in transaction".into());
        assert_eq!(connection_since(utc, now, &c), "09:58:45");
        c.state = Some("Query: executing".into());
        assert_eq!(connection_since(utc, now, &c), "09:58:45");
        c.since = Some(now - chrono::TimeDelta::days(2));
        assert_eq!(connection_since(utc, now, &c), "01 Dec");
        c.since = None;
        assert_eq!(connection_since(utc, now, &c), "");
    }
}
