//! The filter's configuration: the JSON Istio puts in `WasmPlugin.spec.pluginConfig`.

use serde::{Deserialize, Serialize};

use crate::authz::{AuthorizationPolicy, ValidationErrors};
use crate::route::{CompiledRouting, RoutingConfig};

/// The whole plugin configuration. Every field has a safe default, so `{}` is a valid
/// pass-through configuration; unknown fields are rejected so a typo never silently weakens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FilterConfig {
    /// Largest Kafka frame accepted in either direction, in bytes (Kafka's own
    /// `socket.request.max.bytes` defaults to 100 MiB). A larger length closes the connection.
    pub max_frame_bytes: u32,
    /// Most bytes of a frame's start the filter keeps to decode its header (client ids can be up
    /// to 32 KiB long). Never more than the frame itself.
    pub max_header_bytes: u32,
    /// Most requests a connection may have waiting for responses.
    pub max_in_flight: u32,
    /// Largest frame the filter reads whole to decide or rewrite it (requests when authorization
    /// is on, and the responses it rewrites). A larger one closes the connection; raise this if
    /// producers send larger batches (librdkafka's default `message.max.bytes` is 1 MB).
    pub max_hold_bytes: u32,
    /// What happens to a connection whose bytes cannot be decoded: `closed` closes it, `open`
    /// stops inspecting it and lets it pass (counted and logged either way).
    pub failure_mode: FailureMode,
    /// Log one line per connection at open (with the peer's identity) and close.
    pub log_connections: bool,
    /// Every denial is logged as one JSON line; also log every Nth allowed request (0: none).
    pub log_allowed_every: u32,
    /// A denied Produce with `acks=0` cannot be answered: it is dropped and counted (`false`,
    /// the default), or the connection is closed, as Kafka's broker does (`true`).
    pub close_on_denied_acks_zero: bool,
    /// Most distinct topics that get their own per-topic metrics; the rest are counted under
    /// the topic `_other`, so a client cannot blow up the proxy's stats.
    pub max_topic_metrics: u32,
    /// Per-topic authorization (see AUTHORIZATION.md). Validated here; the filter refuses a
    /// configuration with rules it does not enforce yet rather than pass traffic it should deny.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<AuthorizationPolicy>,
    /// Topic virtualization, tenants, broker address rewriting and quotas (see the filter's
    /// README, "Routing"). Authorization rules name the broker's topics, after routing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingConfig>,
}

/// Fail closed (the default) or open on traffic the filter cannot decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum FailureMode {
    #[default]
    Closed,
    Open,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            max_frame_bytes: 100 * 1024 * 1024,
            max_header_bytes: 32 * 1024 + 64,
            max_in_flight: 10_000,
            max_hold_bytes: 16 * 1024 * 1024,
            failure_mode: FailureMode::Closed,
            log_connections: true,
            log_allowed_every: 0,
            close_on_denied_acks_zero: false,
            max_topic_metrics: 100,
            authorization: None,
            routing: None,
        }
    }
}

/// A configuration the filter refuses, naming the field and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("plugin configuration is not valid JSON for meshka: {path}: {message}")]
    Parse { path: String, message: String },
    #[error("plugin configuration: {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("plugin configuration: {0}")]
    Authorization(#[source] ValidationErrors),
    #[error("plugin configuration: {0}")]
    Routing(#[source] ValidationErrors),
}

impl FilterConfig {
    /// Parses and validates the plugin configuration. Empty input means all defaults.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(FilterConfig::default());
        }
        // serde would also read a struct from a JSON array, by position; only objects are meant.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ConfigError::Parse {
                path: "(top level)".to_string(),
                message: "expected a JSON object such as {\"maxFrameBytes\": 104857600}"
                    .to_string(),
            });
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let config: FilterConfig =
            serde_path_to_error::deserialize(&mut de).map_err(|e| ConfigError::Parse {
                path: match e.path().to_string() {
                    p if p == "." => "(top level)".to_string(),
                    p => p,
                },
                message: e.inner().to_string(),
            })?;
        de.end().map_err(|e| ConfigError::Parse {
            path: "(top level)".to_string(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks bounds the types cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_frame_bytes < 1024 || self.max_frame_bytes > i32::MAX as u32 {
            return Err(ConfigError::Invalid {
                field: "maxFrameBytes",
                reason: format!(
                    "{} is out of range: give 1024..={} bytes (Kafka's default is 104857600)",
                    self.max_frame_bytes,
                    i32::MAX
                ),
            });
        }
        if self.max_header_bytes < 64 {
            return Err(ConfigError::Invalid {
                field: "maxHeaderBytes",
                reason: format!(
                    "{} is too small to hold a Kafka request header: give at least 64 (default 32832)",
                    self.max_header_bytes
                ),
            });
        }
        if self.max_in_flight == 0 {
            return Err(ConfigError::Invalid {
                field: "maxInFlight",
                reason: "0 would refuse every request: give at least 1 (default 10000)".into(),
            });
        }
        if self.max_hold_bytes < 1024 {
            return Err(ConfigError::Invalid {
                field: "maxHoldBytes",
                reason: format!(
                    "{} is too small for Kafka requests: give at least 1024 (default 16777216)",
                    self.max_hold_bytes
                ),
            });
        }
        if let Some(authz) = &self.authorization {
            authz
                .validate_at("authorization")
                .map_err(ConfigError::Authorization)?;
        }
        self.compile_routing()?;
        Ok(())
    }

    /// The routing configuration compiled, `None` without one.
    pub fn compile_routing(&self) -> Result<Option<CompiledRouting>, ConfigError> {
        self.routing
            .as_ref()
            .map(|r| CompiledRouting::new(r, "routing"))
            .transpose()
            .map_err(ConfigError::Routing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_object_configs_default() {
        assert_eq!(
            FilterConfig::from_json(b"").unwrap(),
            FilterConfig::default()
        );
        assert_eq!(
            FilterConfig::from_json(b" {} ").unwrap(),
            FilterConfig::default()
        );
        let c =
            FilterConfig::from_json(br#"{"maxFrameBytes": 2048, "failureMode": "open"}"#).unwrap();
        assert_eq!(c.max_frame_bytes, 2048);
        assert_eq!(c.failure_mode, FailureMode::Open);
    }

    #[test]
    fn errors_name_the_field() {
        let e = FilterConfig::from_json(br#"{"maxFrameByte": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("maxFrameByte") && e.contains("unknown field"),
            "{e}"
        );
        let e = FilterConfig::from_json(br#"{"maxInFlight": "many"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("maxInFlight") && e.contains("invalid type"),
            "{e}"
        );
        let e = FilterConfig::from_json(br#"{"failureMode": "sometimes"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("failureMode"), "{e}");
        let e = FilterConfig::from_json(br#"{"maxFrameBytes": 10}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("maxFrameBytes") && e.contains("1024"), "{e}");
        let e = FilterConfig::from_json(br#"{"maxInFlight": 0}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("maxInFlight"), "{e}");
        let e = FilterConfig::from_json(br#"{} x"#).unwrap_err().to_string();
        assert!(e.contains("trailing"), "{e}");
        let e = FilterConfig::from_json(
            br#"{"authorization": {"rules": [{"action": "allow", "principals": ["*"], "operations": ["Read"], "resources": [{"type": "topic", "name": "", "patternType": "prefixed"}]}]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("authorization.rules[0].resources[0].name"),
            "{e}"
        );
        let e = FilterConfig::from_json(br#"[1]"#).unwrap_err().to_string();
        assert!(e.contains("(top level)"), "{e}");
    }
}
