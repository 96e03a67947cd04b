//! Small pieces several views share.

use std::net::SocketAddr;

use egui::{Response, Ui};

/// A button whose visible text may be just an icon, with `name` as what a screen reader says
/// (and a tooltip for sighted people).
pub fn named_button(ui: &mut Ui, text: &str, name: &str) -> Response {
    let response = ui.button(text);
    set_accessible_name(ui, &response, name);
    if text != name { response.on_hover_text(name) } else { response }
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
