//! `make demo`: a local mesh with the meshka filter, a Kafka broker and real clients.
//!
//! Starts tansu, a broker sidecar (Envoy, mTLS, meshka) and two client workloads, each in its
//! own pod network with its own sidecar and SPIFFE identity. A KafkaPolicy-style authorization
//! lets `shop/orders` write `orders.*` and read `payments`, and `bi/analytics` only read
//! `orders.*`; both run confluent-kafka and kafka-python, and the demo shows what was allowed,
//! what was denied (with the error the client library reported), and what the filter logged and
//! counted.

use std::time::Duration;

use meshka_tests::clients;
use meshka_tests::mesh::Workload;
use meshka_tests::{Identity, Mesh, MeshOptions};
use serde_json::{json, Value};

fn step(title: &str) {
    println!("\n\x1b[1m== {title}\x1b[0m");
}

fn policy() -> Value {
    json!({"authorization": {"mode": "enforce", "defaultAction": "deny", "rules": [
        {"name": "orders-writes-orders", "action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Write"],
         "resources": [{"type": "topic", "name": "orders.", "patternType": "prefixed"}]},
        {"name": "orders-reads-payments", "action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Read"],
         "resources": [{"type": "topic", "name": "payments"}, {"type": "group", "name": "orders-", "patternType": "prefixed"}]},
        {"name": "analytics-reads-orders", "action": "allow", "serviceAccounts": ["bi/analytics"], "operations": ["Read"],
         "resources": [{"type": "topic", "name": "orders.", "patternType": "prefixed"},
                       {"type": "group", "name": "analytics-", "patternType": "prefixed"}]}
    ]}})
}

fn run(mesh: &Mesh, w: &Workload, what: &str, args: &[&str]) {
    let out = clients::run_app(mesh, w, args);
    let errors = out
        .get("errors")
        .filter(|e| e.as_object().is_some_and(|o| !o.is_empty()));
    let verdict = match errors {
        Some(e) => format!("\x1b[31mDENIED\x1b[0m  {e}"),
        None => "\x1b[32mALLOWED\x1b[0m".to_string(),
    };
    println!(
        "{:<13} {:<42} {verdict}  {out}",
        w.identity.service_account, what
    );
}

fn main() {
    step("starting the mesh: tansu broker, broker sidecar (Envoy + meshka, mTLS), two workloads in their own pods");
    let mut mesh = Mesh::start(MeshOptions {
        workloads: vec![
            Identity::new("shop", "orders"),
            Identity::new("bi", "analytics"),
        ],
        filter_config: policy(),
        ..Default::default()
    });
    println!(
        "broker            127.0.0.1:{} (tansu, in memory)",
        mesh.ports.broker
    );
    println!(
        "broker sidecar    0.0.0.0:{} (TLS, client certificate required; admin 127.0.0.1:{})",
        mesh.ports.broker_sidecar, mesh.ports.broker_admin
    );
    for w in &mesh.workloads {
        let pod = w.pod.as_ref().map_or("root namespace".to_string(), |p| {
            format!("netns {}", p.name)
        });
        println!(
            "workload          {} in {pod}, sidecar at {}",
            w.identity.spiffe_id(),
            w.bootstrap(mesh.ports.client_sidecar)
        );
    }
    println!("policy            {}", policy());

    step("an operator creates the topics on the broker (no sidecar)");
    for topic in ["orders.created", "payments", "secrets"] {
        let out = clients::run(
            &[
                "create",
                "--bootstrap",
                &mesh.broker_direct(),
                "--topic",
                topic,
                "--partitions",
                "1",
            ],
            Duration::from_secs(60),
        );
        println!("{topic:<15} {}", out["topics"]);
    }

    let (orders, analytics) = (mesh.workload(0), mesh.workload(1));
    for lib in ["confluent", "kafka-python"] {
        step(&format!("{lib}: allowed and denied traffic side by side"));
        run(
            &mesh,
            orders,
            "produce 10 to orders.created",
            &[
                "produce",
                "--lib",
                lib,
                "--topic",
                "orders.created",
                "--count",
                "10",
            ],
        );
        run(
            &mesh,
            orders,
            "produce 3 to payments (read-only for it)",
            &[
                "produce", "--lib", lib, "--topic", "payments", "--count", "3",
            ],
        );
        run(
            &mesh,
            analytics,
            "consume orders.created (group analytics-…)",
            &[
                "consume",
                "--lib",
                lib,
                "--topic",
                "orders.created",
                "--group",
                &format!("analytics-{lib}"),
                "--count",
                "10",
            ],
        );
        run(
            &mesh,
            analytics,
            "produce 3 to orders.created",
            &[
                "produce",
                "--lib",
                lib,
                "--topic",
                "orders.created",
                "--count",
                "3",
            ],
        );
        run(
            &mesh,
            analytics,
            "consume with group orders-stolen",
            &[
                "consume",
                "--lib",
                lib,
                "--topic",
                "orders.created",
                "--group",
                "orders-stolen",
                "--count",
                "1",
                "--timeout",
                "10",
            ],
        );
        run(&mesh, analytics, "list topics", &["topics", "--lib", lib]);
        run(&mesh, orders, "list topics", &["topics", "--lib", lib]);
    }

    step("routing: each namespace becomes a tenant (a policy change reaches the sidecar through ECDS)");
    let tenants = json!({"routing": {"tenants": [
        {"name": "shop", "namespaces": ["shop"], "topicPrefix": "shop.", "groupPrefix": "shop."},
        {"name": "bi", "namespaces": ["bi"], "topicPrefix": "bi.", "groupPrefix": "bi."}
    ]}});
    println!("routing           {tenants}");
    mesh.set_filter_config(&tenants)
        .expect("the routing configuration is accepted");
    let (orders, analytics) = (mesh.workload(0), mesh.workload(1));
    for (w, what) in [(orders, "create events"), (analytics, "create events")] {
        run(
            &mesh,
            w,
            what,
            &["create", "--topic", "events", "--partitions", "1"],
        );
    }
    run(
        &mesh,
        orders,
        "produce 5 to events",
        &["produce", "--topic", "events", "--count", "5"],
    );
    run(
        &mesh,
        orders,
        "consume events (group audit)",
        &[
            "consume", "--topic", "events", "--group", "audit", "--count", "5",
        ],
    );
    run(
        &mesh,
        analytics,
        "consume events (its own, empty)",
        &[
            "consume",
            "--topic",
            "events",
            "--group",
            "audit",
            "--count",
            "1",
            "--timeout",
            "8",
        ],
    );
    run(&mesh, analytics, "list topics", &["topics"]);
    run(&mesh, orders, "list topics", &["topics"]);
    let direct = clients::run(
        &["topics", "--bootstrap", &mesh.broker_direct()],
        Duration::from_secs(60),
    );
    println!(
        "{:<13} {:<42} {}",
        "operator", "list topics on the broker (no sidecar)", direct["topics"]
    );

    step("what the filter logged (broker sidecar): connections with their SPIFFE IDs, and denials");
    let log = mesh.broker_sidecar_log();
    let mut shown = 0;
    for line in log
        .lines()
        .filter(|l| l.contains("opened peer=") || l.contains("meshka: decision"))
    {
        if let Some((_, msg)) = line.split_once("meshka: meshka: ") {
            if shown < 14 {
                println!("{msg}");
            }
            shown += 1;
        }
    }
    println!(
        "… {shown} lines in all, in {}",
        mesh.broker_sidecar.log.display()
    );

    step("requests and decisions by api and by topic, from the broker sidecar's /stats/prometheus");
    for line in mesh.broker_prometheus().lines() {
        let interesting = [
            "meshka_api_requests{",
            "meshka_api_denied{",
            "meshka_topic_",
            "meshka_connections_total",
        ];
        if interesting.iter().any(|p| line.starts_with(p)) && !line.ends_with(" 0") {
            println!("{line}");
        }
    }
    println!("\nlogs and configs kept in {}", mesh.keep_logs().display());
}
