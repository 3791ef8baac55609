//! Where the codec reads bytes from: a slice natively, Envoy's buffer in the Wasm filter.

/// A read-only view of the bytes that arrived in one callback. Reading by range lets the Wasm
/// layer copy into the VM only the bytes a decision needs, not the record batches that follow.
pub trait Source {
    /// Number of bytes available.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends bytes `start..start + len` to `out`; `false` if the host could not provide them.
    fn read_into(&mut self, start: usize, len: usize, out: &mut Vec<u8>) -> bool;
}

impl Source for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn read_into(&mut self, start: usize, len: usize, out: &mut Vec<u8>) -> bool {
        let Some(end) = start.checked_add(len) else {
            return false;
        };
        match self.get(start..end) {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}
