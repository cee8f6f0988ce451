//! MySQL through rotui's TLS end. MySQL starts TLS inside its own
//! handshake, so this end takes part in it, per connection:
//!
//! 1. the server's greeting goes to sqlx with `CLIENT_SSL` cleared (sqlx is
//!    told `ssl_mode=Disabled`, and sees a server without TLS);
//! 2. sqlx's HandshakeResponse41 gives the capabilities for the server's
//!    SSLRequest; then the rustls handshake, verified against the CA bundle
//!    and the RDS name;
//! 3. sqlx's HandshakeResponse goes to the server over TLS, `CLIENT_SSL` set;
//! 4. the authentication exchange is relayed packet by packet, each side's
//!    sequence ids renumbered (the server counted the SSLRequest, sqlx did
//!    not), until the server's OK or ERR; then bytes flow unchanged, as
//!    every command restarts the sequence at 0.
//!
//! caching_sha2_password's full authentication: over TLS the server wants
//! the cleartext password, but sqlx, believing the link plaintext, asks for
//! the server's RSA key. This end answers with its own key (made as the
//! relay starts, never stored), decrypts sqlx's reply, undoes sqlx's XOR
//! with the scramble and sends the password to the server over TLS. The
//! password lives in memory only, zeroed after use, and is never logged.
//! (mysql_native_password needs nothing: its scramble is all it sends.
//! sha256_password, deprecated, is not relayed.)

use std::io;

use rsa::{Oaep, PrivateKey};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use zeroize::Zeroizing;

use super::Dial;

const CLIENT_SSL: u32 = 0x0800;
const CLIENT_PROTOCOL_41: u32 = 0x0200;
/// The greeting's protocol version (HandshakeV10).
const HANDSHAKE_V10: u8 = 0x0a;
const OK: u8 = 0x00;
const ERR: u8 = 0xff;
const AUTH_SWITCH: u8 = 0xfe;
const AUTH_MORE_DATA: u8 = 0x01;
/// caching_sha2_password's "fast auth success" and "perform full authentication".
const FAST_AUTH_OK: [u8; 2] = [AUTH_MORE_DATA, 0x03];
const FULL_AUTH: [u8; 2] = [AUTH_MORE_DATA, 0x04];
/// caching_sha2_password's client request for the server's RSA key.
const REQUEST_PUBLIC_KEY: [u8; 1] = [0x02];

/// The relay's RSA key for caching_sha2_password's full authentication,
/// and its public half as the server would send it (PEM, SPKI).
pub struct RelayKey {
    private: PrivateKey,
    public_pem: String,
}

impl RelayKey {
    /// A fresh key (CPU-bound: call it off the async threads).
    pub fn generate() -> io::Result<RelayKey> {
        use rsa::Generate;
        use rsa::pkcs8::EncodePublicKey;
        let private = PrivateKey::try_generate().map_err(|e| io::Error::other(format!("RSA key: {e}")))?;
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| io::Error::other(format!("RSA key: {e}")))?;
        Ok(RelayKey { private, public_pem })
    }
}

async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<(u8, Vec<u8>)> {
    let mut header = [0u8; 4];
    r.read_exact(&mut header).await?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok((header[3], payload))
}

async fn write_packet<W: AsyncWrite + Unpin>(w: &mut W, seq: u8, payload: &[u8]) -> io::Result<()> {
    // Handshake packets are small; a payload of 16 MiB would need splitting.
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| *l < 0x00ff_ffff)
        .ok_or_else(|| io::Error::other("handshake packet too large"))?;
    let [a, b, c, _] = len.to_le_bytes();
    w.write_all(&[a, b, c, seq]).await?;
    w.write_all(payload).await?;
    w.flush().await
}

/// What the relay needs from the server's greeting.
struct Greeting {
    /// Where the lower two bytes of the capability flags are.
    capabilities_at: usize,
    capabilities: u32,
    charset: u8,
    /// The 20-byte nonce sqlx XORs the password with.
    scramble: Vec<u8>,
}

fn protocol(what: &str) -> io::Error {
    io::Error::other(format!("unexpected MySQL handshake: {what}"))
}

fn parse_greeting(p: &[u8]) -> io::Result<Greeting> {
    if p.first() != Some(&HANDSHAKE_V10) {
        return Err(protocol("not a HandshakeV10 greeting"));
    }
    let version_end = p[1..]
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| protocol("greeting"))?
        + 1;
    // NUL, connection id (4), scramble part 1 (8), filler (1)
    let part1_at = version_end + 1 + 4;
    let capabilities_at = part1_at + 8 + 1;
    // charset (1), status (2), upper capabilities (2), scramble length (1), reserved (10)
    let part2_at = capabilities_at + 2 + 1 + 2 + 2 + 1 + 10;
    if p.len() < part2_at + 12 {
        return Err(protocol("greeting too short"));
    }
    let lower = u16::from_le_bytes([p[capabilities_at], p[capabilities_at + 1]]);
    let upper = u16::from_le_bytes([p[capabilities_at + 5], p[capabilities_at + 6]]);
    let mut scramble = p[part1_at..part1_at + 8].to_vec();
    scramble.extend_from_slice(&p[part2_at..part2_at + 12]);
    Ok(Greeting {
        capabilities_at,
        capabilities: u32::from(lower) | (u32::from(upper) << 16),
        charset: p[capabilities_at + 2],
        scramble,
    })
}

/// The SSLRequest: the client's capabilities with `CLIENT_SSL`, its max
/// packet size and charset, 23 zero bytes.
fn ssl_request(capabilities: u32, max_packet: [u8; 4], charset: u8) -> Vec<u8> {
    let mut p = Vec::with_capacity(32);
    p.extend_from_slice(&(capabilities | CLIENT_SSL).to_le_bytes());
    p.extend_from_slice(&max_packet);
    p.push(charset);
    p.extend_from_slice(&[0u8; 23]);
    p
}

/// The greeting, checked to offer TLS. sqlx's words for a server without
/// it, so `TlsMode::explain` tells it as a refusal.
async fn greeting(tcp: &mut TcpStream) -> io::Result<(Vec<u8>, Greeting)> {
    let (_, payload) = read_packet(tcp).await?;
    if payload.first() == Some(&ERR) {
        let text = String::from_utf8_lossy(payload.get(3..).unwrap_or_default()).into_owned();
        return Err(io::Error::other(format!(
            "the server refused the connection: {text}"
        )));
    }
    let greeting = parse_greeting(&payload)?;
    if greeting.capabilities & CLIENT_SSL == 0 {
        return Err(io::Error::other("server does not support TLS"));
    }
    Ok((payload, greeting))
}

/// One verified handshake and nothing more, as the relay starts: a wrong
/// bundle or name is refused before anything logs in.
pub async fn probe(dial: &Dial) -> io::Result<TlsStream<TcpStream>> {
    let mut tcp = TcpStream::connect(dial.upstream).await?;
    let (_, g) = greeting(&mut tcp).await?;
    let capabilities = g.capabilities & (CLIENT_PROTOCOL_41 | 0x8000 | 0x0008_0000);
    let request = ssl_request(capabilities, 0x0100_0000u32.to_le_bytes(), g.charset);
    write_packet(&mut tcp, 1, &request).await?;
    dial.connector.connect(dial.server_name.clone(), tcp).await
}

/// One connection of sqlx's, through to the server over verified TLS.
pub async fn relay(mut client: TcpStream, dial: &Dial, key: &RelayKey) -> io::Result<()> {
    let mut tcp = TcpStream::connect(dial.upstream).await?;
    let (mut greeting_packet, g) = greeting(&mut tcp).await?;
    let cleared = g.capabilities & !CLIENT_SSL;
    greeting_packet[g.capabilities_at..g.capabilities_at + 2]
        .copy_from_slice(&(cleared as u16).to_le_bytes());
    write_packet(&mut client, 0, &greeting_packet).await?;

    let (_, mut response) = read_packet(&mut client).await?;
    if response.len() < 32 {
        return Err(protocol("HandshakeResponse41 too short"));
    }
    let client_caps = u32::from_le_bytes([response[0], response[1], response[2], response[3]]);
    if client_caps & CLIENT_PROTOCOL_41 == 0 {
        return Err(protocol("the client does not speak protocol 4.1"));
    }
    let max_packet = [response[4], response[5], response[6], response[7]];
    write_packet(&mut tcp, 1, &ssl_request(client_caps, max_packet, response[8])).await?;
    let mut tls = dial.connector.connect(dial.server_name.clone(), tcp).await?;
    response[..4].copy_from_slice(&(client_caps | CLIENT_SSL).to_le_bytes());
    write_packet(&mut tls, 2, &response).await?;
    drop(response);

    authenticate(&mut client, &mut tls, g.scramble, key).await?;
    tokio::io::copy_bidirectional(&mut client, &mut tls).await?;
    Ok(())
}

/// The authentication exchange, each side numbered as it expects: sqlx
/// saw one packet fewer (no SSLRequest), and the relay's own answer to
/// sqlx's key request is one the server never sees.
async fn authenticate<C, S>(
    client: &mut C,
    server: &mut S,
    mut scramble: Vec<u8>,
    key: &RelayKey,
) -> io::Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    // sqlx sent its HandshakeResponse as 1; the server numbers on from
    // the SSLRequest (1) and the response over TLS (2).
    let mut to_client: u8 = 2;
    loop {
        let (server_seq, packet) = read_packet(server).await?;
        write_packet(client, to_client, &packet).await?;
        match packet.first() {
            Some(&OK) | Some(&ERR) => return Ok(()),
            // Nothing to answer: the server's OK follows.
            _ if packet == FAST_AUTH_OK => {
                to_client = to_client.wrapping_add(1);
                continue;
            }
            Some(&AUTH_SWITCH) => {
                // A new nonce for the new plugin: name NUL, 20 bytes, NUL.
                let data_at = packet[1..]
                    .iter()
                    .position(|b| *b == 0)
                    .map_or(packet.len(), |n| n + 2);
                let data = &packet[data_at.min(packet.len())..];
                scramble = data.strip_suffix(&[0]).unwrap_or(data).to_vec();
            }
            _ => {}
        }
        let (client_seq, answer) = read_packet(client).await?;
        let to_server = server_seq.wrapping_add(1);
        if packet == FULL_AUTH && answer == REQUEST_PUBLIC_KEY {
            let mut reply = vec![AUTH_MORE_DATA];
            reply.extend_from_slice(key.public_pem.as_bytes());
            write_packet(client, client_seq.wrapping_add(1), &reply).await?;
            let (client_seq, encrypted) = read_packet(client).await?;
            let password = cleartext_password(&encrypted, &scramble, key)?;
            write_packet(server, to_server, &password).await?;
            to_client = client_seq.wrapping_add(1);
        } else {
            write_packet(server, to_server, &answer).await?;
            to_client = client_seq.wrapping_add(1);
        }
    }
}

/// sqlx's RSA-OAEP(SHA-1) reply, decrypted and un-XORed: the password and
/// its NUL, as the server takes it over TLS.
fn cleartext_password(encrypted: &[u8], scramble: &[u8], key: &RelayKey) -> io::Result<Zeroizing<Vec<u8>>> {
    if scramble.is_empty() {
        return Err(protocol("no scramble to undo"));
    }
    let mut password = Zeroizing::new(
        key.private
            .decrypt(Oaep::<sha1::Sha1>::new(), encrypted)
            .map_err(|_| protocol("the client's encrypted password does not decrypt"))?,
    );
    for (i, b) in password.iter_mut().enumerate() {
        *b ^= scramble[i % scramble.len()];
    }
    if password.last() != Some(&0) {
        return Err(protocol("the client's password is not NUL-terminated"));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_request_carries_the_clients_capabilities_with_tls() {
        let p = ssl_request(0x000f_a20d, [0, 0, 0, 1], 45);
        assert_eq!(p.len(), 32);
        assert_eq!(u32::from_le_bytes([p[0], p[1], p[2], p[3]]), 0x000f_aa0d);
        assert_eq!(&p[4..9], &[0, 0, 0, 1, 45]);
        assert!(p[9..].iter().all(|b| *b == 0));
    }

    /// The operating system's randomness (through `rand`), as the `rsa`
    /// crate's RNG traits want it: sqlx's side of the exchange encrypts.
    struct OsRng;
    impl rsa::rand_core::TryRng for OsRng {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(rand::random())
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(rand::random())
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            rand::fill(dst);
            Ok(())
        }
    }
    impl rsa::rand_core::TryCryptoRng for OsRng {}

    /// An auth switch (a new nonce), then the full path: each side sees its
    /// own numbering, sqlx gets the relay's key, and the server gets the
    /// password in clear (it is on TLS there) — un-XORed with the switch's
    /// nonce, not the greeting's.
    #[tokio::test]
    async fn the_full_path_renumbers_and_hands_the_server_the_password() {
        use rsa::pkcs8::DecodePublicKey;
        let key = RelayKey::generate().unwrap();
        let (mut relay_client, mut sqlx) = tokio::io::duplex(8192);
        let (mut relay_server, mut server) = tokio::io::duplex(8192);
        let greeting_nonce = vec![7u8; 20];
        let nonce: Vec<u8> = (1..=20).collect();
        let password = b"s3cret-pw";
        let script = async {
            let mut switch = vec![AUTH_SWITCH];
            switch.extend_from_slice(b"caching_sha2_password\0");
            switch.extend_from_slice(&nonce);
            switch.push(0);
            write_packet(&mut server, 3, &switch).await.unwrap();
            assert_eq!(read_packet(&mut sqlx).await.unwrap(), (2, switch));
            write_packet(&mut sqlx, 3, &[0xaa; 32]).await.unwrap();
            assert_eq!(read_packet(&mut server).await.unwrap(), (4, vec![0xaa; 32]));
            write_packet(&mut server, 5, &FULL_AUTH).await.unwrap();
            assert_eq!(read_packet(&mut sqlx).await.unwrap(), (4, FULL_AUTH.to_vec()));
            // As sqlx does over what it takes for plaintext.
            write_packet(&mut sqlx, 5, &REQUEST_PUBLIC_KEY).await.unwrap();
            let (seq, pem) = read_packet(&mut sqlx).await.unwrap();
            assert_eq!((seq, pem[0]), (6, AUTH_MORE_DATA));
            let public =
                rsa::PublicKey::from_public_key_pem(std::str::from_utf8(&pem[1..]).unwrap()).unwrap();
            let mut xored = [&password[..], &[0]].concat();
            for (i, b) in xored.iter_mut().enumerate() {
                *b ^= nonce[i % nonce.len()];
            }
            let encrypted = public
                .encrypt(&mut OsRng, Oaep::<sha1::Sha1>::new(), &xored)
                .unwrap();
            write_packet(&mut sqlx, 7, &encrypted).await.unwrap();
            assert_eq!(
                read_packet(&mut server).await.unwrap(),
                (6, [&password[..], &[0]].concat())
            );
            write_packet(&mut server, 7, &[OK, 0, 0, 2, 0, 0, 0])
                .await
                .unwrap();
            assert_eq!(read_packet(&mut sqlx).await.unwrap().0, 8);
        };
        let (relayed, ()) = tokio::join!(
            authenticate(&mut relay_client, &mut relay_server, greeting_nonce, &key),
            script
        );
        relayed.unwrap();
    }

    #[test]
    fn a_password_that_does_not_decrypt_is_refused_without_saying_it() {
        let key = RelayKey::generate().unwrap();
        let e = cleartext_password(&[0u8; 384], &[1; 20], &key).unwrap_err();
        assert!(e.to_string().contains("does not decrypt"), "{e}");
    }
}
