//! Sending and receiving one batch of files over one TLS connection.
//!
//! * [`connection`] — framed reads and writes on a connection's halves (inside TLS), with
//!   timeouts that lose nothing.
//! * [`tls`] — protocol version 2's transport: TLS 1.3, both device keys proven.
//! * `opening` — what follows the TLS handshake: HELLO both ways (each naming the key TLS proved)
//!   and the verification exchange whose code both screens show at a first meeting.
//! * [`send`] — walks what the person chose, offers it, streams the accepted files.
//! * [`receive`] — answers HELLO, shows the offer, writes accepted files safely.
//! * [`names`] — untrusted names become safe path components or are refused.
//! * [`store`] — temporary files that get their final name only once checked, never overwriting.
//! * `reading` — reads and hashes the files to send on a thread of its own, ahead of the socket.
//! * `finish` — flushes and names checked files in batches on a thread of its own, so thousands
//!   of small files do not wait for the disk one by one.
//!
//! Both directions report through [`Ctx`]: events go out through its emitter, and its cancel flag
//! is looked at between frames (at least every [`connection::POLL`]).

pub mod connection;
mod finish;
pub mod names;
mod opening;
mod reading;
pub mod receive;
pub mod send;
pub mod store;
pub mod tls;

pub use reading::{CACHE_LINE, line_start};

use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::events::{Event, FileOutcome, Timing, TransferError, TransferId};
use crate::identity::known::KnownDevices;
use crate::protocol::{CancelReason, ErrorCode, InstanceId, Message, Os, PROTOCOL_VERSION};
use connection::{ConnError, FrameWriter};

/// Who we are, as said in HELLO.
#[derive(Clone, Debug)]
pub struct Identity {
    pub instance: InstanceId,
    pub name: String,
    pub os: Os,
    pub transfer_port: u16,
    /// This device's key, as HELLO names it (and TLS proves it).
    pub fingerprint: crate::identity::Fingerprint,
}

impl Identity {
    pub fn hello(&self, purpose: crate::protocol::HelloPurpose) -> crate::protocol::Message {
        crate::protocol::Message::Hello(crate::protocol::Hello {
            version: PROTOCOL_VERSION,
            purpose,
            instance: self.instance,
            transfer_port: self.transfer_port,
            os: self.os,
            name: self.name.clone(),
            fingerprint: self.fingerprint.0.to_vec(),
        })
    }
}

/// A cancel request shared between the engine and one transfer's threads.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicU8>);

impl Cancel {
    pub fn request(&self, reason: CancelReason) {
        let _ = self.0.compare_exchange(0, reason as u8, Ordering::SeqCst, Ordering::SeqCst);
    }

    pub fn requested(&self) -> Option<CancelReason> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            2 => Some(CancelReason::Shutdown),
            _ => Some(CancelReason::User),
        }
    }
}

/// Where a transfer's events go.
pub type Emit = Arc<dyn Fn(Event) + Send + Sync>;

/// Everything one transfer needs from the engine.
#[derive(Clone)]
pub struct Ctx {
    pub id: TransferId,
    pub cancel: Cancel,
    pub emit: Emit,
    pub timing: Timing,
    pub me: Identity,
    /// This device's TLS settings (its certificate), made once by the engine.
    pub tls: tls::TlsContext,
    /// The devices met before: the trust decision, and where a meeting is remembered.
    pub known: Arc<Mutex<KnownDevices>>,
}

/// How a transfer ended; turned into exactly one final event by [`Ctx::end`].
#[derive(Debug)]
pub enum End {
    Finished(Vec<FileOutcome>),
    Declined { busy: bool },
    Cancelled { by_peer: bool, reason: CancelReason },
    Failed(TransferError),
}

impl Ctx {
    pub fn end(&self, end: End) {
        let transfer = self.id;
        (self.emit)(match end {
            End::Finished(files) => Event::TransferFinished { transfer, files },
            End::Declined { busy } => Event::TransferDeclined { transfer, busy },
            End::Cancelled { by_peer, reason } => Event::TransferCancelled { transfer, by_peer, reason },
            End::Failed(error) => Event::TransferFailed { transfer, error },
        });
    }
}

/// Counts bytes and emits progress at most every 50 ms (about 20 a second), with a smoothed rate.
pub struct Meter {
    total: u64,
    done: u64,
    current: String,
    last_emit: Instant,
    window_start: Instant,
    window_bytes: u64,
    rate: f64,
}

const PROGRESS_EVERY: Duration = Duration::from_millis(50);

impl Meter {
    pub fn new(total: u64) -> Meter {
        let now = Instant::now();
        Meter {
            total,
            done: 0,
            current: String::new(),
            last_emit: now - PROGRESS_EVERY,
            window_start: now,
            window_bytes: 0,
            rate: 0.0,
        }
    }

    pub fn set_file(&mut self, name: &str) {
        self.current.clear();
        self.current.push_str(name);
    }

    pub fn add(&mut self, n: u64, ctx: &Ctx) {
        self.done += n;
        self.window_bytes += n;
        let now = Instant::now();
        if now.duration_since(self.last_emit) >= PROGRESS_EVERY {
            self.emit(ctx, now);
        }
    }

    /// Emits now whatever the clock says: once, when everything was sent or received. (Not at
    /// the end of every file: a folder of small photos ended thousands of files a second, and
    /// every event wakes the front end — more than it can show, and processor time the
    /// transfer needed. Files report their end with their own event.)
    pub fn flush(&mut self, ctx: &Ctx) {
        self.emit(ctx, Instant::now());
    }

    fn emit(&mut self, ctx: &Ctx, now: Instant) {
        let window = now.duration_since(self.window_start).as_secs_f64();
        if window >= 0.25 {
            let instant = self.window_bytes as f64 / window;
            self.rate = if self.rate == 0.0 { instant } else { 0.7 * self.rate + 0.3 * instant };
            self.window_start = now;
            self.window_bytes = 0;
        }
        self.last_emit = now;
        (ctx.emit)(Event::Progress {
            transfer: ctx.id,
            bytes_done: self.done,
            bytes_total: self.total,
            current_file: self.current.clone(),
            rate: self.rate,
        });
    }
}

/// A write failed: because a cancel cut it short (then that is what happened), or because the
/// connection broke.
fn write_stop(ctx: &Ctx, e: io::Error) -> Stop {
    match ctx.cancel.requested() {
        Some(reason) => Stop::Cancelled(reason),
        None => Stop::Failed(lost(e)),
    }
}

/// Why a transfer stopped before its natural end, inside `send` and `receive`, and so what the
/// last words on the connection are (PROTOCOL.md §6: CANCEL, or ERROR before the close).
enum Stop {
    /// This side cancels (a person pressed Cancel, or the app is closing): CANCEL is sent.
    Cancelled(CancelReason),
    /// The other side sent CANCEL, for this reason.
    PeerCancelled(CancelReason),
    /// This side stops and tells the other one why with ERROR `code`: it broke the protocol
    /// (`Protocol`), speaks no version this side does (`UnsupportedVersion`), or something
    /// failed here (`Internal`).
    Tell(ErrorCode, TransferError),
    /// The connection broke or timed out, or the other side ended it with ERROR: nothing more
    /// is said.
    Failed(TransferError),
}

impl From<TransferError> for Stop {
    fn from(e: TransferError) -> Self {
        Stop::Failed(e)
    }
}

impl Stop {
    /// Says what this stop calls for (CANCEL, ERROR, or nothing) and closes the writing half.
    /// Returns whether something was said: then the caller reads and discards for a moment
    /// ([`LINGER`]), so the other side sees the words instead of a reset connection.
    fn last_words(&self, writer: &mut FrameWriter) -> bool {
        let words = match self {
            Stop::Cancelled(reason) => Some(Message::Cancel(*reason)),
            Stop::Tell(code, error) => Some(Message::Error { code: *code, message: error_text(error) }),
            Stop::PeerCancelled(_) | Stop::Failed(_) => None,
        };
        let said = words.is_some_and(|m| writer.send_last(&m).is_ok());
        writer.finish();
        said
    }

    /// The event this stop ends the transfer with.
    fn into_end(self) -> End {
        match self {
            Stop::Cancelled(reason) => End::Cancelled { by_peer: false, reason },
            Stop::PeerCancelled(reason) => End::Cancelled { by_peer: true, reason },
            Stop::Tell(_, error) | Stop::Failed(error) => End::Failed(error),
        }
    }
}

/// How long a side that said its last words keeps reading (and discarding) before it closes.
const LINGER: Duration = Duration::from_secs(1);

/// The text of an ERROR this side sends: the technical detail for a protocol error, the
/// sentence otherwise.
fn error_text(error: &TransferError) -> String {
    match error {
        TransferError::Protocol(detail) => detail.clone(),
        TransferError::IncompatibleVersion => format!("this side speaks protocol version {PROTOCOL_VERSION}"),
        other => other.to_string(),
    }
}

/// The other side broke the rules: `what` says how; it is told so with ERROR Protocol.
fn protocol(what: impl Into<String>) -> Stop {
    Stop::Tell(ErrorCode::Protocol, TransferError::Protocol(what.into()))
}

fn lost(e: io::Error) -> TransferError {
    if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) {
        TransferError::TimedOut
    } else {
        TransferError::ConnectionLost(e.to_string())
    }
}

/// A read failed: a bad frame is the other side's protocol error (it is told); anything else
/// is a lost connection.
fn conn_stop(e: ConnError) -> Stop {
    match e {
        ConnError::Decode(d) => protocol(d.to_string()),
        ConnError::Io(e) => Stop::Failed(lost(e)),
        ConnError::Closed | ConnError::Truncated => {
            Stop::Failed(TransferError::ConnectionLost(e.to_string()))
        }
    }
}

/// What the other side's ERROR frame means here. (It is never answered: it was the other
/// side's last word.)
fn peer_error(code: ErrorCode, message: String) -> Stop {
    Stop::Failed(match code {
        ErrorCode::UnsupportedVersion => TransferError::IncompatibleVersion,
        ErrorCode::Overloaded => TransferError::PeerOverloaded,
        ErrorCode::Protocol => TransferError::RejectedByPeer(message),
        ErrorCode::Internal => TransferError::PeerError(message),
    })
}
