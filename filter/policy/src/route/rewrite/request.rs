//! Requests: every name a client sends, mapped to the broker's.
//!
//! The body is read by the message tables (`kafka::decode_request`, as strictly as
//! kafka-protocol decodes it) and only the names that change are replaced where they sit
//! (`kafka::Edits`): every other byte goes to the broker as the client wrote it.

use kafka_protocol::messages::ApiKey;

use super::{config_kind, coordinator_kind, coverage, not_covered, Coverage, KafkaError, NameMap};
use crate::kafka::field::*;
use crate::kafka::{self, field, Edits, Node, Span};
use crate::route::names::NameKind;

/// The names of one request mapped to the broker's: the replacements.
struct Renames<'a> {
    names: &'a dyn NameMap,
    edits: Edits,
}

impl Renames<'_> {
    fn out(&mut self, kind: NameKind, name: Option<(&str, Span)>) {
        if let Some((name, span)) = name {
            let mapped = self.names.to_broker(kind, name);
            if mapped != name {
                self.edits.rename(span, &mapped);
            }
        }
    }

    fn topic(&mut self, name: Option<(&str, Span)>) {
        self.out(NameKind::Topic, name);
    }

    fn group(&mut self, name: Option<(&str, Span)>) {
        self.out(NameKind::Group, name);
    }

    fn txn(&mut self, name: Option<(&str, Span)>) {
        self.out(NameKind::TransactionalId, name);
    }

    /// The `field` of every struct of `array`, as `kind`.
    fn each(&mut self, kind: NameKind, r: &Node<'_>, array: u16, field: u16) {
        for t in r.nodes(array) {
            self.out(kind, t.string(field));
        }
    }

    /// Every string of the string array `array`, as `kind`.
    fn all(&mut self, kind: NameKind, r: &Node<'_>, array: u16) {
        for name in r.strings(array) {
            self.out(kind, Some(name));
        }
    }

    /// A config resource's name, mapped when it is a topic or a group.
    fn config(&mut self, what: &'static str, res: &Node<'_>) -> Result<(), KafkaError> {
        let resource_type = res.i8(RESOURCE_TYPE);
        if let Some(kind) = config_kind(what, resource_type, true)? {
            self.out(kind, res.string(RESOURCE_NAME));
        }
        Ok(())
    }
}

pub(super) fn rewrite(
    key: ApiKey,
    v: i16,
    body: &[u8],
    names: &dyn NameMap,
) -> Result<Option<Vec<u8>>, KafkaError> {
    use NameKind::{Group, Topic, TransactionalId};
    match coverage(key) {
        Coverage::NoNames => return Ok(None),
        Coverage::NotCovered(why) => return Err(not_covered(key, why)),
        Coverage::Names => {}
    }
    // Covered apis whose requests carry no names at these versions.
    match key {
        ApiKey::ListGroups | ApiKey::ListConfigResources => return Ok(None),
        ApiKey::Fetch if v >= 13 => return Ok(None),
        ApiKey::ListTransactions if v < 2 => return Ok(None),
        _ => {}
    }
    let r = &kafka::decode_request(key, v, body)?;
    let mut m = Renames {
        names,
        edits: Edits::default(),
    };
    match key {
        ApiKey::Produce => {
            m.txn(r.string(TRANSACTIONAL_ID));
            // v13+ names topics by id.
            m.each(Topic, r, TOPIC_DATA, NAME);
        }
        ApiKey::Fetch => {
            // (v13+ names topics by id and never gets here.)
            m.each(Topic, r, TOPICS, field::TOPIC);
            m.each(Topic, r, FORGOTTEN_TOPICS_DATA, field::TOPIC);
        }
        ApiKey::ListOffsets
        | ApiKey::CreateTopics
        | ApiKey::DeleteRecords
        | ApiKey::CreatePartitions
        | ApiKey::DescribeProducers => m.each(Topic, r, TOPICS, NAME),
        ApiKey::Metadata => {
            // Null (or v0's empty list) is all topics; topics named by id keep their id.
            m.each(Topic, r, TOPICS, NAME);
        }
        ApiKey::OffsetCommit | ApiKey::OffsetDelete => {
            m.group(r.string(GROUP_ID));
            m.each(Topic, r, TOPICS, NAME);
        }
        ApiKey::OffsetFetch => {
            if v >= 8 {
                for g in r.nodes(GROUPS) {
                    m.group(g.string(GROUP_ID));
                    m.each(Topic, g, TOPICS, NAME);
                }
            } else {
                m.group(r.string(GROUP_ID));
                m.each(Topic, r, TOPICS, NAME);
            }
        }
        ApiKey::FindCoordinator => {
            // v0 has no key type: its key is a group.
            let kind = coordinator_kind(r.i8(KEY_TYPE))?;
            if v >= 4 {
                m.all(kind, r, COORDINATOR_KEYS);
            } else {
                m.out(kind, r.string(KEY));
            }
        }
        // The protocols' metadata and the assignments are opaque to the broker and passed
        // through.
        ApiKey::JoinGroup | ApiKey::Heartbeat | ApiKey::LeaveGroup | ApiKey::SyncGroup => {
            m.group(r.string(GROUP_ID));
        }
        ApiKey::DescribeGroups => m.all(Group, r, GROUPS),
        ApiKey::DeleteTopics => {
            if v >= 6 {
                m.each(Topic, r, TOPICS, NAME);
            } else {
                m.all(Topic, r, TOPIC_NAMES);
            }
        }
        ApiKey::InitProducerId | ApiKey::EndTxn => m.txn(r.string(TRANSACTIONAL_ID)),
        ApiKey::OffsetForLeaderEpoch => m.each(Topic, r, TOPICS, field::TOPIC),
        ApiKey::AddPartitionsToTxn => {
            if v >= 4 {
                for x in r.nodes(TRANSACTIONS) {
                    m.txn(x.string(TRANSACTIONAL_ID));
                    m.each(Topic, x, TOPICS, NAME);
                }
            } else {
                m.txn(r.string(V3_AND_BELOW_TRANSACTIONAL_ID));
                m.each(Topic, r, V3_AND_BELOW_TOPICS, NAME);
            }
        }
        ApiKey::AddOffsetsToTxn => {
            m.txn(r.string(TRANSACTIONAL_ID));
            m.group(r.string(GROUP_ID));
        }
        ApiKey::TxnOffsetCommit => {
            m.txn(r.string(TRANSACTIONAL_ID));
            m.group(r.string(GROUP_ID));
            m.each(Topic, r, TOPICS, NAME);
        }
        ApiKey::DescribeConfigs | ApiKey::AlterConfigs | ApiKey::IncrementalAlterConfigs => {
            let what = match key {
                ApiKey::DescribeConfigs => "DescribeConfigs",
                ApiKey::AlterConfigs => "AlterConfigs",
                _ => "IncrementalAlterConfigs",
            };
            for res in r.nodes(RESOURCES) {
                m.config(what, res)?;
            }
        }
        ApiKey::DeleteGroups => m.all(Group, r, GROUPS_NAMES),
        ApiKey::DescribeTransactions => m.all(TransactionalId, r, TRANSACTIONAL_IDS),
        ApiKey::ListTransactions => {
            // An empty pattern filters nothing; the response is mapped and trimmed either way.
            if r.str(TRANSACTIONAL_ID_PATTERN)
                .is_some_and(|p| !p.is_empty())
            {
                return Err(not_covered(
                    key,
                    "a transactional id pattern cannot be mapped name by name",
                ));
            }
        }
        ApiKey::ConsumerGroupHeartbeat => {
            if r.str(SUBSCRIBED_TOPIC_REGEX).is_some() {
                return Err(not_covered(
                    key,
                    "a subscription by regular expression cannot be mapped name by name",
                ));
            }
            m.group(r.string(GROUP_ID));
            m.all(Topic, r, SUBSCRIBED_TOPIC_NAMES);
        }
        ApiKey::ConsumerGroupDescribe => m.all(Group, r, GROUP_IDS),
        ApiKey::DescribeTopicPartitions => {
            m.each(Topic, r, TOPICS, NAME);
            if let Some(cursor) = r.node(CURSOR) {
                m.topic(cursor.string(TOPIC_NAME));
            }
        }
        // Every other api was answered above.
        other => return Err(not_covered(other, "no request rewrite")),
    }
    if m.edits.is_empty() {
        return Ok(None);
    }
    m.edits.apply(body, "request", v).map(Some)
}
