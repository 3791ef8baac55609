//! The `meshka` command line, run as a process: `validate`, `explain`, `render`, `crd`, with
//! their exit codes; the committed CRD YAML must equal what the types generate; rendered
//! WasmPlugins must satisfy Istio's WasmPlugin schema.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/crd_schema.rs"]
mod crd_schema;

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/policies")
        .join(name)
}

fn meshka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshka"))
        .args(args)
        .env_remove("MESHKA_FILTER_URL")
        .env_remove("MESHKA_FILTER_SHA256")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_accepts_a_valid_policy() {
    let out = meshka(&["validate", fixture("orders.yaml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "kafka/orders: valid (2 rules, mode enforce, default deny, ports 9092, FAIL_CLOSE)\n"
    );
}

#[test]
fn validate_names_every_field_with_a_problem() {
    let path = fixture("invalid.yaml");
    let out = meshka(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "{}: KafkaPolicy broken is invalid (2 problems):",
            path.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("\n  spec.authorization.rules[0].resources[0].name: "),
        "{err}"
    );
    assert!(err.contains("prefixed"), "{err}");
    assert!(
        err.contains("\n  spec.authorization.rules[1]: a rule needs at least one of principals"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = meshka(&["validate", fixture("misspelt.yaml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("spec.authorization.rules[0].principal: unknown field `principal`"),
        "{err}"
    );
}

#[test]
fn validate_names_routing_problems_under_spec_routing() {
    let path = fixture("invalid-routing.yaml");
    let out = meshka(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "{}: KafkaPolicy kafka/tenants is invalid (4 problems):",
            path.display()
        )),
        "{err}"
    );
    for path in [
        "spec.routing.tenants[0].topicPrefix",
        "spec.routing.tenants[1].name",
        "spec.routing.brokerAddress",
        "spec.routing.quotas[0].produceBytesPerSecond",
    ] {
        assert!(err.contains(&format!("\n  {path}: ")), "{path}: {err}");
    }
    assert!(out.stdout.is_empty());
}

/// The tenants example of istio/ (two tenants, a broker address, a rate and a read-only topic).
fn tenants_example() -> String {
    crd_schema::workspace()
        .join("istio/kafkapolicy-tenants.yaml")
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn validate_summarizes_routing() {
    let out = meshka(&["validate", &tenants_example()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "kafka/tenants: valid (6 rules, mode enforce, default deny, ports 9092, FAIL_CLOSE; routing: 2 tenants (team-a, team-b), broker address kafka-{node_id}.kafka-brokers.kafka.svc.cluster.local:9092, 2 quotas (1 read-only))\n"
    );
}

#[test]
fn explain_maps_names_through_the_callers_tenant() {
    let file = tenants_example();
    let explain = |principal: &str, resource: &str, operation: &str, json: bool| {
        let mut args = vec![
            "explain",
            &file,
            "--principal",
            principal,
            "--resource",
            resource,
            "--operation",
            operation,
        ];
        if json {
            args.push("--json");
        }
        meshka(&args)
    };
    let team_a = "spiffe://cluster.local/ns/team-a/sa/app";
    let team_b = "spiffe://cluster.local/ns/team-b/sa/app";

    let out = explain(team_a, "topic:orders", "Write", false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!(
            "kafka/tenants: ALLOW — {team_a} Write on topic:orders (allow by rules[0])\n  tenant team-a: topic orders is team-a.orders on the broker (the rules decide on that name)\n  spec.routing.quotas[0] (team-a-produce): produce at most 1048576 bytes/s per tenant\n  rules[0] (team-a):\n"
        )),
        "{stdout}"
    );

    // The same name is another topic for another tenant, and team-b's is read-only.
    let out = explain(team_b, "topic:legacy-orders", "Write", true);
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "policy": "kafka/tenants",
            "principal": team_b,
            "resource": {"type": "topic", "name": "legacy-orders"},
            "operation": "Write",
            "decision": {"allowed": true, "enforced": true, "rule": 1, "reason": "allow_rule"},
            "rule": {"name": "team-b", "action": "allow", "namespaces": ["team-b"],
                     "resources": [{"type": "topic", "name": "team-b.", "patternType": "prefixed"},
                                   {"type": "group", "name": "team-b.", "patternType": "prefixed"},
                                   {"type": "transactionalId", "name": "team-b.", "patternType": "prefixed"}],
                     "operations": ["All"]},
            "allowed": false,
            "routing": {"tenant": "team-b", "brokerName": "team-b.legacy-orders",
                        "readOnlyQuota": 1, "rateQuotas": []},
        }])
    );
    let out = explain(team_b, "topic:legacy-orders", "Write", false);
    assert!(
        text(&out.stdout).contains(
            "(deny: read-only by spec.routing.quotas[1]; the rules: allow by rules[1])\n"
        ),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        explain(team_b, "topic:legacy-orders", "Read", false)
            .status
            .code(),
        Some(0)
    );

    // Aliases, groups, and callers in no tenant.
    assert_eq!(
        explain(team_a, "topic:currencies", "Read", false)
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        explain(team_a, "topic:currencies", "Write", false)
            .status
            .code(),
        Some(3)
    );
    let out = explain(team_b, "group:billing", "Read", false);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("group billing is team-b.billing on the broker"));
    let out = explain(
        "spiffe://cluster.local/ns/platform/sa/currency-feed",
        "topic:shared.currencies",
        "Write",
        false,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("in no tenant: names reach the broker unchanged"));
}

#[test]
fn validate_reports_unreadable_files_as_usage_errors() {
    let out = meshka(&["validate", "/nonexistent/policy.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/policy.yaml: cannot read"));
    let out = meshka(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
}

#[test]
fn validate_reads_standard_input() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshka"))
        .args(["validate", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr)
        .contains("-: document 1: apiVersion \"v1\" kind \"ConfigMap\" is not a KafkaPolicy"));
}

#[test]
fn explain_prints_the_deciding_rule() {
    let file = fixture("orders.yaml");
    let file = file.to_str().unwrap();
    let out = meshka(&[
        "explain",
        file,
        "--principal",
        "spiffe://cluster.local/ns/shop/sa/orders",
        "--resource",
        "topic:orders.eu",
        "--operation",
        "Write",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("kafka/orders: ALLOW — spiffe://cluster.local/ns/shop/sa/orders Write on topic:orders.eu (allow by rules[0])\n  rules[0] (orders-write):\n    name: orders-write\n    action: allow\n"), "{stdout}");

    let out = meshka(&[
        "explain",
        file,
        "--principal",
        "spiffe://cluster.local/ns/shop/sa/orders",
        "--resource",
        "topic:orders.audit",
        "--operation",
        "write",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stdout).starts_with("kafka/orders: DENY — spiffe://cluster.local/ns/shop/sa/orders Write on topic:orders.audit (deny by rules[1])\n  rules[1] (no-audit-writes):\n"));

    let out = meshka(&[
        "explain",
        file,
        "--principal",
        "User:alice",
        "--resource",
        "topic:payments",
        "--operation",
        "Read",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "policy": "kafka/orders",
            "principal": "User:alice",
            "resource": {"type": "topic", "name": "payments"},
            "operation": "Read",
            "decision": {"allowed": false, "enforced": true, "rule": null, "reason": "default"},
            "rule": null,
        }])
    );
}

#[test]
fn explain_rejects_bad_arguments_and_invalid_policies() {
    let file = fixture("orders.yaml");
    let file = file.to_str().unwrap();
    let out = meshka(&[
        "explain",
        file,
        "--principal",
        "alice",
        "--resource",
        "topic:a",
        "--operation",
        "Read",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--principal"),
        "{}",
        text(&out.stderr)
    );
    let out = meshka(&[
        "explain",
        file,
        "--principal",
        "User:a",
        "--resource",
        "topics:a",
        "--operation",
        "Read",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown resource type"));
    let out = meshka(&[
        "explain",
        file,
        "--principal",
        "User:a",
        "--resource",
        "topic:a",
        "--operation",
        "Produce",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown operation \"Produce\""));
    let invalid = fixture("invalid.yaml");
    let out = meshka(&[
        "explain",
        invalid.to_str().unwrap(),
        "--principal",
        "User:a",
        "--resource",
        "topic:a",
        "--operation",
        "Read",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn render_prints_a_schema_valid_wasm_plugin() {
    let sha = "0123456789abcdef".repeat(4);
    let out = meshka(&[
        "render",
        fixture("orders.yaml").to_str().unwrap(),
        "--filter-url",
        "oci://registry.example/meshka-filter:0.1.0",
        "--filter-sha256",
        &sha,
        "--image-pull-policy",
        "IfNotPresent",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let docs = crd_schema::yaml_documents(&text(&out.stdout));
    assert_eq!(docs.len(), 1);
    let plugin = &docs[0];
    let schemas = crd_schema::Schemas::load();
    schemas.assert_valid(plugin, "the rendered WasmPlugin");
    assert_eq!(
        plugin,
        &serde_json::json!({
            "apiVersion": "extensions.istio.io/v1alpha1",
            "kind": "WasmPlugin",
            "metadata": {
                "name": "meshka-orders",
                "namespace": "kafka",
                "labels": {
                    "app.kubernetes.io/managed-by": "meshka",
                    "app.kubernetes.io/name": "meshka-filter",
                    "meshka.io/policy": "orders",
                },
            },
            "spec": {
                "selector": {"matchLabels": {"meshka.io/kafka-role": "broker"}},
                "url": "oci://registry.example/meshka-filter:0.1.0",
                "sha256": sha,
                "imagePullPolicy": "IfNotPresent",
                "type": "NETWORK",
                "phase": "AUTHZ",
                "failStrategy": "FAIL_CLOSE",
                "match": [{"mode": "SERVER", "ports": [{"number": 9092}]}],
                "pluginConfig": {
                    "failureMode": "closed",
                    "authorization": {
                        "mode": "enforce",
                        "defaultAction": "deny",
                        "rules": [
                            {"name": "orders-write", "action": "allow", "serviceAccounts": ["shop/orders"],
                             "resources": [{"type": "topic", "name": "orders", "patternType": "prefixed"}],
                             "operations": ["Write"]},
                            {"name": "no-audit-writes", "action": "deny", "principals": ["*"],
                             "resources": [{"type": "topic", "name": "orders.audit", "patternType": "literal"}],
                             "operations": ["Write"]},
                        ],
                    },
                },
            },
        })
    );
    // The filter loads the pluginConfig as it is.
    meshka_policy::config::FilterConfig::from_json(
        plugin["spec"]["pluginConfig"].to_string().as_bytes(),
    )
    .unwrap();
}

#[test]
fn the_schema_check_catches_what_istio_refuses() {
    let schemas = crd_schema::Schemas::load();
    let out = meshka(&["render", fixture("orders.yaml").to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let good: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    schemas.assert_valid(&good, "default render");
    for (pointer, bad) in [
        ("/spec/type", serde_json::json!("TCP")),
        ("/spec/match/0/ports/0/number", serde_json::json!(70000)),
        ("/spec/sha256", serde_json::json!("sha256:abc")),
        ("/spec/phse", serde_json::json!("AUTHZ")),
    ] {
        let mut v = good.clone();
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        v.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(last.into(), bad);
        assert!(
            !schemas.errors(&v).is_empty(),
            "{pointer} should be refused"
        );
    }
}

#[test]
fn render_refuses_invalid_policies_and_bad_images() {
    let out = meshka(&["render", fixture("invalid.yaml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing to apply when a policy is invalid"
    );
    let out = meshka(&[
        "render",
        fixture("orders.yaml").to_str().unwrap(),
        "--filter-sha256",
        "xyz",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("64 lowercase hex digits"));
}

#[test]
fn committed_crd_matches_the_types() {
    let out = meshka(&["crd"]);
    assert_eq!(out.status.code(), Some(0));
    let generated = text(&out.stdout);
    let root = crd_schema::workspace();
    for path in [
        "deploy/crds/kafkapolicies.meshka.io.yaml",
        "deploy/helm/meshka/crds/kafkapolicies.meshka.io.yaml",
    ] {
        let committed = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        assert!(
            committed == generated,
            "{path} is not what webhook/src/crd.rs generates: run\n  cargo run -p meshka-webhook -- crd > deploy/crds/kafkapolicies.meshka.io.yaml && cp deploy/crds/kafkapolicies.meshka.io.yaml deploy/helm/meshka/crds/"
        );
    }
}

#[test]
fn sample_policies_match_the_crd_schema() {
    let schemas = crd_schema::Schemas::load();
    for name in ["orders.yaml", "invalid.yaml", "invalid-routing.yaml"] {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        for doc in crd_schema::yaml_documents(&text) {
            schemas.assert_valid(&doc, name);
        }
    }
    let text = std::fs::read_to_string(fixture("misspelt.yaml")).unwrap();
    let doc = &crd_schema::yaml_documents(&text)[0];
    assert!(
        !schemas.errors(doc).is_empty(),
        "the CRD schema refuses unknown fields too"
    );
}

#[test]
fn oci_packs_a_module_and_prints_the_digests() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("meshka_filter.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let out_dir = dir.path().join("oci");
    let out = meshka(&[
        "oci",
        "--wasm",
        wasm.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--tag",
        "0.1.0",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    assert!(
        stdout.contains(&format!("image digest:     {digest}\n")),
        "{stdout}"
    );
    // sha256 of b"\0asm\x01\0\0\0"
    assert!(
        stdout.contains(
            "module sha256:    93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains(&format!(
        "sha256: {}\n",
        digest.trim_start_matches("sha256:")
    )));

    let out = meshka(&[
        "oci",
        "--wasm",
        "/nonexistent.wasm",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("could not read /nonexistent.wasm"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_policy_from_the_cluster_renders_with_its_owner_reference() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    let manifest = std::fs::read_to_string(fixture("orders.yaml"))
        .unwrap()
        .replace(
            "  namespace: kafka\n",
            "  namespace: kafka\n  uid: 0b6a3c8e-1f00-4000-8000-000000000042\n  generation: 3\n",
        );
    std::fs::write(&file, manifest).unwrap();
    let out = meshka(&[
        "render",
        file.to_str().unwrap(),
        "--json",
        "--image-pull-policy",
        "Always",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plugin: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crd_schema::Schemas::load().assert_valid(&plugin, "WasmPlugin with an owner reference");
    assert_eq!(
        plugin["metadata"]["ownerReferences"],
        serde_json::json!([{"apiVersion": "meshka.io/v1alpha1", "kind": "KafkaPolicy", "name": "orders",
            "uid": "0b6a3c8e-1f00-4000-8000-000000000042", "controller": true, "blockOwnerDeletion": true}])
    );
    assert_eq!(plugin["spec"]["imagePullPolicy"], "Always");
}

#[test]
fn validate_warns_about_policies_sharing_brokers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.yaml");
    let one = std::fs::read_to_string(fixture("orders.yaml")).unwrap();
    let two = one.replace("name: orders\n", "name: billing\n");
    std::fs::write(&file, format!("{one}---\n{two}")).unwrap();
    let out = meshka(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "a warning, not an error");
    let err = text(&out.stderr);
    assert!(
        err.contains("warning: kafka/orders: also selected, on a common port, by kafka/billing"),
        "{err}"
    );
    assert!(
        err.contains("warning: kafka/billing: also selected, on a common port, by kafka/orders")
    );
}
