//! The headless front end: `ferry receive`, `ferry send`, `ferry peers`, `ferry identity`. It drives the same
//! engine as the window, through the same commands and events; scripts get one JSON event per
//! line with `--json`.
//!
//! Exit codes: 0 done; 1 the transfer failed (or some files were not saved); 2 bad usage;
//! 3 the other side declined; 4 cancelled; 130 interrupted (Ctrl+C).

mod identity;
mod localsend;
mod output;
mod peers;
mod receive;
mod send;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::engine::{EngineConfig, parse_broadcast_target};
use crate::settings::Settings;

#[derive(Parser, Debug)]
#[command(name = "ferry", version = version_line(), about = "Move photos and files between computers on the same network.")]
#[command(after_help = "Run `ferry` with no arguments to open the window, or `ferry PATH...` to open it \
                         with those files chosen.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    /// Files and folders to put in the window's send list ("Open with Ferry").
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub net: NetArgs,
}

/// What `ferry --version` prints after the name: this build and the protocol it speaks
/// (`0.1.0 (protocol 1)`), so two computers that cannot talk can tell why.
fn version_line() -> &'static str {
    static LINE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("{} (protocol {})", env!("CARGO_PKG_VERSION"), crate::protocol::PROTOCOL_VERSION)
    });
    &LINE
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Wait for files from other devices and save them in the receive folder.
    Receive {
        /// Folder to save into (default: the receive folder from the settings).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Accept every offer without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Exit after one transfer.
        #[arg(long)]
        once: bool,
    },
    /// Send files and folders to another device.
    Send {
        /// Files and folders to send.
        #[arg(required_unless_present = "text", conflicts_with = "text", value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Send this text instead of files (a link, a Wi-Fi password, an address; at most
        /// 16 KiB). `-` reads it from standard input.
        #[arg(long, value_name = "TEXT")]
        text: Option<String>,
        /// The device: its name as `ferry peers` shows it, its fingerprint (the short form
        /// `ferry peers` shows, or all 64 hex digits), or HOST:PORT. A name whose device has
        /// another key than the one known under that name is refused.
        #[arg(long, value_name = "NAME|FINGERPRINT|HOST:PORT")]
        to: String,
        /// How long to look for a device given by name, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 5.0)]
        wait: f64,
    },
    /// List the devices nearby.
    Peers {
        /// How long to listen, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 2.0)]
        wait: f64,
    },
    /// Show this device's fingerprint: the key other devices know it by.
    Identity {
        /// Make a new key: devices that know this one will see it as new.
        #[arg(long)]
        reset: bool,
        /// Don't ask before resetting.
        #[arg(long, short = 'y', requires = "reset")]
        yes: bool,
    },
}

/// Flags every subcommand shares.
#[derive(Args, Debug, Clone)]
pub struct NetArgs {
    /// TCP port to accept transfers on (default 53531). Only `receive` listens: `send` and `peers`
    /// accept nothing.
    #[arg(long, global = true, value_name = "PORT")]
    pub port: Option<u16>,
    /// UDP port for discovery (default 53530).
    #[arg(long, global = true, value_name = "PORT")]
    pub discovery_port: Option<u16>,
    /// Where to broadcast announcements (repeatable); replaces the addresses computed from the
    /// network interfaces. ADDR or ADDR:PORT.
    #[arg(long, global = true, value_name = "ADDR")]
    pub broadcast: Vec<String>,
    /// Local address to bind to.
    #[arg(long, global = true, value_name = "ADDR")]
    pub bind: Option<IpAddr>,
    /// Device name to show to others (default: from the settings, else the host name).
    #[arg(long, global = true, value_name = "NAME")]
    pub name: Option<String>,
    /// Print one JSON event per line instead of progress bars.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub localsend: localsend::LocalSendArgs,
}

/// Runs the command line; `main` returns what this returns.
pub fn run(cmd: Cmd, net: &NetArgs) -> ExitCode {
    let result = match cmd {
        Cmd::Receive { dir, yes, once } => receive::run(dir, yes, once, net),
        Cmd::Send { paths, text, to, wait } => send::run(paths, text, &to, wait, net),
        Cmd::Peers { wait } => peers::run(wait, net),
        Cmd::Identity { reset, yes } => identity::run(reset, yes, net.json),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferry: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Settings file, then `FERRY_*` variables, then flags. `listen_port_default` is the transfer
/// port when no flag gives one (`None`: the settings' port).
fn engine_config(net: &NetArgs, listen_port_default: Option<u16>) -> Result<EngineConfig> {
    let loaded = Settings::load();
    if let Some(w) = loaded.warning {
        eprintln!("ferry: warning: {w}");
    }
    let mut config = loaded.settings.engine_config();
    if let Some(port) = listen_port_default {
        config.transfer_port = port;
    }
    config.apply_env().map_err(anyhow::Error::msg)?;
    if let Some(port) = net.port {
        config.transfer_port = port;
    }
    if let Some(port) = net.discovery_port {
        config.discovery_port = port;
    }
    if let Some(bind) = net.bind {
        config.bind = bind;
    }
    if !net.broadcast.is_empty() {
        let targets = net
            .broadcast
            .iter()
            .map(|t| parse_broadcast_target(t, config.discovery_port))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        config.broadcast = Some(targets);
    }
    localsend::apply(&net.localsend, &mut config).map_err(anyhow::Error::msg)?;
    if let Some(name) = &net.name {
        config.device_name = crate::protocol::clean_display_name(name)
            .with_context(|| format!("{name:?} is not a usable device name"))?;
    }
    Ok(config)
}

/// Becomes true when Ctrl+C (or SIGTERM) arrives; the command loops look at it so they can
/// cancel cleanly (the other side is told, temporary files are removed).
fn interrupted() -> &'static AtomicBool {
    static FLAG: AtomicBool = AtomicBool::new(false);
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| FLAG.store(true, Ordering::SeqCst));
    });
    &FLAG
}

/// The engine's waker: the command line polls its event channel, so nothing needs waking.
fn no_waker() -> crate::engine::Waker {
    Arc::new(|| {})
}

#[cfg(test)]
mod version_tests {
    use clap::CommandFactory;

    #[test]
    fn version_names_the_build_and_the_protocol() {
        let shown = super::Cli::command().render_version();
        let want =
            format!("ferry {} (protocol {})", env!("CARGO_PKG_VERSION"), crate::protocol::PROTOCOL_VERSION);
        assert_eq!(shown.trim_end(), want);
    }
}
