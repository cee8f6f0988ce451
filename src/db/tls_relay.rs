//! rotui's own TLS end for a database reached through `--tunnel`.
//!
//! Through the tunnel the server is at 127.0.0.1, and sqlx checks a
//! certificate against the host it connects to, with no way to name
//! another. So this end does what libpq would: on each PostgreSQL
//! connection it sends the SSLRequest to the server (through the tunnel), expects `S`,
//! and does the rustls handshake verifying the certificate against the CA
//! bundle alone and the RDS name. sqlx then connects to this end's loopback
//! port with `sslmode=disable` (MySQL: `ssl_mode=Disabled`), and its plaintext crosses only this process
//! before being encrypted.
//!
//! MySQL starts TLS inside its own handshake (after the server's greeting,
//! with capability flags and sequence ids), so for it this end takes part
//! in that handshake: see [`mysql`].

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::tls::{Secured, TlsMode, read_bundle};
use super::{DbError, DbErrorKind, DbResult};
use crate::target::Engine;

mod mysql;

/// PostgreSQL's SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// How long the first handshake through the tunnel may take.
const FIRST_HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(15);

/// A loopback listener whose connections are TLS-verified streams to the server.
pub struct TlsRelay {
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl TlsRelay {
    /// Listen on 127.0.0.1; each connection goes to `upstream` (the
    /// tunnel's local end) as TLS verified against `ca` and `name`. One
    /// handshake is done here first, so a wrong bundle or name is refused
    /// now, in words, before anything logs in (let alone writes).
    pub async fn start(engine: Engine, upstream: SocketAddr, ca: &Path, name: &str) -> DbResult<TlsRelay> {
        let mode = TlsMode::VerifyFull(ca.to_path_buf());
        mode.check_bundle()?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_bundle(ca)? {
            roots.add(cert).map_err(|e| {
                DbError::new(
                    DbErrorKind::Refused,
                    format!(
                        "the CA bundle {} holds a certificate rustls refuses: {e}",
                        ca.display()
                    ),
                )
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| DbError::new(DbErrorKind::Other, e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = TlsConnector::from(Arc::new(config));
        let server_name = rustls_pki_types::ServerName::try_from(name.to_owned()).map_err(|_| {
            DbError::new(
                DbErrorKind::Refused,
                format!("{name} is not a name a certificate can be checked against"),
            )
        })?;
        let dial = Dial {
            upstream,
            connector,
            server_name,
        };
        // MySQL's full authentication needs the relay's own RSA key: made
        // beside the first handshake, off the async threads.
        let key = match engine {
            Engine::Mysql => Some(tokio::task::spawn_blocking(mysql::RelayKey::generate)),
            Engine::Postgres => None,
        };
        // The first handshake, in the open: its failure is the operator's answer.
        let first = tokio::time::timeout(FIRST_HANDSHAKE, dial.handshake(engine))
            .await
            .map_err(|_| {
                DbError::new(
                    DbErrorKind::Unreachable,
                    format!(
                        "no TLS answer from {name} through the tunnel within {} s",
                        FIRST_HANDSHAKE.as_secs()
                    ),
                )
            })?
            .map_err(|e| {
                let e = sqlx::Error::Io(e);
                mode.explain(&e, name)
                    .unwrap_or_else(|| DbError::from(e).context("through the tunnel"))
            })?;
        drop(first);
        let key = match key {
            Some(key) => Some(Arc::new(
                key.await
                    .map_err(|e| DbError::new(DbErrorKind::Other, e.to_string()))?
                    .map_err(|e| DbError::new(DbErrorKind::Other, e.to_string()))?,
            )),
            None => None,
        };
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| DbError::new(DbErrorKind::Other, format!("cannot listen on 127.0.0.1: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| DbError::new(DbErrorKind::Other, e.to_string()))?;
        let dial = Arc::new(dial);
        let task = tokio::spawn(async move {
            while let Ok((mut plain, _)) = listener.accept().await {
                let dial = dial.clone();
                let key = key.clone();
                tokio::spawn(async move {
                    let relayed = match &key {
                        Some(key) => mysql::relay(plain, &dial, key).await,
                        None => match dial.connect().await {
                            Ok(mut tls) => tokio::io::copy_bidirectional(&mut plain, &mut tls)
                                .await
                                .map(drop),
                            Err(e) => Err(e),
                        },
                    };
                    // sqlx sees the connection close; the first handshake
                    // already told the operator why. (No secret is in these
                    // errors: the relay's own words and the TLS stack's.)
                    if let Err(e) = relayed
                        && e.kind() != std::io::ErrorKind::UnexpectedEof
                        && e.kind() != std::io::ErrorKind::ConnectionReset
                    {
                        tracing::warn!(error = %e, "TLS through the tunnel failed");
                    }
                });
            }
        });
        Ok(TlsRelay { local, task })
    }

    /// Where sqlx connects (plaintext, loopback, this process).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Dial {
    upstream: SocketAddr,
    connector: TlsConnector,
    server_name: rustls_pki_types::ServerName<'static>,
}

impl Dial {
    /// A verified handshake as the engine starts TLS.
    async fn handshake(&self, engine: Engine) -> std::io::Result<TlsStream<TcpStream>> {
        match engine {
            Engine::Postgres => self.connect().await,
            Engine::Mysql => mysql::probe(self).await,
        }
    }

    /// PostgreSQL: SSLRequest, `S`, then the verified handshake.
    async fn connect(&self) -> std::io::Result<TlsStream<TcpStream>> {
        let mut tcp = TcpStream::connect(self.upstream).await?;
        tcp.write_all(&SSL_REQUEST).await?;
        let mut answer = [0u8; 1];
        tcp.read_exact(&mut answer).await?;
        if answer[0] != b'S' {
            // sqlx's words, so `TlsMode::explain` tells it as a refusal.
            return Err(std::io::Error::other("server does not support TLS"));
        }
        self.connector.connect(self.server_name.clone(), tcp).await
    }
}
