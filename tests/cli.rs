//! The real `ferry` binary: a `ferry send` process offers files to a `ferry receive` process, on
//! loopback, found by name through discovery on 127.255.255.255.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::raw::{Raw, hello_as};
use common::{free_udp_port, same_bytes, tree, write_random};
use ferry::protocol::{Answer, ErrorCode, HelloPurpose, Message};

const BIN: &str = env!("CARGO_BIN_EXE_ferry");

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `ferry` command with its own config folder, on loopback.
fn ferry(cfg: &std::path::Path, discovery_port: u16) -> Command {
    let mut c = Command::new(BIN);
    c.env("FERRY_CONFIG_DIR", cfg)
        .env_remove("FERRY_PORT")
        .env_remove("FERRY_BIND")
        .env_remove("FERRY_BROADCAST")
        .env_remove("FERRY_DISCOVERY_PORT")
        .args(["--bind", "127.0.0.1", "--broadcast", "127.255.255.255"])
        .args(["--discovery-port", &discovery_port.to_string()]);
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

/// A running `ferry` whose output (stdout and stderr, or a terminal's) is collected as it comes.
struct Running {
    child: Reap,
    out: Arc<Mutex<Vec<u8>>>,
    /// Disconnected once every collector's pipe has ended (each holds a sender till then).
    drained: std::sync::mpsc::Receiver<()>,
}

impl Running {
    /// Spawns `cmd` with stdout and stderr piped into one collected text.
    fn spawn(cmd: &mut Command) -> Running {
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let (done, drained) = std::sync::mpsc::channel();
        let pipes: [Box<dyn Read + Send>; 2] =
            [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        for pipe in pipes {
            collect(pipe, out.clone(), done.clone());
        }
        drop(done);
        Running { child: Reap(child), out, drained }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Waits up to `secs` until the output contains `what`.
    fn wait_for(&self, what: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.text().contains(what) {
            assert!(Instant::now() < deadline, "{what:?} did not appear within {secs} s:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit code, waiting up to `secs` for it.
    fn exit(&mut self, secs: u64) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                // Everything it wrote is read once both pipes have ended (a fixed pause here
                // lost the last lines when the machine was busy).
                let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
                let ended = self.drained.recv_timeout(left);
                assert_eq!(ended, Err(RecvTimeoutError::Disconnected), "its output did not end with it");
                return status.code();
            }
            assert!(Instant::now() < deadline, "still running after {secs} s:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Appends everything `from` gives to `into`, on a thread of its own, until it ends; then drops
/// `done` (so a receiver learns, by its disconnecting, that every collector has finished).
fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>, done: Sender<()>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        drop(done);
    });
}

/// Text a hostile peer would love a terminal to obey: set the window title, clear the screen,
/// move the cursor up over what was printed and overwrite it, turn the rest right-to-left, and
/// a C1 CSI.
const HOSTILE: &str = "\x1b]0;PWNED\x07\x1b[2J\x1b[1A\rAll files saved.\u{202e}fdp.exe\u{9b}31m";

/// Peer text reached the terminal only as visible escapes: no byte of a control sequence.
fn assert_escaped(text: &str) {
    assert!(!text.contains("\x1b]0;PWNED"), "a raw escape sequence reached the terminal:\n{text:?}");
    assert!(
        !text.contains('\u{202e}') && !text.contains('\u{9b}'),
        "raw controls reached the terminal:\n{text:?}"
    );
    assert!(text.contains("\\u{1b}]0;PWNED\\u{7}"), "the escaped form is missing:\n{text:?}");
}

#[test]
fn send_reaches_a_receive_process_found_by_name() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let disc = free_udp_port();
    let port = free_tcp_port();
    let src = w.join("src");
    std::fs::create_dir_all(src.join("Album/二")).unwrap();
    write_random(&src.join("Album/二/猫 🐈.jpg"), 2_000_000, 1);
    write_random(&src.join("Album/a.png"), 1234, 2);
    std::fs::write(src.join("empty"), b"").unwrap();

    let mut rx = ferry(&w.join("cfg-rx"), disc)
        .args([
            "receive",
            "--yes",
            "--once",
            "--json",
            "--name",
            "Living room PC",
            "--port",
            &port.to_string(),
        ])
        .arg("--dir")
        .arg(w.join("inbox"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = rx.stdout.take().unwrap();
    let rx = Reap(rx);
    // Wait until it is listening (its first JSON line says so).
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("\"event\":\"ready\""), "{first}");

    let status = ferry(&w.join("cfg-tx"), disc)
        .args(["send", "--to", "living ROOM pc", "--wait", "5"])
        .arg(src.join("Album"))
        .arg(src.join("empty"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let say = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "send failed: {say} {}", String::from_utf8_lossy(&status.stderr));
    assert!(say.contains("Sent 3 files"), "{say}");

    let mut rx = rx;
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(code) = rx.0.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < deadline, "receiver did not exit after one transfer");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success());
    let events: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(events.iter().any(|l| l.contains("\"event\":\"transfer_finished\"")), "{events:?}");

    let inbox = w.join("inbox");
    assert_eq!(tree(&inbox), ["Album/a.png", "Album/二/猫 🐈.jpg", "empty"]);
    for rel in tree(&inbox) {
        assert!(same_bytes(&src.join(&rel), &inbox.join(&rel)));
    }
}

#[test]
fn receive_without_a_terminal_declines_and_says_why() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let disc = free_udp_port();
    let port = free_tcp_port();
    std::fs::write(w.join("f.txt"), b"hello").unwrap();
    let rx = ferry(&w.join("cfg-rx"), disc)
        .args(["receive", "--port", &port.to_string()])
        .arg("--dir")
        .arg(w.join("inbox"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut rx = Reap(rx);
    std::thread::sleep(Duration::from_millis(300));
    let out = ferry(&w.join("cfg-tx"), disc)
        .args(["send", "--to", &format!("127.0.0.1:{port}")])
        .arg(w.join("f.txt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("declined"));
    let _ = rx.0.kill();
    let output = rx.0.wait_with_output_ref();
    assert!(output.contains("--yes"), "{output}");
    assert_eq!(tree(&w.join("inbox")), Vec::<String>::new());
}

#[test]
fn bad_input_gets_a_plain_error_and_exit_code() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let out = ferry(&w.join("cfg"), free_udp_port())
        .args(["send", "/no/such/photo.jpg", "--to", "127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Can't send /no/such/photo.jpg"), "{err}");

    let out = ferry(&w.join("cfg"), free_udp_port()).args(["send", "--to", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "missing PATH is a usage error");

    let out = ferry(&w.join("cfg"), free_udp_port())
        .args(["peers", "--wait", "0.3", "--broadcast", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a broadcast address"));
}

trait OutputRef {
    fn wait_with_output_ref(&mut self) -> String;
}

impl OutputRef for std::process::Child {
    /// Everything the (already killed) child printed, stdout and stderr.
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let _ = self.wait();
        let mut s = String::new();
        if let Some(mut o) = self.stdout.take() {
            let _ = o.read_to_string(&mut s);
        }
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

#[test]
fn two_devices_with_one_name_are_not_guessed_between() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let disc = free_udp_port();
    let twins: Vec<Reap> = (0..2)
        .map(|i| {
            Reap(
                ferry(&w.join(format!("cfg-{i}")), disc)
                    .args(["receive", "--yes", "--name", "Twin", "--port", &free_tcp_port().to_string()])
                    .arg("--dir")
                    .arg(w.join(format!("inbox-{i}")))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(w.join("f.txt"), b"which one?").unwrap();
    let out =
        ferry(&w.join("cfg-tx"), disc).args(["send", "--to", "twin"]).arg(w.join("f.txt")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Several devices are called “twin”"), "{err}");
    assert_eq!(tree(&w.join("inbox-0")).len() + tree(&w.join("inbox-1")).len(), 0);
    drop(twins);
}

#[test]
fn a_peers_error_text_reaches_the_receiving_terminal_escaped() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let port = free_tcp_port();
    let mut rx = Running::spawn(
        ferry(&w.join("cfg"), free_udp_port())
            .args(["receive", "--yes", "--once", "--port", &port.to_string()])
            .arg("--dir")
            .arg(w.join("inbox")),
    );
    rx.wait_for("Receiving as", 10);
    let mut peer = Raw::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    peer.offer(&[("invoice.pdf", 10)]);
    assert_eq!(peer.until(|m| matches!(m, Message::Answer(_))), Message::Answer(Answer::AcceptAll));
    peer.send(&Message::FileBegin { index: 0, size: 10 });
    peer.send_data(b"12345");
    peer.send(&Message::Error { code: ErrorCode::Internal, message: HOSTILE.into() });
    assert_eq!(rx.exit(10), Some(1));
    let text = rx.text();
    assert!(text.contains("Something went wrong on the other computer"), "{text}");
    assert!(!text.contains('\x1b'), "{text:?}");
    assert_escaped(&text);
    assert_eq!(tree(&w.join("inbox")), Vec::<String>::new());
}

#[test]
fn a_peers_error_text_reaches_the_sending_terminal_escaped() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(w.join("f.txt"), b"hello").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut tx = Running::spawn(
        ferry(&w.join("cfg"), free_udp_port())
            .args(["send", "--to", &listener.local_addr().unwrap().to_string()])
            .arg(w.join("f.txt")),
    );
    let mut peer = Raw::accept(listener.accept().unwrap().0);
    peer.until(|m| matches!(m, Message::Hello(_)));
    peer.send(&hello_as("Kitchen\x1b[31m PC", HelloPurpose::Transfer));
    peer.until(|m| matches!(m, Message::OfferFile(_)));
    peer.send(&Message::Error { code: ErrorCode::Internal, message: HOSTILE.into() });
    assert_eq!(tx.exit(10), Some(1));
    let text = tx.text();
    assert!(text.contains("Something went wrong on the other computer"), "{text}");
    assert!(!text.contains('\x1b'), "{text:?}");
    assert_escaped(&text);
}

/// The y/N prompt and the progress bar, on a real (pseudo-)terminal: the offered names are
/// listed escaped, and so is the name of the file the bar says is arriving.
#[cfg(unix)]
#[test]
fn the_prompt_and_the_progress_bar_show_odd_names_escaped() {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use std::io::Write;
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let port = free_tcp_port();

    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    // Wide enough for the bar to show the file's name next to it.
    let size = rustix::termios::Winsize { ws_row: 50, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0 };
    rustix::termios::tcsetwinsize(&master, size).unwrap();
    let slave_path = ptsname(&master, Vec::new()).unwrap();
    let slave =
        std::fs::OpenOptions::new().read(true).write(true).open(slave_path.to_str().unwrap()).unwrap();
    let child = ferry(&w.join("cfg"), free_udp_port())
        .args(["receive", "--once", "--port", &port.to_string()])
        .arg("--dir")
        .arg(w.join("inbox"))
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let (done, drained) = std::sync::mpsc::channel();
    let mut rx = Running { child: Reap(child), out: Arc::new(Mutex::new(Vec::new())), drained };
    let mut terminal = std::fs::File::from(master);
    collect(terminal.try_clone().unwrap(), rx.out.clone(), done);
    rx.wait_for("Receiving as", 10);

    let invoice = "in\u{200b}voice.pdf";
    let evil = format!("evil{HOSTILE}.txt");
    let content = vec![7u8; 1_200_000];
    let mut peer = Raw::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    peer.offer(&[(&evil, 3), (invoice, content.len() as u64)]);
    rx.wait_for("Accept? [y/N]", 10);
    let prompt = rx.text();
    assert_escaped(&prompt);
    terminal.write_all(b"y\n").unwrap();

    let answer = peer.until(|m| matches!(m, Message::Answer(_)));
    let Message::Answer(answer) = answer else { unreachable!() };
    if answer.accepts(0) {
        peer.file(0, b"abc", b"abc");
    }
    assert!(answer.accepts(1), "{answer:?}");
    // Slowly, so the progress bar is drawn with the file's name a few times.
    peer.send(&Message::FileBegin { index: 1, size: content.len() as u64 });
    for chunk in content.chunks(100_000) {
        peer.send_data(chunk);
        std::thread::sleep(Duration::from_millis(100));
    }
    peer.send(&Message::FileEnd { index: 1, hash: *blake3::hash(&content).as_bytes() });
    peer.send(&Message::Done);
    peer.until(|m| matches!(m, Message::Summary(_)));
    rx.exit(10);
    let text = rx.text();
    assert!(!text.contains(invoice), "the invisible character reached the terminal:\n{text:?}");
    let after_prompt = &text[prompt.len()..];
    assert!(after_prompt.contains("in\\u{200b}voice.pdf"), "the bar never showed the file's name:\n{text:?}");
    assert!(!text.contains("\x1b]0;PWNED"), "{text:?}");
}

/// The receiver accepts one file of three, says its hash was wrong, then sums up "all three
/// saved": `ferry send` says the transfer failed, and why, and exits 1.
#[test]
fn send_believes_its_own_evidence_over_a_lying_summary() {
    use ferry::protocol::FileResult::{HashMismatch, Saved};
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    for n in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(w.join(n), n).unwrap();
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = listener.local_addr().unwrap().to_string();
    for json in [false, true] {
        let mut cmd = ferry(&w.join("cfg"), free_udp_port());
        cmd.args(["send", "--to", &to]).args(["a.txt", "b.txt", "c.txt"].map(|n| w.join(n)));
        if json {
            cmd.arg("--json");
        }
        let mut tx = Running::spawn(&mut cmd);
        let mut peer = Raw::accept(listener.accept().unwrap().0);
        peer.until(|m| matches!(m, Message::Hello(_)));
        peer.send(&hello_as("Liar", HelloPurpose::Transfer));
        let mut offered = 0;
        peer.until(|m| {
            offered += matches!(m, Message::OfferFile(_)) as u32;
            offered == 3
        });
        peer.send(&Message::Answer(Answer::AcceptSome { file_count: 3, indices: vec![0] }));
        peer.until(|m| matches!(m, Message::Done));
        peer.send_all(&[
            Message::FileResult { index: 0, result: HashMismatch },
            Message::Summary(vec![Saved; 3]),
        ]);
        assert_eq!(tx.exit(10), Some(1), "{}", tx.text());
        let text = tx.text();
        assert!(!text.contains("Sent 3 files") && !text.contains("Sent 1 file"), "{text}");
        if json {
            assert!(text.contains("\"event\":\"transfer_failed\""), "{text}");
            assert!(text.contains("\"kind\":\"protocol\""), "{text}");
            assert!(!text.contains("\"event\":\"transfer_finished\""), "{text}");
        } else {
            assert!(text.contains("Sending failed"), "{text}");
            assert!(text.contains("a.txt: damaged on the way, not saved"), "{text}");
            assert!(text.contains("“a.txt” was Saved, but its FILE_RESULT said HashMismatch"), "{text}");
        }
    }
}

/// Issue 9's check: while another computer (127.0.0.2) holds forty idle connections to the
/// receiver, `ferry send` from this one succeeds on its first command, without being told
/// "busy".
// Other loopback addresses than 127.0.0.1 (as if from other computers): not on macOS, which
// has only 127.0.0.1 on lo0.
#[cfg(not(target_os = "macos"))]
#[test]
fn send_gets_through_while_another_address_holds_forty_idle_connections() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let port = free_tcp_port();
    let mut rx = Running::spawn(
        ferry(&w.join("cfg-rx"), free_udp_port())
            .args(["receive", "--yes", "--once", "--port", &port.to_string()])
            .arg("--dir")
            .arg(w.join("inbox")),
    );
    rx.wait_for("Receiving as", 10);
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let _squatters: Vec<std::net::TcpStream> =
        (0..40).map(|_| common::connect_from([127, 0, 0, 2].into(), to)).collect();
    std::thread::sleep(Duration::from_millis(300));
    write_random(&w.join("photo.jpg"), 300_000, 8);
    let out = ferry(&w.join("cfg-tx"), free_udp_port())
        .args(["send", "--to", &to.to_string()])
        .arg(w.join("photo.jpg"))
        .output()
        .unwrap();
    let say = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{say}{}", String::from_utf8_lossy(&out.stderr));
    assert!(say.contains("Sent 1 file") && !say.contains("busy"), "{say}");
    assert_eq!(rx.exit(10), Some(0));
    assert!(same_bytes(&w.join("photo.jpg"), &w.join("inbox/photo.jpg")));
}

/// TCP ports the process `pid` listens on (Linux: its socket inodes, matched in /proc/net/tcp*).
#[cfg(target_os = "linux")]
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is f[1] ("0100007F:D11B"), st is f[3] ("0A" = LISTEN), inode is f[9].
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                ports.push(u16::from_str_radix(f[1].rsplit(':').next().unwrap(), 16).unwrap());
            }
        }
    }
    ports
}

/// A socket on the discovery port that hears every datagram sent there (it shares the port).
#[cfg(target_os = "linux")]
fn discovery_tap(port: u16) -> std::net::UdpSocket {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    s.set_reuse_address(true).unwrap();
    s.set_reuse_port(true).unwrap();
    s.bind(&SocketAddr::from(([0, 0, 0, 0], port)).into()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    s.into()
}

/// `ferry send` and `ferry peers` accept nothing: no listening socket while they run, a HELLO
/// and a SEARCH that say "transfer port 0", and the receive folder left alone.
#[cfg(target_os = "linux")]
#[test]
fn send_and_peers_never_listen_and_never_touch_the_receive_folder() {
    use ferry::protocol::{Datagram, DatagramKind};
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let home = w.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(w.join("f.txt"), b"hello").unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut tx = Running::spawn(
        ferry(&w.join("cfg"), free_udp_port())
            .env("HOME", &home)
            .args(["send", "--to", &listener.local_addr().unwrap().to_string()])
            .arg(w.join("f.txt")),
    );
    let mut peer = Raw::accept(listener.accept().unwrap().0);
    let Message::Hello(h) = peer.until(|m| matches!(m, Message::Hello(_))) else { unreachable!() };
    assert_eq!(h.transfer_port, 0, "ferry send says it accepts transfers");
    peer.send(&hello_as("Receiver", HelloPurpose::Transfer));
    peer.until(|m| matches!(m, Message::OfferFile(_)));
    assert_eq!(listening_ports(tx.child.0.id()), Vec::<u16>::new(), "ferry send listens");
    peer.send(&Message::Answer(Answer::Decline));
    assert_eq!(tx.exit(10), Some(3), "{}", tx.text());

    let disc = free_udp_port();
    let tap = discovery_tap(disc);
    let mut peers =
        Running::spawn(ferry(&w.join("cfg"), disc).env("HOME", &home).args(["peers", "--wait", "1.5"]));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    let search = loop {
        assert!(Instant::now() < deadline, "no SEARCH from ferry peers");
        let Ok(n) = tap.recv(&mut buf) else { continue };
        match Datagram::decode(&buf[..n]) {
            Ok(d) if d.kind == DatagramKind::Search => break d,
            _ => {}
        }
    };
    assert_eq!(search.transfer_port, 0, "ferry peers says it accepts transfers");
    assert_eq!(listening_ports(peers.child.0.id()), Vec::<u16>::new(), "ferry peers listens");
    assert_eq!(peers.exit(10), Some(0));

    assert!(!home.join("Downloads").exists(), "the receive folder was created");
}

/// With --yes, every file that was not saved is named, with the reason in plain words: a name
/// refused in the answer (never sent, so no per-file event) as much as a file damaged on the way.
#[test]
fn receive_names_each_file_it_did_not_save() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let port = free_tcp_port();
    let mut rx = Running::spawn(
        ferry(&w.join("cfg"), free_udp_port())
            .args(["receive", "--yes", "--once", "--port", &port.to_string()])
            .arg("--dir")
            .arg(w.join("inbox")),
    );
    rx.wait_for("Receiving as", 10);
    let mut peer = Raw::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    peer.offer(&[("ok.txt", 2), ("a/../../escape.txt", 2), ("damaged.bin", 5)]);
    let Message::Answer(answer) = peer.until(|m| matches!(m, Message::Answer(_))) else { unreachable!() };
    assert!(answer.accepts(0) && !answer.accepts(1) && answer.accepts(2), "{answer:?}");
    peer.file(0, b"ok", b"ok");
    peer.file(2, b"12345", b"other");
    peer.send(&Message::Done);
    peer.until(|m| matches!(m, Message::Summary(_)));
    assert_eq!(rx.exit(10), Some(1));
    let text = rx.text();
    assert!(text.contains("a/../../escape.txt: refused: its name is not allowed"), "{text}");
    assert!(text.contains("damaged.bin: damaged on the way, not saved"), "{text}");
    assert_eq!(text.matches("damaged.bin:").count(), 1, "named twice:\n{text}");
    assert!(text.contains("2 of the files were not saved"), "{text}");
    assert_eq!(tree(&w.join("inbox")), ["ok.txt"]);
}

/// The other computer's Ferry is closed mid-file: `ferry receive` says so in those words.
#[test]
fn receive_says_when_ferry_was_closed_on_the_other_computer() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let port = free_tcp_port();
    let mut rx = Running::spawn(
        ferry(&w.join("cfg"), free_udp_port())
            .args(["receive", "--yes", "--once", "--json", "--port", &port.to_string()])
            .arg("--dir")
            .arg(w.join("inbox")),
    );
    rx.wait_for("\"event\":\"ready\"", 10);
    write_random(&w.join("big.bin"), 300 * 1024 * 1024, 4);
    let tx = common::Node::start("Kitchen PC");
    tx.send(SocketAddr::from(([127, 0, 0, 1], port)), vec![w.join("big.bin")]);
    rx.wait_for("\"bytes_done\"", 20);
    tx.engine.shutdown();
    assert_eq!(rx.exit(10), Some(4));
    let text = rx.text();
    assert!(text.contains("Ferry was closed on the other computer."), "{text}");
    assert!(text.contains("\"reason\":\"shutdown\""), "{text}");
    assert_eq!(tree(&w.join("inbox")), Vec::<String>::new());
}

/// Issue 12: the receiver's disk fills up at the first write of the first file. It says so at
/// once (an early FILE_RESULT DiskFull); `ferry send` stops that file mid-way (FILE_SKIP
/// Abandoned), gives up the rest unsent, and says why in plain words — in JSON with a stable
/// `save_failure` value.
#[test]
fn send_stops_at_a_full_disk_and_says_so() {
    use ferry::protocol::FileResult::{DiskFull, NotSent};
    use ferry::protocol::SkipReason;
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    write_random(&w.join("a.bin"), 64 * 1024 * 1024, 1);
    std::fs::write(w.join("b.txt"), "b").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = listener.local_addr().unwrap().to_string();
    for json in [false, true] {
        let mut cmd = ferry(&w.join("cfg"), free_udp_port());
        cmd.args(["send", "--to", &to]).args(["a.bin", "b.txt"].map(|n| w.join(n)));
        if json {
            cmd.arg("--json");
        }
        let mut tx = Running::spawn(&mut cmd);
        let mut peer = Raw::accept(listener.accept().unwrap().0);
        peer.until(|m| matches!(m, Message::Hello(_)));
        peer.send(&hello_as("Kitchen PC", HelloPurpose::Transfer));
        let mut offered = 0;
        peer.until(|m| {
            offered += matches!(m, Message::OfferFile(_)) as u32;
            offered == 2
        });
        peer.send(&Message::Answer(Answer::AcceptAll));
        peer.until(|m| matches!(m, Message::FileBegin { index: 0, .. }));
        peer.send(&Message::FileResult { index: 0, result: DiskFull });
        // File 0 ends with FILE_SKIP Abandoned (no FILE_END), file 1 is given up unbegun.
        let mut seen = Vec::new();
        peer.until(|m| {
            seen.push(m.clone());
            matches!(m, Message::Done)
        });
        let expected = [
            Message::FileSkip { index: 0, reason: SkipReason::Abandoned },
            Message::FileSkip { index: 1, reason: SkipReason::Abandoned },
            Message::Done,
        ];
        assert_eq!(seen, expected);
        peer.send_all(&[
            Message::FileResult { index: 1, result: NotSent },
            Message::Summary(vec![DiskFull, NotSent]),
        ]);
        assert_eq!(tx.exit(10), Some(1), "{}", tx.text());
        let text = tx.text();
        if json {
            assert!(text.contains("\"save_failure\":\"disk_full\""), "{text}");
            assert!(text.contains("\"result\":\"disk_full\""), "{text}");
        } else {
            assert!(text.contains("a.bin: not saved: the disk is full"), "{text}");
            // Sent to an address, but the receiver's handshake gave its name.
            assert!(text.contains("Kitchen PC's disk is full. Nothing half-saved was kept."), "{text}");
        }
    }
}

/// Issue 12, point 12: `ferry send --text` to `ferry receive --yes`: the receiver prints the
/// text with its controls escaped (and exact in JSON), the sender says it was accepted, nothing
/// is saved.
#[test]
fn send_text_reaches_receive_and_is_printed_escaped() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let port = free_tcp_port();
    let text = "Wi-Fi: Gäste\npassword: hunter2\u{1b}]0;PWNED\u{7}";
    for json in [false, true] {
        let mut rx_cmd = ferry(&w.join("rx"), free_udp_port());
        rx_cmd
            .args(["receive", "--yes", "--once", "--port", &port.to_string()])
            .arg("--dir")
            .arg(w.join("inbox"));
        if json {
            rx_cmd.arg("--json");
        }
        let mut rx = Running::spawn(&mut rx_cmd);
        rx.wait_for(if json { "\"event\":\"ready\"" } else { "Receiving as" }, 10);
        let mut tx = Running::spawn(ferry(&w.join("tx"), free_udp_port()).args([
            "send",
            "--to",
            &format!("127.0.0.1:{port}"),
            "--text",
            text,
        ]));
        assert_eq!(tx.exit(10), Some(0), "{}", tx.text());
        assert_eq!(rx.exit(10), Some(0), "{}", rx.text());
        assert!(tx.text().contains("accepted the text"), "{}", tx.text());
        let got = rx.text();
        if json {
            let line = got
                .lines()
                .find(|l| l.contains("\"event\":\"text_received\""))
                .expect("a text_received line");
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["data"]["text"], text, "exact in JSON");
        } else {
            assert!(got.contains("  Wi-Fi: Gäste\n  password: hunter2\\u{1b}]0;PWNED\\u{7}"), "{got}");
            assert!(!got.contains('\u{1b}'), "{got:?}");
        }
        assert!(!w.join("inbox").exists() || tree(&w.join("inbox")).is_empty());
    }
    // Too long: refused before any connection, in plain words.
    let long = "x".repeat(16 * 1024 + 1);
    let mut tx = Running::spawn(ferry(&w.join("tx"), free_udp_port()).args([
        "send",
        "--to",
        "127.0.0.1:9",
        "--text",
        &long,
    ]));
    assert_eq!(tx.exit(10), Some(1));
    assert!(tx.text().contains("The text is too long to send"), "{}", tx.text());
}

/// Issue 10: `ferry receive` prints the same verification code the sender computed, in the form
/// people compare ("Verification code: 482 193"), and `--json` carries it in the offer.
#[test]
fn receive_prints_the_verification_code_the_sender_computed() {
    use ferry::protocol::{Offer, OfferFile};
    for json in [false, true] {
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        let port = free_tcp_port();
        let mut cmd = ferry(&w.join("cfg"), free_udp_port());
        cmd.args(["receive", "--yes", "--once", "--port", &port.to_string()])
            .arg("--dir")
            .arg(w.join("inbox"));
        if json {
            cmd.arg("--json");
        }
        let mut rx = Running::spawn(&mut cmd);
        rx.wait_for("Receiving as", 10);
        let mut peer = Raw::connect(SocketAddr::from(([127, 0, 0, 1], port)));
        let (_, verified) = peer.handshake_as("Kitchen PC");
        assert!(verified.show, "a first meeting shows the code");
        peer.send_all(&[
            Message::Offer(Offer { file_count: 1, total_bytes: 2 }),
            Message::OfferFile(OfferFile { path: "ok.txt".into(), size: 2, thumbnail: vec![] }),
        ]);
        peer.until(|m| matches!(m, Message::Answer(_)));
        peer.file(0, b"ok", b"ok");
        peer.send(&Message::Done);
        peer.until(|m| matches!(m, Message::Summary(_)));
        assert_eq!(rx.exit(10), Some(0));
        let text = rx.text();
        assert!(text.contains(&format!("Verification code: {}", verified.code)), "{text}");
        if json {
            let digits = format!("\"verification_code\":\"{}\"", verified.code.digits());
            assert!(text.contains(&digits), "{text}");
        }
    }
}
