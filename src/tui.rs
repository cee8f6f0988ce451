//! The terminal: raw mode + alternate screen while the dashboard runs, and
//! restored on every way out — normal exit, error, panic (in any thread or
//! tokio task: the hook restores and ends the process) and SIGINT/SIGTERM.

use std::io::{self, Stdout, stdout};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
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
        if let Err(e) = execute!(stdout(), EnterAlternateScreen) {
            restore();
            return Err(e);
        }
        let mut terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        terminal.clear()?;
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
        let message = crate::secret::redact(&message);
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

/// Terminal events (keys, resizes) as an async stream, read by a thread of
/// their own. (crossterm's `EventStream` takes its reader lock with a spin
/// each time it is polled, and the app loop polls its inputs on every
/// wake-up; a thread blocked in `read` costs nothing until a key comes.)
pub fn events() -> impl Stream<Item = io::Result<crossterm::event::Event>> + Unpin {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = move || {
        loop {
            let event = crossterm::event::read();
            let failed = event.is_err();
            if tx.send(event).is_err() || failed {
                break;
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("rotui-input".into())
        .spawn(reader)
    {
        // No keys without it; say so rather than show a screen that ignores them.
        let (tx, rx2) = tokio::sync::mpsc::unbounded_channel();
        let _ = tx.send(Err(e));
        rx = rx2;
    }
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Resolves on SIGINT, SIGTERM or SIGHUP (raw mode turns Ctrl-C into a key,
/// so SIGINT only comes from outside, e.g. `kill -INT`).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut streams = Vec::new();
    for kind in [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ] {
        if let Ok(s) = signal(kind) {
            streams.push(s);
        }
    }
    if streams.is_empty() {
        return std::future::pending().await;
    }
    let waits = streams.iter_mut().map(|s| Box::pin(s.recv()));
    futures::future::select_all(waits).await;
}

/// Send tracing output to `<dir>/rotui.log`, never to the screen. Keep the
/// guard alive for the program's life (it flushes on drop).
pub fn log_to_file(dir: &Path) -> io::Result<tracing_appender::non_blocking::WorkerGuard> {
    std::fs::create_dir_all(dir)?;
    let (writer, guard) = tracing_appender::non_blocking(tracing_appender::rolling::never(dir, "rotui.log"));
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROTUI_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
    Ok(guard)
}

/// Where logs go: the XDG state dir (`~/.local/state/rotui`), else the data dir.
pub fn state_dir() -> Option<std::path::PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "rotui")?;
    Some(dirs.state_dir().unwrap_or(dirs.data_local_dir()).to_path_buf())
}
