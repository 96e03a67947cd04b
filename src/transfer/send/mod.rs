//! The sending side of one batch: walk what the person chose, connect, offer, stream the accepted
//! files back to back (no round trip per file), and collect the receiver's verdicts.
//!
//! * [`source`] — what the batch is made of (walking folders, thumbnails).
//! * `evidence` — what this side sent, against which every claim of the receiver is checked.
//! * this module — the conversation on one connection, from HELLO to SUMMARY.

mod evidence;
mod source;

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError, bounded};

use super::connection::{ConnError, FrameReader, FrameWriter, POLL};
use super::opening::{self, Opened};
use super::reading::{FileReader, Piece, ToRead};
use super::{Ctx, End, LINGER, Meter, Stop, conn_stop, peer_error, protocol, write_stop};
use crate::events::{Direction, Event, FileOutcome, OfferedFile, PeerInfo, TransferError, Trust, WaitReason};
use crate::identity::Fingerprint;
use crate::protocol::{
    Answer, FileResult, Frame, Hello, InstanceId, MAX_TEXT_BYTES, Message, Offer, OfferFile, Os,
    PROTOCOL_VERSION, SkipReason, clean_display_name,
};
use evidence::Evidence;
pub use source::{SourceFile, Thumbnailer, collect};

pub struct SendRequest {
    pub to: SocketAddr,
    pub paths: Vec<PathBuf>,
    /// What to call the receiver until it introduces itself.
    pub peer_name: String,
    /// The key the receiver must prove, when the person picked a known device: any other key
    /// fails the TLS handshake itself ([`TransferError::NotTheExpectedDevice`]). `None` for a
    /// bare address or a device not met before.
    pub pin: Option<Fingerprint>,
    pub thumbnailer: Option<Thumbnailer>,
    /// Offer this text instead of files (`paths` is then empty): PROTOCOL.md §5, OFFER_TEXT.
    pub text: Option<String>,
}

/// Sends one batch; every outcome, including failure, is reported through `ctx` as events.
pub fn send(ctx: &Ctx, req: SendRequest) {
    let end = match run(ctx, &req) {
        Ok(end) => end,
        Err(error) => End::Failed(error),
    };
    ctx.end(end);
}

/// The batch, as offered.
struct Batch {
    files: Vec<SourceFile>,
    thumbnails: Vec<Vec<u8>>,
    total_bytes: u64,
    /// A text offer: this text, and no files.
    text: Option<String>,
}

fn run(ctx: &Ctx, req: &SendRequest) -> Result<End, TransferError> {
    let (files, thumbnails, total_bytes) = match &req.text {
        Some(text) if text.is_empty() => return Err(TransferError::NoText),
        Some(text) if text.len() > MAX_TEXT_BYTES => {
            return Err(TransferError::TextTooLong { len: text.len() as u64, max: MAX_TEXT_BYTES as u64 });
        }
        Some(text) => (Vec::new(), Vec::new(), text.len() as u64),
        None => {
            let files = collect(&req.paths)?;
            let thumbnails = source::make_thumbnails(&files, req.thumbnailer);
            let total_bytes = files.iter().map(|f| f.size).sum();
            (files, thumbnails, total_bytes)
        }
    };
    (ctx.emit)(Event::TransferStarted {
        transfer: ctx.id,
        direction: Direction::Outgoing,
        peer: PeerInfo {
            instance: InstanceId([0; 16]),
            name: req.peer_name.clone(),
            os: Os::Unknown,
            addr: req.to,
            // Until the handshake proves a key, only the pin (a known device) says one.
            fingerprint: req.pin,
            trust: if req.pin.is_some() { Trust::Known } else { Trust::New },
        },
        files: files
            .iter()
            .zip(&thumbnails)
            .map(|(f, t)| OfferedFile {
                path: f.wire_path.clone(),
                saved_name: None,
                size: f.size,
                thumbnail: t.clone(),
            })
            .collect(),
        total_bytes,
    });
    let batch = Batch { files, thumbnails, total_bytes, text: req.text.clone() };

    // A receiver that is busy (too many connections, or it cannot take a batch now) is asked
    // again, with growing pauses, for up to `busy_retry_for`; the person sees that we wait.
    let mut busy = Retry::new(ctx.timing.busy_retry_for);
    let mut last_busy = None;
    loop {
        if let Some(reason) = ctx.cancel.requested() {
            return Ok(End::Cancelled { by_peer: false, reason });
        }
        // TCP, TLS, both HELLOs, the verification exchange and the offer: all by this deadline.
        let deadline = Instant::now() + ctx.timing.handshake_timeout;
        let stream = match TcpStream::connect_timeout(&req.to, ctx.timing.handshake_timeout) {
            Ok(stream) => stream,
            // Busy a moment ago, gone now (it is closing, say): busy is the better answer.
            Err(_) if last_busy.is_some() => return Ok(last_busy.expect("checked")),
            Err(e) => return Err(TransferError::Unreachable(format!("{}: {e}", req.to))),
        };
        let end = match opening::connect(ctx, stream, req.pin, deadline) {
            Ok(conn) => converse(ctx, req, &batch, conn, deadline),
            Err(error) => End::Failed(error),
        };
        if !matches!(end, End::Failed(TransferError::PeerOverloaded) | End::Declined { busy: true }) {
            return Ok(end);
        }
        let Some(wait) = busy.next_wait() else { return Ok(end) };
        last_busy = Some(end);
        let reason = WaitReason::Busy { retry_in_ms: wait.as_millis() as u64, attempt: busy.attempts };
        (ctx.emit)(Event::TransferWaiting { transfer: ctx.id, reason });
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if ctx.cancel.requested().is_some() {
                break; // said at the top of the loop
            }
            thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
    }
}

/// When to ask a busy receiver again: after 0.5 s, 1 s, 2 s, then every 4 s (each ± 20 %, so
/// senders turned away together do not come back together); the last pause is cut so that the
/// last try comes when `budget` is used up.
struct Retry {
    budget: Duration,
    started: Instant,
    attempts: u32,
}

impl Retry {
    fn new(budget: Duration) -> Retry {
        Retry { budget, started: Instant::now(), attempts: 0 }
    }

    /// The pause before the next try, or `None`: give up.
    fn next_wait(&mut self) -> Option<Duration> {
        let base = Duration::from_millis(500) * 2u32.pow(self.attempts.min(3));
        let jitter = 0.8 + 0.4 * f64::from(getrandom::u32().unwrap_or(u32::MAX / 2)) / f64::from(u32::MAX);
        let left = self.budget.saturating_sub(self.started.elapsed());
        self.attempts += 1;
        (left >= Duration::from_millis(100)).then(|| base.mul_f64(jitter).min(left))
    }
}

/// One secured connection's conversation, from our HELLO to its end.
fn converse(ctx: &Ctx, req: &SendRequest, batch: &Batch, mut conn: Opened, deadline: Instant) -> End {
    conn.writer.watch(ctx.cancel.clone());
    let (answer, receiver) = match offer(ctx, batch, &mut conn, req.to, deadline) {
        Ok(answered) => answered,
        Err(stop) => return stopped(stop, &mut conn.writer, |t| conn.reader.drain(t)),
    };
    let Opened { mut reader, mut writer, peer } = conn;
    let files = &batch.files;
    match answer {
        Answer::Decline => return declined(&mut writer, false),
        Answer::Busy => return declined(&mut writer, true),
        Answer::AcceptSome { file_count, .. } if file_count as usize != files.len() => {
            let stop = protocol("the answer is for a different number of files");
            return stopped(stop, &mut writer, |t| reader.drain(t));
        }
        Answer::AcceptAll | Answer::AcceptSome { .. } => {}
    }
    // An accepted offer makes the receiver a known device (PROTOCOL.md §6).
    opening::remember(ctx, peer, &receiver.name, Some(req.to));
    if batch.text.is_some() {
        return match text_delivered(ctx, &answer, &mut reader, &mut writer) {
            Ok(end) => end,
            Err(stop) => stopped(stop, &mut writer, |t| reader.drain(t)),
        };
    }
    let accepted: Vec<usize> = (0..files.len()).filter(|&i| answer.accepts(i as u32)).collect();
    let bytes_total = accepted.iter().map(|&i| files[i].size).sum();
    (ctx.emit)(Event::TransferAccepted { transfer: ctx.id, files: accepted.len() as u32, bytes_total });

    let inbox = PeerInbox::start(ctx, reader);
    let mut evidence = Evidence::new(files.len(), &answer);
    let end = match stream_files(ctx, files, &accepted, bytes_total, &mut writer, &inbox, &mut evidence) {
        Ok(end) => {
            writer.finish();
            end
        }
        Err(stop) => stopped(stop, &mut writer, |t| inbox.wait_closed(t)),
    };
    inbox.stop();
    end
}

/// Says the last words `stop` calls for, gives the other side `LINGER` to read them (`linger`
/// reads and discards), and turns the stop into the transfer's end.
fn stopped(stop: Stop, writer: &mut FrameWriter, linger: impl FnOnce(Duration)) -> End {
    if stop.last_words(writer) {
        linger(LINGER);
    }
    stop.into_end()
}

fn declined(writer: &mut FrameWriter, busy: bool) -> End {
    writer.finish();
    End::Declined { busy }
}

/// HELLO both ways and the verification exchange, then the offer; returns the receiver's
/// answer and the receiver as its handshake proved it.
fn offer(
    ctx: &Ctx,
    batch: &Batch,
    conn: &mut Opened,
    to: SocketAddr,
    deadline: Instant,
) -> Result<(Answer, PeerInfo), Stop> {
    // The answering HELLO's purpose is an echo of ours and is not looked at (PROTOCOL.md 6.1).
    let (hello, verified) = opening::as_sender(ctx, conn, deadline)?;
    let peer = proven_peer(ctx, &hello, conn.peer, to);
    (ctx.emit)(Event::TransferPeer { transfer: ctx.id, peer: peer.clone() });
    let writer = &mut conn.writer;
    let reader = &mut conn.reader;

    if let Some(text) = &batch.text {
        writer.queue(&Message::Offer(Offer { file_count: 1, total_bytes: batch.total_bytes }));
        writer.queue(&Message::OfferText { text: text.clone() });
    } else {
        let count = batch.files.len() as u32;
        writer.queue(&Message::Offer(Offer { file_count: count, total_bytes: batch.total_bytes }));
        for (f, thumbnail) in batch.files.iter().zip(&batch.thumbnails) {
            let file = OfferFile { path: f.wire_path.clone(), size: f.size, thumbnail: thumbnail.clone() };
            writer.queue(&Message::OfferFile(file));
            if writer.queued() >= 256 * 1024 {
                writer.flush().map_err(|e| write_stop(ctx, e))?;
            }
        }
    }
    writer.flush().map_err(|e| write_stop(ctx, e))?;
    if verified.show {
        (ctx.emit)(Event::VerificationCode { transfer: ctx.id, code: verified.code });
    }
    (ctx.emit)(Event::TransferWaiting { transfer: ctx.id, reason: WaitReason::Answer });
    Ok((wait_answer(ctx, reader, writer)?, peer))
}

/// The receiver as its handshake proved it: the name its HELLO gave (cleaned for showing; its
/// address when nothing printable is left), the key TLS proved, and that key's trust here.
fn proven_peer(ctx: &Ctx, hello: &Hello, key: Fingerprint, to: SocketAddr) -> PeerInfo {
    let name = clean_display_name(&hello.name).unwrap_or_else(|| to.ip().to_string());
    let trust = ctx.known.lock().expect("known devices").trust(&name, &key);
    PeerInfo { instance: hello.instance, name, os: hello.os, addr: to, fingerprint: Some(key), trust }
}

/// A text offer was answered: accepted (AcceptAll, or AcceptSome with its one item), the text has
/// arrived with the offer, so DONE goes out at once and the SUMMARY must say `[Saved]`
/// (PROTOCOL.md §6.6). An AcceptSome of nothing is a decline.
fn text_delivered(
    ctx: &Ctx,
    answer: &Answer,
    reader: &mut FrameReader,
    writer: &mut FrameWriter,
) -> Result<End, Stop> {
    if !answer.accepts(0) {
        return Ok(declined(writer, false));
    }
    (ctx.emit)(Event::TransferAccepted { transfer: ctx.id, files: 1, bytes_total: 0 });
    writer.send(&Message::Done).map_err(|e| write_stop(ctx, e))?;
    match next_from_receiver(ctx, reader, None, "SUMMARY")? {
        Message::Summary(s) if s == [FileResult::Saved] => {
            writer.finish();
            Ok(End::Finished(Vec::new()))
        }
        Message::Summary(s) => Err(protocol(format!("the SUMMARY of a text offer says {s:?}, not [Saved]"))),
        other => Err(protocol(format!("expected SUMMARY, got {:?}", other.frame_type()))),
    }
}

/// Waits for the person on the other side to decide, sending KEEPALIVEs and watching for cancel.
fn wait_answer(ctx: &Ctx, reader: &mut FrameReader, writer: &mut FrameWriter) -> Result<Answer, Stop> {
    match next_from_receiver(ctx, reader, Some(writer), "ANSWER")? {
        Message::Answer(a) => Ok(a),
        other => Err(protocol(format!("expected ANSWER, got {:?}", other.frame_type()))),
    }
}

/// The receiver's next message other than KEEPALIVE, while this side waits for `what`. A cancel
/// here, the receiver's CANCEL or ERROR, file data, or the idle timeout without a word from it
/// end the wait instead. With `keepalives`, a KEEPALIVE goes out on it every keepalive interval.
fn next_from_receiver(
    ctx: &Ctx,
    reader: &mut FrameReader,
    mut keepalives: Option<&mut FrameWriter>,
    what: &str,
) -> Result<Message, Stop> {
    let mut last_heard = Instant::now();
    let mut last_sent = Instant::now();
    loop {
        if let Some(reason) = ctx.cancel.requested() {
            return Err(Stop::Cancelled(reason));
        }
        match reader.poll_frame().map_err(conn_stop)? {
            None => {}
            Some(Frame::Message(Message::Keepalive)) => last_heard = Instant::now(),
            Some(Frame::Message(Message::Cancel(reason))) => return Err(Stop::PeerCancelled(reason)),
            Some(Frame::Message(Message::Error { code, message })) => return Err(peer_error(code, message)),
            Some(Frame::Message(m)) => return Ok(m),
            Some(Frame::Data(_)) => return Err(protocol(format!("expected {what}, got file data"))),
        }
        if last_heard.elapsed() >= ctx.timing.idle_timeout {
            return Err(TransferError::TimedOut.into());
        }
        if let Some(writer) = keepalives.as_deref_mut()
            && last_sent.elapsed() >= ctx.timing.keepalive_interval
        {
            writer.send(&Message::Keepalive).map_err(|e| write_stop(ctx, e))?;
            last_sent = Instant::now();
        }
    }
}

fn stream_files(
    ctx: &Ctx,
    files: &[SourceFile],
    accepted: &[usize],
    bytes_total: u64,
    writer: &mut FrameWriter,
    inbox: &PeerInbox,
    evidence: &mut Evidence,
) -> Result<End, Stop> {
    let mut meter = Meter::new(bytes_total);
    let to_read = accepted
        .iter()
        .map(|&i| ToRead { index: i as u32, path: files[i].path.clone(), size: files[i].size })
        .collect();
    let reader = FileReader::start(format!("ferry-read-{}", ctx.id.0), to_read);
    // The file whose FILE_BEGIN went out and whose FILE_END or FILE_SKIP has not.
    let mut current: Option<u32> = None;
    // Files below this index were given up (the receiver cannot save them): whatever the
    // reader still hands out for them is dropped.
    let mut given_up = 0u32;
    let mut failures = inbox.check(ctx, files, evidence)?;
    loop {
        // The receiver could not save a file: stop sending it at once, and when nothing later
        // can be saved either (a full disk, a folder that cannot be written or is gone) give
        // up the rest too. PROTOCOL.md §6.3.
        let mut stop_all = false;
        for (index, result) in failures.drain(..) {
            if current == Some(index) {
                current = None;
                evidence.abandoned(index);
                writer
                    .send(&Message::FileSkip { index, reason: SkipReason::Abandoned })
                    .map_err(|e| inbox.why_write_failed(ctx, e))?;
                given_up = given_up.max(index + 1);
            }
            stop_all |= result.stops_the_batch();
        }
        if stop_all {
            if let Some(index) = current.take() {
                evidence.abandoned(index);
                writer.queue(&Message::FileSkip { index, reason: SkipReason::Abandoned });
            }
            for index in evidence.pending().collect::<Vec<_>>() {
                evidence.abandoned(index);
                writer.queue(&Message::FileSkip { index, reason: SkipReason::Abandoned });
            }
            given_up = u32::MAX;
        }
        reader.give_up_below(given_up);
        if given_up == u32::MAX {
            break;
        }
        let Some(piece) = reader.next() else { break };
        match piece {
            Piece::Begin { index, .. } | Piece::End { index, .. } | Piece::Skip { index, .. }
                if index < given_up => {}
            Piece::Frame(frame) if current.is_none() => reader.recycle(frame),
            Piece::Begin { index, size } => {
                meter.set_file(&files[index as usize].wire_path);
                evidence.begun(index);
                current = Some(index);
                writer.queue(&Message::FileBegin { index, size });
            }
            Piece::Frame(frame) => {
                writer.send_data_frame(frame.bytes()).map_err(|e| inbox.why_write_failed(ctx, e))?;
                meter.add(frame.payload_len() as u64, ctx);
                reader.recycle(frame);
            }
            Piece::End { index, hash } => {
                current = None;
                evidence.ended(index);
                writer.queue(&Message::FileEnd { index, hash });
            }
            Piece::Skip { index, reason } => {
                current = None;
                evidence.skipped(index);
                writer
                    .send(&Message::FileSkip { index, reason })
                    .map_err(|e| inbox.why_write_failed(ctx, e))?;
            }
        }
        failures = inbox.check(ctx, files, evidence)?;
    }
    drop(reader);
    writer.queue(&Message::Done);
    writer.flush().map_err(|e| inbox.why_write_failed(ctx, e))?;
    meter.flush(ctx);

    // Wait for the verdicts; FILE_RESULTs may still be on their way.
    let mut last = Instant::now();
    loop {
        if let Some(reason) = ctx.cancel.requested() {
            return Err(Stop::Cancelled(reason));
        }
        match inbox.rx.recv_timeout(POLL) {
            Ok(Ok(Message::Summary(summary))) => {
                evidence.summary(&summary, |i| quoted(files, i)).map_err(protocol)?;
                let outcomes = files
                    .iter()
                    .zip(summary)
                    .enumerate()
                    .map(|(i, (f, result))| FileOutcome {
                        index: i as u32,
                        path: f.wire_path.clone(),
                        size: f.size,
                        result,
                        saved_as: None,
                    })
                    .collect();
                return Ok(End::Finished(outcomes));
            }
            Ok(msg) => {
                last = Instant::now();
                handle_peer_message(ctx, files, evidence, msg)?;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if last.elapsed() >= ctx.timing.idle_timeout {
                    return Err(TransferError::TimedOut.into());
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(TransferError::ConnectionLost("no summary".into()).into());
            }
        }
    }
}

/// “Trip/a.jpg”, for the text of a protocol error.
fn quoted(files: &[SourceFile], i: usize) -> String {
    format!("“{}”", files[i].wire_path)
}

/// Handles one message of the receiver's; returns a FILE_RESULT that says a file could not be
/// saved, for the sending loop to act on.
fn handle_peer_message(
    ctx: &Ctx,
    files: &[SourceFile],
    evidence: &mut Evidence,
    msg: Result<Message, Stop>,
) -> Result<Option<(u32, FileResult)>, Stop> {
    match msg? {
        Message::FileResult { index, result } => {
            evidence.result(index, result, |i| quoted(files, i)).map_err(protocol)?;
            let f = &files[index as usize];
            (ctx.emit)(Event::FileDone {
                transfer: ctx.id,
                outcome: FileOutcome {
                    index,
                    path: f.wire_path.clone(),
                    size: f.size,
                    result,
                    saved_as: None,
                },
            });
            Ok(result.is_write_failure().then_some((index, result)))
        }
        Message::Keepalive => Ok(None),
        Message::Cancel(reason) => Err(Stop::PeerCancelled(reason)),
        Message::Error { code, message } => Err(peer_error(code, message)),
        other => Err(protocol(format!("unexpected {:?} while sending files", other.frame_type()))),
    }
}

/// The receiver's messages during streaming, read by a thread of their own so the sender never
/// stops writing to look for them.
struct PeerInbox {
    rx: Receiver<Result<Message, Stop>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl PeerInbox {
    fn start(ctx: &Ctx, mut reader: FrameReader) -> PeerInbox {
        let (tx, rx) = bounded(1024);
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = thread::Builder::new()
            .name(format!("ferry-send-rx-{}", ctx.id.0))
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    let msg = match reader.poll_frame() {
                        Ok(None) => continue,
                        Ok(Some(Frame::Message(m))) => Ok(m),
                        Ok(Some(Frame::Data(_))) => Err(protocol("file data from the receiver")),
                        Err(ConnError::Closed) => Err(TransferError::ConnectionLost("closed".into()).into()),
                        Err(e) => Err(conn_stop(e)),
                    };
                    let last = msg.is_err();
                    if tx.send(msg).is_err() || last {
                        return;
                    }
                }
            })
            .expect("spawning a thread failed");
        PeerInbox { rx, stop, thread: Some(thread) }
    }

    /// Handles whatever the receiver said so far, without waiting; returns the files it could
    /// not save, with why.
    fn check(
        &self,
        ctx: &Ctx,
        files: &[SourceFile],
        evidence: &mut Evidence,
    ) -> Result<Vec<(u32, FileResult)>, Stop> {
        if let Some(reason) = ctx.cancel.requested() {
            return Err(Stop::Cancelled(reason));
        }
        let mut failures = Vec::new();
        loop {
            match self.rx.try_recv() {
                Ok(msg) => failures.extend(handle_peer_message(ctx, files, evidence, msg)?),
                Err(TryRecvError::Empty) => return Ok(failures),
                Err(TryRecvError::Disconnected) => {
                    return Err(TransferError::ConnectionLost("the reader stopped".into()).into());
                }
            }
        }
    }

    /// A write failed. When the connection died, the reading half often knows better why (it
    /// timed out, the receiver said CANCEL or ERROR just before, or sent a bad frame) than the
    /// write's "broken pipe": that is the explanation, if it arrives within a moment. (When the
    /// system gives up on a dead link, only one of the two halves hears "timed out"; the other
    /// hears "broken pipe" or the end of the stream.)
    fn why_write_failed(&self, ctx: &Ctx, e: std::io::Error) -> Stop {
        let stop = write_stop(ctx, e);
        if matches!(stop, Stop::Cancelled(_)) {
            return stop;
        }
        let deadline = Instant::now() + Duration::from_millis(100);
        while let Ok(msg) = self.rx.recv_deadline(deadline) {
            match msg {
                // "Closed" says no more than the write's own error.
                Err(Stop::Failed(TransferError::ConnectionLost(_))) => break,
                Err(cause) => return cause,
                Ok(Message::Cancel(reason)) => return Stop::PeerCancelled(reason),
                Ok(Message::Error { code, message }) => return peer_error(code, message),
                Ok(_) => {}
            }
        }
        stop
    }

    /// After our last words: give the receiver up to `t` to close its side.
    fn wait_closed(&self, t: Duration) {
        let deadline = Instant::now() + t;
        while let Ok(Ok(_)) = self.rx.recv_deadline(deadline) {}
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const _: () = assert!(PROTOCOL_VERSION == 2, "the opening above is version 2's (transfer::opening)");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_retries_grow_then_stay_at_four_seconds_within_the_budget() {
        let mut retry = Retry::new(Duration::from_secs(60));
        for base in [0.5, 1.0, 2.0, 4.0, 4.0, 4.0] {
            let wait = retry.next_wait().expect("within the budget").as_secs_f64();
            assert!(wait >= base * 0.8 - 1e-9 && wait <= base * 1.2 + 1e-9, "{wait} for {base}");
        }
        assert_eq!(retry.attempts, 6);
        // The last pause is cut to what is left; nothing left: give up.
        let mut retry = Retry::new(Duration::from_millis(300));
        assert!(retry.next_wait().unwrap() <= Duration::from_millis(300));
        assert_eq!(Retry::new(Duration::ZERO).next_wait(), None);
    }
}
