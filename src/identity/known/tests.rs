use super::*;

fn fp(b: u8) -> Fingerprint {
    Fingerprint([b; 32])
}

fn seen(b: u8, name: &str) -> Sighting<'_> {
    Sighting { fingerprint: fp(b), name, address: None }
}

#[test]
fn a_key_is_known_whatever_name_it_gives_now() {
    let mut store = KnownDevices::in_memory();
    assert_eq!(store.trust("Anna's laptop", &fp(1)), Trust::New);
    store.remember_at(&seen(1, "Anna's laptop"), 100).unwrap();
    assert_eq!(store.trust("Anna's laptop", &fp(1)), Trust::Known);
    // Renamed by its owner: still the same device.
    assert_eq!(store.trust("Anna's new laptop", &fp(1)), Trust::Known);
    store.remember_at(&seen(1, "Anna's new laptop"), 200).unwrap();
    let d = store.get(&fp(1)).unwrap();
    assert_eq!(d.name, "Anna's new laptop");
    assert_eq!(d.earlier_names, ["Anna's laptop"]);
    assert_eq!((d.first_seen, d.last_seen), (100, 200));
}

#[test]
fn a_known_name_with_another_key_is_changed_however_it_is_written() {
    let mut store = KnownDevices::in_memory();
    store.remember_at(&seen(1, "Anna's laptop"), 1).unwrap();
    store.remember_at(&seen(2, "Büro-PC"), 1).unwrap();
    for impostor in [
        "Anna's laptop",
        "anna's laptop",
        "ANNA'S LAPTOP",
        "Anna\u{2019}s  laptop",
        "Anna's-Laptop",
        " Anna's laptop\u{200B} ",
        "\u{410}nna's laptop",  // Cyrillic А
        "Anna's l\u{430}ptop",  // Cyrillic а
        "\u{FF21}nna's laptop", // full-width Ａ
        "Anna's lapt0p",
        "Anna's \u{202E}laptop",
    ] {
        assert_eq!(store.trust(impostor, &fp(9)), Trust::Changed { lookalikes: vec![fp(1)] }, "{impostor:?}");
    }
    assert_eq!(store.trust("bür0 pc", &fp(9)), Trust::Changed { lookalikes: vec![fp(2)] });
    assert_eq!(store.trust("Anna's desktop", &fp(9)), Trust::New);
    assert_eq!(store.trust("", &fp(9)), Trust::New);
    assert_eq!(store.trust("'''", &fp(9)), Trust::New);
}

#[test]
fn earlier_names_and_the_persons_own_name_count_as_names_of_the_device() {
    let mut store = KnownDevices::in_memory();
    store.remember_at(&seen(1, "Anna-PC"), 1).unwrap();
    store.remember_at(&seen(1, "Anna's laptop"), 2).unwrap();
    store.rename(&fp(1), Some("Work laptop")).unwrap();
    assert_eq!(store.get(&fp(1)).unwrap().display_name(), "Work laptop");
    assert!(matches!(store.trust("anna-pc", &fp(7)), Trust::Changed { .. }));
    assert!(matches!(store.trust("Work Laptop", &fp(7)), Trust::Changed { .. }));
    store.rename(&fp(1), None).unwrap();
    assert_eq!(store.get(&fp(1)).unwrap().display_name(), "Anna's laptop");
    assert!(!store.rename(&fp(5), Some("x")).unwrap(), "an unknown device cannot be renamed");
}

#[test]
fn two_known_devices_with_one_name_are_both_named_and_each_known() {
    let mut store = KnownDevices::in_memory();
    store.remember_at(&seen(1, "MacBook Pro"), 1).unwrap();
    store.remember_at(&seen(2, "MacBook Pro"), 1).unwrap();
    assert_eq!(store.trust("MacBook Pro", &fp(1)), Trust::Known);
    assert_eq!(store.trust("MacBook Pro", &fp(2)), Trust::Known);
    assert_eq!(store.trust("macbook pro", &fp(3)), Trust::Changed { lookalikes: vec![fp(1), fp(2)] });
}

#[test]
fn always_accept_is_keyed_on_the_key_and_forget_makes_a_device_new() {
    let mut store = KnownDevices::in_memory();
    store.remember_at(&seen(1, "Anna's laptop"), 1).unwrap();
    assert!(!store.accepts_automatically(&fp(1)));
    assert!(store.set_always_accept(&fp(1), true).unwrap());
    assert!(store.accepts_automatically(&fp(1)));
    // Another key with the same name gets nothing of it.
    assert!(!store.accepts_automatically(&fp(2)));
    assert!(!store.set_always_accept(&fp(2), true).unwrap());
    assert!(store.forget(&fp(1)).unwrap());
    assert!(!store.accepts_automatically(&fp(1)));
    assert_eq!(store.trust("Anna's laptop", &fp(1)), Trust::New);
    assert!(!store.forget(&fp(1)).unwrap());
}

#[test]
fn addresses_are_hints_most_recent_first_and_few() {
    let mut store = KnownDevices::in_memory();
    for i in 0..6u8 {
        let address = Some(format!("192.0.2.{i}:53531").parse().unwrap());
        store.remember_at(&Sighting { fingerprint: fp(1), name: "A", address }, i as u64).unwrap();
    }
    let again = Some("192.0.2.3:53531".parse().unwrap());
    store.remember_at(&Sighting { fingerprint: fp(1), name: "A", address: again }, 9).unwrap();
    let got: Vec<String> = store.get(&fp(1)).unwrap().addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(got, ["192.0.2.3:53531", "192.0.2.5:53531", "192.0.2.4:53531", "192.0.2.2:53531"]);
}

#[test]
fn names_are_stored_cleaned() {
    let mut store = KnownDevices::in_memory();
    store.remember_at(&seen(1, "  Evil\u{1b}[31m\u{202E}PC \n"), 1).unwrap();
    assert_eq!(store.get(&fp(1)).unwrap().name, "Evil[31mPC");
}

#[test]
fn the_store_survives_a_restart_and_two_processes_do_not_lose_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut window = KnownDevices::open(dir.path()).store;
    let mut command = KnownDevices::open(dir.path()).store;
    window.remember_at(&seen(1, "Anna's laptop"), 10).unwrap();
    // The other process has not re-read, and adds its own: both survive.
    command.remember_at(&seen(2, "Büro-PC"), 11).unwrap();
    window.set_always_accept(&fp(1), true).unwrap();
    let reopened = KnownDevices::open(dir.path());
    assert!(reopened.warning.is_none(), "{:?}", reopened.warning);
    let names: Vec<&str> = reopened.store.devices().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["Anna's laptop", "Büro-PC"]);
    assert!(reopened.store.accepts_automatically(&fp(1)));
    let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
    assert!(text.contains(&fp(1).to_hex()), "{text}");
    assert!(!dir.path().join(format!("{FILE_NAME}.tmp")).exists());
}

#[test]
fn a_corrupt_file_is_kept_aside_and_the_store_starts_empty_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(FILE_NAME), "[[device]\nfingerprint = ").unwrap();
    let opened = KnownDevices::open(dir.path());
    assert!(
        opened.warning.as_ref().unwrap().to_string().contains("could not be read"),
        "{:?}",
        opened.warning
    );
    assert_eq!(opened.store.devices().count(), 0);
    assert!(dir.path().join(format!("{FILE_NAME}.bad")).exists());
    // And it can be used from there on.
    let mut store = opened.store;
    store.remember_at(&seen(3, "C"), 1).unwrap();
    assert_eq!(KnownDevices::open(dir.path()).store.devices().count(), 1);
}

#[test]
fn entries_that_make_no_sense_are_dropped_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let good = fp(4).to_hex();
    std::fs::write(
        dir.path().join(FILE_NAME),
        format!(
            "[[device]]\nfingerprint = \"{good}\"\nname = \"Good\"\nfirst_seen = 1\nlast_seen = 2\n\n\
             [[device]]\nfingerprint = \"not hex\"\nname = \"Bad\"\nfirst_seen = 1\nlast_seen = 2\n\n\
             [[device]]\nname = \"No key\"\n"
        ),
    )
    .unwrap();
    let opened = KnownDevices::open(dir.path());
    assert!(opened.warning.as_ref().unwrap().to_string().contains("2 entries"), "{:?}", opened.warning);
    let names: Vec<&str> = opened.store.devices().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["Good"]);
}

#[test]
fn trust_serializes_as_its_label() {
    assert_eq!(serde_json::to_string(&Trust::Known).unwrap(), "\"known\"");
    assert_eq!(serde_json::to_string(&Trust::Changed { lookalikes: vec![fp(1)] }).unwrap(), "\"changed\"");
    assert_eq!(Trust::New.label(), "new");
    assert_eq!(
        changed_warning("Anna's laptop"),
        "This is not the \u{2018}Anna's laptop\u{2019} you sent to before."
    );
}
