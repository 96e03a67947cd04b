//! Adding a peer by address: a TLS handshake and a direct HELLO (purpose "probe") confirm that
//! Ferry runs there, prove its key and tell us its name, for networks where broadcast does not
//! get through.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::{Event, Internal, Peer, PeerSource};
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

fn ask(ctx: &ProbeCtx, address: &str) -> Result<Peer, String> {
    let addr = resolve(address)?;
    let started = Instant::now();
    let stream = TcpStream::connect_timeout(&addr, ctx.timeout)
        .map_err(|e| format!("Couldn't connect to {addr}: {e}. Is Ferry open on that device?"))?;
    set_idle_limit(&stream, ctx.timeout);
    let left = ctx.timeout.saturating_sub(started.elapsed()).max(Duration::from_millis(1));
    let conn = ctx.tls.connect(stream, None, left).map_err(|e| match e {
        ConnectError::NotFerry => format!("{addr} answered, but it is not a Ferry device."),
        ConnectError::TimedOut => format!("{addr} did not answer in time."),
        other => format!("{addr}: {other}"),
    })?;
    let proven = conn.peer;
    let (mut reader, mut writer) = split_secured(conn, ctx.timeout).map_err(|e| e.to_string())?;
    writer.send(&ctx.me.hello(HelloPurpose::Probe)).map_err(|e| format!("Couldn't talk to {addr}: {e}"))?;
    let deadline = Instant::now() + ctx.timeout;
    while Instant::now() < deadline && !ctx.stopping.load(Ordering::SeqCst) {
        match reader.first_message(super::super::transfer::connection::POLL) {
            Ok(None) => {}
            Ok(Some(Message::Hello(h))) => {
                writer.finish();
                if sas::check_hello(&h, &proven.0).is_err() {
                    return Err(format!(
                        "{addr} answered, but failed the security check (its HELLO names another key)."
                    ));
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
            Ok(Some(_)) | Err(_) => return Err(format!("{addr} answered, but it is not a Ferry device.")),
        }
    }
    Err(format!("{addr} did not answer in time."))
}

/// `host:port`, or a bare host with Ferry's default port.
fn resolve(address: &str) -> Result<SocketAddr, String> {
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
        .map_err(|e| {
            format!("{address:?} is not an address Ferry can use ({e}). Write it like 192.168.1.20:53531.")
        })?
        .next()
        .ok_or_else(|| format!("{address:?} did not resolve to any address."))
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn addresses_with_and_without_port() {
        assert_eq!(resolve("127.0.0.1:9").unwrap().to_string(), "127.0.0.1:9");
        assert_eq!(resolve("127.0.0.1").unwrap().to_string(), "127.0.0.1:53531");
        assert_eq!(resolve("[::1]:7").unwrap().to_string(), "[::1]:7");
        assert_eq!(resolve("::1").unwrap().to_string(), "[::1]:53531");
        assert!(resolve("not an address at all:99999").is_err());
    }
}
