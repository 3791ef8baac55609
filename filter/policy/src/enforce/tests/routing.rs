//! Routing through the enforcer and a real codec session: tenants' names, hidden ids, broker
//! addresses, quotas and read-only topics.

use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
use kafka_protocol::messages::produce_response::TopicProduceResponse;
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FindCoordinatorRequest, FindCoordinatorResponse,
};

use super::*;
use crate::route::throttle::MemoryStore;
use crate::route::{CompiledRouting, RoutingConfig};

fn routing(json: &str) -> CompiledRouting {
    let config: RoutingConfig = serde_json::from_str(json).unwrap();
    CompiledRouting::new(&config, "routing").unwrap()
}

const TENANTS: &str = r#"{
    "tenants": [
        {"name": "team-a", "namespaces": ["team-a"], "topicPrefix": "team-a.", "groupPrefix": "team-a.", "transactionalIdPrefix": "tx-a."},
        {"name": "team-b", "namespaces": ["team-b"], "topicPrefix": "team-b."}
    ],
    "brokerAddress": "kafka-{node_id}.brokers.kafka.svc:9092",
    "quotas": [
        {"namespaces": ["team-a"], "topics": ["team-a.metered"], "produceBytesPerSecond": 1000},
        {"principals": ["*"], "topics": ["team-a.archive"], "readOnly": true}
    ]
}"#;

/// Allows the team-a tenant everything on its own topics only (rules name broker topics).
fn team_a_policy() -> CompiledPolicy {
    serde_json::from_str::<AuthorizationPolicy>(
        r#"{"rules": [
            {"action": "allow", "namespaces": ["team-a"], "operations": ["All"],
             "resources": [{"type": "topic", "name": "team-a.orders"}, {"type": "topic", "name": "team-a.metered"},
                           {"type": "topic", "name": "team-a.archive"}, {"type": "group", "name": "*"},
                           {"type": "transactionalId", "name": "*"}]}
        ]}"#,
    )
    .unwrap()
    .compile()
    .unwrap()
}

fn team_a() -> Principal {
    Principal::from_spiffe_id("spiffe://cluster.local/ns/team-a/sa/app")
}

struct Routed {
    conn: Conn,
    store: MemoryStore,
    deadline: u64,
}

impl Routed {
    fn new(principal: Principal) -> Routed {
        Routed {
            conn: Conn::new(principal),
            store: MemoryStore::default(),
            deadline: 0,
        }
    }

    fn hooks<'a>(
        &'a mut self,
        policy: &'a CompiledPolicy,
        routing: &'a CompiledRouting,
    ) -> Adapter<'a> {
        let c = &mut self.conn;
        Adapter(Enforcer {
            policy,
            principal: &mut c.principal,
            sasl: &mut c.sasl,
            topic_ids: &mut c.ids,
            merges: &mut c.merges,
            close_on_denied_acks_zero: false,
            records: &mut c.records,
            routing: Some(routing),
            hold_limit: 1 << 24,
            quota_clock: Some(QuotaClock {
                store: &mut self.store,
                now_ms: 1_000_000,
                deadline_ms: &mut self.deadline,
            }),
        })
    }
}

fn produce_topics(frame: &[u8], v: i16) -> Vec<String> {
    let mut b = Bytes::copy_from_slice(&frame[4..]);
    RequestHeader::decode(&mut b, ApiKey::Produce.request_header_version(v)).unwrap();
    let r = ProduceRequest::decode(&mut b, v).unwrap();
    r.topic_data.iter().map(|t| t.name.to_string()).collect()
}

fn produce_response(topic: &str) -> ProduceResponse {
    ProduceResponse::default()
        .with_responses(vec![TopicProduceResponse::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))])
}

/// The topic the client reads in the broker's answer (naming `team-a.orders`) to its Produce
/// `v` with correlation id 1.
fn client_topic_of_answer(session: &mut Session, hooks: &mut dyn Hooks, v: i16) -> String {
    let back = pass(
        session,
        hooks,
        &response(ApiKey::Produce, v, 1, &produce_response("team-a.orders")),
        true,
    );
    let (_, r): (i32, ProduceResponse) = decode_response(ApiKey::Produce, v, &back);
    r.responses[0].name.to_string()
}

#[test]
fn a_tenant_produces_under_its_own_names_and_the_broker_sees_its_prefix() {
    let (policy, routing) = (team_a_policy(), routing(TENANTS));
    let mut conn = Routed::new(team_a());
    let mut hooks = conn.hooks(&policy, &routing);
    let mut session = Session::new(LIMITS);
    let v = 9;
    let sent = pass(
        &mut session,
        &mut hooks,
        &request(ApiKey::Produce, v, 1, &produce("orders", 1)),
        false,
    );
    assert_eq!(produce_topics(&sent, v), ["team-a.orders"]);
    assert_eq!(
        client_topic_of_answer(&mut session, &mut hooks, v),
        "orders"
    );
    assert_eq!(
        conn.conn.records[0].checks[0].name, "team-a.orders",
        "rules see the broker's name"
    );
}

#[test]
fn a_denial_names_the_topic_as_the_client_did() {
    let (policy, routing) = (team_a_policy(), routing(TENANTS));
    let mut conn = Routed::new(team_a());
    let mut hooks = conn.hooks(&policy, &routing);
    let mut session = Session::new(LIMITS);
    let v = 9;
    let sent = pass(
        &mut session,
        &mut hooks,
        &request(ApiKey::Produce, v, 1, &produce("payments", 1)),
        false,
    );
    assert_eq!(sent, substitute_request(1));
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::ApiVersions, 0, 1, &ApiVersionsResponse::default()),
        true,
    );
    let (_, r): (i32, ProduceResponse) = decode_response(ApiKey::Produce, v, &back);
    assert_eq!(r.responses[0].name.as_str(), "payments");
    assert_eq!(r.responses[0].partition_responses[0].error_code, 29);
}

#[test]
fn metadata_shows_a_tenant_only_its_own_topics_and_rewritten_brokers() {
    let (policy, routing) = (team_a_policy(), routing(TENANTS));
    let mut conn = Routed::new(team_a());
    let mut hooks = conn.hooks(&policy, &routing);
    let mut session = Session::new(LIMITS);
    let v = 12;
    pass(
        &mut session,
        &mut hooks,
        &request(
            ApiKey::Metadata,
            v,
            1,
            &MetadataRequest::default().with_topics(None),
        ),
        false,
    );
    let topic = |n: &str, id: u8| {
        MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(n.into()))))
            .with_topic_id(uuid::Uuid::from_bytes([id; 16]))
    };
    let listing = MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(3))
            .with_host(StrBytes::from_static_str("10.1.2.3"))
            .with_port(9092)])
        .with_topics(vec![
            topic("team-a.orders", 1),
            topic("team-b.orders", 2),
            topic("__consumer_offsets", 3),
        ]);
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::Metadata, v, 1, &listing),
        true,
    );
    let (_, shown): (i32, MetadataResponse) = decode_response(ApiKey::Metadata, v, &back);
    let names: Vec<String> = shown
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .collect();
    assert_eq!(names, ["orders"]);
    assert_eq!(
        (shown.brokers[0].host.as_str(), shown.brokers[0].port),
        ("kafka-3.brokers.kafka.svc", 9092)
    );
    // team-b's topic id was learned from the broker's listing, but team-a cannot fetch by it.
    let fetch = |cid: i32, id: u8| {
        request(
            ApiKey::Fetch,
            16,
            cid,
            &FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![
                    FetchTopic::default().with_topic_id(uuid::Uuid::from_bytes([id; 16]))
                ]),
        )
    };
    let own = fetch(2, 1);
    assert_eq!(
        pass(&mut session, &mut hooks, &own, false),
        own,
        "its own topic by id"
    );
    assert_eq!(
        pass(&mut session, &mut hooks, &fetch(3, 2), false),
        substitute_request(3),
        "another tenant's id"
    );
    let last = conn.conn.records.last().unwrap();
    assert!(last.checks[0].name.starts_with("unknown-id:"), "{last:?}");
}

#[test]
fn coordinator_keys_come_back_as_the_kind_the_request_named() {
    let (policy, routing) = (team_a_policy(), routing(TENANTS));
    let mut conn = Routed::new(team_a());
    let mut hooks = conn.hooks(&policy, &routing);
    let mut session = Session::new(LIMITS);
    let v = 4;
    for (cid, key_type, client, broker) in [
        (1, 0i8, "billing", "team-a.billing"),
        (2, 1, "tx-1", "tx-a.tx-1"),
    ] {
        let req = FindCoordinatorRequest::default()
            .with_key_type(key_type)
            .with_coordinator_keys(vec![StrBytes::from_static_str(client)]);
        let sent = pass(
            &mut session,
            &mut hooks,
            &request(ApiKey::FindCoordinator, v, cid, &req),
            false,
        );
        let mut b = Bytes::copy_from_slice(&sent[4..]);
        RequestHeader::decode(&mut b, ApiKey::FindCoordinator.request_header_version(v)).unwrap();
        let seen = FindCoordinatorRequest::decode(&mut b, v).unwrap();
        assert_eq!(seen.coordinator_keys[0].as_str(), broker);
        let answer =
            FindCoordinatorResponse::default().with_coordinators(vec![Coordinator::default()
                .with_key(StrBytes::from_string(broker.into()))
                .with_node_id(BrokerId(0))
                .with_host(StrBytes::from_static_str("h"))
                .with_port(1)]);
        let back = pass(
            &mut session,
            &mut hooks,
            &response(ApiKey::FindCoordinator, v, cid, &answer),
            true,
        );
        let (_, r): (i32, FindCoordinatorResponse) =
            decode_response(ApiKey::FindCoordinator, v, &back);
        assert_eq!(r.coordinators[0].key.as_str(), client);
        assert_eq!(r.coordinators[0].host.as_str(), "kafka-0.brokers.kafka.svc");
    }
}

#[test]
fn a_producer_over_its_quota_is_told_to_back_off_and_read_only_topics_refuse_writes() {
    let (policy, routing) = (team_a_policy(), routing(TENANTS));
    let mut conn = Routed::new(team_a());
    let mut hooks = conn.hooks(&policy, &routing);
    let mut session = Session::new(LIMITS);
    let v = 9;
    let big = |topic: &str| {
        ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(1000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.into())))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(Bytes::from(vec![0u8; 3000])))])])
    };
    // 3000 bytes against 1000 B/s with a one-second burst: 2 s of debt.
    pass(
        &mut session,
        &mut hooks,
        &request(ApiKey::Produce, v, 1, &big("metered")),
        false,
    );
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::Produce, v, 1, &produce_response("team-a.metered")),
        true,
    );
    let (_, r): (i32, ProduceResponse) = decode_response(ApiKey::Produce, v, &back);
    assert_eq!(r.responses[0].name.as_str(), "metered");
    assert!(
        (1900..=2100).contains(&r.throttle_time_ms),
        "{}",
        r.throttle_time_ms
    );
    // Unmetered topics are not throttled.
    pass(
        &mut session,
        &mut hooks,
        &request(ApiKey::Produce, v, 2, &big("orders")),
        false,
    );
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::Produce, v, 2, &produce_response("team-a.orders")),
        true,
    );
    let (_, r): (i32, ProduceResponse) = decode_response(ApiKey::Produce, v, &back);
    assert_eq!(r.throttle_time_ms, 0);
    // The policy allows team-a.archive, but it is read-only.
    let sent = pass(
        &mut session,
        &mut hooks,
        &request(ApiKey::Produce, v, 3, &produce("archive", 1)),
        false,
    );
    assert_eq!(sent, substitute_request(3));
}

#[test]
fn a_fetch_whose_response_is_renamed_asks_for_no_more_than_the_hold_limit() {
    let (policy, routing) = (team_a_policy(), routing(TENANTS));
    let mut conn = Routed::new(team_a());
    let mut hooks = conn.hooks(&policy, &routing);
    let mut session = Session::new(LIMITS);
    let v = 12;
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_bytes(52_428_800)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("orders")))
            .with_partitions(vec![Default::default()])]);
    let sent = pass(
        &mut session,
        &mut hooks,
        &request(ApiKey::Fetch, v, 1, &req),
        false,
    );
    let mut b = Bytes::copy_from_slice(&sent[4..]);
    RequestHeader::decode(&mut b, ApiKey::Fetch.request_header_version(v)).unwrap();
    let seen = FetchRequest::decode(&mut b, v).unwrap();
    assert_eq!(seen.topics[0].topic.as_str(), "team-a.orders");
    assert!(
        seen.max_bytes > 0 && seen.max_bytes < 1 << 24,
        "{}",
        seen.max_bytes
    );
}

#[test]
fn a_consumer_over_its_fetch_quota_is_told_to_back_off() {
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::FetchResponse;
    let policy = team_a_policy();
    let routing =
        routing(r#"{"quotas": [{"namespaces": ["team-a"], "fetchBytesPerSecond": 1000}]}"#);
    let mut conn = Routed::new(team_a());
    let mut hooks = conn.hooks(&policy, &routing);
    let mut session = Session::new(LIMITS);
    let v = 12;
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("team-a.orders")))
            .with_partitions(vec![Default::default()])]);
    let fetch = request(ApiKey::Fetch, v, 1, &req);
    assert_eq!(
        pass(&mut session, &mut hooks, &fetch, false),
        fetch,
        "no rename: unchanged"
    );
    let answer = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("team-a.orders")))
        .with_partitions(vec![
            PartitionData::default().with_records(Some(Bytes::from(vec![7u8; 4000])))
        ])]);
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::Fetch, v, 1, &answer),
        true,
    );
    let (_, r): (i32, FetchResponse) = decode_response(ApiKey::Fetch, v, &back);
    // 4000 bytes against 1000 B/s with a one-second burst: 3 s of debt.
    assert!(
        (2900..=3100).contains(&r.throttle_time_ms),
        "{}",
        r.throttle_time_ms
    );
    assert!(is_throttled(FETCH_QUOTA));
    assert_eq!(
        r.responses[0].partitions[0]
            .records
            .as_ref()
            .map(|b| b.len()),
        Some(4000)
    );
}

#[test]
fn renamed_frames_split_anywhere_come_out_the_same() {
    let (policy, routing) = (team_a_policy(), routing(TENANTS));
    let v = 9;
    let requests = [
        request(ApiKey::Produce, v, 1, &produce("orders", 1)),
        request(ApiKey::Produce, v, 2, &produce("payments", 1)),
        request(
            ApiKey::Metadata,
            12,
            3,
            &MetadataRequest::default().with_topics(None),
        ),
    ]
    .concat();
    let responses = [
        response(ApiKey::Produce, v, 1, &produce_response("team-a.orders")),
        response(ApiKey::ApiVersions, 0, 2, &ApiVersionsResponse::default()),
        response(
            ApiKey::Metadata,
            12,
            3,
            &MetadataResponse::default().with_topics(vec![
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("team-a.orders")))),
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("team-b.orders")))),
            ]),
        ),
    ]
    .concat();
    let whole = {
        let mut conn = Routed::new(team_a());
        let mut hooks = conn.hooks(&policy, &routing);
        let mut session = Session::new(LIMITS);
        (
            pass(&mut session, &mut hooks, &requests, false),
            pass(&mut session, &mut hooks, &responses, true),
        )
    };
    for step in [1, 2, 3, 7, 13, 64] {
        let mut conn = Routed::new(team_a());
        let mut hooks = conn.hooks(&policy, &routing);
        let mut session = Session::new(LIMITS);
        let sent = pass_split(&mut session, &mut hooks, &requests, false, step);
        let back = pass_split(&mut session, &mut hooks, &responses, true, step);
        assert_eq!((&sent, &back), (&whole.0, &whole.1), "in pieces of {step}");
    }
    assert_eq!(produce_topics(&whole.0, v), ["team-a.orders"]);
}

/// The tenants of [`TENANTS`] without quotas (quotas charge from the whole request).
const UNMETERED: &str = r#"{
    "tenants": [
        {"name": "team-a", "namespaces": ["team-a"], "topicPrefix": "team-a.", "transactionalIdPrefix": "tx-a."},
        {"name": "team-b", "namespaces": ["team-b"], "topicPrefix": "team-b."}
    ]
}"#;

#[test]
fn a_tenants_produce_is_renamed_in_its_first_bytes_and_its_batches_stream() {
    let (policy, routing) = (team_a_policy(), routing(UNMETERED));
    let range = ApiKey::Produce.valid_versions();
    // Topic ids (v13) are decided whole.
    for v in range.min..13 {
        for txn in [None, Some("tx-a.1")] {
            let body = produce("orders", 1)
                .with_transactional_id(txn.map(|t| {
                    kafka_protocol::messages::TransactionalId(StrBytes::from_static_str(t))
                }))
                .with_topic_data(vec![TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str("orders")))
                    .with_partition_data(vec![PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(Bytes::from(vec![7u8; 5000])))])]);
            let frame = request(ApiKey::Produce, v, 1, &body);
            // What a new team-a connection sends on for these bytes.
            let fresh = |bytes: &[u8]| {
                let mut conn = Routed::new(team_a());
                let mut hooks = conn.hooks(&policy, &routing);
                pass(&mut Session::new(LIMITS), &mut hooks, bytes, false)
            };
            // Held whole and re-encoded by kafka-protocol: what the broker must get.
            let whole = fresh(&frame);
            assert_eq!(produce_topics(&whole, v), ["team-a.orders"], "v{v}");
            let mut conn = Routed::new(team_a());
            let mut hooks = conn.hooks(&policy, &routing);
            let mut session = Session::new(LIMITS);
            let sent = pass_split(&mut session, &mut hooks, &frame, false, 64);
            assert_eq!(sent, whole, "v{v} {txn:?}: the same bytes, in pieces");
            // The first 128 bytes hold the topic: without a transactional id to rename, the
            // renamed head goes on at once and the record batch streams after it.
            let first = fresh(&frame[..128]);
            if txn.is_none() {
                assert!(
                    !first.is_empty() && whole.starts_with(&first),
                    "v{v}: streamed"
                );
            } else {
                assert!(
                    first.is_empty(),
                    "v{v}: a renamed transactional id is held whole"
                );
            }
            assert_eq!(
                client_topic_of_answer(&mut session, &mut hooks, v),
                "orders",
                "v{v}"
            );
            let record = conn.conn.records.last().unwrap();
            assert_eq!(record.checks.last().unwrap().name, "team-a.orders");
            assert!(record.allowed);
        }
    }
}

#[test]
fn a_connection_outside_every_tenant_streams_its_produce_unchanged() {
    let (policy, routing) = (
        serde_json::from_str::<AuthorizationPolicy>(
            r#"{"rules": [{"action": "allow", "principals": ["*"], "operations": ["All"],
                "resources": [{"type": "topic", "name": "*"}]}]}"#,
        )
        .unwrap()
        .compile()
        .unwrap(),
        routing(UNMETERED),
    );
    let outsider = Principal::from_spiffe_id("spiffe://cluster.local/ns/ops/sa/tool");
    let mut conn = Routed::new(outsider);
    let mut hooks = conn.hooks(&policy, &routing);
    let body = produce("orders", 1).with_topic_data(vec![TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_static_str("orders")))
        .with_partition_data(vec![PartitionProduceData::default()
            .with_index(0)
            .with_records(Some(Bytes::from(vec![7u8; 5000])))])]);
    let frame = request(ApiKey::Produce, 9, 1, &body);
    let first = pass(&mut Session::new(LIMITS), &mut hooks, &frame[..128], false);
    assert_eq!(first, frame[..128], "streamed as it came");
}

fn encode_body<T: kafka_protocol::protocol::Encodable>(message: &T, version: i16) -> Vec<u8> {
    let mut buf = bytes::BytesMut::new();
    message.encode(&mut buf, version).unwrap();
    buf.to_vec()
}

#[test]
fn a_produce_answer_renamed_in_place_is_what_the_full_rewrite_makes() {
    use kafka_protocol::messages::produce_response::{
        BatchIndexAndErrorMessage, PartitionProduceResponse,
    };
    let routing = routing(UNMETERED);
    let tenant = routing
        .tenant(routing.tenant_of(&team_a()).unwrap())
        .unwrap();
    let partition = |i: i32| {
        PartitionProduceResponse::default()
            .with_index(i)
            .with_error_code(if i == 1 { 87 } else { 0 })
            .with_base_offset(1_000 + i64::from(i))
            .with_error_message((i == 1).then(|| StrBytes::from_static_str("invalid record")))
            .with_record_errors(if i == 1 {
                vec![BatchIndexAndErrorMessage::default().with_batch_index(3)]
            } else {
                Vec::new()
            })
    };
    for v in 3..13 {
        for (broker, client) in [
            ("team-a.orders", Some("orders")),
            ("team-a.team-b.x", Some("team-b.x")),
        ] {
            let body = encode_body(
                &ProduceResponse::default()
                    .with_throttle_time_ms(7)
                    .with_responses(vec![TopicProduceResponse::default()
                        .with_name(TopicName(StrBytes::from_static_str(broker)))
                        .with_partition_responses((0..3).map(partition).collect())]),
                v,
            );
            let full = route::rewrite::rewrite_response(PRODUCE, v, &body, tenant).unwrap();
            let fast = rename_produce_response(v, &body, tenant).expect("one topic, in place");
            assert_eq!(fast, full, "v{v} {broker}");
            let (name, _) = kafka::produce_response_topic(v, fast.as_deref().unwrap()).unwrap();
            assert_eq!(Some(name.to_string()), client.map(str::to_string));
        }
        // Another tenant's topic is not the client's to see: the full rewrite decides.
        let other = encode_body(&produce_response("team-b.orders"), v);
        assert_eq!(rename_produce_response(v, &other, tenant), None, "v{v}");
    }
}
