//! The real `ferry` binary: a `ferry send` process offers files to a `ferry receive` process, on
//! loopback, found by name through discovery on 127.255.255.255.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_udp_port, same_bytes, tree, write_random};

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
