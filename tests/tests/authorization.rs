//! Per-topic authorization end to end: two workloads with their own SPIFFE identities, real
//! clients, a broker that knows nothing of the policy — and the filter in between answering the
//! way a Kafka broker with ACLs would.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use meshka_tests::clients::{self, Library};
use meshka_tests::{env, Identity, Mesh, MeshOptions};
use serde_json::{json, Value};

/// `orders` writes `orders.*` and reads `payments`; `analytics` only reads `orders.*`; each has
/// its own consumer groups.
fn policy(mode: &str) -> Value {
    json!({"logAllowedEvery": 1, "authorization": {"mode": mode, "defaultAction": "deny", "rules": [
        {"name": "orders-writes-orders", "action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Write"],
         "resources": [{"type": "topic", "name": "orders.", "patternType": "prefixed"}]},
        {"name": "orders-reads-payments", "action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Read"],
         "resources": [{"type": "topic", "name": "payments"}, {"type": "group", "name": "orders-", "patternType": "prefixed"}]},
        {"name": "analytics-reads-orders", "action": "allow", "serviceAccounts": ["bi/analytics"], "operations": ["Read"],
         "resources": [{"type": "topic", "name": "orders.", "patternType": "prefixed"},
                       {"type": "group", "name": "analytics-", "patternType": "prefixed"}]}
    ]}})
}

fn two_workloads(config: Value) -> Mesh {
    let mesh = Mesh::start(MeshOptions {
        workloads: vec![
            Identity::new("shop", "orders"),
            Identity::new("bi", "analytics"),
        ],
        filter_config: config,
        ..Default::default()
    });
    for topic in ["orders.created", "payments", "secrets"] {
        clients::create_direct(&mesh, topic, 1);
    }
    mesh
}

#[test]
fn topics_and_groups_are_authorized_per_workload() {
    let mesh = two_workloads(policy("enforce"));
    let (orders, analytics) = (mesh.workload(0), mesh.workload(1));
    for lib in [Library::Confluent, Library::KafkaPython] {
        let l = lib.arg();
        // Allowed and denied produces from the same workload.
        let ok = clients::run_app(
            &mesh,
            orders,
            &[
                "produce",
                "--lib",
                l,
                "--topic",
                "orders.created",
                "--count",
                "20",
            ],
        );
        assert_eq!(
            (ok["delivered"].as_u64(), &ok["errors"]),
            (Some(20), &json!({})),
            "{ok}"
        );
        let denied = clients::run_app(
            &mesh,
            orders,
            &["produce", "--lib", l, "--topic", "payments", "--count", "5"],
        );
        assert_eq!(denied["delivered"], 0, "{denied}");
        let expected = if lib == Library::Confluent {
            "TOPIC_AUTHORIZATION_FAILED"
        } else {
            "TopicAuthorizationFailedError"
        };
        assert!(denied["errors"].get(expected).is_some(), "{l}: {denied}");
        // analytics reads orders.* with its own group, and may not write there.
        let read = clients::run_app(
            &mesh,
            analytics,
            &[
                "consume",
                "--lib",
                l,
                "--topic",
                "orders.created",
                "--group",
                &format!("analytics-{l}"),
                "--count",
                "20",
            ],
        );
        assert_eq!(
            (read["consumed"].as_u64(), &read["errors"]),
            (Some(20), &json!({})),
            "{read}"
        );
        let write = clients::run_app(
            &mesh,
            analytics,
            &[
                "produce",
                "--lib",
                l,
                "--topic",
                "orders.created",
                "--count",
                "3",
            ],
        );
        assert_eq!(write["delivered"], 0, "{write}");
        // A group that is not analytics': denied with GROUP_AUTHORIZATION_FAILED.
        let group = clients::run_app(
            &mesh,
            analytics,
            &[
                "consume",
                "--lib",
                l,
                "--topic",
                "orders.created",
                "--group",
                "orders-stolen",
                "--count",
                "1",
                "--timeout",
                "15",
            ],
        );
        assert_eq!(group["consumed"], 0, "{group}");
        let expected = if lib == Library::Confluent {
            "GROUP_AUTHORIZATION_FAILED"
        } else {
            "GroupAuthorizationFailedError"
        };
        assert!(group["errors"].get(expected).is_some(), "{l}: {group}");
        // Listings hide what may not be described.
        let listed = clients::run_app(&mesh, analytics, &["topics", "--lib", l]);
        assert_eq!(listed["topics"], json!(["orders.created"]), "{l}: {listed}");
        let listed = clients::run_app(&mesh, orders, &["topics", "--lib", l]);
        assert_eq!(
            listed["topics"],
            json!(["orders.created", "payments"]),
            "{l}: {listed}"
        );
    }
    // The broker got none of the denied records: read payments directly, bypassing the mesh.
    let direct = clients::run(
        &[
            "consume",
            "--bootstrap",
            &mesh.broker_direct(),
            "--topic",
            "payments",
            "--group",
            "admin",
            "--count",
            "1",
            "--timeout",
            "8",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(direct["consumed"], 0, "{direct}");

    let log = mesh.broker_sidecar_log();
    let denial = log
        .lines()
        .find(|l| {
            l.contains("meshka: decision")
                && l.contains("\"Produce\"")
                && l.contains("\"payments\"")
        })
        .unwrap_or_else(|| panic!("no decision log line:\n{log}"));
    assert!(
        denial.contains("\"principal\":\"spiffe://cluster.local/ns/shop/sa/orders\"")
            && denial.contains("\"allowed\":false"),
        "{denial}"
    );
    // Allowed requests are logged too when asked (logAllowedEvery: 1).
    assert!(
        log.lines()
            .any(|l| l.contains("meshka: decision") && l.contains("\"allowed\":true")),
        "{log}"
    );
    assert!(
        mesh.broker_stat("wasmcustom.meshka.api.Produce.denied")
            .unwrap_or(0)
            >= 2,
        "{}",
        mesh.broker_stats()
    );
    assert!(
        mesh.broker_stat("wasmcustom.meshka.topic.payments.denied")
            .unwrap_or(0)
            >= 2,
        "{}",
        mesh.broker_stats()
    );
    let prom = mesh.broker_prometheus();
    assert!(
        prom.contains("meshka_topic_denied{topic=\"payments\"}"),
        "{prom}"
    );
}

#[test]
fn audit_mode_forwards_and_logs_what_it_would_deny() {
    let mesh = two_workloads(policy("audit"));
    let out = clients::run_app(
        &mesh,
        mesh.workload(0),
        &["produce", "--topic", "payments", "--count", "5"],
    );
    assert_eq!(
        (out["delivered"].as_u64(), &out["errors"]),
        (Some(5), &json!({})),
        "{out}"
    );
    let log = mesh.broker_sidecar_log();
    assert!(
        log.lines().any(|l| l.contains("meshka: decision")
            && l.contains("\"payments\"")
            && l.contains("\"audit\":true")
            && l.contains("\"forwarded\":true")),
        "{log}"
    );
}

#[test]
fn a_policy_change_reaches_a_connection_that_is_already_open() {
    let mut mesh = two_workloads(json!({"authorization": {"rules": [
        {"action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Write"], "resources": [{"type": "topic", "name": "orders.created"}]}
    ]}}));
    let orders = mesh.workload(0);
    let bootstrap = orders.bootstrap(mesh.ports.client_sidecar);
    let pod = orders.pod.as_ref().expect("pods");
    let mut child = pod
        .command(&env::python())
        .arg(env::script("kclient.py"))
        .args([
            "produce-loop",
            "--bootstrap",
            &bootstrap,
            "--topic",
            "orders.created",
            "--seconds",
            "12",
            "--interval",
            "0.2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a long-lived producer");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Let it produce for a while on its one connection, then revoke its write access.
    let mut summary = String::new();
    for line in lines.by_ref() {
        let line = line.expect("read");
        if line.starts_with("tick 4") {
            break;
        }
    }
    let revoked = json!({"authorization": {"rules": [
        {"action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Describe"], "resources": [{"type": "topic", "name": "orders.created"}]}
    ]}});
    mesh.set_filter_config(&revoked)
        .expect("the new policy is accepted");
    for line in lines {
        let line = line.expect("read");
        if line.starts_with('{') {
            summary = line;
        }
    }
    let _ = child.wait();
    let out: Value = serde_json::from_str(&summary).unwrap_or_else(|e| panic!("{e}: {summary:?}"));
    let outcomes: Vec<(f64, String)> = out["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|o| {
            (
                o[0].as_f64().unwrap_or(0.0),
                o[1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let first_denied = outcomes
        .iter()
        .position(|(_, r)| r == "TOPIC_AUTHORIZATION_FAILED")
        .unwrap_or_else(|| panic!("never denied: {outcomes:?}"));
    assert!(
        first_denied >= 10,
        "allowed before the change: {outcomes:?}"
    );
    assert!(
        outcomes[..first_denied].iter().all(|(_, r)| r == "ok"),
        "{outcomes:?}"
    );
    assert!(
        outcomes[first_denied..]
            .iter()
            .all(|(_, r)| r == "TOPIC_AUTHORIZATION_FAILED"),
        "{outcomes:?}"
    );
    assert!(
        outcomes.len() - first_denied >= 10,
        "denied after the change: {outcomes:?}"
    );
    // One connection throughout: the producer was never disconnected.
    let log = mesh.broker_sidecar_log();
    let opened = log
        .lines()
        .filter(|l| l.contains("opened peer=spiffe://cluster.local/ns/shop/sa/orders"))
        .count();
    assert!(
        opened <= 2,
        "the producer reconnected ({opened} connections):\n{log}"
    );
    let _ = Command::new("true").status();
}
