//! The webhook's configuration: which pods to handle and what to patch into them.
//!
//! Read from a YAML (or JSON) file with `meshka webhook --config FILE`; every field has a
//! default, so an empty file is a valid configuration. See `webhook/README.md` for the reference.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;

/// What a Kafka pod does in the cluster. Detected by [`crate::admission::role`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A broker (including a KRaft node that is both controller and broker).
    Broker,
    /// A dedicated KRaft controller.
    Controller,
    /// A ZooKeeper server of a ZooKeeper-era cluster.
    Zookeeper,
    /// A Kafka client: producers, consumers, Connect, Streams, bridges, tools, Jobs.
    Client,
}

impl Role {
    /// The value used in the role label and the `meshka.io/kafka-role` annotation.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Broker => "broker",
            Role::Controller => "controller",
            Role::Zookeeper => "zookeeper",
            Role::Client => "client",
        }
    }

    /// Parses the value of the `meshka.io/kafka-role` annotation; `Ok(None)` means `none`.
    pub fn parse_annotation(value: &str) -> Result<Option<Role>, UnknownRole> {
        match value.trim() {
            "broker" => Ok(Some(Role::Broker)),
            "controller" => Ok(Some(Role::Controller)),
            "zookeeper" => Ok(Some(Role::Zookeeper)),
            "client" => Ok(Some(Role::Client)),
            "none" => Ok(None),
            other => Err(UnknownRole(other.to_string())),
        }
    }

    /// Brokers, controllers and ZooKeeper servers: the pods that serve Kafka's own traffic.
    pub fn is_server(self) -> bool {
        !matches!(self, Role::Client)
    }
}

/// A `meshka.io/kafka-role` value that is not a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl std::fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is not one of broker, controller, zookeeper, client, none",
            self.0
        )
    }
}

/// Who packaged the Kafka pod; decides which well-known ports are excluded from capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Strimzi (`strimzi.io/*` labels, `quay.io/strimzi/*` images).
    Strimzi,
    /// Bitnami's Helm chart (`app.kubernetes.io/name: kafka`, `bitnami/kafka` images).
    Bitnami,
    /// Confluent for Kubernetes and cp-helm-charts (`platform.confluent.io/type`, `confluentinc/*`).
    Confluent,
    /// Anything else recognised by image or annotation (e.g. `apache/kafka`).
    Generic,
}

impl Vendor {
    /// Lower-case name, as used in the configuration file and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Strimzi => "strimzi",
            Vendor::Bitnami => "bitnami",
            Vendor::Confluent => "confluent",
            Vendor::Generic => "generic",
        }
    }
}

/// Ports of one vendor's Kafka pods that must not go through the sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct VendorPorts {
    /// Cluster-internal ports (KRaft controller, replication/inter-broker, ZooKeeper quorum).
    /// Excluded from inbound capture on servers, and from outbound capture on servers as well,
    /// unless `internalTrafficInMesh` is true (then they stay in the mesh in both directions).
    pub internal: Vec<u16>,
    /// Ports only scraped or called from outside the mesh (operator agent, JMX, metrics):
    /// always excluded from inbound capture on servers.
    pub inbound_only: Vec<u16>,
}

/// Sidecar resources, written as `sidecar.istio.io/proxy*` annotations unless the pod sets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SidecarResources {
    /// `sidecar.istio.io/proxyCPU`, e.g. `500m`.
    pub cpu: Option<String>,
    /// `sidecar.istio.io/proxyMemory`, e.g. `256Mi`.
    pub memory: Option<String>,
    /// `sidecar.istio.io/proxyCPULimit`.
    pub cpu_limit: Option<String>,
    /// `sidecar.istio.io/proxyMemoryLimit`.
    pub memory_limit: Option<String>,
}

/// The webhook's configuration. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// Roles the webhook patches; pods of other roles are admitted untouched.
    pub roles: BTreeSet<Role>,
    /// Vendors the webhook patches; pods of other vendors are admitted untouched.
    pub vendors: BTreeSet<Vendor>,
    /// Ports excluded from capture, per vendor.
    pub ports: BTreeMap<Vendor, VendorPorts>,
    /// ZooKeeper ports, excluded like a vendor's internal ports (ZooKeeper pods, and brokers'
    /// outbound connections to ZooKeeper).
    pub zookeeper_ports: Vec<u16>,
    /// Keep controller, replication and ZooKeeper traffic inside the mesh (Istio mTLS). When
    /// false (the default), those ports bypass the sidecar in both directions.
    pub internal_traffic_in_mesh: bool,
    /// Ports that carry the Kafka protocol: unnamed container ports with these numbers are named
    /// `tcp-<port>`, Service ports with these numbers get `appProtocol: tcp`.
    pub kafka_ports: Vec<u16>,
    /// `terminationDrainDuration` in seconds, written into `proxy.istio.io/config`.
    pub drain_duration_seconds: u32,
    /// Added to the drain to get the minimum `terminationGracePeriodSeconds`.
    pub grace_period_margin_seconds: u32,
    /// Use Kubernetes native sidecars (`sidecar.istio.io/nativeSidecar: "true"`) instead of
    /// `holdApplicationUntilProxyStarts` + `EXIT_ON_ZERO_ACTIVE_CONNECTIONS`.
    pub native_sidecar: bool,
    /// Use native sidecars for run-to-completion pods (Jobs) even when `nativeSidecar` is false:
    /// otherwise the sidecar keeps a finished Job's pod running.
    pub native_sidecar_for_jobs: bool,
    /// Labels added to every handled pod unless already present
    /// (default `sidecar.istio.io/inject: "true"`).
    pub labels: BTreeMap<String, String>,
    /// The label carrying the detected role, which WasmPlugins select on.
    pub role_label: String,
    /// Sidecar resources per role.
    pub sidecar_resources: BTreeMap<Role, SidecarResources>,
}

impl Default for Config {
    fn default() -> Self {
        let ports = BTreeMap::from([
            (
                Vendor::Strimzi,
                VendorPorts {
                    internal: vec![9090, 9091],
                    inbound_only: vec![8443, 9404, 9999],
                },
            ),
            (
                Vendor::Bitnami,
                VendorPorts {
                    internal: vec![9093, 9094],
                    inbound_only: vec![5556],
                },
            ),
            (
                Vendor::Confluent,
                VendorPorts {
                    internal: vec![9071, 9072, 9074],
                    inbound_only: vec![5555, 5556, 7203, 7777, 7778],
                },
            ),
            (
                Vendor::Generic,
                VendorPorts {
                    internal: vec![9093],
                    inbound_only: vec![],
                },
            ),
        ]);
        let server_resources = SidecarResources {
            cpu: Some("500m".into()),
            memory: Some("256Mi".into()),
            cpu_limit: Some("2".into()),
            memory_limit: Some("1Gi".into()),
        };
        Config {
            roles: [
                Role::Broker,
                Role::Controller,
                Role::Zookeeper,
                Role::Client,
            ]
            .into(),
            vendors: [
                Vendor::Strimzi,
                Vendor::Bitnami,
                Vendor::Confluent,
                Vendor::Generic,
            ]
            .into(),
            ports,
            zookeeper_ports: vec![2181, 2888, 3888],
            internal_traffic_in_mesh: false,
            kafka_ports: vec![9092, 9093, 9094, 9095, 9096],
            drain_duration_seconds: 45,
            grace_period_margin_seconds: 15,
            native_sidecar: false,
            native_sidecar_for_jobs: true,
            labels: BTreeMap::from([("sidecar.istio.io/inject".into(), "true".into())]),
            role_label: "meshka.io/kafka-role".into(),
            sidecar_resources: BTreeMap::from([(Role::Broker, server_resources)]),
        }
    }
}

impl Config {
    /// Parses a configuration from YAML or JSON text.
    pub fn from_yaml(text: &str) -> Result<Config, Error> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let config: Config = serde_yaml::from_str(text).map_err(|source| Error::Config {
            message: source.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a configuration file.
    pub fn from_file(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            what: format!("read the configuration file {}", path.display()),
            source,
        })?;
        Config::from_yaml(&text)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<(), Error> {
        if self.drain_duration_seconds == 0 {
            return Err(Error::Config {
                message: "drainDurationSeconds must be at least 1".into(),
            });
        }
        if !valid_label_key(&self.role_label) {
            return Err(Error::Config {
                message: format!("roleLabel {:?} is not a valid label key", self.role_label),
            });
        }
        for (k, v) in &self.labels {
            if !valid_label_key(k) || !valid_label_name(v, true) {
                return Err(Error::Config {
                    message: format!("labels: {k:?}: {v:?} is not a valid Kubernetes label"),
                });
            }
        }
        Ok(())
    }

    /// Inbound-excluded ports of a server pod of `vendor` with `role`, sorted.
    pub fn inbound_exclusions(&self, vendor: Vendor, role: Role) -> BTreeSet<u16> {
        let mut out = BTreeSet::new();
        if !role.is_server() {
            return out;
        }
        if let Some(p) = self.ports.get(&vendor) {
            out.extend(p.inbound_only.iter().copied());
            if !self.internal_traffic_in_mesh {
                out.extend(p.internal.iter().copied());
            }
        }
        if role == Role::Zookeeper && !self.internal_traffic_in_mesh {
            out.extend(self.zookeeper_ports.iter().copied());
        }
        out
    }

    /// Outbound-excluded ports: only when internal traffic is kept out of the mesh. Servers skip
    /// the sidecar towards controllers, other brokers and ZooKeeper; clients towards ZooKeeper
    /// (old tools still connect to it), so that no sidecar wraps mTLS around a connection whose
    /// receiving side is not captured.
    pub fn outbound_exclusions(&self, vendor: Vendor, role: Role) -> BTreeSet<u16> {
        let mut out = BTreeSet::new();
        if self.internal_traffic_in_mesh {
            return out;
        }
        if role.is_server() {
            if let Some(p) = self.ports.get(&vendor) {
                out.extend(p.internal.iter().copied());
            }
        }
        out.extend(self.zookeeper_ports.iter().copied());
        out
    }
}

/// A label name or value: at most 63 characters of `[A-Za-z0-9._-]`, starting and ending
/// alphanumeric (a value may be empty).
fn valid_label_name(s: &str, empty_ok: bool) -> bool {
    if s.is_empty() {
        return empty_ok;
    }
    let bytes = s.as_bytes();
    s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name.
fn valid_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty()
                && prefix.len() <= 253
                && prefix.split('.').all(|part| {
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                        && !part.starts_with('-')
                        && !part.ends_with('-')
                })
                && valid_label_name(name, false)
        }
        None => valid_label_name(key, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_validated() {
        assert!(Config::from_yaml("labels: {team: a}").is_ok());
        assert!(Config::from_yaml("labels: {example.com/team: ''}").is_ok());
        assert!(Config::from_yaml("labels: {'bad key!': a}").is_err());
        assert!(Config::from_yaml("labels: {a: 'not ok'}").is_err());
        assert!(Config::from_yaml("roleLabel: ''").is_err());
        assert!(Config::from_yaml("roleLabel: 'Example.com/x'").is_err());
    }

    #[test]
    fn empty_file_is_default() {
        assert_eq!(Config::from_yaml("").unwrap(), Config::default());
        assert_eq!(Config::from_yaml("{}").unwrap(), Config::default());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = Config::from_yaml("drainDuration: 3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("drainDuration"), "{err}");
    }

    #[test]
    fn yaml_overrides() {
        let c = Config::from_yaml(
            "drainDurationSeconds: 90\nnativeSidecar: true\nroles: [broker]\nports:\n  strimzi:\n    internal: [1]\n",
        )
        .unwrap();
        assert_eq!(c.drain_duration_seconds, 90);
        assert!(c.native_sidecar);
        assert_eq!(c.roles, [Role::Broker].into());
        assert_eq!(c.ports[&Vendor::Strimzi].internal, vec![1]);
        assert!(c.ports[&Vendor::Strimzi].inbound_only.is_empty());
    }

    #[test]
    fn zero_drain_is_rejected() {
        assert!(Config::from_yaml("drainDurationSeconds: 0").is_err());
    }
}
