//! The table of peers heard from: pure bookkeeping, no sockets, no clock of its own.
//!
//! Every method takes "now" as an argument, so the table can be tested without waiting, and
//! every change that someone outside should hear about comes back as a [`DiscoveryEvent`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::DiscoveryEvent;
use crate::events::{Peer, PeerSource};
use crate::protocol::{InstanceId, Os};

pub(super) struct PeerTable {
    entries: HashMap<InstanceId, Entry>,
    /// Most peers kept; a flood of made-up instance ids must not grow memory (or the UI's list)
    /// without bound.
    cap: usize,
    /// A peer not heard from for this long is dropped.
    timeout: Duration,
    /// How long the address we know stays preferred while the same peer is also heard from
    /// another IP. A computer on Wi-Fi and Ethernet at once (or answering through two of our
    /// broadcast targets) would otherwise flip between two addresses on every announce.
    address_hold: Duration,
}

struct Entry {
    peer: Peer,
    /// Last datagram of any kind from this peer; drives expiry.
    last_seen: Instant,
    /// Last datagram that came from exactly `peer.addr`'s IP; drives `address_hold`.
    addr_heard: Instant,
}

impl PeerTable {
    pub(super) fn new(cap: usize, timeout: Duration, address_hold: Duration) -> Self {
        PeerTable { entries: HashMap::new(), cap, timeout, address_hold }
    }

    /// Notes that `instance` was heard from at `addr` (source IP + its transfer port). `name`
    /// must already be cleaned for display. Returns `Seen` for a new peer, `Updated` when its
    /// name, OS or address changed, and nothing for a plain "still here" or a new peer beyond
    /// the cap.
    pub(super) fn observe(
        &mut self,
        instance: InstanceId,
        name: String,
        os: Os,
        addr: SocketAddr,
        now: Instant,
    ) -> Option<DiscoveryEvent> {
        let Some(entry) = self.entries.get_mut(&instance) else {
            if self.entries.len() >= self.cap {
                return None;
            }
            let peer = Peer { instance, name, os, addr, source: PeerSource::Discovered };
            self.entries.insert(instance, Entry { peer: peer.clone(), last_seen: now, addr_heard: now });
            return Some(DiscoveryEvent::Seen(peer));
        };
        entry.last_seen = now;
        let mut changed = false;
        if addr.ip() == entry.peer.addr.ip() {
            entry.addr_heard = now;
            // Same computer, new transfer port: it restarted; the old port is dead, switch now.
            if addr.port() != entry.peer.addr.port() {
                entry.peer.addr = addr;
                changed = true;
            }
        } else if now.saturating_duration_since(entry.addr_heard) >= self.address_hold {
            // The old address has gone quiet: the peer moved (new network, new lease).
            entry.peer.addr = addr;
            entry.addr_heard = now;
            changed = true;
        }
        if entry.peer.name != name {
            entry.peer.name = name;
            changed = true;
        }
        if entry.peer.os != os {
            entry.peer.os = os;
            changed = true;
        }
        changed.then(|| DiscoveryEvent::Updated(entry.peer.clone()))
    }

    /// The peer said goodbye.
    pub(super) fn remove(&mut self, instance: InstanceId) -> Option<DiscoveryEvent> {
        self.entries.remove(&instance).map(|_| DiscoveryEvent::Lost(instance))
    }

    /// Drops every peer not heard from for the timeout.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<DiscoveryEvent> {
        let timeout = self.timeout;
        let mut lost = Vec::new();
        self.entries.retain(|&id, e| {
            let keep = now.saturating_duration_since(e.last_seen) < timeout;
            if !keep {
                lost.push(DiscoveryEvent::Lost(id));
            }
            keep
        });
        lost
    }

    /// When the next peer would expire, if nobody hears from it before.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.entries.values().map(|e| e.last_seen + self.timeout).min()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(6);
    const HOLD: Duration = Duration::from_secs(3);

    fn id(n: u8) -> InstanceId {
        InstanceId([n; 16])
    }

    fn addr(last: u8, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, last)), port)
    }

    fn table() -> PeerTable {
        PeerTable::new(256, TIMEOUT, HOLD)
    }

    fn name(ev: Option<DiscoveryEvent>) -> Option<String> {
        match ev {
            Some(DiscoveryEvent::Seen(p) | DiscoveryEvent::Updated(p)) => Some(p.name),
            _ => None,
        }
    }

    #[test]
    fn new_peer_is_seen_then_quiet_until_something_changes() {
        let mut t = table();
        let t0 = Instant::now();
        let ev = t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), t0);
        let Some(DiscoveryEvent::Seen(p)) = ev else { panic!("expected Seen, got {ev:?}") };
        assert_eq!(
            p,
            Peer {
                instance: id(1),
                name: "A".into(),
                os: Os::Linux,
                addr: addr(2, 9000),
                source: PeerSource::Discovered
            }
        );
        assert_eq!(t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), t0 + HOLD), None);

        let ev = t.observe(id(1), "B".into(), Os::Linux, addr(2, 9000), t0 + HOLD);
        assert!(matches!(&ev, Some(DiscoveryEvent::Updated(p)) if p.name == "B"), "{ev:?}");
        let ev = t.observe(id(1), "B".into(), Os::Windows, addr(2, 9000), t0 + HOLD);
        assert!(matches!(&ev, Some(DiscoveryEvent::Updated(p)) if p.os == Os::Windows), "{ev:?}");
        let ev = t.observe(id(1), "B".into(), Os::Windows, addr(2, 9001), t0 + HOLD);
        assert!(matches!(&ev, Some(DiscoveryEvent::Updated(p)) if p.addr == addr(2, 9001)), "{ev:?}");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_second_ip_takes_over_only_after_the_first_goes_quiet() {
        let mut t = table();
        let t0 = Instant::now();
        t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), t0);
        // Heard through another interface while the first address is still alive: keep it.
        let soon = t0 + Duration::from_millis(500);
        assert_eq!(t.observe(id(1), "A".into(), Os::Linux, addr(3, 9000), soon), None);
        assert_eq!(t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), soon), None);
        // Only the second address for longer than the hold: the peer moved.
        let ev = t.observe(id(1), "A".into(), Os::Linux, addr(3, 9000), soon + HOLD);
        assert!(matches!(&ev, Some(DiscoveryEvent::Updated(p)) if p.addr == addr(3, 9000)), "{ev:?}");
    }

    #[test]
    fn goodbye_and_timeout_remove_peers() {
        let mut t = table();
        let t0 = Instant::now();
        t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), t0);
        t.observe(id(2), "B".into(), Os::Linux, addr(3, 9000), t0 + Duration::from_secs(2));
        assert_eq!(t.remove(id(9)), None);
        assert_eq!(t.next_expiry(), Some(t0 + TIMEOUT));

        assert!(t.expire(t0 + TIMEOUT - Duration::from_millis(1)).is_empty());
        assert_eq!(t.expire(t0 + TIMEOUT), vec![DiscoveryEvent::Lost(id(1))]);
        assert_eq!(t.next_expiry(), Some(t0 + Duration::from_secs(2) + TIMEOUT));

        assert_eq!(t.remove(id(2)), Some(DiscoveryEvent::Lost(id(2))));
        assert_eq!(t.next_expiry(), None);
        // Heard again after leaving: a fresh sighting.
        let ev = t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), t0 + TIMEOUT * 2);
        assert!(matches!(ev, Some(DiscoveryEvent::Seen(_))));
    }

    #[test]
    fn hearing_a_peer_again_postpones_its_expiry() {
        let mut t = table();
        let t0 = Instant::now();
        t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), t0);
        t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), t0 + Duration::from_secs(4));
        assert!(t.expire(t0 + TIMEOUT).is_empty());
        assert_eq!(t.expire(t0 + Duration::from_secs(4) + TIMEOUT).len(), 1);
    }

    #[test]
    fn new_peers_beyond_the_cap_are_ignored_but_known_ones_still_update() {
        let mut t = PeerTable::new(3, TIMEOUT, HOLD);
        let t0 = Instant::now();
        for n in 0..3 {
            assert!(t.observe(id(n), "p".into(), Os::Linux, addr(n, 9000), t0).is_some());
        }
        assert_eq!(t.observe(id(7), "q".into(), Os::Linux, addr(7, 9000), t0), None);
        assert_eq!(t.len(), 3);
        assert_eq!(
            name(t.observe(id(1), "renamed".into(), Os::Linux, addr(1, 9000), t0)).as_deref(),
            Some("renamed")
        );
        // Room again once one leaves.
        t.remove(id(0));
        assert!(matches!(
            t.observe(id(7), "q".into(), Os::Linux, addr(7, 9000), t0),
            Some(DiscoveryEvent::Seen(_))
        ));
    }
}
