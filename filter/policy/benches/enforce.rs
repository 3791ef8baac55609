//! The filter's decisions on the hot path, each against a baseline that fully decodes the same
//! message with `kafka-protocol` (what a filter without meshka's codec would pay at least):
//!
//! - a Produce request decided by [`Enforcer`] (100-rule policy) for 1, 10 and 100 partitions
//!   and 1 KiB, 16 KiB and 1 MiB record batches per partition (1 KiB records): held whole and
//!   decided (`on_request`), and decided from its first 128 bytes while the rest streams
//!   (`on_request_start`, what the filter does for a single-topic Produce it allows);
//! - a decision per api (Produce, Fetch, Metadata, ListOffsets, OffsetCommit, Heartbeat,
//!   FindCoordinator), one topic or group each;
//! - a Metadata response filtered to what the caller may describe, and rewritten for a routing
//!   tenant (its names mapped back, other tenants' topics dropped), with 10 and 1,000 topics.
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
use meshka_codec::session::Early;
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
                "operations": ["Write", "Describe", "Create", "Read"],
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
                    let mut conn = Conn::new();
                    b.iter(|| {
                        let head = parse_request(black_box(f), frame_len).unwrap().unwrap();
                        let body = &f[head.header_len..];
                        let verdict = conn.enforcer(&policy).on_request(&head, body).unwrap();
                        conn.records.clear();
                        verdict
                    })
                },
            );
            group.bench_with_input(
                BenchmarkId::new("meshka Enforcer, streamed (first 128 bytes)", &param),
                after_prefix,
                |b, f| {
                    let mut conn = Conn::new();
                    let seen = &f[..128];
                    b.iter(|| {
                        let head = parse_request(black_box(seen), frame_len).unwrap().unwrap();
                        let body = &seen[head.header_len..];
                        let early = conn
                            .enforcer(&policy)
                            .on_request_start(&head, body)
                            .unwrap();
                        assert!(matches!(early, Early::Forward(_)));
                        conn.records.clear();
                        early
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

/// A request frame (length prefix included) with the end-to-end client's header.
fn request_frame<T: Encodable>(key: ApiKey, version: i16, body: &T) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(42)
        .with_client_id(Some(StrBytes::from_static_str("rdkafka")))
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    meshka_codec::edit::frame(&buf)
}

/// One connection's state, kept across requests.
struct Conn {
    principal: Principal,
    sasl: Exchange,
    ids: HashMap<[u8; 16], String>,
    records: meshka_policy::enforce::Records,
    merges: Vec<(i32, meshka_policy::kafka::Denied)>,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            principal: principal(),
            sasl: Exchange::default(),
            ids: HashMap::new(),
            records: Default::default(),
            merges: Vec::new(),
        }
    }

    /// The enforcer over this connection's state, as the Wasm layer builds it per callback.
    fn enforcer<'a>(&'a mut self, policy: &'a CompiledPolicy) -> Enforcer<'a> {
        Enforcer {
            policy,
            principal: &mut self.principal,
            sasl: &mut self.sasl,
            topic_ids: &mut self.ids,
            merges: &mut self.merges,
            close_on_denied_acks_zero: false,
            records: &mut self.records,
            routing: None,
            hold_limit: 1 << 24,
            quota_clock: None,
        }
    }
}

fn decide_frame(policy: &CompiledPolicy, conn: &mut Conn, frame: &[u8], early: bool) -> usize {
    let f = &frame[4..];
    let head = parse_request(f, f.len()).unwrap().unwrap();
    let body = &f[head.header_len..];
    let mut enforcer = conn.enforcer(policy);
    if early {
        assert!(matches!(
            enforcer.on_request_start(&head, body).unwrap(),
            Early::Forward(_)
        ));
    } else {
        black_box(enforcer.on_request(&head, body).unwrap());
    }
    let n = conn.records.len();
    conn.records.clear();
    n
}

type Case = (&'static str, Vec<u8>, Box<dyn Fn(&[u8]) -> usize>, bool);

fn per_api(c: &mut Criterion) {
    use kafka_protocol::messages::*;
    let policy = policy();
    let topic = || TopicName(StrBytes::from_static_str("bench.load"));
    let group_id = || GroupId(StrBytes::from_static_str("g-1"));
    let mut group = c.benchmark_group("decision per api");
    fn full<T: Decodable>(key: ApiKey, version: i16) -> impl Fn(&[u8]) -> usize {
        move |f: &[u8]| {
            let mut buf = Bytes::copy_from_slice(f);
            let header =
                RequestHeader::decode(&mut buf, key.request_header_version(version)).unwrap();
            black_box(T::decode(&mut buf, version).unwrap());
            header.correlation_id as usize
        }
    }
    // A consumer's Fetch v12 of one partition, in the session `session_id`/`epoch` (none: 0/-1).
    let consumer_fetch = |session_id, epoch| {
        request_frame(
            ApiKey::Fetch,
            12,
            &FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_session_id(session_id)
                .with_session_epoch(epoch)
                .with_topics(vec![fetch_request::FetchTopic::default()
                    .with_topic(topic())
                    .with_partitions(vec![fetch_request::FetchPartition::default()])]),
        )
    };
    let cases: Vec<Case> = vec![
        (
            "Produce v9 1 KiB",
            produce_frame(1, 1 << 10),
            Box::new(full::<ProduceRequest>(ApiKey::Produce, 9)),
            true,
        ),
        (
            "Fetch v12",
            consumer_fetch(0, -1),
            Box::new(full::<FetchRequest>(ApiKey::Fetch, 12)),
            false,
        ),
        (
            // A Java consumer's: the filter rewrites it without the session.
            "Fetch v12 in a fetch session",
            consumer_fetch(7, 3),
            Box::new(full::<FetchRequest>(ApiKey::Fetch, 12)),
            false,
        ),
        (
            "Metadata v12",
            request_frame(
                ApiKey::Metadata,
                12,
                &MetadataRequest::default().with_topics(Some(vec![
                    metadata_request::MetadataRequestTopic::default().with_name(Some(topic())),
                ])),
            ),
            Box::new(full::<MetadataRequest>(ApiKey::Metadata, 12)),
            false,
        ),
        (
            "ListOffsets v7",
            request_frame(
                ApiKey::ListOffsets,
                7,
                &ListOffsetsRequest::default().with_topics(vec![
                    list_offsets_request::ListOffsetsTopic::default()
                        .with_name(topic())
                        .with_partitions(vec![
                            list_offsets_request::ListOffsetsPartition::default(),
                        ]),
                ]),
            ),
            Box::new(full::<ListOffsetsRequest>(ApiKey::ListOffsets, 7)),
            false,
        ),
        (
            "OffsetCommit v8",
            request_frame(
                ApiKey::OffsetCommit,
                8,
                &OffsetCommitRequest::default()
                    .with_group_id(group_id())
                    .with_topics(vec![
                        offset_commit_request::OffsetCommitRequestTopic::default()
                            .with_name(topic())
                            .with_partitions(vec![
                                offset_commit_request::OffsetCommitRequestPartition::default(),
                            ]),
                    ]),
            ),
            Box::new(full::<OffsetCommitRequest>(ApiKey::OffsetCommit, 8)),
            false,
        ),
        (
            "Heartbeat v4",
            request_frame(
                ApiKey::Heartbeat,
                4,
                &HeartbeatRequest::default().with_group_id(group_id()),
            ),
            Box::new(full::<HeartbeatRequest>(ApiKey::Heartbeat, 4)),
            false,
        ),
        (
            "FindCoordinator v4",
            request_frame(
                ApiKey::FindCoordinator,
                4,
                &FindCoordinatorRequest::default()
                    .with_coordinator_keys(vec![StrBytes::from_static_str("g-1")]),
            ),
            Box::new(full::<FindCoordinatorRequest>(ApiKey::FindCoordinator, 4)),
            false,
        ),
    ];
    for (name, frame, decode, streams) in &cases {
        group.bench_with_input(BenchmarkId::new("meshka Enforcer", name), frame, |b, f| {
            let mut conn = Conn::new();
            b.iter(|| decide_frame(&policy, &mut conn, black_box(f), false))
        });
        if *streams {
            group.bench_with_input(
                BenchmarkId::new("meshka Enforcer, streamed", name),
                frame,
                |b, f| {
                    let mut conn = Conn::new();
                    b.iter(|| decide_frame(&policy, &mut conn, black_box(f), true))
                },
            );
        }
        group.bench_with_input(
            BenchmarkId::new("kafka-protocol full decode", name),
            &frame[4..],
            |b, f| b.iter(|| decode(black_box(f))),
        );
    }
    group.finish();
}

/// A tenant whose topics are `bench.*` on the broker and appear without the prefix to it.
fn tenant() -> meshka_policy::route::CompiledRouting {
    let config: meshka_policy::route::RoutingConfig = serde_json::from_value(serde_json::json!({
        "tenants": [{"name": "bench", "namespaces": ["apps"], "topicPrefix": "bench."}]
    }))
    .unwrap();
    meshka_policy::route::CompiledRouting::new(&config, "routing").unwrap()
}

fn metadata_rewrite(c: &mut Criterion) {
    use meshka_policy::route::{ClientName, NameKind, NameMap};
    let routing = tenant();
    let tenant = routing.tenant(0).unwrap();
    let mut group = c.benchmark_group("metadata response rewrite");
    for topics in [10usize, 1000] {
        let body = metadata_body(topics);
        group.throughput(Throughput::Elements(topics as u64));
        group.bench_with_input(
            BenchmarkId::new("meshka route rewrite_response", topics),
            &body,
            |b, body| {
                b.iter(|| {
                    meshka_policy::route::rewrite::rewrite_response(
                        ApiKey::Metadata as i16,
                        METADATA_VERSION,
                        black_box(body),
                        tenant,
                    )
                    .unwrap()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("kafka-protocol decode, rename, encode", topics),
            &body,
            |b, body| {
                b.iter(|| {
                    let mut buf = Bytes::copy_from_slice(black_box(body));
                    let mut response =
                        MetadataResponse::decode(&mut buf, METADATA_VERSION).unwrap();
                    response.topics.retain_mut(|t| {
                        let Some(name) = t.name.as_mut() else {
                            return false;
                        };
                        match tenant.to_client(NameKind::Topic, name) {
                            ClientName::Named(n) => {
                                *name = TopicName(StrBytes::from_string(n.into_owned()));
                                true
                            }
                            _ => false,
                        }
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

criterion_group!(benches, produce, per_api, metadata, metadata_rewrite);
criterion_main!(benches);
