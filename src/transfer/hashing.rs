//! BLAKE3 on a thread of its own, so the receiving thread can read the socket and write the
//! file while the previous chunk is being hashed (hashing is about a quarter of the receiver's
//! work, and done in line it made every chunk wait for it). A few reused buffers carry the
//! chunks across, so there is no allocation per chunk and memory stays flat.

use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::protocol::MAX_DATA_CHUNK;

/// Chunks in flight at once: enough to keep both threads busy, few enough to stay small.
const BUFFERS: usize = 4;

enum Job {
    Data(Vec<u8>),
    /// Send the hash of everything since the last `Finish` and start over.
    Finish(Sender<[u8; 32]>),
}

pub struct Hasher {
    jobs: Option<Sender<Job>>,
    free: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

impl Hasher {
    pub fn start(name: String) -> Hasher {
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
        Hasher { jobs: Some(jobs), free, thread: Some(thread) }
    }

    /// Hands `bytes` over (copied into a free buffer; waits while all are in use).
    pub fn update(&self, bytes: &[u8]) {
        let (Some(jobs), Ok(mut buf)) = (&self.jobs, self.free.recv()) else { return };
        buf.extend_from_slice(bytes);
        let _ = jobs.send(Job::Data(buf));
    }

    /// The hash of everything handed over since the last call; the next file starts fresh.
    pub fn finish(&self) -> [u8; 32] {
        let (reply, answer) = bounded(1);
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Finish(reply));
        }
        answer.recv().unwrap_or([0; 32])
    }

    /// Forgets what was handed over for an abandoned file.
    pub fn reset(&self) {
        let _ = self.finish();
    }
}

impl Drop for Hasher {
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
    fn hashes_like_blake3_chunk_after_chunk_and_file_after_file() {
        let h = Hasher::start("test-hash".into());
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 1000) as u8).collect();
        for chunk in data.chunks(256 * 1024) {
            h.update(chunk);
        }
        assert_eq!(h.finish(), *blake3::hash(&data).as_bytes());
        h.update(b"second file");
        assert_eq!(h.finish(), *blake3::hash(b"second file").as_bytes());
        assert_eq!(h.finish(), *blake3::hash(b"").as_bytes());
    }
}
