//! Safety rules the engine enforces whatever the operator or a port says.
//! They are pure so they can be tested on their own; the steps call them.

use crate::db::Statement;

/// Does this statement set or copy a credential? Cloning grants must never
/// (MariaDB's `SHOW GRANTS` prints the old password hash in its USAGE line;
/// replaying it would give the new user the old password). Quoted names are
/// ignored, so a database called `password_resets` is fine.
pub fn carries_credentials(statement: &Statement) -> bool {
    let bare = strip_quoted(&statement.preview()).to_ascii_uppercase();
    let words: Vec<&str> = bare
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .iter()
        .any(|w| matches!(*w, "IDENTIFIED" | "PASSWORD" | "VIA" | "AUTHENTICATION"))
}

/// The first statement in `statements` that carries a credential, if any.
pub fn first_with_credentials(statements: &[Statement]) -> Option<&Statement> {
    statements.iter().find(|s| carries_credentials(s))
}

/// Text with '…', "…" and `…` spans (doubled quotes inside included) removed.
fn strip_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            None => out.push(c),
            Some(q) if c == '\\' && q == '\'' => {
                chars.next();
            }
            Some(q) if c == q => {
                if chars.peek() == Some(&q) {
                    chars.next();
                } else {
                    quote = None;
                    out.push(' ');
                }
            }
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> Statement {
        Statement::new(t)
    }

    #[test]
    fn credentials_in_grants_are_caught() {
        for bad in [
            "GRANT USAGE ON *.* TO `new`@`%` IDENTIFIED BY PASSWORD '*AB12'",
            "GRANT USAGE ON *.* TO 'new'@'%' IDENTIFIED VIA mysql_native_password USING '*AB12'",
            "ALTER USER 'new'@'%' IDENTIFIED BY 'x'",
            "SET PASSWORD FOR 'new'@'%' = PASSWORD('x')",
            "alter role \"new\" password 'x'",
        ] {
            assert!(carries_credentials(&s(bad)), "{bad}");
        }
    }

    #[test]
    fn ordinary_grants_pass_even_with_odd_names() {
        for ok in [
            "GRANT ALL PRIVILEGES ON `signon_production`.* TO `new`@`%`",
            "GRANT SELECT ON `password_resets`.`identified_by` TO 'new'@'%'",
            "GRANT SELECT ON `a``password`.* TO 'it''s PASSWORD'@'%'",
            "GRANT \"account-api-owner-role\" TO \"account-api-user-20260121\"",
        ] {
            assert!(!carries_credentials(&s(ok)), "{ok}");
        }
        let list = [
            s("GRANT SELECT ON x.* TO 'n'@'%'"),
            s("ALTER USER 'n' IDENTIFIED BY 'p'"),
        ];
        assert_eq!(
            first_with_credentials(&list).unwrap().preview(),
            list[1].preview()
        );
    }
}
