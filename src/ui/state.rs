//! The window's state, and the one place where what happened changes it: [`AppState::handle`]
//! for engine events, [`AppState::receive`] for results of background work. What the person asks
//! for is in [`super::actions`]; the data types are in [`super::model`].
//!
//! Nothing here blocks: events and results are drained without waiting, commands go into an
//! unbounded channel, and disk work goes to [`Workers`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::history::{self, Entry, History, Outcome};
use super::i18n::{Lang, Tr};
use super::model::{
    AddPeerForm, Chosen, Notice, Page, PendingOffer, Preview, ReceiveCheck, ReceivedText, Status, TextBox,
    Transfer,
};
use super::worker::{Inbox, Job, PreviewKey, Workers};
use crate::engine::{
    Command, Direction, Event, FileOutcome, IncomingOffer, Peer, PeerSource, TransferId, WaitReason, Waker,
};
use crate::protocol::{CancelReason, FileResult, InstanceId};
use crate::settings::Settings;

/// Most warnings shown at once; older ones scroll away.
const MAX_WARNINGS: usize = 5;
/// A running transfer whose bytes have not moved for this long says "Waiting for …" instead of
/// a speed and a time left that are no longer true.
pub const STALL_AFTER: Duration = Duration::from_secs(3);

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
    pub warnings: Vec<Notice>,
}

pub struct AppState {
    pub settings: Settings,
    pub(super) config_dir: PathBuf,
    pub tr: Tr,
    pub(super) commands: Sender<Command>,
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
    /// Said in the window's language when drawn; the oldest first.
    pub warnings: Vec<Notice>,
    pub page: Page,

    /// In the order they appeared: a device that turns up later goes at the end, so the rows
    /// under the person's pointer never move.
    pub peers: Vec<Peer>,
    pub selected_peer: Option<InstanceId>,
    pub add_peer: AddPeerForm,

    pub chosen: Vec<Chosen>,
    /// Paths already in `chosen`, so picking twice adds once.
    pub(super) chosen_set: HashSet<PathBuf>,
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
    /// Free space and writability of the receive folder, asked for when an offer arrives.
    pub receive_check: Option<ReceiveCheck>,
    /// See [`STALL_AFTER`]; tests shorten it.
    pub stall_after: Duration,
    /// The person asked to close the window while something was in flight: the question is
    /// showing.
    pub confirm_close: bool,
    /// The person said yes: the next close request goes through.
    pub close_confirmed: bool,
    /// A file dialog is open (its buttons are disabled meanwhile).
    pub dialog_open: bool,
    /// An offer arrived since the last frame: ask for attention if the window is not focused.
    pub wants_attention: bool,
    /// The device name as being edited in Settings.
    pub name_draft: String,
    /// Texts that arrived, newest last.
    pub texts: Vec<ReceivedText>,
    /// The "Send text…" box.
    pub text_box: TextBox,
    /// This device's key and the known devices, for Settings.
    pub known: super::known::KnownView,
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
            known: super::known::KnownView::new(init.waker.clone()),
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
            receive_check: None,
            stall_after: STALL_AFTER,
            confirm_close: false,
            close_confirmed: false,
            dialog_open: false,
            wants_attention: false,
            texts: Vec::new(),
            text_box: TextBox::default(),
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
        self.drain_known();
    }

    pub(super) fn send(&mut self, command: Command) {
        if self.commands.send(command).is_err() && !self.engine_down {
            self.engine_down = true;
        }
    }

    pub(super) fn warn(&mut self, notice: Notice) {
        if !self.warnings.contains(&notice) {
            self.warnings.push(notice);
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
            Event::Warning(warning) => self.warn(Notice::Engine(warning)),
            Event::TransferPeer { transfer, peer } => {
                if let Some(t) = self.transfer_mut(transfer) {
                    t.peer_name = peer.name;
                    t.peer_changed = matches!(peer.trust, crate::engine::Trust::Changed { .. });
                }
            }
            Event::VerificationCode { transfer, code } => {
                if let Some(t) = self.transfer_mut(transfer) {
                    t.verification_code = Some(code);
                }
            }
            Event::PeerSeen(peer) | Event::PeerUpdated(peer) => self.peer_seen(peer),
            Event::PeerLost(id) => self.peers.retain(|p| p.instance != id),
            Event::PeerAddFailed { address, reason } => {
                self.add_peer.pending.retain(|a| *a != address);
                self.add_peer.error = Some((address, reason));
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
                    t.last_progress = Instant::now();
                }
            }
            Event::Progress { transfer, bytes_done, bytes_total, current_file, rate } => {
                if let Some(t) = self.transfer_mut(transfer) {
                    if bytes_done != t.bytes_done || t.status == Status::Waiting {
                        t.last_progress = Instant::now();
                    }
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
                let receive_dir = self.settings.receive_dir.clone();
                let renamed = renamed(&files, &receive_dir);
                if let Some(t) = self.transfer_mut(transfer) {
                    t.save_failure = crate::engine::SaveFailure::of_batch(&files);
                    t.renamed = renamed;
                }
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
                if saved == total && total > 0 {
                    self.sent_successfully(transfer);
                }
                self.end(transfer, Status::Finished { saved, total });
            }
            Event::TransferWaiting { transfer, reason } => {
                if let Some(t) = self.transfer_mut(transfer) {
                    t.busy = matches!(reason, WaitReason::Busy { .. });
                }
            }
            Event::TransferDeclined { transfer, busy } => self.end(transfer, Status::Declined { busy }),
            Event::TransferCancelled { transfer, by_peer, reason } => {
                self.offers.retain(|o| o.offer.transfer != transfer);
                self.end(transfer, Status::Cancelled { by_peer, closed: reason == CancelReason::Shutdown });
            }
            Event::TransferFailed { transfer, error } => {
                self.offers.retain(|o| o.offer.transfer != transfer);
                if matches!(error, crate::engine::TransferError::SourceUnreadable { .. })
                    && !self.chosen.is_empty()
                {
                    // Something chosen went away after it was measured: measure the list again,
                    // so the row is flagged and Try again and Send leave it out.
                    let paths: Vec<PathBuf> = self.chosen.iter().map(|c| c.path.clone()).collect();
                    self.workers.submit(Job::Measure(paths));
                }
                self.end(transfer, Status::Failed(self.tr.transfer_error(&error)));
            }
            Event::Stopped => self.engine_down = true,
            // From a Ferry device or a LocalSend app alike: one card, with a Copy button.
            Event::TextReceived { from, text } => {
                let id = self.texts.last().map_or(1, |t| t.id + 1);
                self.texts.push(ReceivedText { id, from: from.name, text, copied: false });
                self.wants_attention = true;
            }
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
        // Updated in place, new ones at the end: the list never re-sorts under the pointer.
        match self.peers.iter_mut().find(|p| p.instance == peer.instance) {
            Some(known) => *known = peer,
            None => self.peers.push(peer),
        }
    }

    /// An outgoing transfer delivered everything: the files chosen for it leave the send list
    /// (until then they stay, so Try again or another device is one click). Only when the list
    /// still holds exactly what was sent; files added since stay chosen.
    fn sent_successfully(&mut self, id: TransferId) {
        let Some(t) = self.transfers.iter().find(|t| t.id == id) else { return };
        if t.direction != Direction::Outgoing || t.paths.is_empty() {
            return;
        }
        let sent: HashSet<&PathBuf> = t.paths.iter().collect();
        let chosen: HashSet<&PathBuf> =
            self.chosen.iter().filter(|c| c.sendable()).map(|c| &c.path).collect();
        if sent == chosen {
            self.clear_chosen();
        }
    }

    fn offer_arrived(&mut self, offer: IncomingOffer) {
        for (index, file) in offer.files.iter().enumerate() {
            if !file.thumbnail.is_empty() {
                let key = PreviewKey::Offered(offer.transfer, index as u32);
                self.previews.insert(key.clone(), Preview::Loading);
                self.workers.submit(Job::DecodeOffered { key, jpeg: file.thumbnail.clone() });
            }
        }
        self.workers.submit(Job::CheckReceiveFolder(self.settings.receive_dir.clone()));
        let selected = vec![true; offer.files.len()];
        self.offers.push_back(PendingOffer {
            offer,
            selected,
            choosing: false,
            always_accept: false,
            forget_old: false,
        });
        self.wants_attention = true;
    }

    pub(super) fn transfer_mut(&mut self, id: TransferId) -> Option<&mut Transfer> {
        self.transfers.iter_mut().find(|t| t.id == id)
    }

    /// The transfer with this id, created when this is the first we hear of it.
    pub(super) fn transfer_entry(
        &mut self,
        id: TransferId,
        direction: Direction,
        peer: &str,
    ) -> &mut Transfer {
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
                    last_progress: Instant::now(),
                    busy: false,
                    save_failure: None,
                    renamed: Vec::new(),
                    text: None,
                    verification_code: None,
                    peer_changed: false,
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
        if t.text.is_some() {
            return; // the history lists files; a text has its own card
        }
        let entry = Entry {
            ended_at: history::now_unix(),
            received: t.direction == Direction::Incoming,
            peer: t.peer_name.clone(),
            files: t.files,
            bytes: t.bytes_total,
            outcome: match status {
                Status::Finished { saved, total } => Outcome::Finished { saved, total },
                Status::Declined { .. } => Outcome::Declined,
                Status::Cancelled { by_peer, .. } => Outcome::Cancelled { by_peer },
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
            Inbox::Picked(paths) => {
                // The next dialog opens where these were found.
                if let Some(dir) = paths.first().and_then(|p| p.parent()).map(Path::to_path_buf)
                    && self.settings.last_pick_dir.as_ref() != Some(&dir)
                {
                    self.settings.last_pick_dir = Some(dir);
                    self.save_settings();
                }
                self.add_chosen(paths);
            }
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
            Inbox::ReceiveFolderChecked(check) => self.receive_check = Some(check),
            Inbox::Warning(warning) => self.warn(Notice::Window(warning)),
            Inbox::LocalAddresses(addresses) => self.my_addresses = addresses,
        }
    }

    pub(super) fn recount(&mut self) {
        self.chosen_bytes = self.chosen.iter().map(Chosen::bytes).fold(0, u64::saturating_add);
        self.chosen_files = self.chosen.iter().map(Chosen::files).sum();
    }
}

/// The files of a finished batch saved under another name than they were sent with, as
/// `(sent as, saved as)` relative to the receive folder (`/`-separated).
fn renamed(files: &[FileOutcome], receive_dir: &Path) -> Vec<(String, String)> {
    files
        .iter()
        .filter(|f| f.result == FileResult::Saved)
        .filter_map(|f| {
            let stored = f.saved_as.as_deref()?.strip_prefix(receive_dir).ok()?;
            let stored: Vec<String> =
                stored.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            let stored = stored.join("/");
            (stored != f.path).then(|| (f.path.clone(), stored))
        })
        .collect()
}
