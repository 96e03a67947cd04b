//! Offers: `register` and `info` (who we are), `prepare-upload` (an offer, the person's
//! prompt, the answer), text messages.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine as _;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::sync::oneshot;

use super::*;
use crate::events::{Direction, IncomingOffer, OfferedFile, PeerInfo};
use crate::localsend::dto::{DeviceInfo, PrepareUpload, PrepareUploadResponse};
use crate::localsend::json::{self, BoundedMap};
use crate::localsend::peers::{self, display_name};
use crate::localsend::random_id;
use crate::localsend::server::{error, json as json_response, read_capped};
use crate::localsend::tls::Sha256Fingerprint;
use crate::protocol::{MAX_OFFER_THUMBNAIL_BYTES, MAX_PATH_BYTES, MAX_THUMBNAIL};
use crate::transfer::names::safe_relative_path;

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
        peers::seen(shared, conn.ip, &info, conn.proven());
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
    let proven = conn.proven();
    peers::seen(shared, conn.ip, &offer.info, proven);
    let name = display_name(&offer.info.alias, conn.ip);
    // Who it is comes from its client certificate alone, never from the JSON's fingerprint.
    let trust = shared.hooks.trust.trust(&name, proven.as_ref().map(|p| &p.key));
    let peer = PeerInfo {
        instance: peers::instance_for(&key),
        name,
        os: peers::os_from_model(offer.info.device_model.as_deref()),
        addr: SocketAddr::new(conn.ip, offer.info.port),
        fingerprint: proven.map(|p| p.key),
        trust,
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
    let trusted = proven.is_some_and(|p| shared.hooks.trust.always_accept(&p));
    // A name whose key is not the one known under it is always asked about, whatever
    // "accept automatically" says.
    let changed = matches!(peer.trust, crate::events::Trust::Changed { .. });
    let ask = changed || !(live.accept_automatically || trusted);
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
                folder: None,
                taken: Arc::new(Mutex::new(Taken::new())),
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
            text: None,
            transfer,
            from: peer.clone(),
            files: offered.clone(),
            total_bytes,
            verification_code: None,
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
    // An accepted offer makes a sender with a certificate a known device (the file store
    // records it; a sender without one is only what it claims, and is not remembered).
    if decision != Decision::Decline
        && let Some(p) = &proven
    {
        // The store writes a file under a lock: not on the runtime's threads.
        let (trust, p, alias) = (shared.hooks.trust.clone(), *p, offer.info.alias.clone());
        let addr = SocketAddr::new(conn.ip, offer.info.port);
        tokio::task::spawn_blocking(move || trust.remember(&p, &alias, addr));
    }
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
                saved_name: f.name.as_ref().map(|n| n.join("/")),
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
    let opened = std::fs::create_dir_all(&dir).and_then(|()| ReceiveFolder::open(&dir));
    let folder = match opened {
        Ok(folder) => folder,
        Err(e) => {
            drop(sessions);
            end(
                shared,
                session_id,
                Ending::Failed(TransferError::ReceiveFolder(format!("{}: {e}", dir.display()))),
            );
            return error(StatusCode::INTERNAL_SERVER_ERROR, "The receive folder is not usable");
        }
    };
    s.folder = Some(folder);
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

#[cfg(test)]
mod tests {
    use super::*;

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
