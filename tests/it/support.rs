//! Helpers every test module may use.

use rotui::secret::{ExposeSecret, SecretString};

/// A name no other test uses: `prefix` and ten random hex digits.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Fails the test, without printing them, if any of `secrets` is in `text`.
pub fn assert_no_secret(text: &str, secrets: &[&SecretString]) {
    for (i, s) in secrets.iter().enumerate() {
        assert!(
            !text.contains(s.expose_secret()),
            "secret #{i} leaked into: {}",
            rotui::secret::redact(text)
        );
    }
}

/// Everything logged, at every level, on this thread while the guard lives.
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Capture every log line of this thread until the returned guards drop.
///
/// tracing caches, per callsite, whether anyone listens. While only one
/// dispatcher exists, a callsite first reached on *another* thread (a
/// concurrent test) is judged by that thread's (empty) default and cached as
/// "never", hiding it from this capture too. A second, silent dispatcher kept
/// alive meanwhile makes tracing ask every live dispatcher instead. And one
/// capture at a time in the whole test binary.
pub async fn capture_logs() -> (Captured, CaptureGuards) {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let one = ONE_AT_A_TIME.lock().await;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .finish();
    let silent = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let guard = tracing::subscriber::set_default(subscriber);
    // Callsites reached before this capture existed keep a cached "never":
    // ask again with it in place.
    tracing::callsite::rebuild_interest_cache();
    (captured, CaptureGuards(one, silent, guard))
}

/// Held while a capture lasts (see [`capture_logs`]).
pub struct CaptureGuards(
    #[allow(dead_code)] tokio::sync::MutexGuard<'static, ()>,
    #[allow(dead_code)] tracing::Dispatch,
    #[allow(dead_code)] tracing::subscriber::DefaultGuard,
);
