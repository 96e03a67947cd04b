//! Fallback fonts so that every file name renders. egui's built-in fonts cover Latin, Greek,
//! Cyrillic and emoji (monochrome), but no Chinese, Japanese, Korean, Arabic or Hebrew. At start we
//! look for system fonts that cover those and append them to egui's fallback chain.
//!
//! [`load_system_fallbacks`] reads font files (tens of megabytes for CJK): run it on a thread
//! while the window is being created, then hand the result to [`install`].

use egui::{FontData, FontFamily, FontInsert, FontPriority, InsertFontFamily};

/// Families tried, in order, for Chinese, Japanese and Korean (one font covers all three, with
/// Simplified Chinese glyph shapes first since that is the language we ship).
pub const CJK_FAMILIES: &[&str] = &[
    "Noto Sans CJK SC",
    "Noto Sans CJK",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Source Han Sans",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
];

/// Families tried, in order, for Arabic, Hebrew and other scripts egui lacks.
pub const OTHER_SCRIPT_FAMILIES: &[&str] = &[
    "Noto Sans Arabic",
    "Noto Naskh Arabic",
    "DejaVu Sans",
    "Segoe UI",
    "Arial Unicode MS",
    "Geeza Pro",
    "Tahoma",
];

/// A font file found on this system, ready to hand to egui.
pub struct FallbackFont {
    /// The family name it was found under.
    pub family: String,
    pub data: Vec<u8>,
    /// Face index inside a font collection (`.ttc`).
    pub index: u32,
}

/// Environment variable naming more folders of fonts to look in, separated like `PATH` (a
/// portable install's own fonts; tests).
pub const FONT_DIRS_ENV: &str = "FERRY_FONT_DIRS";

/// Finds and reads the first installed font of [`CJK_FAMILIES`] and of
/// [`OTHER_SCRIPT_FAMILIES`], from the system's fonts and the folders in [`FONT_DIRS_ENV`].
/// Reads from disk: call it off the UI thread. Empty when none is installed (the README says
/// what to install).
pub fn load_system_fallbacks() -> Vec<FallbackFont> {
    let extra: Vec<std::path::PathBuf> =
        std::env::var_os(FONT_DIRS_ENV).map(|v| std::env::split_paths(&v).collect()).unwrap_or_default();
    load_fallbacks(true, &extra)
}

/// As [`load_system_fallbacks`], looking in `dirs` (and in the system's fonts when `system`).
/// Tests use their own small fonts this way, so they pass, and prove the same loading, on a
/// machine without CJK fonts.
pub fn load_fallbacks(system: bool, dirs: &[std::path::PathBuf]) -> Vec<FallbackFont> {
    let mut db = fontdb::Database::new();
    if system {
        db.load_system_fonts();
    }
    for dir in dirs {
        db.load_fonts_dir(dir);
    }
    [CJK_FAMILIES, OTHER_SCRIPT_FAMILIES]
        .iter()
        .filter_map(|families| first_installed(&db, families))
        .collect()
}

/// Whether one of the fonts covers Chinese (the window warns when its Chinese text would be
/// boxes).
pub fn has_cjk(fonts: &[FallbackFont]) -> bool {
    fonts.iter().any(|f| CJK_FAMILIES.contains(&f.family.as_str()))
}

fn first_installed(db: &fontdb::Database, families: &[&str]) -> Option<FallbackFont> {
    families.iter().find_map(|&family| {
        let id = db.query(&fontdb::Query {
            families: &[fontdb::Family::Name(family)],
            weight: fontdb::Weight::NORMAL,
            stretch: fontdb::Stretch::Normal,
            style: fontdb::Style::Normal,
        })?;
        db.with_face_data(id, |data, index| FallbackFont {
            family: family.to_owned(),
            data: data.to_vec(),
            index,
        })
    })
}

/// Appends the fonts to the end of egui's proportional and monospace families, so they are used
/// only for characters egui's own fonts lack.
pub fn install(ctx: &egui::Context, fonts: Vec<FallbackFont>) {
    for font in fonts {
        let families = [FontFamily::Proportional, FontFamily::Monospace]
            .into_iter()
            .map(|family| InsertFontFamily { family, priority: FontPriority::Lowest })
            .collect();
        let data = FontData::from_blob(std::sync::Arc::new(font.data), font.index);
        ctx.add_font(FontInsert::new(&font.family, data, families));
    }
}
