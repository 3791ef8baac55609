//! Per api: requests with real names, at every version, get Kafka's checks; their denials carry
//! the authorization error on every resource.

use super::*;

#[test]
fn produce() {
    let key = ApiKey::Produce;
    for v in versions(key) {
        for txn_id in [None, Some("tx-orders")] {
            let topic = |name: &str, id: [u8; 16], parts: &[i32]| {
                let t = produce_request::TopicProduceData::default().with_partition_data(
                    parts
                        .iter()
                        .map(|&p| {
                            produce_request::PartitionProduceData::default()
                                .with_index(p)
                                .with_records(Some(Bytes::from_static(b"opaque batch")))
                        })
                        .collect(),
                );
                if v >= 13 {
                    t.with_topic_id(uuid(id))
                } else {
                    t.with_name(tn(name))
                }
            };
            let r = ProduceRequest::default()
                .with_transactional_id(txn_id.map(xid))
                .with_acks(-1)
                .with_topic_data(vec![
                    topic("orders.created", ID_A, &[0, 3]),
                    topic("payments", ID_B, &[1]),
                ]);
            let body = enc(&r, v);
            let rc = checks(key, v, &body);
            let mut want = vec![];
            if let Some(id) = txn_id {
                want.push(x(id, Write));
            }
            if v >= 13 {
                want.extend([ti(ID_A, Write), ti(ID_B, Write)]);
            } else {
                want.extend([t("orders.created", Write), t("payments", Write)]);
            }
            assert_eq!(rc.checks, want, "v{v}");
            assert!(!rc.no_response);
            let code = if txn_id.is_some() { 53 } else { 29 };
            let resp: ProduceResponse = deny(key, v, &body);
            assert_eq!(resp.responses.len(), 2);
            let got: Vec<(i32, i16)> = resp
                .responses
                .iter()
                .flat_map(|t| {
                    t.partition_responses
                        .iter()
                        .map(|p| (p.index, p.error_code))
                })
                .collect();
            assert_eq!(got, vec![(0, code), (3, code), (1, code)], "v{v}");
            if v >= 13 {
                assert_eq!(resp.responses[0].topic_id, uuid(ID_A));
            } else {
                assert_eq!(resp.responses[1].name, tn("payments"));
            }
        }
        let r = ProduceRequest::default().with_acks(0);
        assert!(checks(key, v, &enc(&r, v)).no_response);
    }
}

#[test]
fn fetch() {
    let key = ApiKey::Fetch;
    for v in versions(key) {
        for follower in [false, true] {
            let topic = |name: &str, id: [u8; 16], parts: &[i32]| {
                let t = fetch_request::FetchTopic::default().with_partitions(
                    parts
                        .iter()
                        .map(|&p| fetch_request::FetchPartition::default().with_partition(p))
                        .collect(),
                );
                if v >= 13 {
                    t.with_topic_id(uuid(id))
                } else {
                    t.with_topic(tn(name))
                }
            };
            let mut r = FetchRequest::default().with_topics(vec![
                topic("orders.created", ID_A, &[0, 1]),
                topic("payments", ID_B, &[2]),
            ]);
            let replica = if follower { 2 } else { -1 };
            if v >= 15 {
                r = r.with_replica_state(
                    fetch_request::ReplicaState::default().with_replica_id(BrokerId(replica)),
                );
            } else {
                r = r.with_replica_id(BrokerId(replica));
            }
            let body = enc(&r, v);
            let rc = checks(key, v, &body);
            let want = if follower {
                vec![c(ClusterAction)]
            } else if v >= 13 {
                vec![ti(ID_A, Read), ti(ID_B, Read)]
            } else {
                vec![t("orders.created", Read), t("payments", Read)]
            };
            assert_eq!(rc.checks, want, "v{v} follower {follower}");
            let resp: FetchResponse = deny(key, v, &body);
            assert_eq!(resp.error_code, 0);
            let got: Vec<(i32, i16)> = resp
                .responses
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| (p.partition_index, p.error_code))
                })
                .collect();
            assert_eq!(got, vec![(0, 29), (1, 29), (2, 29)], "v{v}");
            if v >= 13 {
                assert_eq!(resp.responses[1].topic_id, uuid(ID_B));
            } else {
                assert_eq!(resp.responses[1].topic, tn("payments"));
            }
        }
    }
}

#[test]
fn list_offsets() {
    let key = ApiKey::ListOffsets;
    for v in versions(key) {
        let r = ListOffsetsRequest::default().with_topics(vec![
            list_offsets_request::ListOffsetsTopic::default()
                .with_name(tn("orders.created"))
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default().with_partition_index(4)
                ]),
        ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(key, v, &body).checks,
            vec![t("orders.created", Describe)]
        );
        let resp: ListOffsetsResponse = deny(key, v, &body);
        assert_eq!(resp.topics[0].name, tn("orders.created"));
        assert_eq!(resp.topics[0].partitions[0].partition_index, 4);
        assert_eq!(resp.topics[0].partitions[0].error_code, 29);
    }
}

#[test]
fn metadata() {
    let key = ApiKey::Metadata;
    for v in versions(key) {
        // Named topics.
        let r = MetadataRequest::default()
            .with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(tn("orders.created"))),
                metadata_request::MetadataRequestTopic::default().with_name(Some(tn("payments"))),
            ]))
            .with_allow_auto_topic_creation(v < 4);
        let body = enc(&r, v);
        let rc = checks(key, v, &body);
        assert_eq!(
            rc.checks,
            vec![t("orders.created", Describe), t("payments", Describe)],
            "v{v}"
        );
        assert!(!rc.all_topics);
        if v < 4 {
            assert_eq!(
                rc.auto_create,
                vec![t("orders.created", Create), t("payments", Create)]
            );
        } else {
            assert!(rc.auto_create.is_empty());
            let auto = enc(&r.clone().with_allow_auto_topic_creation(true), v);
            assert_eq!(checks(key, v, &auto).auto_create.len(), 2);
        }
        let resp: MetadataResponse = deny(key, v, &body);
        let got: Vec<(Option<TopicName>, i16)> = resp
            .topics
            .iter()
            .map(|t| (t.name.clone(), t.error_code))
            .collect();
        assert_eq!(
            got,
            vec![(Some(tn("orders.created")), 29), (Some(tn("payments")), 29)]
        );
        // All topics.
        let all = if v == 0 {
            MetadataRequest::default().with_topics(Some(vec![]))
        } else {
            MetadataRequest::default()
                .with_topics(None)
                .with_allow_auto_topic_creation(v < 4)
        };
        let rc = checks(key, v, &enc(&all, v));
        assert!(
            rc.all_topics && rc.filters_response && rc.checks.is_empty(),
            "v{v}"
        );
        // No topics (v1+).
        if v >= 1 {
            let none = MetadataRequest::default()
                .with_topics(Some(vec![]))
                .with_allow_auto_topic_creation(v < 4);
            let rc = checks(key, v, &enc(&none, v));
            assert!(!rc.all_topics && rc.checks.is_empty());
        }
        // By topic id (v10+): checked by id, never auto-created.
        if v >= 10 {
            let r = MetadataRequest::default()
                .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
                )
                .with_name(None)
                .with_topic_id(uuid(ID_A))]))
                .with_allow_auto_topic_creation(true);
            let body = enc(&r, v);
            let rc = checks(key, v, &body);
            assert_eq!(rc.checks, vec![ti(ID_A, Describe)]);
            assert!(rc.auto_create.is_empty());
            let resp: MetadataResponse = deny(key, v, &body);
            assert_eq!(resp.topics[0].topic_id, uuid(ID_A));
            assert_eq!(resp.topics[0].error_code, 29);
        }
    }
}

#[test]
fn offset_commit() {
    let key = ApiKey::OffsetCommit;
    for v in versions(key) {
        let r = OffsetCommitRequest::default()
            .with_group_id(gid("analytics"))
            .with_topics(vec![
                offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(tn("orders.created"))
                    .with_partitions(vec![
                        offset_commit_request::OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(42),
                        offset_commit_request::OffsetCommitRequestPartition::default()
                            .with_partition_index(1),
                    ]),
            ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(key, v, &body).checks,
            vec![g("analytics", Read), t("orders.created", Read)]
        );
        let resp: OffsetCommitResponse = deny(key, v, &body);
        let got: Vec<(i32, i16)> = resp.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.error_code))
            .collect();
        assert_eq!(got, vec![(0, 30), (1, 30)]);
    }
}

#[test]
fn offset_fetch() {
    let key = ApiKey::OffsetFetch;
    for v in versions(key) {
        if v >= 8 {
            let r = OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(gid("analytics"))
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopics::default()
                            .with_name(tn("orders.created"))
                            .with_partition_indexes(vec![0, 1]),
                    ])),
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(gid("billing"))
                    .with_topics(None),
            ]);
            let body = enc(&r, v);
            let rc = checks(key, v, &body);
            assert_eq!(
                rc.checks,
                vec![
                    g("analytics", Describe),
                    g("billing", Describe),
                    t("orders.created", Describe)
                ]
            );
            assert!(rc.filters_response);
            let resp: OffsetFetchResponse = deny(key, v, &body);
            let got: Vec<(GroupId, i16)> = resp
                .groups
                .iter()
                .map(|g| (g.group_id.clone(), g.error_code))
                .collect();
            assert_eq!(got, vec![(gid("analytics"), 30), (gid("billing"), 30)]);
        } else {
            let r = OffsetFetchRequest::default()
                .with_group_id(gid("analytics"))
                .with_topics(Some(vec![
                    offset_fetch_request::OffsetFetchRequestTopic::default()
                        .with_name(tn("orders.created"))
                        .with_partition_indexes(vec![0, 1]),
                ]));
            let body = enc(&r, v);
            let rc = checks(key, v, &body);
            assert_eq!(
                rc.checks,
                vec![g("analytics", Describe), t("orders.created", Describe)]
            );
            assert!(!rc.filters_response);
            let resp: OffsetFetchResponse = deny(key, v, &body);
            let got: Vec<(i32, i16)> = resp.topics[0]
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.error_code))
                .collect();
            assert_eq!(got, vec![(0, 30), (1, 30)]);
            if v >= 2 {
                assert_eq!(resp.error_code, 30);
                let all = OffsetFetchRequest::default()
                    .with_group_id(gid("analytics"))
                    .with_topics(None);
                let rc = checks(key, v, &enc(&all, v));
                assert_eq!(rc.checks, vec![g("analytics", Describe)]);
                assert!(rc.filters_response);
            }
        }
    }
}

type CheckFn = fn(&str, Operation) -> Check;

#[test]
fn find_coordinator() {
    let key = ApiKey::FindCoordinator;
    for v in versions(key) {
        let kinds: &[(i8, CheckFn, i16)] = if v >= 1 {
            &[(0, g, 30), (1, x, 53)]
        } else {
            &[(0, g, 30)]
        };
        for &(key_type, check, code) in kinds {
            let r = if v >= 4 {
                FindCoordinatorRequest::default()
                    .with_key_type(key_type)
                    .with_coordinator_keys(vec![sb("k1"), sb("k2")])
            } else if v >= 1 {
                FindCoordinatorRequest::default()
                    .with_key_type(key_type)
                    .with_key(sb("k1"))
            } else {
                FindCoordinatorRequest::default().with_key(sb("k1"))
            };
            let body = enc(&r, v);
            let want = if v >= 4 {
                vec![check("k1", Describe), check("k2", Describe)]
            } else {
                vec![check("k1", Describe)]
            };
            assert_eq!(checks(key, v, &body).checks, want, "v{v}");
            let resp: FindCoordinatorResponse = deny(key, v, &body);
            if v >= 4 {
                let got: Vec<(StrBytes, i16)> = resp
                    .coordinators
                    .iter()
                    .map(|c| (c.key.clone(), c.error_code))
                    .collect();
                assert_eq!(got, vec![(sb("k1"), code), (sb("k2"), code)]);
            } else {
                assert_eq!(resp.error_code, code);
                assert_eq!(resp.node_id, BrokerId(-1));
            }
        }
        if v >= 3 {
            let r = FindCoordinatorRequest::default().with_key_type(7);
            let r = if v >= 4 {
                r.with_coordinator_keys(vec![sb("k")])
            } else {
                r.with_key(sb("k"))
            };
            assert_eq!(
                request_checks(10, v, &enc(&r, v)),
                Err(KafkaError::UnknownCoordinatorType(7))
            );
        }
        if v >= 6 {
            let r = FindCoordinatorRequest::default()
                .with_key_type(2)
                .with_coordinator_keys(vec![sb("g:topic:0")]);
            let body = enc(&r, v);
            assert_eq!(checks(key, v, &body).checks, vec![c(ClusterAction)]);
            let resp: FindCoordinatorResponse = deny(key, v, &body);
            assert_eq!(resp.coordinators[0].error_code, 31);
        }
    }
}

#[test]
fn group_membership() {
    for v in versions(ApiKey::JoinGroup) {
        let body = enc(
            &JoinGroupRequest::default().with_group_id(gid("analytics")),
            v,
        );
        assert_eq!(
            checks(ApiKey::JoinGroup, v, &body).checks,
            vec![g("analytics", Read)]
        );
        let resp: JoinGroupResponse = deny(ApiKey::JoinGroup, v, &body);
        assert_eq!(resp.error_code, 30);
    }
    for v in versions(ApiKey::SyncGroup) {
        let body = enc(
            &SyncGroupRequest::default().with_group_id(gid("analytics")),
            v,
        );
        assert_eq!(
            checks(ApiKey::SyncGroup, v, &body).checks,
            vec![g("analytics", Read)]
        );
        let resp: SyncGroupResponse = deny(ApiKey::SyncGroup, v, &body);
        assert_eq!(resp.error_code, 30);
    }
    for v in versions(ApiKey::Heartbeat) {
        let body = enc(
            &HeartbeatRequest::default().with_group_id(gid("analytics")),
            v,
        );
        assert_eq!(
            checks(ApiKey::Heartbeat, v, &body).checks,
            vec![g("analytics", Read)]
        );
        let resp: HeartbeatResponse = deny(ApiKey::Heartbeat, v, &body);
        assert_eq!(resp.error_code, 30);
    }
    for v in versions(ApiKey::LeaveGroup) {
        let r = LeaveGroupRequest::default().with_group_id(gid("analytics"));
        let r = if v >= 3 {
            r.with_members(vec![
                leave_group_request::MemberIdentity::default().with_member_id(sb("m-1"))
            ])
        } else {
            r.with_member_id(sb("m-1"))
        };
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::LeaveGroup, v, &body).checks,
            vec![g("analytics", Read)]
        );
        let resp: LeaveGroupResponse = deny(ApiKey::LeaveGroup, v, &body);
        assert_eq!(resp.error_code, 30);
    }
}

#[test]
fn describe_list_delete_groups() {
    for v in versions(ApiKey::DescribeGroups) {
        let body = enc(
            &DescribeGroupsRequest::default().with_groups(vec![gid("analytics"), gid("billing")]),
            v,
        );
        assert_eq!(
            checks(ApiKey::DescribeGroups, v, &body).checks,
            vec![g("analytics", Describe), g("billing", Describe)]
        );
        let resp: DescribeGroupsResponse = deny(ApiKey::DescribeGroups, v, &body);
        let got: Vec<(GroupId, i16)> = resp
            .groups
            .iter()
            .map(|g| (g.group_id.clone(), g.error_code))
            .collect();
        assert_eq!(got, vec![(gid("analytics"), 30), (gid("billing"), 30)]);
    }
    for v in versions(ApiKey::ListGroups) {
        let body = enc(&ListGroupsRequest::default(), v);
        let rc = checks(ApiKey::ListGroups, v, &body);
        assert!(rc.checks.is_empty() && rc.filters_response);
        let resp: ListGroupsResponse = deny(ApiKey::ListGroups, v, &body);
        assert!(resp.groups.is_empty());
    }
    for v in versions(ApiKey::DeleteGroups) {
        let body = enc(
            &DeleteGroupsRequest::default()
                .with_groups_names(vec![gid("analytics"), gid("billing")]),
            v,
        );
        assert_eq!(
            checks(ApiKey::DeleteGroups, v, &body).checks,
            vec![g("analytics", Delete), g("billing", Delete)]
        );
        let resp: DeleteGroupsResponse = deny(ApiKey::DeleteGroups, v, &body);
        let got: Vec<(GroupId, i16)> = resp
            .results
            .iter()
            .map(|g| (g.group_id.clone(), g.error_code))
            .collect();
        assert_eq!(got, vec![(gid("analytics"), 30), (gid("billing"), 30)]);
    }
}

#[test]
fn create_and_delete_topics() {
    for v in versions(ApiKey::CreateTopics) {
        let r = CreateTopicsRequest::default().with_topics(vec![
            create_topics_request::CreatableTopic::default().with_name(tn("orders.created")),
            create_topics_request::CreatableTopic::default().with_name(tn("payments")),
        ]);
        let body = enc(&r, v);
        let rc = checks(ApiKey::CreateTopics, v, &body);
        assert_eq!(
            rc.checks,
            vec![t("orders.created", Create), t("payments", Create)]
        );
        assert_eq!(rc.cluster_alternative, Some(Create));
        let resp: CreateTopicsResponse = deny(ApiKey::CreateTopics, v, &body);
        let got: Vec<(TopicName, i16)> = resp
            .topics
            .iter()
            .map(|t| (t.name.clone(), t.error_code))
            .collect();
        assert_eq!(got, vec![(tn("orders.created"), 29), (tn("payments"), 29)]);
    }
    for v in versions(ApiKey::DeleteTopics) {
        let r = if v >= 6 {
            DeleteTopicsRequest::default().with_topics(vec![
                delete_topics_request::DeleteTopicState::default()
                    .with_name(Some(tn("orders.created"))),
                delete_topics_request::DeleteTopicState::default()
                    .with_name(None)
                    .with_topic_id(uuid(ID_B)),
            ])
        } else {
            DeleteTopicsRequest::default()
                .with_topic_names(vec![tn("orders.created"), tn("payments")])
        };
        let body = enc(&r, v);
        let want = if v >= 6 {
            vec![t("orders.created", Delete), ti(ID_B, Delete)]
        } else {
            vec![t("orders.created", Delete), t("payments", Delete)]
        };
        assert_eq!(checks(ApiKey::DeleteTopics, v, &body).checks, want);
        let resp: DeleteTopicsResponse = deny(ApiKey::DeleteTopics, v, &body);
        assert_eq!(resp.responses.len(), 2);
        assert!(resp.responses.iter().all(|t| t.error_code == 29));
        assert_eq!(resp.responses[0].name, Some(tn("orders.created")));
        if v >= 6 {
            assert_eq!(resp.responses[1].topic_id, uuid(ID_B));
        }
    }
}

#[test]
fn delete_records_and_create_partitions() {
    for v in versions(ApiKey::DeleteRecords) {
        let r = DeleteRecordsRequest::default().with_topics(vec![
            delete_records_request::DeleteRecordsTopic::default()
                .with_name(tn("orders.created"))
                .with_partitions(vec![
                    delete_records_request::DeleteRecordsPartition::default()
                        .with_partition_index(2),
                ]),
        ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::DeleteRecords, v, &body).checks,
            vec![t("orders.created", Delete)]
        );
        let resp: DeleteRecordsResponse = deny(ApiKey::DeleteRecords, v, &body);
        assert_eq!(resp.topics[0].partitions[0].partition_index, 2);
        assert_eq!(resp.topics[0].partitions[0].error_code, 29);
    }
    for v in versions(ApiKey::CreatePartitions) {
        let r = CreatePartitionsRequest::default().with_topics(vec![
            create_partitions_request::CreatePartitionsTopic::default()
                .with_name(tn("orders.created"))
                .with_count(6),
        ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::CreatePartitions, v, &body).checks,
            vec![t("orders.created", Alter)]
        );
    }
}

#[test]
fn init_producer_id() {
    let key = ApiKey::InitProducerId;
    for v in versions(key) {
        let body = enc(
            &InitProducerIdRequest::default().with_transactional_id(Some(xid("tx-orders"))),
            v,
        );
        let rc = checks(key, v, &body);
        assert_eq!(rc.checks, vec![x("tx-orders", Write)]);
        assert!(!rc.any_topic_write_alternative);
        let resp: InitProducerIdResponse = deny(key, v, &body);
        assert_eq!(resp.error_code, 53);
        assert_eq!(resp.producer_id, ProducerId(-1));

        let body = enc(
            &InitProducerIdRequest::default().with_transactional_id(None),
            v,
        );
        let rc = checks(key, v, &body);
        assert_eq!(rc.checks, vec![c(IdempotentWrite)]);
        assert!(rc.any_topic_write_alternative);
        let resp: InitProducerIdResponse = deny(key, v, &body);
        assert_eq!(resp.error_code, 31);
    }
}

#[test]
fn transactions() {
    for v in versions(ApiKey::AddPartitionsToTxn) {
        let topic = |name: &str, parts: Vec<i32>| {
            add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                .with_name(tn(name))
                .with_partitions(parts)
        };
        let r = if v >= 4 {
            AddPartitionsToTxnRequest::default().with_transactions(vec![
                add_partitions_to_txn_request::AddPartitionsToTxnTransaction::default()
                    .with_transactional_id(xid("tx-orders"))
                    .with_topics(vec![topic("orders.created", vec![0])]),
            ])
        } else {
            AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(xid("tx-orders"))
                .with_v3_and_below_topics(vec![
                    topic("orders.created", vec![0, 1]),
                    topic("payments", vec![2]),
                ])
        };
        let body = enc(&r, v);
        let want = if v >= 4 {
            vec![
                c(ClusterAction),
                x("tx-orders", Write),
                t("orders.created", Write),
            ]
        } else {
            vec![
                x("tx-orders", Write),
                t("orders.created", Write),
                t("payments", Write),
            ]
        };
        assert_eq!(
            checks(ApiKey::AddPartitionsToTxn, v, &body).checks,
            want,
            "v{v}"
        );
        let resp: AddPartitionsToTxnResponse = deny(ApiKey::AddPartitionsToTxn, v, &body);
        if v >= 4 {
            assert_eq!(resp.error_code, 31);
        } else {
            let got: Vec<(i32, i16)> = resp
                .results_by_topic_v3_and_below
                .iter()
                .flat_map(|t| {
                    t.results_by_partition
                        .iter()
                        .map(|p| (p.partition_index, p.partition_error_code))
                })
                .collect();
            assert_eq!(got, vec![(0, 53), (1, 53), (2, 53)]);
        }
    }
    for v in versions(ApiKey::AddOffsetsToTxn) {
        let body = enc(
            &AddOffsetsToTxnRequest::default()
                .with_transactional_id(xid("tx-orders"))
                .with_group_id(gid("orders")),
            v,
        );
        assert_eq!(
            checks(ApiKey::AddOffsetsToTxn, v, &body).checks,
            vec![x("tx-orders", Write), g("orders", Read)]
        );
        let resp: AddOffsetsToTxnResponse = deny(ApiKey::AddOffsetsToTxn, v, &body);
        assert_eq!(resp.error_code, 53);
    }
    for v in versions(ApiKey::EndTxn) {
        let body = enc(
            &EndTxnRequest::default().with_transactional_id(xid("tx-orders")),
            v,
        );
        assert_eq!(
            checks(ApiKey::EndTxn, v, &body).checks,
            vec![x("tx-orders", Write)]
        );
        let resp: EndTxnResponse = deny(ApiKey::EndTxn, v, &body);
        assert_eq!(resp.error_code, 53);
    }
    for v in versions(ApiKey::TxnOffsetCommit) {
        let r = TxnOffsetCommitRequest::default()
            .with_transactional_id(xid("tx-orders"))
            .with_group_id(gid("orders"))
            .with_topics(vec![
                txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                    .with_name(tn("payments"))
                    .with_partitions(vec![
                        txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                            .with_partition_index(5),
                    ]),
            ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::TxnOffsetCommit, v, &body).checks,
            vec![
                x("tx-orders", Write),
                g("orders", Read),
                t("payments", Read)
            ]
        );
        let resp: TxnOffsetCommitResponse = deny(ApiKey::TxnOffsetCommit, v, &body);
        assert_eq!(resp.topics[0].partitions[0].partition_index, 5);
        assert_eq!(resp.topics[0].partitions[0].error_code, 53);
    }
    for v in versions(ApiKey::WriteTxnMarkers) {
        let r = WriteTxnMarkersRequest::default().with_markers(vec![
            write_txn_markers_request::WritableTxnMarker::default()
                .with_producer_id(ProducerId(7))
                .with_topics(vec![
                    write_txn_markers_request::WritableTxnMarkerTopic::default()
                        .with_name(tn("orders.created"))
                        .with_partition_indexes(vec![0, 1]),
                ]),
        ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::WriteTxnMarkers, v, &body).checks,
            vec![c(ClusterAction)]
        );
        let resp: WriteTxnMarkersResponse = deny(ApiKey::WriteTxnMarkers, v, &body);
        let codes: Vec<i16> = resp.markers[0].topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect();
        assert_eq!(codes, vec![31, 31]);
    }
}

#[test]
fn offset_for_leader_epoch() {
    let key = ApiKey::OffsetForLeaderEpoch;
    for v in versions(key) {
        let r = OffsetForLeaderEpochRequest::default().with_topics(vec![
            offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                .with_topic(tn("orders.created"))
                .with_partitions(vec![
                    offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                        .with_partition(3),
                ]),
        ]);
        let body = enc(&r, v);
        let rc = checks(key, v, &body);
        assert_eq!(rc.checks, vec![t("orders.created", Describe)]);
        assert_eq!(rc.cluster_alternative, Some(ClusterAction));
        let resp: OffsetForLeaderEpochResponse = deny(key, v, &body);
        assert_eq!(resp.topics[0].partitions[0].partition, 3);
        assert_eq!(resp.topics[0].partitions[0].error_code, 29);
    }
}

/// `deny_response_for`: the level whose check failed decides the code, as in Kafka.
#[test]
fn deny_for_the_failed_level() {
    use ResourceType::{Group, Topic, TransactionalId};
    let for_ = |key: ApiKey, v: i16, body: &[u8], failed| {
        let frame = deny_response_for(key as i16, v, 7, body, failed).unwrap();
        let mut buf = Bytes::from(frame);
        buf.advance(4);
        ResponseHeader::decode(&mut buf, key.response_header_version(v)).unwrap();
        buf
    };
    // Transactional Produce: transactional id allowed, topic denied → 29, not 53.
    for v in versions(ApiKey::Produce) {
        let t = produce_request::TopicProduceData::default().with_partition_data(vec![
            produce_request::PartitionProduceData::default().with_index(3),
        ]);
        let t = if v >= 13 {
            t.with_topic_id(uuid(ID_A))
        } else {
            t.with_name(tn("orders"))
        };
        let body = enc(
            &ProduceRequest::default()
                .with_transactional_id(Some(xid("tx")))
                .with_topic_data(vec![t]),
            v,
        );
        for (failed, code) in [(Topic, 29), (TransactionalId, 53), (Group, 53)] {
            let r =
                ProduceResponse::decode(&mut for_(ApiKey::Produce, v, &body, failed), v).unwrap();
            assert_eq!(
                r.responses[0].partition_responses[0].error_code, code,
                "v{v} {failed:?}"
            );
        }
    }
    // OffsetCommit: group allowed, topic denied → 29.
    for v in versions(ApiKey::OffsetCommit) {
        let body = enc(
            &OffsetCommitRequest::default()
                .with_group_id(gid("g"))
                .with_topics(vec![
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(tn("orders"))
                        .with_partitions(vec![
                            offset_commit_request::OffsetCommitRequestPartition::default(),
                        ]),
                ]),
            v,
        );
        let r = OffsetCommitResponse::decode(&mut for_(ApiKey::OffsetCommit, v, &body, Topic), v)
            .unwrap();
        assert_eq!(r.topics[0].partitions[0].error_code, 29);
    }
    // OffsetFetch: group allowed, topic denied → 29 on the partitions, no group/top-level error.
    for v in versions(ApiKey::OffsetFetch) {
        let r = if v >= 8 {
            OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(gid("g"))
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopics::default()
                            .with_name(tn("orders"))
                            .with_partition_indexes(vec![4]),
                    ])),
            ])
        } else {
            OffsetFetchRequest::default()
                .with_group_id(gid("g"))
                .with_topics(Some(vec![
                    offset_fetch_request::OffsetFetchRequestTopic::default()
                        .with_name(tn("orders"))
                        .with_partition_indexes(vec![4]),
                ]))
        };
        let body = enc(&r, v);
        let r = OffsetFetchResponse::decode(&mut for_(ApiKey::OffsetFetch, v, &body, Topic), v)
            .unwrap();
        if v >= 8 {
            assert_eq!(r.groups[0].error_code, 0);
            assert_eq!(r.groups[0].topics[0].partitions[0].partition_index, 4);
            assert_eq!(r.groups[0].topics[0].partitions[0].error_code, 29);
        } else {
            assert_eq!(r.error_code, 0);
            assert_eq!(r.topics[0].partitions[0].error_code, 29);
        }
    }
    // TxnOffsetCommit: three levels.
    for v in versions(ApiKey::TxnOffsetCommit) {
        let body = enc(
            &TxnOffsetCommitRequest::default()
                .with_transactional_id(xid("tx"))
                .with_group_id(gid("g"))
                .with_topics(vec![
                    txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                        .with_name(tn("orders"))
                        .with_partitions(vec![
                            txn_offset_commit_request::TxnOffsetCommitRequestPartition::default(),
                        ]),
                ]),
            v,
        );
        for (failed, code) in [(TransactionalId, 53), (Group, 30), (Topic, 29)] {
            let r = TxnOffsetCommitResponse::decode(
                &mut for_(ApiKey::TxnOffsetCommit, v, &body, failed),
                v,
            )
            .unwrap();
            assert_eq!(
                r.topics[0].partitions[0].error_code, code,
                "v{v} {failed:?}"
            );
        }
    }
    // AddOffsetsToTxn: transactional id allowed, group denied → 30.
    for v in versions(ApiKey::AddOffsetsToTxn) {
        let body = enc(
            &AddOffsetsToTxnRequest::default()
                .with_transactional_id(xid("tx"))
                .with_group_id(gid("g")),
            v,
        );
        let r =
            AddOffsetsToTxnResponse::decode(&mut for_(ApiKey::AddOffsetsToTxn, v, &body, Group), v)
                .unwrap();
        assert_eq!(r.error_code, 30);
    }
    // AddPartitionsToTxn: v0–3 transactional id allowed → 29 per partition; v4+ cluster allowed →
    // per transaction.
    for v in versions(ApiKey::AddPartitionsToTxn) {
        let topics = vec![
            add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                .with_name(tn("orders"))
                .with_partitions(vec![0, 1]),
        ];
        let r = if v >= 4 {
            AddPartitionsToTxnRequest::default().with_transactions(vec![
                add_partitions_to_txn_request::AddPartitionsToTxnTransaction::default()
                    .with_transactional_id(xid("tx"))
                    .with_topics(topics),
            ])
        } else {
            AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(xid("tx"))
                .with_v3_and_below_topics(topics)
        };
        let body = enc(&r, v);
        let r = AddPartitionsToTxnResponse::decode(
            &mut for_(ApiKey::AddPartitionsToTxn, v, &body, Topic),
            v,
        )
        .unwrap();
        let results = if v >= 4 {
            assert_eq!(r.error_code, 0);
            &r.results_by_transaction[0].topic_results
        } else {
            &r.results_by_topic_v3_and_below
        };
        let codes: Vec<i16> = results[0]
            .results_by_partition
            .iter()
            .map(|p| p.partition_error_code)
            .collect();
        assert_eq!(codes, vec![29, 29], "v{v}");
    }
    // OffsetDelete: group allowed → 29 per partition.
    let body = enc(
        &OffsetDeleteRequest::default()
            .with_group_id(gid("g"))
            .with_topics(vec![
                offset_delete_request::OffsetDeleteRequestTopic::default()
                    .with_name(tn("orders"))
                    .with_partitions(vec![
                        offset_delete_request::OffsetDeleteRequestPartition::default()
                            .with_partition_index(2),
                    ]),
            ]),
        0,
    );
    let r =
        OffsetDeleteResponse::decode(&mut for_(ApiKey::OffsetDelete, 0, &body, Topic), 0).unwrap();
    assert_eq!(
        (r.error_code, r.topics[0].partitions[0].error_code),
        (0, 29)
    );
    let r: OffsetDeleteResponse = deny(ApiKey::OffsetDelete, 0, &body);
    assert_eq!((r.error_code, r.topics.len()), (30, 0));
}

/// Topic ids the filter cannot resolve are answered with UNKNOWN_TOPIC_ID, as the broker does.
#[test]
fn unknown_topic_ids() {
    let frame_body = |frame: Vec<u8>, key: ApiKey, v: i16| {
        let mut buf = Bytes::from(frame);
        buf.advance(4);
        ResponseHeader::decode(&mut buf, key.response_header_version(v)).unwrap();
        buf
    };
    for v in 13..=decodable_max(ApiKey::Fetch) {
        let r = FetchRequest::default().with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic_id(uuid(ID_A))
            .with_partitions(vec![
                fetch_request::FetchPartition::default().with_partition(2)
            ])]);
        let frame = deny_response_with_code(1, v, 5, &enc(&r, v), UNKNOWN_TOPIC_ID).unwrap();
        let resp = FetchResponse::decode(&mut frame_body(frame, ApiKey::Fetch, v), v).unwrap();
        assert_eq!(resp.responses[0].topic_id, uuid(ID_A));
        assert_eq!(resp.responses[0].partitions[0].error_code, 100);
    }
    let r = ProduceRequest::default()
        .with_transactional_id(Some(xid("tx")))
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_topic_id(uuid(ID_B))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default(),
            ])]);
    let frame = deny_response_with_code(0, 13, 5, &enc(&r, 13), UNKNOWN_TOPIC_ID).unwrap();
    let resp = ProduceResponse::decode(&mut frame_body(frame, ApiKey::Produce, 13), 13).unwrap();
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 100);
    for v in 10..=decodable_max(ApiKey::Metadata) {
        let r = MetadataRequest::default()
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
            )
            .with_name(None)
            .with_topic_id(uuid(ID_A))]))
            .with_allow_auto_topic_creation(false);
        let frame = deny_response_with_code(3, v, 5, &enc(&r, v), UNKNOWN_TOPIC_ID).unwrap();
        let resp =
            MetadataResponse::decode(&mut frame_body(frame, ApiKey::Metadata, v), v).unwrap();
        assert_eq!(resp.topics[0].error_code, 100);
    }
}

/// An empty topic list asks for no topics; only a null one asks for all of them (and has the
/// answer filtered).
#[test]
fn empty_topic_lists_are_not_null_ones() {
    for v in versions(ApiKey::OffsetFetch) {
        let r = if v >= 8 {
            OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(gid("analytics"))
                    .with_topics(Some(vec![])),
            ])
        } else {
            OffsetFetchRequest::default()
                .with_group_id(gid("analytics"))
                .with_topics(Some(vec![]))
        };
        let rc = checks(ApiKey::OffsetFetch, v, &enc(&r, v));
        assert_eq!(rc.checks, vec![g("analytics", Describe)], "v{v}");
        assert!(!rc.filters_response, "v{v}");
    }
    for v in versions(ApiKey::DescribeShareGroupOffsets) {
        let r = DescribeShareGroupOffsetsRequest::default().with_groups(vec![
            describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup::default()
                .with_group_id(gid("analytics"))
                .with_topics(Some(vec![])),
        ]);
        let rc = checks(ApiKey::DescribeShareGroupOffsets, v, &enc(&r, v));
        assert_eq!(rc.checks, vec![g("analytics", Describe)], "v{v}");
        assert!(!rc.filters_response, "v{v}");
    }
}
