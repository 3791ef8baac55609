//! Throttling cost per request: measuring a Produce request and a Fetch response (50 partitions of
//! 64 KiB record sets), compiling budgets for 20 quotas, charging a budget, raising the throttle.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion};
use kafka_protocol::messages::{
    fetch_response, produce_request, produce_response, FetchResponse, ProduceRequest,
    ProduceResponse, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use meshka_policy::authz::Principal;
use meshka_policy::route::throttle::{
    charge, fetch_bytes, produce_bytes, raise_throttle_time, CompiledQuotas, Direction, MemoryStore,
};
use meshka_policy::route::Quota;

fn enc<T: Encodable>(m: &T, v: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, v).unwrap();
    buf.to_vec()
}

fn name(i: usize) -> TopicName {
    TopicName(StrBytes::from_string(format!("team-{i}.orders")))
}

fn bench(c: &mut Criterion) {
    let records = Some(Bytes::from(vec![0u8; 65_536]));
    let produce = ProduceRequest::default().with_acks(-1).with_topic_data(
        (0..5)
            .map(|t| {
                produce_request::TopicProduceData::default()
                    .with_name(name(t))
                    .with_partition_data(
                        (0..10)
                            .map(|p| {
                                produce_request::PartitionProduceData::default()
                                    .with_index(p)
                                    .with_records(records.clone())
                            })
                            .collect(),
                    )
            })
            .collect(),
    );
    let produce = enc(&produce, 11);
    c.bench_function("produce_bytes 50 x 64 KiB (v11)", |b| {
        b.iter(|| produce_bytes(11, black_box(&produce)).unwrap())
    });

    let fetch = FetchResponse::default().with_responses(
        (0..5)
            .map(|t| {
                fetch_response::FetchableTopicResponse::default()
                    .with_topic(name(t))
                    .with_partitions(
                        (0..10)
                            .map(|p| {
                                fetch_response::PartitionData::default()
                                    .with_partition_index(p)
                                    .with_records(records.clone())
                            })
                            .collect(),
                    )
            })
            .collect(),
    );
    let fetch = enc(&fetch, 12);
    c.bench_function("fetch_bytes 50 x 64 KiB (v12)", |b| {
        b.iter(|| fetch_bytes(12, black_box(&fetch)).unwrap())
    });

    let response = ProduceResponse::default().with_responses(
        (0..5)
            .map(|t| {
                produce_response::TopicProduceResponse::default()
                    .with_name(name(t))
                    .with_partition_responses(
                        (0..10)
                            .map(|p| {
                                produce_response::PartitionProduceResponse::default().with_index(p)
                            })
                            .collect(),
                    )
            })
            .collect(),
    );
    let response = enc(&response, 11);
    c.bench_function("raise_throttle_time Produce 50 partitions (v11)", |b| {
        b.iter(|| raise_throttle_time(0, 11, black_box(&response), 100).unwrap())
    });

    let quotas: Vec<Quota> = (0..20)
        .map(|i| Quota {
            namespaces: vec![format!("team-{i}")],
            topics: vec![format!("team-{i}.*")],
            produce_bytes_per_second: Some(1_000_000),
            ..Default::default()
        })
        .collect();
    let quotas = CompiledQuotas::new(&quotas, "routing.quotas").unwrap();
    let principal = Principal::from_spiffe_id("spiffe://cluster.local/ns/team-7/sa/writer");
    c.bench_function("budgets of 20 quotas", |b| {
        b.iter(|| {
            quotas.budgets(
                black_box(&principal),
                None,
                "team-7.orders",
                Direction::Produce,
            )
        })
    });

    let mut store = MemoryStore::default();
    let mut now = 0u64;
    c.bench_function("charge (memory store)", |b| {
        b.iter(|| {
            now += 1;
            charge(
                &mut store,
                black_box("meshka.quota.0.produce.p.x"),
                1_000_000,
                16_384,
                now,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
