//! Which key of `<env>-rds-admin-passwords` holds the app's admin password.
//! The estate keys it by terraform's database key (`account_api`,
//! `collections_publisher`), which is not always the app name: try the app
//! name, then with underscores, then the database name without its
//! environment suffix; otherwise the operator chooses among the keys.

/// The key chosen and why, or every key there is to choose from.
pub fn choose(
    app: &str,
    env: &str,
    database: &str,
    keys: &[String],
) -> Result<(String, &'static str), Vec<String>> {
    let has = |k: &str| keys.iter().any(|have| have == k);
    let underscored = app.replace('-', "_");
    let stem = ["_production".to_owned(), format!("_{env}")]
        .iter()
        .find_map(|suffix| database.strip_suffix(suffix.as_str()))
        .filter(|s| !s.is_empty())
        .map(|s| s.replace('-', "_"));
    let candidates = [
        (Some(app.to_owned()), "app name"),
        (Some(underscored), "app name with underscores"),
        (stem, "database name"),
    ];
    for (key, why) in candidates {
        if let Some(key) = key.filter(|k| has(k)) {
            return Ok((key, why));
        }
    }
    let mut all = keys.to_vec();
    all.sort();
    Err(all)
}

/// What the CLI says when it cannot choose.
pub fn ask(keys: &[String]) -> String {
    if keys.is_empty() {
        "pass --admin-secret-key: the admin secret has no keys".to_owned()
    } else {
        format!("pass --admin-secret-key, one of: {}", keys.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn app_name_then_underscores_then_database() {
        let have = keys(&["signon", "account_api", "whitehall", "collections_publisher"]);
        assert_eq!(
            choose("signon", "production", "signon_production", &have),
            Ok(("signon".into(), "app name"))
        );
        assert_eq!(
            choose("account-api", "production", "account-api_production", &have),
            Ok(("account_api".into(), "app name with underscores"))
        );
        assert_eq!(
            choose("whitehall-admin", "production", "whitehall_production", &have),
            Ok(("whitehall".into(), "database name"))
        );
        assert_eq!(
            choose("whitehall-admin", "staging", "whitehall_staging", &have),
            Ok(("whitehall".into(), "database name"))
        );
        // The app name wins over its underscored form when both exist.
        let both = keys(&["a-b", "a_b"]);
        assert_eq!(
            choose("a-b", "production", "x", &both),
            Ok(("a-b".into(), "app name"))
        );
    }

    #[test]
    fn otherwise_every_key_is_offered() {
        let have = keys(&["zeta", "alpha", "mid"]);
        let Err(offered) = choose("whitehall-admin", "production", "whitehall_production", &have) else {
            panic!("nothing should match");
        };
        assert_eq!(offered, keys(&["alpha", "mid", "zeta"]));
        assert_eq!(ask(&offered), "pass --admin-secret-key, one of: alpha, mid, zeta");
        assert!(ask(&[]).contains("no keys"));
    }
}
