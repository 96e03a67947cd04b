//! Small pieces several views share.

use std::net::SocketAddr;

use egui::{Button, Response, RichText, Ui, vec2};

/// A button whose visible text may be just an icon, with `name` as what a screen reader says
/// (and a tooltip for sighted people).
pub fn named_button(ui: &mut Ui, text: &str, name: &str) -> Response {
    let response = ui.button(text);
    set_accessible_name(ui, &response, name);
    if text != name { response.on_hover_text(name) } else { response }
}

/// A button showing an icon before its text; screen readers get the text alone.
pub fn icon_button(ui: &mut Ui, enabled: bool, icon: &str, text: &str) -> Response {
    let response = ui.add_enabled(enabled, Button::new(format!("{icon} {text}")));
    set_accessible_name(ui, &response, text);
    response
}

/// Adds `button` (enabled or not) named `name` for screen readers.
pub fn add_named(ui: &mut Ui, enabled: bool, button: Button<'_>, name: &str) -> Response {
    let response = ui.add_enabled(enabled, button);
    set_accessible_name(ui, &response, name);
    response
}

/// Replaces the name assistive technology reads for a widget.
pub fn set_accessible_name(ui: &Ui, response: &Response, name: &str) {
    ui.ctx().accesskit_node_builder(response.id, |node| node.set_label(name.to_owned()));
}

/// An address as people type it: `192.168.1.20:53531`; an IPv4 address mapped into IPv6 shows
/// as plain IPv4.
pub fn display_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => format!("{v4}:{}", v6.port()),
            None => addr.to_string(),
        },
        SocketAddr::V4(_) => addr.to_string(),
    }
}

/// The one action a screen is about (Send, Accept): larger, and in the accent colour while it
/// can be pressed.
pub fn primary_button(ui: &Ui, text: &str, enabled: bool) -> Button<'static> {
    let text = RichText::new(text.to_owned()).size(16.0);
    if enabled {
        let visuals = &ui.visuals().selection;
        Button::new(text.color(visuals.stroke.color)).fill(visuals.bg_fill).min_size(vec2(150.0, 34.0))
    } else {
        Button::new(text).min_size(vec2(150.0, 34.0))
    }
}

/// Text a peer sent (device and file names, error texts), made safe to show: control, bidi and
/// invisible characters appear as `\u{…}` escapes (see [`crate::text::display`]).
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    crate::text::display(text)
}

/// A label drawn with a decorative icon in front ("📥 From Kitchen PC") that a screen reader
/// reads without the icon ("From Kitchen PC"); `style` dresses the drawn text.
pub fn decorated_label(
    ui: &mut Ui,
    icon: &str,
    text: &str,
    style: impl Fn(RichText) -> RichText,
) -> Response {
    let response = ui.add(egui::Label::new(style(RichText::new(format!("{icon} {text}")))).truncate());
    ui.ctx().accesskit_node_builder(response.id, |node| node.set_value(text.to_owned()));
    response
}

/// A heading that assistive technology knows is one (egui's own are plain labels), at `level`
/// (1 the window's title, 2 its sections). `icon` is drawn before the text but not read out.
pub fn heading(ui: &mut Ui, icon: Option<&str>, text: &str, level: usize) -> Response {
    let drawn = match icon {
        Some(icon) => format!("{icon} {text}"),
        None => text.to_owned(),
    };
    let response = ui.add(egui::Label::new(RichText::new(drawn).heading()).truncate());
    ui.ctx().accesskit_node_builder(response.id, |node| {
        node.set_role(egui::accesskit::Role::Heading);
        node.set_level(level);
        node.set_label(text.to_owned());
        node.clear_value();
    });
    response
}

/// Names the region `ui` draws into (a scroll area's content, a panel) for screen readers.
pub fn name_region(ui: &Ui, name: &str) {
    ui.ctx().accesskit_node_builder(ui.unique_id(), |node| {
        node.set_role(egui::accesskit::Role::ScrollView);
        node.set_label(name.to_owned());
    });
}

/// Makes accessible names unique within one list: the second "Open folder" becomes "Open
/// folder (2)", so a screen reader user can tell same-looking rows apart and a test can find
/// each.
#[derive(Default)]
pub struct Namer {
    seen: std::collections::HashMap<String, u32>,
}

impl Namer {
    pub fn unique(&mut self, name: String) -> String {
        let count = self.seen.entry(name.clone()).or_insert(0);
        *count += 1;
        if *count == 1 { name } else { format!("{name} ({count})") }
    }
}

/// Keeps a purely decorative widget (an icon drawn beside words that say the same) out of what
/// a screen reader reads.
pub fn hide_from_screen_readers(ui: &Ui, response: &Response) {
    ui.ctx().accesskit_node_builder(response.id, |node| {
        node.set_hidden();
        node.clear_value();
    });
}

/// Marks the highlighted button of a screen (the one that will work, what Enter means) as the
/// default button, so assistive technology (and tests) know which one is highlighted.
pub fn mark_default(ui: &Ui, response: &Response) {
    ui.ctx().accesskit_node_builder(response.id, |node| node.set_role(egui::accesskit::Role::DefaultButton));
}
