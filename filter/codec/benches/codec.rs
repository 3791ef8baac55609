//! The codec's hot path, each against a baseline that fully decodes the same bytes with
//! `kafka-protocol`:
//!
//! - request head decode (Produce v9 with a 16 KiB batch, Metadata v12): the codec reads the
//!   first bytes only;
//! - session framing of a pipelined stream of Produce requests (what the filter does to every
//!   byte without an authorization policy), fed in 64 KiB reads as Envoy delivers them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, MetadataRequest, ProduceRequest, RequestHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use meshka_codec::head::parse_request;
use meshka_codec::session::Observe;
use meshka_codec::{Limits, Output, Session};

const PRODUCE_VERSION: i16 = 9;
const METADATA_VERSION: i16 = 12;

fn frame<T: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &T) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("rdkafka")))
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    meshka_codec::edit::frame(&buf)
}

fn produce(correlation_id: i32, batch_bytes: usize) -> Vec<u8> {
    let records = Bytes::from(vec![0u8; batch_bytes]);
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("bench.load")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    frame(ApiKey::Produce, PRODUCE_VERSION, correlation_id, &request)
}

fn metadata() -> Vec<u8> {
    let request = MetadataRequest::default().with_topics(Some(
        (0..3)
            .map(|i| {
                MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(
                    format!("bench.topic-{i}"),
                ))))
            })
            .collect(),
    ));
    frame(ApiKey::Metadata, METADATA_VERSION, 7, &request)
}

fn full_decode(f: &[u8]) -> (i32, usize) {
    let mut buf = Bytes::copy_from_slice(&f[4..]);
    let key = i16::from_be_bytes([buf[0], buf[1]]);
    let version = i16::from_be_bytes([buf[2], buf[3]]);
    let api = ApiKey::try_from(key).unwrap();
    let header = RequestHeader::decode(&mut buf, api.request_header_version(version)).unwrap();
    let n = match api {
        ApiKey::Produce => ProduceRequest::decode(&mut buf, version)
            .unwrap()
            .topic_data
            .len(),
        ApiKey::Metadata => MetadataRequest::decode(&mut buf, version)
            .unwrap()
            .topics
            .map_or(0, |t| t.len()),
        _ => 0,
    };
    (header.correlation_id, n)
}

fn heads(c: &mut Criterion) {
    let mut group = c.benchmark_group("request head decode");
    for (name, f) in [
        ("Produce v9, 16 KiB batch", produce(1, 16 << 10)),
        ("Metadata v12, 3 topics", metadata()),
    ] {
        let frame_len = f.len() - 4;
        group.bench_with_input(
            BenchmarkId::new("meshka parse_request", name),
            &f,
            |b, f| {
                b.iter(|| {
                    parse_request(black_box(&f[4..]), frame_len)
                        .unwrap()
                        .map(|h| h.len)
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("kafka-protocol full decode", name),
            &f,
            |b, f| b.iter(|| full_decode(black_box(f))),
        );
    }
    group.finish();
}

const LIMITS: Limits = Limits {
    max_frame_bytes: 100 << 20,
    max_header_bytes: 32 << 10,
    max_in_flight: 10_000,
    max_hold_bytes: 16 << 20,
};

fn framing(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipelined produce stream");
    for (batch_bytes, label) in [(1 << 10, "1 KiB batches"), (16 << 10, "16 KiB batches")] {
        // 4 MiB of pipelined Produce requests.
        let frames: Vec<Vec<u8>> = (0..(4 << 20) / batch_bytes)
            .map(|i| produce(i as i32, batch_bytes))
            .collect();
        let stream = frames.concat();
        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("meshka Session, 64 KiB reads", label),
            &stream,
            |b, stream| {
                let mut out = Output::default();
                b.iter(|| {
                    let mut session = Session::new(LIMITS);
                    let mut seen = 0usize;
                    let mut hooks = Observe(|req, _| seen += usize::from(req.is_some()));
                    let mut copied = 0;
                    for chunk in stream.chunks(64 << 10) {
                        let mut src: &[u8] = black_box(chunk);
                        out.clear();
                        copied += session
                            .on_request_data(&mut src, 0, &mut hooks, &mut out)
                            .unwrap();
                    }
                    (seen, copied)
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("kafka-protocol full decode", label),
            &frames,
            |b, frames| {
                b.iter(|| {
                    frames
                        .iter()
                        .map(|f| full_decode(black_box(f)).0 as i64)
                        .sum::<i64>()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, heads, framing);
criterion_main!(benches);
