//! The authorization policy as users write it: serde types shared by the filter, the controller
//! (the `KafkaPolicy` CRD embeds [`AuthorizationPolicy`]) and the command line.
//!
//! Field names are camelCase in JSON/YAML; unknown fields are rejected so that a misspelt field
//! never silently widens or narrows a policy. See `filter/policy/AUTHORIZATION.md` for the
//! reference with examples.

use serde::{Deserialize, Serialize};

/// Per-topic (per-resource) authorization for Kafka requests, the way Kafka's own
/// `StandardAuthorizer` decides: deny wins over allow, implied operations, and a default
/// when no rule matches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationPolicy {
    /// `enforce` (default) denies; `audit` computes the same decisions but forwards everything
    /// and only logs what would have been denied.
    #[serde(default)]
    pub mode: Mode,
    /// What happens when no rule matches a request. Defaults to `deny`, like a Kafka broker
    /// with an authorizer and `allow.everyone.if.no.acl.found=false`.
    #[serde(default)]
    pub default_action: Action,
    /// The rules, evaluated as a set (order does not matter for the decision; the lowest
    /// matching index is reported as the deciding rule).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
}

/// Whether decisions are enforced or only reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Denied requests are answered with Kafka's authorization error.
    #[default]
    Enforce,
    /// Every request is forwarded; would-be denials are logged and counted.
    Audit,
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Permit the matched operations.
    Allow,
    /// Refuse the matched operations; a matching deny always wins over any allow.
    #[default]
    Deny,
}

/// One rule: *who* (subjects), *what* (resources) and *how* (operations). It matches a request
/// when the caller matches any of its subjects, the resource matches any of its resource
/// patterns, and the operation is one of its operations (or implied by one, for `allow`).
///
/// `Rule::default()` is an invalid deny rule without subjects: a base for struct updates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// An optional label for decision logs (`rules[3] (orders-write)`); need not be unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `allow` or `deny` (required).
    pub action: Action,
    /// SPIFFE IDs of mTLS peers, exact (`spiffe://cluster.local/ns/orders/sa/writer`) or with a
    /// trailing `*` (`spiffe://cluster.local/ns/orders/*`). `*` alone matches every caller,
    /// anonymous ones included (like Kafka's `User:*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    /// Kubernetes namespaces, taken from the peer's SPIFFE ID (`…/ns/<namespace>/sa/…`);
    /// exact or with a trailing `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Service accounts as `<namespace>/<name>`, taken from the peer's SPIFFE ID; `*` may end
    /// either part (`orders/*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<String>,
    /// SASL users as Kafka principals: `User:alice`, `User:svc-*`, `User:*` (any SASL user), or
    /// `User:ANONYMOUS` (a caller with neither a SPIFFE ID nor a SASL user).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// The resources the rule covers (at least one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourcePattern>,
    /// The operations the rule covers (at least one); `All` covers every operation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
}

/// A set of Kafka resources: a type and a literal name (`*` = every resource of the type) or
/// a name prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourcePattern {
    /// The resource type.
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    /// The literal name, `*`, or the prefix. For `cluster` it is `kafka-cluster` (or `*`).
    pub name: String,
    /// `literal` (default) or `prefixed`.
    #[serde(default)]
    pub pattern_type: PatternType,
}

/// Kafka resource types that requests are authorized on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum ResourceType {
    /// A topic.
    Topic,
    /// A consumer group.
    Group,
    /// A transactional producer id.
    TransactionalId,
    /// The cluster itself (one resource, named `kafka-cluster`).
    Cluster,
}

impl ResourceType {
    /// Every resource type.
    pub const ALL: [ResourceType; 4] = [
        ResourceType::Topic,
        ResourceType::Group,
        ResourceType::TransactionalId,
        ResourceType::Cluster,
    ];

    /// Position in [`ResourceType::ALL`].
    pub const fn index(self) -> usize {
        match self {
            ResourceType::Topic => 0,
            ResourceType::Group => 1,
            ResourceType::TransactionalId => 2,
            ResourceType::Cluster => 3,
        }
    }

    /// The spelling used in the policy (`transactionalId`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceType::Topic => "topic",
            ResourceType::Group => "group",
            ResourceType::TransactionalId => "transactionalId",
            ResourceType::Cluster => "cluster",
        }
    }

    /// Operations Kafka defines on this resource type (besides `All`).
    pub const fn operations(self) -> &'static [Operation] {
        use Operation as O;
        match self {
            ResourceType::Topic => &[
                O::Read,
                O::Write,
                O::Create,
                O::Delete,
                O::Alter,
                O::Describe,
                O::DescribeConfigs,
                O::AlterConfigs,
            ],
            ResourceType::Group => &[O::Read, O::Describe, O::Delete],
            ResourceType::TransactionalId => &[O::Describe, O::Write],
            ResourceType::Cluster => &[
                O::Create,
                O::ClusterAction,
                O::DescribeConfigs,
                O::AlterConfigs,
                O::IdempotentWrite,
                O::Alter,
                O::Describe,
            ],
        }
    }
}

impl std::str::FromStr for ResourceType {
    type Err = UnknownName;

    /// The policy spelling, case-insensitively (`topic`, `transactionalId`, `TRANSACTIONAL_ID`
    /// is not accepted).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownName {
                kind: "resource type",
                value: s.to_owned(),
                expected: "topic, group, transactionalId, cluster",
            })
    }
}

/// A name that is not one of an enumeration's spellings (for command lines).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}: expected one of {expected}")]
pub struct UnknownName {
    /// What was being parsed.
    pub kind: &'static str,
    /// The input.
    pub value: String,
    /// The accepted spellings.
    pub expected: &'static str,
}

impl std::fmt::Display for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a [`ResourcePattern`]'s name matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum PatternType {
    /// The name equals the pattern's name (or the pattern's name is `*`).
    #[default]
    Literal,
    /// The name starts with the pattern's name.
    Prefixed,
}

/// Kafka ACL operations, spelt as Kafka spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Operation {
    /// Fetch, consume, commit offsets (group).
    Read,
    /// Produce; transactional writes.
    Write,
    /// CreateTopics; auto-creation via Metadata.
    Create,
    /// DeleteTopics, DeleteRecords, DeleteGroups.
    Delete,
    /// CreatePartitions, ACL changes (cluster).
    Alter,
    /// Metadata, ListOffsets, DescribeGroups, …
    Describe,
    /// DescribeConfigs.
    DescribeConfigs,
    /// AlterConfigs, IncrementalAlterConfigs.
    AlterConfigs,
    /// Idempotent produce (cluster).
    IdempotentWrite,
    /// Inter-broker requests, follower fetches (cluster).
    ClusterAction,
    /// Every operation.
    All,
}

impl Operation {
    /// Every operation, `All` last.
    pub const ALL: [Operation; 11] = [
        Operation::Read,
        Operation::Write,
        Operation::Create,
        Operation::Delete,
        Operation::Alter,
        Operation::Describe,
        Operation::DescribeConfigs,
        Operation::AlterConfigs,
        Operation::IdempotentWrite,
        Operation::ClusterAction,
        Operation::All,
    ];

    /// Position in [`Operation::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Operation::Read => 0,
            Operation::Write => 1,
            Operation::Create => 2,
            Operation::Delete => 3,
            Operation::Alter => 4,
            Operation::Describe => 5,
            Operation::DescribeConfigs => 6,
            Operation::AlterConfigs => 7,
            Operation::IdempotentWrite => 8,
            Operation::ClusterAction => 9,
            Operation::All => 10,
        }
    }

    /// Kafka's spelling (`DescribeConfigs`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "Read",
            Operation::Write => "Write",
            Operation::Create => "Create",
            Operation::Delete => "Delete",
            Operation::Alter => "Alter",
            Operation::Describe => "Describe",
            Operation::DescribeConfigs => "DescribeConfigs",
            Operation::AlterConfigs => "AlterConfigs",
            Operation::IdempotentWrite => "IdempotentWrite",
            Operation::ClusterAction => "ClusterAction",
            Operation::All => "All",
        }
    }

    /// The rule operations whose `allow` permits a request for `self`: itself, `All`, and
    /// Kafka's implications (Read/Write/Delete/Alter ⇒ Describe; AlterConfigs ⇒
    /// DescribeConfigs). Kafka's `AclAuthorizer`/`StandardAuthorizer` use exactly these sets.
    pub const fn allowed_by(self) -> &'static [Operation] {
        use Operation as O;
        match self {
            O::Describe => &[O::Describe, O::Read, O::Write, O::Delete, O::Alter, O::All],
            O::DescribeConfigs => &[O::DescribeConfigs, O::AlterConfigs, O::All],
            O::Read => &[O::Read, O::All],
            O::Write => &[O::Write, O::All],
            O::Create => &[O::Create, O::All],
            O::Delete => &[O::Delete, O::All],
            O::Alter => &[O::Alter, O::All],
            O::AlterConfigs => &[O::AlterConfigs, O::All],
            O::IdempotentWrite => &[O::IdempotentWrite, O::All],
            O::ClusterAction => &[O::ClusterAction, O::All],
            O::All => &[O::All],
        }
    }

    /// The rule operations whose `deny` refuses a request for `self`: itself and `All`
    /// (a deny is never implied: denying Describe does not deny Read, and vice versa).
    pub const fn denied_by(self) -> &'static [Operation] {
        use Operation as O;
        match self {
            O::Read => &[O::Read, O::All],
            O::Write => &[O::Write, O::All],
            O::Create => &[O::Create, O::All],
            O::Delete => &[O::Delete, O::All],
            O::Alter => &[O::Alter, O::All],
            O::Describe => &[O::Describe, O::All],
            O::DescribeConfigs => &[O::DescribeConfigs, O::All],
            O::AlterConfigs => &[O::AlterConfigs, O::All],
            O::IdempotentWrite => &[O::IdempotentWrite, O::All],
            O::ClusterAction => &[O::ClusterAction, O::All],
            O::All => &[O::All],
        }
    }
}

impl std::str::FromStr for Operation {
    type Err = UnknownName;

    /// Kafka's spelling, case-insensitively (`Write`, `describeconfigs`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownName {
                kind: "operation",
                value: s.to_owned(),
                expected: "Read, Write, Create, Delete, Alter, Describe, DescribeConfigs, AlterConfigs, IdempotentWrite, ClusterAction, All",
            })
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of Kafka's single cluster resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_enforce_and_deny() {
        let p: AuthorizationPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.default_action, Action::Deny);
        assert!(p.rules.is_empty());
    }

    #[test]
    fn parses_camel_case_and_kafka_spellings() {
        let p: AuthorizationPolicy = serde_json::from_str(
            r#"{"mode":"audit","defaultAction":"allow","rules":[{"action":"deny",
                "principals":["spiffe://td/ns/a/sa/b"],"namespaces":["a"],"serviceAccounts":["a/b"],
                "users":["User:alice"],
                "resources":[{"type":"transactionalId","name":"tx-","patternType":"prefixed"},
                             {"type":"topic","name":"orders"}],
                "operations":["IdempotentWrite","DescribeConfigs","All"]}]}"#,
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Audit);
        assert_eq!(p.default_action, Action::Allow);
        let r = &p.rules[0];
        assert_eq!(r.action, Action::Deny);
        assert_eq!(r.service_accounts, vec!["a/b".to_string()]);
        assert_eq!(r.resources[0].resource_type, ResourceType::TransactionalId);
        assert_eq!(r.resources[0].pattern_type, PatternType::Prefixed);
        assert_eq!(r.resources[1].pattern_type, PatternType::Literal);
        assert_eq!(
            r.operations,
            vec![
                Operation::IdempotentWrite,
                Operation::DescribeConfigs,
                Operation::All
            ]
        );
    }

    #[test]
    fn round_trips() {
        let src = r#"{"mode":"enforce","defaultAction":"deny","rules":[{"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"a.","patternType":"prefixed"}],"operations":["Read"]}]}"#;
        let p: AuthorizationPolicy = serde_json::from_str(src).unwrap();
        let again: AuthorizationPolicy =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(p, again);
        assert_eq!(serde_json::to_string(&p).unwrap(), src);
    }

    #[test]
    fn rejects_unknown_fields_and_spellings() {
        assert!(
            serde_json::from_str::<AuthorizationPolicy>(r#"{"defaultaction":"allow"}"#).is_err()
        );
        assert!(serde_json::from_str::<AuthorizationPolicy>(
            r#"{"rules":[{"action":"allow","principal":["*"]}]}"#
        )
        .is_err());
        assert!(serde_json::from_str::<Operation>(r#""READ""#).is_err());
        assert!(
            serde_json::from_str::<Rule>(r#"{"principals":["*"]}"#).is_err(),
            "action is required"
        );
        assert!(serde_json::from_str::<ResourcePattern>(
            r#"{"type":"topic","name":"a","patternType":"match"}"#
        )
        .is_err());
    }

    #[test]
    fn names_parse_from_command_lines() {
        assert_eq!("write".parse::<Operation>(), Ok(Operation::Write));
        assert_eq!(
            "DescribeConfigs".parse::<Operation>(),
            Ok(Operation::DescribeConfigs)
        );
        assert_eq!(
            "transactionalid".parse::<ResourceType>(),
            Ok(ResourceType::TransactionalId)
        );
        let e = "Produce".parse::<Operation>().unwrap_err();
        assert!(e
            .to_string()
            .starts_with("unknown operation \"Produce\": expected one of Read, Write"));
        assert!("topics".parse::<ResourceType>().is_err());
    }

    #[test]
    fn indexes_are_positions() {
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
            assert_eq!(
                serde_json::to_string(op).unwrap(),
                format!("\"{}\"", op.as_str())
            );
        }
        for (i, rt) in ResourceType::ALL.iter().enumerate() {
            assert_eq!(rt.index(), i);
            assert_eq!(
                serde_json::to_string(rt).unwrap(),
                format!("\"{}\"", rt.as_str())
            );
        }
    }

    #[cfg(feature = "schema")]
    #[test]
    fn json_schema_has_the_wire_names() {
        let schema = serde_json::to_value(schemars::schema_for!(AuthorizationPolicy)).unwrap();
        let text = schema.to_string();
        for name in [
            "\"defaultAction\"",
            "\"serviceAccounts\"",
            "\"patternType\"",
            "\"transactionalId\"",
            "\"IdempotentWrite\"",
            "\"audit\"",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
        let defs = &schema["$defs"];
        assert_eq!(defs["Rule"]["required"], serde_json::json!(["action"]));
        assert_eq!(
            defs["ResourcePattern"]["required"],
            serde_json::json!(["type", "name"])
        );
        assert!(
            schema["required"].is_null(),
            "every top-level field has a default"
        );
    }
}
