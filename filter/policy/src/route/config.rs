//! Routing as users write it (`routing` in the plugin configuration and the KafkaPolicy spec).

use serde::{Deserialize, Serialize};

/// Topic virtualization, tenants, broker address rewriting and per-topic traffic control.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutingConfig {
    /// Who sees which names. A connection belongs to the first tenant whose subjects match its
    /// principal; a connection in no tenant sees the broker's names unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<Tenant>,
    /// Broker addresses handed to clients in Metadata, FindCoordinator and DescribeCluster
    /// responses, as `host:port` or `host` (keeping the broker's port) with `{node_id}` standing
    /// for the broker's id, e.g. `kafka-{node_id}.kafka-brokers.kafka.svc.cluster.local:9092`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_address: Option<String>,
    /// Byte-rate limits and read-only topics. Every matching quota applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<Quota>,
}

/// A tenant: the callers it covers, and how their names map to the broker's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tenant {
    /// A label for logs and metrics (required, unique).
    pub name: String,
    /// SPIFFE IDs of mTLS peers, exact or ending in `*` (as in authorization rules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    /// Kubernetes namespaces from the peer's SPIFFE ID, exact or ending in `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Service accounts as `<namespace>/<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<String>,
    /// SASL users as `User:<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Prepended to every topic name the tenant's clients use that no `topics` route covers
    /// (`team-a.` turns `orders` into `team-a.orders`). The tenant then sees only the topics
    /// under its prefix, without it. Without a prefix, unrouted names pass unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_prefix: Option<String>,
    /// Prepended to consumer group ids; the tenant sees only its own groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_prefix: Option<String>,
    /// Prepended to transactional ids; the tenant sees only its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactional_id_prefix: Option<String>,
    /// Exact aliases and prefix rewrites, tried before `topicPrefix`: an exact `name` first,
    /// then the longest matching `prefix`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<TopicRoute>,
}

/// One topic route: the client's exact `name` or name `prefix`, and the broker's name (or
/// prefix) `to`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicRoute {
    /// The client's name for one topic (give this or `prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A prefix of the client's names (give this or `name`); the rest of the name is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The broker's name for `name`, or the prefix that replaces `prefix`.
    pub to: String,
}

/// A byte-rate limit (signalled the Kafka way, through `throttle_time_ms` in Produce and
/// Fetch responses) or a read-only marking for some callers' topics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quota {
    /// A label for logs and metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SPIFFE IDs of mTLS peers, exact or ending in `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    /// Kubernetes namespaces from the peer's SPIFFE ID.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Service accounts as `<namespace>/<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<String>,
    /// SASL users as `User:<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// The broker's topic names it covers, exact or ending in `*`; empty covers every topic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Most record bytes per second produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produce_bytes_per_second: Option<u64>,
    /// Most record bytes per second fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_bytes_per_second: Option<u64>,
    /// Writes to the covered topics are denied with `TOPIC_AUTHORIZATION_FAILED`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Who shares one budget: each (principal, topic) pair (default), each principal across
    /// its topics, or the whole tenant.
    #[serde(default)]
    pub per: QuotaScope,
}

/// The unit a quota's budget belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum QuotaScope {
    /// Each caller on each topic.
    #[default]
    PrincipalTopic,
    /// Each caller, all covered topics together.
    Principal,
    /// All callers of the caller's tenant together (callers in no tenant: each on its own).
    Tenant,
}
