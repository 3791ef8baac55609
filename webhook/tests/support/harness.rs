//! Test harness: an in-process webhook server on 127.0.0.1 with a test CA, and a tiny HTTPS
//! client (rustls trusting that CA) that speaks just enough HTTP/1.1 to send raw requests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use meshka_webhook::metrics::Metrics;
use meshka_webhook::server::tls::{self, CertStore, Provisioned};
use meshka_webhook::server::{self, AppState, Limits};
use meshka_webhook::Config;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;

pub const SERVICE: &str = "meshka-webhook";
pub const NAMESPACE: &str = "meshka-system";

pub struct TestServer {
    pub addr: SocketAddr,
    pub certs: Provisioned,
    pub metrics: Arc<Metrics>,
    pub state: Arc<AppState>,
    _stop: watch::Sender<bool>,
}

pub async fn start(config: Config, limits: Limits) -> TestServer {
    let certs = tls::provision(tls::service_dns_names(SERVICE, NAMESPACE)).unwrap();
    let key =
        tls::certified_key_from_pem(certs.cert_pem.as_bytes(), certs.key_pem.as_bytes()).unwrap();
    let store = CertStore::new(key);
    start_with(config, limits, certs, store).await
}

pub async fn start_with(
    config: Config,
    limits: Limits,
    certs: Provisioned,
    store: Arc<CertStore>,
) -> TestServer {
    let metrics = Arc::new(Metrics::default());
    let state = AppState::new(config, Arc::clone(&metrics), limits.clone());
    state.set_ready(true);
    let tls_config = tls::server_config(Arc::clone(&store)).unwrap();
    let listener = server::listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = watch::channel(false);
    tokio::spawn(server::serve(
        listener,
        tls_config,
        server::router(Arc::clone(&state)),
        limits,
        Arc::clone(&metrics),
        rx,
    ));
    TestServer {
        addr,
        certs,
        metrics,
        state,
        _stop: stop,
    }
}

pub fn connector(ca_pem: &str) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

pub fn server_name() -> ServerName<'static> {
    ServerName::try_from(format!("{SERVICE}.{NAMESPACE}.svc")).unwrap()
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16)
                .unwrap();
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = out;
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// Sends raw bytes over a fresh TLS connection and reads the response until the server closes.
pub async fn raw(addr: SocketAddr, ca_pem: &str, request: &[u8]) -> HttpResponse {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = connector(ca_pem).connect(server_name(), tcp).await.unwrap();
    // The server may answer (413) and close before the whole request is written.
    let _ = tls.write_all(request).await;
    let _ = tls.flush().await;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), tls.read_to_end(&mut out))
        .await
        .expect("server did not answer in time")
        .ok();
    parse_response(&out)
}

pub fn request_bytes(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {SERVICE}.{NAMESPACE}.svc\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

impl TestServer {
    pub async fn post(&self, path: &str, body: &[u8]) -> HttpResponse {
        raw(
            self.addr,
            &self.certs.ca_pem,
            &request_bytes("POST", path, body),
        )
        .await
    }
    pub async fn get(&self, path: &str) -> HttpResponse {
        raw(
            self.addr,
            &self.certs.ca_pem,
            &request_bytes("GET", path, b""),
        )
        .await
    }
}
