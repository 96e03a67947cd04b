//! What the person is told that is not one transfer's failure: the engine's [`Warning`]s
//! (discovery could not start, the receive folder could not be made ...) and why adding a device
//! by its address did not work ([`AddFailure`]).
//!
//! Each is data, not a sentence: the window says every kind in its own language
//! (`ui::i18n::warnings`). `Display` is the English sentence — what the CLI prints and what
//! `--json` carries (as a plain string, as it always has) — so a script that looks for one of
//! these sentences keeps finding it.
//!
//! Text inside them is kept as it is: the OS's error messages, paths, and a device's name as it
//! gave it (cleaned when it arrived, `protocol::clean_display_name`). Front ends show the whole
//! sentence through [`crate::text::display`], as they show every other text from outside.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::identity::IdentityWarning;
use crate::identity::known::KnownDevicesWarning;

/// Something the person should know that is not tied to a transfer (`Event::Warning`).
/// `detail` is always the OS's or a library's own message (English, as the system gives it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// Broadcast discovery could not start (its port taken, no network): sending by address
    /// still works.
    DiscoveryUnavailable { detail: String },
    /// The receive folder could not be made when the engine started: receiving would fail.
    ReceiveFolder { path: PathBuf, detail: String },
    /// The receive folder just chosen in the settings could not be made.
    NewReceiveFolder { path: PathBuf, detail: String },
    /// LocalSend's server could not start (its port taken, say): phones cannot send here.
    LocalSendServer { detail: String },
    /// LocalSend's multicast discovery could not start: phones can still send by address.
    LocalSendDiscovery { detail: String },
    /// A version-1 Ferry tried to send (it was told to update). `name` is its device name as it
    /// said it, cleaned for display, when it said one.
    OlderSender { name: Option<String>, ip: IpAddr },
    /// This device's key had to be made anew, or could not be saved.
    Identity(IdentityWarning),
    /// The file of known devices could not be read or written.
    KnownDevices(KnownDevicesWarning),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::DiscoveryUnavailable { detail } => write!(
                f,
                "Other devices can't be found automatically: {detail}. You can still add a device by its address."
            ),
            Warning::ReceiveFolder { path, detail } => write!(
                f,
                "Couldn't create the receive folder {}: {detail}. Choose another one before receiving files.",
                path.display()
            ),
            Warning::NewReceiveFolder { path, detail } => {
                write!(f, "Couldn't create the receive folder {}: {detail}", path.display())
            }
            Warning::LocalSendServer { detail } => {
                write!(f, "LocalSend phones can't send to this computer: {detail}")
            }
            Warning::LocalSendDiscovery { detail } => write!(
                f,
                "LocalSend phones can't find this computer by themselves: {detail}. They can still send to it \
                 by its address."
            ),
            Warning::OlderSender { name, ip } => {
                match name {
                    Some(name) => write!(f, "\u{2018}{name}\u{2019} ({ip})")?,
                    None => write!(f, "A computer at {ip}")?,
                }
                write!(f, " tried to send you files with an older Ferry. Update both to the latest version.")
            }
            Warning::Identity(w) => w.fmt(f),
            Warning::KnownDevices(w) => w.fmt(f),
        }
    }
}

/// In `--json`, the English sentence (`{"event": "warning", "data": "…"}`), as before warnings
/// had kinds.
impl serde::Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why adding a device by its address did not work (`Event::PeerAddFailed`). `addr` is the
/// address it resolved to; `address` is what the person typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddFailure {
    /// What was typed is not an address (`detail`: the resolver's message).
    NotAnAddress { address: String, detail: String },
    /// A name that resolved to no address at all.
    Unresolved { address: String },
    /// Nothing accepted the connection there.
    NoConnection { addr: SocketAddr, detail: String },
    /// Something answered, but not Ferry (no TLS, another protocol, no HELLO).
    NotFerry { addr: SocketAddr },
    /// It did not answer within the handshake's time.
    NoAnswer { addr: SocketAddr },
    /// A Ferry that speaks only protocol version 1.
    OlderFerry { addr: SocketAddr },
    /// A later Ferry that no longer speaks this one's version.
    NoCommonVersion { addr: SocketAddr },
    /// It is handling too many connections right now.
    Busy { addr: SocketAddr },
    /// It answered with another key than the one asked for.
    UnexpectedKey { addr: SocketAddr },
    /// Its certificate or handshake signature did not prove a key.
    NotProven { addr: SocketAddr },
    /// Some other failure of the TLS handshake.
    SecureConnectionFailed { addr: SocketAddr },
    /// The connection broke during the handshake.
    ConnectionLost { addr: SocketAddr },
    /// The secured connection could not be set up for frames (`detail`: the OS's message).
    Broken { detail: String },
    /// Our HELLO could not be sent.
    CantTalk { addr: SocketAddr, detail: String },
    /// Its HELLO names another key than the one its handshake proved.
    FailedSecurityCheck { addr: SocketAddr },
}

impl fmt::Display for AddFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddFailure::NotAnAddress { address, detail } => write!(
                f,
                "{address:?} is not an address Ferry can use ({detail}). Write it like 192.168.1.20:53531."
            ),
            AddFailure::Unresolved { address } => write!(f, "{address:?} did not resolve to any address."),
            AddFailure::NoConnection { addr, detail } => {
                write!(f, "Couldn't connect to {addr}: {detail}. Is Ferry open on that device?")
            }
            AddFailure::NotFerry { addr } => write!(f, "{addr} answered, but it is not a Ferry device."),
            AddFailure::NoAnswer { addr } => write!(f, "{addr} did not answer in time."),
            AddFailure::OlderFerry { addr } => {
                write!(
                    f,
                    "{addr}: The other computer runs an older Ferry. Update both to the latest version."
                )
            }
            AddFailure::NoCommonVersion { addr } => write!(
                f,
                "{addr}: The other computer runs a version of Ferry that cannot talk to this one. Update both \
                 to the latest version."
            ),
            AddFailure::Busy { addr } => {
                write!(f, "{addr}: The other computer is too busy right now. Try again in a moment.")
            }
            AddFailure::UnexpectedKey { addr } => write!(
                f,
                "{addr}: This is not the device you expected: it has a different key, so nothing was sent."
            ),
            AddFailure::NotProven { addr } => write!(
                f,
                "{addr}: The other computer could not prove which device it is, so nothing was sent."
            ),
            AddFailure::SecureConnectionFailed { addr } => {
                write!(f, "{addr}: The secure connection to the other computer failed, so nothing was sent.")
            }
            AddFailure::ConnectionLost { addr } => {
                write!(f, "{addr}: The connection was lost before anything was sent.")
            }
            AddFailure::Broken { detail } => f.write_str(detail),
            AddFailure::CantTalk { addr, detail } => write!(f, "Couldn't talk to {addr}: {detail}"),
            AddFailure::FailedSecurityCheck { addr } => {
                write!(f, "{addr} answered, but failed the security check (its HELLO names another key).")
            }
        }
    }
}

/// In `--json`, the English sentence (`"reason": "…"`), as before failures had kinds.
impl serde::Serialize for AddFailure {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        PathBuf::from("/home/anna/.config/ferry")
    }

    /// Every warning the engine can give, with the sentence it said before warnings had kinds:
    /// the CLI prints these, and scripts may look for them.
    fn every_warning() -> Vec<(Warning, &'static str)> {
        let e = "Address already in use (os error 98)".to_owned();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        vec![
            (
                Warning::DiscoveryUnavailable { detail: e.clone() },
                "Other devices can't be found automatically: Address already in use (os error 98). You can \
                 still add a device by its address.",
            ),
            (
                Warning::ReceiveFolder {
                    path: "/media/usb/Ferry".into(),
                    detail: "Read-only file system".into(),
                },
                "Couldn't create the receive folder /media/usb/Ferry: Read-only file system. Choose another one \
                 before receiving files.",
            ),
            (
                Warning::NewReceiveFolder {
                    path: "/media/usb/Ferry".into(),
                    detail: "Read-only file system".into(),
                },
                "Couldn't create the receive folder /media/usb/Ferry: Read-only file system",
            ),
            (
                Warning::LocalSendServer { detail: e.clone() },
                "LocalSend phones can't send to this computer: Address already in use (os error 98)",
            ),
            (
                Warning::LocalSendDiscovery { detail: e.clone() },
                "LocalSend phones can't find this computer by themselves: Address already in use (os error 98). \
                 They can still send to it by its address.",
            ),
            (
                Warning::OlderSender { name: Some("Old PC".into()), ip },
                "\u{2018}Old PC\u{2019} (192.0.2.9) tried to send you files with an older Ferry. Update both to \
                 the latest version.",
            ),
            (
                Warning::OlderSender { name: None, ip },
                "A computer at 192.0.2.9 tried to send you files with an older Ferry. Update both to the latest \
                 version.",
            ),
            (
                Warning::Identity(IdentityWarning::Replaced {
                    dir: dir(),
                    why: "bad PEM".into(),
                    save_failed: None,
                }),
                "This device's key in /home/anna/.config/ferry could not be used (bad PEM), so Ferry made a new \
                 one. Devices that knew this one will see it as new.",
            ),
            (
                Warning::Identity(IdentityWarning::Replaced {
                    dir: dir(),
                    why: "bad PEM".into(),
                    save_failed: Some("Permission denied (os error 13)".into()),
                }),
                "This device's key in /home/anna/.config/ferry could not be used (bad PEM), so Ferry made a new \
                 one. Devices that knew this one will see it as new. Saving the new key failed too: Permission \
                 denied (os error 13)",
            ),
            (
                Warning::Identity(IdentityWarning::NotSaved {
                    dir: dir(),
                    detail: "Permission denied (os error 13)".into(),
                }),
                "Ferry could not save this device's key in /home/anna/.config/ferry (Permission denied (os error \
                 13)); it will be a new device at every start.",
            ),
            (
                Warning::Identity(IdentityWarning::ThisRunOnly { detail: "no randomness".into() }),
                "This device's key could not be saved (no randomness); other devices will see it as new after a \
                 restart.",
            ),
            (
                Warning::KnownDevices(KnownDevicesWarning::Unreadable {
                    path: dir().join("known-devices.toml"),
                    detail: "Permission denied (os error 13)".into(),
                }),
                "The list of known devices /home/anna/.config/ferry/known-devices.toml could not be read \
                 (Permission denied (os error 13)).",
            ),
            (
                Warning::KnownDevices(KnownDevicesWarning::Corrupt {
                    path: dir().join("known-devices.toml"),
                    aside: dir().join("known-devices.toml.bad"),
                    detail: "invalid table header".into(),
                }),
                "The list of known devices /home/anna/.config/ferry/known-devices.toml could not be read, so \
                 Ferry starts with none: every device will be new until you check its code once (the old file \
                 was kept as /home/anna/.config/ferry/known-devices.toml.bad). Detail: invalid table header",
            ),
            (
                Warning::KnownDevices(KnownDevicesWarning::EntriesDropped {
                    path: dir().join("known-devices.toml"),
                    count: 1,
                }),
                "1 entry in the list of known devices /home/anna/.config/ferry/known-devices.toml did not make \
                 sense and was left out.",
            ),
            (
                Warning::KnownDevices(KnownDevicesWarning::EntriesDropped {
                    path: dir().join("known-devices.toml"),
                    count: 2,
                }),
                "2 entries in the list of known devices /home/anna/.config/ferry/known-devices.toml did not make \
                 sense and were left out.",
            ),
            (
                Warning::KnownDevices(KnownDevicesWarning::NotSaved {
                    detail: "No space left on device".into(),
                }),
                "Couldn't save the list of known devices: No space left on device",
            ),
        ]
    }

    #[test]
    fn every_warning_says_the_sentence_it_always_said() {
        for (warning, said) in every_warning() {
            assert_eq!(warning.to_string(), said, "{warning:?}");
        }
    }

    /// `--json` keeps the shape it had: the event's data is the sentence.
    #[test]
    fn a_warning_and_an_add_failure_are_their_sentence_in_json() {
        for (warning, said) in every_warning() {
            let json = serde_json::to_value(crate::events::Event::Warning(warning)).unwrap();
            assert_eq!(json, serde_json::json!({ "event": "warning", "data": said }));
        }
        let reason = AddFailure::NoAnswer { addr: "192.0.2.7:53531".parse().unwrap() };
        let json =
            serde_json::to_value(crate::events::Event::PeerAddFailed { address: "192.0.2.7".into(), reason })
                .unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "event": "peer_add_failed",
                "data": { "address": "192.0.2.7", "reason": "192.0.2.7:53531 did not answer in time." }
            })
        );
    }

    #[test]
    fn every_add_failure_says_the_sentence_it_always_said() {
        let addr: SocketAddr = "192.0.2.7:53531".parse().unwrap();
        let cases = [
            (
                AddFailure::NotAnAddress {
                    address: "kitchen pc".into(),
                    detail: "invalid socket address".into(),
                },
                "\"kitchen pc\" is not an address Ferry can use (invalid socket address). Write it like \
                 192.168.1.20:53531.",
            ),
            (
                AddFailure::Unresolved { address: "nowhere".into() },
                "\"nowhere\" did not resolve to any address.",
            ),
            (
                AddFailure::NoConnection { addr, detail: "Connection refused (os error 111)".into() },
                "Couldn't connect to 192.0.2.7:53531: Connection refused (os error 111). Is Ferry open on that \
                 device?",
            ),
            (AddFailure::NotFerry { addr }, "192.0.2.7:53531 answered, but it is not a Ferry device."),
            (AddFailure::NoAnswer { addr }, "192.0.2.7:53531 did not answer in time."),
            (
                AddFailure::Broken { detail: "Bad file descriptor (os error 9)".into() },
                "Bad file descriptor (os error 9)",
            ),
            (
                AddFailure::CantTalk { addr, detail: "Broken pipe (os error 32)".into() },
                "Couldn't talk to 192.0.2.7:53531: Broken pipe (os error 32)",
            ),
            (
                AddFailure::FailedSecurityCheck { addr },
                "192.0.2.7:53531 answered, but failed the security check (its HELLO names another key).",
            ),
        ];
        for (failure, said) in cases {
            assert_eq!(failure.to_string(), said, "{failure:?}");
        }
        // The ones that were "{addr}: {the TLS error}" are checked against that error's own
        // sentence in `engine::probe`.
    }
}
