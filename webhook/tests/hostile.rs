//! Hostile input against the admission webhook: generated and mutated AdmissionReviews (pure
//! and over real HTTPS), deep nesting, huge and wide bodies, wrong types at every level, invalid
//! UTF-8, truncated JSON, slow clients, and certificate rotation under steady admission load.
//!
//! The fuzz is a seeded generator rather than proptest so that it needs no new dependency;
//! `MESHKA_FUZZ_SEED` and `MESHKA_FUZZ_CASES` replay or extend a run. Figures are printed (run
//! with `--nocapture`) for webhook/README.md's reliability section.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

// Shared with tests/webhook.rs, which uses all of it.
#[allow(dead_code)]
#[path = "support/fixtures.rs"]
mod fixtures;
#[allow(dead_code)]
#[path = "support/harness.rs"]
mod harness;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use meshka_webhook::admission::{self, MAX_MESSAGE_CHARS, MAX_WARNING_CHARS};
use meshka_webhook::server::Limits;
use meshka_webhook::Config;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// ---------------------------------------------------------------------------------------------
// A small deterministic generator (splitmix64).

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn seed_from_env() -> u64 {
    std::env::var("MESHKA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6d65_7368_6b61)
}

fn cases_from_env(default: usize) -> usize {
    std::env::var("MESHKA_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "request",
    "uid",
    "object",
    "oldObject",
    "operation",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "spec",
    "containers",
    "initContainers",
    "ports",
    "containerPort",
    "image",
    "env",
    "value",
    "volumes",
    "emptyDir",
    "volumeMounts",
    "mountPath",
    "selector",
    "proxy.istio.io/config",
    "meshka.io/kafka-role",
    "sidecar.istio.io/inject",
    "strimzi.io/kind",
    "app.kubernetes.io/name",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "dryRun",
    "subResource",
    "group",
    "version",
    "",
];

const STRINGS: &[&str] = &[
    "",
    "Pod",
    "Service",
    "AdmissionReview",
    "admission.k8s.io/v1",
    "admission.k8s.io/v1beta1",
    "CREATE",
    "UPDATE",
    "DELETE",
    "PATCH",
    "broker",
    "controller",
    "zookeeper",
    "client",
    "none",
    "kafka",
    "apache/kafka:4.0.0",
    "bitnami/kafka",
    "confluentinc/cp-kafka",
    "9092",
    "-1",
    "true",
    "Kafka",
    "holdApplicationUntilProxyStarts: false\nterminationDrainDuration: 1h",
    "{\"proxyMetadata\": []}",
    "a: &a [*a, *a]",
    "é☃\u{1F980}",
    "\u{0}\u{1}\u{7f}",
    "/~0~1/",
    "..",
    "*",
    "1e400",
];

/// Any JSON value, nested at most `depth` deep, shaped after what Kubernetes objects hold.
fn arb_value(rng: &mut Rng, depth: usize) -> Value {
    let leaf = depth == 0 || rng.below(3) == 0;
    match rng.below(if leaf { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => match rng.below(5) {
            0 => json!(rng.next() as i64),
            1 => json!(rng.below(70_000)),
            2 => json!(u64::MAX),
            3 => json!(-1),
            _ => json!(1.5e300),
        },
        3 | 4 => json!(rng.pick(STRINGS)),
        5 => json!("x".repeat(rng.below(600))),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| arb_value(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(5))
                .map(|_| (rng.pick(KEYS).to_string(), arb_value(rng, depth - 1)))
                .collect(),
        ),
    }
}

/// Every path (object keys, array indexes) in `value`.
fn paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(json!(k));
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(json!(i));
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at_mut<'a>(value: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    let mut node = value;
    for seg in path {
        node = match seg {
            Value::String(k) => node.get_mut(k.as_str())?,
            Value::Number(i) => node.get_mut(i.as_u64()? as usize)?,
            _ => return None,
        };
    }
    Some(node)
}

/// `seed` with one to four random changes: a value replaced (wrong types, huge strings,
/// nesting close to the parser's limit), a key removed, an element duplicated.
fn mutate(rng: &mut Rng, seed: &Value) -> Value {
    let mut doc = seed.clone();
    for _ in 0..1 + rng.below(4) {
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        let path = rng.pick(&all).clone();
        let replacement = match rng.below(10) {
            0 => None,
            1 => Some(json!("y".repeat(10_000 + rng.below(100_000)))),
            2 => {
                let mut v = json!(rng.pick(STRINGS));
                for _ in 0..100 + rng.below(20) {
                    v = json!([v]);
                }
                Some(v)
            }
            3 => at_mut(&mut doc, &path).map(|v| json!([v.clone(), v.clone()])),
            _ => Some(arb_value(rng, 4)),
        };
        match (replacement, path.split_last()) {
            (Some(v), _) => {
                if let Some(node) = at_mut(&mut doc, &path) {
                    *node = v;
                }
            }
            (None, Some((last, parent))) => match (at_mut(&mut doc, parent), last) {
                (Some(Value::Object(map)), Value::String(k)) => {
                    map.remove(k);
                }
                (Some(Value::Array(items)), Value::Number(i)) => {
                    let i = i.as_u64().unwrap_or(0) as usize;
                    if i < items.len() {
                        items.remove(i);
                    }
                }
                _ => {}
            },
            (None, None) => {}
        }
    }
    doc
}

/// Byte-level damage to a serialized review: truncation, a flipped byte, invalid UTF-8,
/// a duplicated or deleted slice.
fn damage(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = rng.below(out.len() + 1);
    match rng.below(5) {
        0 => out.truncate(at),
        1 => {
            if at < out.len() {
                out[at] ^= 1 << rng.below(8);
            }
        }
        2 => {
            let bad: &[&[u8]] = &[b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"];
            let bad = *rng.pick(bad);
            out.splice(at..at, bad.iter().copied());
        }
        3 => {
            let end = (at + rng.below(64)).min(out.len());
            let slice = out[at..end].to_vec();
            out.splice(at..at, slice);
        }
        _ => {
            let end = (at + rng.below(64)).min(out.len());
            out.drain(at..end);
        }
    }
    out
}

fn kafka_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "kafka-0", "namespace": "kafka",
                     "annotations": {"proxy.istio.io/config": "holdApplicationUntilProxyStarts: true\n"}},
        "spec": {"containers": [{"name": "kafka", "image": "apache/kafka:4.0.0",
            "ports": [{"containerPort": 9092}, {"containerPort": 9093, "name": "controller"}],
            "env": [{"name": "KAFKA_PROCESS_ROLES", "value": "broker,controller"}],
            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/kafka"}]}],
            "volumes": [{"name": "data", "emptyDir": {}}]}
    })
}

fn kafka_service() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kafka", "namespace": "kafka", "labels": {"app.kubernetes.io/name": "kafka"}},
        "spec": {"selector": {"app.kubernetes.io/name": "kafka"},
                 "ports": [{"name": "tcp-clients", "port": 9092}, {"name": "http-metrics", "port": 9404}]}
    })
}

fn policy_review() -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "u-policy",
            "kind": {"group": "meshka.io", "version": "v1alpha1", "kind": "KafkaPolicy"},
            "resource": {"group": "meshka.io", "version": "v1alpha1", "resource": "kafkapolicies"},
            "name": "orders", "namespace": "kafka", "operation": "CREATE", "userInfo": {"username": "alice"},
            "object": {"apiVersion": "meshka.io/v1alpha1", "kind": "KafkaPolicy",
                "metadata": {"name": "orders", "namespace": "kafka"},
                "spec": {"selector": {"matchLabels": {"app": "kafka"}}, "ports": [9092],
                    "authorization": {"rules": [{"action": "allow", "principals": ["*"],
                        "resources": [{"type": "topic", "name": "orders"}], "operations": ["Read"]}]}}}
        }
    })
}

/// The reviews the mutations start from: real Kafka Pods and Services from the fixtures, the
/// hand-made ones above, and a KafkaPolicy review.
fn seeds() -> Vec<Value> {
    let mut out: Vec<Value> = fixtures::load()
        .iter()
        .map(|f| fixtures::review(&f.object, "CREATE", false))
        .collect();
    out.push(fixtures::review(&kafka_pod(), "CREATE", false));
    out.push(fixtures::review(&kafka_service(), "UPDATE", true));
    out.push(policy_review());
    out
}

/// The next generated body: a mutated seed (most), a damaged one, or any JSON at all.
fn next_body(rng: &mut Rng, seeds: &[Value]) -> Vec<u8> {
    match rng.below(10) {
        0..=5 => {
            let seed = rng_seed(rng, seeds);
            serde_json::to_vec(&mutate(rng, seed)).unwrap()
        }
        6..=8 => {
            let seed = serde_json::to_vec(rng_seed(rng, seeds)).unwrap();
            damage(rng, &seed)
        }
        _ => serde_json::to_vec(&arb_value(rng, 6)).unwrap(),
    }
}

fn rng_seed<'a>(rng: &mut Rng, seeds: &'a [Value]) -> &'a Value {
    &seeds[rng.below(seeds.len())]
}

// ---------------------------------------------------------------------------------------------
// What every answer must satisfy.

fn decode_patch(response: &Value) -> Option<json_patch::Patch> {
    let b64 = response["patch"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    Some(serde_json::from_slice(&bytes).unwrap())
}

/// Checks an AdmissionReview answer against the body it answers; returns whether it was
/// patched.
fn check_answer(body: &[u8], answer: &Value, mutating: bool, config: &Config) -> bool {
    let sent: Value = serde_json::from_slice(body).unwrap();
    let answer_text = short(answer);
    assert_eq!(answer["kind"], "AdmissionReview", "{answer_text}");
    assert_eq!(answer["apiVersion"], sent["apiVersion"], "{answer_text}");
    let response = &answer["response"];
    assert_eq!(response["uid"], sent["request"]["uid"], "{answer_text}");
    let allowed = response["allowed"].as_bool().expect("allowed is a bool");
    if let Some(message) = response["status"]["message"].as_str() {
        assert!(
            message.chars().count() <= MAX_MESSAGE_CHARS + 200,
            "{}",
            short(&message)
        );
    }
    if !allowed {
        let message = response["status"]["message"].as_str().unwrap_or("");
        assert!(
            !message.is_empty(),
            "a denial without a reason: {answer_text}"
        );
    }
    for w in response["warnings"].as_array().into_iter().flatten() {
        assert!(
            w.as_str().unwrap().chars().count() <= MAX_WARNING_CHARS,
            "{w}"
        );
    }
    let Some(patch) = decode_patch(response) else {
        return false;
    };
    assert!(
        mutating,
        "the validating webhook returned a patch: {answer_text}"
    );
    assert!(allowed);
    // The patch applies to the object that was sent, and a second pass (reinvocation) over the
    // result changes nothing more.
    let mut object = sent["request"]["object"].clone();
    json_patch::patch(&mut object, &patch)
        .unwrap_or_else(|e| panic!("patch does not apply ({e}): {patch:?}"));
    let mut again = sent.clone();
    again["request"]["object"] = object;
    let again_body = serde_json::to_vec(&again).unwrap();
    let second = admission::review_body(&again_body, config).unwrap();
    let second: Value =
        serde_json::from_slice(&admission::response_json(second.response).unwrap()).unwrap();
    assert!(
        second["response"]["patch"].is_null(),
        "not idempotent: the second pass patched again: {}",
        short(&second)
    );
    true
}

/// `value` as text, cut for assertion messages (bodies hold strings of megabytes).
fn short(value: &impl std::fmt::Display) -> String {
    admission::clip(&value.to_string(), 2000)
}

fn check_bad_request(message: &str) {
    assert!(!message.trim().is_empty());
    assert!(
        message.chars().count() <= MAX_MESSAGE_CHARS + 200,
        "{} chars",
        message.len()
    );
}

#[derive(Default, Debug)]
struct Tally {
    answered: usize,
    patched: usize,
    bad_request: usize,
}

/// Reviews `body` with both endpoints' pure functions and checks the answers.
fn check_pure(body: &[u8], config: &Config, tally: &mut Tally) {
    let mutated = admission::review_body(body, config);
    let validated = meshka_webhook::crd::admission::review_body(body);
    match (&mutated, &validated) {
        (Ok(reviewed), Ok(json)) => {
            let answer: Value = serde_json::from_slice(
                &admission::response_json(reviewed.response.clone()).unwrap(),
            )
            .unwrap();
            if check_answer(body, &answer, true, config) {
                tally.patched += 1;
            }
            check_answer(body, &serde_json::from_slice(json).unwrap(), false, config);
            tally.answered += 1;
        }
        (Err(bad), Err(message)) => {
            check_bad_request(&bad.0);
            check_bad_request(message);
            tally.bad_request += 1;
        }
        _ => panic!(
            "the two endpoints disagree on whether this is an AdmissionReview: {:?} / {:?}",
            mutated.as_ref().map(|r| &r.response),
            validated.as_ref().map(|_| "answered")
        ),
    }
}

#[test]
fn generated_reviews_get_well_formed_answers_or_clear_errors() {
    let seed = seed_from_env();
    let cases = cases_from_env(3000);
    let config = Config::default();
    let seeds = seeds();
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let started = Instant::now();
    let mut slowest = (Duration::ZERO, 0);
    for case in 0..cases {
        let body = next_body(&mut rng, &seeds);
        let t = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_pure(&body, &config, &mut tally)
        }));
        if outcome.is_err() {
            let path = std::env::temp_dir().join(format!("meshka-fuzz-{seed}-{case}.json"));
            std::fs::write(&path, &body).unwrap();
            panic!(
                "case {case} of seed {seed} failed; the body is in {} (replay: MESHKA_FUZZ_SEED={seed})",
                path.display()
            );
        }
        slowest = slowest.max((t.elapsed(), case));
    }
    println!(
        "fuzz (pure): seed {seed}, {cases} bodies in {:.1?} — {} answered ({} patched), {} bad requests; slowest case {} took {:.1?}",
        started.elapsed(),
        tally.answered,
        tally.patched,
        tally.bad_request,
        slowest.1,
        slowest.0
    );
    // A generator that only produced garbage (or only valid reviews) would prove little.
    assert!(tally.answered > cases / 10, "{tally:?}");
    assert!(tally.bad_request > cases / 10, "{tally:?}");
    assert!(tally.patched > cases / 50, "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_reviews_over_https_leave_the_server_healthy() {
    let seed = seed_from_env() ^ 1;
    let cases = cases_from_env(3000) / 10;
    let config = Config::default();
    let server = harness::start(config.clone(), Limits::default()).await;
    let seeds = seeds();
    let mut rng = Rng(seed);
    let mut statuses = std::collections::BTreeMap::new();
    let started = Instant::now();
    let mut conn = KeepAlive::connect(server.addr, &server.certs.ca_pem).await;
    for case in 0..cases {
        let body = next_body(&mut rng, &seeds);
        let path = if case % 2 == 0 {
            "/mutate"
        } else {
            "/validate-kafkapolicy"
        };
        let r = match conn.send(path, &body).await {
            Some(r) => r,
            // The server closes the connection after a 400 only if hyper could not frame the
            // request; bodies here are well framed, so this is a failure.
            None => panic!("case {case}: the server closed a keep-alive connection"),
        };
        *statuses.entry(r.status).or_insert(0) += 1;
        match r.status {
            200 => {
                check_answer(&body, &r.json(), path == "/mutate", &config);
            }
            400 => check_bad_request(&r.text()),
            other => panic!("case {case}: HTTP {other}: {}", r.text()),
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(server.get("/healthz").await.status, 200);
    println!(
        "fuzz (HTTPS, one keep-alive connection): seed {seed}, {cases} bodies in {elapsed:.1?}, statuses {statuses:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A keep-alive HTTP/1.1 client over rustls, enough for Content-Length framed responses.

struct KeepAlive {
    tls: tokio_rustls::client::TlsStream<TcpStream>,
    buf: Vec<u8>,
}

impl KeepAlive {
    async fn connect(addr: SocketAddr, ca_pem: &str) -> KeepAlive {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = harness::connector(ca_pem)
            .connect(harness::server_name(), tcp)
            .await
            .unwrap();
        KeepAlive {
            tls,
            buf: Vec::new(),
        }
    }

    /// The DER certificate the server presented.
    fn peer_certificate(&self) -> Vec<u8> {
        self.tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
    }

    /// Sends one POST; `None` when the connection was closed before a whole response came.
    async fn send(&mut self, path: &str, body: &[u8]) -> Option<harness::HttpResponse> {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}.{}.svc\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            harness::SERVICE,
            harness::NAMESPACE,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        self.tls.write_all(&req).await.ok()?;
        self.tls.flush().await.ok()?;
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .expect("a response without content-length");
                if self.buf.len() >= end + 4 + length {
                    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
                    let body = self.buf[end + 4..end + 4 + length].to_vec();
                    self.buf.drain(..end + 4 + length);
                    return Some(harness::HttpResponse {
                        status,
                        headers: Vec::new(),
                        body,
                    });
                }
            }
            let mut chunk = [0u8; 16384];
            let n = tokio::time::timeout(Duration::from_secs(20), self.tls.read(&mut chunk))
                .await
                .expect("no response within 20 s")
                .ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Named hostile inputs.

fn pod_review() -> Value {
    fixtures::review(&kafka_pod(), "CREATE", false)
}

/// `pod_review()` with the value at `pointer` replaced (or removed with `None`).
fn with(pointer: &str, value: Option<Value>) -> Vec<u8> {
    let mut review = pod_review();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = review.pointer_mut(parent).unwrap();
    match value {
        Some(v) => parent[key] = v,
        None => {
            parent.as_object_mut().unwrap().remove(key);
        }
    }
    serde_json::to_vec(&review).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_types_at_every_level_say_what_is_wrong() {
    let server = harness::start(Config::default(), Limits::default()).await;
    // (body, HTTP status, what /mutate must say, allowed) — with a uid the answer is an
    // AdmissionReview: /mutate admits unchanged with a warning (meshka must not block a pod
    // because it cannot read the review), /validate-kafkapolicy denies with the same message.
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"[]".to_vec(), 400, "the body is an array, not an AdmissionReview object"),
        (b"null".to_vec(), 400, "the body is null"),
        (b"\"AdmissionReview\"".to_vec(), 400, "the body is a string"),
        (with("/kind", Some(json!(1))), 400, "expected kind AdmissionReview, got \"\""),
        (with("/kind", Some(json!("Pod"))), 400, "expected kind AdmissionReview, got \"Pod\""),
        (with("/apiVersion", None), 400, "expected apiVersion admission.k8s.io/v1, got \"\""),
        (with("/apiVersion", Some(json!("v1"))), 400, "expected apiVersion admission.k8s.io/v1, got \"v1\""),
        (with("/request", None), 400, "the AdmissionReview has no request"),
        (with("/request", Some(json!("x"))), 400, "AdmissionReview.request: expected an object, got a string"),
        (with("/request/uid", None), 400, "AdmissionReview.request.uid: expected a non-empty string, got nothing"),
        (with("/request/uid", Some(json!(7))), 400, "AdmissionReview.request.uid: expected a non-empty string, got a number"),
        (with("/request/uid", Some(json!(""))), 400, "AdmissionReview.request.uid: expected a non-empty string, got a string"),
        (with("/apiVersion", Some(json!("admission.k8s.io/v1beta1"))), 200, "AdmissionReview.apiVersion: meshka serves admission.k8s.io/v1, got admission.k8s.io/v1beta1"),
        (with("/request/kind", Some(json!("Pod"))), 200, "AdmissionReview.request.kind: invalid type: string \"Pod\", expected struct GroupVersionKind"),
        (with("/request/kind/kind", None), 200, "AdmissionReview.request.kind: missing field `kind`"),
        (with("/request/operation", Some(json!("PATCH"))), 200, "AdmissionReview.request.operation: unknown variant `PATCH`"),
        (with("/request/userInfo", Some(json!([]))), 200, "AdmissionReview.request.userInfo: invalid type: sequence"),
        (with("/request/dryRun", Some(json!("yes"))), 200, "AdmissionReview.request.dryRun: invalid type: string \"yes\", expected a boolean"),
        (with("/request/object", Some(json!("a pod"))), 200, "AdmissionReview.request.object: invalid type: string \"a pod\""),
        (with("/request/object/metadata", Some(json!(5))), 200, "AdmissionReview.request.object.metadata: invalid type: integer `5`"),
        (with("/request/object/metadata/labels", Some(json!({"a": 1}))), 200, "AdmissionReview.request.object.metadata.labels.a: invalid type: integer `1`, expected a string"),
        (with("/request/object/spec/containers", Some(json!("kafka"))), 200, "request.object.spec.containers: invalid type: string \"kafka\", expected a sequence"),
        (with("/request/object/spec/containers/0/ports/0/containerPort", Some(json!("9092"))), 200, "request.object.spec.containers[0].ports[0].containerPort: invalid type: string \"9092\", expected i32"),
        (with("/request/object/metadata", None), 200, "the Pod as sent cannot take meshka's patch"),
    ];
    for (body, status, says) in &cases {
        let r = server.post("/mutate", body).await;
        assert_eq!(r.status, *status, "{says}: {}", r.text());
        let v = server.post("/validate-kafkapolicy", body).await;
        if *status == 400 {
            assert!(r.text().contains(says), "{says}: {}", r.text());
            assert_eq!(v.status, 400, "{}", v.text());
            assert!(v.text().contains(says), "{says}: {}", v.text());
            continue;
        }
        let response = &r.json()["response"];
        assert_eq!(response["uid"], "uid-kafka-0", "{response}");
        assert_eq!(response["allowed"], true, "{response}");
        assert!(response["patch"].is_null(), "{response}");
        assert!(
            response["warnings"][0].as_str().unwrap().contains(says),
            "{says}: {response}"
        );
        let sent: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(r.json()["apiVersion"], sent["apiVersion"]);
        if sent["request"]["kind"]["kind"] == "Pod" && says.starts_with("AdmissionReview.") {
            // The validating webhook cannot read it either: denied, naming the field.
            let response = &v.json()["response"];
            assert_eq!(response["allowed"], false, "{response}");
            assert!(
                response["status"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(says),
                "{says}: {response}"
            );
        }
    }
    println!(
        "wrong types: {} cases, each answered with its path",
        cases.len()
    );
    assert_eq!(server.get("/healthz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_huge_invalid_and_truncated_bodies() {
    let server = harness::start(Config::default(), Limits::default()).await;
    let ca = server.certs.ca_pem.clone();
    for path in ["/mutate", "/validate-kafkapolicy"] {
        // 100,000 nested arrays, alone and inside the object: refused by the parser at depth
        // 128, before anything recurses over them.
        let deep = "[".repeat(100_000);
        let started = Instant::now();
        let r = server.post(path, deep.as_bytes()).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(
            r.text().contains("nested deeper than 128 levels"),
            "{}",
            r.text()
        );
        let mut inside = serde_json::to_string(&pod_review()).unwrap();
        let at = inside.find("\"spec\":").unwrap();
        inside.insert_str(
            at,
            &format!("\"x\":{}{},", "[".repeat(50_000), "]".repeat(50_000)),
        );
        let r = server.post(path, inside.as_bytes()).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(
            r.text().contains("recursion limit exceeded"),
            "{}",
            r.text()
        );
        // Just under the limit (4 levels to the spec, 2 per turn), in a field nothing reads:
        // answered.
        let mut nested = json!(1);
        for _ in 0..60 {
            nested = json!({"a": [nested]});
        }
        let r = server
            .post(path, &with("/request/object/spec/x", Some(nested)))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        println!(
            "deep nesting on {path}: answered in {:.1?}",
            started.elapsed()
        );

        // 20 MB declared: 413 before a byte of the body is read.
        let started = Instant::now();
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            20_000_000
        )
        .into_bytes();
        req.extend_from_slice(&[b' '; 65536]);
        let r = harness::raw(server.addr, &ca, &req).await;
        assert_eq!(r.status, 413, "{}", r.text());
        assert!(r.text().contains("exceeds 3145728 bytes"), "{}", r.text());
        let declared = started.elapsed();
        // 20 MB sent chunked (no length to refuse early): cut off once 3 MiB are counted.
        let started = Instant::now();
        let mut req =
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
                .into_bytes();
        let chunk = vec![b'"'; 1 << 20];
        for _ in 0..20 {
            req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            req.extend_from_slice(&chunk);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"0\r\n\r\n");
        let r = harness::raw(server.addr, &ca, &req).await;
        assert_eq!(r.status, 413, "{}", r.text());
        println!(
            "20 MB on {path}: declared → 413 in {declared:.1?}, chunked → 413 in {:.1?}",
            started.elapsed()
        );
        // A 3 MB string where a short one belongs: answered, the message cut short.
        let huge = "k".repeat(3_000_000);
        let r = server.post(path, &with("/kind", Some(json!(huge)))).await;
        assert_eq!(r.status, 400);
        assert!(r.text().len() < 300, "{} bytes", r.text().len());
        let r = server
            .post(path, &with("/request/operation", Some(json!(huge))))
            .await;
        assert_eq!(r.status, 200);
        assert!(r.body.len() < 5000, "{} bytes", r.body.len());

        // Invalid UTF-8 in a string and in a key, and every 7th truncation of a review.
        let good = serde_json::to_vec(&pod_review()).unwrap();
        for bad in [&b"\xff"[..], b"\xed\xa0\x80", b"\xc3"] {
            let at = good.windows(7).position(|w| w == b"kafka-0").unwrap() + 2;
            let mut body = good.clone();
            body.splice(at..at, bad.iter().copied());
            let r = server.post(path, &body).await;
            assert_eq!(r.status, 400, "{}", r.text());
            assert!(r.text().contains("not JSON"), "{}", r.text());
        }
        let mut truncations = 0;
        for cut in (0..good.len()).step_by(7) {
            let r = server.post(path, &good[..cut]).await;
            assert_eq!(r.status, 400, "cut at {cut}: {}", r.text());
            assert!(r.text().contains("not JSON"), "cut at {cut}: {}", r.text());
            truncations += 1;
        }
        println!("{path}: {truncations} truncated reviews, each 400 'not JSON'");
    }
    // A wide Pod of 3 MB (8,000 containers of 5 ports each): reviewed in bounded time.
    let mut pod = kafka_pod();
    let container = pod["spec"]["containers"][0].clone();
    let mut containers = Vec::new();
    for i in 0..8_000 {
        let mut c = container.clone();
        c["name"] = json!(format!("c{i}"));
        c["ports"] = json!((0..5)
            .map(|p| json!({"containerPort": 9092 + p}))
            .collect::<Vec<_>>());
        containers.push(c);
    }
    pod["spec"]["containers"] = json!(containers);
    let body = serde_json::to_vec(&fixtures::review(&pod, "CREATE", false)).unwrap();
    assert!(body.len() < 3 * 1024 * 1024, "{}", body.len());
    let started = Instant::now();
    let r = server.post("/mutate", &body).await;
    assert_eq!(r.status, 200, "{}", short(&r.text()));
    assert_eq!(r.json()["response"]["allowed"], true);
    println!(
        "wide Pod ({} bytes, 8,000 containers): answered in {:.1?}",
        body.len(),
        started.elapsed()
    );
    assert_eq!(server.get("/healthz").await.status, 200);
}

// ---------------------------------------------------------------------------------------------
// Slow clients and certificate rotation.

/// Waits until the server closes `stream` (EOF or error); the time it took.
async fn closed_after<S: tokio::io::AsyncRead + Unpin>(mut stream: S, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => panic!("a slow connection was still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_do_not_starve_admissions() {
    const SLOW: usize = 100; // of each kind: more than the 64 review slots older versions had
    let timeout = Duration::from_secs(2);
    let limits = Limits {
        handshake_timeout: timeout,
        header_timeout: timeout,
        body_timeout: timeout,
        ..Limits::default()
    };
    let server = harness::start(Config::default(), limits).await;
    let ca = server.certs.ca_pem.clone();
    let addr = server.addr;
    let mut slow = Vec::new();
    for i in 0..3 * SLOW {
        let ca = ca.clone();
        slow.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let kind = i % 3;
            if kind == 0 {
                // Connects, never says hello.
                return closed_after(tcp, Duration::from_secs(10)).await;
            }
            let mut tls = harness::connector(&ca)
                .connect(harness::server_name(), tcp)
                .await
                .unwrap();
            let started = Instant::now();
            // Headers a byte at a time, or whole headers and then the body a byte at a time.
            let (lead, drip): (&[u8], &[u8]) = if kind == 1 {
                (
                    b"",
                    b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
                )
            } else {
                (
                    b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n",
                    &[b' '; 500],
                )
            };
            tls.write_all(lead).await.unwrap();
            for b in drip {
                if tls.write_all(&[*b]).await.is_err() || tls.flush().await.is_err() {
                    return started.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                if started.elapsed() > Duration::from_secs(10) {
                    panic!("a slow client was never cut off");
                }
            }
            started.elapsed() + closed_after(tls, Duration::from_secs(10)).await
        }));
    }
    // Meanwhile, admissions on fresh connections are answered promptly.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = serde_json::to_vec(&pod_review()).unwrap();
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < timeout + Duration::from_millis(500) {
        let t = Instant::now();
        let r = server.post("/mutate", &body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json()["response"]["patch"].is_string());
        latencies.push(t.elapsed());
    }
    let mut closed = Vec::new();
    for t in slow {
        closed.push(t.await.unwrap());
    }
    latencies.sort();
    closed.sort();
    let slowest_admission = *latencies.last().unwrap();
    let last_close = *closed.last().unwrap();
    println!(
        "slow clients: {} connections (silent, 1-byte/100 ms headers, 1-byte/100 ms bodies), timeouts {timeout:?}; \
         {} admissions meanwhile, p50 {:.1?}, max {slowest_admission:.1?}; slow connections closed after {:.2?}..{last_close:.2?}",
        3 * SLOW,
        latencies.len(),
        latencies[latencies.len() / 2],
        closed[0],
    );
    assert!(slowest_admission < Duration::from_secs(2), "{latencies:?}");
    assert!(
        last_close < timeout + Duration::from_millis(1500),
        "{closed:?}"
    );
    let metrics = server.get("/metrics").await.text();
    for reason in ["tls_handshake_timeout", "timeout"] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{metrics}"
        );
    }
}

/// A CA that signs serving certificates for the webhook's Service, as cert-manager does.
struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

impl TestCa {
    fn new() -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "rotation test CA");
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa {
            issuer: rcgen::Issuer::new(params, key),
            pem,
        }
    }

    /// A serving certificate with `serial`: (cert PEM, key PEM, DER).
    fn leaf(&self, serial: u64) -> (String, String, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names =
            meshka_webhook::server::tls::service_dns_names(harness::SERVICE, harness::NAMESPACE);
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.serial_number = Some(rcgen::SerialNumber::from(serial));
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rotation_under_load_drops_nothing() {
    use meshka_webhook::server::tls::{CertFiles, CertStore};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    const ROTATIONS: u64 = 8;

    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let files = CertFiles {
        cert: dir.path().join("tls.crt"),
        key: dir.path().join("tls.key"),
    };
    let (cert, key, _) = ca.leaf(1);
    std::fs::write(&files.cert, &cert).unwrap();
    std::fs::write(&files.key, &key).unwrap();
    let store = CertStore::new(files.load().unwrap());
    let mut certs = meshka_webhook::server::tls::provision(vec!["unused".into()]).unwrap();
    certs.ca_pem = ca.pem.clone();
    let server = harness::start_with(
        Config::default(),
        Limits::default(),
        certs,
        Arc::clone(&store),
    )
    .await;
    tokio::spawn(files.clone().watch(
        Arc::clone(&store),
        Duration::from_millis(50),
        Arc::clone(&server.metrics),
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let body = Arc::new(serde_json::to_vec(&pod_review()).unwrap());
    let mut clients = Vec::new();
    for client in 0..4 {
        let (stop, sent, failed, body) = (stop.clone(), sent.clone(), failed.clone(), body.clone());
        let (addr, ca_pem) = (server.addr, ca.pem.clone());
        clients.push(tokio::spawn(async move {
            // Clients 0 and 1 open a connection per request (a new handshake each time);
            // 2 and 3 keep one open and reconnect only when the server closes it.
            let keep_alive = client >= 2;
            let mut conn: Option<KeepAlive> = None;
            while !stop.load(Ordering::SeqCst) {
                let outcome = if keep_alive {
                    if conn.is_none() {
                        conn = Some(KeepAlive::connect(addr, &ca_pem).await);
                    }
                    match conn.as_mut().unwrap().send("/mutate", &body).await {
                        Some(r) => Ok(r),
                        None => {
                            conn = None;
                            Err("keep-alive connection closed mid-request".to_string())
                        }
                    }
                } else {
                    let tcp = TcpStream::connect(addr).await.unwrap();
                    match harness::connector(&ca_pem)
                        .connect(harness::server_name(), tcp)
                        .await
                    {
                        Ok(_) => Ok(harness::raw(
                            addr,
                            &ca_pem,
                            &harness::request_bytes("POST", "/mutate", &body),
                        )
                        .await),
                        Err(e) => Err(format!("handshake: {e}")),
                    }
                };
                sent.fetch_add(1, Ordering::SeqCst);
                match outcome {
                    Ok(r) if r.status == 200 && r.json()["response"]["allowed"] == true => {}
                    Ok(r) => {
                        failed
                            .lock()
                            .unwrap()
                            .push(format!("HTTP {}: {}", r.status, r.text()))
                    }
                    Err(e) => failed.lock().unwrap().push(e),
                }
            }
        }));
    }

    // Each rotation writes the certificate, then (a moment later) its key, as a non-atomic
    // copy would: the watcher sees a mismatched pair in between and must keep the old one.
    let started = Instant::now();
    let mut last_der = Vec::new();
    for serial in 2..2 + ROTATIONS {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (cert, key, der) = ca.leaf(serial);
        std::fs::write(&files.cert, &cert).unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        std::fs::write(&files.key, &key).unwrap();
        last_der = der;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    let elapsed = started.elapsed();
    let failed = failed.lock().unwrap().clone();
    let sent = sent.load(Ordering::SeqCst);

    // The last certificate is what new connections get.
    let served = KeepAlive::connect(server.addr, &ca.pem)
        .await
        .peer_certificate();
    use sha2::Digest as _;
    let fingerprint = hex::encode(sha2::Sha256::digest(&served));
    assert_eq!(served, last_der, "the last certificate is not served");
    let metrics = server.get("/metrics").await.text();
    let reloads: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("meshka_webhook_tls_reloads_total{result=\"ok\"} "))
        .map(|n| n.parse().unwrap())
        .unwrap_or(0);
    println!(
        "rotation: {ROTATIONS} certificates in {elapsed:.1?}, {reloads} reloads, {sent} admissions sent (2 clients new connection each, 2 keep-alive), {} failed; served sha256 {fingerprint}",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} of {sent} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert_eq!(reloads, ROTATIONS, "{metrics}");
    assert!(sent > 100, "too little load to prove anything: {sent}");
}
