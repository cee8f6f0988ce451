//! The new login user: created with its password, a member of the owner
//! role, acting as the owner role so what it creates belongs to that role;
//! and the runbook's check that it inherits.

use super::PgDb;
use crate::db::error::{DbError, DbResult};
use crate::db::ident::{pg_ident, pg_str};
use crate::db::model::Statement;
use crate::secret::{self, ExposeSecret, SecretString};

/// The runbook's "verify role inheritance" check for a login user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inheritance {
    pub user: String,
    /// Roles the user is a direct member of (the runbook's pg_auth_members query).
    pub member_of: Vec<String>,
    /// The user inherits its roles' privileges (`INHERIT`, the default).
    pub inherits: bool,
    /// `ALTER ROLE … SET role = …`: the role new sessions act as.
    pub session_role: Option<String>,
}

impl Inheritance {
    /// The user acts with the owner role's rights and its new objects belong
    /// to the owner role.
    pub fn is_complete(&self, owner_role: &str) -> bool {
        self.inherits
            && self.member_of.iter().any(|r| r == owner_role)
            && self.session_role.as_deref() == Some(owner_role)
    }
}

impl PgDb {
    /// Create the dated login user with `password` (if it does not exist
    /// yet: an existing user is reused, not an error), make it a member of
    /// the owner role, and make its sessions act as the owner role so the
    /// objects it creates belong to the owner role.
    pub async fn plan_create_login(
        &self,
        new_user: &str,
        password: &SecretString,
        owner_role: &str,
    ) -> DbResult<Vec<Statement>> {
        secret::register(password.expose_secret());
        let role = self.role_facts(owner_role).await?;
        if !role.exists {
            return Err(
                DbError::refused(format!("the owner role {} does not exist", pg_ident(owner_role)))
                    .with_hint("convert the database to owner roles first"),
            );
        }
        let user = self.role_facts(new_user).await?;
        let n = pg_ident(new_user);
        let mut plan = Vec::new();
        if !user.exists {
            plan.push(Statement::with_password(
                format!("CREATE USER {n} WITH PASSWORD {}", Statement::PASSWORD),
                password.clone(),
                pg_str,
            ));
        } else if !user.can_login {
            plan.push(Statement::new(format!("ALTER ROLE {n} LOGIN")));
        }
        if !user.exists || !self.is_member(new_user, owner_role).await? {
            plan.push(Statement::new(format!("GRANT {} TO {n}", pg_ident(owner_role))));
        }
        let inh = self.verify_inheritance(new_user).await?;
        if inh.session_role.as_deref() != Some(owner_role) {
            plan.push(Statement::new(format!(
                "ALTER ROLE {n} SET role = {}",
                pg_str(owner_role)
            )));
        }
        Ok(plan)
    }

    /// `ALTER ROLE … PASSWORD`, e.g. to resume a rotation whose user was
    /// created but whose password was never confirmed.
    pub fn plan_set_password(&self, user: &str, password: &SecretString) -> Statement {
        secret::register(password.expose_secret());
        Statement::with_password(
            format!(
                "ALTER ROLE {} WITH PASSWORD {}",
                pg_ident(user),
                Statement::PASSWORD
            ),
            password.clone(),
            pg_str,
        )
    }

    /// What the runbook's pg_auth_members query shows for `user`, plus
    /// whether it inherits and which role its sessions act as.
    pub async fn verify_inheritance(&self, user: &str) -> DbResult<Inheritance> {
        let (inherits, member_of, session_role): (Option<bool>, Vec<String>, Option<String>) = self
            .timed(
                sqlx::query_as(
                    "SELECT (SELECT rolinherit FROM pg_roles WHERE rolname = $1),
                            ARRAY(SELECT m.rolname::text FROM pg_roles r
                                  JOIN pg_auth_members am ON r.oid = am.member
                                  JOIN pg_roles m ON am.roleid = m.oid
                                  WHERE r.rolname = $1 ORDER BY 1),
                            (SELECT substr(c, 6) FROM pg_db_role_setting s
                             CROSS JOIN LATERAL unnest(s.setconfig) c
                             WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)
                               AND s.setdatabase = 0 AND c LIKE 'role=%')",
                )
                .bind(user)
                .fetch_one(&self.pool),
            )
            .await?;
        Ok(Inheritance {
            user: user.to_owned(),
            member_of,
            inherits: inherits.unwrap_or(false),
            session_role,
        })
    }
}
