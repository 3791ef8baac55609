//! Role and vendor detection: is this pod a Kafka broker, KRaft controller, ZooKeeper server,
//! Kafka client, or none of these?
//!
//! Precedence: the `meshka.io/kafka-role` annotation, then vendor labels (Strimzi, Bitnami,
//! Confluent), then container images, ports and environment.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::config::{Config, Role, Vendor};

/// The annotation that overrides detection: `broker`, `controller`, `zookeeper`, `client`, `none`.
pub const ROLE_ANNOTATION: &str = "meshka.io/kafka-role";

/// How a role was found; reported in metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The `meshka.io/kafka-role` annotation.
    Annotation,
    /// A vendor's labels.
    Labels,
    /// Container images, ports and environment.
    Containers,
    /// Nothing Kafka-like was found.
    Nothing,
}

/// What detection found out about a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The role, or `None` for a pod meshka leaves alone.
    pub role: Option<Role>,
    /// The vendor, for the vendor's well-known ports.
    pub vendor: Vendor,
    /// How the role was found.
    pub source: Source,
    /// A run-to-completion pod (Job, CronJob, or `restartPolicy` other than `Always`).
    pub run_to_completion: bool,
    /// Problems worth telling the user (an unknown annotation value).
    pub warnings: Vec<String>,
}

fn label<'a>(labels: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    labels.get(key).map(String::as_str)
}

/// The repository path of an image without registry tag or digest, e.g.
/// `docker.io/bitnami/kafka:4.0.0@sha256:…` → `docker.io/bitnami/kafka`.
pub fn image_repository(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(colon) if !no_digest.get(colon..).unwrap_or("").contains('/') => {
            no_digest.get(..colon).unwrap_or(no_digest)
        }
        _ => no_digest,
    }
}

/// The last path segment of an image repository, e.g. `kafka` for `quay.io/strimzi/kafka:0.45`.
pub fn image_name(image: &str) -> &str {
    let repo = image_repository(image);
    repo.rsplit('/').next().unwrap_or(repo)
}

fn vendor_of_image(image: &str) -> Option<Vendor> {
    let repo = image_repository(image).to_ascii_lowercase();
    if repo.contains("strimzi") {
        Some(Vendor::Strimzi)
    } else if repo.contains("bitnami") {
        Some(Vendor::Bitnami)
    } else if repo.contains("confluentinc") {
        Some(Vendor::Confluent)
    } else {
        None
    }
}

const BROKER_IMAGES: &[&str] = &[
    "kafka",
    "kafka-native",
    "cp-kafka",
    "cp-server",
    "cp-enterprise-kafka",
];
const ZOOKEEPER_IMAGES: &[&str] = &["zookeeper", "cp-zookeeper"];
const CLIENT_IMAGES: &[&str] = &[
    "cp-schema-registry",
    "cp-kafka-rest",
    "cp-kafka-connect",
    "cp-kafka-connect-base",
    "cp-server-connect",
    "cp-ksql-server",
    "cp-ksqldb-server",
    "cp-enterprise-control-center",
    "cp-enterprise-replicator",
    "kafka-bridge",
];

fn env_value<'a>(c: &'a Container, names: &[&str]) -> Option<&'a str> {
    c.env
        .iter()
        .flatten()
        .find(|e| names.contains(&e.name.as_str()))
        .and_then(|e| e.value.as_deref())
}

fn has_env_suffix(c: &Container, suffix: &str) -> bool {
    c.env.iter().flatten().any(|e| e.name.ends_with(suffix))
}

fn listens_on_kafka_port(c: &Container, config: &Config) -> bool {
    c.ports.iter().flatten().any(|p| {
        u16::try_from(p.container_port).is_ok_and(|n| config.kafka_ports.contains(&n))
            || p.name.as_deref().is_some_and(|n| {
                n == "kafka" || n.contains("kafka") || n == "client" || n == "broker"
            })
    })
}

/// The role of one container judged by its image, ports and environment alone.
fn container_role(c: &Container, config: &Config) -> Option<Role> {
    let image = c.image.as_deref().unwrap_or("");
    let name = image_name(image).to_ascii_lowercase();
    if BROKER_IMAGES.contains(&name.as_str()) {
        if let Some(roles) = env_value(c, &["KAFKA_CFG_PROCESS_ROLES", "KAFKA_PROCESS_ROLES"]) {
            if roles.contains("broker") {
                return Some(Role::Broker);
            }
            if roles.contains("controller") {
                return Some(Role::Controller);
            }
        }
        // A Kafka image that listens is a server; one that does not runs tools: a client.
        return Some(if listens_on_kafka_port(c, config) {
            Role::Broker
        } else {
            Role::Client
        });
    }
    if ZOOKEEPER_IMAGES.contains(&name.as_str()) {
        return Some(Role::Zookeeper);
    }
    // JMX exporters read the JVM next to them, not Kafka; kafka-exporter and friends are clients.
    let jmx = name.contains("jmx");
    if CLIENT_IMAGES.contains(&name.as_str())
        || (name.contains("kafka") && !jmx)
        || has_env_suffix(c, "BOOTSTRAP_SERVERS")
    {
        return Some(Role::Client);
    }
    None
}

fn strongest(a: Option<Role>, b: Option<Role>) -> Option<Role> {
    // Broker > Controller > Zookeeper > Client: the enum order.
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn role_from_labels(
    labels: &BTreeMap<String, String>,
    pod: &Pod,
    config: &Config,
) -> Option<(Option<Role>, Vendor)> {
    // Strimzi
    if let Some(kind) = label(labels, "strimzi.io/kind") {
        let name = label(labels, "strimzi.io/name").unwrap_or("");
        let role = match kind {
            "Kafka" => {
                if name.ends_with("-entity-operator")
                    || name.ends_with("-cruise-control")
                    || name.ends_with("-kafka-exporter")
                {
                    Some(Role::Client)
                } else if label(labels, "strimzi.io/broker-role") == Some("true") {
                    Some(Role::Broker)
                } else if label(labels, "strimzi.io/controller-role") == Some("true") {
                    Some(Role::Controller)
                } else if name.ends_with("-zookeeper") {
                    Some(Role::Zookeeper)
                } else {
                    Some(Role::Broker)
                }
            }
            "KafkaConnect" | "KafkaMirrorMaker2" | "KafkaMirrorMaker" | "KafkaBridge" => {
                Some(Role::Client)
            }
            // The cluster operator talks to Kubernetes, not to Kafka.
            _ => None,
        };
        return Some((role, Vendor::Strimzi));
    }
    // Confluent for Kubernetes
    if let Some(kind) = label(labels, "platform.confluent.io/type") {
        let role = match kind {
            "kafka" => Some(Role::Broker),
            "kraftcontroller" => Some(Role::Controller),
            "zookeeper" => Some(Role::Zookeeper),
            "connect" | "schemaregistry" | "ksqldb" | "kafkarestproxy" | "controlcenter"
            | "replicator" => Some(Role::Client),
            _ => None,
        };
        return Some((role, Vendor::Confluent));
    }
    // Bitnami (and other charts using the recommended labels)
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    let bitnami = containers
        .iter()
        .any(|c| c.image.as_deref().and_then(vendor_of_image) == Some(Vendor::Bitnami))
        || label(labels, "helm.sh/chart")
            .is_some_and(|c| c.starts_with("kafka-") || c.starts_with("zookeeper-"));
    let vendor = if bitnami {
        Vendor::Bitnami
    } else {
        Vendor::Generic
    };
    match label(labels, "app.kubernetes.io/name") {
        Some("kafka") => {
            let role = match label(labels, "app.kubernetes.io/component") {
                Some("broker") | Some("kafka") => Some(Role::Broker),
                Some("controller-eligible") | Some("controller") => {
                    // Combined (controller+broker) or controller-only: ask the containers.
                    let r = containers
                        .iter()
                        .fold(None, |acc, c| strongest(acc, container_role(c, config)));
                    match r {
                        Some(Role::Broker) => Some(Role::Broker),
                        _ => Some(Role::Controller),
                    }
                }
                _ => Some(Role::Client),
            };
            Some((role, vendor))
        }
        Some("zookeeper") => Some((Some(Role::Zookeeper), vendor)),
        _ => None,
    }
}

fn run_to_completion(pod: &Pod) -> bool {
    let owned_by_job = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "Job" || o.kind == "CronJob");
    let job_label = pod.metadata.labels.as_ref().is_some_and(|l| {
        l.contains_key("batch.kubernetes.io/job-name") || l.contains_key("job-name")
    });
    let restart = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .is_some_and(|p| p != "Always");
    owned_by_job || job_label || restart
}

/// Detects the role and vendor of a pod.
pub fn detect_pod(pod: &Pod, config: &Config) -> Detection {
    let empty = BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
    let annotations = pod.metadata.annotations.as_ref().unwrap_or(&empty);
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    let image_vendor = containers
        .iter()
        .find_map(|c| c.image.as_deref().and_then(vendor_of_image))
        .unwrap_or(Vendor::Generic);
    let mut detection = Detection {
        role: None,
        vendor: image_vendor,
        source: Source::Nothing,
        run_to_completion: run_to_completion(pod),
        warnings: Vec::new(),
    };

    let from_labels = role_from_labels(labels, pod, config);
    if let Some((_, vendor)) = from_labels {
        detection.vendor = vendor;
    }

    if let Some(value) = annotations.get(ROLE_ANNOTATION) {
        match Role::parse_annotation(value) {
            Ok(role) => {
                detection.role = role;
                detection.source = Source::Annotation;
            }
            Err(_) => detection.warnings.push(format!(
                "meshka: annotation {ROLE_ANNOTATION}={value:?} is not one of broker, controller, zookeeper, client, none; the pod was left unchanged"
            )),
        }
        return detection;
    }
    if let Some((role, _)) = from_labels {
        detection.role = role;
        detection.source = Source::Labels;
        return detection;
    }
    let role = containers
        .iter()
        .fold(None, |acc, c| strongest(acc, container_role(c, config)));
    if role.is_some() {
        detection.role = role;
        detection.source = Source::Containers;
    }
    detection
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names() {
        assert_eq!(
            image_name("docker.io/bitnami/kafka:4.0.0-debian-12-r10"),
            "kafka"
        );
        assert_eq!(image_name("localhost:5000/kafka"), "kafka");
        assert_eq!(image_name("localhost:5000/cp-kafka:7.0"), "cp-kafka");
        assert_eq!(
            image_name("solsson/kafka-prometheus-jmx-exporter@sha256:6f82"),
            "kafka-prometheus-jmx-exporter"
        );
        assert_eq!(image_name(""), "");
        assert_eq!(image_name(":"), "");
        assert_eq!(
            image_repository("quay.io/strimzi/kafka:0.45.0-kafka-3.9.0"),
            "quay.io/strimzi/kafka"
        );
    }

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn annotation_wins() {
        let p = pod("metadata:\n  annotations: {meshka.io/kafka-role: none}\n  labels: {strimzi.io/kind: Kafka}\nspec: {containers: []}");
        let d = detect_pod(&p, &Config::default());
        assert_eq!(
            (d.role, d.source, d.vendor),
            (None, Source::Annotation, Vendor::Strimzi)
        );
        let p = pod("metadata:\n  annotations: {meshka.io/kafka-role: client}\nspec: {containers: [{name: a, image: nginx}]}");
        assert_eq!(detect_pod(&p, &Config::default()).role, Some(Role::Client));
        let p = pod("metadata:\n  annotations: {meshka.io/kafka-role: brokr}\nspec: {containers: [{name: a, image: apache/kafka, ports: [{containerPort: 9092}]}]}");
        let d = detect_pod(&p, &Config::default());
        assert_eq!(d.role, None);
        assert_eq!(d.warnings.len(), 1);
    }

    #[test]
    fn strimzi_node_pools() {
        let c = Config::default();
        let p = pod("metadata:\n  labels: {strimzi.io/kind: Kafka, strimzi.io/name: my-cluster-kafka, strimzi.io/broker-role: 'true', strimzi.io/controller-role: 'true'}\nspec: {containers: []}");
        assert_eq!(detect_pod(&p, &c).role, Some(Role::Broker));
        let p = pod("metadata:\n  labels: {strimzi.io/kind: Kafka, strimzi.io/name: my-cluster-kafka, strimzi.io/broker-role: 'false', strimzi.io/controller-role: 'true'}\nspec: {containers: []}");
        assert_eq!(detect_pod(&p, &c).role, Some(Role::Controller));
        let p = pod("metadata:\n  labels: {strimzi.io/kind: Kafka, strimzi.io/name: my-cluster-zookeeper}\nspec: {containers: []}");
        assert_eq!(detect_pod(&p, &c).role, Some(Role::Zookeeper));
        let p = pod("metadata:\n  labels: {strimzi.io/kind: Kafka, strimzi.io/name: my-cluster-entity-operator}\nspec: {containers: []}");
        assert_eq!(detect_pod(&p, &c).role, Some(Role::Client));
        let p = pod("metadata:\n  labels: {strimzi.io/kind: cluster-operator}\nspec: {containers: [{name: a, image: quay.io/strimzi/operator:1.2.0}]}");
        assert_eq!(detect_pod(&p, &c).role, None);
    }

    #[test]
    fn images_and_ports() {
        let c = Config::default();
        let p = pod("spec: {containers: [{name: a, image: apache/kafka:4.0.0, ports: [{containerPort: 9092}]}]}");
        assert_eq!(detect_pod(&p, &c).role, Some(Role::Broker));
        let p = pod("spec: {containers: [{name: a, image: apache/kafka:4.0.0, command: [kafka-topics.sh]}]}");
        assert_eq!(detect_pod(&p, &c).role, Some(Role::Client));
        let p = pod("spec: {containers: [{name: a, image: apache/kafka:4.0.0, ports: [{containerPort: 9093}], env: [{name: KAFKA_PROCESS_ROLES, value: controller}]}]}");
        assert_eq!(detect_pod(&p, &c).role, Some(Role::Controller));
        let p = pod("spec: {containers: [{name: a, image: solsson/kafka-prometheus-jmx-exporter, ports: [{containerPort: 5556}]}]}");
        assert_eq!(detect_pod(&p, &c).role, None);
        let p = pod("spec: {containers: [{name: a, image: danielqsj/kafka-exporter:v1.9.0}]}");
        assert_eq!(detect_pod(&p, &c).role, Some(Role::Client));
        let p = pod("spec: {containers: [{name: a, image: nginx, ports: [{containerPort: 80}]}]}");
        assert_eq!(detect_pod(&p, &c).role, None);
        let p = pod("spec: {restartPolicy: Never, containers: [{name: a, image: myapp, env: [{name: KAFKA_BOOTSTRAP_SERVERS, value: 'x:9092'}]}]}");
        let d = detect_pod(&p, &c);
        assert_eq!(d.role, Some(Role::Client));
        assert!(d.run_to_completion);
    }
}
