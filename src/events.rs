//! The vocabulary every layer shares: the [`Event`]s that transfers, discovery and the engine
//! report, and the types they carry (peers, transfers, outcomes, errors, [`Warning`]s), plus the
//! [`Timing`] they all run by. It sits below `discovery`, `transfer` and `engine` so that each of them can
//! use it and none has to import another's types: the arrows point one way.
//!
//! Front ends see these through [`crate::engine`], which re-exports them next to its
//! [`crate::engine::Command`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use crate::identity::Fingerprint;
pub use crate::identity::known::Trust;
pub use crate::protocol::sas::VerificationCode;
use crate::protocol::{CancelReason, FileResult, InstanceId, Os};
use crate::text::display;

mod warning;
pub use warning::{AddFailure, Warning};

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
    /// Its key, as far as known before a connection proves it: the hint in its discovery
    /// datagram, or the key a probe's handshake proved. `None` for a peer that gave none.
    pub fingerprint: Option<Fingerprint>,
    /// What (name, fingerprint) is to this device. Without a fingerprint it is never
    /// [`Trust::Known`], and it is [`Trust::Changed`] when its name looks like a known device's
    /// (`identity::known::trust_of`).
    pub trust: Trust,
}

/// The other side of a transfer, as it introduced itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PeerInfo {
    pub instance: InstanceId,
    pub name: String,
    pub os: Os,
    pub addr: SocketAddr,
    /// The key its connection proved (protocol version 2; a LocalSend sender's client
    /// certificate). `None` when nothing proved one (a LocalSend sender without a certificate).
    pub fingerprint: Option<Fingerprint>,
    /// What (name, fingerprint) is to this device.
    pub trust: Trust,
}

/// One file of an offer: as the sender described it, and (receiving side) the name it will be
/// stored under.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OfferedFile {
    /// The relative path exactly as the sender gave it, `/`-separated. Untrusted: shown only
    /// through `text::display`. (`offered_name` in JSON.)
    #[serde(rename = "offered_name")]
    pub path: String,
    /// Receiving side: the relative path, `/`-separated, this file will be stored under
    /// (`transfer::names`, PROTOCOL.md §9.1) — before the " (1)" a name gets if it is taken when
    /// the file arrives — or `None` when its name cannot be made safe, so it will not be saved.
    /// Sending side: always `None` (the receiver decides).
    pub saved_name: Option<String>,
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
    /// The six digits to compare with the sender's screen, when either side has not seen the
    /// other's key before (protocol version 2); `None` between known devices.
    pub verification_code: Option<VerificationCode>,
    /// A text offer (PROTOCOL.md §5, OFFER_TEXT) instead of files (`files` is empty): the text
    /// exactly as sent, at most [`crate::protocol::MAX_TEXT_BYTES`]; show it through
    /// `text::display`. Accepting it delivers it as [`Event::TextReceived`]; nothing is saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
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

/// Why received files could not be saved, when the reason is one a person can act on (free
/// some space, choose another receive folder). The receiver reports it for the file where it
/// happened, in that file's FILE_RESULT, as soon as it happens (PROTOCOL.md §6.3); the sender
/// then stops sending. Both sides find it in the batch's outcomes with [`SaveFailure::of_batch`].
/// (`disk_full`, `folder_not_writable`, `folder_gone` in JSON: the same words as the file's
/// `result`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaveFailure {
    /// The receiving disk (or the person's quota there) is full.
    DiskFull,
    /// The receive folder cannot be written to (read-only, no permission).
    FolderNotWritable,
    /// The receive folder, or a folder being saved into, was removed.
    FolderGone,
}

impl SaveFailure {
    /// The reason a file's result gives, if it is one of these.
    pub fn of(result: FileResult) -> Option<SaveFailure> {
        match result {
            FileResult::DiskFull => Some(SaveFailure::DiskFull),
            FileResult::FolderNotWritable => Some(SaveFailure::FolderNotWritable),
            FileResult::FolderGone => Some(SaveFailure::FolderGone),
            _ => None,
        }
    }

    /// The first such reason among a batch's outcomes (the one that stopped it).
    pub fn of_batch(files: &[FileOutcome]) -> Option<SaveFailure> {
        files.iter().find_map(|f| SaveFailure::of(f.result))
    }

    /// The sentence for a person. `receiver` is the receiving device's name (shown through
    /// [`crate::text::display`]), or `None` on the receiving side itself.
    pub fn sentence(self, receiver: Option<&str>) -> String {
        match (self, receiver) {
            (SaveFailure::DiskFull, Some(name)) => {
                format!("{}'s disk is full. Nothing half-saved was kept.", display(name))
            }
            (SaveFailure::DiskFull, None) => {
                "This computer's disk is full. Nothing half-saved was kept.".into()
            }
            (SaveFailure::FolderNotWritable, Some(name)) => {
                format!("The receive folder on {} can't be written to.", display(name))
            }
            (SaveFailure::FolderNotWritable, None) => "The receive folder can't be written to.".into(),
            (SaveFailure::FolderGone, Some(name)) => {
                format!("The receive folder on {} was removed.", display(name))
            }
            (SaveFailure::FolderGone, None) => "The receive folder was removed.".into(),
        }
    }
}

/// Why a transfer failed, in words a person understands (`Display`), with the technical detail
/// kept apart for logs.
///
/// Some variants carry text from the other computer (its ERROR text) or from the disk (a path).
/// `Display` shows every such string through [`crate::text::display`], so wherever the sentence
/// is shown — terminal or window — a control sequence in it is only ever seen as its escape;
/// the serialized form (`--json`) keeps the text exact.
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
    /// The other computer broke the protocol (found here; the detail says how).
    #[error("The other computer sent something Ferry doesn't understand, so the transfer was stopped.")]
    Protocol(String),
    /// The other computer said (ERROR Protocol) that this one broke the protocol; its text.
    #[error(
        "The other computer could not make sense of what this one sent, so the transfer was stopped. Updating Ferry on both computers may help."
    )]
    RejectedByPeer(String),
    #[error("The other computer is too busy right now. Try again in a moment.")]
    PeerOverloaded,
    /// The other computer speaks only protocol version 1 (plaintext): no connection with it.
    #[error("The other computer runs an older Ferry. Update both to the latest version.")]
    OlderPeer,
    /// A device picked by its key answered with another key (the pin failed during the TLS
    /// handshake): someone else is at that address, or the device was reset.
    #[error(
        "This is not the device you chose: it answered with a different key, so nothing was sent. If it was reset, pick it again in the list."
    )]
    NotTheExpectedDevice,
    /// The other computer's certificate did not parse or its handshake signature did not
    /// verify: it did not prove which device it is.
    #[error("The other computer could not prove which device it is, so nothing was sent.")]
    NotProven,
    /// The connection's own checks failed: a HELLO naming another key than the one TLS proved,
    /// or a verification exchange whose revealed nonce does not match its commitment. No code
    /// was shown; the detail says which.
    #[error(
        "The other computer failed the security check, so the transfer was stopped. Someone may be trying to listen in."
    )]
    VerificationFailed(String),
    #[error("Couldn't read {}: {}", display(.path), display(.reason))]
    SourceUnreadable { path: String, reason: String },
    #[error("There is nothing to send in what you chose.")]
    NothingToSend,
    #[error("Too many files at once: {count}. Ferry sends at most {max} in one go.")]
    TooManyFiles { count: u64, max: u32 },
    #[error("Couldn't save into the receive folder: {}", display(.0))]
    ReceiveFolder(String),
    #[error("Not enough free space in the receive folder: {needed} bytes needed, {available} available.")]
    DiskFull { needed: u64, available: u64 },
    #[error("Something went wrong on the other computer: {}", display(.0))]
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
    /// Text longer than a text offer may carry.
    #[error("The text is too long to send: {len} bytes; Ferry sends at most {max} bytes of text at once.")]
    TextTooLong { len: u64, max: u64 },
    /// Text offered with nothing in it.
    #[error("There is no text to send.")]
    NoText,
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
    /// The engine is running and accepting transfers at `transfer_addr` (port 0: it accepts
    /// none, see `EngineConfig::listen`); `discovery` says whether broadcast discovery could
    /// start.
    Ready {
        transfer_addr: SocketAddr,
        discovery: bool,
    },
    /// Something the person should know that is not tied to a transfer (discovery unavailable,
    /// the receive folder could not be made ...). In JSON, its English sentence.
    Warning(Warning),
    PeerSeen(Peer),
    PeerUpdated(Peer),
    PeerLost(InstanceId),
    /// Adding a peer by address did not work.
    PeerAddFailed {
        /// As the person typed it.
        address: String,
        /// In JSON, its English sentence.
        reason: AddFailure,
    },
    /// Someone wants to send us files; answer with the engine's `Command::Answer`.
    IncomingOffer(IncomingOffer),
    /// A text message arrived: from a LocalSend phone (nothing needs an answer), or a Ferry
    /// device's text offer once it was accepted. Nothing is saved; the window shows it with a
    /// Copy button. `text` is exactly what was sent (at most 1 MiB from LocalSend, 16 KiB from
    /// Ferry): show it through `text::display`, copy it as is.
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
    /// Outgoing: who answered, as its handshake proved it (protocol version 2): the name from
    /// its HELLO, the key TLS proved, and what that key is to this device (known, new, or
    /// changed: a known device's name with another key). Comes after `TransferStarted`, whose
    /// peer is only what this side knew before connecting, and before `VerificationCode`.
    TransferPeer {
        transfer: TransferId,
        peer: PeerInfo,
    },
    /// The code the other screen shows (outgoing, protocol version 2, when either side has not
    /// seen the other's key before): shown while waiting for the answer.
    VerificationCode {
        transfer: TransferId,
        code: VerificationCode,
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
    /// An outgoing transfer waits for the other side (see [`WaitReason`]).
    TransferWaiting {
        transfer: TransferId,
        reason: WaitReason,
    },
    /// The receiver said no (`busy`: it could not take a batch now, and kept saying so while
    /// this side tried again).
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

/// Why an outgoing transfer is waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WaitReason {
    /// The other side is busy (too many connections, or it cannot take a batch now). This side
    /// tries again by itself in `retry_in_ms` — this was refusal number `attempt` — for up to
    /// [`Timing::busy_retry_for`] in all, then the transfer fails (or is declined as busy).
    /// A window shows "waiting for Kitchen PC (busy)".
    Busy { retry_in_ms: u64, attempt: u32 },
    /// The offer has reached the other side; a person there is deciding. (Sent after every
    /// connection that got this far, so it also says that a `Busy` wait is over.)
    Answer,
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
    /// Connecting, and each side's HELLO, must be done within this.
    pub handshake_timeout: Duration,
    /// A receiver drops a connection whose whole offer (OFFER and every OFFER_FILE) has not
    /// arrived this long after its HELLO went out; KEEPALIVEs do not extend it.
    pub offer_timeout: Duration,
    /// A sender told "busy" keeps trying again (with growing pauses) for this long.
    pub busy_retry_for: Duration,
    /// A connection with no progress for this long is dropped.
    pub idle_timeout: Duration,
    /// While a side waits (for a person's answer, say), it sends a KEEPALIVE this often.
    pub keepalive_interval: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            announce_interval: Duration::from_secs(2),
            peer_timeout: Duration::from_millis(6500),
            handshake_timeout: Duration::from_secs(5),
            offer_timeout: Duration::from_secs(30),
            busy_retry_for: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(5),
        }
    }
}
