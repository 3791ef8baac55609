//! Request and response heads: the header plus the few body fields a decision needs.
//!
//! Each parser takes the bytes of a frame seen so far (after the 4-byte length) and the frame's
//! full length, and returns `Ok(None)` while more bytes could complete the head.

use crate::api::Api;
use crate::reader::{Field, Reader};
use crate::Error;

/// `Produce` is the only request whose head reaches into the body: `acks = 0` means no response
/// will come, so nothing may wait for one.
const PRODUCE: i16 = 0;
/// The first `Produce` version with flexible (compact) encodings.
const PRODUCE_FLEXIBLE: i16 = 9;

/// The decoded start of a request frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    pub api: Api,
    pub api_version: i16,
    pub correlation_id: i32,
    /// `None` when the client sent a null client id.
    pub client_id: Option<&'a [u8]>,
    /// Produce only: the transactional id, when set.
    pub transactional_id: Option<&'a [u8]>,
    /// Produce only: the acks field.
    pub acks: Option<i16>,
    /// Bytes of the frame (after the length prefix) the request header spans; the body follows.
    pub header_len: usize,
    /// Bytes of the frame (after the length prefix) this head spans (the header, and for
    /// Produce the fields read from the body).
    pub len: usize,
}

impl RequestHead<'_> {
    /// Whether the broker answers this request (Produce with `acks = 0` gets no response).
    pub fn expects_response(&self) -> bool {
        self.acks != Some(0)
    }
}

/// The decoded start of a response frame: responses carry only the correlation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub correlation_id: i32,
}

fn incomplete<T>(seen: usize, frame_len: usize, what: &'static str) -> Result<Option<T>, Error> {
    if seen >= frame_len {
        Err(Error::Truncated {
            what,
            len: frame_len,
        })
    } else {
        Ok(None)
    }
}

macro_rules! field {
    ($e:expr, $seen:expr, $frame_len:expr, $what:expr) => {
        match $e {
            Field::Value(v) => v,
            Field::Incomplete => return incomplete($seen, $frame_len, $what),
            Field::Invalid(what) => return Err(Error::Malformed { what }),
        }
    };
}

/// Decodes a request head from the first bytes of a frame.
pub fn parse_request(seen: &[u8], frame_len: usize) -> Result<Option<RequestHead<'_>>, Error> {
    const WHAT: &str = "request header";
    let mut r = Reader::new(seen);
    let (Some(key), Some(api_version), Some(correlation_id)) = (r.i16(), r.i16(), r.i32()) else {
        return incomplete(seen.len(), frame_len, WHAT);
    };
    let api = Api::from_key(key).ok_or(Error::UnknownApiKey(key))?;
    if !api.supports(api_version) {
        let (min, max) = api.versions();
        return Err(Error::UnsupportedVersion {
            api: api.name(),
            version: api_version,
            min,
            max,
        });
    }
    let client_id = field!(
        r.nullable_string(false, "client id"),
        seen.len(),
        frame_len,
        WHAT
    );
    if api.request_header_version(api_version) >= 2 {
        field!(
            r.skip_tagged_fields("request header tagged fields"),
            seen.len(),
            frame_len,
            WHAT
        );
    }
    let mut head = RequestHead {
        api,
        api_version,
        correlation_id,
        client_id,
        transactional_id: None,
        acks: None,
        header_len: r.position(),
        len: 0,
    };
    if key == PRODUCE {
        const WHAT: &str = "produce request";
        let compact = api_version >= PRODUCE_FLEXIBLE;
        head.transactional_id = field!(
            r.nullable_string(compact, "transactional id"),
            seen.len(),
            frame_len,
            WHAT
        );
        let Some(acks) = r.i16() else {
            return incomplete(seen.len(), frame_len, WHAT);
        };
        head.acks = Some(acks);
    }
    head.len = r.position();
    Ok(Some(head))
}

/// Decodes a response head (the correlation id) from the first bytes of a frame.
pub fn parse_response(seen: &[u8], frame_len: usize) -> Result<Option<ResponseHead>, Error> {
    match Reader::new(seen).i32() {
        Some(correlation_id) => Ok(Some(ResponseHead { correlation_id })),
        None => incomplete(seen.len(), frame_len, "response header"),
    }
}
