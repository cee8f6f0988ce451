//! The sandbox's Kubernetes API server, through the real `kube` client and
//! plain `kubectl`. Each test starts its own server.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::api::{
    Api, AttachParams, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::watcher;
use kube::{Client, Config};
use rotui_sandbox::apiserver::{ExecOutput, KubeApiServer, KubeStore, NoRuntime, PodRuntime};
use serde_json::{Value, json};

struct Sandbox {
    server: KubeApiServer,
    client: Client,
    dir: tempfile::TempDir,
}

impl Sandbox {
    async fn start(runtime: Arc<dyn PodRuntime>) -> Sandbox {
        Self::start_with(KubeStore::new(), runtime).await
    }

    async fn start_with(store: KubeStore, runtime: Arc<dyn PodRuntime>) -> Sandbox {
        let server = KubeApiServer::start_with(store, runtime)
            .await
            .expect("server starts");
        let dir = tempfile::tempdir().unwrap();
        server
            .write_kubeconfig(&dir.path().join("kubeconfig"), "apps")
            .unwrap();
        let kc = kube::config::Kubeconfig::read_from(dir.path().join("kubeconfig")).unwrap();
        let config = Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        assert_eq!(config.default_namespace, "apps");
        let client = Client::try_from(config).unwrap();
        Sandbox { server, client, dir }
    }

    async fn new() -> Sandbox {
        Self::start(Arc::new(NoRuntime)).await
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn es(&self) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), "apps", &es_resource("v1"))
    }
}

fn es_resource(version: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("external-secrets.io", version, "ExternalSecret"),
        "externalsecrets",
    )
}

fn external_secret(name: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "labels": {"app": "signon"}},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws-secretsmanager"},
            "target": {"name": name, "template": {"data": {"DATABASE_URL": "mysql2://{{ .username }}:{{ .password }}@{{ .host }}/signon_production"}}},
            "dataFrom": [{"extract": {"key": "govuk/signon/mysql"}}],
        }
    }))
    .unwrap()
}

fn deployment(name: &str, app: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": {"reloader.stakater.com/auto": "true"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "app", "image": "ghcr.io/alphagov/signon"}]},
            },
        }
    }))
    .unwrap()
}

fn pod(name: &str, app: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app, "tier": "web"}},
        "spec": {"containers": [{"name": "app", "image": "x"}]},
    }))
    .unwrap()
}

fn err_code(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn externalsecret_crud_merge_patch_and_versions() {
    let sb = Sandbox::new().await;
    let es = sb.es();
    let created = es
        .create(&PostParams::default(), &external_secret("signon-mysql"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    assert_eq!(created.metadata.generation, Some(1));
    let rv0: u64 = created
        .metadata
        .resource_version
        .clone()
        .unwrap()
        .parse()
        .unwrap();

    let dup = es
        .create(&PostParams::default(), &external_secret("signon-mysql"))
        .await
        .unwrap_err();
    let (code, reason, msg) = err_code(dup);
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(
        msg,
        "externalsecrets.external-secrets.io \"signon-mysql\" already exists"
    );

    // The force-sync annotation, as rotui and `kubectl annotate` send it.
    let patch = json!({"metadata": {"annotations": {"force-sync": "1700000000"}}});
    let patched = es
        .patch("signon-mysql", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(patched.metadata.annotations.unwrap()["force-sync"], "1700000000");
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "annotations leave generation alone"
    );
    let rv1: u64 = patched
        .metadata
        .resource_version
        .clone()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv1 > rv0);

    // Re-applying the same patch is a no-op: same resourceVersion.
    let again = es
        .patch("signon-mysql", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(again.metadata.resource_version, patched.metadata.resource_version);

    // A spec change bumps generation; null removes a key (RFC 7386).
    let spec = json!({"spec": {"refreshInterval": "0"}, "metadata": {"annotations": {"force-sync": null}}});
    let changed = es
        .patch("signon-mysql", &PatchParams::default(), &Patch::Merge(&spec))
        .await
        .unwrap();
    assert_eq!(changed.metadata.generation, Some(2));
    assert_eq!(changed.data["spec"]["refreshInterval"], "0");
    assert!(
        !changed
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("force-sync")
    );

    // v1beta1 is served as an alias of the same object.
    let beta: Api<DynamicObject> = Api::namespaced_with(sb.client.clone(), "apps", &es_resource("v1beta1"));
    let b = beta.get("signon-mysql").await.unwrap();
    assert_eq!(b.types.unwrap().api_version, "external-secrets.io/v1beta1");
    assert_eq!(b.metadata.uid, changed.metadata.uid);

    // Replace with a stale resourceVersion conflicts.
    let mut stale = created.clone();
    stale.data["spec"]["refreshInterval"] = json!("5m");
    let (code, reason, _) = err_code(
        es.replace("signon-mysql", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    let mut fresh = es.get("signon-mysql").await.unwrap();
    fresh.data["spec"]["refreshInterval"] = json!("5m");
    let replaced = es
        .replace("signon-mysql", &PostParams::default(), &fresh)
        .await
        .unwrap();
    assert_eq!(replaced.data["spec"]["refreshInterval"], "5m");

    es.delete("signon-mysql", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let (code, reason, msg) = err_code(es.get("signon-mysql").await.unwrap_err());
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    assert_eq!(
        msg,
        "externalsecrets.external-secrets.io \"signon-mysql\" not found"
    );
    assert!(es.get_opt("signon-mysql").await.unwrap().is_none());
}

#[tokio::test]
async fn status_subresource_is_separate_from_the_object() {
    let sb = Sandbox::new().await;
    let es = sb.es();
    es.create(&PostParams::default(), &external_secret("s1"))
        .await
        .unwrap();
    let status = json!({"status": {
        "refreshTime": "2026-01-01T00:00:00Z",
        "syncedResourceVersion": "1-abc",
        "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced"}],
    }});
    let after = es
        .patch_status("s1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(after.data["status"]["conditions"][0]["reason"], "SecretSynced");
    assert_eq!(after.metadata.generation, Some(1));
    let got = es.get_status("s1").await.unwrap();
    assert_eq!(got.data["status"]["refreshTime"], "2026-01-01T00:00:00Z");

    // The main resource ignores status; /status ignores the spec.
    let both = json!({"spec": {"refreshInterval": "2h"}, "status": {"refreshTime": "1999-01-01T00:00:00Z"}});
    let main = es
        .patch("s1", &PatchParams::default(), &Patch::Merge(&both))
        .await
        .unwrap();
    assert_eq!(main.data["status"]["refreshTime"], "2026-01-01T00:00:00Z");
    assert_eq!(main.data["spec"]["refreshInterval"], "2h");
    let st = es
        .patch_status(
            "s1",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"refreshInterval": "9h"}})),
        )
        .await
        .unwrap();
    assert_eq!(st.data["spec"]["refreshInterval"], "2h");

    // Deployments too, through the typed API.
    let deploys: Api<Deployment> = Api::default_namespaced(sb.client.clone());
    deploys
        .create(&PostParams::default(), &deployment("signon", "signon"))
        .await
        .unwrap();
    let st = json!({"status": {"replicas": 2, "updatedReplicas": 2, "readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 1}});
    let d = deploys
        .patch_status("signon", &PatchParams::default(), &Patch::Merge(&st))
        .await
        .unwrap();
    assert_eq!(d.status.unwrap().ready_replicas, Some(1));
    let restarted = json!({"spec": {"template": {"metadata": {"annotations": {"reloader.stakater.com/last-reloaded-from": "{\"name\":\"signon-mysql\"}"}}}}});
    let d = deploys
        .patch("signon", &PatchParams::default(), &Patch::Strategic(&restarted))
        .await
        .unwrap();
    assert_eq!(
        d.metadata.generation,
        Some(2),
        "a template change is a new generation"
    );
    assert_eq!(
        d.spec.unwrap().template.spec.unwrap().containers[0].name,
        "app",
        "merge keeps siblings"
    );
}

#[tokio::test]
async fn secrets_pods_and_selectors() {
    let sb = Sandbox::new().await;
    let secrets: Api<Secret> = Api::default_namespaced(sb.client.clone());
    let s: Secret = serde_json::from_value(json!({
        "metadata": {"name": "signon-mysql"},
        "stringData": {"DATABASE_URL": "mysql2://u:p@h/db"},
    }))
    .unwrap();
    let created = secrets.create(&PostParams::default(), &s).await.unwrap();
    let data = created.data.unwrap();
    assert_eq!(data["DATABASE_URL"].0, b"mysql2://u:p@h/db");
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    let bad = secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "Bad_Name"}})).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err_code(bad).0, 422);

    let pods: Api<Pod> = Api::default_namespaced(sb.client.clone());
    for (n, app) in [
        ("signon-1", "signon"),
        ("signon-2", "signon"),
        ("other-1", "other"),
    ] {
        pods.create(&PostParams::default(), &pod(n, app)).await.unwrap();
    }
    let names = |l: kube::core::ObjectList<Pod>| {
        l.items
            .into_iter()
            .map(|p| p.metadata.name.unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            pods.list(&ListParams::default().labels("app=signon"))
                .await
                .unwrap()
        ),
        ["signon-1", "signon-2"]
    );
    assert_eq!(
        names(
            pods.list(&ListParams::default().labels("app=signon,tier"))
                .await
                .unwrap()
        ),
        ["signon-1", "signon-2"]
    );
    assert_eq!(
        names(
            pods.list(&ListParams::default().labels("app in (other),tier=web"))
                .await
                .unwrap()
        ),
        ["other-1"]
    );
    assert_eq!(
        names(
            pods.list(&ListParams::default().fields("metadata.name=signon-2"))
                .await
                .unwrap()
        ),
        ["signon-2"]
    );
    let list = pods.list(&ListParams::default()).await.unwrap();
    assert!(list.metadata.resource_version.unwrap().parse::<u64>().unwrap() > 0);
    assert_eq!(list.items.len(), 3);

    // Another namespace is separate, and must exist first.
    let other: Api<Pod> = Api::namespaced(sb.client.clone(), "elsewhere");
    let (code, _, msg) = err_code(
        other
            .create(&PostParams::default(), &pod("x", "x"))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, msg.as_str()), (404, "namespaces \"elsewhere\" not found"));
    let nss: Api<Namespace> = Api::all(sb.client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "elsewhere"}})).unwrap(),
    )
    .await
    .unwrap();
    other
        .create(&PostParams::default(), &pod("x", "x"))
        .await
        .unwrap();
    assert_eq!(
        Api::<Pod>::all(sb.client.clone())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    assert!(nss.get("apps").await.is_ok());

    // Deleting a Deployment deletes the pods it owns.
    let deploys: Api<Deployment> = Api::default_namespaced(sb.client.clone());
    let d = deploys
        .create(&PostParams::default(), &deployment("signon", "signon"))
        .await
        .unwrap();
    let mut owned = pod("signon-owned", "signon");
    owned.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "signon".into(),
            uid: d.metadata.uid.unwrap(),
            ..Default::default()
        },
    ]);
    pods.create(&PostParams::default(), &owned).await.unwrap();
    deploys.delete("signon", &DeleteParams::default()).await.unwrap();
    assert!(pods.get_opt("signon-owned").await.unwrap().is_none());
}

#[tokio::test]
async fn watch_streams_resumes_and_expires() {
    let sb = Sandbox::new().await;
    let es = sb.es();
    es.create(&PostParams::default(), &external_secret("w1"))
        .await
        .unwrap();
    let rv = es
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();

    let mut stream = es
        .watch(&WatchParams::default().timeout(20), &rv)
        .await
        .unwrap()
        .boxed();
    let patch = json!({"metadata": {"annotations": {"force-sync": "1"}}});
    es.patch("w1", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        Some(WatchEvent::Modified(o)) => assert_eq!(o.metadata.annotations.unwrap()["force-sync"], "1"),
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    es.delete("w1", &DeleteParams::default()).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        Some(WatchEvent::Deleted(o)) => assert_eq!(o.metadata.name.as_deref(), Some("w1")),
        other => panic!("expected DELETED, got {other:?}"),
    }

    // Resuming from the list's version replays both changes, in order.
    let replay: Vec<_> = es
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let kinds: Vec<&str> = replay
        .iter()
        .map(|e| match e {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        })
        .collect();
    // kube allows bookmarks: one comes as the watch times out, at the
    // latest version, a safe point to resume from.
    assert_eq!(kinds, ["MODIFIED", "DELETED", "BOOKMARK"]);
    let WatchEvent::Bookmark(b) = &replay[2] else {
        unreachable!()
    };
    assert_eq!(
        b.metadata.resource_version,
        sb.server.store().resource_version().to_string()
    );
    let quiet: Vec<_> = es
        .watch(
            &WatchParams::default().timeout(1).disable_bookmarks(),
            &b.metadata.resource_version,
        )
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        quiet.is_empty(),
        "nothing new, and no bookmark unless allowed: {quiet:?}"
    );

    // A label-selected watch sees an object leave its selection as DELETED.
    es.create(&PostParams::default(), &external_secret("w2"))
        .await
        .unwrap();
    let rv = es.get("w2").await.unwrap().metadata.resource_version.unwrap();
    let mut sel = es
        .watch(&WatchParams::default().labels("app=signon").timeout(20), &rv)
        .await
        .unwrap()
        .boxed();
    es.patch(
        "w2",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"labels": {"app": "gone"}}})),
    )
    .await
    .unwrap();
    match tokio::time::timeout(Duration::from_secs(5), sel.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        Some(WatchEvent::Deleted(o)) => assert_eq!(o.metadata.name.as_deref(), Some("w2")),
        other => panic!("expected DELETED, got {other:?}"),
    }

    // After compaction an old version is 410 Gone, as an in-stream error.
    sb.server.store().compact();
    let mut old = es
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    match old.try_next().await {
        Ok(Some(WatchEvent::Error(e))) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
}

#[tokio::test]
async fn runtime_watcher_sees_changes() {
    let sb = Sandbox::new().await;
    let es = sb.es();
    es.create(&PostParams::default(), &external_secret("before"))
        .await
        .unwrap();
    let events = watcher(es.clone(), watcher::Config::default());
    let mut events = std::pin::pin!(events);
    let mut seen_init = vec![];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(watcher::Event::InitApply(o)) => seen_init.push(o.metadata.name.unwrap()),
            Some(watcher::Event::InitDone) => break,
            Some(_) => {}
            None => panic!("watcher ended"),
        }
    }
    assert_eq!(seen_init, ["before"]);
    es.create(&PostParams::default(), &external_secret("after"))
        .await
        .unwrap();
    es.patch_status(
        "after",
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "SecretSyncedError"}]}})),
    )
    .await
    .unwrap();
    let mut applied = vec![];
    while applied.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), events.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(watcher::Event::Apply(o)) => applied.push(o),
            other => panic!("expected Apply, got {other:?}"),
        }
    }
    assert_eq!(
        applied[1].data["status"]["conditions"][0]["reason"],
        "SecretSyncedError"
    );

    // Streaming lists (sendInitialEvents) work too.
    let streaming = watcher(es.clone(), watcher::Config::default().streaming_lists());
    let mut streaming = std::pin::pin!(streaming);
    let mut names = vec![];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), streaming.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(watcher::Event::InitApply(o)) => names.push(o.metadata.name.unwrap()),
            Some(watcher::Event::InitDone) => break,
            Some(_) => {}
            None => panic!("watcher ended"),
        }
    }
    names.sort();
    assert_eq!(names, ["after", "before"]);
}

#[tokio::test]
async fn rbac_switch_answers_forbidden() {
    let sb = Sandbox::new().await;
    let es = sb.es();
    es.create(&PostParams::default(), &external_secret("signon-mysql"))
        .await
        .unwrap();
    sb.server.store().deny("patch", "externalsecrets");
    let patch = json!({"metadata": {"annotations": {"force-sync": "1"}}});
    let (code, reason, msg) = err_code(
        es.patch("signon-mysql", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        msg,
        "externalsecrets.external-secrets.io \"signon-mysql\" is forbidden: User \"sandbox-user\" cannot patch \
         resource \"externalsecrets\" in API group \"external-secrets.io\" in the namespace \"apps\""
    );
    assert!(es.get("signon-mysql").await.is_ok(), "other verbs still work");
    sb.server.store().allow("patch", "externalsecrets");
    es.patch("signon-mysql", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();

    sb.server.store().deny("list", "pods");
    let pods: Api<Pod> = Api::default_namespaced(sb.client.clone());
    let (code, _, msg) = err_code(pods.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403);
    assert!(
        msg.starts_with(
            "pods is forbidden: User \"sandbox-user\" cannot list resource \"pods\" in API group \"\""
        ),
        "{msg}"
    );
}

/// Run kubectl against the sandbox with a private discovery cache (off the
/// runtime thread: the server runs on the same one).
async fn kubectl(sb: &Sandbox, args: &[&str]) -> (bool, String, String) {
    let (code, out, err) = kubectl_code(sb, args).await;
    (code == Some(0), out, err)
}

async fn kubectl_code(sb: &Sandbox, args: &[&str]) -> (Option<i32>, String, String) {
    let kubeconfig = sb.kubeconfig();
    let cache = sb.dir.path().join("cache");
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(cache)
            .args(&args)
            .output()
            .expect("kubectl runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn kubectl_get_describe_annotate() {
    let sb = Sandbox::new().await;
    let es = sb.es();
    es.create(&PostParams::default(), &external_secret("signon-mysql"))
        .await
        .unwrap();
    es.patch_status(
        "signon-mysql",
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced"}]}})),
    )
    .await
    .unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(sb.client.clone());
    let mut data = BTreeMap::new();
    data.insert(
        "DATABASE_URL".to_string(),
        k8s_openapi::ByteString(b"mysql2://u:p@h/db".to_vec()),
    );
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some("signon-mysql".into()),
                    ..Default::default()
                },
                data: Some(data),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    Api::<Deployment>::default_namespaced(sb.client.clone())
        .create(&PostParams::default(), &deployment("signon", "signon"))
        .await
        .unwrap();
    Api::<Pod>::default_namespaced(sb.client.clone())
        .create(&PostParams::default(), &pod("signon-abc", "signon"))
        .await
        .unwrap();

    let (ok, out, err) = kubectl(&sb, &["get", "es,secrets,deployments,pods", "-n", "apps"]).await;
    assert!(ok, "kubectl get failed: {err}");
    let es_line = out
        .lines()
        .find(|l| l.contains("signon-mysql") && l.contains("externalsecret"))
        .unwrap_or_else(|| panic!("{out}"));
    let cols: Vec<&str> = es_line.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "externalsecret.external-secrets.io/signon-mysql",
            "aws-secretsmanager",
            "1h",
            "SecretSynced",
            "True"
        ]
    );
    assert!(out.contains("REFRESH INTERVAL"), "{out}");
    let secret_line = out
        .lines()
        .find(|l| l.starts_with("secret/signon-mysql"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        secret_line.split_whitespace().take(3).collect::<Vec<_>>(),
        ["secret/signon-mysql", "Opaque", "1"]
    );
    let deploy_line = out
        .lines()
        .find(|l| l.starts_with("deployment.apps/signon"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        deploy_line.split_whitespace().take(4).collect::<Vec<_>>(),
        ["deployment.apps/signon", "0/2", "0", "0"]
    );
    let pod_line = out
        .lines()
        .find(|l| l.starts_with("pod/signon-abc"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        pod_line.split_whitespace().take(4).collect::<Vec<_>>(),
        ["pod/signon-abc", "0/1", "Pending", "0"]
    );

    let (ok, out, err) = kubectl(&sb, &["get", "all"]).await;
    assert!(ok, "kubectl get all failed: {err}");
    assert!(
        out.contains("pod/signon-abc") && out.contains("deployment.apps/signon"),
        "{out}"
    );
    assert!(!out.contains("secret/"), "secrets are not in `all`: {out}");

    let (ok, out, err) = kubectl(&sb, &["-n", "apps", "get", "externalsecrets"]).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("signon-mysql"), "{out}");

    let (ok, out, err) = kubectl(
        &sb,
        &["-n", "apps", "get", "secret", "signon-mysql", "-o", "json"],
    )
    .await;
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["data"]["DATABASE_URL"], "bXlzcWwyOi8vdTpwQGgvZGI=");

    let (ok, out, err) = kubectl(&sb, &["describe", "es", "signon-mysql", "-n", "apps"]).await;
    assert!(ok, "describe failed: {err}");
    assert!(
        out.contains("Name:") && out.contains("signon-mysql") && out.contains("SecretSynced"),
        "{out}"
    );

    let (ok, out, err) = kubectl(
        &sb,
        &[
            "annotate",
            "-n",
            "apps",
            "externalsecrets.external-secrets.io",
            "signon-mysql",
            "force-sync=1767225600",
            "--overwrite",
        ],
    )
    .await;
    assert!(ok, "annotate failed: {err}");
    assert!(out.contains("annotated"), "{out}");
    let got = es.get("signon-mysql").await.unwrap();
    assert_eq!(got.metadata.annotations.unwrap()["force-sync"], "1767225600");

    // RBAC denial reads like the real server's through kubectl.
    sb.server.store().deny("patch", "externalsecrets");
    let (ok, _, err) = kubectl(
        &sb,
        &[
            "annotate",
            "-n",
            "apps",
            "es",
            "signon-mysql",
            "force-sync=2",
            "--overwrite",
        ],
    )
    .await;
    assert!(!ok);
    assert!(
        err.contains("is forbidden: User \"sandbox-user\" cannot patch resource \"externalsecrets\""),
        "{err}"
    );
}

type ExecCall = (String, String, String, Vec<String>);

/// A pod runtime for protocol tests: `env` prints the pod's env map, `sh -c
/// "exit N"` fails with N, and port 5432 of any pod is a TCP echo server.
struct TestRuntime {
    env: BTreeMap<String, String>,
    echo: std::net::SocketAddr,
    /// (namespace, pod, container, command) of each exec.
    execs: std::sync::Mutex<Vec<ExecCall>>,
}

impl TestRuntime {
    async fn start() -> Arc<TestRuntime> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = conn.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let env = [
            (
                "DATABASE_URL",
                "mysql2://signon-user2:s3cret@db/signon_production",
            ),
            ("HOME", "/app"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Arc::new(TestRuntime {
            env,
            echo,
            execs: Default::default(),
        })
    }
}

impl PodRuntime for TestRuntime {
    fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: Vec<String>,
    ) -> futures::future::BoxFuture<'static, Result<ExecOutput, String>> {
        self.execs
            .lock()
            .unwrap()
            .push((namespace.into(), pod.into(), container.into(), command.clone()));
        let env: String = self.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        Box::pin(async move {
            match command.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                ["env"] => Ok(ExecOutput {
                    stdout: env.into_bytes(),
                    stderr: vec![],
                    exit_code: 0,
                }),
                ["sh", "-c", script] => {
                    let code = script
                        .strip_prefix("exit ")
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(127);
                    Ok(ExecOutput {
                        stdout: b"partial\n".to_vec(),
                        stderr: b"boom\n".to_vec(),
                        exit_code: code,
                    })
                }
                _ => Err(format!("executable file not found: {:?}", command[0])),
            }
        })
    }

    fn port_forward(
        &self,
        _namespace: &str,
        _pod: &str,
        port: u16,
    ) -> futures::future::BoxFuture<'static, Result<tokio::net::TcpStream, String>> {
        let echo = self.echo;
        Box::pin(async move {
            match port {
                5432 => tokio::net::TcpStream::connect(echo)
                    .await
                    .map_err(|e| e.to_string()),
                // Says hello and hangs up, like a server refusing a login.
                5433 => {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let addr = listener.local_addr().unwrap();
                    tokio::spawn(async move {
                        let (mut conn, _) = listener.accept().await.unwrap();
                        tokio::io::AsyncWriteExt::write_all(&mut conn, b"bye\n")
                            .await
                            .unwrap();
                    });
                    tokio::net::TcpStream::connect(addr)
                        .await
                        .map_err(|e| e.to_string())
                }
                _ => Err(format!("connection refused on port {port}")),
            }
        })
    }
}

/// The error of a request that must fail.
fn refused<T>(r: Result<T, kube::Error>) -> String {
    match r {
        Ok(_) => panic!("expected the server to refuse"),
        Err(e) => e.to_string(),
    }
}

async fn running_pod(sb: &Sandbox, name: &str, app: &str) {
    let pods: Api<Pod> = Api::default_namespaced(sb.client.clone());
    let mut p = pod(name, app);
    p.spec
        .as_mut()
        .unwrap()
        .containers
        .push(serde_json::from_value(json!({"name": "sidecar", "image": "y"})).unwrap());
    pods.create(&PostParams::default(), &p).await.unwrap();
    let st = json!({"status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "x", "imageID": "", "started": true}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&st))
        .await
        .unwrap();
}

async fn read_all(r: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut s = String::new();
    let mut r = r;
    tokio::io::AsyncReadExt::read_to_string(&mut r, &mut s)
        .await
        .unwrap();
    s
}

#[tokio::test]
async fn exec_through_kube_client() {
    let runtime = TestRuntime::start().await;
    let sb = Sandbox::start(runtime.clone()).await;
    running_pod(&sb, "signon-abc", "signon").await;
    let pods: Api<Pod> = Api::default_namespaced(sb.client.clone());

    let ap = AttachParams::default().container("app").stderr(true);
    let mut proc = pods.exec("signon-abc", ["env"], &ap).await.unwrap();
    let stdout = read_all(proc.stdout().unwrap()).await;
    let status = proc.take_status().unwrap().await.unwrap();
    assert_eq!(status.status.as_deref(), Some("Success"));
    assert!(
        stdout
            .lines()
            .any(|l| l == "DATABASE_URL=mysql2://signon-user2:s3cret@db/signon_production"),
        "{stdout}"
    );
    proc.join().await.unwrap();
    assert_eq!(
        runtime.execs.lock().unwrap()[0],
        (
            "apps".into(),
            "signon-abc".into(),
            "app".into(),
            vec!["env".to_string()]
        )
    );

    let mut proc = pods
        .exec("signon-abc", ["sh", "-c", "exit 3"], &ap)
        .await
        .unwrap();
    let (stdout, stderr) = (proc.stdout().unwrap(), proc.stderr().unwrap());
    let (stdout, stderr) = tokio::join!(read_all(stdout), read_all(stderr));
    assert_eq!((stdout.as_str(), stderr.as_str()), ("partial\n", "boom\n"));
    let status = proc.take_status().unwrap().await.unwrap();
    assert_eq!(status.status.as_deref(), Some("Failure"));
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    let causes = status.details.unwrap().causes.unwrap();
    assert_eq!(
        (causes[0].reason.as_deref(), causes[0].message.as_deref()),
        (Some("ExitCode"), Some("3"))
    );

    // Runtime failures arrive as a Failure status too.
    let mut proc = pods.exec("signon-abc", ["nope"], &ap).await.unwrap();
    let status = proc.take_status().unwrap().await.unwrap();
    assert_eq!(status.reason.as_deref(), Some("InternalError"));
    assert!(status.message.unwrap().contains("executable file not found"));

    // Bad requests are refused before the upgrade.
    let err = refused(
        pods.exec("signon-abc", ["env"], &AttachParams::default().container("nope"))
            .await,
    );
    assert!(
        err.to_string()
            .contains("container nope is not valid for pod signon-abc"),
        "{err}"
    );
    let err = refused(pods.exec("ghost", ["env"], &ap).await);
    assert!(err.to_string().contains("pods \"ghost\" not found"), "{err}");
    sb.server.store().deny("create", "pods/exec");
    let err = refused(pods.exec("signon-abc", ["env"], &ap).await);
    assert!(
        err.to_string().contains("cannot create resource \"pods/exec\""),
        "{err}"
    );
}

#[tokio::test]
async fn kubectl_exec_into_a_deployment() {
    let runtime = TestRuntime::start().await;
    let sb = Sandbox::start(runtime.clone()).await;
    Api::<Deployment>::default_namespaced(sb.client.clone())
        .create(&PostParams::default(), &deployment("signon", "signon"))
        .await
        .unwrap();
    running_pod(&sb, "signon-abc", "signon").await;
    running_pod(&sb, "other-xyz", "other").await;

    let (code, out, err) = kubectl_code(
        &sb,
        &[
            "-n",
            "apps",
            "exec",
            "deployment/signon",
            "--container=app",
            "--",
            "env",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "kubectl exec failed: {err}");
    assert!(
        out.lines()
            .any(|l| l == "DATABASE_URL=mysql2://signon-user2:s3cret@db/signon_production"),
        "{out}"
    );
    assert_eq!(
        runtime.execs.lock().unwrap()[0].1,
        "signon-abc",
        "the Deployment's pod, by its selector"
    );

    let (code, out, err) = kubectl_code(
        &sb,
        &["exec", "signon-abc", "-c", "app", "--", "sh", "-c", "exit 3"],
    )
    .await;
    assert_eq!(code, Some(3), "{out} {err}");
    assert_eq!(out, "partial\n");
    assert!(
        err.contains("boom") && err.contains("command terminated with exit code 3"),
        "{err}"
    );
}

#[tokio::test]
async fn portforward_carries_tcp_both_ways() {
    let runtime = TestRuntime::start().await;
    let sb = Sandbox::start(runtime).await;
    running_pod(&sb, "relay", "relay").await;
    let pods: Api<Pod> = Api::default_namespaced(sb.client.clone());

    // A fresh forward per connection, as rotui's tunnel does.
    for round in 0..2 {
        let mut pf = pods.portforward("relay", &[5432]).await.unwrap();
        let mut stream = pf.take_stream(5432).unwrap();
        let msg = format!("hello {round} ").repeat(10_000);
        let (mut r, mut w) = tokio::io::split(&mut stream);
        let writer = async {
            tokio::io::AsyncWriteExt::write_all(&mut w, msg.as_bytes())
                .await
                .unwrap();
        };
        let mut got = vec![0u8; msg.len()];
        let reader = tokio::io::AsyncReadExt::read_exact(&mut r, &mut got);
        let (_, read) = tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(writer, reader) })
            .await
            .unwrap();
        read.unwrap();
        assert_eq!(got, msg.as_bytes());
        drop(stream);
        tokio::time::timeout(Duration::from_secs(10), pf.join())
            .await
            .unwrap()
            .unwrap();
    }

    // The pod side hanging up ends the local stream.
    let mut pf = pods.portforward("relay", &[5433]).await.unwrap();
    let stream = pf.take_stream(5433).unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), read_all(stream))
        .await
        .unwrap();
    assert_eq!(got, "bye\n");
    // kube then answers our close with its own and reports that as an error
    // (SendAfterClosing); what matters is that the session ends.
    let joined = tokio::time::timeout(Duration::from_secs(10), pf.join()).await;
    assert!(joined.is_ok(), "the forward ends once the pod side hangs up");

    // A port nobody listens on reports on the error channel.
    let mut pf = pods.portforward("relay", &[6000]).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(5), pf.take_error(6000).unwrap())
        .await
        .unwrap();
    assert!(err.unwrap().contains("connection refused on port 6000"));

    // kubectl's own port-forward speaks SPDY, and gets a clear refusal.
    let (ok, _, err) = kubectl(&sb, &["port-forward", "pod/relay", "0:5432"]).await;
    assert!(!ok);
    assert!(
        err.contains("SPDY (e.g. kubectl port-forward) is not supported"),
        "{err}"
    );

    // RBAC: create pods/portforward.
    sb.server.store().deny("create", "pods/portforward");
    let err = refused(pods.portforward("relay", &[5432]).await);
    assert!(
        err.to_string()
            .contains("cannot create resource \"pods/portforward\""),
        "{err}"
    );
}

#[tokio::test]
async fn kubectl_watch_describe_and_rollout_restart() {
    let sb = Sandbox::new().await;
    let es = sb.es();
    es.create(&PostParams::default(), &external_secret("first"))
        .await
        .unwrap();
    let mut watch = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(sb.kubeconfig())
        .arg("--cache-dir")
        .arg(sb.dir.path().join("cache"))
        .args(["get", "es", "-n", "apps", "--watch"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(watch.stdout.take().unwrap()));
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("kubectl prints in time")
            .unwrap()
            .expect("kubectl still watching")
    };
    assert!(next().await.starts_with("NAME"));
    assert!(next().await.starts_with("first "));
    es.create(&PostParams::default(), &external_secret("second"))
        .await
        .unwrap();
    let line = next().await;
    assert!(line.starts_with("second "), "{line}");
    assert!(line.contains("aws-secretsmanager"), "{line}");
    watch.kill().await.unwrap();

    // describe a Deployment (it also lists ReplicaSets) and a Pod (events).
    Api::<Deployment>::default_namespaced(sb.client.clone())
        .create(&PostParams::default(), &deployment("signon", "signon"))
        .await
        .unwrap();
    Api::<Pod>::default_namespaced(sb.client.clone())
        .create(&PostParams::default(), &pod("signon-abc", "signon"))
        .await
        .unwrap();
    let (ok, out, err) = kubectl(&sb, &["describe", "deployment", "signon"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("reloader.stakater.com/auto: true") && out.contains("app=signon"),
        "{out}"
    );
    let (ok, out, err) = kubectl(&sb, &["describe", "pod", "signon-abc"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("Status:") && out.contains("Pending"), "{out}");

    // `rollout restart` writes a template annotation with a strategic merge patch.
    let (ok, _, err) = kubectl(&sb, &["rollout", "restart", "deployment/signon"]).await;
    assert!(ok, "{err}");
    let d = Api::<Deployment>::default_namespaced(sb.client.clone())
        .get("signon")
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(2));
    let template_annotations = d.spec.unwrap().template.metadata.unwrap().annotations.unwrap();
    assert!(template_annotations.contains_key("kubectl.kubernetes.io/restartedAt"));
}

#[tokio::test]
async fn apply_generate_name_and_shutdown() {
    let sb = Sandbox::new().await;
    let es = sb.es();
    // Server-side apply creates, then merges into the live object.
    let pp = PatchParams::apply("sandbox-test").force();
    let first = es
        .patch("applied", &pp, &Patch::Apply(&external_secret("applied")))
        .await
        .unwrap();
    assert_eq!(first.metadata.generation, Some(1));
    let more = json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": "applied", "annotations": {"a": "b"}},
    });
    let second = es.patch("applied", &pp, &Patch::Apply(&more)).await.unwrap();
    assert_eq!(second.metadata.annotations.unwrap()["a"], "b");
    assert_eq!(second.data["spec"]["refreshInterval"], "1h");

    // generateName, as ReplicaSets name their pods.
    let pods: Api<Pod> = Api::default_namespaced(sb.client.clone());
    let mut p = pod("", "signon");
    p.metadata.name = None;
    p.metadata.generate_name = Some("signon-7d9f-".into());
    let created = pods.create(&PostParams::default(), &p).await.unwrap();
    let name = created.metadata.name.unwrap();
    assert!(
        name.starts_with("signon-7d9f-") && name.len() == "signon-7d9f-".len() + 5,
        "{name}"
    );

    // Shutdown ends open watches and frees the port.
    let rv = es
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = es
        .watch(&WatchParams::default().timeout(290), &rv)
        .await
        .unwrap()
        .boxed();
    let addr = sb.server.addr();
    let Sandbox {
        server,
        client,
        dir: _dir,
    } = sb;
    tokio::time::timeout(Duration::from_secs(6), server.shutdown())
        .await
        .expect("shutdown is prompt");
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the watch ends");
    assert!(
        !matches!(ended, Some(Ok(_))),
        "no more events after shutdown: {ended:?}"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens any more"
    );
    assert!(
        Api::<Pod>::default_namespaced(client)
            .list(&ListParams::default())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn event_recorder_and_collections() {
    use kube::Resource;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let sb = Sandbox::new().await;
    let es = sb.es();
    let obj = es
        .create(&PostParams::default(), &external_secret("signon-mysql"))
        .await
        .unwrap();
    let recorder = Recorder::new(sb.client.clone(), Reporter::from("external-secrets"));
    let ev = Event {
        type_: EventType::Warning,
        reason: "UpdateFailed".into(),
        note: Some("could not get secret data from provider".into()),
        action: "Sync".into(),
        secondary: None,
    };
    let reference = obj.object_ref(&es_resource("v1"));
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(sb.client.clone());
    let list = events.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1, "a repeat becomes a series on the same event");
    assert_eq!(list.items[0].series.as_ref().map(|s| s.count), Some(2));
    assert_eq!(
        list.items[0].regarding.as_ref().unwrap().name.as_deref(),
        Some("signon-mysql")
    );

    // deletecollection with a selector.
    let pods: Api<Pod> = Api::default_namespaced(sb.client.clone());
    for (n, app) in [("a-1", "a"), ("a-2", "a"), ("b-1", "b")] {
        pods.create(&PostParams::default(), &pod(n, app)).await.unwrap();
    }
    pods.delete_collection(&DeleteParams::default(), &ListParams::default().labels("app=a"))
        .await
        .unwrap();
    let left: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.metadata.name.unwrap())
        .collect();
    assert_eq!(left, ["b-1"]);

    // Bad input is refused without echoing what was sent.
    let secrets: Api<DynamicObject> =
        Api::default_namespaced_with(sb.client.clone(), &ApiResource::erase::<Secret>(&()));
    let bad = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"K": "hunter2-not-base64!"}});
    let (code, _, msg) = err_code(
        secrets
            .create(&PostParams::default(), &serde_json::from_value(bad).unwrap())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert!(msg.contains("data[K]") && !msg.contains("hunter2"), "{msg}");
    let yaml = "apiVersion: v1\nkind: Secret\nmetadata: {name: s3}\nstringData: {K: hunter2: oops}\n";
    let req = axum::http::Request::patch("/api/v1/namespaces/apps/secrets/s3?fieldManager=t")
        .header("content-type", "application/apply-patch+yaml")
        .body(yaml.as_bytes().to_vec())
        .unwrap();
    let err = sb.client.request::<Secret>(req).await.unwrap_err();
    let (code, _, msg) = err_code(err);
    assert_eq!(code, 400);
    assert!(
        msg.starts_with("error decoding YAML") && !msg.contains("hunter2"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_seeded_store_is_served_and_shared() {
    let store = KubeStore::new();
    let mut seed = serde_json::to_value(external_secret("seeded")).unwrap();
    seed["metadata"]["namespace"] = json!("apps");
    seed["status"] = json!({"conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced"}]});
    store.create(seed).unwrap();
    let sb = Sandbox::start_with(store.clone(), Arc::new(NoRuntime)).await;
    let es = sb.es();
    let got = es.get("seeded").await.unwrap();
    assert_eq!(
        got.data["status"]["conditions"][0]["reason"], "SecretSynced",
        "status given at creation is kept"
    );
    let patch = json!({"metadata": {"annotations": {"force-sync": "5"}}});
    es.patch("seeded", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let seen = store.get("externalsecrets", Some("apps"), "seeded").unwrap();
    assert_eq!(seen["metadata"]["annotations"]["force-sync"], "5");
    assert_eq!(store.list("es", Some("apps")).len(), 1);
    store
        .merge_patch(
            "es",
            Some("apps"),
            "seeded",
            &json!({"status": {"refreshTime": "2026-01-01T00:00:00Z"}}),
            true,
        )
        .unwrap();
    assert_eq!(
        es.get("seeded").await.unwrap().data["status"]["refreshTime"],
        "2026-01-01T00:00:00Z"
    );
    store.delete("es", Some("apps"), "seeded").unwrap();
    assert!(es.get_opt("seeded").await.unwrap().is_none());
}

/// No OpenAPI documents are served, so kubectl's client-side validation
/// must be off (`--validate=false`); the apply itself works.
#[tokio::test]
async fn kubectl_apply_creates_then_patches() {
    let sb = Sandbox::new().await;
    let manifest = sb.dir.path().join("es.yaml");
    let write = |interval: &str| {
        let es = serde_json::to_value(external_secret("applied")).unwrap();
        let mut es = es;
        es["spec"]["refreshInterval"] = json!(interval);
        std::fs::write(&manifest, serde_saphyr::to_string(&es).unwrap()).unwrap();
    };
    write("1h");
    let path = manifest.to_str().unwrap().to_string();
    let (ok, out, err) = kubectl(&sb, &["apply", "--validate=false", "-f", &path]).await;
    assert!(ok, "first apply: {err}");
    assert!(out.contains("created"), "{out}");
    write("15m");
    let (ok, out, err) = kubectl(&sb, &["apply", "--validate=false", "-f", &path]).await;
    assert!(ok, "second apply: {err}");
    assert!(out.contains("configured"), "{out}");
    let got = sb.es().get("applied").await.unwrap();
    assert_eq!(got.data["spec"]["refreshInterval"], "15m");
    assert_eq!(got.metadata.generation, Some(2));
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let sb = Sandbox::new().await;
    let es = sb.es();
    let rv = sb.server.store().resource_version();
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let previewed = es.create(&dry, &external_secret("dry")).await.unwrap();
    assert_eq!(previewed.metadata.name.as_deref(), Some("dry"));
    assert!(
        es.get_opt("dry").await.unwrap().is_none(),
        "a dry-run create stores nothing"
    );
    assert_eq!(sb.server.store().resource_version(), rv);

    es.create(&PostParams::default(), &external_secret("real"))
        .await
        .unwrap();
    let patch = json!({"metadata": {"annotations": {"force-sync": "9"}}});
    let preview = es
        .patch("real", &PatchParams::default().dry_run(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(
        preview.metadata.annotations.unwrap()["force-sync"],
        "9",
        "the preview shows the result"
    );
    assert!(
        es.get("real").await.unwrap().metadata.annotations.is_none(),
        "but the object is unchanged"
    );
    let dp = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    es.delete("real", &dp).await.unwrap();
    assert!(
        es.get_opt("real").await.unwrap().is_some(),
        "a dry-run delete keeps the object"
    );
    sb.server.store().deny("patch", "externalsecrets");
    let (code, _, _) = err_code(
        es.patch("real", &PatchParams::default().dry_run(), &Patch::Merge(&patch))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403, "a dry run is authorized like the real thing");
}

#[tokio::test]
async fn batch_cronjobs_jobs_statefulsets_and_daemonsets() {
    use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    let sb = Sandbox::new().await;
    let template = json!({
        "metadata": {"labels": {"app": "signon"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "x"}]},
    });
    let cronjobs: Api<CronJob> = Api::default_namespaced(sb.client.clone());
    let cj: CronJob = serde_json::from_value(json!({
        "metadata": {"name": "signon-delete-expired-tokens"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}},
    }))
    .unwrap();
    let cj = cronjobs.create(&PostParams::default(), &cj).await.unwrap();
    let jobs: Api<Job> = Api::default_namespaced(sb.client.clone());
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "signon-delete-expired-tokens-1", "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "CronJob", "name": "signon-delete-expired-tokens",
            "uid": cj.metadata.uid.clone().unwrap(), "controller": true,
        }]},
        "spec": {"template": template},
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let status = json!({"status": {"succeeded": 1, "completionTime": "2026-01-01T00:00:00Z",
        "conditions": [{"type": "Complete", "status": "True"}]}});
    let done = jobs
        .patch_status(
            "signon-delete-expired-tokens-1",
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .unwrap();
    assert_eq!(done.status.unwrap().succeeded, Some(1));
    cronjobs
        .patch_status(
            "signon-delete-expired-tokens",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"lastScheduleTime": "2026-01-01T00:00:00Z"}})),
        )
        .await
        .unwrap();
    assert!(
        cronjobs
            .get("signon-delete-expired-tokens")
            .await
            .unwrap()
            .status
            .unwrap()
            .last_schedule_time
            .is_some()
    );

    let sts: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "db-proxy"},
        "spec": {"serviceName": "db-proxy", "selector": {"matchLabels": {"app": "db-proxy"}}, "template": template},
    }))
    .unwrap();
    let statefulsets: Api<StatefulSet> = Api::default_namespaced(sb.client.clone());
    let sts = statefulsets.create(&PostParams::default(), &sts).await.unwrap();
    assert_eq!(sts.spec.unwrap().replicas, Some(1), "defaulted like a Deployment");
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template},
    }))
    .unwrap();
    let daemonsets: Api<DaemonSet> = Api::default_namespaced(sb.client.clone());
    daemonsets.create(&PostParams::default(), &ds).await.unwrap();
    let listed = daemonsets.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let mut w = statefulsets
        .watch(&WatchParams::default().timeout(5), "0")
        .await
        .unwrap()
        .boxed();
    statefulsets
        .patch(
            "db-proxy",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    let mut saw_patch = false;
    while let Some(ev) = w.try_next().await.unwrap() {
        if let WatchEvent::Modified(s) = ev {
            saw_patch = s.spec.unwrap().replicas == Some(2);
            break;
        }
    }
    assert!(saw_patch, "the watch sees the patch");

    // kubectl finds them by short name and prints their tables.
    let (ok, out, err) = kubectl(&sb, &["get", "cj,jobs,sts,ds"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("signon-delete-expired-tokens") && out.contains("0 3 * * *"),
        "{out}"
    );
    assert!(out.contains("Complete") && out.contains("1/1"), "{out}");
    assert!(out.contains("db-proxy") && out.contains("agent"), "{out}");

    // Deleting the CronJob takes its Jobs with it.
    cronjobs
        .delete("signon-delete-expired-tokens", &DeleteParams::default())
        .await
        .unwrap();
    assert!(jobs.list(&ListParams::default()).await.unwrap().items.is_empty());
    statefulsets
        .delete("db-proxy", &DeleteParams::default())
        .await
        .unwrap();
}
