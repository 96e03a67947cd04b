//! The engine's LocalSend side ([`crate::localsend`]): started and stopped with the engine, its
//! devices merged into the engine's one list, and the commands for its transfers routed to it.
//! Everything LocalSend-specific the engine does is in this file; `mod.rs` only calls it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;

use super::{Core, EngineConfig, Internal};
use crate::events::{Decision, Event, PeerSource, TransferId, Trust, Warning};
use crate::identity::Fingerprint;
use crate::identity::known::{KnownDevices, KnownDevicesWarning, Sighting};
use crate::localsend::{
    DEFAULT_MULTICAST_GROUP, DEFAULT_PORT, Hooks, LocalSend, LocalSendConfig, Multicast, PeerChange,
    ProvenSender, Timing, TrustedSenders,
};
use crate::transfer::Emit;

/// How the engine runs its LocalSend side.
#[derive(Clone, Debug)]
pub struct LocalSendOptions {
    /// Speak LocalSend at all. Off in a bare [`EngineConfig::new`]; front ends turn it on from
    /// the settings (where it is on by default).
    pub enabled: bool,
    /// TCP port of its server (53317; a free one when taken).
    pub port: u16,
    /// Its discovery group and port (224.0.0.167:53317), or a broadcast address for tests.
    pub group: Ipv4Addr,
    pub group_port: u16,
    /// Interfaces for its discovery, by name or address; empty: every non-loopback one (and
    /// only the one with [`EngineConfig::bind`]'s address when that is not 0.0.0.0).
    pub interfaces: Vec<String>,
    /// Announce HTTPS (off: plain HTTP, for phones with LocalSend's encryption off).
    pub encryption: bool,
    /// Leave other Ferry devices out of the LocalSend list (Ferry's own discovery lists them).
    /// Off only in tests that need two Ferrys to see each other as LocalSend devices.
    pub hide_ferry_devices: bool,
    pub timing: Timing,
}

impl Default for LocalSendOptions {
    fn default() -> Self {
        LocalSendOptions {
            enabled: false,
            port: DEFAULT_PORT,
            group: DEFAULT_MULTICAST_GROUP,
            group_port: DEFAULT_PORT,
            interfaces: Vec::new(),
            encryption: true,
            hide_ferry_devices: true,
            timing: Timing::default(),
        }
    }
}

/// Environment variables for the LocalSend side, next to [`super::env`].
pub mod env {
    /// `0`/`off`/`false` switches LocalSend off, `1`/`on`/`true` on.
    pub const LOCALSEND: &str = "FERRY_LOCALSEND";
    /// TCP port of the LocalSend server.
    pub const LOCALSEND_PORT: &str = "FERRY_LOCALSEND_PORT";
    /// `ADDR` or `ADDR:PORT`: the discovery group (or a broadcast address on loopback).
    pub const LOCALSEND_GROUP: &str = "FERRY_LOCALSEND_GROUP";
    /// Comma-separated interfaces (names or IPv4 addresses) for LocalSend discovery.
    pub const LOCALSEND_INTERFACES: &str = "FERRY_LOCALSEND_INTERFACES";
}

impl LocalSendOptions {
    /// Applies the `FERRY_LOCALSEND*` variables in [`env`].
    pub fn apply_env(&mut self) -> Result<(), String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(v) = var(env::LOCALSEND) {
            self.enabled = parse_switch(env::LOCALSEND, &v)?;
        }
        if let Some(v) = var(env::LOCALSEND_PORT) {
            self.port = v
                .trim()
                .parse()
                .map_err(|_| format!("{} must be a port number, not {v:?}", env::LOCALSEND_PORT))?;
        }
        if let Some(v) = var(env::LOCALSEND_GROUP) {
            self.set_group(&v)?;
        }
        if let Some(v) = var(env::LOCALSEND_INTERFACES) {
            self.interfaces = v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        }
        Ok(())
    }

    /// `ADDR` or `ADDR:PORT` (the port stays when not given).
    pub fn set_group(&mut self, s: &str) -> Result<(), String> {
        let s = s.trim();
        let bad =
            || format!("{s:?} is not a LocalSend discovery address (like 224.0.0.167 or 224.0.0.167:53317)");
        if let Ok(addr) = s.parse::<std::net::SocketAddrV4>() {
            self.group = *addr.ip();
            self.group_port = addr.port();
        } else {
            self.group = s.parse().map_err(|_| bad())?;
        }
        Ok(())
    }
}

fn parse_switch(name: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "true" | "yes" => Ok(true),
        "0" | "off" | "false" | "no" => Ok(false),
        _ => Err(format!("{name} must be on or off, not {v:?}")),
    }
}

/// Starts the LocalSend side when it is enabled. A failure to start is a warning, never the end
/// of the engine: Ferry's own protocol still works.
pub(super) fn start(config: &EngineConfig, emit: Emit, internal: Sender<Internal>) -> Option<LocalSend> {
    let o = &config.localsend;
    if !o.enabled {
        return None;
    }
    let mut c =
        LocalSendConfig::new(config.identity.clone(), config.device_name.clone(), config.receive_dir.clone());
    c.device_model = Some(config.os.label().to_owned());
    c.bind = config.bind;
    // `ferry send` and `ferry peers` are not devices and never receive: no server at all.
    c.port = o.port;
    c.receive = config.listen;
    c.discovery = config.discovery;
    c.multicast = Multicast { group: o.group, port: o.group_port, interfaces: o.interfaces.clone() };
    c.encryption = o.encryption;
    c.accept_automatically = config.accept_automatically;
    c.hide_ferry_devices = o.hide_ferry_devices;
    c.timing = o.timing.clone();
    let hooks = Hooks {
        emit: emit.clone(),
        peers: Arc::new(move |change| {
            let _ = internal.send(Internal::LocalSend(change));
        }),
        trust: Arc::new(KnownSenders { known: config.known.clone(), emit: emit.clone() }),
    };
    match LocalSend::start(c, hooks) {
        Ok(ls) => Some(ls),
        Err(e) => {
            emit(Event::Warning(Warning::LocalSendServer { detail: e.to_string() }));
            None
        }
    }
}

/// LocalSend's trust questions, answered by the engine's store of known devices (the same one
/// Ferry's own protocol and the window use). A sender is its client certificate's key
/// ([`ProvenSender::key`], `Fingerprint::of_certificate`), never the fingerprint in its JSON.
pub(super) struct KnownSenders {
    pub known: Arc<Mutex<KnownDevices>>,
    pub emit: crate::transfer::Emit,
}

impl KnownSenders {
    fn store(&self) -> std::sync::MutexGuard<'_, KnownDevices> {
        self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl TrustedSenders for KnownSenders {
    fn always_accept(&self, sender: &ProvenSender) -> bool {
        self.store().accepts_automatically(&sender.key)
    }

    fn trust(&self, name: &str, key: Option<&Fingerprint>) -> Trust {
        crate::identity::known::trust_of(&self.store(), name, key)
    }

    fn remember(&self, sender: &ProvenSender, name: &str, addr: SocketAddr) {
        let seen = Sighting { fingerprint: sender.key, name, address: Some(addr) };
        if let Err(e) = self.store().remember(&seen) {
            let warning = KnownDevicesWarning::NotSaved { detail: e.to_string() };
            (self.emit)(Event::Warning(Warning::KnownDevices(warning)));
        }
    }
}

impl Core {
    /// LocalSend switched on or off in the settings: its side starts or stops now (its transfers
    /// under way stop, its devices leave the list).
    pub(super) fn set_localsend(&mut self, on: bool) {
        self.config.localsend.enabled = on;
        if on && self.localsend.is_none() {
            self.localsend = start(&self.config, self.emit.clone(), self.internal_tx.clone());
        } else if !on && let Some(ls) = self.localsend.take() {
            ls.shutdown();
            let gone: Vec<_> = self
                .peers
                .values()
                .filter(|p| matches!(p.source, PeerSource::LocalSend(_)))
                .map(|p| p.instance)
                .collect();
            for id in gone {
                self.peers.remove(&id);
                (self.emit)(Event::PeerLost(id));
            }
        }
    }

    /// A LocalSend device appeared, changed or went away.
    pub(super) fn localsend_peer(&mut self, change: PeerChange) {
        match change {
            // Heard just before LocalSend was switched off.
            PeerChange::Seen(_) if self.localsend.is_none() => {}
            PeerChange::Seen(peer) => self.peer(peer),
            PeerChange::Lost(id) => {
                if self.peers.get(&id).is_some_and(|p| matches!(p.source, PeerSource::LocalSend(_))) {
                    self.peers.remove(&id);
                    (self.emit)(Event::PeerLost(id));
                }
            }
        }
    }

    /// The LocalSend side, when `to` is one of its devices (then a send to it goes over LocalSend).
    fn localsend_for(&self, to: SocketAddr) -> Option<&LocalSend> {
        let ls = self.localsend.as_ref()?;
        let listed =
            self.peers.values().any(|p| p.addr == to && matches!(p.source, PeerSource::LocalSend(_)));
        (listed && ls.knows(to)).then_some(ls)
    }

    /// Sends over LocalSend when `to` is a LocalSend device; `false` otherwise.
    pub(super) fn localsend_send(
        &self,
        id: TransferId,
        to: SocketAddr,
        paths: &[std::path::PathBuf],
    ) -> bool {
        let Some(ls) = self.localsend_for(to) else { return false };
        ls.send(id, to, paths.to_vec());
        true
    }

    /// Sends a text over LocalSend (as LocalSend's app sends a message) when `to` is a LocalSend
    /// device; `false` otherwise.
    pub(super) fn localsend_send_text(&self, id: TransferId, to: SocketAddr, text: &str) -> bool {
        let Some(ls) = self.localsend_for(to) else { return false };
        ls.send_text(id, to, text.to_owned());
        true
    }

    /// The person's answer to an offer from a LocalSend device; `false` if not one of its.
    pub(super) fn localsend_answer(&self, transfer: TransferId, decision: &Decision) -> bool {
        self.localsend.as_ref().is_some_and(|ls| ls.answer(transfer, decision.clone()))
    }

    /// Cancel for a LocalSend transfer; `false` if not one of its.
    pub(super) fn localsend_cancel(&self, transfer: TransferId) -> bool {
        self.localsend.as_ref().is_some_and(|ls| ls.cancel(transfer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_takes_an_address_with_or_without_a_port() {
        let mut o = LocalSendOptions::default();
        o.set_group("224.0.0.200").unwrap();
        assert_eq!((o.group, o.group_port), (Ipv4Addr::new(224, 0, 0, 200), DEFAULT_PORT));
        o.set_group(" 127.255.255.255:40001 ").unwrap();
        assert_eq!((o.group, o.group_port), (Ipv4Addr::new(127, 255, 255, 255), 40001));
        let e = o.set_group("nonsense").unwrap_err();
        assert!(e.contains("is not a LocalSend discovery address"), "{e}");
    }

    #[test]
    fn a_sender_without_a_certificate_is_never_known_and_may_be_changed() {
        let known = Arc::new(Mutex::new(KnownDevices::in_memory()));
        let key = Fingerprint([7; 32]);
        known
            .lock()
            .unwrap()
            .remember(&Sighting { fingerprint: key, name: "Anna's phone", address: None })
            .unwrap();
        known.lock().unwrap().set_always_accept(&key, true).unwrap();
        let senders = KnownSenders { known, emit: Arc::new(|_| {}) };
        assert_eq!(senders.trust("Anna's phone", Some(&key)), Trust::Known);
        assert_eq!(senders.trust("Someone else", Some(&key)), Trust::Known, "a renamed device is the same");
        assert!(matches!(senders.trust("anna’s phone", None), Trust::Changed { .. }));
        assert!(matches!(senders.trust("Anna's phone", Some(&Fingerprint([8; 32]))), Trust::Changed { .. }));
        assert_eq!(senders.trust("Bob's phone", None), Trust::New);
        let cert = crate::localsend::Sha256Fingerprint::of_certificate(b"x");
        assert!(senders.always_accept(&ProvenSender { certificate: cert, key }));
        assert!(!senders.always_accept(&ProvenSender { certificate: cert, key: Fingerprint([8; 32]) }));
    }

    #[test]
    fn switches_read_as_people_write_them() {
        for on in ["1", "on", "TRUE", " yes "] {
            assert_eq!(parse_switch("X", on), Ok(true));
        }
        for off in ["0", "off", "False", "no"] {
            assert_eq!(parse_switch("X", off), Ok(false));
        }
        assert!(parse_switch("X", "maybe").unwrap_err().contains("on or off"));
    }
}
