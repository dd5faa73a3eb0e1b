//! Accepting and serving HTTP/1.1 connections within limits: at most `max_connections` at
//! once (more wait in the listen backlog), a connection with no request on it closed after
//! the keep-alive timeout, and one whose request line and headers are not in within the
//! header read timeout of their first byte cut off. A request whose headers are in is the
//! router's to bound (`JWTD_REQUEST_TIMEOUT`, answered 408), so no client holds a
//! connection for long by stalling at any point.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// The limits on each client's connection.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// From the first byte of a request to the end of its headers.
    pub header_read_timeout: Duration,
    /// How long a connection may carry no request.
    pub keep_alive_timeout: Duration,
    /// Connections served at once.
    pub max_connections: u32,
}

/// The largest request head (line and headers) read, in bytes; a larger one is answered
/// 431. hyper's own default is 400 KiB per connection.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long to wait before accepting again when `accept` fails (out of file descriptors,
/// for instance): the failure is the machine's, not one client's.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets
/// requests in flight finish (each within the request timeout) and closes idle connections.
///
/// # Errors
/// None yet: accept failures are logged and retried.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (stop, stopped) = watch::channel(false);
    let mut warned_full: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Warn at most once a minute while the cap is what keeps clients waiting.
                if warned_full.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached (JWTD_MAX_CONNECTIONS): new connections wait"
                    );
                    warned_full = Some(Instant::now());
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                }
            }
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection; retrying");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            router.clone(),
            limits,
            stopped.clone(),
            slot,
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: all slots back means all connections done.
    let _ = slots.acquire_many(limits.max_connections).await;
    Ok(())
}

/// Serves one connection until the client closes it, it breaks a limit, or the server stops.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut stopped: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: Arc::clone(&activity),
    });
    let requests = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let in_flight = InFlight::start(Arc::clone(&requests));
        let response = router.clone().oneshot(request.map(Body::new));
        async move {
            let response = response.await;
            drop(in_flight);
            response
        }
    });
    // hyper's own header timeout runs from the end of the previous response, so it would
    // also cut idle connections: `Activity` keeps both deadlines instead.
    let connection = http1::Builder::new()
        .max_buf_size(MAX_HEAD_BYTES)
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            // Nothing in flight: dropping the connection closes it and loses nothing.
            () = activity.overdue(limits) => return,
            changed = stopped.changed(), if !stopping => {
                stopping = true;
                if changed.is_err() || activity.is_idle() {
                    return;
                }
                // Finish the request in flight, then close.
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// What one connection is doing, for its deadlines: requests in flight, when it last became
/// idle, and when the first byte of its next request arrived.
#[derive(Debug)]
struct Activity {
    state: Mutex<ActivityState>,
    changed: Notify,
}

#[derive(Debug)]
struct ActivityState {
    in_flight: usize,
    idle_since: Instant,
    first_byte: Option<Instant>,
}

impl Activity {
    fn new() -> Self {
        Self {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                idle_since: Instant::now(),
                first_byte: None,
            }),
            changed: Notify::new(),
        }
    }

    fn update(&self, change: impl FnOnce(&mut ActivityState) -> bool) {
        let notify = match self.state.lock() {
            Ok(mut state) => change(&mut state),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        };
        if notify {
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: on an idle connection, the next request has begun.
    fn bytes_arrived(&self) {
        self.update(|state| {
            let begins = state.in_flight == 0 && state.first_byte.is_none();
            if begins {
                state.first_byte = Some(Instant::now());
            }
            begins
        });
    }

    fn is_idle(&self) -> bool {
        match self.state.lock() {
            Ok(state) => state.in_flight == 0,
            Err(poisoned) => poisoned.into_inner().in_flight == 0,
        }
    }

    /// When the connection breaks a limit, as things stand: `None` while a request is in
    /// flight.
    fn deadline(&self, limits: ConnectionLimits) -> Option<Instant> {
        let read = |state: &ActivityState| {
            (state.in_flight == 0).then(|| match state.first_byte {
                Some(first) => first + limits.header_read_timeout,
                None => state.idle_since + limits.keep_alive_timeout,
            })
        };
        match self.state.lock() {
            Ok(state) => read(&state),
            Err(poisoned) => read(&poisoned.into_inner()),
        }
    }

    /// Completes once the connection has been idle past the keep-alive timeout, or has
    /// taken longer than the header read timeout over a request's head.
    async fn overdue(&self, limits: ConnectionLimits) {
        loop {
            match self.deadline(limits) {
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = self.changed.notified() => {}
                    }
                }
                None => self.changed.notified().await,
            }
        }
    }
}

/// A request being handled; its end makes the connection idle again.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.update(|state| {
            state.in_flight += 1;
            state.first_byte = None;
            true
        });
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|state| {
            state.in_flight = state.in_flight.saturating_sub(1);
            state.idle_since = Instant::now();
            state.first_byte = None;
            true
        });
    }
}

/// A client's socket that reports arriving bytes to its [`Activity`].
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
