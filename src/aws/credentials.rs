//! Credentials as values: the ones a test or the sandbox gives, and the
//! expiry a session tool exports. Below both the session and the
//! credential command, which each build on them.

use chrono::{DateTime, Utc};

use crate::secret::SecretString;

/// Env vars that session tools set to the credentials' expiry (RFC 3339):
/// gds-cli and the AWS CLI's `export-credentials` use the first, aws-vault the second.
pub const EXPIRY_ENV_VARS: [&str; 2] = ["AWS_CREDENTIAL_EXPIRATION", "AWS_SESSION_EXPIRATION"];

/// Credentials given explicitly (tests, the sandbox), bypassing the default chain.
#[derive(Debug, Clone)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
    pub expiry: Option<DateTime<Utc>>,
}

impl StaticCredentials {
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Self {
        StaticCredentials {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: crate::secret::secret(secret_access_key),
            session_token: None,
            expiry: None,
        }
    }
}

/// The session expiry exported by the tool that made the session, if any.
pub fn expiry_from_env(env: &impl Fn(&str) -> Option<String>) -> Option<DateTime<Utc>> {
    EXPIRY_ENV_VARS.iter().find_map(|k| {
        let v = env(k)?;
        DateTime::parse_from_rfc3339(v.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}
