//! Which key of `<env>-rds-admin-passwords` holds the app's admin password.
//! The estate keys it by terraform's database key (`account_api`, `chat`,
//! `whitehall`), which is often neither the app's name nor its database's.
//! The RDS host name says it: terraform names the CNAME
//! `<key with - for _>-<engine>.<env>.govuk-internal.digital` (govuk-
//! infrastructure `rds.tf`), so `chat-postgres…` is key `chat` and
//! `content-store-postgres…` is `content_store`. The data sync's CronJob
//! names the same host in its `DB_HOST` (`db-backup-passwd` is keyed by
//! it), which serves where the app secret's host is an address (as in the
//! sandbox). Failing both: the app name, then with underscores,
//! then the database name without its environment suffix; otherwise the
//! operator chooses among the keys.

/// The terraform key a host name of the estate's form implies:
/// `chat-postgres.staging.govuk-internal.digital:5432` → `chat`. `None`
/// for an address or a first label without an engine suffix.
pub fn from_host(host: &str) -> Option<String> {
    let name = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    if name.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let label = name.split('.').next()?;
    ["-postgres", "-postgresql", "-mysql"]
        .iter()
        .find_map(|suffix| label.strip_suffix(suffix))
        .filter(|stem| !stem.is_empty())
        .map(|stem| stem.replace('-', "_"))
}

/// The key chosen and why, or every key there is to choose from.
pub fn choose(
    app: &str,
    env: &str,
    database: &str,
    hosts: &[(&str, &'static str)],
    keys: &[String],
) -> Result<(String, &'static str), Vec<String>> {
    let has = |k: &str| keys.iter().any(|have| have == k);
    let underscored = app.replace('-', "_");
    let stem = ["_production".to_owned(), format!("_{env}")]
        .iter()
        .find_map(|suffix| database.strip_suffix(suffix.as_str()))
        .filter(|s| !s.is_empty())
        .map(|s| s.replace('-', "_"));
    let named = hosts.iter().map(|(h, why)| (from_host(h), *why));
    let candidates = named.chain([
        (Some(app.to_owned()), "app name"),
        (Some(underscored), "app name with underscores"),
        (stem, "database name"),
    ]);
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
            choose("signon", "production", "signon_production", &[], &have),
            Ok(("signon".into(), "app name"))
        );
        assert_eq!(
            choose("account-api", "production", "account-api_production", &[], &have),
            Ok(("account_api".into(), "app name with underscores"))
        );
        assert_eq!(
            choose(
                "whitehall-admin",
                "production",
                "whitehall_production",
                &[],
                &have
            ),
            Ok(("whitehall".into(), "database name"))
        );
        assert_eq!(
            choose("whitehall-admin", "staging", "whitehall_staging", &[], &have),
            Ok(("whitehall".into(), "database name"))
        );
        // The app name wins over its underscored form when both exist.
        let both = keys(&["a-b", "a_b"]);
        assert_eq!(
            choose("a-b", "production", "x", &[], &both),
            Ok(("a-b".into(), "app name"))
        );
    }

    #[test]
    fn the_rds_host_name_says_the_key_first() {
        let have = keys(&["chat", "content_store", "govuk_chat", "whitehall"]);
        assert_eq!(
            choose(
                "govuk-chat",
                "staging",
                "govuk_chat_production",
                &[("chat-postgres.staging.govuk-internal.digital", "RDS host name")],
                &have
            ),
            Ok(("chat".into(), "RDS host name"))
        );
        assert_eq!(
            choose(
                "content-store",
                "production",
                "content_store_production",
                &[(
                    "content-store-postgres.production.govuk-internal.digital:5432",
                    "RDS host name"
                )],
                &have
            ),
            Ok(("content_store".into(), "RDS host name"))
        );
        // A key the host implies but the secret lacks: the other rules.
        assert_eq!(
            choose(
                "whitehall-admin",
                "production",
                "whitehall_production",
                &[("gone-mysql.production.govuk-internal.digital", "RDS host name")],
                &have
            ),
            Ok(("whitehall".into(), "database name"))
        );
        assert_eq!(from_host("127.0.0.1:3306"), None);
        assert_eq!(from_host("localhost"), None);
        assert_eq!(from_host("[::1]:5432"), None);
        assert_eq!(from_host("-mysql.x"), None);
        assert_eq!(
            from_host("whitehall-mysql.integration.govuk-internal.digital"),
            Some("whitehall".into())
        );
    }

    /// The sandbox's app secrets hold addresses: the data sync's DB_HOST says it.
    #[test]
    fn the_data_syncs_db_host_serves_where_the_secret_holds_an_address() {
        let have = keys(&["chat", "govuk_chat"]);
        assert_eq!(
            choose(
                "govuk-chat",
                "production",
                "govuk_chat_production",
                &[
                    ("127.0.0.1:5432", "RDS host name"),
                    ("chat-postgres", "db-backup DB_HOST")
                ],
                &have
            ),
            Ok(("chat".into(), "db-backup DB_HOST"))
        );
    }

    #[test]
    fn otherwise_every_key_is_offered() {
        let have = keys(&["zeta", "alpha", "mid"]);
        let Err(offered) = choose(
            "whitehall-admin",
            "production",
            "whitehall_production",
            &[],
            &have,
        ) else {
            panic!("nothing should match");
        };
        assert_eq!(offered, keys(&["alpha", "mid", "zeta"]));
        assert_eq!(ask(&offered), "pass --admin-secret-key, one of: alpha, mid, zeta");
        assert!(ask(&[]).contains("no keys"));
    }
}
