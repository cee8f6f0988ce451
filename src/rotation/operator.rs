//! Who runs rotui: the OS user and each environment's AWS caller identity
//! ([`Operator`], as the journal records it), and the name rotation marks
//! give a holder ([`local_holder`], `os-user@host`).
//!
//! A file of its own, below both the journal and the rotation mark, so
//! neither reaches into the other to learn who is running; reading the AWS
//! identities through the ports is the hold's business (`hold.rs`).

use std::collections::BTreeMap;

use crate::target::EnvName;
use serde::{Deserialize, Serialize};

/// Who ran a rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub os_user: String,
    /// AWS caller identity per environment (or why it is unknown).
    pub aws: BTreeMap<EnvName, String>,
    /// The machine it ran on (journals before it was recorded have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Operator {
    pub fn os_user() -> String {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()))
    }
}

/// This machine's name.
pub fn host() -> Option<String> {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
}

/// Who this rotui is, as marks name holders: `os-user@host`.
pub fn local_holder() -> String {
    let host = host().unwrap_or_else(|| "unknown-host".into());
    format!("{}@{host}", Operator::os_user())
}
