//! Settings: device name, receive folder, accept automatically, LocalSend on/off (at once),
//! language, theme, this device's fingerprint and the known devices ([`super::view_identity`]),
//! and the ports (advanced; they apply at the next start because the engine is bound to them).

use egui::{Button, RichText, Ui};

use super::model::Page;
use super::state::AppState;
use super::widgets;
use super::worker::DialogKind;
use crate::settings::{Language, Theme};

pub fn show(state: &mut AppState, ui: &mut Ui) {
    egui::Panel::top("settings_title").show(ui, |ui| {
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if widgets::icon_button(ui, true, "⬅", state.tr.back()).clicked() {
                state.commit_device_name();
                state.page = Page::Main;
            }
            ui.heading(state.tr.settings());
        });
        ui.add_space(6.0);
    });
    egui::CentralPanel::default().show(ui, |ui| {
        egui::ScrollArea::vertical().show(ui, |ui| body(state, ui));
    });
}

fn body(state: &mut AppState, ui: &mut Ui) {
    let tr = state.tr;

    let label = ui.label(RichText::new(tr.device_name()).strong());
    let response =
        ui.add(egui::TextEdit::singleline(&mut state.name_draft).desired_width(320.0)).labelled_by(label.id);
    if response.lost_focus() {
        state.commit_device_name();
    }
    ui.label(RichText::new(tr.device_name_help()).weak());
    ui.add_space(12.0);

    ui.label(RichText::new(tr.receive_folder()).strong());
    ui.horizontal(|ui| {
        if ui.add_enabled(!state.dialog_open, Button::new(tr.change())).clicked() {
            state.open_dialog(DialogKind::ReceiveFolder);
        }
        ui.label(state.settings.receive_dir.display().to_string());
    });
    ui.add_space(12.0);

    // Accepting without asking is per device, keyed on its key (Known devices below, or the
    // prompt's "Always accept from this device"); there is no switch for everyone.
    ui.add(egui::Label::new(RichText::new(tr.accept_automatically_hint()).weak()).wrap());
    ui.add_space(12.0);

    let mut localsend = state.settings.localsend;
    if ui.checkbox(&mut localsend, tr.localsend_setting()).changed() {
        state.set_localsend(localsend);
    }
    ui.add(egui::Label::new(RichText::new(tr.localsend_help()).weak()).wrap());
    ui.add_space(12.0);

    let mut language = state.settings.language;
    egui::ComboBox::from_label(tr.language()).selected_text(language_name(state, language)).show_ui(
        ui,
        |ui| {
            for choice in [Language::System, Language::English, Language::SimplifiedChinese] {
                ui.selectable_value(&mut language, choice, language_name(state, choice));
            }
        },
    );
    if language != state.settings.language {
        state.set_language(language);
    }
    ui.add_space(8.0);

    let mut theme = state.settings.theme;
    egui::ComboBox::from_label(tr.theme()).selected_text(theme_name(state, theme)).show_ui(ui, |ui| {
        for choice in [Theme::System, Theme::Light, Theme::Dark] {
            ui.selectable_value(&mut theme, choice, theme_name(state, choice));
        }
    });
    if theme != state.settings.theme {
        state.settings.theme = theme;
        apply_theme(ui.ctx(), theme);
        state.save_settings();
    }
    ui.add_space(12.0);

    super::view_identity::this_device(state, ui);
    ui.add_space(12.0);
    super::view_identity::known_devices(state, ui);
    ui.add_space(12.0);

    egui::CollapsingHeader::new(tr.ports()).show(ui, |ui| {
        let mut changed = false;
        ui.horizontal(|ui| {
            let label = ui.label(tr.transfer_port());
            changed |= ui
                .add(egui::DragValue::new(&mut state.settings.transfer_port).range(1..=65535))
                .labelled_by(label.id)
                .changed();
        });
        ui.horizontal(|ui| {
            let label = ui.label(tr.discovery_port());
            changed |= ui
                .add(egui::DragValue::new(&mut state.settings.discovery_port).range(1..=65535))
                .labelled_by(label.id)
                .changed();
        });
        ui.label(RichText::new(tr.ports_next_start()).weak());
        if changed {
            state.save_settings();
        }
    });
}

fn language_name(state: &AppState, language: Language) -> &'static str {
    match language {
        Language::System => state.tr.system(),
        Language::English => "English",
        Language::SimplifiedChinese => "简体中文",
    }
}

fn theme_name(state: &AppState, theme: Theme) -> &'static str {
    match theme {
        Theme::System => state.tr.system(),
        Theme::Light => state.tr.light(),
        Theme::Dark => state.tr.dark(),
    }
}

/// Makes egui follow the chosen theme.
pub fn apply_theme(ctx: &egui::Context, theme: Theme) {
    ctx.set_theme(match theme {
        Theme::System => egui::ThemePreference::System,
        Theme::Light => egui::ThemePreference::Light,
        Theme::Dark => egui::ThemePreference::Dark,
    });
}
