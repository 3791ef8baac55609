//! Validation of an [`AuthorizationPolicy`]: every problem, each naming the field that has it
//! (`authorization.rules[2].resources[0].name: …`) and saying how to fix it.

use super::pattern::{Pattern, PatternError};
use super::principal::{parse_spiffe_id, SpiffeError};
use super::types::{
    AuthorizationPolicy, Operation, PatternType, ResourcePattern, ResourceType, Rule, CLUSTER_NAME,
};

/// The path validation errors start with when the policy sits at the filter config's
/// `authorization` field.
pub const DEFAULT_PATH: &str = "authorization";

/// Kafka's longest legal topic name.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// One problem in a policy. `path` names the field (`authorization.rules[0].users[1]`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Any other problem with a field (routing tenants, routes and quotas use it).
    #[error("{path}: {reason}")]
    Invalid {
        /// The field's path.
        path: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// A rule without principals, namespaces, serviceAccounts and users.
    #[error("{path}: a rule needs at least one of principals, namespaces, serviceAccounts or users — write principals: [\"*\"] to match every caller")]
    NoSubjects {
        /// The rule's path.
        path: String,
    },
    /// An empty or unprintable rule name.
    #[error("{path}: {value:?} cannot name a rule — give a short printable label such as \"orders-write\" (at most 253 characters), or leave name out")]
    InvalidRuleName {
        /// The `name` path.
        path: String,
        /// The offending value.
        value: String,
    },
    /// A rule without resources.
    #[error("{path}: a rule needs at least one resource, e.g. {{type: topic, name: orders}} — use name \"*\" for every topic")]
    NoResources {
        /// The rule's `resources` path.
        path: String,
    },
    /// A rule without operations.
    #[error("{path}: a rule needs at least one operation, e.g. [Read, Describe] — All covers every operation")]
    NoOperations {
        /// The rule's `operations` path.
        path: String,
    },
    /// An empty subject string.
    #[error("{path}: must not be empty — {hint}")]
    EmptySubject {
        /// The entry's path.
        path: String,
        /// What to write instead.
        hint: &'static str,
    },
    /// A `*` that is not the last character of a subject.
    #[error("{path}: {value:?} has a '*' before its end — '*' may only end a pattern, as in {example:?}")]
    WildcardNotAtEnd {
        /// The entry's path.
        path: String,
        /// The offending value.
        value: String,
        /// A correct pattern of the same kind.
        example: &'static str,
    },
    /// A principal that is neither `*` nor a SPIFFE ID (or a prefix of one).
    #[error("{path}: {value:?} is not a SPIFFE ID: {reason} — write spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>, a prefix ending in '*', or \"*\"")]
    InvalidPrincipal {
        /// The entry's path.
        path: String,
        /// The offending value.
        value: String,
        /// What is wrong with it.
        #[source]
        reason: SpiffeError,
    },
    /// A namespace that cannot be a Kubernetes namespace name.
    #[error("{path}: {value:?} is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63) — write e.g. \"orders\" or \"team-*\"")]
    InvalidNamespace {
        /// The entry's path.
        path: String,
        /// The offending value.
        value: String,
    },
    /// A service account not written as `<namespace>/<name>`.
    #[error("{path}: {value:?} must be <namespace>/<service-account>, e.g. \"orders/writer\" or \"orders/*\"")]
    InvalidServiceAccount {
        /// The entry's path.
        path: String,
        /// The offending value.
        value: String,
    },
    /// A user not written as `User:<name>`.
    #[error("{path}: {value:?} must be a Kafka user principal User:<name>, e.g. \"User:alice\", \"User:svc-*\" or \"User:ANONYMOUS\"")]
    InvalidUser {
        /// The entry's path.
        path: String,
        /// The offending value.
        value: String,
    },
    /// An empty literal resource name.
    #[error("{path}: a literal name must not be empty — use \"*\" for every {resource_type}")]
    EmptyName {
        /// The `name` path.
        path: String,
        /// The pattern's resource type.
        resource_type: ResourceType,
    },
    /// An empty prefix.
    #[error("{path}: prefixed pattern must not be empty — give a prefix such as \"orders.\", or use patternType: literal with name \"*\" for every {resource_type}")]
    EmptyPrefix {
        /// The `name` path.
        path: String,
        /// The pattern's resource type.
        resource_type: ResourceType,
    },
    /// A prefixed pattern named `*` (which matches only names that start with `*`).
    #[error("{path}: a prefixed pattern \"*\" matches only names starting with '*' — use patternType: literal with name \"*\" for every {resource_type}")]
    PrefixedWildcard {
        /// The `name` path.
        path: String,
        /// The pattern's resource type.
        resource_type: ResourceType,
    },
    /// A topic name or prefix with characters Kafka does not allow in topic names.
    #[error("{path}: {value:?} cannot occur in a topic name (letters, digits, '.', '_' and '-', at most 249){hint}")]
    InvalidTopicName {
        /// The `name` path.
        path: String,
        /// The offending value.
        value: String,
        /// Extra advice (e.g. for `orders.*`).
        hint: &'static str,
    },
    /// A cluster resource with another name than `kafka-cluster`.
    #[error("{path}: the cluster resource is named \"kafka-cluster\" (or \"*\"), not {value:?}")]
    ClusterName {
        /// The `name` path.
        path: String,
        /// The offending value.
        value: String,
    },
    /// A prefixed cluster resource.
    #[error("{path}: the cluster resource takes patternType: literal (name \"kafka-cluster\")")]
    ClusterPrefixed {
        /// The `patternType` path.
        path: String,
    },
    /// An operation that Kafka defines on none of the rule's resource types.
    #[error("{path}: {operation} does not apply to this rule's resources ({resource_types}) — Kafka defines it on {valid}; move it to a rule with such a resource")]
    OperationNotApplicable {
        /// The operation's path.
        path: String,
        /// The operation.
        operation: Operation,
        /// The rule's resource types, comma-separated.
        resource_types: String,
        /// The resource types the operation applies to.
        valid: String,
    },
}

impl ValidationError {
    /// The path of the field with the problem.
    pub fn path(&self) -> &str {
        match self {
            ValidationError::NoSubjects { path }
            | ValidationError::InvalidRuleName { path, .. }
            | ValidationError::NoResources { path }
            | ValidationError::NoOperations { path }
            | ValidationError::EmptySubject { path, .. }
            | ValidationError::WildcardNotAtEnd { path, .. }
            | ValidationError::InvalidPrincipal { path, .. }
            | ValidationError::InvalidNamespace { path, .. }
            | ValidationError::InvalidServiceAccount { path, .. }
            | ValidationError::InvalidUser { path, .. }
            | ValidationError::EmptyName { path, .. }
            | ValidationError::EmptyPrefix { path, .. }
            | ValidationError::PrefixedWildcard { path, .. }
            | ValidationError::InvalidTopicName { path, .. }
            | ValidationError::ClusterName { path, .. }
            | ValidationError::ClusterPrefixed { path }
            | ValidationError::OperationNotApplicable { path, .. }
            | ValidationError::Invalid { path, .. } => path,
        }
    }
}

/// Every problem found in a policy (never empty when returned as an error).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationErrors {
    /// The problems, in the order of the fields.
    pub fn errors(&self) -> &[ValidationError] {
        &self.0
    }
}

impl std::fmt::Display for ValidationErrors {
    /// One problem: its message. Several: a count, then one per line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("invalid authorization policy"),
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems in the authorization policy:", many.len())?;
                for e in many {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl AuthorizationPolicy {
    /// Checks the policy as the filter will load it; errors are located under `authorization`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        self.validate_at(DEFAULT_PATH)
    }

    /// Like [`validate`](Self::validate), with error paths under `base` (e.g.
    /// `spec.authorization` for the KafkaPolicy CRD).
    pub fn validate_at(&self, base: &str) -> Result<(), ValidationErrors> {
        let mut errors = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            validate_rule(rule, &format!("{base}.rules[{i}]"), &mut errors);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(errors))
        }
    }
}

/// The longest rule name.
pub const MAX_RULE_NAME_LEN: usize = 253;

/// Checks the callers a rule, tenant or quota names (`[principals, namespaces, serviceAccounts,
/// users]`, as in [`Rule`]) with errors under `path`; at least one is required.
pub(crate) fn validate_subjects(
    [principals, namespaces, service_accounts, users]: [&[String]; 4],
    path: &str,
    errors: &mut Vec<ValidationError>,
) {
    if principals.is_empty()
        && namespaces.is_empty()
        && service_accounts.is_empty()
        && users.is_empty()
    {
        errors.push(ValidationError::NoSubjects {
            path: path.to_owned(),
        });
    }
    for (i, v) in principals.iter().enumerate() {
        check_principal(v, format!("{path}.principals[{i}]"), errors);
    }
    for (i, v) in namespaces.iter().enumerate() {
        check_namespace(v, format!("{path}.namespaces[{i}]"), errors);
    }
    for (i, v) in service_accounts.iter().enumerate() {
        check_service_account(v, format!("{path}.serviceAccounts[{i}]"), errors);
    }
    for (i, v) in users.iter().enumerate() {
        check_user(v, format!("{path}.users[{i}]"), errors);
    }
}

fn validate_rule(rule: &Rule, path: &str, errors: &mut Vec<ValidationError>) {
    if let Some(name) = &rule.name {
        if name.trim().is_empty()
            || name.len() > MAX_RULE_NAME_LEN
            || name.chars().any(char::is_control)
        {
            errors.push(ValidationError::InvalidRuleName {
                path: format!("{path}.name"),
                value: name.clone(),
            });
        }
    }
    validate_subjects(
        [
            &rule.principals,
            &rule.namespaces,
            &rule.service_accounts,
            &rule.users,
        ],
        path,
        errors,
    );
    if rule.resources.is_empty() {
        errors.push(ValidationError::NoResources {
            path: format!("{path}.resources"),
        });
    }
    for (i, r) in rule.resources.iter().enumerate() {
        check_resource(r, &format!("{path}.resources[{i}]"), errors);
    }
    if rule.operations.is_empty() {
        errors.push(ValidationError::NoOperations {
            path: format!("{path}.operations"),
        });
    }
    if !rule.resources.is_empty() {
        for (i, op) in rule.operations.iter().enumerate() {
            if *op == Operation::All {
                continue;
            }
            let applies = rule
                .resources
                .iter()
                .any(|r| r.resource_type.operations().contains(op));
            if !applies {
                let types: Vec<&str> = ResourceType::ALL
                    .iter()
                    .filter(|t| rule.resources.iter().any(|r| r.resource_type == **t))
                    .map(|t| t.as_str())
                    .collect();
                let valid: Vec<&str> = ResourceType::ALL
                    .iter()
                    .filter(|t| t.operations().contains(op))
                    .map(|t| t.as_str())
                    .collect();
                errors.push(ValidationError::OperationNotApplicable {
                    path: format!("{path}.operations[{i}]"),
                    operation: *op,
                    resource_types: types.join(", "),
                    valid: valid.join(", "),
                });
            }
        }
    }
}

fn pattern_error(
    e: PatternError,
    path: String,
    value: &str,
    example: &'static str,
    hint: &'static str,
) -> ValidationError {
    match e {
        PatternError::Empty => ValidationError::EmptySubject { path, hint },
        PatternError::WildcardNotAtEnd => ValidationError::WildcardNotAtEnd {
            path,
            value: value.to_owned(),
            example,
        },
    }
}

fn check_principal(v: &str, path: String, errors: &mut Vec<ValidationError>) {
    const EXAMPLE: &str = "spiffe://cluster.local/ns/orders/*";
    match Pattern::parse(v) {
        Err(e) => errors.push(pattern_error(
            e,
            path,
            v,
            EXAMPLE,
            "write a SPIFFE ID such as \"spiffe://cluster.local/ns/orders/sa/writer\", or \"*\"",
        )),
        Ok(Pattern::Any) => {}
        Ok(Pattern::Exact(id)) => {
            if let Err(reason) = parse_spiffe_id(&id) {
                errors.push(ValidationError::InvalidPrincipal {
                    path,
                    value: v.to_owned(),
                    reason,
                });
            }
        }
        Ok(Pattern::Prefix(prefix)) => {
            // A prefix must itself be the start of some valid SPIFFE ID: complete it with a
            // path character where it ends in a separator, and check.
            let probe = match prefix.strip_prefix("spiffe://") {
                None => prefix.to_string(),
                Some("") => "spiffe://x".to_owned(),
                Some(_) if prefix.ends_with('/') => format!("{prefix}x"),
                Some(_) => prefix.to_string(),
            };
            if let Err(reason) = parse_spiffe_id(&probe) {
                errors.push(ValidationError::InvalidPrincipal {
                    path,
                    value: v.to_owned(),
                    reason,
                });
            }
        }
    }
}

fn is_dns_label_part(s: &str) -> bool {
    s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_namespace(v: &str, path: String, errors: &mut Vec<ValidationError>) {
    match Pattern::parse(v) {
        Err(e) => errors.push(pattern_error(
            e,
            path,
            v,
            "team-*",
            "write a namespace such as \"orders\", or \"*\" for every namespace",
        )),
        Ok(p) => {
            if !is_dns_label_part(p.fixed()) {
                errors.push(ValidationError::InvalidNamespace {
                    path,
                    value: v.to_owned(),
                });
            }
        }
    }
}

fn check_service_account(v: &str, path: String, errors: &mut Vec<ValidationError>) {
    if v.is_empty() {
        errors.push(ValidationError::EmptySubject {
            path,
            hint: "write <namespace>/<service-account>, e.g. \"orders/writer\"",
        });
        return;
    }
    let Some((ns, sa)) = v.split_once('/') else {
        errors.push(ValidationError::InvalidServiceAccount {
            path,
            value: v.to_owned(),
        });
        return;
    };
    let ns_ok = matches!(Pattern::parse(ns), Ok(p) if is_dns_label_part(p.fixed()));
    let sa_ok = !sa.contains('/')
        && matches!(Pattern::parse(sa), Ok(p) if p.fixed().len() <= 253
            && p.fixed().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'));
    if ns.contains('*') && !ns.ends_with('*') || sa.contains('*') && !sa.ends_with('*') {
        errors.push(ValidationError::WildcardNotAtEnd {
            path,
            value: v.to_owned(),
            example: "orders/*",
        });
    } else if !ns_ok || !sa_ok {
        errors.push(ValidationError::InvalidServiceAccount {
            path,
            value: v.to_owned(),
        });
    }
}

/// The exact user name that names the anonymous principal.
pub const ANONYMOUS_USER: &str = "ANONYMOUS";

fn check_user(v: &str, path: String, errors: &mut Vec<ValidationError>) {
    if v.is_empty() {
        errors.push(ValidationError::EmptySubject {
            path,
            hint: "write a Kafka user principal such as \"User:alice\"",
        });
        return;
    }
    let Some(name) = v.strip_prefix("User:") else {
        errors.push(ValidationError::InvalidUser {
            path,
            value: v.to_owned(),
        });
        return;
    };
    match Pattern::parse(name) {
        Ok(_) => {}
        Err(PatternError::Empty) => errors.push(ValidationError::InvalidUser {
            path,
            value: v.to_owned(),
        }),
        Err(PatternError::WildcardNotAtEnd) => errors.push(ValidationError::WildcardNotAtEnd {
            path,
            value: v.to_owned(),
            example: "User:svc-*",
        }),
    }
}

fn is_topic_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

fn check_resource(r: &ResourcePattern, path: &str, errors: &mut Vec<ValidationError>) {
    let name_path = || format!("{path}.name");
    let rt = r.resource_type;
    match (rt, r.pattern_type) {
        (ResourceType::Cluster, PatternType::Prefixed) => {
            errors.push(ValidationError::ClusterPrefixed {
                path: format!("{path}.patternType"),
            });
        }
        (ResourceType::Cluster, PatternType::Literal)
            if r.name != CLUSTER_NAME && r.name != "*" =>
        {
            errors.push(ValidationError::ClusterName {
                path: name_path(),
                value: r.name.clone(),
            });
        }
        (ResourceType::Cluster, PatternType::Literal) => {}
        (_, PatternType::Literal) if r.name.is_empty() => {
            errors.push(ValidationError::EmptyName {
                path: name_path(),
                resource_type: rt,
            });
        }
        (_, PatternType::Prefixed) if r.name.is_empty() => {
            errors.push(ValidationError::EmptyPrefix {
                path: name_path(),
                resource_type: rt,
            });
        }
        (_, PatternType::Prefixed) if r.name == "*" => {
            errors.push(ValidationError::PrefixedWildcard {
                path: name_path(),
                resource_type: rt,
            });
        }
        (ResourceType::Topic, pattern_type) => {
            let wildcard = pattern_type == PatternType::Literal && r.name == "*";
            let legal = r.name.len() <= MAX_TOPIC_NAME_LEN && r.name.bytes().all(is_topic_char);
            if !wildcard && !legal {
                let hint = if r.name.ends_with('*') {
                    " — for every topic starting with a prefix, write the prefix without '*' and patternType: prefixed"
                } else {
                    ""
                };
                errors.push(ValidationError::InvalidTopicName {
                    path: name_path(),
                    value: r.name.clone(),
                    hint,
                });
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::types::{Action, Mode};
    use proptest::prelude::*;

    fn rule(json: &str) -> Rule {
        serde_json::from_str(json).unwrap()
    }

    fn errors_of(rules: Vec<Rule>) -> Vec<String> {
        let p = AuthorizationPolicy {
            mode: Mode::Enforce,
            default_action: Action::Deny,
            rules,
        };
        match p.validate() {
            Ok(()) => vec![],
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    const GOOD: &str = r#"{"name":"everything","action":"allow","principals":["spiffe://cluster.local/ns/orders/sa/writer","spiffe://cluster.local/ns/orders/*","*"],
        "namespaces":["orders","team-*","*"],"serviceAccounts":["orders/writer","orders/*","*/default"],
        "users":["User:alice","User:svc-*","User:*","User:ANONYMOUS"],
        "resources":[{"type":"topic","name":"orders.","patternType":"prefixed"},{"type":"topic","name":"*"},
                     {"type":"group","name":"g*1"},{"type":"transactionalId","name":"tx-","patternType":"prefixed"},
                     {"type":"cluster","name":"kafka-cluster"},{"type":"cluster","name":"*"}],
        "operations":["Read","Write","Create","Delete","Alter","Describe","DescribeConfigs","AlterConfigs","IdempotentWrite","ClusterAction","All"]}"#;

    #[test]
    fn accepts_a_full_rule() {
        assert_eq!(errors_of(vec![rule(GOOD)]), Vec::<String>::new());
        assert_eq!(AuthorizationPolicy::default().validate(), Ok(()));
    }

    #[test]
    fn the_example_message() {
        let ok = rule(
            r#"{"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"a"}],"operations":["Read"]}"#,
        );
        let bad = rule(
            r#"{"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"","patternType":"prefixed"}],"operations":["Read"]}"#,
        );
        let errs = errors_of(vec![ok.clone(), ok, bad]);
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("authorization.rules[2].resources[0].name: prefixed pattern must not be empty — give a prefix such as \"orders.\""),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn lists_every_problem_with_its_path() {
        let r = rule(
            r#"{"action":"deny",
            "name":" ",
            "principals":["spiffe://td/*/x","https://x","","spiffe://TD/*","spiffe://td/a"],
            "namespaces":["Orders","o*x",""],
            "serviceAccounts":["writer","a/b/c","*x/y","a/"],
            "users":["alice","User:","User:a*b"],
            "resources":[{"type":"topic","name":""},{"type":"topic","name":"*","patternType":"prefixed"},
                         {"type":"topic","name":"orders.*"},{"type":"cluster","name":"prod"},
                         {"type":"cluster","name":"kafka-cluster","patternType":"prefixed"},
                         {"type":"group","name":"","patternType":"prefixed"}],
            "operations":[]}"#,
        );
        let p = AuthorizationPolicy {
            rules: vec![rule(GOOD), r],
            ..Default::default()
        };
        let errs = p.validate_at("spec.authorization").unwrap_err();
        let paths: Vec<&str> = errs.errors().iter().map(|e| e.path()).collect();
        let base = "spec.authorization.rules[1]";
        let want: Vec<String> = [
            "name",
            "principals[0]",
            "principals[1]",
            "principals[2]",
            "principals[3]",
            "namespaces[0]",
            "namespaces[1]",
            "namespaces[2]",
            "serviceAccounts[0]",
            "serviceAccounts[1]",
            "serviceAccounts[2]",
            "serviceAccounts[3]",
            "users[0]",
            "users[1]",
            "users[2]",
            "resources[0].name",
            "resources[1].name",
            "resources[2].name",
            "resources[3].name",
            "resources[4].patternType",
            "resources[5].name",
            "operations",
        ]
        .iter()
        .map(|s| format!("{base}.{s}"))
        .collect();
        assert_eq!(paths, want, "{errs}");
        let text = errs.to_string();
        assert!(text.starts_with("22 problems in the authorization policy:\n  spec.authorization.rules[1].name: \" \" cannot name a rule — give a short printable label such as \"orders-write\" (at most 253 characters), or leave name out\n  spec.authorization.rules[1].principals[0]: \"spiffe://td/*/x\" has a '*' before its end"), "{text}");
        assert!(
            text.contains(
                "principals[1]: \"https://x\" is not a SPIFFE ID: it does not start with spiffe://"
            ),
            "{text}"
        );
        assert!(text.contains("principals[3]: \"spiffe://TD/*\" is not a SPIFFE ID: the trust domain may only contain lowercase"), "{text}");
        assert!(
            text.contains("serviceAccounts[0]: \"writer\" must be <namespace>/<service-account>"),
            "{text}"
        );
        assert!(
            text.contains("users[0]: \"alice\" must be a Kafka user principal User:<name>"),
            "{text}"
        );
        assert!(
            text.contains(
                "resources[0].name: a literal name must not be empty — use \"*\" for every topic"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "resources[1].name: a prefixed pattern \"*\" matches only names starting with '*'"
            ),
            "{text}"
        );
        assert!(
            text.contains("resources[2].name: \"orders.*\" cannot occur in a topic name"),
            "{text}"
        );
        assert!(text.contains("patternType: prefixed"), "{text}");
        assert!(text.contains("resources[3].name: the cluster resource is named \"kafka-cluster\" (or \"*\"), not \"prod\""), "{text}");
        assert!(text.contains("resources[5].name: prefixed pattern must not be empty — give a prefix such as \"orders.\", or use patternType: literal with name \"*\" for every group"), "{text}");
        assert!(
            text.contains("rules[1].operations: a rule needs at least one operation"),
            "{text}"
        );
    }

    #[test]
    fn no_subjects_and_no_resources() {
        let errs = errors_of(vec![rule(r#"{"action":"allow","operations":["Read"]}"#)]);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("authorization.rules[0]: a rule needs at least one of principals, namespaces, serviceAccounts or users — write principals: [\"*\"]"), "{}", errs[0]);
        assert!(
            errs[1].starts_with(
                "authorization.rules[0].resources: a rule needs at least one resource"
            ),
            "{}",
            errs[1]
        );
    }

    #[test]
    fn operations_must_apply_to_some_resource() {
        let errs = errors_of(vec![rule(
            r#"{"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"a"},{"type":"topic","name":"b"}],
                "operations":["Read","ClusterAction","IdempotentWrite","All"]}"#,
        )]);
        assert_eq!(
            errs,
            vec![
                "authorization.rules[0].operations[1]: ClusterAction does not apply to this rule's resources (topic) — Kafka defines it on cluster; move it to a rule with such a resource".to_string(),
                "authorization.rules[0].operations[2]: IdempotentWrite does not apply to this rule's resources (topic) — Kafka defines it on cluster; move it to a rule with such a resource".to_string(),
            ]
        );
        // Read on a group + topic rule: fine (applies to both); Write applies to the topic.
        assert!(errors_of(vec![rule(
            r#"{"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"a"},{"type":"group","name":"g"}],"operations":["Read","Write"]}"#
        )]).is_empty());
    }

    #[test]
    fn principal_prefixes() {
        for ok in [
            "spiffe://*",
            "spiffe://cluster.local/*",
            "spiffe://cluster.local/ns/a/*",
            "spiffe://cluster.lo*",
            "spiffe://td/ns/a/sa/wr*",
        ] {
            assert!(errors_of(vec![rule(&format!(r#"{{"action":"allow","principals":["{ok}"],"resources":[{{"type":"topic","name":"a"}}],"operations":["Read"]}}"#))]).is_empty(), "{ok}");
        }
        for bad in ["spiff*", "http*", "spiffe://td//*", "spiffe://td/a?*"] {
            assert_eq!(errors_of(vec![rule(&format!(r#"{{"action":"allow","principals":["{bad}"],"resources":[{{"type":"topic","name":"a"}}],"operations":["Read"]}}"#))]).len(), 1, "{bad}");
        }
    }

    fn arb_rule() -> impl Strategy<Value = Rule> {
        let s = || {
            proptest::collection::vec(
                ".{0,12}|[*a-z/:]{0,12}|spiffe://[a-z*/]{0,12}|User:[a-z*]{0,5}",
                0..3,
            )
        };
        let rt = prop_oneof![
            Just(ResourceType::Topic),
            Just(ResourceType::Group),
            Just(ResourceType::TransactionalId),
            Just(ResourceType::Cluster)
        ];
        let pt = prop_oneof![Just(PatternType::Literal), Just(PatternType::Prefixed)];
        let res = proptest::collection::vec(
            (rt, ".{0,8}|[*a-z.-]{0,8}|kafka-cluster", pt).prop_map(
                |(resource_type, name, pattern_type)| ResourcePattern {
                    resource_type,
                    name,
                    pattern_type,
                },
            ),
            0..3,
        );
        let ops =
            proptest::collection::vec(proptest::sample::select(Operation::ALL.to_vec()), 0..4);
        let action = prop_oneof![Just(Action::Allow), Just(Action::Deny)];
        (action, s(), s(), s(), s(), res, ops)
            .prop_map(
                |(
                    action,
                    principals,
                    namespaces,
                    service_accounts,
                    users,
                    resources,
                    operations,
                )| {
                    Rule {
                        name: None,
                        action,
                        principals,
                        namespaces,
                        service_accounts,
                        users,
                        resources,
                        operations,
                    }
                },
            )
            .prop_flat_map(|rule| {
                proptest::option::of(".{0,8}").prop_map(move |name| Rule {
                    name,
                    ..rule.clone()
                })
            })
    }

    proptest! {
        #[test]
        fn validation_and_compilation_are_total(rules in proptest::collection::vec(arb_rule(), 0..4)) {
            let p = AuthorizationPolicy { rules, ..Default::default() };
            match p.validate() {
                Ok(()) => {
                    let c = p.compile().unwrap();
                    let _ = c.decide(&crate::authz::Principal::anonymous(), ResourceType::Topic, "orders", Operation::Read);
                }
                Err(e) => {
                    prop_assert!(!e.0.is_empty());
                    for err in e.errors() {
                        prop_assert!(err.path().starts_with("authorization.rules["));
                        prop_assert!(err.to_string().starts_with(err.path()));
                    }
                    prop_assert!(p.compile().is_err());
                }
            }
        }
    }
}
