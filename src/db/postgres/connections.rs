//! Who is connected (the drain view), and ending sessions.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::PgDb;
use crate::db::Statement;
use crate::db::error::DbResult;
use crate::db::ident::pg_str;
use crate::model::{Connection, ConnectionCount, ConnectionSnapshot, OwnSession};

/// How long `pg_terminate_backend` waits for a backend to exit (PG 14+).
const TERMINATE_WAIT_MS: u32 = 5000;

impl PgDb {
    /// Client sessions per user, with one query on `pg_stat_activity`:
    /// grouped on the server when only counts are wanted, the single rows
    /// otherwise. A session whose role was dropped has no user (`None`).
    pub async fn connections(&self, with_rows: bool) -> DbResult<ConnectionSnapshot> {
        if !with_rows {
            let counts: Vec<(Option<String>, i64, bool)> = self
                .watch_fetch(
                    "SELECT usename::text, count(*)::bigint, bool_or(pid = pg_backend_pid())
                     FROM pg_stat_activity
                     WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC, 1",
                )
                .await?;
            let own = counts.iter().find(|c| c.2).map(|c| OwnSession {
                user: c.0.clone(),
                client: None,
            });
            return Ok(ConnectionSnapshot {
                at: Utc::now(),
                counts: counts
                    .into_iter()
                    .map(|(user, count, _)| ConnectionCount { user, count })
                    .collect(),
                rows: Default::default(),
                own,
            });
        }
        // One JSON value for every session rather than a row each (decoding
        // rows one by one was most of the list's CPU at a 1 s refresh), and
        // nothing in it that ticks: each session's state began at a time, not
        // an age; an idle one's to the minute (as the list shows it), since
        // every app's sessions go idle again after each query; and this
        // query's own session is dated from its start. So a server whose
        // sessions only come and go between queries answers with the very
        // same text for a minute, which is compared, not decoded (the
        // watch_cpu bench).
        let json: Vec<(String,)> = self
            .watch_fetch(
                "SELECT COALESCE(json_agg(json_build_array(
                            pid, usename,
                            CASE WHEN client_addr IS NOT NULL THEN host(client_addr) || ':' || client_port
                                 WHEN client_port = -1 THEN 'local' END,
                            datname, application_name, state,
                            floor(EXTRACT(EPOCH FROM CASE WHEN pid = pg_backend_pid() THEN backend_start
                                       WHEN state = 'idle' THEN date_trunc('minute', state_change)
                                       ELSE COALESCE(state_change, backend_start) END))::bigint,
                            pid = pg_backend_pid(),
                            CASE WHEN state <> 'idle' AND pid <> pg_backend_pid() THEN left(query, 400) END)
                          ORDER BY usename NULLS FIRST, pid), '[]')::text
                     FROM pg_stat_activity WHERE backend_type = 'client backend'",
            )
            .await?;
        let json = json.into_iter().next().map(|(j,)| j).unwrap_or_default();
        let (rows, own) = self.rows_from_json(json)?;
        Ok(ConnectionSnapshot {
            at: Utc::now(),
            counts: count_by_user(&rows),
            own: own.and_then(|i| rows.get(i)).map(|c| OwnSession {
                user: c.user.clone(),
                client: c.client.clone(),
            }),
            rows,
        })
    }

    /// The rows `json` holds: the last answer's rows again when the text is
    /// the same.
    /// With them, which row is this query's own session.
    fn rows_from_json(&self, json: String) -> DbResult<(Arc<[Connection]>, Option<usize>)> {
        let mut last = self.last_rows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((text, rows, own)) = last.as_ref()
            && *text == json
        {
            return Ok((rows.clone(), *own));
        }
        let (rows, own) = parse_rows(&json)?;
        let rows: Arc<[Connection]> = rows.into();
        *last = Some((json, rows.clone(), own));
        Ok((rows, own))
    }

    /// The statement that ends one session; the preview is the statement.
    pub fn plan_kill(&self, pid: i64) -> Statement {
        Statement::new(format!(
            "SELECT COALESCE({}, false)",
            self.terminate_call(&pid.to_string())
        ))
    }

    /// End one session. `false` when there was no such backend (it ended
    /// already). On PostgreSQL 14+ this waits until the backend has exited.
    pub async fn kill(&self, pid: i64) -> DbResult<bool> {
        let st = self.plan_kill(pid);
        self.timed(sqlx::query_scalar(AssertSqlSafe(st.sql())).fetch_one(&self.pool))
            .await
    }

    /// The statement that ends every session of `role` (never rotui's own),
    /// returning the pids it ended; the preview is the statement itself.
    pub fn plan_kill_user(&self, role: &str) -> Statement {
        let terminate = self.terminate_call("pid");
        // OFFSET 0 keeps the filter inside: the terminate call must never be
        // evaluated for a row of another user.
        Statement::new(format!(
            "SELECT pid::bigint FROM (SELECT pid FROM pg_stat_activity WHERE usename = {} \
             AND backend_type = 'client backend' AND pid <> pg_backend_pid() OFFSET 0) s WHERE {terminate}",
            pg_str(role)
        ))
    }

    /// End every session of `role`; returns the pids that were ended.
    pub async fn kill_user(&self, role: &str) -> DbResult<Vec<i64>> {
        let st = self.plan_kill_user(role);
        self.timed(sqlx::query_scalar(AssertSqlSafe(st.sql())).fetch_all(&self.pool))
            .await
    }

    /// `pg_terminate_backend(pid)`, waiting for the exit where the server can.
    fn terminate_call(&self, pid: &str) -> String {
        if self.terminate_waits() {
            format!("pg_terminate_backend({pid}, {TERMINATE_WAIT_MS})")
        } else {
            format!("pg_terminate_backend({pid})")
        }
    }

    /// The pids of `role`'s client sessions.
    pub(super) async fn pids_of(&self, role: &str) -> DbResult<Vec<i64>> {
        self.timed(
            sqlx::query_scalar(
                "SELECT pid::bigint FROM pg_stat_activity
                 WHERE usename = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY 1",
            )
            .bind(role)
            .fetch_all(&self.pool),
        )
        .await
    }
}

/// `pg_stat_activity` as the rows query's JSON: one array per session.
fn parse_rows(json: &str) -> DbResult<(Vec<Connection>, Option<usize>)> {
    type Row = (
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        bool,
        Option<String>,
    );
    let rows: Vec<Row> = if json.is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(json).map_err(|e| {
            crate::db::DbError::new(
                crate::db::DbErrorKind::Other,
                format!("pg_stat_activity as JSON: {e}"),
            )
        })?
    };
    let own = rows.iter().position(|r| r.7);
    let rows = rows
        .into_iter()
        .map(
            |(id, user, client, database, application, state, since, _, query)| Connection {
                id,
                user,
                client,
                database,
                application: application.filter(|a| !a.is_empty()),
                state,
                since: since.and_then(|s| DateTime::from_timestamp(s, 0)),
                query: crate::db::statement_text(query),
            },
        )
        .collect();
    Ok((rows, own))
}

/// Counts per user, most connections first, from the single rows.
fn count_by_user(rows: &[Connection]) -> Vec<ConnectionCount> {
    let mut counts: Vec<ConnectionCount> = Vec::new();
    for r in rows {
        match counts.iter_mut().find(|c| c.user == r.user) {
            Some(c) => c.count += 1,
            None => counts.push(ConnectionCount {
                user: r.user.clone(),
                count: 1,
            }),
        }
    }
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.user.cmp(&b.user)));
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, user: Option<&str>) -> Connection {
        Connection {
            id,
            user: user.map(str::to_owned),
            client: None,
            database: None,
            application: None,
            state: None,
            since: None,
            query: None,
        }
    }

    #[test]
    fn counts_group_by_user_and_keep_dropped_roles_apart() {
        let rows = [
            row(1, Some("b")),
            row(2, Some("a")),
            row(3, None),
            row(4, Some("b")),
        ];
        let counts = count_by_user(&rows);
        assert_eq!(
            counts,
            vec![
                ConnectionCount {
                    user: Some("b".into()),
                    count: 2
                },
                ConnectionCount { user: None, count: 1 },
                ConnectionCount {
                    user: Some("a".into()),
                    count: 1
                },
            ]
        );
    }
}
