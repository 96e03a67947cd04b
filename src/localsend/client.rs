//! Talking to another LocalSend device's server: one HTTP/1.1 connection (plain or TLS), requests
//! on it one after the other. Over TLS we present Ferry's certificate and pin the server's to
//! the fingerprint the device announced ([`super::tls::client_config`]), so the wrong device
//! fails during the handshake and never sees a request.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::dto::Protocol;
use super::server::keepalive;
use super::tls::{Sha256Fingerprint, client_config, peer_certificate};
use crate::identity::DeviceIdentity;

/// Bodies we send: JSON in one piece, or a file streamed.
pub type ReqBody = BoxBody<Bytes, io::Error>;

/// Where a device's server is and how to check it is that device.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub protocol: Protocol,
    /// Over HTTPS: the certificate the server must show. `None`: any (first contact).
    pub pin: Option<Sha256Fingerprint>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connecting failed: {0}")]
    Connect(io::Error),
    #[error("no answer in time")]
    Timeout,
    #[error("the server showed another certificate than the one announced")]
    WrongDevice,
    #[error("TLS failed: {0}")]
    Tls(io::Error),
    #[error("HTTP failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("the answer was longer than {0} bytes")]
    TooLong(usize),
}

trait AsyncIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncIo for T {}

/// One open connection to a device.
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<ReqBody>,
    /// The certificate the server showed, and its key (HTTPS only).
    pub proven: Option<super::ProvenSender>,
    driver: tokio::task::JoinHandle<()>,
    host: String,
}

impl Connection {
    /// Connects (and shakes hands) within `timeout`.
    pub async fn open(
        identity: &DeviceIdentity,
        target: &Target,
        timeout: Duration,
    ) -> Result<Connection, ClientError> {
        tokio::time::timeout(timeout, Self::open_now(identity, target))
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    async fn open_now(identity: &DeviceIdentity, target: &Target) -> Result<Connection, ClientError> {
        let tcp = TcpStream::connect(target.addr).await.map_err(ClientError::Connect)?;
        let _ = tcp.set_nodelay(true);
        keepalive(&tcp);
        let (io, proven): (Box<dyn AsyncIo>, _) = match target.protocol {
            Protocol::Http => (Box::new(tcp), None),
            Protocol::Https => {
                let config = client_config(identity, target.pin)
                    .map_err(|e| ClientError::Tls(io::Error::other(e.to_string())))?;
                let name = rustls::pki_types::ServerName::IpAddress(target.addr.ip().into());
                let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(|e| {
                    if is_wrong_certificate(&e) { ClientError::WrongDevice } else { ClientError::Tls(e) }
                })?;
                let conn = tls.get_ref().1;
                let proven = peer_certificate(conn)
                    .zip(crate::identity::verify::peer_fingerprint(conn))
                    .map(|(certificate, key)| super::ProvenSender { certificate, key });
                (Box::new(tls), proven)
            }
        };
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(io))
            .await
            .map_err(ClientError::Http)?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender, proven, driver, host: target.addr.to_string() })
    }

    /// Whether another request can go on this connection (the server may have closed it).
    pub fn is_open(&self) -> bool {
        !self.sender.is_closed()
    }

    /// Sends `req` (the Host header is added) and returns the response head; the body is read
    /// by the caller ([`read_body`]).
    pub async fn send(&mut self, mut req: Request<ReqBody>) -> Result<Response<Incoming>, ClientError> {
        if let Ok(host) = hyper::header::HeaderValue::from_str(&self.host) {
            req.headers_mut().insert(hyper::header::HOST, host);
        }
        self.sender.ready().await?;
        Ok(self.sender.send_request(req).await?)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Whether a TLS error is a pinned certificate that did not match.
fn is_wrong_certificate(e: &io::Error) -> bool {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).is_some_and(|e| {
        matches!(
            e,
            rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure)
        )
    })
}

/// A JSON body in one piece.
pub fn full(bytes: impl Into<Bytes>) -> ReqBody {
    http_body_util::Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

/// `POST path` with a JSON body.
pub fn post_json(path: &str, json: Vec<u8>) -> Request<ReqBody> {
    Request::post(path)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::CONTENT_LENGTH, json.len())
        .body(full(json))
        .expect("a request from constant parts")
}

/// Reads a response body, refusing more than `cap` bytes.
pub async fn read_body(resp: Response<Incoming>, cap: usize) -> Result<(StatusCode, Bytes), ClientError> {
    let status = resp.status();
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if out.len() + data.len() > cap {
                return Err(ClientError::TooLong(cap));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok((status, Bytes::from(out)))
}
