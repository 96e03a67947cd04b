//! Ferry protocol version 2's transport: every connection is TLS 1.3, both sides prove their
//! device key, and the frames of version 1 run unchanged inside it.
//!
//! The profile (PROTOCOL.md §13 has the full text):
//!
//! * TLS 1.3 only; cipher suites AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305, chosen by the
//!   accepting side in that order ([`crate::identity::verify::crypto_provider`]).
//! * Both sides present their device certificate ([`DeviceIdentity`]); the accepting side
//!   requires one. Certificates are self-signed: what is checked is the handshake signature
//!   (possession of the key) and, when the caller pins one, the key itself
//!   ([`crate::identity::verify::PeerCertVerifier`]). No SNI, no host names.
//! * ALPN `ferry/2`, required; no session resumption, no early data: every connection proves
//!   both keys anew.
//!
//! [`TlsContext::connect`] and [`TlsContext::accept`] run the handshake with a deadline and hand
//! back a [`Secured`] connection: the two halves the framed reader and writer use
//! ([`TlsReader`], [`TlsWriter`]) and the peer's proven [`Fingerprint`].
//!
//! Three layers, each in its own file: `handshake` drives rustls' handshake over the socket;
//! `record` is TLS 1.3's record layer for the traffic that follows (sealing and opening records
//! in place, alerts, key updates), with rustls' key schedule behind it; [`halves`] are the
//! reader and writer with the timing rules the framed connection relies on.
//!
//! **Version 1 peers** speak plaintext frames. They are recognised from their first bytes and
//! never spoken to in plaintext beyond one refusal ([`older`]): a version-1 sender reaching
//! [`TlsContext::accept`] gets ERROR UnsupportedVersion in version 1's own framing, and a
//! version-2 sender whose handshake meets a version-1 receiver reports
//! [`ConnectError::OlderPeer`] — confirmed by a plaintext probe on a fresh connection when the
//! receiver merely hung up, so that a network failure is never mistaken for an old Ferry.

pub mod halves;
mod handshake;
mod older;
mod record;

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::{ResolvesClientCert, Resumption, UnbufferedClientConnection};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert, UnbufferedServerConnection};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, ClientConfig, ServerConfig};

use super::connection::POLL;
use crate::identity::verify::{PeerCertVerifier, crypto_provider, peer_fingerprint};
use crate::identity::{DeviceIdentity, Fingerprint};
use halves::Established;
pub use halves::{ReadHalf, TlsReader, TlsWriter, WriteHalf};
use handshake::{Unbuffered, Wire};
pub use older::{OLDER_PEER_TEXT, probe_hello, refuse_overloaded};

/// The ALPN protocol name of Ferry version 2. A later version offers its own name first.
pub const ALPN: &[u8] = b"ferry/2";

/// The TLS settings of this device, made once from its identity and shared by every connection.
#[derive(Clone)]
pub struct TlsContext {
    key: Arc<CertifiedKey>,
    fingerprint: Fingerprint,
    /// For connections without a pin; pinned ones get a config of their own.
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsContext").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

/// A connection whose handshake is done: both keys proven.
pub struct Secured {
    pub reader: TlsReader,
    pub writer: TlsWriter,
    /// The other side's key, as the handshake proved it.
    pub peer: Fingerprint,
    /// The cipher suite in use, for logs (`TLS13_AES_128_GCM_SHA256`).
    pub cipher_suite: String,
}

impl std::fmt::Debug for Secured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secured")
            .field("peer", &self.peer)
            .field("cipher_suite", &self.cipher_suite)
            .finish_non_exhaustive()
    }
}

/// Why connecting did not give a secured connection. `Display` is for people.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The other side speaks only plaintext version 1.
    #[error("The other computer runs an older Ferry. Update both to the latest version.")]
    OlderPeer,
    /// It speaks TLS but not `ferry/2` (a later version that no longer speaks 2).
    #[error(
        "The other computer runs a version of Ferry that cannot talk to this one. Update both to the latest version."
    )]
    NoCommonVersion,
    /// It refused the connection because it is handling too many (plaintext ERROR Overloaded).
    #[error("The other computer is too busy right now. Try again in a moment.")]
    Overloaded,
    /// The pin did not match: another key answered at that address.
    #[error("This is not the device you expected: it has a different key, so nothing was sent.")]
    NotTheExpectedKey { expected: Fingerprint },
    /// Its certificate did not parse or its handshake signature did not verify.
    #[error("The other computer could not prove which device it is, so nothing was sent.")]
    NotProven(rustls::Error),
    /// Some other TLS failure (an alert from the other side, a broken message).
    #[error("The secure connection to the other computer failed, so nothing was sent.")]
    Tls(rustls::Error),
    /// Something that is not Ferry answered.
    #[error("Something other than Ferry answered at that address.")]
    NotFerry,
    #[error("The other computer stopped responding. Nothing was sent.")]
    TimedOut,
    #[error("The connection was lost before anything was sent.")]
    Lost(io::Error),
}

/// Why an incoming connection did not become a secured one. Most need no word to the person;
/// [`AcceptError::OlderPeer`] is worth one ("… runs an older Ferry").
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// A version-1 Ferry said HELLO in plaintext; it was answered with ERROR UnsupportedVersion.
    /// `name` is its device name as it said it, cleaned for display.
    #[error("{} runs an older Ferry and could not connect. Update both to the latest version.",
        name.as_deref().unwrap_or("A computer"))]
    OlderPeer { name: Option<String>, version: u16 },
    /// A version-2 Ferry checking, in plaintext, whether this is a version-1 receiver (after a
    /// failed handshake); it was told this side speaks TLS.
    #[error("a plaintext probe from a newer Ferry was answered")]
    PlaintextProbe,
    /// TLS without the `ferry/2` protocol name, or no TLS and no Ferry frame.
    #[error("something that is not Ferry connected")]
    NotFerry,
    #[error("the secure connection failed: {0}")]
    Tls(rustls::Error),
    #[error("the other side sent nothing in time")]
    TimedOut,
    #[error("the connection was lost: {0}")]
    Lost(io::Error),
}

impl TlsContext {
    /// The TLS settings for `identity`. Fails only if its key cannot be used for signing.
    pub fn new(identity: &DeviceIdentity) -> Result<TlsContext, rustls::Error> {
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_der().to_vec()));
        let signer = crypto_provider().key_provider.load_private_key(der)?;
        let cert = CertificateDer::from(identity.cert_der().to_vec());
        let key = Arc::new(CertifiedKey::new(vec![cert], signer));

        let mut server = ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(Arc::new(PeerCertVerifier::any()))
            .with_cert_resolver(Arc::new(OwnKey(key.clone())));
        server.alpn_protocols = vec![ALPN.to_vec()];
        // Every connection proves both keys: no tickets, no resumption, no early data.
        server.session_storage = Arc::new(NoServerSessionStorage {});
        server.send_tls13_tickets = 0;
        // Ferry's order (AES-128-GCM first), whatever the other side prefers.
        server.ignore_client_order = true;
        // The halves do the record layer themselves with the traffic keys (see `record`).
        server.enable_secret_extraction = true;

        let client = client_config(&key, PeerCertVerifier::any())?;
        Ok(TlsContext { key, fingerprint: identity.fingerprint(), client, server: Arc::new(server) })
    }

    /// This device's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Runs the client side of the handshake on `tcp` within `timeout`. With `pin`, any other
    /// key fails the handshake itself. A version-1 receiver gives [`ConnectError::OlderPeer`].
    pub fn connect(
        &self,
        tcp: TcpStream,
        pin: Option<Fingerprint>,
        timeout: Duration,
    ) -> Result<Secured, ConnectError> {
        let deadline = Instant::now() + timeout;
        let peer_addr = tcp.peer_addr().map_err(ConnectError::Lost)?;
        let config = match pin {
            Some(fp) => client_config(&self.key, PeerCertVerifier::pinned(fp)).map_err(ConnectError::Tls)?,
            None => self.client.clone(),
        };
        // The name is not sent (no SNI) and not checked; an address is the honest one to give.
        let name = ServerName::IpAddress(peer_addr.ip().into());
        let mut conn = UnbufferedClientConnection::new(config, name).map_err(ConnectError::Tls)?;
        let _ = tcp.set_nodelay(true);
        let mut wire = Wire::new(&tcp, deadline, &[], true);
        if let Err(failure) = handshake::drive(&mut conn, &mut wire) {
            let seen = wire.seen.take().unwrap_or_default();
            return Err(older::classify_client_failure(failure, pin, &seen, &tcp, peer_addr, deadline));
        }
        if conn.alpn_protocol() != Some(ALPN) {
            return Err(ConnectError::NoCommonVersion);
        }
        let (plaintext, leftover, peer_closed) = wire.into_rest();
        secured(conn, plaintext, leftover, peer_closed, tcp).map_err(ConnectError::Lost)
    }

    /// Runs the server side of the handshake on `tcp` within `timeout`. A version-1 HELLO is
    /// answered in version 1's framing and gives [`AcceptError::OlderPeer`].
    pub fn accept(&self, tcp: TcpStream, timeout: Duration) -> Result<Secured, AcceptError> {
        let deadline = Instant::now() + timeout;
        let _ = tcp.set_nodelay(true);
        let first = match older::first_byte(&tcp, deadline) {
            Ok(b) => b,
            Err(e) if halves_timeout(&e) => return Err(AcceptError::TimedOut),
            Err(e) => return Err(AcceptError::Lost(e)),
        };
        if first != older::TLS_HANDSHAKE {
            return Err(older::answer_plaintext(first, tcp, deadline));
        }
        let mut conn = UnbufferedServerConnection::new(self.server.clone()).map_err(AcceptError::Tls)?;
        let mut wire = Wire::new(&tcp, deadline, &[first], false);
        match handshake::drive(&mut conn, &mut wire) {
            Ok(()) => {}
            Err(Failure::Tls(e)) => return Err(AcceptError::Tls(e)),
            Err(Failure::TimedOut) => return Err(AcceptError::TimedOut),
            Err(Failure::Eof) => return Err(AcceptError::Lost(io::ErrorKind::UnexpectedEof.into())),
            Err(Failure::Io(e)) => return Err(AcceptError::Lost(e)),
        }
        if conn.alpn_protocol() != Some(ALPN) {
            // A TLS client that is not Ferry (it offered no `ferry/2`).
            handshake::close(&mut conn, &mut wire);
            return Err(AcceptError::NotFerry);
        }
        let (plaintext, leftover, peer_closed) = wire.into_rest();
        secured(conn, plaintext, leftover, peer_closed, tcp).map_err(AcceptError::Lost)
    }
}

fn halves_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn client_config(
    key: &Arc<CertifiedKey>,
    verifier: PeerCertVerifier,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(OwnKey(key.clone())));
    config.enable_sni = false;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.resumption = Resumption::disabled();
    // The halves do the record layer themselves with the traffic keys (see `record`).
    config.enable_secret_extraction = true;
    Ok(Arc::new(config))
}

/// The halves of a connection whose handshake is over, and what it proved.
fn secured<C: Unbuffered>(
    conn: C,
    plaintext: Vec<u8>,
    ciphertext: Vec<u8>,
    peer_closed: bool,
    tcp: TcpStream,
) -> io::Result<Secured> {
    let peer = peer_fingerprint(conn.common())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "the other side showed no certificate"))?;
    let suite = conn
        .common()
        .negotiated_cipher_suite()
        .ok_or_else(|| io::Error::other("the handshake agreed no cipher suite"))?;
    let cipher_suite = format!("{:?}", suite.suite());
    let (secrets, kernel) = conn.into_kernel().map_err(io::Error::other)?;
    let established = Established { secrets, kernel, suite, plaintext, ciphertext, peer_closed };
    let (reader, writer) = halves::split(established, tcp, POLL, POLL)?;
    Ok(Secured { reader, writer, peer, cipher_suite })
}

/// This device's certificate and key, whatever the other side asks.
#[derive(Debug)]
struct OwnKey(Arc<CertifiedKey>);

impl ResolvesServerCert for OwnKey {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

impl ResolvesClientCert for OwnKey {
    fn resolve(&self, _: &[&[u8]], _: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// How a handshake failed, before it is put in words for the caller.
#[derive(Debug)]
pub(crate) enum Failure {
    Tls(rustls::Error),
    /// The other side closed the connection.
    Eof,
    Io(io::Error),
    TimedOut,
}

/// What is left until `deadline`, at least a millisecond; `None` once it has passed.
fn wait_left(deadline: Instant) -> Option<Duration> {
    let left = deadline.checked_duration_since(Instant::now())?;
    (!left.is_zero()).then(|| left.max(Duration::from_millis(1)))
}

impl ConnectError {
    /// The error for a certificate the verifier refused.
    fn from_verifier(e: rustls::Error, pin: Option<Fingerprint>) -> ConnectError {
        match (&e, pin) {
            (
                rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure),
                Some(fp),
            ) => ConnectError::NotTheExpectedKey { expected: fp },
            (
                rustls::Error::InvalidCertificate(_)
                | rustls::Error::PeerMisbehaved(_)
                | rustls::Error::NoCertificatesPresented,
                _,
            ) => ConnectError::NotProven(e),
            (rustls::Error::NoApplicationProtocol, _)
            | (rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol), _) => {
                ConnectError::NoCommonVersion
            }
            _ => ConnectError::Tls(e),
        }
    }
}

/// Writes all of `bytes` to `tcp` before `deadline` (plaintext refusals only).
fn write_all_by(mut tcp: &TcpStream, bytes: &[u8], deadline: Instant) -> io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let left = wait_left(deadline).ok_or(io::ErrorKind::TimedOut)?;
        tcp.set_write_timeout(Some(left))?;
        match tcp.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
