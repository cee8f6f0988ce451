//! The log, for every command: `<state dir>/rotui.log`, never the screen.
//!
//! Everything written to it, at every level and from every crate, passes
//! through [`crate::secret::redact`] (known passwords, URL passwords) and has
//! its control characters escaped, in the writer itself: no call site has to
//! remember. Crates that dump wire bytes at their most verbose levels —
//! tungstenite's frames (a pod exec's output, which holds `DATABASE_URL`),
//! the AWS SDK's raw request and response bodies (Secrets Manager's answer
//! holds the passwords), kube's and hyper's raw texts — are held below those
//! levels by ceilings that `ROTUI_LOG` cannot lift: a redactor cannot
//! recognise a password spelled in hex.
//!
//! The state directory is made private (0700, tightened when it is looser)
//! and the log file 0600.

use std::io::{self, Write};
use std::path::Path;

use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The log file's name in the state directory.
pub const LOG_FILE: &str = "rotui.log";

/// Per-crate ceilings that `ROTUI_LOG` cannot lift: (target prefix, most
/// verbose level written).
pub const CEILINGS: &[(&str, LevelFilter)] = &[
    // Every WebSocket frame (exec, port-forward), payload included.
    ("tungstenite", LevelFilter::OFF),
    ("tokio_tungstenite", LevelFilter::OFF),
    // `trace!(request = ?request)` / `trace!(response = ?response)`: bodies.
    ("aws_smithy_runtime", LevelFilter::DEBUG),
    ("aws_smithy_runtime_api", LevelFilter::DEBUG),
    ("aws_smithy_http", LevelFilter::DEBUG),
    ("aws_smithy_http_client", LevelFilter::DEBUG),
    ("aws_sdk_secretsmanager", LevelFilter::DEBUG),
    // Raw response texts and headers.
    ("kube_client", LevelFilter::DEBUG),
    ("hyper", LevelFilter::DEBUG),
    ("hyper_util", LevelFilter::DEBUG),
    ("h2", LevelFilter::DEBUG),
    ("rustls", LevelFilter::DEBUG),
];

/// Keep it for the program's life: dropping it flushes the log.
pub struct LogGuard {
    _worker: tracing_appender::non_blocking::WorkerGuard,
}

/// A writer that redacts and escapes each write before passing it on. The
/// fmt layer writes each event whole, in one call.
pub struct Redacting<W>(pub W);

/// What the log holds for a formatted line: secrets masked, control
/// characters (other than line ends and tabs) escaped.
pub fn clean_line(text: &str) -> String {
    let redacted = crate::secret::redact(text);
    crate::text::escape_controls_keep_lines(&redacted).into_owned()
}

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let clean = clean_line(&String::from_utf8_lossy(buf));
        self.0.write_all(clean.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Makes a [`Redacting`] writer around each writer `M` makes.
#[derive(Clone)]
pub struct MakeRedacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for MakeRedacting<M> {
    type Writer = Redacting<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Redacting(self.0.make_writer())
    }
}

/// The ceilings as a filter (everything else passes to `ROTUI_LOG`'s).
pub fn ceilings() -> Targets {
    CEILINGS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, (target, level)| t.with_target(*target, *level),
    )
}

/// `ROTUI_LOG`'s filter under the [`CEILINGS`].
pub fn capped<S>(filter: EnvFilter) -> impl tracing_subscriber::layer::Filter<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    filter.and(ceilings())
}

/// Log to `<dir>/rotui.log` at `ROTUI_LOG`'s levels (default `info`), through
/// the redactor and under the [`CEILINGS`]. `dir` is made private first.
pub fn init(dir: &Path) -> io::Result<LogGuard> {
    crate::paths::private_dir(dir)?;
    let file = crate::paths::private_append(&dir.join(LOG_FILE))?;
    let (writer, worker) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_env("ROTUI_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(MakeRedacting(writer))
        .with_ansi(false)
        .with_filter(capped(filter));
    // A second init (tests calling commands in-process) keeps the first.
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Ok(LogGuard { _worker: worker })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_redacted_and_escaped() {
        crate::secret::register("Sup3rS3cretLogPw");
        let mut w = Redacting(Vec::new());
        w.write_all(b"exec said DATABASE_URL=mysql2://signon:abc123xyz@db/signon \x1b]52;c;eA==\x07 Sup3rS3cretLogPw\n")
            .unwrap();
        let out = String::from_utf8(w.0).unwrap();
        assert!(
            !out.contains("abc123xyz") && !out.contains("Sup3rS3cretLogPw"),
            "{out}"
        );
        assert!(!out.contains('\u{1b}') && out.contains(r"\x1b]52"), "{out}");
        assert!(out.ends_with('\n'));
    }

    #[test]
    fn rotui_log_cannot_lift_the_ceilings() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(MakeRedacting(move || buf.clone()))
            .with_ansi(false)
            .with_filter(capped(EnvFilter::new(
                "trace,tungstenite=trace,tokio_tungstenite=trace,aws_smithy_runtime=trace",
            )));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "tungstenite::protocol", "Received message DATABASE_URL frame");
            tracing::trace!(target: "tokio_tungstenite", "frame bytes");
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "response body");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "kept debug");
            tracing::trace!(target: "rotui::k8s", "kept trace");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("kept debug") && text.contains("kept trace"),
            "{text}"
        );
        assert!(
            !text.contains("frame") && !text.contains("response body"),
            "{text}"
        );
    }
}
