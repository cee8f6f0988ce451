//! The runbook's check of the synced Secret
//! (`kubectl get secret X -o json | jq '.data.DATABASE_URL | @base64d'`):
//! decode DATABASE_URL and compare its user and password with what we
//! expect, reporting the user, host, database and yes/no — never the
//! password, never the URL.

use futures::Stream;
use k8s_openapi::api::core::v1::Secret;
use percent_encoding::percent_decode_str;

use super::{K8s, K8sError};
use crate::secret::{ExposeSecret, SecretString, register};

/// The key GOV.UK's ExternalSecret templates.
pub const DATABASE_URL: &str = "DATABASE_URL";

/// The credentials the app should be using.
#[derive(Debug, Clone)]
pub struct Expected {
    pub username: String,
    pub password: SecretString,
}

impl Expected {
    pub fn new(username: impl Into<String>, password: SecretString) -> Self {
        Expected {
            username: username.into(),
            password,
        }
    }
}

/// What a DATABASE_URL says, minus its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCheck {
    pub scheme: String,
    pub user: String,
    pub host: String,
    pub port: Option<u16>,
    pub database: String,
    pub user_matches: bool,
    pub password_matches: bool,
    /// Why the URL does not parse, when it does not (the rest is then read
    /// as a template writes it unescaped: [`check_url`]). The app cannot
    /// connect with such a URL.
    pub unparsable: Option<String>,
}

impl UrlCheck {
    /// Both user and password are the expected ones.
    pub fn matches(&self) -> bool {
        self.user_matches && self.password_matches
    }

    /// One line for the dashboard: `user signon_user_20260121 @ host/db: password matches`.
    pub fn summary(&self) -> String {
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let verdict = match (self.user_matches, self.password_matches) {
            (true, true) => "user and password match",
            (true, false) => "user matches, password DIFFERS",
            (false, true) => "user DIFFERS, password matches",
            (false, false) => "user and password DIFFER",
        };
        let broken = match &self.unparsable {
            Some(why) => format!(" ({})", unparsable_note(why)),
            None => String::new(),
        };
        format!(
            "user {} @ {}{}/{}: {verdict}{broken}",
            self.user, self.host, port, self.database
        )
    }
}

/// What a DATABASE_URL that does not parse means, in a few words.
pub fn unparsable_note(why: &str) -> String {
    format!("DATABASE_URL is not a valid URL ({why}): the app cannot connect with it")
}

/// Why `url` does not parse as a URL, if it does not. Never quotes it.
pub fn unparsable(url: &str) -> Option<String> {
    url::Url::parse(url.trim()).err().map(|e| e.to_string())
}

/// Compare a DATABASE_URL with the expected credentials. The password found
/// is registered for redaction; errors never quote the URL.
///
/// A URL that does not parse is most often one an ExternalSecret template
/// wrote without percent-encoding a password holding `@ : / % # ?` or a
/// space: it is then read as that template writes it
/// (`scheme://user:password@host[:port]/database`, the password running to
/// the last `@`), so the check still says whose credentials it holds, with
/// [`UrlCheck::unparsable`] saying why the app cannot use them. Only text
/// that is not even that is an error.
pub fn check_url(url: &str, expected: &Expected) -> Result<UrlCheck, K8sError> {
    let parsed = match url::Url::parse(url.trim()) {
        Ok(p) => p,
        Err(e) => {
            return unescaped(url.trim(), expected, e.to_string())
                .ok_or_else(|| K8sError::Invalid(format!("DATABASE_URL is not a valid URL ({e})")));
        }
    };
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let user = decode(parsed.username());
    let password = parsed.password().map(decode).unwrap_or_default();
    register(&password);
    let database = parsed.path().trim_start_matches('/').to_owned();
    Ok(UrlCheck {
        scheme: parsed.scheme().to_owned(),
        host: parsed.host_str().unwrap_or_default().to_owned(),
        port: parsed.port(),
        database: decode(&database),
        user_matches: user == expected.username,
        password_matches: !password.is_empty() && password == expected.password.expose_secret(),
        user,
        unparsable: None,
    })
}

/// `url` read as an unescaping template writes it; `None` unless it has a
/// scheme and a `user:password@` part.
fn unescaped(url: &str, expected: &Expected, why: String) -> Option<UrlCheck> {
    let (scheme, rest) = url.split_once("://")?;
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return None;
    }
    let (userinfo, location) = rest.rsplit_once('@')?;
    let (user, password) = userinfo.split_once(':')?;
    register(password);
    let location = location.split(['?', '#']).next().unwrap_or_default();
    let (authority, database) = location.split_once('/').unwrap_or((location, ""));
    let (host, port) = match authority.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
        Some((h, Ok(p))) => (h, Some(p)),
        _ => (authority, None),
    };
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let want = expected.password.expose_secret();
    Some(UrlCheck {
        scheme: scheme.to_owned(),
        host: host.to_owned(),
        port,
        database: decode(database),
        user_matches: user == expected.username || decode(user) == expected.username,
        password_matches: !password.is_empty() && (password == want || decode(password) == want),
        user: user.to_owned(),
        unparsable: Some(why),
    })
}

/// The password a DATABASE_URL carries, kept secret (and registered with
/// the redactor): whatever it is, the dashboard masks it until `v`.
pub fn url_password(url: &SecretString) -> Option<SecretString> {
    let parsed = url::Url::parse(url.expose_secret().trim()).ok()?;
    let password = percent_decode_str(parsed.password()?)
        .decode_utf8_lossy()
        .into_owned();
    register(&password);
    Some(SecretString::from(password))
}

/// Find `KEY=value` in `env` output (one variable per line).
pub(crate) fn find_env<'a>(env: &'a str, key: &str) -> Option<&'a str> {
    env.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Read Secret `name` and check its DATABASE_URL.
pub async fn check_secret(k8s: &K8s, name: &str, expected: &Expected) -> Result<UrlCheck, K8sError> {
    let url = read_url(k8s, name).await?;
    check_database_url(k8s, name, &url, expected)
}

/// Secret `name`'s DATABASE_URL, read now.
pub async fn read_url(k8s: &K8s, name: &str) -> Result<SecretString, K8sError> {
    let secret = k8s
        .api::<Secret>()
        .get(name)
        .await
        .map_err(|e| k8s.op("get", "secrets").named(name).err(e))?;
    database_url(k8s, name, &secret)
}

/// Secret `name`'s DATABASE_URL, kept secret; a missing key names the keys
/// that are there.
pub fn database_url(k8s: &K8s, name: &str, secret: &Secret) -> Result<SecretString, K8sError> {
    let object = format!("Secret {}/{name}", k8s.namespace());
    let data = secret.data.clone().unwrap_or_default();
    let Some(bytes) = data.get(DATABASE_URL) else {
        let mut keys: Vec<String> = data.keys().cloned().collect();
        // stringData is write-only in real clusters, but a fake may echo it.
        keys.extend(secret.string_data.clone().unwrap_or_default().into_keys());
        return Err(K8sError::MissingKey {
            object,
            key: DATABASE_URL.to_owned(),
            keys,
        });
    };
    let url = String::from_utf8(bytes.0.clone())
        .map_err(|_| K8sError::Invalid(format!("{object}: {DATABASE_URL} is not UTF-8")))?;
    Ok(SecretString::from(url))
}

/// Check a DATABASE_URL read from Secret `name`.
pub fn check_database_url(
    k8s: &K8s,
    name: &str,
    url: &SecretString,
    expected: &Expected,
) -> Result<UrlCheck, K8sError> {
    check_url(url.expose_secret(), expected)
        .map_err(|e| K8sError::Invalid(format!("Secret {}/{name}: {e}", k8s.namespace())))
}

/// Watch Secret `name`'s DATABASE_URL: yields it now and after every change
/// to the Secret, `None` while the Secret does not exist, and a missing key
/// as an error item. Watch failures are yielded too and the watch retries
/// with backoff, so the stream only ends when dropped.
pub fn watch_url(
    k8s: &K8s,
    name: &str,
) -> impl Stream<Item = Result<Option<SecretString>, K8sError>> + Send + 'static {
    let (client, secret) = (k8s.clone(), name.to_owned());
    k8s.watch_named("secrets", name, move |s: &Secret| {
        database_url(&client, &secret, s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{redact, secret};

    #[test]
    fn compares_user_and_password_without_showing_them() {
        let exp = Expected::new("signon_user_20260121", secret("Zq8rT2vLx9"));
        let ok = check_url(
            "mysql2://signon_user_20260121:Zq8rT2vLx9@db.internal/signon_production",
            &exp,
        )
        .unwrap();
        assert!(ok.matches());
        assert_eq!(ok.database, "signon_production");
        assert_eq!(ok.host, "db.internal");
        let old = check_url(
            "mysql2://signon:0ldPassw0rdX@db.internal:3306/signon_production",
            &exp,
        )
        .unwrap();
        assert!(!old.user_matches && !old.password_matches);
        assert_eq!(old.port, Some(3306));
        let text = format!("{old:?} {}", old.summary());
        assert!(!text.contains("0ldPassw0rdX"), "{text}");
        // The password read from the URL is now scrubbed everywhere.
        assert_eq!(redact("x 0ldPassw0rdX y"), format!("x {} y", crate::secret::MASK));
    }

    #[test]
    fn percent_encoded_users_are_decoded_and_bad_urls_are_not_echoed() {
        let exp = Expected::new("account-api-user-20260121", secret("pw12345678"));
        let c = check_url(
            "postgresql://account-api-user-20260121:pw12345678@h/account-api_production",
            &exp,
        )
        .unwrap();
        assert!(c.matches());
        let e = check_url("not a url with s3cr3tvalue", &exp)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3tvalue"), "{e}");
    }

    #[test]
    fn an_unescaped_password_is_read_as_the_template_wrote_it() {
        let hostile = "p@ss:w/rd %41#x?y z";
        let exp = Expected::new("signon", secret(hostile));
        let url = format!("mysql2://signon:{hostile}@db.internal:3306/signon_production");
        assert!(unparsable(&url).is_some(), "the URL does not parse");
        let c = check_url(&url, &exp).unwrap();
        assert!(c.matches(), "{c:?}");
        assert_eq!(
            (c.host.as_str(), c.port, c.database.as_str()),
            ("db.internal", Some(3306), "signon_production")
        );
        assert!(c.unparsable.is_some());
        let summary = c.summary();
        assert!(
            summary.contains("not a valid URL") && summary.contains("cannot connect"),
            "{summary}"
        );
        // Other credentials do not match it, and it is never shown.
        let other = check_url(&url, &Expected::new("signon_user_2", secret("Zq8rT2vLx9aa"))).unwrap();
        assert!(!other.user_matches && !other.password_matches);
        let shown = format!("{c:?} {summary} {other:?} {}", other.summary());
        assert!(!shown.contains(hostile), "{shown}");
        assert!(!redact(&format!("x {hostile} y")).contains(hostile));
        // A valid URL is not unparsable.
        assert_eq!(unparsable("mysql2://a:b@h:3306/d"), None);
    }

    #[test]
    fn env_lines_are_found_exactly() {
        let env = "PATH=/bin\nDATABASE_URL_REPLICA=x\nDATABASE_URL=mysql2://a:b@h/d\n";
        assert_eq!(find_env(env, "DATABASE_URL"), Some("mysql2://a:b@h/d"));
        assert_eq!(find_env(env, "NOPE"), None);
    }
}
