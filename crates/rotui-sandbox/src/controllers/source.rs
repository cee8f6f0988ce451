//! Where the External Secrets controller reads provider secrets from. The
//! sandbox backs it with Secrets Manager (moto through the real SDK); tests
//! can use [`MapSource`], whose values they change between syncs.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;

/// A provider of secret JSON documents by key (`govuk/signon/mysql`).
/// Errors are plain text and must not contain secret values.
pub trait SecretSource: Send + Sync + 'static {
    fn get(&self, key: &str) -> BoxFuture<'static, Result<serde_json::Value, String>>;
}

/// An in-memory [`SecretSource`]; clones share the same map.
#[derive(Clone, Default)]
pub struct MapSource {
    values: Arc<RwLock<HashMap<String, serde_json::Value>>>,
}

impl MapSource {
    pub fn new() -> MapSource {
        MapSource::default()
    }

    /// Store (or replace) the document under `key`. Values of password-like
    /// keys are registered for redaction (not all values: scrubbing user
    /// and host names would make every message unreadable).
    pub fn set(&self, key: &str, value: serde_json::Value) {
        for (k, v) in value.as_object().into_iter().flatten() {
            if let Some(v) = v.as_str().filter(|_| is_secret_key(k)) {
                rotui::secret::register(v);
            }
        }
        self.values
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), value);
    }

    pub fn remove(&self, key: &str) {
        self.values.write().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// Whether a document key names a credential (`password`, `api_token`…).
pub(crate) fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token"].iter().any(|w| k.contains(w))
}

impl std::fmt::Debug for MapSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<String> = self
            .values
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        f.debug_struct("MapSource").field("keys", &keys).finish()
    }
}

impl SecretSource for MapSource {
    fn get(&self, key: &str) -> BoxFuture<'static, Result<serde_json::Value, String>> {
        let found = self
            .values
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
            .ok_or_else(|| format!("Secrets Manager can't find the specified secret: {key}"));
        Box::pin(futures::future::ready(found))
    }
}
