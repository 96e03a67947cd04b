//! The receiving side's disk: files arrive under a temporary name and get their real name only
//! when they are complete, and nothing that is already there is ever overwritten.
//!
//! **The receive folder is a handle, not a name.** A transfer opens the receive folder once
//! ([`ReceiveFolder::open`], when its offer is accepted) and creates and names every one of its
//! files relative to that open folder. The path is resolved that one time, following symlinks:
//! the receive folder itself may be a link the person chose (`~/Downloads` → another disk).
//! From then on, replacing the folder or anything on its path (by a symlink to elsewhere, say)
//! changes nothing for that transfer: its files land in the folder that was opened. The next
//! transfer resolves the path again. (Windows: path-based, see `windows.rs`.)
//!
//! The life of one received file:
//!
//! 1. [`PartFile::create`] makes a file in the receive folder (`root`) that has **no name** yet
//!    (Linux `O_TMPFILE`, opened relative to the folder's handle): nobody can see or open it, and
//!    if the receiver crashes the system frees it — nothing is left behind. Where that is not
//!    available (other systems, file systems without it) it makes `.ferry-<32 random hex>.part`
//!    in the folder instead, opened exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW` relative to the
//!    handle on Unix), so a file or symlink planted under that name is never opened, let alone
//!    followed.
//! 2. The receiver streams data into it with [`PartFile::write_all`] and checks size and hash.
//! 3. [`PartFile::persist`] flushes it to disk and gives it its final name inside `root`,
//!    creating folders as needed. If the name is taken it tries `photo (1).jpg`,
//!    `photo (2).jpg`, … — "taken" also when only letter case or normalisation differs
//!    ([`Taken`]). Dropping a `PartFile` that was not persisted deletes it.
//!
//! Why the temporary file lives in `root` and not in the final folder: the final folder may not
//! exist yet when data starts arriving, and `root` is on the same file system as every folder
//! below it (we never follow a symlink out of it), so the final step is a link or a rename,
//! never a copy.
//!
//! **Never overwriting, even against races.** A nameless file gets its name with `linkat`, which
//! fails if the name exists. A `.part` file is moved with an atomic "rename unless the name
//! exists" (`renameat2(RENAME_NOREPLACE)` on Linux, `renameatx_np(RENAME_EXCL)` on macOS). File
//! systems that do not support it get a hard link (which also fails if the name exists) and an
//! unlink of the temporary name. Where hard links are not supported either (FAT/exFAT USB
//! drives), the last resort is "check the name is free, then rename": only there could a file
//! created in the split second between the two steps be replaced.
//!
//! The nameless file is also the faster one: a named temporary file costs a directory entry
//! made in `root` and a rename that looks it up again and removes it — for a folder of small
//! photos on ext4 that was about a third of the receiver's processor time (perf, 2000 files).
//!
//! **Folders.** Every folder below `root` is entered without following symlinks (Unix: `openat`
//! with `O_NOFOLLOW | O_DIRECTORY` relative to the parent's handle, so the check and the use
//! cannot be split by a swap; elsewhere: `symlink_metadata` before use). A folder that already
//! exists — also under another letter case — is **merged into**: a second batch with
//! `Trip/IMG_1.jpg` lands next to the first one's, as `Trip/IMG_1 (1).jpg` if that name is
//! taken. A symlink or a file where a folder should be is never entered: the folder becomes
//! `Trip (1)` instead, so no file is lost ([`Taken::enter`]). Simple, and never overwrites.
//!
//! [`sweep_stale_parts`] removes `.part` files a crash left behind.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::names;

mod taken;
pub use taken::Taken;

/// Temporary files are named `PART_PREFIX + 32 hex digits + PART_SUFFIX`.
const PART_PREFIX: &str = ".ferry-";
const PART_SUFFIX: &str = ".part";
/// How many `name (n)` variants to try before giving up on a name.
const MAX_NUMBERED_TRIES: u32 = 10_000;
/// A `.part` file older than this belongs to no running transfer: a transfer that stalls this long
/// is cancelled by its timeouts well before.
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// The receive folder, opened once for one transfer: every file of the transfer is created and
/// named relative to it (see the module docs). Cheap to clone (the handle is shared).
#[derive(Clone)]
pub struct ReceiveFolder {
    dir: Arc<platform::Dir>,
    /// A write failure a test asked for ([`inject_write_failure`]).
    fault: Option<Fault>,
}

impl ReceiveFolder {
    /// Opens the folder at `path` (which must exist), following symlinks on the way: this is
    /// the one time its path is resolved.
    pub fn open(path: &Path) -> io::Result<ReceiveFolder> {
        Ok(ReceiveFolder { dir: Arc::new(platform::Dir::open_root(path)?), fault: fault_for(path) })
    }

    /// The path it was opened by (where files are reported as saved).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// An open temporary file being received. Deleted on drop unless [`PartFile::persist`] succeeded.
pub struct PartFile {
    /// `None` only inside `persist`, after a named file was closed and before it is renamed
    /// (Windows cannot rename or delete an open file), and once the file has its final name.
    file: Option<File>,
    /// Where the data is until it has its final name.
    temp: Temp,
    /// Bytes written so far, so the receiver can compare with the offered size.
    written: u64,
    /// Set once the file has its final name, so `Drop` leaves it alone.
    persisted: bool,
    /// Bytes already handed to the system's writeback ([`PartFile::start_writeback`]).
    written_back: u64,
    /// A write failure a test asked for ([`inject_write_failure`]).
    fault: Option<Fault>,
}

enum Temp {
    /// A file without a name (Linux `O_TMPFILE`); it is given one from its open handle.
    #[cfg(target_os = "linux")]
    Unnamed,
    /// A `.ferry-<hex>.part` file in the receive folder: its name there, for the rename and
    /// for cleanup.
    Named(ReceiveFolder, String),
}

/// Start writing to disk every this many bytes of a big file.
const WRITEBACK_EVERY: u64 = 8 * 1024 * 1024;
/// Files from this size on start writing their tail when done ([`PartFile::done_writing`]).
const WRITEBACK_TAIL_FROM: u64 = 1024 * 1024;

impl PartFile {
    /// Creates a temporary file inside the receive folder: a nameless one where the system can
    /// make it, otherwise a named one ([`PartFile::create_named`]).
    pub fn create(root: &ReceiveFolder) -> io::Result<PartFile> {
        #[cfg(target_os = "linux")]
        if root.fault.is_none()
            && let Some(file) = root.dir.create_unnamed()
        {
            return Ok(PartFile::new(file, Temp::Unnamed));
        }
        PartFile::create_named(root)
    }

    /// Creates `.ferry-<32 random hex>.part` inside the receive folder exclusively (it fails if
    /// anything, even a dangling symlink, has that name), so a planted file or symlink is never
    /// opened or followed.
    fn create_named(root: &ReceiveFolder) -> io::Result<PartFile> {
        // 128 random bits never collide in practice; the retry covers a hostile folder full of
        // guessed names without looping forever.
        for _ in 0..4 {
            let name = random_part_name()?;
            match root.dir.create_new(&name) {
                Ok(file) => return Ok(PartFile::new(file, Temp::Named(root.clone(), name))),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "could not find a free temporary file name"))
    }

    fn new(file: File, temp: Temp) -> PartFile {
        let fault = match &temp {
            #[cfg(target_os = "linux")]
            Temp::Unnamed => None,
            Temp::Named(root, _) => root.fault,
        };
        PartFile { file: Some(file), temp, written: 0, written_back: 0, persisted: false, fault }
    }

    /// Appends `buf`. Unbuffered on purpose: callers write whole network chunks (256 KiB), so a
    /// buffer would only add a copy.
    pub fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(Fault { after, kind }) = self.fault
            && self.written + buf.len() as u64 > after
        {
            return Err(io::Error::from(kind));
        }
        let file = self.file.as_mut().ok_or_else(closed)?;
        file.write_all(buf)?;
        self.written += buf.len() as u64;
        if self.written - self.written_back >= WRITEBACK_EVERY {
            self.start_writeback();
        }
        Ok(())
    }

    /// Asks the system to start writing what was written so far to the disk, without waiting.
    /// The flush before the file gets its final name then has little left to do, and the disk
    /// works while the network does. (Linux; elsewhere the system decides by itself.)
    fn start_writeback(&mut self) {
        #[cfg(target_os = "linux")]
        if let (Some(file), Some(len)) =
            (&self.file, std::num::NonZeroU64::new(self.written - self.written_back))
        {
            // DONTNEED starts writeback of the dirty range and drops pages already clean.
            let _ = rustix::fs::fadvise(file, self.written_back, Some(len), rustix::fs::Advice::DontNeed);
        }
        self.written_back = self.written;
    }

    /// Starts writing what is not on its way to the disk yet (see [`PartFile::start_writeback`]).
    pub fn write_back_now(&mut self) {
        if self.written > self.written_back {
            self.start_writeback();
        }
    }

    /// The last bytes are in. A big file's tail goes to the disk at once, like the rest of it
    /// did; small files are left to the finisher thread, which starts them in handfuls
    /// ([`PartFile::write_back_now`]) so the receiving thread does not pay for it.
    pub fn done_writing(&mut self) {
        if self.written >= WRITEBACK_TAIL_FROM {
            self.start_writeback();
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Where the temporary file is, if it has a name (for tests).
    #[cfg(test)]
    fn temp_path(&self) -> Option<PathBuf> {
        match &self.temp {
            Temp::Named(root, name) => Some(root.path().join(name)),
            #[cfg(target_os = "linux")]
            Temp::Unnamed => None,
        }
    }

    /// Flushes the data to disk, then gives the file its final name `root/rel[0]/…/rel[n-1]`
    /// without ever overwriting anything. `rel` must be components from [`names::safe_component`]
    /// (checked again here). Missing folders are created inside `root`, never through a symlink.
    /// If the name is taken, `photo (1).jpg`, `photo (2).jpg`, … are tried. Returns the final path.
    ///
    /// The file must have been created in `root` (see the module docs); on error it is deleted.
    pub fn persist(self, root: &ReceiveFolder, rel: &[String]) -> io::Result<PathBuf> {
        persist_all(root, vec![(self, rel.to_vec())], &mut Taken::new()).pop().expect("one result per file")
    }

    /// Step one of persisting: the bytes reach the disk.
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_ref().ok_or_else(closed)?.sync_all()?;
        self.ready_to_place()
    }

    /// Closes a named file, which is moved by its name (Windows cannot rename an open file). A
    /// nameless one stays open: its handle is all there is to name it by.
    fn ready_to_place(&mut self) -> io::Result<()> {
        self.file.as_ref().ok_or_else(closed)?;
        match self.temp {
            Temp::Named(..) => self.file = None,
            #[cfg(target_os = "linux")]
            Temp::Unnamed => {}
        }
        Ok(())
    }

    /// Step two: the final name, in `dir` (not yet flushed itself). Names `taken` knows of are
    /// not even tried.
    fn place(mut self, dir: &platform::Dir, file_name: &str, taken: &mut Taken) -> io::Result<PathBuf> {
        for n in 0..=MAX_NUMBERED_TRIES {
            let candidate = if n == 0 { file_name.to_owned() } else { names::numbered(file_name, n) };
            if !taken.looks_free(dir, &candidate) {
                continue;
            }
            let placed = match &self.temp {
                Temp::Named(root, temp) => dir.place(&root.dir, temp, &candidate),
                #[cfg(target_os = "linux")]
                Temp::Unnamed => dir.name_unnamed(self.file.as_ref().ok_or_else(closed)?, &candidate),
            };
            match placed {
                Ok(()) => {
                    taken.record(dir, &candidate);
                    self.persisted = true;
                    self.file = None;
                    return Ok(dir.path().join(candidate));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => taken.record(dir, &candidate),
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{MAX_NUMBERED_TRIES} files named like {file_name:?} already exist"),
        ))
    }
}

/// Persists several checked files at once, as [`PartFile::persist`] does one: first every file's
/// bytes are flushed, then every file gets its final name, then each folder that gained a name is
/// flushed once, so the new names survive a power cut. On journaling file systems a flush commits
/// everything written so far, so a batch costs about two commits instead of two per file — what
/// makes thousands of small files fast. One result per file, in order; a file whose step fails is
/// deleted. `taken` carries the names known to be taken from one batch of a transfer to the next.
pub fn persist_all(
    root: &ReceiveFolder,
    files: Vec<(PartFile, Vec<String>)>,
    taken: &mut Taken,
) -> Vec<io::Result<PathBuf>> {
    let mut results: Vec<Option<io::Result<PathBuf>>> = Vec::with_capacity(files.len());
    let mut ready = Vec::with_capacity(files.len());
    // Every flush waits for the disk to empty its cache; on Linux one `syncfs` flushes the whole
    // batch with a single wait. (It flushes other programs' pending writes on that disk too,
    // which costs them nothing and us only what they had written.)
    let flushed_together = files.len() > 1 && root.dir.sync_file_system().is_ok();
    for (i, (mut part, rel)) in files.into_iter().enumerate() {
        let checked = rel
            .iter()
            .find(|p| names::safe_component(p).as_ref() != Ok(*p))
            .map(|p| Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unsafe name {p:?}"))));
        let flushed = match checked {
            Some(err) => err,
            None if flushed_together => part.ready_to_place(),
            None => part.flush(),
        };
        match flushed {
            Ok(()) => {
                results.push(None);
                ready.push((i, part, rel));
            }
            Err(e) => results.push(Some(Err(e))),
        }
    }
    // Folders opened for this batch, by their path below `root` (`None`: `root` itself): a batch
    // of photos from one folder opens (and creates) it once, not once per photo.
    let mut touched: Vec<(Vec<String>, Option<platform::Dir>)> = Vec::new();
    for (i, part, rel) in ready {
        results[i] = Some((|| {
            let (file_name, folders) = rel
                .split_last()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name given"))?;
            let at = match touched.iter().position(|(f, _)| f.as_slice() == folders) {
                Some(at) => at,
                None => {
                    let mut dir: Option<platform::Dir> = None;
                    for folder in folders {
                        dir = Some(taken.enter(dir.as_ref().unwrap_or(&root.dir), folder)?);
                    }
                    touched.push((folders.to_vec(), dir));
                    touched.len() - 1
                }
            };
            part.place(touched[at].1.as_ref().unwrap_or(&root.dir), file_name, taken)
        })());
    }
    // Best effort: some file systems refuse to sync a folder, and the data is already on disk.
    if touched.len() <= 2 || root.dir.sync_file_system().is_err() {
        for (_, dir) in &touched {
            dir.as_ref().unwrap_or(&root.dir).sync();
        }
    }
    results.into_iter().map(|r| r.expect("every file has a result")).collect()
}

impl Drop for PartFile {
    /// A nameless file disappears when closed; a named one is deleted.
    fn drop(&mut self) {
        // Close first: Windows cannot delete an open file.
        drop(self.file.take());
        if let (false, Temp::Named(root, name)) = (self.persisted, &self.temp) {
            let _ = root.dir.remove(name);
        }
    }
}

/// Removes `.ferry-*.part` files older than an hour from `dir` (leftovers of a crash) and
/// returns how many were removed. Only exact temporary names are touched, never a symlink,
/// never anything in a subfolder. Errors are skipped: this is housekeeping.
pub fn sweep_stale_parts(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(is_part_name) {
            continue;
        }
        // `DirEntry::metadata` does not follow symlinks.
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if meta.is_file() && old && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn random_part_name() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| io::Error::other(format!("the operating system's random source failed: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{PART_PREFIX}{hex}{PART_SUFFIX}"))
}

fn is_part_name(name: &str) -> bool {
    name.strip_prefix(PART_PREFIX)
        .and_then(|rest| rest.strip_suffix(PART_SUFFIX))
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Can `needed` bytes be saved in the receive folder `dir` just now? Checked the honest way — a
/// temporary file is made there and removed (read-only mounts, ACLs and root's disregard of
/// mode bits are invisible to permission bits) — and against the free space the system
/// reports. A folder not made yet is judged by its nearest existing parent. For saying so
/// before a person accepts an offer; the transfer itself still reports what really happens.
pub fn check_folder(dir: &Path, needed: u64) -> Option<crate::events::SaveFailure> {
    use crate::events::SaveFailure;
    let Some(existing) = dir.ancestors().find(|d| d.exists()) else {
        return Some(SaveFailure::FolderGone);
    };
    let probe = ReceiveFolder::open(existing).and_then(|root| PartFile::create(&root).map(drop));
    if let Err(e) = probe {
        return SaveFailure::of(write_failure(&e)).or(Some(SaveFailure::FolderNotWritable));
    }
    match fs4::available_space(existing) {
        Ok(free) if free < needed => Some(SaveFailure::DiskFull),
        _ => None,
    }
}

/// What a failed write means for the person, as the FILE_RESULT that reports it (PROTOCOL.md
/// §8): a full disk (or quota), a folder that cannot be written, a folder that is gone, or
/// something else.
pub fn write_failure(e: &io::Error) -> crate::protocol::FileResult {
    use crate::protocol::FileResult;
    use io::ErrorKind as K;
    match e.kind() {
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => FileResult::DiskFull,
        K::ReadOnlyFilesystem | K::PermissionDenied => FileResult::FolderNotWritable,
        K::NotFound => FileResult::FolderGone,
        _ => FileResult::WriteFailed,
    }
}

/// A write failure asked for by a test: writes into files of the folder fail with `kind` once
/// `after` bytes of a file were written.
#[derive(Clone, Copy, Debug)]
struct Fault {
    after: u64,
    kind: io::ErrorKind,
}

static FAULTS: std::sync::Mutex<Vec<(PathBuf, Fault)>> = std::sync::Mutex::new(Vec::new());

/// **Test seam.** From now on, every file received into the folder at `folder` (by transfers
/// that open it after this call) fails to write once `after` bytes of it were written, with
/// an error of `kind` — a full disk (`StorageFull`) or a read-only folder
/// (`ReadOnlyFilesystem`) without a small file system to fill or root's disregard of mode
/// bits. Such files are always named temporary files (`.ferry-….part`), which is the fallback
/// path every system has. Only for tests: nothing in Ferry calls it.
#[doc(hidden)]
pub fn inject_write_failure(folder: &Path, after: u64, kind: io::ErrorKind) {
    let mut faults = FAULTS.lock().unwrap_or_else(|e| e.into_inner());
    faults.retain(|(p, _)| p != folder);
    faults.push((folder.to_owned(), Fault { after, kind }));
}

fn fault_for(path: &Path) -> Option<Fault> {
    let faults = FAULTS.lock().unwrap_or_else(|e| e.into_inner());
    faults.iter().find(|(p, _)| p == path).map(|(_, f)| *f)
}

fn closed() -> io::Error {
    io::Error::other("the temporary file is already closed")
}

/// A name that is taken, in the form the retry loop recognises.
fn taken() -> io::Error {
    io::Error::from(io::ErrorKind::AlreadyExists)
}

/// A file, link or other thing where a folder should be.
fn in_the_way(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{} exists but is not a folder (or is a link), so nothing is saved there", path.display()),
    )
}

#[cfg(unix)]
#[path = "unix.rs"]
mod platform;

#[cfg(not(unix))]
#[path = "windows.rs"]
mod platform;

// The Windows store's plain decisions (error codes, reparse tags, long paths), tested everywhere.
#[cfg(any(windows, test))]
mod windows_rules;

#[cfg(test)]
mod tests;
