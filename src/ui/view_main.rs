//! The main screen: who I am, devices nearby, the files to send, the receive folder, and the
//! transfers list. Views read the state and call its action methods; they never touch the
//! network or the disk.

use egui::text::{LayoutJob, TextFormat};
use egui::{Align, Button, FontId, Layout, RichText, ScrollArea, Ui, vec2};

use super::i18n::Tr;
use super::i18n::human_size;
use super::model::{Preview, device_type_icon, is_previewable, os_icon, type_icon};
use super::state::AppState;
use super::widgets::shown;
use super::worker::{DialogKind, Measured, PreviewKey, Unreadable};
use super::{view_transfers, widgets};

/// Height of one row in the chosen-files list (fixed so that only visible rows are laid out).
const ROW_HEIGHT: f32 = 44.0;
/// Edge of the preview square in a row.
const PREVIEW_EDGE: f32 = 36.0;

pub fn show(state: &mut AppState, ui: &mut Ui) {
    egui::Panel::top("header").show(ui, |ui| header(state, ui));
    egui::Panel::left("devices").resizable(true).default_size(290.0).min_size(220.0).show(ui, |ui| {
        ScrollArea::vertical().id_salt("devices_scroll").show(ui, |ui| {
            widgets::name_region(ui, state.tr.device_list());
            devices(state, ui);
        });
    });
    egui::Panel::bottom("receive_folder").show(ui, |ui| receive_folder(state, ui));
    egui::CentralPanel::default().show(ui, |ui| {
        send_area(state, ui);
        ui.add_space(6.0);
        ui.separator();
        view_transfers::show(state, ui);
    });
}

fn header(state: &mut AppState, ui: &mut Ui) {
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        widgets::heading(ui, None, "Ferry", 1);
        ui.separator();
        ui.vertical(|ui| {
            let me = state.tr.visible_as(&state.settings.device_name);
            widgets::decorated_label(ui, os_icon(crate::protocol::Os::current()), &me, RichText::strong);
            let addr = match (state.my_address_text(), state.engine_down) {
                (_, true) => state.tr.not_receiving().to_owned(),
                (Some(addr), _) => state.tr.at_address(&addr),
                (None, _) => state.tr.starting().to_owned(),
            };
            // Selectable: people copy the address to type it on the other computer.
            ui.add(egui::Label::new(RichText::new(addr).weak()).selectable(true));
        });
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if widgets::icon_button(ui, true, "⚙", state.tr.settings()).clicked() {
                state.open_settings();
            }
        });
    });
    let mut dismissed = None;
    let mut names = widgets::Namer::default();
    for (i, notice) in state.warnings.iter().enumerate() {
        let said = state.tr.notice(notice);
        let warning = shown(&said);
        ui.horizontal(|ui| {
            let icon = ui.colored_label(ui.visuals().warn_fg_color, "⚠");
            widgets::hide_from_screen_readers(ui, &icon);
            if widgets::named_button(ui, "🗙", &names.unique(state.tr.dismiss_warning(&warning))).clicked()
            {
                dismissed = Some(i);
            }
            ui.add(egui::Label::new(warning.as_ref()).wrap());
        });
    }
    if let Some(i) = dismissed {
        state.warnings.remove(i);
    }
    ui.add_space(4.0);
}

fn devices(state: &mut AppState, ui: &mut Ui) {
    ui.horizontal(|ui| {
        widgets::heading(ui, None, state.tr.devices_nearby(), 2);
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if widgets::named_button(ui, "🔄", state.tr.search_again()).clicked() {
                state.refresh();
            }
        });
    });
    ui.add_space(4.0);

    if state.peers.is_empty() {
        widgets::decorated_label(ui, "🔍", state.tr.searching(), RichText::italics);
        ui.add_space(4.0);
        let transfer_port = state.me.map_or(state.settings.transfer_port, |me| me.port());
        let hint = state.tr.firewall_hint(state.discovery_port, transfer_port);
        ui.add(egui::Label::new(RichText::new(hint).weak()).wrap());
    }
    let mut clicked = None;
    ui.with_layout(Layout::top_down_justified(Align::LEFT), |ui| {
        for peer in &state.peers {
            let selected = state.selected_peer == Some(peer.instance);
            let row = device_row(state.tr, peer, ui.style());
            let button = Button::selectable(selected, row.text).min_size(vec2(0.0, 44.0));
            if widgets::add_named(ui, true, button, &row.name).on_hover_text(row.kind).clicked() {
                clicked = Some(peer.instance);
            }
        }
    });
    if let Some(id) = clicked {
        state.selected_peer = Some(id);
    }

    ui.add_space(8.0);
    add_by_address(state, ui);
    remembered(state, ui);
}

/// What a row of the device list shows and what a screen reader says for it.
struct DeviceRow {
    text: LayoutJob,
    /// "Anna's phone, LocalSend phone, new, 10.0.0.5:53317".
    name: String,
    /// What kind of device it is (the tooltip).
    kind: String,
}

/// One device: its icon and name, a small "LocalSend" mark for LocalSend apps, whether it is a
/// known device, and its address. A name whose key is not the one known under that name gets
/// the warning on a line of its own: it is a device of its own, not the one the person knows.
fn device_row(tr: Tr, peer: &crate::engine::Peer, style: &egui::Style) -> DeviceRow {
    use crate::engine::{PeerSource, Trust};
    let peer_name = shown(&peer.name);
    let (icon, kind) = match peer.source {
        PeerSource::LocalSend(t) => (device_type_icon(t), tr.localsend_device(t)),
        _ => (os_icon(peer.os), peer.os.label().to_owned()),
    };
    let addr = widgets::display_addr(peer.addr);
    let visuals = &style.visuals;
    let strong = TextFormat::simple(FontId::proportional(15.0), visuals.text_color());
    let small = TextFormat::simple(FontId::proportional(11.0), visuals.weak_text_color());
    let mut text = LayoutJob::default();
    text.append(&format!("{icon}  {peer_name}"), 0.0, strong);
    if matches!(peer.source, PeerSource::LocalSend(_)) {
        text.append(tr.localsend_mark(), 8.0, small.clone());
    }
    let trust = match &peer.trust {
        Trust::Known => Some(tr.known_mark().to_owned()),
        Trust::New if peer.fingerprint.is_some() => Some(tr.new_mark().to_owned()),
        Trust::New => None,
        Trust::Changed { .. } => Some(tr.changed_warning(&peer_name)),
    };
    match (&peer.trust, &trust) {
        (Trust::Changed { .. }, Some(warning)) => {
            let warn = TextFormat::simple(FontId::proportional(12.0), visuals.warn_fg_color);
            text.append(&format!("\n      ⚠ {warning}"), 0.0, warn);
        }
        (_, Some(mark)) => text.append(mark, 8.0, small.clone()),
        _ => {}
    }
    text.append(&format!("\n      {addr}"), 0.0, small);
    let name = match trust {
        Some(t) => format!("{peer_name}, {kind}, {t}, {addr}"),
        None => format!("{peer_name}, {kind}, {addr}"),
    };
    DeviceRow { text, name, kind }
}

fn add_by_address(state: &mut AppState, ui: &mut Ui) {
    if !state.add_peer.open {
        if widgets::icon_button(ui, true, "➕", state.tr.add_by_address()).clicked() {
            state.add_peer.open = true;
            state.add_peer.error = None;
        }
        return;
    }
    ui.group(|ui| {
        let label = ui.label(state.tr.address());
        let edit = egui::TextEdit::singleline(&mut state.add_peer.text)
            .hint_text(state.tr.address_hint())
            .desired_width(f32::INFINITY);
        let response = ui.add(edit).labelled_by(label.id);
        let submitted = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        ui.horizontal(|ui| {
            // Never blocked while a try is pending: a device that is already known answers with
            // no new event, and the person must be able to try again.
            let busy = !state.add_peer.pending.is_empty();
            let can_add = !state.add_peer.text.trim().is_empty();
            if ui.add_enabled(can_add, Button::new(state.tr.add())).clicked() || (submitted && can_add) {
                state.add_peer_by_address();
            }
            if ui.button(state.tr.cancel()).clicked() {
                state.add_peer.open = false;
            }
            if busy {
                ui.label(RichText::new(state.tr.adding()).weak());
            }
        });
        if let Some((address, reason)) = &state.add_peer.error {
            let said = state.tr.add_failed(address, reason);
            let error = shown(&said);
            ui.add(egui::Label::new(RichText::new(error.as_ref()).color(ui.visuals().error_fg_color)).wrap());
        }
    });
}

fn remembered(state: &mut AppState, ui: &mut Ui) {
    if state.settings.remembered_peers.is_empty() {
        return;
    }
    ui.add_space(8.0);
    ui.label(RichText::new(state.tr.remembered()).strong());
    let mut connect = None;
    let mut forget = None;
    for address in &state.settings.remembered_peers {
        let online = state.peers.iter().any(|p| address.parse() == Ok(p.addr));
        ui.horizontal(|ui| {
            ui.label(address);
            if !online {
                ui.label(RichText::new(state.tr.not_reachable()).weak().small());
                if widgets::named_button(
                    ui,
                    state.tr.try_connect(),
                    &format!("{} {address}", state.tr.try_connect()),
                )
                .clicked()
                {
                    connect = Some(address.clone());
                }
            }
            if widgets::named_button(ui, "🗑", &format!("{} {address}", state.tr.forget())).clicked() {
                forget = Some(address.clone());
            }
        });
    }
    if let Some(a) = connect {
        state.connect_remembered(&a);
    }
    if let Some(a) = forget {
        state.forget_remembered(&a);
    }
}

fn send_area(state: &mut AppState, ui: &mut Ui) {
    widgets::heading(ui, None, state.tr.send_files(), 2);
    let pick_buttons = |state: &mut AppState, ui: &mut Ui| {
        let enabled = !state.dialog_open;
        if widgets::icon_button(ui, enabled, "🖼", state.tr.choose_photos()).clicked() {
            state.open_dialog(DialogKind::Photos);
        }
        if widgets::icon_button(ui, enabled, "📄", state.tr.choose_any_files()).clicked() {
            state.open_dialog(DialogKind::Files);
        }
        if widgets::icon_button(ui, enabled, "📁", state.tr.choose_folder()).clicked() {
            state.open_dialog(DialogKind::Folder);
        }
    };
    if state.chosen.is_empty() {
        // An empty list is a drop zone, so it is obvious where files can go.
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.vertical_centered(|ui| {
                ui.add_space(14.0);
                ui.horizontal(|ui| {
                    ui.add_space((ui.available_width() - 470.0).max(0.0) / 2.0);
                    pick_buttons(state, ui);
                });
                ui.add_space(6.0);
                ui.label(RichText::new(state.tr.drop_hint()).weak());
                ui.add_space(14.0);
            });
        });
    } else {
        ui.horizontal(|ui| {
            pick_buttons(state, ui);
            if ui.button(state.tr.clear_all()).clicked() {
                state.clear_chosen();
            }
        });
        chosen_list(state, ui);
        let total = if state.chosen_unmeasured > 0 {
            state.tr.measuring().to_owned()
        } else {
            state.tr.files_and_size(state.chosen_files, &human_size(state.chosen_bytes))
        };
        ui.label(RichText::new(state.tr.total(&total)).strong());
        let left_out = state.left_out();
        if left_out > 0 {
            let text = if state.chosen_files == 0 && state.chosen_unmeasured == 0 {
                state.tr.nothing_readable().to_owned()
            } else {
                state.tr.left_out(left_out)
            };
            ui.colored_label(ui.visuals().warn_fg_color, text);
        }
    }
    ui.add_space(4.0);
    let label = match state.selected_peer() {
        Some(peer) => state.tr.send_to(&shown(&peer.name)),
        None => state.tr.send_to("…"),
    };
    ui.horizontal(|ui| {
        let send = widgets::primary_button(ui, &format!("📤 {label}"), state.can_send());
        let response = widgets::add_named(ui, state.can_send(), send, &label);
        if state.can_send() {
            widgets::mark_default(ui, &response);
        }
        if response.clicked() {
            state.send_chosen();
        }
        if state.selected_peer().is_none() {
            ui.label(RichText::new(state.tr.pick_device_first()).weak());
        } else if state.chosen.is_empty() {
            ui.label(RichText::new(state.tr.pick_files_first()).weak());
        } else if let Some(peer) = state.selected_peer().filter(|_| state.already_sending()) {
            ui.label(RichText::new(state.tr.already_sending(&shown(&peer.name))).weak());
        }
    });
    ui.add_space(4.0);
    text_box(state, ui);
}

/// "Send text…": a box to type or paste a link, a password, an address, and a button that
/// offers it to the selected device (PROTOCOL.md §6.6).
fn text_box(state: &mut AppState, ui: &mut Ui) {
    let tr = state.tr;
    if !state.text_box.open {
        if widgets::icon_button(ui, true, "💬", tr.send_text_open()).clicked() {
            state.text_box.open = true;
        }
        return;
    }
    let edit = egui::TextEdit::multiline(&mut state.text_box.text)
        .hint_text(tr.text_hint())
        .desired_rows(3)
        .desired_width(f32::INFINITY);
    let response = ui.add(edit);
    widgets::set_accessible_name(ui, &response, tr.text_box_name());
    let len = state.text_box.text.len();
    let label = match state.selected_peer() {
        Some(peer) => tr.send_text_to(&shown(&peer.name)),
        None => tr.send_text_to("…"),
    };
    ui.horizontal(|ui| {
        let can = state.can_send_text();
        let send = widgets::primary_button(ui, &format!("📤 {label}"), can);
        if widgets::add_named(ui, can, send, &label).clicked() {
            state.send_text();
        }
        if ui.button(tr.cancel()).clicked() {
            state.text_box.open = false;
        }
        let why = if len > crate::protocol::MAX_TEXT_BYTES {
            Some(tr.text_too_long(len, crate::protocol::MAX_TEXT_BYTES))
        } else if state.selected_peer().is_none() {
            Some(tr.pick_device_first().to_owned())
        } else {
            None
        };
        if let Some(why) = why {
            ui.label(RichText::new(why).weak());
        }
    });
}

/// The chosen files, one fixed-height row each; only the rows on screen are laid out, so ten
/// thousand chosen files cost the same per frame as ten.
fn chosen_list(state: &mut AppState, ui: &mut Ui) {
    let mut remove = None;
    let rows = state.chosen.len();
    // Up to half the window, so a long list still leaves room for the transfers below.
    let max_height = (ui.available_height() * 0.5).max(ROW_HEIGHT * 2.5);
    let region = state.tr.chosen_list();
    ScrollArea::vertical().id_salt("chosen").max_height(max_height).auto_shrink([false, true]).show_rows(
        ui,
        ROW_HEIGHT,
        rows,
        |ui, range| {
            widgets::name_region(ui, region);
            for i in range {
                let (path, name, measured) = {
                    let c = &state.chosen[i];
                    (c.path.clone(), c.name.clone(), c.measured.clone())
                };
                if matches!(measured, Some(Measured::File { .. })) && is_previewable(&name) {
                    state.want_preview(&path);
                }
                ui.allocate_ui_with_layout(
                    vec2(ui.available_width(), ROW_HEIGHT),
                    Layout::left_to_right(Align::Center),
                    |ui| {
                        let folder = matches!(measured, Some(Measured::Folder { .. }));
                        let icon = if folder { "📁" } else { type_icon(&name) };
                        preview_or_icon(
                            ui,
                            state.previews.get(&PreviewKey::Local(path.clone())),
                            icon,
                            &name,
                            PREVIEW_EDGE,
                        );
                        let tr = state.tr;
                        let (detail, bad) = match &measured {
                            None => (tr.measuring().to_owned(), false),
                            Some(Measured::File { size }) => (human_size(*size), false),
                            Some(Measured::Folder { files: 0, .. }) => (tr.empty_folder().to_owned(), true),
                            Some(Measured::Folder { files, size }) => {
                                (tr.folder_summary(*files, &human_size(*size)), false)
                            }
                            Some(Measured::Unreadable(Unreadable::Gone)) => (tr.gone().to_owned(), true),
                            Some(Measured::Unreadable(Unreadable::NoPermission)) => {
                                (tr.no_permission().to_owned(), true)
                            }
                            Some(Measured::Unreadable(Unreadable::Other(e))) => {
                                (format!("{}: {e}", tr.unreadable()), true)
                            }
                        };
                        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                            if widgets::named_button(ui, "🗙", &tr.remove_named(&name)).clicked() {
                                remove = Some(i);
                            }
                            let detail = if bad {
                                RichText::new(format!("⚠ {detail}")).color(ui.visuals().warn_fg_color)
                            } else {
                                RichText::new(detail).weak()
                            };
                            ui.add_sized([220.0, ROW_HEIGHT], egui::Label::new(detail).truncate());
                            ui.with_layout(Layout::left_to_right(Align::Center), |ui| {
                                ui.add(egui::Label::new(&name).truncate())
                                    .on_hover_text(path.display().to_string());
                            });
                        });
                    },
                );
            }
        },
    );
    if let Some(i) = remove {
        state.remove_chosen(i);
    }
}

/// A square preview when one is ready, else the file type's icon in the same square; `edge` is
/// its side in points.
pub fn preview_or_icon(ui: &mut Ui, preview: Option<&Preview>, icon: &str, name: &str, edge: f32) {
    let size = vec2(edge, edge);
    match preview {
        Some(Preview::Ready(texture)) => {
            // Same square for portrait and landscape previews, so the names line up.
            ui.add_sized(
                size,
                egui::Image::from_texture(texture).max_size(size).maintain_aspect_ratio(true).alt_text(name),
            );
        }
        _ => {
            ui.add_sized(size, egui::Label::new(RichText::new(icon).size(edge * 0.6)));
        }
    }
}

fn receive_folder(state: &mut AppState, ui: &mut Ui) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        widgets::decorated_label(ui, "📥", &format!("{}:", state.tr.receive_folder()), RichText::strong);
        let dir = state.settings.receive_dir.display().to_string();
        if ui.add_enabled(!state.dialog_open, Button::new(state.tr.change())).clicked() {
            state.open_dialog(DialogKind::ReceiveFolder);
        }
        if widgets::named_button(ui, "📂", state.tr.open_receive_folder()).clicked() {
            let dir = state.settings.receive_dir.clone();
            state.open(dir);
        }
        ui.add(egui::Label::new(dir).truncate());
    });
    ui.add_space(4.0);
}
