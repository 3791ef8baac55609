//! The pass-through filter end to end: real clients through two Envoy sidecars and the filter to
//! a real broker, byte-exact, with metrics and the peer's identity.

use std::time::Duration;

use meshka_tests::clients::{self, Library};
use meshka_tests::{Mesh, MeshOptions};

fn create_topic(mesh: &Mesh, topic: &str) {
    let out = clients::run(
        &["create", "--bootstrap", &mesh.bootstrap(), "--topic", topic],
        Duration::from_secs(90),
    );
    assert!(
        out["listed"]
            .as_array()
            .is_some_and(|l| l.iter().any(|t| t == topic)),
        "{out}"
    );
}

fn roundtrip(mesh: &Mesh, lib: Library, topic: &str, count: usize) {
    let out = clients::run(
        &[
            "roundtrip",
            "--lib",
            lib.arg(),
            "--bootstrap",
            &mesh.bootstrap(),
            "--topic",
            topic,
            "--count",
            &count.to_string(),
            "--size",
            "3000",
            "--group",
            &format!("{topic}-group"),
        ],
        Duration::from_secs(180),
    );
    assert_eq!(out["produced"], count, "{out}");
    assert_eq!(out["consumed"], count, "{out}");
    assert_eq!(out["mismatched"], 0, "{out}");
    assert_eq!(out["missing"], 0, "{out}");
    assert_eq!(out["committed"], count, "consumer group offsets: {out}");
}

#[test]
fn both_python_clients_roundtrip_through_the_mesh() {
    let mesh = Mesh::start(MeshOptions::default());
    create_topic(&mesh, "orders");
    roundtrip(&mesh, Library::Confluent, "orders", 500);
    create_topic(&mesh, "payments");
    roundtrip(&mesh, Library::KafkaPython, "payments", 200);

    // The filter saw and matched the traffic, by api.
    let requests = |api: &str| {
        mesh.broker_stat(&format!("wasmcustom.meshka.api.{api}.requests"))
            .unwrap_or(0)
    };
    for api in [
        "Produce",
        "Fetch",
        "Metadata",
        "ApiVersions",
        "JoinGroup",
        "OffsetCommit",
    ] {
        assert!(
            requests(api) >= 2,
            "{api} requests counted by the filter: {}\n{}",
            requests(api),
            mesh.broker_stats()
        );
    }
    let produce = requests("Produce");
    assert_eq!(
        mesh.broker_stat("wasmcustom.meshka.api.Produce.responses"),
        Some(produce),
        "every acks=1 produce answered"
    );
    assert_eq!(
        mesh.broker_stat("wasmcustom.meshka.connections.closed_by_filter")
            .unwrap_or(0),
        0
    );
    let downstream = mesh
        .broker_stat("wasmcustom.meshka.downstream.bytes")
        .unwrap_or(0);
    assert!(downstream > 700 * 3000, "bytes client→broker: {downstream}");

    // Prometheus output carries the api as a label.
    let prom = mesh.broker_prometheus();
    assert!(
        prom.contains("meshka_api_requests{kafka_api=\"Produce\"}"),
        "{prom}"
    );
    assert!(
        prom.contains("meshka_api_latency_us_bucket{kafka_api=\"Fetch\""),
        "{prom}"
    );

    // The filter logs the client's SPIFFE ID.
    let log = mesh.broker_sidecar_log();
    assert!(
        log.contains("peer=spiffe://cluster.local/ns/apps/sa/orders"),
        "{log}"
    );
}

/// A pipelining producer at maximum rate for 30 s with librdkafka's default 1 MB batches and
/// unlimited in-flight requests, then with 16 KB batches: every record delivered, no timeout.
#[test]
fn max_rate_pipelined_producers_never_stall() {
    max_rate_run(MeshOptions::default(), 30);
}

/// The same under an authorization policy, where the filter holds every request whole to decide
/// it: held frames move to the filter's own buffer, never pause the connection.
#[test]
fn max_rate_pipelined_producers_never_stall_under_a_policy() {
    let allow_all = serde_json::json!({"authorization": {"rules": [{"action": "allow", "principals": ["*"],
        "operations": ["All"], "resources": [{"type": "topic", "name": "*"}, {"type": "cluster", "name": "kafka-cluster"}]}]}});
    max_rate_run(
        MeshOptions {
            filter_config: allow_all,
            ..Default::default()
        },
        20,
    );
}

fn max_rate_run(options: MeshOptions, seconds: u32) {
    let mesh = Mesh::start(options);
    create_topic(&mesh, "load");
    for batch in ["0", "16384"] {
        let out = clients::run(
            &[
                "load",
                "--bootstrap",
                &mesh.bootstrap(),
                "--topic",
                "load",
                "--seconds",
                &seconds.to_string(),
                "--batch-size",
                batch,
                "--message-timeout-ms",
                "60000",
            ],
            Duration::from_secs(150),
        );
        let sent = out["sent"].as_u64().unwrap_or(0);
        assert!(sent > 1000, "batch.size={batch}: {out}");
        assert_eq!(
            out["delivered"].as_u64(),
            Some(sent),
            "batch.size={batch}: every record delivered: {out}"
        );
        assert_eq!(
            out["errors"],
            serde_json::json!({}),
            "batch.size={batch}: {out}"
        );
        eprintln!("batch.size={batch}: {out}");
    }
    assert_eq!(
        mesh.broker_stat("wasmcustom.meshka.connections.closed_by_filter")
            .unwrap_or(0),
        0
    );
    let requests = mesh
        .broker_stat("wasmcustom.meshka.api.Produce.requests")
        .unwrap_or(0);
    let responses = mesh
        .broker_stat("wasmcustom.meshka.api.Produce.responses")
        .unwrap_or(0);
    assert_eq!(
        requests, responses,
        "every produce request matched to its response"
    );
}

/// Two workloads, each in its own pod network with its own sidecar and identity, reach the same
/// broker at the same advertised address; the broker sidecar tells them apart.
#[test]
fn workloads_in_their_own_pods_keep_their_identities() {
    use meshka_tests::Identity;
    let mesh = Mesh::start(MeshOptions {
        workloads: vec![
            Identity::new("shop", "orders"),
            Identity::new("bi", "analytics"),
        ],
        ..Default::default()
    });
    for (i, topic) in [(0, "orders.created"), (1, "reports")] {
        let w = mesh.workload(i);
        let bootstrap = w.bootstrap(mesh.ports.client_sidecar);
        let out = clients::run_as(
            w,
            &["create", "--bootstrap", &bootstrap, "--topic", topic],
            Duration::from_secs(90),
        );
        assert!(
            out["listed"]
                .as_array()
                .is_some_and(|l| l.iter().any(|t| t == topic)),
            "{out}"
        );
        let out = clients::run_as(
            w,
            &[
                "roundtrip",
                "--bootstrap",
                &bootstrap,
                "--topic",
                topic,
                "--count",
                "50",
                "--group",
                topic,
            ],
            Duration::from_secs(120),
        );
        assert_eq!(
            (out["consumed"].as_u64(), out["mismatched"].as_u64()),
            (Some(50), Some(0)),
            "{out}"
        );
    }
    let log = mesh.broker_sidecar_log();
    assert!(
        log.contains("peer=spiffe://cluster.local/ns/shop/sa/orders"),
        "{log}"
    );
    assert!(
        log.contains("peer=spiffe://cluster.local/ns/bi/sa/analytics"),
        "{log}"
    );
}
