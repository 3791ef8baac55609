//! The admin, newer consumer, transaction-admin, share-group and inter-broker apis, with real
//! names, at every version.

use super::*;

#[test]
fn configs_per_resource_type() {
    let resources = [
        (2i8, "orders.created"),
        (4, "1"),
        (8, "1"),
        (16, "metrics-sub"),
        (32, "analytics"),
    ];
    for v in versions(ApiKey::DescribeConfigs) {
        let r = DescribeConfigsRequest::default().with_resources(
            resources
                .iter()
                .map(|&(t, n)| {
                    describe_configs_request::DescribeConfigsResource::default()
                        .with_resource_type(t)
                        .with_resource_name(sb(n))
                })
                .collect(),
        );
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::DescribeConfigs, v, &body).checks,
            vec![
                t("orders.created", DescribeConfigs),
                c(DescribeConfigs),
                g("analytics", DescribeConfigs)
            ]
        );
        let resp: DescribeConfigsResponse = deny(ApiKey::DescribeConfigs, v, &body);
        let codes: Vec<(i8, i16)> = resp
            .results
            .iter()
            .map(|r| (r.resource_type, r.error_code))
            .collect();
        assert_eq!(codes, vec![(2, 29), (4, 31), (8, 31), (16, 31), (32, 30)]);
        let bad = DescribeConfigsRequest::default().with_resources(vec![
            describe_configs_request::DescribeConfigsResource::default().with_resource_type(3),
        ]);
        assert!(matches!(
            request_checks(32, v, &enc(&bad, v)),
            Err(KafkaError::UnknownResourceType {
                resource_type: 3,
                ..
            })
        ));
    }
    for v in versions(ApiKey::AlterConfigs) {
        let r = AlterConfigsRequest::default().with_resources(vec![
            alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(sb("orders.created")),
            alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(4)
                .with_resource_name(sb("1")),
        ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::AlterConfigs, v, &body).checks,
            vec![t("orders.created", AlterConfigs), c(AlterConfigs)]
        );
        let resp: AlterConfigsResponse = deny(ApiKey::AlterConfigs, v, &body);
        let codes: Vec<i16> = resp.responses.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, vec![29, 31]);
    }
    for v in versions(ApiKey::IncrementalAlterConfigs) {
        let r = IncrementalAlterConfigsRequest::default().with_resources(vec![
            incremental_alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(32)
                .with_resource_name(sb("analytics")),
        ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::IncrementalAlterConfigs, v, &body).checks,
            vec![g("analytics", AlterConfigs)]
        );
        let resp: IncrementalAlterConfigsResponse = deny(ApiKey::IncrementalAlterConfigs, v, &body);
        assert_eq!(resp.responses[0].error_code, 30);
        assert_eq!(resp.responses[0].resource_name, sb("analytics"));
    }
}

#[test]
fn acls_and_cluster_admin() {
    for v in versions(ApiKey::DescribeAcls) {
        let body = enc(&DescribeAclsRequest::default(), v);
        assert_eq!(
            checks(ApiKey::DescribeAcls, v, &body).checks,
            vec![c(Describe)]
        );
        let resp: DescribeAclsResponse = deny(ApiKey::DescribeAcls, v, &body);
        assert_eq!(resp.error_code, 31);
    }
    for v in versions(ApiKey::CreateAcls) {
        let r = CreateAclsRequest::default().with_creations(vec![
            create_acls_request::AclCreation::default().with_resource_name(sb("orders")),
            create_acls_request::AclCreation::default().with_resource_name(sb("payments")),
        ]);
        let body = enc(&r, v);
        assert_eq!(checks(ApiKey::CreateAcls, v, &body).checks, vec![c(Alter)]);
        let resp: CreateAclsResponse = deny(ApiKey::CreateAcls, v, &body);
        assert_eq!(
            resp.results
                .iter()
                .map(|r| r.error_code)
                .collect::<Vec<_>>(),
            vec![31, 31]
        );
    }
    for v in versions(ApiKey::DeleteAcls) {
        let r = DeleteAclsRequest::default()
            .with_filters(vec![delete_acls_request::DeleteAclsFilter::default()]);
        let body = enc(&r, v);
        assert_eq!(checks(ApiKey::DeleteAcls, v, &body).checks, vec![c(Alter)]);
        let resp: DeleteAclsResponse = deny(ApiKey::DeleteAcls, v, &body);
        assert_eq!(resp.filter_results[0].error_code, 31);
    }
    for v in versions(ApiKey::ElectLeaders) {
        let r = ElectLeadersRequest::default().with_topic_partitions(Some(vec![
            elect_leaders_request::TopicPartitions::default()
                .with_topic(tn("orders.created"))
                .with_partitions(vec![0, 1]),
        ]));
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::ElectLeaders, v, &body).checks,
            vec![c(Alter)]
        );
        let resp: ElectLeadersResponse = deny(ApiKey::ElectLeaders, v, &body);
        if v >= 1 {
            assert_eq!(resp.error_code, 31);
        } else {
            let codes: Vec<i16> = resp.replica_election_results[0]
                .partition_result
                .iter()
                .map(|p| p.error_code)
                .collect();
            assert_eq!(codes, vec![31, 31]);
        }
    }
    for v in versions(ApiKey::AlterReplicaLogDirs) {
        let r = AlterReplicaLogDirsRequest::default().with_dirs(vec![
            alter_replica_log_dirs_request::AlterReplicaLogDir::default()
                .with_path(sb("/data"))
                .with_topics(vec![
                    alter_replica_log_dirs_request::AlterReplicaLogDirTopic::default()
                        .with_name(tn("orders.created"))
                        .with_partitions(vec![3]),
                ]),
        ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::AlterReplicaLogDirs, v, &body).checks,
            vec![c(Alter)]
        );
        let resp: AlterReplicaLogDirsResponse = deny(ApiKey::AlterReplicaLogDirs, v, &body);
        assert_eq!(resp.results[0].partitions[0].error_code, 31);
    }
    for v in versions(ApiKey::DescribeLogDirs) {
        let body = enc(&DescribeLogDirsRequest::default().with_topics(None), v);
        assert_eq!(
            checks(ApiKey::DescribeLogDirs, v, &body).checks,
            vec![c(Describe)]
        );
        let resp: DescribeLogDirsResponse = deny(ApiKey::DescribeLogDirs, v, &body);
        assert_eq!(resp.error_code, if v >= 3 { 31 } else { 0 });
        assert!(resp.results.is_empty());
    }
    for v in versions(ApiKey::CreatePartitions) {
        let r = CreatePartitionsRequest::default().with_topics(vec![
            create_partitions_request::CreatePartitionsTopic::default()
                .with_name(tn("orders.created")),
        ]);
        let body = enc(&r, v);
        let resp: CreatePartitionsResponse = deny(ApiKey::CreatePartitions, v, &body);
        assert_eq!(resp.results[0].name, tn("orders.created"));
        assert_eq!(resp.results[0].error_code, 29);
    }
    for v in versions(ApiKey::AlterClientQuotas) {
        let r = AlterClientQuotasRequest::default().with_entries(vec![
            alter_client_quotas_request::EntryData::default().with_entity(vec![
                alter_client_quotas_request::EntityData::default()
                    .with_entity_type(sb("user"))
                    .with_entity_name(Some(sb("alice"))),
            ]),
        ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::AlterClientQuotas, v, &body).checks,
            vec![c(AlterConfigs)]
        );
        let resp: AlterClientQuotasResponse = deny(ApiKey::AlterClientQuotas, v, &body);
        assert_eq!(resp.entries[0].error_code, 31);
        assert_eq!(resp.entries[0].entity[0].entity_name, Some(sb("alice")));
    }
    for v in versions(ApiKey::DescribeClientQuotas) {
        let body = enc(&DescribeClientQuotasRequest::default(), v);
        assert_eq!(
            checks(ApiKey::DescribeClientQuotas, v, &body).checks,
            vec![c(DescribeConfigs)]
        );
        let resp: DescribeClientQuotasResponse = deny(ApiKey::DescribeClientQuotas, v, &body);
        assert_eq!(resp.error_code, 31);
    }
    let r = AlterUserScramCredentialsRequest::default()
        .with_deletions(vec![
            alter_user_scram_credentials_request::ScramCredentialDeletion::default()
                .with_name(sb("bob")),
        ])
        .with_upsertions(vec![
            alter_user_scram_credentials_request::ScramCredentialUpsertion::default()
                .with_name(sb("alice")),
            alter_user_scram_credentials_request::ScramCredentialUpsertion::default()
                .with_name(sb("bob")),
        ]);
    let body = enc(&r, 0);
    assert_eq!(
        checks(ApiKey::AlterUserScramCredentials, 0, &body).checks,
        vec![c(Alter)]
    );
    let resp: AlterUserScramCredentialsResponse = deny(ApiKey::AlterUserScramCredentials, 0, &body);
    let users: Vec<(StrBytes, i16)> = resp
        .results
        .iter()
        .map(|r| (r.user.clone(), r.error_code))
        .collect();
    assert_eq!(users, vec![(sb("alice"), 31), (sb("bob"), 31)]);
    for (key, op) in [
        (ApiKey::AlterPartitionReassignments, Alter),
        (ApiKey::ListPartitionReassignments, Describe),
        (ApiKey::DescribeUserScramCredentials, Describe),
        (ApiKey::DescribeQuorum, Describe),
        (ApiKey::UpdateFeatures, Alter),
        (ApiKey::UnregisterBroker, Alter),
        (ApiKey::ListConfigResources, DescribeConfigs),
        (ApiKey::AddRaftVoter, Alter),
        (ApiKey::RemoveRaftVoter, Alter),
    ] {
        struct One(ApiKey, Operation);
        impl Visit for One {
            fn visit<R: Request + Default>(&mut self) {
                if R::KEY != self.0 as i16 {
                    return;
                }
                for v in versions(self.0) {
                    let body = enc(&R::default(), v);
                    assert_eq!(
                        checks(self.0, v, &body).checks,
                        vec![c(self.1)],
                        "{:?} v{v}",
                        self.0
                    );
                }
            }
        }
        all_apis(&mut One(key, op));
    }
}

#[test]
fn inter_broker_apis_need_cluster_action() {
    struct Inter(usize);
    impl Visit for Inter {
        fn visit<R: Request + Default>(&mut self) {
            let key = ApiKey::try_from(R::KEY).unwrap();
            let inter = [
                ApiKey::Vote,
                ApiKey::BeginQuorumEpoch,
                ApiKey::EndQuorumEpoch,
                ApiKey::AlterPartition,
                ApiKey::Envelope,
                ApiKey::FetchSnapshot,
                ApiKey::BrokerRegistration,
                ApiKey::BrokerHeartbeat,
                ApiKey::AllocateProducerIds,
                ApiKey::ControllerRegistration,
                ApiKey::AssignReplicasToDirs,
                ApiKey::UpdateRaftVoter,
                ApiKey::InitializeShareGroupState,
                ApiKey::ReadShareGroupState,
                ApiKey::WriteShareGroupState,
                ApiKey::DeleteShareGroupState,
                ApiKey::ReadShareGroupStateSummary,
                ApiKey::WriteTxnMarkers,
            ];
            if !inter.contains(&key) {
                return;
            }
            self.0 += 1;
            for v in versions(key) {
                let body = enc(&R::default(), v);
                assert_eq!(
                    checks(key, v, &body).checks,
                    vec![c(ClusterAction)],
                    "{key:?} v{v}"
                );
            }
        }
    }
    let mut i = Inter(0);
    all_apis(&mut i);
    assert_eq!(i.0, 18);
}

#[test]
fn consumer_and_transaction_admin() {
    for v in versions(ApiKey::DescribeProducers) {
        let r = DescribeProducersRequest::default().with_topics(vec![
            describe_producers_request::TopicRequest::default()
                .with_name(tn("orders.created"))
                .with_partition_indexes(vec![0, 2]),
        ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::DescribeProducers, v, &body).checks,
            vec![t("orders.created", Read)]
        );
        let resp: DescribeProducersResponse = deny(ApiKey::DescribeProducers, v, &body);
        let got: Vec<(i32, i16)> = resp.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.error_code))
            .collect();
        assert_eq!(got, vec![(0, 29), (2, 29)]);
    }
    for v in versions(ApiKey::DescribeTransactions) {
        let r = DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![xid("tx-a"), xid("tx-b")]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::DescribeTransactions, v, &body).checks,
            vec![x("tx-a", Describe), x("tx-b", Describe)]
        );
        let resp: DescribeTransactionsResponse = deny(ApiKey::DescribeTransactions, v, &body);
        let got: Vec<(TransactionalId, i16)> = resp
            .transaction_states
            .iter()
            .map(|s| (s.transactional_id.clone(), s.error_code))
            .collect();
        assert_eq!(got, vec![(xid("tx-a"), 53), (xid("tx-b"), 53)]);
    }
    for v in versions(ApiKey::ListTransactions) {
        let body = enc(&ListTransactionsRequest::default(), v);
        let rc = checks(ApiKey::ListTransactions, v, &body);
        assert!(rc.checks.is_empty() && rc.filters_response);
    }
    for v in versions(ApiKey::ConsumerGroupHeartbeat) {
        let r = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(gid("analytics"))
            .with_subscribed_topic_names(Some(vec![tn("orders.created"), tn("payments")]));
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::ConsumerGroupHeartbeat, v, &body).checks,
            vec![
                g("analytics", Read),
                t("orders.created", Describe),
                t("payments", Describe)
            ]
        );
        let resp: ConsumerGroupHeartbeatResponse = deny(ApiKey::ConsumerGroupHeartbeat, v, &body);
        assert_eq!(resp.error_code, 30);
        let frame = deny_response_for(68, v, 1, &body, ResourceType::Topic).unwrap();
        let resp =
            ConsumerGroupHeartbeatResponse::decode(&mut Bytes::from(frame).slice(4 + 5..), v)
                .unwrap();
        assert_eq!(resp.error_code, 29);
    }
    for v in versions(ApiKey::ConsumerGroupDescribe) {
        let r = ConsumerGroupDescribeRequest::default().with_group_ids(vec![gid("analytics")]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::ConsumerGroupDescribe, v, &body).checks,
            vec![g("analytics", Describe)]
        );
        let resp: ConsumerGroupDescribeResponse = deny(ApiKey::ConsumerGroupDescribe, v, &body);
        assert_eq!(resp.groups[0].group_id, gid("analytics"));
        assert_eq!(resp.groups[0].error_code, 30);
    }
    for v in versions(ApiKey::DescribeTopicPartitions) {
        let r = DescribeTopicPartitionsRequest::default().with_topics(vec![
            describe_topic_partitions_request::TopicRequest::default()
                .with_name(tn("orders.created")),
        ]);
        let body = enc(&r, v);
        let rc = checks(ApiKey::DescribeTopicPartitions, v, &body);
        assert_eq!(rc.checks, vec![t("orders.created", Describe)]);
        assert!(!rc.filters_response);
        let resp: DescribeTopicPartitionsResponse = deny(ApiKey::DescribeTopicPartitions, v, &body);
        assert_eq!(resp.topics[0].name, Some(tn("orders.created")));
        assert_eq!(resp.topics[0].error_code, 29);
    }
}

#[test]
fn share_groups() {
    for v in versions(ApiKey::ShareGroupHeartbeat) {
        let r = ShareGroupHeartbeatRequest::default()
            .with_group_id(gid("share-g"))
            .with_subscribed_topic_names(Some(vec![tn("orders.created")]));
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::ShareGroupHeartbeat, v, &body).checks,
            vec![g("share-g", Read), t("orders.created", Describe)]
        );
        let resp: ShareGroupHeartbeatResponse = deny(ApiKey::ShareGroupHeartbeat, v, &body);
        assert_eq!(resp.error_code, 30);
    }
    for v in versions(ApiKey::ShareGroupDescribe) {
        let body = enc(
            &ShareGroupDescribeRequest::default().with_group_ids(vec![gid("share-g")]),
            v,
        );
        assert_eq!(
            checks(ApiKey::ShareGroupDescribe, v, &body).checks,
            vec![g("share-g", Describe)]
        );
        let resp: ShareGroupDescribeResponse = deny(ApiKey::ShareGroupDescribe, v, &body);
        assert_eq!(resp.groups[0].error_code, 30);
    }
    for v in versions(ApiKey::ShareFetch) {
        let r = ShareFetchRequest::default()
            .with_group_id(Some(gid("share-g")))
            .with_topics(vec![
                share_fetch_request::FetchTopic::default().with_topic_id(uuid(ID_A))
            ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::ShareFetch, v, &body).checks,
            vec![g("share-g", Read), ti(ID_A, Read)]
        );
        let resp: ShareFetchResponse = deny(ApiKey::ShareFetch, v, &body);
        assert_eq!(resp.error_code, 30);
    }
    for v in versions(ApiKey::ShareAcknowledge) {
        let r = ShareAcknowledgeRequest::default()
            .with_group_id(Some(gid("share-g")))
            .with_topics(vec![
                share_acknowledge_request::AcknowledgeTopic::default().with_topic_id(uuid(ID_B))
            ]);
        let body = enc(&r, v);
        assert_eq!(
            checks(ApiKey::ShareAcknowledge, v, &body).checks,
            vec![g("share-g", Read), ti(ID_B, Read)]
        );
        let resp: ShareAcknowledgeResponse = deny(ApiKey::ShareAcknowledge, v, &body);
        assert_eq!(resp.error_code, 30);
    }
    let r = DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestGroup::default()
            .with_group_id(gid("share-g"))
            .with_topics(Some(vec![describe_share_group_offsets_request::DescribeShareGroupOffsetsRequestTopic::default()
                .with_topic_name(tn("orders.created"))])),
    ]);
    let body = enc(&r, 0);
    assert_eq!(
        checks(ApiKey::DescribeShareGroupOffsets, 0, &body).checks,
        vec![g("share-g", Describe), t("orders.created", Describe)]
    );
    let resp: DescribeShareGroupOffsetsResponse = deny(ApiKey::DescribeShareGroupOffsets, 0, &body);
    assert_eq!(resp.groups[0].error_code, 30);
    let r = AlterShareGroupOffsetsRequest::default()
        .with_group_id(gid("share-g"))
        .with_topics(vec![
            alter_share_group_offsets_request::AlterShareGroupOffsetsRequestTopic::default()
                .with_topic_name(tn("orders.created")),
        ]);
    let body = enc(&r, 0);
    assert_eq!(
        checks(ApiKey::AlterShareGroupOffsets, 0, &body).checks,
        vec![g("share-g", Read), t("orders.created", Read)]
    );
    let resp: AlterShareGroupOffsetsResponse = deny(ApiKey::AlterShareGroupOffsets, 0, &body);
    assert_eq!(resp.error_code, 30);
    let r = DeleteShareGroupOffsetsRequest::default()
        .with_group_id(gid("share-g"))
        .with_topics(vec![
            delete_share_group_offsets_request::DeleteShareGroupOffsetsRequestTopic::default()
                .with_topic_name(tn("orders.created")),
        ]);
    let body = enc(&r, 0);
    assert_eq!(
        checks(ApiKey::DeleteShareGroupOffsets, 0, &body).checks,
        vec![g("share-g", Delete), t("orders.created", Read)]
    );
    let resp: DeleteShareGroupOffsetsResponse = deny(ApiKey::DeleteShareGroupOffsets, 0, &body);
    assert_eq!(resp.error_code, 30);
}
