//! Live connections: counts per user (the drain), a history of the old user
//! against the new, and the single connections on demand (`c`), each named
//! by the consumer (pod and workload) its client address belongs to.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Sparkline, Table};

use crate::app::clock::clock_time;
use crate::app::panes::Pane;
use crate::app::panes::connections::connection_since;
use crate::app::selection::{row_at, window};
use crate::app::state::State;
use crate::ui::chrome::{clip, interval_label, pane_block, with_error_line};
use crate::ui::theme::Theme;

pub(super) const VIEW: super::View = super::View { render, badge };

/// The old user's connections, the drain in a word.
fn badge(state: &State) -> Option<String> {
    let old = state.old_user()?;
    let pane = &state.panes.connections;
    let n: i64 = pane
        .counts()
        .iter()
        .filter(|c| c.user.as_deref() == Some(old))
        .map(|c| c.count)
        .sum();
    pane.snapshot.data.as_ref().map(|_| format!("old:{n}"))
}

fn render(frame: &mut Frame, area: Rect, state: &State) {
    let theme = Theme::of(state.theme);
    let pane = &state.panes.connections;
    let total: i64 = pane.counts().iter().map(|c| c.count).sum();
    let extra = pane.snapshot.data.as_ref().map(|_| {
        // The rows stand still while a kill is aimed (pg_activity's habit): say why.
        let held = if state.aiming_kill() {
            " · held still while K is aimed"
        } else {
            ""
        };
        Span::styled(
            format!(
                "{total} total · every {}{held}",
                interval_label(state.interval_ms)
            ),
            theme.muted(),
        )
    });
    let block = pane_block(state, Pane::Connections, extra);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(body) = with_error_line(frame, inner, state, &pane.snapshot) else {
        return;
    };
    // The same parts update reckons with (`ConnectionsPane::rows_shown`).
    let parts = pane.parts(body, state.old_user().is_some());
    if let Some(rows) = parts.rows {
        render_drain(frame, parts.drain, state);
        render_counts(frame, parts.counts, state, false);
        render_rows(frame, rows, state);
    } else {
        render_counts(frame, parts.counts, state, true);
        render_drain(frame, parts.drain, state);
    }
}

fn user_style(state: &State, user: Option<&str>) -> ratatui::style::Style {
    match user {
        Some(u) if Some(u) == state.old_user() => Theme::of(state.theme).old_user(),
        Some(u) if Some(u) == state.new_user() => Theme::of(state.theme).new_user(),
        None => Theme::of(state.theme).danger(),
        _ => Theme::of(state.theme).base(),
    }
}

/// A user as the connection list names it: MySQL lists a connection still
/// in its handshake as `unauthenticated user`, which says nothing to an operator.
fn user_name(user: Option<&str>) -> String {
    match user {
        None => "(dropped role)".into(),
        Some("unauthenticated user") => "(logging in)".into(),
        Some(u) => u.to_owned(),
    }
}

fn render_counts(frame: &mut Frame, area: Rect, state: &State, selectable: bool) {
    let theme = Theme::of(state.theme);
    let pane = &state.panes.connections;
    let counts = pane.counts();
    let sel = state.selection(Pane::Connections);
    let max = counts.iter().map(|c| c.count).max().unwrap_or(1).max(1);
    let name_w = counts
        .iter()
        .map(|c| user_name(c.user.as_deref()).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 32) as u16;
    let bar_w = (area.width as usize).saturating_sub(name_w as usize + 16).max(4);

    // Beside the single connections only a few counts fit: the old and the
    // new user's come first, so the drain's own never fall off.
    let order: Vec<usize> = if selectable {
        (0..counts.len()).collect()
    } else {
        let rotating = |i: &usize| {
            let u = counts[*i].user.as_deref();
            u.is_some() && (u == state.old_user() || u == state.new_user())
        };
        // `/` narrows these counts as it does the rows beside them.
        let filter = sel.filter.to_lowercase();
        let shown = |i: &usize| {
            filter.is_empty()
                || user_name(counts[*i].user.as_deref())
                    .to_lowercase()
                    .contains(&filter)
        };
        let (mut first, rest): (Vec<usize>, Vec<usize>) = (0..counts.len()).filter(shown).partition(rotating);
        first.extend(rest);
        first
    };
    let (len, index) = if selectable {
        (sel.visible.as_ref().map_or(counts.len(), Vec::len), sel.index)
    } else {
        (order.len(), 0)
    };
    let rows = window(len, index, area.height.saturating_sub(1) as usize).filter_map(|i| {
        let c = &counts[if selectable { row_at(sel, i)? } else { order[i] }];
        let name = user_name(c.user.as_deref());
        let tag = match c.user.as_deref() {
            Some(u) if Some(u) == state.old_user() => "old",
            Some(u) if Some(u) == state.new_user() => "new",
            Some(u) if Some(u) == pane.own_user() => "rotui",
            _ => "",
        };
        let bar = "█".repeat(((c.count * bar_w as i64) / max) as usize);
        let mut row = Row::new(vec![
            Cell::from(Span::styled(name, user_style(state, c.user.as_deref()))),
            Cell::from(Span::styled(tag, theme.muted())),
            Cell::from(format!("{:>5}", c.count)),
            Cell::from(Span::styled(bar, user_style(state, c.user.as_deref()))),
        ]);
        if selectable && i == sel.index {
            row = row.style(theme.selected());
        }
        Some(row)
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(name_w),
            Constraint::Length(5),
            Constraint::Length(5),
            Constraint::Min(4),
        ],
    )
    .header(Row::new(["user", "", "conns", ""]).style(theme.header()));
    frame.render_widget(table, area);
}

fn render_drain(frame: &mut Frame, area: Rect, state: &State) {
    if area.height == 0 {
        return;
    }
    let (Some(old), new) = (state.old_user(), state.new_user()) else {
        return;
    };
    let theme = Theme::of(state.theme);
    // "old " + the longer name + " " + a 4-digit count, whole: names are
    // what the operator reads here (half the width at most).
    let name_w = old.chars().count().max(new.map_or(1, |n| n.chars().count())) as u16;
    let label_w = (name_w + 9).min(area.width / 2).max(12);
    let [labels, charts] = Layout::horizontal([Constraint::Length(label_w), Constraint::Min(0)]).areas(area);
    let rows = Layout::vertical([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).split(labels);
    let chart_rows = Layout::vertical([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).split(charts);
    let width = charts.width as usize;
    let drain = &state.panes.connections.drain;
    let points = &drain[drain.len().saturating_sub(width)..];
    let max = points.iter().map(|p| p.old.max(p.new)).max().unwrap_or(0).max(1) as u64;
    let last = points.last();
    let series = [
        Series {
            label: "old",
            user: Some(old),
            data: points.iter().map(|p| p.old.max(0) as u64).collect(),
            now: last.map_or(0, |p| p.old),
            style: theme.old_user(),
        },
        Series {
            label: "new",
            user: new,
            data: points.iter().map(|p| p.new.max(0) as u64).collect(),
            now: last.map_or(0, |p| p.new),
            style: theme.new_user(),
        },
    ];
    let steady = state.panes.connections.drain_steady_since();
    for (
        i,
        Series {
            label,
            user,
            data,
            now,
            style,
        },
    ) in series.into_iter().enumerate()
    {
        let text = Line::from(vec![
            Span::styled(format!("{label} "), theme.muted()),
            Span::styled(
                clip(user.unwrap_or("—"), (label_w as usize).saturating_sub(9)),
                style,
            ),
            Span::raw(format!(" {now:>4}")),
        ]);
        frame.render_widget(Paragraph::new(text), rows[i]);
        match steady {
            // Nothing has moved: say so once, rather than scroll a flat line.
            Some(since) if i == 0 => frame.render_widget(
                Paragraph::new(Span::styled(
                    format!("steady since {}", clock_time(state, since)),
                    theme.muted(),
                )),
                chart_rows[i],
            ),
            Some(_) => {}
            None => frame.render_widget(
                Sparkline::default().data(&data).max(max).style(style),
                chart_rows[i],
            ),
        }
    }
}

struct Series<'a> {
    label: &'a str,
    user: Option<&'a str>,
    data: Vec<u64>,
    now: i64,
    style: ratatui::style::Style,
}

fn render_rows(frame: &mut Frame, area: Rect, state: &State) {
    let theme = Theme::of(state.theme);
    let pane = &state.panes.connections;
    let rows_data = pane.snapshot.data.as_ref().map(|s| &s.rows[..]).unwrap_or(&[]);
    let cluster = state.panes.cluster.view.data.as_ref();
    let sel = &pane.selection;
    // The same window update reckons with (`ConnectionsPane::rows_shown`).
    // Client address → pod → workload, so a leftover of the old user is
    // attributable; rotui's own sessions first, which no pod holds.
    let consumer = |state: &State, c: &crate::model::Connection| -> Option<String> {
        if pane.is_own(c) {
            return Some("rotui (this session)".to_string());
        }
        let app_user = c.user.is_some()
            && (c.user.as_deref() == state.old_user() || c.user.as_deref() == state.new_user());
        c.client
            .as_deref()
            .zip(cluster)
            .and_then(|(client, v)| v.consumer_of(client, app_user))
    };
    // A query column only while a listed connection runs a statement.
    let running = pane
        .rows_window(area)
        .filter_map(|i| rows_data.get(row_at(sel, i)?))
        .any(|c| c.query.is_some());
    let rows = pane.rows_window(area).filter_map(|i| {
        let c = &rows_data[row_at(sel, i)?];
        let consumer = match consumer(state, c) {
            Some(own) if pane.is_own(c) => Span::styled(own, theme.accent()),
            pod => Span::styled(pod.unwrap_or_default(), theme.muted()),
        };
        let mut cells = vec![
            Cell::from(c.id.to_string()),
            Cell::from(Span::styled(
                user_name(c.user.as_deref()),
                user_style(state, c.user.as_deref()),
            )),
            Cell::from(c.client.clone().unwrap_or_default()),
            Cell::from(c.database.clone().unwrap_or_default()),
            Cell::from(c.state.clone().unwrap_or_default()),
            // A clock time, not a ticking age: an idle list stays still.
            Cell::from(connection_since(state.utc_offset, state.now, c)),
            Cell::from(consumer),
        ];
        if running {
            // Masked and escaped when read (`db::statement_text`).
            cells.push(Cell::from(Span::styled(
                c.query.clone().unwrap_or_default(),
                theme.muted(),
            )));
        }
        let mut row = Row::new(cells);
        if i == sel.index {
            row = row.style(theme.selected());
        }
        Some(row)
    });
    // Each column as wide as what it shows (within a cap), so free space
    // is not left beside a cut word; a time is unreadable cut: a pane too
    // narrow for every column narrows the rest rather than it (Min holds).
    let shown: Vec<&crate::model::Connection> = pane
        .rows_window(area)
        .filter_map(|i| rows_data.get(row_at(sel, i)?))
        .collect();
    let widest = |f: &dyn Fn(&crate::model::Connection) -> usize, header: usize, cap: usize| {
        shown.iter().map(|c| f(c)).max().unwrap_or(0).max(header).min(cap) as u16
    };
    let len = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
    let widths = [
        widest(&|c| c.id.to_string().len(), 2, 10),
        widest(&|c| user_name(c.user.as_deref()).chars().count(), 4, 32),
        widest(&|c| len(&c.client), 6, 40),
        widest(&|c| len(&c.database), 8, 24),
        widest(&|c| len(&c.state), 5, 24),
    ];
    let fixed: u16 = widths.iter().sum::<u16>() + 8 + 6;
    let since = if area.width > fixed {
        Constraint::Length(8)
    } else {
        Constraint::Min(8)
    };
    let mut columns = vec![
        Constraint::Length(widths[0]),
        Constraint::Length(widths[1]),
        Constraint::Length(widths[2]),
        Constraint::Length(widths[3]),
        Constraint::Length(widths[4]),
        since,
    ];
    let mut header = vec!["id", "user", "client", "database", "state", "since", "consumer"];
    // Last, in what is left (a narrow pane loses them first): the consumer
    // whole when a statement follows it, which gets the rest.
    if running {
        columns.push(Constraint::Length(widest(
            &|c| consumer(state, c).map_or(0, |p| p.chars().count()),
            8,
            60,
        )));
        header.push("query");
    }
    columns.push(Constraint::Fill(1));
    let table = Table::new(rows, columns).header(Row::new(header).style(theme.header()));
    frame.render_widget(table, area);
}
