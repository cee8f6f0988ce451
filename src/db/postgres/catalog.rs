//! The read side: roles as `\du` shows them, a role's grants, the objects of
//! a database with their owners, default privileges, and the databases in
//! which a role still owns something.

use sqlx::{AssertSqlSafe, Row};

use super::PgDb;
use super::roles::ADMIN_CAN_GRANT;
use crate::db::error::DbResult;
use crate::db::ident::pg_ident;
use crate::model::{DbObject, DefaultPrivilege, Grant, GrantKind, OwnedIn, User};

/// Schemas that belong to PostgreSQL itself.
pub(super) const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'";

impl PgDb {
    /// Every role but PostgreSQL's predefined `pg_*` ones, with what `\du`
    /// shows plus per-role settings (`ALTER ROLE … SET`).
    pub async fn users(&self) -> DbResult<Vec<User>> {
        let rows = self
            .timed(
                sqlx::query(
                    "SELECT r.rolname::text AS name, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb,
                            r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit,
                            r.rolvaliduntil::text AS valid_until,
                            COALESCE(r.rolvaliduntil < now(), false) AS expired,
                            ARRAY(SELECT b.rolname::text FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
                                  WHERE m.member = r.oid ORDER BY 1) AS member_of,
                            ARRAY(SELECT CASE WHEN s.setdatabase = 0 THEN c ELSE c || ' (in ' || d.datname || ')' END
                                  FROM pg_db_role_setting s
                                  LEFT JOIN pg_database d ON d.oid = s.setdatabase
                                  CROSS JOIN LATERAL unnest(s.setconfig) AS c
                                  WHERE s.setrole = r.oid ORDER BY 1) AS settings
                     FROM pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1",
                )
                .fetch_all(&self.pool),
            )
            .await?;
        rows.iter()
            .map(|r| {
                let flag = |c: &str| r.try_get::<bool, _>(c);
                let connlimit: i32 = r.try_get("rolconnlimit")?;
                let valid_until: Option<String> = r.try_get("valid_until")?;
                let mut attributes = Vec::new();
                for (col, on, label) in [
                    ("rolsuper", true, "Superuser"),
                    ("rolinherit", false, "No inheritance"),
                    ("rolcreaterole", true, "Create role"),
                    ("rolcreatedb", true, "Create DB"),
                    ("rolcanlogin", false, "Cannot login"),
                    ("rolreplication", true, "Replication"),
                    ("rolbypassrls", true, "Bypass RLS"),
                ] {
                    if flag(col)? == on {
                        attributes.push(label.to_owned());
                    }
                }
                match connlimit {
                    -1 => {}
                    1 => attributes.push("1 connection".to_owned()),
                    n => attributes.push(format!("{n} connections")),
                }
                if let Some(v) = &valid_until {
                    attributes.push(format!("Password valid until {v}"));
                }
                Ok(User {
                    name: r.try_get("name")?,
                    host: None,
                    can_login: flag("rolcanlogin")?,
                    superuser: flag("rolsuper")?,
                    auth_plugin: None,
                    password_expired: flag("expired")?,
                    account_locked: false,
                    can_grant: flag("rolcreaterole")?,
                    attributes,
                    member_of: r.try_get("member_of")?,
                    valid_until,
                    settings: r.try_get("settings")?,
                    is_role: !flag("rolcanlogin")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// A role's memberships (with ADMIN OPTION) and its privileges on the
    /// objects of the pool's database (the database itself, schemas,
    /// relations, routines). An owner's own rights are ownership, shown by
    /// [`PgDb::objects`], not repeated here.
    pub async fn grants(&self, role: &str) -> DbResult<Vec<Grant>> {
        let memberships: Vec<(String, bool)> = self
            .timed(
                sqlx::query_as(
                    "SELECT b.rolname::text, m.admin_option FROM pg_auth_members m
                     JOIN pg_roles b ON b.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
                     WHERE r.rolname = $1 ORDER BY 1",
                )
                .bind(role)
                .fetch_all(&self.pool),
            )
            .await?;
        let mut grants: Vec<Grant> = memberships
            .into_iter()
            .map(|(of, admin)| Grant {
                raw: format!(
                    "GRANT {} TO {}{}",
                    pg_ident(&of),
                    pg_ident(role),
                    if admin { " WITH ADMIN OPTION" } else { "" }
                ),
                privileges: vec![of],
                on: String::new(),
                kind: GrantKind::Membership,
                with_grant_option: admin,
            })
            .collect();

        let mut rows: Vec<ObjectPrivilege> = Vec::new();
        let sources: &[&str] = if self.version_num >= 150000 {
            &[OBJECT_ACLS, PARAMETER_ACLS]
        } else {
            &[OBJECT_ACLS]
        };
        for objs in sources {
            rows.extend(
                self.timed(
                    sqlx::query_as::<_, ObjectPrivilege>(AssertSqlSafe(format!(
                        "{objs}
                         SELECT o.kind, o.schema, o.name, o.args, o.col, a.is_grantable,
                                array_agg(a.privilege_type::text ORDER BY a.privilege_type) AS privileges
                         FROM objs o CROSS JOIN LATERAL aclexplode(o.acl) a
                         WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
                           AND a.grantee IS DISTINCT FROM o.owner
                         GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6"
                    )))
                    .bind(role)
                    .fetch_all(&self.pool),
                )
                .await?,
            );
        }
        grants.extend(rows.into_iter().map(|p| {
            let on = p.on();
            Grant {
                raw: p.grant_to(role),
                privileges: p.privileges,
                on,
                kind: GrantKind::Object,
                with_grant_option: p.is_grantable,
            }
        }));
        Ok(grants)
    }

    /// `database`'s `pg_database.oid`, `None` when there is no such
    /// database. A restore (DROP and CREATE, or CREATE and RENAME) gives it a
    /// new one, so the OID tells one incarnation of a database from the next.
    pub async fn database_oid(&self, database: &str) -> DbResult<Option<i64>> {
        self.timed(
            sqlx::query_scalar("SELECT oid::bigint FROM pg_database WHERE datname = $1")
                .bind(database)
                .fetch_optional(&self.pool),
        )
        .await
    }

    /// The objects of `database` with their owners: the database itself, its
    /// schemas, tables, sequences, views, materialized views, foreign tables,
    /// routines and user-defined types (extension members left out).
    pub async fn objects(&self, database: &str) -> DbResult<Vec<DbObject>> {
        let mut conn = self.conn_in(Some(database)).await?;
        let rows: DbResult<Vec<ObjectRow>> = self
            .timed(
                sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT kind, schema, name, owner FROM (
                       SELECT 0 AS rank, 'database' AS kind, NULL::text AS schema, d.datname::text AS name,
                              pg_get_userbyid(d.datdba)::text AS owner
                       FROM pg_database d WHERE d.datname = current_database()
                       UNION ALL
                       SELECT 1, 'schema', NULL, n.nspname::text, pg_get_userbyid(n.nspowner)::text
                       FROM pg_namespace n WHERE {USER_SCHEMA}
                       UNION ALL
                       SELECT 2, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                 WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'table' END,
                              n.nspname::text, c.relname::text, pg_get_userbyid(c.relowner)::text
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {USER_SCHEMA} {NOT_EXT_CLASS}
                       UNION ALL
                       SELECT 3, CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
                              n.nspname::text, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                              pg_get_userbyid(p.proowner)::text
                       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                       WHERE {USER_SCHEMA} {NOT_EXT_PROC}
                       UNION ALL
                       SELECT 4, 'type', n.nspname::text, t.typname::text, pg_get_userbyid(t.typowner)::text
                       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                       WHERE {USER_SCHEMA} {NOT_EXT_TYPE}
                         AND (t.typtype IN ('d', 'e', 'r')
                              OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')))
                     ) o ORDER BY rank, schema NULLS FIRST, kind, name"
                )))
                .fetch_all(&mut *conn),
            )
            .await;
        conn.finish().await;
        Ok(rows?
            .into_iter()
            .map(|(kind, schema, name, owner)| DbObject {
                kind,
                schema,
                name,
                owner,
            })
            .collect())
    }

    /// `ALTER DEFAULT PRIVILEGES` entries of `database` (they are per database).
    pub async fn default_privileges(&self, database: &str) -> DbResult<Vec<DefaultPrivilege>> {
        let mut conn = self.conn_in(Some(database)).await?;
        let rows: DbResult<Vec<DefaultAclRow>> = self
            .timed(
                sqlx::query_as(
                    "SELECT pg_get_userbyid(a.defaclrole)::text, n.nspname::text,
                            CASE a.defaclobjtype WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'function'
                                 WHEN 'T' THEN 'type' WHEN 'n' THEN 'schema' ELSE a.defaclobjtype::text END,
                            a.defaclacl::text[]
                     FROM pg_default_acl a LEFT JOIN pg_namespace n ON n.oid = a.defaclnamespace
                     ORDER BY 1, 2 NULLS FIRST, 3",
                )
                .fetch_all(&mut *conn),
            )
            .await;
        conn.finish().await;
        Ok(rows?
            .into_iter()
            .map(|(owner, schema, object_type, acl)| DefaultPrivilege {
                owner,
                schema,
                object_type,
                acl,
            })
            .collect())
    }

    /// The databases in which `role` still owns objects (from the shared
    /// catalogue `pg_shdepend`, so one query from any database sees them
    /// all). A database the role owns counts as an object in it. Default
    /// privileges are not objects and are not counted.
    pub async fn owned_in(&self, role: &str) -> DbResult<Vec<OwnedIn>> {
        self.depends_in(role, true).await
    }

    /// Databases where `role` owns something or holds privileges: every
    /// database where `DROP ROLE` would find a dependency.
    pub(super) async fn depends_in(&self, role: &str, owner_only: bool) -> DbResult<Vec<OwnedIn>> {
        let rows: Vec<(String, i64)> = self
            .timed(
                sqlx::query_as(
                    "SELECT COALESCE(d.datname, sd.datname)::text AS database, count(*)::bigint
                     FROM pg_shdepend s
                     LEFT JOIN pg_database d ON d.oid = s.dbid
                     LEFT JOIN pg_database sd ON s.dbid = 0 AND s.classid = 'pg_database'::regclass AND sd.oid = s.objid
                     WHERE s.refclassid = 'pg_authid'::regclass
                       AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)
                       AND (NOT $2 OR (s.deptype = 'o' AND s.classid <> 'pg_default_acl'::regclass))
                       AND COALESCE(d.datname, sd.datname) IS NOT NULL
                     GROUP BY 1 ORDER BY 1",
                )
                .bind(role)
                .bind(owner_only)
                .fetch_all(&self.pool),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(database, objects)| OwnedIn { database, objects })
            .collect())
    }
}

impl PgDb {
    /// Grantors (usually the owners) of the privileges `role` holds on
    /// objects in `database` (and roles whose default privileges name it),
    /// when the admin has none of their privileges. Copying or revoking those privileges (GRANT to
    /// the owner role, DROP OWNED) needs the owner's rights: without them
    /// PostgreSQL only warns and does nothing.
    pub(super) async fn foreign_acl_owners(&self, database: &str, role: &str) -> DbResult<Vec<AclOwner>> {
        let mut conn = self.conn_in(Some(database)).await?;
        let rows = self
            .timed(
                sqlx::query_as(AssertSqlSafe(format!(
                    "{OBJECT_ACLS},
                     me AS (SELECT oid FROM pg_roles WHERE rolname = $1)
                     SELECT DISTINCT r.rolname::text AS name, r.rolsuper AS superuser,
                            COALESCE({ADMIN_CAN_GRANT}, false) AS admin_can_grant FROM (
                       SELECT a.grantor AS owner FROM objs o CROSS JOIN LATERAL aclexplode(o.acl) a, me WHERE a.grantee = me.oid
                       UNION
                       SELECT d.defaclrole FROM pg_default_acl d CROSS JOIN LATERAL aclexplode(d.defaclacl) a, me
                       WHERE a.grantee = me.oid
                     ) x JOIN pg_roles r ON r.oid = x.owner
                     WHERE r.rolname <> $1 AND NOT pg_has_role(current_user, r.oid, 'USAGE')
                     ORDER BY 1"
                )))
                .bind(role)
                .fetch_all(&mut *conn),
            )
            .await;
        conn.finish().await;
        rows
    }
}

/// A role that owns objects another role holds privileges on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AclOwner {
    pub name: String,
    pub superuser: bool,
    pub admin_can_grant: bool,
}
from_pg_row!(AclOwner {
    name,
    superuser,
    admin_can_grant
});

/// (kind, schema, name, owner)
type ObjectRow = (String, Option<String>, String, String);
/// (owner, schema, object type, ACL items)
type DefaultAclRow = (String, Option<String>, String, Vec<String>);

/// Extension members belong to the extension, not to the app.
const NOT_EXT_CLASS: &str = "AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')";
const NOT_EXT_PROC: &str = "AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')";
const NOT_EXT_TYPE: &str = "AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_type'::regclass AND e.objid = t.oid AND e.deptype = 'e')";

/// Objects of the current database that carry an ACL, with their owners:
/// a CTE `objs(kind, schema, name, args, col, acl, owner)`. `kind` is the
/// word GRANT takes (`TABLE`, `FOREIGN SERVER`, …); columns are `COLUMN`
/// rows of their table (`col` set), large objects are named by their OID.
pub(super) const OBJECT_ACLS: &str = "WITH objs AS (
    SELECT 'DATABASE' AS kind, NULL::text AS schema, d.datname::text AS name, NULL::text AS args, NULL::text AS col,
           d.datacl AS acl, d.datdba AS owner
    FROM pg_database d WHERE d.datname = current_database()
    UNION ALL
    SELECT 'SCHEMA', NULL, n.nspname::text, NULL, NULL, n.nspacl, n.nspowner FROM pg_namespace n
    UNION ALL
    SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname::text, c.relname::text, NULL, NULL,
           c.relacl, c.relowner
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT 'COLUMN', n.nspname::text, c.relname::text, NULL, a.attname::text, a.attacl, c.relowner
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    UNION ALL
    SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, n.nspname::text, p.proname::text,
           pg_get_function_identity_arguments(p.oid), NULL, p.proacl, p.proowner
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    UNION ALL
    SELECT 'TYPE', n.nspname::text, t.typname::text, NULL, NULL, t.typacl, t.typowner
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typacl IS NOT NULL
    UNION ALL
    SELECT 'LANGUAGE', NULL, l.lanname::text, NULL, NULL, l.lanacl, l.lanowner FROM pg_language l
    UNION ALL
    SELECT 'FOREIGN DATA WRAPPER', NULL, w.fdwname::text, NULL, NULL, w.fdwacl, w.fdwowner FROM pg_foreign_data_wrapper w
    UNION ALL
    SELECT 'FOREIGN SERVER', NULL, s.srvname::text, NULL, NULL, s.srvacl, s.srvowner FROM pg_foreign_server s
    UNION ALL
    SELECT 'LARGE OBJECT', NULL, m.oid::text, NULL, NULL, m.lomacl, m.lomowner FROM pg_largeobject_metadata m
)";

/// Parameters (`pg_parameter_acl`, PostgreSQL 15+): shared by every database,
/// so read once. The same columns as [`OBJECT_ACLS`]; parameters have no owner
/// (only superusers and holders of the grant option can grant them).
pub(super) const PARAMETER_ACLS: &str = "WITH objs AS (
    SELECT 'PARAMETER' AS kind, NULL::text AS schema, p.parname::text AS name, NULL::text AS args, NULL::text AS col,
           p.paracl AS acl, NULL::oid AS owner
    FROM pg_parameter_acl p
)";

/// One row of privileges on one object, as `GRANT` needs it.
#[derive(Debug)]
pub(super) struct ObjectPrivilege {
    pub kind: String,
    pub schema: Option<String>,
    pub name: String,
    pub args: Option<String>,
    /// A column privilege's column (then `kind` is `COLUMN`, `name` its table).
    pub col: Option<String>,
    pub is_grantable: bool,
    pub privileges: Vec<String>,
}
from_pg_row!(ObjectPrivilege {
    kind,
    schema,
    name,
    args,
    col,
    is_grantable,
    privileges
});

impl ObjectPrivilege {
    /// The `ON …` part of a GRANT, quoted: `TABLE "public"."users"`,
    /// `FUNCTION "public"."f"(integer)`, `DATABASE "x"`, `LARGE OBJECT 16400`,
    /// `PARAMETER "log_statement"`; a column's table.
    pub fn target(&self) -> String {
        let kind = match self.kind.as_str() {
            "COLUMN" => "TABLE",
            k => k,
        };
        let mut t = format!("{kind} ");
        if let Some(s) = &self.schema {
            t.push_str(&pg_ident(s));
            t.push('.');
        }
        match kind {
            // An OID: a number, never quoted.
            "LARGE OBJECT" => t.push_str(&self.name),
            // Dotted names (`plpgsql.extra_warnings`) quote each part.
            "PARAMETER" => t.push_str(&self.name.split('.').map(pg_ident).collect::<Vec<_>>().join(".")),
            _ => t.push_str(&pg_ident(&self.name)),
        }
        if let Some(a) = &self.args {
            t.push('(');
            t.push_str(a);
            t.push(')');
        }
        t
    }

    /// The privilege list of a GRANT: `SELECT, UPDATE`, or for a column
    /// `SELECT ("email"), UPDATE ("email")`.
    pub fn privilege_list(&self) -> String {
        match &self.col {
            Some(c) => self
                .privileges
                .iter()
                .map(|p| format!("{p} ({})", pg_ident(c)))
                .collect::<Vec<_>>()
                .join(", "),
            None => self.privileges.join(", "),
        }
    }

    /// `GRANT … ON … TO grantee [WITH GRANT OPTION]`.
    pub fn grant_to(&self, grantee: &str) -> String {
        format!(
            "GRANT {} ON {} TO {}{}",
            self.privilege_list(),
            self.target(),
            pg_ident(grantee),
            if self.is_grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            }
        )
    }

    /// What the GRANT is on, for display: the target, or `TABLE t (col)`.
    pub fn on(&self) -> String {
        match &self.col {
            Some(c) => format!("{} ({})", self.target(), pg_ident(c)),
            None => self.target(),
        }
    }
}
