//! Response rewrites: an all-topics Metadata response without the topics the caller may not
//! describe, and an ApiVersions response limited to what the filter decodes.

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, DescribeTopicPartitionsResponse, FetchRequest, ListGroupsResponse,
    ListTransactionsResponse, MetadataRequest, MetadataResponse, OffsetFetchResponse,
};

use super::checks::decodable_max;
use super::{decode, encode, guard_request, guard_response, id_bytes, KafkaError};
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
    let body = &Bytes::copy_from_slice(body);
    guard_response(ApiKey::Metadata, version, body)?;
    let mut response: MetadataResponse = decode("MetadataResponse", body, version)?;
    response.topics.retain(|t| match &t.name {
        Some(name) => keep(name.0.as_str()),
        None => false,
    });
    encode("MetadataResponse", &response, version)
}

/// ApiVersions response: clamps every api's max version to what `kafka-protocol` decodes, raises
/// its min version to the lowest one the filter decodes, and drops apis the filter does not know
/// or whose versions do not overlap. Returns the new body. `version` is the request's version; a
/// version above the ones `kafka-protocol` knows is read as the v0 body brokers send then.
pub fn clamp_api_versions(version: i16, body: &[u8]) -> Result<Vec<u8>, KafkaError> {
    let body = &Bytes::copy_from_slice(body);
    let version = api_versions_body_version(version);
    guard_response(ApiKey::ApiVersions, version, body)?;
    let mut response: ApiVersionsResponse = decode("ApiVersionsResponse", body, version)?;
    response.api_keys.retain_mut(|api| {
        let Ok(key) = ApiKey::try_from(api.api_key) else {
            return false;
        };
        let range = key.valid_versions();
        api.min_version = api.min_version.max(range.min);
        api.max_version = api.max_version.min(decodable_max(key));
        api.min_version <= api.max_version
    });
    encode("ApiVersionsResponse", &response, version)
}

/// The (name, topic id) pairs of a Metadata response (v10+ carries ids), for the filter's
/// id → name map. Topics with an error, without a name or with the nil id are left out.
pub fn metadata_topic_ids(
    version: i16,
    body: &[u8],
) -> Result<Vec<(String, [u8; 16])>, KafkaError> {
    let body = &Bytes::copy_from_slice(body);
    guard_response(ApiKey::Metadata, version, body)?;
    let response: MetadataResponse = decode("MetadataResponse", body, version)?;
    Ok(response
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && !t.topic_id.is_nil())
        .filter_map(|t| {
            Some((
                t.name.as_ref()?.0.as_str().to_owned(),
                id_bytes(&t.topic_id),
            ))
        })
        .collect())
}

/// A Metadata request (body after its header) with `allow_auto_topic_creation` off, for a caller
/// that may not create some of the topics it names (v4+; before v4 the field does not exist and
/// the broker decides). Returns the new body.
pub fn disable_auto_create(version: i16, body: &[u8]) -> Result<Vec<u8>, KafkaError> {
    let body = &Bytes::copy_from_slice(body);
    guard_request(ApiKey::Metadata, version, body)?;
    let mut request: MetadataRequest = decode("MetadataRequest", body, version)?;
    if version < 4 {
        return Err(KafkaError::Encode {
            what: "MetadataRequest",
            version,
            reason: "versions before 4 always auto-create; refuse the request instead".to_owned(),
        });
    }
    request.allow_auto_topic_creation = false;
    encode("MetadataRequest", &request, version)
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
    let key = super::api(api_key, version)?;
    let body = &Bytes::copy_from_slice(body);
    match key {
        ApiKey::Metadata => {
            guard_response(key, version, body)?;
            let mut r: MetadataResponse = decode("MetadataResponse", body, version)?;
            r.topics.retain(|t| match &t.name {
                Some(name) => keep(ResourceType::Topic, name.0.as_str()),
                None => false,
            });
            encode("MetadataResponse", &r, version)
        }
        ApiKey::ListGroups => {
            guard_response(key, version, body)?;
            let mut r: ListGroupsResponse = decode("ListGroupsResponse", body, version)?;
            r.groups
                .retain(|g| keep(ResourceType::Group, g.group_id.0.as_str()));
            encode("ListGroupsResponse", &r, version)
        }
        ApiKey::ListTransactions => {
            guard_response(key, version, body)?;
            let mut r: ListTransactionsResponse =
                decode("ListTransactionsResponse", body, version)?;
            r.transaction_states
                .retain(|t| keep(ResourceType::TransactionalId, t.transactional_id.0.as_str()));
            encode("ListTransactionsResponse", &r, version)
        }
        ApiKey::DescribeTopicPartitions => {
            guard_response(key, version, body)?;
            let mut r: DescribeTopicPartitionsResponse =
                decode("DescribeTopicPartitionsResponse", body, version)?;
            r.topics.retain(|t| match &t.name {
                Some(name) => keep(ResourceType::Topic, name.0.as_str()),
                None => false,
            });
            if let Some(cursor) = &r.next_cursor {
                if !keep(ResourceType::Topic, cursor.topic_name.0.as_str()) {
                    r.next_cursor = None;
                }
            }
            encode("DescribeTopicPartitionsResponse", &r, version)
        }
        ApiKey::OffsetFetch => {
            guard_response(key, version, body)?;
            let mut r: OffsetFetchResponse = decode("OffsetFetchResponse", body, version)?;
            r.topics
                .retain(|t| keep(ResourceType::Topic, t.name.0.as_str()));
            for g in &mut r.groups {
                g.topics
                    .retain(|t| keep(ResourceType::Topic, t.name.0.as_str()));
            }
            encode("OffsetFetchResponse", &r, version)
        }
        other => Err(KafkaError::NoListingFilter {
            api: super::api_name(other),
        }),
    }
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

/// [`disable_fetch_session`] by a full (guarded) decode and re-encode.
pub(crate) fn decoded_without_session(version: i16, body: &[u8]) -> Result<Vec<u8>, KafkaError> {
    let body = &Bytes::copy_from_slice(body);
    guard_request(ApiKey::Fetch, version, body)?;
    let mut request: FetchRequest = decode("FetchRequest", body, version)?;
    if version >= 7 {
        request.session_id = 0;
        request.session_epoch = -1;
        request.forgotten_topics_data.clear();
    }
    encode("FetchRequest", &request, version)
}
