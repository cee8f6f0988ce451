//! Equivalence of two logins: what the new login can do, object by object,
//! against what the old one could, through PostgreSQL's own privilege
//! functions (`has_*_privilege`, `pg_has_role`), so ownership, PUBLIC,
//! inheritance (per role on 15, per grant on 16+), column grants and role
//! chains all count as the server counts them.
//!
//! Compared: in every database the old login may connect to, tables, views
//! and foreign tables (and their column grants), sequences, routines,
//! schemas, types, languages, foreign-data wrappers and servers, large
//! objects; once, the shared ones: databases, roles (MEMBER, USAGE, ADMIN;
//! SET on 16+), tablespaces and parameters (15+). PostgreSQL's own catalog
//! objects count only where their ACL was changed.

use sqlx::AssertSqlSafe;

use super::PgDb;
use super::catalog::USER_SCHEMA;
use crate::db::Statement;
use crate::db::error::{DbError, DbResult};
use crate::db::ident::pg_ident;

/// One privilege on one object that one of the two logins has and the other lacks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrivilegeDifference {
    /// Where the object lives; `None` for shared objects (databases, roles,
    /// tablespaces, parameters).
    pub database: Option<String>,
    /// `TABLE`, `COLUMN`, `SEQUENCE`, `FUNCTION`, `SCHEMA`, `TYPE`, `LANGUAGE`,
    /// `FOREIGN DATA WRAPPER`, `FOREIGN SERVER`, `LARGE OBJECT`, `DATABASE`,
    /// `ROLE`, `TABLESPACE`, `PARAMETER`.
    pub kind: String,
    /// The object, quoted as GRANT takes it (a column: `table (column)`).
    pub object: String,
    /// `SELECT`, `EXECUTE`, …; for roles `MEMBER`, `USAGE`, `SET`, `ADMIN`.
    pub privilege: String,
    /// Whether the old login has it (else only the new one does).
    pub old_has: bool,
}
from_pg_row!(PrivilegeDifference { kind, object, privilege, old_has }; database);

impl PrivilegeDifference {
    /// The statement that would remove this difference for `new`: GRANT
    /// what it lacks, REVOKE what it has beyond the old login. For the
    /// preview of what verification found, not to be run blindly.
    pub fn remedy(&self, new: &str) -> Statement {
        let n = pg_ident(new);
        let text = match (self.kind.as_str(), self.old_has) {
            ("ROLE", true) => format!("GRANT {} TO {n} -- {}", self.object, self.privilege),
            ("ROLE", false) => format!("REVOKE {} FROM {n} -- {}", self.object, self.privilege),
            ("COLUMN", has) => {
                // `table (column)`: the table's name may hold " (" too, the column's ends it.
                let (table, column) = self.object.rsplit_once(" (").unwrap_or((&self.object, ""));
                if has {
                    format!("GRANT {} ({column} ON TABLE {table} TO {n}", self.privilege)
                } else {
                    format!("REVOKE {} ({column} ON TABLE {table} FROM {n}", self.privilege)
                }
            }
            (kind, true) => format!("GRANT {} ON {kind} {} TO {n}", self.privilege, self.object),
            (kind, false) => format!("REVOKE {} ON {kind} {} FROM {n}", self.privilege, self.object),
        };
        let s = Statement::new(text);
        match &self.database {
            Some(db) => s.in_database(db),
            None => s,
        }
    }
}

/// How the new login's effective privileges compare with the old one's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Equivalence {
    pub old: String,
    pub new: String,
    /// The databases compared (those the old login may connect to).
    pub databases: Vec<String>,
    /// What the old login can do and the new one cannot.
    pub missing: Vec<PrivilegeDifference>,
    /// What the new login can do and the old one could not.
    pub extra: Vec<PrivilegeDifference>,
}

impl Equivalence {
    /// The new login can do what the old could, no more, no less.
    pub fn is_equivalent(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }

    /// Statements that would make them equal (see [`PrivilegeDifference::remedy`]).
    pub fn remedies(&self) -> Vec<Statement> {
        self.missing
            .iter()
            .chain(&self.extra)
            .map(|d| d.remedy(&self.new))
            .collect()
    }
}

impl PgDb {
    /// Compare `new`'s effective privileges with `old`'s, object by object,
    /// in every database `old` may connect to.
    pub async fn equivalence(&self, old: &str, new: &str) -> DbResult<Equivalence> {
        for role in [old, new] {
            if !self.role_facts(role).await?.exists {
                return Err(DbError::refused(format!(
                    "the role {} does not exist",
                    pg_ident(role)
                )));
            }
        }
        let databases: Vec<String> = self
            .timed(
                sqlx::query_scalar(
                    "SELECT datname::text FROM pg_database
                     WHERE datallowconn AND NOT datistemplate
                       AND has_database_privilege((SELECT oid FROM pg_roles WHERE rolname = $1), oid, 'CONNECT')
                     ORDER BY 1",
                )
                .bind(old)
                .fetch_all(&self.pool),
            )
            .await?;
        let mut diffs: Vec<PrivilegeDifference> = self
            .timed(
                sqlx::query_as(AssertSqlSafe(self.shared_privileges_sql()))
                    .bind(old)
                    .bind(new)
                    .fetch_all(&self.pool),
            )
            .await?;
        for db in &databases {
            let mut conn = self.conn_in(Some(db)).await?;
            let rows: DbResult<Vec<PrivilegeDifference>> = self
                .timed(
                    sqlx::query_as(AssertSqlSafe(self.database_privileges_sql()))
                        .bind(old)
                        .bind(new)
                        .fetch_all(&mut *conn),
                )
                .await;
            conn.finish().await;
            diffs.extend(rows?.into_iter().map(|mut d| {
                d.database = Some(db.clone());
                d
            }));
        }
        let (missing, extra) = diffs.into_iter().partition(|d| d.old_has);
        Ok(Equivalence {
            old: old.to_owned(),
            new: new.to_owned(),
            databases,
            missing,
            extra,
        })
    }

    /// Databases, roles, tablespaces and parameters: the same from any database.
    fn shared_privileges_sql(&self) -> String {
        let role_privs = if self.inherit_per_grant() {
            "ARRAY['MEMBER', 'USAGE', 'SET', 'MEMBER WITH ADMIN OPTION']"
        } else {
            "ARRAY['MEMBER', 'USAGE', 'MEMBER WITH ADMIN OPTION']"
        };
        let parameters = if self.version_num >= 150000 {
            "UNION ALL
             SELECT 'PARAMETER', p.parname::text, pr, has_parameter_privilege(r.old, p.parname, pr),
                    has_parameter_privilege(r.new, p.parname, pr)
             FROM pg_parameter_acl p CROSS JOIN r CROSS JOIN unnest(ARRAY['SET', 'ALTER SYSTEM']) pr"
        } else {
            ""
        };
        format!(
            "WITH r AS (SELECT (SELECT oid FROM pg_roles WHERE rolname = $1) AS old,
                               (SELECT oid FROM pg_roles WHERE rolname = $2) AS new),
             p(kind, object, privilege, old_has, new_has) AS (
               SELECT 'DATABASE', quote_ident(d.datname), pr, has_database_privilege(r.old, d.oid, pr),
                      has_database_privilege(r.new, d.oid, pr)
               FROM pg_database d CROSS JOIN r CROSS JOIN unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']) pr
               WHERE NOT d.datistemplate
               UNION ALL
               SELECT 'ROLE', quote_ident(g.rolname), CASE pr WHEN 'MEMBER WITH ADMIN OPTION' THEN 'ADMIN' ELSE pr END,
                      pg_has_role(r.old, g.oid, pr), pg_has_role(r.new, g.oid, pr)
               FROM pg_roles g CROSS JOIN r CROSS JOIN unnest({role_privs}) pr
               WHERE g.oid NOT IN (r.old, r.new)
               UNION ALL
               SELECT 'TABLESPACE', quote_ident(t.spcname), 'CREATE', has_tablespace_privilege(r.old, t.oid, 'CREATE'),
                      has_tablespace_privilege(r.new, t.oid, 'CREATE')
               FROM pg_tablespace t CROSS JOIN r
               {parameters}
             )
             SELECT kind, object, privilege, old_has FROM p WHERE old_has <> new_has ORDER BY 1, 2, 3"
        )
    }

    /// The objects of the current database.
    fn database_privileges_sql(&self) -> String {
        let table_privs = if self.version_num >= 170000 {
            "ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN']"
        } else {
            "ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']"
        };
        format!(
            "WITH r AS (SELECT (SELECT oid FROM pg_roles WHERE rolname = $1) AS old,
                               (SELECT oid FROM pg_roles WHERE rolname = $2) AS new),
             p(kind, object, privilege, old_has, new_has) AS (
               SELECT 'TABLE', quote_ident(n.nspname) || '.' || quote_ident(c.relname), pr,
                      has_table_privilege(r.old, c.oid, pr), has_table_privilege(r.new, c.oid, pr)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN r
                    CROSS JOIN unnest({table_privs}) pr
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ({USER_SCHEMA} OR c.relacl IS NOT NULL)
               UNION ALL
               SELECT 'COLUMN', quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' (' || quote_ident(a.attname) || ')',
                      pr, has_column_privilege(r.old, c.oid, a.attnum, pr), has_column_privilege(r.new, c.oid, a.attnum, pr)
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                    CROSS JOIN r CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) pr
               WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
               UNION ALL
               SELECT 'SEQUENCE', quote_ident(n.nspname) || '.' || quote_ident(c.relname), pr,
                      has_sequence_privilege(r.old, c.oid, pr), has_sequence_privilege(r.new, c.oid, pr)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN r
                    CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) pr
               WHERE c.relkind = 'S' AND ({USER_SCHEMA} OR c.relacl IS NOT NULL)
               UNION ALL
               SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                      quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                      'EXECUTE', has_function_privilege(r.old, p.oid, 'EXECUTE'), has_function_privilege(r.new, p.oid, 'EXECUTE')
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace CROSS JOIN r
               WHERE {USER_SCHEMA} OR p.proacl IS NOT NULL
               UNION ALL
               SELECT 'SCHEMA', quote_ident(n.nspname), pr, has_schema_privilege(r.old, n.oid, pr),
                      has_schema_privilege(r.new, n.oid, pr)
               FROM pg_namespace n CROSS JOIN r CROSS JOIN unnest(ARRAY['USAGE', 'CREATE']) pr
               WHERE n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'
               UNION ALL
               SELECT 'TYPE', quote_ident(n.nspname) || '.' || quote_ident(t.typname), 'USAGE',
                      has_type_privilege(r.old, t.oid, 'USAGE'), has_type_privilege(r.new, t.oid, 'USAGE')
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace CROSS JOIN r
               WHERE t.typacl IS NOT NULL OR ({USER_SCHEMA} AND t.typtype IN ('b', 'd', 'e', 'r', 'm'))
               UNION ALL
               SELECT 'LANGUAGE', quote_ident(l.lanname), 'USAGE', has_language_privilege(r.old, l.oid, 'USAGE'),
                      has_language_privilege(r.new, l.oid, 'USAGE')
               FROM pg_language l CROSS JOIN r
               UNION ALL
               SELECT 'FOREIGN DATA WRAPPER', quote_ident(w.fdwname), 'USAGE',
                      has_foreign_data_wrapper_privilege(r.old, w.oid, 'USAGE'),
                      has_foreign_data_wrapper_privilege(r.new, w.oid, 'USAGE')
               FROM pg_foreign_data_wrapper w CROSS JOIN r
               UNION ALL
               SELECT 'FOREIGN SERVER', quote_ident(s.srvname), 'USAGE', has_server_privilege(r.old, s.oid, 'USAGE'),
                      has_server_privilege(r.new, s.oid, 'USAGE')
               FROM pg_foreign_server s CROSS JOIN r
               UNION ALL
               -- No has_largeobject_privilege before 18: ownership or an ACL
               -- entry for PUBLIC or a role whose privileges the login has.
               SELECT 'LARGE OBJECT', m.oid::text, pr,
                      pg_has_role(r.old, m.lomowner, 'USAGE') OR EXISTS (
                        SELECT 1 FROM aclexplode(m.lomacl) x
                        WHERE x.privilege_type = pr AND (x.grantee = 0 OR pg_has_role(r.old, x.grantee, 'USAGE'))),
                      pg_has_role(r.new, m.lomowner, 'USAGE') OR EXISTS (
                        SELECT 1 FROM aclexplode(m.lomacl) x
                        WHERE x.privilege_type = pr AND (x.grantee = 0 OR pg_has_role(r.new, x.grantee, 'USAGE')))
               FROM pg_largeobject_metadata m CROSS JOIN r CROSS JOIN unnest(ARRAY['SELECT', 'UPDATE']) pr
             )
             SELECT kind, object, privilege, old_has FROM p WHERE old_has <> new_has ORDER BY 1, 2, 3"
        )
    }
}
