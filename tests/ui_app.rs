//! The window's state driven through egui_kittest with injected engine events: no engine, no
//! network, no display. Each test builds the state on channels of its own, puts events (and the
//! messages a file dialog would send) in, clicks like a person, and checks the commands that come
//! out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use ferry::engine::{
    Command, Decision, Direction, Event, FileOutcome, IncomingOffer, OfferedFile, Peer, PeerInfo, PeerSource,
    TransferError, TransferId,
};
use ferry::protocol::{CancelReason, FileResult, InstanceId, Os};
use ferry::settings::{Language, Settings};
use ferry::ui::history::History;
use ferry::ui::worker::Inbox;
use ferry::ui::{AppState, StateInit};

struct Rig {
    harness: Harness<'static, AppState>,
    commands: Receiver<Command>,
    events: Sender<Event>,
    inbox: Sender<Inbox>,
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
    let state = AppState::new(StateInit {
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
    let harness = Harness::builder()
        .with_size([1000.0, 720.0])
        .with_context_setup(setup)
        .build_ui_state(|ui, state: &mut AppState| ferry::ui::frame(state, ui), state);
    Rig { harness, commands, events, inbox, dir }
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
}

fn peer(n: u8, name: &str, os: Os) -> Peer {
    Peer {
        instance: InstanceId([n; 16]),
        name: name.into(),
        os,
        addr: format!("10.231.7.{n}:53531").parse().unwrap(),
        source: PeerSource::Discovered,
    }
}

fn info(name: &str) -> PeerInfo {
    PeerInfo {
        instance: InstanceId([9; 16]),
        name: name.into(),
        os: Os::Windows,
        addr: "10.231.7.9:40000".parse().unwrap(),
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
    IncomingOffer { transfer: id, from: info(from), files, total_bytes }
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
    rig.harness.get_by_label_contains("Accept files automatically").click();
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
    assert!(updates.iter().any(|u| u.accept_automatically == Some(true)), "{updates:?}");
    assert!(rig.harness.query_by_label_contains("Visible as “Test laptop 2”").is_some());
    let file = rig.dir.path().join("settings.toml");
    rig.wait_for("settings.toml", |_| {
        std::fs::read_to_string(&file)
            .is_ok_and(|t| t.contains("Test laptop 2") && t.contains("accept_automatically = true"))
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
    assert!(rig.harness.query_by_label_contains("Devices nearby").is_some(), "back to the main screen");
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
    rig.event(Event::TransferStarted {
        transfer: id,
        direction,
        peer: info("Kitchen PC"),
        files: offer(id, "Kitchen PC", &["IMG_1.jpg", "IMG_2.jpg"]).files,
        total_bytes: 20_000_000,
    });
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

    rig.harness.get_by_label("Cancel").click();
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

    rig.harness.get_by_label_contains("Try again").click();
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
    assert!(rig.harness.query_by_label_contains("Done: 2 of 2 saved").is_some());
    assert!(rig.harness.query_by_label("Open folder").is_some());
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
    rig.event(Event::PeerAddFailed { address: "192.0.2.7:53531".into(), reason: "nobody answered".into() });
    assert!(rig.harness.query_by_label_contains("Couldn't add 192.0.2.7:53531: nobody answered").is_some());
}

/// Chinese, Japanese, Korean, Arabic and emoji names, with the system fallback fonts installed the
/// way the window installs them. The harness panics on any character no font can draw, so this
/// also fails if a fallback is missing.
#[test]
fn cjk_and_other_scripts_are_drawn_with_fonts_that_have_them() {
    let found = ferry::ui::fonts::load_system_fallbacks();
    let families: Vec<&str> = found.iter().map(|f| f.family.as_str()).collect();
    assert!(
        families.iter().any(|f| ferry::ui::fonts::CJK_FAMILIES.contains(f)),
        "no CJK font found (install fonts-noto-cjk): {families:?}"
    );
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
