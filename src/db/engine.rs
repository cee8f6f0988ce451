//! What sets the engines apart outside their SQL, each fact in one place:
//! the port a server listens on unless told otherwise, the URL schemes that
//! name an engine, and how an endpoint is written (the app secret's `host`:
//! `host`, `host:port`, `[v6]` or `[v6]:port`). The facts themselves live in
//! each engine's module (`db::mysql`, `db::postgres`); the rest of rotui
//! asks here and never matches on the engine for them. Statements,
//! equivalence and error tables are reached through the rotation's
//! `DbPort` and `db::Db`.

use std::fmt;

use super::{mysql, postgres};
use crate::target::Engine;

impl Engine {
    /// The port its servers (and RDS) listen on unless the endpoint names one.
    pub fn default_port(self) -> u16 {
        match self {
            Engine::Mysql => mysql::DEFAULT_PORT,
            Engine::Postgres => postgres::DEFAULT_PORT,
        }
    }

    /// The scheme rotui writes in the URLs it builds.
    pub fn url_scheme(self) -> &'static str {
        self.url_schemes()[0]
    }

    /// Every scheme that names this engine in a DATABASE_URL (Rails'
    /// adapters included), the one rotui writes first.
    pub fn url_schemes(self) -> &'static [&'static str] {
        match self {
            Engine::Mysql => mysql::URL_SCHEMES,
            Engine::Postgres => postgres::URL_SCHEMES,
        }
    }

    /// The engine a URL scheme names (`mysql2`, `trilogy`, `postgresql`…), any case.
    pub fn of_scheme(scheme: &str) -> Option<Engine> {
        let scheme = scheme.to_ascii_lowercase();
        [Engine::Mysql, Engine::Postgres]
            .into_iter()
            .find(|e| e.url_schemes().contains(&scheme.as_str()))
    }

    /// The longest user name it accepts, as [`Engine::username_len`]
    /// measures: MySQL 32 characters (8.0+), PostgreSQL 63 bytes.
    pub fn max_username_len(self) -> usize {
        match self {
            Engine::Mysql => mysql::MAX_USERNAME_CHARS,
            Engine::Postgres => postgres::MAX_ROLE_NAME_BYTES,
        }
    }

    /// A user name's length as the engine measures it (MySQL in
    /// characters, PostgreSQL in bytes).
    pub fn username_len(self, name: &str) -> usize {
        match self {
            Engine::Mysql => name.chars().count(),
            Engine::Postgres => name.len(),
        }
    }

    /// The engine a URL names, by its scheme.
    pub fn of_url(url: &str) -> Option<Engine> {
        Engine::of_scheme(url.split_once("://")?.0)
    }
}

/// A server's address as an app secret's `host` holds it: a name or an
/// address, and a port when it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Without brackets (`::1`, not `[::1]`).
    pub host: String,
    pub port: Option<u16>,
}

impl Endpoint {
    /// `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address
    /// (whose colons are not a port).
    pub fn parse(field: &str) -> Result<Endpoint, String> {
        let bad = || format!("the secret's host is not host[:port]: {field:?}");
        let field = field.trim();
        if field.is_empty() {
            return Err("the secret has no host".into());
        }
        let port = |p: &str| p.parse::<u16>().map_err(|_| bad());
        if let Some(rest) = field.strip_prefix('[') {
            let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(port(p)?),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            return Ok(Endpoint {
                host: addr.to_owned(),
                port,
            });
        }
        Ok(match field.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => Endpoint {
                host: h.to_owned(),
                port: Some(port(p)?),
            },
            // A bare IPv6 address, or a plain name.
            _ => Endpoint {
                host: field.to_owned(),
                port: None,
            },
        })
    }

    /// The port to connect to: the endpoint's, else the engine's.
    pub fn port_or_default(&self, engine: Engine) -> u16 {
        self.port.unwrap_or(engine.default_port())
    }
}

/// As a URL's authority writes it: `host[:port]`, an IPv6 address in brackets.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(host: &str, port: Option<u16>) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn endpoints_with_and_without_ports() {
        assert_eq!(
            Endpoint::parse("db.eu-west-1.rds.amazonaws.com"),
            Ok(ep("db.eu-west-1.rds.amazonaws.com", None))
        );
        assert_eq!(
            Endpoint::parse(" 127.0.0.1:40123 "),
            Ok(ep("127.0.0.1", Some(40123)))
        );
        assert_eq!(Endpoint::parse("[::1]"), Ok(ep("::1", None)));
        assert_eq!(Endpoint::parse("[::1]:6432"), Ok(ep("::1", Some(6432))));
        // A bare IPv6 address: its last group is not a port.
        assert_eq!(Endpoint::parse("::1"), Ok(ep("::1", None)));
        assert!(Endpoint::parse("").is_err());
        assert!(Endpoint::parse("h:port").is_err());
        assert!(Endpoint::parse("[::1]x").is_err());
        assert!(Endpoint::parse("h:70000").is_err());
    }

    #[test]
    fn endpoints_print_as_urls_write_them() {
        assert_eq!(ep("::1", Some(5432)).to_string(), "[::1]:5432");
        assert_eq!(ep("db.internal", None).to_string(), "db.internal");
        assert_eq!(Endpoint::parse("db:3306").unwrap().to_string(), "db:3306");
        assert_eq!(ep("h", None).port_or_default(Engine::Postgres), 5432);
        assert_eq!(ep("h", None).port_or_default(Engine::Mysql), 3306);
    }

    #[test]
    fn engines_from_schemes_and_urls() {
        for s in ["mysql", "mysql2", "MariaDB", "trilogy"] {
            assert_eq!(Engine::of_scheme(s), Some(Engine::Mysql), "{s}");
        }
        for s in ["postgres", "postgresql", "postgis"] {
            assert_eq!(Engine::of_scheme(s), Some(Engine::Postgres), "{s}");
        }
        assert_eq!(Engine::of_url("mysql2://u@h/d"), Some(Engine::Mysql));
        assert_eq!(Engine::of_url("postgresql://u@h/d"), Some(Engine::Postgres));
        assert_eq!(Engine::of_url("redis://h"), None);
        assert_eq!(Engine::of_url("no scheme"), None);
        assert_eq!(Engine::Postgres.url_scheme(), "postgresql");
        assert_eq!(Engine::Mysql.url_scheme(), "mysql");
    }
}
