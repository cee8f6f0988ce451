//! Reading names out of objects already fetched: which container reads
//! DATABASE_URL from which Secret, which Secrets Manager key an
//! ExternalSecret reads, and a database name from a URL or a template —
//! pure functions, so they are tested without servers.

use k8s_openapi::api::apps::v1::Deployment;
use percent_encoding::percent_decode_str;

use crate::k8s::externalsecret::ExternalSecretSpec;
use crate::k8s::secret_check::DATABASE_URL;

/// How a container gets DATABASE_URL from a Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// `env[].valueFrom.secretKeyRef` naming the key.
    Env { key: String },
    /// `envFrom[].secretRef`: every key of the Secret, DATABASE_URL among them
    /// only if the Secret has it (the caller checks).
    EnvFrom,
}

/// A container that reads DATABASE_URL from a Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub container: String,
    pub secret: String,
    pub via: Via,
}

/// Every way the pod template's containers (only `container`, when given)
/// may read DATABASE_URL from a Secret, in the order to believe them:
/// explicit `secretKeyRef`s first, then unprefixed `envFrom` Secrets.
pub fn consumers(d: &Deployment, container: Option<&str>) -> Vec<Consumer> {
    let Some(pod) = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
        return Vec::new();
    };
    let chosen = || {
        pod.containers
            .iter()
            .filter(move |c| container.is_none_or(|n| n == c.name))
    };
    let mut out: Vec<Consumer> = chosen()
        .flat_map(|c| {
            c.env.iter().flatten().filter_map(|e| {
                let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
                (e.name == DATABASE_URL).then(|| Consumer {
                    container: c.name.clone(),
                    secret: r.name.clone(),
                    via: Via::Env { key: r.key.clone() },
                })
            })
        })
        .collect();
    out.extend(chosen().flat_map(|c| {
        c.env_from.iter().flatten().filter_map(|f| {
            let r = f.secret_ref.as_ref()?;
            f.prefix.as_deref().is_none_or(str::is_empty).then(|| Consumer {
                container: c.name.clone(),
                secret: r.name.clone(),
                via: Via::EnvFrom,
            })
        })
    }));
    out
}

/// The Secrets Manager key an ExternalSecret reads, and from which part of
/// its spec: `dataFrom[].extract.key` first, then `data[].remoteRef.key`.
pub fn remote_key(spec: &ExternalSecretSpec) -> Option<(String, &'static str)> {
    let keys = |v: &Option<serde_json::Value>, path: &[&str]| -> Vec<String> {
        v.as_ref()
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let mut at = item;
                for p in path {
                    at = at.get(p)?;
                }
                at.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
            })
            .collect()
    };
    if let Some(k) = keys(&spec.data_from, &["extract", "key"]).into_iter().next() {
        return Some((k, "dataFrom"));
    }
    keys(&spec.data, &["remoteRef", "key"])
        .into_iter()
        .next()
        .map(|k| (k, "data remoteRef"))
}

/// The database named in an ExternalSecret's DATABASE_URL template
/// (`mysql2://{{ .username }}:{{ .password }}@{{ .host }}/whitehall_production`),
/// unless that part is itself templated.
pub fn template_database(spec: &ExternalSecretSpec) -> Option<String> {
    let url = spec
        .target
        .as_ref()?
        .template
        .as_ref()?
        .get("data")?
        .get(DATABASE_URL)?
        .as_str()?;
    let after_host = &url[url.rfind("@")?..];
    let path = &after_host[after_host.find('/')? + 1..];
    let name = path.split(['?', '#']).next().unwrap_or_default().trim();
    (!name.is_empty() && !name.contains("{{") && !name.contains('/')).then(|| decode(name))
}

/// The database of a DATABASE_URL: its path, decoded. Nothing else of the
/// URL is kept (its password above all).
pub fn url_database(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    let name = parsed.path().trim_start_matches('/');
    (!name.is_empty() && !name.contains('/')).then(|| decode(name))
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(containers: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": { "name": "whitehall-admin" },
            "spec": {
                "selector": {},
                "template": { "spec": { "containers": containers } },
            },
        }))
        .unwrap()
    }

    #[test]
    fn the_container_reading_database_url_names_the_secret() {
        let d = deployment(json!([
            { "name": "nginx", "envFrom": [{ "secretRef": { "name": "tls" }, "prefix": "TLS_" }] },
            { "name": "app", "env": [
                { "name": "RAILS_ENV", "value": "production" },
                { "name": "DATABASE_URL", "valueFrom": { "secretKeyRef": { "name": "whitehall-database", "key": "DATABASE_URL" } } },
            ], "envFrom": [{ "secretRef": { "name": "whitehall-misc" } }] },
        ]));
        let found = consumers(&d, None);
        assert_eq!(
            found[0],
            Consumer {
                container: "app".into(),
                secret: "whitehall-database".into(),
                via: Via::Env {
                    key: "DATABASE_URL".into()
                },
            }
        );
        // envFrom comes after, and a prefixed envFrom cannot give DATABASE_URL.
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].via, Via::EnvFrom);
        assert_eq!(found[1].secret, "whitehall-misc");
        // Only the named container, when one is given.
        assert!(consumers(&d, Some("nginx")).is_empty());
        assert!(consumers(&deployment(json!([])), None).is_empty());
    }

    #[test]
    fn external_secret_keys_from_data_from_then_data() {
        let spec = |v: serde_json::Value| -> ExternalSecretSpec { serde_json::from_value(v).unwrap() };
        let both = spec(json!({
            "data": [{ "secretKey": "password", "remoteRef": { "key": "govuk/other/mysql", "property": "password" } }],
            "dataFrom": [{ "extract": { "key": "govuk/collections-publisher/mysql-primary" } }],
        }));
        assert_eq!(
            remote_key(&both),
            Some(("govuk/collections-publisher/mysql-primary".into(), "dataFrom"))
        );
        let data = spec(json!({
            "data": [{ "secretKey": "password", "remoteRef": { "key": "govuk/collections-publisher/mysql-primary", "property": "password" } }],
        }));
        assert_eq!(
            remote_key(&data),
            Some((
                "govuk/collections-publisher/mysql-primary".into(),
                "data remoteRef"
            ))
        );
        assert_eq!(remote_key(&spec(json!({ "dataFrom": [{ "find": {} }] }))), None);
    }

    #[test]
    fn database_names_from_templates_and_urls() {
        let spec: ExternalSecretSpec = serde_json::from_value(json!({
            "target": { "template": { "data": {
                "DATABASE_URL": "mysql2://{{ .username }}:{{ .password }}@{{ .host }}/whitehall_production",
            } } },
        }))
        .unwrap();
        assert_eq!(template_database(&spec).as_deref(), Some("whitehall_production"));
        // As the estate writes them: every value piped through toString.
        let piped: ExternalSecretSpec = serde_json::from_value(json!({
            "target": { "template": { "data": {
                "DATABASE_URL": "postgresql://{{ .username | toString }}:{{ .password | toString }}@{{ .host | toString }}/transition_production",
            } } },
        }))
        .unwrap();
        assert_eq!(
            template_database(&piped).as_deref(),
            Some("transition_production")
        );
        let piped_db: ExternalSecretSpec = serde_json::from_value(json!({
            "target": { "template": { "data": {
                "DATABASE_URL": "mysql2://{{ .username | toString }}@{{ .host | toString }}/{{ .db | toString }}",
            } } },
        }))
        .unwrap();
        assert_eq!(template_database(&piped_db), None);
        let templated: ExternalSecretSpec = serde_json::from_value(json!({
            "target": { "template": { "data": { "DATABASE_URL": "postgresql://{{ .u }}@{{ .host }}/{{ .db }}" } } },
        }))
        .unwrap();
        assert_eq!(template_database(&templated), None);
        assert_eq!(
            url_database("mysql2://u:s3cr3t@db:3306/whitehall_production?pool=5").as_deref(),
            Some("whitehall_production")
        );
        assert_eq!(
            url_database("postgresql://u:p@h/account%2Dapi_production").as_deref(),
            Some("account-api_production")
        );
        assert_eq!(url_database("mysql2://u:p@h"), None);
        assert_eq!(url_database("not a url s3cr3t"), None);
    }
}
