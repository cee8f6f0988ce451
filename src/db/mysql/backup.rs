//! Nothing lost when a routine or trigger is re-created with `DROP` +
//! `CREATE` (MySQL has no `CREATE OR REPLACE` for them):
//!
//! - a **preflight** predicts MySQL's error 1419 (binary logging on,
//!   `log_bin_trust_function_creators` off, an admin without SUPER, and a
//!   function or trigger to re-create) and refuses before any DROP;
//! - just before a DROP runs, the object's full `SHOW CREATE` is saved to a
//!   private (0600) file in rotui's state directory
//!   (`$ROTUI_STATE_DIR` or `~/.local/state/rotui`, under `mysql-backups/`);
//! - the same definition, with its definer and its grants, is kept on the
//!   server itself (`rotui_backups.definer_moves`) until the re-creation is
//!   done: a rotui that dies between the DROP and the CREATE leaves it
//!   there, and whoever resumes (from any laptop) sees the object as still
//!   to move and re-creates it from that row
//!   ([`MysqlDb::kept_missing`], [`MysqlDb::restore_kept`]);
//! - if the CREATE still fails, the object is restored from that backup at
//!   once, and the error says that a DROP ran, what failed, whether the
//!   restore worked, and where the backup is.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{MysqlDb, opt_text, text};
use crate::db::Statement;
use crate::db::ident::mysql_ident;
use crate::db::{DbError, DbErrorKind, DbResult};
use crate::model::{DbObject, FlavorKind};

/// What the server says about re-creating functions and triggers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecreateCheck {
    pub log_bin: bool,
    pub trust_function_creators: bool,
    pub admin_has_super: bool,
}

impl RecreateCheck {
    /// Whether a non-SUPER CREATE FUNCTION / CREATE TRIGGER fails with 1419.
    pub fn blocks_functions_and_triggers(&self) -> bool {
        self.log_bin && !self.trust_function_creators && !self.admin_has_super
    }
}

/// The hint every refusal carries: how RDS users turn the variable on.
pub const TRUST_HINT: &str = "set log_bin_trust_function_creators = 1 in the RDS DB parameter group \
(Modify the instance's parameter group; the parameter is dynamic, no reboot), then run this step again";

impl MysqlDb {
    /// Binary logging, `log_bin_trust_function_creators` and SUPER, as the
    /// server reports them now.
    pub async fn recreate_check(&self) -> DbResult<RecreateCheck> {
        let row = self
            .fetch_one(sqlx::query(
                "SELECT CAST(@@GLOBAL.log_bin AS CHAR), CAST(@@GLOBAL.log_bin_trust_function_creators AS CHAR)",
            ))
            .await?;
        let on = |s: String| matches!(s.to_ascii_uppercase().as_str(), "1" | "ON");
        let grants = self.fetch_raw("SHOW GRANTS".to_owned()).await?;
        let admin_has_super = grants.iter().any(|r| {
            let line = text(r, 0).to_ascii_uppercase();
            let Some((privs, rest)) = line.split_once(" ON ") else {
                return false;
            };
            rest.starts_with("*.* ")
                && privs
                    .trim_start_matches("GRANT ")
                    .split(", ")
                    .any(|p| p.trim() == "SUPER" || p.trim() == "ALL PRIVILEGES")
        });
        Ok(RecreateCheck {
            log_bin: on(text(&row, 0)),
            trust_function_creators: on(text(&row, 1)),
            admin_has_super,
        })
    }

    /// Refuse, before anything is dropped, when re-creating any of
    /// `objects` (functions and triggers) would fail with error 1419.
    pub async fn preflight_recreate(&self, objects: &[DbObject]) -> DbResult<()> {
        if self.flavor.kind == FlavorKind::Mariadb {
            // MariaDB re-creates with CREATE OR REPLACE: a failure drops nothing.
            return Ok(());
        }
        let affected: Vec<String> = objects
            .iter()
            .filter(|o| matches!(o.kind.as_str(), "function" | "trigger"))
            .map(|o| format!("{} {}.{}", o.kind, o.schema.as_deref().unwrap_or("?"), o.name))
            .collect();
        if affected.is_empty() {
            return Ok(());
        }
        let check = self.recreate_check().await?;
        if !check.blocks_functions_and_triggers() {
            return Ok(());
        }
        Err(DbError::refused(format!(
            "cannot move the definer of {}: MySQL re-creates functions and triggers with DROP + CREATE, \
             and with binary logging on, log_bin_trust_function_creators = 0 and no SUPER privilege \
             the CREATE would fail (error 1419) after the DROP. Nothing was changed",
            affected.join(", ")
        ))
        .with_hint(TRUST_HINT))
    }

    /// Run `statement`, which drops and re-creates `kind` `db`.`name`, with
    /// the backup, preflight and restore described in the module docs.
    pub(crate) async fn execute_recreate(
        &self,
        statement: &Statement,
        kind: &str,
        db: &str,
        name: &str,
    ) -> DbResult<()> {
        let object = DbObject {
            kind: kind.to_ascii_lowercase(),
            schema: Some(db.to_owned()),
            name: name.to_owned(),
            owner: String::new(),
        };
        let qualified = format!("{}.{}", mysql_ident(db), mysql_ident(name));
        let rows = self
            .fetch_raw(format!("SHOW CREATE {} {qualified}", kind.to_ascii_uppercase()))
            .await;
        let row = match rows {
            Ok(rows) => rows.into_iter().next(),
            // Already gone (a re-run after a failure): nothing to back up,
            // and the CREATE alone is what is left to do.
            Err(e) if matches!(e.code.as_deref(), Some("1305" | "1360")) => None,
            Err(e) => return Err(e),
        };
        let Some(row) = row else {
            return self.execute_plain(std::slice::from_ref(statement)).await;
        };
        let sql_mode = opt_text(&row, 1).unwrap_or_default();
        let create = opt_text(&row, 2).ok_or_else(|| {
            DbError::new(
                DbErrorKind::Privilege,
                format!("cannot read the definition of {kind} {qualified}: refusing to drop it"),
            )
        })?;
        self.preflight_recreate(std::slice::from_ref(&object)).await?;
        let file = backup_dir()
            .and_then(|dir| save_backup(&dir, db, kind, name, &sql_mode, &create))
            .map_err(|e| {
            DbError::new(
                DbErrorKind::Other,
                format!("cannot save a backup of {kind} {qualified} before dropping it: {e}; nothing was changed"),
            )
        })?;
        let grants = self.routine_grants(kind, db, name).await?;
        let definer = self.definer_now(kind, db, name).await?;
        let kept = Kept {
            db: db.to_owned(),
            kind: kind.to_ascii_uppercase(),
            name: name.to_owned(),
            definer,
            sql_mode: sql_mode.clone(),
            create_sql: create.clone(),
            grants: grants.iter().map(RoutineGrant::sql).collect(),
        };
        self.keep_on_server(&kept).await?;
        crate::fault::point("definer-backup");
        let Err(err) = self.execute_plain(std::slice::from_ref(statement)).await else {
            // DROP removed every grantee's privileges on a routine; the
            // batch re-granted those it knew of when planned. Re-grant any
            // that appeared since, then check they are all there.
            self.regrant(&grants).await?;
            return self.forget_on_server(&kept).await;
        };
        // Did the DROP run? Then put the object back at once.
        let exists = self
            .fetch_raw(format!("SHOW CREATE {} {qualified}", kind.to_ascii_uppercase()))
            .await
            .is_ok_and(|r| !r.is_empty());
        if exists {
            return Err(err);
        }
        let restore = |create: &str| {
            Statement::batch(
                None,
                vec![
                    "SET @rotui_sql_mode = @@SESSION.sql_mode".to_owned(),
                    format!(
                        "SET SESSION sql_mode = {}",
                        crate::db::ident::mysql_str(&sql_mode)
                    ),
                    create.to_owned(),
                    "SET SESSION sql_mode = @rotui_sql_mode".to_owned(),
                ],
            )
            .in_database(db)
        };
        let mut outcome = match self.execute_plain(&[restore(&create)]).await {
            Ok(()) => Ok(format!(
                "{kind} {qualified} was restored from the backup, unchanged"
            )),
            Err(r) => Err(r),
        };
        // Naming another definer needs SET USER / SET_ANY_DEFINER, which
        // RDS for MariaDB's master lacks: then restore it defined by the admin.
        if let Err(first) = &outcome
            && first.kind == DbErrorKind::Privilege
            && let Some(mine) = super::definers::replace_definer(&create, &self.me.sql())
        {
            outcome = match self.execute_plain(&[restore(&mine)]).await {
                Ok(()) => Ok(format!(
                    "{kind} {qualified} was restored from the backup, defined by {} (naming its original \
                     definer needs a privilege the admin lacks)",
                    self.me.display()
                )),
                Err(r) => Err(r),
            };
        }
        if outcome.is_ok() {
            // Back as it was: nothing left for another rotui to restore.
            let _ = self.forget_on_server(&kept).await;
            // The routine's grants went with the DROP: give them back.
            if let Err(e) = self.regrant(&grants).await {
                outcome = Ok(format!(
                    "{} — but re-granting other users' privileges on it failed: {}",
                    outcome.unwrap_or_default(),
                    e.message
                ));
            }
        }
        let outcome = match outcome {
            Ok(o) => o,
            Err(r) => format!(
                "restoring it failed too ({}): {kind} {qualified} is MISSING; re-create it from the backup",
                r.message
            ),
        };
        let mut out = DbError::new(
            err.kind,
            format!(
                "DROP {} {qualified} ran, then re-creating it failed: {}. {outcome}. Backup: {}",
                kind.to_ascii_uppercase(),
                err.message,
                file.display()
            ),
        );
        out.code = err.code.clone();
        Err(out.with_hint(if err.code.as_deref() == Some("1419") {
            TRUST_HINT.to_owned()
        } else {
            err.hint.clone().unwrap_or_default()
        }))
    }
}

/// Where a routine's or trigger's definition waits on the server while it
/// is dropped and re-created (see the module docs). The schema stays,
/// empty, once created: dropping it when empty could race another app's
/// move on the same server.
const KEPT_TABLE: &str = "`rotui_backups`.`definer_moves`";

/// One object's definition kept on the server during its move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub db: String,
    /// `PROCEDURE`, `FUNCTION` or `TRIGGER`.
    pub kind: String,
    pub name: String,
    /// Its definer before the move, as information_schema writes it (`u@%`).
    pub definer: String,
    pub sql_mode: String,
    pub create_sql: String,
    /// The grants on it the DROP takes away (`GRANT … ON PROCEDURE …`).
    pub grants: Vec<String>,
}

impl MysqlDb {
    async fn keep_on_server(&self, k: &Kept) -> DbResult<()> {
        let fail = |e: DbError| {
            DbError::new(
                e.kind,
                format!(
                    "cannot keep a copy of {} {}.{} on the server before dropping it ({}): nothing was changed",
                    k.kind, k.db, k.name, e.message
                ),
            )
            .with_hint("the admin needs CREATE and INSERT on rotui_backups.*")
        };
        self.execute_plain(&[
            Statement::new("CREATE DATABASE IF NOT EXISTS `rotui_backups`"),
            Statement::new(format!(
                "CREATE TABLE IF NOT EXISTS {KEPT_TABLE} (db VARCHAR(64) NOT NULL, kind VARCHAR(16) NOT NULL, \
                 name VARCHAR(64) NOT NULL, definer VARCHAR(300) NOT NULL, sql_mode TEXT NOT NULL, \
                 create_sql LONGTEXT NOT NULL, grants LONGTEXT NOT NULL, \
                 saved_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (db, kind, name)) \
                 DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"
            )),
        ])
        .await
        .map_err(fail)?;
        self.fetch_all(
            sqlx::query(
                "REPLACE INTO `rotui_backups`.`definer_moves` \
                 (db, kind, name, definer, sql_mode, create_sql, grants) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&k.db)
            .bind(&k.kind)
            .bind(&k.name)
            .bind(&k.definer)
            .bind(&k.sql_mode)
            .bind(&k.create_sql)
            .bind(k.grants.join("\n")),
        )
        .await
        .map_err(fail)?;
        Ok(())
    }

    /// A routine's or trigger's definer (`user@host`), from information_schema.
    async fn definer_now(&self, kind: &str, db: &str, name: &str) -> DbResult<String> {
        let q = if kind.eq_ignore_ascii_case("trigger") {
            sqlx::query(
                "SELECT CAST(DEFINER AS CHAR) FROM information_schema.triggers \
                 WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME = ?",
            )
            .bind(db)
            .bind(name)
        } else {
            sqlx::query(
                "SELECT CAST(DEFINER AS CHAR) FROM information_schema.routines \
                 WHERE ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ? AND ROUTINE_TYPE = ?",
            )
            .bind(db)
            .bind(name)
            .bind(kind.to_ascii_uppercase())
        };
        Ok(self
            .fetch_all(q)
            .await?
            .first()
            .map(|r| text(r, 0))
            .unwrap_or_default())
    }

    async fn forget_on_server(&self, k: &Kept) -> DbResult<()> {
        self.execute_plain(&[forget(k)]).await
    }

    /// The objects `definer` defined that were dropped to be re-created and
    /// are missing now (a rotui died in between): kept on the server, to
    /// be restored by [`MysqlDb::restore_kept`].
    pub async fn kept_missing(&self, definer: &super::Account) -> DbResult<Vec<Kept>> {
        let rows = match self
            .fetch_all(sqlx::query(
                "SELECT db, kind, name, definer, sql_mode, create_sql, grants \
                 FROM `rotui_backups`.`definer_moves`",
            ))
            .await
        {
            Ok(rows) => rows,
            // No table (1146) or schema (1049): no move ever needed one.
            Err(e) if matches!(e.code.as_deref(), Some("1146" | "1049")) => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        let mut out = vec![];
        for r in rows {
            let k = Kept {
                db: text(&r, 0),
                kind: text(&r, 1),
                name: text(&r, 2),
                definer: text(&r, 3),
                sql_mode: text(&r, 4),
                create_sql: text(&r, 5),
                grants: text(&r, 6).lines().map(str::to_owned).collect(),
            };
            if &super::split_definer(&k.definer) != definer {
                continue;
            }
            let shown = self
                .fetch_raw(format!(
                    "SHOW CREATE {} {}.{}",
                    k.kind,
                    mysql_ident(&k.db),
                    mysql_ident(&k.name)
                ))
                .await;
            match shown {
                Ok(rows) if !rows.is_empty() => {}
                Ok(_) => out.push(k),
                Err(e) if matches!(e.code.as_deref(), Some("1305" | "1360")) => out.push(k),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The statement that re-creates a kept object as the move would have
    /// (defined by the admin, under its own sql_mode, its grants given
    /// back) and forgets the copy: one batch, run whole by the server.
    pub fn restore_kept(&self, k: &Kept) -> DbResult<Statement> {
        let create = super::definers::replace_definer(&k.create_sql, &self.me.sql()).ok_or_else(|| {
            DbError::new(
                DbErrorKind::Other,
                format!(
                    "the kept definition of {} {}.{} has no DEFINER clause to move: restore it from \
                     rotui_backups.definer_moves by hand",
                    k.kind, k.db, k.name
                ),
            )
        })?;
        let mut batch = vec![
            "SET @rotui_sql_mode = @@SESSION.sql_mode".to_owned(),
            format!(
                "SET SESSION sql_mode = {}",
                crate::db::ident::mysql_str(&k.sql_mode)
            ),
            create,
            "SET SESSION sql_mode = @rotui_sql_mode".to_owned(),
        ];
        batch.extend(k.grants.iter().cloned());
        batch.push(forget(k).sql());
        let header = format!(
            "-- {} {}.{} was dropped to move its definer and not re-created: restored from the copy kept on the server",
            k.kind, k.db, k.name
        );
        Ok(Statement::batch(Some(&header), batch).in_database(&k.db))
    }
}

fn forget(k: &Kept) -> Statement {
    use crate::db::ident::mysql_str;
    Statement::new(format!(
        "DELETE FROM {KEPT_TABLE} WHERE db = {} AND kind = {} AND name = {}",
        mysql_str(&k.db),
        mysql_str(&k.kind),
        mysql_str(&k.name)
    ))
}

/// One grantee's privileges on one routine (a `mysql.procs_priv` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutineGrant {
    pub grantee: super::Account,
    /// `GRANT` privilege list for the routine, e.g. `EXECUTE, ALTER ROUTINE`.
    pub privileges: String,
    pub grant_option: bool,
    /// `PROCEDURE` or `FUNCTION`.
    pub kind: String,
    pub db: String,
    pub name: String,
}

impl RoutineGrant {
    /// `FUNCTION `db`.`name``.
    pub fn on(&self) -> String {
        format!(
            "{} {}.{}",
            self.kind,
            mysql_ident(&self.db),
            mysql_ident(&self.name)
        )
    }

    pub fn sql(&self) -> String {
        format!(
            "GRANT {} ON {} TO {}{}",
            self.privileges,
            self.on(),
            self.grantee.sql(),
            if self.grant_option {
                " WITH GRANT OPTION"
            } else {
                ""
            }
        )
    }
}

impl MysqlDb {
    /// Every grantee's privileges on a routine (none for a trigger).
    pub async fn routine_grants(&self, kind: &str, db: &str, name: &str) -> DbResult<Vec<RoutineGrant>> {
        let kind = kind.to_ascii_uppercase();
        if kind != "PROCEDURE" && kind != "FUNCTION" {
            return Ok(Vec::new());
        }
        // mysql.procs_priv keeps non-ASCII names as their UTF-8 bytes read
        // as latin1 (seen on MySQL 9.7), so `WHERE Db = ?` misses them:
        // filter here, on the names as they were meant.
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT User, Host, CAST(Proc_priv AS CHAR), Db, Routine_name FROM mysql.procs_priv \
                     WHERE Routine_type = ? ORDER BY User, Host",
                )
                .bind(&kind),
            )
            .await?;
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| {
                let routine = text(r, 4);
                undo_latin1(&text(r, 3)) == db
                    && (undo_latin1(&routine) == name || routine.eq_ignore_ascii_case(name))
            })
            .collect();
        Ok(rows
            .iter()
            .filter_map(|r| {
                let set = text(r, 2);
                let privs: Vec<&str> = set
                    .split(',')
                    .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("Grant"))
                    .collect();
                let grant_option = set.split(',').any(|p| p.eq_ignore_ascii_case("Grant"));
                let privileges = if privs.is_empty() {
                    // Only the grant option: USAGE carries it.
                    "USAGE".to_owned()
                } else {
                    privs
                        .iter()
                        .map(|p| p.to_ascii_uppercase())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                (!privs.is_empty() || grant_option).then(|| RoutineGrant {
                    grantee: super::Account::new(undo_latin1(&text(r, 0)), undo_latin1(&text(r, 1))),
                    privileges,
                    grant_option,
                    kind: kind.clone(),
                    db: db.to_owned(),
                    name: name.to_owned(),
                })
            })
            .collect())
    }

    /// Give back `grants` (those missing now), then check every one is there.
    async fn regrant(&self, grants: &[RoutineGrant]) -> DbResult<()> {
        let Some(first) = grants.first() else {
            return Ok(());
        };
        let (kind, db, name) = (&first.kind, &first.db, &first.name);
        let now = self.routine_grants(kind, db, name).await?;
        let missing: Vec<Statement> = grants
            .iter()
            .filter(|g| !now.contains(g))
            .map(|g| Statement::new(g.sql()))
            .collect();
        if !missing.is_empty() {
            self.execute_plain(&missing).await?;
        }
        let after = self.routine_grants(kind, db, name).await?;
        let lost: Vec<String> = grants
            .iter()
            .filter(|g| !after.contains(g))
            .map(|g| g.grantee.display())
            .collect();
        if lost.is_empty() {
            Ok(())
        } else {
            Err(DbError::new(
                DbErrorKind::Other,
                format!(
                    "{}: privileges of {} could not be given back",
                    first.on(),
                    lost.join(", ")
                ),
            ))
        }
    }
}

/// A name that was stored as its UTF-8 bytes read as latin1 (MySQL's
/// latin1 is cp1252), decoded back; any other text unchanged.
pub fn undo_latin1(s: &str) -> String {
    const CP1252: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
        '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
    ];
    if s.is_ascii() {
        return s.to_owned();
    }
    let bytes: Option<Vec<u8>> = s
        .chars()
        .map(|c| match c as u32 {
            0..=0x7f | 0xa0..=0xff => Some(c as u32 as u8),
            _ => CP1252.iter().position(|&x| x == c).map(|i| 0x80 + i as u8),
        })
        .collect();
    bytes
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| s.to_owned())
}

/// Where object backups go: `STATE_DIR/mysql-backups/`.
pub fn backup_dir() -> std::io::Result<PathBuf> {
    let dir = crate::paths::state_dir()
        .ok_or_else(|| std::io::Error::other("no state directory: set ROTUI_STATE_DIR"))?
        .join("mysql-backups");
    crate::paths::private_dir(&dir)?;
    Ok(dir)
}

/// Write one object's definition (runnable SQL: `USE`, its sql_mode, its
/// `SHOW CREATE` text) to a new 0600 file; returns its path.
pub fn save_backup(
    dir: &Path,
    db: &str,
    kind: &str,
    name: &str,
    sql_mode: &str,
    create: &str,
) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(60)
            .collect()
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let path = dir.join(format!(
        "{stamp}-{}.{}.{}.sql",
        safe(db),
        safe(name),
        kind.to_ascii_lowercase()
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    let text = format!(
        "-- rotui backup of {kind} {db}.{name}, taken before it was dropped to move its definer.\n\
         -- Restore: run this file with the mysql client as an admin.\n\
         USE {};\nSET SESSION sql_mode = {};\nDELIMITER $$rotui$$\n{create}\n$$rotui$$\nDELIMITER ;\n",
        mysql_ident(db),
        crate::db::ident::mysql_str(sql_mode),
    );
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(path)
}

/// The object a re-create batch (from `definer_plan`) drops: its kind,
/// schema and name, read from the batch's `DROP KIND `db`.`name`` line.
pub fn dropped_object(sql: &str) -> Option<(String, String, String)> {
    for chunk in sql.split(";\n") {
        // (A preview starts with `-- in database …` on a line of its own.)
        let line: Vec<&str> = chunk
            .lines()
            .skip_while(|l| l.trim_start().starts_with("--"))
            .collect();
        let line = line.join("\n");
        let line = line.trim();
        for kind in ["FUNCTION", "PROCEDURE", "TRIGGER"] {
            if let Some(rest) = line.strip_prefix(&format!("DROP {kind} ")) {
                let (db, rest) = backticked(rest)?;
                let (name, rest) = backticked(rest.strip_prefix('.')?)?;
                return rest.trim().is_empty().then(|| (kind.to_owned(), db, name));
            }
        }
    }
    None
}

/// One `` `name` `` at the start of `s` (doubled backticks inside), and the rest.
fn backticked(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix('`')?;
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '`' {
            if chars.peek().map(|&(_, c)| c) == Some('`') {
                out.push('`');
                chars.next();
            } else {
                return Some((out, &s[i + 1..]));
            }
        } else {
            out.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dropped_object_is_read_back_from_a_batch() {
        let sql = "SET @rotui_sql_mode = @@SESSION.sql_mode;\nSET SESSION sql_mode = 'ANSI';\n\
                   DROP FUNCTION `d``b`.`f.x`;\nCREATE DEFINER='a'@'%' FUNCTION `f.x`() RETURNS INT RETURN 1;\n\
                   SET SESSION sql_mode = @rotui_sql_mode";
        assert_eq!(
            dropped_object(sql),
            Some(("FUNCTION".into(), "d`b".into(), "f.x".into()))
        );
        assert_eq!(
            dropped_object("-- in database x\nDROP TRIGGER `x`.`t`;\nCREATE TRIGGER t"),
            Some(("TRIGGER".into(), "x".into(), "t".into()))
        );
        assert_eq!(dropped_object("DROP USER 'a'@'%'"), None);
        assert_eq!(dropped_object("ALTER VIEW x AS SELECT 1"), None);
    }

    #[test]
    fn latin1_mangled_names_are_read_back() {
        assert_eq!(undo_latin1("zÃ¯x"), "zïx");
        assert_eq!(undo_latin1("plain"), "plain");
        assert_eq!(undo_latin1("zïx"), "zïx", "real text that is not mangled stays");
        assert_eq!(undo_latin1("â‚¬"), "€", "cp1252's 0x80–0x9f too");
    }

    #[test]
    fn the_check_blocks_only_without_trust_or_super() {
        let c = RecreateCheck {
            log_bin: true,
            trust_function_creators: false,
            admin_has_super: false,
        };
        assert!(c.blocks_functions_and_triggers());
        assert!(
            !RecreateCheck {
                trust_function_creators: true,
                ..c.clone()
            }
            .blocks_functions_and_triggers()
        );
        assert!(
            !RecreateCheck {
                log_bin: false,
                ..c.clone()
            }
            .blocks_functions_and_triggers()
        );
        assert!(
            !RecreateCheck {
                admin_has_super: true,
                ..c
            }
            .blocks_functions_and_triggers()
        );
    }

    #[test]
    fn backups_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("mysql-backups");
        crate::paths::private_dir(&dir).unwrap();
        let path = save_backup(
            &dir,
            "d",
            "function",
            "f",
            "ANSI",
            "CREATE FUNCTION f() RETURNS INT RETURN 1",
        )
        .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("CREATE FUNCTION f()")
        );
    }
}
