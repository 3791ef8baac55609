//! `make fuzz-seeds`, first half: what real clients send and receive, recorded.
//!
//! Starts the test bed with the filter observing only (it passes every byte unchanged), puts a
//! recording relay between the broker sidecar and the broker, and runs confluent-kafka and
//! kafka-python through the mesh: topic creation, produce with acks=1 and acks=0, consumer
//! groups (join, sync, fetch, commit), metadata listings. Each connection's bytes land in
//! `<dir>/conn-NNNN.c2s` (to the broker) and `.s2c` (back); the `seeds` example of
//! `meshka-fuzzing` cuts them into seeds for the fuzz targets.
//!
//! Usage: `capture [dir]` (default `target/fuzz-capture`).

use std::path::PathBuf;
use std::time::Duration;

use meshka_tests::{clients, Mesh, MeshOptions};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| meshka_tests::env::workspace().join("target/fuzz-capture"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut mesh = Mesh::start(MeshOptions::default());
    let relay = mesh.interpose_broker_relay(Some(&dir));
    let bootstrap = mesh.bootstrap();
    let direct = mesh.broker_direct();
    let t = Duration::from_secs(120);
    let runs: Vec<Vec<&str>> = vec![
        vec![
            "create",
            "--bootstrap",
            &direct,
            "--topic",
            "orders.captured",
            "--partitions",
            "2",
        ],
        vec![
            "create",
            "--bootstrap",
            &direct,
            "--topic",
            "payments",
            "--partitions",
            "1",
        ],
        vec![
            "roundtrip",
            "--lib",
            "confluent",
            "--topic",
            "orders.captured",
            "--group",
            "g",
            "--count",
            "20",
            "--size",
            "100",
        ],
        vec![
            "roundtrip",
            "--lib",
            "kafka-python",
            "--topic",
            "payments",
            "--group",
            "g",
            "--count",
            "20",
            "--size",
            "100",
        ],
        vec![
            "produce",
            "--lib",
            "confluent",
            "--topic",
            "orders.captured",
            "--acks",
            "0",
            "--count",
            "5",
        ],
        vec![
            "produce",
            "--lib",
            "kafka-python",
            "--topic",
            "orders.captured",
            "--count",
            "5",
        ],
        vec!["topics", "--lib", "confluent"],
        vec!["topics", "--lib", "kafka-python"],
        vec![
            "consume",
            "--lib",
            "confluent",
            "--topic",
            "payments",
            "--group",
            "orders-readers",
            "--count",
            "5",
        ],
    ];
    for args in runs {
        let mut full = args.clone();
        if !full.contains(&"--bootstrap") {
            full.splice(1..1, ["--bootstrap", bootstrap.as_str()]);
        }
        let out = clients::run(&full, t);
        println!("{} {}", args.join(" "), out);
    }
    // What the filter refused on the way (it only observes here, so any is a decoding failure).
    for line in mesh.broker_stats().lines() {
        if line.contains("decode_errors") || line.contains("closed_by_filter") {
            println!("filter: {line}");
        }
    }
    println!(
        "captured {} connections ({} bytes to the broker, {} back) in {}",
        relay.accepted(),
        relay.bytes_to_broker(),
        relay.bytes_to_client(),
        dir.display()
    );
}
