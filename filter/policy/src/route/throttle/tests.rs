use std::collections::HashMap;
use std::ops::RangeInclusive;

use bytes::Bytes;
use kafka_protocol::messages::{
    fetch_response, produce_request, produce_response, ApiKey, BrokerId, FetchResponse,
    ProduceRequest, ProduceResponse, ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use proptest::prelude::*;

use super::*;
use crate::authz::Principal;

// ---- configuration ----------------------------------------------------------------------

fn quotas(json: &str) -> Result<CompiledQuotas, Vec<String>> {
    let q: Vec<Quota> = serde_json::from_str(json).unwrap();
    CompiledQuotas::new(&q, "routing.quotas")
        .map_err(|e| e.errors().iter().map(|e| e.to_string()).collect())
}

fn alice() -> Principal {
    Principal::from_spiffe_id("spiffe://cluster.local/ns/shop/sa/alice")
}

fn bob() -> Principal {
    Principal::from_spiffe_id("spiffe://cluster.local/ns/shop/sa/bob")
}

fn eve() -> Principal {
    Principal::from_spiffe_id("spiffe://cluster.local/ns/other/sa/eve")
}

#[test]
fn validation_names_every_field() {
    let errs = quotas(
        r#"[{"principals":["*"],"produceBytesPerSecond":1000},
            {"principals":["*"],"readOnly":true},
            {"principals":["*"],"topics":["orders"],"produceBytesPerSecond":0,"fetchBytesPerSecond":0},
            {"name":" ","principals":["*"]},
            {"topics":["a*b","","orders.*","bad/topic","*"],"fetchBytesPerSecond":5},
            {"principals":["https://x"],"namespaces":["Shop"],"serviceAccounts":["x"],"users":["alice"],"readOnly":true}]"#,
    )
    .unwrap_err();
    let want_starts = [
        "routing.quotas[2].produceBytesPerSecond: 0 bytes per second would throttle every write for good — give at least 1 (readOnly: true denies writes), or leave it out for no limit",
        "routing.quotas[2].fetchBytesPerSecond: 0 bytes per second would throttle every read for good — give at least 1, or leave it out",
        "routing.quotas[3].name: \" \" cannot name a quota",
        "routing.quotas[3]: a quota needs produceBytesPerSecond, fetchBytesPerSecond or readOnly: true — without one it limits nothing",
        "routing.quotas[4]: a rule needs at least one of principals",
        "routing.quotas[4].topics[0]: \"a*b\" has a '*' before its end — '*' may only end a pattern, as in \"orders.*\"",
        "routing.quotas[4].topics[1]: must not be empty",
        "routing.quotas[4].topics[3]: \"bad/topic\" has characters Kafka does not allow in topic names",
        "routing.quotas[5].principals[0]: \"https://x\" is not a SPIFFE ID",
        "routing.quotas[5].namespaces[0]: \"Shop\" is not a Kubernetes namespace name",
        "routing.quotas[5].serviceAccounts[0]: \"x\" must be <namespace>/<service-account>",
        "routing.quotas[5].users[0]: \"alice\" must be a Kafka user principal",
    ];
    assert_eq!(errs.len(), want_starts.len(), "{errs:#?}");
    for (got, want) in errs.iter().zip(want_starts) {
        assert!(got.starts_with(want), "{got}\n  wanted {want}");
    }
    let long = format!(
        r#"[{{"principals":["*"],"topics":["{}"],"readOnly":true}}]"#,
        "a".repeat(250)
    );
    assert!(quotas(&long).unwrap_err()[0].contains("longer than Kafka's 249-character"));
    assert!(quotas("[]").unwrap().is_empty());
}

#[test]
fn read_only_matches_subjects_and_topics() {
    let q = quotas(
        r#"[{"namespaces":["shop"],"topics":["audit","ledger.*"],"readOnly":true},
            {"users":["User:batch"],"readOnly":true},
            {"principals":["*"],"topics":["orders"],"produceBytesPerSecond":10}]"#,
    )
    .unwrap();
    assert!(!q.is_empty());
    assert!(q.read_only(&alice(), "audit"));
    assert!(q.read_only(&alice(), "ledger.2024"));
    assert!(q.read_only(&alice(), "ledger."));
    assert!(!q.read_only(&alice(), "ledger"));
    assert!(!q.read_only(&alice(), "orders"), "a rate is not read-only");
    assert!(!q.read_only(&eve(), "audit"));
    let batch = Principal::from_sasl_user("batch");
    assert!(q.read_only(&batch, "anything"), "no topics: every topic");
    assert!(q.read_only(&eve().with_sasl_user("batch"), "x"));
    assert!(!q.read_only(&Principal::anonymous(), "audit"));
    assert!(q.limits(Direction::Produce));
    assert!(!q.limits(Direction::Fetch));
}

#[test]
fn budgets_keys_and_scopes() {
    let q = quotas(
        r#"[{"name":"per-pair","namespaces":["shop"],"topics":["orders*"],"produceBytesPerSecond":100,"fetchBytesPerSecond":200},
            {"namespaces":["shop"],"produceBytesPerSecond":300,"per":"principal"},
            {"principals":["*"],"fetchBytesPerSecond":400,"per":"tenant"},
            {"principals":["*"],"readOnly":true,"topics":["audit"]}]"#,
    )
    .unwrap();
    let keys =
        |p: &Principal, tenant: Option<&str>, topic: &str, dir| q.budgets(p, tenant, topic, dir);
    let a = keys(&alice(), Some("team-a"), "orders", Direction::Produce);
    let sa = "s39:spiffe://cluster.local/ns/shop/sa/aliceu-/";
    assert_eq!(
        a,
        vec![
            (format!("meshka.quota.0.produce.pt.{sa}orders"), 100),
            (format!("meshka.quota.1.produce.p.{sa}"), 300),
        ]
    );
    assert_eq!(q.quota_name(&a[0].0), Some("per-pair"));
    assert_eq!(q.quota_name(&a[1].0), None);
    assert_eq!(q.quota_name("elsewhere"), None);
    // Fetch: the pair budget and the tenant budget.
    let f = keys(&alice(), Some("team-a"), "orders.eu", Direction::Fetch);
    assert_eq!(
        f,
        vec![
            (format!("meshka.quota.0.fetch.pt.{sa}orders.eu"), 200),
            ("meshka.quota.2.fetch.t.team-a".to_owned(), 400),
        ]
    );
    // The tenant budget is shared; the others are not.
    let fb = keys(&bob(), Some("team-a"), "orders.eu", Direction::Fetch);
    assert_eq!(fb[1], f[1]);
    assert_ne!(fb[0], f[0]);
    // Without a tenant, a caller is its own unit.
    let lone = keys(&eve(), None, "x", Direction::Fetch);
    assert_eq!(
        lone,
        vec![(
            "meshka.quota.2.fetch.p.s38:spiffe://cluster.local/ns/other/sa/eveu-/".to_owned(),
            400
        )]
    );
    // Topics of other budgets and other principals.
    assert!(keys(&eve(), None, "orders", Direction::Produce).is_empty());
    assert_eq!(
        keys(&alice(), None, "payments", Direction::Produce).len(),
        1
    );
    // Distinct identities never share a key.
    let odd = Principal {
        spiffe_id: Some("a".into()),
        namespace: None,
        service_account: None,
        sasl_user: Some("b".into()),
    };
    let odd2 = Principal {
        spiffe_id: Some("au1:b".into()),
        namespace: None,
        service_account: None,
        sasl_user: None,
    };
    assert_ne!(principal_key(&odd), principal_key(&odd2));
    assert_ne!(
        principal_key(&Principal::anonymous()),
        principal_key(&Principal::from_sasl_user("x"))
    );
}

// ---- charging ---------------------------------------------------------------------------

/// A client that sends `batch` bytes as fast as allowed, honouring every throttle time, for
/// `duration_ms`; returns the bytes the budget accepted with no throttle pending at the end.
fn simulate(
    store: &mut dyn BucketStore,
    rate: u64,
    batch: u64,
    rtt_ms: u64,
    duration_ms: u64,
) -> u64 {
    let mut now = 0;
    let mut sent = 0u64;
    while now < duration_ms {
        let throttle = charge(store, "k", rate, batch, now);
        sent += batch;
        now += rtt_ms.max(u64::from(throttle));
    }
    sent
}

#[test]
fn a_client_honouring_throttle_converges_to_the_limit() {
    for (rate, batch) in [
        (1_000_000, 16_384),
        (1_000_000, 1_048_576),
        (100_000, 1_000),
        (1_000, 1_500),
        (10_000_000, 100_000),
        (700, 3),
    ] {
        let mut store = MemoryStore::default();
        let sent = simulate(&mut store, rate, batch, 1, 30_000);
        // 30 seconds of rate plus the initial one-second burst (and at most one batch).
        let achieved = sent as f64 / 30.0;
        let ratio = achieved / rate as f64;
        assert!(
            (0.95..=1.05 + batch as f64 / 30.0 / rate as f64).contains(&ratio),
            "rate {rate} batch {batch}: achieved {achieved:.0} B/s ({ratio:.3})"
        );
        // Past the burst, the steady state alone is within 2%.
        let mut store = MemoryStore::default();
        let burst = simulate(&mut store, rate, batch, 1, 1);
        let mut now = 0;
        let mut steady = 0u64;
        while now < 30_000 {
            let t = charge(&mut store, "k", rate, batch, now);
            now += 1.max(u64::from(t));
            if now > 2_000 {
                steady += batch;
            }
        }
        let steady_rate = steady as f64 / 28.0;
        assert!(
            (steady_rate / rate as f64 - 1.0).abs() < 0.02 + batch as f64 / 28.0 / rate as f64,
            "rate {rate} batch {batch}: steady {steady_rate:.0} (burst {burst})"
        );
    }
}

#[test]
fn callers_sharing_a_budget_share_the_limit() {
    // Three clients, interleaved, on one tenant budget.
    let mut store = MemoryStore::default();
    let rate = 500_000;
    let mut next = [0u64, 3, 7];
    let mut sent = 0u64;
    loop {
        let (i, &t) = next.iter().enumerate().min_by_key(|(_, t)| **t).unwrap();
        if t >= 30_000 {
            break;
        }
        let throttle = charge(&mut store, "tenant", rate, 20_000, t);
        sent += 20_000;
        next[i] = t + 2.max(u64::from(throttle));
    }
    let ratio = sent as f64 / 30.0 / rate as f64;
    assert!((0.95..=1.05).contains(&ratio), "{ratio}");
}

#[test]
fn an_idle_budget_allows_a_one_second_burst() {
    let mut store = MemoryStore::default();
    let rate = 10_000;
    for i in 0..10 {
        assert_eq!(charge(&mut store, "k", rate, 1_000, i), 0, "chunk {i}");
    }
    // Clock at 9 ms: 90 bytes refilled; the next 1000 bytes owe 910 bytes: 91 ms.
    assert_eq!(charge(&mut store, "k", rate, 1_000, 9), 91);
    // Reading (0 bytes) reports the pending debt without charging.
    assert_eq!(charge(&mut store, "k", rate, 0, 9), 91);
    assert_eq!(charge(&mut store, "k", rate, 0, 100), 0);
    // A long idle refills one second only.
    assert_eq!(charge(&mut store, "k", rate, 10_000, 1_000_000), 0);
    assert_eq!(charge(&mut store, "k", rate, 1, 1_000_000), 1);
    // A huge batch owes at most MAX_THROTTLE_MS.
    assert_eq!(
        charge(&mut store, "k", rate, u64::MAX, 1_000_000),
        MAX_THROTTLE_MS
    );
    assert_eq!(
        charge(
            &mut store,
            "k",
            rate,
            0,
            1_000_000 + u64::from(MAX_THROTTLE_MS)
        ),
        0
    );
}

#[test]
fn charging_is_total() {
    let mut store = MemoryStore::default();
    assert_eq!(charge(&mut store, "z", 0, 0, 0), 0);
    assert_eq!(charge(&mut store, "z", 0, 1, 0), MAX_THROTTLE_MS);
    for rate in [1, 7, u64::MAX / 1000, u64::MAX] {
        for bytes in [0, 1, 1_000_000, u64::MAX] {
            for now in [0, 1, u64::MAX - 1, u64::MAX] {
                let t = charge(&mut store, &format!("{rate}"), rate, bytes, now);
                assert!(t <= MAX_THROTTLE_MS);
            }
        }
    }
    // The clock going back (another worker) never refills.
    let mut store = MemoryStore::default();
    charge(&mut store, "b", 1000, 1000, 5_000);
    assert_eq!(charge(&mut store, "b", 1000, 500, 4_000), 500);
    assert_eq!(charge(&mut store, "b", 1000, 0, 5_500), 0);
    // A value that is not a bucket starts afresh.
    store.set("b", b"garbage", 0).unwrap();
    assert_eq!(charge(&mut store, "b", 1000, 1000, 0), 0);
    assert_eq!(charge(&mut store, "b", 1000, 1000, 0), 1000);
}

/// A store whose next `conflicts` writes fail as if another worker wrote first (and did: each
/// failed write also charges `theirs` bytes at the same clock).
struct Contended {
    inner: MemoryStore,
    conflicts: usize,
    theirs: u64,
    attempts: usize,
}

impl BucketStore for Contended {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.inner.get(key)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), ()> {
        self.attempts += 1;
        if self.conflicts > 0 {
            self.conflicts -= 1;
            let (old, c) = match self.inner.get(key) {
                Some((v, c)) => (Bucket::decode(&v), c),
                None => (None, 0),
            };
            let now = Bucket::decode(value).map_or(0, |b| b.at_ms);
            let theirs = step(old, 1000, self.theirs, now);
            self.inner.set(key, &theirs.encode(), c).unwrap();
            return Err(());
        }
        self.inner.set(key, value, cas)
    }
}

#[test]
fn compare_and_swap_conflicts_are_retried() {
    // Three conflicts: the fourth write lands, on top of the other workers' three charges.
    let mut store = Contended {
        inner: MemoryStore::default(),
        conflicts: 3,
        theirs: 400,
        attempts: 0,
    };
    assert_eq!(charge(&mut store, "k", 1000, 300, 0), 500);
    assert_eq!(store.attempts, 4);
    let b = Bucket::decode(&store.inner.get("k").unwrap().0).unwrap();
    assert_eq!(b.tokens, (1000 - 3 * 400 - 300) * 1000);
    // Endless conflicts: bounded attempts, no panic, the charge is dropped.
    let mut store = Contended {
        inner: MemoryStore::default(),
        conflicts: usize::MAX,
        theirs: 0,
        attempts: 0,
    };
    assert_eq!(charge(&mut store, "k", 1000, 2000, 0), 1000);
    assert_eq!(store.attempts, CAS_ATTEMPTS);
    // A stale token is refused by the memory store as by proxy-wasm.
    let mut m = MemoryStore::default();
    m.set("x", b"1", 0).unwrap();
    let (_, cas) = m.get("x").unwrap();
    m.set("x", b"2", cas).unwrap();
    assert_eq!(m.set("x", b"3", cas), Err(()));
}

// ---- wire ---------------------------------------------------------------------------------

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn versions(key: ApiKey) -> RangeInclusive<i16> {
    let r = key.valid_versions();
    r.min..=r.max
}

fn enc<T: Encodable>(m: &T, v: i16) -> Vec<u8> {
    crate::kafka::encode("test", m, v).unwrap()
}

fn dec<T: Decodable>(body: &[u8], v: i16) -> T {
    T::decode(&mut Bytes::copy_from_slice(body), v).unwrap()
}

fn records(n: usize) -> Option<Bytes> {
    Some(Bytes::from(vec![0xab; n]))
}

fn topic_id(n: u8) -> [u8; 16] {
    [n; 16]
}

fn produce_request(v: i16) -> ProduceRequest {
    let topic = |name: &str, id: u8, parts: Vec<Option<Bytes>>| {
        let t = produce_request::TopicProduceData::default().with_partition_data(
            parts
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    produce_request::PartitionProduceData::default()
                        .with_index(i as i32)
                        .with_records(r)
                })
                .collect(),
        );
        if v >= 13 {
            t.with_topic_id(uuid::Uuid::from_bytes(topic_id(id)))
        } else {
            t.with_name(TopicName(sb(name)))
        }
    };
    let mut req = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(sb("tx-1"))))
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![
            topic("orders", 1, vec![records(100), records(2_000), None]),
            topic("payments", 2, vec![records(0)]),
            topic("orders", 1, vec![records(7)]),
            topic("empty", 3, vec![]),
        ]);
    if v >= 9 {
        req.unknown_tagged_fields
            .insert(99, Bytes::from_static(b"tag"));
        if let Some(t) = req.topic_data.first_mut() {
            t.unknown_tagged_fields.insert(5, Bytes::from_static(b"x"));
            if let Some(p) = t.partition_data.first_mut() {
                p.unknown_tagged_fields.insert(6, Bytes::from_static(b"yy"));
            }
        }
    }
    req
}

fn res(v: i16, name: &str, id: u8) -> Resource {
    if v >= 13 {
        Resource::TopicId(topic_id(id))
    } else {
        Resource::Name(name.into())
    }
}

#[test]
fn produce_bytes_at_every_version() {
    for v in versions(ApiKey::Produce) {
        let body = enc(&produce_request(v), v);
        assert_eq!(
            produce_bytes(v, &body).unwrap(),
            vec![
                (res(v, "orders", 1), 2_107),
                (res(v, "payments", 2), 0),
                (res(v, "empty", 3), 0),
            ],
            "v{v}"
        );
        let no_tx = enc(&produce_request(v).with_transactional_id(None), v);
        assert_eq!(produce_bytes(v, &no_tx).unwrap().len(), 3);
        // Every truncation is an error.
        for end in 0..body.len() {
            assert!(
                produce_bytes(v, body.get(..end).unwrap()).is_err(),
                "v{v} at {end}"
            );
        }
    }
    assert!(matches!(
        produce_bytes(2, &[]),
        Err(KafkaError::UnsupportedVersion { .. })
    ));
}

fn fetch_response(v: i16) -> FetchResponse {
    let partition = |i: i32, r: Option<Bytes>| {
        let mut p = fetch_response::PartitionData::default()
            .with_partition_index(i)
            .with_high_watermark(100)
            .with_last_stable_offset(90)
            .with_aborted_transactions(Some(vec![fetch_response::AbortedTransaction::default()
                .with_producer_id(ProducerId(7))
                .with_first_offset(3)]))
            .with_records(r);
        if v >= 5 {
            p = p.with_log_start_offset(1);
        }
        if v >= 11 {
            p = p.with_preferred_read_replica(BrokerId(2));
        }
        if v >= 12 {
            p = p
                .with_diverging_epoch(
                    fetch_response::EpochEndOffset::default()
                        .with_epoch(4)
                        .with_end_offset(50),
                )
                .with_current_leader(
                    fetch_response::LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(1))
                        .with_leader_epoch(4),
                )
                .with_snapshot_id(
                    fetch_response::SnapshotId::default()
                        .with_end_offset(9)
                        .with_epoch(1),
                );
            p.unknown_tagged_fields
                .insert(77, Bytes::from_static(b"zz"));
        }
        p
    };
    let topic = |name: &str, id: u8, parts: Vec<fetch_response::PartitionData>| {
        let t = fetch_response::FetchableTopicResponse::default().with_partitions(parts);
        if v >= 13 {
            t.with_topic_id(uuid::Uuid::from_bytes(topic_id(id)))
        } else {
            t.with_topic(TopicName(sb(name)))
        }
    };
    let mut r = FetchResponse::default()
        .with_throttle_time_ms(5)
        .with_responses(vec![
            topic(
                "orders",
                1,
                vec![partition(0, records(1_000)), partition(1, None)],
            ),
            topic("payments", 2, vec![partition(0, records(33))]),
            topic("orders", 1, vec![partition(2, records(1))]),
        ]);
    if v >= 7 {
        r = r.with_error_code(0).with_session_id(12);
    }
    if v >= 16 {
        r = r.with_node_endpoints(vec![fetch_response::NodeEndpoint::default()
            .with_node_id(BrokerId(1))
            .with_host(sb("kafka-1"))
            .with_port(9092)
            .with_rack(Some(sb("a")))]);
    }
    if v >= 12 {
        r.unknown_tagged_fields.insert(50, Bytes::from_static(b"q"));
    }
    r
}

#[test]
fn fetch_bytes_at_every_version() {
    for v in versions(ApiKey::Fetch) {
        let body = enc(&fetch_response(v), v);
        assert_eq!(
            fetch_bytes(v, &body).unwrap(),
            vec![(res(v, "orders", 1), 1_001), (res(v, "payments", 2), 33)],
            "v{v}"
        );
        // Null aborted transactions.
        let mut r = fetch_response(v);
        for t in &mut r.responses {
            for p in &mut t.partitions {
                p.aborted_transactions = None;
            }
        }
        assert_eq!(fetch_bytes(v, &enc(&r, v)).unwrap().len(), 2);
        for end in 0..body.len() {
            assert!(
                fetch_bytes(v, body.get(..end).unwrap()).is_err(),
                "v{v} at {end}"
            );
        }
    }
}

fn produce_response(v: i16) -> ProduceResponse {
    let partition = |i: i32| {
        let mut p = produce_response::PartitionProduceResponse::default()
            .with_index(i)
            .with_base_offset(42)
            .with_log_append_time_ms(-1);
        if v >= 5 {
            p = p.with_log_start_offset(3);
        }
        if v >= 8 {
            p = p
                .with_record_errors(vec![produce_response::BatchIndexAndErrorMessage::default()
                    .with_batch_index(1)
                    .with_batch_index_error_message(Some(sb("bad record")))])
                .with_error_message(Some(sb("some")));
        }
        if v >= 10 {
            p = p.with_current_leader(
                produce_response::LeaderIdAndEpoch::default()
                    .with_leader_id(BrokerId(2))
                    .with_leader_epoch(9),
            );
        }
        p
    };
    let topic = |name: &str, id: u8| {
        let t = produce_response::TopicProduceResponse::default()
            .with_partition_responses(vec![partition(0), partition(1)]);
        if v >= 13 {
            t.with_topic_id(uuid::Uuid::from_bytes(topic_id(id)))
        } else {
            t.with_name(TopicName(sb(name)))
        }
    };
    let mut r = ProduceResponse::default()
        .with_responses(vec![topic("orders", 1), topic("payments", 2)])
        .with_throttle_time_ms(20);
    if v >= 10 {
        r = r.with_node_endpoints(vec![produce_response::NodeEndpoint::default()
            .with_node_id(BrokerId(2))
            .with_host(sb("kafka-2"))
            .with_port(9092)]);
    }
    r
}

#[test]
fn raise_throttle_time_at_every_version() {
    for v in versions(ApiKey::Produce) {
        let original = produce_response(v);
        let body = enc(&original, v);
        let raised = raise_throttle_time(0, v, &body, 1_500).unwrap().unwrap();
        assert_eq!(raised.len(), body.len());
        let got: ProduceResponse = dec(&raised, v);
        assert_eq!(got, original.clone().with_throttle_time_ms(1_500), "v{v}");
        // The broker's larger throttle stays.
        assert_eq!(raise_throttle_time(0, v, &body, 20).unwrap(), None);
        assert_eq!(raise_throttle_time(0, v, &body, 3).unwrap(), None);
        let huge: ProduceResponse = dec(
            &raise_throttle_time(0, v, &body, u32::MAX).unwrap().unwrap(),
            v,
        );
        assert_eq!(huge.throttle_time_ms, i32::MAX);
        let offset = throttle_time_offset(0, v, &body).unwrap().unwrap();
        assert_eq!(body.get(offset..offset + 4), Some(&20i32.to_be_bytes()[..]));
        for end in 0..offset + 4 {
            assert!(
                raise_throttle_time(0, v, body.get(..end).unwrap(), 100).is_err(),
                "v{v} at {end}"
            );
        }
    }
    for v in versions(ApiKey::Fetch) {
        let original = fetch_response(v);
        let body = enc(&original, v);
        let raised = raise_throttle_time(1, v, &body, 800).unwrap().unwrap();
        let got: FetchResponse = dec(&raised, v);
        assert_eq!(got, original.clone().with_throttle_time_ms(800), "v{v}");
        assert_eq!(raised.get(4..), body.get(4..));
        assert_eq!(raise_throttle_time(1, v, &body, 5).unwrap(), None);
        assert_eq!(throttle_time_offset(1, v, &body).unwrap(), Some(0));
        assert!(raise_throttle_time(1, v, &[0, 0, 0], 1).is_err());
    }
    // Other apis have nothing to raise here; unknown ones are errors.
    assert_eq!(raise_throttle_time(3, 12, &[], 5).unwrap(), None);
    assert!(raise_throttle_time(999, 0, &[], 5).is_err());
    assert!(raise_throttle_time(1, 3, &[0; 8], 5).is_err());
}

proptest! {
    #[test]
    fn garbage_never_panics(version in 0i16..20, body in proptest::collection::vec(any::<u8>(), 0..200), ms in any::<u32>()) {
        let _ = produce_bytes(version, &body);
        let _ = fetch_bytes(version, &body);
        let _ = raise_throttle_time(0, version, &body, ms);
        let _ = raise_throttle_time(1, version, &body, ms);
    }

    #[test]
    fn mutated_messages_never_panic(v_p in 3i16..=13, v_f in 4i16..=18, at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        for (key, body, v) in [
            (0, enc(&produce_request(v_p), v_p), v_p),
            (1, enc(&fetch_response(v_f), v_f), v_f),
            (0, enc(&produce_response(v_p), v_p), v_p),
        ] {
            let mut body = body;
            let i = at.index(body.len());
            if let Some(b) = body.get_mut(i) {
                *b = byte;
            }
            body.truncate(cut.index(body.len() + 1));
            let _ = produce_bytes(v, &body);
            let _ = fetch_bytes(v, &body);
            if let Ok(Some(out)) = raise_throttle_time(key, v, &body, 10) {
                prop_assert_eq!(out.len(), body.len());
            }
        }
    }

    #[test]
    fn any_charge_sequence_is_bounded(steps in proptest::collection::vec((any::<u64>(), 0u64..5_000, any::<bool>()), 1..50), rate in 1u64..10_000_000) {
        let mut store = MemoryStore::default();
        let mut now = 0u64;
        for (bytes, dt, big) in steps {
            now = now.saturating_add(dt);
            let bytes = if big { bytes } else { bytes % 100_000 };
            prop_assert!(charge(&mut store, "k", rate, bytes, now) <= MAX_THROTTLE_MS);
        }
    }
}

#[test]
fn memory_store_map_is_keyed() {
    let mut m = MemoryStore::default();
    let mut seen = HashMap::new();
    for k in ["a", "b"] {
        charge(&mut m, k, 10, 20, 0);
        seen.insert(k, m.get(k).unwrap().0);
    }
    assert_eq!(seen.len(), 2);
}
