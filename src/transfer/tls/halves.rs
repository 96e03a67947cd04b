//! The two halves of one connection, plain or inside TLS, with the timing rules the framed
//! connection relies on.
//!
//! Ferry reads and writes one connection from two threads (the sender reads the receiver's
//! verdicts on a thread of its own while its main thread streams files), and every read and
//! write waits only a short, fixed time so the caller can look at its cancel flag and deadlines:
//!
//! * a read that times out returns `WouldBlock` or `TimedOut` and loses nothing;
//! * a write that makes no progress within its wait returns `WouldBlock` or `TimedOut`, and the
//!   caller decides when a stall has lasted too long;
//! * `finish` says "nothing more from me" (TLS `close_notify`, then the TCP FIN).
//!
//! [`ReadHalf`] and [`WriteHalf`] name those rules; a `TcpStream` (one `try_clone` per half) meets
//! them as it is, and so do [`TlsReader`] and [`TlsWriter`].
//!
//! A rustls connection is one state machine and cannot be split like a socket. Here it sits
//! behind a mutex that is held only while bytes are encrypted or decrypted, never across a
//! socket call: each half owns its own clone of the socket and its own buffer of ciphertext.
//!
//! * The reader reads ciphertext from its socket without the lock, then takes the lock to
//!   decrypt it and copy the plaintext out. Ciphertext read but not yet decrypted stays in its
//!   buffer, plaintext not yet asked for stays in rustls: a timeout loses nothing.
//! * The writer takes the lock to encrypt up to 512 KiB of plaintext, one 16 KiB record at a
//!   time, and takes every record rustls has queued (its own, and any the reader's decrypting
//!   produced, in rustls' order) into its own buffer; then it writes that buffer to the socket
//!   without the lock. Only the writer ever writes to the socket, so TLS records leave in the
//!   order rustls made them.
//!
//! **A write counts plaintext only once its records are on the wire.** `write_some` returns
//! `Ok(n)` when the records holding the first `n` bytes have been handed to the socket (16 KiB at
//! a time), so a slow link shows progress record by record and a stalled one shows none. After
//! `WouldBlock`/`TimedOut`, the caller must call again **with the same bytes first** (as
//! OpenSSL's `SSL_write` requires): part of them may already be encrypted and waiting. A retry
//! with other bytes is refused with `InvalidInput` rather than sending the wrong ones.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The reading half of a connection, as the framed reader uses it.
pub trait ReadHalf: Send {
    /// Reads some bytes into `buf`, waiting at most the time set by [`ReadHalf::set_wait`].
    /// `Err` of kind `WouldBlock`/`TimedOut`: nothing arrived in time, and nothing was lost.
    /// `Ok(0)`: the other side has finished sending (TLS: it sent `close_notify`).
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// How long one [`ReadHalf::read_some`] waits from now on.
    fn set_wait(&mut self, wait: Duration) -> io::Result<()>;
}

/// The writing half of a connection, as the framed writer uses it.
pub trait WriteHalf: Send {
    /// Writes the first bytes of `bufs`, waiting at most the time set by
    /// [`WriteHalf::set_wait`]. `Ok(n)`: the first `n` bytes are on their way and must not be
    /// given again. `Err` of kind `WouldBlock`/`TimedOut`: no progress in time; call again with
    /// the same bytes first.
    fn write_some(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;

    /// How long one [`WriteHalf::write_some`] waits from now on.
    fn set_wait(&mut self, wait: Duration) -> io::Result<()>;

    /// Nothing more will be written: TLS says `close_notify`, then the TCP connection is shut
    /// down for writing. Takes at most about a second; errors are ignored (the connection is
    /// ending anyway).
    fn finish(&mut self);
}

impl ReadHalf for TcpStream {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
    }

    fn set_wait(&mut self, wait: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(wait))
    }
}

impl WriteHalf for TcpStream {
    fn write_some(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Write::write_vectored(self, bufs)
    }

    fn set_wait(&mut self, wait: Duration) -> io::Result<()> {
        self.set_write_timeout(Some(wait))
    }

    fn finish(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// Most plaintext one TLS record carries (TLS 1.3's limit, and rustls' default fragment size).
pub const MAX_RECORD: usize = 16 * 1024;

/// Most plaintext encrypted by one `write_some` call: a whole 256 KiB DATA frame and the
/// control frames queued before it go out in one socket write, as they do without TLS.
const MAX_PIECE: usize = 512 * 1024;

/// What TLS 1.3 adds to a record of application data: a 5-byte header, the inner content type
/// byte and a 16-byte AEAD tag (all three of Ferry's cipher suites).
const RECORD_OVERHEAD: usize = 5 + 1 + 16;

/// Ciphertext read from the socket in one go.
const READ_CHUNK: usize = 128 * 1024;

/// How long `finish` tries to get the last records (and `close_notify`) out.
const FINISH_WITHIN: Duration = Duration::from_secs(1);

/// The TLS state both halves share.
type Shared = Arc<Mutex<rustls::Connection>>;

fn lock(shared: &Shared) -> io::Result<MutexGuard<'_, rustls::Connection>> {
    shared.lock().map_err(|_| io::Error::other("the TLS state was lost (a thread panicked)"))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Splits a connection whose handshake is complete into its halves. `tcp` may be the only
/// handle; the halves get their own clones. Reads wait `read_wait`, writes `write_wait`.
pub(super) fn split(
    conn: rustls::Connection,
    tcp: TcpStream,
    read_wait: Duration,
    write_wait: Duration,
) -> io::Result<(TlsReader, TlsWriter)> {
    let mut conn = conn;
    // The writer drains rustls after every record, so its queue never grows; without a limit a
    // write is never cut short inside rustls.
    conn.set_buffer_limit(None);
    let shared: Shared = Arc::new(Mutex::new(conn));
    let read_socket = tcp.try_clone()?;
    read_socket.set_read_timeout(Some(read_wait))?;
    tcp.set_write_timeout(Some(write_wait))?;
    let reader = TlsReader {
        shared: shared.clone(),
        socket: read_socket,
        raw: vec![0u8; READ_CHUNK].into_boxed_slice(),
        start: 0,
        end: 0,
        eof: false,
    };
    let writer = TlsWriter {
        shared,
        socket: tcp,
        out: Vec::with_capacity(MAX_PIECE + MAX_PIECE / 32),
        sent: 0,
        marks: VecDeque::new(),
        front_reported: 0,
        owed: 0,
        staging: vec![0u8; MAX_RECORD].into_boxed_slice(),
        finished: false,
    };
    Ok((reader, writer))
}

/// The reading half of a TLS connection.
pub struct TlsReader {
    shared: Shared,
    socket: TcpStream,
    /// Ciphertext read from the socket; `raw[start..end]` is not yet handed to rustls.
    raw: Box<[u8]>,
    start: usize,
    end: usize,
    /// The socket said end of file (told to rustls, which decides whether that was clean).
    eof: bool,
}

impl TlsReader {
    /// Decrypts what has been read and copies plaintext into `buf`: `Ok(Some(n))` with n > 0,
    /// `Ok(Some(0))` after `close_notify`, `Ok(None)` when more ciphertext is needed.
    fn decrypt_into(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let mut conn = lock(&self.shared)?;
        let mut filled = 0;
        loop {
            match conn.reader().read(&mut buf[filled..]) {
                // The other side said close_notify: what came before it first, then the end.
                Ok(0) => return Ok(Some(filled)),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        return Ok(Some(filled));
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // End of file without close_notify: after the plaintext that came before it.
                Err(e) if filled == 0 => return Err(e),
                Err(_) => return Ok(Some(filled)),
            }
            if self.start < self.end {
                let n = conn.read_tls(&mut &self.raw[self.start..self.end])?;
                self.start += n;
                if let Err(e) = conn.process_new_packets() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
                if n == 0 {
                    // rustls takes nothing more (close_notify seen): what is left is ignored.
                    self.start = self.end;
                }
            } else if self.eof {
                // Tell rustls once; its reader then says whether the end was clean.
                let _ = conn.read_tls(&mut io::empty());
                if let Err(e) = conn.process_new_packets() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
                return match conn.reader().read(&mut buf[filled..]) {
                    Ok(n) => Ok(Some(filled + n)),
                    Err(_) if filled > 0 => Ok(Some(filled)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        Err(io::Error::from(io::ErrorKind::UnexpectedEof))
                    }
                    Err(e) => Err(e),
                };
            } else if filled > 0 {
                return Ok(Some(filled));
            } else {
                return Ok(None);
            }
        }
    }
}

impl ReadHalf for TlsReader {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(n) = self.decrypt_into(buf)? {
                return Ok(n);
            }
            // Nothing decrypted is waiting: read more ciphertext, without the lock.
            self.start = 0;
            self.end = 0;
            match self.socket.read(&mut self.raw) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end = n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn set_wait(&mut self, wait: Duration) -> io::Result<()> {
        self.socket.set_read_timeout(Some(wait))
    }
}

/// The writing half of a TLS connection.
pub struct TlsWriter {
    shared: Shared,
    socket: TcpStream,
    /// Records taken from rustls; `out[sent..]` is not yet on the wire.
    out: Vec<u8>,
    sent: usize,
    /// The records in `out` that carry the caller's plaintext. Records that carry none
    /// (rustls' own) have no mark.
    marks: VecDeque<Mark>,
    /// Plaintext of the first mark already reported.
    front_reported: usize,
    /// Plaintext bytes encrypted but not yet reported to the caller: the first `owed` bytes of
    /// the next call's `bufs` must be these.
    owed: usize,
    /// Where a record that spans two of the caller's slices is put together.
    staging: Box<[u8]>,
    finished: bool,
}

impl TlsWriter {
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

    /// Encrypts up to [`MAX_PIECE`] bytes from the front of `bufs` into `out`, a record at a time.
    fn encrypt(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<()> {
        debug_assert!(self.out.is_empty() && self.marks.is_empty() && self.owed == 0);
        let mut conn = lock(&self.shared)?;
        // Records rustls queued by itself (say, an answer to a key update) go first.
        conn.write_tls(&mut self.out)?;
        let mut cursor = Cursor { bufs, slice: 0, at: 0 };
        while self.owed < MAX_PIECE {
            let record = cursor.next_record(&mut self.staging);
            if record.is_empty() {
                break;
            }
            let n = conn.writer().write(record)?;
            if n != record.len() {
                // With no buffer limit rustls takes everything; anything else is a bug here.
                return Err(io::Error::other("TLS refused part of a record"));
            }
            let mut head = [0u8; HEAD];
            head[..n.min(HEAD)].copy_from_slice(&record[..n.min(HEAD)]);
            // Anything rustls puts before the record (a key update) has no mark of its own.
            let before = self.out.len();
            conn.write_tls(&mut self.out)?;
            let end = self.out.len();
            let start = end.saturating_sub(n + RECORD_OVERHEAD).max(before);
            self.owed += n;
            self.marks.push_back(Mark { start, end, plain: n, head });
        }
        Ok(())
    }

    /// The socket, for tests that cut a connection the rude way.
    #[cfg(test)]
    pub(super) fn socket(&self) -> &TcpStream {
        &self.socket
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
                let len = mark.plain.min(HEAD);
                return gather(bufs, offset, len) == mark.head[..len];
            }
            offset += mark.plain - reported;
        }
        true
    }

    /// Writes everything taken but not yet on the wire, giving up at `deadline`.
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
        if let Ok(mut conn) = lock(&self.shared) {
            conn.send_close_notify();
            let _ = conn.write_tls(&mut self.out);
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

/// `len` bytes of `bufs` from `offset` on (fewer at the end).
fn gather(bufs: &[IoSlice<'_>], mut offset: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    for b in bufs {
        if offset >= b.len() {
            offset -= b.len();
            continue;
        }
        let take = (b.len() - offset).min(len - out.len());
        out.extend_from_slice(&b[offset..offset + take]);
        offset = 0;
        if out.len() == len {
            break;
        }
    }
    out
}

/// Walks the caller's slices a record at a time.
struct Cursor<'b, 'a> {
    bufs: &'b [IoSlice<'a>],
    slice: usize,
    at: usize,
}

impl<'b> Cursor<'b, '_> {
    /// The next record's plaintext (at most [`MAX_RECORD`] bytes): a piece of one slice when it
    /// holds enough, else gathered from several into `staging`. Empty at the end.
    fn next_record<'s>(&mut self, staging: &'s mut [u8]) -> &'s [u8]
    where
        'b: 's,
    {
        while self.slice < self.bufs.len() && self.at == self.bufs[self.slice].len() {
            self.slice += 1;
            self.at = 0;
        }
        let bufs: &'b [IoSlice<'_>] = self.bufs;
        let Some(current) = bufs.get(self.slice) else { return &[] };
        let rest: &'b [u8] = &current[self.at..];
        let later: usize = bufs[self.slice + 1..].iter().map(|b| b.len()).sum();
        if rest.len() >= MAX_RECORD || later == 0 {
            let take = rest.len().min(MAX_RECORD);
            self.at += take;
            return &rest[..take];
        }
        // Gather across slices so a few queued control bytes do not make a record of their own.
        let mut filled = 0;
        while filled < MAX_RECORD && self.slice < self.bufs.len() {
            let rest = &self.bufs[self.slice][self.at..];
            let take = rest.len().min(MAX_RECORD - filled);
            staging[filled..filled + take].copy_from_slice(&rest[..take]);
            filled += take;
            self.at += take;
            if self.at == self.bufs[self.slice].len() {
                self.slice += 1;
                self.at = 0;
            }
        }
        &staging[..filled]
    }
}
