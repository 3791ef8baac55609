//! Decisions applied to the stream: denied requests swapped for a harmless one whose response is
//! swapped for the denial, dropped requests, rewritten responses — at every split point.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use kafka_protocol::messages::ApiKey;
use meshka_codec::head::RequestHead;
use meshka_codec::inflight::{Pending, Rewrite};
use meshka_codec::session::substitute_request;
use meshka_codec::{Error, Hooks, Session, Verdict};

/// Denies Metadata, drops acks=0 Produce, reverses Fetch response bodies.
struct Rules {
    denial: Vec<u8>,
}

impl Hooks for Rules {
    fn inspect_requests(&self) -> bool {
        true
    }
    fn on_request(&mut self, head: &RequestHead<'_>, _body: &[u8]) -> Result<Verdict, Error> {
        Ok(match head.api.key() {
            3 => Verdict::Deny(self.denial.clone()),
            0 if head.acks == Some(0) => Verdict::Drop,
            1 => Verdict::Forward(Rewrite::Transform(7)),
            _ => Verdict::Forward(Rewrite::None),
        })
    }
    fn on_response(&mut self, request: &Pending, tag: u32, body: &[u8]) -> Result<Vec<u8>, Error> {
        assert_eq!((request.api.key(), tag), (1, 7));
        Ok(body.iter().rev().copied().collect())
    }
}

#[test]
fn denials_substitutions_and_rewrites_at_every_split() {
    let produce = request(ApiKey::Produce, 9, 1, Some("p"), 1);
    let metadata = request(ApiKey::Metadata, 12, 2, Some("p"), -1);
    let fire_and_forget = request(ApiKey::Produce, 9, 3, Some("p"), 0);
    let fetch = request(ApiKey::Fetch, 12, 4, Some("p"), -1);
    let requests = [produce.clone(), metadata, fire_and_forget, fetch.clone()].concat();
    let expected_requests = [produce, substitute_request(2), fetch].concat();

    let denial = response(ApiKey::Metadata, 12, 2, 11);
    // Fetch v12 has a flexible response header: correlation id then an empty tagged-field section.
    let fetch_response = frame(&[0, 0, 0, 4, 0, 1, 2, 3]);
    let responses = [
        response(ApiKey::Produce, 9, 1, 6),
        response(ApiKey::ApiVersions, 0, 2, 3),
        fetch_response,
    ]
    .concat();
    let expected_responses = [
        response(ApiKey::Produce, 9, 1, 6),
        denial.clone(),
        frame(&[0, 0, 0, 4, 0, 3, 2, 1]),
    ]
    .concat();

    for cut in 0..=requests.len() {
        let mut session = Session::new(LIMITS);
        let mut rules = Rules {
            denial: denial.clone(),
        };
        let sent = edit(&mut session, &mut rules, &requests, &[cut], false).unwrap();
        assert_eq!(sent, expected_requests, "requests cut at {cut}");
        assert_eq!(session.in_flight(), 3);
        for rcut in 0..=responses.len() {
            let mut s = Session::new(LIMITS);
            edit(&mut s, &mut rules, &requests, &[], false).unwrap();
            let back = edit(&mut s, &mut rules, &responses, &[rcut], true).unwrap();
            assert_eq!(back, expected_responses, "responses cut at {rcut}");
            assert!(s.at_boundary());
            assert_eq!(s.in_flight(), 0);
        }
    }
}

#[test]
fn one_byte_reads_with_edits() {
    let requests = [
        request(ApiKey::Metadata, 12, 1, None, -1),
        request(ApiKey::Produce, 3, 2, None, 1),
        request(ApiKey::Metadata, 4, 3, None, -1),
    ]
    .concat();
    let mut session = Session::new(LIMITS);
    let mut rules = Rules {
        denial: b"DENIED".to_vec(),
    };
    let cuts: Vec<usize> = (1..requests.len()).collect();
    let sent = edit(&mut session, &mut rules, &requests, &cuts, false).unwrap();
    assert_eq!(
        sent,
        [
            substitute_request(1),
            request(ApiKey::Produce, 3, 2, None, 1),
            substitute_request(3)
        ]
        .concat()
    );
    let responses = [
        response(ApiKey::ApiVersions, 0, 1, 2),
        response(ApiKey::Produce, 3, 2, 9),
        response(ApiKey::ApiVersions, 0, 3, 2),
    ]
    .concat();
    let cuts: Vec<usize> = (1..responses.len()).collect();
    let back = edit(&mut session, &mut rules, &responses, &cuts, true).unwrap();
    assert_eq!(
        back,
        [
            b"DENIED".to_vec(),
            response(ApiKey::Produce, 3, 2, 9),
            b"DENIED".to_vec()
        ]
        .concat()
    );
}

#[test]
fn held_frames_are_bounded() {
    let mut produce = request(ApiKey::Produce, 9, 1, Some("p"), 1);
    produce.extend(std::iter::repeat_n(0u8, 5000));
    let len = (produce.len() - 4) as i32;
    produce[..4].copy_from_slice(&len.to_be_bytes());
    let mut session = Session::new(meshka_codec::Limits {
        max_hold_bytes: 4096,
        ..LIMITS
    });
    let mut rules = Rules { denial: vec![] };
    let err = edit(&mut session, &mut rules, &produce, &[], false).unwrap_err();
    assert!(
        matches!(err, Error::FrameTooLargeToHold { max: 4096, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("maxHoldBytes"));
}

/// Rewrites ListOffsets bodies, keeping the header byte for byte.
struct RewriteBodies;

impl Hooks for RewriteBodies {
    fn inspect_requests(&self) -> bool {
        true
    }
    fn on_request(&mut self, head: &RequestHead<'_>, _body: &[u8]) -> Result<Verdict, Error> {
        Ok(if head.api.key() == 2 {
            Verdict::ForwardRewritten(b"new body".to_vec(), Rewrite::None)
        } else {
            Verdict::Forward(Rewrite::None)
        })
    }
}

#[test]
fn rewritten_requests_keep_their_header() {
    let list = request(ApiKey::ListOffsets, 9, 5, Some("client"), -1);
    let meta = request(ApiKey::Metadata, 12, 6, Some("client"), -1);
    let stream = [list.clone(), meta.clone()].concat();
    // The header of ListOffsets v9: key, version, correlation id, client id, tagged fields.
    let header_len = 2 + 2 + 4 + 2 + "client".len() + 1 + 1 + 1 + 3;
    let expected = [
        frame(&[&list[4..4 + header_len], b"new body"].concat()),
        meta,
    ]
    .concat();
    for cut in 0..=stream.len() {
        let mut session = Session::new(LIMITS);
        let sent = edit(&mut session, &mut RewriteBodies, &stream, &[cut], false).unwrap();
        assert_eq!(sent, expected, "cut at {cut}");
    }
}
