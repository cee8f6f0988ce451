//! Database failures as the operator needs them: what went wrong, in words,
//! and what to do. Driver messages pass through [`crate::secret::redact`], so
//! a URL or password inside one never reaches the screen.

use crate::secret::redact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DbErrorKind {
    /// 1045 / 28P01.
    BadPassword,
    /// Connection refused, DNS, TLS, timeout while connecting.
    Unreachable,
    /// 1044/1142/1227/1095 / 42501.
    Privilege,
    /// 1396 on CREATE / 42710.
    AlreadyExists,
    /// 1396 on DROP, 1133 / 42704.
    NotFound,
    /// 55P03 / 1205.
    LockTimeout,
    /// 2BP01: objects still depend on a role; 4006: MySQL definer.
    DependentObjects,
    /// 1449: the definer of a view/routine no longer exists.
    MissingDefiner,
    /// A query took longer than rotui allows.
    Timeout,
    /// Refused by rotui itself (a safety interlock).
    Refused,
    Other,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}{}", hint_suffix(.hint))]
pub struct DbError {
    pub kind: DbErrorKind,
    /// Server error code (MySQL number or SQLSTATE), when there is one.
    pub code: Option<String>,
    /// What happened (already redacted).
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

fn hint_suffix(h: &Option<String>) -> String {
    h.as_ref().map(|h| format!(" — {h}")).unwrap_or_default()
}

pub type DbResult<T> = Result<T, DbError>;

impl DbError {
    pub fn new(kind: DbErrorKind, message: impl AsRef<str>) -> Self {
        DbError {
            kind,
            code: None,
            message: redact(message.as_ref()),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Say what rotui was doing when it failed, e.g. `while running …`.
    pub fn context(mut self, doing: &str) -> Self {
        self.message = redact(&format!("{} (while {doing})", self.message));
        self
    }

    /// A refusal by one of rotui's own safety checks.
    pub fn refused(message: impl AsRef<str>) -> Self {
        DbError::new(DbErrorKind::Refused, message)
    }

    /// Classify a driver error by its server code.
    pub fn from_sqlx(err: sqlx::Error) -> Self {
        use DbErrorKind::*;
        match &err {
            sqlx::Error::Database(db) => {
                // MySQL's SQLSTATEs are coarse (28000 covers 1045 and 1698):
                // classify by its error number, PostgreSQL by its SQLSTATE.
                let code = match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                    Some(my) => my.number().to_string(),
                    None => db.code().map(|c| c.into_owned()).unwrap_or_default(),
                };
                let (kind, hint) = match code.as_str() {
                    "1045" | "28P01" | "28000" => {
                        (BadPassword, "check the password (is the admin secret current?)")
                    }
                    "1044" | "1142" | "1227" | "1095" | "1370" | "42501" => {
                        (Privilege, "the admin user lacks a privilege named above")
                    }
                    "1396" | "42710" => (
                        AlreadyExists,
                        "it may exist already: refresh to see the live state",
                    ),
                    "3D000" => (NotFound, "the database does not exist: check its name"),
                    "53300" => (
                        Unreachable,
                        "the server has no connection slots left: wait, or end idle sessions",
                    ),
                    "57P01" => (Other, "the session was terminated by an administrator; reconnect"),
                    "1133" | "42704" => (
                        NotFound,
                        "it does not exist (any more): refresh to see the live state",
                    ),
                    "55P03" | "1205" => (
                        LockTimeout,
                        "another session holds a lock; retry when it is quiet",
                    ),
                    "2BP01" | "4006" => (DependentObjects, "objects still depend on it: move them first"),
                    "1449" => (MissingDefiner, "re-create the object with an existing definer"),
                    "57014" | "3024" | "1969" => (Timeout, "the statement took too long and was cancelled"),
                    _ => (Other, ""),
                };
                // PostgreSQL puts the useful part of some errors in DETAIL
                // (which objects still depend on a role, for instance).
                let message = match db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .and_then(|pg| pg.detail())
                {
                    Some(detail) => format!("{}: {detail}", db.message()),
                    None => db.message().to_owned(),
                };
                let mut e = DbError::new(kind, message);
                // PostgreSQL's 28000 is not a wrong password: the role may
                // not log in (NOLOGIN), or pg_hba.conf refuses the client.
                let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some();
                let hint = if pg && code == "28000" {
                    "the server refuses this login: is the role NOLOGIN, or does pg_hba.conf exclude this client?"
                } else {
                    hint
                };
                e.code = Some(code);
                if !hint.is_empty() {
                    e.hint = Some(hint.into());
                }
                e
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed => DbError::new(Unreachable, err.to_string())
                .with_hint("is the server up and reachable (tunnel, VPN, security group)?"),
            sqlx::Error::Configuration(_) => {
                DbError::new(Other, err.to_string()).with_hint("check the database URL")
            }
            _ => DbError::new(Other, err.to_string()),
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from_sqlx(e)
    }
}
