//! LocalSend senders and the store of known devices: a sender is its client certificate's key,
//! it becomes known when an offer from it is accepted, "Always accept from this device" skips
//! the question for that key only, and a known name under another key is always asked about.
//! Two engines on loopback play phone to each other (each lists the other as a LocalSend device).

mod common;

use std::sync::{Arc, Mutex};

use common::{Node, free_udp_port, localsend_node as node, localsend_peer, write_random};
use ferry::engine::{Command, Decision, Event, IncomingOffer, LiveSettings, Trust};
use ferry::identity::known::KnownDevices;

fn offer(node: &Node) -> IncomingOffer {
    node.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        _ => None,
    })
}

fn finished(node: &Node, transfer: ferry::engine::TransferId) {
    node.wait(20.0, |e| match e {
        Event::TransferFinished { transfer: t, .. } if *t == transfer => Some(()),
        Event::TransferFailed { transfer: t, error } if *t == transfer => panic!("{error:?}"),
        _ => None,
    })
}

fn store() -> Arc<Mutex<KnownDevices>> {
    Arc::new(Mutex::new(KnownDevices::in_memory()))
}

#[test]
fn a_sender_is_its_certificate_key_and_becomes_known_once_accepted() {
    let udp = free_udp_port();
    let alpha_key = Arc::new(Mutex::new(None));
    let alpha_known = store();
    let a = node("Alpha", udp, |c| {
        *alpha_key.lock().unwrap() = Some(c.identity.fingerprint());
        c.known = alpha_known.clone();
    });
    let alpha_key = alpha_key.lock().unwrap().unwrap();
    let known = store();
    let beta_key = Arc::new(Mutex::new(None));
    let b = node("Beta", udp, |c| {
        *beta_key.lock().unwrap() = Some(c.identity.fingerprint());
        c.known = known.clone();
    });
    let beta_key = beta_key.lock().unwrap().unwrap();
    let beta = localsend_peer(&a, "Beta");
    // Alpha registered with Beta over HTTPS: Beta's certificate proved its key.
    assert_eq!(beta.fingerprint, Some(beta_key), "{beta:?}");
    assert_eq!(beta.trust, Trust::New);

    let src = a.dir.path().join("one.bin");
    write_random(&src, 10_000, 1);
    let first = a.send(beta.addr, vec![src.clone()]);
    let o = offer(&b);
    assert_eq!(o.from.fingerprint, Some(alpha_key), "the client certificate's key");
    assert_eq!(o.from.trust, Trust::New);
    assert!(known.lock().unwrap().get(&alpha_key).is_none(), "not known before the answer");
    b.commands.send(Command::Answer { transfer: o.transfer, decision: Decision::AcceptAll }).unwrap();
    finished(&a, first);
    let remembered = known.lock().unwrap().get(&alpha_key).cloned().expect("remembered after accepting");
    assert_eq!(remembered.name, "Alpha");
    assert!(!remembered.always_accept);
    // And the sender remembers the receiver its completed send was pinned to.
    let receiver = alpha_known.lock().unwrap().get(&beta_key).cloned().expect("the sender remembers Beta");
    assert_eq!(receiver.name, "Beta");

    // Known now, but still asked about: only "always accept" skips the question.
    let second = a.send(beta.addr, vec![src.clone()]);
    let o = offer(&b);
    assert_eq!(o.from.trust, Trust::Known);
    b.commands.send(Command::Answer { transfer: o.transfer, decision: Decision::AcceptAll }).unwrap();
    finished(&a, second);

    known.lock().unwrap().set_always_accept(&alpha_key, true).unwrap();
    let third = a.send(beta.addr, vec![src]);
    b.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => panic!("asked about an always-accepted device: {o:?}"),
        Event::TransferStarted { peer, .. } => {
            assert_eq!(peer.trust, Trust::Known);
            Some(())
        }
        _ => None,
    });
    finished(&a, third);
}

#[test]
fn a_declined_sender_is_not_remembered() {
    let udp = free_udp_port();
    let a = node("Alpha", udp, |_| {});
    let known = store();
    let b = node("Beta", udp, |c| c.known = known.clone());
    let beta = localsend_peer(&a, "Beta");
    let src = a.dir.path().join("one.bin");
    write_random(&src, 1_000, 2);
    a.send(beta.addr, vec![src]);
    let o = offer(&b);
    b.commands.send(Command::Answer { transfer: o.transfer, decision: Decision::Decline }).unwrap();
    b.wait(5.0, |e| {
        matches!(e, Event::TransferDeclined { transfer, .. } if *transfer == o.transfer).then_some(())
    });
    assert_eq!(known.lock().unwrap().devices().count(), 0);
}

/// A device that takes a known device's name but has another key is "changed": always asked
/// about, even with "accept automatically" on, and never takes the known device's "always".
#[test]
fn a_known_name_with_another_key_is_changed_and_always_asked() {
    let udp = free_udp_port();
    let known = store();
    {
        // The real "Alpha" was met before, and is always accepted.
        let real = ferry::identity::DeviceIdentity::generate().unwrap().fingerprint();
        let mut k = known.lock().unwrap();
        k.remember(&ferry::identity::known::Sighting { fingerprint: real, name: "Alpha", address: None })
            .unwrap();
        k.set_always_accept(&real, true).unwrap();
    }
    let impostor = node("Alpha", udp, |_| {});
    let b = node("Beta", udp, |c| {
        c.known = known.clone();
        c.accept_automatically = true;
    });
    let beta = localsend_peer(&impostor, "Beta");
    // Beta's list shows it as changed, a device of its own.
    let listed = localsend_peer(&b, "Alpha");
    assert!(matches!(listed.trust, Trust::Changed { .. }), "{listed:?}");
    let src = impostor.dir.path().join("one.bin");
    write_random(&src, 1_000, 3);
    impostor.send(beta.addr, vec![src]);
    let o = offer(&b);
    assert!(matches!(o.from.trust, Trust::Changed { .. }), "{:?}", o.from.trust);
    assert!(o.from.fingerprint.is_some());
}

#[test]
fn switching_localsend_off_and_on_takes_effect_at_once() {
    let udp = free_udp_port();
    let a = node("Alpha", udp, |_| {});
    let b = node("Beta", udp, |_| {});
    let alpha = localsend_peer(&b, "Alpha");
    let beta = localsend_peer(&a, "Beta");
    assert!(std::net::TcpStream::connect(beta.addr).is_ok(), "Beta's LocalSend server is up");
    b.commands
        .send(Command::UpdateSettings(LiveSettings { localsend: Some(false), ..Default::default() }))
        .unwrap();
    b.wait(10.0, |e| matches!(e, Event::PeerLost(id) if *id == alpha.instance).then_some(()));
    // Off: nothing answers on Beta's LocalSend side.
    assert!(std::net::TcpStream::connect(beta.addr).is_err(), "Beta's LocalSend server is closed");
    b.commands
        .send(Command::UpdateSettings(LiveSettings { localsend: Some(true), ..Default::default() }))
        .unwrap();
    // On again: Beta announces itself, Alpha answers, Beta lists Alpha again.
    b.commands.send(Command::RefreshDiscovery).unwrap();
    let again = localsend_peer(&b, "Alpha");
    assert_eq!(again.instance, alpha.instance);
    drop(a);
}
