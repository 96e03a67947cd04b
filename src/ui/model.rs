//! The plain data the window shows: chosen files, pending offers, transfers and their status,
//! previews; and the icons that stand for file types and operating systems.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use super::worker::{Measured, WindowWarning};
use crate::engine::{AddFailure, Direction, IncomingOffer, StartError, TransferId, Warning};
use crate::settings::LoadWarning;

/// Which screen is showing (an incoming offer is shown over either).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Main,
    Settings,
}

/// One file or folder chosen for sending.
#[derive(Clone, Debug)]
pub struct Chosen {
    pub path: PathBuf,
    /// The last path component, for display.
    pub name: String,
    /// `None` until the I/O worker has measured it.
    pub measured: Option<Measured>,
}

impl Chosen {
    pub fn bytes(&self) -> u64 {
        match self.measured {
            Some(Measured::File { size }) | Some(Measured::Folder { size, .. }) => size,
            _ => 0,
        }
    }

    pub fn files(&self) -> u64 {
        match self.measured {
            Some(Measured::File { .. }) => 1,
            Some(Measured::Folder { files, .. }) => files,
            _ => 0,
        }
    }

    /// Measured, and there is something in it to send: it goes into the offer. An unreadable
    /// path or an empty folder is left out (the list says why).
    pub fn sendable(&self) -> bool {
        self.files() > 0
    }
}

/// An offer waiting for the person's answer.
#[derive(Clone, Debug)]
pub struct PendingOffer {
    pub offer: IncomingOffer,
    /// One per file: will it be accepted? All true until the person starts choosing.
    pub selected: Vec<bool>,
    /// The person pressed "Choose files…": show a checkbox per file.
    pub choosing: bool,
    /// "Always accept from this device" is ticked: accepting also marks its key so.
    pub always_accept: bool,
    /// A changed device (a known device's name, another key): "Forget the old ‘…’" is ticked, so
    /// accepting also forgets the known devices it looks like (it replaces them: reset, or a new
    /// computer with the old name).
    pub forget_old: bool,
}

impl PendingOffer {
    pub fn selected_count(&self) -> usize {
        self.selected.iter().filter(|s| **s).count()
    }
}

/// Where a transfer stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Outgoing, offered, not yet answered.
    Waiting,
    Running,
    Finished {
        saved: u32,
        total: u32,
    },
    Declined {
        busy: bool,
    },
    Cancelled {
        by_peer: bool,
        /// The app was closed (on whichever side `by_peer` says), not Cancel pressed.
        closed: bool,
    },
    /// The plain-language reason.
    Failed(String),
}

impl Status {
    pub fn is_active(&self) -> bool {
        matches!(self, Status::Waiting | Status::Running)
    }
}

/// One transfer of this session, either way.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub id: TransferId,
    pub direction: Direction,
    pub peer_name: String,
    /// Where to send again ("Try again"); outgoing only.
    pub peer_addr: Option<SocketAddr>,
    /// What was chosen ("Try again"); outgoing only.
    pub paths: Vec<PathBuf>,
    pub files: u32,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub current_file: String,
    /// Bytes per second, as the engine smooths it.
    pub rate: f64,
    pub status: Status,
    /// Files saved so far (incoming), for "Show file" / "Open folder".
    pub saved: Vec<PathBuf>,
    /// When `bytes_done` last moved (or the transfer started running): a transfer that has not
    /// moved for a few seconds says it is waiting instead of showing a stale speed.
    pub last_progress: Instant,
    /// Outgoing: the receiver said it is busy and this side tries again by itself (until the
    /// offer reaches it, or the transfer ends).
    pub busy: bool,
    /// Why received files could not be saved (a full disk ...), from the outcomes.
    pub save_failure: Option<crate::engine::SaveFailure>,
    /// Incoming: files saved under another name than they were sent with (the name was
    /// taken, or made safe), as `(sent as, saved as)`, both relative and `/`-separated.
    pub renamed: Vec<(String, String)>,
    /// Outgoing: a text offer, not files (this text).
    pub text: Option<String>,
    /// Outgoing, first meeting (protocol version 2): the code the receiver's screen shows too,
    /// shown while waiting for the answer.
    pub verification_code: Option<crate::engine::VerificationCode>,
    /// Outgoing: the receiver's handshake proved a key other than a known device's, under a
    /// known device's name (its trust was "changed"): the card says so while waiting.
    pub peer_changed: bool,
}

/// A text that arrived (from a Ferry device's text offer, or a LocalSend app's message): shown
/// with a Copy button until dismissed.
#[derive(Clone, Debug)]
pub struct ReceivedText {
    /// Unique in this session (for the buttons' names and dismissing).
    pub id: u64,
    pub from: String,
    /// Exactly as sent; shown through `text::display`, copied as is.
    pub text: String,
    /// Copy was pressed: the button says so.
    pub copied: bool,
}

/// The "Send text…" box.
#[derive(Clone, Debug, Default)]
pub struct TextBox {
    pub open: bool,
    pub text: String,
}

/// The add-by-address form.
#[derive(Clone, Debug, Default)]
pub struct AddPeerForm {
    pub open: bool,
    pub text: String,
    /// Addresses sent to the engine that have neither worked nor failed yet.
    pub pending: Vec<String>,
    /// The last address that failed, as typed, and why (said in the language of the moment).
    pub error: Option<(String, AddFailure)>,
}

/// One line of the warnings at the top of the window. Kept as data and said when drawn
/// (`Tr::notice`), so a warning reads in the language the person has just switched to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// One of the engine's warnings: an `Event::Warning`, or the same kind met by the window
    /// itself (the store of known devices it shares with the engine could not be read or saved).
    Engine(Warning),
    /// The settings file could not be used.
    Settings(LoadWarning),
    /// From the window's own background work.
    Window(WindowWarning),
    /// The engine could not accept transfers on `addr` (its port taken, most often).
    NotListening { addr: SocketAddr, detail: String },
    /// The engine could not use this device's key for TLS.
    KeyUnusable { detail: String },
    /// A `FERRY_*` variable that could not be used (`EngineConfig::apply_env`). Kept as its
    /// sentence, in English: it is for whoever set the variable (a developer, a script), and it
    /// names the variable and quotes its value.
    Environment(String),
    /// The window speaks Chinese but no font here can draw it: said in English whatever the
    /// language, since Chinese would be drawn as boxes.
    NoChineseFont,
}

impl From<StartError> for Notice {
    fn from(e: StartError) -> Notice {
        match e {
            StartError::Listen { addr, source } => Notice::NotListening { addr, detail: source.to_string() },
            StartError::Identity(detail) => Notice::KeyUnusable { detail },
        }
    }
}

/// A preview image of a chosen or offered file.
pub enum Preview {
    Loading,
    /// Not an image we can show: draw a type icon.
    None,
    Ready(egui::TextureHandle),
}

/// A file's kind guessed from its name, for an icon when there is no preview.
pub fn type_icon(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "heic" | "heif" | "bmp" | "tif" | "tiff" | "raw"
        | "dng" | "cr2" | "cr3" | "nef" | "arw" | "orf" | "rw2" | "raf" | "avif" | "svg" => "🖼",
        "mp4" | "mov" | "avi" | "mkv" | "webm" | "m4v" | "3gp" | "mts" | "m2ts" => "🎞",
        "mp3" | "wav" | "flac" | "ogg" | "m4a" | "aac" => "🎵",
        "zip" | "7z" | "rar" | "tar" | "gz" | "xz" | "bz2" => "📦",
        _ => "📄",
    }
}

/// Whether a name looks like an image we can preview.
pub fn is_previewable(name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    matches!(ext.as_str(), "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" | "tif" | "tiff")
}

/// What the receive folder looks like just now, for the incoming prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveCheck {
    pub dir: PathBuf,
    /// Free bytes, when the system says.
    pub free: Option<u64>,
    /// Why nothing can be saved there (read-only, no permission ...).
    pub problem: Option<super::worker::SaveProblem>,
}

/// An icon for the other device's operating system.
pub fn os_icon(os: crate::protocol::Os) -> &'static str {
    use crate::protocol::Os;
    match os {
        Os::Linux => "🐧",
        Os::Windows => "🖥",
        Os::Macos => "🍎",
        Os::Android => "📱",
        Os::Ios => "📱",
        Os::Bsd => "😈",
        Os::Unknown => "💻",
    }
}

/// The icon of a LocalSend device's type (glyphs egui's own fonts have).
pub fn device_type_icon(t: crate::events::DeviceType) -> &'static str {
    use crate::events::DeviceType;
    match t {
        DeviceType::Mobile => "📱",
        DeviceType::Desktop => "🖥",
        DeviceType::Web => "🌐",
        DeviceType::Headless => "⌨",
        DeviceType::Server => "🗄",
    }
}

/// Extensions of photos and videos as cameras and phones name them, for the "Photos and videos"
/// filter of the file dialog (matched in any case; see [`with_case_variants`]).
pub const PHOTO_AND_VIDEO_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "png", "heic", "heif", "avif", "webp", "gif", "tif", "tiff", "bmp", "raw", "dng",
    "cr2", "cr3", "nef", "nrw", "arw", "srf", "sr2", "orf", "rw2", "raf", "pef", "srw", "x3f", "mp4", "mov",
    "m4v", "avi", "mkv", "webm", "3gp", "3g2", "mts", "m2ts", "mpg", "mpeg", "wmv", "hevc",
];

/// Each extension as written, in upper case and capitalised: file dialogs match filters case by
/// case (`IMG_0001.JPG` is not `*.jpg` to GTK or zenity).
pub fn with_case_variants(extensions: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(extensions.len() * 3);
    for ext in extensions {
        let lower = ext.to_ascii_lowercase();
        let upper = ext.to_ascii_uppercase();
        let mut capital = lower.clone();
        capital[..1].make_ascii_uppercase();
        for variant in [lower, upper, capital] {
            if !out.contains(&variant) {
                out.push(variant);
            }
        }
    }
    out
}
