//! BLAKE3 for the receiving side. A big file is hashed on a thread of its own, so the receiving
//! thread can read the socket and write the file while the previous chunk is being hashed
//! (hashing is about a quarter of the receiver's work, and done in line it made every chunk wait
//! for it). A few reused buffers carry the chunks across, so there is no allocation per chunk and
//! memory stays flat.
//!
//! A small file is hashed in line: its hash takes microseconds, while handing it to another
//! thread and waiting for the answer cost a wake-up and a wait per file — thousands of them for a
//! folder of photos, on machines with two cores. The worker thread starts with the first big file.

use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::protocol::MAX_DATA_CHUNK;

/// Chunks in flight at once: enough to keep both threads busy, few enough to stay small.
const BUFFERS: usize = 4;

/// Files up to this size are hashed in line.
const INLINE_UP_TO: u64 = 1024 * 1024;

enum Job {
    Data(Vec<u8>),
    /// Send the hash of everything since the last `Finish` and start over.
    Finish(Sender<[u8; 32]>),
}

/// Hashes one file after another: [`Hasher::begin`], [`Hasher::update`]s, [`Hasher::finish`].
pub struct Hasher {
    name: String,
    worker: Option<Worker>,
    current: Current,
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
        Hasher { name, worker: None, current: Current::Nothing }
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

    pub fn update(&mut self, bytes: &[u8]) {
        match (&mut self.current, &self.worker) {
            (Current::Inline(h), _) => {
                h.update(bytes);
            }
            (Current::OnWorker, Some(w)) => w.update(bytes),
            _ => {}
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
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn start(name: String) -> Worker {
        let (jobs, job_rx) = bounded::<Job>(BUFFERS + 1);
        let (free_tx, free) = bounded(BUFFERS);
        for _ in 0..BUFFERS {
            let _ = free_tx.send(Vec::with_capacity(MAX_DATA_CHUNK));
        }
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || {
                let mut hasher = blake3::Hasher::new();
                for job in job_rx {
                    match job {
                        Job::Data(mut buf) => {
                            hasher.update(&buf);
                            buf.clear();
                            if free_tx.send(buf).is_err() {
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
        Worker { jobs: Some(jobs), free, thread: Some(thread) }
    }

    /// Hands `bytes` over (copied into a free buffer; waits while all are in use).
    fn update(&self, bytes: &[u8]) {
        let (Some(jobs), Ok(mut buf)) = (&self.jobs, self.free.recv()) else { return };
        buf.extend_from_slice(bytes);
        let _ = jobs.send(Job::Data(buf));
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

    #[test]
    fn hashes_like_blake3_small_and_big_files_in_any_order() {
        let mut h = Hasher::new("test-hash".into());
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 1000) as u8).collect();
        let small = &big[..100_000];
        for data in [&big[..], small, small, &big[..], b"", small] {
            h.begin(data.len() as u64);
            for chunk in data.chunks(256 * 1024) {
                h.update(chunk);
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
            h.update(&big[..size / 2]);
            h.reset();
            h.begin(3);
            h.update(b"abc");
            assert_eq!(h.finish(), *blake3::hash(b"abc").as_bytes());
            // Begun again without finishing: the half file is forgotten too.
            h.begin(size as u64);
            h.update(&big[..size / 2]);
            h.begin(size as u64);
            h.update(&big[..size]);
            assert_eq!(h.finish(), *blake3::hash(&big[..size]).as_bytes());
        }
    }
}
