//! Reads and hashes the files to send on a thread of its own, so the sending thread only writes
//! to the socket. Done in line, every chunk waited for its file read and its BLAKE3 before it
//! could go out (together about half of the sender's work); here the next chunks are read and
//! hashed while the previous one is being written. A few reused frame buffers carry the chunks
//! across: no allocation per chunk, and memory stays flat whatever the size of the batch.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::protocol::frame::{HEADER_LEN, data_header};
use crate::protocol::{SEND_CHUNK, SkipReason};

/// Chunks read ahead at most (each a `HEADER_LEN + SEND_CHUNK` buffer).
const BUFFERS: usize = 4;

/// What the reading thread found, in the order the receiver must hear it.
pub enum Piece {
    /// A file was opened and its bytes follow.
    Begin { index: u32, size: u64 },
    /// A whole DATA frame: header, then up to [`SEND_CHUNK`] bytes of the current file. Give
    /// it back with [`FileReader::recycle`] once written.
    Frame(DataFrame),
    /// The current file is complete; its BLAKE3.
    End { index: u32, hash: [u8; 32] },
    /// The file could not be sent (not opened, or it failed or shrank while being read). After a
    /// `Begin`, it ends that file.
    Skip { index: u32, reason: SkipReason },
}

/// Where in memory a file's bytes are read to: a cache line. The kernel copies a read into
/// place with `rep movsb`, which on an AMD EPYC benchmark VM without AVX-512 took 0.72 CPU s/GiB
/// into a buffer 5 bytes past a line — right after a DATA header — against 0.19 into one on a
/// line (`bench/read-align.c`): a quarter of the whole sender's work.
pub const CACHE_LINE: usize = 64;

/// Where to start in `buf` so that `buf[start + lead]` is on a [`CACHE_LINE`]: at most
/// `CACHE_LINE`, so a buffer that long beyond what it must hold always has room.
pub fn line_start(buf: &[u8], lead: usize) -> usize {
    buf.as_ptr().wrapping_add(lead).align_offset(CACHE_LINE).min(CACHE_LINE)
}

/// A reused buffer holding one DATA frame: the header sits just before a payload that starts
/// on a [`CACHE_LINE`].
pub struct DataFrame {
    buf: Vec<u8>,
    /// Where the header starts.
    start: usize,
    /// Header and payload bytes.
    len: usize,
}

impl DataFrame {
    fn new() -> DataFrame {
        let buf = vec![0u8; CACHE_LINE + HEADER_LEN + SEND_CHUNK];
        // The buffer never grows, so its address, and the payload's alignment, stay.
        let start = line_start(&buf, HEADER_LEN);
        DataFrame { buf, start, len: 0 }
    }

    /// Header and payload, ready to write.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    /// File bytes in the frame.
    pub fn payload_len(&self) -> usize {
        self.len - HEADER_LEN
    }
}

/// One file to read: its index in the offer, where it is, how big it was offered.
pub struct ToRead {
    pub index: u32,
    pub path: PathBuf,
    pub size: u64,
}

pub struct FileReader {
    pieces: Option<Receiver<Piece>>,
    free: Option<Sender<DataFrame>>,
    thread: Option<JoinHandle<()>>,
    /// Files with an index below this are given up ([`FileReader::give_up_below`]).
    given_up: Arc<AtomicU32>,
}

impl FileReader {
    /// Starts reading `files`, in order, on a thread named `name`.
    pub fn start(name: String, files: Vec<ToRead>) -> FileReader {
        let (piece_tx, pieces) = bounded(BUFFERS * 2);
        let (free, free_rx) = bounded(BUFFERS);
        for _ in 0..BUFFERS {
            let _ = free.send(DataFrame::new());
        }
        let given_up = Arc::new(AtomicU32::new(0));
        let give_up = given_up.clone();
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || {
                for f in files {
                    // Stops as soon as the sending side is gone (it dropped its ends).
                    if read_file(&f, &piece_tx, &free_rx, &give_up).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning a thread failed");
        FileReader { pieces: Some(pieces), free: Some(free), thread: Some(thread), given_up }
    }

    /// Stops reading every file whose index is below `index` (the receiver cannot save it):
    /// within a chunk, nothing more of it is read or handed out. Pieces already read ahead may
    /// still come; the caller drops them.
    pub fn give_up_below(&self, index: u32) {
        self.given_up.fetch_max(index, Ordering::Relaxed);
    }

    /// The next piece; `None` once every file was read.
    pub fn next(&self) -> Option<Piece> {
        self.pieces.as_ref()?.recv().ok()
    }

    /// Hands a written frame back, to carry a later chunk.
    pub fn recycle(&self, frame: DataFrame) {
        if let Some(free) = &self.free {
            let _ = free.try_send(frame);
        }
    }
}

impl Drop for FileReader {
    /// Stops the thread (it is at most one chunk's read away from noticing) and waits for it.
    fn drop(&mut self) {
        self.pieces = None;
        self.free = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The other side hung up.
struct Gone;

fn read_file(
    f: &ToRead,
    out: &Sender<Piece>,
    free: &Receiver<DataFrame>,
    given_up: &AtomicU32,
) -> Result<(), Gone> {
    let send = |p: Piece| out.send(p).map_err(|_| Gone);
    let index = f.index;
    let abandoned = || index < given_up.load(Ordering::Relaxed);
    if abandoned() {
        return Ok(());
    }
    let Ok(mut file) = File::open(&f.path) else {
        return send(Piece::Skip { index, reason: SkipReason::Unreadable });
    };
    send(Piece::Begin { index, size: f.size })?;
    let mut hasher = blake3::Hasher::new();
    let mut left = f.size;
    while left > 0 {
        // Looked at before a buffer is taken, never after (a buffer must go back through the
        // sending side): a chunk read in the meantime is dropped there.
        if abandoned() {
            return Ok(());
        }
        let mut frame = free.recv().map_err(|_| Gone)?;
        let buf = &mut frame.buf[frame.start..];
        let want = left.min(SEND_CHUNK as u64) as usize;
        let n = match read_up_to(&mut file, &mut buf[HEADER_LEN..HEADER_LEN + want]) {
            Ok(0) => return send(Piece::Skip { index, reason: SkipReason::Changed }),
            Ok(n) => n,
            Err(_) => return send(Piece::Skip { index, reason: SkipReason::Unreadable }),
        };
        hasher.update(&buf[HEADER_LEN..HEADER_LEN + n]);
        buf[..HEADER_LEN].copy_from_slice(&data_header(n));
        frame.len = HEADER_LEN + n;
        send(Piece::Frame(frame))?;
        left -= n as u64;
    }
    send(Piece::End { index, hash: *hasher.finalize().as_bytes() })
}

/// Reads until `buf` is full or the file ends.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::{FrameType, peek_header};

    /// Every piece, with each frame's bytes copied out (so the buffers can go back).
    fn read_all(reader: &FileReader) -> Vec<(Piece, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(p) = reader.next() {
            match p {
                Piece::Frame(frame) => {
                    let bytes = frame.bytes().to_vec();
                    reader.recycle(frame);
                    out.push((Piece::Frame(DataFrame { buf: Vec::new(), start: 0, len: 0 }), bytes));
                }
                p => out.push((p, Vec::new())),
            }
        }
        out
    }

    #[test]
    fn files_come_as_frames_with_their_hash_and_missing_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..(SEND_CHUNK * 2 + 1000) as u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("big"), &big).unwrap();
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        let files = vec![
            ToRead { index: 0, path: dir.path().join("big"), size: big.len() as u64 },
            ToRead { index: 3, path: dir.path().join("missing"), size: 10 },
            ToRead { index: 5, path: dir.path().join("empty"), size: 0 },
        ];
        let pieces = read_all(&FileReader::start("test-read".into(), files));

        let mut got = Vec::new();
        let mut frames = 0;
        for (p, buf) in &pieces[1..4] {
            let Piece::Frame(_) = p else { panic!("expected three frames") };
            assert_eq!(peek_header(buf).unwrap(), Some((FrameType::Data, buf.len())), "header and length");
            got.extend_from_slice(&buf[HEADER_LEN..]);
            frames += 1;
        }
        assert_eq!(frames, 3);
        assert_eq!(got, big);
        assert!(matches!(pieces[0].0, Piece::Begin { index: 0, size } if size == big.len() as u64));
        assert!(
            matches!(pieces[4].0, Piece::End { index: 0, hash } if hash == *blake3::hash(&big).as_bytes())
        );
        assert!(matches!(pieces[5].0, Piece::Skip { index: 3, reason: SkipReason::Unreadable }));
        assert!(matches!(pieces[6].0, Piece::Begin { index: 5, size: 0 }));
        assert!(
            matches!(pieces[7].0, Piece::End { index: 5, hash } if hash == *blake3::hash(b"").as_bytes())
        );
        assert_eq!(pieces.len(), 8);
    }

    #[test]
    fn file_bytes_are_read_to_a_cache_line() {
        for _ in 0..8 {
            let frame = DataFrame::new();
            let payload = frame.buf[frame.start + HEADER_LEN..].as_ptr();
            assert_eq!(payload as usize % CACHE_LINE, 0);
            assert!(frame.buf.len() - frame.start - HEADER_LEN >= SEND_CHUNK);
        }
    }

    #[test]
    fn a_file_shorter_than_offered_is_skipped_as_changed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"12345").unwrap();
        let files = vec![ToRead { index: 0, path: dir.path().join("f"), size: 9 }];
        let pieces = read_all(&FileReader::start("test-read".into(), files));
        assert_eq!(pieces.len(), 3);
        assert!(matches!(pieces[2].0, Piece::Skip { index: 0, reason: SkipReason::Changed }));
    }

    #[test]
    fn dropping_the_reader_midway_stops_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![1u8; SEND_CHUNK * 20]).unwrap();
        let files = (0..50)
            .map(|i| ToRead { index: i, path: dir.path().join("f"), size: (SEND_CHUNK * 20) as u64 })
            .collect();
        let reader = FileReader::start("test-read".into(), files);
        assert!(matches!(reader.next(), Some(Piece::Begin { .. })));
        // No buffer is ever given back: the thread is stuck waiting for one, and must still stop.
        drop(reader);
    }
}
