//! The dashboard: the app loop on the terminal, the worker layer behind it.

use color_eyre::eyre::Result;

use crate::cli::ConnArgs;
use crate::secret::Redacted;
use crate::target::{Target, TargetArgs};
use crate::webhook::{Policy, Webhooks};

pub async fn run(target: &TargetArgs, conn: &ConnArgs, read_only: bool) -> Result<()> {
    // Logs go to a file, never to the screen: main starts the log for every
    // command (crate::logging).
    let config = super::config_for(conn, &target.env.iter().cloned().collect::<Vec<_>>())?;
    let target = match Target::from_args(target) {
        Ok(t) => Some(t),
        // With no target the dashboard opens empty; `:` switches to one.
        Err(_) if target.app.is_none() && target.engine.is_none() => None,
        Err(e) => return Err(e.into()),
    };
    let state = crate::app::initial_state(target.clone(), read_only, &config, chrono::Utc::now());
    let (actions_tx, actions_rx) = tokio::sync::mpsc::unbounded_channel();
    let (commands_tx, commands_rx) = tokio::sync::mpsc::unbounded_channel();
    // Every configured environment's webhook: the dashboard can switch to any.
    let failures = actions_tx.clone();
    let hooks = Webhooks::start(
        crate::environments::webhooks(&config.environments),
        Policy::default(),
        Box::new(move |_, what| {
            let _ = failures.send(crate::app::Action::Failed {
                what: "notification".into(),
                error: Redacted::new(what),
            });
        }),
    );
    let notify = hooks.as_ref().map(Webhooks::notifier);
    let workers = crate::workers::spawn(target, conn.clone(), read_only, notify, commands_rx, actions_tx);
    let result = crate::event_loop::run(state, actions_rx, commands_tx).await;
    // The app loop dropped its command sender: the workers close their
    // connections (and the tunnel's relay pod) and end.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), workers).await;
    // Then a short bounded flush of the notices still queued.
    if let Some(hooks) = hooks
        && let Some(lost) = hooks.finish(crate::webhook::EXIT_FLUSH).await
    {
        tracing::warn!("{lost}");
        eprintln!("{}", crate::text::escape_controls(&lost));
    }
    result
}
