//! `ferry receive`: wait for offers, ask (or accept with `--yes`), save, report.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::HumanBytes;

use super::output::{Output, count_and_size, saved};
use super::{NetArgs, engine_config, interrupted, no_waker};
use crate::engine::{Command, Decision, Direction, Engine, Event, IncomingOffer};
use crate::protocol::FileResult;

/// Files listed in a terminal prompt before "... and N more".
const PROMPT_LIST: usize = 20;

pub fn run(dir: Option<PathBuf>, yes: bool, once: bool, net: &NetArgs) -> Result<ExitCode> {
    let mut config = engine_config(net, None)?;
    if let Some(dir) = dir {
        config.receive_dir = dir;
    }
    // The command line answers offers itself, so that they are printed either way.
    config.accept_automatically = false;
    let dir = config.receive_dir.clone();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("Couldn't create the receive folder {}", dir.display()))?;
    let name = config.device_name.clone();
    let engine = Engine::start(config, no_waker())?;
    let events = engine.events();
    let commands = engine.commands();
    let mut out = Output::new(net.json);
    let interactive = !yes && std::io::stdin().is_terminal();
    out.say(format!(
        "Receiving as “{name}” on port {}. Files go to {}. Press Ctrl+C to stop.",
        engine.transfer_addr().port(),
        dir.display()
    ));
    if !yes && !interactive {
        out.say("Not on a terminal and no --yes: every offer will be declined.");
    }

    loop {
        if interrupted().load(Ordering::SeqCst) {
            out.say("Stopping.");
            engine.shutdown();
            return Ok(ExitCode::from(130));
        }
        let Ok(event) = events.recv_timeout(Duration::from_millis(100)) else { continue };
        out.event(&event);
        match event {
            Event::IncomingOffer(offer) => {
                let decision = if yes {
                    Decision::AcceptAll
                } else if interactive {
                    ask(&offer)
                } else {
                    out.say(format!(
                        "Declined {} from “{}”: run `ferry receive --yes` to accept without asking.",
                        count_and_size(offer.files.len(), offer.total_bytes),
                        offer.from.name
                    ));
                    Decision::Decline
                };
                let _ = commands.send(Command::Answer { transfer: offer.transfer, decision });
            }
            Event::TransferStarted { transfer, direction: Direction::Incoming, peer, files, total_bytes } => {
                out.say(format!(
                    "Receiving {} from “{}”.",
                    count_and_size(files.len(), total_bytes),
                    peer.name
                ));
                out.start_bar(transfer, total_bytes, format!("from {}", peer.name));
            }
            Event::Progress { transfer, bytes_done, bytes_total, current_file, .. } => {
                out.progress(transfer, bytes_done, bytes_total, &current_file)
            }
            Event::FileDone { outcome, .. }
                if !matches!(outcome.result, FileResult::Saved | FileResult::NotAccepted) =>
            {
                out.say(format!("  {}: {}", outcome.path, outcome.result.describe()));
            }
            Event::TransferFinished { transfer, files } => {
                out.end_bar(transfer);
                let problems = files
                    .iter()
                    .filter(|f| !matches!(f.result, FileResult::Saved | FileResult::NotAccepted))
                    .count();
                out.say(format!("Saved {} in {}.", saved(&files), dir.display()));
                if problems > 0 {
                    out.say(format!("{problems} of the files were not saved (see above)."));
                }
                if once {
                    engine.shutdown();
                    return Ok(ExitCode::from(if problems == 0 { 0 } else { 1 }));
                }
            }
            Event::TransferCancelled { transfer, by_peer, .. } => {
                out.end_bar(transfer);
                out.say(if by_peer {
                    "The sender cancelled. Nothing unfinished was kept."
                } else {
                    "Cancelled. Nothing unfinished was kept."
                });
                if once {
                    engine.shutdown();
                    return Ok(ExitCode::from(4));
                }
            }
            Event::TransferFailed { transfer, error } => {
                out.end_bar(transfer);
                out.say(format!("Receiving failed: {error}"));
                if once {
                    engine.shutdown();
                    return Ok(ExitCode::from(1));
                }
            }
            Event::TextReceived { from, text } => out.say(super::localsend::text_message(&from, &text)),
            Event::Warning(w) => out.say(format!("Warning: {w}")),
            Event::Stopped => return Ok(ExitCode::from(1)),
            _ => {}
        }
    }
}

/// Lists the offer and asks y/N on the terminal.
fn ask(offer: &IncomingOffer) -> Decision {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\n“{}” ({}) wants to send you {}:",
        offer.from.name,
        offer.from.addr.ip(),
        count_and_size(offer.files.len(), offer.total_bytes)
    );
    for f in offer.files.iter().take(PROMPT_LIST) {
        let _ = writeln!(err, "  {:>10}  {}", HumanBytes(f.size).to_string(), f.path);
    }
    if offer.files.len() > PROMPT_LIST {
        let _ = writeln!(err, "  ... and {} more", offer.files.len() - PROMPT_LIST);
    }
    let _ = write!(err, "Accept? [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    match line.trim().to_lowercase().as_str() {
        "y" | "yes" => Decision::AcceptAll,
        _ => Decision::Decline,
    }
}
