//! Fetch responses the filter must hold whole (to rename their topics or count their bytes for
//! a quota) have to fit its hold limit: the request's byte limits are lowered to it.

use kafka_protocol::messages::ApiKey;

use crate::kafka::field::*;
use crate::kafka::{self, Edits, KafkaError};

/// Room for everything in a Fetch response besides record bytes (headers, topic and partition
/// entries, aborted transactions).
const OVERHEAD: i32 = 64 * 1024;

/// A Fetch request body whose `max_bytes` (v3+) and per-partition `partition_max_bytes` ask for
/// at most `hold_limit` bytes of response; `Ok(None)` when they already do. A broker still sends
/// a first record batch larger than the limits (KIP-74), so producers' `max.message.bytes` must
/// stay below the hold limit too.
pub fn limit_fetch_bytes(
    version: i16,
    body: &[u8],
    hold_limit: u32,
) -> Result<Option<Vec<u8>>, KafkaError> {
    let limit = i32::try_from(hold_limit)
        .unwrap_or(i32::MAX)
        .saturating_sub(OVERHEAD)
        .max(1);
    let r = kafka::decode_request(ApiKey::Fetch, version, body)?;
    let mut edits = Edits::default();
    let mut changed = false;
    if version >= 3 && !(0..=i64::from(limit)).contains(&r.int(MAX_BYTES)) {
        if let Some(span) = r.int_span(MAX_BYTES) {
            edits.int(span, limit.into());
            changed = true;
        }
    }
    // Before v3 the response is bounded only by the partitions' limits: share the limit out.
    let partitions: i32 = r
        .nodes(TOPICS)
        .map(|t| i32::try_from(t.len(PARTITIONS)).unwrap_or(i32::MAX))
        .fold(0, i32::saturating_add)
        .max(1);
    let per_partition = if version >= 3 {
        limit
    } else {
        (limit / partitions).max(1)
    };
    for p in r.nodes(TOPICS).flat_map(|t| t.nodes(PARTITIONS)) {
        if !(0..=i64::from(per_partition)).contains(&p.int(PARTITION_MAX_BYTES)) {
            if let Some(span) = p.int_span(PARTITION_MAX_BYTES) {
                edits.int(span, per_partition.into());
                changed = true;
            }
        }
    }
    if !changed {
        return Ok(None);
    }
    edits.apply(body, "FetchRequest", version).map(Some)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

    use super::*;

    fn fetch(max_bytes: i32, partition_max: i32, partitions: usize) -> FetchRequest {
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_bytes(max_bytes)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(
                    (0..partitions)
                        .map(|i| {
                            FetchPartition::default()
                                .with_partition(i as i32)
                                .with_partition_max_bytes(partition_max)
                        })
                        .collect(),
                )])
    }

    fn round(r: &FetchRequest, v: i16, limit: u32) -> Option<FetchRequest> {
        let mut b = bytes::BytesMut::new();
        r.encode(&mut b, v).unwrap();
        limit_fetch_bytes(v, &b, limit)
            .unwrap()
            .map(|out| FetchRequest::decode(&mut Bytes::from(out), v).unwrap())
    }

    #[test]
    fn limits_are_lowered_to_the_hold_limit_at_every_version() {
        let limit = 16 * 1024 * 1024;
        let fitted = limit as i32 - OVERHEAD;
        let range = ApiKey::Fetch.valid_versions();
        for v in range.min..=range.max {
            let out = round(&fetch(52_428_800, 1_048_576 * 32, 4), v, limit).unwrap();
            if v >= 3 {
                assert_eq!(out.max_bytes, fitted, "v{v}");
                assert!(out.topics[0]
                    .partitions
                    .iter()
                    .all(|p| p.partition_max_bytes == fitted));
            } else {
                assert!(
                    out.topics[0]
                        .partitions
                        .iter()
                        .all(|p| p.partition_max_bytes == fitted / 4),
                    "v{v}"
                );
            }
            assert!(
                round(&fetch(1024, 1024, 4), v, limit).is_none(),
                "v{v}: already within"
            );
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(limit_fetch_bytes(12, b"\x00\x01", 1 << 24).is_err());
    }
}
