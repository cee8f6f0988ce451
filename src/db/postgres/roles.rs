//! Facts about roles and databases that plans are computed from.

use sqlx::AssertSqlSafe;

use super::PgDb;
use crate::db::Statement;
use crate::db::error::{DbError, DbErrorKind, DbResult};
use crate::db::ident::pg_ident;

/// Facts about a role that plans depend on.
#[derive(Debug)]
pub(super) struct RoleFacts {
    pub exists: bool,
    pub can_login: bool,
    /// `INHERIT` (PostgreSQL 15 and older: inheritance is per role).
    pub inherit: bool,
    /// The admin (current_user) has this role's privileges.
    pub admin_has_privs: bool,
    /// The admin may grant this role (to itself, to the owner role): on
    /// PostgreSQL 16+ only with ADMIN OPTION on it (which a CREATEROLE role
    /// gets on the roles it creates); on 15 CREATEROLE is enough for any
    /// non-superuser role.
    pub admin_can_grant: bool,
}
from_pg_row!(RoleFacts {
    exists,
    can_login,
    inherit,
    admin_has_privs,
    admin_can_grant
});

/// The SQL for [`RoleFacts::admin_can_grant`] of the role `r`.
pub(super) const ADMIN_CAN_GRANT: &str =
    "COALESCE(pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION'), false)
    OR (current_setting('server_version_num')::int < 160000 AND NOT COALESCE(r.rolsuper, false)
        AND (SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user))";

impl PgDb {
    pub(super) async fn role_facts(&self, role: &str) -> DbResult<RoleFacts> {
        self.timed(
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT r.oid IS NOT NULL AS exists, COALESCE(r.rolcanlogin, false) AS can_login,
                        COALESCE(r.rolinherit, false) AS inherit,
                        COALESCE(pg_has_role(current_user, r.oid, 'USAGE'), false) AS admin_has_privs,
                        COALESCE({ADMIN_CAN_GRANT}, false) AS admin_can_grant
                 FROM (SELECT 1) one LEFT JOIN pg_roles r ON r.rolname = $1"
            )))
            .bind(role)
            .fetch_one(&self.pool),
        )
        .await
    }

    /// Whether `member` is a direct member of `role`.
    pub(super) async fn is_member(&self, member: &str, role: &str) -> DbResult<bool> {
        self.timed(
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_auth_members m
                   JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                   WHERE r.rolname = $1 AND u.rolname = $2)",
            )
            .bind(role)
            .bind(member)
            .fetch_one(&self.pool),
        )
        .await
    }

    pub(super) async fn database_owner(&self, database: &str) -> DbResult<String> {
        let owner: Option<String> = self
            .timed(
                sqlx::query_scalar(
                    "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
                )
                .bind(database)
                .fetch_optional(&self.pool),
            )
            .await?;
        owner.ok_or_else(|| {
            DbError::new(
                DbErrorKind::NotFound,
                format!("database {} does not exist", pg_ident(database)),
            )
            .with_hint("check the database name (it is in the app's DATABASE_URL template)")
        })
    }

    /// `GRANT role TO admin`, refused up front (before any statement runs)
    /// when the admin may not grant `role`: on 16+ that needs ADMIN OPTION,
    /// which the admin lacks on roles someone else created.
    pub(super) fn join_role(&self, role: &str, facts: &RoleFacts, why: &str) -> DbResult<Statement> {
        if !facts.admin_can_grant {
            return Err(refuse_join(role, &self.user, why));
        }
        Ok(Statement::new(format!(
            "GRANT {} TO {}",
            pg_ident(role),
            pg_ident(&self.user)
        )))
    }

    /// `GRANT owner TO admin` for the owners of objects on which `role`
    /// holds privileges in `databases` (skipping `except`): granting those
    /// privileges on, or revoking them (DROP OWNED), needs the owner's
    /// rights, and without them PostgreSQL only warns and does nothing.
    /// Refused when an owner is a superuser, which an RDS admin can never
    /// act for; `what` says what could not be done.
    pub(super) async fn join_privilege_owners(
        &self,
        databases: &[String],
        role: &str,
        except: &str,
        what: &str,
    ) -> DbResult<Vec<Statement>> {
        let mut joined: Vec<String> = Vec::new();
        for db in databases {
            for owner in self.foreign_acl_owners(db, role).await? {
                if owner.name == except || joined.contains(&owner.name) {
                    continue;
                }
                if !owner.superuser && !owner.admin_can_grant {
                    return Err(refuse_join(&owner.name, &self.user, what));
                }
                if owner.superuser {
                    return Err(DbError::refused(format!(
                        "{} holds privileges on objects owned by the superuser {} in {}, which the admin cannot {what}",
                        pg_ident(role),
                        pg_ident(&owner.name),
                        pg_ident(db)
                    ))
                    .with_hint(
                        "revoke them from it if unused, or have a superuser act on them (REVOKE or DROP OWNED)",
                    ));
                }
                joined.push(owner.name);
            }
        }
        let me = pg_ident(&self.user);
        Ok(joined
            .iter()
            .map(|o| Statement::new(format!("GRANT {} TO {me}", pg_ident(o))))
            .collect())
    }
}

/// The admin cannot act for `role` (PostgreSQL 16+ without ADMIN OPTION).
fn refuse_join(role: &str, admin: &str, why: &str) -> DbError {
    DbError::refused(format!(
        "{admin} needs {role}'s privileges to {why}, but may not grant itself {role}: \
         on PostgreSQL 16+ that takes ADMIN OPTION on the role, which a CREATEROLE admin has only on roles it created",
        admin = pg_ident(admin),
        role = pg_ident(role),
    ))
    .with_hint(format!(
        "have the role's creator (or a superuser) run GRANT {} TO {} WITH ADMIN OPTION, then retry",
        pg_ident(role),
        pg_ident(admin)
    ))
}
