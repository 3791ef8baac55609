//! The plugin's root context: parses the configuration and creates one context per connection.

use std::rc::Rc;

use log::{error, info};
use meshka_policy::config::FilterConfig;
use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::ContextType;

use crate::connection::Connection;

#[derive(Default)]
pub struct Root {
    /// The last valid configuration; `None` until `on_configure` accepted one.
    config: Option<Rc<FilterConfig>>,
}

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
            Ok(config) if config.authorization.is_some() => {
                // Accepting rules without enforcing them would let through what they deny.
                error!(
                    "meshka: rejected configuration: authorization: this filter build does not enforce authorization rules yet; remove the authorization section or deploy a filter that enforces it"
                );
                false
            }
            Ok(config) => {
                info!(
                    "meshka: configured: maxFrameBytes={} maxHeaderBytes={} maxInFlight={} failureMode={:?}",
                    config.max_frame_bytes, config.max_header_bytes, config.max_in_flight, config.failure_mode
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

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }

    fn create_stream_context(&self, context_id: u32) -> Option<Box<dyn StreamContext>> {
        // Envoy does not create streams for a plugin whose configuration was rejected; the
        // default configuration is the safe fallback should it ever do so.
        let config = self.config.clone().unwrap_or_default();
        Some(Box::new(Connection::new(context_id, config)))
    }
}
