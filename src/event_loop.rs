//! The dashboard's loop, between the terminal (`tui`), the core (`app`) and
//! the screen (`ui`): keys, worker actions and the clock in; commands and frames
//! out. Separate rhythms: input as it comes, a tick only when the state says
//! something is due ([`next_wake`]: a fetch, a countdown turning over), and
//! a redraw only when what the screen shows changed, at most `fps` times a
//! second. Everything queued is drained before drawing, so a burst of keys
//! costs one frame, and a quiet dashboard sleeps.

use std::io;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::Event;
use futures::{FutureExt, Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::app::update::next_wake;
use crate::app::{Action, Effect, State, update};

/// What the loop ends with.
#[derive(Debug)]
pub struct LoopEnd {
    pub state: State,
    /// Frames drawn (tests check that bursts are coalesced).
    pub frames: u64,
}

/// Open the dashboard on the real terminal and run until the operator quits
/// or SIGINT/SIGTERM/SIGHUP arrives. The terminal is restored on every way out.
pub async fn run(
    state: State,
    actions: UnboundedReceiver<Action>,
    commands: UnboundedSender<Effect>,
) -> color_eyre::Result<()> {
    let mut tui = crate::tui::Tui::enter()?;
    let events = crate::tui::events();
    tokio::select! {
        r = run_loop(&mut tui.terminal, events, actions, &commands, state, 30) => { r?; }
        _ = crate::tui::shutdown_signal() => { let _ = commands.send(Effect::Quit); }
    }
    drop(tui);
    Ok(())
}

/// The loop itself, over any backend and event stream (tests drive it with
/// `TestBackend` and a scripted stream).
pub async fn run_loop<B, E>(
    terminal: &mut Terminal<B>,
    mut events: E,
    mut actions: UnboundedReceiver<Action>,
    commands: &UnboundedSender<Effect>,
    mut state: State,
    fps: u32,
) -> io::Result<LoopEnd>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    E: Stream<Item = io::Result<Event>> + Unpin,
{
    let frame_gap = Duration::from_secs(1) / fps.max(1);
    let mut last_draw: Option<Instant> = None;
    let mut frames = 0;
    let mut events_open = true;
    let mut actions_open = true;
    let handle = |state: &mut State, action: Action| {
        for c in update(state, action) {
            // The worker layer may not be plugged in (or may be gone): not our failure.
            let _ = commands.send(c);
        }
    };
    // Update knows what is on screen (which rows a pane lists) from the
    // screen's size: tell it the first one; Resize events tell it the rest.
    let size = terminal.size().map_err(io::Error::other)?;
    handle(&mut state, Action::Resize(size.width, size.height));
    handle(&mut state, Action::Tick(Utc::now()));
    loop {
        if state.quitting {
            break;
        }
        let next_frame = last_draw.map_or_else(Instant::now, |t| t + frame_gap);
        let wake = (next_wake(&state) - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            ev = events.next(), if events_open => match ev {
                Some(Ok(ev)) => { if let Some(a) = event_action(ev) { handle(&mut state, a) } }
                Some(Err(e)) => return Err(e),
                None => events_open = false,
            },
            a = actions.recv(), if actions_open => match a {
                Some(a) => handle(&mut state, a),
                None => actions_open = false,
            },
            _ = tokio::time::sleep(wake) => handle(&mut state, Action::Tick(Utc::now())),
            _ = tokio::time::sleep_until(next_frame), if state.dirty => {}
        }
        // Drain what is already queued before drawing.
        while events_open && let Some(ev) = events.next().now_or_never() {
            match ev {
                Some(Ok(ev)) => {
                    if let Some(a) = event_action(ev) {
                        handle(&mut state, a)
                    }
                }
                Some(Err(e)) => return Err(e),
                None => events_open = false,
            }
        }
        while let Ok(a) = actions.try_recv() {
            handle(&mut state, a);
        }
        if !events_open && !state.quitting {
            // No more input can ever arrive (stdin closed): nothing left to do.
            break;
        }
        if state.dirty && !state.quitting && last_draw.is_none_or(|t| t.elapsed() >= frame_gap) {
            let mut drawn = crate::ui::Drawn::default();
            crate::tui::while_drawing(|| terminal.draw(|f| drawn = crate::ui::draw(f, &state)).map(drop))
                .map_err(io::Error::other)?;
            state.dirty = false;
            // What only the frame could measure (a dialog's wrapped rows).
            if let Some(news) = drawn.news(&state) {
                handle(&mut state, news);
            }
            last_draw = Some(Instant::now());
            frames += 1;
        }
    }
    Ok(LoopEnd { state, frames })
}

fn event_action(ev: Event) -> Option<Action> {
    match ev {
        // Key releases/repeats (kitty protocol) would double every key.
        Event::Key(k) if k.kind == crossterm::event::KeyEventKind::Press => Some(Action::Key(k)),
        Event::Resize(w, h) => Some(Action::Resize(w, h)),
        _ => None,
    }
}
