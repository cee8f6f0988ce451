//! `pods/exec` over WebSocket (to be written).
use std::sync::Arc;

use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::response::Response;

use super::rest::{App, Query, Target};
use super::status::ApiError;

pub async fn handle(
    _app: &Arc<App>,
    _t: Target,
    _q: &Query,
    _ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    Err(ApiError::new(
        501,
        "NotImplemented",
        "exec is not implemented yet",
    ))
}
