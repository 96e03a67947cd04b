//! Keeps PROTOCOL.md honest: every hex example printed there is decoded with the public API and
//! compared with the values the document says it decodes to, and encoding those values must give
//! back exactly the printed bytes.
//!
//! The document marks each example with a line `Vector: <label>` followed by a ```` ```hex ````
//! block; inside the block `#` starts a comment. This test reads the file at run time, so editing
//! the document without fixing the bytes (or the code without fixing the document) fails here.

use std::collections::BTreeMap;

use ferry::protocol::frame::{self, Frame, decode_frame, encode_message};
use ferry::protocol::{
    Answer, CancelReason, Datagram, DatagramKind, ErrorCode, FileResult, Hello, HelloPurpose, InstanceId,
    Message, Offer, OfferFile, Os, SkipReason,
};

/// The text of the file's data in the `data` vector; FILE_END carries its BLAKE3.
const DATA: &[u8] = b"Hello Ferry!";

fn protocol_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Every `Vector: label` + hex block in the document, by label.
fn vectors(doc: &str) -> BTreeMap<String, Vec<u8>> {
    blocks(doc, "Vector:")
}

/// Every `<marker> label` + hex block in the document, by label.
fn blocks(doc: &str, marker: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line.trim().strip_prefix(marker) else { continue };
        let label = label.trim().to_owned();
        // The next non-blank line must open the hex block.
        let opening = lines.by_ref().find(|l| !l.trim().is_empty());
        assert_eq!(
            opening.map(str::trim),
            Some("```hex"),
            "vector {label:?} is not followed by a ```hex block"
        );
        let mut hex = String::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            hex.push_str(l.split('#').next().unwrap_or(""));
            hex.push(' ');
        }
        let bytes = parse_hex(&hex).unwrap_or_else(|e| panic!("vector {label:?}: {e}"));
        assert!(out.insert(label.clone(), bytes).is_none(), "vector {label:?} appears twice");
    }
    out
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    text.split_whitespace()
        .map(|pair| {
            if pair.len() != 2 {
                return Err(format!("{pair:?} is not one byte (two hex digits)"));
            }
            u8::from_str_radix(pair, 16).map_err(|_| format!("{pair:?} is not hex"))
        })
        .collect()
}

fn id(hex: &str) -> InstanceId {
    InstanceId::from_hex(hex).expect("a valid instance id in the test")
}

/// The value each datagram vector is documented to decode to.
fn expected_datagrams() -> Vec<(&'static str, Datagram)> {
    vec![
        (
            "announce",
            Datagram {
                kind: DatagramKind::Announce,
                instance: id("00112233445566778899aabbccddeeff"),
                transfer_port: 53531,
                os: Os::Linux,
                name: "Wang's laptop".into(),
                fingerprint: vec![],
            },
        ),
        (
            "query",
            Datagram {
                kind: DatagramKind::Query,
                instance: id("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"),
                transfer_port: 53531,
                os: Os::Windows,
                name: "Büro-PC".into(),
                fingerprint: vec![],
            },
        ),
        (
            "search_only_looking",
            Datagram {
                kind: DatagramKind::Search,
                instance: id("00112233445566778899aabbccddeeff"),
                transfer_port: 0,
                os: Os::Linux,
                name: "Kitchen PC".into(),
                fingerprint: vec![],
            },
        ),
        (
            "announce_with_key",
            Datagram {
                kind: DatagramKind::Announce,
                instance: id("00112233445566778899aabbccddeeff"),
                transfer_port: 53531,
                os: Os::Linux,
                name: "Wang's laptop".into(),
                fingerprint: (0..32).collect(),
            },
        ),
    ]
}

/// The refused vectors this test knows: datagrams, then frames.
const REFUSED_DATAGRAMS: &[&str] = &["announce_blank_name", "announce_port_0"];
const REFUSED_FRAMES: &[&str] = &[
    "answer_padding_bit",
    "control_frame_over_64_kib",
    "hello_trailing_byte",
    "hello_unknown_purpose",
    "length_0",
    "offer_text_empty",
    "summary_unknown_code",
    "unknown_type",
];

#[test]
fn refused_vectors_are_refused() {
    let doc = protocol_md();
    let datagrams = blocks(&doc, "Refused datagram:");
    let frames = blocks(&doc, "Refused frame:");
    assert_eq!(datagrams.keys().map(String::as_str).collect::<Vec<_>>(), REFUSED_DATAGRAMS);
    assert_eq!(frames.keys().map(String::as_str).collect::<Vec<_>>(), REFUSED_FRAMES);
    for (label, bytes) in &datagrams {
        assert!(Datagram::decode(bytes).is_err(), "refused datagram {label} decoded");
    }
    for (label, bytes) in &frames {
        // Refused, not "more bytes needed": every one of them is refused from what is there.
        assert!(decode_frame(bytes).is_err(), "refused frame {label}: {:?}", decode_frame(bytes));
    }
    // Each differs from a valid vector only where its comment says: fixed up, it decodes.
    let mut fixed = datagrams["announce_port_0"].clone();
    fixed[22..24].copy_from_slice(&53531u16.to_be_bytes());
    assert_eq!(fixed, vector(&vectors(&doc), "announce"));
    let mut fixed = frames["hello_trailing_byte"].clone();
    fixed.pop();
    fixed[3] = 0x26;
    assert_eq!(fixed, vector(&vectors(&doc), "hello"));
}

/// The message each control-frame vector is documented to decode to.
fn expected_messages() -> Vec<(&'static str, Message)> {
    vec![
        (
            "hello",
            Message::Hello(Hello {
                version: 1,
                purpose: HelloPurpose::Transfer,
                instance: id("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"),
                transfer_port: 53531,
                os: Os::Macos,
                name: "Ana's Mac".into(),
                fingerprint: vec![],
            }),
        ),
        ("offer", Message::Offer(Offer { file_count: 2, total_bytes: 17 })),
        (
            "offer_file",
            Message::OfferFile(OfferFile {
                path: "旅行/照片 1.jpg".into(),
                size: 12,
                thumbnail: vec![0xff, 0xd8, 0xff, 0xd9],
            }),
        ),
        (
            "offer_file_2",
            Message::OfferFile(OfferFile { path: "notes.txt".into(), size: 5, thumbnail: vec![] }),
        ),
        (
            "answer_accept_some",
            Message::Answer(Answer::AcceptSome { file_count: 10, indices: vec![0, 2, 3, 9] }),
        ),
        ("file_begin", Message::FileBegin { index: 0, size: DATA.len() as u64 }),
        (
            "file_end",
            Message::FileEnd {
                index: 0,
                hash: hex32("d3fe445277c633a841f7d4acd1cbfa69dddaa33f0a1164a2d9a1f9230b24472d"),
            },
        ),
        ("file_result", Message::FileResult { index: 0, result: FileResult::Saved }),
        ("file_skip", Message::FileSkip { index: 1, reason: SkipReason::Unreadable }),
        ("offer_of_text", Message::Offer(Offer { file_count: 1, total_bytes: 14 })),
        ("offer_text", Message::OfferText { text: "Wi-Fi: hunter2".into() }),
        ("file_result_disk_full", Message::FileResult { index: 0, result: FileResult::DiskFull }),
        ("file_skip_abandoned", Message::FileSkip { index: 0, reason: SkipReason::Abandoned }),
        ("summary_disk_full", Message::Summary(vec![FileResult::DiskFull, FileResult::NotSent])),
        (
            "file_result_folder_not_writable",
            Message::FileResult { index: 2, result: FileResult::FolderNotWritable },
        ),
        ("file_result_folder_gone", Message::FileResult { index: 3, result: FileResult::FolderGone }),
        ("done", Message::Done),
        ("summary", Message::Summary(vec![FileResult::Saved, FileResult::SenderSkipped])),
        ("keepalive", Message::Keepalive),
        ("cancel", Message::Cancel(CancelReason::User)),
        (
            "error",
            Message::Error { code: ErrorCode::Overloaded, message: "Too many transfers at once".into() },
        ),
    ]
}

fn hex32(hex: &str) -> [u8; 32] {
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
    bytes.try_into().expect("32 bytes")
}

/// The vectors of PROTOCOL.md's "Version 2" section (tests/protocol_v2_vectors.rs decodes them).
const VERSION_2_VECTORS: [&str; 6] =
    ["hello_v2", "verify_commit", "verify_nonce", "verify_reveal", "error_older", "probe_hello"];

fn vector<'a>(all: &'a BTreeMap<String, Vec<u8>>, label: &str) -> &'a [u8] {
    all.get(label).unwrap_or_else(|| panic!("PROTOCOL.md has no `Vector: {label}`"))
}

#[test]
fn the_document_has_exactly_the_vectors_this_test_knows() {
    let found: Vec<String> = vectors(&protocol_md()).into_keys().collect();
    let mut known: Vec<String> = expected_datagrams()
        .iter()
        .map(|(l, _)| l.to_string())
        .chain(expected_messages().iter().map(|(l, _)| l.to_string()))
        .chain(["data".to_string()])
        // Version 2's, checked by tests/protocol_v2_vectors.rs.
        .chain(VERSION_2_VECTORS.iter().map(|l| l.to_string()))
        .collect();
    known.sort();
    assert_eq!(found, known, "a vector was added to or removed from PROTOCOL.md without updating this test");
}

#[test]
fn datagram_vectors_decode_to_the_documented_values_and_back() {
    let all = vectors(&protocol_md());
    for (label, expected) in expected_datagrams() {
        let bytes = vector(&all, label);
        assert_eq!(Datagram::decode(bytes).as_ref(), Ok(&expected), "vector {label}");
        assert_eq!(expected.encode(), bytes, "vector {label} re-encoded");
    }
}

#[test]
fn frame_vectors_decode_to_the_documented_messages_and_back() {
    let all = vectors(&protocol_md());
    for (label, expected) in expected_messages() {
        let bytes = vector(&all, label);
        match decode_frame(bytes) {
            Ok(Some((Frame::Message(got), used))) => {
                assert_eq!(got, expected, "vector {label}");
                assert_eq!(used, bytes.len(), "vector {label} holds exactly one frame");
            }
            other => panic!("vector {label} decoded to {other:?}"),
        }
        let mut encoded = Vec::new();
        encode_message(&expected, &mut encoded);
        assert_eq!(encoded, bytes, "vector {label} re-encoded");
    }
}

#[test]
fn data_vector_decodes_to_its_bytes_and_back() {
    let all = vectors(&protocol_md());
    let bytes = vector(&all, "data");
    match decode_frame(bytes) {
        Ok(Some((Frame::Data(payload), used))) => {
            assert_eq!(payload, DATA);
            assert_eq!(used, bytes.len());
        }
        other => panic!("data vector decoded to {other:?}"),
    }
    let mut encoded = frame::data_header(DATA.len()).to_vec();
    encoded.extend_from_slice(DATA);
    assert_eq!(encoded, bytes);
}

#[test]
fn file_end_vector_carries_the_real_blake3_of_the_data_vector() {
    let all = vectors(&protocol_md());
    let Ok(Some((Frame::Data(payload), _))) = decode_frame(vector(&all, "data")) else {
        panic!("the data vector is not a DATA frame")
    };
    let Ok(Some((Frame::Message(Message::FileEnd { hash, .. }), _))) = decode_frame(vector(&all, "file_end"))
    else {
        panic!("the file_end vector is not a FILE_END frame")
    };
    assert_eq!(&hash, blake3::hash(payload).as_bytes());
    // FILE_BEGIN announces exactly as many bytes as the DATA frame carries.
    let Ok(Some((Frame::Message(Message::FileBegin { size, .. }), _))) =
        decode_frame(vector(&all, "file_begin"))
    else {
        panic!("the file_begin vector is not a FILE_BEGIN frame")
    };
    assert_eq!(size, payload.len() as u64);
}

#[test]
fn the_vector_parser_reads_comments_and_refuses_bad_hex() {
    let doc = "Vector: x\n\n```hex\n01 ff   # one # two\n0A\n```\nVector: y\n```hex\n```\n";
    let v = vectors(doc);
    assert_eq!(v["x"], vec![0x01, 0xff, 0x0a]);
    assert_eq!(v["y"], Vec::<u8>::new());
    assert!(parse_hex("0g").is_err());
    assert!(parse_hex("123").is_err());
}
