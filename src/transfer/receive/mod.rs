//! The receiving side of one connection: HELLO, the offer, the person's decision, then each
//! accepted file into a temporary file that gets its final name only once its size and hash check
//! out. Nothing unfinished ever stands under a final name.
//!
//! * this module — the handshake, the offer and the decision, and the SUMMARY at the end.
//! * `files` — the accepted files arriving, and their FILE_RESULTs.

mod files;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::connection::{FrameReader, FrameWriter, POLL};
use super::names::safe_relative_path;
use super::opening::{self, Opened};
use super::store::ReceiveFolder;
use super::tls::AcceptError;
use super::{Ctx, End, LINGER};
use super::{Stop, conn_stop, peer_error, protocol, write_stop};
use crate::admission::Ticket;
use crate::events::{
    Decision, Direction, Event, FileOutcome, IncomingOffer, OfferedFile, PeerInfo, TransferError, Trust,
    Warning,
};
use crate::identity::Fingerprint;
use crate::protocol::sas::Verified;
use crate::protocol::{
    Answer, ErrorCode, FileResult, Frame, MAX_OFFER_PATH_BYTES, MAX_OFFER_THUMBNAIL_BYTES, Message,
    OfferFile, clean_display_name,
};
use files::Ledger;

/// How long a look at the socket lasts while waiting for the person's answer.
const GLANCE: Duration = Duration::from_millis(1);

/// What the receiving side needs besides the connection.
pub struct ReceiveSetup {
    pub peer_addr: SocketAddr,
    pub receive_dir: PathBuf,
    /// Accept every offer without asking — the explicit script switch (`ferry receive --yes`
    /// answers in the CLI instead; tests set it here). Never for a device whose name belongs
    /// to another key ([`Trust::Changed`]). Known devices the person chose to always accept
    /// from are accepted without it ([`crate::identity::known::KnownDevices::accepts_automatically`]).
    pub accept_automatically: bool,
    /// The person's answer to this connection's offer arrives here.
    pub decisions: Receiver<Decision>,
    /// This connection's place ([`crate::admission`]); engaged once its offer is complete.
    pub ticket: Ticket,
    /// When each address was last said to run an older Ferry, shared by every connection.
    pub older_warned: OlderWarned,
}

/// When a version-1 sender at each address was last reported (once a minute at most).
pub type OlderWarned = Arc<Mutex<HashMap<IpAddr, Instant>>>;

/// A version-1 sender retrying is reported at most this often per address.
const OLDER_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Handles one incoming connection to its end, reporting through `ctx`. A probe (someone adding
/// us by address) is answered and produces no event.
pub fn receive(ctx: &Ctx, stream: TcpStream, mut setup: ReceiveSetup) {
    // TLS, both HELLOs and the verification exchange: all by this deadline.
    let deadline = Instant::now() + ctx.timing.handshake_timeout;
    let mut conn = match opening::accept(ctx, stream, deadline) {
        Ok(conn) => conn,
        Err(AcceptError::OlderPeer { name, .. }) => {
            warn_older(ctx, &setup, name);
            return;
        }
        // Not Ferry, a plaintext probe, a broken handshake: nobody was shown anything.
        Err(_) => return,
    };
    conn.writer.watch(ctx.cancel.clone());
    let (peer, verified) = match handshake(ctx, &mut conn, deadline, setup.peer_addr) {
        Ok(Some(opened)) => opened,
        // A probe, answered.
        Ok(None) => return,
        // Nobody was shown anything (no prompt, no code): the connection just ends, with the
        // words it calls for.
        Err(stop) => {
            if stop.last_words(&mut conn.writer) {
                conn.reader.drain(LINGER);
            }
            return;
        }
    };
    let Opened { reader, writer, peer: fingerprint } = conn;
    let offer_due = Instant::now() + ctx.timing.offer_timeout;
    let mut session =
        Session { ctx, reader, writer, last_heard: Instant::now(), offer_due, announced: false };
    let end = match session.run(peer, fingerprint, verified, &mut setup) {
        Ok(end) => {
            session.writer.finish();
            end
        }
        Err(stop) => {
            if stop.last_words(&mut session.writer) {
                session.reader.drain(LINGER);
            }
            stop.into_end()
        }
    };
    // A connection that broke before its offer was shown ends quietly: the person never saw it.
    if session.announced {
        ctx.end(end);
    }
}

/// A version-1 sender was told to update (in its own framing); the person here hears of it too,
/// once a minute per address at most (a sender retrying would say it again and again).
fn warn_older(ctx: &Ctx, setup: &ReceiveSetup, name: Option<String>) {
    let ip = setup.peer_addr.ip();
    let mut warned = setup.older_warned.lock().expect("older warnings");
    let now = Instant::now();
    if warned.get(&ip).is_some_and(|t| now.duration_since(*t) < OLDER_WARNING_EVERY) {
        return;
    }
    warned.retain(|_, t| now.duration_since(*t) < OLDER_WARNING_EVERY);
    warned.insert(ip, now);
    (ctx.emit)(Event::Warning(Warning::OlderSender { name, ip }));
}

/// HELLO both ways and the verification exchange; `None` for a probe (answered).
fn handshake(
    ctx: &Ctx,
    conn: &mut Opened,
    deadline: Instant,
    addr: SocketAddr,
) -> Result<Option<(PeerInfo, Verified)>, Stop> {
    let Some((hello, verified)) = opening::as_receiver(ctx, conn, deadline)? else { return Ok(None) };
    let name = clean_display_name(&hello.name).unwrap_or_else(|| addr.ip().to_string());
    let trust = ctx.known.lock().expect("known devices").trust(&name, &conn.peer);
    let peer =
        PeerInfo { instance: hello.instance, name, os: hello.os, addr, fingerprint: Some(conn.peer), trust };
    Ok(Some((peer, verified)))
}

/// What an offer is of.
enum Offered {
    /// Files: their total size, and each.
    Files(u64, Vec<OfferFile>),
    /// A piece of text (OFFER_TEXT).
    Text(String),
}

struct Session<'a> {
    ctx: &'a Ctx,
    reader: FrameReader,
    writer: FrameWriter,
    /// Last time anything arrived: the idle deadline counts from here.
    last_heard: Instant,
    /// The whole offer must have arrived by then (PROTOCOL.md §7); KEEPALIVEs do not move it.
    offer_due: Instant,
    /// The person has been shown this transfer (offer or start), so its end must be reported.
    announced: bool,
}

/// The next frame, with cancel and the idle deadline checked while waiting. Before each wait
/// `between(quiet)` does what is due meanwhile and says how long the wait may last (`quiet`:
/// the last wait ended with nothing to read). A free function so that the frame borrows only
/// the reader.
fn next_frame<'r>(
    reader: &'r mut FrameReader,
    ctx: &Ctx,
    last_heard: &mut Instant,
    mut between: impl FnMut(bool) -> Result<Duration, Stop>,
) -> Result<Frame<'r>, Stop> {
    let mut quiet = false;
    loop {
        if let Some(reason) = ctx.cancel.requested() {
            return Err(Stop::Cancelled(reason));
        }
        if last_heard.elapsed() >= ctx.timing.idle_timeout {
            return Err(TransferError::TimedOut.into());
        }
        let wait = between(quiet)?;
        reader.set_poll(wait).map_err(|e| conn_stop(e.into()))?;
        if reader.fill().map_err(conn_stop)? {
            break;
        }
        quiet = true;
    }
    *last_heard = Instant::now();
    reader.take_frame().map_err(conn_stop)
}

impl Session<'_> {
    fn run(
        &mut self,
        peer: PeerInfo,
        fingerprint: Fingerprint,
        verified: Verified,
        setup: &mut ReceiveSetup,
    ) -> Result<End, Stop> {
        let (offer, files) = match self.read_offer()? {
            Offered::Files(total, files) => (total, files),
            Offered::Text(text) => {
                setup.ticket.engage();
                return self.text(peer, fingerprint, verified, text, setup);
            }
        };
        // It has shown what it wants: no longer one of its address's idle connections.
        setup.ticket.engage();
        let names: Vec<Option<Vec<String>>> =
            files.iter().map(|f| safe_relative_path(&f.path).ok()).collect();
        let offered: Vec<OfferedFile> = files
            .into_iter()
            .zip(&names)
            .map(|(f, name)| OfferedFile {
                saved_name: name.as_ref().map(|parts| parts.join("/")),
                path: f.path,
                size: f.size,
                thumbnail: f.thumbnail,
            })
            .collect();

        let asked = IncomingOffer {
            transfer: self.ctx.id,
            from: peer.clone(),
            files: offered.clone(),
            total_bytes: offer,
            verification_code: verified.show.then_some(verified.code),
            text: None,
        };
        let Some(decision) = self.decide(asked, &fingerprint, setup)? else {
            return Ok(End::Declined { busy: true });
        };
        let file_count = offered.len() as u32;
        let mut wanted = vec![!matches!(decision, Decision::AcceptSome(_)); offered.len()];
        if let Decision::AcceptSome(list) = &decision {
            for &i in list {
                if let Some(w) = wanted.get_mut(i as usize) {
                    *w = true;
                }
            }
        }
        if decision == Decision::Decline {
            self.writer.send(&Message::Answer(Answer::Decline)).map_err(|e| write_stop(self.ctx, e))?;
            self.reader.drain(Duration::from_secs(1));
            return Ok(End::Declined { busy: false });
        }
        let results: Vec<FileResult> = (0..offered.len())
            .map(|i| match (&names[i], wanted[i]) {
                (_, false) => FileResult::NotAccepted,
                (None, true) => FileResult::UnsafeName,
                (Some(_), true) => FileResult::NotSent,
            })
            .collect();
        let accepted: Vec<u32> =
            (0..file_count).filter(|&i| results[i as usize] == FileResult::NotSent).collect();
        // The one time this transfer looks the receive folder up by its name (store.rs).
        let folder = std::fs::create_dir_all(&setup.receive_dir)
            .and_then(|()| ReceiveFolder::open(&setup.receive_dir))
            .map_err(|e| {
                let error = TransferError::ReceiveFolder(format!("{}: {e}", setup.receive_dir.display()));
                Stop::Tell(ErrorCode::Internal, error)
            })?;
        let answer = if accepted.len() == offered.len() {
            Answer::AcceptAll
        } else {
            Answer::AcceptSome { file_count, indices: accepted.clone() }
        };
        self.writer.send(&Message::Answer(answer)).map_err(|e| write_stop(self.ctx, e))?;
        self.announced = true;
        // An accepted offer makes the sender a known device (PROTOCOL.md §6).
        opening::remember(self.ctx, fingerprint, &peer.name, None);
        let bytes_total: u64 = accepted.iter().map(|&i| offered[i as usize].size).sum();
        (self.ctx.emit)(Event::TransferStarted {
            transfer: self.ctx.id,
            direction: Direction::Incoming,
            peer,
            files: offered.iter().map(|f| OfferedFile { thumbnail: Vec::new(), ..f.clone() }).collect(),
            total_bytes: bytes_total,
        });

        let mut ledger = Ledger::new(self.ctx, &offered, &names, results);
        files::receive_files(
            &mut self.reader,
            &mut self.writer,
            &mut self.last_heard,
            &folder,
            &mut ledger,
            bytes_total,
        )?;

        self.writer.send(&Message::Summary(ledger.results.clone())).map_err(|e| write_stop(self.ctx, e))?;
        self.writer.finish();
        self.reader.drain(LINGER);
        let Ledger { results, mut saved_as, .. } = ledger;
        Ok(End::Finished(
            offered
                .iter()
                .enumerate()
                .map(|(i, f)| FileOutcome {
                    index: i as u32,
                    path: f.path.clone(),
                    size: f.size,
                    result: results[i],
                    saved_as: saved_as[i].take(),
                })
                .collect(),
        ))
    }

    /// A text offer (PROTOCOL.md §6.6): shown (or accepted automatically), and once accepted,
    /// DONE is awaited, SUMMARY `[Saved]` sent, and the text handed over as
    /// [`Event::TextReceived`]. Nothing touches the disk.
    /// The decision on an offer (of files or of text). Taken without asking only from a known key
    /// the person chose to always accept from, or with the explicit script switch (`ferry
    /// receive --yes`); never from a device that only takes a known device's name. Otherwise the
    /// person is asked. `None` when nobody is left to answer (the front end went away): the sender
    /// has been told "busy", politely.
    fn decide(
        &mut self,
        offer: IncomingOffer,
        fingerprint: &Fingerprint,
        setup: &ReceiveSetup,
    ) -> Result<Option<Decision>, Stop> {
        let automatic = match offer.from.trust {
            Trust::Changed { .. } => false,
            _ => {
                setup.accept_automatically
                    || self.ctx.known.lock().expect("known devices").accepts_automatically(fingerprint)
            }
        };
        if automatic {
            return Ok(Some(Decision::AcceptAll));
        }
        self.announced = true;
        (self.ctx.emit)(Event::IncomingOffer(offer));
        let decided = self.wait_decision(&setup.decisions)?;
        if decided.is_none() {
            let _ = self.writer.send_last(&Message::Answer(Answer::Busy));
        }
        Ok(decided)
    }

    fn text(
        &mut self,
        peer: PeerInfo,
        fingerprint: Fingerprint,
        verified: Verified,
        text: String,
        setup: &mut ReceiveSetup,
    ) -> Result<End, Stop> {
        let asked = IncomingOffer {
            transfer: self.ctx.id,
            from: peer.clone(),
            files: Vec::new(),
            total_bytes: text.len() as u64,
            verification_code: verified.show.then_some(verified.code),
            text: Some(text.clone()),
        };
        let Some(decision) = self.decide(asked, &fingerprint, setup)? else {
            return Ok(End::Declined { busy: true });
        };
        let accepted = match &decision {
            Decision::AcceptAll => true,
            Decision::AcceptSome(list) => list.contains(&0),
            Decision::Decline => false,
        };
        if !accepted {
            self.writer.send(&Message::Answer(Answer::Decline)).map_err(|e| write_stop(self.ctx, e))?;
            self.reader.drain(Duration::from_secs(1));
            return Ok(End::Declined { busy: false });
        }
        self.writer.send(&Message::Answer(Answer::AcceptAll)).map_err(|e| write_stop(self.ctx, e))?;
        self.announced = true;
        // An accepted offer makes the sender a known device (PROTOCOL.md §6), text as files.
        opening::remember(self.ctx, fingerprint, &peer.name, None);
        loop {
            match next_frame(&mut self.reader, self.ctx, &mut self.last_heard, |_| Ok(POLL))? {
                Frame::Message(Message::Keepalive) => {}
                Frame::Message(Message::Done) => break,
                Frame::Message(Message::Cancel(reason)) => return Err(Stop::PeerCancelled(reason)),
                Frame::Message(Message::Error { code, message }) => return Err(peer_error(code, message)),
                _ => return Err(protocol("a text offer was accepted: expected DONE")),
            }
        }
        self.writer.send(&Message::Summary(vec![FileResult::Saved])).map_err(|e| write_stop(self.ctx, e))?;
        self.writer.finish();
        (self.ctx.emit)(Event::TextReceived { from: peer, text });
        self.reader.drain(LINGER);
        Ok(End::Finished(Vec::new()))
    }

    /// OFFER and its OFFER_FILEs (or its one OFFER_TEXT), with the batch-wide budgets checked as
    /// they arrive.
    fn read_offer(&mut self) -> Result<Offered, Stop> {
        let offer = match self.next_message()? {
            Message::Offer(o) => o,
            _ => return Err(protocol("expected OFFER")),
        };
        if offer.file_count == 0 {
            return Err(protocol("an offer of no files"));
        }
        let mut files = Vec::with_capacity(offer.file_count.min(1024) as usize);
        let (mut path_bytes, mut thumb_bytes, mut total) = (0u64, 0u64, 0u64);
        while files.len() < offer.file_count as usize {
            let f = match self.next_message()? {
                Message::OfferFile(f) => f,
                // A text offer: one item, the text, and total_bytes is its length.
                Message::OfferText { text } if files.is_empty() && offer.file_count == 1 => {
                    if text.len() as u64 != offer.total_bytes {
                        return Err(protocol("the offer's total is not the text's length"));
                    }
                    return Ok(Offered::Text(text));
                }
                Message::OfferText { .. } => return Err(protocol("OFFER_TEXT in an offer of files")),
                _ => return Err(protocol("expected OFFER_FILE")),
            };
            path_bytes += f.path.len() as u64;
            thumb_bytes += f.thumbnail.len() as u64;
            total = total.checked_add(f.size).ok_or_else(|| protocol("sizes overflow"))?;
            if path_bytes > MAX_OFFER_PATH_BYTES || thumb_bytes > MAX_OFFER_THUMBNAIL_BYTES {
                return Err(protocol("offer over its size budget"));
            }
            files.push(f);
        }
        if total != offer.total_bytes {
            return Err(protocol("the offer's total does not match its files"));
        }
        Ok(Offered::Files(total, files))
    }

    /// The next message of the offer (KEEPALIVE skipped), by the offer's deadline; DATA here is
    /// a protocol error.
    fn next_message(&mut self) -> Result<Message, Stop> {
        let due = self.offer_due;
        let in_time = |_| match due.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left.min(POLL)),
            _ => Err(protocol("the offer did not arrive in time")),
        };
        loop {
            match next_frame(&mut self.reader, self.ctx, &mut self.last_heard, in_time)? {
                Frame::Message(Message::Keepalive) => {}
                Frame::Message(Message::Cancel(reason)) => return Err(Stop::PeerCancelled(reason)),
                Frame::Message(Message::Error { code, message }) => return Err(peer_error(code, message)),
                Frame::Message(m) => return Ok(m),
                Frame::Data(_) => return Err(protocol("file data out of place")),
            }
        }
    }

    /// Waits for the person, keeping the connection alive; `None` when the engine went away.
    /// The answer is what is waited on — it often comes within milliseconds (`--yes`, automatic
    /// acceptance, a quick click) and used to sit unseen for up to a whole socket poll; the
    /// socket is only glanced at in between, for KEEPALIVE and CANCEL.
    fn wait_decision(&mut self, decisions: &Receiver<Decision>) -> Result<Option<Decision>, Stop> {
        self.reader.set_poll(GLANCE).map_err(|e| conn_stop(e.into()))?;
        let decided = self.wait_decision_glancing(decisions);
        // Back to normal reads whatever happened (a cancel still drains the socket); the
        // decision's own error, if any, is the one worth reporting.
        let restored = self.reader.set_poll(POLL);
        let decided = decided?;
        restored.map_err(|e| conn_stop(e.into()))?;
        Ok(decided)
    }

    fn wait_decision_glancing(&mut self, decisions: &Receiver<Decision>) -> Result<Option<Decision>, Stop> {
        let mut last_sent = Instant::now();
        loop {
            if let Some(reason) = self.ctx.cancel.requested() {
                return Err(Stop::Cancelled(reason));
            }
            match decisions.recv_timeout(POLL) {
                Ok(d) => return Ok(Some(d)),
                // The engine lets go of the answer when it shuts down, right after it asked every
                // transfer to cancel: then the app is closing, and that is what to say.
                Err(RecvTimeoutError::Disconnected) => match self.ctx.cancel.requested() {
                    Some(reason) => return Err(Stop::Cancelled(reason)),
                    None => return Ok(None),
                },
                Err(RecvTimeoutError::Timeout) => {}
            }
            while let Some(frame) = self.reader.poll_frame().map_err(conn_stop)? {
                match frame {
                    Frame::Message(Message::Keepalive) => self.last_heard = Instant::now(),
                    Frame::Message(Message::Cancel(reason)) => return Err(Stop::PeerCancelled(reason)),
                    Frame::Message(Message::Error { code, message }) => {
                        return Err(peer_error(code, message));
                    }
                    _ => return Err(protocol("unexpected frame while the offer is open")),
                }
            }
            if self.last_heard.elapsed() >= self.ctx.timing.idle_timeout {
                return Err(TransferError::TimedOut.into());
            }
            if last_sent.elapsed() >= self.ctx.timing.keepalive_interval {
                self.writer.send(&Message::Keepalive).map_err(|e| write_stop(self.ctx, e))?;
                last_sent = Instant::now();
            }
        }
    }
}
