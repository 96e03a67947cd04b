//! Peers that lie, break off or send garbage: the receiver drops them, keeps nothing under a
//! final name, and goes on serving everyone else; a sender facing a broken receiver says why.

mod common;

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::raw::{Got, Raw, frame, hello};
use common::{Node, same_bytes, tree, write_random};
use ferry::engine::{Command, Decision, Event, TransferError, TransferId};
use ferry::protocol::frame::data_header;
use ferry::protocol::{Answer, ErrorCode, FileResult, Hello, Message};

/// Connects as a sender offering one file of `size` bytes, and returns the peer once accepted.
fn offer_one(rx: &Node, size: u64) -> Raw {
    let mut p = Raw::connect(rx.addr());
    p.offer(&[("victim.jpg", size)]);
    let offer = rx.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        _ => None,
    });
    rx.commands.send(Command::Answer { transfer: offer.transfer, decision: Decision::AcceptAll }).unwrap();
    let answer = p.until(|m| matches!(m, Message::Answer(_)));
    assert_eq!(answer, Message::Answer(Answer::AcceptAll));
    p
}

fn failure(node: &Node) -> TransferError {
    node.wait(10.0, |e| match e {
        Event::TransferFailed { error, .. } => Some(error.clone()),
        _ => None,
    })
}

#[test]
fn corrupted_data_is_not_saved() {
    let rx = Node::start("receiver");
    let good = vec![42u8; 100_000];
    let mut p = offer_one(&rx, good.len() as u64);
    let mut bad = good.clone();
    bad[5000] ^= 1;
    p.file(0, &bad, &good);
    let result = p.until(|m| matches!(m, Message::FileResult { .. }));
    assert_eq!(result, Message::FileResult { index: 0, result: FileResult::HashMismatch });
    p.send(&Message::Done);
    let summary = p.until(|m| matches!(m, Message::Summary(_)));
    assert_eq!(summary, Message::Summary(vec![FileResult::HashMismatch]));
    assert_eq!(tree(&rx.received()), Vec::<String>::new());
}

#[test]
fn a_sender_that_vanishes_mid_file_leaves_nothing() {
    let rx = Node::start("receiver");
    let mut p = offer_one(&rx, 1_000_000);
    p.send(&Message::FileBegin { index: 0, size: 1_000_000 });
    p.send_data(&[1u8; 300_000]);
    p.send_raw(&data_header(300_000));
    p.send_raw(&[1u8; 1000]);
    drop(p);
    let error = failure(&rx);
    assert!(matches!(error, TransferError::ConnectionLost(_)), "{error:?}");
    assert_eq!(tree(&rx.received()), Vec::<String>::new());
}

#[test]
fn more_bytes_than_offered_is_refused() {
    let rx = Node::start("receiver");
    let mut p = offer_one(&rx, 10);
    p.send(&Message::FileBegin { index: 0, size: 10 });
    p.send_data(&[0u8; 11]);
    let error = failure(&rx);
    assert!(matches!(error, TransferError::Protocol(_)), "{error:?}");
    assert!(matches!(
        p.until(|m| matches!(m, Message::Error { .. })),
        Message::Error { code: ErrorCode::Protocol, .. }
    ));
    assert_eq!(tree(&rx.received()), Vec::<String>::new());
}

#[test]
fn unsafe_names_are_refused_and_nothing_escapes() {
    let rx = Node::start_with("receiver", |c| c.accept_automatically = true);
    let mut p = Raw::connect(rx.addr());
    // (`CON` used to be here: since issue 14 it is saved as `CON_`, see tests/names.rs.)
    let names =
        ["../escape.txt", "/etc/passwd-ferry", "ok.txt", "a/../../b.txt", "..\\..\\win.ini", "C:evil"];
    let files: Vec<(&str, u64)> = names.iter().map(|n| (*n, 2)).collect();
    p.offer(&files);
    let answer = p.until(|m| matches!(m, Message::Answer(_)));
    assert_eq!(answer, Message::Answer(Answer::AcceptSome { file_count: 6, indices: vec![2] }));
    p.file(2, b"ok", b"ok");
    p.send(&Message::Done);
    let summary = p.until(|m| matches!(m, Message::Summary(_)));
    use FileResult::{Saved, UnsafeName};
    assert_eq!(
        summary,
        Message::Summary(vec![UnsafeName, UnsafeName, Saved, UnsafeName, UnsafeName, UnsafeName])
    );
    assert_eq!(tree(rx.dir.path()), ["received/ok.txt"]);
}

// Other loopback addresses than 127.0.0.1 (as if from other computers): not on macOS, which
// has only 127.0.0.1 on lo0.
#[cfg(not(target_os = "macos"))]
#[test]
fn garbage_huge_lengths_and_silence_do_not_stop_a_real_transfer() {
    let tx = Node::start("sender");
    let rx = Node::start_with("receiver", |c| c.accept_automatically = true);
    let addr = rx.addr();
    // The bad ones come from two other computers, the real sender from 127.0.0.1.
    let from = |n: u8| Raw::new(common::connect_from([127, 0, 0, n].into(), addr));

    // Silent: connects and says nothing.
    let silent: Vec<Raw> = (0..3).map(|_| from(2)).collect();
    // A 4 GiB frame announced after a proper hello.
    let mut huge = from(3);
    huge.send(&hello());
    huge.send_raw(&[0xff, 0xff, 0xff, 0xff, 0x06]);
    // Garbage from the first byte.
    let mut garbage = from(3);
    garbage.send_raw(b"GET / HTTP/1.1\r\nHost: ferry\r\n\r\n");
    // Unknown frame type.
    let mut unknown = from(3);
    unknown.send_raw(&[0, 0, 0, 3, 0x7f, 1, 2]);

    let src = tempfile::tempdir().unwrap();
    write_random(&src.path().join("real.bin"), 5_000_000, 11);
    tx.send(addr, vec![src.path().join("real.bin")]);
    rx.wait(30.0, |e| match e {
        Event::TransferFinished { files, .. } => Some(files.clone()),
        Event::TransferFailed { error, .. } => panic!("{error:?}"),
        _ => None,
    });
    assert!(same_bytes(&src.path().join("real.bin"), &rx.received().join("real.bin")));

    // The bad connections were told why and dropped; the silent ones were dropped.
    for mut p in [huge, garbage, unknown] {
        let said = p.rest(Duration::from_secs(8)).expect("closed");
        assert!(matches!(said.last(), Some(Message::Error { code: ErrorCode::Protocol, .. })), "{said:?}");
    }
    for mut p in silent {
        assert!(p.rest(Duration::from_secs(8)).is_some(), "still open");
    }
    assert_eq!(tree(&rx.received()), ["real.bin"]);
}

/// The bytes of a valid HELLO frame, with its payload changed by `change` (the length is fixed
/// up to match).
fn hello_frame(change: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut payload = frame(&hello())[5..].to_vec();
    change(&mut payload);
    let mut out = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    out.push(0x01);
    out.extend_from_slice(&payload);
    out
}

/// Offset of the name's length byte in a HELLO payload: magic, version, purpose, instance,
/// port, os.
#[cfg(not(target_os = "macos"))]
const NAME_AT: usize = 4 + 2 + 1 + 16 + 2 + 1;

// Other loopback addresses than 127.0.0.1 (as if from other computers): not on macOS, which
// has only 127.0.0.1 on lo0.
#[cfg(not(target_os = "macos"))]
#[test]
fn a_malformed_hello_is_answered_with_error_protocol_before_the_close() {
    let rx = Node::start("receiver");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bad magic", hello_frame(|p| p[0] = b'X')),
        ("unknown purpose", hello_frame(|p| p[6] = 3)),
        ("trailing bytes", hello_frame(|p| p.push(0))),
        (
            "fingerprint over 64 bytes",
            hello_frame(|p| {
                p.truncate(p.len() - 33); // the 32-byte fingerprint and its length
                p.push(65);
                p.extend_from_slice(&[0xab; 65]);
            }),
        ),
        ("truncated", hello_frame(|p| p.truncate(NAME_AT + 3))),
        ("name not UTF-8", hello_frame(|p| p[NAME_AT + 1] = 0xff)),
        (
            "OFFER before HELLO",
            frame(&Message::Offer(ferry::protocol::Offer { file_count: 0, total_bytes: 0 })),
        ),
        ("DATA before HELLO", common::raw::data(b"x")),
        ("KEEPALIVE before HELLO", frame(&Message::Keepalive)),
        ("unknown frame type", vec![0, 0, 0, 1, 0x42]),
    ];
    // Each from an address of its own: one address's connections that have not shown an offer
    // yet are few (and a closed one's place comes back a moment after the close).
    for (n, (what, bytes)) in cases.into_iter().enumerate() {
        let mut p = Raw::new(common::connect_from([127, 0, 0, 20 + n as u8].into(), rx.addr()));
        p.send_raw(&bytes);
        let said = p.rest(Duration::from_secs(5)).unwrap_or_else(|| panic!("{what}: still open"));
        assert!(
            matches!(said.as_slice(), [Message::Error { code: ErrorCode::Protocol, .. }]),
            "{what}: {said:?}"
        );
    }
    // Nothing was shown to the person.
    assert!(rx.events.try_iter().all(|e| !matches!(e, Event::IncomingOffer(_))));
}

#[test]
fn a_hello_of_version_0_is_answered_with_unsupported_version() {
    let rx = Node::start("receiver");
    let mut p = Raw::connect(rx.addr());
    p.send_raw(&hello_frame(|p| p[4..6].copy_from_slice(&[0, 0])));
    let said = p.rest(Duration::from_secs(5)).expect("closed");
    assert!(
        matches!(said.as_slice(), [Message::Error { code: ErrorCode::UnsupportedVersion, .. }]),
        "{said:?}"
    );
}

#[test]
fn the_connection_cap_refuses_extra_connections_politely() {
    let rx = Node::start_with("receiver", |c| c.admission.total = 2);
    let _held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(rx.addr()).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    // Refused before TLS, in plaintext (PROTOCOL.md §7.3).
    let mut extra = Raw::plain(TcpStream::connect(rx.addr()).unwrap());
    let m = extra.until(|_| true);
    assert!(matches!(m, Message::Error { code: ErrorCode::Overloaded, .. }), "{m:?}");
}

/// A fake receiver for `tx`'s transfer of one `size`-byte file: returns the transfer id and
/// the peer, after it has read the sender's HELLO (it has not answered yet).
fn fake_receiver(tx: &Node, size: u64) -> (TransferId, Raw) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // Inside the node's own folder, so it goes when the node does.
    let src = tempfile::tempdir_in(tx.dir.path()).unwrap().keep();
    write_random(&src.join("big.bin"), size, 5);
    let id = tx.send(listener.local_addr().unwrap(), vec![src.join("big.bin")]);
    let mut p = Raw::accept(listener.accept().unwrap().0);
    p.until(|m| matches!(m, Message::Hello(_)));
    (id, p)
}

/// A receiver that accepts, then stops reading (as if the link were cut).
fn stalled_receiver(tx: &Node, size: u64) -> (TransferId, Raw) {
    let (id, mut p) = fake_receiver(tx, size);
    p.send(&hello());
    p.until(|m| matches!(m, Message::OfferFile(_)));
    p.send(&Message::Answer(Answer::AcceptAll));
    // Wait until the sender is streaming, then read nothing more.
    tx.wait(10.0, |e| matches!(e, Event::Progress { transfer, .. } if *transfer == id).then_some(()));
    (id, p)
}

#[test]
fn a_sender_facing_a_dead_link_gives_up_after_the_idle_timeout() {
    let tx = Node::start_with("sender", |c| c.timing.idle_timeout = Duration::from_secs(2));
    let (id, _held) = stalled_receiver(&tx, 200 * 1024 * 1024);
    let start = Instant::now();
    let error = tx.wait(20.0, |e| match e {
        Event::TransferFailed { transfer, error } if *transfer == id => Some(error.clone()),
        _ => None,
    });
    assert_eq!(error, TransferError::TimedOut);
    // One idle period after the socket stopped taking bytes, not one per partial write (which
    // took two to three periods).
    assert!(start.elapsed() < Duration::from_millis(3500), "took {:?}", start.elapsed());
}

#[test]
fn a_sender_stuck_behind_a_dead_link_can_still_cancel_at_once() {
    let tx = Node::start("sender");
    let (id, _held) = stalled_receiver(&tx, 200 * 1024 * 1024);
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    tx.commands.send(Command::Cancel(id)).unwrap();
    tx.wait(5.0, |e| {
        matches!(e, Event::TransferCancelled { transfer, by_peer: false, .. } if *transfer == id)
            .then_some(())
    });
    assert!(asked.elapsed() < Duration::from_secs(3), "took {:?}", asked.elapsed());
}

/// The sender, told something it cannot read at each stage of the conversation, answers
/// ERROR Protocol before it closes, and says the transfer failed.
#[test]
fn a_sender_answers_a_bad_frame_with_error_protocol() {
    let tx = Node::start("sender");
    let bad_answer = {
        let mut f = frame(&Message::Answer(Answer::AcceptAll));
        f[5] = 9; // no such answer kind
        f
    };
    let bad_result = {
        let mut f = frame(&Message::FileResult { index: 0, result: FileResult::Saved });
        f[9] = 99; // no such result code
        f
    };
    for stage in ["instead of HELLO", "instead of ANSWER", "while streaming"] {
        let (id, mut p) = fake_receiver(&tx, 50 * 1024 * 1024);
        match stage {
            "instead of HELLO" => p.send_raw(&[0, 0, 0, 1, 0x42]),
            "instead of ANSWER" => {
                p.send(&hello());
                p.until(|m| matches!(m, Message::OfferFile(_)));
                p.send_raw(&bad_answer);
            }
            _ => {
                p.send(&hello());
                p.until(|m| matches!(m, Message::OfferFile(_)));
                p.send(&Message::Answer(Answer::AcceptAll));
                p.until(|m| matches!(m, Message::FileBegin { .. }));
                p.send_raw(&bad_result);
            }
        }
        let error = tx.wait(10.0, |e| match e {
            Event::TransferFailed { transfer, error } if *transfer == id => Some(error.clone()),
            _ => None,
        });
        assert!(matches!(error, TransferError::Protocol(_)), "{stage}: {error:?}");
        p.until(|m| matches!(m, Message::Error { code: ErrorCode::Protocol, .. }));
        assert!(p.rest(Duration::from_secs(5)).is_some(), "{stage}: the sender did not close");
    }
}

#[test]
fn a_sender_answers_a_receiver_of_version_0_with_unsupported_version() {
    let tx = Node::start("sender");
    let (id, mut p) = fake_receiver(&tx, 10);
    let Message::Hello(h) = hello() else { unreachable!() };
    p.send(&Message::Hello(Hello { version: 0, ..h }));
    let error = tx.wait(10.0, |e| match e {
        Event::TransferFailed { transfer, error } if *transfer == id => Some(error.clone()),
        _ => None,
    });
    assert_eq!(error, TransferError::IncompatibleVersion);
    let said = p.rest(Duration::from_secs(5)).expect("closed");
    assert!(
        // The VERIFY_COMMIT came with the sender's HELLO, before our answer.
        matches!(
            said.as_slice(),
            [Message::VerifyCommit { .. }, Message::Error { code: ErrorCode::UnsupportedVersion, .. }]
        ),
        "{said:?}"
    );
}

#[test]
fn a_file_skipped_half_way_does_not_spoil_the_next_one() {
    let rx = Node::start_with("receiver", |c| c.accept_automatically = true);
    let mut p = Raw::connect(rx.addr());
    p.offer(&[("gone.bin", 1000), ("kept.bin", 1000)]);
    p.until(|m| matches!(m, Message::Answer(_)));
    p.send(&Message::FileBegin { index: 0, size: 1000 });
    p.send_data(&[9u8; 400]);
    p.send(&Message::FileSkip { index: 0, reason: ferry::protocol::SkipReason::Changed });
    let kept = [3u8; 1000];
    p.file(1, &kept, &kept);
    p.send(&Message::Done);
    let summary = p.until(|m| matches!(m, Message::Summary(_)));
    use FileResult::{Saved, SenderSkipped};
    assert_eq!(summary, Message::Summary(vec![SenderSkipped, Saved]));
    assert_eq!(tree(&rx.received()), ["kept.bin"]);
}

/// A fake receiver for `tx`'s transfer of three small files: returns the transfer id and the
/// peer, after it has read the offer (it has not answered yet).
fn three_file_offer(tx: &Node) -> (TransferId, Raw) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // Inside the node's own folder, so it goes when the node does.
    let src = tempfile::tempdir_in(tx.dir.path()).unwrap().keep();
    for n in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(src.join(n), n).unwrap();
    }
    let paths = ["a.txt", "b.txt", "c.txt"].iter().map(|n| src.join(n)).collect();
    let id = tx.send(listener.local_addr().unwrap(), paths);
    let mut p = Raw::accept(listener.accept().unwrap().0);
    p.until(|m| matches!(m, Message::Hello(_)));
    p.send(&hello());
    let mut offered = 0;
    p.until(|m| {
        offered += matches!(m, Message::OfferFile(_)) as u32;
        offered == 3
    });
    (id, p)
}

/// Every way a receiver can lie about what became of the files: each ends the transfer as a
/// protocol error (told to the receiver), never as "finished".
#[test]
fn a_report_that_contradicts_what_was_sent_fails_the_transfer() {
    use FileResult::{HashMismatch, NotAccepted, NotSent, Saved};
    let tx = Node::start("sender");
    let only_first = Answer::AcceptSome { file_count: 3, indices: vec![0] };
    type Lie = (&'static str, Answer, Vec<Message>);
    let lies: Vec<Lie> = vec![
        (
            "issue 9's example: one accepted, its hash wrong, all three 'saved'",
            only_first.clone(),
            vec![Message::FileResult { index: 0, result: HashMismatch }, Message::Summary(vec![Saved; 3])],
        ),
        (
            "a summary that contradicts the file's own result",
            Answer::AcceptAll,
            vec![
                Message::FileResult { index: 0, result: HashMismatch },
                Message::FileResult { index: 1, result: Saved },
                Message::FileResult { index: 2, result: Saved },
                Message::Summary(vec![Saved; 3]),
            ],
        ),
        ("a summary without the file results", Answer::AcceptAll, vec![Message::Summary(vec![Saved; 3])]),
        (
            "a summary saying the sent file was never sent",
            only_first.clone(),
            vec![
                Message::FileResult { index: 0, result: Saved },
                Message::Summary(vec![NotSent, NotAccepted, NotAccepted]),
            ],
        ),
        (
            "a result for a file that was not accepted",
            only_first,
            vec![Message::FileResult { index: 2, result: Saved }],
        ),
    ];
    for (lie, answer, words) in lies {
        let (id, mut p) = three_file_offer(&tx);
        p.send(&Message::Answer(answer));
        p.until(|m| matches!(m, Message::Done));
        p.send_all(&words);
        let end = tx.wait(10.0, |e| match e {
            Event::TransferFailed { transfer, error } if *transfer == id => Some(Ok(error.clone())),
            Event::TransferFinished { transfer, files } if *transfer == id => Some(Err(files.clone())),
            _ => None,
        });
        let error = end.unwrap_or_else(|files| panic!("{lie}: reported as finished: {files:?}"));
        assert!(matches!(error, TransferError::Protocol(_)), "{lie}: {error:?}");
        p.until(|m| matches!(m, Message::Error { code: ErrorCode::Protocol, .. }));
    }
}

/// A result that arrives for a file before it was sent is a lie too.
#[test]
fn a_result_for_a_file_not_yet_sent_fails_the_transfer() {
    let tx = Node::start("sender");
    let (id, mut p) = fake_receiver(&tx, 100 * 1024 * 1024);
    p.send(&hello());
    p.until(|m| matches!(m, Message::OfferFile(_)));
    p.send(&Message::Answer(Answer::AcceptAll));
    p.send(&Message::FileResult { index: 0, result: FileResult::Saved });
    let error = tx.wait(10.0, |e| match e {
        Event::TransferFailed { transfer, error } if *transfer == id => Some(error.clone()),
        Event::TransferFinished { .. } => panic!("finished"),
        _ => None,
    });
    assert!(matches!(error, TransferError::Protocol(_)), "{error:?}");
}

/// How long after a small file's FILE_END its FILE_RESULT comes back, while `keep_busy` is
/// called every 20 ms (the sender goes on with the next file, or says nothing).
fn result_delay(rx: &Node, mut keep_busy: impl FnMut(&mut Raw)) -> Option<Duration> {
    let mut p = Raw::connect(rx.addr());
    p.offer(&[("small.txt", 1000), ("big.bin", 10_000_000)]);
    p.until(|m| matches!(m, Message::Answer(_)));
    let small = [5u8; 1000];
    p.file(0, &small, &small);
    let ended = Instant::now();
    while ended.elapsed() < Duration::from_secs(3) {
        keep_busy(&mut p);
        if let Got::Msg(Message::FileResult { index: 0, result }) = p.read(Duration::from_millis(20)) {
            assert_eq!(result, FileResult::Saved);
            return Some(ended.elapsed());
        }
    }
    None
}

#[test]
fn a_file_result_goes_out_when_the_file_is_saved_while_the_next_file_streams() {
    let rx = Node::start_with("receiver", |c| c.accept_automatically = true);
    let mut begun = false;
    let delay = result_delay(&rx, |p| {
        if !begun {
            p.send(&Message::FileBegin { index: 1, size: 10_000_000 });
            begun = true;
        }
        p.send_data(&[1u8; 10_000]);
    });
    let delay = delay.expect("no FILE_RESULT within 3 s while the next file streamed");
    assert!(delay < Duration::from_millis(500), "FILE_RESULT after {delay:?}");
}

#[test]
fn a_file_result_goes_out_when_the_file_is_saved_while_the_sender_is_quiet() {
    let rx = Node::start_with("receiver", |c| c.accept_automatically = true);
    let delay = result_delay(&rx, |_| {}).expect("no FILE_RESULT within 3 s of a quiet sender");
    assert!(delay < Duration::from_millis(500), "FILE_RESULT after {delay:?}");
}

/// The receive folder is swapped for a symlink to another folder while a file is on its way:
/// that file and the next one still land in the folder that was opened for the transfer, and
/// nothing lands at the link's target.
#[cfg(unix)]
#[test]
fn a_receive_folder_replaced_by_a_symlink_mid_transfer_is_not_followed() {
    let rx = Node::start_with("receiver", |c| c.accept_automatically = true);
    let outside = tempfile::tempdir().unwrap();
    let mut p = Raw::connect(rx.addr());
    p.offer(&[("first.bin", 200_000), ("Album/second.bin", 1000)]);
    assert_eq!(p.until(|m| matches!(m, Message::Answer(_))), Message::Answer(Answer::AcceptAll));
    let first = vec![1u8; 200_000];
    p.send(&Message::FileBegin { index: 0, size: first.len() as u64 });
    p.send_data(&first[..100_000]);
    // Let the receiver start the file, then swap the folder under it.
    rx.wait(10.0, |e| matches!(e, Event::Progress { bytes_done, .. } if *bytes_done > 0).then_some(()));
    let moved = rx.dir.path().join("moved-away");
    std::fs::rename(rx.received(), &moved).unwrap();
    std::os::unix::fs::symlink(outside.path(), rx.received()).unwrap();

    p.send_data(&first[100_000..]);
    p.send(&Message::FileEnd { index: 0, hash: *blake3::hash(&first).as_bytes() });
    p.file(1, &[2u8; 1000], &[2u8; 1000]);
    p.send(&Message::Done);
    let summary = p.until(|m| matches!(m, Message::Summary(_)));
    assert_eq!(summary, Message::Summary(vec![FileResult::Saved, FileResult::Saved]));
    assert_eq!(tree(outside.path()), Vec::<String>::new(), "files landed at the link's target");
    assert_eq!(tree(&moved), ["Album/second.bin", "first.bin"]);
}

/// Connections that finish HELLO and then only send KEEPALIVEs are dropped once the offer is
/// overdue: keepalives do not extend the deadline.
#[test]
fn keepalives_do_not_hold_the_door_open_without_an_offer() {
    let rx = Node::start_with("receiver", |c| c.timing.offer_timeout = Duration::from_secs(1));
    let mut p = Raw::connect(rx.addr());
    p.handshake();
    let start = Instant::now();
    let closed = loop {
        p.send(&Message::Keepalive);
        match p.read(Duration::from_millis(100)) {
            Got::Msg(Message::Error { code: ErrorCode::Protocol, .. }) | Got::Closed => {
                break start.elapsed();
            }
            _ => assert!(start.elapsed() < Duration::from_secs(4), "still open after 4 s of keepalives"),
        }
    };
    assert!(closed >= Duration::from_millis(900), "closed after {closed:?}, before the deadline");
}

/// Forty silent connections from one address take at most its share of the door; a sender on
/// another address gets in on its first try.
// Other loopback addresses than 127.0.0.1 (as if from other computers): not on macOS, which
// has only 127.0.0.1 on lo0.
#[cfg(not(target_os = "macos"))]
#[test]
fn idle_connections_from_one_address_do_not_lock_out_another() {
    let rx = Node::start_with("receiver", |c| c.accept_automatically = true);
    let tx = Node::start("sender");
    let squatters: Vec<TcpStream> =
        (0..40).map(|_| common::connect_from([127, 0, 0, 2].into(), rx.addr())).collect();
    std::thread::sleep(Duration::from_millis(300));
    let src = tempfile::tempdir().unwrap();
    write_random(&src.path().join("real.bin"), 100_000, 3);
    let id = tx.send(rx.addr(), vec![src.path().join("real.bin")]);
    tx.wait(10.0, |e| match e {
        Event::TransferFinished { transfer, .. } if *transfer == id => Some(()),
        Event::TransferWaiting { transfer, .. }
            if *transfer == id
                && matches!(
                    e,
                    Event::TransferWaiting { reason: ferry::engine::WaitReason::Busy { .. }, .. }
                ) =>
        {
            panic!("the sender was told the receiver is busy")
        }
        Event::TransferFailed { transfer, error } if *transfer == id => panic!("{error:?}"),
        _ => None,
    });
    assert!(same_bytes(&src.path().join("real.bin"), &rx.received().join("real.bin")));
    // Most of the forty were refused at once, politely.
    let refused = squatters
        .into_iter()
        .filter_map(|s| Raw::plain(s).rest(Duration::from_millis(200)))
        .filter(|said| matches!(said.as_slice(), [Message::Error { code: ErrorCode::Overloaded, .. }]))
        .count();
    assert!(refused >= 30, "only {refused} of 40 were refused");
}

/// A receiver that is busy for a moment: the sender says it is waiting, tries again by
/// itself, and gets through.
#[test]
fn a_sender_told_busy_tries_again_by_itself() {
    let rx = Node::start_with("receiver", |c| {
        c.accept_automatically = true;
        c.admission.total = 1;
        c.timing.handshake_timeout = Duration::from_millis(1500);
    });
    let tx = Node::start("sender");
    // Holds the only slot until the receiver's handshake timeout drops it.
    let _squatter = TcpStream::connect(rx.addr()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let src = tempfile::tempdir().unwrap();
    write_random(&src.path().join("x.bin"), 10_000, 4);
    let id = tx.send(rx.addr(), vec![src.path().join("x.bin")]);
    let mut waited = false;
    tx.wait(20.0, |e| match e {
        Event::TransferWaiting { transfer, reason: ferry::engine::WaitReason::Busy { .. } }
            if *transfer == id =>
        {
            waited = true;
            None
        }
        Event::TransferFinished { transfer, .. } if *transfer == id => Some(()),
        Event::TransferFailed { transfer, error } if *transfer == id => panic!("{error:?}"),
        _ => None,
    });
    assert!(waited, "no 'waiting (busy)' event");
    assert!(same_bytes(&src.path().join("x.bin"), &rx.received().join("x.bin")));
}

/// ... and gives up, saying so, when the receiver stays busy.
#[test]
fn a_sender_gives_up_when_the_receiver_stays_busy() {
    let rx = Node::start_with("receiver", |c| c.admission.total = 1);
    let tx = Node::start_with("sender", |c| c.timing.busy_retry_for = Duration::from_secs(2));
    // An offer nobody answers holds the only slot.
    let mut holder = Raw::connect(rx.addr());
    holder.offer(&[("held.txt", 1)]);
    rx.wait(10.0, |e| matches!(e, Event::IncomingOffer(_)).then_some(()));
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("x"), b"x").unwrap();
    let start = Instant::now();
    let id = tx.send(rx.addr(), vec![src.path().join("x")]);
    let mut waits = 0;
    let error = tx.wait(20.0, |e| match e {
        Event::TransferWaiting { transfer, .. } if *transfer == id => {
            waits += 1;
            None
        }
        Event::TransferFailed { transfer, error } if *transfer == id => Some(error.clone()),
        _ => None,
    });
    assert_eq!(error, TransferError::PeerOverloaded);
    assert!(waits >= 2, "tried again only {waits} times");
    assert!(start.elapsed() >= Duration::from_millis(1500), "gave up after {:?}", start.elapsed());
    assert!(start.elapsed() < Duration::from_secs(6), "gave up after {:?}", start.elapsed());
}

/// An offer of nothing is not shown to anyone: it is a protocol error.
#[test]
fn an_offer_of_no_files_is_a_protocol_error() {
    let rx = Node::start("receiver");
    let mut p = Raw::connect(rx.addr());
    p.offer(&[]);
    let said = p.rest(Duration::from_secs(5)).expect("closed");
    assert!(matches!(said.as_slice(), [Message::Error { code: ErrorCode::Protocol, .. }]), "{said:?}");
    assert!(rx.events.try_iter().all(|e| !matches!(e, Event::IncomingOffer(_))));
}

/// An offer whose total is not the sum of its sizes is a protocol error.
#[test]
fn an_offer_whose_total_is_not_the_sum_of_its_sizes_is_a_protocol_error() {
    let rx = Node::start("receiver");
    let mut p = Raw::connect(rx.addr());
    p.handshake();
    p.send_all(&[
        Message::Offer(ferry::protocol::Offer { file_count: 1, total_bytes: 1 }),
        Message::OfferFile(ferry::protocol::OfferFile { path: "a".into(), size: 2, thumbnail: vec![] }),
    ]);
    let said = p.rest(Duration::from_secs(5)).expect("closed");
    assert!(matches!(said.as_slice(), [Message::Error { code: ErrorCode::Protocol, .. }]), "{said:?}");
}

/// DONE before every accepted file has had its FILE_END or FILE_SKIP is a protocol error; so
/// is a FILE_BEGIN whose size is not the offered one, and a FILE_BEGIN or FILE_SKIP for any
/// file but the next accepted one.
#[test]
fn done_too_early_and_a_file_begin_of_another_size_are_protocol_errors() {
    let rx = Node::start_with("receiver", |c| c.accept_automatically = true);
    for case in ["done too early", "other size", "jumps over a file", "skips over a file"] {
        let mut p = Raw::connect(rx.addr());
        p.offer(&[("a.txt", 1), ("b.txt", 1), ("c.txt", 1)]);
        p.until(|m| matches!(m, Message::Answer(_)));
        p.file(0, b"a", b"a");
        match case {
            "done too early" => p.send(&Message::Done),
            "other size" => p.send(&Message::FileBegin { index: 1, size: 2 }),
            "jumps over a file" => p.file(2, b"c", b"c"),
            _ => p.send(&Message::FileSkip { index: 2, reason: ferry::protocol::SkipReason::Unreadable }),
        }
        let said = p.rest(Duration::from_secs(5)).expect("closed");
        assert!(
            matches!(said.last(), Some(Message::Error { code: ErrorCode::Protocol, .. })),
            "{case}: {said:?}"
        );
        assert!(!said.iter().any(|m| matches!(m, Message::Summary(_))), "{case}: {said:?}");
    }
}

/// OFFER_TEXT only as the one item of an OFFER of one, with total_bytes its length (PROTOCOL.md
/// §5): anything else is ERROR Protocol, and nothing reaches the person.
#[test]
fn a_text_offer_out_of_shape_is_refused() {
    use ferry::protocol::Offer;
    let rx = Node::start("receiver");
    let text = Message::OfferText { text: "hello".into() };
    let cases: Vec<Vec<Message>> = vec![
        // Two items, the second a text.
        vec![
            Message::Offer(Offer { file_count: 2, total_bytes: 6 }),
            Message::OfferFile(ferry::protocol::OfferFile { path: "a".into(), size: 1, thumbnail: vec![] }),
            text.clone(),
        ],
        // Its total is not the text's length.
        vec![Message::Offer(Offer { file_count: 1, total_bytes: 4 }), text.clone()],
        // A text before any OFFER.
        vec![text.clone()],
    ];
    for messages in cases {
        let mut p = Raw::connect(rx.addr());
        p.handshake();
        p.send_all(&messages);
        p.until(|m| matches!(m, Message::Error { code: ErrorCode::Protocol, .. }));
    }
    let until = Instant::now() + Duration::from_millis(300);
    while let Ok(e) = rx.events.recv_deadline(until) {
        assert!(!matches!(e, Event::IncomingOffer(_) | Event::TextReceived { .. }), "{e:?}");
    }
}
