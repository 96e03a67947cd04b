//! The table of peers heard from: pure bookkeeping, no sockets, no clock of its own.
//!
//! Every method takes "now" as an argument, so the table can be tested without waiting, and
//! every change that someone outside should hear about comes back as a [`DiscoveryEvent`].
//!
//! **Room for new arrivals.** Anyone on the network can send datagrams with made-up instance
//! ids (and forged source addresses), so the table is shared out by source address:
//!
//! * one address holds at most `per_address` entries; new ids from an address that has its
//!   share are ignored (a flood from one computer shows at most that many devices);
//! * when the table is full, a new peer from an address that holds fewer entries than the
//!   fullest address, by at least two, takes the place of the entry heard from least recently
//!   among that fullest address's (a `Lost` for it, then the `Seen`). Otherwise it is ignored.
//!
//! So a real device with an address of its own is listed at once even while a flood from a few
//! addresses keeps the table full; to keep it out, a flood must come from as many forged
//! addresses as the table has entries, each re-sent within the peer timeout. (The "by two"
//! keeps two floods from trading places forever: every eviction makes the shares more even.)

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::DiscoveryEvent;
use crate::events::{Peer, PeerSource, Trust};
use crate::identity::Fingerprint;
use crate::protocol::{InstanceId, Os};

/// One datagram's worth of what a peer says about itself.
pub(super) struct Heard {
    pub instance: InstanceId,
    /// Already cleaned for display.
    pub name: String,
    pub os: Os,
    pub addr: SocketAddr,
    /// The key in its datagram: a hint, not proof (the handshake decides).
    pub fingerprint: Option<Fingerprint>,
    /// What (name, hint) is to this device.
    pub trust: Trust,
}

pub(super) struct PeerTable {
    entries: HashMap<InstanceId, Entry>,
    /// How many entries were first heard from each source address (see the module docs).
    by_address: HashMap<IpAddr, usize>,
    /// Most peers kept; a flood of made-up instance ids must not grow memory (or the UI's list)
    /// without bound.
    cap: usize,
    /// Most entries first heard from one source address.
    per_address: usize,
    /// A peer not heard from for this long is dropped.
    timeout: Duration,
    /// How long the address we know stays preferred while the same peer is also heard from
    /// another IP. A computer on Wi-Fi and Ethernet at once (or answering through two of our
    /// broadcast targets) would otherwise flip between two addresses on every announce.
    address_hold: Duration,
}

struct Entry {
    peer: Peer,
    /// The source address it was first heard from: what its place in the table counts against
    /// (it stays the same when the peer moves, so a flood cannot shift its share around).
    origin: IpAddr,
    /// Last datagram of any kind from this peer; drives expiry.
    last_seen: Instant,
    /// Last datagram that came from exactly `peer.addr`'s IP; drives `address_hold`.
    addr_heard: Instant,
}

impl PeerTable {
    pub(super) fn new(cap: usize, per_address: usize, timeout: Duration, address_hold: Duration) -> Self {
        PeerTable {
            entries: HashMap::new(),
            by_address: HashMap::new(),
            cap,
            per_address,
            timeout,
            address_hold,
        }
    }

    /// [`Self::observe_heard`] for a peer that gave no key hint.
    #[cfg(test)]
    pub(super) fn observe(
        &mut self,
        instance: InstanceId,
        name: String,
        os: Os,
        addr: SocketAddr,
        now: Instant,
    ) -> Vec<DiscoveryEvent> {
        let heard = Heard { instance, name, os, addr, fingerprint: None, trust: Trust::New };
        self.observe_heard(heard, now)
    }

    /// Notes that `heard.instance` was heard from at `heard.addr` (source IP + its transfer
    /// port). Returns `Seen` for a new peer (after the `Lost` of the entry it displaced, if
    /// any), `Updated` when its name, OS, address, key hint or trust changed, and nothing for a
    /// plain "still here" or a new peer that finds no room (module docs).
    pub(super) fn observe_heard(&mut self, heard: Heard, now: Instant) -> Vec<DiscoveryEvent> {
        let Heard { instance, name, os, addr, fingerprint, trust } = heard;
        let Some(entry) = self.entries.get_mut(&instance) else {
            return self.arrive(Heard { instance, name, os, addr, fingerprint, trust }, now);
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
        if entry.peer.fingerprint != fingerprint || entry.peer.trust != trust {
            entry.peer.fingerprint = fingerprint;
            entry.peer.trust = trust;
            changed = true;
        }
        changed.then(|| DiscoveryEvent::Updated(entry.peer.clone())).into_iter().collect()
    }

    /// A peer not in the table: let in if there is room for its address (module docs).
    fn arrive(&mut self, heard: Heard, now: Instant) -> Vec<DiscoveryEvent> {
        let Heard { instance, name, os, addr, fingerprint, trust } = heard;
        let origin = addr.ip();
        let mine = self.by_address.get(&origin).copied().unwrap_or(0);
        if mine >= self.per_address {
            return Vec::new();
        }
        let mut events = Vec::new();
        if self.entries.len() >= self.cap {
            let Some((&fullest, &most)) = self.by_address.iter().max_by_key(|(_, n)| **n) else {
                return events;
            };
            if mine + 1 >= most {
                return events;
            }
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| e.origin == fullest)
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(id, _)| *id);
            if let Some(event) = oldest.and_then(|id| self.remove(id)) {
                events.push(event);
            }
        }
        let peer = Peer { instance, name, os, addr, source: PeerSource::Discovered, fingerprint, trust };
        self.entries.insert(instance, Entry { peer: peer.clone(), origin, last_seen: now, addr_heard: now });
        *self.by_address.entry(origin).or_default() += 1;
        events.push(DiscoveryEvent::Seen(peer));
        events
    }

    /// The peer said goodbye.
    pub(super) fn remove(&mut self, instance: InstanceId) -> Option<DiscoveryEvent> {
        let entry = self.entries.remove(&instance)?;
        self.forget_origin(entry.origin);
        Some(DiscoveryEvent::Lost(instance))
    }

    fn forget_origin(&mut self, origin: IpAddr) {
        if let Some(n) = self.by_address.get_mut(&origin) {
            *n -= 1;
            if *n == 0 {
                self.by_address.remove(&origin);
            }
        }
    }

    /// Drops every peer not heard from for the timeout.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<DiscoveryEvent> {
        let timeout = self.timeout;
        let mut lost = Vec::new();
        let mut origins = Vec::new();
        self.entries.retain(|&id, e| {
            let keep = now.saturating_duration_since(e.last_seen) < timeout;
            if !keep {
                lost.push(DiscoveryEvent::Lost(id));
                origins.push(e.origin);
            }
            keep
        });
        for origin in origins {
            self.forget_origin(origin);
        }
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
    use std::net::Ipv4Addr;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(6);
    const HOLD: Duration = Duration::from_secs(3);

    fn id(n: u16) -> InstanceId {
        let mut b = [0u8; 16];
        b[..2].copy_from_slice(&n.to_be_bytes());
        InstanceId(b)
    }

    fn addr(last: u8, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, last)), port)
    }

    fn table() -> PeerTable {
        PeerTable::new(256, 16, TIMEOUT, HOLD)
    }

    /// The one event an observation gave, if any.
    fn one(events: Vec<DiscoveryEvent>) -> Option<DiscoveryEvent> {
        assert!(events.len() <= 1, "{events:?}");
        events.into_iter().next()
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
        let ev = one(t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), t0));
        let Some(DiscoveryEvent::Seen(p)) = ev else { panic!("expected Seen, got {ev:?}") };
        assert_eq!(
            p,
            Peer {
                instance: id(1),
                name: "A".into(),
                os: Os::Linux,
                addr: addr(2, 9000),
                source: PeerSource::Discovered,
                fingerprint: None,
                trust: crate::events::Trust::New,
            }
        );
        assert_eq!(t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), t0 + HOLD), vec![]);

        let ev = one(t.observe(id(1), "B".into(), Os::Linux, addr(2, 9000), t0 + HOLD));
        assert!(matches!(&ev, Some(DiscoveryEvent::Updated(p)) if p.name == "B"), "{ev:?}");
        let ev = one(t.observe(id(1), "B".into(), Os::Windows, addr(2, 9000), t0 + HOLD));
        assert!(matches!(&ev, Some(DiscoveryEvent::Updated(p)) if p.os == Os::Windows), "{ev:?}");
        let ev = one(t.observe(id(1), "B".into(), Os::Windows, addr(2, 9001), t0 + HOLD));
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
        assert_eq!(t.observe(id(1), "A".into(), Os::Linux, addr(3, 9000), soon), vec![]);
        assert_eq!(t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), soon), vec![]);
        // Only the second address for longer than the hold: the peer moved.
        let ev = one(t.observe(id(1), "A".into(), Os::Linux, addr(3, 9000), soon + HOLD));
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
        assert!(t.by_address.is_empty(), "{:?}", t.by_address);
        // Heard again after leaving: a fresh sighting.
        let ev = one(t.observe(id(1), "A".into(), Os::Linux, addr(2, 9000), t0 + TIMEOUT * 2));
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
    fn one_address_holds_at_most_its_share() {
        let mut t = table();
        let t0 = Instant::now();
        for n in 0..40 {
            t.observe(id(n), "spoof".into(), Os::Linux, addr(66, 9000), t0);
        }
        assert_eq!(t.len(), 16);
        // Those it holds still update; the rest stay out.
        assert_eq!(
            name(one(t.observe(id(3), "renamed".into(), Os::Linux, addr(66, 9000), t0))).as_deref(),
            Some("renamed")
        );
        assert_eq!(t.observe(id(39), "spoof".into(), Os::Linux, addr(66, 9000), t0), vec![]);
        // Another address is not affected.
        assert!(matches!(
            one(t.observe(id(100), "real".into(), Os::Linux, addr(7, 9000), t0)),
            Some(DiscoveryEvent::Seen(_))
        ));
    }

    #[test]
    fn a_full_table_makes_room_for_a_new_address_at_the_fullest_addresss_expense() {
        // Three addresses fill a table of six; a fourth arrives.
        let mut t = PeerTable::new(6, 4, TIMEOUT, HOLD);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        for (n, (last, at)) in [(10, 0), (10, 1), (10, 2), (10, 3), (11, 4), (12, 5)].into_iter().enumerate()
        {
            assert!(
                !t.observe(id(n as u16), "p".into(), Os::Linux, addr(last, 9000), t0 + ms(at)).is_empty()
            );
        }
        // The fullest address's least recently heard entry (id 0) gives way.
        let events = t.observe(id(50), "real".into(), Os::Linux, addr(20, 9000), t0 + ms(10));
        assert!(
            matches!(events.as_slice(), [DiscoveryEvent::Lost(lost), DiscoveryEvent::Seen(p)] if *lost == id(0) && p.instance == id(50)),
            "{events:?}"
        );
        assert_eq!(t.len(), 6);
        // Heard again, id 1 is no longer the oldest of address 10: id 2 goes next.
        t.observe(id(1), "p".into(), Os::Linux, addr(10, 9000), t0 + ms(11));
        let events = t.observe(id(51), "other".into(), Os::Linux, addr(21, 9000), t0 + ms(12));
        assert!(matches!(events.as_slice(), [DiscoveryEvent::Lost(lost), _] if *lost == id(2)), "{events:?}");
        // Address 10 holds 2 (ids 1, 3), a new address none: ahead by two, so id 3 goes too.
        let events = t.observe(id(52), "third".into(), Os::Linux, addr(22, 9000), t0 + ms(13));
        assert!(matches!(events.as_slice(), [DiscoveryEvent::Lost(lost), _] if *lost == id(3)), "{events:?}");
        // Now every address holds one: nobody is ahead by two, so a newcomer waits for room
        // (and two floods cannot trade places forever).
        assert_eq!(t.observe(id(53), "late".into(), Os::Linux, addr(23, 9000), t0 + ms(14)), vec![]);
        assert_eq!(t.observe(id(54), "late".into(), Os::Linux, addr(11, 9000), t0 + ms(14)), vec![]);
        assert_eq!(t.len(), 6);
    }

    #[test]
    fn a_flood_from_many_addresses_settles_and_still_lets_a_real_device_in() {
        let mut t = table();
        let t0 = Instant::now();
        // 32 addresses with 16 made-up ids each, over and over.
        for round in 0..3u32 {
            for n in 0..512u16 {
                let at = t0 + Duration::from_millis(u64::from(round) * 600 + u64::from(n));
                t.observe(id(n), "spoof".into(), Os::Linux, addr((n % 32) as u8 + 100, 9000), at);
            }
        }
        assert_eq!(t.len(), 256);
        assert!(t.by_address.values().all(|&n| n == 8), "{:?}", t.by_address);
        let real = t.observe(id(1000), "Real".into(), Os::Linux, addr(5, 9000), t0 + Duration::from_secs(2));
        assert!(matches!(real.last(), Some(DiscoveryEvent::Seen(p)) if p.instance == id(1000)), "{real:?}");
    }
}
