//! The window's state driven through egui_kittest with injected engine events: no engine, no
//! network, no display. Each test builds the state on channels of its own, puts events (and the
//! messages a file dialog would send) in, clicks like a person, and checks the commands that come
//! out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{By, NodeT, Queryable};
use ferry::engine::{
    AddFailure, Command, Decision, Direction, Event, FileOutcome, IncomingOffer, OfferedFile, Peer, PeerInfo,
    PeerSource, TransferError, TransferId, Trust, Warning,
};
use ferry::protocol::{CancelReason, FileResult, InstanceId, Os};
use ferry::settings::{Language, Settings};
use ferry::ui::history::History;
use ferry::ui::worker::{Inbox, Job, WindowWarning};
use ferry::ui::{AppState, StateInit};

struct Rig {
    harness: Harness<'static, AppState>,
    commands: Receiver<Command>,
    events: Sender<Event>,
    inbox: Sender<Inbox>,
    /// What the window asked to open or show in the file manager; never started (see
    /// `Workers::divert_launches`).
    launches: Receiver<Job>,
    dir: tempfile::TempDir,
}

fn settings(dir: &std::path::Path, language: Language) -> Settings {
    Settings {
        device_name: "Test laptop".into(),
        receive_dir: dir.join("received"),
        language,
        ..Settings::default()
    }
}

fn rig_with(language: Language, setup: impl FnOnce(&egui::Context) + 'static) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let (commands_tx, commands) = crossbeam_channel::unbounded();
    let (events, events_rx) = crossbeam_channel::unbounded();
    let mut state = AppState::new(StateInit {
        settings: settings(dir.path(), language),
        config_dir: dir.path().to_path_buf(),
        history: History::default(),
        commands: commands_tx,
        events: events_rx,
        waker: Arc::new(|| {}),
        warnings: Vec::new(),
    })
    .unwrap();
    let inbox = state.inbox();
    let launches = state.workers.divert_launches();
    let harness = Harness::builder()
        .with_size([1000.0, 720.0])
        .with_context_setup(setup)
        .build_ui_state(|ui, state: &mut AppState| ferry::ui::frame(state, ui), state);
    Rig { harness, commands, events, inbox, launches, dir }
}

/// English, egui's own fonts only: every icon the window uses must exist in them (the harness
/// panics on a missing glyph).
fn rig() -> Rig {
    rig_with(Language::English, |_| {})
}

impl Rig {
    fn event(&mut self, event: Event) {
        self.events.send(event).unwrap();
        self.harness.run();
    }

    /// Steps until `done` holds; background work (measuring, previews) arrives on other threads.
    fn wait_for(&mut self, what: &str, done: impl Fn(&Harness<'static, AppState>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(&self.harness) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
            self.harness.run();
        }
    }

    fn no_command(&self) {
        assert!(self.commands.try_recv().is_err(), "no command expected");
    }

    fn command(&self) -> Command {
        self.commands.try_recv().expect("a command")
    }

    /// The open or reveal the last click asked the I/O worker for.
    fn launch(&self) -> Job {
        self.launches.try_recv().expect("an open or a reveal")
    }
}

fn peer(n: u8, name: &str, os: Os) -> Peer {
    Peer {
        instance: InstanceId([n; 16]),
        name: name.into(),
        os,
        addr: format!("10.231.7.{n}:53531").parse().unwrap(),
        source: PeerSource::Discovered,
        fingerprint: None,
        trust: Trust::New,
    }
}

fn info(name: &str) -> PeerInfo {
    PeerInfo {
        instance: InstanceId([9; 16]),
        name: name.into(),
        os: Os::Windows,
        addr: "10.231.7.9:40000".parse().unwrap(),
        fingerprint: None,
        trust: Trust::New,
    }
}

fn offer(id: TransferId, from: &str, names: &[&str]) -> IncomingOffer {
    let files: Vec<OfferedFile> = names
        .iter()
        .enumerate()
        .map(|(i, n)| OfferedFile {
            path: (*n).into(),
            saved_name: ferry::transfer::names::safe_relative_path(n).ok().map(|p| p.join("/")),
            size: 1_000_000 * (i as u64 + 1),
            thumbnail: Vec::new(),
        })
        .collect();
    let total_bytes = files.iter().map(|f| f.size).sum();
    IncomingOffer { transfer: id, from: info(from), files, total_bytes, verification_code: None, text: None }
}

#[test]
fn peers_appear_and_leave() {
    let mut rig = rig();
    assert!(rig.harness.query_by_label_contains("Looking for devices").is_some(), "searching state");
    assert!(rig.harness.query_by_label_contains("firewall").is_some(), "firewall hint");
    rig.event(Event::PeerSeen(peer(2, "Kitchen PC", Os::Windows)));
    rig.event(Event::PeerSeen(peer(3, "Wang's Mac", Os::Macos)));
    assert!(rig.harness.query_by_label_contains("Kitchen PC").is_some());
    assert!(rig.harness.query_by_label_contains("10.231.7.3:53531").is_some());
    assert!(rig.harness.query_by_label_contains("Looking for devices").is_none());
    rig.event(Event::PeerLost(InstanceId([2; 16])));
    assert!(rig.harness.query_by_label_contains("Kitchen PC").is_none());
    assert!(rig.harness.query_by_label_contains("Wang's Mac").is_some());
}

/// Every OS icon is a glyph egui's own fonts have (the harness panics on a missing one).
#[test]
fn every_os_has_a_drawable_icon() {
    let mut rig = rig();
    let all = [Os::Unknown, Os::Linux, Os::Windows, Os::Macos, Os::Android, Os::Ios, Os::Bsd];
    for (n, os) in all.into_iter().enumerate() {
        rig.event(Event::PeerSeen(peer(10 + n as u8, os.label(), os)));
    }
    for os in all {
        assert!(rig.harness.query_by_label_contains(os.label()).is_some(), "{os:?}");
    }
}

#[test]
fn settings_changes_are_saved_and_sent_to_the_engine() {
    let mut rig = rig();
    rig.harness.get_by_label_contains("Settings").click();
    rig.harness.run();
    let name = rig.harness.get_by_label("Device name");
    name.focus();
    rig.harness.run();
    rig.harness.key_press(egui::Key::End);
    rig.harness.run();
    rig.harness.get_by_label("Device name").type_text(" 2");
    rig.harness.run();
    // Clicking elsewhere commits the name (the field loses focus).
    rig.harness.get_by_label_contains("Let phones with LocalSend").click();
    rig.harness.run();
    rig.harness.get_by_label_contains("Back").click();
    rig.harness.run();
    let updates: Vec<_> = rig
        .commands
        .try_iter()
        .map(|c| match c {
            Command::UpdateSettings(live) => live,
            other => panic!("expected UpdateSettings, got {other:?}"),
        })
        .collect();
    assert!(updates.iter().any(|u| u.device_name.as_deref() == Some("Test laptop 2")), "{updates:?}");
    // The LocalSend switch was flipped (it commits the name by taking the focus).
    let now = rig.harness.state().settings.localsend;
    assert!(updates.iter().any(|u| u.localsend == Some(now)), "{updates:?}");
    assert!(rig.harness.query_by_label_contains("Visible as “Test laptop 2”").is_some());
    let file = rig.dir.path().join("settings.toml");
    rig.wait_for("settings.toml", |_| {
        std::fs::read_to_string(&file)
            .is_ok_and(|t| t.contains("Test laptop 2") && t.contains(&format!("localsend = {now}")))
    });
}

#[test]
fn choosing_files_and_a_device_then_send_sends_those_paths_to_that_address() {
    let mut rig = rig();
    let a = rig.dir.path().join("beach.jpg");
    let b = rig.dir.path().join("notes.txt");
    std::fs::write(&a, vec![1u8; 1495]).unwrap();
    std::fs::write(&b, b"hello").unwrap();
    rig.event(Event::PeerSeen(peer(2, "Kitchen PC", Os::Linux)));

    // What the file dialog's thread sends when the person picks two files.
    rig.inbox.send(Inbox::Picked(vec![a.clone(), b.clone()])).unwrap();
    rig.wait_for("sizes", |h| h.query_by_label_contains("2 files, 1.50 kB").is_some());
    assert!(rig.harness.query_by_label("beach.jpg").is_some());

    // No device chosen yet: the button does nothing.
    rig.harness.get_by_label_contains("Send to").click();
    rig.harness.run();
    rig.no_command();

    rig.harness.get_by_label_contains("Kitchen PC").click();
    rig.harness.run();
    rig.harness.get_by_label_contains("Send to Kitchen PC").click();
    rig.harness.run();
    match rig.command() {
        Command::Send { to, paths, .. } => {
            assert_eq!(to, "10.231.7.2:53531".parse::<SocketAddr>().unwrap());
            assert_eq!(paths, vec![a, b]);
        }
        other => panic!("expected Send, got {other:?}"),
    }
    // It shows up as waiting for the other side.
    assert!(rig.harness.query_by_label_contains("Waiting for the other computer").is_some());
}

/// A file dropped onto the window, as winit would hand it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn dropped_files_and_folders_join_the_list_with_their_sizes() {
    let mut rig = rig();
    let folder = rig.dir.path().join("album");
    std::fs::create_dir_all(folder.join("2024")).unwrap();
    std::fs::write(folder.join("a.jpg"), vec![0u8; 700]).unwrap();
    std::fs::write(folder.join("2024/b.jpg"), vec![0u8; 300]).unwrap();
    let file = rig.dir.path().join("notes.txt");
    std::fs::write(&file, b"hi").unwrap();
    rig.harness.input_mut().dropped_files.push(Arc::new(Dropped(folder.clone())));
    rig.harness.input_mut().dropped_files.push(Arc::new(Dropped(file.clone())));
    rig.harness.run();
    rig.wait_for("the folder's size", |h| h.query_by_label_contains("folder, 2 files, 1.00 kB").is_some());
    assert!(rig.harness.query_by_label_contains("3 files, 1.00 kB").is_some(), "total");
    let chosen: Vec<PathBuf> = rig.harness.state().chosen.iter().map(|c| c.path.clone()).collect();
    assert_eq!(chosen, vec![folder, file]);
}

#[test]
fn chosen_files_can_be_removed() {
    let mut rig = rig();
    let a = rig.dir.path().join("one.png");
    let b = rig.dir.path().join("two.png");
    std::fs::write(&a, b"x").unwrap();
    std::fs::write(&b, b"yy").unwrap();
    rig.inbox.send(Inbox::Picked(vec![a, b.clone()])).unwrap();
    rig.wait_for("sizes", |h| h.query_by_label_contains("2 files, 3 B").is_some());
    rig.harness.get_by_label("Remove one.png").click();
    rig.harness.run();
    assert!(rig.harness.query_by_label("one.png").is_none());
    assert!(rig.harness.query_by_label_contains("1 file, 2 B").is_some());
    assert_eq!(rig.harness.state().chosen.iter().map(|c| c.path.clone()).collect::<Vec<_>>(), vec![b]);
}

#[test]
fn an_offer_shows_its_files_and_accept_decline_answer_it() {
    let mut rig = rig();
    let (first, second, third) = (TransferId(101), TransferId(102), TransferId(103));
    rig.event(Event::IncomingOffer(offer(first, "Kitchen PC", &["IMG_0001.jpg", "IMG_0002.jpg"])));
    rig.event(Event::IncomingOffer(offer(second, "Wang's Mac", &["report.pdf"])));
    rig.event(Event::IncomingOffer(offer(third, "Phone", &["a.jpg", "b.jpg"])));

    assert!(rig.harness.query_by_label_contains("“Kitchen PC” wants to send you 2 files").is_some());
    assert!(rig.harness.query_by_label("IMG_0001.jpg").is_some());
    assert!(rig.harness.query_by_label("IMG_0002.jpg").is_some());
    assert!(rig.harness.query_by_label_contains("3.00 MB").is_some(), "total");
    assert!(rig.harness.query_by_label_contains("2 more offers are waiting").is_some());
    rig.wait_for("free space", |h| h.query_by_label_contains("Free space in your receive folder").is_some());

    rig.harness.get_by_label_contains("Accept").click();
    rig.harness.run();
    assert!(
        matches!(rig.command(), Command::Answer { transfer, decision: Decision::AcceptAll } if transfer == first)
    );

    assert!(rig.harness.query_by_label("report.pdf").is_some(), "the queued offer comes next");
    rig.harness.get_by_label_contains("Decline").click();
    rig.harness.run();
    assert!(
        matches!(rig.command(), Command::Answer { transfer, decision: Decision::Decline } if transfer == second)
    );

    // Choose files: untick b.jpg, accept the rest.
    rig.harness.get_by_label("Choose files…").click();
    rig.harness.run();
    rig.harness.get_by_role_and_label(egui::accesskit::Role::CheckBox, "b.jpg").click(); // named after its file
    rig.harness.run();
    rig.harness.get_by_label_contains("Accept 1 of 2").click();
    rig.harness.run();
    match rig.command() {
        Command::Answer { transfer, decision } => {
            assert_eq!(transfer, third);
            assert_eq!(decision, Decision::AcceptSome(vec![0]));
        }
        other => panic!("expected Answer, got {other:?}"),
    }
    assert!(rig.harness.query_by_label("Devices nearby").is_some(), "back to the main screen");
}

/// Issue 14: the prompt lists each file under the name it will be saved as; the sender's own
/// name is in its tooltip; a name that cannot be saved is shown as sent (escaped) and says so.
#[test]
fn an_offer_shows_the_names_files_will_be_saved_under() {
    let mut rig = rig();
    let names = ["What?.jpg", "invoice\u{200B}.pdf", "IMG_1.jpg", "../escape.txt"];
    rig.event(Event::IncomingOffer(offer(TransferId(9), "Kitchen PC", &names)));
    assert!(rig.harness.query_by_label("What_.jpg").is_some());
    assert!(rig.harness.query_by_label("invoice.pdf").is_some());
    assert!(rig.harness.query_by_label("IMG_1.jpg").is_some());
    assert!(rig.harness.query_by_label("../escape.txt").is_some(), "refused: shown as sent");
    assert!(rig.harness.query_by_label_contains("What?").is_none(), "the original only on hover");

    rig.harness.get_by_label("What_.jpg").hover();
    rig.harness.run();
    assert!(rig.harness.query_by_label_contains("Sent as “What?.jpg”").is_some(), "tooltip");
    rig.harness.get_by_label("invoice.pdf").hover();
    rig.harness.run();
    assert!(
        rig.harness.query_by_label_contains("Sent as “invoice\\u{200b}.pdf”").is_some(),
        "the original is shown escaped, so the person sees what was odd about it"
    );
    rig.harness.get_by_label("../escape.txt").hover();
    rig.harness.run();
    assert!(rig.harness.query_by_label_contains("can't be saved").is_some());

    // Choosing files: the checkboxes are named after the saved names too.
    rig.harness.get_by_label("Choose files…").click();
    rig.harness.run();
    assert!(rig.harness.query_by_role_and_label(egui::accesskit::Role::CheckBox, "What_.jpg").is_some());
}

#[test]
fn an_offer_cancelled_by_the_sender_leaves_the_queue() {
    let mut rig = rig();
    rig.event(Event::IncomingOffer(offer(TransferId(7), "Kitchen PC", &["x.jpg"])));
    assert!(rig.harness.query_by_label("x.jpg").is_some());
    rig.event(Event::TransferCancelled {
        transfer: TransferId(7),
        by_peer: true,
        reason: CancelReason::User,
    });
    assert!(rig.harness.query_by_label("x.jpg").is_none());
    rig.no_command();
}

fn started(rig: &mut Rig, id: TransferId, direction: Direction) {
    started_with(rig, id, direction, "Kitchen PC", &["IMG_1.jpg", "IMG_2.jpg"], 20_000_000);
}

/// A transfer with `peer` of `files` (`total_bytes` in all) has started.
fn started_with(
    rig: &mut Rig,
    id: TransferId,
    direction: Direction,
    peer: &str,
    files: &[&str],
    total_bytes: u64,
) {
    let files = offer(id, peer, files).files;
    rig.event(Event::TransferStarted { transfer: id, direction, peer: info(peer), files, total_bytes });
}

#[test]
fn progress_renders_with_bytes_speed_and_time_left() {
    let mut rig = rig();
    let id = TransferId(55);
    started(&mut rig, id, Direction::Incoming);
    rig.event(Event::Progress {
        transfer: id,
        bytes_done: 5_000_000,
        bytes_total: 20_000_000,
        current_file: "IMG_2.jpg".into(),
        rate: 1_000_000.0,
    });
    let bar = rig.harness.get_by_role(egui::accesskit::Role::ProgressIndicator);
    let name = bar.accesskit_node().label().expect("the progress bar has a name");
    assert!(name.contains("Kitchen PC"), "{name}");
    assert!(name.contains("5.00 MB of 20.0 MB"), "{name}");
    assert!(name.contains("1.00 MB/s"), "{name}");
    assert!(name.contains("15 s left"), "{name}");
    assert!(rig.harness.query_by_label_contains("Now: IMG_2.jpg").is_some());

    rig.harness.get_by_label("Cancel receiving 2 files from Kitchen PC").click();
    rig.harness.run();
    assert!(matches!(rig.command(), Command::Cancel(t) if t == id));
}

#[test]
fn a_failure_shows_its_reason_and_try_again_sends_the_same_files_again() {
    let mut rig = rig();
    let file = rig.dir.path().join("a.jpg");
    std::fs::write(&file, b"abc").unwrap();
    rig.event(Event::PeerSeen(peer(4, "Kitchen PC", Os::Linux)));
    rig.inbox.send(Inbox::Picked(vec![file.clone()])).unwrap();
    rig.wait_for("the chosen file", |h| h.query_by_label("a.jpg").is_some());
    rig.harness.get_by_label_contains("Kitchen PC").click();
    rig.harness.run();
    rig.harness.get_by_label_contains("Send to Kitchen PC").click();
    rig.harness.run();
    let Command::Send { id, .. } = rig.command() else { panic!("expected Send") };

    let error = TransferError::Unreachable("connection refused".into());
    rig.event(Event::TransferFailed { transfer: id, error: error.clone() });
    assert!(rig.harness.query_by_label_contains(&error.to_string()).is_some(), "the plain-language reason");

    rig.harness.get_by_label("Try sending 1 file to Kitchen PC again").click();
    rig.harness.run();
    match rig.command() {
        Command::Send { id: again, to, paths } => {
            assert_ne!(again, id, "a new transfer");
            assert_eq!(to, "10.231.7.4:53531".parse::<SocketAddr>().unwrap());
            assert_eq!(paths, vec![file]);
        }
        other => panic!("expected Send, got {other:?}"),
    }
}

#[test]
fn a_finished_transfer_offers_its_folder_and_lands_in_the_history_file() {
    let mut rig = rig();
    let id = TransferId(77);
    started(&mut rig, id, Direction::Incoming);
    let saved: PathBuf = rig.dir.path().join("received/IMG_1.jpg");
    let outcome = |index: u32, path: &str, result, saved_as: Option<PathBuf>| FileOutcome {
        index,
        path: path.into(),
        size: 10,
        result,
        saved_as,
    };
    rig.event(Event::TransferFinished {
        transfer: id,
        files: vec![
            outcome(0, "IMG_1.jpg", FileResult::Saved, Some(saved.clone())),
            outcome(1, "IMG_2.jpg", FileResult::Saved, Some(rig.dir.path().join("received/IMG_2.jpg"))),
        ],
    });
    assert!(rig.harness.query_by_label_contains("Done: 2 files saved").is_some());
    assert!(rig.harness.query_by_label("Open the folder of receiving 2 files from Kitchen PC").is_some());
    let history = rig.dir.path().join("history.json");
    rig.wait_for("history.json", |_| {
        std::fs::read_to_string(&history).is_ok_and(|t| t.contains("IMG_1.jpg"))
    });
    let text = std::fs::read_to_string(&history).unwrap();
    assert!(text.contains("Kitchen PC") && text.contains("\"received\": true"), "{text}");
}

#[test]
fn add_by_address_sends_add_peer_and_shows_failures() {
    let mut rig = rig();
    rig.harness.get_by_label_contains("Add by address").click();
    rig.harness.run();
    let field = rig.harness.get_by_label("Address");
    field.focus();
    field.type_text("192.0.2.7:53531");
    rig.harness.run();
    rig.harness.get_by_label("Add").click();
    rig.harness.run();
    assert!(matches!(rig.command(), Command::AddPeer(a) if a == "192.0.2.7:53531"));
    let addr = "192.0.2.7:53531".parse().unwrap();
    rig.event(Event::PeerAddFailed {
        address: "192.0.2.7:53531".into(),
        reason: AddFailure::NoAnswer { addr },
    });
    assert!(
        rig.harness
            .query_by_label_contains("Couldn't add 192.0.2.7:53531: 192.0.2.7:53531 did not answer in time.")
            .is_some()
    );
}

/// The small Noto subsets in tests/fixtures/fonts (see make.sh there), found and installed by the
/// same code the window uses for system fonts.
fn fixture_fonts() -> Vec<ferry::ui::fonts::FallbackFont> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fonts");
    ferry::ui::fonts::load_fallbacks(false, &[dir])
}

fn rig_with_fonts(language: Language) -> Rig {
    let found = fixture_fonts();
    rig_with(language, move |ctx| ferry::ui::fonts::install(ctx, found))
}

/// Chinese, Japanese, Korean, Arabic and emoji names, with fallback fonts found by family name
/// and installed the way the window installs them. The harness panics on any character no font
/// can draw, so this fails if the loader or the installation does not give egui those glyphs.
/// (The fonts are the test's own subsets, so it passes on a machine without CJK fonts too.)
#[test]
fn cjk_and_other_scripts_are_drawn_with_fonts_that_have_them() {
    let found = fixture_fonts();
    let families: Vec<&str> = found.iter().map(|f| f.family.as_str()).collect();
    assert!(ferry::ui::fonts::has_cjk(&found), "the CJK fixture is found by family: {families:?}");
    assert!(families.contains(&"Noto Sans Arabic"), "{families:?}");
    let mut rig = rig_with(Language::SimplifiedChinese, move |ctx| ferry::ui::fonts::install(ctx, found));
    let names = ["照片_2024.jpg", "写真とカメラ.png", "사진.jpg", "صورة.png", "🎉 party.jpg"];
    rig.event(Event::IncomingOffer(offer(TransferId(9), "王的电脑", &names)));
    for name in names {
        assert!(rig.harness.query_by_label(name).is_some(), "{name} is shown");
    }
    assert!(rig.harness.query_by_label_contains("“王的电脑”想发送 5 个文件给你").is_some());
    assert!(rig.harness.query_by_label("接收").is_some(), "the UI speaks Chinese");
    let ctx = rig.harness.ctx.clone();
    let font = egui::FontId::proportional(14.0);
    for c in ['照', 'カ', '사', 'ص'] {
        assert!(ctx.fonts_mut(|f| f.has_glyph(&font, c)), "no glyph for {c}");
    }
    // Every Chinese character the window can show is in the test's subset, so the Chinese-UI
    // tests draw real glyphs; a new string needs tests/fixtures/fonts/make.sh run again.
    let strings = [
        include_str!("../src/ui/i18n.rs"),
        include_str!("../src/ui/i18n/devices.rs"),
        include_str!("../src/ui/i18n/errors.rs"),
        include_str!("../src/ui/i18n/warnings.rs"),
    ]
    .concat();
    let missing: String =
        strings.chars().filter(|&c| c > '\u{2e7f}' && !ctx.fonts_mut(|f| f.has_glyph(&font, c))).collect();
    assert!(missing.is_empty(), "run tests/fixtures/fonts/make.sh: the CJK subset lacks {missing:?}");
}

/// A failed transfer says why in the window's language: the engine's sentences are English, the
/// Chinese window has its own (and the history keeps the sentence the person saw).
#[test]
fn a_chinese_window_says_why_a_transfer_failed_in_chinese() {
    let found = fixture_fonts();
    let mut rig = rig_with(Language::SimplifiedChinese, move |ctx| ferry::ui::fonts::install(ctx, found));
    let id = TransferId(1400);
    started(&mut rig, id, Direction::Outgoing);
    rig.event(Event::TransferFailed { transfer: id, error: TransferError::OlderPeer });
    assert!(rig.harness.query_by_label_contains("另一台电脑上的 Ferry 版本较旧").is_some(), "not in Chinese");
    assert!(rig.harness.query_by_label_contains("older Ferry").is_none(), "the English sentence is shown");
}

/// The warnings the window is given: the engine's (one naming a device, with a character that
/// must be shown escaped), one from the window's own background work, and a failed "Add by
/// address" (opened with the button named `add_by_address`).
fn send_warnings(rig: &mut Rig, add_by_address: &str) {
    let ip = "192.0.2.9".parse().unwrap();
    rig.events.send(Event::Warning(Warning::OlderSender { name: Some("Old\u{202e}PC".into()), ip })).unwrap();
    let detail = "Address already in use (os error 98)".to_owned();
    rig.events.send(Event::Warning(Warning::DiscoveryUnavailable { detail })).unwrap();
    let path = PathBuf::from("/home/anna/Ferry/IMG_1.jpg");
    let detail = "no file manager".to_owned();
    rig.inbox.send(Inbox::Warning(WindowWarning::NotShown { path, detail })).unwrap();
    rig.harness.run();
    rig.harness.get_by_label(add_by_address).click();
    rig.harness.run();
    let addr = "192.0.2.7:53531".parse().unwrap();
    rig.event(Event::PeerAddFailed { address: "192.0.2.7".into(), reason: AddFailure::NotFerry { addr } });
}

/// A warning reads in the window's language: the engine and the window's background work send
/// what happened, not a sentence, and a Chinese window says it in Chinese — names, addresses,
/// paths and the system's own message kept as they are, a device's name shown through the same
/// escaping as everywhere (an English window shows the engine's own sentence, which the CLI
/// prints too).
#[test]
fn a_chinese_window_says_warnings_in_chinese_and_an_english_one_in_english() {
    let mut zh = rig_with_fonts(Language::SimplifiedChinese);
    send_warnings(&mut zh, "按地址添加…");
    for said in [
        "“Old\\u{202e}PC”（192.0.2.9）想给你发送文件，但它的 Ferry 版本较旧。请把两台都更新到最新版本。",
        "无法自动查找其他设备：Address already in use (os error 98)。你仍然可以按地址添加设备。",
        "无法在文件管理器中显示 /home/anna/Ferry/IMG_1.jpg：no file manager",
        "无法添加 192.0.2.7：192.0.2.7:53531 有应答，但它不是 Ferry 设备。",
    ] {
        assert!(zh.harness.query_by_label(said).is_some(), "not said in Chinese: {said}");
    }
    for english in ["older Ferry", "can't be found", "Couldn't", "answered"] {
        assert!(
            zh.harness.query_by_label_contains(english).is_none(),
            "English in a Chinese window: {english}"
        );
    }

    let mut en = rig();
    send_warnings(&mut en, "Add by address…");
    for said in [
        "\u{2018}Old\\u{202e}PC\u{2019} (192.0.2.9) tried to send you files with an older Ferry. Update both to the \
         latest version.",
        "Other devices can't be found automatically: Address already in use (os error 98). You can still add a \
         device by its address.",
        "Couldn't show /home/anna/Ferry/IMG_1.jpg in a file manager: no file manager",
        "Couldn't add 192.0.2.7: 192.0.2.7:53531 answered, but it is not a Ferry device.",
    ] {
        assert!(en.harness.query_by_label(said).is_some(), "not said in English: {said}");
    }
}

/// A warning already showing is said again in the language the person switches to.
#[test]
fn a_warning_showing_follows_a_change_of_language() {
    let mut rig = rig_with_fonts(Language::English);
    let detail = "Address already in use (os error 98)".to_owned();
    rig.event(Event::Warning(Warning::LocalSendServer { detail }));
    let english = "LocalSend phones can't send to this computer: Address already in use (os error 98)";
    assert!(rig.harness.query_by_label(english).is_some());
    rig.harness.state_mut().set_language(Language::SimplifiedChinese);
    rig.harness.run();
    let chinese = "装有 LocalSend 的手机无法向这台电脑发送文件：Address already in use (os error 98)";
    assert!(rig.harness.query_by_label(chinese).is_some(), "still in English after the switch");
    assert!(rig.harness.query_by_label(english).is_none());
}

/// The system's own fonts, where this machine has them (fonts-noto-cjk): the window finds them.
/// Says so and passes where it has none: the fixture test above is the one that must hold.
#[test]
fn system_cjk_fonts_are_found_where_installed() {
    let found = ferry::ui::fonts::load_system_fallbacks();
    let families: Vec<String> = found.iter().map(|f| f.family.clone()).collect();
    if !ferry::ui::fonts::has_cjk(&found) {
        eprintln!("no system CJK font here ({families:?}); install fonts-noto-cjk to check this");
        return;
    }
    let rig = rig_with(Language::English, move |ctx| ferry::ui::fonts::install(ctx, found));
    let ctx = rig.harness.ctx.clone();
    assert!(ctx.fonts_mut(|f| f.has_glyph(&egui::FontId::proportional(14.0), '照')), "{families:?}");
}

/// Without the fallback fonts, egui really lacks CJK: the test above proves something.
#[test]
fn egui_alone_has_no_cjk_glyphs() {
    let rig = rig();
    let ctx = rig.harness.ctx.clone();
    assert!(!ctx.fonts_mut(|f| f.has_glyph(&egui::FontId::proportional(14.0), '照')));
}

/// Frame time with 10,000 chosen files: only visible rows are laid out. Prints the median; the
/// bound is loose (debug build, shared CPU) and only catches work proportional to the list.
#[test]
fn frame_time_with_ten_thousand_chosen_files() {
    let mut rig = rig();
    let dir = rig.dir.path().join("many");
    std::fs::create_dir(&dir).unwrap();
    let paths: Vec<PathBuf> = (0..10_000).map(|i| dir.join(format!("IMG_{i:05}.dat"))).collect();
    for p in &paths {
        std::fs::write(p, b"1234").unwrap();
    }
    rig.inbox.send(Inbox::Picked(paths)).unwrap();
    rig.wait_for("all measured", |h| h.query_by_label_contains("10000 files, 40.0 kB").is_some());
    let mut times: Vec<Duration> = (0..20)
        .map(|_| {
            let start = Instant::now();
            rig.harness.step();
            start.elapsed()
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    eprintln!(
        "frame time with 10,000 chosen files (kittest, no GPU): median {median:?}, max {:?}",
        times[19]
    );
    assert!(median < Duration::from_millis(500), "median frame {median:?}");
}

/// An offer that arrives while the window is in the background asks for attention (taskbar).
#[test]
fn an_offer_to_an_unfocused_window_requests_attention() {
    let asked = |h: &Harness<'static, AppState>| {
        h.output()
            .viewport_output
            .values()
            .any(|v| v.commands.iter().any(|c| matches!(c, egui::ViewportCommand::RequestUserAttention(_))))
    };
    let mut rig = rig();
    rig.events.send(Event::IncomingOffer(offer(TransferId(1), "Kitchen PC", &["a.jpg"]))).unwrap();
    rig.harness.step();
    assert!(!asked(&rig.harness), "focused: no need to ask");

    rig.harness.input_mut().viewports.entry(egui::ViewportId::ROOT).or_default().focused = Some(false);
    rig.events.send(Event::IncomingOffer(offer(TransferId(2), "Kitchen PC", &["b.jpg"]))).unwrap();
    rig.harness.step();
    assert!(asked(&rig.harness), "unfocused: asks for attention");
}

// ---- issue 12: the window as a person meets it ------------------------------------------------

/// Every accessible name and text value in the window, for checks that look at all of them.
fn all_texts(rig: &Rig) -> Vec<(Role, String)> {
    rig.harness
        .query_all(By::new())
        .filter_map(|n| {
            let node = n.accesskit_node();
            let text = node.label().or(node.value())?;
            Some((node.role(), text.to_string()))
        })
        .collect()
}

fn pick(rig: &mut Rig, paths: Vec<PathBuf>) {
    rig.inbox.send(Inbox::Picked(paths.clone())).unwrap();
    rig.wait_for("measuring", |h| {
        let state = h.state();
        state.chosen_unmeasured == 0 && paths.iter().all(|p| state.chosen.iter().any(|c| &c.path == p))
    });
}

fn send_command(rig: &Rig) -> (TransferId, Vec<PathBuf>) {
    match rig.command() {
        Command::Send { id, paths, .. } => (id, paths),
        other => panic!("expected Send, got {other:?}"),
    }
}

/// Point 1: Camera files (`IMG_0001.JPG`) and videos are in the photo filter in every case; "Choose
/// files…" has no filter; filter names are translated; the dialog opens where the last pick was.
#[test]
fn the_photo_dialog_finds_camera_files_and_videos_and_opens_where_the_last_pick_was() {
    use ferry::ui::worker::DialogKind;
    let mut rig = rig();
    let request = rig.harness.state().dialog_request(DialogKind::Photos);
    let (name, extensions) = &request.filters[0];
    assert_eq!(name, "Photos and videos");
    for ext in
        ["jpg", "JPG", "Jpg", "jpeg", "JPEG", "heic", "HEIC", "mp4", "MP4", "mov", "MOV", "dng", "CR2", "3gp"]
    {
        assert!(extensions.iter().any(|e| e == ext), "{ext} missing from {extensions:?}");
    }
    assert_eq!(request.filters[1].0, "All files");
    assert!(rig.harness.state().dialog_request(DialogKind::Files).filters.is_empty(), "any file");
    assert!(rig.harness.query_by_label("Choose files…").is_some(), "a button for anything");
    assert!(rig.harness.query_by_label("Choose photos and videos…").is_some());
    assert_eq!(request.start_in, None, "nothing picked yet");

    let album = rig.dir.path().join("DCIM");
    std::fs::create_dir(&album).unwrap();
    std::fs::write(album.join("IMG_0001.JPG"), b"jpeg").unwrap();
    pick(&mut rig, vec![album.join("IMG_0001.JPG")]);
    assert_eq!(rig.harness.state().dialog_request(DialogKind::Photos).start_in, Some(album.clone()));
    assert_eq!(rig.harness.state().dialog_request(DialogKind::Files).start_in, Some(album.clone()));
    let file = rig.dir.path().join("settings.toml");
    rig.wait_for("the folder saved", |_| std::fs::read_to_string(&file).is_ok_and(|t| t.contains("DCIM")));

    let zh = rig_with_fonts(Language::SimplifiedChinese);
    let request = zh.harness.state().dialog_request(DialogKind::Photos);
    assert_eq!(request.filters[0].0, "照片和视频");
    assert_eq!(request.filters[1].0, "所有文件");
}

fn offer_with_check(rig: &mut Rig, check: ferry::ui::model::ReceiveCheck) {
    rig.event(Event::IncomingOffer(offer(TransferId(300), "Kitchen PC", &["a.mov", "b.jpg"])));
    // What the I/O worker reports (it also reports the real folder; wait for that first).
    rig.wait_for("the real check", |h| h.state().receive_check.is_some());
    rig.inbox.send(Inbox::ReceiveFolderChecked(check)).unwrap();
    rig.harness.run();
}

/// Point 2, the window's part: With too little free space, Accept is no longer the highlighted
/// button and "Change folder…" is offered; a folder that cannot be written says why first.
#[test]
fn a_full_disk_or_an_unwritable_folder_takes_the_highlight_off_accept() {
    use ferry::ui::model::ReceiveCheck;
    use ferry::ui::worker::SaveProblem;
    let mut rig = rig();
    let dir = rig.harness.state().settings.receive_dir.clone();
    offer_with_check(&mut rig, ReceiveCheck { dir: dir.clone(), free: Some(10_000_000), problem: None });
    let accept = rig.harness.get_by_label("Accept");
    assert_eq!(accept.accesskit_node().role(), Role::DefaultButton, "enough space: Accept is highlighted");
    assert!(rig.harness.query_by_label("Change folder…").is_none());

    rig.inbox
        .send(Inbox::ReceiveFolderChecked(ReceiveCheck {
            dir: dir.clone(),
            free: Some(2_500_000),
            problem: None,
        }))
        .unwrap();
    rig.harness.run();
    assert!(rig.harness.query_by_label_contains("Not enough free space").is_some());
    assert_eq!(
        rig.harness.get_by_label("Accept").accesskit_node().role(),
        Role::Button,
        "no longer highlighted"
    );
    assert!(rig.harness.query_by_label("Change folder…").is_some(), "a way out");

    // Choosing only the small file makes it fit again.
    rig.harness.get_by_label("Choose files…").click();
    rig.harness.run();
    rig.harness.get_by_role_and_label(Role::CheckBox, "b.jpg").click();
    rig.harness.run();
    assert_eq!(rig.harness.get_by_label("Accept 1 of 2").accesskit_node().role(), Role::DefaultButton);

    rig.inbox
        .send(Inbox::ReceiveFolderChecked(ReceiveCheck {
            dir: dir.clone(),
            free: Some(1 << 40),
            problem: Some(SaveProblem::ReadOnly),
        }))
        .unwrap();
    rig.harness.run();
    let said =
        rig.harness.get_by_label_contains("is read-only").accesskit_node().value().unwrap().to_string();
    assert!(said.contains("choose another receive folder"), "{said}");
    assert_eq!(rig.harness.get_by_label("Accept 1 of 2").accesskit_node().role(), Role::Button);
}

/// Point 3: A chosen file that cannot be read is flagged and left out of the offer with a note; with
/// nothing readable left, Send does nothing.
#[test]
fn unreadable_files_are_flagged_and_left_out_and_send_needs_something_readable() {
    let mut rig = rig();
    let good = rig.dir.path().join("beach.jpg");
    std::fs::write(&good, b"photo").unwrap();
    let gone = rig.dir.path().join("vanished.jpg");
    let empty = rig.dir.path().join("empty album");
    std::fs::create_dir(&empty).unwrap();
    rig.event(Event::PeerSeen(peer(2, "Kitchen PC", Os::Linux)));
    rig.harness.get_by_label_contains("Kitchen PC").click();
    pick(&mut rig, vec![good.clone(), gone.clone(), empty.clone()]);
    assert!(rig.harness.query_by_label_contains("can't be read: it is no longer there").is_some());
    assert!(rig.harness.query_by_label_contains("empty folder").is_some());
    assert!(rig.harness.query_by_label("2 items can't be sent and will be left out.").is_some());
    assert!(rig.harness.query_by_label("Total: 1 file, 5 B").is_some());
    rig.harness.get_by_label("Send to Kitchen PC").click();
    rig.harness.run();
    let (_, paths) = send_command(&rig);
    assert_eq!(paths, vec![good.clone()], "only what can be read is offered");

    // A file that vanishes after it was measured: the send fails, the list is measured again and
    // flags it, and Try again leaves it out.
    let later = rig.dir.path().join("later.jpg");
    std::fs::write(&later, b"soon gone").unwrap();
    pick(&mut rig, vec![later.clone()]);
    rig.harness.get_by_label("Send to Kitchen PC").click();
    rig.harness.run();
    let (id, paths) = send_command(&rig);
    assert_eq!(paths, vec![good.clone(), later.clone()]);
    std::fs::remove_file(&later).unwrap();
    let error = TransferError::SourceUnreadable { path: later.display().to_string(), reason: "gone".into() };
    rig.event(Event::TransferFailed { transfer: id, error });
    rig.wait_for("the list to flag it", |h| {
        h.query_by_label("3 items can't be sent and will be left out.").is_some()
    });
    rig.harness.get_by_label("Try sending 2 files to Kitchen PC again").click();
    rig.harness.run();
    assert_eq!(send_command(&rig).1, vec![good.clone()], "Try again leaves the vanished file out");

    rig.harness.get_by_label("Clear all").click();
    rig.harness.run();
    pick(&mut rig, vec![gone]);
    assert!(rig.harness.query_by_label("Nothing of what you chose can be read.").is_some());
    assert!(rig.harness.query_by_label("Total: 0 files, 0 B").is_some());
    rig.harness.get_by_label("Send to Kitchen PC").click();
    rig.harness.run();
    rig.no_command();
}

fn close_requests(h: &Harness<'static, AppState>) -> (bool, bool) {
    let commands: Vec<_> = h.output().viewport_output.values().flat_map(|v| v.commands.clone()).collect();
    (commands.contains(&egui::ViewportCommand::CancelClose), commands.contains(&egui::ViewportCommand::Close))
}

fn ask_to_close(rig: &mut Rig) {
    rig.harness
        .input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    rig.harness.step();
}

/// Point 4: Closing the window while something is in flight asks first; a peer that closed Ferry is
/// named.
#[test]
fn closing_while_a_transfer_runs_asks_first_and_a_peer_closing_ferry_is_named() {
    let mut rig = rig();
    ask_to_close(&mut rig);
    assert_eq!(close_requests(&rig.harness), (false, false), "nothing in flight: it just closes");

    let id = TransferId(400);
    started(&mut rig, id, Direction::Incoming);
    ask_to_close(&mut rig);
    assert!(close_requests(&rig.harness).0, "the close is held back");
    rig.harness.run();
    assert!(rig.harness.query_by_label("Transfers are still under way").is_some());
    assert!(rig.harness.query_by_label_contains("Closing Ferry stops 1 transfer.").is_some());
    rig.harness.get_by_label("Keep Ferry open").click();
    rig.harness.run();
    assert!(rig.harness.query_by_label("Transfers are still under way").is_none());
    assert_eq!(close_requests(&rig.harness), (false, false));

    ask_to_close(&mut rig);
    rig.harness.run();
    rig.harness.get_by_label("Stop them and close").click();
    rig.harness.step();
    assert!(close_requests(&rig.harness).1, "closes when told to");

    // The other side's Ferry was closed.
    let mut rig = rig_with_incoming(TransferId(401));
    rig.event(Event::TransferCancelled {
        transfer: TransferId(401),
        by_peer: true,
        reason: CancelReason::Shutdown,
    });
    assert!(rig.harness.query_by_label("Ferry was closed on Kitchen PC.").is_some());
}

fn rig_with_incoming(id: TransferId) -> Rig {
    let mut rig = rig();
    started(&mut rig, id, Direction::Incoming);
    rig
}

/// Point 5: A device that appears later goes at the end, so the row under the pointer stays; the
/// selection follows the device; the OS is shown and said.
#[test]
fn new_devices_join_at_the_end_and_the_selection_stays_on_its_device() {
    let mut rig = rig();
    rig.event(Event::PeerSeen(peer(2, "Kitchen PC", Os::Windows)));
    let row = |rig: &Rig| rig.harness.get_by_label_contains("Kitchen PC, Windows").rect();
    let before = row(&rig);
    rig.harness.get_by_label_contains("Kitchen PC, Windows").click();
    rig.harness.run();
    rig.event(Event::PeerSeen(peer(3, "Anna's laptop", Os::Linux)));
    rig.event(Event::PeerSeen(peer(4, "Aaron's Mac", Os::Macos)));
    assert_eq!(row(&rig), before, "the row did not move");
    assert!(rig.harness.query_by_label("Send to Kitchen PC").is_some(), "still the same device");
    // It is renamed: same place, same selection.
    rig.event(Event::PeerUpdated(Peer { name: "Kitchen".into(), ..peer(2, "", Os::Windows) }));
    assert!(rig.harness.query_by_label("Send to Kitchen").is_some());
    let names: Vec<String> = rig.harness.state().peers.iter().map(|p| p.name.clone()).collect();
    assert_eq!(names, ["Kitchen", "Anna's laptop", "Aaron's Mac"]);
    assert!(rig.harness.query_by_label_contains("Aaron's Mac, macOS").is_some(), "the OS is said");
}

/// Point 6: After a few seconds without progress the bar says "Waiting for …" instead of a speed.
#[test]
fn a_transfer_without_progress_says_it_is_waiting() {
    let mut rig = rig();
    rig.harness.state_mut().stall_after = Duration::from_millis(300);
    let id = TransferId(600);
    started(&mut rig, id, Direction::Outgoing);
    let progress = |done| Event::Progress {
        transfer: id,
        bytes_done: done,
        bytes_total: 20_000_000,
        current_file: "IMG_1.jpg".into(),
        rate: 24_000_000.0,
    };
    rig.event(progress(5_000_000));
    let bar = |rig: &Rig| {
        rig.harness.get_by_role(Role::ProgressIndicator).accesskit_node().label().unwrap().to_string()
    };
    assert!(bar(&rig).contains("24.0 MB/s"), "{}", bar(&rig));
    std::thread::sleep(Duration::from_millis(400));
    rig.harness.run();
    let stalled = bar(&rig);
    assert!(stalled.contains("Waiting for Kitchen PC…") && !stalled.contains("MB/s"), "{stalled}");
    rig.event(progress(6_000_000));
    assert!(bar(&rig).contains("24.0 MB/s"), "moving again: {}", bar(&rig));
}

/// Point 7: The chosen files stay until they arrived (a second device is one click), Try again is
/// offered after a cancel too, and "Clear finished" tidies the list.
#[test]
fn chosen_files_stay_until_delivered_cancel_offers_try_again_and_clear_finished_tidies() {
    let mut rig = rig();
    let file = rig.dir.path().join("a.jpg");
    std::fs::write(&file, b"abc").unwrap();
    rig.event(Event::PeerSeen(peer(2, "Kitchen PC", Os::Linux)));
    rig.event(Event::PeerSeen(peer(3, "Anna's laptop", Os::Linux)));
    pick(&mut rig, vec![file.clone()]);
    rig.harness.get_by_label_contains("Kitchen PC,").click();
    rig.harness.run();
    rig.harness.get_by_label("Send to Kitchen PC").click();
    rig.harness.run();
    let (first, _) = send_command(&rig);
    assert!(rig.harness.query_by_label("a.jpg").is_some(), "still chosen");
    rig.harness.get_by_label("Send to Kitchen PC").click();
    rig.harness.run();
    rig.no_command(); // already on its way there
    assert!(rig.harness.query_by_label("These files are on their way to Kitchen PC.").is_some());
    rig.harness.get_by_label_contains("Anna's laptop,").click();
    rig.harness.run();
    rig.harness.get_by_label("Send to Anna's laptop").click();
    rig.harness.run();
    let (second, paths) = send_command(&rig);
    assert_eq!(paths, vec![file.clone()], "a second device is one click");

    rig.event(Event::TransferCancelled { transfer: first, by_peer: false, reason: CancelReason::User });
    rig.harness.get_by_label("Try sending 1 file to Kitchen PC again").click();
    rig.harness.run();
    let (third, paths) = send_command(&rig);
    assert_eq!(paths, vec![file.clone()]);

    rig.event(Event::TransferDeclined { transfer: third, busy: false });
    let done =
        FileOutcome { index: 0, path: "a.jpg".into(), size: 3, result: FileResult::Saved, saved_as: None };
    rig.event(Event::TransferFinished { transfer: second, files: vec![done] });
    assert!(rig.harness.query_by_label("a.jpg").is_none(), "delivered: the list is empty again");
    assert_eq!(rig.harness.state().transfers.len(), 2);
    rig.harness.get_by_label("Clear finished").click();
    rig.harness.run();
    assert!(rig.harness.state().transfers.is_empty());
    assert!(rig.harness.query_by_label("Clear finished").is_none());
}

/// Point 8: "Select none", and the total follows the selection.
#[test]
fn select_none_and_the_total_follows_the_selection() {
    let mut rig = rig();
    rig.event(Event::IncomingOffer(offer(TransferId(800), "Kitchen PC", &["a.jpg", "b.jpg", "c.jpg"])));
    assert!(rig.harness.query_by_label("Total: 3 files, 6.00 MB").is_some());
    rig.harness.get_by_label("Choose files…").click();
    rig.harness.run();
    rig.harness.get_by_label("Select none").click();
    rig.harness.run();
    assert!(rig.harness.query_by_label("Total: 0 of 3 files, 0 B").is_some());
    rig.harness.get_by_label("Accept 0 of 3").click();
    rig.harness.run();
    rig.no_command();
    rig.harness.get_by_role_and_label(Role::CheckBox, "b.jpg").click();
    rig.harness.run();
    assert!(rig.harness.query_by_label("Total: 1 of 3 files, 2.00 MB").is_some());
    rig.harness.get_by_label("Accept 1 of 3").click();
    rig.harness.run();
    assert!(matches!(rig.command(), Command::Answer { decision: Decision::AcceptSome(v), .. } if v == [1]));
}

/// Point 9: A screen reader can tell every button apart and knows what it acts on; the window and its
/// lists have names; headings are headings; icons are not read out; Arabic stays in logical order.
#[test]
fn every_control_has_a_unique_name_and_the_window_reads_well() {
    let mut rig = rig();
    rig.events.send(Event::Warning(Warning::DiscoveryUnavailable { detail: "no network".into() })).unwrap();
    rig.events.send(Event::Warning(Warning::LocalSendServer { detail: "port taken".into() })).unwrap();
    for n in 0..3u64 {
        let id = TransferId(900 + n);
        started(&mut rig, id, if n == 1 { Direction::Outgoing } else { Direction::Incoming });
        if n < 2 {
            rig.event(Event::TransferCancelled { transfer: id, by_peer: false, reason: CancelReason::User });
        }
    }
    started(&mut rig, TransferId(910), Direction::Incoming);
    let progress = |transfer| Event::Progress {
        transfer,
        bytes_done: 1_000_000,
        bytes_total: 20_000_000,
        current_file: "IMG_1.jpg".into(),
        rate: 1_000_000.0,
    };
    rig.event(progress(TransferId(902)));
    rig.event(progress(TransferId(910)));

    let texts = all_texts(&rig);
    let inputs: Vec<&String> = texts
        .iter()
        .filter(|(r, _)| matches!(r, Role::Button | Role::CheckBox | Role::ProgressIndicator))
        .map(|(_, t)| t)
        .collect();
    let mut seen = std::collections::HashSet::new();
    for name in &inputs {
        assert!(!name.trim().is_empty(), "a control without a name");
        assert!(seen.insert(name.as_str()), "two controls are both called {name:?}: {inputs:#?}");
    }
    assert!(
        inputs.iter().any(|n| n.starts_with("Remove cancelled")
            || n.starts_with("Remove receiving 2 files from Kitchen PC")),
        "{inputs:#?}"
    );
    assert!(inputs.iter().any(|n| *n == "Cancel receiving 2 files from Kitchen PC (2)"), "{inputs:#?}");
    assert!(
        inputs.iter().any(|n| n.starts_with("Dismiss the message “Other devices can't be found")),
        "{inputs:#?}"
    );
    assert!(
        inputs.iter().filter(|n| n.starts_with("Progress of receiving 2 files from Kitchen PC")).count() == 2
    );

    let root = rig.harness.root();
    assert_eq!(root.accesskit_node().label().as_deref(), Some("Ferry: send and receive files"));
    for list in ["Devices nearby, list", "Transfers and recent transfers, list"] {
        assert_eq!(rig.harness.get_by_label(list).accesskit_node().role(), Role::ScrollView, "{list}");
    }
    for heading in ["Ferry", "Devices nearby", "Send files", "Transfers"] {
        assert!(
            rig.harness.query_by_role_and_label(Role::Heading, heading).is_some(),
            "{heading} is a heading"
        );
    }
    assert!(
        rig.harness.query_all(By::new().label("From Kitchen PC")).next().is_some(),
        "read without its arrow"
    );
    for (_, text) in &texts {
        for icon in ["📥", "📤", "🔍", "⚠"] {
            assert!(!text.contains(icon), "{icon} is read out in {text:?}");
        }
    }
}

/// Point 9: Arabic: whatever a screen reader reads of a name comes in the order it is written (a
/// selectable label hands out its glyphs in drawing order, right to left).
#[test]
fn arabic_names_reach_screen_readers_in_logical_order() {
    let mut rig = rig_with_fonts(Language::English);
    rig.event(Event::IncomingOffer(offer(TransferId(950), "Kitchen PC", &["صورة العائلة.png"])));
    assert!(rig.harness.query_by_label("صورة العائلة.png").is_some());
    let runs: Vec<String> = rig
        .harness
        .query_all(By::new().role(Role::TextRun))
        .filter_map(|n| n.accesskit_node().value().map(|v| v.to_string()))
        .filter(|v| v.chars().any(|c| ('\u{600}'..'\u{700}').contains(&c)))
        .collect();
    for run in runs {
        assert!("صورة العائلة.png".contains(run.trim_end()), "text run out of logical order: {run:?}");
    }
}

/// Point 10: History says when and what happened, in a sentence with the right plural; a declined
/// offer is listed on the receiving side too.
#[test]
fn history_says_when_and_what_happened_and_lists_declined_offers() {
    let mut rig = rig();
    rig.event(Event::IncomingOffer(offer(TransferId(1000), "Anna's laptop", &["a.jpg", "b.jpg"])));
    rig.harness.get_by_label("Decline").click();
    rig.harness.run();
    let id = TransferId(1001);
    started_with(&mut rig, id, Direction::Incoming, "Anna's laptop", &["x.jpg"], 1_000_000);
    rig.event(Event::TransferCancelled { transfer: id, by_peer: false, reason: CancelReason::User });
    rig.harness.get_by_label("Clear finished").click();
    rig.harness.run();
    if rig.harness.query_by_label("Clear history").is_none() {
        rig.harness.get_by_label("Recent transfers").click(); // open the history
        rig.harness.run();
    }
    assert!(rig.harness.query_by_label("Receiving 1 file from Anna's laptop was cancelled").is_some());
    assert!(rig.harness.query_by_label("You declined 2 files from Anna's laptop").is_some());
    assert_eq!(
        all_texts(&rig).iter().filter(|(_, t)| t.starts_with("Today ")).count(),
        2,
        "each line says when"
    );
    let history = rig.dir.path().join("history.json");
    rig.wait_for("history.json", |_| std::fs::read_to_string(&history).is_ok_and(|t| t.contains("declined")));
}

/// Point 11: `ferry photo.jpg holiday/` (paths, no subcommand) is the window with those files chosen.
#[test]
fn paths_without_a_subcommand_open_the_window_with_them() {
    use clap::Parser;
    use ferry::cli::{Cli, Cmd};
    let cli = Cli::try_parse_from(["ferry", "photo.jpg", "holiday/"]).expect("paths parse");
    assert!(cli.command.is_none());
    assert_eq!(cli.paths, [PathBuf::from("photo.jpg"), PathBuf::from("holiday/")]);
    let cli = Cli::try_parse_from(["ferry", "send", "a.jpg", "--to", "Kitchen PC"]).unwrap();
    assert!(matches!(cli.command, Some(Cmd::Send { .. })) && cli.paths.is_empty());
    assert!(matches!(Cli::try_parse_from(["ferry", "receive"]).unwrap().command, Some(Cmd::Receive { .. })));
    assert!(Cli::try_parse_from(["ferry"]).unwrap().paths.is_empty());
    // Flags before the subcommand still belong to it (scripts and the CLI tests write them so).
    let cli = Cli::try_parse_from(["ferry", "--bind", "127.0.0.1", "send", "a.jpg", "--to", "x"]).unwrap();
    assert!(matches!(cli.command, Some(Cmd::Send { .. })) && cli.paths.is_empty());
    let cli = Cli::try_parse_from(["ferry", "--bind", "127.0.0.1", "holiday"]).unwrap();
    assert_eq!((cli.command.is_none(), cli.paths), (true, vec![PathBuf::from("holiday")]));
}

/// Peer-supplied text (device and file names, error texts) never reaches the screen raw: an ESC
/// or a bidi override shows as an escape.
#[test]
fn peer_text_with_controls_or_bidi_overrides_is_shown_escaped() {
    let mut rig = rig();
    let evil = ["invoice\u{202E}fdp.exe", "red\u{1b}[31m.txt"];
    rig.event(Event::IncomingOffer(offer(TransferId(1100), "Kitchen\u{1b}]0;pwned\u{7}PC", &evil)));
    // The prompt lists the names the files will be saved under (issue 14: the override and the
    // ESC are gone from those); the sender's own names are in the tooltips, escaped.
    assert!(rig.harness.query_by_label("invoicefdp.exe").is_some());
    assert!(rig.harness.query_by_label("red_[31m.txt").is_some());
    for (_, text) in all_texts(&rig) {
        assert!(!text.chars().any(|c| c == '\u{1b}' || ferry::text::is_bidi_control(c)), "raw in {text:?}");
    }
    assert!(rig.harness.query_by_label_contains("Kitchen\\u{1b}]0;pwned\\u{7}PC").is_some());
    rig.harness.get_by_label("Accept").click();
    rig.harness.run();
    let id = TransferId(1100);
    started_with(&mut rig, id, Direction::Incoming, "Kitchen\u{202E}CP", &evil, 3_000_000);
    rig.event(Event::Progress {
        transfer: id,
        bytes_done: 1,
        bytes_total: 3_000_000,
        current_file: evil[0].into(),
        rate: 0.0,
    });
    rig.event(Event::TransferFailed {
        transfer: id,
        error: TransferError::PeerError("disk\u{1b}[2J full".into()),
    });
    rig.event(Event::Warning(Warning::LocalSendServer { detail: "odd\u{2066}warning".into() }));
    for (_, text) in all_texts(&rig) {
        assert!(!text.chars().any(|c| c == '\u{1b}' || ferry::text::is_bidi_control(c)), "raw in {text:?}");
    }
    assert!(rig.harness.query_by_label_contains("disk\\u{1b}[2J full").is_some());
    assert!(rig.harness.query_by_label_contains("From Kitchen\\u{202e}CP").is_some());
}

fn outcome(index: u32, path: &str, result: FileResult, saved_as: Option<PathBuf>) -> FileOutcome {
    FileOutcome { index, path: path.into(), size: 10, result, saved_as }
}

/// Point 2: a batch the receiver's full disk stopped says so on both sides, in plain words with
/// the device's name — not just "0 of 2 files arrived".
#[test]
fn a_full_disk_is_named_on_both_sides() {
    for (direction, said) in [
        (Direction::Outgoing, "Kitchen PC's disk is full. Nothing half-saved was kept."),
        (Direction::Incoming, "This computer's disk is full. Nothing half-saved was kept."),
    ] {
        let mut rig = rig();
        let id = TransferId(700);
        started(&mut rig, id, direction);
        rig.event(Event::TransferFinished {
            transfer: id,
            files: vec![
                outcome(0, "IMG_1.jpg", FileResult::DiskFull, None),
                outcome(1, "IMG_2.jpg", FileResult::NotSent, None),
            ],
        });
        assert!(rig.harness.query_by_label_contains("Finished with problems").is_some());
        assert!(rig.harness.query_by_label_contains(said).is_some(), "{direction:?}: {said}");
    }
    let mut rig = rig();
    let id = TransferId(701);
    started(&mut rig, id, Direction::Outgoing);
    rig.event(Event::TransferFinished {
        transfer: id,
        files: vec![
            outcome(0, "IMG_1.jpg", FileResult::Saved, None),
            outcome(1, "IMG_2.jpg", FileResult::FolderGone, None),
        ],
    });
    assert!(rig.harness.query_by_label_contains("The receive folder on Kitchen PC was removed.").is_some());
}

/// Point 6 with issue 9's retries: while the receiver says it is busy and Ferry tries again by
/// itself, the card says so; once the offer is through it waits for the answer as usual.
#[test]
fn a_busy_receiver_shows_as_waiting_busy() {
    let mut rig = rig();
    let id = TransferId(710);
    started(&mut rig, id, Direction::Outgoing);
    let waiting = ferry::engine::WaitReason::Busy { retry_in_ms: 1000, attempt: 1 };
    rig.event(Event::TransferWaiting { transfer: id, reason: waiting });
    assert!(rig.harness.query_by_label("Waiting for Kitchen PC (busy)…").is_some());
    rig.event(Event::TransferWaiting { transfer: id, reason: ferry::engine::WaitReason::Answer });
    assert!(rig.harness.query_by_label("Waiting for Kitchen PC (busy)…").is_none());
    assert!(rig.harness.query_by_label_contains("Waiting for the other computer to accept").is_some());
}

/// A finished receive says where the files went, and the name a file got when its own was
/// taken ("Saved as IMG_1 (1).jpg").
#[test]
fn a_finished_receive_says_where_and_under_which_name() {
    let mut rig = rig();
    let id = TransferId(720);
    started(&mut rig, id, Direction::Incoming);
    let received = rig.dir.path().join("received");
    rig.event(Event::TransferFinished {
        transfer: id,
        files: vec![
            outcome(0, "IMG_1.jpg", FileResult::Saved, Some(received.join("IMG_1 (1).jpg"))),
            outcome(1, "IMG_2.jpg", FileResult::Saved, Some(received.join("IMG_2.jpg"))),
        ],
    });
    let folder = format!("Saved in {}", received.display());
    assert!(rig.harness.query_by_label(&folder).is_some(), "{folder}");
    assert!(rig.harness.query_by_label("Saved as IMG_1 (1).jpg").is_some());
}

/// "Show file" on a receive of one file shows that file selected in the file manager and does
/// not open it (no image viewer starts); "Open folder" and the receive-folder link still open a
/// folder.
#[test]
fn show_file_reveals_the_saved_file_and_open_folder_opens_its_folder() {
    let mut rig = rig();
    let id = TransferId(721);
    started_with(&mut rig, id, Direction::Incoming, "Kitchen PC", &["IMG_1.jpg"], 10);
    let received = rig.dir.path().join("received");
    let saved = received.join("IMG_1 (1).jpg");
    rig.event(Event::TransferFinished {
        transfer: id,
        files: vec![outcome(0, "IMG_1.jpg", FileResult::Saved, Some(saved.clone()))],
    });

    rig.harness.get_by_label("Show the file of receiving 1 file from Kitchen PC").click();
    rig.harness.run();
    match rig.launch() {
        Job::Reveal(path) => assert_eq!(path, saved),
        other => panic!("expected the saved file to be revealed, got {other:?}"),
    }

    rig.harness.get_by_label("Open the folder of receiving 1 file from Kitchen PC").click();
    rig.harness.run();
    match rig.launch() {
        Job::Open(path) => assert_eq!(path, received),
        other => panic!("expected its folder to be opened, got {other:?}"),
    }

    rig.harness.get_by_label("Open the receive folder").click();
    rig.harness.run();
    match rig.launch() {
        Job::Open(path) => assert_eq!(path, received),
        other => panic!("expected the receive folder to be opened, got {other:?}"),
    }
    assert!(rig.launches.try_recv().is_err(), "one job per click");
}

/// Point 12: "Send text…" opens a box; what is typed there goes to the selected device as a text
/// offer (exactly), the card says it was delivered, and a LocalSend device gets no Send button.
#[test]
fn the_text_box_sends_text_to_the_chosen_device() {
    let mut rig = rig();
    rig.event(Event::PeerSeen(peer(4, "Kitchen PC", Os::Linux)));
    rig.harness.get_by_label_contains("Kitchen PC").click();
    rig.harness.run();
    rig.harness.get_by_label("Send text…").click();
    rig.harness.run();
    rig.harness.get_by_label("Text to send").focus();
    rig.harness.run();
    rig.harness.get_by_label("Text to send").type_text("Wi-Fi: hunter2");
    rig.harness.run();
    rig.harness.get_by_label("Send text to Kitchen PC").click();
    rig.harness.run();
    let (id, to, text) = match rig.command() {
        Command::SendText { id, to, text } => (id, to, text),
        other => panic!("expected SendText, got {other:?}"),
    };
    assert_eq!(text, "Wi-Fi: hunter2");
    assert_eq!(to, "10.231.7.4:53531".parse::<SocketAddr>().unwrap());
    assert!(rig.harness.query_by_label("Text to send").is_none(), "the box closes");
    rig.event(Event::TransferFinished { transfer: id, files: vec![] });
    assert!(rig.harness.query_by_label("Delivered: the text was accepted.").is_some());
    assert!(rig.harness.state().history.is_empty(), "the history lists files, not texts");

    // A LocalSend phone takes a text too (as a LocalSend message).
    let mut phone = peer(5, "Anna's phone", Os::Android);
    phone.source = PeerSource::LocalSend(ferry::engine::DeviceType::Mobile);
    rig.event(Event::PeerSeen(phone));
    rig.harness.get_by_label_contains("Anna's phone").click();
    rig.harness.run();
    rig.harness.get_by_label("Send text…").click();
    rig.harness.run();
    rig.harness.get_by_label("Text to send").focus();
    rig.harness.run();
    rig.harness.get_by_label("Text to send").type_text("hello");
    rig.harness.run();
    assert!(!rig.harness.get_by_label("Send text to Anna's phone").accesskit_node().is_disabled());
    rig.harness.get_by_label("Send text to Anna's phone").click();
    rig.harness.run();
    match rig.command() {
        Command::SendText { text, to, .. } => {
            assert_eq!(text, "hello");
            assert_eq!(to, peer(5, "Anna's phone", Os::Android).addr);
        }
        other => panic!("expected SendText, got {other:?}"),
    }
}

/// Point 12: a text offer shows its text (cleaned: an escape sequence is seen as its escape) and
/// Accept answers it; once it arrives — or a LocalSend phone's message arrives — one card shows
/// it with a Copy button that copies it exactly.
#[test]
fn a_text_offer_is_shown_and_the_text_card_copies_it_exactly() {
    let mut rig = rig();
    let id = TransferId(800);
    let text = "https://example.org/?a=1\u{1b}[2J\nline two";
    let mut o = offer(id, "Kitchen PC", &[]);
    o.text = Some(text.into());
    o.total_bytes = text.len() as u64;
    rig.event(Event::IncomingOffer(o));
    assert!(rig.harness.query_by_label_contains("“Kitchen PC” wants to send you a text").is_some());
    assert!(rig.harness.query_by_label("https://example.org/?a=1\\u{1b}[2J\nline two").is_some());
    rig.harness.get_by_label("Accept").click();
    rig.harness.run();
    assert!(
        matches!(rig.command(), Command::Answer { transfer, decision: Decision::AcceptAll } if transfer == id)
    );

    rig.event(Event::TextReceived { from: info("Kitchen PC"), text: text.into() });
    rig.event(Event::TextReceived { from: info("Anna's phone"), text: "from LocalSend".into() });
    assert_eq!(rig.harness.query_all_by_label("Copy the text from Kitchen PC").count(), 1, "one card");
    rig.harness.get_by_label("Copy the text from Kitchen PC").click();
    rig.harness.step();
    let copied: Vec<String> = rig
        .harness
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            egui::OutputCommand::CopyText(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(copied, [text.to_owned()], "copied exactly, controls and all");
    rig.harness.run();
    assert!(
        rig.harness.state().texts.iter().any(|t| t.from == "Kitchen PC" && t.copied),
        "the button says Copied"
    );
    assert!(rig.harness.query_by_label("from LocalSend").is_some());
    rig.harness.get_by_label("Dismiss the text from Anna's phone").click();
    rig.harness.run();
    assert!(rig.harness.query_by_label("from LocalSend").is_none());
}

fn some_code() -> ferry::engine::VerificationCode {
    ferry::protocol::sas::VerificationCode::derive(&[1; 32], &[2; 32], &[3; 32], &[4; 32])
}

/// Issue 10: the receiver's prompt shows the code to compare, and a device that only has a known
/// device's name is named as not being it, in the warning colour.
#[test]
fn the_prompt_shows_the_verification_code_and_warns_of_a_changed_device() {
    let mut rig = rig();
    let code = some_code();
    let mut first = offer(TransferId(1000), "Kitchen PC", &["a.jpg"]);
    first.verification_code = Some(code);
    rig.event(Event::IncomingOffer(first));
    assert!(rig.harness.query_by_label(&code.to_string()).is_some(), "the code is not shown");
    assert!(rig.harness.query_by_label("Check that the other screen shows the same number.").is_some());
    let warning = ferry::identity::known::changed_warning("Kitchen PC");
    assert!(rig.harness.query_by_label(&warning).is_none(), "a new device is not a changed one");
    rig.harness.get_by_label_contains("Accept").click();
    rig.harness.run();
    let _ = rig.command();

    let mut changed = offer(TransferId(1001), "Anna's laptop", &["b.jpg"]);
    changed.from.trust = Trust::Changed { lookalikes: vec![ferry::identity::Fingerprint([7; 32])] };
    changed.verification_code = Some(code);
    rig.event(Event::IncomingOffer(changed));
    let warning = ferry::identity::known::changed_warning("Anna's laptop");
    assert!(rig.harness.query_by_label(&warning).is_some(), "no warning for a changed device");
    assert!(rig.harness.query_by_label(&code.to_string()).is_some());
    // Between known devices there is no code to compare.
    rig.harness.get_by_label_contains("Decline").click();
    rig.harness.run();
    let _ = rig.command();
    let mut known = offer(TransferId(1002), "Kitchen PC", &["c.jpg"]);
    known.from.trust = Trust::Known;
    rig.event(Event::IncomingOffer(known));
    assert!(rig.harness.query_by_label("c.jpg").is_some());
    assert!(rig.harness.query_by_label("Check that the other screen shows the same number.").is_none());
}

/// The sender's card shows the code while it waits for the answer, and not once accepted.
#[test]
fn the_senders_card_shows_the_code_while_waiting_for_the_answer() {
    let mut rig = rig();
    let id = TransferId(1100);
    started(&mut rig, id, Direction::Outgoing);
    let code = some_code();
    assert!(rig.harness.query_by_label(&code.to_string()).is_none());
    rig.event(Event::VerificationCode { transfer: id, code });
    assert!(rig.harness.query_by_label(&code.to_string()).is_some(), "the code is not on the card");
    assert!(rig.harness.query_by_label("Check that the other screen shows the same number.").is_some());
    rig.event(Event::TransferAccepted { transfer: id, files: 2, bytes_total: 20_000_000 });
    assert!(rig.harness.query_by_label(&code.to_string()).is_none(), "the code outlived the answer");
}

/// The sender's card takes the receiver's name from its handshake (a bare address until then),
/// and warns when that device has a known device's name but another key.
#[test]
fn the_senders_card_names_the_proven_receiver_and_warns_when_it_is_changed() {
    let mut rig = rig();
    let id = TransferId(1110);
    started_with(&mut rig, id, Direction::Outgoing, "192.168.1.20:53531", &["IMG_1.jpg"], 1000);
    assert!(rig.harness.query_by_label("Cancel sending 1 file to 192.168.1.20:53531").is_some());
    let mut peer = info("Kitchen PC");
    peer.trust = Trust::Changed { lookalikes: vec![ferry::identity::Fingerprint([7; 32])] };
    rig.event(Event::TransferPeer { transfer: id, peer });
    assert!(
        rig.harness.query_by_label("Cancel sending 1 file to Kitchen PC").is_some(),
        "the card kept the address"
    );
    let warning = ferry::identity::known::changed_warning("Kitchen PC");
    assert!(rig.harness.query_by_label(&warning).is_some(), "no warning on the sender's card");
    rig.event(Event::TransferAccepted { transfer: id, files: 1, bytes_total: 1000 });
    assert!(rig.harness.query_by_label(&warning).is_none(), "the warning outlived the answer");
}

/// A device that took a known device's name with another key: its prompt offers "Forget the old
/// ‘…’" (unticked). Declining, or accepting without ticking it, keeps the old device; accepting
/// with it ticked forgets the device it looks like.
#[test]
fn accepting_a_changed_device_can_forget_the_old_one() {
    let mut rig = rig();
    let old = ferry::identity::Fingerprint([7; 32]);
    let other_known = ferry::identity::Fingerprint([8; 32]);
    {
        let store = rig.harness.state().known.store.clone();
        let mut store = store.lock().unwrap();
        for (fingerprint, name) in [(old, "Anna's laptop"), (other_known, "Kitchen PC")] {
            let seen = ferry::identity::known::Sighting { fingerprint, name, address: None };
            store.remember(&seen).unwrap();
        }
    }
    let changed = |id| {
        let mut o = offer(TransferId(id), "Anna's laptop", &["b.jpg"]);
        o.from.fingerprint = Some(ferry::identity::Fingerprint([6; 32]));
        o.from.trust = Trust::Changed { lookalikes: vec![old] };
        o
    };
    let known = |rig: &Rig, key| rig.harness.state().known.store.lock().unwrap().get(&key).is_some();
    let label = "Forget the old \u{2018}Anna's laptop\u{2019}";

    // Ticked, then declined: nothing is forgotten.
    rig.event(Event::IncomingOffer(changed(1300)));
    rig.harness.get_by_label(label).click();
    rig.harness.run();
    rig.harness.get_by_label_contains("Decline").click();
    rig.harness.run();
    let _ = rig.command();
    // Accepted without ticking it: the old device stays too.
    rig.event(Event::IncomingOffer(changed(1301)));
    rig.harness.get_by_label("Accept").click();
    rig.harness.run();
    assert!(matches!(rig.command(), Command::Answer { decision: Decision::AcceptAll, .. }));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(known(&rig, old), "the old device was forgotten without being asked to");

    rig.event(Event::IncomingOffer(changed(1302)));
    rig.harness.get_by_label(label).click();
    rig.harness.run();
    rig.harness.get_by_label("Accept").click();
    rig.harness.run();
    assert!(matches!(rig.command(), Command::Answer { decision: Decision::AcceptAll, .. }));
    rig.wait_for("the old device to be forgotten", |h| {
        h.state().known.store.lock().unwrap().get(&old).is_none()
    });
    assert!(known(&rig, other_known), "only the look-alike is forgotten");

    // A sender without a key of its own (a LocalSend phone without a certificate) replaces
    // nothing: no box.
    let mut keyless = changed(1303);
    keyless.from.fingerprint = None;
    rig.event(Event::IncomingOffer(keyless));
    assert!(rig.harness.query_by_label_contains("This is not the").is_some(), "the warning stays");
    assert!(rig.harness.query_by_label(label).is_none(), "a keyless sender offered to replace a device");
}

/// Issue 10 point 4: accepting without asking is per device and keyed on its key. The prompt of a
/// device whose key a handshake proved offers "Always accept from this device"; ticked, accepting
/// marks that key in the store of known devices. A device that only has a known device's name
/// gets no such box, and Settings has no switch for everyone.
#[test]
fn always_accept_is_offered_per_device_and_marks_its_key() {
    let mut rig = rig();
    let key = ferry::identity::Fingerprint([5; 32]);
    let mut o = offer(TransferId(1200), "Kitchen PC", &["a.jpg"]);
    o.from.fingerprint = Some(key);
    rig.event(Event::IncomingOffer(o));
    rig.harness.get_by_label("Always accept from this device (Kitchen PC)").click();
    rig.harness.run();
    rig.harness.get_by_label("Accept").click();
    rig.harness.run();
    assert!(matches!(rig.command(), Command::Answer { decision: Decision::AcceptAll, .. }));
    rig.wait_for("the key to be marked", |h| {
        h.state().known.store.lock().unwrap().accepts_automatically(&key)
    });

    let mut changed = offer(TransferId(1201), "Anna's laptop", &["b.jpg"]);
    changed.from.fingerprint = Some(ferry::identity::Fingerprint([6; 32]));
    changed.from.trust = Trust::Changed { lookalikes: vec![ferry::identity::Fingerprint([7; 32])] };
    rig.event(Event::IncomingOffer(changed));
    assert!(rig.harness.query_by_label_contains("Always accept from this device").is_none());
    rig.harness.get_by_label_contains("Decline").click();
    rig.harness.run();
    let _ = rig.command();

    rig.harness.state_mut().open_settings();
    rig.harness.run();
    assert!(rig.harness.query_all_by_label_contains("Known devices").count() > 0, "Settings is showing");
    assert!(rig.harness.query_by_label_contains("Accept files automatically").is_none());
    assert!(rig.harness.query_by_label_contains("without being asked").is_some());
}
