//! The host-independent Kafka half of authorization: what a request needs, and what a broker
//! answers when its ACLs say no.
//!
//! - [`request_checks`] maps a request (api key, version, body after the header) to the
//!   [`Check`]s Kafka's broker (`KafkaApis` with `StandardAuthorizer`) makes for it; the table is
//!   in `filter/policy/KAFKA_CHECKS.md`.
//! - [`deny_response`] builds the whole response frame a broker sends when every resource of the
//!   request is denied: the authorization error on every partition, topic, group or
//!   transactional id the response carries, and on its top-level error code.
//! - [`deny_response_for`] does the same when the outer checks passed and a later one failed;
//!   [`split_request`] / [`merge_response`] forward the allowed part of a partly denied request
//!   and merge the denied part's errors into the broker's response.
//! - [`filter_metadata_response`] / [`filter_listing_response`] drop what the caller may not
//!   describe from listings; [`clamp_api_versions`] limits an ApiVersions response to what
//!   `kafka-protocol` decodes; [`metadata_topic_ids`] feeds the filter's id → name map;
//!   [`disable_auto_create`] turns off Metadata auto-creation.
//!
//! Bodies are read by tables generated from kafka-protocol 0.18's own decoders (`kafka/guard.rs`,
//! [`decode_request`]) into a tree of named fields, and changed where their bytes sit
//! (`kafka/splice.rs`); denials carrying only top-level fields are written from the same tables
//! (`guard::write_response`), the others still encoded with `kafka-protocol` (nothing here
//! decodes with it: kafka-protocol 0.18 pre-allocates arrays by the count on the wire and would
//! abort the VM on a few hostile bytes). Nothing here panics on bad input: every problem is a
//! [`KafkaError`].

mod checks;
mod deny;
mod fetch_walk;
mod guard;
mod produce_start;
mod responses;
mod splice;
mod split;

#[cfg(test)]
mod tests;

use bytes::BytesMut;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Encodable;

pub(crate) use checks::decodable_max;
pub use checks::request_checks;
pub use deny::{deny_response, deny_response_for, deny_response_with_code, UNKNOWN_TOPIC_ID};
pub(crate) use guard::{field, Element, Node};
pub use produce_start::{
    produce_response_topic, produce_start, topic_name_field, ProduceStart, ProduceTopic,
};
pub use responses::{
    clamp_api_versions, disable_auto_create, disable_fetch_session, filter_listing_response,
    filter_metadata_response, metadata_topic_ids,
};
pub(crate) use splice::{Edits, Span};
pub use split::{merge_response, split_request, Denied, Split};

use crate::authz::{Operation, ResourceType, CLUSTER_NAME};

/// `TOPIC_AUTHORIZATION_FAILED`.
pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
/// `GROUP_AUTHORIZATION_FAILED`.
pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
/// `CLUSTER_AUTHORIZATION_FAILED`.
pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
/// `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`.
pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;

/// One authorization check Kafka's broker makes for a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Check {
    pub resource: ResourceType,
    pub name: Resource,
    pub operation: Operation,
}

impl Check {
    /// A check on a named resource.
    pub fn named(resource: ResourceType, name: impl Into<String>, operation: Operation) -> Check {
        Check {
            resource,
            name: Resource::Name(name.into()),
            operation,
        }
    }

    /// A check on a topic named by its id (the filter resolves the id to a name).
    pub fn topic_id(id: [u8; 16], operation: Operation) -> Check {
        Check {
            resource: ResourceType::Topic,
            name: Resource::TopicId(id),
            operation,
        }
    }

    /// A check on the cluster resource (`kafka-cluster`).
    pub fn cluster(operation: Operation) -> Check {
        Check::named(ResourceType::Cluster, CLUSTER_NAME, operation)
    }

    /// The error code Kafka answers with when this check fails.
    pub fn error_code(&self) -> i16 {
        error_code(self.resource)
    }
}

/// The Kafka error code for a failed authorization on a resource type.
pub fn error_code(resource: ResourceType) -> i16 {
    match resource {
        ResourceType::Topic => TOPIC_AUTHORIZATION_FAILED,
        ResourceType::Group => GROUP_AUTHORIZATION_FAILED,
        ResourceType::TransactionalId => TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ResourceType::Cluster => CLUSTER_AUTHORIZATION_FAILED,
    }
}

/// The name of a checked resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// A topic, group, transactional id, or the cluster (`kafka-cluster`).
    Name(String),
    /// A topic named by its id; the filter resolves it to a name before deciding.
    TopicId([u8; 16]),
}

/// What a request needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestChecks {
    /// Every check the broker makes up front, in the order it makes them (outer resources such
    /// as the group or transactional id first). Duplicates are removed.
    pub checks: Vec<Check>,
    /// Metadata for all topics: the response lists topics the request did not name; filter it
    /// with [`filter_metadata_response`] (Kafka omits topics the caller may not `Describe`).
    pub all_topics: bool,
    /// The response lists resources the request did not name (ListGroups, ListTransactions,
    /// OffsetFetch of all a group's topics, DescribeTopicPartitions of all topics,
    /// DescribeLogDirs of all partitions): Kafka omits those the caller may not `Describe`.
    /// `all_topics` implies it.
    pub filters_response: bool,
    /// Metadata that may auto-create the topics it names (`allow_auto_topic_creation`, always
    /// on before v4): creating a topic needs `Create` on it (or on the cluster). Kafka answers a
    /// refused creation with `TOPIC_AUTHORIZATION_FAILED` for that topic.
    pub auto_create: Vec<Check>,
    /// Kafka skips every check in `checks` when the caller has this operation on the cluster:
    /// `Create` for CreateTopics and for Metadata auto-creation, `ClusterAction` for
    /// OffsetForLeaderEpoch.
    pub cluster_alternative: Option<Operation>,
    /// InitProducerId without a transactional id: Kafka allows it with `IdempotentWrite` on the
    /// cluster (the check in `checks`) *or* with `Write` on any topic.
    pub any_topic_write_alternative: bool,
    /// Produce with `acks=0`: the broker sends no response, so a denial cannot be answered.
    pub no_response: bool,
    /// A consumer Fetch (v7+) that opens or continues a fetch session. Incremental fetches
    /// name only the partitions that changed, so the checks above would miss the session's
    /// other partitions (Kafka's broker re-authorizes them all on every fetch): a revoked topic
    /// would keep flowing. Rewrite such requests with [`disable_fetch_session`] — every fetch
    /// then names all its partitions.
    pub fetch_session: bool,
}

impl RequestChecks {
    fn push(&mut self, check: Check) {
        if !self.checks.contains(&check) {
            self.checks.push(check);
        }
    }
}

/// Why a Kafka message could not be mapped, decoded or encoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KafkaError {
    #[error("api key {0} is not a Kafka api this filter knows; deny the request")]
    UnknownApiKey(i16),
    #[error("{api} v{version} is outside the versions this filter decodes ({min}..={max}); clients should negotiate a version through ApiVersions")]
    UnsupportedVersion {
        api: String,
        version: i16,
        min: i16,
        max: i16,
    },
    #[error("could not decode {what} v{version}: {reason}")]
    Decode {
        what: &'static str,
        version: i16,
        reason: String,
    },
    #[error("could not encode {what} v{version}: {reason}")]
    Encode {
        what: &'static str,
        version: i16,
        reason: String,
    },
    #[error("{api} requests are not mapped to authorization checks ({why}); deny the request")]
    NotCovered { api: String, why: &'static str },
    #[error(
        "{what} has resource type {resource_type}, which Kafka does not define; deny the request"
    )]
    UnknownResourceType {
        what: &'static str,
        resource_type: i8,
    },
    #[error("FindCoordinator key type {0} is not one Kafka defines (0 group, 1 transaction, 2 share); deny the request")]
    UnknownCoordinatorType(i8),
    #[error("{api} responses are not listings this filter trims; answer them only to callers with Describe on the cluster")]
    NoListingFilter { api: String },
    #[error("no synthesized denial for {api} responses; close the connection instead")]
    NoDenyResponse { api: String },
    #[error("the response frame would be {0} bytes, more than a Kafka frame can hold")]
    FrameTooLarge(usize),
}

/// The api for a key and version this filter decodes.
pub(crate) fn api(api_key: i16, version: i16) -> Result<ApiKey, KafkaError> {
    let key = ApiKey::try_from(api_key).map_err(|()| KafkaError::UnknownApiKey(api_key))?;
    let range = key.valid_versions();
    if version < range.min || version > range.max {
        return Err(KafkaError::UnsupportedVersion {
            api: api_name(key),
            version,
            min: range.min,
            max: range.max,
        });
    }
    Ok(key)
}

/// Kafka's name for an api, e.g. `Produce`.
pub(crate) fn api_name(key: ApiKey) -> String {
    format!("{key:?}")
}

/// Decodes a request body by the message tables (`kafka/guard.rs`): the fields a decision
/// reads, by name, as strictly as kafka-protocol would decode them. Use it, never
/// `Decodable::decode`, for bytes from the network.
pub(crate) fn decode_request(
    key: ApiKey,
    version: i16,
    body: &[u8],
) -> Result<Node<'_>, KafkaError> {
    decode_message(guard::Side::Request, key, version, body)
}

/// Decodes a response body by the message tables (the responses they hold).
pub(crate) fn decode_response(
    key: ApiKey,
    version: i16,
    body: &[u8],
) -> Result<Node<'_>, KafkaError> {
    decode_message(guard::Side::Response, key, version, body)
}

fn decode_message(
    side: guard::Side,
    key: ApiKey,
    version: i16,
    body: &[u8],
) -> Result<Node<'_>, KafkaError> {
    guard::decode(side, key as i16, version, body).map_err(|e| KafkaError::Decode {
        what: side.name(),
        version,
        reason: e.to_string(),
    })
}

/// Checks, before kafka-protocol decodes a request, that no array in it claims more elements
/// than bytes remain: kafka-protocol 0.18 pre-allocates arrays by their wire count and would
/// abort on such a request (see `kafka/guard.rs`).
#[cfg(test)]
pub(crate) fn guard_request(
    key: ApiKey,
    version: i16,
    body: &bytes::Bytes,
) -> Result<(), KafkaError> {
    guard::request(key as i16, version, body)
        .map(|_| ())
        .map_err(|e| KafkaError::Decode {
            what: "request",
            version,
            reason: e.to_string(),
        })
}

/// Encodes a message body.
pub(crate) fn encode<T: Encodable>(
    what: &'static str,
    message: &T,
    version: i16,
) -> Result<Vec<u8>, KafkaError> {
    let mut buf = BytesMut::new();
    message
        .encode(&mut buf, version)
        .map_err(|e| KafkaError::Encode {
            what,
            version,
            reason: format!("{e:#}"),
        })?;
    Ok(buf.to_vec())
}
