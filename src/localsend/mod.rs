//! LocalSend: Ferry speaks the LocalSend protocol (v2, with 1.18's mutual TLS and checksums), so
//! the LocalSend app people already have on their phones can send photos to Ferry and receive
//! files from it. This module is the whole LocalSend side, beside Ferry's own `discovery` and
//! `transfer`; it reports through the same [`Event`]s and saves into the same store
//! ([`crate::transfer::store`], [`crate::transfer::names`]), so a file from a phone is written
//! exactly like a file from another Ferry.
//!
//! * [`dto`], [`json`] — the JSON shapes, and parsing with limits (depth, string length, file
//!   count, duplicate keys).
//! * `discovery` — UDP multicast on 224.0.0.167:53317: announcements (a burst at start, one
//!   every [`Timing::announce_interval`], a burst on request), answers by `POST /register`, the
//!   UDP answer as fallback.
//! * `server` — one TCP port (53317, or a free one the announcements name) for HTTPS *and*
//!   plain HTTP, told apart by the first byte (a TLS ClientHello starts with 0x16): phones with
//!   encryption off speak HTTP. Connection caps (`admission`), header and idle timeouts.
//! * `receive` — `register`, `info`, `prepare-upload` (→ Ferry's consent prompt), `upload`
//!   (→ the store; size and sha256 checked before a file gets its name), `cancel`.
//! * `send` — Ferry → a LocalSend device: `prepare-upload`, then one upload per accepted file;
//!   a text is an offer of one `text/plain` file whose `preview` is the text.
//! * [`tls`] — Ferry's device certificate on both ends; the client certificate's fingerprint,
//!   never a JSON field, names a sender.
//!
//! Everything runs on a tokio runtime of its own (threads `ferry-localsend`); nothing outside
//! this module sees tokio. The engine talks to it through [`LocalSend`]'s methods, which never
//! block on the network, and hears from it through [`Hooks`]. What Ferry does as a LocalSend
//! peer — every limit and every answer — is written down in `docs/LOCALSEND.md`.

pub mod dto;
pub mod json;
pub mod time;
pub mod tls;

mod admission;
mod client;
mod discovery;
mod meter;
mod mime;
mod peers;
mod query;
mod receive;
mod send;
mod server;
mod stop;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::events::{Decision, Event, Peer, TransferId, Warning};
use crate::identity::DeviceIdentity;
use crate::protocol::{CancelReason, InstanceId};
use crate::transfer::Emit;
pub use dto::{DEFAULT_PORT, DeviceType, PROTOCOL_VERSION};
use stop::Why;
pub use tls::Sha256Fingerprint;

/// LocalSend's multicast group. In 224.0.0.0/24 because some Android phones receive no other.
pub const DEFAULT_MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 167);

/// Periods and deadlines; tests shorten them.
#[derive(Clone, Debug)]
pub struct Timing {
    /// Announce ourselves this often (LocalSend phones announce only when the app opens, so
    /// this is also how a phone that missed the first burst finds us).
    pub announce_interval: Duration,
    /// A device not heard from for this long leaves the list.
    pub peer_timeout: Duration,
    /// A new connection must show its first byte, finish TLS, and send each request's headers
    /// within this.
    pub header_timeout: Duration,
    /// A connection on which nothing moves for this long is closed (not while a request waits
    /// for the person's answer); an accepted session with no upload for this long ends.
    pub idle_timeout: Duration,
    /// Connecting to another device (TCP and TLS), and asking it for its details.
    pub connect_timeout: Duration,
    /// How long a send waits for the person on the other side to accept.
    pub answer_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            announce_interval: Duration::from_secs(30),
            peer_timeout: Duration::from_secs(100),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            answer_timeout: Duration::from_secs(10 * 60),
        }
    }
}

/// Where discovery datagrams go and come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Multicast {
    /// A multicast group (joined on every interface) — or, for tests on loopback, a broadcast
    /// address such as 127.255.255.255, which is sent to and not joined.
    pub group: Ipv4Addr,
    pub port: u16,
    /// Interfaces to use, by name (`wlan0`) or IPv4 address; empty: every non-loopback IPv4
    /// interface. Loopback is used only when named.
    pub interfaces: Vec<String>,
}

impl Default for Multicast {
    fn default() -> Self {
        Multicast { group: DEFAULT_MULTICAST_GROUP, port: DEFAULT_PORT, interfaces: Vec::new() }
    }
}

/// How the LocalSend side is set up.
#[derive(Clone, Debug)]
pub struct LocalSendConfig {
    /// This device's key and certificate; its LocalSend fingerprint is what we announce.
    pub identity: DeviceIdentity,
    /// The name LocalSend devices show for this one.
    pub alias: String,
    /// `Linux`, `Windows`, `macOS` ...
    pub device_model: Option<String>,
    pub device_type: DeviceType,
    /// Address the server and the datagram sockets bind to.
    pub bind: IpAddr,
    /// TCP port of the server; when taken, a free one is used and announced instead. 0: any.
    pub port: u16,
    pub multicast: Multicast,
    /// Announce and listen at all (off: only devices that reach us by address).
    pub discovery: bool,
    /// Take offers, and so run the server. Off for `ferry send` and `ferry peers`, which look
    /// for devices without being one: no server, no listening socket. Their announcements still
    /// name `port`, where nobody answers: a device that hears one falls back to answering by
    /// UDP, which is all looking needs.
    pub receive: bool,
    /// Announce HTTPS (and Ferry's certificate fingerprint); off: announce plain HTTP, for phones
    /// whose LocalSend has encryption switched off. Both are served either way.
    pub encryption: bool,
    pub receive_dir: PathBuf,
    pub accept_automatically: bool,
    /// Keep other Ferry devices (which say so in their announcements) out of the list of
    /// devices: Ferry's own protocol finds them, and one computer should not be listed twice.
    /// Off in tests that run two LocalSend sides of Ferry against each other.
    pub hide_ferry_devices: bool,
    pub timing: Timing,
}

impl LocalSendConfig {
    /// Defaults for everything but who we are and where files go.
    pub fn new(identity: DeviceIdentity, alias: impl Into<String>, receive_dir: impl Into<PathBuf>) -> Self {
        LocalSendConfig {
            identity,
            alias: alias.into(),
            device_model: Some(crate::protocol::Os::current().label().to_owned()),
            device_type: DeviceType::Desktop,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_PORT,
            multicast: Multicast::default(),
            discovery: true,
            receive: true,
            encryption: true,
            receive_dir: receive_dir.into(),
            accept_automatically: false,
            hide_ferry_devices: true,
            timing: Timing::default(),
        }
    }
}

/// A LocalSend device appeared, changed, or went away. The engine keeps the one list of devices
/// nearby; this is what it hears from here.
#[derive(Clone, Debug)]
pub enum PeerChange {
    Seen(Peer),
    Lost(InstanceId),
}

/// A device that proved its certificate in a TLS handshake (a sender's client certificate, or
/// the server certificate of a device we registered with): both names of it, LocalSend's (the
/// certificate's SHA-256) and Ferry's (its key's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProvenSender {
    pub certificate: Sha256Fingerprint,
    /// SHA-256 of the certificate's public key: the key Ferry's known-devices store uses.
    pub key: crate::identity::Fingerprint,
}

/// What the known-devices store (`identity::known`, through the engine) says about LocalSend
/// devices. Only a key a handshake proved counts: never the `fingerprint` of a JSON body.
pub trait TrustedSenders: Send + Sync {
    /// May an offer from this sender be taken without asking?
    fn always_accept(&self, sender: &ProvenSender) -> bool;

    /// What a device giving `name` is to this one; `key` is what its certificate proved, `None`
    /// when nothing proved one (plain HTTP, no client certificate): such a device is never
    /// known, and is "changed" when its name looks like a known device's.
    fn trust(&self, name: &str, key: Option<&crate::identity::Fingerprint>) -> crate::events::Trust {
        let _ = (name, key);
        crate::events::Trust::New
    }

    /// An offer from `sender` was accepted, or a send to it (pinned to its certificate)
    /// completed: it becomes (or stays) a known device.
    fn remember(&self, sender: &ProvenSender, name: &str, addr: SocketAddr) {
        let _ = (sender, name, addr);
    }
}

/// Trusts no one: every offer is asked about (unless "accept automatically" is on), every
/// device is new, nothing is remembered.
pub struct TrustNobody;

impl TrustedSenders for TrustNobody {
    fn always_accept(&self, _: &ProvenSender) -> bool {
        false
    }
}

/// How the module reports to the engine.
#[derive(Clone)]
pub struct Hooks {
    /// Transfer events, straight to the front end (the engine's emitter).
    pub emit: Emit,
    /// Devices seen and lost, for the engine's list.
    pub peers: Arc<dyn Fn(PeerChange) + Send + Sync>,
    pub trust: Arc<dyn TrustedSenders>,
}

/// Why the LocalSend side could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Couldn't start LocalSend's worker threads: {0}")]
    Runtime(std::io::Error),
    #[error("Couldn't accept LocalSend connections on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("Couldn't set up encryption for LocalSend: {0}")]
    Tls(String),
}

/// 32 random hex digits: session ids, tokens, file ids (128 bits: never guessed, never repeated).
fn random_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    hex(&b)
}

/// Lower-case hex, as LocalSend writes ids and `sha256`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the person can change while running.
#[derive(Clone, Debug)]
struct Live {
    alias: String,
    receive_dir: PathBuf,
    accept_automatically: bool,
}

/// What every task of the module shares.
struct Shared {
    hooks: Hooks,
    identity: DeviceIdentity,
    /// Ours, as announced (upper-case hex).
    fingerprint: String,
    device_model: Option<String>,
    device_type: DeviceType,
    /// The port the server really listens on.
    port: u16,
    protocol: dto::Protocol,
    receive: bool,
    hide_ferry_devices: bool,
    timing: Timing,
    multicast: Multicast,
    bind: IpAddr,
    live: Mutex<Live>,
    server_tls: Arc<rustls::ServerConfig>,
    admission: Arc<admission::Admission>,
    peers: Mutex<peers::Table>,
    incoming: Mutex<receive::Sessions>,
    outgoing: Mutex<HashMap<TransferId, Arc<send::Outgoing>>>,
    /// Set at shutdown; every loop watches it.
    stopping: Arc<stop::Stop>,
    /// Wakes discovery for an announcement burst.
    announce_now: tokio::sync::Notify,
    /// For work started from outside the runtime (the engine's commands).
    runtime: tokio::runtime::Handle,
}

impl Shared {
    fn emit(&self, event: Event) {
        (self.hooks.emit)(event)
    }

    fn live(&self) -> Live {
        self.live.lock().expect("live settings lock").clone()
    }

    /// How we introduce ourselves (`announce`: only in datagrams).
    fn device_info(&self, announce: Option<bool>) -> dto::DeviceInfo {
        dto::DeviceInfo {
            alias: self.live().alias,
            version: PROTOCOL_VERSION.to_owned(),
            device_model: self.device_model.clone(),
            device_type: Some(self.device_type),
            fingerprint: self.fingerprint.clone(),
            port: self.port,
            protocol: self.protocol,
            download: false,
            announce,
            ferry: Some(crate::protocol::PROTOCOL_VERSION),
        }
    }

    fn info_response(&self) -> dto::InfoResponse {
        dto::InfoResponse {
            alias: self.live().alias,
            version: PROTOCOL_VERSION.to_owned(),
            device_model: self.device_model.clone(),
            device_type: Some(self.device_type),
            fingerprint: self.fingerprint.clone(),
            download: false,
        }
    }
}

/// The running LocalSend side. Dropping it shuts it down.
pub struct LocalSend {
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
}

impl LocalSend {
    /// Binds the server port (a free one if the configured one is taken), starts discovery and
    /// the server. Discovery that cannot start is a warning event, not an error.
    pub fn start(config: LocalSendConfig, hooks: Hooks) -> Result<LocalSend, StartError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(32)
            .thread_name("ferry-localsend")
            .enable_io()
            .enable_time()
            .build()
            .map_err(StartError::Runtime)?;
        // Only a side that takes offers serves anything: one that only looks or sends (the
        // command line's `send` and `peers`) has no listening socket at all (PROTOCOL.md §3:
        // commands that only send or look never receive).
        let listener = match config.receive {
            true => {
                let _in_runtime = runtime.enter();
                Some(server::bind(config.bind, config.port)?)
            }
            false => None,
        };
        let port = listener.as_ref().and_then(|l| l.local_addr().ok()).map_or(config.port, |a| a.port());
        let server_tls = tls::server_config(&config.identity).map_err(|e| StartError::Tls(e.to_string()))?;
        let shared = Arc::new(Shared {
            fingerprint: config.identity.localsend_fingerprint(),
            identity: config.identity,
            hooks,
            device_model: config.device_model,
            device_type: config.device_type,
            port,
            protocol: if config.encryption { dto::Protocol::Https } else { dto::Protocol::Http },
            receive: config.receive,
            hide_ferry_devices: config.hide_ferry_devices,
            timing: config.timing.clone(),
            multicast: config.multicast.clone(),
            bind: config.bind,
            live: Mutex::new(Live {
                alias: config.alias,
                receive_dir: config.receive_dir,
                accept_automatically: config.accept_automatically,
            }),
            server_tls,
            admission: Default::default(),
            peers: Mutex::new(peers::Table::default()),
            incoming: Mutex::new(receive::Sessions::default()),
            outgoing: Mutex::new(HashMap::new()),
            stopping: Default::default(),
            announce_now: Default::default(),
            runtime: runtime.handle().clone(),
        });
        if let Some(listener) = listener {
            runtime.spawn(server::serve(listener, shared.clone()));
        }
        runtime.spawn(receive::reaper(shared.clone()));
        runtime.spawn(peers::reaper(shared.clone()));
        if config.discovery {
            let started = {
                let _in_runtime = runtime.enter();
                discovery::Sockets::open(&shared)
            };
            match started {
                Ok(sockets) => {
                    runtime.spawn(discovery::run(sockets, shared.clone()));
                }
                // Bound to loopback on purpose (tests, a local-only setup): nothing to find.
                Err(_) if config.bind.is_loopback() => {}
                Err(e) => shared.emit(Event::Warning(Warning::LocalSendDiscovery { detail: e.to_string() })),
            }
        }
        Ok(LocalSend { runtime: Some(runtime), shared })
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// This device's LocalSend fingerprint (what phones show and remember).
    pub fn fingerprint(&self) -> &str {
        &self.shared.fingerprint
    }

    /// Whether `addr` is a LocalSend device we know (so a send to it goes over LocalSend).
    pub fn knows(&self, addr: SocketAddr) -> bool {
        self.shared.peers.lock().expect("peers lock").by_addr(addr).is_some()
    }

    /// Sends `paths` to the LocalSend device at `to`; everything after is reported as events of
    /// transfer `id`.
    pub fn send(&self, id: TransferId, to: SocketAddr, paths: Vec<PathBuf>) {
        if let Some(rt) = &self.runtime {
            send::start(rt, &self.shared, id, to, send::Payload::Files(paths));
        }
    }

    /// Sends `text` to the LocalSend device at `to` as LocalSend's own app sends a message (one
    /// `text/plain` file whose `preview` is the text); reported as events of transfer `id`, the
    /// same ones as a text sent to a Ferry peer.
    pub fn send_text(&self, id: TransferId, to: SocketAddr, text: String) {
        if let Some(rt) = &self.runtime {
            send::start(rt, &self.shared, id, to, send::Payload::Text(text));
        }
    }

    /// The person's answer to an offer from a LocalSend device. `false` if `transfer` is not
    /// one of ours.
    pub fn answer(&self, transfer: TransferId, decision: Decision) -> bool {
        receive::answer(&self.shared, transfer, decision)
    }

    /// Cancels a LocalSend transfer, either direction, at any stage; the other device is told.
    /// `false` if `transfer` is not one of ours.
    pub fn cancel(&self, transfer: TransferId) -> bool {
        let why = Why::Here(CancelReason::User);
        if let Some(out) = self.shared.outgoing.lock().expect("outgoing lock").get(&transfer) {
            out.stop.request(why);
            return true;
        }
        receive::cancel_session(&self.shared, transfer, why)
    }

    /// Announces now (a short burst), so devices nearby answer.
    pub fn refresh(&self) {
        self.shared.announce_now.notify_one();
    }

    /// Settings changed while running.
    pub fn update(
        &self,
        alias: Option<String>,
        receive_dir: Option<PathBuf>,
        accept_automatically: Option<bool>,
    ) {
        let mut live = self.shared.live.lock().expect("live settings lock");
        if let Some(a) = alias.filter(|a| *a != live.alias) {
            live.alias = a;
            // Devices nearby learn the new name now, not at the next periodic announcement.
            self.shared.announce_now.notify_one();
        }
        if let Some(d) = receive_dir {
            live.receive_dir = d;
        }
        if let Some(a) = accept_automatically {
            live.accept_automatically = a;
        }
    }

    /// Ends every transfer (the other devices are told), stops every task and waits for them.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        let shared = self.shared.clone();
        runtime.block_on(async {
            let outgoing: Vec<_> = shared.outgoing.lock().expect("outgoing lock").values().cloned().collect();
            for out in &outgoing {
                out.stop.request(Why::Here(CancelReason::Shutdown));
            }
            // The senders hear of it while their uploads still run; then everything stops.
            receive::shutdown(&shared).await;
            shared.stopping.request(Why::Here(CancelReason::Shutdown));
            // Each send ends within a second or two once stopped (it tells the receiver first).
            let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
            for out in outgoing {
                let _ = tokio::time::timeout_at(deadline, out.ended()).await;
            }
        });
        runtime.shutdown_timeout(Duration::from_secs(2));
    }
}

impl Drop for LocalSend {
    fn drop(&mut self) {
        self.stop();
    }
}
