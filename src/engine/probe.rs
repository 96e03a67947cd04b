//! Adding a peer by address: a direct HELLO (purpose "probe") confirms that Ferry runs there and
//! tells us its name, for networks where broadcast does not get through.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::{Event, Internal, Peer, PeerSource};
use crate::protocol::{HelloPurpose, Message, clean_display_name};
use crate::transfer::connection::split;
use crate::transfer::{Emit, Identity};

pub(super) struct ProbeCtx {
    pub me: Identity,
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
    let stream = TcpStream::connect_timeout(&addr, ctx.timeout)
        .map_err(|e| format!("Couldn't connect to {addr}: {e}. Is Ferry open on that device?"))?;
    let (mut reader, mut writer) = split(stream, ctx.timeout).map_err(|e| e.to_string())?;
    writer.send(&ctx.me.hello(HelloPurpose::Probe)).map_err(|e| format!("Couldn't talk to {addr}: {e}"))?;
    let deadline = Instant::now() + ctx.timeout;
    while Instant::now() < deadline && !ctx.stopping.load(Ordering::SeqCst) {
        match reader.first_message(super::super::transfer::connection::POLL) {
            Ok(None) => {}
            Ok(Some(Message::Hello(h))) => {
                writer.finish();
                let name = clean_display_name(&h.name).unwrap_or_else(|| addr.to_string());
                let port = if h.transfer_port == 0 { addr.port() } else { h.transfer_port };
                return Ok(Peer {
                    instance: h.instance,
                    name,
                    os: h.os,
                    addr: SocketAddr::new(addr.ip(), port),
                    source: PeerSource::Manual,
                    fingerprint: None,
                    trust: crate::events::Trust::New,
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
