//! How rotui's database connections are secured, one idea for every login
//! (the admin's, the test login as the new user, the fleet's):
//!
//! - with a CA bundle (`ca_bundle` in `[environments.<env>]`, or
//!   `--ca-bundle`): verify-full — PostgreSQL `sslmode=verify-full`, MySQL
//!   `VERIFY_IDENTITY` — against the host the secret names, never a fallback;
//! - without one: TLS required (sqlx's `prefer` would silently fall back to
//!   plaintext); only a server that refuses TLS outright is then spoken to
//!   in plaintext, and the screen says so.
//!
//! RDS PostgreSQL 15+ forces TLS (`rds.force_ssl=1`): a server that requires
//! TLS is never tried in plaintext, as plaintext follows only its refusal.
//! The mode itself is data in [`crate::model`] (the screen shows it); how
//! each driver is told it, and what its failures mean, is here.

use std::path::Path;

use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::{DbError, DbErrorKind, DbResult};

pub use crate::model::{RDS_BUNDLE_URL, TlsMode};

/// How each driver is told a [`TlsMode`], and what its failures mean.
pub trait Secured {
    /// Without a bundle a server that refuses TLS is then tried in
    /// plaintext (said on screen); with one, never.
    fn fallback(&self, err: &sqlx::Error) -> Option<TlsMode>;
    /// Before connecting: a bundle that cannot be read, or that holds no
    /// certificate, is refused here, naming the file.
    fn check_bundle(&self) -> DbResult<()>;
    fn pg(&self, options: PgConnectOptions) -> PgConnectOptions;
    fn mysql(&self, options: MySqlConnectOptions) -> MySqlConnectOptions;
    /// A TLS failure in words: what failed, which file, which name, what
    /// to do. `None` when `err` is no TLS failure.
    fn explain(&self, err: &sqlx::Error, host: &str) -> Option<DbError>;
}

impl Secured for TlsMode {
    fn fallback(&self, err: &sqlx::Error) -> Option<TlsMode> {
        (*self == TlsMode::Require && refused_tls(err)).then_some(TlsMode::Plaintext)
    }

    fn check_bundle(&self) -> DbResult<()> {
        let Some(path) = self.ca_bundle() else {
            return Ok(());
        };
        let certs = read_bundle(path)?;
        if certs.is_empty() {
            return Err(DbError::new(
                DbErrorKind::Refused,
                format!("the CA bundle {} holds no PEM certificate", path.display()),
            )
            .with_hint(format!(
                "point ca_bundle (or --ca-bundle) at the RDS bundle, from {RDS_BUNDLE_URL}"
            )));
        }
        Ok(())
    }

    fn pg(&self, options: PgConnectOptions) -> PgConnectOptions {
        match self {
            TlsMode::VerifyFull(ca) => options.ssl_mode(PgSslMode::VerifyFull).ssl_root_cert(ca),
            TlsMode::Require => options.ssl_mode(PgSslMode::Require),
            TlsMode::VerifiedByTunnel { .. } | TlsMode::Plaintext => options.ssl_mode(PgSslMode::Disable),
        }
    }

    fn mysql(&self, options: MySqlConnectOptions) -> MySqlConnectOptions {
        match self {
            TlsMode::VerifyFull(ca) => options.ssl_mode(MySqlSslMode::VerifyIdentity).ssl_ca(ca),
            TlsMode::Require => options.ssl_mode(MySqlSslMode::Required),
            TlsMode::VerifiedByTunnel { .. } | TlsMode::Plaintext => options.ssl_mode(MySqlSslMode::Disabled),
        }
    }

    fn explain(&self, err: &sqlx::Error, host: &str) -> Option<DbError> {
        if refused_tls(err) {
            return Some(
                DbError::new(
                    DbErrorKind::Refused,
                    format!("{host} does not offer TLS, and rotui requires it"),
                )
                .with_hint("enable TLS on the server, or check that the host is the database's"),
            );
        }
        // rustls' refusals reach sqlx as I/O errors from the handshake.
        let text = err.to_string();
        if !matches!(err, sqlx::Error::Tls(_)) && !text.contains("peer certificate") {
            return None;
        }
        let bundle = self
            .ca_bundle()
            .map_or_else(|| "(none)".to_owned(), |p| p.display().to_string());
        let (message, hint) = if text.contains("NotValidForName") || text.contains("not valid for name") {
            (
                format!("the server's certificate is not valid for the name {host} (TLS verify-full)"),
                "connect by the name the certificate holds: the RDS endpoint in the app secret's \
                 `host`, not an IP address or an alias; if the endpoint changed, fix the secret"
                    .to_owned(),
            )
        } else if text.contains("UnknownIssuer")
            || text.contains("BadSignature")
            || text.contains("unknown issuer")
        {
            (
                format!("the server's certificate at {host} is not signed by a CA in the bundle {bundle}"),
                format!(
                    "check ca_bundle for this environment (or --ca-bundle): RDS needs its CA bundle, \
                     from {RDS_BUNDLE_URL}"
                ),
            )
        } else if text.contains("Expired") || text.contains("NotValidYet") {
            (
                format!("the server's certificate at {host} has expired or is not valid yet"),
                "check the machine's clock; on RDS, rotate the instance's CA".to_owned(),
            )
        } else {
            (
                format!("the TLS handshake with {host} failed ({text}); CA bundle: {bundle}"),
                "check ca_bundle and that the host is the database's".to_owned(),
            )
        };
        Some(DbError::new(DbErrorKind::Refused, message).with_hint(hint))
    }
}

/// sqlx's words for a server that answered the TLS request with "no".
fn refused_tls(err: &sqlx::Error) -> bool {
    let text = err.to_string();
    text.contains("server does not support TLS") || text.contains("does not support SSL")
}

/// The certificates in a PEM bundle; an unreadable file is an error naming it.
pub fn read_bundle(path: &Path) -> DbResult<Vec<rustls_pki_types::CertificateDer<'static>>> {
    use rustls_pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|e| {
        DbError::new(
            DbErrorKind::Refused,
            format!("the CA bundle {} cannot be read: {e}", path.display()),
        )
        .with_hint(format!(
            "point ca_bundle (or --ca-bundle) at the RDS bundle, from {RDS_BUNDLE_URL}"
        ))
    })?;
    rustls_pki_types::CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            DbError::new(
                DbErrorKind::Refused,
                format!("the CA bundle {} is not PEM: {e}", path.display()),
            )
            .with_hint(format!("download the RDS bundle again, from {RDS_BUNDLE_URL}"))
        })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn labels_say_what_the_status_bar_shows() {
        let ca = PathBuf::from("/etc/rds/global-bundle.pem");
        assert_eq!(
            TlsMode::VerifyFull(ca.clone()).label(),
            "TLS verified (CA global-bundle.pem)"
        );
        assert_eq!(TlsMode::Require.label(), "TLS unverified");
        assert_eq!(TlsMode::Plaintext.label(), "plaintext");
        assert!(
            TlsMode::Require
                .warning()
                .unwrap()
                .starts_with("TLS not verified")
        );
        assert!(TlsMode::VerifyFull(ca).warning().is_none());
    }

    #[test]
    fn only_an_unverified_login_falls_back_and_only_on_a_refusal() {
        let refused = sqlx::Error::Tls("server does not support TLS".into());
        let other = sqlx::Error::Tls("invalid peer certificate: UnknownIssuer".into());
        assert_eq!(TlsMode::Require.fallback(&refused), Some(TlsMode::Plaintext));
        assert_eq!(TlsMode::Require.fallback(&other), None);
        let verify = TlsMode::VerifyFull("/x.pem".into());
        assert_eq!(verify.fallback(&refused), None);
    }

    #[test]
    fn tls_failures_name_the_file_the_name_and_what_to_do() {
        let verify = TlsMode::VerifyFull("/etc/rds/bundle.pem".into());
        let e = verify
            .explain(
                &sqlx::Error::Tls("invalid peer certificate: UnknownIssuer".into()),
                "db.example",
            )
            .unwrap()
            .to_string();
        assert!(
            e.contains("not signed by a CA in the bundle /etc/rds/bundle.pem"),
            "{e}"
        );
        assert!(e.contains(RDS_BUNDLE_URL), "{e}");
        let e = verify
            .explain(
                &sqlx::Error::Tls("invalid peer certificate: NotValidForName".into()),
                "127.0.0.1",
            )
            .unwrap()
            .to_string();
        assert!(e.contains("not valid for the name 127.0.0.1"), "{e}");
        assert!(verify.explain(&sqlx::Error::RowNotFound, "h").is_none());
    }

    #[test]
    fn an_unreadable_or_empty_bundle_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = TlsMode::VerifyFull(dir.path().join("nope.pem"));
        let e = missing.check_bundle().unwrap_err().to_string();
        assert!(e.contains("nope.pem cannot be read"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = TlsMode::VerifyFull(empty).check_bundle().unwrap_err().to_string();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        assert!(TlsMode::Require.check_bundle().is_ok());
    }
}
