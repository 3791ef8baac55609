//! Heap allocations per request on the hot path: a connection producing 1-record batches to one
//! topic, each request read whole in one callback and its response in the next, as the rate
//! load of `make bench` sends them. Counted by a global allocator for this thread, after a
//! warm-up that lets the connection's reused buffers reach their size.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::heap::allocations;
use meshka_codec::session::Hooks;
use meshka_codec::{Output, Session};
use meshka_fuzzing::{policy, routing, Conn, LIMITS, PEER};
use meshka_policy::authz::CompiledPolicy;
use meshka_policy::route::CompiledRouting;

fn uvarint(mut n: usize, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A Produce v9 request (acks=1, flexible header with client id "rdkafka") of one 1 KiB batch
/// to partition 0 of `topic`.
fn produce(correlation_id: i32, topic: &str) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0i16.to_be_bytes());
    f.extend_from_slice(&9i16.to_be_bytes());
    f.extend_from_slice(&correlation_id.to_be_bytes());
    f.extend_from_slice(&7i16.to_be_bytes());
    f.extend_from_slice(b"rdkafka");
    f.push(0);
    f.push(0); // no transactional id
    f.extend_from_slice(&1i16.to_be_bytes());
    f.extend_from_slice(&5000i32.to_be_bytes());
    uvarint(2, &mut f);
    uvarint(topic.len() + 1, &mut f);
    f.extend_from_slice(topic.as_bytes());
    uvarint(2, &mut f);
    f.extend_from_slice(&0i32.to_be_bytes());
    uvarint(1024 + 1, &mut f);
    f.extend(std::iter::repeat_n(0xab, 1024));
    f.extend_from_slice(&[0, 0, 0]);
    framed(f)
}

/// Its response: partition 0 of `topic` at `offset`, no error.
fn produce_response(correlation_id: i32, topic: &str, offset: i64) -> Vec<u8> {
    let mut f = correlation_id.to_be_bytes().to_vec();
    f.push(0);
    uvarint(2, &mut f);
    uvarint(topic.len() + 1, &mut f);
    f.extend_from_slice(topic.as_bytes());
    uvarint(2, &mut f);
    f.extend_from_slice(&0i32.to_be_bytes());
    f.extend_from_slice(&0i16.to_be_bytes());
    f.extend_from_slice(&offset.to_be_bytes());
    f.extend_from_slice(&(-1i64).to_be_bytes());
    f.extend_from_slice(&(-1i64).to_be_bytes());
    f.push(1); // no record errors
    f.push(0); // null error message
    f.push(0);
    f.push(0);
    f.extend_from_slice(&0i32.to_be_bytes());
    f.push(0);
    framed(f)
}

fn framed(body: Vec<u8>) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

/// Allocations per request and response after a warm-up, with `policy` (and `routing`, under
/// which the broker's topic is `broker_topic`), or without a policy when `policy` is `None`.
fn per_exchange(
    policy: Option<&CompiledPolicy>,
    routing: Option<&CompiledRouting>,
    topic: &str,
    broker_topic: &str,
) -> f64 {
    const WARM_UP: i32 = 200;
    const MEASURED: i32 = 2_000;
    let mut conn = Conn::new(PEER);
    let mut session = Session::new(LIMITS);
    let mut out = Output::default();
    let requests: Vec<Vec<u8>> = (0..WARM_UP + MEASURED).map(|i| produce(i, topic)).collect();
    let responses: Vec<Vec<u8>> = (0..WARM_UP + MEASURED)
        .map(|i| produce_response(i, broker_topic, i64::from(i)))
        .collect();
    let mut before = 0;
    for i in 0..WARM_UP + MEASURED {
        if i == WARM_UP {
            before = allocations();
        }
        let index = usize::try_from(i).unwrap();
        for (frame, is_request) in [(&requests[index], true), (&responses[index], false)] {
            out.clear();
            let mut src = frame.as_slice();
            let result = match policy {
                Some(policy) => {
                    let mut hooks = conn.routed_hooks(policy, routing);
                    feed(&mut session, is_request, &mut src, &mut hooks, &mut out)
                }
                None => feed(&mut session, is_request, &mut src, &mut Framing, &mut out),
            };
            result.unwrap();
            assert!(out.is_unchanged(frame.len()) || routing.is_some());
            assert!(
                conn.records.iter().all(|r| r.forwarded),
                "{:?}",
                &*conn.records
            );
            assert_eq!(
                conn.records.len(),
                usize::from(policy.is_some() && is_request)
            );
            conn.records.clear();
        }
    }
    (allocations() - before) as f64 / f64::from(MEASURED)
}

fn feed(
    session: &mut Session,
    is_request: bool,
    src: &mut &[u8],
    hooks: &mut impl Hooks,
    out: &mut Output,
) -> Result<usize, meshka_codec::Error> {
    if is_request {
        session.on_request_data(src, 0, hooks, out)
    } else {
        session.on_response_data(src, 0, hooks, out)
    }
}

/// The filter without a policy: frames, decides nothing.
struct Framing;

impl Hooks for Framing {
    fn inspect_requests(&self) -> bool {
        false
    }
}

#[test]
fn a_streamed_produce_allocates_nothing_per_request() {
    let policy = policy().unwrap();
    let framing = per_exchange(None, None, "orders.eu", "orders.eu");
    let allowed = per_exchange(Some(&policy), None, "orders.eu", "orders.eu");
    let routing = routing().unwrap();
    let routed = per_exchange(Some(&policy), Some(&routing), "eu", "orders.eu");
    println!(
        "allocations per 1-record Produce and its response: no policy {framing}, policy {allowed}, \
         policy + topic rewriting {routed}"
    );
    assert_eq!(framing, 0.0, "without a policy");
    assert_eq!(
        allowed, 0.0,
        "with a policy (the decision record is recycled)"
    );
    // Topic rewriting builds the renamed head and the renamed response in new buffers.
    assert!(routed <= 10.0, "with topic rewriting: {routed}");
}
