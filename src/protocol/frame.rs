//! TCP framing: `length: u32 BE | type: u8 | payload`, where `length` counts the type byte and the
//! payload. The length and type are checked against the type's limit before a single payload byte
//! is buffered, so a peer announcing 4 GiB is refused after five bytes.

use super::codec::DecodeError;
use super::message::Message;
use super::{MAX_CONTROL_FRAME, MAX_DATA_CHUNK};

/// Bytes before the payload: four of length, one of type.
pub const HEADER_LEN: usize = 5;

/// The largest whole frame (header + payload) a reader ever has to hold.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_DATA_CHUNK;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameType {
    Hello = 0x01,
    Offer = 0x02,
    OfferFile = 0x03,
    Answer = 0x04,
    FileBegin = 0x05,
    Data = 0x06,
    FileEnd = 0x07,
    FileSkip = 0x08,
    FileResult = 0x09,
    Done = 0x0A,
    Summary = 0x0B,
    Cancel = 0x0C,
    Keepalive = 0x0D,
    Error = 0x0E,
    /// Version 2, inside TLS only: the verification-code exchange (`protocol::sas`).
    VerifyCommit = 0x0F,
    VerifyNonce = 0x10,
    VerifyReveal = 0x11,
    /// A piece of text offered instead of files (PROTOCOL.md §5, OFFER_TEXT).
    OfferText = 0x12,
}

impl FrameType {
    pub fn from_byte(b: u8) -> Option<FrameType> {
        use FrameType::*;
        Some(match b {
            0x01 => Hello,
            0x02 => Offer,
            0x03 => OfferFile,
            0x04 => Answer,
            0x05 => FileBegin,
            0x06 => Data,
            0x07 => FileEnd,
            0x08 => FileSkip,
            0x09 => FileResult,
            0x0A => Done,
            0x0B => Summary,
            0x0C => Cancel,
            0x0D => Keepalive,
            0x0E => Error,
            0x0F => VerifyCommit,
            0x10 => VerifyNonce,
            0x11 => VerifyReveal,
            0x12 => OfferText,
            _ => return None,
        })
    }

    /// The largest length field (type byte + payload) allowed for this type.
    pub fn max_len(self) -> usize {
        match self {
            FrameType::Data => 1 + MAX_DATA_CHUNK,
            _ => MAX_CONTROL_FRAME,
        }
    }
}

/// One decoded frame. DATA borrows its bytes from the read buffer: no copy, no allocation.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Data(&'a [u8]),
    Message(Message),
}

/// Looks at the start of `buf`: `Ok(None)` while the header is incomplete, otherwise the frame's
/// type and its whole size on the wire (header included). Errors as soon as the bytes seen so far
/// break a rule — a 4 GiB length is refused after its four bytes, before the type has arrived.
pub fn peek_header(buf: &[u8]) -> Result<Option<(FrameType, usize)>, DecodeError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len == 0 {
        return Err(DecodeError::EmptyFrame);
    }
    if len > FrameType::Data.max_len() {
        return Err(DecodeError::TooLong { len: len as u64, max: FrameType::Data.max_len() });
    }
    let Some(&ty) = buf.get(4) else { return Ok(None) };
    let ty = FrameType::from_byte(ty).ok_or(DecodeError::UnknownType(ty))?;
    if len > ty.max_len() {
        return Err(DecodeError::TooLong { len: len as u64, max: ty.max_len() });
    }
    Ok(Some((ty, 4 + len)))
}

/// Decodes the first frame in `buf`: `Ok(None)` when more bytes are needed, otherwise the frame
/// and how many bytes of `buf` it used.
pub fn decode_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, DecodeError> {
    let Some((ty, total)) = peek_header(buf)? else { return Ok(None) };
    if buf.len() < total {
        return Ok(None);
    }
    let payload = &buf[HEADER_LEN..total];
    let frame = match ty {
        FrameType::Data => Frame::Data(payload),
        _ => Frame::Message(Message::decode_payload(ty, payload)?),
    };
    Ok(Some((frame, total)))
}

/// Appends `msg` as a whole frame to `out`.
pub fn encode_message(msg: &Message, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, msg.frame_type() as u8]);
    msg.encode_payload(out);
    let len = out.len() - start - 4;
    assert!(
        len <= msg.frame_type().max_len(),
        "{:?} frame of {len} bytes is over its limit",
        msg.frame_type()
    );
    out[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
}

/// The header of a DATA frame carrying `payload_len` bytes.
pub fn data_header(payload_len: usize) -> [u8; HEADER_LEN] {
    assert!(payload_len <= MAX_DATA_CHUNK);
    let len = (payload_len as u32 + 1).to_be_bytes();
    [len[0], len[1], len[2], len[3], FrameType::Data as u8]
}
