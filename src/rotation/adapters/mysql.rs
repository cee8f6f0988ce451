//! [`DbPort`] on `crate::db::mysql`. MySQL accounts are `user@host`; the
//! engine speaks user names, so this finds each user's host (preferring `%`)
//! and gives a new user the host of the user it replaces.

use crate::db::DbResult;
use crate::db::Statement;
use crate::db::mysql::{Account, MysqlDb, test_login_secured};
use crate::fault;
use crate::model::{DbObject, Grant, User};
use crate::rotation::ports::{DbLock, DbPort, FailedLogins, PortError, PortErrorKind, PortFuture, System};
use crate::secret::SecretString;

/// The admin connection to one environment's MySQL-family server.
#[derive(Clone)]
pub struct MysqlPort {
    db: MysqlDb,
    host: String,
    port: u16,
    database: String,
}

impl MysqlPort {
    /// `host`/`port` are where test logins go (as the app connects);
    /// `database` is the app's database.
    pub fn new(db: MysqlDb, host: impl Into<String>, port: u16, database: impl Into<String>) -> Self {
        MysqlPort {
            db,
            host: host.into(),
            port,
            database: database.into(),
        }
    }

    async fn find(&self, name: &str) -> DbResult<Option<User>> {
        let mut found: Vec<User> = self
            .db
            .users()
            .await?
            .into_iter()
            .filter(|u| u.name == name && !u.is_role)
            .collect();
        found.sort_by_key(|u| u.host.as_deref() != Some("%"));
        Ok(found.into_iter().next())
    }

    async fn account(&self, name: &str) -> DbResult<Option<Account>> {
        Ok(self
            .find(name)
            .await?
            .map(|u| Account::new(name, u.host.as_deref().unwrap_or("%"))))
    }

    /// `name`'s account, or `name@%` when it does not exist (yet).
    async fn account_or_default(&self, name: &str) -> DbResult<Account> {
        Ok(self
            .account(name)
            .await?
            .unwrap_or_else(|| Account::new(name, "%")))
    }
}

impl DbPort for MysqlPort {
    fn user<'a>(&'a self, name: &'a str) -> PortFuture<'a, Option<User>> {
        Box::pin(async move { Ok(self.find(name).await?) })
    }

    fn grants<'a>(&'a self, name: &'a str) -> PortFuture<'a, Vec<Grant>> {
        Box::pin(async move {
            Ok(match self.account(name).await? {
                Some(a) => self.db.grants(&a).await?,
                None => vec![],
            })
        })
    }

    fn clone_grants<'a>(&'a self, from: &'a str, to: &'a str) -> PortFuture<'a, Vec<Statement>> {
        Box::pin(async move {
            let Some(from) = self.account(from).await? else {
                return Ok(vec![]);
            };
            let to = Account::new(to, from.host.as_deref().unwrap_or("%"));
            Ok(self.db.clone_grants_plan(&from, &to).await?.statements)
        })
    }

    fn create_user<'a>(
        &'a self,
        name: &'a str,
        password: &'a SecretString,
        like: &'a str,
        _owner_role: &'a str,
    ) -> PortFuture<'a, Vec<Statement>> {
        Box::pin(async move {
            let host = self
                .account_or_default(like)
                .await?
                .host
                .unwrap_or_else(|| "%".into());
            let account = Account::new(name, host);
            Ok(self.db.create_user_plan(&account, password).await?.statements)
        })
    }

    /// Yes: MySQL has no owner role to inherit from.
    fn copies_grants(&self) -> bool {
        true
    }

    fn objects_verb(&self) -> &'static str {
        "defines"
    }

    /// What the user defines: its definer must exist for them to run.
    fn objects_lost_on_drop<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<DbObject>> {
        self.objects_of(user)
    }

    fn rollback_note(&self, old: &str, _owner_role: &str) -> String {
        format!(
            "-- no database undo needed: {old}'s grants were never changed, and the objects it defined \
             now have the admin as definer, which works for every caller"
        )
    }

    /// With those dropped to be re-created and missing now (a rotui died
    /// in between): they are still to move, from the copy on the server.
    fn objects_of<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<DbObject>> {
        Box::pin(async move {
            let Some(a) = self.account(user).await? else {
                return Ok(vec![]);
            };
            let mut objects = self.db.objects_defined_by(&a, None).await?;
            objects.extend(self.db.kept_missing(&a).await?.into_iter().map(|k| DbObject {
                kind: k.kind.to_ascii_lowercase(),
                schema: Some(k.db),
                name: k.name,
                owner: k.definer,
            }));
            Ok(objects)
        })
    }

    /// MySQL objects move to the admin rotui is connected as, whatever `to` says.
    fn move_objects<'a>(&'a self, from: &'a str, _to: &'a str) -> PortFuture<'a, Vec<Statement>> {
        Box::pin(async move {
            let Some(a) = self.account(from).await? else {
                return Ok(vec![]);
            };
            // First what a rotui that died mid-move left dropped.
            let mut statements = vec![];
            for kept in self.db.kept_missing(&a).await? {
                statements.push(self.db.restore_kept(&kept)?);
            }
            // The notes (backups, re-granted routine privileges) travel
            // with the statements, so previews and the journal show them.
            statements.extend(self.db.definer_plan(&a, None).await?.statements_with_notes());
            Ok(statements)
        })
    }

    fn test_login<'a>(&'a self, user: &'a str, password: &'a SecretString) -> PortFuture<'a, ()> {
        // Secured as the admin connection is: verify-full with a bundle.
        Box::pin(async move {
            let tls = self.db.tls();
            Ok(test_login_secured(&self.host, self.port, user, password, Some(&self.database), tls).await?)
        })
    }

    fn connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, i64> {
        Box::pin(async move { Ok(self.db.connection_count(user).await?) })
    }

    fn connection_clients<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<String>> {
        Box::pin(async move { Ok(self.db.connections(true).await?.clients_of(user)) })
    }

    fn failed_logins<'a>(&'a self, users: &'a [String]) -> PortFuture<'a, FailedLogins> {
        Box::pin(async move { Ok(self.db.failed_logins(users).await?) })
    }

    fn kill_connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<Statement>> {
        Box::pin(async move { Ok(self.db.kill_user_plan(user).await?.statements) })
    }

    /// The engine has checked connections, definers and the secret before
    /// asking, so the database layer's own guard is told so (`force`).
    fn drop_user<'a>(&'a self, user: &'a str, _owner_role: &'a str) -> PortFuture<'a, Vec<Statement>> {
        Box::pin(async move {
            Ok(match self.account(user).await? {
                Some(a) => self.db.drop_user_plan(&a, true).await?.statements,
                None => vec![],
            })
        })
    }

    /// MySQL keeps no identity of a database's incarnation, and no plan
    /// waits for a MySQL restore: asking is a mistake, said so.
    fn database_incarnation(&self) -> PortFuture<'_, Option<String>> {
        Box::pin(async move {
            Err(PortError::new(
                System::Database,
                PortErrorKind::Invalid,
                format!(
                    "MySQL has no identity for each incarnation of {}: restores are watched on PostgreSQL only",
                    self.database
                ),
            ))
        })
    }

    fn execute<'a>(&'a self, statement: &'a Statement) -> PortFuture<'a, ()> {
        Box::pin(fault::after("write/db", async move {
            Ok(self.db.execute(std::slice::from_ref(statement)).await?)
        }))
    }

    fn lock<'a>(&'a self, key: &'a str) -> PortFuture<'a, Option<DbLock>> {
        Box::pin(async move {
            let Some(conn) = self.db.try_advisory_lock(key).await? else {
                return Ok(None);
            };
            let name = key.to_owned();
            Ok(Some(DbLock::new(key, move || {
                Box::pin(async move { crate::db::mysql::release_advisory_lock(conn, &name).await })
            })))
        })
    }
}
