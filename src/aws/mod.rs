//! AWS: the operator's session and Secrets Manager — reading the app and
//! admin secrets, and the staged (AWSPENDING → AWSCURRENT) update that AWS's
//! own rotation functions use.

mod app_secret;
mod error;
mod secrets;
mod session;
mod staged;

pub use app_secret::{AppSecret, REQUIRED_KEYS};
pub use error::{AwsError, AwsErrorKind, AwsResult, RELOGIN_HINT, classify};
pub use secrets::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, SecretVersion, SecretsManager, VersionRef};
pub use session::{
    AwsOptions, AwsSession, CallerIdentity, DEFAULT_REGION, DEFAULT_TIMEOUT, EXPIRY_ENV_VARS,
    StaticCredentials, expiry_from_env,
};
pub use staged::{SecretWrite, WriteKind, pending_token};
