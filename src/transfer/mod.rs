//! Sending and receiving one batch of files over one TCP connection.
//!
//! * [`names`] — names from the network become safe path components, or the file is refused.
//! * [`store`] — the receiving side's disk: temporary `.part` files, atomic never-overwriting
//!   final names, and cleanup of crash leftovers.

pub mod names;
pub mod store;
