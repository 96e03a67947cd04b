//! The real `ferry` binary and device keys: `ferry identity` (and `--reset`), `ferry peers`
//! showing trust and fingerprints, and `ferry send --to` refusing a changed name but taking a
//! fingerprint. On loopback (discovery on 127.255.255.255), LocalSend off.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{free_udp_port, write_random};
use ferry::identity::Fingerprint;
use ferry::identity::known::{KnownDevices, Sighting};

const BIN: &str = env!("CARGO_BIN_EXE_ferry");

fn ferry(cfg: &Path, discovery_port: u16) -> Command {
    let mut c = Command::new(BIN);
    c.env("FERRY_CONFIG_DIR", cfg)
        .env_remove("FERRY_PORT")
        .env_remove("FERRY_BIND")
        .env_remove("FERRY_BROADCAST")
        .env_remove("FERRY_DISCOVERY_PORT")
        .env_remove("FERRY_LOCALSEND")
        .args(["--bind", "127.0.0.1", "--broadcast", "127.255.255.255", "--no-localsend"])
        .args(["--discovery-port", &discovery_port.to_string()])
        .stdin(Stdio::null());
    c
}

/// Kills the child if the test fails half-way.
struct Reap(std::process::Child);
impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(cmd: &mut Command) -> (bool, i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// This device's key, as `ferry identity --json` gives it.
fn identity(cfg: &Path) -> (Fingerprint, String) {
    let (ok, _, out, err) = run(ferry(cfg, 1).args(["identity", "--json"]));
    assert!(ok, "{out} {err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let fp = Fingerprint::from_hex(v["fingerprint"].as_str().unwrap()).unwrap();
    (fp, v["short"].as_str().unwrap().to_owned())
}

#[test]
fn identity_shows_the_same_key_every_time_and_reset_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cfg");
    let (ok, _, out, err) = run(ferry(&cfg, 1).arg("identity"));
    assert!(ok, "{out} {err}");
    let (fp, short) = identity(&cfg);
    assert_eq!(short, fp.short());
    assert!(out.contains(&format!("Fingerprint: {short}")), "{out}");
    assert!(out.contains(&fp.to_hex()), "{out}");
    assert_eq!(identity(&cfg).0, fp, "the key is kept between runs");

    // No terminal and no --yes: nothing changes.
    let (ok, code, _, err) = run(ferry(&cfg, 1).args(["identity", "--reset"]));
    assert!(!ok && code == 4, "{code} {err}");
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(identity(&cfg).0, fp);

    let (ok, _, out, err) = run(ferry(&cfg, 1).args(["identity", "--reset", "--yes"]));
    assert!(ok, "{out} {err}");
    let (new, _) = identity(&cfg);
    assert_ne!(new, fp, "a new key");
    assert!(out.contains(&new.short()) && out.contains("started again"), "{out}");
}

/// A `ferry receive --yes --once` called `name`; returns once it listens.
fn receiver(cfg: &Path, disc: u16, name: &str, inbox: &Path) -> Reap {
    receiver_at(cfg, disc, name, inbox).0
}

/// [`receiver`], and the address it takes transfers at.
fn receiver_at(cfg: &Path, disc: u16, name: &str, inbox: &Path) -> (Reap, String) {
    let mut rx = ferry(cfg, disc)
        .args(["receive", "--yes", "--once", "--json", "--port", "0", "--name", name])
        .arg("--dir")
        .arg(inbox)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(rx.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let ready: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(ready["event"], "ready", "{first}");
    let addr = ready["data"]["transfer_addr"].as_str().unwrap().to_owned();
    // Keep reading, or its next line would find the pipe closed.
    std::thread::spawn(move || lines.for_each(drop));
    (Reap(rx), addr)
}

/// Sent to by its address, a receiver whose handshake proves another key than the known device
/// of that name is named in `ferry send`'s output with the warning (and the file goes: an
/// address is an explicit choice).
#[test]
fn send_to_an_address_warns_when_the_receiver_took_a_known_name() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let disc = free_udp_port();
    let tx_cfg = w.join("cfg-tx");
    let mut known = KnownDevices::open(&tx_cfg).store;
    known
        .remember(&Sighting { fingerprint: Fingerprint([0x42; 32]), name: "Study PC", address: None })
        .unwrap();
    let (_rx, addr) = receiver_at(&w.join("cfg-rx"), disc, "Study PC", &w.join("inbox"));
    let src = w.join("photo.jpg");
    write_random(&src, 10_000, 6);
    let (ok, code, out, err) = run(ferry(&tx_cfg, disc).args(["send", "--to", &addr]).arg(&src));
    assert!(ok, "{code} {out} {err}");
    assert!(out.contains("This is not the \u{2018}Study PC\u{2019} you sent to before"), "{out}");
    assert!(w.join("inbox/photo.jpg").exists());
}

#[test]
fn peers_show_trust_and_send_refuses_a_changed_name_but_takes_a_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    let disc = free_udp_port();
    let (rx_cfg, tx_cfg) = (w.join("cfg-rx"), w.join("cfg-tx"));
    let (rx_key, rx_short) = identity(&rx_cfg);
    let _rx = receiver(&rx_cfg, disc, "Study PC", &w.join("inbox"));

    // Nothing known yet: new, with the key its datagrams carry.
    let (ok, _, out, err) = run(ferry(&tx_cfg, disc).args(["peers", "--json", "--wait", "1.5"]));
    assert!(ok, "{err}");
    let peer: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "peer_seen" && v["data"]["name"] == "Study PC")
        .map(|v| v["data"].clone())
        .unwrap_or_else(|| panic!("no Study PC in {out}"));
    assert_eq!(peer["fingerprint"], rx_key.to_hex(), "{peer}");
    assert_eq!(peer["trust"], "new", "{peer}");

    // The sender knew another "Study PC": this one is changed.
    let other = Fingerprint([0x42; 32]);
    let mut known = KnownDevices::open(&tx_cfg).store;
    known.remember(&Sighting { fingerprint: other, name: "Study PC", address: None }).unwrap();
    let (ok, _, out, err) = run(ferry(&tx_cfg, disc).args(["peers", "--wait", "1.5"]));
    assert!(ok, "{err}");
    assert!(out.contains("TRUST") && out.contains("changed") && out.contains(&rx_short), "{out}");
    assert!(out.contains("This is not the \u{2018}Study PC\u{2019} you sent to before"), "{out}");

    let src = w.join("photo.jpg");
    write_random(&src, 10_000, 5);
    let (ok, code, out, err) =
        run(ferry(&tx_cfg, disc).args(["send", "--to", "Study PC", "--wait", "1.5"]).arg(&src));
    assert!(!ok, "{code} {out} {err}");
    assert!(err.contains("This is not the \u{2018}Study PC\u{2019} you sent to before"), "{err}");
    assert!(err.contains("fingerprint or address"), "{err}");
    assert!(!w.join("inbox/photo.jpg").exists());

    // By its short fingerprint (as `ferry peers` shows it), it goes.
    let (ok, _, out, err) =
        run(ferry(&tx_cfg, disc).args(["send", "--to", &rx_short, "--wait", "3"]).arg(&src));
    assert!(ok, "{out} {err}");
    assert!(w.join("inbox/photo.jpg").exists());
}

#[test]
fn a_fingerprint_nobody_announces_is_a_plain_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.txt");
    std::fs::write(&src, b"x").unwrap();
    let (ok, _, _, err) = run(ferry(&dir.path().join("cfg"), free_udp_port())
        .args(["send", "--to", "A1B2 C3D4 E5F6 0718", "--wait", "0.5"])
        .arg(&src));
    assert!(!ok);
    assert!(err.contains("No device with the fingerprint a1b2c3d4e5f60718"), "{err}");
}
