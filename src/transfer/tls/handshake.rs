//! Driving rustls' handshake over a socket with a deadline, and taking the finished connection
//! apart for the halves.
//!
//! The handshake runs on rustls' *unbuffered* connections (`UnbufferedClientConnection`,
//! `UnbufferedServerConnection`): the same handshake, certificate checks and alerts as its
//! buffered ones, with the bytes in buffers of ours. That is what lets the finished connection
//! become a [`rustls::kernel::KernelConnection`] (rustls' supported way to hand the record layer
//! to someone else, made for kernel TLS), whose traffic keys the halves use with their own
//! record layer ([`super::record`]) while rustls keeps the key schedule.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rustls::client::UnbufferedClientConnection;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use rustls::{CommonState, ExtractedSecrets};

use super::record::Kernel;
use super::{Failure, halves_timeout, wait_left, write_all_by};

/// Room for the other side's whole handshake flight (Ferry's is under 2 KiB: one small
/// certificate). A flight that does not fit fails the handshake.
const INCOMING: usize = 64 * 1024;

/// How many of the first bytes a client keeps: enough for a version-1 ERROR frame.
const KEEP_FIRST: usize = 2048;

/// How long an alert about a failed handshake is given to leave.
const ALERT_WITHIN: Duration = Duration::from_millis(200);

/// Either side's unbuffered connection, as [`drive`] uses it.
pub(super) trait Unbuffered {
    type Data;
    fn process<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data>;
    fn common(&self) -> &CommonState;
    /// The traffic keys and rustls' key schedule, once the handshake is over.
    fn into_kernel(self) -> Result<(ExtractedSecrets, Kernel), rustls::Error>;
}

impl Unbuffered for UnbufferedClientConnection {
    type Data = rustls::client::ClientConnectionData;

    fn process<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }

    fn common(&self) -> &CommonState {
        self
    }

    fn into_kernel(self) -> Result<(ExtractedSecrets, Kernel), rustls::Error> {
        let (secrets, kernel) = self.dangerous_into_kernel_connection()?;
        Ok((secrets, Kernel::client(kernel)))
    }
}

impl Unbuffered for UnbufferedServerConnection {
    type Data = rustls::server::ServerConnectionData;

    fn process<'c, 'i>(&'c mut self, incoming: &'i mut [u8]) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }

    fn common(&self) -> &CommonState {
        self
    }

    fn into_kernel(self) -> Result<(ExtractedSecrets, Kernel), rustls::Error> {
        let (secrets, kernel) = self.dangerous_into_kernel_connection()?;
        Ok((secrets, Kernel::server(kernel)))
    }
}

/// The bytes of one handshake: what came in and is not yet used, what goes out next, and what
/// came in after the handshake's end.
pub(super) struct Wire<'a> {
    tcp: &'a TcpStream,
    deadline: Instant,
    incoming: Box<[u8]>,
    filled: usize,
    outgoing: Vec<u8>,
    /// The first bytes that came in, when asked to keep them (to recognise a plaintext answer).
    pub seen: Option<Vec<u8>>,
    /// Application data that came in with the end of the handshake.
    plaintext: Vec<u8>,
    /// The other side said `close_notify` right after the handshake.
    peer_closed: bool,
}

/// What to do after one `process_tls_records`.
enum Step {
    Again,
    Read,
    /// Application data may be sent: the handshake is over unless rustls still says it is not
    /// (a server may send before the client's Finished, Ferry's does not).
    MayWrite,
    PeerClosed,
    Failed(rustls::Error),
}

impl<'a> Wire<'a> {
    /// `first` are bytes already read from `tcp`; with `keep_seen`, the first bytes that come
    /// in are kept in [`Wire::seen`].
    pub fn new(tcp: &'a TcpStream, deadline: Instant, first: &[u8], keep_seen: bool) -> Wire<'a> {
        let mut incoming = vec![0u8; INCOMING].into_boxed_slice();
        incoming[..first.len()].copy_from_slice(first);
        Wire {
            tcp,
            deadline,
            incoming,
            filled: first.len(),
            outgoing: Vec::new(),
            seen: keep_seen.then(Vec::new),
            plaintext: Vec::new(),
            peer_closed: false,
        }
    }

    /// What came in with the end of the handshake: application data, the ciphertext of a
    /// record not all in yet, and whether the other side has already said `close_notify`.
    pub fn into_rest(self) -> (Vec<u8>, Vec<u8>, bool) {
        (self.plaintext, self.incoming[..self.filled].to_vec(), self.peer_closed)
    }

    fn discard(&mut self, n: usize) {
        self.incoming.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// One socket read, waiting until the deadline at most.
    fn read(&mut self) -> Result<(), Failure> {
        if self.filled == self.incoming.len() {
            return Err(Failure::Tls(rustls::Error::General("the other side's handshake is too big".into())));
        }
        loop {
            let left = wait_left(self.deadline).ok_or(Failure::TimedOut)?;
            self.tcp.set_read_timeout(Some(left)).map_err(Failure::Io)?;
            match (&*self.tcp).read(&mut self.incoming[self.filled..]) {
                Ok(0) => return Err(Failure::Eof),
                Ok(n) => {
                    if let Some(seen) = &mut self.seen {
                        let keep = n.min(KEEP_FIRST.saturating_sub(seen.len()));
                        seen.extend_from_slice(&self.incoming[self.filled..self.filled + keep]);
                    }
                    self.filled += n;
                    return Ok(());
                }
                Err(e) if halves_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Failure::Io(e)),
            }
        }
    }

    /// Writes everything encoded so far, by `deadline`.
    fn transmit(&mut self, deadline: Instant) -> Result<(), Failure> {
        let sent = write_all_by(self.tcp, &self.outgoing, deadline);
        self.outgoing.clear();
        sent.map_err(|e| if halves_timeout(&e) { Failure::TimedOut } else { Failure::Io(e) })
    }
}

/// Appends what `encode` writes to `out`, giving it as much room as it asks for.
fn encode_into(
    out: &mut Vec<u8>,
    mut encode: impl FnMut(&mut [u8]) -> Result<usize, Option<usize>>,
) -> Result<(), Failure> {
    let mut room = 4096;
    loop {
        let at = out.len();
        out.resize(at + room, 0);
        match encode(&mut out[at..]) {
            Ok(n) => {
                out.truncate(at + n);
                return Ok(());
            }
            Err(Some(needed)) if needed > room => {
                out.truncate(at);
                room = needed;
            }
            Err(_) => {
                out.truncate(at);
                return Err(Failure::Tls(rustls::Error::General(
                    "a handshake message could not be encoded".into(),
                )));
            }
        }
    }
}

fn encode_error(e: EncodeError) -> Option<usize> {
    match e {
        EncodeError::InsufficientSize(s) => Some(s.required_size),
        _ => None,
    }
}

fn encrypt_error(e: EncryptError) -> Option<usize> {
    match e {
        EncryptError::InsufficientSize(s) => Some(s.required_size),
        _ => None,
    }
}

/// Runs the handshake until it is over (both keys proven, rustls' last flight sent) or fails;
/// a failure rustls has an alert for sends that alert first.
pub(super) fn drive<C: Unbuffered>(conn: &mut C, wire: &mut Wire<'_>) -> Result<(), Failure> {
    loop {
        let UnbufferedStatus { mut discard, state } = conn.process(&mut wire.incoming[..wire.filled]);
        let step = match state {
            Err(e) => Step::Failed(e),
            Ok(ConnectionState::EncodeTlsData(mut data)) => {
                encode_into(&mut wire.outgoing, |out| data.encode(out).map_err(encode_error))?;
                Step::Again
            }
            Ok(ConnectionState::TransmitTlsData(data)) => {
                let sent = write_all_by(wire.tcp, &wire.outgoing, wire.deadline);
                wire.outgoing.clear();
                sent.map_err(|e| if halves_timeout(&e) { Failure::TimedOut } else { Failure::Io(e) })?;
                data.done();
                Step::Again
            }
            Ok(ConnectionState::BlockedHandshake) => Step::Read,
            Ok(ConnectionState::WriteTraffic(_)) => Step::MayWrite,
            Ok(ConnectionState::ReadTraffic(mut records)) => {
                let mut step = Step::Again;
                while let Some(record) = records.next_record() {
                    match record {
                        Ok(record) => {
                            discard += record.discard;
                            wire.plaintext.extend_from_slice(record.payload);
                        }
                        Err(e) => {
                            step = Step::Failed(e);
                            break;
                        }
                    }
                }
                step
            }
            Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => Step::PeerClosed,
            Ok(_) => Step::Failed(rustls::Error::General("early data, which Ferry never accepts".into())),
        };
        wire.discard(discard);
        match step {
            Step::Again => {}
            Step::Read => wire.read()?,
            Step::MayWrite if conn.common().is_handshaking() => wire.read()?,
            Step::MayWrite => return Ok(()),
            Step::PeerClosed if conn.common().is_handshaking() => return Err(Failure::Eof),
            Step::PeerClosed => {
                wire.peer_closed = true;
                return Ok(());
            }
            Step::Failed(e) => {
                send_alert(conn, wire);
                return Err(Failure::Tls(e));
            }
        }
    }
}

/// After a failed handshake: the alert rustls queued, as far as the other side listens. (rustls
/// gives it out before it looks at the incoming bytes again, which must be the same ones.)
fn send_alert<C: Unbuffered>(conn: &mut C, wire: &mut Wire<'_>) {
    let status = conn.process(&mut wire.incoming[..wire.filled]);
    if let Ok(ConnectionState::EncodeTlsData(mut data)) = status.state {
        let _ = encode_into(&mut wire.outgoing, |out| data.encode(out).map_err(encode_error));
    }
    let _ = wire.transmit(Instant::now() + ALERT_WITHIN);
}

/// After a finished handshake that is not Ferry's: `close_notify`, as far as the other side
/// listens.
pub(super) fn close<C: Unbuffered>(conn: &mut C, wire: &mut Wire<'_>) {
    let status = conn.process(&mut wire.incoming[..wire.filled]);
    if let Ok(ConnectionState::WriteTraffic(mut traffic)) = status.state {
        let _ = encode_into(&mut wire.outgoing, |out| traffic.queue_close_notify(out).map_err(encrypt_error));
    }
    let _ = wire.transmit(Instant::now() + ALERT_WITHIN);
}
