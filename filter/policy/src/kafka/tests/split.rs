//! Partly denied requests: split, forward the rest, merge the errors back.

use super::*;

fn secret(c: &Check) -> bool {
    match &c.name {
        Resource::Name(n) => n.starts_with("secret"),
        Resource::TopicId(id) => *id == ID_B,
    }
}

#[test]
fn produce_and_fetch_split_by_topic_at_every_version() {
    for v in versions(ApiKey::Produce) {
        let topic = |name: &str, id: [u8; 16]| {
            let t = produce_request::TopicProduceData::default().with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(1)
                    .with_records(Some(Bytes::from_static(b"batch"))),
            ]);
            if v >= 13 {
                t.with_topic_id(uuid(id))
            } else {
                t.with_name(tn(name))
            }
        };
        let r = ProduceRequest::default()
            .with_topic_data(vec![topic("orders", ID_A), topic("secret.x", ID_B)]);
        let Split::Partial { body, denied } =
            split_request(0, v, &enc(&r, v), &mut secret).unwrap()
        else {
            panic!("v{v}: not split");
        };
        let fwd = ProduceRequest::decode(&mut Bytes::from(body), v).unwrap();
        assert_eq!(fwd.topic_data, vec![topic("orders", ID_A)]);
        // The broker answers the allowed part; the denied part is merged in.
        let mut ok =
            produce_response::TopicProduceResponse::default().with_partition_responses(vec![
                produce_response::PartitionProduceResponse::default()
                    .with_index(1)
                    .with_base_offset(42),
            ]);
        ok = if v >= 13 {
            ok.with_topic_id(uuid(ID_A))
        } else {
            ok.with_name(tn("orders"))
        };
        let broker = enc(&ProduceResponse::default().with_responses(vec![ok]), v);
        let merged = ProduceResponse::decode(
            &mut Bytes::from(merge_response(&denied, &broker).unwrap()),
            v,
        )
        .unwrap();
        let codes: Vec<(i16, i64)> = merged
            .responses
            .iter()
            .map(|t| {
                (
                    t.partition_responses[0].error_code,
                    t.partition_responses[0].base_offset,
                )
            })
            .collect();
        assert_eq!(codes, vec![(0, 42), (29, -1)], "v{v}");
        // Nothing denied, everything denied, the transactional id denied.
        assert_eq!(
            split_request(0, v, &enc(&r, v), &mut |_| false).unwrap(),
            Split::Unchanged
        );
        assert_eq!(
            split_request(0, v, &enc(&r, v), &mut |_| true).unwrap(),
            Split::DenyAll {
                failed: ResourceType::Topic
            }
        );
        let txn = r.clone().with_transactional_id(Some(xid("secret-tx")));
        assert_eq!(
            split_request(0, v, &enc(&txn, v), &mut secret).unwrap(),
            Split::DenyAll {
                failed: ResourceType::TransactionalId
            }
        );
    }
    for v in versions(ApiKey::Fetch) {
        let topic = |name: &str, id: [u8; 16]| {
            let t = fetch_request::FetchTopic::default().with_partitions(vec![
                fetch_request::FetchPartition::default().with_partition(0),
            ]);
            if v >= 13 {
                t.with_topic_id(uuid(id))
            } else {
                t.with_topic(tn(name))
            }
        };
        let r = FetchRequest::default()
            .with_topics(vec![topic("secret.x", ID_B), topic("orders", ID_A)]);
        let Split::Partial { body, denied } =
            split_request(1, v, &enc(&r, v), &mut secret).unwrap()
        else {
            panic!("v{v}: not split");
        };
        assert_eq!(
            FetchRequest::decode(&mut Bytes::from(body), v)
                .unwrap()
                .topics,
            vec![topic("orders", ID_A)]
        );
        let mut ok = fetch_response::FetchableTopicResponse::default().with_partitions(vec![
            fetch_response::PartitionData::default()
                .with_high_watermark(7)
                .with_records(Some(Bytes::from_static(b"records"))),
        ]);
        ok = if v >= 13 {
            ok.with_topic_id(uuid(ID_A))
        } else {
            ok.with_topic(tn("orders"))
        };
        let broker = enc(&FetchResponse::default().with_responses(vec![ok]), v);
        let merged = FetchResponse::decode(
            &mut Bytes::from(merge_response(&denied, &broker).unwrap()),
            v,
        )
        .unwrap();
        let got: Vec<(i16, i64)> = merged
            .responses
            .iter()
            .map(|t| (t.partitions[0].error_code, t.partitions[0].high_watermark))
            .collect();
        assert_eq!(got, vec![(0, 7), (29, -1)], "v{v}");
        assert_eq!(
            merged.responses[0].partitions[0].records,
            Some(Bytes::from_static(b"records"))
        );
    }
}

#[test]
fn metadata_splits_even_when_every_named_topic_is_denied() {
    for v in versions(ApiKey::Metadata) {
        let r = MetadataRequest::default()
            .with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default().with_name(Some(tn("secret.a"))),
                metadata_request::MetadataRequestTopic::default().with_name(Some(tn("secret.b"))),
            ]))
            .with_allow_auto_topic_creation(v < 4);
        let split = split_request(3, v, &enc(&r, v), &mut secret).unwrap();
        if v == 0 {
            assert_eq!(
                split,
                Split::DenyAll {
                    failed: ResourceType::Topic
                }
            );
            continue;
        }
        let Split::Partial { body, denied } = split else {
            panic!("v{v}")
        };
        let fwd = MetadataRequest::decode(&mut Bytes::from(body), v).unwrap();
        assert_eq!(fwd.topics, Some(vec![]), "v{v}: no topics, not all topics");
        let broker = enc(
            &MetadataResponse::default().with_brokers(vec![
                metadata_response::MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(sb("kafka-0"))
                    .with_port(9092),
            ]),
            v,
        );
        let merged = MetadataResponse::decode(
            &mut Bytes::from(merge_response(&denied, &broker).unwrap()),
            v,
        )
        .unwrap();
        assert_eq!(merged.brokers.len(), 1);
        let got: Vec<(Option<TopicName>, i16)> = merged
            .topics
            .iter()
            .map(|t| (t.name.clone(), t.error_code))
            .collect();
        assert_eq!(
            got,
            vec![(Some(tn("secret.a")), 29), (Some(tn("secret.b")), 29)]
        );
    }
}

#[test]
fn groups_and_outer_denials() {
    for v in versions(ApiKey::DescribeGroups) {
        let r =
            DescribeGroupsRequest::default().with_groups(vec![gid("analytics"), gid("secret-g")]);
        let Split::Partial { body, denied } =
            split_request(15, v, &enc(&r, v), &mut secret).unwrap()
        else {
            panic!("v{v}")
        };
        assert_eq!(
            DescribeGroupsRequest::decode(&mut Bytes::from(body), v)
                .unwrap()
                .groups,
            vec![gid("analytics")]
        );
        let broker = enc(
            &DescribeGroupsResponse::default()
                .with_groups(vec![describe_groups_response::DescribedGroup::default()
                    .with_group_id(gid("analytics"))]),
            v,
        );
        let merged = DescribeGroupsResponse::decode(
            &mut Bytes::from(merge_response(&denied, &broker).unwrap()),
            v,
        )
        .unwrap();
        let got: Vec<i16> = merged.groups.iter().map(|g| g.error_code).collect();
        assert_eq!(got, vec![0, 30]);
    }
    for v in versions(ApiKey::OffsetCommit) {
        let r = OffsetCommitRequest::default()
            .with_group_id(gid("secret-g"))
            .with_topics(vec![
                offset_commit_request::OffsetCommitRequestTopic::default().with_name(tn("orders")),
            ]);
        assert_eq!(
            split_request(8, v, &enc(&r, v), &mut secret).unwrap(),
            Split::DenyAll {
                failed: ResourceType::Group
            }
        );
        let r = r.with_group_id(gid("analytics")).with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default().with_name(tn("orders")),
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(tn("secret.x"))
                .with_partitions(vec![
                    offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_partition_index(3),
                ]),
        ]);
        let Split::Partial { denied, .. } = split_request(8, v, &enc(&r, v), &mut secret).unwrap()
        else {
            panic!("v{v}")
        };
        let merged = OffsetCommitResponse::decode(
            &mut Bytes::from(
                merge_response(&denied, &enc(&OffsetCommitResponse::default(), v)).unwrap(),
            ),
            v,
        )
        .unwrap();
        assert_eq!(merged.topics[0].partitions[0].error_code, 29);
    }
    // An api that cannot be split is all or nothing.
    let r = TxnOffsetCommitRequest::default()
        .with_transactional_id(xid("tx"))
        .with_group_id(gid("g"))
        .with_topics(vec![
            txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                .with_name(tn("secret.x")),
        ]);
    assert_eq!(
        split_request(28, 3, &enc(&r, 3), &mut secret).unwrap(),
        Split::DenyAll {
            failed: ResourceType::Topic
        }
    );
    // A follower fetch denied ClusterAction.
    let r = FetchRequest::default().with_replica_id(BrokerId(1));
    assert_eq!(
        split_request(1, 12, &enc(&r, 12), &mut |c| c.resource
            == ResourceType::Cluster)
        .unwrap(),
        Split::DenyAll {
            failed: ResourceType::Cluster
        }
    );
}

#[test]
fn every_splittable_api_merges_at_every_version() {
    // ListOffsets, CreateTopics, DeleteTopics, DeleteRecords, DeleteGroups with one allowed and
    // one denied resource; the merged response decodes with both.
    for v in versions(ApiKey::ListOffsets) {
        let r = ListOffsetsRequest::default().with_topics(vec![
            list_offsets_request::ListOffsetsTopic::default().with_name(tn("orders")),
            list_offsets_request::ListOffsetsTopic::default().with_name(tn("secret.x")),
        ]);
        let Split::Partial { denied, .. } = split_request(2, v, &enc(&r, v), &mut secret).unwrap()
        else {
            panic!()
        };
        let broker = ListOffsetsResponse::default().with_topics(vec![
            list_offsets_response::ListOffsetsTopicResponse::default().with_name(tn("orders")),
        ]);
        let m = ListOffsetsResponse::decode(
            &mut Bytes::from(merge_response(&denied, &enc(&broker, v)).unwrap()),
            v,
        )
        .unwrap();
        assert_eq!(m.topics.len(), 2);
    }
    for v in versions(ApiKey::CreateTopics) {
        let r = CreateTopicsRequest::default().with_topics(vec![
            create_topics_request::CreatableTopic::default().with_name(tn("orders")),
            create_topics_request::CreatableTopic::default().with_name(tn("secret.x")),
        ]);
        let Split::Partial { denied, .. } = split_request(19, v, &enc(&r, v), &mut secret).unwrap()
        else {
            panic!()
        };
        let broker = CreateTopicsResponse::default().with_topics(vec![
            create_topics_response::CreatableTopicResult::default().with_name(tn("orders")),
        ]);
        let m = CreateTopicsResponse::decode(
            &mut Bytes::from(merge_response(&denied, &enc(&broker, v)).unwrap()),
            v,
        )
        .unwrap();
        assert_eq!(
            m.topics.iter().map(|t| t.error_code).collect::<Vec<_>>(),
            vec![0, 29]
        );
    }
    for v in versions(ApiKey::DeleteTopics) {
        let r = if v >= 6 {
            DeleteTopicsRequest::default().with_topics(vec![
                delete_topics_request::DeleteTopicState::default().with_name(Some(tn("orders"))),
                delete_topics_request::DeleteTopicState::default().with_name(Some(tn("secret.x"))),
            ])
        } else {
            DeleteTopicsRequest::default().with_topic_names(vec![tn("orders"), tn("secret.x")])
        };
        let Split::Partial { denied, .. } = split_request(20, v, &enc(&r, v), &mut secret).unwrap()
        else {
            panic!()
        };
        let broker =
            DeleteTopicsResponse::default()
                .with_responses(vec![delete_topics_response::DeletableTopicResult::default(
                )
                .with_name(Some(tn("orders")))]);
        let m = DeleteTopicsResponse::decode(
            &mut Bytes::from(merge_response(&denied, &enc(&broker, v)).unwrap()),
            v,
        )
        .unwrap();
        assert_eq!(
            m.responses.iter().map(|t| t.error_code).collect::<Vec<_>>(),
            vec![0, 29]
        );
    }
    for v in versions(ApiKey::DeleteRecords) {
        let r = DeleteRecordsRequest::default().with_topics(vec![
            delete_records_request::DeleteRecordsTopic::default().with_name(tn("orders")),
            delete_records_request::DeleteRecordsTopic::default().with_name(tn("secret.x")),
        ]);
        let Split::Partial { denied, .. } = split_request(21, v, &enc(&r, v), &mut secret).unwrap()
        else {
            panic!()
        };
        let m = DeleteRecordsResponse::decode(
            &mut Bytes::from(
                merge_response(&denied, &enc(&DeleteRecordsResponse::default(), v)).unwrap(),
            ),
            v,
        )
        .unwrap();
        assert_eq!(m.topics[0].name, tn("secret.x"));
    }
    for v in versions(ApiKey::DeleteGroups) {
        let r = DeleteGroupsRequest::default()
            .with_groups_names(vec![gid("secret-g"), gid("analytics")]);
        let Split::Partial { body, denied } =
            split_request(42, v, &enc(&r, v), &mut secret).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            DeleteGroupsRequest::decode(&mut Bytes::from(body), v)
                .unwrap()
                .groups_names,
            vec![gid("analytics")]
        );
        let m = DeleteGroupsResponse::decode(
            &mut Bytes::from(
                merge_response(&denied, &enc(&DeleteGroupsResponse::default(), v)).unwrap(),
            ),
            v,
        )
        .unwrap();
        assert_eq!(m.results[0].error_code, 30);
    }
}

#[test]
fn more_splittable_apis_at_every_version() {
    fn partial(key: ApiKey, v: i16, body: Vec<u8>) -> (Vec<u8>, Denied) {
        match split_request(key as i16, v, &body, &mut secret).unwrap() {
            Split::Partial { body, denied } => (body, denied),
            other => panic!("{key:?} v{v}: {other:?}"),
        }
    }
    for v in versions(ApiKey::OffsetFetch) {
        let r = OffsetFetchRequest::default()
            .with_group_id(gid("g"))
            .with_topics(Some(vec![
                offset_fetch_request::OffsetFetchRequestTopic::default().with_name(tn("orders")),
                offset_fetch_request::OffsetFetchRequestTopic::default()
                    .with_name(tn("secret.x"))
                    .with_partition_indexes(vec![1]),
            ]));
        if v >= 8 {
            let r = OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(gid("g"))
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopics::default()
                            .with_name(tn("secret.x")),
                    ])),
            ]);
            assert_eq!(
                split_request(9, v, &enc(&r, v), &mut secret).unwrap(),
                Split::DenyAll {
                    failed: ResourceType::Topic
                }
            );
            continue;
        }
        let (body, denied) = partial(ApiKey::OffsetFetch, v, enc(&r, v));
        assert_eq!(
            OffsetFetchRequest::decode(&mut Bytes::from(body), v)
                .unwrap()
                .topics
                .unwrap()
                .len(),
            1
        );
        let m = OffsetFetchResponse::decode(
            &mut Bytes::from(
                merge_response(&denied, &enc(&OffsetFetchResponse::default(), v)).unwrap(),
            ),
            v,
        )
        .unwrap();
        assert_eq!(m.topics[0].partitions[0].error_code, 29, "v{v}");
        assert_eq!(m.error_code, 0);
    }
    for v in versions(ApiKey::TxnOffsetCommit) {
        let r = TxnOffsetCommitRequest::default()
            .with_transactional_id(xid("tx"))
            .with_group_id(gid("g"))
            .with_topics(vec![
                txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                    .with_name(tn("orders")),
                txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                    .with_name(tn("secret.x"))
                    .with_partitions(vec![
                        txn_offset_commit_request::TxnOffsetCommitRequestPartition::default(),
                    ]),
            ]);
        let (_, denied) = partial(ApiKey::TxnOffsetCommit, v, enc(&r, v));
        let m = TxnOffsetCommitResponse::decode(
            &mut Bytes::from(
                merge_response(&denied, &enc(&TxnOffsetCommitResponse::default(), v)).unwrap(),
            ),
            v,
        )
        .unwrap();
        assert_eq!(m.topics[0].partitions[0].error_code, 29);
    }
    for v in versions(ApiKey::OffsetForLeaderEpoch) {
        let r = OffsetForLeaderEpochRequest::default().with_topics(vec![
            offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                .with_topic(tn("orders")),
            offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                .with_topic(tn("secret.x"))
                .with_partitions(vec![
                    offset_for_leader_epoch_request::OffsetForLeaderPartition::default(),
                ]),
        ]);
        let (_, denied) = partial(ApiKey::OffsetForLeaderEpoch, v, enc(&r, v));
        let m = OffsetForLeaderEpochResponse::decode(
            &mut Bytes::from(
                merge_response(&denied, &enc(&OffsetForLeaderEpochResponse::default(), v)).unwrap(),
            ),
            v,
        )
        .unwrap();
        assert_eq!(m.topics[0].partitions[0].error_code, 29);
    }
    for v in versions(ApiKey::CreatePartitions) {
        let r = CreatePartitionsRequest::default().with_topics(vec![
            create_partitions_request::CreatePartitionsTopic::default().with_name(tn("orders")),
            create_partitions_request::CreatePartitionsTopic::default().with_name(tn("secret.x")),
        ]);
        let (_, denied) = partial(ApiKey::CreatePartitions, v, enc(&r, v));
        let m = CreatePartitionsResponse::decode(
            &mut Bytes::from(
                merge_response(&denied, &enc(&CreatePartitionsResponse::default(), v)).unwrap(),
            ),
            v,
        )
        .unwrap();
        assert_eq!(
            (m.results[0].name.clone(), m.results[0].error_code),
            (tn("secret.x"), 29)
        );
    }
    let r = DescribeProducersRequest::default().with_topics(vec![
        describe_producers_request::TopicRequest::default()
            .with_name(tn("secret.x"))
            .with_partition_indexes(vec![0]),
        describe_producers_request::TopicRequest::default().with_name(tn("orders")),
    ]);
    let (_, denied) = partial(ApiKey::DescribeProducers, 0, enc(&r, 0));
    let m = DescribeProducersResponse::decode(
        &mut Bytes::from(
            merge_response(&denied, &enc(&DescribeProducersResponse::default(), 0)).unwrap(),
        ),
        0,
    )
    .unwrap();
    assert_eq!(m.topics[0].partitions[0].error_code, 29);
    // DescribeTopicPartitions: every named topic denied would leave an empty list, which means
    // all topics: denied instead.
    let r = DescribeTopicPartitionsRequest::default().with_topics(vec![
        describe_topic_partitions_request::TopicRequest::default().with_name(tn("secret.x")),
    ]);
    assert_eq!(
        split_request(75, 0, &enc(&r, 0), &mut secret).unwrap(),
        Split::DenyAll {
            failed: ResourceType::Topic
        }
    );
    let r = r.with_topics(vec![
        describe_topic_partitions_request::TopicRequest::default().with_name(tn("secret.x")),
        describe_topic_partitions_request::TopicRequest::default().with_name(tn("orders")),
    ]);
    let (_, denied) = partial(ApiKey::DescribeTopicPartitions, 0, enc(&r, 0));
    let m = DescribeTopicPartitionsResponse::decode(
        &mut Bytes::from(
            merge_response(
                &denied,
                &enc(&DescribeTopicPartitionsResponse::default(), 0),
            )
            .unwrap(),
        ),
        0,
    )
    .unwrap();
    assert_eq!(m.topics[0].error_code, 29);
    for v in versions(ApiKey::ConsumerGroupDescribe) {
        let r =
            ConsumerGroupDescribeRequest::default().with_group_ids(vec![gid("g"), gid("secret-g")]);
        let (_, denied) = partial(ApiKey::ConsumerGroupDescribe, v, enc(&r, v));
        let m = ConsumerGroupDescribeResponse::decode(
            &mut Bytes::from(
                merge_response(&denied, &enc(&ConsumerGroupDescribeResponse::default(), v))
                    .unwrap(),
            ),
            v,
        )
        .unwrap();
        assert_eq!(
            (m.groups[0].group_id.clone(), m.groups[0].error_code),
            (gid("secret-g"), 30)
        );
    }
    let r = ShareGroupDescribeRequest::default().with_group_ids(vec![gid("g"), gid("secret-g")]);
    let (_, denied) = partial(ApiKey::ShareGroupDescribe, 1, enc(&r, 1));
    let m = ShareGroupDescribeResponse::decode(
        &mut Bytes::from(
            merge_response(&denied, &enc(&ShareGroupDescribeResponse::default(), 1)).unwrap(),
        ),
        1,
    )
    .unwrap();
    assert_eq!(m.groups[0].error_code, 30);
    let r = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![xid("tx"), xid("secret-tx")]);
    let (_, denied) = partial(ApiKey::DescribeTransactions, 0, enc(&r, 0));
    let m = DescribeTransactionsResponse::decode(
        &mut Bytes::from(
            merge_response(&denied, &enc(&DescribeTransactionsResponse::default(), 0)).unwrap(),
        ),
        0,
    )
    .unwrap();
    assert_eq!(
        (
            m.transaction_states[0].transactional_id.clone(),
            m.transaction_states[0].error_code
        ),
        (xid("secret-tx"), 53)
    );
}
