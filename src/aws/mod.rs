//! AWS: the operator's session and Secrets Manager — reading the app and
//! admin secrets, and the staged (AWSPENDING → AWSCURRENT) update that AWS's
//! own rotation functions use.
//!
//! A rotation uses it like this:
//! 1. [`AwsSession::load`] (default chain; fails early with "re-run `gds aws
//!    …`" when the session is missing or expired), then
//!    [`AwsSession::caller_identity`] for the journal.
//! 2. [`SecretsManager::app_secret`] and [`SecretsManager::admin_password`].
//! 3. [`SecretsManager::pending`]: a pending version left by an earlier run
//!    holds the credentials to reuse; otherwise generate new ones.
//! 4. [`SecretsManager::plan_put_pending`] → show [`SecretWrite::preview`] →
//!    [`SecretsManager::put_pending`]; later the same with `plan_promote` /
//!    `promote`, and `plan_rollback` / `rollback` to undo. Every plan reads
//!    live state first, so re-running a step that is done calls nothing.

mod app_secret;
pub mod credential_command;
mod credentials;
mod error;
pub mod role;
mod secrets;
mod session;
mod staged;

pub use app_secret::{AppSecret, REQUIRED_KEYS};
pub use error::{AwsError, AwsErrorKind, AwsResult, RELOGIN_HINT, classify};
pub use secrets::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, ListedSecret, Paged, SecretVersion, SecretsManager, VersionRef,
};
pub use session::{
    AwsOptions, AwsSession, CallerIdentity, CredentialSource, DEFAULT_REGION, DEFAULT_TIMEOUT,
    EXPIRY_ENV_VARS, ExecEnv, StaticCredentials, expiry_from_env,
};
pub use staged::{SecretWrite, WriteKind, pending_token};
