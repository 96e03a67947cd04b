//! Text from the network, made fit to show. Pure: no I/O, no state.
//!
//! Everything a peer sends that a person may read — file names, error texts, refused names —
//! is untrusted. Shown as it is, an ESC sequence could recolour a terminal, move its cursor up
//! over the lines a person is about to decide on, set the window title or plant an OSC 8 link;
//! a CR or backspace could overwrite what was printed; a bidi override (U+202E) makes
//! `gpj.exe` read as `exe.jpg`; a zero-width space makes two different names look the same.
//!
//! One rule decides which characters are **hidden** ([`is_hidden`], in context
//! [`chars_in_context`]): control characters (Unicode category Cc: C0, DEL, C1), format
//! characters (category Cf: bidi controls, zero-width space/non-joiner/joiner, word joiner,
//! BOM, soft hyphen, …) and the line and paragraph separators (U+2028, U+2029). The one
//! exception is what emoji need to be drawn as one picture: a zero-width joiner between two
//! emoji (`👨‍👩‍👧`) and the tag characters of a subdivision flag (🏴 + tags).
//!
//! * [`display`] shows each hidden character as a visible escape, `\u{1b}` — so
//!   `evil\x1b[31m.txt` reads `evil\u{1b}[31m.txt` and the person sees that the name is odd.
//!   Every front end (terminal and window) shows peer text through it; `--json` output stays
//!   exact.
//! * [`crate::protocol::clean_display_name`] removes them from device names (which are made
//!   clean once, when they arrive).
//! * [`crate::transfer::names`] removes or replaces them in the names files are stored under.

use std::borrow::Cow;

use unicode_properties::{GeneralCategory, UnicodeEmoji, UnicodeGeneralCategory};

const ZWJ: char = '\u{200D}';
const BLACK_FLAG: char = '\u{1F3F4}';

/// Is `c` a character that must never reach a screen as itself (ignoring the emoji exceptions
/// that [`chars_in_context`] makes)?
pub fn is_hidden(c: char) -> bool {
    matches!(c.general_category(), GeneralCategory::Control | GeneralCategory::Format)
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Is `c` a bidirectional control (the "Trojan Source" family), a subset of the hidden ones?
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Each character of `s` with whether it is hidden *here*: like [`is_hidden`], except that a
/// zero-width joiner between two emoji and the tag characters that follow a black flag are
/// parts of a picture, not hidden.
pub fn chars_in_context(s: &str) -> impl Iterator<Item = (char, bool)> + '_ {
    let mut prev: Option<char> = None;
    // Inside a flag's tag sequence (🏴 followed by tag characters up to CANCEL TAG).
    let mut in_flag_tags = false;
    let mut chars = s.chars().peekable();
    std::iter::from_fn(move || {
        let c = chars.next()?;
        let hidden = if c == ZWJ {
            !(prev.is_some_and(is_emoji_part) && chars.peek().is_some_and(|&n| is_emoji(n)))
        } else if is_tag(c) {
            let allowed = in_flag_tags || prev == Some(BLACK_FLAG);
            in_flag_tags = allowed && c != '\u{E007F}';
            !allowed
        } else {
            in_flag_tags = false;
            is_hidden(c)
        };
        prev = Some(c);
        Some((c, hidden))
    })
}

/// `s` as it may be shown to a person: every hidden character (see the module docs) replaced by
/// its escape `\u{…}` (lower-case hex), everything else unchanged. Borrowed when nothing needed
/// escaping, which is nearly always.
pub fn display(s: &str) -> Cow<'_, str> {
    if !chars_in_context(s).any(|(_, hidden)| hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for (c, hidden) in chars_in_context(s) {
        if hidden {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Does `s` contain anything [`display`] would escape?
pub fn has_hidden(s: &str) -> bool {
    chars_in_context(s).any(|(_, hidden)| hidden)
}

/// An emoji, or something that ends one (a skin-tone modifier, the emoji variation selector),
/// before a zero-width joiner.
fn is_emoji_part(c: char) -> bool {
    is_emoji(c) || c == '\u{FE0F}' || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

/// A picture character: the ones a zero-width joiner may glue together. Digits, `#` and `*`
/// carry the Emoji property too (for keycaps) but are not glued by a joiner.
fn is_emoji(c: char) -> bool {
    !c.is_ascii() && c.is_emoji_char()
}

fn is_tag(c: char) -> bool {
    ('\u{E0020}'..='\u{E007F}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences_are_shown_escaped() {
        assert_eq!(display("evil\x1b[31m.txt"), "evil\\u{1b}[31m.txt");
        assert_eq!(display("a\rb\nc\td\u{8}e\u{7}"), "a\\u{d}b\\u{a}c\\u{9}d\\u{8}e\\u{7}");
        // OSC 8 link and window title, and a C1 CSI.
        assert_eq!(display("\x1b]8;;http://x\x07y"), "\\u{1b}]8;;http://x\\u{7}y");
        assert_eq!(display("x\u{9b}2J"), "x\\u{9b}2J");
        assert_eq!(display("del\u{7f}"), "del\\u{7f}");
    }

    #[test]
    fn bidi_and_invisible_characters_are_shown_escaped() {
        assert_eq!(display("evil\u{202E}gpj.exe"), "evil\\u{202e}gpj.exe");
        for c in ['\u{202A}', '\u{202D}', '\u{2066}', '\u{2069}', '\u{061C}', '\u{200E}', '\u{200F}'] {
            assert!(is_bidi_control(c) && is_hidden(c), "{c:?}");
            assert_eq!(display(&format!("a{c}b")), format!("a\\u{{{:x}}}b", c as u32));
        }
        for c in
            ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{180E}', '\u{2028}']
        {
            assert_eq!(display(&format!("invoice{c}.pdf")), format!("invoice\\u{{{:x}}}.pdf", c as u32));
        }
    }

    #[test]
    fn emoji_sequences_stay_whole() {
        for s in [
            "👨‍👩‍👧 family.jpg",
            "🧑🏽‍💻 at work",
            "🏳️‍🌈.png",
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} England",
        ] {
            assert!(matches!(display(s), Cow::Borrowed(_)), "{s:?} -> {:?}", display(s));
        }
        // A joiner that joins nothing, or text, is hidden; so is a lone tag character.
        assert_eq!(display("a\u{200D}b"), "a\\u{200d}b");
        assert_eq!(display("😀\u{200D}"), "😀\\u{200d}");
        assert_eq!(display("1\u{200D}2"), "1\\u{200d}2");
        assert_eq!(display("x\u{E0041}"), "x\\u{e0041}");
        assert_eq!(display("🏴\u{E0067}\u{E007F}\u{E0067}"), "🏴\u{E0067}\u{E007F}\\u{e0067}");
    }

    #[test]
    fn ordinary_text_in_any_script_is_untouched() {
        for s in
            ["IMG_0001.JPG", "照片 2024.jpg", "صورة.png", "שלום", "Ünïcödé café", "日本語 テスト", "😀🎉"]
        {
            assert!(matches!(display(s), Cow::Borrowed(_)), "{s:?}");
            assert!(!has_hidden(s));
        }
    }
}
