//! `rotui credential-process --command CMD` (hidden): the AWS
//! `credential_process` rotui names in the profile it gives a kube
//! context's exec plugin (`aws eks get-token`). The plugin's AWS SDK runs
//! it whenever it needs credentials, so each token is minted with the
//! environment's current ones, however long the dashboard has been open.
//! Its stdout is the credential_process protocol's (the one place these
//! credentials are printed, to the SDK that asked); errors go to stderr,
//! redacted.

use std::io::Write as _;

use color_eyre::eyre::{Result, eyre};

use crate::cli::CredentialProcessArgs;
use crate::secret::ExposeSecret;

pub async fn run(args: &CredentialProcessArgs) -> Result<()> {
    let creds = crate::aws::credential_command::run(&args.command)
        .await
        .map_err(|why| eyre!("{why}"))?;
    let mut out = serde_json::json!({
        "Version": 1,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key.expose_secret(),
    });
    if let Some(t) = &creds.session_token {
        out["SessionToken"] = t.expose_secret().into();
    }
    if let Some(at) = creds.expiry {
        out["Expiration"] = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{out}")?;
    stdout.flush()?;
    Ok(())
}
