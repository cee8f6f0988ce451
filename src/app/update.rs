//! The only place state changes: `update(state, action) -> effects`.
//! Pure (the clock comes in with `Action::Tick`), so every key flow is tested
//! without a terminal.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::app::action::{Action, Effect};
use crate::app::keymap::KeyAction;
use crate::app::loadable::Stamp;
use crate::app::panes::Pane;
use crate::app::selection::Selection;
use crate::app::source::{Request, Source};
use crate::app::state::{
    Destructive, Dialog, INTERVALS_MS, Input, InputKind, NOTICE_FOR, REVEAL_FOR, Scroll, State,
};
use crate::secret::Redacted;

use super::dialogs::{ask_quit, dialog_key, quit};
use super::lists::{move_by, reindex, set_filter};
use super::receive::loaded;
pub use super::schedule::next_wake;
use super::schedule::{WAKE_SLACK, ask, due_at, polled, refresh_all};

/// Apply one action; return the side effects it asks for.
pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    let mut out = Vec::new();
    match action {
        Action::Tick(now) => tick(state, now, &mut out),
        Action::Resize(width, height) => {
            state.screen = Some(ratatui::layout::Rect::new(0, 0, width, height));
            state.dirty = true;
        }
        Action::Key(key) => {
            state.dirty = true;
            key_event(state, key, &mut out);
        }
        Action::Loaded {
            generation,
            at,
            answer,
        } => loaded(state, Stamp { generation, at }, answer, &mut out),
        Action::StepChanged { id, status, result } => {
            if state.panes.steps.step_changed(&id, status, result) {
                state.dirty = true;
            }
        }
        // The run changed the systems: show them as they are now. (Not on
        // each step's own end: the runner may not have recorded it yet, and
        // a look then would show the step as still to do.)
        Action::RunEnded => refresh_all(state, &mut out),
        Action::RollbackPreview(result) => {
            if let Some(Dialog::Rollback { preview, scroll, .. }) = state.dialog.as_mut() {
                *preview = Some(result.map_err(Redacted::into_string));
                // What was read so far was only "reading the live systems…".
                *scroll = Default::default();
                state.dirty = true;
            }
        }
        Action::RollbackSteps(steps) => {
            if state.panes.steps.show_rollback(steps) {
                reindex(state, Pane::Steps, &mut out);
                state.dirty = true;
            }
        }
        Action::Measured { rows, view } => {
            if let Some(scroll) = state.dialog.as_mut().and_then(Dialog::scroll_mut)
                && (scroll.rows, scroll.view) != (rows, view)
            {
                scroll.measured(rows, view);
                state.dirty = true;
            }
        }
        Action::Notice(text) => {
            state.notice = Some((state.now, text.into_string()));
            state.dirty = true;
        }
        Action::Failed { what, error } => {
            state.last_error = Some((state.now, error.context(what).into_string()));
            state.dirty = true;
        }
    }
    out
}

fn tick(state: &mut State, now: DateTime<Utc>, out: &mut Vec<Effect>) {
    // Redraw only when a clock-driven text turns over (a stale pane's age,
    // the session countdown), not because a second passed.
    let before = super::clock::face(state);
    if state
        .notice
        .as_ref()
        .is_some_and(|(at, _)| now - *at >= NOTICE_FOR)
    {
        state.notice = None;
        state.dirty = true;
    }
    if state.reveal_until.is_some_and(|until| now >= until) {
        state.reveal_until = None;
        state.dirty = true;
    }
    state.now = now;
    if super::clock::face(state) != before {
        state.dirty = true;
    }
    if state.paused || state.target.is_none() {
        return;
    }
    for source in polled(state) {
        if due_at(state, &source).is_some_and(|at| at <= now + WAKE_SLACK) {
            ask(state, source, out);
        }
    }
}

// ---- keys -------------------------------------------------------------

fn key_event(state: &mut State, key: KeyEvent, out: &mut Vec<Effect>) {
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl_c {
        // Always a way out, whatever is open; a second Ctrl-C means it.
        if matches!(state.dialog, Some(Dialog::QuitWhileRunning)) {
            return quit(state, out);
        }
        state.input = None;
        return ask_quit(state, out);
    }
    if state.input.is_some() {
        return input_key(state, key, out);
    }
    if state.dialog.is_some() {
        return dialog_key(state, key, out);
    }
    let Some(action) = state.keymap.resolve(&key) else {
        return;
    };
    let focus = state.focus;
    match action {
        KeyAction::Help => {
            state.dialog = Some(Dialog::Help {
                scroll: Scroll::default(),
            })
        }
        KeyAction::Names => state.dialog = Some(Dialog::Names { selected: 0 }),
        KeyAction::Quit => ask_quit(state, out),
        KeyAction::NextPane => state.focus = focus.following(),
        KeyAction::PrevPane => state.focus = focus.preceding(),
        KeyAction::Focus(pane) => state.focus = pane,
        KeyAction::Down => move_by(state, focus, 1, out),
        KeyAction::Up => move_by(state, focus, -1, out),
        KeyAction::PageDown => move_by(state, focus, 10, out),
        KeyAction::PageUp => move_by(state, focus, -10, out),
        KeyAction::Top => move_by(state, focus, isize::MIN / 2, out),
        KeyAction::Bottom => move_by(state, focus, isize::MAX / 2, out),
        KeyAction::Zoom => state.zoom = !state.zoom,
        KeyAction::RunStep => {
            if focus == Pane::Steps
                && let Some(id) = state.selection(Pane::Steps).key.clone()
            {
                state.dialog = Some(Dialog::preview(id));
            }
        }
        KeyAction::Rollback => super::dialogs::open_rollback(state, out),
        KeyAction::Kill => {
            if state.refuse_write("force-kill") {
                return;
            }
            if focus != Pane::Connections {
                state.notice = Some((
                    state.now,
                    "K kills connections: focus the Connections pane (3) first".into(),
                ));
                return;
            }
            match state.kill_target() {
                Ok(t) => state.dialog = Some(Dialog::Confirm(Destructive::Kill(t))),
                Err(why) => state.notice = Some((state.now, why)),
            }
        }
        KeyAction::ToggleRows => {
            let connections = &mut state.panes.connections;
            connections.rows_listed = !connections.rows_listed;
            connections.selection = Selection::default();
            let rows = connections.rows_listed;
            reindex(state, Pane::Connections, out);
            if state.target.is_some() {
                ask(state, Source::Fetch(Request::Connections { rows }), out);
            }
        }
        KeyAction::Report => {
            out.push(Effect::WriteReport);
            state.notice = Some((state.now, "writing the rotation's report".into()));
        }
        KeyAction::ForceSync => {
            if !state.refuse_write("force-sync") {
                out.push(Effect::ForceSync);
                state.notice = Some((state.now, "force-sync requested".into()));
            }
        }
        KeyAction::Refresh => refresh_all(state, out),
        KeyAction::Faster => step_interval(state, -1),
        KeyAction::Slower => step_interval(state, 1),
        KeyAction::Pause => state.paused = !state.paused,
        KeyAction::Filter => {
            if focus.about().filterable {
                let current = state.selection(focus).filter.clone();
                state.input = Some(Input {
                    kind: InputKind::Filter,
                    text: TextArea::new(vec![current]),
                    completing: None,
                });
                if let Some(i) = state.input.as_mut() {
                    i.text.move_cursor(ratatui_textarea::CursorMove::End);
                }
            }
        }
        // `v` again hides at once.
        KeyAction::Reveal => {
            state.reveal_until = (!state.revealed()).then(|| state.now + REVEAL_FOR);
        }
        KeyAction::CommandLine => {
            let mut text = TextArea::default();
            text.set_placeholder_text("env · app · engine · target NAME (Tab completes)");
            state.input = Some(Input {
                kind: InputKind::Command,
                text,
                completing: None,
            });
        }
        KeyAction::Cancel => {
            if state.zoom {
                state.zoom = false;
            } else if !state.selection(focus).filter.is_empty() {
                set_filter(state, focus, String::new(), out);
            } else {
                state.notice = None;
                state.warnings.clear();
            }
        }
        // The fleet view's own.
        KeyAction::Sort | KeyAction::SortReverse => {}
    }
}

fn step_interval(state: &mut State, by: isize) {
    let i = INTERVALS_MS
        .iter()
        .position(|ms| *ms >= state.interval_ms)
        .unwrap_or(INTERVALS_MS.len() - 1);
    let j = (i as isize + by).clamp(0, INTERVALS_MS.len() as isize - 1) as usize;
    state.interval_ms = INTERVALS_MS[j];
}

fn input_key(state: &mut State, key: KeyEvent, out: &mut Vec<Effect>) {
    let Some(mut input) = state.input.take() else {
        return;
    };
    match key.code {
        KeyCode::Esc => {
            if input.kind == InputKind::Filter {
                set_filter(state, state.focus, String::new(), out);
            }
        }
        KeyCode::Enter => {
            if input.kind == InputKind::Command {
                run_command_line(state, &input.value(), out);
            }
        }
        KeyCode::Tab if input.kind == InputKind::Command => {
            let (typed, nth) = match input.completing.take() {
                Some((typed, n)) => (typed, n + 1),
                None => (input.value(), 0),
            };
            match super::command_line::complete(state.target.as_ref(), &typed, nth) {
                Some(line) => {
                    input.text = TextArea::new(vec![line]);
                    input.text.move_cursor(ratatui_textarea::CursorMove::End);
                    input.completing = Some((typed, nth));
                }
                None => {
                    state.notice = Some((
                        state.now,
                        format!("nothing completes {typed:?}: the commands are env, app, engine and target"),
                    ));
                }
            }
            state.input = Some(input);
        }
        _ => {
            input.completing = None;
            input.text.input(key);
            if input.kind == InputKind::Filter {
                // Live filtering: the pane narrows as the operator types.
                set_filter(state, state.focus, input.value(), out);
            }
            state.input = Some(input);
        }
    }
}

/// `:env staging`, `:app account-api engine postgres`, `:target production/signon/mysql`.
fn run_command_line(state: &mut State, line: &str, out: &mut Vec<Effect>) {
    match super::command_line::parse(state.target.as_ref(), line) {
        Ok(None) => {}
        Ok(Some(target)) => {
            if state.target.as_ref() != Some(&target) {
                state.switch_target(target.clone());
                out.push(Effect::SwitchTarget(Box::new(target)));
                refresh_all(state, out);
            }
        }
        Err(e) => state.notice = Some((state.now, e)),
    }
}
