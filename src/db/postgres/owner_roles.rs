//! Owner roles: GOV.UK's "convert Postgres to use owner roles", then the new
//! login user that inherits the owner role.
//!
//! On owner roles, the database and every object in it belong to a NOLOGIN
//! role (`account-api-owner-role`); login users are members of it. Rotating
//! the login user then touches no object. Converting is computed from live
//! state, statement by statement, so a second run plans nothing and an
//! interrupted run resumes.
//!
//! Why the admin joins roles: on RDS the master user is CREATEROLE but not
//! superuser, and `ALTER DATABASE … OWNER`, `REASSIGN OWNED` and
//! `ALTER DEFAULT PRIVILEGES FOR ROLE` need the privileges of both the old
//! and the new owner. PostgreSQL 15 lets a CREATEROLE role grant itself a
//! non-superuser role, so the plan does that first, visibly.

use std::collections::BTreeSet;

use sqlx::AssertSqlSafe;

use super::PgDb;
use super::catalog::{OBJECT_ACLS, ObjectPrivilege, USER_SCHEMA};
use crate::db::error::{DbError, DbResult};
use crate::db::ident::{pg_ident, pg_str};
use crate::db::model::{DbObject, OwnedIn, Statement};
use crate::secret::{self, ExposeSecret, SecretString};

/// Whether a database is on owner roles, and what is still missing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OwnerRoleStatus {
    pub database: String,
    pub owner_role: String,
    pub owner_role_exists: bool,
    /// An owner role must not log in.
    pub owner_role_can_login: bool,
    pub app_user_is_member: bool,
    pub database_owner: String,
    /// Objects of the database still owned by the app user.
    pub owned_by_app_user: Vec<DbObject>,
    /// Every database where the app user still owns objects.
    pub app_user_owns_in: Vec<OwnedIn>,
}

impl OwnerRoleStatus {
    /// Everything belongs to the (NOLOGIN) owner role and the app user
    /// inherits it.
    pub fn on_owner_roles(&self) -> bool {
        self.owner_role_exists
            && !self.owner_role_can_login
            && self.app_user_is_member
            && self.database_owner == self.owner_role
            && self.owned_by_app_user.is_empty()
            && self.app_user_owns_in.is_empty()
    }
}

/// The runbook's "verify role inheritance" check for a login user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inheritance {
    pub user: String,
    /// Roles the user is a direct member of (the runbook's pg_auth_members query).
    pub member_of: Vec<String>,
    /// The user inherits its roles' privileges (`INHERIT`, the default).
    pub inherits: bool,
    /// `ALTER ROLE … SET role = …`: the role new sessions act as.
    pub session_role: Option<String>,
}

impl Inheritance {
    /// The user acts with the owner role's rights and its new objects belong
    /// to the owner role.
    pub fn is_complete(&self, owner_role: &str) -> bool {
        self.inherits
            && self.member_of.iter().any(|r| r == owner_role)
            && self.session_role.as_deref() == Some(owner_role)
    }
}

/// Facts about a role that plans depend on.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct RoleFacts {
    pub exists: bool,
    pub can_login: bool,
    /// The admin (current_user) has this role's privileges.
    pub admin_has_privs: bool,
}

impl PgDb {
    pub(super) async fn role_facts(&self, role: &str) -> DbResult<RoleFacts> {
        self.timed(
            sqlx::query_as(
                "SELECT r.oid IS NOT NULL AS exists, COALESCE(r.rolcanlogin, false) AS can_login,
                        COALESCE(pg_has_role(current_user, r.oid, 'USAGE'), false) AS admin_has_privs
                 FROM (SELECT 1) one LEFT JOIN pg_roles r ON r.rolname = $1",
            )
            .bind(role)
            .fetch_one(&self.pool),
        )
        .await
    }

    /// Whether `member` is a direct member of `role`.
    async fn is_member(&self, member: &str, role: &str) -> DbResult<bool> {
        self.timed(
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_auth_members m
                   JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                   WHERE r.rolname = $1 AND u.rolname = $2)",
            )
            .bind(role)
            .bind(member)
            .fetch_one(&self.pool),
        )
        .await
    }

    async fn database_owner(&self, database: &str) -> DbResult<String> {
        let owner: Option<String> = self
            .timed(
                sqlx::query_scalar(
                    "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
                )
                .bind(database)
                .fetch_optional(&self.pool),
            )
            .await?;
        owner.ok_or_else(|| {
            DbError::new(
                crate::db::DbErrorKind::NotFound,
                format!("database {} does not exist", pg_ident(database)),
            )
            .with_hint("check the database name (it is in the app's DATABASE_URL template)")
        })
    }

    /// Is `database` on owner roles?
    pub async fn owner_role_status(
        &self,
        database: &str,
        app_user: &str,
        owner_role: &str,
    ) -> DbResult<OwnerRoleStatus> {
        let role = self.role_facts(owner_role).await?;
        let database_owner = self.database_owner(database).await?;
        let app_user_is_member = role.exists && self.is_member(app_user, owner_role).await?;
        let owned_by_app_user = self
            .objects(database)
            .await?
            .into_iter()
            .filter(|o| o.owner == app_user)
            .collect();
        Ok(OwnerRoleStatus {
            database: database.to_owned(),
            owner_role: owner_role.to_owned(),
            owner_role_exists: role.exists,
            owner_role_can_login: role.can_login,
            app_user_is_member,
            database_owner,
            owned_by_app_user,
            app_user_owns_in: self.owned_in(app_user).await?,
        })
    }

    /// The statements that put `database` on owner roles: create the
    /// NOLOGIN owner role, make the app user and the admin members, give the
    /// owner role the app user's memberships and privileges on objects it does
    /// not own, hand over the database and the app user's schemas, REASSIGN
    /// OWNED in every database where the app user owns objects, and carry
    /// the app user's default privileges over. Empty when already done.
    pub async fn plan_convert_to_owner_roles(
        &self,
        database: &str,
        app_user: &str,
        owner_role: &str,
    ) -> DbResult<Vec<Statement>> {
        let app = self.role_facts(app_user).await?;
        if !app.exists {
            return Err(
                DbError::refused(format!("the app user {} does not exist", pg_ident(app_user)))
                    .with_hint("check the user name in the app's secret"),
            );
        }
        if app_user == owner_role {
            return Err(DbError::refused("the owner role must differ from the app user"));
        }
        let role = self.role_facts(owner_role).await?;
        if role.exists && role.can_login {
            return Err(DbError::refused(format!(
                "{} exists and can log in; an owner role must be NOLOGIN",
                pg_ident(owner_role)
            ))
            .with_hint(
                "choose another owner role name, or make it NOLOGIN first if nobody logs in with it",
            ));
        }
        let o = pg_ident(owner_role);
        let a = pg_ident(app_user);
        let me = pg_ident(&self.user);
        let database_owner = self.database_owner(database).await?;
        let owns_in = self.owned_in(app_user).await?;
        let mut plan = Vec::new();

        // 1. The role, and who is in it.
        if !role.exists {
            plan.push(Statement::new(format!("CREATE ROLE {o} NOLOGIN")));
        }
        if !role.exists || !self.is_member(app_user, owner_role).await? {
            plan.push(Statement::new(format!("GRANT {o} TO {a}")));
        }
        if !role.admin_has_privs && self.user != owner_role {
            plan.push(Statement::new(format!("GRANT {o} TO {me}")));
        }
        let needs_app_privs = !owns_in.is_empty() || database_owner == app_user;
        if needs_app_privs && !app.admin_has_privs && self.user != app_user {
            plan.push(Statement::new(format!("GRANT {a} TO {me}")));
        }

        // 2. What the app user holds without owning it: memberships, then
        //    privileges on the database's objects (granting those needs
        //    their owners' rights).
        for owner in self.foreign_acl_owners(database, app_user).await? {
            if owner.name == owner_role {
                continue;
            }
            if owner.superuser {
                return Err(DbError::refused(format!(
                    "{} holds privileges on objects owned by the superuser {} in {}, which the admin cannot grant \
                     to the owner role",
                    pg_ident(app_user),
                    pg_ident(&owner.name),
                    pg_ident(database)
                ))
                .with_hint("revoke them from the app user if unused, or have a superuser grant them to the owner role"));
            }
            plan.push(Statement::new(format!("GRANT {} TO {me}", pg_ident(&owner.name))));
        }
        for r in self.memberships_to_copy(app_user, owner_role).await? {
            plan.push(Statement::new(format!("GRANT {} TO {o}", pg_ident(&r))));
        }
        for p in self.privileges_to_copy(database, app_user, owner_role).await? {
            plan.push(
                Statement::new(format!(
                    "GRANT {} ON {} TO {o}{}",
                    p.privileges.join(", "),
                    p.target(),
                    if p.is_grantable { " WITH GRANT OPTION" } else { "" }
                ))
                .in_database(database),
            );
        }

        // 3. Ownership: the database, the app user's schemas, then everything
        //    else it owns, in every database.
        if database_owner != owner_role {
            plan.push(Statement::new(format!(
                "ALTER DATABASE {} OWNER TO {o}",
                pg_ident(database)
            )));
        }
        for schema in self.schemas_owned_by(database, app_user).await? {
            plan.push(
                Statement::new(format!("ALTER SCHEMA {} OWNER TO {o}", pg_ident(&schema)))
                    .in_database(database),
            );
        }
        let mut dbs: Vec<&str> = owns_in.iter().map(|d| d.database.as_str()).collect();
        // The app's own database first: it is the one that matters most.
        dbs.sort_by_key(|d| (*d != database, *d));
        for db in dbs {
            plan.push(Statement::new(format!("REASSIGN OWNED BY {a} TO {o}")).in_database(db));
        }

        // 4. Default privileges (REASSIGN OWNED leaves them behind).
        plan.extend(
            self.default_privileges_to_copy(database, app_user, owner_role)
                .await?
                .into_iter()
                .map(|s| s.in_database(database)),
        );
        Ok(plan)
    }

    /// Roles the app user is in that the owner role is not (new login users
    /// get them through the owner role).
    async fn memberships_to_copy(&self, app_user: &str, owner_role: &str) -> DbResult<Vec<String>> {
        self.timed(
            sqlx::query_scalar(
                "SELECT g.rolname::text FROM pg_auth_members m
                 JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                 WHERE u.rolname = $1 AND g.rolname <> $2
                   AND NOT EXISTS (SELECT 1 FROM pg_auth_members m2 JOIN pg_roles o ON o.oid = m2.member
                                   WHERE m2.roleid = g.oid AND o.rolname = $2)
                 ORDER BY 1",
            )
            .bind(app_user)
            .bind(owner_role)
            .fetch_all(&self.pool),
        )
        .await
    }

    /// The app user's privileges on objects of `database` owned by someone
    /// else (REASSIGN OWNED does not move those), minus what the owner role
    /// already has.
    async fn privileges_to_copy(
        &self,
        database: &str,
        app_user: &str,
        owner_role: &str,
    ) -> DbResult<Vec<ObjectPrivilege>> {
        let mut conn = self.conn_in(Some(database)).await?;
        let rows = self
            .timed(
                sqlx::query_as(AssertSqlSafe(format!(
                    "{OBJECT_ACLS},
                     roles AS (SELECT (SELECT oid FROM pg_roles WHERE rolname = $1) AS app,
                                      (SELECT oid FROM pg_roles WHERE rolname = $2) AS owner_role),
                     held AS (
                       SELECT o.kind, o.schema, o.name, o.args, a.privilege_type::text AS privilege, a.is_grantable,
                              EXISTS (SELECT 1 FROM aclexplode(o.acl) b
                                      WHERE b.grantee = roles.owner_role AND b.privilege_type = a.privilege_type
                                        AND (b.is_grantable OR NOT a.is_grantable)) AS already
                       FROM objs o CROSS JOIN roles CROSS JOIN LATERAL aclexplode(o.acl) a
                       WHERE a.grantee = roles.app AND o.owner <> roles.app
                         AND o.owner IS DISTINCT FROM roles.owner_role)
                     SELECT kind, schema, name, args, is_grantable,
                            array_agg(privilege ORDER BY privilege) AS privileges
                     FROM held WHERE NOT already
                     GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
                )))
                .bind(app_user)
                .bind(owner_role)
                .fetch_all(&mut *conn),
            )
            .await;
        conn.finish().await;
        rows
    }

    async fn schemas_owned_by(&self, database: &str, role: &str) -> DbResult<Vec<String>> {
        let mut conn = self.conn_in(Some(database)).await?;
        let rows = self
            .timed(
                sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT n.nspname::text FROM pg_namespace n
                     WHERE n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = $1) AND {USER_SCHEMA} ORDER BY 1"
                )))
                .bind(role)
                .fetch_all(&mut *conn),
            )
            .await;
        conn.finish().await;
        rows
    }

    /// `ALTER DEFAULT PRIVILEGES` statements that give the owner role the
    /// defaults the app user had, in `database`: its own entries (so tables
    /// the owner role creates get the same grants) and entries of other
    /// roles that grant to the app user.
    async fn default_privileges_to_copy(
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

    /// Create the dated login user with `password` (if it does not exist
    /// yet: an existing user is reused, not an error), make it a member of
    /// the owner role, and make its sessions act as the owner role so the
    /// objects it creates belong to the owner role.
    pub async fn plan_create_login(
        &self,
        new_user: &str,
        password: &SecretString,
        owner_role: &str,
    ) -> DbResult<Vec<Statement>> {
        secret::register(password.expose_secret());
        let role = self.role_facts(owner_role).await?;
        if !role.exists {
            return Err(
                DbError::refused(format!("the owner role {} does not exist", pg_ident(owner_role)))
                    .with_hint("convert the database to owner roles first"),
            );
        }
        let user = self.role_facts(new_user).await?;
        let n = pg_ident(new_user);
        let mut plan = Vec::new();
        if !user.exists {
            plan.push(Statement::with_password(
                format!("CREATE USER {n} WITH PASSWORD {}", Statement::PASSWORD),
                password.clone(),
                pg_str,
            ));
        } else if !user.can_login {
            plan.push(Statement::new(format!("ALTER ROLE {n} LOGIN")));
        }
        if !user.exists || !self.is_member(new_user, owner_role).await? {
            plan.push(Statement::new(format!("GRANT {} TO {n}", pg_ident(owner_role))));
        }
        let inh = self.verify_inheritance(new_user).await?;
        if inh.session_role.as_deref() != Some(owner_role) {
            plan.push(Statement::new(format!(
                "ALTER ROLE {n} SET role = {}",
                pg_str(owner_role)
            )));
        }
        Ok(plan)
    }

    /// `ALTER ROLE … PASSWORD`, e.g. to resume a rotation whose user was
    /// created but whose password was never confirmed.
    pub fn plan_set_password(&self, user: &str, password: &SecretString) -> Statement {
        secret::register(password.expose_secret());
        Statement::with_password(
            format!(
                "ALTER ROLE {} WITH PASSWORD {}",
                pg_ident(user),
                Statement::PASSWORD
            ),
            password.clone(),
            pg_str,
        )
    }

    /// What the runbook's pg_auth_members query shows for `user`, plus
    /// whether it inherits and which role its sessions act as.
    pub async fn verify_inheritance(&self, user: &str) -> DbResult<Inheritance> {
        let (inherits, member_of, session_role): (Option<bool>, Vec<String>, Option<String>) = self
            .timed(
                sqlx::query_as(
                    "SELECT (SELECT rolinherit FROM pg_roles WHERE rolname = $1),
                            ARRAY(SELECT m.rolname::text FROM pg_roles r
                                  JOIN pg_auth_members am ON r.oid = am.member
                                  JOIN pg_roles m ON am.roleid = m.oid
                                  WHERE r.rolname = $1 ORDER BY 1),
                            (SELECT substr(c, 6) FROM pg_db_role_setting s
                             CROSS JOIN LATERAL unnest(s.setconfig) c
                             WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)
                               AND s.setdatabase = 0 AND c LIKE 'role=%')",
                )
                .bind(user)
                .fetch_one(&self.pool),
            )
            .await?;
        Ok(Inheritance {
            user: user.to_owned(),
            member_of,
            inherits: inherits.unwrap_or(false),
            session_role,
        })
    }
}

/// One exploded `pg_default_acl` entry. `grantee` `None` is PUBLIC.
#[derive(Debug, Clone, sqlx::FromRow)]
struct DefaultAclItem {
    role: String,
    schema: Option<String>,
    objtype: String,
    grantee: Option<String>,
    privilege: String,
    is_grantable: bool,
}

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
