//! The messages carried in control frames, and their field-by-field encoding.
//!
//! Order on one connection (S = sender, R = receiver; PROTOCOL.md has the full state table):
//!
//! ```text
//! S→R HELLO            R→S HELLO
//! S→R OFFER, OFFER_FILE × file_count
//!                      R→S ANSWER            (KEEPALIVE both ways while a person decides)
//! for each accepted file, in index order:
//!   S→R FILE_BEGIN, DATA × n, FILE_END       (or FILE_SKIP when the sender cannot read it)
//!                      R→S FILE_RESULT       (sent as each file is checked; S never waits for it)
//! S→R DONE             R→S SUMMARY           then both close
//! either side, at any point: CANCEL or ERROR, then close
//! ```
//!
//! A write failure's FILE_RESULT may come before its FILE_END; the sender then ends the file
//! with FILE_SKIP Abandoned. A text offer is OFFER (one item) + OFFER_TEXT; once accepted,
//! DONE and SUMMARY `[Saved]` follow at once.

use super::codec::{DecodeError, Put, Reader, truncate_utf8};
use super::{
    InstanceId, MAGIC, MAX_DEPTH, MAX_FILES, MAX_FINGERPRINT, MAX_NAME_BYTES, MAX_PATH_BYTES, MAX_TEXT_BYTES,
    MAX_THUMBNAIL, Os,
};

/// Longest text in an ERROR frame, in bytes.
pub const MAX_ERROR_TEXT: usize = 1024;

/// What a connection is for, said in the first HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelloPurpose {
    /// An OFFER follows.
    Transfer = 1,
    /// Only "who are you?": the answering HELLO is the whole conversation (adding a peer by address).
    Probe = 2,
}

/// The first frame each side sends: who it is and which protocol version it speaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The highest protocol version this side speaks. The connection uses the lower of the two.
    pub version: u16,
    pub purpose: HelloPurpose,
    pub instance: InstanceId,
    /// The TCP port this side accepts transfers on (0 when it accepts none).
    pub transfer_port: u16,
    pub os: Os,
    pub name: String,
    /// Room for a device-key fingerprint; empty in version 1.
    pub fingerprint: Vec<u8>,
}

/// The head of an offer; exactly `file_count` OFFER_FILE frames follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub file_count: u32,
    /// The sum of every file's size, so the receiver can show it before the list has arrived.
    pub total_bytes: u64,
}

/// One offered file. Its index is its position in the offer, counting from 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferFile {
    /// Relative path with `/` between components (`Trip/day 1/IMG_0001.jpg`). Untrusted: the
    /// receiver turns each component into a safe name or refuses the file.
    pub path: String,
    pub size: u64,
    /// A small JPEG (at most [`MAX_THUMBNAIL`] bytes), or empty.
    pub thumbnail: Vec<u8>,
}

/// The receiver's decision, made before any file byte is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    AcceptAll,
    /// Only these files, by index (ascending, unique, each below `file_count`).
    AcceptSome {
        file_count: u32,
        indices: Vec<u32>,
    },
    Decline,
    /// The receiver cannot take a batch now (for example it is closing).
    Busy,
}

impl Answer {
    /// Is file `index` of a `file_count`-file offer accepted?
    pub fn accepts(&self, index: u32) -> bool {
        match self {
            Answer::AcceptAll => true,
            Answer::AcceptSome { indices, .. } => indices.binary_search(&index).is_ok(),
            Answer::Decline | Answer::Busy => false,
        }
    }
}

/// Why a sender skipped a file it had offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// It could not be opened or read.
    Unreadable = 1,
    /// Its size changed while it was being sent.
    Changed = 2,
    /// The sender gives it up because the receiver cannot save it: the receiver already said
    /// so with an early FILE_RESULT (the file ends here), or said of an earlier file that it
    /// cannot save any more (the disk is full, the receive folder cannot be written or is gone;
    /// the file was not begun). PROTOCOL.md §6.3.
    Abandoned = 3,
}

/// What became of one offered file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileResult {
    /// Checked and saved under its final name.
    Saved = 0,
    /// The receiver did not accept it.
    NotAccepted = 1,
    /// The bytes did not match the hash the sender computed.
    HashMismatch = 2,
    /// More or fewer bytes arrived than offered.
    SizeMismatch = 3,
    /// Its name could not be made safe, so it was refused.
    UnsafeName = 4,
    /// The receiver could not write it (disk full, permissions ...).
    WriteFailed = 5,
    /// The sender could not read it.
    SenderSkipped = 6,
    /// The batch ended (cancel, failure) before this file was done, or the sender gave it up
    /// unsent (FILE_SKIP Abandoned) because the receiver could not save more.
    NotSent = 7,
    /// The receiver's disk (or quota) is full; nothing of the file was kept.
    DiskFull = 8,
    /// The receive folder cannot be written to (read-only, no permission).
    FolderNotWritable = 9,
    /// The receive folder (or the folder the file goes in) was removed.
    FolderGone = 10,
}

impl FileResult {
    pub fn from_byte(b: u8) -> Option<FileResult> {
        Some(match b {
            0 => Self::Saved,
            1 => Self::NotAccepted,
            2 => Self::HashMismatch,
            3 => Self::SizeMismatch,
            4 => Self::UnsafeName,
            5 => Self::WriteFailed,
            6 => Self::SenderSkipped,
            7 => Self::NotSent,
            8 => Self::DiskFull,
            9 => Self::FolderNotWritable,
            10 => Self::FolderGone,
            _ => return None,
        })
    }

    /// Plain words for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Saved => "saved",
            Self::NotAccepted => "not accepted",
            Self::HashMismatch => "damaged on the way, not saved",
            Self::SizeMismatch => "arrived incomplete, not saved",
            Self::UnsafeName => "refused: its name is not allowed",
            Self::WriteFailed => "could not be written to disk",
            Self::SenderSkipped => "the sending computer could not read it",
            Self::NotSent => "not sent",
            Self::DiskFull => "not saved: the disk is full",
            Self::FolderNotWritable => "not saved: the receive folder can't be written to",
            Self::FolderGone => "not saved: the receive folder was removed",
        }
    }

    /// A failure to write that the receiver may report before the file's FILE_END, as soon as
    /// it happens (PROTOCOL.md §6.3).
    pub fn is_write_failure(self) -> bool {
        matches!(self, Self::WriteFailed | Self::DiskFull | Self::FolderNotWritable | Self::FolderGone)
    }

    /// A failure that no later file of the batch can escape either: the sender stops sending.
    pub fn stops_the_batch(self) -> bool {
        matches!(self, Self::DiskFull | Self::FolderNotWritable | Self::FolderGone)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// A person pressed Cancel.
    User = 1,
    /// The app is closing.
    Shutdown = 2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// No protocol version in common.
    UnsupportedVersion = 1,
    /// A frame broke the rules (wrong order, bad field, over a limit).
    Protocol = 2,
    /// Too many connections at once; try again later.
    Overloaded = 3,
    /// Something went wrong on this side.
    Internal = 4,
}

impl ErrorCode {
    fn from_byte(b: u8) -> ErrorCode {
        match b {
            1 => Self::UnsupportedVersion,
            2 => Self::Protocol,
            3 => Self::Overloaded,
            _ => Self::Internal,
        }
    }
}

/// Every control message. (File bytes travel in DATA frames, see [`super::Frame`].)
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Hello(Hello),
    Offer(Offer),
    OfferFile(OfferFile),
    Answer(Answer),
    FileBegin {
        index: u32,
        size: u64,
    },
    FileEnd {
        index: u32,
        hash: [u8; 32],
    },
    FileSkip {
        index: u32,
        reason: SkipReason,
    },
    FileResult {
        index: u32,
        result: FileResult,
    },
    Done,
    Summary(Vec<FileResult>),
    Cancel(CancelReason),
    Keepalive,
    Error {
        code: ErrorCode,
        message: String,
    },
    /// Version 2: the sender's commitment to its nonce, and whether it knows the receiver's key
    /// ([`super::sas`]).
    VerifyCommit {
        knows_you: bool,
        commitment: [u8; 32],
    },
    /// Version 2: the receiver's nonce, and whether it knows the sender's key.
    VerifyNonce {
        knows_you: bool,
        nonce: [u8; super::sas::NONCE_LEN],
    },
    /// Version 2: the sender's nonce, which must match its commitment.
    VerifyReveal {
        nonce: [u8; super::sas::NONCE_LEN],
    },
    /// The one item of a text offer, in place of OFFER_FILE: 1..=[`MAX_TEXT_BYTES`] bytes of
    /// UTF-8 (PROTOCOL.md §5).
    OfferText {
        text: String,
    },
}

impl Message {
    /// Appends this message's payload (not its frame header) to `out`.
    pub(super) fn encode_payload(&self, out: &mut Vec<u8>) {
        match self {
            Message::Hello(h) => {
                out.extend_from_slice(&MAGIC);
                out.put_u16(h.version);
                out.put_u8(h.purpose as u8);
                out.extend_from_slice(&h.instance.0);
                out.put_u16(h.transfer_port);
                out.put_u8(h.os.to_byte());
                out.put_bytes8(truncate_utf8(&h.name, MAX_NAME_BYTES).as_bytes());
                out.put_bytes8(&h.fingerprint[..h.fingerprint.len().min(MAX_FINGERPRINT)]);
            }
            Message::Offer(o) => {
                out.put_u32(o.file_count);
                out.put_u64(o.total_bytes);
            }
            Message::OfferFile(f) => {
                out.put_bytes16(f.path.as_bytes());
                out.put_u64(f.size);
                out.put_bytes16(&f.thumbnail);
            }
            Message::Answer(a) => match a {
                Answer::AcceptAll => out.put_u8(0),
                Answer::AcceptSome { file_count, indices } => {
                    debug_assert!(
                        indices.windows(2).all(|w| w[0] < w[1]) && indices.iter().all(|&i| i < *file_count),
                        "AcceptSome indices must be ascending, unique and below file_count"
                    );
                    out.put_u8(1);
                    out.put_u32(*file_count);
                    let mut bitmap = vec![0u8; (*file_count as usize).div_ceil(8)];
                    for &i in indices {
                        bitmap[i as usize / 8] |= 0x80 >> (i % 8);
                    }
                    out.extend_from_slice(&bitmap);
                }
                Answer::Decline => out.put_u8(2),
                Answer::Busy => out.put_u8(3),
            },
            Message::FileBegin { index, size } => {
                out.put_u32(*index);
                out.put_u64(*size);
            }
            Message::FileEnd { index, hash } => {
                out.put_u32(*index);
                out.extend_from_slice(hash);
            }
            Message::FileSkip { index, reason } => {
                out.put_u32(*index);
                out.put_u8(*reason as u8);
            }
            Message::FileResult { index, result } => {
                out.put_u32(*index);
                out.put_u8(*result as u8);
            }
            Message::Done | Message::Keepalive => {}
            Message::Summary(results) => {
                out.put_u32(results.len() as u32);
                out.extend(results.iter().map(|r| *r as u8));
            }
            Message::Cancel(reason) => out.put_u8(*reason as u8),
            Message::Error { code, message } => {
                out.put_u8(*code as u8);
                out.put_bytes16(truncate_utf8(message, MAX_ERROR_TEXT).as_bytes());
            }
            Message::VerifyCommit { knows_you, commitment } => {
                out.put_u8(*knows_you as u8);
                out.extend_from_slice(commitment);
            }
            Message::VerifyNonce { knows_you, nonce } => {
                out.put_u8(*knows_you as u8);
                out.extend_from_slice(nonce);
            }
            Message::VerifyReveal { nonce } => out.extend_from_slice(nonce),
            Message::OfferText { text } => out.put_bytes16(truncate_utf8(text, MAX_TEXT_BYTES).as_bytes()),
        }
    }

    /// Decodes the payload of a control frame of type `ty`. The whole payload must be used.
    pub(super) fn decode_payload(ty: super::FrameType, payload: &[u8]) -> Result<Message, DecodeError> {
        use super::FrameType as T;
        let mut r = Reader::new(payload);
        let msg = match ty {
            T::Hello => {
                if r.array::<4>()? != MAGIC {
                    return Err(DecodeError::BadMagic);
                }
                let version = r.u16()?;
                let purpose = match r.u8()? {
                    1 => HelloPurpose::Transfer,
                    2 => HelloPurpose::Probe,
                    _ => return Err(DecodeError::Invalid("unknown HELLO purpose")),
                };
                let instance = InstanceId(r.array()?);
                let transfer_port = r.u16()?;
                let os = Os::from_byte(r.u8()?);
                let name = r.str8(MAX_NAME_BYTES)?.to_owned();
                let fingerprint = r.bytes8(MAX_FINGERPRINT)?.to_vec();
                Message::Hello(Hello { version, purpose, instance, transfer_port, os, name, fingerprint })
            }
            T::Offer => {
                let file_count = r.u32()?;
                if file_count > MAX_FILES {
                    return Err(DecodeError::Invalid("too many files in one offer"));
                }
                Message::Offer(Offer { file_count, total_bytes: r.u64()? })
            }
            T::OfferFile => {
                let path = r.str16(MAX_PATH_BYTES)?.to_owned();
                if path.split('/').count() > MAX_DEPTH {
                    return Err(DecodeError::Invalid("path too deep"));
                }
                let size = r.u64()?;
                let thumbnail = r.bytes16(MAX_THUMBNAIL)?.to_vec();
                Message::OfferFile(OfferFile { path, size, thumbnail })
            }
            T::Answer => Message::Answer(match r.u8()? {
                0 => Answer::AcceptAll,
                1 => {
                    let file_count = r.u32()?;
                    if file_count > MAX_FILES {
                        return Err(DecodeError::Invalid("too many files in one answer"));
                    }
                    let bitmap = r.bytes((file_count as usize).div_ceil(8))?;
                    let mut indices = Vec::new();
                    for (byte_at, &byte) in bitmap.iter().enumerate() {
                        for bit in 0..8 {
                            if byte & (0x80 >> bit) != 0 {
                                let i = (byte_at * 8 + bit) as u32;
                                if i >= file_count {
                                    return Err(DecodeError::Invalid(
                                        "answer accepts a file that was not offered",
                                    ));
                                }
                                indices.push(i);
                            }
                        }
                    }
                    Answer::AcceptSome { file_count, indices }
                }
                2 => Answer::Decline,
                3 => Answer::Busy,
                _ => return Err(DecodeError::Invalid("unknown answer")),
            }),
            T::FileBegin => Message::FileBegin { index: r.u32()?, size: r.u64()? },
            T::FileEnd => Message::FileEnd { index: r.u32()?, hash: r.array()? },
            T::FileSkip => {
                let index = r.u32()?;
                let reason = match r.u8()? {
                    1 => SkipReason::Unreadable,
                    2 => SkipReason::Changed,
                    3 => SkipReason::Abandoned,
                    _ => return Err(DecodeError::Invalid("unknown skip reason")),
                };
                Message::FileSkip { index, reason }
            }
            T::FileResult => {
                let index = r.u32()?;
                let result =
                    FileResult::from_byte(r.u8()?).ok_or(DecodeError::Invalid("unknown file result"))?;
                Message::FileResult { index, result }
            }
            T::Done => Message::Done,
            T::Summary => {
                let count = r.u32()?;
                if count > MAX_FILES {
                    return Err(DecodeError::Invalid("too many files in a summary"));
                }
                let codes = r.bytes(count as usize)?;
                let results = codes
                    .iter()
                    .map(|&b| FileResult::from_byte(b).ok_or(DecodeError::Invalid("unknown file result")))
                    .collect::<Result<Vec<_>, _>>()?;
                Message::Summary(results)
            }
            T::Cancel => Message::Cancel(match r.u8()? {
                2 => CancelReason::Shutdown,
                _ => CancelReason::User,
            }),
            T::Keepalive => Message::Keepalive,
            T::Error => {
                let code = ErrorCode::from_byte(r.u8()?);
                let message = String::from_utf8_lossy(r.bytes16(MAX_ERROR_TEXT)?).into_owned();
                Message::Error { code, message }
            }
            T::VerifyCommit => Message::VerifyCommit { knows_you: flag(r.u8()?)?, commitment: r.array()? },
            T::VerifyNonce => Message::VerifyNonce { knows_you: flag(r.u8()?)?, nonce: r.array()? },
            T::VerifyReveal => Message::VerifyReveal { nonce: r.array()? },
            T::OfferText => {
                let text = r.str16(MAX_TEXT_BYTES)?.to_owned();
                if text.is_empty() {
                    return Err(DecodeError::Invalid("an empty text"));
                }
                Message::OfferText { text }
            }
            T::Data => unreachable!("DATA frames carry no message"),
        };
        r.finish()?;
        Ok(msg)
    }

    pub fn frame_type(&self) -> super::FrameType {
        use super::FrameType as T;
        match self {
            Message::Hello(_) => T::Hello,
            Message::Offer(_) => T::Offer,
            Message::OfferFile(_) => T::OfferFile,
            Message::Answer(_) => T::Answer,
            Message::FileBegin { .. } => T::FileBegin,
            Message::FileEnd { .. } => T::FileEnd,
            Message::FileSkip { .. } => T::FileSkip,
            Message::FileResult { .. } => T::FileResult,
            Message::Done => T::Done,
            Message::Summary(_) => T::Summary,
            Message::Cancel(_) => T::Cancel,
            Message::Keepalive => T::Keepalive,
            Message::Error { .. } => T::Error,
            Message::VerifyCommit { .. } => T::VerifyCommit,
            Message::VerifyNonce { .. } => T::VerifyNonce,
            Message::VerifyReveal { .. } => T::VerifyReveal,
            Message::OfferText { .. } => T::OfferText,
        }
    }
}

/// A yes/no byte: 0 or 1, anything else is an error.
fn flag(b: u8) -> Result<bool, DecodeError> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::Invalid("a yes/no field is neither 0 nor 1")),
    }
}
