//! Response rewrites: an all-topics Metadata response without the topics the caller may not
//! describe, and an ApiVersions response limited to what the filter decodes.

use kafka_protocol::messages::ApiKey;

use super::checks::decodable_max;
use super::guard::field::*;
use super::{decode_request, decode_response, Edits, KafkaError, Node};
use crate::authz::ResourceType;

/// The highest ApiVersions response version `kafka-protocol` knows; a broker answers versions it
/// does not know with a v0 body (and `UNSUPPORTED_VERSION`).
fn api_versions_body_version(version: i16) -> i16 {
    let max = ApiKey::ApiVersions.valid_versions().max;
    if (0..=max).contains(&version) {
        version
    } else {
        0
    }
}

/// Metadata response for all topics: drops the topics `keep` says no to (Kafka omits topics the
/// caller may not `Describe`). A topic without a name (never sent by brokers for all-topics
/// requests) is dropped too: it cannot be authorized. `body` is the response after its header;
/// returns the new body at the same version.
pub fn filter_metadata_response(
    version: i16,
    body: &[u8],
    keep: &mut dyn FnMut(&str) -> bool,
) -> Result<Vec<u8>, KafkaError> {
    filter_listing_response(ApiKey::Metadata as i16, version, body, &mut |_, name| {
        keep(name)
    })
}

/// ApiVersions response: clamps every api's max version to what `kafka-protocol` decodes, raises
/// its min version to the lowest one the filter decodes, and drops apis the filter does not know
/// or whose versions do not overlap. Returns the new body. `version` is the request's version; a
/// version above the ones `kafka-protocol` knows is read as the v0 body brokers send then.
pub fn clamp_api_versions(version: i16, body: &[u8]) -> Result<Vec<u8>, KafkaError> {
    let version = api_versions_body_version(version);
    let r = decode_response(ApiKey::ApiVersions, version, body)?;
    let mut edits = Edits::default();
    let _ = edits.retain(&r, API_KEYS, |edits, api| {
        let Ok(key) = ApiKey::try_from(i16::try_from(api.int(API_KEY)).unwrap_or(-1)) else {
            return Ok::<bool, KafkaError>(false);
        };
        let range = key.valid_versions();
        let (min, max) = (api.int(MIN_VERSION), api.int(MAX_VERSION));
        let (new_min, new_max) = (
            min.max(range.min.into()),
            max.min(decodable_max(key).into()),
        );
        if new_min > new_max {
            return Ok(false);
        }
        for (field, old, new) in [(MIN_VERSION, min, new_min), (MAX_VERSION, max, new_max)] {
            if let (true, Some(span)) = (old != new, api.int_span(field)) {
                edits.int(span, new);
            }
        }
        Ok(true)
    });
    edits.apply(body, "ApiVersionsResponse", version)
}

/// The (name, topic id) pairs of a Metadata response (v10+ carries ids), for the filter's
/// id → name map. Topics with an error, without a name or with the nil id are left out.
pub fn metadata_topic_ids(
    version: i16,
    body: &[u8],
) -> Result<Vec<(String, [u8; 16])>, KafkaError> {
    let r = decode_response(ApiKey::Metadata, version, body)?;
    Ok(r.nodes(TOPICS)
        .filter(|t| t.int(ERROR_CODE) == 0 && t.uuid(TOPIC_ID) != [0; 16])
        .filter_map(|t| Some((t.str(NAME)?.to_owned(), t.uuid(TOPIC_ID))))
        .collect())
}

/// A Metadata request (body after its header) with `allow_auto_topic_creation` off, for a caller
/// that may not create some of the topics it names (v4+; before v4 the field does not exist and
/// the broker decides). Returns the new body.
pub fn disable_auto_create(version: i16, body: &[u8]) -> Result<Vec<u8>, KafkaError> {
    let r = decode_request(ApiKey::Metadata, version, body)?;
    let Some(span) = r.int_span(ALLOW_AUTO_TOPIC_CREATION) else {
        return Err(KafkaError::Encode {
            what: "MetadataRequest",
            version,
            reason: "versions before 4 always auto-create; refuse the request instead".to_owned(),
        });
    };
    let mut edits = Edits::default();
    edits.int(span, 0);
    edits.apply(body, "MetadataRequest", version)
}

/// A listing response without the resources `keep` says no to, for the requests whose
/// [`RequestChecks::filters_response`](super::RequestChecks) is set — Kafka lists only what the
/// caller may `Describe`:
/// - Metadata: topics (as [`filter_metadata_response`]);
/// - ListGroups: groups (`keep(Group, id)`); Kafka lists them all for cluster `Describe`;
/// - ListTransactions: transactional ids;
/// - DescribeTopicPartitions: topics; a pagination cursor pointing at a dropped topic is
///   dropped too (the listing then ends there);
/// - OffsetFetch for all of a group's topics: the topics.
///
/// `keep` gets the resource type and name; `version` is the request's. Returns the new body.
pub fn filter_listing_response(
    api_key: i16,
    version: i16,
    body: &[u8],
    keep: &mut dyn FnMut(ResourceType, &str) -> bool,
) -> Result<Vec<u8>, KafkaError> {
    use ResourceType::{Group, Topic, TransactionalId};
    let key = super::api(api_key, version)?;
    let (array, resource, name) = match key {
        ApiKey::Metadata | ApiKey::DescribeTopicPartitions | ApiKey::OffsetFetch => {
            (TOPICS, Topic, NAME)
        }
        ApiKey::ListGroups => (GROUPS, Group, GROUP_ID),
        ApiKey::ListTransactions => (TRANSACTION_STATES, TransactionalId, TRANSACTIONAL_ID),
        other => {
            return Err(KafkaError::NoListingFilter {
                api: super::api_name(other),
            })
        }
    };
    let r = decode_response(key, version, body)?;
    let mut edits = Edits::default();
    // An entry without a name cannot be authorized: it goes.
    let mut named = |edits: &mut Edits, node: &Node<'_>| -> Result<(), KafkaError> {
        edits.retain(node, array, |_, t| {
            Ok(t.str(name).is_some_and(|n| keep(resource, n)))
        })
    };
    named(&mut edits, &r)?;
    if key == ApiKey::OffsetFetch {
        for g in r.nodes(GROUPS) {
            named(&mut edits, g)?;
        }
    }
    if let Some(cursor) = r.node(NEXT_CURSOR) {
        if !keep(Topic, cursor.text(TOPIC_NAME)) {
            edits.null(cursor.span());
        }
    }
    edits.apply(body, "response", version)
}

/// A Fetch request (body after its header) without a fetch session: session id 0 and epoch −1
/// (a full, sessionless fetch; the broker answers with session id 0, and clients go on sending
/// full fetches), no forgotten topics. Every fetch then names every partition it wants, so
/// every fetch is authorized on all of them. Returns the new body.
pub fn disable_fetch_session(version: i16, body: &[u8]) -> Result<Vec<u8>, KafkaError> {
    match super::fetch_walk::fetch_without_session(version, body) {
        Some(out) => Ok(out),
        None => decoded_without_session(version, body),
    }
}

/// [`disable_fetch_session`] through the tables' tree.
pub(crate) fn decoded_without_session(version: i16, body: &[u8]) -> Result<Vec<u8>, KafkaError> {
    let r = decode_request(ApiKey::Fetch, version, body)?;
    let mut edits = Edits::default();
    if version >= 7 {
        for (field, value) in [(SESSION_ID, 0), (SESSION_EPOCH, -1)] {
            if let Some(span) = r.int_span(field) {
                edits.int(span, value);
            }
        }
        let _ = edits.retain(&r, FORGOTTEN_TOPICS_DATA, |_, _| {
            Ok::<bool, KafkaError>(false)
        });
    }
    // Bytes after the message go, as `fetch_walk` leaves them out.
    let message = body.get(..r.span().1).unwrap_or(body);
    edits.apply(message, "FetchRequest", version)
}
