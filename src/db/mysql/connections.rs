//! Who is connected, and ending connections.

use std::collections::BTreeMap;

use super::{MysqlDb, WritePlan, int, opt_int, opt_text};
use crate::db::DbResult;
use crate::db::Statement;
use crate::model::{Connection, ConnectionCount, ConnectionSnapshot, OwnSession};

impl MysqlDb {
    /// Connections per user from information_schema.PROCESSLIST, in one
    /// query; with `with_rows`, the single connections too. (The admin sees
    /// other users' threads thanks to PROCESS.)
    pub async fn connections(&self, with_rows: bool) -> DbResult<ConnectionSnapshot> {
        let at = chrono::Utc::now();
        if !with_rows {
            let rows = self
                .fetch_all(sqlx::query(
                    "SELECT USER, COUNT(*), CAST(MAX(ID = CONNECTION_ID()) AS SIGNED)
                     FROM information_schema.PROCESSLIST GROUP BY USER ORDER BY USER",
                ))
                .await?;
            let own = rows.iter().find(|r| int(r, 2) == 1).map(|r| OwnSession {
                user: opt_text(r, 0),
                client: None,
            });
            let counts = rows
                .iter()
                .map(|r| ConnectionCount {
                    user: opt_text(r, 0),
                    count: int(r, 1),
                })
                .collect();
            return Ok(ConnectionSnapshot {
                at,
                counts,
                rows: Default::default(),
                own,
            });
        }
        let rows = self
            .fetch_all(sqlx::query(
                // When each thread's command began, as a time rather than an
                // age, so a quiet server's list does not change every second;
                // this query's own thread has none worth showing.
                // and the start of each one's running statement but this one's.
                "SELECT ID, USER, HOST, DB, COMMAND, STATE,
                        IF(ID = CONNECTION_ID(), NULL, CAST(UNIX_TIMESTAMP() AS SIGNED) - TIME),
                        CAST(ID = CONNECTION_ID() AS SIGNED),
                        IF(ID = CONNECTION_ID(), NULL, CONVERT(LEFT(INFO, 400) USING utf8mb4))
                 FROM information_schema.PROCESSLIST ORDER BY ID",
            ))
            .await?;
        let own = rows.iter().find(|r| int(r, 7) == 1).map(|r| OwnSession {
            user: opt_text(r, 1),
            client: opt_text(r, 2),
        });
        let rows: Vec<Connection> = rows
            .iter()
            .map(|r| {
                let command = opt_text(r, 4).unwrap_or_default();
                let state = opt_text(r, 5).filter(|s| !s.is_empty());
                Connection {
                    id: int(r, 0),
                    user: opt_text(r, 1),
                    client: opt_text(r, 2),
                    database: opt_text(r, 3),
                    application: None,
                    state: Some(match state {
                        Some(s) => format!("{command}: {s}"),
                        None => command,
                    }),
                    since: opt_int(r, 6).and_then(|s| chrono::DateTime::from_timestamp(s, 0)),
                    query: crate::db::statement_text(opt_text(r, 8)),
                }
            })
            .collect();
        let mut counts: BTreeMap<Option<String>, i64> = BTreeMap::new();
        for c in &rows {
            *counts.entry(c.user.clone()).or_default() += 1;
        }
        Ok(ConnectionSnapshot {
            at,
            counts: counts
                .into_iter()
                .map(|(user, count)| ConnectionCount { user, count })
                .collect(),
            rows: rows.into(),
            own,
        })
    }

    /// The statement that ends connection `id`: `CALL mysql.rds_kill(id)` on
    /// RDS (its master user may not KILL other users' threads), else `KILL`.
    pub fn kill_statement(&self, id: i64) -> Statement {
        if self.flavor.rds {
            Statement::new(format!("CALL mysql.rds_kill({id})"))
        } else {
            Statement::new(format!("KILL CONNECTION {id}"))
        }
    }

    /// Statements ending every connection of `user` (any host), except the
    /// one this plan is computed on.
    pub async fn kill_user_plan(&self, user: &str) -> DbResult<WritePlan> {
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID() ORDER BY ID",
                )
                .bind(user),
            )
            .await?;
        let mut plan = WritePlan::default();
        for r in &rows {
            plan.statements.push(self.kill_statement(int(r, 0)));
        }
        if plan.is_empty() {
            plan.notes.push(format!("{user} has no connections"));
        }
        Ok(plan)
    }

    /// Connections `user` has now.
    pub async fn connection_count(&self, user: &str) -> DbResult<i64> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?").bind(user),
            )
            .await?;
        Ok(int(&row, 0))
    }
}
