//! A peer written by hand, frame by frame: it says exactly what a test tells it to, so a test
//! can play a lying, slow or broken sender or receiver against the real code.
//!
//! It speaks protocol version 2's transport (TLS 1.3 with a device certificate of its own, the
//! one [`identity`] returns) and then whatever frames the test writes, inside TLS:
//!
//! * [`Raw::connect`] / [`Raw::new`]: the connecting side (a sender); [`Raw::handshake`] runs the
//!   whole opening (HELLO both ways and the verification exchange).
//! * [`Raw::accept`]: the accepting side (a receiver, for an engine that sends). When the test
//!   sends its HELLO (version ≥ 2), the peer answers the sender's VERIFY_COMMIT with a
//!   VERIFY_NONCE at once, so a test says `send(&hello())` as it did in version 1.
//! * [`Raw::plain`]: plaintext, for what Ferry says outside TLS (refusals, version-1 peers).

use std::io::IoSlice;
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ferry::identity::{DeviceIdentity, Fingerprint};
use ferry::protocol::frame::{data_header, decode_frame, encode_message};
use ferry::protocol::sas::{self, SenderSas, Verified};
use ferry::protocol::{
    Frame, Hello, HelloPurpose, InstanceId, Message, Offer, OfferFile, Os, PROTOCOL_VERSION,
};
use ferry::transfer::tls::{ReadHalf, TlsContext, WriteHalf};

/// The device key every hand-written peer of a test process presents.
pub fn identity() -> &'static DeviceIdentity {
    static ID: OnceLock<DeviceIdentity> = OnceLock::new();
    ID.get_or_init(|| DeviceIdentity::generate().unwrap())
}

fn tls() -> &'static TlsContext {
    static TLS: OnceLock<TlsContext> = OnceLock::new();
    TLS.get_or_init(|| TlsContext::new(identity()).unwrap())
}

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

/// A version-2 HELLO with the given name and purpose, naming [`identity`]'s key.
pub fn hello_as(name: &str, purpose: HelloPurpose) -> Message {
    hello_with_key(name, purpose, identity().fingerprint())
}

/// A HELLO naming `key` (which need not be the key the connection proved).
pub fn hello_with_key(name: &str, purpose: HelloPurpose, key: Fingerprint) -> Message {
    Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        purpose,
        instance: InstanceId::random(),
        transfer_port: 1,
        os: Os::Linux,
        name: name.into(),
        fingerprint: key.0.to_vec(),
    })
}

/// A HELLO from "Mallory".
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
    r: Box<dyn ReadHalf>,
    w: Box<dyn WriteHalf>,
    /// The other side's key as TLS proved it (`None` in plaintext).
    pub peer: Option<Fingerprint>,
    /// This side's key (`None` in plaintext).
    pub me: Option<Fingerprint>,
    /// Accepting side: answer the VERIFY_COMMIT once our HELLO is out.
    answers_commit: bool,
    buf: Vec<u8>,
}

const T: Duration = Duration::from_secs(10);

impl Raw {
    /// Connects to `addr` and runs the TLS handshake as the client.
    pub fn connect(addr: SocketAddr) -> Raw {
        Raw::new(TcpStream::connect(addr).unwrap())
    }

    /// The client side of TLS on a connected stream.
    pub fn new(s: TcpStream) -> Raw {
        Raw::client_as(s, tls())
    }

    /// The client side of TLS with another device key (`TlsContext::new(&other)`).
    pub fn client_as(s: TcpStream, tls: &TlsContext) -> Raw {
        let me = tls.fingerprint();
        let conn = tls.connect(s, None, T).expect("the TLS handshake with Ferry");
        Raw::secured(conn, me, false)
    }

    /// The server side of TLS on an accepted stream (the engine is the sender).
    pub fn accept(s: TcpStream) -> Raw {
        let conn = tls().accept(s, T).expect("the TLS handshake with Ferry");
        Raw::secured(conn, identity().fingerprint(), true)
    }

    fn secured(conn: ferry::transfer::tls::Secured, me: Fingerprint, answers_commit: bool) -> Raw {
        let mut r: Box<dyn ReadHalf> = Box::new(conn.reader);
        let mut w: Box<dyn WriteHalf> = Box::new(conn.writer);
        r.set_wait(Duration::from_millis(20)).unwrap();
        w.set_wait(Duration::from_millis(100)).unwrap();
        Raw { r, w, peer: Some(conn.peer), me: Some(me), answers_commit, buf: Vec::new() }
    }

    /// Plaintext frames on `s`, as Ferry speaks only when it refuses a connection.
    pub fn plain(s: TcpStream) -> Raw {
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(100))).unwrap();
        let r: Box<dyn ReadHalf> = Box::new(s.try_clone().unwrap());
        Raw { r, w: Box::new(s), peer: None, me: None, answers_commit: false, buf: Vec::new() }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let deadline = Instant::now() + T;
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.w.write_some(&[IoSlice::new(rest)]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e)
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
                        && Instant::now() < deadline => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn send(&mut self, m: &Message) {
        self.write_all(&frame(m)).unwrap();
        if let Message::Hello(h) = m
            && self.answers_commit
            && h.version >= 2
        {
            self.answers_commit = false;
            self.answer_commit();
        }
    }

    /// Reads the sender's VERIFY_COMMIT and answers it with a VERIFY_NONCE ("I do not know
    /// you"). Quietly does nothing if the sender said something else or went away.
    fn answer_commit(&mut self) {
        let deadline = Instant::now() + T;
        while Instant::now() < deadline {
            match self.read(Duration::from_millis(100)) {
                Got::Msg(Message::VerifyCommit { .. }) => {
                    let nonce = Message::VerifyNonce { knows_you: false, nonce: sas::random_nonce() };
                    let _ = self.write_all(&frame(&nonce));
                    return;
                }
                Got::Nothing => {}
                _ => return,
            }
        }
    }

    pub fn send_all(&mut self, ms: &[Message]) {
        let bytes: Vec<u8> = ms.iter().flat_map(frame).collect();
        self.write_all(&bytes).unwrap();
    }

    pub fn send_data(&mut self, bytes: &[u8]) {
        self.write_all(&data(bytes)).unwrap();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.write_all(bytes).unwrap();
    }

    /// Says nothing more (TLS close_notify, then FIN).
    pub fn finish(&mut self) {
        self.w.finish();
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
            let mut chunk = vec![0u8; 128 * 1024];
            match self.r.read_some(&mut chunk) {
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
        let deadline = Instant::now() + T;
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

    /// The whole opening as a sender: HELLO and VERIFY_COMMIT, the receiver's HELLO and
    /// VERIFY_NONCE, then VERIFY_REVEAL. Returns the receiver's HELLO.
    pub fn handshake(&mut self) -> Hello {
        self.handshake_as("Mallory").0
    }

    /// [`Raw::handshake`] as a sender called `name` (its HELLO names the key this connection
    /// proved); also returns what the verification exchange gave (the code, and whether it is
    /// shown).
    pub fn handshake_as(&mut self, name: &str) -> (Hello, Verified) {
        let (me, peer) = (self.me.expect("inside TLS"), self.peer.expect("inside TLS"));
        let (mut sas, commit) = SenderSas::start(me.0, peer.0, false, sas::random_nonce());
        self.send_all(&[hello_with_key(name, HelloPurpose::Transfer, me), commit]);
        let Message::Hello(theirs) = self.until(|m| matches!(m, Message::Hello(_))) else { unreachable!() };
        let nonce = self.until(|m| matches!(m, Message::VerifyNonce { .. }));
        let (reveal, verified) = sas.on_message(&nonce).expect("a VERIFY_NONCE");
        self.send(&reveal);
        (theirs, verified)
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
