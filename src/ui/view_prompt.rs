//! The incoming-offer prompt: who is sending, every file with its preview (or a type icon) and
//! size, the total of what is chosen, the free space here and whether the receive folder can take
//! files at all, and Accept / Decline / Choose files. It takes the whole window while an offer
//! waits, with the buttons in a bottom panel so a long list can never push them out of sight.
//! Several offers queue; the prompt shows the oldest first.
//!
//! Accept is the highlighted button only when saving can work: with too little free space, or a
//! receive folder that cannot be written, it is a plain button and "Change folder…" is offered.

use egui::{Align, Button, Layout, RichText, ScrollArea, Ui, vec2};

use super::i18n::human_size;
use super::model::{os_icon, type_icon};
use super::state::AppState;
use super::view_main::preview_or_icon;
use super::widgets::{self, shown};
use super::worker::DialogKind;
use crate::engine::Trust;

/// Rows are taller than in the send list: the previews are what the person decides on.
const ROW_HEIGHT: f32 = 60.0;
const PREVIEW_EDGE: f32 = 54.0;

pub fn show(state: &mut AppState, ui: &mut Ui) {
    let Some(pending) = state.offers.front() else { return };
    let offer = &pending.offer;
    let title = match offer.text {
        Some(_) => state.tr.offer_text_title(&shown(&offer.from.name)),
        None => state.tr.offer_title(&shown(&offer.from.name), offer.files.len()),
    };
    // The IP only: the port is the sender's outgoing one, which means nothing to people.
    let from_addr = match widgets::display_addr(offer.from.addr).rsplit_once(':') {
        Some((ip, _)) => ip.trim_matches(['[', ']']).to_owned(),
        None => offer.from.addr.ip().to_string(),
    };
    let from = format!("{} · {}", offer.from.os.label(), state.tr.at_address(&from_addr));
    let icon = os_icon(offer.from.os);
    let waiting = state.offers.len() - 1;
    let changed = matches!(offer.from.trust, Trust::Changed { .. });
    let code = offer.verification_code;
    let sender = shown(&offer.from.name).to_string();
    // Per device and keyed on its proven key; never offered for a device that only has a known
    // device's name (PROTOCOL.md §16).
    let offer_has_key = offer.from.fingerprint.is_some();
    let can_always_accept = offer_has_key && !changed;
    let is_text = offer.text.is_some();

    egui::Panel::top("offer_title").show(ui, |ui| {
        ui.add_space(8.0);
        widgets::heading(ui, Some(icon), &title, 1);
        ui.label(RichText::new(from).weak());
        if waiting > 0 {
            ui.label(RichText::new(state.tr.more_waiting(waiting)).italics());
        }
        // A known device's name with another key: say so before anything else is decided.
        if changed {
            let warning = ui.visuals().warn_fg_color;
            let text = state.tr.changed_warning(&sender);
            ui.add(egui::Label::new(RichText::new(text).color(warning).strong()).wrap());
        }
        if let Some(code) = code {
            ui.add_space(4.0);
            super::view_transfers::verification_code(ui, state.tr, code);
        }
        let tr = state.tr;
        // Only for a sender with a key of its own, which accepting remembers in the old one's
        // place (a LocalSend phone without a certificate has none).
        if changed
            && offer_has_key
            && let Some(pending) = state.offers.front_mut()
        {
            let label = tr.forget_old(&sender);
            let check = ui.checkbox(&mut pending.forget_old, &label);
            widgets::set_accessible_name(ui, &check, &label);
            ui.label(RichText::new(tr.forget_old_help()).weak());
        }
        if can_always_accept && let Some(pending) = state.offers.front_mut() {
            let check = ui.checkbox(&mut pending.always_accept, tr.always_accept());
            widgets::set_accessible_name(ui, &check, &format!("{} ({sender})", tr.always_accept()));
        }
        ui.add_space(6.0);
    });

    if is_text {
        egui::Panel::bottom("offer_buttons").show(ui, |ui| text_buttons(state, ui));
        egui::CentralPanel::default().show(ui, |ui| offered_text(state, ui));
        return;
    }
    egui::Panel::bottom("offer_buttons").show(ui, |ui| buttons(state, ui));

    egui::CentralPanel::default().show(ui, |ui| file_list(state, ui));
}

/// A text offer's text, all of it (16 KiB at most, PROTOCOL.md §5), cleaned for display line by
/// line, scrolling when long.
fn offered_text(state: &mut AppState, ui: &mut Ui) {
    let Some(text) = state.offers.front().and_then(|p| p.offer.text.as_deref()) else { return };
    let lines: Vec<String> = text.split('\n').map(|l| shown(l).into_owned()).collect();
    ScrollArea::vertical().id_salt("offer_text").auto_shrink([false, false]).show(ui, |ui| {
        widgets::name_region(ui, state.tr.offered_text());
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.add(egui::Label::new(RichText::new(lines.join("\n")).monospace().size(15.0)).wrap());
        });
    });
}

/// Accept / Decline for a text offer: nothing is saved, so there is no folder to check.
fn text_buttons(state: &mut AppState, ui: &mut Ui) {
    let tr = state.tr;
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        let accept = widgets::primary_button(ui, &format!("✔ {}", tr.accept()), true);
        let response = widgets::add_named(ui, true, accept, tr.accept());
        widgets::mark_default(ui, &response);
        if response.clicked() {
            state.answer(true);
            return;
        }
        decline_button(state, ui);
    });
    ui.add_space(8.0);
}

/// The Decline button of either prompt; `true` when it was pressed (and the offer declined).
fn decline_button(state: &mut AppState, ui: &mut Ui) -> bool {
    let tr = state.tr;
    let decline =
        Button::new(RichText::new(format!("✖ {}", tr.decline())).size(16.0)).min_size(vec2(110.0, 32.0));
    let pressed = widgets::add_named(ui, true, decline, tr.decline()).clicked();
    if pressed {
        state.answer(false);
    }
    pressed
}

fn file_list(state: &mut AppState, ui: &mut Ui) {
    let Some(pending) = state.offers.front() else { return };
    let (transfer, count, choosing) = (pending.offer.transfer, pending.offer.files.len(), pending.choosing);
    let mut toggled = None;
    let region = state.tr.offer_list();
    ScrollArea::vertical().id_salt("offer_files").auto_shrink([false, false]).show_rows(
        ui,
        ROW_HEIGHT,
        count,
        |ui, range| {
            widgets::name_region(ui, region);
            for i in range {
                let pending = &state.offers[0];
                let file = &pending.offer.files[i];
                // The name it will be saved under; the sender's own is in the tooltip.
                let name = shown(file.saved_name.as_deref().unwrap_or(&file.path));
                ui.allocate_ui_with_layout(
                    vec2(ui.available_width(), ROW_HEIGHT),
                    Layout::left_to_right(Align::Center),
                    |ui| {
                        if choosing {
                            let mut on = pending.selected[i];
                            // The checkbox's own label is the file name, so it is named for
                            // screen readers; the visible name is drawn (elided) after it.
                            let response = ui.checkbox(&mut on, "");
                            widgets::set_accessible_name(ui, &response, &name);
                            if response.changed() {
                                toggled = Some(i);
                            }
                        }
                        preview_or_icon(
                            ui,
                            state.offered_preview(transfer, i),
                            type_icon(&name),
                            &name,
                            PREVIEW_EDGE,
                        );
                        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                            ui.add_sized(
                                [90.0, ROW_HEIGHT],
                                egui::Label::new(RichText::new(human_size(file.size)).weak()),
                            );
                            ui.with_layout(Layout::left_to_right(Align::Center), |ui| {
                                let label = match file.saved_name {
                                    Some(_) => RichText::new(name.as_ref()),
                                    None => RichText::new(name.as_ref()).strikethrough().weak(),
                                };
                                let hover = name_tooltip(&state.tr, &name, file);
                                ui.add(egui::Label::new(label).truncate()).on_hover_text(hover);
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
    let tr = state.tr;
    let total_bytes = pending.offer.total_bytes;
    let (chosen, count, choosing) = (pending.selected_count(), pending.selected.len(), pending.choosing);
    let wanted: u64 = if chosen == count {
        total_bytes
    } else {
        pending.offer.files.iter().zip(&pending.selected).filter(|(_, s)| **s).map(|(f, _)| f.size).sum()
    };

    ui.add_space(6.0);
    let total = if chosen == count {
        tr.total(&tr.files_and_size(count as u64, &human_size(total_bytes)))
    } else {
        tr.total_selected(chosen, count, &human_size(wanted))
    };
    ui.label(RichText::new(total).strong());

    // Saving can fail before a byte arrives: say so now, not after the whole file was sent.
    let mut trouble = false;
    if let Some(check) = &state.receive_check
        && check.dir == state.settings.receive_dir
    {
        let error = ui.visuals().error_fg_color;
        if let Some(problem) = &check.problem {
            trouble = true;
            let text = tr.cannot_save(problem, &check.dir.display().to_string());
            ui.add(egui::Label::new(RichText::new(text).color(error)).wrap());
        } else if let Some(free) = check.free {
            ui.label(tr.free_space(&human_size(free)));
            if free < wanted {
                trouble = true;
                ui.colored_label(error, tr.not_enough_space());
            }
        }
    }
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        let accept_text =
            if chosen == count { tr.accept().to_owned() } else { tr.accept_some(chosen, count) };
        let can_accept = chosen > 0;
        // The highlighted (default-looking) button is the one that will work.
        let accept = if trouble {
            Button::new(RichText::new(format!("✔ {accept_text}")).size(16.0)).min_size(vec2(150.0, 34.0))
        } else {
            widgets::primary_button(ui, &format!("✔ {accept_text}"), can_accept)
        };
        let response = widgets::add_named(ui, can_accept, accept, &accept_text);
        if can_accept && !trouble {
            widgets::mark_default(ui, &response);
        }
        if response.clicked() {
            state.answer(true);
            return;
        }
        if decline_button(state, ui) {
            return;
        }
        if !choosing {
            if ui.button(tr.choose_files()).clicked()
                && let Some(p) = state.offers.front_mut()
            {
                p.choosing = true;
            }
        } else {
            if ui.add_enabled(chosen < count, Button::new(tr.select_all())).clicked()
                && let Some(p) = state.offers.front_mut()
            {
                p.selected.iter_mut().for_each(|s| *s = true);
            }
            if ui.add_enabled(chosen > 0, Button::new(tr.select_none())).clicked()
                && let Some(p) = state.offers.front_mut()
            {
                p.selected.iter_mut().for_each(|s| *s = false);
            }
        }
        if trouble && ui.add_enabled(!state.dialog_open, Button::new(tr.change_folder())).clicked() {
            state.open_dialog(DialogKind::ReceiveFolder);
        }
    });
    ui.add_space(8.0);
}

/// The saved name, and below it what the sender called the file when that differs, or that it
/// cannot be saved at all (PROTOCOL.md §9.1).
fn name_tooltip(tr: &super::i18n::Tr, name: &str, file: &crate::engine::OfferedFile) -> String {
    match &file.saved_name {
        Some(saved) if *saved == file.path => name.to_owned(),
        Some(_) => format!("{name}\n{}", tr.sent_as(&shown(&file.path))),
        None => format!("{name}\n{}", tr.name_not_allowed()),
    }
}
