//! The Kafka-protocol broker: tansu with in-memory storage.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::env;
use crate::process::{wait_for_port, Process};

/// Starts tansu on `listen`, advertising `advertised` so that clients come back through their
/// sidecar.
pub fn start(dir: &Path, listen: u16, advertised: u16) -> Process {
    let mut p = Process::spawn(
        dir,
        "broker",
        Command::new(env::tansu()).args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{listen}"),
            "--advertised-listener-url",
            &format!("tcp://127.0.0.1:{advertised}"),
            "--storage-engine",
            "memory://tansu/",
        ]),
    );
    wait_for_port(&mut p, listen, Duration::from_secs(30));
    p
}
