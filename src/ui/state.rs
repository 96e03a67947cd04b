//! The window's state and the one place that changes it: [`AppState::handle`] for engine events,
//! [`AppState::receive`] for results of background work, and the action methods the views call
//! (each of which turns a click into a [`Command`] and/or a [`Job`]).
//!
//! Nothing here blocks: events and results are drained without waiting, commands go into an
//! unbounded channel, and disk work goes to [`Workers`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender};

use super::history::{self, Entry, History, Outcome};
use super::i18n::{Lang, Tr};
use super::worker::{DialogKind, Inbox, Job, Measured, PreviewKey, Workers};
use crate::engine::{
    Command, Decision, Direction, Event, IncomingOffer, LiveSettings, OfferedFile, Peer, PeerSource,
    TransferId, Waker,
};
use crate::protocol::{FileResult, InstanceId};
use crate::settings::Settings;

/// Most warnings shown at once; older ones scroll away.
const MAX_WARNINGS: usize = 5;

/// Which screen is showing (an incoming offer is shown over either).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Main,
    Settings,
}

/// One file or folder chosen for sending.
#[derive(Clone, Debug)]
pub struct Chosen {
    pub path: PathBuf,
    /// The last path component, for display.
    pub name: String,
    /// `None` until the I/O worker has measured it.
    pub measured: Option<Measured>,
}

impl Chosen {
    pub fn bytes(&self) -> u64 {
        match self.measured {
            Some(Measured::File { size }) | Some(Measured::Folder { size, .. }) => size,
            _ => 0,
        }
    }

    pub fn files(&self) -> u64 {
        match self.measured {
            Some(Measured::File { .. }) => 1,
            Some(Measured::Folder { files, .. }) => files,
            _ => 0,
        }
    }
}

/// An offer waiting for the person's answer.
#[derive(Clone, Debug)]
pub struct PendingOffer {
    pub offer: IncomingOffer,
    /// One per file: will it be accepted? All true until the person starts choosing.
    pub selected: Vec<bool>,
    /// The person pressed "Choose files…": show a checkbox per file.
    pub choosing: bool,
}

impl PendingOffer {
    pub fn selected_count(&self) -> usize {
        self.selected.iter().filter(|s| **s).count()
    }
}

/// Where a transfer stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Outgoing, offered, not yet answered.
    Waiting,
    Running,
    Finished {
        saved: u32,
        total: u32,
    },
    Declined {
        busy: bool,
    },
    Cancelled {
        by_peer: bool,
    },
    /// The plain-language reason.
    Failed(String),
}

impl Status {
    pub fn is_active(&self) -> bool {
        matches!(self, Status::Waiting | Status::Running)
    }
}

/// One transfer of this session, either way.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub id: TransferId,
    pub direction: Direction,
    pub peer_name: String,
    /// Where to send again ("Try again"); outgoing only.
    pub peer_addr: Option<SocketAddr>,
    /// What was chosen ("Try again"); outgoing only.
    pub paths: Vec<PathBuf>,
    pub files: u32,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub current_file: String,
    /// Bytes per second, as the engine smooths it.
    pub rate: f64,
    pub status: Status,
    /// Files saved so far (incoming), for "Show file" / "Open folder".
    pub saved: Vec<PathBuf>,
}

/// The add-by-address form.
#[derive(Clone, Debug, Default)]
pub struct AddPeerForm {
    pub open: bool,
    pub text: String,
    /// Addresses sent to the engine that have neither worked nor failed yet.
    pub pending: Vec<String>,
    pub error: Option<String>,
}

/// How the state is set up; tests build one with channels of their own.
pub struct StateInit {
    pub settings: Settings,
    /// Where settings and history are saved.
    pub config_dir: PathBuf,
    pub history: History,
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    /// Called when background work has a result, so the window draws it.
    pub waker: Waker,
    /// Shown at the top until dismissed (settings that could not be loaded ...).
    pub warnings: Vec<String>,
}

pub struct AppState {
    pub settings: Settings,
    config_dir: PathBuf,
    pub tr: Tr,
    commands: Sender<Command>,
    events: Receiver<Event>,
    pub workers: Workers,

    /// Our transfer address, once the engine is ready.
    pub me: Option<SocketAddr>,
    /// Our own addresses when `me` is the unspecified address (listening on all of them).
    pub my_addresses: Vec<std::net::IpAddr>,
    /// False when broadcast discovery could not start.
    pub discovery_ok: bool,
    /// The UDP port discovery really uses (the settings' one unless `FERRY_DISCOVERY_PORT`
    /// overrides it), for the firewall hint.
    pub discovery_port: u16,
    /// The engine could not start or has stopped: nothing can be sent or received.
    pub engine_down: bool,
    pub warnings: Vec<String>,
    pub page: Page,

    /// Sorted by name.
    pub peers: Vec<Peer>,
    pub selected_peer: Option<InstanceId>,
    pub add_peer: AddPeerForm,

    pub chosen: Vec<Chosen>,
    /// Paths already in `chosen`, so picking twice adds once.
    chosen_set: HashSet<PathBuf>,
    /// Sum of the measured sizes and file counts in `chosen`, kept up to date so a frame with
    /// 10,000 chosen files does not add them up again.
    pub chosen_bytes: u64,
    pub chosen_files: u64,
    pub chosen_unmeasured: usize,

    pub offers: VecDeque<PendingOffer>,
    /// Newest last.
    pub transfers: Vec<Transfer>,
    pub history: History,

    pub previews: HashMap<PreviewKey, Preview>,
    pub free_space: Option<(PathBuf, u64)>,
    /// A file dialog is open (its buttons are disabled meanwhile).
    pub dialog_open: bool,
    /// An offer arrived since the last frame: ask for attention if the window is not focused.
    pub wants_attention: bool,
    /// The device name as being edited in Settings.
    pub name_draft: String,
}

/// A preview image of a chosen or offered file.
pub enum Preview {
    Loading,
    /// Not an image we can show: draw a type icon.
    None,
    Ready(egui::TextureHandle),
}

impl AppState {
    pub fn new(init: StateInit) -> std::io::Result<AppState> {
        let tr = Tr(Lang::resolve(init.settings.language));
        let discovery_port = init.settings.discovery_port;
        Ok(AppState {
            name_draft: init.settings.device_name.clone(),
            settings: init.settings,
            config_dir: init.config_dir,
            tr,
            commands: init.commands,
            events: init.events,
            workers: Workers::start(init.waker)?,
            me: None,
            my_addresses: Vec::new(),
            discovery_ok: true,
            discovery_port,
            engine_down: false,
            warnings: init.warnings,
            page: Page::Main,
            peers: Vec::new(),
            selected_peer: None,
            add_peer: AddPeerForm::default(),
            chosen: Vec::new(),
            chosen_set: HashSet::new(),
            chosen_bytes: 0,
            chosen_files: 0,
            chosen_unmeasured: 0,
            offers: VecDeque::new(),
            transfers: Vec::new(),
            history: init.history,
            previews: HashMap::new(),
            free_space: None,
            dialog_open: false,
            wants_attention: false,
        })
    }

    /// Where tests (and drag and drop) put [`Inbox`] messages, as a dialog would.
    pub fn inbox(&self) -> Sender<Inbox> {
        self.workers.inbox_sender()
    }

    /// Drains engine events and worker results without waiting; `ctx` turns previews into
    /// textures.
    pub fn pump(&mut self, ctx: &egui::Context) {
        while let Ok(event) = self.events.try_recv() {
            self.handle(event);
        }
        for msg in self.workers.drain() {
            self.receive(ctx, msg);
        }
    }

    fn send(&mut self, command: Command) {
        if self.commands.send(command).is_err() && !self.engine_down {
            self.engine_down = true;
        }
    }

    fn warn(&mut self, text: String) {
        if !self.warnings.contains(&text) {
            self.warnings.push(text);
        }
        if self.warnings.len() > MAX_WARNINGS {
            self.warnings.remove(0);
        }
    }

    // ---- engine events -------------------------------------------------------------------

    /// The one place engine events change the window's state.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::Ready { transfer_addr, discovery } => {
                self.me = Some(transfer_addr);
                self.discovery_ok = discovery;
                if transfer_addr.ip().is_unspecified() {
                    self.workers.submit(Job::LocalAddresses);
                }
            }
            Event::Warning(text) => self.warn(text),
            Event::PeerSeen(peer) | Event::PeerUpdated(peer) => self.peer_seen(peer),
            Event::PeerLost(id) => self.peers.retain(|p| p.instance != id),
            Event::PeerAddFailed { address, reason } => {
                self.add_peer.pending.retain(|a| *a != address);
                self.add_peer.error = Some(self.tr.add_failed(&address, &reason));
            }
            Event::IncomingOffer(offer) => self.offer_arrived(offer),
            Event::TransferStarted { transfer, direction, peer, files, total_bytes } => {
                let t = self.transfer_entry(transfer, direction, &peer.name);
                t.peer_name = peer.name;
                t.files = files.len() as u32;
                t.bytes_total = total_bytes;
                if direction == Direction::Incoming {
                    t.status = Status::Running;
                }
            }
            Event::TransferAccepted { transfer, files, bytes_total } => {
                if let Some(t) = self.transfer_mut(transfer) {
                    t.files = files;
                    t.bytes_total = bytes_total;
                    t.status = Status::Running;
                }
            }
            Event::Progress { transfer, bytes_done, bytes_total, current_file, rate } => {
                if let Some(t) = self.transfer_mut(transfer) {
                    t.bytes_done = bytes_done;
                    t.bytes_total = bytes_total;
                    t.current_file = current_file;
                    t.rate = rate;
                    if t.status == Status::Waiting {
                        t.status = Status::Running;
                    }
                }
            }
            Event::FileDone { transfer, outcome } => {
                if let (Some(t), Some(path)) = (self.transfer_mut(transfer), outcome.saved_as) {
                    t.saved.push(path);
                }
            }
            Event::TransferFinished { transfer, files } => {
                let saved = files.iter().filter(|f| f.result == FileResult::Saved).count() as u32;
                let total = files.iter().filter(|f| f.result != FileResult::NotAccepted).count() as u32;
                let saved_paths: Vec<PathBuf> = files.into_iter().filter_map(|f| f.saved_as).collect();
                if let Some(t) = self.transfer_mut(transfer) {
                    for p in saved_paths {
                        if !t.saved.contains(&p) {
                            t.saved.push(p);
                        }
                    }
                    if t.bytes_total > 0 && saved == total {
                        t.bytes_done = t.bytes_total;
                    }
                }
                self.end(transfer, Status::Finished { saved, total });
            }
            Event::TransferDeclined { transfer, busy } => self.end(transfer, Status::Declined { busy }),
            Event::TransferCancelled { transfer, by_peer } => {
                self.offers.retain(|o| o.offer.transfer != transfer);
                self.end(transfer, Status::Cancelled { by_peer });
            }
            Event::TransferFailed { transfer, error } => {
                self.offers.retain(|o| o.offer.transfer != transfer);
                self.end(transfer, Status::Failed(error.to_string()));
            }
            Event::Stopped => self.engine_down = true,
        }
    }

    fn peer_seen(&mut self, peer: Peer) {
        if peer.source == PeerSource::Manual {
            // The address typed in the form worked: remember it for the next start.
            let typed = self.add_peer.pending.iter().position(|a| a.parse::<SocketAddr>() == Ok(peer.addr));
            if let Some(i) = typed.or((!self.add_peer.pending.is_empty()).then_some(0)) {
                let address = self.add_peer.pending.remove(i);
                self.add_peer.open = false;
                self.add_peer.error = None;
                if !self.settings.remembered_peers.contains(&address) {
                    self.settings.remembered_peers.push(address);
                    self.save_settings();
                }
            }
        }
        match self.peers.iter_mut().find(|p| p.instance == peer.instance) {
            Some(known) => *known = peer,
            None => self.peers.push(peer),
        }
        self.peers.sort_by_key(|p| p.name.to_lowercase());
    }

    fn offer_arrived(&mut self, offer: IncomingOffer) {
        for (index, file) in offer.files.iter().enumerate() {
            if !file.thumbnail.is_empty() {
                let key = PreviewKey::Offered(offer.transfer, index as u32);
                self.previews.insert(key.clone(), Preview::Loading);
                self.workers.submit(Job::DecodeOffered { key, jpeg: file.thumbnail.clone() });
            }
        }
        self.workers.submit(Job::FreeSpace(self.settings.receive_dir.clone()));
        let selected = vec![true; offer.files.len()];
        self.offers.push_back(PendingOffer { offer, selected, choosing: false });
        self.wants_attention = true;
    }

    fn transfer_mut(&mut self, id: TransferId) -> Option<&mut Transfer> {
        self.transfers.iter_mut().find(|t| t.id == id)
    }

    /// The transfer with this id, created when this is the first we hear of it.
    fn transfer_entry(&mut self, id: TransferId, direction: Direction, peer: &str) -> &mut Transfer {
        let index = match self.transfers.iter().position(|t| t.id == id) {
            Some(i) => i,
            None => {
                self.transfers.push(Transfer {
                    id,
                    direction,
                    peer_name: peer.to_owned(),
                    peer_addr: None,
                    paths: Vec::new(),
                    files: 0,
                    bytes_done: 0,
                    bytes_total: 0,
                    current_file: String::new(),
                    rate: 0.0,
                    status: Status::Waiting,
                    saved: Vec::new(),
                });
                self.transfers.len() - 1
            }
        };
        &mut self.transfers[index]
    }

    /// A transfer ended: record how, and add it to the persisted history.
    fn end(&mut self, id: TransferId, status: Status) {
        let Some(t) = self.transfer_mut(id) else { return };
        if !t.status.is_active() {
            return; // already ended (an event after the end changes nothing)
        }
        t.status = status.clone();
        t.rate = 0.0;
        let entry = Entry {
            ended_at: history::now_unix(),
            received: t.direction == Direction::Incoming,
            peer: t.peer_name.clone(),
            files: t.files,
            bytes: t.bytes_total,
            outcome: match status {
                Status::Finished { saved, total } => Outcome::Finished { saved, total },
                Status::Declined { .. } => Outcome::Declined,
                Status::Cancelled { .. } => Outcome::Cancelled,
                Status::Failed(reason) => Outcome::Failed { reason },
                Status::Waiting | Status::Running => return,
            },
            saved_file: t.saved.first().cloned(),
        };
        self.history.push(entry);
        self.save_history();
    }

    // ---- background results --------------------------------------------------------------

    /// The one place results of background work change the state.
    pub fn receive(&mut self, ctx: &egui::Context, msg: Inbox) {
        match msg {
            Inbox::Picked(paths) => self.add_chosen(paths),
            Inbox::ReceiveFolderPicked(dir) => self.set_receive_dir(dir),
            Inbox::DialogClosed => self.dialog_open = false,
            Inbox::Measured(results) => {
                let index: HashMap<&Path, usize> =
                    self.chosen.iter().enumerate().map(|(i, c)| (c.path.as_path(), i)).collect();
                let mut updates = Vec::new();
                for (path, measured) in results {
                    if let Some(&i) = index.get(path.as_path()) {
                        updates.push((i, measured));
                    }
                }
                for (i, measured) in updates {
                    if self.chosen[i].measured.is_none() {
                        self.chosen_unmeasured -= 1;
                    }
                    self.chosen[i].measured = Some(measured);
                }
                self.recount();
            }
            Inbox::Preview { key, image } => {
                let preview = match image {
                    Some(img) => {
                        let size = [img.width() as usize, img.height() as usize];
                        let color = egui::ColorImage::from_rgba_unmultiplied(size, img.as_raw());
                        Preview::Ready(ctx.load_texture(format!("{key:?}"), color, Default::default()))
                    }
                    None => Preview::None,
                };
                self.previews.insert(key, preview);
            }
            Inbox::FreeSpace { dir, bytes } => {
                self.free_space = bytes.map(|b| (dir, b));
            }
            Inbox::Warning(text) => self.warn(text),
            Inbox::LocalAddresses(addresses) => self.my_addresses = addresses,
        }
    }

    fn recount(&mut self) {
        self.chosen_bytes = self.chosen.iter().map(Chosen::bytes).fold(0, u64::saturating_add);
        self.chosen_files = self.chosen.iter().map(Chosen::files).sum();
    }

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

    pub fn open_dialog(&mut self, kind: DialogKind) {
        let title = match kind {
            DialogKind::Files => self.tr.choose_photos(),
            DialogKind::Folder => self.tr.choose_folder(),
            DialogKind::ReceiveFolder => self.tr.receive_folder(),
        };
        let start = (kind == DialogKind::ReceiveFolder).then(|| self.settings.receive_dir.clone());
        self.dialog_open = true;
        self.workers.open_dialog(kind, title.to_owned(), start);
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

    pub fn can_send(&self) -> bool {
        self.selected_peer().is_some() && !self.chosen.is_empty() && !self.engine_down
    }

    /// Sends the chosen files to the selected device and empties the list.
    pub fn send_chosen(&mut self) {
        let Some(peer) = self.selected_peer().cloned() else { return };
        if self.chosen.is_empty() {
            return;
        }
        let paths: Vec<PathBuf> = self.chosen.iter().map(|c| c.path.clone()).collect();
        let files = self.chosen_files.min(u64::from(u32::MAX)) as u32;
        let bytes = self.chosen_bytes;
        self.start_send(&peer.name, peer.addr, paths, files, bytes);
        self.clear_chosen();
    }

    fn start_send(&mut self, name: &str, to: SocketAddr, paths: Vec<PathBuf>, files: u32, bytes: u64) {
        let id = TransferId::next();
        let t = self.transfer_entry(id, Direction::Outgoing, name);
        t.peer_addr = Some(to);
        t.paths = paths.clone();
        t.files = files;
        t.bytes_total = bytes;
        self.send(Command::Send { id, to, paths });
    }

    /// "Try again": the same files to the same address, as a new transfer.
    pub fn retry(&mut self, id: TransferId) {
        let Some(i) = self.transfers.iter().position(|t| t.id == id) else { return };
        let old = self.transfers.remove(i);
        if let Some(addr) = old.peer_addr {
            self.start_send(&old.peer_name, addr, old.paths, old.files, old.bytes_total);
        }
    }

    pub fn cancel(&mut self, id: TransferId) {
        self.send(Command::Cancel(id));
    }

    pub fn dismiss(&mut self, id: TransferId) {
        self.transfers.retain(|t| t.id != id || t.status.is_active());
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
        self.previews.retain(|k, _| !matches!(k, PreviewKey::Offered(t, _) if *t == transfer));
        self.send(Command::Answer { transfer, decision });
        // The next offer (if any) needs its own free-space line.
        if !self.offers.is_empty() {
            self.workers.submit(Job::FreeSpace(self.settings.receive_dir.clone()));
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
        self.free_space = None;
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

    pub fn set_accept_automatically(&mut self, on: bool) {
        self.settings.accept_automatically = on;
        self.save_settings();
        self.send(Command::UpdateSettings(LiveSettings {
            accept_automatically: Some(on),
            ..Default::default()
        }));
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

    fn save_history(&mut self) {
        let path = self.config_dir.join(history::FILE_NAME);
        self.workers.submit(Job::Write { path, contents: self.history.to_json() });
    }

    pub fn clear_history(&mut self) {
        self.history.clear();
        self.save_history();
    }

    /// Opens a file or folder in the system's file manager (on the I/O worker: it starts a
    /// process).
    pub fn open(&mut self, path: PathBuf) {
        self.workers.submit(Job::Open(path));
    }

    pub fn offered_preview(&self, transfer: TransferId, index: usize) -> Option<&Preview> {
        self.previews.get(&PreviewKey::Offered(transfer, index as u32))
    }
}

/// A file's kind guessed from its name, for an icon when there is no preview.
pub fn type_icon(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "heic" | "heif" | "bmp" | "tif" | "tiff" | "raw"
        | "dng" | "svg" => "🖼",
        "mp4" | "mov" | "avi" | "mkv" | "webm" | "m4v" => "🎞",
        "mp3" | "wav" | "flac" | "ogg" | "m4a" | "aac" => "🎵",
        "zip" | "7z" | "rar" | "tar" | "gz" | "xz" | "bz2" => "📦",
        _ => "📄",
    }
}

/// Whether a name looks like an image we can preview.
pub fn is_previewable(name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    matches!(ext.as_str(), "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" | "tif" | "tiff")
}

/// An icon for the other device's operating system.
pub fn os_icon(os: crate::protocol::Os) -> &'static str {
    use crate::protocol::Os;
    match os {
        Os::Linux => "🐧",
        Os::Windows => "🖥",
        Os::Macos => "🍎",
        Os::Android => "📱",
        Os::Ios => "📱",
        Os::Bsd => "😈",
        Os::Unknown => "💻",
    }
}

/// The name to show for an offered file: the sender's relative path, as given.
pub fn offered_name(file: &OfferedFile) -> &str {
    &file.path
}
