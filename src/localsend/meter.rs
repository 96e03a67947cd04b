//! Progress of one LocalSend transfer, reported the way Ferry's own transfers report it: at most
//! one [`Event::Progress`] every 50 ms, with a rate smoothed over quarter-second windows.
//! Several uploads of one session may run at once; they share one meter.

use std::time::{Duration, Instant};

use crate::events::{Event, TransferId};
use crate::transfer::Emit;

const EVERY: Duration = Duration::from_millis(50);
const WINDOW: Duration = Duration::from_millis(250);

pub struct Meter {
    transfer: TransferId,
    total: u64,
    done: u64,
    current: String,
    last_emit: Option<Instant>,
    window_start: Instant,
    window_bytes: u64,
    rate: f64,
}

impl Meter {
    pub fn new(transfer: TransferId, total: u64) -> Meter {
        Meter {
            transfer,
            total,
            done: 0,
            current: String::new(),
            last_emit: None,
            window_start: Instant::now(),
            window_bytes: 0,
            rate: 0.0,
        }
    }

    pub fn set_file(&mut self, name: &str) {
        name.clone_into(&mut self.current);
    }

    /// Counts `n` more bytes (negative amounts are not a thing: a failed file's bytes stay
    /// counted, as in Ferry's own transfers, so the bar never runs backwards).
    pub fn add(&mut self, n: u64, emit: &Emit) {
        self.done = self.done.saturating_add(n);
        self.window_bytes += n;
        if self.last_emit.is_none_or(|t| t.elapsed() >= EVERY) {
            self.emit(emit);
        }
    }

    /// Reports now, whatever the clock says (the end of a transfer).
    pub fn flush(&mut self, emit: &Emit) {
        self.emit(emit);
    }

    fn emit(&mut self, emit: &Emit) {
        let now = Instant::now();
        let window = now.duration_since(self.window_start);
        if window >= WINDOW {
            let instant = self.window_bytes as f64 / window.as_secs_f64();
            self.rate = if self.rate == 0.0 { instant } else { 0.7 * self.rate + 0.3 * instant };
            self.window_start = now;
            self.window_bytes = 0;
        }
        self.last_emit = Some(now);
        emit(Event::Progress {
            transfer: self.transfer,
            bytes_done: self.done.min(self.total),
            bytes_total: self.total,
            current_file: self.current.clone(),
            rate: self.rate,
        });
    }
}
