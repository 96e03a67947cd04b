//! Finding other Ferry devices on the local network: announcing ourselves over UDP broadcast and
//! keeping the table of peers heard from.
//!
//! How it goes (the datagrams are [`crate::protocol::datagram`]):
//!
//! * At start a node broadcasts a **Query** ("I am here, who else is?"). Every node that hears a
//!   query answers at once with a **Reply**, by unicast to the query's source address, so a new
//!   node sees everybody within milliseconds instead of waiting for the next announce.
//! * Then it broadcasts an **Announce** every `announce_interval` (± 20 %).
//! * On shutdown it broadcasts a **Goodbye**, and peers drop it at once. A peer that vanishes
//!   without one is dropped after `peer_timeout`.
//!
//! This module knows nothing of the engine's events: changes to the table are reported as
//! [`DiscoveryEvent`]s through a callback, and the engine turns them into its own.
//!
//! Threads: one main loop (`ferry-discovery`) owns the table, the timers and every send; two
//! readers (`ferry-discovery-rx-shared`, `ferry-discovery-rx-own`, one per socket, see [`net`]
//! for why there are two) decode datagrams and hand them over a channel. All three are joined by
//! [`Discovery::shutdown`] (or on drop).

mod net;
mod table;
mod worker;

#[cfg(test)]
mod tests;

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;

pub use net::broadcast_targets;
use worker::{Control, Worker};

use crate::events::Peer;
use crate::identity::Fingerprint;
use crate::identity::known::KnownDevices;
use crate::protocol::{InstanceId, Os};

/// Most peers kept in the table (see `table` for who gets a place when it is full).
pub const MAX_PEERS: usize = 256;
/// Most peers in the table first heard from one source address: a flood from one computer
/// lists at most this many made-up devices and leaves the rest of the table to others.
pub const MAX_PEERS_PER_ADDRESS: usize = 16;

/// Decoded datagrams waiting for the main loop; more are dropped, as a full socket buffer would.
const INBOX_CAPACITY: usize = 256;

/// Everything discovery needs to know about us and the network.
#[derive(Clone, Debug)]
pub struct DiscoveryConfig {
    /// Peers tell us apart by it; datagrams carrying it are our own and are ignored.
    pub instance: InstanceId,
    /// Our device name as announced (peers clean it before showing it).
    pub name: String,
    pub os: Os,
    /// The TCP port we accept transfers on; peers combine it with our source IP.
    pub transfer_port: u16,
    /// The address both sockets keep to: `0.0.0.0` normally (every interface), `127.0.0.1` in
    /// tests. See `net` for what the listening socket binds then.
    pub bind: IpAddr,
    /// The discovery UDP port every node shares.
    pub port: u16,
    /// Where broadcasts go; `None`: [`broadcast_targets`], recomputed for every send.
    pub broadcast: Option<Vec<SocketAddr>>,
    pub announce_interval: Duration,
    /// `false`: look without being listed (the command line's `send` and `peers`): the start-up
    /// question is a SEARCH, which others answer without listing us; no periodic announces, no
    /// replies, no goodbye.
    pub announce: bool,
    /// A peer not heard from for this long leaves the table.
    pub peer_timeout: Duration,
    /// This device's key, announced in every datagram's fingerprint field as a hint (the
    /// handshake decides); `None` announces none (version 1).
    pub fingerprint: Option<Fingerprint>,
    /// The store that says whether a (name, hint) is known, new or changed. `None`: every peer
    /// is new (tests).
    pub known: Option<Arc<Mutex<KnownDevices>>>,
}

/// A change in the table of peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// A peer we did not know (or had lost) was heard from.
    Seen(Peer),
    /// A known peer's name, OS or address changed.
    Updated(Peer),
    /// A peer said goodbye or was not heard from for the peer timeout.
    Lost(InstanceId),
}

/// Running discovery. Dropping it shuts it down like [`Discovery::shutdown`].
pub struct Discovery {
    control: Sender<Control>,
    /// Tells the readers to stop.
    stop: Arc<AtomicBool>,
    /// Kept to wake the readers on shutdown.
    sockets: [Arc<UdpSocket>; 2],
    main: Option<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
}

impl Discovery {
    /// Binds both sockets, sends the first Query before returning, and starts the threads.
    /// `on_event` is called on the discovery thread for every change to the table; it should
    /// return quickly (hand the event to a channel).
    pub fn start(
        cfg: DiscoveryConfig,
        on_event: impl Fn(DiscoveryEvent) + Send + Sync + 'static,
    ) -> io::Result<Discovery> {
        let port = cfg.port;
        let shared = Arc::new(net::listen_socket(cfg.bind, port).map_err(|e| {
            io::Error::new(e.kind(), format!("Couldn't listen for other devices on UDP port {port}: {e}"))
        })?);
        let own = Arc::new(net::send_socket(cfg.bind).map_err(|e| {
            io::Error::new(e.kind(), format!("Couldn't open a network socket to announce this device: {e}"))
        })?);

        let worker = Worker::new(cfg, own.clone(), Box::new(on_event));
        // Before any thread exists: being seen fast matters, and replies wait in the socket's
        // buffer until the reader runs.
        worker.broadcast(worker.question());

        let stop = Arc::new(AtomicBool::new(false));
        let (inbox_tx, inbox_rx) = crossbeam_channel::bounded(INBOX_CAPACITY);
        let (control_tx, control_rx) = crossbeam_channel::unbounded();
        let mut discovery = Discovery {
            control: control_tx,
            stop: stop.clone(),
            sockets: [shared.clone(), own.clone()],
            main: None,
            readers: Vec::new(),
        };
        // On an error below, dropping `discovery` stops and joins whatever already started.
        for (name, socket) in [("ferry-discovery-rx-shared", shared), ("ferry-discovery-rx-own", own)] {
            let (stop, tx) = (stop.clone(), inbox_tx.clone());
            let handle = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || net::read_loop(socket, stop, tx))?;
            discovery.readers.push(handle);
        }
        drop(inbox_tx);
        discovery.main = Some(
            std::thread::Builder::new()
                .name("ferry-discovery".into())
                .spawn(move || worker.run(control_rx, inbox_rx))?,
        );
        Ok(discovery)
    }

    /// Asks "who is there?" now; everyone answers at once.
    pub fn refresh(&self) {
        let _ = self.control.send(Control::Refresh);
    }

    /// Changes the name we announce, and announces it at once.
    pub fn set_name(&self, name: String) {
        let _ = self.control.send(Control::SetName(name));
    }

    /// Says goodbye to the network, stops every thread and waits for them.
    pub fn shutdown(self) {
        // Drop does the work, so a dropped handle and a shut-down one behave the same.
    }

    fn stop_and_join(&mut self) {
        let _ = self.control.send(Control::Shutdown);
        // The main loop first: it sends the goodbye, from a socket the readers also use.
        if let Some(main) = self.main.take() {
            let _ = main.join();
        }
        self.stop.store(true, Ordering::Relaxed);
        for socket in &self.sockets {
            net::wake_reader(socket);
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
