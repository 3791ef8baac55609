//! Envoy's connection buffers as a [`Source`] for the codec.

use meshka_codec::edit::HEAD_READ;
use meshka_codec::Source;
use proxy_wasm::hostcalls;
use proxy_wasm::types::BufferType;

/// Buffers up to this size are fetched whole, once: one host call is cheaper than several
/// small ones, and nothing large is copied.
const WHOLE_BUFFER: usize = 4096;

/// The bytes that arrived in one callback, read from Envoy on demand.
pub struct HostSource {
    buffer: BufferType,
    /// Where this callback's new bytes start in Envoy's buffer (after bytes held back earlier).
    base: usize,
    len: usize,
    /// Bytes fetched earlier, and where they start: the whole buffer when it is small, else the
    /// last short read's window (a frame's prefix and first head bytes come in one host call).
    cache: Option<(usize, Vec<u8>)>,
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

    /// Serves `start..start + len` from the cache, when it holds those bytes.
    fn cached(&self, start: usize, len: usize, out: &mut Vec<u8>) -> bool {
        let Some((at, bytes)) = &self.cache else {
            return false;
        };
        let Some(from) = start.checked_sub(*at) else {
            return false;
        };
        match from.checked_add(len).and_then(|end| bytes.get(from..end)) {
            Some(b) => {
                out.extend_from_slice(b);
                true
            }
            None => false,
        }
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
        if len == 0 || self.cached(start, len, out) {
            return true;
        }
        let window = if self.len <= WHOLE_BUFFER {
            Some((0, self.len))
        } else if len < HEAD_READ {
            // A frame's first read (its prefix) is followed by the read of its head: fetch both.
            Some((start, HEAD_READ.min(self.len - start)))
        } else {
            None
        };
        if let Some((at, n)) = window {
            if let Some(bytes) = self.fetch(at, n) {
                self.cache = Some((at, bytes));
                return self.cached(start, len, out);
            }
            return false;
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
