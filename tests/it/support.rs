//! Helpers every test module may use.

use rotui::secret::{ExposeSecret, SecretString};

/// A name no other test uses: `prefix` and ten random hex digits.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Fails the test, without printing them, if any of `secrets` is in `text`.
pub fn assert_no_secret(text: &str, secrets: &[&SecretString]) {
    for (i, s) in secrets.iter().enumerate() {
        assert!(
            !text.contains(s.expose_secret()),
            "secret #{i} leaked into: {}",
            rotui::secret::redact(text)
        );
    }
}
