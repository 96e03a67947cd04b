//! `ferry send PATH... --to NAME|HOST:PORT`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use crossbeam_channel::Receiver;

use super::output::{Output, count_and_size, saved, shown};
use super::{NetArgs, engine_config, interrupted, no_waker};
use crate::engine::{Command, Direction, Engine, Event, TransferError, TransferId, WaitReason};
use crate::protocol::{CancelReason, DEFAULT_TRANSFER_PORT, FileResult};

pub fn run(paths: Vec<PathBuf>, to: &str, wait: f64, net: &NetArgs) -> Result<ExitCode> {
    for p in &paths {
        if let Err(e) = std::fs::metadata(p) {
            bail!("Can't send {}: {e}", p.display());
        }
    }
    let direct = parse_address(to);
    // A sender accepts nothing (no listening socket at all), and is not a device to list.
    let mut config = engine_config(net, Some(0))?;
    config.listen = false;
    config.discovery = direct.is_none();
    config.announce = false;
    let engine = Engine::start(config, no_waker())?;
    let events = engine.events();
    let mut out = Output::new(net.json);
    let addr = match direct {
        Some(addr) => addr,
        None => find_by_name(&events, &out, to, Duration::from_secs_f64(wait.clamp(0.0, 600.0)))?,
    };

    let id = TransferId::next();
    let _ = engine.commands().send(Command::Send { id, to: addr, paths });
    let mut cancel_sent = false;
    // What the spinner says while the other side decides, and who that is.
    let mut offering = String::new();
    let mut peer_name = addr.to_string();
    // Files already named as not saved, as their result came.
    let mut named: Vec<u32> = Vec::new();
    loop {
        if interrupted().load(Ordering::SeqCst) && !cancel_sent {
            out.say("Cancelling.");
            let _ = engine.commands().send(Command::Cancel(id));
            cancel_sent = true;
        }
        let Ok(event) = events.recv_timeout(Duration::from_millis(100)) else { continue };
        out.event(&event);
        let code = match event {
            Event::TransferStarted { transfer, direction: Direction::Outgoing, peer, files, total_bytes }
                if transfer == id =>
            {
                peer_name = shown(&peer.name).into_owned();
                offering = format!(
                    "Offering {} to “{peer_name}”, waiting for them to accept…",
                    count_and_size(files.len(), total_bytes),
                );
                out.waiting(id, offering.clone());
                continue;
            }
            Event::TransferWaiting { transfer, reason } if transfer == id => {
                match reason {
                    WaitReason::Busy { retry_in_ms, .. } => {
                        let text = format!(
                            "“{peer_name}” is busy; trying again in {:.1} s…",
                            retry_in_ms as f64 / 1000.0
                        );
                        out.say(&text);
                        out.waiting(id, text);
                    }
                    WaitReason::Answer => out.waiting(id, offering.clone()),
                }
                continue;
            }
            Event::VerificationCode { transfer, code } if transfer == id => {
                // Protocol version 2, first meeting: the same six digits are on the other screen.
                out.say(format!("Verification code: {code}"));
                out.say("Check that the other screen shows the same number before it accepts.");
                continue;
            }
            Event::TransferAccepted { transfer, files, bytes_total } if transfer == id => {
                out.start_bar(
                    id,
                    bytes_total,
                    format!("{} accepted", count_and_size(files as usize, bytes_total)),
                );
                continue;
            }
            Event::Progress { transfer, bytes_done, bytes_total, current_file, .. } if transfer == id => {
                out.progress(id, bytes_done, bytes_total, &current_file);
                continue;
            }
            Event::FileDone { transfer, outcome } if transfer == id => {
                if !matches!(outcome.result, FileResult::Saved | FileResult::NotAccepted) {
                    out.say(format!("  {}: {}", shown(&outcome.path), outcome.result.describe()));
                    named.push(outcome.index);
                }
                continue;
            }
            Event::TransferFinished { transfer, files } if transfer == id => {
                out.end_bar(id);
                out.say(format!("Sent {}.", saved(&files)));
                let missing: Vec<_> = files.iter().filter(|f| f.result != FileResult::Saved).collect();
                for f in missing.iter().filter(|f| !named.contains(&f.index)) {
                    out.say(format!("  {}: {}", shown(&f.path), f.result.describe()));
                }
                if missing.is_empty() { 0 } else { 1 }
            }
            Event::TransferDeclined { transfer, busy } if transfer == id => {
                out.end_bar(id);
                out.say(if busy {
                    "The other device is busy and can't take files right now."
                } else {
                    "The other device declined."
                });
                3
            }
            Event::TransferCancelled { transfer, by_peer, reason } if transfer == id => {
                out.end_bar(id);
                out.say(match (by_peer, reason) {
                    (true, CancelReason::Shutdown) => "Ferry was closed on the other computer.",
                    (true, CancelReason::User) => "The receiver cancelled.",
                    (false, _) => "Cancelled.",
                });
                if cancel_sent { 130 } else { 4 }
            }
            Event::TransferFailed { transfer, error } if transfer == id => {
                out.end_bar(id);
                out.say(format!("Sending failed: {error}"));
                if let TransferError::Protocol(detail) = &error {
                    out.say(format!("  ({})", shown(detail)));
                }
                1
            }
            Event::Warning(w) => {
                out.say(format!("Warning: {}", shown(&w)));
                continue;
            }
            Event::Stopped => 1,
            _ => continue,
        };
        engine.shutdown();
        return Ok(ExitCode::from(code));
    }
}

/// `HOST:PORT`, or an IP address alone (default port). Anything else is a device name.
fn parse_address(to: &str) -> Option<SocketAddr> {
    let to = to.trim();
    to.parse::<SocketAddr>().ok().or_else(|| {
        to.trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, DEFAULT_TRANSFER_PORT))
    })
}

/// Waits up to `wait` for a device called `name` (case does not matter). Once one answers, the
/// others get a moment more (they answer the same SEARCH), so that two devices with one name are
/// caught instead of picking one at random.
fn find_by_name(events: &Receiver<Event>, out: &Output, name: &str, wait: Duration) -> Result<SocketAddr> {
    const OTHERS_MAY_ANSWER: Duration = Duration::from_millis(250);
    let wanted = name.trim().to_lowercase();
    let mut deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    let mut matches: Vec<crate::engine::Peer> = Vec::new();
    while let Ok(event) = events.recv_deadline(deadline) {
        out.event(&event);
        if let Event::PeerSeen(peer) | Event::PeerUpdated(peer) = event {
            if peer.name.to_lowercase() == wanted {
                if matches.is_empty() {
                    deadline = deadline.min(Instant::now() + OTHERS_MAY_ANSWER);
                }
                matches.retain(|m| m.instance != peer.instance);
                matches.push(peer);
            } else {
                seen.push(shown(&peer.name).into_owned());
            }
        }
        if interrupted().load(Ordering::SeqCst) {
            bail!("Interrupted.");
        }
    }
    match matches.as_slice() {
        [one] => return Ok(one.addr),
        [] => {}
        several => {
            let addrs: Vec<String> = several.iter().map(|p| p.addr.to_string()).collect();
            bail!(
                "Several devices are called “{name}” ({}). Give the one you mean as HOST:PORT.",
                addrs.join(", ")
            );
        }
    }
    if seen.is_empty() {
        bail!(
            "No device called “{name}” was found (no devices answered at all). Make sure Ferry is open there, \
             that both computers are on the same network, and that the firewall allows UDP port 53530; \
             or give its address as HOST:PORT."
        );
    }
    bail!("No device called “{name}” was found. Devices nearby: {}.", seen.join(", "))
}
