//! What a batch is made of: the files and folders a person chose, walked into the list of files
//! to offer (folders keep their structure under their own name), and the thumbnails that go
//! with them.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crate::events::TransferError;
use crate::protocol::{
    MAX_DEPTH, MAX_FILES, MAX_OFFER_PATH_BYTES, MAX_OFFER_THUMBNAIL_BYTES, MAX_PATH_BYTES, MAX_THUMBNAIL,
};

/// Makes a small JPEG of an image file, or `None` (not an image, unreadable ...).
pub type Thumbnailer = fn(&Path) -> Option<Vec<u8>>;

/// One file to send: where it is here and what it is called there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    /// `/`-separated, relative: the chosen file's name, or a chosen folder's name and below.
    pub wire_path: String,
    pub size: u64,
}

/// Turns chosen files and folders into the list to offer. A folder keeps its structure under its
/// own name; symbolic links inside folders are skipped (they could loop or point anywhere).
pub fn collect(paths: &[PathBuf]) -> Result<Vec<SourceFile>, TransferError> {
    let mut out = Vec::new();
    let mut path_bytes = 0u64;
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| unreadable(p, &e))?;
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| TransferError::SourceUnreadable {
                path: p.display().to_string(),
                reason: "its name is not valid Unicode".into(),
            })?
            .to_owned();
        if meta.is_dir() {
            walk(p, &name, 1, &mut out, &mut path_bytes)?;
        } else if meta.is_file() {
            push(&mut out, &mut path_bytes, p.clone(), name, meta.len())?;
        } else {
            return Err(TransferError::SourceUnreadable {
                path: p.display().to_string(),
                reason: "it is not a regular file or folder".into(),
            });
        }
    }
    if out.is_empty() {
        return Err(TransferError::NothingToSend);
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<SourceFile>,
    path_bytes: &mut u64,
) -> Result<(), TransferError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable(dir, &e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let ty = entry.file_type().map_err(|e| unreadable(&entry.path(), &e))?;
        let wire = format!("{prefix}/{name}");
        if ty.is_dir() {
            if depth + 1 >= MAX_DEPTH {
                return Err(TransferError::SourceUnreadable {
                    path: entry.path().display().to_string(),
                    reason: format!("folders are nested more than {MAX_DEPTH} deep"),
                });
            }
            walk(&entry.path(), &wire, depth + 1, out, path_bytes)?;
        } else if ty.is_file() {
            let size = entry.metadata().map_err(|e| unreadable(&entry.path(), &e))?.len();
            push(out, path_bytes, entry.path(), wire, size)?;
        }
    }
    Ok(())
}

fn push(
    out: &mut Vec<SourceFile>,
    path_bytes: &mut u64,
    path: PathBuf,
    wire_path: String,
    size: u64,
) -> Result<(), TransferError> {
    if out.len() >= MAX_FILES as usize {
        return Err(TransferError::TooManyFiles { count: out.len() as u64 + 1, max: MAX_FILES });
    }
    if wire_path.len() > MAX_PATH_BYTES {
        return Err(TransferError::SourceUnreadable {
            path: path.display().to_string(),
            reason: "its path is too long".into(),
        });
    }
    *path_bytes += wire_path.len() as u64;
    if *path_bytes > MAX_OFFER_PATH_BYTES {
        return Err(TransferError::TooManyFiles { count: out.len() as u64 + 1, max: out.len() as u32 });
    }
    out.push(SourceFile { path, wire_path, size });
    Ok(())
}

/// How long making thumbnails may hold up an offer. Photos past it go without one: the person
/// on the other side is waiting to see the offer at all.
const THUMBNAIL_TIME: Duration = Duration::from_secs(2);

/// Thumbnails for images, within the offer's byte and time budgets, made on a few threads at
/// once; empty where there is none.
pub(super) fn make_thumbnails(files: &[SourceFile], thumbnailer: Option<Thumbnailer>) -> Vec<Vec<u8>> {
    let Some(make) = thumbnailer else { return vec![Vec::new(); files.len()] };
    let deadline = Instant::now() + THUMBNAIL_TIME;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let made: Vec<std::sync::Mutex<Vec<u8>>> = files.iter().map(|_| Default::default()).collect();
    let workers = thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { return };
                    if let Some(t) = make(&f.path).filter(|t| t.len() <= MAX_THUMBNAIL) {
                        *made[i].lock().unwrap_or_else(|e| e.into_inner()) = t;
                    }
                }
            });
        }
    });
    let mut budget = MAX_OFFER_THUMBNAIL_BYTES;
    made.into_iter()
        .map(|m| {
            let t = m.into_inner().unwrap_or_else(|e| e.into_inner());
            if (t.len() as u64) <= budget {
                budget -= t.len() as u64;
                t
            } else {
                Vec::new()
            }
        })
        .collect()
}

fn unreadable(p: &Path, e: &io::Error) -> TransferError {
    TransferError::SourceUnreadable { path: p.display().to_string(), reason: e.to_string() }
}
