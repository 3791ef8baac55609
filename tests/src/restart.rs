//! Faults on the broker side of a running mesh: a relay put in front of the broker (to capture
//! its traffic, reset its connections, take it away and bring it back), and the broker sidecar's
//! Envoy restarted on the same ports with the same configuration.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::mesh::Mesh;
use crate::process::{free_ports, wait_for_port, Process};
use crate::relay::Relay;
use crate::{admin, broker, env};

impl Mesh {
    /// Moves the broker behind a [`Relay`]: a fresh broker on a new port, and the relay on the
    /// broker's port, so the broker sidecar (and [`Mesh::broker_direct`]) reach it through the
    /// relay. Call it before any topic exists: the old broker's (in-memory) data is gone.
    /// With `capture`, the relay records every connection there.
    pub fn interpose_broker_relay(&mut self, capture: Option<&Path>) -> Relay {
        // Chosen while the old broker still holds its port, so that port is not handed out.
        let [port] = free_ports();
        self.broker.stop();
        self.broker = broker::start(self.dir(), port, self.ports.client_sidecar);
        let upstream: SocketAddr = ([127, 0, 0, 1], port).into();
        Relay::start(self.ports.broker, upstream, capture.map(Path::to_path_buf))
    }

    /// Stops the broker sidecar's Envoy and starts it again on the same ports with the same
    /// bootstrap (and the ECDS file's current filter configuration), as a pod's sidecar restarts.
    /// Waits until it is ready and listening.
    pub fn restart_broker_sidecar(&mut self) {
        self.broker_sidecar.stop();
        let restarts = self
            .broker_sidecar
            .name
            .strip_prefix("broker-sidecar-restart")
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        let name = format!("broker-sidecar-restart{}", restarts + 1);
        let config = self.dir().join("broker-sidecar.json");
        let mut cmd = Command::new(env::envoy());
        cmd.arg("-c")
            .arg(&config)
            .args([
                "--concurrency",
                &self.options.concurrency.to_string(),
                "--disable-hot-restart",
            ])
            .args(["--log-level", "info", "--component-log-level", "wasm:info"])
            .args([
                "--service-node",
                "broker-sidecar",
                "--service-cluster",
                "broker-sidecar",
            ]);
        self.broker_sidecar = Process::spawn(self.dir(), &name, &mut cmd);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.broker_sidecar.assert_running();
            if admin::get(self.ports.broker_admin, "/ready").is_some_and(|b| b.trim() == "LIVE") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the restarted broker sidecar was not ready in 30s:\n{}",
                self.broker_sidecar.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let port = self.ports.broker_sidecar;
        wait_for_port(&mut self.broker_sidecar, port, Duration::from_secs(30));
    }
}
