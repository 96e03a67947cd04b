//! What the sender knows for itself about every offered file — accepted or not, ended with
//! FILE_END or FILE_SKIP — and what the receiver has said about each. Every claim the receiver
//! makes (a FILE_RESULT, the SUMMARY) is checked against it; a claim that contradicts it is a
//! protocol error (PROTOCOL.md §6.4), so a receiver cannot make the sender report as saved a
//! file it never sent. Pure bookkeeping: no I/O.

use crate::protocol::{Answer, FileResult};

/// What this side did with one offered file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sent {
    /// Left out of the ANSWER.
    NotAccepted,
    /// Accepted, not (yet) begun.
    Pending,
    /// FILE_BEGIN went out, and neither FILE_END nor FILE_SKIP yet.
    Begun,
    /// FILE_END went out.
    Ended,
    /// FILE_SKIP Unreadable or Changed went out.
    Skipped,
    /// FILE_SKIP Abandoned went out: given up because the receiver cannot save it.
    Abandoned,
}

impl Sent {
    /// May the receiver say `result` about a file this side treated so?
    fn allows(self, result: FileResult) -> bool {
        use FileResult::*;
        match self {
            Sent::NotAccepted => matches!(result, NotAccepted | UnsafeName),
            Sent::Pending => false,
            // A write failure is reported as soon as it happens, before FILE_END.
            Sent::Begun => result.is_write_failure(),
            Sent::Ended => {
                matches!(result, Saved | HashMismatch | SizeMismatch | UnsafeName)
                    || result.is_write_failure()
            }
            Sent::Skipped => result == SenderSkipped,
            // Not sent (the receiver heard FILE_SKIP Abandoned first), or a write failure the
            // receiver reported while the FILE_SKIP was on its way.
            Sent::Abandoned => result == NotSent || result.is_write_failure(),
        }
    }

    fn words(self) -> &'static str {
        match self {
            Sent::NotAccepted => "it was not accepted",
            Sent::Pending => "it has not been sent",
            Sent::Begun => "it is still being sent",
            Sent::Ended => "it was sent whole",
            Sent::Skipped => "it was skipped",
            Sent::Abandoned => "it was given up",
        }
    }
}

pub(super) struct Evidence {
    sent: Vec<Sent>,
    /// The FILE_RESULT received for each file, if any.
    reported: Vec<Option<FileResult>>,
}

impl Evidence {
    /// `count` files were offered and `answer` accepted some of them.
    pub(super) fn new(count: usize, answer: &Answer) -> Evidence {
        let sent = (0..count)
            .map(|i| if answer.accepts(i as u32) { Sent::Pending } else { Sent::NotAccepted })
            .collect();
        Evidence { sent, reported: vec![None; count] }
    }

    /// FILE_END for `index` is on its way (called before it is written, so any answer to it
    /// finds it recorded).
    pub(super) fn ended(&mut self, index: u32) {
        self.sent[index as usize] = Sent::Ended;
    }

    /// FILE_BEGIN for `index` is on its way.
    pub(super) fn begun(&mut self, index: u32) {
        self.sent[index as usize] = Sent::Begun;
    }

    /// FILE_SKIP for `index` is on its way.
    pub(super) fn skipped(&mut self, index: u32) {
        self.sent[index as usize] = Sent::Skipped;
    }

    /// FILE_SKIP Abandoned for `index` is on its way.
    pub(super) fn abandoned(&mut self, index: u32) {
        self.sent[index as usize] = Sent::Abandoned;
    }

    /// Accepted files not begun yet, in index order (to give up when the receiver can save no more).
    pub(super) fn pending(&self) -> impl Iterator<Item = u32> + '_ {
        self.sent.iter().enumerate().filter(|(_, s)| **s == Sent::Pending).map(|(i, _)| i as u32)
    }

    /// A FILE_RESULT. `Err` says how it contradicts what was sent (`name` names a file).
    pub(super) fn result(
        &mut self,
        index: u32,
        result: FileResult,
        name: impl Fn(usize) -> String,
    ) -> Result<(), String> {
        let i = index as usize;
        let Some(&sent) = self.sent.get(i) else {
            return Err(format!("a FILE_RESULT for file {index}, which was not offered"));
        };
        if self.reported[i].is_some() {
            return Err(format!("a second FILE_RESULT for {}", name(i)));
        }
        if !sent.allows(result) {
            return Err(format!("a FILE_RESULT says {} was {result:?}, but {}", name(i), sent.words()));
        }
        self.reported[i] = Some(result);
        Ok(())
    }

    /// The SUMMARY (after DONE, so nothing is pending). `Err` says how it contradicts what was
    /// sent or what the FILE_RESULTs said.
    pub(super) fn summary(
        &self,
        summary: &[FileResult],
        name: impl Fn(usize) -> String,
    ) -> Result<(), String> {
        if summary.len() != self.sent.len() {
            return Err(format!(
                "the SUMMARY lists {} files, but {} were offered",
                summary.len(),
                self.sent.len()
            ));
        }
        for (i, (&result, &sent)) in summary.iter().zip(&self.sent).enumerate() {
            if !sent.allows(result) {
                return Err(format!("the SUMMARY says {} was {result:?}, but {}", name(i), sent.words()));
            }
            match (sent, self.reported[i]) {
                (Sent::Ended | Sent::Skipped | Sent::Abandoned, None) => {
                    return Err(format!("the SUMMARY came before the FILE_RESULT for {}", name(i)));
                }
                (_, Some(reported)) if reported != result => {
                    return Err(format!(
                        "the SUMMARY says {} was {result:?}, but its FILE_RESULT said {reported:?}",
                        name(i)
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FileResult::*;

    fn name(i: usize) -> String {
        format!("file {i}")
    }

    /// Three files, the first two accepted; file 0 sent, file 1 skipped.
    fn evidence() -> Evidence {
        let mut e = Evidence::new(3, &Answer::AcceptSome { file_count: 3, indices: vec![0, 1] });
        e.ended(0);
        e.skipped(1);
        e
    }

    #[test]
    fn an_honest_report_passes() {
        let mut e = evidence();
        e.result(0, HashMismatch, name).unwrap();
        e.result(1, SenderSkipped, name).unwrap();
        e.summary(&[HashMismatch, SenderSkipped, NotAccepted], name).unwrap();
        let mut e = evidence();
        e.result(0, Saved, name).unwrap();
        e.result(1, SenderSkipped, name).unwrap();
        e.summary(&[Saved, SenderSkipped, UnsafeName], name).unwrap();
    }

    #[test]
    fn a_summary_claiming_files_that_were_never_sent_is_refused() {
        let mut e = evidence();
        e.result(0, HashMismatch, name).unwrap();
        e.result(1, SenderSkipped, name).unwrap();
        let err = e.summary(&[Saved, Saved, Saved], name).unwrap_err();
        assert!(err.contains("file 0 was Saved, but its FILE_RESULT said HashMismatch"), "{err}");
        let err = e.summary(&[HashMismatch, SenderSkipped, Saved], name).unwrap_err();
        assert!(err.contains("file 2 was Saved, but it was not accepted"), "{err}");
        let err = e.summary(&[HashMismatch, Saved, NotAccepted], name).unwrap_err();
        assert!(err.contains("file 1 was Saved, but it was skipped"), "{err}");
        assert!(e.summary(&[HashMismatch, SenderSkipped], name).is_err());
        // NotSent never fits a file that was ended or skipped.
        assert!(e.summary(&[NotSent, SenderSkipped, NotAccepted], name).is_err());
    }

    #[test]
    fn a_summary_before_the_file_results_is_refused() {
        let e = evidence();
        let err = e.summary(&[Saved, SenderSkipped, NotAccepted], name).unwrap_err();
        assert!(err.contains("before the FILE_RESULT for file 0"), "{err}");
    }

    #[test]
    fn file_results_must_fit_what_was_sent() {
        let mut e = Evidence::new(3, &Answer::AcceptAll);
        e.ended(0);
        assert!(e.result(1, Saved, name).unwrap_err().contains("has not been sent"));
        assert!(e.result(3, Saved, name).unwrap_err().contains("not offered"));
        assert!(e.result(0, SenderSkipped, name).is_err());
        assert!(e.result(0, NotSent, name).is_err());
        e.result(0, Saved, name).unwrap();
        assert!(e.result(0, Saved, name).unwrap_err().contains("second"));
        e.skipped(1);
        assert!(e.result(1, Saved, name).is_err());
        e.result(1, SenderSkipped, name).unwrap();
    }

    #[test]
    fn a_write_failure_may_come_before_file_end_and_abandoned_files_were_not_sent() {
        let mut e = Evidence::new(3, &Answer::AcceptAll);
        e.begun(0);
        assert!(e.result(0, Saved, name).unwrap_err().contains("still being sent"));
        e.result(0, DiskFull, name).unwrap();
        e.abandoned(0);
        assert_eq!(e.pending().collect::<Vec<_>>(), [1, 2]);
        e.abandoned(1);
        e.abandoned(2);
        assert!(e.result(1, Saved, name).is_err());
        assert!(e.result(1, SenderSkipped, name).is_err());
        e.result(1, NotSent, name).unwrap();
        // The SUMMARY must wait for every FILE_RESULT, and NotSent now fits the abandoned ones.
        assert!(e.summary(&[DiskFull, NotSent, NotSent], name).unwrap_err().contains("file 2"));
        e.result(2, FolderGone, name).unwrap();
        e.summary(&[DiskFull, NotSent, FolderGone], name).unwrap();
    }
}
