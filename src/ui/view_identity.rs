//! Settings: this device's fingerprint with "Reset identity", and the known devices (rename,
//! forget, "Always accept from this device"). The data and the jobs are in [`super::known`].

use egui::{RichText, Ui};

use super::history::{local_time, now_unix};
use super::state::AppState;
use super::widgets::{self, shown};

/// This device's key and the reset button (with its question).
pub fn this_device(state: &mut AppState, ui: &mut Ui) {
    let tr = state.tr;
    widgets::heading(ui, None, tr.this_device(), 3);
    if let Some(fp) = state.known.fingerprint {
        ui.horizontal(|ui| {
            ui.label(format!("{}:", tr.fingerprint()));
            // Selectable: people read it out or paste it into `ferry send --to`.
            ui.add(egui::Label::new(RichText::new(fp.short()).monospace().strong()).selectable(true))
                .on_hover_text(fp.to_hex());
        });
        ui.label(RichText::new(tr.fingerprint_help()).weak());
    }
    if let Some(new) = state.known.reset_to {
        ui.label(
            RichText::new(format!("{} {}: {}", tr.identity_reset_done(), tr.fingerprint(), new.short()))
                .strong(),
        );
    } else if ui.button(tr.reset_identity()).clicked() {
        state.known.confirm_reset = true;
    }
    if state.known.confirm_reset {
        reset_question(state, ui.ctx());
    }
}

fn reset_question(state: &mut AppState, ctx: &egui::Context) {
    let tr = state.tr;
    let (mut reset, mut keep) = (false, false);
    egui::Modal::new(egui::Id::unique("reset_identity_question")).show(ctx, |ui| {
        ui.set_max_width(440.0);
        widgets::heading(ui, None, tr.reset_identity_question(), 1);
        ui.add_space(6.0);
        ui.add(egui::Label::new(tr.reset_identity_explained()).wrap());
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            if ui.button(tr.cancel()).clicked() {
                keep = true;
            }
            if ui.button(tr.reset_identity_confirm()).clicked() {
                reset = true;
            }
        });
    });
    if reset {
        state.reset_identity();
    } else if keep || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        state.known.confirm_reset = false;
    }
}

/// The known devices, newest meeting first.
pub fn known_devices(state: &mut AppState, ui: &mut Ui) {
    let tr = state.tr;
    widgets::heading(ui, None, tr.known_devices(), 3);
    let Some(devices) = &state.known.devices else {
        ui.label(RichText::new(tr.starting()).weak());
        return;
    };
    if devices.is_empty() {
        ui.label(RichText::new(tr.no_known_devices()).weak());
        return;
    }
    let mut devices = devices.clone();
    devices.sort_by_key(|d| std::cmp::Reverse(d.last_seen));
    let now = local_time(now_unix());
    enum Act {
        Rename(crate::identity::Fingerprint, String),
        StartRename(crate::identity::Fingerprint, String),
        StopRename,
        Forget(crate::identity::Fingerprint),
        Always(crate::identity::Fingerprint, bool),
    }
    let mut act = None;
    for d in &devices {
        let name = shown(d.display_name()).into_owned();
        ui.group(|ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new(&name).strong());
                ui.label(RichText::new(d.fingerprint.short()).monospace().weak());
            });
            let seen = match (local_time(d.last_seen), now) {
                (Some(at), Some(now)) => tr.when(at, now),
                _ => String::new(),
            };
            if !seen.is_empty() {
                ui.label(RichText::new(tr.last_seen(&seen)).weak());
            }
            let is_renaming = state.known.renaming.as_ref().is_some_and(|(fp, _)| *fp == d.fingerprint);
            if let Some((_, draft)) = state.known.renaming.as_mut().filter(|(fp, _)| *fp == d.fingerprint) {
                ui.horizontal(|ui| {
                    let label = ui.label(tr.shown_name());
                    let edit =
                        ui.add(egui::TextEdit::singleline(draft).desired_width(220.0)).labelled_by(label.id);
                    let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if ui.button(tr.save()).clicked() || enter {
                        act = Some(Act::Rename(d.fingerprint, draft.clone()));
                    } else if ui.button(tr.cancel()).clicked() {
                        act = Some(Act::StopRename);
                    }
                });
            }
            ui.horizontal(|ui| {
                let mut always = d.always_accept;
                let check = ui.checkbox(&mut always, tr.always_accept());
                widgets::set_accessible_name(ui, &check, &format!("{} ({name})", tr.always_accept()));
                if check.changed() {
                    act = Some(Act::Always(d.fingerprint, always));
                }
                if !is_renaming
                    && widgets::named_button(ui, tr.rename(), &format!("{} {name}", tr.rename())).clicked()
                {
                    act = Some(Act::StartRename(d.fingerprint, d.display_name().to_owned()));
                }
                if widgets::named_button(ui, tr.forget(), &tr.forget_device(&name)).clicked() {
                    act = Some(Act::Forget(d.fingerprint));
                }
            });
        });
    }
    match act {
        Some(Act::Rename(fp, name)) => state.rename_known(fp, name),
        Some(Act::StartRename(fp, draft)) => state.known.renaming = Some((fp, draft)),
        Some(Act::StopRename) => state.known.renaming = None,
        Some(Act::Forget(fp)) => state.forget_known(fp),
        Some(Act::Always(fp, on)) => state.set_always_accept(fp, on),
        None => {}
    }
}
