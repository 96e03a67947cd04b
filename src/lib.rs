//! Ferry moves photos and files between computers on the same network.
//!
//! The layers, bottom up (arrows point one way only):
//!
//! * [`text`] — untrusted text made fit to show (terminal and window alike). Pure.
//! * [`admission`] — who may open a connection: counts by address and stage, for every listener.
//! * [`identity`] — this device's key and certificate; fingerprints name devices.
//! * [`protocol`] — the wire format: discovery datagrams, TCP frames, messages, limits. Pure.
//! * [`events`] — the vocabulary the layers share: events, peers, outcomes, errors, timings.
//! * [`discovery`] — announcing ourselves over UDP broadcast and keeping the table of peers.
//! * [`transfer`] — sending and receiving one batch over one TLS 1.3 connection (protocol
//!   version 2: both device keys proven, a verification code at a first meeting); safe names and
//!   atomic writes on the receiving side.
//! * [`localsend`] — the LocalSend protocol (phones): its discovery, an HTTPS server and client,
//!   feeding the same events and the same store as Ferry's own transfers.
//! * [`engine`] — owns every background thread; [`engine::Command`] in, [`engine::Event`] out.
//! * [`settings`] — what the person chose, persisted as TOML.
//! * [`thumbnail`] — small JPEG previews of photos for offers (EXIF orientation respected).
//! * [`cli`] — the headless front end (`ferry send`, `ferry receive`, `ferry peers`).
//! * [`ui`] — the window (egui). Nothing below it knows egui exists.

pub mod admission;
pub mod cli;
pub mod discovery;
pub mod engine;
pub mod events;
pub mod identity;
pub mod localsend;
pub mod protocol;
pub mod settings;
pub mod text;
pub mod thumbnail;
pub mod transfer;
pub mod ui;
