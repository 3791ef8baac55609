//! Produce requests decided from their first bytes: allowed single-topic ones stream through
//! (their record batches neither copied nor decoded), everything else is decided whole.

use super::*;

fn big_produce(topics: &[&str], acks: i16, batch: usize) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(1000)
        .with_topic_data(
            topics
                .iter()
                .map(|t| {
                    TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_string((*t).into())))
                        .with_partition_data(vec![PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(Bytes::from(vec![0x5a; batch])))])
                })
                .collect(),
        )
}

/// Feeds `stream` in pieces of `chunk` bytes; what went on, and the bytes copied.
fn feed(
    session: &mut Session,
    hooks: &mut dyn Hooks,
    stream: &[u8],
    chunk: usize,
) -> (Vec<u8>, usize, bool) {
    let (mut sent, mut copied, mut unchanged) = (Vec::new(), 0, true);
    for piece in stream.chunks(chunk) {
        let mut out = Output::default();
        let mut src = piece;
        copied += session
            .on_request_data(&mut src, 0, hooks, &mut out)
            .unwrap();
        unchanged &= out.is_unchanged(piece.len());
        sent.extend(out.render(piece).unwrap());
    }
    (sent, copied, unchanged)
}

#[test]
fn an_allowed_single_topic_produce_streams_unread() {
    let policy = policy("enforce");
    for v in [3, 8, 9, 12] {
        for chunk in [7, 100, 64 * 1024, 1 << 20] {
            let mut conn = Conn::new(orders());
            let mut session = Session::new(LIMITS);
            let frames = [
                request(
                    ApiKey::Produce,
                    v,
                    1,
                    &big_produce(&["orders.a"], 1, 100_000),
                ),
                request(
                    ApiKey::Produce,
                    v,
                    2,
                    &big_produce(&["orders.b"], 0, 100_000),
                ),
            ]
            .concat();
            let (sent, copied, unchanged) =
                feed(&mut session, &mut conn.hooks(&policy), &frames, chunk);
            assert_eq!(sent, frames, "v{v} chunk {chunk}");
            assert!(copied < 600, "v{v} chunk {chunk}: {copied} bytes copied");
            if chunk >= 64 * 1024 {
                // Whole frames in one piece are passed as the host's own bytes, not rewritten.
                assert!(unchanged, "v{v} chunk {chunk}");
            }
            assert_eq!(session.in_flight(), 1, "acks=0 expects no response");
            let summary: Vec<(bool, bool, &str)> = conn
                .records
                .iter()
                .map(|r| (r.allowed, r.forwarded, r.checks[0].name.as_str()))
                .collect();
            assert_eq!(
                summary,
                vec![(true, true, "orders.a"), (true, true, "orders.b")]
            );
        }
    }
}

#[test]
fn denied_and_multi_topic_produces_are_decided_whole() {
    let policy = policy("enforce");
    let v = 9;
    let mut conn = Conn::new(orders());
    let mut session = Session::new(LIMITS);
    let denied = request(
        ApiKey::Produce,
        v,
        1,
        &big_produce(&["payments"], 1, 20_000),
    );
    let split = request(
        ApiKey::Produce,
        v,
        2,
        &big_produce(&["orders.a", "payments"], 1, 20_000),
    );
    let both = request(
        ApiKey::Produce,
        v,
        3,
        &big_produce(&["orders.a", "orders.b"], 1, 20_000),
    );
    let stream = [denied, split, both.clone()].concat();
    let (sent, copied, _) = feed(&mut session, &mut conn.hooks(&policy), &stream, 4096);
    assert_eq!(copied, stream.len(), "held whole");
    assert!(sent.starts_with(&substitute_request(1)));
    assert!(
        sent.ends_with(&both),
        "an allowed multi-topic produce goes on unchanged"
    );
    let summary: Vec<(bool, usize)> = conn
        .records
        .iter()
        .map(|r| (r.allowed, r.checks.len()))
        .collect();
    assert_eq!(summary, vec![(false, 1), (false, 2), (true, 2)]);
}

#[test]
fn audit_mode_streams_allowed_ones_and_records_denied_ones_whole() {
    let policy = policy("audit");
    let mut conn = Conn::new(orders());
    let mut session = Session::new(LIMITS);
    let frames = [
        request(
            ApiKey::Produce,
            9,
            1,
            &big_produce(&["orders.a"], 1, 50_000),
        ),
        request(
            ApiKey::Produce,
            9,
            2,
            &big_produce(&["payments"], 1, 50_000),
        ),
    ]
    .concat();
    let (sent, _, _) = feed(&mut session, &mut conn.hooks(&policy), &frames, 1 << 20);
    assert_eq!(sent, frames, "audit forwards everything");
    let summary: Vec<(bool, bool, bool)> = conn
        .records
        .iter()
        .map(|r| (r.allowed, r.forwarded, r.audit))
        .collect();
    assert_eq!(summary, vec![(true, true, true), (false, true, true)]);
}
