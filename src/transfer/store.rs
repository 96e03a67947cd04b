//! Placeholder until the names branch lands.
use std::io::Write;
use std::path::{Path, PathBuf};
pub struct PartFile {
    file: std::fs::File,
    path: PathBuf,
    done: bool,
}
impl PartFile {
    pub fn create(dir: &Path) -> std::io::Result<PartFile> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(std::io::Error::other)?;
        let name: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let path = dir.join(format!(".ferry-{name}.part"));
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        Ok(PartFile { file, path, done: false })
    }
    pub fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.file.write_all(buf)
    }
    pub fn persist(mut self, root: &Path, rel: &[String]) -> std::io::Result<PathBuf> {
        self.file.sync_all()?;
        let mut target = root.to_path_buf();
        for c in rel {
            target.push(c);
        }
        std::fs::create_dir_all(target.parent().unwrap())?;
        let mut n = 0;
        let base = target.clone();
        while target.exists() {
            n += 1;
            target = base.with_file_name(format!("{} ({n})", base.file_name().unwrap().to_string_lossy()));
        }
        std::fs::rename(&self.path, &target)?;
        self.done = true;
        Ok(target)
    }
}
impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
pub fn sweep_stale_parts(_dir: &Path) -> usize {
    0
}
