//! The HTTPS server: axum over rustls, HTTP/1.1.
//!
//! Routes: `POST /mutate` (AdmissionReview v1 for Pods and Services), `POST
//! /validate-kafkapolicy` (KafkaPolicy validation, [`crate::crd::admission`]), `GET /healthz`,
//! `GET /readyz`, `GET /metrics`. Every connection is bounded in time (TLS handshake, request
//! headers, request body) and size (the API server's 3 MiB request limit), and the number of
//! connections is capped, so that a hostile client can neither hang nor exhaust the server.

pub mod tls;
pub mod webhook_config;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::admission;
use crate::config::Config;
use crate::metrics::Metrics;

/// The Kubernetes API server refuses request bodies above 3 MiB; so does the webhook.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Time and size limits of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time allowed to receive a request's headers (also bounds idle keep-alive connections).
    pub header_timeout: Duration,
    /// Time allowed to receive a request's body.
    pub body_timeout: Duration,
    /// Most simultaneous connections; further ones are closed at once.
    pub max_connections: usize,
    /// Most request-body bytes held at once, over all requests, counted as they arrive: bounds
    /// memory under a flood of large bodies, while a slow client holds only what it has sent
    /// (so a few slow bodies cannot starve everyone else). Raised to `max_body_bytes` if lower.
    pub max_buffered_bytes: usize,
    /// Most reviews (parse, detect, mutate, diff) running at once, each on a blocking thread:
    /// parsing JSON takes several times the body's size in memory, and more parallel reviews
    /// than cores only add memory.
    pub max_concurrent_reviews: usize,
    /// How long a request waits for buffer space or a review slot before it gets 503.
    pub queue_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: MAX_BODY_BYTES,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_buffered_bytes: 8 * MAX_BODY_BYTES,
            max_concurrent_reviews: 4,
            queue_timeout: Duration::from_secs(5),
        }
    }
}

/// Shared state of the handlers.
#[derive(Debug)]
pub struct AppState {
    /// What to patch.
    pub config: Config,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// `/readyz` answers 200 once this is true.
    pub ready: AtomicBool,
    /// Limits applied by the handlers.
    pub limits: Limits,
    /// One permit per body byte held (`max_buffered_bytes`).
    buffered: Arc<Semaphore>,
    /// One permit per running review (`max_concurrent_reviews`).
    reviews: Arc<Semaphore>,
}

impl AppState {
    /// New state, not ready yet.
    pub fn new(config: Config, metrics: Arc<Metrics>, limits: Limits) -> Arc<AppState> {
        let buffered = Semaphore::new(
            limits
                .max_buffered_bytes
                .max(limits.max_body_bytes)
                .min(Semaphore::MAX_PERMITS),
        );
        let reviews = Semaphore::new(limits.max_concurrent_reviews.max(1));
        Arc::new(AppState {
            config,
            metrics,
            ready: AtomicBool::new(false),
            limits,
            buffered: Arc::new(buffered),
            reviews: Arc::new(reviews),
        })
    }

    /// Marks the server ready (certificate loaded, CA bundle written).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

fn busy(state: &AppState) -> Response {
    state.metrics.rejected("busy");
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many admission requests in progress; retry".into(),
    )
}

/// Reads a request body within the limits: 413 above `max_body_bytes` (declared or counted),
/// 408 when it is not complete within `body_timeout`, 503 when the buffer budget stays full for
/// `queue_timeout`. The permit holds the body's bytes in the budget until it is dropped.
pub async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, OwnedSemaphorePermit), Response> {
    let limits = &state.limits;
    let too_large = || {
        state.metrics.rejected("too_large");
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body exceeds {} bytes, the Kubernetes API server's limit",
                limits.max_body_bytes
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return Err(too_large());
    }
    let deadline = tokio::time::Instant::now() + limits.body_timeout;
    let mut held = Arc::clone(&state.buffered)
        .try_acquire_many_owned(0)
        .map_err(|_| busy(state))?;
    let mut out = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                state.metrics.rejected("timeout");
                return Err(text(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("request body not received within {:?}", limits.body_timeout),
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                state.metrics.rejected("bad_body");
                return Err(text(
                    StatusCode::BAD_REQUEST,
                    format!("could not read the request body ({e})"),
                ));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        if out.len() + chunk.len() > limits.max_body_bytes {
            return Err(too_large());
        }
        // Fits in u32: a chunk is at most max_body_bytes, checked just above.
        let wanted = u32::try_from(chunk.len()).map_err(|_| too_large())?;
        let more = tokio::time::timeout(
            limits.queue_timeout,
            Arc::clone(&state.buffered).acquire_many_owned(wanted),
        )
        .await;
        match more {
            Ok(Ok(permit)) => held.merge(permit),
            _ => return Err(busy(state)),
        }
        out.extend_from_slice(&chunk);
    }
    Ok((Bytes::from(out), held))
}

/// Runs `review` on a blocking thread once one of the `max_concurrent_reviews` slots is free
/// (503 after `queue_timeout`), so that a large review neither stalls the async workers (TLS,
/// health probes, other connections) nor runs in unbounded parallel.
pub async fn run_review<T: Send + 'static>(
    state: &AppState,
    review: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    let slot = tokio::time::timeout(
        state.limits.queue_timeout,
        Arc::clone(&state.reviews).acquire_owned(),
    )
    .await;
    let Ok(Ok(slot)) = slot else {
        return Err(busy(state));
    };
    // The slot moves into the task: it is held until the review ends even if the client has
    // gone and this future was dropped.
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        review()
    })
    .await
    .map_err(|e| {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the review failed ({e}); this is a bug in meshka, please report it"),
        )
    })
}

/// The axum router with all routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/mutate", post(mutate))
        .route(
            "/validate-kafkapolicy",
            post(crate::crd::admission::handler),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// A plain-text response.
pub fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        message,
    )
        .into_response()
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.ready.load(Ordering::SeqCst) {
        text(StatusCode::OK, "ready".into())
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: waiting for the serving certificate and CA bundle".into(),
        )
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn mutate(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let (bytes, budget) = match read_body(&state, &headers, body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let reviewing = Arc::clone(&state);
    let reviewed = run_review(&state, move || {
        let _budget = budget;
        let started = Instant::now();
        let reviewed = admission::review_body(&bytes, &reviewing.config);
        (reviewed, started.elapsed())
    })
    .await;
    let (reviewed, elapsed) = match reviewed {
        Ok(r) => r,
        Err(response) => return response,
    };
    match reviewed {
        Ok(reviewed) => {
            state.metrics.admission(
                &reviewed.kind,
                reviewed.role,
                reviewed.outcome.as_str(),
                elapsed,
            );
            if let Some(w) = &reviewed.response.warnings {
                tracing::info!(kind = %reviewed.kind, role = reviewed.role, result = reviewed.outcome.as_str(), warnings = ?w, "admission");
            } else {
                tracing::debug!(kind = %reviewed.kind, role = reviewed.role, result = reviewed.outcome.as_str(), "admission");
            }
            match admission::response_json(reviewed.response) {
                Ok(json) => (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    json,
                )
                    .into_response(),
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("could not encode the response ({e})"),
                ),
            }
        }
        Err(bad) => {
            state.metrics.rejected("bad_request");
            text(StatusCode::BAD_REQUEST, bad.0)
        }
    }
}

/// Resolves once `shutdown` is true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// How many connections the kernel may complete before the server accepts them. The API server
/// opens connections in bursts (one per concurrent admission); tokio's default of 128 drops the
/// handshake's last ACK past that, and a client that then stays silent waits for the kernel's
/// SYN-ACK retransmissions (1 s, 3 s, 7 s ...) before the server ever sees it. Capped by
/// `net.core.somaxconn`.
pub const LISTEN_BACKLOG: u32 = 1024;

/// Binds `addr` with [`LISTEN_BACKLOG`].
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `app` over TLS on `listener` until `shutdown` turns true; open connections then get
/// a graceful HTTP shutdown of at most 5 seconds.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            metrics.rejected("too_many_connections");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let limits = limits.clone();
        let mut shutdown = shutdown.clone();
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let _permit = permit;
            let stream =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        metrics.rejected("tls_handshake");
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        metrics.rejected("tls_handshake_timeout");
                        return;
                    }
                };
            let service = TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                _ = stopped(&mut shutdown) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of silent connections is queued whole: with tokio's default backlog of 128 the
    /// kernel dropped the handshake's last ACK past it and those clients reached the server only
    /// after SYN-ACK retransmissions, a second or more later.
    #[tokio::test]
    async fn a_burst_of_silent_connections_is_queued_whole() {
        const BURST: usize = 300;
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for i in 0..BURST {
            let connect = tokio::net::TcpStream::connect(addr);
            match tokio::time::timeout(Duration::from_secs(5), connect).await {
                Ok(stream) => clients.push(stream.unwrap()),
                Err(_) => panic!("connection {i} of {BURST} was not even queued after 5 s"),
            }
        }
        let mut accepted = 0;
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(500), listener.accept()).await
        {
            accepted += 1;
        }
        assert_eq!(accepted, BURST, "connections the kernel had queued");
    }
}
