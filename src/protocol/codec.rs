//! Big-endian primitives shared by datagrams and messages: a cursor that reads them from a slice
//! with every length checked, and helpers that append them to a `Vec`.

use thiserror::Error;

/// Why some bytes are not a valid datagram, frame or message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("the data ended in the middle of a field")]
    Truncated,
    #[error("{0} extra bytes after the last field")]
    TrailingBytes(usize),
    #[error("frame of {len} bytes is over the {max}-byte limit for its type")]
    TooLong { len: u64, max: usize },
    #[error("frame length 0 has no room for a type byte")]
    EmptyFrame,
    #[error("unknown frame type 0x{0:02x}")]
    UnknownType(u8),
    #[error("the magic bytes are wrong: this is not Ferry")]
    BadMagic,
    #[error("text is not valid UTF-8")]
    BadUtf8,
    #[error("{0}")]
    Invalid(&'static str),
}

/// Reads fields front to back from a byte slice; never panics, never reads past the end.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Bytes prefixed by a one-byte length, at most `max` long.
    pub fn bytes8(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.u8()? as usize;
        self.limited(len, max)
    }

    /// Bytes prefixed by a two-byte length, at most `max` long.
    pub fn bytes16(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.u16()? as usize;
        self.limited(len, max)
    }

    /// Bytes prefixed by a four-byte length, at most `max` long.
    pub fn bytes32(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        self.limited(len, max)
    }

    pub fn str8(&mut self, max: usize) -> Result<&'a str, DecodeError> {
        let b = self.bytes8(max)?;
        std::str::from_utf8(b).map_err(|_| DecodeError::BadUtf8)
    }

    pub fn str16(&mut self, max: usize) -> Result<&'a str, DecodeError> {
        let b = self.bytes16(max)?;
        std::str::from_utf8(b).map_err(|_| DecodeError::BadUtf8)
    }

    fn limited(&mut self, len: usize, max: usize) -> Result<&'a [u8], DecodeError> {
        if len > max {
            return Err(DecodeError::TooLong { len: len as u64, max });
        }
        self.bytes(len)
    }

    /// Every field has been read: anything left over is an error.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Appends big-endian fields to a buffer. Callers keep lengths within their limits; the length
/// prefixes here assert that, because writing a truncated length would corrupt the stream.
pub trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_bytes8(&mut self, b: &[u8]);
    fn put_bytes16(&mut self, b: &[u8]);
    fn put_bytes32(&mut self, b: &[u8]);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_bytes8(&mut self, b: &[u8]) {
        let len = u8::try_from(b.len()).expect("field longer than 255 bytes");
        self.put_u8(len);
        self.extend_from_slice(b);
    }
    fn put_bytes16(&mut self, b: &[u8]) {
        let len = u16::try_from(b.len()).expect("field longer than 65535 bytes");
        self.put_u16(len);
        self.extend_from_slice(b);
    }
    fn put_bytes32(&mut self, b: &[u8]) {
        let len = u32::try_from(b.len()).expect("field longer than 4 GiB");
        self.put_u32(len);
        self.extend_from_slice(b);
    }
}

/// Cuts `s` to at most `max` bytes without splitting a character.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_checks_every_length() {
        let mut r = Reader::new(&[0, 5, b'a']);
        assert_eq!(r.bytes16(10), Err(DecodeError::Truncated));
        let mut r = Reader::new(&[0, 5, b'a', b'b', b'c', b'd', b'e']);
        assert_eq!(r.bytes16(4), Err(DecodeError::TooLong { len: 5, max: 4 }));
        let mut r = Reader::new(&[2, 0xff, 0xfe]);
        assert_eq!(r.str8(10), Err(DecodeError::BadUtf8));
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_utf8("日本語", 4), "日");
        assert_eq!(truncate_utf8("abc", 4), "abc");
        assert_eq!(truncate_utf8("😀x", 3), "");
    }
}
