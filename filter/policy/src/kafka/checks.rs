//! The checks table: for every api key `kafka-protocol` knows, the (resource, operation) checks
//! Kafka's broker makes before it processes a request (`KafkaApis`, `ControllerApis`). The same
//! table, in words, is `filter/policy/KAFKA_CHECKS.md`.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::fetch_walk::fetch_checks;
use super::{api, api_name, decode, guard_request, id_bytes, Check, KafkaError, RequestChecks};
use crate::authz::{Operation, ResourceType};

use Operation::{
    Alter, AlterConfigs, ClusterAction, Create, Delete, Describe, DescribeConfigs, IdempotentWrite,
    Read, Write,
};
use ResourceType::{Group, Topic, TransactionalId};

/// The highest version of each api whose *request* `kafka-protocol` 0.18 decodes. Its `ApiKey`
/// table claims one more version for three apis than their message types decode.
pub(crate) fn decodable_max(key: ApiKey) -> i16 {
    match key {
        ApiKey::OffsetCommit | ApiKey::OffsetFetch => 9,
        ApiKey::InitProducerId => 5,
        _ => key.valid_versions().max,
    }
}

/// Config resource types (`ConfigResource.Type`).
const CONFIG_TOPIC: i8 = 2;
const CONFIG_BROKER: i8 = 4;
const CONFIG_BROKER_LOGGER: i8 = 8;
const CONFIG_CLIENT_METRICS: i8 = 16;
const CONFIG_GROUP: i8 = 32;

/// FindCoordinator key types.
pub(crate) const COORDINATOR_GROUP: i8 = 0;
pub(crate) const COORDINATOR_TRANSACTION: i8 = 1;
pub(crate) const COORDINATOR_SHARE: i8 = 2;

fn s(name: &StrBytes) -> String {
    name.as_str().to_owned()
}

fn topic(name: &StrBytes, op: Operation) -> Check {
    Check::named(Topic, s(name), op)
}

fn group(name: &StrBytes, op: Operation) -> Check {
    Check::named(Group, s(name), op)
}

fn txn(name: &StrBytes, op: Operation) -> Check {
    Check::named(TransactionalId, s(name), op)
}

/// A topic named by name before `id_from`, by id from that version on.
fn topic_ref(version: i16, id_from: i16, name: &StrBytes, id: &uuid::Uuid, op: Operation) -> Check {
    if version >= id_from {
        Check::topic_id(id_bytes(id), op)
    } else {
        topic(name, op)
    }
}

/// What the broker checks for a config resource.
fn config_check(
    what: &'static str,
    resource_type: i8,
    name: &StrBytes,
    op: Operation,
) -> Result<Check, KafkaError> {
    match resource_type {
        CONFIG_TOPIC => Ok(topic(name, op)),
        CONFIG_GROUP => Ok(group(name, op)),
        CONFIG_BROKER | CONFIG_BROKER_LOGGER | CONFIG_CLIENT_METRICS => Ok(Check::cluster(op)),
        other => Err(KafkaError::UnknownResourceType {
            what,
            resource_type: other,
        }),
    }
}

fn not_covered(key: ApiKey, why: &'static str) -> KafkaError {
    KafkaError::NotCovered {
        api: api_name(key),
        why,
    }
}

/// What a request needs: the checks Kafka's broker makes for it. `body` is the request after its
/// header. An api this table does not cover is an error (deny it), never an empty allow.
pub fn request_checks(
    api_key: i16,
    version: i16,
    body: &[u8],
) -> Result<RequestChecks, KafkaError> {
    // ApiVersions at any version: clients send the newest they know and fall back on the v0
    // error the broker answers with; it needs no authorization, so its body does not matter.
    if api_key == ApiKey::ApiVersions as i16 && version >= 0 {
        return Ok(RequestChecks::default());
    }
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
    if key == ApiKey::Fetch {
        if let Some(rc) = fetch_checks(version, body) {
            return Ok(rc);
        }
    }
    decoded_checks(key, version, body)
}

/// [`request_checks`] by a full (guarded) kafka-protocol decode of the body.
pub(crate) fn decoded_checks(
    key: ApiKey,
    version: i16,
    body: &[u8],
) -> Result<RequestChecks, KafkaError> {
    // One copy of the body; the guard and the decoder share it. The guard reads as strictly as
    // kafka-protocol decodes (kafka/guard/tests.rs): apis whose checks do not depend on the body
    // are not decoded.
    let body = &Bytes::copy_from_slice(body);
    guard_request(key, version, body)?;
    let mut rc = RequestChecks::default();
    let v = version;
    match key {
        ApiKey::Produce => {
            let r: ProduceRequest = decode("ProduceRequest", body, v)?;
            if let Some(id) = &r.transactional_id {
                rc.push(txn(id, Write));
            }
            for t in &r.topic_data {
                rc.push(topic_ref(v, 13, &t.name, &t.topic_id, Write));
            }
            rc.no_response = r.acks == 0;
        }
        ApiKey::Fetch => {
            let r: FetchRequest = decode("FetchRequest", body, v)?;
            let replica = if v >= 15 {
                r.replica_state.replica_id.0
            } else {
                r.replica_id.0
            };
            if replica >= 0 {
                rc.push(Check::cluster(ClusterAction));
            } else {
                rc.fetch_session = v >= 7 && !(r.session_id == 0 && r.session_epoch == -1);
                for t in &r.topics {
                    rc.push(topic_ref(v, 13, &t.topic, &t.topic_id, Read));
                }
            }
        }
        ApiKey::ListOffsets => {
            let r: ListOffsetsRequest = decode("ListOffsetsRequest", body, v)?;
            for t in &r.topics {
                rc.push(topic(&t.name, Describe));
            }
        }
        ApiKey::Metadata => {
            let r: MetadataRequest = decode("MetadataRequest", body, v)?;
            match &r.topics {
                None => rc.all_topics = true,
                Some(topics) if topics.is_empty() && v == 0 => rc.all_topics = true,
                Some(topics) => {
                    for t in topics {
                        let check = match &t.name {
                            Some(name) => topic(name, Describe),
                            None => Check::topic_id(id_bytes(&t.topic_id), Describe),
                        };
                        rc.push(check);
                    }
                    if v < 4 || r.allow_auto_topic_creation {
                        rc.auto_create = topics
                            .iter()
                            .filter_map(|t| t.name.as_ref())
                            .map(|name| topic(name, Create))
                            .collect();
                        rc.auto_create.dedup();
                    }
                }
            }
            rc.filters_response = rc.all_topics;
        }
        ApiKey::OffsetCommit => {
            let r: OffsetCommitRequest = decode("OffsetCommitRequest", body, v)?;
            rc.push(group(&r.group_id, Read));
            for t in &r.topics {
                rc.push(topic_ref(v, 10, &t.name, &t.topic_id, Read));
            }
        }
        ApiKey::OffsetFetch => {
            let r: OffsetFetchRequest = decode("OffsetFetchRequest", body, v)?;
            if v >= 8 {
                for g in &r.groups {
                    rc.push(group(&g.group_id, Describe));
                }
                for g in &r.groups {
                    match &g.topics {
                        None => rc.filters_response = true,
                        Some(topics) => {
                            for t in topics {
                                rc.push(topic_ref(v, 10, &t.name, &t.topic_id, Describe));
                            }
                        }
                    }
                }
            } else {
                rc.push(group(&r.group_id, Describe));
                match &r.topics {
                    None => rc.filters_response = true,
                    Some(topics) => {
                        for t in topics {
                            rc.push(topic(&t.name, Describe));
                        }
                    }
                }
            }
        }
        ApiKey::FindCoordinator => {
            let r: FindCoordinatorRequest = decode("FindCoordinatorRequest", body, v)?;
            let keys: Vec<&StrBytes> = if v >= 4 {
                r.coordinator_keys.iter().collect()
            } else {
                vec![&r.key]
            };
            for k in keys {
                let check = match r.key_type {
                    COORDINATOR_GROUP => group(k, Describe),
                    COORDINATOR_TRANSACTION => txn(k, Describe),
                    COORDINATOR_SHARE => Check::cluster(ClusterAction),
                    other => return Err(KafkaError::UnknownCoordinatorType(other)),
                };
                rc.push(check);
            }
        }
        ApiKey::JoinGroup => {
            let r: JoinGroupRequest = decode("JoinGroupRequest", body, v)?;
            rc.push(group(&r.group_id, Read));
        }
        ApiKey::Heartbeat => {
            let r: HeartbeatRequest = decode("HeartbeatRequest", body, v)?;
            rc.push(group(&r.group_id, Read));
        }
        ApiKey::LeaveGroup => {
            let r: LeaveGroupRequest = decode("LeaveGroupRequest", body, v)?;
            rc.push(group(&r.group_id, Read));
        }
        ApiKey::SyncGroup => {
            let r: SyncGroupRequest = decode("SyncGroupRequest", body, v)?;
            rc.push(group(&r.group_id, Read));
        }
        ApiKey::DescribeGroups => {
            let r: DescribeGroupsRequest = decode("DescribeGroupsRequest", body, v)?;
            for g in &r.groups {
                rc.push(group(g, Describe));
            }
        }
        ApiKey::ListGroups => {
            rc.filters_response = true;
        }
        ApiKey::SaslHandshake => {
        }
        ApiKey::ApiVersions => {
        }
        ApiKey::CreateTopics => {
            let r: CreateTopicsRequest = decode("CreateTopicsRequest", body, v)?;
            for t in &r.topics {
                rc.push(topic(&t.name, Create));
            }
            rc.cluster_alternative = Some(Create);
        }
        ApiKey::DeleteTopics => {
            let r: DeleteTopicsRequest = decode("DeleteTopicsRequest", body, v)?;
            if v >= 6 {
                for t in &r.topics {
                    let check = match &t.name {
                        Some(name) => topic(name, Delete),
                        None => Check::topic_id(id_bytes(&t.topic_id), Delete),
                    };
                    rc.push(check);
                }
            } else {
                for name in &r.topic_names {
                    rc.push(topic(name, Delete));
                }
            }
        }
        ApiKey::DeleteRecords => {
            let r: DeleteRecordsRequest = decode("DeleteRecordsRequest", body, v)?;
            for t in &r.topics {
                rc.push(topic(&t.name, Delete));
            }
        }
        ApiKey::InitProducerId => {
            let r: InitProducerIdRequest = decode("InitProducerIdRequest", body, v)?;
            match &r.transactional_id {
                Some(id) => rc.push(txn(id, Write)),
                None => {
                    rc.push(Check::cluster(IdempotentWrite));
                    rc.any_topic_write_alternative = true;
                }
            }
        }
        ApiKey::OffsetForLeaderEpoch => {
            let r: OffsetForLeaderEpochRequest = decode("OffsetForLeaderEpochRequest", body, v)?;
            for t in &r.topics {
                rc.push(topic(&t.topic, Describe));
            }
            rc.cluster_alternative = Some(ClusterAction);
        }
        ApiKey::AddPartitionsToTxn => {
            let r: AddPartitionsToTxnRequest = decode("AddPartitionsToTxnRequest", body, v)?;
            if v >= 4 {
                rc.push(Check::cluster(ClusterAction));
                for t in &r.transactions {
                    rc.push(txn(&t.transactional_id, Write));
                }
                for t in &r.transactions {
                    for tp in &t.topics {
                        rc.push(topic(&tp.name, Write));
                    }
                }
            } else {
                rc.push(txn(&r.v3_and_below_transactional_id, Write));
                for tp in &r.v3_and_below_topics {
                    rc.push(topic(&tp.name, Write));
                }
            }
        }
        ApiKey::AddOffsetsToTxn => {
            let r: AddOffsetsToTxnRequest = decode("AddOffsetsToTxnRequest", body, v)?;
            rc.push(txn(&r.transactional_id, Write));
            rc.push(group(&r.group_id, Read));
        }
        ApiKey::EndTxn => {
            let r: EndTxnRequest = decode("EndTxnRequest", body, v)?;
            rc.push(txn(&r.transactional_id, Write));
        }
        ApiKey::WriteTxnMarkers => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::TxnOffsetCommit => {
            let r: TxnOffsetCommitRequest = decode("TxnOffsetCommitRequest", body, v)?;
            rc.push(txn(&r.transactional_id, Write));
            rc.push(group(&r.group_id, Read));
            for t in &r.topics {
                rc.push(topic(&t.name, Read));
            }
        }
        ApiKey::DescribeAcls => {
            rc.push(Check::cluster(Describe));
        }
        ApiKey::CreateAcls => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::DeleteAcls => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::DescribeConfigs => {
            let r: DescribeConfigsRequest = decode("DescribeConfigsRequest", body, v)?;
            for res in &r.resources {
                rc.push(config_check(
                    "DescribeConfigs",
                    res.resource_type,
                    &res.resource_name,
                    DescribeConfigs,
                )?);
            }
        }
        ApiKey::AlterConfigs => {
            let r: AlterConfigsRequest = decode("AlterConfigsRequest", body, v)?;
            for res in &r.resources {
                rc.push(config_check(
                    "AlterConfigs",
                    res.resource_type,
                    &res.resource_name,
                    AlterConfigs,
                )?);
            }
        }
        ApiKey::IncrementalAlterConfigs => {
            let r: IncrementalAlterConfigsRequest =
                decode("IncrementalAlterConfigsRequest", body, v)?;
            for res in &r.resources {
                rc.push(config_check(
                    "IncrementalAlterConfigs",
                    res.resource_type,
                    &res.resource_name,
                    AlterConfigs,
                )?);
            }
        }
        ApiKey::AlterReplicaLogDirs => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::DescribeLogDirs => {
            rc.push(Check::cluster(Describe));
        }
        ApiKey::SaslAuthenticate => {
        }
        ApiKey::CreatePartitions => {
            let r: CreatePartitionsRequest = decode("CreatePartitionsRequest", body, v)?;
            for t in &r.topics {
                rc.push(topic(&t.name, Alter));
            }
        }
        ApiKey::CreateDelegationToken
        | ApiKey::RenewDelegationToken
        | ApiKey::ExpireDelegationToken
        | ApiKey::DescribeDelegationToken => {
            return Err(not_covered(
                key,
                "Kafka authorizes delegation tokens on User and DelegationToken resources, which the policy does not have",
            ));
        }
        ApiKey::DeleteGroups => {
            let r: DeleteGroupsRequest = decode("DeleteGroupsRequest", body, v)?;
            for g in &r.groups_names {
                rc.push(group(g, Delete));
            }
        }
        ApiKey::ElectLeaders => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::AlterPartitionReassignments => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::ListPartitionReassignments => {
            rc.push(Check::cluster(Describe));
        }
        ApiKey::OffsetDelete => {
            let r: OffsetDeleteRequest = decode("OffsetDeleteRequest", body, v)?;
            rc.push(group(&r.group_id, Delete));
            for t in &r.topics {
                rc.push(topic(&t.name, Read));
            }
        }
        ApiKey::DescribeClientQuotas => {
            rc.push(Check::cluster(DescribeConfigs));
        }
        ApiKey::AlterClientQuotas => {
            rc.push(Check::cluster(AlterConfigs));
        }
        ApiKey::DescribeUserScramCredentials => {
            rc.push(Check::cluster(Describe));
        }
        ApiKey::AlterUserScramCredentials => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::DescribeQuorum => {
            rc.push(Check::cluster(Describe));
        }
        ApiKey::UpdateFeatures => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::DescribeCluster => {
        }
        ApiKey::DescribeProducers => {
            let r: DescribeProducersRequest = decode("DescribeProducersRequest", body, v)?;
            for t in &r.topics {
                rc.push(topic(&t.name, Read));
            }
        }
        ApiKey::UnregisterBroker => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::DescribeTransactions => {
            let r: DescribeTransactionsRequest = decode("DescribeTransactionsRequest", body, v)?;
            for id in &r.transactional_ids {
                rc.push(txn(id, Describe));
            }
        }
        ApiKey::ListTransactions => {
            rc.filters_response = true;
        }
        ApiKey::ConsumerGroupHeartbeat => {
            let r: ConsumerGroupHeartbeatRequest =
                decode("ConsumerGroupHeartbeatRequest", body, v)?;
            rc.push(group(&r.group_id, Read));
            for t in r.subscribed_topic_names.iter().flatten() {
                rc.push(topic(t, Describe));
            }
        }
        ApiKey::ConsumerGroupDescribe => {
            let r: ConsumerGroupDescribeRequest = decode("ConsumerGroupDescribeRequest", body, v)?;
            for g in &r.group_ids {
                rc.push(group(g, Describe));
            }
        }
        ApiKey::GetTelemetrySubscriptions => {
        }
        ApiKey::PushTelemetry => {
        }
        ApiKey::ListConfigResources => {
            rc.push(Check::cluster(DescribeConfigs));
        }
        ApiKey::DescribeTopicPartitions => {
            let r: DescribeTopicPartitionsRequest =
                decode("DescribeTopicPartitionsRequest", body, v)?;
            if r.topics.is_empty() {
                rc.filters_response = true;
            }
            for t in &r.topics {
                rc.push(topic(&t.name, Describe));
            }
        }
        ApiKey::ShareGroupHeartbeat => {
            let r: ShareGroupHeartbeatRequest = decode("ShareGroupHeartbeatRequest", body, v)?;
            rc.push(group(&r.group_id, Read));
            for t in r.subscribed_topic_names.iter().flatten() {
                rc.push(topic(t, Describe));
            }
        }
        ApiKey::ShareGroupDescribe => {
            let r: ShareGroupDescribeRequest = decode("ShareGroupDescribeRequest", body, v)?;
            for g in &r.group_ids {
                rc.push(group(g, Describe));
            }
        }
        ApiKey::ShareFetch => {
            let r: ShareFetchRequest = decode("ShareFetchRequest", body, v)?;
            if let Some(g) = &r.group_id {
                rc.push(group(g, Read));
            }
            for t in &r.topics {
                rc.push(Check::topic_id(id_bytes(&t.topic_id), Read));
            }
        }
        ApiKey::ShareAcknowledge => {
            let r: ShareAcknowledgeRequest = decode("ShareAcknowledgeRequest", body, v)?;
            if let Some(g) = &r.group_id {
                rc.push(group(g, Read));
            }
            for t in &r.topics {
                rc.push(Check::topic_id(id_bytes(&t.topic_id), Read));
            }
        }
        ApiKey::DescribeShareGroupOffsets => {
            let r: DescribeShareGroupOffsetsRequest =
                decode("DescribeShareGroupOffsetsRequest", body, v)?;
            for g in &r.groups {
                rc.push(group(&g.group_id, Describe));
            }
            for g in &r.groups {
                match &g.topics {
                    None => rc.filters_response = true,
                    Some(topics) => {
                        for t in topics {
                            rc.push(topic(&t.topic_name, Describe));
                        }
                    }
                }
            }
        }
        ApiKey::AlterShareGroupOffsets => {
            let r: AlterShareGroupOffsetsRequest =
                decode("AlterShareGroupOffsetsRequest", body, v)?;
            rc.push(group(&r.group_id, Read));
            for t in &r.topics {
                rc.push(topic(&t.topic_name, Read));
            }
        }
        ApiKey::DeleteShareGroupOffsets => {
            let r: DeleteShareGroupOffsetsRequest =
                decode("DeleteShareGroupOffsetsRequest", body, v)?;
            rc.push(group(&r.group_id, Delete));
            for t in &r.topics {
                rc.push(topic(&t.topic_name, Read));
            }
        }
        ApiKey::AddRaftVoter => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::RemoveRaftVoter => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::Vote => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::BeginQuorumEpoch => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::EndQuorumEpoch => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::AlterPartition => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::Envelope => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::FetchSnapshot => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::BrokerRegistration => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::BrokerHeartbeat => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::AllocateProducerIds => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::ControllerRegistration => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::AssignReplicasToDirs => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::UpdateRaftVoter => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::InitializeShareGroupState => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::ReadShareGroupState => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::WriteShareGroupState => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::DeleteShareGroupState => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::ReadShareGroupStateSummary => {
            rc.push(Check::cluster(ClusterAction));
        }
    }
    Ok(rc)
}
