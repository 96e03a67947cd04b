//! The server's endpoints, and the receiving sessions behind them.
//!
//! A session is one offer (`prepare-upload`) from one address. Its life:
//!
//! 1. **Asking.** The offer becomes Ferry's own prompt ([`Event::IncomingOffer`]) unless "accept
//!    automatically" is on or the sender's certificate is one the person always accepts
//!    ([`super::TrustedSenders`]). The request is held open meanwhile (LocalSend senders wait:
//!    the app without a time limit, `localsendd` for 65 s). Nothing is written in this phase. A
//!    sender that hangs up or calls `cancel` ends it; so does Cancel here.
//! 2. **Receiving.** Accepted files whose names can be made safe get a token. Each arrives in
//!    its own `upload` request, only from the session's address and only with the file's token
//!    (compared in constant time), into a nameless temporary file of Ferry's store; it gets its
//!    final name only when its size — and its sha256, when the offer gave one — check out (422
//!    and nothing kept otherwise; the sender may retry twice). `metadata.modified` becomes the
//!    file's time.
//! 3. **Over** when every accepted file is saved or failed ([`Event::TransferFinished`]), when
//!    either side cancels (the other is told), or when the sender stops uploading for the idle
//!    timeout.
//!
//! At most [`MAX_SESSIONS`] sessions at once and one per address: another offer meanwhile is
//! answered 409 ("Blocked by another session"), as LocalSend does. Offers from several phones
//! wait side by side in Ferry's queue of offers.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::client::{self, Connection, Target};
use super::dto::{DeviceInfo, FileDto, PrepareUpload, PrepareUploadResponse};
use super::json::{self, BoundedMap};
use super::meter::Meter;
use super::peers::{self, display_name};
use super::server::{Conn, RespBody, content_length, empty, error, json as json_response, read_capped};
use super::stop::{Stop, Why};
use super::tls::Sha256Fingerprint;
use super::{Shared, query, random_id, time};
use crate::events::{
    Decision, Direction, Event, FileOutcome, IncomingOffer, OfferedFile, PeerInfo, TransferError, TransferId,
};
use crate::protocol::{CancelReason, FileResult, MAX_OFFER_THUMBNAIL_BYTES, MAX_PATH_BYTES, MAX_THUMBNAIL};
use crate::transfer::names::safe_relative_path;
use crate::transfer::store::PartFile;

/// Sessions at once (asking or receiving), from different addresses.
pub const MAX_SESSIONS: usize = 4;
/// Largest `prepare-upload` body: 50,000 files at ~600 bytes each.
pub const MAX_OFFER_BODY: usize = 32 * 1024 * 1024;
/// Largest `register` body.
pub const MAX_REGISTER_BODY: usize = 64 * 1024;
/// Longest file id (LocalSend's are UUIDs).
pub const MAX_ID_BYTES: usize = 256;
/// Uploads of one file after a checksum mismatch, in all (LocalSend 1.18 retries up to this).
pub const MAX_UPLOAD_ATTEMPTS: u8 = 3;
/// Text messages from one address: at most this many per [`TEXT_WINDOW`]; more get 429.
pub const TEXTS_PER_WINDOW: usize = 5;
pub const TEXT_WINDOW: Duration = Duration::from_secs(10);
/// Received data is written in pieces of this size (network chunks are gathered up to it).
const WRITE_CHUNK: usize = 256 * 1024;
/// Chunks in flight between the connection and the thread writing the file: this, times the
/// chunk size hyper hands over (at most ~400 KiB), is what one upload may hold in memory.
const WRITE_QUEUE: usize = 8;

/// How long an upload that broke off waits for the sender's `cancel` before it counts as an
/// incomplete file.
const CANCEL_GRACE: Duration = Duration::from_millis(500);

/// Big offers are parsed one at a time, so a few hostile ones cannot each hold a large parse.
static PARSING: Semaphore = Semaphore::const_new(1);

#[derive(Default)]
pub struct Sessions {
    by_id: HashMap<String, Session>,
    /// When each address last sent text messages, for the rate limit.
    texts: HashMap<IpAddr, VecDeque<Instant>>,
}

struct Session {
    transfer: TransferId,
    id: String,
    sender: IpAddr,
    /// The sender's own server, to tell it when we cancel.
    sender_server: Target,
    stop: Arc<Stop>,
    phase: Phase,
    files: Vec<InFile>,
    /// Where this session's files go (the receive folder when it was accepted).
    dir: PathBuf,
    meter: Arc<Mutex<Meter>>,
    /// Uploads under way.
    uploading: usize,
    last_activity: Instant,
}

enum Phase {
    /// Waiting for the person; the answer goes here (taken once).
    Asking(Option<oneshot::Sender<Decision>>),
    Receiving,
}

struct InFile {
    id: String,
    dto: FileDto,
    /// Safe path components, or `None`: the name cannot be used and the file is refused.
    name: Option<Vec<String>>,
    /// Set for accepted files.
    token: Option<String>,
    state: FileState,
    attempts: u8,
    result: FileResult,
    saved_as: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FileState {
    /// Accepted, not (or not successfully) uploaded yet.
    Waiting,
    Uploading,
    Final,
}

/// How a session ends; turned into exactly one final event by [`end`].
enum Ending {
    Finished,
    Declined,
    Cancelled { by_peer: bool, reason: CancelReason },
    Failed(TransferError),
}

/// Compares two tokens without stopping at the first difference, so the time taken says
/// nothing about how much of a guess was right.
fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn outcomes(s: &Session) -> Vec<FileOutcome> {
    s.files
        .iter()
        .enumerate()
        .map(|(i, f)| FileOutcome {
            index: i as u32,
            path: f.dto.file_name.clone(),
            size: f.dto.size,
            result: f.result,
            saved_as: f.saved_as.clone(),
        })
        .collect()
}

/// Removes the session and reports how it ended, once: `false` if it was already gone.
fn end(shared: &Shared, session_id: &str, how: Ending) -> bool {
    let Some(session) = shared.incoming.lock().expect("sessions lock").by_id.remove(session_id) else {
        return false;
    };
    session.stop.request(Why::Here(CancelReason::User));
    report(shared, &session, how);
    true
}

/// Cancel here for a session past the answer: it ends now (no upload is taken from here on, and
/// none that is under way will be saved), but uploads under way are broken off only once the
/// sender has been told (at most two seconds later), so that it hears "cancelled" rather than
/// seeing a broken connection first. The sender's reply, if any, is awaited by the caller.
fn end_and_tell(
    shared: &Arc<Shared>,
    session_id: &str,
    reason: CancelReason,
) -> Option<impl Future<Output = ()> + use<>> {
    let session = shared.incoming.lock().expect("sessions lock").by_id.remove(session_id)?;
    report(shared, &session, Ending::Cancelled { by_peer: false, reason });
    let (shared, id) = (shared.clone(), session_id.to_owned());
    Some(async move {
        tell_sender(&shared, session.sender_server.clone(), &id).await;
        session.stop.request(Why::Here(reason));
    })
}

/// The one final event of a session.
fn report(shared: &Shared, session: &Session, how: Ending) {
    let transfer = session.transfer;
    shared.emit(match how {
        Ending::Finished => {
            session.meter.lock().expect("meter lock").flush(&shared.hooks.emit);
            Event::TransferFinished { transfer, files: outcomes(session) }
        }
        Ending::Declined => Event::TransferDeclined { transfer, busy: false },
        Ending::Cancelled { by_peer, reason } => Event::TransferCancelled { transfer, by_peer, reason },
        Ending::Failed(error) => Event::TransferFailed { transfer, error },
    });
}

// ---- register and info ----------------------------------------------------------------------

/// `POST /register`: a device introduces itself (answering our announcement, or scanning).
/// Over TLS with a client certificate, a body claiming another fingerprint is not recorded
/// (LocalSend 1.18 does the same); we answer with who we are either way.
pub async fn register(req: Request<Incoming>, conn: &Conn, shared: &Arc<Shared>) -> Response<RespBody> {
    let body = match read_capped(req, MAX_REGISTER_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let info: DeviceInfo = match json::parse(&body) {
        Ok(i) => i,
        Err(_) => return error(StatusCode::BAD_REQUEST, "Invalid body"),
    };
    let consistent = conn.cert.is_none_or(|fp| info.fingerprint.eq_ignore_ascii_case(&fp.to_hex()));
    if consistent {
        peers::seen(shared, conn.ip, &info, conn.cert);
    }
    json_response(StatusCode::OK, &shared.info_response())
}

/// `GET /info`.
pub fn info(shared: &Shared) -> Response<RespBody> {
    json_response(StatusCode::OK, &shared.info_response())
}

// ---- prepare-upload ---------------------------------------------------------------------------

/// `POST /prepare-upload`: an offer. See the module docs for what happens.
pub async fn prepare_upload(req: Request<Incoming>, conn: &Conn, shared: &Arc<Shared>) -> Response<RespBody> {
    if !shared.receive {
        return error(StatusCode::FORBIDDEN, "This device is not receiving files right now");
    }
    let body = match read_capped(req, MAX_OFFER_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let offer: PrepareUpload = {
        let _one_at_a_time = PARSING.acquire().await;
        match json::parse(&body) {
            Ok(o) => o,
            Err(_) => return error(StatusCode::BAD_REQUEST, "Invalid body"),
        }
    };
    drop(body);
    if let Err(why) = check_offer(&offer.files) {
        return error(StatusCode::BAD_REQUEST, why);
    }

    // The sender appears under devices nearby too, so the window can show what it is.
    let key = peers::key_for(conn.ip, &offer.info, conn.cert);
    peers::seen(shared, conn.ip, &offer.info, conn.cert);
    let peer = PeerInfo {
        instance: peers::instance_for(&key),
        name: display_name(&offer.info.alias, conn.ip),
        os: peers::os_from_model(offer.info.device_model.as_deref()),
        addr: SocketAddr::new(conn.ip, offer.info.port),
    };

    if let [(_, file)] = offer.files.0.as_slice()
        && file.is_text_message()
    {
        return text_message(shared, conn.ip, peer, file.preview.clone().unwrap_or_default());
    }
    if offer.files.is_empty() {
        return empty(StatusCode::NO_CONTENT);
    }

    let live = shared.live();
    let trusted = conn.cert.is_some_and(|fp| shared.hooks.trust.always_accept(&fp));
    let ask = !(live.accept_automatically || trusted);
    let (decision_tx, decision_rx) = oneshot::channel();
    let stop = Arc::new(Stop::default());
    let files: Vec<InFile> = offer
        .files
        .0
        .into_iter()
        .map(|(id, dto)| InFile {
            name: (dto.file_name.len() <= MAX_PATH_BYTES)
                .then(|| safe_relative_path(&dto.file_name).ok())
                .flatten(),
            id,
            dto,
            token: None,
            state: FileState::Final,
            attempts: 0,
            result: FileResult::NotAccepted,
            saved_as: None,
        })
        .collect();
    let offered = offered_files(&files);
    let total_bytes: u64 = files.iter().map(|f| f.dto.size).sum();
    let session_id = random_id();
    let transfer = TransferId::next();
    {
        let mut sessions = shared.incoming.lock().expect("sessions lock");
        if sessions.by_id.len() >= MAX_SESSIONS || sessions.by_id.values().any(|s| s.sender == conn.ip) {
            return error(StatusCode::CONFLICT, "Blocked by another session");
        }
        sessions.by_id.insert(
            session_id.clone(),
            Session {
                transfer,
                id: session_id.clone(),
                sender: conn.ip,
                sender_server: Target {
                    addr: SocketAddr::new(conn.ip, offer.info.port),
                    protocol: offer.info.protocol,
                    pin: conn.cert.or_else(|| Sha256Fingerprint::from_hex(&offer.info.fingerprint)),
                },
                stop: stop.clone(),
                phase: Phase::Asking(Some(decision_tx)),
                files,
                dir: live.receive_dir.clone(),
                meter: Arc::new(Mutex::new(Meter::new(transfer, 0))),
                uploading: 0,
                last_activity: Instant::now(),
            },
        );
    }

    // From here on the session exists: if this request goes away (the sender hung up), the
    // guard ends it.
    let mut guard = AskingGuard { shared: shared.clone(), session_id: session_id.clone(), armed: true };
    let decision = if ask {
        shared.emit(Event::IncomingOffer(IncomingOffer {
            transfer,
            from: peer.clone(),
            files: offered.clone(),
            total_bytes,
        }));
        let _hold = conn.activity.hold();
        tokio::select! {
            d = decision_rx => match d {
                Ok(d) => d,
                // Nobody is left to answer (shutting down).
                Err(_) => {
                    guard.armed = false;
                    end(shared, &session_id, Ending::Declined);
                    return error(StatusCode::CONFLICT, "Blocked by another session");
                }
            },
            why = stop.wait() => {
                guard.armed = false;
                let (by_peer, reason) = match why {
                    Why::Peer => (true, CancelReason::User),
                    Why::Here(reason) => (false, reason),
                };
                end(shared, &session_id, Ending::Cancelled { by_peer, reason });
                return error(StatusCode::FORBIDDEN, "Cancelled");
            }
        }
    } else {
        Decision::AcceptAll
    };
    guard.armed = false;
    accept(shared, &session_id, decision, &peer, offered)
}

/// Ends an asked-about session whose request went away before the answer (the sender hung up).
struct AskingGuard {
    shared: Arc<Shared>,
    session_id: String,
    armed: bool,
}

impl Drop for AskingGuard {
    fn drop(&mut self) {
        if self.armed {
            // At shutdown the server drops its connections itself; that is not the sender.
            let how = match self.shared.stopping.get() {
                Some(_) => Ending::Cancelled { by_peer: false, reason: CancelReason::Shutdown },
                None => Ending::Cancelled { by_peer: true, reason: CancelReason::User },
            };
            end(&self.shared, &self.session_id, how);
        }
    }
}

/// Ids and sizes are within limits; the total does not overflow.
fn check_offer(files: &BoundedMap<FileDto>) -> Result<(), &'static str> {
    let mut total = 0u64;
    for (id, f) in files.iter() {
        if id.is_empty() || id.len() > MAX_ID_BYTES {
            return Err("A file id is empty or too long");
        }
        total = total.checked_add(f.size).ok_or("The sizes add up to more than can be stored")?;
    }
    Ok(())
}

/// The files as the prompt shows them, with the thumbnails that were sent (small JPEGs only,
/// within Ferry's thumbnail budget).
fn offered_files(files: &[InFile]) -> Vec<OfferedFile> {
    let mut budget = MAX_OFFER_THUMBNAIL_BYTES;
    files
        .iter()
        .map(|f| {
            let thumbnail = f.dto.preview.as_deref().and_then(thumbnail).filter(|t| t.len() as u64 <= budget);
            budget -= thumbnail.as_ref().map_or(0, |t| t.len() as u64);
            OfferedFile {
                path: f.dto.file_name.clone(),
                size: f.dto.size,
                thumbnail: thumbnail.unwrap_or_default(),
            }
        })
        .collect()
}

/// A base64 JPEG preview (a `data:` URL or bare), at most [`MAX_THUMBNAIL`] bytes.
fn thumbnail(preview: &str) -> Option<Vec<u8>> {
    let b64 = preview.split_once(";base64,").map_or(preview, |(_, data)| data);
    if b64.len() > MAX_THUMBNAIL * 4 / 3 + 4 {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    bytes.starts_with(&[0xFF, 0xD8, 0xFF]).then_some(bytes)
}

/// A text message: shown, not saved; LocalSend expects 204 (nothing to upload).
fn text_message(shared: &Shared, ip: IpAddr, from: PeerInfo, text: String) -> Response<RespBody> {
    {
        let mut sessions = shared.incoming.lock().expect("sessions lock");
        let recent = sessions.texts.entry(ip).or_default();
        recent.retain(|t| t.elapsed() < TEXT_WINDOW);
        if recent.len() >= TEXTS_PER_WINDOW {
            return error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        }
        recent.push_back(Instant::now());
        if sessions.texts.len() > 1024 {
            sessions.texts.retain(|_, r| r.iter().any(|t| t.elapsed() < TEXT_WINDOW));
        }
    }
    shared.emit(Event::TextReceived { from, text });
    empty(StatusCode::NO_CONTENT)
}

/// Acts on the person's answer: tokens for the accepted files with usable names.
fn accept(
    shared: &Shared,
    session_id: &str,
    decision: Decision,
    peer: &PeerInfo,
    offered: Vec<OfferedFile>,
) -> Response<RespBody> {
    if decision == Decision::Decline {
        end(shared, session_id, Ending::Declined);
        return error(StatusCode::FORBIDDEN, "Rejected");
    }
    let mut sessions = shared.incoming.lock().expect("sessions lock");
    let Some(s) = sessions.by_id.get_mut(session_id) else {
        return error(StatusCode::FORBIDDEN, "Cancelled");
    };
    let wanted = |i: usize| match &decision {
        Decision::AcceptAll => true,
        Decision::AcceptSome(list) => list.contains(&(i as u32)),
        Decision::Decline => false,
    };
    let mut tokens = Vec::new();
    let mut bytes_total = 0u64;
    for (i, f) in s.files.iter_mut().enumerate() {
        f.result = match (wanted(i), &f.name) {
            (false, _) => FileResult::NotAccepted,
            (true, None) => FileResult::UnsafeName,
            (true, Some(_)) => {
                let token = random_id();
                tokens.push((f.id.clone(), token.clone()));
                f.token = Some(token);
                f.state = FileState::Waiting;
                bytes_total += f.dto.size;
                FileResult::NotSent
            }
        };
    }
    let dir = s.dir.clone();
    let transfer = s.transfer;
    if tokens.is_empty() {
        drop(sessions);
        end(shared, session_id, Ending::Finished);
        return empty(StatusCode::NO_CONTENT);
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        drop(sessions);
        end(
            shared,
            session_id,
            Ending::Failed(TransferError::ReceiveFolder(format!("{}: {e}", dir.display()))),
        );
        return error(StatusCode::INTERNAL_SERVER_ERROR, "The receive folder is not usable");
    }
    s.phase = Phase::Receiving;
    s.meter = Arc::new(Mutex::new(Meter::new(transfer, bytes_total)));
    s.last_activity = Instant::now();
    drop(sessions);
    shared.emit(Event::TransferStarted {
        transfer,
        direction: Direction::Incoming,
        peer: peer.clone(),
        files: offered.into_iter().map(|f| OfferedFile { thumbnail: Vec::new(), ..f }).collect(),
        total_bytes: bytes_total,
    });
    json_response(
        StatusCode::OK,
        &PrepareUploadResponse { session_id: session_id.to_owned(), files: BoundedMap(tokens) },
    )
}

/// The person's answer (from the engine). `true` if `transfer` is a session of ours.
pub fn answer(shared: &Shared, transfer: TransferId, decision: Decision) -> bool {
    let mut sessions = shared.incoming.lock().expect("sessions lock");
    let Some(s) = sessions.by_id.values_mut().find(|s| s.transfer == transfer) else { return false };
    if let Phase::Asking(tx) = &mut s.phase
        && let Some(tx) = tx.take()
    {
        let _ = tx.send(decision);
    }
    true
}

// ---- upload -----------------------------------------------------------------------------------

/// What one upload needs, taken from its session under the lock.
struct Upload {
    session_id: String,
    index: usize,
    size: u64,
    sha256: Option<String>,
    name: Vec<String>,
    dir: PathBuf,
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
            dir: s.dir.clone(),
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
    let dir = up.dir.clone();
    let hash = up.sha256.is_some();
    let writer = tokio::task::spawn_blocking(move || write_file(&dir, rx, hash));
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
        let actual: String = actual.iter().map(|b| format!("{b:02x}")).collect();
        if !actual.eq_ignore_ascii_case(expected.trim()) {
            // `written.part` is dropped here: the temporary file goes, nothing is kept.
            return (Verdict::Retry, error(StatusCode::UNPROCESSABLE_ENTITY, "Checksum mismatch"));
        }
    }
    // Cancelled while the last bytes came in: the session is gone, and so is this file.
    if !shared.incoming.lock().expect("sessions lock").by_id.contains_key(&up.session_id) {
        return fail(FileResult::NotSent, StatusCode::CONFLICT, "Cancelled");
    }
    let (root, name, modified) = (up.dir.clone(), up.name.clone(), up.modified);
    let part = written.part;
    let placed = tokio::task::spawn_blocking(move || {
        let path = part.persist(&root, &name)?;
        if let Some(t) = modified {
            // A nicety: the file is saved whether or not its time can be set.
            let _ = set_modified(&path, t);
        }
        Ok::<_, io::Error>(path)
    })
    .await;
    match placed {
        Ok(Ok(path)) => (Verdict::Final(FileResult::Saved, Some(path)), empty(StatusCode::OK)),
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
fn write_file(dir: &Path, mut rx: mpsc::Receiver<Bytes>, hash: bool) -> io::Result<Written> {
    let mut part = PartFile::create(dir)?;
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

// ---- cancel -----------------------------------------------------------------------------------

/// `POST /cancel?sessionId`: the sender gives up (an offer still being asked about may be
/// cancelled without the id, which the sender does not know yet) — or, when no session of ours
/// matches, the receiver of one of *our* sends cancels it. Always 200.
pub fn cancel(req: Request<Incoming>, conn: &Conn, shared: &Arc<Shared>) -> Response<RespBody> {
    let wanted = query::get(req.uri().query(), "sessionId").map(|s| s.into_owned());
    let found = {
        let sessions = shared.incoming.lock().expect("sessions lock");
        sessions
            .by_id
            .values()
            .find(|s| {
                s.sender == conn.ip
                    && match &wanted {
                        Some(id) => *id == s.id,
                        None => matches!(s.phase, Phase::Asking(_)),
                    }
            })
            .map(|s| (s.id.clone(), s.stop.clone(), matches!(s.phase, Phase::Asking(_))))
    };
    match found {
        // The waiting request notices and ends the session.
        Some((_, stop, true)) => stop.request(Why::Peer),
        Some((id, stop, false)) => {
            stop.request(Why::Peer);
            end(shared, &id, Ending::Cancelled { by_peer: true, reason: CancelReason::User });
        }
        None => super::send::cancelled_by_receiver(shared, conn.ip, wanted.as_deref()),
    }
    empty(StatusCode::OK)
}

/// Cancel pressed here (or shutdown) for an incoming session; the sender is told. `false` if
/// `transfer` is not one of ours.
pub fn cancel_session(shared: &Arc<Shared>, transfer: TransferId, why: Why) -> bool {
    let found = {
        let sessions = shared.incoming.lock().expect("sessions lock");
        sessions
            .by_id
            .values()
            .find(|s| s.transfer == transfer)
            .map(|s| (s.id.clone(), s.stop.clone(), matches!(s.phase, Phase::Asking(_))))
    };
    let Some((id, stop, asking)) = found else { return false };
    if asking {
        // The waiting offer answers 403 and ends the session.
        stop.request(why);
    } else {
        let reason = match why {
            Why::Here(r) => r,
            Why::Peer => CancelReason::User,
        };
        if let Some(tell) = end_and_tell(shared, &id, reason) {
            shared.runtime.spawn(tell);
        }
    }
    true
}

/// `POST /cancel?sessionId` to the sender's own server, so its app stops too (LocalSend 1.18
/// and localsendd both take it). Best effort, within a couple of seconds.
async fn tell_sender(shared: &Shared, sender: Target, session_id: &str) {
    let attempt = async {
        let mut conn =
            Connection::open(&shared.identity, &sender, shared.timing.connect_timeout).await.ok()?;
        let path = query::build("/api/localsend/v2/cancel", &[("sessionId", session_id)]);
        let req = Request::post(path)
            .header(hyper::header::CONTENT_LENGTH, 0)
            .body(client::full(Bytes::new()))
            .ok()?;
        let resp = conn.send(req).await.ok()?;
        let _ = client::read_body(resp, 4096).await;
        Some(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), attempt).await;
}

// ---- housekeeping -----------------------------------------------------------------------------

/// Ends sessions whose sender stopped uploading: after the idle timeout with no upload under
/// way. If every accepted file was tried (only failed checksums wait for a retry that did not
/// come), that is the end of the batch; otherwise the sender stopped responding.
pub async fn reaper(shared: Arc<Shared>) {
    let step = (shared.timing.idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shared.stopping.wait() => return,
            _ = tokio::time::sleep(step) => {}
        }
        let stale: Vec<(String, bool)> = {
            let sessions = shared.incoming.lock().expect("sessions lock");
            sessions
                .by_id
                .values()
                .filter(|s| {
                    matches!(s.phase, Phase::Receiving)
                        && s.uploading == 0
                        && s.last_activity.elapsed() >= shared.timing.idle_timeout
                })
                .map(|s| {
                    (s.id.clone(), s.files.iter().all(|f| f.state == FileState::Final || f.attempts > 0))
                })
                .collect()
        };
        for (id, all_tried) in stale {
            let how = if all_tried { Ending::Finished } else { Ending::Failed(TransferError::TimedOut) };
            end(&shared, &id, how);
        }
    }
}

/// Shutdown: every session ends as cancelled (the senders are told, briefly).
pub async fn shutdown(shared: &Arc<Shared>) {
    let all: Vec<(String, Arc<Stop>, bool)> = {
        let sessions = shared.incoming.lock().expect("sessions lock");
        sessions
            .by_id
            .values()
            .map(|s| (s.id.clone(), s.stop.clone(), matches!(s.phase, Phase::Asking(_))))
            .collect()
    };
    let mut tell = Vec::new();
    for (id, stop, asking) in all {
        if asking {
            stop.request(Why::Here(CancelReason::Shutdown));
            end(shared, &id, Ending::Cancelled { by_peer: false, reason: CancelReason::Shutdown });
        } else if let Some(t) = end_and_tell(shared, &id, CancelReason::Shutdown) {
            tell.push(tokio::spawn(t));
        }
    }
    for t in tell {
        let _ = t.await;
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

    #[test]
    fn previews_become_thumbnails_only_when_they_are_small_jpegs() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        let b64 = base64::engine::general_purpose::STANDARD.encode(jpeg);
        assert_eq!(thumbnail(&b64).as_deref(), Some(&jpeg[..]));
        assert_eq!(thumbnail(&format!("data:image/jpeg;base64,{b64}")).as_deref(), Some(&jpeg[..]));
        assert_eq!(thumbnail(&base64::engine::general_purpose::STANDARD.encode(b"\x89PNG")), None);
        assert_eq!(thumbnail("not base64 at all"), None);
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0xFF; MAX_THUMBNAIL + 1]);
        assert_eq!(thumbnail(&big), None);
    }
}
