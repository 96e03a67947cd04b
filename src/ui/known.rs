//! This device's identity and the store of known devices, as the Settings page shows them.
//!
//! The window shares the engine's store (`EngineConfig::known`, one `Arc<Mutex<_>>`): a device
//! the engine remembers is in the list the next time it is read, and "Always accept from this
//! device" ticked here applies to the next offer. Every read and change runs on a short-lived
//! thread of its own, under the store's lock (which re-reads and writes `known-devices.toml`
//! under its file lock): the window never waits for the disk. Results come back through a
//! channel and wake the window.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};

use super::model::Notice;
use super::state::AppState;
use super::worker::WindowWarning;
use crate::events::{Waker, Warning};
use crate::identity::known::{KnownDevice, KnownDevices, KnownDevicesWarning, Sighting};
use crate::identity::{DeviceIdentity, Fingerprint};

/// What a background job tells the window.
pub enum KnownResult {
    /// The list as the store has it now, and what went wrong, if anything.
    Devices { devices: Vec<KnownDevice>, problem: Option<KnownDevicesWarning> },
    /// "Reset identity" made this new key (used from the next start), or could not.
    IdentityReset(Result<Fingerprint, WindowWarning>),
}

/// The Settings page's view of identity and known devices.
pub struct KnownView {
    /// The engine's store (an empty in-memory one until [`AppState::share_identity`]).
    pub store: Arc<Mutex<KnownDevices>>,
    /// This device's key as the running engine uses it.
    pub fingerprint: Option<Fingerprint>,
    /// A new key made by "Reset identity", used from the next start.
    pub reset_to: Option<Fingerprint>,
    /// The "Reset identity?" question is showing.
    pub confirm_reset: bool,
    /// The last list read; `None` before the first read.
    pub devices: Option<Vec<KnownDevice>>,
    /// Jobs under way (the list shows as it was meanwhile).
    pub pending: usize,
    /// The device being renamed, and the name as typed.
    pub renaming: Option<(Fingerprint, String)>,
    tx: Sender<KnownResult>,
    rx: Receiver<KnownResult>,
    waker: Waker,
}

impl KnownView {
    pub fn new(waker: Waker) -> KnownView {
        let (tx, rx) = crossbeam_channel::unbounded();
        KnownView {
            store: Arc::new(Mutex::new(KnownDevices::in_memory())),
            fingerprint: None,
            reset_to: None,
            confirm_reset: false,
            devices: None,
            pending: 0,
            renaming: None,
            tx,
            rx,
            waker,
        }
    }

    /// Runs `change` on the store on a thread of its own, then reads the list back.
    fn job(&mut self, change: impl FnOnce(&mut KnownDevices) -> std::io::Result<()> + Send + 'static) {
        let (store, tx, waker) = (self.store.clone(), self.tx.clone(), self.waker.clone());
        self.pending += 1;
        let spawned = std::thread::Builder::new().name("ferry-known".into()).spawn(move || {
            let mut store = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // Another Ferry (a `ferry receive`) may have changed the file.
            let mut problem = store.reload();
            if let Err(e) = change(&mut store) {
                problem = Some(KnownDevicesWarning::NotSaved { detail: e.to_string() });
            }
            let devices = store.devices().cloned().collect();
            let _ = tx.send(KnownResult::Devices { devices, problem });
            waker();
        });
        if spawned.is_err() {
            self.pending -= 1;
        }
    }
}

impl AppState {
    /// Gives the window the running engine's key and store of known devices.
    pub fn share_identity(&mut self, fingerprint: Fingerprint, store: Arc<Mutex<KnownDevices>>) {
        self.known.fingerprint = Some(fingerprint);
        self.known.store = store;
        self.known.devices = None;
    }

    /// Opens Settings, with the list of known devices read afresh.
    pub fn open_settings(&mut self) {
        self.page = super::model::Page::Settings;
        self.refresh_known();
    }

    pub fn refresh_known(&mut self) {
        self.known.job(|_| Ok(()));
    }

    /// Shows `name` instead of the device's own (an empty name: its own again).
    pub fn rename_known(&mut self, fingerprint: Fingerprint, name: String) {
        self.known.renaming = None;
        let name = crate::protocol::clean_display_name(&name);
        self.known.job(move |s| s.rename(&fingerprint, name.as_deref()).map(drop));
    }

    pub fn forget_known(&mut self, fingerprint: Fingerprint) {
        self.known.job(move |s| s.forget(&fingerprint).map(drop));
    }

    pub fn set_always_accept(&mut self, fingerprint: Fingerprint, on: bool) {
        // Shown at once; the job's list confirms it.
        if let Some(d) = self.known.devices.iter_mut().flatten().find(|d| d.fingerprint == fingerprint) {
            d.always_accept = on;
        }
        self.known.job(move |s| s.set_always_accept(&fingerprint, on).map(drop));
    }

    /// "Always accept from this device" ticked in an offer's prompt: the device is remembered
    /// (as the engine does on accepting) and its key marked, so its next offers arrive without
    /// asking.
    pub fn always_accept_from(&mut self, fingerprint: Fingerprint, name: String) {
        self.known.job(move |s| {
            s.remember(&Sighting { fingerprint, name: &name, address: None })?;
            s.set_always_accept(&fingerprint, true).map(drop)
        });
    }

    /// Makes a new identity in the config folder; the running engine keeps the old one until
    /// Ferry starts again.
    pub fn reset_identity(&mut self) {
        self.known.confirm_reset = false;
        let (dir, tx, waker): (PathBuf, _, _) =
            (self.config_dir.clone(), self.known.tx.clone(), self.known.waker.clone());
        self.known.pending += 1;
        let spawned = std::thread::Builder::new().name("ferry-identity".into()).spawn(move || {
            let result = DeviceIdentity::reset(&dir)
                .map(|identity| identity.fingerprint())
                .map_err(|e| WindowWarning::IdentityNotReset { detail: e.to_string(), dir });
            let _ = tx.send(KnownResult::IdentityReset(result));
            waker();
        });
        if spawned.is_err() {
            self.known.pending -= 1;
        }
    }

    /// Takes in what the jobs found (called every frame).
    pub(super) fn drain_known(&mut self) {
        while let Ok(result) = self.known.rx.try_recv() {
            self.known.pending = self.known.pending.saturating_sub(1);
            match result {
                KnownResult::Devices { devices, problem } => {
                    self.known.devices = Some(devices);
                    if let Some(p) = problem {
                        self.warn(Notice::Engine(Warning::KnownDevices(p)));
                    }
                }
                KnownResult::IdentityReset(Ok(fp)) => self.known.reset_to = Some(fp),
                KnownResult::IdentityReset(Err(e)) => self.warn(Notice::Window(e)),
            }
        }
    }
}
