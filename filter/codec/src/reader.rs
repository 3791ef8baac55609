//! A cursor over a byte slice whose reads are total: short input is `None`, never a panic.

/// Reads Kafka primitive types from the front of a slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub fn i16(&mut self) -> Option<i16> {
        self.array().map(i16::from_be_bytes)
    }

    pub fn i32(&mut self) -> Option<i32> {
        self.array().map(i32::from_be_bytes)
    }

    /// An unsigned LEB128 varint of at most 5 bytes (Kafka's `UNSIGNED_VARINT`).
    /// `Some(Err(()))` when the encoding is longer than a u32 allows.
    pub fn uvarint(&mut self) -> Option<Result<u32, ()>> {
        let mut value: u32 = 0;
        for i in 0..5u32 {
            let byte = *self.take(1)?.first()?;
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if i == 4 && byte > 0x0f {
                    return Some(Err(()));
                }
                return Some(Ok(value));
            }
        }
        Some(Err(()))
    }
}

/// What reading a field found: a value, not enough bytes yet, or bytes that cannot be valid.
pub enum Field<T> {
    Value(T),
    Incomplete,
    Invalid(&'static str),
}

impl<'a> Reader<'a> {
    /// `NULLABLE_STRING` (i16 length, -1 for null) or `COMPACT_NULLABLE_STRING` (uvarint length+1).
    pub fn nullable_string(
        &mut self,
        compact: bool,
        what: &'static str,
    ) -> Field<Option<&'a [u8]>> {
        let len: i64 = if compact {
            match self.uvarint() {
                None => return Field::Incomplete,
                Some(Err(())) => return Field::Invalid(what),
                Some(Ok(n)) => i64::from(n) - 1,
            }
        } else {
            match self.i16() {
                None => return Field::Incomplete,
                Some(n) => i64::from(n),
            }
        };
        if len == -1 {
            return Field::Value(None);
        }
        let Ok(len) = usize::try_from(len) else {
            return Field::Invalid(what);
        };
        match self.take(len) {
            Some(bytes) => Field::Value(Some(bytes)),
            None => Field::Incomplete,
        }
    }

    /// Skips a tagged-field section (uvarint count, then tag, size, bytes per field).
    pub fn skip_tagged_fields(&mut self, what: &'static str) -> Field<()> {
        let count = match self.uvarint() {
            None => return Field::Incomplete,
            Some(Err(())) => return Field::Invalid(what),
            Some(Ok(n)) => n,
        };
        for _ in 0..count {
            match self.uvarint() {
                None => return Field::Incomplete,
                Some(Err(())) => return Field::Invalid(what),
                Some(Ok(_tag)) => {}
            }
            let size = match self.uvarint() {
                None => return Field::Incomplete,
                Some(Err(())) => return Field::Invalid(what),
                Some(Ok(n)) => n,
            };
            let Ok(size) = usize::try_from(size) else {
                return Field::Invalid(what);
            };
            if self.take(size).is_none() {
                return Field::Incomplete;
            }
        }
        Field::Value(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_decodes_and_rejects_overlong() {
        assert_eq!(Reader::new(&[0x00]).uvarint(), Some(Ok(0)));
        assert_eq!(Reader::new(&[0x96, 0x01]).uvarint(), Some(Ok(150)));
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]).uvarint(),
            Some(Ok(u32::MAX))
        );
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]).uvarint(),
            Some(Err(()))
        );
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).uvarint(),
            Some(Err(()))
        );
        assert_eq!(Reader::new(&[0x80]).uvarint(), None);
    }

    #[test]
    fn strings_are_total() {
        assert!(matches!(
            Reader::new(&[0xff, 0xff]).nullable_string(false, "s"),
            Field::Value(None)
        ));
        assert!(matches!(
            Reader::new(&[0x00, 0x02, b'a']).nullable_string(false, "s"),
            Field::Incomplete
        ));
        assert!(matches!(
            Reader::new(&[0xff, 0xfe]).nullable_string(false, "s"),
            Field::Invalid(_)
        ));
        assert!(matches!(
            Reader::new(&[0x00]).nullable_string(true, "s"),
            Field::Value(None)
        ));
        assert!(matches!(
            Reader::new(&[0x03, b'a', b'b']).nullable_string(true, "s"),
            Field::Value(Some(b"ab"))
        ));
    }
}
