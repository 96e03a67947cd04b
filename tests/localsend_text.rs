//! Ferry sends a text to LocalSend devices as LocalSend's own app sends a message
//! (docs/LOCALSEND.md 4.5): one `text/plain` file whose `preview` is the text. Ferry's own
//! LocalSend receiver shows it and answers 204; a receiver that answers with a token gets the
//! text's bytes uploaded; one that declines or is busy gives the outcome files get. The sender's
//! events are those of a text sent to a Ferry peer.

#[path = "localsend_common/mod.rs"]
mod common;

use std::net::SocketAddr;

use common::fake::{FakeReceiver, Request};
use common::{Side, free_udp_port, sha256_hex, tree};
use ferry::events::{Direction, Event, TransferError, TransferId};
use ferry::localsend::PeerChange;
use ferry::protocol::MAX_TEXT_BYTES;

/// Several lines, CJK, an emoji (four UTF-8 bytes), a blank line: what a person pastes.
const TEXT: &str = "Wi-Fi 密码：hunter2 🦀\nhttps://example.org/路径?q=1&r=2\n\n最后一行 ✅";

const PREPARE: &str = "/api/localsend/v2/prepare-upload";
const UPLOAD: &str = "/api/localsend/v2/upload";

/// The sender's events for transfer `id`, up to and including its end.
fn events_until_end(side: &Side, id: TransferId) -> Vec<Event> {
    let mut seen = Vec::new();
    side.wait(15.0, |e| {
        let mine = match e {
            Event::TransferStarted { transfer, .. }
            | Event::TransferAccepted { transfer, .. }
            | Event::Progress { transfer, .. }
            | Event::FileDone { transfer, .. }
            | Event::TransferWaiting { transfer, .. } => *transfer == id,
            Event::TransferFinished { transfer, .. }
            | Event::TransferDeclined { transfer, .. }
            | Event::TransferCancelled { transfer, .. }
            | Event::TransferFailed { transfer, .. } => {
                if *transfer == id {
                    seen.push(e.clone());
                    return Some(());
                }
                false
            }
            _ => false,
        };
        if mine {
            seen.push(e.clone());
        }
        None
    });
    seen
}

/// What a text sent to a Ferry peer reports when it is delivered: started with no files and the
/// text's size, accepted as one item of no bytes, finished with no file outcomes; no progress.
fn assert_delivered(events: &[Event], text: &str) {
    match events {
        [
            Event::TransferStarted { direction: Direction::Outgoing, files, total_bytes, .. },
            Event::TransferAccepted { files: 1, bytes_total: 0, .. },
            Event::TransferFinished { files: outcomes, .. },
        ] => {
            assert!(files.is_empty(), "{files:?}");
            assert_eq!(*total_bytes, text.len() as u64);
            assert!(outcomes.is_empty(), "{outcomes:?}");
        }
        other => panic!("not the events of a delivered text: {other:#?}"),
    }
}

/// A sender and a fake receiver it lists (as the LocalSend device "Phone").
fn sender_and_fake(
    answer: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static,
) -> (Side, FakeReceiver, SocketAddr) {
    let udp = free_udp_port();
    let alpha = Side::start("Alpha", Some(udp), |_| {});
    let fake = FakeReceiver::start(answer);
    fake.announce("Phone", udp);
    let phone = alpha.wait_peer(5.0, |p| match p {
        PeerChange::Seen(p) if p.name == "Phone" => Some(p.addr),
        _ => None,
    });
    assert_eq!(phone, fake.addr);
    (alpha, fake, phone)
}

/// The id of the one file a `prepare-upload` offers.
fn offered_id(r: &Request) -> String {
    let files = r.json()["files"].as_object().unwrap().clone();
    assert_eq!(files.len(), 1, "{files:?}");
    files.keys().next().unwrap().clone()
}

#[test]
fn a_text_reaches_ferrys_own_receiver_exactly_and_nothing_is_saved() {
    let udp = free_udp_port();
    let a = Side::start("Alpha", Some(udp), |_| {});
    let b = Side::start("Beta", Some(udp), |_| {});
    a.wait_peer(5.0, |p| matches!(p, PeerChange::Seen(p) if p.name == "Beta").then_some(()));

    let id = TransferId::next();
    a.ls.send_text(id, b.addr(), TEXT.to_owned());
    let (from, got) = b.wait(10.0, |e| match e {
        Event::TextReceived { from, text } => Some((from.name.clone(), text.clone())),
        Event::IncomingOffer(o) => panic!("a text is no offer to answer: {o:?}"),
        _ => None,
    });
    assert_eq!(got, TEXT, "exactly as sent");
    assert_eq!(from, "Alpha");
    assert_delivered(&events_until_end(&a, id), TEXT);
    assert!(tree(&b.received()).is_empty(), "{:?}", tree(&b.received()));
    assert!(
        b.drain(0.3)
            .iter()
            .all(|e| !matches!(e, Event::TransferStarted { .. } | Event::TransferFinished { .. })),
        "the receiver saw a transfer"
    );
}

#[test]
fn the_offer_is_what_localsends_app_sends_and_a_token_gets_the_bytes_uploaded() {
    let (alpha, fake, phone) = sender_and_fake(|r| match r.path.split('?').next().unwrap() {
        PREPARE => {
            (200, serde_json::json!({"sessionId": "s-1", "files": {offered_id(r): "tok-1"}}).to_string())
        }
        _ => (200, String::new()),
    });
    let id = TransferId::next();
    alpha.ls.send_text(id, phone, TEXT.to_owned());
    assert_delivered(&events_until_end(&alpha, id), TEXT);

    let requests = fake.requests(0.5);
    let paths: Vec<&str> = requests.iter().map(|r| r.path.split('?').next().unwrap()).collect();
    assert_eq!(paths, [PREPARE, UPLOAD], "{requests:#?}");
    let offer = requests[0].json();
    assert_eq!(offer["info"]["alias"], "Alpha");
    let id_offered = offered_id(&requests[0]);
    let file = &offer["files"][&id_offered];
    assert_eq!(file["id"], id_offered.as_str());
    assert_eq!(file["fileType"], "text/plain");
    assert_eq!(file["size"], TEXT.len(), "the size in UTF-8 bytes");
    assert_eq!(file["preview"], TEXT);
    assert_eq!(file["sha256"], sha256_hex(TEXT.as_bytes()));
    assert!(file["fileName"].as_str().unwrap().ends_with(".txt"), "{file}");
    assert!(file.get("metadata").is_none(), "{file}");

    let upload = &requests[1];
    assert_eq!(upload.method, "POST");
    assert_eq!(upload.query("sessionId").as_deref(), Some("s-1"));
    assert_eq!(upload.query("fileId"), Some(id_offered));
    assert_eq!(upload.query("token").as_deref(), Some("tok-1"));
    assert_eq!(upload.body, TEXT.as_bytes(), "exactly the text's bytes");
}

#[test]
fn an_accepted_offer_without_a_token_is_delivered_and_uploads_nothing() {
    let (alpha, fake, phone) =
        sender_and_fake(|_| (200, serde_json::json!({"sessionId": "s-2", "files": {}}).to_string()));
    let id = TransferId::next();
    alpha.ls.send_text(id, phone, TEXT.to_owned());
    assert_delivered(&events_until_end(&alpha, id), TEXT);
    let paths: Vec<String> = fake.requests(0.5).into_iter().map(|r| r.path).collect();
    assert_eq!(paths, [PREPARE]);
}

#[test]
fn declined_or_busy_is_the_outcome_files_get() {
    for (status, busy) in [(403, false), (409, true)] {
        let (alpha, fake, phone) = sender_and_fake(move |_| (status, r#"{"message":"No"}"#.to_owned()));
        let text = TransferId::next();
        alpha.ls.send_text(text, phone, TEXT.to_owned());
        let text_end = events_until_end(&alpha, text).pop().unwrap();

        let src = alpha.dir.path().join("note.txt");
        std::fs::write(&src, TEXT).unwrap();
        let file = TransferId::next();
        alpha.ls.send(file, phone, vec![src]);
        let file_end = events_until_end(&alpha, file).pop().unwrap();

        for (end, id) in [(text_end, text), (file_end, file)] {
            match end {
                Event::TransferDeclined { transfer, busy: b } => assert_eq!((transfer, b), (id, busy)),
                other => panic!("HTTP {status}: {other:?}"),
            }
        }
        let uploads = fake.requests(0.3).into_iter().filter(|r| r.path.starts_with(UPLOAD)).count();
        assert_eq!(uploads, 0);
    }
}

#[test]
fn a_receiver_that_cannot_take_the_uploaded_text_fails_the_send_with_its_words() {
    let (alpha, _fake, phone) = sender_and_fake(|r| match r.path.split('?').next().unwrap() {
        PREPARE => (200, serde_json::json!({"sessionId": "s-3", "files": {offered_id(r): "t"}}).to_string()),
        _ => (500, r#"{"message":"Disk full"}"#.to_owned()),
    });
    let id = TransferId::next();
    alpha.ls.send_text(id, phone, TEXT.to_owned());
    match events_until_end(&alpha, id).as_slice() {
        [
            Event::TransferStarted { .. },
            Event::TransferAccepted { .. },
            Event::TransferFailed { error, .. },
        ] => {
            assert_eq!(*error, TransferError::PeerError("HTTP 500 Disk full".into()))
        }
        other => panic!("{other:#?}"),
    }
}

#[test]
fn ferrys_text_limits_hold_and_nothing_over_them_is_offered() {
    let (alpha, fake, phone) = sender_and_fake(|_| (204, String::new()));
    let id = TransferId::next();
    alpha.ls.send_text(id, phone, "x".repeat(MAX_TEXT_BYTES + 1));
    let max = MAX_TEXT_BYTES as u64;
    match events_until_end(&alpha, id).as_slice() {
        [Event::TransferFailed { error, .. }] => {
            assert_eq!(*error, TransferError::TextTooLong { len: max + 1, max })
        }
        other => panic!("{other:#?}"),
    }
    let id = TransferId::next();
    alpha.ls.send_text(id, phone, String::new());
    match events_until_end(&alpha, id).as_slice() {
        [Event::TransferFailed { error, .. }] => assert_eq!(*error, TransferError::NoText),
        other => panic!("{other:#?}"),
    }
    assert!(fake.requests(0.3).is_empty(), "nothing was offered");

    // Exactly the limit goes.
    let id = TransferId::next();
    let longest = "é".repeat(MAX_TEXT_BYTES / 2);
    alpha.ls.send_text(id, phone, longest.clone());
    assert_delivered(&events_until_end(&alpha, id), &longest);
    let offers = fake.requests(0.3);
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].json()["files"][offered_id(&offers[0])]["preview"], longest.as_str());
}

/// `ferry send --text … --to NAME` finds a LocalSend device by name and sends it the text (all on
/// loopback: Ferry's discovery and LocalSend's on 127.255.255.255, ports of this test's own).
#[test]
fn ferry_send_text_reaches_a_localsend_device_by_name() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let udp = free_udp_port();
    let fake = FakeReceiver::start(|_| (204, String::new()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    for var in ["PORT", "BIND", "BROADCAST", "DISCOVERY_PORT", "LOCALSEND", "LOCALSEND_PORT"] {
        cmd.env_remove(format!("FERRY_{var}"));
    }
    let cfg = tempfile::tempdir().unwrap();
    cmd.env("FERRY_CONFIG_DIR", cfg.path())
        .args(["--bind", "127.0.0.1", "--broadcast", "127.255.255.255"])
        .args(["--discovery-port", &free_udp_port().to_string()])
        .args(["--localsend-group", &format!("127.255.255.255:{udp}"), "--localsend-interface", "127.0.0.1"])
        .args(["send", "--to", "Phone", "--wait", "5", "--text", TEXT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    // The phone says where it is until `ferry send` is done (it may start listening late).
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        fake.announce("Phone", udp);
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("“Phone” accepted the text."), "{said}");
    let offers = fake.requests(0.3);
    assert_eq!(offers.len(), 1, "{offers:#?}");
    assert_eq!(offers[0].json()["files"][offered_id(&offers[0])]["preview"], TEXT);
}
