//! Denials the way a broker answers them: the response of the request's own api key and version,
//! with the authorization error on every resource the response carries.
//!
//! When the request names an outer resource (the group of OffsetCommit, the transactional id of a
//! transactional Produce), the broker checks it first and, when it is denied, answers every inner
//! resource with the outer resource's error; [`deny_response`] does the same, because it answers
//! a request whose every check was denied.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

use crate::authz::ResourceType::{self, Cluster, Group, Topic, TransactionalId};

use super::checks::{decodable_max, COORDINATOR_GROUP, COORDINATOR_TRANSACTION};
use super::guard::{self, field, field::*, Node, Set};
use super::{
    api, api_name, decode_request, encode, error_code, KafkaError, CLUSTER_AUTHORIZATION_FAILED,
    GROUP_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
};

const TOPIC: i16 = TOPIC_AUTHORIZATION_FAILED;
const GROUP: i16 = GROUP_AUTHORIZATION_FAILED;
const CLUSTER: i16 = CLUSTER_AUTHORIZATION_FAILED;
const TXN: i16 = TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
/// `UNKNOWN_TOPIC_ID`.
pub const UNKNOWN_TOPIC_ID: i16 = 100;

/// Kafka's message for an error code, as brokers put it in `error_message` fields.
fn message(code: i16) -> StrBytes {
    StrBytes::from_static_str(message_text(code))
}

fn message_text(code: i16) -> &'static str {
    match code {
        TOPIC => "Topic authorization failed.",
        UNKNOWN_TOPIC_ID => "This server does not host this topic ID.",
        GROUP => "Group authorization failed.",
        TXN => "Transactional Id authorization failed.",
        _ => "Cluster authorization failed.",
    }
}

/// A denial the tables write (`guard::write_response`): the api's response with kafka-protocol's
/// defaults but `set`.
fn written(key: ApiKey, v: i16, set: &[(u16, Set<'_>)]) -> Result<Vec<u8>, KafkaError> {
    guard::write_response(key as i16, v, set).ok_or(KafkaError::Encode {
        what: "response",
        version: v,
        reason: "the tables hold no such response".to_owned(),
    })
}

/// A top-level error code.
fn code(code: i16) -> (u16, Set<'static>) {
    (ERROR_CODE, Set::Int(code.into()))
}

/// A response whose only resource is its top level: `code` and its message.
fn coded(key: ApiKey, v: i16, code: i16) -> Result<Vec<u8>, KafkaError> {
    written(
        key,
        v,
        &[
            super::deny::code(code),
            (ERROR_MESSAGE, Set::Str(Some(message_text(code)))),
        ],
    )
}

/// Sets an optional message only at versions that have the field (`from` on).
fn msg_from(version: i16, from: i16, code: i16) -> Option<StrBytes> {
    (version >= from).then(|| message(code))
}

/// Which resource's check failed, for requests that name resources at several levels (a
/// transactional id, a group, topics): the broker stops at the first failing level and answers
/// every resource below it with that level's error.
#[derive(Debug, Clone, Copy)]
struct Failed {
    level: Option<ResourceType>,
    /// The code topics get: 29, or e.g. 100 (`UNKNOWN_TOPIC_ID`) from `deny_response_with_code`.
    topic_code: i16,
}

impl Failed {
    fn at(level: Option<ResourceType>) -> Failed {
        Failed {
            level,
            topic_code: TOPIC,
        }
    }

    /// The error code for an api whose levels are `levels`, outermost first: the failed level
    /// when it is one of them, else the outermost.
    fn code(self, levels: &[ResourceType]) -> i16 {
        let level = match self.level {
            Some(rt) if levels.contains(&rt) => Some(rt),
            _ => levels.first().copied(),
        };
        match level {
            Some(ResourceType::Topic) => self.topic_code,
            Some(rt) => error_code(rt),
            None => CLUSTER,
        }
    }

    /// The code for topics.
    fn topic(self) -> i16 {
        self.topic_code
    }
}

/// Like [`deny_response`], with `topic_code` on every topic instead of 29
/// (`TOPIC_AUTHORIZATION_FAILED`): e.g. 100 (`UNKNOWN_TOPIC_ID`) for a request naming topic ids
/// the filter could not resolve, as the broker answers ids it does not know. Other resources keep
/// their authorization errors.
pub fn deny_response_with_code(
    api_key: i16,
    version: i16,
    correlation_id: i32,
    request_body: &[u8],
    topic_code: i16,
) -> Result<Vec<u8>, KafkaError> {
    let f = Failed {
        level: Some(Topic),
        topic_code,
    };
    deny(api_key, version, correlation_id, request_body, f)
}

/// Like [`deny_response`], for a request whose checks passed up to the first failing check on a
/// resource of type `failed` (in [`RequestChecks::checks`](super::RequestChecks) order): e.g. a
/// transactional Produce whose transactional id is allowed but whose topic is not answers 29
/// (`TOPIC_AUTHORIZATION_FAILED`) on every partition instead of 53, and an OffsetCommit whose
/// group is allowed answers 29 instead of 30. For apis with one level, `failed` changes nothing.
pub fn deny_response_for(
    api_key: i16,
    version: i16,
    correlation_id: i32,
    request_body: &[u8],
    failed: ResourceType,
) -> Result<Vec<u8>, KafkaError> {
    deny(
        api_key,
        version,
        correlation_id,
        request_body,
        Failed::at(Some(failed)),
    )
}

/// The frame a broker sends when its ACLs deny the whole request: 4-byte length, response header
/// (at the api's response header version; v0 for ApiVersions), body. `request_body` is the
/// request after its header.
pub fn deny_response(
    api_key: i16,
    version: i16,
    correlation_id: i32,
    request_body: &[u8],
) -> Result<Vec<u8>, KafkaError> {
    deny(
        api_key,
        version,
        correlation_id,
        request_body,
        Failed::at(None),
    )
}

fn deny(
    api_key: i16,
    version: i16,
    correlation_id: i32,
    request_body: &[u8],
    f: Failed,
) -> Result<Vec<u8>, KafkaError> {
    let key = api(api_key, version)?;
    if version > decodable_max(key) {
        let range = key.valid_versions();
        return Err(KafkaError::UnsupportedVersion {
            api: api_name(key),
            version,
            min: range.min,
            max: decodable_max(key),
        });
    }
    let body = deny_body(key, version, request_body, f)?;
    frame(key, version, correlation_id, &body)
}

/// The error response body for a request whose checks failed at `failed`.
pub(crate) fn deny_body_for(
    key: ApiKey,
    v: i16,
    body: &[u8],
    failed: ResourceType,
) -> Result<Vec<u8>, KafkaError> {
    deny_body(key, v, body, Failed::at(Some(failed)))
}

/// Length prefix + response header + body.
pub(crate) fn frame(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &[u8],
) -> Result<Vec<u8>, KafkaError> {
    let header_version = if key == ApiKey::ApiVersions {
        0
    } else {
        key.response_header_version(version)
    };
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let mut head = BytesMut::new();
    header
        .encode(&mut head, header_version)
        .map_err(|e| KafkaError::Encode {
            what: "ResponseHeader",
            version: header_version,
            reason: format!("{e:#}"),
        })?;
    let len = head.len().saturating_add(body.len());
    let len32 = i32::try_from(len).map_err(|_| KafkaError::FrameTooLarge(len))?;
    let mut out = Vec::with_capacity(len.saturating_add(4));
    out.put_i32(len32);
    out.extend_from_slice(&head);
    out.extend_from_slice(body);
    Ok(out)
}

fn topic_name(name: &str) -> TopicName {
    TopicName(sb(name))
}

fn sb(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

/// A topic id field of the request, for the response.
fn uuid(t: &Node<'_>) -> uuid::Uuid {
    uuid::Uuid::from_bytes(t.uuid(TOPIC_ID))
}

fn deny_body(key: ApiKey, v: i16, body: &[u8], f: Failed) -> Result<Vec<u8>, KafkaError> {
    // What a denial echoes of the request (names, partitions), read by the message tables.
    let r = &decode_request(key, v, body)?;
    match key {
        ApiKey::Produce => {
            let code = if r.str(TRANSACTIONAL_ID).is_some() {
                f.code(&[TransactionalId, Topic])
            } else {
                f.topic()
            };
            let responses = r
                .nodes(TOPIC_DATA)
                .map(|t| {
                    let partitions = t
                        .nodes(PARTITION_DATA)
                        .map(|p| {
                            produce_response::PartitionProduceResponse::default()
                                .with_index(p.i32(INDEX))
                                .with_error_code(code)
                                .with_base_offset(-1)
                                .with_error_message(msg_from(v, 8, code))
                        })
                        .collect();
                    produce_response::TopicProduceResponse::default()
                        .with_name(topic_name(t.text(NAME)))
                        .with_topic_id(uuid(t))
                        .with_partition_responses(partitions)
                })
                .collect();
            encode(
                "ProduceResponse",
                &ProduceResponse::default().with_responses(responses),
                v,
            )
        }
        ApiKey::Fetch => {
            let responses = r
                .nodes(TOPICS)
                .map(|t| {
                    let partitions = t
                        .nodes(PARTITIONS)
                        .map(|p| {
                            fetch_response::PartitionData::default()
                                .with_partition_index(p.i32(PARTITION))
                                .with_error_code(f.topic())
                                .with_high_watermark(-1)
                                .with_last_stable_offset(-1)
                                .with_log_start_offset(-1)
                                .with_records(Some(Bytes::new()))
                        })
                        .collect();
                    fetch_response::FetchableTopicResponse::default()
                        .with_topic(topic_name(t.text(field::TOPIC)))
                        .with_topic_id(uuid(t))
                        .with_partitions(partitions)
                })
                .collect();
            encode(
                "FetchResponse",
                &FetchResponse::default().with_responses(responses),
                v,
            )
        }
        ApiKey::ListOffsets => {
            let topics = r
                .nodes(TOPICS)
                .map(|t| {
                    let partitions = t
                        .nodes(PARTITIONS)
                        .map(|p| {
                            list_offsets_response::ListOffsetsPartitionResponse::default()
                                .with_partition_index(p.i32(PARTITION_INDEX))
                                .with_error_code(f.topic())
                                .with_timestamp(-1)
                                .with_offset(-1)
                        })
                        .collect();
                    list_offsets_response::ListOffsetsTopicResponse::default()
                        .with_name(topic_name(t.text(NAME)))
                        .with_partitions(partitions)
                })
                .collect();
            encode(
                "ListOffsetsResponse",
                &ListOffsetsResponse::default().with_topics(topics),
                v,
            )
        }
        ApiKey::Metadata => {
            let topics = r
                .nodes(TOPICS)
                .map(|t| {
                    metadata_response::MetadataResponseTopic::default()
                        .with_error_code(f.topic())
                        .with_name(t.str(NAME).map(topic_name))
                        .with_topic_id(uuid(t))
                })
                .collect();
            encode(
                "MetadataResponse",
                &MetadataResponse::default().with_topics(topics),
                v,
            )
        }
        ApiKey::OffsetCommit => {
            let code = f.code(&[Group, Topic]);
            let topics = r
                .nodes(TOPICS)
                .map(|t| {
                    let partitions = t
                        .nodes(PARTITIONS)
                        .map(|p| {
                            offset_commit_response::OffsetCommitResponsePartition::default()
                                .with_partition_index(p.i32(PARTITION_INDEX))
                                .with_error_code(code)
                        })
                        .collect();
                    offset_commit_response::OffsetCommitResponseTopic::default()
                        .with_name(topic_name(t.text(NAME)))
                        .with_topic_id(uuid(t))
                        .with_partitions(partitions)
                })
                .collect();
            encode(
                "OffsetCommitResponse",
                &OffsetCommitResponse::default().with_topics(topics),
                v,
            )
        }
        ApiKey::OffsetFetch => {
            let code = f.code(&[Group, Topic]);
            let response = if v >= 8 {
                let groups = r.nodes(GROUPS)
                    .map(|g| {
                        let group = offset_fetch_response::OffsetFetchResponseGroup::default()
                            .with_group_id(GroupId(sb(g.text(GROUP_ID))));
                        if code == GROUP {
                            return group.with_error_code(GROUP);
                        }
                        let topics = g.nodes(TOPICS)
                            .map(|t| {
                                let partitions = t.i32s(PARTITION_INDEXES)
                                    .map(|p| {
                                        offset_fetch_response::OffsetFetchResponsePartitions::default()
                                            .with_partition_index(p)
                                            .with_committed_offset(-1)
                                            .with_metadata(Some(StrBytes::default()))
                                            .with_error_code(code)
                                    })
                                    .collect();
                                offset_fetch_response::OffsetFetchResponseTopics::default()
                                    .with_name(topic_name(t.text(NAME)))
                                    .with_topic_id(uuid(t))
                                    .with_partitions(partitions)
                            })
                            .collect();
                        group.with_topics(topics)
                    })
                    .collect();
                OffsetFetchResponse::default().with_groups(groups)
            } else {
                let topics = r
                    .nodes(TOPICS)
                    .map(|t| {
                        let partitions = t
                            .i32s(PARTITION_INDEXES)
                            .map(|p| {
                                offset_fetch_response::OffsetFetchResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(-1)
                                    .with_metadata(Some(StrBytes::default()))
                                    .with_error_code(code)
                            })
                            .collect();
                        offset_fetch_response::OffsetFetchResponseTopic::default()
                            .with_name(topic_name(t.text(NAME)))
                            .with_partitions(partitions)
                    })
                    .collect();
                let response = OffsetFetchResponse::default().with_topics(topics);
                if v >= 2 && code == GROUP {
                    response.with_error_code(GROUP)
                } else {
                    response
                }
            };
            encode("OffsetFetchResponse", &response, v)
        }
        ApiKey::FindCoordinator => {
            let code = match r.i8(KEY_TYPE) {
                COORDINATOR_GROUP => GROUP,
                COORDINATOR_TRANSACTION => TXN,
                _ => CLUSTER,
            };
            let response = if v >= 4 {
                let coordinators = r
                    .strs(COORDINATOR_KEYS)
                    .map(|k| {
                        find_coordinator_response::Coordinator::default()
                            .with_key(sb(k))
                            .with_node_id(BrokerId(-1))
                            .with_port(-1)
                            .with_error_code(code)
                            .with_error_message(Some(message(code)))
                    })
                    .collect();
                FindCoordinatorResponse::default().with_coordinators(coordinators)
            } else {
                FindCoordinatorResponse::default()
                    .with_error_code(code)
                    .with_error_message(msg_from(v, 1, code))
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
            };
            encode("FindCoordinatorResponse", &response, v)
        }
        // The protocol name: "" before v7, null from v7 (where it may be).
        ApiKey::JoinGroup => {
            let name = Set::Str((v < 7).then_some(""));
            written(
                key,
                v,
                &[
                    code(GROUP),
                    (GENERATION_ID, Set::Int(-1)),
                    (PROTOCOL_NAME, name),
                ],
            )
        }
        ApiKey::Heartbeat | ApiKey::LeaveGroup | ApiKey::SyncGroup => {
            written(key, v, &[code(GROUP)])
        }
        ApiKey::DescribeGroups => {
            let groups = r
                .strs(GROUPS)
                .map(|g| {
                    describe_groups_response::DescribedGroup::default()
                        .with_group_id(GroupId(sb(g)))
                        .with_error_code(GROUP)
                        .with_error_message(msg_from(v, 6, GROUP))
                })
                .collect();
            encode(
                "DescribeGroupsResponse",
                &DescribeGroupsResponse::default().with_groups(groups),
                v,
            )
        }
        ApiKey::ListGroups => written(key, v, &[]),
        ApiKey::DeleteGroups => {
            let results = r
                .strs(GROUPS_NAMES)
                .map(|g| {
                    delete_groups_response::DeletableGroupResult::default()
                        .with_group_id(GroupId(sb(g)))
                        .with_error_code(GROUP)
                })
                .collect();
            encode(
                "DeleteGroupsResponse",
                &DeleteGroupsResponse::default().with_results(results),
                v,
            )
        }
        ApiKey::CreateTopics => {
            let topics = r
                .nodes(TOPICS)
                .map(|t| {
                    create_topics_response::CreatableTopicResult::default()
                        .with_name(topic_name(t.text(NAME)))
                        .with_error_code(f.topic())
                        .with_error_message(msg_from(v, 1, f.topic()))
                })
                .collect();
            encode(
                "CreateTopicsResponse",
                &CreateTopicsResponse::default().with_topics(topics),
                v,
            )
        }
        ApiKey::DeleteTopics => {
            let responses = if v >= 6 {
                r.nodes(TOPICS)
                    .map(|t| {
                        delete_topics_response::DeletableTopicResult::default()
                            .with_name(t.str(NAME).map(topic_name))
                            .with_topic_id(uuid(t))
                            .with_error_code(f.topic())
                            .with_error_message(Some(message(f.topic())))
                    })
                    .collect()
            } else {
                r.strs(TOPIC_NAMES)
                    .map(|t| {
                        delete_topics_response::DeletableTopicResult::default()
                            .with_name(Some(topic_name(t)))
                            .with_error_code(f.topic())
                            .with_error_message(msg_from(v, 5, f.topic()))
                    })
                    .collect()
            };
            encode(
                "DeleteTopicsResponse",
                &DeleteTopicsResponse::default().with_responses(responses),
                v,
            )
        }
        ApiKey::DeleteRecords => {
            let topics = r
                .nodes(TOPICS)
                .map(|t| {
                    let partitions = t
                        .nodes(PARTITIONS)
                        .map(|p| {
                            delete_records_response::DeleteRecordsPartitionResult::default()
                                .with_partition_index(p.i32(PARTITION_INDEX))
                                .with_low_watermark(-1)
                                .with_error_code(f.topic())
                        })
                        .collect();
                    delete_records_response::DeleteRecordsTopicResult::default()
                        .with_name(topic_name(t.text(NAME)))
                        .with_partitions(partitions)
                })
                .collect();
            encode(
                "DeleteRecordsResponse",
                &DeleteRecordsResponse::default().with_topics(topics),
                v,
            )
        }
        ApiKey::InitProducerId => {
            let code = if r.str(TRANSACTIONAL_ID).is_some() {
                TXN
            } else {
                CLUSTER
            };
            let minus_one = Set::Int(-1);
            written(
                key,
                v,
                &[
                    super::deny::code(code),
                    (PRODUCER_ID, minus_one),
                    (PRODUCER_EPOCH, minus_one),
                ],
            )
        }
        ApiKey::OffsetForLeaderEpoch => {
            let topics = r
                .nodes(TOPICS)
                .map(|t| {
                    let partitions = t
                        .nodes(PARTITIONS)
                        .map(|p| {
                            offset_for_leader_epoch_response::EpochEndOffset::default()
                                .with_partition(p.i32(PARTITION))
                                .with_error_code(f.topic())
                                .with_leader_epoch(-1)
                                .with_end_offset(-1)
                        })
                        .collect();
                    offset_for_leader_epoch_response::OffsetForLeaderTopicResult::default()
                        .with_topic(topic_name(t.text(field::TOPIC)))
                        .with_partitions(partitions)
                })
                .collect();
            encode(
                "OffsetForLeaderEpochResponse",
                &OffsetForLeaderEpochResponse::default().with_topics(topics),
                v,
            )
        }
        ApiKey::AddPartitionsToTxn => {
            let code = f.code(&[Cluster, TransactionalId, Topic]);
            let response = if v >= 4 && code == CLUSTER {
                AddPartitionsToTxnResponse::default().with_error_code(CLUSTER)
            } else if v >= 4 {
                let results = r
                    .nodes(TRANSACTIONS)
                    .map(|x| {
                        add_partitions_to_txn_response::AddPartitionsToTxnResult::default()
                            .with_transactional_id(kafka_protocol::messages::TransactionalId(sb(
                                x.text(TRANSACTIONAL_ID)
                            )))
                            .with_topic_results(txn_topic_results(x, code))
                    })
                    .collect();
                AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
            } else {
                let code = f.code(&[TransactionalId, Topic]);
                AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(
                    txn_topic_results_of(r.nodes(V3_AND_BELOW_TOPICS), code),
                )
            };
            encode("AddPartitionsToTxnResponse", &response, v)
        }
        ApiKey::AddOffsetsToTxn => written(key, v, &[code(f.code(&[TransactionalId, Group]))]),
        ApiKey::EndTxn => written(key, v, &[code(TXN)]),
        ApiKey::WriteTxnMarkers => {
            let markers = r.nodes(MARKERS)
                .map(|m| {
                    let topics = m.nodes(TOPICS)
                        .map(|t| {
                            let partitions = t.i32s(PARTITION_INDEXES)
                                .map(|p| {
                                    write_txn_markers_response::WritableTxnMarkerPartitionResult::default()
                                        .with_partition_index(p)
                                        .with_error_code(CLUSTER)
                                })
                                .collect();
                            write_txn_markers_response::WritableTxnMarkerTopicResult::default()
                                .with_name(topic_name(t.text(NAME)))
                                .with_partitions(partitions)
                        })
                        .collect();
                    write_txn_markers_response::WritableTxnMarkerResult::default()
                        .with_producer_id(ProducerId(m.int(PRODUCER_ID)))
                        .with_topics(topics)
                })
                .collect();
            encode(
                "WriteTxnMarkersResponse",
                &WriteTxnMarkersResponse::default().with_markers(markers),
                v,
            )
        }
        ApiKey::TxnOffsetCommit => {
            let code = f.code(&[TransactionalId, Group, Topic]);
            let topics =
                r.nodes(TOPICS)
                    .map(|t| {
                        let partitions = t.nodes(PARTITIONS)
                        .map(|p| {
                            txn_offset_commit_response::TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.i32(PARTITION_INDEX))
                                .with_error_code(code)
                        })
                        .collect();
                        txn_offset_commit_response::TxnOffsetCommitResponseTopic::default()
                            .with_name(topic_name(t.text(NAME)))
                            .with_partitions(partitions)
                    })
                    .collect();
            encode(
                "TxnOffsetCommitResponse",
                &TxnOffsetCommitResponse::default().with_topics(topics),
                v,
            )
        }
        other => deny_admin(other, v, r, f),
    }
}

/// The error code for a config resource of `resource_type` (see `checks::config_check`).
fn config_code(resource_type: i64) -> i16 {
    match resource_type {
        2 => TOPIC,
        32 => GROUP,
        _ => CLUSTER,
    }
}

/// Denials of the admin apis.
fn deny_admin(key: ApiKey, v: i16, r: &Node<'_>, f: Failed) -> Result<Vec<u8>, KafkaError> {
    match key {
        ApiKey::DescribeAcls => written(key, v, &[code(CLUSTER)]),
        ApiKey::CreateAcls => {
            let results = r
                .nodes(CREATIONS)
                .map(|_| {
                    create_acls_response::AclCreationResult::default()
                        .with_error_code(CLUSTER)
                        .with_error_message(Some(message(CLUSTER)))
                })
                .collect();
            encode(
                "CreateAclsResponse",
                &CreateAclsResponse::default().with_results(results),
                v,
            )
        }
        ApiKey::DeleteAcls => {
            let results = r
                .nodes(FILTERS)
                .map(|_| {
                    delete_acls_response::DeleteAclsFilterResult::default()
                        .with_error_code(CLUSTER)
                        .with_error_message(Some(message(CLUSTER)))
                })
                .collect();
            encode(
                "DeleteAclsResponse",
                &DeleteAclsResponse::default().with_filter_results(results),
                v,
            )
        }
        ApiKey::DescribeConfigs => {
            let results = r
                .nodes(RESOURCES)
                .map(|res| {
                    let code = config_code(res.int(RESOURCE_TYPE));
                    describe_configs_response::DescribeConfigsResult::default()
                        .with_error_code(code)
                        .with_error_message(Some(message(code)))
                        .with_resource_type(res.i8(RESOURCE_TYPE))
                        .with_resource_name(sb(res.text(RESOURCE_NAME)))
                })
                .collect();
            encode(
                "DescribeConfigsResponse",
                &DescribeConfigsResponse::default().with_results(results),
                v,
            )
        }
        ApiKey::AlterConfigs => {
            let responses = r
                .nodes(RESOURCES)
                .map(|res| {
                    let code = config_code(res.int(RESOURCE_TYPE));
                    alter_configs_response::AlterConfigsResourceResponse::default()
                        .with_error_code(code)
                        .with_error_message(Some(message(code)))
                        .with_resource_type(res.i8(RESOURCE_TYPE))
                        .with_resource_name(sb(res.text(RESOURCE_NAME)))
                })
                .collect();
            encode(
                "AlterConfigsResponse",
                &AlterConfigsResponse::default().with_responses(responses),
                v,
            )
        }
        ApiKey::IncrementalAlterConfigs => {
            let responses = r
                .nodes(RESOURCES)
                .map(|res| {
                    let code = config_code(res.int(RESOURCE_TYPE));
                    incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                        .with_error_code(code)
                        .with_error_message(Some(message(code)))
                        .with_resource_type(res.i8(RESOURCE_TYPE))
                        .with_resource_name(sb(res.text(RESOURCE_NAME)))
                })
                .collect();
            encode(
                "IncrementalAlterConfigsResponse",
                &IncrementalAlterConfigsResponse::default().with_responses(responses),
                v,
            )
        }
        ApiKey::AlterReplicaLogDirs => {
            let results = r.nodes(DIRS)
                .flat_map(|d| d.nodes(TOPICS))
                .map(|t| {
                    let partitions = t.i32s(PARTITIONS)
                        .map(|p| {
                            alter_replica_log_dirs_response::AlterReplicaLogDirPartitionResult::default()
                                .with_partition_index(p)
                                .with_error_code(CLUSTER)
                        })
                        .collect();
                    alter_replica_log_dirs_response::AlterReplicaLogDirTopicResult::default()
                        .with_topic_name(topic_name(t.text(NAME)))
                        .with_partitions(partitions)
                })
                .collect();
            encode(
                "AlterReplicaLogDirsResponse",
                &AlterReplicaLogDirsResponse::default().with_results(results),
                v,
            )
        }
        // (The error code is a field from v3 on.)
        ApiKey::DescribeLogDirs => written(key, v, &[code(CLUSTER)]),
        ApiKey::CreatePartitions => {
            let results = r
                .nodes(TOPICS)
                .map(|t| {
                    create_partitions_response::CreatePartitionsTopicResult::default()
                        .with_name(topic_name(t.text(NAME)))
                        .with_error_code(f.topic())
                        .with_error_message(Some(message(f.topic())))
                })
                .collect();
            encode(
                "CreatePartitionsResponse",
                &CreatePartitionsResponse::default().with_results(results),
                v,
            )
        }
        ApiKey::ElectLeaders => {
            if v >= 1 {
                let r = ElectLeadersResponse::default().with_error_code(CLUSTER);
                return encode("ElectLeadersResponse", &r, v);
            }
            let results = r
                .nodes(TOPIC_PARTITIONS)
                .map(|t| {
                    let partitions = t
                        .i32s(PARTITIONS)
                        .map(|p| {
                            elect_leaders_response::PartitionResult::default()
                                .with_partition_id(p)
                                .with_error_code(CLUSTER)
                                .with_error_message(Some(message(CLUSTER)))
                        })
                        .collect();
                    elect_leaders_response::ReplicaElectionResult::default()
                        .with_topic(topic_name(t.text(field::TOPIC)))
                        .with_partition_result(partitions)
                })
                .collect();
            encode(
                "ElectLeadersResponse",
                &ElectLeadersResponse::default().with_replica_election_results(results),
                v,
            )
        }
        ApiKey::AlterPartitionReassignments => written(key, v, &[code(CLUSTER)]),
        ApiKey::ListPartitionReassignments => written(key, v, &[code(CLUSTER)]),
        ApiKey::OffsetDelete => {
            let code = f.code(&[Group, Topic]);
            if code == GROUP {
                let resp = OffsetDeleteResponse::default().with_error_code(GROUP);
                return encode("OffsetDeleteResponse", &resp, v);
            }
            let topics = r
                .nodes(TOPICS)
                .map(|t| {
                    let partitions = t
                        .nodes(PARTITIONS)
                        .map(|p| {
                            offset_delete_response::OffsetDeleteResponsePartition::default()
                                .with_partition_index(p.i32(PARTITION_INDEX))
                                .with_error_code(code)
                        })
                        .collect();
                    offset_delete_response::OffsetDeleteResponseTopic::default()
                        .with_name(topic_name(t.text(NAME)))
                        .with_partitions(partitions)
                })
                .collect();
            encode(
                "OffsetDeleteResponse",
                &OffsetDeleteResponse::default().with_topics(topics),
                v,
            )
        }
        ApiKey::DescribeClientQuotas => written(key, v, &[code(CLUSTER)]),
        ApiKey::AlterClientQuotas => {
            let entries = r
                .nodes(ENTRIES)
                .map(|e| {
                    let entity = e
                        .nodes(ENTITY)
                        .map(|x| {
                            alter_client_quotas_response::EntityData::default()
                                .with_entity_type(sb(x.text(ENTITY_TYPE)))
                                .with_entity_name(x.str(ENTITY_NAME).map(sb))
                        })
                        .collect();
                    alter_client_quotas_response::EntryData::default()
                        .with_error_code(CLUSTER)
                        .with_error_message(Some(message(CLUSTER)))
                        .with_entity(entity)
                })
                .collect();
            encode(
                "AlterClientQuotasResponse",
                &AlterClientQuotasResponse::default().with_entries(entries),
                v,
            )
        }
        ApiKey::DescribeUserScramCredentials => written(key, v, &[code(CLUSTER)]),
        ApiKey::AlterUserScramCredentials => {
            let mut users: Vec<&str> = r
                .nodes(DELETIONS)
                .map(|d| d.text(NAME))
                .chain(r.nodes(UPSERTIONS).map(|u| u.text(NAME)))
                .collect();
            users.sort();
            users.dedup();
            let results = users
                .into_iter()
                .map(|u| {
                    alter_user_scram_credentials_response::AlterUserScramCredentialsResult::default(
                    )
                    .with_user(sb(u))
                    .with_error_code(CLUSTER)
                    .with_error_message(Some(message(CLUSTER)))
                })
                .collect();
            encode(
                "AlterUserScramCredentialsResponse",
                &AlterUserScramCredentialsResponse::default().with_results(results),
                v,
            )
        }
        ApiKey::DescribeQuorum => written(key, v, &[code(CLUSTER)]),
        ApiKey::UpdateFeatures => written(key, v, &[code(CLUSTER)]),
        ApiKey::UnregisterBroker => written(key, v, &[code(CLUSTER)]),
        ApiKey::ListConfigResources => written(key, v, &[code(CLUSTER)]),
        other => deny_newer(other, v, r, f),
    }
}

/// Denials of the newer consumer, transaction-admin and share-group apis.
fn deny_newer(key: ApiKey, v: i16, r: &Node<'_>, f: Failed) -> Result<Vec<u8>, KafkaError> {
    match key {
        ApiKey::DescribeProducers => {
            let topics = r
                .nodes(TOPICS)
                .map(|t| {
                    let partitions = t
                        .i32s(PARTITION_INDEXES)
                        .map(|p| {
                            describe_producers_response::PartitionResponse::default()
                                .with_partition_index(p)
                                .with_error_code(f.topic())
                                .with_error_message(Some(message(f.topic())))
                        })
                        .collect();
                    describe_producers_response::TopicResponse::default()
                        .with_name(topic_name(t.text(NAME)))
                        .with_partitions(partitions)
                })
                .collect();
            encode(
                "DescribeProducersResponse",
                &DescribeProducersResponse::default().with_topics(topics),
                v,
            )
        }
        ApiKey::DescribeTransactions => {
            let states = r
                .strs(TRANSACTIONAL_IDS)
                .map(|id| {
                    describe_transactions_response::TransactionState::default()
                        .with_transactional_id(kafka_protocol::messages::TransactionalId(sb(id)))
                        .with_error_code(TXN)
                        .with_producer_id(ProducerId(-1))
                        .with_producer_epoch(-1)
                })
                .collect();
            encode(
                "DescribeTransactionsResponse",
                &DescribeTransactionsResponse::default().with_transaction_states(states),
                v,
            )
        }
        ApiKey::ListTransactions => written(key, v, &[]),
        ApiKey::ConsumerGroupHeartbeat => coded(key, v, f.code(&[Group, Topic])),
        ApiKey::ConsumerGroupDescribe => {
            let groups = r
                .strs(GROUP_IDS)
                .map(|g| {
                    consumer_group_describe_response::DescribedGroup::default()
                        .with_group_id(GroupId(sb(g)))
                        .with_error_code(GROUP)
                        .with_error_message(Some(message(GROUP)))
                })
                .collect();
            encode(
                "ConsumerGroupDescribeResponse",
                &ConsumerGroupDescribeResponse::default().with_groups(groups),
                v,
            )
        }
        ApiKey::DescribeTopicPartitions => {
            let topics = r.nodes(TOPICS)
                .map(|t| {
                    describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic::default()
                        .with_name(Some(topic_name(t.text(NAME))))
                        .with_error_code(f.topic())
                })
                .collect();
            encode(
                "DescribeTopicPartitionsResponse",
                &DescribeTopicPartitionsResponse::default().with_topics(topics),
                v,
            )
        }
        ApiKey::ShareGroupHeartbeat => coded(key, v, f.code(&[Group, Topic])),
        ApiKey::ShareGroupDescribe => {
            let groups = r
                .strs(GROUP_IDS)
                .map(|g| {
                    share_group_describe_response::DescribedGroup::default()
                        .with_group_id(GroupId(sb(g)))
                        .with_error_code(GROUP)
                        .with_error_message(Some(message(GROUP)))
                })
                .collect();
            encode(
                "ShareGroupDescribeResponse",
                &ShareGroupDescribeResponse::default().with_groups(groups),
                v,
            )
        }
        ApiKey::ShareFetch => coded(key, v, f.code(&[Group, Topic])),
        ApiKey::ShareAcknowledge => coded(key, v, f.code(&[Group, Topic])),
        ApiKey::DescribeShareGroupOffsets => {
            let groups = r.nodes(GROUPS)
                .map(|g| {
                    describe_share_group_offsets_response::DescribeShareGroupOffsetsResponseGroup::default()
                        .with_group_id(GroupId(sb(g.text(GROUP_ID))))
                        .with_error_code(f.code(&[Group, Topic]))
                        .with_error_message(Some(message(f.code(&[Group, Topic]))))
                })
                .collect();
            encode(
                "DescribeShareGroupOffsetsResponse",
                &DescribeShareGroupOffsetsResponse::default().with_groups(groups),
                v,
            )
        }
        ApiKey::AlterShareGroupOffsets => coded(key, v, f.code(&[Group, Topic])),
        ApiKey::DeleteShareGroupOffsets => coded(key, v, f.code(&[Group, Topic])),
        other => Err(KafkaError::NoDenyResponse {
            api: api_name(other),
        }),
    }
}

/// AddPartitionsToTxn results of a transaction: `code` on every partition.
fn txn_topic_results(
    transaction: &Node<'_>,
    code: i16,
) -> Vec<add_partitions_to_txn_response::AddPartitionsToTxnTopicResult> {
    txn_topic_results_of(transaction.nodes(TOPICS), code)
}

fn txn_topic_results_of<'a, 'n: 'a>(
    topics: impl Iterator<Item = &'a Node<'n>>,
    code: i16,
) -> Vec<add_partitions_to_txn_response::AddPartitionsToTxnTopicResult> {
    topics
        .map(|t| {
            let partitions = t
                .i32s(PARTITIONS)
                .map(|p| {
                    add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(p)
                        .with_partition_error_code(code)
                })
                .collect();
            add_partitions_to_txn_response::AddPartitionsToTxnTopicResult::default()
                .with_name(topic_name(t.text(NAME)))
                .with_results_by_partition(partitions)
        })
        .collect()
}
