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
