//! `ferry receive`: wait for offers, ask (or accept with `--yes`), save, report.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::HumanBytes;

use super::output::{Output, count_and_size, saved, shown};
use super::{NetArgs, engine_config, interrupted, no_waker};
use crate::engine::{
    Command, Decision, Direction, Engine, Event, FileOutcome, IncomingOffer, OfferedFile, SaveFailure,
    TransferError, TransferId, Trust,
};
use crate::identity::known::changed_warning;
use crate::protocol::{CancelReason, FileResult};
use crate::text::display;

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
        engine.transfer_addr().map_or(0, |a| a.port()),
        dir.display()
    ));
    if !yes && !interactive {
        out.say("Not on a terminal and no --yes: every offer will be declined.");
    }
    // The files of each transfer already named as not saved (as their result came), so the
    // summary at the end names the others — files refused before any byte was sent.
    let mut named: HashMap<TransferId, HashSet<u32>> = HashMap::new();
    // Text offers: they end with TextReceived, and save nothing.
    let mut texts: HashSet<TransferId> = HashSet::new();

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
                if offer.text.is_some() {
                    texts.insert(offer.transfer);
                }
                let changed = matches!(offer.from.trust, Trust::Changed { .. });
                if changed {
                    out.say(format!("Warning: {}", changed_warning(&shown(&offer.from.name))));
                }
                if let Some(code) = offer.verification_code {
                    out.say(format!("Verification code: {code}"));
                    out.say("Check that the other screen shows the same number.");
                }
                let decision = if yes && changed {
                    // `--yes` accepts from devices that are what they say they are, not from one
                    // that only has a known device's name.
                    out.say(format!(
                        "Declined {} from “{}”: it has another key than the device of that name you received from before. Run `ferry receive` without --yes to decide.",
                        count_and_size(offer.files.len(), offer.total_bytes),
                        shown(&offer.from.name)
                    ));
                    Decision::Decline
                } else if yes {
                    Decision::AcceptAll
                } else if interactive {
                    ask(&offer, &dir)
                } else {
                    let what = match offer.text {
                        Some(_) => "a text".to_owned(),
                        None => count_and_size(offer.files.len(), offer.total_bytes),
                    };
                    out.say(format!(
                        "Declined {what} from “{}”: run `ferry receive --yes` to accept without asking.",
                        shown(&offer.from.name)
                    ));
                    Decision::Decline
                };
                let _ = commands.send(Command::Answer { transfer: offer.transfer, decision });
            }
            Event::TransferStarted { transfer, direction: Direction::Incoming, peer, files, total_bytes } => {
                out.say(format!(
                    "Receiving {} from “{}”.",
                    count_and_size(files.len(), total_bytes),
                    shown(&peer.name)
                ));
                out.start_bar(transfer, total_bytes, format!("from {}", shown(&peer.name)));
            }
            Event::Progress { transfer, bytes_done, bytes_total, current_file, .. } => {
                out.progress(transfer, bytes_done, bytes_total, &current_file)
            }
            Event::FileDone { transfer, outcome } if not_saved(outcome.result) => {
                out.say(format!("  {}: {}", shown(&outcome.path), outcome.result.describe()));
                named.entry(transfer).or_default().insert(outcome.index);
            }
            Event::TransferFinished { transfer, .. } if texts.contains(&transfer) => {
                texts.remove(&transfer);
                if once {
                    engine.shutdown();
                    return Ok(ExitCode::from(0));
                }
            }
            Event::TransferFinished { transfer, files } => {
                out.end_bar(transfer);
                let named = named.remove(&transfer).unwrap_or_default();
                for f in files.iter().filter(|f| not_saved(f.result) && !named.contains(&f.index)) {
                    out.say(format!("  {}: {}", shown(&f.path), f.result.describe()));
                }
                let problems = files.iter().filter(|f| not_saved(f.result)).count();
                out.say(format!("Saved {} in {}.", saved(&files), dir.display()));
                let renamed: Vec<String> =
                    files.iter().filter_map(|f| saved_as_another_name(f, &dir)).collect();
                for line in renamed.iter().take(PROMPT_LIST) {
                    out.say(line);
                }
                if renamed.len() > PROMPT_LIST {
                    out.say(format!(
                        "  ... and {} more saved under another name",
                        renamed.len() - PROMPT_LIST
                    ));
                }
                if problems > 0 {
                    out.say(format!("{problems} of the files were not saved (see above)."));
                }
                if let Some(failure) = crate::engine::SaveFailure::of_batch(&files) {
                    out.say(failure.sentence(None));
                }
                if once {
                    engine.shutdown();
                    return Ok(ExitCode::from(if problems == 0 { 0 } else { 1 }));
                }
            }
            Event::TransferCancelled { transfer, by_peer, reason } => {
                out.end_bar(transfer);
                out.say(match (by_peer, reason) {
                    (true, CancelReason::Shutdown) => {
                        "Ferry was closed on the other computer. Nothing unfinished was kept."
                    }
                    (true, CancelReason::User) => "The sender cancelled. Nothing unfinished was kept.",
                    (false, _) => "Cancelled. Nothing unfinished was kept.",
                });
                if once {
                    engine.shutdown();
                    return Ok(ExitCode::from(4));
                }
            }
            Event::TransferFailed { transfer, error } => {
                out.end_bar(transfer);
                out.say(format!("Receiving failed: {error}"));
                if let TransferError::Protocol(detail) = &error {
                    out.say(format!("  ({})", shown(detail)));
                }
                if once {
                    engine.shutdown();
                    return Ok(ExitCode::from(1));
                }
            }
            Event::TextReceived { from, text } => out.say(super::localsend::text_message(&from, &text)),
            Event::Warning(w) => out.say(format!("Warning: {}", shown(&w.to_string()))),
            Event::Stopped => return Ok(ExitCode::from(1)),
            _ => {}
        }
    }
}

/// A file the person was offered and that did not end up saved (not one they left out).
fn not_saved(result: FileResult) -> bool {
    !matches!(result, FileResult::Saved | FileResult::NotAccepted)
}

/// Lists the offer and asks y/N on the terminal.
fn ask(offer: &IncomingOffer, dir: &Path) -> Decision {
    let mut err = std::io::stderr().lock();
    if let Some(text) = &offer.text {
        let _ = writeln!(
            err,
            "\n“{}” ({}) wants to send you a text:\n{}",
            shown(&offer.from.name),
            offer.from.addr.ip(),
            text.split('\n').map(|l| format!("  {}", display(l))).collect::<Vec<_>>().join("\n")
        );
        let _ = write!(err, "Accept? [y/N] ");
        let _ = err.flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        return match line.trim().to_lowercase().as_str() {
            "y" | "yes" => Decision::AcceptAll,
            _ => Decision::Decline,
        };
    }
    let _ = writeln!(
        err,
        "\n“{}” ({}) wants to send you {}:",
        shown(&offer.from.name),
        offer.from.addr.ip(),
        count_and_size(offer.files.len(), offer.total_bytes)
    );
    for f in offer.files.iter().take(PROMPT_LIST) {
        let _ = writeln!(err, "  {:>10}  {}", HumanBytes(f.size).to_string(), listed_name(f));
    }
    if offer.files.len() > PROMPT_LIST {
        let _ = writeln!(err, "  ... and {} more", offer.files.len() - PROMPT_LIST);
    }
    // Saving can fail before a byte arrives: say so now, not after the whole file was sent.
    if let Some(problem) = crate::transfer::store::check_folder(dir, offer.total_bytes) {
        let why = match problem {
            SaveFailure::DiskFull => format!(
                "Not enough free space in {}: {} needed. Accepting now will fail.",
                dir.display(),
                HumanBytes(offer.total_bytes)
            ),
            SaveFailure::FolderNotWritable => {
                format!("The receive folder {} can't be written to. Accepting now will fail.", dir.display())
            }
            SaveFailure::FolderGone => {
                format!("The receive folder {} is not there. Accepting now will fail.", dir.display())
            }
        };
        let _ = writeln!(err, "{why}");
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

/// An offered file as the prompt lists it: the name it will be saved under, and what the sender
/// called it when that differs (`What_.jpg  (sent as “What?.jpg”)`).
fn listed_name(f: &OfferedFile) -> String {
    match &f.saved_name {
        Some(saved) if *saved == f.path => display(saved).into_owned(),
        Some(saved) => format!("{}  (sent as “{}”)", display(saved), display(&f.path)),
        None => format!("{}  ({})", display(&f.path), FileResult::UnsafeName.describe()),
    }
}

/// "  What?.jpg saved as ‘What_.jpg’" for a file stored under another name than it was sent
/// with (made safe, or numbered because the name was taken); `None` for the rest.
fn saved_as_another_name(f: &FileOutcome, dir: &Path) -> Option<String> {
    let stored = f.saved_as.as_deref()?.strip_prefix(dir).ok()?;
    let stored: Vec<String> =
        stored.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let stored = stored.join("/");
    (f.result == FileResult::Saved && stored != f.path)
        .then(|| format!("  {} saved as ‘{}’", display(&f.path), display(&stored)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(path: &str, saved_name: Option<&str>) -> OfferedFile {
        OfferedFile { path: path.into(), saved_name: saved_name.map(Into::into), size: 1, thumbnail: vec![] }
    }

    #[test]
    fn the_prompt_lists_the_name_each_file_will_be_saved_as() {
        assert_eq!(listed_name(&offered("a.jpg", Some("a.jpg"))), "a.jpg");
        assert_eq!(listed_name(&offered("What?.jpg", Some("What_.jpg"))), "What_.jpg  (sent as “What?.jpg”)");
        assert_eq!(
            listed_name(&offered("inv\u{200b}.pdf", Some("inv.pdf"))),
            "inv.pdf  (sent as “inv\\u{200b}.pdf”)"
        );
        assert_eq!(
            listed_name(&offered("../x\u{1b}[2J", None)),
            "../x\\u{1b}[2J  (refused: its name is not allowed)"
        );
    }

    #[test]
    fn the_summary_names_files_saved_under_another_name() {
        let dir = Path::new("/inbox");
        let outcome = |path: &str, saved: &str, result| FileOutcome {
            index: 0,
            path: path.into(),
            size: 1,
            result,
            saved_as: Some(dir.join(saved)),
        };
        let said = |f: FileOutcome| saved_as_another_name(&f, dir);
        assert_eq!(
            said(outcome("Trip/What?.jpg", "Trip/What_.jpg", FileResult::Saved)).as_deref(),
            Some("  Trip/What?.jpg saved as ‘Trip/What_.jpg’")
        );
        assert_eq!(
            said(outcome("a.jpg", "a (1).jpg", FileResult::Saved)).as_deref(),
            Some("  a.jpg saved as ‘a (1).jpg’")
        );
        assert_eq!(said(outcome("Trip/a.jpg", "Trip/a.jpg", FileResult::Saved)), None);
    }
}
