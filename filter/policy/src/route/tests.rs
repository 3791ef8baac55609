use std::borrow::Cow;

use super::*;

fn routing(json: &str) -> Result<CompiledRouting, String> {
    let config: RoutingConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
    CompiledRouting::new(&config, "routing").map_err(|e| e.to_string())
}

fn team_a() -> CompiledRouting {
    routing(
        r#"{"tenants": [
            {"name": "team-a", "namespaces": ["team-a"], "topicPrefix": "team-a.", "groupPrefix": "team-a.",
             "transactionalIdPrefix": "team-a.",
             "topics": [{"name": "prices", "to": "shared.prices"}, {"prefix": "legacy-", "to": "old.team-a."}]},
            {"name": "team-b", "namespaces": ["team-b"], "topicPrefix": "team-b."}
        ]}"#,
    )
    .unwrap()
}

fn named(s: &str) -> ClientName<'_> {
    ClientName::Named(Cow::Borrowed(s))
}

#[test]
fn a_principal_gets_the_first_tenant_that_covers_it() {
    let r = team_a();
    let a = Principal::from_spiffe_id("spiffe://cluster.local/ns/team-a/sa/app");
    let b = Principal::from_spiffe_id("spiffe://cluster.local/ns/team-b/sa/app");
    let other = Principal::from_spiffe_id("spiffe://cluster.local/ns/ops/sa/admin");
    assert_eq!(r.tenant_of(&a), Some(0));
    assert_eq!(r.tenant_of(&b), Some(1));
    assert_eq!(r.tenant_of(&other), None);
    assert_eq!(r.tenant(1).unwrap().name(), "team-b");
}

#[test]
fn names_map_to_the_broker_and_back_exactly() {
    let r = team_a();
    let t = r.tenant(0).unwrap();
    for (kind, client, broker) in [
        (NameKind::Topic, "orders", "team-a.orders"),
        (NameKind::Topic, "prices", "shared.prices"),
        (NameKind::Topic, "legacy-x", "old.team-a.x"),
        (NameKind::Topic, "team-b.orders", "team-a.team-b.orders"),
        (NameKind::Group, "billing", "team-a.billing"),
        (NameKind::TransactionalId, "tx-1", "team-a.tx-1"),
    ] {
        assert_eq!(t.to_broker(kind, client), broker, "{kind:?} {client}");
        assert_eq!(
            t.to_client(kind, broker),
            named(client),
            "{kind:?} {broker}"
        );
    }
}

#[test]
fn other_tenants_names_are_hidden() {
    let r = team_a();
    let a = r.tenant(0).unwrap();
    assert_eq!(
        a.to_client(NameKind::Topic, "team-b.orders"),
        ClientName::Hidden
    );
    assert_eq!(
        a.to_client(NameKind::Topic, "__consumer_offsets"),
        ClientName::Hidden
    );
    assert_eq!(
        a.to_client(NameKind::Group, "team-b.billing"),
        ClientName::Hidden
    );
    let b = r.tenant(1).unwrap();
    assert_eq!(
        b.to_client(NameKind::Topic, "team-a.orders"),
        ClientName::Hidden
    );
    // team-b has no group prefix: its group ids pass unchanged.
    assert_eq!(
        b.to_broker(NameKind::Group, "billing"),
        Cow::Borrowed("billing")
    );
    assert_eq!(b.to_client(NameKind::Group, "anything"), named("anything"));
}

#[test]
fn a_tenant_without_prefix_keeps_unrouted_names() {
    let r = routing(
        r#"{"tenants": [{"name": "all", "principals": ["*"], "topics": [{"name": "orders-v1", "to": "orders"}]}]}"#,
    )
    .unwrap();
    let t = r.tenant(0).unwrap();
    assert!(matches!(
        t.to_broker(NameKind::Topic, "payments"),
        Cow::Borrowed("payments")
    ));
    assert_eq!(t.to_broker(NameKind::Topic, "orders-v1"), "orders");
    assert_eq!(t.to_client(NameKind::Topic, "orders"), named("orders-v1"));
    assert_eq!(t.to_client(NameKind::Topic, "payments"), named("payments"));
}

#[test]
fn routing_errors_name_the_field() {
    for (json, expect) in [
        (
            r#"{"tenants": [{"name": "a", "topicPrefix": "a."}]}"#,
            "routing.tenants[0]: a rule needs at least one of principals",
        ),
        (
            r#"{"tenants": [{"name": "", "principals": ["*"]}]}"#,
            "routing.tenants[0].name",
        ),
        (
            r#"{"tenants": [{"name": "a", "principals": ["*"]}, {"name": "a", "principals": ["*"]}]}"#,
            "routing.tenants[1].name: another tenant is already named \"a\"",
        ),
        (
            r#"{"tenants": [{"name": "a", "principals": ["*"], "topicPrefix": "a/"}]}"#,
            "routing.tenants[0].topicPrefix: \"a/\" has characters Kafka does not allow",
        ),
        (
            r#"{"tenants": [{"name": "a", "principals": ["*"], "topics": [{"to": "x"}]}]}"#,
            "routing.tenants[0].topics[0]: give exactly one of name",
        ),
        (
            r#"{"tenants": [{"name": "a", "principals": ["*"], "topics": [{"name": "x", "prefix": "y", "to": "x"}]}]}"#,
            "routing.tenants[0].topics[0]: give exactly one of name",
        ),
        (
            r#"{"tenants": [{"name": "a", "principals": ["*"], "topics": [{"name": "x", "to": "z"}, {"name": "y", "to": "z"}]}]}"#,
            "routing.tenants[0].topics[1].to: two client names route to \"z\"",
        ),
        (
            r#"{"tenants": [{"name": "a", "principals": ["*"], "topics": [{"name": "x", "to": "z"}, {"name": "x", "to": "w"}]}]}"#,
            "routing.tenants[0].topics[1].name: \"x\" is routed twice",
        ),
        (
            r#"{"tenants": [{"name": "a", "principals": ["*"], "topics": [{"prefix": "p.", "to": "q."}, {"prefix": "r.", "to": "q.r."}]}]}"#,
            "routing.tenants[0].topics[0].to: \"q.\" overlaps \"q.r.\"",
        ),
        (
            r#"{"tenants": [{"name": "a", "principals": ["*"], "topicPrefix": "a.", "topics": [{"name": "x", "to": "a.y"}]}]}"#,
            "targets \"a.y\", which a prefix of this tenant also produces",
        ),
        (
            r#"{"tenants": [{"name": "a", "principals": ["*"], "topicPrefix": "a.", "topics": [{"prefix": "p", "to": "a.p"}]}]}"#,
            "routing.tenants[0].topics[0].to: \"a.p\" overlaps the tenant's topicPrefix",
        ),
        (
            r#"{"brokerAddress": "kafka:9092"}"#,
            "routing.brokerAddress: \"kafka\" has no {node_id}",
        ),
        (
            r#"{"brokerAddress": "kafka-{node_id}:99999"}"#,
            "routing.brokerAddress: \"99999\" is not a port",
        ),
        (
            r#"{"brokerAddress": "kafka-{id}.svc"}"#,
            "a placeholder other than {node_id}",
        ),
        (r#"{"brokerAddress": ":9092"}"#, "the host is empty"),
    ] {
        let e = routing(json).unwrap_err();
        assert!(e.contains(expect), "{json}\n  gave: {e}\n  want: {expect}");
    }
}

/// The example in ROUTING.md is a valid configuration, and its error line is what the filter
/// prints for the mistake it describes.
#[test]
fn reference_examples_are_exact() {
    let doc = include_str!("../../ROUTING.md");
    let block = doc
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let config = crate::config::FilterConfig::from_json(
        serde_json::to_string(&serde_yaml::from_str::<serde_json::Value>(block).unwrap())
            .unwrap()
            .as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{block}"));
    let routing = config.routing.unwrap();
    assert_eq!(routing.tenants.len(), 2);
    assert_eq!(routing.quotas.len(), 2);
    let error = doc
        .split("```text\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .unwrap();
    let bad = crate::config::FilterConfig::from_json(
        br#"{"routing": {"tenants": [{"name": "team-a", "namespaces": ["team-a"], "topicPrefix": "team-a.",
            "topics": [{"name": "x", "to": "shared.x"}, {"prefix": "p-", "to": "team-a.x"}]}]}}"#,
    )
    .unwrap_err();
    assert_eq!(bad.to_string(), error.trim());
}

/// Every field of the routing types appears in ROUTING.md.
#[test]
fn reference_names_every_field() {
    let doc = include_str!("../../ROUTING.md");
    let full = RoutingConfig {
        tenants: vec![Tenant {
            name: "t".into(),
            principals: vec!["*".into()],
            namespaces: vec!["n".into()],
            service_accounts: vec!["n/s".into()],
            users: vec!["User:u".into()],
            topic_prefix: Some("t.".into()),
            group_prefix: Some("t.".into()),
            transactional_id_prefix: Some("t.".into()),
            topics: vec![TopicRoute {
                name: Some("a".into()),
                prefix: Some("b".into()),
                to: "c".into(),
            }],
        }],
        broker_address: Some("b-{node_id}".into()),
        quotas: vec![Quota {
            name: Some("q".into()),
            principals: vec!["*".into()],
            namespaces: vec!["n".into()],
            service_accounts: vec!["n/s".into()],
            users: vec!["User:u".into()],
            topics: vec!["t".into()],
            produce_bytes_per_second: Some(1),
            fetch_bytes_per_second: Some(1),
            read_only: true,
            per: QuotaScope::Tenant,
        }],
    };
    fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.push(k.clone());
                    keys(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    keys(&serde_json::to_value(&full).unwrap(), &mut names);
    for name in names {
        assert!(
            doc.contains(&format!("`{name}`")),
            "ROUTING.md does not document `{name}`"
        );
    }
}
