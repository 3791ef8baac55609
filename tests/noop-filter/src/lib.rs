//! A proxy-wasm network filter that does nothing: every callback is the SDK's default
//! (`Continue`) and no byte is read into the VM. `make bench` runs it in the broker sidecar to
//! measure what any Wasm network filter costs Envoy, against `tcp_proxy` alone and meshka.
//!
//! With the plugin configuration `{"mode":"read"}` it also reads each callback's bytes (at most
//! 4 KiB, as meshka reads a small buffer) into the VM and drops them: the cost of the one host
//! read per callback that any filter looking at the bytes pays.

use std::cell::Cell;
use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { read: Rc::new(Cell::new(false)) }) });
}}

/// The largest read per callback in `read` mode.
const READ_AT_MOST: usize = 4096;

struct Root {
    read: Rc<Cell<bool>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        self.read.set(config.as_slice() == br#"{"mode":"read"}"#);
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }

    fn create_stream_context(&self, _context_id: u32) -> Option<Box<dyn StreamContext>> {
        if self.read.get() {
            Some(Box::new(Reader))
        } else {
            Some(Box::new(Noop))
        }
    }
}

struct Noop;

impl Context for Noop {}

impl StreamContext for Noop {}

struct Reader;

impl Reader {
    fn read(buffer: BufferType, size: usize) -> Action {
        if size > 0 {
            let bytes = hostcalls::get_buffer(buffer, 0, size.min(READ_AT_MOST));
            std::hint::black_box(bytes.ok());
        }
        Action::Continue
    }
}

impl Context for Reader {}

impl StreamContext for Reader {
    fn on_downstream_data(&mut self, size: usize, _end_of_stream: bool) -> Action {
        Self::read(BufferType::DownstreamData, size)
    }

    fn on_upstream_data(&mut self, size: usize, _end_of_stream: bool) -> Action {
        Self::read(BufferType::UpstreamData, size)
    }
}
