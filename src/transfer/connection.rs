//! A framed TCP connection: it owns its read buffer, so a read that times out (to look at a cancel
//! flag or a deadline) loses nothing, and DATA frames are handed out as slices of that buffer —
//! no allocation per chunk.

use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::Cancel;
use super::tls::{ReadHalf, Secured, WriteHalf};
use crate::protocol::frame::{self, MAX_FRAME, decode_frame, peek_header};
use crate::protocol::{DecodeError, Frame, Message};

/// How long one blocking read waits before the caller gets a chance to check its flags.
pub const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("the other side closed the connection")]
    Closed,
    #[error("the connection closed in the middle of a frame")]
    Truncated,
    #[error("bad frame: {0}")]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// The reading half: a socket (inside TLS, or plain in tests) and a buffer big enough for the largest frame.
pub struct FrameReader {
    stream: Box<dyn ReadHalf>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Bytes of the frame handed out last time, dropped at the next call (the frame borrowed them).
    consumed: usize,
    /// How long one read waits now (the socket's read timeout), so that setting it again is free.
    poll: Duration,
}

impl FrameReader {
    /// Wraps `stream`, whose reads will time out every [`POLL`].
    pub fn new(mut stream: Box<dyn ReadHalf>) -> io::Result<FrameReader> {
        stream.set_wait(POLL)?;
        Ok(FrameReader {
            stream,
            buf: vec![0u8; MAX_FRAME].into_boxed_slice(),
            start: 0,
            end: 0,
            consumed: 0,
            poll: POLL,
        })
    }

    /// How long one read waits from now on (at first [`POLL`]). Cheap when it does not change.
    pub fn set_poll(&mut self, wait: Duration) -> io::Result<()> {
        if wait != self.poll {
            self.stream.set_wait(wait)?;
            self.poll = wait;
        }
        Ok(())
    }

    /// The next frame, or `Ok(None)` when none arrived within [`POLL`].
    pub fn poll_frame(&mut self) -> Result<Option<Frame<'_>>, ConnError> {
        if self.fill()? { self.take_frame().map(Some) } else { Ok(None) }
    }

    /// Reads until a whole frame is buffered (`true`) or [`POLL`] passes (`false`). The header is
    /// checked as soon as it is in, before waiting for the payload.
    pub fn fill(&mut self) -> Result<bool, ConnError> {
        self.start += std::mem::take(&mut self.consumed);
        loop {
            if let Some((_, total)) = peek_header(&self.buf[self.start..self.end])? {
                if self.end - self.start >= total {
                    return Ok(true);
                }
                if self.start + total > self.buf.len() {
                    self.compact();
                }
            } else if self.start == self.end {
                // Empty: start over at the front so the next frame has the whole buffer.
                self.start = 0;
                self.end = 0;
            } else if self.buf.len() - self.start < frame::HEADER_LEN {
                self.compact();
            }
            match self.stream.read_some(&mut self.buf[self.end..]) {
                Ok(0) if self.start == self.end => return Err(ConnError::Closed),
                Ok(0) => return Err(ConnError::Truncated),
                Ok(n) => self.end += n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Decodes the frame that [`FrameReader::fill`] said is buffered.
    pub fn take_frame(&mut self) -> Result<Frame<'_>, ConnError> {
        let (_, total) = peek_header(&self.buf[self.start..self.end])?.ok_or(ConnError::Truncated)?;
        let bytes = self.buf.get(self.start..self.start + total).ok_or(ConnError::Truncated)?;
        self.consumed = total;
        let (frame, _) = decode_frame(bytes)?.ok_or(ConnError::Truncated)?;
        Ok(frame)
    }

    /// Waits up to `timeout` for the first message of a connection (a HELLO, or the ERROR that
    /// replaces it). Nothing is skipped: before the HELLOs even KEEPALIVE is out of place, and
    /// DATA is a protocol error. `Ok(None)` when the time ran out.
    pub fn first_message(&mut self, timeout: Duration) -> Result<Option<Message>, ConnError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.poll_frame()? {
                None => {}
                Some(Frame::Message(m)) => return Ok(Some(m)),
                Some(Frame::Data(_)) => return Err(DecodeError::Invalid("file data before HELLO").into()),
            }
        }
        Ok(None)
    }

    /// Reads and throws away whatever arrives for up to `for_at_most`, until the other side
    /// closes: after a CANCEL, so the other side's writes do not fail before it has read it.
    pub fn drain(&mut self, for_at_most: Duration) {
        let deadline = Instant::now() + for_at_most;
        let mut sink = [0u8; 64 * 1024];
        self.start = 0;
        self.end = 0;
        while Instant::now() < deadline {
            match self.stream.read_some(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
    }
}

/// The writing half. Control messages can be queued so that several go out in one write (a small
/// file's FILE_BEGIN, DATA and FILE_END share a packet instead of three).
///
/// Writes wait in short steps ([`POLL`]) rather than one long blocking call, so that a write
/// stuck behind a dead link notices a cancel at once and gives up after `stall` without a single
/// byte accepted (a plain send timeout restarts after every partial write, which let a cut link
/// go unnoticed for a minute and more).
pub struct FrameWriter {
    stream: Box<dyn WriteHalf>,
    pending: Vec<u8>,
    /// When the oldest queued byte was queued.
    pending_since: Option<Instant>,
    /// No byte accepted by the socket for this long: the other side is gone.
    stall: Duration,
    /// Looked at while a write waits.
    cancel: Option<Cancel>,
}

/// A write gave up because a cancel was requested; the caller knows which.
#[derive(Debug, thiserror::Error)]
#[error("cancelled while writing")]
pub struct WriteCancelled;

/// How long the last words (CANCEL, ERROR) may take before we hang up anyway.
const LAST_WORDS: Duration = Duration::from_secs(1);

impl FrameWriter {
    /// Wraps `stream`; a write that gets no byte out for `stall` fails with `TimedOut`.
    pub fn new(mut stream: Box<dyn WriteHalf>, stall: Duration) -> io::Result<FrameWriter> {
        stream.set_wait(POLL)?;
        Ok(FrameWriter {
            stream,
            pending: Vec::with_capacity(64 * 1024),
            pending_since: None,
            stall,
            cancel: None,
        })
    }

    /// Makes waiting writes give up (with [`WriteCancelled`]) as soon as `cancel` is requested.
    pub fn watch(&mut self, cancel: Cancel) {
        self.cancel = Some(cancel);
    }

    /// Adds `msg` to what the next write sends.
    pub fn queue(&mut self, msg: &Message) {
        frame::encode_message(msg, &mut self.pending);
        self.pending_since.get_or_insert_with(Instant::now);
    }

    /// How long the oldest queued message has waited.
    pub fn queued_for(&self) -> Duration {
        self.pending_since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_out(&[], self.stall, true)
    }

    /// Queues `msg` and writes it at once.
    pub fn send(&mut self, msg: &Message) -> io::Result<()> {
        self.queue(msg);
        self.flush()
    }

    /// Writes `msg` (after anything queued) even when a cancel is under way, giving up after a
    /// second: for CANCEL and ERROR, the last thing said on a connection.
    pub fn send_last(&mut self, msg: &Message) -> io::Result<()> {
        self.queue(msg);
        self.write_out(&[], LAST_WORDS, false)
    }

    /// Writes what is queued, then a DATA frame whose header is already in
    /// `frame[..HEADER_LEN]` (see [`frame::data_header`]). Small frames join the queue so that
    /// they share a write; big ones go out with the queue in one vectored write.
    pub fn send_data_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        if frame.len() <= 16 * 1024 {
            self.pending.extend_from_slice(frame);
            self.pending_since.get_or_insert_with(Instant::now);
            return if self.pending.len() >= 64 * 1024 { self.flush() } else { Ok(()) };
        }
        self.write_out(frame, self.stall, true)
    }

    /// Writes the queue, then `tail`. The queue is emptied whatever happens: after an error the
    /// connection is finished anyway.
    fn write_out(&mut self, tail: &[u8], stall: Duration, watch_cancel: bool) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.pending_since = None;
        let result = self.write_both(&pending, tail, stall, watch_cancel);
        self.pending = pending;
        self.pending.clear();
        result
    }

    fn write_both(
        &mut self,
        mut head: &[u8],
        mut tail: &[u8],
        stall: Duration,
        watch_cancel: bool,
    ) -> io::Result<()> {
        let mut last_progress = Instant::now();
        while !head.is_empty() || !tail.is_empty() {
            let bufs = [io::IoSlice::new(head), io::IoSlice::new(tail)];
            // After a timeout the same bytes are offered again, as the TLS half requires.
            match self.stream.write_some(&bufs) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let from_head = n.min(head.len());
                    head = &head[from_head..];
                    tail = &tail[n - from_head..];
                    last_progress = Instant::now();
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if watch_cancel && self.cancel.as_ref().is_some_and(|c| c.requested().is_some()) {
                        return Err(io::Error::other(WriteCancelled));
                    }
                    if last_progress.elapsed() >= stall {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Tells the other side we will send nothing more (TLS close_notify, then FIN).
    pub fn finish(&mut self) {
        self.stream.finish();
    }
}

/// Where the system allows (Linux), the connection dies by itself when sent data stays
/// unacknowledged for `idle`. Called on the TCP stream before the TLS handshake.
pub fn set_idle_limit(stream: &TcpStream, idle: Duration) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(idle));
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = (stream, idle);
}

/// The framed halves of a secured (version 2) connection; a write that gets no byte out for
/// `idle` fails.
pub fn split_secured(conn: Secured, idle: Duration) -> io::Result<(FrameReader, FrameWriter)> {
    let reader = FrameReader::new(Box::new(conn.reader))?;
    let writer = FrameWriter::new(Box::new(conn.writer), idle)?;
    Ok((reader, writer))
}

/// Splits a plain TCP stream into framed halves (tests of the framing itself; Ferry never
/// speaks frames outside TLS beyond the refusals of `tls::older`).
pub fn split(stream: TcpStream, idle: Duration) -> io::Result<(FrameReader, FrameWriter)> {
    set_idle_limit(&stream, idle);
    stream.set_nodelay(true)?;
    let reader = FrameReader::new(Box::new(stream.try_clone()?))?;
    let writer = FrameWriter::new(Box::new(stream), idle)?;
    Ok((reader, writer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    #[test]
    fn frames_survive_timeouts_and_partial_writes() {
        let (a, b) = pair();
        let mut reader = FrameReader::new(Box::new(b)).unwrap();
        let mut bytes = Vec::new();
        frame::encode_message(&Message::Done, &mut bytes);
        let data = vec![7u8; 300_000];
        bytes.extend_from_slice(&frame::data_header(data.len()));
        bytes.extend_from_slice(&data);
        frame::encode_message(&Message::Keepalive, &mut bytes);
        let writer = std::thread::spawn(move || {
            let mut a = a;
            for piece in bytes.chunks(70_001) {
                a.write_all(piece).unwrap();
                std::thread::sleep(Duration::from_millis(150));
            }
        });
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < 3 && Instant::now() < deadline {
            match reader.poll_frame().unwrap() {
                Some(Frame::Data(d)) => got.push(format!("data {} {}", d.len(), d.iter().all(|&b| b == 7))),
                Some(Frame::Message(m)) => got.push(format!("{m:?}")),
                None => {}
            }
        }
        writer.join().unwrap();
        assert_eq!(got, ["Done", "data 300000 true", "Keepalive"]);
        assert!(matches!(reader.poll_frame(), Err(ConnError::Closed)));
    }

    #[test]
    fn oversized_length_is_refused_without_waiting_for_the_payload() {
        let (mut a, b) = pair();
        let mut reader = FrameReader::new(Box::new(b)).unwrap();
        a.write_all(&[0xff, 0xff, 0xff, 0xff]).unwrap();
        let mut result = reader.poll_frame().map(|_| ());
        for _ in 0..20 {
            if result.is_err() {
                break;
            }
            result = reader.poll_frame().map(|_| ());
        }
        assert!(matches!(result, Err(ConnError::Decode(DecodeError::TooLong { .. }))), "{result:?}");
    }

    #[test]
    fn eof_mid_frame_is_truncated() {
        let (mut a, b) = pair();
        let mut reader = FrameReader::new(Box::new(b)).unwrap();
        a.write_all(&[0, 0, 0, 9, 0x01, 1, 2]).unwrap();
        drop(a);
        let mut result = reader.poll_frame().map(|f| f.is_some());
        for _ in 0..20 {
            if result.is_err() {
                break;
            }
            result = reader.poll_frame().map(|f| f.is_some());
        }
        assert!(matches!(result, Err(ConnError::Truncated)), "{result:?}");
    }
}
