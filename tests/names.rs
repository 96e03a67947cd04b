//! Keeps PROTOCOL.md §9.1 honest: every name vector printed there (offered → stored, numbering,
//! collisions in a batch) is run through the real code.
//!
//! The document holds three fenced blocks, ```` ```name-vectors ````, ```` ```numbered-vectors ````
//! and ```` ```collision-vectors ````, one JSON value per line (`#` lines are comments). A name is
//! a JSON string, or an array of pieces (a string, or `[string, count]` repeated) for long names.

use ferry::transfer::names::{numbered, numbered_folder, safe_relative_path};
use ferry::transfer::store::{PartFile, Taken, persist_all};
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
        let mut files = Vec::new();
        let mut slots = Vec::new();
        for (i, offered) in batch.iter().enumerate() {
            match safe_relative_path(offered) {
                Ok(rel) => {
                    let mut part = PartFile::create(r).unwrap();
                    part.write_all(format!("file {i}").as_bytes()).unwrap();
                    files.push((part, rel));
                    slots.push(Some(files.len() - 1));
                }
                Err(_) => slots.push(None),
            }
        }
        let results = persist_all(r, files, &mut Taken::new());
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
