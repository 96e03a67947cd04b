//! The reading half of a TLS connection: records in, plaintext out, where possible in the
//! caller's own buffer.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{ReadHalf, Shared};
use crate::transfer::tls::record::{Content, Inbound, MAX_RECORD_LEN, Opener, RecordError, record_len};

/// The reader's own buffer: ciphertext read for a small caller buffer, and the start of a
/// record that is not all in yet.
const OWN_BUFFER: usize = 256 * 1024;

/// A caller buffer at least this big is read into directly (room for the start of one record
/// that was kept back, and three whole ones).
const DIRECT_AT_LEAST: usize = 4 * MAX_RECORD_LEN;

/// The reading half of a TLS connection.
pub struct TlsReader {
    shared: Arc<Shared>,
    socket: TcpStream,
    inbound: Inbound,
    /// `own[data..data_end]`: decrypted application data not yet handed out;
    /// `own[start..end]` (after it): ciphertext not yet decrypted.
    own: Box<[u8]>,
    data: usize,
    data_end: usize,
    start: usize,
    end: usize,
    /// The socket said end of file.
    eof: bool,
    /// How the stream ended, once it has (after the data that came before the end).
    ended: Option<Ended>,
}

/// How the other side's stream ended.
#[derive(Debug)]
enum Ended {
    /// `close_notify`.
    Clean,
    /// The connection closed without `close_notify` (a crash, or someone cutting it).
    Truncated,
    /// The other side broke the protocol, or said a fatal alert.
    Failed(RecordError),
}

impl Ended {
    fn result(&self) -> io::Result<usize> {
        match self {
            Ended::Clean => Ok(0),
            Ended::Truncated => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed without the secure end (close_notify)",
            )),
            Ended::Failed(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.clone())),
        }
    }
}

/// What [`open_records`] did with a run of records.
struct Opened {
    /// The application data lies from where it was asked to go up to here.
    data_end: usize,
    /// The first byte not looked at (the start of a record not all in).
    next: usize,
    ended: Option<Ended>,
}

impl TlsReader {
    /// The reader, holding what came in with the end of the handshake: `plaintext` already
    /// decrypted, `ciphertext` the start of the next record.
    pub(super) fn new(
        shared: Arc<Shared>,
        socket: TcpStream,
        opener: Opener,
        plaintext: &[u8],
        ciphertext: &[u8],
        peer_closed: bool,
    ) -> io::Result<TlsReader> {
        let mut own = vec![0u8; OWN_BUFFER].into_boxed_slice();
        let (data_end, end) = (plaintext.len(), plaintext.len() + ciphertext.len());
        if end > own.len() {
            return Err(io::Error::other("the handshake left more data than the reader can hold"));
        }
        own[..data_end].copy_from_slice(plaintext);
        own[data_end..end].copy_from_slice(ciphertext);
        let inbound = Inbound::new(opener, &shared.kernel);
        Ok(TlsReader {
            shared,
            socket,
            inbound,
            own,
            data: 0,
            data_end,
            start: data_end,
            end,
            eof: false,
            ended: peer_closed.then_some(Ended::Clean),
        })
    }

    /// Notes how the stream ended, if it did; a broken one is passed on to the writer.
    fn note(&mut self, ended: Option<Ended>) {
        if let Some(Ended::Failed(e)) = &ended {
            self.shared.break_with(e.alert_to_send());
        }
        if ended.is_some() {
            self.start = self.end;
            self.ended = ended;
        }
    }

    /// Decrypted bytes waiting to be read.
    #[cfg(test)]
    pub(in crate::transfer::tls) fn waiting(&self) -> usize {
        self.data_end - self.data
    }

    /// Session tickets the other side sent (and this side ignored).
    #[cfg(test)]
    pub(in crate::transfer::tls) fn tickets_ignored(&self) -> u32 {
        self.inbound.tickets
    }

    /// Is there a whole record (or a header to refuse) in the reader's own buffer?
    fn has_whole_record(&self) -> bool {
        let bytes = &self.own[self.start..self.end];
        match record_len(bytes) {
            Ok(Some(total)) => total <= bytes.len(),
            Ok(None) => false,
            Err(_) => true,
        }
    }
}

impl ReadHalf for TlsReader {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            // Data decrypted earlier comes first, then how the stream ended.
            if self.data < self.data_end {
                let n = (self.data_end - self.data).min(buf.len());
                buf[..n].copy_from_slice(&self.own[self.data..self.data + n]);
                self.data += n;
                return Ok(n);
            }
            if let Some(ended) = &self.ended {
                return ended.result();
            }
            // Whole records already read (for a smaller buffer than this one): decrypt them
            // where they are.
            if self.has_whole_record() {
                let opened =
                    open_records(&mut self.inbound, &self.shared, &mut self.own, self.start, self.end);
                (self.data, self.data_end, self.start) = (self.start, opened.data_end, opened.next);
                self.note(opened.ended);
                continue;
            }
            if self.eof {
                // Between records or inside one, an end without close_notify is a cut.
                self.ended = Some(Ended::Truncated);
                continue;
            }
            let kept = self.end - self.start;
            if buf.len() >= DIRECT_AT_LEAST {
                // Straight into the caller's buffer, behind the start of a record kept back.
                // Until the read succeeds, that start stays in our buffer too: a timeout loses
                // nothing.
                buf[..kept].copy_from_slice(&self.own[self.start..self.end]);
                let Some(n) = read_socket(&self.socket, &mut buf[kept..])? else {
                    self.eof = true;
                    continue;
                };
                let filled = kept + n;
                let opened = open_records(&mut self.inbound, &self.shared, &mut buf[..filled], 0, filled);
                let rest = &buf[opened.next..filled];
                self.own[..rest.len()].copy_from_slice(rest);
                (self.data, self.data_end, self.start, self.end) = (0, 0, 0, rest.len());
                self.note(opened.ended);
                if opened.data_end > 0 {
                    return Ok(opened.data_end);
                }
                continue;
            }
            // Into our own buffer, after the start of a record kept back.
            self.own.copy_within(self.start..self.end, 0);
            (self.data, self.data_end, self.start, self.end) = (0, 0, 0, kept);
            match read_socket(&self.socket, &mut self.own[kept..])? {
                Some(n) => self.end += n,
                None => self.eof = true,
            }
        }
    }

    fn set_wait(&mut self, wait: Duration) -> io::Result<()> {
        self.socket.set_read_timeout(Some(wait))
    }
}

/// Decrypts the whole records in `buf[at..end]`, putting their application data one after
/// another from `buf[at]` on. Stops at the first record not all in, after `close_notify`, or at
/// the first bad record (the data before it is kept).
fn open_records(inbound: &mut Inbound, shared: &Shared, buf: &mut [u8], mut at: usize, end: usize) -> Opened {
    let mut to = at;
    let failed = |to, at, e| Opened { data_end: to, next: at, ended: Some(Ended::Failed(e)) };
    loop {
        let total = match record_len(&buf[at..end]) {
            Ok(Some(total)) if total <= end - at => total,
            Ok(_) => return Opened { data_end: to, next: at, ended: None },
            Err(e) => return failed(to, at, e),
        };
        let (typ, len) = match inbound.opener.open(buf, at, to, total) {
            Ok(opened) => opened,
            Err(e) => return failed(to, at, e),
        };
        match inbound.take(typ, &buf[to..to + len], &shared.kernel) {
            Ok(Content::Data) => to += len,
            Ok(Content::Nothing) => {}
            Ok(Content::UpdateRequested) => shared.update_requested.store(true, Ordering::Release),
            Ok(Content::Closed) => {
                return Opened { data_end: to, next: at + total, ended: Some(Ended::Clean) };
            }
            Err(e) => return failed(to, at, e),
        }
        at += total;
    }
}

/// One socket read into `buf`: `Ok(None)` at the end of the stream.
fn read_socket(mut socket: &TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match socket.read(buf) {
            Ok(0) => return Ok(None),
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
