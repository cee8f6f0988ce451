//! Drawing the fleet screen: a pure function of [`FleetView`].

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState};

use super::model::{FleetRow, Login};
use super::view::{FLEET_KEYS, FleetView};
use crate::app::KeyAction;
use crate::model::Verdict;
use crate::text::escape_controls;
use crate::ui::theme::Theme;

/// The column headings, in order.
pub const COLUMNS: [&str; 11] = [
    "env", "app", "engine", "user", "age", "due", "rotation", "ES sync", "Secret", "readers", "login",
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
    if view.help {
        render_help(frame, view, &theme);
    }
}

/// What each column means, under the keys in the help.
const COLUMN_HELP: [&str; 6] = [
    "age      days since the older of AWSCURRENT's creation and the date in its user name",
    "due      older than max_age_days ([fleet] in the config, per environment)",
    "rotation an unfinished rotation: its holder, since when, the step begun, the phase",
    "Secret   every Secret synced from the secret holds AWSCURRENT's user and password",
    "readers  workloads reading those Secrets (Deployments, CronJobs, workers, other apps)",
    "login    AWSCURRENT logged in to its server (the engine column then has its version)",
];

/// The `?` overlay: the fleet's keys from the keymap (overrides shown), and
/// what the columns mean.
fn render_help(frame: &mut Frame, view: &FleetView, theme: &Theme) {
    let area = crate::ui::layout::centered(frame.area(), 96, frame.area().height.saturating_sub(2));
    let mut lines: Vec<Line> = view
        .keymap
        .help_lines_for(&FLEET_KEYS)
        .into_iter()
        .map(|l| crate::ui::help::key_line(l, theme))
        .collect();
    lines.push(Line::raw(""));
    lines.extend(COLUMN_HELP.iter().map(|c| Line::styled(*c, theme.muted())));
    let block = Block::bordered()
        .border_style(theme.border(true))
        .title(Span::styled(
            " Fleet help — ? or Esc to close ",
            theme.title(true),
        ));
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn header(view: &FleetView) -> String {
    let mut s = format!(" rotui fleet · {}", view.env);
    match &view.report {
        Some(r) => {
            let due = view.rows.iter().filter(|r| r.due).count();
            let half = view.rows.iter().filter(|r| r.rotation.is_some()).count();
            s.push_str(&format!(
                " · {} · {due} due · {half} rotating · loaded {}",
                crate::text::count(view.rows.len() as i64, "app"),
                r.loaded_at.format("%H:%M:%S UTC")
            ));
            // Each environment's credentials: the time left, which a
            // credential command's refresh restarts.
            let left: Vec<String> = r
                .credentials_expire
                .iter()
                .map(|(env, at)| format!("{env} {}", credential_left(*at - view.now)))
                .collect();
            if !left.is_empty() {
                s.push_str(&format!(" · credentials {}", left.join(" · ")));
            }
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

/// `52m`, `1h05m`, `expired`.
fn credential_left(left: chrono::TimeDelta) -> String {
    let s = left.num_seconds();
    match s {
        ..=0 => "expired".to_owned(),
        1..3600 => format!("{}m", s / 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn footer(view: &FleetView) -> String {
    let mut s = format!(
        " ↑↓ move · {} open dashboard · {} filter · {} sort ({}{}) · {} refresh · {} help · {} quit",
        view.keymap.key_label(KeyAction::RunStep),
        view.keymap.key_label(KeyAction::Filter),
        view.keymap.key_label(KeyAction::Sort),
        view.sort.name(),
        if view.descending { ", reversed" } else { "" },
        view.keymap.key_label(KeyAction::Refresh),
        view.keymap.key_label(KeyAction::Help),
        view.keymap.key_label(KeyAction::Quit),
    );
    if !view.filter.is_empty() {
        s.push_str(&format!(" · filter: {}", escape_controls(&view.filter)));
    }
    s
}

fn render_table(frame: &mut Frame, area: Rect, view: &FleetView, theme: &Theme) {
    let rows = view.visible();
    // Names as wide as the longest shown (within reason); the rotation
    // column takes what is left.
    let widest = |f: &dyn Fn(&FleetRow) -> usize, min: usize, max: usize| {
        rows.iter().map(|r| f(r)).max().unwrap_or(0).clamp(min, max) as u16
    };
    let widths = [
        Constraint::Length(widest(&|r| r.env.chars().count(), 3, 16)),
        Constraint::Length(widest(&|r| r.app.chars().count(), 3, 32)),
        Constraint::Length(widest(&|r| engine_text(r).chars().count(), 6, 24)),
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
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    // What the rotation column gets: a text cut there ends in "…", so it
    // is not read as running on into the next column.
    let fixed: u16 = widths
        .iter()
        .map(|c| match c {
            Constraint::Length(n) => *n,
            _ => 0,
        })
        .sum();
    let spacing = widths.len() as u16 - 1;
    let rotation_w = area.width.saturating_sub(2 + fixed + spacing) as usize;
    let mut lines: Vec<Row> = rows
        .iter()
        .map(|r| table_row(r, view.now, theme, rotation_w))
        .collect();
    lines.extend(unread_envs(view, theme));
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

/// A line for each environment with no rows because it could not be read
/// at all (refused for its account, unreachable): what failed, in the
/// rotation column, so the gap in the table is explained where it is.
fn unread_envs<'a>(view: &FleetView, theme: &Theme) -> Vec<Row<'a>> {
    let Some(report) = &view.report else {
        return Vec::new();
    };
    report
        .envs
        .iter()
        .filter(|env| !view.rows.iter().any(|r| &r.env == *env))
        .filter_map(|env| {
            let why: Vec<String> = report
                .errors
                .iter()
                .filter(|e| &e.env == env && e.scope.is_none())
                .map(|e| format!("{} failing: {}", e.system, escape_controls(&e.message)))
                .collect();
            if why.is_empty() {
                return None;
            }
            let mut cells = vec![Line::from(escape_controls(env).into_owned()), Line::from("—")];
            cells.extend((0..4).map(|_| Line::from("")));
            cells.push(Line::from(format!("not read: {}", why.join(" · "))));
            Some(Row::new(cells).style(theme.danger()))
        })
        .collect()
}

/// One app's line; failing and stale parts say so.
fn table_row<'a>(r: &FleetRow, now: DateTime<Utc>, theme: &Theme, rotation_w: usize) -> Row<'a> {
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
        let step = p
            .step
            .as_deref()
            .map(|s| format!("at {}; ", text(s)))
            .unwrap_or_default();
        notes.push(format!("{who}{since}: {step}{}", text(&p.phase)));
    }
    // Where this environment's copy comes from, and whether the next one
    // can succeed once the login is rotated.
    notes.extend(r.restores.iter().map(|x| text(&x.text())));
    notes.extend(
        r.paused_readers()
            .into_iter()
            .map(|w| format!("⏸ {} paused: rolls nothing until kubectl rollout resume", text(w))),
    );
    if let Some(e) = &r.secrets_error {
        notes.push(format!("Secrets Manager failing: {}", text(e)));
    }
    if let Some(e) = &r.cluster_error {
        notes.push(format!("cluster failing: {}", text(e)));
    }
    if r.stale {
        notes.push("stale: showing the last load".into());
    }
    let yes_no = |v: Verdict| match v {
        Verdict::Yes => "yes".to_owned(),
        Verdict::No => "NO".to_owned(),
        Verdict::Unknown => "?".to_owned(),
    };
    let (sync, matches) = if r.cluster_error.is_some() && (!r.stale || r.external_secrets.is_empty()) {
        ("failing".to_owned(), "?".to_owned())
    } else if r.external_secrets.is_empty() {
        ("none".to_owned(), "-".to_owned())
    } else {
        (yes_no(r.synced()), yes_no(r.secrets_match()))
    };
    let readers = if r.external_secrets.is_empty() {
        "-".to_owned()
    } else {
        r.readers().len().to_string()
    };
    let (login, login_style) = match &r.login {
        None => ("-", Style::default()),
        Some(Login::Ok { .. }) => ("ok", Style::default()),
        Some(Login::Refused(_)) => ("REFUSED", theme.danger()),
        Some(Login::Unreachable(_)) => ("no route", theme.muted()),
        Some(Login::NotTried(_)) => ("-", theme.muted()),
    };
    let cells = vec![
        Span::raw(text(&r.env)),
        Span::raw(text(&r.app)),
        Span::raw(engine_text(r)),
        Span::raw(user),
        Span::raw(age),
        Span::styled(due, theme.danger()),
        Span::styled(crate::ui::clip(&notes.join(" · "), rotation_w), theme.warn()),
        Span::raw(sync),
        Span::raw(matches),
        Span::raw(readers),
        Span::styled(login, login_style),
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

/// "mysql 8.4.3": the engine, and the server's version when a login read it.
fn engine_text(r: &FleetRow) -> String {
    let engine = r.engine.map_or("?", |e| e.as_str());
    match &r.login {
        Some(Login::Ok { version }) => format!("{engine} {}", escape_controls(version)),
        _ => engine.to_owned(),
    }
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
            ready: Verdict::Yes,
            reason: Some("SecretSynced".into()),
            message: None,
            secret: "signon-mysql".into(),
            matches: Matches::Yes,
            consumers: vec!["deployment/signon".into(), "cronjob/signon-cleanup".into()],
            paused: vec![],
        });
        signon.login = Some(Login::Ok {
            version: "8.4.3".into(),
        });
        let mut half = row("whitehall", 3, false);
        half.rotation = Some(InProgress {
            pending: true,
            rotation_id: Some("r1".into()),
            holder: Some("alice@laptop".into()),
            since: Some(now - chrono::Duration::hours(3)),
            heartbeat: None,
            new_username: Some("whitehall_user_20261203".into()),
            step: Some("production/switch-secret".into()),
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
        assert!(
            s.contains("mysql 8.4.3") && s.contains(" 2 ") && s.contains(" ok"),
            "{s}"
        );
        let w = line("whitehall");
        assert!(
            w.contains("alice@laptop since 3h: at production/switch-secret"),
            "{w}"
        );
        let p = line("publisher");
        assert!(p.contains("failing: AccessDenied"), "{p}");
        for c in COLUMNS {
            assert!(text.contains(c), "column {c}: {text}");
        }
    }

    /// A paused Deployment among a row's readers (a `--stagger` run that
    /// stopped before resuming it) is named, with how to end it.
    #[test]
    fn the_table_names_a_paused_reader() {
        let now = Utc::now();
        let mut v = FleetView::new("production", Keymap::default(), ThemeName::Mono, now);
        let mut signon = row("signon", 10, false);
        signon.external_secrets.push(EsSync {
            name: "signon-mysql".into(),
            ready: Verdict::Yes,
            reason: Some("SecretSynced".into()),
            message: None,
            secret: "signon-mysql".into(),
            matches: Matches::Yes,
            consumers: vec!["deployment/signon".into(), "deployment/signon-worker".into()],
            paused: vec!["deployment/signon-worker".into()],
        });
        let calm = row("whitehall", 10, false);
        v.loaded(report(vec![signon, calm]));
        let text = render_to_text(&v, 200, 10);
        let line = |app: &str| text.lines().find(|l| l.contains(app)).unwrap().to_owned();
        assert!(
            line("signon")
                .contains("⏸ deployment/signon-worker paused: rolls nothing until kubectl rollout resume"),
            "{text}"
        );
        assert!(!line("whitehall").contains("paused"), "{text}");
    }

    /// A copied environment's row says where its copy comes from, when the
    /// next one runs, how the last ended, and marks a restore that a
    /// rotation would break.
    #[test]
    fn the_table_shows_each_restore_and_marks_one_a_rotation_would_break() {
        use crate::fleet::model::RowRestore;
        use crate::k8s::db_sync::RunOutcome;
        let now: chrono::DateTime<Utc> = "2026-12-05T12:00:00Z".parse().unwrap();
        let mut v = FleetView::new("staging", Keymap::default(), ThemeName::Mono, now);
        let mut alerts = row("email-alert-api", 10, false);
        alerts.env = "staging".into();
        alerts.restores.push(RowRestore {
            cronjob: "db-backup-email-alert-api-postgres".into(),
            from: Some("production".into()),
            suspended: false,
            next: Some("2026-12-07T01:00:00Z".parse().unwrap()),
            last: Some(RunOutcome::Succeeded { at: None }),
            would_fail: Some("its DB_OWNER is the login email-alert-api".into()),
        });
        let mut signon = row("signon", 10, false);
        signon.env = "staging".into();
        signon.restores.push(RowRestore {
            cronjob: "db-backup-signon-mysql".into(),
            from: Some("production".into()),
            suspended: true,
            next: None,
            last: Some(RunOutcome::Failed {
                why: "ERROR 1449 at line 80".into(),
            }),
            would_fail: None,
        });
        v.loaded(report(vec![alerts, signon]));
        let text = render_to_text(&v, 220, 10);
        let line = |app: &str| text.lines().find(|l| l.contains(app)).unwrap().to_owned();
        let a = line("email-alert-api");
        assert!(
            a.contains("restore ← production next Mon 07 Dec 01:00, last ok; ⚠ its DB_OWNER is the login email-alert-api"),
            "{a}"
        );
        let s = line("signon");
        assert!(
            s.contains("restore ← production suspended, LAST FAILED: ERROR 1449 at line 80"),
            "{s}"
        );
    }

    /// An environment refused outright still has a line saying why.
    #[test]
    fn an_environment_read_not_at_all_has_a_line_saying_why() {
        let mut v = FleetView::new(
            "production,staging",
            Keymap::default(),
            ThemeName::Mono,
            Utc::now(),
        );
        let mut r = report(vec![row("signon", 3, false)]);
        r.envs.push("staging".into());
        r.errors.push(crate::fleet::FleetError {
            env: "staging".into(),
            system: crate::model::System::SecretsManager,
            scope: None,
            message: "staging: the AWS session is account 111111111111 (production?)".into(),
        });
        v.loaded(r);
        let text = render_to_text(&v, 200, 8);
        let line = text
            .lines()
            .find(|l| l.contains("not read:"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            line.contains("staging") && line.contains("account 111111111111"),
            "{line}"
        );
    }
}
