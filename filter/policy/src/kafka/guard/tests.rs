//! The tables against kafka-protocol itself: messages written from the tables (every api, every
//! version, arrays, nulls and tagged fields filled at random) decode with kafka-protocol to their
//! last byte, and the guard reads exactly the bytes kafka-protocol reads — also when the bytes
//! are damaged.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Request};

use super::schema::{REQUEST_MESSAGES as REQUESTS, RESPONSE_MESSAGES as RESPONSES, SCHEMAS};
use super::{GuardError, Len, Null, Op};
use crate::kafka::tests::{all_apis, Visit};

/// xorshift64*: the same messages every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn uvarint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A length or count, or null.
fn write_length(out: &mut Vec<u8>, len: &Len, n: Option<usize>) {
    match len {
        Len::Int16 => out.extend(n.map_or(-1, |n| n as i16).to_be_bytes()),
        Len::Int32 => out.extend(n.map_or(-1, |n| n as i32).to_be_bytes()),
        Len::Varint => uvarint(out, n.map_or(0, |n| n as u32 + 1)),
    }
}

/// A message as the tables lay it out at `version`, with random contents.
fn write_struct(id: u16, version: i16, rng: &mut Rng, out: &mut Vec<u8>) {
    let schema = &SCHEMAS[usize::from(id)];
    let layout = schema
        .layouts
        .iter()
        .find(|l| l.versions.0 <= version && version <= l.versions.1)
        .unwrap_or_else(|| panic!("{} has no layout at v{version}", schema.name));
    for (_, op) in layout.fields {
        write_op(op, version, rng, out);
    }
    if let Some(known) = layout.tagged {
        let mut fields: Vec<(u32, Vec<u8>)> = vec![];
        for (tag, _, op) in known.iter() {
            if let (Some(op), 0) = (op, rng.below(2)) {
                let mut value = vec![];
                write_op(op, version, rng, &mut value);
                fields.push((*tag, value));
            }
        }
        if rng.below(3) == 0 {
            // A tag from a newer Kafka: skipped by its size.
            let mut value = vec![];
            let n = rng.below(4) as usize;
            ascii(rng, &mut value, n);
            fields.push((1000 + rng.below(50) as u32, value));
        }
        uvarint(out, fields.len() as u32);
        for (tag, value) in fields {
            uvarint(out, tag);
            uvarint(out, value.len() as u32);
            out.extend(value);
        }
    }
}

fn ascii(rng: &mut Rng, out: &mut Vec<u8>, n: usize) {
    out.extend((0..n).map(|_| b'a' + rng.below(26) as u8));
}

fn write_op(op: &Op, version: i16, rng: &mut Rng, out: &mut Vec<u8>) {
    match op {
        Op::Int(kind) => out.extend((0..kind.size()).map(|_| rng.next() as u8)),
        Op::String(len, null) | Op::Bytes(len, null) => {
            if *null == Null::Nullable && rng.below(4) == 0 {
                write_length(out, len, None);
            } else {
                let n = rng.below(6) as usize;
                write_length(out, len, Some(n));
                ascii(rng, out, n);
            }
        }
        Op::Struct(id) => write_struct(*id, version, rng, out),
        Op::OptionStruct(id) => {
            if rng.below(2) == 0 {
                out.push(0xff);
            } else {
                out.push(1);
                write_struct(*id, version, rng, out);
            }
        }
        Op::Array(len, null, element) => {
            if *null == Null::Nullable && rng.below(4) == 0 {
                write_length(out, len, None);
            } else {
                let n = rng.below(3) as usize;
                write_length(out, len, Some(n));
                for _ in 0..n {
                    write_op(element, version, rng, out);
                }
            }
        }
    }
}

fn versions(id: u16) -> impl Iterator<Item = i16> {
    SCHEMAS[usize::from(id)]
        .layouts
        .iter()
        .flat_map(|l| l.versions.0..=l.versions.1)
}

/// kafka-protocol's decode of `T`: Ok(bytes read) or the error.
fn kafka_protocol<T: Decodable>(body: &[u8], version: i16) -> Result<usize, String> {
    let mut buf = Bytes::copy_from_slice(body);
    T::decode(&mut buf, version)
        .map(|_| body.len() - buf.remaining())
        .map_err(|e| format!("{e:#}"))
}

#[derive(Default)]
struct Compare {
    rng: u64,
    messages: usize,
    damaged: usize,
    refused: usize,
}

impl Compare {
    fn message<T: Decodable>(
        &mut self,
        what: &str,
        id: u16,
        guard: fn(i16, i16, &[u8]) -> Result<usize, GuardError>,
        key: i16,
    ) {
        let mut rng = Rng(self.rng ^ (u64::from(id) << 32) ^ 0x9e37_79b9_7f4a_7c15);
        for v in versions(id) {
            for _ in 0..40 {
                let mut body = vec![];
                write_struct(id, v, &mut rng, &mut body);
                self.messages += 1;
                let decoded = kafka_protocol::<T>(&body, v);
                assert_eq!(
                    decoded,
                    Ok(body.len()),
                    "{what} {key} v{v}: kafka-protocol does not read the message the tables lay out: {body:02x?}"
                );
                assert_eq!(guard(key, v, &body), Ok(body.len()), "{what} {key} v{v}");
                for _ in 0..8 {
                    let damaged = damage(&body, &mut rng);
                    self.damaged += 1;
                    match guard(key, v, &damaged) {
                        // kafka-protocol would abort here: the guard is what stops it.
                        Err(GuardError::Claims { .. }) => self.refused += 1,
                        Err(e) => assert!(
                            kafka_protocol::<T>(&damaged, v).is_err(),
                            "{what} {key} v{v}: the guard refused ({e}) what kafka-protocol decodes: {damaged:02x?}"
                        ),
                        Ok(read) => assert_eq!(
                            kafka_protocol::<T>(&damaged, v),
                            Ok(read),
                            "{what} {key} v{v}: {damaged:02x?}"
                        ),
                    }
                }
            }
        }
    }
}

/// A few bytes overwritten (edge values included), cut short, or with bytes after it.
fn damage(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = body.to_vec();
    match rng.below(3) {
        0 if !out.is_empty() => {
            let at = rng.below(out.len() as u64) as usize;
            out.truncate(at);
        }
        1 => out.extend((0..1 + rng.below(4)).map(|_| rng.next() as u8)),
        _ => {
            for _ in 0..1 + rng.below(3) {
                if out.is_empty() {
                    break;
                }
                let at = rng.below(out.len() as u64) as usize;
                let edge = [0u8, 1, 2, 0x7f, 0x80, 0xff];
                out[at] = if rng.below(2) == 0 {
                    edge[rng.below(6) as usize]
                } else {
                    rng.next() as u8
                };
            }
        }
    }
    out
}

impl Visit for Compare {
    fn visit<R: Request + Default>(&mut self) {
        let key = R::KEY;
        let find = |table: &[(i16, u16)]| table.iter().find(|(k, _)| *k == key).map(|&(_, id)| id);
        let id = find(REQUESTS).unwrap_or_else(|| panic!("no request layout for api {key}"));
        self.message::<R>("request", id, super::request, key);
        if let Some(id) = find(RESPONSES) {
            self.message::<R::Response>("response", id, super::response, key);
        }
    }
}

#[test]
fn the_tables_read_what_kafka_protocol_reads() {
    let mut compare = Compare {
        rng: 0x5eed,
        ..Compare::default()
    };
    all_apis(&mut compare);
    eprintln!(
        "{} messages, {} damaged copies ({} refused for their array counts)",
        compare.messages, compare.damaged, compare.refused
    );
    assert!(compare.refused > 100, "damage reached no array count");
}

#[test]
fn every_request_and_listed_response_has_a_layout() {
    for (key, _) in REQUESTS.iter().chain(RESPONSES) {
        assert!(
            ApiKey::try_from(*key).is_ok(),
            "api key {key} is not one kafka-protocol knows"
        );
    }
    assert!(REQUESTS.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
    assert!(RESPONSES.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
    assert_eq!(RESPONSES.len(), 52);
    assert_eq!(
        super::response(ApiKey::SaslHandshake as i16, 1, &[0, 0]),
        Err(GuardError::NoSchema {
            what: "response",
            api_key: 17
        })
    );
}

#[test]
fn a_table_error_is_an_error() {
    let mut walk = super::Walk::new(&[], 0);
    assert_eq!(
        walk.structure(u16::MAX, "test").err(),
        Some(GuardError::Table { within: "test" })
    );
}

/// An array's elements are checked against the bytes left, and a decoded tree holds one value
/// per element: that bounds it only when no element can take zero bytes.
#[test]
fn every_array_element_takes_a_byte() {
    fn empty(op: &Op, version: i16) -> bool {
        match op {
            Op::Struct(id) => {
                let l = SCHEMAS[usize::from(*id)]
                    .layouts
                    .iter()
                    .find(|l| l.versions.0 <= version && version <= l.versions.1)
                    .unwrap();
                l.tagged.is_none() && l.fields.iter().all(|(_, op)| empty(op, version))
            }
            _ => false,
        }
    }
    fn check(op: &Op, version: i16, name: &str) {
        if let Op::Array(_, _, element) = op {
            assert!(!empty(element, version), "{name} v{version}");
            check(element, version, name);
        }
    }
    for schema in SCHEMAS {
        for layout in schema.layouts {
            for version in layout.versions.0..=layout.versions.1 {
                for (_, op) in layout.fields {
                    check(op, version, schema.name);
                }
            }
        }
    }
}

#[test]
fn edits_replace_exactly_their_ranges_in_any_order() {
    use crate::kafka::splice::{Edits, Span, Width};
    // "ab" as an i16-length string at 1..5, "xyz" as a compact string at 6..10.
    let body = [9, 0, 2, b'a', b'b', 7, 4, b'x', b'y', b'z', 8];
    let first = Span {
        start: 1,
        end: 5,
        width: Width::Int16,
    };
    let second = Span {
        start: 6,
        end: 10,
        width: Width::Varint,
    };
    let mut edits = Edits::default();
    edits.rename(second, "q");
    edits.rename(first, "long");
    assert_eq!(
        edits.apply(&body, "test", 0).unwrap(),
        [9, 0, 4, b'l', b'o', b'n', b'g', 7, 2, b'q', 8]
    );
    // Longer than an i16 length holds: refused, not truncated.
    let mut edits = Edits::default();
    edits.rename(first, &"n".repeat(40_000));
    assert!(edits.apply(&body, "test", 0).is_err());
    // A compact length of 200 takes two bytes.
    let mut edits = Edits::default();
    edits.rename(second, &"m".repeat(199));
    let out = edits.apply(&body, "test", 0).unwrap();
    assert_eq!(&out[6..8], [0xc8, 0x01]);
    assert_eq!(out.len(), body.len() - 4 + 2 + 199);
    // Overlapping replacements are refused.
    let mut edits = Edits::default();
    edits.remove((1, 6));
    edits.rename(second, "q");
    edits.remove((4, 8));
    assert!(edits.apply(&body, "test", 0).is_err());
    // An element removed and its array's count lowered; a nullable struct made null.
    let mut edits = Edits::default();
    edits.count(
        Span {
            start: 0,
            end: 1,
            width: Width::Varint,
        },
        1,
    );
    edits.remove((1, 5));
    edits.null((10, 11));
    assert_eq!(
        edits.apply(&body, "test", 0).unwrap(),
        [2, 7, 4, b'x', b'y', b'z', 0xff]
    );
}

/// The responses the denials write from the tables (`write_response`) are kafka-protocol's own
/// `Default` responses, byte for byte, at every version, before any field is set.
#[test]
fn written_responses_are_kafka_protocols_defaults() {
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::Encodable;
    fn check<R: Request>(response: impl Encodable) {
        let key = ApiKey::try_from(R::KEY).unwrap();
        for v in crate::kafka::tests::versions(key) {
            let mut expected = bytes::BytesMut::new();
            response.encode(&mut expected, v).unwrap();
            assert_eq!(
                super::write_response(R::KEY, v, &[]).as_deref(),
                Some(&expected[..]),
                "{key:?} v{v}"
            );
        }
    }
    macro_rules! each {
        ($($req:ident => $resp:ident),* $(,)?) => {$( check::<$req>($resp::default()); )*};
    }
    each!(
        HeartbeatRequest => HeartbeatResponse,
        LeaveGroupRequest => LeaveGroupResponse,
        SyncGroupRequest => SyncGroupResponse,
        JoinGroupRequest => JoinGroupResponse,
        ListGroupsRequest => ListGroupsResponse,
        AddOffsetsToTxnRequest => AddOffsetsToTxnResponse,
        EndTxnRequest => EndTxnResponse,
        InitProducerIdRequest => InitProducerIdResponse,
        DescribeAclsRequest => DescribeAclsResponse,
        AlterPartitionReassignmentsRequest => AlterPartitionReassignmentsResponse,
        ListPartitionReassignmentsRequest => ListPartitionReassignmentsResponse,
        DescribeClientQuotasRequest => DescribeClientQuotasResponse,
        DescribeUserScramCredentialsRequest => DescribeUserScramCredentialsResponse,
        DescribeQuorumRequest => DescribeQuorumResponse,
        UpdateFeaturesRequest => UpdateFeaturesResponse,
        UnregisterBrokerRequest => UnregisterBrokerResponse,
        ListConfigResourcesRequest => ListConfigResourcesResponse,
        ListTransactionsRequest => ListTransactionsResponse,
        ConsumerGroupHeartbeatRequest => ConsumerGroupHeartbeatResponse,
        ShareGroupHeartbeatRequest => ShareGroupHeartbeatResponse,
        ShareFetchRequest => ShareFetchResponse,
        ShareAcknowledgeRequest => ShareAcknowledgeResponse,
        AlterShareGroupOffsetsRequest => AlterShareGroupOffsetsResponse,
        DeleteShareGroupOffsetsRequest => DeleteShareGroupOffsetsResponse,
        DescribeLogDirsRequest => DescribeLogDirsResponse,
    );
}
