//! The target of a rotation — (environment, app, engine) — and every name
//! derived from it by GOV.UK's conventions. Each derived name can be
//! overridden (flags or config), because estates drift from conventions.

use std::fmt;

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::stable_hash::{cut_to_fit, fnv1a_32};

/// The database engine behind an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// MySQL 8 or MariaDB (the MySQL family).
    #[value(alias = "mariadb")]
    Mysql,
    /// PostgreSQL.
    #[value(aliases = ["postgresql", "pg"])]
    Postgres,
}

impl Engine {
    /// Its name as rotui writes it (journal, rotation mark, messages).
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Mysql => "mysql",
            Engine::Postgres => "postgres",
        }
    }

    /// The engine a name suggests: it mentions mysql or mariadb, or
    /// postgres (`mysql-primary`, `account-api-postgres`, `pg`).
    pub fn named_in(name: &str) -> Option<Engine> {
        let name = name.to_ascii_lowercase();
        if name.contains("mysql") || name.contains("mariadb") {
            Some(Engine::Mysql)
        } else if name.contains("postgres") || name == "pg" {
            Some(Engine::Postgres)
        } else {
            None
        }
    }

    /// The engine whose [`Engine::as_str`] is `name`, exactly.
    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::value_variants()
            .iter()
            .copied()
            .find(|e| e.as_str() == name)
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An environment's name (`production`, `staging`, `integration`): each is
/// its own AWS account and cluster, so a name says which systems a value
/// belongs to, and a bare `String` said nothing of the kind. Reads as a
/// `&str` wherever one is wanted; serialized as the plain string, so
/// journals and marks written before it read the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EnvName(String);

impl EnvName {
    pub fn new(name: impl Into<String>) -> Self {
        EnvName(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for EnvName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for EnvName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for EnvName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for EnvName {
    fn from(s: &str) -> Self {
        EnvName(s.to_owned())
    }
}

impl From<String> for EnvName {
    fn from(s: String) -> Self {
        EnvName(s)
    }
}

impl From<&String> for EnvName {
    fn from(s: &String) -> Self {
        EnvName(s.clone())
    }
}

impl From<EnvName> for String {
    fn from(e: EnvName) -> Self {
        e.0
    }
}

macro_rules! env_name_eq {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for EnvName {
            fn eq(&self, other: &$other) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<EnvName> for $other {
            fn eq(&self, other: &EnvName) -> bool {
                *self == other.0
            }
        }
    )*};
}
env_name_eq!(str, &str, String);

/// Flags shared by the dashboard, `inspect`, `plan` and `rotate`.
#[derive(Debug, Clone, Default, Args, Serialize, Deserialize)]
pub struct TargetArgs {
    /// Environment, e.g. production, staging, integration, sandbox.
    #[arg(long, env = "ROTUI_ENV", global = true)]
    pub env: Option<String>,
    /// Application, e.g. signon, account-api.
    #[arg(long, env = "ROTUI_APP", global = true)]
    pub app: Option<String>,
    /// Database engine.
    #[arg(long, value_enum, env = "ROTUI_ENGINE", global = true)]
    pub engine: Option<Engine>,
    /// Override: the app's Secrets Manager secret [default: govuk/<app>/<engine>].
    #[arg(long, global = true)]
    pub app_secret: Option<String>,
    /// Override: the admin passwords secret [default: <env>-rds-admin-passwords].
    #[arg(long, global = true)]
    pub admin_secret: Option<String>,
    /// Override: the key of the admin password in the admin secret [default: <app>].
    #[arg(long, global = true)]
    pub admin_secret_key: Option<String>,
    /// Override: the RDS master user [default: aws_db_admin].
    #[arg(long, global = true)]
    pub admin_user: Option<String>,
    /// Override: the application database [default: <app>_production].
    #[arg(long, global = true)]
    pub database: Option<String>,
    /// Override: Kubernetes namespace [default: apps].
    #[arg(long, global = true)]
    pub namespace: Option<String>,
    /// Override: the ExternalSecret [default: <app>-<engine>].
    #[arg(long, global = true)]
    pub external_secret: Option<String>,
    /// Override: the Kubernetes Secret [default: <app>-<engine>].
    #[arg(long, global = true)]
    pub k8s_secret: Option<String>,
    /// Override: the app's Deployment [default: <app>].
    #[arg(long, global = true)]
    pub deployment: Option<String>,
    /// Override: the app's container [default: app].
    #[arg(long, global = true)]
    pub container: Option<String>,
    /// Override: PostgreSQL owner role [default: <app>-owner-role].
    #[arg(long, global = true)]
    pub owner_role: Option<String>,
}

/// One of a target's derived names, for saying where its value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    AppSecret,
    AdminSecret,
    AdminSecretKey,
    AdminUser,
    Database,
    Namespace,
    ExternalSecret,
    K8sSecret,
    Deployment,
    Container,
    OwnerRole,
}

impl Field {
    /// Every derived name, in the order screens list them.
    pub const ALL: [Field; 11] = [
        Field::Namespace,
        Field::Deployment,
        Field::Container,
        Field::K8sSecret,
        Field::ExternalSecret,
        Field::AppSecret,
        Field::Database,
        Field::AdminSecret,
        Field::AdminSecretKey,
        Field::AdminUser,
        Field::OwnerRole,
    ];

    /// The flag that overrides it, without the dashes: `admin-secret-key`.
    pub fn flag(self) -> &'static str {
        match self {
            Field::AppSecret => "app-secret",
            Field::AdminSecret => "admin-secret",
            Field::AdminSecretKey => "admin-secret-key",
            Field::AdminUser => "admin-user",
            Field::Database => "database",
            Field::Namespace => "namespace",
            Field::ExternalSecret => "external-secret",
            Field::K8sSecret => "k8s-secret",
            Field::Deployment => "deployment",
            Field::Container => "container",
            Field::OwnerRole => "owner-role",
        }
    }

    /// Its value in `t`.
    pub fn get(self, t: &Target) -> &str {
        match self {
            Field::AppSecret => &t.app_secret,
            Field::AdminSecret => &t.admin_secret,
            Field::AdminSecretKey => &t.admin_secret_key,
            Field::AdminUser => &t.admin_user,
            Field::Database => &t.database,
            Field::Namespace => &t.namespace,
            Field::ExternalSecret => &t.external_secret,
            Field::K8sSecret => &t.k8s_secret,
            Field::Deployment => &t.deployment,
            Field::Container => &t.container,
            Field::OwnerRole => &t.owner_role,
        }
    }

    fn slot(self, t: &mut Target) -> &mut String {
        match self {
            Field::AppSecret => &mut t.app_secret,
            Field::AdminSecret => &mut t.admin_secret,
            Field::AdminSecretKey => &mut t.admin_secret_key,
            Field::AdminUser => &mut t.admin_user,
            Field::Database => &mut t.database,
            Field::Namespace => &mut t.namespace,
            Field::ExternalSecret => &mut t.external_secret,
            Field::K8sSecret => &mut t.k8s_secret,
            Field::Deployment => &mut t.deployment,
            Field::Container => &mut t.container,
            Field::OwnerRole => &mut t.owner_role,
        }
    }

    /// The flag's value in `a`, if given.
    fn arg(self, a: &TargetArgs) -> Option<&String> {
        match self {
            Field::AppSecret => a.app_secret.as_ref(),
            Field::AdminSecret => a.admin_secret.as_ref(),
            Field::AdminSecretKey => a.admin_secret_key.as_ref(),
            Field::AdminUser => a.admin_user.as_ref(),
            Field::Database => a.database.as_ref(),
            Field::Namespace => a.namespace.as_ref(),
            Field::ExternalSecret => a.external_secret.as_ref(),
            Field::K8sSecret => a.k8s_secret.as_ref(),
            Field::Deployment => a.deployment.as_ref(),
            Field::Container => a.container.as_ref(),
            Field::OwnerRole => a.owner_role.as_ref(),
        }
    }
}

/// Where a name's value came from. Precedence: a flag always wins, then
/// what was discovered on the live systems, then the convention.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameSource {
    /// GOV.UK's convention (`Target::new`), not checked against anything.
    #[default]
    Convention,
    /// Given on the command line (or in the config file).
    Flag,
    /// Read from the live systems: from what, e.g.
    /// "Deployment whitehall-admin env DATABASE_URL".
    Discovered(String),
    /// The convention, because discovery could not tell: why.
    Fallback(String),
    /// Discovery found several candidates and cannot choose: the operator
    /// must pass the flag with one of them (the value is still the convention).
    Choose(Vec<String>),
    /// Nothing of the app was found (no Deployment, no ExternalSecret): the
    /// apps that were (the value is still the convention).
    NotFound(Vec<String>),
}

impl fmt::Display for NameSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameSource::Convention => f.write_str("convention"),
            NameSource::Flag => f.write_str("flag"),
            NameSource::Discovered(from) => f.write_str(from),
            NameSource::Fallback(why) => write!(f, "convention ({why})"),
            NameSource::Choose(keys) => write!(f, "unresolved: one of {}", keys.join(", ")),
            NameSource::NotFound(apps) => write!(f, "not found; the apps found: {}", apps.join(", ")),
        }
    }
}

/// Each derived name's [`NameSource`]; a name not listed is conventional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sources(std::collections::BTreeMap<Field, NameSource>);

impl Sources {
    pub fn get(&self, field: Field) -> &NameSource {
        static CONVENTION: NameSource = NameSource::Convention;
        self.0.get(&field).unwrap_or(&CONVENTION)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a flag set it (discovery must then leave it alone).
    pub fn is_flag(&self, field: Field) -> bool {
        matches!(self.get(field), NameSource::Flag)
    }

    /// The apps found when nothing of this one was, if so.
    pub fn not_found(&self) -> Option<&[String]> {
        self.0.values().find_map(|s| match s {
            NameSource::NotFound(apps) => Some(apps.as_slice()),
            _ => None,
        })
    }

    /// The first name discovery could not choose, with its candidates.
    pub fn unresolved(&self) -> Option<(Field, &[String])> {
        self.0.iter().find_map(|(f, s)| match s {
            NameSource::Choose(keys) => Some((*f, keys.as_slice())),
            _ => None,
        })
    }
}

/// A fully resolved target: every name rotui will touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub env: EnvName,
    pub app: String,
    pub engine: Engine,
    pub app_secret: String,
    pub admin_secret: String,
    pub admin_secret_key: String,
    pub admin_user: String,
    pub database: String,
    pub namespace: String,
    pub external_secret: String,
    pub k8s_secret: String,
    pub deployment: String,
    pub container: String,
    pub owner_role: String,
    /// Where each name came from (flag, discovery or convention).
    #[serde(default, skip_serializing_if = "Sources::is_empty")]
    pub sources: Sources,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("missing --{0} (or set it in the config file)")]
    Missing(&'static str),
    /// A name that cannot be what it names (shown escaped).
    #[error("--{flag} {value}: {why}")]
    Invalid {
        flag: &'static str,
        value: String,
        why: String,
    },
}

/// What a DNS-1123 label is, for messages.
const DNS_LABEL: &str = "Kubernetes needs a DNS-1123 label: at most 63 lowercase letters, digits and '-', \
starting and ending with a letter or digit (e.g. signon, account-api)";
const DNS_SUBDOMAIN: &str = "Kubernetes needs a DNS-1123 subdomain: at most 253 lowercase letters, digits, \
'-' and '.', starting and ending with a letter or digit";

fn dns_label_ok(s: &str) -> bool {
    dns_subdomain_ok(s) && s.len() <= 63 && !s.contains('.')
}

fn dns_subdomain_ok(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 253
        && s.chars().all(|c| alnum(c) || c == '-' || c == '.')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.split('.').all(|part| !part.is_empty())
}

/// AWS Secrets Manager names: letters, digits and `/_+=.@-`, at most 512.
fn aws_secret_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 512
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
}

fn invalid(flag: &'static str, value: &str, why: impl Into<String>) -> TargetError {
    TargetError::Invalid {
        flag,
        value: crate::text::shell_quote(&crate::text::escape_controls(value)),
        why: why.into(),
    }
}

impl Target {
    /// The conventional names for (env, app, engine).
    pub fn new(env: &str, app: &str, engine: Engine) -> Self {
        Target {
            env: EnvName::from(env),
            app: app.to_owned(),
            engine,
            app_secret: format!("govuk/{app}/{engine}"),
            admin_secret: format!("{env}-rds-admin-passwords"),
            admin_secret_key: app.to_owned(),
            admin_user: "aws_db_admin".to_owned(),
            database: format!("{app}_production"),
            namespace: "apps".to_owned(),
            external_secret: format!("{app}-{engine}"),
            k8s_secret: format!("{app}-{engine}"),
            deployment: app.to_owned(),
            container: "app".to_owned(),
            owner_role: format!("{app}-owner-role"),
            sources: Sources::default(),
        }
    }

    /// Set `field` to `value`, recording where it came from.
    pub fn set(&mut self, field: Field, value: impl Into<String>, source: NameSource) {
        *field.slot(self) = value.into();
        self.sources.0.insert(field, source);
    }

    /// Record where `field`'s current value came from, leaving the value.
    pub fn note(&mut self, field: Field, source: NameSource) {
        self.sources.0.insert(field, source);
    }

    /// Every derived name with its value and where it came from, in
    /// [`Field::ALL`]'s order.
    pub fn provenance(&self) -> Vec<(Field, &str, &NameSource)> {
        Field::ALL
            .iter()
            .map(|&f| (f, f.get(self), self.sources.get(f)))
            .collect()
    }

    /// Resolve flags into a target: conventions first, then overrides.
    pub fn from_args(a: &TargetArgs) -> Result<Self, TargetError> {
        let env = a.env.as_deref().ok_or(TargetError::Missing("env"))?;
        let app = a.app.as_deref().ok_or(TargetError::Missing("app"))?;
        let engine = a.engine.ok_or(TargetError::Missing("engine"))?;
        let mut t = Target::new(env, app, engine);
        for field in Field::ALL {
            if let Some(v) = field.arg(a) {
                t.set(field, v.clone(), NameSource::Flag);
            }
        }
        t.validate()?;
        Ok(t)
    }

    /// Check every name before anything uses it: the app and environment
    /// (they make the Kubernetes names and the secrets' names) and the
    /// Kubernetes names are DNS-1123, the secrets' names are AWS names, and
    /// no name holds a control character. The first bad name is named, with
    /// what it should look like.
    pub fn validate(&self) -> Result<(), TargetError> {
        let labels: [(&'static str, &str); 4] = [
            ("app", &self.app),
            ("env", &self.env),
            ("namespace", &self.namespace),
            ("container", &self.container),
        ];
        for (flag, v) in labels {
            if !dns_label_ok(v) {
                return Err(invalid(flag, v, DNS_LABEL));
            }
        }
        let subdomains: [(&'static str, &str); 3] = [
            ("external-secret", &self.external_secret),
            ("k8s-secret", &self.k8s_secret),
            ("deployment", &self.deployment),
        ];
        for (flag, v) in subdomains {
            if !dns_subdomain_ok(v) {
                return Err(invalid(flag, v, DNS_SUBDOMAIN));
            }
        }
        for (flag, v) in [
            ("app-secret", &self.app_secret),
            ("admin-secret", &self.admin_secret),
        ] {
            if !aws_secret_name_ok(v) {
                return Err(invalid(
                    flag,
                    v,
                    "a Secrets Manager name is at most 512 letters, digits and /_+=.@-",
                ));
            }
        }
        let others: [(&'static str, &str); 4] = [
            ("admin-secret-key", &self.admin_secret_key),
            ("admin-user", &self.admin_user),
            ("database", &self.database),
            ("owner-role", &self.owner_role),
        ];
        for (flag, v) in others {
            if v.is_empty() || v.chars().any(char::is_control) {
                return Err(invalid(flag, v, "must be non-empty, without control characters"));
            }
        }
        Ok(())
    }

    /// A short label for status bars and the journal: `production/signon/mysql`.
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.env, self.app, self.engine)
    }
}

/// What a new username is built on: the old user's name without the
/// dated tail an earlier rotation gave it (`whitehall` → `whitehall`,
/// `signon_user_20260121_2` → `signon`), else the app's name. An app whose
/// names drift (`whitehall-admin` logging in as `whitehall`) keeps its
/// user's name, not its own.
pub fn username_base<'a>(old_user: Option<&'a str>, app: &'a str) -> &'a str {
    let Some(old) = old_user.filter(|u| !u.is_empty()) else {
        return app;
    };
    for sep in ['_', '-'] {
        let marker = format!("{sep}user{sep}");
        if let Some(i) = old.rfind(&marker) {
            let tail = &old[i + marker.len()..];
            let (date, counter) = tail.split_at(tail.len().min(8));
            let dated = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
            let counted = counter.is_empty()
                || counter
                    .strip_prefix(sep)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if dated && counted && i > 0 {
                return &old[..i];
            }
        }
    }
    old
}

/// The dated successor of a user, following the runbook: MySQL `signon`
/// → `signon_user_20260121`; PostgreSQL `account-api` →
/// `account-api-user-20260121`. `app` is what it is built on
/// ([`username_base`]: the old user's name). `taken` says whether a name
/// already exists; a second rotation on the same day gets `_2`/`-2`, then `_3`…
///
/// Names longer than the engine allows (`Engine::max_username_len`: MySQL 32
/// characters, PostgreSQL 63 bytes) are shortened deterministically: the
/// app part is cut and followed by four hex digits of a stable hash of the
/// whole app name (so two long apps sharing a prefix stay distinct), and the
/// `user` word, date and counter are kept: `collections-publisher` on MySQL
/// → `collections-pu1b4b_user_20261203`.
pub fn new_username(app: &str, engine: Engine, day: NaiveDate, taken: impl Fn(&str) -> bool) -> String {
    let sep = match engine {
        Engine::Mysql => '_',
        Engine::Postgres => '-',
    };
    let tail = format!("{sep}user{sep}{}", day.format("%Y%m%d"));
    let name = |counter: Option<u32>| {
        let tail = match counter {
            Some(n) => format!("{tail}{sep}{n}"),
            None => tail.clone(),
        };
        let full = format!("{app}{tail}");
        if engine.username_len(&full) <= engine.max_username_len() {
            return full;
        }
        let hash = format!("{:04x}", fnv1a_32(app.as_bytes()) & 0xffff);
        let budget = engine
            .max_username_len()
            .saturating_sub(engine.username_len(&tail) + hash.len());
        let head = cut_to_fit(app, budget, |s| engine.username_len(s));
        format!("{head}{hash}{tail}")
    };
    std::iter::once(None)
        .chain((2..).map(Some))
        .map(name)
        .find(|candidate| !taken(candidate))
        .expect("an unbounded range always finds a free name")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 21).unwrap()
    }

    #[test]
    fn conventions_follow_the_runbook() {
        let t = Target::new("production", "signon", Engine::Mysql);
        assert_eq!(t.app_secret, "govuk/signon/mysql");
        assert_eq!(t.admin_secret, "production-rds-admin-passwords");
        assert_eq!(t.external_secret, "signon-mysql");
        assert_eq!(t.k8s_secret, "signon-mysql");
        assert_eq!(t.database, "signon_production");
        assert_eq!(t.namespace, "apps");
        assert_eq!(t.deployment, "signon");
        assert_eq!(t.container, "app");
        let p = Target::new("staging", "account-api", Engine::Postgres);
        assert_eq!(p.app_secret, "govuk/account-api/postgres");
        assert_eq!(p.owner_role, "account-api-owner-role");
        assert_eq!(p.label(), "staging/account-api/postgres");
    }

    #[test]
    fn overrides_win_and_missing_parts_are_named() {
        let mut a = TargetArgs {
            env: Some("integration".into()),
            app: Some("signon".into()),
            engine: Some(Engine::Mysql),
            database: Some("signon_live".into()),
            ..Default::default()
        };
        let t = Target::from_args(&a).unwrap();
        assert_eq!(t.database, "signon_live");
        assert_eq!(t.app_secret, "govuk/signon/mysql");
        assert_eq!(t.sources.get(Field::Database), &NameSource::Flag);
        assert_eq!(t.sources.get(Field::AppSecret), &NameSource::Convention);
        assert!(t.sources.unresolved().is_none());
        a.app = None;
        assert_eq!(Target::from_args(&a), Err(TargetError::Missing("app")));
    }

    #[test]
    fn names_are_validated_up_front() {
        let args = |app: &str| TargetArgs {
            env: Some("production".into()),
            app: Some(app.into()),
            engine: Some(Engine::Mysql),
            ..Default::default()
        };
        assert!(Target::from_args(&args("account-api")).is_ok());
        for bad in ["x'; DROP", "Signon", "-rm", "a_b", "a\u{1b}]52;c;eA==\u{7}", ""] {
            let e = Target::from_args(&args(bad)).unwrap_err();
            assert!(
                matches!(e, TargetError::Invalid { flag: "app", .. }),
                "{bad:?}: {e}"
            );
            let text = e.to_string();
            assert!(text.contains("DNS-1123") && !text.contains('\u{1b}'), "{text}");
        }
        let mut a = args("signon");
        a.namespace = Some("apps;id".into());
        assert!(matches!(
            Target::from_args(&a),
            Err(TargetError::Invalid {
                flag: "namespace",
                ..
            })
        ));
        let mut a = args("signon");
        a.deployment = Some("signon.web".into());
        assert!(Target::from_args(&a).is_ok());
        a.database = Some("signon\nlive".into());
        assert!(matches!(
            Target::from_args(&a),
            Err(TargetError::Invalid { flag: "database", .. })
        ));
    }

    #[test]
    fn new_usernames_are_dated_and_distinct() {
        assert_eq!(
            new_username("signon", Engine::Mysql, day(), |_| false),
            "signon_user_20260121"
        );
        assert_eq!(
            new_username("account-api", Engine::Postgres, day(), |_| false),
            "account-api-user-20260121"
        );
        let taken = ["signon_user_20260121", "signon_user_20260121_2"];
        assert_eq!(
            new_username("signon", Engine::Mysql, day(), |n| taken.contains(&n)),
            "signon_user_20260121_3"
        );
    }

    #[test]
    fn new_usernames_build_on_the_old_user() {
        assert_eq!(username_base(Some("whitehall"), "whitehall-admin"), "whitehall");
        assert_eq!(username_base(Some("signon_user_20260121"), "signon"), "signon");
        assert_eq!(username_base(Some("signon_user_20260121_2"), "signon"), "signon");
        assert_eq!(
            username_base(Some("account-api-user-20260121-3"), "account-api"),
            "account-api"
        );
        // A shortened name keeps its hash, so the next one still fits.
        assert_eq!(
            username_base(Some("collections-pu1b4b_user_20261203"), "collections-publisher"),
            "collections-pu1b4b"
        );
        // Only a dated tail is cut.
        assert_eq!(username_base(Some("the_user_base"), "x"), "the_user_base");
        assert_eq!(username_base(Some("a_user_2026012"), "x"), "a_user_2026012");
        assert_eq!(username_base(Some("_user_20260121"), "x"), "_user_20260121");
        assert_eq!(username_base(None, "signon"), "signon");
        assert_eq!(username_base(Some(""), "signon"), "signon");
        let base = username_base(Some("whitehall"), "whitehall-admin");
        assert_eq!(
            new_username(base, Engine::Mysql, day(), |_| false),
            "whitehall_user_20260121"
        );
        // Rotated again, the name does not grow.
        let next = new_username(
            username_base(Some("whitehall_user_20260121"), "whitehall-admin"),
            Engine::Mysql,
            day(),
            |n| n == "whitehall_user_20260121",
        );
        assert_eq!(next, "whitehall_user_20260121_2");
    }

    #[test]
    fn names_suggest_an_engine() {
        assert_eq!(Engine::named_in("account-api-postgres"), Some(Engine::Postgres));
        assert_eq!(Engine::named_in("mysql-primary"), Some(Engine::Mysql));
        assert_eq!(Engine::named_in("whitehall-database"), None);
        assert_eq!(Engine::named_in("pg"), Some(Engine::Postgres));
    }

    #[test]
    fn long_app_names_are_shortened_within_each_engines_limit() {
        // The estate's longest MySQL app names, and long PostgreSQL ones.
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        for (app, engine) in [
            ("collections-publisher", Engine::Mysql),
            ("search-admin", Engine::Mysql),
            ("content-block-manager", Engine::Mysql),
            ("collections-publisher-with-a-very-long-suffix", Engine::Mysql),
            (
                "content-block-manager-with-a-name-well-past-sixty-three-bytes-long",
                Engine::Postgres,
            ),
        ] {
            let name = new_username(app, engine, day, |_| false);
            assert!(engine.username_len(&name) <= engine.max_username_len(), "{name}");
            assert!(name.contains("20261203"), "the date is kept: {name}");
            assert_eq!(name, new_username(app, engine, day, |_| false), "deterministic");
            let second = new_username(app, engine, day, |n| n == name);
            assert_ne!(second, name);
            assert!(
                engine.username_len(&second) <= engine.max_username_len(),
                "{second}"
            );
        }
        let long = new_username("collections-publisher", Engine::Mysql, day, |_| false);
        assert_eq!(long.chars().count(), 32, "{long}");
        assert!(
            long.starts_with("collections-pu") && long.ends_with("_user_20261203"),
            "{long}"
        );
        // Two long apps sharing their first 14 characters stay distinct.
        assert_ne!(
            new_username("collections-publisher-a", Engine::Mysql, day, |_| false),
            new_username("collections-publisher-b", Engine::Mysql, day, |_| false)
        );
        // Short names are unchanged.
        assert_eq!(
            new_username("search-admin", Engine::Mysql, day, |_| false),
            "search-admin_user_20261203"
        );
        // Multibyte names are cut on character boundaries.
        let n = new_username("ünïcödé-äpplicätion-name-x", Engine::Mysql, day, |_| false);
        assert!(n.chars().count() <= 32, "{n}");
    }
}
