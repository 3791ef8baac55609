//! Response rewrites round-trip at every version.

use super::*;

fn metadata_response(v: i16) -> MetadataResponse {
    let topic = |name: &str, id: [u8; 16]| {
        let t = metadata_response::MetadataResponseTopic::default()
            .with_name(Some(tn(name)))
            .with_partitions(vec![metadata_response::MetadataResponsePartition::default(
            )
            .with_partition_index(0)
            .with_leader_id(BrokerId(1))
            .with_replica_nodes(vec![BrokerId(1)])
            .with_isr_nodes(vec![BrokerId(1)])]);
        if v >= 10 {
            t.with_topic_id(uuid(id))
        } else {
            t
        }
    };
    MetadataResponse::default()
        .with_brokers(vec![metadata_response::MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(sb("kafka-0.kafka"))
            .with_port(9092)])
        .with_controller_id(BrokerId(1))
        .with_topics(vec![
            topic("orders.created", ID_A),
            topic("secret.salaries", ID_B),
            topic("payments", [0xc; 16]),
        ])
}

#[test]
fn filter_metadata_response_round_trips_at_every_version() {
    for v in versions(ApiKey::Metadata) {
        let original = metadata_response(v);
        let body = enc(&original, v);
        let mut seen = vec![];
        let out = filter_metadata_response(v, &body, &mut |name| {
            seen.push(name.to_owned());
            !name.starts_with("secret.")
        })
        .unwrap();
        assert_eq!(seen, ["orders.created", "secret.salaries", "payments"]);
        let filtered = MetadataResponse::decode(&mut Bytes::from(out), v).unwrap();
        // Fields a version does not carry (controller_id in v0) are not on the wire.
        let mut want = MetadataResponse::decode(&mut Bytes::from(body.clone()), v).unwrap();
        assert_eq!(want.topics.len(), original.topics.len());
        want.topics.remove(1);
        assert_eq!(filtered, want, "v{v}");
        // Keeping everything gives back the same bytes.
        let same = filter_metadata_response(v, &body, &mut |_| true).unwrap();
        assert_eq!(same, body, "v{v}");
    }
}

#[test]
fn filter_metadata_response_keeps_unknown_tagged_fields() {
    let v = 12;
    let mut r = metadata_response(v);
    r.unknown_tagged_fields
        .insert(99, Bytes::from_static(b"future"));
    let body = enc(&r, v);
    let out = filter_metadata_response(v, &body, &mut |_| false).unwrap();
    let filtered = MetadataResponse::decode(&mut Bytes::from(out), v).unwrap();
    assert!(filtered.topics.is_empty());
    assert_eq!(filtered.unknown_tagged_fields.len(), 1);
}

fn api_versions_response() -> ApiVersionsResponse {
    let api = |key: i16, min: i16, max: i16| {
        api_versions_response::ApiVersion::default()
            .with_api_key(key)
            .with_min_version(min)
            .with_max_version(max)
    };
    ApiVersionsResponse::default().with_api_keys(vec![
        api(0, 0, 99),  // Produce: kafka-protocol decodes 3..=13
        api(1, 4, 12),  // Fetch: within range, unchanged
        api(8, 2, 10),  // OffsetCommit: v10 requests do not decode
        api(4, 0, 7),   // LeaderAndIsr: unknown to kafka-protocol, dropped
        api(18, 0, 4),  // ApiVersions
        api(200, 0, 1), // not an api key, dropped
        api(37, 4, 9),  // CreatePartitions 0..=3: no overlap, dropped
    ])
}

#[test]
fn clamp_api_versions_at_every_version() {
    for v in versions(ApiKey::ApiVersions) {
        let body = enc(&api_versions_response(), v);
        let out = clamp_api_versions(v, &body).unwrap();
        let r = ApiVersionsResponse::decode(&mut Bytes::from(out), v).unwrap();
        let got: Vec<(i16, i16, i16)> = r
            .api_keys
            .iter()
            .map(|a| (a.api_key, a.min_version, a.max_version))
            .collect();
        assert_eq!(
            got,
            vec![(0, 3, 13), (1, 4, 12), (8, 2, 9), (18, 0, 4)],
            "v{v}"
        );
    }
    // A version kafka-protocol does not know: brokers answer with a v0 body.
    let body = enc(&api_versions_response(), 0);
    let out = clamp_api_versions(7, &body).unwrap();
    let r = ApiVersionsResponse::decode(&mut Bytes::from(out), 0).unwrap();
    assert_eq!(r.api_keys.len(), 4);
}

#[test]
fn clamped_versions_are_the_ones_request_checks_accepts() {
    let all = ApiKey::iter()
        .map(|k| {
            api_versions_response::ApiVersion::default()
                .with_api_key(k as i16)
                .with_min_version(0)
                .with_max_version(i16::MAX)
        })
        .collect();
    let body = enc(&ApiVersionsResponse::default().with_api_keys(all), 3);
    let out = clamp_api_versions(3, &body).unwrap();
    let r = ApiVersionsResponse::decode(&mut Bytes::from(out), 3).unwrap();
    assert_eq!(r.api_keys.len(), ApiKey::iter().count());
    for a in &r.api_keys {
        let key = ApiKey::try_from(a.api_key).unwrap();
        assert_eq!(
            (a.min_version, a.max_version),
            (*versions(key).start(), *versions(key).end())
        );
        assert!(!matches!(
            request_checks(a.api_key, a.max_version, &[]),
            Err(KafkaError::UnsupportedVersion { .. })
        ));
    }
}

#[test]
fn metadata_topic_ids_at_every_version() {
    for v in versions(ApiKey::Metadata) {
        let mut r = metadata_response(v);
        if let Some(t) = r.topics.get_mut(2) {
            t.error_code = 3;
        }
        let ids = metadata_topic_ids(v, &enc(&r, v)).unwrap();
        if v >= 10 {
            assert_eq!(
                ids,
                vec![
                    ("orders.created".to_owned(), ID_A),
                    ("secret.salaries".to_owned(), ID_B)
                ]
            );
        } else {
            assert!(ids.is_empty());
        }
    }
}

#[test]
fn api_versions_requests_at_any_version_need_nothing() {
    for v in [0, 3, 4, 5, 100, i16::MAX] {
        let rc = request_checks(18, v, &[0xde, 0xad]).unwrap();
        assert!(rc.checks.is_empty());
    }
    assert!(request_checks(18, -1, &[]).is_err());
}

#[test]
fn disable_auto_create_at_every_version() {
    for v in versions(ApiKey::Metadata) {
        let r = MetadataRequest::default()
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
            )
            .with_name(Some(tn("orders.new")))]))
            .with_allow_auto_topic_creation(v < 4 || v % 2 == 0);
        let body = enc(&r, v);
        if v < 4 {
            assert!(disable_auto_create(v, &body).is_err());
            continue;
        }
        let out = disable_auto_create(v, &body).unwrap();
        let back = MetadataRequest::decode(&mut Bytes::from(out.clone()), v).unwrap();
        assert_eq!(
            back,
            r.clone().with_allow_auto_topic_creation(false),
            "v{v}"
        );
        assert!(checks(ApiKey::Metadata, v, &out).auto_create.is_empty());
    }
}

/// `filter_listing_response` at every version of every listing it trims.
#[test]
fn filter_listing_response_at_every_version() {
    let keep =
        |rt: ResourceType, name: &str| !(name.starts_with("secret") && rt != ResourceType::Cluster);
    for v in versions(ApiKey::ListGroups) {
        let r = ListGroupsResponse::default().with_groups(vec![
            list_groups_response::ListedGroup::default().with_group_id(gid("analytics")),
            list_groups_response::ListedGroup::default().with_group_id(gid("secret-g")),
        ]);
        let mut seen = vec![];
        let out = filter_listing_response(16, v, &enc(&r, v), &mut |rt, n| {
            seen.push((rt, n.to_owned()));
            keep(rt, n)
        })
        .unwrap();
        assert_eq!(seen[1], (ResourceType::Group, "secret-g".to_owned()));
        let back = ListGroupsResponse::decode(&mut Bytes::from(out), v).unwrap();
        assert_eq!(
            back.groups
                .iter()
                .map(|g| g.group_id.clone())
                .collect::<Vec<_>>(),
            vec![gid("analytics")]
        );
    }
    for v in versions(ApiKey::ListTransactions) {
        let r = ListTransactionsResponse::default().with_transaction_states(vec![
            list_transactions_response::TransactionState::default()
                .with_transactional_id(xid("secret-tx")),
            list_transactions_response::TransactionState::default()
                .with_transactional_id(xid("tx-orders")),
        ]);
        let out = filter_listing_response(66, v, &enc(&r, v), &mut |rt, n| {
            assert_eq!(rt, ResourceType::TransactionalId);
            keep(rt, n)
        })
        .unwrap();
        let back = ListTransactionsResponse::decode(&mut Bytes::from(out), v).unwrap();
        assert_eq!(back.transaction_states.len(), 1);
        assert_eq!(
            back.transaction_states[0].transactional_id,
            xid("tx-orders")
        );
    }
    for v in versions(ApiKey::DescribeTopicPartitions) {
        let topic = |n: &str| {
            describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(tn(n)))
        };
        let r = DescribeTopicPartitionsResponse::default()
            .with_topics(vec![topic("orders.created"), topic("secret.salaries")])
            .with_next_cursor(Some(
                describe_topic_partitions_response::Cursor::default()
                    .with_topic_name(tn("secret.x")),
            ));
        let out = filter_listing_response(75, v, &enc(&r, v), &mut |rt, n| keep(rt, n)).unwrap();
        let back = DescribeTopicPartitionsResponse::decode(&mut Bytes::from(out), v).unwrap();
        assert_eq!(back.topics.len(), 1);
        assert_eq!(back.next_cursor, None);
    }
    for v in versions(ApiKey::OffsetFetch) {
        let r = if v >= 8 {
            OffsetFetchResponse::default().with_groups(vec![
                offset_fetch_response::OffsetFetchResponseGroup::default()
                    .with_group_id(gid("analytics"))
                    .with_topics(vec![
                        offset_fetch_response::OffsetFetchResponseTopics::default()
                            .with_name(tn("orders.created")),
                        offset_fetch_response::OffsetFetchResponseTopics::default()
                            .with_name(tn("secret.salaries")),
                    ]),
            ])
        } else {
            OffsetFetchResponse::default().with_topics(vec![
                offset_fetch_response::OffsetFetchResponseTopic::default()
                    .with_name(tn("orders.created")),
                offset_fetch_response::OffsetFetchResponseTopic::default()
                    .with_name(tn("secret.salaries")),
            ])
        };
        let out = filter_listing_response(9, v, &enc(&r, v), &mut |rt, n| keep(rt, n)).unwrap();
        let back = OffsetFetchResponse::decode(&mut Bytes::from(out), v).unwrap();
        let names: Vec<TopicName> = if v >= 8 {
            back.groups[0]
                .topics
                .iter()
                .map(|t| t.name.clone())
                .collect()
        } else {
            back.topics.iter().map(|t| t.name.clone()).collect()
        };
        assert_eq!(names, vec![tn("orders.created")], "v{v}");
    }
    for v in versions(ApiKey::Metadata) {
        let body = enc(&metadata_response(v), v);
        let a = filter_listing_response(3, v, &body, &mut |rt, n| keep(rt, n)).unwrap();
        let b = filter_metadata_response(v, &body, &mut |n| keep(ResourceType::Topic, n)).unwrap();
        assert_eq!(a, b);
    }
    assert!(matches!(
        filter_listing_response(0, 9, &[], &mut |_, _| true),
        Err(KafkaError::NoListingFilter { .. })
    ));
}

#[test]
fn fetch_sessions_are_flagged_and_disabled_at_every_version() {
    for v in versions(ApiKey::Fetch) {
        let topics = vec![fetch_request::FetchTopic::default()
            .with_topic(if v < 13 {
                tn("orders")
            } else {
                TopicName::default()
            })
            .with_topic_id(if v >= 13 { uuid(ID_A) } else { uuid([0; 16]) })
            .with_partitions(vec![fetch_request::FetchPartition::default()])];
        // A client opening a session (id 0, epoch 0), then an incremental fetch naming nothing.
        let open = FetchRequest::default().with_topics(topics.clone());
        let open = if v >= 7 {
            open.with_session_id(0).with_session_epoch(0)
        } else {
            open
        };
        let incremental = if v >= 7 {
            FetchRequest::default()
                .with_session_id(77)
                .with_session_epoch(3)
        } else {
            FetchRequest::default()
        };
        for r in [&open, &incremental] {
            let body = enc(r, v);
            assert_eq!(
                checks(ApiKey::Fetch, v, &body).fetch_session,
                v >= 7,
                "v{v}"
            );
            let out = disable_fetch_session(v, &body).unwrap();
            let back = FetchRequest::decode(&mut Bytes::from(out.clone()), v).unwrap();
            assert_eq!(back.topics, r.topics);
            if v >= 7 {
                assert_eq!((back.session_id, back.session_epoch), (0, -1));
            }
            assert!(!checks(ApiKey::Fetch, v, &out).fetch_session);
        }
    }
}
