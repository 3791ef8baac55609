//! Services in front of Kafka: `appProtocol: tcp` on Kafka ports, so that Istio never sniffs or
//! guesses HTTP for the Kafka protocol, and warnings where a port name would mislead Istio.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;

use super::role::ROLE_ANNOTATION;
use crate::config::{Config, Role};

/// What happened to a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOutcome {
    /// The Kafka role of the pods behind the Service, if recognised.
    pub role: Option<Role>,
    /// Warnings for the AdmissionResponse.
    pub warnings: Vec<String>,
}

/// Protocol prefixes by which Istio would treat a port as something other than opaque TCP.
const MISLEADING: &[&str] = &[
    "http", "http2", "https", "grpc", "grpc-web", "mongo", "mysql", "redis", "thrift",
];

fn role_of_labels(labels: &BTreeMap<String, String>) -> Option<Role> {
    let get = |k: &str| labels.get(k).map(String::as_str);
    if get("strimzi.io/kind") == Some("Kafka") {
        let name = get("strimzi.io/name").unwrap_or("");
        if name.ends_with("-zookeeper") {
            return Some(Role::Zookeeper);
        }
        if name.ends_with("-entity-operator")
            || name.ends_with("-cruise-control")
            || name.ends_with("-kafka-exporter")
        {
            return None;
        }
        return Some(Role::Broker);
    }
    match get("platform.confluent.io/type") {
        Some("kafka") => return Some(Role::Broker),
        Some("kraftcontroller") => return Some(Role::Controller),
        Some("zookeeper") => return Some(Role::Zookeeper),
        _ => {}
    }
    match (
        get("app.kubernetes.io/name"),
        get("app.kubernetes.io/component"),
    ) {
        (Some("kafka"), Some("controller-eligible")) => return Some(Role::Controller),
        (Some("kafka"), Some("kafka") | Some("broker") | None) => return Some(Role::Broker),
        (Some("zookeeper"), _) => return Some(Role::Zookeeper),
        _ => {}
    }
    match get("app") {
        Some("kafka") | Some("cp-kafka") => Some(Role::Broker),
        Some("zookeeper") | Some("cp-zookeeper") => Some(Role::Zookeeper),
        _ => None,
    }
}

/// The Kafka role of a Service: its annotation, its labels, then its selector.
fn detect_service(svc: &Service, config: &Config) -> Result<Option<Role>, String> {
    if let Some(value) = svc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ROLE_ANNOTATION))
    {
        return Role::parse_annotation(value).map_err(|_| {
            format!("meshka: annotation {ROLE_ANNOTATION}={value:?} is not one of broker, controller, zookeeper, client, none; the Service was left unchanged")
        });
    }
    let by_labels = svc.metadata.labels.as_ref().and_then(role_of_labels);
    let by_selector = svc
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .and_then(role_of_labels);
    if let Some(role) = by_labels.or(by_selector) {
        return Ok(Some(role));
    }
    let kafka_port = svc
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .any(|p| u16::try_from(p.port).is_ok_and(|n| config.kafka_ports.contains(&n)));
    Ok(kafka_port.then_some(Role::Broker))
}

fn is_kafka_port_name(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "kafka",
        "broker",
        "client",
        "controller",
        "interbroker",
        "internal",
        "external",
        "replication",
        "zookeeper",
        "follower",
        "election",
        "leader-election",
        "server",
        "plain",
        "tls",
        "sasl",
        "tcp",
    ];
    let name = name.to_ascii_lowercase();
    WORDS
        .iter()
        .any(|w| name == *w || name.split('-').any(|part| part == *w))
}

/// Adds `appProtocol: tcp` to the Kafka ports of a Kafka Service that lack one.
pub fn mutate_service(svc: &mut Service, config: &Config) -> ServiceOutcome {
    let mut warnings = Vec::new();
    let role = match detect_service(svc, config) {
        Ok(role) => role,
        Err(w) => {
            warnings.push(w);
            None
        }
    };
    let Some(role) = role else {
        return ServiceOutcome {
            role: None,
            warnings,
        };
    };
    if role == Role::Client || !config.roles.contains(&role) {
        return ServiceOutcome {
            role: Some(role),
            warnings,
        };
    }
    let mut numbers: BTreeSet<u16> = config.kafka_ports.iter().copied().collect();
    numbers.extend(config.zookeeper_ports.iter().copied());
    for p in config.ports.values() {
        numbers.extend(p.internal.iter().copied());
    }
    let name = svc.metadata.name.clone().unwrap_or_default();
    for port in svc
        .spec
        .iter_mut()
        .flat_map(|s| s.ports.iter_mut().flatten())
    {
        let by_number = u16::try_from(port.port).is_ok_and(|n| numbers.contains(&n));
        let by_target = match &port.target_port {
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => {
                u16::try_from(*n).is_ok_and(|n| numbers.contains(&n))
            }
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s)) => {
                is_kafka_port_name(s)
            }
            None => false,
        };
        let by_name = port.name.as_deref().is_some_and(is_kafka_port_name);
        if !(by_number || by_target || by_name) {
            continue;
        }
        if port.protocol.as_deref().is_some_and(|p| p != "TCP") {
            continue;
        }
        let port_name = port.name.clone().unwrap_or_default();
        let prefix = port_name
            .split('-')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let misleading = MISLEADING.contains(&prefix.as_str()) || port_name.starts_with("grpc-web");
        match port.app_protocol.as_deref() {
            None => {
                port.app_protocol = Some("tcp".into());
                if misleading {
                    warnings.push(format!(
                        "meshka: Service {name} port {} is named {port_name:?}, which Istio reads as {prefix}; appProtocol: tcp was added so that Kafka is treated as TCP — rename the port to tcp-…",
                        port.port
                    ));
                }
            }
            Some(p) if p.eq_ignore_ascii_case("tcp") || p.eq_ignore_ascii_case("tls") => {}
            Some(p) => warnings.push(format!(
                "meshka: Service {name} port {} carries Kafka but has appProtocol: {p}; Istio will not treat it as TCP — set appProtocol: tcp",
                port.port
            )),
        }
    }
    ServiceOutcome {
        role: Some(role),
        warnings,
    }
}
