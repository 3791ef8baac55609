//! Response rewrites: an all-topics Metadata response without the topics the caller may not
//! describe, and an ApiVersions response limited to what the filter decodes.

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, MetadataRequest, MetadataResponse};

use super::checks::decodable_max;
use super::{decode, encode, guard, guard_request, guard_response, id_bytes, KafkaError};

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
    guard_response("MetadataResponse", guard::metadata_response, version, body)?;
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
    guard_response(
        "ApiVersionsResponse",
        guard::api_versions_response,
        version,
        body,
    )?;
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
    guard_response("MetadataResponse", guard::metadata_response, version, body)?;
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
