//! `meta.k8s.io/v1` Tables, which `kubectl get` asks for, with the columns
//! the real server (or the CRD's printer columns) would give.

use serde_json::{Value, json};

use super::resources::ResourceType;

/// Whether the client asked for a Table (`Accept: …;as=Table;…`).
pub fn wants_table(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.split(',').any(|t| t.contains("as=Table")))
}

pub fn table(rt: &ResourceType, objects: &[Value], resource_version: Option<u64>) -> Value {
    let columns: Vec<Value> = columns(rt.kind)
        .iter()
        .enumerate()
        .map(|(i, (name, desc))| {
            json!({
                "name": name, "type": "string", "format": if i == 0 { "name" } else { "" },
                "description": desc, "priority": 0,
            })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({
                "cells": cells(rt.kind, o),
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]},
            })
        })
        .collect();
    let mut meta = json!({});
    if let Some(rv) = resource_version {
        meta["resourceVersion"] = json!(rv.to_string());
    }
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
        "columnDefinitions": columns, "rows": rows,
    })
}

fn columns(kind: &str) -> &'static [(&'static str, &'static str)] {
    const NAME: (&str, &str) = ("Name", "Name must be unique within a namespace.");
    const AGE: (&str, &str) = ("Age", "Time since the object was created.");
    match kind {
        "ExternalSecret" => &[
            NAME,
            ("Store", "The SecretStore the data comes from."),
            ("Refresh Interval", "How often the secret is refreshed."),
            ("Status", "The reason of the Ready condition."),
            ("Ready", "The status of the Ready condition."),
        ],
        "Pod" => &[
            NAME,
            ("Ready", "Ready containers / containers."),
            ("Status", "The pod's phase or waiting reason."),
            ("Restarts", "Container restarts."),
            AGE,
        ],
        "Deployment" => &[
            NAME,
            ("Ready", "Ready replicas / desired replicas."),
            ("Up-to-date", "Replicas with the current pod template."),
            ("Available", "Available replicas."),
            AGE,
        ],
        "ReplicaSet" => &[
            NAME,
            ("Desired", "Desired replicas."),
            ("Current", "Current replicas."),
            ("Ready", "Ready replicas."),
            AGE,
        ],
        "StatefulSet" => &[NAME, ("Ready", "Ready replicas / desired replicas."), AGE],
        "DaemonSet" => &[
            NAME,
            ("Desired", "Desired scheduled pods."),
            ("Current", "Current scheduled pods."),
            ("Ready", "Ready pods."),
            AGE,
        ],
        "CronJob" => &[
            NAME,
            ("Schedule", "The cron schedule."),
            ("Suspend", "Whether scheduling is suspended."),
            ("Active", "Running jobs."),
            ("Last Schedule", "Time since the last scheduled job."),
            AGE,
        ],
        "Job" => &[
            NAME,
            ("Status", "Complete, Failed or Running."),
            ("Completions", "Succeeded / wanted completions."),
            AGE,
        ],
        "Secret" => &[
            NAME,
            ("Type", "The secret's type."),
            ("Data", "Number of keys."),
            AGE,
        ],
        "Namespace" => &[NAME, ("Status", "The namespace's phase."), AGE],
        "Event" => &[
            ("Last Seen", "Time since the event was last seen."),
            ("Type", "Normal or Warning."),
            ("Reason", "Why the event happened."),
            ("Object", "The object the event is about."),
            ("Message", "What happened."),
        ],
        _ => &[NAME, AGE],
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn cells(kind: &str, o: &Value) -> Vec<Value> {
    let name = json!(s(&o["metadata"]["name"]));
    let age = json!(short_age(o["metadata"]["creationTimestamp"].as_str()));
    match kind {
        "ExternalSecret" => {
            let ready = o["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .cloned()
                .unwrap_or(Value::Null);
            vec![
                name,
                json!(s(&o["spec"]["secretStoreRef"]["name"])),
                json!(s(&o["spec"]["refreshInterval"])),
                json!(s(&ready["reason"])),
                json!(s(&ready["status"])),
            ]
        }
        "Pod" => {
            let statuses = o["status"]["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| int(&c["restartCount"])).sum();
            let waiting = statuses
                .iter()
                .find_map(|c| c["state"]["waiting"]["reason"].as_str());
            let status = if o["metadata"]["deletionTimestamp"].is_string() {
                "Terminating".to_string()
            } else {
                waiting
                    .map(String::from)
                    .unwrap_or_else(|| s(&o["status"]["phase"]))
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(status),
                json!(restarts),
                age,
            ]
        }
        "Deployment" => {
            let st = &o["status"];
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(&st["readyReplicas"]),
                    int(&o["spec"]["replicas"])
                )),
                json!(int(&st["updatedReplicas"])),
                json!(int(&st["availableReplicas"])),
                age,
            ]
        }
        "ReplicaSet" => vec![
            name,
            json!(int(&o["spec"]["replicas"])),
            json!(int(&o["status"]["replicas"])),
            json!(int(&o["status"]["readyReplicas"])),
            age,
        ],
        "StatefulSet" => vec![
            name,
            json!(format!(
                "{}/{}",
                int(&o["status"]["readyReplicas"]),
                int(&o["spec"]["replicas"])
            )),
            age,
        ],
        "DaemonSet" => {
            let st = &o["status"];
            vec![
                name,
                json!(int(&st["desiredNumberScheduled"])),
                json!(int(&st["currentNumberScheduled"])),
                json!(int(&st["numberReady"])),
                age,
            ]
        }
        "CronJob" => vec![
            name,
            json!(s(&o["spec"]["schedule"])),
            json!(o["spec"]["suspend"].as_bool().unwrap_or(false).to_string()),
            json!(o["status"]["active"].as_array().map_or(0, |a| a.len())),
            json!(
                o["status"]["lastScheduleTime"]
                    .as_str()
                    .map_or("<none>".to_string(), |t| short_age(Some(t)))
            ),
            age,
        ],
        "Job" => {
            let st = &o["status"];
            let cond = |t: &str| {
                st["conditions"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
            };
            let status = if cond("Complete") {
                "Complete"
            } else if cond("Failed") {
                "Failed"
            } else {
                "Running"
            };
            let wanted = o["spec"]["completions"].as_i64().unwrap_or(1);
            vec![
                name,
                json!(status),
                json!(format!("{}/{wanted}", int(&st["succeeded"]))),
                age,
            ]
        }
        "Secret" => {
            let n = o["data"].as_object().map_or(0, |d| d.len());
            vec![name, json!(s(&o["type"])), json!(n), age]
        }
        "Namespace" => vec![name, json!(s(&o["status"]["phase"])), age],
        "Event" => {
            let last = o["lastTimestamp"]
                .as_str()
                .or(o["eventTime"].as_str())
                .or(o["metadata"]["creationTimestamp"].as_str());
            // core/v1 and events.k8s.io/v1 name these differently.
            let io = if o["involvedObject"].is_object() {
                &o["involvedObject"]
            } else {
                &o["regarding"]
            };
            let message = if o["message"].is_string() {
                &o["message"]
            } else {
                &o["note"]
            };
            vec![
                json!(short_age(last)),
                json!(s(&o["type"])),
                json!(s(&o["reason"])),
                json!(format!("{}/{}", s(&io["kind"]).to_lowercase(), s(&io["name"]))),
                json!(s(message)),
            ]
        }
        _ => vec![name, age],
    }
}

/// kubectl-style short age: `42s`, `5m`, `3h`, `2d`, `1y`.
fn short_age(created: Option<&str>) -> String {
    let Some(t) = created.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()) else {
        return "<unknown>".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s if s < 365 * 86400 => format!("{}d", s / 86400),
        s => format!("{}y", s / (365 * 86400)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources::{RESOURCES, by_name};

    #[test]
    fn externalsecret_row_reads_like_the_runbook() {
        let es = json!({
            "metadata": {"name": "signon-mysql", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws-secretsmanager"}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced"}]}
        });
        let t = table(&RESOURCES[by_name("es").unwrap()], &[es], Some(7));
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["signon-mysql", "aws-secretsmanager", "1h", "SecretSynced", "True"])
        );
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 5);
        assert!(wants_table(Some(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        )));
        assert!(!wants_table(Some("application/json")));
    }
}
