//! MySQL 8.0+/9.x account options, which `SHOW GRANTS` never prints:
//! REQUIRE (SSL/X509/ISSUER/SUBJECT/CIPHER), resource limits, the password
//! expiry / history / reuse / require-current policy,
//! FAILED_LOGIN_ATTEMPTS / PASSWORD_LOCK_TIME, ATTRIBUTE / COMMENT and the
//! authentication plugin. Read from `mysql.user` column by column (never
//! `authentication_string`, and from `User_attributes` only the lock policy
//! and the metadata: it can also hold a retained second password's hash).
//! (Default roles come through SHOW GRANTS' `SET DEFAULT ROLE` lines. MariaDB
//! prints its REQUIRE and limits on grant lines: see `grants.rs`; of the
//! rest it has only the password expiry, read and cloned here.)

use std::collections::BTreeMap;

use serde::Serialize;

use super::account::Account;
use super::{MysqlDb, text};
use crate::db::DbResult;
use crate::db::ident::mysql_str;
use crate::model::FlavorKind;

/// Account options that MariaDB prints on grant lines (MySQL 8 never does):
/// TLS requirements and resource limits. Not credentials, so they are cloned,
/// through `ALTER USER`, which both flavors accept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct AccountOptions {
    /// The text after `REQUIRE`, e.g. `SSL`; `None` or `NONE` = nothing required.
    pub require: Option<String>,
    /// `MAX_USER_CONNECTIONS 10` and the like.
    pub limits: Vec<(String, String)>,
}

impl AccountOptions {
    pub(crate) fn is_empty(&self) -> bool {
        self.require
            .as_deref()
            .is_none_or(|r| r.eq_ignore_ascii_case("NONE"))
            && self.limits.iter().all(|(_, v)| v == "0")
    }
}

/// A MySQL account's options, normalised for comparison and cloning. On
/// MariaDB only `expire` is read, compared and cloned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlAccountOptions {
    /// Which server's options these are: what its ALTER USER accepts.
    pub flavor: FlavorKind,
    /// The REQUIRE clause's text (`NONE`, `SSL`, `X509`, `ISSUER '…' SUBJECT '…' CIPHER '…'`).
    pub require: String,
    /// `MAX_QUERIES_PER_HOUR` and the three others, with their values.
    pub limits: BTreeMap<&'static str, u64>,
    /// `PASSWORD EXPIRE …`: `DEFAULT`, `NEVER` or `INTERVAL n DAY`.
    pub expire: String,
    /// `PASSWORD HISTORY …`, `PASSWORD REUSE INTERVAL …`: `DEFAULT` or `n` (`n DAY`).
    pub history: String,
    pub reuse_interval: String,
    /// `PASSWORD REQUIRE CURRENT …`: `DEFAULT`, `` (required) or `OPTIONAL`.
    pub require_current: String,
    pub failed_login_attempts: u64,
    /// `n` days or `UNBOUNDED`.
    pub password_lock_time: String,
    /// ATTRIBUTE / COMMENT (`{"comment": …}`), as canonical JSON text, or empty.
    pub metadata: String,
    /// The authentication plugin.
    pub plugin: String,
}

impl MysqlAccountOptions {
    /// What `CREATE USER … IDENTIFIED BY …` gives a new account on MySQL
    /// 8.4/9.x or MariaDB.
    pub fn fresh(flavor: FlavorKind) -> Self {
        MysqlAccountOptions {
            flavor,
            require: "NONE".into(),
            limits: BTreeMap::from([
                ("MAX_QUERIES_PER_HOUR", 0),
                ("MAX_UPDATES_PER_HOUR", 0),
                ("MAX_CONNECTIONS_PER_HOUR", 0),
                ("MAX_USER_CONNECTIONS", 0),
            ]),
            expire: "DEFAULT".into(),
            history: "DEFAULT".into(),
            reuse_interval: "DEFAULT".into(),
            require_current: "DEFAULT".into(),
            failed_login_attempts: 0,
            password_lock_time: "0".into(),
            metadata: String::new(),
            plugin: "caching_sha2_password".into(),
        }
    }

    /// The options as comparable facts. `mysql_native_password` counts as
    /// `caching_sha2_password`: a new user gets the latter where the former
    /// is disabled (8.4) or gone (9.x), and that is the point of rotating.
    pub fn atoms(&self) -> Vec<String> {
        if self.flavor == FlavorKind::Mariadb {
            return vec![format!("ACCOUNT PASSWORD EXPIRE {}", self.expire)];
        }
        let plugin = match self.plugin.as_str() {
            "mysql_native_password" => "caching_sha2_password",
            p => p,
        };
        let mut out = vec![
            format!("ACCOUNT REQUIRE {}", self.require),
            format!("ACCOUNT PASSWORD EXPIRE {}", self.expire),
            format!("ACCOUNT PASSWORD HISTORY {}", self.history),
            format!("ACCOUNT PASSWORD REUSE INTERVAL {}", self.reuse_interval),
            format!("ACCOUNT PASSWORD REQUIRE CURRENT {}", self.require_current),
            format!("ACCOUNT FAILED_LOGIN_ATTEMPTS {}", self.failed_login_attempts),
            format!("ACCOUNT PASSWORD_LOCK_TIME {}", self.password_lock_time),
            format!("ACCOUNT ATTRIBUTE {}", self.metadata),
            format!("ACCOUNT IDENTIFIED WITH {plugin}"),
        ];
        out.extend(self.limits.iter().map(|(k, v)| format!("ACCOUNT {k} {v}")));
        out
    }

    /// `ALTER USER to …` giving `to` these options (never a credential;
    /// the plugin comes with the password at CREATE USER).
    pub fn alter_for(&self, to: &Account) -> String {
        if self.flavor == FlavorKind::Mariadb {
            return format!("ALTER USER {} PASSWORD EXPIRE {}", to.sql(), self.expire);
        }
        let limits: Vec<String> = self.limits.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let expire = match self.expire.as_str() {
            "DEFAULT" | "NEVER" => self.expire.clone(),
            other => other.to_owned(),
        };
        let history = &self.history;
        let reuse = match self.reuse_interval.as_str() {
            "DEFAULT" => "DEFAULT".to_owned(),
            n => format!("{n} DAY"),
        };
        let current = match self.require_current.as_str() {
            "" => "CURRENT".to_owned(),
            "OPTIONAL" => "CURRENT OPTIONAL".to_owned(),
            _ => "CURRENT DEFAULT".to_owned(),
        };
        let mut sql = format!(
            "ALTER USER {} REQUIRE {} WITH {} PASSWORD EXPIRE {expire} PASSWORD HISTORY {history} \
             PASSWORD REUSE INTERVAL {reuse} PASSWORD REQUIRE {current} FAILED_LOGIN_ATTEMPTS {} \
             PASSWORD_LOCK_TIME {}",
            to.sql(),
            self.require,
            limits.join(" "),
            self.failed_login_attempts,
            self.password_lock_time,
        );
        if !self.metadata.is_empty() {
            sql.push_str(&format!(" ATTRIBUTE {}", mysql_str(&self.metadata)));
        }
        sql
    }
}

impl MysqlDb {
    /// `account`'s options (`None` when it does not exist).
    pub async fn account_options(&self, account: &Account) -> DbResult<Option<MysqlAccountOptions>> {
        if self.flavor.kind == FlavorKind::Mariadb {
            return self.mariadb_account_options(account).await;
        }
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT CAST(ssl_type AS CHAR), CAST(ssl_cipher AS CHAR), CAST(x509_issuer AS CHAR), \
                     CAST(x509_subject AS CHAR), max_questions, max_updates, max_connections, \
                     max_user_connections, CAST(password_lifetime AS CHAR), \
                     CAST(Password_reuse_history AS CHAR), CAST(Password_reuse_time AS CHAR), \
                     CAST(Password_require_current AS CHAR), \
                     CAST(JSON_EXTRACT(User_attributes, '$.Password_locking.failed_login_attempts') AS CHAR), \
                     CAST(JSON_EXTRACT(User_attributes, '$.Password_locking.password_lock_time_days') AS CHAR), \
                     CAST(JSON_EXTRACT(User_attributes, '$.metadata') AS CHAR), plugin \
                     FROM mysql.user WHERE User = ? AND Host = ?",
                )
                .bind(&account.user)
                .bind(account.host.as_deref().unwrap_or("%")),
            )
            .await?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let num = |i: usize| -> u64 { r.try_get_unchecked_u64(i) };
        let require = match text(r, 0).to_ascii_uppercase().as_str() {
            "" => "NONE".to_owned(),
            "ANY" => "SSL".to_owned(),
            "X509" => "X509".to_owned(),
            "SPECIFIED" => {
                let mut parts = Vec::new();
                for (word, i) in [("ISSUER", 2), ("SUBJECT", 3), ("CIPHER", 1)] {
                    let v = text(r, i);
                    if !v.is_empty() {
                        parts.push(format!("{word} {}", mysql_str(&v)));
                    }
                }
                if parts.is_empty() {
                    "NONE".to_owned()
                } else {
                    parts.join(" AND ")
                }
            }
            other => other.to_owned(),
        };
        let limits = BTreeMap::from([
            ("MAX_QUERIES_PER_HOUR", num(4)),
            ("MAX_UPDATES_PER_HOUR", num(5)),
            ("MAX_CONNECTIONS_PER_HOUR", num(6)),
            ("MAX_USER_CONNECTIONS", num(7)),
        ]);
        let or_default = |s: String| if s.is_empty() { "DEFAULT".to_owned() } else { s };
        let expire = expire_clause(text(r, 8));
        let require_current = match text(r, 11).to_ascii_uppercase().as_str() {
            "Y" => String::new(),
            "N" => "OPTIONAL".to_owned(),
            _ => "DEFAULT".to_owned(),
        };
        let lock_days = text(r, 13);
        let password_lock_time = match lock_days.as_str() {
            "" | "0" => "0".to_owned(),
            "-1" => "UNBOUNDED".to_owned(),
            n => n.to_owned(),
        };
        let metadata = match text(r, 14) {
            s if s.is_empty() || s == "null" => String::new(),
            s => serde_json::from_str::<serde_json::Value>(&s)
                .map(|v| v.to_string())
                .unwrap_or(s),
        };
        Ok(Some(MysqlAccountOptions {
            flavor: FlavorKind::Mysql,
            require,
            limits,
            expire,
            history: or_default(text(r, 9)),
            reuse_interval: or_default(text(r, 10)),
            require_current,
            failed_login_attempts: text(r, 12).parse().unwrap_or(0),
            password_lock_time,
            metadata,
            plugin: text(r, 15),
        }))
    }
}

impl MysqlDb {
    /// MariaDB's password expiry (`password_lifetime` in `mysql.global_priv`,
    /// read alone: the same JSON holds the password hash): the one account
    /// option it does not print on grant lines.
    async fn mariadb_account_options(&self, account: &Account) -> DbResult<Option<MysqlAccountOptions>> {
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT JSON_VALUE(Priv, '$.password_lifetime') FROM mysql.global_priv \
                     WHERE User = ? AND Host = ?",
                )
                .bind(&account.user)
                .bind(account.host.as_deref().unwrap_or("%")),
            )
            .await?;
        Ok(rows.first().map(|r| MysqlAccountOptions {
            expire: expire_clause(text(r, 0)),
            ..MysqlAccountOptions::fresh(FlavorKind::Mariadb)
        }))
    }
}

/// `password_lifetime` as `PASSWORD EXPIRE`'s argument: NULL (MariaDB: -1
/// or none) is the server's default, 0 never, n days.
fn expire_clause(lifetime: String) -> String {
    match lifetime.as_str() {
        "" | "-1" => "DEFAULT".to_owned(),
        "0" => "NEVER".to_owned(),
        n => format!("INTERVAL {n} DAY"),
    }
}

/// Read an unsigned column whatever integer type the server sends.
trait U64Col {
    fn try_get_unchecked_u64(&self, i: usize) -> u64;
}

impl U64Col for sqlx::mysql::MySqlRow {
    fn try_get_unchecked_u64(&self, i: usize) -> u64 {
        use sqlx::Row;
        self.try_get::<u32, _>(i)
            .map(u64::from)
            .or_else(|_| self.try_get::<u64, _>(i))
            .or_else(|_| self.try_get::<i64, _>(i).map(|v| v.max(0) as u64))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_render_as_one_alter_user_and_compare_by_atoms() {
        let o = MysqlAccountOptions {
            flavor: FlavorKind::Mysql,
            require: "SSL".into(),
            limits: BTreeMap::from([("MAX_USER_CONNECTIONS", 7), ("MAX_QUERIES_PER_HOUR", 0)]),
            expire: "INTERVAL 90 DAY".into(),
            history: "5".into(),
            reuse_interval: "DEFAULT".into(),
            require_current: "OPTIONAL".into(),
            failed_login_attempts: 3,
            password_lock_time: "UNBOUNDED".into(),
            metadata: r#"{"comment":"it's"}"#.into(),
            plugin: "mysql_native_password".into(),
        };
        let sql = o.alter_for(&Account::new("n", "%"));
        assert!(
            sql.starts_with(
                "ALTER USER 'n'@'%' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 0 MAX_USER_CONNECTIONS 7"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("PASSWORD EXPIRE INTERVAL 90 DAY PASSWORD HISTORY 5"),
            "{sql}"
        );
        assert!(
            sql.contains(
                "PASSWORD REQUIRE CURRENT OPTIONAL FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME UNBOUNDED"
            ),
            "{sql}"
        );
        assert!(sql.ends_with(r#"ATTRIBUTE '{"comment":"it''s"}'"#), "{sql}");
        let sha = MysqlAccountOptions {
            plugin: "caching_sha2_password".into(),
            ..o.clone()
        };
        assert_eq!(
            o.atoms(),
            sha.atoms(),
            "native and caching_sha2 count as the same"
        );
        let other = MysqlAccountOptions {
            failed_login_attempts: 4,
            ..o.clone()
        };
        assert_ne!(o.atoms(), other.atoms());
        // MariaDB: the password expiry alone, in the ALTER USER it accepts.
        let maria = MysqlAccountOptions {
            expire: "INTERVAL 365 DAY".into(),
            ..MysqlAccountOptions::fresh(FlavorKind::Mariadb)
        };
        assert_eq!(
            maria.alter_for(&Account::new("n", "%")),
            "ALTER USER 'n'@'%' PASSWORD EXPIRE INTERVAL 365 DAY"
        );
        assert_eq!(maria.atoms(), ["ACCOUNT PASSWORD EXPIRE INTERVAL 365 DAY"]);
        assert_ne!(
            maria.atoms(),
            MysqlAccountOptions::fresh(FlavorKind::Mariadb).atoms()
        );
    }
}
