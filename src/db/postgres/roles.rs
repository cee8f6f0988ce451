//! Facts about roles and databases that plans are computed from.

use super::PgDb;
use crate::db::error::{DbError, DbErrorKind, DbResult};
use crate::db::ident::pg_ident;

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
}
