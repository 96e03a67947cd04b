//! The opening of a version-2 connection, once TLS has proved both keys (PROTOCOL.md §4): HELLO
//! both ways, each naming the key its side proved, and the verification exchange that yields the
//! code both screens show when either side has not met the other's key before.
//!
//! ```text
//! S→R HELLO, VERIFY_COMMIT
//!                     R→S HELLO, VERIFY_NONCE
//! S→R VERIFY_REVEAL, OFFER, OFFER_FILE × n        (the REVEAL is only queued here)
//! ```
//!
//! The whole opening, TLS included, must be done by the handshake deadline its caller passes.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::connection::{ConnError, FrameReader, FrameWriter, set_idle_limit, split_secured};
use super::tls::{ConnectError, Secured};
use super::{Ctx, Stop, conn_stop, lost, peer_error, protocol, write_stop};
use crate::events::TransferError;
use crate::identity::Fingerprint;
use crate::identity::known::Sighting;
use crate::protocol::sas::{self, HelloError, ReceiverSas, ReceiverStep, SasError, SenderSas, Verified};
use crate::protocol::{ErrorCode, Frame, Hello, HelloPurpose, Message};

/// A connection whose TLS handshake is done: its framed halves and the key it proved.
pub(super) struct Opened {
    pub reader: FrameReader,
    pub writer: FrameWriter,
    pub peer: Fingerprint,
}

/// Runs the client side of TLS on `tcp` (pinned to `pin` when given) by `deadline`.
pub(super) fn connect(
    ctx: &Ctx,
    tcp: TcpStream,
    pin: Option<Fingerprint>,
    deadline: Instant,
) -> Result<Opened, TransferError> {
    set_idle_limit(&tcp, ctx.timing.idle_timeout);
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let secured = ctx.tls.connect(tcp, pin, left).map_err(connect_error)?;
    opened(secured, ctx.timing.idle_timeout).map_err(lost)
}

/// Runs the server side of TLS on `tcp`; `Err` when it did not become a version-2 connection
/// (the caller decides what, if anything, the person hears of it).
pub(super) fn accept(
    ctx: &Ctx,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<Opened, super::tls::AcceptError> {
    set_idle_limit(&tcp, ctx.timing.idle_timeout);
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let secured = ctx.tls.accept(tcp, left)?;
    opened(secured, ctx.timing.idle_timeout).map_err(super::tls::AcceptError::Lost)
}

fn opened(secured: Secured, idle: Duration) -> std::io::Result<Opened> {
    let peer = secured.peer;
    let (reader, writer) = split_secured(secured, idle)?;
    Ok(Opened { reader, writer, peer })
}

/// What a failed TLS connect means to the person (PROTOCOL.md §7.2).
pub fn connect_error(e: ConnectError) -> TransferError {
    match e {
        ConnectError::OlderPeer => TransferError::OlderPeer,
        ConnectError::NoCommonVersion => TransferError::IncompatibleVersion,
        ConnectError::Overloaded => TransferError::PeerOverloaded,
        ConnectError::NotTheExpectedKey { .. } => TransferError::NotTheExpectedDevice,
        ConnectError::NotProven(_) => TransferError::NotProven,
        ConnectError::Tls(e) => TransferError::Protocol(format!("TLS: {e}")),
        ConnectError::NotFerry => TransferError::Unreachable("something other than Ferry answered".into()),
        ConnectError::TimedOut => TransferError::TimedOut,
        ConnectError::Lost(e) => TransferError::ConnectionLost(e.to_string()),
    }
}

/// A HELLO inside TLS that does not check out: told with ERROR, and the connection ends.
fn hello_stop(e: HelloError) -> Stop {
    match e {
        HelloError::OldVersion(_) => {
            Stop::Tell(ErrorCode::UnsupportedVersion, TransferError::IncompatibleVersion)
        }
        HelloError::NotTheProvenKey => {
            Stop::Tell(ErrorCode::Protocol, TransferError::VerificationFailed(e.to_string()))
        }
    }
}

/// A revealed nonce that does not match its commitment fails the check; a frame out of its
/// turn is a plain protocol error. Either way no code is shown.
fn sas_stop(e: SasError) -> Stop {
    match e {
        SasError::CommitmentMismatch => {
            Stop::Tell(ErrorCode::Protocol, TransferError::VerificationFailed(e.to_string()))
        }
        SasError::OutOfOrder(what) => protocol(what),
    }
}

/// The next control message by `deadline`; ERROR and CANCEL end the opening with what they say;
/// DATA is a protocol error. Nothing is skipped: before the offer even KEEPALIVE is out of place.
fn next_message(ctx: &Ctx, reader: &mut FrameReader, deadline: Instant, what: &str) -> Result<Message, Stop> {
    loop {
        if let Some(reason) = ctx.cancel.requested() {
            return Err(Stop::Cancelled(reason));
        }
        if Instant::now() >= deadline {
            return Err(TransferError::TimedOut.into());
        }
        match reader.poll_frame() {
            Ok(None) => {}
            Ok(Some(Frame::Message(Message::Error { code, message }))) => {
                return Err(peer_error(code, message));
            }
            Ok(Some(Frame::Message(Message::Cancel(reason)))) => return Err(Stop::PeerCancelled(reason)),
            Ok(Some(Frame::Message(m))) => return Ok(m),
            Ok(Some(Frame::Data(_))) => return Err(protocol(format!("file data where {what} was due"))),
            Err(e @ ConnError::Closed) => {
                return Err(Stop::Failed(TransferError::ConnectionLost(format!("{e} before {what}"))));
            }
            Err(e) => return Err(conn_stop(e)),
        }
    }
}

/// Sender: HELLO + VERIFY_COMMIT, then the receiver's HELLO and VERIFY_NONCE. The
/// VERIFY_REVEAL is left queued on `writer`, to go out with the OFFER.
pub(super) fn as_sender(ctx: &Ctx, conn: &mut Opened, deadline: Instant) -> Result<(Hello, Verified), Stop> {
    let knows = ctx.known.lock().expect("known devices").get(&conn.peer).is_some();
    let (mut sas, commit) = SenderSas::start(ctx.me.fingerprint.0, conn.peer.0, knows, sas::random_nonce());
    conn.writer.queue(&ctx.me.hello(HelloPurpose::Transfer));
    conn.writer.send(&commit).map_err(|e| write_stop(ctx, e))?;
    let hello = match next_message(ctx, &mut conn.reader, deadline, "HELLO")? {
        Message::Hello(h) => h,
        other => return Err(protocol(format!("expected HELLO, got {:?}", other.frame_type()))),
    };
    sas::check_hello(&hello, &conn.peer.0).map_err(hello_stop)?;
    let nonce = next_message(ctx, &mut conn.reader, deadline, "VERIFY_NONCE")?;
    let (reveal, verified) = sas.on_message(&nonce).map_err(sas_stop)?;
    conn.writer.queue(&reveal);
    Ok((hello, verified))
}

/// Receiver: the sender's HELLO, then (Transfer) the verification exchange. `Ok(None)` for a
/// probe, answered with our HELLO and closed.
pub(super) fn as_receiver(
    ctx: &Ctx,
    conn: &mut Opened,
    deadline: Instant,
) -> Result<Option<(Hello, Verified)>, Stop> {
    let hello = match next_message(ctx, &mut conn.reader, deadline, "HELLO")? {
        Message::Hello(h) => h,
        other => return Err(protocol(format!("expected HELLO, got {:?}", other.frame_type()))),
    };
    sas::check_hello(&hello, &conn.peer.0).map_err(hello_stop)?;
    if hello.purpose == HelloPurpose::Probe {
        conn.writer.send(&ctx.me.hello(HelloPurpose::Probe)).map_err(|e| write_stop(ctx, e))?;
        conn.writer.finish();
        conn.reader.drain(Duration::from_millis(500));
        return Ok(None);
    }
    // At once (PROTOCOL.md §4.5): the sender has sent its COMMIT already, or will.
    conn.writer.send(&ctx.me.hello(hello.purpose)).map_err(|e| write_stop(ctx, e))?;
    let knows = ctx.known.lock().expect("known devices").get(&conn.peer).is_some();
    let mut sas = ReceiverSas::new(conn.peer.0, ctx.me.fingerprint.0, knows, sas::random_nonce());
    let commit = next_message(ctx, &mut conn.reader, deadline, "VERIFY_COMMIT")?;
    let ReceiverStep::Reply(nonce) = sas.on_message(&commit).map_err(sas_stop)? else {
        return Err(protocol("the verification exchange ended early"));
    };
    conn.writer.send(&nonce).map_err(|e| write_stop(ctx, e))?;
    let reveal = next_message(ctx, &mut conn.reader, deadline, "VERIFY_REVEAL")?;
    match sas.on_message(&reveal).map_err(sas_stop)? {
        ReceiverStep::Verified(v) => Ok(Some((hello, v))),
        ReceiverStep::Reply(_) => Err(protocol("the verification exchange did not end")),
    }
}

/// Remembers a device met on a transfer (an accepted offer, a completed transfer). A store that
/// cannot be saved keeps it for this run; that is not worth failing a transfer over.
pub(super) fn remember(
    ctx: &Ctx,
    fingerprint: Fingerprint,
    name: &str,
    address: Option<std::net::SocketAddr>,
) {
    let sighting = Sighting { fingerprint, name, address };
    let _ = ctx.known.lock().expect("known devices").remember(&sighting);
}
