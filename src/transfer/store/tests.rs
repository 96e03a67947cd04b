use super::*;
use std::collections::BTreeSet;

fn rel(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_owned()).collect()
}

/// Receives `content` into `root` and persists it as `parts`.
fn receive(root: &Path, parts: &[&str], content: &[u8]) -> io::Result<PathBuf> {
    let root = ReceiveFolder::open(root)?;
    let mut part = PartFile::create(&root)?;
    part.write_all(content)?;
    assert_eq!(part.written(), content.len() as u64);
    part.persist(&root, &rel(parts))
}

fn folder(root: &Path) -> ReceiveFolder {
    ReceiveFolder::open(root).unwrap()
}

/// Names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn same_names_get_numbers_and_keep_their_extension() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for (i, want) in ["photo.jpg", "photo (1).jpg", "photo (2).jpg"].iter().enumerate() {
        let content = format!("copy {i}");
        let got = receive(r, &["photo.jpg"], content.as_bytes()).unwrap();
        assert_eq!(got, r.join(want));
        assert_eq!(std::fs::read_to_string(&got).unwrap(), content);
    }
    assert_eq!(receive(r, &["notes"], b"1").unwrap(), r.join("notes"));
    assert_eq!(receive(r, &["notes"], b"2").unwrap(), r.join("notes (1)"));
    assert_eq!(receive(r, &[".bashrc"], b"1").unwrap(), r.join(".bashrc"));
    assert_eq!(receive(r, &[".bashrc"], b"2").unwrap(), r.join(".bashrc (1)"));
    // Only final names are left: every temporary file was renamed away.
    assert_eq!(
        listing(r),
        [".bashrc", ".bashrc (1)", "notes", "notes (1)", "photo (1).jpg", "photo (2).jpg", "photo.jpg"]
    );
}

#[test]
fn a_batch_is_persisted_together_with_one_result_per_file() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let f = folder(r);
    let make = |content: &[u8]| {
        let mut p = PartFile::create(&f).unwrap();
        p.write_all(content).unwrap();
        p
    };
    let results = persist_all(
        &f,
        vec![
            (make(b"a"), rel(&["Album", "x.jpg"])),
            (make(b"b"), rel(&["Album", "x.jpg"])),
            (make(b"c"), rel(&["Album", "sub", "y.jpg"])),
            (make(b"d"), rel(&["..", "escape.jpg"])),
            (make(b"e"), rel(&["top.txt"])),
        ],
        &mut Taken::new(),
    );
    let paths: Vec<_> = results.iter().map(|r| r.as_ref().ok().cloned()).collect();
    assert_eq!(
        paths,
        [
            Some(r.join("Album/x.jpg")),
            Some(r.join("Album/x (1).jpg")),
            Some(r.join("Album/sub/y.jpg")),
            None,
            Some(r.join("top.txt"))
        ]
    );
    assert_eq!(std::fs::read(r.join("Album/x (1).jpg")).unwrap(), b"b");
    // The refused file's temporary file is gone too.
    assert_eq!(listing(r), ["Album", "top.txt"]);
}

#[test]
fn nested_folders_are_created_and_merged_into() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let first = receive(r, &["Trip", "day 1", "a.jpg"], b"first").unwrap();
    assert_eq!(first, r.join("Trip/day 1/a.jpg"));
    let second = receive(r, &["Trip", "day 1", "a.jpg"], b"second").unwrap();
    assert_eq!(second, r.join("Trip/day 1/a (1).jpg"));
    let third = receive(r, &["Trip", "b.jpg"], b"third").unwrap();
    assert_eq!(third, r.join("Trip/b.jpg"));
    assert_eq!(std::fs::read(&first).unwrap(), b"first");
    assert_eq!(listing(r), ["Trip"]);
}

#[test]
fn international_names_are_stored_byte_identical() {
    let root = tempfile::tempdir().unwrap();
    for name in ["照片 2024.jpg", "صورة.png", "😀🎉.heic", "👨‍👩‍👧"] {
        let got = receive(root.path(), &["旅行", name], b"x").unwrap();
        assert_eq!(got.file_name().unwrap().as_encoded_bytes(), name.as_bytes());
        assert_eq!(got.parent().unwrap(), root.path().join("旅行"));
    }
}

#[test]
fn unsafe_names_are_refused_by_persist_too() {
    let root = tempfile::tempdir().unwrap();
    for parts in [&["..", "x"][..], &["a/b"], &[], &["C:x"]] {
        let err = receive(root.path(), parts, b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{parts:?}");
    }
    assert!(listing(root.path()).is_empty());
}

#[test]
fn dropping_an_unpersisted_file_removes_it() {
    let root = tempfile::tempdir().unwrap();
    let mut part = PartFile::create_named(&folder(root.path())).unwrap();
    part.write_all(&[7; 1000]).unwrap();
    let name = part.temp_path().unwrap().file_name().unwrap().to_str().unwrap().to_owned();
    assert!(is_part_name(&name), "{name}");
    assert_eq!(listing(root.path()), [name]);
    drop(part);
    assert!(listing(root.path()).is_empty());
}

/// On Linux file systems that can (the test's temporary folder is one), a file being
/// received has no name at all until it is complete, and vanishes if it is dropped.
#[cfg(target_os = "linux")]
#[test]
fn a_file_being_received_has_no_name_until_persisted() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let f = folder(r);
    let mut kept = PartFile::create(&f).unwrap();
    let mut dropped = PartFile::create(&f).unwrap();
    assert!(kept.temp_path().is_none() && dropped.temp_path().is_none(), "nameless files");
    kept.write_all(b"kept").unwrap();
    dropped.write_all(b"dropped").unwrap();
    assert!(listing(r).is_empty(), "nothing visible while receiving");
    drop(dropped);
    std::fs::write(r.join("taken.jpg"), b"keep").unwrap();
    let got = kept.persist(&f, &rel(&["taken.jpg"])).unwrap();
    assert_eq!(got, r.join("taken (1).jpg"));
    assert_eq!(std::fs::read(&got).unwrap(), b"kept");
    assert_eq!(std::fs::read(r.join("taken.jpg")).unwrap(), b"keep");
    assert_eq!(listing(r), ["taken (1).jpg", "taken.jpg"]);
}

/// People without the privilege to name a file by its handle (most) go through /proc;
/// that way never replaces a name either.
#[cfg(target_os = "linux")]
#[test]
fn naming_through_proc_never_overwrites() {
    use std::io::Write as _;
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::write(r.join("taken"), b"keep").unwrap();
    let dir = platform::Dir::open_root(r).unwrap();
    let mut file = dir.create_unnamed().expect("the test folder supports O_TMPFILE");
    file.write_all(b"new").unwrap();
    let err = dir.name_unnamed_by_proc(&file, "taken").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    dir.name_unnamed_by_proc(&file, "fresh").unwrap();
    assert_eq!(std::fs::read(r.join("taken")).unwrap(), b"keep");
    assert_eq!(std::fs::read(r.join("fresh")).unwrap(), b"new");
    assert_eq!(listing(r), ["fresh", "taken"]);
}

#[cfg(unix)]
#[test]
fn a_planted_symlink_at_the_final_name_is_never_followed() {
    use std::os::unix::fs::symlink;
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("secret");
    std::fs::write(&victim, b"keep me").unwrap();
    symlink(&victim, root.path().join("photo.jpg")).unwrap();
    // A dangling link: following it would create a file outside.
    let would_be = outside.path().join("created");
    symlink(&would_be, root.path().join("x.jpg")).unwrap();

    let got = receive(root.path(), &["photo.jpg"], b"evil").unwrap();
    assert_eq!(got, root.path().join("photo (1).jpg"));
    let got = receive(root.path(), &["x.jpg"], b"evil").unwrap();
    assert_eq!(got, root.path().join("x (1).jpg"));

    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(!would_be.exists());
    assert!(std::fs::symlink_metadata(root.path().join("photo.jpg")).unwrap().file_type().is_symlink());
}

/// A symlink, or a file, where a folder should be is never entered; the folder gets a number
/// instead, so the file still arrives (PROTOCOL.md §9.1) and nothing lands outside.
#[cfg(unix)]
#[test]
fn a_symlinked_or_blocked_folder_is_never_entered_and_the_file_lands_beside_it() {
    use std::os::unix::fs::symlink;
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), r.join("Trip")).unwrap();
    std::fs::create_dir(r.join("Real")).unwrap();
    symlink(outside.path(), r.join("Real/deeper")).unwrap();
    std::fs::write(r.join("AFile"), b"").unwrap();

    let mut got = Vec::new();
    for parts in [&["Trip", "a.jpg"][..], &["Real", "deeper", "a.jpg"], &["AFile", "a.jpg"]] {
        got.push(receive(r, parts, b"evil").unwrap());
    }
    assert_eq!(got, [r.join("Trip (1)/a.jpg"), r.join("Real/deeper (1)/a.jpg"), r.join("AFile (1)/a.jpg")]);
    assert!(listing(outside.path()).is_empty());
    assert_eq!(listing(r), ["AFile", "AFile (1)", "Real", "Trip", "Trip (1)"]);
    assert_eq!(listing(&r.join("Real")), ["deeper", "deeper (1)"]);
    assert!(std::fs::symlink_metadata(r.join("Trip")).unwrap().file_type().is_symlink());
}

#[cfg(unix)]
#[test]
fn opening_a_new_file_never_follows_a_symlink() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("existing");
    std::fs::write(&existing, b"keep").unwrap();
    let missing = dir.path().join("missing");
    symlink(&existing, dir.path().join("to-existing")).unwrap();
    symlink(&missing, dir.path().join("to-missing")).unwrap();

    let handle = platform::Dir::open_root(dir.path()).unwrap();
    for link in ["to-existing", "to-missing"] {
        assert!(handle.create_new(link).is_err(), "{link}");
    }
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep");
    assert!(!missing.exists());
    assert!(handle.create_new("fresh").is_ok());
}

/// The fallbacks for file systems without RENAME_NOREPLACE or hard links, called directly.
#[cfg(unix)]
#[test]
fn fallback_placements_never_overwrite() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::write(r.join("taken"), b"keep").unwrap();
    let dir = platform::Dir::open_root(r).unwrap();

    type Place = fn(&platform::Dir, &platform::Dir, &str, &str) -> io::Result<()>;
    let ways: [(&str, Place); 2] =
        [("link", platform::Dir::place_by_link), ("check", platform::Dir::place_by_check_then_rename)];
    let f = folder(r);
    for (way, place) in ways {
        let mut part = PartFile::create_named(&f).unwrap();
        part.write_all(way.as_bytes()).unwrap();
        let temp = part.temp_path().unwrap();
        let temp_name = temp.file_name().unwrap().to_str().unwrap();
        let err = place(&dir, &dir, temp_name, "taken").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{way}");
        place(&dir, &dir, temp_name, way).unwrap();
        assert!(!temp.exists(), "{way}: the temporary name is gone");
        part.persisted = true; // placed by hand above
    }
    assert_eq!(std::fs::read(r.join("taken")).unwrap(), b"keep");
    assert_eq!(std::fs::read(r.join("link")).unwrap(), b"link");
    assert_eq!(std::fs::read(r.join("check")).unwrap(), b"check");
    assert_eq!(listing(r), ["check", "link", "taken"]);
}

#[test]
fn threads_racing_for_one_name_all_get_their_own() {
    const THREADS: usize = 8;
    let root = tempfile::tempdir().unwrap();
    let barrier = std::sync::Barrier::new(THREADS);
    let paths: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let (root, barrier) = (root.path(), &barrier);
                std::thread::Builder::new()
                    .name(format!("persist-{i}"))
                    .spawn_scoped(s, move || {
                        let root = folder(root);
                        let mut part = PartFile::create(&root).unwrap();
                        part.write_all(format!("thread {i}").as_bytes()).unwrap();
                        barrier.wait();
                        part.persist(&root, &rel(&["photo.jpg"])).unwrap()
                    })
                    .unwrap()
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let distinct: BTreeSet<&PathBuf> = paths.iter().collect();
    assert_eq!(distinct.len(), THREADS);
    let contents: BTreeSet<String> = paths.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let expected: BTreeSet<String> = (0..THREADS).map(|i| format!("thread {i}")).collect();
    assert_eq!(contents, expected);
    assert_eq!(listing(root.path()).len(), THREADS);
    assert!(listing(root.path()).iter().all(|n| n.starts_with("photo") && n.ends_with(".jpg")));
}

#[test]
fn sweep_removes_only_old_temporary_files() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
    let hex = "0123456789abcdef0123456789abcdef";
    let make = |name: &str, old: bool| {
        let f = File::create(r.join(name)).unwrap();
        if old {
            f.set_modified(two_hours_ago).unwrap();
        }
    };
    make(&format!(".ferry-{hex}.part"), true);
    make(&format!(".ferry-{}.part", hex.replace('0', "f")), true);
    make(&format!(".ferry-{}.part", hex.replace('1', "e")), false); // a transfer in progress
    make("notes.part", true);
    make(".ferry-short.part", true);
    make(&format!(".ferry-{hex}.part.jpg"), true);
    // A folder with a temporary name is not ours to delete.
    let dir_name = format!(".ferry-{}.part", hex.replace('2', "d"));
    std::fs::create_dir(r.join(&dir_name)).unwrap();
    open_folder_for_times(&r.join(&dir_name)).set_modified(two_hours_ago).unwrap();

    assert_eq!(sweep_stale_parts(r), 2);
    let left = listing(r);
    assert_eq!(left.len(), 5, "{left:?}");
    assert!(!left.contains(&format!(".ferry-{hex}.part")));
    assert!(left.contains(&format!(".ferry-{}.part", hex.replace('1', "e"))));
    assert!(left.contains(&dir_name));
    assert_eq!(sweep_stale_parts(r), 0);
    assert_eq!(sweep_stale_parts(&r.join("does not exist")), 0);
}

/// A folder opened so its times can be set: Windows opens folders only with
/// FILE_FLAG_BACKUP_SEMANTICS, and setting times needs FILE_WRITE_ATTRIBUTES.
fn open_folder_for_times(path: &Path) -> File {
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_WRITE_ATTRIBUTES: u32 = 0x100;
        const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
        std::fs::OpenOptions::new()
            .access_mode(FILE_WRITE_ATTRIBUTES)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
            .open(path)
            .unwrap()
    }
    #[cfg(not(windows))]
    File::open(path).unwrap()
}

/// The folder opened for a transfer is the one its files land in, named temporary files too,
/// even when its path is swapped for a symlink to elsewhere between creating and naming.
#[cfg(unix)]
#[test]
fn files_land_in_the_folder_that_was_opened_even_when_its_name_now_points_elsewhere() {
    let work = tempfile::tempdir().unwrap();
    let inbox = work.path().join("inbox");
    let outside = work.path().join("outside");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let root = folder(&inbox);
    let mut named = PartFile::create_named(&root).unwrap();
    named.write_all(b"named").unwrap();
    let mut any = PartFile::create(&root).unwrap();
    any.write_all(b"any").unwrap();

    let moved = work.path().join("moved");
    std::fs::rename(&inbox, &moved).unwrap();
    std::os::unix::fs::symlink(&outside, &inbox).unwrap();
    let mut later = PartFile::create(&root).unwrap();
    later.write_all(b"later").unwrap();
    let results = persist_all(
        &root,
        vec![(named, rel(&["named.txt"])), (any, rel(&["Sub", "any.txt"])), (later, rel(&["later.txt"]))],
        &mut Taken::new(),
    );
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert!(listing(&outside).is_empty(), "{:?}", listing(&outside));
    assert_eq!(listing(&moved), ["Sub", "later.txt", "named.txt"]);
    assert_eq!(std::fs::read(moved.join("Sub/any.txt")).unwrap(), b"any");
}

#[test]
fn a_folder_is_checked_for_room_and_writability_before_an_offer_is_shown() {
    use crate::events::SaveFailure;
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(check_folder(dir.path(), 1), None);
    // Not made yet: its parent answers.
    assert_eq!(check_folder(&dir.path().join("not/yet"), 1), None);
    assert_eq!(check_folder(dir.path(), u64::MAX), Some(SaveFailure::DiskFull));
    // A file where the folder should be can take nothing.
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    assert_eq!(check_folder(&dir.path().join("file"), 1), Some(SaveFailure::FolderNotWritable));
    // The probe leaves nothing behind.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["file"]);
}

#[test]
fn write_errors_are_told_apart() {
    use crate::protocol::FileResult;
    use std::io::{Error, ErrorKind};
    let kind = |k| write_failure(&Error::from(k));
    assert_eq!(kind(ErrorKind::StorageFull), FileResult::DiskFull);
    assert_eq!(kind(ErrorKind::QuotaExceeded), FileResult::DiskFull);
    assert_eq!(kind(ErrorKind::ReadOnlyFilesystem), FileResult::FolderNotWritable);
    assert_eq!(kind(ErrorKind::PermissionDenied), FileResult::FolderNotWritable);
    assert_eq!(kind(ErrorKind::NotFound), FileResult::FolderGone);
    assert_eq!(kind(ErrorKind::Other), FileResult::WriteFailed);
    #[cfg(unix)]
    assert_eq!(write_failure(&Error::from_raw_os_error(28)), FileResult::DiskFull, "ENOSPC");
}
