//! The vocabulary every layer shares: the [`Event`]s that transfers, discovery and the engine
//! report, and the types they carry (peers, transfers, outcomes, errors), plus the [`Timing`]
//! they all run by. It sits below `discovery`, `transfer` and `engine` so that each of them can
//! use it and none has to import another's types: the arrows point one way.
//!
//! Front ends see these through [`crate::engine`], which re-exports them next to its
//! [`crate::engine::Command`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::protocol::{CancelReason, FileResult, InstanceId, Os};

/// Names one transfer, outgoing or incoming, for the life of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct TransferId(pub u64);

impl TransferId {
    /// A fresh id, unique in this process.
    pub fn next() -> TransferId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TransferId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl std::fmt::Display for TransferId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Outgoing,
    Incoming,
}

/// How we came to know a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerSource {
    /// Heard its broadcast (or its reply to ours).
    Discovered,
    /// Added by address and confirmed with a direct hello.
    Manual,
    /// A LocalSend app (a phone, mostly) found by LocalSend's own discovery; files go to it over
    /// LocalSend's protocol. Shown with a "LocalSend" mark and an icon for its device type.
    LocalSend(DeviceType),
}

/// What kind of device a LocalSend app runs on, as it says (only for an icon). An unknown or
/// missing type is [`DeviceType::Desktop`], as LocalSend itself does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    /// A phone or tablet.
    Mobile,
    #[default]
    Desktop,
    /// LocalSend in a web browser.
    Web,
    /// A program without a window (a command-line LocalSend).
    Headless,
    /// A self-hosted service running all the time.
    Server,
}

/// Another Ferry device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Peer {
    pub instance: InstanceId,
    /// Cleaned for display: no control or bidi characters, at most 64 characters.
    pub name: String,
    pub os: Os,
    /// Where it accepts transfers.
    pub addr: SocketAddr,
    pub source: PeerSource,
}

/// The other side of a transfer, as it introduced itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PeerInfo {
    pub instance: InstanceId,
    pub name: String,
    pub os: Os,
    pub addr: SocketAddr,
}

/// One file of an incoming offer, as the sender described it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OfferedFile {
    /// The relative path the sender gave, `/`-separated, for display (it is made safe only when
    /// saved).
    pub path: String,
    pub size: u64,
    /// A small JPEG, or empty.
    #[serde(skip)]
    pub thumbnail: Vec<u8>,
}

/// A batch someone wants to send us; the engine's `Command::Answer` answers it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IncomingOffer {
    pub transfer: TransferId,
    pub from: PeerInfo,
    pub files: Vec<OfferedFile>,
    pub total_bytes: u64,
}

/// The person's answer to an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    AcceptAll,
    /// Only these files, by their index in the offer.
    AcceptSome(Vec<u32>),
    Decline,
}

/// What became of one file of a finished batch.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileOutcome {
    pub index: u32,
    pub path: String,
    pub size: u64,
    pub result: FileResult,
    /// Where it was saved (receiving side, when saved).
    pub saved_as: Option<PathBuf>,
}

/// Why a transfer failed, in words a person understands (`Display`), with the technical detail
/// kept apart for logs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum TransferError {
    #[error(
        "Couldn't reach the other computer. Make sure Ferry is open there and that both computers are on the same network."
    )]
    Unreachable(String),
    #[error("The other computer stopped responding. Nothing unfinished was saved.")]
    TimedOut,
    #[error("The connection was lost. Nothing unfinished was saved.")]
    ConnectionLost(String),
    #[error(
        "The other computer runs a version of Ferry that cannot talk to this one. Update both to the latest version."
    )]
    IncompatibleVersion,
    #[error("The other computer sent something Ferry doesn't understand, so the transfer was stopped.")]
    Protocol(String),
    #[error("The other computer is too busy right now. Try again in a moment.")]
    PeerOverloaded,
    #[error("Couldn't read {path}: {reason}")]
    SourceUnreadable { path: String, reason: String },
    #[error("There is nothing to send in what you chose.")]
    NothingToSend,
    #[error("Too many files at once: {count}. Ferry sends at most {max} in one go.")]
    TooManyFiles { count: u64, max: u32 },
    #[error("Couldn't save into the receive folder: {0}")]
    ReceiveFolder(String),
    #[error("Not enough free space in the receive folder: {needed} bytes needed, {available} available.")]
    DiskFull { needed: u64, available: u64 },
    #[error("Something went wrong on the other computer: {0}")]
    PeerError(String),
    /// A LocalSend device could not be reached.
    #[error(
        "Couldn't reach the other device. Make sure LocalSend is open there and that both devices are on the same network."
    )]
    LocalSendUnreachable(String),
    /// The device at a LocalSend peer's address showed another certificate than the one it
    /// announced: someone else is answering there.
    #[error(
        "The device at that address is not the one that announced itself there (its certificate is different), so nothing was sent."
    )]
    WrongDevice,
    /// The LocalSend receiver wants a PIN.
    #[error(
        "The other device asks for a PIN, which Ferry can't send yet. Turn off “Require PIN” in LocalSend's settings there and try again."
    )]
    PinRequired,
}

/// Everything the engine tells its front end. After each event the engine calls the waker.
/// (Serialized for `--json`: `{"event": "transfer_finished", "data": {...}}`.)
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum Event {
    /// The engine is accepting transfers at `transfer_addr`; `discovery` says whether broadcast
    /// discovery could start.
    Ready {
        transfer_addr: SocketAddr,
        discovery: bool,
    },
    /// Something the person should know that is not tied to a transfer (discovery unavailable,
    /// settings could not be saved ...).
    Warning(String),
    PeerSeen(Peer),
    PeerUpdated(Peer),
    PeerLost(InstanceId),
    /// Adding a peer by address did not work.
    PeerAddFailed {
        address: String,
        reason: String,
    },
    /// Someone wants to send us files; answer with the engine's `Command::Answer`.
    IncomingOffer(IncomingOffer),
    /// A text message arrived (LocalSend phones can send text as well as files). Nothing is
    /// saved and nothing needs an answer; the window shows it with a Copy button. `text` is
    /// exactly what was sent (at most 1 MiB): show it through `text::display`, copy it as is.
    TextReceived {
        from: PeerInfo,
        text: String,
    },
    /// A transfer began: outgoing as soon as it is requested (while waiting for the other side's
    /// answer), incoming once the offer is accepted.
    TransferStarted {
        transfer: TransferId,
        direction: Direction,
        peer: PeerInfo,
        files: Vec<OfferedFile>,
        total_bytes: u64,
    },
    /// The other side accepted (outgoing); `bytes_total` counts only the accepted files.
    TransferAccepted {
        transfer: TransferId,
        files: u32,
        bytes_total: u64,
    },
    /// At most about 20 a second per transfer.
    Progress {
        transfer: TransferId,
        bytes_done: u64,
        bytes_total: u64,
        current_file: String,
        /// Bytes per second, smoothed.
        rate: f64,
    },
    FileDone {
        transfer: TransferId,
        outcome: FileOutcome,
    },
    /// The batch is over; `files` has one entry per offered file.
    TransferFinished {
        transfer: TransferId,
        files: Vec<FileOutcome>,
    },
    /// The receiver said no (`busy`: it could not take a batch now).
    TransferDeclined {
        transfer: TransferId,
        busy: bool,
    },
    /// Someone pressed Cancel, or an app was closed: this side (`by_peer == false`) or the
    /// other. `reason` says which: `user` (Cancel pressed) or `shutdown` (the app was closed).
    TransferCancelled {
        transfer: TransferId,
        by_peer: bool,
        reason: CancelReason,
    },
    TransferFailed {
        transfer: TransferId,
        error: TransferError,
    },
    /// The engine has shut down; no events follow.
    Stopped,
}

/// Called after every event so a window can repaint without polling.
pub type Waker = std::sync::Arc<dyn Fn() + Send + Sync>;

/// Every period and deadline the engine keeps; tests shorten them.
#[derive(Clone, Debug)]
pub struct Timing {
    /// Announce ourselves this often (with ±20 % jitter so nodes started together spread out).
    pub announce_interval: Duration,
    /// A peer not heard from for this long leaves the table (about three announce periods).
    pub peer_timeout: Duration,
    /// HELLO and OFFER must be exchanged within this.
    pub handshake_timeout: Duration,
    /// A connection with no progress for this long is dropped.
    pub idle_timeout: Duration,
    /// While a side waits (for a person's answer, say), it sends a KEEPALIVE this often.
    pub keepalive_interval: Duration,
    /// Most connections handled at once, incoming; more are refused.
    pub max_incoming: usize,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            announce_interval: Duration::from_secs(2),
            peer_timeout: Duration::from_millis(6500),
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(5),
            max_incoming: 16,
        }
    }
}
