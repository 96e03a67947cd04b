//! The transfers of this session (both ways) with progress, speed and time left, and below them
//! the persisted history of recent transfers.
//!
//! Every button says what it acts on to a screen reader ("Cancel sending 3 files to Kitchen
//! PC"), names are unique within the list ([`Namer`]), and the arrows drawn before each line are
//! not read out.

use egui::{Align, Layout, ProgressBar, RichText, ScrollArea, Ui};

use super::history::{self, Outcome};
use super::i18n::{Tr, human_size};
use super::model::{Status, Transfer};
use super::state::AppState;
use super::widgets::{self, Namer, shown};
use crate::engine::{Direction, TransferId};

/// What a click in the list asks for; applied after drawing, when the list is no longer borrowed.
enum Click {
    Cancel(TransferId),
    Retry(TransferId),
    Dismiss(TransferId),
    /// A folder, opened in the file manager.
    Open(std::path::PathBuf),
    /// A saved file, shown selected in its folder (not opened).
    Reveal(std::path::PathBuf),
    ClearHistory,
    ClearFinished,
    CopyText(u64),
    DismissText(u64),
}

pub fn show(state: &mut AppState, ui: &mut Ui) {
    let mut click = None;
    let mut names = Namer::default();
    ui.horizontal(|ui| {
        widgets::heading(ui, None, state.tr.transfers(), 2);
        if state.transfers.iter().any(|t| !t.status.is_active()) {
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                if ui.button(state.tr.clear_finished()).clicked() {
                    click = Some(Click::ClearFinished);
                }
            });
        }
    });
    ScrollArea::vertical().id_salt("transfers").auto_shrink([false, false]).show(ui, |ui| {
        widgets::name_region(ui, state.tr.transfers_list());
        for t in state.texts.iter().rev() {
            ui.group(|ui| {
                ui.set_width(ui.available_width());
                text_card(state, t, ui, &mut names, &mut click);
            });
        }
        if state.transfers.is_empty() && state.history.is_empty() && state.texts.is_empty() {
            ui.label(RichText::new(state.tr.no_transfers()).weak());
        }
        for t in state.transfers.iter().rev() {
            ui.group(|ui| {
                ui.set_width(ui.available_width());
                transfer(state, t, ui, &mut names, &mut click);
            });
        }
        if !state.history.is_empty() {
            ui.add_space(6.0);
            egui::CollapsingHeader::new(state.tr.history()).default_open(state.transfers.is_empty()).show(
                ui,
                |ui| {
                    history(state, ui, &mut names, &mut click);
                },
            );
        }
    });
    // A running transfer must be redrawn when it would count as stalled, even if no event comes.
    if state.transfers.iter().any(|t| t.status == Status::Running) {
        ui.ctx().request_repaint_after(state.stall_after.max(std::time::Duration::from_millis(100)));
    }
    match click {
        Some(Click::Cancel(id)) => state.cancel(id),
        Some(Click::Retry(id)) => state.retry(id),
        Some(Click::Dismiss(id)) => state.dismiss(id),
        Some(Click::Open(path)) => state.open(path),
        Some(Click::Reveal(path)) => state.reveal(path),
        Some(Click::ClearHistory) => state.clear_history(),
        Some(Click::ClearFinished) => state.clear_finished(),
        Some(Click::CopyText(id)) => state.copy_text(ui.ctx(), id),
        Some(Click::DismissText(id)) => state.dismiss_text(id),
        None => {}
    }
}

/// Longest a received text's box grows before it scrolls.
const TEXT_HEIGHT: f32 = 140.0;

/// A text that arrived (Ferry or LocalSend alike): who sent it, the text (cleaned for display,
/// scrolling when long), Copy (the exact text) and Dismiss.
fn text_card(
    state: &AppState,
    t: &super::model::ReceivedText,
    ui: &mut Ui,
    names: &mut Namer,
    click: &mut Option<Click>,
) {
    let tr = state.tr;
    let peer = shown(&t.from);
    ui.horizontal(|ui| {
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if widgets::named_button(ui, "🗙", &names.unique(tr.dismiss_text_from(&peer))).clicked() {
                *click = Some(Click::DismissText(t.id));
            }
            let label = if t.copied { format!("✔ {}", tr.copied()) } else { format!("📋 {}", tr.copy()) };
            if widgets::named_button(ui, &label, &names.unique(tr.copy_text_from(&peer))).clicked() {
                *click = Some(Click::CopyText(t.id));
            }
            ui.with_layout(Layout::left_to_right(Align::Center), |ui| {
                widgets::decorated_label(ui, "💬", &tr.text_from(&peer), RichText::strong);
            });
        });
    });
    ScrollArea::vertical().id_salt(("text", t.id)).max_height(TEXT_HEIGHT).show(ui, |ui| {
        // Shown per line, each cleaned (§11): its lines stay lines, nothing hidden is drawn raw.
        let lines: Vec<String> = t.text.split('\n').map(|l| shown(l).into_owned()).collect();
        ui.add(egui::Label::new(RichText::new(lines.join("\n")).monospace()).wrap().selectable(true));
    });
}

/// Has a running transfer's byte count stood still long enough to stop showing its speed?
pub fn stalled(t: &Transfer, after: std::time::Duration) -> bool {
    t.status == Status::Running && t.bytes_done < t.bytes_total && t.last_progress.elapsed() >= after
}

fn transfer(state: &AppState, t: &Transfer, ui: &mut Ui, names: &mut Namer, click: &mut Option<Click>) {
    let tr = state.tr;
    let peer = shown(&t.peer_name);
    let outgoing = t.direction == Direction::Outgoing;
    let (arrow, who) = if outgoing { ("📤", tr.to_peer(&peer)) } else { ("📥", tr.from_peer(&peer)) };
    let subject = match &t.text {
        Some(_) => tr.text_subject(&peer),
        None => tr.subject(outgoing, t.files, &peer),
    };
    ui.horizontal(|ui| {
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if t.status.is_active() {
                let name = names.unique(tr.cancel_subject(&subject));
                if widgets::named_button(ui, tr.cancel(), &name).clicked() {
                    *click = Some(Click::Cancel(t.id));
                }
            } else {
                let name = names.unique(tr.dismiss_subject(&subject));
                if widgets::named_button(ui, "🗙", &name).clicked() {
                    *click = Some(Click::Dismiss(t.id));
                }
            }
            ui.with_layout(Layout::left_to_right(Align::Center), |ui| {
                widgets::decorated_label(ui, arrow, &who, RichText::strong);
                let size = match &t.text {
                    // The start of the text, on one line.
                    Some(text) => format!(
                        "💬 {}",
                        shown(&text.chars().take(80).collect::<String>()).replace("\\u{a}", " ")
                    ),
                    None => tr.files_and_size(u64::from(t.files), &human_size(t.bytes_total)),
                };
                ui.add(egui::Label::new(RichText::new(size).weak()).truncate());
            });
        });
    });
    match &t.status {
        Status::Waiting if t.busy => {
            ui.label(RichText::new(tr.waiting_busy(&peer)).italics());
        }
        Status::Waiting => {
            if t.peer_changed {
                let text = tr.changed_warning(&peer);
                ui.add(
                    egui::Label::new(RichText::new(text).color(ui.visuals().warn_fg_color).strong()).wrap(),
                );
            }
            if let Some(code) = t.verification_code {
                verification_code(ui, tr, code);
            }
            ui.label(RichText::new(tr.waiting_answer()).italics());
        }
        Status::Running => {
            let fraction = if t.bytes_total == 0 { 0.0 } else { t.bytes_done as f32 / t.bytes_total as f32 };
            let text = if stalled(t, state.stall_after) {
                // A speed and a time left from before the network went quiet would be a lie.
                format!(
                    "{} · {}",
                    tr.progress(&human_size(t.bytes_done), &human_size(t.bytes_total), None, None),
                    tr.waiting_for(&peer)
                )
            } else {
                let speed = (t.rate >= 1.0).then(|| human_size(t.rate as u64));
                let left = (t.rate >= 1.0 && t.bytes_total > t.bytes_done)
                    .then(|| tr.duration(((t.bytes_total - t.bytes_done) as f64 / t.rate).ceil() as u64));
                tr.progress(
                    &human_size(t.bytes_done),
                    &human_size(t.bytes_total),
                    speed.as_deref(),
                    left.as_deref(),
                )
            };
            // The bar's name is what a screen reader announces with the percentage.
            let name = names.unique(format!("{}: {text}", tr.progress_name(&subject)));
            let response = ui.add(ProgressBar::new(fraction.clamp(0.0, 1.0)).text(text));
            widgets::set_accessible_name(ui, &response, &name);
            if !t.current_file.is_empty() {
                let now = tr.current_file(&shown(&t.current_file));
                ui.add(egui::Label::new(RichText::new(now).weak()).truncate());
            }
        }
        Status::Finished { .. } if t.text.is_some() => {
            ui.label(tr.text_delivered());
        }
        Status::Finished { saved, total } => {
            ui.label(tr.finished(*saved, *total, !outgoing));
            if let Some(failure) = t.save_failure {
                let why = tr.save_failure(failure, outgoing.then_some(peer.as_ref()));
                ui.add(egui::Label::new(RichText::new(why).color(ui.visuals().error_fg_color)).wrap());
            }
            if !outgoing && let Some(first) = t.saved.first() {
                // Where they went, and the names that changed ("Saved as IMG (1).jpg").
                let folder = common_folder(&t.saved).unwrap_or_else(|| first.clone());
                let mut lines = vec![tr.saved_in(&folder.display().to_string())];
                match t.renamed.as_slice() {
                    [] => {}
                    [(_, stored)] => lines.push(tr.saved_as(&shown(stored))),
                    [(_, stored), ..] => lines.push(tr.saved_as_many(t.renamed.len(), &shown(stored))),
                }
                for line in lines {
                    ui.add(egui::Label::new(RichText::new(line).weak()).wrap());
                }
            }
            if let Some(first) = t.saved.first() {
                ui.horizontal(|ui| {
                    if t.saved.len() == 1
                        && widgets::named_button(ui, tr.show_file(), &names.unique(tr.show_file_of(&subject)))
                            .clicked()
                    {
                        *click = Some(Click::Reveal(first.clone()));
                    }
                    if widgets::named_button(ui, tr.open_folder(), &names.unique(tr.open_folder_of(&subject)))
                        .clicked()
                    {
                        let folder = first.parent().map(|p| p.to_path_buf()).unwrap_or_else(|| first.clone());
                        *click = Some(Click::Open(folder));
                    }
                });
            }
        }
        Status::Declined { busy } => {
            ui.label(if *busy { tr.busy() } else { tr.declined() });
            retry_button(tr, t, &subject, ui, names, click);
        }
        Status::Cancelled { by_peer, closed } => {
            let text = match (by_peer, closed) {
                (true, true) => tr.closed_on_peer(&peer),
                (true, false) => tr.cancelled_by_peer().to_owned(),
                (false, true) => tr.closed_here().to_owned(),
                (false, false) => tr.cancelled().to_owned(),
            };
            ui.label(text);
            retry_button(tr, t, &subject, ui, names, click);
        }
        Status::Failed(reason) => {
            ui.add(
                egui::Label::new(RichText::new(tr.failed(&shown(reason))).color(ui.visuals().error_fg_color))
                    .wrap(),
            );
            retry_button(tr, t, &subject, ui, names, click);
        }
    }
}

fn retry_button(
    tr: Tr,
    t: &Transfer,
    subject: &str,
    ui: &mut Ui,
    names: &mut Namer,
    click: &mut Option<Click>,
) {
    if t.direction == Direction::Outgoing
        && t.peer_addr.is_some()
        && (!t.paths.is_empty() || t.text.is_some())
    {
        let response = ui.button(format!("🔁 {}", tr.try_again()));
        widgets::set_accessible_name(ui, &response, &names.unique(tr.retry_subject(subject)));
        if response.clicked() {
            *click = Some(Click::Retry(t.id));
        }
    }
}

fn history(state: &AppState, ui: &mut Ui, names: &mut Namer, click: &mut Option<Click>) {
    let tr = state.tr;
    let now = history::local_time(history::now_unix());
    for entry in state.history.entries() {
        let shown_entry = history::Entry { peer: shown(&entry.peer).into_owned(), ..entry.clone() };
        let mut sentence = tr.history_sentence(&shown_entry, &human_size(entry.bytes));
        if let Outcome::Failed { reason } = &entry.outcome {
            sentence = sentence.replace(reason.as_str(), &shown(reason));
        }
        let when = history::local_time(entry.ended_at).zip(now).map(|(at, now)| tr.when(at, now));
        let icon = match &entry.outcome {
            Outcome::Finished { saved, total } if saved == total => "✔",
            Outcome::Finished { .. } | Outcome::Failed { .. } => "⚠",
            Outcome::Declined | Outcome::Cancelled { .. } => "✖",
        };
        ui.horizontal(|ui| {
            if let Some(when) = &when {
                ui.label(RichText::new(when).weak());
            }
            if let Some(file) = &entry.saved_file
                && let Some(dir) = file.parent()
                && widgets::named_button(ui, "📂", &names.unique(tr.open_folder_of(&sentence))).clicked()
            {
                *click = Some(Click::Open(dir.to_path_buf()));
            }
            widgets::decorated_label(ui, icon, &sentence, |t| t);
        });
    }
    if ui.button(tr.clear_history()).clicked() {
        *click = Some(Click::ClearHistory);
    }
}

/// The deepest folder that holds every one of `paths` (the receive folder, or the folder a
/// batch of one folder arrived in).
fn common_folder(paths: &[std::path::PathBuf]) -> Option<std::path::PathBuf> {
    let mut common = paths.first()?.parent()?.to_path_buf();
    for p in &paths[1..] {
        while !p.starts_with(&common) {
            common = common.parent()?.to_path_buf();
        }
    }
    Some(common)
}

/// The six digits both screens show at a first meeting, large, with what to do with them.
pub fn verification_code(ui: &mut Ui, tr: super::i18n::Tr, code: crate::engine::VerificationCode) {
    ui.horizontal(|ui| {
        ui.label(tr.verification_code());
        ui.label(RichText::new(code.to_string()).monospace().strong().size(22.0));
    });
    ui.label(RichText::new(tr.check_same_number()).weak());
}
