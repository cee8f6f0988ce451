//! The dashboard: the app loop on the terminal, the worker layer behind it.

use color_eyre::eyre::Result;

use crate::cli::ConnArgs;
use crate::target::{Target, TargetArgs};

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
    let workers = crate::workers::spawn(target, conn.clone(), read_only, commands_rx, actions_tx);
    let result = crate::event_loop::run(state, actions_rx, commands_tx).await;
    // The app loop dropped its command sender: the workers close their
    // connections (and the tunnel's relay pod) and end.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), workers).await;
    result
}
