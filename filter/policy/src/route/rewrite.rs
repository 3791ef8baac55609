//! Rewriting the names in every topic-, group- and transactional-id-bearing request and response.
//!
//! [`rewrite_request`] maps every topic name, group id and transactional id a client sends to the
//! broker's name ([`NameMap::to_broker`]); [`rewrite_response`] maps the names in the broker's
//! answer back ([`NameMap::to_client`]) and drops the entries the client may not see
//! ([`ClientName::Hidden`]) from every array that holds them, so listings (Metadata for all
//! topics, ListGroups, ListTransactions, DescribeTopicPartitions, OffsetFetch of all a group's
//! topics, ListConfigResources, …) show a tenant only its own names.
//!
//! - Each body is read by the message tables (`kafka::decode_request` / `decode_response`, as
//!   strictly as `kafka-protocol` decodes) and changed where it sits (`kafka::Edits`): a mapped
//!   name replaced, a hidden entry cut out and its array's count lowered — and only when
//!   something changes: otherwise the answer is `Ok(None)` and the filter forwards the original
//!   bytes. Every byte not changed (tagged fields, opaque metadata) passes as it came. Apis
//!   without names are not decoded at all.
//! - Topic ids (Produce v13, Fetch v13+, Metadata and DeleteTopics v6 by id, the KIP-848
//!   assignments) are left alone: ids are the same for every tenant, and the filter authorizes
//!   them on the broker's name.
//! - Config resources (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs,
//!   ListConfigResources) are mapped for the `TOPIC` (2) and `GROUP` (32) resource types only;
//!   brokers, broker loggers and client-metrics resources keep their names. A request naming a
//!   resource type Kafka does not define is an error.
//! - FindCoordinator keys are groups (key type 0) or transactional ids (1); share-group keys (2)
//!   are not covered. Its v4+ response does not say which kind its keys are:
//!   [`rewrite_response`] maps each key back as the kind under which the client may see it
//!   (an error only when both kinds name it, differently — overlapping group and
//!   transactional-id prefixes); [`rewrite_find_coordinator_response`] takes the request's key
//!   type and is exact.
//! - DescribeTopicPartitions: a `next_cursor` pointing at a hidden topic is dropped (the listing
//!   ends there, as `kafka::filter_listing_response` does). A listing of *all* topics can then
//!   end before the tenant's topics when a page ends among other tenants' topics; name the
//!   topics, or list them with Metadata.
//!
//! **Not rewritten: the opaque bytes of the classic group protocol.** JoinGroup protocol
//! metadata, SyncGroup assignments and DescribeGroups member metadata/assignments
//! (`ConsumerProtocolSubscription`/`Assignment`, Connect's and Streams' formats) carry topic
//! names the broker never interprets; they are passed through as the clients wrote them. All
//! members of one tenant's group share one view of the names, so they agree with each other;
//! a group shared by clients that see different names is not supported.
//!
//! **Not covered** (`KafkaError::NotCovered`, the filter denies them for routed clients rather
//! than let them reach another tenant's names): the ACL apis (their resource patterns may be
//! prefixes or wildcards), the replica, log-dir, reassignment and election admin apis, the
//! share-group apis, the broker-to-broker and KRaft apis that carry names (WriteTxnMarkers,
//! Vote, Begin/EndQuorumEpoch, DescribeQuorum, FetchSnapshot, Envelope, the share-group state
//! apis), and requests carrying a regular expression over names (ConsumerGroupHeartbeat's
//! `subscribed_topic_regex`, ListTransactions' `transactional_id_pattern`): a pattern cannot be
//! mapped name by name. Apis without names (ApiVersions, SASL, DescribeCluster, quotas, SCRAM
//! credentials, delegation tokens, telemetry, the broker registration apis, …) are `Ok(None)`.

mod request;
mod response;

#[cfg(test)]
mod tests;

use kafka_protocol::messages::ApiKey;

use super::names::{NameKind, NameMap};
use crate::kafka::{api, api_name, decodable_max, KafkaError};

/// Config resource types (`ConfigResource.Type`) whose names are mapped.
const CONFIG_TOPIC: i8 = 2;
const CONFIG_GROUP: i8 = 32;
/// The other config resource types Kafka defines: BROKER_LOGGER, BROKER, CLIENT_METRICS
/// (and UNKNOWN 0 / ANY 1 in filters).
const CONFIG_UNMAPPED: [i8; 3] = [8, 4, 16];

/// FindCoordinator key types.
const COORDINATOR_GROUP: i8 = 0;
const COORDINATOR_TRANSACTION: i8 = 1;
const COORDINATOR_SHARE: i8 = 2;

/// Request body (after the request header) with every topic name, group id and transactional id
/// the client sent mapped by `names.to_broker`. `Ok(None)`: nothing changed (don't re-encode), or
/// the api carries no names. Apis that carry names this module does not rewrite (ACL apis,
/// replica/log-dir/reassignment/election admin apis, broker-to-broker apis, share-group apis,
/// etc.) -> `Err(KafkaError::NotCovered{..})` so the filter denies them for routed clients
/// instead of letting them reach another tenant's names.
pub fn rewrite_request(
    api_key: i16,
    version: i16,
    body: &[u8],
    names: &dyn NameMap,
) -> Result<Option<Vec<u8>>, KafkaError> {
    // ApiVersions at any version (clients send the newest they know): it has no names.
    if api_key == ApiKey::ApiVersions as i16 && version >= 0 {
        return Ok(None);
    }
    let key = checked_api(api_key, version)?;
    request::rewrite(key, version, body, names)
}

/// Whether the response to this request carries names to map back (so the filter holds it).
pub fn response_has_names(api_key: i16, version: i16) -> bool {
    let Ok(key) = checked_api(api_key, version) else {
        return false;
    };
    response::has_names(key, version)
}

/// Response body (after the response header) with names mapped back by `names.to_client`.
/// Entries whose name is [`ClientName::Hidden`] are removed from listings and from any array
/// (Metadata topics, ListGroups groups, DescribeTopicPartitions topics, ListTransactions,
/// OffsetFetch topics, DescribeGroups, …); a hidden name outside an array is an error.
/// `Ok(None)`: nothing changed.
pub fn rewrite_response(
    api_key: i16,
    version: i16,
    body: &[u8],
    names: &dyn NameMap,
) -> Result<Option<Vec<u8>>, KafkaError> {
    let key = checked_api(api_key, version)?;
    response::rewrite(key, version, body, names, None)
}

/// A FindCoordinator response (body after its header) with its v4+ keys mapped back as the kind
/// the request's `key_type` names (0 group, 1 transactional id), for name maps whose group and
/// transactional-id maps differ. Same results as [`rewrite_response`] otherwise.
pub fn rewrite_find_coordinator_response(
    version: i16,
    key_type: i8,
    body: &[u8],
    names: &dyn NameMap,
) -> Result<Option<Vec<u8>>, KafkaError> {
    let key = checked_api(ApiKey::FindCoordinator as i16, version)?;
    let kind = coordinator_kind(key_type)?;
    response::rewrite(key, version, body, names, Some(kind))
}

/// The api for a key and a version `kafka-protocol` decodes (requests and responses alike: a
/// response answers a request of the same version).
fn checked_api(api_key: i16, version: i16) -> Result<ApiKey, KafkaError> {
    let key = api(api_key, version)?;
    let max = decodable_max(key);
    if version > max {
        return Err(KafkaError::UnsupportedVersion {
            api: api_name(key),
            version,
            min: key.valid_versions().min,
            max,
        });
    }
    Ok(key)
}

fn not_covered(key: ApiKey, why: &'static str) -> KafkaError {
    KafkaError::NotCovered {
        api: api_name(key),
        why,
    }
}

/// The kind of name a FindCoordinator key is.
fn coordinator_kind(key_type: i8) -> Result<NameKind, KafkaError> {
    match key_type {
        COORDINATOR_GROUP => Ok(NameKind::Group),
        COORDINATOR_TRANSACTION => Ok(NameKind::TransactionalId),
        COORDINATOR_SHARE => Err(not_covered(
            ApiKey::FindCoordinator,
            "share-group coordinators are not rewritten",
        )),
        other => Err(KafkaError::UnknownCoordinatorType(other)),
    }
}

/// The kind of name a config resource has: `Ok(None)` for resources whose names are not mapped.
/// `strict`: a resource type Kafka does not define is an error (requests); responses leave it.
fn config_kind(
    what: &'static str,
    resource_type: i8,
    strict: bool,
) -> Result<Option<NameKind>, KafkaError> {
    match resource_type {
        CONFIG_TOPIC => Ok(Some(NameKind::Topic)),
        CONFIG_GROUP => Ok(Some(NameKind::Group)),
        t if CONFIG_UNMAPPED.contains(&t) || !strict => Ok(None),
        other => Err(KafkaError::UnknownResourceType {
            what,
            resource_type: other,
        }),
    }
}

/// What this module does with an api.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coverage {
    /// Its requests or responses carry names, and they are rewritten.
    Names,
    /// Neither its requests nor its responses carry names.
    NoNames,
    /// It carries names this module does not rewrite: routed clients may not use it.
    NotCovered(&'static str),
}

fn coverage(key: ApiKey) -> Coverage {
    use ApiKey::*;
    match key {
        Produce
        | Fetch
        | ListOffsets
        | Metadata
        | OffsetCommit
        | OffsetFetch
        | FindCoordinator
        | JoinGroup
        | Heartbeat
        | LeaveGroup
        | SyncGroup
        | DescribeGroups
        | ListGroups
        | CreateTopics
        | DeleteTopics
        | DeleteRecords
        | InitProducerId
        | OffsetForLeaderEpoch
        | AddPartitionsToTxn
        | AddOffsetsToTxn
        | EndTxn
        | TxnOffsetCommit
        | DescribeConfigs
        | AlterConfigs
        | CreatePartitions
        | DeleteGroups
        | IncrementalAlterConfigs
        | OffsetDelete
        | DescribeProducers
        | DescribeTransactions
        | ListTransactions
        | ConsumerGroupHeartbeat
        | ConsumerGroupDescribe
        | ListConfigResources
        | DescribeTopicPartitions => Coverage::Names,
        SaslHandshake
        | ApiVersions
        | SaslAuthenticate
        | CreateDelegationToken
        | RenewDelegationToken
        | ExpireDelegationToken
        | DescribeDelegationToken
        | DescribeClientQuotas
        | AlterClientQuotas
        | DescribeUserScramCredentials
        | AlterUserScramCredentials
        | AlterPartition
        | UpdateFeatures
        | DescribeCluster
        | BrokerRegistration
        | BrokerHeartbeat
        | UnregisterBroker
        | AllocateProducerIds
        | ControllerRegistration
        | GetTelemetrySubscriptions
        | PushTelemetry
        | AssignReplicasToDirs
        | AddRaftVoter
        | RemoveRaftVoter
        | UpdateRaftVoter => Coverage::NoNames,
        DescribeAcls | CreateAcls | DeleteAcls => Coverage::NotCovered(
            "ACL resource patterns may be prefixes or wildcards, which cannot be mapped name by name",
        ),
        AlterReplicaLogDirs
        | DescribeLogDirs
        | ElectLeaders
        | AlterPartitionReassignments
        | ListPartitionReassignments => Coverage::NotCovered(
            "replica, log-dir, reassignment and election admin apis are not rewritten",
        ),
        ShareGroupHeartbeat
        | ShareGroupDescribe
        | ShareFetch
        | ShareAcknowledge
        | DescribeShareGroupOffsets
        | AlterShareGroupOffsets
        | DeleteShareGroupOffsets => {
            Coverage::NotCovered("share-group apis are not rewritten")
        }
        WriteTxnMarkers
        | Vote
        | BeginQuorumEpoch
        | EndQuorumEpoch
        | DescribeQuorum
        | Envelope
        | FetchSnapshot
        | InitializeShareGroupState
        | ReadShareGroupState
        | WriteShareGroupState
        | DeleteShareGroupState
        | ReadShareGroupStateSummary => Coverage::NotCovered(
            "broker-to-broker and KRaft apis carrying names are not rewritten",
        ),
    }
}
