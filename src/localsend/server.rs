//! The LocalSend server: one TCP port for HTTPS and plain HTTP, HTTP/1.1 on both.
//!
//! A connection's life: [`admission::admit`] (caps per address and in all) → its first byte
//! within the header timeout (0x16, a TLS handshake record, means HTTPS; anything else is
//! plain HTTP from a phone with encryption off) → for HTTPS, the handshake within the header
//! timeout → requests, each with its headers within the header timeout (at most
//! [`MAX_HEADER_BYTES`]), routed by [`route`]. A connection on which no byte moves for the idle
//! timeout is closed, except while one of its requests waits for the person's answer.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::admission::{self, Permit};
use super::peers::canonical;
use super::tls::{Sha256Fingerprint, peer_certificate};
use super::{Shared, StartError, receive};

/// Largest request head (request line and headers). LocalSend's are a few hundred bytes.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// What we answer with: always small, in one piece.
pub type RespBody = Full<Bytes>;

/// Binds `bind:port`, or any free port when that one is taken (another LocalSend app on this
/// computer, say); the announcements name whichever it is.
pub fn bind(bind: IpAddr, port: u16) -> Result<TcpListener, StartError> {
    let listen = |port: u16| -> io::Result<TcpListener> {
        let std = std::net::TcpListener::bind(SocketAddr::new(bind, port))?;
        std.set_nonblocking(true)?;
        TcpListener::from_std(std)
    };
    let addr = SocketAddr::new(bind, port);
    match listen(port) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && port != 0 => {
            listen(0).map_err(|source| StartError::Listen { addr, source })
        }
        Err(source) => Err(StartError::Listen { addr, source }),
    }
}

/// TCP keepalive, so a device that vanished (phone switched off) is noticed while we wait for
/// it, in about half a minute.
pub fn keepalive(tcp: &TcpStream) {
    let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(15));
    // Where the system lets us choose (elsewhere its own, longer, defaults apply).
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "windows",
        target_os = "freebsd",
        target_os = "netbsd"
    ))]
    let ka = ka.with_interval(Duration::from_secs(5)).with_retries(3);
    let _ = socket2::SockRef::from(tcp).set_tcp_keepalive(&ka);
}

/// Accepts connections until shutdown.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (tcp, addr) = tokio::select! {
            _ = shared.stopping.wait() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: a moment's pause instead of a spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let ip = canonical(addr.ip());
        let Some(permit) = admission::admit(&shared.admission, ip) else {
            continue;
        };
        tokio::spawn(connection(tcp, ip, permit, shared.clone()));
    }
}

/// Who is on the other end of a connection.
pub struct Conn {
    pub ip: IpAddr,
    /// The client certificate's fingerprint (HTTPS, when the client showed one): the sender's
    /// identity.
    pub cert: Option<Sha256Fingerprint>,
    /// The same certificate's key fingerprint (Ferry's name for a device).
    pub key: Option<crate::identity::Fingerprint>,
    pub activity: Arc<Activity>,
}

impl Conn {
    /// The client certificate and its key, when the client showed one.
    pub fn proven(&self) -> Option<super::ProvenSender> {
        self.cert.zip(self.key).map(|(certificate, key)| super::ProvenSender { certificate, key })
    }
}

async fn connection(tcp: TcpStream, ip: IpAddr, permit: Permit, shared: Arc<Shared>) {
    let _permit = permit;
    let _ = tcp.set_nodelay(true);
    keepalive(&tcp);
    let limit = shared.timing.header_timeout;
    let mut first = [0u8; 1];
    match tokio::time::timeout(limit, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return,
    }
    if first[0] == 0x16 {
        let acceptor = tokio_rustls::TlsAcceptor::from(shared.server_tls.clone());
        let Ok(Ok(tls)) = tokio::time::timeout(limit, acceptor.accept(tcp)).await else { return };
        let conn = tls.get_ref().1;
        let cert = peer_certificate(conn);
        let key = crate::identity::verify::peer_fingerprint(conn);
        http(tls, ip, cert.zip(key), shared).await;
    } else {
        http(tcp, ip, None, shared).await;
    }
}

async fn http<T>(
    io: T,
    ip: IpAddr,
    proven: Option<(Sha256Fingerprint, crate::identity::Fingerprint)>,
    shared: Arc<Shared>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let (cert, key) = (proven.map(|p| p.0), proven.map(|p| p.1));
    let conn = Arc::new(Conn { ip, cert, key, activity: activity.clone() });
    let io = TokioIo::new(Watched { inner: io, activity: activity.clone() });
    let service = {
        let shared = shared.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let (shared, conn) = (shared.clone(), conn.clone());
            async move { Ok::<_, Infallible>(route(req, &conn, &shared).await) }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.timing.header_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .keep_alive(true);
    let serving = builder.serve_connection(io, service);
    tokio::select! {
        _ = serving => {}
        _ = activity.idle(shared.timing.idle_timeout) => {}
        _ = shared.stopping.wait() => {}
    }
}

/// The endpoints. Everything else is 404.
async fn route(req: Request<Incoming>, conn: &Conn, shared: &Arc<Shared>) -> Response<RespBody> {
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::POST, "/api/localsend/v2/register") => receive::register(req, conn, shared).await,
        // LocalSend 1.17 and older ask unknown devices on the v1 route.
        (Method::GET, "/api/localsend/v2/info" | "/api/localsend/v1/info") => receive::info(shared),
        (Method::POST, "/api/localsend/v2/prepare-upload") => {
            receive::prepare_upload(req, conn, shared).await
        }
        (Method::POST, "/api/localsend/v2/upload") => receive::upload(req, conn, shared).await,
        (Method::POST, "/api/localsend/v2/cancel") => receive::cancel(req, conn, shared),
        _ => empty(StatusCode::NOT_FOUND),
    }
}

/// A response without a body.
pub fn empty(status: StatusCode) -> Response<RespBody> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// A JSON response.
pub fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response<RespBody> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    r
}

/// An error with a message, the way LocalSend 1.18 answers (`{"message": ...}`).
pub fn error(status: StatusCode, message: &str) -> Response<RespBody> {
    json(status, &super::dto::ErrorBody { message: message.to_owned() })
}

/// Reads a whole request body, refusing more than `cap` bytes (413) without reading further: a
/// declared length over the cap is refused before a byte is read.
pub async fn read_capped(req: Request<Incoming>, cap: usize) -> Result<Bytes, Response<RespBody>> {
    let too_big = || error(StatusCode::PAYLOAD_TOO_LARGE, "Body too large");
    if content_length(&req).is_some_and(|n| n > cap as u64) {
        return Err(too_big());
    }
    let mut body = req.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| error(StatusCode::BAD_REQUEST, "Incomplete body"))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > cap {
                return Err(too_big());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}

/// The declared `Content-Length`, if any.
pub fn content_length<B>(req: &Request<B>) -> Option<u64> {
    req.headers().get(hyper::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// When bytes last moved on a connection, and whether a request is waiting for a person (then
/// silence is expected and the connection stays open).
pub struct Activity {
    start: Instant,
    /// Milliseconds after `start` of the last read or write that moved bytes.
    last: AtomicU64,
    holds: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity { start: Instant::now(), last: AtomicU64::new(0), holds: AtomicUsize::new(0) }
    }

    fn touch(&self) {
        self.last.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// Keeps the connection open however long the caller waits (for the person's answer).
    pub fn hold(self: &Arc<Self>) -> Hold {
        self.holds.fetch_add(1, Ordering::SeqCst);
        Hold(self.clone())
    }

    /// Resolves once nothing moved for `limit` with no request held.
    async fn idle(&self, limit: Duration) {
        let step = (limit / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        loop {
            tokio::time::sleep(step).await;
            if self.holds.load(Ordering::SeqCst) == 0 && self.quiet_for() >= limit {
                return;
            }
        }
    }
}

/// See [`Activity::hold`]; the quiet time starts anew when it is dropped.
pub struct Hold(Arc<Activity>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.touch();
        self.0.holds.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stream that notes every read and write that moved bytes.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
