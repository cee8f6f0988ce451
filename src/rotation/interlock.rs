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
/// replaying it would give the new user the old password). Judged by what
/// the statement does, not by its words: [`credential_clause`].
pub fn carries_credentials(statement: &Statement) -> bool {
    credential_clause(statement).is_some()
}

/// The first statement in `statements` that carries a credential, if any,
/// and the clause that does (for the refusal: never the value).
pub fn first_with_credentials(statements: &[Statement]) -> Option<(&Statement, &'static str)> {
    statements
        .iter()
        .find_map(|s| credential_clause(s).map(|c| (s, c)))
}

/// The clause of `statement` that sets, changes or copies a credential:
/// `IDENTIFIED …` (BY, WITH, VIA, AS), `PASSWORD` followed by anything but
/// a policy (`SET PASSWORD`, `PASSWORD('…')`, PostgreSQL's `PASSWORD '…'`),
/// a multi-factor change, or a string literal shaped like a password hash.
/// The password policy (`PASSWORD EXPIRE | HISTORY | REUSE | REQUIRE`),
/// `FAILED_LOGIN_ATTEMPTS`, `PASSWORD_LOCK_TIME`, REQUIRE, limits and any
/// quoted name, attribute or comment are not credentials.
///
/// The text is read as both engines would read it (MySQL: backslash escapes,
/// `"…"` strings, `#` and `-- ` comments, `/*! … */` executed; PostgreSQL:
/// `"…"` names, `$tag$` strings, nested `/* */`), and either reading finding
/// a credential is enough; an unterminated quote or comment counts as one.
pub fn credential_clause(statement: &Statement) -> Option<&'static str> {
    let text = statement.preview();
    [Dialect::Mysql, Dialect::Postgres]
        .into_iter()
        .find_map(|d| clause_in(&lex(&text, d)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Mysql,
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A keyword or bare name, upper-cased.
    Word(String),
    /// A string literal's content.
    Str(String),
    /// A quoted name (its content does nothing).
    Name,
    Punct(char),
    /// A quote or comment that never ends: what it does is unknown.
    Unterminated,
}

/// Which clause among `toks` carries a credential.
fn clause_in(toks: &[Tok]) -> Option<&'static str> {
    let word = |i: usize| match toks.get(i) {
        Some(Tok::Word(w)) => Some(w.as_str()),
        _ => None,
    };
    for (i, t) in toks.iter().enumerate() {
        let found = match t {
            Tok::Unterminated => Some("an unterminated quote or comment"),
            Tok::Str(s) if looks_like_hash(s) => Some("a password hash literal"),
            Tok::Word(w) => match w.as_str() {
                "IDENTIFIED" => Some("IDENTIFIED …"),
                "VIA" => Some("IDENTIFIED VIA …"),
                "PASSWORD" => match word(i + 1) {
                    // The password policy: options, not a password.
                    Some("EXPIRE" | "HISTORY" | "REUSE" | "REQUIRE") => None,
                    _ => Some("PASSWORD …"),
                },
                "AUTHENTICATION" | "2FACTOR" | "3FACTOR" | "REGISTRATION" | "UNREGISTER" => {
                    Some("a multi-factor authentication change")
                }
                _ => None,
            },
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// A literal shaped like a stored password: `mysql_native_password`'s
/// `*` + 40 hex digits, `caching_sha2_password`'s `$A$…`,
/// `sha256_password`'s `$5$…`, PostgreSQL's `SCRAM-SHA-256$…` and `md5…`.
fn looks_like_hash(s: &str) -> bool {
    let hex = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_hexdigit());
    s.strip_prefix('*').is_some_and(|h| hex(h, 40))
        || s.starts_with("$A$")
        || s.starts_with("$5$")
        || s.starts_with("SCRAM-SHA-256$")
        || s.strip_prefix("md5").is_some_and(|h| hex(h, 32))
}

/// `text` as tokens, read as `dialect` reads it.
fn lex(text: &str, dialect: Dialect) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let mysql = dialect == Dialect::Mysql;
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let at = |k: usize| c.get(i + k).copied();
        match c[i] {
            ch if ch.is_whitespace() => i += 1,
            // Line comments: MySQL's `#` and `-- ` (a space or control
            // after the dashes), PostgreSQL's `--`.
            '#' if mysql => i = line_end(&c, i),
            '-' if at(1) == Some('-')
                && (!mysql || at(2).is_none_or(|n| n.is_whitespace() || n.is_control())) =>
            {
                i = line_end(&c, i)
            }
            // MySQL runs what is inside `/*! … */` and `/*+ … */`: read it
            // as code (the closing `*/` is skipped below).
            '/' if mysql && at(1) == Some('*') && matches!(at(2), Some('!' | '+')) => {
                i += 3;
                while c.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
            }
            '*' if mysql && at(1) == Some('/') => i += 2,
            '/' if at(1) == Some('*') => match block_comment_end(&c, i, !mysql) {
                Some(end) => i = end,
                None => {
                    out.push(Tok::Unterminated);
                    break;
                }
            },
            '\'' => match quoted(&c, i, '\'', mysql) {
                Some((s, end)) => {
                    out.push(Tok::Str(s));
                    i = end;
                }
                None => {
                    out.push(Tok::Unterminated);
                    break;
                }
            },
            // `"…"`: a string to MySQL (ANSI_QUOTES off), a name to PostgreSQL.
            '"' => match quoted(&c, i, '"', mysql) {
                Some((s, end)) => {
                    out.push(if mysql { Tok::Str(s) } else { Tok::Name });
                    i = end;
                }
                None => {
                    out.push(Tok::Unterminated);
                    break;
                }
            },
            // A MySQL name; PostgreSQL would refuse the statement outright.
            '`' => match quoted(&c, i, '`', false) {
                Some((_, end)) => {
                    out.push(Tok::Name);
                    i = end;
                }
                None => {
                    out.push(Tok::Unterminated);
                    break;
                }
            },
            '$' if !mysql => match dollar_quoted(&c, i) {
                Some(Ok((s, end))) => {
                    out.push(Tok::Str(s));
                    i = end;
                }
                Some(Err(())) => {
                    out.push(Tok::Unterminated);
                    break;
                }
                None => {
                    out.push(Tok::Punct('$'));
                    i += 1;
                }
            },
            ch if ch.is_alphanumeric() || ch == '_' || ch == '$' => {
                let start = i;
                while c
                    .get(i)
                    .is_some_and(|&x| x.is_alphanumeric() || x == '_' || x == '$')
                {
                    i += 1;
                }
                let w: String = c[start..i].iter().collect();
                out.push(Tok::Word(w.to_ascii_uppercase()));
            }
            ch => {
                out.push(Tok::Punct(ch));
                i += 1;
            }
        }
    }
    out
}

fn line_end(c: &[char], from: usize) -> usize {
    (from..c.len()).find(|&k| c[k] == '\n').unwrap_or(c.len())
}

/// Where the `/* … */` at `from` ends (nested, as PostgreSQL reads them).
fn block_comment_end(c: &[char], from: usize, nested: bool) -> Option<usize> {
    let mut depth = 0;
    let mut i = from;
    while i + 1 < c.len() {
        if c[i] == '/' && c[i + 1] == '*' && (nested || depth == 0) {
            depth += 1;
            i += 2;
        } else if c[i] == '*' && c[i + 1] == '/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// The literal quoted by `q` at `from` (a doubled `q` is one; with
/// `backslash`, `\` escapes the next character) and where it ends.
fn quoted(c: &[char], from: usize, q: char, backslash: bool) -> Option<(String, usize)> {
    let mut s = String::new();
    let mut i = from + 1;
    while i < c.len() {
        match c[i] {
            '\\' if backslash => {
                s.push(*c.get(i + 1)?);
                i += 2;
            }
            ch if ch == q && c.get(i + 1) == Some(&q) => {
                s.push(q);
                i += 2;
            }
            ch if ch == q => return Some((s, i + 1)),
            ch => {
                s.push(ch);
                i += 1;
            }
        }
    }
    None
}

/// PostgreSQL's `$tag$…$tag$` at `from`: `None` if `$` starts none there,
/// `Err` if it never ends.
#[allow(clippy::result_unit_err)]
fn dollar_quoted(c: &[char], from: usize) -> Option<Result<(String, usize), ()>> {
    let mut i = from + 1;
    while c.get(i).is_some_and(|&x| x.is_alphanumeric() || x == '_') {
        i += 1;
    }
    if c.get(i) != Some(&'$') || c.get(from + 1).is_some_and(char::is_ascii_digit) {
        return None;
    }
    let tag: String = c[from..=i].iter().collect();
    let body_start = i + 1;
    let rest: String = c[body_start..].iter().collect();
    Some(match rest.find(&tag) {
        Some(k) => {
            let body: String = rest[..k].to_owned();
            let end = body_start + rest[..k].chars().count() + tag.chars().count();
            Ok((body, end))
        }
        None => Err(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> Statement {
        Statement::new(t)
    }

    #[test]
    fn credentials_are_caught_however_they_are_written() {
        for bad in [
            "GRANT USAGE ON *.* TO `new`@`%` IDENTIFIED BY PASSWORD '*AB12'",
            "GRANT USAGE ON *.* TO 'new'@'%' IDENTIFIED VIA mysql_native_password USING '*AB12'",
            "ALTER USER 'new'@'%' IDENTIFIED BY 'x'",
            "alter user 'new'@'%' identified with caching_sha2_password",
            "ALTER USER 'new'@'%' IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$abc'",
            "SET PASSWORD FOR 'new'@'%' = PASSWORD('x')",
            "SET PASSWORD FOR 'new'@'%' = 'x'",
            "ALTER USER 'new'@'%' RETAIN CURRENT PASSWORD",
            "ALTER USER 'new'@'%' DISCARD OLD PASSWORD",
            "alter role \"new\" password 'x'",
            "ALTER ROLE \"new\" WITH LOGIN ENCRYPTED PASSWORD 'SCRAM-SHA-256$4096:abc'",
            "ALTER ROLE \"new\" PASSWORD $q$x$q$",
            "ALTER ROLE \"new\" PASSWORD NULL",
            // The policy first does not excuse a credential after it.
            "ALTER USER 'n'@'%' PASSWORD EXPIRE NEVER IDENTIFIED BY 'x'",
            "ALTER USER 'n'@'%' PASSWORD HISTORY 5, 'm'@'%' IDENTIFIED BY 'x'",
            // MySQL runs what is inside /*! */.
            "ALTER USER 'n'@'%' /*!80000 IDENTIFIED BY 'x' */",
            // A quote inside a comment opens nothing: MySQL reads the line after it.
            "ALTER USER 'n'@'%' -- it's\nIDENTIFIED BY 'x' -- '",
            "ALTER USER 'n'@'%' # it's\nIDENTIFIED BY 'x' # '",
            // A backslash ends no string in PostgreSQL (and does in MySQL).
            "ALTER ROLE \"n\" VALID UNTIL 'a\\' PASSWORD 'x' -- '",
            // A hash copied anywhere, even into an attribute.
            "ALTER USER 'n'@'%' ATTRIBUTE '{\"p\": \"x\"}' COMMENT '*0D3CED9BEC10A777AEC23CCC353A8C08A633045E'",
            "ALTER ROLE \"n\" VALID UNTIL 'md5c5b9ec1ff2b1a6b0d0cfc3d1dd0ab0b3'",
            "ALTER USER 'new'@'%' ADD 2FACTOR IDENTIFIED WITH authentication_fido",
            "ALTER USER 'new'@'%' 2FACTOR UNREGISTER",
            // Cannot tell what it does.
            "ALTER USER 'n'@'%' ATTRIBUTE '{",
            "ALTER USER 'n'@'%' /* IDENTIFIED",
        ] {
            assert!(carries_credentials(&s(bad)), "{bad}");
        }
    }

    #[test]
    fn options_and_odd_names_are_not_credentials() {
        for ok in [
            "GRANT ALL PRIVILEGES ON `signon_production`.* TO `new`@`%`",
            "GRANT SELECT ON `password_resets`.`identified_by` TO 'new'@'%'",
            "GRANT SELECT ON `a``password`.* TO 'it''s PASSWORD'@'%'",
            // As `mysql_str` writes a name with a backslash and a quote:
            // both engines read the same extent.
            "GRANT SELECT ON `x`.* TO 'it\\\\''s IDENTIFIED BY'@'%'",
            "GRANT \"account-api-owner-role\" TO \"account-api-user-20260121\"",
            "GRANT \"PASSWORD 'x'\" TO \"IDENTIFIED BY\"",
            // The options a rotation clones (the account options' ALTER USER).
            "ALTER USER 'n'@'%' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 \
             MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 50 PASSWORD EXPIRE DEFAULT \
             PASSWORD HISTORY DEFAULT PASSWORD REUSE INTERVAL DEFAULT PASSWORD REQUIRE CURRENT DEFAULT \
             FAILED_LOGIN_ATTEMPTS 5 PASSWORD_LOCK_TIME 1 \
             ATTRIBUTE '{\"note\": \"rotated; IDENTIFIED BY PASSWORD * was never here\"}'",
            "ALTER USER 'n'@'%' PASSWORD EXPIRE INTERVAL 90 DAY PASSWORD REQUIRE CURRENT OPTIONAL",
            "ALTER USER 'n'@'%' COMMENT 'password: ask the team; SET PASSWORD is not how'",
            "ALTER USER 'signon_user_20260121'@'%' REQUIRE SSL",
            "ALTER USER 'signon_user_20260121'@'%' WITH MAX_USER_CONNECTIONS 10",
            "ALTER USER 'n'@'%' REQUIRE SUBJECT '/CN=password' AND ISSUER '/CN=identified by'",
            // Comments say nothing, and the preview's database line is one.
            "-- in database password\nGRANT SELECT ON x.* TO 'n'@'%'",
            "GRANT SELECT ON x.* TO 'n'@'%' /* IDENTIFIED BY 'x' */",
        ] {
            assert!(
                !carries_credentials(&s(ok)),
                "{ok}: {:?}",
                credential_clause(&s(ok))
            );
        }
        // Every account option MySQL has, as the rotation clones them, with
        // an attribute and a comment that try their best to look like credentials.
        let every = crate::db::mysql::options::MysqlAccountOptions {
            flavor: crate::model::FlavorKind::Mysql,
            require: "ISSUER '/CN=password' AND SUBJECT '/CN=IDENTIFIED BY' AND CIPHER 'x'".into(),
            limits: [("MAX_USER_CONNECTIONS", 50), ("MAX_QUERIES_PER_HOUR", 9)].into(),
            expire: "INTERVAL 90 DAY".into(),
            history: "5".into(),
            reuse_interval: "30".into(),
            require_current: String::new(),
            failed_login_attempts: 5,
            password_lock_time: "UNBOUNDED".into(),
            metadata: r#"{"comment": "PASSWORD 'x' IDENTIFIED BY it's", "team": "govuk"}"#.into(),
            plugin: "caching_sha2_password".into(),
        };
        let sql = every.alter_for(&crate::db::mysql::Account::new("n", "%"));
        assert!(!carries_credentials(&s(&sql)), "{sql}");
        let list = [
            s("GRANT SELECT ON x.* TO 'n'@'%'"),
            s("ALTER USER 'n' PASSWORD EXPIRE NEVER"),
            s("ALTER USER 'n' IDENTIFIED BY 'p'"),
        ];
        let (found, clause) = first_with_credentials(&list).unwrap();
        assert_eq!(found.preview(), list[2].preview());
        assert_eq!(clause, "IDENTIFIED …");
    }
}
