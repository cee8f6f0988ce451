//! `pods/exec` over WebSocket, in the channel protocol kube and kubectl
//! speak (`v5.channel.k8s.io`, `v4.channel.k8s.io`): binary frames whose
//! first byte is the channel (1 stdout, 2 stderr, 3 status), then a
//! `Status` on channel 3 and a close, which kubectl waits for.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{
    CloseFrame, Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::response::Response;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::rest::{Addressed, App, Query};
use super::runtime::ExecOutput;
use super::status::ApiError;

/// Sub-protocols, preferred first.
pub const PROTOCOLS: [&str; 3] = ["v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io"];

const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;

/// How long after the upgrade the first frame may go. kubectl (client-go)
/// starts reading the socket before it registers its streams, and drops a
/// frame that comes first ("Unknown stream id 1, discarding message"), so
/// a command that ends at once would lose its output and exit code. A real
/// kubelet never wins that race: starting a process in a container takes
/// longer. This does the same for the sandbox's in-process commands.
const FIRST_FRAME_AFTER: Duration = Duration::from_millis(150);

pub async fn handle(
    app: &Arc<App>,
    t: Addressed,
    q: &Query,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (ns, pod_name, pod) = super::rest::pod_for(app, &t, "exec")?;
    let containers: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let container = match q.get("container") {
        Some(c) => c.to_string(),
        None => match containers.as_slice() {
            [only] => only.to_string(),
            [] => return Err(ApiError::bad_request(format!("pod {pod_name} has no containers"))),
            many => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    many.join(" ")
                )));
            }
        },
    };
    if !containers.contains(&container.as_str()) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {pod_name}"
        )));
    }
    if let Some(phase @ ("Succeeded" | "Failed")) = pod["status"]["phase"].as_str() {
        return Err(ApiError::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    let command = q.all("command");
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    let ws = upgrade(ws)?;
    let streams = Streams {
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
        tty: q.flag("tty"),
    };
    let running = app.runtime.exec(&ns, &pod_name, &container, command.clone());
    let shutdown = app.shutdown.clone();
    Ok(ws
        .protocols(PROTOCOLS)
        .on_upgrade(move |socket| session(socket, running, command, streams, shutdown)))
}

/// The WebSocket upgrade, if the client speaks one of our sub-protocols.
pub fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    let unsupported = || {
        ApiError::bad_request(format!(
            "this sandbox API server speaks only the WebSocket channel protocols ({}); \
             SPDY (e.g. kubectl port-forward) is not supported",
            PROTOCOLS.join(", ")
        ))
    };
    let ws = ws.map_err(|_| unsupported())?;
    let offered = ws
        .requested_protocols()
        .any(|p| PROTOCOLS.iter().any(|ours| p.as_bytes() == ours.as_bytes()));
    if offered { Ok(ws) } else { Err(unsupported()) }
}

#[derive(Clone, Copy)]
struct Streams {
    stdout: bool,
    stderr: bool,
    tty: bool,
}

async fn session(
    mut socket: WebSocket,
    running: BoxFuture<'static, Result<ExecOutput, String>>,
    command: Vec<String>,
    streams: Streams,
    shutdown: CancellationToken,
) {
    let upgraded = tokio::time::Instant::now();
    // Stdin and resize frames are read and dropped; a client that goes away
    // ends the session.
    let result = tokio::select! {
        r = running => Some(r),
        _ = until_closed(&mut socket) => None,
        _ = shutdown.cancelled() => None,
    };
    let Some(result) = result else {
        // Flush the reply to a client's close frame, or close on shutdown.
        let _ = futures::SinkExt::close(&mut socket).await;
        return;
    };
    tokio::time::sleep_until(upgraded + FIRST_FRAME_AFTER).await;
    let status = match result {
        Ok(out) => {
            let (mut stdout, stderr) = (out.stdout, out.stderr);
            let mut frames = vec![];
            if streams.tty {
                // A terminal merges both streams.
                stdout.extend_from_slice(&stderr);
            } else if streams.stderr && !stderr.is_empty() {
                frames.push((STDERR, stderr));
            }
            if streams.stdout && !stdout.is_empty() {
                frames.insert(0, (STDOUT, stdout));
            }
            for (ch, data) in frames {
                for chunk in data.chunks(32 * 1024) {
                    if send(&mut socket, ch, chunk).await.is_err() {
                        return;
                    }
                }
            }
            exit_status(&command, out.exit_code)
        }
        Err(message) => json!({
            "metadata": {}, "status": "Failure", "reason": "InternalError", "code": 500,
            "message": format!("Internal error occurred: {message}"),
        }),
    };
    let _ = send(
        &mut socket,
        STATUS,
        &serde_json::to_vec(&status).expect("JSON values serialize"),
    )
    .await;
    close(socket).await;
}

/// The Status the kubelet reports for a finished command.
fn exit_status(command: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            command.join(" ")
        ),
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

pub async fn send(socket: &mut WebSocket, channel: u8, data: &[u8]) -> Result<(), axum::Error> {
    let mut frame = Vec::with_capacity(data.len() + 1);
    frame.push(channel);
    frame.extend_from_slice(data);
    socket.send(Message::Binary(frame.into())).await
}

/// Resolve when the client closes or the connection drops.
async fn until_closed(socket: &mut WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if matches!(msg, Message::Close(_)) {
            return;
        }
    }
}

/// Close cleanly: send a close frame, then wait briefly for the client's.
pub async fn close(mut socket: WebSocket) {
    let frame = CloseFrame {
        code: 1000,
        reason: "".into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(2), until_closed(&mut socket)).await;
    }
}
