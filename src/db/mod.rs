//! The database layer: one model, two engines. `mysql` speaks to MySQL 8,
//! MariaDB and RDS for MySQL; `postgres` to PostgreSQL and RDS for PostgreSQL.

mod classify;
mod engine;
pub mod error;
pub mod ident;
pub mod mysql;
pub mod postgres;
mod statement;
pub mod tls;
pub mod tls_relay;
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
    let masked = crate::secret::redact(&credential_literals_masked(&folded));
    let kept: String = masked.chars().take(STATEMENT_KEPT).collect();
    Some(crate::text::escape_controls(&kept).into_owned()).filter(|s| !s.is_empty())
}

/// A statement that may carry a credential (`IDENTIFIED BY '…'`, `PASSWORD
/// '…'`, a hash after `AS`) with every string literal masked: another
/// session's password is not one rotui knows to redact. Quotes are read
/// as both engines write them (doubled, or after a backslash); a literal
/// cut off by the server's own truncation is masked to the end.
fn credential_literals_masked(sql: &str) -> std::borrow::Cow<'_, str> {
    let upper = sql.to_ascii_uppercase();
    if !["IDENTIFIED", "PASSWORD", "SECRET"]
        .iter()
        .any(|w| upper.contains(w))
    {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' && c != '"' {
            out.push(c);
            continue;
        }
        // Skip to the closing quote (a doubled quote or \x stays inside).
        while let Some(d) = chars.next() {
            if d == '\\' {
                chars.next();
            } else if d == c {
                if chars.peek() == Some(&c) {
                    chars.next();
                } else {
                    break;
                }
            }
        }
        out.push(c);
        out.push_str(crate::secret::MASK);
        out.push(c);
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_sessions_password_is_masked_in_its_statement() {
        for (sql, hidden) in [
            ("ALTER USER 'app'@'%' IDENTIFIED BY 'S3cr3t!'", "S3cr3t!"),
            ("CREATE ROLE x LOGIN PASSWORD 'it''s-a-secret'", "s-a-secret"),
            ("SET PASSWORD FOR 'a'@'%' = 'p\\'q'", "q"),
            ("ALTER ROLE x PASSWORD 'cut off by the serv", "cut off"),
            (
                r#"CREATE USER "u" IDENTIFIED WITH caching_sha2_password AS '$A$005$abc'"#,
                "$A$005",
            ),
        ] {
            let shown = statement_text(Some(sql.to_owned())).unwrap();
            assert!(!shown.contains(hidden), "{sql} → {shown}");
            assert!(shown.contains(crate::secret::MASK), "{shown}");
        }
        // Other statements keep their literals: they say what runs.
        let shown = statement_text(Some("SELECT * FROM users WHERE name = 'ann'".into())).unwrap();
        assert!(shown.contains("'ann'"), "{shown}");
    }
}
