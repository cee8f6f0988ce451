//! Retiring the old login user: the runbook's final REASSIGN OWNED / DROP
//! OWNED (in every database where it has anything: both act on the current
//! database only) and DROP USER.
//!
//! `DROP ROLE` succeeds while the role is connected, and its sessions then
//! live on with no user name, which only `pg_signal_backend` can end. So
//! rotui refuses while the old user has sessions, unless forced, in which case
//! it ends them first; and the plan starts with NOLOGIN so no new session
//! sneaks in between the check and the drop.

use super::PgDb;
use crate::db::Statement;
use crate::db::error::{DbError, DbResult};
use crate::db::ident::pg_ident;

/// What [`PgDb::retire`] did.
#[derive(Debug, Clone)]
pub struct Retired {
    /// Sessions ended first (when forced).
    pub killed: Vec<i64>,
    /// Statements run, in order.
    pub statements: Vec<Statement>,
}

impl PgDb {
    /// The statements that remove `old` for good, handing anything it still
    /// owns to `owner_role`. Empty when `old` no longer exists.
    pub async fn plan_retire(&self, old: &str, owner_role: &str) -> DbResult<Vec<Statement>> {
        if old == self.user {
            return Err(DbError::refused(format!(
                "{} is the user rotui is logged in as",
                pg_ident(old)
            )));
        }
        if old == owner_role {
            return Err(DbError::refused(
                "the old user is the owner role itself: nothing would own its objects",
            ));
        }
        let user = self.role_facts(old).await?;
        if !user.exists {
            return Ok(Vec::new());
        }
        let owner = self.role_facts(owner_role).await?;
        if !owner.exists {
            return Err(
                DbError::refused(format!("the owner role {} does not exist", pg_ident(owner_role)))
                    .with_hint("convert the database to owner roles first"),
            );
        }
        let o = pg_ident(owner_role);
        let u = pg_ident(old);
        let me = pg_ident(&self.user);
        let mut plan = Vec::new();
        if user.can_login {
            plan.push(Statement::new(format!("ALTER ROLE {u} NOLOGIN")));
        }
        let depends_in: Vec<String> = self
            .depends_in(old, false)
            .await?
            .into_iter()
            .map(|d| d.database)
            .collect();

        if !depends_in.is_empty() {
            // REASSIGN/DROP OWNED need the privileges of both roles, and
            // DROP OWNED revokes the old user's privileges on others'
            // objects, which needs their owners'.
            if !user.admin_has_privs {
                plan.push(self.join_role(old, &user, "reassign and drop what it owns")?);
            }
            if !owner.admin_has_privs {
                plan.push(Statement::new(format!("GRANT {o} TO {me}")));
            }
            plan.extend(
                self.join_privilege_owners(&depends_in, old, owner_role, "revoke")
                    .await?,
            );
        }
        // DROP OWNED revokes every privilege the old user holds: each must
        // already be the owner role's, or the new login loses it with it.
        let uncopied = self.uncopied_privileges(&depends_in, old, owner_role).await?;
        if !uncopied.is_empty() {
            return Err(DbError::refused(format!(
                "{} holds {} privilege(s) the owner role {} lacks, which DROP OWNED would remove: {}",
                pg_ident(old),
                uncopied.len(),
                pg_ident(owner_role),
                short(&uncopied)
            ))
            .with_hint("run the owner-role conversion again (it copies them), then retry"));
        }
        for db in depends_in {
            plan.push(Statement::new(format!("REASSIGN OWNED BY {u} TO {o}")).in_database(&db));
            plan.push(Statement::new(format!("DROP OWNED BY {u}")).in_database(db));
        }
        plan.push(Statement::new(format!("DROP USER {u}")));
        Ok(plan)
    }

    /// Retire `old`: refused (DbErrorKind::Refused) while it has sessions,
    /// unless `force`, which ends them first.
    pub async fn retire(&self, old: &str, owner_role: &str, force: bool) -> DbResult<Retired> {
        let plan = self.plan_retire(old, owner_role).await?;
        if plan.is_empty() {
            return Ok(Retired {
                killed: Vec::new(),
                statements: plan,
            });
        }
        let mut killed = Vec::new();
        let pids = self.pids_of(old).await?;
        if !pids.is_empty() {
            if !force {
                return Err(refuse_connected(old, &pids));
            }
            killed = self.kill_user(old).await?;
            let left = self.pids_of(old).await?;
            if !left.is_empty() {
                return Err(refuse_connected(old, &left));
            }
        }
        self.execute(&plan).await?;
        Ok(Retired {
            killed,
            statements: plan,
        })
    }
}

fn refuse_connected(old: &str, pids: &[i64]) -> DbError {
    let list: Vec<String> = pids.iter().take(10).map(i64::to_string).collect();
    DbError::refused(format!(
        "{} still has {} connection(s) (pids {}{})",
        pg_ident(old),
        pids.len(),
        list.join(", "),
        if pids.len() > 10 { ", …" } else { "" }
    ))
    .with_hint("wait for the app to drain them, or kill them (or force), then retry")
}

/// The first few items of a list, then how many more.
fn short(items: &[String]) -> String {
    let mut s = items.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
    if items.len() > 5 {
        s.push_str(&format!("; and {} more", items.len() - 5));
    }
    s
}
