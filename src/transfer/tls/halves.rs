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
//! * `finish` says "nothing more from me" (TLS `close_notify`, then the TCP FIN);
//! * TLS only: an end without `close_notify` is `UnexpectedEof`, never `Ok(0)`; once the other
//!   side has broken the protocol (a record that does not decrypt, a fatal alert), every read
//!   fails with `InvalidData`, and the writer sends the alert it calls for and then fails too.
//!
//! [`ReadHalf`] and [`WriteHalf`] name those rules; a `TcpStream` (one `try_clone` per half) meets
//! them as it is, and so do [`TlsReader`] and [`TlsWriter`].
//!
//! Once rustls has finished the handshake, the TLS halves split cleanly, because TLS 1.3's two
//! directions have keys and sequence numbers of their own: the reader owns the receiving keys
//! and its socket clone, the writer the sending keys and the other clone, and neither waits for
//! the other. The record layer is `tls::record`; what the halves still share (`Shared`) is
//! rustls' key schedule (locked only to update keys), a flag by which the reader passes on the
//! other side's request for a key update, and the reader's verdict when the other side broke the
//! protocol (the writer then sends the alert and nothing more).
//!
//! * [`TlsReader`] reads the socket straight into the caller's buffer when it is big enough
//!   (≥ 66 KiB, as the framed reader's is) and decrypts each record where it lies, moving the
//!   plaintext down over the record headers as it goes: no copy at all. The tail of a record
//!   that is not all in yet is kept in the reader's own buffer (as are records read for a
//!   small caller buffer), so a read that times out loses nothing.
//! * [`TlsWriter`] copies up to 512 KiB of the caller's plaintext into its output buffer, 16 KiB
//!   records one after another, sealing each in place, and hands the whole buffer to one socket
//!   write: a 256 KiB DATA frame is 17 records in one `write`. Only the writer writes to the
//!   socket, so records leave in the order they were sealed.
//!
//! **A write counts plaintext only once its records are on the wire.** `write_some` returns
//! `Ok(n)` when the records holding the first `n` bytes have been handed to the socket (16 KiB at
//! a time), so a slow link shows progress record by record and a stalled one shows none. After
//! `WouldBlock`/`TimedOut`, the caller must call again **with the same bytes first** (as
//! OpenSSL's `SSL_write` requires): part of them may already be encrypted and waiting. A retry
//! with other bytes is refused with `InvalidInput` rather than sending the wrong ones.

mod reader;
mod writer;

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::{AlertDescription, ExtractedSecrets, SupportedCipherSuite};

use super::record::{Kernel, Opener, Sealer};
pub use reader::TlsReader;
pub use writer::TlsWriter;

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

/// Most plaintext one TLS record carries (TLS 1.3's limit; Ferry's records carry this much).
pub const MAX_RECORD: usize = super::record::MAX_CONTENT;

/// What both halves of a TLS connection share.
struct Shared {
    kernel: Kernel,
    /// The other side updated its keys and asked this side to update its own (KeyUpdate with
    /// `update_requested`): the writer does, before its next record.
    update_requested: AtomicBool,
    /// `Some` once the connection is broken (by the other side's records, or a failed key
    /// update): the alert still to send, if any. The writer sends it and then nothing more.
    broken: Mutex<Option<Option<AlertDescription>>>,
}

impl Shared {
    /// The connection is broken; `alert` is what the other side should be told.
    fn break_with(&self, alert: Option<AlertDescription>) {
        if let Ok(mut broken) = self.broken.lock() {
            broken.get_or_insert(alert);
        }
    }

    /// `None` while healthy; once broken, the alert to send (given out only once).
    fn take_broken(&self) -> Option<Option<AlertDescription>> {
        match self.broken.lock() {
            Ok(mut broken) => broken.as_mut().map(Option::take),
            Err(_) => Some(None),
        }
    }
}

/// A finished handshake, as the halves take it over from rustls.
pub(super) struct Established {
    pub secrets: ExtractedSecrets,
    pub kernel: Kernel,
    pub suite: SupportedCipherSuite,
    /// Application data that came in with the end of the handshake, already decrypted.
    pub plaintext: Vec<u8>,
    /// Ciphertext read with the end of the handshake: the start of a record not all in yet.
    pub ciphertext: Vec<u8>,
    /// The other side has already said `close_notify`.
    pub peer_closed: bool,
}

/// Splits a connection whose handshake is complete into its halves. `tcp` may be the only
/// handle; the halves get their own clones. Reads wait `read_wait`, writes `write_wait`.
pub(super) fn split(
    established: Established,
    tcp: TcpStream,
    read_wait: Duration,
    write_wait: Duration,
) -> io::Result<(TlsReader, TlsWriter)> {
    let Established { secrets, kernel, suite, plaintext, ciphertext, peer_closed } = established;
    let (tx_seq, tx) = secrets.tx;
    let (rx_seq, rx) = secrets.rx;
    let sealer = Sealer::new(tx_seq, tx, suite).map_err(io::Error::other)?;
    let opener = Opener::new(rx_seq, rx).map_err(io::Error::other)?;
    let shared =
        Arc::new(Shared { kernel, update_requested: AtomicBool::new(false), broken: Mutex::new(None) });
    let read_socket = tcp.try_clone()?;
    read_socket.set_read_timeout(Some(read_wait))?;
    tcp.set_write_timeout(Some(write_wait))?;
    let reader = TlsReader::new(shared.clone(), read_socket, opener, &plaintext, &ciphertext, peer_closed)?;
    let writer = TlsWriter::new(shared, tcp, sealer);
    Ok((reader, writer))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}
