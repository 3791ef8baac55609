//! The Fetch walk (`kafka/fetch_walk.rs`) against the full decode it stands in for: on
//! generated consumer fetches at every version, and on those bytes truncated or with a byte
//! changed, whenever the walk answers, the full decode answers the same — the same checks, and
//! the same bytes for the request without its fetch session.

use super::*;
use crate::kafka::checks::decoded_checks;
use crate::kafka::fetch_walk::{fetch_checks, fetch_without_session};
use crate::kafka::responses::decoded_without_session;

fn fetch_versions() -> RangeInclusive<i16> {
    versions(ApiKey::Fetch)
}

/// A consumer's (or, with `replica >= 0`, a follower's) fetch of `topics` (name, partitions).
fn fetch(
    v: i16,
    replica: i32,
    session: (i32, i32),
    topics: &[(String, usize)],
    forgotten: &[(String, usize)],
    rack: &str,
) -> Vec<u8> {
    // Each field only where the version has it: kafka-protocol refuses to encode others.
    let by_id = v >= 13;
    let id = |name: &str| {
        let mut b = [0u8; 16];
        for (i, c) in name.bytes().enumerate() {
            b[i % 16] ^= c;
        }
        if by_id {
            uuid(b)
        } else {
            uuid::Uuid::nil()
        }
    };
    let name = |name: &str| tn(if by_id { "" } else { name });
    let (session, forgotten) = if v >= 7 {
        (session, forgotten)
    } else {
        ((0, -1), &[][..])
    };
    let rack = if v >= 11 { rack } else { "" };
    let r = FetchRequest::default()
        .with_replica_id(BrokerId(if v < 15 { replica } else { -1 }))
        .with_replica_state(
            fetch_request::ReplicaState::default().with_replica_id(BrokerId(if v >= 15 {
                replica
            } else {
                -1
            })),
        )
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_session_id(session.0)
        .with_session_epoch(session.1)
        .with_topics(
            topics
                .iter()
                .map(|(topic, partitions)| {
                    fetch_request::FetchTopic::default()
                        .with_topic(name(topic))
                        .with_topic_id(id(topic))
                        .with_partitions(
                            (0..*partitions)
                                .map(|p| {
                                    fetch_request::FetchPartition::default()
                                        .with_partition(p as i32)
                                        .with_fetch_offset(1 << 40)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
        .with_forgotten_topics_data(
            forgotten
                .iter()
                .map(|(topic, partitions)| {
                    fetch_request::ForgottenTopic::default()
                        .with_topic(name(topic))
                        .with_topic_id(id(topic))
                        .with_partitions((0..*partitions as i32).collect())
                })
                .collect(),
        )
        .with_rack_id(sb(rack));
    let mut buf = BytesMut::new();
    r.encode(&mut buf, v).unwrap();
    buf.to_vec()
}

fn topics() -> impl Strategy<Value = Vec<(String, usize)>> {
    proptest::collection::vec(("[a-z.é]{1,12}", 0usize..4), 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn the_walk_answers_as_the_full_decode(
        v in fetch_versions(),
        follower in any::<bool>(),
        session in prop_oneof![Just((0, -1)), (1..100i32, 0..5i32)],
        topics in topics(),
        forgotten in topics(),
        rack in "[a-z]{0,4}",
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let body = fetch(v, if follower { 3 } else { -1 }, session, &topics, &forgotten, &rack);
        let full = decoded_checks(ApiKey::Fetch, v, &body);
        let walked = fetch_checks(v, &body);
        // Every consumer fetch kafka-protocol encodes is walked; a follower's is left alone.
        prop_assert_eq!(walked.is_some(), !follower, "v{} {:?}", v, full);
        if let Some(walked) = walked {
            prop_assert_eq!(Ok(walked), full);
        }
        // Damaged copies: whatever the walk answers, the full decode answers too.
        let mut cut_body = body.clone();
        cut_body.truncate(cut.index(body.len() + 1));
        let mut flipped = body.clone();
        if !flipped.is_empty() {
            let at = flip.index(flipped.len());
            flipped[at] = byte;
        }
        // Without the session: byte for byte what the decode and re-encode writes, also when
        // bytes follow the message (both read past them; librdkafka sends such requests).
        let mut trailing = body.clone();
        trailing.extend_from_slice(&[0, 1, 2]);
        for whole in [&body, &trailing] {
            let rewritten = fetch_without_session(v, whole);
            prop_assert_eq!(rewritten.is_some(), !follower);
            if let Some(rewritten) = rewritten {
                prop_assert_eq!(Ok(rewritten), decoded_without_session(v, whole), "v{}", v);
            }
        }
        for damaged in [cut_body, flipped] {
            if let Some(walked) = fetch_checks(v, &damaged) {
                prop_assert_eq!(Ok(walked), decoded_checks(ApiKey::Fetch, v, &damaged), "v{}", v);
            }
            // Damaged bytes may hold encodings the encoder would not write (a longer varint):
            // the same request, not necessarily the same bytes.
            if let Some(rewritten) = fetch_without_session(v, &damaged) {
                let decoded = decoded_without_session(v, &damaged);
                prop_assert!(decoded.is_ok(), "v{}: {:?}", v, decoded);
                let read = |b: &[u8]| FetchRequest::decode(&mut Bytes::copy_from_slice(b), v).unwrap();
                prop_assert_eq!(read(&rewritten), read(&decoded.unwrap()), "v{}", v);
            }
        }
    }
}

#[test]
fn the_walk_reads_what_request_checks_answers() {
    let body = fetch(12, -1, (7, 2), &[("orders".into(), 2)], &[], "");
    let rc = request_checks(ApiKey::Fetch as i16, 12, &body).unwrap();
    assert_eq!(rc.checks, vec![t("orders", Read)]);
    assert!(rc.fetch_session);
    assert_eq!(fetch_checks(12, &body), Some(rc));
}
