//! A driver error as the operator needs it. Failures of the connection
//! itself classify here; a server's error goes to its engine's one table
//! (`db::mysql` by error number, `db::postgres` by SQLSTATE). Apart from
//! `error.rs`, so that the engines may name `DbError` without a cycle.

use super::error::{DbError, DbErrorKind};

impl DbError {
    /// Classify a driver error by its server code.
    pub fn from_sqlx(err: sqlx::Error) -> Self {
        use DbErrorKind::*;
        match &err {
            // Each engine classifies its own errors, in one table each:
            // MySQL by error number (its SQLSTATEs are coarse: 28000 covers
            // 1045 and 1698), PostgreSQL by SQLSTATE.
            sqlx::Error::Database(db) => {
                if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                    super::mysql::database_error(my)
                } else if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    super::postgres::database_error(pg)
                } else {
                    let mut e = DbError::new(Other, db.message());
                    e.code = db.code().map(|c| c.into_owned());
                    e
                }
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed => DbError::new(Unreachable, err.to_string())
                .with_hint("is the server up and reachable (tunnel, VPN, security group)?"),
            // A server speaking another protocol (PostgreSQL's client at a
            // MySQL server: "unexpected response from SSLRequest").
            sqlx::Error::Protocol(_) => DbError::new(Other, err.to_string()).with_hint(
                "the server does not speak this engine's protocol: is it the other engine (--engine mysql|postgres), \
                 or another service on that port?",
            ),
            sqlx::Error::Configuration(_) => {
                DbError::new(Other, err.to_string()).with_hint("check the database URL")
            }
            _ => DbError::new(Other, err.to_string()),
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from_sqlx(e)
    }
}
