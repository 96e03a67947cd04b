//! The Windows store's decisions that are plain logic — which error codes mean "the name is
//! taken" or "try again in a moment", which folders are links, when a path needs the `\\?\`
//! prefix — kept apart from the system calls in `windows.rs` so they are compiled and tested on
//! every platform, not only on Windows.

use std::time::Duration;

// Win32 values (winerror.h, winnt.h); `windows.rs` checks them against windows-sys at compile time.
pub const ERROR_ACCESS_DENIED: u32 = 5;
pub const ERROR_SHARING_VIOLATION: u32 = 32;
pub const ERROR_FILE_EXISTS: u32 = 80;
pub const ERROR_ALREADY_EXISTS: u32 = 183;
pub const FILE_ATTRIBUTE_DIRECTORY: u32 = 0x10;
pub const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
/// Set in the reparse tag of every reparse point that stands for another name: symbolic links
/// (`IO_REPARSE_TAG_SYMLINK`), junctions and mount points (`IO_REPARSE_TAG_MOUNT_POINT`), and
/// the like (winnt.h `IsReparseTagNameSurrogate`).
const NAME_SURROGATE_BIT: u32 = 0x2000_0000;

/// How many times a move that another program got in the way of is tried again, and the pause
/// before the first retry (doubled each time: 10 + 20 + 40 + 80 + 160 ms, about a third of a
/// second in all).
const MOVE_RETRIES: u32 = 5;
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(10);

/// What a folder entry turned out to be, opened without following links
/// (`FILE_FLAG_OPEN_REPARSE_POINT`) and read with `GetFileInformationByHandleEx`
/// (`FileAttributeTagInfo`).
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// A folder we may put files in. Reparse points that are not links stay folders: OneDrive's
    /// cloud folders, deduplicated or compressed ones.
    Folder,
    /// A symbolic link or junction (to a folder or not): never entered.
    Link,
    /// A file or anything else.
    NotAFolder,
}

pub fn entry_kind(attributes: u32, reparse_tag: u32) -> Entry {
    let reparse = attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0;
    if reparse && reparse_tag & NAME_SURROGATE_BIT != 0 {
        Entry::Link
    } else if attributes & FILE_ATTRIBUTE_DIRECTORY != 0 {
        Entry::Folder
    } else {
        Entry::NotAFolder
    }
}

/// What to do after `MoveFileExW` (without `MOVEFILE_REPLACE_EXISTING`) failed with `code`, the
/// `tries`-th retry having been made already.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterMove {
    /// Something already has the name (a file, folder or link, also under another case or as the
    /// 8.3 short name of a longer one): try the next numbered name.
    Taken,
    /// Another program has the file open without letting others move it — on Windows, virus
    /// scanners and the search indexer open new files for a moment — or it is being deleted:
    /// wait and try again.
    RetryAfter(Duration),
    /// A real error: report it.
    Fail,
}

pub fn after_failed_move(code: Option<i32>, tries: u32) -> AfterMove {
    match code.map(|c| c as u32) {
        Some(ERROR_ALREADY_EXISTS | ERROR_FILE_EXISTS) => AfterMove::Taken,
        Some(ERROR_SHARING_VIOLATION | ERROR_ACCESS_DENIED) if tries < MOVE_RETRIES => {
            AfterMove::RetryAfter(FIRST_RETRY_PAUSE * 2u32.pow(tries))
        }
        _ => AfterMove::Fail,
    }
}

/// Paths at least this long (UTF-16 units) are given to the system in the `\\?\` form, which
/// has no `MAX_PATH` (260) limit: the limit std uses too (248, for folders, whose limit is
/// `MAX_PATH` minus room for an 8.3 name).
const LONG_PATH: usize = 248;

/// An absolute, normalised path as the system should get it: as it is when short (the form
/// people see in error messages), [`verbatim`] when long.
pub fn for_system(path: &[u16]) -> Vec<u16> {
    if path.len() >= LONG_PATH { verbatim(path) } else { path.to_vec() }
}

/// The `\\?\` form of an absolute, normalised path (from `std::path::absolute`, which on
/// Windows is `GetFullPathNameW`: `\` separators, no `.` or `..`): `C:\x` → `\\?\C:\x`,
/// `\\server\share\x` → `\\?\UNC\server\share\x`. Paths already in a device form (`\\?\`,
/// `\\.\`) and anything else are returned unchanged.
pub fn verbatim(path: &[u16]) -> Vec<u16> {
    let w = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
    let bs = u16::from(b'\\');
    let is_drive = path.len() >= 3
        && u8::try_from(path[0]).is_ok_and(|c| c.is_ascii_alphabetic())
        && path[1] == u16::from(b':')
        && path[2] == bs;
    let device = path.starts_with(&w(r"\\?\")) || path.starts_with(&w(r"\\.\"));
    if device {
        path.to_vec()
    } else if is_drive {
        [w(r"\\?\"), path.to_vec()].concat()
    } else if path.starts_with(&[bs, bs]) {
        [w(r"\\?\UNC\"), path[2..].to_vec()].concat()
    } else {
        path.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_junctions_are_links_other_reparse_folders_are_folders() {
        const SYMLINK: u32 = 0xA000_000C; // IO_REPARSE_TAG_SYMLINK
        const MOUNT_POINT: u32 = 0xA000_0003; // IO_REPARSE_TAG_MOUNT_POINT (junctions)
        const CLOUD: u32 = 0x9000_001A; // IO_REPARSE_TAG_CLOUD (OneDrive)
        const DEDUP: u32 = 0x8000_0013; // IO_REPARSE_TAG_DEDUP
        let dir = FILE_ATTRIBUTE_DIRECTORY;
        let rp = FILE_ATTRIBUTE_REPARSE_POINT;
        assert_eq!(entry_kind(dir, 0), Entry::Folder);
        assert_eq!(entry_kind(dir | rp, MOUNT_POINT), Entry::Link);
        assert_eq!(entry_kind(dir | rp, SYMLINK), Entry::Link);
        assert_eq!(entry_kind(rp, SYMLINK), Entry::Link, "a file symlink");
        assert_eq!(entry_kind(dir | rp, CLOUD), Entry::Folder);
        assert_eq!(entry_kind(dir | rp, DEDUP), Entry::Folder);
        assert_eq!(entry_kind(0x20, 0), Entry::NotAFolder, "an archive-flagged file");
        assert_eq!(entry_kind(rp, DEDUP), Entry::NotAFolder);
        // The tag counts only on a reparse point (the field is undefined otherwise).
        assert_eq!(entry_kind(dir, SYMLINK), Entry::Folder);
    }

    #[test]
    fn a_taken_name_is_either_exists_code_and_busy_files_are_retried_a_few_times() {
        let code = |c: u32| Some(c as i32);
        assert_eq!(after_failed_move(code(ERROR_ALREADY_EXISTS), 0), AfterMove::Taken);
        assert_eq!(after_failed_move(code(ERROR_FILE_EXISTS), 0), AfterMove::Taken);
        assert_eq!(after_failed_move(code(ERROR_ALREADY_EXISTS), 99), AfterMove::Taken);
        let mut total = Duration::ZERO;
        for tries in 0.. {
            match after_failed_move(code(ERROR_SHARING_VIOLATION), tries) {
                AfterMove::RetryAfter(pause) => total += pause,
                AfterMove::Fail => break,
                AfterMove::Taken => panic!("a busy file is not a taken name"),
            }
        }
        assert_eq!(total, Duration::from_millis(310));
        assert_eq!(after_failed_move(code(ERROR_ACCESS_DENIED), 0), AfterMove::RetryAfter(FIRST_RETRY_PAUSE));
        assert_eq!(after_failed_move(code(ERROR_ACCESS_DENIED), MOVE_RETRIES), AfterMove::Fail);
        assert_eq!(after_failed_move(code(17), 0), AfterMove::Fail, "ERROR_NOT_SAME_DEVICE");
        assert_eq!(after_failed_move(code(3), 0), AfterMove::Fail, "ERROR_PATH_NOT_FOUND");
        assert_eq!(after_failed_move(None, 0), AfterMove::Fail);
    }

    #[test]
    fn long_paths_get_the_verbatim_prefix_in_the_right_form() {
        let v = |s: &str| String::from_utf16(&verbatim(&s.encode_utf16().collect::<Vec<_>>())).unwrap();
        assert_eq!(v(r"C:\Users\wang\Downloads\x.jpg"), r"\\?\C:\Users\wang\Downloads\x.jpg");
        assert_eq!(v(r"d:\x"), r"\\?\d:\x");
        assert_eq!(v(r"\\nas\photos\2026\x.jpg"), r"\\?\UNC\nas\photos\2026\x.jpg");
        assert_eq!(v(r"\\?\C:\already"), r"\\?\C:\already");
        assert_eq!(v(r"\\?\UNC\nas\photos"), r"\\?\UNC\nas\photos");
        assert_eq!(v(r"\\.\pipe\x"), r"\\.\pipe\x");
        // Not absolute in the DOS sense: left alone (callers make paths absolute first).
        assert_eq!(v(r"C:relative"), r"C:relative");
        assert_eq!(v(r"\rooted"), r"\rooted");
        assert_eq!(v(r"relative\x"), r"relative\x");
        // A non-ASCII "drive letter" is not one.
        assert_eq!(v("é:\\x"), "é:\\x");
    }

    #[test]
    fn only_long_paths_are_given_in_the_verbatim_form() {
        let w = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        let short = format!(r"C:\Users\wang\{}", "a".repeat(LONG_PATH - 15));
        assert_eq!(short.len(), LONG_PATH - 1);
        assert_eq!(for_system(&w(&short)), w(&short));
        let long = format!("{short}b");
        assert_eq!(for_system(&w(&long)), w(&format!(r"\\?\{long}")));
    }
}
