//! Framing and header decoding against frames encoded by `kafka-protocol`: every api key, every
//! version the filter decodes, split at every byte boundary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ProduceRequest, RequestHeader, ResponseHeader, TransactionalId,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use meshka_codec::api::Api;
use meshka_codec::{Error, Limits, Session};

const LIMITS: Limits = Limits {
    max_frame_bytes: 1 << 20,
    max_header_bytes: 4096,
    max_in_flight: 64,
};

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn request(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    acks: i16,
) -> Vec<u8> {
    let api = Api::from_key(key as i16).unwrap();
    let mut header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(client_id.map(|c| StrBytes::from_string(c.to_string())));
    if api.request_header_version(version) >= 2 {
        header
            .unknown_tagged_fields
            .insert(7, bytes::Bytes::from_static(b"tag"));
    }
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .unwrap();
    if key == ApiKey::Produce {
        ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("txn-1"))))
            .with_acks(acks)
            .encode(&mut buf, version)
            .unwrap();
    } else {
        // Header decoding must not depend on the body: a body that looks like another header.
        buf.put_slice(&[0, 0, 0, 3, 0, 12, 0, 0, 0, 9]);
    }
    frame(&buf)
}

fn response(key: ApiKey, version: i16, correlation_id: i32, body_len: usize) -> Vec<u8> {
    let api = Api::from_key(key as i16).unwrap();
    let mut buf = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, api.response_header_version(version))
        .unwrap();
    buf.put_bytes(0xab, body_len);
    frame(&buf)
}

/// Every (api, version) the filter decodes, with the frames a client and a broker would send.
fn all_exchanges() -> Vec<(ApiKey, i16, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut id = 1;
    for key in ApiKey::iter() {
        let range = key.valid_versions();
        for version in range.min..=range.max {
            let client = if id % 3 == 0 {
                None
            } else {
                Some("meshka-test")
            };
            out.push((
                key,
                version,
                request(key, version, id, client, -1),
                response(key, version, id, 5),
            ));
            id += 1;
        }
    }
    out
}

/// (api key, version, correlation id, client id) of a decoded request.
type Seen = (i16, i16, i32, Option<Vec<u8>>);

/// Feeds `stream` in pieces cut at `cuts`, collecting decoded requests.
fn feed_requests(session: &mut Session, stream: &[u8], cuts: &[usize]) -> Result<Vec<Seen>, Error> {
    let mut seen = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&stream.len())) {
        let mut piece = &stream[start..end];
        session.on_request_data(&mut piece, 0, |ev| {
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
                for mut piece in [a, b] {
                    s.on_response_data(&mut piece, 5, |ev| {
                        matched.push((ev.api.key(), ev.api_version, ev.correlation_id, ev.latency))
                    })
                    .unwrap();
                }
                assert_eq!(
                    matched,
                    vec![(key as i16, version, cid, 5); 2],
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
        let mut piece = byte;
        session.on_response_data(&mut piece, 0, |_| n += 1).unwrap();
    }
    assert_eq!(n, exchanges.len());
    assert_eq!(session.in_flight(), 0);
}

#[test]
fn produce_with_acks_zero_expects_no_response() {
    for version in ApiKey::Produce.valid_versions().min..=ApiKey::Produce.valid_versions().max {
        let mut session = Session::new(LIMITS);
        let stream = [
            request(ApiKey::Produce, version, 1, Some("p"), 0),
            request(ApiKey::Produce, version, 2, Some("p"), 1),
        ]
        .concat();
        let mut acks = Vec::new();
        let mut piece = &stream[..];
        session
            .on_request_data(&mut piece, 0, |ev| acks.push(ev.head.acks))
            .unwrap();
        assert_eq!(acks, vec![Some(0), Some(1)], "v{version}");
        assert_eq!(session.in_flight(), 1, "v{version}");
    }
}

#[test]
fn large_payloads_are_skipped_not_copied() {
    let mut req = request(ApiKey::Produce, 9, 1, Some("p"), 1);
    let extra = 1 << 19;
    req.extend(std::iter::repeat_n(0u8, extra));
    let len = (req.len() - 4) as i32;
    req[..4].copy_from_slice(&len.to_be_bytes());
    let mut session = Session::new(LIMITS);
    let mut piece = &req[..];
    let copied = session.on_request_data(&mut piece, 0, |_| {}).unwrap();
    assert!(
        copied <= 4 + 128,
        "copied {copied} bytes of a {} byte frame",
        req.len()
    );
    assert!(session.at_boundary());
}

fn first_error(stream: &[u8], limits: Limits) -> Error {
    let mut session = Session::new(limits);
    let mut piece = stream;
    session.on_request_data(&mut piece, 0, |_| {}).unwrap_err()
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
    let mut piece = &request(ApiKey::Metadata, 12, 7, None, -1)[..];
    session.on_request_data(&mut piece, 0, |_| {}).unwrap();
    let mut wrong = &response(ApiKey::Metadata, 12, 8, 3)[..];
    assert_eq!(
        session.on_response_data(&mut wrong, 0, |_| {}).unwrap_err(),
        Error::UnexpectedResponse {
            got: 8,
            expected: Some(7)
        }
    );
    let mut fresh = Session::new(LIMITS);
    let mut unasked = &response(ApiKey::Metadata, 12, 1, 3)[..];
    assert_eq!(
        fresh.on_response_data(&mut unasked, 0, |_| {}).unwrap_err(),
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
            for mut piece in [a, b] {
                if session.on_request_data(&mut piece, 0, |_| {}).is_err() { break; }
                prop_assert!(session.held_bytes() <= 4 + LIMITS.max_header_bytes);
            }
            let mut session = Session::new(LIMITS);
            let mut piece = &data[..];
            let _ = session.on_response_data(&mut piece, 0, |_| {});
        }

        /// Every prefix of a valid frame is "need more", never an error.
        #[test]
        fn prefixes_need_more(idx in 0usize..200, cut in 0usize..400) {
            let exchanges = all_exchanges();
            let (_, _, req, _) = &exchanges[idx % exchanges.len()];
            let cut = cut % req.len();
            let mut session = Session::new(LIMITS);
            let mut piece = &req[..cut];
            let mut n = 0;
            session.on_request_data(&mut piece, 0, |_| n += 1).unwrap();
            prop_assert!(n <= 1);
        }
    }
}
