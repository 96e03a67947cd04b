//! The list of recent transfers, kept across starts in `history.json` next to the settings.
//!
//! Loading happens once before the window opens; saving is handed to the I/O worker as a finished
//! string (see [`History::to_json`]) so the UI thread never writes to disk.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// At most this many entries are kept; the oldest go first.
pub const MAX_ENTRIES: usize = 50;
pub const FILE_NAME: &str = "history.json";

/// How a transfer ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// `saved` of `total` files arrived.
    Finished { saved: u32, total: u32 },
    /// The receiver said no (on the receiving side: the person here did).
    Declined,
    Cancelled {
        /// The other side cancelled (older files lack this: false).
        #[serde(default)]
        by_peer: bool,
    },
    /// The plain-language reason.
    Failed { reason: String },
}

/// One finished transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Seconds since the Unix epoch when it ended.
    pub ended_at: u64,
    /// True when we were the receiver.
    pub received: bool,
    pub peer: String,
    pub files: u32,
    pub bytes: u64,
    pub outcome: Outcome,
    /// A file that was saved (received), so "Show file" has something to point at.
    #[serde(default)]
    pub saved_file: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Newest first.
    entries: VecDeque<Entry>,
}

impl History {
    /// Reads `dir/history.json`; a missing or unreadable file is an empty history (it is only a
    /// convenience, never worth an error dialog).
    pub fn load(dir: &Path) -> History {
        let entries = std::fs::read_to_string(dir.join(FILE_NAME))
            .ok()
            .and_then(|text| serde_json::from_str::<VecDeque<Entry>>(&text).ok())
            .unwrap_or_default();
        let mut history = History { entries };
        history.entries.truncate(MAX_ENTRIES);
        history
    }

    /// Adds an entry at the front, dropping the oldest beyond [`MAX_ENTRIES`].
    pub fn push(&mut self, entry: Entry) {
        self.entries.push_front(entry);
        self.entries.truncate(MAX_ENTRIES);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Newest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.entries).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// Writes `contents` to `path` atomically (temporary file, then rename), creating the folder.
pub fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

/// A moment in the local time zone, as far as history lines need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1–12.
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
}

/// `unix` seconds in the local time zone (with the daylight-saving rule of that date); `None`
/// where the system cannot say (then the line shows no time).
pub fn local_time(unix: u64) -> Option<LocalTime> {
    platform_time::local(i64::try_from(unix).ok()?)
}

#[cfg(unix)]
mod platform_time {
    use super::LocalTime;

    pub fn local(unix: i64) -> Option<LocalTime> {
        // time_t is 32 bits on some targets.
        #[allow(clippy::useless_conversion)]
        let t: libc::time_t = unix.try_into().ok()?;
        // SAFETY: localtime_r is the thread-safe variant: it reads `t` and writes only into the
        // `tm` we own (zeroed, so every field is initialised whatever the C library fills in).
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        ok.then(|| LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u8,
            day: tm.tm_mday as u8,
            hour: tm.tm_hour as u8,
            minute: tm.tm_min as u8,
        })
    }
}

#[cfg(windows)]
mod platform_time {
    use super::LocalTime;

    #[repr(C)]
    struct FileTime {
        low: u32,
        high: u32,
    }

    #[repr(C)]
    #[derive(Default)]
    struct SystemTime {
        year: u16,
        month: u16,
        day_of_week: u16,
        day: u16,
        hour: u16,
        minute: u16,
        second: u16,
        milliseconds: u16,
    }

    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn FileTimeToSystemTime(file_time: *const FileTime, system_time: *mut SystemTime) -> i32;
        fn SystemTimeToTzSpecificLocalTime(
            time_zone: *const std::ffi::c_void,
            universal: *const SystemTime,
            local: *mut SystemTime,
        ) -> i32;
    }

    pub fn local(unix: i64) -> Option<LocalTime> {
        // FILETIME counts 100 ns ticks since 1601-01-01.
        let ticks = u64::try_from(unix).ok()?.checked_add(11_644_473_600)?.checked_mul(10_000_000)?;
        let file_time = FileTime { low: ticks as u32, high: (ticks >> 32) as u32 };
        let (mut utc, mut local) = (SystemTime::default(), SystemTime::default());
        // SAFETY: both calls read and write only the structs passed, which live on this stack;
        // a null time zone means the current one.
        let ok = unsafe {
            FileTimeToSystemTime(&file_time, &mut utc) != 0
                && SystemTimeToTzSpecificLocalTime(std::ptr::null(), &utc, &mut local) != 0
        };
        ok.then(|| LocalTime {
            year: i32::from(local.year),
            month: local.month as u8,
            day: local.day as u8,
            hour: local.hour as u8,
            minute: local.minute as u8,
        })
    }
}

#[cfg(not(any(unix, windows)))]
mod platform_time {
    pub fn local(_unix: i64) -> Option<super::LocalTime> {
        None
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32) -> Entry {
        Entry {
            ended_at: n as u64,
            received: n.is_multiple_of(2),
            peer: format!("peer {n}"),
            files: n,
            bytes: n as u64 * 1000,
            outcome: Outcome::Finished { saved: n, total: n },
            saved_file: None,
        }
    }

    #[test]
    fn keeps_the_newest_fifty_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = History::default();
        for n in 0..60 {
            history.push(entry(n));
        }
        history.push(Entry { outcome: Outcome::Failed { reason: "网络断了".into() }, ..entry(99) });
        assert_eq!(history.entries().count(), MAX_ENTRIES);
        assert_eq!(history.entries().next().unwrap().files, 99);
        write_atomically(&dir.path().join(FILE_NAME), &history.to_json()).unwrap();
        assert_eq!(History::load(dir.path()), history);
    }

    #[test]
    fn entries_written_before_cancels_said_by_whom_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"[{"ended_at": 5, "received": true, "peer": "p", "files": 1, "bytes": 3,
                      "outcome": {"kind": "cancelled"}}]"#;
        std::fs::write(dir.path().join(FILE_NAME), old).unwrap();
        let history = History::load(dir.path());
        assert_eq!(history.entries().next().unwrap().outcome, Outcome::Cancelled { by_peer: false });
    }

    #[test]
    fn local_time_is_a_real_date() {
        // 2026-07-01 12:00 UTC is 1 July (or 30 June / 2 July) in every time zone.
        let t = local_time(1_782_907_200).expect("the system knows its time zone");
        assert_eq!(t.year, 2026);
        assert!((6..=7).contains(&t.month) && t.hour < 24 && t.minute < 60, "{t:?}");
    }

    #[test]
    fn a_broken_file_is_an_empty_history() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{ not json").unwrap();
        assert!(History::load(dir.path()).is_empty());
    }
}
