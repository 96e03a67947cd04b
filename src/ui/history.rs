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
    Finished {
        saved: u32,
        total: u32,
    },
    Declined,
    Cancelled,
    /// The plain-language reason.
    Failed {
        reason: String,
    },
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
    fn a_broken_file_is_an_empty_history() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "{ not json").unwrap();
        assert!(History::load(dir.path()).is_empty());
    }
}
