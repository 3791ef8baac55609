//! One Kafka connection seen by the filter: both directions framed, responses matched to
//! requests, and the caller's decisions applied in order.
//!
//! A denied request is swapped for a harmless one (`ApiVersions` v0) with the same correlation
//! id, and the response to that one is swapped for the denial — so responses stay in request
//! order and the client sees exactly what a broker would have said.

use crate::api::Api;
use crate::edit::{frame, Action, Editor, Frames, Output, LENGTH_PREFIX};
use crate::head::{parse_request, parse_response, RequestHead};
use crate::inflight::{InFlight, Pending, Rewrite};
use crate::reader::{Field, Reader};
use crate::{Error, Source};

/// Bounds on what one connection may make the filter hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_frame_bytes: usize,
    pub max_header_bytes: usize,
    pub max_in_flight: usize,
    /// The largest frame held whole to be decided or rewritten.
    pub max_hold_bytes: usize,
}

/// A request frame whose head was decoded.
#[derive(Debug)]
pub struct RequestEvent<'a> {
    pub head: &'a RequestHead<'a>,
    /// Frame length without the 4-byte prefix.
    pub frame_len: usize,
}

/// A response frame matched to its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseEvent {
    pub api: Api,
    pub api_version: i16,
    pub correlation_id: i32,
    /// Host clock time from the request seen to the response seen (nanoseconds); `None` when
    /// the request was not timed (see [`Hooks::timed`]).
    pub latency: Option<u64>,
    /// Frame length without the 4-byte prefix.
    pub frame_len: usize,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send it to the broker; its response changes as `Rewrite` says.
    Forward(Rewrite),
    /// Send it with this body instead of its own (same header); its response changes as
    /// `Rewrite` says.
    ForwardRewritten(Vec<u8>, Rewrite),
    /// Do not send it; answer with this response frame (prefix included) in its turn.
    Deny(Vec<u8>),
    /// Do not send it and answer nothing (a request that expects no response).
    Drop,
}

/// A decision on a request from its first bytes (see [`Hooks::on_request_start`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Early {
    /// Not decidable from these bytes; ask again with more.
    More,
    /// Hold the whole request and decide it with [`Hooks::on_request`].
    Whole,
    /// Send it on as it is, the rest streaming through unread; its response changes as
    /// `Rewrite` says.
    Forward(Rewrite),
    /// Send it on with the body's first `replaced` bytes (all among those seen) replaced by
    /// `with` — a renamed topic — the rest streaming through unread; its response changes as
    /// `rewrite` says.
    ForwardEdited {
        replaced: usize,
        with: Vec<u8>,
        rewrite: Rewrite,
    },
}

/// The caller's decisions and observations.
pub trait Hooks {
    /// Whether requests are held whole and passed to [`Hooks::on_request`]; when `false` they
    /// stream through and are only observed.
    fn inspect_requests(&self) -> bool;

    /// Decides a request from its first bytes, when [`Hooks::inspect_requests`]: `body` is the
    /// part of what follows its header seen so far, `body_len` the whole body's length. A
    /// request forwarded here is not held: the rest of its frame streams through unread.
    /// [`Early::More`] asks again with more bytes, up to the head limit (then it is held whole).
    fn on_request_start(
        &mut self,
        head: &RequestHead<'_>,
        body: &[u8],
        body_len: usize,
    ) -> Result<Early, Error> {
        let _ = (head, body, body_len);
        Ok(Early::Whole)
    }

    /// Decides a whole request; `body` is what follows its header.
    fn on_request(&mut self, head: &RequestHead<'_>, body: &[u8]) -> Result<Verdict, Error> {
        let _ = (head, body);
        Ok(Verdict::Forward(Rewrite::None))
    }

    /// Rewrites the body of a response whose request asked for [`Rewrite::Transform`].
    fn on_response(&mut self, request: &Pending, tag: u32, body: &[u8]) -> Result<Vec<u8>, Error> {
        let _ = (request, tag);
        Ok(body.to_vec())
    }

    /// Every request, as soon as its head is decoded.
    fn request_seen(&mut self, event: RequestEvent<'_>) {
        let _ = event;
    }

    /// Whether to time this request: its response's [`ResponseEvent::latency`]. Called after
    /// [`Hooks::request_seen`] for requests that expect a response; the clock is read only for
    /// timed requests and their responses.
    fn timed(&mut self, head: &RequestHead<'_>) -> bool {
        let _ = head;
        true
    }

    /// The host clock (nanoseconds), read only when a timed request or its response is seen;
    /// `None` uses the `now` given to [`Session::on_request_data`] /
    /// [`Session::on_response_data`].
    fn clock(&mut self) -> Option<u64> {
        None
    }

    /// Every response, as soon as it is matched to its request.
    fn response_seen(&mut self, event: ResponseEvent) {
        let _ = event;
    }
}

/// A hooks implementation that only observes (the pass-through filter, and tests).
pub struct Observe<F: FnMut(Option<RequestEvent<'_>>, Option<ResponseEvent>)>(pub F);

impl<F: FnMut(Option<RequestEvent<'_>>, Option<ResponseEvent>)> Hooks for Observe<F> {
    fn inspect_requests(&self) -> bool {
        false
    }
    fn request_seen(&mut self, event: RequestEvent<'_>) {
        (self.0)(Some(event), None)
    }
    fn response_seen(&mut self, event: ResponseEvent) {
        (self.0)(None, Some(event))
    }
}

/// The codec state of one connection.
#[derive(Debug)]
pub struct Session {
    requests: Editor,
    responses: Editor,
    in_flight: InFlight,
    /// The request a response being held answers, and how to rewrite it.
    held_response: Option<(Pending, u32)>,
    /// Whether the request head being decided was reported ([`Hooks::request_seen`]).
    request_reported: bool,
    max_head: usize,
}

/// The harmless request a denied one is swapped for: `ApiVersions` v0 (header v1, null client
/// id, empty body) with the denied request's correlation id.
pub fn substitute_request(correlation_id: i32) -> Vec<u8> {
    let mut body = Vec::with_capacity(10);
    body.extend_from_slice(&crate::api::API_VERSIONS.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&correlation_id.to_be_bytes());
    body.extend_from_slice(&(-1i16).to_be_bytes());
    frame(&body)
}

/// The head bytes `seen` (after the length prefix) of a `frame_len`-byte request with its
/// body's first `replaced` bytes replaced by `with`, behind the frame's new length prefix.
fn edit_head(
    seen: &[u8],
    head: &RequestHead<'_>,
    frame_len: usize,
    replaced: usize,
    with: &[u8],
) -> Result<Vec<u8>, Error> {
    let header = seen
        .get(..head.header_len)
        .ok_or(Error::Internal("a head longer than the bytes seen"))?;
    let rest = seen
        .get(head.header_len..)
        .and_then(|body| body.get(replaced..))
        .ok_or(Error::Internal("an edit of more body bytes than were seen"))?;
    let new_len = frame_len
        .checked_sub(replaced)
        .and_then(|n| n.checked_add(with.len()))
        .and_then(|n| i32::try_from(n).ok())
        .ok_or(Error::Internal(
            "an edited frame longer than Kafka frames can be",
        ))?;
    let mut out = Vec::with_capacity(LENGTH_PREFIX + header.len() + with.len() + rest.len());
    out.extend_from_slice(&new_len.to_be_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(with);
    out.extend_from_slice(rest);
    Ok(out)
}

struct RequestFrames<'a, H: Hooks + ?Sized> {
    hooks: &'a mut H,
    in_flight: &'a mut InFlight,
    now: u64,
    inspect: bool,
    /// The head limit: a request not decided from this many bytes is held whole.
    max_head: usize,
    /// Whether the current frame's head was reported (a head decided early may take several
    /// reads, across callbacks).
    seen: &'a mut bool,
}

impl<H: Hooks + ?Sized> RequestFrames<'_, H> {
    fn pending(&mut self, head: &RequestHead<'_>, rewrite: Rewrite) -> Pending {
        let sent_at = if self.hooks.timed(head) {
            Some(self.hooks.clock().unwrap_or(self.now))
        } else {
            None
        };
        Pending {
            api: head.api,
            api_version: head.api_version,
            correlation_id: head.correlation_id,
            sent_at,
            rewrite,
        }
    }
}

impl<H: Hooks + ?Sized> Frames for RequestFrames<'_, H> {
    fn may_edit(&self) -> bool {
        self.inspect
    }

    fn on_head(&mut self, seen: &[u8], frame_len: usize) -> Result<Option<Action>, Error> {
        let Some(head) = parse_request(seen, frame_len)? else {
            return Ok(None);
        };
        if !*self.seen {
            *self.seen = true;
            self.hooks.request_seen(RequestEvent {
                head: &head,
                frame_len,
            });
        }
        if self.inspect {
            let body = seen.get(head.header_len..).unwrap_or_default();
            let body_len = frame_len.saturating_sub(head.header_len);
            let early = if seen.len() >= frame_len {
                // The whole frame is here: nothing to gain from deciding early.
                Early::Whole
            } else {
                self.hooks.on_request_start(&head, body, body_len)?
            };
            let action = match early {
                Early::More if seen.len() < self.max_head.min(frame_len) => return Ok(None),
                Early::More | Early::Whole => Action::Hold,
                Early::Forward(rewrite) => {
                    if head.expects_response() {
                        let pending = self.pending(&head, rewrite);
                        self.in_flight.push(pending)?;
                    }
                    Action::Stream
                }
                Early::ForwardEdited {
                    replaced,
                    with,
                    rewrite,
                } => {
                    let edited = edit_head(seen, &head, frame_len, replaced, &with)?;
                    if head.expects_response() {
                        let pending = self.pending(&head, rewrite);
                        self.in_flight.push(pending)?;
                    }
                    Action::StreamEdited(edited)
                }
            };
            *self.seen = false;
            return Ok(Some(action));
        }
        *self.seen = false;
        if head.expects_response() {
            let pending = self.pending(&head, Rewrite::None);
            self.in_flight.push(pending)?;
        }
        Ok(Some(Action::Stream))
    }

    fn on_frame(&mut self, whole: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let head = parse_request(whole, whole.len())?
            .ok_or(Error::Internal("a whole frame without a head"))?;
        let body = whole.get(head.header_len..).unwrap_or_default();
        match self.hooks.on_request(&head, body)? {
            Verdict::Forward(rewrite) => {
                if head.expects_response() {
                    let pending = self.pending(&head, rewrite);
                    self.in_flight.push(pending)?;
                }
                Ok(None)
            }
            Verdict::ForwardRewritten(new_body, rewrite) => {
                if head.expects_response() {
                    let pending = self.pending(&head, rewrite);
                    self.in_flight.push(pending)?;
                }
                let header = whole
                    .get(..head.header_len)
                    .ok_or(Error::Internal("a head longer than its frame"))?;
                Ok(Some(frame(&[header, new_body.as_slice()].concat())))
            }
            Verdict::Deny(response) if head.expects_response() => {
                let pending = self.pending(&head, Rewrite::Replace(response));
                self.in_flight.push(pending)?;
                Ok(Some(substitute_request(head.correlation_id)))
            }
            Verdict::Deny(_) | Verdict::Drop => Ok(Some(Vec::new())),
        }
    }
}

struct ResponseFrames<'a, H: Hooks + ?Sized> {
    hooks: &'a mut H,
    in_flight: &'a mut InFlight,
    now: u64,
    /// The request the frame being held answers (kept across callbacks by the session).
    current: &'a mut Option<(Pending, u32)>,
}

impl<H: Hooks + ?Sized> Frames for ResponseFrames<'_, H> {
    fn may_edit(&self) -> bool {
        self.in_flight
            .front()
            .is_some_and(|p| p.rewrite != Rewrite::None)
    }

    fn on_head(&mut self, seen: &[u8], frame_len: usize) -> Result<Option<Action>, Error> {
        let Some(head) = parse_response(seen, frame_len)? else {
            return Ok(None);
        };
        let mut pending = self.in_flight.answer(head.correlation_id)?;
        let latency = pending.sent_at.map(|sent_at| {
            let now = self.hooks.clock().unwrap_or(self.now);
            now.saturating_sub(sent_at)
        });
        self.hooks.response_seen(ResponseEvent {
            api: pending.api,
            api_version: pending.api_version,
            correlation_id: head.correlation_id,
            latency,
            frame_len,
        });
        Ok(Some(match std::mem::take(&mut pending.rewrite) {
            Rewrite::None => Action::Stream,
            Rewrite::Replace(bytes) => Action::Replace(bytes),
            Rewrite::Transform(tag) => {
                *self.current = Some((pending, tag));
                Action::Hold
            }
        }))
    }

    fn on_frame(&mut self, whole: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let (pending, tag) = self
            .current
            .take()
            .ok_or(Error::Internal("a held response without its request"))?;
        let mut r = Reader::new(whole);
        r.i32().ok_or(Error::Truncated {
            what: "response header",
            len: whole.len(),
        })?;
        if pending.api.response_header_version(pending.api_version) >= 1 {
            match r.skip_tagged_fields("response header tagged fields") {
                Field::Value(()) => {}
                Field::Incomplete => {
                    return Err(Error::Truncated {
                        what: "response header",
                        len: whole.len(),
                    })
                }
                Field::Invalid(what) => return Err(Error::Malformed { what }),
            }
        }
        let (header, body) = whole
            .split_at_checked(r.position())
            .ok_or(Error::Internal("header past the frame"))?;
        let new_body = self.hooks.on_response(&pending, tag, body)?;
        let mut out = Vec::with_capacity(LENGTH_PREFIX + header.len() + new_body.len());
        out.extend_from_slice(header);
        out.extend_from_slice(&new_body);
        Ok(Some(frame(&out)))
    }
}

impl Session {
    pub fn new(limits: Limits) -> Self {
        Session {
            requests: Editor::new(
                limits.max_frame_bytes,
                limits.max_header_bytes,
                limits.max_hold_bytes,
            ),
            responses: Editor::new(
                limits.max_frame_bytes,
                limits.max_header_bytes,
                limits.max_hold_bytes,
            ),
            in_flight: InFlight::new(limits.max_in_flight, limits.max_hold_bytes),
            held_response: None,
            request_reported: false,
            max_head: limits.max_header_bytes,
        }
    }

    /// Requests waiting for a response.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Bytes held for undecided heads and held frames, both directions.
    pub fn held_bytes(&self) -> usize {
        self.requests.held() + self.responses.held()
    }

    /// Whether both directions are between frames.
    pub fn at_boundary(&self) -> bool {
        self.requests.at_boundary() && self.responses.at_boundary()
    }

    /// Passes `n` client → broker bytes that lie wholly inside a request being streamed (a
    /// record batch passing through): `true` when they did, and nothing else is to be done
    /// with them; `false`, and nothing done, when they must go through
    /// [`Session::on_request_data`].
    pub fn skip_request_data(&mut self, n: usize) -> bool {
        self.requests.skip_streamed(n)
    }

    /// The same for broker → client bytes.
    pub fn skip_response_data(&mut self, n: usize) -> bool {
        self.responses.skip_streamed(n)
    }

    /// Client → broker bytes: appends to `out` what goes on to the broker. Returns the bytes
    /// copied out of `src`.
    pub fn on_request_data<S: Source + ?Sized, H: Hooks + ?Sized>(
        &mut self,
        src: &mut S,
        now: u64,
        hooks: &mut H,
        out: &mut Output,
    ) -> Result<usize, Error> {
        let inspect = hooks.inspect_requests();
        let mut frames = RequestFrames {
            hooks,
            in_flight: &mut self.in_flight,
            now,
            inspect,
            max_head: self.max_head,
            seen: &mut self.request_reported,
        };
        self.requests.feed(src, &mut frames, out)
    }

    /// Broker → client bytes: appends to `out` what goes on to the client. Returns the bytes
    /// copied out of `src`.
    pub fn on_response_data<S: Source + ?Sized, H: Hooks + ?Sized>(
        &mut self,
        src: &mut S,
        now: u64,
        hooks: &mut H,
        out: &mut Output,
    ) -> Result<usize, Error> {
        let mut frames = ResponseFrames {
            hooks,
            in_flight: &mut self.in_flight,
            now,
            current: &mut self.held_response,
        };
        self.responses.feed(src, &mut frames, out)
    }
}
