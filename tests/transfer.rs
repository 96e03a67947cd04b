//! Two engines on loopback move real files: every byte checked, nothing ever left half-written
//! under a final name.

mod common;

use std::path::Path;

use common::{Node, same_bytes, tree, write_random};
use ferry::engine::{Command, Decision, Event, TransferError};
use ferry::protocol::FileResult;

fn accept_next_offer(rx: &Node, decision: Decision) {
    let offer = rx.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        _ => None,
    });
    rx.commands.send(Command::Answer { transfer: offer.transfer, decision }).unwrap();
}

fn finished(node: &Node, secs: f64) -> Vec<ferry::engine::FileOutcome> {
    node.wait(secs, |e| match e {
        Event::TransferFinished { files, .. } => Some(files.clone()),
        Event::TransferFailed { error, .. } => panic!("transfer failed: {error:?}"),
        Event::TransferCancelled { .. } | Event::TransferDeclined { .. } => panic!("unexpected end: {e:?}"),
        _ => None,
    })
}

/// Only what the person should see: no temporary files left either.
fn assert_clean(dir: &Path) {
    let left = tree(dir);
    assert!(left.iter().all(|p| !p.contains(".ferry-")), "temporary files left: {left:?}");
}

#[test]
fn a_mixed_batch_arrives_byte_identical() {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    let src = tempfile::tempdir().unwrap();
    let s = src.path();
    std::fs::write(s.join("empty.txt"), b"").unwrap();
    write_random(&s.join("big.bin"), 300 * 1024 * 1024 + 12345, 1);
    std::fs::create_dir_all(s.join("Trip/day 1/深层")).unwrap();
    std::fs::create_dir_all(s.join("Trip/空的")).unwrap();
    write_random(&s.join("Trip/day 1/照片 😀.jpg"), 777_777, 2);
    write_random(&s.join("Trip/day 1/深层/صورة.png"), 1, 3);
    write_random(&s.join("Trip/notes.txt"), 5000, 4);
    write_random(&s.join("旅行 ✈.txt"), 300_000, 5);

    let paths = vec![s.join("empty.txt"), s.join("big.bin"), s.join("Trip"), s.join("旅行 ✈.txt")];
    tx.send(rx.addr(), paths);
    accept_next_offer(&rx, Decision::AcceptAll);
    let rx_files = finished(&rx, 120.0);
    let tx_files = finished(&tx, 10.0);
    assert!(rx_files.iter().all(|f| f.result == FileResult::Saved), "{rx_files:?}");
    assert_eq!(tx_files.iter().map(|f| f.result).collect::<Vec<_>>(), vec![FileResult::Saved; 6]);

    let got = tree(&rx.received());
    assert_eq!(
        got,
        vec![
            "Trip/day 1/深层/صورة.png",
            "Trip/day 1/照片 😀.jpg",
            "Trip/notes.txt",
            "big.bin",
            "empty.txt",
            "旅行 ✈.txt"
        ]
    );
    for rel in &got {
        assert!(same_bytes(&s.join(rel), &rx.received().join(rel)), "{rel} differs");
    }
    for f in &rx_files {
        assert_eq!(f.saved_as.as_deref(), Some(rx.received().join(&f.path).as_path()));
    }
}

#[test]
fn duplicate_names_get_a_number_instead_of_overwriting() {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    let src = tempfile::tempdir().unwrap();
    let a = src.path().join("a");
    let b = src.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(a.join("photo.jpg"), b"first").unwrap();
    std::fs::write(b.join("photo.jpg"), b"second").unwrap();
    std::fs::create_dir_all(rx.received()).unwrap();
    std::fs::write(rx.received().join("photo.jpg"), b"already here").unwrap();

    tx.send(rx.addr(), vec![a.join("photo.jpg"), b.join("photo.jpg")]);
    accept_next_offer(&rx, Decision::AcceptAll);
    finished(&rx, 20.0);
    let read = |n: &str| std::fs::read(rx.received().join(n)).unwrap();
    assert_eq!(read("photo.jpg"), b"already here");
    assert_eq!(read("photo (1).jpg"), b"first");
    assert_eq!(read("photo (2).jpg"), b"second");
}

/// Issue 14: names that are legal on the sender's disk but not on every disk arrive under safe
/// names — an odd character costs a character, never the file — and the offer says which name
/// each file will be saved under.
#[test]
fn odd_names_arrive_under_safe_names_and_the_offer_says_which() {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    let src = tempfile::tempdir().unwrap();
    let odd = src.path().join("Odd");
    std::fs::create_dir(&odd).unwrap();
    // Offered → stored, in the order the sender offers them (sorted by name).
    let cases = [
        ("AC\\DC.mp3", "AC_DC.mp3"),
        ("CON.jpg", "CON_.jpg"),
        ("He said \"hi\".jpg", "He said _hi_.jpg"),
        ("IMG.JPG", "IMG.JPG"),
        ("Meeting: notes.txt", "Meeting_ notes.txt"),
        ("What?.jpg", "What_.jpg"),
        ("a|b.png", "a_b.png"),
        ("cafe\u{301}.txt", "café.txt"),
        ("img.jpg", "img.jpg"),
        ("invoice\u{200B}.pdf", "invoice.pdf"),
        ("x.jpg.", "x.jpg"),
        ("👨\u{200D}👩\u{200D}👧 family.jpg", "👨\u{200D}👩\u{200D}👧 family.jpg"),
    ];
    for (offered, _) in cases {
        std::fs::write(odd.join(offered), offered).unwrap();
    }
    tx.send(rx.addr(), vec![odd.clone()]);
    let offer = rx.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        _ => None,
    });
    let listed: Vec<(String, Option<String>)> =
        offer.files.iter().map(|f| (f.path.clone(), f.saved_name.clone())).collect();
    let want: Vec<(String, Option<String>)> =
        cases.iter().map(|(o, s)| (format!("Odd/{o}"), Some(format!("Odd/{s}")))).collect();
    assert_eq!(listed, want);
    rx.commands.send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll }).unwrap();

    let files = finished(&rx, 30.0);
    assert!(files.iter().all(|f| f.result == FileResult::Saved), "{files:?}");
    // `img.jpg` differs from `IMG.JPG` only in case: numbered, as on a case-insensitive disk.
    let stored = |s: &str| if s == "img.jpg" { "img (1).jpg".to_owned() } else { s.to_owned() };
    for (f, (offered, saved)) in files.iter().zip(cases) {
        let at = rx.received().join("Odd").join(stored(saved));
        assert_eq!(f.saved_as.as_deref(), Some(at.as_path()), "{offered:?}");
        assert_eq!(std::fs::read_to_string(&at).unwrap(), offered, "{offered:?}");
    }
    let mut want: Vec<String> = cases.iter().map(|(_, s)| format!("Odd/{}", stored(s))).collect();
    want.sort();
    assert_eq!(tree(&rx.received()), want);
    assert!(finished(&tx, 10.0).iter().all(|f| f.result == FileResult::Saved));
}

#[test]
fn declining_writes_nothing_and_both_sides_know() {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    let src = tempfile::tempdir().unwrap();
    write_random(&src.path().join("x.bin"), 100_000, 9);
    let id = tx.send(rx.addr(), vec![src.path().join("x.bin")]);
    accept_next_offer(&rx, Decision::Decline);
    tx.wait(10.0, |e| {
        matches!(e, Event::TransferDeclined { transfer, busy: false } if *transfer == id).then_some(())
    });
    rx.wait(10.0, |e| matches!(e, Event::TransferDeclined { .. }).then_some(()));
    assert_eq!(tree(&rx.received()), Vec::<String>::new());
}

#[test]
fn accepting_some_files_sends_only_those() {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    let src = tempfile::tempdir().unwrap();
    for (i, n) in ["a.txt", "b.txt", "c.txt"].iter().enumerate() {
        write_random(&src.path().join(n), 1000 + i as u64, i as u64);
    }
    tx.send(rx.addr(), ["a.txt", "b.txt", "c.txt"].iter().map(|n| src.path().join(n)).collect());
    accept_next_offer(&rx, Decision::AcceptSome(vec![0, 2]));
    let files = finished(&tx, 20.0);
    let results: Vec<_> = files.iter().map(|f| f.result).collect();
    assert_eq!(results, [FileResult::Saved, FileResult::NotAccepted, FileResult::Saved]);
    assert_eq!(tree(&rx.received()), ["a.txt", "c.txt"]);
}

/// Cancel from one side while a big file is on its way: both sides say "cancelled", and the
/// receive folder holds nothing, not even a temporary file.
fn cancel_mid_file(cancel_on_sender: bool) {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    let src = tempfile::tempdir().unwrap();
    write_random(&src.path().join("huge.bin"), 1536 * 1024 * 1024, 7);
    let out_id = tx.send(rx.addr(), vec![src.path().join("huge.bin")]);
    accept_next_offer(&rx, Decision::AcceptAll);
    let in_id = rx.wait(10.0, |e| match e {
        Event::Progress { transfer, bytes_done, .. } if *bytes_done > 0 => Some(*transfer),
        _ => None,
    });
    let (canceller, id, other) = if cancel_on_sender { (&tx, out_id, &rx) } else { (&rx, in_id, &tx) };
    let asked = std::time::Instant::now();
    canceller.commands.send(Command::Cancel(id)).unwrap();
    canceller.wait(5.0, |e| matches!(e, Event::TransferCancelled { by_peer: false, .. }).then_some(()));
    other.wait(5.0, |e| match e {
        Event::TransferCancelled { by_peer: true, .. } => Some(()),
        Event::TransferFailed { error, .. } => panic!("the other side saw a failure, not a cancel: {error}"),
        _ => None,
    });
    assert!(asked.elapsed().as_secs_f64() < 3.0, "took {:?}", asked.elapsed());
    assert_eq!(tree(&rx.received()), Vec::<String>::new(), "nothing may stay behind");
}

#[test]
fn sender_cancels_mid_file() {
    cancel_mid_file(true);
}

#[test]
fn receiver_cancels_mid_file() {
    cancel_mid_file(false);
}

#[test]
fn cancelling_an_unanswered_offer_withdraws_it() {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("x"), b"x").unwrap();
    let id = tx.send(rx.addr(), vec![src.path().join("x")]);
    rx.wait(10.0, |e| matches!(e, Event::IncomingOffer(_)).then_some(()));
    tx.commands.send(Command::Cancel(id)).unwrap();
    tx.wait(5.0, |e| matches!(e, Event::TransferCancelled { by_peer: false, .. }).then_some(()));
    rx.wait(5.0, |e| matches!(e, Event::TransferCancelled { by_peer: true, .. }).then_some(()));
    assert_clean(&rx.received());
}

#[test]
fn sending_to_nobody_fails_in_plain_words() {
    let tx = Node::start("sender");
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("x"), b"x").unwrap();
    tx.send(dead, vec![src.path().join("x")]);
    let error = tx.wait(10.0, |e| match e {
        Event::TransferFailed { error, .. } => Some(error.clone()),
        _ => None,
    });
    assert!(matches!(error, TransferError::Unreachable(_)), "{error:?}");
    assert!(error.to_string().contains("Couldn't reach the other computer"));
}

#[test]
fn a_missing_source_file_is_reported_before_connecting() {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    tx.send(rx.addr(), vec!["/definitely/not/here.jpg".into()]);
    let error = tx.wait(10.0, |e| match e {
        Event::TransferFailed { error, .. } => Some(error.clone()),
        _ => None,
    });
    assert!(error.to_string().contains("/definitely/not/here.jpg"), "{error}");
}

#[test]
fn auto_accept_saves_without_asking() {
    let tx = Node::start("sender");
    let rx = Node::start_with("receiver", |c| c.accept_automatically = true);
    let src = tempfile::tempdir().unwrap();
    write_random(&src.path().join("auto.bin"), 4096, 3);
    tx.send(rx.addr(), vec![src.path().join("auto.bin")]);
    let files = finished(&rx, 20.0);
    assert_eq!(files[0].result, FileResult::Saved);
    assert!(same_bytes(&src.path().join("auto.bin"), &rx.received().join("auto.bin")));
}

#[test]
fn a_second_offer_waits_while_the_first_is_open() {
    let a = Node::start("first sender");
    let b = Node::start("second sender");
    let rx = Node::start("receiver");
    let src = tempfile::tempdir().unwrap();
    write_random(&src.path().join("one.bin"), 10_000, 1);
    write_random(&src.path().join("two.bin"), 20_000, 2);
    a.send(rx.addr(), vec![src.path().join("one.bin")]);
    b.send(rx.addr(), vec![src.path().join("two.bin")]);
    // Both offers are shown, neither is refused while the other is open.
    let mut offers = Vec::new();
    while offers.len() < 2 {
        offers.push(rx.wait(10.0, |e| match e {
            Event::IncomingOffer(o) => Some(o.clone()),
            _ => None,
        }));
    }
    // Answer the later one first: each waits for its own answer.
    offers.sort_by_key(|o| std::cmp::Reverse(o.transfer));
    for o in &offers {
        rx.commands.send(Command::Answer { transfer: o.transfer, decision: Decision::AcceptAll }).unwrap();
    }
    finished(&a, 20.0);
    finished(&b, 20.0);
    assert_eq!(tree(&rx.received()), ["one.bin", "two.bin"]);
}

#[test]
fn a_stalled_sender_is_dropped_after_the_idle_timeout_and_nothing_is_kept() {
    use std::time::{Duration, Instant};
    let rx = Node::start_with("receiver", |c| {
        c.accept_automatically = true;
        c.timing.idle_timeout = Duration::from_secs(1);
    });
    let mut s = common::raw::Raw::connect(rx.addr());
    s.offer(&[("stalled.bin", 1000)]);
    s.send(&ferry::protocol::Message::FileBegin { index: 0, size: 1000 });
    s.send_data(&[0u8; 10]);
    let started = Instant::now();
    let error = rx.wait(10.0, |e| match e {
        Event::TransferFailed { error, .. } => Some(error.clone()),
        _ => None,
    });
    assert_eq!(error, TransferError::TimedOut);
    assert!(started.elapsed() >= Duration::from_millis(900), "dropped before the idle timeout");
    assert!(error.to_string().contains("stopped responding"));
    assert_eq!(tree(&rx.received()), Vec::<String>::new());
    drop(s);
}

#[test]
fn answering_an_offer_again_and_again_does_not_stall_the_engine() {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    let src = tempfile::tempdir().unwrap();
    write_random(&src.path().join("big.bin"), 1024 * 1024 * 1024, 1);
    tx.send(rx.addr(), vec![src.path().join("big.bin")]);
    let offer = rx.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        _ => None,
    });
    for _ in 0..5 {
        rx.commands
            .send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll })
            .unwrap();
    }
    // The engine still takes commands while that transfer runs: a cancel goes through at once.
    rx.commands.send(Command::Cancel(offer.transfer)).unwrap();
    rx.wait(5.0, |e| match e {
        Event::TransferCancelled { transfer, by_peer: false, .. } if *transfer == offer.transfer => Some(()),
        Event::TransferFinished { .. } => panic!("the cancel was not handled while the transfer ran"),
        _ => None,
    });
    assert_eq!(tree(&rx.received()), Vec::<String>::new());
}

/// When Ferry is closed on one computer, the other side's transfer ends "cancelled: the app was
/// closed there" (reason Shutdown), at every stage: offer open, or file on its way; either side.
#[test]
fn closing_ferry_on_one_side_tells_the_other_why() {
    use ferry::protocol::CancelReason;
    let src = tempfile::tempdir().unwrap();
    write_random(&src.path().join("big.bin"), 400 * 1024 * 1024, 3);
    for (stage, close_sender) in
        [("offer open", true), ("offer open", false), ("streaming", true), ("streaming", false)]
    {
        let tx = Node::start("sender");
        let rx = Node::start("receiver");
        tx.send(rx.addr(), vec![src.path().join("big.bin")]);
        let offer = rx.wait(10.0, |e| match e {
            Event::IncomingOffer(o) => Some(o.clone()),
            _ => None,
        });
        if stage == "streaming" {
            rx.commands
                .send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll })
                .unwrap();
            rx.wait(10.0, |e| {
                matches!(e, Event::Progress { bytes_done, .. } if *bytes_done > 0).then_some(())
            });
        }
        let (closing, other) = if close_sender { (tx, rx) } else { (rx, tx) };
        closing.engine.shutdown();
        let reason = other.wait(10.0, |e| match e {
            Event::TransferCancelled { by_peer: true, reason, .. } => Some(*reason),
            Event::TransferFailed { error, .. } => panic!("{stage}: a failure, not a cancel: {error:?}"),
            Event::TransferDeclined { .. } => panic!("{stage}: declined, not cancelled"),
            _ => None,
        });
        assert_eq!(reason, CancelReason::Shutdown, "{stage}, sender closed: {close_sender}");
        drop(closing.dir);
    }
}

/// Every event of a node's transfer until its end (finished, failed, cancelled, declined).
fn events_until_end(node: &Node, secs: f64) -> Vec<Event> {
    let mut seen = Vec::new();
    node.wait(secs, |e| {
        seen.push(e.clone());
        matches!(
            e,
            Event::TransferFinished { .. }
                | Event::TransferFailed { .. }
                | Event::TransferCancelled { .. }
                | Event::TransferDeclined { .. }
        )
        .then_some(())
    });
    seen
}

/// The most bytes the sender said it had sent.
fn bytes_sent(events: &[Event]) -> u64 {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Progress { bytes_done, .. } => Some(*bytes_done),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

fn outcomes(events: &[Event]) -> Vec<FileResult> {
    match events.last() {
        Some(Event::TransferFinished { files, .. }) => files.iter().map(|f| f.result).collect(),
        other => panic!("the transfer did not finish: {other:?}"),
    }
}

/// Issue 12, point 2: a full disk on the receiver stops the sender at the first failed write —
/// not after the whole file went over the network — and both sides know why: the file is
/// DiskFull, the files after it were not sent, nothing half-saved is left.
#[test]
fn a_full_disk_stops_the_sender_at_once_and_both_sides_say_why() {
    const BIG: u64 = 400 * 1024 * 1024;
    let tx = Node::start("sender");
    let rx = Node::start("Kitchen PC");
    ferry::transfer::store::inject_write_failure(
        &rx.received(),
        1024 * 1024,
        std::io::ErrorKind::StorageFull,
    );
    let src = tempfile::tempdir().unwrap();
    write_random(&src.path().join("a.bin"), BIG, 1);
    write_random(&src.path().join("b.txt"), 1000, 2);
    tx.send(rx.addr(), vec![src.path().join("a.bin"), src.path().join("b.txt")]);
    accept_next_offer(&rx, Decision::AcceptAll);

    let rx_events = events_until_end(&rx, 60.0);
    let tx_events = events_until_end(&tx, 60.0);
    assert_eq!(outcomes(&rx_events), [FileResult::DiskFull, FileResult::NotSent]);
    assert_eq!(outcomes(&tx_events), [FileResult::DiskFull, FileResult::NotSent]);
    // The sender heard it while sending a.bin (its FILE_DONE came before the end) and stopped:
    // what went out is the failed megabyte plus what the socket buffers and read-ahead held.
    assert!(tx_events.iter().any(|e| matches!(e,
        Event::FileDone { outcome, .. } if outcome.result == FileResult::DiskFull)));
    let sent = bytes_sent(&tx_events);
    assert!(sent < BIG / 4, "the sender sent {sent} of {BIG} bytes before it stopped");
    let Some(Event::TransferFinished { files, .. }) = tx_events.last() else { unreachable!() };
    let failure = ferry::engine::SaveFailure::of_batch(files);
    assert_eq!(failure, Some(ferry::engine::SaveFailure::DiskFull));
    assert_eq!(
        failure.unwrap().sentence(Some("Kitchen PC")),
        "Kitchen PC's disk is full. Nothing half-saved was kept."
    );
    assert!(tree(&rx.received()).is_empty(), "{:?}", tree(&rx.received()));
}

/// A receive folder that cannot be written: the first file fails before a byte is kept, the
/// sender gives the rest up unsent, and the reason is FolderNotWritable on both sides.
#[test]
fn an_unwritable_receive_folder_is_named_and_nothing_more_is_sent() {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    ferry::transfer::store::inject_write_failure(&rx.received(), 0, std::io::ErrorKind::ReadOnlyFilesystem);
    let src = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (0..5)
        .map(|i| {
            let p = src.path().join(format!("{i}.bin"));
            write_random(&p, 50 * 1024 * 1024, i);
            p
        })
        .collect();
    tx.send(rx.addr(), paths);
    accept_next_offer(&rx, Decision::AcceptAll);
    let rx_events = events_until_end(&rx, 60.0);
    let tx_events = events_until_end(&tx, 60.0);
    let want = [
        FileResult::FolderNotWritable,
        FileResult::NotSent,
        FileResult::NotSent,
        FileResult::NotSent,
        FileResult::NotSent,
    ];
    assert_eq!(outcomes(&rx_events), want);
    assert_eq!(outcomes(&tx_events), want);
    assert!(bytes_sent(&tx_events) < 50 * 1024 * 1024, "{}", bytes_sent(&tx_events));
    assert_clean(&rx.received());
}

/// The receive folder removed while a batch arrives: the next file cannot be created there, the
/// sender hears FolderGone for it and sends nothing more. (A real removal, no test seam.)
#[test]
fn a_receive_folder_removed_midway_stops_the_batch_as_folder_gone() {
    let tx = Node::start("sender");
    let rx = Node::start("receiver");
    let src = tempfile::tempdir().unwrap();
    let mut paths = vec![src.path().join("0.txt")];
    std::fs::write(&paths[0], b"first").unwrap();
    for i in 1..4 {
        let p = src.path().join(format!("{i}.bin"));
        write_random(&p, 60 * 1024 * 1024, i);
        paths.push(p);
    }
    tx.send(rx.addr(), paths);
    accept_next_offer(&rx, Decision::AcceptAll);
    // The transfer has opened its folder (before its ANSWER went out): remove it now.
    rx.wait(30.0, |e| matches!(e, Event::TransferStarted { .. }).then_some(()));
    std::fs::remove_dir_all(rx.received()).unwrap();
    let rx_events = events_until_end(&rx, 60.0);
    let tx_events = events_until_end(&tx, 60.0);
    let (got_rx, got_tx) = (outcomes(&rx_events), outcomes(&tx_events));
    assert_eq!(got_rx, got_tx);
    // A file created just before the folder went fails only when it is named, after its last
    // byte, while the next is on its way and fails on its own: every file from the first
    // failure on says FolderGone or was not sent, and the sender stopped long before the end.
    let first = got_tx.iter().position(|r| *r != FileResult::Saved).expect("a file failed");
    assert_eq!(got_tx[first], FileResult::FolderGone, "{got_tx:?}");
    assert!(
        got_tx[first..].iter().all(|r| matches!(r, FileResult::FolderGone | FileResult::NotSent)),
        "{got_tx:?}"
    );
    assert!(bytes_sent(&tx_events) < 120 * 1024 * 1024, "{}", bytes_sent(&tx_events));
    assert!(!rx.received().exists());
}

/// Issue 12, point 12: a piece of text offered to a Ferry device is shown in the offer exactly
/// as sent (controls and all: cleaning is for display), arrives once accepted as TextReceived,
/// and nothing touches the receive folder. Declined, it never arrives.
#[test]
fn text_offered_arrives_exactly_once_accepted() {
    let tx = Node::start("sender");
    let rx = Node::start("Kitchen PC");
    let text = "Wi-Fi: Gäste 🏠\npassword: c0rrect\u{1b}[2J horse\thttps://example.org/?a=1&b=2";
    let send_text = |text: &str| {
        let id = ferry::engine::TransferId::next();
        tx.commands.send(Command::SendText { id, to: rx.addr(), text: text.into() }).unwrap();
        id
    };
    let id = send_text(text);
    let offer = rx.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        _ => None,
    });
    assert_eq!(offer.text.as_deref(), Some(text));
    assert!(offer.files.is_empty());
    assert_eq!(offer.total_bytes, text.len() as u64);
    assert_eq!(offer.from.name, "sender");
    rx.commands.send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll }).unwrap();
    let got = rx.wait(10.0, |e| match e {
        Event::TextReceived { from, text } => Some((from.name.clone(), text.clone())),
        _ => None,
    });
    assert_eq!(got, ("sender".to_owned(), text.to_owned()));
    let tx_events = events_until_end(&tx, 10.0);
    assert!(
        matches!(tx_events.last(), Some(Event::TransferFinished { transfer, files }) if *transfer == id && files.is_empty()),
        "{:?}",
        tx_events.last()
    );
    assert!(!rx.received().exists() || tree(&rx.received()).is_empty());

    // Declined: the sender hears so, and no TextReceived comes.
    send_text("not wanted");
    let offer = rx.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        _ => None,
    });
    rx.commands.send(Command::Answer { transfer: offer.transfer, decision: Decision::Decline }).unwrap();
    let tx_events = events_until_end(&tx, 10.0);
    assert!(matches!(tx_events.last(), Some(Event::TransferDeclined { busy: false, .. })));
    let until = std::time::Instant::now() + std::time::Duration::from_millis(300);
    while let Ok(late) = rx.events.recv_deadline(until) {
        assert!(!matches!(late, Event::TextReceived { .. }), "{late:?}");
    }

    // Too long or empty: refused before anything is sent.
    let long = "x".repeat(ferry::protocol::MAX_TEXT_BYTES + 1);
    for (text, want) in [
        (long.as_str(), TransferError::TextTooLong { len: long.len() as u64, max: 16384 }),
        ("", TransferError::NoText),
    ] {
        send_text(text);
        let error = tx.wait(10.0, |e| match e {
            Event::TransferFailed { error, .. } => Some(error.clone()),
            _ => None,
        });
        assert_eq!(error, want);
    }
}
