//! Messages with names, at any version: each builder puts the names of an [`N`] wherever its
//! api carries them (arrays get one entry per name; single names take the first), and fixed
//! values everywhere else, so the expected result of a rewrite is the same builder over the
//! mapped names.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

/// The names a message is built with.
#[derive(Debug, Clone)]
pub struct N {
    pub t: Vec<String>,
    pub g: Vec<String>,
    pub x: Vec<String>,
}

impl N {
    pub fn plain() -> N {
        N {
            t: vec!["orders".into(), "payments".into()],
            g: vec!["billing".into(), "audit".into()],
            x: vec!["tx-1".into(), "tx-2".into()],
        }
    }

    pub fn map(&self, f: impl Fn(&str) -> String) -> N {
        let m = |v: &Vec<String>| v.iter().map(|s| f(s)).collect();
        N {
            t: m(&self.t),
            g: m(&self.g),
            x: m(&self.x),
        }
    }

    pub fn t(&self) -> impl Iterator<Item = TopicName> + '_ {
        self.t.iter().map(|s| TopicName(sb(s)))
    }
    pub fn g(&self) -> impl Iterator<Item = GroupId> + '_ {
        self.g.iter().map(|s| GroupId(sb(s)))
    }
    pub fn x(&self) -> impl Iterator<Item = TransactionalId> + '_ {
        self.x.iter().map(|s| TransactionalId(sb(s)))
    }
    pub fn t0(&self) -> TopicName {
        TopicName(sb(&self.t[0]))
    }
    pub fn g0(&self) -> GroupId {
        GroupId(sb(&self.g[0]))
    }
    pub fn x0(&self) -> TransactionalId {
        TransactionalId(sb(&self.x[0]))
    }
}

pub fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

pub fn enc<T: Encodable>(m: &T, v: i16) -> Vec<u8> {
    let mut b = BytesMut::new();
    m.encode(&mut b, v)
        .unwrap_or_else(|e| panic!("encode v{v}: {e:#}"));
    b.to_vec()
}

/// Unknown tagged fields (written only at flexible versions): they must survive a rewrite.
pub fn tags() -> BTreeMap<i32, Bytes> {
    BTreeMap::from([(9_999, Bytes::from_static(b"unknown tag"))])
}

pub const ID: uuid::Uuid = uuid::Uuid::from_bytes([7; 16]);

/// Config resource types.
pub const TOPIC: i8 = 2;
pub const BROKER: i8 = 4;
pub const GROUP: i8 = 32;
pub const CLIENT_METRICS: i8 = 16;

pub type Build = fn(i16, &N) -> Vec<u8>;

/// Request builders: every api whose requests this module rewrites.
pub const REQUESTS: &[(ApiKey, Build)] = &[
    (ApiKey::Produce, produce_req),
    (ApiKey::Fetch, fetch_req),
    (ApiKey::ListOffsets, list_offsets_req),
    (ApiKey::Metadata, metadata_req),
    (ApiKey::OffsetCommit, offset_commit_req),
    (ApiKey::OffsetFetch, offset_fetch_req),
    (ApiKey::FindCoordinator, find_coordinator_req),
    (ApiKey::JoinGroup, join_group_req),
    (ApiKey::Heartbeat, heartbeat_req),
    (ApiKey::LeaveGroup, leave_group_req),
    (ApiKey::SyncGroup, sync_group_req),
    (ApiKey::DescribeGroups, describe_groups_req),
    (ApiKey::ListGroups, list_groups_req),
    (ApiKey::CreateTopics, create_topics_req),
    (ApiKey::DeleteTopics, delete_topics_req),
    (ApiKey::DeleteRecords, delete_records_req),
    (ApiKey::InitProducerId, init_producer_id_req),
    (ApiKey::OffsetForLeaderEpoch, offset_for_leader_epoch_req),
    (ApiKey::AddPartitionsToTxn, add_partitions_to_txn_req),
    (ApiKey::AddOffsetsToTxn, add_offsets_to_txn_req),
    (ApiKey::EndTxn, end_txn_req),
    (ApiKey::TxnOffsetCommit, txn_offset_commit_req),
    (ApiKey::DescribeConfigs, describe_configs_req),
    (ApiKey::AlterConfigs, alter_configs_req),
    (ApiKey::CreatePartitions, create_partitions_req),
    (ApiKey::DeleteGroups, delete_groups_req),
    (
        ApiKey::IncrementalAlterConfigs,
        incremental_alter_configs_req,
    ),
    (ApiKey::OffsetDelete, offset_delete_req),
    (ApiKey::DescribeProducers, describe_producers_req),
    (ApiKey::DescribeTransactions, describe_transactions_req),
    (ApiKey::ListTransactions, list_transactions_req),
    (ApiKey::ConsumerGroupHeartbeat, consumer_group_heartbeat_req),
    (ApiKey::ConsumerGroupDescribe, consumer_group_describe_req),
    (ApiKey::ListConfigResources, list_config_resources_req),
    (
        ApiKey::DescribeTopicPartitions,
        describe_topic_partitions_req,
    ),
];

/// Response builders: every api whose responses carry names.
pub const RESPONSES: &[(ApiKey, Build)] = &[
    (ApiKey::Produce, produce_resp),
    (ApiKey::Fetch, fetch_resp),
    (ApiKey::ListOffsets, list_offsets_resp),
    (ApiKey::Metadata, metadata_resp),
    (ApiKey::OffsetCommit, offset_commit_resp),
    (ApiKey::OffsetFetch, offset_fetch_resp),
    (ApiKey::FindCoordinator, find_coordinator_resp),
    (ApiKey::DescribeGroups, describe_groups_resp),
    (ApiKey::ListGroups, list_groups_resp),
    (ApiKey::DeleteGroups, delete_groups_resp),
    (ApiKey::CreateTopics, create_topics_resp),
    (ApiKey::DeleteTopics, delete_topics_resp),
    (ApiKey::DeleteRecords, delete_records_resp),
    (ApiKey::OffsetForLeaderEpoch, offset_for_leader_epoch_resp),
    (ApiKey::AddPartitionsToTxn, add_partitions_to_txn_resp),
    (ApiKey::TxnOffsetCommit, txn_offset_commit_resp),
    (ApiKey::DescribeConfigs, describe_configs_resp),
    (ApiKey::AlterConfigs, alter_configs_resp),
    (
        ApiKey::IncrementalAlterConfigs,
        incremental_alter_configs_resp,
    ),
    (ApiKey::CreatePartitions, create_partitions_resp),
    (ApiKey::OffsetDelete, offset_delete_resp),
    (ApiKey::DescribeProducers, describe_producers_resp),
    (ApiKey::DescribeTransactions, describe_transactions_resp),
    (ApiKey::ListTransactions, list_transactions_resp),
    (ApiKey::ConsumerGroupDescribe, consumer_group_describe_resp),
    (ApiKey::ListConfigResources, list_config_resources_resp),
    (
        ApiKey::DescribeTopicPartitions,
        describe_topic_partitions_resp,
    ),
];

// ---------------------------------------------------------------------------------------------
// Requests.

fn produce_req(v: i16, n: &N) -> Vec<u8> {
    use produce_request::*;
    let topics = n
        .t()
        .map(|name| {
            let t = TopicProduceData::default()
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(3)
                    .with_records(Some(Bytes::from_static(b"opaque batch")))
                    .with_unknown_tagged_fields(tags())])
                .with_unknown_tagged_fields(tags());
            if v >= 13 {
                t.with_topic_id(ID)
            } else {
                t.with_name(name)
            }
        })
        .collect();
    let r = ProduceRequest::default()
        .with_transactional_id(Some(n.x0()))
        .with_acks(-1)
        .with_timeout_ms(1500)
        .with_topic_data(topics)
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn fetch_req(v: i16, n: &N) -> Vec<u8> {
    use fetch_request::*;
    let topics = n
        .t()
        .map(|name| {
            let t = FetchTopic::default()
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(2)
                    .with_fetch_offset(42)
                    .with_partition_max_bytes(1 << 20)])
                .with_unknown_tagged_fields(tags());
            if v >= 13 {
                t.with_topic_id(ID)
            } else {
                t.with_topic(name)
            }
        })
        .collect();
    let mut r = FetchRequest::default()
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(1 << 24)
        .with_topics(topics)
        .with_unknown_tagged_fields(tags());
    if v >= 7 {
        r = r.with_session_id(0).with_session_epoch(-1);
        r.forgotten_topics_data = n
            .t()
            .map(|name| {
                let f = ForgottenTopic::default().with_partitions(vec![5]);
                if v >= 13 {
                    f.with_topic_id(ID)
                } else {
                    f.with_topic(name)
                }
            })
            .collect();
    }
    enc(&r, v)
}

fn list_offsets_req(v: i16, n: &N) -> Vec<u8> {
    use list_offsets_request::*;
    let r = ListOffsetsRequest::default()
        .with_topics(
            n.t()
                .map(|name| {
                    ListOffsetsTopic::default()
                        .with_name(name)
                        .with_partitions(vec![ListOffsetsPartition::default()
                            .with_partition_index(1)
                            .with_timestamp(-1)])
                        .with_unknown_tagged_fields(tags())
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn metadata_req(v: i16, n: &N) -> Vec<u8> {
    use metadata_request::*;
    let mut topics: Vec<MetadataRequestTopic> = n
        .t()
        .map(|name| {
            MetadataRequestTopic::default()
                .with_name(Some(name))
                .with_unknown_tagged_fields(tags())
        })
        .collect();
    if v >= 12 {
        // A topic asked for by id keeps its id.
        topics.push(
            MetadataRequestTopic::default()
                .with_topic_id(ID)
                .with_name(None),
        );
    }
    let r = MetadataRequest::default()
        .with_topics(Some(topics))
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn offset_commit_req(v: i16, n: &N) -> Vec<u8> {
    use offset_commit_request::*;
    let r = OffsetCommitRequest::default()
        .with_group_id(n.g0())
        .with_generation_id_or_member_epoch(4)
        .with_member_id(sb("member-1"))
        .with_topics(
            n.t()
                .map(|name| {
                    OffsetCommitRequestTopic::default()
                        .with_name(name)
                        .with_partitions(vec![OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(100)
                            .with_committed_metadata(Some(sb("meta")))])
                        .with_unknown_tagged_fields(tags())
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn offset_fetch_req(v: i16, n: &N) -> Vec<u8> {
    use offset_fetch_request::*;
    let r = if v >= 8 {
        OffsetFetchRequest::default().with_groups(
            n.g()
                .map(|g| {
                    OffsetFetchRequestGroup::default()
                        .with_group_id(g)
                        .with_topics(Some(
                            n.t()
                                .map(|name| {
                                    OffsetFetchRequestTopics::default()
                                        .with_name(name)
                                        .with_partition_indexes(vec![0, 1])
                                })
                                .collect(),
                        ))
                        .with_unknown_tagged_fields(tags())
                })
                .collect(),
        )
    } else {
        OffsetFetchRequest::default()
            .with_group_id(n.g0())
            .with_topics(Some(
                n.t()
                    .map(|name| {
                        OffsetFetchRequestTopic::default()
                            .with_name(name)
                            .with_partition_indexes(vec![0, 1])
                    })
                    .collect(),
            ))
    };
    enc(&r.with_unknown_tagged_fields(tags()), v)
}

fn find_coordinator_req(v: i16, n: &N) -> Vec<u8> {
    let r = if v >= 4 {
        FindCoordinatorRequest::default().with_coordinator_keys(n.g().map(|g| g.0).collect())
    } else {
        FindCoordinatorRequest::default().with_key(n.g0().0)
    };
    enc(&r.with_unknown_tagged_fields(tags()), v)
}

fn join_group_req(v: i16, n: &N) -> Vec<u8> {
    use join_group_request::*;
    let r = JoinGroupRequest::default()
        .with_group_id(n.g0())
        .with_session_timeout_ms(10_000)
        .with_member_id(sb("member-1"))
        .with_protocol_type(sb("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(sb("range"))
            // A ConsumerProtocolSubscription naming topics: opaque, passed through.
            .with_metadata(Bytes::from_static(b"\0\x01\0\0\0\x01\0\x06orders"))])
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn heartbeat_req(v: i16, n: &N) -> Vec<u8> {
    let r = HeartbeatRequest::default()
        .with_group_id(n.g0())
        .with_generation_id(3)
        .with_member_id(sb("member-1"))
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn leave_group_req(v: i16, n: &N) -> Vec<u8> {
    use leave_group_request::*;
    let r = LeaveGroupRequest::default().with_group_id(n.g0());
    let r = if v >= 3 {
        r.with_members(vec![
            MemberIdentity::default().with_member_id(sb("member-1"))
        ])
    } else {
        r.with_member_id(sb("member-1"))
    };
    enc(&r.with_unknown_tagged_fields(tags()), v)
}

fn sync_group_req(v: i16, n: &N) -> Vec<u8> {
    use sync_group_request::*;
    let r = SyncGroupRequest::default()
        .with_group_id(n.g0())
        .with_generation_id(3)
        .with_member_id(sb("member-1"))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(sb("member-1"))
            .with_assignment(Bytes::from_static(b"\0\x01\0\0\0\x01\0\x06orders"))])
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn describe_groups_req(v: i16, n: &N) -> Vec<u8> {
    let r = DescribeGroupsRequest::default()
        .with_groups(n.g().collect())
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn list_groups_req(v: i16, _: &N) -> Vec<u8> {
    enc(
        &ListGroupsRequest::default().with_unknown_tagged_fields(tags()),
        v,
    )
}

fn create_topics_req(v: i16, n: &N) -> Vec<u8> {
    use create_topics_request::*;
    let r = CreateTopicsRequest::default()
        .with_topics(
            n.t()
                .map(|name| {
                    CreatableTopic::default()
                        .with_name(name)
                        .with_num_partitions(3)
                        .with_replication_factor(1)
                        .with_configs(vec![CreatableTopicConfig::default()
                            .with_name(sb("retention.ms"))
                            .with_value(Some(sb("1000")))])
                        .with_unknown_tagged_fields(tags())
                })
                .collect(),
        )
        .with_timeout_ms(5000)
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn delete_topics_req(v: i16, n: &N) -> Vec<u8> {
    use delete_topics_request::*;
    let r = if v >= 6 {
        let mut topics: Vec<DeleteTopicState> = n
            .t()
            .map(|name| DeleteTopicState::default().with_name(Some(name)))
            .collect();
        topics.push(DeleteTopicState::default().with_topic_id(ID));
        DeleteTopicsRequest::default().with_topics(topics)
    } else {
        DeleteTopicsRequest::default().with_topic_names(n.t().collect())
    };
    enc(
        &r.with_timeout_ms(5000).with_unknown_tagged_fields(tags()),
        v,
    )
}

fn delete_records_req(v: i16, n: &N) -> Vec<u8> {
    use delete_records_request::*;
    let r = DeleteRecordsRequest::default()
        .with_topics(
            n.t()
                .map(|name| {
                    DeleteRecordsTopic::default()
                        .with_name(name)
                        .with_partitions(vec![DeleteRecordsPartition::default()
                            .with_partition_index(1)
                            .with_offset(77)])
                })
                .collect(),
        )
        .with_timeout_ms(5000)
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn init_producer_id_req(v: i16, n: &N) -> Vec<u8> {
    let r = InitProducerIdRequest::default()
        .with_transactional_id(Some(n.x0()))
        .with_transaction_timeout_ms(60_000)
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn offset_for_leader_epoch_req(v: i16, n: &N) -> Vec<u8> {
    use offset_for_leader_epoch_request::*;
    let r = OffsetForLeaderEpochRequest::default()
        .with_topics(
            n.t()
                .map(|name| {
                    OffsetForLeaderTopic::default()
                        .with_topic(name)
                        .with_partitions(vec![OffsetForLeaderPartition::default()
                            .with_partition(2)
                            .with_leader_epoch(5)])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn add_partitions_to_txn_req(v: i16, n: &N) -> Vec<u8> {
    use add_partitions_to_txn_request::*;
    let topics = || -> Vec<AddPartitionsToTxnTopic> {
        n.t()
            .map(|name| {
                AddPartitionsToTxnTopic::default()
                    .with_name(name)
                    .with_partitions(vec![0, 2])
            })
            .collect()
    };
    let r = if v >= 4 {
        AddPartitionsToTxnRequest::default().with_transactions(
            n.x()
                .map(|x| {
                    AddPartitionsToTxnTransaction::default()
                        .with_transactional_id(x)
                        .with_producer_id(ProducerId(9))
                        .with_topics(topics())
                })
                .collect(),
        )
    } else {
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(n.x0())
            .with_v3_and_below_producer_id(ProducerId(9))
            .with_v3_and_below_topics(topics())
    };
    enc(&r.with_unknown_tagged_fields(tags()), v)
}

fn add_offsets_to_txn_req(v: i16, n: &N) -> Vec<u8> {
    let r = AddOffsetsToTxnRequest::default()
        .with_transactional_id(n.x0())
        .with_producer_id(ProducerId(9))
        .with_group_id(n.g0())
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn end_txn_req(v: i16, n: &N) -> Vec<u8> {
    let r = EndTxnRequest::default()
        .with_transactional_id(n.x0())
        .with_producer_id(ProducerId(9))
        .with_committed(true)
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn txn_offset_commit_req(v: i16, n: &N) -> Vec<u8> {
    use txn_offset_commit_request::*;
    let r = TxnOffsetCommitRequest::default()
        .with_transactional_id(n.x0())
        .with_group_id(n.g0())
        .with_producer_id(ProducerId(9))
        .with_topics(
            n.t()
                .map(|name| {
                    TxnOffsetCommitRequestTopic::default()
                        .with_name(name)
                        .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                            .with_partition_index(1)
                            .with_committed_offset(10)])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

/// Config resources: each topic, each group, and a broker (whose name is never mapped).
fn resources(n: &N) -> Vec<(i8, StrBytes)> {
    let mut r: Vec<(i8, StrBytes)> = n.t().map(|t| (TOPIC, t.0)).collect();
    r.extend(n.g().map(|g| (GROUP, g.0)));
    r.push((BROKER, sb("1")));
    r
}

fn describe_configs_req(v: i16, n: &N) -> Vec<u8> {
    use describe_configs_request::*;
    let r = DescribeConfigsRequest::default()
        .with_resources(
            resources(n)
                .into_iter()
                .map(|(ty, name)| {
                    DescribeConfigsResource::default()
                        .with_resource_type(ty)
                        .with_resource_name(name)
                        .with_configuration_keys(Some(vec![sb("retention.ms")]))
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn alter_configs_req(v: i16, n: &N) -> Vec<u8> {
    use alter_configs_request::*;
    let r = AlterConfigsRequest::default()
        .with_resources(
            resources(n)
                .into_iter()
                .map(|(ty, name)| {
                    AlterConfigsResource::default()
                        .with_resource_type(ty)
                        .with_resource_name(name)
                        .with_configs(vec![AlterableConfig::default()
                            .with_name(sb("retention.ms"))
                            .with_value(Some(sb("1000")))])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn incremental_alter_configs_req(v: i16, n: &N) -> Vec<u8> {
    use incremental_alter_configs_request::*;
    let r = IncrementalAlterConfigsRequest::default()
        .with_resources(
            resources(n)
                .into_iter()
                .map(|(ty, name)| {
                    AlterConfigsResource::default()
                        .with_resource_type(ty)
                        .with_resource_name(name)
                        .with_configs(vec![AlterableConfig::default()
                            .with_name(sb("retention.ms"))
                            .with_config_operation(0)
                            .with_value(Some(sb("1000")))])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn create_partitions_req(v: i16, n: &N) -> Vec<u8> {
    use create_partitions_request::*;
    let r = CreatePartitionsRequest::default()
        .with_topics(
            n.t()
                .map(|name| {
                    CreatePartitionsTopic::default()
                        .with_name(name)
                        .with_count(6)
                })
                .collect(),
        )
        .with_timeout_ms(5000)
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn delete_groups_req(v: i16, n: &N) -> Vec<u8> {
    let r = DeleteGroupsRequest::default()
        .with_groups_names(n.g().collect())
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn offset_delete_req(v: i16, n: &N) -> Vec<u8> {
    use offset_delete_request::*;
    let r = OffsetDeleteRequest::default()
        .with_group_id(n.g0())
        .with_topics(
            n.t()
                .map(|name| {
                    OffsetDeleteRequestTopic::default()
                        .with_name(name)
                        .with_partitions(vec![
                            OffsetDeleteRequestPartition::default().with_partition_index(4)
                        ])
                })
                .collect(),
        );
    enc(&r, v)
}

fn describe_producers_req(v: i16, n: &N) -> Vec<u8> {
    use describe_producers_request::*;
    let r = DescribeProducersRequest::default()
        .with_topics(
            n.t()
                .map(|name| {
                    TopicRequest::default()
                        .with_name(name)
                        .with_partition_indexes(vec![0])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn describe_transactions_req(v: i16, n: &N) -> Vec<u8> {
    let r = DescribeTransactionsRequest::default()
        .with_transactional_ids(n.x().collect())
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn list_transactions_req(v: i16, _: &N) -> Vec<u8> {
    let r = ListTransactionsRequest::default()
        .with_state_filters(vec![sb("Ongoing")])
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn consumer_group_heartbeat_req(v: i16, n: &N) -> Vec<u8> {
    use consumer_group_heartbeat_request::*;
    let r = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(n.g0())
        .with_member_id(sb("member-1"))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(n.t().collect()))
        .with_server_assignor(Some(sb("uniform")))
        .with_topic_partitions(Some(vec![TopicPartitions::default()
            .with_topic_id(ID)
            .with_partitions(vec![0, 1])]))
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn consumer_group_describe_req(v: i16, n: &N) -> Vec<u8> {
    let r = ConsumerGroupDescribeRequest::default()
        .with_group_ids(n.g().collect())
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn list_config_resources_req(v: i16, _: &N) -> Vec<u8> {
    let r = ListConfigResourcesRequest::default().with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn describe_topic_partitions_req(v: i16, n: &N) -> Vec<u8> {
    use describe_topic_partitions_request::*;
    let r = DescribeTopicPartitionsRequest::default()
        .with_topics(
            n.t()
                .map(|name| TopicRequest::default().with_name(name))
                .collect(),
        )
        .with_response_partition_limit(2000)
        .with_cursor(Some(
            Cursor::default()
                .with_topic_name(n.t0())
                .with_partition_index(3),
        ))
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

// ---------------------------------------------------------------------------------------------
// Responses.

fn produce_resp(v: i16, n: &N) -> Vec<u8> {
    use produce_response::*;
    let r = ProduceResponse::default()
        .with_responses(
            n.t()
                .map(|name| {
                    let t = TopicProduceResponse::default()
                        .with_partition_responses(vec![PartitionProduceResponse::default()
                            .with_index(3)
                            .with_base_offset(1000)])
                        .with_unknown_tagged_fields(tags());
                    if v >= 13 {
                        t.with_topic_id(ID)
                    } else {
                        t.with_name(name)
                    }
                })
                .collect(),
        )
        .with_throttle_time_ms(7)
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn fetch_resp(v: i16, n: &N) -> Vec<u8> {
    use fetch_response::*;
    let r = FetchResponse::default()
        .with_responses(
            n.t()
                .map(|name| {
                    let t = FetchableTopicResponse::default()
                        .with_partitions(vec![PartitionData::default()
                            .with_partition_index(2)
                            .with_high_watermark(99)
                            .with_records(Some(Bytes::from_static(b"opaque records")))])
                        .with_unknown_tagged_fields(tags());
                    if v >= 13 {
                        t.with_topic_id(ID)
                    } else {
                        t.with_topic(name)
                    }
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn list_offsets_resp(v: i16, n: &N) -> Vec<u8> {
    use list_offsets_response::*;
    let r = ListOffsetsResponse::default()
        .with_topics(
            n.t()
                .map(|name| {
                    ListOffsetsTopicResponse::default()
                        .with_name(name)
                        .with_partitions(vec![ListOffsetsPartitionResponse::default()
                            .with_partition_index(1)
                            .with_offset(55)])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn metadata_resp(v: i16, n: &N) -> Vec<u8> {
    use metadata_response::*;
    let r = MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(sb("broker-1"))
            .with_port(9092)])
        .with_topics(
            n.t()
                .map(|name| {
                    let t = MetadataResponseTopic::default()
                        .with_name(Some(name))
                        .with_partitions(vec![MetadataResponsePartition::default()
                            .with_partition_index(0)
                            .with_leader_id(BrokerId(1))
                            .with_replica_nodes(vec![BrokerId(1)])])
                        .with_unknown_tagged_fields(tags());
                    if v >= 10 {
                        t.with_topic_id(ID)
                    } else {
                        t
                    }
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn offset_commit_resp(v: i16, n: &N) -> Vec<u8> {
    use offset_commit_response::*;
    let r = OffsetCommitResponse::default()
        .with_topics(
            n.t()
                .map(|name| {
                    OffsetCommitResponseTopic::default()
                        .with_name(name)
                        .with_partitions(vec![
                            OffsetCommitResponsePartition::default().with_partition_index(1)
                        ])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn offset_fetch_resp(v: i16, n: &N) -> Vec<u8> {
    use offset_fetch_response::*;
    let r = if v >= 8 {
        OffsetFetchResponse::default().with_groups(
            n.g()
                .map(|g| {
                    OffsetFetchResponseGroup::default()
                        .with_group_id(g)
                        .with_topics(
                            n.t()
                                .map(|name| {
                                    OffsetFetchResponseTopics::default()
                                        .with_name(name)
                                        .with_partitions(vec![
                                            OffsetFetchResponsePartitions::default()
                                                .with_partition_index(1)
                                                .with_committed_offset(10),
                                        ])
                                })
                                .collect(),
                        )
                        .with_unknown_tagged_fields(tags())
                })
                .collect(),
        )
    } else {
        OffsetFetchResponse::default().with_topics(
            n.t()
                .map(|name| {
                    OffsetFetchResponseTopic::default()
                        .with_name(name)
                        .with_partitions(vec![OffsetFetchResponsePartition::default()
                            .with_partition_index(1)
                            .with_committed_offset(10)])
                })
                .collect(),
        )
    };
    enc(&r.with_unknown_tagged_fields(tags()), v)
}

fn find_coordinator_resp(v: i16, n: &N) -> Vec<u8> {
    use find_coordinator_response::*;
    let r = if v >= 4 {
        FindCoordinatorResponse::default().with_coordinators(
            n.g()
                .map(|g| {
                    Coordinator::default()
                        .with_key(g.0)
                        .with_node_id(BrokerId(1))
                        .with_host(sb("broker-1"))
                        .with_port(9092)
                        .with_unknown_tagged_fields(tags())
                })
                .collect(),
        )
    } else {
        FindCoordinatorResponse::default()
            .with_node_id(BrokerId(1))
            .with_host(sb("broker-1"))
            .with_port(9092)
    };
    enc(&r.with_unknown_tagged_fields(tags()), v)
}

fn describe_groups_resp(v: i16, n: &N) -> Vec<u8> {
    use describe_groups_response::*;
    let r = DescribeGroupsResponse::default()
        .with_groups(
            n.g()
                .map(|g| {
                    DescribedGroup::default()
                        .with_group_id(g)
                        .with_group_state(sb("Stable"))
                        .with_protocol_type(sb("consumer"))
                        .with_protocol_data(sb("range"))
                        .with_members(vec![DescribedGroupMember::default()
                            .with_member_id(sb("member-1"))
                            .with_client_id(sb("client"))
                            .with_client_host(sb("/10.0.0.1"))
                            .with_member_metadata(Bytes::from_static(b"\0\x01opaque"))
                            .with_member_assignment(Bytes::from_static(b"\0\x01opaque"))])
                        .with_unknown_tagged_fields(tags())
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn list_groups_resp(v: i16, n: &N) -> Vec<u8> {
    use list_groups_response::*;
    let r = ListGroupsResponse::default()
        .with_groups(
            n.g()
                .map(|g| {
                    let l = ListedGroup::default()
                        .with_group_id(g)
                        .with_protocol_type(sb("consumer"));
                    let l = if v >= 4 {
                        l.with_group_state(sb("Stable"))
                    } else {
                        l
                    };
                    if v >= 5 {
                        l.with_group_type(sb("classic"))
                    } else {
                        l
                    }
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn delete_groups_resp(v: i16, n: &N) -> Vec<u8> {
    use delete_groups_response::*;
    let r = DeleteGroupsResponse::default()
        .with_results(
            n.g()
                .map(|g| DeletableGroupResult::default().with_group_id(g))
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn create_topics_resp(v: i16, n: &N) -> Vec<u8> {
    use create_topics_response::*;
    let r = CreateTopicsResponse::default()
        .with_topics(
            n.t()
                .map(|name| {
                    let t = CreatableTopicResult::default()
                        .with_name(name)
                        .with_error_code(36);
                    if v >= 7 {
                        t.with_topic_id(ID)
                    } else {
                        t
                    }
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn delete_topics_resp(v: i16, n: &N) -> Vec<u8> {
    use delete_topics_response::*;
    let r = DeleteTopicsResponse::default()
        .with_responses(
            n.t()
                .map(|name| DeletableTopicResult::default().with_name(Some(name)))
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn delete_records_resp(v: i16, n: &N) -> Vec<u8> {
    use delete_records_response::*;
    let r = DeleteRecordsResponse::default()
        .with_topics(
            n.t()
                .map(|name| {
                    DeleteRecordsTopicResult::default()
                        .with_name(name)
                        .with_partitions(vec![DeleteRecordsPartitionResult::default()
                            .with_partition_index(1)
                            .with_low_watermark(77)])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn offset_for_leader_epoch_resp(v: i16, n: &N) -> Vec<u8> {
    use offset_for_leader_epoch_response::*;
    let r = OffsetForLeaderEpochResponse::default()
        .with_topics(
            n.t()
                .map(|name| {
                    OffsetForLeaderTopicResult::default()
                        .with_topic(name)
                        .with_partitions(vec![EpochEndOffset::default()
                            .with_partition(2)
                            .with_end_offset(500)])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn add_partitions_to_txn_resp(v: i16, n: &N) -> Vec<u8> {
    use add_partitions_to_txn_response::*;
    let topics = || -> Vec<AddPartitionsToTxnTopicResult> {
        n.t()
            .map(|name| {
                AddPartitionsToTxnTopicResult::default()
                    .with_name(name)
                    .with_results_by_partition(vec![
                        AddPartitionsToTxnPartitionResult::default().with_partition_index(2)
                    ])
            })
            .collect()
    };
    let r = if v >= 4 {
        AddPartitionsToTxnResponse::default().with_results_by_transaction(
            n.x()
                .map(|x| {
                    AddPartitionsToTxnResult::default()
                        .with_transactional_id(x)
                        .with_topic_results(topics())
                })
                .collect(),
        )
    } else {
        AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics())
    };
    enc(&r.with_unknown_tagged_fields(tags()), v)
}

fn txn_offset_commit_resp(v: i16, n: &N) -> Vec<u8> {
    use txn_offset_commit_response::*;
    let r = TxnOffsetCommitResponse::default()
        .with_topics(
            n.t()
                .map(|name| {
                    TxnOffsetCommitResponseTopic::default()
                        .with_name(name)
                        .with_partitions(vec![
                            TxnOffsetCommitResponsePartition::default().with_partition_index(1)
                        ])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn describe_configs_resp(v: i16, n: &N) -> Vec<u8> {
    use describe_configs_response::*;
    let r = DescribeConfigsResponse::default()
        .with_results(
            resources(n)
                .into_iter()
                .map(|(ty, name)| {
                    DescribeConfigsResult::default()
                        .with_resource_type(ty)
                        .with_resource_name(name)
                        .with_configs(vec![DescribeConfigsResourceResult::default()
                            .with_name(sb("retention.ms"))
                            .with_value(Some(sb("1000")))])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn alter_configs_resp(v: i16, n: &N) -> Vec<u8> {
    use alter_configs_response::*;
    let r = AlterConfigsResponse::default()
        .with_responses(
            resources(n)
                .into_iter()
                .map(|(ty, name)| {
                    AlterConfigsResourceResponse::default()
                        .with_resource_type(ty)
                        .with_resource_name(name)
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn incremental_alter_configs_resp(v: i16, n: &N) -> Vec<u8> {
    use incremental_alter_configs_response::*;
    let r = IncrementalAlterConfigsResponse::default()
        .with_responses(
            resources(n)
                .into_iter()
                .map(|(ty, name)| {
                    AlterConfigsResourceResponse::default()
                        .with_resource_type(ty)
                        .with_resource_name(name)
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn create_partitions_resp(v: i16, n: &N) -> Vec<u8> {
    use create_partitions_response::*;
    let r = CreatePartitionsResponse::default()
        .with_results(
            n.t()
                .map(|name| CreatePartitionsTopicResult::default().with_name(name))
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn offset_delete_resp(v: i16, n: &N) -> Vec<u8> {
    use offset_delete_response::*;
    let r = OffsetDeleteResponse::default().with_topics(
        n.t()
            .map(|name| {
                OffsetDeleteResponseTopic::default()
                    .with_name(name)
                    .with_partitions(vec![
                        OffsetDeleteResponsePartition::default().with_partition_index(4)
                    ])
            })
            .collect(),
    );
    enc(&r, v)
}

fn describe_producers_resp(v: i16, n: &N) -> Vec<u8> {
    use describe_producers_response::*;
    let r = DescribeProducersResponse::default()
        .with_topics(
            n.t()
                .map(|name| {
                    TopicResponse::default()
                        .with_name(name)
                        .with_partitions(vec![PartitionResponse::default()
                            .with_partition_index(0)
                            .with_active_producers(vec![ProducerState::default()
                                .with_producer_id(ProducerId(9))
                                .with_last_sequence(3)])])
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn describe_transactions_resp(v: i16, n: &N) -> Vec<u8> {
    use describe_transactions_response::*;
    let r = DescribeTransactionsResponse::default()
        .with_transaction_states(
            n.x()
                .map(|x| {
                    TransactionState::default()
                        .with_transactional_id(x)
                        .with_transaction_state(sb("Ongoing"))
                        .with_producer_id(ProducerId(9))
                        .with_topics(
                            n.t()
                                .map(|name| {
                                    TopicData::default()
                                        .with_topic(name)
                                        .with_partitions(vec![1])
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn list_transactions_resp(v: i16, n: &N) -> Vec<u8> {
    use list_transactions_response::*;
    let r = ListTransactionsResponse::default()
        .with_transaction_states(
            n.x()
                .map(|x| {
                    TransactionState::default()
                        .with_transactional_id(x)
                        .with_producer_id(ProducerId(9))
                        .with_transaction_state(sb("Ongoing"))
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn consumer_group_describe_resp(v: i16, n: &N) -> Vec<u8> {
    use consumer_group_describe_response::*;
    let assignment = || {
        Assignment::default().with_topic_partitions(
            n.t()
                .map(|name| {
                    TopicPartitions::default()
                        .with_topic_id(ID)
                        .with_topic_name(name)
                        .with_partitions(vec![0, 1])
                })
                .collect(),
        )
    };
    let r = ConsumerGroupDescribeResponse::default()
        .with_groups(
            n.g()
                .map(|g| {
                    DescribedGroup::default()
                        .with_group_id(g)
                        .with_group_state(sb("Stable"))
                        .with_assignor_name(sb("uniform"))
                        .with_members(vec![Member::default()
                            .with_member_id(sb("member-1"))
                            .with_client_id(sb("client"))
                            .with_subscribed_topic_names(n.t().collect())
                            .with_assignment(assignment())
                            .with_target_assignment(assignment())])
                        .with_unknown_tagged_fields(tags())
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn list_config_resources_resp(v: i16, n: &N) -> Vec<u8> {
    use list_config_resources_response::*;
    let mut resources = vec![ConfigResource::default()
        .with_resource_name(sb("metrics-1"))
        .with_resource_type(CLIENT_METRICS)];
    if v >= 1 {
        resources.extend(n.t().map(|t| {
            ConfigResource::default()
                .with_resource_name(t.0)
                .with_resource_type(TOPIC)
        }));
        resources.extend(n.g().map(|g| {
            ConfigResource::default()
                .with_resource_name(g.0)
                .with_resource_type(GROUP)
        }));
    }
    let r = ListConfigResourcesResponse::default()
        .with_config_resources(resources)
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}

fn describe_topic_partitions_resp(v: i16, n: &N) -> Vec<u8> {
    use describe_topic_partitions_response::*;
    let r = DescribeTopicPartitionsResponse::default()
        .with_topics(
            n.t()
                .map(|name| {
                    DescribeTopicPartitionsResponseTopic::default()
                        .with_name(Some(name))
                        .with_topic_id(ID)
                        .with_partitions(vec![DescribeTopicPartitionsResponsePartition::default()
                            .with_partition_index(0)
                            .with_leader_id(BrokerId(1))])
                })
                .collect(),
        )
        .with_next_cursor(Some(
            Cursor::default()
                .with_topic_name(n.t0())
                .with_partition_index(1),
        ))
        .with_unknown_tagged_fields(tags());
    enc(&r, v)
}
