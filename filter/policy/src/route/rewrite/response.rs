//! Responses: every name the broker sends, mapped back to the client's; entries the client may
//! not see are dropped from the arrays that hold them.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::{
    apply, config_kind, coverage, not_covered, Coverage, KafkaError, Mapper, NameKind, NameMap,
};
use crate::kafka::guard_response;

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

/// A config resource's name, mapped back when it is a topic or a group; `false`: hidden.
fn config(m: &mut Mapper<'_>, resource_type: i8, name: &mut StrBytes) -> bool {
    match config_kind("config resource", resource_type, false) {
        Ok(Some(kind)) => m.back(kind, name),
        _ => true,
    }
}

/// The guard for ListConfigResources responses, which `kafka/guard.rs` does not generate (yet):
/// its one array, `config_resources`, may claim no more elements than bytes remain (each takes
/// at least two). All its versions are flexible: `throttle_time_ms` (4 bytes), `error_code` (2),
/// then the array's length + 1 as an unsigned varint.
fn guard_list_config_resources(v: i16, body: &[u8]) -> Result<(), KafkaError> {
    let fail = |reason: &str| KafkaError::Decode {
        what: "ListConfigResourcesResponse",
        version: v,
        reason: reason.to_owned(),
    };
    let mut rest = body.get(6..).ok_or_else(|| fail("truncated"))?.iter();
    let mut count: u64 = 0;
    for shift in [0u32, 7, 14, 21, 28] {
        let b = *rest.next().ok_or_else(|| fail("truncated"))?;
        count |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            let left = rest.len() as u64;
            return if count.saturating_sub(1) > left {
                Err(fail(
                    "config_resources claims more elements than bytes remain",
                ))
            } else {
                Ok(())
            };
        }
    }
    Err(fail("an unsigned varint longer than 5 bytes"))
}

fn topics_back(m: &mut Mapper<'_>, names: &mut Vec<TopicName>) {
    m.retain(names, |m, t| m.topic_back(t));
}

pub(super) fn rewrite(
    key: ApiKey,
    v: i16,
    body: &[u8],
    names: &dyn NameMap,
    coordinator: Option<NameKind>,
) -> Result<Option<Vec<u8>>, KafkaError> {
    if let Coverage::NotCovered(why) = coverage(key) {
        return Err(not_covered(key, why));
    }
    if !has_names(key, v) {
        return Ok(None);
    }
    // One copy of the body; the guard and the decoder share it.
    let body = &Bytes::copy_from_slice(body);
    if key == ApiKey::ListConfigResources {
        guard_list_config_resources(v, body)?;
    } else {
        guard_response(key, v, body)?;
    }
    let c = coordinator;
    match key {
        ApiKey::Produce => apply(body, v, names, c, |r: &mut ProduceResponse, m| {
            m.retain(&mut r.responses, |m, t| m.topic_back(&mut t.name));
            Ok(())
        }),
        ApiKey::Fetch => apply(body, v, names, c, |r: &mut FetchResponse, m| {
            m.retain(&mut r.responses, |m, t| m.topic_back(&mut t.topic));
            Ok(())
        }),
        ApiKey::ListOffsets => apply(body, v, names, c, |r: &mut ListOffsetsResponse, m| {
            m.retain(&mut r.topics, |m, t| m.topic_back(&mut t.name));
            Ok(())
        }),
        ApiKey::Metadata => apply(body, v, names, c, |r: &mut MetadataResponse, m| {
            // A topic without a name (asked for by id, unknown) stays.
            m.retain(&mut r.topics, |m, t| match &mut t.name {
                Some(name) => m.topic_back(name),
                None => true,
            });
            Ok(())
        }),
        ApiKey::OffsetCommit => apply(body, v, names, c, |r: &mut OffsetCommitResponse, m| {
            m.retain(&mut r.topics, |m, t| m.topic_back(&mut t.name));
            Ok(())
        }),
        ApiKey::OffsetFetch => apply(body, v, names, c, |r: &mut OffsetFetchResponse, m| {
            if v >= 8 {
                m.retain(&mut r.groups, |m, g| {
                    if !m.group_back(&mut g.group_id) {
                        return false;
                    }
                    m.retain(&mut g.topics, |m, t| m.topic_back(&mut t.name));
                    true
                });
            } else {
                m.retain(&mut r.topics, |m, t| m.topic_back(&mut t.name));
            }
            Ok(())
        }),
        ApiKey::FindCoordinator => {
            apply(body, v, names, c, |r: &mut FindCoordinatorResponse, m| {
                m.try_retain(&mut r.coordinators, |m, co| m.coordinator_back(&mut co.key))
            })
        }
        ApiKey::DescribeGroups => apply(body, v, names, c, |r: &mut DescribeGroupsResponse, m| {
            // Member metadata and assignments are opaque and passed through.
            m.retain(&mut r.groups, |m, g| m.group_back(&mut g.group_id));
            Ok(())
        }),
        ApiKey::ListGroups => apply(body, v, names, c, |r: &mut ListGroupsResponse, m| {
            m.retain(&mut r.groups, |m, g| m.group_back(&mut g.group_id));
            Ok(())
        }),
        ApiKey::DeleteGroups => apply(body, v, names, c, |r: &mut DeleteGroupsResponse, m| {
            m.retain(&mut r.results, |m, g| m.group_back(&mut g.group_id));
            Ok(())
        }),
        ApiKey::CreateTopics => apply(body, v, names, c, |r: &mut CreateTopicsResponse, m| {
            m.retain(&mut r.topics, |m, t| m.topic_back(&mut t.name));
            Ok(())
        }),
        ApiKey::DeleteTopics => apply(body, v, names, c, |r: &mut DeleteTopicsResponse, m| {
            m.retain(&mut r.responses, |m, t| match &mut t.name {
                Some(name) => m.topic_back(name),
                None => true,
            });
            Ok(())
        }),
        ApiKey::DeleteRecords => apply(body, v, names, c, |r: &mut DeleteRecordsResponse, m| {
            m.retain(&mut r.topics, |m, t| m.topic_back(&mut t.name));
            Ok(())
        }),
        ApiKey::OffsetForLeaderEpoch => apply(
            body,
            v,
            names,
            c,
            |r: &mut OffsetForLeaderEpochResponse, m| {
                m.retain(&mut r.topics, |m, t| m.topic_back(&mut t.topic));
                Ok(())
            },
        ),
        ApiKey::AddPartitionsToTxn => apply(
            body,
            v,
            names,
            c,
            |r: &mut AddPartitionsToTxnResponse, m| {
                if v >= 4 {
                    m.retain(&mut r.results_by_transaction, |m, x| {
                        if !m.txn_back(&mut x.transactional_id) {
                            return false;
                        }
                        m.retain(&mut x.topic_results, |m, t| m.topic_back(&mut t.name));
                        true
                    });
                } else {
                    m.retain(&mut r.results_by_topic_v3_and_below, |m, t| {
                        m.topic_back(&mut t.name)
                    });
                }
                Ok(())
            },
        ),
        ApiKey::TxnOffsetCommit => {
            apply(body, v, names, c, |r: &mut TxnOffsetCommitResponse, m| {
                m.retain(&mut r.topics, |m, t| m.topic_back(&mut t.name));
                Ok(())
            })
        }
        ApiKey::DescribeConfigs => {
            apply(body, v, names, c, |r: &mut DescribeConfigsResponse, m| {
                m.retain(&mut r.results, |m, res| {
                    config(m, res.resource_type, &mut res.resource_name)
                });
                Ok(())
            })
        }
        ApiKey::AlterConfigs => apply(body, v, names, c, |r: &mut AlterConfigsResponse, m| {
            m.retain(&mut r.responses, |m, res| {
                config(m, res.resource_type, &mut res.resource_name)
            });
            Ok(())
        }),
        ApiKey::IncrementalAlterConfigs => apply(
            body,
            v,
            names,
            c,
            |r: &mut IncrementalAlterConfigsResponse, m| {
                m.retain(&mut r.responses, |m, res| {
                    config(m, res.resource_type, &mut res.resource_name)
                });
                Ok(())
            },
        ),
        ApiKey::CreatePartitions => {
            apply(body, v, names, c, |r: &mut CreatePartitionsResponse, m| {
                m.retain(&mut r.results, |m, t| m.topic_back(&mut t.name));
                Ok(())
            })
        }
        ApiKey::OffsetDelete => apply(body, v, names, c, |r: &mut OffsetDeleteResponse, m| {
            m.retain(&mut r.topics, |m, t| m.topic_back(&mut t.name));
            Ok(())
        }),
        ApiKey::DescribeProducers => {
            apply(body, v, names, c, |r: &mut DescribeProducersResponse, m| {
                m.retain(&mut r.topics, |m, t| m.topic_back(&mut t.name));
                Ok(())
            })
        }
        ApiKey::DescribeTransactions => apply(
            body,
            v,
            names,
            c,
            |r: &mut DescribeTransactionsResponse, m| {
                m.retain(&mut r.transaction_states, |m, x| {
                    if !m.txn_back(&mut x.transactional_id) {
                        return false;
                    }
                    m.retain(&mut x.topics, |m, t| m.topic_back(&mut t.topic));
                    true
                });
                Ok(())
            },
        ),
        ApiKey::ListTransactions => {
            apply(body, v, names, c, |r: &mut ListTransactionsResponse, m| {
                m.retain(&mut r.transaction_states, |m, x| {
                    m.txn_back(&mut x.transactional_id)
                });
                Ok(())
            })
        }
        ApiKey::ConsumerGroupDescribe => {
            apply(
                body,
                v,
                names,
                c,
                |r: &mut ConsumerGroupDescribeResponse, m| {
                    // A member's `subscribed_topic_regex` is left as its client wrote it.
                    m.retain(&mut r.groups, |m, g| {
                        if !m.group_back(&mut g.group_id) {
                            return false;
                        }
                        for member in &mut g.members {
                            topics_back(m, &mut member.subscribed_topic_names);
                            for a in [&mut member.assignment, &mut member.target_assignment] {
                                m.retain(&mut a.topic_partitions, |m, t| {
                                    m.topic_back(&mut t.topic_name)
                                });
                            }
                        }
                        true
                    });
                    Ok(())
                },
            )
        }
        ApiKey::ListConfigResources => apply(
            body,
            v,
            names,
            c,
            |r: &mut ListConfigResourcesResponse, m| {
                m.retain(&mut r.config_resources, |m, res| {
                    config(m, res.resource_type, &mut res.resource_name)
                });
                Ok(())
            },
        ),
        ApiKey::DescribeTopicPartitions => {
            apply(
                body,
                v,
                names,
                c,
                |r: &mut DescribeTopicPartitionsResponse, m| {
                    m.retain(&mut r.topics, |m, t| match &mut t.name {
                        Some(name) => m.topic_back(name),
                        None => true,
                    });
                    // A cursor at a hidden topic: the listing ends here.
                    let hidden = match &mut r.next_cursor {
                        Some(cursor) => !m.topic_back(&mut cursor.topic_name),
                        None => false,
                    };
                    if hidden {
                        r.next_cursor = None;
                        m.changed = true;
                    }
                    Ok(())
                },
            )
        }
        // Every other api was answered above.
        other => Err(not_covered(other, "no response rewrite")),
    }
}
