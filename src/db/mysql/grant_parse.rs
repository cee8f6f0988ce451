//! Parsing `SHOW GRANTS` lines of MySQL 5.7/8/9 and MariaDB into
//! [`GrantLine`]s. Credentials (`IDENTIFIED BY PASSWORD '*…'`, `IDENTIFIED
//! VIA … USING '…'`) are dropped here, at parse time, so nothing later can
//! replay them.

use super::account::Account;
use super::grants::{GrantLine, GrantOn, ParseError, ParsedGrant, Privilege};
use super::options::AccountOptions;
use crate::db::ident::mysql_str;

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
    fn target(&mut self) -> Result<GrantOn, String> {
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
            Ok(GrantOn {
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
                            let Some(Tok::Word(mut n)) = self.next() else {
                                return Err(format!("expected a number after {limit}"));
                            };
                            // MariaDB's MAX_STATEMENT_TIME is in seconds with
                            // a fraction (`300.000000`): kept without its
                            // trailing zeros, so equal limits compare equal.
                            if self.peek() == Some(&Tok::Sym('.')) {
                                self.pos += 1;
                                let Some(Tok::Word(frac)) = self.next() else {
                                    return Err(format!("expected a number after {limit}"));
                                };
                                let frac = frac.trim_end_matches('0');
                                if !frac.is_empty() {
                                    n = format!("{n}.{frac}");
                                }
                            }
                            options.limits.push((limit, n));
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
