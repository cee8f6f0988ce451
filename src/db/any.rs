//! One handle over both engines, for the parts of rotui that don't care which
//! one they talk to: the dashboard's read side and `rotui inspect`.

use serde::Serialize;

use crate::db::mysql::{Account, MysqlDb};
use crate::db::postgres::{PgConfig, PgDb};
use crate::db::tls::TlsMode;
use crate::db::{DbError, DbErrorKind, DbResult};
use crate::model::{ConnectionSnapshot, DbObject, DefaultPrivilege, Flavor, Grant, OwnedIn, User};
use crate::secret::SecretString;
use crate::target::Engine;

/// An admin connection to a MySQL-family or PostgreSQL server.
#[derive(Debug, Clone)]
pub enum Db {
    Mysql(MysqlDb),
    Postgres(Box<PgDb>),
}

impl Db {
    /// Connect as the admin. `password`, when given, overrides the URL's
    /// (the admin password normally comes from Secrets Manager).
    pub async fn connect(engine: Engine, url: &str, password: Option<&SecretString>) -> DbResult<Db> {
        Self::connect_secured(engine, url, password, TlsMode::Require).await
    }

    /// [`Db::connect`] secured as `tls` says ([`crate::db::tls`]).
    pub async fn connect_secured(
        engine: Engine,
        url: &str,
        password: Option<&SecretString>,
        tls: TlsMode,
    ) -> DbResult<Db> {
        match engine {
            Engine::Mysql => MysqlDb::connect_secured(url, password, tls).await.map(Db::Mysql),
            Engine::Postgres => PgDb::open_secured(url, password, PgConfig::default(), tls)
                .await
                .map(|d| Db::Postgres(Box::new(d))),
        }
    }

    /// Whether the server sees the admin's own session as encrypted
    /// (PostgreSQL's `pg_stat_ssl`, MySQL's `Ssl_cipher`): what the server
    /// says, beside what rotui asked for.
    pub async fn session_encrypted(&self) -> DbResult<bool> {
        match self {
            Db::Mysql(d) => d.session_encrypted().await,
            Db::Postgres(d) => d.session_encrypted().await,
        }
    }

    /// How the admin connection is secured (status bar, plan).
    pub fn tls(&self) -> &TlsMode {
        match self {
            Db::Mysql(d) => d.tls(),
            Db::Postgres(d) => d.tls(),
        }
    }

    /// Log in as `user` (a fresh connection, within `limit`), read the
    /// server's version and log out. `database` matters to PostgreSQL only,
    /// whose logins name one.
    #[allow(clippy::too_many_arguments)]
    pub async fn server_version(
        engine: Engine,
        host: &str,
        port: u16,
        user: &str,
        password: &SecretString,
        database: &str,
        limit: std::time::Duration,
        tls: &TlsMode,
    ) -> DbResult<String> {
        match engine {
            Engine::Mysql => crate::db::mysql::server_version(host, port, user, password, limit, tls).await,
            Engine::Postgres => PgDb::server_version(host, port, user, password, database, limit, tls).await,
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Mysql(_) => Engine::Mysql,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    pub fn flavor(&self) -> &Flavor {
        match self {
            Db::Mysql(d) => d.flavor(),
            Db::Postgres(d) => d.flavor(),
        }
    }

    pub async fn users(&self) -> DbResult<Vec<User>> {
        match self {
            Db::Mysql(d) => d.users().await,
            Db::Postgres(d) => d.users().await,
        }
    }

    /// The grants of a user (a MySQL account: `host` defaults to `%`).
    pub async fn grants(&self, user: &str, host: Option<&str>) -> DbResult<Vec<Grant>> {
        match self {
            Db::Mysql(d) => d.grants(&Account::new(user, host.unwrap_or("%"))).await,
            Db::Postgres(d) => d.grants(user).await,
        }
    }

    /// Objects with their owners (PostgreSQL) or definers (MySQL) in `database`.
    pub async fn objects(&self, database: &str) -> DbResult<Vec<DbObject>> {
        match self {
            Db::Mysql(d) => d.objects(Some(database)).await,
            Db::Postgres(d) => d.objects(database).await,
        }
    }

    pub async fn connections(&self, with_rows: bool) -> DbResult<ConnectionSnapshot> {
        match self {
            Db::Mysql(d) => d.connections(with_rows).await,
            Db::Postgres(d) => d.connections(with_rows).await,
        }
    }

    /// End one connection (`KILL` / `rds_kill` / `pg_terminate_backend`);
    /// returns the statement that ran, for the journal and the notice.
    pub async fn kill(&self, id: i64) -> DbResult<String> {
        match self {
            Db::Mysql(d) => {
                let st = d.kill_statement(id);
                d.execute(std::slice::from_ref(&st)).await?;
                Ok(st.preview())
            }
            Db::Postgres(d) => {
                let st = d.plan_kill(id);
                d.kill(id).await?;
                Ok(st.preview())
            }
        }
    }

    /// End every connection of `user` (never rotui's own); returns how many.
    pub async fn kill_user(&self, user: &str) -> DbResult<usize> {
        match self {
            Db::Mysql(d) => {
                let plan = d.kill_user_plan(user).await?;
                d.execute(&plan.statements).await?;
                Ok(plan.statements.len())
            }
            Db::Postgres(d) => Ok(d.kill_user(user).await?.len()),
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Mysql(d) => d.close().await,
            Db::Postgres(d) => d.close().await,
        }
    }

    /// Everything `rotui inspect` prints, read in one go. `user` narrows the
    /// grants (and, for PostgreSQL, the databases it owns objects in).
    pub async fn inspect(&self, database: &str, user: Option<&str>) -> DbResult<Inspection> {
        let users = self.users().await?;
        let mut grants = Vec::new();
        if let Some(name) = user {
            let matching: Vec<&User> = users.iter().filter(|u| u.name == name).collect();
            if matching.is_empty() {
                return Err(
                    DbError::new(DbErrorKind::NotFound, format!("no user {name} on this server"))
                        .with_hint("check the name, or run inspect without --user to list users"),
                );
            }
            for u in matching {
                grants.push(UserGrants {
                    user: u.key(),
                    grants: self.grants(&u.name, u.host.as_deref()).await?,
                });
            }
        }
        let (owned_in, default_privileges) = match (self, user) {
            (Db::Postgres(d), Some(name)) => (d.owned_in(name).await?, d.default_privileges(database).await?),
            (Db::Postgres(d), None) => (Vec::new(), d.default_privileges(database).await?),
            _ => (Vec::new(), Vec::new()),
        };
        Ok(Inspection {
            flavor: self.flavor().clone(),
            database: database.to_owned(),
            users,
            grants,
            objects: self.objects(database).await?,
            owned_in,
            default_privileges,
            connections: self.connections(true).await?,
        })
    }
}

/// The read side as one document (`rotui inspect --json`). Holds no secret.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub flavor: Flavor,
    pub database: String,
    pub users: Vec<User>,
    pub grants: Vec<UserGrants>,
    pub objects: Vec<DbObject>,
    /// PostgreSQL: databases where the user still owns objects.
    pub owned_in: Vec<OwnedIn>,
    /// PostgreSQL: `ALTER DEFAULT PRIVILEGES` entries of the database.
    pub default_privileges: Vec<DefaultPrivilege>,
    pub connections: ConnectionSnapshot,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserGrants {
    pub user: String,
    pub grants: Vec<Grant>,
}
