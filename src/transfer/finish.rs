//! Gives checked files their final names on a thread of their own, in batches, while the next
//! files keep arriving. Flushing a file to disk waits for the disk; doing it for each small file
//! in turn, on the receiving thread, made a batch of thousands of photos crawl. Here the files
//! that were checked while the previous batch was being flushed are flushed together
//! ([`store::persist_all`]).
//!
//! Small files are handed over in handfuls, not one by one: each hand-over wakes the thread, and
//! for a folder of small photos that was a context switch per file (1441 wake-ups for 2000
//! files, `perf sched`) on machines with two cores.

use std::io;
use std::path::PathBuf;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::store::{self, PartFile, ReceiveFolder};

/// Most files flushed and named in one go.
const MAX_BATCH: usize = 1024;
/// How long a batch waits for more files after its first. (Once the sender is done, the
/// channel closes and whatever is waiting goes at once.)
const GATHER_FOR: Duration = Duration::from_millis(100);
/// A batch this big is flushed without waiting for more.
const GATHER_BYTES: u64 = 32 * 1024 * 1024;
/// Checked files wait on the receiving thread until this many have gathered, …
const HAND_OVER_FILES: usize = 64;
/// … or this many bytes (so a file this big goes at once), …
const HAND_OVER_BYTES: u64 = 4 * 1024 * 1024;
/// … or the first of them has waited this long (checked with every frame and whenever the
/// connection is quiet).
const HAND_OVER_AFTER: Duration = Duration::from_millis(10);

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
    jobs: Option<Sender<Vec<Job>>>,
    /// Checked files not handed over yet, their bytes, and since when the first one waits.
    pending: Vec<Job>,
    pending_bytes: u64,
    pending_since: Instant,
    /// Files taken whose [`Finished`] has not been collected yet.
    outstanding: usize,
    done: Receiver<Finished>,
    thread: Option<JoinHandle<()>>,
}

impl Finisher {
    /// Starts the thread that persists into `root`.
    pub fn start(root: ReceiveFolder, name: String) -> Finisher {
        let (jobs, job_rx) = unbounded::<Vec<Job>>();
        let (done_tx, done) = unbounded();
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || {
                let written = |jobs: &[Job]| jobs.iter().map(|j| j.part.written()).sum::<u64>();
                // Small files are not sent to the disk while they are received (one small disk
                // request each, on the receiving thread); they start here, as they arrive, so the
                // disk works while the network does and the batch's flush finds little left — at
                // the end of a transfer over a real link that flush is time the person waits.
                let kick = |jobs: &mut [Job]| jobs.iter_mut().for_each(|j| j.part.write_back_now());
                // Names taken in the folders written to, kept from one batch to the next.
                let mut taken = store::Taken::new();
                while let Ok(mut batch) = job_rx.recv() {
                    kick(&mut batch);
                    // Gather what arrives in the next moments: every batch costs a couple of waits
                    // for the disk, whatever its size. A big file goes alone, at once.
                    let deadline = Instant::now() + GATHER_FOR;
                    let mut bytes = written(&batch);
                    while batch.len() < MAX_BATCH && bytes < GATHER_BYTES {
                        match job_rx.recv_deadline(deadline) {
                            Ok(mut more) => {
                                kick(&mut more);
                                bytes += written(&more);
                                batch.extend(more);
                            }
                            Err(_) => break,
                        }
                    }
                    let indices: Vec<usize> = batch.iter().map(|j| j.index).collect();
                    let results = store::persist_all(
                        &root,
                        batch.into_iter().map(|j| (j.part, j.rel)).collect(),
                        &mut taken,
                    );
                    for (index, result) in indices.into_iter().zip(results) {
                        if done_tx.send(Finished { index, result }).is_err() {
                            return;
                        }
                    }
                }
            })
            .expect("spawning a thread failed");
        Finisher {
            jobs: Some(jobs),
            pending: Vec::new(),
            pending_bytes: 0,
            pending_since: Instant::now(),
            outstanding: 0,
            done,
            thread: Some(thread),
        }
    }

    /// Takes a checked file; its [`Finished`] comes later.
    pub fn submit(&mut self, index: usize, part: PartFile, rel: Vec<String>) {
        if self.pending.is_empty() {
            self.pending_since = Instant::now();
        }
        self.pending_bytes += part.written();
        self.outstanding += 1;
        self.pending.push(Job { index, part, rel });
        if self.pending.len() >= HAND_OVER_FILES || self.pending_bytes >= HAND_OVER_BYTES {
            self.hand_over();
        }
    }

    /// Hands over the files that have waited long enough. Call often.
    pub fn tick(&mut self) {
        if !self.pending.is_empty() && self.pending_since.elapsed() >= HAND_OVER_AFTER {
            self.hand_over();
        }
    }

    /// Hands over every file taken so far.
    pub fn hand_over(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.pending_bytes = 0;
        let batch = std::mem::take(&mut self.pending);
        if let Some(jobs) = &self.jobs {
            // The thread only stops when `jobs` is dropped, so this cannot fail while we hold it.
            let _ = jobs.send(batch);
        }
    }

    /// What has finished so far, without waiting (nothing allocated when nothing has).
    pub fn ready(&mut self) -> Vec<Finished> {
        let done: Vec<Finished> = self.done.try_iter().collect();
        self.outstanding -= done.len();
        done
    }

    /// Are files taken whose result has not been collected? (Then a result may come any moment.)
    pub fn waiting(&self) -> bool {
        self.outstanding > 0
    }

    /// Waits for every file taken and returns what had not been collected yet.
    pub fn finish(mut self) -> Vec<Finished> {
        self.stop();
        self.ready()
    }

    fn stop(&mut self) {
        self.hand_over();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(root: &ReceiveFolder, content: &[u8]) -> PartFile {
        let mut part = PartFile::create(root).unwrap();
        part.write_all(content).unwrap();
        part
    }

    /// Waits (at most 5 s) for `n` results.
    fn collect(finisher: &mut Finisher, n: usize) -> Vec<Finished> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < n && Instant::now() < deadline {
            finisher.tick();
            got.extend(finisher.ready());
            thread::sleep(Duration::from_millis(2));
        }
        got
    }

    #[test]
    fn a_lone_small_file_is_saved_without_waiting_for_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let root = ReceiveFolder::open(dir.path()).unwrap();
        let mut finisher = Finisher::start(root.clone(), "test-finish".into());
        finisher.submit(7, checked(&root, b"one"), vec!["one.jpg".into()]);
        let got = collect(&mut finisher, 1);
        assert_eq!(got.len(), 1, "the file was handed over by tick()");
        assert_eq!(got[0].index, 7);
        assert_eq!(got[0].result.as_ref().unwrap(), &root.path().join("one.jpg"));
        assert!(finisher.finish().is_empty());
    }

    #[test]
    fn every_file_taken_is_saved_by_finish_and_by_drop() {
        let dir = tempfile::tempdir().unwrap();
        let root = ReceiveFolder::open(dir.path()).unwrap();
        let count = HAND_OVER_FILES * 2 + 5;
        let mut finisher = Finisher::start(root.clone(), "test-finish".into());
        for i in 0..count {
            finisher.submit(i, checked(&root, format!("{i}").as_bytes()), vec![format!("{i}.jpg")]);
        }
        let mut indices: Vec<usize> = finisher.finish().into_iter().map(|f| f.index).collect();
        indices.sort_unstable();
        assert_eq!(indices, (0..count).collect::<Vec<_>>());
        assert_eq!(std::fs::read_to_string(root.path().join("3.jpg")).unwrap(), "3");

        // A transfer that fails drops its finisher: what was checked is kept all the same.
        let mut finisher = Finisher::start(root.clone(), "test-finish".into());
        finisher.submit(0, checked(&root, b"kept"), vec!["kept.jpg".into()]);
        drop(finisher);
        assert_eq!(std::fs::read(root.path().join("kept.jpg")).unwrap(), b"kept");
    }
}
