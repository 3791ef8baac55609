//! The api table: names, decodable versions and header versions per api key.
//!
//! Versions come from `kafka-protocol`, the message definitions the rest of the filter encodes and
//! decodes with, so "decodable" means the same thing everywhere.

use kafka_protocol::messages::ApiKey;

/// A Kafka api the filter knows, with its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Api(ApiKey);

/// `ApiVersions` requests may come at any version: a broker answers versions it does not know
/// with a v0 error response, and clients rely on that to negotiate.
pub const API_VERSIONS: i16 = 18;

impl Api {
    /// The api for a key, or `None` for keys this filter does not decode.
    pub fn from_key(key: i16) -> Option<Api> {
        ApiKey::try_from(key).ok().map(Api)
    }

    pub fn key(self) -> i16 {
        self.0 as i16
    }

    pub fn api_key(self) -> ApiKey {
        self.0
    }

    /// The api's name as Kafka spells it, e.g. `Produce`.
    pub fn name(self) -> &'static str {
        name(self.key()).unwrap_or("Unknown")
    }

    /// The versions of this api the filter decodes.
    pub fn versions(self) -> (i16, i16) {
        let range = self.0.valid_versions();
        (range.min, range.max)
    }

    /// Whether `version` is decodable. `ApiVersions` accepts every non-negative version (see
    /// [`API_VERSIONS`]).
    pub fn supports(self, version: i16) -> bool {
        let (min, max) = self.versions();
        (min..=max).contains(&version) || (self.key() == API_VERSIONS && version >= 0)
    }

    /// The request header version (1 or 2) for `version`.
    pub fn request_header_version(self, version: i16) -> i16 {
        if self.key() == API_VERSIONS {
            return if version >= 3 { 2 } else { 1 };
        }
        self.0.request_header_version(version)
    }

    /// The response header version (0 or 1) for `version`. `ApiVersions` always answers with v0.
    pub fn response_header_version(self, version: i16) -> i16 {
        if self.key() == API_VERSIONS {
            return 0;
        }
        self.0.response_header_version(version)
    }
}

/// Kafka's name for an api key, including keys the filter does not decode.
pub fn name(key: i16) -> Option<&'static str> {
    let index = usize::try_from(key).ok()?;
    NAMES.get(index).copied().flatten()
}

/// Names by api key, from Kafka's message definitions (keys 4-7 are the removed ZooKeeper-era
/// inter-broker apis, 88-89 unassigned).
const NAMES: [Option<&str>; 93] = [
    Some("Produce"),
    Some("Fetch"),
    Some("ListOffsets"),
    Some("Metadata"),
    Some("LeaderAndIsr"),
    Some("StopReplica"),
    Some("UpdateMetadata"),
    Some("ControlledShutdown"),
    Some("OffsetCommit"),
    Some("OffsetFetch"),
    Some("FindCoordinator"),
    Some("JoinGroup"),
    Some("Heartbeat"),
    Some("LeaveGroup"),
    Some("SyncGroup"),
    Some("DescribeGroups"),
    Some("ListGroups"),
    Some("SaslHandshake"),
    Some("ApiVersions"),
    Some("CreateTopics"),
    Some("DeleteTopics"),
    Some("DeleteRecords"),
    Some("InitProducerId"),
    Some("OffsetForLeaderEpoch"),
    Some("AddPartitionsToTxn"),
    Some("AddOffsetsToTxn"),
    Some("EndTxn"),
    Some("WriteTxnMarkers"),
    Some("TxnOffsetCommit"),
    Some("DescribeAcls"),
    Some("CreateAcls"),
    Some("DeleteAcls"),
    Some("DescribeConfigs"),
    Some("AlterConfigs"),
    Some("AlterReplicaLogDirs"),
    Some("DescribeLogDirs"),
    Some("SaslAuthenticate"),
    Some("CreatePartitions"),
    Some("CreateDelegationToken"),
    Some("RenewDelegationToken"),
    Some("ExpireDelegationToken"),
    Some("DescribeDelegationToken"),
    Some("DeleteGroups"),
    Some("ElectLeaders"),
    Some("IncrementalAlterConfigs"),
    Some("AlterPartitionReassignments"),
    Some("ListPartitionReassignments"),
    Some("OffsetDelete"),
    Some("DescribeClientQuotas"),
    Some("AlterClientQuotas"),
    Some("DescribeUserScramCredentials"),
    Some("AlterUserScramCredentials"),
    Some("Vote"),
    Some("BeginQuorumEpoch"),
    Some("EndQuorumEpoch"),
    Some("DescribeQuorum"),
    Some("AlterPartition"),
    Some("UpdateFeatures"),
    Some("Envelope"),
    Some("FetchSnapshot"),
    Some("DescribeCluster"),
    Some("DescribeProducers"),
    Some("BrokerRegistration"),
    Some("BrokerHeartbeat"),
    Some("UnregisterBroker"),
    Some("DescribeTransactions"),
    Some("ListTransactions"),
    Some("AllocateProducerIds"),
    Some("ConsumerGroupHeartbeat"),
    Some("ConsumerGroupDescribe"),
    Some("ControllerRegistration"),
    Some("GetTelemetrySubscriptions"),
    Some("PushTelemetry"),
    Some("AssignReplicasToDirs"),
    Some("ListConfigResources"),
    Some("DescribeTopicPartitions"),
    Some("ShareGroupHeartbeat"),
    Some("ShareGroupDescribe"),
    Some("ShareFetch"),
    Some("ShareAcknowledge"),
    Some("AddRaftVoter"),
    Some("RemoveRaftVoter"),
    Some("UpdateRaftVoter"),
    Some("InitializeShareGroupState"),
    Some("ReadShareGroupState"),
    Some("WriteShareGroupState"),
    Some("DeleteShareGroupState"),
    Some("ReadShareGroupStateSummary"),
    Some("StreamsGroupHeartbeat"),
    Some("StreamsGroupDescribe"),
    Some("DescribeShareGroupOffsets"),
    Some("AlterShareGroupOffsets"),
    Some("DeleteShareGroupOffsets"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_kafka_protocol() {
        for key in ApiKey::iter() {
            let api = Api(key);
            assert_eq!(api.name(), format!("{key:?}"), "api key {}", key as i16);
        }
        assert_eq!(name(88), Some("StreamsGroupHeartbeat"));
        assert_eq!(name(-1), None);
        assert_eq!(name(93), None);
        assert!(Api::from_key(4).is_none());
    }

    #[test]
    fn api_versions_accepts_future_versions() {
        let api = Api::from_key(API_VERSIONS).unwrap();
        assert!(api.supports(99));
        assert_eq!(api.request_header_version(99), 2);
        assert_eq!(api.response_header_version(4), 0);
        assert!(!api.supports(-1));
    }
}
