//! What the command line prints: progress bars and sentences for people, or one JSON object per
//! line (`--json`) for scripts. Human sentences go to stderr in JSON mode so stdout stays parseable.
//!
//! Every string that came from another computer (file names, device names, error texts) is
//! shown through [`crate::text::display`] (re-exported here as [`shown`]): a control sequence in
//! it reaches the terminal only as a visible escape (`evil\u{1b}[31m.txt`). JSON stays exact.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{Event, TransferId};
pub use crate::text::display as shown;

pub struct Output {
    json: bool,
    multi: MultiProgress,
    bars: HashMap<TransferId, ProgressBar>,
}

impl Output {
    pub fn new(json: bool) -> Output {
        let multi = MultiProgress::new();
        if json {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        Output { json, multi, bars: HashMap::new() }
    }

    /// In JSON mode, prints `event` as one line; otherwise nothing.
    pub fn event(&self, event: &Event) {
        if self.json {
            println!("{}", event_json(event));
        }
    }

    /// A sentence for people: stderr in JSON mode, above the bars on a terminal, else stdout.
    pub fn say(&self, text: impl AsRef<str>) {
        if self.json {
            eprintln!("{}", text.as_ref());
        } else if self.multi.is_hidden() {
            println!("{}", text.as_ref());
        } else {
            let _ = self.multi.println(text.as_ref());
        }
    }

    /// A spinner while waiting for the other side.
    pub fn waiting(&mut self, id: TransferId, text: String) {
        if self.json {
            return;
        }
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_message(text);
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Some(old) = self.bars.insert(id, bar) {
            old.finish_and_clear();
        }
    }

    pub fn start_bar(&mut self, id: TransferId, total: u64, label: String) {
        if self.json {
            return;
        }
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:28.cyan/blue}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta} left  {wide_msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(label);
        if let Some(old) = self.bars.insert(id, bar) {
            old.finish_and_clear();
        }
    }

    pub fn progress(&mut self, id: TransferId, done: u64, total: u64, current: &str) {
        if let Some(bar) = self.bars.get(&id) {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(shown(current).into_owned());
        }
    }

    pub fn end_bar(&mut self, id: TransferId) {
        if let Some(bar) = self.bars.remove(&id) {
            bar.finish_and_clear();
        }
    }
}

/// `{"event": "...", "data": {...}}`; failures carry their plain-language `message` too, and a
/// finished batch whose files could not be saved its reason as `save_failure` (`disk_full`,
/// `folder_not_writable`, `folder_gone`: stable values for scripts; each file's `result` has
/// the same words).
pub fn event_json(event: &Event) -> String {
    let mut value = serde_json::to_value(event)
        .unwrap_or_else(|e| serde_json::json!({ "event": "error", "data": e.to_string() }));
    let data = value.get_mut("data").and_then(|d| d.as_object_mut());
    match (event, data) {
        (Event::TransferFailed { error, .. }, Some(data)) => {
            data.insert("message".into(), error.to_string().into());
        }
        (Event::TransferFinished { files, .. }, Some(data)) => {
            if let Some(failure) = crate::engine::SaveFailure::of_batch(files) {
                data.insert("save_failure".into(), serde_json::to_value(failure).unwrap_or_default());
            }
        }
        _ => {}
    }
    value.to_string()
}

/// "3 files (12.5 MiB)".
pub fn count_and_size(files: usize, bytes: u64) -> String {
    let noun = if files == 1 { "file" } else { "files" };
    format!("{files} {noun} ({})", HumanBytes(bytes))
}

/// "3 files (12.5 MiB)" for the files of a finished batch that were saved.
pub fn saved(files: &[crate::engine::FileOutcome]) -> String {
    let saved = files.iter().filter(|f| f.result == crate::protocol::FileResult::Saved);
    let (count, bytes) = saved.fold((0, 0), |(n, b), f| (n + 1, b + f.size));
    count_and_size(count, bytes)
}
