//! Everything the window must not do on its own thread: file dialogs, measuring chosen folders,
//! decoding previews, asking for free space, writing settings and history, opening the file
//! manager. Results come back as [`Inbox`] messages on one channel, and the waker makes the
//! window draw them.
//!
//! Two long-lived workers (named threads, owned by [`Workers`], stopped and joined on drop):
//! "ferry-ui-io" for quick disk work, "ferry-ui-previews" for image decoding, so a slow 50 MP photo
//! never delays the free-space line of an incoming offer. File dialogs each get their own
//! short-lived thread because they block until the person closes them.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::engine::{TransferId, Waker};
use crate::protocol::{MAX_DEPTH, MAX_FILES};

/// What a preview belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PreviewKey {
    /// A file chosen for sending.
    Local(PathBuf),
    /// File `index` of an incoming offer (decoded from the thumbnail the sender put in it).
    Offered(TransferId, u32),
}

/// Work for the background threads.
#[derive(Debug)]
pub enum Job {
    /// Find out the size of each chosen path (folders are walked).
    Measure(Vec<PathBuf>),
    /// Make a preview of a local image.
    Preview(PathBuf),
    /// Decode a thumbnail that arrived in an offer.
    DecodeOffered { key: PreviewKey, jpeg: Vec<u8> },
    /// How much space is free in the receive folder, and whether files can be saved there.
    CheckReceiveFolder(PathBuf),
    /// Write a text file atomically (settings, history).
    Write { path: PathBuf, contents: String },
    /// Save the settings into this config folder.
    SaveSettings { settings: Box<crate::settings::Settings>, dir: PathBuf },
    /// Open a file or folder with the system's default application.
    Open(PathBuf),
    /// Show a file in the file manager, selected in its folder ("Show file"), without opening it.
    Reveal(PathBuf),
    /// This computer's own IPv4 addresses, to show when the engine listens on all of them.
    LocalAddresses,
}

/// Which file dialog to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    /// Several files, photos and videos first in the filter list.
    Photos,
    /// Several files of any kind.
    Files,
    /// One folder to send.
    Folder,
    /// A new receive folder.
    ReceiveFolder,
}

/// Everything a file dialog is opened with; made by the window's state (so tests can check it)
/// and shown by [`Workers::open_dialog`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialogRequest {
    pub kind: DialogKind,
    pub title: String,
    /// The folder it opens in.
    pub start_in: Option<PathBuf>,
    /// Named filters, in order; each a list of extensions without the dot.
    pub filters: Vec<(String, Vec<String>)>,
}

/// What a chosen path turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Measured {
    File {
        size: u64,
    },
    Folder {
        files: u64,
        size: u64,
    },
    /// It could not be read.
    Unreadable(Unreadable),
}

/// Why a chosen path cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Moved, renamed or deleted since it was chosen.
    Gone,
    NoPermission,
    /// Anything else, as the system says it.
    Other(String),
}

/// Results coming back to the window.
#[derive(Debug)]
pub enum Inbox {
    /// Files and folders chosen in a dialog or dropped onto the window.
    Picked(Vec<PathBuf>),
    /// A new receive folder was chosen.
    ReceiveFolderPicked(PathBuf),
    /// A file dialog closed (chosen or not).
    DialogClosed,
    Measured(Vec<(PathBuf, Measured)>),
    /// RGBA pixels of a preview, or `None` when it is not a picture we can show.
    Preview {
        key: PreviewKey,
        image: Option<image::RgbaImage>,
    },
    ReceiveFolderChecked(super::model::ReceiveCheck),
    /// Something the person should know (a save failed, the file manager could not start).
    Warning(WindowWarning),
    LocalAddresses(Vec<std::net::IpAddr>),
}

/// What went wrong in the window's own background work, as data: the worker does not know the
/// window's language, so the window says it (`Tr::window_warning`). `detail` is the OS's or a
/// library's own message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WindowWarning {
    /// No thread could be started for a file dialog.
    FileDialog { detail: String },
    /// A file the window keeps (the history) could not be written.
    NotSaved { path: PathBuf, detail: String },
    /// The settings could not be written into the config folder `dir`.
    SettingsNotSaved { dir: PathBuf, detail: String },
    /// The system could not open a file or folder ("Open folder").
    NotOpened { path: PathBuf, detail: String },
    /// The file manager could not show a file ("Show file").
    NotShown { path: PathBuf, detail: String },
    /// "Reset identity" could not make or save a new key in `dir`.
    IdentityNotReset { dir: PathBuf, detail: String },
}

/// A single named worker thread working through a queue of jobs in order.
struct Worker {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn spawn(name: &str, inbox: Sender<Inbox>, waker: Waker) -> std::io::Result<Worker> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let thread = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            // Ends when the window drops its sender, or when the window is gone.
            for job in queue.iter() {
                let Some(result) = run_job(job) else { continue };
                if inbox.send(result).is_err() {
                    break;
                }
                waker();
            }
        })?;
        Ok(Worker { jobs: Some(jobs), thread: Some(thread) })
    }

    fn send(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs = None; // closes the queue: the thread finishes its current job and stops
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The window's background threads, and the way back.
pub struct Workers {
    io: Worker,
    previews: Worker,
    /// Open file dialogs. Joined once they finish; see [`Drop`] for the ones still open at exit.
    dialogs: Vec<JoinHandle<()>>,
    inbox_tx: Sender<Inbox>,
    inbox: Receiver<Inbox>,
    waker: Waker,
    /// Where [`Job::Open`] and [`Job::Reveal`] go instead of being run, once
    /// [`Workers::divert_launches`] was called: tests see what the window asked for, and no
    /// other program is started.
    launches: Option<Sender<Job>>,
}

impl Workers {
    pub fn start(waker: Waker) -> std::io::Result<Workers> {
        let (inbox_tx, inbox) = crossbeam_channel::unbounded();
        Ok(Workers {
            io: Worker::spawn("ferry-ui-io", inbox_tx.clone(), waker.clone())?,
            previews: Worker::spawn("ferry-ui-previews", inbox_tx.clone(), waker.clone())?,
            dialogs: Vec::new(),
            inbox_tx,
            inbox,
            waker,
            launches: None,
        })
    }

    pub fn submit(&self, job: Job) {
        if let Some(launches) = &self.launches
            && matches!(job, Job::Open(_) | Job::Reveal(_))
        {
            let _ = launches.send(job);
            return;
        }
        match job {
            Job::Preview(_) | Job::DecodeOffered { .. } => self.previews.send(job),
            _ => self.io.send(job),
        }
    }

    /// From now on, jobs that would start another program (open a file, show one in the file
    /// manager) arrive on the returned channel instead of being run. For tests, which must start
    /// no program and reach no D-Bus; every other job still runs.
    pub fn divert_launches(&mut self) -> Receiver<Job> {
        let (launches, diverted) = crossbeam_channel::unbounded();
        self.launches = Some(launches);
        diverted
    }

    /// Where results arrive; tests also put messages here to act like a dialog or a drop.
    pub fn inbox_sender(&self) -> Sender<Inbox> {
        self.inbox_tx.clone()
    }

    /// Everything that arrived since the last frame, without waiting.
    pub fn drain(&mut self) -> Vec<Inbox> {
        if self.dialogs.iter().any(|d| d.is_finished()) {
            let (done, open): (Vec<_>, Vec<_>) = self.dialogs.drain(..).partition(|d| d.is_finished());
            self.dialogs = open;
            for dialog in done {
                let _ = dialog.join();
            }
        }
        self.inbox.try_iter().collect()
    }

    /// Shows a file dialog on its own thread; the result arrives as [`Inbox::Picked`] or
    /// [`Inbox::ReceiveFolderPicked`], always followed by [`Inbox::DialogClosed`].
    pub fn open_dialog(&mut self, request: DialogRequest) {
        let inbox = self.inbox_tx.clone();
        let waker = self.waker.clone();
        let spawned = std::thread::Builder::new().name("ferry-ui-dialog".into()).spawn(move || {
            let DialogRequest { kind, title, start_in, filters } = request;
            let mut dialog = rfd::FileDialog::new().set_title(title);
            if let Some(dir) = start_in {
                dialog = dialog.set_directory(dir);
            }
            for (name, extensions) in &filters {
                dialog = dialog.add_filter(name, extensions);
            }
            let msg = match kind {
                DialogKind::Photos | DialogKind::Files => dialog.pick_files().map(Inbox::Picked),
                DialogKind::Folder => dialog.pick_folder().map(|p| Inbox::Picked(vec![p])),
                DialogKind::ReceiveFolder => dialog.pick_folder().map(Inbox::ReceiveFolderPicked),
            };
            if let Some(msg) = msg {
                let _ = inbox.send(msg);
            }
            let _ = inbox.send(Inbox::DialogClosed);
            waker();
        });
        match spawned {
            Ok(handle) => self.dialogs.push(handle),
            Err(e) => {
                let warning = WindowWarning::FileDialog { detail: e.to_string() };
                let _ = self.inbox_tx.send(Inbox::Warning(warning));
                let _ = self.inbox_tx.send(Inbox::DialogClosed);
            }
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // A dialog still open at exit blocks inside the platform's dialog code and cannot be
        // interrupted; its thread ends with the process. Finished ones are joined here.
        for dialog in self.dialogs.drain(..).filter(|d| d.is_finished()) {
            let _ = dialog.join();
        }
    }
}

/// Does one job; `None` when there is nothing to report (a write, an open or a reveal that
/// worked).
fn run_job(job: Job) -> Option<Inbox> {
    Some(match job {
        Job::Measure(paths) => Inbox::Measured(
            paths
                .into_iter()
                .map(|p| {
                    let m = measure(&p);
                    (p, m)
                })
                .collect(),
        ),
        Job::Preview(path) => Inbox::Preview {
            image: crate::thumbnail::preview_rgba(&path, crate::thumbnail::THUMBNAIL_EDGE),
            key: PreviewKey::Local(path),
        },
        Job::DecodeOffered { key, jpeg } => {
            Inbox::Preview { image: crate::thumbnail::decode_received(&jpeg), key }
        }
        Job::CheckReceiveFolder(dir) => Inbox::ReceiveFolderChecked(super::model::ReceiveCheck {
            free: free_space(&dir),
            problem: cannot_save_in(&dir),
            dir,
        }),
        Job::Write { path, contents } => {
            let e = super::history::write_atomically(&path, &contents).err()?;
            Inbox::Warning(WindowWarning::NotSaved { path, detail: e.to_string() })
        }
        Job::SaveSettings { settings, dir } => {
            let e = settings.save_to(&dir).err()?;
            Inbox::Warning(WindowWarning::SettingsNotSaved { dir, detail: e.to_string() })
        }
        Job::LocalAddresses => Inbox::LocalAddresses(local_addresses()),
        Job::Open(path) => {
            let e = opener::open(&path).err()?;
            Inbox::Warning(WindowWarning::NotOpened { path, detail: e.to_string() })
        }
        Job::Reveal(path) => {
            let e = opener::reveal(&path).err()?;
            Inbox::Warning(WindowWarning::NotShown { path, detail: e.to_string() })
        }
    })
}

/// Size of a file, or file count and total size of a folder (walked without following symbolic
/// links, as deep and as many files as one transfer may carry).
pub fn measure(path: &Path) -> Measured {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return Measured::Unreadable(match e.kind() {
                std::io::ErrorKind::NotFound => Unreadable::Gone,
                std::io::ErrorKind::PermissionDenied => Unreadable::NoPermission,
                _ => Unreadable::Other(e.to_string()),
            });
        }
    };
    if !meta.is_dir() {
        // Readable means it opens: permission bits alone do not say (ACLs, root, Windows).
        return match std::fs::File::open(path) {
            Ok(_) => Measured::File { size: meta.len() },
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                Measured::Unreadable(Unreadable::NoPermission)
            }
            Err(e) => Measured::Unreadable(Unreadable::Other(e.to_string())),
        };
    }
    let (mut files, mut size) = (0u64, 0u64);
    let mut pending = VecDeque::from([(path.to_path_buf(), 0usize)]);
    while let Some((dir, depth)) = pending.pop_front() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && depth < MAX_DEPTH {
                pending.push_back((entry.path(), depth + 1));
            } else if kind.is_file() {
                files += 1;
                size = size.saturating_add(entry.metadata().map(|m| m.len()).unwrap_or(0));
            }
            if files > u64::from(MAX_FILES) {
                return Measured::Folder { files, size };
            }
        }
    }
    Measured::Folder { files, size }
}

/// The up, non-loopback IPv4 addresses of this computer (link-local last).
pub fn local_addresses() -> Vec<std::net::IpAddr> {
    let mut found: Vec<(bool, std::net::IpAddr)> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback() && i.ip().is_ipv4() && i.is_oper_up())
        .map(|i| (i.is_link_local(), i.ip()))
        .collect();
    found.sort();
    found.dedup();
    found.into_iter().map(|(_, ip)| ip).collect()
}

/// Free bytes on the file system that holds `dir` (or its nearest existing parent, since the
/// receive folder is created only when the first file arrives).
pub fn free_space(dir: &Path) -> Option<u64> {
    dir.ancestors().find(|d| d.exists()).and_then(|d| fs4::available_space(d).ok())
}

/// Why files could not be saved in `dir` (or, when it does not exist yet, be created there);
/// `None` when a test file could be made. The test file is created exclusively under a name no
/// transfer uses and removed at once; this is the only honest check (read-only mounts, ACLs and
/// full quotas are invisible to permission bits).
pub fn cannot_save_in(dir: &Path) -> Option<SaveProblem> {
    let Some(existing) = dir.ancestors().find(|d| d.exists()) else {
        return Some(SaveProblem::Missing);
    };
    if !existing.is_dir() {
        return Some(SaveProblem::NotAFolder(existing.to_path_buf()));
    }
    let probe = existing.join(format!(".ferry-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
        Err(e) => Some(match e.kind() {
            std::io::ErrorKind::PermissionDenied => SaveProblem::NoPermission,
            std::io::ErrorKind::ReadOnlyFilesystem => SaveProblem::ReadOnly,
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => SaveProblem::Full,
            _ => SaveProblem::Other(e.to_string()),
        }),
    }
}

/// Why the receive folder cannot take files; the window says it in the person's language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaveProblem {
    /// Neither it nor any folder above it exists (a removed drive).
    Missing,
    /// Something on the way is a file.
    NotAFolder(PathBuf),
    NoPermission,
    ReadOnly,
    Full,
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_files_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"12345").unwrap();
        std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
        std::fs::write(dir.path().join("sub/b.bin"), vec![0u8; 1000]).unwrap();
        std::fs::write(dir.path().join("sub/deeper/c"), b"").unwrap();
        assert_eq!(measure(&dir.path().join("a.txt")), Measured::File { size: 5 });
        assert_eq!(measure(dir.path()), Measured::Folder { files: 3, size: 1005 });
        assert_eq!(measure(&dir.path().join("gone")), Measured::Unreadable(Unreadable::Gone));
    }

    #[test]
    fn a_folder_that_cannot_be_written_is_found_out() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cannot_save_in(dir.path()), None);
        assert_eq!(cannot_save_in(&dir.path().join("not/yet")), None, "can be created");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "the test file is gone");
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(cannot_save_in(&file.join("inside")), Some(SaveProblem::NotAFolder(file.clone())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let locked = dir.path().join("locked");
            std::fs::create_dir(&locked).unwrap();
            std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
            // root writes anywhere; the check must then say it can.
            let can = std::fs::write(locked.join("t"), b"").is_ok();
            assert_eq!(cannot_save_in(&locked).is_none(), can);
            std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn free_space_of_a_folder_not_yet_created_is_its_parents() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_space(&dir.path().join("not/yet/there")).expect("free space");
        assert!(free > 0);
    }
}
