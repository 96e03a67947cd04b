//! The receiving side's disk: files arrive under a temporary name and get their real name only
//! when they are complete, and nothing that is already there is ever overwritten.
//!
//! The life of one received file:
//!
//! 1. [`PartFile::create`] makes a file in the receive folder (`root`) that has **no name** yet
//!    (Linux `O_TMPFILE`): nobody can see or open it, and if the receiver crashes the system frees
//!    it — nothing is left behind. Where that is not available (other systems, file systems
//!    without it) it makes `.ferry-<32 random hex>.part` instead, opened with `create_new` (and
//!    `O_NOFOLLOW` on Unix), so a file or symlink planted under that name is never opened, let
//!    alone followed.
//! 2. The receiver streams data into it with [`PartFile::write_all`] and checks size and hash.
//! 3. [`PartFile::persist`] flushes it to disk and gives it its final name inside `root`,
//!    creating folders as needed. If the name is taken it tries `photo (1).jpg`,
//!    `photo (2).jpg`, … Dropping a `PartFile` that was not persisted deletes it.
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
//! cannot be split by a swap; elsewhere: `symlink_metadata` before use). A symlink or a file
//! where a folder should be refuses the file. A folder that already exists is **merged into**:
//! a second batch with `Trip/IMG_1.jpg` lands next to the first one's, as `Trip/IMG_1 (1).jpg`
//! if that name is taken. Simple, and never overwrites.
//!
//! [`sweep_stale_parts`] removes `.part` files a crash left behind.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::names;

/// Temporary files are named `PART_PREFIX + 32 hex digits + PART_SUFFIX`.
const PART_PREFIX: &str = ".ferry-";
const PART_SUFFIX: &str = ".part";
/// How many `name (n)` variants to try before giving up on a name.
const MAX_NUMBERED_TRIES: u32 = 10_000;
/// A `.part` file older than this belongs to no running transfer: a transfer that stalls this long
/// is cancelled by its timeouts well before.
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

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
}

enum Temp {
    /// A file without a name (Linux `O_TMPFILE`); it is given one from its open handle.
    #[cfg(target_os = "linux")]
    Unnamed,
    /// Full path of a `.ferry-<hex>.part` file, for the rename and for cleanup.
    Named(PathBuf),
}

/// Start writing to disk every this many bytes of a big file.
const WRITEBACK_EVERY: u64 = 8 * 1024 * 1024;
/// Files from this size on start writing their tail when done ([`PartFile::done_writing`]).
const WRITEBACK_TAIL_FROM: u64 = 1024 * 1024;

impl PartFile {
    /// Creates a temporary file inside `dir`: a nameless one where the system can make it,
    /// otherwise a named one ([`PartFile::create_named`]).
    pub fn create(dir: &Path) -> io::Result<PartFile> {
        #[cfg(target_os = "linux")]
        if let Some(file) = platform::create_unnamed(dir) {
            return Ok(PartFile::new(file, Temp::Unnamed));
        }
        PartFile::create_named(dir)
    }

    /// Creates `.ferry-<32 random hex>.part` inside `dir` exclusively (`create_new`; on Unix also
    /// `O_NOFOLLOW`), so a planted file or symlink is never opened or followed.
    fn create_named(dir: &Path) -> io::Result<PartFile> {
        // 128 random bits never collide in practice; the retry covers a hostile folder full of
        // guessed names without looping forever.
        for _ in 0..4 {
            let path = dir.join(random_part_name()?);
            match open_new_nofollow(&path) {
                Ok(file) => return Ok(PartFile::new(file, Temp::Named(path))),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "could not find a free temporary file name"))
    }

    fn new(file: File, temp: Temp) -> PartFile {
        PartFile { file: Some(file), temp, written: 0, written_back: 0, persisted: false }
    }

    /// Appends `buf`. Unbuffered on purpose: callers write whole network chunks (256 KiB), so a
    /// buffer would only add a copy.
    pub fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
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
    fn temp_path(&self) -> Option<&Path> {
        match &self.temp {
            Temp::Named(path) => Some(path),
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
    pub fn persist(self, root: &Path, rel: &[String]) -> io::Result<PathBuf> {
        persist_all(root, vec![(self, rel.to_vec())]).pop().expect("one result per file")
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
            Temp::Named(_) => self.file = None,
            #[cfg(target_os = "linux")]
            Temp::Unnamed => {}
        }
        Ok(())
    }

    /// Step two: the final name, in the folder returned (not yet flushed itself).
    fn place(mut self, dir: &platform::Dir, file_name: &str) -> io::Result<PathBuf> {
        for n in 0..=MAX_NUMBERED_TRIES {
            let candidate = if n == 0 { file_name.to_owned() } else { names::numbered(file_name, n) };
            let placed = match &self.temp {
                Temp::Named(path) => dir.place(path, &candidate),
                #[cfg(target_os = "linux")]
                Temp::Unnamed => dir.name_unnamed(self.file.as_ref().ok_or_else(closed)?, &candidate),
            };
            match placed {
                Ok(()) => {
                    self.persisted = true;
                    self.file = None;
                    return Ok(dir.path().join(candidate));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
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
/// deleted.
pub fn persist_all(root: &Path, files: Vec<(PartFile, Vec<String>)>) -> Vec<io::Result<PathBuf>> {
    let mut results: Vec<Option<io::Result<PathBuf>>> = Vec::with_capacity(files.len());
    let mut ready = Vec::with_capacity(files.len());
    // Every flush waits for the disk to empty its cache; on Linux one `syncfs` flushes the whole
    // batch with a single wait. (It flushes other programs' pending writes on that disk too,
    // which costs them nothing and us only what they had written.)
    let flushed_together = files.len() > 1 && flush_file_system(root).is_ok();
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
    // Folders opened for this batch, by their path below `root`: a batch of photos from one
    // folder opens (and creates) it once, not once per photo.
    let mut touched: Vec<(Vec<String>, platform::Dir)> = Vec::new();
    for (i, part, rel) in ready {
        results[i] = Some((|| {
            let (file_name, folders) = rel
                .split_last()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name given"))?;
            let at = match touched.iter().position(|(f, _)| f.as_slice() == folders) {
                Some(at) => at,
                None => {
                    let mut dir = platform::Dir::open_root(root)?;
                    for folder in folders {
                        dir = dir.enter(folder)?;
                    }
                    touched.push((folders.to_vec(), dir));
                    touched.len() - 1
                }
            };
            part.place(&touched[at].1, file_name)
        })());
    }
    // Best effort: some file systems refuse to sync a folder, and the data is already on disk.
    if touched.len() <= 2 || flush_file_system(root).is_err() {
        for (_, dir) in &touched {
            dir.sync();
        }
    }
    results.into_iter().map(|r| r.expect("every file has a result")).collect()
}

impl Drop for PartFile {
    /// A nameless file disappears when closed; a named one is deleted.
    fn drop(&mut self) {
        // Close first: Windows cannot delete an open file.
        drop(self.file.take());
        if let (false, Temp::Named(path)) = (self.persisted, &self.temp) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Flushes everything written to the file system that holds `dir` (Linux `syncfs`). Elsewhere
/// it says `Unsupported`, and callers flush file by file.
fn flush_file_system(dir: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let d = std::fs::File::open(dir)?;
        rustix::fs::syncfs(&d).map_err(io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        Err(io::ErrorKind::Unsupported.into())
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

fn closed() -> io::Error {
    io::Error::other("the temporary file is already closed")
}

/// Opens a new file for writing; fails if anything — file, folder, or symlink, even a dangling
/// one — already has that name.
fn open_new_nofollow(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // `create_new` (O_EXCL) already refuses an existing symlink; O_NOFOLLOW makes that
        // explicit and stays true if someone ever loosens `create_new`.
        #[allow(clippy::unnecessary_cast)] // the raw type is u32 or i32 depending on the backend
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options.open(path)
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
mod platform {
    //! Folder handles: every step is relative to the parent's open handle, so a folder swapped
    //! for a symlink between a check and a use is never followed.

    use super::{in_the_way, taken};
    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    use rustix::io::Errno;
    use std::io;
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    #[cfg(target_os = "linux")]
    use {
        std::fs::File,
        std::os::fd::AsRawFd,
        std::sync::OnceLock,
        std::sync::atomic::{AtomicBool, Ordering},
    };

    pub struct Dir {
        fd: OwnedFd,
        path: PathBuf,
    }

    impl Dir {
        /// The receive folder itself may be a symlink (`~/Downloads` → another disk): the person
        /// chose it. Only what is below it is distrusted.
        pub fn open_root(root: &Path) -> io::Result<Dir> {
            let fd =
                rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
            Ok(Dir { fd, path: root.to_owned() })
        }

        /// Enters (creating if needed) the folder `name`, refusing a symlink or a non-folder.
        pub fn enter(&self, name: &str) -> io::Result<Dir> {
            match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            let path = self.path.join(name);
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
                Ok(fd) => Ok(Dir { fd, path }),
                // ELOOP: a symlink (O_NOFOLLOW); ENOTDIR: a file, or a symlink on some systems.
                Err(Errno::LOOP | Errno::NOTDIR) => Err(in_the_way(&path)),
                Err(e) => Err(e.into()),
            }
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        /// Moves `tmp` to `name` in this folder; `ErrorKind::AlreadyExists` if the name is taken.
        pub fn place(&self, tmp: &Path, name: &str) -> io::Result<()> {
            #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
            {
                use rustix::fs::RenameFlags;
                match rustix::fs::renameat_with(CWD, tmp, &self.fd, name, RenameFlags::NOREPLACE) {
                    Ok(()) => return Ok(()),
                    Err(e) if !unsupported(e) => return Err(e.into()),
                    Err(_) => {}
                }
            }
            self.place_by_link(tmp, name)
        }

        /// Fallback 1: a hard link fails if the name exists, just like RENAME_NOREPLACE.
        pub(super) fn place_by_link(&self, tmp: &Path, name: &str) -> io::Result<()> {
            match rustix::fs::linkat(CWD, tmp, &self.fd, name, AtFlags::empty()) {
                Ok(()) => {
                    // If this fails the data is safe under its final name; the leftover
                    // temporary name is removed by `sweep_stale_parts` later.
                    let _ = rustix::fs::unlinkat(CWD, tmp, AtFlags::empty());
                    Ok(())
                }
                // EPERM is what Linux's FAT/exFAT drivers answer to link().
                Err(e) if unsupported(e) || e == Errno::PERM => self.place_by_check_then_rename(tmp, name),
                Err(e) => Err(e.into()),
            }
        }

        /// Fallback 2 (FAT/exFAT): not atomic, see the module docs.
        pub(super) fn place_by_check_then_rename(&self, tmp: &Path, name: &str) -> io::Result<()> {
            match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(_) => Err(taken()),
                Err(Errno::NOENT) => Ok(rustix::fs::renameat(CWD, tmp, &self.fd, name)?),
                Err(e) => Err(e.into()),
            }
        }

        /// Gives the nameless `file` ([`create_unnamed`]) the name `name` in this folder;
        /// `ErrorKind::AlreadyExists` if the name is taken (`linkat` never replaces).
        #[cfg(target_os = "linux")]
        pub fn name_unnamed(&self, file: &File, name: &str) -> io::Result<()> {
            // Naming a file by its handle (AT_EMPTY_PATH) needs a privilege most people lack;
            // the same file under /proc/self/fd works for everyone. Which one works is learnt once.
            static BY_HANDLE: AtomicBool = AtomicBool::new(true);
            if BY_HANDLE.load(Ordering::Relaxed) {
                match rustix::fs::linkat(file, "", &self.fd, name, AtFlags::EMPTY_PATH) {
                    Ok(()) => return Ok(()),
                    Err(Errno::NOENT | Errno::PERM) => BY_HANDLE.store(false, Ordering::Relaxed),
                    Err(e) => return Err(e.into()),
                }
            }
            self.name_unnamed_by_proc(file, name)
        }

        #[cfg(target_os = "linux")]
        pub(super) fn name_unnamed_by_proc(&self, file: &File, name: &str) -> io::Result<()> {
            let by_proc = format!("{PROC_FDS}/{}", file.as_raw_fd());
            Ok(rustix::fs::linkat(CWD, by_proc.as_str(), &self.fd, name, AtFlags::SYMLINK_FOLLOW)?)
        }

        pub fn sync(&self) {
            let _ = rustix::fs::fsync(&self.fd);
        }
    }

    #[cfg(target_os = "linux")]
    const PROC_FDS: &str = "/proc/self/fd";

    /// A new file in `dir` with no name (`O_TMPFILE`), or `None` where that cannot be made (the
    /// file system does not support it) or could not be named later (no /proc).
    #[cfg(target_os = "linux")]
    pub fn create_unnamed(dir: &Path) -> Option<File> {
        static PROC_MOUNTED: OnceLock<bool> = OnceLock::new();
        if !*PROC_MOUNTED.get_or_init(|| Path::new(PROC_FDS).is_dir()) {
            return None;
        }
        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
        rustix::fs::open(dir, flags, Mode::from_raw_mode(0o666)).ok().map(File::from)
    }

    /// The file system or kernel does not offer this operation (as opposed to "it failed").
    fn unsupported(e: Errno) -> bool {
        e == Errno::INVAL || e == Errno::NOSYS || e == Errno::OPNOTSUPP || e == Errno::NOTSUP
    }
}

#[cfg(not(unix))]
mod platform {
    //! Path-based version for Windows: each folder is checked with `symlink_metadata` (which
    //! reports junctions as links too) right before use.

    use super::{in_the_way, taken};
    use std::io;
    use std::path::{Path, PathBuf};

    pub struct Dir {
        path: PathBuf,
    }

    impl Dir {
        pub fn open_root(root: &Path) -> io::Result<Dir> {
            if !std::fs::metadata(root)?.is_dir() {
                return Err(in_the_way(root));
            }
            Ok(Dir { path: root.to_owned() })
        }

        pub fn enter(&self, name: &str) -> io::Result<Dir> {
            let path = self.path.join(name);
            match std::fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.file_type().is_symlink() || !meta.is_dir() {
                return Err(in_the_way(&path));
            }
            Ok(Dir { path })
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        pub fn place(&self, tmp: &Path, name: &str) -> io::Result<()> {
            let target = self.path.join(name);
            match std::fs::hard_link(tmp, &target) {
                Ok(()) => {
                    let _ = std::fs::remove_file(tmp);
                    Ok(())
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied) =>
                {
                    match std::fs::symlink_metadata(&target) {
                        Ok(_) => Err(taken()),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::rename(tmp, &target),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        }

        pub fn sync(&self) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn rel(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| (*p).to_owned()).collect()
    }

    /// Receives `content` into `root` and persists it as `parts`.
    fn receive(root: &Path, parts: &[&str], content: &[u8]) -> io::Result<PathBuf> {
        let mut part = PartFile::create(root)?;
        part.write_all(content)?;
        assert_eq!(part.written(), content.len() as u64);
        part.persist(root, &rel(parts))
    }

    /// Names in `dir`, sorted.
    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn same_names_get_numbers_and_keep_their_extension() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for (i, want) in ["photo.jpg", "photo (1).jpg", "photo (2).jpg"].iter().enumerate() {
            let content = format!("copy {i}");
            let got = receive(r, &["photo.jpg"], content.as_bytes()).unwrap();
            assert_eq!(got, r.join(want));
            assert_eq!(std::fs::read_to_string(&got).unwrap(), content);
        }
        assert_eq!(receive(r, &["notes"], b"1").unwrap(), r.join("notes"));
        assert_eq!(receive(r, &["notes"], b"2").unwrap(), r.join("notes (1)"));
        assert_eq!(receive(r, &[".bashrc"], b"1").unwrap(), r.join(".bashrc"));
        assert_eq!(receive(r, &[".bashrc"], b"2").unwrap(), r.join(".bashrc (1)"));
        // Only final names are left: every temporary file was renamed away.
        assert_eq!(
            listing(r),
            [".bashrc", ".bashrc (1)", "notes", "notes (1)", "photo (1).jpg", "photo (2).jpg", "photo.jpg"]
        );
    }

    #[test]
    fn a_batch_is_persisted_together_with_one_result_per_file() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let make = |content: &[u8]| {
            let mut p = PartFile::create(r).unwrap();
            p.write_all(content).unwrap();
            p
        };
        let results = persist_all(
            r,
            vec![
                (make(b"a"), rel(&["Album", "x.jpg"])),
                (make(b"b"), rel(&["Album", "x.jpg"])),
                (make(b"c"), rel(&["Album", "sub", "y.jpg"])),
                (make(b"d"), rel(&["..", "escape.jpg"])),
                (make(b"e"), rel(&["top.txt"])),
            ],
        );
        let paths: Vec<_> = results.iter().map(|r| r.as_ref().ok().cloned()).collect();
        assert_eq!(
            paths,
            [
                Some(r.join("Album/x.jpg")),
                Some(r.join("Album/x (1).jpg")),
                Some(r.join("Album/sub/y.jpg")),
                None,
                Some(r.join("top.txt"))
            ]
        );
        assert_eq!(std::fs::read(r.join("Album/x (1).jpg")).unwrap(), b"b");
        // The refused file's temporary file is gone too.
        assert_eq!(listing(r), ["Album", "top.txt"]);
    }

    #[test]
    fn nested_folders_are_created_and_merged_into() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let first = receive(r, &["Trip", "day 1", "a.jpg"], b"first").unwrap();
        assert_eq!(first, r.join("Trip/day 1/a.jpg"));
        let second = receive(r, &["Trip", "day 1", "a.jpg"], b"second").unwrap();
        assert_eq!(second, r.join("Trip/day 1/a (1).jpg"));
        let third = receive(r, &["Trip", "b.jpg"], b"third").unwrap();
        assert_eq!(third, r.join("Trip/b.jpg"));
        assert_eq!(std::fs::read(&first).unwrap(), b"first");
        assert_eq!(listing(r), ["Trip"]);
    }

    #[test]
    fn international_names_are_stored_byte_identical() {
        let root = tempfile::tempdir().unwrap();
        for name in ["照片 2024.jpg", "صورة.png", "😀🎉.heic", "👨‍👩‍👧"] {
            let got = receive(root.path(), &["旅行", name], b"x").unwrap();
            assert_eq!(got.file_name().unwrap().as_encoded_bytes(), name.as_bytes());
            assert_eq!(got.parent().unwrap(), root.path().join("旅行"));
        }
    }

    #[test]
    fn unsafe_names_are_refused_by_persist_too() {
        let root = tempfile::tempdir().unwrap();
        for parts in [&["..", "x"][..], &["a/b"], &[], &["C:x"]] {
            let err = receive(root.path(), parts, b"x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{parts:?}");
        }
        assert!(listing(root.path()).is_empty());
    }

    #[test]
    fn dropping_an_unpersisted_file_removes_it() {
        let root = tempfile::tempdir().unwrap();
        let mut part = PartFile::create_named(root.path()).unwrap();
        part.write_all(&[7; 1000]).unwrap();
        let name = part.temp_path().unwrap().file_name().unwrap().to_str().unwrap().to_owned();
        assert!(is_part_name(&name), "{name}");
        assert_eq!(listing(root.path()), [name]);
        drop(part);
        assert!(listing(root.path()).is_empty());
    }

    /// On Linux file systems that can (the test's temporary folder is one), a file being
    /// received has no name at all until it is complete, and vanishes if it is dropped.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_being_received_has_no_name_until_persisted() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let mut kept = PartFile::create(r).unwrap();
        let mut dropped = PartFile::create(r).unwrap();
        assert!(kept.temp_path().is_none() && dropped.temp_path().is_none(), "nameless files");
        kept.write_all(b"kept").unwrap();
        dropped.write_all(b"dropped").unwrap();
        assert!(listing(r).is_empty(), "nothing visible while receiving");
        drop(dropped);
        std::fs::write(r.join("taken.jpg"), b"keep").unwrap();
        let got = kept.persist(r, &rel(&["taken.jpg"])).unwrap();
        assert_eq!(got, r.join("taken (1).jpg"));
        assert_eq!(std::fs::read(&got).unwrap(), b"kept");
        assert_eq!(std::fs::read(r.join("taken.jpg")).unwrap(), b"keep");
        assert_eq!(listing(r), ["taken (1).jpg", "taken.jpg"]);
    }

    /// People without the privilege to name a file by its handle (most) go through /proc;
    /// that way never replaces a name either.
    #[cfg(target_os = "linux")]
    #[test]
    fn naming_through_proc_never_overwrites() {
        use std::io::Write as _;
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::write(r.join("taken"), b"keep").unwrap();
        let dir = platform::Dir::open_root(r).unwrap();
        let mut file = platform::create_unnamed(r).expect("the test folder supports O_TMPFILE");
        file.write_all(b"new").unwrap();
        let err = dir.name_unnamed_by_proc(&file, "taken").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        dir.name_unnamed_by_proc(&file, "fresh").unwrap();
        assert_eq!(std::fs::read(r.join("taken")).unwrap(), b"keep");
        assert_eq!(std::fs::read(r.join("fresh")).unwrap(), b"new");
        assert_eq!(listing(r), ["fresh", "taken"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_at_the_final_name_is_never_followed() {
        use std::os::unix::fs::symlink;
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("secret");
        std::fs::write(&victim, b"keep me").unwrap();
        symlink(&victim, root.path().join("photo.jpg")).unwrap();
        // A dangling link: following it would create a file outside.
        let would_be = outside.path().join("created");
        symlink(&would_be, root.path().join("x.jpg")).unwrap();

        let got = receive(root.path(), &["photo.jpg"], b"evil").unwrap();
        assert_eq!(got, root.path().join("photo (1).jpg"));
        let got = receive(root.path(), &["x.jpg"], b"evil").unwrap();
        assert_eq!(got, root.path().join("x (1).jpg"));

        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        assert!(!would_be.exists());
        assert!(std::fs::symlink_metadata(root.path().join("photo.jpg")).unwrap().file_type().is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_or_blocked_folder_is_refused_and_nothing_lands_outside() {
        use std::os::unix::fs::symlink;
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), root.path().join("Trip")).unwrap();
        std::fs::create_dir(root.path().join("Real")).unwrap();
        symlink(outside.path(), root.path().join("Real/deeper")).unwrap();
        std::fs::write(root.path().join("AFile"), b"").unwrap();

        for parts in [&["Trip", "a.jpg"][..], &["Real", "deeper", "a.jpg"], &["AFile", "a.jpg"]] {
            let err = receive(root.path(), parts, b"evil").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{parts:?}: {err}");
        }
        assert!(listing(outside.path()).is_empty());
        // The temporary files were removed when persist failed.
        assert_eq!(listing(root.path()), ["AFile", "Real", "Trip"]);
        assert_eq!(listing(&root.path().join("Real")), ["deeper"]);
    }

    #[cfg(unix)]
    #[test]
    fn opening_a_new_file_never_follows_a_symlink() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("existing");
        std::fs::write(&existing, b"keep").unwrap();
        let missing = dir.path().join("missing");
        symlink(&existing, dir.path().join("to-existing")).unwrap();
        symlink(&missing, dir.path().join("to-missing")).unwrap();

        for link in ["to-existing", "to-missing"] {
            assert!(open_new_nofollow(&dir.path().join(link)).is_err(), "{link}");
        }
        assert_eq!(std::fs::read(&existing).unwrap(), b"keep");
        assert!(!missing.exists());
        assert!(open_new_nofollow(&dir.path().join("fresh")).is_ok());
    }

    /// The fallbacks for file systems without RENAME_NOREPLACE or hard links, called directly.
    #[cfg(unix)]
    #[test]
    fn fallback_placements_never_overwrite() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::write(r.join("taken"), b"keep").unwrap();
        let dir = platform::Dir::open_root(r).unwrap();

        type Place = fn(&platform::Dir, &Path, &str) -> io::Result<()>;
        let ways: [(&str, Place); 2] =
            [("link", platform::Dir::place_by_link), ("check", platform::Dir::place_by_check_then_rename)];
        for (way, place) in ways {
            let mut part = PartFile::create_named(r).unwrap();
            part.write_all(way.as_bytes()).unwrap();
            let temp = part.temp_path().unwrap().to_owned();
            let err = place(&dir, &temp, "taken").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{way}");
            place(&dir, &temp, way).unwrap();
            assert!(!temp.exists(), "{way}: the temporary name is gone");
            part.persisted = true; // placed by hand above
        }
        assert_eq!(std::fs::read(r.join("taken")).unwrap(), b"keep");
        assert_eq!(std::fs::read(r.join("link")).unwrap(), b"link");
        assert_eq!(std::fs::read(r.join("check")).unwrap(), b"check");
        assert_eq!(listing(r), ["check", "link", "taken"]);
    }

    #[test]
    fn threads_racing_for_one_name_all_get_their_own() {
        const THREADS: usize = 8;
        let root = tempfile::tempdir().unwrap();
        let barrier = std::sync::Barrier::new(THREADS);
        let paths: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|i| {
                    let (root, barrier) = (root.path(), &barrier);
                    std::thread::Builder::new()
                        .name(format!("persist-{i}"))
                        .spawn_scoped(s, move || {
                            let mut part = PartFile::create(root).unwrap();
                            part.write_all(format!("thread {i}").as_bytes()).unwrap();
                            barrier.wait();
                            part.persist(root, &rel(&["photo.jpg"])).unwrap()
                        })
                        .unwrap()
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let distinct: BTreeSet<&PathBuf> = paths.iter().collect();
        assert_eq!(distinct.len(), THREADS);
        let contents: BTreeSet<String> = paths.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
        let expected: BTreeSet<String> = (0..THREADS).map(|i| format!("thread {i}")).collect();
        assert_eq!(contents, expected);
        assert_eq!(listing(root.path()).len(), THREADS);
        assert!(listing(root.path()).iter().all(|n| n.starts_with("photo") && n.ends_with(".jpg")));
    }

    #[test]
    fn sweep_removes_only_old_temporary_files() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
        let hex = "0123456789abcdef0123456789abcdef";
        let make = |name: &str, old: bool| {
            let f = File::create(r.join(name)).unwrap();
            if old {
                f.set_modified(two_hours_ago).unwrap();
            }
        };
        make(&format!(".ferry-{hex}.part"), true);
        make(&format!(".ferry-{}.part", hex.replace('0', "f")), true);
        make(&format!(".ferry-{}.part", hex.replace('1', "e")), false); // a transfer in progress
        make("notes.part", true);
        make(".ferry-short.part", true);
        make(&format!(".ferry-{hex}.part.jpg"), true);
        // A folder with a temporary name is not ours to delete.
        let dir_name = format!(".ferry-{}.part", hex.replace('2', "d"));
        std::fs::create_dir(r.join(&dir_name)).unwrap();
        File::open(r.join(&dir_name)).unwrap().set_modified(two_hours_ago).unwrap();

        assert_eq!(sweep_stale_parts(r), 2);
        let left = listing(r);
        assert_eq!(left.len(), 5, "{left:?}");
        assert!(!left.contains(&format!(".ferry-{hex}.part")));
        assert!(left.contains(&format!(".ferry-{}.part", hex.replace('1', "e"))));
        assert!(left.contains(&dir_name));
        assert_eq!(sweep_stale_parts(r), 0);
        assert_eq!(sweep_stale_parts(&r.join("does not exist")), 0);
    }
}
