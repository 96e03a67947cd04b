//! What the person chose — device name, receive folder, ports, look — stored as TOML in the
//! platform's config folder (`FERRY_CONFIG_DIR` overrides it). A file that cannot be read falls
//! back to defaults with a warning; it is never a crash.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{EngineConfig, Warning};
use crate::protocol::{DEFAULT_DISCOVERY_PORT, DEFAULT_TRANSFER_PORT, InstanceId};

/// Environment variable that replaces the config folder (tests, portable installs).
pub const CONFIG_DIR_ENV: &str = "FERRY_CONFIG_DIR";
const FILE_NAME: &str = "settings.toml";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Follow the system locale.
    #[default]
    System,
    English,
    SimplifiedChinese,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Made once, at first start; how other devices tell this one apart.
    pub instance_id: InstanceId,
    /// What other devices show for this one.
    pub device_name: String,
    pub receive_dir: PathBuf,
    /// Read so that older settings files still load; no longer used: accepting without asking
    /// is per device (known devices' "always accept"), and `ferry receive --yes` for scripts.
    pub accept_automatically: bool,
    pub transfer_port: u16,
    pub discovery_port: u16,
    /// Devices added by `host:port`, probed at every start.
    pub remembered_peers: Vec<String>,
    pub language: Language,
    pub theme: Theme,
    /// Where the last file dialog found what was sent, so the next one opens there.
    pub last_pick_dir: Option<PathBuf>,
    /// Speak LocalSend, so LocalSend phones can send to this computer and receive from it.
    pub localsend: bool,
    /// TCP port for LocalSend (UDP discovery uses `localsend_multicast_port`).
    pub localsend_port: u16,
    pub localsend_multicast_group: std::net::Ipv4Addr,
    pub localsend_multicast_port: u16,
    /// Interfaces for LocalSend discovery, by name or IPv4 address; empty: all.
    pub localsend_interfaces: Vec<String>,
    /// Announce HTTPS to LocalSend devices; off announces plain HTTP (for phones whose
    /// LocalSend has encryption off). Both are answered either way.
    pub localsend_encryption: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            instance_id: InstanceId::random(),
            device_name: default_device_name(),
            receive_dir: default_receive_dir(),
            accept_automatically: false,
            transfer_port: DEFAULT_TRANSFER_PORT,
            discovery_port: DEFAULT_DISCOVERY_PORT,
            remembered_peers: Vec::new(),
            language: Language::default(),
            theme: Theme::default(),
            last_pick_dir: None,
            localsend: true,
            localsend_port: crate::localsend::DEFAULT_PORT,
            localsend_multicast_group: crate::localsend::DEFAULT_MULTICAST_GROUP,
            localsend_multicast_port: crate::localsend::DEFAULT_PORT,
            localsend_interfaces: Vec::new(),
            localsend_encryption: true,
        }
    }
}

/// The settings as loaded, and what the person should be told about loading them.
pub struct Loaded {
    pub settings: Settings,
    pub warning: Option<LoadWarning>,
}

/// Why the settings file could not be used, as data: `Display` is the English sentence (the CLI
/// prints it), and the window says each kind in its own language. Ferry then runs with the
/// defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadWarning {
    /// The file at `path` did not parse: kept aside as `aside` (`detail` is the parser's
    /// message). `save_failed`: writing the defaults in its place failed too.
    Corrupt { path: PathBuf, aside: PathBuf, detail: String, save_failed: Option<String> },
    /// The file at `path` exists but could not be read (permissions, say).
    Unreadable { path: PathBuf, detail: String },
    /// There was no file, and one with the defaults could not be written in `dir`.
    NotCreated { dir: PathBuf, detail: String },
}

impl std::fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadWarning::Corrupt { path, aside, detail, save_failed } => {
                write!(
                    f,
                    "Your settings file {} could not be read, so Ferry started with default settings \
                     (the old file was kept as {}). Detail: {detail}",
                    path.display(),
                    aside.display(),
                )?;
                match save_failed {
                    Some(e) => write!(f, " Saving new settings failed too: {e}"),
                    None => Ok(()),
                }
            }
            LoadWarning::Unreadable { path, detail } => write!(
                f,
                "Your settings file {} could not be read ({detail}), so Ferry started with default settings.",
                path.display()
            ),
            LoadWarning::NotCreated { dir, detail } => {
                write!(f, "Could not save settings in {}: {detail}", dir.display())
            }
        }
    }
}

impl Settings {
    /// Loads from [`config_dir`], falling back to defaults. A missing file is created so the
    /// instance id stays the same from now on; a corrupt one is kept aside as `settings.toml.bad`.
    pub fn load() -> Loaded {
        Self::load_from(&config_dir())
    }

    pub fn load_from(dir: &Path) -> Loaded {
        let path = dir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => match toml::from_str::<Settings>(&text) {
                Ok(settings) => Loaded { settings, warning: None },
                Err(e) => {
                    let aside = dir.join(format!("{FILE_NAME}.bad"));
                    let _ = std::fs::rename(&path, &aside);
                    let settings = Settings::default();
                    let save_failed = settings.save_to(dir).err().map(|e| e.to_string());
                    let detail = e.message().to_owned();
                    Loaded {
                        settings,
                        warning: Some(LoadWarning::Corrupt { path, aside, detail, save_failed }),
                    }
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let settings = Settings::default();
                let warning = settings
                    .save_to(dir)
                    .err()
                    .map(|e| LoadWarning::NotCreated { dir: dir.to_path_buf(), detail: e.to_string() });
                Loaded { settings, warning }
            }
            Err(e) => Loaded {
                settings: Settings::default(),
                warning: Some(LoadWarning::Unreadable { path, detail: e.to_string() }),
            },
        }
    }

    pub fn save(&self) -> std::io::Result<()> {
        self.save_to(&config_dir())
    }

    /// Writes atomically: a temporary file renamed over the old one.
    pub fn save_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let text = toml::to_string_pretty(self).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(FILE_NAME))
    }

    /// An engine set up as these settings say (default addresses; front ends override what their
    /// flags change).
    pub fn engine_config(&self) -> EngineConfig {
        let dir = config_dir();
        // The stored key; one for this run only when none can be stored.
        let (identity, warning) = match crate::identity::DeviceIdentity::load_or_create(&dir) {
            Ok(loaded) => (loaded.identity, loaded.warning),
            Err(e) => (
                crate::engine::fresh_identity(),
                Some(crate::identity::IdentityWarning::ThisRunOnly { detail: e.to_string() }),
            ),
        };
        let mut c = EngineConfig::with_identity(
            self.instance_id,
            self.device_name.clone(),
            self.receive_dir.clone(),
            identity,
        );
        c.warnings.extend(warning.map(Warning::Identity));
        // Not from the settings file: accepting without asking is per device now (known
        // devices' "always accept"); `ferry receive --yes` is the one switch for everything.
        c.transfer_port = self.transfer_port;
        c.discovery_port = self.discovery_port;
        c.remembered_peers = self.remembered_peers.clone();
        c.localsend = self.localsend_options();
        let known = crate::identity::known::KnownDevices::open(&dir);
        c.known = std::sync::Arc::new(std::sync::Mutex::new(known.store));
        c.warnings.extend(known.warning.map(Warning::KnownDevices));
        c
    }

    /// The LocalSend side as these settings say.
    fn localsend_options(&self) -> crate::engine::LocalSendOptions {
        crate::engine::LocalSendOptions {
            enabled: self.localsend,
            port: self.localsend_port,
            group: self.localsend_multicast_group,
            group_port: self.localsend_multicast_port,
            interfaces: self.localsend_interfaces.clone(),
            encryption: self.localsend_encryption,
            ..Default::default()
        }
    }
}

/// `FERRY_CONFIG_DIR`, else the platform's config folder for Ferry.
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    // The *local* config folder: on Windows the other one is roaming (`AppData\Roaming`) and
    // follows the person to every PC of a domain, and with it this device's instance id and key,
    // so two PCs would be one device. Linux and macOS have only one.
    directories::ProjectDirs::from("", "", "Ferry")
        .map(|p| p.config_local_dir().to_path_buf())
        .unwrap_or_else(|| home_dir().join(".config").join("ferry"))
}

/// The platform's Downloads folder, or `~/Downloads` where the platform does not say.
pub fn default_receive_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| u.download_dir().map(Path::to_path_buf))
        .unwrap_or_else(|| home_dir().join("Downloads"))
}

fn home_dir() -> PathBuf {
    directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from("."))
}

/// A friendly name that tells this computer apart from others on the network, made once at first
/// start (the person can change it in Settings):
///
/// 1. macOS: the computer name the system already shows people ("Anna's MacBook Air").
/// 2. The person's first name and the computer's kind: "Anna's laptop", "王小明的台式电脑".
/// 3. The host name, when it is not a generic one ("ubuntu", "vm", "DESKTOP-4F2K1" ...).
/// 4. A memorable random name: "Amber Otter" (as LocalSend does).
pub fn default_device_name() -> String {
    let chinese = sys_locale::get_locale().is_some_and(|l| l.to_ascii_lowercase().starts_with("zh"));
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let candidate = platform::system_computer_name()
        .filter(|n| !is_generic_host_name(n))
        .or_else(|| {
            let person = platform::real_name().or_else(|| login_name_as_name(&platform::login_name()?))?;
            Some(personal_device_name(&person, platform::computer_kind(), chinese))
        })
        .or_else(|| (!is_generic_host_name(&host)).then_some(host))
        .and_then(|n| crate::protocol::clean_display_name(&n));
    candidate.unwrap_or_else(|| random_device_name(&random_bytes()))
}

/// What kind of computer this is, for its default name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComputerKind {
    Laptop,
    Desktop,
    Tablet,
    /// Not known (virtual machines report "other"); "PC" on Windows.
    Computer,
}

/// "Anna's laptop" from "Anna Schmidt" (the first word of a Latin-script name), "王小明的笔记本电脑"
/// in a Chinese locale (whole name, no space).
pub fn personal_device_name(real_name: &str, kind: ComputerKind, chinese: bool) -> String {
    let name = real_name.trim();
    // Names written without spaces (Chinese, Japanese, Korean) are kept whole; others by first name.
    let first = if name.chars().any(|c| c.is_ascii_alphabetic() || ('\u{C0}'..'\u{2000}').contains(&c)) {
        name.split_whitespace().next().unwrap_or(name)
    } else {
        name
    };
    if chinese {
        let kind = match kind {
            ComputerKind::Laptop => "笔记本电脑",
            ComputerKind::Desktop => "台式电脑",
            ComputerKind::Tablet => "平板电脑",
            ComputerKind::Computer => "电脑",
        };
        return format!("{first}的{kind}");
    }
    let kind = match kind {
        ComputerKind::Laptop => "laptop",
        ComputerKind::Desktop => "desktop",
        ComputerKind::Tablet => "tablet",
        ComputerKind::Computer if cfg!(windows) => "PC",
        ComputerKind::Computer => "computer",
    };
    let possessive = if first.ends_with(['s', 'S']) { "'" } else { "'s" };
    format!("{first}{possessive} {kind}")
}

/// Host names that say nothing about whose computer it is: distribution and cloud defaults,
/// Windows' generated `DESKTOP-4F2K1AB`, container ids, `localhost`.
pub fn is_generic_host_name(host: &str) -> bool {
    const GENERIC: &[&str] = &[
        "localhost",
        "localhost.localdomain",
        "ubuntu",
        "debian",
        "fedora",
        "arch",
        "archlinux",
        "manjaro",
        "mint",
        "linuxmint",
        "kali",
        "pop-os",
        "raspberrypi",
        "raspberry",
        "opensuse",
        "centos",
        "rocky",
        "alma",
        "vm",
        "pc",
        "desktop",
        "laptop",
        "computer",
        "linux",
        "host",
        "server",
        "box",
        "machine",
        "default",
        "user",
        "android",
        "iphone",
        "ipad",
        "mac",
        "macbook",
        "imac",
        "none",
        "(none)",
        "test",
        "demo",
        "guest",
        "live",
        "penguin",
        "steamdeck",
        "workstation",
    ];
    let lower = host.trim().to_ascii_lowercase();
    let short = lower.split('.').next().unwrap_or("");
    if short.is_empty() || GENERIC.contains(&short) || GENERIC.contains(&lower.as_str()) {
        return true;
    }
    // DESKTOP-4F2K1AB, LAPTOP-9K3M2, WIN-ABC123, PC-1234, ip-10-0-0-7, ubuntu-vm, vm-01 ...
    if let Some((head, tail)) = short.split_once('-') {
        let generated = tail.len() >= 4 && tail.chars().all(|c| c.is_ascii_alphanumeric());
        if matches!(head, "desktop" | "laptop" | "win" | "pc" | "ip" | "vm" | "instance" | "host") {
            return generated || tail.chars().all(|c| c.is_ascii_digit() || c == '-');
        }
        if GENERIC.contains(&head) && matches!(tail, "vm" | "pc" | "box" | "desktop" | "server" | "laptop") {
            return true;
        }
    }
    // Container ids and the like: only hex digits, or only digits.
    (short.len() >= 8 && short.chars().all(|c| c.is_ascii_hexdigit()))
        || short.chars().all(|c| c.is_ascii_digit() || c == '-')
}

/// A login name that looks like a person's name ("anna" → "Anna"); `None` for "root", "user",
/// "admin", "pi" and other accounts no one is called.
pub fn login_name_as_name(login: &str) -> Option<String> {
    const NOT_PEOPLE: &[&str] = &[
        "root",
        "user",
        "admin",
        "administrator",
        "ubuntu",
        "debian",
        "pi",
        "vagrant",
        "guest",
        "test",
        "demo",
        "owner",
        "default",
        "live",
        "kali",
        "fedora",
        "osboxes",
        "dev",
        "developer",
        "student",
        "me",
        "home",
        "nobody",
        "docker",
        "runner",
        "ec2-user",
        "centos",
        "alarm",
        "deck",
    ];
    let login = login.trim();
    let lower = login.to_lowercase();
    let plausible = (2..=20).contains(&login.chars().count())
        && login.chars().all(char::is_alphabetic)
        && !NOT_PEOPLE.contains(&lower.as_str());
    if !plausible {
        return None;
    }
    let mut chars = lower.chars();
    let first = chars.next()?;
    Some(first.to_uppercase().chain(chars).collect())
}

/// "Amber Otter": one of 32 adjectives and one of 32 animals, from two random bytes.
pub fn random_device_name(random: &[u8; 2]) -> String {
    const ADJECTIVES: [&str; 32] = [
        "Amber", "Brave", "Calm", "Clever", "Cosy", "Crimson", "Gentle", "Golden", "Happy", "Jolly", "Kind",
        "Lively", "Lucky", "Mellow", "Misty", "Nimble", "Patient", "Plucky", "Quiet", "Rapid", "Rosy",
        "Silver", "Sleepy", "Sunny", "Swift", "Tidy", "Velvet", "Witty", "Breezy", "Cheerful", "Dapper",
        "Frosty",
    ];
    const ANIMALS: [&str; 32] = [
        "Otter", "Badger", "Heron", "Fox", "Panda", "Robin", "Koala", "Lynx", "Owl", "Puffin", "Seal",
        "Tiger", "Walrus", "Wombat", "Yak", "Zebra", "Beaver", "Bison", "Crane", "Dolphin", "Falcon",
        "Gecko", "Hedgehog", "Ibis", "Jaguar", "Lemur", "Marten", "Narwhal", "Pelican", "Quokka", "Raven",
        "Swan",
    ];
    format!("{} {}", ADJECTIVES[usize::from(random[0]) % 32], ANIMALS[usize::from(random[1]) % 32])
}

fn random_bytes() -> [u8; 2] {
    let mut bytes = [0u8; 2];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes = [nanos.subsec_nanos() as u8, (nanos.subsec_nanos() >> 8) as u8];
    }
    bytes
}

/// Where each platform keeps the person's name and the computer's kind. Only files and commands
/// every installation has; no new dependencies.
mod platform {
    use super::ComputerKind;

    pub fn login_name() -> Option<String> {
        ["USER", "LOGNAME", "USERNAME"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    }

    /// The full name the person gave their account, if any.
    #[cfg(all(unix, not(target_os = "macos")))]
    pub fn real_name() -> Option<String> {
        let login = login_name()?;
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        super::real_name_from_passwd(&passwd, &login)
    }

    #[cfg(target_os = "macos")]
    pub fn real_name() -> Option<String> {
        command_output("/usr/bin/id", &["-F"])
    }

    /// The account's display name ("Anna Schmidt"; for a Microsoft account the name on it). The
    /// login name is no substitute there: it is often the first five letters of an e-mail address.
    #[cfg(windows)]
    pub fn real_name() -> Option<String> {
        #[link(name = "secur32")]
        unsafe extern "system" {
            fn GetUserNameExW(format: i32, name: *mut u16, size: *mut u32) -> u8;
        }
        const NAME_DISPLAY: i32 = 3;
        let mut buffer = [0u16; 256];
        let mut len = buffer.len() as u32;
        // SAFETY: the buffer and its length live on this stack; the call writes at most `len`
        // UTF-16 units and sets `len` to the count written (without the terminating zero).
        let ok = unsafe { GetUserNameExW(NAME_DISPLAY, buffer.as_mut_ptr(), &mut len) } != 0;
        let name = String::from_utf16(buffer.get(..len as usize)?).ok()?;
        (ok && !name.trim().is_empty()).then(|| name.trim().to_owned())
    }

    #[cfg(not(any(unix, windows)))]
    pub fn real_name() -> Option<String> {
        None
    }

    /// macOS names computers for people already ("Anna's MacBook Air").
    #[cfg(target_os = "macos")]
    pub fn system_computer_name() -> Option<String> {
        command_output("/usr/sbin/scutil", &["--get", "ComputerName"])
    }

    #[cfg(not(target_os = "macos"))]
    pub fn system_computer_name() -> Option<String> {
        None
    }

    #[cfg(target_os = "linux")]
    pub fn computer_kind() -> ComputerKind {
        // systemd's hostnamectl override first, then the firmware's chassis type.
        let machine_info = std::fs::read_to_string("/etc/machine-info").unwrap_or_default();
        let chassis =
            machine_info.lines().find_map(|l| l.strip_prefix("CHASSIS=")).map(|c| c.trim_matches('"'));
        match chassis {
            Some("laptop" | "convertible") => return ComputerKind::Laptop,
            Some("desktop") => return ComputerKind::Desktop,
            Some("tablet" | "handset") => return ComputerKind::Tablet,
            _ => {}
        }
        let dmi = std::fs::read_to_string("/sys/class/dmi/id/chassis_type").unwrap_or_default();
        super::kind_from_chassis_type(dmi.trim().parse().unwrap_or(0))
    }

    #[cfg(target_os = "macos")]
    pub fn computer_kind() -> ComputerKind {
        match command_output("/usr/sbin/sysctl", &["-n", "hw.model"]) {
            Some(model) if model.starts_with("MacBook") => ComputerKind::Laptop,
            Some(_) => ComputerKind::Desktop,
            None => ComputerKind::Computer,
        }
    }

    /// A computer with a battery is a laptop (or a tablet); one without is a desktop.
    #[cfg(windows)]
    pub fn computer_kind() -> ComputerKind {
        #[repr(C)]
        #[derive(Default)]
        struct SystemPowerStatus {
            ac_line_status: u8,
            battery_flag: u8,
            battery_life_percent: u8,
            system_status_flag: u8,
            battery_life_time: u32,
            battery_full_life_time: u32,
        }
        #[link(name = "kernel32")]
        unsafe extern "system" {
            fn GetSystemPowerStatus(status: *mut SystemPowerStatus) -> i32;
        }
        let mut status = SystemPowerStatus::default();
        // SAFETY: writes only into `status`, which lives on this stack.
        if unsafe { GetSystemPowerStatus(&mut status) } == 0 {
            return ComputerKind::Computer;
        }
        match status.battery_flag {
            128 => ComputerKind::Desktop,  // "no system battery"
            255 => ComputerKind::Computer, // "unknown status"
            _ => ComputerKind::Laptop,
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    pub fn computer_kind() -> ComputerKind {
        ComputerKind::Computer
    }

    #[cfg(target_os = "macos")]
    fn command_output(program: &str, args: &[&str]) -> Option<String> {
        let out = std::process::Command::new(program).args(args).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let text = text.trim();
        (out.status.success() && !text.is_empty()).then(|| text.to_owned())
    }
}

/// The full name in `login`'s `/etc/passwd` entry (the first comma-separated part of the GECOS
/// field), when there is one that is not just the login name again.
pub fn real_name_from_passwd(passwd: &str, login: &str) -> Option<String> {
    let line = passwd.lines().find(|l| l.split(':').next() == Some(login))?;
    let gecos = line.split(':').nth(4)?;
    let name = gecos.split(',').next()?.trim();
    let useless = name.is_empty()
        || name.eq_ignore_ascii_case(login)
        || login_name_as_name(name).is_none()
            && name.split_whitespace().count() == 1
            && name.chars().all(|c| c.is_ascii_alphanumeric());
    (!useless).then(|| name.to_owned())
}

/// SMBIOS chassis types (DMTF DSP0134, 7.4.1).
pub fn kind_from_chassis_type(t: u32) -> ComputerKind {
    match t {
        8 | 9 | 10 | 14 | 31 | 32 => ComputerKind::Laptop,
        3 | 4 | 5 | 6 | 7 | 13 | 15 | 16 | 24 | 35 | 36 => ComputerKind::Desktop,
        11 | 30 => ComputerKind::Tablet,
        _ => ComputerKind::Computer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_load_creates_the_file_and_keeps_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let first = Settings::load_from(dir.path());
        assert!(first.warning.is_none());
        assert!(dir.path().join(FILE_NAME).exists());
        let second = Settings::load_from(dir.path());
        assert_eq!(first.settings, second.settings);
    }

    #[test]
    fn corrupt_file_falls_back_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "device_name = [not toml").unwrap();
        let loaded = Settings::load_from(dir.path());
        let warning = loaded.warning.expect("a warning").to_string();
        assert!(warning.contains("could not be read"), "{warning}");
        assert!(dir.path().join("settings.toml.bad").exists());
        assert_eq!(loaded.settings.transfer_port, DEFAULT_TRANSFER_PORT);
    }

    #[test]
    fn missing_fields_take_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "device_name = \"Kitchen PC\"\ntheme = \"dark\"\n")
            .unwrap();
        let loaded = Settings::load_from(dir.path());
        assert!(loaded.warning.is_none());
        assert_eq!(loaded.settings.device_name, "Kitchen PC");
        assert_eq!(loaded.settings.theme, Theme::Dark);
        assert_eq!(loaded.settings.discovery_port, DEFAULT_DISCOVERY_PORT);
    }

    #[test]
    fn round_trips_through_toml() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings {
            device_name: "王的电脑".into(),
            remembered_peers: vec!["192.0.2.1:53531".into()],
            ..Settings::default()
        };
        s.save_to(dir.path()).unwrap();
        assert_eq!(Settings::load_from(dir.path()).settings, s);
    }

    #[test]
    fn default_names_are_friendly_and_never_generic() {
        assert_eq!(personal_device_name("Anna Schmidt", ComputerKind::Laptop, false), "Anna's laptop");
        assert_eq!(personal_device_name("James", ComputerKind::Desktop, false), "James' desktop");
        assert_eq!(personal_device_name("王小明", ComputerKind::Laptop, true), "王小明的笔记本电脑");
        assert_eq!(personal_device_name("Zoë", ComputerKind::Tablet, true), "Zoë的平板电脑");
        for generic in [
            "ubuntu",
            "vm",
            "localhost",
            "DESKTOP-4F2K1AB",
            "LAPTOP-9K3M2QX",
            "WIN-ABC123",
            "raspberrypi",
            "ip-10-0-0-7",
            "3f2a9c1b7d4e",
            "debian.lan",
            "ubuntu-vm",
            "fedora",
            "",
        ] {
            assert!(is_generic_host_name(generic), "{generic}");
        }
        for distinct in ["annas-thinkpad", "kitchen-pc", "wang-mbp", "studio"] {
            assert!(!is_generic_host_name(distinct), "{distinct}");
        }
        assert_eq!(login_name_as_name("anna").as_deref(), Some("Anna"));
        for not_a_person in ["root", "user", "pi", "ec2-user", "x", "user1"] {
            assert_eq!(login_name_as_name(not_a_person), None, "{not_a_person}");
        }
        let passwd = "root:x:0:0:root:/root:/bin/bash\nanna:x:1000:1000:Anna Schmidt,,,:/home/anna:/bin/bash\n\
                      bob:x:1001:1001::/home/bob:/bin/sh\n";
        assert_eq!(real_name_from_passwd(passwd, "anna").as_deref(), Some("Anna Schmidt"));
        assert_eq!(real_name_from_passwd(passwd, "bob"), None);
        assert_eq!(real_name_from_passwd(passwd, "root"), None);
        assert_eq!(kind_from_chassis_type(10), ComputerKind::Laptop);
        assert_eq!(kind_from_chassis_type(3), ComputerKind::Desktop);
        assert_eq!(kind_from_chassis_type(1), ComputerKind::Computer, "virtual machines say 'other'");
        assert_eq!(random_device_name(&[0, 0]), "Amber Otter");
        assert_ne!(random_device_name(&[1, 2]), random_device_name(&[2, 1]));
        // Whatever this machine is, its default is a usable name that is not a generic host name.
        let name = default_device_name();
        assert!(
            !is_generic_host_name(&name) && crate::protocol::clean_display_name(&name).is_some(),
            "{name}"
        );
    }
}
