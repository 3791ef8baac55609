//! Partly denied requests, Kafka's way: the allowed resources go to the broker, and the denied
//! ones come back with their authorization errors merged into the broker's response.
//!
//! [`split_request`] removes the denied topics (or groups) from a request; the filter forwards
//! the rest and keeps the [`Denied`] part with the request in flight; [`merge_response`] adds the
//! denied part's errors to the broker's response.

use bytes::Bytes;
use kafka_protocol::messages::*;

use super::deny::deny_body_for;
use super::{
    api, api_name, decode, encode, guard_request, guard_response, id_bytes, request_checks, Check,
    KafkaError,
};
use crate::authz::{Operation, ResourceType};

/// What to do with a request, given which of its checks are denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// Nothing is denied: forward the request as it is.
    Unchanged,
    /// Deny the whole request with `deny_response_for(…, failed)`: an outer resource (the
    /// transactional id, the group, the cluster) is denied, every resource is, or the api cannot
    /// be split.
    DenyAll { failed: ResourceType },
    /// Forward `body` (the request without the denied resources, same api and version) and merge
    /// `denied` into its response with [`merge_response`].
    Partial { body: Vec<u8>, denied: Denied },
}

/// The denied part of a split request: its error response, waiting for the broker's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub(crate) key: ApiKey,
    pub(crate) version: i16,
    /// The error response body for the denied resources alone.
    pub(crate) response: Bytes,
}

/// Splits a request (body after its header) by `denied`, which says whether a check of
/// [`request_checks`] is denied (answer `false` for checks a `cluster_alternative` covers).
/// Splits by topic: Produce, Fetch, Metadata, ListOffsets, OffsetCommit, OffsetFetch (v0–7),
/// TxnOffsetCommit, OffsetForLeaderEpoch, CreateTopics, DeleteTopics, DeleteRecords,
/// CreatePartitions, DescribeProducers, DescribeTopicPartitions; by group: DescribeGroups,
/// DeleteGroups, ConsumerGroupDescribe, ShareGroupDescribe; by transactional id:
/// DescribeTransactions. Every other api is all-or-nothing. Metadata v1+ is split even when
/// every named topic is denied, so the client still gets the brokers.
pub fn split_request(
    api_key: i16,
    version: i16,
    body: &[u8],
    denied: &mut dyn FnMut(&Check) -> bool,
) -> Result<Split, KafkaError> {
    let rc = request_checks(api_key, version, body)?;
    let key = api(api_key, version)?;
    let item = item_type(key);
    let mut any_item = false;
    for check in &rc.checks {
        if denied(check) {
            if Some(check.resource) != item {
                return Ok(Split::DenyAll {
                    failed: check.resource,
                });
            }
            any_item = true;
        }
    }
    let Some(item) = item else {
        return Ok(Split::Unchanged);
    };
    if !any_item {
        return Ok(Split::Unchanged);
    }
    // (A follower fetch has only the cluster check: it never gets here.)
    let body = &Bytes::copy_from_slice(body);
    guard_request(key, version, body)?;
    let parts = split(key, version, body, denied)?;
    let Some((allowed, denied_req)) = parts else {
        return Ok(Split::DenyAll { failed: item });
    };
    let response = deny_body_for(key, version, &Bytes::from(denied_req), item)?;
    Ok(Split::Partial {
        body: allowed,
        denied: Denied {
            key,
            version,
            response: Bytes::from(response),
        },
    })
}

/// The per-resource type an api can be split by.
fn item_type(key: ApiKey) -> Option<ResourceType> {
    match key {
        ApiKey::Produce
        | ApiKey::Fetch
        | ApiKey::Metadata
        | ApiKey::ListOffsets
        | ApiKey::OffsetCommit
        | ApiKey::CreateTopics
        | ApiKey::DeleteTopics
        | ApiKey::DeleteRecords
        | ApiKey::OffsetFetch
        | ApiKey::TxnOffsetCommit
        | ApiKey::OffsetForLeaderEpoch
        | ApiKey::CreatePartitions
        | ApiKey::DescribeProducers
        | ApiKey::DescribeTopicPartitions => Some(ResourceType::Topic),
        ApiKey::DescribeGroups
        | ApiKey::DeleteGroups
        | ApiKey::ConsumerGroupDescribe
        | ApiKey::ShareGroupDescribe => Some(ResourceType::Group),
        ApiKey::DescribeTransactions => Some(ResourceType::TransactionalId),
        _ => None,
    }
}

fn topic(name: &TopicName, op: Operation) -> Check {
    Check::named(ResourceType::Topic, name.0.as_str(), op)
}

fn topic_ref(v: i16, id_from: i16, name: &TopicName, id: &uuid::Uuid, op: Operation) -> Check {
    if v >= id_from {
        Check::topic_id(id_bytes(id), op)
    } else {
        topic(name, op)
    }
}

/// Splits `items` into (allowed, denied) by `is_denied`.
fn partition<T: Clone>(items: &[T], is_denied: &mut dyn FnMut(&T) -> bool) -> (Vec<T>, Vec<T>) {
    let mut allowed = vec![];
    let mut denied = vec![];
    for item in items {
        if is_denied(item) {
            denied.push(item.clone());
        } else {
            allowed.push(item.clone());
        }
    }
    (allowed, denied)
}

/// The allowed request and the denied-only request, encoded.
type Halves = (Vec<u8>, Vec<u8>);

/// The allowed request and the denied-only request, encoded; `None` when nothing is allowed.
fn split(
    key: ApiKey,
    v: i16,
    body: &Bytes,
    denied: &mut dyn FnMut(&Check) -> bool,
) -> Result<Option<Halves>, KafkaError> {
    macro_rules! by {
        ($req:ty, $field:ident, |$t:ident| $check:expr, $keep_empty:expr) => {{
            let r: $req = decode(stringify!($req), body, v)?;
            let (allowed, refused) = partition(&r.$field, &mut |$t| denied(&$check));
            if allowed.is_empty() && !$keep_empty {
                return Ok(None);
            }
            let mut a = r.clone();
            a.$field = allowed;
            let mut d = r;
            d.$field = refused;
            Ok(Some((
                encode(stringify!($req), &a, v)?,
                encode(stringify!($req), &d, v)?,
            )))
        }};
    }
    match key {
        ApiKey::Produce => by!(
            ProduceRequest,
            topic_data,
            |t| topic_ref(v, 13, &t.name, &t.topic_id, Operation::Write),
            false
        ),
        ApiKey::Fetch => by!(
            FetchRequest,
            topics,
            |t| topic_ref(v, 13, &t.topic, &t.topic_id, Operation::Read),
            false
        ),
        ApiKey::ListOffsets => by!(
            ListOffsetsRequest,
            topics,
            |t| topic(&t.name, Operation::Describe),
            false
        ),
        ApiKey::OffsetCommit => by!(
            OffsetCommitRequest,
            topics,
            |t| topic_ref(v, 10, &t.name, &t.topic_id, Operation::Read),
            false
        ),
        ApiKey::CreateTopics => by!(
            CreateTopicsRequest,
            topics,
            |t| topic(&t.name, Operation::Create),
            false
        ),
        ApiKey::DeleteRecords => by!(
            DeleteRecordsRequest,
            topics,
            |t| topic(&t.name, Operation::Delete),
            false
        ),
        ApiKey::DescribeGroups => by!(
            DescribeGroupsRequest,
            groups,
            |g| Check::named(ResourceType::Group, g.0.as_str(), Operation::Describe),
            false
        ),
        ApiKey::DeleteGroups => by!(
            DeleteGroupsRequest,
            groups_names,
            |g| Check::named(ResourceType::Group, g.0.as_str(), Operation::Delete),
            false
        ),
        ApiKey::DeleteTopics if v >= 6 => by!(
            DeleteTopicsRequest,
            topics,
            |t| match &t.name {
                Some(name) => topic(name, Operation::Delete),
                None => Check::topic_id(id_bytes(&t.topic_id), Operation::Delete),
            },
            false
        ),
        ApiKey::DeleteTopics => by!(
            DeleteTopicsRequest,
            topic_names,
            |t| topic(t, Operation::Delete),
            false
        ),
        ApiKey::TxnOffsetCommit => by!(
            TxnOffsetCommitRequest,
            topics,
            |t| topic(&t.name, Operation::Read),
            false
        ),
        ApiKey::OffsetForLeaderEpoch => by!(
            OffsetForLeaderEpochRequest,
            topics,
            |t| topic(&t.topic, Operation::Describe),
            false
        ),
        ApiKey::CreatePartitions => by!(
            CreatePartitionsRequest,
            topics,
            |t| topic(&t.name, Operation::Alter),
            false
        ),
        ApiKey::DescribeProducers => by!(
            DescribeProducersRequest,
            topics,
            |t| topic(&t.name, Operation::Read),
            false
        ),
        // An empty list asks for every topic: never forward one.
        ApiKey::DescribeTopicPartitions => by!(
            DescribeTopicPartitionsRequest,
            topics,
            |t| topic(&t.name, Operation::Describe),
            false
        ),
        ApiKey::ConsumerGroupDescribe => by!(
            ConsumerGroupDescribeRequest,
            group_ids,
            |g| Check::named(ResourceType::Group, g.0.as_str(), Operation::Describe),
            false
        ),
        ApiKey::ShareGroupDescribe => by!(
            ShareGroupDescribeRequest,
            group_ids,
            |g| Check::named(ResourceType::Group, g.0.as_str(), Operation::Describe),
            false
        ),
        ApiKey::DescribeTransactions => by!(
            DescribeTransactionsRequest,
            transactional_ids,
            |x| Check::named(
                ResourceType::TransactionalId,
                x.0.as_str(),
                Operation::Describe
            ),
            false
        ),
        // v8+ names topics per group: all or nothing.
        ApiKey::OffsetFetch if v >= 8 => Ok(None),
        ApiKey::OffsetFetch => {
            let r: OffsetFetchRequest = decode("OffsetFetchRequest", body, v)?;
            let Some(topics) = &r.topics else {
                return Ok(None);
            };
            let (allowed, refused) = partition(topics, &mut |t| {
                denied(&topic(&t.name, Operation::Describe))
            });
            if allowed.is_empty() {
                return Ok(None);
            }
            let a = r.clone().with_topics(Some(allowed));
            let d = r.with_topics(Some(refused));
            Ok(Some((
                encode("OffsetFetchRequest", &a, v)?,
                encode("OffsetFetchRequest", &d, v)?,
            )))
        }
        ApiKey::Metadata => {
            let r: MetadataRequest = decode("MetadataRequest", body, v)?;
            let Some(topics) = &r.topics else {
                return Ok(None);
            };
            let (allowed, refused) = partition(topics, &mut |t| {
                denied(&match &t.name {
                    Some(name) => topic(name, Operation::Describe),
                    None => Check::topic_id(id_bytes(&t.topic_id), Operation::Describe),
                })
            });
            // v0 reads an empty list as "all topics": never forward one.
            if allowed.is_empty() && v == 0 {
                return Ok(None);
            }
            let a = r.clone().with_topics(Some(allowed));
            let d = r.with_topics(Some(refused));
            Ok(Some((
                encode("MetadataRequest", &a, v)?,
                encode("MetadataRequest", &d, v)?,
            )))
        }
        other => Err(KafkaError::NoDenyResponse {
            api: api_name(other),
        }),
    }
}

/// The broker's response (body after its header) to a split request's forwarded part, with the
/// denied part's errors added. Returns the new body.
pub fn merge_response(denied: &Denied, body: &[u8]) -> Result<Vec<u8>, KafkaError> {
    let v = denied.version;
    let body = &Bytes::copy_from_slice(body);
    guard_response(denied.key, v, body)?;
    macro_rules! merge {
        ($resp:ty, $field:ident) => {{
            let mut r: $resp = decode(stringify!($resp), body, v)?;
            let d: $resp = decode(stringify!($resp), &denied.response, v)?;
            r.$field.extend(d.$field);
            encode(stringify!($resp), &r, v)
        }};
    }
    match denied.key {
        ApiKey::Produce => merge!(ProduceResponse, responses),
        ApiKey::Fetch => merge!(FetchResponse, responses),
        ApiKey::Metadata => merge!(MetadataResponse, topics),
        ApiKey::ListOffsets => merge!(ListOffsetsResponse, topics),
        ApiKey::OffsetCommit => merge!(OffsetCommitResponse, topics),
        ApiKey::CreateTopics => merge!(CreateTopicsResponse, topics),
        ApiKey::DeleteTopics => merge!(DeleteTopicsResponse, responses),
        ApiKey::DeleteRecords => merge!(DeleteRecordsResponse, topics),
        ApiKey::DescribeGroups => merge!(DescribeGroupsResponse, groups),
        ApiKey::DeleteGroups => merge!(DeleteGroupsResponse, results),
        ApiKey::OffsetFetch => merge!(OffsetFetchResponse, topics),
        ApiKey::TxnOffsetCommit => merge!(TxnOffsetCommitResponse, topics),
        ApiKey::OffsetForLeaderEpoch => merge!(OffsetForLeaderEpochResponse, topics),
        ApiKey::CreatePartitions => merge!(CreatePartitionsResponse, results),
        ApiKey::DescribeProducers => merge!(DescribeProducersResponse, topics),
        ApiKey::DescribeTopicPartitions => merge!(DescribeTopicPartitionsResponse, topics),
        ApiKey::ConsumerGroupDescribe => merge!(ConsumerGroupDescribeResponse, groups),
        ApiKey::ShareGroupDescribe => merge!(ShareGroupDescribeResponse, groups),
        ApiKey::DescribeTransactions => merge!(DescribeTransactionsResponse, transaction_states),
        other => Err(KafkaError::NoDenyResponse {
            api: api_name(other),
        }),
    }
}
