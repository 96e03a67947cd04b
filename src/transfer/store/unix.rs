//! Folder handles: every step is relative to an open handle — temporary files are created in
//! the receive folder's handle, folders below it are entered from their parent's handle, files
//! are renamed and linked between handles — so a folder swapped for a symlink between a check
//! and a use is never followed.

use super::{in_the_way, taken};
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
#[cfg(target_os = "linux")]
use {
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
        let fd = rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
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

    /// The names in this folder (read through the handle), for [`super::Taken`].
    pub fn names(&self) -> io::Result<Vec<std::ffi::OsString>> {
        use std::os::unix::ffi::OsStrExt;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd)? {
            let name = entry?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                names.push(std::ffi::OsStr::from_bytes(&name).to_owned());
            }
        }
        Ok(names)
    }

    /// A new file `name` in this folder, for writing; fails if anything — file, folder, or
    /// symlink, even a dangling one — already has that name (`O_EXCL`, and `O_NOFOLLOW` to say
    /// so explicitly).
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o666)).map(File::from)?)
    }

    /// Removes the file `name` from this folder (never a folder, never what a link points to).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?)
    }

    /// Moves `tmp` in `from` to `name` in this folder; `ErrorKind::AlreadyExists` if the name is
    /// taken.
    pub fn place(&self, from: &Dir, tmp: &str, name: &str) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
        {
            use rustix::fs::RenameFlags;
            match rustix::fs::renameat_with(&from.fd, tmp, &self.fd, name, RenameFlags::NOREPLACE) {
                Ok(()) => return Ok(()),
                Err(e) if !unsupported(e) => return Err(e.into()),
                Err(_) => {}
            }
        }
        self.place_by_link(from, tmp, name)
    }

    /// Fallback 1: a hard link fails if the name exists, just like RENAME_NOREPLACE.
    pub(super) fn place_by_link(&self, from: &Dir, tmp: &str, name: &str) -> io::Result<()> {
        match rustix::fs::linkat(&from.fd, tmp, &self.fd, name, AtFlags::empty()) {
            Ok(()) => {
                // If this fails the data is safe under its final name; the leftover
                // temporary name is removed by `sweep_stale_parts` later.
                let _ = from.remove(tmp);
                Ok(())
            }
            // EPERM is what Linux's FAT/exFAT drivers answer to link().
            Err(e) if unsupported(e) || e == Errno::PERM => self.place_by_check_then_rename(from, tmp, name),
            Err(e) => Err(e.into()),
        }
    }

    /// Fallback 2 (FAT/exFAT): not atomic, see the module docs.
    pub(super) fn place_by_check_then_rename(&self, from: &Dir, tmp: &str, name: &str) -> io::Result<()> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Err(taken()),
            Err(Errno::NOENT) => Ok(rustix::fs::renameat(&from.fd, tmp, &self.fd, name)?),
            Err(e) => Err(e.into()),
        }
    }

    /// Flushes everything written to the file system that holds this folder (Linux `syncfs`).
    /// Elsewhere it says `Unsupported`, and callers flush file by file.
    pub fn sync_file_system(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            Ok(rustix::fs::syncfs(&self.fd)?)
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    /// Gives the nameless `file` ([`Dir::create_unnamed`]) the name `name` in this folder;
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
        Ok(rustix::fs::linkat(rustix::fs::CWD, by_proc.as_str(), &self.fd, name, AtFlags::SYMLINK_FOLLOW)?)
    }

    pub fn sync(&self) {
        let _ = rustix::fs::fsync(&self.fd);
    }

    /// A new file in this folder with no name (`O_TMPFILE` on the folder's handle), or `None`
    /// where that cannot be made (the file system does not support it) or could not be named
    /// later (no /proc).
    #[cfg(target_os = "linux")]
    pub fn create_unnamed(&self) -> Option<File> {
        static PROC_MOUNTED: OnceLock<bool> = OnceLock::new();
        if !*PROC_MOUNTED.get_or_init(|| Path::new(PROC_FDS).is_dir()) {
            return None;
        }
        let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
        rustix::fs::openat(&self.fd, ".", flags, Mode::from_raw_mode(0o666)).ok().map(File::from)
    }
}

#[cfg(target_os = "linux")]
const PROC_FDS: &str = "/proc/self/fd";

/// The file system or kernel does not offer this operation (as opposed to "it failed").
fn unsupported(e: Errno) -> bool {
    e == Errno::INVAL || e == Errno::NOSYS || e == Errno::OPNOTSUPP || e == Errno::NOTSUP
}
