//! Telling a version-1 Ferry from a network failure, in both directions, without ever speaking
//! plaintext version 1 beyond one refusal.
//!
//! What a version-1 peer does when it meets version 2:
//!
//! * **As a sender** it opens with a plaintext HELLO frame, `00 00 00 LL 01 46 52 52 59 …`,
//!   where a version-2 sender opens with a TLS ClientHello, `16 03 01 …`. The first byte tells
//!   them apart: a version-2 receiver answers `00` with ERROR UnsupportedVersion in version 1's
//!   framing ([`OLDER_PEER_TEXT`]) and closes; the version-1 sender shows its own "update"
//!   message.
//! * **As a receiver** it reads `16 03 01 LL` as a frame length of some 369 million bytes, over
//!   its limit, and hangs up — or, once it follows PROTOCOL.md's rule for malformed frames,
//!   answers a plaintext ERROR frame first. A plaintext frame where a ServerHello should be is
//!   proof enough. A receiver that simply hangs up looks like a network failure, so the sender
//!   asks again on a fresh connection with a plaintext HELLO of purpose Probe: a version-1
//!   receiver answers HELLO (it is old), a version-2 receiver answers ERROR UnsupportedVersion
//!   (it is not old: the first failure was the network's, and is reported as such).
//!
//! The probe HELLO says nothing about this device: zero instance id, no name, port 0.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{AcceptError, ConnectError, Failure, wait_left, write_all_by};
use crate::identity::Fingerprint;
use crate::protocol::frame::{self, decode_frame, peek_header};
use crate::protocol::{
    ErrorCode, Frame, Hello, HelloPurpose, InstanceId, MAX_CONTROL_FRAME, Message, Os, clean_display_name,
};

/// The first byte of a TLS handshake record (and so of every version-2 connection).
pub(super) const TLS_HANDSHAKE: u8 = 0x16;

/// What a version-2 receiver tells a version-1 sender (ERROR UnsupportedVersion), and what a
/// version-2 sender shows when the receiver is version 1.
pub const OLDER_PEER_TEXT: &str =
    "The other computer runs an older Ferry. Update both to the latest version.";

/// What a version-2 receiver tells a plaintext HELLO that announces version 2 or later (a
/// version-2 sender's probe, after its handshake failed).
pub(super) const SPEAKS_TLS_TEXT: &str = "This Ferry speaks version 2, which runs only inside TLS.";

/// How long a refusal waits for the other side to read it and hang up.
const LINGER: Duration = Duration::from_secs(1);

/// The first byte of an incoming connection, waiting until `deadline`.
pub(super) fn first_byte(mut tcp: &TcpStream, deadline: Instant) -> io::Result<u8> {
    let mut b = [0u8; 1];
    loop {
        let left = wait_left(deadline).ok_or(io::ErrorKind::TimedOut)?;
        tcp.set_read_timeout(Some(left))?;
        match tcp.read(&mut b) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => return Ok(b[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads one plaintext version-1 frame that starts with `have` (bytes already read), bounded by
/// the control-frame limit and `deadline`.
fn read_plain_frame(mut tcp: &TcpStream, mut have: Vec<u8>, deadline: Instant) -> Result<Message, ReadPlain> {
    loop {
        match decode_frame(&have) {
            Ok(Some((Frame::Message(m), _))) => return Ok(m),
            Ok(Some((Frame::Data(_), _))) => return Err(ReadPlain::NotFerry),
            Ok(None) => {}
            Err(_) => return Err(ReadPlain::NotFerry),
        }
        if let Ok(Some((_, total))) = peek_header(&have)
            && total > frame::HEADER_LEN + MAX_CONTROL_FRAME
        {
            return Err(ReadPlain::NotFerry);
        }
        let left = wait_left(deadline).ok_or(ReadPlain::TimedOut)?;
        tcp.set_read_timeout(Some(left)).map_err(|_| ReadPlain::Lost)?;
        let mut chunk = [0u8; 4096];
        match tcp.read(&mut chunk) {
            Ok(0) => return Err(ReadPlain::Lost),
            Ok(n) => have.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(ReadPlain::TimedOut);
            }
            Err(_) => return Err(ReadPlain::Lost),
        }
    }
}

#[derive(Debug)]
enum ReadPlain {
    NotFerry,
    TimedOut,
    Lost,
}

/// Sends `msg` as a plaintext frame, says nothing more, and waits (briefly) for the other side
/// to read it and hang up, so that it sees the frame rather than a reset.
fn refuse(tcp: TcpStream, msg: &Message, deadline: Instant) {
    let mut bytes = Vec::new();
    frame::encode_message(msg, &mut bytes);
    let linger = Instant::now() + LINGER;
    if write_all_by(&tcp, &bytes, deadline.max(linger)).is_err() {
        return;
    }
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 4096];
    let mut tcp = tcp;
    while let Some(left) = wait_left(linger) {
        if tcp.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match tcp.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Refuses a connection before any TLS, because this side is handling too many: a plaintext
/// ERROR Overloaded (which a version-1 and a version-2 sender both understand), then close.
pub fn refuse_overloaded(tcp: TcpStream) {
    let msg = Message::Error { code: ErrorCode::Overloaded, message: "Too many transfers at once".into() };
    refuse(tcp, &msg, Instant::now() + LINGER);
}

/// The accepting side saw `first`, which is not a TLS handshake: answer a plaintext HELLO in
/// version 1's framing, close everything else.
pub(super) fn answer_plaintext(first: u8, tcp: TcpStream, deadline: Instant) -> AcceptError {
    if first != 0 {
        // Neither a TLS record nor a frame length (frames are at most 1 MiB: a first byte 0).
        return AcceptError::NotFerry;
    }
    let hello = match read_plain_frame(&tcp, vec![first], deadline) {
        Ok(Message::Hello(h)) => h,
        Ok(_) | Err(ReadPlain::NotFerry) => {
            let msg = Message::Error { code: ErrorCode::Protocol, message: "expected HELLO".into() };
            refuse(tcp, &msg, deadline);
            return AcceptError::NotFerry;
        }
        Err(ReadPlain::TimedOut) => return AcceptError::TimedOut,
        Err(ReadPlain::Lost) => return AcceptError::Lost(io::ErrorKind::UnexpectedEof.into()),
    };
    let text = if hello.version >= 2 { SPEAKS_TLS_TEXT } else { OLDER_PEER_TEXT };
    refuse(tcp, &Message::Error { code: ErrorCode::UnsupportedVersion, message: text.into() }, deadline);
    if hello.version >= 2 {
        AcceptError::PlaintextProbe
    } else {
        AcceptError::OlderPeer { name: clean_display_name(&hello.name), version: hello.version }
    }
}

/// Puts a failed client handshake into words: a plaintext frame where TLS should be means a
/// version-1 receiver (or an overloaded one); a hang-up with nothing said is checked with a
/// plaintext probe before it is called either a network failure or an old Ferry.
pub(super) fn classify_client_failure(
    failure: Failure,
    pin: Option<Fingerprint>,
    seen: &[u8],
    tcp: &TcpStream,
    peer: SocketAddr,
    deadline: Instant,
) -> ConnectError {
    match seen.first() {
        Some(0) => {
            // A frame length: plaintext Ferry. Read the rest of the frame if it is not all in.
            return match read_plain_frame(tcp, seen.to_vec(), deadline) {
                Ok(Message::Error { code: ErrorCode::Overloaded, .. }) => ConnectError::Overloaded,
                Ok(Message::Error { .. } | Message::Hello(_)) => ConnectError::OlderPeer,
                Ok(_) | Err(ReadPlain::NotFerry) => ConnectError::NotFerry,
                Err(ReadPlain::TimedOut) => ConnectError::TimedOut,
                Err(ReadPlain::Lost) => ConnectError::OlderPeer,
            };
        }
        // A TLS record (alert, handshake, change cipher spec, application data): it speaks TLS.
        Some(0x14..=0x17) => {}
        Some(_) => return ConnectError::NotFerry,
        None => {}
    }
    match failure {
        Failure::Tls(e) => ConnectError::from_verifier(e, pin),
        Failure::TimedOut => ConnectError::TimedOut,
        Failure::Eof | Failure::Io(_) if !seen.is_empty() => lost(failure),
        Failure::Eof | Failure::Io(_) => match probe(peer, deadline) {
            Some(Probed::Older) => ConnectError::OlderPeer,
            Some(Probed::Overloaded) => ConnectError::Overloaded,
            Some(Probed::SpeaksTls) | None => lost(failure),
        },
    }
}

fn lost(failure: Failure) -> ConnectError {
    match failure {
        Failure::Io(e) => ConnectError::Lost(e),
        _ => ConnectError::Lost(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the other computer closed the connection during the secure handshake",
        )),
    }
}

/// What the plaintext probe learned.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Probed {
    /// It answered HELLO: plaintext version 1.
    Older,
    /// It answered ERROR UnsupportedVersion: it speaks TLS, so it is not old.
    SpeaksTls,
    Overloaded,
}

/// The plaintext HELLO a version-2 sender probes with after a handshake that was hung up on: it
/// says nothing about this device (zero instance id, no name, port 0).
pub fn probe_hello() -> Message {
    Message::Hello(Hello {
        version: 2,
        purpose: HelloPurpose::Probe,
        instance: InstanceId([0; 16]),
        transfer_port: 0,
        os: Os::Unknown,
        name: String::new(),
        fingerprint: Vec::new(),
    })
}

/// The smallest time a probe gets, even when the handshake used up most of the deadline.
const PROBE_AT_LEAST: Duration = Duration::from_millis(1500);

/// Asks `peer`, on a fresh connection, in plaintext: who are you? `None` when it did not say.
pub(super) fn probe(peer: SocketAddr, deadline: Instant) -> Option<Probed> {
    let deadline = deadline.max(Instant::now() + PROBE_AT_LEAST);
    let tcp = TcpStream::connect_timeout(&peer, wait_left(deadline)?).ok()?;
    let mut bytes = Vec::new();
    frame::encode_message(&probe_hello(), &mut bytes);
    write_all_by(&tcp, &bytes, deadline).ok()?;
    let answer = read_plain_frame(&tcp, Vec::new(), deadline).ok()?;
    let _ = tcp.shutdown(std::net::Shutdown::Both);
    match answer {
        Message::Hello(_) => Some(Probed::Older),
        Message::Error { code: ErrorCode::UnsupportedVersion, .. } => Some(Probed::SpeaksTls),
        Message::Error { code: ErrorCode::Overloaded, .. } => Some(Probed::Overloaded),
        _ => None,
    }
}
