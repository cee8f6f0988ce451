//! Creating, cloning and dropping accounts.

use std::collections::BTreeSet;

use super::account::Account;
use super::verify::GrantDiff;
use super::{MysqlDb, WritePlan};
use crate::db::DbResult;
use crate::db::Statement;
use crate::db::ident::mysql_str;
use crate::secret::{self, ExposeSecret, SecretString};

impl MysqlDb {
    /// `CREATE USER account IDENTIFIED BY password`, unless it exists (then
    /// the plan is empty and says so: the password is not changed).
    pub async fn create_user_plan(&self, account: &Account, password: &SecretString) -> DbResult<WritePlan> {
        secret::register(password.expose_secret());
        let mut plan = WritePlan::default();
        if self.user_exists(account).await? {
            plan.notes.push(format!("{} exists already", account.display()));
        } else {
            plan.statements.push(Statement::with_password(
                format!(
                    "CREATE USER {} IDENTIFIED BY {}",
                    account.sql(),
                    Statement::PASSWORD
                ),
                password.clone(),
                mysql_str,
            ));
        }
        Ok(plan)
    }

    /// The statements that give `to` exactly what `from` has: every grant
    /// line (global, database, table, column, routine, PROXY, roles, default
    /// role, grant/admin options, TLS and resource limits), never its
    /// credentials. Lines whose grants `to` already holds are left out, so a
    /// second run plans nothing. `to` need not exist yet (its CREATE USER
    /// comes first in a rotation).
    pub async fn clone_grants_plan(&self, from: &Account, to: &Account) -> DbResult<WritePlan> {
        let old = self.parsed_grants(from).await?;
        let have: BTreeSet<String> = if self.user_exists(to).await? {
            self.parsed_grants(to)
                .await?
                .iter()
                .flat_map(|g| g.line.atoms())
                .collect()
        } else {
            BTreeSet::new()
        };
        let mut plan = WritePlan::default();
        for g in &old {
            let atoms = g.line.atoms();
            if atoms.is_subset(&have) {
                continue;
            }
            // A default role must be granted before it is made default:
            // SHOW GRANTS lists role lines first, and order is kept.
            for sql in g.line.render_for(to, self.flavor.kind) {
                plan.statements.push(Statement::new(sql));
            }
        }
        // No more than `from` has either: what `to` holds beyond it is
        // revoked (privileges, grant options, roles, PROXY), so the clone is
        // equivalent and verification, which asks for this plan, sees extras.
        let want: BTreeSet<String> = old.iter().flat_map(|g| g.line.atoms()).collect();
        for extra in have.difference(&want) {
            if let Some(sql) = super::verify::revoke_atom(extra, to) {
                plan.statements.push(Statement::new(sql));
            }
        }
        // MySQL's account options (REQUIRE, limits, password policy, lock
        // policy, ATTRIBUTE/COMMENT), MariaDB's password expiry: one ALTER
        // USER when they differ.
        if let Some(want) = self.account_options(from).await? {
            // (A user still to be created will have the defaults.)
            let have = self
                .account_options(to)
                .await?
                .unwrap_or_else(|| super::options::MysqlAccountOptions::fresh(self.flavor.kind));
            if have.atoms() != want.atoms() {
                plan.statements.push(Statement::new(want.alter_for(to)));
            }
        }
        if plan.is_empty() {
            plan.notes.push(format!(
                "{} already has every grant of {}",
                to.display(),
                from.display()
            ));
        }
        Ok(plan)
    }

    /// How `new`'s grants and account options differ from `old`'s; empty
    /// means equivalent (no less and no more).
    pub async fn verify_grants_equivalent(&self, old: &Account, new: &Account) -> DbResult<GrantDiff> {
        let old_grants = self.parsed_grants(old).await?;
        let new_grants = self.parsed_grants(new).await?;
        let mut diff = GrantDiff::between(&old_grants, &new_grants);
        let atoms = |o: Option<super::options::MysqlAccountOptions>| -> BTreeSet<String> {
            o.map(|o| o.atoms().into_iter().collect()).unwrap_or_default()
        };
        let a = atoms(self.account_options(old).await?);
        let b = atoms(self.account_options(new).await?);
        diff.missing.extend(a.difference(&b).cloned());
        diff.extra.extend(b.difference(&a).cloned());
        Ok(diff)
    }

    /// `DROP USER account`, refused while the account has connections or
    /// still defines views, routines, triggers or events (MariaDB would drop
    /// it and leave them failing with error 1449), unless `force`.
    /// Connections are counted by user name: PROCESSLIST does not say which
    /// host entry a session logged in through.
    pub async fn drop_user_plan(&self, account: &Account, force: bool) -> DbResult<WritePlan> {
        let mut plan = WritePlan::default();
        if !self.user_exists(account).await? {
            plan.notes
                .push(format!("{} does not exist (any more)", account.display()));
            return Ok(plan);
        }
        if account == &self.me {
            return Err(crate::db::DbError::refused(format!(
                "{} is the admin account rotui is connected as",
                account.display()
            )));
        }
        let connections = self.connection_count(&account.user).await?;
        let defined = self.objects_defined_by(account, None).await?;
        if !force {
            if connections > 0 {
                return Err(crate::db::DbError::refused(format!(
                    "{} still has {connections} connection(s)",
                    account.display()
                ))
                .with_hint("wait for the app to move to the new user, or kill the connections first"));
            }
            if !defined.is_empty() {
                let names: Vec<String> = defined
                    .iter()
                    .map(|o| format!("{} {}.{}", o.kind, o.schema.as_deref().unwrap_or("?"), o.name))
                    .collect();
                return Err(crate::db::DbError::refused(format!(
                    "{} still defines {}",
                    account.display(),
                    names.join(", ")
                ))
                .with_hint("migrate the definers to the admin first"));
            }
        } else {
            if connections > 0 {
                plan.notes.push(format!(
                    "forced: {connections} connection(s) keep running with cached privileges"
                ));
            }
            if !defined.is_empty() {
                plan.notes.push(format!(
                    "forced: {} object(s) will fail with error 1449 (missing definer)",
                    defined.len()
                ));
            }
        }
        plan.statements
            .push(Statement::new(format!("DROP USER {}", account.sql())));
        Ok(plan)
    }
}
