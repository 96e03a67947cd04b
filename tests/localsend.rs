//! The LocalSend side end to end on loopback: two of them find each other and send files both
//! ways; a "phone" played byte by byte sends offers in the shapes the protocol document shows
//! (conformance), over HTTPS and plain HTTP; consent, cancel from either side, text messages,
//! checksums, file times.

#[path = "localsend_common/mod.rs"]
mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Mode, Side, call, connect, free_udp_port, request, sha256_hex, tree};
use ferry::events::{Decision, DeviceType, Direction, Event, PeerSource};
use ferry::localsend::PeerChange;
use ferry::protocol::FileResult;

fn https() -> Mode {
    Mode::Https(Some(ferry::identity::DeviceIdentity::generate().unwrap()))
}

/// The register body of the protocol document (section 3.1), comments removed.
const DOC_REGISTER: &str = r#"{
  "alias": "Secret Banana",
  "version": "2.0",
  "deviceModel": "Windows",
  "deviceType": "desktop",
  "fingerprint": "random string",
  "port": 53317,
  "protocol": "https",
  "download": true
}"#;

/// The prepare-upload body of the protocol document (section 4.1), comments removed, with the
/// sizes and names this test sends.
fn doc_offer(a: &[u8], b: &[u8], sha_b: &str) -> String {
    format!(
        r#"{{
  "info": {{
    "alias": "Nice Orange",
    "version": "2.0",
    "deviceModel": "Samsung",
    "deviceType": "mobile",
    "fingerprint": "random string",
    "port": 53317,
    "protocol": "https",
    "download": true
  }},
  "files": {{
    "some file id": {{
      "id": "some file id",
      "fileName": "my image.png",
      "size": {},
      "fileType": "image/jpeg",
      "sha256": null,
      "preview": null,
      "metadata": {{
        "modified": "2021-01-01T12:34:56Z",
        "accessed": "2021-01-01T12:34:56Z"
      }}
    }},
    "another file id": {{
      "id": "another file id",
      "fileName": "another image.jpg",
      "size": {},
      "fileType": "image/jpeg",
      "sha256": "{sha_b}",
      "preview": null
    }}
  }}
}}"#,
        a.len(),
        b.len()
    )
}

fn upload_path(session: &str, file: &str, token: &str) -> String {
    let enc = |s: &str| s.replace(' ', "%20");
    format!("/api/localsend/v2/upload?sessionId={}&fileId={}&token={}", enc(session), enc(file), enc(token))
}

#[test]
fn register_and_info_answer_in_the_documented_shape() {
    for mode in [https(), Mode::Http] {
        let ferry = Side::start("Ferry desk", None, |_| {});
        let r = call(ferry.addr(), &mode, "POST", "/api/localsend/v2/register", DOC_REGISTER.as_bytes());
        assert_eq!(r.status, 200);
        let j = r.json();
        assert_eq!(j["alias"], "Ferry desk");
        assert_eq!(j["version"], "2.2");
        assert_eq!(j["deviceType"], "desktop");
        assert_eq!(j["fingerprint"], ferry.identity.localsend_fingerprint());
        assert_eq!(j["download"], false);
        for path in ["/api/localsend/v2/info", "/api/localsend/v1/info"] {
            let info = call(ferry.addr(), &mode, "GET", path, b"");
            assert_eq!(info.status, 200);
            assert_eq!(info.json()["fingerprint"], ferry.identity.localsend_fingerprint());
        }
        assert_eq!(call(ferry.addr(), &mode, "GET", "/nothing", b"").status, 404);
    }
}

/// Over HTTPS with a client certificate, the register body must claim that certificate: LocalSend
/// 1.18 drops registrations that claim another. Without a certificate (or over HTTP) the claim is
/// taken as a name.
#[test]
fn a_registration_claiming_another_certificate_is_not_listed() {
    let ferry = Side::start("Ferry", None, |_| {});
    let phone = ferry::identity::DeviceIdentity::generate().unwrap();
    let lying = DOC_REGISTER.replace("random string", &"AB".repeat(32));
    let r = call(
        ferry.addr(),
        &Mode::Https(Some(phone.clone())),
        "POST",
        "/api/localsend/v2/register",
        lying.as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert!(ferry.peers.recv_timeout(Duration::from_millis(300)).is_err(), "a lying registration was listed");

    let honest = DOC_REGISTER.replace("random string", &phone.localsend_fingerprint());
    call(ferry.addr(), &Mode::Https(Some(phone)), "POST", "/api/localsend/v2/register", honest.as_bytes());
    let peer = ferry.wait_peer(2.0, |p| match p {
        PeerChange::Seen(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(peer.name, "Secret Banana");
    assert_eq!(peer.source, PeerSource::LocalSend(DeviceType::Desktop));
    assert_eq!(peer.addr.port(), 53317);
}

#[test]
fn an_offer_in_the_documented_shape_is_asked_about_then_received() {
    for mode in [https(), Mode::Http] {
        let ferry = Side::start("Ferry", None, |_| {});
        let (a, b) = (b"first file bytes".to_vec(), vec![7u8; 70_000]);
        let offer = doc_offer(&a, &b, &sha256_hex(&b).to_uppercase());
        let mut phone = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &mode);
        // The prompt holds the request; answer from another thread as the person would.
        let offer_seen = std::thread::scope(|scope| {
            let asked = scope.spawn(|| {
                let offer = ferry.wait(5.0, |e| match e {
                    Event::IncomingOffer(o) => Some(o.clone()),
                    _ => None,
                });
                // Nothing is written before the answer.
                assert!(tree(&ferry.received()).is_empty());
                ferry.ls.answer(offer.transfer, Decision::AcceptAll);
                offer
            });
            let resp = request(&mut *phone, "POST", "/api/localsend/v2/prepare-upload", offer.as_bytes());
            (asked.join().unwrap(), resp)
        });
        let (offer, resp) = offer_seen;
        assert_eq!(offer.from.name, "Nice Orange");
        assert_eq!(
            offer.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["my image.png", "another image.jpg"]
        );
        assert_eq!(offer.total_bytes, (a.len() + b.len()) as u64);
        assert_eq!(resp.status, 200, "{:?}", String::from_utf8_lossy(&resp.body));
        let j = resp.json();
        let session = j["sessionId"].as_str().unwrap().to_owned();
        let token = |id: &str| j["files"][id].as_str().unwrap().to_owned();

        let up =
            request(&mut *phone, "POST", &upload_path(&session, "some file id", &token("some file id")), &a);
        assert_eq!(up.status, 200);
        let up = request(
            &mut *phone,
            "POST",
            &upload_path(&session, "another file id", &token("another file id")),
            &b,
        );
        assert_eq!(up.status, 200);

        let files = ferry.wait(5.0, |e| match e {
            Event::TransferFinished { files, .. } => Some(files.clone()),
            _ => None,
        });
        assert!(files.iter().all(|f| f.result == FileResult::Saved), "{files:?}");
        assert_eq!(tree(&ferry.received()), ["another image.jpg", "my image.png"]);
        assert_eq!(std::fs::read(ferry.received().join("my image.png")).unwrap(), a);
        assert_eq!(std::fs::read(ferry.received().join("another image.jpg")).unwrap(), b);
        // metadata.modified became the file's time.
        let mtime = std::fs::metadata(ferry.received().join("my image.png")).unwrap().modified().unwrap();
        assert_eq!(mtime.duration_since(UNIX_EPOCH).unwrap().as_secs(), 1_609_504_496);
    }
}

#[test]
fn a_wrong_checksum_is_422_and_nothing_is_kept_and_a_retry_may_follow() {
    let ferry = Side::start("Ferry", None, |c| c.accept_automatically = true);
    let (a, b) = (b"aaaa".to_vec(), b"the real content".to_vec());
    let offer = doc_offer(&a, &b, &sha256_hex(b"something else"));
    let mut phone = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &https());
    let j = request(&mut *phone, "POST", "/api/localsend/v2/prepare-upload", offer.as_bytes()).json();
    let session = j["sessionId"].as_str().unwrap().to_owned();
    let token_b = j["files"]["another file id"].as_str().unwrap().to_owned();
    let path_b = upload_path(&session, "another file id", &token_b);
    for _ in 0..2 {
        assert_eq!(request(&mut *phone, "POST", &path_b, &b).status, 422);
        assert!(tree(&ferry.received()).is_empty(), "{:?}", tree(&ferry.received()));
    }
    // The third mismatch is final.
    assert_eq!(request(&mut *phone, "POST", &path_b, &b).status, 422);
    assert_eq!(request(&mut *phone, "POST", &path_b, &b).status, 409);
    // A refused upload's body is not read, so the server closes that connection.
    let mut phone = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &https());
    let token_a = j["files"]["some file id"].as_str().unwrap().to_owned();
    assert_eq!(
        request(&mut *phone, "POST", &upload_path(&session, "some file id", &token_a), &a).status,
        200
    );
    let files = ferry.wait(5.0, |e| match e {
        Event::TransferFinished { files, .. } => Some(files.clone()),
        _ => None,
    });
    assert_eq!(
        files.iter().map(|f| f.result).collect::<Vec<_>>(),
        [FileResult::Saved, FileResult::HashMismatch]
    );
    assert_eq!(tree(&ferry.received()), ["my image.png"]);
}

#[test]
fn declining_answers_403_and_a_second_offer_from_the_same_address_409() {
    let ferry = Side::start("Ferry", None, |_| {});
    let offer = doc_offer(b"a", b"b", &sha256_hex(b"b"));
    std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            call(ferry.addr(), &https(), "POST", "/api/localsend/v2/prepare-upload", offer.as_bytes())
        });
        let asked = ferry.wait(5.0, |e| match e {
            Event::IncomingOffer(o) => Some(o.transfer),
            _ => None,
        });
        let second =
            call(ferry.addr(), &https(), "POST", "/api/localsend/v2/prepare-upload", offer.as_bytes());
        assert_eq!(second.status, 409);
        ferry.ls.answer(asked, Decision::Decline);
        assert_eq!(first.join().unwrap().status, 403);
        ferry.wait(2.0, |e| {
            matches!(e, Event::TransferDeclined { transfer, busy: false } if *transfer == asked).then_some(())
        });
    });
    assert!(tree(&ferry.received()).is_empty());
}

#[test]
fn a_text_message_is_an_event_and_answers_204() {
    let ferry = Side::start("Ferry", None, |_| {});
    let text = "Hello from the phone 你好 \u{202E}";
    let body = serde_json::json!({
        "info": {"alias": "Phone", "version": "2.1", "deviceType": "mobile", "fingerprint": "x", "port": 53317, "protocol": "https"},
        "files": {"m": {"id": "m", "fileName": "m.txt", "size": text.len(), "fileType": "text/plain", "preview": text}}
    });
    let r =
        call(ferry.addr(), &https(), "POST", "/api/localsend/v2/prepare-upload", body.to_string().as_bytes());
    assert_eq!(r.status, 204);
    let (from, got) = ferry.wait(2.0, |e| match e {
        Event::TextReceived { from, text } => Some((from.clone(), text.clone())),
        _ => None,
    });
    assert_eq!(got, text, "exactly as sent");
    assert_eq!(from.name, "Phone");
    assert!(tree(&ferry.received()).is_empty());
    // A flood of messages is cut off.
    let statuses: Vec<u16> = (0..8)
        .map(|_| {
            call(
                ferry.addr(),
                &Mode::Http,
                "POST",
                "/api/localsend/v2/prepare-upload",
                body.to_string().as_bytes(),
            )
            .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[test]
fn the_phone_cancelling_or_hanging_up_while_asked_ends_the_offer() {
    let ferry = Side::start("Ferry", None, |_| {});
    let offer = doc_offer(b"a", b"b", &sha256_hex(b"b"));
    // Cancel without a session id (the phone does not know it yet), from the same address.
    std::thread::scope(|scope| {
        let pending = scope.spawn(|| {
            call(ferry.addr(), &https(), "POST", "/api/localsend/v2/prepare-upload", offer.as_bytes())
        });
        let t = ferry.wait(5.0, |e| match e {
            Event::IncomingOffer(o) => Some(o.transfer),
            _ => None,
        });
        assert_eq!(call(ferry.addr(), &Mode::Http, "POST", "/api/localsend/v2/cancel", b"").status, 200);
        ferry.wait(3.0, |e| {
            matches!(e, Event::TransferCancelled { transfer, by_peer: true, .. } if *transfer == t)
                .then_some(())
        });
        assert_eq!(pending.join().unwrap().status, 403);
    });
    // Hanging up.
    let mut phone = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &https());
    let head =
        format!("POST /api/localsend/v2/prepare-upload HTTP/1.1\r\nContent-Length: {}\r\n\r\n", offer.len());
    phone.write_all(head.as_bytes()).unwrap();
    phone.write_all(offer.as_bytes()).unwrap();
    phone.flush().unwrap();
    let t = ferry.wait(5.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.transfer),
        _ => None,
    });
    drop(phone);
    ferry.wait(5.0, |e| {
        matches!(e, Event::TransferCancelled { transfer, by_peer: true, .. } if *transfer == t).then_some(())
    });
}

use std::io::Write;

#[test]
fn cancel_here_while_uploading_stops_the_upload_and_keeps_nothing() {
    let ferry = Side::start("Ferry", None, |c| c.accept_automatically = true);
    let big = 50_000_000usize;
    let body = serde_json::json!({
        "info": {"alias": "Phone", "fingerprint": "x", "port": 9, "protocol": "http"},
        "files": {"f": {"id": "f", "fileName": "big.bin", "size": big, "fileType": "application/octet-stream"}}
    });
    let mut phone = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
    let j =
        request(&mut *phone, "POST", "/api/localsend/v2/prepare-upload", body.to_string().as_bytes()).json();
    let path = upload_path(j["sessionId"].as_str().unwrap(), "f", j["files"]["f"].as_str().unwrap());
    let t = ferry.wait(2.0, |e| match e {
        Event::TransferStarted { transfer, direction: Direction::Incoming, .. } => Some(*transfer),
        _ => None,
    });
    phone.write_all(format!("POST {path} HTTP/1.1\r\nContent-Length: {big}\r\n\r\n").as_bytes()).unwrap();
    phone.write_all(&vec![1u8; 1_000_000]).unwrap();
    ferry.wait(5.0, |e| matches!(e, Event::Progress { transfer, .. } if *transfer == t).then_some(()));
    assert!(ferry.ls.cancel(t));
    ferry.wait(3.0, |e| {
        matches!(e, Event::TransferCancelled { transfer, by_peer: false, .. } if *transfer == t).then_some(())
    });
    // The upload is answered (or the connection dropped) and nothing is kept.
    let _ = phone.write_all(&vec![1u8; 1_000_000]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(tree(&ferry.received()).is_empty(), "{:?}", tree(&ferry.received()));
}

/// Two LocalSend sides find each other over "multicast" (a loopback broadcast address here) and
/// send a batch — folders, a Chinese name, an empty file, file times — over HTTPS, pinned.
#[test]
fn two_sides_find_each_other_and_send_a_batch() {
    let udp = free_udp_port();
    let a = Side::start("Alpha", Some(udp), |_| {});
    let b = Side::start("Beta", Some(udp), |c| c.accept_automatically = true);
    let beta = a.wait_peer(5.0, |p| match p {
        PeerChange::Seen(p) if p.name == "Beta" => Some(p.clone()),
        _ => None,
    });
    b.wait_peer(5.0, |p| matches!(p, PeerChange::Seen(p) if p.name == "Alpha").then_some(()));
    assert_eq!(beta.addr, b.addr());
    assert!(a.ls.knows(b.addr()));

    let src = tempfile::tempdir().unwrap();
    let trip = src.path().join("旅行 2024");
    std::fs::create_dir_all(trip.join("day 1")).unwrap();
    std::fs::write(trip.join("day 1/照片.jpg"), vec![9u8; 300_000]).unwrap();
    std::fs::write(trip.join("empty"), b"").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(src.path().join("big.bin"), &big).unwrap();
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    std::fs::File::options()
        .write(true)
        .open(src.path().join("big.bin"))
        .unwrap()
        .set_modified(when)
        .unwrap();

    let id = ferry::events::TransferId::next();
    a.ls.send(id, b.addr(), vec![trip.clone(), src.path().join("big.bin")]);
    let files = a.wait(20.0, |e| match e {
        Event::TransferFinished { transfer, files } if *transfer == id => Some(files.clone()),
        Event::TransferFailed { transfer, error } if *transfer == id => panic!("{error:?}"),
        _ => None,
    });
    assert!(files.iter().all(|f| f.result == FileResult::Saved), "{files:?}");
    b.wait(5.0, |e| matches!(e, Event::TransferFinished { .. }).then_some(()));
    assert_eq!(tree(&b.received()), ["big.bin", "旅行 2024/day 1/照片.jpg", "旅行 2024/empty"]);
    assert_eq!(std::fs::read(b.received().join("big.bin")).unwrap(), big);
    let got = std::fs::metadata(b.received().join("big.bin")).unwrap().modified().unwrap();
    assert_eq!(got.duration_since(UNIX_EPOCH).unwrap().as_millis(), 1_600_000_000_000);
}

/// A receive folder that cannot be written to: the upload is answered 500, the file reported as
/// not written, and the session still ends.
#[test]
fn a_file_that_cannot_be_written_is_500_and_reported() {
    let ferry = Side::start("Ferry", None, |c| {
        c.accept_automatically = true;
        // Exists, but no file can be made in it (not even by root).
        c.receive_dir = "/proc/self".into();
    });
    let body = serde_json::json!({
        "info": {"alias": "Phone", "fingerprint": "x", "port": 9, "protocol": "http"},
        "files": {"f": {"id": "f", "fileName": "a.bin", "size": 300_000}}
    });
    let mut phone = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
    let j =
        request(&mut *phone, "POST", "/api/localsend/v2/prepare-upload", body.to_string().as_bytes()).json();
    let path = upload_path(j["sessionId"].as_str().unwrap(), "f", j["files"]["f"].as_str().unwrap());
    let mut phone = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
    phone.write_all(format!("POST {path} HTTP/1.1\r\nContent-Length: 300000\r\n\r\n").as_bytes()).unwrap();
    let _ = phone.write_all(&vec![5u8; 300_000]);
    let status = common::read_response(&mut *phone).map(|r| r.status);
    assert_eq!(status, Some(500));
    let files = ferry.wait(5.0, |e| match e {
        Event::TransferFinished { files, .. } => Some(files.clone()),
        _ => None,
    });
    // (Creating a file in /proc says "no such file": as far as Ferry can tell, FolderGone.)
    assert!(files[0].result.is_write_failure(), "{:?}", files[0].result);
}

#[test]
fn tls_1_2_is_served_too() {
    let ferry = Side::start("Ferry", None, |_| {});
    let r = call(ferry.addr(), &Mode::Tls12, "GET", "/api/localsend/v2/info", b"");
    assert_eq!(r.status, 200);
}

/// A device announced one certificate, but whoever answers at its address shows another: the send
/// fails during the handshake, with a plain message, and the one answering never hears of it.
#[test]
fn sending_to_an_address_where_another_certificate_answers_fails_before_anything_is_sent() {
    let udp = free_udp_port();
    let a = Side::start("Alpha", Some(udp), |_| {});
    let impostor = Side::start("Impostor", None, |c| c.accept_automatically = true);
    let real = ferry::identity::DeviceIdentity::generate().unwrap();
    // "Phone" announces the real phone's fingerprint but the impostor's port (an answer, so
    // Alpha lists it as announced without asking it first).
    let datagram = format!(
        r#"{{"alias":"Phone","fingerprint":"{}","port":{},"protocol":"https","announce":false}}"#,
        real.localsend_fingerprint(),
        impostor.ls.port()
    );
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.set_broadcast(true).unwrap();
    tx.send_to(datagram.as_bytes(), ("127.255.255.255", udp)).unwrap();
    let phone = a.wait_peer(3.0, |p| match p {
        PeerChange::Seen(p) if p.name == "Phone" => Some(p.clone()),
        _ => None,
    });
    let src = a.dir.path().join("secret-plans.txt");
    std::fs::write(&src, b"for the phone only").unwrap();
    let id = ferry::events::TransferId::next();
    a.ls.send(id, phone.addr, vec![src]);
    let error = a.wait(5.0, |e| match e {
        Event::TransferFailed { transfer, error } if *transfer == id => Some(error.clone()),
        _ => None,
    });
    assert_eq!(error, ferry::events::TransferError::WrongDevice);
    assert!(impostor.drain(0.5).iter().all(|e| !matches!(e, Event::TransferStarted { .. })));
    assert!(tree(&impostor.received()).is_empty());
}
