//! The `KafkaPolicy` custom resource (`meshka.io/v1alpha1`, namespaced): which Kafka pods and
//! ports a policy covers, how the filter fails, the authorization rules and the routing (tenants,
//! broker addresses, quotas) — the very [`AuthorizationPolicy`] and [`RoutingConfig`] types the
//! filter loads, so a policy means the same thing everywhere.
//!
//! - [`validate`]: reading a manifest and checking a policy the way the filter does, every
//!   problem naming its field (`spec.authorization.rules[0].resources[0].name: …`,
//!   `spec.routing.tenants[0].topicPrefix: …`);
//! - [`render`]: the compiled `pluginConfig` and the Istio `WasmPlugin` the controller writes;
//! - [`admission`]: the validating webhook that refuses such policies at `kubectl apply`;
//! - [`crd_yaml`]: the CustomResourceDefinition, committed as `deploy/crds/kafkapolicies.meshka.io.yaml`.

use std::collections::BTreeMap;

use kube::{CustomResource, CustomResourceExt};
use meshka_policy::authz::AuthorizationPolicy;
use meshka_policy::route::RoutingConfig;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod admission;
pub mod render;
pub mod validate;

pub use render::{plugin_config, wasm_plugin, FilterImage, WASM_PLUGIN_API_VERSION};
pub use validate::{parse_manifests, Problem};

/// The API group of meshka's resources.
pub const GROUP: &str = "meshka.io";
/// `apiVersion` of [`KafkaPolicy`].
pub const API_VERSION: &str = "meshka.io/v1alpha1";
/// The Kafka client listener port enforced when a policy lists none.
pub const DEFAULT_PORT: u16 = 9092;

/// A Kafka authorization policy enforced by meshka's filter in the sidecars of the selected
/// Kafka brokers. The controller compiles it into an Istio WasmPlugin.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "meshka.io",
    version = "v1alpha1",
    kind = "KafkaPolicy",
    namespaced,
    status = "KafkaPolicyStatus",
    shortname = "kp",
    category = "meshka",
    derive = "PartialEq",
    doc = "KafkaPolicy: per-topic authorization for Kafka brokers in an Istio mesh, enforced by meshka's Wasm filter in the brokers' sidecars.",
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.authorization.mode"}"#,
    printcolumn = r#"{"name":"Default","type":"string","jsonPath":".spec.authorization.defaultAction"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"WasmPlugin","type":"string","priority":1,"jsonPath":".status.wasmPlugin"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KafkaPolicySpec {
    /// The Kafka pods to enforce on, by labels, in the policy's namespace (or in every namespace
    /// when the policy is in Istio's root namespace). meshka's webhook labels brokers
    /// `meshka.io/kafka-role: broker`.
    pub selector: WorkloadSelector,
    /// The broker ports (Kafka client listeners) whose inbound connections the filter inspects.
    /// Defaults to [9092]. Replication and controller ports should not be listed.
    #[serde(default = "default_ports")]
    #[schemars(length(min = 1, max = 64), inner(range(min = 1, max = 65535)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub ports: Vec<u16>,
    /// What the sidecar does when the filter cannot run or cannot decode a connection:
    /// `FAIL_CLOSE` (default) refuses the traffic, `FAIL_OPEN` lets it pass uninspected.
    #[serde(default)]
    pub fail_strategy: FailStrategy,
    /// Limits of the filter; every field has a safe default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<FilterLimits>,
    /// Who may do what to which Kafka resource (see filter/policy/AUTHORIZATION.md). An empty
    /// authorization denies everything.
    #[serde(default)]
    pub authorization: AuthorizationPolicy,
    /// Topic virtualization and tenants (each tenant's clients see its topics, groups and
    /// transactional ids under their own names), broker addresses handed to clients, and
    /// per-topic byte-rate quotas and read-only topics. Authorization rules name the broker's
    /// topics, after routing. Without it names pass unchanged and nothing is throttled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingConfig>,
}

fn default_ports() -> Vec<u16> {
    vec![DEFAULT_PORT]
}

/// Pods selected by labels (all must match).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSelector {
    /// Labels the pods must all carry, e.g. `meshka.io/kafka-role: broker`. At least one: a
    /// policy never applies to every pod by accident.
    #[schemars(extend(
        "minProperties" = 1,
        "maxProperties" = 64,
        "additionalProperties" = {"type": "string", "maxLength": 63},
        "x-kubernetes-validations" = [
            {"rule": "self.all(key, key.size() != 0 && !key.contains('*'))",
             "message": "label keys must be non-empty and without '*': Istio selects by exact labels"},
            {"rule": "self.all(key, !self[key].contains('*'))",
             "message": "label values must not contain '*': Istio selects by exact labels"}
        ]
    ))]
    pub match_labels: BTreeMap<String, String>,
}

/// Failure behaviour, spelt as Istio's `WasmPlugin.failStrategy`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum FailStrategy {
    /// Refuse traffic the filter cannot inspect (the module failed to load, or bytes that do not
    /// decode as Kafka). The safe default for authorization.
    #[default]
    #[serde(rename = "FAIL_CLOSE")]
    FailClose,
    /// Let such traffic pass uninspected (counted and logged).
    #[serde(rename = "FAIL_OPEN")]
    FailOpen,
}

impl FailStrategy {
    /// Istio's spelling.
    pub const fn as_istio(self) -> &'static str {
        match self {
            FailStrategy::FailClose => "FAIL_CLOSE",
            FailStrategy::FailOpen => "FAIL_OPEN",
        }
    }

    /// The filter's `failureMode` spelling.
    pub const fn as_failure_mode(self) -> &'static str {
        match self {
            FailStrategy::FailClose => "closed",
            FailStrategy::FailOpen => "open",
        }
    }
}

/// Bounds of the filter (the plugin configuration's fields of the same names).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterLimits {
    /// Largest Kafka frame accepted, in bytes (1024..=2147483647; default 104857600, Kafka's
    /// `socket.request.max.bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1024, max = 2147483647))]
    pub max_frame_bytes: Option<u32>,
    /// Most bytes of a frame's start kept to decode its header (at least 64; default 32832).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 64))]
    pub max_header_bytes: Option<u32>,
    /// Most requests a connection may have waiting for responses (at least 1; default 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_in_flight: Option<u32>,
    /// Largest frame the filter reads whole to decide or rewrite it (at least 1024; default
    /// 16777216). Raise it when producers send larger batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1024))]
    pub max_hold_bytes: Option<u32>,
    /// Log a line per connection at open and close (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_connections: Option<bool>,
    /// Every denial is logged; also log every Nth allowed request (default 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_allowed_every: Option<u32>,
    /// Close the connection on a denied `acks=0` Produce, as Kafka does, instead of dropping the
    /// request (default false: dropped and counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_on_denied_acks_zero: Option<bool>,
    /// Most distinct topics with their own metrics; the others count as `_other` (bounds the
    /// sidecar's stats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_topic_metrics: Option<u32>,
}

/// What the controller observed and did.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaPolicyStatus {
    /// The `metadata.generation` the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the WasmPlugin carries this generation), `Invalid` (the policy was refused,
    /// the message names every field with a problem) and `Overlapping` (another policy selects
    /// some of the same pods and ports: a request must be allowed by both).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The name of the WasmPlugin written for this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasm_plugin: Option<String>,
}

/// A status condition, the Kubernetes way.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, `Invalid` or `Overlapping`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A PascalCase reason (`Applied`, `InvalidPolicy`, `ApplyFailed`, `Valid`, `SharedPods`,
    /// `Disjoint`).
    pub reason: String,
    /// Details for humans.
    #[serde(default)]
    pub message: String,
    /// When `status` last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_transition_time: Option<String>,
    /// The generation this condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl KafkaPolicyStatus {
    /// The condition of `type_`, if any.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// The CustomResourceDefinition of [`KafkaPolicy`] as YAML, exactly as committed under
/// `deploy/crds/` and the Helm chart's `crds/`.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    let body = serde_yaml::to_string(&KafkaPolicy::crd())?;
    Ok(format!(
        "# Generated by `meshka crd` from webhook/src/crd.rs; do not edit.\n# Regenerate: cargo run -p meshka-webhook -- crd > deploy/crds/kafkapolicies.meshka.io.yaml\n---\n{body}"
    ))
}

#[cfg(test)]
mod tests;
