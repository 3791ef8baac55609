//! Per-topic routing end to end: two tenants on one broker, each seeing only its own topics and
//! groups under its own names, and broker addresses rewritten to names only the mesh resolves.

use meshka_tests::clients::{self, Library};
use meshka_tests::{Identity, Mesh, MeshOptions};
use serde_json::{json, Value};

fn tenants(broker_address: Option<String>) -> Value {
    let mut routing = json!({"tenants": [
        {"name": "team-a", "namespaces": ["team-a"], "topicPrefix": "team-a.", "groupPrefix": "team-a."},
        {"name": "team-b", "namespaces": ["team-b"], "topicPrefix": "team-b.", "groupPrefix": "team-b."}
    ]});
    if let Some(b) = broker_address {
        routing["brokerAddress"] = json!(b);
    }
    json!({"logAllowedEvery": 1, "routing": routing})
}

#[test]
fn tenants_see_only_their_own_topics_and_groups_under_their_own_names() {
    let mesh = Mesh::start(MeshOptions {
        workloads: vec![
            Identity::new("team-a", "app"),
            Identity::new("team-b", "app"),
        ],
        filter_config: tenants(None),
        ..Default::default()
    });
    let (a, b) = (mesh.workload(0), mesh.workload(1));
    // Each tenant creates "orders" through the filter: the broker gets two topics.
    for w in [a, b] {
        let created = clients::run_app(
            &mesh,
            w,
            &["create", "--topic", "orders", "--partitions", "1"],
        );
        assert!(
            created["listed"]
                .as_array()
                .is_some_and(|l| l.iter().any(|t| t == "orders")),
            "{created}"
        );
    }
    let all = clients::run_direct(&mesh, &["topics"]);
    let all: Vec<&str> = all["topics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        all.contains(&"team-a.orders")
            && all.contains(&"team-b.orders")
            && !all.contains(&"orders"),
        "{all:?}"
    );

    for lib in [Library::Confluent, Library::KafkaPython] {
        let l = lib.arg();
        let sent = clients::run_app(
            &mesh,
            a,
            &["produce", "--lib", l, "--topic", "orders", "--count", "20"],
        );
        assert_eq!(
            (sent["delivered"].as_u64(), &sent["errors"]),
            (Some(20), &json!({})),
            "{l}: {sent}"
        );
        // team-a reads them back as "orders", in its own group.
        let group = format!("billing-{l}");
        let read = clients::run_app(
            &mesh,
            a,
            &[
                "consume", "--lib", l, "--topic", "orders", "--group", &group, "--count", "20",
            ],
        );
        assert_eq!(
            (read["consumed"].as_u64(), &read["errors"]),
            (Some(20), &json!({})),
            "{l}: {read}"
        );
        // team-b lists only its own topic, and reads nothing of team-a's: its "orders" is its own.
        let listed = clients::run_app(&mesh, b, &["topics", "--lib", l]);
        assert_eq!(listed["topics"], json!(["orders"]), "{l}: {listed}");
        let stolen = clients::run_app(
            &mesh,
            b,
            &[
                "consume",
                "--lib",
                l,
                "--topic",
                "orders",
                "--group",
                &group,
                "--count",
                "1",
                "--timeout",
                "10",
            ],
        );
        assert_eq!(stolen["consumed"], 0, "{l}: {stolen}");
        // Even under team-a's broker name, team-b only reaches its own (empty or missing) topic.
        let prefixed = clients::run_app(
            &mesh,
            b,
            &[
                "consume",
                "--lib",
                l,
                "--topic",
                "team-a.orders",
                "--group",
                &group,
                "--count",
                "1",
                "--timeout",
                "10",
            ],
        );
        assert_eq!(prefixed["consumed"], 0, "{l}: {prefixed}");
    }
    // Straight on the broker (no filter), the records are in team-a.orders: 20 per library.
    let stored = clients::run_direct(
        &mesh,
        &[
            "consume",
            "--topic",
            "team-a.orders",
            "--group",
            "admin",
            "--count",
            "40",
        ],
    );
    assert_eq!(stored["consumed"], 40, "{stored}");
    let theirs = clients::run_direct(
        &mesh,
        &[
            "consume",
            "--topic",
            "team-b.orders",
            "--group",
            "admin",
            "--count",
            "1",
            "--timeout",
            "8",
        ],
    );
    assert_eq!(theirs["consumed"], 0, "{theirs}");
    // The consumer groups the broker saw carry the tenant's prefix.
    let log = mesh.broker_sidecar_log();
    assert!(
        log.lines()
            .any(|l| l.contains("meshka: decision") && l.contains("\"team-a.billing-confluent\"")),
        "no decision on team-a.billing-confluent:\n{log}"
    );
    assert!(
        !log.lines().any(|l| l.contains("meshka: decision") && l.contains("\"name\":\"billing-confluent\"")),
        "a group reached the broker unprefixed:\n{log}"
    );
}

#[test]
fn clients_reach_brokers_through_the_rewritten_addresses() {
    let mut mesh = Mesh::start(MeshOptions {
        workloads: vec![
            Identity::new("team-a", "app"),
            Identity::new("team-b", "app"),
        ],
        filter_config: tenants(None),
        ..Default::default()
    });
    let port = mesh.ports.client_sidecar;
    let before = clients::run_app(&mesh, mesh.workload(0), &["topics"]);
    let brokers = before["brokers"].as_array().unwrap().clone();
    assert_eq!(brokers.len(), 1, "{before}");
    let node_id = brokers[0][0].as_i64().unwrap();
    assert_eq!(brokers[0][1], format!("127.0.0.1:{port}"), "{before}");
    // The name a headless Service gives each broker pod, resolvable in the client's pod only.
    let name = format!("kafka-{node_id}.kafka-brokers.kafka.svc.cluster.local");
    for i in 0..2 {
        mesh.workload(i)
            .pod
            .as_ref()
            .unwrap()
            .add_hosts(&[("127.0.0.1", &name)])
            .unwrap();
    }
    mesh.set_filter_config(&tenants(Some(format!(
        "kafka-{{node_id}}.kafka-brokers.kafka.svc.cluster.local:{port}"
    ))))
    .expect("the routing is accepted");
    let a = mesh.workload(0);
    for lib in [Library::Confluent, Library::KafkaPython] {
        let l = lib.arg();
        let after = clients::run_app(&mesh, a, &["topics", "--lib", l]);
        assert_eq!(
            after["brokers"],
            json!([[node_id, format!("{name}:{port}")]]),
            "{l}: {after}"
        );
        // The client now connects to the broker by that name and keeps working.
        let created = clients::run_app(
            &mesh,
            a,
            &[
                "create",
                "--topic",
                &format!("moved-{l}"),
                "--partitions",
                "1",
            ],
        );
        assert!(
            created["listed"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| *t == json!(format!("moved-{l}")))),
            "{created}"
        );
        let sent = clients::run_app(
            &mesh,
            a,
            &[
                "produce",
                "--lib",
                l,
                "--topic",
                &format!("moved-{l}"),
                "--count",
                "10",
            ],
        );
        assert_eq!(
            (sent["delivered"].as_u64(), &sent["errors"]),
            (Some(10), &json!({})),
            "{l}: {sent}"
        );
        let read = clients::run_app(
            &mesh,
            a,
            &[
                "consume",
                "--lib",
                l,
                "--topic",
                &format!("moved-{l}"),
                "--group",
                "g",
                "--count",
                "10",
            ],
        );
        assert_eq!(read["consumed"], 10, "{l}: {read}");
    }
}

#[test]
fn a_producer_past_its_quota_is_throttled_to_the_limit_and_read_only_topics_refuse_writes() {
    const LIMIT: u64 = 200_000;
    let mesh = Mesh::start(MeshOptions {
        workloads: vec![
            Identity::new("team-a", "app"),
            Identity::new("team-b", "app"),
        ],
        filter_config: json!({"routing": {"quotas": [
            {"name": "metered", "namespaces": ["team-a"], "topics": ["metered-*"], "produceBytesPerSecond": LIMIT},
            {"name": "archive", "principals": ["*"], "topics": ["archive"], "readOnly": true}
        ]}}),
        ..Default::default()
    });
    let (a, b) = (mesh.workload(0), mesh.workload(1));
    for t in ["metered-kafka-python", "metered-confluent", "archive"] {
        clients::run_direct(&mesh, &["create", "--topic", t, "--partitions", "1"]);
    }
    // kafka-python backs off by the throttle time it is told (KIP-219); librdkafka does not,
    // and the filter then holds its connection back itself.
    for lib in [Library::KafkaPython, Library::Confluent] {
        let l = lib.arg();
        let topic = format!("metered-{l}");
        let out = clients::run_app(
            &mesh,
            a,
            &[
                "throttled",
                "--lib",
                l,
                "--topic",
                &topic,
                "--seconds",
                "26",
                // Past the first seconds' burst and the debt it leaves (librdkafka pipelines
                // about a megabyte before its first throttled answer comes back).
                "--warmup",
                "8",
            ],
        );
        let rate = out["bytes_per_second"].as_u64().unwrap();
        eprintln!("throttled to {LIMIT} B/s: {out}");
        assert!(out["throttle_ms_max"].as_u64().unwrap() > 0, "{l}: {out}");
        assert!(
            rate as f64 >= LIMIT as f64 * 0.8 && rate as f64 <= LIMIT as f64 * 1.2,
            "{l}: {rate} B/s against a limit of {LIMIT}: {out}"
        );
    }
    assert!(
        mesh.broker_stat("wasmcustom.meshka.quota.throttled")
            .unwrap_or(0)
            > 0,
        "{}",
        mesh.broker_stats()
    );
    // Another tenant's producer is not limited by team-a's quota.
    let free = clients::run_app(
        &mesh,
        b,
        &[
            "throttled",
            "--lib",
            "kafka-python",
            "--topic",
            "metered-kafka-python",
            "--seconds",
            "8",
            "--warmup",
            "2",
        ],
    );
    assert_eq!(free["throttle_ms_max"], 0, "{free}");
    assert!(
        free["bytes_per_second"].as_u64().unwrap() > LIMIT * 2,
        "{free}"
    );
    // Read-only: writes denied with Kafka's authorization error, reads still fine.
    let denied = clients::run_app(&mesh, a, &["produce", "--topic", "archive", "--count", "3"]);
    assert_eq!(denied["delivered"], 0, "{denied}");
    assert!(
        denied["errors"].get("TOPIC_AUTHORIZATION_FAILED").is_some(),
        "{denied}"
    );
    let read = clients::run_app(
        &mesh,
        a,
        &[
            "consume",
            "--topic",
            "archive",
            "--group",
            "g",
            "--count",
            "1",
            "--timeout",
            "8",
        ],
    );
    assert_eq!(read["errors"], json!({}), "{read}");
}
