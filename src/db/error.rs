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
}
