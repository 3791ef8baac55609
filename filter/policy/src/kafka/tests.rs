//! Tests: every api key at every version `kafka-protocol` decodes; requests populated with real
//! names get the checks Kafka's broker makes, and their denials decode with `kafka-protocol` and
//! carry the authorization error on every resource.

use std::ops::RangeInclusive;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use proptest::prelude::*;

use super::checks::decodable_max;
use super::*;
use crate::authz::Operation::{self, *};
use crate::authz::ResourceType;

pub(super) fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}
pub(super) fn tn(s: &str) -> TopicName {
    TopicName(sb(s))
}
pub(super) fn gid(s: &str) -> GroupId {
    GroupId(sb(s))
}
pub(super) fn xid(s: &str) -> TransactionalId {
    TransactionalId(sb(s))
}
pub(super) const ID_A: [u8; 16] = [0xa; 16];
pub(super) const ID_B: [u8; 16] = [0xb; 16];
pub(super) fn uuid(b: [u8; 16]) -> uuid::Uuid {
    uuid::Uuid::from_bytes(b)
}

pub(super) fn t(name: &str, op: Operation) -> Check {
    Check::named(ResourceType::Topic, name, op)
}
pub(super) fn ti(id: [u8; 16], op: Operation) -> Check {
    Check::topic_id(id, op)
}
pub(super) fn g(name: &str, op: Operation) -> Check {
    Check::named(ResourceType::Group, name, op)
}
pub(super) fn x(name: &str, op: Operation) -> Check {
    Check::named(ResourceType::TransactionalId, name, op)
}
pub(super) fn c(op: Operation) -> Check {
    Check::cluster(op)
}

pub(super) fn enc<T: Encodable>(m: &T, v: i16) -> Vec<u8> {
    let mut b = BytesMut::new();
    m.encode(&mut b, v)
        .unwrap_or_else(|e| panic!("encode v{v}: {e:#}"));
    b.to_vec()
}

pub(super) fn versions(key: ApiKey) -> RangeInclusive<i16> {
    key.valid_versions().min..=decodable_max(key)
}

pub(super) fn correlation(v: i16) -> i32 {
    0x1234_0000 + i32::from(v)
}

/// Calls `deny_response`, checks the frame (length, header at the right version, correlation id)
/// and decodes the body with kafka-protocol at `v`.
pub(super) fn deny<R: Decodable>(key: ApiKey, v: i16, body: &[u8]) -> R {
    let frame = deny_response(key as i16, v, correlation(v), body)
        .unwrap_or_else(|e| panic!("{key:?} v{v}: {e}"));
    let mut buf = Bytes::from(frame);
    let len = buf.get_i32();
    assert_eq!(len as usize, buf.remaining(), "{key:?} v{v}: length prefix");
    let hv = if key == ApiKey::ApiVersions {
        0
    } else {
        key.response_header_version(v)
    };
    let header = ResponseHeader::decode(&mut buf, hv).unwrap();
    assert_eq!(header.correlation_id, correlation(v), "{key:?} v{v}");
    let r = R::decode(&mut buf, v).unwrap_or_else(|e| panic!("{key:?} v{v}: {e:#}"));
    assert!(!buf.has_remaining(), "{key:?} v{v}: bytes left");
    r
}

pub(super) fn checks(key: ApiKey, v: i16, body: &[u8]) -> RequestChecks {
    request_checks(key as i16, v, body).unwrap_or_else(|e| panic!("{key:?} v{v}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Every api key, every version: a default request maps (or is refused by name), and a denial
// decodes as the api's response at that version.

pub(super) trait Visit {
    fn visit<R: Request + Default>(&mut self);
}

pub(super) fn all_apis(v: &mut impl Visit) {
    v.visit::<ProduceRequest>();
    v.visit::<FetchRequest>();
    v.visit::<ListOffsetsRequest>();
    v.visit::<MetadataRequest>();
    v.visit::<OffsetCommitRequest>();
    v.visit::<OffsetFetchRequest>();
    v.visit::<FindCoordinatorRequest>();
    v.visit::<JoinGroupRequest>();
    v.visit::<HeartbeatRequest>();
    v.visit::<LeaveGroupRequest>();
    v.visit::<SyncGroupRequest>();
    v.visit::<DescribeGroupsRequest>();
    v.visit::<ListGroupsRequest>();
    v.visit::<SaslHandshakeRequest>();
    v.visit::<ApiVersionsRequest>();
    v.visit::<CreateTopicsRequest>();
    v.visit::<DeleteTopicsRequest>();
    v.visit::<DeleteRecordsRequest>();
    v.visit::<InitProducerIdRequest>();
    v.visit::<OffsetForLeaderEpochRequest>();
    v.visit::<AddPartitionsToTxnRequest>();
    v.visit::<AddOffsetsToTxnRequest>();
    v.visit::<EndTxnRequest>();
    v.visit::<WriteTxnMarkersRequest>();
    v.visit::<TxnOffsetCommitRequest>();
    v.visit::<DescribeAclsRequest>();
    v.visit::<CreateAclsRequest>();
    v.visit::<DeleteAclsRequest>();
    v.visit::<DescribeConfigsRequest>();
    v.visit::<AlterConfigsRequest>();
    v.visit::<AlterReplicaLogDirsRequest>();
    v.visit::<DescribeLogDirsRequest>();
    v.visit::<SaslAuthenticateRequest>();
    v.visit::<CreatePartitionsRequest>();
    v.visit::<CreateDelegationTokenRequest>();
    v.visit::<RenewDelegationTokenRequest>();
    v.visit::<ExpireDelegationTokenRequest>();
    v.visit::<DescribeDelegationTokenRequest>();
    v.visit::<DeleteGroupsRequest>();
    v.visit::<ElectLeadersRequest>();
    v.visit::<IncrementalAlterConfigsRequest>();
    v.visit::<AlterPartitionReassignmentsRequest>();
    v.visit::<ListPartitionReassignmentsRequest>();
    v.visit::<OffsetDeleteRequest>();
    v.visit::<DescribeClientQuotasRequest>();
    v.visit::<AlterClientQuotasRequest>();
    v.visit::<DescribeUserScramCredentialsRequest>();
    v.visit::<AlterUserScramCredentialsRequest>();
    v.visit::<VoteRequest>();
    v.visit::<BeginQuorumEpochRequest>();
    v.visit::<EndQuorumEpochRequest>();
    v.visit::<DescribeQuorumRequest>();
    v.visit::<AlterPartitionRequest>();
    v.visit::<UpdateFeaturesRequest>();
    v.visit::<EnvelopeRequest>();
    v.visit::<FetchSnapshotRequest>();
    v.visit::<DescribeClusterRequest>();
    v.visit::<DescribeProducersRequest>();
    v.visit::<BrokerRegistrationRequest>();
    v.visit::<BrokerHeartbeatRequest>();
    v.visit::<UnregisterBrokerRequest>();
    v.visit::<DescribeTransactionsRequest>();
    v.visit::<ListTransactionsRequest>();
    v.visit::<AllocateProducerIdsRequest>();
    v.visit::<ConsumerGroupHeartbeatRequest>();
    v.visit::<ConsumerGroupDescribeRequest>();
    v.visit::<ControllerRegistrationRequest>();
    v.visit::<GetTelemetrySubscriptionsRequest>();
    v.visit::<PushTelemetryRequest>();
    v.visit::<AssignReplicasToDirsRequest>();
    v.visit::<ListConfigResourcesRequest>();
    v.visit::<DescribeTopicPartitionsRequest>();
    v.visit::<ShareGroupHeartbeatRequest>();
    v.visit::<ShareGroupDescribeRequest>();
    v.visit::<ShareFetchRequest>();
    v.visit::<ShareAcknowledgeRequest>();
    v.visit::<AddRaftVoterRequest>();
    v.visit::<RemoveRaftVoterRequest>();
    v.visit::<UpdateRaftVoterRequest>();
    v.visit::<InitializeShareGroupStateRequest>();
    v.visit::<ReadShareGroupStateRequest>();
    v.visit::<WriteShareGroupStateRequest>();
    v.visit::<DeleteShareGroupStateRequest>();
    v.visit::<ReadShareGroupStateSummaryRequest>();
    v.visit::<DescribeShareGroupOffsetsRequest>();
    v.visit::<AlterShareGroupOffsetsRequest>();
    v.visit::<DeleteShareGroupOffsetsRequest>();
}

/// Apis whose requests the broker authorizes nothing for up front.
const NO_CHECKS: [ApiKey; 9] = [
    ApiKey::ApiVersions,
    ApiKey::SaslHandshake,
    ApiKey::SaslAuthenticate,
    ApiKey::GetTelemetrySubscriptions,
    ApiKey::PushTelemetry,
    ApiKey::DescribeCluster,
    ApiKey::ListGroups,
    ApiKey::ListTransactions,
    ApiKey::DescribeTopicPartitions,
];

const NOT_COVERED: [ApiKey; 4] = [
    ApiKey::CreateDelegationToken,
    ApiKey::RenewDelegationToken,
    ApiKey::ExpireDelegationToken,
    ApiKey::DescribeDelegationToken,
];

struct EveryVersion {
    keys: Vec<ApiKey>,
    versions: usize,
    denials: usize,
}

impl Visit for EveryVersion {
    fn visit<R: Request + Default>(&mut self) {
        let key = ApiKey::try_from(R::KEY).unwrap();
        self.keys.push(key);
        for v in versions(key) {
            self.versions += 1;
            let body = enc(&R::default(), v);
            match request_checks(R::KEY, v, &body) {
                Ok(rc) => {
                    assert!(!NOT_COVERED.contains(&key), "{key:?}");
                    if NO_CHECKS.contains(&key) {
                        assert!(rc.checks.is_empty(), "{key:?} v{v}: {rc:?}");
                    }
                }
                Err(KafkaError::NotCovered { .. }) => assert!(NOT_COVERED.contains(&key)),
                Err(e) => panic!("{key:?} v{v}: {e}"),
            }
            match deny_response(R::KEY, v, correlation(v), &body) {
                Ok(_) => {
                    let _: R::Response = deny(key, v, &body);
                    self.denials += 1;
                    // The scoped and coded denials decode too.
                    let hv = key.response_header_version(v);
                    let mut frames =
                        vec![deny_response_with_code(R::KEY, v, 1, &body, 100).unwrap()];
                    for rt in [
                        ResourceType::Topic,
                        ResourceType::Group,
                        ResourceType::TransactionalId,
                        ResourceType::Cluster,
                    ] {
                        frames.push(deny_response_for(R::KEY, v, 1, &body, rt).unwrap());
                    }
                    for frame in frames {
                        let mut buf = Bytes::from(frame);
                        buf.advance(4);
                        ResponseHeader::decode(&mut buf, hv).unwrap();
                        R::Response::decode(&mut buf, v)
                            .unwrap_or_else(|e| panic!("{key:?} v{v}: {e:#}"));
                    }
                }
                Err(KafkaError::NoDenyResponse { .. }) => {}
                Err(e) => panic!("{key:?} v{v}: {e}"),
            }
        }
    }
}

#[test]
fn every_api_key_and_version_maps_and_denies() {
    let mut e = EveryVersion {
        keys: vec![],
        versions: 0,
        denials: 0,
    };
    all_apis(&mut e);
    let all: Vec<ApiKey> = ApiKey::iter().collect();
    assert_eq!(e.keys.len(), all.len());
    eprintln!(
        "{} api keys, {} (api, version) pairs, {} denials",
        e.keys.len(),
        e.versions,
        e.denials
    );
}

#[test]
fn decodable_max_is_exact() {
    struct Max;
    impl Visit for Max {
        fn visit<R: Request + Default>(&mut self) {
            let key = ApiKey::try_from(R::KEY).unwrap();
            let max = decodable_max(key);
            let body = enc(&R::default(), max);
            let mut b = Bytes::from(body.clone());
            R::decode(&mut b, max).unwrap();
            // One version above: the request type refuses it, and so does request_checks.
            let mut b = Bytes::from(body.clone());
            assert!(R::decode(&mut b, max + 1).is_err(), "{key:?} v{}", max + 1);
            // (ApiVersions is accepted at any version: it needs no checks.)
            if key != ApiKey::ApiVersions {
                assert!(request_checks(R::KEY, max + 1, &body).is_err());
            }
        }
    }
    all_apis(&mut Max);
}

#[test]
fn unknown_api_keys_and_versions_are_errors() {
    assert_eq!(
        request_checks(93, 0, &[]),
        Err(KafkaError::UnknownApiKey(93))
    );
    assert_eq!(
        request_checks(-1, 0, &[]),
        Err(KafkaError::UnknownApiKey(-1))
    );
    assert_eq!(request_checks(4, 0, &[]), Err(KafkaError::UnknownApiKey(4)));
    assert!(matches!(
        request_checks(0, 2, &[]),
        Err(KafkaError::UnsupportedVersion { .. })
    ));
    assert!(matches!(
        request_checks(8, 10, &[]),
        Err(KafkaError::UnsupportedVersion { max: 9, .. })
    ));
    assert!(matches!(
        deny_response(0, 14, 1, &[]),
        Err(KafkaError::UnsupportedVersion { .. })
    ));
    let e = request_checks(38, 1, &enc(&CreateDelegationTokenRequest::default(), 1)).unwrap_err();
    assert!(e.to_string().contains("CreateDelegationToken"), "{e}");
}

#[test]
fn trailing_bytes_are_ignored_like_the_broker_does() {
    let body = enc(&HeartbeatRequest::default().with_group_id(gid("g")), 4);
    let mut padded = body.clone();
    padded.extend_from_slice(&[1, 0, 0]);
    assert_eq!(
        request_checks(12, 4, &padded).unwrap(),
        request_checks(12, 4, &body).unwrap()
    );
    // librdkafka 2.16's all-topics Metadata v12, captured: topics null, then 3 extra bytes.
    let librdkafka = [0, 0, 0, 0, 1, 0, 0];
    assert!(checks(ApiKey::Metadata, 12, &librdkafka).all_topics);
}

mod apis;
mod fetch_walk;
mod garbage;
mod long_tail;
mod responses;
mod split;
