//! Kafka wire framing and request/response header decoding for meshka's filter.
//!
//! Everything here is plain Rust with no I/O so it builds and tests natively and is fuzzed; the
//! Wasm layer feeds it bytes it reads from Envoy's buffers. Parsers are incremental and total:
//! any prefix of a valid frame yields "need more", any input yields a value or an error, never a
//! panic.

pub mod api;
pub mod edit;
pub mod error;
pub mod head;
pub mod inflight;
pub mod reader;
pub mod session;
pub mod source;

pub use edit::Output;
pub use error::Error;
pub use session::{Hooks, Limits, RequestEvent, ResponseEvent, Session, Verdict};
pub use source::Source;
