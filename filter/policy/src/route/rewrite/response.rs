//! Responses: every name the broker sends, mapped back to the client's; entries the client may
//! not see are dropped from the arrays that hold them.
//!
//! The body is read by the message tables (`kafka::decode_response`) and changed where it sits
//! (`kafka::Edits`): a name mapped back is replaced, a hidden entry is cut out and its array's
//! count lowered; every other byte reaches the client as the broker wrote it.

use kafka_protocol::messages::ApiKey;

use super::{config_kind, coverage, not_covered, Coverage, KafkaError, NameKind, NameMap};
use crate::kafka::field::*;
use crate::kafka::{self, field, Edits, Element, Node, Span};
use crate::route::names::ClientName;

/// Whether responses of this api at this version carry names.
pub(super) fn has_names(key: ApiKey, v: i16) -> bool {
    if coverage(key) != Coverage::Names {
        return false;
    }
    match key {
        ApiKey::Produce | ApiKey::Fetch => v < 13,
        ApiKey::FindCoordinator => v >= 4,
        ApiKey::ListConfigResources => v >= 1,
        ApiKey::AddOffsetsToTxn
        | ApiKey::EndTxn
        | ApiKey::InitProducerId
        | ApiKey::JoinGroup
        | ApiKey::SyncGroup
        | ApiKey::Heartbeat
        | ApiKey::LeaveGroup
        | ApiKey::ConsumerGroupHeartbeat => false,
        _ => true,
    }
}

/// How the names of one response map back to the client's (the changes go into an [`Edits`]).
struct Backs<'a> {
    names: &'a dyn NameMap,
    version: i16,
    /// For FindCoordinator responses: the kind the request's key type names.
    coordinator: Option<NameKind>,
}

impl Backs<'_> {
    /// Maps a name back; `false`: the client may not see it. A null name stays.
    fn back(&self, edits: &mut Edits, kind: NameKind, name: Option<(&str, Span)>) -> bool {
        let Some((name, span)) = name else {
            return true;
        };
        match self.names.to_client(kind, name) {
            ClientName::Hidden => false,
            ClientName::Named(mapped) => {
                if mapped != name {
                    edits.rename(span, &mapped);
                }
                true
            }
        }
    }

    /// Keeps the structs of `array` whose `field` names a `kind` the client may see.
    fn retain_named(
        &self,
        edits: &mut Edits,
        r: &Node<'_>,
        array: u16,
        kind: NameKind,
        field: u16,
    ) {
        let _ = edits.retain(r, array, |edits, t| {
            Ok::<bool, KafkaError>(self.back(edits, kind, t.string(field)))
        });
    }

    /// Keeps the strings of `array` the client may see, mapped back.
    fn retain_strings(&self, edits: &mut Edits, r: &Node<'_>, array: u16, kind: NameKind) {
        let _ = edits.retain_elements(r, array, |edits, e| {
            Ok::<bool, KafkaError>(match e {
                Element::String(name, span) => self.back(edits, kind, Some((name, *span))),
                Element::Struct(_) => true,
            })
        });
    }

    /// A config resource's name, mapped back when it is a topic or a group; `false`: hidden.
    fn config(&self, edits: &mut Edits, res: &Node<'_>) -> bool {
        let resource_type = res.i8(RESOURCE_TYPE);
        match config_kind("config resource", resource_type, false) {
            Ok(Some(kind)) => self.back(edits, kind, res.string(RESOURCE_NAME)),
            _ => true,
        }
    }

    /// A FindCoordinator v4+ key: as the request's kind when known. Otherwise as the kind under
    /// which the client may see it: a key the client sent maps back under its own kind (the
    /// `NameMap` guarantee), so when only one kind names it, that is its kind; when both do,
    /// they must agree; when neither does, the key is not the client's and is dropped.
    fn coordinator_back(
        &self,
        edits: &mut Edits,
        key: Option<(&str, Span)>,
    ) -> Result<bool, KafkaError> {
        if let Some(kind) = self.coordinator {
            return Ok(self.back(edits, kind, key));
        }
        let Some((name, _)) = key else {
            return Ok(true);
        };
        let as_group = self.names.to_client(NameKind::Group, name);
        let as_txn = self.names.to_client(NameKind::TransactionalId, name);
        let kind = match (&as_group, &as_txn) {
            (ClientName::Hidden, ClientName::Hidden) => return Ok(false),
            (ClientName::Named(_), ClientName::Hidden) => NameKind::Group,
            (ClientName::Hidden, ClientName::Named(_)) => NameKind::TransactionalId,
            (ClientName::Named(g), ClientName::Named(x)) if g == x => NameKind::Group,
            (ClientName::Named(_), ClientName::Named(_)) => {
                return Err(KafkaError::Decode {
                    what: "FindCoordinatorResponse",
                    version: self.version,
                    reason: "a key maps back to different names as a group and as a \
                             transactional id; rewrite it with rewrite_find_coordinator_response"
                        .to_owned(),
                })
            }
        };
        Ok(self.back(edits, kind, key))
    }
}

pub(super) fn rewrite(
    key: ApiKey,
    v: i16,
    body: &[u8],
    names: &dyn NameMap,
    coordinator: Option<NameKind>,
) -> Result<Option<Vec<u8>>, KafkaError> {
    use NameKind::{Group, Topic, TransactionalId};
    if let Coverage::NotCovered(why) = coverage(key) {
        return Err(not_covered(key, why));
    }
    if !has_names(key, v) {
        return Ok(None);
    }
    let r = &kafka::decode_response(key, v, body)?;
    let m = Backs {
        names,
        version: v,
        coordinator,
    };
    let mut changes = Edits::default();
    let edits = &mut changes;
    match key {
        ApiKey::Produce | ApiKey::Fetch => {
            let name = if key == ApiKey::Produce {
                NAME
            } else {
                field::TOPIC
            };
            m.retain_named(edits, r, RESPONSES, Topic, name);
        }
        // A topic without a name (asked for by id, unknown) stays: `back` keeps null names.
        ApiKey::ListOffsets
        | ApiKey::Metadata
        | ApiKey::OffsetCommit
        | ApiKey::CreateTopics
        | ApiKey::DeleteRecords
        | ApiKey::TxnOffsetCommit
        | ApiKey::OffsetDelete
        | ApiKey::DescribeProducers => m.retain_named(edits, r, TOPICS, Topic, NAME),
        ApiKey::OffsetFetch => {
            if v >= 8 {
                edits.retain(r, GROUPS, |edits, g| {
                    if !m.back(edits, Group, g.string(GROUP_ID)) {
                        return Ok(false);
                    }
                    m.retain_named(edits, g, TOPICS, Topic, NAME);
                    Ok(true)
                })?;
            } else {
                m.retain_named(edits, r, TOPICS, Topic, NAME);
            }
        }
        ApiKey::FindCoordinator => {
            edits.retain(r, COORDINATORS, |edits, co| {
                m.coordinator_back(edits, co.string(KEY))
            })?;
        }
        // Member metadata and assignments are opaque and passed through.
        ApiKey::DescribeGroups | ApiKey::ListGroups => {
            m.retain_named(edits, r, GROUPS, Group, GROUP_ID)
        }
        ApiKey::DeleteGroups => m.retain_named(edits, r, RESULTS, Group, GROUP_ID),
        ApiKey::DeleteTopics => m.retain_named(edits, r, RESPONSES, Topic, NAME),
        ApiKey::OffsetForLeaderEpoch => m.retain_named(edits, r, TOPICS, Topic, field::TOPIC),
        ApiKey::AddPartitionsToTxn => {
            if v >= 4 {
                edits.retain(r, RESULTS_BY_TRANSACTION, |edits, x| {
                    if !m.back(edits, TransactionalId, x.string(TRANSACTIONAL_ID)) {
                        return Ok(false);
                    }
                    m.retain_named(edits, x, TOPIC_RESULTS, Topic, NAME);
                    Ok(true)
                })?;
            } else {
                m.retain_named(edits, r, RESULTS_BY_TOPIC_V3_AND_BELOW, Topic, NAME);
            }
        }
        ApiKey::DescribeConfigs | ApiKey::CreatePartitions => {
            if key == ApiKey::CreatePartitions {
                m.retain_named(edits, r, RESULTS, Topic, NAME);
            } else {
                edits.retain(r, RESULTS, |edits, res| Ok(m.config(edits, res)))?;
            }
        }
        ApiKey::AlterConfigs | ApiKey::IncrementalAlterConfigs => {
            edits.retain(r, RESPONSES, |edits, res| Ok(m.config(edits, res)))?;
        }
        ApiKey::ListConfigResources => {
            edits.retain(r, CONFIG_RESOURCES, |edits, res| Ok(m.config(edits, res)))?;
        }
        ApiKey::DescribeTransactions => {
            edits.retain(r, TRANSACTION_STATES, |edits, x| {
                if !m.back(edits, TransactionalId, x.string(TRANSACTIONAL_ID)) {
                    return Ok(false);
                }
                m.retain_named(edits, x, TOPICS, Topic, field::TOPIC);
                Ok(true)
            })?;
        }
        ApiKey::ListTransactions => {
            m.retain_named(
                edits,
                r,
                TRANSACTION_STATES,
                TransactionalId,
                TRANSACTIONAL_ID,
            );
        }
        ApiKey::ConsumerGroupDescribe => {
            // A member's `subscribed_topic_regex` is left as its client wrote it.
            edits.retain(r, GROUPS, |edits, g| {
                if !m.back(edits, Group, g.string(GROUP_ID)) {
                    return Ok(false);
                }
                for member in g.nodes(MEMBERS) {
                    m.retain_strings(edits, member, SUBSCRIBED_TOPIC_NAMES, Topic);
                    for a in [ASSIGNMENT, TARGET_ASSIGNMENT] {
                        if let Some(a) = member.node(a) {
                            m.retain_named(edits, a, TOPIC_PARTITIONS, Topic, TOPIC_NAME);
                        }
                    }
                }
                Ok(true)
            })?;
        }
        ApiKey::DescribeTopicPartitions => {
            m.retain_named(edits, r, TOPICS, Topic, NAME);
            // A cursor at a hidden topic: the listing ends here.
            if let Some(cursor) = r.node(NEXT_CURSOR) {
                if !m.back(edits, Topic, cursor.string(TOPIC_NAME)) {
                    edits.null(cursor.span());
                }
            }
        }
        // Every other api was answered above.
        other => return Err(not_covered(other, "no response rewrite")),
    }
    if changes.is_empty() {
        return Ok(None);
    }
    changes.apply(body, "response", v).map(Some)
}
