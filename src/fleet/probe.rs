//! AWSCURRENT tried where it leads: each row's credentials log in to the
//! server their `host` names, read its version and log out. The one check
//! the secrets themselves cannot give — that the credentials every
//! consumer is about to be handed actually work — and the engine version
//! the fleet shows. Reads nothing else and writes nothing.
//!
//! From a laptop, RDS is often reachable only through a tunnel: a server
//! that does not answer within the limit is "unreachable", and the rest of
//! the row stands. At most [`super::CONCURRENCY`] logins are in flight.

use std::time::Duration;

use futures::{StreamExt, stream};

use super::model::{Calls, Login};
use crate::aws::AppSecret;
use crate::db::tls::TlsMode;
use crate::db::{Db, DbError, DbErrorKind, Endpoint};
use crate::model::System;
use crate::secret::{Redacted, SecretString, redact};
use crate::target::Engine;

/// One login to try, for the row `key` names: (environment, secret).
pub struct Probe {
    key: (String, String),
    engine: Engine,
    host: String,
    port: u16,
    user: String,
    password: SecretString,
    /// PostgreSQL needs one: the app's (from its DATABASE_URL), else `postgres`.
    database: String,
    /// As the environment's admin logins are secured ([`crate::db::tls`]).
    pub(super) tls: TlsMode,
}

impl Probe {
    /// The login `current` describes, or why there is none to try.
    pub fn new(
        key: (String, String),
        engine: Option<Engine>,
        current: &AppSecret,
        database: Option<String>,
    ) -> Result<Probe, Redacted> {
        let engine = engine.ok_or_else(|| Redacted::new("the engine is unknown"))?;
        let endpoint = Endpoint::parse(&current.host).map_err(Redacted::new)?;
        let port = endpoint.port_or_default(engine);
        let host = endpoint.host;
        Ok(Probe {
            key,
            engine,
            host,
            port,
            user: current.username.clone(),
            password: current.password.clone(),
            database: database.unwrap_or_else(|| "postgres".into()),
            tls: TlsMode::Require,
        })
    }

    async fn run(self, limit: Duration) -> ((String, String), Login) {
        let version = Db::server_version(
            self.engine,
            &self.host,
            self.port,
            &self.user,
            &self.password,
            &self.database,
            limit,
            &self.tls,
        )
        .await;
        (self.key, login_of(version))
    }
}

/// Every probe, at most [`super::CONCURRENCY`] at a time, each within `limit`.
pub async fn run_all(probes: Vec<Probe>, limit: Duration, calls: &Calls) -> Vec<((String, String), Login)> {
    stream::iter(probes)
        .map(|p| {
            calls.count(System::Database);
            p.run(limit)
        })
        .buffer_unordered(super::CONCURRENCY)
        .collect()
        .await
}

fn login_of(version: Result<String, DbError>) -> Login {
    match version {
        // "17.2 (Debian 17.2-1.pgdg120+1)" → "17.2"; MySQL's stays whole
        // ("8.4.3", "10.11.9-MariaDB-log"): it names the fork.
        Ok(v) => Login::Ok {
            version: v.split_whitespace().next().unwrap_or_default().to_owned(),
        },
        Err(e) => {
            let text = redact(&e.to_string());
            match e.kind {
                DbErrorKind::BadPassword | DbErrorKind::Privilege => Login::Refused(text),
                DbErrorKind::Unreachable | DbErrorKind::Timeout => Login::Unreachable(text),
                _ => Login::Refused(text),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_shortened_and_errors_sorted() {
        let ok = login_of(Ok("17.2 (Debian 17.2-1.pgdg120+1)".into()));
        assert_eq!(
            ok,
            Login::Ok {
                version: "17.2".into()
            }
        );
        let refused = login_of(Err(DbError::new(DbErrorKind::BadPassword, "denied")));
        assert!(matches!(refused, Login::Refused(m) if m.contains("denied")));
        let gone = login_of(Err(DbError::new(DbErrorKind::Unreachable, "no answer")));
        assert!(matches!(gone, Login::Unreachable(_)));
    }
}
