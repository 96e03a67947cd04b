//! Keeps PROTOCOL.md §9.1 honest: every name vector printed there (offered → stored, numbering,
//! collisions in a batch) is run through the real code, and the real `ferry receive` tells the
//! person which names it changed.
//!
//! The document holds three fenced blocks, ```` ```name-vectors ````, ```` ```numbered-vectors ````
//! and ```` ```collision-vectors ````, one JSON value per line (`#` lines are comments). A name is
//! a JSON string, or an array of pieces (a string, or `[string, count]` repeated) for long names.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::free_udp_port;
use ferry::transfer::names::{numbered, numbered_folder, safe_relative_path};
use ferry::transfer::store::{PartFile, ReceiveFolder, Taken, persist_all};
use serde_json::Value;

fn protocol_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The JSON lines of the block opened by ```` ```kind ````.
fn block(doc: &str, kind: &str) -> Vec<Value> {
    let mut lines = doc.lines().skip_while(|l| l.trim() != format!("```{kind}"));
    assert!(lines.next().is_some(), "PROTOCOL.md has no ```{kind} block");
    let values: Vec<Value> = lines
        .take_while(|l| l.trim() != "```")
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{kind}: {l:?}: {e}")))
        .collect();
    assert!(values.len() >= 5, "the {kind} block is (nearly) empty");
    values
}

/// A name as the document writes it; `None` for `null`.
fn name(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(pieces) => Some(
            pieces
                .iter()
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    Value::Array(pair) => {
                        let s = pair[0].as_str().expect("a piece's string");
                        s.repeat(pair[1].as_u64().expect("a piece's count") as usize)
                    }
                    other => panic!("not a name piece: {other}"),
                })
                .collect(),
        ),
        other => panic!("not a name: {other}"),
    }
}

#[test]
fn name_vectors_match_the_code() {
    let doc = protocol_md();
    let mut failures = Vec::new();
    for v in block(&doc, "name-vectors") {
        let offered = name(&v[0]).expect("an offered name");
        let want = name(&v[1]);
        let got = safe_relative_path(&offered).ok().map(|parts| parts.join("/"));
        if got != want {
            failures.push(format!("{offered:?}: document says {want:?}, code stores {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn numbered_vectors_match_the_code() {
    let doc = protocol_md();
    for v in block(&doc, "numbered-vectors") {
        let given = name(&v[0]).expect("a name");
        let n = v[1].as_u64().expect("a number") as u32;
        let want = name(&v[2]).expect("a result");
        let got = match given.strip_suffix('/') {
            Some(folder) => numbered_folder(folder, n),
            None => numbered(&given, n),
        };
        assert_eq!(got, want, "{given:?} numbered {n}");
        // What a number makes is itself a stored name.
        assert_eq!(safe_relative_path(&got).ok(), Some(vec![got.clone()]), "{got:?}");
    }
}

#[test]
fn collision_vectors_match_the_store() {
    let doc = protocol_md();
    for v in block(&doc, "collision-vectors") {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for existing in v["existing"].as_array().unwrap() {
            let existing = name(existing).unwrap();
            match existing.strip_suffix('/') {
                Some(folder) => std::fs::create_dir_all(r.join(folder)).unwrap(),
                None => std::fs::write(r.join(&existing), b"already here").unwrap(),
            }
        }
        // As the receiver does: names made safe first, refused ones never reach the store.
        let batch: Vec<String> = v["batch"].as_array().unwrap().iter().map(|b| name(b).unwrap()).collect();
        let folder = ReceiveFolder::open(r).unwrap();
        let mut files = Vec::new();
        let mut slots = Vec::new();
        for (i, offered) in batch.iter().enumerate() {
            match safe_relative_path(offered) {
                Ok(rel) => {
                    let mut part = PartFile::create(&folder).unwrap();
                    part.write_all(format!("file {i}").as_bytes()).unwrap();
                    files.push((part, rel));
                    slots.push(Some(files.len() - 1));
                }
                Err(_) => slots.push(None),
            }
        }
        let results = persist_all(&folder, files, &mut Taken::new());
        let got: Vec<Option<String>> = slots
            .iter()
            .map(|slot| {
                let path = results[(*slot)?].as_ref().expect("stored");
                Some(path.strip_prefix(r).unwrap().to_string_lossy().replace('\\', "/"))
            })
            .collect();
        let want: Vec<Option<String>> = v["stored"].as_array().unwrap().iter().map(name).collect();
        assert_eq!(got, want, "{v}");
        for (i, stored) in got.iter().enumerate() {
            if let Some(stored) = stored {
                assert_eq!(std::fs::read_to_string(r.join(stored)).unwrap(), format!("file {i}"), "{v}");
            }
        }
    }
}

const BIN: &str = env!("CARGO_BIN_EXE_ferry");

fn ferry(cfg: &Path, discovery_port: u16) -> Command {
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

/// `ferry receive --json` names each offered file with its `offered_name` and `saved_name`, and
/// its summary says "saved as" for every file stored under another name.
#[test]
fn ferry_receive_says_which_names_it_changed() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let disc = free_udp_port();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let src = w.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("What?.jpg"), b"1").unwrap();
    std::fs::write(src.join("plain.txt"), b"2").unwrap();
    let inbox = w.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("PLAIN.TXT"), b"already here").unwrap();

    let mut rx = ferry(&w.join("cfg-rx"), disc)
        .args(["receive", "--yes", "--once", "--json", "--name", "Names box", "--port", &port.to_string()])
        .arg("--dir")
        .arg(&inbox)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = rx.stdout.take().unwrap();
    let stderr = rx.stderr.take().unwrap();
    let mut rx = Reap(rx);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("\"event\":\"ready\""), "{first}");

    let sent = ferry(&w.join("cfg-tx"), disc)
        .args(["send", "--to", &format!("127.0.0.1:{port}")])
        .arg(src.join("What?.jpg"))
        .arg(src.join("plain.txt"))
        .output()
        .unwrap();
    assert!(sent.status.success(), "send failed: {}", String::from_utf8_lossy(&sent.stderr));

    let deadline = Instant::now() + Duration::from_secs(10);
    while rx.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "receiver did not exit after one transfer");
        std::thread::sleep(Duration::from_millis(50));
    }
    let events: Vec<Value> = lines.map_while(Result::ok).map(|l| serde_json::from_str(&l).unwrap()).collect();
    let offer = events.iter().find(|e| e["event"] == "incoming_offer").expect("an incoming_offer event");
    let files = offer["data"]["files"].as_array().unwrap();
    assert_eq!(files[0]["offered_name"], "What?.jpg");
    assert_eq!(files[0]["saved_name"], "What_.jpg");
    assert_eq!(files[1]["offered_name"], "plain.txt");
    assert_eq!(files[1]["saved_name"], "plain.txt");

    let said: String = BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>().join("\n");
    assert!(said.contains("What?.jpg saved as ‘What_.jpg’"), "{said}");
    assert!(said.contains("plain.txt saved as ‘plain (1).txt’"), "a taken name, differing in case: {said}");
    assert_eq!(std::fs::read(inbox.join("What_.jpg")).unwrap(), b"1");
    assert_eq!(std::fs::read(inbox.join("plain (1).txt")).unwrap(), b"2");
    assert_eq!(std::fs::read(inbox.join("PLAIN.TXT")).unwrap(), b"already here");
}
