//! Decision semantics, checked against Kafka's `StandardAuthorizer` rules: implied operations,
//! deny wins, `All`, literal/prefixed/`*` names, subject kinds, default action, audit mode.

use super::*;
use Operation as O;
use ResourceType as T;

fn policy(json: &str) -> CompiledPolicy {
    let p: AuthorizationPolicy = serde_json::from_str(json).unwrap();
    p.compile().unwrap_or_else(|e| panic!("{e}"))
}

fn writer() -> Principal {
    Principal::from_spiffe_id("spiffe://cluster.local/ns/orders/sa/writer")
}

/// Kafka's implication rules, written out independently of `Operation::allowed_by`.
fn kafka_allow_implies(granted: Operation, requested: Operation) -> bool {
    granted == requested
        || granted == O::All
        || (requested == O::Describe
            && matches!(granted, O::Read | O::Write | O::Delete | O::Alter))
        || (requested == O::DescribeConfigs && granted == O::AlterConfigs)
}

#[test]
fn implication_matrix() {
    for granted in Operation::ALL {
        let p = policy(&format!(
            r#"{{"rules":[{{"action":"allow","principals":["*"],
                "resources":[{{"type":"topic","name":"t"}},{{"type":"cluster","name":"kafka-cluster"}}],
                "operations":["{granted}"]}}]}}"#
        ));
        for requested in Operation::ALL {
            let d = p.decide(&writer(), T::Topic, "t", requested);
            let want = kafka_allow_implies(granted, requested);
            assert_eq!(d.allowed, want, "allow {granted} → request {requested}");
            assert_eq!(d.rule, want.then_some(0));
            assert_eq!(
                d.reason,
                if want {
                    Reason::AllowRule
                } else {
                    Reason::Default
                }
            );
        }
    }
}

#[test]
fn deny_matrix_deny_is_never_implied() {
    for denied in Operation::ALL {
        let p = policy(&format!(
            r#"{{"rules":[
                {{"action":"allow","principals":["*"],"resources":[{{"type":"topic","name":"*"}}],"operations":["All"]}},
                {{"action":"deny","principals":["*"],
                  "resources":[{{"type":"topic","name":"t"}},{{"type":"cluster","name":"kafka-cluster"}}],
                  "operations":["{denied}"]}}]}}"#
        ));
        for requested in Operation::ALL {
            let d = p.decide(&writer(), T::Topic, "t", requested);
            let want_denied = requested == denied || denied == O::All;
            assert_eq!(
                !d.allowed, want_denied,
                "deny {denied} → request {requested}"
            );
            if want_denied {
                assert_eq!((d.rule, d.reason), (Some(1), Reason::DenyRule));
            } else {
                assert_eq!((d.rule, d.reason), (Some(0), Reason::AllowRule));
            }
            // Another topic is untouched by the deny.
            assert!(p.decide(&writer(), T::Topic, "u", requested).allowed);
        }
    }
}

#[test]
fn deny_wins_whatever_the_order() {
    let allow = r#"{"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"orders.","patternType":"prefixed"}],"operations":["Write"]}"#;
    let deny = r#"{"action":"deny","namespaces":["orders"],"resources":[{"type":"topic","name":"orders.secret"}],"operations":["Write"]}"#;
    for (json, deny_index) in [
        (format!(r#"{{"rules":[{allow},{deny}]}}"#), 1),
        (format!(r#"{{"rules":[{deny},{allow}]}}"#), 0),
    ] {
        let p = policy(&json);
        let d = p.decide(&writer(), T::Topic, "orders.secret", O::Write);
        assert_eq!(
            d,
            Decision {
                allowed: false,
                enforced: true,
                rule: Some(deny_index),
                reason: Reason::DenyRule
            }
        );
        assert!(
            p.decide(&writer(), T::Topic, "orders.public", O::Write)
                .allowed
        );
        // The deny names the writer's namespace only; others keep the allow.
        let other = Principal::from_spiffe_id("spiffe://cluster.local/ns/billing/sa/x");
        assert!(
            p.decide(&other, T::Topic, "orders.secret", O::Write)
                .allowed
        );
    }
}

#[test]
fn deny_of_read_keeps_implied_describe_from_another_allow() {
    let p = policy(
        r#"{"rules":[
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"t"}],"operations":["Write"]},
        {"action":"deny","principals":["*"],"resources":[{"type":"topic","name":"t"}],"operations":["Read"]}]}"#,
    );
    assert!(!p.decide(&writer(), T::Topic, "t", O::Read).allowed);
    assert!(
        p.decide(&writer(), T::Topic, "t", O::Describe).allowed,
        "Write implies Describe"
    );
    assert!(p.decide(&writer(), T::Topic, "t", O::Write).allowed);
}

#[test]
fn deny_describe_does_not_deny_read() {
    let p = policy(
        r#"{"rules":[
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"t"}],"operations":["Read"]},
        {"action":"deny","principals":["*"],"resources":[{"type":"topic","name":"t"}],"operations":["Describe"]}]}"#,
    );
    assert!(p.decide(&writer(), T::Topic, "t", O::Read).allowed);
    assert!(!p.decide(&writer(), T::Topic, "t", O::Describe).allowed);
}

#[test]
fn lowest_matching_rule_is_reported() {
    let p = policy(
        r#"{"rules":[
        {"action":"allow","users":["User:bob"],"resources":[{"type":"topic","name":"*"}],"operations":["Read"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"a."  ,"patternType":"prefixed"}],"operations":["Read"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"a.b"}],"operations":["Read"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"*"}],"operations":["Read"]}]}"#,
    );
    assert_eq!(p.decide(&writer(), T::Topic, "a.b", O::Read).rule, Some(1));
    assert_eq!(p.decide(&writer(), T::Topic, "zzz", O::Read).rule, Some(3));
    let bob = Principal::from_sasl_user("bob");
    assert_eq!(p.decide(&bob, T::Topic, "a.b", O::Read).rule, Some(0));
}

#[test]
fn literal_prefixed_and_wildcard_names() {
    let p = policy(
        r#"{"rules":[
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"orders"}],"operations":["Read"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"orders.","patternType":"prefixed"}],"operations":["Write"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"o","patternType":"prefixed"}],"operations":["Delete"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"group","name":"*"}],"operations":["Read"]}]}"#,
    );
    let w = writer();
    let allowed = |t, n, o| p.decide(&w, t, n, o).allowed;
    assert!(allowed(T::Topic, "orders", O::Read));
    assert!(!allowed(T::Topic, "orders.x", O::Read), "literal is exact");
    assert!(!allowed(T::Topic, "order", O::Read));
    assert!(
        allowed(T::Topic, "orders.", O::Write),
        "a prefix matches itself"
    );
    assert!(allowed(T::Topic, "orders.eu.v1", O::Write));
    assert!(!allowed(T::Topic, "orders", O::Write));
    assert!(!allowed(T::Topic, "ordersx", O::Write));
    assert!(allowed(T::Topic, "o", O::Delete));
    assert!(allowed(T::Topic, "orders.eu", O::Delete));
    assert!(!allowed(T::Topic, "", O::Delete));
    assert!(allowed(T::Group, "anything", O::Read));
    assert!(allowed(T::Group, "", O::Read));
    assert!(
        !allowed(T::Topic, "anything", O::Read),
        "a group wildcard is not a topic wildcard"
    );
    assert!(!allowed(T::TransactionalId, "orders", O::Read));
    // Names with multi-byte characters never split inside a character.
    assert!(!allowed(T::Group, "é", O::Delete));
    assert!(!allowed(T::Topic, "ée", O::Delete));
}

#[test]
fn prefixes_of_many_lengths() {
    let p = policy(
        r#"{"rules":[
        {"action":"allow","principals":["*"],"resources":[{"type":"group","name":"a","patternType":"prefixed"},{"type":"group","name":"abc","patternType":"prefixed"}],"operations":["Read"]},
        {"action":"deny","principals":["*"],"resources":[{"type":"group","name":"ab","patternType":"prefixed"}],"operations":["Read"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"group","name":"é","patternType":"prefixed"}],"operations":["Read"]}]}"#,
    );
    let w = writer();
    assert_eq!(p.decide(&w, T::Group, "a", O::Read).rule, Some(0));
    assert_eq!(p.decide(&w, T::Group, "abcd", O::Read).rule, Some(1));
    assert!(!p.decide(&w, T::Group, "abx", O::Read).allowed);
    assert!(p.decide(&w, T::Group, "ax", O::Read).allowed);
    assert!(p.decide(&w, T::Group, "éa", O::Read).allowed);
    assert!(!p.decide(&w, T::Group, "e", O::Read).allowed);
}

#[test]
fn cluster_resource() {
    let p = policy(
        r#"{"rules":[
        {"action":"allow","namespaces":["kafka"],"resources":[{"type":"cluster","name":"kafka-cluster"}],"operations":["ClusterAction"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"cluster","name":"*"}],"operations":["IdempotentWrite"]}]}"#,
    );
    let broker = Principal::from_spiffe_id("spiffe://cluster.local/ns/kafka/sa/broker");
    assert!(
        p.decide(&broker, T::Cluster, CLUSTER_NAME, O::ClusterAction)
            .allowed
    );
    assert!(
        !p.decide(&writer(), T::Cluster, CLUSTER_NAME, O::ClusterAction)
            .allowed
    );
    assert!(
        p.decide(&writer(), T::Cluster, CLUSTER_NAME, O::IdempotentWrite)
            .allowed
    );
    assert!(
        !p.decide(&broker, T::Topic, CLUSTER_NAME, O::ClusterAction)
            .allowed
    );
}

#[test]
fn subject_kinds() {
    let p = policy(
        r#"{"rules":[
        {"action":"allow","principals":["spiffe://cluster.local/ns/orders/sa/writer"],"resources":[{"type":"topic","name":"exact"}],"operations":["Read"]},
        {"action":"allow","principals":["spiffe://cluster.local/ns/orders/*"],"resources":[{"type":"topic","name":"prefix"}],"operations":["Read"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"everyone"}],"operations":["Read"]},
        {"action":"allow","namespaces":["orders"],"resources":[{"type":"topic","name":"ns"}],"operations":["Read"]},
        {"action":"allow","namespaces":["ord*"],"resources":[{"type":"topic","name":"ns-prefix"}],"operations":["Read"]},
        {"action":"allow","namespaces":["*"],"resources":[{"type":"topic","name":"any-ns"}],"operations":["Read"]},
        {"action":"allow","serviceAccounts":["orders/writer"],"resources":[{"type":"topic","name":"sa"}],"operations":["Read"]},
        {"action":"allow","serviceAccounts":["orders/*"],"resources":[{"type":"topic","name":"sa-any"}],"operations":["Read"]},
        {"action":"allow","serviceAccounts":["billing/writer"],"resources":[{"type":"topic","name":"sa-other-ns"}],"operations":["Read"]},
        {"action":"allow","users":["User:alice"],"resources":[{"type":"topic","name":"user"}],"operations":["Read"]},
        {"action":"allow","users":["User:svc-*"],"resources":[{"type":"topic","name":"user-prefix"}],"operations":["Read"]},
        {"action":"allow","users":["User:*"],"resources":[{"type":"topic","name":"any-user"}],"operations":["Read"]},
        {"action":"allow","users":["User:ANONYMOUS"],"resources":[{"type":"topic","name":"anonymous"}],"operations":["Read"]},
        {"action":"allow","namespaces":["billing"],"users":["User:alice"],"resources":[{"type":"topic","name":"either"}],"operations":["Read"]}]}"#,
    );
    let can = |who: &Principal| -> Vec<&'static str> {
        [
            "exact",
            "prefix",
            "everyone",
            "ns",
            "ns-prefix",
            "any-ns",
            "sa",
            "sa-any",
            "sa-other-ns",
            "user",
            "user-prefix",
            "any-user",
            "anonymous",
            "either",
        ]
        .into_iter()
        .filter(|t| p.decide(who, T::Topic, t, O::Read).allowed)
        .collect()
    };
    assert_eq!(
        can(&writer()),
        [
            "exact",
            "prefix",
            "everyone",
            "ns",
            "ns-prefix",
            "any-ns",
            "sa",
            "sa-any"
        ]
    );
    let reader = Principal::from_spiffe_id("spiffe://cluster.local/ns/orders/sa/reader");
    assert_eq!(
        can(&reader),
        ["prefix", "everyone", "ns", "ns-prefix", "any-ns", "sa-any"]
    );
    let billing = Principal::from_spiffe_id("spiffe://cluster.local/ns/billing/sa/writer");
    assert_eq!(
        can(&billing),
        ["everyone", "any-ns", "sa-other-ns", "either"]
    );
    let other_td = Principal::from_spiffe_id("spiffe://other.domain/ns/orders/sa/writer");
    assert_eq!(
        can(&other_td),
        ["everyone", "ns", "ns-prefix", "any-ns", "sa", "sa-any"],
        "namespace and service account rules do not look at the trust domain"
    );
    let custom = Principal::from_spiffe_id("spiffe://cluster.local/custom/path");
    assert_eq!(can(&custom), ["everyone"]);
    assert_eq!(
        can(&Principal::from_sasl_user("alice")),
        ["everyone", "user", "any-user", "either"]
    );
    assert_eq!(
        can(&Principal::from_sasl_user("svc-payments")),
        ["everyone", "user-prefix", "any-user"]
    );
    assert_eq!(can(&Principal::anonymous()), ["everyone", "anonymous"]);
    // Both identities: matches what either of them matches.
    let both = writer().with_sasl_user("alice");
    assert_eq!(
        can(&both),
        [
            "exact",
            "prefix",
            "everyone",
            "ns",
            "ns-prefix",
            "any-ns",
            "sa",
            "sa-any",
            "user",
            "any-user",
            "either"
        ]
    );
}

#[test]
fn default_action_and_audit() {
    let rules = r#"[{"action":"deny","principals":["*"],"resources":[{"type":"topic","name":"secret"}],"operations":["All"]}]"#;
    let allow_default = policy(&format!(r#"{{"defaultAction":"allow","rules":{rules}}}"#));
    let d = allow_default.decide(&writer(), T::Topic, "public", O::Write);
    assert_eq!(
        d,
        Decision {
            allowed: true,
            enforced: true,
            rule: None,
            reason: Reason::Default
        }
    );
    assert!(!allowed_default_denies(&allow_default));

    let deny_default = policy(&format!(r#"{{"rules":{rules}}}"#));
    let d = deny_default.decide(&writer(), T::Topic, "public", O::Write);
    assert_eq!(
        (d.allowed, d.rule, d.reason),
        (false, None, Reason::Default)
    );
    assert!(!d.permits());
    assert!(!d.would_deny());

    let audit = policy(&format!(r#"{{"mode":"audit","rules":{rules}}}"#));
    assert_eq!(audit.mode(), Mode::Audit);
    let d = audit.decide(&writer(), T::Topic, "secret", O::Read);
    assert_eq!(
        d,
        Decision {
            allowed: false,
            enforced: false,
            rule: Some(0),
            reason: Reason::DenyRule
        }
    );
    assert!(d.permits());
    assert!(d.would_deny());

    let empty = policy("{}");
    assert_eq!(empty.rule_count(), 0);
    assert!(!empty.decide(&writer(), T::Topic, "x", O::Describe).allowed);
    assert!(!empty.has_rules_for(T::Topic, O::Read));
    assert!(deny_default.has_rules_for(T::Topic, O::Read));
    assert!(!deny_default.has_rules_for(T::Group, O::Read));
}

fn allowed_default_denies(p: &CompiledPolicy) -> bool {
    p.decide(&writer(), T::Topic, "secret", O::Describe).allowed
}

/// The scenario of issue 3: `orders` writes `orders.*` and reads `payments`; `analytics` only
/// reads `orders.*`.
#[test]
fn issue_scenario() {
    let p = policy(
        r#"{"rules":[
        {"action":"allow","serviceAccounts":["shop/orders"],
         "resources":[{"type":"topic","name":"orders.","patternType":"prefixed"}],"operations":["Write"]},
        {"action":"allow","serviceAccounts":["shop/orders"],
         "resources":[{"type":"topic","name":"payments"}],"operations":["Read"]},
        {"action":"allow","serviceAccounts":["shop/analytics"],
         "resources":[{"type":"topic","name":"orders.","patternType":"prefixed"},{"type":"group","name":"analytics"}],
         "operations":["Read"]}]}"#,
    );
    let orders = Principal::from_spiffe_id("spiffe://cluster.local/ns/shop/sa/orders");
    let analytics = Principal::from_spiffe_id("spiffe://cluster.local/ns/shop/sa/analytics");
    let check = |who: &Principal, t, n, o| p.decide(who, t, n, o).allowed;
    assert!(check(&orders, T::Topic, "orders.created", O::Write));
    assert!(check(&orders, T::Topic, "orders.created", O::Describe));
    assert!(!check(&orders, T::Topic, "orders.created", O::Read));
    assert!(check(&orders, T::Topic, "payments", O::Read));
    assert!(!check(&orders, T::Topic, "payments", O::Write));
    assert!(check(&analytics, T::Topic, "orders.created", O::Read));
    assert!(check(&analytics, T::Group, "analytics", O::Read));
    assert!(check(&analytics, T::Group, "analytics", O::Describe));
    assert!(!check(&analytics, T::Group, "other", O::Read));
    assert!(!check(&analytics, T::Topic, "orders.created", O::Write));
    assert!(!check(&analytics, T::Topic, "payments", O::Describe));
    assert!(!check(
        &Principal::anonymous(),
        T::Topic,
        "orders.created",
        O::Read
    ));
}

#[test]
fn compile_reports_validation_errors() {
    let p: AuthorizationPolicy = serde_json::from_str(
        r#"{"rules":[{"action":"allow","principals":["spiffe://td/*x"],"resources":[{"type":"topic","name":"a"}],"operations":["Read"]}]}"#,
    )
    .unwrap();
    let e = p.compile().unwrap_err();
    assert_eq!(e.errors().len(), 1);
    assert_eq!(e.errors()[0].path(), "authorization.rules[0].principals[0]");
    assert!(CompiledPolicy::try_from(&p).is_err());
}

#[test]
fn requests_for_all_need_an_all_rule() {
    let p = policy(
        r#"{"rules":[{"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"t"}],"operations":["Read","Write","Describe"]}]}"#,
    );
    assert!(!p.decide(&writer(), T::Topic, "t", O::All).allowed);
}

/// A direct reading of the semantics, rule by rule, without the compiled tables.
mod reference {
    use super::*;

    fn glob(pattern: &str, value: &str) -> bool {
        match pattern.strip_suffix('*') {
            Some(prefix) => value.starts_with(prefix),
            None => pattern == value,
        }
    }

    fn subject(rule: &Rule, p: &Principal) -> bool {
        let principals = rule
            .principals
            .iter()
            .any(|pat| pat == "*" || p.spiffe_id.as_deref().is_some_and(|id| glob(pat, id)));
        let namespaces = rule
            .namespaces
            .iter()
            .any(|pat| p.namespace.as_deref().is_some_and(|ns| glob(pat, ns)));
        let service_accounts = rule.service_accounts.iter().any(|pat| {
            let (pn, ps) = pat.split_once('/').unwrap();
            matches!((&p.namespace, &p.service_account), (Some(ns), Some(sa)) if glob(pn, ns) && glob(ps, sa))
        });
        let users = rule.users.iter().any(|u| {
            let name = u.strip_prefix("User:").unwrap();
            (name == "ANONYMOUS" && p.is_anonymous())
                || p.sasl_user.as_deref().is_some_and(|s| glob(name, s))
        });
        principals || namespaces || service_accounts || users
    }

    fn resource(rule: &Rule, t: ResourceType, name: &str) -> bool {
        rule.resources.iter().any(|r| {
            r.resource_type == t
                && match r.pattern_type {
                    PatternType::Literal => r.name == "*" || r.name == name,
                    PatternType::Prefixed => name.starts_with(r.name.as_str()),
                }
        })
    }

    pub fn decide(
        policy: &AuthorizationPolicy,
        p: &Principal,
        t: ResourceType,
        name: &str,
        op: Operation,
    ) -> (bool, Option<usize>) {
        let applies = |rule: &Rule| subject(rule, p) && resource(rule, t, name);
        let deny = policy.rules.iter().position(|r| {
            r.action == Action::Deny
                && applies(r)
                && r.operations.iter().any(|o| *o == op || *o == O::All)
        });
        if deny.is_some() {
            return (false, deny);
        }
        let allow = policy.rules.iter().position(|r| {
            r.action == Action::Allow
                && applies(r)
                && r.operations.iter().any(|g| kafka_allow_implies(*g, op))
        });
        if allow.is_some() {
            return (true, allow);
        }
        (policy.default_action == Action::Allow, None)
    }
}

mod differential {
    use super::*;
    use proptest::prelude::*;

    fn subjects() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(
            prop_oneof![
                Just("*".to_string()),
                "spiffe://td/ns/[ab]/sa/[xy]",
                "spiffe://td/ns/[ab]/\\*",
                "spiffe://td/ns/\\*",
            ],
            0..2,
        )
    }

    fn rule() -> impl Strategy<Value = Rule> {
        let ns = proptest::collection::vec(prop_oneof![Just("*".to_string()), "[ab]"], 0..2);
        let sas = proptest::collection::vec("[ab*]/[xy*]", 0..2);
        let users = proptest::collection::vec(
            prop_oneof![Just("User:ANONYMOUS".to_string()), "User:[uv]\\*?"],
            0..2,
        );
        let resource = (
            proptest::sample::select(vec![T::Topic, T::Group]),
            prop_oneof![Just("*".to_string()), "[ab]{1,3}"],
            proptest::sample::select(vec![PatternType::Literal, PatternType::Prefixed]),
        )
            .prop_filter_map("prefixed *", |(resource_type, name, pattern_type)| {
                (!(name == "*" && pattern_type == PatternType::Prefixed)).then_some(
                    ResourcePattern {
                        resource_type,
                        name,
                        pattern_type,
                    },
                )
            });
        let ops = proptest::collection::vec(
            proptest::sample::select(vec![
                O::Read,
                O::Write,
                O::Delete,
                O::Describe,
                O::AlterConfigs,
                O::DescribeConfigs,
                O::All,
            ]),
            1..3,
        );
        (
            proptest::sample::select(vec![Action::Allow, Action::Deny]),
            subjects(),
            ns,
            sas,
            users,
            proptest::collection::vec(resource, 1..3),
            ops,
        )
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
                    let mut rule = Rule {
                        name: None,
                        action,
                        principals,
                        namespaces,
                        service_accounts,
                        users,
                        resources,
                        operations,
                    };
                    if rule.resources.iter().all(|r| r.resource_type == T::Group) {
                        // Keep every operation applicable, so that the policy validates.
                        rule.operations
                            .retain(|o| matches!(o, O::Read | O::Describe | O::Delete | O::All));
                        if rule.operations.is_empty() {
                            rule.operations.push(O::Read);
                        }
                    }
                    if rule.principals.is_empty()
                        && rule.namespaces.is_empty()
                        && rule.service_accounts.is_empty()
                        && rule.users.is_empty()
                    {
                        rule.users.push("User:u".into());
                    }
                    rule
                },
            )
    }

    fn principal() -> impl Strategy<Value = Principal> {
        (
            proptest::option::of("spiffe://td/ns/[abc]/sa/[xyz]|spiffe://td/other"),
            proptest::option::of("[uvw]{1,2}"),
        )
            .prop_map(|(id, user)| Principal::new(id.as_deref(), user.as_deref()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn compiled_decisions_equal_the_reference(
            rules in proptest::collection::vec(rule(), 0..6),
            default_allow in any::<bool>(),
            requests in proptest::collection::vec(
                (principal(), proptest::sample::select(vec![T::Topic, T::Group]), "[ab]{0,4}", proptest::sample::select(Operation::ALL.to_vec())),
                1..16,
            ),
        ) {
            let policy = AuthorizationPolicy {
                mode: Mode::Enforce,
                default_action: if default_allow { Action::Allow } else { Action::Deny },
                rules,
            };
            let compiled = match policy.compile() {
                Ok(c) => c,
                Err(e) => return Err(TestCaseError::fail(format!("generated an invalid policy: {e}"))),
            };
            for (p, t, name, op) in &requests {
                let d = compiled.decide(p, *t, name, *op);
                let (allowed, rule) = reference::decide(&policy, p, *t, name, *op);
                prop_assert_eq!((d.allowed, d.rule), (allowed, rule), "{} {} {} {}", p, t, name, op);
                let bound = compiled.bind(p.clone());
                prop_assert_eq!(compiled.decide_bound(&bound, *t, name, *op), d);
            }
        }
    }
}

#[test]
fn bound_principals_follow_their_policy() {
    let rule = |action: &str| {
        format!(
            r#"{{"rules":[{{"action":"{action}","namespaces":["orders"],"resources":[{{"type":"topic","name":"t"}}],"operations":["Read"]}}]}}"#
        )
    };
    let old = policy(&rule("allow"));
    let new = policy(&rule("deny"));
    let bound = old.bind(writer());
    assert!(bound.is_bound_to(&old));
    assert!(bound.is_bound_to(&old.clone()));
    assert!(!bound.is_bound_to(&new));
    assert_eq!(bound.principal(), &writer());
    assert!(old.decide_bound(&bound, T::Topic, "t", O::Read).allowed);
    // A binding from the old policy never decides under the new one.
    let d = new.decide_bound(&bound, T::Topic, "t", O::Read);
    assert_eq!((d.allowed, d.rule), (false, Some(0)));
    let stranger = old.bind(Principal::from_spiffe_id(
        "spiffe://cluster.local/ns/x/sa/y",
    ));
    assert!(!old.decide_bound(&stranger, T::Topic, "t", O::Read).allowed);
}

#[test]
fn more_than_64_rules_bind() {
    let rules: Vec<String> = (0..130)
        .map(|i| {
            format!(
                r#"{{"name":"r{i}","action":"allow","users":["User:u{i}"],"resources":[{{"type":"topic","name":"t{i}"}}],"operations":["Write"]}}"#
            )
        })
        .collect();
    let p = policy(&format!(r#"{{"rules":[{}]}}"#, rules.join(",")));
    assert_eq!(p.rule_count(), 130);
    for i in [0, 63, 64, 127, 129] {
        let who = p.bind(Principal::from_sasl_user(&format!("u{i}")));
        let d = p.decide_bound(&who, T::Topic, &format!("t{i}"), O::Describe);
        assert_eq!((d.allowed, d.rule), (true, Some(i)));
        assert_eq!(p.rule_name(i), Some(format!("r{i}").as_str()));
        assert!(!p.decide_bound(&who, T::Topic, "t1", O::Write).allowed || i == 1);
    }
    assert_eq!(p.rule_name(130), None);
}

#[test]
fn decisions_print_and_serialize_for_logs() {
    let d = Decision {
        allowed: false,
        enforced: false,
        rule: Some(2),
        reason: Reason::DenyRule,
    };
    assert_eq!(d.to_string(), "deny by rules[2] (audit: not enforced)");
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        r#"{"allowed":false,"enforced":false,"rule":2,"reason":"deny_rule"}"#
    );
    let d = Decision {
        allowed: true,
        enforced: true,
        rule: None,
        reason: Reason::Default,
    };
    assert_eq!(d.to_string(), "allow by default");
    assert_eq!(d.reason.as_str(), "default");
}

/// Every YAML example in AUTHORIZATION.md parses and validates: whole `authorization:` blocks as
/// policies, indented `- action:` fragments as rules.
#[test]
fn reference_examples_are_valid() {
    let doc = include_str!("../../AUTHORIZATION.md");
    let mut checked = 0;
    for block in doc.split("```yaml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        if block.starts_with("authorization:") {
            #[derive(serde::Deserialize)]
            struct Wrapper {
                authorization: AuthorizationPolicy,
            }
            let w: Wrapper = serde_yaml::from_str(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
            w.authorization
                .validate()
                .unwrap_or_else(|e| panic!("{e}\n{block}"));
            checked += 1;
        } else if block.trim_start().starts_with("- action:") {
            let rules: Vec<Rule> =
                serde_yaml::from_str(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
            AuthorizationPolicy {
                rules,
                ..Default::default()
            }
            .validate()
            .unwrap_or_else(|e| panic!("{e}\n{block}"));
            checked += 1;
        } else if block.starts_with("resources:") {
            let r: std::collections::BTreeMap<String, Vec<ResourcePattern>> =
                serde_yaml::from_str(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
            assert_eq!(r["resources"].len(), 5);
            checked += 1;
        }
    }
    assert_eq!(checked, 6, "every example is checked");
}

/// The error listing shown in AUTHORIZATION.md is what validation prints.
#[test]
fn reference_error_listing_is_exact() {
    let doc = include_str!("../../AUTHORIZATION.md");
    let listing = doc
        .split("```text\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .unwrap();
    let p: AuthorizationPolicy = serde_json::from_str(
        r#"{"rules":[
        {"action":"allow","resources":[{"type":"topic","name":"a"}],"operations":["Read"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"a"}],"operations":["Read"]},
        {"action":"allow","principals":["*"],"resources":[{"type":"topic","name":"","patternType":"prefixed"}],"operations":["Read"]},
        {"action":"allow","principals":["*","spiffe://td/*/orders"],"resources":[{"type":"topic","name":"a"}],"operations":["Read"]}]}"#,
    )
    .unwrap();
    assert_eq!(p.validate().unwrap_err().to_string(), listing);
}
