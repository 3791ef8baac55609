//! A consumer's Fetch decided without decoding it. Its checks need only the topic names (or
//! ids) and whether it uses a fetch session; the walk reads those in place and steps over each
//! partition's fixed-size fields, where a full decode copies the body and allocates per topic
//! and per partition. Whatever it does not read the plain way — a follower's fetch, tagged
//! fields, a null or non-UTF-8 name, a count that cannot be right, a version kafka-protocol does
//! not decode — is left to the full decode, which also answers malformed requests.
//!
//! The same walk drops a fetch session in place (`fetch_without_session`): the session id and
//! epoch are overwritten and the forgotten topics cut out, where the full path decodes and
//! re-encodes the whole request.

use kafka_protocol::messages::ApiKey;
use meshka_codec::reader::{Field, Reader};

use super::checks::decodable_max;
use super::{Check, RequestChecks};
use crate::authz::{Operation, ResourceType};

/// The first Fetch version with flexible (compact) encodings.
const FLEXIBLE: i16 = 12;
/// The first version that names topics by id.
const TOPIC_IDS: i16 = 13;
/// The first version whose replica id moved into the (tagged) replica state.
const REPLICA_STATE: i16 = 15;

/// The checks of a consumer's Fetch of `version` (`body` after the request header), as the full
/// decode in `request_checks` makes them; `None` to leave the request to that decode.
pub(crate) fn fetch_checks(version: i16, body: &[u8]) -> Option<RequestChecks> {
    walk(version, body).map(|w| w.checks)
}

/// A consumer's Fetch body without its fetch session, as `disable_fetch_session` makes it by
/// decoding and re-encoding: session id 0, epoch −1, no forgotten topics, nothing after the
/// message. `None` to leave the request to that path.
pub(crate) fn fetch_without_session(version: i16, body: &[u8]) -> Option<Vec<u8>> {
    let w = walk(version, body)?;
    let Some(session_at) = w.session_at else {
        // Before v7 there is no session: the body as the encoder writes it.
        return Some(body.get(..w.end)?.to_vec());
    };
    let empty: &[u8] = if version >= FLEXIBLE { &[1] } else { &[0; 4] };
    let (forgotten_start, forgotten_end) = w.forgotten;
    let mut out = Vec::with_capacity(w.end);
    out.extend_from_slice(body.get(..session_at)?);
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.extend_from_slice(body.get(session_at.checked_add(8)?..forgotten_start)?);
    out.extend_from_slice(empty);
    out.extend_from_slice(body.get(forgotten_end..w.end)?);
    Some(out)
}

/// What the walk found, and where.
struct Walk {
    checks: RequestChecks,
    /// Where the session id (and the epoch after it) sits, from v7.
    session_at: Option<usize>,
    /// The forgotten topics array, its count included (empty before v7).
    forgotten: (usize, usize),
    /// Where the message ends.
    end: usize,
}

fn walk(version: i16, body: &[u8]) -> Option<Walk> {
    let key = ApiKey::Fetch;
    if version < key.valid_versions().min || version > decodable_max(key) {
        return None;
    }
    let flexible = version >= FLEXIBLE;
    let mut r = Reader::new(body);
    if version < REPLICA_STATE && r.i32()? >= 0 {
        // A follower's fetch (ClusterAction): rare, decided by the full decode.
        return None;
    }
    // max_wait_ms, min_bytes, max_bytes, isolation_level.
    r.take(4 + 4 + 4 + 1)?;
    let session_at = (version >= 7).then(|| r.position());
    // A session from v7: no session is id 0 with epoch -1.
    let fetch_session = match session_at {
        Some(_) => (r.i32()?, r.i32()?) != (0, -1),
        None => false,
    };
    let mut rc = RequestChecks {
        fetch_session,
        ..RequestChecks::default()
    };
    // partition, current_leader_epoch (v9+), fetch_offset, last_fetched_epoch (v12+),
    // log_start_offset (v5+), partition_max_bytes.
    let partition_bytes = 4
        + if version >= 9 { 4 } else { 0 }
        + 8
        + if flexible { 4 } else { 0 }
        + if version >= 5 { 8 } else { 0 }
        + 4;
    for _ in 0..count(&mut r, flexible)? {
        let check = if version >= TOPIC_IDS {
            Check::topic_id(id(&mut r)?, Operation::Read)
        } else {
            Check::named(
                ResourceType::Topic,
                name(&mut r, flexible)?,
                Operation::Read,
            )
        };
        for _ in 0..count(&mut r, flexible)? {
            r.take(partition_bytes)?;
            no_tags(&mut r, flexible)?;
        }
        no_tags(&mut r, flexible)?;
        rc.push(check);
    }
    let forgotten_start = r.position();
    if version >= 7 {
        // Forgotten topics: not checked, but read as the full decode reads them.
        for _ in 0..count(&mut r, flexible)? {
            if version >= TOPIC_IDS {
                id(&mut r)?;
            } else {
                name(&mut r, flexible)?;
            }
            let partitions = count(&mut r, flexible)?;
            r.take(partitions.checked_mul(4)?)?;
            no_tags(&mut r, flexible)?;
        }
    }
    let forgotten = (forgotten_start, r.position());
    if version >= 11 {
        name(&mut r, flexible)?; // rack_id
    }
    // From v15 a replica id would be in the tagged fields: none means a consumer. Bytes after
    // them are ignored, as the broker and the full decode ignore them.
    no_tags(&mut r, flexible)?;
    Some(Walk {
        checks: rc,
        session_at,
        forgotten,
        end: r.position(),
    })
}

/// An array's element count: `None` for null, negative, or more elements than bytes remain
/// (each element takes at least one byte).
fn count(r: &mut Reader<'_>, flexible: bool) -> Option<usize> {
    let n = if flexible {
        i64::from(r.uvarint()?.ok()?) - 1
    } else {
        i64::from(r.i32()?)
    };
    let n = usize::try_from(n).ok()?;
    (n <= r.remaining()).then_some(n)
}

/// A non-null UTF-8 string.
fn name<'a>(r: &mut Reader<'a>, flexible: bool) -> Option<&'a str> {
    match r.nullable_string(flexible, "name") {
        Field::Value(Some(bytes)) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}

fn id(r: &mut Reader<'_>) -> Option<[u8; 16]> {
    r.take(16)?.try_into().ok()
}

/// An empty tagged-field section (flexible versions only).
fn no_tags(r: &mut Reader<'_>, flexible: bool) -> Option<()> {
    if flexible && r.uvarint()?.ok()? != 0 {
        return None;
    }
    Some(())
}
