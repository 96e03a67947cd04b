//! A peer written by hand, frame by frame: it says exactly what a test tells it to, so a test
//! can play a lying, slow or broken sender or receiver against the real code.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ferry::protocol::frame::{data_header, decode_frame, encode_message};
use ferry::protocol::{
    Frame, Hello, HelloPurpose, InstanceId, Message, Offer, OfferFile, Os, PROTOCOL_VERSION,
};

/// `msg` as a whole frame.
pub fn frame(msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    encode_message(msg, &mut out);
    out
}

/// A DATA frame carrying `bytes`.
pub fn data(bytes: &[u8]) -> Vec<u8> {
    let mut out = data_header(bytes.len()).to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A HELLO from "Mallory" with the given purpose.
pub fn hello_as(name: &str, purpose: HelloPurpose) -> Message {
    Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        purpose,
        instance: InstanceId::random(),
        transfer_port: 1,
        os: Os::Linux,
        name: name.into(),
        fingerprint: vec![],
    })
}

pub fn hello() -> Message {
    hello_as("Mallory", HelloPurpose::Transfer)
}

/// What one read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    Msg(Message),
    /// The other side closed (or reset) the connection.
    Closed,
    /// Nothing within the time given.
    Nothing,
    /// A DATA frame of this many bytes.
    Data(usize),
}

pub struct Raw {
    pub s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        Raw::new(TcpStream::connect(addr).unwrap())
    }

    pub fn new(s: TcpStream) -> Raw {
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        Raw { s, buf: Vec::new() }
    }

    pub fn send(&mut self, m: &Message) {
        self.s.write_all(&frame(m)).unwrap();
    }

    pub fn send_all(&mut self, ms: &[Message]) {
        let bytes: Vec<u8> = ms.iter().flat_map(frame).collect();
        self.s.write_all(&bytes).unwrap();
    }

    pub fn send_data(&mut self, bytes: &[u8]) {
        self.s.write_all(&data(bytes)).unwrap();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// The next frame within `within`.
    pub fn read(&mut self, within: Duration) -> Got {
        let deadline = Instant::now() + within;
        loop {
            match decode_frame(&self.buf) {
                Ok(Some((f, n))) => {
                    let got = match f {
                        Frame::Message(m) => Got::Msg(m),
                        Frame::Data(d) => Got::Data(d.len()),
                    };
                    self.buf.drain(..n);
                    return got;
                }
                Ok(None) => {}
                Err(e) => panic!("the other side sent a bad frame: {e}"),
            }
            if Instant::now() >= deadline {
                return Got::Nothing;
            }
            let mut chunk = [0u8; 8192];
            match self.s.read(&mut chunk) {
                Ok(0) => return Got::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => return Got::Closed,
            }
        }
    }

    /// Reads until `want` accepts a message (KEEPALIVEs and others are skipped); panics after
    /// 10 s or when the connection closes first.
    pub fn until(&mut self, mut want: impl FnMut(&Message) -> bool) -> Message {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match self.read(Duration::from_millis(100)) {
                Got::Msg(m) if want(&m) => return m,
                Got::Msg(_) | Got::Nothing | Got::Data(_) => {}
                Got::Closed => panic!("closed before the awaited message"),
            }
        }
        panic!("the awaited message did not come within 10 s");
    }

    /// Every message (not DATA) until the other side closes (at most `within`); `None` if it
    /// stayed open.
    pub fn rest(&mut self, within: Duration) -> Option<Vec<Message>> {
        let deadline = Instant::now() + within;
        let mut got = Vec::new();
        while Instant::now() < deadline {
            match self.read(Duration::from_millis(50)) {
                Got::Msg(m) => got.push(m),
                Got::Closed => return Some(got),
                Got::Nothing | Got::Data(_) => {}
            }
        }
        None
    }

    /// HELLO both ways, as a sender.
    pub fn handshake(&mut self) -> Hello {
        self.send(&hello());
        match self.until(|m| matches!(m, Message::Hello(_))) {
            Message::Hello(h) => h,
            _ => unreachable!(),
        }
    }

    /// HELLO, OFFER and one OFFER_FILE per `(path, size)`.
    pub fn offer(&mut self, files: &[(&str, u64)]) {
        self.handshake();
        let mut ms = vec![Message::Offer(Offer {
            file_count: files.len() as u32,
            total_bytes: files.iter().map(|f| f.1).sum(),
        })];
        ms.extend(files.iter().map(|&(path, size)| {
            Message::OfferFile(OfferFile { path: path.into(), size, thumbnail: vec![] })
        }));
        self.send_all(&ms);
    }

    /// Sends one whole file: FILE_BEGIN, its bytes, FILE_END with the hash of `hashed`.
    pub fn file(&mut self, index: u32, content: &[u8], hashed: &[u8]) {
        self.send(&Message::FileBegin { index, size: content.len() as u64 });
        for chunk in content.chunks(256 * 1024) {
            self.send_data(chunk);
        }
        self.send(&Message::FileEnd { index, hash: *blake3::hash(hashed).as_bytes() });
    }
}
