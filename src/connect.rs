//! From flags to live connections, the same way for every command: the AWS
//! session from the default chain, and the admin's database URL — given with
//! `--db-url`, or built from the app secret's `host` as the runbook does
//! (`mysql --host [rds-hostname] -u aws_db_admin`) — whose password, when the
//! URL carries none, comes from the `<env>-rds-admin-passwords` secret.

use color_eyre::eyre::{Result, eyre};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::aws::{AwsOptions, AwsSession};
use crate::cli::ConnArgs;
use crate::secret::SecretString;
use crate::target::{Engine, Target};

/// The AWS session the flags and environment describe.
pub async fn aws_session(conn: &ConnArgs) -> Result<AwsSession> {
    AwsSession::load(&AwsOptions::from(conn))
        .await
        .map_err(|e| eyre!("{e}"))
}

/// The admin's URL for a target, without a password unless `--db-url` had one.
pub async fn admin_db_url(target: &Target, conn: &ConnArgs, session: &AwsSession) -> Result<String> {
    if let Some(url) = &conn.db_url {
        return Ok(url.clone());
    }
    let app = session
        .secrets()
        .app_secret(&target.app_secret)
        .await
        .map_err(|e| eyre!("{e}"))?;
    Ok(url_for_host(target, &app.host))
}

/// `scheme://admin@host/database` (the host may carry a port).
pub fn url_for_host(target: &Target, host: &str) -> String {
    let scheme = match target.engine {
        Engine::Mysql => "mysql",
        Engine::Postgres => "postgresql",
    };
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    format!(
        "{scheme}://{}@{host}/{}",
        enc(&target.admin_user),
        enc(&target.database)
    )
}

/// Whether a URL carries a password.
pub fn has_password(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(|_| ()))
        .is_some()
}

/// The admin password from the admin secret (key: the target's admin secret key).
pub async fn admin_password(target: &Target, session: &AwsSession) -> Result<SecretString> {
    session
        .secrets()
        .admin_password(&target.admin_secret, &target.admin_secret_key)
        .await
        .map_err(|e| eyre!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_from_the_secrets_host() {
        let t = Target::new("production", "account-api", Engine::Postgres);
        assert_eq!(
            url_for_host(&t, "db.internal:5432"),
            "postgresql://aws%5Fdb%5Fadmin@db.internal:5432/account%2Dapi%5Fproduction"
        );
        assert!(!has_password(&url_for_host(&t, "h")));
        assert!(has_password("mysql://u:p@h/d"));
    }
}
