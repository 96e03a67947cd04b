//! How an engine is set up: identity, folders, addresses and timings. Built from
//! [`crate::settings::Settings`] by front ends, or directly by tests.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::admission::Limits;
use crate::events::{Timing, Warning};
use crate::identity::DeviceIdentity;
use crate::identity::known::KnownDevices;
use crate::protocol::{DEFAULT_DISCOVERY_PORT, DEFAULT_TRANSFER_PORT, InstanceId, Os};

#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Stable per install; peers tell us apart by it, and we ignore our own datagrams by it.
    pub instance: InstanceId,
    pub device_name: String,
    pub os: Os,
    /// Where accepted files land (created when missing).
    pub receive_dir: PathBuf,
    /// Accept every offer without asking: the explicit switch for scripts and tests. Never
    /// applies to a device that gives a known device's name with another key
    /// ([`crate::identity::known::Trust::Changed`]). What a person turns on for one device is
    /// "always accept from this device", kept with its key
    /// ([`crate::identity::known::KnownDevices::set_always_accept`]) and honoured without this.
    pub accept_automatically: bool,
    /// Receive at all: listen for transfers on `transfer_port`. `false` for the command line's
    /// `send` and `peers`, which must never receive: then there is no listening socket, HELLO
    /// and discovery say "transfer port 0", nobody is announced, and the receive folder is not
    /// touched (not even created).
    pub listen: bool,
    /// Address the transfer listener and both discovery sockets bind to.
    pub bind: IpAddr,
    /// TCP port for transfers; 0 picks a free one (tests).
    pub transfer_port: u16,
    /// UDP port every node listens on for discovery.
    pub discovery_port: u16,
    /// Run broadcast discovery at all.
    pub discovery: bool,
    /// List ourselves on other devices. `false` for the command line's `send` and `peers`: they
    /// look for devices without being one. (Only an engine that listens can be listed.)
    pub announce: bool,
    /// Where announcements go. `None`: the directed broadcast address of every up, non-loopback
    /// IPv4 interface plus 255.255.255.255. Tests use `127.255.255.255`.
    pub broadcast: Option<Vec<SocketAddr>>,
    /// `host:port` of devices added by hand; probed at start.
    pub remembered_peers: Vec<String>,
    /// Put JPEG thumbnails of images in outgoing offers.
    pub thumbnails: bool,
    pub timing: Timing,
    /// How many incoming connections are let in at once, in all and per address.
    pub admission: Limits,
    /// The LocalSend side (phones); off unless a front end turns it on.
    pub localsend: super::LocalSendOptions,
    /// This device's key and certificate (protocol version 2 and LocalSend). [`Self::new`]
    /// makes one for this run only; front ends load the stored one
    /// ([`crate::settings::Settings::engine_config`]).
    pub identity: DeviceIdentity,
    /// The devices this one has met, by key. [`Self::new`] keeps them in memory only; front ends
    /// open the store in the config folder, and the window shares this handle with the engine.
    pub known: Arc<Mutex<KnownDevices>>,
    /// Said once the engine runs, as [`Event::Warning`](crate::events::Event::Warning)s (a
    /// device key that had to be made anew, a known-devices file that could not be read ...).
    pub warnings: Vec<Warning>,
}

impl EngineConfig {
    /// A config with default ports and timings, and a device key made for this run only.
    pub fn new(
        instance: InstanceId,
        device_name: impl Into<String>,
        receive_dir: impl Into<PathBuf>,
    ) -> Self {
        EngineConfig::with_identity(instance, device_name, receive_dir, fresh_identity())
    }

    /// [`Self::new`] with this device's key (as loaded from the config folder).
    pub fn with_identity(
        instance: InstanceId,
        device_name: impl Into<String>,
        receive_dir: impl Into<PathBuf>,
        identity: DeviceIdentity,
    ) -> Self {
        EngineConfig {
            instance,
            device_name: device_name.into(),
            os: Os::current(),
            receive_dir: receive_dir.into(),
            accept_automatically: false,
            listen: true,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            transfer_port: DEFAULT_TRANSFER_PORT,
            discovery_port: DEFAULT_DISCOVERY_PORT,
            discovery: true,
            announce: true,
            broadcast: None,
            remembered_peers: Vec::new(),
            thumbnails: false,
            timing: Timing::default(),
            admission: Limits::default(),
            localsend: super::LocalSendOptions::default(),
            identity,
            known: Arc::new(Mutex::new(KnownDevices::in_memory())),
            warnings: Vec::new(),
        }
    }
}

/// A new P-256 key from the system's random source: fails only when there is none.
pub fn fresh_identity() -> DeviceIdentity {
    DeviceIdentity::generate().expect("making a device key failed: no system random source")
}

/// Environment variables that override the network settings of any front end (window or CLI),
/// so the app can be pointed at loopback or at a test network without touching settings files.
pub mod env {
    /// TCP transfer port.
    pub const PORT: &str = "FERRY_PORT";
    /// UDP discovery port.
    pub const DISCOVERY_PORT: &str = "FERRY_DISCOVERY_PORT";
    /// Comma-separated broadcast targets (`127.255.255.255` or `127.255.255.255:40000`); replaces
    /// the computed ones. A target without a port uses the discovery port.
    pub const BROADCAST: &str = "FERRY_BROADCAST";
    /// Address to bind to.
    pub const BIND: &str = "FERRY_BIND";
}

impl EngineConfig {
    /// Applies the `FERRY_*` network variables in [`env`]. Returns a plain-language error for a
    /// value that does not parse.
    pub fn apply_env(&mut self) -> Result<(), String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(v) = var(env::PORT) {
            self.transfer_port = parse_port(env::PORT, &v)?;
        }
        if let Some(v) = var(env::DISCOVERY_PORT) {
            self.discovery_port = parse_port(env::DISCOVERY_PORT, &v)?;
        }
        if let Some(v) = var(env::BIND) {
            self.bind = v.trim().parse().map_err(|_| format!("{} is not an IP address: {v}", env::BIND))?;
        }
        if let Some(v) = var(env::BROADCAST) {
            let targets = v
                .split(',')
                .map(|t| parse_broadcast_target(t.trim(), self.discovery_port))
                .collect::<Result<Vec<_>, _>>()?;
            self.broadcast = Some(targets);
        }
        self.localsend.apply_env()
    }
}

fn parse_port(name: &str, v: &str) -> Result<u16, String> {
    v.trim().parse().map_err(|_| format!("{name} must be a port number from 0 to 65535, not {v:?}"))
}

/// `ADDR` or `ADDR:PORT`; a target without a port gets `default_port`.
pub fn parse_broadcast_target(s: &str, default_port: u16) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, default_port)).map_err(|_| {
        format!("{s:?} is not a broadcast address (like 192.168.1.255 or 127.255.255.255:53530)")
    })
}
