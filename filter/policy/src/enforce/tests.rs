//! The enforcer through a real codec session: frames encoded by `kafka-protocol` in, what the
//! broker and the client would receive out.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, MetadataRequest, MetadataResponse, ProduceRequest,
    ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use meshka_codec::edit::Output;
use meshka_codec::head::RequestHead;
use meshka_codec::inflight::Pending;
use meshka_codec::session::substitute_request;
use meshka_codec::{Error, Hooks, Limits, Session, Verdict};

use super::*;
use crate::authz::AuthorizationPolicy;

const LIMITS: Limits = Limits {
    max_frame_bytes: 1 << 20,
    max_header_bytes: 4096,
    max_in_flight: 64,
    max_hold_bytes: 1 << 20,
};

fn policy(mode: &str) -> CompiledPolicy {
    let json = format!(
        r#"{{"mode": "{mode}", "rules": [
            {{"action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Write"],
              "resources": [{{"type": "topic", "name": "orders.", "patternType": "prefixed"}}]}},
            {{"action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Read"],
              "resources": [{{"type": "topic", "name": "payments"}}, {{"type": "group", "name": "orders-", "patternType": "prefixed"}}]}}
        ]}}"#
    );
    serde_json::from_str::<AuthorizationPolicy>(&json)
        .unwrap()
        .compile()
        .unwrap()
}

fn orders() -> Principal {
    Principal::new(Some("spiffe://cluster.local/ns/shop/sa/orders"), None)
}

struct Adapter<'a>(Enforcer<'a>);

impl Hooks for Adapter<'_> {
    fn inspect_requests(&self) -> bool {
        true
    }
    fn on_request_start(
        &mut self,
        head: &RequestHead<'_>,
        body: &[u8],
        _body_len: usize,
    ) -> Result<meshka_codec::session::Early, Error> {
        self.0.on_request_start(head, body)
    }
    fn on_request(&mut self, head: &RequestHead<'_>, body: &[u8]) -> Result<Verdict, Error> {
        self.0.on_request(head, body)
    }
    fn on_response(&mut self, request: &Pending, tag: u32, body: &[u8]) -> Result<Vec<u8>, Error> {
        self.0.on_response(request, tag, body)
    }
}

/// One connection's state, as the Wasm layer keeps it.
struct Conn {
    principal: Principal,
    sasl: crate::sasl::Exchange,
    ids: std::collections::HashMap<[u8; 16], String>,
    merges: Vec<(i32, crate::kafka::Denied)>,
    records: Records,
    close_on_denied_acks_zero: bool,
}

impl Conn {
    fn new(principal: Principal) -> Conn {
        Conn {
            principal,
            sasl: crate::sasl::Exchange::default(),
            ids: std::collections::HashMap::new(),
            merges: Vec::new(),
            records: Records::default(),
            close_on_denied_acks_zero: false,
        }
    }

    fn hooks<'a>(&'a mut self, policy: &'a CompiledPolicy) -> Adapter<'a> {
        Adapter(Enforcer {
            policy,
            principal: &mut self.principal,
            sasl: &mut self.sasl,
            topic_ids: &mut self.ids,
            merges: &mut self.merges,
            close_on_denied_acks_zero: self.close_on_denied_acks_zero,
            records: &mut self.records,
            routing: None,
            hold_limit: 1 << 24,
            quota_clock: None,
        })
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    meshka_codec::edit::frame(body)
}

fn request<T: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &T) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("test")))
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    frame(&buf)
}

fn response<T: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &T) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let header_version = if key == ApiKey::ApiVersions {
        0
    } else {
        key.response_header_version(version)
    };
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    frame(&buf)
}

fn produce(topic: &str, acks: i16) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from_static(b"records")))])])
}

/// Sends `stream` one way through `session`, returns what came out.
fn pass(session: &mut Session, hooks: &mut dyn Hooks, stream: &[u8], responses: bool) -> Vec<u8> {
    pass_split(session, hooks, stream, responses, stream.len().max(1))
}

/// Feeds `stream` in pieces of `step` bytes, as TCP may deliver it; returns what came out.
fn pass_split(
    session: &mut Session,
    hooks: &mut dyn Hooks,
    stream: &[u8],
    responses: bool,
    step: usize,
) -> Vec<u8> {
    let mut all = Vec::new();
    for chunk in stream.chunks(step) {
        let mut out = Output::default();
        let mut src = chunk;
        if responses {
            session
                .on_response_data(&mut src, 0, hooks, &mut out)
                .unwrap();
        } else {
            session
                .on_request_data(&mut src, 0, hooks, &mut out)
                .unwrap();
        }
        all.extend(out.render(chunk).unwrap());
    }
    all
}

fn decode_response<T: Decodable>(key: ApiKey, version: i16, frame: &[u8]) -> (i32, T) {
    let mut b = Bytes::copy_from_slice(&frame[4..]);
    let header = ResponseHeader::decode(&mut b, key.response_header_version(version)).unwrap();
    (header.correlation_id, T::decode(&mut b, version).unwrap())
}

#[test]
fn a_denied_produce_is_answered_with_29_in_order_and_allowed_ones_pass() {
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    let v = 9;
    let allowed = request(ApiKey::Produce, v, 1, &produce("orders.created", 1));
    let denied = request(ApiKey::Produce, v, 2, &produce("payments", 1));
    let dropped = request(ApiKey::Produce, v, 3, &produce("payments", 0));
    let sent = pass(
        &mut session,
        &mut hooks,
        &[allowed.clone(), denied, dropped].concat(),
        false,
    );
    assert_eq!(
        sent,
        [allowed, substitute_request(2)].concat(),
        "the broker sees the allowed produce and a harmless ApiVersions"
    );

    let ok = response(ApiKey::Produce, v, 1, &ProduceResponse::default());
    let swapped = response(ApiKey::ApiVersions, 0, 2, &ApiVersionsResponse::default());
    let back = pass(
        &mut session,
        &mut hooks,
        &[ok.clone(), swapped].concat(),
        true,
    );
    assert_eq!(&back[..ok.len()], &ok[..]);
    let (cid, denial): (i32, ProduceResponse) =
        decode_response(ApiKey::Produce, v, &back[ok.len()..]);
    assert_eq!(cid, 2);
    let codes: Vec<i16> = denial
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
        .collect();
    assert_eq!(codes, vec![29]);

    let summary: Vec<(bool, bool)> = conn
        .records
        .iter()
        .map(|r| (r.allowed, r.forwarded))
        .collect();
    assert_eq!(summary, vec![(true, true), (false, false), (false, false)]);
    assert_eq!(conn.records[1].checks[0].name, "payments");
    let line = serde_json::to_string(&conn.records[1]).unwrap();
    assert!(
        line.contains("\"principal\":\"spiffe://cluster.local/ns/shop/sa/orders\""),
        "{line}"
    );
}

#[test]
fn audit_mode_forwards_and_records_the_would_be_denial() {
    let policy = policy("audit");
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    let denied = request(ApiKey::Produce, 9, 7, &produce("payments", 1));
    assert_eq!(pass(&mut session, &mut hooks, &denied, false), denied);
    assert_eq!(
        (
            conn.records[0].allowed,
            conn.records[0].forwarded,
            conn.records[0].audit
        ),
        (false, true, true)
    );
}

#[test]
fn metadata_for_all_topics_hides_what_may_not_be_described() {
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    let v = 12;
    let all = request(
        ApiKey::Metadata,
        v,
        5,
        &MetadataRequest::default().with_topics(None),
    );
    assert_eq!(pass(&mut session, &mut hooks, &all, false), all);
    let topic = |n: &str| {
        MetadataResponseTopic::default().with_name(Some(TopicName(StrBytes::from_string(n.into()))))
    };
    let listing = MetadataResponse::default().with_topics(vec![
        topic("orders.created"),
        topic("payments"),
        topic("secrets"),
    ]);
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::Metadata, v, 5, &listing),
        true,
    );
    let (cid, filtered): (i32, MetadataResponse) = decode_response(ApiKey::Metadata, v, &back);
    assert_eq!(cid, 5);
    let names: Vec<String> = filtered
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
        .collect();
    assert_eq!(names, vec!["orders.created", "payments"]);
}

#[test]
fn naming_a_topic_that_may_not_be_described_is_denied() {
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    let named = MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default()
        .with_name(Some(TopicName(StrBytes::from_static_str("secrets"))))]));
    let sent = pass(
        &mut session,
        &mut hooks,
        &request(ApiKey::Metadata, 12, 9, &named),
        false,
    );
    assert_eq!(sent, substitute_request(9));
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::ApiVersions, 0, 9, &ApiVersionsResponse::default()),
        true,
    );
    let (_, denial): (i32, MetadataResponse) = decode_response(ApiKey::Metadata, 12, &back);
    assert_eq!(
        denial
            .topics
            .iter()
            .map(|t| t.error_code)
            .collect::<Vec<_>>(),
        vec![29]
    );
}

#[test]
fn auto_creation_of_a_topic_that_may_not_be_created_is_switched_off() {
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    // orders may Write (so Describe) orders.new, but not Create it.
    let named = MetadataRequest::default()
        .with_allow_auto_topic_creation(true)
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_static_str("orders.new")),
        ))]));
    let sent = pass(
        &mut session,
        &mut hooks,
        &request(ApiKey::Metadata, 12, 4, &named),
        false,
    );
    let mut b = Bytes::copy_from_slice(&sent[4..]);
    RequestHeader::decode(&mut b, 2).unwrap();
    let forwarded = MetadataRequest::decode(&mut b, 12).unwrap();
    assert!(!forwarded.allow_auto_topic_creation);
    assert_eq!(forwarded.topics, named.topics);
}

#[test]
fn api_versions_are_clamped_to_what_the_filter_decodes() {
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    let req = request(
        ApiKey::ApiVersions,
        3,
        1,
        &kafka_protocol::messages::ApiVersionsRequest::default(),
    );
    pass(&mut session, &mut hooks, &req, false);
    let offered = ApiVersionsResponse::default().with_api_keys(vec![
        ApiVersion::default()
            .with_api_key(0)
            .with_min_version(0)
            .with_max_version(99),
        ApiVersion::default()
            .with_api_key(1000)
            .with_min_version(0)
            .with_max_version(1),
    ]);
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::ApiVersions, 3, 1, &offered),
        true,
    );
    let mut b = Bytes::copy_from_slice(&back[4..]);
    ResponseHeader::decode(&mut b, 0).unwrap();
    let clamped = ApiVersionsResponse::decode(&mut b, 3).unwrap();
    let keys: Vec<(i16, i16)> = clamped
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.max_version))
        .collect();
    assert_eq!(keys, vec![(0, ApiKey::Produce.valid_versions().max)]);
}

#[test]
fn topic_ids_are_authorized_by_the_name_metadata_gave_them() {
    use kafka_protocol::messages::fetch_request::FetchTopic;
    use kafka_protocol::messages::FetchRequest;
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    let (payments, secrets, unknown) = ([1u8; 16], [2u8; 16], [3u8; 16]);
    let topic = |n: &str, id: [u8; 16]| {
        MetadataResponseTopic::default()
            .with_name(Some(TopicName(StrBytes::from_string(n.into()))))
            .with_topic_id(uuid::Uuid::from_bytes(id))
    };
    let all = request(
        ApiKey::Metadata,
        12,
        1,
        &MetadataRequest::default().with_topics(None),
    );
    pass(&mut session, &mut hooks, &all, false);
    let listing = MetadataResponse::default()
        .with_topics(vec![topic("payments", payments), topic("secrets", secrets)]);
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::Metadata, 12, 1, &listing),
        true,
    );
    let (_, shown): (i32, MetadataResponse) = decode_response(ApiKey::Metadata, 12, &back);
    assert_eq!(
        shown.topics.len(),
        1,
        "secrets is hidden, yet its id was learned"
    );

    let fetch = |cid: i32, id: [u8; 16]| {
        request(
            ApiKey::Fetch,
            16,
            cid,
            &FetchRequest::default()
                .with_replica_id(kafka_protocol::messages::BrokerId(-1))
                .with_topics(vec![
                    FetchTopic::default().with_topic_id(uuid::Uuid::from_bytes(id))
                ]),
        )
    };
    let readable = fetch(2, payments);
    assert_eq!(
        pass(&mut session, &mut hooks, &readable, false),
        readable,
        "payments may be read by id"
    );
    assert_eq!(
        pass(&mut session, &mut hooks, &fetch(3, secrets), false),
        substitute_request(3),
        "an id is no way around a name rule"
    );
    assert_eq!(
        pass(&mut session, &mut hooks, &fetch(4, unknown), false),
        substitute_request(4),
        "an unknown id is denied"
    );
    let names: Vec<&str> = conn
        .records
        .iter()
        .skip(1)
        .map(|r| r.checks[0].name.as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "payments",
            "secrets",
            "unknown-id:03030303030303030303030303030303"
        ]
    );
}

#[test]
fn a_sasl_user_counts_once_the_broker_accepted_it() {
    use kafka_protocol::messages::{
        SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
        SaslHandshakeResponse,
    };
    let policy: CompiledPolicy = serde_json::from_str::<AuthorizationPolicy>(
        r#"{"rules": [{"action": "allow", "users": ["User:alice"], "operations": ["Write"], "resources": [{"type": "topic", "name": "ledger"}]}]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    let mut conn = Conn::new(Principal::anonymous());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    let exchange =
        |session: &mut Session, hooks: &mut Adapter<'_>, cid: i32, password: &str, code: i16| {
            let hs = request(
                ApiKey::SaslHandshake,
                1,
                cid,
                &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
            );
            assert_eq!(pass(session, hooks, &hs, false), hs);
            pass(
                session,
                hooks,
                &response(
                    ApiKey::SaslHandshake,
                    1,
                    cid,
                    &SaslHandshakeResponse::default(),
                ),
                true,
            );
            let token = Bytes::from(format!("\0alice\0{password}").into_bytes());
            let auth = request(
                ApiKey::SaslAuthenticate,
                2,
                cid + 1,
                &SaslAuthenticateRequest::default().with_auth_bytes(token),
            );
            assert_eq!(pass(session, hooks, &auth, false), auth);
            let answer = response(
                ApiKey::SaslAuthenticate,
                2,
                cid + 1,
                &SaslAuthenticateResponse::default().with_error_code(code),
            );
            assert_eq!(
                pass(session, hooks, &answer, true),
                answer,
                "the answer reaches the client unchanged"
            );
        };
    let ledger = |cid| request(ApiKey::Produce, 9, cid, &produce("ledger", 1));
    assert_eq!(
        pass(&mut session, &mut hooks, &ledger(1), false),
        substitute_request(1),
        "anonymous may not write"
    );
    pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::ApiVersions, 0, 1, &ApiVersionsResponse::default()),
        true,
    );
    exchange(&mut session, &mut hooks, 2, "wrong", 58);
    assert_eq!(
        pass(&mut session, &mut hooks, &ledger(4), false),
        substitute_request(4),
        "a failed exchange changes nothing"
    );
    pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::ApiVersions, 0, 4, &ApiVersionsResponse::default()),
        true,
    );
    exchange(&mut session, &mut hooks, 5, "right", 0);
    let allowed = ledger(7);
    assert_eq!(
        pass(&mut session, &mut hooks, &allowed, false),
        allowed,
        "alice may write once the broker accepted her"
    );
    assert_eq!(conn.principal.sasl_user.as_deref(), Some("alice"));
}

#[test]
fn list_groups_shows_only_groups_the_caller_may_describe() {
    use kafka_protocol::messages::list_groups_response::ListedGroup;
    use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    let list = request(ApiKey::ListGroups, 4, 3, &ListGroupsRequest::default());
    assert_eq!(pass(&mut session, &mut hooks, &list, false), list);
    let group =
        |g: &str| ListedGroup::default().with_group_id(GroupId(StrBytes::from_string(g.into())));
    let all = ListGroupsResponse::default()
        .with_groups(vec![group("orders-billing"), group("analytics-daily")]);
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::ListGroups, 4, 3, &all),
        true,
    );
    let (_, shown): (i32, ListGroupsResponse) = decode_response(ApiKey::ListGroups, 4, &back);
    let names: Vec<&str> = shown.groups.iter().map(|g| g.group_id.0.as_str()).collect();
    assert_eq!(names, vec!["orders-billing"]);
}

#[test]
fn fetch_sessions_are_turned_into_full_fetches() {
    use kafka_protocol::messages::fetch_request::FetchTopic;
    use kafka_protocol::messages::{BrokerId, FetchRequest};
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    let incremental = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_session_id(77)
        .with_session_epoch(3)
        .with_topics(vec![
            FetchTopic::default().with_topic(TopicName(StrBytes::from_static_str("payments")))
        ]);
    let sent = pass(
        &mut session,
        &mut hooks,
        &request(ApiKey::Fetch, 12, 8, &incremental),
        false,
    );
    let mut b = Bytes::copy_from_slice(&sent[4..]);
    RequestHeader::decode(&mut b, 2).unwrap();
    let forwarded = FetchRequest::decode(&mut b, 12).unwrap();
    assert_eq!((forwarded.session_id, forwarded.session_epoch), (0, -1));
    assert_eq!(forwarded.topics, incremental.topics);
}

#[test]
fn idempotent_producers_need_write_on_some_topic_or_idempotent_write() {
    use kafka_protocol::messages::InitProducerIdRequest;
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    let init = request(
        ApiKey::InitProducerId,
        4,
        6,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(-1),
    );
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    assert_eq!(
        pass(&mut session, &mut hooks, &init, false),
        init,
        "orders may write orders.*"
    );
    let mut stranger = Conn::new(Principal::new(
        Some("spiffe://cluster.local/ns/x/sa/y"),
        None,
    ));
    let mut hooks = stranger.hooks(&policy);
    let mut session = Session::new(LIMITS);
    assert_eq!(
        pass(&mut session, &mut hooks, &init, false),
        substitute_request(6),
        "who may write nowhere is refused"
    );
}

#[test]
fn an_unknown_topic_id_is_answered_as_unknown_and_a_denied_topic_of_an_allowed_transaction_with_29()
{
    use kafka_protocol::messages::fetch_request::FetchTopic;
    use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TransactionalId};
    let txn_policy: CompiledPolicy = serde_json::from_str::<AuthorizationPolicy>(
        r#"{"rules": [{"action": "allow", "principals": ["*"], "operations": ["Write"],
            "resources": [{"type": "transactionalId", "name": "tx"}, {"type": "topic", "name": "orders.", "patternType": "prefixed"}]}]}"#,
    )
    .unwrap()
    .compile()
    .unwrap();
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&txn_policy);
    let mut session = Session::new(LIMITS);
    let fetch = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(uuid::Uuid::from_bytes([9; 16]))
            .with_partitions(vec![
                kafka_protocol::messages::fetch_request::FetchPartition::default(),
            ])]);
    assert_eq!(
        pass(
            &mut session,
            &mut hooks,
            &request(ApiKey::Fetch, 16, 1, &fetch),
            false
        ),
        substitute_request(1)
    );
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::ApiVersions, 0, 1, &ApiVersionsResponse::default()),
        true,
    );
    let (_, denial): (i32, FetchResponse) = decode_response(ApiKey::Fetch, 16, &back);
    let codes: Vec<i16> = denial
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| *c == 100),
        "UNKNOWN_TOPIC_ID: {codes:?}"
    );

    let txn_produce = produce("payments", 1)
        .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("tx"))));
    assert_eq!(
        pass(
            &mut session,
            &mut hooks,
            &request(ApiKey::Produce, 9, 2, &txn_produce),
            false
        ),
        substitute_request(2)
    );
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::ApiVersions, 0, 2, &ApiVersionsResponse::default()),
        true,
    );
    let (_, denial): (i32, ProduceResponse) = decode_response(ApiKey::Produce, 9, &back);
    let codes: Vec<i16> = denial
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![29],
        "the topic failed, not the transactional id"
    );
}

#[test]
fn a_partly_denied_produce_forwards_the_allowed_topic_and_merges_the_denial() {
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    let mut hooks = conn.hooks(&policy);
    let mut session = Session::new(LIMITS);
    let mut both = produce("orders.created", 1);
    both.topic_data.extend(produce("payments", 1).topic_data);
    let sent = pass(
        &mut session,
        &mut hooks,
        &request(ApiKey::Produce, 9, 3, &both),
        false,
    );
    let mut b = Bytes::copy_from_slice(&sent[4..]);
    RequestHeader::decode(&mut b, 2).unwrap();
    let forwarded = ProduceRequest::decode(&mut b, 9).unwrap();
    let names: Vec<&str> = forwarded
        .topic_data
        .iter()
        .map(|t| t.name.0.as_str())
        .collect();
    assert_eq!(
        names,
        vec!["orders.created"],
        "the broker gets only the allowed topic"
    );

    let ok = ProduceResponse::default().with_responses(vec![TopicProduceResponse::default()
        .with_name(TopicName(StrBytes::from_static_str("orders.created")))
        .with_partition_responses(vec![PartitionProduceResponse::default().with_index(0)])]);
    let back = pass(
        &mut session,
        &mut hooks,
        &response(ApiKey::Produce, 9, 3, &ok),
        true,
    );
    let (cid, merged): (i32, ProduceResponse) = decode_response(ApiKey::Produce, 9, &back);
    assert_eq!(cid, 3);
    let codes: Vec<(String, i16)> = merged
        .responses
        .iter()
        .flat_map(|t| {
            t.partition_responses
                .iter()
                .map(move |p| (t.name.0.to_string(), p.error_code))
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            ("orders.created".to_string(), 0),
            ("payments".to_string(), 29)
        ]
    );
    assert!(
        conn.merges.is_empty(),
        "nothing is kept once the response went back"
    );
}

#[test]
fn a_denied_fire_and_forget_produce_is_dropped_or_closes_the_connection() {
    let policy = policy("enforce");
    let mut conn = Conn::new(orders());
    for close in [false, true] {
        let mut hooks = {
            conn.close_on_denied_acks_zero = close;
            conn.hooks(&policy)
        };
        let mut session = Session::new(LIMITS);
        let mut out = Output::default();
        let req = request(ApiKey::Produce, 9, 1, &produce("payments", 0));
        let mut src = &req[..];
        let result = session.on_request_data(&mut src, 0, &mut hooks, &mut out);
        if close {
            assert!(result
                .unwrap_err()
                .to_string()
                .contains("closeOnDeniedAcksZero"));
        } else {
            result.unwrap();
            assert_eq!(out.render(&req).unwrap(), Vec::<u8>::new(), "dropped");
        }
    }
    assert_eq!(conn.records.len(), 2, "both denials are recorded");
}

/// Bypass attempts: names that only look like an allowed one, frames that lie about their length.
mod bypass {
    use super::*;

    #[test]
    fn look_alike_topic_names_do_not_match_a_rule() {
        let policy = policy("enforce");
        for name in [
            "Orders.created",        // case
            "orders_created",        // '_' for '.'
            "orders-created",        // '-' for '.'
            "\u{043e}rders.created", // Cyrillic o
            "orders\u{2024}created", // one dot leader
            " orders.created",
            "orders",
        ] {
            let mut conn = Conn::new(orders());
            let mut hooks = conn.hooks(&policy);
            let mut session = Session::new(LIMITS);
            let req = request(ApiKey::Produce, 9, 1, &produce(name, 1));
            assert_eq!(
                pass(&mut session, &mut hooks, &req, false),
                substitute_request(1),
                "{name:?} must not pass as orders.*"
            );
        }
    }

    #[test]
    fn a_frame_that_claims_the_next_request_as_its_body_is_decided_as_one() {
        // A denied produce whose length also covers an allowed one: the broker would read one
        // frame, and so does the filter — the whole of it is denied.
        let policy = policy("enforce");
        let mut conn = Conn::new(orders());
        let mut hooks = conn.hooks(&policy);
        let mut session = Session::new(LIMITS);
        let denied = request(ApiKey::Produce, 9, 1, &produce("payments", 1));
        let allowed = request(ApiKey::Produce, 9, 2, &produce("orders.created", 1));
        let mut glued = denied.clone();
        glued.extend_from_slice(&allowed);
        let len = (glued.len() - 4) as i32;
        glued[..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            pass(&mut session, &mut hooks, &glued, false),
            substitute_request(1)
        );
    }

    #[test]
    fn a_frame_shorter_than_its_header_fails_closed() {
        let policy = policy("enforce");
        let mut conn = Conn::new(orders());
        let mut hooks = conn.hooks(&policy);
        let mut session = Session::new(LIMITS);
        let mut req = request(ApiKey::Produce, 9, 1, &produce("payments", 1));
        req[..4].copy_from_slice(&6i32.to_be_bytes());
        req.truncate(10);
        let mut out = Output::default();
        let mut src = &req[..];
        assert!(session
            .on_request_data(&mut src, 0, &mut hooks, &mut out)
            .is_err());
        assert!(
            out.render(&req).unwrap().is_empty(),
            "nothing of it reached the broker"
        );
    }

    #[test]
    fn a_version_below_what_the_filter_decodes_fails_closed_after_api_versions() {
        let policy = policy("enforce");
        let mut conn = Conn::new(orders());
        let mut hooks = conn.hooks(&policy);
        let mut session = Session::new(LIMITS);
        // Produce v2: before ApiVersions' clamp, and still refused after it.
        let mut req = request(ApiKey::Produce, 3, 1, &produce("orders.created", 1));
        req[6..8].copy_from_slice(&2i16.to_be_bytes());
        let mut out = Output::default();
        let mut src = &req[..];
        let err = session
            .on_request_data(&mut src, 0, &mut hooks, &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("outside the versions"), "{err}");
        assert!(out.render(&req).unwrap().is_empty());
    }
}

mod routing;

mod stream;
