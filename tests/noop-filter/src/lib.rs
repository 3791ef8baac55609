//! A proxy-wasm network filter that does nothing: every callback is the SDK's default
//! (`Continue`) and no byte is read into the VM. `make bench` runs it in the broker sidecar to
//! measure what any Wasm network filter costs Envoy, against `tcp_proxy` alone and meshka.

use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::{ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root) });
}}

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }

    fn create_stream_context(&self, _context_id: u32) -> Option<Box<dyn StreamContext>> {
        Some(Box::new(Noop))
    }
}

struct Noop;

impl Context for Noop {}

impl StreamContext for Noop {}
