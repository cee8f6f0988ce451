//! The only place state changes: `update(state, action) -> effects`.
//! Pure (the clock comes in with `Action::Tick`), so every key flow is tested
//! without a terminal.

use chrono::{DateTime, TimeDelta, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::app::action::{Action, Answer, Effect, Fetched, Request, Source};
use crate::app::keymap::KeyAction;
use crate::app::state::{
    DRAIN_BUCKET, DRAIN_POINTS, Destructive, Dialog, DrainPoint, INTERVALS_MS, Input, InputKind, Loadable,
    Pane, REVEAL_FOR, State,
};
use crate::model::ConnectionSnapshot;
use crate::secret::Redacted;
use crate::target::Target;

use super::dialogs::dialog_key;
use super::lists::{follow_selected_user, move_by, reindex, selected_key, set_filter};
pub use super::schedule::next_wake;
use super::schedule::{WAKE_SLACK, ask, due_at, polled, refresh_all};

/// How long a notice stays in the footer.
pub(super) const NOTICE_FOR: TimeDelta = TimeDelta::seconds(8);

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
        } => loaded(state, generation, at, answer, &mut out),
        Action::StepChanged { id, status, result } => {
            if let Some(step) = state
                .plan
                .data
                .as_mut()
                .and_then(|p| p.steps.iter_mut().find(|s| s.id == id.0))
            {
                step.status = status;
                if result.is_some() {
                    step.result = result.map(Redacted::into_string);
                }
                state.dirty = true;
            }
        }
        // The run changed the systems: show them as they are now. (Not on
        // each step's own end: the runner may not have recorded it yet, and
        // a look then would show the step as still to do.)
        Action::RunEnded => refresh_all(state, &mut out),
        Action::RollbackPreview(result) => {
            if let Some(Dialog::Rollback { preview, .. }) = state.dialog.as_mut() {
                *preview = Some(result.map_err(Redacted::into_string));
                state.dirty = true;
            }
        }
        Action::RollbackSteps(steps) => {
            if let Some(p) = state.plan.data.as_mut() {
                p.steps = steps;
                p.rollback = Some("rolling back".into());
                p.can_roll_back = false;
                reindex(state, Pane::Steps);
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

/// A source's answer lands: the acceptance of its generation is the same
/// for every source ([`accept_by`]); what follows is each source's own.
fn loaded(state: &mut State, generation: u64, at: DateTime<Utc>, answer: Answer, out: &mut Vec<Effect>) {
    match answer {
        Answer::Users(result) => {
            if accept(&mut state.dirty, &mut state.users, generation, at, result) {
                reindex(state, Pane::Users);
                follow_selected_user(state, out);
            }
        }
        Answer::Grants { user, result } => {
            if state.grants_of.as_deref() == Some(user.as_str()) {
                accept(&mut state.dirty, &mut state.grants, generation, at, result);
            }
        }
        Answer::Objects(result) => {
            if accept(&mut state.dirty, &mut state.objects, generation, at, result) {
                reindex(state, Pane::Objects);
                count_old_user_objects(state);
            }
        }
        Answer::Connections(result) => {
            if state.aiming_kill() {
                // pg_activity's habit: the rows stand still while a kill is aimed.
                state.held_connections = Some((generation, at, result));
            } else {
                apply_connections(state, generation, at, result);
            }
        }
        Answer::Cluster(result) => {
            let first = state.cluster.data.is_none();
            if accept(&mut state.dirty, &mut state.cluster, generation, at, result) {
                reindex(state, Pane::Cluster);
                // A sync or rollout may have moved a step along: look again.
                if !first && state.cluster.error.is_none() && !state.plan.in_flight() && !state.paused {
                    ask(state, Source::Fetch(Request::Plan), out);
                }
            }
        }
        Answer::Plan(result) => {
            if accept(&mut state.dirty, &mut state.plan, generation, at, result) {
                reindex(state, Pane::Steps);
                count_old_user_objects(state);
            }
        }
        Answer::Session(result) => {
            let asked = unresolved_key(state);
            accept(&mut state.dirty, &mut state.session, generation, at, result);
            if !asked && unresolved_key(state) {
                state.notice = Some((
                    state.now,
                    "the admin password's key is not the app's name: press n to choose it".into(),
                ));
            }
        }
    }
}

/// Store a worker's answer unless a newer one is already shown. On failure
/// the last good data stays, with the error beside it. The screen is only
/// marked for redrawing when what it shows changed: a refresh that brings
/// the same rows leaves it still.
fn accept<T: PartialEq>(
    state_dirty: &mut bool,
    slot: &mut Loadable<T>,
    generation: u64,
    at: DateTime<Utc>,
    result: Fetched<T>,
) -> bool {
    accept_by(state_dirty, slot, generation, at, result, T::eq) == Some(true)
}

/// [`accept`], with `same` saying whether two answers look the same on
/// screen: `None` when the answer was dropped, else whether it changed.
fn accept_by<T>(
    state_dirty: &mut bool,
    slot: &mut Loadable<T>,
    generation: u64,
    at: DateTime<Utc>,
    result: Fetched<T>,
    same: impl Fn(&T, &T) -> bool,
) -> Option<bool> {
    // Watched sources answer many times under one generation.
    if generation < slot.applied {
        return None;
    }
    slot.applied = generation;
    slot.requested = slot.requested.max(generation);
    let changed = match result {
        Ok(data) => {
            let changed = slot.error.is_some() || !slot.data.as_ref().is_some_and(|old| same(old, &data));
            slot.data = Some(data);
            slot.loaded_at = Some(at);
            slot.error = None;
            slot.error_at = None;
            changed
        }
        Err(e) => {
            let e = e.into_string();
            let changed = slot.error.as_ref() != Some(&e);
            slot.error = Some(e);
            slot.error_at = Some(at);
            changed
        }
    };
    *state_dirty |= changed;
    Some(changed)
}

/// Counted once per load, not per frame: objects can number thousands.
fn count_old_user_objects(state: &mut State) {
    state.old_user_objects = match (state.old_user(), &state.objects.data) {
        (Some(old), Some(objects)) => Some(
            objects
                .iter()
                .filter(|o| State::names_user(&o.owner, old))
                .count(),
        ),
        _ => None,
    };
}

pub(super) fn apply_connections(
    state: &mut State,
    generation: u64,
    at: DateTime<Utc>,
    result: Fetched<crate::model::ConnectionSnapshot>,
) {
    let result = result.map(|mut snap| {
        // Busiest first; ties by name so the order is stable between refreshes.
        snap.counts
            .sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.user.cmp(&b.user)));
        snap
    });
    // The snapshot's time is not shown; its counts are, and the rows on
    // screen (all of them when that is not known), as they show.
    let shown = state.connection_rows_shown();
    let (offset, now) = (state.utc_offset, state.now);
    let face = |c: &crate::model::Connection| {
        (
            c.id,
            c.user.clone(),
            c.client.clone(),
            c.database.clone(),
            c.state.clone(),
            super::clock::connection_since(offset, now, c),
        )
    };
    let rows_look_the_same = |a: &[crate::model::Connection], b: &[crate::model::Connection]| {
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
    let Some(changed) = accept_by(
        &mut state.dirty,
        &mut state.connections,
        generation,
        at,
        result,
        same,
    ) else {
        return;
    };
    if let Some(snap) = &state.connections.data
        && state.connections.error.is_none()
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
            old: count(state.old_user()),
            new: count(state.new_user()),
        };
        record_drain(state, point);
    }
    if changed {
        reindex(state, Pane::Connections);
    }
}

/// One column per [`DRAIN_BUCKET`]: within a bucket the newest count
/// replaces the column's, so the chart moves only when a count changes or
/// a new column starts (and not even then while the history is flat).
fn record_drain(state: &mut State, point: DrainPoint) {
    let bucket = |t: DateTime<Utc>| t.timestamp().div_euclid(DRAIN_BUCKET.num_seconds());
    match state.drain.last_mut() {
        Some(last) if bucket(last.at) == bucket(point.at) => {
            if (last.old, last.new) != (point.old, point.new) {
                state.dirty = true;
            }
            *last = point;
        }
        _ => {
            state.drain.push(point);
            if state.drain.len() > DRAIN_POINTS {
                state.drain.remove(0);
            }
            // A flat history is not drawn ("steady since"): a new column of it changes nothing.
            if state.drain_steady_since().is_none() {
                state.dirty = true;
            }
        }
    }
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
        KeyAction::Help => state.dialog = Some(Dialog::Help { scroll: 0 }),
        KeyAction::Names => state.dialog = Some(Dialog::Names { selected: 0 }),
        KeyAction::Quit => ask_quit(state, out),
        KeyAction::NextPane => state.focus = focus.following(),
        KeyAction::PrevPane => state.focus = focus.preceding(),
        KeyAction::FocusUsers => state.focus = Pane::Users,
        KeyAction::FocusObjects => state.focus = Pane::Objects,
        KeyAction::FocusConnections => state.focus = Pane::Connections,
        KeyAction::FocusCluster => state.focus = Pane::Cluster,
        KeyAction::FocusSteps => state.focus = Pane::Steps,
        KeyAction::Down => move_by(state, focus, 1, out),
        KeyAction::Up => move_by(state, focus, -1, out),
        KeyAction::PageDown => move_by(state, focus, 10, out),
        KeyAction::PageUp => move_by(state, focus, -10, out),
        KeyAction::Top => move_by(state, focus, isize::MIN / 2, out),
        KeyAction::Bottom => move_by(state, focus, isize::MAX / 2, out),
        KeyAction::Zoom => state.zoom = !state.zoom,
        KeyAction::RunStep => {
            if focus == Pane::Steps
                && let Some(id) = selected_key(state, Pane::Steps)
            {
                state.dialog = Some(Dialog::Preview { step: id });
            }
        }
        KeyAction::Rollback => super::dialogs::open_rollback(state, out),
        KeyAction::Kill => {
            if refuse_write(state, "force-kill") {
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
                Some(t) => state.dialog = Some(Dialog::Confirm(Destructive::Kill(t))),
                None => state.notice = Some((state.now, "no connection selected".into())),
            }
        }
        KeyAction::ToggleRows => {
            state.connection_rows = !state.connection_rows;
            state.selections[Pane::Connections.index()] = Default::default();
            reindex(state, Pane::Connections);
            if state.target.is_some() {
                let rows = state.connection_rows;
                ask(state, Source::Fetch(Request::Connections { rows }), out);
            }
        }
        KeyAction::ForceSync => {
            if !refuse_write(state, "force-sync") {
                out.push(Effect::ForceSync);
                state.notice = Some((state.now, "force-sync requested".into()));
            }
        }
        KeyAction::Refresh => refresh_all(state, out),
        KeyAction::Faster => step_interval(state, -1),
        KeyAction::Slower => step_interval(state, 1),
        KeyAction::Pause => state.paused = !state.paused,
        KeyAction::Filter => {
            if matches!(focus, Pane::Users | Pane::Objects | Pane::Connections) {
                let current = state.selections[focus.index()].filter.clone();
                state.input = Some(Input {
                    kind: InputKind::Filter,
                    text: TextArea::new(vec![current]),
                });
                if let Some(i) = state.input.as_mut() {
                    i.text.move_cursor(ratatui_textarea::CursorMove::End);
                }
            }
        }
        KeyAction::Reveal => state.reveal_until = Some(state.now + REVEAL_FOR),
        KeyAction::CommandLine => {
            state.input = Some(Input {
                kind: InputKind::Command,
                text: TextArea::default(),
            });
        }
        KeyAction::Cancel => {
            if state.zoom {
                state.zoom = false;
            } else if !state.selections[focus.index()].filter.is_empty() {
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

pub(super) fn refuse_write(state: &mut State, what: &str) -> bool {
    if state.read_only {
        state.notice = Some((
            state.now,
            format!("read-only: {what} is disabled (started with --read-only)"),
        ));
    }
    state.read_only
}

fn ask_quit(state: &mut State, out: &mut Vec<Effect>) {
    if state.step_running() {
        state.dialog = Some(Dialog::QuitWhileRunning);
    } else {
        quit(state, out);
    }
}

pub(super) fn quit(state: &mut State, out: &mut Vec<Effect>) {
    state.quitting = true;
    out.push(Effect::Quit);
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
        _ => {
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
                switch_target(state, target.clone());
                out.push(Effect::SwitchTarget(Box::new(target)));
                refresh_all(state, out);
            }
        }
        Err(e) => state.notice = Some((state.now, e)),
    }
}

/// Whether the connected target's admin key waits for the operator's choice.
fn unresolved_key(state: &State) -> bool {
    !state.admin_key_choice().is_empty()
}

/// Everything shown belonged to the old target: drop it and ignore answers
/// still in flight for it.
pub(super) fn switch_target(state: &mut State, target: Target) {
    state.target = Some(target);
    state.users.reset();
    state.grants.reset();
    state.grants_of = None;
    state.objects.reset();
    state.connections.reset();
    state.cluster.reset();
    state.plan.reset();
    state.session.reset();
    state.drain.clear();
    state.old_user_objects = None;
    state.held_connections = None;
    state.selections = Default::default();
    state.last_error = None;
    state.notice = Some((
        state.now,
        format!(
            "switched to {}",
            state.target.as_ref().map(|t| t.label()).unwrap_or_default()
        ),
    ));
}
