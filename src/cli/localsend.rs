//! The command line's LocalSend switches, and how LocalSend things are printed.

use clap::Args;

use crate::engine::{DeviceType, EngineConfig, Peer, PeerInfo, PeerSource};
use crate::text;

/// Flags for the LocalSend side (phones), shared by every subcommand.
#[derive(Args, Debug, Clone, Default)]
pub struct LocalSendArgs {
    /// Don't speak LocalSend (phones) at all.
    #[arg(long, global = true)]
    pub no_localsend: bool,
    /// TCP port for LocalSend (default 53317; a free one when it is taken).
    #[arg(long, global = true, value_name = "PORT")]
    pub localsend_port: Option<u16>,
    /// LocalSend's discovery group, ADDR or ADDR:PORT (default 224.0.0.167:53317). On loopback a
    /// broadcast address such as 127.255.255.255:PORT works instead.
    #[arg(long, global = true, value_name = "ADDR")]
    pub localsend_group: Option<String>,
    /// Interface for LocalSend discovery, by name or IPv4 address (repeatable; default: every
    /// non-loopback one).
    #[arg(long, global = true, value_name = "IFACE")]
    pub localsend_interface: Vec<String>,
    /// Announce plain HTTP to LocalSend devices, for phones whose LocalSend has encryption off
    /// (HTTPS is still answered).
    #[arg(long, global = true)]
    pub localsend_http: bool,
}

/// Applies the flags on top of the settings and `FERRY_LOCALSEND*` variables.
pub fn apply(args: &LocalSendArgs, config: &mut EngineConfig) -> Result<(), String> {
    let o = &mut config.localsend;
    if args.no_localsend {
        o.enabled = false;
    }
    if let Some(port) = args.localsend_port {
        o.port = port;
    }
    if let Some(group) = &args.localsend_group {
        o.set_group(group)?;
    }
    if !args.localsend_interface.is_empty() {
        o.interfaces = args.localsend_interface.clone();
    }
    if args.localsend_http {
        o.encryption = false;
    }
    Ok(())
}

/// A text message from a LocalSend device, for the terminal.
pub fn text_message(from: &PeerInfo, message: &str) -> String {
    // Line by line, each cleaned: an address or a list keeps its lines, and no control
    // character (a carriage return included) reaches the terminal.
    let lines: Vec<String> = message.split('\n').map(|l| format!("  {}", text::display(l))).collect();
    format!("Message from “{}” ({}):\n{}", text::display(&from.name), from.addr.ip(), lines.join("\n"))
}

/// What kind of device a peer is, for `ferry peers`: the OS for Ferry devices, "LocalSend"
/// and the device type for LocalSend apps.
pub fn kind(peer: &Peer) -> String {
    match peer.source {
        PeerSource::LocalSend(t) => format!(
            "LocalSend ({})",
            match t {
                DeviceType::Mobile => "phone",
                DeviceType::Desktop => "computer",
                DeviceType::Web => "browser",
                DeviceType::Headless => "no window",
                DeviceType::Server => "server",
            }
        ),
        _ => peer.os.label().to_owned(),
    }
}
