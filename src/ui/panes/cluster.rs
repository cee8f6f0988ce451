//! The cluster side: ExternalSecret sync, the Secret's DATABASE_URL (its
//! password masked unless revealed), the Deployment's rollout and its pods,
//! and every workload that reads the Secret.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::app::clock::clock_time;
use crate::app::panes::Pane;
use crate::app::selection::{row_at, window};
use crate::app::state::{ClusterView, State};
use crate::model::Verdict;
use crate::secret::{ExposeSecret, MASK};
use crate::ui::chrome::{clip, pane_block, with_error_line};
use crate::ui::theme::Theme;

pub(super) const VIEW: super::View = super::View {
    render,
    badge: super::no_badge,
};

fn render(frame: &mut Frame, area: Rect, state: &State) {
    let block = pane_block(state, Pane::Cluster, None);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(inner) = with_error_line(frame, inner, state, &state.panes.cluster.view) else {
        return;
    };
    let Some(view) = &state.panes.cluster.view.data else {
        return;
    };
    let lines = summary(state, view);
    let [top, pods] =
        Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), top);
    render_pods(frame, pods, state, view);
}

fn yes_no<'a>(state: &State, ok: Verdict, yes: &'a str, no: &'a str) -> Span<'a> {
    match ok {
        Verdict::Yes => Span::styled(yes, Theme::of(state.theme).ok()),
        Verdict::No => Span::styled(no, Theme::of(state.theme).danger()),
        Verdict::Unknown => Span::styled("?", Theme::of(state.theme).muted()),
    }
}

fn summary<'a>(state: &'a State, view: &'a ClusterView) -> Vec<Line<'a>> {
    let theme = Theme::of(state.theme);
    let at_time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| format!("at {}", clock_time(state, t)))
            .unwrap_or_else(|| "never".into())
    };
    let mut lines = Vec::new();
    match &view.external_secret {
        Some(es) => {
            let mut l = vec![
                Span::styled("ExternalSecret ", theme.muted()),
                Span::raw(format!("{} ", es.name)),
                yes_no(state, es.ready, "✓ Ready", "✗ Not ready"),
                Span::raw(format!(
                    " {} · synced {}",
                    es.reason.as_deref().unwrap_or(""),
                    at_time(es.refresh_time)
                )),
            ];
            if let Some(i) = &es.refresh_interval {
                l.push(Span::styled(format!(" · every {i}"), theme.muted()));
            }
            lines.push(Line::from(l));
            if let Some(at) = es.force_sync_requested {
                let done = es.refresh_time.is_some_and(|t| t >= at);
                lines.push(Line::from(vec![
                    Span::styled("  force-sync ", theme.muted()),
                    Span::raw(format!("requested {} ", at_time(Some(at)))),
                    if done {
                        Span::styled("→ synced", theme.ok())
                    } else {
                        Span::styled("→ waiting", theme.warn())
                    },
                ]));
            }
            if let Some(m) = es.message.as_ref().filter(|_| es.ready == Verdict::No) {
                lines.push(Line::styled(format!("  {m}"), theme.danger()));
            }
        }
        None => lines.push(Line::styled("ExternalSecret: not found", theme.warn())),
    }
    match &view.secret_check {
        Some(sc) => {
            let password = match &sc.password {
                Some(p) if state.revealed() => Span::styled(p.0.expose_secret().to_owned(), theme.warn()),
                Some(_) => Span::raw(MASK),
                None => Span::raw(""),
            };
            let mut l = vec![
                Span::styled("Secret ", theme.muted()),
                Span::raw(format!("{} DATABASE_URL ", sc.secret)),
                yes_no(
                    state,
                    sc.matches_app_secret,
                    "✓ matches the app secret",
                    "✗ differs from the app secret",
                ),
            ];
            if let Some(p) = &sc.problem {
                l.push(Span::styled(format!(" · {p}"), theme.danger()));
            }
            lines.push(Line::from(l));
            // The password first after the user, so narrow panes cut the host, not it.
            lines.push(Line::from(vec![
                Span::raw(format!("  {}:", sc.user.as_deref().unwrap_or("?"))),
                password,
                Span::raw(format!(
                    "@{}/{}",
                    sc.host.as_deref().unwrap_or("?"),
                    sc.database.as_deref().unwrap_or("?")
                )),
            ]));
        }
        None => lines.push(Line::styled("Secret: not found", theme.warn())),
    }
    match &view.rollout {
        Some(r) => lines.push(Line::from(vec![
            Span::styled("Deployment ", theme.muted()),
            Span::raw(format!(
                "{} {}/{} updated · {} ready · {} available ",
                r.deployment, r.updated, r.desired, r.ready, r.available
            )),
            if r.paused {
                Span::styled(
                    "⏸ paused: rolls nothing until kubectl rollout resume",
                    theme.warn(),
                )
            } else if r.complete {
                Span::styled("✓ rolled out", theme.ok())
            } else {
                Span::styled("⟳ rolling out", theme.warn())
            },
            Span::styled(
                r.restarted_at
                    .map(|t| format!(" · restarted {}", at_time(Some(t))))
                    .unwrap_or_default(),
                theme.muted(),
            ),
        ])),
        None => lines.push(Line::styled("Deployment: not found", theme.warn())),
    }
    // Every other workload reading the Secret, and what it reads it as.
    // One line, so the pods keep their room: the workloads first, what they read after.
    if !view.consumers.is_empty() {
        let mut l = vec![Span::styled(
            format!("Consumers {} ", view.consumers.len()),
            theme.muted(),
        )];
        for (i, c) in view.consumers.iter().enumerate() {
            if i > 0 {
                l.push(Span::styled(" · ", theme.muted()));
            }
            l.push(Span::raw(format!("{} ", c.workload)));
            l.push(Span::styled(format!("({})", c.reads), theme.muted()));
        }
        lines.push(Line::from(l));
    }
    if let Some(note) = &view.consumers_note {
        lines.push(Line::styled(format!("  consumers: {note}"), theme.warn()));
    }
    lines
}

fn render_pods(frame: &mut Frame, area: Rect, state: &State, view: &ClusterView) {
    let theme = Theme::of(state.theme);
    let sel = state.selection(Pane::Cluster);
    let len = sel.visible.as_ref().map_or(view.pods.len(), Vec::len);
    // Pod names whole (the operator matches them against kubectl's) where
    // the db user still fits whole beside them; cut with "…" where not.
    let longest =
        |f: &dyn Fn(&crate::app::state::PodView) -> usize| view.pods.iter().map(f).max().unwrap_or(0);
    let users: Vec<Option<String>> = view
        .pods
        .iter()
        .map(|p| p.db_user.clone().or_else(|| state.pod_db_users(&p.name)))
        .collect();
    let user_w = users
        .iter()
        .flatten()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .clamp(7, 40) as u16;
    let room = area.width.saturating_sub(9 + 5 + 8 + 12 + 5 + user_w);
    let name_w = (longest(&|p| p.name.chars().count()).max(3) as u16).min(room.max(12));
    let rows = window(len, sel.index, area.height.saturating_sub(1) as usize).filter_map(|i| {
        let row = row_at(sel, i)?;
        let p = &view.pods[row];
        let db_user = users[row].clone();
        let user_style = match db_user.as_deref() {
            Some(u) if Some(u) == state.old_user() => theme.old_user(),
            Some(u) if Some(u) == state.new_user() => theme.new_user(),
            _ => theme.base(),
        };
        let mut row = Row::new(vec![
            Cell::from(clip(&p.name, name_w as usize)),
            Cell::from(p.phase.clone()),
            Cell::from(if p.ready {
                Span::styled("✓", theme.ok())
            } else {
                Span::styled("✗", theme.danger())
            }),
            Cell::from(p.restarts.to_string()),
            Cell::from(p.started.map(|t| clock_time(state, t)).unwrap_or_default()),
            Cell::from(Span::styled(db_user.unwrap_or_default(), user_style)),
        ]);
        if state.focus == Pane::Cluster && i == sel.index {
            row = row.style(theme.selected());
        }
        Some(row)
    });
    let db_user_where = format!("db user (c in {})", Pane::Connections.index() + 1);
    let table = Table::new(
        rows,
        [
            Constraint::Length(name_w),
            Constraint::Length(9),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(12),
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new([
            "pod",
            "phase",
            "ready",
            "restarts",
            "started",
            // Known from the single connections: say where to list them.
            if state.panes.connections.rows_listed || users.iter().all(Option::is_some) {
                "db user"
            } else {
                db_user_where.as_str()
            },
        ])
        .style(theme.header()),
    );
    frame.render_widget(table, area);
}
