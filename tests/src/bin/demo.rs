//! `make demo`: a local mesh with the meshka filter, a Kafka broker and real clients.
//!
//! Starts tansu, a broker sidecar (Envoy, mTLS, meshka) and a client sidecar (Envoy, SPIFFE
//! identity), runs confluent-kafka and kafka-python through them, then shows what the filter saw:
//! the peer identity, requests by api, and a connection it refused.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use meshka_tests::clients::{self, Library};
use meshka_tests::{Mesh, MeshOptions};

fn step(title: &str) {
    println!("\n\x1b[1m== {title}\x1b[0m");
}

fn main() {
    step("starting the mesh: tansu broker, broker sidecar (Envoy + meshka, mTLS), client sidecar");
    let mesh = Mesh::start(MeshOptions::default());
    println!(
        "broker            127.0.0.1:{} (tansu, in memory)",
        mesh.ports.broker
    );
    println!(
        "broker sidecar    127.0.0.1:{} (TLS, client certificate required; admin :{})",
        mesh.ports.broker_sidecar, mesh.ports.broker_admin
    );
    println!(
        "client sidecar    {} (the app's bootstrap; identity {})",
        mesh.bootstrap(),
        mesh.workload(0).identity.spiffe_id()
    );

    step("confluent-kafka: create topic 'orders', produce 200 records, consume them with group 'orders-group'");
    let out = clients::run(
        &[
            "create",
            "--bootstrap",
            &mesh.bootstrap(),
            "--topic",
            "orders",
        ],
        Duration::from_secs(90),
    );
    println!("{out}");
    for (lib, topic) in [
        (Library::Confluent, "orders"),
        (Library::KafkaPython, "orders"),
    ] {
        let group = format!("{}-group", lib.arg());
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
                "200",
                "--group",
                &group,
            ],
            Duration::from_secs(120),
        );
        println!("{:<13} {out}", lib.arg());
    }

    step("a client that does not speak Kafka: the filter closes the connection (fail closed)");
    if let Ok(mut s) = TcpStream::connect(mesh.bootstrap()) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: kafka\r\n\r\n");
        let mut back = Vec::new();
        let _ = s.read_to_end(&mut back);
        println!(
            "sent an HTTP request; got {} bytes back and the connection closed",
            back.len()
        );
    }
    std::thread::sleep(Duration::from_millis(500));

    step("what the filter logged (broker sidecar)");
    for line in mesh
        .broker_sidecar_log()
        .lines()
        .filter(|l| l.contains("meshka: connection=") || l.contains("closing the connection"))
    {
        if let Some((_, msg)) = line.split_once("meshka: meshka: ") {
            println!("{msg}");
        }
    }

    step("requests by api, from the broker sidecar's /stats/prometheus");
    for line in mesh.broker_prometheus().lines() {
        if line.starts_with("meshka_api_requests{")
            || line.starts_with("meshka_connections")
            || line.starts_with("meshka_reason")
        {
            println!("{line}");
        }
    }
    println!("\nlogs and configs: {}", mesh.dir().display());
}
