//! The operator's AWS session: credentials from aws-config's default chain
//! (as `gds aws <role> --shell` exports them; profiles and SSO work too), the
//! region, an optional endpoint override, who the caller is and when the
//! session runs out.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::profile::region::ProfileFileRegionProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_secretsmanager::config::{Credentials, ProvideCredentials, SharedHttpClient};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use chrono::{DateTime, Utc};

use super::credential_command::CommandCredentials;
pub use super::credentials::{EXPIRY_ENV_VARS, StaticCredentials, expiry_from_env};
use super::error::{AwsError, AwsErrorKind, AwsResult};
use super::secrets::SecretsManager;
use crate::secret::{ExposeSecret, SecretString};

/// Region when neither the environment nor the profile names one (GOV.UK runs in Ireland).
pub const DEFAULT_REGION: &str = "eu-west-1";

/// Where and how to reach AWS. Empty fields fall back to the default chain.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// `--aws-endpoint-url` (the SDK itself also honours `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// A command printing the credentials (`gds aws <role> -e`), instead of
    /// a profile or the shell's session.
    pub credential_command: Option<String>,
    /// How long one AWS call may take, retries included [default: 45 s].
    pub timeout: Option<Duration>,
}

/// Default bound on one AWS call, retries included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(45);

/// Who the credentials belong to (STS GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

impl CallerIdentity {
    /// The role of an assumed-role ARN (`arn:aws:sts::1:assumed-role/ROLE/session`),
    /// or the last path part of any other ARN — what a status bar shows.
    pub fn principal_name(&self) -> &str {
        let resource = self.arn.rsplit(':').next().unwrap_or(&self.arn);
        match resource.split('/').collect::<Vec<_>>().as_slice() {
            ["assumed-role", role, ..] => role,
            [.., last] => last,
            [] => resource,
        }
    }
}

/// Where a session's credentials come from.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// The process's own (`gds aws … --shell`, the default chain).
    Shell,
    /// A named profile of the shared files.
    Profile(String),
    /// An environment's credential command, refreshed before expiry.
    Command(CommandCredentials),
}

/// A loaded AWS session: SDK config with resolved credentials.
#[derive(Clone)]
pub struct AwsSession {
    sdk: SdkConfig,
    region: String,
    endpoint_url: Option<String>,
    expiry: Option<DateTime<Utc>>,
    source: CredentialSource,
}

impl fmt::Debug for AwsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSession")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("expiry", &self.expiry())
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Variables for a kube exec credential plugin (`aws eks get-token`), as
/// kubeconfig's `exec.env`: the AWS credentials it mints its token with;
/// and the process's own it must not see (`exec.dropEnv`).
#[derive(Clone, Default)]
pub struct ExecEnv {
    pub set: Vec<(String, SecretString)>,
    pub drop: Vec<String>,
}

impl std::fmt::Debug for ExecEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.set.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ExecEnv")
            .field("set", &names)
            .field("drop", &self.drop)
            .finish()
    }
}

impl AwsSession {
    /// Load from the default chain (env, profile, SSO, …) and resolve the
    /// credentials now, so a missing or expired session fails here, clearly,
    /// rather than on the first call.
    pub async fn load(opts: &AwsOptions) -> AwsResult<Self> {
        // Env, then profile, then eu-west-1 — not the SDK's default chain,
        // whose last resort (EC2 instance metadata) costs a laptop seconds
        // of timeouts when `gds aws --shell` leaves the region unset.
        let mut profile_region = ProfileFileRegionProvider::builder();
        if let Some(p) = &opts.profile {
            profile_region = profile_region.profile_name(p);
        }
        let region = RegionProviderChain::first_try(opts.region.clone().map(Region::new))
            .or_else(EnvironmentVariableRegionProvider::new())
            .or_else(profile_region.build())
            .or_else(Region::new(DEFAULT_REGION));
        let mut loader = base_loader(opts).region(region);
        if let Some(command) = &opts.credential_command {
            // The environment's own credentials: neither the shell's exported
            // keys nor its profile (another account's when several are open).
            let source = CommandCredentials::start(command)
                .await
                .map_err(|why| AwsError::new(AwsErrorKind::ExpiredSession, why))?;
            let sdk = loader.credentials_provider(source.clone()).load().await;
            let expiry = source.expiry();
            let mut session = Self::finish(sdk, opts, expiry)?;
            session.source = CredentialSource::Command(source);
            return Ok(session);
        }
        if let Some(p) = &opts.profile {
            // A profile in neither file: say so, not "no credentials" (the
            // shell's, if any, are not used for a named profile).
            let env = |k: &str| std::env::var_os(k).map(std::path::PathBuf::from);
            if let Some(e) = missing_profile(p, &ProfileFiles::of(&env), |f| std::fs::read_to_string(f).ok())
            {
                return Err(e);
            }
            // The profile's credentials only: the default chain would prefer
            // the shell's exported keys, which belong to another account when
            // several environments are open at once.
            let conf = ProviderConfig::without_region().with_http_client(http_client());
            loader = loader.profile_name(p).credentials_provider(
                ProfileFileCredentialsProvider::builder()
                    .configure(&conf)
                    .profile_name(p)
                    .build(),
            );
        }
        let sdk = loader.load().await;
        let provider = sdk.credentials_provider().ok_or_else(no_credentials)?;
        let creds = provider
            .provide_credentials()
            .await
            .map_err(|e| credentials_error(&e))?;
        // The exported expiry describes the exported keys only: a stale
        // variable must not condemn credentials that came from a profile.
        let env = |k: &str| std::env::var(k).ok();
        let from_env = env("AWS_ACCESS_KEY_ID").as_deref() == Some(creds.access_key_id());
        let expiry = from_env
            .then(|| expiry_from_env(&env))
            .flatten()
            .or_else(|| creds.expiry().map(DateTime::<Utc>::from));
        let mut session = Self::finish(sdk, opts, expiry)?;
        if let Some(p) = &opts.profile {
            session.source = CredentialSource::Profile(p.clone());
        }
        Ok(session)
    }

    /// A session with explicit credentials (and region, default eu-west-1):
    /// the default credential chain is not consulted.
    pub async fn with_credentials(opts: &AwsOptions, creds: &StaticCredentials) -> AwsResult<Self> {
        let region = opts.region.clone().unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let sdk_creds = Credentials::new(
            &creds.access_key_id,
            creds.secret_access_key.expose_secret(),
            creds.session_token.as_ref().map(|t| t.expose_secret().to_owned()),
            creds.expiry.map(SystemTime::from),
            "rotui-static",
        );
        let sdk = base_loader(opts)
            .region(Region::new(region))
            .credentials_provider(sdk_creds)
            .load()
            .await;
        Self::finish(sdk, opts, creds.expiry)
    }

    fn finish(sdk: SdkConfig, opts: &AwsOptions, expiry: Option<DateTime<Utc>>) -> AwsResult<Self> {
        if let Some(at) = expiry.filter(|at| *at <= Utc::now()) {
            return Err(AwsError::new(
                AwsErrorKind::ExpiredSession,
                format!(
                    "the AWS session expired at {}",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
            ));
        }
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        Ok(AwsSession {
            endpoint_url: opts
                .endpoint_url
                .clone()
                .or_else(|| sdk.endpoint_url().map(str::to_owned)),
            sdk,
            region,
            expiry,
            source: CredentialSource::Shell,
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// When the credentials stop working, if known: a credential
    /// command's latest run's, since it is re-run before then.
    pub fn expiry(&self) -> Option<DateTime<Utc>> {
        match &self.source {
            CredentialSource::Command(c) => c.expiry(),
            _ => self.expiry,
        }
    }

    /// Time left before the session expires (zero once past), if known.
    pub fn remaining(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.expiry()
            .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
    }

    pub fn source(&self) -> &CredentialSource {
        &self.source
    }

    /// What a kube exec credential plugin (`aws eks get-token`) must be
    /// given so it mints its token with this session's account rather than
    /// the process's: the profile's name, or the command's credentials, and
    /// the shell's own variables dropped. `None`: the shell's session is
    /// this session, the plugin's environment is right as it is.
    pub async fn plugin_env(&self) -> AwsResult<Option<ExecEnv>> {
        use super::credential_command::SHELL_CREDENTIAL_VARS;
        let drop_except = |keep: &[&str]| -> Vec<String> {
            SHELL_CREDENTIAL_VARS
                .iter()
                .filter(|v| !keep.contains(v))
                .map(|v| (*v).to_owned())
                .collect()
        };
        let mut env = match &self.source {
            CredentialSource::Shell => return Ok(None),
            CredentialSource::Profile(p) => ExecEnv {
                set: vec![(
                    "AWS_PROFILE".to_owned(),
                    crate::secret::SecretString::from(p.clone()),
                )],
                drop: drop_except(&["AWS_PROFILE"]),
            },
            // Not the credentials themselves, which expire while kube keeps
            // the plugin's environment: a profile whose credential_process
            // is rotui running the command, so the plugin's SDK gets fresh
            // ones whenever it mints a token.
            CredentialSource::Command(c) => {
                let config =
                    plugin_profile(c.command()).map_err(|why| AwsError::new(AwsErrorKind::Other, why))?;
                ExecEnv {
                    set: vec![
                        (
                            "AWS_CONFIG_FILE".to_owned(),
                            SecretString::from(config.to_string_lossy().into_owned()),
                        ),
                        (
                            "AWS_PROFILE".to_owned(),
                            SecretString::from(PLUGIN_PROFILE.to_owned()),
                        ),
                    ],
                    drop: drop_except(&["AWS_PROFILE"]),
                }
            }
        };
        env.set
            .push(("AWS_REGION".to_owned(), SecretString::from(self.region.clone())));
        // The sandbox's STS; on the estate the endpoint is AWS's own.
        if let Some(url) = &self.endpoint_url {
            env.set
                .push(("AWS_ENDPOINT_URL".to_owned(), SecretString::from(url.clone())));
        }
        Ok(Some(env))
    }

    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// A Secrets Manager client for this session.
    pub fn secrets(&self) -> SecretsManager {
        SecretsManager::new(aws_sdk_secretsmanager::Client::new(&self.sdk), &self.region)
    }

    /// STS GetCallerIdentity: who is acting (for the status bar and the journal).
    pub async fn caller_identity(&self) -> AwsResult<CallerIdentity> {
        let sts = aws_sdk_sts::Client::new(&self.sdk);
        let out = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e, "STS GetCallerIdentity", &self.region))?;
        Ok(CallerIdentity {
            account: out.account.unwrap_or_default(),
            arn: out.arn.unwrap_or_default(),
            user_id: out.user_id.unwrap_or_default(),
        })
    }
}

/// The loader shared by both ways in: one TLS stack (rustls + ring, see
/// FIELD-NOTES), bounded timeouts and retries, and the endpoint override.
fn base_loader(opts: &AwsOptions) -> ConfigLoader {
    let total = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(total.min(Duration::from_secs(5)))
                .read_timeout(total.min(Duration::from_secs(15)))
                .operation_attempt_timeout(total.min(Duration::from_secs(20)))
                .operation_timeout(total)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    match &opts.endpoint_url {
        Some(url) => loader.endpoint_url(url),
        None => loader,
    }
}

/// A new HTTP client per session: hyper's pool belongs to the tokio runtime
/// that first used it, so clients are not shared across runtimes.
fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The profile [`AwsSession::plugin_env`] names.
pub const PLUGIN_PROFILE: &str = "rotui-credential-command";

/// A private AWS config file (0600, in a 0700 directory of the temp dir)
/// holding one profile whose `credential_process` is this rotui running
/// `command` (`rotui credential-process --command …`); its path. It holds
/// no credential, only how to get one.
pub fn plugin_profile(command: &str) -> Result<std::path::PathBuf, String> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let exe = std::env::current_exe().map_err(|e| format!("cannot name rotui's own program: {e}"))?;
    let uid = nix::unistd::getuid();
    let dir = std::env::temp_dir().join(format!("rotui-{uid}-plugins"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot make {}: {e}", dir.display())),
    }
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid.as_raw() || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is not a private directory of this user: remove it and run again",
            dir.display()
        ));
    }
    let quote = crate::text::shell_quote;
    let text = format!(
        "[profile {PLUGIN_PROFILE}]\ncredential_process = {} credential-process --command {}\n",
        quote(&exe.to_string_lossy()),
        quote(command)
    );
    // One file per command and program (SipHash with fixed keys: stable).
    let name = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        format!("config-{:016x}", h.finish())
    };
    let path = dir.join(name);
    let tmp = dir.join(format!(
        ".{}.{}",
        std::process::id(),
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The shared config and credentials files, where the SDK looks for them.
pub struct ProfileFiles {
    pub config: std::path::PathBuf,
    pub credentials: std::path::PathBuf,
}

impl ProfileFiles {
    /// `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/…`.
    pub fn of(env: &impl Fn(&str) -> Option<std::path::PathBuf>) -> ProfileFiles {
        let aws = env("HOME").unwrap_or_default().join(".aws");
        ProfileFiles {
            config: env("AWS_CONFIG_FILE").unwrap_or_else(|| aws.join("config")),
            credentials: env("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| aws.join("credentials")),
        }
    }
}

/// The profiles a shared file defines: `[profile x]` (or `[x]`, as the
/// credentials file and `[default]` write them).
fn profiles_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']'))
        .map(|name| {
            let name = name.trim();
            name.strip_prefix("profile ").map_or(name, str::trim).to_owned()
        })
        .filter(|name| !name.starts_with("sso-session ") && !name.starts_with("services "))
        .collect()
}

/// Why `profile` cannot be used: neither file defines it (None: one does).
pub fn missing_profile(
    profile: &str,
    files: &ProfileFiles,
    read: impl Fn(&std::path::Path) -> Option<String>,
) -> Option<AwsError> {
    let mut known: Vec<String> = [&files.config, &files.credentials]
        .into_iter()
        .flat_map(|f| read(f).map(|t| profiles_in(&t)).unwrap_or_default())
        .collect();
    if known.iter().any(|k| k == profile) {
        return None;
    }
    known.sort();
    known.dedup();
    let others = if known.is_empty() {
        "it defines none".to_owned()
    } else {
        format!("it defines {}", known.join(", "))
    };
    Some(
        AwsError::new(
            AwsErrorKind::Invalid,
            format!(
                "AWS profile {profile} is not in {} (nor in {}); {others}",
                files.config.display(),
                files.credentials.display()
            ),
        )
        .with_hint(format!(
            "add [profile {profile}] to {} (e.g. `aws configure sso --profile {profile}`), or set \
             aws_profile in rotui's config ([environments.<env>]) to a profile that exists",
            files.config.display()
        )),
    )
}

fn no_credentials() -> AwsError {
    AwsError::new(
        AwsErrorKind::ExpiredSession,
        "no AWS credentials found (environment, profile or SSO)",
    )
}

/// `CredentialsError` lives in a crate rotui does not depend on directly;
/// its variants are told apart by their fixed Display text.
fn credentials_error(e: &(dyn std::error::Error + 'static)) -> AwsError {
    let head = e.to_string();
    let detail = super::error::error_chain(e);
    if head.contains("not enabled") {
        let mut err = no_credentials();
        err.message = crate::secret::redact(&format!("{} ({detail})", err.message));
        err
    } else if head.contains("timed out") {
        AwsError::new(
            AwsErrorKind::Network,
            format!("loading AWS credentials: {detail}"),
        )
    } else {
        AwsError::new(
            AwsErrorKind::ExpiredSession,
            format!("could not load AWS credentials ({detail})"),
        )
    }
}

#[cfg(test)]
mod tests {
    /// The exec plugin's profile: rotui running the command as its
    /// credential_process (so every token gets fresh credentials), quoted
    /// for the SDK's shell-like split, in a file only this user can read.
    #[test]
    fn the_plugin_profile_runs_the_command_through_rotui_privately() {
        use std::os::unix::fs::PermissionsExt;
        let command = "gds aws govuk-staging-platformengineer -e | tee 'a b'";
        let path = plugin_profile(command).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(&format!("[profile {PLUGIN_PROFILE}]\ncredential_process = ")),
            "{text}"
        );
        let quoted =
            r"credential-process --command 'gds aws govuk-staging-platformengineer -e | tee '\''a b'\'''";
        assert!(text.trim_end().ends_with(quoted), "{text}");
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // The same command again: the same file, rewritten.
        assert_eq!(plugin_profile(command).unwrap(), path);
    }

    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn expiry_is_read_from_the_session_tools_variables() {
        let e = expiry_from_env(&env_of(&[("AWS_CREDENTIAL_EXPIRATION", "2026-01-21T10:15:00Z")]));
        assert_eq!(e.unwrap().to_rfc3339(), "2026-01-21T10:15:00+00:00");
        let e = expiry_from_env(&env_of(&[(
            "AWS_SESSION_EXPIRATION",
            "2026-01-21T11:15:00+01:00",
        )]));
        assert_eq!(e.unwrap().to_rfc3339(), "2026-01-21T10:15:00+00:00");
        assert_eq!(
            expiry_from_env(&env_of(&[("AWS_CREDENTIAL_EXPIRATION", "soon")])),
            None
        );
        assert_eq!(expiry_from_env(&env_of(&[])), None);
    }

    #[tokio::test]
    async fn debug_output_never_shows_the_secret_key() {
        let mut creds = StaticCredentials::new("AKIADEBUGTEST", "debugSecretKeyValue");
        creds.session_token = Some(crate::secret::secret("debugSessionTokenValue"));
        let session = AwsSession::with_credentials(&AwsOptions::default(), &creds)
            .await
            .unwrap();
        for text in [format!("{creds:?}"), format!("{session:?}")] {
            assert!(!text.contains("debugSecretKeyValue"), "{text}");
            assert!(!text.contains("debugSessionTokenValue"), "{text}");
        }
        assert_eq!(session.region(), DEFAULT_REGION);
    }

    #[tokio::test]
    async fn a_past_expiry_is_refused_with_the_relogin_hint() {
        let mut creds = StaticCredentials::new("AKIAEXPIRED", "expiredKeyValue");
        creds.expiry = Some(Utc::now() - chrono::Duration::minutes(1));
        let err = AwsSession::with_credentials(&AwsOptions::default(), &creds)
            .await
            .unwrap_err();
        assert_eq!(err.kind, AwsErrorKind::ExpiredSession);
        assert!(
            err.to_string().contains(super::super::error::RELOGIN_HINT),
            "{err}"
        );
    }

    #[tokio::test]
    async fn remaining_counts_down_to_zero() {
        let mut creds = StaticCredentials::new("AKIACOUNT", "countKeyValue");
        let at = Utc::now() + chrono::Duration::minutes(30);
        creds.expiry = Some(at);
        let s = AwsSession::with_credentials(&AwsOptions::default(), &creds)
            .await
            .unwrap();
        assert_eq!(
            s.remaining(at - chrono::Duration::minutes(10)),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            s.remaining(at + chrono::Duration::minutes(1)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_profile_in_neither_file_is_named_with_the_file() {
        let files = ProfileFiles {
            config: "/home/op/.aws/config".into(),
            credentials: "/home/op/.aws/credentials".into(),
        };
        let read = |f: &std::path::Path| {
            Some(if f.ends_with("config") {
                "[default]\nregion = eu-west-1\n[profile govuk-staging-developer]\n[sso-session gds]\n"
                    .to_owned()
            } else {
                "[govuk-integration]\naws_access_key_id = x\n".to_owned()
            })
        };
        let e = missing_profile("govuk-production-developer", &files, read).unwrap();
        let text = e.to_string();
        assert!(
            text.starts_with(
                "AWS profile govuk-production-developer is not in /home/op/.aws/config (nor in \
                 /home/op/.aws/credentials); it defines default, govuk-integration, govuk-staging-developer"
            ),
            "{text}"
        );
        assert!(
            text.contains("add [profile govuk-production-developer] to /home/op/.aws/config"),
            "{text}"
        );
        assert!(!text.contains("gds aws"), "{text}");
        assert!(missing_profile("govuk-staging-developer", &files, read).is_none());
        assert!(missing_profile("govuk-integration", &files, read).is_none());
        let none = missing_profile("x", &files, |_| None).unwrap().to_string();
        assert!(none.contains("it defines none"), "{none}");
    }

    #[test]
    fn principal_name_is_the_role_of_an_assumed_role() {
        let id = |arn: &str| CallerIdentity {
            account: "1".into(),
            arn: arn.into(),
            user_id: "u".into(),
        };
        assert_eq!(
            id("arn:aws:sts::123456789012:assumed-role/govuk-production-fulladmin/jane.doe").principal_name(),
            "govuk-production-fulladmin"
        );
        assert_eq!(
            id("arn:aws:iam::123456789012:user/ci/deployer").principal_name(),
            "deployer"
        );
        assert_eq!(id("arn:aws:iam::123456789012:root").principal_name(), "root");
    }
}
