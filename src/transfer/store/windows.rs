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

    /// The names in this folder, for [`super::Taken`].
    pub fn names(&self) -> io::Result<Vec<std::ffi::OsString>> {
        std::fs::read_dir(&self.path)?.map(|e| e.map(|e| e.file_name())).collect()
    }

    pub fn place(&self, tmp: &Path, name: &str) -> io::Result<()> {
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
