//! Turning file names from the network into names that are safe on *this* disk.
//!
//! A peer offers paths like `Trip/day 1/IMG_0001.jpg`. Nothing about them is trusted: each
//! `/`-separated piece must become exactly one harmless path component, or the file is refused.
//! Harmless means, on every system Ferry runs on (Linux, macOS, Windows):
//!
//! * it cannot climb out of the receive folder (`..`, `/etc`, `C:foo`, `a\b`);
//! * it is a name Windows can create (no `<>:"|?*`, no `CON`/`NUL`/`COM1`…, no trailing dot or space);
//! * it cannot disguise itself (no control characters, no bidi overrides that make `gpj.exe` read
//!   as `exe.jpg`);
//! * it fits the 255-byte limit of common file systems.
//!
//! Choices made here:
//!
//! * Names are **refused, not repaired**, except for length. A repaired name ("a_b" for "a/b")
//!   hides that something odd was sent, and two different bad names could repair to the same one.
//! * **Trailing** white space and dots are refused (Windows silently strips them, so `a.txt ` and
//!   `a.txt` would be the same file there). **Leading** white space is kept: it is legal everywhere
//!   and the name stays byte-identical to what was sent.
//! * A name over [`MAX_COMPONENT_BYTES`] is **shortened** at a character boundary, keeping its
//!   extension (`.jpg`) when that is at most [`MAX_EXTENSION_BYTES`] long.
//! * Everything else — Chinese, Arabic, emoji, leading dots (`.bashrc`) — passes through
//!   byte-identical. No Unicode normalisation is applied; the file system decides.
//!
//! Invalid UTF-8 cannot reach this module: the message decoder (`protocol::codec::Reader::str16`)
//! already rejects it, which is why everything here takes `&str`.

use crate::protocol::MAX_DEPTH;
use crate::protocol::codec::truncate_utf8;
use crate::text::is_bidi_control;

/// Longest path component, in bytes, that ext4, APFS, NTFS (in UTF-16 units, so more) and
/// exFAT all accept.
pub const MAX_COMPONENT_BYTES: usize = 255;

/// A shortened name keeps its extension only up to this length (dot included), so `.jpg` and
/// `.tar.gz`'s `.gz` survive while a "extension" that is really half the name does not.
pub const MAX_EXTENSION_BYTES: usize = 16;

/// Why a name from the network cannot be used. The messages are shown to people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the file name is empty")]
    Empty,
    #[error("the name \".\" or \"..\" would point outside the receive folder")]
    DotName,
    #[error("the path starts at the top of a disk instead of inside the receive folder")]
    Absolute,
    #[error("the name starts with a drive letter such as \"C:\"")]
    DriveLetter,
    #[error("the name contains a folder separator ({0:?})")]
    Separator(char),
    #[error("the name contains a character Windows does not allow in file names ({0:?})")]
    ForbiddenChar(char),
    #[error("the name contains an invisible control character")]
    ControlChar,
    #[error("the name contains a character that reverses the text direction, which can disguise its type")]
    BidiControl,
    #[error("\"{0}\" is a name Windows reserves for devices")]
    Reserved(String),
    #[error("the name ends with a dot or a space, which Windows would silently remove")]
    TrailingDotOrSpace,
    #[error("the path has {depth} levels of folders; at most {max} are accepted")]
    TooDeep { depth: usize, max: usize },
    #[error("the name is too long and nothing usable is left after shortening it")]
    TooLong,
}

/// Checks one path component from the network and returns the name to use on disk: the same
/// string, or a shortened one if it was over [`MAX_COMPONENT_BYTES`].
///
/// The result is always a single component that stays inside any folder it is joined onto, and
/// `safe_component(result) == Ok(result)`.
pub fn safe_component(raw: &str) -> Result<String, NameError> {
    check(raw)?;
    if raw.len() <= MAX_COMPONENT_BYTES {
        return Ok(raw.to_owned());
    }
    let short = shorten(raw)?;
    // Cutting can expose a trailing space or a reserved stem ("CON" + 300 spaces + "x"), so the
    // result goes through the same gate as everything else.
    check(&short)?;
    Ok(short)
}

/// Splits a wire path (`Trip/day 1/IMG_0001.jpg`) on `/` and makes every piece safe. At most
/// [`MAX_DEPTH`] pieces; an empty piece (`a//b`, `a/`) or a leading `/` refuses the whole path.
pub fn safe_relative_path(wire_path: &str) -> Result<Vec<String>, NameError> {
    if wire_path.starts_with('/') || wire_path.starts_with('\\') {
        return Err(NameError::Absolute);
    }
    // Count before allocating anything: the depth is the peer's choice.
    let depth = wire_path.split('/').count();
    if depth > MAX_DEPTH {
        return Err(NameError::TooDeep { depth, max: MAX_DEPTH });
    }
    wire_path.split('/').map(safe_component).collect()
}

/// The name to try when `name` is already taken: `photo.jpg` → `photo (1).jpg`, `notes` →
/// `notes (1)`, `.bashrc` → `.bashrc (1)`. Stays within [`MAX_COMPONENT_BYTES`] by shortening
/// the part before the extension. For a name that passed [`safe_component`] the result passes too.
pub fn numbered(name: &str, n: u32) -> String {
    let (stem, ext) = split_extension(name);
    let suffix = format!(" ({n})");
    let room = MAX_COMPONENT_BYTES.saturating_sub(suffix.len() + ext.len());
    let stem = truncate_utf8(stem, room);
    let mut out = String::with_capacity(stem.len() + suffix.len() + ext.len());
    out.push_str(stem);
    out.push_str(&suffix);
    out.push_str(ext);
    out
}

/// Every rule except length.
fn check(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(NameError::DotName);
    }
    let mut chars = name.chars();
    if let (Some(letter), Some(':')) = (chars.next(), chars.next())
        && letter.is_ascii_alphabetic()
    {
        return Err(NameError::DriveLetter);
    }
    for c in name.chars() {
        match c {
            '/' | '\\' => return Err(NameError::Separator(c)),
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => return Err(NameError::ForbiddenChar(c)),
            // `is_control` is Unicode category Cc: NUL and the rest of C0, DEL, and C1.
            c if c.is_control() => return Err(NameError::ControlChar),
            c if is_bidi_control(c) => return Err(NameError::BidiControl),
            _ => {}
        }
    }
    if name.ends_with('.') || name.ends_with(char::is_whitespace) {
        return Err(NameError::TrailingDotOrSpace);
    }
    if let Some(device) = reserved_device(name) {
        return Err(NameError::Reserved(device.to_owned()));
    }
    Ok(())
}

/// Windows treats `CON`, `con.txt` and `Con .tar.gz` all as the console device: the part before
/// the first dot, without trailing spaces, compared without case.
fn reserved_device(name: &str) -> Option<&str> {
    let base = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = base.to_uppercase();
    let reserved = match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => match upper.strip_prefix("COM").or_else(|| upper.strip_prefix("LPT")) {
            // COM0-9, LPT0-9, and the superscript digits Windows also maps to ports.
            Some(digit) => {
                matches!(digit, "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9")
                    || matches!(digit, "¹" | "²" | "³")
            }
            None => false,
        },
    };
    reserved.then_some(base)
}

/// `photo.jpg` → (`photo`, `.jpg`). A leading dot is not an extension (`.bashrc` has none), nor
/// is one longer than [`MAX_EXTENSION_BYTES`].
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_EXTENSION_BYTES && name.len() - dot > 1 => {
            name.split_at(dot)
        }
        _ => (name, ""),
    }
}

/// Cuts an over-long (already checked) name to [`MAX_COMPONENT_BYTES`], keeping the extension.
fn shorten(name: &str) -> Result<String, NameError> {
    let (stem, ext) = split_extension(name);
    let stem = truncate_utf8(stem, MAX_COMPONENT_BYTES - ext.len());
    let stem = if ext.is_empty() {
        // The cut end is now the end of the name: it must not be a dot or a space.
        stem.trim_end_matches(|c: char| c == '.' || c.is_whitespace())
    } else {
        stem
    };
    if stem.is_empty() {
        return Err(NameError::TooLong);
    }
    Ok(format!("{stem}{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::{Component, Path};

    #[test]
    fn ordinary_and_international_names_pass_byte_identical() {
        for name in [
            "IMG_0001.jpg",
            "照片 2024.jpg",
            "صورة.png",
            "😀🎉.heic",
            "👨‍👩‍👧 family.mov",
            ".bashrc",
            "..hidden",
            "  leading space.txt",
            "archive.tar.gz",
            "no extension",
            "CONSOLE.txt",
            "COM10",
            "a$b#c%d&e'f(g)h[i]j{k}l~m;n=o+p,q@r!s",
        ] {
            assert_eq!(safe_component(name).as_deref(), Ok(name), "{name:?}");
        }
    }

    #[test]
    fn dangerous_names_are_refused() {
        let cases: &[(&str, NameError)] = &[
            ("", NameError::Empty),
            (".", NameError::DotName),
            ("..", NameError::DotName),
            ("C:foo", NameError::DriveLetter),
            ("c:", NameError::DriveLetter),
            ("a/b", NameError::Separator('/')),
            ("..\\..\\windows", NameError::Separator('\\')),
            ("photo.jpg:stream", NameError::ForbiddenChar(':')),
            ("what?.txt", NameError::ForbiddenChar('?')),
            ("a<b", NameError::ForbiddenChar('<')),
            ("a|b", NameError::ForbiddenChar('|')),
            ("\"quoted\"", NameError::ForbiddenChar('"')),
            ("star*", NameError::ForbiddenChar('*')),
            ("nul\0byte", NameError::ControlChar),
            ("bell\u{7}", NameError::ControlChar),
            ("line\nbreak", NameError::ControlChar),
            ("del\u{7f}", NameError::ControlChar),
            ("c1\u{85}x", NameError::ControlChar),
            ("evil\u{202E}gpj.exe", NameError::BidiControl),
            ("x\u{2067}y", NameError::BidiControl),
            ("CON", NameError::Reserved("CON".into())),
            ("con.txt", NameError::Reserved("con".into())),
            ("Nul.tar.gz", NameError::Reserved("Nul".into())),
            ("aux .txt", NameError::Reserved("aux".into())),
            ("COM1", NameError::Reserved("COM1".into())),
            ("lpt9.log", NameError::Reserved("lpt9".into())),
            ("COM0", NameError::Reserved("COM0".into())),
            ("com¹.txt", NameError::Reserved("com¹".into())),
            ("CONOUT$", NameError::Reserved("CONOUT$".into())),
            ("trailing.", NameError::TrailingDotOrSpace),
            ("trailing ", NameError::TrailingDotOrSpace),
            ("ideographic\u{3000}", NameError::TrailingDotOrSpace),
            ("...", NameError::TrailingDotOrSpace),
        ];
        for (name, want) in cases {
            assert_eq!(safe_component(name).as_ref(), Err(want), "{name:?}");
        }
    }

    #[test]
    fn paths_split_into_safe_components() {
        assert_eq!(
            safe_relative_path("Trip/day 1/IMG_0001.jpg"),
            Ok(vec!["Trip".to_owned(), "day 1".to_owned(), "IMG_0001.jpg".to_owned()])
        );
        assert_eq!(safe_relative_path("/etc/passwd"), Err(NameError::Absolute));
        assert_eq!(safe_relative_path("\\\\server\\share"), Err(NameError::Absolute));
        assert_eq!(safe_relative_path("Trip/../../.ssh/authorized_keys"), Err(NameError::DotName));
        assert_eq!(safe_relative_path("a//b"), Err(NameError::Empty));
        assert_eq!(safe_relative_path("a/"), Err(NameError::Empty));
        assert_eq!(safe_relative_path("C:/Windows"), Err(NameError::DriveLetter));
        let ok_deep = vec!["d"; MAX_DEPTH].join("/");
        assert_eq!(safe_relative_path(&ok_deep).map(|v| v.len()), Ok(MAX_DEPTH));
        let too_deep = vec!["d"; MAX_DEPTH + 1].join("/");
        assert_eq!(
            safe_relative_path(&too_deep),
            Err(NameError::TooDeep { depth: MAX_DEPTH + 1, max: MAX_DEPTH })
        );
    }

    #[test]
    fn long_names_are_shortened_keeping_the_extension() {
        let long = format!("{}.jpg", "a".repeat(300));
        let short = safe_component(&long).unwrap();
        assert_eq!(short.len(), MAX_COMPONENT_BYTES);
        assert!(short.ends_with("aaa.jpg"));

        // Three-byte characters: the cut lands on a character boundary.
        let long = format!("{}.png", "名".repeat(100));
        let short = safe_component(&long).unwrap();
        assert!(short.len() <= MAX_COMPONENT_BYTES && short.len() > MAX_COMPONENT_BYTES - 3);
        assert!(short.ends_with("名.png"));

        // An "extension" longer than the limit is just part of the name.
        let long = format!("x.{}", "e".repeat(300));
        assert_eq!(safe_component(&long).unwrap().len(), MAX_COMPONENT_BYTES);

        // The cut must not leave a trailing space, or expose a reserved name.
        let long = format!("name{}x", " ".repeat(300));
        assert_eq!(safe_component(&long).as_deref(), Ok("name"));
        let long = format!("CON{}x", " ".repeat(300));
        assert_eq!(safe_component(&long), Err(NameError::Reserved("CON".into())));
        let long = format!(".{}x", " ".repeat(300));
        assert_eq!(safe_component(&long), Err(NameError::TooLong));
    }

    #[test]
    fn numbered_names_keep_the_extension() {
        assert_eq!(numbered("photo.jpg", 1), "photo (1).jpg");
        assert_eq!(numbered("notes", 2), "notes (2)");
        assert_eq!(numbered(".bashrc", 1), ".bashrc (1)");
        assert_eq!(numbered("archive.tar.gz", 3), "archive.tar (3).gz");
        let long = safe_component(&format!("{}.jpg", "b".repeat(400))).unwrap();
        let n = numbered(&long, 9999);
        assert!(n.len() <= MAX_COMPONENT_BYTES);
        assert!(n.ends_with(" (9999).jpg"));
    }

    /// Everything a component must be when it comes out of `safe_component`.
    fn assert_contained(c: &str) {
        let base = Path::new("/base/dir");
        let joined = base.join(c);
        assert_eq!(joined.parent(), Some(base), "{c:?} escaped");
        assert_eq!(joined.components().count(), base.components().count() + 1, "{c:?}");
        assert!(
            joined.components().skip(base.components().count()).all(|k| matches!(k, Component::Normal(_))),
            "{c:?}"
        );
        assert!(c.len() <= MAX_COMPONENT_BYTES, "{c:?} too long");
        assert_eq!(safe_component(c).as_deref(), Ok(c), "not idempotent");
    }

    fn nasty() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("/".to_owned()),
            Just("\\".to_owned()),
            Just(":".to_owned()),
            Just("C:".to_owned()),
            Just(" ".to_owned()),
            Just("CON".to_owned()),
            Just("lpt1".to_owned()),
            Just("\u{202E}".to_owned()),
            Just("\u{0}".to_owned()),
            Just("\u{7f}".to_owned()),
            Just("名".to_owned()),
            Just("😀".to_owned()),
            Just("مرحبا".to_owned()),
            "[a-z]{1,8}",
            "[\\x00-\\x1f]",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..120).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn any_string_is_refused_or_contained(raw in any::<String>()) {
            if let Ok(c) = safe_component(&raw) {
                assert_contained(&c);
            }
        }

        #[test]
        fn nasty_strings_are_refused_or_contained(raw in nasty()) {
            if let Ok(c) = safe_component(&raw) {
                assert_contained(&c);
                if raw.len() <= MAX_COMPONENT_BYTES {
                    prop_assert_eq!(c, raw);
                }
            }
        }

        #[test]
        fn numbered_safe_names_stay_safe(raw in nasty(), n in 1u32..=10_000) {
            if let Ok(c) = safe_component(&raw) {
                let numbered = numbered(&c, n);
                assert_contained(&numbered);
                prop_assert_ne!(numbered, c);
            }
        }

        #[test]
        fn paths_are_refused_or_all_contained(raw in nasty()) {
            if let Ok(parts) = safe_relative_path(&raw) {
                prop_assert!(!parts.is_empty() && parts.len() <= MAX_DEPTH);
                for p in &parts {
                    assert_contained(p);
                }
            }
        }
    }
}
