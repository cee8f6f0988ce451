//! Discovery documents in the legacy formats (`APIVersions`, `APIGroupList`,
//! `APIResourceList`), which both kube and kubectl accept.

use serde_json::{Value, json};

use super::resources::{RESOURCES, api_version};

/// `GET /version`: kubectl's dispatcher picks its client by `minor`.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.0-rotui-sandbox",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

fn groups() -> Vec<&'static str> {
    let mut gs: Vec<&str> = RESOURCES
        .iter()
        .map(|r| r.group)
        .filter(|g| !g.is_empty())
        .collect();
    gs.dedup();
    gs
}

fn group_versions(group: &str) -> Vec<&'static str> {
    let mut vs: Vec<&str> = vec![];
    for r in RESOURCES.iter().filter(|r| r.group == group) {
        for v in r.versions {
            if !vs.contains(v) {
                vs.push(v);
            }
        }
    }
    vs
}

/// `GET /apis/<group>`, or None for an unknown group.
pub fn group(group: &str) -> Option<Value> {
    let vs = group_versions(group);
    let gv = |v: &str| json!({"groupVersion": api_version(group, v), "version": v});
    let preferred = vs.first()?;
    Some(json!({
        "kind": "APIGroup", "apiVersion": "v1", "name": group,
        "versions": vs.iter().map(|v| gv(v)).collect::<Vec<_>>(),
        "preferredVersion": gv(preferred),
    }))
}

/// `GET /apis`
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .filter_map(group)
        .map(|mut g| {
            if let Some(m) = g.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            g
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /api/v1`, `GET /apis/<group>/<version>`, or None when not served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = vec![];
    for r in RESOURCES.iter().filter(|r| r.group == group && r.serves(version)) {
        resources.push(json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "shortNames": r.short_names, "categories": r.categories(),
        }));
        if r.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced,
                "kind": r.kind, "verbs": ["get", "patch", "update"],
            }));
        }
        if r.kind == "Pod" {
            for (sub, kind) in [
                ("exec", "PodExecOptions"),
                ("portforward", "PodPortForwardOptions"),
            ] {
                resources.push(json!({
                    "name": format!("pods/{sub}"), "singularName": "", "namespaced": true,
                    "kind": kind, "verbs": ["create", "get"],
                }));
            }
        }
    }
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": api_version(group, version), "resources": resources,
    }))
}
