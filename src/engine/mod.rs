//! The engine: owns every background thread (discovery, listener, one per transfer) and talks to
//! a front end through one channel of [`Command`]s in and one of [`Event`]s out.

mod api;
mod config;

pub use api::*;
pub use config::{EngineConfig, Timing};
