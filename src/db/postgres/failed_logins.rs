//! Failed logins: what PostgreSQL lets its admin know of them.

use super::PgDb;
use crate::db::DbResult;
use crate::model::FailedLogins;

impl PgDb {
    /// PostgreSQL counts no failed login in any view: `pg_stat_database`'s
    /// sessions (14+) count only logins that got in (a refused password
    /// ends before the session is counted, checked on 15 and 17), and the
    /// server writes `FATAL: password authentication failed for user "…"`
    /// to its log only. So this says why it cannot tell, naming what the
    /// admin could or could not read, never a count.
    pub async fn failed_logins(&self, _users: &[String]) -> DbResult<FailedLogins> {
        let (can_read, can_list): (bool, bool) = self
            .timed(
                sqlx::query_as(
                    "SELECT has_function_privilege('pg_read_file(text, bigint, bigint, boolean)', 'EXECUTE'),
                            has_function_privilege('pg_ls_logdir()', 'EXECUTE')",
                )
                .fetch_one(&self.pool),
            )
            .await?;
        let log = if can_read {
            "rotui does not read server logs".to_owned()
        } else if can_list {
            format!(
                "{} may list the log files (pg_ls_logdir) but not read them (pg_read_file needs \
                 pg_read_server_files or superuser); on RDS read them with \
                 `aws rds download-db-log-file-portion`",
                self.user
            )
        } else {
            format!(
                "{} may not read the log over SQL; on RDS read it with \
                 `aws rds download-db-log-file-portion`",
                self.user
            )
        };
        Ok(FailedLogins::NotObservable(format!(
            "PostgreSQL counts failed logins nowhere an admin can query (pg_stat_database counts only \
             sessions that logged in); it logs each one (FATAL: password authentication failed for \
             user …), and {log}"
        )))
    }
}
