//! Owner roles: GOV.UK's "convert Postgres to use owner roles".
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

use sqlx::AssertSqlSafe;

use super::PgDb;
use super::catalog::{OBJECT_ACLS, ObjectPrivilege, PARAMETER_ACLS, USER_SCHEMA};
use crate::db::Statement;
use crate::db::error::{DbError, DbResult};
use crate::db::ident::pg_ident;
use crate::model::{DbObject, OwnedIn};

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

impl PgDb {
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
    /// the app user's default privileges over — privileges and defaults in
    /// every database where the app user has any. Empty when already done.
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
        if app_user == self.user {
            return Err(DbError::refused(format!(
                "the app user {} is the admin rotui is logged in as",
                pg_ident(app_user)
            ))
            .with_hint("REASSIGN OWNED BY the admin would move everything it owns; convert by hand"));
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
        // Every database where the app user owns or holds anything, its own
        // first: privileges and default privileges are per database too.
        let mut dbs: Vec<String> = self
            .depends_in(app_user, false)
            .await?
            .into_iter()
            .map(|d| d.database)
            .filter(|d| d != database)
            .collect();
        dbs.insert(0, database.to_owned());
        let mut plan = Vec::new();

        // 1. The role, and who is in it.
        if !role.exists {
            plan.push(Statement::new(format!("CREATE ROLE {o} NOLOGIN")));
        }
        // The running app must keep its rights once they are the owner
        // role's: it has to inherit them.
        if !role.exists || !self.is_member(app_user, owner_role).await? {
            let inherit = if self.inherit_per_grant() {
                " WITH INHERIT TRUE"
            } else {
                ""
            };
            plan.push(Statement::new(format!("GRANT {o} TO {a}{inherit}")));
        }
        if !self.inherit_per_grant() && !app.inherit {
            plan.push(Statement::new(format!("ALTER ROLE {a} INHERIT")));
        }
        if !role.admin_has_privs && self.user != owner_role {
            plan.push(Statement::new(format!("GRANT {o} TO {me}")));
        }
        let needs_app_privs = !owns_in.is_empty() || database_owner == app_user;
        if needs_app_privs && !app.admin_has_privs && self.user != app_user {
            plan.push(self.join_role(app_user, &app, "hand its objects to the owner role")?);
        }

        // 2. What the app user holds without owning it: memberships, then
        //    privileges on objects (granting those needs their owners'
        //    rights).
        plan.extend(
            self.join_privilege_owners(&dbs, app_user, owner_role, "grant to the owner role")
                .await?,
        );
        for m in self.memberships_to_copy(app_user, owner_role).await? {
            plan.push(Statement::new(format!(
                "GRANT {} TO {o}{}",
                pg_ident(&m.role),
                m.options(self.inherit_per_grant())
            )));
        }
        // Parameters are shared by every database: once.
        if self.version_num >= 150000 {
            for p in self
                .privileges_to_copy(None, PARAMETER_ACLS, app_user, owner_role)
                .await?
            {
                plan.push(Statement::new(p.grant_to(owner_role)));
            }
        }
        for db in &dbs {
            for p in self
                .privileges_to_copy(Some(db), OBJECT_ACLS, app_user, owner_role)
                .await?
            {
                plan.push(Statement::new(p.grant_to(owner_role)).in_database(db));
            }
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
        for db in dbs.iter().filter(|d| owns_in.iter().any(|o| &o.database == *d)) {
            plan.push(Statement::new(format!("REASSIGN OWNED BY {a} TO {o}")).in_database(db));
        }

        // 4. Default privileges (REASSIGN OWNED leaves them behind).
        for db in &dbs {
            plan.extend(
                self.default_privileges_to_copy(db, app_user, owner_role)
                    .await?
                    .into_iter()
                    .map(|s| s.in_database(db)),
            );
        }
        Ok(plan)
    }

    /// The GRANTs (and ALTER DEFAULT PRIVILEGES) the owner-role conversion
    /// would still have to make for `old`'s memberships, privileges and
    /// default privileges (in `databases`, and on parameters): empty when the
    /// owner role holds all of them.
    pub(super) async fn uncopied_privileges(
        &self,
        databases: &[String],
        old: &str,
        owner_role: &str,
    ) -> DbResult<Vec<String>> {
        let mut out: Vec<String> = self
            .memberships_to_copy(old, owner_role)
            .await?
            .into_iter()
            .map(|m| {
                format!(
                    "GRANT {} TO {}{}",
                    pg_ident(&m.role),
                    pg_ident(owner_role),
                    m.options(self.inherit_per_grant())
                )
            })
            .collect();
        if self.version_num >= 150000 {
            out.extend(
                self.privileges_to_copy(None, PARAMETER_ACLS, old, owner_role)
                    .await?
                    .iter()
                    .map(|p| p.grant_to(owner_role)),
            );
        }
        for db in databases {
            out.extend(
                self.privileges_to_copy(Some(db), OBJECT_ACLS, old, owner_role)
                    .await?
                    .iter()
                    .map(|p| format!("{} (in {})", p.grant_to(owner_role), pg_ident(db))),
            );
            // DROP OWNED deletes the old user's default privileges too.
            out.extend(
                self.default_privileges_to_copy(db, old, owner_role)
                    .await?
                    .iter()
                    .map(|s| format!("{} (in {})", s.preview(), pg_ident(db))),
            );
        }
        Ok(out)
    }

    /// Roles the app user is in, with their options (ADMIN; on 16+ INHERIT
    /// and SET too), that the owner role is not in with at least those
    /// options (new login users get them through the owner role).
    async fn memberships_to_copy(&self, app_user: &str, owner_role: &str) -> DbResult<Vec<Membership>> {
        // PostgreSQL 15 has neither inherit_option nor set_option: there a
        // membership always allows SET ROLE and inherits per role.
        let (inherit, set) = if self.inherit_per_grant() {
            ("m.inherit_option", "m.set_option")
        } else {
            ("true", "true")
        };
        let (inherit2, set2) = if self.inherit_per_grant() {
            ("m2.inherit_option", "m2.set_option")
        } else {
            ("true", "true")
        };
        self.timed(
            sqlx::query_as(AssertSqlSafe(format!(
                "WITH held AS (
                   SELECT g.oid AS roleid, g.rolname::text AS role, bool_or(m.admin_option) AS admin,
                          bool_or({inherit}) AS inherit, bool_or({set}) AS set
                   FROM pg_auth_members m
                   JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                   WHERE u.rolname = $1 AND g.rolname <> $2
                   GROUP BY 1, 2)
                 SELECT role, admin, inherit, set FROM held h
                 WHERE NOT EXISTS (SELECT 1 FROM pg_auth_members m2 JOIN pg_roles o ON o.oid = m2.member
                                   WHERE m2.roleid = h.roleid AND o.rolname = $2
                                     AND (m2.admin_option OR NOT h.admin)
                                     AND ({inherit2} OR NOT h.inherit)
                                     AND ({set2} OR NOT h.set))
                 ORDER BY 1"
            )))
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
        database: Option<&str>,
        objs: &str,
        app_user: &str,
        owner_role: &str,
    ) -> DbResult<Vec<ObjectPrivilege>> {
        let mut conn = self.conn_in(database).await?;
        let rows = self
            .timed(
                sqlx::query_as(AssertSqlSafe(format!(
                    "{objs},
                     roles AS (SELECT (SELECT oid FROM pg_roles WHERE rolname = $1) AS app,
                                      (SELECT oid FROM pg_roles WHERE rolname = $2) AS owner_role),
                     held AS (
                       SELECT o.kind, o.schema, o.name, o.args, o.col, a.privilege_type::text AS privilege, a.is_grantable,
                              EXISTS (SELECT 1 FROM aclexplode(o.acl) b
                                      WHERE b.grantee = roles.owner_role AND b.privilege_type = a.privilege_type
                                        AND (b.is_grantable OR NOT a.is_grantable)) AS already
                       FROM objs o CROSS JOIN roles CROSS JOIN LATERAL aclexplode(o.acl) a
                       WHERE a.grantee = roles.app
                         -- parameters have no owner (and the owner role may not exist yet)
                         AND (o.owner IS NULL OR (o.owner <> roles.app
                                                  AND o.owner IS DISTINCT FROM roles.owner_role)))
                     SELECT kind, schema, name, args, col, is_grantable,
                            array_agg(privilege ORDER BY privilege) AS privileges
                     FROM held WHERE NOT already
                     GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6"
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
}

/// A membership to copy, with its options.
#[derive(Debug)]
struct Membership {
    role: String,
    admin: bool,
    inherit: bool,
    set: bool,
}
from_pg_row!(Membership {
    role,
    admin,
    inherit,
    set
});

impl Membership {
    /// The `WITH …` of the GRANT: on 16+ every option explicitly (the
    /// defaults depend on the grantee), on 15 only ADMIN OPTION.
    fn options(&self, per_grant: bool) -> String {
        let tf = |b: bool| if b { "TRUE" } else { "FALSE" };
        if per_grant {
            format!(
                " WITH ADMIN {}, INHERIT {}, SET {}",
                tf(self.admin),
                tf(self.inherit),
                tf(self.set)
            )
        } else if self.admin {
            " WITH ADMIN OPTION".to_owned()
        } else {
            String::new()
        }
    }
}
