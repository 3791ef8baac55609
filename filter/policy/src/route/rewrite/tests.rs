//! Tests: every api this module rewrites, at every version `kafka-protocol` decodes, requests
//! and responses; built with names, rewritten, and compared with the same message built with
//! the mapped names (which checks every other field and the unknown tagged fields too).

mod build;

use std::borrow::Cow;
use std::ops::RangeInclusive;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::Decodable;
use proptest::prelude::*;

use self::build::*;
use super::*;
use crate::route::names::ClientName;

const PREFIX: &str = "team-a.";

/// A tenant: every kind of name gets the prefix on its way to the broker; the broker's names
/// without it are another tenant's.
struct Tenant;

impl NameMap for Tenant {
    fn to_broker<'a>(&self, _: NameKind, name: &'a str) -> Cow<'a, str> {
        Cow::Owned(format!("{PREFIX}{name}"))
    }
    fn to_client<'a>(&self, _: NameKind, name: &'a str) -> ClientName<'a> {
        match name.strip_prefix(PREFIX) {
            Some(rest) => ClientName::Named(Cow::Borrowed(rest)),
            None => ClientName::Hidden,
        }
    }
}

/// The inverse of [`Tenant`], to map rewritten messages back.
struct Untenant;

impl NameMap for Untenant {
    fn to_broker<'a>(&self, _: NameKind, name: &'a str) -> Cow<'a, str> {
        match name.strip_prefix(PREFIX) {
            Some(rest) => Cow::Owned(rest.to_owned()),
            None => Cow::Borrowed(name),
        }
    }
    fn to_client<'a>(&self, _: NameKind, name: &'a str) -> ClientName<'a> {
        ClientName::Named(Cow::Owned(format!("{PREFIX}{name}")))
    }
}

/// No rewriting.
struct Identity;

impl NameMap for Identity {
    fn to_broker<'a>(&self, _: NameKind, name: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(name)
    }
    fn to_client<'a>(&self, _: NameKind, name: &'a str) -> ClientName<'a> {
        ClientName::Named(Cow::Borrowed(name))
    }
}

/// Different prefixes per kind.
struct PerKind;

fn kind_prefix(kind: NameKind) -> &'static str {
    match kind {
        NameKind::Topic => "t.",
        NameKind::Group => "g.",
        NameKind::TransactionalId => "x.",
    }
}

impl NameMap for PerKind {
    fn to_broker<'a>(&self, kind: NameKind, name: &'a str) -> Cow<'a, str> {
        Cow::Owned(format!("{}{name}", kind_prefix(kind)))
    }
    fn to_client<'a>(&self, kind: NameKind, name: &'a str) -> ClientName<'a> {
        match name.strip_prefix(kind_prefix(kind)) {
            Some(rest) => ClientName::Named(Cow::Borrowed(rest)),
            None => ClientName::Hidden,
        }
    }
}

/// Groups under `a.`, transactional ids under `a.x.`: a transactional id's broker name is also
/// a group's.
struct Overlapping;

fn overlapping_prefix(kind: NameKind) -> &'static str {
    match kind {
        NameKind::TransactionalId => "a.x.",
        _ => "a.",
    }
}

impl NameMap for Overlapping {
    fn to_broker<'a>(&self, kind: NameKind, name: &'a str) -> Cow<'a, str> {
        Cow::Owned(format!("{}{name}", overlapping_prefix(kind)))
    }
    fn to_client<'a>(&self, kind: NameKind, name: &'a str) -> ClientName<'a> {
        match name.strip_prefix(overlapping_prefix(kind)) {
            Some(rest) => ClientName::Named(Cow::Borrowed(rest)),
            None => ClientName::Hidden,
        }
    }
}

fn prefixed(n: &N) -> N {
    n.map(|s| format!("{PREFIX}{s}"))
}

fn versions(key: ApiKey) -> RangeInclusive<i16> {
    key.valid_versions().min..=decodable_max(key)
}

/// Requests that carry no names at these versions.
fn request_without_names(key: ApiKey, v: i16) -> bool {
    matches!(
        key,
        ApiKey::ListGroups | ApiKey::ListTransactions | ApiKey::ListConfigResources
    ) || (key == ApiKey::Fetch && v >= 13)
}

fn req(key: ApiKey, v: i16, body: &[u8], names: &dyn NameMap) -> Option<Vec<u8>> {
    rewrite_request(key as i16, v, body, names).unwrap_or_else(|e| panic!("{key:?} v{v}: {e}"))
}

fn resp(key: ApiKey, v: i16, body: &[u8], names: &dyn NameMap) -> Option<Vec<u8>> {
    rewrite_response(key as i16, v, body, names).unwrap_or_else(|e| panic!("{key:?} v{v}: {e}"))
}

/// Decodes a whole body as `T` (no bytes left).
fn decodes<T: Decodable>(body: &[u8], v: i16) -> T {
    let mut b = Bytes::copy_from_slice(body);
    let m = T::decode(&mut b, v).unwrap();
    assert!(b.is_empty(), "bytes left");
    m
}

#[test]
fn every_request_at_every_version() {
    let plain = N::plain();
    let mut pairs = 0;
    for &(key, build) in REQUESTS {
        for v in versions(key) {
            let original = build(v, &plain);
            let expected = build(v, &prefixed(&plain));
            let got = req(key, v, &original, &Tenant);
            if request_without_names(key, v) {
                assert_eq!(
                    expected, original,
                    "{key:?} v{v}: the builder named nothing"
                );
                assert_eq!(got, None, "{key:?} v{v}");
                continue;
            }
            assert_ne!(
                expected, original,
                "{key:?} v{v}: the builder named nothing"
            );
            let got = got.unwrap_or_else(|| panic!("{key:?} v{v}: unchanged"));
            assert_eq!(got, expected, "{key:?} v{v}");
            // Back again: the original bytes.
            let back = req(key, v, &got, &Untenant);
            assert_eq!(back.as_deref(), Some(&original[..]), "{key:?} v{v}: back");
            pairs += 1;
        }
    }
    eprintln!("{pairs} (api, version) request pairs rewritten");
    assert!(pairs > 150, "{pairs}");
}

#[test]
fn every_response_at_every_version() {
    let plain = N::plain();
    let mut pairs = 0;
    for &(key, build) in RESPONSES {
        for v in versions(key) {
            let broker = build(v, &prefixed(&plain));
            let expected = build(v, &plain);
            let got = resp(key, v, &broker, &Tenant);
            if !response_has_names(key as i16, v) {
                assert_eq!(expected, broker, "{key:?} v{v}: names but has_names false");
                assert_eq!(got, None, "{key:?} v{v}");
                continue;
            }
            assert_ne!(expected, broker, "{key:?} v{v}: the builder named nothing");
            let got = got.unwrap_or_else(|| panic!("{key:?} v{v}: unchanged"));
            assert_eq!(got, expected, "{key:?} v{v}");
            let back = resp(key, v, &got, &Untenant);
            assert_eq!(back.as_deref(), Some(&broker[..]), "{key:?} v{v}: back");
            pairs += 1;
        }
    }
    eprintln!("{pairs} (api, version) response pairs rewritten");
    assert!(pairs > 100, "{pairs}");
}

#[test]
fn hidden_entries_are_dropped_from_every_array() {
    // Broker names: the tenant's, interleaved with another tenant's.
    let broker = N {
        t: vec![
            "team-a.orders".into(),
            "team-b.orders".into(),
            "team-a.payments".into(),
            "secret".into(),
        ],
        g: vec![
            "team-a.billing".into(),
            "team-b.billing".into(),
            "team-a.audit".into(),
        ],
        x: vec![
            "team-a.tx-1".into(),
            "tx-other".into(),
            "team-a.tx-2".into(),
        ],
    };
    let client = N::plain();
    for &(key, build) in RESPONSES {
        for v in versions(key) {
            if !response_has_names(key as i16, v) {
                continue;
            }
            let got = resp(key, v, &build(v, &broker), &Tenant);
            assert_eq!(got, Some(build(v, &client)), "{key:?} v{v}");
        }
    }
}

#[test]
fn identity_maps_change_nothing() {
    let plain = N::plain();
    for &(key, build) in REQUESTS {
        for v in versions(key) {
            assert_eq!(
                req(key, v, &build(v, &plain), &Identity),
                None,
                "{key:?} v{v}"
            );
        }
    }
    for &(key, build) in RESPONSES {
        for v in versions(key) {
            assert_eq!(
                resp(key, v, &build(v, &plain), &Identity),
                None,
                "{key:?} v{v}"
            );
        }
    }
}

#[test]
fn decoded_results_carry_the_mapped_names() {
    // The byte comparisons above imply this; spelled out for the two busiest apis.
    let plain = N::plain();
    for v in 3..=12 {
        let body = req(
            ApiKey::Produce,
            v,
            &build_req(ApiKey::Produce, v, &plain),
            &Tenant,
        );
        let r: ProduceRequest = decodes(&body.unwrap(), v);
        assert_eq!(r.transactional_id.unwrap().0.as_str(), "team-a.tx-1");
        let names: Vec<&str> = r.topic_data.iter().map(|t| t.name.0.as_str()).collect();
        assert_eq!(names, ["team-a.orders", "team-a.payments"]);
        assert_eq!(
            r.topic_data[0].partition_data[0].records.as_deref(),
            Some(&b"opaque batch"[..])
        );
    }
    for v in 0..=13 {
        let broker = build_resp(ApiKey::Metadata, v, &prefixed(&plain));
        let body = resp(ApiKey::Metadata, v, &broker, &Tenant).unwrap();
        let r: MetadataResponse = decodes(&body, v);
        let names: Vec<&str> = r
            .topics
            .iter()
            .map(|t| t.name.as_ref().unwrap().0.as_str())
            .collect();
        assert_eq!(names, ["orders", "payments"], "v{v}");
        if v >= 9 {
            assert_eq!(r.unknown_tagged_fields, tags(), "v{v}");
            assert_eq!(r.topics[0].unknown_tagged_fields, tags(), "v{v}");
        }
    }
}

fn build_req(key: ApiKey, v: i16, n: &N) -> Vec<u8> {
    let (_, b) = REQUESTS.iter().find(|(k, _)| *k == key).unwrap();
    b(v, n)
}

fn build_resp(key: ApiKey, v: i16, n: &N) -> Vec<u8> {
    let (_, b) = RESPONSES.iter().find(|(k, _)| *k == key).unwrap();
    b(v, n)
}

/// Apis whose requests carry names this module does not rewrite.
const NOT_COVERED: &[ApiKey] = &[
    ApiKey::DescribeAcls,
    ApiKey::CreateAcls,
    ApiKey::DeleteAcls,
    ApiKey::AlterReplicaLogDirs,
    ApiKey::DescribeLogDirs,
    ApiKey::ElectLeaders,
    ApiKey::AlterPartitionReassignments,
    ApiKey::ListPartitionReassignments,
    ApiKey::ShareGroupHeartbeat,
    ApiKey::ShareGroupDescribe,
    ApiKey::ShareFetch,
    ApiKey::ShareAcknowledge,
    ApiKey::DescribeShareGroupOffsets,
    ApiKey::AlterShareGroupOffsets,
    ApiKey::DeleteShareGroupOffsets,
    ApiKey::WriteTxnMarkers,
    ApiKey::Vote,
    ApiKey::BeginQuorumEpoch,
    ApiKey::EndQuorumEpoch,
    ApiKey::DescribeQuorum,
    ApiKey::Envelope,
    ApiKey::FetchSnapshot,
    ApiKey::InitializeShareGroupState,
    ApiKey::ReadShareGroupState,
    ApiKey::WriteShareGroupState,
    ApiKey::DeleteShareGroupState,
    ApiKey::ReadShareGroupStateSummary,
];

#[test]
fn every_api_key_is_rewritten_refused_or_has_no_names() {
    for key in ApiKey::iter() {
        let has_builder = REQUESTS.iter().any(|(k, _)| *k == key);
        for v in versions(key) {
            let got = rewrite_request(key as i16, v, &[], &Tenant);
            let resp_got = rewrite_response(key as i16, v, &[], &Tenant);
            if NOT_COVERED.contains(&key) {
                assert!(
                    matches!(got, Err(KafkaError::NotCovered { .. })),
                    "{key:?} v{v}: {got:?}"
                );
                assert!(matches!(resp_got, Err(KafkaError::NotCovered { .. })));
                assert!(!response_has_names(key as i16, v));
            } else if !has_builder {
                // No names: answered without even decoding.
                assert_eq!(got, Ok(None), "{key:?} v{v}");
                assert_eq!(resp_got, Ok(None), "{key:?} v{v}");
            }
        }
    }
}

#[test]
fn response_has_names_exactly_where_responses_carry_names() {
    let plain = N::plain();
    for key in ApiKey::iter() {
        let builder = RESPONSES.iter().find(|(k, _)| *k == key);
        for v in versions(key) {
            let carries = builder
                .map(|(_, b)| b(v, &plain) != b(v, &prefixed(&plain)))
                .unwrap_or(false);
            assert_eq!(response_has_names(key as i16, v), carries, "{key:?} v{v}");
        }
    }
    // Outside the decodable versions and keys: false.
    assert!(!response_has_names(ApiKey::OffsetFetch as i16, 10));
    assert!(!response_has_names(ApiKey::Produce as i16, 2));
    assert!(!response_has_names(4, 0));
    assert!(!response_has_names(-1, 0));
}

#[test]
fn unsupported_versions_and_keys_are_errors() {
    let body = build_req(ApiKey::OffsetCommit, 9, &N::plain());
    assert!(matches!(
        rewrite_request(ApiKey::OffsetCommit as i16, 10, &body, &Tenant),
        Err(KafkaError::UnsupportedVersion { max: 9, .. })
    ));
    assert!(matches!(
        rewrite_response(ApiKey::OffsetFetch as i16, 10, &body, &Tenant),
        Err(KafkaError::UnsupportedVersion { max: 9, .. })
    ));
    assert!(matches!(
        rewrite_request(ApiKey::InitProducerId as i16, 6, &body, &Tenant),
        Err(KafkaError::UnsupportedVersion { max: 5, .. })
    ));
    assert_eq!(
        rewrite_request(93, 0, &[], &Tenant),
        Err(KafkaError::UnknownApiKey(93))
    );
    assert_eq!(
        rewrite_response(-1, 0, &[], &Tenant),
        Err(KafkaError::UnknownApiKey(-1))
    );
    // ApiVersions at any version: no names.
    assert_eq!(rewrite_request(18, 99, &[1, 2, 3], &Tenant), Ok(None));
}

// ---------------------------------------------------------------------------------------------
// Special cases.

#[test]
fn all_topics_requests_stay_all_topics() {
    for v in 1..=13 {
        let r = MetadataRequest::default().with_topics(None);
        assert_eq!(req(ApiKey::Metadata, v, &enc(&r, v), &Tenant), None);
    }
    let r = MetadataRequest::default().with_topics(Some(vec![]));
    assert_eq!(req(ApiKey::Metadata, 0, &enc(&r, 0), &Tenant), None);
    for v in 1..=9 {
        let r = OffsetFetchRequest::default().with_group_id(GroupId(sb("g")));
        let r = if v >= 8 {
            OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(sb("g")))
                    .with_topics(None),
            ])
        } else {
            r.with_topics(None)
        };
        let got: OffsetFetchRequest = decodes(
            &req(ApiKey::OffsetFetch, v, &enc(&r, v), &Tenant).unwrap(),
            v,
        );
        if v >= 8 {
            assert_eq!(got.groups[0].group_id.0.as_str(), "team-a.g");
            assert_eq!(got.groups[0].topics, None);
        } else {
            assert_eq!(got.group_id.0.as_str(), "team-a.g");
            assert_eq!(got.topics, None);
        }
    }
}

#[test]
fn find_coordinator_keys_by_type() {
    for v in 1..=6 {
        // Transactional ids.
        let r = if v >= 4 {
            FindCoordinatorRequest::default().with_coordinator_keys(vec![sb("tx")])
        } else {
            FindCoordinatorRequest::default().with_key(sb("tx"))
        }
        .with_key_type(1);
        let got: FindCoordinatorRequest = decodes(
            &req(ApiKey::FindCoordinator, v, &enc(&r, v), &PerKind).unwrap(),
            v,
        );
        if v >= 4 {
            assert_eq!(got.coordinator_keys, vec![sb("x.tx")]);
        } else {
            assert_eq!(got.key, sb("x.tx"));
        }
        // Share groups are not covered; unknown key types are errors.
        let share = enc(&r.clone().with_key_type(2), v);
        assert!(matches!(
            rewrite_request(10, v, &share, &Tenant),
            Err(KafkaError::NotCovered { .. })
        ));
        let unknown = enc(&r.clone().with_key_type(7), v);
        assert_eq!(
            rewrite_request(10, v, &unknown, &Tenant),
            Err(KafkaError::UnknownCoordinatorType(7))
        );
    }
    // v0 has no key type: a group.
    let r = FindCoordinatorRequest::default().with_key(sb("grp"));
    let got: FindCoordinatorRequest = decodes(
        &req(ApiKey::FindCoordinator, 0, &enc(&r, 0), &PerKind).unwrap(),
        0,
    );
    assert_eq!(got.key, sb("g.grp"));
    // Responses: with a map whose kinds differ, the key type must come from the request.
    for v in 4..=6 {
        let r = FindCoordinatorResponse::default().with_coordinators(vec![
            find_coordinator_response::Coordinator::default().with_key(sb("x.tx")),
        ]);
        let body = enc(&r, v);
        // Only the transactional-id map names it: that is its kind.
        let got: FindCoordinatorResponse = decodes(
            &resp(ApiKey::FindCoordinator, v, &body, &PerKind).unwrap(),
            v,
        );
        assert_eq!(got.coordinators[0].key, sb("tx"));
        // Overlapping prefixes name it both ways, differently: only the request can tell.
        let r = FindCoordinatorResponse::default().with_coordinators(vec![
            find_coordinator_response::Coordinator::default().with_key(sb("a.x.1")),
        ]);
        let overlapping = enc(&r, v);
        assert!(rewrite_response(10, v, &overlapping, &Overlapping).is_err());
        let got = rewrite_find_coordinator_response(v, 1, &overlapping, &Overlapping).unwrap();
        let got: FindCoordinatorResponse = decodes(&got.unwrap(), v);
        assert_eq!(got.coordinators[0].key, sb("1"));
        let got = rewrite_find_coordinator_response(v, 0, &overlapping, &Overlapping).unwrap();
        let got: FindCoordinatorResponse = decodes(&got.unwrap(), v);
        assert_eq!(got.coordinators[0].key, sb("x.1"));
        let got = rewrite_find_coordinator_response(v, 1, &body, &PerKind).unwrap();
        let got: FindCoordinatorResponse = decodes(&got.unwrap(), v);
        assert_eq!(got.coordinators[0].key, sb("tx"));
        // As a group key it is another kind's name: hidden, dropped.
        let got = rewrite_find_coordinator_response(v, 0, &body, &PerKind).unwrap();
        let got: FindCoordinatorResponse = decodes(&got.unwrap(), v);
        assert!(got.coordinators.is_empty());
        assert!(matches!(
            rewrite_find_coordinator_response(v, 2, &body, &PerKind),
            Err(KafkaError::NotCovered { .. })
        ));
    }
}

#[test]
fn regular_expressions_are_not_covered() {
    let r = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(sb("g")))
        .with_subscribed_topic_regex(Some(sb("orders.*")));
    assert!(matches!(
        rewrite_request(68, 1, &enc(&r, 1), &Tenant),
        Err(KafkaError::NotCovered { .. })
    ));
    let r = ListTransactionsRequest::default().with_transactional_id_pattern(Some(sb("tx-.*")));
    assert!(matches!(
        rewrite_request(66, 2, &enc(&r, 2), &Tenant),
        Err(KafkaError::NotCovered { .. })
    ));
    // An empty pattern filters nothing.
    let r = ListTransactionsRequest::default().with_transactional_id_pattern(Some(sb("")));
    assert_eq!(rewrite_request(66, 2, &enc(&r, 2), &Tenant), Ok(None));
}

#[test]
fn config_resources_map_topics_and_groups_only() {
    use describe_configs_request::DescribeConfigsResource;
    let res = |ty: i8, name: &str| {
        DescribeConfigsResource::default()
            .with_resource_type(ty)
            .with_resource_name(sb(name))
    };
    let r = DescribeConfigsRequest::default().with_resources(vec![
        res(TOPIC, "t"),
        res(GROUP, "g"),
        res(BROKER, "1"),
        res(8, "1"),
        res(CLIENT_METRICS, "m"),
    ]);
    let got: DescribeConfigsRequest = decodes(
        &req(ApiKey::DescribeConfigs, 4, &enc(&r, 4), &PerKind).unwrap(),
        4,
    );
    let names: Vec<&str> = got
        .resources
        .iter()
        .map(|r| r.resource_name.as_str())
        .collect();
    assert_eq!(names, ["t.t", "g.g", "1", "1", "m"]);
    // Only a broker: nothing to do.
    let r = DescribeConfigsRequest::default().with_resources(vec![res(BROKER, "1")]);
    assert_eq!(req(ApiKey::DescribeConfigs, 4, &enc(&r, 4), &Tenant), None);
    // A type Kafka does not define.
    let r = DescribeConfigsRequest::default().with_resources(vec![res(3, "x")]);
    assert!(matches!(
        rewrite_request(32, 4, &enc(&r, 4), &Tenant),
        Err(KafkaError::UnknownResourceType {
            resource_type: 3,
            ..
        })
    ));
}

#[test]
fn a_cursor_at_a_hidden_topic_ends_the_listing() {
    use describe_topic_partitions_response::*;
    let r = DescribeTopicPartitionsResponse::default()
        .with_topics(vec![DescribeTopicPartitionsResponseTopic::default()
            .with_name(Some(TopicName(sb("team-a.orders"))))])
        .with_next_cursor(Some(
            Cursor::default().with_topic_name(TopicName(sb("team-b.orders"))),
        ));
    let got: DescribeTopicPartitionsResponse = decodes(
        &resp(ApiKey::DescribeTopicPartitions, 0, &enc(&r, 0), &Tenant).unwrap(),
        0,
    );
    assert_eq!(got.topics[0].name, Some(TopicName(sb("orders"))));
    assert_eq!(got.next_cursor, None);
    // Only the cursor is hidden: still a change.
    let r = r.with_topics(vec![]);
    let got = resp(ApiKey::DescribeTopicPartitions, 0, &enc(&r, 0), &Identity);
    assert_eq!(got, None);
    let got = resp(ApiKey::DescribeTopicPartitions, 0, &enc(&r, 0), &PerKind).unwrap();
    let got: DescribeTopicPartitionsResponse = decodes(&got, 0);
    assert_eq!(got.next_cursor, None);
}

#[test]
fn nameless_entries_stay() {
    // Metadata v12+ answers a topic asked for by id with a null name when it is unknown.
    use metadata_response::*;
    let r = MetadataResponse::default().with_topics(vec![
        MetadataResponseTopic::default()
            .with_name(None)
            .with_error_code(100),
        MetadataResponseTopic::default().with_name(Some(TopicName(sb("other")))),
    ]);
    let got: MetadataResponse = decodes(
        &resp(ApiKey::Metadata, 12, &enc(&r, 12), &Tenant).unwrap(),
        12,
    );
    assert_eq!(got.topics.len(), 1);
    assert_eq!(got.topics[0].name, None);
}

#[test]
fn init_producer_id_without_transactional_id_is_unchanged() {
    for v in 0..=5 {
        let r = InitProducerIdRequest::default().with_transactional_id(None);
        assert_eq!(req(ApiKey::InitProducerId, v, &enc(&r, v), &Tenant), None);
    }
}

// ---------------------------------------------------------------------------------------------
// Garbled input: errors, never panics.

#[test]
fn truncated_bodies_are_errors() {
    let plain = N::plain();
    let cases: &[(ApiKey, i16)] = &[
        (ApiKey::Produce, 9),
        (ApiKey::Fetch, 12),
        (ApiKey::Metadata, 12),
        (ApiKey::OffsetFetch, 8),
        (ApiKey::FindCoordinator, 4),
        (ApiKey::JoinGroup, 9),
        (ApiKey::DescribeTopicPartitions, 0),
    ];
    for &(key, v) in cases {
        let body = build_req(key, v, &plain);
        for cut in 0..body.len() {
            assert!(
                rewrite_request(key as i16, v, &body[..cut], &Tenant).is_err(),
                "{key:?} v{v} cut at {cut}"
            );
        }
        let Some((_, b)) = RESPONSES.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        let body = b(v, &prefixed(&plain));
        for cut in 0..body.len() {
            assert!(
                rewrite_response(key as i16, v, &body[..cut], &Tenant).is_err(),
                "{key:?} v{v} response cut at {cut}"
            );
        }
    }
}

/// Every (api, version) pair with a builder, for the random-bytes test.
fn keyed_versions() -> Vec<(i16, i16)> {
    ApiKey::iter()
        .flat_map(|k| versions(k).map(move |v| (k as i16, v)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_bytes_never_panic(
        pick in any::<prop::sample::Index>(),
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let all = keyed_versions();
        let (key, v) = all[pick.index(all.len())];
        let _ = rewrite_request(key, v, &bytes, &Tenant);
        let _ = rewrite_response(key, v, &bytes, &Tenant);
    }

    #[test]
    fn mutated_bodies_never_panic(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let plain = N::plain();
        let (key, build) = REQUESTS[pick.index(REQUESTS.len())];
        let v = decodable_max(key);
        let mut body = build(v, &plain);
        let i = at.index(body.len());
        body[i] = byte;
        let _ = rewrite_request(key as i16, v, &body, &Tenant);
        if let Some((_, b)) = RESPONSES.iter().find(|(k, _)| *k == key) {
            let mut body = b(v, &prefixed(&plain));
            let i = at.index(body.len());
            body[i] = byte;
            let _ = rewrite_response(key as i16, v, &body, &Tenant);
        }
    }
}

#[test]
fn huge_array_counts_are_errors() {
    // ListConfigResources v1: throttle, error code, then 2^28 resources in a few bytes.
    let body = [0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0];
    assert!(rewrite_response(74, 1, &body, &Tenant).is_err());
    assert!(rewrite_response(74, 1, &body[..8], &Tenant).is_err());
    let body = [0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert!(rewrite_response(74, 1, &body, &Tenant).is_err());
    // Metadata v12 request claiming 2^31 topics.
    let body = [0x80, 0x80, 0x80, 0x80, 0x08, 0, 0];
    assert!(rewrite_request(3, 12, &body, &Tenant).is_err());
}
