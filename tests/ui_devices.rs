//! The device list and the LocalSend and identity parts of Settings, driven through
//! egui_kittest with injected engine events (no engine, no network, no display).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use ferry::engine::{Command, DeviceType, Event, Peer, PeerSource, Trust};
use ferry::identity::Fingerprint;
use ferry::identity::known::{KnownDevices, Sighting};
use ferry::protocol::{InstanceId, Os};
use ferry::settings::{Language, Settings};
use ferry::ui::history::History;
use ferry::ui::{AppState, StateInit};

struct Rig {
    harness: Harness<'static, AppState>,
    commands: Receiver<Command>,
    events: Sender<Event>,
    dir: tempfile::TempDir,
}

fn rig() -> Rig {
    rig_sharing(|_, _| {})
}

/// A rig whose state was given an identity and a store first (`share(state, config dir)`).
fn rig_sharing(share: impl FnOnce(&mut AppState, &std::path::Path)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let (commands_tx, commands) = crossbeam_channel::unbounded();
    let (events, events_rx) = crossbeam_channel::unbounded();
    let settings = Settings {
        device_name: "Test laptop".into(),
        receive_dir: dir.path().join("received"),
        language: Language::English,
        ..Settings::default()
    };
    let state = AppState::new(StateInit {
        settings,
        config_dir: dir.path().to_path_buf(),
        history: History::default(),
        commands: commands_tx,
        events: events_rx,
        waker: Arc::new(|| {}),
        warnings: Vec::new(),
    })
    .unwrap();
    let mut state = state;
    share(&mut state, dir.path());
    let harness = Harness::builder()
        .with_size([1000.0, 720.0])
        .build_ui_state(|ui, state: &mut AppState| ferry::ui::frame(state, ui), state);
    Rig { harness, commands, events, dir }
}

impl Rig {
    fn event(&mut self, event: Event) {
        self.events.send(event).unwrap();
        self.harness.run();
    }

    fn wait_for(&mut self, what: &str, done: impl Fn(&Harness<'static, AppState>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(&self.harness) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
            self.harness.run();
        }
    }
}

fn peer(n: u8, name: &str, source: PeerSource) -> Peer {
    Peer {
        instance: InstanceId([n; 16]),
        name: name.into(),
        os: Os::Unknown,
        addr: format!("10.231.33.{n}:53317").parse().unwrap(),
        source,
        fingerprint: None,
        trust: Trust::New,
    }
}

#[test]
fn localsend_devices_are_marked_and_named_with_their_type() {
    let mut rig = rig();
    rig.event(Event::PeerSeen(peer(5, "Anna's phone", PeerSource::LocalSend(DeviceType::Mobile))));
    rig.event(Event::PeerSeen(Peer { os: Os::Linux, ..peer(6, "Desk", PeerSource::Discovered) }));
    assert!(
        rig.harness.query_by_label("Anna's phone, LocalSend phone, 10.231.33.5:53317").is_some(),
        "the screen reader hears what it is"
    );
    // A Ferry device is named by its OS, with no LocalSend in it.
    assert!(rig.harness.query_by_label("Desk, Linux, 10.231.33.6:53317").is_some());
}

/// Every device type's icon is a glyph egui's own fonts have (the harness panics on a missing
/// one, so a box can't slip through).
#[test]
fn every_localsend_device_type_has_a_drawable_icon() {
    let mut rig = rig();
    let all = [
        (DeviceType::Mobile, "phone"),
        (DeviceType::Desktop, "computer"),
        (DeviceType::Web, "web browser"),
        (DeviceType::Headless, "command-line program"),
        (DeviceType::Server, "server"),
    ];
    for (n, (t, _)) in all.iter().enumerate() {
        rig.event(Event::PeerSeen(peer(10 + n as u8, &format!("D{n}"), PeerSource::LocalSend(*t))));
    }
    for (n, (_, kind)) in all.iter().enumerate() {
        let name = format!("D{n}, LocalSend {kind}, 10.231.33.{}:53317", 10 + n);
        assert!(rig.harness.query_by_label(&name).is_some(), "{name}");
    }
}

#[test]
fn known_new_and_changed_devices_are_told_apart() {
    let mut rig = rig();
    let key = Some(Fingerprint([1; 32]));
    rig.event(Event::PeerSeen(Peer {
        fingerprint: key,
        trust: Trust::Known,
        ..peer(1, "Anna", PeerSource::Discovered)
    }));
    rig.event(Event::PeerSeen(Peer {
        fingerprint: key,
        trust: Trust::New,
        ..peer(2, "Bob", PeerSource::Discovered)
    }));
    let changed = Trust::Changed { lookalikes: vec![Fingerprint([1; 32])] };
    rig.event(Event::PeerSeen(Peer {
        fingerprint: Some(Fingerprint([3; 32])),
        trust: changed,
        ..peer(3, "Anna", PeerSource::LocalSend(DeviceType::Mobile))
    }));
    assert!(rig.harness.query_by_label("Anna, Unknown, known, 10.231.33.1:53317").is_some());
    assert!(rig.harness.query_by_label("Bob, Unknown, new, 10.231.33.2:53317").is_some());
    let warning =
        "Anna, LocalSend phone, This is not the \u{2018}Anna\u{2019} you sent to before., 10.231.33.3:53317";
    assert!(
        rig.harness.query_by_label(warning).is_some(),
        "the impostor is a device of its own, with the warning"
    );
}

#[test]
fn localsend_can_be_switched_off_in_settings_and_the_engine_is_told() {
    let mut rig = rig();
    rig.harness.get_by_label_contains("Settings").click();
    rig.harness.run();
    assert!(rig.harness.query_by_label_contains("UDP and TCP port 53317").is_some(), "firewall hint");
    rig.harness.get_by_label_contains("Let phones with LocalSend").click();
    rig.harness.run();
    let live: Vec<_> = rig
        .commands
        .try_iter()
        .filter_map(|c| match c {
            Command::UpdateSettings(live) => Some(live),
            _ => None,
        })
        .collect();
    assert!(live.iter().any(|l| l.localsend == Some(false)), "{live:?}");
    let file = rig.dir.path().join("settings.toml");
    rig.wait_for("settings.toml", |_| {
        std::fs::read_to_string(&file).is_ok_and(|t| t.contains("localsend = false"))
    });
}

fn open_settings(rig: &mut Rig) {
    rig.harness.get_by_label_contains("Settings").click();
    rig.harness.run();
}

#[test]
fn settings_show_this_devices_fingerprint_and_reset_asks_first() {
    let key = Fingerprint([0xAB; 32]);
    let mut rig = rig_sharing(|state, _| {
        state.share_identity(key, Arc::new(Mutex::new(KnownDevices::in_memory())));
    });
    open_settings(&mut rig);
    assert!(rig.harness.query_by_label_contains("ABAB ABAB ABAB ABAB").is_some(), "the short fingerprint");
    rig.harness.get_by_label("Reset identity…").click();
    rig.harness.run();
    assert!(rig.harness.query_by_label_contains("no longer recognise it").is_some(), "the question says why");
    rig.harness.get_by_label("Cancel").click();
    rig.harness.run();
    assert!(rig.harness.query_by_label_contains("no longer recognise it").is_none());
    let key_file = rig.dir.path().join("identity.key");
    assert!(!key_file.exists(), "nothing made on Cancel");

    rig.harness.get_by_label("Reset identity…").click();
    rig.harness.run();
    rig.harness.get_by_label("Make a new identity").click();
    rig.wait_for("the new identity", |h| h.query_by_label_contains("A new identity was made").is_some());
    let made = ferry::identity::DeviceIdentity::load_or_create(rig.dir.path()).unwrap();
    assert!(made.warning.is_none());
    let short = made.identity.fingerprint().short();
    assert!(rig.harness.query_by_label_contains(&short).is_some(), "the new key is shown: {short}");
    assert!(rig.harness.query_by_label("Reset identity…").is_none(), "once is enough until a restart");
}

#[test]
fn known_devices_are_listed_and_can_be_renamed_forgotten_and_always_accepted() {
    let (anna, bob) = (Fingerprint([1; 32]), Fingerprint([2; 32]));
    let store: Arc<Mutex<KnownDevices>> = Arc::new(Mutex::new(KnownDevices::in_memory()));
    let shared = store.clone();
    let mut rig = rig_sharing(move |state, dir| {
        let mut known = KnownDevices::open(dir).store;
        known.remember(&Sighting { fingerprint: anna, name: "Anna's phone", address: None }).unwrap();
        known.remember(&Sighting { fingerprint: bob, name: "Bob", address: None }).unwrap();
        *shared.lock().unwrap() = known;
        state.share_identity(Fingerprint([9; 32]), shared);
    });
    open_settings(&mut rig);
    rig.wait_for("the list", |h| h.query_by_label("Anna's phone").is_some());
    assert!(rig.harness.query_by_label("0101 0101 0101 0101").is_some(), "short fingerprint");
    assert_eq!(rig.harness.query_all_by_label_contains("last seen Today").count(), 2, "last seen");

    rig.harness.get_by_label("Always accept from this device (Anna's phone)").click();
    rig.harness.run();
    rig.wait_for("always accept saved", |_| store.lock().unwrap().accepts_automatically(&anna));
    assert!(!store.lock().unwrap().accepts_automatically(&bob));
    let file = std::fs::read_to_string(rig.dir.path().join("known-devices.toml")).unwrap();
    assert!(file.contains("always_accept = true"), "{file}");

    rig.harness.get_by_label("Rename Anna's phone").click();
    rig.harness.run();
    let field = rig.harness.get_by_label("Shown name");
    field.focus();
    rig.harness.run();
    rig.harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    rig.harness.run();
    rig.harness.get_by_label("Shown name").type_text("Anna");
    rig.harness.run();
    rig.harness.get_by_label("Save").click();
    rig.wait_for("renamed", |h| h.query_by_label("Anna").is_some());
    assert_eq!(store.lock().unwrap().get(&anna).unwrap().shown_name.as_deref(), Some("Anna"));

    rig.harness.get_by_label("Forget Bob").click();
    rig.wait_for("forgotten", |h| h.query_by_label("Bob").is_none());
    assert!(store.lock().unwrap().get(&bob).is_none());
    let file = std::fs::read_to_string(rig.dir.path().join("known-devices.toml")).unwrap();
    assert!(!file.contains("Bob"), "{file}");
}
