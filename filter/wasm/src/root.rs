//! The plugin's root context: parses the configuration and creates one context per connection.

use std::rc::Rc;
use std::time::Duration;

use log::{error, info};
use meshka_policy::authz::{Action as AuthzAction, AuthorizationPolicy};
use meshka_policy::config::FilterConfig;
use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::ContextType;

use crate::active;
use crate::connection::Connection;
use crate::metrics;
use crate::mute;

#[derive(Default)]
pub struct Root {
    /// The last valid configuration; `None` until `on_configure` accepted one.
    config: Option<Rc<FilterConfig>>,
    /// The plugin's name (Istio: the WasmPlugin's namespace and name); its configuration updates
    /// keep it.
    name: Rc<str>,
}

/// How often held (throttled) connections are checked; their throttle time is exact to this.
const TICK_MS: u64 = 10;
/// Without quotas the tick only sends the VM's batched counters to Envoy (see `metrics`).
const METRICS_TICK_MS: u64 = 1000;

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = match proxy_wasm::hostcalls::get_buffer(
            proxy_wasm::types::BufferType::PluginConfiguration,
            0,
            usize::MAX,
        ) {
            Ok(bytes) => bytes.unwrap_or_default(),
            Err(status) => {
                error!("meshka: cannot read the plugin configuration: {status:?}");
                return false;
            }
        };
        match FilterConfig::from_json(&bytes) {
            Ok(config) => {
                let routing = match config.compile_routing() {
                    Ok(routing) => routing,
                    Err(e) => {
                        error!("meshka: rejected configuration: {e}");
                        return false;
                    }
                };
                let authorization = match (&config.authorization, &routing) {
                    (Some(a), _) => Some(a.clone()),
                    (None, Some(_)) => Some(AuthorizationPolicy {
                        default_action: AuthzAction::Allow,
                        ..AuthorizationPolicy::default()
                    }),
                    (None, None) => None,
                };
                let policy = match authorization.as_ref().map(|a| a.compile()).transpose() {
                    Ok(policy) => policy,
                    Err(e) => {
                        error!("meshka: rejected configuration: {e}");
                        return false;
                    }
                };
                self.name = proxy_wasm::hostcalls::get_property(vec!["plugin_name"])
                    .ok()
                    .flatten()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_default()
                    .into();
                // Throttled connections are resumed from the tick (see `mute`); it also sends the
                // batched counters to Envoy.
                let quotas = routing.as_ref().is_some_and(|r| r.quotas().is_some());
                let tick = if quotas {
                    Duration::from_millis(TICK_MS)
                } else {
                    Duration::from_millis(METRICS_TICK_MS)
                };
                if proxy_wasm::hostcalls::set_tick_period(tick).is_err() {
                    error!("meshka: cannot set the tick that resumes throttled connections");
                    return false;
                }
                let generation = active::publish(&self.name, config.clone(), policy, routing);
                info!(
                    "meshka: configured: plugin={} generation={generation} maxFrameBytes={} maxHeaderBytes={} maxInFlight={} maxHoldBytes={} failureMode={:?} authorization={} routing={}",
                    self.name,
                    config.max_frame_bytes,
                    config.max_header_bytes,
                    config.max_in_flight,
                    config.max_hold_bytes,
                    config.failure_mode,
                    config.authorization.as_ref().map_or_else(
                        || "off".to_string(),
                        |a| format!("{:?} with {} rules", a.mode, a.rules.len())
                    ),
                    config.routing.as_ref().map_or_else(
                        || "off".to_string(),
                        |r| format!(
                            "{} tenants, brokerAddress={}, {} quotas",
                            r.tenants.len(),
                            r.broker_address.as_deref().unwrap_or("unchanged"),
                            r.quotas.len()
                        )
                    )
                );
                self.config = Some(Rc::new(config));
                true
            }
            Err(e) => {
                error!("meshka: rejected configuration: {e}");
                false
            }
        }
    }

    fn on_tick(&mut self) {
        metrics::flush();
        if mute::any_held() {
            let now_ms = crate::connection::now_ns() / 1_000_000;
            // Connections due before the next tick go now: waiting for that tick would hold
            // each one half a tick too long on average, and a throttled producer's cycles are
            // short (16 KB at 256 KB/s is 62 ms).
            mute::resume_due(now_ms + TICK_MS / 2);
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }

    fn create_stream_context(&self, context_id: u32) -> Option<Box<dyn StreamContext>> {
        // Envoy does not create streams for a plugin whose configuration was rejected; the
        // default configuration is the safe fallback should it ever do so.
        let config = self.config.clone().unwrap_or_default();
        Some(Box::new(Connection::new(
            context_id,
            config,
            self.name.clone(),
        )))
    }
}
