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

/// How much of a running statement is kept: the start says what it is.
const STATEMENT_KEPT: usize = 200;

/// A running statement's text (a connection list's) as it may be kept and
/// shown: its start, whitespace folded, known secrets masked (a literal may
/// be a password), control characters escaped. `None` for no text.
pub fn statement_text(text: Option<String>) -> Option<String> {
    let folded = text?.split_whitespace().collect::<Vec<_>>().join(" ");
    let masked = crate::secret::redact(&folded);
    let kept: String = masked.chars().take(STATEMENT_KEPT).collect();
    Some(crate::text::escape_controls(&kept).into_owned()).filter(|s| !s.is_empty())
}
