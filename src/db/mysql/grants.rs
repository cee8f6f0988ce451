//! `SHOW GRANTS` lines as structures, and rendering them for another
//! grantee (cloning). Parsing is in `grant_parse.rs`, comparison in
//! `verify.rs`, account options in `options.rs`.
//!
//! Cloning a user means replaying its grant lines for the new account, and
//! the text cannot simply be edited: MariaDB prints the account's password
//! hash inside the USAGE line (`IDENTIFIED BY PASSWORD '*…'`, `IDENTIFIED
//! VIA … USING '…'`), and replaying it would silently give the new user the
//! old password. So every line is parsed into a [`GrantLine`] (credentials
//! dropped at parse time), and statements are rendered from that.

use std::collections::BTreeSet;

use serde::Serialize;

pub use super::account::Account;
use super::options::AccountOptions;
use crate::db::ident::mysql_ident;
use crate::model::{FlavorKind, Grant, GrantKind};

/// The object a privilege line is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct GrantOn {
    /// `TABLE`, `PROCEDURE`, `FUNCTION`, `PACKAGE`, `PACKAGE BODY`, or empty.
    pub object_type: String,
    /// `None` = `*`.
    pub db: Option<String>,
    /// `None` = `*`.
    pub name: Option<String>,
}

impl GrantOn {
    pub fn sql(&self) -> String {
        let part = |p: &Option<String>| p.as_deref().map(mysql_ident).unwrap_or_else(|| "*".into());
        let prefix = if self.object_type.is_empty() {
            String::new()
        } else {
            format!("{} ", self.object_type)
        };
        format!("{prefix}{}.{}", part(&self.db), part(&self.name))
    }

    fn kind(&self) -> GrantKind {
        match (self.object_type.as_str(), &self.db, &self.name) {
            ("PROCEDURE" | "FUNCTION" | "PACKAGE" | "PACKAGE BODY", _, _) => GrantKind::Routine,
            (_, None, _) => GrantKind::Global,
            (_, Some(_), None) => GrantKind::Database,
            _ => GrantKind::Table,
        }
    }
}

/// One privilege, possibly limited to columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Privilege {
    pub name: String,
    pub columns: Vec<String>,
}

impl Privilege {
    fn sql(&self) -> String {
        if self.columns.is_empty() {
            self.name.clone()
        } else {
            let cols: Vec<String> = self.columns.iter().map(|c| mysql_ident(c)).collect();
            format!("{} ({})", self.name, cols.join(", "))
        }
    }
}

/// One `SHOW GRANTS` line, structured, without credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum GrantLine {
    Privileges {
        privileges: Vec<Privilege>,
        on: GrantOn,
        grantee: Account,
        grant_option: bool,
        options: AccountOptions,
    },
    /// MySQL 8 partial revokes (`REVOKE INSERT ON mysql.* FROM …`).
    Revoke {
        privileges: Vec<Privilege>,
        on: GrantOn,
        grantee: Account,
    },
    Proxy {
        proxied: Account,
        grantee: Account,
        grant_option: bool,
    },
    Roles {
        roles: Vec<Account>,
        grantee: Account,
        admin_option: bool,
    },
    /// MariaDB's `SET DEFAULT ROLE r FOR u`; MySQL 8 keeps default roles out
    /// of SHOW GRANTS (they come from mysql.default_roles). Empty = NONE.
    DefaultRole { roles: Vec<Account>, grantee: Account },
}

/// A line as read: the structure plus the server's text without credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedGrant {
    pub line: GrantLine,
    pub raw: String,
}

/// Why a line could not be parsed. The text is cut at any credential-looking
/// clause, so it is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot understand the grant line {shown:?}: {reason}")]
pub struct ParseError {
    pub shown: String,
    pub reason: String,
}

impl GrantLine {
    pub fn grantee(&self) -> &Account {
        match self {
            GrantLine::Privileges { grantee, .. }
            | GrantLine::Revoke { grantee, .. }
            | GrantLine::Proxy { grantee, .. }
            | GrantLine::Roles { grantee, .. }
            | GrantLine::DefaultRole { grantee, .. } => grantee,
        }
    }

    /// The statements that give `to` what this line gives its grantee, in
    /// `flavor`'s dialect. Never carries credentials (they were never parsed).
    /// A bare `GRANT USAGE ON *.*` yields nothing: CREATE USER gave that.
    pub fn render_for(&self, to: &Account, flavor: FlavorKind) -> Vec<String> {
        let to_sql = to.sql();
        match self {
            GrantLine::Privileges {
                privileges,
                on,
                grant_option,
                options,
                ..
            } => {
                let mut out = Vec::new();
                let usage_only = privileges.iter().all(|p| p.name == "USAGE");
                if !usage_only || *grant_option {
                    let privs: Vec<String> = privileges.iter().map(Privilege::sql).collect();
                    out.push(format!(
                        "GRANT {} ON {} TO {to_sql}{}",
                        privs.join(", "),
                        on.sql(),
                        if *grant_option { " WITH GRANT OPTION" } else { "" }
                    ));
                }
                if let Some(req) = options
                    .require
                    .as_deref()
                    .filter(|r| !r.eq_ignore_ascii_case("NONE"))
                {
                    out.push(format!("ALTER USER {to_sql} REQUIRE {req}"));
                }
                let limits: Vec<String> = options
                    .limits
                    .iter()
                    .filter(|(_, v)| v != "0")
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                if !limits.is_empty() {
                    out.push(format!("ALTER USER {to_sql} WITH {}", limits.join(" ")));
                }
                out
            }
            GrantLine::Revoke { privileges, on, .. } => {
                let privs: Vec<String> = privileges.iter().map(Privilege::sql).collect();
                vec![format!(
                    "REVOKE {} ON {} FROM {to_sql}",
                    privs.join(", "),
                    on.sql()
                )]
            }
            GrantLine::Proxy {
                proxied,
                grant_option,
                ..
            } => vec![format!(
                "GRANT PROXY ON {} TO {to_sql}{}",
                proxied.sql(),
                if *grant_option { " WITH GRANT OPTION" } else { "" }
            )],
            GrantLine::Roles {
                roles, admin_option, ..
            } => {
                let roles: Vec<String> = roles.iter().map(Account::sql).collect();
                vec![format!(
                    "GRANT {} TO {to_sql}{}",
                    roles.join(", "),
                    if *admin_option { " WITH ADMIN OPTION" } else { "" }
                )]
            }
            GrantLine::DefaultRole { roles, .. } => {
                let roles = if roles.is_empty() {
                    "NONE".to_owned()
                } else {
                    roles.iter().map(Account::sql).collect::<Vec<_>>().join(", ")
                };
                match flavor {
                    FlavorKind::Mysql => vec![format!("SET DEFAULT ROLE {roles} TO {to_sql}")],
                    _ => vec![format!("SET DEFAULT ROLE {roles} FOR {to_sql}")],
                }
            }
        }
    }

    /// What this line grants, as grantee-free facts ("SELECT (`id`) ON
    /// `db`.`t`"), so two users' grants compare as sets whatever the line
    /// layout.
    pub fn atoms(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        match self {
            GrantLine::Privileges {
                privileges,
                on,
                grant_option,
                options,
                ..
            } => {
                let on = on.sql();
                for p in privileges.iter().filter(|p| p.name != "USAGE") {
                    if p.columns.is_empty() {
                        out.insert(format!("{} ON {on}", p.name));
                    }
                    for c in &p.columns {
                        out.insert(format!("{} ({}) ON {on}", p.name, mysql_ident(c)));
                    }
                }
                if *grant_option {
                    out.insert(format!("GRANT OPTION ON {on}"));
                }
                if !options.is_empty() {
                    if let Some(r) = &options.require {
                        out.insert(format!("REQUIRE {r}"));
                    }
                    for (k, v) in options.limits.iter().filter(|(_, v)| v != "0") {
                        out.insert(format!("{k} {v}"));
                    }
                }
            }
            GrantLine::Revoke { privileges, on, .. } => {
                for p in privileges {
                    out.insert(format!("REVOKE {} ON {}", p.sql(), on.sql()));
                }
            }
            GrantLine::Proxy {
                proxied,
                grant_option,
                ..
            } => {
                out.insert(format!("PROXY ON {}", proxied.sql()));
                if *grant_option {
                    out.insert(format!("GRANT OPTION ON PROXY {}", proxied.sql()));
                }
            }
            GrantLine::Roles {
                roles, admin_option, ..
            } => {
                for r in roles {
                    out.insert(format!("ROLE {}", r.sql()));
                    if *admin_option {
                        out.insert(format!("ADMIN OPTION ON ROLE {}", r.sql()));
                    }
                }
            }
            GrantLine::DefaultRole { roles, .. } => {
                for r in roles {
                    out.insert(format!("DEFAULT ROLE {}", r.sql()));
                }
            }
        }
        out
    }
}

impl ParsedGrant {
    /// The model's view of this line.
    pub fn to_grant(&self) -> Grant {
        let (privileges, on, kind, with_grant_option) = match &self.line {
            GrantLine::Privileges {
                privileges,
                on,
                grant_option,
                ..
            } => {
                let kind = if privileges.iter().any(|p| !p.columns.is_empty()) {
                    GrantKind::Column
                } else {
                    on.kind()
                };
                (
                    privileges.iter().map(Privilege::sql).collect(),
                    on.sql(),
                    kind,
                    *grant_option,
                )
            }
            GrantLine::Revoke { privileges, on, .. } => (
                privileges.iter().map(|p| format!("REVOKE {}", p.sql())).collect(),
                on.sql(),
                on.kind(),
                false,
            ),
            GrantLine::Proxy {
                proxied,
                grant_option,
                ..
            } => (
                vec!["PROXY".into()],
                proxied.display(),
                GrantKind::Proxy,
                *grant_option,
            ),
            GrantLine::Roles {
                roles, admin_option, ..
            } => (
                roles.iter().map(Account::display).collect(),
                String::new(),
                GrantKind::Role,
                *admin_option,
            ),
            GrantLine::DefaultRole { roles, .. } => (
                roles.iter().map(Account::display).collect(),
                String::new(),
                GrantKind::DefaultRole,
                false,
            ),
        };
        Grant {
            privileges,
            on,
            kind,
            with_grant_option,
            raw: self.raw.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::mysql::grant_parse::parse_line;
    use crate::db::mysql::verify::GrantDiff;

    fn parse(l: &str) -> ParsedGrant {
        parse_line(l).unwrap_or_else(|e| panic!("{e}"))
    }

    fn new_user() -> Account {
        Account::new("signon_user_20260121", "%")
    }

    #[test]
    fn mariadb_usage_line_loses_its_password_hash() {
        let g = parse(
            "GRANT USAGE ON *.* TO `signon`@`%` IDENTIFIED BY PASSWORD '*B69027D44F6E5EDC07F1AEAD1477967B16F28227'",
        );
        assert_eq!(g.raw, "GRANT USAGE ON *.* TO `signon`@`%`");
        assert!(g.render_for_new().is_empty(), "USAGE alone needs no statement");
        assert!(!format!("{g:?}").contains("B69027"));
    }

    impl ParsedGrant {
        fn render_for_new(&self) -> Vec<String> {
            self.line.render_for(&new_user(), FlavorKind::Mariadb)
        }
    }

    #[test]
    fn mariadb_via_plugin_and_options_keep_limits_not_credentials() {
        let g = parse(
            "GRANT PROCESS ON *.* TO `old`@`10.0.%` IDENTIFIED VIA ed25519 USING 'lEiAPNNMP1kq0dRsguIBKo/em5EPb9Y0272TblVhRUw' REQUIRE SSL WITH GRANT OPTION MAX_USER_CONNECTIONS 10",
        );
        assert_eq!(
            g.raw,
            "GRANT PROCESS ON *.* TO `old`@`10.0.%` REQUIRE SSL WITH GRANT OPTION MAX_USER_CONNECTIONS 10"
        );
        assert_eq!(
            g.render_for_new(),
            [
                "GRANT PROCESS ON *.* TO 'signon_user_20260121'@'%' WITH GRANT OPTION",
                "ALTER USER 'signon_user_20260121'@'%' REQUIRE SSL",
                "ALTER USER 'signon_user_20260121'@'%' WITH MAX_USER_CONNECTIONS 10",
            ]
        );
        assert_eq!(g.to_grant().kind, GrantKind::Global);
        assert!(g.to_grant().with_grant_option);
    }

    #[test]
    fn mariadb_statement_time_limits_have_fractions() {
        let g = parse(
            "GRANT USAGE ON *.* TO `old`@`%` IDENTIFIED BY PASSWORD '*0D3CED9BEC10A777AEC23CCC353A8C08A633045E' WITH MAX_USER_CONNECTIONS 50 MAX_STATEMENT_TIME 300.000000",
        );
        assert_eq!(
            g.render_for_new(),
            ["ALTER USER 'signon_user_20260121'@'%' WITH MAX_USER_CONNECTIONS 50 MAX_STATEMENT_TIME 300"]
        );
        let half = parse("GRANT USAGE ON *.* TO `old`@`%` WITH MAX_STATEMENT_TIME 0.500000");
        assert_eq!(
            half.render_for_new(),
            ["ALTER USER 'signon_user_20260121'@'%' WITH MAX_STATEMENT_TIME 0.5"]
        );
    }

    #[test]
    fn mysql57_identified_with_plugin_as_hash() {
        let g = parse(
            "GRANT USAGE ON *.* TO 'u'@'%' IDENTIFIED WITH 'mysql_native_password' AS '*0D3CED9BEC10A777AEC23CCC353A8C08A633045E' REQUIRE SSL WITH GRANT OPTION",
        );
        assert_eq!(
            g.raw,
            "GRANT USAGE ON *.* TO 'u'@'%' REQUIRE SSL WITH GRANT OPTION"
        );
        assert_eq!(
            g.render_for_new(),
            [
                "GRANT USAGE ON *.* TO 'signon_user_20260121'@'%' WITH GRANT OPTION",
                "ALTER USER 'signon_user_20260121'@'%' REQUIRE SSL",
            ]
        );
    }

    #[test]
    fn database_table_column_and_routine_lines() {
        let g = parse("GRANT SELECT, INSERT ON `we'ird-db`.* TO `old`@`10.0.%` WITH GRANT OPTION");
        assert_eq!(
            g.render_for_new(),
            ["GRANT SELECT, INSERT ON `we'ird-db`.* TO 'signon_user_20260121'@'%' WITH GRANT OPTION"]
        );
        assert_eq!(g.to_grant().kind, GrantKind::Database);

        let g = parse(
            "GRANT SELECT (`id`, `col``x`), UPDATE, UPDATE (`secret_col`) ON `we'ird-db`.`t1` TO `old`@`10.0.%`",
        );
        assert_eq!(
            g.render_for_new(),
            [
                "GRANT SELECT (`id`, `col``x`), UPDATE, UPDATE (`secret_col`) ON `we'ird-db`.`t1` TO 'signon_user_20260121'@'%'"
            ]
        );
        assert_eq!(g.to_grant().kind, GrantKind::Column);
        assert!(g.line.atoms().contains("SELECT (`col``x`) ON `we'ird-db`.`t1`"));

        let g = parse("GRANT EXECUTE, ALTER ROUTINE ON FUNCTION `we'ird-db`.`f1` TO `old`@`10.0.%`");
        assert_eq!(
            g.render_for_new(),
            ["GRANT EXECUTE, ALTER ROUTINE ON FUNCTION `we'ird-db`.`f1` TO 'signon_user_20260121'@'%'"]
        );
        assert_eq!(g.to_grant().kind, GrantKind::Routine);
    }

    #[test]
    fn proxy_roles_and_default_role_lines() {
        let g = parse("GRANT PROXY ON `target`@`%` TO `old`@`10.0.%` WITH GRANT OPTION");
        assert_eq!(
            g.render_for_new(),
            ["GRANT PROXY ON 'target'@'%' TO 'signon_user_20260121'@'%' WITH GRANT OPTION"]
        );
        let g = parse("GRANT `app role`, `r2` TO `old`@`10.0.%` WITH ADMIN OPTION");
        assert_eq!(
            g.render_for_new(),
            ["GRANT 'app role', 'r2' TO 'signon_user_20260121'@'%' WITH ADMIN OPTION"]
        );
        assert_eq!(g.to_grant().kind, GrantKind::Role);
        let g = parse("SET DEFAULT ROLE `approle` FOR `old`@`10.0.%`");
        assert_eq!(
            g.render_for_new(),
            ["SET DEFAULT ROLE 'approle' FOR 'signon_user_20260121'@'%'"]
        );
    }

    /// Lines as MySQL 8.0 prints them (from its reference manual: SHOW GRANTS,
    /// roles, partial revokes, dynamic privileges).
    #[test]
    fn mysql8_lines() {
        let g = parse("GRANT SELECT, INSERT, UPDATE, DELETE ON `db1`.* TO `u1`@`localhost`");
        assert_eq!(g.line.grantee(), &Account::new("u1", "localhost"));

        let g = parse("GRANT `r1`@`%`,`r2`@`%` TO `u1`@`localhost`");
        let GrantLine::Roles { roles, .. } = &g.line else {
            panic!()
        };
        assert_eq!(roles, &[Account::new("r1", "%"), Account::new("r2", "%")]);
        assert_eq!(
            g.line.render_for(&new_user(), FlavorKind::Mysql),
            ["GRANT 'r1'@'%', 'r2'@'%' TO 'signon_user_20260121'@'%'"]
        );

        let g = parse(
            "GRANT APPLICATION_PASSWORD_ADMIN,AUDIT_ADMIN,BACKUP_ADMIN ON *.* TO `admin`@`%` WITH GRANT OPTION",
        );
        let GrantLine::Privileges { privileges, .. } = &g.line else {
            panic!()
        };
        assert_eq!(privileges.len(), 3);
        assert_eq!(privileges[2].name, "BACKUP_ADMIN");

        let g = parse("REVOKE INSERT, UPDATE ON `mysql`.* FROM `u1`@`localhost`");
        assert_eq!(
            g.line.render_for(&new_user(), FlavorKind::Mysql),
            ["REVOKE INSERT, UPDATE ON `mysql`.* FROM 'signon_user_20260121'@'%'"]
        );

        let g = parse("GRANT PROXY ON ``@`` TO `u1`@`localhost`");
        let GrantLine::Proxy { proxied, .. } = &g.line else {
            panic!()
        };
        assert_eq!(proxied, &Account::new("", ""));

        let g = parse("GRANT ALL ON `db``x`.`t` TO `u1`@`%`");
        let GrantLine::Privileges { privileges, on, .. } = &g.line else {
            panic!()
        };
        assert_eq!(privileges[0].name, "ALL PRIVILEGES");
        assert_eq!(on.sql(), "`db``x`.`t`");

        let g = parse("SET DEFAULT ROLE `r1`@`%` TO `u1`@`localhost`");
        assert_eq!(
            g.line.render_for(&new_user(), FlavorKind::Mysql),
            ["SET DEFAULT ROLE 'r1'@'%' TO 'signon_user_20260121'@'%'"]
        );
    }

    #[test]
    fn hostile_names_round_trip() {
        let g = parse(r#"GRANT ALL PRIVILEGES ON `sïgn-on ``x'"%`.* TO `a'b\c`@`%`"#);
        let GrantLine::Privileges { on, grantee, .. } = &g.line else {
            panic!()
        };
        assert_eq!(on.db.as_deref(), Some("sïgn-on `x'\"%"));
        // Backslash is literal inside backticks.
        assert_eq!(grantee.user, r"a'b\c");
        assert_eq!(grantee.sql(), r"'a''b\\c'@'%'");
    }

    #[test]
    fn equivalence_ignores_layout_and_grantee() {
        let old = [
            parse("GRANT USAGE ON *.* TO `old`@`%` IDENTIFIED BY PASSWORD '*AA'"),
            parse("GRANT SELECT, INSERT ON `d`.* TO `old`@`%`"),
        ];
        let new = [
            parse("GRANT USAGE ON *.* TO `new`@`%` IDENTIFIED BY PASSWORD '*BB'"),
            parse("GRANT INSERT ON `d`.* TO `new`@`%`"),
            parse("GRANT SELECT, DELETE ON `d`.* TO `new`@`%`"),
        ];
        let d = GrantDiff::between(&old, &new);
        assert_eq!(d.missing, Vec::<String>::new());
        assert_eq!(d.extra, ["DELETE ON `d`.*"]);
        assert!(GrantDiff::between(&old, &old).is_empty());
    }

    #[test]
    fn unparseable_lines_never_show_credentials() {
        let e = parse_line("GRANT FROB ON TO `x`@`%` IDENTIFIED BY PASSWORD '*SECRETHASH'").unwrap_err();
        assert!(!e.to_string().contains("SECRETHASH"), "{e}");
    }
}
