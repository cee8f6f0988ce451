//! The read side: users, grants and objects with their definers.

use std::collections::BTreeMap;

use super::account::Account;
use super::grant_parse::parse_line;
use super::grants::{GrantLine, ParsedGrant};
use super::{MysqlDb, int, opt_text, split_definer, text};
use crate::db::DbError;
use crate::db::DbErrorKind;
use crate::db::DbResult;
use crate::model::{DbObject, FlavorKind, Grant, User};
use sqlx::AssertSqlSafe;

impl MysqlDb {
    /// Every account and role, with the runbook's columns on either flavor.
    /// (Authentication strings are never selected.)
    pub async fn users(&self) -> DbResult<Vec<User>> {
        // MariaDB keeps the lock flag only in mysql.global_priv's JSON;
        // MySQL 8 has the columns the runbook's query uses.
        let sql = match self.flavor.kind {
            FlavorKind::Mariadb => {
                "SELECT u.User, u.Host, u.plugin, u.password_expired, \
                 IF(JSON_VALUE(g.Priv, '$.account_locked') IN ('1', 'true'), 'Y', 'N'), \
                 u.Super_priv, u.Grant_priv, u.is_role \
                 FROM mysql.user u LEFT JOIN mysql.global_priv g ON g.User = u.User AND g.Host = u.Host \
                 ORDER BY u.User, u.Host"
            }
            _ => {
                "SELECT u.User, u.Host, u.plugin, u.password_expired, u.account_locked, \
                 u.Super_priv, u.Grant_priv, \
                 IF(EXISTS(SELECT 1 FROM mysql.role_edges e WHERE e.FROM_USER = u.User AND e.FROM_HOST = u.Host), 'Y', 'N') \
                 FROM mysql.user u ORDER BY u.User, u.Host"
            }
        };
        let rows = self.fetch_all(sqlx::query(sql)).await?;
        let mut memberships = self.role_memberships().await?;
        let yes = |s: String| s.eq_ignore_ascii_case("Y");
        Ok(rows
            .iter()
            .map(|r| {
                let is_role = yes(text(r, 7));
                let name = text(r, 0);
                let host = text(r, 1);
                let key = (name.clone(), host.clone());
                let locked = yes(text(r, 4));
                User {
                    host: if is_role && self.flavor.kind == FlavorKind::Mariadb {
                        None
                    } else {
                        Some(host)
                    },
                    can_login: !is_role && !locked,
                    superuser: yes(text(r, 5)),
                    auth_plugin: opt_text(r, 2).filter(|p| !p.is_empty()),
                    password_expired: yes(text(r, 3)),
                    account_locked: locked,
                    can_grant: yes(text(r, 6)),
                    attributes: Vec::new(),
                    member_of: memberships.remove(&key).unwrap_or_default(),
                    valid_until: None,
                    settings: Vec::new(),
                    is_role,
                    name,
                }
            })
            .collect())
    }

    /// Roles granted to each (user, host).
    async fn role_memberships(&self) -> DbResult<BTreeMap<(String, String), Vec<String>>> {
        let sql = match self.flavor.kind {
            FlavorKind::Mariadb => "SELECT User, Host, Role FROM mysql.roles_mapping ORDER BY Role",
            _ => {
                "SELECT TO_USER, TO_HOST, CONCAT(FROM_USER, '@', FROM_HOST) FROM mysql.role_edges \
                 ORDER BY FROM_USER"
            }
        };
        let mut out: BTreeMap<_, Vec<String>> = BTreeMap::new();
        for r in self.fetch_all(sqlx::query(sql)).await? {
            out.entry((text(&r, 0), text(&r, 1)))
                .or_default()
                .push(text(&r, 2));
        }
        Ok(out)
    }

    pub async fn user_exists(&self, account: &Account) -> DbResult<bool> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?")
                    .bind(&account.user)
                    .bind(account.host.as_deref().unwrap_or("")),
            )
            .await?;
        Ok(int(&row, 0) > 0)
    }

    /// `SHOW GRANTS FOR account`, structured, credentials stripped.
    pub async fn grants(&self, account: &Account) -> DbResult<Vec<Grant>> {
        Ok(self
            .parsed_grants(account)
            .await?
            .iter()
            .map(ParsedGrant::to_grant)
            .collect())
    }

    /// The parsed grant lines of an account, plus (MySQL 8) its default roles,
    /// which SHOW GRANTS leaves out.
    pub async fn parsed_grants(&self, account: &Account) -> DbResult<Vec<ParsedGrant>> {
        let rows = self
            .fetch_raw(format!("SHOW GRANTS FOR {}", account.sql()))
            .await
            .map_err(|e| match e.code.as_deref() {
                Some("1141") => DbError::new(
                    DbErrorKind::NotFound,
                    format!("there is no account {}", account.display()),
                ),
                _ => e,
            })?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let line = text(r, 0);
            out.push(parse_line(&line).map_err(|e| {
                DbError::new(DbErrorKind::Other, e.to_string())
                    .with_hint("rotui does not know this kind of grant; copy it by hand")
            })?);
        }
        if self.flavor.kind == FlavorKind::Mysql {
            let rows = self
                .fetch_all(
                    sqlx::query(
                        "SELECT DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST FROM mysql.default_roles \
                         WHERE USER = ? AND HOST = ? ORDER BY 1, 2",
                    )
                    .bind(&account.user)
                    .bind(account.host.as_deref().unwrap_or("")),
                )
                .await?;
            if !rows.is_empty() {
                let roles: Vec<Account> = rows
                    .iter()
                    .map(|r| Account::new(text(r, 0), text(r, 1)))
                    .collect();
                let line = GrantLine::DefaultRole {
                    roles,
                    grantee: account.clone(),
                };
                let raw = line.render_for(account, FlavorKind::Mysql).join("; ");
                out.push(ParsedGrant { line, raw });
            }
        }
        Ok(out)
    }

    /// Views, procedures, functions, triggers and events with their definers,
    /// in one database or (None) in all application databases.
    pub async fn objects(&self, database: Option<&str>) -> DbResult<Vec<DbObject>> {
        let filter = |col: &str| match database {
            Some(_) => format!("{col} = ?"),
            None => format!("{col} NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')"),
        };
        let sql = format!(
            "SELECT 'view', TABLE_SCHEMA, TABLE_NAME, DEFINER FROM information_schema.VIEWS WHERE {} \
             UNION ALL SELECT LOWER(ROUTINE_TYPE), ROUTINE_SCHEMA, ROUTINE_NAME, DEFINER \
               FROM information_schema.ROUTINES WHERE {} \
             UNION ALL SELECT 'trigger', TRIGGER_SCHEMA, TRIGGER_NAME, DEFINER \
               FROM information_schema.TRIGGERS WHERE {} \
             UNION ALL SELECT 'event', EVENT_SCHEMA, EVENT_NAME, DEFINER FROM information_schema.EVENTS WHERE {} \
             ORDER BY 2, 1, 3",
            filter("TABLE_SCHEMA"),
            filter("ROUTINE_SCHEMA"),
            filter("TRIGGER_SCHEMA"),
            filter("EVENT_SCHEMA"),
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(db) = database {
            query = query.bind(db).bind(db).bind(db).bind(db);
        }
        let rows = self.fetch_all(query).await?;
        Ok(rows
            .iter()
            .map(|r| DbObject {
                kind: text(r, 0),
                schema: opt_text(r, 1),
                name: text(r, 2),
                owner: text(r, 3),
            })
            .collect())
    }

    /// The objects whose definer is `account`, in one or all databases.
    pub async fn objects_defined_by(
        &self,
        account: &Account,
        database: Option<&str>,
    ) -> DbResult<Vec<DbObject>> {
        Ok(self
            .objects(database)
            .await?
            .into_iter()
            .filter(|o| &split_definer(&o.owner) == account)
            .collect())
    }
}
