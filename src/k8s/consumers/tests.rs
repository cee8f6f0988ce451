use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::*;

fn keys() -> Vec<String> {
    vec!["DATABASE_URL".into(), "REPLICA_DATABASE_URL".into()]
}

fn deployment(name: &str, app: &str, pod_spec: Value) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name, "labels": { "app": app } },
        "spec": {
            "selector": { "matchLabels": { "app": name } },
            "template": { "metadata": { "labels": { "app": name } }, "spec": pod_spec }
        }
    }))
    .unwrap()
}

fn env_ref(var: &str, secret: &str, key: &str) -> Value {
    json!({ "name": var, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
}

#[test]
fn web_reads_database_url_by_secret_key_ref() {
    let d = deployment(
        "signon",
        "signon",
        json!({ "containers": [
            { "name": "app", "env": [env_ref("DATABASE_URL", "signon-mysql", "DATABASE_URL"),
                                     { "name": "RAILS_ENV", "value": "production" }] },
            { "name": "nginx" }
        ]}),
    );
    let c = consumer(&d, "signon-mysql", &keys()).unwrap();
    assert_eq!(c.workload.to_string(), "deployment/signon");
    assert_eq!(c.selector.as_deref(), Some("app=signon"));
    assert_eq!(c.app.as_deref(), Some("signon"));
    assert_eq!(c.containers.len(), 1, "nginx reads nothing");
    let vars: Vec<_> = c.containers[0].credential_vars().collect();
    assert_eq!(vars, [("DATABASE_URL", "DATABASE_URL")]);
    assert!(consumer(&d, "other-mysql", &keys()).is_none());
}

#[test]
fn another_app_reads_the_key_under_its_own_name() {
    let d = deployment(
        "router",
        "router",
        json!({ "containers": [{ "name": "app", "env": [
            env_ref("DATABASE_URL", "router-postgres", "DATABASE_URL"),
            env_ref("CONTENT_STORE_DATABASE_URL", "content-store-postgres", "DATABASE_URL"),
        ]}]}),
    );
    let c = consumer(&d, "content-store-postgres", &keys()).unwrap();
    assert_eq!(
        describe_reads(&c),
        "app: CONTENT_STORE_DATABASE_URL ← DATABASE_URL"
    );
    let vars: Vec<_> = c.containers[0].credential_vars().collect();
    assert_eq!(vars, [("DATABASE_URL", "CONTENT_STORE_DATABASE_URL")]);
}

#[test]
fn env_from_gives_every_key_under_its_prefix_and_env_overrides() {
    let d = deployment(
        "signon-worker",
        "signon",
        json!({ "containers": [{ "name": "worker",
            "envFrom": [{ "secretRef": { "name": "signon-mysql" } },
                        { "secretRef": { "name": "signon-mysql" }, "prefix": "OLD_" }],
            "env": [{ "name": "REPLICA_DATABASE_URL", "value": "overridden" }]
        }]}),
    );
    let c = consumer(&d, "signon-mysql", &keys()).unwrap();
    let w = &c.containers[0];
    assert_eq!(w.container, "worker");
    let vars: Vec<_> = w.credential_vars().collect();
    assert_eq!(
        vars,
        [
            ("DATABASE_URL", "DATABASE_URL"),
            ("DATABASE_URL", "OLD_DATABASE_URL"),
            ("REPLICA_DATABASE_URL", "OLD_REPLICA_DATABASE_URL"),
        ],
        "a plain env entry replaces the envFrom variable of its name"
    );
    assert!(w.reads.iter().all(|r| r.source == ReadVia::EnvFrom));
}

#[test]
fn volumes_secret_and_projected_are_files_not_variables() {
    let d = deployment(
        "reports",
        "reports",
        json!({
            "volumes": [
                { "name": "creds", "secret": { "secretName": "signon-mysql",
                    "items": [{ "key": "DATABASE_URL", "path": "url" }] } },
                { "name": "all", "projected": { "sources": [
                    { "secret": { "name": "signon-mysql" } },
                    { "configMap": { "name": "x" } } ] } },
                { "name": "other", "secret": { "secretName": "other" } }
            ],
            "initContainers": [{ "name": "migrate", "volumeMounts": [{ "name": "creds", "mountPath": "/etc/db/" }] }],
            "containers": [{ "name": "app", "volumeMounts": [
                { "name": "all", "mountPath": "/secrets" }, { "name": "other", "mountPath": "/o" } ] }]
        }),
    );
    let c = consumer(&d, "signon-mysql", &keys()).unwrap();
    assert_eq!(c.containers.len(), 2);
    let init = &c.containers[0];
    assert!(init.init);
    assert_eq!(
        init.reads,
        [KeyRead {
            key: "DATABASE_URL".into(),
            variable: None,
            source: ReadVia::Volume {
                path: "/etc/db/url".into()
            }
        }]
    );
    let app = &c.containers[1];
    assert_eq!(
        app.reads.len(),
        2,
        "every key of the projected secret, none of `other`"
    );
    assert_eq!(app.credential_vars().count(), 0, "files are not in `env`");
    assert!(!c.reads_credentials());
}

#[test]
fn cronjob_and_its_running_job() {
    let pod_spec = json!({ "restartPolicy": "Never", "containers": [{ "name": "task",
        "env": [env_ref("DATABASE_URL", "signon-mysql", "DATABASE_URL")] }] });
    let cj: CronJob = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": { "name": "signon-cleanup" },
        "spec": { "schedule": "0 3 * * *", "jobTemplate": { "spec": { "template": { "spec": pod_spec } } } }
    }))
    .unwrap();
    let c = consumer(&cj, "signon-mysql", &keys()).unwrap();
    assert_eq!(c.workload.to_string(), "cronjob/signon-cleanup");
    assert_eq!(c.selector, None);
    assert!(!c.workload.kind.rolls_out());

    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": "signon-cleanup-29000000", "ownerReferences": [
            { "apiVersion": "batch/v1", "kind": "CronJob", "name": "signon-cleanup", "uid": "u", "controller": true } ] },
        "spec": { "template": { "spec": pod_spec } },
        "status": { "active": 1 }
    }))
    .unwrap();
    let j = consumer(&job, "signon-mysql", &keys()).unwrap();
    assert_eq!(
        j.owner.as_ref().map(ToString::to_string).as_deref(),
        Some("cronjob/signon-cleanup")
    );
    assert_eq!(j.active, 1);
    assert_eq!(j.selector.as_deref(), Some("job-name=signon-cleanup-29000000"));
}

fn pod(name: &str, ip: &str, owner: Option<(&str, &str)>, hash: Option<&str>) -> Pod {
    let mut p = json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": name, "labels": {} },
        "status": { "podIP": ip, "podIPs": [{ "ip": ip }] } });
    if let Some((kind, owner)) = owner {
        p["metadata"]["ownerReferences"] =
            json!([{ "apiVersion": "apps/v1", "kind": kind, "name": owner, "uid": "u", "controller": true }]);
    }
    if let Some(h) = hash {
        p["metadata"]["labels"]["pod-template-hash"] = json!(h);
    }
    serde_json::from_value(p).unwrap()
}

#[test]
fn connections_are_attributed_to_pods_and_workloads() {
    let pods = [
        pod(
            "signon-worker-5d9f8-abcde",
            "10.0.3.7",
            Some(("ReplicaSet", "signon-worker-5d9f8")),
            Some("5d9f8"),
        ),
        pod(
            "signon-6c7b-xyz",
            "10.0.3.8",
            Some(("ReplicaSet", "signon-6c7b")),
            None,
        ),
        pod("sync-0", "10.0.3.9", Some(("StatefulSet", "sync")), None),
        pod("loner", "10.0.3.10", None, None),
    ];
    let addrs = pod_addresses(&pods);
    assert_eq!(addrs.len(), 4);
    assert_eq!(
        attribute("10.0.3.7:51234", &addrs).as_deref(),
        Some("signon-worker-5d9f8-abcde (deployment/signon-worker)")
    );
    assert_eq!(
        attribute("10.0.3.8", &addrs).as_deref(),
        Some("signon-6c7b-xyz (deployment/signon)"),
        "without the hash label the ReplicaSet's last segment goes"
    );
    assert_eq!(
        attribute("10.0.3.9:1", &addrs).as_deref(),
        Some("sync-0 (statefulset/sync)")
    );
    assert_eq!(attribute("10.0.3.10:1", &addrs).as_deref(), Some("loner"));
    assert_eq!(attribute("10.9.9.9:1", &addrs), None);

    // The sandbox (or host networking): several pods share an address.
    let shared = [
        pod("a-1", "127.0.0.1", Some(("StatefulSet", "a")), None),
        pod("a-2", "127.0.0.1", Some(("StatefulSet", "a")), None),
    ];
    assert_eq!(
        attribute("127.0.0.1:5", &pod_addresses(&shared)).as_deref(),
        Some("statefulset/a (2 pods)")
    );
    // Knowing which workloads read the app's Secret: the app's user comes
    // from theirs, anyone else from the others.
    let estate = [
        pod("signon-1", "127.0.0.1", Some(("StatefulSet", "signon")), None),
        pod("signon-2", "127.0.0.1", Some(("StatefulSet", "signon")), None),
        pod("api-1", "127.0.0.1", Some(("StatefulSet", "api")), None),
        pod("api-2", "127.0.0.1", Some(("StatefulSet", "api")), None),
    ];
    let addrs = pod_addresses(&estate);
    let readers = ["statefulset/signon".to_string()];
    assert_eq!(attribute("127.0.0.1:5", &addrs).as_deref(), Some("one of 4 pods"));
    assert_eq!(
        attribute_among("127.0.0.1:5", &addrs, Some((&readers, true))).as_deref(),
        Some("statefulset/signon (2 pods)")
    );
    assert_eq!(
        attribute_among("127.0.0.1:5", &addrs, Some((&readers, false))).as_deref(),
        Some("statefulset/api (2 pods)")
    );
    let mixed = [
        pod("a-1", "127.0.0.1", None, None),
        pod("b-1", "127.0.0.1", None, None),
    ];
    assert_eq!(
        attribute("127.0.0.1:5", &pod_addresses(&mixed)).as_deref(),
        Some("one of 2 pods")
    );
}

#[test]
fn client_addresses_lose_their_port() {
    assert_eq!(client_ip("10.0.3.7:5432"), "10.0.3.7");
    assert_eq!(client_ip("10.0.3.7"), "10.0.3.7");
    assert_eq!(client_ip("[fd00::7]:5432"), "fd00::7");
    assert_eq!(client_ip("fd00::7"), "fd00::7");
    assert_eq!(client_ip("localhost"), "localhost");
}

#[test]
fn workloads_parse_back_from_their_kubectl_names() {
    let w = Workload::parse("deployment/signon-worker").unwrap();
    assert_eq!(w, Workload::new(Kind::Deployment, "signon-worker"));
    assert_eq!(Workload::parse(&w.to_string()), Some(w));
    assert_eq!(
        Workload::parse("statefulset/sync"),
        Some(Workload::new(Kind::StatefulSet, "sync"))
    );
    assert_eq!(Workload::parse("pod/x"), None);
    assert_eq!(Workload::parse("deployment/"), None);
    assert_eq!(Workload::parse("signon"), None);
}
