//! The window (egui/eframe). It renders [`AppState`] and turns clicks into engine
//! [`Command`](crate::engine::Command)s; it never touches the network, and disk work goes to
//! background threads ([`worker`]).
//!
//! * [`state`] — the window's state; the one place events and results change it.
//! * `actions` — what clicks ask for, as engine commands and background jobs.
//! * [`model`] — the data shown: chosen files, offers, transfers, previews.
//! * `view_*` — drawing: the main screen, the incoming prompt, transfers, settings (and in it
//!   this device's identity and the known devices, [`known`]).
//! * [`worker`] — file dialogs, measuring, previews, free space, saving, opening folders and
//!   showing files in them.
//! * [`fonts`] — system fallback fonts for CJK, Arabic and more.
//! * [`i18n`] — English and Simplified Chinese strings.
//! * [`history`] — recent transfers, persisted as JSON.
//!
//! [`run`] starts the engine with a waker that repaints the window, so the window draws only
//! when something happened: an idle window uses no CPU.

mod actions;
pub mod fonts;
pub mod history;
pub mod i18n;
pub mod known;
pub mod model;
pub mod state;
mod view_identity;
mod view_main;
mod view_prompt;
mod view_settings;
mod view_transfers;
mod widgets;
pub mod worker;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

pub use model::{Notice, Page};
pub use state::{AppState, StateInit};
pub use view_settings::apply_theme;

use crate::engine::{Command, Engine, Waker};
use crate::settings::{Settings, config_dir};

/// Files to put in the send list at start, separated by the platform's path separator (`:` on
/// Unix), or `@FILE` to read one path per line from FILE. A testing and scripting aid (the demo
/// script uses it instead of driving a file dialog).
pub const PRESELECT_ENV: &str = "FERRY_PRESELECT";
/// When set, every frame's duration is printed to standard error (performance checks).
pub const FRAME_LOG_ENV: &str = "FERRY_FRAME_LOG";

/// The app icon (a 128×128 PNG).
const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");

/// Draws one frame: takes in what happened since the last one, then draws the current page.
/// Tests call this through egui_kittest with a state built on their own channels.
pub fn frame(state: &mut AppState, ui: &mut egui::Ui) {
    let ctx = ui.ctx().clone();
    state.pump(&ctx);
    // Labels are not selectable (the address line is, on its own): a selectable label hands
    // screen readers its glyphs in drawing order, which turns right-to-left names (Arabic,
    // Hebrew) around.
    if ctx.global_style().interaction.selectable_labels {
        ctx.all_styles_mut(|style| style.interaction.selectable_labels = false);
    }
    ctx.accesskit_node_builder(egui::accesskit_root_id(), |node| node.set_label(state.tr.main_window()));
    close_requested(state, &ctx);

    let dropped: Vec<PathBuf> =
        ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
    if !dropped.is_empty() {
        state.add_chosen(dropped);
    }
    if std::mem::take(&mut state.wants_attention) && !ctx.input(|i| i.viewport().focused.unwrap_or(true)) {
        ctx.send_viewport_cmd(egui::ViewportCommand::RequestUserAttention(
            egui::UserAttentionType::Informational,
        ));
    }

    if !state.offers.is_empty() {
        view_prompt::show(state, ui);
    } else if state.page == Page::Settings {
        view_settings::show(state, ui);
    } else {
        view_main::show(state, ui);
    }

    if state.confirm_close {
        close_question(state, &ctx);
    }
    if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
        drop_overlay(state, &ctx);
    }
}

/// Closing the window while something is in flight asks first; the answer is
/// [`close_question`]. Once the person said yes (or nothing is left), the close goes through and
/// the engine tells every peer "Ferry was closed" ([`FerryApp::on_exit`]).
fn close_requested(state: &mut AppState, ctx: &egui::Context) {
    if !ctx.input(|i| i.viewport().close_requested()) || state.close_confirmed {
        return;
    }
    if state.in_flight() > 0 {
        ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
        state.confirm_close = true;
    }
}

fn close_question(state: &mut AppState, ctx: &egui::Context) {
    let in_flight = state.in_flight();
    let mut close = in_flight == 0; // everything ended while the question was showing
    let mut keep = false;
    let tr = state.tr;
    egui::Modal::new(egui::Id::unique("close_question")).show(ctx, |ui| {
        ui.set_max_width(420.0);
        widgets::heading(ui, None, tr.close_question(), 1);
        ui.add_space(6.0);
        ui.add(egui::Label::new(tr.close_explained(in_flight)).wrap());
        ui.add_space(10.0);
        ui.horizontal(|ui| {
            let stay = widgets::primary_button(ui, tr.keep_open(), true);
            if ui.add(stay).clicked() {
                keep = true;
            }
            if ui.button(tr.close_anyway()).clicked() {
                close = true;
            }
        });
    });
    if keep || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        state.confirm_close = false;
    } else if close {
        state.confirm_close = false;
        state.close_confirmed = true;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

/// Dims the window and says "drop to add" while files are dragged over it.
fn drop_overlay(state: &AppState, ctx: &egui::Context) {
    let painter = ctx
        .layer_painter(egui::LayerId::new(egui::Order::Foreground, egui::Id::unique("ferry_drop_overlay")));
    let rect = ctx.content_rect();
    painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(160));
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        format!("📥 {}", state.tr.drop_here()),
        egui::FontId::proportional(28.0),
        egui::Color32::WHITE,
    );
}

/// The eframe app: the state plus the engine it talks to.
struct FerryApp {
    state: AppState,
    engine: Option<Engine>,
    frame_log: bool,
}

impl eframe::App for FerryApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        frame(&mut self.state, ui);
        if self.frame_log {
            eprintln!("frame {:.2} ms", started.elapsed().as_secs_f64() * 1000.0);
        }
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if let Some(engine) = self.engine.take() {
            let _ = engine.commands().send(Command::Shutdown);
            engine.shutdown();
        }
    }
}

/// Opens the window (what `ferry` with no subcommand does), with `chosen` (files and folders
/// named on the command line, "Open with Ferry") already in the send list. Returns when it is
/// closed.
pub fn run(chosen: Vec<PathBuf>) -> ExitCode {
    let loaded = Settings::load();
    let settings = loaded.settings;
    let mut warnings: Vec<Notice> = loaded.warning.into_iter().map(Notice::Settings).collect();
    let mut config = settings.engine_config();
    if let Err(e) = config.apply_env() {
        warnings.push(Notice::Environment(e));
    }
    config.thumbnails = true;
    let discovery_port = config.discovery_port;
    let identity = (config.identity.fingerprint(), config.known.clone());
    let dir = config_dir();
    let history = history::History::load(&dir);
    let mut preselect = preselect_from_env();
    preselect.extend(chosen.into_iter().map(|p| std::path::absolute(&p).unwrap_or(p)));

    // Reading fallback fonts takes a moment: do it while the window is being created.
    let fonts = std::thread::Builder::new().name("ferry-fonts".into()).spawn(fonts::load_system_fallbacks);

    // The waker reaches the window's context once the window exists; events before that are
    // drawn by the first frame anyway.
    let egui_ctx: Arc<OnceLock<egui::Context>> = Arc::new(OnceLock::new());
    let waker: Waker = {
        let egui_ctx = egui_ctx.clone();
        Arc::new(move || {
            if let Some(ctx) = egui_ctx.get() {
                ctx.request_repaint();
            }
        })
    };

    let (engine, commands, events) = match Engine::start(config, waker.clone()) {
        Ok(engine) => {
            let (c, e) = (engine.commands(), engine.events());
            (Some(engine), c, e)
        }
        Err(e) => {
            warnings.push(Notice::from(e));
            // Channels that lead nowhere: the window still opens and shows why nothing works.
            (None, crossbeam_channel::unbounded().0, crossbeam_channel::unbounded().1)
        }
    };
    let engine_down = engine.is_none();
    let theme = settings.theme;
    let init = StateInit { settings, config_dir: dir, history, commands, events, waker, warnings };

    let viewport = egui::ViewportBuilder::default()
        .with_title("Ferry")
        .with_close_button(true)
        .with_app_id("ferry")
        .with_inner_size([980.0, 680.0])
        .with_min_inner_size([620.0, 440.0])
        .with_drag_and_drop(true);
    let viewport = match icon() {
        Some(icon) => viewport.with_icon(icon),
        None => viewport,
    };
    let options = eframe::NativeOptions { viewport, renderer: eframe::Renderer::Glow, ..Default::default() };

    let result = eframe::run_native(
        "Ferry",
        options,
        Box::new(move |cc| {
            let _ = egui_ctx.set(cc.egui_ctx.clone());
            let found = fonts.map(|t| t.join()).ok().and_then(Result::ok).unwrap_or_default();
            let no_cjk = !fonts::has_cjk(&found);
            fonts::install(&cc.egui_ctx, found);
            apply_theme(&cc.egui_ctx, theme);
            let mut state = AppState::new(init)?;
            if no_cjk && state.tr.0 == i18n::Lang::ZhCn {
                state.warn(Notice::NoChineseFont);
            }
            state.engine_down = engine_down;
            state.discovery_port = discovery_port;
            state.share_identity(identity.0, identity.1);
            state.add_chosen(preselect);
            let frame_log = std::env::var_os(FRAME_LOG_ENV).is_some();
            Ok(Box::new(FerryApp { state, engine, frame_log }))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Ferry could not open its window: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The paths in [`PRESELECT_ENV`], if set.
fn preselect_from_env() -> Vec<PathBuf> {
    let Some(value) = std::env::var_os(PRESELECT_ENV).filter(|v| !v.is_empty()) else {
        return Vec::new();
    };
    if let Some(list) = value.to_str().and_then(|v| v.strip_prefix('@')) {
        return std::fs::read_to_string(list)
            .map(|text| text.lines().filter(|l| !l.is_empty()).map(PathBuf::from).collect())
            .unwrap_or_default();
    }
    std::env::split_paths(&value).collect()
}

fn icon() -> Option<egui::IconData> {
    let image = image::load_from_memory_with_format(ICON_PNG, image::ImageFormat::Png).ok()?.to_rgba8();
    let (width, height) = image.dimensions();
    Some(egui::IconData { rgba: image.into_raw(), width, height })
}
