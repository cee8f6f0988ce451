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

use super::account::Account;
use super::{MysqlDb, WritePlan, opt_text, split_definer, text};
use crate::db::Statement;
use crate::db::ident::{mysql_ident, mysql_str};
use crate::db::{DbError, DbErrorKind, DbResult};
use crate::model::{DbObject, FlavorKind};

/// An object's `SHOW CREATE` text, kept before it is changed.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectBackup {
    pub object: DbObject,
    /// The sql_mode the object was created under (routines, triggers, events).
    pub sql_mode: Option<String>,
    /// The time zone its schedule is read in (events).
    pub time_zone: Option<String>,
    pub create_sql: String,
}

/// What moving definers will do, and the backups to keep first.
#[derive(Debug, Clone, Default)]
pub struct DefinerPlan {
    pub plan: WritePlan,
    pub backups: Vec<ObjectBackup>,
}

impl DefinerPlan {
    /// The statements, with the plan's notes (what DROP + CREATE does to
    /// backups and other users' routine grants) carried as `-- note:` lines
    /// at the top of the first one, so every preview, the step list and the
    /// journal show them. Notes are one line each: control characters in
    /// object names become spaces, so a note can never end its comment.
    pub fn statements_with_notes(&self) -> Vec<Statement> {
        let mut out = self.plan.statements.clone();
        if let Some(first) = out.first_mut()
            && !self.plan.notes.is_empty()
        {
            let notes: Vec<String> = self
                .plan
                .notes
                .iter()
                .map(|n| {
                    let line: String = n.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
                    format!("-- note: {line}")
                })
                .collect();
            *first = first.clone().with_comment(&notes.join("\n"));
        }
        out
    }
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
        // MySQL re-creates functions and triggers with DROP + CREATE: refuse
        // now, before anything is dropped, if the CREATE would fail (1419).
        self.preflight_recreate(&objects).await?;
        let mut out = DefinerPlan::default();
        if objects.is_empty() {
            out.plan
                .notes
                .push(format!("{} defines no objects", old.display()));
        }
        let me = self.me.sql();
        for object in objects {
            let (backup, statements) = self.move_one(&object, &me).await?;
            if self.flavor.kind != FlavorKind::Mariadb
                && matches!(object.kind.as_str(), "procedure" | "function")
            {
                let db = object.schema.as_deref().unwrap_or_default();
                let grants = self.routine_grants(&object.kind, db, &object.name).await?;
                if !grants.is_empty() {
                    let who: Vec<String> = grants.iter().map(|g| g.grantee.display()).collect();
                    out.plan.notes.push(format!(
                        "{} {db}.{}: DROP removes every grantee's privileges on it; they are \
                         re-granted right after the CREATE and checked: {}",
                        object.kind,
                        object.name,
                        who.join(", ")
                    ));
                }
            }
            if self.flavor.kind != FlavorKind::Mariadb
                && matches!(object.kind.as_str(), "procedure" | "function" | "trigger")
            {
                out.plan.notes.push(format!(
                    "{} {}.{}: re-created with DROP + CREATE; kept first in the state directory's \
                     mysql-backups/ (0600) and on the server in rotui_backups.definer_moves; \
                     restored at once if the CREATE fails",
                    object.kind,
                    object.schema.as_deref().unwrap_or("?"),
                    object.name
                ));
            }
            out.plan.statements.extend(statements);
            out.backups.push(backup);
        }
        Ok(out)
    }

    /// The backup of one object and the statements that move its definer to `me`.
    async fn move_one(&self, object: &DbObject, me: &str) -> DbResult<(ObjectBackup, Vec<Statement>)> {
        let db = object.schema.clone().unwrap_or_default();
        let qualified = format!("{}.{}", mysql_ident(&db), mysql_ident(&object.name));
        let keyword = object.kind.to_ascii_uppercase();
        let row = self
            .fetch_raw(format!("SHOW CREATE {keyword} {qualified}"))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| unreadable(object))?;
        // Column layout of SHOW CREATE: VIEW (name, text, …); PROCEDURE,
        // FUNCTION, TRIGGER (name, sql_mode, text, …); EVENT (name,
        // sql_mode, time_zone, text, …). The text is NULL when the admin
        // may not read it.
        let (sql_mode, time_zone, create) = match object.kind.as_str() {
            "view" => (None, None, opt_text(&row, 1)),
            "event" => (opt_text(&row, 1), opt_text(&row, 2), opt_text(&row, 3)),
            _ => (opt_text(&row, 1), None, opt_text(&row, 2)),
        };
        let create = create.ok_or_else(|| {
            DbError::new(
                DbErrorKind::Privilege,
                format!("cannot read the definition of {} {qualified}", object.kind),
            )
            .with_hint("the admin needs SELECT on mysql.proc (MariaDB) or SHOW_ROUTINE (MySQL 8)")
        })?;
        let body = || -> DbResult<String> {
            let replaced = replace_definer(&create, me).ok_or_else(|| unreadable(object))?;
            Ok(after_create(&replaced)
                .ok_or_else(|| unreadable(object))?
                .to_owned())
        };
        let change = match object.kind.as_str() {
            "view" => vec![format!("ALTER {}", body()?)],
            // ALTER EVENT needs some clause: restating the comment changes
            // nothing else (schedule, status and body stay).
            "event" => {
                let row = self
                    .fetch_one(
                        sqlx::query(
                            "SELECT EVENT_COMMENT FROM information_schema.EVENTS \
                             WHERE EVENT_SCHEMA = ? AND EVENT_NAME = ?",
                        )
                        .bind(&db)
                        .bind(&object.name),
                    )
                    .await?;
                let comment = str_for_mode(&text(&row, 0), sql_mode.as_deref().unwrap_or(""));
                vec![format!("ALTER DEFINER={me} EVENT {qualified} COMMENT {comment}")]
            }
            kind @ ("procedure" | "function" | "trigger") => {
                let mut body = body()?;
                if kind == "trigger" {
                    // Re-creating a trigger moves it last among its table's
                    // triggers for the same timing and event, and their order
                    // is their meaning (`+1` then `*10` ≠ `*10` then `+1`).
                    let next = self.next_trigger(&db, &object.name).await?;
                    body = set_trigger_order(&body, next.as_deref()).ok_or_else(|| unreadable(object))?;
                }
                match self.flavor.kind {
                    FlavorKind::Mariadb => vec![format!("CREATE OR REPLACE {body}")],
                    _ => {
                        // DROP takes every grantee's privileges on a routine
                        // with it (mysql.procs_priv): give them back at once.
                        let mut v = vec![format!("DROP {keyword} {qualified}"), format!("CREATE {body}")];
                        v.extend(
                            self.routine_grants(kind, &db, &object.name)
                                .await?
                                .iter()
                                .map(|g| g.sql()),
                        );
                        v
                    }
                }
            }
            other => {
                return Err(DbError::new(
                    DbErrorKind::Other,
                    format!("unknown object kind {other}"),
                ));
            }
        };
        // A routine, trigger or event keeps the sql_mode (events: and
        // time_zone) of the session that last created or altered it, so the
        // change runs under the object's own, and ours comes back after.
        let mut modes = Vec::new();
        if let Some(m) = &sql_mode {
            modes.push(("sql_mode", m.as_str()));
        }
        if let Some(tz) = &time_zone {
            modes.push(("time_zone", tz.as_str()));
        }
        // Session settings only hold on one connection, and executors may
        // run each statement on its own (the rotation journals them one by
        // one): a change made under the object's own modes travels as one
        // multi-statement batch, so it can never run under the wrong ones.
        let statements = if modes.is_empty() {
            change
                .into_iter()
                .map(|s| Statement::new(s).in_database(&db))
                .collect()
        } else {
            vec![Statement::batch(None, under_session(&modes, change)).in_database(&db)]
        };
        let backup = ObjectBackup {
            object: object.clone(),
            sql_mode,
            time_zone,
            create_sql: create,
        };
        Ok((backup, statements))
    }

    /// The trigger that runs right after `name` (same table, timing and event).
    async fn next_trigger(&self, db: &str, name: &str) -> DbResult<Option<String>> {
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT t2.TRIGGER_NAME FROM information_schema.TRIGGERS t1 \
                     JOIN information_schema.TRIGGERS t2 ON t2.TRIGGER_SCHEMA = t1.TRIGGER_SCHEMA \
                       AND t2.EVENT_OBJECT_TABLE = t1.EVENT_OBJECT_TABLE AND t2.ACTION_TIMING = t1.ACTION_TIMING \
                       AND t2.EVENT_MANIPULATION = t1.EVENT_MANIPULATION AND t2.ACTION_ORDER > t1.ACTION_ORDER \
                     WHERE t1.TRIGGER_SCHEMA = ? AND t1.TRIGGER_NAME = ? ORDER BY t2.ACTION_ORDER LIMIT 1",
                )
                .bind(db)
                .bind(name),
            )
            .await?;
        Ok(rows.first().map(|r| text(r, 0)))
    }

    /// Check each object: its definer is now the admin, and views can be
    /// selected from. (Routines are not called: they may change data.)
    pub async fn verify_definers(&self, objects: &[DbObject]) -> DbResult<Vec<ObjectCheck>> {
        let mut out = Vec::new();
        let mut live: std::collections::HashMap<String, Vec<DbObject>> = Default::default();
        for o in objects {
            let db = o.schema.as_deref().unwrap_or_default();
            if !live.contains_key(db) {
                live.insert(db.to_owned(), self.objects(Some(db)).await?);
            }
            let now = live[db].iter().find(|x| x.kind == o.kind && x.name == o.name);
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

/// `statements` wrapped so they run with the session variables `vars` set,
/// and the session's own values restored after.
fn under_session(vars: &[(&str, &str)], statements: Vec<String>) -> Vec<String> {
    if vars.is_empty() {
        return statements;
    }
    let save: Vec<String> = vars
        .iter()
        .map(|(v, _)| format!("@rotui_{v} = @@SESSION.{v}"))
        .collect();
    let set: Vec<String> = vars
        .iter()
        .map(|(v, x)| format!("SESSION {v} = {}", mysql_str(x)))
        .collect();
    let restore: Vec<String> = vars
        .iter()
        .map(|(v, _)| format!("SESSION {v} = @rotui_{v}"))
        .collect();
    let mut out = vec![
        format!("SET {}", save.join(", ")),
        format!("SET {}", set.join(", ")),
    ];
    out.extend(statements);
    out.push(format!("SET {}", restore.join(", ")));
    out
}

/// A string literal that reads back as `value` under `sql_mode` (without
/// NO_BACKSLASH_ESCAPES, backslashes are escapes and must be doubled).
fn str_for_mode(value: &str, sql_mode: &str) -> String {
    if sql_mode.split(',').any(|m| m.trim() == "NO_BACKSLASH_ESCAPES") {
        format!("'{}'", value.replace('\'', "''"))
    } else {
        mysql_str(value)
    }
}

/// Rewrite a trigger's text so it is placed right before `precedes` (or,
/// with `None`, last): any `FOLLOWS`/`PRECEDES` clause after `FOR EACH ROW`
/// is replaced. Quoted text is skipped, so names that read "for each row"
/// do not confuse it. `None` if the text has no `FOR EACH ROW`.
pub fn set_trigger_order(trigger_sql: &str, precedes: Option<&str>) -> Option<String> {
    let b = trigger_sql.as_bytes();
    // Words outside quotes, with their byte ranges.
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if matches!(c, b'`' | b'\'' | b'"') {
            i = skip_quoted(b, i)?;
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            words.push((s, i));
        } else {
            i += 1;
        }
    }
    let word = |k: usize| words.get(k).map(|&(s, e)| trigger_sql[s..e].to_ascii_uppercase());
    let k = (0..words.len()).find(|&k| {
        word(k).as_deref() == Some("FOR")
            && word(k + 1).as_deref() == Some("EACH")
            && word(k + 2).as_deref() == Some("ROW")
    })?;
    let after_row = words[k + 2].1;
    let mut rest = after_row;
    // An existing order clause: the keyword, then one (maybe quoted) name.
    if let Some(w) = word(k + 3)
        && (w == "FOLLOWS" || w == "PRECEDES")
    {
        let mut j = words[k + 3].1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        rest = if matches!(b.get(j), Some(b'`' | b'\'' | b'"')) {
            skip_quoted(b, j)?
        } else {
            words.iter().find(|&&(s, _)| s >= j).map(|&(_, e)| e)?
        };
    }
    let clause = precedes
        .map(|n| format!(" PRECEDES {}", mysql_ident(n)))
        .unwrap_or_default();
    Some(format!(
        "{}{clause}{}",
        &trigger_sql[..after_row],
        &trigger_sql[rest..]
    ))
}

/// The index just past the quoted section starting at `i`.
fn skip_quoted(b: &[u8], mut i: usize) -> Option<usize> {
    let q = b[i];
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
        if matches!(b.get(i)?, b'`' | b'\'' | b'"') {
            return skip_quoted(b, i);
        }
        let s = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if b.get(i) == Some(&b'(') && b.get(i + 1) == Some(&b')') {
            i += 2;
        }
        (i > s).then_some(i)
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
    }

    #[test]
    fn trigger_order_clauses_are_set() {
        let t = "DEFINER='a'@'%' TRIGGER `for each row` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.x = 1";
        assert_eq!(
            set_trigger_order(t, Some("b`2")).unwrap(),
            "DEFINER='a'@'%' TRIGGER `for each row` BEFORE INSERT ON `t` FOR EACH ROW PRECEDES `b``2` SET NEW.x = 1"
        );
        assert_eq!(set_trigger_order(t, None).unwrap(), t);
        let t = "DEFINER='a'@'%' trigger c before insert on t for each row follows \"a b\" set new.x = 1";
        assert_eq!(
            set_trigger_order(t, Some("d")).unwrap(),
            "DEFINER='a'@'%' trigger c before insert on t for each row PRECEDES `d` set new.x = 1"
        );
        assert_eq!(
            set_trigger_order(
                "TRIGGER c BEFORE INSERT ON t FOR EACH ROW PRECEDES other SET @x = 1",
                None
            )
            .unwrap(),
            "TRIGGER c BEFORE INSERT ON t FOR EACH ROW SET @x = 1"
        );
        assert_eq!(
            set_trigger_order("TRIGGER c BEFORE INSERT ON t SET @x = 1", None),
            None
        );
        assert_eq!(after_create("ALTER VIEW"), None);
    }
}
