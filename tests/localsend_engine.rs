//! The engine runs its LocalSend side: LocalSend devices are listed with the others (marked as
//! LocalSend, with their device type), and Send, SendText, Answer and Cancel reach LocalSend
//! transfers through the same commands and events as Ferry's own.

mod common;

use std::time::Duration;

use common::{Node, free_udp_port, localsend_node as node, localsend_peer, same_bytes, tree, write_random};
use ferry::engine::{Command, Decision, DeviceType, Direction, Event, PeerSource, TransferId};
use ferry::protocol::FileResult;

#[test]
fn localsend_is_off_in_a_bare_engine_config() {
    let c = ferry::engine::EngineConfig::new(ferry::protocol::InstanceId::random(), "x", "/tmp/x");
    assert!(!c.localsend.enabled);
}

#[test]
fn send_answer_and_finish_through_the_engine() {
    let udp = free_udp_port();
    let a = node("Alpha", udp, |_| {});
    let b = node("Beta", udp, |_| {});
    let beta = localsend_peer(&a, "Beta");
    assert_eq!(beta.source, PeerSource::LocalSend(DeviceType::Desktop));

    let src = a.dir.path().join("photo.jpg");
    write_random(&src, 5_000_000, 7);
    let id = a.send(beta.addr, vec![src.clone()]);
    let offer = b.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        _ => None,
    });
    assert_eq!(offer.from.name, "Alpha");
    b.commands.send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll }).unwrap();
    a.wait(10.0, |e| {
        matches!(e, Event::TransferAccepted { transfer, files: 1, .. } if *transfer == id).then_some(())
    });
    let files = a.wait(20.0, |e| match e {
        Event::TransferFinished { transfer, files } if *transfer == id => Some(files.clone()),
        Event::TransferFailed { transfer, error } if *transfer == id => panic!("{error:?}"),
        _ => None,
    });
    assert_eq!(files[0].result, FileResult::Saved);
    b.wait(5.0, |e| {
        matches!(e, Event::TransferFinished { transfer, .. } if *transfer == offer.transfer).then_some(())
    });
    assert!(same_bytes(&src, &b.received().join("photo.jpg")));
}

/// `Command::SendText` to a LocalSend device goes over LocalSend (as LocalSend's app sends a
/// message) instead of being refused: the receiver shows exactly the text, the sender hears it
/// was delivered, nothing is saved.
#[test]
fn a_text_goes_to_a_localsend_device_through_the_engine() {
    let udp = free_udp_port();
    let a = node("Alpha", udp, |_| {});
    let b = node("Beta", udp, |_| {});
    let beta = localsend_peer(&a, "Beta");
    let text = "Ferry → LocalSend 你好 👋\nsecond line".to_owned();
    let id = TransferId::next();
    a.commands.send(Command::SendText { id, to: beta.addr, text: text.clone() }).unwrap();
    let got = b.wait(10.0, |e| match e {
        Event::TextReceived { text, .. } => Some(text.clone()),
        _ => None,
    });
    assert_eq!(got, text);
    a.wait(10.0, |e| match e {
        Event::TransferFinished { transfer, files } if *transfer == id => {
            assert!(files.is_empty(), "{files:?}");
            Some(())
        }
        Event::TransferFailed { transfer, error } if *transfer == id => panic!("{error:?}"),
        _ => None,
    });
    assert!(tree(&b.received()).is_empty());
}

#[test]
fn cancel_on_either_side_ends_it_on_both() {
    let udp = free_udp_port();
    let a = node("Alpha", udp, |_| {});
    let b = node("Beta", udp, |c| c.accept_automatically = true);
    let beta = localsend_peer(&a, "Beta");
    // Sparse: takes no disk here; the receiver writes what arrives until the cancel.
    let src = a.dir.path().join("big.bin");
    std::fs::File::create(&src).unwrap().set_len(400_000_000).unwrap();

    // The receiver cancels: the sender hears it.
    let id = a.send(beta.addr, vec![src.clone()]);
    let incoming = b.wait(10.0, |e| match e {
        Event::Progress { transfer, bytes_done, .. } if *bytes_done > 1_000_000 => Some(*transfer),
        _ => None,
    });
    b.commands.send(Command::Cancel(incoming)).unwrap();
    b.wait(5.0, |e| {
        matches!(e, Event::TransferCancelled { transfer, by_peer: false, .. } if *transfer == incoming)
            .then_some(())
    });
    a.wait(10.0, |e| match e {
        Event::TransferCancelled { transfer, by_peer: true, .. } if *transfer == id => Some(()),
        Event::TransferFinished { transfer, .. } | Event::TransferFailed { transfer, .. }
            if *transfer == id =>
        {
            panic!("{e:?}")
        }
        _ => None,
    });

    // The sender cancels: the receiver hears it.
    let id = a.send(beta.addr, vec![src.clone()]);
    let incoming = b.wait(10.0, |e| match e {
        Event::TransferStarted { transfer, direction: Direction::Incoming, .. } => Some(*transfer),
        _ => None,
    });
    a.wait(10.0, |e| matches!(e, Event::Progress { transfer, .. } if *transfer == id).then_some(()));
    a.commands.send(Command::Cancel(id)).unwrap();
    a.wait(5.0, |e| {
        matches!(e, Event::TransferCancelled { transfer, by_peer: false, .. } if *transfer == id)
            .then_some(())
    });
    b.wait(10.0, |e| {
        matches!(e, Event::TransferCancelled { transfer, by_peer: true, .. } if *transfer == incoming)
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(tree(&b.received()).is_empty(), "{:?}", tree(&b.received()));
}

#[test]
fn shutdown_ends_a_waiting_offer_and_says_so() {
    let udp = free_udp_port();
    let a = node("Alpha", udp, |_| {});
    let b = node("Beta", udp, |_| {});
    let beta = localsend_peer(&a, "Beta");
    let src = a.dir.path().join("f.txt");
    std::fs::write(&src, b"hello").unwrap();
    let id = a.send(beta.addr, vec![src]);
    let offer = b.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.transfer),
        _ => None,
    });
    let Node { engine, events, .. } = b;
    engine.shutdown();
    let mut saw_cancel = false;
    while let Ok(e) = events.recv_timeout(Duration::from_secs(5)) {
        match e {
            Event::TransferCancelled { transfer, by_peer: false, .. } if transfer == offer => {
                saw_cancel = true
            }
            Event::Stopped => break,
            _ => {}
        }
    }
    assert!(saw_cancel);
    // The sender learns the receiver went away (declined or cancelled, not stuck).
    a.wait(15.0, |e| match e {
        Event::TransferCancelled { transfer, .. }
        | Event::TransferDeclined { transfer, .. }
        | Event::TransferFailed { transfer, .. }
            if *transfer == id =>
        {
            Some(())
        }
        _ => None,
    });
}
