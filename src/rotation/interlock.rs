//! Safety rules the engine enforces whatever the operator or a port says,
//! and which of them refused a step ([`InterlockKind`], carried by
//! `StepError::Interlock`). The rules are pure so they can be tested on
//! their own; the steps call them.

use serde::{Deserialize, Serialize};

use crate::db::Statement;
use crate::model::System;

/// Which safety interlock refused a step: what the engine would not do,
/// whatever the operator (skips, `--yes`) or a port said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterlockKind {
    /// A statement that gives the new user the old user's rights would copy
    /// the old user's credentials (MariaDB's `IDENTIFIED BY PASSWORD`
    /// lines: [`carries_credentials`]); not run.
    CredentialsInClonedGrant,
    /// Secrets Manager holds no pending password for the new user: nothing
    /// to create the user with (no secret lives only in rotui), or nothing
    /// to promote.
    NoPendingPassword,
    /// The new user cannot log in with the pending password, as `system`
    /// answered the login test just before promoting: not promoted.
    LoginFails { system: System },
    /// The new user's login could not be tested just before promoting
    /// (`system` failed otherwise): not promoted.
    LoginUntested { system: System },
    /// An environment's app secret still names the user about to be
    /// dropped, or whose connections would be ended: the app uses it.
    SecretStillNamesUser,
    /// The user to drop still has connections, and the drop was not forced.
    ConnectionsRemain,
    /// Dropping the user would lose the objects it defines or owns.
    ObjectsWouldBeLost,
}

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
