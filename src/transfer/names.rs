//! Turning file names from the network into names that are safe on *this* disk — and on any disk
//! the receive folder may really be (an exFAT stick, a Windows share), so the rule is the same on
//! every platform. PROTOCOL.md §9.1 states it exactly, with the vectors `tests/names_vectors.rs`
//! checks.
//!
//! A peer offers paths like `Trip/day 1/IMG_0001.jpg`. Nothing about them is trusted, but a
//! person's file should arrive whatever its name: **an odd character costs a character, never the
//! file.** Each `/`-separated piece becomes exactly one harmless path component:
//!
//! * characters some supported file system cannot store (`< > : " | ? * \` and control
//!   characters) become [`SUBSTITUTE`] (`_`);
//! * invisible characters (Unicode category Cf: zero-width space, BOM, bidi controls …) are
//!   removed — except what emoji need to be drawn as one picture — using the same
//!   classification the display side uses ([`crate::text::chars_in_context`]);
//! * the name is composed to NFC, so `café` from macOS (decomposed) and from Windows is one name;
//! * trailing dots and white space are trimmed (Windows would strip them silently);
//! * a Windows device name (`CON`, `nul.txt`, `COM1.log` …) gets [`DEVICE_MARKER`] after the
//!   device word (`CON.jpg` → `CON_.jpg`);
//! * a name over [`MAX_COMPONENT_BYTES`] is shortened, keeping its extension.
//!
//! Only what cannot be a name is **refused**: empty, `.`, `..`, nothing visible left after
//! cleaning, and path tricks — absolute paths, drive letters (`C:`), `\` used to climb (`..\x`)
//! or to start at the top of a disk (`\x`), more than [`MAX_DEPTH`] levels.
//!
//! Every accepted result `r` satisfies `safe_component(r) == Ok(r)`: the store checks names
//! again with that, and numbering ([`numbered`], [`numbered_folder`]) keeps it true.
//!
//! Invalid UTF-8 cannot reach this module: the message decoder (`protocol::codec::Reader::str16`)
//! already rejects it, which is why everything here takes `&str`.

use unicode_normalization::UnicodeNormalization;

use crate::protocol::MAX_DEPTH;
use crate::protocol::codec::truncate_utf8;
use crate::text::chars_in_context;

/// Longest path component, in bytes, that ext4, APFS, NTFS (in UTF-16 units, so more) and
/// exFAT all accept.
pub const MAX_COMPONENT_BYTES: usize = 255;

/// A shortened or numbered name keeps its extension only up to this length (dot included), so
/// `.jpg` and `.tar.gz`'s `.gz` survive while an "extension" that is really half the name does
/// not.
pub const MAX_EXTENSION_BYTES: usize = 16;

/// What every character a disk cannot store becomes. ASCII, typeable, the same on every system,
/// and visibly not the original — see PROTOCOL.md §9.1 for why not the full-width lookalikes.
pub const SUBSTITUTE: char = '_';

/// Put right after a Windows device word so the name no longer is one (`CON.jpg` → `CON_.jpg`).
pub const DEVICE_MARKER: char = '_';

/// The characters Windows (and so NTFS, exFAT, FAT and SMB shares) cannot store in a name,
/// besides control characters. `/` never reaches here: paths are split at it.
const FORBIDDEN: &[char] = &['<', '>', ':', '"', '|', '?', '*', '\\'];

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
    #[error("the name uses \"\\\" to reach a folder outside its own (\"..\\\")")]
    BackslashClimb,
    #[error("the name contains a folder separator \"/\"")]
    Separator,
    #[error("nothing visible is left of the name (only spaces, dots or invisible characters)")]
    NothingVisible,
    #[error("the path has {depth} levels of folders; at most {max} are accepted")]
    TooDeep { depth: usize, max: usize },
    #[error("the name is too long and nothing visible is left after shortening it")]
    TooLong,
}

/// Turns one path component from the network into the name it is stored under, or refuses it
/// (see the module docs and PROTOCOL.md §9.1). The result is always one component that stays
/// inside any folder it is joined onto, and `safe_component(result) == Ok(result)`.
pub fn safe_component(raw: &str) -> Result<String, NameError> {
    refuse_path_tricks(raw)?;
    let mut name = clean_chars(raw);
    let mut shortened = false;
    // Marking a device name adds a byte and shortening can expose one ("CON" + spaces + "x"
    // cut after the spaces): two rounds always settle it, the third is a safety margin.
    for _ in 0..3 {
        if !name.chars().any(is_visible) {
            return Err(if shortened { NameError::TooLong } else { NameError::NothingVisible });
        }
        mark_device_name(&mut name);
        if name.len() <= MAX_COMPONENT_BYTES {
            return Ok(name);
        }
        name = clean_chars(&shorten(&name));
        shortened = true;
    }
    Err(NameError::TooLong)
}

/// Splits a wire path (`Trip/day 1/IMG_0001.jpg`) on `/` and makes every piece safe. At most
/// [`MAX_DEPTH`] pieces; an empty piece (`a//b`, `a/`) or a leading `/` or `\` refuses the whole
/// path, and so does any refused piece.
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

/// The name to try when file `name` is already taken: `photo.jpg` → `photo (1).jpg`, `notes` →
/// `notes (1)`, `.bashrc` → `.bashrc (1)`, `archive.tar.gz` → `archive.tar (1).gz`. Stays within
/// [`MAX_COMPONENT_BYTES`] by shortening the part before the extension. For a name that passed
/// [`safe_component`] the result passes too, unchanged.
pub fn numbered(name: &str, n: u32) -> String {
    let (stem, ext) = split_extension(name);
    with_number(stem, n, ext)
}

/// The name to try when folder `name` is taken by something that is not a folder: the number
/// goes at the end (`Trip.2024` → `Trip.2024 (1)`), since folders have no extension.
pub fn numbered_folder(name: &str, n: u32) -> String {
    with_number(name, n, "")
}

/// The form in which two names are "the same name" on a disk that ignores case and
/// normalisation (NTFS, APFS, exFAT): NFC, then Unicode lower case. The receiver numbers a name
/// whose key is taken, on every platform (PROTOCOL.md §9.1).
pub fn collision_key(name: &str) -> String {
    name.nfc().collect::<String>().to_lowercase()
}

/// Does this character show? Not white space, not a dot, not hidden (control or format
/// characters, see [`crate::text`]), not one the Unicode standard says to draw as nothing
/// (Default_Ignorable_Code_Point, e.g. the Hangul filler U+3164). A name needs at least one.
pub fn is_visible(c: char) -> bool {
    !(c.is_whitespace() || c == '.' || crate::text::is_hidden(c) || is_default_ignorable(c))
}

/// The refusals that look at the offered text itself: things that are not a name but a path.
fn refuse_path_tricks(raw: &str) -> Result<(), NameError> {
    if raw.is_empty() {
        return Err(NameError::Empty);
    }
    if raw == "." || raw == ".." {
        return Err(NameError::DotName);
    }
    if raw.contains('/') {
        return Err(NameError::Separator);
    }
    let mut chars = raw.chars();
    if let (Some(letter), Some(':')) = (chars.next(), chars.next())
        && letter.is_ascii_alphabetic()
    {
        return Err(NameError::DriveLetter);
    }
    // A `\` is a character like `?` (`AC\DC.mp3` → `AC_DC.mp3`) unless, read as a Windows path,
    // the name would start at the top of a disk or climb: `\x`, `..\x`, `a\..\b`, `a\. .\b`.
    if raw.starts_with('\\') {
        return Err(NameError::Absolute);
    }
    if raw.contains('\\')
        && raw.split('\\').any(|piece| !piece.is_empty() && piece.chars().all(|c| c == '.' || c == ' '))
    {
        return Err(NameError::BackslashClimb);
    }
    Ok(())
}

/// Replaces what no disk may store, removes what does not show, composes to NFC and trims the
/// end. (Steps 1–3 of PROTOCOL.md §9.1.)
fn clean_chars(raw: &str) -> String {
    let mut kept = String::with_capacity(raw.len());
    for (c, hidden) in chars_in_context(raw) {
        if FORBIDDEN.contains(&c) || c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            // Control characters and the line/paragraph separators are line breaks, tabs and
            // the like: a visible gap is fairer to the name than nothing.
            kept.push(SUBSTITUTE);
        } else if !hidden {
            kept.push(c);
        }
    }
    let mut name: String = if unicode_normalization::is_nfc(&kept) { kept } else { kept.nfc().collect() };
    let end = name.trim_end_matches(|c: char| c == '.' || c.is_whitespace()).len();
    name.truncate(end);
    name
}

/// Inserts [`DEVICE_MARKER`] after a Windows device word: the part before the first dot, with
/// trailing spaces ignored, compared without case (`CON`, `nul.txt`, `Aux .tar.gz`).
fn mark_device_name(name: &mut String) {
    let base = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    if is_device_word(base) {
        name.insert(base.len(), DEVICE_MARKER);
    }
}

/// CON, PRN, AUX, NUL, CONIN$, CONOUT$, COM0–9, LPT0–9 and COM/LPT with the superscript digits
/// ¹ ² ³ that Windows also maps to ports — in any case. (`COM10`, `CONSOLE` are ordinary names.)
fn is_device_word(base: &str) -> bool {
    if base.len() > 7 {
        return false;
    }
    let upper = base.to_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => match upper.strip_prefix("COM").or_else(|| upper.strip_prefix("LPT")) {
            Some(digit) => {
                let mut d = digit.chars();
                matches!((d.next(), d.next()), (Some('0'..='9' | '¹' | '²' | '³'), None))
            }
            None => false,
        },
    }
}

/// `photo.jpg` → (`photo`, `.jpg`). A leading dot is not an extension (`.bashrc` has none), nor
/// is a lone dot, nor one longer than [`MAX_EXTENSION_BYTES`].
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_EXTENSION_BYTES && name.len() - dot > 1 => {
            name.split_at(dot)
        }
        _ => (name, ""),
    }
}

/// Cuts a cleaned name that is over [`MAX_COMPONENT_BYTES`] down to it, keeping the extension.
/// The cut is at the end of the part before the extension, at a character boundary; if that
/// would leave nothing visible (a name that starts with hundreds of spaces), characters are
/// dropped from the start instead, just enough for the first visible one to fit. The caller
/// cleans the result again (a cut can leave a joiner with nothing to join, or a trailing space).
fn shorten(name: &str) -> String {
    let (stem, ext) = split_extension(name);
    let room = MAX_COMPONENT_BYTES - ext.len();
    let head = truncate_utf8(stem, room);
    let kept = if head.chars().any(is_visible) || ext.chars().any(is_visible) {
        head
    } else {
        match stem.char_indices().find(|&(_, c)| is_visible(c)) {
            Some((at, c)) => {
                let mut start = (at + c.len_utf8()).saturating_sub(room);
                while !stem.is_char_boundary(start) {
                    start += 1;
                }
                truncate_utf8(&stem[start..], room)
            }
            None => head,
        }
    };
    format!("{kept}{ext}")
}

/// `stem (n)ext`, shortening `stem` so the whole stays within [`MAX_COMPONENT_BYTES`].
fn with_number(stem: &str, n: u32, ext: &str) -> String {
    let suffix = format!(" ({n})");
    let room = MAX_COMPONENT_BYTES.saturating_sub(suffix.len() + ext.len());
    let cut = truncate_utf8(stem, room);
    let mut out = String::with_capacity(cut.len() + suffix.len() + ext.len());
    // A cut can leave a joiner at the end with nothing to join: drop what is hidden there now.
    out.extend(chars_in_context(cut).filter(|&(_, hidden)| !hidden).map(|(c, _)| c));
    out.push_str(&suffix);
    out.push_str(ext);
    out
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 16): characters
/// drawn as nothing. The format characters among them are removed from names anyway; the rest
/// (fillers, variation selectors, the combining grapheme joiner) may stay in a name but do not
/// make it visible.
fn is_default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests;
