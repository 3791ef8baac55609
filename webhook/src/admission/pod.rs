//! What meshka changes in a Kafka pod, and why (see `webhook/README.md`):
//! labels, the merged `proxy.istio.io/config`, capture exclusions, sidecar resources, the grace
//! period and port names. Every change is "set when missing", so a second pass changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, Pod};
use serde_yaml::Value;

use super::proxy_config::{self, Want};
use super::role::{detect_pod, Detection};
use crate::config::Config;

/// `proxy.istio.io/config`: the pod's ProxyConfig overrides.
pub const PROXY_CONFIG: &str = "proxy.istio.io/config";
/// Istio's native-sidecar switch.
pub const NATIVE_SIDECAR: &str = "sidecar.istio.io/nativeSidecar";
/// Inbound capture exclusions (comma-separated ports).
pub const EXCLUDE_INBOUND: &str = "traffic.sidecar.istio.io/excludeInboundPorts";
/// Outbound capture exclusions (comma-separated ports).
pub const EXCLUDE_OUTBOUND: &str = "traffic.sidecar.istio.io/excludeOutboundPorts";

/// Labels and annotations that belong to Istio; meshka never writes them.
pub const ISTIO_OWNED: &[&str] = &[
    "sidecar.istio.io/status",
    "istio.io/rev",
    "security.istio.io/tlsMode",
    "service.istio.io/canonical-name",
    "service.istio.io/canonical-revision",
];

/// What happened to a pod.
#[derive(Debug, Clone)]
pub struct PodOutcome {
    /// Detection results.
    pub detection: Detection,
    /// Whether the pod's role and vendor are handled by this configuration.
    pub handled: bool,
    /// Warnings for the AdmissionResponse.
    pub warnings: Vec<String>,
}

fn set_if_absent(map: &mut BTreeMap<String, String>, key: &str, value: &str) {
    if ISTIO_OWNED.contains(&key) {
        return;
    }
    if !map.contains_key(key) {
        map.insert(key.to_string(), value.to_string());
    }
}

/// Adds `ports` to a comma-separated port list, keeping the existing entries and their order.
/// `*` (everything excluded) is left alone. Returns `None` when nothing changes.
pub fn merge_port_list(existing: Option<&str>, ports: &BTreeSet<u16>) -> Option<String> {
    let existing = existing.unwrap_or("").trim();
    if existing == "*" || ports.is_empty() {
        return None;
    }
    let mut items: Vec<String> = existing
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let present: BTreeSet<u16> = items.iter().filter_map(|s| s.parse().ok()).collect();
    let missing: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|p| !present.contains(p))
        .collect();
    if missing.is_empty() {
        return None;
    }
    items.extend(missing.iter().map(u16::to_string));
    Some(items.join(","))
}

/// Paths where Kafka and ZooKeeper keep their data, by default and from the environment.
fn data_paths(c: &Container) -> Vec<String> {
    let mut paths: Vec<String> = [
        "/var/lib/kafka",
        "/bitnami/kafka",
        "/opt/kafka/data",
        "/var/lib/zookeeper",
        "/bitnami/zookeeper",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for e in c.env.iter().flatten() {
        if matches!(
            e.name.as_str(),
            "KAFKA_CFG_LOG_DIRS"
                | "KAFKA_LOG_DIRS"
                | "KAFKA_CFG_LOG_DIR"
                | "ZOO_DATA_DIR"
                | "ZOOKEEPER_DATA_DIR"
        ) {
            if let Some(v) = &e.value {
                paths.extend(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
            }
        }
    }
    paths
}

fn path_within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    !dir.is_empty()
        && (path == dir
            || path
                .strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/')))
}

fn empty_dir_data_warnings(pod: &Pod) -> Vec<String> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let empty_dirs: BTreeSet<&str> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.empty_dir.is_some())
        .map(|v| v.name.as_str())
        .collect();
    let mut flagged = BTreeSet::new();
    for c in &spec.containers {
        let paths = data_paths(c);
        for m in c.volume_mounts.iter().flatten() {
            if !empty_dirs.contains(m.name.as_str()) {
                continue;
            }
            let mount = m.mount_path.as_str();
            if paths
                .iter()
                .any(|p| path_within(p, mount) || path_within(mount, p))
            {
                flagged.insert((m.name.clone(), mount.to_string()));
            }
        }
    }
    flagged
        .into_iter()
        .map(|(name, path)| {
            format!("meshka: volume {name:?} at {path} holds Kafka data on an emptyDir: it is lost when the pod is rescheduled; use a PersistentVolumeClaim")
        })
        .collect()
}

/// Detects the pod's role and, when it is handled, mutates it in place.
pub fn mutate_pod(pod: &mut Pod, config: &Config) -> PodOutcome {
    let detection = detect_pod(pod, config);
    let mut warnings = detection.warnings.clone();
    let Some(role) = detection.role else {
        return PodOutcome {
            detection,
            handled: false,
            warnings,
        };
    };
    // No sidecar will be injected: hold, drain and exclusions would mean nothing.
    let opted_out = |m: &Option<BTreeMap<String, String>>| {
        m.as_ref()
            .and_then(|m| m.get("sidecar.istio.io/inject"))
            .is_some_and(|v| v == "false")
    };
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    if opted_out(&pod.metadata.labels) || opted_out(&pod.metadata.annotations) || host_network {
        return PodOutcome {
            detection,
            handled: false,
            warnings,
        };
    }
    if !config.roles.contains(&role) || !config.vendors.contains(&detection.vendor) {
        return PodOutcome {
            detection,
            handled: false,
            warnings,
        };
    }
    let vendor = detection.vendor;
    let native =
        config.native_sidecar || (detection.run_to_completion && config.native_sidecar_for_jobs);

    // Labels.
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in &config.labels {
        set_if_absent(labels, k, v);
    }
    set_if_absent(labels, &config.role_label, role.as_str());

    // Annotations.
    let annotations = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let drain = format!("{}s", config.drain_duration_seconds);
    let mut wants = vec![Want {
        path: vec!["terminationDrainDuration"],
        value: Value::String(drain),
    }];
    if native {
        set_if_absent(annotations, NATIVE_SIDECAR, "true");
    } else {
        wants.push(Want {
            path: vec!["holdApplicationUntilProxyStarts"],
            value: Value::Bool(true),
        });
        wants.push(Want {
            path: vec!["proxyMetadata", "EXIT_ON_ZERO_ACTIVE_CONNECTIONS"],
            value: Value::String("true".into()),
        });
    }
    let mut drain_seconds = u64::from(config.drain_duration_seconds);
    match proxy_config::merge(annotations.get(PROXY_CONFIG).map(String::as_str), &wants) {
        Ok(merged) => {
            if let Some(text) = merged.text {
                annotations.insert(PROXY_CONFIG.to_string(), text);
            }
            if let Some(d) = merged.drain.as_deref().and_then(proxy_config::parse_duration_seconds) {
                drain_seconds = d;
            }
        }
        Err(message) => warnings.push(format!("meshka: {message}; it was left unchanged, fix it so that Kafka gets hold and drain settings")),
    }
    let inbound = config.inbound_exclusions(vendor, role);
    if let Some(v) = merge_port_list(
        annotations.get(EXCLUDE_INBOUND).map(String::as_str),
        &inbound,
    ) {
        annotations.insert(EXCLUDE_INBOUND.to_string(), v);
    }
    let outbound = config.outbound_exclusions(vendor, role);
    if let Some(v) = merge_port_list(
        annotations.get(EXCLUDE_OUTBOUND).map(String::as_str),
        &outbound,
    ) {
        annotations.insert(EXCLUDE_OUTBOUND.to_string(), v);
    }
    if let Some(r) = config.sidecar_resources.get(&role) {
        for (key, value) in [
            ("sidecar.istio.io/proxyCPU", &r.cpu),
            ("sidecar.istio.io/proxyMemory", &r.memory),
            ("sidecar.istio.io/proxyCPULimit", &r.cpu_limit),
            ("sidecar.istio.io/proxyMemoryLimit", &r.memory_limit),
        ] {
            if let Some(v) = value {
                set_if_absent(annotations, key, v);
            }
        }
    }

    if let Some(spec) = pod.spec.as_mut() {
        // A grace period that outlasts the sidecar's drain.
        let needed = drain_seconds.saturating_add(u64::from(config.grace_period_margin_seconds));
        let needed = i64::try_from(needed).unwrap_or(i64::MAX);
        match spec.termination_grace_period_seconds {
            None => spec.termination_grace_period_seconds = Some(needed),
            Some(current) if current < needed => {
                warnings.push(format!(
                    "meshka: terminationGracePeriodSeconds raised from {current} to {needed} so that the sidecar can drain Kafka connections ({drain_seconds}s) before the pod is killed"
                ));
                spec.termination_grace_period_seconds = Some(needed);
            }
            Some(_) => {}
        }

        // Name unnamed Kafka ports so that they read as TCP.
        if role.is_server() {
            let mut kafka_ports: BTreeSet<u16> = config.kafka_ports.iter().copied().collect();
            kafka_ports.extend(config.zookeeper_ports.iter().copied());
            if let Some(p) = config.ports.get(&vendor) {
                kafka_ports.extend(p.internal.iter().copied());
            }
            let mut names: BTreeSet<String> = spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
                .flat_map(|c| c.ports.iter().flatten())
                .filter_map(|p| p.name.clone())
                .collect();
            for c in spec.containers.iter_mut() {
                for p in c.ports.iter_mut().flatten() {
                    let tcp = p.protocol.as_deref().is_none_or(|proto| proto == "TCP");
                    let kafka =
                        u16::try_from(p.container_port).is_ok_and(|n| kafka_ports.contains(&n));
                    if p.name.is_none() && tcp && kafka {
                        let name = format!("tcp-{}", p.container_port);
                        if names.insert(name.clone()) {
                            p.name = Some(name);
                        }
                    }
                }
            }
        }
    }
    if role.is_server() {
        warnings.extend(empty_dir_data_warnings(pod));
    }
    PodOutcome {
        detection,
        handled: true,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists() {
        let ports: BTreeSet<u16> = [9090, 9091].into();
        assert_eq!(merge_port_list(None, &ports).as_deref(), Some("9090,9091"));
        assert_eq!(
            merge_port_list(Some("15020, 9091"), &ports).as_deref(),
            Some("15020,9091,9090")
        );
        assert_eq!(merge_port_list(Some("9091,9090"), &ports), None);
        assert_eq!(merge_port_list(Some("*"), &ports), None);
        assert_eq!(
            merge_port_list(Some("x,,9090"), &ports).as_deref(),
            Some("x,9090,9091")
        );
    }

    #[test]
    fn opted_out_and_host_network_pods_are_left_alone() {
        let config = Config::default();
        for yaml in [
            "metadata: {labels: {sidecar.istio.io/inject: 'false'}}\nspec: {containers: [{name: k, image: apache/kafka, ports: [{containerPort: 9092}]}]}",
            "metadata: {annotations: {sidecar.istio.io/inject: 'false'}}\nspec: {containers: [{name: k, image: apache/kafka, ports: [{containerPort: 9092}]}]}",
            "spec: {hostNetwork: true, containers: [{name: k, image: apache/kafka, ports: [{containerPort: 9092}]}]}",
        ] {
            let mut pod: Pod = serde_yaml::from_str(yaml).unwrap();
            let before = pod.clone();
            let outcome = mutate_pod(&mut pod, &config);
            assert!(!outcome.handled, "{yaml}");
            assert_eq!(pod, before);
        }
    }

    #[test]
    fn paths() {
        assert!(path_within("/var/lib/kafka/data-0", "/var/lib/kafka"));
        assert!(path_within("/var/lib/kafka", "/var/lib/kafka/"));
        assert!(!path_within("/var/lib/kafkaX", "/var/lib/kafka"));
        assert!(!path_within("/x", "/"));
    }
}
