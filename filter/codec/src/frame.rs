//! Length-prefixed framing across arbitrary segmentation, reading only frame heads.
//!
//! A [`Framer`] keeps, per direction, the first bytes of the current frame until its head can be
//! decided, then skips the rest of the frame by its length without reading it: the cost per
//! frame is independent of its payload size, and memory is bounded by the head limit.

use crate::{Error, Source};

/// Bytes of the length prefix.
pub const LENGTH_PREFIX: usize = 4;
/// Head bytes read at first; doubled while the head is incomplete, up to the head limit.
const FIRST_READ: usize = 64;

/// What a head decoder says about the bytes of a frame seen so far.
pub enum Head {
    /// The head is complete and handled; the rest of the frame is skipped.
    Done,
    /// More bytes of the frame are needed.
    NeedMore,
}

/// Splits one direction of a connection into frames.
#[derive(Debug)]
pub struct Framer {
    /// The current frame's bytes read so far, including its length prefix.
    head: Vec<u8>,
    /// Bytes of the current frame still to pass without reading, once its head is decided.
    skip: usize,
    max_frame: usize,
    max_head: usize,
}

impl Framer {
    /// `max_frame` bounds a frame's length field, `max_head` the bytes kept to decide its head.
    pub fn new(max_frame: usize, max_head: usize) -> Self {
        Framer {
            head: Vec::new(),
            skip: 0,
            max_frame,
            max_head,
        }
    }

    /// Whether the stream is between frames (nothing of a frame is pending).
    pub fn at_boundary(&self) -> bool {
        self.skip == 0 && self.head.is_empty()
    }

    /// Bytes held for the current frame's head.
    pub fn held(&self) -> usize {
        self.head.len()
    }

    /// Walks the bytes of `src`, calling `on_head(seen, frame_len)` with the frame's bytes seen so
    /// far (after the length prefix) until it answers [`Head::Done`]. Returns the bytes copied
    /// out of `src`.
    pub fn feed<S: Source + ?Sized>(
        &mut self,
        src: &mut S,
        mut on_head: impl FnMut(&[u8], usize) -> Result<Head, Error>,
    ) -> Result<usize, Error> {
        let available = src.len();
        let mut pos = 0usize;
        let mut copied = 0usize;
        while pos < available {
            if self.skip > 0 {
                let n = self.skip.min(available - pos);
                self.skip -= n;
                pos += n;
                continue;
            }
            let want = match self.frame_len()? {
                None => LENGTH_PREFIX - self.head.len(),
                Some(body) => {
                    let seen = self.head.len() - LENGTH_PREFIX;
                    let limit = self.max_head.min(body);
                    if seen >= limit {
                        return Err(Error::HeaderTooLarge { max: self.max_head });
                    }
                    FIRST_READ.max(seen).min(limit - seen)
                }
            };
            let n = want.min(available - pos);
            if !src.read_into(pos, n, &mut self.head) {
                return Err(Error::HostRead { start: pos, len: n });
            }
            pos += n;
            copied += n;
            let Some(body) = self.frame_len()? else {
                continue;
            };
            let seen = self.head.get(LENGTH_PREFIX..).unwrap_or_default();
            if let Head::Done = on_head(seen, body)? {
                self.skip = body - seen.len();
                self.head.clear();
            }
        }
        Ok(copied)
    }

    /// The current frame's body length, once its prefix is complete and valid.
    fn frame_len(&self) -> Result<Option<usize>, Error> {
        let Some(prefix) = self.head.first_chunk::<LENGTH_PREFIX>() else {
            return Ok(None);
        };
        let len = i32::from_be_bytes(*prefix);
        let len = usize::try_from(len).map_err(|_| Error::NegativeLength(len))?;
        if len > self.max_frame {
            return Err(Error::FrameTooLarge {
                len,
                max: self.max_frame,
            });
        }
        Ok(Some(len))
    }
}
