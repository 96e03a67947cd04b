//! Conformance with the LocalSend protocol document (`localsend/protocol`, README.md, v2.1): every
//! JSON example of the document, comments removed, parses into Ferry's types with the meaning the
//! document gives it, and what Ferry writes has the document's field names. Plus the discovery
//! datagrams on the wire (announce, answer, fallback) and a fingerprint test vector made with
//! openssl.

#[path = "localsend_common/mod.rs"]
mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{Side, free_udp_port};
use ferry::events::DeviceType;
use ferry::localsend::dto::{
    DeviceInfo, FileDto, InfoResponse, PrepareUpload, PrepareUploadResponse, Protocol,
};
use ferry::localsend::json;
use ferry::localsend::{PeerChange, Sha256Fingerprint};

/// The JSON5 of the document, as JSON: `// comments` removed, trailing commas removed.
fn doc(json5: &str) -> Vec<u8> {
    let no_comments: String = json5
        .lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].ends_with(':') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let chars: Vec<char> = no_comments.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == ','
            && chars[i + 1..].iter().find(|c| !c.is_whitespace()).is_some_and(|n| *n == '}' || *n == ']')
        {
            continue;
        }
        out.push(c);
    }
    out.into_bytes()
}

// Section 3.1, "Announcement".
const ANNOUNCEMENT: &str = r#"{
  "alias": "Nice Orange",
  "version": "2.0", // protocol version (major.minor)
  "deviceModel": "Samsung", // nullable
  "deviceType": "mobile", // mobile | desktop | web | headless | server, nullable
  "fingerprint": "random string",
  "port": 53317,
  "protocol": "https", // http | https
  "download": true, // if download API (section 5.2, 5.3) is active (optional, default: false)
  "announce": true
}"#;

// Section 3.1, the UDP fallback answer.
const UDP_ANSWER: &str = r#"{
  "alias": "Secret Banana",
  "version": "2.0",
  "deviceModel": "Windows",
  "deviceType": "desktop",
  "fingerprint": "random string",
  "port": 53317,
  "protocol": "https",
  "download": true,
  "announce": false,
}"#;

// Section 3.2, the response of register.
const REGISTER_RESPONSE: &str = r#"{
  "alias": "Nice Orange",
  "version": "2.0",
  "deviceModel": "Samsung",
  "deviceType": "mobile",
  "fingerprint": "random string", // ignored in HTTPS mode
  "download": true, // if download API (section 5.2, 5.3) is active (optional, default: false)
}"#;

// Section 4.1, the request.
const PREPARE_UPLOAD: &str = r#"{
  "info": {
    "alias": "Nice Orange",
    "version": "2.0", // protocol version (major.minor)
    "deviceModel": "Samsung", // nullable
    "deviceType": "mobile", // mobile | desktop | web | headless | server, nullable
    "fingerprint": "random string", // ignored in HTTPS mode
    "port": 53317,
    "protocol": "https", // http | https
    "download": true, // if download API (section 5.2, 5.3) is active (optional, default: false)
  },
  "files": {
    "some file id": {
      "id": "some file id",
      "fileName": "my image.png",
      "size": 324242, // bytes
      "fileType": "image/jpeg",
      "sha256": "*sha256 hash*", // nullable
      "preview": "*preview data*", // nullable
      "metadata": { // nullable
        "modified": "2021-01-01T12:34:56Z", // nullable
        "accessed": "2021-01-01T12:34:56Z", // nullable
      }
    },
    "another file id": {
      "id": "another file id",
      "fileName": "another image.jpg",
      "size": 1234,
      "fileType": "image/jpeg",
      "sha256": "*sha256 hash*",
      "preview": "*preview data*"
    }
  }
}"#;

// Section 4.1, the response.
const PREPARE_UPLOAD_RESPONSE: &str = r#"{
  "sessionId": "mySessionId",
  "files": {
    "someFileId": "someFileToken",
    "someOtherFileId": "someOtherFileToken"
  }
}"#;

// Section 6.1.
const INFO: &str = r#"{
  "alias": "Nice Orange",
  "version": "2.0",
  "deviceModel": "Samsung", // nullable
  "deviceType": "mobile", // mobile | desktop | web | headless | server, nullable
  "fingerprint": "random string",
  "download": true, // if download API (section 5.2, 5.3) is active (optional, default: false)
}"#;

#[test]
fn announcements_and_answers_parse_as_the_document_means_them() {
    let a: DeviceInfo = json::parse(&doc(ANNOUNCEMENT)).unwrap();
    assert_eq!(a.alias, "Nice Orange");
    assert_eq!(a.version, "2.0");
    assert_eq!(a.device_model.as_deref(), Some("Samsung"));
    assert_eq!(a.device_type, Some(DeviceType::Mobile));
    assert_eq!(a.port, 53317);
    assert_eq!(a.protocol, Protocol::Https);
    assert!(a.download);
    assert!(a.wants_answer());
    let u: DeviceInfo = json::parse(&doc(UDP_ANSWER)).unwrap();
    assert!(!u.wants_answer(), "announce: false is an answer");
    assert_eq!(u.device_type, Some(DeviceType::Desktop));
    // "nullable" fields given as null.
    let nulls = doc(ANNOUNCEMENT)
        .iter()
        .map(|&b| b as char)
        .collect::<String>()
        .replace("\"Samsung\"", "null")
        .replace("\"mobile\"", "null");
    let n: DeviceInfo = json::parse(nulls.as_bytes()).unwrap();
    assert_eq!((n.kind(), n.device_model, n.device_type), (DeviceType::Desktop, None, None));
}

#[test]
fn responses_parse_as_the_document_means_them() {
    let r: InfoResponse = json::parse(&doc(REGISTER_RESPONSE)).unwrap();
    assert_eq!(
        (r.alias.as_str(), r.device_type, r.download),
        ("Nice Orange", Some(DeviceType::Mobile), true)
    );
    let i: InfoResponse = json::parse(&doc(INFO)).unwrap();
    assert_eq!(i.fingerprint, "random string");
    let p: PrepareUploadResponse = json::parse(&doc(PREPARE_UPLOAD_RESPONSE)).unwrap();
    assert_eq!(p.session_id, "mySessionId");
    assert_eq!(p.files.get("someOtherFileId").map(String::as_str), Some("someOtherFileToken"));
    // "download" is optional, default false.
    let old: InfoResponse = json::parse(br#"{"alias":"a","version":"2.0","fingerprint":"x"}"#).unwrap();
    assert!(!old.download);
}

#[test]
fn the_documented_offer_parses_with_every_field() {
    let o: PrepareUpload = json::parse(&doc(PREPARE_UPLOAD)).unwrap();
    assert_eq!(o.info.alias, "Nice Orange");
    assert_eq!(o.files.len(), 2);
    let first: &FileDto = o.files.get("some file id").unwrap();
    assert_eq!(first.file_name, "my image.png");
    assert_eq!(first.size, 324242);
    assert_eq!(first.file_type, "image/jpeg");
    assert_eq!(first.sha256.as_deref(), Some("*sha256 hash*"));
    let m = first.metadata.as_ref().unwrap();
    assert_eq!(
        m.modified.as_deref().and_then(ferry::localsend::time::parse),
        Some(std::time::UNIX_EPOCH + Duration::from_secs(1_609_504_496))
    );
    assert!(o.files.get("another file id").unwrap().metadata.is_none());
    // The order the sender listed the files in is kept (the prompt shows them so).
    assert_eq!(o.files.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["some file id", "another file id"]);
}

#[test]
fn what_ferry_writes_uses_the_documented_names() {
    let side = Side::start("Ferry desk", None, |_| {});
    let r = common::call(side.addr(), &common::Mode::Http, "GET", "/api/localsend/v2/info", b"");
    let j = r.json();
    for key in ["alias", "version", "deviceModel", "deviceType", "fingerprint", "download"] {
        assert!(j.get(key).is_some(), "{key} missing in {j}");
    }
    // Serializing an announcement gives the document's keys, in camelCase, with `announce`.
    let mut a: DeviceInfo = json::parse(&doc(ANNOUNCEMENT)).unwrap();
    a.ferry = None;
    let back: serde_json::Value = serde_json::to_value(&a).unwrap();
    let want: serde_json::Value = serde_json::from_slice(&doc(ANNOUNCEMENT)).unwrap();
    assert_eq!(back, want);
}

/// An RSA-2048 certificate like LocalSend's own (CN "LocalSend User"), made with openssl; its
/// fingerprint was computed with `openssl x509 -outform DER | sha256sum`.
const RSA_PHONE_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDEzCCAfugAwIBAgIUDIKX7HEQdnjyQOdTZisOfp3JxlMwDQYJKoZIhvcNAQEL
BQAwGTEXMBUGA1UEAwwOTG9jYWxTZW5kIFVzZXIwHhcNMjYxMjAxMjEwODQxWhcN
MzYxMTI4MjEwODQxWjAZMRcwFQYDVQQDDA5Mb2NhbFNlbmQgVXNlcjCCASIwDQYJ
KoZIhvcNAQEBBQADggEPADCCAQoCggEBAN/3VqQhuxqDHKRsOeUPkAjH6x7iVrSD
27+ad6zH67/2+yRLn3w129OKzYXL82O+ez7QMPIBQLOMyEpvdte1PZbwKbpLgvVb
wpF+RGGRAPzUOySdnG2Q/cHvio2oqocZKbrvzAwkQe3Cj+775Hh7etwKAseWqQvV
eGsMnw8zHwIrx0Isq0UbM/9RhRDQuddV8V2yOg3mCSBqHKH5suiyJ+UnGMvOlLDI
xda5LGCkLaE8mYt7AXgJ66GKL6VOMQtGj2IO4STiTqZgyXrkUydH3gPnhbtdz6F8
zK/yfTiuIz/IrrNuLnLwQpqQQPuCsNiy98lnC0UXCLBqf8isU26cYoMCAwEAAaNT
MFEwHQYDVR0OBBYEFNQMnGalOgNyOcUXfdxrVPsClgYxMB8GA1UdIwQYMBaAFNQM
nGalOgNyOcUXfdxrVPsClgYxMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQEL
BQADggEBAKBwi6XxUbeZgefZy7r2fCzd118AmqyBjQsRiXnJavzGBqnZAyK9Oknv
PIoTlJpz0u6wuErDsqJJEaZopJ/6f3I9M/NFI2lQG8oronozNFiViRoPpZB1OeJC
dWc+ceNC5ln2fG/Gcl3YVdMcExGdkKX4fjvkhdIq56GMnFrA/2WfZsaiFXM9DOHw
ABMpsskM/vFbMuQoPm3DDtdCG99XpLkvaiFySz6n9SrHsmijOz8KeMUAbBwKJoQ6
FnlSRLBFxwm+nRzvRG42Ovt+b6/iwVbJSPr3fFRL4RaUY0dBWSAPlyikVQ/4OC3o
HfPGaeJt+bu/BF/fiFkrof9w6PBTU4E=
-----END CERTIFICATE-----";

#[test]
fn a_localsend_fingerprint_is_the_sha256_of_the_certificate_der_upper_case() {
    let der = pem::parse(RSA_PHONE_CERT).unwrap().into_contents();
    let fp = Sha256Fingerprint::of_certificate(&der);
    assert_eq!(fp.to_hex(), "6AB256EF55785AB05557E9C3AAA73711DB70FFE0465D2D2C230095B5D622A12F");
    // A phone's RSA certificate is one Ferry's certificate checks take.
    assert!(ferry::identity::Fingerprint::of_certificate(&der).is_some());
}

fn listen(port: u16) -> UdpSocket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    // Ferry's own socket on the port shares it (SO_REUSEPORT where there is one).
    #[cfg(unix)]
    s.set_reuse_port(true).unwrap();
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into()).unwrap();
    let s: UdpSocket = s.into();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    s
}

/// Datagrams on `s` for `secs`, parsed.
fn datagrams(s: &UdpSocket, secs: f64) -> Vec<(SocketAddr, serde_json::Value)> {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        if let Ok((n, from)) = s.recv_from(&mut buf)
            && let Ok(v) = serde_json::from_slice(&buf[..n])
        {
            out.push((from, v));
        }
    }
    out
}

#[test]
fn ferry_announces_in_a_burst_and_ignores_its_own_datagrams() {
    let udp = free_udp_port();
    let ear = listen(udp);
    let side = Side::start("Ferry desk", Some(udp), |_| {});
    let heard = datagrams(&ear, 2.5);
    let ours: Vec<_> = heard.iter().filter(|(_, v)| v["alias"] == "Ferry desk").collect();
    assert!(ours.len() >= 3, "a burst at start: {heard:?}");
    let (_, a) = ours[0];
    assert_eq!(a["announce"], true);
    assert_eq!(a["fingerprint"], side.identity.localsend_fingerprint());
    assert_eq!(a["port"], side.ls.port());
    assert_eq!(a["protocol"], "https");
    assert_eq!(a["version"], "2.2");
    // It heard itself the whole time and listed no one.
    assert!(side.peers.try_recv().is_err());
    // On request, another burst.
    side.ls.refresh();
    assert!(datagrams(&ear, 1.0).iter().any(|(_, v)| v["alias"] == "Ferry desk"));
}

#[test]
fn an_announcement_is_answered_by_datagram_when_the_announcer_has_no_server() {
    let udp = free_udp_port();
    let side = Side::start("Ferry desk", Some(udp), |_| {});
    let ear = listen(udp);
    std::thread::sleep(Duration::from_millis(2500)); // past Ferry's own burst
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let phone = format!(
        r#"{{"alias":"Phone","version":"2.1","deviceType":"mobile","fingerprint":"phone-fp","port":{closed},"protocol":"http","announce":true}}"#
    );
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.set_broadcast(true).unwrap();
    tx.send_to(phone.as_bytes(), ("127.255.255.255", udp)).unwrap();
    let heard = datagrams(&ear, 3.0);
    let answer = heard.iter().find(|(_, v)| v["alias"] == "Ferry desk" && v["announce"] == false);
    assert!(answer.is_some(), "no UDP answer: {heard:?}");
    // And the phone is listed as it announced itself.
    let peer = side.wait_peer(2.0, |p| match p {
        PeerChange::Seen(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(peer.name, "Phone");
    assert_eq!(peer.addr.port(), closed);
}

#[test]
fn garbage_and_oversized_datagrams_are_dropped() {
    let udp = free_udp_port();
    let side = Side::start("Ferry desk", Some(udp), |_| {});
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.set_broadcast(true).unwrap();
    let big = format!(r#"{{"alias":"{}","announce":false}}"#, "x".repeat(20_000));
    for d in [b"not json".to_vec(), b"[1,2,3]".to_vec(), big.into_bytes(), vec![0xFF; 100]] {
        tx.send_to(&d, ("127.255.255.255", udp)).unwrap();
    }
    tx.send_to(br#"{"alias":"Real","fingerprint":"r","port":1,"announce":false}"#, ("127.255.255.255", udp))
        .unwrap();
    let peer = side.wait_peer(3.0, |p| match p {
        PeerChange::Seen(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(peer.name, "Real", "only the good datagram lists anyone");
    assert!(side.peers.recv_timeout(Duration::from_millis(300)).is_err());
}
