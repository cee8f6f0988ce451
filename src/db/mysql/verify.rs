//! Verification: two users' grants compared as grantee-free facts (and, in
//! `users.rs`, MySQL's account options): no less and no more.

use std::collections::BTreeSet;

use serde::Serialize;

use super::grants::ParsedGrant;

/// How two users' grants differ. Empty = equivalent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GrantDiff {
    /// Granted to the old user, not to the new one.
    pub missing: Vec<String>,
    /// Granted to the new user, not to the old one.
    pub extra: Vec<String>,
}

impl GrantDiff {
    pub fn between(old: &[ParsedGrant], new: &[ParsedGrant]) -> GrantDiff {
        let atoms =
            |gs: &[ParsedGrant]| -> BTreeSet<String> { gs.iter().flat_map(|g| g.line.atoms()).collect() };
        let (a, b) = (atoms(old), atoms(new));
        GrantDiff {
            missing: a.difference(&b).cloned().collect(),
            extra: b.difference(&a).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }
}

/// The statement that takes one grant fact ([`GrantLine::atoms`]) away from
/// `from`: `REVOKE priv ON target`, `REVOKE GRANT OPTION ON target`,
/// `REVOKE PROXY ON …`, `REVOKE role`. `None` for facts a REVOKE cannot
/// undo alone (default roles, admin options, account options, partial revokes).
///
/// [`GrantLine::atoms`]: super::grants::GrantLine::atoms
pub fn revoke_atom(atom: &str, from: &super::account::Account) -> Option<String> {
    if let Some(role) = atom.strip_prefix("ROLE ") {
        return Some(format!("REVOKE {role} FROM {}", from.sql()));
    }
    if atom.starts_with("REVOKE ") || atom.starts_with("ADMIN OPTION ") || atom.starts_with("DEFAULT ROLE ") {
        return None;
    }
    let (what, on) = split_on(atom)?;
    Some(format!("REVOKE {what} ON {on} FROM {}", from.sql()))
}

/// `what ON target`, split at the first ` ON ` outside quotes.
fn split_on(atom: &str) -> Option<(&str, &str)> {
    let b = atom.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        match (quote, b[i]) {
            (None, q @ (b'`' | b'\'' | b'"')) => quote = Some(q),
            (Some(q), c) if c == q => {
                if b.get(i + 1) == Some(&q) {
                    i += 1;
                } else {
                    quote = None;
                }
            }
            (None, b' ') if atom[i..].starts_with(" ON ") => return Some((&atom[..i], &atom[i + 4..])),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::mysql::Account;

    #[test]
    fn extra_grants_become_revokes() {
        let u = Account::new("n", "%");
        assert_eq!(
            revoke_atom("SELECT (`a ON b`) ON `d`.`t`", &u).unwrap(),
            "REVOKE SELECT (`a ON b`) ON `d`.`t` FROM 'n'@'%'"
        );
        assert_eq!(
            revoke_atom("GRANT OPTION ON *.*", &u).unwrap(),
            "REVOKE GRANT OPTION ON *.* FROM 'n'@'%'"
        );
        assert_eq!(
            revoke_atom("ROLE 'r'@'%'", &u).unwrap(),
            "REVOKE 'r'@'%' FROM 'n'@'%'"
        );
        assert_eq!(revoke_atom("MAX_USER_CONNECTIONS 7", &u), None);
        assert_eq!(revoke_atom("DEFAULT ROLE 'r'", &u), None);
    }
}
