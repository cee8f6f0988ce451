//! Pod addresses. In a real cluster each pod has its own IP and a database's
//! connection list (MySQL's processlist host, PostgreSQL's client_addr)
//! names it. The sandbox gives each pod a loopback address of its own
//! (127.0.0.N, any of 127.0.0.0/8 works on Linux's `lo` without setup) and
//! makes its database connections come FROM it: the pod connects to a small
//! forwarder whose outgoing sockets are bound to the pod's address.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The next free pod address, process-wide (so two sandboxes in one test
/// process never share one): 127.0.0.2, 127.0.0.3, … then 127.0.1.0, …
pub(crate) fn next_pod_ip() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // 127.0.0.2 ..= 127.255.255.254, wrapping (never 127.0.0.1 nor broadcast).
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 0x00ff_fffd;
    Ipv4Addr::from(0x7f00_0002 + n)
}

/// Relays TCP connections made to [`Forwarder::addr`] to `target`, each
/// leaving from `from`. Dropping it closes every relayed connection.
pub(crate) struct Forwarder {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Forwarder {
    pub(crate) async fn start(from: Ipv4Addr, target_host: &str, target_port: u16) -> std::io::Result<Self> {
        let target = tokio::net::lookup_host((target_host, target_port))
            .await?
            .find(SocketAddr::is_ipv4)
            .ok_or_else(|| std::io::Error::other(format!("{target_host} has no IPv4 address")))?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            // Owned here: aborting the accept loop drops (aborts) every relay.
            let mut relays = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((inbound, _)) = accepted else { continue };
                        relays.spawn(relay(inbound, from, target));
                    }
                    Some(_) = relays.join_next(), if !relays.is_empty() => {}
                }
            }
        });
        Ok(Forwarder { addr, task })
    }

    /// Where the pod connects instead of the database.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(mut inbound: TcpStream, from: Ipv4Addr, target: SocketAddr) {
    let outbound = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((from, 0)))?;
        socket.connect(target).await
    };
    match outbound.await {
        Ok(mut out) => {
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
        }
        Err(e) => tracing::debug!(%from, %target, error = %e, "pod connection"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connections_leave_from_the_pod_address() {
        let server = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = server.local_addr().unwrap().port();
        let ip = next_pod_ip();
        assert!(ip.is_loopback() && ip != Ipv4Addr::LOCALHOST, "{ip}");
        assert_ne!(next_pod_ip(), ip);
        let fwd = Forwarder::start(ip, "127.0.0.1", port).await.unwrap();
        let mut client = TcpStream::connect(fwd.addr()).await.unwrap();
        let (mut accepted, peer) = server.accept().await.unwrap();
        assert_eq!(peer.ip(), std::net::IpAddr::V4(ip));
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        accepted.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        drop(fwd);
        // The relay is gone: the server sees the connection close.
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), accepted.read(&mut buf))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
}
