//! Reading `KafkaPolicy` manifests (YAML or JSON, several documents) and checking a policy the
//! way the filter will load it. Every problem names its field, as `kubectl` would
//! (`spec.authorization.rules[0].operations`, `spec.routing.tenants[1].topicPrefix`), and says
//! what to write instead.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use meshka_policy::authz::{CompiledPolicy, ValidationErrors};
use meshka_policy::config::{ConfigError, FilterConfig};
use meshka_policy::route::CompiledRouting;
use serde::Deserialize;

use super::{render, KafkaPolicy, KafkaPolicySpec, API_VERSION};

/// One problem in a policy: the field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The field (`spec.ports[1]`), or `metadata.name`.
    pub path: String,
    /// What is wrong and what to write instead (without the path).
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a manifest or policy cannot be used. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not YAML/JSON.
    #[error("document {document}: not valid YAML or JSON: {message}")]
    Syntax {
        /// 1-based document number.
        document: usize,
        /// The parser's message.
        message: String,
    },
    /// A document that is not a KafkaPolicy.
    #[error("document {document}: apiVersion {api_version:?} kind {kind:?} is not a KafkaPolicy — write apiVersion: {API_VERSION} and kind: KafkaPolicy")]
    NotAKafkaPolicy {
        /// 1-based document number.
        document: usize,
        /// What the document says.
        api_version: String,
        /// What the document says.
        kind: String,
    },
    /// The input holds no document.
    #[error("no KafkaPolicy found: the input is empty")]
    Empty,
    /// Problems in one policy.
    #[error("{}", display_invalid(.policy, .problems))]
    Invalid {
        /// `namespace/name` or `name` of the policy (`(unnamed)` when missing).
        policy: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
    /// The filter image settings (controller or `meshka render` flags) are unusable.
    #[error("filter image: {message}")]
    Image {
        /// What is wrong and what to do.
        message: String,
    },
    /// Serializing a generated object failed (should not happen).
    #[error("could not serialize {what}: {message}")]
    Serialize {
        /// What was serialized.
        what: &'static str,
        /// The serializer's message.
        message: String,
    },
}

fn display_invalid(policy: &str, problems: &[Problem]) -> String {
    match problems {
        [one] => format!("KafkaPolicy {policy} is invalid: {one}"),
        many => {
            let mut s = format!("KafkaPolicy {policy} is invalid ({} problems):", many.len());
            for p in many {
                s.push_str("\n  ");
                s.push_str(&p.to_string());
            }
            s
        }
    }
}

impl Error {
    /// The problems of an [`Error::Invalid`] (empty for other errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// A policy that passed every check, with what the filter will be given.
#[derive(Debug)]
pub struct Checked {
    /// The decisions, exactly as the filter makes them.
    pub compiled: CompiledPolicy,
    /// The routing (tenants, broker address, quotas) as the filter compiles it; `None` without
    /// `spec.routing`.
    pub routing: Option<CompiledRouting>,
    /// The WasmPlugin's `pluginConfig`.
    pub plugin_config: serde_json::Value,
}

/// `namespace/name`, `name`, or `(unnamed)`.
pub fn display_name(meta: &ObjectMeta) -> String {
    match (&meta.namespace, &meta.name) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.clone(),
        _ => "(unnamed)".to_owned(),
    }
}

/// Reads every KafkaPolicy in `text` (YAML documents separated by `---`, or JSON). Empty
/// documents are skipped; any other kind is an error. Field errors name `spec.…` paths.
pub fn parse_manifests(text: &str) -> Result<Vec<KafkaPolicy>, Error> {
    let mut policies = Vec::new();
    for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let number = i + 1;
        let value = serde_yaml::Value::deserialize(document).map_err(|e| Error::Syntax {
            document: number,
            message: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        let json = serde_json::to_value(&value).map_err(|e| Error::Syntax {
            document: number,
            message: format!("{e} (YAML keys must be strings)"),
        })?;
        policies.push(parse_document(number, json)?);
    }
    if policies.is_empty() {
        return Err(Error::Empty);
    }
    Ok(policies)
}

/// Reads one KafkaPolicy object (already parsed as JSON).
pub fn parse_document(number: usize, json: serde_json::Value) -> Result<KafkaPolicy, Error> {
    let field = |name: &str| {
        json.get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    if api_version != API_VERSION || kind != "KafkaPolicy" {
        return Err(Error::NotAKafkaPolicy {
            document: number,
            api_version,
            kind,
        });
    }
    let metadata: ObjectMeta = match json.get("metadata") {
        Some(m) => serde_path_to_error::deserialize(m.clone()).map_err(|e| Error::Invalid {
            policy: "(unnamed)".into(),
            problems: vec![Problem {
                path: join_path("metadata", &e.path().to_string()),
                message: e.inner().to_string(),
            }],
        })?,
        None => ObjectMeta::default(),
    };
    let policy_name = display_name(&metadata);
    let spec_json = json.get("spec").cloned().ok_or_else(|| Error::Invalid {
        policy: policy_name.clone(),
        problems: vec![Problem {
            path: "spec".into(),
            message: "missing: a KafkaPolicy needs a spec with at least a selector".into(),
        }],
    })?;
    let spec: KafkaPolicySpec =
        serde_path_to_error::deserialize(spec_json).map_err(|e| Error::Invalid {
            policy: policy_name.clone(),
            problems: vec![Problem {
                path: join_path("spec", &e.path().to_string()),
                message: e.inner().to_string(),
            }],
        })?;
    let mut policy = KafkaPolicy::new("", spec);
    policy.metadata = metadata;
    Ok(policy)
}

fn join_path(base: &str, inner: &str) -> String {
    if inner.is_empty() || inner == "." {
        base.to_owned()
    } else if inner.starts_with('[') {
        format!("{base}{inner}")
    } else {
        format!("{base}.{inner}")
    }
}

/// Checks a policy as the controller, the validating webhook and the filter do, reporting
/// every problem; on success returns the compiled decisions and the `pluginConfig`.
pub fn check(policy: &KafkaPolicy) -> Result<Checked, Error> {
    let mut problems = Vec::new();
    check_metadata(&policy.metadata, &mut problems);
    let spec = &policy.spec;

    if spec.selector.match_labels.is_empty() {
        problems.push(Problem {
            path: "spec.selector.matchLabels".into(),
            message: "needs at least one label, e.g. meshka.io/kafka-role: broker (a policy never selects every pod)".into(),
        });
    }
    for (key, value) in &spec.selector.match_labels {
        let path = format!("spec.selector.matchLabels[{key:?}]");
        if key.is_empty() || key.contains('*') {
            problems.push(Problem {
                path: path.clone(),
                message:
                    "a label key must be non-empty and without '*' (Istio selects by exact labels)"
                        .into(),
            });
        }
        if value.len() > 63 || value.contains('*') {
            problems.push(Problem {
                path,
                message: format!("{value:?} is not a label value: at most 63 characters, no '*'"),
            });
        }
    }

    if spec.ports.is_empty() {
        problems.push(Problem {
            path: "spec.ports".into(),
            message: format!("needs at least one port, e.g. [{}]", super::DEFAULT_PORT),
        });
    }
    for (i, port) in spec.ports.iter().enumerate() {
        if *port == 0 {
            problems.push(Problem {
                path: format!("spec.ports[{i}]"),
                message:
                    "0 is not a port: give the broker's client listener port (1..65535), e.g. 9092"
                        .into(),
            });
        } else if spec
            .ports
            .get(..i)
            .is_some_and(|before| before.contains(port))
        {
            problems.push(Problem {
                path: format!("spec.ports[{i}]"),
                message: format!("port {port} is listed twice: list each port once"),
            });
        }
    }

    let compiled = match spec.authorization.validate_at("spec.authorization") {
        Ok(()) => spec.authorization.compile().ok(),
        Err(errors) => {
            push_validation_errors(&errors, &mut problems);
            None
        }
    };
    let routing = match spec
        .routing
        .as_ref()
        .map(|r| CompiledRouting::new(r, "spec.routing"))
    {
        None => Some(None),
        Some(Ok(routing)) => Some(Some(routing)),
        Some(Err(errors)) => {
            push_validation_errors(&errors, &mut problems);
            None
        }
    };

    // The filter's own loader reads the exact pluginConfig the WasmPlugin will carry.
    let plugin_config = render::plugin_config(spec)?;
    let filter_json = serde_json::to_vec(&plugin_config).map_err(|e| Error::Serialize {
        what: "the plugin configuration",
        message: e.to_string(),
    })?;
    match FilterConfig::from_json(&filter_json) {
        Ok(_) => {}
        // Already reported above with spec.authorization and spec.routing paths.
        Err(ConfigError::Authorization(_)) if compiled.is_none() => {}
        Err(ConfigError::Routing(_)) if routing.is_none() => {}
        Err(ConfigError::Authorization(errors)) => problems.push(Problem {
            path: "spec.authorization".into(),
            message: errors.to_string(),
        }),
        Err(ConfigError::Routing(errors)) => problems.push(Problem {
            path: "spec.routing".into(),
            message: errors.to_string(),
        }),
        Err(ConfigError::Invalid { field, reason }) => problems.push(Problem {
            path: limit_path(field),
            message: reason,
        }),
        Err(ConfigError::Parse { path, message }) => problems.push(Problem {
            path: limit_path(&path),
            message,
        }),
    }

    match (compiled, routing) {
        (Some(compiled), Some(routing)) if problems.is_empty() => Ok(Checked {
            compiled,
            routing,
            plugin_config,
        }),
        _ => Err(Error::Invalid {
            policy: display_name(&policy.metadata),
            problems,
        }),
    }
}

/// Each error of a policy part validated at its `spec.…` path, as a [`Problem`].
fn push_validation_errors(errors: &ValidationErrors, problems: &mut Vec<Problem>) {
    for e in errors.errors() {
        let full = e.to_string();
        let path = e.path().to_owned();
        let message = full
            .strip_prefix(&format!("{path}: "))
            .map(str::to_owned)
            .unwrap_or(full);
        problems.push(Problem { path, message });
    }
}

fn limit_path(field: &str) -> String {
    match field {
        "failureMode" => "spec.failStrategy".into(),
        other if other.starts_with("authorization") || other.starts_with("routing") => {
            format!("spec.{other}")
        }
        other => format!("spec.limits.{other}"),
    }
}

/// The longest policy name: the WasmPlugin is named `meshka-<name>` (at most 253 characters).
pub const MAX_NAME_LEN: usize = 253 - render::WASM_PLUGIN_PREFIX.len();

fn check_metadata(meta: &ObjectMeta, problems: &mut Vec<Problem>) {
    match meta.name.as_deref() {
        None | Some("") => problems.push(Problem {
            path: "metadata.name".into(),
            message: "missing: give the policy a name".into(),
        }),
        Some(name) => {
            if !is_dns_subdomain(name) || name.len() > MAX_NAME_LEN {
                problems.push(Problem {
                    path: "metadata.name".into(),
                    message: format!(
                        "{name:?} is not usable: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most {MAX_NAME_LEN} characters (the WasmPlugin is named {}<name>)",
                        render::WASM_PLUGIN_PREFIX
                    ),
                });
            }
        }
    }
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Whether `a` and `b` can select the same pod and port: the same namespace, label selectors
/// that do not contradict each other (no label required with two different values), and a
/// common port. Each policy is its own filter in the chain, so a request to such a pod must
/// be allowed by both.
pub fn overlaps(a: &KafkaPolicy, b: &KafkaPolicy) -> bool {
    let same_namespace = a.metadata.namespace == b.metadata.namespace;
    let compatible = a
        .spec
        .selector
        .match_labels
        .iter()
        .all(|(k, v)| b.spec.selector.match_labels.get(k).is_none_or(|w| w == v));
    let common_port = a.spec.ports.iter().any(|p| b.spec.ports.contains(p));
    same_namespace && compatible && common_port
}

/// `namespace/name` of every policy in `others` (other than `policy` itself) that
/// [`overlaps`] it, sorted.
pub fn overlapping<'a>(
    policy: &KafkaPolicy,
    others: impl IntoIterator<Item = &'a KafkaPolicy>,
) -> Vec<String> {
    let mut names: Vec<String> = others
        .into_iter()
        .filter(|o| {
            !(o.metadata.name == policy.metadata.name
                && o.metadata.namespace == policy.metadata.namespace)
        })
        .filter(|o| overlaps(policy, o))
        .map(|o| display_name(&o.metadata))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The explanation of an overlap, for conditions, Events and `meshka validate`.
pub fn overlap_message(names: &[String]) -> String {
    format!(
        "also selected, on a common port, by {}: each KafkaPolicy is its own filter, so a request must be allowed by every one of them (with defaultAction deny, each denies what only the other allows), and with spec.routing a filter sees the names another already rewrote; merge them into one policy, or make their selectors or ports disjoint",
        names.join(", ")
    )
}
