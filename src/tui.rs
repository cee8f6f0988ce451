//! The terminal: raw mode + alternate screen while the dashboard runs, and
//! restored on every way out — normal exit, error, panic (in any thread or
//! tokio task: the hook restores and ends the process) and SIGINT, SIGTERM,
//! SIGHUP and SIGQUIT (the process then exits with 128 + the signal).

use std::io::{self, Stdout, stdout};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures::Stream;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Whether we changed the terminal (so restoring is needed, and only then).
static ENTERED: AtomicBool = AtomicBool::new(false);

/// Held while a frame is written. The panic hook takes it for good, so that
/// no frame lands on the restored screen while the report is printed.
static DRAWING: Mutex<()> = Mutex::new(());

/// Run `draw` unless the terminal has been handed back (then it waits for
/// the process to end).
pub fn while_drawing<T>(draw: impl FnOnce() -> T) -> T {
    let _guard = DRAWING.lock().unwrap_or_else(|e| e.into_inner());
    draw()
}

/// The terminal while the dashboard owns it; dropping it restores it.
pub struct Tui {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Tui {
    pub fn enter() -> io::Result<Tui> {
        enable_raw_mode()?;
        ENTERED.store(true, Ordering::SeqCst);
        // Cleared without `Terminal::clear`, which asks the terminal where
        // its cursor is: the one input reader ([`events`]) may be waiting on
        // the terminal already (the fleet's, handing over), and would take
        // the answer.
        if let Err(e) = execute!(stdout(), EnterAlternateScreen, Clear(ClearType::All)) {
            restore();
            return Err(e);
        }
        let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        Ok(Tui { terminal })
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore();
    }
}

/// Give the terminal back: cooked mode, main screen, cursor visible.
/// Safe to call any number of times, from any thread.
pub fn restore() {
    if ENTERED.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), LeaveAlternateScreen, Show);
    }
}

/// color-eyre's error hook, then a panic hook that restores the terminal,
/// prints a short report and ends the process: a panic in a background task
/// must not leave the app running on a broken screen. The report is rotui's
/// own rather than color-eyre's so that its message goes through
/// [`crate::secret::redact`]: a panic must never print a password.
pub fn install_hooks() -> color_eyre::Result<()> {
    let (_, eyre_hook) = color_eyre::config::HookBuilder::default().into_hooks();
    eyre_hook.install()?;
    std::panic::set_hook(Box::new(move |info| {
        // Wait for a frame being drawn on another thread, then keep the lock.
        // If this very thread panicked mid-draw the lock never frees: go on.
        for _ in 0..40 {
            match DRAWING.try_lock() {
                Ok(guard) => {
                    std::mem::forget(guard);
                    break;
                }
                Err(std::sync::TryLockError::Poisoned(e)) => {
                    std::mem::forget(e.into_inner());
                    break;
                }
                Err(std::sync::TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        restore();
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let message = crate::text::escape_controls_keep_lines(&crate::secret::redact(&message)).into_owned();
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!("panic{location}: {message}");
        eprintln!("rotui crashed{location}: {message}");
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            eprintln!("{backtrace}");
        } else {
            eprintln!(
                "(RUST_BACKTRACE=1 shows where.) The terminal was restored; run rotui again to resume."
            );
        }
        std::process::exit(101);
    }));
    Ok(())
}

type EventSender = tokio::sync::mpsc::UnboundedSender<io::Result<crossterm::event::Event>>;

/// Whoever reads the terminal now: the latest caller of [`events`].
static LISTENER: Mutex<Option<EventSender>> = Mutex::new(None);

/// Terminal events (keys, resizes) as an async stream, read by one thread
/// for the whole process. (crossterm's `EventStream` takes its reader lock
/// with a spin each time it is polled, and the app loop polls its inputs on
/// every wake-up; a thread blocked in `read` costs nothing until a key
/// comes.) Each call takes the terminal over from the stream before it:
/// the fleet hands it to the dashboard and takes it back when the dashboard
/// quits, and no reader of a screen that is gone takes the next one's keys.
pub fn events() -> impl Stream<Item = io::Result<crossterm::event::Event>> + Unpin {
    static READER: std::sync::OnceLock<io::Result<()>> = std::sync::OnceLock::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    *LISTENER.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    let started = READER.get_or_init(|| {
        std::thread::Builder::new()
            .name("rotui-input".into())
            .spawn(|| {
                loop {
                    let event = crossterm::event::read();
                    let failed = event.is_err();
                    // A key with no screen to take it (between two) is dropped.
                    if let Some(tx) = LISTENER.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                        let _ = tx.send(event);
                    }
                    if failed {
                        break;
                    }
                }
            })
            .map(drop)
    });
    if let Err(e) = started {
        // No keys without it; say so rather than show a screen that ignores them.
        let (tx, rx2) = tokio::sync::mpsc::unbounded_channel();
        let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string())));
        rx = rx2;
    }
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The signal that ended the dashboard, if one did (0: none).
static SIGNALLED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The signal [`shutdown_signal`] resolved on, if any: the process then
/// exits with 128 + its number, as a shell reports a process it killed.
pub fn received_signal() -> Option<i32> {
    match SIGNALLED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n),
    }
}

/// The signals that end the dashboard with the terminal restored.
pub const SHUTDOWN_SIGNALS: [nix::sys::signal::Signal; 4] = {
    use nix::sys::signal::Signal::*;
    [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
};

/// Resolves on SIGINT, SIGTERM, SIGHUP or SIGQUIT (raw mode turns Ctrl-C and
/// Ctrl-\ into keys, so these only come from outside, e.g. `kill -QUIT`),
/// and records which one for [`received_signal`].
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut streams = Vec::new();
    for n in SHUTDOWN_SIGNALS.map(|s| s as i32) {
        if let Ok(s) = signal(SignalKind::from_raw(n)) {
            streams.push((n, s));
        }
    }
    if streams.is_empty() {
        return std::future::pending().await;
    }
    let waits = streams.iter_mut().map(|(n, s)| {
        let n = *n;
        Box::pin(async move {
            s.recv().await;
            n
        })
    });
    let (n, _, _) = futures::future::select_all(waits).await;
    SIGNALLED.store(n, Ordering::SeqCst);
}
