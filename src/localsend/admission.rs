//! Who may open a connection to the LocalSend port: at most [`PER_ADDRESS`] at once from one
//! address and [`TOTAL`] in all. A connection over the cap is closed at once, before TLS or any
//! parsing. ([`admit`] is the one function the server calls, so that Ferry's shared admission
//! module can take over here when it lands.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// A phone uploads a few files in parallel and registers on the side; 8 leaves room for that.
pub const PER_ADDRESS: usize = 8;
/// Everyone together.
pub const TOTAL: usize = 64;

#[derive(Default)]
pub struct Admission {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// Held for the life of one admitted connection.
pub struct Permit {
    admission: Arc<Admission>,
    ip: IpAddr,
}

/// A permit for one more connection from `ip`, or `None` when it is over a cap.
pub fn admit(admission: &Arc<Admission>, ip: IpAddr) -> Option<Permit> {
    let mut open = admission.open.lock().expect("admission lock");
    let total: usize = open.values().sum();
    let mine = open.get(&ip).copied().unwrap_or(0);
    if total >= TOTAL || mine >= PER_ADDRESS {
        return None;
    }
    *open.entry(ip).or_insert(0) += 1;
    Some(Permit { admission: admission.clone(), ip })
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.admission.open.lock().expect("admission lock");
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_in_all_and_frees_on_drop() {
        let a = Arc::new(Admission::default());
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        let mine: Vec<_> = (0..PER_ADDRESS).map(|_| admit(&a, ip(1)).unwrap()).collect();
        assert!(admit(&a, ip(1)).is_none());
        assert!(admit(&a, ip(2)).is_some());
        drop(mine);
        assert!(admit(&a, ip(1)).is_some());
        let many: Vec<_> = (0..TOTAL).map(|i| admit(&a, ip(10 + (i / PER_ADDRESS) as u8)).unwrap()).collect();
        assert!(admit(&a, ip(200)).is_none());
        drop(many);
        assert!(a.open.lock().unwrap().is_empty());
    }
}
