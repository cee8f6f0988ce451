//! A MySQL account (`user@host`) or MariaDB role: what every grant, option
//! and definer names.

use serde::Serialize;

use crate::db::ident::mysql_str;

/// A MySQL account or role. MariaDB roles have no host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Account {
    pub user: String,
    pub host: Option<String>,
}

impl Account {
    pub fn new(user: impl Into<String>, host: impl Into<String>) -> Self {
        Account {
            user: user.into(),
            host: Some(host.into()),
        }
    }

    /// A MariaDB role (no host part).
    pub fn role(name: impl Into<String>) -> Self {
        Account {
            user: name.into(),
            host: None,
        }
    }

    /// As SQL: `'user'@'host'`, or `'role'`.
    pub fn sql(&self) -> String {
        match &self.host {
            Some(h) => format!("{}@{}", mysql_str(&self.user), mysql_str(h)),
            None => mysql_str(&self.user),
        }
    }

    /// For people: `user@host`, or `role`.
    pub fn display(&self) -> String {
        match &self.host {
            Some(h) => format!("{}@{}", self.user, h),
            None => self.user.clone(),
        }
    }
}
