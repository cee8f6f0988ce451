//! The object store: every object as JSON, a global resourceVersion counter,
//! a bounded event history for watches, and the RBAC switch.
//!
//! Semantics follow the real API server where rotui or the sandbox's
//! controllers can observe them: no-op writes don't bump resourceVersion,
//! `generation` moves only with the spec, `/status` and the main resource
//! each ignore the other's part, deleting an owner deletes its dependents.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::resources::{self, NAMESPACES, RESOURCES, ResId, ResourceType};
use super::selector::Selector;
use super::status::ApiError;

/// Events kept for watches that resume from a resourceVersion; older ones
/// answer 410 Gone, like a compacted etcd.
const HISTORY: usize = 10_000;

/// The user named in RBAC denials.
pub const USER: &str = "sandbox-user";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as stored in the history and sent to watchers.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub res: ResId,
    pub namespace: String,
    pub kind: EventType,
    pub object: Value,
    /// The object before a modification (so selector watches can turn a
    /// change that leaves the selection into DELETED).
    pub old: Option<Value>,
}

type Key = (ResId, String, String);

/// A started watch: changes to replay, the version they reach, and the
/// live changes after it (subscribed atomically, so none is missed or sent twice).
pub(crate) struct Subscription {
    pub replay: Vec<Arc<Change>>,
    pub rv: u64,
    pub live: broadcast::Receiver<Arc<Change>>,
}

struct Inner {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<Change>>,
    /// Changes at or below this version are no longer in the history.
    compacted: u64,
    denied: HashSet<(String, String)>,
}

struct Shared {
    inner: Mutex<Inner>,
    changes: broadcast::Sender<Arc<Change>>,
}

/// A handle on the API server's store, for the server itself and for
/// in-process seeding and tests. Cheap to clone.
#[derive(Clone)]
pub struct KubeStore(Arc<Shared>);

impl std::fmt::Debug for KubeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeStore")
            .field("resource_version", &self.resource_version())
            .finish()
    }
}

impl Default for KubeStore {
    fn default() -> Self {
        Self::new()
    }
}

impl KubeStore {
    /// A store holding the namespaces `default`, `kube-system` and `apps`.
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(4096);
        let store = KubeStore(Arc::new(Shared {
            inner: Mutex::new(Inner {
                rv: 0,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                compacted: 0,
                denied: HashSet::new(),
            }),
            changes,
        }));
        for ns in ["default", "kube-system", "apps"] {
            store
                .create_in(NAMESPACES, None, json!({"metadata": {"name": ns}}), false)
                .expect("fresh store accepts the standard namespaces");
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every write
        // is a single insert), so keep serving.
        self.0.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- public, by resource name (`pods`, `externalsecrets`, `deployments.apps`, `es`) ----

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Create an object; its type comes from `apiVersion` and `kind`, its
    /// namespace from `metadata.namespace` (default `apps`).
    pub fn create(&self, obj: Value) -> Result<Value, ApiError> {
        let res = resources::by_kind(
            obj["apiVersion"].as_str().unwrap_or(""),
            obj["kind"].as_str().unwrap_or(""),
        )
        .ok_or_else(|| {
            ApiError::bad_request(format!("no served type for apiVersion/kind of {}", obj["kind"]))
        })?;
        let ns = RESOURCES[res].namespaced.then(|| {
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("apps")
                .to_string()
        });
        self.create_in(res, ns.as_deref(), obj, false)
    }

    /// An object by resource name, namespace (None for cluster-scoped) and name.
    pub fn get(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let res = resources::by_name(resource)?;
        self.get_in(res, namespace, name).ok()
    }

    /// All objects of a type, in one namespace or all.
    pub fn list(&self, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        resources::by_name(resource)
            .map(|res| self.list_in(res, namespace, &Selector::default()).0)
            .unwrap_or_default()
    }

    /// Merge-patch an object (`status: true` patches the status subresource).
    pub fn merge_patch(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
        status: bool,
    ) -> Result<Value, ApiError> {
        let res = resource_named(resource)?;
        self.update_in(res, namespace, name, status, false, |cur| {
            let mut new = cur.clone();
            super::patch::merge_patch(&mut new, patch);
            Ok(new)
        })
    }

    pub fn delete(&self, resource: &str, namespace: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.delete_in(resource_named(resource)?, namespace, name, false)
    }

    /// Deny `verb` (get, list, watch, create, update, patch, delete, or `*`)
    /// on `resource` (`externalsecrets`, `pods/portforward`, `pods/exec`, or
    /// `*`): such requests get the real server's 403 Forbidden.
    pub fn deny(&self, verb: &str, resource: &str) {
        self.lock().denied.insert((verb.into(), resource.into()));
    }

    /// Undo [`deny`](Self::deny).
    pub fn allow(&self, verb: &str, resource: &str) {
        self.lock()
            .denied
            .remove(&(verb.to_string(), resource.to_string()));
    }

    /// Whether [`deny`](Self::deny) covers `verb` on `resource`
    /// (`plural` or `plural/subresource`).
    pub fn is_denied(&self, verb: &str, resource: &str) -> bool {
        let g = self.lock();
        [verb, "*"].iter().any(|v| {
            [resource, "*"]
                .iter()
                .any(|r| g.denied.contains(&(v.to_string(), r.to_string())))
        })
    }

    /// Forget the watch history, so resuming a watch from any version seen
    /// so far answers 410 Gone (as after an etcd compaction).
    pub fn compact(&self) {
        let mut g = self.lock();
        g.history.clear();
        g.compacted = g.rv;
    }

    // ---- by type id, for the HTTP layer ----

    /// Whether `verb` on `resource` (with `/subresource`) is allowed.
    pub(crate) fn authorize(
        &self,
        verb: &str,
        res: &ResourceType,
        subresource: Option<&str>,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<(), ApiError> {
        let resource = match subresource {
            Some(s) => format!("{}/{s}", res.plural),
            None => res.plural.to_string(),
        };
        if self.is_denied(verb, &resource) {
            return Err(ApiError::forbidden(
                USER, verb, res.group, &resource, name, namespace,
            ));
        }
        Ok(())
    }

    pub(crate) fn get_in(&self, res: ResId, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        let g = self.lock();
        g.objects
            .get(&key(res, ns, name))
            .cloned()
            .ok_or_else(|| not_found(res, name))
    }

    /// Matching objects (sorted by namespace, name) and the list's resourceVersion.
    pub(crate) fn list_in(&self, res: ResId, ns: Option<&str>, sel: &Selector) -> (Vec<Value>, u64) {
        let g = self.lock();
        let items = g
            .objects
            .iter()
            .filter(|((r, n, _), o)| *r == res && ns.is_none_or(|ns| ns == n) && sel.matches(o))
            .map(|(_, o)| o.clone())
            .collect();
        (items, g.rv)
    }

    /// With `dry_run`, everything is checked and the result returned, but nothing is stored.
    pub(crate) fn create_in(
        &self,
        res: ResId,
        ns: Option<&str>,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let rt = &RESOURCES[res];
        if !obj.is_object() {
            return Err(ApiError::bad_request(format!(
                "the body of a {} must be a JSON object",
                rt.kind
            )));
        }
        check_kind(rt, &obj)?;
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let meta = &mut obj["metadata"];
        if meta["name"].as_str().unwrap_or("").is_empty()
            && let Some(prefix) = meta["generateName"].as_str()
        {
            meta["name"] = json!(format!("{prefix}{}", random_suffix()));
        }
        let name = meta["name"].as_str().unwrap_or("").to_string();
        if name.is_empty() {
            return Err(ApiError::invalid(
                rt.kind,
                rt.group,
                "",
                "metadata.name: Required value: name or generateName is required",
            ));
        }
        validate_name(rt, &name)?;
        match (rt.namespaced, ns) {
            (true, Some(ns)) => {
                if let Some(body_ns) = meta["namespace"].as_str()
                    && body_ns != ns
                {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                meta["namespace"] = json!(ns);
            }
            (true, None) => {
                return Err(ApiError::bad_request(format!(
                    "{} must be created in a namespace",
                    rt.kind
                )));
            }
            (false, _) => {
                if let Some(m) = meta.as_object_mut() {
                    m.remove("namespace");
                }
            }
        }
        defaults(rt, &mut obj)?;
        let mut g = self.lock();
        if let Some(ns) = ns
            && rt.namespaced
            && !g.objects.contains_key(&key(NAMESPACES, None, ns))
        {
            return Err(ApiError::not_found("", "namespaces", ns));
        }
        let k = key(res, ns, &name);
        if g.objects.contains_key(&k) {
            return Err(ApiError::already_exists(rt.group, rt.plural, &name));
        }
        let meta = obj["metadata"].as_object_mut().expect("metadata is an object");
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now()));
        meta.remove("deletionTimestamp");
        if rt.generation {
            meta.insert("generation".into(), json!(1));
        }
        if dry_run {
            return Ok(obj);
        }
        g.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(g.rv.to_string());
        g.objects.insert(k, obj.clone());
        self.record(&mut g, res, ns, EventType::Added, obj.clone(), None);
        Ok(obj)
    }

    /// Replace an object with `f(current)`, applying the server's rules.
    /// With `status`, only the status changes; otherwise everything but it.
    /// With `dry_run`, the result is returned but not stored.
    pub(crate) fn update_in(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        status: bool,
        dry_run: bool,
        f: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let rt = &RESOURCES[res];
        let mut g = self.lock();
        let k = key(res, ns, name);
        let old = g.objects.get(&k).cloned().ok_or_else(|| not_found(res, name))?;
        let proposed = f(&old)?;
        if !proposed.is_object() {
            return Err(ApiError::bad_request(format!(
                "the body of a {} must be a JSON object",
                rt.kind
            )));
        }
        check_kind(rt, &proposed)?;
        if let Some(rv) = proposed
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && Some(rv) != old.pointer("/metadata/resourceVersion").and_then(Value::as_str)
        {
            return Err(ApiError::conflict(rt.group, rt.plural, name));
        }
        if let Some(n) = proposed.pointer("/metadata/name").and_then(Value::as_str)
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        let mut new = if status {
            let mut new = old.clone();
            match proposed.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    new.as_object_mut().map(|m| m.remove("status"));
                }
            }
            new
        } else {
            let mut new = proposed;
            new["apiVersion"] = old["apiVersion"].clone();
            new["kind"] = old["kind"].clone();
            if !new["metadata"].is_object() {
                new["metadata"] = json!({});
            }
            for f in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
            ] {
                match old["metadata"].get(f) {
                    Some(v) => new["metadata"][f] = v.clone(),
                    None => {
                        new["metadata"].as_object_mut().map(|m| m.remove(f));
                    }
                }
            }
            if rt.status_subresource {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
            }
            defaults(rt, &mut new)?;
            if rt.generation && spec_of(&old) != spec_of(&new) {
                let generation = old
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                new["metadata"]["generation"] = json!(generation + 1);
            }
            new
        };
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if new == old || dry_run {
            return Ok(new);
        }
        g.rv += 1;
        new["metadata"]["resourceVersion"] = json!(g.rv.to_string());
        g.objects.insert(k, new.clone());
        self.record(&mut g, res, ns, EventType::Modified, new.clone(), Some(old));
        Ok(new)
    }

    /// Delete an object, then (like the garbage collector) its dependents,
    /// and for a namespace everything in it.
    /// With `dry_run`, the object is returned but stays.
    pub(crate) fn delete_in(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let mut g = self.lock();
        if dry_run {
            return g
                .objects
                .get(&key(res, ns, name))
                .cloned()
                .ok_or_else(|| not_found(res, name));
        }
        let obj = self
            .remove(&mut g, &key(res, ns, name))
            .ok_or_else(|| not_found(res, name))?;
        let mut doomed: Vec<String> = obj
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .map(String::from)
            .into_iter()
            .collect();
        if res == NAMESPACES {
            let inside: Vec<Key> = g.objects.keys().filter(|(_, n, _)| n == name).cloned().collect();
            for k in inside {
                if let Some(o) = self.remove(&mut g, &k) {
                    doomed.extend(
                        o.pointer("/metadata/uid")
                            .and_then(Value::as_str)
                            .map(String::from),
                    );
                }
            }
        }
        while let Some(uid) = doomed.pop() {
            let dependents: Vec<Key> = g
                .objects
                .iter()
                .filter(|(_, o)| {
                    o.pointer("/metadata/ownerReferences")
                        .and_then(Value::as_array)
                        .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(uid.as_str())))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in dependents {
                if let Some(o) = self.remove(&mut g, &k) {
                    doomed.extend(
                        o.pointer("/metadata/uid")
                            .and_then(Value::as_str)
                            .map(String::from),
                    );
                }
            }
        }
        Ok(obj)
    }

    fn remove(&self, g: &mut Inner, k: &Key) -> Option<Value> {
        let mut obj = g.objects.remove(k)?;
        g.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(g.rv.to_string());
        let ns = (!k.1.is_empty()).then_some(k.1.as_str());
        self.record(g, k.0, ns, EventType::Deleted, obj.clone(), None);
        Some(obj)
    }

    fn record(
        &self,
        g: &mut Inner,
        res: ResId,
        ns: Option<&str>,
        kind: EventType,
        object: Value,
        old: Option<Value>,
    ) {
        let change = Arc::new(Change {
            rv: g.rv,
            res,
            namespace: ns.unwrap_or("").to_string(),
            kind,
            object,
            old,
        });
        g.history.push_back(change.clone());
        while g.history.len() > HISTORY {
            if let Some(c) = g.history.pop_front() {
                g.compacted = c.rv;
            }
        }
        // Sent under the lock, so subscribers see changes in order and a
        // subscription taken under the lock misses none.
        let _ = self.0.changes.send(change);
    }

    /// Start a watch: the changes to replay and a receiver for live ones.
    /// `since: None` replays the current objects as ADDED (resourceVersion
    /// "0" or unset); `Some(n)` replays history after `n` or fails with 410.
    pub(crate) fn subscribe(
        &self,
        res: ResId,
        ns: Option<&str>,
        since: Option<u64>,
    ) -> Result<Subscription, ApiError> {
        let g = self.lock();
        let rx = self.0.changes.subscribe();
        let in_scope = |r: ResId, n: &str| r == res && ns.is_none_or(|ns| ns == n);
        let replay = match since {
            None => g
                .objects
                .iter()
                .filter(|((r, n, _), _)| in_scope(*r, n))
                .map(|((r, n, _), o)| {
                    Arc::new(Change {
                        rv: o
                            .pointer("/metadata/resourceVersion")
                            .and_then(Value::as_str)
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0),
                        res: *r,
                        namespace: n.clone(),
                        kind: EventType::Added,
                        object: o.clone(),
                        old: None,
                    })
                })
                .collect(),
            Some(n) if n < g.compacted => {
                return Err(ApiError::gone(format!(
                    "too old resource version: {n} ({})",
                    g.compacted + 1
                )));
            }
            Some(n) => g
                .history
                .iter()
                .filter(|c| c.rv > n && in_scope(c.res, &c.namespace))
                .cloned()
                .collect(),
        };
        Ok(Subscription {
            replay,
            rv: g.rv,
            live: rx,
        })
    }
}

fn resource_named(resource: &str) -> Result<ResId, ApiError> {
    resources::by_name(resource).ok_or_else(|| {
        ApiError::new(
            404,
            "NotFound",
            format!("the server doesn't have a resource type \"{resource}\""),
        )
    })
}

fn key(res: ResId, ns: Option<&str>, name: &str) -> Key {
    let ns = if RESOURCES[res].namespaced {
        ns.unwrap_or("")
    } else {
        ""
    };
    (res, ns.to_string(), name.to_string())
}

fn not_found(res: ResId, name: &str) -> ApiError {
    ApiError::not_found(RESOURCES[res].group, RESOURCES[res].plural, name)
}

fn check_kind(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    if let Some(kind) = obj["kind"].as_str()
        && kind != rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({}) or kind {kind:?} is not {:?}",
            obj["apiVersion"].as_str().unwrap_or(""),
            rt.api_version(),
            rt.kind
        )));
    }
    Ok(())
}

/// Names are RFC 1123 subdomains (lowercase letters, digits, '-', '.').
fn validate_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    let ok = name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        return Ok(());
    }
    Err(ApiError::invalid(
        rt.kind,
        rt.group,
        name,
        &format!(
            "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case \
             alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ),
    ))
}

/// Server-side defaulting that clients rely on.
fn defaults(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match rt.kind {
        "Secret" => {
            if let Some(Value::Object(sd)) = obj.as_object_mut().and_then(|m| m.remove("stringData")) {
                for (k, v) in sd {
                    let s = v.as_str().unwrap_or("").to_string();
                    obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(s));
                }
            }
            if let Some(data) = obj.get("data").and_then(Value::as_object) {
                for (k, v) in data {
                    let valid = v
                        .as_str()
                        .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok());
                    if !valid {
                        return Err(ApiError::invalid(
                            rt.kind,
                            rt.group,
                            &name,
                            &format!("data[{k}]: Invalid value: not base64-encoded bytes"),
                        ));
                    }
                }
            }
            if obj.get("type").is_none() {
                obj["type"] = json!("Opaque");
            }
        }
        "Deployment" | "ReplicaSet" | "StatefulSet"
            if obj.pointer("/spec/replicas").is_none() && obj.get("spec").is_some() =>
        {
            obj["spec"]["replicas"] = json!(1);
        }
        "Pod" if obj.get("status").is_none() => {
            obj["status"] = json!({"phase": "Pending"});
        }
        "Namespace" if obj.get("status").is_none() => {
            obj["status"] = json!({"phase": "Active"});
        }
        _ => {}
    }
    Ok(())
}

/// Everything but metadata and status: what `generation` tracks.
fn spec_of(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        for f in ["metadata", "status", "apiVersion", "kind"] {
            m.remove(f);
        }
    }
    v
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn random_suffix() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(name: &str) -> Value {
        json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {"refreshInterval": "1h"},
            "status": {"refreshTime": "2020-01-01T00:00:00Z"}
        })
    }

    #[test]
    fn generation_moves_with_spec_and_noop_keeps_version() {
        let s = KubeStore::new();
        let created = s.create(es("a")).unwrap();
        assert_eq!(created["metadata"]["generation"], 1);
        let rv = s.resource_version();
        let same = s
            .merge_patch(
                "externalsecrets",
                Some("apps"),
                "a",
                &json!({"spec": {"refreshInterval": "1h"}}),
                false,
            )
            .unwrap();
        assert_eq!(s.resource_version(), rv, "a no-op patch changes nothing");
        assert_eq!(same, created);
        let ann = s
            .merge_patch(
                "es",
                Some("apps"),
                "a",
                &json!({"metadata": {"annotations": {"force-sync": "1"}}}),
                false,
            )
            .unwrap();
        assert_eq!(ann["metadata"]["generation"], 1, "annotations are not spec");
        let spec = s
            .merge_patch(
                "es",
                Some("apps"),
                "a",
                &json!({"spec": {"refreshInterval": "0"}, "status": {"x": 1}}),
                false,
            )
            .unwrap();
        assert_eq!(spec["metadata"]["generation"], 2);
        assert!(
            spec["status"].get("x").is_none(),
            "status is ignored on the main resource"
        );
        let st = s
            .merge_patch(
                "es",
                Some("apps"),
                "a",
                &json!({"status": {"x": 1}, "spec": {"refreshInterval": "5m"}}),
                true,
            )
            .unwrap();
        assert_eq!(st["status"]["x"], 1);
        assert_eq!(st["spec"]["refreshInterval"], "0", "spec is ignored on /status");
    }

    #[test]
    fn owner_deletion_cascades_and_namespace_must_exist() {
        let s = KubeStore::new();
        let owner = s
            .create(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}}),
            )
            .unwrap();
        let uid = owner["metadata"]["uid"].clone();
        s.create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "ownerReferences": [{"uid": uid}]}}))
            .unwrap();
        s.delete("deployments", Some("apps"), "d").unwrap();
        assert!(s.get("pods", Some("apps"), "p").is_none());
        let err = s
            .create(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "nope"}}),
            )
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (404, "namespaces \"nope\" not found")
        );
    }

    #[test]
    fn secret_string_data_and_bad_names() {
        let s = KubeStore::new();
        let sec = s.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"K": "v"}})).unwrap();
        assert_eq!(sec["data"]["K"], "dg==");
        assert_eq!(sec["type"], "Opaque");
        let err = s
            .create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "Bad_Name"}}))
            .unwrap_err();
        assert_eq!(err.code, 422);
    }
}
