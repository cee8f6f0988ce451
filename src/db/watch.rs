//! The connection the connections view polls on, beside the pool.
//!
//! A pooled query costs three round trips, since sqlx pings a connection as
//! it is taken and again as it is given back; at one refresh a second that
//! is most of what watching a server costs. This connection runs the query
//! alone, and never waits behind a slow catalogue read or a step holding
//! the pool. Any error (or a deadline) drops it, and the next refresh
//! connects afresh, so a broken connection costs one refresh at most.
//!
//! PostgreSQL uses it (its pool keeps one connection, so rotui still holds
//! two). MySQL does not yet: its pool must keep two, as a query cut off by
//! its deadline holds a slot until the server lets the connection go.

use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::{ConnectOptions, Connection};
use tokio::sync::Mutex;

pub struct WatchConn<C: Connection> {
    options: <C as Connection>::Options,
    conn: Mutex<Option<C>>,
}

// The options hold the password: never printed.
impl<C: Connection> std::fmt::Debug for WatchConn<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WatchConn { .. }")
    }
}

/// What went wrong: the server's error, or no answer within the deadline.
pub enum WatchError {
    Sql(sqlx::Error),
    Elapsed,
}

impl<C: Connection> WatchConn<C> {
    /// `conn`: a connection already open with `options`, if there is one.
    pub fn new(options: <C as Connection>::Options, conn: Option<C>) -> Self {
        WatchConn {
            options,
            conn: Mutex::new(conn),
        }
    }

    /// Run `query` on the connection (connecting first when there is none),
    /// all within `limit`. One caller at a time.
    pub async fn run<T>(
        &self,
        limit: Duration,
        query: impl for<'c> FnOnce(&'c mut C) -> BoxFuture<'c, Result<T, sqlx::Error>>,
    ) -> Result<T, WatchError> {
        let mut slot = self.conn.lock().await;
        let result = tokio::time::timeout(limit, async {
            if slot.is_none() {
                *slot = Some(self.options.connect().await?);
            }
            query(slot.as_mut().expect("connected just above")).await
        })
        .await;
        match result {
            Ok(Ok(value)) => Ok(value),
            // Mid-answer, broken, or cut off by the deadline: not reused.
            Ok(Err(e)) => {
                *slot = None;
                Err(WatchError::Sql(e))
            }
            Err(_) => {
                *slot = None;
                Err(WatchError::Elapsed)
            }
        }
    }

    /// Close the connection, if open.
    pub async fn close(&self) {
        if let Some(c) = self.conn.lock().await.take() {
            let _ = c.close().await;
        }
    }
}
