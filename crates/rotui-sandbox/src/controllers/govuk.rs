//! The objects a GOV.UK app has in its namespace, shaped as in the real
//! clusters (FIELD-NOTES, "the GOV.UK wiring"): the ExternalSecret that
//! templates DATABASE_URL from `govuk/<app>/<engine>`, and a Deployment that
//! Reloader restarts and whose `app` container reads DATABASE_URL from the
//! resulting Secret. The sandbox seeds these; tests build on them.

use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

use super::ExternalSecret;
use rotui::target::{Engine, Target};

/// `<app>-<engine>`: refreshInterval 1h, ClusterSecretStore
/// `aws-secretsmanager`, `dataFrom.extract` of the app secret, and the
/// DATABASE_URL template with the database name baked in (not escaped).
pub fn external_secret(t: &Target) -> ExternalSecret {
    let scheme = match t.engine {
        Engine::Mysql => "mysql2",
        Engine::Postgres => "postgresql",
    };
    let url = format!(
        "{scheme}://{{{{ .username }}}}:{{{{ .password }}}}@{{{{ .host }}}}/{}",
        t.database
    );
    serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": { "name": t.external_secret, "namespace": t.namespace },
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": { "kind": "ClusterSecretStore", "name": "aws-secretsmanager" },
            "dataFrom": [{ "extract": { "key": t.app_secret } }],
            "target": {
                "name": t.k8s_secret,
                "creationPolicy": "Owner",
                "template": { "engineVersion": "v2", "data": { "DATABASE_URL": url } },
            },
        },
    }))
    .expect("a well-formed ExternalSecret")
}

/// The app's Deployment: `replicas` pods, opted into Reloader, container
/// `app` with DATABASE_URL from the target Secret.
pub fn deployment(t: &Target, replicas: i32) -> Deployment {
    let labels =
        json!({ "app.kubernetes.io/name": t.deployment, "app.kubernetes.io/instance": t.deployment });
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": t.deployment,
            "namespace": t.namespace,
            "labels": labels,
            "annotations": { super::AUTO_ANNOTATION: "true" },
        },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": labels },
            "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 0 } },
            "template": {
                "metadata": { "labels": labels },
                "spec": { "containers": [{
                    "name": t.container,
                    "image": format!("ghcr.io/alphagov/{}:latest", t.app),
                    "env": [
                        { "name": "DATABASE_URL", "valueFrom": { "secretKeyRef": { "name": t.k8s_secret, "key": "DATABASE_URL" } } },
                        { "name": "RAILS_ENV", "value": "production" },
                    ],
                }]},
            },
        },
    }))
    .expect("a well-formed Deployment")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_conventions() {
        let t = Target::new("sandbox", "account-api", Engine::Postgres);
        let es = external_secret(&t);
        assert_eq!(es.metadata.name.as_deref(), Some("account-api-postgres"));
        assert_eq!(
            es.spec.data_from[0].extract.as_ref().unwrap().key,
            "govuk/account-api/postgres"
        );
        let tpl = &es.spec.target.as_ref().unwrap().template.as_ref().unwrap().data["DATABASE_URL"];
        assert_eq!(
            tpl,
            "postgresql://{{ .username }}:{{ .password }}@{{ .host }}/account-api_production"
        );
        let d = deployment(&Target::new("sandbox", "signon", Engine::Mysql), 2);
        let c = &d.spec.unwrap().template.spec.unwrap().containers[0];
        assert_eq!(c.name, "app");
        let r = c.env.as_ref().unwrap()[0]
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (r.name.as_str(), r.key.as_str()),
            ("signon-mysql", "DATABASE_URL")
        );
    }
}
