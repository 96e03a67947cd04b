//! The devices this one has met, keyed by their key — and the one place that decides whether a
//! device is known, new, or pretending.
//!
//! A device becomes *known* when a transfer with it completed or its first offer was accepted
//! ([`KnownDevices::remember`]). What is kept, per fingerprint: the name it last gave (cleaned),
//! the names it gave before, a name the person chose instead ([`KnownDevices::rename`]), when it
//! was first and last seen, whether its offers are accepted without asking
//! ([`KnownDevices::set_always_accept`]), and the addresses it was reached at — hints for
//! finding it again, never proof of who it is.
//!
//! [`KnownDevices::trust`] is the decision, from a (name, fingerprint) pair:
//!
//! * **known** — the key is in the store. Whatever name it gives now: a device that renames
//!   itself is the same device.
//! * **changed** — the key is not in the store, but the name looks like the name of a device that
//!   is ("This is not the ‘Anna's laptop’ you sent to before"). It is shown as a device of its
//!   own, never accepted automatically, and never picked by name.
//! * **new** — neither.
//!
//! "Looks like" is deliberately wide ([`lookalike_key`]): case, spaces, punctuation, full-width
//! forms and the Cyrillic and Greek letters that look Latin do not count, nor do `0`/`o` and
//! `1`/`l`/`i`. So "anna’s  laptop", "Anna's-Laptop" and "Аnna's laptop" (Cyrillic А) all look
//! like "Anna's laptop". A new device whose name merely resembles a known one is shown as
//! changed: a warning too many, which the person clears by checking the code once — never a
//! warning too few.
//!
//! The store lives in `known-devices.toml` in the config folder. Every change re-reads the file
//! under a lock (`known-devices.lock`) and writes it atomically, so the window and a `ferry`
//! command running at the same time do not lose each other's changes. A file that cannot be read
//! is kept aside (`known-devices.toml.bad`) and the store starts empty, with a warning; entries
//! that do not make sense are dropped, with a warning, and the rest kept.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use super::Fingerprint;
use crate::protocol::clean_display_name;

const FILE_NAME: &str = "known-devices.toml";
const LOCK_NAME: &str = "known-devices.lock";
/// Addresses kept per device, most recent first.
pub const MAX_ADDRESSES: usize = 4;
/// Earlier names kept per device, most recent first.
pub const MAX_EARLIER_NAMES: usize = 4;

/// One device met before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownDevice {
    pub fingerprint: Fingerprint,
    /// The name it gave when last seen, cleaned for display.
    pub name: String,
    /// Names it gave before, most recent first: an impostor using an old name is caught too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_names: Vec<String>,
    /// What the person chose to call it instead ("rename").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_name: Option<String>,
    /// Seconds since 1970 (UTC).
    pub first_seen: u64,
    pub last_seen: u64,
    /// Its offers are accepted without asking. Keyed on the key: a device that only takes its
    /// name never gets this.
    #[serde(default)]
    pub always_accept: bool,
    /// Where it was reached, most recent first: hints for finding it, not proof of anything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<SocketAddr>,
}

impl KnownDevice {
    /// The name to show: the person's choice, else the device's own.
    pub fn display_name(&self) -> &str {
        self.shown_name.as_deref().unwrap_or(&self.name)
    }

    /// Every name this device is known by, for the look-alike check.
    fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str())
            .chain(self.earlier_names.iter().map(String::as_str))
            .chain(self.shown_name.as_deref())
    }
}

/// What a (name, key) pair is to this device. Serialized as its [`Trust::label`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The key is known.
    Known,
    /// Neither the key nor anything like the name.
    New,
    /// An unknown key under a name that looks like a known device's: these are the devices it
    /// is not.
    Changed { lookalikes: Vec<Fingerprint> },
}

impl Serialize for Trust {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

impl Trust {
    /// `known`, `new` or `changed`, as `--json` says it.
    pub fn label(&self) -> &'static str {
        match self {
            Trust::Known => "known",
            Trust::New => "new",
            Trust::Changed { .. } => "changed",
        }
    }

    /// May an offer from it be accepted without asking? Only a known key that the person said
    /// yes to ([`KnownDevice::always_accept`]); the caller looks that up.
    pub fn is_known(&self) -> bool {
        matches!(self, Trust::Known)
    }
}

/// The warning for a [`Trust::Changed`] device, `name` as the other device gave it (cleaned).
pub fn changed_warning(name: &str) -> String {
    format!("This is not the \u{2018}{name}\u{2019} you sent to before.")
}

/// The trust of a device that gives `name` and whose key is `key` as far as it is known: proved
/// by a handshake, or only a hint (a discovery datagram's fingerprint). Without any key a device
/// is never known, and it is [`Trust::Changed`] when its name looks like a known device's (a
/// warning too many, never one too few).
pub fn trust_of(store: &KnownDevices, name: &str, key: Option<&Fingerprint>) -> Trust {
    match key {
        Some(key) => store.trust(name, key),
        // No stored device has the all-zero key: this asks about the name alone.
        None => match store.trust(name, &Fingerprint([0; 32])) {
            Trust::Known => Trust::New,
            other => other,
        },
    }
}

/// What [`KnownDevices::remember`] records about one meeting.
#[derive(Clone, Debug)]
pub struct Sighting<'a> {
    pub fingerprint: Fingerprint,
    /// As the device gave it; cleaned here.
    pub name: &'a str,
    /// Where it was reached (or where it connected from), if worth remembering.
    pub address: Option<SocketAddr>,
}

/// The store of known devices.
#[derive(Debug, Default)]
pub struct KnownDevices {
    /// `None`: kept in memory only (tests, or a config folder that cannot be written).
    dir: Option<PathBuf>,
    devices: BTreeMap<Fingerprint, KnownDevice>,
}

/// The store as opened, and what the person should be told about opening it.
#[derive(Debug)]
pub struct OpenedKnown {
    pub store: KnownDevices,
    pub warning: Option<KnownDevicesWarning>,
}

/// What went wrong with the file of known devices, as data: `Display` is the English sentence
/// (the CLI prints it), and the window says each kind in its own language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KnownDevicesWarning {
    /// The file at `path` exists but could not be read (permissions, say); the store keeps what
    /// it had.
    Unreadable { path: PathBuf, detail: String },
    /// The file at `path` did not parse: kept aside as `aside`, and the store starts empty.
    /// `detail` is the parser's message.
    Corrupt { path: PathBuf, aside: PathBuf, detail: String },
    /// `count` entries of the file at `path` did not make sense and were dropped; the rest kept.
    EntriesDropped { path: PathBuf, count: usize },
    /// A change could not be written.
    NotSaved { detail: String },
}

impl std::fmt::Display for KnownDevicesWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KnownDevicesWarning::Unreadable { path, detail } => {
                write!(f, "The list of known devices {} could not be read ({detail}).", path.display())
            }
            KnownDevicesWarning::Corrupt { path, aside, detail } => write!(
                f,
                "The list of known devices {} could not be read, so Ferry starts with none: every device \
                 will be new until you check its code once (the old file was kept as {}). Detail: {detail}",
                path.display(),
                aside.display(),
            ),
            KnownDevicesWarning::EntriesDropped { path, count } => write!(
                f,
                "{count} entr{} in the list of known devices {} did not make sense and {} left out.",
                if *count == 1 { "y" } else { "ies" },
                path.display(),
                if *count == 1 { "was" } else { "were" }
            ),
            KnownDevicesWarning::NotSaved { detail } => {
                write!(f, "Couldn't save the list of known devices: {detail}")
            }
        }
    }
}

impl KnownDevices {
    /// A store that is never written (tests; a front end that cannot save).
    pub fn in_memory() -> KnownDevices {
        KnownDevices::default()
    }

    /// Opens the store in `dir` (the config folder). Never fails: a missing file is an empty
    /// store, a bad one is kept aside with a warning.
    pub fn open(dir: &Path) -> OpenedKnown {
        let mut store = KnownDevices { dir: Some(dir.to_path_buf()), devices: BTreeMap::new() };
        let warning = store.reload();
        OpenedKnown { store, warning }
    }

    /// Reads the file again (another Ferry process may have changed it). On a file that cannot
    /// be read at all, the store keeps what it had and says why.
    pub fn reload(&mut self) -> Option<KnownDevicesWarning> {
        let dir = self.dir.clone()?;
        match read_file(&dir) {
            Ok((devices, warning)) => {
                self.devices = devices;
                warning
            }
            Err(warning) => Some(warning),
        }
    }

    /// The trust decision for a device that gives `name` and proved `fingerprint`.
    pub fn trust(&self, name: &str, fingerprint: &Fingerprint) -> Trust {
        if self.devices.contains_key(fingerprint) {
            return Trust::Known;
        }
        let key = lookalike_key(name);
        if key.is_empty() {
            return Trust::New;
        }
        let lookalikes: Vec<Fingerprint> = self
            .devices
            .values()
            .filter(|d| d.names().any(|n| lookalike_key(n) == key))
            .map(|d| d.fingerprint)
            .collect();
        if lookalikes.is_empty() { Trust::New } else { Trust::Changed { lookalikes } }
    }

    pub fn get(&self, fingerprint: &Fingerprint) -> Option<&KnownDevice> {
        self.devices.get(fingerprint)
    }

    /// Every known device, by fingerprint.
    pub fn devices(&self) -> impl Iterator<Item = &KnownDevice> {
        self.devices.values()
    }

    /// Is `fingerprint` a known device whose offers the person chose to accept without asking?
    pub fn accepts_automatically(&self, fingerprint: &Fingerprint) -> bool {
        self.devices.get(fingerprint).is_some_and(|d| d.always_accept)
    }

    /// Records a meeting: a new device is added, a known one gets its new name (the old one goes
    /// to `earlier_names`), `last_seen` and the address. Saved at once; the in-memory store is
    /// changed even when saving fails (the error says so).
    pub fn remember(&mut self, seen: &Sighting<'_>) -> io::Result<()> {
        self.remember_at(seen, now())
    }

    /// [`Self::remember`] at a given time (seconds since 1970).
    pub fn remember_at(&mut self, seen: &Sighting<'_>, at: u64) -> io::Result<()> {
        let name = clean_display_name(seen.name);
        self.change(|devices| {
            let device = devices.entry(seen.fingerprint).or_insert_with(|| KnownDevice {
                fingerprint: seen.fingerprint,
                name: name.clone().unwrap_or_default(),
                earlier_names: Vec::new(),
                shown_name: None,
                first_seen: at,
                last_seen: at,
                always_accept: false,
                addresses: Vec::new(),
            });
            device.last_seen = device.last_seen.max(at);
            if let Some(name) = &name
                && *name != device.name
            {
                let old = std::mem::replace(&mut device.name, name.clone());
                device.earlier_names.retain(|n| n != name && *n != old);
                if !old.is_empty() {
                    device.earlier_names.insert(0, old);
                }
                device.earlier_names.truncate(MAX_EARLIER_NAMES);
            }
            if let Some(addr) = seen.address {
                device.addresses.retain(|a| *a != addr);
                device.addresses.insert(0, addr);
                device.addresses.truncate(MAX_ADDRESSES);
            }
            true
        })
        .map(|_| ())
    }

    /// Sets or clears the name the person chose. `false` when the device is not known.
    pub fn rename(&mut self, fingerprint: &Fingerprint, shown_name: Option<&str>) -> io::Result<bool> {
        let shown = shown_name.and_then(clean_display_name);
        self.change(|devices| match devices.get_mut(fingerprint) {
            Some(d) => {
                d.shown_name = shown.clone();
                true
            }
            None => false,
        })
    }

    /// Turns "always accept from this device" on or off. `false` when the device is not known.
    pub fn set_always_accept(&mut self, fingerprint: &Fingerprint, on: bool) -> io::Result<bool> {
        self.change(|devices| match devices.get_mut(fingerprint) {
            Some(d) => {
                d.always_accept = on;
                true
            }
            None => false,
        })
    }

    /// Forgets a device: it is new again next time. `false` when it was not known.
    pub fn forget(&mut self, fingerprint: &Fingerprint) -> io::Result<bool> {
        self.change(|devices| devices.remove(fingerprint).is_some())
    }

    /// Applies `f` to the freshest copy of the store (re-read under the lock) and saves it when
    /// `f` says it changed something.
    fn change(
        &mut self,
        f: impl FnOnce(&mut BTreeMap<Fingerprint, KnownDevice>) -> bool,
    ) -> io::Result<bool> {
        let Some(dir) = self.dir.clone() else { return Ok(f(&mut self.devices)) };
        let lock = match lock_dir(&dir) {
            Ok(lock) => lock,
            Err(e) => {
                f(&mut self.devices);
                return Err(e);
            }
        };
        if let Ok((devices, _)) = read_file(&dir) {
            self.devices = devices;
        }
        let changed = f(&mut self.devices);
        let saved = if changed { write_file(&dir, &self.devices) } else { Ok(()) };
        drop(lock);
        saved.map(|()| changed)
    }
}

/// The form in which two names that a person could take for each other are equal: cleaned
/// ([`clean_display_name`]), lower case, full-width forms and Latin look-alikes folded to ASCII,
/// `0`→`o` and `1`/`i`/`|`→`l`, and white space and punctuation left out. Empty when nothing is
/// left (such a name matches nothing).
pub fn lookalike_key(name: &str) -> String {
    let Some(clean) = clean_display_name(name) else { return String::new() };
    let mut key = String::with_capacity(clean.len());
    for c in clean.chars().flat_map(char::to_lowercase) {
        let c = fold_char(c);
        if c.is_whitespace()
            || matches!(c.general_category_group(), GeneralCategoryGroup::Punctuation)
            || matches!(c, '`' | '´' | '^' | '¨' | '˜')
        {
            continue;
        }
        key.push(c);
    }
    key
}

fn fold_char(c: char) -> char {
    let c = match c {
        // Full-width ASCII.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        // Cyrillic letters that look Latin (lower case: upper case was folded before).
        'а' => 'a',
        'в' => 'b',
        'е' | 'ё' => 'e',
        'к' => 'k',
        'м' => 'm',
        'н' => 'h',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'т' => 't',
        'у' => 'y',
        'х' => 'x',
        'і' | 'ї' => 'i',
        'ј' => 'j',
        'ѕ' => 's',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'һ' => 'h',
        // Greek.
        'α' => 'a',
        'β' => 'b',
        'ε' => 'e',
        'η' => 'n',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        // Latin letters with a look-alike twin.
        'ı' => 'i',
        'ℓ' => 'l',
        c => c,
    };
    match c {
        '0' => 'o',
        '1' | 'i' | '|' | 'ǀ' => 'l',
        c => c,
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[derive(Serialize, Deserialize, Default)]
struct FileBody {
    #[serde(default, rename = "device")]
    devices: Vec<KnownDevice>,
}

const HEADER: &str = "# The devices this one has met, keyed by each device's key (SHA-256 of its public key).\n\
                      # Written by Ferry; edit only while Ferry is not running.\n\n";

/// Reads the store. `Err` with a warning when the file exists but cannot be used at all (it is
/// then kept aside as `.bad`); `Ok` with a warning when some entries were dropped.
fn read_file(
    dir: &Path,
) -> Result<(BTreeMap<Fingerprint, KnownDevice>, Option<KnownDevicesWarning>), KnownDevicesWarning> {
    let path = dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((BTreeMap::new(), None)),
        Err(e) => return Err(KnownDevicesWarning::Unreadable { path, detail: e.to_string() }),
    };
    let table: toml::Table = match toml::from_str(&text) {
        Ok(t) => t,
        Err(e) => {
            let aside = dir.join(format!("{FILE_NAME}.bad"));
            let _ = std::fs::rename(&path, &aside);
            return Err(KnownDevicesWarning::Corrupt { path, aside, detail: e.message().to_owned() });
        }
    };
    let entries = match table.get("device") {
        Some(toml::Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let mut devices = BTreeMap::new();
    let mut dropped = 0;
    for entry in entries {
        match entry.try_into::<KnownDevice>() {
            Ok(mut d) => {
                d.name = clean_display_name(&d.name).unwrap_or_default();
                d.addresses.truncate(MAX_ADDRESSES);
                d.earlier_names.truncate(MAX_EARLIER_NAMES);
                devices.entry(d.fingerprint).or_insert(d);
            }
            Err(_) => dropped += 1,
        }
    }
    let warning = (dropped > 0).then_some(KnownDevicesWarning::EntriesDropped { path, count: dropped });
    Ok((devices, warning))
}

/// Writes the store atomically: a temporary file, flushed, renamed over the old one.
fn write_file(dir: &Path, devices: &BTreeMap<Fingerprint, KnownDevice>) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let body = FileBody { devices: devices.values().cloned().collect() };
    let text = toml::to_string_pretty(&body).map_err(io::Error::other)?;
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(HEADER.as_bytes())?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(FILE_NAME))
}

/// Holds the store's lock file until dropped.
fn lock_dir(dir: &Path) -> io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(LOCK_NAME))?;
    file.lock()?;
    Ok(file)
}

#[cfg(test)]
mod tests;
