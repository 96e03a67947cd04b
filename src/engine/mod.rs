//! The engine: owns every background thread (discovery, listener, one per transfer) and talks to
//! a front end through one channel of [`Command`]s in and one of [`Event`]s out.

mod api;
mod config;

use std::net::SocketAddr;

pub use api::*;
pub use config::{EngineConfig, Timing, env, parse_broadcast_target};
use crossbeam_channel::{Receiver, Sender};

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Couldn't accept transfers on port {port}: {source}. Is another copy of Ferry already running?")]
    Listen { port: u16, source: std::io::Error },
}

/// A running engine. Dropping it shuts it down.
pub struct Engine {
    commands: Sender<Command>,
    events: Receiver<Event>,
    transfer_addr: SocketAddr,
}

impl Engine {
    /// Binds the transfer port, starts discovery and every background thread. `waker` is called
    /// after each event.
    pub fn start(_config: EngineConfig, _waker: Waker) -> Result<Engine, StartError> {
        unimplemented!("the engine lands in the next commit")
    }

    /// Where to send [`Command`]s.
    pub fn commands(&self) -> Sender<Command> {
        self.commands.clone()
    }

    /// Where [`Event`]s arrive.
    pub fn events(&self) -> Receiver<Event> {
        self.events.clone()
    }

    /// The address the transfer listener is bound to.
    pub fn transfer_addr(&self) -> SocketAddr {
        self.transfer_addr
    }

    /// Stops every thread and waits for them.
    pub fn shutdown(self) {}
}
