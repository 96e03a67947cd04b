//! Engines on loopback for integration tests: each in its own temporary folder, bound to
//! 127.0.0.1, with discovery (when asked for) on 127.255.255.255 and a port of its own.

#![allow(dead_code)]

pub mod raw;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ferry::engine::{Command, Engine, EngineConfig, Event, Timing, TransferId};
use ferry::protocol::InstanceId;

pub struct Node {
    pub engine: Engine,
    pub events: Receiver<Event>,
    pub commands: Sender<Command>,
    pub instance: InstanceId,
    pub dir: tempfile::TempDir,
}

/// A free UDP port for a test's own discovery traffic.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn config(name: &str, dir: &Path, discovery_port: Option<u16>) -> EngineConfig {
    let mut c = EngineConfig::new(InstanceId::random(), name, dir.join("received"));
    c.bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
    c.transfer_port = 0;
    match discovery_port {
        Some(port) => {
            c.discovery_port = port;
            c.broadcast = Some(vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 255, 255, 255)), port)]);
        }
        None => c.discovery = false,
    }
    c.timing = Timing {
        announce_interval: Duration::from_millis(300),
        peer_timeout: Duration::from_millis(1000),
        ..Timing::default()
    };
    c
}

impl Node {
    pub fn start(name: &str) -> Node {
        Self::start_with(name, |_| {})
    }

    pub fn start_with(name: &str, tweak: impl FnOnce(&mut EngineConfig)) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(name, dir.path(), None);
        tweak(&mut c);
        let instance = c.instance;
        let engine = Engine::start(c, Arc::new(|| {})).expect("engine starts");
        let events = engine.events();
        let commands = engine.commands();
        Node { engine, events, commands, instance, dir }
    }

    pub fn addr(&self) -> SocketAddr {
        self.engine.transfer_addr().expect("this node receives")
    }

    pub fn received(&self) -> PathBuf {
        self.dir.path().join("received")
    }

    /// Waits up to `secs` for an event that `pick` accepts; panics with what was seen otherwise.
    pub fn wait<T>(&self, secs: f64, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let mut seen = Vec::new();
        while let Ok(e) = self.events.recv_deadline(deadline) {
            if let Some(t) = pick(&e) {
                return t;
            }
            seen.push(format!("{e:?}").chars().take(200).collect::<String>());
        }
        panic!("no matching event within {secs} s; saw: {seen:#?}");
    }

    pub fn send(&self, to: SocketAddr, paths: Vec<PathBuf>) -> TransferId {
        let id = TransferId::next();
        self.commands.send(Command::Send { id, to, paths }).unwrap();
        id
    }
}

/// Deterministic pseudo-random bytes (xorshift), so a misplaced chunk cannot go unnoticed.
pub fn write_random(path: &Path, len: u64, seed: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut x = seed | 1;
    let mut left = len;
    let mut block = vec![0u8; 1 << 16];
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

/// Every regular file below `root`, relative, sorted.
pub fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Two files have the same bytes (compared by BLAKE3, without loading them whole).
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    let hash = |p: &Path| {
        let mut h = blake3::Hasher::new();
        h.update_reader(std::fs::File::open(p).unwrap()).unwrap();
        h.finalize()
    };
    hash(a) == hash(b)
}

/// A TCP connection to `to` from the local address `from` (any of 127.0.0.0/8 on loopback),
/// as if from another computer.
pub fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::net::TcpStream {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::new(IpAddr::V4(from), 0).into()).unwrap();
    s.connect(&to.into()).unwrap();
    s.into()
}

/// An engine with LocalSend on loopback ("multicast" on 127.255.255.255:`udp`), listing other
/// Ferrys as LocalSend devices so that two engines can play phone to each other.
pub fn localsend_node(name: &str, udp: u16, tweak: impl FnOnce(&mut EngineConfig)) -> Node {
    Node::start_with(name, |c| {
        let o = &mut c.localsend;
        o.enabled = true;
        o.port = 0;
        o.group = Ipv4Addr::new(127, 255, 255, 255);
        o.group_port = udp;
        o.interfaces = vec!["127.0.0.1".into()];
        o.hide_ferry_devices = false;
        o.timing.idle_timeout = Duration::from_secs(5);
        c.discovery = true;
        // Ferry's own discovery on a port nobody uses: only LocalSend finds anything here.
        c.discovery_port = free_udp_port();
        c.broadcast = Some(vec![SocketAddr::from(([127, 255, 255, 255], c.discovery_port))]);
        tweak(c)
    })
}

/// The LocalSend device called `name`, once `node` lists it.
pub fn localsend_peer(node: &Node, name: &str) -> ferry::engine::Peer {
    node.wait(5.0, |e| match e {
        Event::PeerSeen(p) | Event::PeerUpdated(p)
            if p.name == name && matches!(p.source, ferry::engine::PeerSource::LocalSend(_)) =>
        {
            Some(p.clone())
        }
        _ => None,
    })
}
