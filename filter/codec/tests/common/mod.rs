//! Frames encoded by `kafka-protocol` and sessions fed piece by piece, for the codec's tests.
#![allow(
    dead_code,
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
use meshka_codec::session::Observe;
use meshka_codec::{Error, Hooks, Limits, Output, RequestEvent, ResponseEvent, Session};

pub const LIMITS: Limits = Limits {
    max_frame_bytes: 1 << 20,
    max_header_bytes: 4096,
    max_in_flight: 64,
    max_hold_bytes: 1 << 20,
};

pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

pub fn request(
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

pub fn response(key: ApiKey, version: i16, correlation_id: i32, body_len: usize) -> Vec<u8> {
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
pub fn all_exchanges() -> Vec<(ApiKey, i16, Vec<u8>, Vec<u8>)> {
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

/// Feeds requests to an observing session; the output must be the input, untouched.
pub fn observe_requests(
    session: &mut Session,
    piece: &[u8],
    mut f: impl FnMut(&RequestEvent<'_>),
) -> Result<usize, Error> {
    let mut out = Output::default();
    let mut hooks = Observe(|req: Option<RequestEvent<'_>>, _: Option<ResponseEvent>| {
        if let Some(r) = req {
            f(&r)
        }
    });
    let mut src = piece;
    let copied = session.on_request_data(&mut src, 0, &mut hooks, &mut out)?;
    assert!(
        out.is_unchanged(piece.len()),
        "an observing session changed the stream: {out:?}"
    );
    Ok(copied)
}

/// Feeds responses to an observing session at time `now`.
pub fn observe_responses(
    session: &mut Session,
    piece: &[u8],
    now: u64,
    mut f: impl FnMut(ResponseEvent),
) -> Result<usize, Error> {
    let mut out = Output::default();
    let mut hooks = Observe(|_: Option<RequestEvent<'_>>, resp: Option<ResponseEvent>| {
        if let Some(r) = resp {
            f(r)
        }
    });
    let mut src = piece;
    let copied = session.on_response_data(&mut src, now, &mut hooks, &mut out)?;
    assert!(
        out.is_unchanged(piece.len()),
        "an observing session changed the stream: {out:?}"
    );
    Ok(copied)
}

/// Feeds `stream` cut at `cuts` through `hooks`, returning what went on to the peer.
pub fn edit(
    session: &mut Session,
    hooks: &mut dyn Hooks,
    stream: &[u8],
    cuts: &[usize],
    responses: bool,
) -> Result<Vec<u8>, Error> {
    let mut sent = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&stream.len())) {
        let piece = &stream[start..end];
        let mut out = Output::default();
        let mut src = piece;
        if responses {
            session.on_response_data(&mut src, 0, hooks, &mut out)?;
        } else {
            session.on_request_data(&mut src, 0, hooks, &mut out)?;
        }
        sent.extend(out.render(piece).unwrap());
        start = end;
    }
    Ok(sent)
}
