//! The proxy-wasm network filter: host glue only.
