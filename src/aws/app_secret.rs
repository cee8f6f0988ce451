//! The app's database secret (`govuk/<app>/<engine>`): JSON with `username`,
//! `password`, `host` and whatever else the estate keeps there (e.g.
//! `hostReplica`), all of which a rotation must carry over untouched.

use std::fmt;

use serde_json::{Map, Value};

use super::error::{AwsError, AwsErrorKind, AwsResult};
use crate::secret::{ExposeSecret, MASK, SecretString, redact};

/// The keys every app secret must have.
pub const REQUIRED_KEYS: [&str; 3] = ["username", "password", "host"];

/// One version of an app secret. The password is registered for redaction
/// as soon as it is read; `Debug` masks it.
#[derive(Clone)]
pub struct AppSecret {
    pub secret_id: String,
    pub version_id: String,
    /// Staging labels of this version (AWSCURRENT, AWSPENDING, AWSPREVIOUS…).
    pub stages: Vec<String>,
    pub username: String,
    pub password: SecretString,
    pub host: String,
    /// Every other key, kept as it is so that new versions preserve it.
    pub other: Map<String, Value>,
}

impl fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppSecret")
            .field("secret_id", &self.secret_id)
            .field("version_id", &self.version_id)
            .field("stages", &self.stages)
            .field("username", &self.username)
            .field("password", &MASK)
            .field("host", &self.host)
            .field("other", &redact(&Value::Object(self.other.clone()).to_string()))
            .finish()
    }
}

impl AppSecret {
    /// Parse a version's SecretString. Missing keys are named together, and
    /// nothing from the value ever reaches an error.
    pub fn parse(
        secret_id: &str,
        version_id: &str,
        stages: Vec<String>,
        secret_string: &str,
    ) -> AwsResult<Self> {
        let mut map = parse_object(secret_id, secret_string)?;
        let missing: Vec<&str> = REQUIRED_KEYS
            .iter()
            .copied()
            .filter(|k| !map.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            let have: Vec<&str> = map.keys().map(String::as_str).collect();
            return Err(AwsError::new(
                AwsErrorKind::Invalid,
                format!(
                    "secret {secret_id} (version {version_id}) lacks the key(s) {}; it has: {}",
                    missing.join(", "),
                    list_or_none(&have)
                ),
            )
            .with_hint("an app secret needs username, password and host"));
        }
        let mut take = |key: &str| -> AwsResult<String> {
            match map.remove(key) {
                Some(Value::String(s)) => Ok(s),
                _ => Err(AwsError::invalid(format!(
                    "secret {secret_id} (version {version_id}): key {key} is not a string"
                ))),
            }
        };
        let password = take("password")?;
        let password = crate::secret::secret(password);
        Ok(AppSecret {
            secret_id: secret_id.to_owned(),
            version_id: version_id.to_owned(),
            stages,
            username: take("username")?,
            password,
            host: take("host")?,
            other: map,
        })
    }

    /// The JSON of a version holding `username` and `password` and every
    /// other key of this one.
    pub fn json_with(&self, username: &str, password: &SecretString) -> SecretString {
        let mut map = self.other.clone();
        map.insert("username".into(), Value::String(username.to_owned()));
        map.insert(
            "password".into(),
            Value::String(password.expose_secret().to_owned()),
        );
        map.insert("host".into(), Value::String(self.host.clone()));
        SecretString::from(Value::Object(map).to_string())
    }

    /// Whether this version holds exactly these credentials.
    pub fn holds(&self, username: &str, password: &SecretString) -> bool {
        self.username == username && self.password.expose_secret() == password.expose_secret()
    }

    pub fn has_stage(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s == stage)
    }

    /// The names of the keys besides username, password and host.
    pub fn other_keys(&self) -> Vec<&str> {
        self.other.keys().map(String::as_str).collect()
    }
}

/// A SecretString that must be a JSON object; the error never quotes it.
pub(crate) fn parse_object(secret_id: &str, text: &str) -> AwsResult<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        // serde_json's messages give a position, never the text.
        Ok(_) => Err(AwsError::invalid(format!(
            "secret {secret_id} is not a JSON object"
        ))),
        Err(e) => Err(AwsError::invalid(format!(
            "secret {secret_id} is not valid JSON ({e})"
        ))),
    }
}

pub(crate) fn list_or_none(keys: &[&str]) -> String {
    if keys.is_empty() {
        "no keys".to_owned()
    } else {
        keys.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{"username":"signon","password":"Pw0rdForUnitTest1","host":"db.internal","hostReplica":"replica.internal","port":3306}"#;

    #[test]
    fn parses_and_keeps_every_other_key() {
        let s = AppSecret::parse("govuk/signon/mysql", "v1", vec!["AWSCURRENT".into()], JSON).unwrap();
        assert_eq!(s.username, "signon");
        assert_eq!(s.host, "db.internal");
        assert_eq!(s.other_keys(), vec!["hostReplica", "port"]);
        let new = crate::secret::secret("NewPasswordForUnit2");
        let json: Value =
            serde_json::from_str(s.json_with("signon_user_20260121", &new).expose_secret()).unwrap();
        assert_eq!(json["username"], "signon_user_20260121");
        assert_eq!(json["password"], "NewPasswordForUnit2");
        assert_eq!(json["hostReplica"], "replica.internal");
        assert_eq!(json["port"], 3306);
        assert_eq!(json["host"], "db.internal");
    }

    #[test]
    fn debug_masks_the_password() {
        let s = AppSecret::parse("x", "v1", vec![], JSON).unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains("Pw0rdForUnitTest1"), "{d}");
        assert!(d.contains(MASK) && d.contains("replica.internal"), "{d}");
    }

    #[test]
    fn missing_keys_are_named_and_values_never_shown() {
        let e = AppSecret::parse("x", "v1", vec![], r#"{"username":"u","pwd":"HiddenValue99"}"#).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("password, host") && m.contains("it has: pwd, username"),
            "{m}"
        );
        assert!(!m.contains("HiddenValue99"));
        let e = AppSecret::parse("x", "v1", vec![], "not json HiddenValue99").unwrap_err();
        assert!(!e.to_string().contains("HiddenValue99"), "{e}");
    }
}
