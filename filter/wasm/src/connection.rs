//! One downstream connection: feeds both directions to the codec and acts on its verdicts.

use std::rc::Rc;
use std::time::UNIX_EPOCH;

use log::{info, warn};
use meshka_codec::edit::Piece;
use meshka_codec::head::RequestHead;
use meshka_codec::inflight::{Pending, Rewrite};
use meshka_codec::session::Early;
use meshka_codec::{Error, Hooks, Limits, Output, RequestEvent, ResponseEvent, Session, Verdict};
use meshka_policy::authz::Principal;
use meshka_policy::config::{FailureMode, FilterConfig};
use meshka_policy::enforce::{self, DecisionRecord, Enforcer, QuotaClock, Records};
use meshka_policy::kafka::Denied;
use meshka_policy::route::throttle;
use meshka_policy::sasl::Exchange;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, StreamContext};
use proxy_wasm::types::{Action, BufferType, PeerType};

use crate::active;
use crate::buckets::SharedBuckets;
use crate::host_source::HostSource;
use crate::metrics;
use crate::mute;
use crate::topic_ids::SharedTopicIds;

/// Client → broker or broker → client.
#[derive(Clone, Copy, Debug)]
enum Direction {
    Request,
    Response,
}

pub struct Connection {
    id: u32,
    /// The plugin this connection belongs to (see [`active`]).
    plugin: Rc<str>,
    config: Rc<FilterConfig>,
    session: Session,
    /// The mTLS peer's SPIFFE ID, read on the first downstream bytes (TLS is not finished when
    /// the connection opens).
    peer: Option<String>,
    principal: Principal,
    /// The SASL exchange on this connection, followed to learn its user.
    sasl: Exchange,
    /// Denied parts of split requests awaiting their responses.
    merges: Vec<(i32, Denied)>,
    identified: bool,
    /// Set when decoding failed and the configuration says fail open: bytes pass uninspected.
    bypass: bool,
    /// Set once the filter decided to close the connection.
    closing: bool,
    /// Bytes at the start of Envoy's downstream buffer already decided and held back while the
    /// connection is throttled (see [`mute`]).
    held: usize,
    /// Until when (ms) requests are held back: the throttle time of the last throttled response.
    muted_until_ms: u64,
    /// When the budgets this connection's requests were charged to are paid off (ms).
    quota_deadline_ms: u64,
    requests: u64,
    responses: u64,
    decisions: u64,
    /// Whether the last request seen is timed: kept across callbacks, as a held request is
    /// registered in the callback that completes it.
    timed: bool,
    /// Reused by every callback: the decisions it made, and what replaces its input.
    records: Records,
    out: Output,
}

fn limits(config: &FilterConfig) -> Limits {
    Limits {
        max_frame_bytes: config.max_frame_bytes as usize,
        max_header_bytes: config.max_header_bytes as usize,
        max_in_flight: config.max_in_flight as usize,
        max_hold_bytes: config.max_hold_bytes as usize,
    }
}

/// The host's wall clock in nanoseconds (0 if Envoy cannot tell).
pub(crate) fn now_ns() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The host's clock, read at most once per callback and only when asked.
#[derive(Default)]
struct Clock(Option<u64>);

impl Clock {
    fn now(&mut self) -> u64 {
        *self.0.get_or_insert_with(now_ns)
    }
}

fn property(path: Vec<&str>) -> Option<String> {
    let bytes = hostcalls::get_property(path).ok()??;
    String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
}

impl Connection {
    pub fn new(id: u32, config: Rc<FilterConfig>, plugin: Rc<str>) -> Self {
        Connection {
            id,
            plugin,
            session: Session::new(limits(&config)),
            config,
            peer: None,
            principal: Principal::anonymous(),
            sasl: Exchange::default(),
            merges: Vec::new(),
            identified: false,
            bypass: false,
            closing: false,
            held: 0,
            muted_until_ms: 0,
            quota_deadline_ms: 0,
            requests: 0,
            responses: 0,
            decisions: 0,
            timed: false,
            records: Records::default(),
            out: Output::default(),
        }
    }

    fn peer_name(&self) -> &str {
        self.peer.as_deref().unwrap_or("none")
    }

    fn on_data(&mut self, direction: Direction, size: usize) -> Action {
        if self.closing {
            return Action::Pause;
        }
        let buffer = match direction {
            Direction::Request => BufferType::DownstreamData,
            Direction::Response => BufferType::UpstreamData,
        };
        if self.bypass || size == 0 {
            metrics::bytes(matches!(direction, Direction::Request), size, 0);
            return Action::Continue;
        }
        if mute::take_resumed(self.id) {
            // The tick let the held bytes through to the broker.
            self.held = 0;
        }
        let request = matches!(direction, Direction::Request);
        // Bytes inside a frame streaming through (record batches) need nothing but counting.
        if self.held == 0 && self.muted_until_ms == 0 {
            let skipped = if request {
                self.session.skip_request_data(size)
            } else {
                self.session.skip_response_data(size)
            };
            if skipped {
                metrics::bytes(request, size, 0);
                return Action::Continue;
            }
        }
        // Held bytes were decided when they arrived; only what follows them is new.
        let base = if request && self.held <= size {
            self.held
        } else {
            0
        };
        let mut src = HostSource::new(buffer, base, size - base);
        // The configuration in force now, not the one this connection opened with: policy
        // changes reach open connections at their next request.
        let active = active::current(&self.plugin);
        // The host's clock is read only when something needs it: quotas and a held connection
        // at once, request latency only for the requests timed (see `metrics::LATENCY_SAMPLE`).
        let quotas = active
            .as_ref()
            .and_then(|a| a.routing.as_ref())
            .is_some_and(|r| r.quotas().is_some());
        let mut clock = Clock::default();
        let now = if quotas || self.muted_until_ms > 0 {
            clock.now()
        } else {
            0
        };
        // Buffers kept across callbacks: no allocation per callback for them.
        let mut records = std::mem::take(&mut self.records);
        let mut out = std::mem::take(&mut self.out);
        let mut topic_ids = SharedTopicIds;
        let mut buckets = SharedBuckets;
        let close_on_denied_acks_zero = active
            .as_ref()
            .is_some_and(|a| a.config.close_on_denied_acks_zero);
        let hold_limit = active
            .as_ref()
            .map_or(self.config.max_hold_bytes, |a| a.config.max_hold_bytes);
        let mut hooks = ConnectionHooks {
            requests: &mut self.requests,
            responses: &mut self.responses,
            muted_until_ms: &mut self.muted_until_ms,
            clock: &mut clock,
            timed: &mut self.timed,
            now_ms: now / 1_000_000,
            enforcer: active
                .as_ref()
                .and_then(|a| a.policy.as_ref())
                .map(|policy| Enforcer {
                    policy,
                    principal: &mut self.principal,
                    sasl: &mut self.sasl,
                    topic_ids: &mut topic_ids,
                    merges: &mut self.merges,
                    close_on_denied_acks_zero,
                    records: &mut records,
                    routing: active.as_ref().and_then(|a| a.routing.as_ref()),
                    hold_limit,
                    quota_clock: Some(QuotaClock {
                        store: &mut buckets,
                        now_ms: now / 1_000_000,
                        deadline_ms: &mut self.quota_deadline_ms,
                    }),
                }),
        };
        let result = match direction {
            Direction::Request => self
                .session
                .on_request_data(&mut src, now, &mut hooks, &mut out),
            Direction::Response => self
                .session
                .on_response_data(&mut src, now, &mut hooks, &mut out),
        };
        let result = result.and_then(|_| {
            if out.is_unchanged(size - base) {
                Ok(size)
            } else {
                apply(&mut src, buffer, base, size, &out)
            }
        });
        metrics::bytes(request, size - base, src.copied);
        // Keeps the pieces' capacity, not the new bytes (a rewritten frame can be large).
        out.clear();
        self.out = out;
        if !records.is_empty() {
            let config = active.as_ref().map_or(self.config.as_ref(), |a| &a.config);
            let (topic_cap, allowed_every) = (config.max_topic_metrics, config.log_allowed_every);
            self.report(&records, topic_cap, allowed_every);
            records.clear();
        }
        self.records = records;
        let muted =
            request && self.muted_until_ms > 0 && clock.now() / 1_000_000 < self.muted_until_ms;
        match result {
            Ok(len) if muted => {
                self.held = len;
                mute::hold(self.id, self.muted_until_ms);
                Action::Pause
            }
            Ok(_) => {
                if request && self.held > 0 {
                    self.held = 0;
                    mute::release(self.id);
                }
                Action::Continue
            }
            Err(e) => self.fail(direction, buffer, size, &e),
        }
    }

    /// Logs and counts decisions.
    fn report(&mut self, records: &[DecisionRecord], topic_cap: u32, allowed_every: u32) {
        for record in records {
            metrics::decision(record, topic_cap);
            self.decisions += 1;
            let sampled =
                allowed_every > 0 && self.decisions.is_multiple_of(u64::from(allowed_every));
            if !record.allowed || sampled {
                let line = serde_json::to_string(record).unwrap_or_default();
                if record.allowed {
                    info!("meshka: decision connection={} {line}", self.id);
                } else {
                    warn!("meshka: decision connection={} {line}", self.id);
                }
            }
        }
    }

    /// A decoding failure: fail closed (drop the bytes, close both sides) or open (stop
    /// inspecting), as configured.
    fn fail(&mut self, direction: Direction, buffer: BufferType, size: usize, e: &Error) -> Action {
        metrics::decode_error(e.kind());
        match self.config.failure_mode {
            FailureMode::Open => {
                warn!(
                    "meshka: connection={} peer={} {direction:?} stream not decodable, passing it uninspected (failureMode=open): {e}",
                    self.id,
                    self.peer_name()
                );
                metrics::passed_undecoded();
                self.bypass = true;
                Action::Continue
            }
            FailureMode::Closed => {
                warn!(
                    "meshka: connection={} peer={} {direction:?} stream not decodable, closing the connection: {e}",
                    self.id,
                    self.peer_name()
                );
                metrics::closed_by_filter();
                self.closing = true;
                // start = 0 is the only non-append write Envoy accepts; the SDK panics on others.
                let _ = hostcalls::set_buffer(buffer, 0, size, &[]);
                let _ = hostcalls::close_downstream();
                let _ = hostcalls::close_upstream();
                Action::Pause
            }
        }
    }
}

/// Replaces the callback's new bytes (after the `base` bytes held back earlier) in Envoy's
/// `buffer` of `size` bytes by `out`; returns the buffer's new length. Envoy writes only at
/// offset 0: a write of `n` bytes there drains the buffer's first `n` bytes and puts the new ones
/// in front. So the output's tail that is the input's own tail (the frames after the last edit)
/// stays in Envoy's buffer unread, and only what comes before it is written, held bytes
/// included.
fn apply(
    src: &mut HostSource,
    buffer: BufferType,
    base: usize,
    size: usize,
    out: &Output,
) -> Result<usize, Error> {
    let new = size.saturating_sub(base);
    let (pieces, tail) = match out.pieces.split_last() {
        Some((Piece::Keep { start, len }, rest)) if start.checked_add(*len) == Some(new) => {
            (rest, *len)
        }
        _ => (out.pieces.as_slice(), 0),
    };
    let mut bytes = Vec::new();
    if base > 0 {
        let mut held = HostSource::new(buffer, 0, base);
        if !meshka_codec::Source::read_into(&mut held, 0, base, &mut bytes) {
            return Err(Error::HostRead {
                start: 0,
                len: base,
            });
        }
    }
    for piece in pieces {
        match piece {
            Piece::Keep { start, len } => {
                if !meshka_codec::Source::read_into(src, *start, *len, &mut bytes) {
                    return Err(Error::HostRead {
                        start: *start,
                        len: *len,
                    });
                }
            }
            Piece::Bytes(b) => bytes.extend_from_slice(b),
        }
    }
    hostcalls::set_buffer(buffer, 0, size - tail, &bytes)
        .map_err(|_| Error::Internal("Envoy refused a buffer write"))?;
    Ok(bytes.len() + tail)
}

/// The connection's decisions (when a policy is in force) and observations.
struct ConnectionHooks<'a> {
    requests: &'a mut u64,
    responses: &'a mut u64,
    muted_until_ms: &'a mut u64,
    clock: &'a mut Clock,
    /// Whether the last request seen is timed.
    timed: &'a mut bool,
    now_ms: u64,
    enforcer: Option<Enforcer<'a>>,
}

impl Hooks for ConnectionHooks<'_> {
    fn inspect_requests(&self) -> bool {
        self.enforcer.is_some()
    }

    fn on_request_start(
        &mut self,
        head: &RequestHead<'_>,
        body: &[u8],
        _body_len: usize,
    ) -> Result<Early, Error> {
        match &mut self.enforcer {
            Some(e) => e.on_request_start(head, body),
            None => Ok(Early::Whole),
        }
    }

    fn on_request(&mut self, head: &RequestHead<'_>, body: &[u8]) -> Result<Verdict, Error> {
        match &mut self.enforcer {
            Some(e) => e.on_request(head, body),
            None => Ok(Verdict::Forward(Rewrite::None)),
        }
    }

    fn on_response(&mut self, request: &Pending, tag: u32, body: &[u8]) -> Result<Vec<u8>, Error> {
        let body = match &mut self.enforcer {
            Some(e) => e.on_response(request, tag, body)?,
            // The policy was removed while this response was on its way: nothing to rewrite.
            None => return Ok(body.to_vec()),
        };
        if enforce::is_throttled(tag) {
            // Hold the connection's next requests for the throttle time the response carries,
            // as a broker mutes a throttled channel.
            let (key, version) = (request.api.key(), request.api_version);
            let ms = throttle::throttle_time_offset(key, version, &body)
                .ok()
                .flatten()
                .and_then(|at| body.get(at..at.checked_add(4)?))
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, i32::from_be_bytes);
            if let Ok(ms) = u64::try_from(ms) {
                if ms > 0 {
                    metrics::throttled(ms);
                }
                *self.muted_until_ms = (*self.muted_until_ms).max(self.now_ms + ms);
            }
        }
        Ok(body)
    }

    fn request_seen(&mut self, event: RequestEvent<'_>) {
        *self.requests += 1;
        *self.timed = metrics::request(event.head.api);
    }

    fn timed(&mut self, _head: &RequestHead<'_>) -> bool {
        *self.timed
    }

    fn clock(&mut self) -> Option<u64> {
        Some(self.clock.now())
    }

    fn response_seen(&mut self, event: ResponseEvent) {
        *self.responses += 1;
        metrics::response(event.api, event.latency);
    }
}

impl Context for Connection {}

impl StreamContext for Connection {
    fn on_new_connection(&mut self) -> Action {
        metrics::connection_opened();
        Action::Continue
    }

    fn on_downstream_data(&mut self, size: usize, _end_of_stream: bool) -> Action {
        if !self.identified {
            self.identified = true;
            self.peer = property(vec!["connection", "uri_san_peer_certificate"]);
            self.principal = Principal::new(self.peer.as_deref(), None);
            if self.config.log_connections {
                let source = property(vec!["source", "address"]).unwrap_or_default();
                info!(
                    "meshka: connection={} opened peer={} source={source}",
                    self.id,
                    self.peer_name()
                );
            }
        }
        self.on_data(Direction::Request, size)
    }

    fn on_upstream_data(&mut self, size: usize, _end_of_stream: bool) -> Action {
        self.on_data(Direction::Response, size)
    }

    fn on_log(&mut self) {
        mute::release(self.id);
        // Also sends the VM's batched counters to Envoy.
        metrics::connection_closed();
        if self.config.log_connections {
            info!(
                "meshka: connection={} closed peer={} requests={} responses={} unanswered={}",
                self.id,
                self.peer_name(),
                self.requests,
                self.responses,
                self.session.in_flight()
            );
        }
    }

    fn on_downstream_close(&mut self, _peer: PeerType) {}
}
