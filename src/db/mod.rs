//! The database layer: one model, two engines. `mysql` speaks to MySQL 8,
//! MariaDB and RDS for MySQL; `postgres` to PostgreSQL and RDS for PostgreSQL.

mod classify;
mod engine;
pub mod error;
pub mod ident;
pub mod mysql;
pub mod postgres;
mod statement;
pub mod watch;

pub use engine::Endpoint;
pub use error::{DbError, DbErrorKind, DbResult};
pub use statement::Statement;

mod any;
pub use any::{Db, Inspection, UserGrants};
