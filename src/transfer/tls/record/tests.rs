use std::sync::atomic::{AtomicU8, Ordering};

use rustls::crypto::cipher::{AeadKey, Iv};
use rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384;

use super::*;

/// A key schedule whose keys are a function of their generation, so a sending side and a
/// receiving side that each update their keys agree, as two rustls schedules do.
struct Fake {
    client: bool,
    tx: AtomicU8,
    rx: AtomicU8,
}

fn fake(client: bool) -> Fake {
    Fake { client, tx: AtomicU8::new(1), rx: AtomicU8::new(1) }
}

fn secrets(generation: u8) -> ConnectionTrafficSecrets {
    ConnectionTrafficSecrets::Aes256Gcm {
        key: AeadKey::from([generation; 32]),
        iv: Iv::new([generation ^ 0x5a; 12]),
    }
}

impl KeySchedule for Fake {
    fn next_tx(&self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error> {
        Ok((0, secrets(self.tx.fetch_add(1, Ordering::SeqCst) + 1)))
    }

    fn next_rx(&self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error> {
        Ok((0, secrets(self.rx.fetch_add(1, Ordering::SeqCst) + 1)))
    }

    fn is_client(&self) -> bool {
        self.client
    }
}

fn sealer() -> Sealer {
    Sealer::new(0, secrets(1), TLS13_AES_256_GCM_SHA384).unwrap()
}

fn inbound(client: bool) -> (Inbound, Fake) {
    let schedule = fake(client);
    (Inbound::new(Opener::new(0, secrets(1)).unwrap(), &schedule), schedule)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// A record whose inner plaintext is `inner` exactly (content, type, padding): sealed with the
/// last byte as its "type".
fn raw_record(sealer: &mut Sealer, inner: &[u8]) -> Vec<u8> {
    let (last, body) = inner.split_last().unwrap();
    let mut out = Vec::new();
    let start = Sealer::begin(&mut out);
    out.extend_from_slice(body);
    sealer.seal(&mut out, start, *last);
    out
}

/// Opens every record in `buf` in turn, moving the content to the front: the contents, each
/// with its type.
fn open_all(opener: &mut Opener, buf: &mut [u8]) -> Result<Vec<(u8, Vec<u8>)>, RecordError> {
    let (mut at, mut to, mut got) = (0, 0, Vec::new());
    while at < buf.len() {
        let total = record_len(&buf[at..])?.unwrap();
        let (typ, len) = opener.open(buf, at, to, total)?;
        got.push((typ, buf[to..to + len].to_vec()));
        to += len;
        at += total;
    }
    Ok(got)
}

#[test]
fn records_open_where_they_lie_and_the_content_moves_down() {
    let mut s = sealer();
    let mut out = Vec::new();
    let big = pattern(MAX_CONTENT);
    for content in [&big[..], b"x", b"", &big[..100]] {
        s.seal_message(&mut out, APPLICATION_DATA, content);
    }
    s.seal_message(&mut out, ALERT, &alert(AlertDescription::CloseNotify));
    assert_eq!(out.len(), 5 * OVERHEAD + MAX_CONTENT + 1 + 100 + 2);
    let mut opener = Opener::new(0, secrets(1)).unwrap();
    let got = open_all(&mut opener, &mut out).unwrap();
    let want: Vec<(u8, Vec<u8>)> = vec![
        (APPLICATION_DATA, big.clone()),
        (APPLICATION_DATA, b"x".to_vec()),
        (APPLICATION_DATA, Vec::new()),
        (APPLICATION_DATA, big[..100].to_vec()),
        (ALERT, vec![1, 0]),
    ];
    assert_eq!(got, want);
    // The data now lies at the front, one record's after the other's.
    assert_eq!(&out[..MAX_CONTENT], &big[..]);
    assert_eq!(out[MAX_CONTENT], b'x');
}

#[test]
fn a_record_is_whole_only_when_its_last_byte_is_in() {
    let mut out = Vec::new();
    sealer().seal_message(&mut out, APPLICATION_DATA, &pattern(1000));
    for cut in 0..out.len() {
        match record_len(&out[..cut]).unwrap() {
            None => assert!(cut < HEADER),
            Some(total) => assert!(cut >= HEADER && total == out.len() && total > cut),
        }
    }
    assert_eq!(record_len(&out).unwrap(), Some(out.len()));
}

#[test]
fn headers_that_cannot_follow_the_handshake_are_refused() {
    let refused = |header: [u8; 5]| match record_len(&header) {
        Err(RecordError::Refused { alert, .. }) => alert,
        other => panic!("{header:?}: {other:?}"),
    };
    assert_eq!(refused([CHANGE_CIPHER_SPEC, 3, 3, 0, 1]), AlertDescription::UnexpectedMessage);
    assert_eq!(refused([HANDSHAKE, 3, 3, 0, 40]), AlertDescription::UnexpectedMessage);
    assert_eq!(refused([ALERT, 3, 3, 0, 2]), AlertDescription::UnexpectedMessage);
    assert_eq!(refused([0, 0, 0, 9, 1]), AlertDescription::UnexpectedMessage);
    let over = (MAX_CIPHERTEXT + 1) as u16;
    assert_eq!(
        refused([APPLICATION_DATA, 3, 3, (over >> 8) as u8, over as u8]),
        AlertDescription::RecordOverflow
    );
    assert_eq!(refused([APPLICATION_DATA, 3, 3, 0, TAG as u8]), AlertDescription::DecodeError);
    // The largest allowed, and the legacy version is ignored.
    let max = MAX_CIPHERTEXT as u16;
    assert_eq!(
        record_len(&[APPLICATION_DATA, 9, 9, (max >> 8) as u8, max as u8]).unwrap(),
        Some(MAX_RECORD_LEN)
    );
}

#[test]
fn a_changed_byte_anywhere_or_a_wrong_sequence_number_fails_the_tag() {
    let mut out = Vec::new();
    sealer().seal_message(&mut out, APPLICATION_DATA, &pattern(3000));
    // Every byte but the type and length (those fail before decryption, tested above).
    for i in (1..3).chain(HEADER..out.len()) {
        let mut bad = out.clone();
        bad[i] ^= 0x20;
        let mut opener = Opener::new(0, secrets(1)).unwrap();
        match opener.open(&mut bad, 0, 0, out.len()) {
            Err(RecordError::Refused { alert: AlertDescription::BadRecordMac, .. }) => {}
            other => panic!("byte {i}: {other:?}"),
        }
    }
    let mut opener = Opener::new(1, secrets(1)).unwrap();
    let mut copy = out.clone();
    assert!(matches!(
        opener.open(&mut copy, 0, 0, out.len()),
        Err(RecordError::Refused { alert: AlertDescription::BadRecordMac, .. })
    ));
}

#[test]
fn padding_is_stripped_and_content_over_the_limit_is_refused() {
    let mut s = sealer();
    let mut padded = b"hello".to_vec();
    padded.push(APPLICATION_DATA);
    padded.extend_from_slice(&[0; 200]);
    let all_padding = vec![0u8; 30];
    let mut over = pattern(MAX_CONTENT + 1);
    over.push(APPLICATION_DATA);
    let mut records =
        [raw_record(&mut s, &padded), raw_record(&mut s, &all_padding), raw_record(&mut s, &over)];

    let mut opener = Opener::new(0, secrets(1)).unwrap();
    let len = records[0].len();
    assert_eq!(opener.open(&mut records[0], 0, 0, len).unwrap(), (APPLICATION_DATA, 5));
    assert_eq!(&records[0][..5], b"hello");
    let len = records[1].len();
    match opener.open(&mut records[1], 0, 0, len) {
        Err(RecordError::Refused { alert: AlertDescription::UnexpectedMessage, .. }) => {}
        other => panic!("{other:?}"),
    }
    let len = records[2].len();
    match opener.open(&mut records[2], 0, 0, len) {
        Err(RecordError::Refused { alert: AlertDescription::RecordOverflow, .. }) => {}
        other => panic!("{other:?}"),
    }
}

fn refused_with(result: Result<Content, RecordError>) -> AlertDescription {
    match result {
        Err(e) => e.alert_to_send().unwrap_or_else(|| panic!("no alert to send for {e:?}")),
        Ok(c) => panic!("accepted: {c:?}"),
    }
}

#[test]
fn alerts_end_cleanly_only_with_close_notify() {
    let (mut inb, k) = inbound(false);
    assert_eq!(inb.take(ALERT, &[1, 0], &k), Ok(Content::Closed));
    assert_eq!(inb.take(ALERT, &[2, 0], &k), Ok(Content::Closed));
    assert_eq!(inb.take(ALERT, &[1, 90], &k), Ok(Content::Nothing), "user_canceled is ignored");
    assert_eq!(
        inb.take(ALERT, &[2, 42], &k),
        Err(RecordError::AlertReceived(AlertDescription::BadCertificate))
    );
    assert_eq!(refused_with(inb.take(ALERT, &[1, 42], &k)), AlertDescription::DecodeError);
    assert_eq!(refused_with(inb.take(ALERT, &[3, 0], &k)), AlertDescription::IllegalParameter);
    assert_eq!(refused_with(inb.take(ALERT, &[2, 0, 0], &k)), AlertDescription::DecodeError);
    assert_eq!(refused_with(inb.take(ALERT, &[2], &k)), AlertDescription::DecodeError);
    assert_eq!(refused_with(inb.take(CHANGE_CIPHER_SPEC, &[1], &k)), AlertDescription::UnexpectedMessage);
    assert_eq!(refused_with(inb.take(99, &[1], &k)), AlertDescription::UnexpectedMessage);
}

/// Both sides update their keys the way TLS 1.3 does it: the KeyUpdate goes under the old keys,
/// everything after it under the new ones; `update_requested` is passed on to the writer.
#[test]
fn a_key_update_changes_the_keys_at_the_record_after_it() {
    let (mut s, sender_schedule) = (sealer(), fake(true));
    let mut out = Vec::new();
    s.seal_message(&mut out, APPLICATION_DATA, b"before");
    s.update_keys(&mut out, &sender_schedule, true).unwrap();
    s.seal_message(&mut out, APPLICATION_DATA, b"after");
    s.update_keys(&mut out, &sender_schedule, false).unwrap();
    s.seal_message(&mut out, APPLICATION_DATA, b"later");

    let (mut inb, k) = inbound(false);
    let mut at = 0;
    let mut seen = Vec::new();
    while at < out.len() {
        let total = record_len(&out[at..]).unwrap().unwrap();
        let (typ, len) = inb.opener.open(&mut out, at, at, total).unwrap();
        let content = out[at..at + len].to_vec();
        seen.push((inb.take(typ, &content, &k).unwrap(), content));
        at += total;
    }
    let want = [
        (Content::Data, b"before".to_vec()),
        (Content::UpdateRequested, vec![24, 0, 0, 1, 1]),
        (Content::Data, b"after".to_vec()),
        (Content::Nothing, vec![24, 0, 0, 1, 0]),
        (Content::Data, b"later".to_vec()),
    ];
    assert_eq!(seen, want);
}

#[test]
fn a_key_update_must_be_well_formed_and_end_its_record() {
    let (mut inb, k) = inbound(false);
    assert_eq!(refused_with(inb.take(HANDSHAKE, &[24, 0, 0, 1, 2], &k)), AlertDescription::IllegalParameter);
    let (mut inb, k) = inbound(false);
    assert_eq!(
        refused_with(inb.take(HANDSHAKE, &[24, 0, 0, 2, 0, 0], &k)),
        AlertDescription::IllegalParameter
    );
    let (mut inb, k) = inbound(false);
    let two = [24, 0, 0, 1, 0, 24, 0, 0, 1, 0];
    assert_eq!(refused_with(inb.take(HANDSHAKE, &two, &k)), AlertDescription::UnexpectedMessage);
    // Split over two records it is one message, and it ends the second.
    let (mut inb, k) = inbound(false);
    assert_eq!(inb.take(HANDSHAKE, &[24, 0], &k), Ok(Content::Nothing));
    assert_eq!(inb.take(HANDSHAKE, &[0, 1, 1], &k), Ok(Content::UpdateRequested));
    assert_eq!(k.rx.load(Ordering::SeqCst), 2, "the receiving keys changed once");
}

#[test]
fn tickets_are_ignored_by_clients_and_refused_by_servers() {
    let ticket = {
        let body = pattern(300);
        let mut m = vec![4, 0, (body.len() >> 8) as u8, body.len() as u8];
        m.extend_from_slice(&body);
        m
    };
    let (mut inb, k) = inbound(true);
    assert_eq!(inb.take(HANDSHAKE, &ticket, &k), Ok(Content::Nothing));
    // Two tickets in one record, then one in three pieces.
    let two = [&ticket[..], &ticket[..]].concat();
    assert_eq!(inb.take(HANDSHAKE, &two, &k), Ok(Content::Nothing));
    for piece in [&ticket[..2], &ticket[2..100], &ticket[100..]] {
        assert_eq!(inb.take(HANDSHAKE, piece, &k), Ok(Content::Nothing));
    }
    assert_eq!(inb.tickets, 4);
    assert_eq!(inb.take(APPLICATION_DATA, b"data", &k), Ok(Content::Data));

    // Data in the middle of a split message is not allowed.
    assert_eq!(inb.take(HANDSHAKE, &ticket[..50], &k), Ok(Content::Nothing));
    assert_eq!(refused_with(inb.take(APPLICATION_DATA, b"data", &k)), AlertDescription::UnexpectedMessage);

    let (mut inb, k) = inbound(false);
    assert_eq!(refused_with(inb.take(HANDSHAKE, &ticket, &k)), AlertDescription::UnexpectedMessage);
}

#[test]
fn handshake_messages_are_bounded_and_never_empty() {
    let (mut inb, k) = inbound(true);
    // Over 64 KiB: refused as soon as the length is in, before anything is gathered.
    let len = MAX_HANDSHAKE_MESSAGE + 1;
    let header = [4, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    assert_eq!(refused_with(inb.take(HANDSHAKE, &header, &k)), AlertDescription::UnexpectedMessage);
    let (mut inb, k) = inbound(true);
    assert_eq!(inb.take(HANDSHAKE, &header[..2], &k), Ok(Content::Nothing));
    assert_eq!(refused_with(inb.take(HANDSHAKE, &header[2..], &k)), AlertDescription::UnexpectedMessage);
    let (mut inb, k) = inbound(true);
    assert_eq!(refused_with(inb.take(HANDSHAKE, &[], &k)), AlertDescription::UnexpectedMessage);
    // Any other post-handshake message (here: CertificateRequest).
    let (mut inb, k) = inbound(true);
    assert_eq!(refused_with(inb.take(HANDSHAKE, &[13, 0, 0, 0], &k)), AlertDescription::UnexpectedMessage);
}

#[test]
fn records_without_data_are_limited_in_a_row() {
    let (mut inb, k) = inbound(false);
    for round in 0..3 {
        for i in 0..MAX_IDLE_RECORDS {
            assert_eq!(inb.take(APPLICATION_DATA, b"", &k), Ok(Content::Nothing), "round {round}, {i}");
        }
        assert_eq!(inb.take(APPLICATION_DATA, b"d", &k), Ok(Content::Data));
    }
    for _ in 0..MAX_IDLE_RECORDS {
        inb.take(ALERT, &[1, 90], &k).unwrap();
    }
    assert_eq!(refused_with(inb.take(APPLICATION_DATA, b"", &k)), AlertDescription::UnexpectedMessage);
}
