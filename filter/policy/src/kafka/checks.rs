//! The checks table: for every api key `kafka-protocol` knows, the (resource, operation) checks
//! Kafka's broker makes before it processes a request (`KafkaApis`, `ControllerApis`). The same
//! table, in words, is `filter/policy/KAFKA_CHECKS.md`.

use kafka_protocol::messages::ApiKey;

use super::fetch_walk::fetch_checks;
use super::guard::{field::*, Node};
use super::{api, api_name, decode_request, Check, KafkaError, RequestChecks};
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

fn topic(name: &str, op: Operation) -> Check {
    Check::named(Topic, name, op)
}

fn group(name: &str, op: Operation) -> Check {
    Check::named(Group, name, op)
}

fn txn(name: &str, op: Operation) -> Check {
    Check::named(TransactionalId, name, op)
}

/// A topic named by name (its `name_field`) before `id_from`, by id from that version on.
fn topic_ref(version: i16, id_from: i16, t: &Node<'_>, name_field: u16, op: Operation) -> Check {
    if version >= id_from {
        Check::topic_id(t.uuid(TOPIC_ID), op)
    } else {
        topic(t.text(name_field), op)
    }
}

/// Groups described with some of their topics (OffsetFetch v8+, DescribeShareGroupOffsets):
/// every group first, then every topic; a group's null topic list asks for all its topics,
/// and the answer is filtered.
fn groups_topics(rc: &mut RequestChecks, r: &Node<'_>, topic: impl Fn(&Node<'_>) -> Check) {
    for g in r.nodes(GROUPS) {
        rc.push(group(g.text(GROUP_ID), Describe));
    }
    for g in r.nodes(GROUPS) {
        if g.is_null(TOPICS) {
            rc.filters_response = true;
        }
        for t in g.nodes(TOPICS) {
            rc.push(topic(t));
        }
    }
}

/// What the broker checks for a config resource.
fn config_check(
    what: &'static str,
    resource_type: i8,
    name: &str,
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

/// [`request_checks`] from the body decoded by the message tables (`kafka/guard.rs`), which
/// read as strictly as kafka-protocol decodes.
pub(crate) fn decoded_checks(
    key: ApiKey,
    version: i16,
    body: &[u8],
) -> Result<RequestChecks, KafkaError> {
    let r = decode_request(key, version, body)?;
    let mut rc = RequestChecks::default();
    let v = version;
    match key {
        ApiKey::Produce => {
            if let Some(id) = r.str(TRANSACTIONAL_ID) {
                rc.push(txn(id, Write));
            }
            for t in r.nodes(TOPIC_DATA) {
                rc.push(topic_ref(v, 13, t, NAME, Write));
            }
            rc.no_response = r.int(ACKS) == 0;
        }
        ApiKey::Fetch => {
            let replica = if v >= 15 {
                // kafka-protocol's ReplicaState defaults to replica -1 (a consumer).
                r.node(REPLICA_STATE).map_or(-1, |s| s.int(REPLICA_ID))
            } else {
                r.int(REPLICA_ID)
            };
            if replica >= 0 {
                rc.push(Check::cluster(ClusterAction));
            } else {
                rc.fetch_session =
                    v >= 7 && !(r.int(SESSION_ID) == 0 && r.int(SESSION_EPOCH) == -1);
                for t in r.nodes(TOPICS) {
                    rc.push(topic_ref(v, 13, t, TOPIC, Read));
                }
            }
        }
        ApiKey::ListOffsets => {
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(NAME), Describe));
            }
        }
        ApiKey::Metadata => {
            let topics: Vec<_> = r.nodes(TOPICS).collect();
            if r.is_null(TOPICS) || (topics.is_empty() && v == 0) {
                rc.all_topics = true;
            } else {
                for t in &topics {
                    let check = match t.str(NAME) {
                        Some(name) => topic(name, Describe),
                        None => Check::topic_id(t.uuid(TOPIC_ID), Describe),
                    };
                    rc.push(check);
                }
                // Absent before v4: true, as kafka-protocol decodes it (the tables' default).
                if r.boolean(ALLOW_AUTO_TOPIC_CREATION) {
                    rc.auto_create = topics
                        .iter()
                        .filter_map(|t| t.str(NAME))
                        .map(|name| topic(name, Create))
                        .collect();
                    rc.auto_create.dedup();
                }
            }
            rc.filters_response = rc.all_topics;
        }
        ApiKey::OffsetCommit => {
            rc.push(group(r.text(GROUP_ID), Read));
            for t in r.nodes(TOPICS) {
                rc.push(topic_ref(v, 10, t, NAME, Read));
            }
        }
        ApiKey::OffsetFetch => {
            if v >= 8 {
                groups_topics(&mut rc, &r, |t| topic_ref(v, 10, t, NAME, Describe));
            } else {
                rc.push(group(r.text(GROUP_ID), Describe));
                if r.is_null(TOPICS) {
                    rc.filters_response = true;
                }
                for t in r.nodes(TOPICS) {
                    rc.push(topic(t.text(NAME), Describe));
                }
            }
        }
        ApiKey::FindCoordinator => {
            let keys: Vec<&str> = if v >= 4 {
                r.strs(COORDINATOR_KEYS).collect()
            } else {
                vec![r.text(KEY)]
            };
            let key_type = r.i8(KEY_TYPE);
            for k in keys {
                let check = match key_type {
                    COORDINATOR_GROUP => group(k, Describe),
                    COORDINATOR_TRANSACTION => txn(k, Describe),
                    COORDINATOR_SHARE => Check::cluster(ClusterAction),
                    other => return Err(KafkaError::UnknownCoordinatorType(other)),
                };
                rc.push(check);
            }
        }
        ApiKey::JoinGroup | ApiKey::Heartbeat | ApiKey::LeaveGroup | ApiKey::SyncGroup => {
            rc.push(group(r.text(GROUP_ID), Read));
        }
        ApiKey::DescribeGroups => {
            for g in r.strs(GROUPS) {
                rc.push(group(g, Describe));
            }
        }
        ApiKey::ListGroups => {
            rc.filters_response = true;
        }
        ApiKey::SaslHandshake => {}
        ApiKey::ApiVersions => {}
        ApiKey::CreateTopics => {
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(NAME), Create));
            }
            rc.cluster_alternative = Some(Create);
        }
        ApiKey::DeleteTopics => {
            if v >= 6 {
                for t in r.nodes(TOPICS) {
                    let check = match t.str(NAME) {
                        Some(name) => topic(name, Delete),
                        None => Check::topic_id(t.uuid(TOPIC_ID), Delete),
                    };
                    rc.push(check);
                }
            } else {
                for name in r.strs(TOPIC_NAMES) {
                    rc.push(topic(name, Delete));
                }
            }
        }
        ApiKey::DeleteRecords => {
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(NAME), Delete));
            }
        }
        ApiKey::InitProducerId => match r.str(TRANSACTIONAL_ID) {
            Some(id) => rc.push(txn(id, Write)),
            None => {
                rc.push(Check::cluster(IdempotentWrite));
                rc.any_topic_write_alternative = true;
            }
        },
        ApiKey::OffsetForLeaderEpoch => {
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(TOPIC), Describe));
            }
            rc.cluster_alternative = Some(ClusterAction);
        }
        ApiKey::AddPartitionsToTxn => {
            if v >= 4 {
                rc.push(Check::cluster(ClusterAction));
                for t in r.nodes(TRANSACTIONS) {
                    rc.push(txn(t.text(TRANSACTIONAL_ID), Write));
                }
                for t in r.nodes(TRANSACTIONS) {
                    for tp in t.nodes(TOPICS) {
                        rc.push(topic(tp.text(NAME), Write));
                    }
                }
            } else {
                rc.push(txn(r.text(V3_AND_BELOW_TRANSACTIONAL_ID), Write));
                for tp in r.nodes(V3_AND_BELOW_TOPICS) {
                    rc.push(topic(tp.text(NAME), Write));
                }
            }
        }
        ApiKey::AddOffsetsToTxn => {
            rc.push(txn(r.text(TRANSACTIONAL_ID), Write));
            rc.push(group(r.text(GROUP_ID), Read));
        }
        ApiKey::EndTxn => {
            rc.push(txn(r.text(TRANSACTIONAL_ID), Write));
        }
        ApiKey::WriteTxnMarkers => {
            rc.push(Check::cluster(ClusterAction));
        }
        ApiKey::TxnOffsetCommit => {
            rc.push(txn(r.text(TRANSACTIONAL_ID), Write));
            rc.push(group(r.text(GROUP_ID), Read));
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(NAME), Read));
            }
        }
        ApiKey::DescribeAcls => {
            rc.push(Check::cluster(Describe));
        }
        ApiKey::CreateAcls | ApiKey::DeleteAcls => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::DescribeConfigs | ApiKey::AlterConfigs | ApiKey::IncrementalAlterConfigs => {
            let (what, op) = match key {
                ApiKey::DescribeConfigs => ("DescribeConfigs", DescribeConfigs),
                ApiKey::AlterConfigs => ("AlterConfigs", AlterConfigs),
                _ => ("IncrementalAlterConfigs", AlterConfigs),
            };
            for res in r.nodes(RESOURCES) {
                let resource_type = res.i8(RESOURCE_TYPE);
                rc.push(config_check(
                    what,
                    resource_type,
                    res.text(RESOURCE_NAME),
                    op,
                )?);
            }
        }
        ApiKey::AlterReplicaLogDirs => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::DescribeLogDirs => {
            rc.push(Check::cluster(Describe));
        }
        ApiKey::SaslAuthenticate => {}
        ApiKey::CreatePartitions => {
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(NAME), Alter));
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
            for g in r.strs(GROUPS_NAMES) {
                rc.push(group(g, Delete));
            }
        }
        ApiKey::ElectLeaders | ApiKey::AlterPartitionReassignments => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::ListPartitionReassignments => {
            rc.push(Check::cluster(Describe));
        }
        ApiKey::OffsetDelete => {
            rc.push(group(r.text(GROUP_ID), Delete));
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(NAME), Read));
            }
        }
        ApiKey::DescribeClientQuotas => {
            rc.push(Check::cluster(DescribeConfigs));
        }
        ApiKey::AlterClientQuotas => {
            rc.push(Check::cluster(AlterConfigs));
        }
        ApiKey::DescribeUserScramCredentials | ApiKey::DescribeQuorum => {
            rc.push(Check::cluster(Describe));
        }
        ApiKey::AlterUserScramCredentials | ApiKey::UpdateFeatures => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::DescribeCluster => {}
        ApiKey::DescribeProducers => {
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(NAME), Read));
            }
        }
        ApiKey::UnregisterBroker => {
            rc.push(Check::cluster(Alter));
        }
        ApiKey::DescribeTransactions => {
            for id in r.strs(TRANSACTIONAL_IDS) {
                rc.push(txn(id, Describe));
            }
        }
        ApiKey::ListTransactions => {
            rc.filters_response = true;
        }
        ApiKey::ConsumerGroupHeartbeat | ApiKey::ShareGroupHeartbeat => {
            rc.push(group(r.text(GROUP_ID), Read));
            for t in r.strs(SUBSCRIBED_TOPIC_NAMES) {
                rc.push(topic(t, Describe));
            }
        }
        ApiKey::ConsumerGroupDescribe | ApiKey::ShareGroupDescribe => {
            for g in r.strs(GROUP_IDS) {
                rc.push(group(g, Describe));
            }
        }
        ApiKey::GetTelemetrySubscriptions => {}
        ApiKey::PushTelemetry => {}
        ApiKey::ListConfigResources => {
            rc.push(Check::cluster(DescribeConfigs));
        }
        ApiKey::DescribeTopicPartitions => {
            if r.len(TOPICS) == 0 {
                rc.filters_response = true;
            }
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(NAME), Describe));
            }
        }
        ApiKey::ShareFetch | ApiKey::ShareAcknowledge => {
            if let Some(g) = r.str(GROUP_ID) {
                rc.push(group(g, Read));
            }
            for t in r.nodes(TOPICS) {
                rc.push(Check::topic_id(t.uuid(TOPIC_ID), Read));
            }
        }
        ApiKey::DescribeShareGroupOffsets => {
            groups_topics(&mut rc, &r, |t| topic(t.text(TOPIC_NAME), Describe));
        }
        ApiKey::AlterShareGroupOffsets => {
            rc.push(group(r.text(GROUP_ID), Read));
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(TOPIC_NAME), Read));
            }
        }
        ApiKey::DeleteShareGroupOffsets => {
            rc.push(group(r.text(GROUP_ID), Delete));
            for t in r.nodes(TOPICS) {
                rc.push(topic(t.text(TOPIC_NAME), Read));
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
