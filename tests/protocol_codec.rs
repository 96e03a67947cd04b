//! The wire decoders, tested through the public API the way a connection uses them: fed one byte
//! at a time, split at every offset, given lengths that must be refused from the header alone,
//! unknown types, fields that break a rule, and random bytes (STYLE.md, habit 5).

use ferry::protocol::frame::{HEADER_LEN, data_header, decode_frame, encode_message, peek_header};
use ferry::protocol::{
    Answer, CancelReason, Datagram, DatagramKind, DecodeError, ErrorCode, FileResult, Frame, FrameType,
    Hello, HelloPurpose, InstanceId, MAX_CONTROL_FRAME, MAX_DATA_CHUNK, MAX_DATAGRAM, MAX_DEPTH, MAX_FILES,
    MAX_FINGERPRINT, MAX_NAME_BYTES, MAX_PATH_BYTES, MAX_THUMBNAIL, Message, Offer, OfferFile, Os,
    SkipReason,
};
use proptest::prelude::*;

/// A frame that owns its bytes, so frames decoded from a buffer can outlive it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Data(Vec<u8>),
    Message(Message),
}

impl Owned {
    fn from_frame(f: Frame<'_>) -> Owned {
        match f {
            Frame::Data(b) => Owned::Data(b.to_vec()),
            Frame::Message(m) => Owned::Message(m),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Owned::Data(b) => {
                out.extend_from_slice(&data_header(b.len()));
                out.extend_from_slice(b);
            }
            Owned::Message(m) => encode_message(m, out),
        }
    }
}

fn encoded(m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    encode_message(m, &mut out);
    out
}

/// A frame of type `ty` with `payload`, built by hand so it can break rules the encoder keeps.
fn raw_frame(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    out.push(ty);
    out.extend_from_slice(payload);
    out
}

fn hello(purpose: HelloPurpose) -> Hello {
    Hello {
        version: 1,
        purpose,
        instance: InstanceId([0x5a; 16]),
        transfer_port: 53531,
        os: Os::Windows,
        name: "Ana's Mac 😀 مرحبا".into(),
        fingerprint: vec![],
    }
}

/// At least one of every message variant, with every code of every code table.
fn every_message() -> Vec<Message> {
    let mut all = vec![
        Message::Hello(hello(HelloPurpose::Transfer)),
        Message::Hello(Hello {
            transfer_port: 0,
            fingerprint: vec![9; MAX_FINGERPRINT],
            ..hello(HelloPurpose::Probe)
        }),
        Message::Offer(Offer { file_count: 0, total_bytes: 0 }),
        Message::Offer(Offer { file_count: MAX_FILES, total_bytes: u64::MAX }),
        Message::OfferFile(OfferFile {
            path: "旅行/照片 1.jpg".into(),
            size: 12,
            thumbnail: vec![0xff, 0xd8],
        }),
        Message::OfferFile(OfferFile { path: String::new(), size: u64::MAX, thumbnail: vec![] }),
        Message::Answer(Answer::AcceptAll),
        Message::Answer(Answer::AcceptSome { file_count: 10, indices: vec![0, 2, 3, 9] }),
        Message::Answer(Answer::AcceptSome { file_count: 8, indices: (0..8).collect() }),
        Message::Answer(Answer::AcceptSome { file_count: 0, indices: vec![] }),
        Message::Answer(Answer::AcceptSome { file_count: 17, indices: vec![] }),
        Message::Answer(Answer::Decline),
        Message::Answer(Answer::Busy),
        Message::FileBegin { index: u32::MAX, size: 1 << 40 },
        Message::FileEnd { index: 3, hash: *blake3::hash(b"x").as_bytes() },
        Message::FileSkip { index: 1, reason: SkipReason::Unreadable },
        Message::FileSkip { index: 2, reason: SkipReason::Changed },
        Message::FileSkip { index: 3, reason: SkipReason::Abandoned },
        Message::OfferText { text: "https://example.org/ 🏠\n\u{1b}[2J".into() },
        Message::OfferText { text: "x".repeat(ferry::protocol::MAX_TEXT_BYTES) },
        Message::Done,
        Message::Summary(vec![]),
        Message::Cancel(CancelReason::User),
        Message::Cancel(CancelReason::Shutdown),
        Message::Keepalive,
        Message::Error { code: ErrorCode::Internal, message: String::new() },
    ];
    let results = (0..=255u8).filter_map(FileResult::from_byte).collect::<Vec<_>>();
    assert_eq!(results.len(), 11, "FileResult has codes 0..=10");
    for &result in &results {
        all.push(Message::FileResult { index: 7, result });
    }
    all.push(Message::Summary(results));
    for code in
        [ErrorCode::UnsupportedVersion, ErrorCode::Protocol, ErrorCode::Overloaded, ErrorCode::Internal]
    {
        all.push(Message::Error { code, message: "Zu viele Übertragungen".into() });
    }
    all
}

/// Frames as a connection sees them: messages and DATA of a few sizes, including empty.
fn every_frame() -> Vec<Owned> {
    let mut frames: Vec<Owned> = every_message().into_iter().map(Owned::Message).collect();
    frames.push(Owned::Data(vec![]));
    frames.push(Owned::Data(b"Hello Ferry!".to_vec()));
    frames.push(Owned::Data((0..=255).collect()));
    frames
}

/// What a connection does with its read buffer: append what arrived, then take whole frames off
/// the front until the decoder says it needs more.
fn feed(buf: &mut Vec<u8>, chunk: &[u8], out: &mut Vec<Owned>) {
    buf.extend_from_slice(chunk);
    loop {
        match decode_frame(buf) {
            Ok(Some((frame, used))) => {
                out.push(Owned::from_frame(frame));
                buf.drain(..used);
            }
            Ok(None) => return,
            Err(e) => panic!("a valid stream was refused: {e}"),
        }
    }
}

#[test]
fn every_message_variant_round_trips() {
    for msg in every_message() {
        let bytes = encoded(&msg);
        assert_eq!(
            decode_frame(&bytes),
            Ok(Some((Frame::Message(msg.clone()), bytes.len()))),
            "{msg:?} did not round-trip"
        );
        assert_eq!(bytes[4], msg.frame_type() as u8);
    }
}

#[test]
fn every_frame_fed_one_byte_at_a_time_needs_more_until_it_is_whole() {
    for frame in every_frame() {
        let mut bytes = Vec::new();
        frame.encode(&mut bytes);
        for n in 0..bytes.len() {
            assert_eq!(decode_frame(&bytes[..n]), Ok(None), "{frame:?} cut after {n} bytes");
        }
        let (got, used) = decode_frame(&bytes).expect("valid").expect("whole");
        assert_eq!(Owned::from_frame(got), frame);
        assert_eq!(used, bytes.len());

        // The same through a connection buffer that receives one byte per read.
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        for b in &bytes {
            feed(&mut buf, std::slice::from_ref(b), &mut out);
        }
        assert_eq!(out, vec![frame]);
        assert!(buf.is_empty());
    }
}

#[test]
fn a_stream_split_at_every_offset_gives_the_same_frames() {
    let frames = every_frame();
    let mut stream = Vec::new();
    for f in &frames {
        f.encode(&mut stream);
    }
    for split in 0..=stream.len() {
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        feed(&mut buf, &stream[..split], &mut out);
        feed(&mut buf, &stream[split..], &mut out);
        assert_eq!(out, frames, "split at {split}");
        assert!(buf.is_empty(), "split at {split}: {} bytes left over", buf.len());
    }
}

#[test]
fn a_connection_closed_mid_frame_leaves_bytes_that_need_more() {
    // The decoder cannot know the peer has gone: it answers "need more", and the connection,
    // seeing EOF with a non-empty buffer, reports the batch as failed.
    let mut stream = encoded(&Message::Done);
    stream.extend_from_slice(&encoded(&Message::FileBegin { index: 0, size: 9 }));
    for cut in 1..=HEADER_LEN + 11 {
        let (mut buf, mut out) = (Vec::new(), Vec::new());
        let whole_done = encoded(&Message::Done).len();
        feed(&mut buf, &stream[..stream.len() - cut], &mut out);
        assert_eq!(out.len(), usize::from(stream.len() - cut >= whole_done), "cut {cut}");
        if stream.len() - cut != whole_done {
            assert!(!buf.is_empty(), "cut {cut}: a partial frame must stay buffered");
            assert_eq!(decode_frame(&buf), Ok(None), "cut {cut}");
        }
    }
}

#[test]
fn oversized_lengths_are_refused_from_the_header_alone() {
    let data_max = 1 + MAX_DATA_CHUNK;
    // Over every type's limit: refused after the four length bytes, before the type arrives.
    for len in [u32::MAX, 0xFFFF_FFF0, 0x8000_0000, (data_max + 1) as u32] {
        let header = len.to_be_bytes();
        assert_eq!(decode_frame(&header[..3]), Ok(None));
        assert_eq!(
            decode_frame(&header),
            Err(DecodeError::TooLong { len: len as u64, max: data_max }),
            "length {len:#x}"
        );
        assert_eq!(peek_header(&header), Err(DecodeError::TooLong { len: len as u64, max: data_max }));
    }
    // Within DATA's limit but over a control frame's: refused at the type byte, before any payload.
    let len = (MAX_CONTROL_FRAME + 1) as u32;
    for ty in (1..=0x0E).filter(|&t| t != FrameType::Data as u8) {
        let mut header = len.to_be_bytes().to_vec();
        assert_eq!(decode_frame(&header), Ok(None), "type {ty}: four bytes are not enough to tell");
        header.push(ty);
        assert_eq!(
            decode_frame(&header),
            Err(DecodeError::TooLong { len: len as u64, max: MAX_CONTROL_FRAME }),
            "type {ty}"
        );
    }
    // The limits themselves are allowed: the reader waits for the payload.
    let mut at_limit = (MAX_CONTROL_FRAME as u32).to_be_bytes().to_vec();
    at_limit.push(FrameType::OfferFile as u8);
    assert_eq!(peek_header(&at_limit), Ok(Some((FrameType::OfferFile, 4 + MAX_CONTROL_FRAME))));
    assert_eq!(decode_frame(&at_limit), Ok(None));
    let mut data = (data_max as u32).to_be_bytes().to_vec();
    data.push(FrameType::Data as u8);
    assert_eq!(peek_header(&data), Ok(Some((FrameType::Data, 4 + data_max))));
}

#[test]
fn a_zero_length_is_refused() {
    assert_eq!(decode_frame(&[0, 0, 0, 0]), Err(DecodeError::EmptyFrame));
    assert_eq!(decode_frame(&[0, 0, 0, 0, 0x0A]), Err(DecodeError::EmptyFrame));
}

#[test]
fn unknown_type_bytes_are_refused() {
    for ty in (0..=255u8).filter(|t| !(0x01..=0x12).contains(t)) {
        assert_eq!(decode_frame(&raw_frame(ty, &[])), Err(DecodeError::UnknownType(ty)));
        assert_eq!(decode_frame(&[0, 0, 0, 9, ty]), Err(DecodeError::UnknownType(ty)), "before the payload");
    }
}

#[test]
fn accept_some_with_padding_bits_or_unoffered_indices_is_refused() {
    let answer = |file_count: u32, bitmap: &[u8]| {
        let mut p = vec![1];
        p.extend_from_slice(&file_count.to_be_bytes());
        p.extend_from_slice(bitmap);
        decode_frame(&raw_frame(FrameType::Answer as u8, &p)).map(|f| f.map(|(f, _)| Owned::from_frame(f)))
    };
    let refused = Err(DecodeError::Invalid("answer accepts a file that was not offered"));
    // 10 files: two bitmap bytes, the last six bits are padding.
    assert_eq!(
        answer(10, &[0xB0, 0x40]),
        Ok(Some(Owned::Message(Message::Answer(Answer::AcceptSome {
            file_count: 10,
            indices: vec![0, 2, 3, 9]
        }))))
    );
    for padding in [0x20, 0x10, 0x08, 0x04, 0x02, 0x01] {
        assert_eq!(answer(10, &[0x80, padding]), refused, "padding bit {padding:#04x}");
    }
    assert_eq!(answer(3, &[0x10]), refused, "index 3 of a 3-file offer");
    assert_eq!(
        answer(0, &[]),
        Ok(Some(Owned::Message(Message::Answer(Answer::AcceptSome { file_count: 0, indices: vec![] }))))
    );
    // The bitmap must be exactly ⌈file_count / 8⌉ bytes.
    assert_eq!(answer(10, &[0x80]), Err(DecodeError::Truncated));
    assert_eq!(answer(10, &[0x80, 0, 0]), Err(DecodeError::TrailingBytes(1)));
    assert!(answer(MAX_FILES + 1, &[]).is_err());
    assert_eq!(
        decode_frame(&raw_frame(FrameType::Answer as u8, &[4])),
        Err(DecodeError::Invalid("unknown answer"))
    );
}

#[test]
fn fields_that_break_a_rule_are_refused() {
    use FrameType as T;
    let frame = |m: &Message| encoded(m);
    // Trailing bytes after the last field of a control frame.
    let mut trailing = frame(&Message::Done)[HEADER_LEN..].to_vec();
    trailing.push(0);
    assert_eq!(decode_frame(&raw_frame(T::Done as u8, &trailing)), Err(DecodeError::TrailingBytes(1)));

    // HELLO: magic, purpose.
    let mut hello_bytes = frame(&Message::Hello(hello(HelloPurpose::Transfer)));
    hello_bytes[HEADER_LEN] = b'X';
    assert_eq!(decode_frame(&hello_bytes), Err(DecodeError::BadMagic));
    let mut purpose = frame(&Message::Hello(hello(HelloPurpose::Transfer)));
    purpose[HEADER_LEN + 6] = 3;
    assert_eq!(decode_frame(&purpose), Err(DecodeError::Invalid("unknown HELLO purpose")));

    // OFFER over MAX_FILES.
    let mut offer = (MAX_FILES + 1).to_be_bytes().to_vec();
    offer.extend_from_slice(&0u64.to_be_bytes());
    assert!(decode_frame(&raw_frame(T::Offer as u8, &offer)).is_err());

    // OFFER_FILE: too deep, too long, thumbnail too big, not UTF-8.
    let offer_file = |path: &[u8], thumb: usize| {
        let mut p = (path.len() as u16).to_be_bytes().to_vec();
        p.extend_from_slice(path);
        p.extend_from_slice(&1u64.to_be_bytes());
        p.extend_from_slice(&(thumb as u16).to_be_bytes());
        p.resize(p.len() + thumb, 0xAB);
        decode_frame(&raw_frame(T::OfferFile as u8, &p)).map(|f| f.is_some())
    };
    let depth = |n: usize| vec!["d"; n].join("/");
    assert_eq!(offer_file(depth(MAX_DEPTH).as_bytes(), 0), Ok(true));
    assert_eq!(offer_file(depth(MAX_DEPTH + 1).as_bytes(), 0), Err(DecodeError::Invalid("path too deep")));
    assert_eq!(offer_file(&vec![b'a'; MAX_PATH_BYTES], MAX_THUMBNAIL), Ok(true));
    assert_eq!(
        offer_file(&vec![b'a'; MAX_PATH_BYTES + 1], 0),
        Err(DecodeError::TooLong { len: MAX_PATH_BYTES as u64 + 1, max: MAX_PATH_BYTES })
    );
    assert_eq!(
        offer_file(b"a.jpg", MAX_THUMBNAIL + 1),
        Err(DecodeError::TooLong { len: MAX_THUMBNAIL as u64 + 1, max: MAX_THUMBNAIL })
    );
    assert_eq!(offer_file(b"a\xff.jpg", 0), Err(DecodeError::BadUtf8));

    // A text offer's text: 1..=16 KiB of UTF-8.
    let text = |bytes: &[u8]| {
        let mut p = (bytes.len() as u16).to_be_bytes().to_vec();
        p.extend_from_slice(bytes);
        decode_frame(&raw_frame(T::OfferText as u8, &p)).map(|f| f.map(|(_, used)| used))
    };
    assert!(text(b"").is_err());
    assert!(text(&[b'x'; ferry::protocol::MAX_TEXT_BYTES + 1]).is_err());
    assert_eq!(text(b"a\xff"), Err(DecodeError::BadUtf8));
    assert!(matches!(text(&[b'x'; ferry::protocol::MAX_TEXT_BYTES]), Ok(Some(_))));

    // Unknown codes where the code matters.
    assert!(decode_frame(&raw_frame(T::FileSkip as u8, &[0, 0, 0, 0, 4])).is_err());
    assert!(decode_frame(&raw_frame(T::FileResult as u8, &[0, 0, 0, 0, 11])).is_err());
    assert!(decode_frame(&raw_frame(T::Summary as u8, &[0, 0, 0, 2, 0, 11])).is_err());
    assert_eq!(decode_frame(&raw_frame(T::Summary as u8, &[0, 0, 0, 2, 0])), Err(DecodeError::Truncated));
    let mut summary = (MAX_FILES + 1).to_be_bytes().to_vec();
    summary.resize(4 + MAX_FILES as usize + 1, 0);
    assert!(decode_frame(&raw_frame(T::Summary as u8, &summary)).is_err());
    // Every fixed-size message cut short inside its payload.
    assert_eq!(decode_frame(&raw_frame(T::FileEnd as u8, &[0; 35])), Err(DecodeError::Truncated));
}

#[test]
fn the_lenient_fields_are_read_as_documented() {
    use FrameType as T;
    let msg = |ty: FrameType, p: &[u8]| match decode_frame(&raw_frame(ty as u8, p)) {
        Ok(Some((Frame::Message(m), _))) => m,
        other => panic!("{other:?}"),
    };
    // CANCEL: anything but 2 is User. ERROR: unknown codes are Internal, bad UTF-8 is replaced.
    assert_eq!(msg(T::Cancel, &[9]), Message::Cancel(CancelReason::User));
    assert_eq!(msg(T::Cancel, &[2]), Message::Cancel(CancelReason::Shutdown));
    assert_eq!(
        msg(T::Error, &[99, 0, 3, b'a', 0xff, b'b']),
        Message::Error { code: ErrorCode::Internal, message: "a\u{FFFD}b".into() }
    );
    // An unknown OS is Unknown, not an error.
    let mut h = encoded(&Message::Hello(hello(HelloPurpose::Probe)));
    h[HEADER_LEN + 4 + 2 + 1 + 16 + 2] = 200;
    let Ok(Some((Frame::Message(Message::Hello(got)), _))) = decode_frame(&h) else { panic!("not a HELLO") };
    assert_eq!(got.os, Os::Unknown);
    // ERROR text over 1024 bytes is refused, at the limit accepted.
    let error = |n: usize| {
        let mut p = vec![2];
        p.extend_from_slice(&(n as u16).to_be_bytes());
        p.resize(3 + n, b'e');
        decode_frame(&raw_frame(T::Error as u8, &p)).map(|f| f.is_some())
    };
    assert_eq!(error(1024), Ok(true));
    assert!(error(1025).is_err());
}

fn datagram() -> Datagram {
    Datagram {
        kind: DatagramKind::Announce,
        instance: InstanceId([3; 16]),
        transfer_port: 53531,
        os: Os::Android,
        name: "照片机".into(),
        fingerprint: vec![],
    }
}

#[test]
fn datagrams_round_trip_and_every_rule_drops() {
    for kind in [DatagramKind::Announce, DatagramKind::Query, DatagramKind::Reply, DatagramKind::Goodbye] {
        let d = Datagram { kind, ..datagram() };
        assert_eq!(Datagram::decode(&d.encode()), Ok(d));
    }
    let good = datagram().encode();
    for cut in 0..good.len() {
        assert!(Datagram::decode(&good[..cut]).is_err(), "cut after {cut} bytes");
    }
    let with = |at: usize, b: u8| {
        let mut d = good.clone();
        d[at] = b;
        Datagram::decode(&d)
    };
    assert_eq!(with(0, b'f'), Err(DecodeError::BadMagic));
    assert!(with(4, 2).is_err(), "version 2");
    assert!(with(4, 0).is_err(), "version 0");
    assert!(with(5, 0).is_err(), "kind 0");
    assert_eq!(with(5, 5).map(|d| d.kind), Ok(DatagramKind::Search), "kind 5 is SEARCH");
    assert!(with(5, 6).is_err(), "kind 6");
    assert!(Datagram::decode(&Datagram { transfer_port: 0, ..datagram() }.encode()).is_err());
    assert!(Datagram::decode(&Datagram { name: String::new(), ..datagram() }.encode()).is_err());
    assert!(Datagram::decode(&Datagram { name: " \t\u{3000}".into(), ..datagram() }.encode()).is_err());
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(Datagram::decode(&trailing), Err(DecodeError::TrailingBytes(1)));
    let mut long_fp = good[..good.len() - 1].to_vec();
    long_fp.push(MAX_FINGERPRINT as u8 + 1);
    long_fp.resize(long_fp.len() + MAX_FINGERPRINT + 1, 0);
    assert!(matches!(Datagram::decode(&long_fp), Err(DecodeError::TooLong { .. })));
    // Over 1024 bytes is dropped before anything is read, even if it starts like a good one.
    let mut big = good.clone();
    big.resize(MAX_DATAGRAM + 1, 0);
    assert_eq!(
        Datagram::decode(&big),
        Err(DecodeError::TooLong { len: MAX_DATAGRAM as u64 + 1, max: MAX_DATAGRAM })
    );
    // The largest possible datagram is far below the limit.
    let largest =
        Datagram { name: "n".repeat(MAX_NAME_BYTES), fingerprint: vec![1; MAX_FINGERPRINT], ..datagram() };
    assert_eq!(largest.encode().len(), 4 + 1 + 1 + 16 + 2 + 1 + 1 + MAX_NAME_BYTES + 1 + MAX_FINGERPRINT);
    assert_eq!(Datagram::decode(&largest.encode()), Ok(largest));
}

fn os_strategy() -> impl Strategy<Value = Os> {
    (0u8..=6).prop_map(Os::from_byte)
}

/// Strings of any characters, with plenty of `/` so multi-component paths are common.
fn path_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![3 => any::<char>(), 1 => Just('/')], 0..300)
        .prop_map(String::from_iter)
        .prop_filter("within the path limits", |p| {
            p.len() <= MAX_PATH_BYTES && p.split('/').count() <= MAX_DEPTH
        })
}

/// Any string of at most 255 bytes (the encoder would shorten a longer one).
fn name_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..100).prop_map(|chars| {
        let mut s = String::new();
        for c in chars {
            if s.len() + c.len_utf8() > MAX_NAME_BYTES {
                break;
            }
            s.push(c);
        }
        s
    })
}

proptest! {
    #[test]
    fn offer_file_round_trips_for_any_path_within_limits(
        path in path_strategy(),
        size in any::<u64>(),
        thumbnail in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let msg = Message::OfferFile(OfferFile { path, size, thumbnail });
        let bytes = encoded(&msg);
        prop_assert_eq!(decode_frame(&bytes), Ok(Some((Frame::Message(msg.clone()), bytes.len()))));
    }

    #[test]
    fn hello_round_trips_for_any_name(
        version in any::<u16>(),
        probe in any::<bool>(),
        instance in any::<[u8; 16]>(),
        transfer_port in any::<u16>(),
        os in os_strategy(),
        name in name_strategy(),
        fingerprint in proptest::collection::vec(any::<u8>(), 0..=MAX_FINGERPRINT),
    ) {
        let purpose = if probe { HelloPurpose::Probe } else { HelloPurpose::Transfer };
        let msg = Message::Hello(Hello {
            version, purpose, instance: InstanceId(instance), transfer_port, os, name, fingerprint,
        });
        let bytes = encoded(&msg);
        prop_assert_eq!(decode_frame(&bytes), Ok(Some((Frame::Message(msg.clone()), bytes.len()))));
    }

    #[test]
    fn datagram_round_trips_for_any_non_blank_name(
        instance in any::<[u8; 16]>(),
        transfer_port in 1u16..,
        os in os_strategy(),
        name in name_strategy().prop_filter("not blank", |n| !n.trim().is_empty()),
    ) {
        let d = Datagram { kind: DatagramKind::Reply, instance: InstanceId(instance), transfer_port, os, name,
            fingerprint: vec![] };
        prop_assert_eq!(Datagram::decode(&d.encode()), Ok(d));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let _ = decode_frame(&bytes);
        let _ = peek_header(&bytes);
        let _ = Datagram::decode(&bytes);
    }

    /// Random payloads behind a valid header reach the field decoders of every type, which purely
    /// random bytes almost never do. Whatever they decode to must be the whole frame.
    #[test]
    fn arbitrary_payloads_of_every_type_never_panic(
        ty in 1u8..=0x0E,
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let bytes = raw_frame(ty, &payload);
        if let Ok(Some((_, used))) = decode_frame(&bytes) {
            prop_assert_eq!(used, bytes.len());
        }
        let mut datagram = b"FRRY\x01".to_vec();
        datagram.extend_from_slice(&payload);
        let _ = Datagram::decode(&datagram);
    }
}
