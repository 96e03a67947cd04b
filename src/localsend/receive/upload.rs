//! Uploads: one accepted file's bytes, streamed into a nameless temporary file of Ferry's store,
//! checked (size, sha256), named, dated.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::*;
use crate::localsend::server::{content_length, error};
use crate::localsend::time;
use crate::transfer::store::{PartFile, persist_all};

/// Compares two tokens without stopping at the first difference, so the time taken says
/// nothing about how much of a guess was right.
fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What one upload needs, taken from its session under the lock.
struct Upload {
    session_id: String,
    index: usize,
    size: u64,
    sha256: Option<String>,
    name: Vec<String>,
    folder: ReceiveFolder,
    taken: Arc<Mutex<Taken>>,
    modified: Option<SystemTime>,
    stop: Arc<Stop>,
    meter: Arc<Mutex<Meter>>,
}

/// `POST /upload?sessionId&fileId&token`: one accepted file's bytes (Content-Length or chunked).
pub async fn upload(req: Request<Incoming>, conn: &Conn, shared: &Arc<Shared>) -> Response<RespBody> {
    let q = req.uri().query();
    let (Some(session_id), Some(file_id), Some(token)) =
        (query::get(q, "sessionId"), query::get(q, "fileId"), query::get(q, "token"))
    else {
        return error(StatusCode::BAD_REQUEST, "Missing parameters");
    };
    let declared = content_length(&req);
    let up = {
        let mut sessions = shared.incoming.lock().expect("sessions lock");
        let found = sessions.by_id.get_mut(session_id.as_ref()).filter(|s| s.sender == conn.ip);
        let Some(s) = found.filter(|s| matches!(s.phase, Phase::Receiving)) else {
            return error(StatusCode::FORBIDDEN, "Invalid token or IP address");
        };
        let Some(index) = s.files.iter().position(|f| f.id == file_id) else {
            return error(StatusCode::FORBIDDEN, "Invalid token or IP address");
        };
        let f = &mut s.files[index];
        if !f.token.as_deref().is_some_and(|t| same_token(t, &token)) {
            return error(StatusCode::FORBIDDEN, "Invalid token or IP address");
        }
        if f.state != FileState::Waiting {
            return error(StatusCode::CONFLICT, "This file is already being received or done");
        }
        if declared.is_some_and(|n| n != f.dto.size) {
            return error(StatusCode::BAD_REQUEST, "The length differs from the offered size");
        }
        f.state = FileState::Uploading;
        f.attempts += 1;
        let up = Upload {
            session_id: s.id.clone(),
            index,
            size: f.dto.size,
            sha256: f.dto.sha256.clone(),
            name: f.name.clone().expect("accepted files have safe names"),
            folder: s.folder.clone().expect("a receiving session has its folder"),
            taken: s.taken.clone(),
            modified: f.dto.metadata.as_ref().and_then(|m| m.modified.as_deref()).and_then(time::parse),
            stop: s.stop.clone(),
            meter: s.meter.clone(),
        };
        up.meter.lock().expect("meter lock").set_file(&f.dto.file_name);
        s.uploading += 1;
        s.last_activity = Instant::now();
        up
    };
    let mut guard = UploadGuard {
        shared: shared.clone(),
        session_id: up.session_id.clone(),
        index: up.index,
        done: false,
    };
    let (result, response) = receive_file(req.into_body(), &up, shared).await;
    guard.done = true;
    finish_file(shared, &up.session_id, up.index, result);
    response
}

/// A file that ended without a verdict (the sender hung up mid-file): it arrived incomplete.
struct UploadGuard {
    shared: Arc<Shared>,
    session_id: String,
    index: usize,
    done: bool,
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        if !self.done {
            // Not at once: a sender that cancels may hang up just before it says so, and then
            // the session ends as cancelled instead (finishing a file of an ended session is
            // nothing).
            let (shared, id, index) = (self.shared.clone(), self.session_id.clone(), self.index);
            self.shared.runtime.spawn(async move {
                tokio::time::sleep(CANCEL_GRACE).await;
                finish_file(&shared, &id, index, Verdict::Final(FileResult::SizeMismatch, None));
            });
        }
    }
}

/// What became of one upload.
enum Verdict {
    Final(FileResult, Option<PathBuf>),
    /// The checksum did not match; the file may be sent again.
    Retry,
}

/// Streams the body into a temporary file of the store, checks it, names it.
async fn receive_file(mut body: Incoming, up: &Upload, shared: &Shared) -> (Verdict, Response<RespBody>) {
    let fail = |result, status, msg: &str| (Verdict::Final(result, None), error(status, msg));
    let (tx, rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
    let folder = up.folder.clone();
    let hash = up.sha256.is_some();
    let writer = tokio::task::spawn_blocking(move || write_file(&folder, rx, hash));
    let mut received = 0u64;
    let mut write_failed = false;
    // Network chunks are small (a phone writes 8–16 KiB at a time); the writing thread gets them
    // gathered into WRITE_CHUNKs, one hand-over per 256 KiB instead of one per chunk.
    let mut pending = bytes::BytesMut::new();
    loop {
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = up.stop.wait() => {
                // The session is over (cancelled); the temporary file goes with the writer.
                drop(tx);
                let _ = writer.await;
                return fail(FileResult::NotSent, StatusCode::CONFLICT, "Cancelled");
            }
        };
        let data = match frame {
            None => {
                if !pending.is_empty() {
                    let n = pending.len() as u64;
                    write_failed = tx.send(pending.split().freeze()).await.is_err();
                    up.meter.lock().expect("meter lock").add(n, &shared.hooks.emit);
                }
                break;
            }
            Some(Err(_)) => {
                drop(tx);
                let _ = writer.await;
                // A sender that cancels may break the upload off just before it says so.
                let _ = tokio::time::timeout(CANCEL_GRACE, up.stop.wait()).await;
                return fail(FileResult::SizeMismatch, StatusCode::BAD_REQUEST, "Incomplete body");
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(d) => d,
                Err(_) => continue,
            },
        };
        received += data.len() as u64;
        if received > up.size {
            drop(tx);
            let _ = writer.await;
            return fail(FileResult::SizeMismatch, StatusCode::BAD_REQUEST, "More bytes than offered");
        }
        let batch = if pending.is_empty() && data.len() >= WRITE_CHUNK {
            data
        } else {
            if pending.is_empty() {
                // One allocation per batch (a chunk may take it a little past WRITE_CHUNK).
                pending.reserve(WRITE_CHUNK + 64 * 1024);
            }
            pending.extend_from_slice(&data);
            if pending.len() < WRITE_CHUNK {
                continue;
            }
            pending.split().freeze()
        };
        let n = batch.len() as u64;
        if tx.send(batch).await.is_err() {
            write_failed = true;
            break;
        }
        up.meter.lock().expect("meter lock").add(n, &shared.hooks.emit);
    }
    drop(tx);
    let written = match writer.await {
        Ok(Ok(w)) if !write_failed => w,
        // A full disk, a folder that cannot be written or is gone: said as such (issue 12).
        Ok(Err(e)) => {
            let result = crate::transfer::store::write_failure(&e);
            return fail(result, StatusCode::INTERNAL_SERVER_ERROR, "Could not write the file");
        }
        _ => {
            return fail(
                FileResult::WriteFailed,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Could not write the file",
            );
        }
    };
    if written.bytes != up.size {
        return fail(FileResult::SizeMismatch, StatusCode::BAD_REQUEST, "Fewer bytes than offered");
    }
    if let (Some(expected), Some(actual)) = (&up.sha256, written.sha256) {
        let actual = super::super::hex(&actual);
        if !actual.eq_ignore_ascii_case(expected.trim()) {
            // `written.part` is dropped here: the temporary file goes, nothing is kept.
            return (Verdict::Retry, error(StatusCode::UNPROCESSABLE_ENTITY, "Checksum mismatch"));
        }
    }
    // Cancelled while the last bytes came in: the session is gone, and so is this file.
    if !shared.incoming.lock().expect("sessions lock").by_id.contains_key(&up.session_id) {
        return fail(FileResult::NotSent, StatusCode::CONFLICT, "Cancelled");
    }
    let (folder, taken, name, modified) = (up.folder.clone(), up.taken.clone(), up.name.clone(), up.modified);
    let part = written.part;
    let placed = tokio::task::spawn_blocking(move || {
        let mut taken = taken.lock().unwrap_or_else(|e| e.into_inner());
        let path =
            persist_all(&folder, vec![(part, name)], &mut taken).pop().expect("one result per file")?;
        if let Some(t) = modified {
            // A nicety: the file is saved whether or not its time can be set.
            let _ = set_modified(&path, t);
        }
        Ok::<_, io::Error>(path)
    })
    .await;
    match placed {
        Ok(Ok(path)) => (Verdict::Final(FileResult::Saved, Some(path)), empty(StatusCode::OK)),
        Ok(Err(e)) => fail(
            crate::transfer::store::write_failure(&e),
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not save the file",
        ),
        _ => fail(FileResult::WriteFailed, StatusCode::INTERNAL_SERVER_ERROR, "Could not save the file"),
    }
}

/// A received file, written and hashed, not yet named.
struct Written {
    part: PartFile,
    bytes: u64,
    sha256: Option<[u8; 32]>,
}

/// The writing thread of one upload: gathers network chunks into [`WRITE_CHUNK`]s, hashes and
/// writes them into a nameless temporary file in `dir`. Ends when the channel closes.
fn write_file(folder: &ReceiveFolder, mut rx: mpsc::Receiver<Bytes>, hash: bool) -> io::Result<Written> {
    let mut part = PartFile::create(folder)?;
    let mut hasher = hash.then(Sha256::new);
    let mut buf = Vec::with_capacity(WRITE_CHUNK);
    let mut bytes = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        bytes += chunk.len() as u64;
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
        if buf.is_empty() && chunk.len() >= WRITE_CHUNK {
            part.write_all(&chunk)?;
        } else {
            buf.extend_from_slice(&chunk);
            if buf.len() >= WRITE_CHUNK {
                part.write_all(&buf)?;
                buf.clear();
            }
        }
    }
    if !buf.is_empty() {
        part.write_all(&buf)?;
    }
    part.done_writing();
    Ok(Written { part, bytes, sha256: hasher.map(|h| h.finalize().into()) })
}

/// Sets a saved file's modification time, without following a link that might have been put in
/// its place.
fn set_modified(path: &Path, t: SystemTime) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        #[allow(clippy::unnecessary_cast)] // the raw type is u32 or i32 depending on the backend
        options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    options.open(path)?.set_modified(t)
}

/// Records an upload's verdict; ends the session when every accepted file is final.
fn finish_file(shared: &Shared, session_id: &str, index: usize, verdict: Verdict) {
    let mut sessions = shared.incoming.lock().expect("sessions lock");
    let Some(s) = sessions.by_id.get_mut(session_id) else { return };
    s.uploading = s.uploading.saturating_sub(1);
    s.last_activity = Instant::now();
    let f = &mut s.files[index];
    if f.state != FileState::Uploading {
        return;
    }
    let done = match verdict {
        Verdict::Retry if f.attempts < MAX_UPLOAD_ATTEMPTS => {
            f.state = FileState::Waiting;
            f.result = FileResult::HashMismatch;
            None
        }
        Verdict::Retry => Some((FileResult::HashMismatch, None)),
        Verdict::Final(result, saved_as) => Some((result, saved_as)),
    };
    let Some((result, saved_as)) = done else { return };
    f.state = FileState::Final;
    f.result = result;
    f.saved_as = saved_as.clone();
    let event = Event::FileDone {
        transfer: s.transfer,
        outcome: FileOutcome {
            index: index as u32,
            path: f.dto.file_name.clone(),
            size: f.dto.size,
            result,
            saved_as,
        },
    };
    let complete = s.files.iter().all(|f| f.state == FileState::Final);
    drop(sessions);
    shared.emit(event);
    if complete {
        end(shared, session_id, Ending::Finished);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", "a"));
        assert!(same_token("", ""));
    }
}
