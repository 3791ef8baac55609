//! The assembled mesh: broker, broker sidecar with the filter, and one or more client workloads
//! with their sidecars. One workload runs in the root network namespace; several each get a pod
//! network namespace (see [`crate::netns`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::envoy::{self, BrokerFilter};
use crate::netns::Pod;
use crate::pki::{Identity, MeshCa};
use crate::process::{free_ports, wait_for_port, Process};
use crate::{admin, broker, env};

/// How to build a mesh.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    /// The filter's plugin configuration (`WasmPlugin.spec.pluginConfig`).
    pub filter_config: Value,
    /// What the broker sidecar runs.
    pub broker_filter: BrokerFilter,
    /// The client workloads' identities.
    pub workloads: Vec<Identity>,
    /// Envoy worker threads per sidecar.
    pub concurrency: u32,
}

impl Default for MeshOptions {
    fn default() -> Self {
        MeshOptions {
            filter_config: serde_json::json!({}),
            broker_filter: BrokerFilter::Meshka,
            workloads: vec![Identity::new("apps", "orders")],
            concurrency: 1,
        }
    }
}

/// The broker's identity, as its sidecar presents it.
pub fn broker_identity() -> Identity {
    Identity::new("kafka", "kafka-broker")
}

/// A client app's place in the mesh: its identity, its sidecar, its pod.
pub struct Workload {
    pub identity: Identity,
    pub sidecar: Process,
    pub admin: (String, u16),
    pub pod: Option<Pod>,
}

impl Workload {
    /// Where the app connects: its own sidecar, at the address the broker advertises.
    pub fn bootstrap(&self, port: u16) -> String {
        format!("127.0.0.1:{port}")
    }
}

pub struct Mesh {
    // Field order is drop order: clients' sidecars first, the broker last.
    pub workloads: Vec<Workload>,
    pub broker_sidecar: Process,
    pub broker: Process,
    pub ports: Ports,
    pub options: MeshOptions,
    ecds: PathBuf,
    ecds_version: u64,
    dir: Option<TempDir>,
}

#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub broker: u16,
    pub broker_sidecar: u16,
    pub broker_admin: u16,
    pub client_sidecar: u16,
    pub client_admin: u16,
}

fn envoy_process(
    dir: &Path,
    name: &str,
    bootstrap: &serde_json::Value,
    concurrency: u32,
    pod: Option<&Pod>,
) -> Process {
    let config = dir.join(format!("{name}.json"));
    envoy::write_json(&config, bootstrap);
    let mut cmd = match pod {
        Some(pod) => pod.command(&env::envoy()),
        None => Command::new(env::envoy()),
    };
    cmd.arg("-c")
        .arg(&config)
        .args([
            "--concurrency",
            &concurrency.to_string(),
            "--disable-hot-restart",
        ])
        .args(["--log-level", "info", "--component-log-level", "wasm:info"])
        .args(["--service-node", name, "--service-cluster", name]);
    Process::spawn(dir, name, &mut cmd)
}

fn wait_ready(process: &mut Process, admin: (&str, u16)) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        process.assert_running();
        if admin::get_from(admin.0, admin.1, "/ready").is_some_and(|b| b.trim() == "LIVE") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{} not ready within 30s; its log:\n{}",
        process.name,
        process.log_text()
    );
}

impl Mesh {
    pub fn start(options: MeshOptions) -> Mesh {
        let dir = tempfile::Builder::new()
            .prefix("meshka-mesh-")
            .tempdir()
            .expect("create a temp dir");
        let d = dir.path();
        let pod_mode = options.workloads.len() > 1;
        let [client_sidecar, broker, broker_sidecar, broker_admin, client_admin] = free_ports();
        let ports = Ports {
            // With pods, the root namespace is the broker's pod: the broker itself listens on the
            // advertised address there, so admin clients in the root namespace reach it directly.
            broker: if pod_mode { client_sidecar } else { broker },
            broker_sidecar,
            broker_admin,
            client_sidecar,
            client_admin,
        };
        let ca = MeshCa::new(d);
        let broker_id = broker_identity();
        let broker_certs = ca.issue(d, &broker_id);
        let ecds = d.join("meshka-ecds.json");
        let wasm = env::wasm();
        envoy::write_json(&ecds, &envoy::meshka_ecds(&wasm, &options.filter_config, 1));
        let pods: Vec<Option<Pod>> = if pod_mode {
            options
                .workloads
                .iter()
                .map(|_| Some(Pod::create()))
                .collect()
        } else {
            vec![None]
        };
        // Pods reach the broker sidecar over their veth link; one root-namespace workload over
        // loopback.
        let listen_on = if pods.iter().any(Option::is_some) {
            "0.0.0.0"
        } else {
            "127.0.0.1"
        };

        let broker = broker::start(d, ports.broker, ports.client_sidecar);
        let mut broker_sidecar = envoy_process(
            d,
            "broker-sidecar",
            &envoy::broker_sidecar(
                ports.broker_admin,
                (listen_on, ports.broker_sidecar),
                ports.broker,
                &broker_certs,
                &ca.ca_file,
                options.broker_filter,
                &ecds,
            ),
            options.concurrency,
            None,
        );
        wait_ready(&mut broker_sidecar, ("127.0.0.1", ports.broker_admin));
        wait_for_port(
            &mut broker_sidecar,
            ports.broker_sidecar,
            Duration::from_secs(30),
        );
        let mut workloads = Vec::new();
        for (identity, pod) in options.workloads.iter().zip(pods) {
            let certs = ca.issue(d, identity);
            let name = format!(
                "sidecar-{}-{}",
                identity.namespace, identity.service_account
            );
            let (upstream, admin) = match &pod {
                Some(p) => (p.host_ip.clone(), (p.pod_ip.clone(), ports.client_admin)),
                None => (
                    "127.0.0.1".to_string(),
                    ("127.0.0.1".to_string(), ports.client_admin),
                ),
            };
            let mut sidecar = envoy_process(
                d,
                &name,
                &envoy::client_sidecar(
                    (admin.0.as_str(), admin.1),
                    ports.client_sidecar,
                    (upstream.as_str(), ports.broker_sidecar),
                    &certs,
                    &ca.ca_file,
                    &broker_id.spiffe_id(),
                ),
                options.concurrency,
                pod.as_ref(),
            );
            wait_ready(&mut sidecar, (admin.0.as_str(), admin.1));
            workloads.push(Workload {
                identity: identity.clone(),
                sidecar,
                admin,
                pod,
            });
        }
        Mesh {
            workloads,
            broker_sidecar,
            broker,
            ports,
            options,
            ecds,
            ecds_version: 1,
            dir: Some(dir),
        }
    }

    /// The `i`th workload.
    pub fn workload(&self, i: usize) -> &Workload {
        self.workloads
            .get(i)
            .unwrap_or_else(|| panic!("the mesh has no workload {i}"))
    }

    /// Where the first workload's app connects: its own sidecar (in the root namespace when it
    /// is the only workload).
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.ports.client_sidecar)
    }

    /// The broker itself, bypassing the mesh. With several workloads the root namespace is the
    /// broker's pod, so clients there (admin tools) reach the broker for every request.
    pub fn broker_direct(&self) -> String {
        format!("127.0.0.1:{}", self.ports.broker)
    }

    /// Keeps the logs and configs after the mesh stops (the demo shows where).
    pub fn keep_logs(&mut self) -> PathBuf {
        match self.dir.take() {
            Some(dir) => dir.keep(),
            None => PathBuf::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new("."), |d| d.path())
    }

    /// The broker sidecar's `/stats` (text).
    pub fn broker_stats(&self) -> String {
        admin::get(self.ports.broker_admin, "/stats").unwrap_or_default()
    }

    /// The broker sidecar's `/stats/prometheus`.
    pub fn broker_prometheus(&self) -> String {
        admin::get(self.ports.broker_admin, "/stats/prometheus").unwrap_or_default()
    }

    pub fn broker_stat(&self, name: &str) -> Option<u64> {
        admin::stat(self.ports.broker_admin, name)
    }

    pub fn broker_sidecar_log(&self) -> String {
        self.broker_sidecar.log_text()
    }

    /// Delivers a new filter configuration through ECDS, as istiod does when a `WasmPlugin`
    /// changes, and waits until Envoy accepted it (`Ok`) or rejected it (`Err` with the log).
    pub fn set_filter_config(&mut self, config: &Value) -> Result<(), String> {
        const ACCEPTED: &str = "meshka: configured:";
        const REJECTED: &str = "config update rejected";
        self.ecds_version += 1;
        let count = |log: &str, what: &str| log.matches(what).count();
        let before = self.broker_sidecar_log();
        envoy::write_json(
            &self.ecds,
            &envoy::meshka_ecds(&env::wasm(), config, self.ecds_version),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let log = self.broker_sidecar_log();
            if count(&log, REJECTED) > count(&before, REJECTED) {
                return Err(log.get(before.len()..).unwrap_or_default().to_string());
            }
            // One line per VM (main thread and each worker): all must have the new config.
            let vms = 1 + self.options.concurrency as usize;
            if count(&log, ACCEPTED) >= count(&before, ACCEPTED) + vms {
                self.options.filter_config = config.clone();
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "Envoy neither accepted nor rejected ECDS version {} in 20s",
            self.ecds_version
        ))
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        for w in &mut self.workloads {
            w.sidecar.stop();
        }
        self.broker_sidecar.stop();
        self.broker.stop();
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!("test bed logs and configs kept in {}", kept.display());
            }
        }
    }
}
