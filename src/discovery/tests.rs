//! Discovery over loopback: real sockets, broadcast to 127.255.255.255, one fresh port per test
//! so tests run in parallel without hearing each other.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::*;
use crate::events::PeerSource;
use crate::protocol::{Datagram, DatagramKind, MAX_DATAGRAM};

/// Long enough that a test passing within it proves the query/reply path, not a periodic announce.
const SLOW: Duration = Duration::from_secs(30);
/// Generous: these tests prove what arrives, not how fast (the engine-level test holds the 1 s promise),
/// and a loaded machine can take a while to schedule a freshly started thread.
const WAIT: Duration = Duration::from_secs(3);

/// A discovery port of this test's own, held open by a socket that shares it (reuse flags),
/// so no other test is handed the same port while this one runs. It also hears every
/// broadcast, which lets tests watch what a node sends.
struct TestNet {
    port: u16,
    tap: UdpSocket,
}

impl TestNet {
    fn new() -> TestNet {
        for _ in 0..20 {
            // A plain bind picks a port nobody holds; the sharing socket then takes it over.
            let port = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap().local_addr().unwrap().port();
            if let Ok(tap) = net::listen_socket(Ipv4Addr::UNSPECIFIED.into(), port) {
                return TestNet { port, tap };
            }
        }
        panic!("no free UDP port");
    }

    fn target(&self) -> SocketAddr {
        SocketAddr::from(([127, 255, 255, 255], self.port))
    }

    fn config(&self, name: &str, transfer_port: u16) -> DiscoveryConfig {
        DiscoveryConfig {
            instance: InstanceId::random(),
            name: name.into(),
            os: Os::Linux,
            transfer_port,
            bind: Ipv4Addr::LOCALHOST.into(),
            port: self.port,
            broadcast: Some(vec![self.target()]),
            announce_interval: SLOW,
            announce: true,
            peer_timeout: SLOW,
            fingerprint: None,
            known: None,
        }
    }

    /// The next datagram of `kind` from `instance` heard on the shared port.
    fn tap_for(&self, instance: InstanceId, kind: DatagramKind, within: Duration) -> Option<Datagram> {
        let end = Instant::now() + within;
        let mut buf = [0u8; MAX_DATAGRAM + 1];
        while Instant::now() < end {
            let Ok((n, _)) = self.tap.recv_from(&mut buf) else { continue };
            if let Ok(d) = Datagram::decode(&buf[..n])
                && d.instance == instance
                && d.kind == kind
            {
                return Some(d);
            }
        }
        None
    }

    /// A socket for hand-made datagrams, with its own port like a real node's.
    fn raw(&self) -> UdpSocket {
        self.raw_from(Ipv4Addr::LOCALHOST)
    }

    /// A socket of its own on the loopback address `ip` (any of 127.0.0.0/8): as if another
    /// computer sent from it.
    fn raw_from(&self, ip: Ipv4Addr) -> UdpSocket {
        let s = UdpSocket::bind((ip, 0)).unwrap();
        s.set_broadcast(true).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        s
    }
}

struct Node {
    id: InstanceId,
    discovery: Discovery,
    events: Receiver<DiscoveryEvent>,
}

fn start(cfg: DiscoveryConfig) -> Node {
    let id = cfg.instance;
    let (tx, events) = crossbeam_channel::unbounded();
    let discovery = Discovery::start(cfg, move |e| {
        let _ = tx.send(e);
    })
    .unwrap();
    Node { id, discovery, events }
}

/// Waits for the first event that `pred` accepts, skipping others.
fn wait_for(
    events: &Receiver<DiscoveryEvent>,
    within: Duration,
    pred: impl Fn(&DiscoveryEvent) -> bool,
) -> Option<DiscoveryEvent> {
    let end = Instant::now() + within;
    while let Ok(e) = events.recv_deadline(end) {
        if pred(&e) {
            return Some(e);
        }
    }
    None
}

fn seen(events: &Receiver<DiscoveryEvent>, id: InstanceId) -> Option<Peer> {
    match wait_for(events, WAIT, |e| matches!(e, DiscoveryEvent::Seen(p) if p.instance == id)) {
        Some(DiscoveryEvent::Seen(p)) => Some(p),
        _ => None,
    }
}

/// Waits until every one of `ids` was seen, in any order; their peers in the order of `ids`.
fn seen_all(events: &Receiver<DiscoveryEvent>, ids: &[InstanceId]) -> Vec<Peer> {
    let end = Instant::now() + WAIT;
    let mut found: Vec<Option<Peer>> = vec![None; ids.len()];
    while found.iter().any(Option::is_none) {
        match events.recv_deadline(end) {
            Ok(DiscoveryEvent::Seen(p)) => {
                if let Some(i) = ids.iter().position(|&id| id == p.instance) {
                    found[i] = Some(p);
                }
            }
            Ok(_) => {}
            Err(_) => panic!("saw only {found:?} of {ids:?}"),
        }
    }
    found.into_iter().flatten().collect()
}

fn announce(instance: InstanceId, name: &str, transfer_port: u16) -> Datagram {
    Datagram {
        kind: DatagramKind::Announce,
        instance,
        transfer_port,
        os: Os::Windows,
        name: name.into(),
        fingerprint: vec![],
    }
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[test]
fn two_nodes_see_each_other() {
    let net = TestNet::new();
    let a = start(net.config("Alpha", 7001));
    let b = start(net.config("Beta", 7002));
    let pa = seen(&b.events, a.id).expect("B never saw A");
    assert_eq!(
        pa,
        Peer {
            instance: a.id,
            name: "Alpha".into(),
            os: Os::Linux,
            addr: localhost(7001),
            source: PeerSource::Discovered,
            fingerprint: None,
            trust: crate::events::Trust::New,
        }
    );
    let pb = seen(&a.events, b.id).expect("A never saw B");
    assert_eq!((pb.name.as_str(), pb.addr), ("Beta", localhost(7002)));
}

#[test]
fn a_late_node_sees_everyone_at_once_through_replies() {
    let net = TestNet::new();
    let a = start(net.config("A", 7001));
    let b = start(net.config("B", 7002));
    seen(&a.events, b.id).expect("A never saw B");
    seen(&b.events, a.id).expect("B never saw A");

    // Nobody announces for 30 s: C can only learn of A and B from their replies to its query.
    let c = start(net.config("C", 7003));
    let addrs: Vec<SocketAddr> = seen_all(&c.events, &[a.id, b.id]).iter().map(|p| p.addr).collect();
    assert_eq!(addrs, [localhost(7001), localhost(7002)]);
    seen(&a.events, c.id).expect("A never saw C");
    seen(&b.events, c.id).expect("B never saw C");
}

#[test]
fn a_query_is_answered_by_unicast_to_its_source() {
    let net = TestNet::new();
    let a = start(net.config("A", 7001));
    let raw = net.raw();
    let asker = InstanceId::random();
    let mut query = announce(asker, "Asker", 7009);
    query.kind = DatagramKind::Query;
    raw.send_to(&query.encode(), net.target()).unwrap();

    let mut buf = [0u8; MAX_DATAGRAM + 1];
    let end = Instant::now() + WAIT;
    let reply = loop {
        assert!(Instant::now() < end, "no reply to the query");
        let Ok((n, _)) = raw.recv_from(&mut buf) else { continue };
        break Datagram::decode(&buf[..n]).unwrap();
    };
    assert_eq!((reply.kind, reply.instance, reply.transfer_port), (DatagramKind::Reply, a.id, 7001));
    assert_eq!(reply.name, "A");
    // The query doubles as an announce.
    assert_eq!(seen(&a.events, asker).map(|p| p.addr), Some(localhost(7009)));
}

#[test]
fn refresh_sends_a_query_now() {
    let net = TestNet::new();
    let a = start(net.config("A", 7001));
    net.tap_for(a.id, DatagramKind::Query, WAIT).expect("no query at start");
    a.discovery.refresh();
    net.tap_for(a.id, DatagramKind::Query, WAIT).expect("no query after refresh");
}

#[test]
fn goodbye_removes_a_peer_at_once() {
    let net = TestNet::new();
    let a = start(net.config("A", 7001));
    let b = start(net.config("B", 7002));
    seen(&a.events, b.id).expect("A never saw B");

    let began = Instant::now();
    b.discovery.shutdown();
    assert!(began.elapsed() < WAIT, "shutdown took {:?}", began.elapsed());
    // The timeout is 30 s, so only the goodbye explains this.
    let lost = wait_for(&a.events, WAIT, |e| matches!(e, DiscoveryEvent::Lost(_)));
    assert_eq!(lost, Some(DiscoveryEvent::Lost(b.id)));
}

#[test]
fn a_silent_peer_expires() {
    let net = TestNet::new();
    let timeout = Duration::from_millis(300);
    let a = start(DiscoveryConfig { peer_timeout: timeout, ..net.config("A", 7001) });
    let ghost = InstanceId::random();
    let sent = Instant::now();
    net.raw().send_to(&announce(ghost, "Ghost", 7009).encode(), net.target()).unwrap();
    seen(&a.events, ghost).expect("never saw the ghost");

    let lost = wait_for(&a.events, Duration::from_secs(2), |e| matches!(e, DiscoveryEvent::Lost(_)));
    assert_eq!(lost, Some(DiscoveryEvent::Lost(ghost)));
    assert!(sent.elapsed() >= timeout, "expired after {:?}, before the timeout", sent.elapsed());
}

#[test]
fn own_datagrams_are_ignored() {
    let net = TestNet::new();
    let cfg = DiscoveryConfig { announce_interval: Duration::from_millis(30), ..net.config("Me", 7001) };
    let me = start(cfg);
    // It does hear itself: its announces reach the shared port it listens on.
    net.tap_for(me.id, DatagramKind::Announce, WAIT).expect("no announce");
    net.tap_for(me.id, DatagramKind::Announce, WAIT).expect("no second announce");
    // A hand-made datagram with our id (from another port) is ours too.
    net.raw().send_to(&announce(me.id, "Impostor", 7009).encode(), net.target()).unwrap();

    let other = InstanceId::random();
    net.raw().send_to(&announce(other, "Other", 7002).encode(), net.target()).unwrap();
    let first = me.events.recv_timeout(WAIT).expect("no event at all");
    assert!(matches!(&first, DiscoveryEvent::Seen(p) if p.instance == other), "{first:?}");
}

#[test]
fn junk_datagrams_produce_no_event() {
    let net = TestNet::new();
    let a = start(net.config("A", 7001));
    let raw = net.raw();
    let good = announce(InstanceId::random(), "Fine", 7002);

    let mut oversize = announce(InstanceId::random(), "Big", 7003).encode();
    oversize.resize(MAX_DATAGRAM + 1, 0);
    let port0 = Datagram { transfer_port: 0, ..announce(InstanceId::random(), "Zero", 7004) }.encode();
    let invisible = announce(InstanceId::random(), "\u{200B}\u{202E}\u{7}", 7005).encode();
    let mut bad_version = announce(InstanceId::random(), "Future", 7006).encode();
    bad_version[4] = 2;
    let mut truncated = announce(InstanceId::random(), "Cut", 7007).encode();
    truncated.pop();
    let junk: [&[u8]; 7] = [b"", b"hello", &[0xff; 600], &oversize, &port0, &invisible, &bad_version];
    for bytes in junk.iter().copied().chain([truncated.as_slice()]) {
        raw.send_to(bytes, net.target()).unwrap();
    }
    // Sent last from the same socket, so it is read last: everything before it was dropped.
    raw.send_to(&good.encode(), net.target()).unwrap();
    let first = a.events.recv_timeout(WAIT).expect("no event at all");
    assert!(matches!(&first, DiscoveryEvent::Seen(p) if p.instance == good.instance), "{first:?}");
}

// Other loopback addresses than 127.0.0.1 (as if from other computers): not on macOS, which
// has only 127.0.0.1 on lo0.
#[cfg(not(target_os = "macos"))]
#[test]
fn the_table_stops_growing_at_the_cap() {
    let net = TestNet::new();
    let a = start(net.config("A", 7001));
    // 300 made-up peers from 20 addresses, in turn, so no address is ever ahead of another
    // by two (then nobody displaces anybody, see table.rs).
    let raws: Vec<UdpSocket> = (0..20).map(|i| net.raw_from(Ipv4Addr::new(127, 0, 0, 10 + i))).collect();
    for batch in 0..12u16 {
        for i in 0..25u16 {
            let n = batch * 25 + i;
            let mut id = [0u8; 16];
            id[..2].copy_from_slice(&n.to_be_bytes());
            let datagram = announce(InstanceId(id), &format!("peer {n}"), 8000 + n).encode();
            raws[usize::from(n % 20)].send_to(&datagram, net.target()).unwrap();
        }
        // Paced so the socket buffers keep up; a few drops would not change the outcome.
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut seen = 0;
    while let Ok(e) = a.events.recv_timeout(Duration::from_millis(500)) {
        assert!(matches!(e, DiscoveryEvent::Seen(_)), "{e:?}");
        seen += 1;
    }
    assert_eq!(seen, MAX_PEERS);
}

// Other loopback addresses than 127.0.0.1 (as if from other computers): not on macOS, which
// has only 127.0.0.1 on lo0.
#[cfg(not(target_os = "macos"))]
#[test]
fn one_address_lists_at_most_its_share() {
    let net = TestNet::new();
    let a = start(net.config("A", 7001));
    let raw = net.raw_from(Ipv4Addr::new(127, 0, 0, 9));
    for n in 0..60u16 {
        let mut id = [0u8; 16];
        id[..2].copy_from_slice(&n.to_be_bytes());
        raw.send_to(&announce(InstanceId(id), "spoof", 9000).encode(), net.target()).unwrap();
    }
    let mut seen = 0;
    while let Ok(e) = a.events.recv_timeout(Duration::from_millis(500)) {
        assert!(matches!(e, DiscoveryEvent::Seen(_)), "{e:?}");
        seen += 1;
    }
    assert_eq!(seen, MAX_PEERS_PER_ADDRESS);
}

#[test]
fn names_arrive_cleaned() {
    let net = TestNet::new();
    let a = start(net.config("A", 7001));
    let id = InstanceId::random();
    let name = "\u{202E}evil\u{7} laptop\u{200B}\n";
    net.raw().send_to(&announce(id, name, 7002).encode(), net.target()).unwrap();
    assert_eq!(seen(&a.events, id).map(|p| p.name).as_deref(), Some("evil laptop"));
}

#[test]
fn repeated_announces_produce_no_update() {
    let net = TestNet::new();
    let fast = Duration::from_millis(30);
    let a = start(DiscoveryConfig { announce_interval: fast, ..net.config("A", 7001) });
    let b = start(net.config("B", 7002));
    seen(&b.events, a.id).expect("B never saw A");
    // Several announces from A reach B...
    for _ in 0..5 {
        net.tap_for(a.id, DatagramKind::Announce, WAIT).expect("A stopped announcing");
    }
    // ...and none of them is news.
    assert_eq!(b.events.recv_timeout(Duration::from_millis(100)).ok(), None);
}

#[test]
fn a_new_name_is_announced_at_once() {
    let net = TestNet::new();
    let a = start(net.config("Old name", 7001));
    let b = start(net.config("B", 7002));
    seen(&b.events, a.id).expect("B never saw A");

    a.discovery.set_name("New name".into());
    let updated = wait_for(&b.events, WAIT, |e| matches!(e, DiscoveryEvent::Updated(_)));
    let Some(DiscoveryEvent::Updated(p)) = updated else { panic!("no update: {updated:?}") };
    assert_eq!((p.instance, p.name.as_str()), (a.id, "New name"));
}

#[test]
fn a_node_that_does_not_announce_still_finds_others() {
    let net = TestNet::new();
    let a = start(net.config("A", 7001));
    let fast = Duration::from_millis(30);
    // It accepts no transfers: its SEARCH says transfer port 0, and is answered all the same.
    let quiet = start(DiscoveryConfig { announce: false, announce_interval: fast, ..net.config("Quiet", 0) });
    assert_eq!(seen(&quiet.events, a.id).map(|p| p.addr), Some(localhost(7001)));
    let search = net.tap_for(quiet.id, DatagramKind::Search, WAIT).expect("a SEARCH");
    assert_eq!(search.transfer_port, 0);
    // It asked with a SEARCH, which A answers without listing it.
    let listed = wait_for(
        &a.events,
        Duration::from_millis(300),
        |e| matches!(e, DiscoveryEvent::Seen(p) if p.instance == quiet.id),
    );
    assert_eq!(listed, None, "a node that only looks was listed");

    assert!(net.tap_for(quiet.id, DatagramKind::Announce, Duration::from_millis(300)).is_none());
    let raw = net.raw();
    let mut query = announce(InstanceId::random(), "Asker", 7009);
    query.kind = DatagramKind::Query;
    raw.send_to(&query.encode(), net.target()).unwrap();
    let mut buf = [0u8; MAX_DATAGRAM + 1];
    let end = Instant::now() + Duration::from_millis(300);
    while Instant::now() < end {
        if let Ok((n, _)) = raw.recv_from(&mut buf) {
            let reply = Datagram::decode(&buf[..n]).unwrap();
            assert_ne!(reply.instance, quiet.id, "a quiet node replied");
        }
    }

    // And it leaves without a goodbye: there is nothing to take back.
    quiet.discovery.shutdown();
    assert!(net.tap_for(quiet.id, DatagramKind::Goodbye, Duration::from_millis(300)).is_none());
}

#[test]
fn starting_on_a_port_in_exclusive_use_fails_with_a_readable_error() {
    // A socket without the reuse flags holds the port alone.
    let holder = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let port = holder.local_addr().unwrap().port();
    let net = TestNet { port, tap: holder };
    let err = Discovery::start(net.config("A", 7001), |_| {}).err().expect("started anyway");
    assert!(err.to_string().contains(&format!("UDP port {port}")), "{err}");
}

/// Datagrams carry the device key as a hint; the table keeps it, and the store of known devices
/// says what (name, hint) is: known by the key whatever the name, changed for a known name under
/// another key or none, new otherwise. A field that is not 32 bytes is no hint.
#[test]
fn the_key_hint_is_announced_kept_and_judged() {
    use crate::events::Trust;
    use crate::identity::Fingerprint;
    use crate::identity::known::{KnownDevices, Sighting};
    use std::sync::{Arc, Mutex};

    let net = TestNet::new();
    let alpha_key = Fingerprint([0xA1; 32]);
    let known = Arc::new(Mutex::new(KnownDevices::in_memory()));
    known
        .lock()
        .unwrap()
        .remember(&Sighting { fingerprint: alpha_key, name: "Alpha", address: None })
        .unwrap();
    let a = start(DiscoveryConfig { fingerprint: Some(alpha_key), ..net.config("Alpha (renamed)", 7001) });
    let announced = net.tap_for(a.id, DatagramKind::Query, WAIT).expect("A asks who is there");
    assert_eq!(announced.fingerprint, vec![0xA1; 32]);

    let b = start(DiscoveryConfig { known: Some(known.clone()), ..net.config("Beta", 7002) });
    let pa = seen(&b.events, a.id).expect("B sees A");
    assert_eq!(pa.fingerprint, Some(alpha_key));
    assert_eq!(pa.trust, Trust::Known, "known by its key, whatever it is called now");

    let raw = net.raw();
    let impostor = InstanceId::random();
    let forged = Datagram { fingerprint: vec![0xEE; 32], ..announce(impostor, "alpha", 7003) };
    raw.send_to(&forged.encode(), net.target()).unwrap();
    let pi = seen(&b.events, impostor).expect("B lists the impostor");
    assert_eq!(pi.fingerprint, Some(Fingerprint([0xEE; 32])));
    assert_eq!(pi.trust, Trust::Changed { lookalikes: vec![alpha_key] });

    let odd = InstanceId::random();
    let short = Datagram { fingerprint: vec![1; 20], ..announce(odd, "Gamma", 7004) };
    raw.send_to(&short.encode(), net.target()).unwrap();
    let po = seen(&b.events, odd).expect("B lists a peer with an odd-sized field");
    assert_eq!((po.fingerprint, po.trust), (None, Trust::New));

    // Becoming known later shows on the next datagram.
    known
        .lock()
        .unwrap()
        .remember(&Sighting { fingerprint: Fingerprint([0xEE; 32]), name: "alpha", address: None })
        .unwrap();
    raw.send_to(&forged.encode(), net.target()).unwrap();
    let updated =
        wait_for(&b.events, WAIT, |e| matches!(e, DiscoveryEvent::Updated(p) if p.instance == impostor));
    assert!(matches!(updated, Some(DiscoveryEvent::Updated(p)) if p.trust == Trust::Known));
    drop((a, b));
}
