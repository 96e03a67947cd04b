use std::io::{IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::protocol::frame::{data_header, decode_frame, encode_message};
use crate::protocol::{ErrorCode, Frame, Message};
use rustls::{ClientConnection, ServerConnection};

const T: Duration = Duration::from_secs(5);

fn ctx() -> TlsContext {
    TlsContext::new(&DeviceIdentity::generate().unwrap()).unwrap()
}

fn listener() -> (TcpListener, std::net::SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// A handshake over loopback: the client's result and the server's.
fn handshake(
    client: &TlsContext,
    server: &TlsContext,
    pin: Option<Fingerprint>,
) -> (Result<Secured, ConnectError>, Result<Secured, AcceptError>) {
    let (l, addr) = listener();
    let server = server.clone();
    let accepting = thread::spawn(move || server.accept(l.accept().unwrap().0, T));
    let connected = client.connect(TcpStream::connect(addr).unwrap(), pin, T);
    (connected, accepting.join().unwrap())
}

/// Writes all of `bytes` through a write half, retrying timeouts with the same bytes.
fn write_all(w: &mut dyn WriteHalf, mut bytes: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !bytes.is_empty() {
        match w.write_some(&[IoSlice::new(bytes)]) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if halves_timeout(&e) => assert!(Instant::now() < deadline, "stuck writing"),
            Err(e) => panic!("write failed: {e}"),
        }
    }
}

/// Reads until `want` bytes or the end, counting the timeouts met on the way.
fn read_until(r: &mut dyn ReadHalf, want: usize) -> (Vec<u8>, usize, std::io::Result<usize>) {
    let mut got = Vec::new();
    let mut timeouts = 0;
    let mut buf = vec![0u8; 100_000];
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < want && Instant::now() < deadline {
        match r.read_some(&mut buf) {
            Ok(0) => return (got, timeouts, Ok(0)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if halves_timeout(&e) => timeouts += 1,
            Err(e) => return (got, timeouts, Err(e)),
        }
    }
    let n = got.len();
    (got, timeouts, Ok(n))
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn both_sides_prove_their_keys_and_prefer_aes_128() {
    let (a, b) = (ctx(), ctx());
    let (client, server) = handshake(&a, &b, None);
    let (client, server) = (client.unwrap(), server.unwrap());
    assert_eq!(client.peer, b.fingerprint());
    assert_eq!(server.peer, a.fingerprint());
    assert_eq!(client.cipher_suite, "TLS13_AES_128_GCM_SHA256");
    assert_eq!(server.cipher_suite, "TLS13_AES_128_GCM_SHA256");
}

#[test]
fn a_pinned_key_that_differs_fails_the_handshake() {
    let (a, b, expected) = (ctx(), ctx(), ctx());
    let (client, server) = handshake(&a, &b, Some(expected.fingerprint()));
    match client {
        Err(ConnectError::NotTheExpectedKey { expected: fp }) => assert_eq!(fp, expected.fingerprint()),
        other => panic!("{other:?}"),
    }
    assert!(server.is_err(), "{server:?}");
    let (client, server) = handshake(&a, &b, Some(b.fingerprint()));
    assert_eq!(client.unwrap().peer, b.fingerprint());
    assert_eq!(server.unwrap().peer, a.fingerprint());
}

#[test]
fn a_client_without_a_certificate_or_without_ferry_2_is_refused() {
    let server = ctx();
    for (with_cert, alpn) in [(false, true), (true, false)] {
        let (l, addr) = listener();
        let s = server.clone();
        let accepting = thread::spawn(move || s.accept(l.accept().unwrap().0, T));
        let id = DeviceIdentity::generate().unwrap();
        let builder = ClientConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PeerCertVerifier::any()));
        let mut config = if with_cert {
            builder
                .with_client_auth_cert(
                    vec![CertificateDer::from(id.cert_der().to_vec())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der().to_vec())),
                )
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        if alpn {
            config.alpn_protocols = vec![ALPN.to_vec()];
        }
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(T)).unwrap();
        let name = ServerName::try_from("ferry.invalid").unwrap();
        let mut tls = rustls::StreamOwned::new(ClientConnection::new(Arc::new(config), name).unwrap(), tcp);
        let _ = tls.write_all(b"\0\0\0\x01\x0d");
        let _ = tls.flush();
        let mut byte = [0u8; 1];
        assert!(!matches!(tls.read(&mut byte), Ok(1)), "the server spoke to a client it should refuse");
        match accepting.join().unwrap() {
            Err(AcceptError::Tls(_)) if !with_cert => {}
            Err(AcceptError::NotFerry) if !alpn => {}
            other => panic!("cert {with_cert} alpn {alpn}: {other:?}"),
        }
    }
}

/// Frames go through unchanged; the reader runs on a thread of its own while the writer
/// writes; the writer pauses so that reads time out, and nothing is lost to the timeouts.
#[test]
fn frames_cross_both_ways_on_two_threads_and_timeouts_lose_nothing() {
    let (a, b) = (ctx(), ctx());
    let (client, server) = handshake(&a, &b, None);
    let (client, server) = (client.unwrap(), server.unwrap());
    let Secured { reader: mut c_reader, writer: mut c_writer, .. } = client;
    let Secured { reader: mut s_reader, writer: mut s_writer, .. } = server;

    let data = pattern(3 * 1024 * 1024 + 17, 7);
    let mut stream = Vec::new();
    encode_message(&Message::Done, &mut stream);
    for chunk in data.chunks(256 * 1024) {
        stream.extend_from_slice(&data_header(chunk.len()));
        stream.extend_from_slice(chunk);
    }
    encode_message(&Message::Keepalive, &mut stream);
    let expected = stream.clone();

    // The server answers on its own writer while its reader reads: both directions at once.
    let server_side = thread::spawn(move || {
        let answering = thread::spawn(move || {
            for i in 0..50u32 {
                let mut msg = Vec::new();
                encode_message(
                    &Message::FileResult { index: i, result: crate::protocol::FileResult::Saved },
                    &mut msg,
                );
                write_all(&mut s_writer, &msg);
            }
            s_writer.finish();
        });
        s_reader.set_wait(Duration::from_millis(20)).unwrap();
        let (got, timeouts, end) = read_until(&mut s_reader, usize::MAX);
        answering.join().unwrap();
        (got, timeouts, end.map_err(|e| e.kind()))
    });
    let client_reading = thread::spawn(move || read_until(&mut c_reader, usize::MAX));
    // Written in uneven pieces with pauses longer than the server's read wait.
    let mut rest = &stream[..];
    let mut i = 0;
    while !rest.is_empty() {
        let n = [1, 70_001, 5, 300_000, 16_384, 16_385][i % 6].min(rest.len());
        let (piece, tail) = rest.split_at(n);
        let (head, body) = piece.split_at(n / 3);
        let mut parts = [head, body];
        let mut left = piece.len();
        while left > 0 {
            let slices = [IoSlice::new(parts[0]), IoSlice::new(parts[1])];
            match c_writer.write_some(&slices) {
                Ok(k) => {
                    left -= k;
                    let from_head = k.min(parts[0].len());
                    parts[0] = &parts[0][from_head..];
                    parts[1] = &parts[1][k - from_head..];
                }
                Err(e) if halves_timeout(&e) => {}
                Err(e) => panic!("{e}"),
            }
        }
        rest = tail;
        i += 1;
        if i % 4 == 0 {
            thread::sleep(Duration::from_millis(60));
        }
    }
    c_writer.finish();
    let (got, timeouts, end) = server_side.join().unwrap();
    assert_eq!(end, Ok(0), "close_notify ends the stream cleanly");
    assert!(got == expected, "the bytes differ ({} vs {})", got.len(), expected.len());
    assert!(timeouts > 0, "the reads never timed out: the test did not test that");

    // And they decode as the frames they were.
    let mut at = 0;
    let mut frames = 0;
    while at < got.len() {
        let (frame, used) = decode_frame(&got[at..]).unwrap().unwrap();
        if let Frame::Data(d) = frame {
            assert!(d.len() <= 256 * 1024);
        }
        at += used;
        frames += 1;
    }
    assert_eq!(frames, 2 + data.len().div_ceil(256 * 1024));

    let (answers, _, end) = client_reading.join().unwrap();
    assert_eq!(end.map_err(|e| e.kind()), Ok(0));
    let mut at = 0;
    for i in 0..50u32 {
        let (frame, used) = decode_frame(&answers[at..]).unwrap().unwrap();
        assert_eq!(
            frame,
            Frame::Message(Message::FileResult { index: i, result: crate::protocol::FileResult::Saved })
        );
        at += used;
    }
    assert_eq!(at, answers.len());
}

/// A writer whose peer does not read stops making progress and says so (a timeout, for its
/// caller's stall rule); once the peer reads again, the same bytes go on where they stopped.
/// Other bytes than the ones it had taken are refused.
#[test]
fn a_stalled_write_times_out_and_resumes_with_the_same_bytes() {
    let (a, b) = (ctx(), ctx());
    let (client, server) = handshake(&a, &b, None);
    let (mut client, mut server) = (client.unwrap(), server.unwrap());
    client.writer.set_wait(Duration::from_millis(50)).unwrap();
    let data = pattern(64 * 1024 * 1024, 3);
    let mut rest = &data[..];
    let started = Instant::now();
    let stalled = loop {
        match client.writer.write_some(&[IoSlice::new(rest)]) {
            Ok(n) => rest = &rest[n..],
            Err(e) if halves_timeout(&e) => break true,
            Err(e) => panic!("{e}"),
        }
        assert!(!rest.is_empty(), "64 MiB went into the socket buffers: no stall to see");
        assert!(started.elapsed() < Duration::from_secs(20));
    };
    assert!(stalled);
    let sent_before = data.len() - rest.len();
    // Other bytes: refused, nothing of them sent.
    let other = pattern(1000, 99);
    let refused = client.writer.write_some(&[IoSlice::new(&other)]).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);

    let reading = thread::spawn(move || {
        let (got, _, _) = read_until(&mut server.reader, 64 * 1024 * 1024);
        got
    });
    write_all(&mut client.writer, rest);
    client.writer.finish();
    let got = reading.join().unwrap();
    assert!(sent_before > 0);
    assert!(got == data, "bytes lost or changed across the stall ({} of {})", got.len(), data.len());
}

#[test]
fn an_end_without_close_notify_is_not_a_clean_end() {
    let (a, b) = (ctx(), ctx());
    let (client, server) = handshake(&a, &b, None);
    let (client, mut server) = (client.unwrap(), server.unwrap());
    let Secured { mut writer, reader, .. } = client;
    write_all(&mut writer, b"half a frame");
    // Cut without close_notify: what an attacker who drops packets, or a crash, produces.
    drop(reader);
    let socket = writer.socket().try_clone().unwrap();
    drop(writer);
    socket.shutdown(std::net::Shutdown::Both).unwrap();
    let (got, _, end) = read_until(&mut server.reader, usize::MAX);
    assert_eq!(got, b"half a frame");
    assert_eq!(end.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
}

// --- Version 1 on the other side ---------------------------------------------------------

fn v1_hello(version: u16, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_message(
        &Message::Hello(crate::protocol::Hello {
            version,
            purpose: crate::protocol::HelloPurpose::Transfer,
            instance: crate::protocol::InstanceId([7; 16]),
            transfer_port: 53531,
            os: crate::protocol::Os::Linux,
            name: name.into(),
            fingerprint: Vec::new(),
        }),
        &mut out,
    );
    out
}

/// Reads one plaintext frame (what a version-1 peer would).
fn read_frame(tcp: &mut TcpStream) -> Option<Message> {
    tcp.set_read_timeout(Some(T)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Ok(Some((Frame::Message(m), _))) = decode_frame(&buf) {
            return Some(m);
        }
        match tcp.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[test]
fn a_version_1_sender_is_told_in_version_1_framing() {
    let server = ctx();
    for (version, name, text) in
        [(1, "Anna's \u{202e}laptop", OLDER_PEER_TEXT), (2, "", older::SPEAKS_TLS_TEXT)]
    {
        let (l, addr) = listener();
        let s = server.clone();
        let accepting = thread::spawn(move || s.accept(l.accept().unwrap().0, T));
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.write_all(&v1_hello(version, name)).unwrap();
        let answer = read_frame(&mut tcp);
        assert_eq!(
            answer,
            Some(Message::Error { code: ErrorCode::UnsupportedVersion, message: text.into() })
        );
        match accepting.join().unwrap() {
            Err(AcceptError::OlderPeer { name, version: 1 }) => {
                assert_eq!(name.as_deref(), Some("Anna's laptop"))
            }
            Err(AcceptError::PlaintextProbe) if version == 2 => {}
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn bytes_that_are_neither_tls_nor_ferry_are_closed() {
    let server = ctx();
    for opening in [&b"GET / HTTP/1.1\r\n\r\n"[..], &[0, 0, 0, 2, 0x0a, 0][..], &[0, 0, 0, 1, 0x0a][..]] {
        let (l, addr) = listener();
        let s = server.clone();
        let accepting = thread::spawn(move || s.accept(l.accept().unwrap().0, T));
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.write_all(opening).unwrap();
        let _ = read_frame(&mut tcp);
        assert!(matches!(accepting.join().unwrap(), Err(AcceptError::NotFerry)), "{opening:?}");
    }
}

/// A stand-in receiver: answers each incoming connection with `answer` (the bytes read so far
/// are passed in), for `connections` connections.
fn fake_receiver(
    connections: usize,
    answer: impl Fn(usize, &[u8], &mut TcpStream) + Send + 'static,
) -> (std::net::SocketAddr, thread::JoinHandle<Vec<Vec<u8>>>) {
    let (l, addr) = listener();
    let handle = thread::spawn(move || {
        let mut openings = Vec::new();
        for i in 0..connections {
            let (mut tcp, _) = l.accept().unwrap();
            tcp.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
            let mut buf = vec![0u8; 4096];
            let n = tcp.read(&mut buf).unwrap_or(0);
            answer(i, &buf[..n], &mut tcp);
            openings.push(buf[..n].to_vec());
        }
        openings
    });
    (addr, handle)
}

fn connect_to(addr: std::net::SocketAddr) -> ConnectError {
    ctx().connect(TcpStream::connect(addr).unwrap(), None, T).unwrap_err()
}

/// Version 1 today: a ClientHello reads as an impossible frame length, and it hangs up without
/// a word. The probe that follows gets its HELLO.
#[test]
fn a_version_1_receiver_that_hangs_up_is_confirmed_by_a_probe() {
    let (addr, receiver) = fake_receiver(2, |i, opening, tcp| {
        if i == 1 {
            let hello = decode_frame(opening).unwrap().unwrap().0;
            assert!(
                matches!(hello, Frame::Message(Message::Hello(ref h)) if h.version == 2 && h.name.is_empty())
            );
            tcp.write_all(&v1_hello(1, "Old PC")).unwrap();
        }
    });
    assert!(matches!(connect_to(addr), ConnectError::OlderPeer));
    let openings = receiver.join().unwrap();
    assert_eq!(openings[0][0], 0x16, "the first connection opened with TLS");
}

/// Version 1 that follows PROTOCOL.md's rule for malformed frames: ERROR Protocol, then close.
#[test]
fn a_version_1_receiver_that_answers_an_error_frame_is_recognised_at_once() {
    let (addr, receiver) = fake_receiver(1, |_, _, tcp| {
        let mut out = Vec::new();
        encode_message(&Message::Error { code: ErrorCode::Protocol, message: "bad frame".into() }, &mut out);
        tcp.write_all(&out).unwrap();
    });
    assert!(matches!(connect_to(addr), ConnectError::OlderPeer));
    receiver.join().unwrap();
}

#[test]
fn an_overloaded_receiver_says_so_before_any_tls() {
    let (l, addr) = listener();
    let refusing = thread::spawn(move || refuse_overloaded(l.accept().unwrap().0));
    assert!(matches!(connect_to(addr), ConnectError::Overloaded));
    refusing.join().unwrap();
}

/// A version-2 receiver whose connection broke during the handshake is not an old Ferry: the
/// probe hears "this one speaks TLS", so the failure is reported as the network's.
#[test]
fn a_dropped_handshake_with_a_version_2_receiver_is_a_network_failure() {
    let (addr, receiver) = fake_receiver(2, |i, _, tcp| {
        if i == 1 {
            let mut out = Vec::new();
            let text = older::SPEAKS_TLS_TEXT.to_string();
            encode_message(&Message::Error { code: ErrorCode::UnsupportedVersion, message: text }, &mut out);
            tcp.write_all(&out).unwrap();
        }
    });
    assert!(matches!(connect_to(addr), ConnectError::Lost(_)));
    receiver.join().unwrap();

    // Nobody answers the probe either: still the network, never "older".
    let (addr, receiver) = fake_receiver(2, |_, _, _| {});
    assert!(matches!(connect_to(addr), ConnectError::Lost(_)));
    receiver.join().unwrap();
}

#[test]
fn a_real_version_2_receiver_answers_the_probe_with_speaks_tls() {
    let server = ctx();
    let (l, addr) = listener();
    let s = server.clone();
    let accepting = thread::spawn(move || s.accept(l.accept().unwrap().0, T));
    assert_eq!(older::probe(addr, Instant::now() + T), Some(older::Probed::SpeaksTls));
    assert!(matches!(accepting.join().unwrap(), Err(AcceptError::PlaintextProbe)));
}

#[test]
fn something_else_answering_is_not_ferry() {
    let (addr, receiver) = fake_receiver(1, |_, _, tcp| {
        tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
    });
    assert!(matches!(connect_to(addr), ConnectError::NotFerry));
    receiver.join().unwrap();
}

// --- The record layer against real handshakes --------------------------------------------

/// Sends `data` through `w` and reads it back through `r` on another thread, reading with
/// buffers of the sizes in `reads` in turn: what arrived, and how the stream ended.
fn carry(
    mut w: TlsWriter,
    mut r: TlsReader,
    data: &[u8],
    reads: &'static [usize],
) -> (Vec<u8>, std::io::Result<usize>) {
    let reading = thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; reads.iter().copied().max().unwrap()];
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut i = 0;
        loop {
            assert!(Instant::now() < deadline, "stuck reading after {} bytes", got.len());
            let size = reads[i % reads.len()];
            i += 1;
            match r.read_some(&mut buf[..size]) {
                Ok(0) => return (got, Ok(0)),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if halves_timeout(&e) => {}
                Err(e) => return (got, Err(e)),
            }
        }
    });
    write_all(&mut w, data);
    w.finish();
    reading.join().unwrap()
}

/// A client context whose provider offers only `suite` (the server picks from what is offered).
fn offering_only(suite: rustls::SupportedCipherSuite) -> TlsContext {
    let mut c = ctx();
    let mut provider = (*crypto_provider()).clone();
    provider.cipher_suites = vec![suite];
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerCertVerifier::any()))
        .with_client_cert_resolver(Arc::new(OwnKey(c.key.clone())));
    config.enable_sni = false;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.resumption = Resumption::disabled();
    config.enable_secret_extraction = true;
    c.client = Arc::new(config);
    c
}

#[test]
fn every_cipher_suite_carries_data_both_ways() {
    use rustls::crypto::ring::cipher_suite::*;
    let server = ctx();
    for (suite, name) in [
        (TLS13_AES_128_GCM_SHA256, "TLS13_AES_128_GCM_SHA256"),
        (TLS13_AES_256_GCM_SHA384, "TLS13_AES_256_GCM_SHA384"),
        (TLS13_CHACHA20_POLY1305_SHA256, "TLS13_CHACHA20_POLY1305_SHA256"),
    ] {
        let (client, accepted) = handshake(&offering_only(suite), &server, None);
        let (client, accepted) = (client.unwrap(), accepted.unwrap());
        assert_eq!((client.cipher_suite.as_str(), accepted.cipher_suite.as_str()), (name, name));
        let up = pattern(1024 * 1024 + 3, 11);
        let down = pattern(300_000, 12);
        let (got, end) = carry(client.writer, accepted.reader, &up, &[200_000]);
        assert!(got == up && end.is_ok(), "{name}: client to server");
        let (got, end) = carry(accepted.writer, client.reader, &down, &[200_000]);
        assert!(got == down && end.is_ok(), "{name}: server to client");
    }
}

/// Both writers update their keys every few records (as they would before the cipher's limit,
/// millions of records in), and both readers follow.
#[test]
fn keys_are_updated_mid_stream_in_both_directions() {
    let (a, b) = (ctx(), ctx());
    let (client, server) = handshake(&a, &b, None);
    let (mut client, mut server) = (client.unwrap(), server.unwrap());
    client.writer.update_keys_after(3);
    server.writer.update_keys_after(5);
    let up = pattern(2 * 1024 * 1024, 21);
    let down = pattern(700_000, 22);
    let (got, end) = carry(client.writer, server.reader, &up, &[100_000]);
    assert!(got == up, "client to server: {} of {} bytes", got.len(), up.len());
    assert_eq!(end.unwrap(), 0);
    let (got, end) = carry(server.writer, client.reader, &down, &[100_000]);
    assert!(got == down, "server to client: {} of {} bytes", got.len(), down.len());
    assert_eq!(end.unwrap(), 0);
}

/// A peer that is rustls' own record layer (as another Ferry build, or LocalSend's, would be):
/// it sends session tickets and a KeyUpdate that asks for one back, then reads what our writer
/// sends across our own key updates, and ends with close_notify.
#[test]
fn a_rustls_peer_sends_tickets_and_key_updates_and_reads_ours() {
    let (server_ctx, client_ctx) = (ctx(), ctx());
    let mut config = (*server_ctx.server).clone();
    config.send_tls13_tickets = 2;
    config.ticketer = rustls::crypto::ring::Ticketer::new().unwrap();
    let (l, addr) = listener();
    let up = pattern(1024 * 1024 + 5, 31);
    let expected = up.clone();
    let peer = thread::spawn(move || {
        let tcp = l.accept().unwrap().0;
        tcp.set_read_timeout(Some(T)).unwrap();
        let mut tls = rustls::StreamOwned::new(ServerConnection::new(Arc::new(config)).unwrap(), tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).unwrap();
        }
        tls.write_all(b"ping").unwrap();
        tls.conn.refresh_traffic_keys().unwrap();
        tls.write_all(b"pong").unwrap();
        tls.flush().unwrap();
        let mut got = vec![0u8; expected.len()];
        tls.read_exact(&mut got).unwrap();
        assert!(got == expected, "rustls read other bytes than were sent");
        let mut rest = Vec::new();
        assert_eq!(tls.read_to_end(&mut rest).unwrap(), 0, "a clean end after the data");
        tls.conn.send_close_notify();
        tls.flush().unwrap();
    });
    let mut client = client_ctx.connect(TcpStream::connect(addr).unwrap(), None, T).unwrap();
    let (got, _, _) = read_until(&mut client.reader, 8);
    assert_eq!(got, b"pingpong");
    assert_eq!(client.reader.tickets_ignored(), 2);
    // The KeyUpdate asked for one back: it goes before this side's next data.
    write_all(&mut client.writer, &up[..1]);
    assert_eq!(client.writer.key_updates(), 1);
    client.writer.update_keys_after(4);
    write_all(&mut client.writer, &up[1..]);
    client.writer.finish();
    let (rest, _, end) = read_until(&mut client.reader, usize::MAX);
    assert!(rest.is_empty());
    assert_eq!(end.unwrap(), 0);
    peer.join().unwrap();
}

/// Bytes that are not a record of this connection: the reader refuses them, the writer tells
/// the other side why (bad_record_mac) and sends nothing more.
#[test]
fn a_forged_record_breaks_the_connection_with_an_alert() {
    let (server_ctx, client_ctx) = (ctx(), ctx());
    let config = server_ctx.server.clone();
    let (l, addr) = listener();
    let peer = thread::spawn(move || {
        let tcp = l.accept().unwrap().0;
        tcp.set_read_timeout(Some(T)).unwrap();
        let mut tls = rustls::StreamOwned::new(ServerConnection::new(config).unwrap(), tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).unwrap();
        }
        tls.write_all(b"genuine").unwrap();
        tls.flush().unwrap();
        // Past rustls, straight onto the socket.
        let mut forged = vec![23, 3, 3, 0, 100];
        forged.extend_from_slice(&pattern(100, 5));
        tls.sock.write_all(&forged).unwrap();
        let mut byte = [0u8; 1];
        tls.read(&mut byte).unwrap_err()
    });
    let mut client = client_ctx.connect(TcpStream::connect(addr).unwrap(), None, T).unwrap();
    let (got, _, end) = read_until(&mut client.reader, usize::MAX);
    assert_eq!(got, b"genuine");
    assert_eq!(end.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    // The same error on every read after it.
    let mut buf = [0u8; 10];
    assert_eq!(client.reader.read_some(&mut buf).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    let refused = client.writer.write_some(&[IoSlice::new(b"more")]).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::InvalidData);
    let heard = peer.join().unwrap();
    let inner = heard.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
    assert_eq!(
        inner,
        Some(&rustls::Error::AlertReceived(rustls::AlertDescription::BadRecordMac)),
        "{heard:?}"
    );
}

/// A relay between client and server that passes the client's bytes on in pieces of the sizes
/// in `pieces` (a pause now and then, so they arrive as separate reads), the server's as they
/// come. The address to connect to instead of `to`'s.
fn chopping_relay(to: std::net::SocketAddr, pieces: &'static [usize]) -> std::net::SocketAddr {
    let (l, addr) = listener();
    thread::spawn(move || {
        let (from_client, _) = l.accept().unwrap();
        let to_server = TcpStream::connect(to).unwrap();
        to_server.set_nodelay(true).unwrap();
        let (mut up_in, mut up_out) = (from_client.try_clone().unwrap(), to_server.try_clone().unwrap());
        let (mut down_in, mut down_out) = (to_server, from_client);
        let up = thread::spawn(move || {
            let mut buf = vec![0u8; pieces.iter().copied().max().unwrap()];
            let mut i = 0;
            loop {
                let want = pieces[i % pieces.len()];
                i += 1;
                match up_in.read(&mut buf[..want]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => up_out.write_all(&buf[..n]).unwrap(),
                }
                if i % 5 == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            let _ = up_out.shutdown(std::net::Shutdown::Write);
        });
        let _ = std::io::copy(&mut down_in, &mut down_out);
        let _ = down_out.shutdown(std::net::Shutdown::Write);
        up.join().unwrap();
    });
    addr
}

/// Records arriving a byte or a few at a time, or in big runs, read with buffers from one byte
/// to 300 KiB (the caller's buffer and the reader's own both in play): nothing lost or changed.
#[test]
fn records_cut_anywhere_and_read_with_any_buffer_lose_nothing() {
    let (a, b) = (ctx(), ctx());
    let (l, server_addr) = listener();
    let relay = chopping_relay(server_addr, &[1, 2, 3, 5, 7, 4000, 16_405, 17_000, 90_000, 1]);
    let b2 = b.clone();
    let accepting = thread::spawn(move || b2.accept(l.accept().unwrap().0, T));
    let client = a.connect(TcpStream::connect(relay).unwrap(), None, T).unwrap();
    let server = accepting.join().unwrap().unwrap();
    let data = pattern(3 * 1024 * 1024 + 1, 41);
    let (got, end) =
        carry(client.writer, server.reader, &data, &[1, 300_000, 13, 70_000, 16_384, 5000, 66_000]);
    assert!(
        got == data,
        "{} of {} bytes, first difference at {:?}",
        got.len(),
        data.len(),
        got.iter().zip(&data).position(|(x, y)| x != y)
    );
    assert_eq!(end.unwrap(), 0);
}

/// A client whose Finished, first data and close_notify leave in one write (rustls' own client
/// does that when data is queued before the handshake ends): the server's handshake reads them
/// together, and its reader hands out the data and then the clean end.
#[test]
fn data_and_close_notify_that_come_with_the_handshake_are_kept() {
    let server = ctx();
    let (l, addr) = listener();
    let s = server.clone();
    let accepting = thread::spawn(move || s.accept(l.accept().unwrap().0, T));
    let id = DeviceIdentity::generate().unwrap();
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PeerCertVerifier::any()))
        .with_client_auth_cert(
            vec![CertificateDer::from(id.cert_der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der().to_vec())),
        )
        .unwrap();
    config.alpn_protocols = vec![ALPN.to_vec()];
    let name = ServerName::try_from("ferry.invalid").unwrap();
    let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(T)).unwrap();
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        if conn.is_handshaking() {
            conn.read_tls(&mut tcp).unwrap();
            conn.process_new_packets().unwrap();
        }
    }
    // The client's Finished is still queued: the data and the end go with it, in one write.
    conn.writer().write_all(b"early words").unwrap();
    conn.send_close_notify();
    let mut flight = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut flight).unwrap();
    }
    tcp.write_all(&flight).unwrap();
    let mut accepted = accepting.join().unwrap().unwrap();
    assert_eq!(accepted.reader.waiting(), 11, "the data came in with the handshake's end");
    let (got, _, end) = read_until(&mut accepted.reader, usize::MAX);
    assert_eq!(got, b"early words");
    assert_eq!(end.unwrap(), 0, "then the clean end");
}
