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

//!
//! The endpoints live in [`offer`] (`register`, `info`, `prepare-upload`: offers and the person's
//! answer) and [`upload`] (`upload`: bytes into the store); this file holds the sessions they
//! share, how a session ends, `cancel`, and the housekeeping.

mod offer;
mod upload;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::{Semaphore, oneshot};

pub use offer::{answer, info, prepare_upload, register};
pub use upload::upload;

use super::client::{self, Connection, Target};
use super::dto::FileDto;
use super::meter::Meter;
use super::server::{Conn, RespBody, empty};
use super::stop::{Stop, Why};
use super::{Shared, query};
use crate::events::{Decision, Event, FileOutcome, TransferError, TransferId};
use crate::protocol::{CancelReason, FileResult};
use crate::transfer::store::{ReceiveFolder, Taken};

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
    /// Where this session's files go: the receive folder when the offer came.
    dir: PathBuf,
    /// That folder, opened once when the offer is accepted: every file is placed relative to
    /// this handle, as Ferry's own transfers do (PROTOCOL.md §9.2).
    folder: Option<ReceiveFolder>,
    /// Names taken in the folders this session writes into (case-insensitive numbering).
    taken: Arc<Mutex<Taken>>,
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
