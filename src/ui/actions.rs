//! What the person asks for: the action methods the views call. Each turns a click into a
//! [`Command`] for the engine and/or a [`Job`] for the background workers; none of them waits.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::history::{self, Entry, Outcome};
use super::i18n::{Lang, Tr};
use super::model::{Chosen, PHOTO_AND_VIDEO_EXTENSIONS, Preview, with_case_variants};
use super::state::AppState;
use super::worker::{DialogKind, DialogRequest, Job, PreviewKey};
use crate::engine::{Command, Decision, Direction, LiveSettings, Peer, TransferId, Trust};

impl AppState {
    // ---- actions (from the views) --------------------------------------------------------

    /// Adds files and folders to the send list (duplicates once) and has them measured.
    pub fn add_chosen(&mut self, paths: Vec<PathBuf>) {
        let fresh: Vec<PathBuf> = paths.into_iter().filter(|p| self.chosen_set.insert(p.clone())).collect();
        if fresh.is_empty() {
            return;
        }
        for path in &fresh {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            self.chosen.push(Chosen { path: path.clone(), name, measured: None });
        }
        self.chosen_unmeasured += fresh.len();
        self.workers.submit(Job::Measure(fresh));
    }

    pub fn remove_chosen(&mut self, index: usize) {
        if index < self.chosen.len() {
            let removed = self.chosen.remove(index);
            self.chosen_set.remove(&removed.path);
            if removed.measured.is_none() {
                self.chosen_unmeasured -= 1;
            }
            self.previews.remove(&PreviewKey::Local(removed.path));
            self.recount();
        }
    }

    pub fn clear_chosen(&mut self) {
        self.chosen.clear();
        self.chosen_set.clear();
        self.chosen_unmeasured = 0;
        self.previews.retain(|k, _| !matches!(k, PreviewKey::Local(_)));
        self.recount();
    }

    /// Asks for a preview of a chosen image the first time its row is drawn.
    pub fn want_preview(&mut self, path: &Path) {
        let key = PreviewKey::Local(path.to_path_buf());
        if let std::collections::hash_map::Entry::Vacant(slot) = self.previews.entry(key) {
            slot.insert(Preview::Loading);
            self.workers.submit(Job::Preview(path.to_path_buf()));
        }
    }

    /// What the file dialog of this kind is opened with: its title and filters in the person's
    /// language, and the folder used last.
    pub fn dialog_request(&self, kind: DialogKind) -> DialogRequest {
        let tr = self.tr;
        let title = match kind {
            DialogKind::Photos => tr.choose_photos(),
            DialogKind::Files => tr.choose_any_files(),
            DialogKind::Folder => tr.choose_folder(),
            DialogKind::ReceiveFolder => tr.receive_folder(),
        };
        let filters = match kind {
            DialogKind::Photos => vec![
                (tr.photos_and_videos().to_owned(), with_case_variants(PHOTO_AND_VIDEO_EXTENSIONS)),
                (tr.all_files().to_owned(), vec!["*".to_owned()]),
            ],
            _ => Vec::new(),
        };
        let start_in = match kind {
            DialogKind::ReceiveFolder => Some(self.settings.receive_dir.clone()),
            _ => self.settings.last_pick_dir.clone().filter(|d| d.is_dir()),
        };
        DialogRequest { kind, title: title.trim_end_matches('…').to_owned(), start_in, filters }
    }

    pub fn open_dialog(&mut self, kind: DialogKind) {
        let request = self.dialog_request(kind);
        self.dialog_open = true;
        self.workers.open_dialog(request);
    }

    /// How others can reach us, for the header: `10.0.0.5:53531`, or several separated by commas.
    pub fn my_address_text(&self) -> Option<String> {
        let me = self.me?;
        if !me.ip().is_unspecified() || self.my_addresses.is_empty() {
            return Some(super::widgets::display_addr(me));
        }
        let shown: Vec<String> =
            self.my_addresses.iter().take(3).map(|ip| SocketAddr::new(*ip, me.port()).to_string()).collect();
        Some(shown.join(", "))
    }

    pub fn selected_peer(&self) -> Option<&Peer> {
        self.selected_peer.and_then(|id| self.peers.iter().find(|p| p.instance == id))
    }

    /// Chosen paths that will be left out of the offer: unreadable ones, empty folders.
    pub fn left_out(&self) -> usize {
        self.chosen.iter().filter(|c| c.measured.is_some() && !c.sendable()).count()
    }

    /// A device is selected, everything chosen is measured, and some of it can be sent.
    pub fn can_send(&self) -> bool {
        self.selected_peer().is_some()
            && self.chosen_unmeasured == 0
            && self.chosen_files > 0
            && !self.engine_down
            && !self.already_sending()
    }

    /// The chosen files are on their way to the selected device right now (so a second click
    /// does not send them twice).
    pub fn already_sending(&self) -> bool {
        let Some(peer) = self.selected_peer() else { return false };
        let paths = self.sendable_paths();
        self.transfers.iter().any(|t| {
            t.status.is_active()
                && t.direction == Direction::Outgoing
                && t.peer_addr == Some(peer.addr)
                && t.paths == paths
        })
    }

    fn sendable_paths(&self) -> Vec<PathBuf> {
        self.chosen.iter().filter(|c| c.sendable()).map(|c| c.path.clone()).collect()
    }

    /// Sends the readable chosen files to the selected device. The list stays until they have
    /// all arrived, so another device or Try again is one click.
    pub fn send_chosen(&mut self) {
        let Some(peer) = self.selected_peer().cloned() else { return };
        if !self.can_send() {
            return;
        }
        let paths = self.sendable_paths();
        let files = self.chosen_files.min(u64::from(u32::MAX)) as u32;
        let bytes = self.chosen_bytes;
        self.start_send(&peer.name, peer.addr, paths, files, bytes);
    }

    pub(super) fn start_send(
        &mut self,
        name: &str,
        to: SocketAddr,
        paths: Vec<PathBuf>,
        files: u32,
        bytes: u64,
    ) {
        let id = TransferId::next();
        let t = self.transfer_entry(id, Direction::Outgoing, name);
        t.peer_addr = Some(to);
        t.paths = paths.clone();
        t.files = files;
        t.bytes_total = bytes;
        self.send(Command::Send { id, to, paths });
    }

    /// The text in the "Send text…" box can go to the selected device: there is some and not too
    /// much (a Ferry device takes it as a text offer, a LocalSend app as a message).
    pub fn can_send_text(&self) -> bool {
        let len = self.text_box.text.len();
        self.selected_peer().is_some()
            && len > 0
            && len <= crate::protocol::MAX_TEXT_BYTES
            && !self.engine_down
    }

    /// Offers the text in the box to the selected device; the box closes and empties.
    pub fn send_text(&mut self) {
        let Some(peer) = self.selected_peer().cloned() else { return };
        if !self.can_send_text() {
            return;
        }
        let text = std::mem::take(&mut self.text_box.text);
        self.text_box.open = false;
        let id = TransferId::next();
        let t = self.transfer_entry(id, Direction::Outgoing, &peer.name);
        t.peer_addr = Some(peer.addr);
        t.files = 1;
        t.bytes_total = text.len() as u64;
        t.text = Some(text.clone());
        self.send(Command::SendText { id, to: peer.addr, text });
    }

    /// Copies a received text to the clipboard, exactly as it was sent.
    pub fn copy_text(&mut self, ctx: &egui::Context, id: u64) {
        if let Some(t) = self.texts.iter_mut().find(|t| t.id == id) {
            ctx.copy_text(t.text.clone());
            t.copied = true;
        }
    }

    pub fn dismiss_text(&mut self, id: u64) {
        self.texts.retain(|t| t.id != id);
    }

    /// "Try again": the same files to the same address, as a new transfer.
    pub fn retry(&mut self, id: TransferId) {
        let Some(i) = self.transfers.iter().position(|t| t.id == id) else { return };
        let old = self.transfers.remove(i);
        if let (Some(text), Some(to)) = (old.text, old.peer_addr) {
            let id = TransferId::next();
            let t = self.transfer_entry(id, Direction::Outgoing, &old.peer_name);
            t.peer_addr = Some(to);
            t.files = 1;
            t.bytes_total = text.len() as u64;
            t.text = Some(text.clone());
            self.send(Command::SendText { id, to, text });
            return;
        }
        // Paths the send list has since found unreadable are left out of the new try.
        let unreadable =
            |p: &PathBuf| self.chosen.iter().any(|c| &c.path == p && c.measured.is_some() && !c.sendable());
        let paths: Vec<PathBuf> = old.paths.iter().filter(|p| !unreadable(p)).cloned().collect();
        if let Some(addr) = old.peer_addr
            && !paths.is_empty()
        {
            self.start_send(&old.peer_name, addr, paths, old.files, old.bytes_total);
        }
    }

    pub fn cancel(&mut self, id: TransferId) {
        self.send(Command::Cancel(id));
    }

    pub fn dismiss(&mut self, id: TransferId) {
        self.transfers.retain(|t| t.id != id || t.status.is_active());
    }

    /// Removes every transfer that has ended from the list (the history keeps them).
    pub fn clear_finished(&mut self) {
        self.transfers.retain(|t| t.status.is_active());
    }

    /// Transfers under way and offers not yet answered: what closing the window would stop.
    pub fn in_flight(&self) -> usize {
        self.transfers.iter().filter(|t| t.status.is_active()).count() + self.offers.len()
    }

    /// Answers the offer at the front of the queue.
    pub fn answer(&mut self, accept: bool) {
        let Some(pending) = self.offers.pop_front() else { return };
        let decision = if !accept {
            Decision::Decline
        } else if pending.selected.iter().all(|s| *s) {
            Decision::AcceptAll
        } else {
            let chosen = pending.selected.iter().enumerate().filter(|(_, s)| **s).map(|(i, _)| i as u32);
            let chosen: Vec<u32> = chosen.collect();
            if chosen.is_empty() { Decision::Decline } else { Decision::AcceptSome(chosen) }
        };
        let transfer = pending.offer.transfer;
        if decision != Decision::Decline
            && pending.always_accept
            && let Some(fp) = pending.offer.from.fingerprint
        {
            self.always_accept_from(fp, pending.offer.from.name.clone());
        }
        if decision != Decision::Decline
            && pending.forget_old
            && let Trust::Changed { lookalikes } = &pending.offer.from.trust
        {
            for old in lookalikes {
                self.forget_known(*old);
            }
        }
        self.previews.retain(|k, _| !matches!(k, PreviewKey::Offered(t, _) if *t == transfer));
        if decision == Decision::Decline && pending.offer.text.is_none() {
            // A declined offer never becomes a transfer: the history is where it is told.
            let offer = &pending.offer;
            self.history.push(Entry {
                ended_at: history::now_unix(),
                received: true,
                peer: offer.from.name.clone(),
                files: offer.files.len().min(u32::MAX as usize) as u32,
                bytes: offer.total_bytes,
                outcome: Outcome::Declined,
                saved_file: None,
            });
            self.save_history();
        }
        self.send(Command::Answer { transfer, decision });
        // The next offer (if any) needs its own free-space line.
        if !self.offers.is_empty() {
            self.workers.submit(Job::CheckReceiveFolder(self.settings.receive_dir.clone()));
        }
    }

    pub fn add_peer_by_address(&mut self) {
        let address = self.add_peer.text.trim().to_owned();
        if address.is_empty() {
            return;
        }
        self.add_peer.error = None;
        if !self.add_peer.pending.contains(&address) {
            self.add_peer.pending.push(address.clone());
        }
        self.send(Command::AddPeer(address));
    }

    /// Probe a remembered device again.
    pub fn connect_remembered(&mut self, address: &str) {
        self.send(Command::AddPeer(address.to_owned()));
    }

    pub fn forget_remembered(&mut self, address: &str) {
        self.settings.remembered_peers.retain(|a| a != address);
        self.save_settings();
    }

    pub fn refresh(&mut self) {
        self.send(Command::RefreshDiscovery);
    }

    pub fn set_receive_dir(&mut self, dir: PathBuf) {
        if dir == self.settings.receive_dir {
            return;
        }
        self.settings.receive_dir = dir.clone();
        self.receive_check = None;
        if !self.offers.is_empty() {
            self.workers.submit(Job::CheckReceiveFolder(dir.clone()));
        }
        self.save_settings();
        self.send(Command::UpdateSettings(LiveSettings { receive_dir: Some(dir), ..Default::default() }));
    }

    /// Applies the device name typed in Settings, when it is a usable name.
    pub fn commit_device_name(&mut self) {
        let Some(name) = crate::protocol::clean_display_name(&self.name_draft) else {
            self.name_draft = self.settings.device_name.clone();
            return;
        };
        self.name_draft = name.clone();
        if name != self.settings.device_name {
            self.settings.device_name = name.clone();
            self.save_settings();
            self.send(Command::UpdateSettings(LiveSettings {
                device_name: Some(name),
                ..Default::default()
            }));
        }
    }

    /// LocalSend on or off: saved, and the engine starts or stops its LocalSend side at once.
    pub fn set_localsend(&mut self, on: bool) {
        self.settings.localsend = on;
        self.save_settings();
        self.send(Command::UpdateSettings(LiveSettings { localsend: Some(on), ..Default::default() }));
    }

    pub fn set_language(&mut self, language: crate::settings::Language) {
        self.settings.language = language;
        self.tr = Tr(Lang::resolve(language));
        self.save_settings();
    }

    /// Persists the settings through the I/O worker (ports, theme ... take effect as the callers
    /// say).
    pub fn save_settings(&mut self) {
        self.workers.submit(Job::SaveSettings {
            settings: Box::new(self.settings.clone()),
            dir: self.config_dir.clone(),
        });
    }

    pub(super) fn save_history(&mut self) {
        let path = self.config_dir.join(history::FILE_NAME);
        self.workers.submit(Job::Write { path, contents: self.history.to_json() });
    }

    pub fn clear_history(&mut self) {
        self.history.clear();
        self.save_history();
    }

    /// Opens a folder in the system's file manager, or a file in its default application (on the
    /// I/O worker: it starts a process).
    pub fn open(&mut self, path: PathBuf) {
        self.workers.submit(Job::Open(path));
    }

    /// Shows a saved file selected in its folder in the file manager, without opening it ("Show
    /// file"; on the I/O worker: it starts a process or calls the file manager over D-Bus).
    pub fn reveal(&mut self, path: PathBuf) {
        self.workers.submit(Job::Reveal(path));
    }

    pub fn offered_preview(&self, transfer: TransferId, index: usize) -> Option<&Preview> {
        self.previews.get(&PreviewKey::Offered(transfer, index as u32))
    }
}
