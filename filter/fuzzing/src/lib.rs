//! The bodies of meshka's fuzz targets (`filter/fuzz`), in a crate of their own so that the
//! cargo-fuzz binaries and the regression corpus that `make test` replays
//! (`tests/corpus.rs`) run exactly the same code.
//!
//! Each target takes arbitrary bytes and must return without panicking; the invariants it checks
//! (memory held per connection, output of an observing session equal to its input) are
//! assertions, so a violation is a crash the fuzzer reports. The `*_input` functions build a
//! target's input from real frames (the seeds captured from real clients, `make fuzz-seeds`).

use std::collections::HashMap;

use meshka_codec::head::RequestHead;
use meshka_codec::inflight::Pending;
use meshka_codec::session::{Early, Observe};
use meshka_codec::{Error, Hooks, Limits, Output, Session, Verdict};
use meshka_policy::authz::{AuthorizationPolicy, CompiledPolicy, Principal};
use meshka_policy::config::FilterConfig;
use meshka_policy::enforce::{Enforcer, Records};
use meshka_policy::kafka;
use meshka_policy::route::{CompiledRouting, RoutingConfig};
use meshka_policy::sasl::Exchange;

/// The targets, by the name of their cargo-fuzz binary and corpus directory.
pub const TARGETS: [&str; 4] = ["frames", "enforce", "checks", "config"];

/// The bounds every fuzzed session runs with.
pub const LIMITS: Limits = Limits {
    max_frame_bytes: 1 << 20,
    max_header_bytes: 4096,
    max_in_flight: 64,
    max_hold_bytes: 1 << 16,
};

/// The policy the `enforce` target decides with: `shop/orders` writes and reads `orders.*` and
/// uses group `g`; everything else is denied.
pub const POLICY: &str = r#"{"rules": [{"action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Write", "Read"],
    "resources": [{"type": "topic", "name": "orders.", "patternType": "prefixed"}, {"type": "group", "name": "g"}]}]}"#;

/// The principal of the `enforce` target's connection.
pub const PEER: &str = "spiffe://cluster.local/ns/shop/sa/orders";

/// The routing the `enforce` target's second pass adds: [`PEER`] is a tenant whose topics are
/// `orders.<name>` on the broker, so what [`POLICY`] allows is renamed on its way (requests
/// renamed in their first bytes, answers mapped back).
pub const ROUTING: &str = r#"{"tenants": [{"name": "shop", "serviceAccounts": ["shop/orders"], "topicPrefix": "orders."}]}"#;

/// The compiled [`ROUTING`].
pub fn routing() -> Option<CompiledRouting> {
    let config: RoutingConfig = serde_json::from_str(ROUTING).ok()?;
    CompiledRouting::new(&config, "routing").ok()
}

/// Runs target `name` on `data`; `false` for an unknown target name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "frames" => {
            frames(data);
        }
        "enforce" => {
            enforce(data);
        }
        "checks" => checks(data),
        "config" => config(data),
        _ => return false,
    }
    true
}

/// `frames`: any byte stream, cut in two anywhere, through an observing session as requests
/// and then as responses: a result, never a panic; the requests pass unchanged and the session
/// holds no more than a length prefix and a header. Returns the error that ended the requests.
///
/// Input: `[cut][stream…]`, the stream cut after `cut` bytes.
pub fn frames(data: &[u8]) -> Option<meshka_codec::Error> {
    let [cut, stream @ ..] = data else {
        return None;
    };
    let (a, b) = stream.split_at(usize::from(*cut).min(stream.len()));
    let mut session = Session::new(LIMITS);
    let mut hooks = Observe(|_, _| {});
    let mut error = None;
    for piece in [a, b] {
        let mut out = Output::default();
        let mut src = piece;
        if let Err(e) = session.on_request_data(&mut src, 0, &mut hooks, &mut out) {
            error = Some(e);
            break;
        }
        assert!(out.is_unchanged(piece.len()));
        assert!(session.held_bytes() <= 4 + LIMITS.max_header_bytes);
    }
    let mut out = Output::default();
    let mut src = stream;
    let _ = session.on_response_data(&mut src, 0, &mut hooks, &mut out);
    error
}

/// The input of [`frames`] for a request stream: the stream cut after `cut` bytes.
pub fn frames_input(cut: u8, stream: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(1 + stream.len());
    data.push(cut);
    data.extend_from_slice(stream);
    data
}

/// The compiled [`POLICY`].
pub fn policy() -> Option<CompiledPolicy> {
    serde_json::from_str::<AuthorizationPolicy>(POLICY)
        .ok()?
        .compile()
        .ok()
}

/// One connection's enforcement state, as the Wasm layer keeps it.
pub struct Conn {
    pub principal: Principal,
    pub sasl: Exchange,
    pub topic_ids: HashMap<[u8; 16], String>,
    pub merges: Vec<(i32, kafka::Denied)>,
    pub records: Records,
}

impl Conn {
    pub fn new(peer: &str) -> Conn {
        Conn {
            principal: Principal::new(Some(peer), None),
            sasl: Exchange::default(),
            topic_ids: HashMap::new(),
            merges: Vec::new(),
            records: Records::default(),
        }
    }

    /// The codec hooks that decide with `policy`.
    pub fn hooks<'a>(&'a mut self, policy: &'a CompiledPolicy) -> Adapter<'a> {
        self.routed_hooks(policy, None)
    }

    /// The codec hooks that decide with `policy` and route with `routing`.
    pub fn routed_hooks<'a>(
        &'a mut self,
        policy: &'a CompiledPolicy,
        routing: Option<&'a CompiledRouting>,
    ) -> Adapter<'a> {
        Adapter(Enforcer {
            policy,
            principal: &mut self.principal,
            sasl: &mut self.sasl,
            topic_ids: &mut self.topic_ids,
            merges: &mut self.merges,
            close_on_denied_acks_zero: false,
            records: &mut self.records,
            routing,
            hold_limit: 1 << 24,
            quota_clock: None,
        })
    }
}

/// The enforcer as codec hooks, as the Wasm layer wires them (`filter/wasm/src/connection.rs`).
pub struct Adapter<'a>(pub Enforcer<'a>);

impl Hooks for Adapter<'_> {
    fn inspect_requests(&self) -> bool {
        true
    }
    fn on_request_start(
        &mut self,
        head: &RequestHead<'_>,
        body: &[u8],
        _body_len: usize,
    ) -> Result<Early, Error> {
        self.0.on_request_start(head, body)
    }
    fn on_request(&mut self, head: &RequestHead<'_>, body: &[u8]) -> Result<Verdict, Error> {
        self.0.on_request(head, body)
    }
    fn on_response(&mut self, request: &Pending, tag: u32, body: &[u8]) -> Result<Vec<u8>, Error> {
        self.0.on_response(request, tag, body)
    }
}

/// What an [`enforce`] run did, for the regression test's checks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnforceRun {
    /// The error that ended the request stream, if any.
    pub request_error: Option<String>,
    /// The error that ended the response stream, if any.
    pub response_error: Option<String>,
    /// Decisions made, and how many allowed everything they checked.
    pub decisions: usize,
    pub allowed: usize,
    /// Requests still waiting for a response at the end.
    pub in_flight: usize,
    /// Bytes sent on to the broker and to the client.
    pub to_broker: Vec<u8>,
    pub to_client: Vec<u8>,
}

/// `enforce`: a request stream and a response stream through the enforcer with [`POLICY`] for
/// [`PEER`], each fed in two pieces: never a panic, and after every piece the connection holds
/// at most one frame of `maxHoldBytes` per direction, at most `maxInFlight` pending requests,
/// and at most one pending merge per request in flight. The same again with [`ROUTING`]; the
/// run returned is the one without.
///
/// Input: `[cut][requests length: u16 BE][requests…][responses…]`; both streams are cut after
/// `cut` bytes.
pub fn enforce(data: &[u8]) -> EnforceRun {
    let run = enforce_with(data, None);
    let _ = enforce_with(data, routing().as_ref());
    run
}

fn enforce_with(data: &[u8], routing: Option<&CompiledRouting>) -> EnforceRun {
    let mut run = EnforceRun::default();
    let [cut, l0, l1, rest @ ..] = data else {
        return run;
    };
    let split = usize::from(u16::from_be_bytes([*l0, *l1])).min(rest.len());
    let (requests, responses) = rest.split_at(split);
    let Some(policy) = policy() else {
        return run;
    };
    let mut conn = Conn::new(PEER);
    let mut session = Session::new(LIMITS);
    let cut = usize::from(*cut);
    let bounded = |session: &Session, merges: usize| {
        assert!(session.held_bytes() <= 2 * (LIMITS.max_hold_bytes + 4));
        assert!(session.in_flight() <= LIMITS.max_in_flight);
        assert!(merges <= session.in_flight());
    };
    for (stream, is_request) in [(requests, true), (responses, false)] {
        let (a, b) = stream.split_at(cut.min(stream.len()));
        for piece in [a, b] {
            let mut out = Output::default();
            let mut src = piece;
            let mut hooks = conn.routed_hooks(&policy, routing);
            let result = if is_request {
                session.on_request_data(&mut src, 0, &mut hooks, &mut out)
            } else {
                session.on_response_data(&mut src, 0, &mut hooks, &mut out)
            };
            bounded(&session, conn.merges.len());
            let rendered = out.render(piece);
            assert!(
                result.is_err() || rendered.is_some(),
                "the output names bytes outside its input"
            );
            // As the Wasm layer does: a callback that fails sends none of its bytes on.
            if result.is_ok() {
                let sent = if is_request {
                    &mut run.to_broker
                } else {
                    &mut run.to_client
                };
                sent.extend(rendered.unwrap_or_default());
            }
            if let Err(e) = result {
                let slot = if is_request {
                    &mut run.request_error
                } else {
                    &mut run.response_error
                };
                *slot = Some(e.to_string());
                break;
            }
        }
        if run.request_error.is_some() {
            break;
        }
    }
    run.decisions = conn.records.len();
    run.allowed = conn.records.iter().filter(|r| r.allowed).count();
    run.in_flight = session.in_flight();
    run
}

/// The input of [`enforce`] for a request and a response stream, both cut after `cut` bytes.
/// `None` when the requests are longer than the length field allows.
pub fn enforce_input(cut: u8, requests: &[u8], responses: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(requests.len()).ok()?;
    let mut data = Vec::with_capacity(3 + requests.len() + responses.len());
    data.push(cut);
    data.extend_from_slice(&len.to_be_bytes());
    data.extend_from_slice(requests);
    data.extend_from_slice(responses);
    Some(data)
}

/// `checks`: the request → checks table and the synthesized denials on arbitrary bodies:
/// errors, no panics, no huge allocations (kafka-protocol pre-allocates by wire counts; the
/// guard must stop that).
///
/// Input: `[api key: i16 BE][version: i16 BE][body…]` (key taken mod 100, version mod 20).
pub fn checks(data: &[u8]) {
    let [k0, k1, v0, v1, body @ ..] = data else {
        return;
    };
    let key = i16::from_be_bytes([*k0, *k1]) % 100;
    let version = i16::from_be_bytes([*v0, *v1]) % 20;
    let _ = kafka::request_checks(key, version, body);
    let _ = kafka::deny_response(key, version, 1, body);
    let _ = kafka::clamp_api_versions(version, body);
    let _ = kafka::filter_metadata_response(version, body, &mut |_| true);
}

/// The input of [`checks`] for a request body.
pub fn checks_input(key: i16, version: i16, body: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(4 + body.len());
    data.extend_from_slice(&key.to_be_bytes());
    data.extend_from_slice(&version.to_be_bytes());
    data.extend_from_slice(body);
    data
}

/// `config`: the plugin configuration parser on arbitrary input: a configuration (whose policy
/// then compiles or is refused) or an error naming the field.
pub fn config(data: &[u8]) {
    if let Ok(config) = FilterConfig::from_json(data) {
        if let Some(authz) = &config.authorization {
            let _ = authz.compile();
        }
    }
}
