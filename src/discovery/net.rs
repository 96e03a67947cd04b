//! The UDP side of discovery: the two sockets, where broadcasts go, and the reader loop.
//!
//! Why two sockets: every node on a host must hear broadcasts on the shared port, so the
//! listening socket is bound to `0.0.0.0:port` with SO_REUSEADDR/SO_REUSEPORT. But a unicast
//! to a shared port reaches only *one* of the sockets sharing it, so replies could land in
//! another process. Everything we send therefore leaves from a second socket on a port only we
//! hold, and the unicast replies to our queries come back to it.
//!
//! **Bound to one address** (`--bind ADDR`, `FERRY_BIND`): both sockets keep to that address's
//! network. The sending socket binds ADDR itself. The listening socket cannot: on Linux, macOS
//! and the BSDs a socket bound to a unicast address hears no broadcasts at all, so it binds the
//! directed broadcast address of ADDR's subnet (`127.255.255.255` for `127.0.0.1/8`), which
//! hears exactly the broadcasts sent to that subnet — not those arriving on other interfaces,
//! and not 255.255.255.255 (every node sends to both, §3.2 of PROTOCOL.md). Windows delivers
//! broadcasts to a socket bound to the interface's own address, so there it binds ADDR.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};
use socket2::{Domain, Protocol, Socket, Type};

use crate::protocol::{Datagram, MAX_DATAGRAM};

/// How long a blocked read waits before it looks at the stop flag again. It bounds how late a
/// reader notices shutdown where the wake-up below does not work (not Linux); idle cost is five
/// wake-ups a second.
const READ_TIMEOUT: Duration = Duration::from_millis(200);

/// Pause after an unexpected read error, so a socket that keeps failing cannot spin a core.
const ERROR_PAUSE: Duration = Duration::from_millis(20);

/// A datagram that decoded, and where it came from.
pub(super) struct Received {
    pub datagram: Datagram,
    pub from: SocketAddr,
}

/// The socket every node on this host shares to hear broadcasts on `port`: for `bind` (0.0.0.0
/// or one address), see the module docs.
pub(super) fn listen_socket(bind: IpAddr, port: u16) -> io::Result<UdpSocket> {
    let address = listen_address(ipv4(bind)?)?;
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Both must be set before bind, or the second node on this host gets "address in use".
    socket.set_reuse_address(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))))]
    socket.set_reuse_port(true)?;
    // Room for a burst (a flood, or many nodes answering at once) while the reader catches up;
    // the system caps it at what it allows.
    let _ = socket.set_recv_buffer_size(1 << 20);
    socket.bind(&SocketAddr::from((address, port)).into())?;
    socket.set_read_timeout(Some(READ_TIMEOUT))?;
    Ok(socket.into())
}

/// What the listening socket binds for `bind` (module docs): 0.0.0.0 stays; one address becomes
/// its subnet's directed broadcast address (the address itself on Windows, and for a /31 or /32,
/// which have none).
pub(super) fn listen_address(bind: Ipv4Addr) -> io::Result<Ipv4Addr> {
    if bind.is_unspecified() || cfg!(windows) {
        return Ok(bind);
    }
    let interfaces = if_addrs::get_if_addrs()?;
    let on = |v4: &if_addrs::Ifv4Addr| {
        let mask = v4.netmask.to_bits();
        v4.ip == bind || (v4.ip.to_bits() & mask == bind.to_bits() & mask && bind.is_loopback())
    };
    // The interface that has the address (or, for 127.x.y.z, the loopback network it is on).
    let found = interfaces
        .iter()
        .filter_map(|i| match &i.addr {
            if_addrs::IfAddr::V4(v4) if on(v4) => Some(v4),
            _ => None,
        })
        .min_by_key(|v4| v4.ip != bind);
    let v4 = found.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("no network interface has the address {bind}"),
        )
    })?;
    Ok(directed_broadcast(v4.ip, v4.netmask).unwrap_or(bind))
}

/// Discovery is IPv4 only: an IPv4 address, the IPv6 unspecified address as 0.0.0.0, or an
/// IPv4-mapped one.
fn ipv4(bind: IpAddr) -> io::Result<Ipv4Addr> {
    match bind {
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(a) if a.is_unspecified() => Ok(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(a) => a.to_ipv4_mapped().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "discovery works over IPv4 only; bind an IPv4 address",
            )
        }),
    }
}

/// Our own socket, on a port nobody else holds: we send everything from it and replies to our
/// queries arrive on it.
pub(super) fn send_socket(bind: IpAddr) -> io::Result<UdpSocket> {
    let bind = ipv4(bind)?;
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Without it, sending to a broadcast address fails with "permission denied".
    socket.set_broadcast(true)?;
    socket.bind(&SocketAddr::from((bind, 0)).into())?;
    socket.set_read_timeout(Some(READ_TIMEOUT))?;
    Ok(socket.into())
}

/// Wakes a reader blocked in `recv_from` so shutdown need not wait for the read timeout. On
/// Linux, shutting down the read side of even an unconnected UDP socket does that (the call
/// reports "not connected" but still takes effect); elsewhere it is a harmless no-op and the
/// read timeout does the job.
pub(super) fn wake_reader(socket: &UdpSocket) {
    let _ = socket2::SockRef::from(socket).shutdown(std::net::Shutdown::Read);
}

/// Reads datagrams until `stop` is set or the receiving side of `out` is gone. Datagrams that
/// are too long or do not decode are dropped here, silently: anyone on the network can send
/// anything to these ports.
pub(super) fn read_loop(socket: Arc<UdpSocket>, stop: Arc<AtomicBool>, out: Sender<Received>) {
    // One byte more than the largest datagram we accept, so a longer one shows as too long
    // instead of being silently cut to a length that might decode.
    let mut buf = [0u8; MAX_DATAGRAM + 1];
    while !stop.load(Ordering::Relaxed) {
        match receive(&socket, &mut buf) {
            Ok(Some((len, from))) => {
                if len > MAX_DATAGRAM {
                    continue;
                }
                let Ok(datagram) = Datagram::decode(&buf[..len]) else { continue };
                match out.try_send(Received { datagram, from }) {
                    // The main loop is behind: drop this one, as a full socket buffer would.
                    Ok(()) | Err(TrySendError::Full(_)) => {}
                    Err(TrySendError::Disconnected(_)) => break,
                }
            }
            Ok(None) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if is_per_datagram_error(&e) => {}
            Err(_) => std::thread::sleep(ERROR_PAUSE),
        }
    }
}

/// Reads one datagram: its length (possibly `buf.len()` when it was longer) and its sender.
/// `None` when there was no sender address, which is how the wake-up of [`wake_reader`] shows.
///
/// The sender is peeked first and the bytes read after, instead of one `recv_from`, because
/// std's `recv_from` panics on the address-less answer a shut-down socket gives. Only this
/// thread reads the socket, so both calls see the same datagram.
fn receive(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
    let from = socket2::SockRef::from(socket).peek_sender()?.as_socket();
    // Read even without a sender, so an odd datagram cannot stay at the head of the queue.
    let len = socket.recv(buf)?;
    Ok(from.map(|from| (len, from)))
}

/// Errors that concern one datagram only, where the next read should follow at once.
fn is_per_datagram_error(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::Interrupted {
        return true;
    }
    // Windows reports an oversized datagram (WSAEMSGSIZE) and an ICMP "port unreachable" for
    // an earlier send (WSAECONNRESET) as read errors.
    #[cfg(windows)]
    if matches!(e.raw_os_error(), Some(10040 | 10054)) {
        return true;
    }
    false
}

/// Where announcements go when the configuration does not say: the directed broadcast address
/// of every up, non-loopback IPv4 interface, plus 255.255.255.255 (which the OS sends out of
/// one interface only, the one with the default route).
pub fn broadcast_targets(port: u16) -> Vec<SocketAddr> {
    let mut ips: Vec<Ipv4Addr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.is_oper_up() && !i.is_loopback() && !i.is_p2p())
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(v4) => directed_broadcast(v4.ip, v4.netmask),
            if_addrs::IfAddr::V6(_) => None,
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips.push(Ipv4Addr::BROADCAST);
    ips.into_iter().map(|ip| SocketAddr::new(IpAddr::V4(ip), port)).collect()
}

/// The directed broadcast address of a subnet (`ip | !netmask`). Computed rather than taken from
/// the interface: an address added without `brd` reports itself as its broadcast address. `None`
/// for /31 and /32, which have no broadcast address.
pub(super) fn directed_broadcast(ip: Ipv4Addr, netmask: Ipv4Addr) -> Option<Ipv4Addr> {
    if netmask.to_bits().count_ones() >= 31 {
        return None;
    }
    Some(Ipv4Addr::from_bits(ip.to_bits() | !netmask.to_bits()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directed_broadcast_is_the_host_part_all_ones() {
        let b = |ip: [u8; 4], mask: [u8; 4]| directed_broadcast(ip.into(), mask.into());
        assert_eq!(b([192, 168, 1, 37], [255, 255, 255, 0]), Some([192, 168, 1, 255].into()));
        assert_eq!(b([10, 1, 2, 3], [255, 0, 0, 0]), Some([10, 255, 255, 255].into()));
        assert_eq!(b([172, 16, 5, 9], [255, 255, 240, 0]), Some([172, 16, 15, 255].into()));
        assert_eq!(b([10, 0, 0, 5], [255, 255, 255, 252]), Some([10, 0, 0, 7].into()));
        assert_eq!(b([10, 0, 0, 5], [255, 255, 255, 254]), None);
        assert_eq!(b([10, 0, 0, 5], [255, 255, 255, 255]), None);
    }

    /// `--bind 127.0.0.1` listens on loopback's broadcast address only, so datagrams arriving on
    /// any other interface are never heard; no `--bind` listens everywhere.
    #[cfg(not(windows))]
    #[test]
    fn a_bound_node_listens_on_its_subnets_broadcast_address_only() {
        assert_eq!(listen_address(Ipv4Addr::UNSPECIFIED).unwrap(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(listen_address(Ipv4Addr::LOCALHOST).unwrap(), Ipv4Addr::new(127, 255, 255, 255));
        assert_eq!(listen_address(Ipv4Addr::new(127, 0, 0, 7)).unwrap(), Ipv4Addr::new(127, 255, 255, 255));
        let socket = listen_socket(Ipv4Addr::LOCALHOST.into(), 0).unwrap();
        assert_eq!(socket.local_addr().unwrap().ip(), IpAddr::from([127, 255, 255, 255]));
        // TEST-NET-3: no interface here has it.
        let err = listen_address(Ipv4Addr::new(203, 0, 113, 9)).unwrap_err();
        assert!(err.to_string().contains("no network interface has the address 203.0.113.9"), "{err}");
    }

    #[test]
    fn computed_targets_end_with_the_limited_broadcast_and_skip_loopback() {
        let targets = broadcast_targets(4242);
        assert_eq!(targets.last(), Some(&SocketAddr::from(([255, 255, 255, 255], 4242))));
        for t in &targets {
            assert_eq!(t.port(), 4242);
            let IpAddr::V4(ip) = t.ip() else { panic!("{t} is not IPv4") };
            assert!(!ip.is_loopback(), "{t} is a loopback target");
        }
        let mut unique = targets.clone();
        unique.dedup();
        assert_eq!(unique, targets);
    }
}
