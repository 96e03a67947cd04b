//! A stop request shared by the tasks of one transfer (and by the whole module at shutdown):
//! set once, with a reason, and awaitable.

use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Notify;

use crate::protocol::CancelReason;

/// Why a transfer is being stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Cancel was pressed here, or the app is closing (the reason says which).
    Here(CancelReason),
    /// The other device cancelled.
    Peer,
}

#[derive(Default)]
pub struct Stop {
    /// 0: running; 1, 2: cancelled here (user, shutdown); 3: by the peer.
    state: AtomicU8,
    notify: Notify,
}

impl Stop {
    /// Sets the reason unless one was set before (the first word counts), and wakes every waiter.
    pub fn request(&self, why: Why) {
        let code = match why {
            Why::Here(CancelReason::User) => 1,
            Why::Here(CancelReason::Shutdown) => 2,
            Why::Peer => 3,
        };
        let _ = self.state.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn get(&self) -> Option<Why> {
        match self.state.load(Ordering::SeqCst) {
            0 => None,
            1 => Some(Why::Here(CancelReason::User)),
            2 => Some(Why::Here(CancelReason::Shutdown)),
            _ => Some(Why::Peer),
        }
    }

    /// Resolves once a stop is requested (at once if it already was).
    pub async fn wait(&self) -> Why {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before looking, so a request in between is not missed.
            notified.as_mut().enable();
            if let Some(why) = self.get() {
                return why;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_counts_and_waiters_wake() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let stop = std::sync::Arc::new(Stop::default());
        assert_eq!(stop.get(), None);
        let waiter = {
            let stop = stop.clone();
            rt.spawn(async move { stop.wait().await })
        };
        stop.request(Why::Peer);
        stop.request(Why::Here(CancelReason::User));
        assert_eq!(rt.block_on(waiter).unwrap(), Why::Peer);
        assert_eq!(rt.block_on(stop.wait()), Why::Peer);
    }
}
