//! Gives checked files their final names on a thread of their own, in batches, while the next
//! files keep arriving. Flushing a file to disk waits for the disk; doing it for each small file
//! in turn, on the receiving thread, made a batch of thousands of photos crawl. Here the files
//! that were checked while the previous batch was being flushed are flushed together
//! ([`store::persist_all`]).

use std::io;
use std::path::PathBuf;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::store::{self, PartFile};

/// Most files flushed and named in one go.
const MAX_BATCH: usize = 1024;
/// How long a batch waits for more files after its first. (Once the sender is done, the
/// channel closes and whatever is waiting goes at once.)
const GATHER_FOR: Duration = Duration::from_millis(100);
/// A batch this big is flushed without waiting for more.
const GATHER_BYTES: u64 = 32 * 1024 * 1024;

/// A file that got its final name (or could not).
pub struct Finished {
    pub index: usize,
    pub result: io::Result<PathBuf>,
}

struct Job {
    index: usize,
    part: PartFile,
    rel: Vec<String>,
}

pub struct Finisher {
    jobs: Option<Sender<Job>>,
    done: Receiver<Finished>,
    thread: Option<JoinHandle<()>>,
}

impl Finisher {
    /// Starts the thread that persists into `root`.
    pub fn start(root: PathBuf, name: String) -> Finisher {
        let (jobs, job_rx) = unbounded::<Job>();
        let (done_tx, done) = unbounded();
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || {
                while let Ok(first) = job_rx.recv() {
                    // Gather what arrives in the next moments: every batch costs a couple of waits
                    // for the disk, whatever its size. A big file goes alone, at once.
                    let deadline = Instant::now() + GATHER_FOR;
                    let mut bytes = first.part.written();
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH && bytes < GATHER_BYTES {
                        match job_rx.recv_deadline(deadline) {
                            Ok(job) => {
                                bytes += job.part.written();
                                batch.push(job);
                            }
                            Err(_) => break,
                        }
                    }
                    let indices: Vec<usize> = batch.iter().map(|j| j.index).collect();
                    let results =
                        store::persist_all(&root, batch.into_iter().map(|j| (j.part, j.rel)).collect());
                    for (index, result) in indices.into_iter().zip(results) {
                        if done_tx.send(Finished { index, result }).is_err() {
                            return;
                        }
                    }
                }
            })
            .expect("spawning a thread failed");
        Finisher { jobs: Some(jobs), done, thread: Some(thread) }
    }

    /// Hands over a checked file; its [`Finished`] comes later.
    pub fn submit(&self, index: usize, part: PartFile, rel: Vec<String>) {
        if let Some(jobs) = &self.jobs {
            // The thread only stops when `jobs` is dropped, so this cannot fail while we hold it.
            let _ = jobs.send(Job { index, part, rel });
        }
    }

    /// What has finished so far, without waiting.
    pub fn ready(&self) -> impl Iterator<Item = Finished> + '_ {
        self.done.try_iter()
    }

    /// Waits for every file handed over and returns what had not been collected yet.
    pub fn finish(mut self) -> Vec<Finished> {
        self.stop();
        self.done.try_iter().collect()
    }

    fn stop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Finisher {
    /// On cancel or failure too, files already checked and handed over are kept: they are
    /// complete and verified. Nothing unchecked ever gets here.
    fn drop(&mut self) {
        self.stop();
    }
}
