//! Failed logins per user, as the server counts them.

use std::collections::BTreeMap;

use super::{MysqlDb, int, opt_text};
use crate::db::{DbErrorKind, DbResult};
use crate::model::{FailedLogins, FlavorKind};

/// Why MariaDB cannot say (observed on 10.11): its performance_schema has
/// no error summaries, `USER_STATISTICS` (userstat) counts no refused
/// password, and `Access_denied_errors` is one number for the whole server.
pub const MARIADB_CANNOT_TELL: &str = "MariaDB keeps no per-user count of failed logins: its \
     performance_schema has no error summaries, USER_STATISTICS counts no refused password, and \
     the status counter Access_denied_errors cannot say whose";

impl MysqlDb {
    /// Failed logins for each of `users`, from MySQL's
    /// `performance_schema.events_errors_summary_by_user_by_error`: a
    /// refused login is counted against the user it tried (an unknown or
    /// dropped one too), readable with the RDS master's global SELECT.
    pub async fn failed_logins(&self, users: &[String]) -> DbResult<FailedLogins> {
        if self.flavor.kind == FlavorKind::Mariadb {
            return Ok(FailedLogins::NotObservable(MARIADB_CANNOT_TELL.into()));
        }
        let on = self
            .fetch_one(sqlx::query("SELECT CAST(@@performance_schema AS SIGNED)"))
            .await?;
        if int(&on, 0) == 0 {
            return Ok(FailedLogins::NotObservable(
                "performance_schema is OFF on this server, and MySQL counts failed logins per user only \
                 there (on RDS it is OFF unless Performance Insights or the parameter group's \
                 performance_schema=1 turns it on, after a reboot)"
                    .into(),
            ));
        }
        // A user performance_schema had no room for is counted under no
        // name (its users table is sized at startup): then a 0 could hide
        // failures, and the count says so instead.
        let lost = self
            .fetch_all(sqlx::query(
                "SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM performance_schema.global_status
                 WHERE VARIABLE_NAME = 'Performance_schema_users_lost'",
            ))
            .await?;
        if let Some(n) = lost.first().map(|r| int(r, 0)).filter(|n| *n > 0) {
            return Ok(FailedLogins::NotObservable(format!(
                "performance_schema had no room for {n} users since the server started \
                 (Performance_schema_users_lost), so a user's failed logins may be counted under \
                 none; raise performance_schema_users_size"
            )));
        }
        let rows = match self
            // The errors a refused login raises: a wrong password or an
            // unknown user (1045 ER_ACCESS_DENIED_ERROR), no password where
            // one is needed (1698 ER_ACCESS_DENIED_NO_PASSWORD_ERROR).
            .fetch_all(sqlx::query(
                "SELECT USER, CAST(SUM(SUM_ERROR_RAISED) AS SIGNED)
                 FROM performance_schema.events_errors_summary_by_user_by_error
                 WHERE ERROR_NUMBER IN (1045, 1698) AND USER IS NOT NULL GROUP BY USER",
            ))
            .await
        {
            Ok(rows) => rows,
            Err(e) if e.kind == DbErrorKind::Privilege => {
                return Ok(FailedLogins::NotObservable(format!(
                    "{} cannot read performance_schema.events_errors_summary_by_user_by_error ({})",
                    self.me.display(),
                    e.message
                )));
            }
            Err(e) => return Err(e),
        };
        let seen: BTreeMap<String, i64> = rows
            .iter()
            .filter_map(|r| Some((opt_text(r, 0)?, int(r, 1))))
            .collect();
        Ok(FailedLogins::Counted(
            users
                .iter()
                .map(|u| (u.clone(), seen.get(u).copied().unwrap_or(0)))
                .collect(),
        ))
    }
}
