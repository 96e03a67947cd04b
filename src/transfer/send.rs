//! The sending side of one batch: walk what the person chose, connect, offer, stream the accepted
//! files back to back (no round trip per file), and collect the receiver's verdicts.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError, bounded};

use super::connection::{ConnError, FrameReader, FrameWriter, split};
use super::reading::{FileReader, Piece, ToRead};
use super::{Ctx, End, Meter, Stop, conn_error, lost, peer_error, write_stop};
use crate::events::{Direction, Event, FileOutcome, OfferedFile, PeerInfo, TransferError};
use crate::protocol::{
    Answer, Frame, HelloPurpose, InstanceId, MAX_DEPTH, MAX_FILES, MAX_OFFER_PATH_BYTES,
    MAX_OFFER_THUMBNAIL_BYTES, MAX_PATH_BYTES, MAX_THUMBNAIL, Message, Offer, OfferFile, Os,
    PROTOCOL_VERSION,
};

/// Makes a small JPEG of an image file, or `None` (not an image, unreadable ...).
pub type Thumbnailer = fn(&Path) -> Option<Vec<u8>>;

pub struct SendRequest {
    pub to: SocketAddr,
    pub paths: Vec<PathBuf>,
    /// What to call the receiver until it introduces itself.
    pub peer_name: String,
    pub thumbnailer: Option<Thumbnailer>,
}

/// One file to send: where it is here and what it is called there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    /// `/`-separated, relative: the chosen file's name, or a chosen folder's name and below.
    pub wire_path: String,
    pub size: u64,
}

/// Sends one batch; every outcome, including failure, is reported through `ctx` as events.
pub fn send(ctx: &Ctx, req: SendRequest) {
    let end = match run(ctx, &req) {
        Ok(end) => end,
        Err(error) => End::Failed(error),
    };
    ctx.end(end);
}

fn run(ctx: &Ctx, req: &SendRequest) -> Result<End, TransferError> {
    let files = collect(&req.paths)?;
    let thumbnails = make_thumbnails(&files, req.thumbnailer);
    let total_bytes = files.iter().map(|f| f.size).sum();
    (ctx.emit)(Event::TransferStarted {
        transfer: ctx.id,
        direction: Direction::Outgoing,
        peer: PeerInfo {
            instance: InstanceId([0; 16]),
            name: req.peer_name.clone(),
            os: Os::Unknown,
            addr: req.to,
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

    if let Some(reason) = ctx.cancel.requested() {
        return Ok(End::Cancelled { by_peer: false, reason });
    }
    let stream = TcpStream::connect_timeout(&req.to, ctx.timing.handshake_timeout)
        .map_err(|e| TransferError::Unreachable(format!("{}: {e}", req.to)))?;
    let (mut reader, mut writer) = split(stream, ctx.timing.idle_timeout).map_err(lost)?;
    writer.watch(ctx.cancel.clone());

    writer.send(&ctx.me.hello(HelloPurpose::Transfer)).map_err(lost)?;
    match reader.wait_message(ctx.timing.handshake_timeout).map_err(conn_error)? {
        // The answering HELLO's purpose is an echo of ours and is not looked at (PROTOCOL.md 6.1).
        Some(Message::Hello(h)) if h.version >= 1 => {}
        Some(Message::Hello(_)) => return Err(TransferError::IncompatibleVersion),
        Some(Message::Error { code, message }) => return Err(peer_error(code, message)),
        Some(other) => return Err(TransferError::Protocol(format!("expected HELLO, got {other:?}"))),
        None => return Err(TransferError::TimedOut),
    }

    writer.queue(&Message::Offer(Offer { file_count: files.len() as u32, total_bytes }));
    for (f, thumbnail) in files.iter().zip(thumbnails) {
        writer.queue(&Message::OfferFile(OfferFile { path: f.wire_path.clone(), size: f.size, thumbnail }));
        if writer.queued() >= 256 * 1024 {
            writer.flush().map_err(lost)?;
        }
    }
    writer.flush().map_err(lost)?;

    let answer = match wait_answer(ctx, &mut reader, &mut writer)? {
        Waited::Answer(a) => a,
        Waited::End(end) => return Ok(end),
    };
    let accepted: Vec<usize> = (0..files.len()).filter(|&i| answer.accepts(i as u32)).collect();
    match answer {
        Answer::Decline => return Ok(End::Declined { busy: false }),
        Answer::Busy => return Ok(End::Declined { busy: true }),
        Answer::AcceptSome { file_count, .. } if file_count as usize != files.len() => {
            return Err(TransferError::Protocol("the answer is for a different number of files".into()));
        }
        _ => {}
    }
    let bytes_total = accepted.iter().map(|&i| files[i].size).sum();
    (ctx.emit)(Event::TransferAccepted { transfer: ctx.id, files: accepted.len() as u32, bytes_total });

    let inbox = PeerInbox::start(ctx, reader);
    let result = stream_files(ctx, &files, &accepted, bytes_total, &mut writer, &inbox);
    let end = match result {
        Ok(end) => end,
        Err(Stop::Cancelled(reason)) => {
            let _ = writer.send_last(&Message::Cancel(reason));
            writer.finish();
            inbox.wait_closed(Duration::from_secs(1));
            End::Cancelled { by_peer: false, reason }
        }
        Err(Stop::PeerCancelled(reason)) => End::Cancelled { by_peer: true, reason },
        Err(Stop::Failed(e)) => End::Failed(e),
    };
    writer.finish();
    inbox.stop();
    Ok(end)
}

enum Waited {
    Answer(Answer),
    End(End),
}

/// Waits for the person on the other side to decide, sending KEEPALIVEs and watching for cancel.
fn wait_answer(
    ctx: &Ctx,
    reader: &mut FrameReader,
    writer: &mut FrameWriter,
) -> Result<Waited, TransferError> {
    let mut last_heard = Instant::now();
    let mut last_sent = Instant::now();
    loop {
        if let Some(reason) = ctx.cancel.requested() {
            let _ = writer.send_last(&Message::Cancel(reason));
            writer.finish();
            reader.drain(Duration::from_secs(1));
            return Ok(Waited::End(End::Cancelled { by_peer: false, reason }));
        }
        match reader.poll_frame().map_err(conn_error)? {
            None => {}
            Some(Frame::Message(Message::Keepalive)) => last_heard = Instant::now(),
            Some(Frame::Message(Message::Answer(a))) => return Ok(Waited::Answer(a)),
            Some(Frame::Message(Message::Cancel(reason))) => {
                return Ok(Waited::End(End::Cancelled { by_peer: true, reason }));
            }
            Some(Frame::Message(Message::Error { code, message })) => return Err(peer_error(code, message)),
            Some(other) => return Err(TransferError::Protocol(format!("expected ANSWER, got {other:?}"))),
        }
        if last_heard.elapsed() >= ctx.timing.idle_timeout {
            return Err(TransferError::TimedOut);
        }
        if last_sent.elapsed() >= ctx.timing.keepalive_interval {
            writer.send(&Message::Keepalive).map_err(lost)?;
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
) -> Result<End, Stop> {
    let mut meter = Meter::new(bytes_total);
    let to_read = accepted
        .iter()
        .map(|&i| ToRead { index: i as u32, path: files[i].path.clone(), size: files[i].size })
        .collect();
    let reader = FileReader::start(format!("ferry-read-{}", ctx.id.0), to_read);
    inbox.check(ctx, files)?;
    while let Some(piece) = reader.next() {
        match piece {
            Piece::Begin { index, size } => {
                meter.set_file(&files[index as usize].wire_path);
                writer.queue(&Message::FileBegin { index, size });
            }
            Piece::Frame(frame) => {
                writer.send_data_frame(frame.bytes()).map_err(|e| write_stop(ctx, e))?;
                meter.add(frame.payload_len() as u64, ctx);
                reader.recycle(frame);
            }
            Piece::End { index, hash } => writer.queue(&Message::FileEnd { index, hash }),
            Piece::Skip { index, reason } => {
                writer.send(&Message::FileSkip { index, reason }).map_err(|e| write_stop(ctx, e))?;
            }
        }
        inbox.check(ctx, files)?;
    }
    writer.queue(&Message::Done);
    writer.flush().map_err(|e| write_stop(ctx, e))?;
    meter.flush(ctx);

    // Wait for the verdicts; FILE_RESULTs may still be on their way.
    let deadline_idle = ctx.timing.idle_timeout;
    let mut last = Instant::now();
    loop {
        if let Some(reason) = ctx.cancel.requested() {
            return Err(Stop::Cancelled(reason));
        }
        match inbox.rx.recv_timeout(super::connection::POLL) {
            Ok(Ok(Message::Summary(summary))) => {
                if summary.len() != files.len() {
                    return Err(TransferError::Protocol(
                        "the summary lists a different number of files".into(),
                    )
                    .into());
                }
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
                handle_peer_message(ctx, files, msg)?;
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if last.elapsed() >= deadline_idle {
                    return Err(TransferError::TimedOut.into());
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(TransferError::ConnectionLost("no summary".into()).into());
            }
        }
    }
}

fn handle_peer_message(
    ctx: &Ctx,
    files: &[SourceFile],
    msg: Result<Message, TransferError>,
) -> Result<(), Stop> {
    match msg? {
        Message::FileResult { index, result } => {
            let i = index as usize;
            let Some(f) = files.get(i) else {
                return Err(TransferError::Protocol("result for a file that was not offered".into()).into());
            };
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
            Ok(())
        }
        Message::Keepalive => Ok(()),
        Message::Cancel(reason) => Err(Stop::PeerCancelled(reason)),
        Message::Error { code, message } => Err(peer_error(code, message).into()),
        other => Err(TransferError::Protocol(format!("unexpected {other:?}")).into()),
    }
}

/// The receiver's messages during streaming, read by a thread of their own so the sender never
/// stops writing to look for them.
struct PeerInbox {
    rx: Receiver<Result<Message, TransferError>>,
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
                        Ok(Some(Frame::Data(_))) => {
                            Err(TransferError::Protocol("file data from the receiver".into()))
                        }
                        Err(ConnError::Closed) => Err(TransferError::ConnectionLost("closed".into())),
                        Err(e) => Err(conn_error(e)),
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

    /// Handles whatever the receiver said so far, without waiting.
    fn check(&self, ctx: &Ctx, files: &[SourceFile]) -> Result<(), Stop> {
        if let Some(reason) = ctx.cancel.requested() {
            return Err(Stop::Cancelled(reason));
        }
        loop {
            match self.rx.try_recv() {
                Ok(msg) => handle_peer_message(ctx, files, msg)?,
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => {
                    return Err(TransferError::ConnectionLost("the reader stopped".into()).into());
                }
            }
        }
    }

    /// After our CANCEL: give the receiver up to `t` to close its side.
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

/// Turns chosen files and folders into the list to offer. A folder keeps its structure under its
/// own name; symbolic links inside folders are skipped (they could loop or point anywhere).
pub fn collect(paths: &[PathBuf]) -> Result<Vec<SourceFile>, TransferError> {
    let mut out = Vec::new();
    let mut path_bytes = 0u64;
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| unreadable(p, &e))?;
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| TransferError::SourceUnreadable {
                path: p.display().to_string(),
                reason: "its name is not valid Unicode".into(),
            })?
            .to_owned();
        if meta.is_dir() {
            walk(p, &name, 1, &mut out, &mut path_bytes)?;
        } else if meta.is_file() {
            push(&mut out, &mut path_bytes, p.clone(), name, meta.len())?;
        } else {
            return Err(TransferError::SourceUnreadable {
                path: p.display().to_string(),
                reason: "it is not a regular file or folder".into(),
            });
        }
    }
    if out.is_empty() {
        return Err(TransferError::NothingToSend);
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<SourceFile>,
    path_bytes: &mut u64,
) -> Result<(), TransferError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable(dir, &e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let ty = entry.file_type().map_err(|e| unreadable(&entry.path(), &e))?;
        let wire = format!("{prefix}/{name}");
        if ty.is_dir() {
            if depth + 1 >= MAX_DEPTH {
                return Err(TransferError::SourceUnreadable {
                    path: entry.path().display().to_string(),
                    reason: format!("folders are nested more than {MAX_DEPTH} deep"),
                });
            }
            walk(&entry.path(), &wire, depth + 1, out, path_bytes)?;
        } else if ty.is_file() {
            let size = entry.metadata().map_err(|e| unreadable(&entry.path(), &e))?.len();
            push(out, path_bytes, entry.path(), wire, size)?;
        }
    }
    Ok(())
}

fn push(
    out: &mut Vec<SourceFile>,
    path_bytes: &mut u64,
    path: PathBuf,
    wire_path: String,
    size: u64,
) -> Result<(), TransferError> {
    if out.len() >= MAX_FILES as usize {
        return Err(TransferError::TooManyFiles { count: out.len() as u64 + 1, max: MAX_FILES });
    }
    if wire_path.len() > MAX_PATH_BYTES {
        return Err(TransferError::SourceUnreadable {
            path: path.display().to_string(),
            reason: "its path is too long".into(),
        });
    }
    *path_bytes += wire_path.len() as u64;
    if *path_bytes > MAX_OFFER_PATH_BYTES {
        return Err(TransferError::TooManyFiles { count: out.len() as u64 + 1, max: out.len() as u32 });
    }
    out.push(SourceFile { path, wire_path, size });
    Ok(())
}

/// How long making thumbnails may hold up an offer. Photos past it go without one: the person
/// on the other side is waiting to see the offer at all.
const THUMBNAIL_TIME: Duration = Duration::from_secs(2);

/// Thumbnails for images, within the offer's byte and time budgets, made on a few threads at
/// once; empty where there is none.
fn make_thumbnails(files: &[SourceFile], thumbnailer: Option<Thumbnailer>) -> Vec<Vec<u8>> {
    let Some(make) = thumbnailer else { return vec![Vec::new(); files.len()] };
    let deadline = Instant::now() + THUMBNAIL_TIME;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let made: Vec<std::sync::Mutex<Vec<u8>>> = files.iter().map(|_| Default::default()).collect();
    let workers = thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { return };
                    if let Some(t) = make(&f.path).filter(|t| t.len() <= MAX_THUMBNAIL) {
                        *made[i].lock().unwrap_or_else(|e| e.into_inner()) = t;
                    }
                }
            });
        }
    });
    let mut budget = MAX_OFFER_THUMBNAIL_BYTES;
    made.into_iter()
        .map(|m| {
            let t = m.into_inner().unwrap_or_else(|e| e.into_inner());
            if (t.len() as u64) <= budget {
                budget -= t.len() as u64;
                t
            } else {
                Vec::new()
            }
        })
        .collect()
}

fn unreadable(p: &Path, e: &io::Error) -> TransferError {
    TransferError::SourceUnreadable { path: p.display().to_string(), reason: e.to_string() }
}

const _: () = assert!(PROTOCOL_VERSION == 1, "version negotiation below assumes version 1");
