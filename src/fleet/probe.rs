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

use super::model::{Calls, FleetSystem, Login};
use crate::aws::AppSecret;
use crate::db::mysql;
use crate::db::postgres::PgDb;
use crate::db::{DbError, DbErrorKind};
use crate::secret::{SecretString, redact};
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
}

impl Probe {
    /// The login `current` describes, or why there is none to try.
    pub fn new(
        key: (String, String),
        engine: Option<Engine>,
        current: &AppSecret,
        database: Option<String>,
    ) -> Result<Probe, String> {
        let engine = engine.ok_or("the engine is unknown")?;
        let (host, port) = host_port(&current.host, engine)?;
        Ok(Probe {
            key,
            engine,
            host,
            port,
            user: current.username.clone(),
            password: current.password.clone(),
            database: database.unwrap_or_else(|| "postgres".into()),
        })
    }

    async fn run(self, limit: Duration) -> ((String, String), Login) {
        let version = match self.engine {
            Engine::Mysql => {
                mysql::server_version(&self.host, self.port, &self.user, &self.password, limit).await
            }
            Engine::Postgres => {
                PgDb::server_version(
                    &self.host,
                    self.port,
                    &self.user,
                    &self.password,
                    &self.database,
                    limit,
                )
                .await
            }
        };
        (self.key, login_of(version))
    }
}

/// Every probe, at most [`super::CONCURRENCY`] at a time, each within `limit`.
pub async fn run_all(probes: Vec<Probe>, limit: Duration, calls: &Calls) -> Vec<((String, String), Login)> {
    stream::iter(probes)
        .map(|p| {
            calls.count(FleetSystem::Database);
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

/// `host`, `host:port` or `[v6]:port` as the secret's `host` holds it; the
/// engine's port when none is given.
fn host_port(host: &str, engine: Engine) -> Result<(String, u16), String> {
    let default = match engine {
        Engine::Mysql => 3306,
        Engine::Postgres => 5432,
    };
    let bad = || format!("the secret's host is not host[:port]: {host:?}");
    let host = host.trim();
    if host.is_empty() {
        return Err("the secret has no host".into());
    }
    if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default,
            None => return Err(bad()),
        };
        return Ok((addr.to_owned(), port));
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Ok((h.to_owned(), p.parse().map_err(|_| bad())?)),
        Some(_) => Ok((host.to_owned(), default)),
        None => Ok((host.to_owned(), default)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_and_without_ports() {
        let pg = Engine::Postgres;
        assert_eq!(
            host_port("db.eu-west-1.rds.amazonaws.com", pg),
            Ok(("db.eu-west-1.rds.amazonaws.com".into(), 5432))
        );
        assert_eq!(
            host_port("127.0.0.1:40123", Engine::Mysql),
            Ok(("127.0.0.1".into(), 40123))
        );
        assert_eq!(host_port("[::1]:5433", pg), Ok(("::1".into(), 5433)));
        assert_eq!(host_port("[::1]", pg), Ok(("::1".into(), 5432)));
        assert_eq!(host_port("::1", pg), Ok(("::1".into(), 5432)));
        assert!(host_port("db:port", pg).is_err());
        assert!(host_port(" ", pg).is_err());
    }

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
