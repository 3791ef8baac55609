//! Tests of the KafkaPolicy types, checks and rendering.

use super::validate::{check, parse_manifests, Error};
use super::*;
use meshka_policy::authz::{Operation, Principal, ResourceType};

const SAMPLE: &str = r#"
apiVersion: meshka.io/v1alpha1
kind: KafkaPolicy
metadata:
  name: orders
  namespace: kafka
spec:
  selector:
    matchLabels:
      meshka.io/kafka-role: broker
  ports: [9092]
  limits:
    maxFrameBytes: 2097152
  authorization:
    rules:
      - name: orders-write
        action: allow
        serviceAccounts: ["shop/orders"]
        resources:
          - { type: topic, name: "orders.", patternType: prefixed }
        operations: [Write]
"#;

fn sample() -> KafkaPolicy {
    parse_manifests(SAMPLE).unwrap().remove(0)
}

#[test]
fn parses_and_defaults() {
    let p = sample();
    assert_eq!(p.metadata.name.as_deref(), Some("orders"));
    assert_eq!(p.spec.ports, vec![9092]);
    assert_eq!(p.spec.fail_strategy, FailStrategy::FailClose);
    let minimal = parse_manifests(
        "apiVersion: meshka.io/v1alpha1\nkind: KafkaPolicy\nmetadata: {name: a}\nspec:\n  selector: {matchLabels: {app: kafka}}\n",
    )
    .unwrap();
    assert_eq!(minimal[0].spec.ports, vec![DEFAULT_PORT]);
    let checked = check(&minimal[0]).unwrap();
    assert_eq!(
        checked.plugin_config,
        serde_json::json!({"failureMode": "closed", "authorization": {"mode": "enforce", "defaultAction": "deny"}})
    );
}

#[test]
fn plugin_config_is_the_filters() {
    let checked = check(&sample()).unwrap();
    let mut c = checked.plugin_config.clone();
    let authz = c.as_object_mut().unwrap().remove("authorization").unwrap();
    let filter = meshka_policy::config::FilterConfig::from_json(c.to_string().as_bytes()).unwrap();
    assert_eq!(filter.max_frame_bytes, 2097152);
    let authz: meshka_policy::authz::AuthorizationPolicy = serde_json::from_value(authz).unwrap();
    assert_eq!(authz, sample().spec.authorization);
    let d = checked.compiled.decide(
        &Principal::from_spiffe_id("spiffe://cluster.local/ns/shop/sa/orders"),
        ResourceType::Topic,
        "orders.eu",
        Operation::Write,
    );
    assert!(d.allowed);
    assert_eq!(d.rule, Some(0));
}

#[test]
fn field_errors_name_the_field() {
    let bad = SAMPLE.replace("operations: [Write]", "operations: [Produce]");
    let e = parse_manifests(&bad).unwrap_err();
    assert_eq!(
        e.problems()[0].path,
        "spec.authorization.rules[0].operations[0]",
        "{e}"
    );
    let bad = SAMPLE.replace("ports: [9092]", "port: [9092]");
    let e = parse_manifests(&bad).unwrap_err().to_string();
    assert!(e.contains("spec.port: unknown field `port`"), "{e}");

    let bad = SAMPLE.replace("\"orders.\", patternType: prefixed", "\"orders.*\"");
    let p = parse_manifests(&bad).unwrap().remove(0);
    let e = check(&p).unwrap_err();
    assert_eq!(
        e.problems()[0].path,
        "spec.authorization.rules[0].resources[0].name"
    );
    assert!(
        e.to_string().starts_with(
            "KafkaPolicy kafka/orders is invalid: spec.authorization.rules[0].resources[0].name: "
        ),
        "{e}"
    );

    let bad = SAMPLE
        .replace("maxFrameBytes: 2097152", "maxFrameBytes: 10")
        .replace("ports: [9092]", "ports: [9092, 0, 9092]")
        .replace("name: orders\n", "name: Orders\n");
    let p = parse_manifests(&bad).unwrap().remove(0);
    let paths: Vec<_> = check(&p)
        .unwrap_err()
        .problems()
        .iter()
        .map(|p| p.path.clone())
        .collect();
    assert_eq!(
        paths,
        [
            "metadata.name",
            "spec.ports[1]",
            "spec.ports[2]",
            "spec.limits.maxFrameBytes"
        ]
    );
}

#[test]
fn other_documents_are_refused() {
    let e = parse_manifests("apiVersion: v1\nkind: Pod\n").unwrap_err();
    assert!(
        matches!(e, Error::NotAKafkaPolicy { document: 1, .. }),
        "{e}"
    );
    assert!(matches!(parse_manifests("---\n"), Err(Error::Empty)));
    assert!(matches!(
        parse_manifests("a: [b"),
        Err(Error::Syntax { .. })
    ));
    let two = format!(
        "{SAMPLE}---\n{}",
        SAMPLE.replace("name: orders\n", "name: other\n")
    );
    assert_eq!(parse_manifests(&two).unwrap().len(), 2);
}

#[test]
fn wasm_plugin_has_the_policy() {
    let mut p = sample();
    let image = FilterImage {
        url: "oci://registry.example/meshka-filter:0.1.0".into(),
        sha256: Some("a".repeat(64)),
        pull_policy: Some("IfNotPresent".into()),
        pull_secret: None,
    };
    let plugin = wasm_plugin(&p, &image).unwrap();
    assert_eq!(plugin["metadata"]["name"], "meshka-orders");
    assert_eq!(plugin["metadata"]["namespace"], "kafka");
    assert!(plugin["metadata"].get("ownerReferences").is_none());
    assert_eq!(plugin["spec"]["type"], "NETWORK");
    assert_eq!(plugin["spec"]["phase"], "AUTHZ");
    assert_eq!(plugin["spec"]["failStrategy"], "FAIL_CLOSE");
    assert_eq!(
        plugin["spec"]["match"],
        serde_json::json!([{"mode": "SERVER", "ports": [{"number": 9092}]}])
    );
    assert_eq!(
        plugin["spec"]["selector"],
        serde_json::json!({"matchLabels": {"meshka.io/kafka-role": "broker"}})
    );
    p.metadata.uid = Some("u-1".into());
    let plugin = wasm_plugin(&p, &image).unwrap();
    assert_eq!(
        plugin["metadata"]["ownerReferences"],
        serde_json::json!([{"apiVersion": "meshka.io/v1alpha1", "kind": "KafkaPolicy", "name": "orders",
            "uid": "u-1", "controller": true, "blockOwnerDeletion": true}])
    );
    let bad = FilterImage {
        sha256: Some("sha256:abc".into()),
        ..image.clone()
    };
    assert!(wasm_plugin(&p, &bad)
        .unwrap_err()
        .to_string()
        .contains("64 lowercase hex"));
    let bad = FilterImage {
        url: "ghcr.io/x".into(),
        ..image
    };
    assert!(wasm_plugin(&p, &bad)
        .unwrap_err()
        .to_string()
        .contains("oci://"));
}

#[test]
fn crd_is_structural_enough() {
    let crd = serde_json::to_value(KafkaPolicy::crd()).unwrap();
    let text = crd.to_string();
    for forbidden in [
        "\"const\"",
        "\"$ref\"",
        "\"oneOf\"",
        "\"anyOf\"",
        "\"$defs\"",
    ] {
        assert!(!text.contains(forbidden), "{forbidden} in the CRD: {text}");
    }
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"], serde_json::json!({"status": {}}));
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["required"], serde_json::json!(["selector"]));
    assert_eq!(
        spec["properties"]["authorization"]["properties"]["mode"]["enum"],
        serde_json::json!(["enforce", "audit"])
    );
    assert_eq!(
        spec["properties"]["failStrategy"]["enum"],
        serde_json::json!(["FAIL_CLOSE", "FAIL_OPEN"])
    );
}

#[test]
fn overlapping_policies_are_found() {
    use super::validate::{overlapping, overlaps};
    let a = sample();
    let mut b = sample();
    b.metadata.name = Some("billing".into());
    assert!(overlaps(&a, &b));
    assert_eq!(overlapping(&a, [&a, &b]), ["kafka/billing"]);
    // A narrower selector still selects some of the same pods.
    b.spec
        .selector
        .match_labels
        .insert("app".into(), "kafka-eu".into());
    assert!(overlaps(&a, &b) && overlaps(&b, &a));
    // Contradicting labels, other ports or another namespace: disjoint.
    let mut c = b.clone();
    c.spec
        .selector
        .match_labels
        .insert("meshka.io/kafka-role".into(), "controller".into());
    assert!(!overlaps(&a, &c));
    let mut d = b.clone();
    d.spec.ports = vec![9093];
    assert!(!overlaps(&a, &d));
    let mut e = b.clone();
    e.metadata.namespace = Some("other".into());
    assert!(!overlaps(&a, &e));
}

/// Every setting of the filter's configuration can be given in a KafkaPolicy: `spec.limits`
/// holds all of them but `failureMode` (from `spec.failStrategy`), and the policy parts that
/// are the filter's own types, `authorization` and `routing` (`spec.authorization`,
/// `spec.routing`).
#[test]
fn limits_cover_every_filter_setting() {
    let filter =
        serde_json::to_value(schemars::schema_for!(meshka_policy::config::FilterConfig)).unwrap();
    let limits = serde_json::to_value(schemars::schema_for!(FilterLimits)).unwrap();
    let keys = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
        v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let mut expected = keys(&filter);
    expected.remove("failureMode");
    // The policy parts: the same types in the spec and the plugin configuration.
    let policy_parts = ["authorization", "routing"];
    for part in policy_parts {
        assert!(expected.remove(part), "the filter has no {part} any more");
    }
    let spec_schema = serde_json::to_value(schemars::schema_for!(KafkaPolicySpec)).unwrap();
    for part in policy_parts {
        assert!(
            spec_schema["properties"].get(part).is_some(),
            "spec.{part} is missing"
        );
    }
    assert_eq!(
        keys(&limits),
        expected,
        "add the new filter setting to FilterLimits and render::plugin_config"
    );

    let all = FilterLimits {
        max_frame_bytes: Some(2048),
        max_header_bytes: Some(128),
        max_in_flight: Some(5),
        max_hold_bytes: Some(4096),
        log_connections: Some(false),
        log_allowed_every: Some(100),
        close_on_denied_acks_zero: Some(true),
        max_topic_metrics: Some(50),
    };
    let mut spec = sample().spec;
    spec.limits = Some(all);
    spec.routing = Some(meshka_policy::route::RoutingConfig {
        broker_address: Some("kafka-{node_id}.kafka-brokers.kafka.svc:9092".into()),
        ..Default::default()
    });
    let config = plugin_config(&spec).unwrap();
    let parsed =
        meshka_policy::config::FilterConfig::from_json(config.to_string().as_bytes()).unwrap();
    assert_eq!(parsed.max_hold_bytes, 4096);
    assert_eq!(parsed.log_allowed_every, 100);
    assert_eq!(parsed.max_topic_metrics, 50);
    assert!(parsed.close_on_denied_acks_zero);
    assert!(!parsed.log_connections);
    assert_eq!(parsed.routing, spec.routing);
    assert_eq!(
        keys(&serde_json::json!({"properties": config})),
        keys(&filter),
        "every setting rendered"
    );
}

const ROUTED: &str = r#"
apiVersion: meshka.io/v1alpha1
kind: KafkaPolicy
metadata:
  name: tenants
  namespace: kafka
spec:
  selector:
    matchLabels:
      meshka.io/kafka-role: broker
  authorization:
    rules:
      - action: allow
        namespaces: [team-a]
        resources:
          - { type: topic, name: "team-a.", patternType: prefixed }
        operations: [Write]
  routing:
    brokerAddress: "kafka-{node_id}.kafka-brokers.kafka.svc.cluster.local:9092"
    tenants:
      - name: team-a
        namespaces: [team-a]
        topicPrefix: team-a.
        groupPrefix: team-a.
    quotas:
      - name: team-a-produce
        namespaces: [team-a]
        produceBytesPerSecond: 1048576
        per: tenant
"#;

fn routed() -> KafkaPolicy {
    parse_manifests(ROUTED).unwrap().remove(0)
}

#[test]
fn routing_reaches_the_plugin_config() {
    let p = routed();
    let checked = check(&p).unwrap();
    let routing = checked.plugin_config["routing"].clone();
    assert_eq!(
        routing,
        serde_json::json!({
            "brokerAddress": "kafka-{node_id}.kafka-brokers.kafka.svc.cluster.local:9092",
            "tenants": [{"name": "team-a", "namespaces": ["team-a"], "topicPrefix": "team-a.", "groupPrefix": "team-a."}],
            "quotas": [{"name": "team-a-produce", "namespaces": ["team-a"], "produceBytesPerSecond": 1048576, "per": "tenant"}],
        })
    );
    // The filter loads it into the very same routing.
    let filter = meshka_policy::config::FilterConfig::from_json(
        checked.plugin_config.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(filter.routing, p.spec.routing);
    let compiled = checked.routing.unwrap();
    let member = Principal::from_spiffe_id("spiffe://cluster.local/ns/team-a/sa/app");
    let tenant = compiled
        .tenant(compiled.tenant_of(&member).unwrap())
        .unwrap();
    assert_eq!(tenant.name(), "team-a");
    assert!(compiled.broker_address().is_some() && compiled.quotas().is_some());

    // Without routing the plugin configuration has none, and neither has the check.
    let checked = check(&sample()).unwrap();
    assert!(checked.plugin_config.get("routing").is_none());
    assert!(checked.routing.is_none());
}

#[test]
fn routing_errors_name_their_field() {
    let bad = ROUTED
        .replace("topicPrefix: team-a.", "topicPrefix: \"team a/\"")
        .replace("{node_id}.kafka-brokers", "{broker}.kafka-brokers")
        .replace("produceBytesPerSecond: 1048576", "produceBytesPerSecond: 0");
    let p = parse_manifests(&bad).unwrap().remove(0);
    let e = check(&p).unwrap_err();
    let paths: Vec<_> = e.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.routing.tenants[0].topicPrefix",
            "spec.routing.brokerAddress",
            "spec.routing.quotas[0].produceBytesPerSecond"
        ],
        "{e}"
    );
    for problem in e.problems() {
        assert!(
            !problem.message.starts_with("spec.") && !problem.message.is_empty(),
            "{problem}"
        );
    }
    assert!(
        e.to_string()
            .contains("\n  spec.routing.tenants[0].topicPrefix: \"team a/\" has characters"),
        "{e}"
    );

    // Authorization and routing problems together, each under its own path.
    let bad = ROUTED
        .replace(
            "name: \"team-a.\", patternType: prefixed",
            "name: \"team-a.*\"",
        )
        .replace("      - name: team-a\n", "      - name: \"\"\n");
    let p = parse_manifests(&bad).unwrap().remove(0);
    let paths: Vec<_> = check(&p)
        .unwrap_err()
        .problems()
        .iter()
        .map(|p| p.path.clone())
        .collect();
    assert_eq!(
        paths,
        [
            "spec.authorization.rules[0].resources[0].name",
            "spec.routing.tenants[0].name"
        ]
    );

    // What does not deserialize is named too, before any check.
    let bad = ROUTED.replace("groupPrefix: team-a.", "groupPrefx: team-a.");
    let e = parse_manifests(&bad).unwrap_err();
    assert_eq!(
        e.problems()[0].path,
        "spec.routing.tenants[0].groupPrefx",
        "{e}"
    );
    assert!(e.to_string().contains("unknown field `groupPrefx`"), "{e}");
    let bad = ROUTED.replace("per: tenant", "per: team");
    let e = parse_manifests(&bad).unwrap_err();
    assert_eq!(e.problems()[0].path, "spec.routing.quotas[0].per", "{e}");
}

#[test]
fn crd_has_the_routing_schema() {
    let crd = serde_json::to_value(KafkaPolicy::crd()).unwrap();
    let routing = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["routing"];
    assert_eq!(routing["type"], "object");
    let tenant = &routing["properties"]["tenants"]["items"];
    assert_eq!(tenant["required"], serde_json::json!(["name"]));
    for field in [
        "topicPrefix",
        "groupPrefix",
        "transactionalIdPrefix",
        "topics",
    ] {
        assert!(tenant["properties"].get(field).is_some(), "{field}");
    }
    let quota = &routing["properties"]["quotas"]["items"];
    assert_eq!(
        quota["properties"]["per"]["enum"],
        serde_json::json!(["principalTopic", "principal", "tenant"])
    );
    assert_eq!(quota["properties"]["readOnly"]["type"], "boolean");
    assert_eq!(routing["properties"]["brokerAddress"]["type"], "string");
}
