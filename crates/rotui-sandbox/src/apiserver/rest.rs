//! The HTTP front: parses Kubernetes API paths and dispatches each verb to
//! the store, answering JSON, Tables, watches, or `Status` errors.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::resources::{self, RESOURCES, ResId, api_version};
use super::runtime::PodRuntime;
use super::selector::Selector;
use super::status::ApiError;
use super::store::KubeStore;
use super::{access, discovery, exec, portforward, table, watch};

/// Shared server state.
pub struct App {
    pub store: KubeStore,
    pub runtime: Arc<dyn PodRuntime>,
    pub shutdown: CancellationToken,
    pub addr: SocketAddr,
    /// An estate cluster's: only its own account's tokens (`None`: anyone).
    pub auth: Option<Arc<super::auth::TokenAuth>>,
}

/// A request's query parameters (keys may repeat, e.g. `command`).
pub struct Query(Vec<(String, String)>);

impl Query {
    fn parse(uri: &Uri) -> Self {
        Query(
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
}

pub fn json_response(code: u16, v: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(v).expect("JSON values serialize"),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.code, &self.to_status())
    }
}

/// The addressed object or collection of a resource request.
pub struct Addressed {
    pub res: ResId,
    pub version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub watch_path: bool,
}

impl Addressed {
    fn api_version(&self) -> String {
        api_version(RESOURCES[self.res].group, &self.version)
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

pub async fn dispatch(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    body: Bytes,
) -> Response {
    if let Some(auth) = &app.auth {
        let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if let Err(why) = auth.check(bearer).await {
            tracing::debug!(target: "rotui_sandbox::apiserver", "{method} {} -> 401", uri.path());
            return super::status::ApiError::new(401, "Unauthorized", why).into_response();
        }
    }
    let segs: Vec<String> = uri
        .path()
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let q = Query::parse(&uri);
    let found = match segs.as_slice() {
        ["version"] => Ok(json_response(200, &discovery::version())),
        ["healthz" | "livez" | "readyz"] => Ok((StatusCode::OK, "ok").into_response()),
        ["api"] => Ok(json_response(
            200,
            &discovery::core_versions(&app.addr.to_string()),
        )),
        ["apis"] => Ok(json_response(200, &discovery::group_list())),
        ["apis", g] => discovery::group(g)
            .map(|v| json_response(200, &v))
            .ok_or_else(not_found),
        ["api", v] => discovery::resource_list("", v)
            .map(|d| json_response(200, &d))
            .ok_or_else(not_found),
        ["apis", g, v] => discovery::resource_list(g, v)
            .map(|d| json_response(200, &d))
            .ok_or_else(not_found),
        ["api", v, rest @ ..] => match target("", v, rest) {
            Some(t) => resource_request(&app, &method, &headers, &q, t, ws, &body).await,
            None => Err(not_found()),
        },
        ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"] if method == Method::POST => {
            access::review(&app.store, &body).map(|v| json_response(201, &v))
        }
        ["apis", g, v, rest @ ..] => match target(g, v, rest) {
            Some(t) => resource_request(&app, &method, &headers, &q, t, ws, &body).await,
            None => Err(not_found()),
        },
        _ => Err(not_found()),
    };
    let response = found.unwrap_or_else(IntoResponse::into_response);
    // The path only: queries can carry exec commands, which may hold secrets.
    tracing::debug!(target: "rotui_sandbox::apiserver", "{method} {} -> {}", uri.path(), response.status());
    response
}

/// Parse `[watch/][namespaces/NS/]PLURAL[/NAME[/SUB]]`.
fn target(group: &str, version: &str, rest: &[&str]) -> Option<Addressed> {
    let (watch_path, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..] if tail.len() <= 2 => {
            (Some(ns.to_string()), *plural, tail.first(), tail.get(1))
        }
        [plural, tail @ ..] if tail.len() <= 2 => (None, *plural, tail.first(), tail.get(1)),
        _ => return None,
    };
    let res = resources::find(group, version, plural)?;
    let rt = &RESOURCES[res];
    if namespace.is_some() && !rt.namespaced {
        return None;
    }
    if namespace.is_none() && rt.namespaced && name.is_some() {
        return None;
    }
    Some(Addressed {
        res,
        version: version.to_string(),
        namespace,
        name: name.map(|s| s.to_string()),
        subresource: sub.map(|s| s.to_string()),
        watch_path,
    })
}

async fn resource_request(
    app: &Arc<App>,
    method: &Method,
    headers: &HeaderMap,
    q: &Query,
    t: Addressed,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    body: &[u8],
) -> Result<Response, ApiError> {
    let rt = &RESOURCES[t.res];
    match (t.subresource.as_deref(), rt.kind) {
        (None, _) => {}
        (Some("status"), _) if rt.status_subresource => {}
        (Some("exec"), "Pod") => return exec::handle(app, t, q, ws).await,
        (Some("portforward"), "Pod") => return portforward::handle(app, t, q, ws).await,
        _ => return Err(not_found()),
    }
    let cx = Cx {
        app,
        t: &t,
        q,
        headers,
        body,
        wants_table: table::wants_table(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())),
    };
    match t.name.as_deref() {
        None => collection(&cx, method),
        Some(name) => object(&cx, method, name),
    }
}

/// What the verb handlers need from a request.
struct Cx<'a> {
    app: &'a Arc<App>,
    t: &'a Addressed,
    q: &'a Query,
    headers: &'a HeaderMap,
    body: &'a [u8],
    wants_table: bool,
}

impl Cx<'_> {
    /// `?dryRun=All` (or, for deletes, `dryRun: ["All"]` in the
    /// DeleteOptions body): check and answer, but change nothing.
    fn dry_run(&self) -> bool {
        // No object has a top-level `dryRun`, so only DeleteOptions match.
        let in_body = || {
            serde_json::from_slice::<Value>(self.body)
                .ok()
                .and_then(|b| b["dryRun"].as_array().map(|a| a.iter().any(|v| v == "All")))
                .unwrap_or(false)
        };
        self.q.all("dryRun").iter().any(|v| v == "All") || in_body()
    }

    /// An object as seen through the URL's API version.
    fn present(&self, mut obj: Value) -> Value {
        obj["apiVersion"] = json!(self.t.api_version());
        obj
    }
}

/// list, watch, create, deletecollection
fn collection(cx: &Cx, method: &Method) -> Result<Response, ApiError> {
    let (app, t, q, body, wants_table) = (cx.app, cx.t, cx.q, cx.body, cx.wants_table);
    let (rt, store, ns) = (&RESOURCES[t.res], &app.store, t.namespace.as_deref());
    let present = |o| cx.present(o);
    match *method {
        Method::GET => {
            let selector = Selector::parse(q.get("labelSelector"), q.get("fieldSelector"))?;
            if t.watch_path || q.flag("watch") {
                store.authorize("watch", rt, None, ns, None)?;
                return watch::respond(app.clone(), watch_request(t, selector, q, wants_table));
            }
            store.authorize("list", rt, None, ns, None)?;
            let (items, rv) = store.list_in(t.res, ns, &selector);
            if wants_table {
                return Ok(json_response(200, &table::table(rt, &items, Some(rv))));
            }
            let items: Vec<Value> = items.into_iter().map(present).collect();
            Ok(json_response(
                200,
                &json!({
                    "kind": format!("{}List", rt.kind), "apiVersion": t.api_version(),
                    "metadata": {"resourceVersion": rv.to_string()}, "items": items,
                }),
            ))
        }
        Method::POST => {
            store.authorize("create", rt, None, ns, None)?;
            let obj = parse_json(body)?;
            let created = store.create_in(t.res, ns, obj, cx.dry_run())?;
            Ok(json_response(201, &present(created)))
        }
        Method::DELETE => {
            store.authorize("deletecollection", rt, None, ns, None)?;
            let selector = Selector::parse(q.get("labelSelector"), q.get("fieldSelector"))?;
            let (items, _) = store.list_in(t.res, ns, &selector);
            let mut deleted = vec![];
            for o in items {
                let (n, name) = (
                    o["metadata"]["namespace"].as_str(),
                    o["metadata"]["name"].as_str().unwrap_or(""),
                );
                if let Ok(d) = store.delete_in(t.res, n, name, cx.dry_run()) {
                    deleted.push(present(d));
                }
            }
            Ok(json_response(
                200,
                &json!({"kind": format!("{}List", rt.kind), "apiVersion": t.api_version(), "metadata": {}, "items": deleted}),
            ))
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on a collection"),
        )),
    }
}

/// get, watch, replace, patch, delete of one object (or its status)
fn object(cx: &Cx, method: &Method, name: &str) -> Result<Response, ApiError> {
    let (app, t, q, body, wants_table, headers) = (cx.app, cx.t, cx.q, cx.body, cx.wants_table, cx.headers);
    let (rt, store, ns) = (&RESOURCES[t.res], &app.store, t.namespace.as_deref());
    let present = |o| cx.present(o);
    let name = name.to_string();
    let sub = t.subresource.as_deref();
    let status = sub == Some("status");
    let verb_sub = if status { Some("status") } else { None };
    match *method {
        Method::GET if t.watch_path => {
            store.authorize("watch", rt, None, ns, Some(&name))?;
            let selector = Selector::parse(None, Some(&format!("metadata.name={name}")))?;
            watch::respond(app.clone(), watch_request(t, selector, q, wants_table))
        }
        Method::GET => {
            store.authorize("get", rt, verb_sub, ns, Some(&name))?;
            let obj = store.get_in(t.res, ns, &name)?;
            if wants_table && !status {
                return Ok(json_response(200, &table::table(rt, &[obj], None)));
            }
            Ok(json_response(200, &present(obj)))
        }
        Method::PUT => {
            store.authorize("update", rt, verb_sub, ns, Some(&name))?;
            let obj = parse_json(body)?;
            let updated = store.update_in(t.res, ns, &name, status, cx.dry_run(), |_| Ok(obj))?;
            Ok(json_response(200, &present(updated)))
        }
        Method::PATCH => {
            store.authorize("patch", rt, verb_sub, ns, Some(&name))?;
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let ct = ct.split(';').next().unwrap_or("").trim();
            let patched = match ct {
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                    let patch = parse_json(body)?;
                    store.update_in(t.res, ns, &name, status, cx.dry_run(), |cur| {
                        let mut new = cur.clone();
                        super::patch::merge_patch(&mut new, &patch);
                        Ok(new)
                    })?
                }
                "application/json-patch+json" => {
                    let patch = parse_json(body)?;
                    store.update_in(t.res, ns, &name, status, cx.dry_run(), |cur| {
                        let mut new = cur.clone();
                        super::patch::json_patch(&mut new, &patch)?;
                        Ok(new)
                    })?
                }
                "application/apply-patch+yaml" => {
                    // Server-side apply, approximated: create, or merge the
                    // applied fields into the live object.
                    // The error names a position only: YAML errors can quote values.
                    let patch: Value = serde_saphyr::from_slice(body).map_err(|e| {
                        let at = e
                            .location()
                            .map(|l| format!(" at line {} column {}", l.line(), l.column()));
                        ApiError::bad_request(format!("error decoding YAML{}", at.unwrap_or_default()))
                    })?;
                    match store.update_in(t.res, ns, &name, status, cx.dry_run(), |cur| {
                        let mut new = cur.clone();
                        let mut patch = patch.clone();
                        if let Some(m) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
                            m.remove("resourceVersion");
                        }
                        super::patch::merge_patch(&mut new, &patch);
                        Ok(new)
                    }) {
                        Err(e) if e.code == 404 && !status => {
                            store.authorize("create", rt, None, ns, Some(&name))?;
                            let created = store.create_in(t.res, ns, patch, cx.dry_run())?;
                            return Ok(json_response(201, &present(created)));
                        }
                        other => other?,
                    }
                }
                other => {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        format!(
                            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})"
                        ),
                    ));
                }
            };
            Ok(json_response(200, &present(patched)))
        }
        Method::DELETE if !status => {
            store.authorize("delete", rt, None, ns, Some(&name))?;
            let deleted = store.delete_in(t.res, ns, &name, cx.dry_run())?;
            Ok(json_response(200, &present(deleted)))
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        )),
    }
}

fn watch_request(t: &Addressed, selector: Selector, q: &Query, table: bool) -> watch::WatchRequest {
    watch::WatchRequest {
        res: t.res,
        api_version: t.api_version(),
        namespace: t.namespace.clone(),
        selector,
        resource_version: q.get("resourceVersion").map(String::from),
        timeout: q.get("timeoutSeconds").and_then(|s| s.parse().ok()),
        send_initial_events: q.flag("sendInitialEvents"),
        table,
        allow_bookmarks: q.flag("allowWatchBookmarks"),
    }
}

/// For `pods/exec` and `pods/portforward`: authorize `create pods/<sub>` and
/// fetch the pod. Returns (namespace, name, pod).
pub fn pod_for(app: &App, t: &Addressed, sub: &str) -> Result<(String, String, Value), ApiError> {
    let rt = &RESOURCES[t.res];
    let ns = t.namespace.clone().unwrap_or_default();
    let name = t.name.clone().unwrap_or_default();
    app.store
        .authorize("create", rt, Some(sub), Some(&ns), Some(&name))?;
    let pod = app.store.get_in(t.res, Some(&ns), &name)?;
    Ok((ns, name, pod))
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}
