//! LocalSend discovery: JSON datagrams on a multicast group (224.0.0.167:53317 by default).
//!
//! * **Listening:** one socket on `0.0.0.0:53317`, shared with any LocalSend app on this
//!   computer (SO_REUSEADDR, and SO_REUSEPORT where it exists), joined to the group on every
//!   IPv4 interface in use.
//! * **Announcing:** from one socket per interface (multicast leaves by the interface it is
//!   sent on, so one socket would reach one network only), TTL 1: a burst at start (after 0.1,
//!   0.5 and 2 s, as LocalSend does), another when asked (refresh), and one every
//!   [`super::Timing::announce_interval`], at which point new interfaces are joined too.
//! * **Answering:** an announcement (`announce` true or missing) is answered with
//!   `POST /register` to the announcer's server — pinned to the fingerprint it announced, with
//!   our client certificate — and its reply lists it; when that fails, it is listed as announced
//!   and answered by datagram (`announce: false`), per the protocol. At most one answer per
//!   address a second and [`MAX_ANSWERING`] at once, so a flood of forged announcements cannot
//!   make us flood someone else.
//! * Our own datagrams come back (multicast loop) and are dropped by fingerprint, as are
//!   datagrams over [`MAX_DATAGRAM`] bytes or that do not parse.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use super::client::{Connection, Target, post_json, read_body};
use super::dto::{DeviceInfo, InfoResponse, Protocol};
use super::json;
use super::tls::Sha256Fingerprint;
use super::{Shared, peers};

/// Largest datagram looked at; announcements are a few hundred bytes.
pub const MAX_DATAGRAM: usize = 16 * 1024;
/// Registrations in flight at once, answering announcements.
pub const MAX_ANSWERING: usize = 16;
/// The start-up burst (and the refresh burst): delays after the start.
const BURST: [Duration; 3] = [Duration::from_millis(100), Duration::from_millis(500), Duration::from_secs(2)];

/// The listening socket and one sending socket per interface address.
pub struct Sockets {
    listen: UdpSocket,
    senders: Vec<(Ipv4Addr, UdpSocket)>,
}

impl Sockets {
    /// Binds and joins. Fails when there is no interface to use at all.
    pub fn open(shared: &Shared) -> io::Result<Sockets> {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(SockProtocol::UDP))?;
        socket.set_reuse_address(true)?;
        #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))))]
        socket.set_reuse_port(true)?;
        socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, shared.multicast.port)).into())?;
        socket.set_nonblocking(true)?;
        let mut sockets = Sockets { listen: UdpSocket::from_std(socket.into())?, senders: Vec::new() };
        sockets.add_interfaces(shared);
        if sockets.senders.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no network interface with an IPv4 address to use",
            ));
        }
        Ok(sockets)
    }

    /// Joins the group and opens a sending socket on every interface not in use yet.
    fn add_interfaces(&mut self, shared: &Shared) {
        let group = shared.multicast.group;
        for ip in interfaces(&shared.multicast.interfaces, shared.bind) {
            if self.senders.iter().any(|(i, _)| *i == ip) {
                continue;
            }
            if group.is_multicast()
                && socket2::SockRef::from(&self.listen).join_multicast_v4(&group, &ip).is_err()
            {
                continue;
            }
            if let Ok(s) = send_socket(ip, group) {
                self.senders.push((ip, s));
            }
        }
    }

    /// One datagram on every interface.
    async fn send_all(&self, shared: &Shared, announce: bool) {
        let Ok(payload) = serde_json::to_vec(&shared.device_info(Some(announce))) else { return };
        let to = SocketAddrV4::new(shared.multicast.group, shared.multicast.port);
        for (_, s) in &self.senders {
            // An interface that went away fails here; the others still work.
            let _ = s.send_to(&payload, to).await;
        }
    }
}

/// The IPv4 addresses of the interfaces to use: those named in `wanted` (by name or address),
/// or every non-loopback one. A specific `bind` address narrows it to that interface.
fn interfaces(wanted: &[String], bind: IpAddr) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| {
            let ip = match i.ip() {
                IpAddr::V4(ip) => ip,
                IpAddr::V6(_) => return None,
            };
            let chosen = if wanted.is_empty() {
                !i.is_loopback()
            } else {
                wanted.iter().any(|w| w.trim() == i.name || w.trim().parse::<Ipv4Addr>() == Ok(ip))
            };
            let bound = match bind {
                IpAddr::V4(b) if !b.is_unspecified() => b == ip,
                _ => true,
            };
            (chosen && bound).then_some(ip)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn send_socket(ip: Ipv4Addr, group: Ipv4Addr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(SockProtocol::UDP))?;
    socket.bind(&SocketAddr::from((ip, 0)).into())?;
    if group.is_multicast() {
        socket.set_multicast_if_v4(&ip)?;
        // The local network only.
        socket.set_multicast_ttl_v4(1)?;
        // Other LocalSend apps on this computer hear us too.
        socket.set_multicast_loop_v4(true)?;
    } else {
        // Tests on loopback use a broadcast address instead of the group.
        socket.set_broadcast(true)?;
    }
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Listens, announces and answers until shutdown.
pub async fn run(mut sockets: Sockets, shared: Arc<Shared>) {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let start = Instant::now();
    let mut due: VecDeque<Instant> = BURST.iter().map(|d| start + *d).collect();
    let mut periodic = start + shared.timing.announce_interval;
    let mut answered: HashMap<IpAddr, Instant> = HashMap::new();
    let answering = Arc::new(Semaphore::new(MAX_ANSWERING));
    // Answer tasks that could not register ask the loop for a datagram answer here.
    let (udp_tx, mut udp_rx) = mpsc::channel::<()>(MAX_ANSWERING);
    loop {
        let next = due.front().copied().unwrap_or(periodic).min(periodic);
        tokio::select! {
            _ = shared.stopping.wait() => return,
            _ = tokio::time::sleep_until(next) => {
                let now = Instant::now();
                while due.front().is_some_and(|t| *t <= now) {
                    due.pop_front();
                }
                if periodic <= now {
                    periodic = now + shared.timing.announce_interval;
                    sockets.add_interfaces(&shared);
                    answered.retain(|_, t| t.elapsed() < Duration::from_secs(60));
                }
                sockets.send_all(&shared, true).await;
            }
            _ = shared.announce_now.notified() => {
                let now = Instant::now();
                due = BURST.iter().map(|d| now + *d).collect();
            }
            Some(()) = udp_rx.recv() => sockets.send_all(&shared, false).await,
            received = sockets.listen.recv_from(&mut buf) => {
                let Ok((n, from)) = received else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                if n > MAX_DATAGRAM {
                    continue;
                }
                let Ok(info) = json::parse::<DeviceInfo>(&buf[..n]) else { continue };
                if info.fingerprint.eq_ignore_ascii_case(&shared.fingerprint) {
                    continue;
                }
                let ip = peers::canonical(from.ip());
                if !info.wants_answer() {
                    peers::seen(&shared, ip, &info, None);
                    continue;
                }
                if answered.get(&ip).is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                    continue;
                }
                let Ok(permit) = answering.clone().try_acquire_owned() else { continue };
                answered.insert(ip, Instant::now());
                let (shared, udp_tx) = (shared.clone(), udp_tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    answer(&shared, ip, info, &udp_tx).await;
                });
            }
        }
    }
}

/// Answers one announcement: `POST /register`, or a datagram when that fails.
async fn answer(shared: &Shared, ip: IpAddr, announced: DeviceInfo, udp: &mpsc::Sender<()>) {
    let target = Target {
        addr: SocketAddr::new(ip, announced.port),
        protocol: announced.protocol,
        pin: (announced.protocol == Protocol::Https)
            .then(|| Sha256Fingerprint::from_hex(&announced.fingerprint))
            .flatten(),
    };
    let timeout = shared.timing.connect_timeout;
    let registered = tokio::time::timeout(timeout * 2, async {
        let mut conn = Connection::open(&shared.identity, &target, timeout).await?;
        let body = serde_json::to_vec(&shared.device_info(None)).expect("device info serializes");
        let resp = conn.send(post_json("/api/localsend/v2/register", body)).await?;
        let (status, bytes) = read_body(resp, 64 * 1024).await?;
        Ok::<_, super::client::ClientError>((status, bytes, conn.proven))
    })
    .await;
    match registered {
        Ok(Ok((status, bytes, proven))) if status.is_success() => {
            let mut info = announced;
            // The reply is who the device says it is now; where it listens is as announced.
            if let Ok(reply) = json::parse::<InfoResponse>(&bytes) {
                info.alias = reply.alias;
                info.device_model = reply.device_model;
                info.device_type = reply.device_type;
                if proven.is_none() {
                    info.fingerprint = reply.fingerprint;
                }
            }
            peers::seen(shared, ip, &info, proven);
        }
        // Someone else answers at that address: the announcement is not to be believed.
        Ok(Err(super::client::ClientError::WrongDevice)) => {}
        _ => {
            peers::seen(shared, ip, &announced, None);
            let _ = udp.try_send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_used_only_when_named() {
        let all = interfaces(&[], IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert!(!all.contains(&Ipv4Addr::LOCALHOST));
        let lo = interfaces(&["127.0.0.1".to_owned()], IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(lo, vec![Ipv4Addr::LOCALHOST]);
        let by_name = interfaces(&["lo".to_owned()], IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert!(by_name.contains(&Ipv4Addr::LOCALHOST), "{by_name:?}");
        let bound_elsewhere = interfaces(&["lo".to_owned()], IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)));
        assert!(bound_elsewhere.is_empty());
    }
}
