//! The transfers of this session (both ways) with progress, speed and time left, and below them
//! the persisted history of recent transfers.

use egui::{Align, Layout, ProgressBar, RichText, ScrollArea, Ui};

use super::history::Outcome;
use super::i18n::human_size;
use super::model::{Status, Transfer};
use super::state::AppState;
use super::widgets;
use crate::engine::{Direction, TransferId};

/// What a click in the list asks for; applied after drawing, when the list is no longer borrowed.
enum Click {
    Cancel(TransferId),
    Retry(TransferId),
    Dismiss(TransferId),
    Open(std::path::PathBuf),
    ClearHistory,
}

pub fn show(state: &mut AppState, ui: &mut Ui) {
    let mut click = None;
    ui.heading(state.tr.transfers());
    ScrollArea::vertical().id_salt("transfers").auto_shrink([false, false]).show(ui, |ui| {
        if state.transfers.is_empty() && state.history.is_empty() {
            ui.label(RichText::new(state.tr.no_transfers()).weak());
        }
        for t in state.transfers.iter().rev() {
            ui.group(|ui| {
                ui.set_width(ui.available_width());
                transfer(state, t, ui, &mut click);
            });
        }
        if !state.history.is_empty() {
            ui.add_space(6.0);
            egui::CollapsingHeader::new(state.tr.history()).default_open(state.transfers.is_empty()).show(
                ui,
                |ui| {
                    history(state, ui, &mut click);
                },
            );
        }
    });
    match click {
        Some(Click::Cancel(id)) => state.cancel(id),
        Some(Click::Retry(id)) => state.retry(id),
        Some(Click::Dismiss(id)) => state.dismiss(id),
        Some(Click::Open(path)) => state.open(path),
        Some(Click::ClearHistory) => state.clear_history(),
        None => {}
    }
}

fn transfer(state: &AppState, t: &Transfer, ui: &mut Ui, click: &mut Option<Click>) {
    let tr = state.tr;
    let (arrow, who) = match t.direction {
        Direction::Outgoing => ("📤", tr.to_peer(&t.peer_name)),
        Direction::Incoming => ("📥", tr.from_peer(&t.peer_name)),
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{arrow} {who}")).strong());
        ui.label(RichText::new(tr.files_and_size(u64::from(t.files), &human_size(t.bytes_total))).weak());
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if t.status.is_active() {
                if ui.button(tr.cancel()).clicked() {
                    *click = Some(Click::Cancel(t.id));
                }
            } else if widgets::named_button(ui, "🗙", tr.dismiss()).clicked() {
                *click = Some(Click::Dismiss(t.id));
            }
        });
    });
    match &t.status {
        Status::Waiting => {
            ui.label(RichText::new(tr.waiting_answer()).italics());
        }
        Status::Running => {
            let fraction = if t.bytes_total == 0 { 0.0 } else { t.bytes_done as f32 / t.bytes_total as f32 };
            let speed = (t.rate >= 1.0).then(|| human_size(t.rate as u64));
            let left = (t.rate >= 1.0 && t.bytes_total > t.bytes_done)
                .then(|| tr.duration(((t.bytes_total - t.bytes_done) as f64 / t.rate).ceil() as u64));
            let text = tr.progress(
                &human_size(t.bytes_done),
                &human_size(t.bytes_total),
                speed.as_deref(),
                left.as_deref(),
            );
            // The bar's text is what a screen reader announces with the percentage.
            let name = format!("{}: {text}", tr.progress_name(&t.peer_name));
            let response = ui.add(ProgressBar::new(fraction.clamp(0.0, 1.0)).text(text));
            widgets::set_accessible_name(ui, &response, &name);
            if !t.current_file.is_empty() {
                ui.add(egui::Label::new(RichText::new(tr.current_file(&t.current_file)).weak()).truncate());
            }
        }
        Status::Finished { saved, total } => {
            ui.label(tr.finished(*saved, *total, t.direction == Direction::Incoming));
            if let Some(first) = t.saved.first() {
                ui.horizontal(|ui| {
                    if t.saved.len() == 1 && ui.button(tr.show_file()).clicked() {
                        *click = Some(Click::Open(first.clone()));
                    }
                    if ui.button(tr.open_folder()).clicked() {
                        let folder = first.parent().map(|p| p.to_path_buf()).unwrap_or_else(|| first.clone());
                        *click = Some(Click::Open(folder));
                    }
                });
            }
        }
        Status::Declined { busy } => {
            ui.label(if *busy { tr.busy() } else { tr.declined() });
            retry_button(state, t, ui, click);
        }
        Status::Cancelled { by_peer } => {
            ui.label(if *by_peer { tr.cancelled_by_peer() } else { tr.cancelled() });
        }
        Status::Failed(reason) => {
            ui.add(
                egui::Label::new(RichText::new(tr.failed(reason)).color(ui.visuals().error_fg_color)).wrap(),
            );
            retry_button(state, t, ui, click);
        }
    }
}

fn retry_button(state: &AppState, t: &Transfer, ui: &mut Ui, click: &mut Option<Click>) {
    if t.direction == Direction::Outgoing
        && t.peer_addr.is_some()
        && !t.paths.is_empty()
        && widgets::icon_button(ui, true, "🔁", state.tr.try_again()).clicked()
    {
        *click = Some(Click::Retry(t.id));
    }
}

fn history(state: &AppState, ui: &mut Ui, click: &mut Option<Click>) {
    let tr = state.tr;
    for (i, entry) in state.history.entries().enumerate() {
        ui.horizontal(|ui| {
            let icon = if entry.received { "📥" } else { "📤" };
            let line = tr.history_line(entry.received, &entry.peer, entry.files, &human_size(entry.bytes));
            let outcome = match &entry.outcome {
                Outcome::Finished { saved, total } if saved == total => "✔".to_owned(),
                Outcome::Finished { saved, total } => format!("⚠ {saved}/{total}"),
                Outcome::Declined => format!("✖ {}", tr.declined()),
                Outcome::Cancelled => format!("✖ {}", tr.cancelled()),
                Outcome::Failed { reason } => format!("⚠ {reason}"),
            };
            ui.label(format!("{icon} {line}"));
            if let Some(file) = &entry.saved_file
                && let Some(dir) = file.parent()
                && widgets::named_button(ui, "📂", &format!("{} ({})", tr.open_folder(), i + 1)).clicked()
            {
                *click = Some(Click::Open(dir.to_path_buf()));
            }
            ui.add(egui::Label::new(RichText::new(outcome).weak()).truncate());
        });
    }
    if ui.button(tr.clear_history()).clicked() {
        *click = Some(Click::ClearHistory);
    }
}
