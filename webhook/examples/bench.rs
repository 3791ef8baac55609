//! Admission latency and memory benchmark of the `meshka` binary.
//!
//! Starts `meshka webhook --self-provision` (the release binary next to this example, or
//! `--meshka PATH`), sends AdmissionReviews built from fixture pods and services over HTTPS
//! keep-alive connections at a steady rate (open loop: requests are scheduled ahead of time), and
//! reports p50/p99/max latency (from writing the request to reading the whole response, and from
//! the scheduled send time) and the server's resident memory.
//!
//! ```text
//! cargo build --release -p meshka-webhook --bins --examples
//! target/release/examples/bench [--rate 200] [--seconds 10] [--connections 4] [--meshka PATH]
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn review(object: &serde_json::Value, i: usize) -> Vec<u8> {
    let kind = object["kind"].as_str().unwrap_or("Pod");
    let resource = if kind == "Service" {
        "services"
    } else {
        "pods"
    };
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": format!("bench-{i}"),
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": resource},
            "namespace": "bench", "operation": "CREATE", "userInfo": {}, "object": object, "dryRun": false
        }
    }))
    .unwrap()
}

fn bodies() -> Vec<Vec<u8>> {
    let dir = std::env::var_os("MESHKA_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kubernetes")
        });
    let files = [
        "bitnami-kafka/default/DERIVED-pod-kafka-controller-0.yaml",
        "confluent-cp-helm-charts/default/DERIVED-pod-confluent-cp-kafka-0.yaml",
        "clients/strimzi-client-examples-java-kafka-producer--DERIVED-pod-from-deployment-java-kafka-producer.yaml",
        "negative/DERIVED-pod-from-deployment-nginx-deployment.yaml",
        "bitnami-kafka/default/service-kafka-controller-headless.yaml",
    ];
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let text = std::fs::read_to_string(dir.join(f))
                .unwrap_or_else(|e| panic!("{f}: {e}; set MESHKA_FIXTURES"));
            let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
            review(&serde_json::to_value(v).unwrap(), i)
        })
        .collect()
}

async fn read_response(
    tls: &mut tokio_rustls::client::TlsStream<TcpStream>,
    buf: &mut Vec<u8>,
) -> u16 {
    buf.clear();
    let mut chunk = [0u8; 16384];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = tls.read(&mut chunk).await.unwrap();
                assert!(n > 0, "server closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            }
            return status;
        }
        let n = tls.read(&mut chunk).await.unwrap();
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rate: f64 = arg(&args, "--rate", 200.0);
    let seconds: f64 = arg(&args, "--seconds", 10.0);
    let connections: usize = arg(&args, "--connections", 4);
    let exe = std::env::current_exe().unwrap();
    let default_bin = exe
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join("meshka");
    let meshka: PathBuf = arg(&args, "--meshka", default_bin);

    // Read the payloads first: a missing fixture must not leave a server behind.
    let bodies = Arc::new(bodies());
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(&meshka)
        .args([
            "webhook",
            "--self-provision",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--service",
            "meshka-webhook",
            "--namespace",
            "meshka-system",
            "--ca-out",
        ])
        .arg(&ca_path)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}); build it with --bins or pass --meshka",
                meshka.display()
            )
        });
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..200 {
        if ca_path.exists() && TcpStream::connect(&addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (rss_idle, _) = rss_kib(child.id());

    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut std::fs::read(&ca_path).unwrap().as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(connections as f64 / rate);
    let start = Instant::now() + Duration::from_millis(200);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let connector = connector.clone();
        let bodies = Arc::clone(&bodies);
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(&addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let name = ServerName::try_from("meshka-webhook.meshka-system.svc").unwrap();
            let mut tls = connector.connect(name, tcp).await.unwrap();
            let offset = interval.mul_f64(c as f64 / connections as f64);
            let mut latencies = Vec::new();
            let mut buf = Vec::new();
            let mut i = c;
            let mut k = 0u32;
            while i < total {
                let due = start + offset + interval * k;
                tokio::time::sleep_until(due.into()).await;
                let body = &bodies[i % bodies.len()];
                let mut req = format!(
                    "POST /mutate HTTP/1.1\r\nHost: meshka-webhook.meshka-system.svc\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                req.extend_from_slice(body);
                let sent = Instant::now();
                tls.write_all(&req).await.unwrap();
                let status = read_response(&mut tls, &mut buf).await;
                assert_eq!(status, 200);
                latencies.push((sent.elapsed(), due.elapsed()));
                i += connections;
                k += 1;
            }
            latencies
        }));
    }
    let mut all: Vec<Duration> = Vec::new();
    let mut scheduled: Vec<Duration> = Vec::new();
    for t in tasks {
        for (from_send, from_schedule) in t.await.unwrap() {
            all.push(from_send);
            scheduled.push(from_schedule);
        }
    }
    scheduled.sort();
    let elapsed = start.elapsed();
    let (rss_end, hwm) = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "admissions: {} in {:.1}s ({:.0}/s target {rate:.0}/s, {connections} keep-alive connections, {} payloads of {}-{} bytes)",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        bodies.len(),
        bodies.iter().map(Vec::len).min().unwrap_or(0),
        bodies.iter().map(Vec::len).max().unwrap_or(0),
    );
    println!(
        "latency (request written -> response read): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all.last().unwrap().as_secs_f64() * 1e3
    );
    let spct = |p: f64| scheduled[((scheduled.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "latency from scheduled send time (includes the client's ~1 ms timer granularity): p50 {:.3} ms, p99 {:.3} ms",
        spct(0.50).as_secs_f64() * 1e3,
        spct(0.99).as_secs_f64() * 1e3,
    );
    println!(
        "server memory: RSS idle {:.1} MiB, after {:.1} MiB, peak {:.1} MiB",
        rss_idle as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}
