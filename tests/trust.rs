//! Protocol version 2 end to end on loopback: the verification code both sides show, known
//! devices, the checks that refuse a lying peer before anyone is asked anything (PROTOCOL.md §4–§6),
//! and a device that only takes a known device's name.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Node;
use common::raw::{Raw, hello, hello_with_key};
use ferry::engine::{Command, Decision, Event, IncomingOffer, TransferError, TransferId, Trust};
use ferry::identity::known::KnownDevices;
use ferry::identity::{DeviceIdentity, Fingerprint};
use ferry::protocol::sas::{self, SenderSas};
use ferry::protocol::{ErrorCode, HelloPurpose, Message, Offer, OfferFile};
use ferry::transfer::tls::TlsContext;

fn one_file(node: &Node, name: &str) -> std::path::PathBuf {
    let dir = tempfile::tempdir_in(node.dir.path()).unwrap().keep();
    std::fs::write(dir.join(name), name.as_bytes()).unwrap();
    dir.join(name)
}

fn next_offer(rx: &Node) -> IncomingOffer {
    rx.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        _ => None,
    })
}

/// Everything `node` says for `for_at_most`.
fn events_for(node: &Node, for_at_most: Duration) -> Vec<Event> {
    let deadline = Instant::now() + for_at_most;
    let mut seen = Vec::new();
    while let Ok(e) = node.events.recv_deadline(deadline) {
        seen.push(e);
    }
    seen
}

/// The sender's code (before the answer) and the receiver's prompt agree; once the transfer was
/// accepted both sides know each other, and the next transfer shows no code and comes from a
/// known device.
#[test]
fn both_screens_show_the_same_code_at_the_first_meeting_and_none_after() {
    let tx = Node::start("Anna's laptop");
    let rx = Node::start("Kitchen PC");
    let id = tx.send(rx.addr(), vec![one_file(&tx, "a.txt")]);
    let mut receiver = None;
    let code = tx.wait(10.0, |e| match e {
        Event::TransferPeer { transfer, peer } if *transfer == id => {
            receiver = Some(peer.clone());
            None
        }
        Event::VerificationCode { transfer, code } if *transfer == id => Some(*code),
        Event::TransferWaiting { reason: ferry::engine::WaitReason::Answer, .. } => {
            panic!("waiting for the answer before the code was shown")
        }
        _ => None,
    });
    let offer = next_offer(&rx);
    assert_eq!(offer.verification_code, Some(code), "both screens show the same code");
    let receiver = receiver.expect("the receiver was proven before the code was shown");
    assert_eq!(receiver.name, "Kitchen PC", "the sender learns the name the receiver's HELLO gave");
    assert_eq!(receiver.fingerprint, Some(tx_fingerprint(&rx)), "and the key its handshake proved");
    assert_eq!(receiver.trust, Trust::New);
    assert_eq!(offer.from.trust, Trust::New);
    assert_eq!(offer.from.fingerprint, Some(tx_fingerprint(&tx)));
    rx.commands.send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll }).unwrap();
    tx.wait(10.0, |e| matches!(e, Event::TransferFinished { transfer, .. } if *transfer == id).then_some(()));

    let id = tx.send(rx.addr(), vec![one_file(&tx, "b.txt")]);
    let offer = next_offer(&rx);
    assert_eq!(offer.verification_code, None, "known to each other: no code");
    assert_eq!(offer.from.trust, Trust::Known);
    rx.commands.send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll }).unwrap();
    let said = tx.wait(10.0, |e| match e {
        Event::TransferPeer { transfer, peer } if *transfer == id => {
            assert_eq!(peer.trust, Trust::Known, "the receiver is known to the sender now");
            None
        }
        Event::VerificationCode { transfer, .. } if *transfer == id => Some(true),
        Event::TransferFinished { transfer, .. } if *transfer == id => Some(false),
        _ => None,
    });
    assert!(!said, "a code was shown between known devices");
}

/// The receiver of transfer `id` as the sender's handshake proved it (the `TransferPeer` event,
/// which must come before the code and the wait for the answer).
fn proven_receiver(tx: &Node, id: TransferId) -> ferry::engine::PeerInfo {
    tx.wait(10.0, |e| match e {
        Event::TransferPeer { transfer, peer } if *transfer == id => Some(peer.clone()),
        Event::TransferWaiting { transfer, reason: ferry::engine::WaitReason::Answer } if *transfer == id => {
            panic!("waiting for the answer before the receiver was proven")
        }
        _ => None,
    })
}

/// Sending to an address where a device with a known device's name answers with another key:
/// the sender hears that it is "changed" (the window and `ferry send` say "This is not the
/// ‘Kitchen PC’ you sent to before") before the receiver has answered.
#[test]
fn a_receiver_with_a_known_name_and_another_key_is_changed_to_the_sender() {
    let tx = Node::start("Anna's laptop");
    let kitchen = Node::start("Kitchen PC");
    let id = tx.send(kitchen.addr(), vec![one_file(&tx, "a.txt")]);
    let offer = next_offer(&kitchen);
    kitchen
        .commands
        .send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll })
        .unwrap();
    let first = proven_receiver(&tx, id);
    assert_eq!(first.trust, Trust::New);
    tx.wait(10.0, |e| matches!(e, Event::TransferFinished { transfer, .. } if *transfer == id).then_some(()));

    let impostor = Node::start("Kitchen  PC");
    let id = tx.send(impostor.addr(), vec![one_file(&tx, "b.txt")]);
    let second = proven_receiver(&tx, id);
    assert_ne!(second.fingerprint, first.fingerprint);
    let Trust::Changed { lookalikes } = &second.trust else { panic!("not changed: {:?}", second.trust) };
    assert_eq!(lookalikes, &[first.fingerprint.unwrap()], "it names the device it looks like");
    tx.commands.send(Command::Cancel(id)).unwrap();
}

fn tx_fingerprint(node: &Node) -> Fingerprint {
    // The engine's Ready event came first; the identity is in its HELLO: ask by probing it.
    let mut p = Raw::connect(node.addr());
    p.send(&common::raw::hello_as("probe", HelloPurpose::Probe));
    p.until(|m| matches!(m, Message::Hello(_)));
    p.peer.unwrap()
}

/// A HELLO that names another key than the one the TLS handshake proved is refused with ERROR
/// Protocol; nobody is asked anything.
#[test]
fn a_hello_naming_another_key_than_tls_proved_is_refused() {
    let rx = Node::start_with("receiver", |c| c.accept_automatically = true);
    let other = DeviceIdentity::generate().unwrap().fingerprint();
    let mut p = Raw::connect(rx.addr());
    let (_, commit) = SenderSas::start(p.me.unwrap().0, p.peer.unwrap().0, false, sas::random_nonce());
    p.send_all(&[hello_with_key("Mallory", HelloPurpose::Transfer, other), commit]);
    let said = p.rest(Duration::from_secs(5)).expect("closed");
    assert!(matches!(said.as_slice(), [Message::Error { code: ErrorCode::Protocol, .. }]), "{said:?}");
    let seen = events_for(&rx, Duration::from_millis(300));
    assert!(seen.iter().all(|e| !matches!(e, Event::IncomingOffer(_) | Event::TransferStarted { .. })));
}

/// The sender's side of the same check: a receiver whose HELLO names another key fails the
/// transfer before any offer, and no code is shown.
#[test]
fn a_receiver_whose_hello_names_another_key_fails_the_transfer_without_a_code() {
    let tx = Node::start("sender");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let id = tx.send(listener.local_addr().unwrap(), vec![one_file(&tx, "a.txt")]);
    let mut p = Raw::accept(listener.accept().unwrap().0);
    p.until(|m| matches!(m, Message::Hello(_)));
    let other = DeviceIdentity::generate().unwrap().fingerprint();
    p.send(&hello_with_key("Receiver", HelloPurpose::Transfer, other));
    let error = tx.wait(10.0, |e| match e {
        Event::TransferFailed { transfer, error } if *transfer == id => Some(error.clone()),
        Event::VerificationCode { .. } => panic!("a code was shown"),
        _ => None,
    });
    assert!(matches!(error, TransferError::VerificationFailed(_)), "{error:?}");
    p.until(|m| matches!(m, Message::Error { code: ErrorCode::Protocol, .. }));
}

/// The opening as a sender up to the receiver's NONCE; returns the nonce we committed to.
fn open_up_to_nonce(p: &mut Raw) -> [u8; 32] {
    let nonce_s = sas::random_nonce();
    let (_, commit) = SenderSas::start(p.me.unwrap().0, p.peer.unwrap().0, false, nonce_s);
    p.send_all(&[hello(), commit]);
    p.until(|m| matches!(m, Message::Hello(_)));
    p.until(|m| matches!(m, Message::VerifyNonce { .. }));
    nonce_s
}

fn offer_frames() -> Vec<Message> {
    vec![
        Message::Offer(Offer { file_count: 1, total_bytes: 1 }),
        Message::OfferFile(OfferFile { path: "x.txt".into(), size: 1, thumbnail: vec![] }),
    ]
}

/// A revealed nonce that is not the one committed to ends the connection with ERROR Protocol:
/// no prompt, so no code on the receiver's screen.
#[test]
fn a_reveal_that_does_not_match_its_commitment_is_refused_with_no_prompt() {
    refused_with_no_prompt(|mut nonce| {
        nonce[0] ^= 1;
        vec![Message::VerifyReveal { nonce }]
    });
}

/// Opens a connection up to the receiver's NONCE, sends `reveal(nonce committed to)` and the
/// offer, and checks that the receiver answers ERROR Protocol and prompts nobody.
fn refused_with_no_prompt(reveal: impl FnOnce([u8; 32]) -> Vec<Message>) {
    let rx = Node::start("receiver");
    let mut p = Raw::connect(rx.addr());
    let mut frames = reveal(open_up_to_nonce(&mut p));
    frames.extend(offer_frames());
    p.send_all(&frames);
    let said = p.rest(Duration::from_secs(5)).expect("closed");
    assert!(matches!(said.as_slice(), [Message::Error { code: ErrorCode::Protocol, .. }]), "{said:?}");
    let seen = events_for(&rx, Duration::from_millis(300));
    assert!(seen.iter().all(|e| !matches!(e, Event::IncomingOffer(_))), "{seen:?}");
}

/// A REVEAL sent again (a replay of the first, where the OFFER belongs) is refused too.
#[test]
fn a_replayed_reveal_is_refused_with_no_prompt() {
    refused_with_no_prompt(|nonce| vec![Message::VerifyReveal { nonce }, Message::VerifyReveal { nonce }]);
}

/// A known device's address answered by another key: the sender pins the key it knows, so the
/// TLS handshake itself fails and nothing is offered.
#[test]
fn another_key_at_a_known_devices_address_fails_during_the_handshake() {
    let tx = Node::start("sender");
    let rx = Node::start("Kitchen PC");
    let port = rx.addr().port();
    // Meet once, so the receiver becomes known to the sender.
    let id = tx.send(rx.addr(), vec![one_file(&tx, "a.txt")]);
    let offer = next_offer(&rx);
    rx.commands.send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll }).unwrap();
    tx.wait(10.0, |e| matches!(e, Event::TransferFinished { transfer, .. } if *transfer == id).then_some(()));
    // Added by address: the device list now holds it with its proven key, as known.
    tx.commands.send(Command::AddPeer(rx.addr().to_string())).unwrap();
    let peer = tx.wait(10.0, |e| match e {
        Event::PeerSeen(p) | Event::PeerUpdated(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(peer.trust, Trust::Known);
    // The real one goes; an impostor with the same name and another key takes its port.
    drop(rx);
    an_impostor_at_the_port_gets_nothing(&tx, port);
}

/// Another key calling itself "Kitchen PC" takes `port`, accepting everything: a send from `tx`
/// to it fails during the handshake as not the expected device, and it hears no offer.
fn an_impostor_at_the_port_gets_nothing(tx: &Node, port: u16) {
    let impostor = Node::start_with("Kitchen PC", |c| {
        c.transfer_port = port;
        c.accept_automatically = true;
    });
    let id: TransferId = tx.send(impostor.addr(), vec![one_file(tx, "secret.txt")]);
    let error = tx.wait(10.0, |e| match e {
        Event::TransferFailed { transfer, error } if *transfer == id => Some(error.clone()),
        _ => None,
    });
    assert_eq!(error, TransferError::NotTheExpectedDevice);
    let seen = events_for(&impostor, Duration::from_millis(300));
    assert!(seen.iter().all(|e| !matches!(e, Event::IncomingOffer(_) | Event::TransferStarted { .. })));
    assert!(common::tree(&impostor.received()).is_empty());
}

/// A device in the list is held to the key the list shows for it even before it is known: picked
/// as a new device (here added by address, so a probe proved its key), another key at its
/// address fails the handshake too.
#[test]
fn another_key_at_a_new_devices_address_fails_during_the_handshake() {
    let tx = Node::start("sender");
    let rx = Node::start("Kitchen PC");
    let port = rx.addr().port();
    tx.commands.send(Command::AddPeer(rx.addr().to_string())).unwrap();
    let peer = tx.wait(10.0, |e| match e {
        Event::PeerSeen(p) | Event::PeerUpdated(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(peer.trust, Trust::New);
    assert!(peer.fingerprint.is_some(), "the probe proved its key");
    drop(rx);
    an_impostor_at_the_port_gets_nothing(&tx, port);
}

/// "Always accept from this device" is a property of its key: the device itself is accepted
/// without asking, while another key under the same name is shown as changed, with a code, and
/// asked about — even with the script switch on.
#[test]
fn a_known_name_with_another_key_is_changed_and_never_accepted_automatically() {
    let known: Arc<Mutex<Option<Arc<Mutex<KnownDevices>>>>> = Arc::default();
    let keep = known.clone();
    let rx = Node::start_with("receiver", move |c| *keep.lock().unwrap() = Some(c.known.clone()));
    let known = known.lock().unwrap().clone().unwrap();
    let anna = Node::start("Anna's laptop");
    let id = anna.send(rx.addr(), vec![one_file(&anna, "first.txt")]);
    let offer = next_offer(&rx);
    rx.commands.send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll }).unwrap();
    anna.wait(10.0, |e| {
        matches!(e, Event::TransferFinished { transfer, .. } if *transfer == id).then_some(())
    });
    let first = offer.transfer;
    rx.wait(10.0, |e| {
        matches!(e, Event::TransferFinished { transfer, .. } if *transfer == first).then_some(())
    });
    let anna_fp = offer.from.fingerprint.unwrap();
    assert!(known.lock().unwrap().set_always_accept(&anna_fp, true).unwrap(), "Anna is known");

    // Anna again: accepted without a prompt.
    let id = anna.send(rx.addr(), vec![one_file(&anna, "second.txt")]);
    let prompted = rx.wait(10.0, |e| match e {
        Event::IncomingOffer(_) => Some(true),
        Event::TransferStarted { .. } => Some(false),
        _ => None,
    });
    assert!(!prompted, "always-accept did not accept the known key");
    anna.wait(10.0, |e| {
        matches!(e, Event::TransferFinished { transfer, .. } if *transfer == id).then_some(())
    });
    rx.wait(10.0, |e| matches!(e, Event::TransferFinished { .. }).then_some(()));

    // Another key with Anna's name (a look-alike, even): changed, asked, with a code.
    let tls = TlsContext::new(&DeviceIdentity::generate().unwrap()).unwrap();
    let mut p = Raw::client_as(std::net::TcpStream::connect(rx.addr()).unwrap(), &tls);
    let (_, verified) = p.handshake_as("Anna’s  Laptop");
    p.send_all(&offer_frames());
    let offer = rx.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        Event::TransferStarted { .. } => panic!("a changed device was accepted without asking"),
        _ => None,
    });
    assert!(matches!(offer.from.trust, Trust::Changed { ref lookalikes } if lookalikes == &[anna_fp]));
    assert_eq!(offer.verification_code, Some(verified.code));
    rx.commands.send(Command::Answer { transfer: offer.transfer, decision: Decision::Decline }).unwrap();
    assert!(matches!(
        p.until(|m| matches!(m, Message::Answer(_))),
        Message::Answer(ferry::protocol::Answer::Decline)
    ));
}

/// The script switch (`accept_automatically`) does not accept a changed device either.
#[test]
fn the_script_switch_does_not_accept_a_changed_device() {
    let known = Arc::new(Mutex::new(KnownDevices::in_memory()));
    let anna = DeviceIdentity::generate().unwrap().fingerprint();
    known
        .lock()
        .unwrap()
        .remember(&ferry::identity::known::Sighting {
            fingerprint: anna,
            name: "Anna's laptop",
            address: None,
        })
        .unwrap();
    let shared = known.clone();
    let rx = Node::start_with("receiver", move |c| {
        c.known = shared;
        c.accept_automatically = true;
    });
    let mut p = Raw::connect(rx.addr());
    p.handshake_as("Anna's laptop");
    p.send_all(&offer_frames());
    let offer = rx.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        Event::TransferStarted { .. } => panic!("the script switch accepted a changed device"),
        _ => None,
    });
    assert!(matches!(offer.from.trust, Trust::Changed { .. }));
}
