//! Fetch responses the filter must hold whole (to rename their topics or count their bytes for
//! a quota) have to fit its hold limit: the request's byte limits are lowered to it.

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, FetchRequest};

use crate::kafka::{decode, encode, guard_request, KafkaError};

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
    let bytes = &Bytes::copy_from_slice(body);
    guard_request(ApiKey::Fetch, version, bytes)?;
    let mut request: FetchRequest = decode("FetchRequest", bytes, version)?;
    let mut changed = false;
    if version >= 3 && !(0..=limit).contains(&request.max_bytes) {
        request.max_bytes = limit;
        changed = true;
    }
    // Before v3 the response is bounded only by the partitions' limits: share the limit out.
    let partitions: i32 = request
        .topics
        .iter()
        .map(|t| i32::try_from(t.partitions.len()).unwrap_or(i32::MAX))
        .fold(0, i32::saturating_add)
        .max(1);
    let per_partition = if version >= 3 {
        limit
    } else {
        (limit / partitions).max(1)
    };
    for p in request
        .topics
        .iter_mut()
        .flat_map(|t| t.partitions.iter_mut())
    {
        if !(0..=per_partition).contains(&p.partition_max_bytes) {
            p.partition_max_bytes = per_partition;
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    encode("FetchRequest", &request, version).map(Some)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{BrokerId, TopicName};
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
