//! The accepted files arriving: each into a temporary file that gets its final name only once
//! its size and hash check out, and a FILE_RESULT for each as soon as its fate is known.
//!
//! **When results go out.** A FILE_RESULT is due as soon as its file is checked and saved
//! (PROTOCOL.md §6.4). Saving happens on the finisher's thread, checking on this one; the socket
//! is read and written by this thread only (a second thread writing results would need a lock
//! around the connection once it is encrypted). So while this thread waits for the next frame it
//! does what is due in between ([`due`]): results the finisher has produced are collected and
//! written at once; results of files that failed here are written once they have waited
//! [`RESULT_DELAY`] (so a burst of them shares a packet), however busy the connection; and while
//! the finisher still holds files, the socket is only glanced at ([`GLANCE`]), so their results
//! leave within a few milliseconds of being saved even when the sender has gone quiet.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::super::connection::{FrameReader, FrameWriter, POLL};
use super::super::finish::{Finished, Finisher};
use super::super::store::{PartFile, ReceiveFolder};
use super::super::{Ctx, Meter, Stop, peer_error, protocol, write_stop};
use super::next_frame;
use crate::events::{Event, FileOutcome, OfferedFile};
use crate::protocol::{FileResult, Frame, Message, SkipReason};

/// Longest a FILE_RESULT of a file that failed here waits for company before it is written.
const RESULT_DELAY: Duration = Duration::from_millis(10);
/// How long one look at the socket lasts while the finisher holds files.
const GLANCE: Duration = Duration::from_millis(2);
/// Queued results are written at once when they reach this size.
const RESULT_BATCH: usize = 4096;

/// The offered files and what became of each.
pub(super) struct Ledger<'a> {
    ctx: &'a Ctx,
    offered: &'a [OfferedFile],
    /// Each accepted file's safe path below the receive folder (`None`: refused).
    names: &'a [Option<Vec<String>>],
    pub results: Vec<FileResult>,
    pub saved_as: Vec<Option<PathBuf>>,
}

impl<'a> Ledger<'a> {
    pub(super) fn new(
        ctx: &'a Ctx,
        offered: &'a [OfferedFile],
        names: &'a [Option<Vec<String>>],
        results: Vec<FileResult>,
    ) -> Self {
        Ledger { ctx, offered, names, saved_as: vec![None; offered.len()], results }
    }

    /// Records file `i`'s result, queues its FILE_RESULT (see the module docs for when it is
    /// written) and tells the front end.
    fn record(&mut self, writer: &mut FrameWriter, i: usize, result: FileResult) -> Result<(), Stop> {
        self.results[i] = result;
        writer.queue(&Message::FileResult { index: i as u32, result });
        if writer.queued() >= RESULT_BATCH {
            writer.flush().map_err(|e| write_stop(self.ctx, e))?;
        }
        let f = &self.offered[i];
        (self.ctx.emit)(Event::FileDone {
            transfer: self.ctx.id,
            outcome: FileOutcome {
                index: i as u32,
                path: f.path.clone(),
                size: f.size,
                result,
                saved_as: self.saved_as[i].clone(),
            },
        });
        Ok(())
    }

    /// Records files the finisher is done with; their results are written at once.
    fn collect(&mut self, writer: &mut FrameWriter, done: Vec<Finished>) -> Result<(), Stop> {
        if done.is_empty() {
            return Ok(());
        }
        for f in done {
            let result = match f.result {
                Ok(path) => {
                    self.saved_as[f.index] = Some(path);
                    FileResult::Saved
                }
                Err(e) => super::super::store::write_failure(&e),
            };
            self.record(writer, f.index, result)?;
        }
        writer.flush().map_err(|e| write_stop(self.ctx, e))
    }
}

/// What is due while waiting for the next frame (`quiet`: the last wait ended with nothing to
/// read); returns how long the next wait may last.
fn due(
    writer: &mut FrameWriter,
    finisher: &mut Finisher,
    ledger: &mut Ledger,
    quiet: bool,
) -> Result<Duration, Stop> {
    if quiet {
        finisher.hand_over();
    } else {
        finisher.tick();
    }
    ledger.collect(writer, finisher.ready())?;
    if writer.queued() > 0 && (quiet || writer.queued_for() >= RESULT_DELAY) {
        writer.flush().map_err(|e| write_stop(ledger.ctx, e))?;
    }
    Ok(if finisher.waiting() { GLANCE } else { POLL })
}

/// One accepted file on its way in.
struct Current {
    index: usize,
    /// `None` once writing failed: the rest of its bytes are read and dropped.
    part: Option<PartFile>,
    received: u64,
    /// Writing it failed, and its FILE_RESULT went out at once (PROTOCOL.md §6.3: the sender
    /// learns it while it is still sending the file, and stops); nothing more is said of it.
    reported: bool,
}

impl Current {
    /// Writing failed: the temporary file goes (nothing half-saved is kept), and the result is
    /// written now, not at FILE_END.
    fn fail(
        &mut self,
        ledger: &mut Ledger,
        writer: &mut FrameWriter,
        e: &std::io::Error,
    ) -> Result<(), Stop> {
        self.part = None;
        self.reported = true;
        ledger.record(writer, self.index, super::super::store::write_failure(e))?;
        writer.flush().map_err(|e| write_stop(ledger.ctx, e))
    }
}

/// Receives the accepted files (those whose result is still NotSent in `ledger`) into `folder`,
/// until DONE.
pub(super) fn receive_files(
    reader: &mut FrameReader,
    writer: &mut FrameWriter,
    last_heard: &mut Instant,
    folder: &ReceiveFolder,
    ledger: &mut Ledger,
    bytes_total: u64,
) -> Result<(), Stop> {
    let ctx = ledger.ctx;
    let offered = ledger.offered;
    let mut meter = Meter::new(bytes_total);
    let mut finisher = Finisher::start(folder.clone(), format!("ferry-finish-{}", ctx.id.0));
    // Hashed in line, from the buffer the bytes were decrypted into: on a thread of its own each
    // chunk had to be copied over and the thread woken, which cost more CPU than the overlap
    // saved (both ends of a transfer often share a computer's few cores with everything else).
    let mut hasher = blake3::Hasher::new();
    let mut current: Option<Current> = None;
    // Files below this index are done with (ended, skipped, or not accepted).
    let mut next_allowed = 0usize;
    // The accepted file the sender must send next (files come in index order, none left out).
    let next_accepted = |ledger: &Ledger, from: usize| {
        (from..offered.len()).find(|&j| ledger.results[j] == FileResult::NotSent)
    };
    loop {
        let frame = next_frame(reader, ctx, last_heard, |quiet| due(writer, &mut finisher, ledger, quiet))?;
        match frame {
            Frame::Data(bytes) => {
                let Some(cur) = current.as_mut() else {
                    return Err(protocol("file data outside a file"));
                };
                let size = offered[cur.index].size;
                cur.received += bytes.len() as u64;
                if cur.received > size {
                    return Err(protocol("more bytes than offered"));
                }
                hasher.update(bytes);
                if let Some(part) = cur.part.as_mut()
                    && let Err(e) = part.write_all(bytes)
                {
                    cur.fail(ledger, writer, &e)?;
                }
                meter.add(bytes.len() as u64, ctx);
            }
            Frame::Message(Message::FileBegin { index, size }) => {
                let i = index as usize;
                if current.is_some() || Some(i) != next_accepted(ledger, next_allowed) {
                    return Err(protocol("FILE_BEGIN for another file than the next accepted one"));
                }
                if size != offered[i].size {
                    return Err(protocol("FILE_BEGIN with another size than the offered one"));
                }
                next_allowed = i + 1;
                meter.set_file(&offered[i].path);
                hasher.reset();
                let mut cur = Current { index: i, part: None, received: 0, reported: false };
                match PartFile::create(folder) {
                    Ok(part) => cur.part = Some(part),
                    Err(e) => cur.fail(ledger, writer, &e)?,
                }
                current = Some(cur);
            }
            Frame::Message(Message::FileEnd { index, hash }) => {
                let Some(cur) = current.take() else { return Err(protocol("FILE_END outside a file")) };
                if cur.index != index as usize {
                    return Err(protocol("FILE_END for another file"));
                }
                let i = cur.index;
                // (FILE_BEGIN starts the next file's hash afresh.)
                let digest = *hasher.finalize().as_bytes();
                if cur.reported {
                    continue;
                }
                let failed = if cur.received != offered[i].size {
                    Some(FileResult::SizeMismatch)
                } else if digest != hash {
                    Some(FileResult::HashMismatch)
                } else {
                    None
                };
                match (failed, cur.part) {
                    (None, Some(mut part)) => {
                        part.done_writing();
                        let rel = ledger.names[i].clone().expect("accepted files have safe names");
                        finisher.submit(i, part, rel);
                    }
                    (failed, _) => ledger.record(writer, i, failed.unwrap_or(FileResult::WriteFailed))?,
                }
            }
            Frame::Message(Message::FileSkip { index, reason }) => {
                let i = index as usize;
                let reported = match current.take() {
                    Some(cur) if cur.index == i => cur.reported,
                    Some(_) => return Err(protocol("FILE_SKIP for another file")),
                    None if Some(i) == next_accepted(ledger, next_allowed) => {
                        next_allowed = i + 1;
                        false
                    }
                    None => return Err(protocol("FILE_SKIP for another file than the next accepted one")),
                };
                // A file whose failure was already reported gets no second FILE_RESULT; one the
                // sender gave up because of an earlier file's failure was not sent.
                if !reported {
                    let result = match reason {
                        SkipReason::Abandoned => FileResult::NotSent,
                        SkipReason::Unreadable | SkipReason::Changed => FileResult::SenderSkipped,
                    };
                    ledger.record(writer, i, result)?;
                }
            }
            Frame::Message(Message::Done) => {
                if current.is_some() {
                    return Err(protocol("DONE in the middle of a file"));
                }
                // Every accepted file has had FILE_END or FILE_SKIP by now. (Files with the
                // finisher are still NotSent in the ledger, but below `next_allowed`.)
                if next_accepted(ledger, next_allowed).is_some() {
                    return Err(protocol("DONE before every accepted file was sent"));
                }
                meter.flush(ctx);
                ledger.collect(writer, finisher.finish())?;
                return Ok(());
            }
            Frame::Message(Message::Keepalive) => {}
            Frame::Message(Message::Cancel(reason)) => return Err(Stop::PeerCancelled(reason)),
            Frame::Message(Message::Error { code, message }) => return Err(peer_error(code, message)),
            Frame::Message(_) => return Err(protocol("unexpected message during the transfer")),
        }
    }
}
