//! Windows: no `openat`, so folders are pinned instead. Each folder below the receive folder is
//! opened as a handle that does not follow links or junctions (`FILE_FLAG_OPEN_REPARSE_POINT`),
//! checked to be a real folder, and **held open without `FILE_SHARE_DELETE`** (with the
//! folders above it) while files are placed in it: Windows refuses to rename or delete a folder
//! someone holds that way, so it cannot be swapped for a junction between the check and the
//! use, and the path-based calls below land where the check looked.
//!
//! A file gets its final name with `MoveFileExW` **without** `MOVEFILE_REPLACE_EXISTING`, one
//! atomic step that fails with `ERROR_ALREADY_EXISTS` when anything has the name — a file, a
//! folder, a link (never followed), the same name in other case, or the 8.3 short name of a
//! longer one. It works on every file system Windows writes (FAT and exFAT too), so there is no
//! "check, then rename" fallback here. (std's `fs::rename` replaces the target: never used.)
//!
//! The temporary `.ferry-….part` file is created hidden (a leading dot hides nothing on
//! Windows) and closed before it is moved (Windows cannot move a file it has open without
//! sharing); [`Dir::place`] clears the hidden flag just before the move.

use super::windows_rules::{self as rules, AfterMove, Entry};
use super::{in_the_way, taken};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use windows_sys::Win32::Foundation::{self as foundation, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    self as fs, CreateFileW, FILE_ATTRIBUTE_TAG_INFO, FILE_FLAG_BACKUP_SEMANTICS,
    FILE_FLAG_OPEN_REPARSE_POINT, FILE_LIST_DIRECTORY, FILE_READ_ATTRIBUTES, FILE_SHARE_READ,
    FILE_SHARE_WRITE, FileAttributeTagInfo, GetFileAttributesW, GetFileInformationByHandleEx,
    INVALID_FILE_ATTRIBUTES, MoveFileExW, OPEN_EXISTING, SetFileAttributesW,
};

/// Set on `.ferry-….part` files when they are created ([`Dir::create_new`]).
pub const FILE_ATTRIBUTE_HIDDEN: u32 = fs::FILE_ATTRIBUTE_HIDDEN;

// The plain-logic module spells these out so it compiles everywhere; they must be the real ones.
const _: () = {
    assert!(rules::ERROR_ACCESS_DENIED == foundation::ERROR_ACCESS_DENIED);
    assert!(rules::ERROR_SHARING_VIOLATION == foundation::ERROR_SHARING_VIOLATION);
    assert!(rules::ERROR_FILE_EXISTS == foundation::ERROR_FILE_EXISTS);
    assert!(rules::ERROR_ALREADY_EXISTS == foundation::ERROR_ALREADY_EXISTS);
    assert!(rules::FILE_ATTRIBUTE_DIRECTORY == fs::FILE_ATTRIBUTE_DIRECTORY);
    assert!(rules::FILE_ATTRIBUTE_REPARSE_POINT == fs::FILE_ATTRIBUTE_REPARSE_POINT);
};

pub struct Dir {
    path: PathBuf,
    /// This folder and every folder above it up to the receive folder, open without
    /// `FILE_SHARE_DELETE` for as long as this `Dir` lives (see the module docs). Shared: a
    /// batch that fills ten subfolders of one folder holds that folder once.
    held: Vec<Arc<OwnedHandle>>,
}

impl Dir {
    /// The receive folder itself may be a link or junction (`Downloads` moved to another disk):
    /// the person chose it, so it is followed. Only what is below it is distrusted.
    pub fn open_root(root: &Path) -> io::Result<Dir> {
        let handle = open_folder(root, Follow::Links)?;
        if entry_kind(&handle)? != Entry::Folder {
            return Err(in_the_way(root));
        }
        Ok(Dir { path: root.to_owned(), held: vec![Arc::new(handle)] })
    }

    /// Enters (creating if needed) the folder `name`, refusing a link, a junction or a file.
    pub fn enter(&self, name: &str) -> io::Result<Dir> {
        let path = self.path.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let handle = open_folder(&path, Follow::Never)?;
        if entry_kind(&handle)? != Entry::Folder {
            return Err(in_the_way(&path));
        }
        let mut held = self.held.clone();
        held.push(Arc::new(handle));
        Ok(Dir { path, held })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The names in this folder, for [`super::Taken`].
    pub fn names(&self) -> io::Result<Vec<std::ffi::OsString>> {
        std::fs::read_dir(&self.path)?.map(|e| e.map(|e| e.file_name())).collect()
    }

    /// A new file `name` in this folder, for writing; fails if anything — a file, a folder, a
    /// link (never followed) — already has that name (`CREATE_NEW`). Created hidden: a leading
    /// dot hides nothing on Windows, and [`Dir::place`] clears the flag.
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        use std::os::windows::fs::OpenOptionsExt;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .attributes(FILE_ATTRIBUTE_HIDDEN)
            .open(self.path.join(name))
    }

    /// Removes the file `name` from this folder.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        std::fs::remove_file(self.path.join(name))
    }

    /// Windows has no flush of one file system's pending writes for ordinary users: callers
    /// flush file by file.
    pub fn sync_file_system(&self) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Moves the closed file `tmp` in `from` to `name` in this folder; `ErrorKind::AlreadyExists`
    /// if the name is taken (then `tmp` is left as it was, for the next numbered name).
    pub fn place(&self, from: &Dir, tmp: &str, name: &str) -> io::Result<()> {
        let from = wide(&from.path.join(tmp))?;
        let to = wide(&self.path.join(name))?;
        unhide(&from);
        let mut tries = 0;
        loop {
            // Flags 0: no MOVEFILE_REPLACE_EXISTING (never overwrite), no MOVEFILE_COPY_ALLOWED
            // (a rename within the volume, or nothing).
            // SAFETY: both are NUL-terminated UTF-16 strings that outlive the call.
            if unsafe { MoveFileExW(from.as_ptr(), to.as_ptr(), 0) } != 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            match rules::after_failed_move(err.raw_os_error(), tries) {
                AfterMove::Taken => return Err(taken()),
                AfterMove::RetryAfter(pause) => std::thread::sleep(pause),
                AfterMove::Fail => return Err(err),
            }
            tries += 1;
        }
    }

    /// Nothing to do: NTFS journals the rename itself, and Windows offers no flush of a folder's
    /// entries short of flushing the whole volume (which needs administrator rights). The data
    /// was flushed (`FlushFileBuffers`) before the move.
    pub fn sync(&self) {}
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Follow {
    Links,
    Never,
}

/// Opens a folder (or whatever has that name) for listing, sharing reading and writing but not
/// deleting (which is what renaming needs), so it stays where it is while the handle lives.
fn open_folder(path: &Path, follow: Follow) -> io::Result<OwnedHandle> {
    let path = wide(path)?;
    // BACKUP_SEMANTICS: needed to open a folder at all. FILE_LIST_DIRECTORY: an access that
    // takes part in sharing checks (an attributes-only handle would not keep anyone out).
    let mut flags = FILE_FLAG_BACKUP_SEMANTICS;
    if follow == Follow::Never {
        flags |= FILE_FLAG_OPEN_REPARSE_POINT;
    }
    // SAFETY: `path` is a NUL-terminated UTF-16 string; no security attributes or template.
    let handle = unsafe {
        CreateFileW(
            path.as_ptr(),
            FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES,
            FILE_SHARE_READ | FILE_SHARE_WRITE,
            std::ptr::null(),
            OPEN_EXISTING,
            flags,
            std::ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a valid handle that nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
}

/// What the opened entry is: a folder, a link or junction, or something else.
fn entry_kind(handle: &OwnedHandle) -> io::Result<Entry> {
    let mut info = FILE_ATTRIBUTE_TAG_INFO { FileAttributes: 0, ReparseTag: 0 };
    // SAFETY: `info` is a FILE_ATTRIBUTE_TAG_INFO of the size given, for the class that fills one.
    let ok = unsafe {
        GetFileInformationByHandleEx(
            handle.as_raw_handle(),
            FileAttributeTagInfo,
            (&mut info as *mut FILE_ATTRIBUTE_TAG_INFO).cast(),
            size_of::<FILE_ATTRIBUTE_TAG_INFO>() as u32,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rules::entry_kind(info.FileAttributes, info.ReparseTag))
}

/// Clears the hidden flag the temporary file was created with, so the received file is not
/// hidden. Best effort: if it fails, the move that follows reports the real problem.
fn unhide(path: &[u16]) {
    // SAFETY: a NUL-terminated UTF-16 string.
    let attributes = unsafe { GetFileAttributesW(path.as_ptr()) };
    if attributes != INVALID_FILE_ATTRIBUTES && attributes & FILE_ATTRIBUTE_HIDDEN != 0 {
        // SAFETY: as above.
        unsafe { SetFileAttributesW(path.as_ptr(), attributes & !FILE_ATTRIBUTE_HIDDEN) };
    }
}

/// `path` as a NUL-terminated UTF-16 string for the system, absolute, in the `\\?\` form when it
/// is long (as std does for its own calls), so deep folders are not cut off at 260 characters.
fn wide(path: &Path) -> io::Result<Vec<u16>> {
    let absolute = std::path::absolute(path)?;
    let w: Vec<u16> = absolute.as_os_str().encode_wide().collect();
    if w.contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL character"));
    }
    let mut w = rules::for_system(&w);
    w.push(0);
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_reports_both_exists_codes_as_already_exists() {
        // The numbering loop in mod.rs looks for this kind; create_dir and std's own calls rely
        // on std's mapping, `place` on `rules::after_failed_move`.
        for code in [rules::ERROR_ALREADY_EXISTS, rules::ERROR_FILE_EXISTS] {
            assert_eq!(io::Error::from_raw_os_error(code as i32).kind(), io::ErrorKind::AlreadyExists);
        }
    }

    #[test]
    fn a_held_folder_cannot_be_renamed_away() {
        let root = tempfile::tempdir().unwrap();
        let dir = Dir::open_root(root.path()).unwrap().enter("Trip").unwrap();
        let err = std::fs::rename(root.path().join("Trip"), root.path().join("Moved")).unwrap_err();
        assert!(matches!(err.raw_os_error(), Some(5 | 32)), "{err}");
        drop(dir);
        std::fs::rename(root.path().join("Trip"), root.path().join("Moved")).unwrap();
    }

    #[test]
    fn a_received_file_is_not_hidden() {
        let root = tempfile::tempdir().unwrap();
        let folder = super::super::ReceiveFolder::open(root.path()).unwrap();
        let mut part = super::super::PartFile::create(&folder).unwrap();
        part.write_all(b"x").unwrap();
        let temp = part.temp_path().unwrap().to_owned();
        let hidden = |p: &Path| {
            use std::os::windows::fs::MetadataExt;
            std::fs::metadata(p).unwrap().file_attributes() & FILE_ATTRIBUTE_HIDDEN != 0
        };
        assert!(hidden(&temp), "the temporary file is hidden");
        let got = part.persist(&folder, &["x.txt".to_owned()]).unwrap();
        assert!(!hidden(&got), "the received file is not");
    }

    #[test]
    fn a_name_taken_in_other_case_gets_a_number() {
        // NTFS (and FAT, and Wine) compare names without case: the move itself says "taken".
        let root = tempfile::tempdir().unwrap();
        let folder = super::super::ReceiveFolder::open(root.path()).unwrap();
        std::fs::write(root.path().join("img.jpg"), b"keep").unwrap();
        let mut part = super::super::PartFile::create(&folder).unwrap();
        part.write_all(b"new").unwrap();
        let got = part.persist(&folder, &["IMG.JPG".to_owned()]).unwrap();
        assert_eq!(got, root.path().join("IMG (1).JPG"));
        assert_eq!(std::fs::read(root.path().join("img.jpg")).unwrap(), b"keep");
    }

    #[test]
    fn folders_deeper_than_max_path_work() {
        let root = tempfile::tempdir().unwrap();
        let folder = super::super::ReceiveFolder::open(root.path()).unwrap();
        let folders: Vec<String> = (0..8).map(|i| format!("{i}{}", "f".repeat(40))).collect();
        let mut rel = folders.clone();
        rel.push("photo.jpg".to_owned());
        let mut part = super::super::PartFile::create(&folder).unwrap();
        part.write_all(b"deep").unwrap();
        let got = part.persist(&folder, &rel).unwrap();
        assert!(got.as_os_str().len() > 300, "{}", got.display());
        assert_eq!(std::fs::read(&got).unwrap(), b"deep");
    }

    /// A link to a folder: a symbolic link where allowed (Developer Mode), else a junction
    /// (`mklink /J`, allowed for everyone). False when neither can be made here, or when what was
    /// made does not show as a link (Wine 8 says both worked, then cannot find them).
    fn link_folder(link: &Path, target: &Path) -> bool {
        let is_link = || std::fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink());
        (std::os::windows::fs::symlink_dir(target, link).is_ok() && is_link())
            || (std::process::Command::new("cmd")
                .args(["/C", "mklink", "/J"])
                .arg(link)
                .arg(target)
                .output()
                .is_ok_and(|o| o.status.success())
                && is_link())
    }

    #[test]
    fn a_linked_folder_is_never_entered() {
        let root = tempfile::tempdir().unwrap();
        let folder = super::super::ReceiveFolder::open(root.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        if !link_folder(&root.path().join("Trip"), outside.path()) {
            eprintln!("skipped: could not make a folder link here");
            return;
        }
        let err = Dir::open_root(root.path()).unwrap().enter("Trip").err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        let mut part = super::super::PartFile::create(&folder).unwrap();
        part.write_all(b"evil").unwrap();
        assert!(part.persist(&folder, &["Trip".to_owned(), "a.jpg".to_owned()]).is_err());
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    }
}
