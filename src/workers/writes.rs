//! The dashboard's writes outside the rotation: ending connections (`K`)
//! and forcing the ExternalSecret to sync (`s`).

use std::time::Duration;

use super::backend::Backend;
use crate::app::{Action, KillTarget};
use crate::k8s::externalsecret::{ForceSync, SyncOutcome};
use crate::secret::Redacted;

/// A write that failed: said like its success would have been (a notice,
/// which fades), not left in the status bar for good.
fn failed(what: &str, error: Redacted) -> Action {
    Action::Notice(Redacted::new(format!("✗ {what}: {}", error.into_string())))
}

pub(super) async fn kill(b: &Backend, k: KillTarget) -> Action {
    let db = match &b.connected.db {
        Ok(db) => db,
        Err(e) => return failed("kill", e.clone()),
    };
    let result = match &k {
        KillTarget::Connection { id, .. } => db.kill(*id).await.map(|sql| format!("ran: {sql}")),
        KillTarget::AllOf { user, .. } => db
            .kill_user(user)
            .await
            .map(|n| format!("ended {} of {user}", crate::text::count(n as i64, "connection"))),
    };
    match result {
        Ok(text) => Action::Notice(text.into()),
        Err(e) => failed("kill", Redacted::error(e)),
    }
}

pub(super) async fn force_sync(b: &Backend) -> Action {
    let k8s = match &b.connected.k8s {
        Ok(k) => k,
        Err(e) => return failed("force-sync", e.clone()),
    };
    let plan = match ForceSync::plan(k8s, &b.connected.target.external_secret, None).await {
        Ok(p) => p,
        Err(e) => return failed("force-sync", Redacted::error(e)),
    };
    match plan.run(k8s, Duration::from_secs(60)).await {
        Ok(SyncOutcome::Synced(_)) => Action::Notice(format!("synced: {}", plan.preview()).into()),
        Ok(other) => failed("force-sync", Redacted::new(format!("{other:?}"))),
        Err(e) => failed("force-sync", Redacted::error(e)),
    }
}
