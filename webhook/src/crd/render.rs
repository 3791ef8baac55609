//! From a checked [`KafkaPolicy`] to what Istio loads: the filter's `pluginConfig` and the
//! `WasmPlugin` (`type: NETWORK`, `phase: AUTHZ`, `match` SERVER on the policy's ports) that the
//! controller applies and `meshka render` prints.

use std::collections::BTreeMap;

use kube::{Resource, ResourceExt};
use serde_json::{json, Map, Value};

use super::validate::{check, Error};
use super::{KafkaPolicy, KafkaPolicySpec};

/// `apiVersion` of Istio's WasmPlugin.
pub const WASM_PLUGIN_API_VERSION: &str = "extensions.istio.io/v1alpha1";
/// Prefix of the WasmPlugin's name: `meshka-<policy name>`.
pub const WASM_PLUGIN_PREFIX: &str = "meshka-";
/// Label carrying the owning policy's name on a WasmPlugin.
pub const POLICY_LABEL: &str = "meshka.io/policy";
/// `app.kubernetes.io/managed-by` value on everything the controller writes.
pub const MANAGED_BY: &str = "meshka";

/// Where the sidecars fetch the filter from: the controller's configuration (Helm values
/// `filter.image`, `filter.sha256`) or `meshka render` flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterImage {
    /// `oci://registry/repo:tag` (or `@sha256:…`), `https://…/meshka_filter.wasm`, or `file://…`.
    pub url: String,
    /// The image's manifest digest (for `oci://`) or the module's SHA-256 (for `http(s)://`),
    /// 64 lowercase hex digits; `make oci` prints both.
    pub sha256: Option<String>,
    /// `IfNotPresent` or `Always`; Istio's default when absent.
    pub pull_policy: Option<String>,
    /// A Secret in the policy's namespace with registry credentials.
    pub pull_secret: Option<String>,
}

impl Default for FilterImage {
    fn default() -> Self {
        FilterImage {
            url: format!(
                "oci://ghcr.io/meshka/meshka-filter:{}",
                env!("CARGO_PKG_VERSION")
            ),
            sha256: None,
            pull_policy: None,
            pull_secret: None,
        }
    }
}

impl FilterImage {
    /// Checks the settings the way Istio's WasmPlugin schema will.
    pub fn validate(&self) -> Result<(), Error> {
        let scheme_ok = ["oci://", "https://", "http://", "file://"]
            .iter()
            .any(|s| self.url.starts_with(s) && self.url.len() > s.len());
        if !scheme_ok {
            return Err(Error::Image {
                message: format!(
                    "url {:?} must start with oci://, https://, http:// or file:// (e.g. oci://ghcr.io/meshka/meshka-filter:0.1.0)",
                    self.url
                ),
            });
        }
        if let Some(sha) = &self.sha256 {
            if sha.len() != 64
                || !sha
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(Error::Image {
                    message: format!("sha256 {sha:?} must be 64 lowercase hex digits without a 'sha256:' prefix (make oci prints it)"),
                });
            }
        }
        if let Some(policy) = &self.pull_policy {
            if policy != "IfNotPresent" && policy != "Always" {
                return Err(Error::Image {
                    message: format!("pull policy {policy:?} must be IfNotPresent or Always"),
                });
            }
        }
        Ok(())
    }
}

/// The filter's plugin configuration for `spec`: `failureMode` from `failStrategy`, the limits
/// that are set, `authorization`, and `routing` when given (the filter's `FilterConfig` JSON).
pub fn plugin_config(spec: &KafkaPolicySpec) -> Result<Value, Error> {
    let mut config = Map::new();
    if let Some(limits) = &spec.limits {
        if let Some(v) = limits.max_frame_bytes {
            config.insert("maxFrameBytes".into(), v.into());
        }
        if let Some(v) = limits.max_header_bytes {
            config.insert("maxHeaderBytes".into(), v.into());
        }
        if let Some(v) = limits.max_in_flight {
            config.insert("maxInFlight".into(), v.into());
        }
        if let Some(v) = limits.max_hold_bytes {
            config.insert("maxHoldBytes".into(), v.into());
        }
        if let Some(v) = limits.log_connections {
            config.insert("logConnections".into(), v.into());
        }
        if let Some(v) = limits.log_allowed_every {
            config.insert("logAllowedEvery".into(), v.into());
        }
        if let Some(v) = limits.close_on_denied_acks_zero {
            config.insert("closeOnDeniedAcksZero".into(), v.into());
        }
        if let Some(v) = limits.max_topic_metrics {
            config.insert("maxTopicMetrics".into(), v.into());
        }
    }
    config.insert(
        "failureMode".into(),
        spec.fail_strategy.as_failure_mode().into(),
    );
    let to_value = |what: &'static str, value: Result<Value, serde_json::Error>| {
        value.map_err(|e| Error::Serialize {
            what,
            message: e.to_string(),
        })
    };
    config.insert(
        "authorization".into(),
        to_value(
            "spec.authorization",
            serde_json::to_value(&spec.authorization),
        )?,
    );
    if let Some(routing) = &spec.routing {
        config.insert(
            "routing".into(),
            to_value("spec.routing", serde_json::to_value(routing))?,
        );
    }
    Ok(Value::Object(config))
}

/// The WasmPlugin's name for a policy.
pub fn wasm_plugin_name(policy_name: &str) -> String {
    format!("{WASM_PLUGIN_PREFIX}{policy_name}")
}

/// The WasmPlugin for `policy` after [`check`]ing it. It carries an owner reference to the
/// policy when the policy has a `uid` (it came from the cluster), so deleting the policy
/// deletes the WasmPlugin. Without a namespace (a local file) the output has none either.
pub fn wasm_plugin(policy: &KafkaPolicy, image: &FilterImage) -> Result<Value, Error> {
    let checked = check(policy)?;
    image.validate()?;
    let name = policy.name_any();
    let mut labels = BTreeMap::new();
    labels.insert("app.kubernetes.io/managed-by", MANAGED_BY.to_owned());
    labels.insert("app.kubernetes.io/name", "meshka-filter".to_owned());
    labels.insert(POLICY_LABEL, name.clone());

    let mut metadata = Map::new();
    metadata.insert("name".into(), wasm_plugin_name(&name).into());
    if let Some(ns) = &policy.metadata.namespace {
        metadata.insert("namespace".into(), ns.clone().into());
    }
    metadata.insert("labels".into(), json!(labels));
    if let Some(owner) = policy.controller_owner_ref(&()) {
        metadata.insert(
            "ownerReferences".into(),
            json!([{
                "apiVersion": owner.api_version,
                "kind": owner.kind,
                "name": owner.name,
                "uid": owner.uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }]),
        );
    }

    let ports: Vec<Value> = policy
        .spec
        .ports
        .iter()
        .map(|p| json!({ "number": p }))
        .collect();
    let mut spec = Map::new();
    spec.insert(
        "selector".into(),
        json!({ "matchLabels": policy.spec.selector.match_labels }),
    );
    spec.insert("url".into(), image.url.clone().into());
    if let Some(sha) = &image.sha256 {
        spec.insert("sha256".into(), sha.clone().into());
    }
    if let Some(p) = &image.pull_policy {
        spec.insert("imagePullPolicy".into(), p.clone().into());
    }
    if let Some(s) = &image.pull_secret {
        spec.insert("imagePullSecret".into(), s.clone().into());
    }
    spec.insert("type".into(), "NETWORK".into());
    spec.insert("phase".into(), "AUTHZ".into());
    spec.insert(
        "failStrategy".into(),
        policy.spec.fail_strategy.as_istio().into(),
    );
    spec.insert(
        "match".into(),
        json!([{ "mode": "SERVER", "ports": ports }]),
    );
    spec.insert("pluginConfig".into(), checked.plugin_config);

    Ok(json!({
        "apiVersion": WASM_PLUGIN_API_VERSION,
        "kind": "WasmPlugin",
        "metadata": metadata,
        "spec": spec,
    }))
}
