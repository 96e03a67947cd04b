//! The incoming-offer prompt: who is sending, every file with its preview (or a type icon) and
//! size, the total, the free space here, and Accept / Decline / Choose files. It takes the whole
//! window while an offer waits, with the buttons in a bottom panel so a long list can never push
//! them out of sight. Several offers queue; the prompt shows the oldest first.

use egui::{Align, Button, Layout, RichText, ScrollArea, Ui, vec2};

use super::i18n::{Lang, human_size};
use super::model::type_icon;
use super::state::AppState;
use super::view_main::preview_or_icon;
use super::widgets;

/// Rows are taller than in the send list: the previews are what the person decides on.
const ROW_HEIGHT: f32 = 60.0;
const PREVIEW_EDGE: f32 = 54.0;

pub fn show(state: &mut AppState, ui: &mut Ui) {
    let Some(pending) = state.offers.front() else { return };
    let offer = &pending.offer;
    let title = state.tr.offer_title(&offer.from.name, offer.files.len());
    // The IP only: the port is the sender's outgoing one, which means nothing to people.
    let from_addr = match widgets::display_addr(offer.from.addr).rsplit_once(':') {
        Some((ip, _)) => ip.trim_matches(['[', ']']).to_owned(),
        None => offer.from.addr.ip().to_string(),
    };
    let waiting = state.offers.len() - 1;

    egui::Panel::top("offer_title").show(ui, |ui| {
        ui.add_space(8.0);
        ui.add(egui::Label::new(RichText::new(format!("📥 {title}")).heading()).truncate());
        ui.label(RichText::new(state.tr.at_address(&from_addr)).weak());
        if waiting > 0 {
            ui.label(RichText::new(state.tr.more_waiting(waiting)).italics());
        }
        ui.add_space(6.0);
    });

    egui::Panel::bottom("offer_buttons").show(ui, |ui| buttons(state, ui));

    egui::CentralPanel::default().show(ui, |ui| file_list(state, ui));
}

fn file_list(state: &mut AppState, ui: &mut Ui) {
    let Some(pending) = state.offers.front() else { return };
    let (transfer, count, choosing) = (pending.offer.transfer, pending.offer.files.len(), pending.choosing);
    let mut toggled = None;
    ScrollArea::vertical().id_salt("offer_files").auto_shrink([false, false]).show_rows(
        ui,
        ROW_HEIGHT,
        count,
        |ui, range| {
            for i in range {
                let pending = &state.offers[0];
                let file = &pending.offer.files[i];
                // The name it will be saved under; the sender's own is in the tooltip.
                let shown = crate::text::display(file.saved_name.as_deref().unwrap_or(&file.path));
                ui.allocate_ui_with_layout(
                    vec2(ui.available_width(), ROW_HEIGHT),
                    Layout::left_to_right(Align::Center),
                    |ui| {
                        if choosing {
                            let mut on = pending.selected[i];
                            // The checkbox's own label is the file name, so it is named for
                            // screen readers; the visible name is drawn (elided) after it.
                            let response = ui.checkbox(&mut on, "");
                            widgets::set_accessible_name(ui, &response, &shown);
                            if response.changed() {
                                toggled = Some(i);
                            }
                        }
                        preview_or_icon(
                            ui,
                            state.offered_preview(transfer, i),
                            type_icon(&shown),
                            &shown,
                            PREVIEW_EDGE,
                        );
                        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                            ui.add_sized(
                                [90.0, ROW_HEIGHT],
                                egui::Label::new(RichText::new(human_size(file.size)).weak()),
                            );
                            ui.with_layout(Layout::left_to_right(Align::Center), |ui| {
                                let name = match file.saved_name {
                                    Some(_) => RichText::new(shown.as_ref()),
                                    None => RichText::new(shown.as_ref()).strikethrough().weak(),
                                };
                                let hover = name_tooltip(state.tr.0, &shown, file);
                                ui.add(egui::Label::new(name).truncate()).on_hover_text(hover);
                            });
                        });
                    },
                );
            }
        },
    );
    if let (Some(i), Some(pending)) = (toggled, state.offers.front_mut()) {
        pending.selected[i] = !pending.selected[i];
    }
}

fn buttons(state: &mut AppState, ui: &mut Ui) {
    let Some(pending) = state.offers.front() else { return };
    let total_bytes = pending.offer.total_bytes;
    let wanted: u64 = if pending.selected.iter().all(|s| *s) {
        total_bytes
    } else {
        pending.offer.files.iter().zip(&pending.selected).filter(|(_, s)| **s).map(|(f, _)| f.size).sum()
    };
    let (chosen, count, choosing) = (pending.selected_count(), pending.selected.len(), pending.choosing);

    ui.add_space(6.0);
    ui.label(
        RichText::new(state.tr.total(&state.tr.files_and_size(count as u64, &human_size(total_bytes))))
            .strong(),
    );
    if let Some((dir, free)) = &state.free_space
        && *dir == state.settings.receive_dir
    {
        ui.label(state.tr.free_space(&human_size(*free)));
        if *free < wanted {
            ui.colored_label(ui.visuals().error_fg_color, state.tr.not_enough_space());
        }
    }
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        let accept_text =
            if chosen == count { state.tr.accept().to_owned() } else { state.tr.accept_some(chosen, count) };
        let accept = widgets::primary_button(ui, &format!("✔ {accept_text}"), chosen > 0);
        if widgets::add_named(ui, chosen > 0, accept, &accept_text).clicked() {
            state.answer(true);
            return;
        }
        let decline = Button::new(RichText::new(format!("✖ {}", state.tr.decline())).size(16.0))
            .min_size(vec2(110.0, 32.0));
        if widgets::add_named(ui, true, decline, state.tr.decline()).clicked() {
            state.answer(false);
            return;
        }
        if !choosing {
            if ui.button(state.tr.choose_files()).clicked()
                && let Some(p) = state.offers.front_mut()
            {
                p.choosing = true;
            }
        } else if ui.button(state.tr.select_all()).clicked()
            && let Some(p) = state.offers.front_mut()
        {
            p.selected.iter_mut().for_each(|s| *s = true);
        }
    });
    ui.add_space(8.0);
}

/// The saved name, and below it what the sender called the file when that differs, or that it
/// cannot be saved at all (PROTOCOL.md §9.1).
fn name_tooltip(lang: Lang, shown: &str, file: &crate::engine::OfferedFile) -> String {
    let original = crate::text::display(&file.path);
    match (&file.saved_name, lang) {
        (Some(saved), _) if *saved == file.path => shown.to_owned(),
        (Some(_), Lang::En) => format!("{shown}\nSent as “{original}”"),
        (Some(_), Lang::ZhCn) => format!("{shown}\n发送方的文件名：“{original}”"),
        (None, Lang::En) => format!("{shown}\nThis file can't be saved: its name is not allowed."),
        (None, Lang::ZhCn) => format!("{shown}\n无法保存此文件：文件名不被允许。"),
    }
}
