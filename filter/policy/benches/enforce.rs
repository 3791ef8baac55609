//! The filter's decisions on the hot path, each against a baseline that fully decodes the same
//! message with `kafka-protocol` (what a filter without meshka's codec would pay at least):
//!
//! - a Produce request decided by [`Enforcer`] (100-rule policy) for 1, 10 and 100 partitions
//!   and 1 KiB, 16 KiB and 1 MiB record batches per partition (1 KiB records);
//! - a Metadata response filtered to what the caller may describe, with 10 and 1,000 topics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::metadata_response::{
    MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, MetadataResponse, ProduceRequest, RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use meshka_codec::head::parse_request;
use meshka_policy::authz::{
    AuthorizationPolicy, CompiledPolicy, Operation, Principal, ResourceType,
};
use meshka_policy::enforce::Enforcer;
use meshka_policy::kafka::filter_metadata_response;
use meshka_policy::sasl::Exchange;

const PRODUCE_VERSION: i16 = 9;
const METADATA_VERSION: i16 = 12;
const RECORD_BYTES: usize = 1024;

/// The end-to-end bench's 100-rule policy: the producer `apps/orders` may write `bench.*`.
fn policy() -> CompiledPolicy {
    let mut rules = Vec::new();
    for i in 0..100 {
        if i == 50 {
            rules.push(serde_json::json!({
                "name": "orders-writes-bench", "action": "allow", "serviceAccounts": ["apps/orders"],
                "operations": ["Write", "Describe", "Create"],
                "resources": [{"type": "topic", "name": "bench.", "patternType": "prefixed"}]
            }));
            continue;
        }
        let topic = match i % 3 {
            0 => serde_json::json!({"type": "topic", "name": format!("team-{i}.orders")}),
            1 => {
                serde_json::json!({"type": "topic", "name": format!("team-{i}."), "patternType": "prefixed"})
            }
            _ => {
                serde_json::json!({"type": "topic", "name": format!("bench.t{i}"), "patternType": "prefixed"})
            }
        };
        rules.push(serde_json::json!({
            "name": format!("rule-{i}"),
            "action": if i % 10 == 9 { "deny" } else { "allow" },
            "principals": [format!("spiffe://cluster.local/ns/team-{i}/sa/writer")],
            "namespaces": [format!("team-{i}")],
            "serviceAccounts": [format!("team-{i}/reader")],
            "users": [format!("User:svc-{i}")],
            "operations": ["Read", "Write", "Describe"],
            "resources": [topic, {"type": "group", "name": format!("g-{i}")}]
        }));
    }
    serde_json::from_value::<AuthorizationPolicy>(serde_json::json!({ "rules": rules }))
        .unwrap()
        .compile()
        .unwrap()
}

fn principal() -> Principal {
    Principal::from_spiffe_id("spiffe://cluster.local/ns/apps/sa/orders")
}

/// One uncompressed v2 record batch of `bytes` in 1 KiB records.
fn batch(bytes: usize) -> Bytes {
    let value = Bytes::from(vec![7u8; RECORD_BYTES - 64]);
    let records: Vec<Record> = (0..(bytes / RECORD_BYTES).max(1))
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: -1,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(value.clone()),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

/// A Produce request frame (length prefix included) to `bench.load`.
fn produce_frame(partitions: usize, batch_bytes: usize) -> Vec<u8> {
    let records = batch(batch_bytes);
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("bench.load")))
            .with_partition_data(
                (0..partitions)
                    .map(|p| {
                        PartitionProduceData::default()
                            .with_index(p as i32)
                            .with_records(Some(records.clone()))
                    })
                    .collect(),
            )]);
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(ApiKey::Produce as i16)
        .with_request_api_version(PRODUCE_VERSION)
        .with_correlation_id(42)
        .with_client_id(Some(StrBytes::from_static_str("rdkafka")))
        .encode(
            &mut buf,
            ApiKey::Produce.request_header_version(PRODUCE_VERSION),
        )
        .unwrap();
    request.encode(&mut buf, PRODUCE_VERSION).unwrap();
    meshka_codec::edit::frame(&buf)
}

fn produce(c: &mut Criterion) {
    let policy = policy();
    let mut group = c.benchmark_group("produce decision");
    for partitions in [1usize, 10, 100] {
        for (batch_bytes, label) in [(1 << 10, "1KiB"), (16 << 10, "16KiB"), (1 << 20, "1MiB")] {
            // The filter holds at most maxHoldBytes (16 MiB) of a request.
            if partitions * batch_bytes > 16 << 20 {
                continue;
            }
            let frame = produce_frame(partitions, batch_bytes);
            let param = format!("{partitions}p x {label}");
            group.throughput(Throughput::Bytes(frame.len() as u64));
            let frame_len = frame.len() - 4;
            let after_prefix = &frame[4..];
            group.bench_with_input(
                BenchmarkId::new("meshka Enforcer", &param),
                after_prefix,
                |b, f| {
                    let mut principal = principal();
                    let mut sasl = Exchange::default();
                    let mut ids: HashMap<[u8; 16], String> = HashMap::new();
                    let mut records = Vec::new();
                    let mut merges = Vec::new();
                    b.iter(|| {
                        let head = parse_request(black_box(f), frame_len).unwrap().unwrap();
                        let body = &f[head.header_len..];
                        let mut enforcer = Enforcer {
                            policy: &policy,
                            principal: &mut principal,
                            sasl: &mut sasl,
                            topic_ids: &mut ids,
                            merges: &mut merges,
                            close_on_denied_acks_zero: false,
                            records: &mut records,
                            routing: None,
                            hold_limit: 1 << 24,
                            quota_clock: None,
                        };
                        let verdict = enforcer.on_request(&head, body).unwrap();
                        records.clear();
                        verdict
                    })
                },
            );
            group.bench_with_input(
                BenchmarkId::new("kafka-protocol full decode", &param),
                after_prefix,
                |b, f| {
                    b.iter(|| {
                        let mut buf = Bytes::copy_from_slice(black_box(f));
                        let header = RequestHeader::decode(
                            &mut buf,
                            ApiKey::Produce.request_header_version(PRODUCE_VERSION),
                        )
                        .unwrap();
                        let request = ProduceRequest::decode(&mut buf, PRODUCE_VERSION).unwrap();
                        (header.correlation_id, request.topic_data.len())
                    })
                },
            );
        }
    }
    group.finish();
}

/// A Metadata response body (after the response header) listing `topics` topics with 3
/// partitions each; every other one is named `bench.*` (visible to the caller), the rest
/// `team-*.orders` (hidden).
fn metadata_body(topics: usize) -> Vec<u8> {
    let response = MetadataResponse::default().with_topics(
        (0..topics)
            .map(|i| {
                let name = if i % 2 == 0 {
                    format!("bench.topic-{i}")
                } else {
                    format!("team-{i}.orders")
                };
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string(name))))
                    .with_topic_id(uuid::Uuid::from_u128(i as u128 + 1))
                    .with_partitions(
                        (0..3)
                            .map(|p| {
                                MetadataResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_leader_id(BrokerId(1))
                                    .with_replica_nodes(vec![BrokerId(1)])
                                    .with_isr_nodes(vec![BrokerId(1)])
                            })
                            .collect(),
                    )
            })
            .collect(),
    );
    let mut buf = BytesMut::new();
    response.encode(&mut buf, METADATA_VERSION).unwrap();
    buf.to_vec()
}

fn metadata(c: &mut Criterion) {
    let policy = policy();
    let principal = principal();
    let mut group = c.benchmark_group("metadata response filter");
    for topics in [10usize, 1000] {
        let body = metadata_body(topics);
        group.throughput(Throughput::Elements(topics as u64));
        group.bench_with_input(
            BenchmarkId::new("meshka filter_metadata_response", topics),
            &body,
            |b, body| {
                b.iter(|| {
                    filter_metadata_response(METADATA_VERSION, black_box(body), &mut |topic| {
                        policy
                            .decide(&principal, ResourceType::Topic, topic, Operation::Describe)
                            .permits()
                    })
                    .unwrap()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("kafka-protocol full decode", topics),
            &body,
            |b, body| {
                b.iter(|| {
                    let mut buf = Bytes::copy_from_slice(black_box(body));
                    MetadataResponse::decode(&mut buf, METADATA_VERSION)
                        .unwrap()
                        .topics
                        .len()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("kafka-protocol decode, filter, encode", topics),
            &body,
            |b, body| {
                b.iter(|| {
                    let mut buf = Bytes::copy_from_slice(black_box(body));
                    let mut response =
                        MetadataResponse::decode(&mut buf, METADATA_VERSION).unwrap();
                    response.topics.retain(|t| {
                        t.name.as_ref().is_some_and(|n| {
                            policy
                                .decide(&principal, ResourceType::Topic, n, Operation::Describe)
                                .permits()
                        })
                    });
                    let mut out = BytesMut::new();
                    response.encode(&mut out, METADATA_VERSION).unwrap();
                    out.len()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, produce, metadata);
criterion_main!(benches);
