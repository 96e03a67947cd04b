//! The version-2 engine against minimal version-1 peers written here, frame by frame, as
//! version 1 behaves (PROTOCOL.md §7): each side of a v1/v2 pair learns, in plain words, that the
//! other runs an older Ferry, and no file, offer or prompt goes either way.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::Node;
use common::raw::frame;
use ferry::engine::{Event, TransferError, Warning};
use ferry::protocol::frame::decode_frame;
use ferry::protocol::{ErrorCode, Frame, Hello, HelloPurpose, InstanceId, Message, Os};

fn v1_hello(name: &str) -> Message {
    Message::Hello(Hello {
        version: 1,
        purpose: HelloPurpose::Transfer,
        instance: InstanceId::random(),
        transfer_port: 53531,
        os: Os::Linux,
        name: name.into(),
        fingerprint: Vec::new(),
    })
}

/// Reads one plaintext frame, as a version-1 peer would; `None` when the connection closes first.
fn read_frame(tcp: &mut TcpStream) -> Option<Message> {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match decode_frame(&buf) {
            Ok(Some((Frame::Message(m), _))) => return Some(m),
            Ok(Some((Frame::Data(_), _))) | Err(_) => return None,
            Ok(None) => {}
        }
        match tcp.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A version-1 receiver: it reads a frame length from the first four bytes; the ClientHello's
/// `16 03 01 LL` is some 369 million bytes, over its 1 MiB limit, so it hangs up. A plaintext
/// HELLO (the v2 sender's probe) gets its own version-1 HELLO.
#[test]
fn a_version_2_sender_meeting_a_version_1_receiver_says_it_is_older() {
    let tx = Node::start("new sender");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = std::thread::spawn(move || {
        let mut openings = Vec::new();
        for _ in 0..2 {
            let (mut tcp, _) = listener.accept().unwrap();
            let mut head = [0u8; 4];
            tcp.read_exact(&mut head).unwrap();
            openings.push(head[0]);
            let len = u32::from_be_bytes(head) as usize;
            if len > 1024 * 1024 + 1 {
                continue; // over version 1's limit: hang up
            }
            let mut rest = vec![0u8; len];
            tcp.read_exact(&mut rest).unwrap();
            tcp.write_all(&frame(&v1_hello("Old PC"))).unwrap();
        }
        openings
    });
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("photo.jpg"), b"not really a photo").unwrap();
    let id = tx.send(addr, vec![src.path().join("photo.jpg")]);
    let error = tx.wait(15.0, |e| match e {
        Event::TransferFailed { transfer, error } if *transfer == id => Some(error.clone()),
        Event::TransferWaiting { transfer, .. } if *transfer == id => panic!("it offered: {e:?}"),
        _ => None,
    });
    assert_eq!(error, TransferError::OlderPeer);
    assert_eq!(
        error.to_string(),
        "The other computer runs an older Ferry. Update both to the latest version."
    );
    let openings = receiver.join().unwrap();
    assert_eq!(openings, [0x16, 0x00], "TLS first, then the plaintext probe");
}

/// A version-1 sender's plaintext HELLO gets ERROR UnsupportedVersion in its own framing, with
/// the update sentence; the person at the receiver is told once (not on every retry), and is
/// never shown an offer.
#[test]
fn a_version_1_sender_meeting_a_version_2_receiver_is_told_to_update() {
    let rx = Node::start_with("new receiver", |c| c.accept_automatically = true);
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(rx.addr()).unwrap();
        tcp.write_all(&frame(&v1_hello("Old \u{202e}PC"))).unwrap();
        let answer = read_frame(&mut tcp);
        assert_eq!(
            answer,
            Some(Message::Error {
                code: ErrorCode::UnsupportedVersion,
                message: "The other computer runs an older Ferry. Update both to the latest version.".into()
            })
        );
        // And nothing more: the receiver closes.
        assert_eq!(read_frame(&mut tcp), None);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut warnings = Vec::new();
    while let Ok(e) = rx.events.recv_deadline(deadline) {
        match e {
            Event::Warning(w) => warnings.push(w),
            Event::IncomingOffer(_) | Event::TransferStarted { .. } => panic!("{e:?}"),
            _ => {}
        }
    }
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    // The name is cleaned before it is shown: the right-to-left override is gone.
    let ip = "127.0.0.1".parse().unwrap();
    assert_eq!(warnings[0], Warning::OlderSender { name: Some("Old PC".into()), ip });
    let said = warnings[0].to_string();
    assert!(said.contains("older Ferry") && said.contains("Old PC") && !said.contains('\u{202e}'), "{said}");
}
