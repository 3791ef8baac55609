//! Length-prefixed framing across arbitrary segmentation, with per-frame edits.
//!
//! An [`Editor`] walks one direction of a connection. For each frame it reads only the head,
//! asks what to do, and then either lets the rest of the frame stream through unread, holds the
//! whole frame to rewrite it, or swallows it and puts other bytes in its place. What goes on to
//! the peer is described as an [`Output`]: ranges of the input kept as they are, and new bytes.
//!
//! Bytes of a frame whose fate is not known yet are never let through when the caller may edit:
//! they move into the editor's own bounded buffer and come back, edited or not, once decided —
//! never a pause with complete frames waiting behind an incomplete one.

use crate::{Error, Source};

/// Bytes of the length prefix.
pub const LENGTH_PREFIX: usize = 4;
/// Head bytes read at first; doubled while the head is incomplete, up to the head limit.
const FIRST_READ: usize = 64;
/// What the first reads of a frame take from its start (its prefix, then the first head bytes):
/// a host may fetch this much in one go and serve both reads from it.
pub const HEAD_READ: usize = LENGTH_PREFIX + FIRST_READ;

/// What to do with a frame, decided from its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Let it through unchanged; the rest of the frame is not read.
    Stream,
    /// Read the whole frame, then ask [`Frames::on_frame`] what to send instead.
    Hold,
    /// Swallow the frame and send these bytes (whole frames, prefix included) in its place.
    Replace(Vec<u8>),
    /// Send these bytes in place of the head bytes seen so far (prefix included, so the frame's
    /// new length too), then let the rest of the frame through unread.
    StreamEdited(Vec<u8>),
}

/// The caller's side of an [`Editor`]: decisions per frame.
pub trait Frames {
    /// Whether the next frame's head must be held back until decided. `false` means the
    /// caller only observes: every decision will be [`Action::Stream`].
    fn may_edit(&self) -> bool;
    /// Decides a frame from its bytes seen so far (after the prefix); `None` asks for more.
    fn on_head(&mut self, seen: &[u8], frame_len: usize) -> Result<Option<Action>, Error>;
    /// A held frame, complete (after the prefix): returns the bytes to send in its place, or
    /// `None` to send it unchanged.
    fn on_frame(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, Error>;
}

/// A piece of what goes on to the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Input bytes `start..start + len`, unchanged.
    Keep { start: usize, len: usize },
    /// New bytes.
    Bytes(Vec<u8>),
}

/// What replaces one callback's input.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    pub pieces: Vec<Piece>,
}

impl Output {
    pub fn clear(&mut self) {
        self.pieces.clear();
    }

    fn keep(&mut self, start: usize, len: usize) {
        if len == 0 {
            return;
        }
        if let Some(Piece::Keep { start: s, len: l }) = self.pieces.last_mut() {
            if *s + *l == start {
                *l += len;
                return;
            }
        }
        self.pieces.push(Piece::Keep { start, len });
    }

    fn bytes(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.pieces.push(Piece::Bytes(bytes));
        }
    }

    /// Whether the output is exactly the input of `len` bytes (nothing to rewrite).
    pub fn is_unchanged(&self, len: usize) -> bool {
        match self.pieces.as_slice() {
            [] => len == 0,
            [Piece::Keep { start: 0, len: l }] => *l == len,
            _ => false,
        }
    }

    /// Builds the output bytes from `input` (tests, and hosts that hold the input anyway).
    pub fn render(&self, input: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Keep { start, len } => {
                    out.extend_from_slice(input.get(*start..start.checked_add(*len)?)?)
                }
                Piece::Bytes(b) => out.extend_from_slice(b),
            }
        }
        Some(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reading a frame's head (into `buf`).
    Head,
    /// Passing `left` more bytes of the current frame unread.
    Stream { left: usize },
    /// Reading `left` more bytes of a held frame (into `buf`).
    Hold { left: usize },
    /// Dropping `left` more bytes of a replaced frame.
    Swallow { left: usize },
}

/// Most buffer capacity an editor keeps between frames (headers and small frames fit).
const KEPT_CAPACITY: usize = 64 * 1024;

/// One direction of a connection, framed.
#[derive(Debug)]
pub struct Editor {
    mode: Mode,
    /// The current frame's bytes read so far (prefix included), in `Head` and `Hold`.
    buf: Vec<u8>,
    /// Whether `buf` (in `Head`) is held back from the output rather than already passed.
    holding_head: bool,
    /// Where `buf` starts in the current input, when it started there (not in an earlier
    /// callback): a held frame sent unchanged is then a range of the input, not new bytes.
    buf_at: Option<usize>,
    max_frame: usize,
    max_head: usize,
    max_hold: usize,
}

impl Editor {
    /// `max_frame` bounds a frame's length field, `max_head` the bytes read to decide its head,
    /// `max_hold` the size of a frame that may be held whole.
    pub fn new(max_frame: usize, max_head: usize, max_hold: usize) -> Self {
        Editor {
            mode: Mode::Head,
            buf: Vec::new(),
            holding_head: false,
            buf_at: None,
            max_frame,
            max_head,
            max_hold,
        }
    }

    /// Whether the stream is between frames.
    pub fn at_boundary(&self) -> bool {
        self.mode == Mode::Head && self.buf.is_empty()
    }

    /// Bytes the editor holds (an undecided head or a held frame).
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    /// Passes `n` bytes that lie wholly inside the frame being streamed, without looking at
    /// them (what [`Editor::feed`] would do with them, for less); `false`, and nothing done,
    /// when they do not.
    pub fn skip_streamed(&mut self, n: usize) -> bool {
        match self.mode {
            Mode::Stream { left } if n <= left => {
                self.mode = if n == left {
                    Mode::Head
                } else {
                    Mode::Stream { left: left - n }
                };
                true
            }
            _ => false,
        }
    }

    /// Walks `src`, appending what goes on to `out`. Returns the bytes copied out of `src`.
    pub fn feed<S: Source + ?Sized, F: Frames + ?Sized>(
        &mut self,
        src: &mut S,
        frames: &mut F,
        out: &mut Output,
    ) -> Result<usize, Error> {
        let available = src.len();
        let mut pos = 0usize;
        let mut copied = 0usize;
        self.buf_at = None;
        while pos < available {
            let rest = available - pos;
            match self.mode {
                Mode::Stream { left } => {
                    let n = left.min(rest);
                    out.keep(pos, n);
                    pos += n;
                    self.mode = if left == n {
                        Mode::Head
                    } else {
                        Mode::Stream { left: left - n }
                    };
                }
                Mode::Swallow { left } => {
                    let n = left.min(rest);
                    pos += n;
                    self.mode = if left == n {
                        Mode::Head
                    } else {
                        Mode::Swallow { left: left - n }
                    };
                }
                Mode::Hold { left } => {
                    let n = left.min(rest);
                    if !src.read_into(pos, n, &mut self.buf) {
                        return Err(Error::HostRead { start: pos, len: n });
                    }
                    pos += n;
                    copied += n;
                    if left == n {
                        self.finish_hold(frames, out)?;
                    } else {
                        self.mode = Mode::Hold { left: left - n };
                    }
                }
                Mode::Head => {
                    if self.buf.is_empty() {
                        self.holding_head = frames.may_edit();
                        self.buf_at = Some(pos);
                    }
                    let want = match self.frame_len()? {
                        None => LENGTH_PREFIX - self.buf.len(),
                        Some(body) => {
                            let seen = self.buf.len() - LENGTH_PREFIX;
                            let limit = self.max_head.min(body);
                            if seen >= limit {
                                return Err(Error::HeaderTooLarge { max: self.max_head });
                            }
                            FIRST_READ.max(seen).min(limit - seen)
                        }
                    };
                    let n = want.min(rest);
                    if !src.read_into(pos, n, &mut self.buf) {
                        return Err(Error::HostRead { start: pos, len: n });
                    }
                    if !self.holding_head {
                        out.keep(pos, n);
                    }
                    pos += n;
                    copied += n;
                    self.decide_head(frames, out)?;
                }
            }
        }
        Ok(copied)
    }

    fn decide_head<F: Frames + ?Sized>(
        &mut self,
        frames: &mut F,
        out: &mut Output,
    ) -> Result<(), Error> {
        let Some(body) = self.frame_len()? else {
            return Ok(());
        };
        let seen = self.buf.get(LENGTH_PREFIX..).unwrap_or_default();
        let Some(action) = frames.on_head(seen, body)? else {
            return Ok(());
        };
        let left = body - seen.len();
        match action {
            Action::Stream => {
                if self.holding_head {
                    self.release(out);
                }
                self.after_head(left, |left| Mode::Stream { left });
            }
            Action::StreamEdited(bytes) => {
                self.check_held("a frame's head was edited after it was let through")?;
                out.bytes(bytes);
                self.after_head(left, |left| Mode::Stream { left });
            }
            Action::Replace(bytes) => {
                self.check_held("a frame was replaced after its head was let through")?;
                out.bytes(bytes);
                self.after_head(left, |left| Mode::Swallow { left });
            }
            Action::Hold => {
                self.check_held("a frame was held after its head was let through")?;
                let total = body + LENGTH_PREFIX;
                if total > self.max_hold {
                    return Err(Error::FrameTooLargeToHold {
                        len: body,
                        max: self.max_hold,
                    });
                }
                self.buf.reserve_exact(left);
                if left == 0 {
                    self.finish_hold(frames, out)?;
                } else {
                    self.mode = Mode::Hold { left };
                }
            }
        }
        Ok(())
    }

    /// Errs (`what`) unless the head just decided was held back: only then may it change.
    fn check_held(&self, what: &'static str) -> Result<(), Error> {
        if self.holding_head {
            Ok(())
        } else {
            Err(Error::Internal(what))
        }
    }

    /// Forgets the head just decided; the frame's `left` bytes then go as `rest` says.
    fn after_head(&mut self, left: usize, rest: fn(usize) -> Mode) {
        self.clear_buf();
        self.mode = if left == 0 { Mode::Head } else { rest(left) };
    }

    fn finish_hold<F: Frames + ?Sized>(
        &mut self,
        frames: &mut F,
        out: &mut Output,
    ) -> Result<(), Error> {
        let frame = self.buf.get(LENGTH_PREFIX..).unwrap_or_default();
        match frames.on_frame(frame)? {
            Some(replacement) => out.bytes(replacement),
            None => self.release(out),
        }
        self.clear_buf();
        self.mode = Mode::Head;
        Ok(())
    }

    /// Empties the buffer, giving back the memory of a large held frame: a connection that
    /// once held a 16 MiB frame must not keep 16 MiB for the rest of its life.
    fn clear_buf(&mut self) {
        if self.buf.capacity() > KEPT_CAPACITY {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
    }

    /// Sends the held bytes on unchanged: as the input range they came from when they all came
    /// in this callback, else as new bytes.
    fn release(&mut self, out: &mut Output) {
        match self.buf_at {
            Some(at) => out.keep(at, self.buf.len()),
            None => out.bytes(std::mem::take(&mut self.buf)),
        }
    }

    /// The current frame's body length, once its prefix is complete and valid.
    fn frame_len(&self) -> Result<Option<usize>, Error> {
        let Some(prefix) = self.buf.first_chunk::<LENGTH_PREFIX>() else {
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

/// Prefixes `body` with its 4-byte length.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let len = i32::try_from(body.len()).unwrap_or(i32::MAX);
    let mut out = Vec::with_capacity(body.len() + LENGTH_PREFIX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}
