//! The writing half of a TLS connection: the caller's plaintext sealed into records in one
//! buffer, handed to the socket in big writes, and counted only once it is on the wire.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rustls::AlertDescription;

use super::{MAX_RECORD, Shared, WriteHalf, is_timeout};
use crate::transfer::tls::record::{self, ALERT, APPLICATION_DATA, HEADER, OVERHEAD, Sealer};

/// Most plaintext encrypted by one `write_some` call: a whole 256 KiB DATA frame and the
/// control frames queued before it go out in one socket write, as they do without TLS.
const MAX_PIECE: usize = 512 * 1024;

/// How long `finish` tries to get the last records (and `close_notify`) out.
const FINISH_WITHIN: Duration = Duration::from_secs(1);

/// How long a fatal alert is given to leave before the writer reports the broken connection.
const ALERT_WITHIN: Duration = Duration::from_millis(200);

/// The writing half of a TLS connection.
pub struct TlsWriter {
    shared: Arc<Shared>,
    socket: TcpStream,
    sealer: Sealer,
    /// Sealed records; `out[sent..]` is not yet on the wire.
    out: Vec<u8>,
    sent: usize,
    /// The records in `out` that carry the caller's plaintext. Records that carry none (a
    /// KeyUpdate) have no mark.
    marks: VecDeque<Mark>,
    /// Plaintext of the first mark already reported.
    front_reported: usize,
    /// Plaintext bytes encrypted but not yet reported to the caller: the first `owed` bytes of
    /// the next call's `bufs` must be these.
    owed: usize,
    finished: bool,
}

impl TlsWriter {
    pub(super) fn new(shared: Arc<Shared>, socket: TcpStream, sealer: Sealer) -> TlsWriter {
        // A piece, its last record, and the key updates that may come between records.
        let capacity = MAX_PIECE + MAX_RECORD + (MAX_PIECE / MAX_RECORD + 4) * OVERHEAD;
        TlsWriter {
            shared,
            socket,
            sealer,
            out: Vec::with_capacity(capacity),
            sent: 0,
            marks: VecDeque::new(),
            front_reported: 0,
            owed: 0,
            finished: false,
        }
    }

    /// Plaintext bytes newly on the wire: a record's plaintext counts in proportion to how much
    /// of the record has gone, and its last byte only once the whole record has.
    fn take_reported(&mut self) -> usize {
        let mut done = 0;
        while let Some(&Mark { start, end, plain, .. }) = self.marks.front() {
            if self.sent <= start {
                break;
            }
            let on_wire = if self.sent >= end {
                plain
            } else {
                // Never the whole record before its last byte: `sent < end` here.
                ((self.sent - start) * plain / (end - start)).min(plain - 1)
            };
            done += on_wire - self.front_reported;
            if self.sent >= end {
                self.marks.pop_front();
                self.front_reported = 0;
            } else {
                self.front_reported = on_wire;
                break;
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
        done
    }

    /// Writes `out[sent..]` with one socket call (which waits at most the write timeout).
    fn push(&mut self) -> io::Result<()> {
        loop {
            match self.socket.write(&self.out[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Seals up to [`MAX_PIECE`] bytes from the front of `bufs` into `out`, a record at a time.
    fn encrypt(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<()> {
        debug_assert!(self.out.is_empty() && self.marks.is_empty() && self.owed == 0);
        if let Some(alert) = self.shared.take_broken() {
            return Err(self.give_up(alert));
        }
        if self.shared.update_requested.swap(false, Ordering::AcqRel) {
            // RFC 8446 §4.6.3: answered before the next application data.
            self.update_keys()?;
        }
        let mut cursor = Cursor { bufs, slice: 0, at: 0 };
        while self.owed < MAX_PIECE {
            if self.sealer.due_for_update() {
                self.update_keys()?;
            }
            let start = Sealer::begin(&mut self.out);
            let n = cursor.take_into(&mut self.out, MAX_RECORD);
            if n == 0 {
                self.out.truncate(start);
                break;
            }
            let mut head = [0u8; HEAD];
            let k = n.min(HEAD);
            head[..k].copy_from_slice(&self.out[start + HEADER..start + HEADER + k]);
            self.sealer.seal(&mut self.out, start, APPLICATION_DATA);
            self.owed += n;
            self.marks.push_back(Mark { start, end: self.out.len(), plain: n, head });
        }
        Ok(())
    }

    /// A KeyUpdate into `out`, and the next keys from now on.
    fn update_keys(&mut self) -> io::Result<()> {
        if let Err(e) = self.sealer.update_keys(&mut self.out, &self.shared.kernel, false) {
            self.shared.break_with(Some(AlertDescription::InternalError));
            return Err(io::Error::other(e));
        }
        Ok(())
    }

    /// The connection is broken: say `alert` (if any) and nothing more. The error to report.
    fn give_up(&mut self, alert: Option<AlertDescription>) -> io::Error {
        if let Some(alert) = alert {
            self.sealer.seal_message(&mut self.out, ALERT, &record::alert(alert));
            let _ = self.push_all(Instant::now() + ALERT_WITHIN);
        }
        self.finished = true;
        let _ = self.socket.shutdown(Shutdown::Write);
        io::Error::new(io::ErrorKind::InvalidData, "the secure connection failed")
    }

    /// The socket, for tests that cut a connection the rude way.
    #[cfg(test)]
    pub(in crate::transfer::tls) fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// Makes the writer update its keys after `records` more records (the cipher's limit is
    /// millions of records away, too far for a test).
    #[cfg(test)]
    pub(in crate::transfer::tls) fn update_keys_after(&mut self, records: u64) {
        self.sealer.update_keys_after(records);
    }

    /// Key updates this writer has sent.
    #[cfg(test)]
    pub(in crate::transfer::tls) fn key_updates(&self) -> u32 {
        self.sealer.updates
    }

    /// Does `bufs` start with the bytes already encrypted (a proper retry)? Checked on the
    /// first bytes of the first record that starts within `bufs`: a cheap guard, not a proof.
    fn is_retry_of_owed(&self, bufs: &[IoSlice<'_>]) -> bool {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total < self.owed {
            return false;
        }
        let mut offset = 0;
        for (i, mark) in self.marks.iter().enumerate() {
            let reported = if i == 0 { self.front_reported } else { 0 };
            if reported == 0 {
                return holds_at(bufs, offset, &mark.head[..mark.plain.min(HEAD)]);
            }
            offset += mark.plain - reported;
        }
        true
    }

    /// Writes everything sealed but not yet on the wire, giving up at `deadline`.
    fn push_all(&mut self, deadline: Instant) -> io::Result<()> {
        while self.sent < self.out.len() {
            match self.push() {
                Ok(()) => {}
                Err(e) if is_timeout(&e) && Instant::now() < deadline => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl WriteHalf for TlsWriter {
    fn write_some(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.finished {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "this connection was finished"));
        }
        if self.owed > 0 && !self.is_retry_of_owed(bufs) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a TLS write was retried with other bytes than the ones it had taken",
            ));
        }
        loop {
            let done = self.take_reported();
            if done > 0 {
                self.owed -= done;
                return Ok(done);
            }
            if self.sent < self.out.len() {
                // A timeout here is the caller's "no progress": it looks at its flags and comes
                // back with the same bytes.
                self.push()?;
                continue;
            }
            if bufs.iter().all(|b| b.is_empty()) {
                return Ok(0);
            }
            self.encrypt(bufs)?;
        }
    }

    fn set_wait(&mut self, wait: Duration) -> io::Result<()> {
        self.socket.set_write_timeout(Some(wait))
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        // A healthy connection ends with close_notify; a broken one with its alert, if any.
        let last = match self.shared.take_broken() {
            None => Some(AlertDescription::CloseNotify),
            Some(alert) => alert,
        };
        if let Some(alert) = last {
            self.sealer.seal_message(&mut self.out, ALERT, &record::alert(alert));
        }
        let _ = self.push_all(Instant::now() + FINISH_WITHIN);
        let _ = self.socket.shutdown(Shutdown::Write);
    }
}

/// One record of the caller's plaintext in the writer's buffer.
#[derive(Clone, Copy, Debug)]
struct Mark {
    /// Where its ciphertext starts and ends in `out`.
    start: usize,
    end: usize,
    /// How many plaintext bytes it carries.
    plain: usize,
    /// Its first plaintext bytes, to recognise a retry.
    head: [u8; HEAD],
}

/// How many plaintext bytes of each record are kept to recognise a retry.
const HEAD: usize = 16;

/// Do the bytes of `bufs` from `offset` on start with `expected`?
fn holds_at(bufs: &[IoSlice<'_>], mut offset: usize, mut expected: &[u8]) -> bool {
    for b in bufs {
        if expected.is_empty() {
            break;
        }
        if offset >= b.len() {
            offset -= b.len();
            continue;
        }
        let n = (b.len() - offset).min(expected.len());
        if b[offset..offset + n] != expected[..n] {
            return false;
        }
        expected = &expected[n..];
        offset = 0;
    }
    expected.is_empty()
}

/// Walks the caller's slices.
struct Cursor<'b, 'a> {
    bufs: &'b [IoSlice<'a>],
    slice: usize,
    at: usize,
}

impl Cursor<'_, '_> {
    /// Appends up to `max` of the next bytes to `out`, across slices (so a few queued control
    /// bytes do not make a record of their own): how many.
    fn take_into(&mut self, out: &mut Vec<u8>, max: usize) -> usize {
        let mut taken = 0;
        while taken < max && self.slice < self.bufs.len() {
            let rest = &self.bufs[self.slice][self.at..];
            let n = rest.len().min(max - taken);
            out.extend_from_slice(&rest[..n]);
            taken += n;
            self.at += n;
            if self.at == self.bufs[self.slice].len() {
                self.slice += 1;
                self.at = 0;
            }
        }
        taken
    }
}
