//! [`DbPort`] on `crate::db::postgres`, for one app database.

use crate::db::DbResult;
use crate::db::Statement;
use crate::db::postgres::PgDb;
use crate::fault;
use crate::model::{DbObject, Grant, User};
use crate::rotation::ports::{DbLock, DbPort, FailedLogins, PortFuture};
use crate::secret::SecretString;
use crate::stable_hash::fnv1a_64;

/// The admin connection to one environment's PostgreSQL, for `database`.
#[derive(Clone)]
pub struct PgPort {
    db: PgDb,
    host: String,
    port: u16,
    database: String,
}

impl PgPort {
    /// `host`/`port` are where test logins go (as the app connects).
    pub fn new(db: PgDb, host: impl Into<String>, port: u16, database: impl Into<String>) -> Self {
        PgPort {
            db,
            host: host.into(),
            port,
            database: database.into(),
        }
    }

    async fn find(&self, name: &str) -> DbResult<Option<User>> {
        Ok(self.db.users().await?.into_iter().find(|u| u.name == name))
    }
}

impl DbPort for PgPort {
    fn user<'a>(&'a self, name: &'a str) -> PortFuture<'a, Option<User>> {
        Box::pin(async move { Ok(self.find(name).await?) })
    }

    fn grants<'a>(&'a self, name: &'a str) -> PortFuture<'a, Vec<Grant>> {
        Box::pin(async move { Ok(self.db.grants(name).await?) })
    }

    /// PostgreSQL users get their rights from the owner role, not by copying
    /// grants: nothing to copy for a user still to be created. Once it
    /// exists, what makes it differ from `from` — effective privileges
    /// compared object by object in every database `from` may connect to —
    /// as the statements that would make them equal; empty when equivalent.
    fn clone_grants<'a>(&'a self, from: &'a str, to: &'a str) -> PortFuture<'a, Vec<Statement>> {
        Box::pin(async move {
            if !self.db.role_exists(to).await? || !self.db.role_exists(from).await? {
                return Ok(vec![]);
            }
            Ok(self.db.equivalence(from, to).await?.remedies())
        })
    }

    fn create_user<'a>(
        &'a self,
        name: &'a str,
        password: &'a SecretString,
        _like: &'a str,
        owner_role: &'a str,
    ) -> PortFuture<'a, Vec<Statement>> {
        Box::pin(async move { Ok(self.db.plan_create_login(name, password, owner_role).await?) })
    }

    /// No: the owner role granted at creation carries every right.
    fn copies_grants(&self) -> bool {
        false
    }

    fn objects_verb(&self) -> &'static str {
        "owns"
    }

    /// None: dropping reassigns what the user owns to the owner role first.
    fn objects_lost_on_drop<'a>(&'a self, _user: &'a str) -> PortFuture<'a, Vec<DbObject>> {
        Box::pin(async move { Ok(vec![]) })
    }

    fn rollback_note(&self, old: &str, owner_role: &str) -> String {
        format!(
            "-- no database undo needed: {old} is a member of {owner_role}, which owns the database's objects \
             (granted to it before the new user existed), so it works as before"
        )
    }

    fn objects_of<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<DbObject>> {
        Box::pin(async move {
            Ok(self
                .db
                .objects(&self.database)
                .await?
                .into_iter()
                .filter(|o| o.owner == user)
                .collect())
        })
    }

    fn move_objects<'a>(&'a self, from: &'a str, to: &'a str) -> PortFuture<'a, Vec<Statement>> {
        Box::pin(async move {
            Ok(self
                .db
                .plan_convert_to_owner_roles(&self.database, from, to)
                .await?)
        })
    }

    fn test_login<'a>(&'a self, user: &'a str, password: &'a SecretString) -> PortFuture<'a, ()> {
        Box::pin(async move {
            // Secured as the admin connection is: verify-full with a bundle.
            let tls = self.db.tls();
            PgDb::test_login_secured(&self.host, self.port, user, password, &self.database, tls).await?;
            Ok(())
        })
    }

    fn connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, i64> {
        Box::pin(async move {
            let snapshot = self.db.connections(false).await?;
            Ok(snapshot
                .counts
                .iter()
                .filter(|c| c.user.as_deref() == Some(user))
                .map(|c| c.count)
                .sum())
        })
    }

    fn connection_clients<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<String>> {
        Box::pin(async move { Ok(self.db.connections(true).await?.clients_of(user)) })
    }

    fn failed_logins<'a>(&'a self, users: &'a [String]) -> PortFuture<'a, FailedLogins> {
        Box::pin(async move { Ok(self.db.failed_logins(users).await?) })
    }

    fn kill_connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<Statement>> {
        Box::pin(async move { Ok(vec![self.db.plan_kill_user(user)]) })
    }

    fn drop_user<'a>(&'a self, user: &'a str, owner_role: &'a str) -> PortFuture<'a, Vec<Statement>> {
        Box::pin(async move { Ok(self.db.plan_retire(user, owner_role).await?) })
    }

    /// Why the drop does (or need not) reassign and drop what the user owns.
    fn drop_note(&self, old: &str, owner_role: &str, planned: &[Statement]) -> Option<String> {
        if planned.is_empty() {
            return None;
        }
        Some(
            if planned.iter().any(|s| s.preview().contains("REASSIGN OWNED BY")) {
                format!(
                    "-- {old} still owns objects or holds privileges of its own: REASSIGN OWNED hands them \
                 to {owner_role}, DROP OWNED removes the rest"
                )
            } else {
                format!(
                    "-- no REASSIGN OWNED or DROP OWNED needed: {old} owns nothing and holds no privileges \
                 of its own in any database; {owner_role} owns everything, and {old} only inherited it"
                )
            },
        )
    }

    fn database_incarnation(&self) -> PortFuture<'_, Option<String>> {
        Box::pin(async move {
            Ok(self
                .db
                .database_oid(&self.database)
                .await?
                .map(|oid| format!("oid {oid}")))
        })
    }

    fn execute<'a>(&'a self, statement: &'a Statement) -> PortFuture<'a, ()> {
        Box::pin(fault::after("write/db", async move {
            Ok(self.db.execute(std::slice::from_ref(statement)).await?)
        }))
    }

    /// The key is a 64-bit hash of the lock's name (every rotui computes the same).
    fn lock<'a>(&'a self, key: &'a str) -> PortFuture<'a, Option<DbLock>> {
        Box::pin(async move {
            // Every rotui computes the same key for the same name: a fixed hash.
            let id = fnv1a_64(key.as_bytes()) as i64;
            let Some(conn) = self.db.try_advisory_lock(id).await? else {
                return Ok(None);
            };
            Ok(Some(DbLock::new(key, move || {
                Box::pin(crate::db::postgres::release_advisory_lock(conn, id))
            })))
        })
    }
}
