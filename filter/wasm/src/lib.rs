//! meshka's proxy-wasm network filter: the thin layer between Envoy and the host-independent
//! Kafka logic in `meshka-codec` and `meshka-policy`.
//!
//! Everything here is host glue: reading and writing Envoy's buffers, properties, metrics and
//! logs. Host callbacks never panic; a failure is logged, counted and turned into a decision.

mod active;
mod buckets;
mod connection;
mod host_source;
mod metrics;
mod mute;
mod root;
mod topic_ids;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(root::Root::default())
    });
}}
