//! Which names are taken in the folders one transfer writes into, compared the way a disk that
//! ignores case and normalisation compares them (NTFS, APFS, exFAT): by
//! [`names::collision_key`]. The receive folder may be such a disk even on Linux (a USB stick, a
//! Windows share), and the same batch should be stored under the same names everywhere, so
//! `IMG.JPG` arriving where `img.jpg` exists — or came earlier in the batch — becomes
//! `IMG (1).JPG` on every platform (PROTOCOL.md §9.1).
//!
//! **Listed once.** A folder's names are read the first time the transfer writes into it and
//! kept, with every name placed since added; a folder of 2000 photos is listed once, not 2000
//! times, and each name costs a hash lookup.
//!
//! **Advisory only.** The list says which names *not* to try. Whether a name is really free is
//! still decided atomically by the disk: placing never replaces (`linkat`, `renameat2`
//! `RENAME_NOREPLACE`, see the module docs of [`super`]), and a name found taken that way is
//! added here and the next number tried. So a name someone else creates after the listing is
//! never overwritten; the only thing that can slip through is a name that differs from theirs in
//! case only, on a disk that tells the two apart — two files, nothing lost.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

use super::platform::Dir;
use crate::transfer::names;

/// How many `name (n)` variants of a folder to try before giving up on it.
const MAX_FOLDER_TRIES: u32 = 1000;

/// The names known to be taken in each folder this transfer has written into. One per transfer
/// (the finisher thread keeps it across its batches).
#[derive(Default)]
pub struct Taken {
    /// By the folder's path (as its [`Dir`] knows it).
    folders: HashMap<PathBuf, Listing>,
    /// How many folders were listed, for the test that a folder is listed once.
    #[cfg(test)]
    listed: usize,
}

#[derive(Default)]
struct Listing {
    /// Collision key → the names in the folder with that key, as spelled on disk (more than one
    /// only on a disk that tells case apart).
    by_key: HashMap<String, Vec<String>>,
}

impl Listing {
    /// Reads `dir`'s names. A folder that cannot be listed starts empty: the disk still refuses
    /// every name that is really taken.
    fn read(dir: &Dir) -> Listing {
        let mut listing = Listing::default();
        for name in dir.names().unwrap_or_default() {
            listing.add(&name.to_string_lossy());
        }
        listing
    }

    fn add(&mut self, name: &str) {
        let spellings = self.by_key.entry(names::collision_key(name)).or_default();
        if !spellings.iter().any(|s| s == name) {
            spellings.push(name.to_owned());
        }
    }
}

impl Taken {
    pub fn new() -> Taken {
        Taken::default()
    }

    fn listing(&mut self, dir: &Dir) -> &mut Listing {
        if !self.folders.contains_key(dir.path()) {
            self.folders.insert(dir.path().to_owned(), Listing::read(dir));
            #[cfg(test)]
            {
                self.listed += 1;
            }
        }
        self.folders.get_mut(dir.path()).expect("just inserted")
    }

    /// Is `name` worth trying in `dir`: does no name there have the same collision key?
    pub(super) fn looks_free(&mut self, dir: &Dir, name: &str) -> bool {
        !self.listing(dir).by_key.contains_key(&names::collision_key(name))
    }

    /// `name` is taken in `dir` now (placed by us, or found taken by the disk).
    pub(super) fn record(&mut self, dir: &Dir, name: &str) {
        self.listing(dir).add(name);
    }

    /// Enters (creating if needed) the folder `name` inside `parent`, never through a symlink.
    /// A folder that exists under the same collision key is merged into (its own spelling
    /// preferred when there are several, the exact one first); when only things that are not
    /// folders hold the name, `name (1)`, `name (2)`, … are tried the same way — so a file `x`
    /// and a folder `x/` in one batch are both kept, whichever comes first.
    pub(super) fn enter(&mut self, parent: &Dir, name: &str) -> io::Result<Dir> {
        for n in 0..=MAX_FOLDER_TRIES {
            let candidate = if n == 0 { name.to_owned() } else { names::numbered_folder(name, n) };
            let mut spellings = self
                .listing(parent)
                .by_key
                .get(&names::collision_key(&candidate))
                .cloned()
                .unwrap_or_else(|| vec![candidate.clone()]);
            spellings.sort_by_key(|s| *s != candidate);
            for spelling in spellings {
                match parent.enter(&spelling) {
                    Ok(dir) => {
                        self.record(parent, &spelling);
                        return Ok(dir);
                    }
                    // Something that is not a folder (or a link) holds the name.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.record(parent, &spelling),
                    Err(e) => return Err(e),
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{MAX_FOLDER_TRIES} things named like the folder {name:?} are in the way"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PartFile, persist_all};
    use super::*;
    use std::path::Path;

    /// Persists one batch of files (content = their index) into `root` with `taken`; the
    /// stored paths relative to `root` (`None`: not stored).
    fn batch(root: &Path, taken: &mut Taken, paths: &[&str]) -> Vec<Option<String>> {
        let folder = super::super::ReceiveFolder::open(root).unwrap();
        let files = paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut part = PartFile::create(&folder).unwrap();
                part.write_all(i.to_string().as_bytes()).unwrap();
                (part, p.split('/').map(str::to_owned).collect())
            })
            .collect();
        persist_all(&folder, files, taken)
            .into_iter()
            .map(|r| r.ok().map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned()))
            .collect()
    }

    fn stored(paths: &[&str]) -> Vec<Option<String>> {
        paths.iter().map(|p| Some((*p).to_owned())).collect()
    }

    #[test]
    fn names_that_differ_only_in_case_or_normalisation_get_numbers() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::write(r.join("img.jpg"), b"old").unwrap();
        // Decomposed, as macOS writes it.
        std::fs::write(r.join("cafe\u{301}.txt"), b"old").unwrap();
        let mut taken = Taken::new();
        let got = batch(r, &mut taken, &["IMG.JPG", "Img.jpg", "café.txt", "a.png", "A.PNG"]);
        assert_eq!(got, stored(&["IMG (1).JPG", "Img (2).jpg", "café (1).txt", "a.png", "A (1).PNG"]));
        // The next batch of the same transfer remembers them without listing again.
        let got = batch(r, &mut taken, &["img (1).jpg", "a (1).png"]);
        assert_eq!(got, stored(&["img (1) (1).jpg", "a (1) (1).png"]));
        assert_eq!(taken.listed, 1);
        assert_eq!(std::fs::read(r.join("img.jpg")).unwrap(), b"old");
    }

    #[test]
    fn a_file_and_a_folder_of_the_same_name_are_both_kept_in_either_order() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let got = batch(r, &mut Taken::new(), &["x", "x/in.txt", "y/in.txt", "y", "Z", "z/in.txt"]);
        assert_eq!(got, stored(&["x", "x (1)/in.txt", "y/in.txt", "y (1)", "Z", "z (1)/in.txt"]));
        assert_eq!(std::fs::read(r.join("x")).unwrap(), b"0");
        assert_eq!(std::fs::read(r.join("y (1)")).unwrap(), b"3");
    }

    #[test]
    fn folders_that_differ_only_in_case_are_one_folder() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir(r.join("Trip")).unwrap();
        let mut taken = Taken::new();
        let got = batch(r, &mut taken, &["trip/a.jpg", "TRIP/a.jpg", "New/b.jpg", "new/B.JPG"]);
        assert_eq!(got, stored(&["Trip/a.jpg", "Trip/a (1).jpg", "New/b.jpg", "New/B (1).JPG"]));
        let mut top: Vec<_> = std::fs::read_dir(r).unwrap().map(|e| e.unwrap().file_name()).collect();
        top.sort();
        assert_eq!(top, ["New", "Trip"]);
    }

    /// The list is only advice: a name someone else creates after it was read is still never
    /// overwritten, and is remembered once found.
    #[test]
    fn a_name_created_by_someone_else_meanwhile_is_never_overwritten() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let mut taken = Taken::new();
        assert_eq!(batch(r, &mut taken, &["first.jpg"]), stored(&["first.jpg"]));
        std::fs::write(r.join("later.jpg"), b"theirs").unwrap();
        assert_eq!(
            batch(r, &mut taken, &["later.jpg", "later.jpg"]),
            stored(&["later (1).jpg", "later (2).jpg"])
        );
        assert_eq!(std::fs::read(r.join("later.jpg")).unwrap(), b"theirs");
    }

    /// 2000 photos into one folder, in batches as the finisher makes them: each folder is
    /// listed once for the whole transfer.
    #[test]
    fn each_folder_is_listed_once_per_transfer() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let mut taken = Taken::new();
        let names: Vec<String> = (0..2000).map(|i| format!("Album/IMG_{i:04}.JPG")).collect();
        for chunk in names.chunks(64) {
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            assert!(batch(r, &mut taken, &chunk).iter().all(Option::is_some));
        }
        assert_eq!(taken.listed, 2, "the receive folder and Album");
        assert_eq!(std::fs::read_dir(r.join("Album")).unwrap().count(), 2000);
    }
}
