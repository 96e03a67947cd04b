//! What the person chose — device name, receive folder, ports, look — stored as TOML in the
//! platform's config folder (`FERRY_CONFIG_DIR` overrides it). A file that cannot be read falls
//! back to defaults with a warning; it is never a crash.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::EngineConfig;
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
    pub accept_automatically: bool,
    pub transfer_port: u16,
    pub discovery_port: u16,
    /// Devices added by `host:port`, probed at every start.
    pub remembered_peers: Vec<String>,
    pub language: Language,
    pub theme: Theme,
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
    pub warning: Option<String>,
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
                    let saved = settings.save_to(dir);
                    let mut warning = format!(
                        "Your settings file {} could not be read, so Ferry started with default settings \
                         (the old file was kept as {}). Detail: {}",
                        path.display(),
                        aside.display(),
                        e.message()
                    );
                    if let Err(e) = saved {
                        warning.push_str(&format!(" Saving new settings failed too: {e}"));
                    }
                    Loaded { settings, warning: Some(warning) }
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let settings = Settings::default();
                let warning = settings
                    .save_to(dir)
                    .err()
                    .map(|e| format!("Could not save settings in {}: {e}", dir.display()));
                Loaded { settings, warning }
            }
            Err(e) => Loaded {
                settings: Settings::default(),
                warning: Some(format!(
                    "Your settings file {} could not be read ({e}), so Ferry started with default settings.",
                    path.display()
                )),
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
        let mut c = EngineConfig::new(self.instance_id, self.device_name.clone(), self.receive_dir.clone());
        c.accept_automatically = self.accept_automatically;
        c.transfer_port = self.transfer_port;
        c.discovery_port = self.discovery_port;
        c.remembered_peers = self.remembered_peers.clone();
        c.localsend = self.localsend_options();
        c
    }

    /// The LocalSend side as these settings say, with this device's key from the config folder.
    fn localsend_options(&self) -> crate::engine::LocalSendOptions {
        let mut o = crate::engine::LocalSendOptions {
            enabled: self.localsend,
            port: self.localsend_port,
            group: self.localsend_multicast_group,
            group_port: self.localsend_multicast_port,
            interfaces: self.localsend_interfaces.clone(),
            encryption: self.localsend_encryption,
            ..Default::default()
        };
        if o.enabled {
            match crate::identity::DeviceIdentity::load_or_create(&config_dir()) {
                Ok(loaded) => {
                    o.identity = Some(loaded.identity);
                    o.identity_warning = loaded.warning;
                }
                Err(e) => o.identity_warning = Some(format!("This device's key could not be made: {e}")),
            }
        }
        o
    }
}

/// `FERRY_CONFIG_DIR`, else the platform's config folder for Ferry.
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "Ferry")
        .map(|p| p.config_dir().to_path_buf())
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

/// The host name, cleaned; "Ferry device" when there is none.
pub fn default_device_name() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    crate::protocol::clean_display_name(&host).unwrap_or_else(|| "Ferry device".to_owned())
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
        let warning = loaded.warning.expect("a warning");
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
}
