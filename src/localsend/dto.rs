//! The JSON that LocalSend devices exchange (protocol v2.1 as documented in the
//! `localsend/protocol` repository, plus what LocalSend 1.18 calls "2.2"). Field names are
//! camelCase on the wire. Every field an older or smaller client may leave out has a default, so
//! a message that omits it still parses; what a field *means* when missing is said next to it.
//!
//! These types only describe shapes. Limits (how long a name may be, how many files an offer may
//! list) are checked by [`super::json`] before and while parsing, and by the code that uses them.

use serde::{Deserialize, Deserializer, Serialize};

use super::json::BoundedMap;
pub use crate::events::DeviceType;

/// The protocol version this side speaks: v2 with mutual TLS and checksums ("2.2").
pub const PROTOCOL_VERSION: &str = "2.2";

/// The five known device types (case ignored); anything else is a desktop (protocol section 7.1:
/// "the official implementation falls back to desktop").
pub fn device_type_from_wire(s: &str) -> DeviceType {
    match s.to_ascii_lowercase().as_str() {
        "mobile" => DeviceType::Mobile,
        "web" => DeviceType::Web,
        "headless" => DeviceType::Headless,
        "server" => DeviceType::Server,
        _ => DeviceType::Desktop,
    }
}

/// `deviceType` is nullable and open-ended: null or missing is `None` (shown as desktop), an
/// unknown string is desktop, and a value that is not a string at all is refused.
fn device_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DeviceType>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| device_type_from_wire(&s)))
}

/// `http` or `https`: how a device's server is reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    /// The default when a message does not say (every current LocalSend app encrypts).
    #[default]
    Https,
}

/// The port LocalSend uses for everything unless configured otherwise.
pub const DEFAULT_PORT: u16 = 53317;

fn default_port() -> u16 {
    DEFAULT_PORT
}

fn an_announcement() -> Option<bool> {
    Some(true)
}

/// How a device introduces itself: the multicast announcement (with `announce`), the body of
/// `POST /register` and the `info` of an offer (without it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub alias: String,
    /// `major.minor`; missing means "2.0" (the first version that had this message).
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_model: Option<String>,
    #[serde(default, deserialize_with = "device_type", skip_serializing_if = "Option::is_none")]
    pub device_type: Option<DeviceType>,
    /// Over HTTPS, the SHA-256 of the device's certificate (upper-case hex), which the handshake
    /// proves; over HTTP a random string that only serves to recognise one's own announcements.
    /// Never trusted on its own: see [`super::tls`].
    #[serde(default)]
    pub fingerprint: String,
    /// Where its server listens.
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub protocol: Protocol,
    /// Whether its download API (protocol section 5) is on; missing means no.
    #[serde(default)]
    pub download: bool,
    /// Only in multicast messages: `true` asks everyone to answer, `false` is an answer. A
    /// message without it is an announcement (LocalSend 1.18 always sends `true`; nothing older
    /// sent an answer without saying `false`).
    #[serde(default = "an_announcement", skip_serializing_if = "Option::is_none", with = "announce")]
    pub announce: Option<bool>,
    /// Not LocalSend's: set by Ferry (to the version of Ferry's own protocol it also speaks), so
    /// that one Ferry does not list another twice — once as a Ferry device and once as a
    /// LocalSend one. LocalSend apps ignore fields they do not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ferry: Option<u16>,
}

/// `announce` is optional on the way out (only multicast messages carry it) and defaults to true
/// on the way in.
mod announce {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_bool(*b),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(Some(Option::<bool>::deserialize(d)?.unwrap_or(true)))
    }
}

fn default_version() -> String {
    "2.0".to_owned()
}

impl DeviceInfo {
    /// Whether this multicast message asks to be answered.
    pub fn wants_answer(&self) -> bool {
        self.announce.unwrap_or(true)
    }

    /// The device type to show: unknown or missing counts as desktop.
    pub fn kind(&self) -> DeviceType {
        self.device_type.unwrap_or_default()
    }
}

/// What `POST /register` and `GET /info` answer: [`DeviceInfo`] without port and protocol (the
/// caller already knows them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoResponse {
    pub alias: String,
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_model: Option<String>,
    #[serde(default, deserialize_with = "device_type", skip_serializing_if = "Option::is_none")]
    pub device_type: Option<DeviceType>,
    #[serde(default)]
    pub fingerprint: String,
    #[serde(default)]
    pub download: bool,
}

/// `metadata` of an offered file; both times are RFC 3339 and optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessed: Option<String>,
}

/// One file of an offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDto {
    /// Repeats the key it is listed under; the key is what counts.
    #[serde(default)]
    pub id: String,
    /// May contain `/` for files inside a folder (`Trip/IMG_1.jpg`).
    pub file_name: String,
    pub size: u64,
    /// A MIME type (`image/jpeg`); protocol v1 used words (`image`, `text` ...). Missing means
    /// `application/octet-stream`.
    #[serde(default = "octet_stream")]
    pub file_type: String,
    /// Lower- or upper-case hex SHA-256 of the content, when the sender computed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// For a text message the text itself; for other files maybe a small base64 image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FileMetadata>,
}

fn octet_stream() -> String {
    "application/octet-stream".to_owned()
}

impl FileDto {
    /// A text message: LocalSend sends one as an offer of a single `text/plain` "file" whose
    /// `preview` is the text, and expects 204 (nothing to upload) in return.
    pub fn is_text_message(&self) -> bool {
        let t = self.file_type.to_ascii_lowercase();
        self.preview.is_some() && (t == "text/plain" || t.starts_with("text/plain;") || t == "text")
    }
}

/// `POST /prepare-upload`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrepareUpload {
    pub info: DeviceInfo,
    /// File id → file. At most [`super::json::MAX_FILES`] entries; a key listed twice is refused
    /// (JSON allows it, and the two entries would fight over one token).
    pub files: BoundedMap<FileDto>,
}

/// The answer to an accepted offer: a session and one token per accepted file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareUploadResponse {
    pub session_id: String,
    pub files: BoundedMap<String>,
}

/// What error responses carry (LocalSend 1.18 sends `{"message": ...}`; others send nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_their_defaults() {
        let info: DeviceInfo = serde_json::from_str(r#"{"alias":"Phone"}"#).unwrap();
        assert_eq!(info.version, "2.0");
        assert_eq!(info.port, 53317);
        assert_eq!(info.protocol, Protocol::Https);
        assert!(!info.download);
        assert!(info.wants_answer());
        assert_eq!(info.kind(), DeviceType::Desktop);
    }

    #[test]
    fn unknown_device_types_are_desktops_and_case_does_not_matter() {
        for (wire, want) in
            [("fridge", DeviceType::Desktop), ("MOBILE", DeviceType::Mobile), ("server", DeviceType::Server)]
        {
            let info: DeviceInfo =
                serde_json::from_str(&format!(r#"{{"alias":"a","deviceType":"{wire}"}}"#)).unwrap();
            assert_eq!(info.device_type, Some(want), "{wire}");
        }
        let null: DeviceInfo = serde_json::from_str(r#"{"alias":"a","deviceType":null}"#).unwrap();
        assert_eq!(null.device_type, None);
        assert!(serde_json::from_str::<DeviceInfo>(r#"{"alias":"a","deviceType":7}"#).is_err());
    }

    #[test]
    fn announce_false_is_an_answer_and_is_kept_on_the_way_out() {
        let info: DeviceInfo = serde_json::from_str(r#"{"alias":"a","announce":false}"#).unwrap();
        assert!(!info.wants_answer());
        let json = serde_json::to_string(&info).unwrap();
        assert!(json.contains(r#""announce":false"#), "{json}");
        let register = DeviceInfo { announce: None, ..info };
        assert!(!serde_json::to_string(&register).unwrap().contains("announce"));
    }

    #[test]
    fn a_text_message_is_one_text_plain_file_with_a_preview() {
        let f = |t: &str, p: Option<&str>| FileDto {
            id: "x".into(),
            file_name: "x.txt".into(),
            size: 5,
            file_type: t.into(),
            sha256: None,
            preview: p.map(str::to_owned),
            metadata: None,
        };
        assert!(f("text/plain", Some("hello")).is_text_message());
        assert!(f("TEXT/PLAIN; charset=utf-8", Some("hello")).is_text_message());
        assert!(!f("text/plain", None).is_text_message());
        assert!(!f("image/jpeg", Some("...")).is_text_message());
    }
}
