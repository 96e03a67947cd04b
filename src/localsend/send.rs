//! Ferry → a LocalSend device: what the person chose is walked exactly as for a Ferry peer
//! ([`crate::transfer::send::collect`]), offered in one `prepare-upload` (names with `/` for
//! folders, sizes, MIME types, `metadata.modified`, and `sha256` for small files, which are read
//! once into memory anyway), then each accepted file goes up in its own `upload` request, one
//! after the other on one connection.
//!
//! A text goes the way LocalSend's own app sends one: an offer of a single `text/plain` "file"
//! whose `preview` is the text ([`Payload::Text`]). A receiver that shows the preview answers 204
//! and that is the delivery; one that answers with a token gets the text's bytes uploaded like a
//! file. Its events are those of a text sent to a Ferry peer: started (no files), accepted, then
//! finished with no file outcomes.
//!
//! Over HTTPS the connection presents Ferry's certificate and pins the receiver's to the
//! fingerprint it announced. Cancel here tells the receiver (`POST /cancel`); the receiver
//! cancelling reaches us as its `POST /cancel` to our server, or as 403/409 on an upload. A
//! connection on which nothing moves for the idle timeout fails the transfer.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper::{Request, StatusCode};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, mpsc};

use super::client::{self, ClientError, Connection, ReqBody, Target, read_body};
use super::dto::{FileDto, FileMetadata, PrepareUpload, PrepareUploadResponse, Protocol};
use super::json::{self, BoundedMap};
use super::meter::Meter;
use super::peers::{Known, canonical};
use super::receive::MAX_OFFER_BODY;
use super::stop::{Stop, Why};
use super::{Shared, hex, mime, query, random_id, time};
use crate::events::{Direction, Event, FileOutcome, OfferedFile, PeerInfo, TransferError, TransferId};
use crate::protocol::{CancelReason, FileResult, MAX_TEXT_BYTES};
use crate::transfer::send::{SourceFile, collect};
use crate::transfer::{CACHE_LINE, line_start};

/// Files up to this size are read whole before the offer, so their sha256 can go into it.
const HASHED_FILE_MAX: u64 = 1024 * 1024;
/// ... as long as all of them together stay under this.
const HASHED_TOTAL_MAX: u64 = 16 * 1024 * 1024;
/// Pieces files are read and sent in; [`READ_AHEAD`] of them may wait for the socket.
const READ_CHUNK: usize = 256 * 1024;
const READ_AHEAD: usize = 4;

/// What a send carries.
pub enum Payload {
    /// Files and folders chosen here.
    Files(Vec<PathBuf>),
    /// A text message: 1..=[`MAX_TEXT_BYTES`] bytes, as for a Ferry peer.
    Text(String),
}

/// A send under way, as the rest of the module sees it.
pub struct Outgoing {
    pub stop: Stop,
    /// The receiver's address: only it may cancel this send.
    ip: IpAddr,
    /// The receiver's session, once it accepted.
    remote_session: Mutex<Option<String>>,
    done: AtomicBool,
    done_notify: Notify,
}

impl Outgoing {
    /// Resolves when the send has reported its end.
    pub async fn ended(&self) {
        loop {
            let n = self.done_notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.done.load(Ordering::SeqCst) {
                return;
            }
            n.await;
        }
    }
}

/// How a send ended.
enum End {
    Finished(Vec<FileOutcome>),
    Declined { busy: bool },
    Cancelled { by_peer: bool, reason: CancelReason },
    Failed(TransferError),
}

impl From<TransferError> for End {
    fn from(e: TransferError) -> Self {
        End::Failed(e)
    }
}

/// Starts sending `what` to the LocalSend device at `to`.
pub fn start(
    rt: &tokio::runtime::Runtime,
    shared: &Arc<Shared>,
    id: TransferId,
    to: SocketAddr,
    what: Payload,
) {
    let known = shared.peers.lock().expect("peers lock").by_addr(to).cloned();
    let Some(known) = known else {
        shared.emit(Event::TransferFailed {
            transfer: id,
            error: TransferError::LocalSendUnreachable(format!(
                "{to} is not a LocalSend device seen on the network"
            )),
        });
        return;
    };
    let out = Arc::new(Outgoing {
        stop: Stop::default(),
        ip: canonical(to.ip()),
        remote_session: Mutex::new(None),
        done: AtomicBool::new(false),
        done_notify: Notify::new(),
    });
    shared.outgoing.lock().expect("outgoing lock").insert(id, out.clone());
    let shared = shared.clone();
    rt.spawn(async move {
        let end = match run(&shared, id, &known, what, &out).await {
            Ok(end) | Err(end) => end,
        };
        shared.outgoing.lock().expect("outgoing lock").remove(&id);
        // A completed send over HTTPS went to the certificate it pinned, whose key a handshake
        // proved: the receiver becomes (or stays) a known device.
        if let (End::Finished(_), Protocol::Https, Some(certificate), Some(key)) =
            (&end, known.protocol, known.pin, known.peer.fingerprint)
        {
            let (trust, name, addr) = (shared.hooks.trust.clone(), known.peer.name.clone(), known.peer.addr);
            let proven = super::ProvenSender { certificate, key };
            let _ = tokio::task::spawn_blocking(move || trust.remember(&proven, &name, addr)).await;
        }
        shared.emit(match end {
            End::Finished(files) => Event::TransferFinished { transfer: id, files },
            End::Declined { busy } => Event::TransferDeclined { transfer: id, busy },
            End::Cancelled { by_peer, reason } => Event::TransferCancelled { transfer: id, by_peer, reason },
            End::Failed(error) => Event::TransferFailed { transfer: id, error },
        });
        out.done.store(true, Ordering::SeqCst);
        out.done_notify.notify_waiters();
    });
}

/// The receiver `ip` called our `/cancel`: the send to it with that session (or, without a
/// session id, the one still waiting for its answer) stops.
pub fn cancelled_by_receiver(shared: &Shared, ip: IpAddr, session: Option<&str>) {
    for out in shared.outgoing.lock().expect("outgoing lock").values() {
        let remote = out.remote_session.lock().expect("session lock").clone();
        let matches = match (session, remote.as_deref()) {
            (Some(wanted), Some(theirs)) => wanted == theirs,
            (None, None) => true,
            _ => false,
        };
        if out.ip == ip && matches {
            out.stop.request(Why::Peer);
        }
    }
}

/// A file to send and what the offer says about it (its name on the wire and size included).
struct Source {
    id: String,
    dto: FileDto,
    content: Content,
}

/// Where an upload's bytes come from.
enum Content {
    /// Read from this file while it goes up.
    Disk(PathBuf),
    /// Already in memory: a small file (read once: hashed for the offer, then sent), or a text.
    Memory(Bytes),
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A text message as LocalSend's own app sends one (its `send_provider.dart` and
/// `AddMessageAction`): one file named `<random>.txt`, `text/plain`, the size of the text in UTF-8
/// bytes, the text itself as `preview`, no metadata; and its sha256, as the app adds when it makes
/// checksums (its default).
fn text_source(text: String) -> Source {
    let content = Bytes::from(text.clone().into_bytes());
    let id = random_id();
    let dto = FileDto {
        id: id.clone(),
        file_name: format!("{}.txt", random_id()),
        size: content.len() as u64,
        file_type: "text/plain".to_owned(),
        sha256: Some(hex_sha256(&content)),
        preview: Some(text),
        metadata: None,
    };
    Source { id, dto, content: Content::Memory(content) }
}

fn prepare(files: Vec<SourceFile>) -> Vec<Source> {
    let mut hashed_total = 0u64;
    files
        .into_iter()
        .map(|file| {
            let modified = std::fs::metadata(&file.path).and_then(|m| m.modified()).ok().map(time::format);
            let mut content = None;
            if file.size <= HASHED_FILE_MAX && hashed_total + file.size <= HASHED_TOTAL_MAX {
                let mut buf = Vec::with_capacity(file.size as usize);
                let read =
                    std::fs::File::open(&file.path).and_then(|f| f.take(file.size + 1).read_to_end(&mut buf));
                if read.is_ok() && buf.len() as u64 == file.size {
                    hashed_total += file.size;
                    content = Some(Bytes::from(buf));
                }
            }
            let id = random_id();
            let dto = FileDto {
                id: id.clone(),
                file_name: file.wire_path.clone(),
                size: file.size,
                file_type: mime::for_path(&file.path).to_owned(),
                sha256: content.as_deref().map(hex_sha256),
                preview: None,
                metadata: modified.map(|m| FileMetadata { modified: Some(m), accessed: None }),
            };
            let content = content.map_or(Content::Disk(file.path), Content::Memory);
            Source { id, dto, content }
        })
        .collect()
}

fn connect_error(e: ClientError) -> TransferError {
    match e {
        ClientError::WrongDevice => TransferError::WrongDevice,
        e => TransferError::LocalSendUnreachable(e.to_string()),
    }
}

/// Text the other side sent, made fit to show and short.
fn their_words(body: &[u8]) -> String {
    let text = serde_json::from_slice::<super::dto::ErrorBody>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
    crate::protocol::clean_display_name(&text.chars().take(200).collect::<String>()).unwrap_or_default()
}

async fn run(
    shared: &Arc<Shared>,
    id: TransferId,
    known: &Known,
    what: Payload,
    out: &Outgoing,
) -> Result<End, End> {
    let here = |why: Why| match why {
        Why::Here(reason) => End::Cancelled { by_peer: false, reason },
        Why::Peer => End::Cancelled { by_peer: true, reason: CancelReason::User },
    };
    let text = matches!(what, Payload::Text(_));
    let files = match what {
        Payload::Files(paths) => {
            tokio::task::spawn_blocking(move || collect(&paths).map(prepare)).await.map_err(|e| {
                End::Failed(TransferError::SourceUnreadable { path: String::new(), reason: e.to_string() })
            })??
        }
        // Ferry's own limits, whichever protocol carries the text.
        Payload::Text(t) if t.is_empty() => return Err(TransferError::NoText.into()),
        Payload::Text(t) if t.len() > MAX_TEXT_BYTES => {
            let (len, max) = (t.len() as u64, MAX_TEXT_BYTES as u64);
            return Err(TransferError::TextTooLong { len, max }.into());
        }
        Payload::Text(t) => vec![text_source(t)],
    };
    let total_bytes: u64 = files.iter().map(|f| f.dto.size).sum();
    let peer = PeerInfo {
        instance: known.peer.instance,
        name: known.peer.name.clone(),
        os: known.peer.os,
        addr: known.peer.addr,
        fingerprint: known.peer.fingerprint,
        trust: known.peer.trust.clone(),
    };
    shared.emit(Event::TransferStarted {
        transfer: id,
        direction: Direction::Outgoing,
        peer,
        // A text is offered as no files (as to a Ferry peer); its size is the total.
        files: files
            .iter()
            .filter(|_| !text)
            .map(|f| OfferedFile {
                path: f.dto.file_name.clone(),
                saved_name: None,
                size: f.dto.size,
                thumbnail: Vec::new(),
            })
            .collect(),
        total_bytes,
    });
    if let Some(why) = out.stop.get() {
        return Ok(here(why));
    }
    let target = Target {
        addr: known.peer.addr,
        protocol: known.protocol,
        pin: (known.protocol == Protocol::Https).then_some(known.pin).flatten(),
    };
    let timing = &shared.timing;
    let mut conn = tokio::select! {
        c = Connection::open(&shared.identity, &target, timing.connect_timeout) => c.map_err(connect_error)?,
        why = out.stop.wait() => return Ok(here(why)),
    };

    // The offer, and the wait for the person on the other side.
    let offer = PrepareUpload {
        info: shared.device_info(None),
        files: BoundedMap(files.iter().map(|f| (f.id.clone(), f.dto.clone())).collect()),
    };
    let body = serde_json::to_vec(&offer).expect("an offer serializes");
    let asked = async {
        let resp = conn.send(client::post_json("/api/localsend/v2/prepare-upload", body)).await?;
        read_body(resp, MAX_OFFER_BODY).await
    };
    let answered = tokio::select! {
        a = tokio::time::timeout(timing.answer_timeout, asked) => a,
        why = out.stop.wait() => {
            if matches!(why, Why::Here(_)) {
                tell_receiver(shared, &target, None).await;
            }
            return Ok(here(why));
        }
    };
    let (status, answer) = match answered {
        Err(_) => return Err(TransferError::TimedOut.into()),
        Ok(Err(e)) => return Err(TransferError::ConnectionLost(e.to_string()).into()),
        Ok(Ok(a)) => a,
    };
    let not_accepted = |files: &[Source]| -> Vec<FileOutcome> {
        files
            .iter()
            .enumerate()
            .map(|(i, f)| FileOutcome {
                index: i as u32,
                path: f.dto.file_name.clone(),
                size: f.dto.size,
                result: FileResult::NotAccepted,
                saved_as: None,
            })
            .collect()
    };
    // A text the receiver took from the offer itself (its preview): delivered.
    let delivered = || {
        shared.emit(Event::TransferAccepted { transfer: id, files: 1, bytes_total: 0 });
        End::Finished(Vec::new())
    };
    let tokens: PrepareUploadResponse = match status {
        StatusCode::OK => json::parse(&answer).map_err(|e| TransferError::Protocol(e.to_string()))?,
        // The answer LocalSend gives a text message.
        StatusCode::NO_CONTENT if text => return Ok(delivered()),
        // Nothing needed (the receiver has the files already).
        StatusCode::NO_CONTENT => return Ok(End::Finished(not_accepted(&files))),
        StatusCode::UNAUTHORIZED => return Err(TransferError::PinRequired.into()),
        StatusCode::FORBIDDEN => return Ok(End::Declined { busy: false }),
        StatusCode::CONFLICT => return Ok(End::Declined { busy: true }),
        StatusCode::TOO_MANY_REQUESTS => return Err(TransferError::PeerOverloaded.into()),
        s => {
            return Err(
                TransferError::PeerError(format!("HTTP {} {}", s.as_u16(), their_words(&answer))).into()
            );
        }
    };
    drop(answer);
    *out.remote_session.lock().expect("session lock") = Some(tokens.session_id.clone());

    let accepted: Vec<(usize, String)> = files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| tokens.files.get(&f.id).filter(|t| !t.is_empty()).map(|t| (i, t.clone())))
        .collect();
    // No token for a text: the receiver took it from the preview (LocalSend's sender reads an
    // accepted offer with nothing to upload as "read and closed", as it does 204).
    if text && accepted.is_empty() {
        return Ok(delivered());
    }
    let mut outcomes = not_accepted(&files);
    let bytes_total: u64 = accepted.iter().map(|(i, _)| files[*i].dto.size).sum();
    // A text's upload is not a file transfer to show progress for: accepted as to a Ferry peer.
    let meter = if text {
        shared.emit(Event::TransferAccepted { transfer: id, files: 1, bytes_total: 0 });
        None
    } else {
        let files = accepted.len() as u32;
        shared.emit(Event::TransferAccepted { transfer: id, files, bytes_total });
        Some(Arc::new(Mutex::new(Meter::new(id, bytes_total))))
    };
    let remote = tokens.session_id;

    for (i, token) in accepted {
        let source = &files[i];
        outcomes[i].result = FileResult::NotSent;
        if !conn.is_open() {
            conn = tokio::select! {
                c = Connection::open(&shared.identity, &target, timing.connect_timeout) => c.map_err(connect_error)?,
                why = out.stop.wait() => {
                    if matches!(why, Why::Here(_)) {
                        tell_receiver(shared, &target, Some(&remote)).await;
                    }
                    return Ok(here(why));
                }
            };
        }
        if let Some(meter) = &meter {
            meter.lock().expect("meter lock").set_file(&source.dto.file_name);
        }
        let progress = Arc::new(Progress {
            start: Instant::now(),
            last: AtomicU64::new(0),
            read_failed: AtomicBool::new(false),
        });
        let body = upload_body(source, meter.clone(), progress.clone(), shared);
        let path = query::build(
            "/api/localsend/v2/upload",
            &[("sessionId", &remote), ("fileId", &source.id), ("token", &token)],
        );
        let req = Request::post(path)
            .header(hyper::header::CONTENT_LENGTH, source.dto.size)
            .header(hyper::header::CONTENT_TYPE, source.dto.file_type.as_str())
            .body(body)
            .expect("a request from checked parts");
        let sent = async {
            let resp = conn.send(req).await?;
            read_body(resp, 64 * 1024).await
        };
        let result = tokio::select! {
            r = sent => r,
            why = out.stop.wait() => {
                // The receiver hears of the cancel before the upload breaks off, so it does not
                // take the broken upload for a lost connection.
                if matches!(why, Why::Here(_)) {
                    tell_receiver(shared, &target, Some(&remote)).await;
                }
                drop(conn);
                return Ok(here(why));
            }
            _ = progress.stalled(timing.idle_timeout) => return Err(TransferError::TimedOut.into()),
        };
        let result = match result {
            Ok((status, body)) => match status.as_u16() {
                200 | 204 => FileResult::Saved,
                // The receiver cancelled (LocalSend answers uploads of a cancelled session so).
                403 | 404 | 409 | 410 => {
                    return Ok(End::Cancelled { by_peer: true, reason: CancelReason::User });
                }
                // A text has no file outcomes to report this in: the send failed.
                s if text => {
                    return Err(TransferError::PeerError(format!("HTTP {s} {}", their_words(&body))).into());
                }
                422 => FileResult::HashMismatch,
                400 => FileResult::SizeMismatch,
                _ => FileResult::WriteFailed,
            },
            Err(_) if progress.read_failed.load(Ordering::SeqCst) => FileResult::SenderSkipped,
            Err(e) => {
                // A receiver that cancels drops the upload first and tells us a moment later
                // (its `POST /cancel`): give its word a second before calling it a lost line.
                let grace = Duration::from_secs(1);
                if let Ok(why) = tokio::time::timeout(grace, out.stop.wait()).await {
                    return Ok(here(why));
                }
                // Some receivers cancel by just breaking the upload off (localsendd does). If
                // the device still answers, that is what happened; otherwise the line is gone.
                if still_there(shared, &target).await {
                    return Ok(End::Cancelled { by_peer: true, reason: CancelReason::User });
                }
                return Err(TransferError::ConnectionLost(e.to_string()).into());
            }
        };
        outcomes[i].result = result;
        if !text {
            shared.emit(Event::FileDone { transfer: id, outcome: outcomes[i].clone() });
        }
    }
    if let Some(meter) = &meter {
        meter.lock().expect("meter lock").flush(&shared.hooks.emit);
    }
    Ok(End::Finished(if text { Vec::new() } else { outcomes }))
}

/// `POST /cancel` to the receiver (without a session id while it is still asking). Best effort,
/// within two seconds.
async fn tell_receiver(shared: &Shared, target: &Target, session: Option<&str>) {
    let attempt = async {
        let mut conn =
            Connection::open(&shared.identity, target, shared.timing.connect_timeout).await.ok()?;
        let params: Vec<(&str, &str)> = session.map(|s| ("sessionId", s)).into_iter().collect();
        let path = query::build("/api/localsend/v2/cancel", &params);
        let req = Request::post(path)
            .header(hyper::header::CONTENT_LENGTH, 0)
            .body(client::full(Bytes::new()))
            .ok()?;
        let resp = conn.send(req).await.ok()?;
        let _ = read_body(resp, 4096).await;
        Some(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), attempt).await;
}

/// Whether the device still answers `GET /info` (within the connect timeout, twice over).
async fn still_there(shared: &Shared, target: &Target) -> bool {
    let limit = shared.timing.connect_timeout;
    let asked = async {
        let mut conn = Connection::open(&shared.identity, target, limit).await.ok()?;
        let req = Request::get("/api/localsend/v2/info").body(client::full(Bytes::new())).ok()?;
        let (status, _) = read_body(conn.send(req).await.ok()?, 64 * 1024).await.ok()?;
        status.is_success().then_some(())
    };
    matches!(tokio::time::timeout(limit * 2, asked).await, Ok(Some(())))
}

/// When the last chunk of an upload was handed to the connection, and whether reading the file
/// failed (then the upload was broken off on purpose).
struct Progress {
    start: Instant,
    last: AtomicU64,
    read_failed: AtomicBool,
}

impl Progress {
    fn touch(&self) {
        self.last.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once nothing moved for `limit`.
    async fn stalled(&self, limit: Duration) {
        let step = (limit / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        loop {
            tokio::time::sleep(step).await;
            let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
            if self.start.elapsed().saturating_sub(last) >= limit {
                return;
            }
        }
    }
}

/// An upload body: chunks read ahead by a blocking thread (or the small file already in
/// memory), counted as the connection takes them.
struct FileBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    size: u64,
    /// `None` for a text, which reports no progress.
    meter: Option<Arc<Mutex<Meter>>>,
    progress: Arc<Progress>,
    emit: crate::transfer::Emit,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.progress.touch();
                if let Some(meter) = &self.meter {
                    meter.lock().expect("meter lock").add(chunk.len() as u64, &self.emit);
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.size)
    }
}

fn upload_body(
    source: &Source,
    meter: Option<Arc<Mutex<Meter>>>,
    progress: Arc<Progress>,
    shared: &Shared,
) -> ReqBody {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    progress.touch();
    let size = source.dto.size;
    match &source.content {
        Content::Memory(bytes) => {
            let _ = tx.try_send(Ok(bytes.clone()));
        }
        Content::Disk(path) => {
            let (path, progress) = (path.clone(), progress.clone());
            tokio::task::spawn_blocking(move || read_file(&path, size, tx, &progress));
        }
    }
    FileBody { rx, size, meter, progress, emit: shared.hooks.emit.clone() }.boxed()
}

/// Reads `size` bytes of `path` into the channel; a file that cannot be read, or ends early,
/// breaks the upload off (and says so in `progress`).
fn read_file(path: &std::path::Path, size: u64, tx: mpsc::Sender<io::Result<Bytes>>, progress: &Progress) {
    let fail = |e: io::Error| {
        progress.read_failed.store(true, Ordering::SeqCst);
        let _ = tx.blocking_send(Err(e));
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let mut left = size;
    while left > 0 {
        let want = READ_CHUNK.min(left as usize);
        // Read onto a cache line, as transfer::reading does (a fresh allocation is only 16-byte
        // aligned). `Bytes::slice` keeps the allocation, so this copies nothing.
        let mut buf = vec![0u8; want + CACHE_LINE];
        let at = line_start(&buf, 0);
        let mut filled = 0;
        while filled < want {
            match file.read(&mut buf[at + filled..at + want]) {
                Ok(0) => return fail(io::Error::new(io::ErrorKind::UnexpectedEof, "the file got shorter")),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return fail(e),
            }
        }
        left -= filled as u64;
        if tx.blocking_send(Ok(Bytes::from(buf).slice(at..at + want))).is_err() {
            return; // the upload was stopped
        }
    }
}
