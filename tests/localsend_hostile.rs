//! A LocalSend port is open to everyone on the Wi-Fi. Hostile and broken input is refused the way
//! Ferry's own port refuses it: bodies capped before parsing, deep or huge JSON refused, a
//! million files refused, duplicate keys refused, slow or silent connections closed, too many
//! connections from one address cut off, uploads only with the right token from the right
//! address after consent, names that could escape the receive folder never do.

#[path = "localsend_common/mod.rs"]
mod common;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Mode, Side, call, connect, request, tree};
use ferry::events::{Decision, Event};
use ferry::identity::DeviceIdentity;
use ferry::localsend::{ProvenSender, Sha256Fingerprint, TrustedSenders};
use ferry::protocol::FileResult;

const PREPARE: &str = "/api/localsend/v2/prepare-upload";

fn info() -> serde_json::Value {
    serde_json::json!({"alias": "Mallory", "version": "2.1", "fingerprint": "x", "port": 9, "protocol": "http"})
}

fn offer(files: serde_json::Value) -> Vec<u8> {
    serde_json::json!({"info": info(), "files": files}).to_string().into_bytes()
}

fn one_file(name: &str, size: usize) -> Vec<u8> {
    offer(
        serde_json::json!({"f": {"id": "f", "fileName": name, "size": size, "fileType": "application/octet-stream"}}),
    )
}

fn https() -> Mode {
    Mode::Https(None)
}

/// A request whose body the server may refuse before it is all written: the status, if one
/// came.
fn call_lenient(to: SocketAddr, path: &str, body: &[u8]) -> Option<u16> {
    let mut s = connect(to, Ipv4Addr::LOCALHOST, &Mode::Http);
    let head = format!("POST {path} HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len());
    let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(body)).and_then(|_| s.flush());
    common::read_response(&mut *s).map(|r| r.status)
}

/// True when the server closes the connection within `secs` (reads EOF or an error).
fn closed_within(s: &mut dyn common::Stream, secs: f64) -> bool {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return true,
            Ok(_) => {}
        }
    }
    false
}

#[test]
fn deep_huge_duplicated_or_endless_json_is_refused() {
    let ferry = Side::start("Ferry", None, |_| {});
    let deep = format!("{{\"info\":{},\"files\":{{\"f\":{}}}}}", info(), "[".repeat(100_000));
    let huge = offer(serde_json::json!({"f": {"fileName": "a".repeat(2 << 20), "size": 1}}));
    let dup_key = format!(
        "{{\"info\":{},\"files\":{{\"f\":{{\"fileName\":\"a\",\"size\":1}},\"f\":{{\"fileName\":\"b\",\"size\":1}}}}}}",
        info()
    );
    let dup_field = format!("{{\"info\":{},\"info\":{},\"files\":{{}}}}", info(), info());
    let many = |n: usize| {
        let mut body = format!("{{\"info\":{},\"files\":{{", info());
        for i in 0..n {
            body.push_str(&format!("\"{i}\":{{\"fileName\":\"a\",\"size\":1}},"));
        }
        body.pop();
        body.push_str("}}");
        body.into_bytes()
    };
    for (what, body) in [
        ("deep", deep.into_bytes()),
        ("huge string", huge),
        ("duplicate key", dup_key.into_bytes()),
        ("duplicate field", dup_field.into_bytes()),
        // Over the body cap: refused by its length.
        ("a million files", many(1_000_000)),
        // Under the body cap, over the file count: refused while parsing.
        ("60,000 files", many(60_000)),
        ("not JSON", b"{\"info\": nope".to_vec()),
        ("negative size", offer(serde_json::json!({"f": {"fileName": "a", "size": -1}}))),
        (
            "sizes that overflow",
            offer(
                serde_json::json!({"a": {"fileName": "a", "size": u64::MAX}, "b": {"fileName": "b", "size": 1}}),
            ),
        ),
    ] {
        let r = call_lenient(ferry.addr(), PREPARE, &body);
        assert!(r == Some(400) || r == Some(413), "{what}: {r:?}");
    }
    assert!(ferry.drain(0.2).iter().all(|e| !matches!(e, Event::IncomingOffer(_))));
    // Still serving.
    assert_eq!(call(ferry.addr(), &Mode::Http, "GET", "/api/localsend/v2/info", b"").status, 200);
}

#[test]
fn bodies_over_the_cap_are_refused_without_being_read() {
    let ferry = Side::start("Ferry", None, |_| {});
    let mut s = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
    s.write_all(format!("POST {PREPARE} HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n").as_bytes())
        .unwrap();
    let r = common::read_response(&mut *s).unwrap();
    assert_eq!(r.status, 413);
    // Chunked, going on and on: cut off at the cap.
    let mut s = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
    s.write_all(format!("POST {PREPARE} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes()).unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 1 << 20, " ".repeat(1 << 20));
    let mut answered = None;
    for _ in 0..40 {
        if s.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    let _ = s.flush();
    if let Some(r) = common::read_response(&mut *s) {
        answered = Some(r.status);
    }
    assert!(answered.is_none_or(|st| st == 413), "{answered:?}");
    let register = vec![b' '; 100_000];
    assert_eq!(call(ferry.addr(), &Mode::Http, "POST", "/api/localsend/v2/register", &register).status, 413);
}

#[test]
fn silent_slow_and_idle_connections_are_closed() {
    let ferry = Side::start("Ferry", None, |_| {});
    let header = common::timing().header_timeout.as_secs_f64();
    let idle = common::timing().idle_timeout.as_secs_f64();
    // Nothing at all.
    let mut s = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
    assert!(closed_within(&mut *s, header + 2.0));
    // Half a request head.
    let mut s = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
    s.write_all(b"POST /api/localsend/v2/register HTTP/1.1\r\nContent-").unwrap();
    assert!(closed_within(&mut *s, header + 2.0));
    // A TLS record header and then nothing.
    let tcp = std::net::TcpStream::connect(ferry.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    (&tcp).write_all(&[0x16, 3, 1]).unwrap();
    let mut tcp: Box<dyn common::Stream> = Box::new(tcp);
    assert!(closed_within(&mut *tcp, header + 2.0));
    // A finished request and then silence on the kept-alive connection.
    let mut s = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &https());
    assert_eq!(request(&mut *s, "GET", "/api/localsend/v2/info", b"").status, 200);
    let t0 = Instant::now();
    assert!(closed_within(&mut *s, idle + header + 3.0));
    assert!(t0.elapsed() >= Duration::from_secs_f64(idle.min(header)) - Duration::from_millis(200));
}

#[test]
fn one_address_gets_a_few_connections_others_still_get_in() {
    let ferry = Side::start("Ferry", None, |_| {});
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut s = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
        assert_eq!(request(&mut *s, "GET", "/api/localsend/v2/info", b"").status, 200);
        held.push(s);
    }
    let mut over = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
    let _ = over.write_all(b"GET /api/localsend/v2/info HTTP/1.1\r\n\r\n");
    assert!(common::read_response(&mut *over).is_none(), "the ninth connection was served");
    let mut other = connect(ferry.addr(), Ipv4Addr::new(127, 0, 0, 2), &Mode::Http);
    assert_eq!(request(&mut *other, "GET", "/api/localsend/v2/info", b"").status, 200);
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(call(ferry.addr(), &Mode::Http, "GET", "/api/localsend/v2/info", b"").status, 200);
}

/// Accepts an offer of `body` as the person would; returns (session id, token of "f").
fn accepted(ferry: &Side, from: Ipv4Addr, mode: &Mode, body: &[u8]) -> (String, String) {
    std::thread::scope(|scope| {
        let asked = scope.spawn(|| {
            let o = ferry.wait(5.0, |e| match e {
                Event::IncomingOffer(o) => Some(o.transfer),
                _ => None,
            });
            ferry.ls.answer(o, Decision::AcceptAll);
        });
        let mut s = connect(ferry.addr(), from, mode);
        let j = request(&mut *s, "POST", PREPARE, body).json();
        asked.join().unwrap();
        (j["sessionId"].as_str().unwrap().to_owned(), j["files"]["f"].as_str().unwrap_or_default().to_owned())
    })
}

fn upload(to: SocketAddr, from: Ipv4Addr, session: &str, token: &str, body: &[u8]) -> u16 {
    let mut s = connect(to, from, &Mode::Http);
    request(
        &mut *s,
        "POST",
        &format!("/api/localsend/v2/upload?sessionId={session}&fileId=f&token={token}"),
        body,
    )
    .status
}

#[test]
fn uploads_need_consent_the_token_and_the_senders_address() {
    let ferry = Side::start("Ferry", None, |_| {});
    let content = b"twelve bytes";
    let body = one_file("note.txt", content.len());
    // While the person is being asked, nothing may be uploaded (and there is no token yet).
    std::thread::scope(|scope| {
        let pending = scope.spawn(|| call(ferry.addr(), &Mode::Http, "POST", PREPARE, &body));
        let t = ferry.wait(5.0, |e| match e {
            Event::IncomingOffer(o) => Some(o.transfer),
            _ => None,
        });
        assert_eq!(upload(ferry.addr(), Ipv4Addr::LOCALHOST, "whatever", "guess", content), 403);
        assert!(tree(ferry.dir.path()).is_empty(), "{:?}", tree(ferry.dir.path()));
        ferry.ls.answer(t, Decision::Decline);
        assert_eq!(pending.join().unwrap().status, 403);
    });

    let (session, token) = accepted(&ferry, Ipv4Addr::LOCALHOST, &Mode::Http, &body);
    let to = ferry.addr();
    // The last character changed (to another one: a token that ends in "0" stays wrong too).
    let last = if token.ends_with('0') { '1' } else { '0' };
    let wrong_token = format!("{}{last}", &token[..token.len() - 1]);
    assert_eq!(upload(to, Ipv4Addr::LOCALHOST, &session, &wrong_token, content), 403);
    assert_eq!(upload(to, Ipv4Addr::LOCALHOST, "nosuchsession", &token, content), 403);
    assert_eq!(upload(to, Ipv4Addr::new(127, 0, 0, 3), &session, &token, content), 403, "another address");
    let mut s = connect(to, Ipv4Addr::LOCALHOST, &Mode::Http);
    assert_eq!(request(&mut *s, "POST", "/api/localsend/v2/upload?sessionId=x", content).status, 400);
    // A length other than the offered size is refused before a byte is read.
    assert_eq!(upload(to, Ipv4Addr::LOCALHOST, &session, &token, b"fourteen bytes"), 400);
    assert!(tree(&ferry.received()).is_empty());
    // The right file, from the right address, with the right token.
    assert_eq!(upload(to, Ipv4Addr::LOCALHOST, &session, &token, content), 200);
    let files = ferry.wait(3.0, |e| match e {
        Event::TransferFinished { files, .. } => Some(files.clone()),
        _ => None,
    });
    assert_eq!(files[0].result, FileResult::Saved);
    assert_eq!(std::fs::read(ferry.received().join("note.txt")).unwrap(), content);
}

#[test]
fn a_chunked_upload_that_runs_long_or_stops_short_keeps_nothing() {
    let ferry = Side::start("Ferry", None, |_| {});
    for (what, chunks, end) in [
        ("too long", vec![b"abcdef".to_vec(), b"ghij".to_vec()], true),
        ("cut off", vec![b"abc".to_vec()], false),
    ] {
        let body = one_file("c.bin", 8);
        let (session, token) = accepted(&ferry, Ipv4Addr::LOCALHOST, &Mode::Http, &body);
        let mut s = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
        s.write_all(
            format!(
                "POST /api/localsend/v2/upload?sessionId={session}&fileId=f&token={token} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        for c in &chunks {
            let _ = s.write_all(format!("{:x}\r\n", c.len()).as_bytes());
            let _ = s.write_all(c);
            let _ = s.write_all(b"\r\n");
        }
        if end {
            let _ = s.write_all(b"0\r\n\r\n");
        }
        let _ = s.flush();
        if end {
            assert_eq!(common::read_response(&mut *s).map(|r| r.status), Some(400), "{what}");
        }
        drop(s);
        let files = ferry.wait(5.0, |e| match e {
            Event::TransferFinished { files, .. } => Some(files.clone()),
            _ => None,
        });
        assert_eq!(files[0].result, FileResult::SizeMismatch, "{what}");
        assert!(tree(&ferry.received()).is_empty(), "{what}: {:?}", tree(&ferry.received()));
    }
}

#[test]
fn names_that_could_escape_the_receive_folder_never_do() {
    let ferry = Side::start("Ferry", None, |c| c.accept_automatically = true);
    let names = [
        "../../escaped.txt",
        "/etc/absolute.txt",
        "a/../../escaped2.txt",
        "C:\\windows\\x.txt",
        "..",
        "CON",
        "evil\u{202E}gpj.exe",
        "nul\u{0}byte",
        "ok/../ok.txt",
        "fine/名字.txt",
    ];
    let mut files = serde_json::Map::new();
    for (i, n) in names.iter().enumerate() {
        files.insert(format!("f{i}"), serde_json::json!({"fileName": n, "size": 3}));
    }
    let mut s = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
    let j = request(&mut *s, "POST", PREPARE, &offer(serde_json::Value::Object(files))).json();
    let session = j["sessionId"].as_str().unwrap();
    for (id, token) in j["files"].as_object().unwrap() {
        let mut s = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Http);
        let r = request(
            &mut *s,
            "POST",
            &format!(
                "/api/localsend/v2/upload?sessionId={session}&fileId={id}&token={}",
                token.as_str().unwrap()
            ),
            b"abc",
        );
        assert_eq!(r.status, 200, "{id}");
    }
    let outcomes = ferry.wait(5.0, |e| match e {
        Event::TransferFinished { files, .. } => Some(files.clone()),
        _ => None,
    });
    let received = ferry.received().canonicalize().unwrap();
    for o in &outcomes {
        match (&o.result, &o.saved_as) {
            (FileResult::Saved, Some(p)) => {
                let p = p.canonicalize().unwrap();
                assert!(p.starts_with(&received), "{:?} saved outside: {p:?}", o.path);
            }
            (FileResult::UnsafeName, None) => {}
            other => panic!("{:?}: {other:?}", o.path),
        }
    }
    assert!(outcomes.iter().any(|o| o.path == "fine/名字.txt" && o.result == FileResult::Saved));
    // Nothing beside the receive folder in the side's own folder.
    let beside: Vec<_> =
        std::fs::read_dir(ferry.dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(beside, ["received"]);
}

/// Trusts one certificate (by both its names: the known-devices store keys devices by the key).
struct Trusts(Sha256Fingerprint, ferry::identity::Fingerprint);

impl TrustedSenders for Trusts {
    fn always_accept(&self, sender: &ProvenSender) -> bool {
        sender.certificate == self.0 && sender.key == self.1
    }
}

#[test]
fn the_client_certificate_not_the_json_names_the_sender_and_always_accept_uses_it() {
    let friend = DeviceIdentity::generate().unwrap();
    let stranger = DeviceIdentity::generate().unwrap();
    let trusted = Sha256Fingerprint::of_certificate(friend.cert_der());
    let ferry = Side::start_trusting("Ferry", None, |_| {}, Arc::new(Trusts(trusted, friend.fingerprint())));
    // The stranger claims to be the friend in the JSON: it is still asked about, as itself.
    let claim = serde_json::json!({
        "info": {"alias": "Friend", "fingerprint": friend.localsend_fingerprint(), "port": 9, "protocol": "https"},
        "files": {"f": {"fileName": "a.txt", "size": 1}}
    });
    let body = claim.to_string().into_bytes();
    let stranger_instance = std::thread::scope(|scope| {
        let asked = scope.spawn(|| {
            let o = ferry.wait(5.0, |e| match e {
                Event::IncomingOffer(o) => Some(o.clone()),
                _ => None,
            });
            ferry.ls.answer(o.transfer, Decision::Decline);
            o.from.instance
        });
        let r = call(ferry.addr(), &Mode::Https(Some(stranger.clone())), "POST", PREPARE, &body);
        assert_eq!(r.status, 403);
        asked.join().unwrap()
    });
    // The friend itself is accepted without asking.
    let mut s = connect(ferry.addr(), Ipv4Addr::LOCALHOST, &Mode::Https(Some(friend)));
    let j = request(&mut *s, "POST", PREPARE, &body).json();
    let r = request(
        &mut *s,
        "POST",
        &format!(
            "/api/localsend/v2/upload?sessionId={}&fileId=f&token={}",
            j["sessionId"].as_str().unwrap(),
            j["files"]["f"].as_str().unwrap()
        ),
        b"x",
    );
    assert_eq!(r.status, 200);
    let events = ferry.drain(1.0);
    assert!(!events.iter().any(|e| matches!(e, Event::IncomingOffer(_))), "{events:?}");
    let friend_instance = events
        .iter()
        .find_map(|e| match e {
            Event::TransferStarted { peer, .. } => Some(peer.instance),
            _ => None,
        })
        .unwrap();
    assert_ne!(friend_instance, stranger_instance, "the JSON claim made the stranger the friend");
    assert_eq!(tree(&ferry.received()), ["a.txt"]);
}

#[test]
fn at_most_four_offers_wait_at_once() {
    let ferry = Side::start("Ferry", None, |_| {});
    let body = one_file("a", 1);
    std::thread::scope(|scope| {
        let mut waiting = Vec::new();
        for n in 2..6u8 {
            let (body, to) = (body.clone(), ferry.addr());
            waiting.push(scope.spawn(move || {
                let mut s = connect(to, Ipv4Addr::new(127, 0, 0, n), &Mode::Http);
                request(&mut *s, "POST", PREPARE, &body).status
            }));
        }
        let mut asked = Vec::new();
        for _ in 0..4 {
            asked.push(ferry.wait(5.0, |e| match e {
                Event::IncomingOffer(o) => Some(o.transfer),
                _ => None,
            }));
        }
        let mut s = connect(ferry.addr(), Ipv4Addr::new(127, 0, 0, 9), &Mode::Http);
        assert_eq!(request(&mut *s, "POST", PREPARE, &body).status, 409);
        for t in asked {
            ferry.ls.answer(t, Decision::Decline);
        }
        for w in waiting {
            assert_eq!(w.join().unwrap(), 403);
        }
    });
}
