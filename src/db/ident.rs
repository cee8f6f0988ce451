//! Quoting identifiers and string literals for each engine. Every name that
//! reaches SQL text goes through here: names with hyphens, quotes, backticks,
//! `%`, spaces or non-ASCII characters are normal in this estate
//! (`account-api`), and none of them may change the statement's meaning.

/// MySQL identifier: `` `name` `` with backticks doubled.
pub fn mysql_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// MySQL string literal, safe under both default and NO_BACKSLASH_ESCAPES
/// modes: quotes doubled, backslashes doubled (NO_BACKSLASH_ESCAPES is refused
/// by [`crate::db`] on connect, so doubling is right).
pub fn mysql_str(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// MySQL account: `'user'@'host'`.
pub fn mysql_account(user: &str, host: &str) -> String {
    format!("{}@{}", mysql_str(user), mysql_str(host))
}

/// PostgreSQL identifier: `"name"` with double quotes doubled. Always quoted,
/// so case and hyphens survive.
pub fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// PostgreSQL string literal (standard_conforming_strings is on since 9.1):
/// single quotes doubled.
pub fn pg_str(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(mysql_ident("a`b"), "`a``b`");
        assert_eq!(mysql_str(r"it's \ ok"), r"'it''s \\ ok'");
        assert_eq!(mysql_account("signon", "%"), "'signon'@'%'");
        assert_eq!(pg_ident(r#"account-api "x""#), r#""account-api ""x""""#);
        assert_eq!(pg_str("o'clock"), "'o''clock'");
    }
}
