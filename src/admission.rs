//! Who may open a connection: the one place that decides, for every listener, whether a new
//! connection from some address is let in or refused at once. Ferry's transfer listener uses it
//! today; the LocalSend HTTPS server and device trust will use the same one. It knows nothing of
//! any protocol: it counts connections by source address and by stage.
//!
//! A connection is **pending** from the moment it is let in until it has shown what it wants —
//! for Ferry, a complete offer the person is shown (or that is accepted for them) — and then
//! **engaged** ([`Ticket::engage`]). Pending connections are the cheap ones to open and hold
//! (connect, maybe say hello, then nothing), so they get a small allowance per address of
//! their own. The rules, checked in this order when a connection arrives:
//!
//! 1. at most [`Limits::total`] connections at once, whatever their stage or address;
//! 2. at most [`Limits::per_address`] from one address;
//! 3. at most [`Limits::pending_per_address`] pending ones from one address.
//!
//! So one address can never take every slot, and the connections one address holds open
//! without an offer never keep another address out: while one host holds forty idle
//! connections, it has [`Limits::pending_per_address`] of them inside and every other host
//! still gets in at once. (Spreading idle connections over many addresses is bounded by the
//! total and, for Ferry, by the deadline for the offer.)
//!
//! [`Admission::try_admit`] hands out a [`Ticket`]; dropping the ticket (the connection ended)
//! gives its place back. The handle is cheap to clone and safe to share between threads.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many connections are let in at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// All connections together.
    pub total: usize,
    /// From one address, pending and engaged.
    pub per_address: usize,
    /// From one address, not yet engaged.
    pub pending_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { total: 16, per_address: 8, pending_per_address: 4 }
    }
}

/// Why a connection was not let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("too many connections at once")]
    Full,
    #[error("too many connections from one address")]
    AddressFull,
    #[error("too many connections from one address that have not said what they want yet")]
    TooManyPending,
}

#[derive(Default)]
struct PerAddress {
    open: usize,
    pending: usize,
}

struct Counts {
    limits: Limits,
    open: usize,
    by_address: HashMap<IpAddr, PerAddress>,
}

/// Decides who may open a connection (see the module docs).
#[derive(Clone)]
pub struct Admission {
    counts: Arc<Mutex<Counts>>,
}

impl Admission {
    pub fn new(limits: Limits) -> Admission {
        Admission { counts: Arc::new(Mutex::new(Counts { limits, open: 0, by_address: HashMap::new() })) }
    }

    /// Lets a connection from `ip` in (pending), or says why not.
    pub fn try_admit(&self, ip: IpAddr) -> Result<Ticket, Refusal> {
        let ip = canonical(ip);
        let mut counts = self.lock();
        let limits = counts.limits;
        if counts.open >= limits.total {
            return Err(Refusal::Full);
        }
        let here = counts.by_address.entry(ip).or_default();
        let refusal = if here.open >= limits.per_address {
            Some(Refusal::AddressFull)
        } else if here.pending >= limits.pending_per_address {
            Some(Refusal::TooManyPending)
        } else {
            here.open += 1;
            here.pending += 1;
            None
        };
        if let Some(refusal) = refusal {
            if here.open == 0 {
                counts.by_address.remove(&ip);
            }
            return Err(refusal);
        }
        counts.open += 1;
        Ok(Ticket { counts: self.counts.clone(), ip, engaged: false })
    }

    /// Connections let in and not ended yet.
    pub fn open(&self) -> usize {
        self.lock().open
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        lock(&self.counts)
    }
}

/// One admitted connection's place; given back when dropped.
pub struct Ticket {
    counts: Arc<Mutex<Counts>>,
    ip: IpAddr,
    engaged: bool,
}

impl Ticket {
    /// The connection has shown what it wants (for Ferry: a complete offer): from now on it no
    /// longer counts against its address's allowance of pending connections.
    pub fn engage(&mut self) {
        if !self.engaged {
            self.engaged = true;
            if let Some(here) = lock(&self.counts).by_address.get_mut(&self.ip) {
                here.pending -= 1;
            }
        }
    }

    /// The address it was admitted for.
    pub fn address(&self) -> IpAddr {
        self.ip
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        counts.open -= 1;
        if let Some(here) = counts.by_address.get_mut(&self.ip) {
            here.open -= 1;
            if !self.engaged {
                here.pending -= 1;
            }
            if here.open == 0 {
                counts.by_address.remove(&self.ip);
            }
        }
    }
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket").field("ip", &self.ip).field("engaged", &self.engaged).finish()
    }
}

/// The counts stay right even if a thread panicked while holding the lock (every change is
/// one step).
fn lock(counts: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
    counts.lock().unwrap_or_else(|e| e.into_inner())
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) is the same address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 168, 1, last])
    }

    fn admission() -> Admission {
        Admission::new(Limits { total: 6, per_address: 4, pending_per_address: 2 })
    }

    #[test]
    fn pending_connections_from_one_address_do_not_keep_another_out() {
        let a = admission();
        let held: Vec<Ticket> = (0..2).map(|_| a.try_admit(ip(1)).unwrap()).collect();
        assert_eq!(a.try_admit(ip(1)).unwrap_err(), Refusal::TooManyPending);
        for _ in 0..40 {
            assert!(a.try_admit(ip(1)).is_err());
        }
        let other = a.try_admit(ip(2)).expect("another address gets in at once");
        assert_eq!(other.address(), ip(2));
        assert_eq!(a.open(), 3);
        drop(held);
        assert_eq!(a.open(), 1);
    }

    #[test]
    fn engaged_connections_leave_the_pending_allowance_but_not_the_others() {
        let a = admission();
        let mut engaged: Vec<Ticket> = (0..2).map(|_| a.try_admit(ip(1)).unwrap()).collect();
        engaged.iter_mut().for_each(Ticket::engage);
        engaged[0].engage(); // twice is once
        let pending: Vec<Ticket> = (0..2).map(|_| a.try_admit(ip(1)).unwrap()).collect();
        // Four from one address: its whole share, whatever their stage.
        assert_eq!(a.try_admit(ip(1)).unwrap_err(), Refusal::AddressFull);
        let more: Vec<Ticket> = (0..2).map(|_| a.try_admit(ip(2)).unwrap()).collect();
        assert_eq!(a.try_admit(ip(3)).unwrap_err(), Refusal::Full);
        drop(pending);
        drop(more);
        assert_eq!(a.open(), 2);
        // Their places came back: pending and engaged alike.
        let mut again: Vec<Ticket> = (0..2).map(|_| a.try_admit(ip(1)).unwrap()).collect();
        drop(engaged);
        assert_eq!(a.try_admit(ip(1)).unwrap_err(), Refusal::TooManyPending);
        again.iter_mut().for_each(Ticket::engage);
        let _fresh: Vec<Ticket> = (0..2).map(|_| a.try_admit(ip(1)).unwrap()).collect();
        assert_eq!(a.open(), 4);
        assert_eq!(a.try_admit(ip(1)).unwrap_err(), Refusal::AddressFull);
    }

    #[test]
    fn tickets_given_back_leave_nothing_behind() {
        let a = admission();
        for n in 0..100u8 {
            let mut t = a.try_admit(ip(n)).unwrap();
            if n % 2 == 0 {
                t.engage();
            }
        }
        assert_eq!(a.open(), 0);
        assert!(a.counts.lock().unwrap().by_address.is_empty());
    }

    #[test]
    fn an_ipv4_address_through_ipv6_is_the_same_address() {
        let a = admission();
        let v4 = IpAddr::from([10, 0, 0, 7]);
        let mapped = IpAddr::from(std::net::Ipv4Addr::new(10, 0, 0, 7).to_ipv6_mapped());
        let _one = a.try_admit(v4).unwrap();
        let two = a.try_admit(mapped).unwrap();
        assert_eq!(two.address(), v4);
        assert_eq!(a.try_admit(v4).unwrap_err(), Refusal::TooManyPending);
    }

    #[test]
    fn many_threads_admitting_and_leaving_keep_the_counts_right() {
        let a = Admission::new(Limits { total: 1000, per_address: 1000, pending_per_address: 1000 });
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let a = a.clone();
                s.spawn(move || {
                    for _ in 0..500 {
                        let mut ticket = a.try_admit(ip(t)).unwrap();
                        ticket.engage();
                    }
                });
            }
        });
        assert_eq!(a.open(), 0);
    }
}
