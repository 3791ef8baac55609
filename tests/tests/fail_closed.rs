//! What is not Kafka, or is beyond the configured bounds, closes the connection — through the
//! real sidecars — and bad configurations are refused with the field named.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use meshka_tests::{Mesh, MeshOptions};
use serde_json::json;

/// Sends `bytes` through the client sidecar and returns what came back before the close.
fn send(mesh: &Mesh, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(mesh.bootstrap()).expect("connect to the client sidecar");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set a read timeout");
    stream.write_all(bytes).expect("write");
    let mut back = Vec::new();
    // A closed connection reads EOF (Ok) or a reset (Err); a timeout would mean it stayed open.
    match stream.read_to_end(&mut back) {
        Ok(_) => {}
        Err(e) => assert_ne!(
            e.kind(),
            std::io::ErrorKind::WouldBlock,
            "connection left open"
        ),
    }
    back
}

fn wait_stat(mesh: &Mesh, name: &str, want: u64) -> u64 {
    for _ in 0..100 {
        let v = mesh.broker_stat(name).unwrap_or(0);
        if v >= want {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    mesh.broker_stat(name).unwrap_or(0)
}

#[test]
fn garbage_oversized_and_unknown_requests_close_the_connection() {
    let mut mesh = Mesh::start(MeshOptions {
        filter_config: json!({"maxFrameBytes": 65536}),
        ..Default::default()
    });

    // Not Kafka at all.
    assert!(send(&mesh, b"GET / HTTP/1.1\r\nHost: kafka\r\n\r\n").is_empty());
    // A frame longer than maxFrameBytes.
    assert!(send(&mesh, &(1_000_000i32).to_be_bytes()).is_empty());
    // A negative length.
    assert!(send(&mesh, &(-1i32).to_be_bytes()).is_empty());
    // An api key no Kafka version defines.
    assert!(send(&mesh, &[0, 0, 0, 10, 0x7f, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff]).is_empty());

    assert_eq!(
        wait_stat(&mesh, "wasmcustom.meshka.connections.closed_by_filter", 4),
        4,
        "{}",
        mesh.broker_stats()
    );
    assert_eq!(
        mesh.broker_stat("wasmcustom.meshka.reason.frame_too_large.decode_errors"),
        Some(2)
    );
    assert_eq!(
        mesh.broker_stat("wasmcustom.meshka.reason.negative_length.decode_errors"),
        Some(1)
    );
    assert_eq!(
        mesh.broker_stat("wasmcustom.meshka.reason.unknown_api_key.decode_errors"),
        Some(1)
    );
    let log = mesh.broker_sidecar_log();
    assert!(log.contains("exceeds maxFrameBytes (65536)"), "{log}");
    assert!(log.contains("unknown api key 32512"), "{log}");

    // Fail open on request: the same garbage passes (uninspected), and is counted.
    mesh.set_filter_config(&json!({"failureMode": "open"}))
        .expect("a valid config is accepted");
    let _ = send(&mesh, &(-1i32).to_be_bytes());
    assert_eq!(
        wait_stat(&mesh, "wasmcustom.meshka.connections.passed_undecoded", 1),
        1
    );

    // An invalid configuration is refused by the filter, naming the field; the old one stays.
    let err = mesh
        .set_filter_config(&json!({"maxInFlight": "lots"}))
        .expect_err("an invalid config is refused");
    assert!(
        err.contains("maxInFlight") && err.contains("invalid type"),
        "{err}"
    );
    let err = mesh
        .set_filter_config(&json!({"maxFrameByte": 1}))
        .expect_err("an unknown field is refused");
    assert!(err.contains("unknown field `maxFrameByte`"), "{err}");
}
