//! Watches: newline-delimited JSON events over a chunked response, replaying
//! changes after the requested resourceVersion, then live ones, until
//! `timeoutSeconds`. A version older than the history gets the real
//! server's in-stream `ERROR` event with a 410 `Status`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::resources::{RESOURCES, ResId};
use super::rest::App;
use super::selector::Selector;
use super::status::ApiError;
use super::store::{Change, EventType, Subscription};

/// What a watch request asked for.
pub struct WatchRequest {
    pub res: ResId,
    /// The `apiVersion` objects are presented in (the URL's version).
    pub api_version: String,
    pub namespace: Option<String>,
    pub selector: Selector,
    pub resource_version: Option<String>,
    pub timeout: Option<u64>,
    pub send_initial_events: bool,
    pub allow_bookmarks: bool,
    /// Send each object as a one-row Table (`kubectl get --watch`).
    pub table: bool,
}

const DEFAULT_TIMEOUT: u64 = 1800;
/// How often a quiet watch that allows bookmarks gets one (and once more
/// as it times out), like the real server's roughly once a minute.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

pub fn respond(app: Arc<App>, req: WatchRequest) -> Result<Response, ApiError> {
    let since = match req.resource_version.as_deref() {
        None | Some("") | Some("0") => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {v:?}")))?,
        ),
    };
    let since = if req.send_initial_events { None } else { since };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(req.timeout.unwrap_or(DEFAULT_TIMEOUT));
    let subscribed = app.store.subscribe(req.res, req.namespace.as_deref(), since);
    let shutdown = app.shutdown.clone();
    let stream = async_stream::stream! {
        let Subscription { replay, rv, live: mut rx } = match subscribed {
            Ok(s) => s,
            Err(e) => {
                yield line(&json!({"type": "ERROR", "object": e.to_status()}));
                return;
            }
        };
        for c in &replay {
            if let Some(ev) = event(&req, c) {
                yield line(&ev);
            }
        }
        if req.send_initial_events {
            yield line(&bookmark(&req, rv, true));
        }
        // Everything up to `seen` has been delivered, so a bookmark at
        // `seen` is a safe place to resume from.
        let mut seen = rv;
        let mut bookmarks = tokio::time::interval_at(
            tokio::time::Instant::now() + BOOKMARK_EVERY,
            BOOKMARK_EVERY,
        );
        loop {
            let (got, ending) = tokio::select! {
                got = rx.recv() => (Some(got), false),
                _ = bookmarks.tick(), if req.allow_bookmarks => (None, false),
                _ = tokio::time::sleep_until(deadline) => (None, true),
                _ = shutdown.cancelled() => return,
            };
            match got {
                Some(Ok(c)) => {
                    seen = c.rv;
                    let in_scope = c.res == req.res
                        && req.namespace.as_deref().is_none_or(|ns| ns == c.namespace);
                    if in_scope && let Some(ev) = event(&req, &c) {
                        yield line(&ev);
                    }
                    continue;
                }
                Some(Err(RecvError::Lagged(_))) => {
                    // Too slow to keep up: make the client re-list.
                    let e = ApiError::gone("the watch fell behind; list again");
                    yield line(&json!({"type": "ERROR", "object": e.to_status()}));
                    return;
                }
                Some(Err(RecvError::Closed)) => return,
                None => {}
            }
            if req.allow_bookmarks {
                // Deliver what is queued first, then mark the spot.
                while let Ok(c) = rx.try_recv() {
                    seen = c.rv;
                    let in_scope = c.res == req.res
                        && req.namespace.as_deref().is_none_or(|ns| ns == c.namespace);
                    if in_scope && let Some(ev) = event(&req, &c) {
                        yield line(&ev);
                    }
                }
                yield line(&bookmark(&req, seen, false));
            }
            if ending {
                return;
            }
        }
    };
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(futures::StreamExt::map(
            stream,
            Ok::<_, Infallible>,
        )))
        .expect("static headers are valid"))
}

/// A BOOKMARK: "you have everything up to `rv`".
fn bookmark(req: &WatchRequest, rv: u64, initial_events_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let kind = RESOURCES[req.res].kind;
    json!({"type": "BOOKMARK", "object": {"apiVersion": req.api_version, "kind": kind, "metadata": meta}})
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).expect("JSON values serialize");
    b.push(b'\n');
    Bytes::from(b)
}

/// The event a watcher with this selector sees for a change, if any: a
/// change that moves an object into or out of the selection is ADDED or
/// DELETED for it.
fn event(req: &WatchRequest, c: &Change) -> Option<Value> {
    let now = req.selector.matches(&c.object);
    let before = c.old.as_ref().map(|o| req.selector.matches(o));
    let kind = match (c.kind, before, now) {
        (EventType::Modified, Some(true), true) => "MODIFIED",
        (EventType::Modified, Some(false), true) => "ADDED",
        (EventType::Modified, Some(true), false) => "DELETED",
        (EventType::Modified, _, _) => return None,
        (k, _, true) => k.as_str(),
        (_, _, false) => return None,
    };
    let mut object = c.object.clone();
    object["apiVersion"] = json!(req.api_version);
    if req.table {
        object = super::table::table(&RESOURCES[req.res], &[object], Some(c.rv));
    }
    Some(json!({"type": kind, "object": object}))
}
