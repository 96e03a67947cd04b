//! `ferry peers`: who is nearby.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::output::{Output, shown};
use super::{NetArgs, engine_config, interrupted, no_waker};
use crate::engine::{Engine, Event, Peer, Trust};
use crate::identity::known::changed_warning;

pub fn run(wait: f64, net: &NetArgs) -> Result<ExitCode> {
    // Only looking: no listening socket, not a device to list.
    let mut config = engine_config(net, Some(0))?;
    config.listen = false;
    config.announce = false;
    let discovery_port = config.discovery_port;
    let engine = Engine::start(config, no_waker())?;
    let events = engine.events();
    let out = Output::new(net.json);
    let deadline = Instant::now() + Duration::from_secs_f64(wait.clamp(0.0, 3600.0));
    let mut peers: BTreeMap<String, Peer> = BTreeMap::new();
    while let Ok(event) = events.recv_deadline(deadline) {
        match &event {
            Event::PeerSeen(p) | Event::PeerUpdated(p) => {
                out.event(&event);
                peers.insert(p.instance.to_hex(), p.clone());
            }
            Event::PeerLost(id) => {
                out.event(&event);
                peers.remove(&id.to_hex());
            }
            Event::Warning(w) => out.say(format!("Warning: {}", shown(&w.to_string()))),
            _ => {}
        }
        if interrupted().load(Ordering::SeqCst) {
            break;
        }
    }
    engine.shutdown();
    if !net.json {
        if peers.is_empty() {
            println!(
                "No devices found. Make sure Ferry is open on the other computer, that both are on the same \
                 network, and that the firewall allows UDP port {discovery_port}."
            );
        } else {
            let name = |p: &Peer| shown(&p.name).into_owned();
            let width = peers.values().map(|p| name(p).chars().count()).max().unwrap_or(4).max(4);
            let kinds: Vec<String> = peers.values().map(super::localsend::kind).collect();
            let kind_width = kinds.iter().map(|k| k.chars().count()).max().unwrap_or(4).max(4);
            println!(
                "{:width$}  {:22}  {:kind_width$}  {:7}  FINGERPRINT",
                "NAME", "ADDRESS", "KIND", "TRUST"
            );
            for (p, kind) in peers.values().zip(&kinds) {
                let fingerprint = p.fingerprint.map_or_else(|| "-".to_owned(), |f| f.short());
                println!(
                    "{:width$}  {:22}  {kind:kind_width$}  {:7}  {fingerprint}",
                    name(p),
                    p.addr.to_string(),
                    p.trust.label()
                );
            }
            for p in peers.values().filter(|p| matches!(p.trust, Trust::Changed { .. })) {
                println!("Warning: {} at {}: {}", name(p), p.addr, changed_warning(&name(p)));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
