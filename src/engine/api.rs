//! What goes into the engine ([`Command`]). What comes out ([`crate::events::Event`]) and the
//! types both carry live in [`crate::events`], below every layer, and are re-exported here.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::events::{Decision, TransferId};

/// The settings a running engine can change without restarting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveSettings {
    pub device_name: Option<String>,
    pub receive_dir: Option<PathBuf>,
    pub accept_automatically: Option<bool>,
    /// Speak LocalSend (phones): on starts its side, off stops it and its devices leave the list.
    pub localsend: Option<bool>,
}

/// Everything a front end can ask of the engine.
#[derive(Clone, Debug)]
pub enum Command {
    /// Offer these files and folders to the device at `to`. Make `id` with [`TransferId::next`]
    /// so that the events of this transfer can be matched to it.
    Send {
        id: TransferId,
        to: SocketAddr,
        paths: Vec<PathBuf>,
    },
    /// Offer a piece of text (a link, a password, an address) to the device at `to`, at most
    /// [`crate::protocol::MAX_TEXT_BYTES`]: to a Ferry device as OFFER_TEXT (PROTOCOL.md §5), to
    /// a LocalSend device as LocalSend's app sends a message (docs/LOCALSEND.md 4.5). The events
    /// are those of a send of no files: started, waiting, accepted or declined, finished (with
    /// no file outcomes) or failed.
    SendText {
        id: TransferId,
        to: SocketAddr,
        text: String,
    },
    /// Answer an [`crate::events::Event::IncomingOffer`].
    Answer {
        transfer: TransferId,
        decision: Decision,
    },
    /// Stop a transfer (either direction, any stage, including an unanswered offer).
    Cancel(TransferId),
    /// Add a device by `host:port` where broadcast does not reach; a direct hello confirms it.
    AddPeer(String),
    /// Ask the network "who is there?" now.
    RefreshDiscovery,
    UpdateSettings(LiveSettings),
    /// Stop everything; the engine emits [`crate::events::Event::Stopped`] and its threads end.
    Shutdown,
}
