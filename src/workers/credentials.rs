//! AWSCURRENT's credentials for the cluster pane's Secret check, kept
//! briefly: the Secret may change every other second during a sync, and
//! Secrets Manager need not be asked that often. A finished step forgets them.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::k8s::Expected;
use crate::rotation::ports::SecretsPort;
use crate::secret::{Redacted, SecretString};

/// How long AWSCURRENT's credentials are reused.
const TTL: Duration = Duration::from_secs(15);

#[derive(Default)]
pub(super) struct CurrentCredentials {
    slot: Mutex<Option<(Instant, Expected, SecretString)>>,
}

impl CurrentCredentials {
    /// AWSCURRENT's username and password, read afresh after [`TTL`]
    /// through the same port the rotation reads it by.
    pub async fn get(&self, secrets: &dyn SecretsPort) -> Result<(Expected, SecretString), Redacted> {
        let mut slot = self.slot.lock().await;
        if let Some((at, exp, pw)) = slot.as_ref()
            && at.elapsed() < TTL
        {
            return Ok((exp.clone(), pw.clone()));
        }
        let app = secrets.current().await.map_err(Redacted::error)?;
        let exp = Expected::new(app.username.clone(), app.password.clone());
        *slot = Some((Instant::now(), exp.clone(), app.password.clone()));
        Ok((exp, app.password))
    }

    /// A step may have moved AWSCURRENT: read it afresh next time.
    pub async fn forget(&self) {
        *self.slot.lock().await = None;
    }
}
