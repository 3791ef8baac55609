//! Changing a message where it sits: names replaced, array elements removed, a nullable struct
//! made null — every other byte kept as it came. The positions come from the tables' tree
//! (`guard::Node`); a rewrite never re-encodes what it does not change.

use super::guard::{Element, Node};
use super::KafkaError;

/// How a length or count is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    Int16,
    Int32,
    /// An unsigned varint of the length + 1 (compact strings and arrays).
    Varint,
}

/// Where a string or an array's count sits: `start..end`, written as `width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) width: Width,
}

/// Replacements of byte ranges of one message.
#[derive(Debug, Default)]
pub(crate) struct Edits {
    edits: Vec<(usize, usize, Vec<u8>)>,
    /// A replacement that cannot be written (a string longer than its length field holds).
    unwritable: bool,
}

impl Edits {
    pub(crate) fn is_empty(&self) -> bool {
        self.edits.is_empty() && !self.unwritable
    }

    /// The string at `span` becomes `text`.
    pub(crate) fn rename(&mut self, span: Span, text: &str) {
        let mut out = Vec::with_capacity(text.len() + 2);
        match length(&mut out, span.width, Some(text.len())) {
            Some(()) => {
                out.extend_from_slice(text.as_bytes());
                self.edits.push((span.start, span.end, out));
            }
            None => self.unwritable = true,
        }
    }

    /// The bytes `start..end` (an array element) go.
    pub(crate) fn remove(&mut self, (start, end): (usize, usize)) {
        self.edits.push((start, end, Vec::new()));
    }

    /// The integer at `start..end` becomes `value` (big-endian, as wide as the field).
    pub(crate) fn int(&mut self, (start, end): (usize, usize), value: i64) {
        let bytes = value.to_be_bytes();
        match bytes.get(bytes.len().saturating_sub(end.saturating_sub(start))..) {
            Some(tail) => self.edits.push((start, end, tail.to_vec())),
            None => self.unwritable = true,
        }
    }

    /// The elements (structs or strings) of `array` that `keep` refuses are cut out and its
    /// count lowered.
    pub(crate) fn retain_elements<'n, 'a, E>(
        &mut self,
        r: &'n Node<'a>,
        array: u16,
        mut keep: impl FnMut(&mut Self, &Element<'n, 'a>) -> Result<bool, E>,
    ) -> Result<(), E> {
        let Some((len, count)) = r.array(array) else {
            return Ok(());
        };
        let mut kept = len;
        for item in r.elements(array) {
            if !keep(self, &item)? {
                self.remove(item.range());
                kept -= 1;
            }
        }
        if kept != len {
            self.count(count, kept);
        }
        Ok(())
    }

    /// [`Edits::retain_elements`] for an array of structs.
    pub(crate) fn retain<'n, 'a, E>(
        &mut self,
        r: &'n Node<'a>,
        array: u16,
        mut keep: impl FnMut(&mut Self, &'n Node<'a>) -> Result<bool, E>,
    ) -> Result<(), E> {
        self.retain_elements(r, array, |edits, item| match item {
            Element::Struct(node) => keep(edits, node),
            Element::String(..) => Ok(true),
        })
    }

    /// `bytes` go in at `at`.
    pub(crate) fn insert(&mut self, at: usize, bytes: &[u8]) {
        self.edits.push((at, at, bytes.to_vec()));
    }

    /// The nullable struct at `start..end` (its presence byte first) becomes null.
    pub(crate) fn null(&mut self, (start, end): (usize, usize)) {
        self.edits.push((start, end, vec![0xff]));
    }

    /// The array count at `span` becomes `count`.
    pub(crate) fn count(&mut self, span: Span, count: usize) {
        let mut out = Vec::with_capacity(5);
        match length(&mut out, span.width, Some(count)) {
            Some(()) => self.edits.push((span.start, span.end, out)),
            None => self.unwritable = true,
        }
    }

    /// `body` (a `what` at `version`) with the replacements; an error if one could not be
    /// written or two overlap.
    pub(crate) fn apply(
        self,
        body: &[u8],
        what: &'static str,
        version: i16,
    ) -> Result<Vec<u8>, KafkaError> {
        self.spliced(body).ok_or_else(|| KafkaError::Encode {
            what,
            version,
            reason: "a changed field does not fit its length (a name longer than a Kafka string \
                     holds) or two changes overlap"
                .to_owned(),
        })
    }

    fn spliced(mut self, body: &[u8]) -> Option<Vec<u8>> {
        if self.unwritable {
            return None;
        }
        self.edits.sort_by_key(|(start, _, _)| *start);
        let grown: usize = self.edits.iter().map(|(_, _, b)| b.len()).sum();
        let mut out = Vec::with_capacity(body.len() + grown);
        let mut at = 0;
        for (start, end, bytes) in &self.edits {
            out.extend_from_slice(body.get(at..*start)?);
            out.extend_from_slice(bytes);
            at = *end;
        }
        out.extend_from_slice(body.get(at..)?);
        Some(out)
    }
}

/// Writes the length or count `n` as `width` (a varint holds n + 1); `None` is null (-1, or a
/// varint 0). `None` back when `n` does not fit.
pub(crate) fn length(out: &mut Vec<u8>, width: Width, n: Option<usize>) -> Option<()> {
    match width {
        Width::Int16 => {
            out.extend_from_slice(&n.map_or(Some(-1), |n| i16::try_from(n).ok())?.to_be_bytes())
        }
        Width::Int32 => {
            out.extend_from_slice(&n.map_or(Some(-1), |n| i32::try_from(n).ok())?.to_be_bytes())
        }
        Width::Varint => {
            let mut v = n.map_or(Some(0), |n| u32::try_from(n).ok()?.checked_add(1))?;
            while v >= 0x80 {
                out.push(u8::try_from(v & 0x7f).ok()? | 0x80);
                v >>= 7;
            }
            out.push(u8::try_from(v).ok()?);
        }
    }
    Some(())
}
