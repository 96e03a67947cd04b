//! TLS 1.3's record layer for application traffic (RFC 8446 §5), after rustls has done the
//! handshake: sealing and opening records in buffers the halves own, and the few messages that
//! may follow a handshake (alerts, KeyUpdate, NewSessionTicket). Pure: no sockets, no threads.
//!
//! Why not rustls' own record layer: in rustls 0.23 every record costs an allocation and two
//! copies on each side (plaintext into a fresh `Vec`, then into the caller's buffer or the
//! socket's), which on this hardware cost more than AES-GCM itself. Here a record is sealed in
//! place in the writer's output buffer and opened in place — with *ring*'s `open_within`, which
//! moves the plaintext to its place while it decrypts — in whichever buffer the reader read
//! the socket into, so the only copy left is the writer's one from the caller's slices.
//!
//! What rustls still does: the whole handshake, and the key schedule. rustls' kernel API
//! ([`rustls::kernel::KernelConnection`], made for kTLS) hands over the traffic keys with their
//! sequence numbers and computes the next keys when either side updates them; the halves call
//! it through [`Kernel`], the record layer through the [`KeySchedule`] it implements.
//!
//! The rules kept here, each as RFC 8446 says:
//!
//! * Nonce = the IV XOR the 64-bit record sequence number; a sequence number is never reused and
//!   never wraps (keys are updated long before: see [`Sealer::due_for_update`]).
//! * Every record is `application_data` on the outside, its real type the last non-zero byte of
//!   the decrypted content; the 5-byte header is the additional data. Ciphertext over
//!   2^14 + 256 bytes or content over 2^14 is `record_overflow`; a record that fails to decrypt is
//!   `bad_record_mac`; a change_cipher_spec or plaintext record after the handshake is
//!   `unexpected_message`.
//! * Alerts: `close_notify` ends the stream cleanly; `user_canceled` is ignored; any other alert
//!   ends the connection with an error. An alert must be exactly two bytes.
//! * Handshake messages after the handshake: KeyUpdate (its `request_update` must be 0 or 1;
//!   it must end its record) and, on the client, NewSessionTicket, which is ignored (Ferry never
//!   resumes). Anything else is `unexpected_message`. Messages may span records, up to
//!   [`MAX_HANDSHAKE_MESSAGE`] bytes; records of another type may not come between the pieces.
//! * Records that carry no data (key updates, tickets, empty records, `user_canceled`) are
//!   limited to [`MAX_IDLE_RECORDS`] in a row, so a peer cannot keep a reader busy with them.

use std::fmt;
use std::sync::Mutex;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use rustls::client::ClientConnectionData;
use rustls::kernel::KernelConnection;
use rustls::server::ServerConnectionData;
use rustls::{AlertDescription, ConnectionTrafficSecrets, SupportedCipherSuite};

/// A record's header: type, legacy version (03 03), length.
pub const HEADER: usize = 5;
/// Most content one record carries (2^14; Ferry sends records of exactly this much).
pub const MAX_CONTENT: usize = 16 * 1024;
/// The AEAD tag of all three of Ferry's cipher suites.
pub const TAG: usize = 16;
/// Most ciphertext one record may carry: content, its type byte, padding and tag (RFC 8446
/// §5.2: 2^14 + 256).
pub const MAX_CIPHERTEXT: usize = MAX_CONTENT + 256;
/// The largest record there is, header included.
pub const MAX_RECORD_LEN: usize = HEADER + MAX_CIPHERTEXT;
/// What a record Ferry writes adds to its content: header, type byte, tag.
pub const OVERHEAD: usize = HEADER + 1 + TAG;

/// Content types (RFC 8446 §5.1).
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;

/// Handshake message types that may follow the handshake.
const NEW_SESSION_TICKET: u8 = 4;
const KEY_UPDATE: u8 = 24;

/// The biggest post-handshake message accepted (a NewSessionTicket can in theory reach 128 KiB;
/// real ones are a few hundred bytes, and Ferry ignores them anyway).
pub const MAX_HANDSHAKE_MESSAGE: usize = 64 * 1024;

/// Records without data accepted in a row (rustls allows 32 key updates in a row).
pub const MAX_IDLE_RECORDS: u32 = 64;

/// rustls' ceiling on sequence numbers, whatever the cipher's own limit.
const SEQ_SOFT_LIMIT: u64 = 0xffff_ffff_ffff_0000;

/// What went wrong with the records the other side sent, and what to tell it.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordError {
    /// The other side said this alert (and the connection is over).
    AlertReceived(AlertDescription),
    /// Something this side refuses; the alert goes back to the other side.
    Refused { alert: AlertDescription, why: &'static str },
    /// rustls could not compute the next keys.
    KeySchedule(rustls::Error),
}

impl RecordError {
    fn refused(alert: AlertDescription, why: &'static str) -> RecordError {
        RecordError::Refused { alert, why }
    }

    /// The alert to send the other side, if any (none when it sent one itself).
    pub fn alert_to_send(&self) -> Option<AlertDescription> {
        match self {
            RecordError::AlertReceived(_) => None,
            RecordError::Refused { alert, .. } => Some(*alert),
            RecordError::KeySchedule(_) => Some(AlertDescription::InternalError),
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::AlertReceived(a) => write!(f, "the other side ended the secure connection ({a:?})"),
            RecordError::Refused { alert, why } => {
                write!(f, "a bad TLS record from the other side: {why} ({alert:?})")
            }
            RecordError::KeySchedule(e) => write!(f, "the TLS keys could not be updated: {e}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// One direction's traffic key and IV.
struct Keys {
    key: LessSafeKey,
    iv: [u8; aead::NONCE_LEN],
}

impl Keys {
    fn new(secrets: ConnectionTrafficSecrets) -> Result<Keys, rustls::Error> {
        let (algorithm, key, iv) = match &secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&aead::AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&aead::AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (&aead::CHACHA20_POLY1305, key, iv),
            _ => return Err(rustls::Error::General("a cipher suite Ferry does not offer".into())),
        };
        let key = UnboundKey::new(algorithm, key.as_ref())
            .map_err(|_| rustls::Error::General("a traffic key of the wrong length".into()))?;
        let iv =
            iv.as_ref().try_into().map_err(|_| rustls::Error::General("an IV of the wrong length".into()))?;
        Ok(Keys { key: LessSafeKey::new(key), iv })
    }

    /// RFC 8446 §5.3: the IV XOR the sequence number, right-aligned.
    fn nonce(&self, seq: u64) -> Nonce {
        let mut nonce = self.iv;
        for (n, s) in nonce[aead::NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        Nonce::assume_unique_for_key(nonce)
    }
}

/// Encrypts this side's records, one sequence number each.
pub struct Sealer {
    keys: Keys,
    seq: u64,
    /// From this sequence number on the keys are updated before the next record.
    update_at: u64,
    /// Key updates sent so far.
    pub updates: u32,
}

impl Sealer {
    pub fn new(
        seq: u64,
        secrets: ConnectionTrafficSecrets,
        suite: SupportedCipherSuite,
    ) -> Result<Sealer, rustls::Error> {
        let limit = suite.tls13().map_or(SEQ_SOFT_LIMIT, |s| s.common.confidentiality_limit);
        Ok(Sealer { keys: Keys::new(secrets)?, seq, update_at: limit.min(SEQ_SOFT_LIMIT), updates: 0 })
    }

    /// Starts a record at the end of `out`: its header, with the length still to come. The
    /// caller appends the content and then calls [`Sealer::seal`] with the returned position.
    pub fn begin(out: &mut Vec<u8>) -> usize {
        let start = out.len();
        out.extend_from_slice(&[APPLICATION_DATA, 3, 3, 0, 0]);
        start
    }

    /// Seals the record begun at `out[start]` whose content is the rest of `out`, as `typ`.
    pub fn seal(&mut self, out: &mut Vec<u8>, start: usize, typ: u8) {
        let content = out.len() - start - HEADER;
        debug_assert!(content + 1 + TAG <= MAX_CIPHERTEXT);
        assert!(self.seq < u64::MAX, "a TLS sequence number would wrap");
        let len = (content + 1 + TAG) as u16;
        out[start + 3..start + 5].copy_from_slice(&len.to_be_bytes());
        out.push(typ);
        let mut header = [0u8; HEADER];
        header.copy_from_slice(&out[start..start + HEADER]);
        let tag = self
            .keys
            .key
            .seal_in_place_separate_tag(
                self.keys.nonce(self.seq),
                Aad::from(header),
                &mut out[start + HEADER..],
            )
            .expect("a TLS record is far below the AEAD's length limit");
        out.extend_from_slice(tag.as_ref());
        self.seq += 1;
    }

    /// Appends a whole record of `typ` carrying `content`.
    pub fn seal_message(&mut self, out: &mut Vec<u8>, typ: u8, content: &[u8]) {
        let start = Sealer::begin(out);
        out.extend_from_slice(content);
        self.seal(out, start, typ);
    }

    /// The cipher's record limit is near: send a KeyUpdate and change keys before the next one.
    pub fn due_for_update(&self) -> bool {
        self.seq >= self.update_at
    }

    /// Appends a KeyUpdate (under the current keys), then changes to the next keys.
    pub fn update_keys(
        &mut self,
        out: &mut Vec<u8>,
        schedule: &dyn KeySchedule,
        request_update: bool,
    ) -> Result<(), rustls::Error> {
        self.seal_message(out, HANDSHAKE, &key_update(request_update));
        let (seq, secrets) = schedule.next_tx()?;
        self.keys = Keys::new(secrets)?;
        self.seq = seq;
        self.updates += 1;
        Ok(())
    }

    /// Updates the keys after `records` more records from now on (tests: the real limit is
    /// millions of records away).
    #[cfg(test)]
    pub fn update_keys_after(&mut self, records: u64) {
        self.update_at = self.seq + records;
    }
}

/// A KeyUpdate handshake message.
fn key_update(request_update: bool) -> [u8; 5] {
    [KEY_UPDATE, 0, 0, 1, u8::from(request_update)]
}

/// An alert's two bytes: fatal, except for `close_notify`.
pub fn alert(description: AlertDescription) -> [u8; 2] {
    let level = if description == AlertDescription::CloseNotify { 1 } else { 2 };
    [level, u8::from(description)]
}

/// The length of the record at the start of `bytes` (header included), once its header is in;
/// `Ok(None)` before. Refuses what cannot follow a TLS 1.3 handshake.
pub fn record_len(bytes: &[u8]) -> Result<Option<usize>, RecordError> {
    if bytes.len() < HEADER {
        return Ok(None);
    }
    if bytes[0] != APPLICATION_DATA {
        let why = if bytes[0] == CHANGE_CIPHER_SPEC {
            "change_cipher_spec after the handshake"
        } else {
            "an unencrypted record after the handshake"
        };
        return Err(RecordError::refused(AlertDescription::UnexpectedMessage, why));
    }
    // The legacy version (bytes 1..3) is to be ignored (RFC 8446 §5.1).
    let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
    if len > MAX_CIPHERTEXT {
        return Err(RecordError::refused(AlertDescription::RecordOverflow, "a record over 2^14 + 256 bytes"));
    }
    if len < TAG + 1 {
        return Err(RecordError::refused(AlertDescription::DecodeError, "a record too short to hold a tag"));
    }
    Ok(Some(HEADER + len))
}

/// Decrypts the other side's records, one sequence number each.
pub struct Opener {
    keys: Keys,
    seq: u64,
}

impl Opener {
    pub fn new(seq: u64, secrets: ConnectionTrafficSecrets) -> Result<Opener, rustls::Error> {
        Ok(Opener { keys: Keys::new(secrets)?, seq })
    }

    /// Decrypts the record of `total` bytes (header included, as [`record_len`] said) at
    /// `buf[at..]` and puts its content at `buf[to..]` (`to <= at`): the content type and the
    /// content's length. The bytes from `to + len` to `at + total` are left meaningless.
    pub fn open(
        &mut self,
        buf: &mut [u8],
        at: usize,
        to: usize,
        total: usize,
    ) -> Result<(u8, usize), RecordError> {
        debug_assert!(to <= at && at + total <= buf.len());
        if self.seq == u64::MAX {
            return Err(RecordError::refused(
                AlertDescription::UnexpectedMessage,
                "the sequence numbers ran out",
            ));
        }
        let mut header = [0u8; HEADER];
        header.copy_from_slice(&buf[at..at + HEADER]);
        let plain = self
            .keys
            .key
            .open_within(
                self.keys.nonce(self.seq),
                Aad::from(header),
                &mut buf[to..at + total],
                at - to + HEADER..,
            )
            .map_err(|_| {
                RecordError::refused(AlertDescription::BadRecordMac, "a record that does not decrypt")
            })?;
        self.seq += 1;
        // The content type is the last non-zero byte; zeros after it are padding.
        let Some(last) = plain.iter().rposition(|&b| b != 0) else {
            return Err(RecordError::refused(
                AlertDescription::UnexpectedMessage,
                "a record with no content type",
            ));
        };
        if last > MAX_CONTENT {
            return Err(RecordError::refused(
                AlertDescription::RecordOverflow,
                "a record with over 2^14 bytes of content",
            ));
        }
        Ok((plain[last], last))
    }

    /// Changes to the next keys (after a KeyUpdate from the other side).
    fn update(&mut self, schedule: &dyn KeySchedule) -> Result<(), RecordError> {
        let (seq, secrets) = schedule.next_rx().map_err(RecordError::KeySchedule)?;
        self.keys = Keys::new(secrets).map_err(RecordError::KeySchedule)?;
        self.seq = seq;
        Ok(())
    }
}

/// Where the next traffic keys come from when one side updates its keys.
pub trait KeySchedule: Send + Sync {
    /// This side's next sending keys and the sequence number they start at.
    fn next_tx(&self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error>;
    /// The other side's next sending keys (after its KeyUpdate).
    fn next_rx(&self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error>;
    /// This side is the client (which may be sent session tickets).
    fn is_client(&self) -> bool;
}

/// rustls' key schedule for a finished handshake, shared by the halves (each locks it only to
/// update its own direction's keys).
pub struct Kernel(Mutex<Side>);

enum Side {
    Client(KernelConnection<ClientConnectionData>),
    Server(KernelConnection<ServerConnectionData>),
}

impl Kernel {
    pub fn client(k: KernelConnection<ClientConnectionData>) -> Kernel {
        Kernel(Mutex::new(Side::Client(k)))
    }

    pub fn server(k: KernelConnection<ServerConnectionData>) -> Kernel {
        Kernel(Mutex::new(Side::Server(k)))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Side) -> Result<T, rustls::Error>) -> Result<T, rustls::Error> {
        let mut side =
            self.0.lock().map_err(|_| rustls::Error::General("the TLS key schedule was lost".into()))?;
        f(&mut side)
    }
}

impl KeySchedule for Kernel {
    fn next_tx(&self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error> {
        self.with(|s| match s {
            Side::Client(k) => k.update_tx_secret(),
            Side::Server(k) => k.update_tx_secret(),
        })
    }

    fn next_rx(&self) -> Result<(u64, ConnectionTrafficSecrets), rustls::Error> {
        self.with(|s| match s {
            Side::Client(k) => k.update_rx_secret(),
            Side::Server(k) => k.update_rx_secret(),
        })
    }

    fn is_client(&self) -> bool {
        self.0.lock().is_ok_and(|s| matches!(*s, Side::Client(_)))
    }
}

/// What a record's content meant, once the reader has looked at it.
#[derive(Debug, PartialEq, Eq)]
pub enum Content {
    /// Application data: the content is the caller's (it may be empty).
    Data,
    /// Nothing for the caller (a KeyUpdate, a ticket, `user_canceled`, part of a message).
    Nothing,
    /// The other side updated its keys and asks this side to update its own.
    UpdateRequested,
    /// `close_notify`: nothing more will come.
    Closed,
}

/// The reader's record-by-record state beyond the keys: a handshake message being put together,
/// and the count of records without data.
pub struct Inbound {
    pub opener: Opener,
    /// A post-handshake message whose first records have come (its bytes so far).
    joining: Vec<u8>,
    idle: u32,
    is_client: bool,
    /// Session tickets seen and ignored (tests look).
    pub tickets: u32,
}

impl Inbound {
    pub fn new(opener: Opener, schedule: &dyn KeySchedule) -> Inbound {
        Inbound { opener, joining: Vec::new(), idle: 0, is_client: schedule.is_client(), tickets: 0 }
    }

    /// Looks at one decrypted record of `typ` with `content`: updates the keys on a KeyUpdate.
    pub fn take(
        &mut self,
        typ: u8,
        content: &[u8],
        schedule: &dyn KeySchedule,
    ) -> Result<Content, RecordError> {
        use AlertDescription as A;
        if typ != HANDSHAKE && !self.joining.is_empty() {
            return Err(RecordError::refused(
                A::UnexpectedMessage,
                "a record inside a split handshake message",
            ));
        }
        let meaning = match typ {
            APPLICATION_DATA if !content.is_empty() => {
                self.idle = 0;
                return Ok(Content::Data);
            }
            APPLICATION_DATA => Content::Nothing,
            ALERT => {
                let &[level, description] = content else {
                    return Err(RecordError::refused(A::DecodeError, "an alert that is not two bytes"));
                };
                let description = AlertDescription::from(description);
                match (level, description) {
                    (1 | 2, A::CloseNotify) => return Ok(Content::Closed),
                    (1, A::UserCanceled) => Content::Nothing,
                    (1, _) => return Err(RecordError::refused(A::DecodeError, "a warning alert in TLS 1.3")),
                    (2, d) => return Err(RecordError::AlertReceived(d)),
                    _ => return Err(RecordError::refused(A::IllegalParameter, "an alert of unknown level")),
                }
            }
            HANDSHAKE => self.handshake(content, schedule)?,
            _ => return Err(RecordError::refused(A::UnexpectedMessage, "a record of unknown type")),
        };
        self.idle += 1;
        if self.idle > MAX_IDLE_RECORDS {
            return Err(RecordError::refused(A::UnexpectedMessage, "too many records without data"));
        }
        Ok(meaning)
    }

    fn handshake(&mut self, content: &[u8], schedule: &dyn KeySchedule) -> Result<Content, RecordError> {
        use AlertDescription as A;
        if content.is_empty() {
            return Err(RecordError::refused(A::UnexpectedMessage, "an empty handshake record"));
        }
        // Most messages come whole in one record: no copy for those.
        let joined;
        let mut rest: &[u8] = if self.joining.is_empty() {
            content
        } else {
            self.joining.extend_from_slice(content);
            joined = std::mem::take(&mut self.joining);
            &joined
        };
        let mut meaning = Content::Nothing;
        while !rest.is_empty() {
            let Some((typ, body, after)) = split_message(rest)? else {
                // The rest of this message comes in the next record.
                self.joining = rest.to_vec();
                return Ok(meaning);
            };
            match typ {
                KEY_UPDATE => {
                    let requested = match body {
                        [0] => false,
                        [1] => true,
                        _ => {
                            return Err(RecordError::refused(
                                A::IllegalParameter,
                                "a KeyUpdate that is not 0 or 1",
                            ));
                        }
                    };
                    if !after.is_empty() {
                        // Keys change at a record boundary, or the next bytes' keys are unclear.
                        return Err(RecordError::refused(
                            A::UnexpectedMessage,
                            "a KeyUpdate that does not end its record",
                        ));
                    }
                    self.opener.update(schedule)?;
                    if requested {
                        meaning = Content::UpdateRequested;
                    }
                }
                // Resumption is off: a ticket is valid and useless. Servers get none.
                NEW_SESSION_TICKET if self.is_client => self.tickets += 1,
                _ => {
                    return Err(RecordError::refused(
                        A::UnexpectedMessage,
                        "a handshake message after the handshake",
                    ));
                }
            }
            rest = after;
        }
        Ok(meaning)
    }
}

/// A handshake message's type and body, and the bytes after it.
type Split<'a> = (u8, &'a [u8], &'a [u8]);

/// The first whole handshake message of `bytes`: its type, body and what follows it;
/// `Ok(None)` while it is not all in. A message that says it is over
/// [`MAX_HANDSHAKE_MESSAGE`] bytes is refused as soon as its length is in.
fn split_message(bytes: &[u8]) -> Result<Option<Split<'_>>, RecordError> {
    let Some(&[typ, a, b, c]) = bytes.get(..4) else { return Ok(None) };
    let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
    if len > MAX_HANDSHAKE_MESSAGE {
        return Err(RecordError::refused(
            AlertDescription::UnexpectedMessage,
            "a handshake message over 64 KiB",
        ));
    }
    Ok(bytes.get(4..4 + len).map(|body| (typ, body, &bytes[4 + len..])))
}

#[cfg(test)]
mod tests;
