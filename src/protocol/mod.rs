//! The wire format, and nothing else: no sockets, no threads, no files.
//!
//! Two things travel between Ferry nodes:
//!
//! * [`datagram`] — small UDP datagrams that say "I am here" (announce, query, reply, goodbye).
//! * [`frame`] and [`message`] — length-framed messages on one TCP connection per batch of files.
//! * [`sas`] — version 2's verification code: the commit/reveal exchange and the 6 digits.
//!
//! Every decoder here is pure: it looks at a byte slice and answers "a whole item", "not enough bytes
//! yet" or "this is wrong". Every length that comes from the network is checked against the limits
//! below *before* anything is allocated for it. PROTOCOL.md at the repository root is the prose
//! version of this module; the two must agree, and `tests/protocol_vectors.rs` checks the hex
//! examples printed there.

pub mod codec;
pub mod datagram;
pub mod frame;
pub mod message;
pub mod sas;

pub use codec::DecodeError;
pub use datagram::{Datagram, DatagramKind};
pub use frame::{Frame, FrameType};
pub use message::{
    Answer, CancelReason, ErrorCode, FileResult, Hello, HelloPurpose, Message, Offer, OfferFile, SkipReason,
};

/// The protocol version this build speaks. Bumped only for incompatible changes.
pub const PROTOCOL_VERSION: u16 = 2;

/// Four bytes that open every datagram and every HELLO: `FRRY`.
pub const MAGIC: [u8; 4] = *b"FRRY";

/// UDP port for discovery, shared by every Ferry node on the network.
pub const DEFAULT_DISCOVERY_PORT: u16 = 53530;
/// TCP port a node accepts batches on.
pub const DEFAULT_TRANSFER_PORT: u16 = 53531;

/// Largest discovery datagram accepted; anything longer is dropped unread.
pub const MAX_DATAGRAM: usize = 1024;
/// Largest device name on the wire, in bytes (its length is one byte).
pub const MAX_NAME_BYTES: usize = 255;
/// Device names are shown with at most this many characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// Room reserved for a device-key fingerprint (empty in version 1).
pub const MAX_FINGERPRINT: usize = 64;

/// Largest control frame: the length field (type byte + payload) of every frame but DATA.
pub const MAX_CONTROL_FRAME: usize = 64 * 1024;
/// Largest payload of one DATA frame.
pub const MAX_DATA_CHUNK: usize = 1024 * 1024;
/// What a sender puts in one DATA frame: big enough for few syscalls, small enough that a
/// CANCEL queued behind it arrives within a second even on a slow link.
pub const SEND_CHUNK: usize = 256 * 1024;

/// Most files in one batch.
pub const MAX_FILES: u32 = 50_000;
/// Most path components (folders + file name) in one offered path.
pub const MAX_DEPTH: usize = 32;
/// Longest offered relative path, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;
/// Sum of the lengths of all offered paths in one batch.
pub const MAX_OFFER_PATH_BYTES: u64 = 8 * 1024 * 1024;
/// Largest thumbnail of one file (a small JPEG).
pub const MAX_THUMBNAIL: usize = 48 * 1024;
/// Sum of all thumbnails in one batch, so a big offer cannot fill the receiver's memory.
pub const MAX_OFFER_THUMBNAIL_BYTES: u64 = 4 * 1024 * 1024;
/// Longest text in an OFFER_TEXT, in bytes of UTF-8: a link, a password, an address, a few
/// paragraphs; the receiver shows all of it before it answers.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// The operating system a node says it runs, for an icon next to its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Unknown,
    Linux,
    Windows,
    Macos,
    Android,
    Ios,
    Bsd,
}

impl Os {
    /// The OS this binary was built for.
    pub fn current() -> Os {
        match std::env::consts::OS {
            "linux" => Os::Linux,
            "windows" => Os::Windows,
            "macos" => Os::Macos,
            "android" => Os::Android,
            "ios" => Os::Ios,
            "freebsd" | "openbsd" | "netbsd" | "dragonfly" => Os::Bsd,
            _ => Os::Unknown,
        }
    }

    pub fn to_byte(self) -> u8 {
        match self {
            Os::Unknown => 0,
            Os::Linux => 1,
            Os::Windows => 2,
            Os::Macos => 3,
            Os::Android => 4,
            Os::Ios => 5,
            Os::Bsd => 6,
        }
    }

    /// Unknown codes are not an error: a newer peer may run something we have no icon for.
    pub fn from_byte(b: u8) -> Os {
        match b {
            1 => Os::Linux,
            2 => Os::Windows,
            3 => Os::Macos,
            4 => Os::Android,
            5 => Os::Ios,
            6 => Os::Bsd,
            _ => Os::Unknown,
        }
    }

    /// A word for people.
    pub fn label(self) -> &'static str {
        match self {
            Os::Unknown => "Unknown",
            Os::Linux => "Linux",
            Os::Windows => "Windows",
            Os::Macos => "macOS",
            Os::Android => "Android",
            Os::Ios => "iOS",
            Os::Bsd => "BSD",
        }
    }
}

/// A node's stable random identity, made once per install and persisted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub [u8; 16]);

impl InstanceId {
    /// A fresh random id.
    pub fn random() -> InstanceId {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).expect("the operating system's random source failed");
        InstanceId(b)
    }

    /// 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(s: &str) -> Option<InstanceId> {
        let s = s.trim();
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        let mut b = [0u8; 16];
        for (i, out) in b.iter_mut().enumerate() {
            *out = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(InstanceId(b))
    }
}

impl std::fmt::Debug for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InstanceId({})", self.to_hex())
    }
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for InstanceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for InstanceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        InstanceId::from_hex(&s).ok_or_else(|| serde::de::Error::custom("not 32 hex digits"))
    }
}

/// Makes a device name from the network fit to show: white space (tabs and line breaks too)
/// becomes plain spaces, every other hidden character ([`crate::text`]: controls, bidi and other format characters) goes, spaces at
/// both ends are trimmed, and at most [`MAX_DISPLAY_NAME_CHARS`] characters stay. `None` when
/// nothing printable is left.
pub fn clean_display_name(raw: &str) -> Option<String> {
    let cleaned: String = crate::text::chars_in_context(raw)
        .filter_map(|(c, hidden)| match c {
            c if c.is_whitespace() => Some(' '),
            _ if hidden => None,
            c => Some(c),
        })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(trimmed.chars().take(MAX_DISPLAY_NAME_CHARS).collect::<String>().trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_cleaned() {
        assert_eq!(clean_display_name("  Wang's laptop \n").as_deref(), Some("Wang's laptop"));
        assert_eq!(clean_display_name("evil\u{202E}gpj.exe").as_deref(), Some("evilgpj.exe"));
        assert_eq!(clean_display_name("a\u{0}b\u{7}c").as_deref(), Some("abc"));
        assert_eq!(clean_display_name("\u{200B}\u{202E} \t"), None);
        let long = "名".repeat(100);
        assert_eq!(clean_display_name(&long).unwrap().chars().count(), MAX_DISPLAY_NAME_CHARS);
        assert_eq!(clean_display_name("مرحبا 😀").as_deref(), Some("مرحبا 😀"));
    }

    #[test]
    fn instance_ids_round_trip_as_hex() {
        let id = InstanceId::random();
        assert_eq!(InstanceId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(InstanceId::from_hex("xyz"), None);
        assert_eq!(InstanceId::from_hex(&"g".repeat(32)), None);
    }

    #[test]
    fn os_codes_round_trip() {
        for os in [Os::Unknown, Os::Linux, Os::Windows, Os::Macos, Os::Android, Os::Ios, Os::Bsd] {
            assert_eq!(Os::from_byte(os.to_byte()), os);
        }
        assert_eq!(Os::from_byte(200), Os::Unknown);
    }
}
