//! Path-based version for Windows: each folder is checked with `symlink_metadata` (which
//! reports junctions as links too) right before use. std offers no handle-relative file
//! operations there, so a folder swapped for a junction between a check and a use (which
//! needs a local program racing the receiver) is the one gap the Unix version closes.

use super::{in_the_way, taken};
use std::fs::{File, OpenOptions};
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

    /// A new file `name` in this folder; fails if anything already has that name.
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        OpenOptions::new().write(true).create_new(true).open(self.path.join(name))
    }

    pub fn remove(&self, name: &str) -> io::Result<()> {
        std::fs::remove_file(self.path.join(name))
    }

    pub fn sync_file_system(&self) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Moves `tmp` in `from` to `name` in this folder, never replacing anything.
    pub fn place(&self, from: &Dir, tmp: &str, name: &str) -> io::Result<()> {
        let tmp = &from.path.join(tmp);
        let target = self.path.join(name);
        match std::fs::hard_link(tmp, &target) {
            Ok(()) => {
                let _ = std::fs::remove_file(tmp);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
            Err(e) if matches!(e.kind(), io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied) => {
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
