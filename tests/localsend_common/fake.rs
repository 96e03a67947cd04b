//! A LocalSend receiver written by hand for the tests, to play receivers Ferry's own does not:
//! one that wants a text's bytes uploaded, one that declines, one that is busy. An HTTPS server
//! on 127.0.0.1 (rustls, a certificate of its own, no client certificate asked for) that records
//! every request and answers each as the test says; a Ferry side learns of it from one
//! datagram on the test's loopback "multicast" port.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};
use ferry::identity::DeviceIdentity;
use ferry::identity::verify::crypto_provider;

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// With the query (`/api/localsend/v2/upload?sessionId=...`).
    pub path: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        super::json_of(&self.body)
    }

    /// The value of query parameter `name` (the values Ferry sends need no decoding).
    pub fn query(&self, name: &str) -> Option<String> {
        let (_, query) = self.path.split_once('?')?;
        query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
    }
}

/// What the receiver answers a request: status and JSON body (empty: none).
pub type Answer = dyn Fn(&Request) -> (u16, String) + Send + Sync;

pub struct FakeReceiver {
    pub identity: DeviceIdentity,
    pub addr: SocketAddr,
    requests: Receiver<Request>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeReceiver {
    /// Listens on a free port of 127.0.0.1; `answer` answers every request, in order.
    pub fn start(answer: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> FakeReceiver {
        let identity = DeviceIdentity::generate().unwrap();
        let config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![rustls::pki_types::CertificateDer::from(identity.cert_der().to_vec())],
                rustls::pki_types::PrivateKeyDer::Pkcs8(identity.key_der().to_vec().into()),
            )
            .unwrap();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, requests) = unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let answer: Arc<Answer> = Arc::new(answer);
        let (config, stop2) = (Arc::new(config), stop.clone());
        let acceptor = std::thread::Builder::new()
            .name("fake-ls-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(tcp) = conn else { continue };
                    let (config, tx, answer) = (config.clone(), tx.clone(), answer.clone());
                    // Ends when the sender closes the connection (or after 10 s of silence).
                    let _ = std::thread::Builder::new()
                        .name("fake-ls-conn".into())
                        .spawn(move || serve(tcp, config, &tx, &*answer));
                }
            })
            .unwrap();
        FakeReceiver { identity, addr, requests, stop, acceptor: Some(acceptor) }
    }

    /// Tells the LocalSend sides listening on `udp` (127.255.255.255) about this receiver: an
    /// answer datagram (`announce: false`), so they list it as announced, with its certificate's
    /// fingerprint, without registering with it.
    pub fn announce(&self, alias: &str, udp: u16) {
        let datagram = serde_json::json!({
            "alias": alias,
            "version": "2.1",
            "deviceModel": "Pixel",
            "deviceType": "mobile",
            "fingerprint": self.identity.localsend_fingerprint(),
            "port": self.addr.port(),
            "protocol": "https",
            "download": false,
            "announce": false,
        });
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.set_broadcast(true).unwrap();
        tx.send_to(datagram.to_string().as_bytes(), ("127.255.255.255", udp)).unwrap();
    }

    /// The requests that arrive within `secs` (those that arrived before included).
    pub fn requests(&self, secs: f64) -> Vec<Request> {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let mut out = Vec::new();
        while let Ok(r) = self.requests.recv_deadline(deadline) {
            out.push(r);
        }
        out
    }
}

impl Drop for FakeReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A blocking accept has no timeout: a connection of our own wakes it.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// One connection: requests one after the other (keep-alive), each recorded, then answered.
fn serve(tcp: TcpStream, config: Arc<rustls::ServerConfig>, tx: &Sender<Request>, answer: &Answer) {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let conn = rustls::ServerConnection::new(config).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while let Some(request) = read_request(&mut tls) {
        let _ = tx.send(request.clone());
        let (status, body) = answer(&request);
        let head = format!(
            "HTTP/1.1 {status} Fake\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if tls.write_all(head.as_bytes()).and_then(|()| tls.write_all(body.as_bytes())).is_err() {
            return;
        }
        let _ = tls.flush();
    }
}

/// A request with a `Content-Length` body (all Ferry sends); `None` once the connection ends.
fn read_request(s: &mut impl Read) -> Option<Request> {
    let (head, body) = super::read_message(s)?;
    let mut words = head.split_whitespace();
    let (method, path) = (words.next()?.to_owned(), words.next()?.to_owned());
    Some(Request { method, path, body })
}
