//! Facts about roles and databases that plans are computed from.

use super::PgDb;
use crate::db::error::{DbError, DbErrorKind, DbResult};
use crate::db::ident::pg_ident;
use crate::db::model::Statement;

/// Facts about a role that plans depend on.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct RoleFacts {
    pub exists: bool,
    pub can_login: bool,
    /// The admin (current_user) has this role's privileges.
    pub admin_has_privs: bool,
}

impl PgDb {
    pub(super) async fn role_facts(&self, role: &str) -> DbResult<RoleFacts> {
        self.timed(
            sqlx::query_as(
                "SELECT r.oid IS NOT NULL AS exists, COALESCE(r.rolcanlogin, false) AS can_login,
                        COALESCE(pg_has_role(current_user, r.oid, 'USAGE'), false) AS admin_has_privs
                 FROM (SELECT 1) one LEFT JOIN pg_roles r ON r.rolname = $1",
            )
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
