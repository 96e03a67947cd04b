//! `ferry send PATH... --to NAME|FINGERPRINT|HOST:PORT`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use crossbeam_channel::Receiver;

use super::output::{Output, count_and_size, saved, shown};
use super::{NetArgs, engine_config, interrupted, no_waker};
use crate::engine::{Command, Direction, Engine, Event, TransferError, TransferId, Trust, WaitReason};
use crate::identity::known::changed_warning;
use crate::protocol::{CancelReason, DEFAULT_TRANSFER_PORT, FileResult};

pub fn run(
    paths: Vec<PathBuf>,
    text: Option<String>,
    to: &str,
    wait: f64,
    net: &NetArgs,
) -> Result<ExitCode> {
    let text = match text.as_deref() {
        Some("-") => {
            let mut read = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut read)
                .map_err(|e| anyhow::anyhow!("Couldn't read the text from standard input: {e}"))?;
            Some(read)
        }
        _ => text,
    };
    if let Some(t) = &text {
        if t.is_empty() {
            bail!("{}", TransferError::NoText);
        }
        if t.len() > crate::protocol::MAX_TEXT_BYTES {
            let max = crate::protocol::MAX_TEXT_BYTES as u64;
            bail!("{}", TransferError::TextTooLong { len: t.len() as u64, max });
        }
    }
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
        None => {
            let wait = Duration::from_secs_f64(wait.clamp(0.0, 600.0));
            match parse_fingerprint(to) {
                Some(key) => find_by_key(&events, &out, &key, wait)?,
                None => find_by_name(&events, &out, to, wait)?,
            }
        }
    };

    let id = TransferId::next();
    let sending_text = text.is_some();
    let _ = engine.commands().send(match text {
        Some(text) => Command::SendText { id, to: addr, text },
        None => Command::Send { id, to: addr, paths },
    });
    let mut cancel_sent = false;
    // What the spinner says while the other side decides, and who that is.
    let mut offering = String::new();
    let mut offering_what = String::new();
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
                let what = match sending_text {
                    true => format!("text ({total_bytes} bytes)"),
                    false => count_and_size(files.len(), total_bytes),
                };
                offering_what = what;
                offering = format!("Offering {offering_what} to “{peer_name}”, waiting for them to accept…");
                out.waiting(id, offering.clone());
                continue;
            }
            Event::TransferPeer { transfer, peer } if transfer == id => {
                // Who answered, by the name its handshake gave (an address until now, maybe).
                peer_name = shown(&peer.name).into_owned();
                if matches!(peer.trust, Trust::Changed { .. }) {
                    out.say(changed_warning(&peer_name));
                }
                offering = format!("Offering {offering_what} to “{peer_name}”, waiting for them to accept…");
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
            Event::TransferAccepted { transfer, .. } if transfer == id && sending_text => continue,
            Event::TransferFinished { transfer, .. } if transfer == id && sending_text => {
                out.end_bar(id);
                out.say(format!("“{peer_name}” accepted the text."));
                0
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
                if let Some(failure) = crate::engine::SaveFailure::of_batch(&files) {
                    // Sent to an address, not a name: it is "the other computer".
                    let sentence = match peer_name.parse::<SocketAddr>() {
                        Ok(_) => capitalized(&failure.sentence(Some("the other computer"))),
                        Err(_) => failure.sentence(Some(&peer_name)),
                    };
                    out.say(sentence);
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
                out.say(format!("Warning: {}", shown(&w.to_string())));
                continue;
            }
            Event::Stopped => 1,
            _ => continue,
        };
        engine.shutdown();
        return Ok(ExitCode::from(code));
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
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

/// A fingerprint as `ferry peers` and `ferry identity` show it: the short form (16 hex digits)
/// or the full one (64), either case, spaces, colons and dashes ignored. Lower-case hex digits.
fn parse_fingerprint(to: &str) -> Option<String> {
    let digits: String = to.chars().filter(|c| !matches!(c, ' ' | ':' | '-')).collect();
    (matches!(digits.len(), 16 | 64) && digits.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| digits.to_ascii_lowercase())
}

/// Once one device answers, the others get a moment more (they answer the same SEARCH), so that
/// two matching devices are caught instead of picking one at random.
const OTHERS_MAY_ANSWER: Duration = Duration::from_millis(250);

/// Waits up to `wait` for the device whose key starts with `key` (lower-case hex): the key in
/// its discovery datagram, which the connection's handshake then has to prove.
fn find_by_key(events: &Receiver<Event>, out: &Output, key: &str, wait: Duration) -> Result<SocketAddr> {
    let mut deadline = Instant::now() + wait;
    let mut matches: Vec<crate::engine::Peer> = Vec::new();
    while let Ok(event) = events.recv_deadline(deadline) {
        out.event(&event);
        if let Event::PeerSeen(peer) | Event::PeerUpdated(peer) = event
            && peer.fingerprint.is_some_and(|f| f.to_hex().starts_with(key))
        {
            if matches.is_empty() {
                deadline = deadline.min(Instant::now() + OTHERS_MAY_ANSWER);
            }
            matches.retain(|m| m.instance != peer.instance);
            matches.push(peer);
        }
        if interrupted().load(Ordering::SeqCst) {
            bail!("Interrupted.");
        }
    }
    match matches.as_slice() {
        [one] => Ok(one.addr),
        [] => bail!(
            "No device with the fingerprint {key} was found. `ferry peers` lists the devices nearby with \
             theirs; or give its address as HOST:PORT."
        ),
        several => {
            let addrs: Vec<String> = several.iter().map(|p| p.addr.to_string()).collect();
            bail!(
                "Several devices announce the fingerprint {key} ({}). Give the one you mean as HOST:PORT.",
                addrs.join(", ")
            )
        }
    }
}

/// Waits up to `wait` for a device called `name` (case does not matter). A device whose key is
/// not the one known under that name ("changed") is never picked by name.
fn find_by_name(events: &Receiver<Event>, out: &Output, name: &str, wait: Duration) -> Result<SocketAddr> {
    let wanted = name.trim().to_lowercase();
    let mut deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    let mut matches: Vec<crate::engine::Peer> = Vec::new();
    let mut changed: Vec<crate::engine::Peer> = Vec::new();
    while let Ok(event) = events.recv_deadline(deadline) {
        out.event(&event);
        if let Event::PeerSeen(peer) | Event::PeerUpdated(peer) = event {
            if peer.name.to_lowercase() == wanted {
                if matches.is_empty() && changed.is_empty() {
                    deadline = deadline.min(Instant::now() + OTHERS_MAY_ANSWER);
                }
                matches.retain(|m| m.instance != peer.instance);
                changed.retain(|m| m.instance != peer.instance);
                if matches!(peer.trust, crate::engine::Trust::Changed { .. }) {
                    changed.push(peer);
                } else {
                    matches.push(peer);
                }
            } else {
                seen.push(shown(&peer.name).into_owned());
            }
        }
        if interrupted().load(Ordering::SeqCst) {
            bail!("Interrupted.");
        }
    }
    match (matches.as_slice(), changed.as_slice()) {
        ([one], _) => return Ok(one.addr),
        ([], [impostor, ..]) => {
            let fingerprint = impostor.fingerprint.map(|f| format!(" (its fingerprint is {})", f.short()));
            bail!(
                "This is not the \u{2018}{}\u{2019} you sent to before{}; give its fingerprint or address \
                 (HOST:PORT) if you mean this device.",
                shown(&impostor.name),
                fingerprint.unwrap_or_default()
            );
        }
        ([], []) => {}
        (several, _) => {
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
