//! Version 2's transport against the version-1 engine as it runs today (the engine in this tree
//! still speaks plaintext version 1 until the TLS layer is wired in): each side of a v1/v2 pair
//! learns that the other runs an older (or newer) Ferry, in plain words, and nothing else is
//! exchanged.
//!
//! Once the engine speaks version 2 these peers are no longer version 1; the same cases stay
//! covered by the minimal version-1 peers in `src/transfer/tls/tests.rs`.

mod common;

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::Node;
use ferry::engine::{Event, TransferError};
use ferry::identity::DeviceIdentity;
use ferry::transfer::tls::{AcceptError, ConnectError, TlsContext};

fn tls() -> TlsContext {
    TlsContext::new(&DeviceIdentity::generate().unwrap()).unwrap()
}

/// A version-1 receiver reads the ClientHello as a frame far over its limit and hangs up; the
/// probe that follows gets its plaintext HELLO.
#[test]
fn a_version_2_sender_meeting_a_version_1_receiver_says_it_is_older() {
    let rx = Node::start("old receiver");
    let tcp = TcpStream::connect(rx.addr()).unwrap();
    let err = tls().connect(tcp, None, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, ConnectError::OlderPeer), "{err:?}");
    assert_eq!(err.to_string(), "The other computer runs an older Ferry. Update both to the latest version.");
    // The version-1 receiver showed nothing to its person: no offer, no transfer.
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    while let Ok(e) = rx.events.recv_deadline(deadline) {
        assert!(!matches!(e, Event::IncomingOffer(_) | Event::TransferStarted { .. }), "{e:?}");
    }
}

/// A version-1 sender's HELLO gets ERROR UnsupportedVersion in its own framing; it reports that
/// the versions do not match.
#[test]
fn a_version_1_sender_meeting_a_version_2_receiver_is_told_to_update() {
    let tx = Node::start("old sender");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let receiving = std::thread::spawn(move || {
        let tls = tls();
        tls.accept(listener.accept().unwrap().0, Duration::from_secs(5))
    });
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("photo.jpg"), b"not really a photo").unwrap();
    let id = tx.send(addr, vec![src.path().join("photo.jpg")]);
    let error = tx.wait(10.0, |e| match e {
        Event::TransferFailed { transfer, error } if *transfer == id => Some(error.clone()),
        Event::TransferFinished { .. } => panic!("a version-1 sender finished a transfer to version 2"),
        _ => None,
    });
    assert_eq!(error, TransferError::IncompatibleVersion);
    match receiving.join().unwrap() {
        Err(AcceptError::OlderPeer { name, version }) => {
            assert_eq!(name.as_deref(), Some("old sender"));
            assert_eq!(version, 1);
        }
        other => panic!("{other:?}"),
    }
}
