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
