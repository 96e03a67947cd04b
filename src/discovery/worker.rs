//! The discovery main loop: owns the peer table, the timers and every send.
//!
//! Readers feed it decoded datagrams; the [`super::Discovery`] handle feeds it [`Control`]
//! messages. It sleeps until one of them arrives or the next timer (announce, a peer's
//! expiry) is due, so an idle node wakes only about once per announce interval.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use super::net::{Received, broadcast_targets};
use super::table::{Heard, PeerTable};
use super::{DiscoveryConfig, DiscoveryEvent, MAX_PEERS, MAX_PEERS_PER_ADDRESS};
use crate::events::Trust;
use crate::identity::Fingerprint;
use crate::protocol::{Datagram, DatagramKind, clean_display_name};

/// Most replies to queries sent per second. A node answers every query it hears; this keeps a
/// flood of (possibly spoofed) queries from turning us into a flood of replies.
const MAX_REPLIES_PER_SECOND: u32 = 64;

/// How long the loop sleeps when no timer is due; only a bound, nothing happens when it ends.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

pub(super) enum Control {
    /// Ask "who is there?" now.
    Refresh,
    /// Our device name changed: announce the new one at once.
    SetName(String),
    /// Say goodbye and stop.
    Shutdown,
}

pub(super) type Callback = Box<dyn Fn(DiscoveryEvent) + Send + Sync + 'static>;

pub(super) struct Worker {
    cfg: DiscoveryConfig,
    /// Our own socket (see `net`): every send leaves from it.
    socket: Arc<UdpSocket>,
    table: PeerTable,
    on_event: Callback,
    /// `None` when we do not announce (`cfg.announce == false`).
    next_announce: Option<Instant>,
    /// Replies left in the current one-second window, and when the window ends.
    replies_left: u32,
    replies_reset: Instant,
}

impl Worker {
    pub(super) fn new(cfg: DiscoveryConfig, socket: Arc<UdpSocket>, on_event: Callback) -> Self {
        let now = Instant::now();
        // Half the timeout: long enough to ride out one lost announce from the preferred
        // address, short enough that a peer that really moved is reachable again soon.
        let table = PeerTable::new(MAX_PEERS, MAX_PEERS_PER_ADDRESS, cfg.peer_timeout, cfg.peer_timeout / 2);
        let next_announce = cfg.announce.then(|| now + jittered(cfg.announce_interval));
        Worker {
            cfg,
            socket,
            table,
            on_event,
            next_announce,
            replies_left: MAX_REPLIES_PER_SECOND,
            replies_reset: now,
        }
    }

    /// Runs until told to shut down (or the handle is gone), then says goodbye.
    pub(super) fn run(mut self, control: Receiver<Control>, mut inbox: Receiver<Received>) {
        loop {
            let deadline = [self.table.next_expiry(), self.next_announce].into_iter().flatten().min();
            // Nothing due (a quiet node with an empty table): sleep until a datagram or a command.
            let wait = deadline.map_or(IDLE_WAIT, |d| d.saturating_duration_since(Instant::now()));
            select! {
                recv(control) -> msg => match msg {
                    Ok(Control::Refresh) => self.broadcast(self.question()),
                    Ok(Control::SetName(name)) => {
                        self.cfg.name = name;
                        if self.cfg.announce {
                            self.announce_now();
                        }
                    }
                    Ok(Control::Shutdown) | Err(_) => break,
                },
                recv(inbox) -> msg => match msg {
                    Ok(received) => self.handle(received),
                    // Both readers ended (they only do on shutdown): stop listening to a
                    // closed channel, which would otherwise fire on every select.
                    Err(_) => inbox = crossbeam_channel::never(),
                },
                default(wait) => {}
            }
            let now = Instant::now();
            if self.next_announce.is_some_and(|t| now >= t) {
                self.announce_now();
            }
            for event in self.table.expire(now) {
                (self.on_event)(event);
            }
        }
        if self.cfg.announce {
            self.broadcast(DatagramKind::Goodbye);
        }
    }

    /// How we ask "who is there?": a Query lists us too; a Search (when we do not announce)
    /// only looks.
    pub(super) fn question(&self) -> DatagramKind {
        if self.cfg.announce { DatagramKind::Query } else { DatagramKind::Search }
    }

    fn announce_now(&mut self) {
        self.broadcast(DatagramKind::Announce);
        self.next_announce = Some(Instant::now() + jittered(self.cfg.announce_interval));
    }

    fn handle(&mut self, Received { datagram: d, from }: Received) {
        if d.instance == self.cfg.instance {
            return; // our own broadcast, heard on the shared port
        }
        if d.kind == DatagramKind::Goodbye {
            if let Some(event) = self.table.remove(d.instance) {
                (self.on_event)(event);
            }
            return;
        }
        if d.kind == DatagramKind::Search {
            // Someone only looking: answer, but it is not a device to list.
            if self.cfg.announce && self.may_reply() {
                let _ = self.socket.send_to(&self.encode(DatagramKind::Reply), from);
            }
            return;
        }
        // `decode` refused blank names; this also refuses names made only of invisible or
        // control characters.
        let Some(name) = clean_display_name(&d.name) else { return };
        let addr = SocketAddr::new(from.ip(), d.transfer_port);
        // Exactly 32 bytes is a device key; anything else (empty from version 1) is no hint.
        let hint = <[u8; 32]>::try_from(d.fingerprint.as_slice()).ok().map(Fingerprint);
        let trust = match &self.cfg.known {
            Some(known) => {
                let store = known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                crate::identity::known::trust_of(&store, &name, hint.as_ref())
            }
            None => Trust::New,
        };
        let heard = Heard { instance: d.instance, name, os: d.os, addr, fingerprint: hint, trust };
        for event in self.table.observe_heard(heard, Instant::now()) {
            (self.on_event)(event);
        }
        if d.kind == DatagramKind::Query && self.cfg.announce && self.may_reply() {
            // Unicast to the source: that is the querier's own socket, so only it hears this.
            let _ = self.socket.send_to(&self.encode(DatagramKind::Reply), from);
        }
    }

    fn may_reply(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.replies_reset {
            self.replies_left = MAX_REPLIES_PER_SECOND;
            self.replies_reset = now + Duration::from_secs(1);
        }
        let allowed = self.replies_left > 0;
        self.replies_left = self.replies_left.saturating_sub(1);
        allowed
    }

    /// Sends `kind` to every broadcast target. A target that fails is skipped: 255.255.255.255
    /// fails with "network unreachable" on a host without a default route, and that is normal.
    pub(super) fn broadcast(&self, kind: DatagramKind) {
        let bytes = self.encode(kind);
        // Interfaces come and go (a laptop joins Wi-Fi), so computed targets are recomputed
        // for every send; it costs one getifaddrs call every couple of seconds.
        let computed;
        let targets = match &self.cfg.broadcast {
            Some(fixed) => fixed,
            None => {
                computed = broadcast_targets(self.cfg.port);
                &computed
            }
        };
        for target in targets {
            let _ = self.socket.send_to(&bytes, target);
        }
    }

    fn encode(&self, kind: DatagramKind) -> Vec<u8> {
        Datagram {
            kind,
            instance: self.cfg.instance,
            transfer_port: self.cfg.transfer_port,
            os: self.cfg.os,
            name: self.cfg.name.clone(),
            fingerprint: self.cfg.fingerprint.map(|f| f.0.to_vec()).unwrap_or_default(),
        }
        .encode()
    }
}

/// `interval` ± 20 %, so nodes started together (after a power cut, say) drift apart instead of
/// announcing in lockstep.
fn jittered(interval: Duration) -> Duration {
    // A failing random source only costs the jitter.
    let r = getrandom::u32().unwrap_or(u32::MAX / 2);
    interval.mul_f64(0.8 + 0.4 * (f64::from(r) / f64::from(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_twenty_percent_and_varies() {
        let base = Duration::from_secs(2);
        let samples: Vec<Duration> = (0..200).map(|_| jittered(base)).collect();
        for s in &samples {
            assert!(*s >= base.mul_f64(0.8) && *s <= base.mul_f64(1.2), "{s:?}");
        }
        assert!(samples.iter().any(|s| *s != samples[0]), "no jitter at all");
    }
}
