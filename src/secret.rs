//! Keeping secrets secret. Passwords travel as [`SecretString`] (its `Debug`
//! prints `[REDACTED]`); anything that prints text which might hold one —
//! errors from drivers, logs, the journal — goes through [`redact`], which
//! scrubs every password rotui has seen in this process and the password part
//! of any URL.

use std::sync::{LazyLock, RwLock};

use rand::Rng;
use rand::distr::Alphanumeric;
pub use secrecy::{ExposeSecret, SecretString};

/// What a masked value looks like on screen and in logs.
pub const MASK: &str = "••••••••";

static KNOWN: LazyLock<RwLock<Vec<String>>> = LazyLock::new(|| RwLock::new(Vec::new()));

/// Remember a secret so that [`redact`] scrubs it from any text. Every code
/// path that reads or makes a password calls this; short values (< 4 chars)
/// are ignored because scrubbing them would mangle ordinary text.
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|k| k == secret) {
        known.push(secret.to_owned());
        // Longest first, so a secret that contains another is scrubbed whole.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// Make a [`SecretString`] and register it for redaction.
pub fn secret(value: impl Into<String>) -> SecretString {
    let value: String = value.into();
    register(&value);
    SecretString::from(value)
}

/// A new password as the runbook asks (`pwgen -s 32 1`): 32 letters and
/// digits, so it needs no URL escaping in the DATABASE_URL template.
pub fn generate_password() -> SecretString {
    let p: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    secret(p)
}

/// Text that has been through [`redact`]: every way to make one redacts,
/// so a message bound for the screen cannot skip it. Errors that reach the
/// dashboard travel as this, not as `String`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(text: impl AsRef<str>) -> Self {
        Redacted(redact(text.as_ref()))
    }

    /// An error with its causes (`{:#}`: eyre's chain, a plain error's text).
    pub fn error(e: impl std::fmt::Display) -> Self {
        Redacted::new(format!("{e:#}"))
    }

    /// `what: self`.
    pub fn context(&self, what: impl std::fmt::Display) -> Self {
        Redacted::new(format!("{what}: {}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Redacted {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Redacted {
    fn from(text: &str) -> Self {
        Redacted::new(text)
    }
}

impl From<String> for Redacted {
    fn from(text: String) -> Self {
        Redacted::new(text)
    }
}

/// Scrub known secrets and URL passwords (`scheme://user:PASSWORD@host`) from text.
pub fn redact(text: &str) -> String {
    let mut out = mask_url_passwords(text);
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    for k in known.iter() {
        if out.contains(k.as_str()) {
            out = out.replace(k.as_str(), MASK);
        }
    }
    out
}

/// Replace the password of every `scheme://user:password@` in `text` with the mask.
pub fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace or quote; its
        // userinfo at the last '@' within it.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'' || c == '`')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_to_make_redacted_text_redacts_and_keeps_the_chain() {
        register("redactedTypeSecret77");
        let url = "mysql://admin:urlPassword88@db:3306/x";
        for r in [
            Redacted::new(format!("failed with redactedTypeSecret77 at {url}")),
            Redacted::from("failed with redactedTypeSecret77 at mysql://admin:urlPassword88@db:3306/x"),
            Redacted::from(format!("failed with redactedTypeSecret77 at {url}")),
            Redacted::error(format!("failed with redactedTypeSecret77 at {url}")),
            Redacted::new("failed").context(format!("redactedTypeSecret77 at {url}")),
        ] {
            let text = format!("{r} {r:?} {}", r.as_str());
            assert!(!text.contains("redactedTypeSecret77"), "{text}");
            assert!(!text.contains("urlPassword88"), "{text}");
            assert!(text.contains(MASK), "{text}");
        }
        // An error's causes stay, redacted too.
        let e = color_eyre::eyre::eyre!("cause with redactedTypeSecret77").wrap_err("connecting");
        let r = Redacted::error(&e);
        assert!(r.as_str().starts_with("connecting: cause with"), "{r}");
        assert!(!r.as_str().contains("redactedTypeSecret77"), "{r}");
    }

    #[test]
    fn generated_passwords_are_32_alphanumerics_and_registered() {
        let p = generate_password();
        let p = p.expose_secret();
        assert_eq!(p.len(), 32);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(redact(&format!("boom: {p}!")), format!("boom: {MASK}!"));
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            mask_url_passwords("failed: mysql2://signon:hunter2xyz@db.internal/signon_production"),
            format!("failed: mysql2://signon:{MASK}@db.internal/signon_production")
        );
        assert_eq!(
            mask_url_passwords("postgresql://u:p@ss:w@h:5432/d and http://host/x"),
            format!("postgresql://u:{MASK}@h:5432/d and http://host/x")
        );
        assert_eq!(mask_url_passwords("no urls here"), "no urls here");
    }

    #[test]
    fn secret_strings_do_not_debug_print() {
        let s = secret("correcthorsebattery");
        assert!(!format!("{s:?}").contains("correcthorse"));
    }
}
