//! LocalSend sides on loopback for the tests: each with its own identity, receive folder and
//! server port, "multicast" on 127.255.255.255 with a UDP port of the test's own, short timings;
//! a small HTTP/1.1 client (plain or TLS, with or without a client certificate) to play a
//! LocalSend phone byte by byte; and ([`fake`]) a receiver that answers as a test says.

#![allow(dead_code)]

pub mod fake;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};
use ferry::events::Event;
use ferry::identity::DeviceIdentity;
use ferry::identity::verify::{PeerCertVerifier, crypto_provider};
use ferry::localsend::{
    Hooks, LocalSend, LocalSendConfig, Multicast, PeerChange, Timing, TrustNobody, TrustedSenders,
};

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Side {
    pub ls: LocalSend,
    pub events: Receiver<Event>,
    pub peers: Receiver<PeerChange>,
    pub identity: DeviceIdentity,
    pub dir: tempfile::TempDir,
}

pub fn timing() -> Timing {
    Timing {
        announce_interval: Duration::from_millis(500),
        peer_timeout: Duration::from_secs(3),
        header_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(2),
        answer_timeout: Duration::from_secs(20),
    }
}

/// A config on loopback; `udp` is the "multicast" port (None: no discovery).
pub fn config(name: &str, dir: &std::path::Path, udp: Option<u16>) -> LocalSendConfig {
    let mut c = LocalSendConfig::new(DeviceIdentity::generate().unwrap(), name, dir.join("received"));
    c.bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
    c.port = 0;
    c.multicast = Multicast {
        group: Ipv4Addr::new(127, 255, 255, 255),
        port: udp.unwrap_or(0),
        interfaces: vec!["127.0.0.1".into()],
    };
    c.discovery = udp.is_some();
    c.hide_ferry_devices = false;
    c.timing = timing();
    c
}

impl Side {
    pub fn start(name: &str, udp: Option<u16>, tweak: impl FnOnce(&mut LocalSendConfig)) -> Side {
        Self::start_trusting(name, udp, tweak, Arc::new(TrustNobody))
    }

    pub fn start_trusting(
        name: &str,
        udp: Option<u16>,
        tweak: impl FnOnce(&mut LocalSendConfig),
        trust: Arc<dyn TrustedSenders>,
    ) -> Side {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(name, dir.path(), udp);
        tweak(&mut c);
        let identity = c.identity.clone();
        let (etx, events) = unbounded();
        let (ptx, peers) = unbounded();
        let hooks = Hooks {
            emit: Arc::new(move |e| {
                let _ = etx.send(e);
            }),
            peers: Arc::new(move |p| {
                let _ = ptx.send(p);
            }),
            trust,
        };
        let ls = LocalSend::start(c, hooks).expect("LocalSend starts");
        Side { ls, events, peers, identity, dir }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.ls.port())
    }

    pub fn received(&self) -> PathBuf {
        self.dir.path().join("received")
    }

    /// Waits up to `secs` for an event `pick` accepts; panics with what was seen otherwise.
    pub fn wait<T>(&self, secs: f64, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let mut seen = Vec::new();
        while let Ok(e) = self.events.recv_deadline(deadline) {
            if let Some(t) = pick(&e) {
                return t;
            }
            seen.push(format!("{e:?}").chars().take(300).collect::<String>());
        }
        panic!("no matching event within {secs} s; saw: {seen:#?}");
    }

    /// Events that arrive within `secs` (for "nothing happened" checks).
    pub fn drain(&self, secs: f64) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let mut out = Vec::new();
        while let Ok(e) = self.events.recv_deadline(deadline) {
            out.push(e);
        }
        out
    }

    pub fn wait_peer<T>(&self, secs: f64, mut pick: impl FnMut(&PeerChange) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let mut seen = Vec::new();
        while let Ok(p) = self.peers.recv_deadline(deadline) {
            if let Some(t) = pick(&p) {
                return t;
            }
            seen.push(format!("{p:?}"));
        }
        panic!("no matching peer change within {secs} s; saw: {seen:#?}");
    }
}

/// Every regular file below `root`, relative, sorted.
pub fn tree(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

// ---- a phone, byte by byte --------------------------------------------------------------------

/// How the test client connects.
#[derive(Clone)]
pub enum Mode {
    Http,
    /// TLS; with this identity as client certificate, or none.
    Https(Option<DeviceIdentity>),
    /// TLS 1.2 only, no client certificate (older phones).
    Tls12,
}

pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// Opens a connection from `from` (a loopback address: 127.0.0.1 or another 127.x).
pub fn connect(to: SocketAddr, from: Ipv4Addr, mode: &Mode) -> Box<dyn Stream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((from, 0)).into()).unwrap();
    socket.connect_timeout(&to.into(), Duration::from_secs(2)).unwrap();
    let tcp: TcpStream = socket.into();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    match mode {
        Mode::Http => Box::new(tcp),
        Mode::Https(_) | Mode::Tls12 => {
            let id = match mode {
                Mode::Https(id) => id.clone(),
                _ => None,
            };
            let versions: &[&rustls::SupportedProtocolVersion] = match mode {
                Mode::Tls12 => &[&rustls::version::TLS12],
                _ => rustls::DEFAULT_VERSIONS,
            };
            let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
                .with_protocol_versions(versions)
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PeerCertVerifier::any()));
            let config = match id {
                Some(id) => builder
                    .with_client_auth_cert(
                        vec![rustls::pki_types::CertificateDer::from(id.cert_der().to_vec())],
                        rustls::pki_types::PrivateKeyDer::Pkcs8(id.key_der().to_vec().into()),
                    )
                    .unwrap(),
                None => builder.with_no_client_auth(),
            };
            let name = rustls::pki_types::ServerName::try_from("phone.invalid").unwrap();
            let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
            Box::new(rustls::StreamOwned::new(conn, tcp))
        }
    }
}

/// A response: status and body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        json_of(&self.body)
    }
}

/// A JSON body, or a panic that shows it.
pub fn json_of(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(body)))
}

/// Writes one request (`Content-Length` body) on `s` and reads the response.
pub fn request(s: &mut dyn Stream, method: &str, path: &str, body: &[u8]) -> Resp {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    s.flush().unwrap();
    read_response(s).expect("a response")
}

/// Reads one HTTP message, request or response, with a `Content-Length` body (all that Ferry
/// and these tests send): its head as text, and its body. `None` once the connection ends.
pub fn read_message(s: &mut (impl Read + ?Sized)) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
        assert!(buf.len() < 16 * 1024, "an HTTP head this long is not Ferry's");
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// Reads one response (Content-Length bodies only, which is all the server sends).
pub fn read_response(s: &mut dyn Stream) -> Option<Resp> {
    let (head, body) = read_message(s)?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(Resp { status, body })
}

/// One request on a connection of its own.
pub fn call(to: SocketAddr, mode: &Mode, method: &str, path: &str, body: &[u8]) -> Resp {
    let mut s = connect(to, Ipv4Addr::LOCALHOST, mode);
    request(&mut *s, method, path, body)
}
