//! A framed TCP connection: it owns its read buffer, so a read that times out (to look at a cancel
//! flag or a deadline) loses nothing, and DATA frames are handed out as slices of that buffer —
//! no allocation per chunk.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use super::Cancel;
use crate::protocol::frame::{self, HEADER_LEN, MAX_FRAME, decode_frame, peek_header};
use crate::protocol::{DecodeError, Frame, FrameType, Message};

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

/// The reading half: a socket and a buffer big enough for the largest frame.
pub struct FrameReader {
    stream: TcpStream,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Bytes of the frame handed out last time, dropped at the next call (the frame borrowed them).
    consumed: usize,
    /// Payload bytes of the DATA frame being streamed ([`FrameReader::fill_streaming`]) that
    /// have not been read yet.
    payload_left: usize,
    /// How much one streaming read asks for (see [`STREAM_READ`]).
    read_ahead: usize,
}

/// What [`FrameReader::fill_streaming`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Ready {
    /// A whole control frame is buffered: [`FrameReader::take_frame`] decodes it.
    Frame,
    /// A DATA frame of this many payload bytes begins: read them with
    /// [`FrameReader::read_payload`].
    Data(usize),
}

/// Most bytes one read asks for while streaming, when the last DATA payload was big (the next
/// one probably is too): enough for a few control frames, small enough that little of a big
/// payload goes through this reader's buffer.
const STREAM_READ: usize = 16 * 1024;
/// … and when it was small: then the next frames are probably small files, and one read that
/// takes several of them at once costs less than a read per payload (copying 100 KiB is
/// cheaper than a system call or two).
const STREAM_READ_SMALL_FILES: usize = 512 * 1024;
/// DATA payloads from this size on count as big.
const BIG_PAYLOAD: usize = 192 * 1024;

impl FrameReader {
    /// Wraps `stream`, whose reads will time out every [`POLL`].
    pub fn new(stream: TcpStream) -> io::Result<FrameReader> {
        stream.set_read_timeout(Some(POLL))?;
        Ok(FrameReader {
            stream,
            buf: vec![0u8; MAX_FRAME].into_boxed_slice(),
            start: 0,
            end: 0,
            consumed: 0,
            payload_left: 0,
            read_ahead: STREAM_READ,
        })
    }

    /// How long one read waits from now on (at first [`POLL`]).
    pub fn set_poll(&mut self, wait: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(Some(wait))
    }

    /// The next frame, or `Ok(None)` when none arrived within [`POLL`].
    pub fn poll_frame(&mut self) -> Result<Option<Frame<'_>>, ConnError> {
        if self.fill()? { self.take_frame().map(Some) } else { Ok(None) }
    }

    /// Reads until a whole frame is buffered (`true`) or [`POLL`] passes (`false`). The header is
    /// checked as soon as it is in, before waiting for the payload.
    pub fn fill(&mut self) -> Result<bool, ConnError> {
        debug_assert_eq!(self.payload_left, 0, "a streamed payload is unread");
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
            match self.stream.read(&mut self.buf[self.end..]) {
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

    /// Like [`FrameReader::fill`], except that a DATA frame is reported as soon as its header is
    /// in, and its payload is then read with [`FrameReader::read_payload`] straight into the
    /// caller's buffer rather than copied out of this one: the receiver hands every payload to
    /// its hashing thread, and going through here cost a copy of every byte plus moving partial
    /// frames to the front of the buffer. `Ok(None)` when nothing complete arrived within [`POLL`].
    pub fn fill_streaming(&mut self) -> Result<Option<Ready>, ConnError> {
        debug_assert_eq!(self.payload_left, 0, "a streamed payload is unread");
        self.start += std::mem::take(&mut self.consumed);
        loop {
            if let Some((kind, total)) = peek_header(&self.buf[self.start..self.end])? {
                if kind == FrameType::Data {
                    self.start += HEADER_LEN;
                    self.payload_left = total - HEADER_LEN;
                    self.read_ahead =
                        if self.payload_left >= BIG_PAYLOAD { STREAM_READ } else { STREAM_READ_SMALL_FILES };
                    return Ok(Some(Ready::Data(self.payload_left)));
                }
                if self.end - self.start >= total {
                    return Ok(Some(Ready::Frame));
                }
                if self.start + total > self.buf.len() {
                    self.compact();
                }
            } else if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.buf.len() - self.start < HEADER_LEN {
                self.compact();
            }
            let limit = (self.end + self.read_ahead).min(self.buf.len());
            match self.stream.read(&mut self.buf[self.end..limit]) {
                Ok(0) if self.start == self.end => return Err(ConnError::Closed),
                Ok(0) => return Err(ConnError::Truncated),
                Ok(n) => self.end += n,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads the payload of the DATA frame [`FrameReader::fill_streaming`] announced into `dst`,
    /// which must be exactly as long as the payload, carrying on where the last call stopped
    /// (pass the same `dst` again). `Ok(true)` once `dst` is complete; `Ok(false)` when nothing
    /// arrived within [`POLL`].
    pub fn read_payload(&mut self, dst: &mut [u8]) -> Result<bool, ConnError> {
        debug_assert!(dst.len() >= self.payload_left, "dst is shorter than the payload");
        let mut done = dst.len() - self.payload_left;
        let buffered = (self.end - self.start).min(self.payload_left);
        dst[done..done + buffered].copy_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        self.payload_left -= buffered;
        done += buffered;
        while self.payload_left > 0 {
            match self.stream.read(&mut dst[done..]) {
                Ok(0) => return Err(ConnError::Truncated),
                Ok(n) => {
                    done += n;
                    self.payload_left -= n;
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    /// Payload bytes of the streamed DATA frame not read yet.
    pub fn payload_left(&self) -> usize {
        self.payload_left
    }

    /// Decodes the frame that [`FrameReader::fill`] said is buffered.
    pub fn take_frame(&mut self) -> Result<Frame<'_>, ConnError> {
        let (_, total) = peek_header(&self.buf[self.start..self.end])?.ok_or(ConnError::Truncated)?;
        let bytes = self.buf.get(self.start..self.start + total).ok_or(ConnError::Truncated)?;
        self.consumed = total;
        let (frame, _) = decode_frame(bytes)?.ok_or(ConnError::Truncated)?;
        Ok(frame)
    }

    /// Waits up to `timeout` for a control message, skipping KEEPALIVEs; DATA here is a
    /// protocol error. `Ok(None)` when the time ran out.
    pub fn wait_message(&mut self, timeout: Duration) -> Result<Option<Message>, ConnError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.poll_frame()? {
                Some(Frame::Message(Message::Keepalive)) | None => {}
                Some(Frame::Message(m)) => return Ok(Some(m)),
                Some(Frame::Data(_)) => return Err(DecodeError::Invalid("file data before any file").into()),
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
        self.payload_left = 0;
        while Instant::now() < deadline {
            match self.stream.read(&mut sink) {
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
    stream: TcpStream,
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
    pub fn new(stream: TcpStream, stall: Duration) -> io::Result<FrameWriter> {
        stream.set_write_timeout(Some(POLL))?;
        stream.set_nodelay(true)?;
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
        &self,
        mut head: &[u8],
        mut tail: &[u8],
        stall: Duration,
        watch_cancel: bool,
    ) -> io::Result<()> {
        let mut last_progress = Instant::now();
        while !head.is_empty() || !tail.is_empty() {
            let bufs = [io::IoSlice::new(head), io::IoSlice::new(tail)];
            match (&self.stream).write_vectored(&bufs) {
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

    /// Tells the other side we will send nothing more.
    pub fn finish(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Splits one connected stream into its two halves. Where the system allows (Linux), the
/// connection also dies by itself when sent data stays unacknowledged for `idle`.
pub fn split(stream: TcpStream, idle: Duration) -> io::Result<(FrameReader, FrameWriter)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = socket2::SockRef::from(&stream).set_tcp_user_timeout(Some(idle));
    let reader = FrameReader::new(stream.try_clone()?)?;
    let writer = FrameWriter::new(stream, idle)?;
    Ok((reader, writer))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let mut reader = FrameReader::new(b).unwrap();
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
        let mut reader = FrameReader::new(b).unwrap();
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
        let mut reader = FrameReader::new(b).unwrap();
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

    /// Everything a streaming reader gets, until the other side closes: messages as text, DATA
    /// payloads whole.
    fn stream_all(reader: &mut FrameReader) -> (Vec<String>, Result<(), String>) {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match reader.fill_streaming() {
                Ok(None) => {}
                Ok(Some(Ready::Frame)) => match reader.take_frame() {
                    Ok(Frame::Message(m)) => got.push(format!("{m:?}")),
                    Ok(Frame::Data(_)) => return (got, Err("DATA decoded as a whole frame".into())),
                    Err(e) => return (got, Err(format!("{e:?}"))),
                },
                Ok(Some(Ready::Data(len))) => {
                    // Poison the buffer first: every byte must be overwritten by the payload.
                    let mut payload = vec![0xEE; len];
                    loop {
                        match reader.read_payload(&mut payload) {
                            Ok(true) => break,
                            Ok(false) => {}
                            Err(e) => return (got, Err(format!("{e:?}"))),
                        }
                    }
                    got.push(format!("data {len} {}", blake3::hash(&payload).to_hex()));
                }
                Err(e) => return (got, Err(format!("{e:?}"))),
            }
        }
        (got, Err("no end".into()))
    }

    #[test]
    fn streamed_payloads_arrive_whole_whatever_the_pieces() {
        // Control frames and DATA of every awkward size, back to back: empty, one byte, just
        // under and over the streaming read, the largest allowed.
        let mut bytes = Vec::new();
        let mut want = Vec::new();
        for (i, len) in [0usize, 1, 100, STREAM_READ - 1, STREAM_READ + 3, 256 * 1024, MAX_FRAME - HEADER_LEN]
            .into_iter()
            .enumerate()
        {
            let m = Message::FileBegin { index: i as u32, size: len as u64 };
            frame::encode_message(&m, &mut bytes);
            want.push(format!("{m:?}"));
            let payload: Vec<u8> = (0..len).map(|j| (j * 31 + i) as u8).collect();
            bytes.extend_from_slice(&frame::data_header(len));
            bytes.extend_from_slice(&payload);
            want.push(format!("data {len} {}", blake3::hash(&payload).to_hex()));
        }
        frame::encode_message(&Message::Done, &mut bytes);
        want.push("Done".into());

        for piece in [3usize, 4096, 70_001, 1 << 20] {
            let (a, b) = pair();
            let mut reader = FrameReader::new(b).unwrap();
            let bytes = bytes.clone();
            let writer = std::thread::spawn(move || {
                let mut a = a;
                // Three pauses longer than a poll, at places that fall mid-frame.
                let pauses = [10_000, bytes.len() / 2, bytes.len() - 3];
                let mut sent = 0;
                for chunk in bytes.chunks(piece) {
                    a.write_all(chunk).unwrap();
                    if pauses.iter().any(|&p| sent < p && p <= sent + chunk.len()) {
                        std::thread::sleep(POLL + Duration::from_millis(20));
                    }
                    sent += chunk.len();
                }
            });
            let (got, end) = stream_all(&mut reader);
            writer.join().unwrap();
            assert_eq!(got, want, "pieces of {piece}");
            assert_eq!(end, Err("Closed".into()), "pieces of {piece}");
        }
    }

    #[test]
    fn a_streamed_payload_cut_short_is_truncated_and_an_oversized_one_refused() {
        let (mut a, b) = pair();
        let mut reader = FrameReader::new(b).unwrap();
        a.write_all(&frame::data_header(1000)).unwrap();
        a.write_all(&[1u8; 400]).unwrap();
        drop(a);
        let (got, end) = stream_all(&mut reader);
        assert!(got.is_empty());
        assert_eq!(end, Err("Truncated".into()));

        let (mut a, b) = pair();
        let mut reader = FrameReader::new(b).unwrap();
        // One byte over the largest DATA frame: refused on the header, before any payload.
        let len = (MAX_FRAME - HEADER_LEN + 2) as u32;
        a.write_all(&len.to_be_bytes()).unwrap();
        a.write_all(&[FrameType::Data as u8]).unwrap();
        let (_, end) = stream_all(&mut reader);
        assert!(end.as_ref().is_err_and(|e| e.contains("TooLong")), "{end:?}");
    }
}
