//! The only place state changes: `update(state, action) -> effects`.
//! Pure (the clock comes in with `Action::Tick`), so every key flow is tested
//! without a terminal.

use chrono::{DateTime, TimeDelta, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::app::action::{Action, Effect, Fetched, KillTarget, Request, Source};
use crate::app::keymap::KeyAction;
use crate::app::state::{
    DRAIN_BUCKET, DRAIN_POINTS, Destructive, Dialog, DrainPoint, INTERVALS_MS, Input, InputKind, Loadable,
    Pane, REVEAL_FOR, Selection, State, StepStatus, cadence, refresh_requests, row_at,
};
use crate::db::model::ConnectionSnapshot;
use crate::rotation::StepId;
use crate::secret::Redacted;
use crate::target::Target;

/// How long a notice stays in the footer.
const NOTICE_FOR: TimeDelta = TimeDelta::seconds(8);

/// Apply one action; return the side effects it asks for.
pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    let mut out = Vec::new();
    match action {
        Action::Tick(now) => tick(state, now, &mut out),
        Action::Resize(..) => state.dirty = true,
        Action::Key(key) => {
            state.dirty = true;
            key_event(state, key, &mut out);
        }
        Action::UsersLoaded {
            generation,
            at,
            result,
        } => {
            if accept(&mut state.dirty, &mut state.users, generation, at, result) {
                reindex(state, Pane::Users);
                follow_selected_user(state, &mut out);
            }
        }
        Action::GrantsLoaded {
            generation,
            at,
            user,
            result,
        } => {
            if state.grants_of.as_deref() == Some(user.as_str()) {
                accept(&mut state.dirty, &mut state.grants, generation, at, result);
            }
        }
        Action::ObjectsLoaded {
            generation,
            at,
            result,
        } => {
            if accept(&mut state.dirty, &mut state.objects, generation, at, result) {
                reindex(state, Pane::Objects);
                count_old_user_objects(state);
            }
        }
        Action::ConnectionsLoaded {
            generation,
            at,
            result,
        } => {
            if state.aiming_kill() {
                // pg_activity's habit: the rows stand still while a kill is aimed.
                state.held_connections = Some((generation, at, result));
            } else {
                apply_connections(state, generation, at, result);
            }
        }
        Action::ClusterLoaded {
            generation,
            at,
            result,
        } => {
            let first = state.cluster.data.is_none();
            if accept(&mut state.dirty, &mut state.cluster, generation, at, result) {
                reindex(state, Pane::Cluster);
                // A sync or rollout may have moved a step along: look again.
                if !first && state.cluster.error.is_none() && !state.plan.in_flight() && !state.paused {
                    ask(state, Source::Fetch(Request::Plan), &mut out);
                }
            }
        }
        Action::PlanLoaded {
            generation,
            at,
            result,
        } => {
            if accept(&mut state.dirty, &mut state.plan, generation, at, result) {
                reindex(state, Pane::Steps);
                count_old_user_objects(state);
            }
        }
        Action::SessionLoaded {
            generation,
            at,
            result,
        } => {
            accept(&mut state.dirty, &mut state.session, generation, at, result);
        }
        Action::StepChanged { id, status, result } => {
            if let Some(step) = state
                .plan
                .data
                .as_mut()
                .and_then(|p| p.steps.iter_mut().find(|s| s.id == id))
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

fn apply_connections(
    state: &mut State,
    generation: u64,
    at: DateTime<Utc>,
    result: Fetched<crate::db::model::ConnectionSnapshot>,
) {
    let result = result.map(|mut snap| {
        // Busiest first; ties by name so the order is stable between refreshes.
        snap.counts
            .sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.user.cmp(&b.user)));
        snap
    });
    // The snapshot's time is not shown; its counts and rows are.
    let same = |a: &ConnectionSnapshot, b: &ConnectionSnapshot| a.counts == b.counts && a.rows == b.rows;
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
    let before = crate::ui::clock::face(state);
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
    if crate::ui::clock::face(state) != before {
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

/// Timers fire a little early or late; a fetch due within this is sent now.
const WAKE_SLACK: TimeDelta = TimeDelta::milliseconds(5);
/// The loop looks at the clock at least this often (ages, countdowns).
const HEARTBEAT: TimeDelta = TimeDelta::seconds(1);

/// What the clock asks for: every pane's source, and who we are.
fn polled(state: &State) -> Vec<Source> {
    let mut sources = refresh_requests(state);
    sources.push(Source::Fetch(Request::Session));
    if state.aiming_kill() {
        // pg_activity's habit: the rows stand still while a kill is aimed.
        sources.retain(|r| !matches!(r, Source::Fetch(Request::Connections { .. })));
    }
    sources
}

/// When `source` should next be asked; `None`: not by the clock (a watched
/// source already answering, or a one-off already asked).
fn due_at(state: &State, source: &Source) -> Option<DateTime<Utc>> {
    let slot = slot(state, source);
    let Some(at) = slot.requested_at() else {
        return Some(state.now);
    };
    let interval = TimeDelta::from_std(state.interval()).unwrap_or(TimeDelta::seconds(1));
    // One fetch in flight per source; a slow source just shows its age. An
    // answer that never came (a lost worker) stops blocking after a while.
    if slot.in_flight() {
        return Some(at + (interval * 3).max(TimeDelta::seconds(15)));
    }
    cadence(state, source).map(|c| at + interval * c)
}

/// When the app loop should next wake with a tick if nothing else happens:
/// the next fetch due, a notice or reveal running out, or the heartbeat.
pub fn next_wake(state: &State) -> DateTime<Utc> {
    let mut wake = state.now + HEARTBEAT;
    if !state.paused && state.target.is_some() {
        for source in polled(state) {
            if let Some(at) = due_at(state, &source) {
                wake = wake.min(at);
            }
        }
    }
    if let Some((at, _)) = &state.notice {
        wake = wake.min(*at + NOTICE_FOR);
    }
    if let Some(until) = state.reveal_until {
        wake = wake.min(until);
    }
    wake
}

/// What the schedule needs of a source's loadable state, whatever its data.
trait Asked {
    fn requested_at(&self) -> Option<DateTime<Utc>>;
    fn in_flight(&self) -> bool;
    /// Ask again: the next generation.
    fn bump(&mut self, now: DateTime<Utc>) -> u64;
}

impl<T> Asked for Loadable<T> {
    fn requested_at(&self) -> Option<DateTime<Utc>> {
        self.requested_at
    }

    fn in_flight(&self) -> bool {
        Loadable::in_flight(self)
    }

    fn bump(&mut self, now: DateTime<Utc>) -> u64 {
        self.requested += 1;
        self.requested_at = Some(now);
        self.requested
    }
}

/// The one table from a source to the loadable state it fills.
macro_rules! sources {
    ($($source:pat => $field:ident),* $(,)?) => {
        fn slot<'a>(state: &'a State, source: &Source) -> &'a dyn Asked {
            match source { $($source => &state.$field,)* }
        }

        fn slot_mut<'a>(state: &'a mut State, source: &Source) -> &'a mut dyn Asked {
            match source { $($source => &mut state.$field,)* }
        }
    };
}

sources! {
    Source::Fetch(Request::Users) => users,
    Source::Fetch(Request::Grants { .. }) => grants,
    Source::Fetch(Request::Objects) => objects,
    Source::Fetch(Request::Connections { .. }) => connections,
    Source::Fetch(Request::Plan) => plan,
    Source::Fetch(Request::Session) => session,
    Source::Cluster => cluster,
}

/// Ask a source for its next generation: a fetch, or a new cluster watch.
fn ask(state: &mut State, source: Source, out: &mut Vec<Effect>) {
    let now = state.now;
    let generation = slot_mut(state, &source).bump(now);
    out.push(match source {
        Source::Fetch(request) => Effect::Fetch { request, generation },
        Source::Cluster => Effect::Watch { generation },
    });
}

fn refresh_all(state: &mut State, out: &mut Vec<Effect>) {
    if state.target.is_none() {
        return;
    }
    for r in refresh_requests(state) {
        if matches!(r, Source::Fetch(Request::Connections { .. })) && state.aiming_kill() {
            continue;
        }
        ask(state, r, out);
    }
    ask(state, Source::Fetch(Request::Session), out);
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
    }
}

fn refuse_write(state: &mut State, what: &str) -> bool {
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

fn quit(state: &mut State, out: &mut Vec<Effect>) {
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

fn dialog_key(state: &mut State, key: KeyEvent, out: &mut Vec<Effect>) {
    let Some(dialog) = state.dialog.take() else { return };
    let resolved = state.keymap.resolve(&key);
    let esc = key.code == KeyCode::Esc;
    let yes = matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter);
    let no = esc || matches!(key.code, KeyCode::Char('n') | KeyCode::Char('N'));
    state.dialog = match dialog {
        Dialog::Help { scroll } => match (key.code, resolved) {
            (_, Some(KeyAction::Help | KeyAction::Quit | KeyAction::Cancel)) => None,
            (_, Some(KeyAction::Down)) => Some(Dialog::Help {
                scroll: scroll.saturating_add(1),
            }),
            (_, Some(KeyAction::Up)) => Some(Dialog::Help {
                scroll: scroll.saturating_sub(1),
            }),
            _ => Some(Dialog::Help { scroll }),
        },
        Dialog::QuitWhileRunning if yes => return quit(state, out),
        Dialog::QuitWhileRunning if no => None,
        d @ Dialog::QuitWhileRunning => Some(d),
        Dialog::Preview { step } if key.code == KeyCode::Enter => confirm_step(state, &step, out),
        Dialog::Preview { .. } if no || resolved == Some(KeyAction::Quit) => None,
        d @ Dialog::Preview { .. } => Some(d),
        Dialog::Confirm(action) if yes => {
            run_destructive(state, action, out);
            None
        }
        Dialog::Confirm(_) if no => None,
        d @ Dialog::Confirm(_) => Some(d),
        Dialog::TypedConfirm { .. } if esc => None,
        Dialog::TypedConfirm {
            action,
            expected,
            input,
        } if key.code == KeyCode::Enter => {
            if input.lines().join("") == expected {
                run_destructive(state, action, out);
                None
            } else {
                state.notice = Some((state.now, format!("type {expected} exactly to confirm")));
                Some(Dialog::TypedConfirm {
                    action,
                    expected,
                    input,
                })
            }
        }
        Dialog::TypedConfirm {
            action,
            expected,
            mut input,
        } => {
            input.input(key);
            Some(Dialog::TypedConfirm {
                action,
                expected,
                input,
            })
        }
    };
    release_held_connections(state);
}

/// After the preview: destructive steps ask again, dropping a user asks for its name.
fn confirm_step(state: &mut State, id: &str, out: &mut Vec<Effect>) -> Option<Dialog> {
    if refuse_write(state, "running steps") {
        return None;
    }
    let step = state.step(id)?.clone();
    // The engine re-checks; this only spares the operator a pointless confirm.
    let refusal = match step.status {
        StepStatus::Blocked => Some(format!(
            "{}: blocked until the steps before it are done",
            step.title
        )),
        StepStatus::Running => Some(format!("{}: already running", step.title)),
        _ if state.step_running() => Some("another step is running: wait for it to finish".to_string()),
        _ => None,
    };
    if let Some(why) = refusal {
        state.notice = Some((state.now, why));
        return None;
    }
    let action = Destructive::RunStep {
        id: step.id.clone(),
        title: step.title.clone(),
    };
    if let Some(expected) = step.confirm_text {
        let mut input = TextArea::default();
        input.set_placeholder_text(format!("type {expected}"));
        Some(Dialog::TypedConfirm {
            action,
            expected,
            input,
        })
    } else if step.destructive {
        Some(Dialog::Confirm(action))
    } else {
        out.push(Effect::RunStep(StepId(step.id)));
        None
    }
}

fn run_destructive(state: &mut State, action: Destructive, out: &mut Vec<Effect>) {
    if refuse_write(state, "this") {
        return;
    }
    match action {
        Destructive::Kill(t) => {
            state.notice = Some((
                state.now,
                match &t {
                    KillTarget::Connection { id, .. } => format!("killing connection {id}"),
                    KillTarget::AllOf { user, .. } => format!("killing every connection of {user}"),
                },
            ));
            out.push(Effect::Kill(t));
        }
        Destructive::RunStep { id, .. } => out.push(Effect::RunStep(StepId(id))),
    }
}

fn release_held_connections(state: &mut State) {
    if !state.aiming_kill()
        && let Some((generation, at, result)) = state.held_connections.take()
    {
        apply_connections(state, generation, at, result);
    }
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

/// Everything shown belonged to the old target: drop it and ignore answers
/// still in flight for it.
fn switch_target(state: &mut State, target: Target) {
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

// ---- lists ------------------------------------------------------------

/// How many rows a pane has (unfiltered).
fn row_count(state: &State, pane: Pane) -> usize {
    match pane {
        Pane::Users => state.users.data.as_ref().map_or(0, Vec::len),
        Pane::Objects => state.objects.data.as_ref().map_or(0, Vec::len),
        Pane::Connections => match (&state.connections.data, state.connection_rows) {
            (Some(s), true) => s.rows.len(),
            (Some(s), false) => s.counts.len(),
            (None, _) => 0,
        },
        Pane::Cluster => state.cluster.data.as_ref().map_or(0, |c| c.pods.len()),
        Pane::Steps => state.steps().len(),
    }
}

/// The stable key of row `row` (pid, `user@host`, step id…): what the
/// selection holds on to across refreshes.
fn row_key(state: &State, pane: Pane, row: usize) -> Option<String> {
    match pane {
        Pane::Users => state.users.data.as_ref()?.get(row).map(|u| u.key()),
        Pane::Objects => {
            let o = state.objects.data.as_ref()?.get(row)?;
            Some(format!(
                "{} {}.{}",
                o.kind,
                o.schema.as_deref().unwrap_or(""),
                o.name
            ))
        }
        Pane::Connections => {
            let s = state.connections.data.as_ref()?;
            if state.connection_rows {
                s.rows.get(row).map(|c| c.id.to_string())
            } else {
                s.counts
                    .get(row)
                    .map(|c| c.user.clone().unwrap_or_else(|| "(dropped role)".into()))
            }
        }
        Pane::Cluster => state.cluster.data.as_ref()?.pods.get(row).map(|p| p.name.clone()),
        Pane::Steps => state.steps().get(row).map(|s| s.id.clone()),
    }
}

/// The text a filter matches against, per row.
fn row_texts(state: &State, pane: Pane) -> Vec<String> {
    match pane {
        Pane::Objects => state
            .objects
            .data
            .iter()
            .flatten()
            .map(|o| {
                format!(
                    "{} {}.{} {}",
                    o.kind,
                    o.schema.as_deref().unwrap_or(""),
                    o.name,
                    o.owner
                )
            })
            .collect(),
        Pane::Connections if state.connection_rows => state
            .connections
            .data
            .iter()
            .flat_map(|s| &s.rows)
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
            .collect(),
        _ => (0..row_count(state, pane))
            .filter_map(|r| row_key(state, pane, r))
            .collect(),
    }
}

fn set_filter(state: &mut State, pane: Pane, filter: String, out: &mut Vec<Effect>) {
    state.selections[pane.index()].filter = filter;
    reindex(state, pane);
    if pane == Pane::Users {
        follow_selected_user(state, out);
    }
}

/// After new data or a new filter: recompute the visible rows and put the
/// cursor back on the selected key (or the nearest row if it went away).
fn reindex(state: &mut State, pane: Pane) {
    state.dirty = true;
    let filter = state.selections[pane.index()].filter.to_lowercase();
    let visible = if filter.is_empty() {
        None
    } else {
        let texts = row_texts(state, pane);
        Some(
            texts
                .iter()
                .enumerate()
                .filter(|(_, t)| t.to_lowercase().contains(&filter))
                .map(|(i, _)| i)
                .collect::<Vec<_>>(),
        )
    };
    let len = visible.as_ref().map_or(row_count(state, pane), Vec::len);
    let sel = &state.selections[pane.index()];
    let sel_with = Selection {
        visible,
        ..sel.clone()
    };
    let found = sel.key.as_ref().and_then(|k| {
        (0..len).find(|&i| {
            row_at(&sel_with, i)
                .and_then(|r| row_key(state, pane, r))
                .as_ref()
                == Some(k)
        })
    });
    let index = match found {
        Some(i) => i,
        None => sel.index.min(len.saturating_sub(1)),
    };
    let key = row_at(&sel_with, index).and_then(|r| row_key(state, pane, r));
    state.selections[pane.index()] = Selection {
        index,
        key,
        ..sel_with
    };
}

fn move_by(state: &mut State, pane: Pane, by: isize, out: &mut Vec<Effect>) {
    let sel = state.selection(pane);
    let len = sel.visible.as_ref().map_or(row_count(state, pane), Vec::len);
    if len == 0 {
        return;
    }
    let index = (sel.index as isize).saturating_add(by).clamp(0, len as isize - 1) as usize;
    let key = row_at(sel, index).and_then(|r| row_key(state, pane, r));
    let sel = &mut state.selections[pane.index()];
    sel.index = index;
    sel.key = key;
    if pane == Pane::Users {
        follow_selected_user(state, out);
    }
}

fn selected_key(state: &State, pane: Pane) -> Option<String> {
    state.selection(pane).key.clone()
}

/// The grants pane shows the selected user's grants: fetch them when it changes.
fn follow_selected_user(state: &mut State, out: &mut Vec<Effect>) {
    let key = selected_key(state, Pane::Users);
    if key != state.grants_of {
        state.grants_of = key.clone();
        state.grants.reset();
        if let Some(user) = key
            && state.target.is_some()
        {
            ask(state, Source::Fetch(Request::Grants { user }), out);
        }
    }
}
