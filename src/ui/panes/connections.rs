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
        let held = if state.aiming_kill() { " · held" } else { "" };
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

fn render_counts(frame: &mut Frame, area: Rect, state: &State, selectable: bool) {
    let theme = Theme::of(state.theme);
    let counts = state.panes.connections.counts();
    let sel = state.selection(Pane::Connections);
    let max = counts.iter().map(|c| c.count).max().unwrap_or(1).max(1);
    let bar_w = (area.width as usize).saturating_sub(34).max(4);
    let (len, index) = if selectable {
        (sel.visible.as_ref().map_or(counts.len(), Vec::len), sel.index)
    } else {
        (counts.len(), 0)
    };
    let rows = window(len, index, area.height.saturating_sub(1) as usize).filter_map(|i| {
        let c = &counts[if selectable { row_at(sel, i)? } else { i }];
        let name = c.user.clone().unwrap_or_else(|| "(dropped role)".into());
        let tag = match c.user.as_deref() {
            Some(u) if Some(u) == state.old_user() => "old",
            Some(u) if Some(u) == state.new_user() => "new",
            _ => "",
        };
        let bar = "█".repeat(((c.count * bar_w as i64) / max) as usize);
        let mut row = Row::new(vec![
            Cell::from(Span::styled(
                clip(&name, 22),
                user_style(state, c.user.as_deref()),
            )),
            Cell::from(tag),
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
            Constraint::Length(22),
            Constraint::Length(3),
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
    let [labels, charts] = Layout::horizontal([Constraint::Length(24), Constraint::Min(0)]).areas(area);
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
            Span::styled(clip(user.unwrap_or("—"), 14), style),
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
    let rows = pane.rows_window(area).filter_map(|i| {
        let c = &rows_data[row_at(sel, i)?];
        // Client address → pod → workload, so a leftover of the old user is attributable.
        let consumer = c
            .client
            .as_deref()
            .zip(cluster)
            .and_then(|(client, v)| v.consumer_of(client))
            .unwrap_or_default();
        let mut row = Row::new(vec![
            Cell::from(c.id.to_string()),
            Cell::from(Span::styled(
                c.user.clone().unwrap_or_else(|| "(dropped)".into()),
                user_style(state, c.user.as_deref()),
            )),
            Cell::from(c.client.clone().unwrap_or_default()),
            Cell::from(c.database.clone().unwrap_or_default()),
            Cell::from(c.state.clone().unwrap_or_default()),
            // A clock time, not a ticking age: an idle list stays still.
            Cell::from(connection_since(state.utc_offset, state.now, c)),
            Cell::from(Span::styled(consumer, theme.muted())),
        ]);
        if i == sel.index {
            row = row.style(theme.selected());
        }
        Some(row)
    });
    // A time is unreadable cut: a pane too narrow for every column narrows
    // the names rather than it (Min holds; Length would be squeezed).
    let since = if area.width > 8 + 22 + 21 + 17 + 6 + 8 + 6 {
        Constraint::Length(8)
    } else {
        Constraint::Min(8)
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(22),
            Constraint::Length(21),
            Constraint::Length(17),
            Constraint::Length(6),
            since,
            // Last, in what is left: a narrow pane loses it first.
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new(["id", "user", "client", "database", "state", "since", "consumer"]).style(theme.header()),
    );
    frame.render_widget(table, area);
}
