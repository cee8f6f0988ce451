//! Discover, then confirm: the names a rotation touches, read from the live
//! systems instead of guessed from the app's name, because the estate's
//! names drift from the conventions (whitehall-admin's database is
//! `whitehall_production` and its admin key `whitehall`; collections-
//! publisher's Secrets Manager key is `govuk/collections-publisher/mysql-primary`;
//! bouncer's database is `transition_production`).
//!
//! Read-only, in the runbook's order: the app's Deployment and the container
//! reading DATABASE_URL from a Secret; the ExternalSecret writing that Secret
//! and the Secrets Manager key it reads; the database from the Secret's
//! DATABASE_URL path (or the ExternalSecret's template); the admin
//! password's key among the admin secret's keys. A flag always wins over
//! discovery, discovery over the convention; whatever cannot be read keeps
//! its conventional value with a note saying why (see [`NameSource`]).

mod admin_key;
mod specs;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::ListParams;

pub use admin_key::{ask, choose as choose_admin_key};
pub use specs::{Consumer, Via, consumers, remote_key, template_database, url_database};

use crate::aws::{AwsSession, SecretsManager};
use crate::k8s::externalsecret::{EsStatus, ExternalSecret, ExternalSecretSpec};
use crate::k8s::secret_check::{DATABASE_URL, database_url};
use crate::k8s::{K8s, K8sError};
use crate::secret::{ExposeSecret, Redacted};
use crate::target::{Engine, Field, NameSource, Target};

/// How long discovery may take before the rest keeps its conventions.
const DEADLINE: Duration = Duration::from_secs(15);

/// The names the cluster can tell.
const CLUSTER_FIELDS: [Field; 6] = [
    Field::Deployment,
    Field::Container,
    Field::K8sSecret,
    Field::ExternalSecret,
    Field::AppSecret,
    Field::Database,
];

/// `target` with every name the live systems can tell, as `connect::open`
/// calls it: each part that is down leaves its names conventional, noted.
pub async fn resolve(
    target: &Target,
    k8s: &Result<K8s, Redacted>,
    session: &Result<AwsSession, Redacted>,
) -> Target {
    let secrets = session.as_ref().ok().map(AwsSession::secrets);
    discover(target, k8s.as_ref().ok(), secrets.as_ref()).await
}

/// Discover the names of `target` that no flag gave. Never fails: a name
/// that cannot be read keeps its value with [`NameSource::Fallback`] saying why,
/// and an admin key that cannot be chosen gets [`NameSource::Choose`].
pub async fn discover(target: &Target, k8s: Option<&K8s>, secrets: Option<&SecretsManager>) -> Target {
    let mut t = target.clone();
    match k8s {
        Some(k8s) => {
            if tokio::time::timeout(DEADLINE, cluster(&mut t, k8s))
                .await
                .is_err()
            {
                fallback_unset(&mut t, &CLUSTER_FIELDS, "the cluster did not answer in time");
            }
        }
        None => fallback_unset(&mut t, &CLUSTER_FIELDS, "no cluster connection"),
    }
    match secrets {
        Some(sm) => {
            if tokio::time::timeout(DEADLINE, admin(&mut t, sm, k8s))
                .await
                .is_err()
            {
                fallback_unset(
                    &mut t,
                    &[Field::AdminSecretKey],
                    "Secrets Manager did not answer in time",
                );
            }
        }
        None => fallback_unset(&mut t, &[Field::AdminSecretKey], "no AWS session"),
    }
    t
}

/// The lines `rotui plan` prints: each name, its value and its source.
pub fn describe(t: &Target) -> Vec<String> {
    let width = Field::ALL.iter().map(|f| f.flag().len()).max().unwrap_or(0);
    t.provenance()
        .into_iter()
        .map(|(f, value, source)| format!("  {:width$}  {value}  ({source})", f.flag()))
        .collect()
}

/// Why a rotation cannot start on these names yet: no such app, names of
/// another engine ([`mismatch`]), or a name discovery could not choose,
/// with the flag to pass and the candidates.
pub fn unresolved(t: &Target) -> Option<String> {
    if let Some(why) = mismatch(t) {
        return Some(why);
    }
    let (field, keys) = t.sources.unresolved()?;
    Some(match field {
        Field::AdminSecretKey => format!("{}: {}", t.label(), ask(keys)),
        f => format!("{}: pass --{}, one of: {}", t.label(), f.flag(), keys.join(", ")),
    })
}

/// Record a discovered value unless a flag gave one; a value that is not a
/// valid name for it is refused, with a note.
fn found(t: &mut Target, field: Field, value: impl Into<String>, from: impl Into<String>) {
    if t.sources.is_flag(field) {
        return;
    }
    let (before, source) = (field.get(t).to_owned(), t.sources.get(field).clone());
    let value = value.into();
    t.set(field, value.clone(), NameSource::Discovered(from.into()));
    if let Err(e) = t.validate() {
        t.set(field, before, source);
        fallback(
            t,
            field,
            format!(
                "discovered {} rejected: {e}",
                crate::text::escape_controls(&value)
            ),
        );
    }
}

fn fallback(t: &mut Target, field: Field, why: impl Into<String>) {
    if !t.sources.is_flag(field) {
        t.note(field, NameSource::Fallback(why.into()));
    }
}

/// [`fallback`] for each of `fields` still conventional.
fn fallback_unset(t: &mut Target, fields: &[Field], why: &str) {
    for &f in fields {
        if *t.sources.get(f) == NameSource::Convention {
            fallback(t, f, why);
        }
    }
}

fn err(e: K8sError) -> String {
    Redacted::error(e).into_string()
}

async fn cluster(t: &mut Target, k8s: &K8s) {
    // One cheap call first: an unreachable cluster costs one timeout, not one per lookup.
    if let Err(e) = k8s.check().await {
        fallback_unset(t, &CLUSTER_FIELDS, &format!("cluster unreachable: {}", err(e)));
        return;
    }
    let deployment = consumer(t, k8s).await;
    let es = external_secret(t, k8s).await;
    // Neither a Deployment nor an ExternalSecret: no such app here (a typo,
    // `signin` for `signon`); say which apps there are.
    if !deployment && es.is_none() && !t.sources.is_flag(Field::Deployment) {
        if let Ok(apps) = apps(k8s).await {
            t.note(Field::Deployment, NameSource::NotFound(apps));
        }
        return;
    }
    database(t, k8s, es.as_ref()).await;
}

/// The apps of the namespace: of the Deployments reading DATABASE_URL
/// from one Secret, the shortest-named (`signon`, not `signon-worker`).
async fn apps(k8s: &K8s) -> Result<Vec<String>, String> {
    let list = k8s
        .api::<Deployment>()
        .list(&ListParams::default())
        .await
        .map_err(|e| err(k8s.op("list", "deployments").err(e)))?;
    let mut by_secret: std::collections::BTreeMap<String, String> = Default::default();
    for d in &list.items {
        let Some(c) = consumers(d, None).into_iter().next() else {
            continue;
        };
        let name = d.name_any();
        let app = by_secret.entry(c.secret).or_insert_with(|| name.clone());
        if (name.len(), &name) < (app.len(), app) {
            *app = name;
        }
    }
    let mut apps: Vec<String> = by_secret.into_values().collect();
    apps.sort();
    apps.dedup();
    Ok(apps)
}

/// Why the target cannot be what was asked for, before any database is
/// tried (whose driver would only say it got no answer, or an odd one): no
/// such app was found, or the names found say another engine.
pub fn mismatch(t: &Target) -> Option<String> {
    if let Some(apps) = t.sources.not_found() {
        let there = if apps.is_empty() {
            "there are no Deployments reading DATABASE_URL there".to_owned()
        } else {
            format!("the apps there: {}", apps.join(", "))
        };
        return Some(format!(
            "{}: no app {} found: no Deployment {} (nor one labelled with the name) and no ExternalSecret \
             writing Secret {} in namespace {}; {there}. Pass --app with one of them (or --deployment \
             and --external-secret if this app's are named otherwise)",
            t.label(),
            t.app,
            t.deployment,
            t.k8s_secret,
            t.namespace
        ));
    }
    let other: Vec<String> = [
        ("Secrets Manager secret", Field::AppSecret),
        ("ExternalSecret", Field::ExternalSecret),
        ("Secret", Field::K8sSecret),
    ]
    .into_iter()
    .filter_map(|(what, f)| {
        let name = f.get(t);
        // Only the part after the app's name speaks of the engine.
        let tail = match f {
            Field::AppSecret => name.rsplit('/').next().unwrap_or(name),
            _ => name.strip_prefix(t.app.as_str()).unwrap_or(name),
        };
        let says = Engine::named_in(tail)?;
        (says != t.engine).then(|| format!("{what} {name} ({})", t.sources.get(f)))
    })
    .collect();
    if other.is_empty() {
        return None;
    }
    let theirs = match t.engine {
        Engine::Mysql => Engine::Postgres,
        Engine::Postgres => Engine::Mysql,
    };
    Some(format!(
        "{}: --engine {}, but the app's names say {theirs}: {}. Pass --engine {theirs}, or, if the app \
         really is on {}, name its {} secret with --app-secret and --external-secret",
        t.label(),
        t.engine,
        other.join(", "),
        t.engine,
        t.engine
    ))
}

/// The Deployment and the container reading DATABASE_URL from a Secret;
/// whether a Deployment was found.
async fn consumer(t: &mut Target, k8s: &K8s) -> bool {
    let deployment = match find_deployment(t, k8s).await {
        Ok(Some((d, how))) => {
            found(t, Field::Deployment, d.name_any(), how);
            d
        }
        Ok(None) => {
            let why = if t.sources.is_flag(Field::Deployment) {
                format!("no Deployment {}", t.deployment)
            } else {
                format!(
                    "no Deployment {} nor one labelled app.kubernetes.io/name={app} or app={app}",
                    t.deployment,
                    app = t.app
                )
            };
            for f in [Field::Deployment, Field::Container, Field::K8sSecret] {
                fallback(t, f, why.clone());
            }
            return false;
        }
        Err(e) => {
            let why = format!("cannot read Deployments: {e}");
            for f in [Field::Deployment, Field::Container, Field::K8sSecret] {
                fallback(t, f, why.clone());
            }
            // Not known to be missing: only unreadable.
            return true;
        }
    };
    let name = deployment.name_any();
    let only = t.sources.is_flag(Field::Container).then(|| t.container.clone());
    match reader(k8s, &deployment, only.as_deref()).await {
        Some(c) => {
            let how = match c.via {
                Via::Env { .. } => "env",
                Via::EnvFrom => "envFrom",
            };
            found(
                t,
                Field::Container,
                c.container.clone(),
                format!("Deployment {name} container reading {DATABASE_URL}"),
            );
            found(
                t,
                Field::K8sSecret,
                c.secret,
                format!("Deployment {name} {how} {DATABASE_URL}"),
            );
        }
        None => {
            let why = format!("Deployment {name} reads no {DATABASE_URL} from a Secret");
            fallback(t, Field::Container, why.clone());
            fallback(t, Field::K8sSecret, why);
        }
    }
    true
}

/// The Deployment by its name (the flag's, or the app's), else the one
/// labelled with the app's name that reads DATABASE_URL; with how it was found.
async fn find_deployment(t: &Target, k8s: &K8s) -> Result<Option<(Deployment, String)>, String> {
    let api = k8s.api::<Deployment>();
    let named = api
        .get_opt(&t.deployment)
        .await
        .map_err(|e| err(k8s.op("get", "deployments").named(&t.deployment).err(e)))?;
    if let Some(d) = named {
        return Ok(Some((d, format!("Deployment {} exists", t.deployment))));
    }
    if t.sources.is_flag(Field::Deployment) {
        return Ok(None);
    }
    for label in ["app.kubernetes.io/name", "app"] {
        let selector = format!("{label}={}", t.app);
        let mut items = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| err(k8s.op("list", "deployments").err(e)))?
            .items;
        items.sort_by_key(|d| d.name_any());
        // Workers are labelled with the app too: prefer one reading DATABASE_URL.
        let pick = items
            .iter()
            .position(|d| !consumers(d, None).is_empty())
            .or(if items.is_empty() { None } else { Some(0) });
        if let Some(i) = pick {
            let d = items.swap_remove(i);
            return Ok(Some((d, format!("Deployment labelled {selector}"))));
        }
    }
    Ok(None)
}

/// The first container that really reads DATABASE_URL from a Secret: a
/// `secretKeyRef`, or an `envFrom` Secret holding that key.
async fn reader(k8s: &K8s, d: &Deployment, container: Option<&str>) -> Option<Consumer> {
    for c in consumers(d, container) {
        match c.via {
            Via::Env { .. } => return Some(c),
            Via::EnvFrom => {
                let secret = k8s.api::<Secret>().get_opt(&c.secret).await.ok().flatten();
                if secret
                    .and_then(|s| s.data)
                    .is_some_and(|data| data.contains_key(DATABASE_URL))
                {
                    return Some(c);
                }
            }
        }
    }
    None
}

/// The ExternalSecret writing the Secret and the Secrets Manager key it
/// reads (the runbook's `kubectl get externalsecrets | grep`, as a lookup).
async fn external_secret(t: &mut Target, k8s: &K8s) -> Option<(String, ExternalSecretSpec)> {
    let api = k8s.api::<ExternalSecret>();
    let resource = "externalsecrets.external-secrets.io";
    let es = if t.sources.is_flag(Field::ExternalSecret) {
        api.get_opt(&t.external_secret)
            .await
            .map_err(|e| err(k8s.op("get", resource).named(&t.external_secret).err(e)))
    } else {
        api.list(&ListParams::default())
            .await
            .map_err(|e| err(k8s.op("list", resource).err(e)))
            .map(|list| {
                let mut items = list.items;
                items.sort_by_key(|es| es.name_any());
                items
                    .into_iter()
                    .find(|es| EsStatus::from(es).target == t.k8s_secret)
            })
    };
    let es = match es {
        Ok(Some(es)) => es,
        Ok(None) => {
            let why = if t.sources.is_flag(Field::ExternalSecret) {
                format!("no ExternalSecret {}", t.external_secret)
            } else {
                format!("no ExternalSecret writes Secret {}", t.k8s_secret)
            };
            fallback(t, Field::ExternalSecret, why.clone());
            fallback(t, Field::AppSecret, why);
            return None;
        }
        Err(e) => {
            fallback(t, Field::ExternalSecret, e.clone());
            fallback(t, Field::AppSecret, e);
            return None;
        }
    };
    let name = es.name_any();
    found(
        t,
        Field::ExternalSecret,
        name.clone(),
        format!("ExternalSecret writing Secret {}", t.k8s_secret),
    );
    match remote_key(&es.spec) {
        Some((key, part)) => found(t, Field::AppSecret, key, format!("ExternalSecret {name} {part}")),
        None => fallback(
            t,
            Field::AppSecret,
            format!("ExternalSecret {name} names no Secrets Manager key"),
        ),
    }
    Some((name, es.spec))
}

/// The database: the Secret's DATABASE_URL path, else the ExternalSecret
/// template's. The URL itself never leaves this function.
async fn database(t: &mut Target, k8s: &K8s, es: Option<&(String, ExternalSecretSpec)>) {
    if t.sources.is_flag(Field::Database) {
        return;
    }
    let secret = t.k8s_secret.clone();
    let from_secret = match k8s.api::<Secret>().get_opt(&secret).await {
        Ok(Some(s)) => database_url(k8s, &secret, &s).map_err(err).and_then(|url| {
            url_database(url.expose_secret())
                .ok_or_else(|| format!("Secret {secret}'s {DATABASE_URL} names no database"))
        }),
        Ok(None) => Err(format!("no Secret {secret} yet")),
        Err(e) => Err(err(k8s.op("get", "secrets").named(&secret).err(e))),
    };
    match from_secret {
        Ok(db) => found(
            t,
            Field::Database,
            db,
            format!("Secret {secret} {DATABASE_URL} path"),
        ),
        Err(why) => match es.and_then(|(name, spec)| Some((name, template_database(spec)?))) {
            Some((name, db)) => found(
                t,
                Field::Database,
                db,
                format!("ExternalSecret {name} template {DATABASE_URL} path"),
            ),
            None => fallback(t, Field::Database, why),
        },
    }
}

/// The admin password's key, chosen among the admin secret's keys.
async fn admin(t: &mut Target, sm: &SecretsManager, k8s: Option<&K8s>) {
    if t.sources.is_flag(Field::AdminSecretKey) {
        return;
    }
    // The app secret's host names the terraform key (see `admin_key`), and
    // so does the data sync's DB_HOST; what cannot be read leaves the other rules.
    let host = sm.app_secret(&t.app_secret).await.ok().map(|s| s.host);
    let backup_host = match k8s {
        Some(k8s) => k8s
            .api::<k8s_openapi::api::batch::v1::CronJob>()
            .list(&Default::default())
            .await
            .ok()
            .and_then(|l| {
                let jobs = crate::k8s::db_sync::of_database(&l.items, &[], t.engine, &t.database);
                jobs.into_iter().next().map(|j| j.db_host)
            }),
        None => None,
    };
    let hosts: Vec<(&str, &'static str)> = [
        (host.as_deref(), "RDS host name"),
        (backup_host.as_deref(), "db-backup CronJob's DB_HOST"),
    ]
    .into_iter()
    .filter_map(|(h, why)| Some((h?, why)))
    .collect();
    match sm.admin_secret_keys(&t.admin_secret).await {
        Ok(keys) => match choose_admin_key(&t.app, &t.env, &t.database, &hosts, &keys) {
            Ok((key, why)) => found(t, Field::AdminSecretKey, key, format!("admin secret key ({why})")),
            Err(keys) => t.note(Field::AdminSecretKey, NameSource::Choose(keys)),
        },
        Err(e) => fallback(
            t,
            Field::AdminSecretKey,
            format!(
                "cannot read the keys of {}: {}",
                t.admin_secret,
                Redacted::error(e)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::TargetArgs;

    #[test]
    fn flags_win_and_what_is_found_is_validated() {
        let mut t = Target::from_args(&TargetArgs {
            env: Some("production".into()),
            app: Some("whitehall-admin".into()),
            engine: Some(Engine::Mysql),
            database: Some("whitehall_live".into()),
            ..Default::default()
        })
        .unwrap();
        found(&mut t, Field::Database, "whitehall_production", "x");
        assert_eq!(t.database, "whitehall_live");
        found(
            &mut t,
            Field::K8sSecret,
            "whitehall-database",
            "Deployment whitehall-admin env DATABASE_URL",
        );
        assert_eq!(t.k8s_secret, "whitehall-database");
        found(&mut t, Field::Deployment, "Not_A_Name", "somewhere");
        assert_eq!(t.deployment, "whitehall-admin");
        assert!(
            matches!(t.sources.get(Field::Deployment), NameSource::Fallback(w) if w.contains("rejected"))
        );
        t.note(
            Field::AdminSecretKey,
            NameSource::Choose(vec!["a".into(), "b".into()]),
        );
        assert_eq!(
            unresolved(&t).unwrap(),
            "production/whitehall-admin/mysql: pass --admin-secret-key, one of: a, b"
        );
        let lines = describe(&t).join("\n");
        assert!(
            lines.contains(
                "k8s-secret        whitehall-database  (Deployment whitehall-admin env DATABASE_URL)"
            ),
            "{lines}"
        );
        assert!(
            lines.contains("database          whitehall_live  (flag)"),
            "{lines}"
        );
        assert!(lines.contains("namespace         apps  (convention)"), "{lines}");
    }
}
