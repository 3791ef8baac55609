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

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
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
    /// Most request bodies buffered at once (each up to `max_body_bytes`): bounds memory under a
    /// flood of large requests. Requests beyond it wait up to `queue_timeout`, then get 503.
    pub max_concurrent_reviews: usize,
    /// How long a request waits for one of the `max_concurrent_reviews` slots.
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
            max_concurrent_reviews: 64,
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
    reviews: Semaphore,
}

impl AppState {
    /// New state, not ready yet.
    pub fn new(config: Config, metrics: Arc<Metrics>, limits: Limits) -> Arc<AppState> {
        let reviews = Semaphore::new(limits.max_concurrent_reviews.max(1));
        Arc::new(AppState {
            config,
            metrics,
            ready: AtomicBool::new(false),
            limits,
            reviews,
        })
    }

    /// Marks the server ready (certificate loaded, CA bundle written).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
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

fn text(status: StatusCode, message: String) -> Response {
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
        return too_large();
    }
    let Ok(Ok(_permit)) = tokio::time::timeout(limits.queue_timeout, state.reviews.acquire()).await
    else {
        state.metrics.rejected("busy");
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many admission requests in progress; retry".into(),
        );
    };
    let bytes = match tokio::time::timeout(
        limits.body_timeout,
        axum::body::to_bytes(body, limits.max_body_bytes),
    )
    .await
    {
        Err(_) => {
            state.metrics.rejected("timeout");
            return text(
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time".into(),
            );
        }
        Ok(Err(e)) => {
            // to_bytes fails on a length-limit hit or a broken stream.
            let msg = e.to_string();
            if msg.contains("length limit") {
                return too_large();
            }
            state.metrics.rejected("bad_body");
            return text(
                StatusCode::BAD_REQUEST,
                format!("could not read the request body ({msg})"),
            );
        }
        Ok(Ok(b)) => b,
    };
    let started = Instant::now();
    match admission::review_body(&bytes, &state.config) {
        Ok(reviewed) => {
            state.metrics.admission(
                &reviewed.kind,
                reviewed.role,
                reviewed.outcome.as_str(),
                started.elapsed(),
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
