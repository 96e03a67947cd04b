//! Adding a peer by address: a TLS handshake and a direct HELLO (purpose "probe") confirm that
//! Ferry runs there, prove its key and tell us its name, for networks where broadcast does not
//! get through.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::{AddFailure, Event, Internal, Peer, PeerSource};
use crate::identity::known::KnownDevices;
use crate::protocol::{HelloPurpose, Message, clean_display_name, sas};
use crate::transfer::connection::{set_idle_limit, split_secured};
use crate::transfer::tls::{ConnectError, TlsContext};
use crate::transfer::{Emit, Identity};

pub(super) struct ProbeCtx {
    pub me: Identity,
    pub tls: TlsContext,
    pub known: Arc<Mutex<KnownDevices>>,
    pub timeout: Duration,
    pub stopping: Arc<AtomicBool>,
    pub emit: Emit,
    pub found: Sender<Internal>,
}

/// Asks `address` (`host:port`) who it is. A failure is reported as [`Event::PeerAddFailed`]
/// unless the address was only remembered from before (then silence: the device may be off).
pub(super) fn probe(ctx: &ProbeCtx, address: &str, remembered: bool) -> Option<Peer> {
    match ask(ctx, address) {
        Ok(peer) => Some(peer),
        Err(reason) => {
            if !remembered && !ctx.stopping.load(Ordering::SeqCst) {
                (ctx.emit)(Event::PeerAddFailed { address: address.to_owned(), reason });
            }
            None
        }
    }
}

fn ask(ctx: &ProbeCtx, address: &str) -> Result<Peer, AddFailure> {
    let addr = resolve(address)?;
    let started = Instant::now();
    let stream = TcpStream::connect_timeout(&addr, ctx.timeout)
        .map_err(|e| AddFailure::NoConnection { addr, detail: e.to_string() })?;
    set_idle_limit(&stream, ctx.timeout);
    let left = ctx.timeout.saturating_sub(started.elapsed()).max(Duration::from_millis(1));
    let conn = ctx.tls.connect(stream, None, left).map_err(|e| refused(addr, &e))?;
    let proven = conn.peer;
    let (mut reader, mut writer) =
        split_secured(conn, ctx.timeout).map_err(|e| AddFailure::Broken { detail: e.to_string() })?;
    writer
        .send(&ctx.me.hello(HelloPurpose::Probe))
        .map_err(|e| AddFailure::CantTalk { addr, detail: e.to_string() })?;
    let deadline = Instant::now() + ctx.timeout;
    while Instant::now() < deadline && !ctx.stopping.load(Ordering::SeqCst) {
        match reader.first_message(super::super::transfer::connection::POLL) {
            Ok(None) => {}
            Ok(Some(Message::Hello(h))) => {
                writer.finish();
                if sas::check_hello(&h, &proven.0).is_err() {
                    return Err(AddFailure::FailedSecurityCheck { addr });
                }
                let name = clean_display_name(&h.name).unwrap_or_else(|| addr.to_string());
                let port = if h.transfer_port == 0 { addr.port() } else { h.transfer_port };
                let trust = ctx.known.lock().expect("known devices").trust(&name, &proven);
                return Ok(Peer {
                    instance: h.instance,
                    name,
                    os: h.os,
                    addr: SocketAddr::new(addr.ip(), port),
                    source: PeerSource::Manual,
                    fingerprint: Some(proven),
                    trust,
                });
            }
            Ok(Some(_)) | Err(_) => return Err(AddFailure::NotFerry { addr }),
        }
    }
    Err(AddFailure::NoAnswer { addr })
}

/// Why the TLS handshake with `addr` did not work, as the person is told.
fn refused(addr: SocketAddr, e: &ConnectError) -> AddFailure {
    match e {
        ConnectError::NotFerry => AddFailure::NotFerry { addr },
        ConnectError::TimedOut => AddFailure::NoAnswer { addr },
        ConnectError::OlderPeer => AddFailure::OlderFerry { addr },
        ConnectError::NoCommonVersion => AddFailure::NoCommonVersion { addr },
        ConnectError::Overloaded => AddFailure::Busy { addr },
        ConnectError::NotTheExpectedKey { .. } => AddFailure::UnexpectedKey { addr },
        ConnectError::NotProven(_) => AddFailure::NotProven { addr },
        ConnectError::Tls(_) => AddFailure::SecureConnectionFailed { addr },
        ConnectError::Lost(_) => AddFailure::ConnectionLost { addr },
    }
}

/// `host:port`, or a bare host with Ferry's default port.
fn resolve(address: &str) -> Result<SocketAddr, AddFailure> {
    let address = address.trim();
    let with_port = if address.parse::<SocketAddr>().is_ok()
        || address.rsplit_once(':').is_some_and(|(h, p)| {
            !h.ends_with(':') && !h.is_empty() && p.parse::<u16>().is_ok() && !h.contains(':')
        }) {
        address.to_owned()
    } else if let Ok(ip) = address.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        SocketAddr::new(ip, crate::protocol::DEFAULT_TRANSFER_PORT).to_string()
    } else {
        format!("{address}:{}", crate::protocol::DEFAULT_TRANSFER_PORT)
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| AddFailure::NotAnAddress { address: address.to_owned(), detail: e.to_string() })?
        .next()
        .ok_or_else(|| AddFailure::Unresolved { address: address.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_with_and_without_port() {
        assert_eq!(resolve("127.0.0.1:9").unwrap().to_string(), "127.0.0.1:9");
        assert_eq!(resolve("127.0.0.1").unwrap().to_string(), "127.0.0.1:53531");
        assert_eq!(resolve("[::1]:7").unwrap().to_string(), "[::1]:7");
        assert_eq!(resolve("::1").unwrap().to_string(), "[::1]:53531");
        assert!(resolve("not an address at all:99999").is_err());
    }

    /// A failed handshake says what it always said: the address, then the TLS error's own
    /// sentence (or, for "not Ferry" and "no answer", the sentences the probe had for them).
    #[test]
    fn a_refused_handshake_says_what_it_always_said() {
        let addr: SocketAddr = "192.0.2.7:53531".parse().unwrap();
        let lost = || std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let errors = [
            ConnectError::OlderPeer,
            ConnectError::NoCommonVersion,
            ConnectError::Overloaded,
            ConnectError::NotTheExpectedKey { expected: crate::identity::Fingerprint([7; 32]) },
            ConnectError::NotProven(rustls::Error::DecryptError),
            ConnectError::Tls(rustls::Error::DecryptError),
            ConnectError::Lost(lost()),
        ];
        for e in errors {
            assert_eq!(refused(addr, &e).to_string(), format!("{addr}: {e}"), "{e:?}");
        }
        assert_eq!(
            refused(addr, &ConnectError::NotFerry).to_string(),
            format!("{addr} answered, but it is not a Ferry device.")
        );
        assert_eq!(
            refused(addr, &ConnectError::TimedOut).to_string(),
            format!("{addr} did not answer in time.")
        );
    }
}
