use super::*;
use proptest::prelude::*;
use std::path::{Component, Path};

fn stored(raw: &str) -> Result<String, NameError> {
    safe_component(raw)
}

#[test]
fn ordinary_and_international_names_pass_byte_identical() {
    for name in [
        "IMG_0001.jpg",
        "照片 2024.jpg",
        "صورة.png",
        "😀🎉.heic",
        "👨‍👩‍👧 family.jpg",
        "🧑🏽‍💻 at work.png",
        "🏳️‍🌈.png",
        "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} England.jpg",
        "café.txt",
        ".bashrc",
        "..hidden",
        "  leading space.txt",
        "archive.tar.gz",
        "no extension",
        "CONSOLE.txt",
        "COM10",
        "COM⁴.txt",
        "a$b#c%d&e'f(g)h[i]j{k}l~m;n=o+p,q@r!s",
    ] {
        assert_eq!(stored(name).as_deref(), Ok(name), "{name:?}");
    }
}

#[test]
fn characters_no_disk_may_store_are_replaced() {
    for (raw, want) in [
        ("What?.jpg", "What_.jpg"),
        ("Meeting: notes.txt", "Meeting_ notes.txt"),
        ("He said \"hi\".jpg", "He said _hi_.jpg"),
        ("a|b.png", "a_b.png"),
        ("<tag>*.txt", "_tag__.txt"),
        ("photo.jpg:stream", "photo.jpg_stream"),
        ("AC\\DC - Back in Black.mp3", "AC_DC - Back in Black.mp3"),
        ("nul\0byte", "nul_byte"),
        ("line\nbreak\r.txt", "line_break_.txt"),
        ("tab\there", "tab_here"),
        ("esc\u{1b}[31m.txt", "esc_[31m.txt"),
        ("del\u{7f}", "del_"),
        ("c1\u{85}x", "c1_x"),
        ("para\u{2029}graph", "para_graph"),
        ("?", "_"),
        ("x\\", "x_"),
    ] {
        assert_eq!(stored(raw).as_deref(), Ok(want), "{raw:?}");
    }
}

#[test]
fn invisible_characters_are_removed_but_emoji_stay_whole() {
    for (raw, want) in [
        ("invoice\u{200B}.pdf", "invoice.pdf"),
        ("\u{FEFF}bom.txt", "bom.txt"),
        ("zw\u{200C}nj\u{200D}j.txt", "zwnjj.txt"),
        ("evil\u{202E}gpj.exe", "evilgpj.exe"),
        ("x\u{2067}y\u{2069}", "xy"),
        ("mongolian\u{180E}.txt", "mongolian.txt"),
        ("word\u{2060}joiner", "wordjoiner"),
        ("soft\u{AD}hyphen", "softhyphen"),
        ("😀\u{200D}.png", "😀.png"),
        ("a\u{E0041}b", "ab"),
    ] {
        assert_eq!(stored(raw).as_deref(), Ok(want), "{raw:?}");
    }
}

#[test]
fn names_are_composed_to_nfc() {
    assert_eq!(stored("cafe\u{301}.txt").as_deref(), Ok("café.txt"));
    assert_eq!(stored("café.txt").as_deref(), Ok("café.txt"));
    // An invisible character between a letter and its accent is removed first, so they compose.
    assert_eq!(stored("e\u{200B}\u{301}").as_deref(), Ok("é"));
    // Hangul jamo compose to syllables.
    assert_eq!(stored("\u{1100}\u{1161}\u{11A8}.txt").as_deref(), Ok("각.txt"));
    // Singletons: the Ohm sign is Omega, the Kelvin sign K.
    assert_eq!(stored("10\u{2126}").as_deref(), Ok("10Ω"));
}

#[test]
fn trailing_dots_and_white_space_are_trimmed() {
    for (raw, want) in [
        ("x.jpg.", "x.jpg"),
        ("trailing ", "trailing"),
        ("dots...", "dots"),
        ("mixed . . ", "mixed"),
        ("ideographic\u{3000}", "ideographic"),
        ("nbsp\u{A0}", "nbsp"),
        ("hidden end.\u{200B}", "hidden end"),
    ] {
        assert_eq!(stored(raw).as_deref(), Ok(want), "{raw:?}");
    }
}

#[test]
fn windows_device_names_get_a_marker() {
    for (raw, want) in [
        ("CON", "CON_"),
        ("CON.jpg", "CON_.jpg"),
        ("con.txt", "con_.txt"),
        ("Nul.tar.gz", "Nul_.tar.gz"),
        ("aux .txt", "aux_ .txt"),
        ("PRN", "PRN_"),
        ("COM1", "COM1_"),
        ("com0.log", "com0_.log"),
        ("lpt9.log", "lpt9_.log"),
        ("com¹.txt", "com¹_.txt"),
        ("LPT³", "LPT³_"),
        ("CONIN$", "CONIN$_"),
        ("conout$.txt", "conout$_.txt"),
        ("CON.", "CON_"),
        ("CON ", "CON_"),
        ("CO\u{200B}N", "CON_"),
        ("CON?", "CON_"),
    ] {
        assert_eq!(stored(raw).as_deref(), Ok(want), "{raw:?}");
    }
}

#[test]
fn only_what_cannot_be_a_name_is_refused() {
    let cases: &[(&str, NameError)] = &[
        ("", NameError::Empty),
        (".", NameError::DotName),
        ("..", NameError::DotName),
        ("C:foo", NameError::DriveLetter),
        ("c:", NameError::DriveLetter),
        ("a/b", NameError::Separator),
        ("\\etc", NameError::Absolute),
        ("\\\\server\\share", NameError::Absolute),
        ("..\\..\\windows", NameError::BackslashClimb),
        ("Trip\\..\\x", NameError::BackslashClimb),
        ("a\\.\\b", NameError::BackslashClimb),
        ("a\\. .\\b", NameError::BackslashClimb),
        ("x\\..", NameError::BackslashClimb),
        ("...", NameError::NothingVisible),
        (". .", NameError::NothingVisible),
        ("   ", NameError::NothingVisible),
        ("\u{200B}", NameError::NothingVisible),
        ("\u{200B}\u{FEFF}\u{202E}", NameError::NothingVisible),
        (".\u{200B}.", NameError::NothingVisible),
        ("\u{3164}", NameError::NothingVisible),
        (" \u{3164} .", NameError::NothingVisible),
        ("\u{FE0F}", NameError::NothingVisible),
    ];
    for (name, want) in cases {
        assert_eq!(stored(name).as_ref(), Err(want), "{name:?}");
    }
}

#[test]
fn paths_split_into_safe_components() {
    let ok = |parts: &[&str]| Ok(parts.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>());
    assert_eq!(safe_relative_path("Trip/day 1/IMG_0001.jpg"), ok(&["Trip", "day 1", "IMG_0001.jpg"]));
    assert_eq!(safe_relative_path("Trip?/CON/What?.jpg"), ok(&["Trip_", "CON_", "What_.jpg"]));
    assert_eq!(safe_relative_path("/etc/passwd"), Err(NameError::Absolute));
    assert_eq!(safe_relative_path("\\\\server\\share"), Err(NameError::Absolute));
    assert_eq!(safe_relative_path("\\x"), Err(NameError::Absolute));
    assert_eq!(safe_relative_path("Trip/../../.ssh/authorized_keys"), Err(NameError::DotName));
    assert_eq!(safe_relative_path("Trip/..\\..\\x"), Err(NameError::BackslashClimb));
    assert_eq!(safe_relative_path("a//b"), Err(NameError::Empty));
    assert_eq!(safe_relative_path("a/"), Err(NameError::Empty));
    assert_eq!(safe_relative_path("a/\u{200B}/b"), Err(NameError::NothingVisible));
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
    let short = stored(&long).unwrap();
    assert_eq!(short, format!("{}.jpg", "a".repeat(251)));

    // Three-byte characters: the cut lands on a character boundary.
    let long = format!("{}.png", "名".repeat(100));
    let short = stored(&long).unwrap();
    assert_eq!(short, format!("{}.png", "名".repeat(83)));

    // An "extension" longer than the limit is just part of the name.
    let long = format!("x.{}", "e".repeat(300));
    assert_eq!(stored(&long).unwrap().len(), MAX_COMPONENT_BYTES);

    // The cut must not leave a trailing space, or expose a device name.
    let long = format!("name{}x", " ".repeat(300));
    assert_eq!(stored(&long).as_deref(), Ok("name"));
    let long = format!("CON{}x", " ".repeat(300));
    assert_eq!(stored(&long).as_deref(), Ok("CON_"));
    // "CON" + spaces + "a.jpg" is not a device name, its shortened form would be.
    let long = format!("CON{}a.jpg", " ".repeat(300));
    assert_eq!(stored(&long).unwrap(), format!("CON_{}.jpg", " ".repeat(247)));
    // A marked device name at the limit is shortened by the byte the marker costs.
    let long = format!("CON.{}", "x".repeat(251));
    assert_eq!(stored(&long).unwrap(), format!("CON_.{}", "x".repeat(250)));

    // Nothing visible at the start: the cut keeps the first visible character instead.
    let long = format!(".{}x", " ".repeat(300));
    assert_eq!(stored(&long).unwrap(), format!("{}x", " ".repeat(254)));
    let long = format!("{}x{}y", " ".repeat(300), " ".repeat(300));
    assert_eq!(stored(&long).unwrap(), format!("{}x", " ".repeat(254)));

    // A cut through an emoji sequence drops the joiner left with nothing to join.
    let family = "👨‍👩‍👧";
    let long = format!("{}{family}", "a".repeat(240));
    let short = stored(&long).unwrap();
    assert!(short.len() <= MAX_COMPONENT_BYTES && !short.ends_with('\u{200D}'), "{short:?}");
    assert_eq!(stored(&short).as_deref(), Ok(short.as_str()));
}

#[test]
fn numbered_names_keep_the_extension() {
    assert_eq!(numbered("photo.jpg", 1), "photo (1).jpg");
    assert_eq!(numbered("notes", 2), "notes (2)");
    assert_eq!(numbered(".bashrc", 1), ".bashrc (1)");
    assert_eq!(numbered("archive.tar.gz", 3), "archive.tar (3).gz");
    assert_eq!(numbered("CON_.jpg", 1), "CON_ (1).jpg");
    assert_eq!(numbered("IMG.JPG", 1), "IMG (1).JPG");
    assert_eq!(numbered_folder("Trip.2024", 1), "Trip.2024 (1)");
    assert_eq!(numbered_folder("x", 12), "x (12)");
    let long = stored(&format!("{}.jpg", "b".repeat(400))).unwrap();
    let n = numbered(&long, 9999);
    assert_eq!(n, format!("{} (9999).jpg", "b".repeat(244)));
    let n = numbered_folder(&"c".repeat(255), 1);
    assert_eq!(n, format!("{} (1)", "c".repeat(251)));
    // A cut through an emoji sequence leaves no dangling joiner before the number.
    let name = format!("{}👨‍👩‍👧", "a".repeat(240));
    let n = numbered(&name, 1);
    assert_eq!(stored(&n).as_deref(), Ok(n.as_str()));
}

#[test]
fn collision_keys_ignore_case_and_normalisation() {
    assert_eq!(collision_key("IMG.JPG"), collision_key("img.jpg"));
    assert_eq!(collision_key("Café.txt"), collision_key("cafe\u{301}.TXT"));
    assert_eq!(collision_key("ÄÖÜ"), "äöü");
    assert_ne!(collision_key("a.jpg"), collision_key("b.jpg"));
}

/// NFC runs after forbidden and hidden characters are handled: it must not bring any back.
/// Checked for every character there is.
#[test]
fn composition_never_creates_a_forbidden_or_hidden_character() {
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let bad = |c: char| FORBIDDEN.contains(&c) || crate::text::is_hidden(c);
        if bad(c) {
            continue;
        }
        let s = c.to_string();
        assert!(!s.nfc().any(bad), "{c:?} composes to {:?}", s.nfc().collect::<String>());
    }
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
    assert!(!c.contains(FORBIDDEN) && !c.contains('/'), "{c:?} has a forbidden character");
    assert!(!crate::text::has_hidden(c), "{c:?} has a hidden character");
    assert!(unicode_normalization::is_nfc(c), "{c:?} is not NFC");
    assert!(!c.ends_with(|e: char| e == '.' || e.is_whitespace()), "{c:?} ends with a dot or space");
    assert!(c.chars().any(is_visible), "{c:?} shows nothing");
    let base_word = c.split('.').next().unwrap().trim_end_matches(' ');
    assert!(!is_device_word(base_word), "{c:?} is a device name");
    assert_eq!(safe_component(c).as_deref(), Ok(c), "not idempotent");
}

/// Would this offered component be refused as a path trick (the only refusals besides "nothing
/// visible")?
fn is_path_trick(raw: &str) -> bool {
    refuse_path_tricks(raw).is_err()
}

fn nasty() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("/".to_owned()),
        Just("\\".to_owned()),
        Just(":".to_owned()),
        Just("?".to_owned()),
        Just("C:".to_owned()),
        Just(" ".to_owned()),
        Just("\u{3000}".to_owned()),
        Just("CON".to_owned()),
        Just("lpt1".to_owned()),
        Just("com¹".to_owned()),
        Just("\u{202E}".to_owned()),
        Just("\u{200B}".to_owned()),
        Just("\u{200D}".to_owned()),
        Just("\u{FEFF}".to_owned()),
        Just("\u{3164}".to_owned()),
        Just("\u{0301}".to_owned()),
        Just("\u{0323}".to_owned()),
        Just("e".to_owned()),
        Just("\u{1100}".to_owned()),
        Just("\u{1161}".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{7f}".to_owned()),
        Just("名".to_owned()),
        Just("😀".to_owned()),
        Just("👨".to_owned()),
        Just("\u{FE0F}".to_owned()),
        Just("🏴".to_owned()),
        Just("\u{E0067}".to_owned()),
        Just("\u{E007F}".to_owned()),
        Just("مرحبا".to_owned()),
        Just(".jpg".to_owned()),
        "[a-z]{1,8}",
        "[\\x00-\\x1f]",
        " {10,200}",
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
        }
    }

    /// The promise to people: a name with anything visible in it arrives (unless it is a path
    /// trick), however long and whatever else it contains.
    #[test]
    fn every_name_with_something_visible_is_saved(raw in nasty()) {
        if !is_path_trick(&raw) && chars_in_context(&raw).any(|(c, hidden)| !hidden && is_visible(c)) {
            let got = safe_component(&raw);
            prop_assert!(got.is_ok(), "{:?} -> {:?}", raw, got);
        }
    }

    #[test]
    fn clean_names_stay_as_they_are(raw in "[a-zA-Z0-9 _()\\-]{0,40}[a-zA-Z0-9_()\\-]") {
        prop_assert_eq!(safe_component(&raw), Ok(raw.clone()));
    }

    #[test]
    fn numbered_safe_names_stay_safe(raw in nasty(), n in 1u32..=10_000) {
        if let Ok(c) = safe_component(&raw) {
            for numbered in [numbered(&c, n), numbered_folder(&c, n)] {
                assert_contained(&numbered);
                prop_assert_ne!(collision_key(&numbered), collision_key(&c));
            }
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
