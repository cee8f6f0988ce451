//! The new login user: created with its password, a member of the owner
//! role, acting as the owner role so what it creates belongs to that role;
//! and the runbook's check that it inherits.

use super::PgDb;
use crate::db::Statement;
use crate::db::error::{DbError, DbResult};
use crate::db::ident::{pg_ident, pg_str};
use crate::secret::{self, ExposeSecret, SecretString};

/// The longest role name PostgreSQL keeps (NAMEDATALEN - 1 bytes); longer
/// names are truncated silently.
pub const MAX_ROLE_NAME_BYTES: usize = 63;

/// The runbook's "verify role inheritance" check for a login user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inheritance {
    pub user: String,
    pub owner_role: String,
    /// Roles the user is a direct member of (the runbook's pg_auth_members query).
    pub member_of: Vec<String>,
    /// The user has the owner role's privileges without `SET ROLE`
    /// (`pg_has_role(…, 'USAGE')`: right for PostgreSQL 15's per-role
    /// INHERIT and 16's per-grant inheritance alike).
    pub inherits: bool,
    /// `ALTER ROLE … SET role = …`: the role new sessions act as.
    pub session_role: Option<String>,
}

impl Inheritance {
    /// The user is in the owner role, acts with its rights, and what it
    /// creates belongs to the owner role.
    pub fn is_complete(&self) -> bool {
        self.inherits
            && self.member_of.contains(&self.owner_role)
            && self.session_role.as_deref() == Some(self.owner_role.as_str())
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
        // PostgreSQL would silently truncate a longer name (a NOTICE only),
        // and the app's secret would then name a user that does not exist.
        for name in [new_user, owner_role] {
            if name.len() > MAX_ROLE_NAME_BYTES {
                return Err(DbError::refused(format!(
                    "the role name {} is {} bytes long; PostgreSQL keeps only {MAX_ROLE_NAME_BYTES}",
                    pg_ident(name),
                    name.len()
                ))
                .with_hint("choose a shorter name (rotui shortens generated names to fit)"));
            }
        }
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
        let o = pg_ident(owner_role);
        let inh = self.verify_inheritance(new_user, owner_role).await?;
        let member = inh.member_of.iter().any(|r| r == owner_role);
        if self.inherit_per_grant() {
            // Inheritance is per grant: ask for it explicitly.
            if !member || !inh.inherits {
                plan.push(Statement::new(format!("GRANT {o} TO {n} WITH INHERIT TRUE")));
            }
        } else {
            if user.exists && !user.inherit {
                plan.push(Statement::new(format!("ALTER ROLE {n} INHERIT")));
            }
            if !member {
                plan.push(Statement::new(format!("GRANT {o} TO {n}")));
            }
        }
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
    /// whether it has `owner_role`'s privileges and which role its sessions
    /// act as.
    pub async fn verify_inheritance(&self, user: &str, owner_role: &str) -> DbResult<Inheritance> {
        let (inherits, member_of, session_role): (bool, Vec<String>, Option<String>) = self
            .timed(
                sqlx::query_as(
                    "SELECT COALESCE((SELECT pg_has_role(u.oid, o.oid, 'USAGE') FROM pg_roles u, pg_roles o
                                      WHERE u.rolname = $1 AND o.rolname = $2), false),
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
                .bind(owner_role)
                .fetch_one(&self.pool),
            )
            .await?;
        Ok(Inheritance {
            user: user.to_owned(),
            owner_role: owner_role.to_owned(),
            member_of,
            inherits,
            session_role,
        })
    }
}
