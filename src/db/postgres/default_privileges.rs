//! Default privileges (`ALTER DEFAULT PRIVILEGES`) follow ownership by
//! hand: REASSIGN OWNED leaves them behind, so the conversion carries the app
//! user's entries over to the owner role.

use std::collections::BTreeSet;

use super::PgDb;
use crate::db::Statement;
use crate::db::error::DbResult;
use crate::db::ident::pg_ident;

impl PgDb {
    /// `ALTER DEFAULT PRIVILEGES` statements that give the owner role the
    /// defaults the app user had, in `database`: its own entries (so tables
    /// the owner role creates get the same grants) and entries of other
    /// roles that grant to the app user.
    pub(super) async fn default_privileges_to_copy(
        &self,
        database: &str,
        app_user: &str,
        owner_role: &str,
    ) -> DbResult<Vec<Statement>> {
        let mut conn = self.conn_in(Some(database)).await?;
        let rows: DbResult<Vec<DefaultAclItem>> = self
            .timed(
                sqlx::query_as(
                    "SELECT pg_get_userbyid(d.defaclrole)::text AS role, n.nspname::text AS schema,
                            d.defaclobjtype::text AS objtype,
                            CASE WHEN x.grantee = 0 THEN NULL ELSE pg_get_userbyid(x.grantee)::text END AS grantee,
                            x.privilege_type::text AS privilege, x.is_grantable
                     FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
                     CROSS JOIN LATERAL aclexplode(d.defaclacl) x
                     WHERE pg_get_userbyid(d.defaclrole) IN ($1, $2) OR x.grantee IN
                           (SELECT oid FROM pg_roles WHERE rolname IN ($1, $2))",
                )
                .bind(app_user)
                .bind(owner_role)
                .fetch_all(&mut *conn),
            )
            .await;
        conn.finish().await;
        Ok(default_privilege_diff(&rows?, app_user, owner_role))
    }
}

/// One exploded `pg_default_acl` entry. `grantee` `None` is PUBLIC.
#[derive(Debug, Clone)]
struct DefaultAclItem {
    role: String,
    schema: Option<String>,
    objtype: String,
    grantee: Option<String>,
    privilege: String,
    is_grantable: bool,
}
from_pg_row!(DefaultAclItem {
    role,
    schema,
    objtype,
    grantee,
    privilege,
    is_grantable
});

/// (for role, in schema, object type, grantee, privilege, grantable)
type AclKey = (String, Option<String>, String, Option<String>, String, bool);

/// What the owner role's default privileges lack (and, for the global
/// entries the app user customised, what they have too many of), as
/// ALTER DEFAULT PRIVILEGES statements. A role's own entries (owner rights)
/// are left alone: the owner of a new object always has them.
fn default_privilege_diff(items: &[DefaultAclItem], app: &str, owner: &str) -> Vec<Statement> {
    let key = |i: &DefaultAclItem, role: &str, grantee: Option<String>| -> AclKey {
        (
            role.to_owned(),
            i.schema.clone(),
            i.objtype.clone(),
            grantee,
            i.privilege.clone(),
            i.is_grantable,
        )
    };
    let map = |g: &Option<String>| match g.as_deref() {
        Some(g) if g == app => Some(owner.to_owned()),
        _ => g.clone(),
    };
    let mut want: BTreeSet<AclKey> = BTreeSet::new();
    let mut have: BTreeSet<AclKey> = BTreeSet::new();
    // Global (schema-less) object types the app user customised: there the
    // owner role's entry must match exactly, revokes included.
    let mut exact: BTreeSet<String> = BTreeSet::new();
    let mut owner_global: BTreeSet<String> = BTreeSet::new();
    for i in items {
        if i.role == app {
            if i.schema.is_none() {
                exact.insert(i.objtype.clone());
            }
            if i.grantee.as_deref() != Some(app) {
                want.insert(key(i, owner, map(&i.grantee)));
            }
        } else if i.role == owner {
            if i.schema.is_none() {
                owner_global.insert(i.objtype.clone());
            }
            if i.grantee.as_deref() != Some(owner) {
                have.insert(key(i, owner, i.grantee.clone()));
            }
        } else if i.grantee.as_deref() == Some(app) {
            want.insert(key(i, &i.role, Some(owner.to_owned())));
        } else if i.grantee.as_deref() == Some(owner) {
            have.insert(key(i, &i.role, i.grantee.clone()));
        }
    }
    // Without an entry of its own, a role has PostgreSQL's built-in
    // defaults: EXECUTE on functions and USAGE on types for PUBLIC.
    for (objtype, privilege) in [("f", "EXECUTE"), ("T", "USAGE")] {
        if exact.contains(objtype) && !owner_global.contains(objtype) {
            have.insert((
                owner.to_owned(),
                None,
                objtype.to_owned(),
                None,
                privilege.to_owned(),
                false,
            ));
        }
    }
    let revoke: Vec<&AclKey> = have
        .iter()
        .filter(|k| k.0 == owner && k.1.is_none() && exact.contains(&k.2) && !want.contains(*k))
        .collect();
    let grant: Vec<&AclKey> = want.iter().filter(|k| !have.contains(*k)).collect();

    let mut out = Vec::new();
    for (verb, keys) in [("REVOKE", revoke), ("GRANT", grant)] {
        // One statement per (role, schema, type, grantee, grantable).
        let mut groups: Vec<(&AclKey, Vec<&str>)> = Vec::new();
        for k in keys {
            match groups
                .iter_mut()
                .find(|(g, _)| (&g.0, &g.1, &g.2, &g.3, g.5) == (&k.0, &k.1, &k.2, &k.3, k.5))
            {
                Some((_, privs)) => privs.push(&k.4),
                None => groups.push((k, vec![&k.4])),
            }
        }
        for (k, privs) in groups {
            let schema =
                k.1.as_ref()
                    .map(|s| format!(" IN SCHEMA {}", pg_ident(s)))
                    .unwrap_or_default();
            let grantee =
                k.3.as_deref()
                    .map(pg_ident)
                    .unwrap_or_else(|| "PUBLIC".to_owned());
            let objects = match k.2.as_str() {
                "r" => "TABLES",
                "S" => "SEQUENCES",
                "f" => "FUNCTIONS",
                "T" => "TYPES",
                "n" => "SCHEMAS",
                _ => continue,
            };
            let text = if verb == "GRANT" {
                format!(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {}{schema} GRANT {} ON {objects} TO {grantee}{}",
                    pg_ident(&k.0),
                    privs.join(", "),
                    if k.5 { " WITH GRANT OPTION" } else { "" }
                )
            } else {
                format!(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {}{schema} REVOKE {} ON {objects} FROM {grantee}",
                    pg_ident(&k.0),
                    privs.join(", "),
                )
            };
            out.push(Statement::new(text));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(
        role: &str,
        schema: Option<&str>,
        objtype: &str,
        grantee: Option<&str>,
        p: &str,
    ) -> DefaultAclItem {
        DefaultAclItem {
            role: role.into(),
            schema: schema.map(Into::into),
            objtype: objtype.into(),
            grantee: grantee.map(Into::into),
            privilege: p.into(),
            is_grantable: false,
        }
    }

    fn texts(v: Vec<Statement>) -> Vec<String> {
        v.iter().map(|s| s.preview()).collect()
    }

    #[test]
    fn app_defaults_move_to_the_owner_role() {
        let items = [
            item("app", None, "r", Some("app"), "SELECT"),
            item("app", None, "r", Some("reader"), "SELECT"),
            item("app", Some("audit"), "S", Some("reader"), "USAGE"),
            item("app", Some("audit"), "S", Some("reader"), "SELECT"),
        ];
        assert_eq!(
            texts(default_privilege_diff(&items, "app", "own")),
            [
                r#"ALTER DEFAULT PRIVILEGES FOR ROLE "own" GRANT SELECT ON TABLES TO "reader""#,
                r#"ALTER DEFAULT PRIVILEGES FOR ROLE "own" IN SCHEMA "audit" GRANT SELECT, USAGE ON SEQUENCES TO "reader""#,
            ]
        );
    }

    #[test]
    fn revoked_public_execute_is_revoked_for_the_owner_role_too() {
        // The app revoked EXECUTE from PUBLIC: its entry holds only itself.
        let items = [item("app", None, "f", Some("app"), "EXECUTE")];
        assert_eq!(
            texts(default_privilege_diff(&items, "app", "own")),
            [r#"ALTER DEFAULT PRIVILEGES FOR ROLE "own" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"#]
        );
        // Once done, the owner role has its own entry and nothing is left.
        let done = [
            item("app", None, "f", Some("app"), "EXECUTE"),
            item("own", None, "f", Some("own"), "EXECUTE"),
        ];
        assert!(default_privilege_diff(&done, "app", "own").is_empty());
    }

    #[test]
    fn other_roles_defaults_for_the_app_are_granted_to_the_owner_role() {
        let items = [item("etl", Some("s"), "r", Some("app"), "SELECT")];
        assert_eq!(
            texts(default_privilege_diff(&items, "app", "own")),
            [r#"ALTER DEFAULT PRIVILEGES FOR ROLE "etl" IN SCHEMA "s" GRANT SELECT ON TABLES TO "own""#]
        );
        let done = [
            item("etl", Some("s"), "r", Some("app"), "SELECT"),
            item("etl", Some("s"), "r", Some("own"), "SELECT"),
        ];
        assert!(default_privilege_diff(&done, "app", "own").is_empty());
    }
}
