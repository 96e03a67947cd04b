//! The engine: owns every background thread (discovery, the transfer listener, one per transfer,
//! probes) and talks to a front end through one channel of [`Command`]s in and one of [`Event`]s
//! out. After each event it calls the front end's waker, so a window repaints only when something
//! happened. Nothing here knows about egui.
//!
//! Threads: `ferry-engine` (this module's loop: routes commands, owns the table of peers and of
//! running transfers), `ferry-listener` (accepts connections), `ferry-send-N` / `ferry-recv-N`
//! (one per transfer, see [`crate::transfer`]), `ferry-probe` (adding a peer by address), and
//! discovery's own. Every one is joined on shutdown.

mod api;
mod config;
mod localsend;
mod probe;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use crate::events::*;
pub use api::*;
pub use config::{EngineConfig, env, fresh_identity, parse_broadcast_target};
use crossbeam_channel::{Receiver, Sender, select, unbounded};
pub use localsend::LocalSendOptions;
pub use localsend::env as localsend_env;

use crate::admission::{Admission, Refusal, Ticket};
use crate::discovery::{Discovery, DiscoveryConfig, DiscoveryEvent};
use crate::protocol::{CancelReason, ErrorCode, InstanceId, Message};
use crate::transfer::receive::{ReceiveSetup, receive};
use crate::transfer::send::{SendRequest, Thumbnailer, send};
use crate::transfer::{Cancel, Ctx, Emit, Identity};

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Couldn't accept transfers on {addr}: {source}. Is another copy of Ferry already running?")]
    Listen { addr: SocketAddr, source: std::io::Error },
    /// The device key cannot be used for TLS (a key file that loaded but does not sign).
    #[error("This device's key can't be used ({0}). Reset the identity (`ferry identity --reset`).")]
    Identity(String),
}

/// A running engine. Dropping it shuts it down.
pub struct Engine {
    commands: Sender<Command>,
    events: Receiver<Event>,
    /// `None` for an engine that does not receive ([`EngineConfig::listen`]).
    transfer_addr: Option<SocketAddr>,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Binds the transfer port (if it receives at all), starts discovery and every background
    /// thread. `waker` is called after each event. Discovery that cannot start is a
    /// [`Event::Warning`], not an error: sending by address still works.
    pub fn start(mut config: EngineConfig, waker: Waker) -> Result<Engine, StartError> {
        let (event_tx, events) = unbounded();
        let emit: Emit = Arc::new(move |event| {
            if event_tx.send(event).is_ok() {
                waker();
            }
        });
        // Only an engine that receives can be listed as a device.
        config.announce &= config.listen;
        // Built once from the device key, shared by every connection (protocol version 2).
        let tls = crate::transfer::tls::TlsContext::new(&config.identity)
            .map_err(|e| StartError::Identity(e.to_string()))?;
        for warning in config.warnings.drain(..) {
            emit(Event::Warning(warning));
        }
        let listener = if config.listen {
            let addr = SocketAddr::new(config.bind, config.transfer_port);
            let listener = TcpListener::bind(addr).map_err(|source| StartError::Listen { addr, source })?;
            let bound = listener.local_addr().map_err(|source| StartError::Listen { addr, source })?;
            Some((listener, bound))
        } else {
            None
        };
        let transfer_addr = listener.as_ref().map(|(_, addr)| *addr);
        let (commands, command_rx) = unbounded();
        let (internal_tx, internal_rx) = unbounded();

        if config.listen {
            match std::fs::create_dir_all(&config.receive_dir) {
                // Temporary files a crash left behind (older than an hour, so never a live one).
                Ok(()) => _ = crate::transfer::store::sweep_stale_parts(&config.receive_dir),
                Err(e) => emit(Event::Warning(Warning::ReceiveFolder {
                    path: config.receive_dir.clone(),
                    detail: e.to_string(),
                })),
            }
        }

        let listener_stop = Arc::new(AtomicBool::new(false));
        let listener_thread = listener.map(|(listener, _)| {
            let stop = listener_stop.clone();
            let tx = internal_tx.clone();
            // One admission per engine: every listener it runs (the LocalSend server too, once
            // there is one) must be handed a clone of this same one, so the limits hold across them.
            let admission = Admission::new(config.admission);
            thread::Builder::new()
                .name("ferry-listener".into())
                .spawn(move || accept_loop(listener, admission, stop, tx))
                .expect("spawning a thread failed")
        });
        // What HELLO and discovery say: 0 is "accepts no transfers".
        let transfer_port = transfer_addr.map_or(0, |a| a.port());

        let discovery = if config.discovery {
            let tx = internal_tx.clone();
            let started = Discovery::start(discovery_config(&config, transfer_port), move |e| {
                let _ = tx.send(Internal::Discovery(e));
            });
            match started {
                Ok(d) => Some(d),
                Err(e) => {
                    emit(Event::Warning(Warning::DiscoveryUnavailable { detail: e.to_string() }));
                    None
                }
            }
        } else {
            None
        };
        emit(Event::Ready {
            transfer_addr: transfer_addr.unwrap_or(SocketAddr::new(config.bind, 0)),
            discovery: discovery.is_some(),
        });
        let localsend = localsend::start(&config, emit.clone(), internal_tx.clone());

        let mut core = Core {
            identity: Identity {
                instance: config.instance,
                name: config.device_name.clone(),
                os: config.os,
                transfer_port,
                fingerprint: config.identity.fingerprint(),
            },
            tls,
            older_warned: Default::default(),
            config,
            emit,
            internal_tx,
            transfers: HashMap::new(),
            probes: Vec::new(),
            peers: HashMap::new(),
            discovery,
            localsend,
            listener_stop,
            listener_thread,
            transfer_addr,
            stopping: Arc::new(AtomicBool::new(false)),
        };
        for address in core.config.remembered_peers.clone() {
            core.probe(address, true);
        }
        let thread = thread::Builder::new()
            .name("ferry-engine".into())
            .spawn(move || core.run(command_rx, internal_rx))
            .expect("spawning a thread failed");
        Ok(Engine { commands, events, transfer_addr, thread: Some(thread) })
    }

    /// Where to send [`Command`]s.
    pub fn commands(&self) -> Sender<Command> {
        self.commands.clone()
    }

    /// Where [`Event`]s arrive.
    pub fn events(&self) -> Receiver<Event> {
        self.events.clone()
    }

    /// The address the transfer listener is bound to; `None` when this engine does not receive.
    pub fn transfer_addr(&self) -> Option<SocketAddr> {
        self.transfer_addr
    }

    /// Stops every thread and waits for them. Transfers under way are cancelled (the other side
    /// is told).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.commands.send(Command::Shutdown);
            let _ = thread.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

fn discovery_config(config: &EngineConfig, transfer_port: u16) -> DiscoveryConfig {
    DiscoveryConfig {
        instance: config.instance,
        name: config.device_name.clone(),
        os: config.os,
        transfer_port,
        bind: config.bind,
        port: config.discovery_port,
        broadcast: config.broadcast.clone(),
        announce_interval: config.timing.announce_interval,
        announce: config.announce,
        peer_timeout: config.timing.peer_timeout,
        fingerprint: Some(config.identity.fingerprint()),
        known: Some(config.known.clone()),
    }
}

/// What the engine's own threads tell its loop.
enum Internal {
    /// A connection the admission let in, with its place.
    Accepted(TcpStream, SocketAddr, Ticket),
    Discovery(DiscoveryEvent),
    Probed(Peer),
    Ended(TransferId),
    LocalSend(crate::localsend::PeerChange),
}

/// One transfer's thread and the handles to steer it.
struct Running {
    cancel: Cancel,
    /// Incoming transfers: where the person's answer goes.
    decisions: Option<Sender<Decision>>,
    thread: JoinHandle<()>,
}

/// The state the engine thread owns.
struct Core {
    config: EngineConfig,
    identity: Identity,
    /// This device's TLS settings, made once from its key.
    tls: crate::transfer::tls::TlsContext,
    /// Version-1 senders already reported, by address (once a minute each).
    older_warned: crate::transfer::receive::OlderWarned,
    emit: Emit,
    internal_tx: Sender<Internal>,
    transfers: HashMap<TransferId, Running>,
    probes: Vec<JoinHandle<()>>,
    peers: HashMap<InstanceId, Peer>,
    discovery: Option<Discovery>,
    /// The LocalSend side (phones), when it is on.
    localsend: Option<crate::localsend::LocalSend>,
    listener_stop: Arc<AtomicBool>,
    listener_thread: Option<JoinHandle<()>>,
    transfer_addr: Option<SocketAddr>,
    /// Set at shutdown; probes look at it between reads.
    stopping: Arc<AtomicBool>,
}

impl Core {
    fn run(mut self, commands: Receiver<Command>, internal: Receiver<Internal>) {
        loop {
            select! {
                recv(commands) -> cmd => match cmd {
                    Ok(Command::Shutdown) | Err(_) => break,
                    Ok(cmd) => self.command(cmd),
                },
                recv(internal) -> msg => if let Ok(msg) = msg { self.internal(msg) },
            }
        }
        self.shutdown();
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Send { id, to, paths } => {
                if self.localsend_send(id, to, &paths) {
                    return;
                }
                let peer = self.peers.values().find(|p| p.addr == to);
                let peer_name = peer.map(|p| p.name.clone()).unwrap_or_else(|| to.to_string());
                let pin = pin_for(peer);
                let req =
                    SendRequest { to, paths, peer_name, pin, thumbnailer: self.thumbnailer(), text: None };
                self.spawn(id, "send", None, move |ctx| send(&ctx, req));
            }
            Command::SendText { id, to, text } => {
                if self.localsend_send_text(id, to, &text) {
                    return;
                }
                let peer = self.peers.values().find(|p| p.addr == to);
                let peer_name = peer.map(|p| p.name.clone()).unwrap_or_else(|| to.to_string());
                let pin = pin_for(peer);
                let req = SendRequest {
                    to,
                    paths: Vec::new(),
                    peer_name,
                    pin,
                    thumbnailer: None,
                    text: Some(text),
                };
                self.spawn(id, "send", None, move |ctx| send(&ctx, req));
            }
            Command::Answer { transfer, decision } => {
                if self.localsend_answer(transfer, &decision) {
                    return;
                }
                if let Some(tx) = self.transfers.get(&transfer).and_then(|t| t.decisions.as_ref()) {
                    // Only the first answer counts; never block the engine on a repeated one.
                    let _ = tx.try_send(decision);
                }
            }
            Command::Cancel(id) => {
                if self.localsend_cancel(id) {
                    return;
                }
                if let Some(t) = self.transfers.get(&id) {
                    t.cancel.request(CancelReason::User);
                }
            }
            Command::AddPeer(address) => self.probe(address, false),
            Command::RefreshDiscovery => {
                if let Some(d) = &self.discovery {
                    d.refresh();
                }
                if let Some(ls) = &self.localsend {
                    ls.refresh();
                }
            }
            Command::UpdateSettings(s) => {
                if let Some(name) = s.device_name.filter(|n| *n != self.identity.name) {
                    self.identity.name = name.clone();
                    self.config.device_name = name.clone();
                    if let Some(d) = &self.discovery {
                        d.set_name(name);
                    }
                }
                if let Some(dir) = s.receive_dir {
                    if self.config.listen
                        && let Err(e) = std::fs::create_dir_all(&dir)
                    {
                        (self.emit)(Event::Warning(Warning::NewReceiveFolder {
                            path: dir.clone(),
                            detail: e.to_string(),
                        }));
                    }
                    self.config.receive_dir = dir;
                }
                if let Some(auto) = s.accept_automatically {
                    self.config.accept_automatically = auto;
                }
                if let Some(on) = s.localsend {
                    self.set_localsend(on);
                }
                if let Some(ls) = &self.localsend {
                    ls.update(
                        Some(self.config.device_name.clone()),
                        Some(self.config.receive_dir.clone()),
                        Some(self.config.accept_automatically),
                    );
                }
            }
            Command::Shutdown => unreachable!("handled by the loop"),
        }
    }

    fn internal(&mut self, msg: Internal) {
        match msg {
            Internal::Accepted(stream, addr, ticket) => self.accepted(stream, addr, ticket),
            Internal::Discovery(DiscoveryEvent::Seen(peer) | DiscoveryEvent::Updated(peer)) => {
                self.peer(peer)
            }
            Internal::Discovery(DiscoveryEvent::Lost(id)) => {
                if self.peers.get(&id).is_some_and(|p| p.source == PeerSource::Discovered) {
                    self.peers.remove(&id);
                    (self.emit)(Event::PeerLost(id));
                }
            }
            Internal::Probed(peer) => self.peer(peer),
            Internal::LocalSend(change) => self.localsend_peer(change),
            Internal::Ended(id) => {
                if let Some(t) = self.transfers.remove(&id) {
                    let _ = t.thread.join();
                }
                self.probes.retain(|p| !p.is_finished());
            }
        }
    }

    /// A peer was seen (again): new ones are announced, changed ones updated. A peer added by
    /// hand stays "manual" when discovery hears it too.
    fn peer(&mut self, mut peer: Peer) {
        if peer.instance == self.identity.instance {
            return;
        }
        match self.peers.get(&peer.instance) {
            None => {
                self.peers.insert(peer.instance, peer.clone());
                (self.emit)(Event::PeerSeen(peer));
            }
            Some(old) => {
                if old.source == PeerSource::Manual {
                    peer.source = PeerSource::Manual;
                }
                if *old != peer {
                    self.peers.insert(peer.instance, peer.clone());
                    (self.emit)(Event::PeerUpdated(peer));
                }
            }
        }
    }

    fn accepted(&mut self, stream: TcpStream, peer_addr: SocketAddr, ticket: Ticket) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let setup = ReceiveSetup {
            peer_addr,
            receive_dir: self.config.receive_dir.clone(),
            accept_automatically: self.config.accept_automatically,
            decisions: rx,
            ticket,
            older_warned: self.older_warned.clone(),
        };
        self.spawn(TransferId::next(), "recv", Some(tx), move |ctx| receive(&ctx, stream, setup));
    }

    fn spawn(
        &mut self,
        id: TransferId,
        kind: &str,
        decisions: Option<Sender<Decision>>,
        work: impl FnOnce(Ctx) + Send + 'static,
    ) {
        let cancel = Cancel::default();
        let ctx = Ctx {
            id,
            cancel: cancel.clone(),
            emit: self.emit.clone(),
            timing: self.config.timing.clone(),
            me: self.identity.clone(),
            tls: self.tls.clone(),
            known: self.config.known.clone(),
        };
        let done = self.internal_tx.clone();
        let thread = thread::Builder::new()
            .name(format!("ferry-{kind}-{}", id.0))
            .spawn(move || {
                work(ctx);
                let _ = done.send(Internal::Ended(id));
            })
            .expect("spawning a thread failed");
        self.transfers.insert(id, Running { cancel, decisions, thread });
    }

    fn probe(&mut self, address: String, remembered: bool) {
        let ctx = probe::ProbeCtx {
            me: self.identity.clone(),
            tls: self.tls.clone(),
            known: self.config.known.clone(),
            timeout: self.config.timing.handshake_timeout,
            stopping: self.stopping.clone(),
            emit: self.emit.clone(),
            found: self.internal_tx.clone(),
        };
        let thread = thread::Builder::new()
            .name("ferry-probe".into())
            .spawn(move || {
                if let Some(peer) = probe::probe(&ctx, &address, remembered) {
                    let _ = ctx.found.send(Internal::Probed(peer));
                }
            })
            .expect("spawning a thread failed");
        self.probes.push(thread);
    }

    fn thumbnailer(&self) -> Option<Thumbnailer> {
        self.config.thumbnails.then_some(crate::thumbnail::make_thumbnail as Thumbnailer)
    }

    fn shutdown(mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        for t in self.transfers.values_mut() {
            t.cancel.request(CancelReason::Shutdown);
            t.decisions = None;
        }
        self.listener_stop.store(true, Ordering::SeqCst);
        if let Some(addr) = self.transfer_addr {
            wake_listener(addr);
        }
        if let Some(d) = self.discovery.take() {
            d.shutdown();
        }
        if let Some(ls) = self.localsend.take() {
            ls.shutdown();
        }
        if let Some(l) = self.listener_thread.take() {
            let _ = l.join();
        }
        for (_, t) in self.transfers.drain() {
            let _ = t.thread.join();
        }
        for p in self.probes.drain(..) {
            let _ = p.join();
        }
        (self.emit)(Event::Stopped);
    }
}

/// Accepts connections; the admission decides at once who is let in (the engine gets those)
/// and who is refused (told so here, without waiting for anything).
fn accept_loop(listener: TcpListener, admission: Admission, stop: Arc<AtomicBool>, tx: Sender<Internal>) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match conn {
            Ok(stream) => {
                let Ok(addr) = stream.peer_addr() else { continue };
                match admission.try_admit(addr.ip()) {
                    Ok(ticket) => {
                        if tx.send(Internal::Accepted(stream, addr, ticket)).is_err() {
                            return;
                        }
                    }
                    Err(refusal) => refuse(stream, refusal),
                }
            }
            // Out of file descriptors and the like: wait a moment instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A blocking `accept` has no timeout: a connection of our own wakes it at shutdown.
fn wake_listener(addr: SocketAddr) {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let _ = TcpStream::connect_timeout(&SocketAddr::new(ip, addr.port()), Duration::from_secs(1));
}

/// Not let in: say why (ERROR Overloaded) without blocking, and close.
fn refuse(stream: TcpStream, refusal: Refusal) {
    use std::io::Write;
    let mut bytes = Vec::new();
    crate::protocol::frame::encode_message(
        &Message::Error { code: ErrorCode::Overloaded, message: refusal.to_string() },
        &mut bytes,
    );
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write_all(&bytes);
}

/// The key a send to `peer` is held to: the one the list showed for it (its discovery hint, or
/// the key a probe proved), so that another key at its address fails the handshake — the person
/// picked that device, known or new, and `ferry send --to FINGERPRINT` picked that key. A peer
/// given by a bare address has none; then the handshake proves whatever key it has.
fn pin_for(peer: Option<&Peer>) -> Option<crate::identity::Fingerprint> {
    peer.and_then(|p| p.fingerprint)
}
