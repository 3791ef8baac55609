//! One Kafka connection seen by the filter: both directions framed, responses matched to requests.

use crate::api::Api;
use crate::frame::{Framer, Head};
use crate::head::{parse_request, parse_response, RequestHead};
use crate::inflight::{InFlight, Pending};
use crate::{Error, Source};

/// Bounds on what one connection may make the filter hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_frame_bytes: usize,
    pub max_header_bytes: usize,
    pub max_in_flight: usize,
}

/// A request frame whose head was decoded.
#[derive(Debug)]
pub struct RequestEvent<'a> {
    pub head: RequestHead<'a>,
    /// Frame length without the 4-byte prefix.
    pub frame_len: usize,
}

/// A response frame matched to its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseEvent {
    pub api: Api,
    pub api_version: i16,
    pub correlation_id: i32,
    /// Host clock time from the request seen to the response seen (nanoseconds).
    pub latency: u64,
    /// Frame length without the 4-byte prefix.
    pub frame_len: usize,
}

/// The codec state of one connection.
#[derive(Debug)]
pub struct Session {
    requests: Framer,
    responses: Framer,
    in_flight: InFlight,
}

impl Session {
    pub fn new(limits: Limits) -> Self {
        Session {
            requests: Framer::new(limits.max_frame_bytes, limits.max_header_bytes),
            responses: Framer::new(limits.max_frame_bytes, limits.max_header_bytes),
            in_flight: InFlight::new(limits.max_in_flight),
        }
    }

    /// Requests waiting for a response.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Bytes held for incomplete heads, both directions.
    pub fn held_bytes(&self) -> usize {
        self.requests.held() + self.responses.held()
    }

    /// Whether both directions are between frames.
    pub fn at_boundary(&self) -> bool {
        self.requests.at_boundary() && self.responses.at_boundary()
    }

    /// Frames client → broker bytes; `sink` sees every decoded request. Returns bytes copied.
    pub fn on_request_data<S: Source + ?Sized>(
        &mut self,
        src: &mut S,
        now: u64,
        mut sink: impl FnMut(RequestEvent<'_>),
    ) -> Result<usize, Error> {
        let in_flight = &mut self.in_flight;
        self.requests.feed(src, |seen, frame_len| {
            let Some(head) = parse_request(seen, frame_len)? else {
                return Ok(Head::NeedMore);
            };
            if head.expects_response() {
                in_flight.push(Pending {
                    api: head.api,
                    api_version: head.api_version,
                    correlation_id: head.correlation_id,
                    sent_at: now,
                })?;
            }
            sink(RequestEvent { head, frame_len });
            Ok(Head::Done)
        })
    }

    /// Frames broker → client bytes; `sink` sees every response with its request. Returns bytes
    /// copied.
    pub fn on_response_data<S: Source + ?Sized>(
        &mut self,
        src: &mut S,
        now: u64,
        mut sink: impl FnMut(ResponseEvent),
    ) -> Result<usize, Error> {
        let in_flight = &mut self.in_flight;
        self.responses.feed(src, |seen, frame_len| {
            let Some(head) = parse_response(seen, frame_len)? else {
                return Ok(Head::NeedMore);
            };
            let pending = in_flight.answer(head.correlation_id)?;
            sink(ResponseEvent {
                api: pending.api,
                api_version: pending.api_version,
                correlation_id: head.correlation_id,
                latency: now.saturating_sub(pending.sent_at),
                frame_len,
            });
            Ok(Head::Done)
        })
    }
}
