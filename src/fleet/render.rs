//! Drawing the fleet screen: a pure function of [`FleetView`].

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState};

use super::model::FleetRow;
use super::view::FleetView;
use crate::text::escape_controls;
use crate::ui::theme::Theme;

/// The column headings, in order.
pub const COLUMNS: [&str; 9] = [
    "env", "app", "engine", "user", "age", "due", "rotation", "ES sync", "Secret",
];

pub fn render(frame: &mut Frame, view: &FleetView) {
    let theme = Theme::of(view.theme);
    let [head, body, foot] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3), Constraint::Length(1)])
            .areas(frame.area());
    frame.render_widget(Paragraph::new(header(view)).style(theme.bar()), head);
    render_table(frame, body, view, &theme);
    match &view.input {
        Some(input) => {
            let prompt = "/ filter: ";
            let [p, field] =
                Layout::horizontal([Constraint::Length(prompt.len() as u16), Constraint::Min(0)]).areas(foot);
            frame.render_widget(Paragraph::new(Span::styled(prompt, theme.accent())), p);
            frame.render_widget(input, field);
        }
        None => frame.render_widget(Paragraph::new(footer(view)).style(theme.muted()), foot),
    }
}

fn header(view: &FleetView) -> String {
    let mut s = format!(" rotui fleet · {}", view.env);
    match &view.report {
        Some(r) => {
            let due = view.rows.iter().filter(|r| r.due).count();
            let half = view.rows.iter().filter(|r| r.rotation.is_some()).count();
            s.push_str(&format!(
                " · {} apps · {due} due · {half} rotating · loaded {}",
                view.rows.len(),
                r.loaded_at.format("%H:%M:%S UTC")
            ));
            for e in &r.errors {
                if e.scope.is_none() {
                    s.push_str(&format!(
                        " · {} {} failing: {}",
                        e.env,
                        e.system,
                        escape_controls(&e.message)
                    ));
                }
            }
        }
        None => s.push_str(" · loading…"),
    }
    if view.loading && view.report.is_some() {
        s.push_str(" · refreshing…");
    }
    s
}

fn footer(view: &FleetView) -> String {
    let mut s = format!(
        " ↑↓ move · Enter open dashboard · / filter · s sort ({}{}) · r refresh · q quit",
        view.sort.name(),
        if view.descending { ", reversed" } else { "" }
    );
    if !view.filter.is_empty() {
        s.push_str(&format!(" · filter: {}", escape_controls(&view.filter)));
    }
    s
}

fn render_table(frame: &mut Frame, area: Rect, view: &FleetView, theme: &Theme) {
    let rows = view.visible();
    let lines: Vec<Row> = rows.iter().map(|r| table_row(r, view.now, theme)).collect();
    // Names as wide as the longest shown (within reason); the rotation
    // column takes what is left.
    let widest = |f: &dyn Fn(&FleetRow) -> usize, min: usize, max: usize| {
        rows.iter().map(|r| f(r)).max().unwrap_or(0).clamp(min, max) as u16
    };
    let widths = [
        Constraint::Length(widest(&|r| r.env.chars().count(), 3, 16)),
        Constraint::Length(widest(&|r| r.app.chars().count(), 3, 32)),
        Constraint::Length(8),
        Constraint::Length(widest(
            &|r| r.username.as_deref().map_or(12, |u| u.chars().count()),
            4,
            36,
        )),
        Constraint::Length(5),
        Constraint::Length(3),
        Constraint::Fill(1),
        Constraint::Length(7),
        Constraint::Length(6),
    ];
    let title = if view.filter.is_empty() {
        format!(" apps ({}) ", rows.len())
    } else {
        format!(" apps ({} of {}) ", rows.len(), view.rows.len())
    };
    let table = Table::new(lines, widths)
        .header(Row::new(COLUMNS).style(theme.header()))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border(true))
                .title(Span::styled(title, theme.title(true))),
        )
        .row_highlight_style(theme.selected())
        .column_spacing(1);
    let mut state = TableState::default().with_selected((!rows.is_empty()).then_some(view.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// One app's line; failing and stale parts say so.
fn table_row<'a>(r: &FleetRow, now: DateTime<Utc>, theme: &Theme) -> Row<'a> {
    let text = |s: &str| escape_controls(s).into_owned();
    let user = r.username.as_deref().map_or_else(|| "?".into(), text);
    let age = r.age_days.map_or("?".into(), |d| format!("{d}d"));
    let due = if r.due { "DUE" } else { "" };
    // The rotation, then what failed or is stale: the widest column.
    let mut notes = Vec::new();
    if let Some(p) = &r.rotation {
        let who = p.holder.as_deref().map(text).unwrap_or_else(|| "unmarked".into());
        let since = p
            .since
            .map(|s| format!(" since {}", ago(now, s)))
            .unwrap_or_default();
        notes.push(format!("{who}{since}: {}", text(&p.phase)));
    }
    if let Some(e) = &r.secrets_error {
        notes.push(format!("Secrets Manager failing: {}", text(e)));
    }
    if let Some(e) = &r.cluster_error {
        notes.push(format!("cluster failing: {}", text(e)));
    }
    if r.stale {
        notes.push("stale: showing the last load".into());
    }
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "yes".to_owned(),
        Some(false) => "NO".to_owned(),
        None => "?".to_owned(),
    };
    let (sync, matches) = if r.cluster_error.is_some() && (!r.stale || r.external_secrets.is_empty()) {
        ("failing".to_owned(), "?".to_owned())
    } else if r.external_secrets.is_empty() {
        ("none".to_owned(), "-".to_owned())
    } else {
        (yes_no(r.synced()), yes_no(r.secrets_match()))
    };
    let cells = vec![
        Span::raw(text(&r.env)),
        Span::raw(text(&r.app)),
        Span::raw(r.engine.map(|e| e.as_str()).unwrap_or("?")),
        Span::raw(user),
        Span::raw(age),
        Span::styled(due, theme.danger()),
        Span::styled(notes.join(" · "), theme.warn()),
        Span::raw(sync),
        Span::raw(matches),
    ];
    let style = if r.secrets_error.is_some() || (r.cluster_error.is_some() && !r.stale) {
        theme.danger()
    } else if r.stale {
        theme.muted()
    } else {
        Style::default()
    };
    Row::new(cells.into_iter().map(Line::from).collect::<Vec<_>>()).style(style)
}

/// "3h", "2d", "15m": how long ago.
fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let d = now - t;
    if d.num_days() > 0 {
        format!("{}d", d.num_days())
    } else if d.num_hours() > 0 {
        format!("{}h", d.num_hours())
    } else {
        format!("{}m", d.num_minutes().max(0))
    }
}

/// The screen as text (tests and snapshots).
pub fn render_to_text(view: &FleetView, width: u16, height: u16) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))
        .expect("a test backend never fails");
    terminal
        .draw(|f| render(f, view))
        .expect("a test backend never fails");
    let buffer = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::keymap::Keymap;
    use crate::app::state::ThemeName;
    use crate::fleet::model::{EsSync, InProgress, Matches};
    use crate::fleet::view::tests::{report, row};

    #[test]
    fn the_table_shows_age_due_holder_sync_and_failures() {
        let now = Utc::now();
        let mut v = FleetView::new("production", Keymap::default(), ThemeName::Mono, now);
        let mut signon = row("signon", 120, true);
        signon.external_secrets.push(EsSync {
            name: "signon-mysql".into(),
            ready: Some(true),
            reason: Some("SecretSynced".into()),
            message: None,
            secret: "signon-mysql".into(),
            matches: Matches::Yes,
        });
        let mut half = row("whitehall", 3, false);
        half.rotation = Some(InProgress {
            pending: true,
            rotation_id: Some("r1".into()),
            holder: Some("alice@laptop".into()),
            since: Some(now - chrono::Duration::hours(3)),
            heartbeat: None,
            new_username: Some("whitehall_user_20261203".into()),
            phase: "new user whitehall_user_20261203 pending".into(),
            mark_error: None,
        });
        let mut broken = row("publisher", 1, false);
        broken.username = None;
        broken.secrets_error = Some("AccessDenied on secret govuk/publisher/mysql".into());
        v.loaded(report(vec![signon, half, broken]));
        let text = render_to_text(&v, 160, 10);
        assert!(
            text.contains("rotui fleet · production · 3 apps · 1 due · 1 rotating"),
            "{text}"
        );
        let line = |app: &str| text.lines().find(|l| l.contains(app)).unwrap().to_owned();
        let s = line("signon");
        assert!(
            s.contains("120d") && s.contains("DUE") && s.contains("yes"),
            "{s}"
        );
        let w = line("whitehall");
        assert!(w.contains("alice@laptop since 3h"), "{w}");
        let p = line("publisher");
        assert!(p.contains("failing: AccessDenied"), "{p}");
        for c in COLUMNS {
            assert!(text.contains(c), "column {c}: {text}");
        }
    }
}
