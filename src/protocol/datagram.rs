//! Discovery datagrams: how a node says "I am here", "who is there?" and "goodbye".
//!
//! ```text
//! magic "FRRY" | version u8 | kind u8 | instance id [16] | transfer port u16 | os u8
//!              | name: len u8 + UTF-8 | fingerprint: len u8 + bytes
//! ```

use super::codec::{DecodeError, Put, Reader, truncate_utf8};
use super::{InstanceId, MAGIC, MAX_DATAGRAM, MAX_FINGERPRINT, MAX_NAME_BYTES, Os};

/// The datagram format version (one byte, separate from the TCP protocol version).
pub const DATAGRAM_VERSION: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatagramKind {
    /// "I am here", sent to the broadcast targets every couple of seconds.
    Announce = 1,
    /// "I am here, who else is?": every node that hears it answers with a [`DatagramKind::Reply`]
    /// sent by unicast to the datagram's source address.
    Query = 2,
    /// The unicast answer to a query.
    Reply = 3,
    /// "I am leaving": peers drop the sender from their table at once.
    Goodbye = 4,
    /// "Who is there? I am only looking": answered like a [`DatagramKind::Query`], but the sender
    /// is not a device to list (a command-line `ferry peers` or `ferry send`), so nobody adds it
    /// to their table.
    Search = 5,
}

impl DatagramKind {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Announce,
            2 => Self::Query,
            3 => Self::Reply,
            4 => Self::Goodbye,
            5 => Self::Search,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub kind: DatagramKind,
    pub instance: InstanceId,
    /// The TCP port this node accepts transfers on. 0 only in a SEARCH, from a node that
    /// accepts no transfers ("only looking"); any other kind with port 0 is invalid.
    pub transfer_port: u16,
    pub os: Os,
    /// The device name as the node chose it (1..=255 bytes of UTF-8); clean it before showing.
    pub name: String,
    /// Room for a device-key fingerprint; empty in version 1.
    pub fingerprint: Vec<u8>,
}

impl Datagram {
    pub fn encode(&self) -> Vec<u8> {
        let name = truncate_utf8(&self.name, MAX_NAME_BYTES);
        let mut out = Vec::with_capacity(32 + name.len() + self.fingerprint.len());
        out.extend_from_slice(&MAGIC);
        out.put_u8(DATAGRAM_VERSION);
        out.put_u8(self.kind as u8);
        out.extend_from_slice(&self.instance.0);
        out.put_u16(self.transfer_port);
        out.put_u8(self.os.to_byte());
        out.put_bytes8(name.as_bytes());
        out.put_bytes8(&self.fingerprint[..self.fingerprint.len().min(MAX_FINGERPRINT)]);
        out
    }

    /// Decodes one datagram. Oversized, malformed and empty-named datagrams are errors, and so
    /// are port 0 in anything but a SEARCH and any version other than ours: version 1 has
    /// nothing to negotiate.
    pub fn decode(buf: &[u8]) -> Result<Datagram, DecodeError> {
        if buf.len() > MAX_DATAGRAM {
            return Err(DecodeError::TooLong { len: buf.len() as u64, max: MAX_DATAGRAM });
        }
        let mut r = Reader::new(buf);
        if r.array::<4>()? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        if r.u8()? != DATAGRAM_VERSION {
            return Err(DecodeError::Invalid("unsupported datagram version"));
        }
        let kind = DatagramKind::from_byte(r.u8()?).ok_or(DecodeError::Invalid("unknown datagram kind"))?;
        let instance = InstanceId(r.array()?);
        let transfer_port = r.u16()?;
        if transfer_port == 0 && kind != DatagramKind::Search {
            return Err(DecodeError::Invalid("transfer port 0 outside a SEARCH"));
        }
        let os = Os::from_byte(r.u8()?);
        let name = r.str8(MAX_NAME_BYTES)?;
        if name.trim().is_empty() {
            return Err(DecodeError::Invalid("empty device name"));
        }
        let fingerprint = r.bytes8(MAX_FINGERPRINT)?.to_vec();
        r.finish()?;
        Ok(Datagram { kind, instance, transfer_port, os, name: name.to_owned(), fingerprint })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Datagram {
        Datagram {
            kind: DatagramKind::Announce,
            instance: InstanceId([7; 16]),
            transfer_port: 53531,
            os: Os::Linux,
            name: "Wang's laptop 😀".into(),
            fingerprint: vec![],
        }
    }

    #[test]
    fn round_trips() {
        let d = sample();
        assert_eq!(Datagram::decode(&d.encode()), Ok(d));
    }

    #[test]
    fn every_truncation_is_rejected() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(Datagram::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn bad_datagrams_are_rejected() {
        let good = sample().encode();
        let mut bad_magic = good.clone();
        bad_magic[0] = b'X';
        assert_eq!(Datagram::decode(&bad_magic), Err(DecodeError::BadMagic));

        let mut port0 = sample();
        port0.transfer_port = 0;
        for kind in [DatagramKind::Announce, DatagramKind::Query, DatagramKind::Reply, DatagramKind::Goodbye]
        {
            port0.kind = kind;
            assert!(Datagram::decode(&port0.encode()).is_err(), "{kind:?} with port 0");
        }
        // "Only looking": a node that accepts no transfers searches with port 0.
        port0.kind = DatagramKind::Search;
        assert_eq!(Datagram::decode(&port0.encode()), Ok(port0.clone()));

        let mut blank = sample();
        blank.name = "   ".into();
        assert!(Datagram::decode(&blank.encode()).is_err());

        let mut bad_utf8 = good.clone();
        let name_at = 4 + 1 + 1 + 16 + 2 + 1 + 1;
        bad_utf8[name_at] = 0xff;
        assert_eq!(Datagram::decode(&bad_utf8), Err(DecodeError::BadUtf8));

        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(Datagram::decode(&trailing), Err(DecodeError::TrailingBytes(1)));

        let big = vec![0u8; MAX_DATAGRAM + 1];
        assert!(matches!(Datagram::decode(&big), Err(DecodeError::TooLong { .. })));

        let mut kind = good.clone();
        kind[5] = 6;
        assert!(Datagram::decode(&kind).is_err());
    }
}
