//! Responses: every name the broker sends, mapped back to the client's; entries the client may
//! not see are dropped from the arrays that hold them.
//!
//! The body is read by the message tables (`kafka::decode_response`) and changed where it sits
//! (`kafka::Edits`): a name mapped back is replaced, a hidden entry is cut out and its array's
//! count lowered; every other byte reaches the client as the broker wrote it.

use kafka_protocol::messages::ApiKey;

use super::{config_kind, coverage, not_covered, Coverage, KafkaError, NameKind, NameMap};
use crate::kafka::field::*;
use crate::kafka::{self, field, Edits, Node, Span};
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

/// The names of one response mapped back to the client's, and the entries it may not see.
struct Backs<'a> {
    names: &'a dyn NameMap,
    version: i16,
    /// For FindCoordinator responses: the kind the request's key type names.
    coordinator: Option<NameKind>,
    edits: Edits,
}

impl Backs<'_> {
    /// Maps a name back; `false`: the client may not see it. A null name stays.
    fn back(&mut self, kind: NameKind, name: Option<(&str, Span)>) -> bool {
        let Some((name, span)) = name else {
            return true;
        };
        match self.names.to_client(kind, name) {
            ClientName::Hidden => false,
            ClientName::Named(mapped) => {
                if mapped != name {
                    self.edits.rename(span, &mapped);
                }
                true
            }
        }
    }

    /// Keeps the structs of `array` that `keep` says the client may see; the others are cut out.
    fn retain(
        &mut self,
        r: &Node<'_>,
        array: u16,
        mut keep: impl FnMut(&mut Self, &Node<'_>) -> Result<bool, KafkaError>,
    ) -> Result<(), KafkaError> {
        let Some((len, count)) = r.array(array) else {
            return Ok(());
        };
        let mut kept = len;
        for item in r.nodes(array) {
            if !keep(self, item)? {
                self.edits.remove(item.span());
                kept -= 1;
            }
        }
        if kept != len {
            self.edits.count(count, kept);
        }
        Ok(())
    }

    /// [`Backs::retain`] for structs whose `field` names a `kind`.
    fn retain_named(&mut self, r: &Node<'_>, array: u16, kind: NameKind, field: u16) {
        let _ = self.retain(r, array, |m, t| Ok(m.back(kind, t.string(field))));
    }

    /// Keeps the strings of `array` the client may see, mapped back.
    fn retain_strings(&mut self, r: &Node<'_>, array: u16, kind: NameKind) {
        let Some((len, count)) = r.array(array) else {
            return;
        };
        let mut kept = len;
        for (name, span) in r.strings(array) {
            if !self.back(kind, Some((name, span))) {
                self.edits.remove((span.start, span.end));
                kept -= 1;
            }
        }
        if kept != len {
            self.edits.count(count, kept);
        }
    }

    /// A config resource's name, mapped back when it is a topic or a group; `false`: hidden.
    fn config(&mut self, res: &Node<'_>) -> bool {
        let resource_type = i8::try_from(res.int(RESOURCE_TYPE)).unwrap_or(i8::MIN);
        match config_kind("config resource", resource_type, false) {
            Ok(Some(kind)) => self.back(kind, res.string(RESOURCE_NAME)),
            _ => true,
        }
    }

    /// A FindCoordinator v4+ key: as the request's kind when known. Otherwise as the kind under
    /// which the client may see it: a key the client sent maps back under its own kind (the
    /// `NameMap` guarantee), so when only one kind names it, that is its kind; when both do,
    /// they must agree; when neither does, the key is not the client's and is dropped.
    fn coordinator_back(&mut self, key: Option<(&str, Span)>) -> Result<bool, KafkaError> {
        if let Some(kind) = self.coordinator {
            return Ok(self.back(kind, key));
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
        Ok(self.back(kind, key))
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
    let mut m = Backs {
        names,
        version: v,
        coordinator,
        edits: Edits::default(),
    };
    match key {
        ApiKey::Produce | ApiKey::Fetch => {
            let name = if key == ApiKey::Produce {
                NAME
            } else {
                field::TOPIC
            };
            m.retain_named(r, RESPONSES, Topic, name);
        }
        // A topic without a name (asked for by id, unknown) stays: `back` keeps null names.
        ApiKey::ListOffsets
        | ApiKey::Metadata
        | ApiKey::OffsetCommit
        | ApiKey::CreateTopics
        | ApiKey::DeleteRecords
        | ApiKey::TxnOffsetCommit
        | ApiKey::OffsetDelete
        | ApiKey::DescribeProducers => m.retain_named(r, TOPICS, Topic, NAME),
        ApiKey::OffsetFetch => {
            if v >= 8 {
                m.retain(r, GROUPS, |m, g| {
                    if !m.back(Group, g.string(GROUP_ID)) {
                        return Ok(false);
                    }
                    m.retain_named(g, TOPICS, Topic, NAME);
                    Ok(true)
                })?;
            } else {
                m.retain_named(r, TOPICS, Topic, NAME);
            }
        }
        ApiKey::FindCoordinator => {
            m.retain(r, COORDINATORS, |m, co| m.coordinator_back(co.string(KEY)))?;
        }
        // Member metadata and assignments are opaque and passed through.
        ApiKey::DescribeGroups | ApiKey::ListGroups => m.retain_named(r, GROUPS, Group, GROUP_ID),
        ApiKey::DeleteGroups => m.retain_named(r, RESULTS, Group, GROUP_ID),
        ApiKey::DeleteTopics => m.retain_named(r, RESPONSES, Topic, NAME),
        ApiKey::OffsetForLeaderEpoch => m.retain_named(r, TOPICS, Topic, field::TOPIC),
        ApiKey::AddPartitionsToTxn => {
            if v >= 4 {
                m.retain(r, RESULTS_BY_TRANSACTION, |m, x| {
                    if !m.back(TransactionalId, x.string(TRANSACTIONAL_ID)) {
                        return Ok(false);
                    }
                    m.retain_named(x, TOPIC_RESULTS, Topic, NAME);
                    Ok(true)
                })?;
            } else {
                m.retain_named(r, RESULTS_BY_TOPIC_V3_AND_BELOW, Topic, NAME);
            }
        }
        ApiKey::DescribeConfigs | ApiKey::CreatePartitions => {
            if key == ApiKey::CreatePartitions {
                m.retain_named(r, RESULTS, Topic, NAME);
            } else {
                m.retain(r, RESULTS, |m, res| Ok(m.config(res)))?;
            }
        }
        ApiKey::AlterConfigs | ApiKey::IncrementalAlterConfigs => {
            m.retain(r, RESPONSES, |m, res| Ok(m.config(res)))?;
        }
        ApiKey::ListConfigResources => {
            m.retain(r, CONFIG_RESOURCES, |m, res| Ok(m.config(res)))?;
        }
        ApiKey::DescribeTransactions => {
            m.retain(r, TRANSACTION_STATES, |m, x| {
                if !m.back(TransactionalId, x.string(TRANSACTIONAL_ID)) {
                    return Ok(false);
                }
                m.retain_named(x, TOPICS, Topic, field::TOPIC);
                Ok(true)
            })?;
        }
        ApiKey::ListTransactions => {
            m.retain_named(r, TRANSACTION_STATES, TransactionalId, TRANSACTIONAL_ID);
        }
        ApiKey::ConsumerGroupDescribe => {
            // A member's `subscribed_topic_regex` is left as its client wrote it.
            m.retain(r, GROUPS, |m, g| {
                if !m.back(Group, g.string(GROUP_ID)) {
                    return Ok(false);
                }
                for member in g.nodes(MEMBERS) {
                    m.retain_strings(member, SUBSCRIBED_TOPIC_NAMES, Topic);
                    for a in [ASSIGNMENT, TARGET_ASSIGNMENT] {
                        if let Some(a) = member.node(a) {
                            m.retain_named(a, TOPIC_PARTITIONS, Topic, TOPIC_NAME);
                        }
                    }
                }
                Ok(true)
            })?;
        }
        ApiKey::DescribeTopicPartitions => {
            m.retain_named(r, TOPICS, Topic, NAME);
            // A cursor at a hidden topic: the listing ends here.
            if let Some(cursor) = r.node(NEXT_CURSOR) {
                if !m.back(Topic, cursor.string(TOPIC_NAME)) {
                    m.edits.null(cursor.span());
                }
            }
        }
        // Every other api was answered above.
        other => return Err(not_covered(other, "no response rewrite")),
    }
    if m.edits.is_empty() {
        return Ok(None);
    }
    m.edits.apply(body).map(Some).ok_or(KafkaError::Encode {
        what: "response",
        version: v,
        reason: "a mapped name is longer than a Kafka string holds".to_owned(),
    })
}
