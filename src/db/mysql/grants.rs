//! `SHOW GRANTS` lines: parsed, rendered for another grantee, compared.
//!
//! Cloning a user means replaying its grant lines for the new account, and
//! the text cannot simply be edited: MariaDB prints the account's password
//! hash inside the USAGE line (`IDENTIFIED BY PASSWORD '*…'`, `IDENTIFIED
//! VIA … USING '…'`), and replaying it would silently give the new user the
//! old password. So every line is parsed into a [`GrantLine`] (credentials
//! dropped at parse time), and statements are rendered from that.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::db::ident::{mysql_ident, mysql_str};
use crate::db::model::{FlavorKind, Grant, GrantKind};

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

/// The object a privilege line is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Target {
    /// `TABLE`, `PROCEDURE`, `FUNCTION`, `PACKAGE`, `PACKAGE BODY`, or empty.
    pub object_type: String,
    /// `None` = `*`.
    pub db: Option<String>,
    /// `None` = `*`.
    pub name: Option<String>,
}

impl Target {
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

/// Account options that MariaDB prints on grant lines (MySQL 8 never does):
/// TLS requirements and resource limits. Not credentials, so they are cloned,
/// through `ALTER USER`, which both flavours accept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct AccountOptions {
    /// The text after `REQUIRE`, e.g. `SSL`; `None` or `NONE` = nothing required.
    pub require: Option<String>,
    /// `MAX_USER_CONNECTIONS 10` and the like.
    pub limits: Vec<(String, String)>,
}

impl AccountOptions {
    fn is_empty(&self) -> bool {
        self.require
            .as_deref()
            .is_none_or(|r| r.eq_ignore_ascii_case("NONE"))
            && self.limits.iter().all(|(_, v)| v == "0")
    }
}

/// One `SHOW GRANTS` line, structured, without credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum GrantLine {
    Privileges {
        privileges: Vec<Privilege>,
        on: Target,
        grantee: Account,
        grant_option: bool,
        options: AccountOptions,
    },
    /// MySQL 8 partial revokes (`REVOKE INSERT ON mysql.* FROM …`).
    Revoke {
        privileges: Vec<Privilege>,
        on: Target,
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

/// How two users' grants differ. Empty = equivalent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GrantDiff {
    /// Granted to the old user, not to the new one.
    pub missing: Vec<String>,
    /// Granted to the new user, not to the old one.
    pub extra: Vec<String>,
}

impl GrantDiff {
    pub fn between(old: &[ParsedGrant], new: &[ParsedGrant]) -> GrantDiff {
        let atoms =
            |gs: &[ParsedGrant]| -> BTreeSet<String> { gs.iter().flat_map(|g| g.line.atoms()).collect() };
        let (a, b) = (atoms(old), atoms(new));
        GrantDiff {
            missing: a.difference(&b).cloned().collect(),
            extra: b.difference(&a).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }
}

// ---------------------------------------------------------------- parsing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare word or number, upper-cased (`SELECT`, `*`, `10`).
    Word(String),
    /// A `` `quoted` `` identifier, unescaped.
    Ident(String),
    /// A `'string'`, unescaped.
    Str(String),
    Sym(char),
}

/// A token and where it starts in the line.
struct Spanned {
    tok: Tok,
    at: usize,
}

fn tokenize(line: &str) -> Result<Vec<Spanned>, String> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '`' || c == '\'' || c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("unterminated quote".into()),
                    Some((_, '\\')) if c != '`' => {
                        if let Some((_, e)) = chars.next() {
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                '0' => '\0',
                                other => other,
                            });
                        }
                    }
                    Some((_, q)) if q == c => {
                        if chars.peek().map(|&(_, n)| n) == Some(c) {
                            chars.next();
                            s.push(c);
                        } else {
                            break;
                        }
                    }
                    Some((_, other)) => s.push(other),
                }
            }
            out.push(Spanned {
                tok: if c == '`' { Tok::Ident(s) } else { Tok::Str(s) },
                at,
            });
        } else if ".,@()=".contains(c) {
            chars.next();
            out.push(Spanned { tok: Tok::Sym(c), at });
        } else {
            let mut w = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || "`'\".,@()=".contains(c) {
                    break;
                }
                w.push(c);
                chars.next();
            }
            out.push(Spanned {
                tok: Tok::Word(w.to_ascii_uppercase()),
                at,
            });
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: &'a [Spanned],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|s| &s.tok)
    }
    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|s| s.tok.clone());
        self.pos += 1;
        t
    }
    fn at(&self) -> Option<usize> {
        self.toks.get(self.pos).map(|s| s.at)
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek_word() == Some(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_sym(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_word(&mut self, w: &str) -> Result<(), String> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(format!("expected {w}"))
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Ident(s) | Tok::Str(s)) => Ok(s),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    /// `'u'@'h'`, `` `u`@`h` ``, or a host-less role `` `r` ``.
    fn account(&mut self) -> Result<Account, String> {
        let user = match self.next() {
            Some(Tok::Ident(s) | Tok::Str(s)) => s,
            // MariaDB 10.11's PUBLIC pseudo-role, and bare words in general.
            Some(Tok::Word(w)) => w,
            other => return Err(format!("expected an account, found {other:?}")),
        };
        let host = if self.eat_sym('@') {
            Some(self.name()?)
        } else {
            None
        };
        Ok(Account { user, host })
    }

    fn accounts_until(&mut self, stop: &str) -> Result<Vec<Account>, String> {
        let mut out = vec![self.account()?];
        while self.eat_sym(',') {
            out.push(self.account()?);
        }
        if self.peek_word() != Some(stop) {
            return Err(format!("expected {stop}"));
        }
        Ok(out)
    }

    /// `SELECT, INSERT (`a`, `b`), ALL PRIVILEGES, APPLICATION_PASSWORD_ADMIN` up to ON.
    fn privileges(&mut self) -> Result<Vec<Privilege>, String> {
        let mut out = Vec::new();
        loop {
            let mut words = Vec::new();
            while let Some(w) = self.peek_word() {
                if w == "ON" && !words.is_empty() {
                    break;
                }
                words.push(w.to_owned());
                self.pos += 1;
            }
            if words.is_empty() {
                return Err("expected a privilege".into());
            }
            let mut name = words.join(" ");
            if name == "ALL" {
                name = "ALL PRIVILEGES".into();
            }
            let mut columns = Vec::new();
            if self.eat_sym('(') {
                loop {
                    columns.push(self.name()?);
                    if self.eat_sym(')') {
                        break;
                    }
                    if !self.eat_sym(',') {
                        return Err("bad column list".into());
                    }
                }
            }
            out.push(Privilege { name, columns });
            if !self.eat_sym(',') {
                return Ok(out);
            }
        }
    }

    /// `[TABLE|PROCEDURE|FUNCTION|PACKAGE [BODY]] db.name` (either part may be `*`).
    fn target(&mut self) -> Result<Target, String> {
        let mut object_type = String::new();
        for t in ["TABLE", "PROCEDURE", "FUNCTION", "PACKAGE"] {
            if self.eat_word(t) {
                object_type = t.to_owned();
                if t == "PACKAGE" && self.eat_word("BODY") {
                    object_type.push_str(" BODY");
                }
                break;
            }
        }
        let part = |p: &mut Self| -> Result<Option<String>, String> {
            match p.next() {
                Some(Tok::Word(w)) if w == "*" => Ok(None),
                Some(Tok::Ident(s)) => Ok(Some(s)),
                other => Err(format!("expected a database or object, found {other:?}")),
            }
        };
        let first = part(self)?;
        if self.eat_sym('.') {
            Ok(Target {
                object_type,
                db: first,
                name: part(self)?,
            })
        } else {
            Err("expected db.object".into())
        }
    }

    /// Everything after `TO account`: credentials (skipped; their span is
    /// returned so the raw text can drop it), REQUIRE, WITH options.
    fn tail(&mut self) -> Result<Tail, String> {
        let (mut grant_option, mut admin_option) = (false, false);
        let mut options = AccountOptions::default();
        let mut cut = None;
        while let Some(w) = self.peek_word().map(str::to_owned) {
            match w.as_str() {
                "IDENTIFIED" => {
                    // `IDENTIFIED {BY [PASSWORD] | VIA | WITH} …` up to the
                    // next clause; `IDENTIFIED WITH plugin AS 'hash'` is how
                    // MySQL 5.7 prints it, so that WITH belongs to it.
                    let start = self.at().unwrap_or(0);
                    self.pos += 1;
                    self.eat_word("WITH");
                    while self.peek().is_some() && !matches!(self.peek_word(), Some("REQUIRE" | "WITH")) {
                        self.pos += 1;
                    }
                    cut = Some((start, self.at().unwrap_or(usize::MAX)));
                }
                "REQUIRE" => {
                    self.pos += 1;
                    let mut parts = Vec::new();
                    while self.peek().is_some() && self.peek_word() != Some("WITH") {
                        parts.push(match self.next() {
                            Some(Tok::Word(w)) => w,
                            Some(Tok::Str(s) | Tok::Ident(s)) => mysql_str(&s),
                            Some(Tok::Sym(c)) => c.to_string(),
                            None => unreachable!(),
                        });
                    }
                    options.require = Some(parts.join(" "));
                }
                "WITH" => {
                    self.pos += 1;
                    loop {
                        if self.eat_word("GRANT") {
                            self.expect_word("OPTION")?;
                            grant_option = true;
                        } else if self.eat_word("ADMIN") {
                            self.expect_word("OPTION")?;
                            admin_option = true;
                        } else if let Some(limit) = self
                            .peek_word()
                            .filter(|w| w.starts_with("MAX_"))
                            .map(str::to_owned)
                        {
                            self.pos += 1;
                            match self.next() {
                                Some(Tok::Word(n)) => options.limits.push((limit, n)),
                                _ => return Err(format!("expected a number after {limit}")),
                            }
                        } else {
                            break;
                        }
                    }
                }
                _ => return Err(format!("unexpected {w}")),
            }
        }
        if let Some(t) = self.peek() {
            return Err(format!("unexpected {t:?}"));
        }
        Ok(Tail {
            grant_option,
            admin_option,
            options,
            cut,
        })
    }
}

/// What follows `TO account`.
struct Tail {
    grant_option: bool,
    admin_option: bool,
    options: AccountOptions,
    /// Byte range of the credentials clause, dropped from the raw text.
    cut: Option<(usize, usize)>,
}

/// Parse one line of `SHOW GRANTS` output (MariaDB or MySQL 8).
pub fn parse_line(line: &str) -> Result<ParsedGrant, ParseError> {
    let fail = |reason: String| ParseError {
        shown: safe_excerpt(line),
        reason,
    };
    let toks = tokenize(line).map_err(fail)?;
    let mut p = Parser { toks: &toks, pos: 0 };
    let mut cut = None;
    let parsed = (|| -> Result<GrantLine, String> {
        if p.eat_word("SET") {
            p.expect_word("DEFAULT")?;
            p.expect_word("ROLE")?;
            let roles = if p.eat_word("NONE") {
                Vec::new()
            } else {
                let mut roles = vec![p.account()?];
                while p.eat_sym(',') {
                    roles.push(p.account()?);
                }
                roles
            };
            if !p.eat_word("FOR") {
                p.expect_word("TO")?;
            }
            let grantee = p.account()?;
            return Ok(GrantLine::DefaultRole { roles, grantee });
        }
        if p.eat_word("REVOKE") {
            let privileges = p.privileges()?;
            p.expect_word("ON")?;
            let on = p.target()?;
            p.expect_word("FROM")?;
            let grantee = p.account()?;
            return Ok(GrantLine::Revoke {
                privileges,
                on,
                grantee,
            });
        }
        p.expect_word("GRANT")?;
        if p.peek_word() == Some("PROXY")
            && matches!(p.toks.get(p.pos + 1), Some(Spanned { tok: Tok::Word(w), .. }) if w == "ON")
        {
            p.pos += 2;
            let proxied = p.account()?;
            p.expect_word("TO")?;
            let grantee = p.account()?;
            let tail = p.tail()?;
            cut = tail.cut;
            return Ok(GrantLine::Proxy {
                proxied,
                grantee,
                grant_option: tail.grant_option,
            });
        }
        // Role grants name quoted roles; privilege grants start with bare words.
        if matches!(p.peek(), Some(Tok::Ident(_) | Tok::Str(_))) {
            let roles = p.accounts_until("TO")?;
            p.expect_word("TO")?;
            let grantee = p.account()?;
            let tail = p.tail()?;
            cut = tail.cut;
            return Ok(GrantLine::Roles {
                roles,
                grantee,
                admin_option: tail.admin_option,
            });
        }
        let privileges = p.privileges()?;
        p.expect_word("ON")?;
        let on = p.target()?;
        p.expect_word("TO")?;
        let grantee = p.account()?;
        let tail = p.tail()?;
        cut = tail.cut;
        Ok(GrantLine::Privileges {
            privileges,
            on,
            grantee,
            grant_option: tail.grant_option,
            options: tail.options,
        })
    })()
    .map_err(fail)?;
    let raw = match cut {
        Some((s, e)) => {
            let e = e.min(line.len());
            format!("{} {}", line[..s].trim_end(), line[e..].trim_start())
                .trim()
                .to_owned()
        }
        None => line.trim().to_owned(),
    };
    Ok(ParsedGrant { line: parsed, raw })
}

/// The line up to any credential clause, for error messages.
fn safe_excerpt(line: &str) -> String {
    let upper = line.to_ascii_uppercase();
    let cut = ["IDENTIFIED", "PASSWORD", "USING", " AS "]
        .iter()
        .filter_map(|k| upper.find(k))
        .min()
        .unwrap_or(line.len());
    let mut s = line[..cut].trim_end().to_owned();
    if cut < line.len() {
        s.push_str(" …");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
