//! `pods/portforward` over WebSocket, in the channel protocol kube speaks:
//! port i of `?ports=` uses data channel 2i and error channel 2i+1; each
//! channel first carries the port (2 bytes, little endian), then data. The
//! pod runtime opens one TCP connection per port and we pump both ways.
//! (kubectl's own `port-forward` speaks SPDY, which this server doesn't.)

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::rest::{Addressed, App, Query};
use super::runtime::PodRuntime;
use super::status::ApiError;

/// v5's "close this channel" frame: `[255, channel]`.
const CLOSE: u8 = 255;

pub async fn handle(
    app: &Arc<App>,
    t: Addressed,
    q: &Query,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (ns, pod, _) = super::rest::pod_for(app, &t, "portforward")?;
    let ws = super::exec::upgrade(ws)?;
    let mut ports = vec![];
    for p in q.all("ports").iter().flat_map(|v| v.split(',')) {
        match p.trim().parse::<u16>() {
            Ok(port) if port > 0 => ports.push(port),
            _ => return Err(ApiError::bad_request(format!("invalid port {p:?}"))),
        }
    }
    if ports.is_empty() {
        return Err(ApiError::bad_request("at least 1 port must be specified"));
    }
    let runtime = app.runtime.clone();
    let shutdown = app.shutdown.clone();
    Ok(ws
        .protocols(super::exec::PROTOCOLS)
        .on_upgrade(move |socket| async move {
            tokio::select! {
                _ = session(socket, runtime, ns, pod, ports) => {}
                _ = shutdown.cancelled() => {}
            }
        }))
}

enum Out {
    Data(u8, Vec<u8>),
    Eof,
}

async fn session(
    mut socket: axum::extract::ws::WebSocket,
    runtime: Arc<dyn PodRuntime>,
    ns: String,
    pod: String,
    ports: Vec<u16>,
) {
    for (i, port) in ports.iter().enumerate() {
        let ch = 2 * i as u8;
        let p = port.to_le_bytes();
        for c in [ch, ch + 1] {
            if socket
                .send(Message::Binary(vec![c, p[0], p[1]].into()))
                .await
                .is_err()
            {
                return;
            }
        }
    }
    let (tx, mut rx) = mpsc::channel::<Out>(16);
    let mut writers: Vec<Option<OwnedWriteHalf>> = vec![];
    let mut readers = vec![];
    for (i, port) in ports.iter().enumerate() {
        match runtime.port_forward(&ns, &pod, *port).await {
            Ok(tcp) => {
                let (mut r, w) = tcp.into_split();
                writers.push(Some(w));
                let (tx, ch) = (tx.clone(), 2 * i as u8);
                readers.push(tokio::spawn(async move {
                    let mut buf = vec![0u8; 32 * 1024];
                    while let Ok(n @ 1..) = r.read(&mut buf).await {
                        if tx.send(Out::Data(ch, buf[..n].to_vec())).await.is_err() {
                            return;
                        }
                    }
                    let _ = tx.send(Out::Eof).await;
                }));
            }
            Err(e) => {
                writers.push(None);
                let msg = format!("error forwarding port {port} to pod {pod}: {e}");
                let mut frame = vec![2 * i as u8 + 1];
                frame.extend_from_slice(msg.as_bytes());
                if socket.send(Message::Binary(frame.into())).await.is_err() {
                    return;
                }
            }
        }
    }
    drop(tx);
    let mut open = readers.len();
    let mut client_closed = false;
    let (mut sink, mut stream) = socket.split();
    while open > 0 {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Binary(b))) if !b.is_empty() => {
                    let (ch, data) = (b[0], &b[1..]);
                    if ch == CLOSE {
                        // The client finished sending on a channel.
                        if let Some(Some(w)) = data.first().and_then(|c| writers.get_mut(*c as usize / 2)) {
                            let _ = w.shutdown().await;
                        }
                    } else if ch % 2 == 0
                        && let Some(Some(w)) = writers.get_mut(ch as usize / 2)
                        && w.write_all(data).await.is_err()
                    {
                        writers[ch as usize / 2] = None;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    client_closed = true;
                    break;
                }
                Some(Ok(_)) => {}
            },
            out = rx.recv() => match out {
                Some(Out::Data(ch, data)) => {
                    let mut frame = Vec::with_capacity(data.len() + 1);
                    frame.push(ch);
                    frame.extend_from_slice(&data);
                    if sink.send(Message::Binary(frame.into())).await.is_err() {
                        break;
                    }
                }
                Some(Out::Eof) => open -= 1,
                None => break,
            },
        }
    }
    for r in readers {
        r.abort();
    }
    if client_closed {
        // Flush the reply to the client's close frame.
        let _ = sink.close().await;
    } else if let Ok(socket) = sink.reunite(stream) {
        // Every pod side finished: end the session so the client's streams
        // see EOF.
        super::exec::close(socket).await;
    }
}
