//! Keeps PROTOCOL.md's version-2 parts honest (§12–§17 and the "Version 2" test vectors), as
//! tests/protocol_vectors.rs keeps the rest: every version-2 hex example decodes to the values the
//! document gives and encodes back to the same bytes, and every `Value:` line (fingerprints of the
//! fixture certificates, the commitment, the digest and the verification code) is what the code
//! computes. (That the document has no vector beyond these and version 1's is checked there.)

use std::collections::BTreeMap;

use ferry::identity::{DeviceIdentity, Fingerprint};
use ferry::protocol::frame::{Frame, decode_frame, encode_message};
use ferry::protocol::sas::{self, VerificationCode};
use ferry::protocol::{ErrorCode, Hello, HelloPurpose, InstanceId, Message, Os};
use ferry::transfer::tls::{OLDER_PEER_TEXT, probe_hello};
use sha2::{Digest, Sha256};

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Every `Vector: label` + hex block, by label (PROTOCOL.md's format).
fn vectors(doc: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line.trim().strip_prefix("Vector:") else { continue };
        let label = label.trim().to_owned();
        let opening = lines.by_ref().find(|l| !l.trim().is_empty());
        assert_eq!(opening.map(str::trim), Some("```hex"), "vector {label:?} has no ```hex block");
        let mut bytes = Vec::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            for pair in l.split('#').next().unwrap_or("").split_whitespace() {
                assert_eq!(pair.len(), 2, "vector {label:?}: {pair:?} is not one byte");
                bytes.push(u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("{label}: {pair:?}")));
            }
        }
        assert!(out.insert(label.clone(), bytes).is_none(), "vector {label:?} twice");
    }
    out
}

/// Every `Value: name = value` line.
fn values(doc: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let Some(rest) = line.trim().strip_prefix("Value:") else { continue };
        let (name, value) = rest.split_once('=').unwrap_or_else(|| panic!("{line:?} has no '='"));
        assert!(out.insert(name.trim().to_owned(), value.trim().to_owned()).is_none(), "{name} twice");
    }
    out
}

/// The fixture identity, loaded the way Ferry loads its own (so a foreign-made certificate and
/// key are proven usable as a device identity).
fn fixture_identity(name: &str) -> DeviceIdentity {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("identity.crt"), fixture(&format!("{name}.crt"))).unwrap();
    std::fs::write(dir.path().join("identity.key"), fixture(&format!("{name}.key"))).unwrap();
    let loaded = DeviceIdentity::load_or_create(dir.path()).unwrap();
    assert!(loaded.warning.is_none(), "{name}: {:?}", loaded.warning);
    loaded.identity
}

fn nonce_s() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

fn nonce_r() -> [u8; 32] {
    std::array::from_fn(|i| 0x20 + i as u8)
}

fn expected_messages() -> Vec<(&'static str, Message)> {
    let fp_a = fixture_identity("device-a").fingerprint();
    vec![
        (
            "hello_v2",
            Message::Hello(Hello {
                version: 2,
                purpose: HelloPurpose::Transfer,
                instance: InstanceId::from_hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf").unwrap(),
                transfer_port: 53531,
                os: Os::Linux,
                name: "Ana's Mac".into(),
                fingerprint: fp_a.0.to_vec(),
            }),
        ),
        (
            "verify_commit",
            Message::VerifyCommit { knows_you: false, commitment: sas::commitment(&nonce_s()) },
        ),
        ("verify_nonce", Message::VerifyNonce { knows_you: true, nonce: nonce_r() }),
        ("verify_reveal", Message::VerifyReveal { nonce: nonce_s() }),
        (
            "error_older",
            Message::Error { code: ErrorCode::UnsupportedVersion, message: OLDER_PEER_TEXT.into() },
        ),
        ("probe_hello", probe_hello()),
    ]
}

#[test]
fn the_document_has_every_version_2_vector_this_test_knows() {
    let found = vectors(&doc());
    for (label, _) in expected_messages() {
        assert!(found.contains_key(label), "PROTOCOL.md has no `Vector: {label}`");
    }
}

#[test]
fn frame_vectors_decode_to_the_documented_messages_and_back() {
    let all = vectors(&doc());
    for (label, expected) in expected_messages() {
        let bytes = &all[label];
        match decode_frame(bytes) {
            Ok(Some((Frame::Message(got), used))) => {
                assert_eq!(got, expected, "vector {label}");
                assert_eq!(used, bytes.len(), "vector {label} is one frame");
            }
            other => panic!("vector {label} decoded to {other:?}"),
        }
        let mut encoded = Vec::new();
        encode_message(&expected, &mut encoded);
        assert_eq!(&encoded, bytes, "vector {label} re-encoded");
    }
}

#[test]
fn the_values_are_what_the_code_computes() {
    let values = values(&doc());
    let (a, b) = (fixture_identity("device-a"), fixture_identity("device-b"));
    let cert_a = pem::parse(fixture("device-a.crt")).unwrap();
    assert_eq!(Fingerprint::of_certificate(cert_a.contents()), Some(a.fingerprint()));
    let mut seen = Vec::new();
    let mut check = |name: &str, actual: String| {
        assert_eq!(values.get(name), Some(&actual), "Value: {name}");
        seen.push(name.to_owned());
    };
    check("fingerprint device-a", a.fingerprint().to_hex());
    check("fingerprint device-b", b.fingerprint().to_hex());
    check("short device-a", a.fingerprint().short());
    check("commitment", hex(&sas::commitment(&nonce_s())));
    let mut h = Sha256::new();
    h.update(b"ferry-sas");
    h.update(a.fingerprint().0);
    h.update(b.fingerprint().0);
    h.update(nonce_s());
    h.update(nonce_r());
    check("digest", hex(&h.finalize()));
    let code = VerificationCode::derive(&a.fingerprint().0, &b.fingerprint().0, &nonce_s(), &nonce_r());
    check("code", code.to_string());
    let mut listed: Vec<&String> = values.keys().collect();
    listed.sort();
    seen.sort();
    assert_eq!(listed, seen.iter().collect::<Vec<_>>(), "a Value: line this test does not check");
}

/// The three frames of the vectors, run through both state machines, give the documented code
/// on both sides.
#[test]
fn the_vector_exchange_gives_the_documented_code_on_both_sides() {
    let (a, b) = (fixture_identity("device-a"), fixture_identity("device-b"));
    let (fa, fb) = (a.fingerprint().0, b.fingerprint().0);
    let (mut sender, commit) = sas::SenderSas::start(fa, fb, false, nonce_s());
    let mut receiver = sas::ReceiverSas::new(fa, fb, true, nonce_r());
    let all = vectors(&doc());
    let frame = |label: &str| match decode_frame(&all[label]) {
        Ok(Some((Frame::Message(m), _))) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(commit, frame("verify_commit"));
    let sas::ReceiverStep::Reply(nonce) = receiver.on_message(&commit).unwrap() else { panic!() };
    assert_eq!(nonce, frame("verify_nonce"));
    let (reveal, at_sender) = sender.on_message(&nonce).unwrap();
    assert_eq!(reveal, frame("verify_reveal"));
    let sas::ReceiverStep::Verified(at_receiver) = receiver.on_message(&reveal).unwrap() else { panic!() };
    assert_eq!(at_sender.code.to_string(), values(&doc())["code"]);
    assert_eq!(at_sender.code, at_receiver.code);
    assert!(at_sender.show && at_receiver.show, "device-a does not know device-b: both show it");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
