//! Requests: every name a client sends, mapped to the broker's.

use bytes::Bytes;
use kafka_protocol::messages::*;

use super::{
    apply, config_kind, coordinator_kind, coverage, not_covered, Coverage, KafkaError, Mapper,
    NameMap,
};
use crate::kafka::guard_request;

/// A config resource's name, mapped when it is a topic or a group.
fn config(
    m: &mut Mapper<'_>,
    what: &'static str,
    resource_type: i8,
    name: &mut kafka_protocol::protocol::StrBytes,
) -> Result<(), KafkaError> {
    if let Some(kind) = config_kind(what, resource_type, true)? {
        m.out(kind, name);
    }
    Ok(())
}

pub(super) fn rewrite(
    key: ApiKey,
    v: i16,
    body: &[u8],
    names: &dyn NameMap,
) -> Result<Option<Vec<u8>>, KafkaError> {
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
    // One copy of the body; the guard and the decoder share it.
    let body = &Bytes::copy_from_slice(body);
    guard_request(key, v, body)?;
    match key {
        ApiKey::Produce => apply(body, v, names, None, |r: &mut ProduceRequest, m| {
            if let Some(id) = &mut r.transactional_id {
                m.txn(id);
            }
            if v < 13 {
                for t in &mut r.topic_data {
                    m.topic(&mut t.name);
                }
            }
            Ok(())
        }),
        ApiKey::Fetch => apply(body, v, names, None, |r: &mut FetchRequest, m| {
            // (v13+ names topics by id and never gets here.)
            for t in &mut r.topics {
                m.topic(&mut t.topic);
            }
            for t in &mut r.forgotten_topics_data {
                m.topic(&mut t.topic);
            }
            Ok(())
        }),
        ApiKey::ListOffsets => apply(body, v, names, None, |r: &mut ListOffsetsRequest, m| {
            for t in &mut r.topics {
                m.topic(&mut t.name);
            }
            Ok(())
        }),
        ApiKey::Metadata => apply(body, v, names, None, |r: &mut MetadataRequest, m| {
            // `None` (or v0's empty list) is all topics; topics named by id keep their id.
            for t in r.topics.iter_mut().flatten() {
                if let Some(name) = &mut t.name {
                    m.topic(name);
                }
            }
            Ok(())
        }),
        ApiKey::OffsetCommit => apply(body, v, names, None, |r: &mut OffsetCommitRequest, m| {
            m.group(&mut r.group_id);
            for t in &mut r.topics {
                m.topic(&mut t.name);
            }
            Ok(())
        }),
        ApiKey::OffsetFetch => apply(body, v, names, None, |r: &mut OffsetFetchRequest, m| {
            if v >= 8 {
                for g in &mut r.groups {
                    m.group(&mut g.group_id);
                    for t in g.topics.iter_mut().flatten() {
                        m.topic(&mut t.name);
                    }
                }
            } else {
                m.group(&mut r.group_id);
                for t in r.topics.iter_mut().flatten() {
                    m.topic(&mut t.name);
                }
            }
            Ok(())
        }),
        ApiKey::FindCoordinator => {
            apply(body, v, names, None, |r: &mut FindCoordinatorRequest, m| {
                // v0 has no key type: its key is a group.
                let kind = coordinator_kind(r.key_type)?;
                if v >= 4 {
                    for k in &mut r.coordinator_keys {
                        m.out(kind, k);
                    }
                } else {
                    m.out(kind, &mut r.key);
                }
                Ok(())
            })
        }
        ApiKey::JoinGroup => apply(body, v, names, None, |r: &mut JoinGroupRequest, m| {
            // The protocols' metadata is opaque to the broker and passed through.
            m.group(&mut r.group_id);
            Ok(())
        }),
        ApiKey::Heartbeat => apply(body, v, names, None, |r: &mut HeartbeatRequest, m| {
            m.group(&mut r.group_id);
            Ok(())
        }),
        ApiKey::LeaveGroup => apply(body, v, names, None, |r: &mut LeaveGroupRequest, m| {
            m.group(&mut r.group_id);
            Ok(())
        }),
        ApiKey::SyncGroup => apply(body, v, names, None, |r: &mut SyncGroupRequest, m| {
            // The assignments are opaque to the broker and passed through.
            m.group(&mut r.group_id);
            Ok(())
        }),
        ApiKey::DescribeGroups => {
            apply(body, v, names, None, |r: &mut DescribeGroupsRequest, m| {
                for g in &mut r.groups {
                    m.group(g);
                }
                Ok(())
            })
        }
        ApiKey::CreateTopics => apply(body, v, names, None, |r: &mut CreateTopicsRequest, m| {
            for t in &mut r.topics {
                m.topic(&mut t.name);
            }
            Ok(())
        }),
        ApiKey::DeleteTopics => apply(body, v, names, None, |r: &mut DeleteTopicsRequest, m| {
            if v >= 6 {
                for t in &mut r.topics {
                    if let Some(name) = &mut t.name {
                        m.topic(name);
                    }
                }
            } else {
                for name in &mut r.topic_names {
                    m.topic(name);
                }
            }
            Ok(())
        }),
        ApiKey::DeleteRecords => apply(body, v, names, None, |r: &mut DeleteRecordsRequest, m| {
            for t in &mut r.topics {
                m.topic(&mut t.name);
            }
            Ok(())
        }),
        ApiKey::InitProducerId => {
            apply(body, v, names, None, |r: &mut InitProducerIdRequest, m| {
                if let Some(id) = &mut r.transactional_id {
                    m.txn(id);
                }
                Ok(())
            })
        }
        ApiKey::OffsetForLeaderEpoch => apply(
            body,
            v,
            names,
            None,
            |r: &mut OffsetForLeaderEpochRequest, m| {
                for t in &mut r.topics {
                    m.topic(&mut t.topic);
                }
                Ok(())
            },
        ),
        ApiKey::AddPartitionsToTxn => apply(
            body,
            v,
            names,
            None,
            |r: &mut AddPartitionsToTxnRequest, m| {
                if v >= 4 {
                    for x in &mut r.transactions {
                        m.txn(&mut x.transactional_id);
                        for t in &mut x.topics {
                            m.topic(&mut t.name);
                        }
                    }
                } else {
                    m.txn(&mut r.v3_and_below_transactional_id);
                    for t in &mut r.v3_and_below_topics {
                        m.topic(&mut t.name);
                    }
                }
                Ok(())
            },
        ),
        ApiKey::AddOffsetsToTxn => {
            apply(body, v, names, None, |r: &mut AddOffsetsToTxnRequest, m| {
                m.txn(&mut r.transactional_id);
                m.group(&mut r.group_id);
                Ok(())
            })
        }
        ApiKey::EndTxn => apply(body, v, names, None, |r: &mut EndTxnRequest, m| {
            m.txn(&mut r.transactional_id);
            Ok(())
        }),
        ApiKey::TxnOffsetCommit => {
            apply(body, v, names, None, |r: &mut TxnOffsetCommitRequest, m| {
                m.txn(&mut r.transactional_id);
                m.group(&mut r.group_id);
                for t in &mut r.topics {
                    m.topic(&mut t.name);
                }
                Ok(())
            })
        }
        ApiKey::DescribeConfigs => {
            apply(body, v, names, None, |r: &mut DescribeConfigsRequest, m| {
                for res in &mut r.resources {
                    config(
                        m,
                        "DescribeConfigs",
                        res.resource_type,
                        &mut res.resource_name,
                    )?;
                }
                Ok(())
            })
        }
        ApiKey::AlterConfigs => apply(body, v, names, None, |r: &mut AlterConfigsRequest, m| {
            for res in &mut r.resources {
                config(m, "AlterConfigs", res.resource_type, &mut res.resource_name)?;
            }
            Ok(())
        }),
        ApiKey::IncrementalAlterConfigs => apply(
            body,
            v,
            names,
            None,
            |r: &mut IncrementalAlterConfigsRequest, m| {
                for res in &mut r.resources {
                    config(
                        m,
                        "IncrementalAlterConfigs",
                        res.resource_type,
                        &mut res.resource_name,
                    )?;
                }
                Ok(())
            },
        ),
        ApiKey::CreatePartitions => apply(
            body,
            v,
            names,
            None,
            |r: &mut CreatePartitionsRequest, m| {
                for t in &mut r.topics {
                    m.topic(&mut t.name);
                }
                Ok(())
            },
        ),
        ApiKey::DeleteGroups => apply(body, v, names, None, |r: &mut DeleteGroupsRequest, m| {
            for g in &mut r.groups_names {
                m.group(g);
            }
            Ok(())
        }),
        ApiKey::OffsetDelete => apply(body, v, names, None, |r: &mut OffsetDeleteRequest, m| {
            m.group(&mut r.group_id);
            for t in &mut r.topics {
                m.topic(&mut t.name);
            }
            Ok(())
        }),
        ApiKey::DescribeProducers => apply(
            body,
            v,
            names,
            None,
            |r: &mut DescribeProducersRequest, m| {
                for t in &mut r.topics {
                    m.topic(&mut t.name);
                }
                Ok(())
            },
        ),
        ApiKey::DescribeTransactions => apply(
            body,
            v,
            names,
            None,
            |r: &mut DescribeTransactionsRequest, m| {
                for id in &mut r.transactional_ids {
                    m.txn(id);
                }
                Ok(())
            },
        ),
        ApiKey::ListTransactions => {
            apply(
                body,
                v,
                names,
                None,
                |r: &mut ListTransactionsRequest, _| {
                    // An empty pattern filters nothing; the response is mapped and trimmed either way.
                    match &r.transactional_id_pattern {
                        Some(p) if !p.is_empty() => Err(not_covered(
                            ApiKey::ListTransactions,
                            "a transactional id pattern cannot be mapped name by name",
                        )),
                        _ => Ok(()),
                    }
                },
            )
        }
        ApiKey::ConsumerGroupHeartbeat => apply(
            body,
            v,
            names,
            None,
            |r: &mut ConsumerGroupHeartbeatRequest, m| {
                if r.subscribed_topic_regex.is_some() {
                    return Err(not_covered(
                        ApiKey::ConsumerGroupHeartbeat,
                        "a subscription by regular expression cannot be mapped name by name",
                    ));
                }
                m.group(&mut r.group_id);
                for t in r.subscribed_topic_names.iter_mut().flatten() {
                    m.topic(t);
                }
                Ok(())
            },
        ),
        ApiKey::ConsumerGroupDescribe => apply(
            body,
            v,
            names,
            None,
            |r: &mut ConsumerGroupDescribeRequest, m| {
                for g in &mut r.group_ids {
                    m.group(g);
                }
                Ok(())
            },
        ),
        ApiKey::DescribeTopicPartitions => apply(
            body,
            v,
            names,
            None,
            |r: &mut DescribeTopicPartitionsRequest, m| {
                for t in &mut r.topics {
                    m.topic(&mut t.name);
                }
                if let Some(cursor) = &mut r.cursor {
                    m.topic(&mut cursor.topic_name);
                }
                Ok(())
            },
        ),
        // Every other api was answered above.
        other => Err(not_covered(other, "no request rewrite")),
    }
}
