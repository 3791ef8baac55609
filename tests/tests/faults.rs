//! Faults through the real test bed, with the filter enforcing a policy (every request held
//! whole and decided): the broker going away mid-stream, the broker sidecar's Envoy restarting,
//! a client disconnecting in the middle of a frame, the upstream resetting while a denied
//! request's substitute is in flight. Clients recover; the filter releases each connection's
//! state (its `connections.active` gauge and Envoy's own connection gauges return to zero);
//! every record the broker acknowledged is in the log exactly once and byte for byte (SHA-256
//! of each value, read back straight from the broker, not through the mesh).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use meshka_tests::relay::Relay;
use meshka_tests::{clients, env, Identity, Mesh, MeshOptions};
use serde_json::{json, Value};

/// The producer (`shop/orders` in pods, `apps/orders` alone) creates and writes `orders.*` (so it
/// may be an idempotent producer) and nothing else.
fn policy() -> Value {
    json!({"authorization": {"rules": [
        {"action": "allow", "serviceAccounts": ["shop/orders", "apps/orders"], "operations": ["Write", "Create"],
         "resources": [{"type": "topic", "name": "orders.", "patternType": "prefixed"}]}
    ]}})
}

/// Two workloads in their own pods, so that the root namespace reaches the broker directly
/// (through the relay only): the verifying reader never passes the filter.
fn mesh_with_relay() -> (Mesh, Relay) {
    let mut mesh = Mesh::start(MeshOptions {
        workloads: vec![
            Identity::new("shop", "orders"),
            Identity::new("bi", "analytics"),
        ],
        filter_config: policy(),
        ..Default::default()
    });
    // What reaches the broker is recorded, for the logs a failure keeps.
    let capture = mesh.dir().join("capture");
    let relay = mesh.interpose_broker_relay(Some(&capture));
    (mesh, relay)
}

fn create(mesh: &Mesh, topic: &str, partitions: u32) {
    let out = clients::run(
        &[
            "create",
            "--bootstrap",
            &mesh.broker_direct(),
            "--topic",
            topic,
            "--partitions",
            &partitions.to_string(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out["topics"][topic], "created", "{out}");
}

/// Starts `kclient.py <args>` as workload 0's app (in its pod), through its sidecar.
fn spawn_app(mesh: &Mesh, args: &[&str]) -> Child {
    let w = mesh.workload(0);
    let bootstrap = w.bootstrap(mesh.ports.client_sidecar);
    let pod = w.pod.as_ref().expect("pods");
    pod.command(&env::python())
        .arg(env::script("kclient.py"))
        .arg(args[0])
        .args(["--bootstrap", &bootstrap, "--client-id", "faults"])
        .args(&args[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the app")
}

/// The JSON summary a client printed last.
fn summary(child: Child) -> Value {
    let out = child.wait_with_output().expect("wait for the app");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().rev().find(|l| l.starts_with('{'));
    serde_json::from_str(last.unwrap_or("")).unwrap_or_else(|e| {
        panic!(
            "no summary ({e}, {}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Reads the whole topic straight from the broker and checks it against what the producer
/// acknowledged: every acknowledged record once, unaltered, nothing else.
fn verify_exactly_once(mesh: &Mesh, topic: &str, seed: &str, produced: &Value) {
    let acked: Vec<u64> = produced["acked_keys"]
        .as_array()
        .expect("acked keys")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    let read = clients::run(
        &[
            "verify",
            "--bootstrap",
            &mesh.broker_direct(),
            "--topic",
            topic,
            "--seed",
            seed,
            "--size",
            "1000",
        ],
        Duration::from_secs(120),
    );
    let found: Vec<u64> = read["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    let missing: Vec<&u64> = acked.iter().filter(|k| !found.contains(k)).collect();
    let brief = json!({"records": read["records"], "distinct": read["distinct"], "duplicates": read["duplicates"],
                       "altered": read["altered"], "foreign": read["foreign"], "complete": read["complete"],
                       "beyond_watermark": read["beyond_watermark"]});
    assert!(read["complete"] == true, "{brief}");
    assert!(
        missing.is_empty(),
        "acknowledged but not in the log: {missing:?} {brief}"
    );
    assert_eq!(read["duplicates"], 0, "{brief}");
    assert_eq!(read["altered"], 0, "{brief}");
    assert_eq!(read["foreign"], 0, "{brief}");
    eprintln!("verified {} acknowledged records: {brief}", acked.len());
}

/// The value of `name` in the broker sidecar's `/stats` (names may hold regex characters).
fn stat(mesh: &Mesh, name: &str) -> Option<u64> {
    mesh.broker_stats().lines().find_map(|l| {
        let (n, v) = l.split_once(": ")?;
        (n == name).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Waits until every connection through the broker sidecar is gone — the filter's gauge and
/// Envoy's own downstream and upstream gauges — and returns the filter's connection total.
fn wait_all_released(mesh: &Mesh) -> u64 {
    let gauges = [
        "wasmcustom.meshka.connections.active",
        "cluster.inbound|9092||.upstream_cx_active",
        "tcp.inbound_kafka.upstream_flush_active",
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut values: Vec<Option<u64>> = gauges.iter().map(|g| stat(mesh, g)).collect();
        // The kafka listener's open downstream connections (the admin listener's excluded).
        let downstream = mesh.broker_stats().lines().find_map(|l| {
            let (n, v) = l.split_once(": ")?;
            let listener = n.starts_with("listener.") && !n.starts_with("listener.admin");
            (listener && n.ends_with(".downstream_cx_active")).then(|| v.trim().parse().ok())?
        });
        values.push(downstream);
        if values.iter().all(|v| *v == Some(0)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "connections not released: {gauges:?} and the listener's downstream_cx_active = {values:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    stat(mesh, "wasmcustom.meshka.connections.total").unwrap_or(0)
}

/// Neither the filter nor its VM failed: no panic, no failed Wasm call in the sidecar's log.
fn assert_filter_healthy(mesh: &Mesh) {
    let log = mesh.broker_sidecar_log();
    for bad in [
        "panicked",
        "Function: proxy_on_",
        "wasm log: Failed",
        "VM failed",
    ] {
        assert!(
            !log.contains(bad),
            "{bad:?} in the broker sidecar log:\n{log}"
        );
    }
}

#[test]
fn the_broker_goes_away_mid_stream_and_comes_back() {
    let (mesh, mut relay) = mesh_with_relay();
    create(&mesh, "orders.faults", 2);
    let producer = spawn_app(
        &mesh,
        &[
            "produce-keys",
            "--lib",
            "confluent",
            "--topic",
            "orders.faults",
            "--seed",
            "broker-down",
            "--count",
            "1500",
            "--seconds",
            "8",
            "--idempotent",
        ],
    );
    // Mid-stream: every connection to the broker reset, its port refusing for 3 s.
    std::thread::sleep(Duration::from_secs(3));
    let before = relay.accepted();
    assert!(
        before >= 1 && relay.open() >= 1,
        "the producer is connected"
    );
    relay.down();
    std::thread::sleep(Duration::from_secs(3));
    relay.up();
    let produced = summary(producer);
    assert_eq!(produced["acked"], 1500, "{produced}");
    assert!(
        relay.accepted() > before,
        "the producer reconnected through the filter"
    );
    verify_exactly_once(&mesh, "orders.faults", "broker-down", &produced);
    let total = wait_all_released(&mesh);
    assert!(total >= 2, "{total} connections through the filter");
    assert_filter_healthy(&mesh);
}

#[test]
fn the_broker_sidecar_restarts_mid_stream() {
    let (mut mesh, _relay) = mesh_with_relay();
    create(&mesh, "orders.restart", 1);
    let producer = spawn_app(
        &mesh,
        &[
            "produce-keys",
            "--lib",
            "kafka-python",
            "--topic",
            "orders.restart",
            "--seed",
            "sidecar-restart",
            "--count",
            "1000",
            "--seconds",
            "8",
            "--idempotent",
        ],
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        stat(&mesh, "wasmcustom.meshka.connections.active").unwrap_or(0) >= 1,
        "the producer is connected"
    );
    mesh.restart_broker_sidecar();
    let produced = summary(producer);
    assert_eq!(produced["acked"], 1000, "{produced}");
    // The new Envoy's filter saw the producer come back and decided its requests.
    assert!(stat(&mesh, "wasmcustom.meshka.api.Produce.allowed").unwrap_or(0) >= 1);
    verify_exactly_once(&mesh, "orders.restart", "sidecar-restart", &produced);
    wait_all_released(&mesh);
    assert_filter_healthy(&mesh);
}

/// A Kafka request frame: length prefix, header v2 (flexible), body.
fn request(key: i16, version: i16, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&key.to_be_bytes());
    f.extend_from_slice(&version.to_be_bytes());
    f.extend_from_slice(&correlation_id.to_be_bytes());
    f.extend_from_slice(&3i16.to_be_bytes());
    f.extend_from_slice(b"raw");
    f.push(0); // header tagged fields
    f.extend_from_slice(body);
    let mut framed = (f.len() as i32).to_be_bytes().to_vec();
    framed.extend_from_slice(&f);
    framed
}

/// ApiVersions v3: client software name and version, no tags.
fn api_versions(correlation_id: i32) -> Vec<u8> {
    request(18, 3, correlation_id, &[4, b'r', b'a', b'w', 2, b'1', 0])
}

/// Produce v9 with acks=1 of one partition of `topic` carrying `records` bytes.
fn produce(correlation_id: i32, topic: &str, records: usize) -> Vec<u8> {
    let mut b = vec![0]; // null transactional id
    b.extend_from_slice(&1i16.to_be_bytes());
    b.extend_from_slice(&5000i32.to_be_bytes());
    b.push(2); // one topic
    b.push(topic.len() as u8 + 1);
    b.extend_from_slice(topic.as_bytes());
    b.push(2); // one partition
    b.extend_from_slice(&0i32.to_be_bytes());
    // Compact bytes: unsigned varint of len + 1 (two bytes cover up to 16 KiB).
    let n = records + 1;
    b.extend_from_slice(&[(n as u8 & 0x7f) | 0x80, (n >> 7) as u8]);
    b.extend(std::iter::repeat_n(0xabu8, records));
    b.extend_from_slice(&[0, 0, 0]); // partition, topic, body tagged fields
    request(0, 9, correlation_id, &b)
}

/// Reads until the peer closes; panics if it stays open for 10 s.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let mut back = Vec::new();
    if let Err(e) = stream.read_to_end(&mut back) {
        assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the connection stayed open"
        );
    }
    back
}

#[test]
fn clients_that_disconnect_inside_a_frame_leave_nothing_behind() {
    let mut mesh = Mesh::start(MeshOptions {
        filter_config: policy(),
        ..Default::default()
    });
    let capture = mesh.dir().join("capture");
    let relay = mesh.interpose_broker_relay(Some(&capture));
    // Mesh::start's readiness probe was a connection too.
    let before = wait_all_released(&mesh);
    let hello = api_versions(1);
    // To a topic the caller may not write: none of it may reach the broker, whole or not.
    let partial = produce(2, "secrets", 3000);
    // Cut inside the length prefix, inside the header, inside the body, one byte short.
    let cuts = [2, 9, 40, 1500, partial.len() - 1];
    let rounds = 4;
    let connect = |reset: bool| {
        for &cut in &cuts {
            let mut s = TcpStream::connect(mesh.bootstrap()).expect("connect to the sidecar");
            s.write_all(&hello).expect("write");
            let mut len = [0u8; 4];
            s.read_exact(&mut len).expect("the ApiVersions response");
            let mut rest = vec![0u8; i32::from_be_bytes(len) as usize];
            s.read_exact(&mut rest).expect("the ApiVersions response");
            s.write_all(&partial[..cut]).expect("write");
            if reset {
                let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
            }
            drop(s);
        }
    };
    let produce_heads = || stat(&mesh, "wasmcustom.meshka.api.Produce.requests").unwrap_or(0);
    // Closed (FIN): every byte written arrives before the close.
    for _ in 0..rounds {
        connect(false);
    }
    let n = (rounds * cuts.len()) as u64;
    let total = wait_all_released(&mesh);
    assert_eq!(
        total - before,
        n,
        "one filter connection per client connection"
    );
    // Three of the five cuts come after the Produce head (header, transactional id, acks).
    assert_eq!(produce_heads(), n / 5 * 3);
    // Reset (RST): the last bytes may or may not arrive before the reset.
    for _ in 0..rounds {
        connect(true);
    }
    let total = wait_all_released(&mesh);
    assert_eq!(
        total - before,
        2 * n,
        "one filter connection per client connection"
    );
    assert!((n / 5 * 3..=2 * n / 5 * 3).contains(&produce_heads()));
    assert_eq!(
        stat(&mesh, "wasmcustom.meshka.api.ApiVersions.responses"),
        Some(2 * n)
    );
    // The broker got the ApiVersions frames (and, had the filter decided a cut Produce, its
    // ApiVersions substitute), and no byte of any denied Produce.
    let mut frames = 0;
    for conn in 0..relay.accepted() {
        let sent = std::fs::read(capture.join(format!("conn-{conn:04}.c2s"))).unwrap_or_default();
        let mut rest = sent.as_slice();
        while !rest.is_empty() {
            let len = i32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let frame = &rest[4..4 + len];
            assert_eq!(frame[..2], 18i16.to_be_bytes(), "conn {conn}: {sent:?}");
            frames += 1;
            rest = &rest[4 + len..];
        }
    }
    assert!(frames >= 2 * n, "{frames} frames");
    // The filter is still deciding: a real client's produce goes through.
    create(&mesh, "orders.after", 1);
    let out = clients::run(
        &[
            "produce",
            "--bootstrap",
            &mesh.bootstrap(),
            "--topic",
            "orders.after",
            "--count",
            "5",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out["delivered"], 5, "{out}");
    drop(relay);
    assert_filter_healthy(&mesh);
}

#[test]
fn the_upstream_resets_while_a_denied_requests_substitute_is_in_flight() {
    let mut mesh = Mesh::start(MeshOptions {
        filter_config: policy(),
        ..Default::default()
    });
    let capture = mesh.dir().join("capture");
    let relay = mesh.interpose_broker_relay(Some(&capture));
    relay.hold_responses(true);
    let mut s = TcpStream::connect(mesh.bootstrap()).expect("connect to the sidecar");
    s.write_all(&produce(7, "secrets", 200)).expect("write");
    // The substitute (ApiVersions v0, correlation id 7: 14 bytes) reaches the broker, whose
    // answer is held back; then the broker's side resets.
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay.bytes_to_broker() < 14 {
        assert!(Instant::now() < deadline, "nothing reached the broker");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    relay.reset_all();
    let back = read_until_closed(&mut s);
    assert!(back.is_empty(), "the client got {back:?}");
    relay.hold_responses(false);
    let sent: Vec<u8> = std::fs::read(capture.join("conn-0000.c2s")).expect("the capture");
    let substitute = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 7, 0xff, 0xff];
    assert_eq!(sent, substitute, "the broker saw only the substitute");
    wait_all_released(&mesh);
    assert_eq!(
        stat(&mesh, "wasmcustom.meshka.api.Produce.denied"),
        Some(1),
        "{}",
        mesh.broker_stats()
    );
    assert_filter_healthy(&mesh);

    // Later connections: the denial is answered, the allowed topic is written.
    let mut s = TcpStream::connect(mesh.bootstrap()).expect("connect to the sidecar");
    s.write_all(&produce(8, "secrets", 200)).expect("write");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("the denial");
    let mut denial = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut denial).expect("the denial");
    assert_eq!(&denial[..4], &8i32.to_be_bytes());
    assert!(
        denial.windows(2).any(|w| w == 29i16.to_be_bytes()),
        "TOPIC_AUTHORIZATION_FAILED in {denial:?}"
    );
    drop(s);
    create(&mesh, "orders.after", 1);
    let out = clients::run(
        &[
            "produce",
            "--bootstrap",
            &mesh.bootstrap(),
            "--topic",
            "orders.after",
            "--count",
            "5",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(out["delivered"], 5, "{out}");
    drop(relay);
    assert_filter_healthy(&mesh);
}
