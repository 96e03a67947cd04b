//! The LocalSend devices we know of, by fingerprint: what they announced or registered, where they
//! listen, and whether a certificate proved who they are. Changes go to the engine as
//! [`PeerChange`]s, for its one list of devices nearby.
//!
//! A device's fingerprint comes from its certificate whenever a TLS handshake showed one (our
//! `POST /register` to it, or its client certificate on our server); otherwise it is the
//! announced string, which is never trusted for anything but telling devices apart, and which
//! a send over HTTPS then pins (a device that lied about it fails the handshake). A device that
//! shows up at an address another entry had is that device now (a phone that reinstalled
//! LocalSend has a new certificate); the old entry goes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::dto::{DeviceInfo, Protocol};
use super::tls::Sha256Fingerprint;
use super::{PeerChange, ProvenSender, Shared, TrustedSenders};
use crate::events::{Peer, PeerSource};
use crate::protocol::{InstanceId, Os, clean_display_name};

/// One device.
#[derive(Clone, Debug)]
pub struct Known {
    /// The certificate fingerprint a handshake showed, or the announced one when it looks like
    /// one (64 hex digits); what a send over HTTPS pins.
    pub pin: Option<Sha256Fingerprint>,
    /// The key of the certificate a handshake proved (Ferry's name for the device), if one did.
    pub key: Option<crate::identity::Fingerprint>,
    pub protocol: Protocol,
    pub peer: Peer,
    last_seen: Instant,
}

#[derive(Default)]
pub struct Table {
    known: HashMap<String, Known>,
}

/// What a device is known by: the certificate a handshake showed, else the announced
/// fingerprint (upper case when it is one), else its address.
pub fn key_for(ip: IpAddr, info: &DeviceInfo, proven: Option<Sha256Fingerprint>) -> String {
    match (proven, Sha256Fingerprint::from_hex(&info.fingerprint)) {
        (Some(fp), _) | (None, Some(fp)) => fp.to_hex(),
        (None, None) if !info.fingerprint.is_empty() => info.fingerprint.clone(),
        (None, None) => format!("{}:{}", canonical(ip), info.port),
    }
}

/// The id a LocalSend device has in Ferry's list, made from its fingerprint (stable across
/// addresses and restarts, never equal to a Ferry device's random id in practice).
pub fn instance_for(key: &str) -> InstanceId {
    let digest = Sha256::new().chain_update(b"localsend\0").chain_update(key.as_bytes()).finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    InstanceId(id)
}

/// An OS for the icon, when the device model names one (LocalSend on a computer sends
/// "Windows", "Linux", "macOS"; phones send a maker or model, which says nothing reliable).
pub fn os_from_model(model: Option<&str>) -> Os {
    let m = model.unwrap_or("").to_ascii_lowercase();
    match m.as_str() {
        "windows" => Os::Windows,
        "linux" => Os::Linux,
        "macos" | "mac" | "mac os" => Os::Macos,
        "android" => Os::Android,
        "ios" | "iphone" | "ipad" => Os::Ios,
        _ => Os::Unknown,
    }
}

/// How a device is shown: its alias made fit to show, or its address.
pub fn display_name(alias: &str, ip: IpAddr) -> String {
    clean_display_name(alias).unwrap_or_else(|| ip.to_string())
}

/// `::ffff:10.0.0.1` is 10.0.0.1: dual-stack sockets report IPv4 peers that way.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

impl Table {
    /// Records what `ip` said about itself; `proven` is the certificate a handshake showed, and
    /// `trust` what the known-devices store makes of (name, proven key). Returns the changes for
    /// the engine.
    pub fn upsert(
        &mut self,
        ip: IpAddr,
        info: &DeviceInfo,
        proven: Option<ProvenSender>,
        trust: &dyn TrustedSenders,
    ) -> Vec<PeerChange> {
        let ip = canonical(ip);
        let announced = Sha256Fingerprint::from_hex(&info.fingerprint);
        let key = key_for(ip, info, proven.map(|p| p.certificate));
        let addr = SocketAddr::new(ip, info.port);
        let name = display_name(&info.alias, ip);
        // A key proved earlier (our register to it) stays with the entry while the device
        // announces the same certificate: announcements alone prove nothing, but they do not
        // undo a handshake either.
        let key_fp = proven.map(|p| p.key).or_else(|| {
            self.known
                .get(&key)
                .filter(|k| k.peer.addr == addr && k.pin.map(|p| p.to_hex()).as_ref() == Some(&key))
                .and_then(|k| k.key)
        });
        let peer = Peer {
            instance: instance_for(&key),
            trust: trust.trust(&name, key_fp.as_ref()),
            name,
            os: os_from_model(info.device_model.as_deref()),
            addr,
            source: PeerSource::LocalSend(info.kind()),
            fingerprint: key_fp,
        };
        let mut changes = Vec::new();
        let superseded: Vec<String> = self
            .known
            .iter()
            .filter(|(k, p)| **k != key && p.peer.addr == addr)
            .map(|(k, _)| k.clone())
            .collect();
        for k in superseded {
            if let Some(old) = self.known.remove(&k) {
                changes.push(PeerChange::Lost(old.peer.instance));
            }
        }
        let pin =
            proven.map(|p| p.certificate).or(announced).or_else(|| self.known.get(&key).and_then(|k| k.pin));
        let changed =
            self.known.get(&key).is_none_or(|old| old.peer != peer || old.protocol != info.protocol);
        self.known.insert(
            key.clone(),
            Known {
                pin,
                key: key_fp,
                protocol: info.protocol,
                peer: peer.clone(),
                last_seen: Instant::now(),
            },
        );
        if changed {
            changes.push(PeerChange::Seen(peer));
        }
        changes
    }

    pub fn by_addr(&self, addr: SocketAddr) -> Option<&Known> {
        let addr = SocketAddr::new(canonical(addr.ip()), addr.port());
        self.known.values().find(|k| k.peer.addr == addr)
    }

    /// Forgets devices not heard from for `timeout`.
    pub fn expire(&mut self, timeout: Duration) -> Vec<PeerChange> {
        let gone: Vec<String> = self
            .known
            .iter()
            .filter(|(_, k)| k.last_seen.elapsed() >= timeout)
            .map(|(key, _)| key.clone())
            .collect();
        gone.into_iter()
            .filter_map(|k| self.known.remove(&k))
            .map(|k| PeerChange::Lost(k.peer.instance))
            .collect()
    }
}

/// Tells the engine about `changes`.
pub fn report(shared: &Shared, changes: Vec<PeerChange>) {
    for change in changes {
        (shared.hooks.peers)(change);
    }
}

/// Records a device and reports what changed (our own announcements and registrations, which
/// come back to us, are dropped here).
pub fn seen(shared: &Shared, ip: IpAddr, info: &DeviceInfo, proven: Option<ProvenSender>) {
    let ours =
        proven.map(|p| p.certificate.to_hex()).unwrap_or_else(|| info.fingerprint.to_ascii_uppercase());
    if ours == shared.fingerprint {
        return;
    }
    let changes =
        shared.peers.lock().expect("peers lock").upsert(ip, info, proven, shared.hooks.trust.as_ref());
    // Another Ferry is known by its own protocol; it can still be sent to over this one.
    if !(shared.hide_ferry_devices && info.ferry.is_some()) {
        report(shared, changes);
    }
}

/// Expires devices once a second.
pub async fn reaper(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1).min(shared.timing.peer_timeout / 4));
    loop {
        tokio::select! {
            _ = shared.stopping.wait() => return,
            _ = tick.tick() => {}
        }
        let changes = shared.peers.lock().expect("peers lock").expire(shared.timing.peer_timeout);
        report(&shared, changes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::DeviceType;
    use crate::localsend::TrustNobody;

    fn info(alias: &str, fp: &str, port: u16) -> DeviceInfo {
        serde_json::from_str(&format!(
            r#"{{"alias":"{alias}","fingerprint":"{fp}","port":{port},"deviceType":"mobile","deviceModel":"iPhone"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_device_is_listed_once_and_updated_when_it_changes() {
        let mut t = Table::default();
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let fp = "AB".repeat(32);
        let first = t.upsert(ip, &info("Pixel", &fp, 53317), None, &TrustNobody);
        let [PeerChange::Seen(p)] = first.as_slice() else { panic!("{first:?}") };
        assert_eq!(p.name, "Pixel");
        assert_eq!(p.source, PeerSource::LocalSend(DeviceType::Mobile));
        assert_eq!(p.os, Os::Ios);
        assert_eq!(p.addr, "10.0.0.5:53317".parse().unwrap());
        assert!(t.upsert(ip, &info("Pixel", &fp, 53317), None, &TrustNobody).is_empty(), "nothing new");
        let renamed = t.upsert(ip, &info("Pixel 8", &fp, 53317), None, &TrustNobody);
        assert!(matches!(renamed.as_slice(), [PeerChange::Seen(p)] if p.name == "Pixel 8"));
        assert_eq!(
            t.by_addr("10.0.0.5:53317".parse().unwrap()).unwrap().pin,
            Sha256Fingerprint::from_hex(&fp)
        );
    }

    #[test]
    fn a_new_certificate_at_the_same_address_replaces_the_old_entry() {
        let mut t = Table::default();
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        t.upsert(ip, &info("Pixel", &"AB".repeat(32), 53317), None, &TrustNobody);
        let changes = t.upsert(ip, &info("Pixel", &"CD".repeat(32), 53317), None, &TrustNobody);
        assert!(matches!(changes.as_slice(), [PeerChange::Lost(_), PeerChange::Seen(_)]), "{changes:?}");
    }

    #[test]
    fn ipv4_mapped_addresses_are_plain_ipv4() {
        let mut t = Table::default();
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        t.upsert(mapped, &info("a", "random", 1234), None, &TrustNobody);
        assert!(t.by_addr("10.0.0.7:1234".parse().unwrap()).is_some());
        assert!(t.by_addr("[::ffff:10.0.0.7]:1234".parse().unwrap()).is_some());
    }

    #[test]
    fn silent_devices_expire_and_names_are_cleaned() {
        let mut t = Table::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let seen = t.upsert(ip, &info("evil\u{202E}gpj.exe", "x", 1), None, &TrustNobody);
        assert!(matches!(seen.as_slice(), [PeerChange::Seen(p)] if p.name == "evilgpj.exe"));
        let blank = t.upsert("10.0.0.10".parse().unwrap(), &info("\u{200B}", "y", 1), None, &TrustNobody);
        assert!(matches!(blank.as_slice(), [PeerChange::Seen(p)] if p.name == "10.0.0.10"));
        assert_eq!(t.expire(Duration::from_secs(3600)).len(), 0);
        assert_eq!(t.expire(Duration::ZERO).len(), 2);
    }
}
