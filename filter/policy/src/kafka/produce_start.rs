//! A Produce request decided from its first bytes: its transactional id and, when it writes to
//! one topic, that topic — all authorization needs — sit before the first record batch, so the
//! batches can stream to the broker without being copied into the filter or decoded.

use kafka_protocol::messages::ApiKey;
use meshka_codec::reader::{Field, Reader};

use super::splice::{length, Width};

/// The first Produce version with flexible (compact) encodings.
const FLEXIBLE: i16 = 9;
/// The first Produce version that names topics by id.
const TOPIC_IDS: i16 = 13;

/// The topic a single-topic Produce writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProduceTopic<'a> {
    Name(&'a str),
    Id([u8; 16]),
}

/// What the first bytes of a Produce body say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProduceStart<'a> {
    /// Not enough bytes to know.
    Incomplete,
    /// The request writes to exactly one topic.
    OneTopic {
        transactional_id: Option<&'a str>,
        acks: i16,
        topic: ProduceTopic<'a>,
        /// Where the topic's name field (its length included) or id sits in the body: the
        /// bytes a rename replaces.
        topic_field: (usize, usize),
    },
    /// Anything else — several topics, none, a version or bytes the filter does not read
    /// here: decide the whole request.
    Whole,
}

/// Reads the start of a Produce body (after the request header) of `version`: the transactional
/// id, acks, timeout, the topic count and the first topic's name or id. The bytes after the
/// topic name are not looked at; the broker reads the same topic from the same bytes.
pub fn produce_start(version: i16, body: &[u8]) -> ProduceStart<'_> {
    let range = ApiKey::Produce.valid_versions();
    if version < range.min || version > range.max {
        return ProduceStart::Whole;
    }
    let compact = version >= FLEXIBLE;
    let mut r = Reader::new(body);
    let transactional_id = match r.nullable_string(compact, "transactional id") {
        Field::Value(None) => None,
        Field::Value(Some(bytes)) => match std::str::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(_) => return ProduceStart::Whole,
        },
        Field::Incomplete => return ProduceStart::Incomplete,
        Field::Invalid(_) => return ProduceStart::Whole,
    };
    let (Some(acks), Some(_timeout)) = (r.i16(), r.i32()) else {
        return ProduceStart::Incomplete;
    };
    let topics = if compact {
        match r.uvarint() {
            None => return ProduceStart::Incomplete,
            Some(Ok(n)) => i64::from(n) - 1,
            Some(Err(())) => return ProduceStart::Whole,
        }
    } else {
        match r.i32() {
            None => return ProduceStart::Incomplete,
            Some(n) => i64::from(n),
        }
    };
    if topics != 1 {
        return ProduceStart::Whole;
    }
    let topic_start = r.position();
    let topic = if version >= TOPIC_IDS {
        match r.take(16).and_then(|b| <[u8; 16]>::try_from(b).ok()) {
            Some(id) => ProduceTopic::Id(id),
            None => return ProduceStart::Incomplete,
        }
    } else {
        match r.nullable_string(compact, "topic name") {
            Field::Value(Some(bytes)) => match std::str::from_utf8(bytes) {
                Ok(name) => ProduceTopic::Name(name),
                Err(_) => return ProduceStart::Whole,
            },
            Field::Incomplete => return ProduceStart::Incomplete,
            Field::Value(None) | Field::Invalid(_) => return ProduceStart::Whole,
        }
    };
    ProduceStart::OneTopic {
        transactional_id,
        acks,
        topic,
        topic_field: (topic_start, r.position()),
    }
}

/// The one topic a Produce response (its body, after the response header) of `version` names,
/// and where its name field sits: `None` when the response names several topics or none, names
/// them by id (v13), or does not read. A tenant's answer is renamed there in place.
pub fn produce_response_topic(version: i16, body: &[u8]) -> Option<(&str, (usize, usize))> {
    let range = ApiKey::Produce.valid_versions();
    if version < range.min || version > range.max || version >= TOPIC_IDS {
        return None;
    }
    let compact = version >= FLEXIBLE;
    let mut r = Reader::new(body);
    let topics = if compact {
        i64::from(r.uvarint()?.ok()?) - 1
    } else {
        i64::from(r.i32()?)
    };
    if topics != 1 {
        return None;
    }
    let start = r.position();
    match r.nullable_string(compact, "topic name") {
        Field::Value(Some(bytes)) => {
            Some((std::str::from_utf8(bytes).ok()?, (start, r.position())))
        }
        _ => None,
    }
}

/// A topic name field as Produce `version` encodes it (compact from v9): what replaces
/// `topic_field` when the topic is renamed. `None` for a name longer than the encoding allows.
pub fn topic_name_field(version: i16, name: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len() + 2);
    let width = if version >= FLEXIBLE {
        Width::Varint
    } else {
        Width::Int16
    };
    length(&mut out, width, Some(name.len()))?;
    out.extend_from_slice(name.as_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, TopicName, TransactionalId};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn request(version: i16, topics: &[&str], txn: Option<&str>) -> Vec<u8> {
        let r = ProduceRequest::default()
            .with_transactional_id(txn.map(|t| TransactionalId(StrBytes::from_string(t.into()))))
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(
                topics
                    .iter()
                    .map(|t| {
                        TopicProduceData::default()
                            .with_name(TopicName(StrBytes::from_string((*t).into())))
                            .with_topic_id(uuid::Uuid::from_bytes([7; 16]))
                            .with_partition_data(vec![PartitionProduceData::default()
                                .with_index(0)
                                .with_records(Some(Bytes::from(vec![1u8; 300])))])
                    })
                    .collect(),
            );
        let mut buf = BytesMut::new();
        r.encode(&mut buf, version).unwrap();
        buf.to_vec()
    }

    #[test]
    fn a_produce_responses_one_topic_is_found_at_every_version_and_cut() {
        use kafka_protocol::messages::produce_response::{
            PartitionProduceResponse, TopicProduceResponse,
        };
        use kafka_protocol::messages::ProduceResponse;
        let range = ApiKey::Produce.valid_versions();
        for v in range.min..=range.max {
            for topics in [&["orders"][..], &["orders", "payments"][..]] {
                let response = ProduceResponse::default().with_responses(
                    topics
                        .iter()
                        .map(|t| {
                            TopicProduceResponse::default()
                                .with_name(TopicName(StrBytes::from_string((*t).into())))
                                .with_partition_responses(vec![PartitionProduceResponse::default()])
                        })
                        .collect(),
                );
                let mut buf = BytesMut::new();
                response.encode(&mut buf, v).unwrap();
                let body = buf.to_vec();
                let found = produce_response_topic(v, &body);
                if v >= TOPIC_IDS || topics.len() > 1 {
                    assert_eq!(found, None, "v{v} {topics:?}");
                    continue;
                }
                let (name, (start, end)) = found.unwrap();
                assert_eq!(name, "orders");
                assert_eq!(body[start..end], topic_name_field(v, "orders").unwrap()[..]);
                for cut in 0..body.len() {
                    let got = produce_response_topic(v, &body[..cut]);
                    assert!(got.is_none() || got == found, "v{v} cut {cut}");
                }
            }
        }
    }

    /// A renamed topic's field, spliced in, is what kafka-protocol encodes for that name: the
    /// broker reads the same request as from a full re-encode.
    #[test]
    fn a_renamed_topic_field_is_the_encoding_of_the_new_name() {
        let long = "t".repeat(200);
        for v in 3..TOPIC_IDS {
            for (from, to) in [("orders", "team-a.orders"), ("orders", long.as_str())] {
                let body = request(v, &[from], None);
                let ProduceStart::OneTopic { topic_field, .. } = produce_start(v, &body) else {
                    panic!("v{v}: not one topic");
                };
                let field = topic_name_field(v, to).unwrap();
                let spliced = [&body[..topic_field.0], &field, &body[topic_field.1..]].concat();
                assert_eq!(spliced, request(v, &[to], None), "v{v} {to}");
            }
        }
        assert_eq!(topic_name_field(8, &"x".repeat(40_000)), None);
    }

    #[test]
    fn one_topic_at_every_version_and_cut() {
        let range = ApiKey::Produce.valid_versions();
        for v in range.min..=range.max {
            for txn in [None, Some("tx-1")] {
                let body = request(v, &["orders"], txn);
                let (want_topic, field) = if v >= TOPIC_IDS {
                    (ProduceTopic::Id([7; 16]), [7u8; 16].to_vec())
                } else {
                    (
                        ProduceTopic::Name("orders"),
                        topic_name_field(v, "orders").unwrap(),
                    )
                };
                let at = body.windows(field.len()).position(|w| w == field).unwrap();
                let want = ProduceStart::OneTopic {
                    transactional_id: txn,
                    acks: -1,
                    topic: want_topic,
                    topic_field: (at, at + field.len()),
                };
                let mut decided_at = None;
                for cut in 0..=body.len() {
                    match produce_start(v, &body[..cut]) {
                        ProduceStart::Incomplete => assert!(decided_at.is_none(), "v{v} {cut}"),
                        got => {
                            assert_eq!(got, want, "v{v} cut {cut}");
                            decided_at.get_or_insert(cut);
                        }
                    }
                }
                // Decided before the first record batch.
                assert!(decided_at.unwrap() < body.len() - 300, "v{v}");
            }
        }
    }

    #[test]
    fn several_or_no_topics_and_bad_bytes_are_decided_whole() {
        for v in [3, 8, 9, 12] {
            let two = request(v, &["a", "b"], None);
            assert_eq!(produce_start(v, &two), ProduceStart::Whole, "v{v}");
            let none = request(v, &[], None);
            assert_eq!(produce_start(v, &none), ProduceStart::Whole, "v{v}");
        }
        // Invalid UTF-8 in the topic name (v3: i16 length).
        let mut body = request(3, &["ab"], None);
        let at = body.len() - 300 - 4 - 4 - 4 - 2;
        body[at..at + 2].copy_from_slice(&[0xff, 0xfe]);
        assert_eq!(produce_start(3, &body), ProduceStart::Whole);
        // A null topic name, and versions outside kafka-protocol's range.
        let mut body = request(3, &["ab"], None);
        let at = body.len() - 300 - 4 - 4 - 4 - 2 - 2;
        body[at..at + 2].copy_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(produce_start(3, &body), ProduceStart::Whole);
        assert_eq!(produce_start(99, &body), ProduceStart::Whole);
        assert_eq!(produce_start(-1, &body), ProduceStart::Whole);
    }
}
