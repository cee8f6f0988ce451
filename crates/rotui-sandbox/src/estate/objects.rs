//! The cluster objects of an estate's apps, shaped as in GOV.UK's charts:
//! per app an ExternalSecret templating its Secret's URL key from the
//! Secrets Manager secret, and every consumer (Deployment, StatefulSet,
//! CronJob) reading that Secret, by `secretKeyRef` (the estate's way) or
//! `envFrom`.

use serde_json::{Value, json};

use super::spec::{AppSpec, ConsumerKind, ConsumerSpec, EngineKind, EstateSpec};
use crate::controllers::AUTO_ANNOTATION;

/// Every app object of the estate, ExternalSecrets first.
pub(super) fn manifests(spec: &EstateSpec) -> Vec<Value> {
    let ns = &spec.namespace;
    let mut out: Vec<Value> = spec
        .apps
        .iter()
        .map(|(name, app)| external_secret(name, app, ns))
        .collect();
    for (name, app) in &spec.apps {
        out.extend(app.consumers.iter().map(|c| consumer(name, app, c, ns)));
    }
    out
}

fn external_secret(name: &str, app: &AppSpec, ns: &str) -> Value {
    let scheme = match app.engine {
        EngineKind::Mysql => "mysql2",
        EngineKind::Postgres => "postgresql",
    };
    // As govuk-helm-charts' `externalsecrets-templates/*-conn-string.tpl`,
    // with the database appended as each app's template does.
    let url = format!(
        "{scheme}://{{{{ .username | toString }}}}:{{{{ .password | toString }}}}@{{{{ .host | toString }}}}/{}",
        app.database
    );
    json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": { "name": app.secret, "namespace": ns, "labels": { "app.kubernetes.io/name": name } },
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": { "kind": "ClusterSecretStore", "name": "aws-secretsmanager" },
            "dataFrom": [{ "extract": { "key": app.app_secret } }],
            "target": {
                "name": app.secret,
                "creationPolicy": "Owner",
                // No engineVersion, as the estate's: ESO's default, v2.
                "template": { "data": { app.secret_key.clone(): url } },
            },
        },
    })
}

fn consumer(app_name: &str, app: &AppSpec, c: &ConsumerSpec, ns: &str) -> Value {
    let labels = json!({ "app.kubernetes.io/name": c.name, "app": c.name });
    let names = if c.containers.is_empty() {
        std::slice::from_ref(&c.container)
    } else {
        &c.containers[..]
    };
    let containers: Vec<Value> = names
        .iter()
        .map(|name| {
            let mut container = json!({
                "name": name,
                // Workers and tasks run the app's image; another app runs its own.
                "image": format!("ghcr.io/alphagov/{}:latest", if c.name.starts_with(app_name) { app_name } else { &c.name }),
            });
            if let Some(var) = &c.env {
                container["env"] = json!([{
                    "name": var,
                    "valueFrom": { "secretKeyRef": { "name": app.secret, "key": app.secret_key } },
                }]);
            }
            if c.env_from {
                container["envFrom"] = json!([{ "secretRef": { "name": app.secret } }]);
            }
            container
        })
        .collect();
    let restart = if c.kind == ConsumerKind::CronJob {
        "Never"
    } else {
        "Always"
    };
    let template = json!({
        "metadata": { "labels": labels },
        "spec": { "restartPolicy": restart, "containers": containers },
    });
    let metadata = json!({
        "name": c.name, "namespace": ns, "labels": labels,
        "annotations": { AUTO_ANNOTATION: "true" },
    });
    match c.kind {
        ConsumerKind::Deployment => json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
            "spec": {
                "replicas": c.replicas,
                "selector": { "matchLabels": { "app.kubernetes.io/name": c.name } },
                "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 0 } },
                "template": template,
            },
        }),
        ConsumerKind::StatefulSet => json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": metadata,
            "spec": {
                "replicas": c.replicas,
                "serviceName": c.name,
                "selector": { "matchLabels": { "app.kubernetes.io/name": c.name } },
                "template": template,
            },
        }),
        ConsumerKind::CronJob => json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": { "name": c.name, "namespace": ns, "labels": labels },
            "spec": {
                "schedule": c.schedule,
                "concurrencyPolicy": "Forbid",
                "jobTemplate": { "spec": { "backoffLimit": 0, "template": template } },
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumers_read_the_secret_as_declared() {
        let spec = EstateSpec::load(&EstateSpec::default_path()).unwrap();
        let all = manifests(&spec);
        let find = |kind: &str, name: &str| {
            all.iter()
                .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("{kind} {name}"))
                .clone()
        };
        let es = find("ExternalSecret", "whitehall-admin-mysql");
        assert_eq!(
            es["spec"]["dataFrom"][0]["extract"]["key"],
            "govuk/whitehall-admin/mysql"
        );
        assert_eq!(
            es["spec"]["target"]["template"]["data"]["DATABASE_URL"],
            "mysql2://{{ .username | toString }}:{{ .password | toString }}@{{ .host | toString }}/whitehall_production"
        );
        let router = find("Deployment", "router");
        let c = &router["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["name"], "router");
        assert_eq!(c["env"][0]["name"], "CONTENT_STORE_DATABASE_URL");
        assert_eq!(
            c["env"][0]["valueFrom"]["secretKeyRef"]["name"],
            "content-store-postgres"
        );
        let worker = find("Deployment", "govuk-chat-worker");
        let containers = worker["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert_eq!(containers.len(), 3);
        for c in containers {
            assert_eq!(
                c["env"][0]["valueFrom"]["secretKeyRef"],
                json!({ "name": "govuk-chat-postgres", "key": "DATABASE_URL" })
            );
        }
        assert_eq!(worker["metadata"]["annotations"][AUTO_ANNOTATION], "true");
        // The estate reads the Secret by secretKeyRef only, never envFrom.
        assert!(all.iter().all(|o| !o.to_string().contains("envFrom")));
        let cj = find("CronJob", "signon-delete-expired-tokens");
        assert_eq!(
            cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["name"],
            "cron-task"
        );
    }
}
