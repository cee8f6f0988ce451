//! Modal dialogs: a step's preview, the two-step confirm of destructive
//! operations (naming the exact target in the danger colour), the typed
//! confirm for dropping a user, and quitting while a step runs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::app::action::KillTarget;
use crate::app::state::{Destructive, Dialog, Scroll, State};
use crate::ui::chrome::{keys_line, popup, scroll_spans, scrolled, wrap_rows};
use crate::ui::panes::steps::detail_lines;
use crate::ui::theme::Theme;

/// Draw `dialog`; for one whose text scrolls, what this frame measured of
/// it: (rows of text, rows shown at once), for `Action::Measured`.
pub fn render(frame: &mut Frame, area: Rect, state: &State, dialog: &Dialog) -> Option<(u16, u16)> {
    match dialog {
        Dialog::Help { scroll } => return crate::ui::help::render(frame, area, state, scroll),
        Dialog::Preview { step, scroll } => return preview(frame, area, state, step, scroll),
        Dialog::Confirm(action) => confirm(frame, area, state, action),
        Dialog::TypedConfirm {
            action,
            expected,
            input,
        } => typed(frame, area, state, action, expected, input),
        Dialog::QuitWhileRunning => quit(frame, area, state),
        Dialog::Names { selected } => crate::ui::names::render(frame, area, state, *selected),
        Dialog::Rollback {
            preview,
            new_user,
            input,
            scroll,
        } => return rollback(frame, area, state, preview.as_ref(), new_user, input, scroll),
    }
    None
}

/// A dialog's height for `rows` of text and `chrome` rows around them: at
/// least `least`, at most what `area` leaves around it (small screens win).
fn fit(rows: usize, chrome: u16, least: u16, area: Rect) -> u16 {
    let room = area.height.saturating_sub(4);
    u16::try_from(rows)
        .unwrap_or(u16::MAX)
        .saturating_add(chrome)
        .max(least)
        .min(room)
}

/// What a destructive action does, naming its target exactly.
pub fn describe(action: &Destructive) -> String {
    match action {
        Destructive::Kill(KillTarget::Connection { id, user }) => {
            format!(
                "Kill connection {id} of user {}",
                user.as_deref().unwrap_or("(dropped role)")
            )
        }
        Destructive::Kill(KillTarget::AllOf { user, count }) => {
            format!(
                "Kill {} of user {user}",
                match count {
                    1 => "the one connection".to_string(),
                    n => format!("all {}", crate::text::count(*n, "connection")),
                }
            )
        }
        Destructive::RunStep { title, .. } => format!("Run: {title}"),
        Destructive::Rollback { new_user, drop_new } => format!(
            "Roll the rotation back to the old user{}",
            if *drop_new {
                format!(" and drop {new_user}")
            } else {
                format!(", keeping {new_user}")
            }
        ),
    }
}

fn preview(frame: &mut Frame, area: Rect, state: &State, id: &str, scroll: &Scroll) -> Option<(u16, u16)> {
    let step = state.step(id)?;
    // As tall as the text needs (with its key line and frame), within the screen.
    let width = area.width.saturating_sub(8).min(140);
    let rows = wrap_rows(
        detail_lines(&Theme::of(state.theme), step),
        width.saturating_sub(2),
    );
    let height = fit(rows.len(), 3, 8, area);
    let inner = popup(
        frame,
        area,
        width,
        height,
        &format!("Preview: {}", step.title),
        step.destructive(),
        state,
    );
    let [body, foot] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    let measure = scrolled(frame, body, rows, scroll);
    let mut foot_line = Line::from(scroll_spans(state, scroll, true));
    // Going on is offered once the whole preview has been on screen.
    let go_on = if state.read_only {
        Line::styled(
            "read-only: this step will not run · Esc close",
            Theme::of(state.theme).warn(),
        )
    } else if !scroll.seen_all {
        keys_line(state, &[("Esc", "cancel")])
    } else if step.destructive() {
        keys_line(
            state,
            &[("Enter", "continue (asks to confirm)"), ("Esc", "cancel")],
        )
    } else {
        keys_line(state, &[("Enter", "run"), ("Esc", "cancel")])
    };
    foot_line.spans.extend(go_on.spans);
    frame.render_widget(Paragraph::new(foot_line), foot);
    Some(measure)
}

fn confirm(frame: &mut Frame, area: Rect, state: &State, action: &Destructive) {
    let inner = popup(frame, area, 64, 8, "Confirm", true, state);
    let lines = vec![
        Line::styled(format!("{}?", describe(action)), Theme::of(state.theme).danger()),
        Line::raw(""),
        Line::styled("This cannot be undone.", Theme::of(state.theme).muted()),
        Line::raw(""),
        keys_line(state, &[("y", "yes, do it"), ("n/Esc", "cancel")]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn typed(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    action: &Destructive,
    expected: &str,
    input: &ratatui_textarea::TextArea<'static>,
) {
    let inner = popup(frame, area, 70, 11, "Type to confirm", true, state);
    let [text, field, foot] = Layout::vertical([
        Constraint::Length(5),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(inner);
    let lines = vec![
        Line::styled(format!("{}?", describe(action)), Theme::of(state.theme).danger()),
        Line::raw(""),
        Line::from(vec![
            Span::raw("Type "),
            Span::styled(expected.to_owned(), Theme::of(state.theme).danger()),
            Span::raw(" to confirm."),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
    let mut input = input.clone();
    input.set_block(Block::bordered().border_style(Theme::of(state.theme).border(true)));
    frame.render_widget(&input, field);
    frame.render_widget(
        Paragraph::new(keys_line(state, &[("Enter", "confirm"), ("Esc", "cancel")])),
        foot,
    );
}

fn quit(frame: &mut Frame, area: Rect, state: &State) {
    let running = state
        .steps()
        .iter()
        .find(|s| s.status == crate::app::state::StepStatus::Running);
    let inner = popup(frame, area, 64, 8, "Quit?", true, state);
    let lines = vec![
        Line::styled(
            format!(
                "A step is running: {}",
                running.map(|s| s.title.as_str()).unwrap_or("?")
            ),
            Theme::of(state.theme).danger(),
        ),
        Line::raw("Quitting stops watching it; run rotui again to resume."),
        Line::raw(""),
        keys_line(state, &[("y", "quit"), ("n/Esc", "stay")]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// The rollback: every step's preview, then the typed choice about the new user.
fn rollback(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    preview: Option<&Result<Vec<crate::app::state::StepView>, String>>,
    new_user: &str,
    input: &ratatui_textarea::TextArea<'static>,
    scroll: &Scroll,
) -> Option<(u16, u16)> {
    let theme = Theme::of(state.theme);
    let width = area.width.saturating_sub(8).min(140);
    let rows = wrap_rows(rollback_lines(&theme, preview), width.saturating_sub(2));
    // The text, the question (2), the field (3), the keys (1) and the frame (2).
    let height = fit(rows.len(), 8, 12, area);
    let inner = popup(frame, area, width, height, "Roll back the rotation", true, state);
    let [body, ask, field, foot] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(2),
        Constraint::Length(3),
        Constraint::Length(1),
    ])
    .areas(inner);
    let measure = scrolled(frame, body, rows, scroll);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw("Type "),
            Span::styled(new_user.to_owned(), theme.danger()),
            // It may hold the app's connections now: the drop waits for them to end.
            Span::raw(
                " to drop the new user too, once the app's connections on it end; leave it empty to keep it.",
            ),
        ]))
        .wrap(Wrap { trim: false }),
        ask,
    );
    let mut input = input.clone();
    input.set_block(Block::bordered().border_style(theme.border(true)));
    frame.render_widget(&input, field);
    let mut foot_line = Line::from(scroll_spans(state, scroll, false));
    let go_on = if state.read_only {
        Line::styled("read-only: nothing will run · Esc close", theme.warn())
    } else if !scroll.seen_all {
        keys_line(state, &[("Esc", "cancel")])
    } else {
        keys_line(state, &[("Enter", "roll back"), ("Esc", "cancel")])
    };
    foot_line.spans.extend(go_on.spans);
    frame.render_widget(Paragraph::new(foot_line), foot);
    Some(measure)
}

/// The rollback's text: each step with its state and what it will run.
fn rollback_lines(
    theme: &Theme,
    preview: Option<&Result<Vec<crate::app::state::StepView>, String>>,
) -> Vec<Line<'static>> {
    let mut lines: Vec<Line<'static>> = vec![];
    match preview {
        None => lines.push(Line::styled("reading the live systems…", theme.muted())),
        Some(Err(e)) => lines.push(Line::styled(e.clone(), theme.danger())),
        Some(Ok(steps)) => {
            for (i, s) in steps.iter().enumerate() {
                let state_text = s.result.as_deref().unwrap_or_default();
                lines.push(Line::from(vec![
                    Span::styled(format!("{}. {}", i + 1, s.title), theme.accent()),
                    Span::styled(format!("  {state_text}"), theme.muted()),
                ]));
                for l in s.preview.iter().flat_map(|l| l.lines()) {
                    lines.push(Line::raw(format!("   {l}")));
                }
            }
        }
    }
    lines
}
