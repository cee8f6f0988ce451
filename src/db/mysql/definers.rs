//! Moving the definer of views, routines, triggers and events.

use serde::Serialize;

use crate::db::model::DbObject;

use super::Plan;

/// An object's `SHOW CREATE` text, kept before it is changed.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectBackup {
    pub object: DbObject,
    pub create_sql: String,
}

/// What moving definers will do, and the backups to keep.
#[derive(Debug, Clone, Default)]
pub struct DefinerPlan {
    pub plan: Plan,
    pub backups: Vec<ObjectBackup>,
}

/// Whether an object works after its definer moved.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectCheck {
    pub object: DbObject,
    pub problem: Option<String>,
}
