//! BLAKE3 for the receiving side. A big file is hashed on a thread of its own, so the receiving
//! thread can read the socket and write the file while the previous chunk is being hashed
//! (hashing is about a quarter of the receiver's work, and done in line it made every chunk wait
//! for it). DATA payloads are read from the socket straight into a few reused buffers
//! ([`Hasher::chunk`]), written to the file from there and then handed to the worker: no copy,
//! no allocation per chunk, and memory stays flat.
//!
//! A small file is hashed in line: its hash takes microseconds, while handing it to another
//! thread and waiting for the answer cost a wake-up and a wait per file — thousands of them for a
//! folder of photos, on machines with two cores. The worker thread starts with the first big file.

use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};

/// Chunks in flight at once: enough to keep both threads busy, few enough to stay small.
const BUFFERS: usize = 4;

/// Files up to this size are hashed in line.
const INLINE_UP_TO: u64 = 1024 * 1024;

/// A buffer holding one DATA payload on its way to being hashed ([`Hasher::chunk`]).
pub struct Chunk {
    buf: Vec<u8>,
    len: usize,
    /// Taken from the worker's buffers (and goes back there), or the in-line spare.
    from_worker: bool,
}

impl Chunk {
    /// The payload, to fill.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }

    /// The payload.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

enum Job {
    Data(Chunk),
    /// Send the hash of everything since the last `Finish` and start over.
    Finish(Sender<[u8; 32]>),
}

/// Hashes one file after another: [`Hasher::begin`], [`Hasher::chunk`] + [`Hasher::update`]
/// per DATA payload, [`Hasher::finish`].
pub struct Hasher {
    name: String,
    worker: Option<Worker>,
    current: Current,
    /// The buffer small files are read into (they are hashed in line).
    spare: Vec<u8>,
}

/// Where the file begun last is being hashed.
enum Current {
    Nothing,
    Inline(Box<blake3::Hasher>),
    OnWorker,
}

impl Hasher {
    /// `name` names the worker thread, if one is ever needed.
    pub fn new(name: String) -> Hasher {
        Hasher { name, worker: None, current: Current::Nothing, spare: Vec::new() }
    }

    /// Starts the next file, `size` bytes long (what was handed over for an unfinished one is
    /// forgotten).
    pub fn begin(&mut self, size: u64) {
        self.reset();
        self.current = if size <= INLINE_UP_TO {
            Current::Inline(Box::default())
        } else {
            self.worker.get_or_insert_with(|| Worker::start(self.name.clone()));
            Current::OnWorker
        };
    }

    /// A buffer for the current file's next `len` bytes: the receiving thread reads a DATA
    /// payload straight into it, writes it to the file, then hands it to [`Hasher::update`].
    /// Waits while the worker still has every buffer.
    pub fn chunk(&mut self, len: usize) -> Chunk {
        let from_worker = matches!(self.current, Current::OnWorker) && self.worker.is_some();
        let mut buf = match &self.worker {
            Some(w) if from_worker => w.take_free(),
            _ => std::mem::take(&mut self.spare),
        };
        // Buffers keep their size: zeroed once, when they first grow to the payload size.
        if buf.len() < len {
            buf.resize(len, 0);
        }
        Chunk { buf, len, from_worker }
    }

    /// Adds the chunk's bytes to the current file's hash (on the worker, for a big file).
    pub fn update(&mut self, chunk: Chunk) {
        match (&mut self.current, &self.worker) {
            (Current::Inline(h), _) => {
                h.update(chunk.bytes());
            }
            (Current::OnWorker, Some(w)) if chunk.from_worker => {
                if let Some(jobs) = &w.jobs {
                    let _ = jobs.send(Job::Data(chunk));
                }
                return;
            }
            _ => {}
        }
        self.give_back(chunk);
    }

    fn give_back(&mut self, chunk: Chunk) {
        match &self.worker {
            Some(w) if chunk.from_worker => {
                let _ = w.free_tx.try_send(chunk.buf);
            }
            _ => self.spare = chunk.buf,
        }
    }

    /// The hash of the file begun last (of nothing, if none was).
    pub fn finish(&mut self) -> [u8; 32] {
        match (std::mem::replace(&mut self.current, Current::Nothing), &self.worker) {
            (Current::Inline(h), _) => *h.finalize().as_bytes(),
            (Current::OnWorker, Some(w)) => w.finish(),
            _ => *blake3::hash(b"").as_bytes(),
        }
    }

    /// Forgets the file begun last.
    pub fn reset(&mut self) {
        if !matches!(self.current, Current::Nothing) {
            let _ = self.finish();
        }
    }
}

struct Worker {
    jobs: Option<Sender<Job>>,
    free: Receiver<Vec<u8>>,
    free_tx: Sender<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn start(name: String) -> Worker {
        let (jobs, job_rx) = bounded::<Job>(BUFFERS + 1);
        let (free_tx, free) = bounded(BUFFERS);
        for _ in 0..BUFFERS {
            let _ = free_tx.send(Vec::new());
        }
        let free_back = free_tx.clone();
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || {
                let mut hasher = blake3::Hasher::new();
                for job in job_rx {
                    match job {
                        Job::Data(chunk) => {
                            hasher.update(chunk.bytes());
                            if free_tx.send(chunk.buf).is_err() {
                                return;
                            }
                        }
                        Job::Finish(reply) => {
                            let _ = reply.send(*hasher.finalize().as_bytes());
                            hasher.reset();
                        }
                    }
                }
            })
            .expect("spawning a thread failed");
        Worker { jobs: Some(jobs), free, free_tx: free_back, thread: Some(thread) }
    }

    /// A buffer the worker is done with (we hold a sender of that channel too, so a worker that
    /// died would never close it: then a new buffer, and the hash it can no longer give fails).
    fn take_free(&self) -> Vec<u8> {
        loop {
            match self.free.recv_timeout(Duration::from_millis(100)) {
                Ok(buf) => return buf,
                Err(_) if self.thread.as_ref().is_none_or(|t| t.is_finished()) => return Vec::new(),
                Err(_) => {}
            }
        }
    }

    /// The hash of everything handed over since the last call; the next file starts fresh.
    fn finish(&self) -> [u8; 32] {
        let (reply, answer) = bounded(1);
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Finish(reply));
        }
        answer.recv().unwrap_or([0; 32])
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the receiving thread does with one DATA payload.
    fn feed(h: &mut Hasher, bytes: &[u8]) {
        let mut chunk = h.chunk(bytes.len());
        chunk.bytes_mut().copy_from_slice(bytes);
        h.update(chunk);
    }

    #[test]
    fn hashes_like_blake3_small_and_big_files_in_any_order() {
        let mut h = Hasher::new("test-hash".into());
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 1000) as u8).collect();
        let small = &big[..100_000];
        for data in [&big[..], small, small, &big[..], b"", small] {
            h.begin(data.len() as u64);
            for piece in data.chunks(256 * 1024) {
                feed(&mut h, piece);
            }
            assert_eq!(h.finish(), *blake3::hash(data).as_bytes(), "{} bytes", data.len());
        }
        assert!(h.worker.is_some(), "big files go to the worker");
    }

    #[test]
    fn a_file_abandoned_halfway_leaves_nothing_behind() {
        let mut h = Hasher::new("test-hash".into());
        let big = vec![5u8; 2_000_000];
        for size in [big.len(), 1000] {
            h.begin(size as u64);
            feed(&mut h, &big[..size / 2]);
            h.reset();
            h.begin(3);
            feed(&mut h, b"abc");
            assert_eq!(h.finish(), *blake3::hash(b"abc").as_bytes());
            // Begun again without finishing: the half file is forgotten too.
            h.begin(size as u64);
            feed(&mut h, &big[..size / 2]);
            h.begin(size as u64);
            feed(&mut h, &big[..size]);
            assert_eq!(h.finish(), *blake3::hash(&big[..size]).as_bytes());
        }
    }
}
