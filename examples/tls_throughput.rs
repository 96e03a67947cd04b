//! What the TLS halves cost: 1 GiB of DATA-sized writes (a 5-byte header and 256 KiB, as the
//! sender writes them) over loopback, through `transfer::tls` halves and through plain
//! `TcpStream` halves, both ends in this process with two threads a side as Ferry runs them:
//! the sender's main thread writes while its second thread reads the receiver's answers; the
//! receiver's reader reads into a 1 MiB buffer while its writer sends a small answer every
//! 4 MiB (like FILE_RESULTs).
//!
//! Prints, per run and as medians with their spread (lowest–highest): wall MB/s, and CPU
//! seconds per GiB for each side (user + system time of that side's two threads, from
//! /proc/thread-self/schedstat). The two kinds of run alternate, so both meet the same moments
//! of a busy machine.
//!
//! Before each pair of runs it also times AES-128-GCM alone (*ring* sealing 16 KiB records in
//! place on one thread, 256 MiB): the part of TLS's cost no record layer can avoid, measured at
//! the same moments, so "what TLS adds" can be read against it on a machine whose speed varies.
//!
//! `cargo run --release --example tls_throughput [-- RUNS [MiB]]` (default 5 runs of 1024 MiB).
//! Linux only (per-thread CPU time from /proc).

use std::io::IoSlice;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use ferry::identity::DeviceIdentity;
use ferry::transfer::tls::{ReadHalf, TlsContext, WriteHalf};

const CHUNK: usize = 256 * 1024;
const POLL: Duration = Duration::from_millis(100);
const ANSWER_EVERY: u64 = 4 * 1024 * 1024;

/// Nanoseconds this thread has run (user + system).
fn thread_cpu() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

struct Halves {
    reader: Box<dyn ReadHalf>,
    writer: Box<dyn WriteHalf>,
}

fn plain_pair() -> (Halves, Halves) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    let side = |s: TcpStream| {
        s.set_nodelay(true).unwrap();
        let mut r = s.try_clone().unwrap();
        let mut w = s;
        ReadHalf::set_wait(&mut r, POLL).unwrap();
        WriteHalf::set_wait(&mut w, POLL).unwrap();
        Halves { reader: Box::new(r), writer: Box::new(w) }
    };
    (side(a), side(b))
}

fn tls_pair(client: &TlsContext, server: &TlsContext) -> (Halves, Halves) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = server.clone();
    let accepting =
        thread::spawn(move || server.accept(l.accept().unwrap().0, Duration::from_secs(5)).unwrap());
    let c = client.connect(TcpStream::connect(addr).unwrap(), None, Duration::from_secs(5)).unwrap();
    let s = accepting.join().unwrap();
    (
        Halves { reader: Box::new(c.reader), writer: Box::new(c.writer) },
        Halves { reader: Box::new(s.reader), writer: Box::new(s.writer) },
    )
}

/// Writes all of `parts`, as FrameWriter does: retry on timeouts, fail after a stall.
fn write_all(w: &mut dyn WriteHalf, head: &[u8], tail: &[u8]) {
    let (mut head, mut tail) = (head, tail);
    let mut last = Instant::now();
    while !head.is_empty() || !tail.is_empty() {
        match w.write_some(&[IoSlice::new(head), IoSlice::new(tail)]) {
            Ok(n) => {
                let h = n.min(head.len());
                head = &head[h..];
                tail = &tail[n - h..];
                last = Instant::now();
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                assert!(last.elapsed() < Duration::from_secs(30), "stalled");
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
}

struct Run {
    wall: f64,
    send_cpu: f64,
    recv_cpu: f64,
}

fn run(pair: (Halves, Halves), total: u64) -> Run {
    let (sender, receiver) = pair;
    let Halves { reader: mut s_reader, writer: mut s_writer } = sender;
    let Halves { reader: mut r_reader, writer: mut r_writer } = receiver;
    let payload: Vec<u8> = (0..CHUNK).map(|i| (i * 31 + 7) as u8).collect();
    let mut header = [0u8; 5];
    header[..4].copy_from_slice(&((CHUNK + 1) as u32).to_be_bytes());
    header[4] = 0x06;
    let frames = total / CHUNK as u64;
    let wire_total = frames * (CHUNK as u64 + 5);

    let started = Instant::now();
    // Receiver: reader thread counts bytes and wakes the answering thread every 4 MiB.
    let (tick_tx, tick_rx) = crossbeam_channel::unbounded::<()>();
    let receiver_reads = spawn_named("recv-reads", move || {
        let cpu0 = thread_cpu();
        let mut buf = vec![0u8; 1024 * 1024];
        let mut got = 0u64;
        let mut next_answer = ANSWER_EVERY;
        while got < wire_total {
            match r_reader.read_some(&mut buf) {
                Ok(0) => panic!("closed early at {got}"),
                Ok(n) => got += n as u64,
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("read failed: {e}"),
            }
            while got >= next_answer {
                let _ = tick_tx.send(());
                next_answer += ANSWER_EVERY;
            }
        }
        drop(tick_tx);
        // Read to the end so the sender's finish is seen.
        loop {
            match r_reader.read_some(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        thread_cpu() - cpu0
    });
    let receiver_answers = spawn_named("recv-answers", move || {
        let cpu0 = thread_cpu();
        let answer = [0u8, 0, 0, 6, 0x09, 0, 0, 0, 1, 0];
        while tick_rx.recv().is_ok() {
            write_all(&mut *r_writer, &answer, &[]);
        }
        r_writer.finish();
        thread_cpu() - cpu0
    });
    // Sender: its second thread reads the answers.
    let done = Arc::new(AtomicBool::new(false));
    let sender_reads = spawn_named("send-reads", {
        let done = done.clone();
        move || {
            let cpu0 = thread_cpu();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match s_reader.read_some(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        if done.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            thread_cpu() - cpu0
        }
    });
    let cpu0 = thread_cpu();
    for _ in 0..frames {
        write_all(&mut *s_writer, &header, &payload);
    }
    s_writer.finish();
    let send_main = thread_cpu() - cpu0;
    let recv_a = receiver_reads.join().unwrap();
    let wall = started.elapsed().as_secs_f64();
    let recv_b = receiver_answers.join().unwrap();
    done.store(true, Ordering::Relaxed);
    let send_b = sender_reads.join().unwrap();
    let gib = total as f64 / (1u64 << 30) as f64;
    Run {
        wall: total as f64 / wall / 1e6,
        send_cpu: (send_main + send_b) as f64 / 1e9 / gib,
        recv_cpu: (recv_a + recv_b) as f64 / 1e9 / gib,
    }
}

/// A thread with a name (so a profile tells the four apart; the sender's writer is `main`).
fn spawn_named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    thread::Builder::new().name(name.to_string()).spawn(f).expect("a thread")
}

/// CPU seconds per GiB that AES-128-GCM alone costs one thread now: `mib` MiB sealed in place
/// in 16 KiB records, as each side of a TLS connection must.
fn aes_gcm_alone(mib: u64) -> f64 {
    use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7; 16]).unwrap());
    let mut record = vec![0x5a; 16 * 1024 + 1];
    let records = mib * 1024 * 1024 / (16 * 1024);
    let cpu0 = thread_cpu();
    for seq in 0..records {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&seq.to_be_bytes());
        let aad = Aad::from([23, 3, 3, 0x40, 0x11]);
        let tag =
            key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), aad, &mut record).unwrap();
        let _ = std::hint::black_box(tag);
    }
    (thread_cpu() - cpu0) as f64 / 1e9 / (mib as f64 / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let mib: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let total = mib * 1024 * 1024;
    let a = TlsContext::new(&DeviceIdentity::generate().unwrap()).unwrap();
    let b = TlsContext::new(&DeviceIdentity::generate().unwrap()).unwrap();
    println!("{runs} runs of {mib} MiB in 256 KiB DATA frames over loopback, both ends in this process");
    println!("{:<6} {:>4} {:>10} {:>16} {:>16}", "kind", "run", "MB/s", "send CPU s/GiB", "recv CPU s/GiB");
    let mut plain = Vec::new();
    let mut tls = Vec::new();
    let mut aes = Vec::new();
    for i in 0..runs {
        let alone = aes_gcm_alone(256);
        println!("{:<6} {:>4} {:>10} {:>16.3} {:>16}", "aes", i + 1, "-", alone, "-");
        aes.push(alone);
        let order: [bool; 2] = if i % 2 == 0 { [false, true] } else { [true, false] };
        for is_tls in order {
            let r = if is_tls { run(tls_pair(&a, &b), total) } else { run(plain_pair(), total) };
            let kind = if is_tls { "tls" } else { "plain" };
            println!("{kind:<6} {:>4} {:>10.0} {:>16.3} {:>16.3}", i + 1, r.wall, r.send_cpu, r.recv_cpu);
            if is_tls { tls.push(r) } else { plain.push(r) }
        }
    }
    let m = |v: &[Run], f: fn(&Run) -> f64| median(v.iter().map(f).collect());
    let spread = |v: &[Run], f: fn(&Run) -> f64| {
        let all: Vec<f64> = v.iter().map(f).collect();
        let (lo, hi) = all.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        (lo, hi)
    };
    let (pw, tw) = (m(&plain, |r| r.wall), m(&tls, |r| r.wall));
    let (ps, ts) = (m(&plain, |r| r.send_cpu), m(&tls, |r| r.send_cpu));
    let (pr, tr) = (m(&plain, |r| r.recv_cpu), m(&tls, |r| r.recv_cpu));
    println!();
    println!("medians (lowest-highest)   MB/s             send CPU s/GiB       recv CPU s/GiB");
    for (kind, v) in [("plain", &plain), ("tls", &tls)] {
        let (w, s, r) = (spread(v, |r| r.wall), spread(v, |r| r.send_cpu), spread(v, |r| r.recv_cpu));
        println!(
            "{kind:<6} {:>9.0} ({:.0}-{:.0}) {:>8.3} ({:.3}-{:.3}) {:>8.3} ({:.3}-{:.3})",
            m(v, |r| r.wall),
            w.0,
            w.1,
            m(v, |r| r.send_cpu),
            s.0,
            s.1,
            m(v, |r| r.recv_cpu),
            r.0,
            r.1
        );
    }
    println!("tls/plain {:>6.2} {:>25.2} {:>20.2}", tw / pw, ts / ps, tr / pr);
    println!("tls adds per GiB: sender {:.3} CPU s, receiver {:.3} CPU s", ts - ps, tr - pr);
    let a = median(aes.clone());
    let (lo, hi) = aes.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    println!("AES-128-GCM alone, one thread: {a:.3} ({lo:.3}-{hi:.3}) CPU s/GiB");
    println!(
        "tls adds beyond AES-GCM alone: sender {:.3} CPU s, receiver {:.3} CPU s",
        ts - ps - a,
        tr - pr - a
    );
}
