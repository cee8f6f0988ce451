//! Which role the session is, and whether it can finish a rotation, said
//! before any write. A rotation writes the app secret (Secrets Manager),
//! patches the ExternalSecret and, with `--tunnel`, port-forwards: on the
//! estate `readonly` and `developer` may do none of the writes, while
//! `platformengineer` and `fulladmin` may do all (FIELD-NOTES, "Accounts,
//! roles, clusters").
//!
//! IAM's `SimulatePrincipalPolicy` would prove it for any role, but it is
//! itself an IAM permission the estate's roles may lack and the sandbox's
//! moto does not implement it (it answers 500), so rotui judges by the
//! estate's known role names and says plainly when a role is not one of them.

/// What the role's name says about writing the app secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleVerdict {
    /// One of the estate's roles that may write secrets (`platformengineer`).
    CanWrite { known: &'static str },
    /// One of the estate's roles that may not (`developer`).
    CannotWrite { known: &'static str },
    /// Not a role the estate is known to have: not provable without writing.
    Unknown,
}

/// The roles that can finish a rotation, in the order to suggest them.
pub const WRITING_ROLES: [&str; 2] = ["platformengineer", "fulladmin"];
const READING_ROLES: [&str; 2] = ["readonly", "developer"];

/// The role of an assumed-role caller ARN
/// (`arn:aws:sts::<account>:assumed-role/<role>/<session>`); `None` for a
/// user or any other principal.
pub fn assumed_role(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let mut parts = resource.split('/');
    match (parts.next(), parts.next()) {
        (Some("assumed-role"), Some(role)) if !role.is_empty() => Some(role),
        _ => None,
    }
}

/// Judge `role` by its name: the estate names them `<role>` or with a
/// prefix (`govuk-production-developer`), so the last word decides.
pub fn verdict(role: &str) -> RoleVerdict {
    let lower = role.to_ascii_lowercase();
    let last = lower.rsplit(['-', '_', '.']).next().unwrap_or(&lower);
    if let Some(known) = WRITING_ROLES.iter().find(|k| **k == last) {
        return RoleVerdict::CanWrite { known };
    }
    if let Some(known) = READING_ROLES.iter().find(|k| **k == last) {
        return RoleVerdict::CannotWrite { known };
    }
    RoleVerdict::Unknown
}

/// The refusal for a role that cannot write `secret` in `env`, naming the
/// role to use and the config line that gets it.
pub fn cannot_write(env: &str, role: &str, known: &str, secret: &str) -> String {
    format!(
        "role {role} is the estate's {known} role, which may read {secret} but not write it (nor \
         patch ExternalSecrets or port-forward), so the rotation would stop at its first write. \
         Use platformengineer or fulladmin: `gds aws govuk-{env}-platformengineer -e`, as \
         [environments.{env}] credential_command = \"gds aws govuk-{env}-platformengineer -e\""
    )
}

/// The finding for a role rotui cannot judge.
pub fn unproven(role: &str, secret: &str) -> String {
    format!(
        "role {role} is not one of the estate's (readonly, developer, platformengineer, \
         fulladmin), and IAM cannot be asked read-only: whether it may write {secret} cannot be \
         proven without writing. The rotation's first write (AWSPENDING) would be refused if not, \
         before anything else changes"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_of_an_assumed_role_arn() {
        assert_eq!(
            assumed_role("arn:aws:sts::111111111111:assumed-role/govuk-production-developer/jane.doe"),
            Some("govuk-production-developer")
        );
        assert_eq!(
            assumed_role("arn:aws:sts::1:assumed-role/fulladmin/x"),
            Some("fulladmin")
        );
        assert_eq!(assumed_role("arn:aws:iam::123456789012:user/moto"), None);
        assert_eq!(assumed_role("arn:aws:iam::123456789012:root"), None);
        assert_eq!(assumed_role("nonsense"), None);
    }

    #[test]
    fn the_estates_roles_by_name() {
        assert_eq!(
            verdict("govuk-staging-platformengineer"),
            RoleVerdict::CanWrite {
                known: "platformengineer"
            }
        );
        assert_eq!(verdict("fulladmin"), RoleVerdict::CanWrite { known: "fulladmin" });
        assert_eq!(
            verdict("govuk-production-developer"),
            RoleVerdict::CannotWrite { known: "developer" }
        );
        assert_eq!(
            verdict("readonly"),
            RoleVerdict::CannotWrite { known: "readonly" }
        );
        // A role that merely contains a known word is not that role.
        assert_eq!(verdict("developer-admin-break-glass"), RoleVerdict::Unknown);
        assert_eq!(verdict("ci-deployer"), RoleVerdict::Unknown);
        let text = cannot_write(
            "staging",
            "govuk-staging-developer",
            "developer",
            "govuk/signon/mysql",
        );
        assert!(
            text.contains("gds aws govuk-staging-platformengineer -e"),
            "{text}"
        );
    }
}
