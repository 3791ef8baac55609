//! Envoy's connection buffers as a [`Source`] for the codec.

use meshka_codec::Source;
use proxy_wasm::hostcalls;
use proxy_wasm::types::BufferType;

/// Reads below this size fetch the whole buffer once: one host call is cheaper than several
/// small ones, and nothing large is copied.
const WHOLE_BUFFER: usize = 4096;

/// The bytes that arrived in one callback, read from Envoy on demand.
pub struct HostSource {
    buffer: BufferType,
    /// Where this callback's new bytes start in Envoy's buffer (after bytes held back earlier).
    base: usize,
    len: usize,
    cache: Option<Vec<u8>>,
    /// Bytes copied from Envoy into the VM.
    pub copied: usize,
}

impl HostSource {
    /// The `len` bytes of `buffer` from `base` on.
    pub fn new(buffer: BufferType, base: usize, len: usize) -> Self {
        HostSource {
            buffer,
            base,
            len,
            cache: None,
            copied: 0,
        }
    }

    fn fetch(&mut self, start: usize, len: usize) -> Option<Vec<u8>> {
        // `start + len <= self.len` is checked by the caller, so Envoy answers Ok; the SDK
        // panics on any other status.
        let bytes =
            hostcalls::get_buffer(self.buffer, self.base.checked_add(start)?, len).ok()??;
        self.copied += bytes.len();
        Some(bytes)
    }
}

impl Source for HostSource {
    fn len(&self) -> usize {
        self.len
    }

    fn read_into(&mut self, start: usize, len: usize, out: &mut Vec<u8>) -> bool {
        if start.checked_add(len).is_none_or(|end| end > self.len) {
            return false;
        }
        if len == 0 {
            return true;
        }
        if self.cache.is_none() && self.len <= WHOLE_BUFFER {
            self.cache = self.fetch(0, self.len);
        }
        if let Some(cache) = &self.cache {
            let mut cached: &[u8] = cache;
            return cached.read_into(start, len, out);
        }
        match self.fetch(start, len) {
            Some(bytes) if bytes.len() == len => {
                out.extend_from_slice(&bytes);
                true
            }
            _ => false,
        }
    }
}
