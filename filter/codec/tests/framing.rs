//! Framing and header decoding against frames encoded by `kafka-protocol`: every api key, every
//! version the filter decodes, split at every byte boundary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use kafka_protocol::messages::ApiKey;
use meshka_codec::{Error, Limits, Session};

/// (api key, version, correlation id, client id) of a decoded request.
type Seen = (i16, i16, i32, Option<Vec<u8>>);

/// Feeds `stream` in pieces cut at `cuts`, collecting decoded requests.
fn feed_requests(session: &mut Session, stream: &[u8], cuts: &[usize]) -> Result<Vec<Seen>, Error> {
    let mut seen = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&stream.len())) {
        observe_requests(session, &stream[start..end], |ev| {
            seen.push((
                ev.head.api.key(),
                ev.head.api_version,
                ev.head.correlation_id,
                ev.head.client_id.map(<[u8]>::to_vec),
            ))
        })?;
        start = end;
    }
    Ok(seen)
}

#[test]
fn every_api_and_version_decodes_at_every_split() {
    for (key, version, req, resp) in all_exchanges() {
        let cid = i32::from_be_bytes(req[8..12].try_into().unwrap());
        let two = [req.clone(), req.clone()].concat();
        for cut in 0..=two.len() {
            let mut session = Session::new(LIMITS);
            let seen = feed_requests(&mut session, &two, &[cut]).unwrap();
            assert_eq!(seen.len(), 2, "{key:?} v{version} cut at {cut}");
            for (k, v, c, _) in &seen {
                assert_eq!((*k, *v, *c), (key as i16, version, cid));
            }
            assert_eq!(session.in_flight(), 2);
            assert!(session.at_boundary());
            let answers = [resp.clone(), response(key, version, cid, 0)].concat();
            for rcut in [0, 1, 3, 4, 7, resp.len(), answers.len()] {
                let mut s = Session::new(LIMITS);
                feed_requests(&mut s, &two, &[]).unwrap();
                let mut matched = Vec::new();
                let (a, b) = answers.split_at(rcut);
                for piece in [a, b] {
                    observe_responses(&mut s, piece, 5, |ev| {
                        matched.push((ev.api.key(), ev.api_version, ev.correlation_id, ev.latency))
                    })
                    .unwrap();
                }
                assert_eq!(
                    matched,
                    vec![(key as i16, version, cid, Some(5)); 2],
                    "{key:?} v{version} response cut {rcut}"
                );
                assert_eq!(s.in_flight(), 0);
            }
        }
    }
}

#[test]
fn one_byte_reads_of_a_pipelined_stream() {
    let exchanges = all_exchanges();
    let stream: Vec<u8> = exchanges
        .iter()
        .flat_map(|(_, _, r, _)| r.clone())
        .collect();
    let mut session = Session::new(Limits {
        max_in_flight: 10_000,
        ..LIMITS
    });
    let cuts: Vec<usize> = (1..stream.len()).collect();
    let seen = feed_requests(&mut session, &stream, &cuts).unwrap();
    assert_eq!(seen.len(), exchanges.len());
    let clients: Vec<_> = seen.iter().map(|s| s.3.clone()).collect();
    assert!(clients.contains(&None));
    assert!(clients.contains(&Some(b"meshka-test".to_vec())));
    let responses: Vec<u8> = exchanges
        .iter()
        .flat_map(|(_, _, _, r)| r.clone())
        .collect();
    let mut n = 0;
    for byte in responses.chunks(1) {
        observe_responses(&mut session, byte, 0, |_| n += 1).unwrap();
    }
    assert_eq!(n, exchanges.len());
    assert_eq!(session.in_flight(), 0);
}

#[test]
fn produce_with_acks_zero_expects_no_response() {
    let range = ApiKey::Produce.valid_versions();
    for version in range.min..=range.max {
        let mut session = Session::new(LIMITS);
        let stream = [
            request(ApiKey::Produce, version, 1, Some("p"), 0),
            request(ApiKey::Produce, version, 2, Some("p"), 1),
        ]
        .concat();
        let mut acks = Vec::new();
        observe_requests(&mut session, &stream, |ev| acks.push(ev.head.acks)).unwrap();
        assert_eq!(acks, vec![Some(0), Some(1)], "v{version}");
        assert_eq!(session.in_flight(), 1, "v{version}");
    }
}

#[test]
fn large_payloads_are_skipped_not_copied() {
    let mut req = request(ApiKey::Produce, 9, 1, Some("p"), 1);
    req.extend(std::iter::repeat_n(0u8, 1 << 19));
    let len = (req.len() - 4) as i32;
    req[..4].copy_from_slice(&len.to_be_bytes());
    let mut session = Session::new(LIMITS);
    let copied = observe_requests(&mut session, &req, |_| {}).unwrap();
    assert!(
        copied <= 4 + 128,
        "copied {copied} bytes of a {} byte frame",
        req.len()
    );
    assert!(session.at_boundary());
}

fn first_error(stream: &[u8], limits: Limits) -> Error {
    let mut session = Session::new(limits);
    observe_requests(&mut session, stream, |_| {}).unwrap_err()
}

#[test]
fn hostile_frames_fail_closed() {
    assert_eq!(
        first_error(&(-5i32).to_be_bytes(), LIMITS),
        Error::NegativeLength(-5)
    );
    assert_eq!(
        first_error(&(2_000_000i32).to_be_bytes(), LIMITS),
        Error::FrameTooLarge {
            len: 2_000_000,
            max: 1 << 20
        }
    );
    assert_eq!(
        first_error(&frame(&[0, 99, 0, 0, 0, 0, 0, 1, 0, 0]), LIMITS),
        Error::UnknownApiKey(99)
    );
    assert!(matches!(
        first_error(&frame(&[0, 0, 0, 1, 0, 0, 0, 1, 0, 0]), LIMITS),
        Error::UnsupportedVersion {
            api: "Produce",
            version: 1,
            ..
        }
    ));
    // The frame ends before its header does.
    assert!(matches!(
        first_error(&frame(&[0, 3, 0, 1, 0, 0]), LIMITS),
        Error::Truncated { .. }
    ));
    assert!(matches!(
        first_error(&frame(&[]), LIMITS),
        Error::Truncated { .. }
    ));
    // A client id longer than the head limit.
    let mut long = vec![0, 3, 0, 1, 0, 0, 0, 1, 0x7f, 0xff];
    long.extend(std::iter::repeat_n(b'x', 0x7fff));
    assert_eq!(
        first_error(&frame(&long), LIMITS),
        Error::HeaderTooLarge { max: 4096 }
    );
    // Garbage text (an HTTP request) is not Kafka.
    assert!(matches!(
        first_error(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", LIMITS),
        Error::FrameTooLarge { .. }
    ));
    // Too deep a pipeline.
    let many: Vec<u8> = (0..3)
        .flat_map(|i| request(ApiKey::Metadata, 12, i, None, -1))
        .collect();
    assert_eq!(
        first_error(
            &many,
            Limits {
                max_in_flight: 2,
                ..LIMITS
            }
        ),
        Error::TooManyInFlight { max: 2 }
    );
}

#[test]
fn responses_out_of_order_or_unasked_fail_closed() {
    let mut session = Session::new(LIMITS);
    observe_requests(
        &mut session,
        &request(ApiKey::Metadata, 12, 7, None, -1),
        |_| {},
    )
    .unwrap();
    assert_eq!(
        observe_responses(
            &mut session,
            &response(ApiKey::Metadata, 12, 8, 3),
            0,
            |_| {}
        )
        .unwrap_err(),
        Error::UnexpectedResponse {
            got: 8,
            expected: Some(7)
        }
    );
    let mut fresh = Session::new(LIMITS);
    assert_eq!(
        observe_responses(&mut fresh, &response(ApiKey::Metadata, 12, 1, 3), 0, |_| {})
            .unwrap_err(),
        Error::UnexpectedResponse {
            got: 1,
            expected: None
        }
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any byte stream, cut anywhere: a result, never a panic, and memory within the limits.
        #[test]
        fn arbitrary_streams_are_total(data in proptest::collection::vec(any::<u8>(), 0..512), cut in 0usize..512) {
            let mut session = Session::new(LIMITS);
            let cut = cut.min(data.len());
            let (a, b) = data.split_at(cut);
            for piece in [a, b] {
                if observe_requests(&mut session, piece, |_| {}).is_err() { break; }
                prop_assert!(session.held_bytes() <= 4 + LIMITS.max_header_bytes);
            }
            let mut session = Session::new(LIMITS);
            let _ = observe_responses(&mut session, &data, 0, |_| {});
        }

        /// Every prefix of a valid frame is "need more", never an error.
        #[test]
        fn prefixes_need_more(idx in 0usize..200, cut in 0usize..400) {
            let exchanges = all_exchanges();
            let (_, _, req, _) = &exchanges[idx % exchanges.len()];
            let cut = cut % req.len();
            let mut session = Session::new(LIMITS);
            let mut n = 0;
            observe_requests(&mut session, &req[..cut], |_| n += 1).unwrap();
            prop_assert!(n <= 1);
        }
    }
}

#[test]
fn bytes_inside_a_streamed_frame_are_skipped_unread() {
    // A Produce whose body runs on for 20,000 bytes after its head, then another request.
    let mut first = request(ApiKey::Produce, 9, 1, Some("c"), 1);
    let body_len = first.len() - 4 + 20_000;
    first[..4].copy_from_slice(&(body_len as i32).to_be_bytes());
    first.extend(std::iter::repeat_n(0x5a, 20_000));
    let second = request(ApiKey::Metadata, 12, 2, Some("c"), 1);
    let mut session = Session::new(LIMITS);
    assert!(
        !session.skip_request_data(1),
        "between frames nothing is skipped"
    );
    let head = 100;
    let seen = feed_requests(&mut session, &first[..head], &[]).unwrap();
    assert_eq!(seen.len(), 1);
    let rest = first.len() - head;
    assert!(!session.skip_request_data(rest + 1), "past the frame's end");
    assert!(session.skip_request_data(rest - 10));
    assert!(!session.skip_request_data(11));
    let seen = feed_requests(
        &mut session,
        &[&first[first.len() - 10..], &second[..]].concat(),
        &[],
    )
    .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].2, 2);
    assert!(session.at_boundary());
    assert_eq!(session.in_flight(), 2);
}
