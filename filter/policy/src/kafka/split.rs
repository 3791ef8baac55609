//! Partly denied requests, Kafka's way: the allowed resources go to the broker, and the denied
//! ones come back with their authorization errors merged into the broker's response.
//!
//! [`split_request`] removes the denied topics (or groups) from a request; the filter forwards
//! the rest and keeps the [`Denied`] part with the request in flight; [`merge_response`] adds the
//! denied part's errors to the broker's response.

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;

use super::deny::deny_body_for;
use super::guard::field::{self, *};
use super::{
    api, api_name, decode_request, decode_response, request_checks, Check, Edits, Element,
    KafkaError, Node,
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
    let parts = split(key, version, body, denied)?;
    let Some((allowed, denied_req)) = parts else {
        return Ok(Split::DenyAll { failed: item });
    };
    let response = deny_body_for(key, version, &denied_req, item)?;
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

fn topic(name: &str, op: Operation) -> Check {
    Check::named(ResourceType::Topic, name, op)
}

/// A topic element named by its `name_field` before `id_from`, by id from that version on.
fn topic_ref(v: i16, id_from: i16, e: &Element<'_, '_>, name_field: u16, op: Operation) -> Check {
    match e {
        Element::Struct(t) if v >= id_from => Check::topic_id(t.uuid(TOPIC_ID), op),
        _ => topic(name_of(e, name_field), op),
    }
}

/// The name an element carries: the string itself, or a struct's `field`.
fn name_of<'a>(e: &Element<'_, 'a>, field: u16) -> &'a str {
    match e {
        Element::Struct(t) => t.text(field),
        Element::String(name, _) => name,
    }
}

/// A topic element named by name, or by id where its name is null (DeleteTopics v6+, Metadata).
fn topic_or_id(e: &Element<'_, '_>, op: Operation) -> Check {
    match e {
        Element::Struct(t) => match t.str(NAME) {
            Some(name) => topic(name, op),
            None => Check::topic_id(t.uuid(TOPIC_ID), op),
        },
        Element::String(name, _) => topic(name, op),
    }
}

/// The allowed request and the denied-only request, encoded.
type Halves = (Vec<u8>, Vec<u8>);

/// The request with only the allowed elements of `array`, and with only the denied ones; `None`
/// when nothing is allowed (and `keep_empty` is not set).
fn halves(
    body: &[u8],
    v: i16,
    r: &Node<'_>,
    array: u16,
    keep_empty: bool,
    denied: &mut dyn FnMut(&Check) -> bool,
    check: impl Fn(&Element<'_, '_>) -> Check,
) -> Result<Option<Halves>, KafkaError> {
    let Some((_, count)) = r.array(array) else {
        // A null list asks for everything: all or nothing.
        return Ok(None);
    };
    let (mut allowed, mut refused) = (Edits::default(), Edits::default());
    let (mut kept, mut cut) = (0, 0);
    for e in r.elements(array) {
        if denied(&check(&e)) {
            allowed.remove(e.range());
            cut += 1;
        } else {
            refused.remove(e.range());
            kept += 1;
        }
    }
    if kept == 0 && !keep_empty {
        return Ok(None);
    }
    allowed.count(count, kept);
    refused.count(count, cut);
    Ok(Some((
        allowed.apply(body, "request", v)?,
        refused.apply(body, "request", v)?,
    )))
}

/// The allowed request and the denied-only request; `None` when nothing is allowed.
fn split(
    key: ApiKey,
    v: i16,
    body: &[u8],
    denied: &mut dyn FnMut(&Check) -> bool,
) -> Result<Option<Halves>, KafkaError> {
    use Operation::{Alter, Create, Delete, Describe, Read, Write};
    let r = &decode_request(key, v, body)?;
    let named = |resource: ResourceType, field: u16, op: Operation| {
        move |e: &Element<'_, '_>| Check::named(resource, name_of(e, field), op)
    };
    let topics = |field: u16, op: Operation| named(ResourceType::Topic, field, op);
    let groups = |op: Operation| named(ResourceType::Group, NAME, op);
    let mut by = |array: u16, keep_empty: bool, check: &dyn Fn(&Element<'_, '_>) -> Check| {
        halves(body, v, r, array, keep_empty, denied, check)
    };
    match key {
        ApiKey::Produce => by(TOPIC_DATA, false, &|e| topic_ref(v, 13, e, NAME, Write)),
        ApiKey::Fetch => by(TOPICS, false, &|e| topic_ref(v, 13, e, field::TOPIC, Read)),
        ApiKey::ListOffsets | ApiKey::DescribeTopicPartitions => {
            // (An empty DescribeTopicPartitions list asks for every topic: never forward one.)
            by(TOPICS, false, &topics(NAME, Describe))
        }
        ApiKey::OffsetCommit => by(TOPICS, false, &|e| topic_ref(v, 10, e, NAME, Read)),
        ApiKey::CreateTopics => by(TOPICS, false, &topics(NAME, Create)),
        ApiKey::DeleteRecords => by(TOPICS, false, &topics(NAME, Delete)),
        ApiKey::DescribeGroups => by(GROUPS, false, &groups(Describe)),
        ApiKey::DeleteGroups => by(GROUPS_NAMES, false, &groups(Delete)),
        ApiKey::DeleteTopics if v >= 6 => by(TOPICS, false, &|e| topic_or_id(e, Delete)),
        ApiKey::DeleteTopics => by(TOPIC_NAMES, false, &topics(NAME, Delete)),
        ApiKey::TxnOffsetCommit | ApiKey::DescribeProducers => {
            by(TOPICS, false, &topics(NAME, Read))
        }
        ApiKey::OffsetForLeaderEpoch => by(TOPICS, false, &topics(field::TOPIC, Describe)),
        ApiKey::CreatePartitions => by(TOPICS, false, &topics(NAME, Alter)),
        ApiKey::ConsumerGroupDescribe | ApiKey::ShareGroupDescribe => {
            by(GROUP_IDS, false, &groups(Describe))
        }
        ApiKey::DescribeTransactions => by(
            TRANSACTIONAL_IDS,
            false,
            &named(ResourceType::TransactionalId, NAME, Describe),
        ),
        // v8+ names topics per group: all or nothing.
        ApiKey::OffsetFetch if v >= 8 => Ok(None),
        ApiKey::OffsetFetch => by(TOPICS, false, &topics(NAME, Describe)),
        // v0 reads an empty list as "all topics": never forward one; v1+ is split even when
        // every topic is denied, so the client still gets the brokers.
        ApiKey::Metadata => by(TOPICS, v >= 1, &|e| topic_or_id(e, Describe)),
        other => Err(KafkaError::NoDenyResponse {
            api: api_name(other),
        }),
    }
}

/// The array of a response that the denied part's entries join.
fn merged_array(key: ApiKey) -> Option<u16> {
    Some(match key {
        ApiKey::Produce | ApiKey::Fetch | ApiKey::DeleteTopics => RESPONSES,
        ApiKey::Metadata
        | ApiKey::ListOffsets
        | ApiKey::OffsetCommit
        | ApiKey::CreateTopics
        | ApiKey::DeleteRecords
        | ApiKey::OffsetFetch
        | ApiKey::TxnOffsetCommit
        | ApiKey::OffsetForLeaderEpoch
        | ApiKey::DescribeProducers
        | ApiKey::DescribeTopicPartitions => TOPICS,
        ApiKey::DescribeGroups | ApiKey::ConsumerGroupDescribe | ApiKey::ShareGroupDescribe => {
            GROUPS
        }
        ApiKey::DeleteGroups | ApiKey::CreatePartitions => RESULTS,
        ApiKey::DescribeTransactions => TRANSACTION_STATES,
        _ => return None,
    })
}

/// The broker's response (body after its header) to a split request's forwarded part, with the
/// denied part's errors added. Returns the new body.
pub fn merge_response(denied: &Denied, body: &[u8]) -> Result<Vec<u8>, KafkaError> {
    let (key, v) = (denied.key, denied.version);
    let array = merged_array(key).ok_or(KafkaError::NoDenyResponse { api: api_name(key) })?;
    let r = decode_response(key, v, body)?;
    let d = decode_response(key, v, &denied.response)?;
    let missing = || KafkaError::Decode {
        what: "response",
        version: v,
        reason: "the array the denied entries join is null".to_owned(),
    };
    let (len, count) = r.array(array).ok_or_else(missing)?;
    let end = r.array_end(array).ok_or_else(missing)?;
    let (added, _) = d.array(array).ok_or_else(missing)?;
    // The denial's entries, as the denial wrote them: one run of bytes.
    let first = d.elements(array).next().map_or(0, |e| e.range().0);
    let last = d.elements(array).last().map_or(first, |e| e.range().1);
    let run = denied.response.get(first..last).unwrap_or_default();
    let mut edits = Edits::default();
    edits.count(count, len + added);
    edits.insert(end, run);
    edits.apply(body, "response", v)
}
