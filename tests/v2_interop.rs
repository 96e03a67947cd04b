//! PROTOCOL.md is complete enough to implement: `scripts/v2-interop.py`, written from it with
//! Python's `ssl` module (sender) and pyOpenSSL (receiver), talks to Ferry — handshake with both
//! certificates, HELLOs whose fingerprints must match the proven keys, the verification exchange
//! with both ends computing the same code, and (against the real engine, both ways) a whole
//! one-file batch: offer, answer, the file and its BLAKE3, results and summary.
//!
//! Needs a Python 3 with pyOpenSSL: `FERRY_INTEROP_PYTHON` names one, otherwise /usr/bin/python3
//! and `python3` are tried (Debian: python3-openssl), and where none has it the test installs a
//! pinned pyOpenSSL from PyPI into a venv under `target/`. Linux only (where CI runs).

#![cfg(target_os = "linux")]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry::identity::{DeviceIdentity, Fingerprint};
use ferry::protocol::frame::{Frame, decode_frame, encode_message};
use ferry::protocol::sas::{self, ReceiverStep, SenderSas};
use ferry::protocol::{Hello, HelloPurpose, InstanceId, Message, Os};
use ferry::transfer::tls::{ReadHalf, TlsContext, WriteHalf};

const T: Duration = Duration::from_secs(10);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> String {
    root().join("tests/fixtures").join(name).to_string_lossy().into_owned()
}

/// A Python that can import `module`: `FERRY_INTEROP_PYTHON`, the system's, or else a venv this
/// test makes once under `target/` with a pinned pyOpenSSL from PyPI (a fresh machine has none).
fn python_with(module: &str) -> String {
    let candidates: Vec<String> = std::env::var("FERRY_INTEROP_PYTHON")
        .ok()
        .into_iter()
        .chain(["/usr/bin/python3".to_string(), "python3".to_string()])
        .chain([venv_python().to_string_lossy().into_owned()])
        .collect();
    let can_import = |py: &str| {
        Command::new(py)
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if let Some(py) = candidates.iter().find(|py| can_import(py)) {
        return py.clone();
    }
    make_venv();
    let venv = venv_python().to_string_lossy().into_owned();
    assert!(
        can_import(&venv),
        "no Python with `{module}` among {candidates:?}, and installing pyOpenSSL {PYOPENSSL} into \
         {venv} failed: install python3-openssl (Debian) or set FERRY_INTEROP_PYTHON"
    );
    venv
}

/// The pyOpenSSL the test installs when the machine has none (Debian 12 ships 23.0).
const PYOPENSSL: &str = "24.3.0";

fn venv_dir() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    target.join("interop-venv")
}

fn venv_python() -> PathBuf {
    venv_dir().join("bin/python3")
}

/// Makes the venv once per test process (both tests may ask at the same time).
fn make_venv() {
    static MADE: std::sync::Once = std::sync::Once::new();
    MADE.call_once(|| {
        let dir = venv_dir();
        let python = ["python3", "/usr/bin/python3"]
            .into_iter()
            .find(|py| Command::new(py).args(["-c", "import venv"]).status().is_ok_and(|s| s.success()))
            .expect("a Python 3 with the venv module");
        let made = Command::new(python).arg("-m").arg("venv").arg(&dir).status();
        assert!(made.is_ok_and(|s| s.success()), "python3 -m venv {} failed", dir.display());
        let pip = Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", &format!("pyOpenSSL=={PYOPENSSL}")])
            .status();
        assert!(pip.is_ok_and(|s| s.success()), "pip install pyOpenSSL=={PYOPENSSL} failed");
    });
}

fn identity(name: &str) -> DeviceIdentity {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture(&format!("{name}.crt")), dir.path().join("identity.crt")).unwrap();
    std::fs::copy(fixture(&format!("{name}.key")), dir.path().join("identity.key")).unwrap();
    DeviceIdentity::load_or_create(dir.path()).unwrap().identity
}

fn hello(fp: Fingerprint) -> Message {
    Message::Hello(Hello {
        version: 2,
        purpose: HelloPurpose::Transfer,
        instance: InstanceId::random(),
        transfer_port: 0,
        os: Os::current(),
        name: "Ferry test".into(),
        fingerprint: fp.0.to_vec(),
    })
}

/// Reads whole frames from a read half.
struct Frames<'a> {
    half: &'a mut dyn ReadHalf,
    buf: Vec<u8>,
}

impl Frames<'_> {
    fn next(&mut self) -> Message {
        let deadline = Instant::now() + T;
        let mut chunk = vec![0u8; 65536];
        loop {
            if let Some((frame, used)) = decode_frame(&self.buf).expect("a valid frame") {
                let Frame::Message(m) = frame else { panic!("DATA during the opening") };
                self.buf.drain(..used);
                return m;
            }
            assert!(Instant::now() < deadline, "no frame in time");
            match self.half.read_some(&mut chunk) {
                Ok(0) => panic!("closed during the opening"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}

fn send(half: &mut dyn WriteHalf, msgs: &[Message]) {
    let mut bytes = Vec::new();
    for m in msgs {
        encode_message(m, &mut bytes);
    }
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        match half.write_some(&[std::io::IoSlice::new(rest)]) {
            Ok(n) => rest = &rest[n..],
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

fn claimed(m: &Message) -> Fingerprint {
    let Message::Hello(h) = m else { panic!("expected HELLO, got {m:?}") };
    assert_eq!(h.version, 2);
    Fingerprint(h.fingerprint.as_slice().try_into().expect("a 32-byte fingerprint"))
}

/// "code NNN NNN peer HEX suite NAME" → (code, peer, suite).
fn parse_result(line: &str) -> (String, String, String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(words.len() == 7 && words[0] == "code", "the Python side said: {line}");
    (format!("{} {}", words[1], words[2]), words[4].to_owned(), words[6].to_owned())
}

/// Python's stdlib ssl as the sender, Ferry as the receiver.
#[test]
fn a_python_ssl_sender_and_ferry_compute_the_same_code() {
    let python = python_with("ssl");
    let me = identity("device-a");
    let tls = TlsContext::new(&me).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiving = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut conn = tls.accept(tcp, T).expect("the Python client completes the handshake");
        let mut frames = Frames { half: &mut conn.reader, buf: Vec::new() };
        assert_eq!(claimed(&frames.next()), conn.peer, "HELLO carries the key TLS proved");
        let commit = frames.next();
        let mut sas = sas::ReceiverSas::new(conn.peer.0, me.fingerprint().0, false, sas::random_nonce());
        let ReceiverStep::Reply(nonce) = sas.on_message(&commit).unwrap() else { panic!() };
        send(&mut conn.writer, &[hello(me.fingerprint()), nonce]);
        let reveal = frames.next();
        let ReceiverStep::Verified(v) = sas.on_message(&reveal).expect("the commitment checks out") else {
            panic!()
        };
        conn.writer.finish();
        (v.code.to_string(), conn.peer, conn.cipher_suite)
    });
    let out = Command::new(&python)
        .arg(root().join("scripts/v2-interop.py"))
        .args(["client", "127.0.0.1", &port.to_string(), &fixture("device-b.crt"), &fixture("device-b.key")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (code, peer, suite) = parse_result(stdout.lines().last().unwrap_or(""));
    let (rust_code, rust_peer, rust_suite) = receiving.join().unwrap();
    assert_eq!(code, rust_code);
    assert_eq!(peer, identity("device-a").fingerprint().to_hex());
    assert_eq!(rust_peer, identity("device-b").fingerprint());
    assert_eq!(rust_suite, "TLS13_AES_128_GCM_SHA256", "the receiver chose by its order");
    assert_eq!(suite, "TLS_AES_128_GCM_SHA256");
}

/// Ferry as the sender, pyOpenSSL as the receiver asking for a client certificate.
#[test]
fn ferry_and_a_pyopenssl_receiver_compute_the_same_code() {
    let python = python_with("OpenSSL");
    let mut child = Command::new(&python)
        .arg(root().join("scripts/v2-interop.py"))
        .args(["server", "0", &fixture("device-b.crt"), &fixture("device-b.key")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port: u16 = first.strip_prefix("listening ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the Python receiver said: {first}")
    });

    let me = identity("device-a");
    let tls = TlsContext::new(&me).unwrap();
    let pin = identity("device-b").fingerprint();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut conn = tls.connect(tcp, Some(pin), T).expect("pinned handshake with pyOpenSSL");
    let (mut sas, commit) = SenderSas::start(me.fingerprint().0, conn.peer.0, false, sas::random_nonce());
    send(&mut conn.writer, &[hello(me.fingerprint()), commit]);
    let mut frames = Frames { half: &mut conn.reader, buf: Vec::new() };
    assert_eq!(claimed(&frames.next()), conn.peer);
    let nonce = frames.next();
    let (reveal, verified) = sas.on_message(&nonce).unwrap();
    send(&mut conn.writer, &[reveal]);
    conn.writer.finish();

    let result = lines.next().map(|l| l.unwrap()).unwrap_or_default();
    let status = child.wait().unwrap();
    let (code, peer, _) = parse_result(&result);
    assert!(status.success());
    assert_eq!(code, verified.code.to_string());
    assert_eq!(peer, me.fingerprint().to_hex());
}

/// Reads the Python side's stdout line by line on a thread of its own.
fn lines_of(child: &mut std::process::Child) -> crossbeam_channel::Receiver<String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn line(lines: &crossbeam_channel::Receiver<String>, child: &mut std::process::Child) -> String {
    lines.recv_timeout(T).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("the Python side said nothing in time")
    })
}

/// The Python sender sends a file to the real engine: both show the same code, the engine asks
/// its person (a first meeting), and the file arrives whole, its BLAKE3 checked by the engine.
#[test]
fn a_python_sender_sends_a_file_to_the_engine() {
    use ferry::engine::{Command as Do, Decision, Event};
    let python = python_with("ssl");
    let rx = common::Node::start("Ferry receiver");
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("from python.txt");
    std::fs::write(&file, b"MARKER-from-python: a file written by the second implementation").unwrap();
    let mut child = Command::new(&python)
        .arg(root().join("scripts/v2-interop.py"))
        .args(["client", "127.0.0.1", &rx.addr().port().to_string()])
        .args([&fixture("device-b.crt"), &fixture("device-b.key")])
        .arg(&file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    let (code, _, suite) = parse_result(&line(&lines, &mut child));
    assert_eq!(suite, "TLS_AES_128_GCM_SHA256");
    let offer = rx.wait(10.0, |e| match e {
        Event::IncomingOffer(o) => Some(o.clone()),
        _ => None,
    });
    assert_eq!(offer.verification_code.map(|c| c.to_string()), Some(code), "the same code on both sides");
    assert_eq!(offer.from.fingerprint, Some(identity("device-b").fingerprint()));
    assert_eq!(offer.from.name, "Python");
    rx.commands.send(Do::Answer { transfer: offer.transfer, decision: Decision::AcceptAll }).unwrap();
    let sent = line(&lines, &mut child);
    assert_eq!(sent, "sent from python.txt results 0", "the Python side's summary");
    rx.wait(10.0, |e| matches!(e, Event::TransferFinished { .. }).then_some(()));
    assert!(child.wait().unwrap().success());
    assert_eq!(std::fs::read(rx.received().join("from python.txt")).unwrap(), std::fs::read(&file).unwrap());
}

/// The engine sends a file to the pyOpenSSL receiver: the engine shows the code the Python side
/// computed, and the Python side checks the file's BLAKE3 and reports it saved.
#[test]
fn the_engine_sends_a_file_to_a_python_receiver() {
    use ferry::engine::Event;
    let python = python_with("OpenSSL");
    let mut child = Command::new(&python)
        .arg(root().join("scripts/v2-interop.py"))
        .args(["server", "0", &fixture("device-b.crt"), &fixture("device-b.key"), "receive"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    let first = line(&lines, &mut child);
    let port: u16 = first.strip_prefix("listening ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the Python receiver said: {first}")
    });
    let tx = common::Node::start("Ferry sender");
    let work = tempfile::tempdir().unwrap();
    let content = b"MARKER-from-ferry: bytes the Python receiver hashes with its own BLAKE3".to_vec();
    std::fs::write(work.path().join("to python.bin"), &content).unwrap();
    let id = tx.send(([127, 0, 0, 1], port).into(), vec![work.path().join("to python.bin")]);
    let shown = tx.wait(10.0, |e| match e {
        Event::VerificationCode { transfer, code } if *transfer == id => Some(code.to_string()),
        Event::TransferFailed { error, .. } => panic!("{error:?}"),
        _ => None,
    });
    let (code, peer, _) = parse_result(&line(&lines, &mut child));
    assert_eq!(code, shown, "the same code on both sides");
    assert_eq!(peer, tx_key(&tx).to_hex(), "the Python side proved the engine's key");
    let files = tx.wait(10.0, |e| match e {
        Event::TransferFinished { transfer, files } if *transfer == id => Some(files.clone()),
        Event::TransferFailed { error, .. } => panic!("{error:?}"),
        _ => None,
    });
    assert_eq!(files[0].result, ferry::protocol::FileResult::Saved);
    let received = line(&lines, &mut child);
    assert_eq!(
        received,
        format!("received to python.bin {} {}", content.len(), blake3::hash(&content).to_hex())
    );
    assert!(child.wait().unwrap().success());
}

/// The engine's key, as its own TLS handshake proves it (a probe).
fn tx_key(node: &common::Node) -> Fingerprint {
    let mut p = common::raw::Raw::connect(node.addr());
    p.send(&common::raw::hello_as("probe", HelloPurpose::Probe));
    p.until(|m| matches!(m, Message::Hello(_)));
    p.peer.unwrap()
}
