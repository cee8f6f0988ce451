//! Moving the definer of views, routines, triggers and events from the old
//! user to the admin, as the runbook asks ("re-create them using the
//! aws_db_admin user"). MariaDB lets a user with definers be dropped, and
//! the objects then fail with error 1449; MySQL 8 refuses the drop (4006).
//!
//! The admin names itself as definer, which needs no SUPER / SET USER.
//! Views get `ALTER VIEW`, events `ALTER EVENT`; routines and triggers have
//! no ALTER DEFINER, so MariaDB gets `CREATE OR REPLACE` (one statement, and
//! it keeps the routine's grants), MySQL 8 `DROP` + `CREATE`. Each body is
//! re-created from its `SHOW CREATE` text under its own original sql_mode
//! (ANSI_QUOTES or PIPES_AS_CONCAT change how a body parses), and that text
//! is returned as a backup before anything changes.

use serde::Serialize;

use super::grants::Account;
use super::{MysqlDb, Plan, opt_text, split_definer, text};
use crate::db::ident::{mysql_ident, mysql_str};
use crate::db::model::{DbObject, FlavorKind, Statement};
use crate::db::{DbError, DbErrorKind, DbResult};

/// An object's `SHOW CREATE` text, kept before it is changed.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectBackup {
    pub object: DbObject,
    /// The sql_mode the object was created under (routines, triggers, events).
    pub sql_mode: Option<String>,
    pub create_sql: String,
}

/// What moving definers will do, and the backups to keep first.
#[derive(Debug, Clone, Default)]
pub struct DefinerPlan {
    pub plan: Plan,
    pub backups: Vec<ObjectBackup>,
}

/// Whether an object has the expected definer and still works.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectCheck {
    pub object: DbObject,
    /// `None` = fine.
    pub problem: Option<String>,
}

impl MysqlDb {
    /// Statements that make the admin the definer of every view, routine,
    /// trigger and event `old` defines, in `database` or (None) anywhere.
    pub async fn definer_plan(&self, old: &Account, database: Option<&str>) -> DbResult<DefinerPlan> {
        let objects = self.objects_defined_by(old, database).await?;
        let mut out = DefinerPlan::default();
        if objects.is_empty() {
            out.plan
                .notes
                .push(format!("{} defines no objects", old.display()));
        }
        let me = self.me.sql();
        for object in objects {
            let db = object.schema.clone().unwrap_or_default();
            let qualified = format!("{}.{}", mysql_ident(&db), mysql_ident(&object.name));
            let (backup, statements) = match object.kind.as_str() {
                "view" => {
                    let row = self
                        .show_create(&format!("SHOW CREATE VIEW {qualified}"), &object)
                        .await?;
                    let create = text(&row, 1);
                    let body =
                        after_create(&replace_definer(&create, &me).ok_or_else(|| unreadable(&object))?)
                            .ok_or_else(|| unreadable(&object))?
                            .to_owned();
                    (
                        (None, create),
                        vec![Statement::new(format!("ALTER {body}")).in_database(&db)],
                    )
                }
                "event" => {
                    let row = self
                        .show_create(&format!("SHOW CREATE EVENT {qualified}"), &object)
                        .await?;
                    let comment = self
                        .fetch_one(
                            sqlx::query(
                                "SELECT EVENT_COMMENT FROM information_schema.EVENTS \
                                 WHERE EVENT_SCHEMA = ? AND EVENT_NAME = ?",
                            )
                            .bind(&db)
                            .bind(&object.name),
                        )
                        .await?;
                    // ALTER EVENT needs some clause; restating the comment
                    // changes nothing else (schedule, status, body stay).
                    (
                        (opt_text(&row, 1), text(&row, 3)),
                        vec![Statement::new(format!(
                            "ALTER DEFINER={me} EVENT {qualified} COMMENT {}",
                            mysql_str(&text(&comment, 0))
                        ))],
                    )
                }
                kind @ ("procedure" | "function" | "trigger") => {
                    let keyword = kind.to_ascii_uppercase();
                    let row = self
                        .show_create(&format!("SHOW CREATE {keyword} {qualified}"), &object)
                        .await?;
                    let sql_mode = text(&row, 1);
                    // NULL when the admin may not read the body.
                    let create = opt_text(&row, 2).ok_or_else(|| {
                        DbError::new(
                            DbErrorKind::Privilege,
                            format!("cannot read the body of {kind} {qualified}"),
                        )
                        .with_hint("the admin needs SELECT on mysql.proc (MariaDB) or SHOW_ROUTINE (MySQL 8)")
                    })?;
                    let body =
                        after_create(&replace_definer(&create, &me).ok_or_else(|| unreadable(&object))?)
                            .ok_or_else(|| unreadable(&object))?
                            .to_owned();
                    // The object's own sql_mode for its CREATE, then ours back
                    // (later statements are quoted for it).
                    let mut st = vec![
                        Statement::new("SET @rotui_sql_mode = @@SESSION.sql_mode"),
                        Statement::new(format!("SET SESSION sql_mode = {}", mysql_str(&sql_mode))),
                    ];
                    match self.flavor.kind {
                        FlavorKind::Mariadb => st.push(Statement::new(format!("CREATE OR REPLACE {body}"))),
                        _ => {
                            st.push(Statement::new(format!("DROP {keyword} {qualified}")));
                            st.push(Statement::new(format!("CREATE {body}")));
                            if kind != "trigger" {
                                out.plan.notes.push(format!(
                                    "{kind} {qualified}: grants on it are lost with DROP; re-grant them"
                                ));
                            }
                        }
                    }
                    st.push(Statement::new("SET SESSION sql_mode = @rotui_sql_mode"));
                    (
                        (Some(sql_mode), create),
                        st.into_iter().map(|s| s.in_database(&db)).collect(),
                    )
                }
                other => {
                    return Err(DbError::new(
                        DbErrorKind::Other,
                        format!("unknown object kind {other}"),
                    ));
                }
            };
            out.plan.statements.extend(statements);
            out.backups.push(ObjectBackup {
                object,
                sql_mode: backup.0,
                create_sql: backup.1,
            });
        }
        Ok(out)
    }

    /// Check each object: its definer is now the admin, and views can be
    /// selected from. (Routines are not called: they may change data.)
    pub async fn verify_definers(&self, objects: &[DbObject]) -> DbResult<Vec<ObjectCheck>> {
        let mut out = Vec::new();
        for o in objects {
            let db = o.schema.as_deref().unwrap_or_default();
            let now = self
                .objects(Some(db))
                .await?
                .into_iter()
                .find(|x| x.kind == o.kind && x.name == o.name);
            let problem = match now {
                None => Some("it no longer exists".to_owned()),
                Some(x) if split_definer(&x.owner) != self.me => {
                    Some(format!("its definer is {}, not {}", x.owner, self.me.display()))
                }
                Some(_) if o.kind == "view" => {
                    let sql = format!(
                        "SELECT * FROM {}.{} LIMIT 1",
                        mysql_ident(db),
                        mysql_ident(&o.name)
                    );
                    self.fetch_raw(sql).await.err().map(|e| e.to_string())
                }
                Some(_) => None,
            };
            out.push(ObjectCheck {
                object: o.clone(),
                problem,
            });
        }
        Ok(out)
    }

    async fn show_create(&self, sql: &str, object: &DbObject) -> DbResult<sqlx::mysql::MySqlRow> {
        self.fetch_raw(sql.to_owned())
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| unreadable(object))
    }
}

fn unreadable(o: &DbObject) -> DbError {
    DbError::new(
        DbErrorKind::Other,
        format!(
            "cannot read the definition of {} {}.{}",
            o.kind,
            o.schema.as_deref().unwrap_or("?"),
            o.name
        ),
    )
}

/// The text after the leading `CREATE` keyword.
fn after_create(sql: &str) -> Option<&str> {
    let t = sql.trim_start();
    (t.len() >= 6 && t[..6].eq_ignore_ascii_case("CREATE")).then(|| t[6..].trim_start())
}

/// Replace the `DEFINER=…` clause of a `SHOW CREATE` header with `definer`
/// (already SQL). The clause comes before the object's name and body, so the
/// first occurrence is the header's; an account is `` `u`@`h` ``, `'u'@'h'`
/// or CURRENT_USER[()].
pub fn replace_definer(create_sql: &str, definer: &str) -> Option<String> {
    let upper = create_sql.to_ascii_uppercase();
    let start = upper.find("DEFINER")?;
    let b = create_sql.as_bytes();
    let mut i = start + "DEFINER".len();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if b.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    skip_ws(&mut i);
    // One quoted (or bare) name part; returns the index after it.
    let part = |mut i: usize| -> Option<usize> {
        match *b.get(i)? {
            q @ (b'`' | b'\'' | b'"') => {
                i += 1;
                loop {
                    let c = *b.get(i)?;
                    if c == b'\\' && q != b'`' {
                        i += 2;
                    } else if c == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                        } else {
                            return Some(i + 1);
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            _ => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if b.get(i) == Some(&b'(') && b.get(i + 1) == Some(&b')') {
                    i += 2;
                }
                (i > s).then_some(i)
            }
        }
    };
    let mut end = part(i)?;
    if b.get(end) == Some(&b'@') {
        end = part(end + 1)?;
    }
    Some(format!(
        "{}DEFINER={definer}{}",
        &create_sql[..start],
        &create_sql[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definers_are_replaced_in_show_create_headers() {
        let me = "'aws_db_admin'@'%'";
        assert_eq!(
            replace_definer(
                "CREATE ALGORITHM=UNDEFINED DEFINER=`o2`@`%` SQL SECURITY DEFINER VIEW `d2`.`v` AS select 1",
                me
            )
            .unwrap(),
            "CREATE ALGORITHM=UNDEFINED DEFINER='aws_db_admin'@'%' SQL SECURITY DEFINER VIEW `d2`.`v` AS select 1"
        );
        // Backticks, quotes and @ inside the user name; DEFINER in the body stays.
        assert_eq!(
            replace_definer(
                "CREATE DEFINER=`we``ird@'x`@`10.0.%` PROCEDURE `p`() select 'DEFINER=`a`@`b`'",
                me
            )
            .unwrap(),
            "CREATE DEFINER='aws_db_admin'@'%' PROCEDURE `p`() select 'DEFINER=`a`@`b`'"
        );
        assert_eq!(
            replace_definer(
                "CREATE DEFINER = CURRENT_USER() TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a = 1",
                me
            )
            .unwrap(),
            "CREATE DEFINER='aws_db_admin'@'%' TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET @a = 1"
        );
        assert_eq!(replace_definer("CREATE VIEW v AS SELECT 1", me), None);
        assert_eq!(after_create("  create  trigger x"), Some("trigger x"));
        assert_eq!(after_create("ALTER VIEW"), None);
    }
}
