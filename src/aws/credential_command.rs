//! A credential source per environment: a command whose output gives one
//! account's credentials, as a GOV.UK laptop has them. `gds aws
//! govuk-staging-platformengineer -e` prints `export AWS_…=…` lines; an AWS
//! `credential_process` prints JSON (Version 1). Each environment runs its
//! own command, so two environments never share the shell's one session.
//!
//! The command runs without `AWS_VAULT` (aws-vault refuses to nest) and
//! without the shell's own `AWS_*` credentials (they are another account's).
//! What it prints is held as secrets: never in arguments, logs or errors.
//! [`CommandCredentials`] is the SDK's credentials provider and re-runs the
//! command [`REFRESH_BEFORE`] the credentials expire.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};
use aws_sdk_secretsmanager::config::Credentials;
use chrono::{DateTime, Utc};

use super::credentials::{EXPIRY_ENV_VARS, StaticCredentials, expiry_from_env};
use crate::secret::ExposeSecret;

/// Re-run the command this long before the credentials expire: a step
/// that starts then still finishes with valid credentials.
pub const REFRESH_BEFORE: Duration = crate::model::CREDENTIALS_REFRESH_BEFORE;

/// How long the command may take (aws-vault may wait on a keychain prompt).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// The shell's variables the command must not see: `AWS_VAULT` (aws-vault
/// refuses to nest) and the shell's own session, which is another account's.
pub const SHELL_CREDENTIAL_VARS: [&str; 9] = [
    "AWS_VAULT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_SESSION_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
];

/// Credentials from the command's output: `export KEY=VALUE` lines (quotes
/// allowed) or a `credential_process` JSON document. Errors name what is
/// missing or which line is wrong, never a value.
pub fn parse_output(text: &str) -> Result<StaticCredentials, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return parse_json(trimmed);
    }
    let mut vars: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let assignment = line.strip_prefix("export ").unwrap_or(line).trim();
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(format!(
                "line {} of its output is neither `export KEY=VALUE` nor JSON",
                n + 1
            ));
        };
        let value = value.trim();
        let unquoted = ['\'', '"']
            .iter()
            .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q))
            .unwrap_or(value);
        vars.push((key.trim().to_owned(), unquoted.to_owned()));
    }
    let get = |k: &str| vars.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (Some(id), Some(key)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) else {
        return Err(
            "its output has no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (expected the `export \
             AWS_…` lines of `gds aws <role> -e`, or credential_process JSON)"
                .to_owned(),
        );
    };
    let mut creds = StaticCredentials::new(&id, &key);
    creds.session_token = get("AWS_SESSION_TOKEN")
        .or_else(|| get("AWS_SECURITY_TOKEN"))
        .map(crate::secret::secret);
    creds.expiry = expiry_from_env(&|k: &str| get(k));
    if creds.expiry.is_none()
        && let Some(bad) = EXPIRY_ENV_VARS.iter().find(|k| get(k).is_some())
    {
        return Err(format!("its {bad} is not an RFC 3339 time"));
    }
    Ok(creds)
}

/// `credential_process` output: `{"Version": 1, "AccessKeyId": …, "SecretAccessKey": …,
/// "SessionToken": …, "Expiration": …}`.
fn parse_json(text: &str) -> Result<StaticCredentials, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Process {
        version: u32,
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
        expiration: Option<String>,
    }
    // serde's message could quote the document: only its position is said.
    let p: Process = serde_json::from_str(text).map_err(|e| {
        format!(
            "its JSON is not credential_process output (Version, AccessKeyId, SecretAccessKey; \
             line {} column {})",
            e.line(),
            e.column()
        )
    })?;
    if p.version != 1 {
        return Err(format!(
            "its JSON is credential_process Version {}, rotui reads Version 1",
            p.version
        ));
    }
    let mut creds = StaticCredentials::new(&p.access_key_id, &p.secret_access_key);
    creds.session_token = p.session_token.map(crate::secret::secret);
    creds.expiry = match p.expiration {
        None => None,
        Some(at) => Some(
            DateTime::parse_from_rfc3339(at.trim())
                .map_err(|_| "its Expiration is not an RFC 3339 time".to_owned())?
                .with_timezone(&Utc),
        ),
    };
    Ok(creds)
}

/// Run `command` with `sh -c`, without the shell's credential variables,
/// and parse what it prints. Its stdout never reaches an error; its
/// stderr does, redacted and cut short, as the tool's own explanation.
pub async fn run(command: &str) -> Result<StaticCredentials, String> {
    run_in(command, std::env::vars_os().collect()).await
}

/// [`run`] with `inherited` as the shell's environment.
async fn run_in(
    command: &str,
    inherited: Vec<(std::ffi::OsString, std::ffi::OsString)>,
) -> Result<StaticCredentials, String> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env_clear()
        .envs(
            inherited
                .into_iter()
                .filter(|(k, _)| !SHELL_CREDENTIAL_VARS.iter().any(|v| k == v)),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(COMMAND_TIMEOUT, cmd.output()).await {
        Err(_) => {
            return Err(format!(
                "`{command}` gave no credentials within {} s (if it asks for an MFA code or a \
                 keychain password, run it once in a shell first so its session is cached)",
                COMMAND_TIMEOUT.as_secs()
            ));
        }
        Ok(Err(e)) => return Err(format!("could not run `{command}`: {e}")),
        Ok(Ok(out)) => out,
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said: String = crate::secret::redact(stderr.trim()).chars().take(400).collect();
        return Err(format!(
            "`{command}` failed ({}){}",
            out.status,
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    parse_output(&text).map_err(|why| format!("`{command}`: {why}"))
}

/// The SDK's credentials provider for one environment's command: runs it
/// on first use and again [`REFRESH_BEFORE`] expiry, in the background too,
/// so the countdown on the status bar restarts without a call failing first.
#[derive(Clone)]
pub struct CommandCredentials {
    inner: Arc<Inner>,
}

struct Inner {
    command: String,
    /// The latest credentials; the async lock lets one run at a time.
    current: tokio::sync::Mutex<Option<StaticCredentials>>,
    /// Their expiry, readable without waiting on a run in progress.
    expiry: Mutex<Option<DateTime<Utc>>>,
    /// The last refresh's failure (already redacted), for the status line.
    last_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for CommandCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandCredentials")
            .field("command", &self.inner.command)
            .field("expiry", &self.expiry())
            .finish_non_exhaustive()
    }
}

impl CommandCredentials {
    /// Run `command` now (so a failing source fails at start-up, clearly),
    /// and keep refreshing until the last clone is dropped.
    pub async fn start(command: &str) -> Result<Self, String> {
        let creds = run(command).await?;
        let this = CommandCredentials {
            inner: Arc::new(Inner {
                command: command.to_owned(),
                expiry: Mutex::new(creds.expiry),
                current: tokio::sync::Mutex::new(Some(creds)),
                last_error: Mutex::new(None),
            }),
        };
        tokio::spawn(refresh_loop(Arc::downgrade(&this.inner)));
        Ok(this)
    }

    pub fn command(&self) -> &str {
        &self.inner.command
    }

    /// When the credentials held now expire (`None`: they do not say).
    pub fn expiry(&self) -> Option<DateTime<Utc>> {
        *self.inner.expiry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last refresh's failure, if the latest run failed.
    pub fn last_error(&self) -> Option<String> {
        self.inner
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The credentials, re-running the command first when they are due.
    pub async fn current(&self) -> Result<StaticCredentials, String> {
        let mut held = self.inner.current.lock().await;
        if let Some(c) = held.as_ref().filter(|c| !due(c.expiry, Utc::now())) {
            return Ok(c.clone());
        }
        match run(&self.inner.command).await {
            Ok(fresh) => {
                *self.inner.expiry.lock().unwrap_or_else(|e| e.into_inner()) = fresh.expiry;
                *self.inner.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                *held = Some(fresh.clone());
                Ok(fresh)
            }
            Err(why) => {
                *self.inner.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
                // Still-valid credentials beat none while the source is down.
                match held
                    .as_ref()
                    .filter(|c| c.expiry.is_none_or(|at| at > Utc::now()))
                {
                    Some(c) => Ok(c.clone()),
                    None => Err(why),
                }
            }
        }
    }

    async fn sdk_credentials(&self) -> provider::Result {
        let c = self.current().await.map_err(CredentialsError::provider_error)?;
        // The SDK caches until the expiry it is told: told the refresh time,
        // it asks again then, and the command runs before the keys lapse.
        let refresh_at = c
            .expiry
            .map(|at| SystemTime::from(at) - REFRESH_BEFORE)
            .filter(|at| *at > SystemTime::now());
        Ok(Credentials::new(
            &c.access_key_id,
            c.secret_access_key.expose_secret(),
            c.session_token.as_ref().map(|t| t.expose_secret().to_owned()),
            refresh_at.or_else(|| c.expiry.map(SystemTime::from)),
            "rotui-credential-command",
        ))
    }
}

/// Whether credentials expiring at `expiry` must be fetched again at `now`.
fn due(expiry: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expiry.is_some_and(|at| (at - now).to_std().unwrap_or(Duration::ZERO) <= REFRESH_BEFORE)
}

/// Refresh ahead of expiry while anyone holds the provider; a failed run
/// is retried a minute later (the held credentials are kept meanwhile).
async fn refresh_loop(inner: Weak<Inner>) {
    loop {
        let wait = {
            let Some(inner) = inner.upgrade() else { return };
            let expiry = *inner.expiry.lock().unwrap_or_else(|e| e.into_inner());
            let failed = inner
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some();
            match expiry {
                None => return,
                Some(_) if failed => Duration::from_secs(60),
                Some(at) => ((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                    .saturating_sub(REFRESH_BEFORE)
                    .max(Duration::from_secs(1)),
            }
        };
        tokio::time::sleep(wait).await;
        let Some(inner) = inner.upgrade() else { return };
        let this = CommandCredentials { inner };
        if let Err(why) = this.current().await {
            tracing::warn!(command = %this.command(), "refreshing AWS credentials failed: {why}");
        }
    }
}

impl ProvideCredentials for CommandCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.sdk_credentials())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_lines_as_gds_aws_prints_them() {
        let text = "export AWS_ACCESS_KEY_ID=ASIAEXPORTED\n\
                    export AWS_SECRET_ACCESS_KEY='exportedSecretValue'\n\
                    export AWS_SESSION_TOKEN=\"exportedTokenValue\"\n\
                    export AWS_CREDENTIAL_EXPIRATION=2026-01-21T10:15:00Z\n";
        let c = parse_output(text).unwrap();
        assert_eq!(c.access_key_id, "ASIAEXPORTED");
        assert_eq!(c.secret_access_key.expose_secret(), "exportedSecretValue");
        assert_eq!(
            c.session_token.as_ref().unwrap().expose_secret(),
            "exportedTokenValue"
        );
        assert_eq!(c.expiry.unwrap().to_rfc3339(), "2026-01-21T10:15:00+00:00");
        // aws-vault exec's name for the expiry, without `export`.
        let c = parse_output(
            "AWS_ACCESS_KEY_ID=a\nAWS_SECRET_ACCESS_KEY=b\nAWS_SESSION_EXPIRATION=2026-01-21T11:15:00+01:00\n",
        )
        .unwrap();
        assert_eq!(c.expiry.unwrap().to_rfc3339(), "2026-01-21T10:15:00+00:00");
    }

    #[test]
    fn credential_process_json() {
        let c = parse_output(
            r#"{"Version":1,"AccessKeyId":"ASIAJSON","SecretAccessKey":"jsonSecretValue",
                "SessionToken":"jsonToken","Expiration":"2026-01-21T10:15:00Z"}"#,
        )
        .unwrap();
        assert_eq!(c.access_key_id, "ASIAJSON");
        assert_eq!(c.expiry.unwrap().to_rfc3339(), "2026-01-21T10:15:00+00:00");
        let err = parse_output(r#"{"Version":2,"AccessKeyId":"a","SecretAccessKey":"b"}"#).unwrap_err();
        assert!(err.contains("Version 2"), "{err}");
    }

    #[test]
    fn errors_never_quote_the_output() {
        for text in [
            "export AWS_ACCESS_KEY_ID=ASIALEAK\nleakedSecretValue\n",
            "export AWS_SECRET_ACCESS_KEY=leakedSecretValue\n",
            r#"{"Version":1,"AccessKeyId":"ASIALEAK","SecretAccessKey":leakedSecretValue}"#,
            "export AWS_ACCESS_KEY_ID=a\nexport AWS_SECRET_ACCESS_KEY=leakedSecretValue\nexport AWS_CREDENTIAL_EXPIRATION=soon\n",
        ] {
            let err = parse_output(text).unwrap_err();
            assert!(
                !err.contains("leakedSecretValue") && !err.contains("ASIALEAK"),
                "{err}"
            );
        }
    }

    #[test]
    fn due_within_the_refresh_margin() {
        let now = Utc::now();
        assert!(!due(None, now));
        assert!(!due(Some(now + chrono::Duration::minutes(30)), now));
        assert!(due(Some(now + chrono::Duration::minutes(4)), now));
        assert!(due(Some(now - chrono::Duration::minutes(1)), now));
    }

    #[tokio::test]
    async fn runs_without_the_shells_credentials_and_refreshes_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("runs");
        // Prints what it saw of the shell's session, and a session that
        // expires inside the refresh margin, so every use runs it again.
        let at = (Utc::now() + chrono::Duration::minutes(2)).to_rfc3339();
        let command = format!(
            "echo run >> '{}'; echo \"export AWS_ACCESS_KEY_ID=ASIA${{AWS_VAULT:-novault}}${{AWS_SECRET_ACCESS_KEY:-nokey}}\"; \
             echo export AWS_SECRET_ACCESS_KEY=s; echo export AWS_CREDENTIAL_EXPIRATION={at}",
            count.display()
        );
        let shell = [
            ("AWS_VAULT", "govuk-production"),
            ("AWS_SECRET_ACCESS_KEY", "shellKey"),
            ("KEEP", "1"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let seen = run_in(&command, shell.into()).await.unwrap();
        assert_eq!(seen.access_key_id, "ASIAnovaultnokey");
        let source = CommandCredentials::start(&command).await.unwrap();
        source.current().await.unwrap();
        let runs = std::fs::read_to_string(&count).unwrap().lines().count();
        assert!(runs >= 2, "due credentials are fetched again: {runs} runs");
        let failing = CommandCredentials::start("echo oops >&2; exit 3")
            .await
            .unwrap_err();
        assert!(
            failing.contains("failed") && failing.contains("oops"),
            "{failing}"
        );
    }
}
