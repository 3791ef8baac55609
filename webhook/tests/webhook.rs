//! End-to-end tests of the admission webhook over real HTTPS: every Pod and Service of the
//! shared fixtures, reinvocation, escaping, proxy-config merging, hostile and malformed input,
//! certificate reload, and the `meshka` binary itself.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use meshka_webhook::server::Limits;
use meshka_webhook::{Config, Role, Vendor};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `object` for admission; returns (response, the patched object or None without patch).
async fn admit(
    server: &harness::TestServer,
    object: &Value,
    op: &str,
    dry_run: bool,
) -> (Value, Option<Value>) {
    let body = serde_json::to_vec(&fixtures::review(object, op, dry_run)).unwrap();
    let resp = server.post("/mutate", &body).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let review = resp.json();
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["kind"], "AdmissionReview");
    let response = review["response"].clone();
    assert_eq!(
        response["uid"],
        fixtures::review(object, op, dry_run)["request"]["uid"]
    );
    assert_eq!(response["allowed"], true, "{response}");
    let patched = response["patch"].as_str().map(|b64| {
        assert_eq!(response["patchType"], "JSONPatch");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
        let mut doc = object.clone();
        json_patch::patch(&mut doc, &patch)
            .unwrap_or_else(|e| panic!("patch does not apply ({e}): {patch:?}"));
        doc
    });
    (response, patched)
}

fn expected_pod_role(name: &str) -> Option<Role> {
    let n = name.to_ascii_lowercase();
    if n.starts_with("negative/") || n.contains("strimzi-cluster-operator") {
        return None;
    }
    if n.starts_with("clients/")
        || n.contains("from-deployment")
        || n.contains("canary")
        || n.contains("job")
    {
        return Some(Role::Client);
    }
    if n.rsplit('/').next().unwrap().contains("zookeeper") {
        return Some(Role::Zookeeper);
    }
    if n.contains("v2-dedicated/derived-pod-kafka-controller")
        || n.contains("v3-plaintext-metrics-provisioning/derived-pod-kafka-controller")
    {
        return Some(Role::Controller);
    }
    Some(Role::Broker)
}

fn vendor_of(name: &str) -> Vendor {
    if name.starts_with("bitnami") {
        Vendor::Bitnami
    } else if name.starts_with("confluent") {
        Vendor::Confluent
    } else if name.contains("strimzi") {
        Vendor::Strimzi
    } else {
        Vendor::Generic
    }
}

fn ports_of(list: Option<&str>) -> BTreeSet<u16> {
    list.unwrap_or("")
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect()
}

fn str_map(v: &Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Field-by-field checks of a mutated pod against its original.
fn check_pod(name: &str, original: &Value, result: &Value, role: Role, config: &Config) {
    let labels = &result["metadata"]["labels"];
    let annotations = &result["metadata"]["annotations"];
    // Everything the user had is still there; only merged values differ.
    for (k, v) in str_map(&original["metadata"]["labels"]) {
        assert_eq!(&labels[&k], &v, "{name}: label {k} changed");
    }
    let merged_keys = [
        "proxy.istio.io/config",
        "traffic.sidecar.istio.io/excludeInboundPorts",
        "traffic.sidecar.istio.io/excludeOutboundPorts",
    ];
    for (k, v) in str_map(&original["metadata"]["annotations"]) {
        if !merged_keys.contains(&k.as_str()) {
            assert_eq!(&annotations[&k], &v, "{name}: annotation {k} changed");
        }
    }
    if original["metadata"]["labels"]["sidecar.istio.io/inject"].is_null() {
        assert_eq!(labels["sidecar.istio.io/inject"], "true", "{name}");
    }
    assert_eq!(labels["meshka.io/kafka-role"], role.as_str(), "{name}");

    let native = annotations["sidecar.istio.io/nativeSidecar"] == "true";
    let run_to_completion = original["spec"]["restartPolicy"]
        .as_str()
        .is_some_and(|p| p != "Always")
        || name.contains("job");
    assert_eq!(
        native,
        config.native_sidecar || (run_to_completion && config.native_sidecar_for_jobs),
        "{name}: native sidecar when configured, and for run-to-completion pods"
    );
    let proxy: serde_yaml::Value =
        serde_yaml::from_str(annotations["proxy.istio.io/config"].as_str().unwrap()).unwrap();
    assert_eq!(
        proxy["terminationDrainDuration"],
        serde_yaml::Value::from("45s"),
        "{name}"
    );
    if native {
        assert!(
            proxy.get("holdApplicationUntilProxyStarts").is_none(),
            "{name}"
        );
    } else {
        assert_eq!(
            proxy["holdApplicationUntilProxyStarts"],
            serde_yaml::Value::from(true),
            "{name}"
        );
        assert_eq!(
            proxy["proxyMetadata"]["EXIT_ON_ZERO_ACTIVE_CONNECTIONS"],
            serde_yaml::Value::from("true"),
            "{name}"
        );
    }
    assert!(
        result["spec"]["terminationGracePeriodSeconds"]
            .as_i64()
            .unwrap()
            >= 60,
        "{name}"
    );

    let vendor = vendor_of(name);
    let inbound = ports_of(annotations["traffic.sidecar.istio.io/excludeInboundPorts"].as_str());
    let outbound = ports_of(annotations["traffic.sidecar.istio.io/excludeOutboundPorts"].as_str());
    assert!(
        inbound.is_superset(&config.inbound_exclusions(vendor, role)),
        "{name}: inbound {inbound:?}"
    );
    assert!(
        outbound.is_superset(&config.outbound_exclusions(vendor, role)),
        "{name}: outbound {outbound:?}"
    );
    if role.is_server() {
        assert!(
            !inbound.contains(&9092),
            "{name}: the client port must stay in the mesh"
        );
        match (vendor, role) {
            _ if config.internal_traffic_in_mesh => {
                assert_eq!(
                    inbound,
                    config.ports[&vendor].inbound_only.iter().copied().collect(),
                    "{name}"
                );
                assert!(outbound.is_empty(), "{name}");
            }
            (Vendor::Bitnami, Role::Broker | Role::Controller) => {
                assert!(inbound.is_superset(&[9093, 9094, 5556].into()), "{name}")
            }
            (Vendor::Confluent, Role::Broker) => {
                assert!(inbound.is_superset(&[5555, 5556].into()), "{name}")
            }
            (_, Role::Zookeeper) => {
                assert!(inbound.is_superset(&[2181, 2888, 3888].into()), "{name}")
            }
            _ => {}
        }
    } else {
        assert!(
            inbound.is_empty(),
            "{name}: clients keep inbound traffic in the mesh"
        );
        let expected: BTreeSet<u16> = if config.internal_traffic_in_mesh {
            BTreeSet::new()
        } else {
            [2181, 2888, 3888].into()
        };
        assert_eq!(
            outbound, expected,
            "{name}: clients bypass the sidecar only towards ZooKeeper"
        );
    }
    if role == Role::Broker {
        assert_eq!(annotations["sidecar.istio.io/proxyCPU"], "500m", "{name}");
        assert_eq!(
            annotations["sidecar.istio.io/proxyMemoryLimit"], "1Gi",
            "{name}"
        );
    }
    // Istio-owned fields untouched.
    for k in [
        "sidecar.istio.io/status",
        "istio.io/rev",
        "security.istio.io/tlsMode",
    ] {
        assert_eq!(labels[k], original["metadata"]["labels"][k], "{name}");
        assert_eq!(
            annotations[k], original["metadata"]["annotations"][k],
            "{name}"
        );
    }
    // Nothing else in the spec changed except port names.
    let strip = |v: &Value| {
        let mut v = v["spec"].clone();
        v.as_object_mut()
            .unwrap()
            .remove("terminationGracePeriodSeconds");
        for c in v["containers"].as_array_mut().unwrap() {
            for p in c["ports"].as_array_mut().into_iter().flatten() {
                p.as_object_mut().unwrap().remove("name");
            }
        }
        v
    };
    assert_eq!(
        strip(original),
        strip(result),
        "{name}: unexpected spec change"
    );
}

fn is_kafka_service_port(port: &Value) -> bool {
    let n = port["port"].as_u64().unwrap_or(0);
    let name = port["name"].as_str().unwrap_or("");
    [9092, 9093, 9094, 9095, 2181, 2888, 3888].contains(&n) || name.contains("broker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_over_https() {
    every_fixture_with(Config::default()).await;
}

/// The other settings: native sidecars everywhere, internal traffic in the mesh, clients and
/// Confluent not handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_over_https_with_native_sidecars_and_internal_mesh_traffic() {
    let mut config = Config {
        native_sidecar: true,
        internal_traffic_in_mesh: true,
        ..Config::default()
    };
    config.roles.remove(&Role::Client);
    config.vendors.remove(&Vendor::Confluent);
    every_fixture_with(config).await;
}

async fn every_fixture_with(config: Config) {
    let server = harness::start(config.clone(), Limits::default()).await;
    let all = fixtures::load();
    let pods = all.iter().filter(|f| f.object["kind"] == "Pod").count();
    let services = all.iter().filter(|f| f.object["kind"] == "Service").count();
    assert!(
        pods >= 32 && services >= 30,
        "fixtures incomplete: {pods} pods, {services} services"
    );

    let mut to_validate = Vec::new();
    let mut patched_pods = 0;
    for fixture in &all {
        let name = &fixture.name;
        let original = &fixture.object;
        let (response, result) = admit(&server, original, "CREATE", false).await;
        if original["kind"] == "Pod" {
            let expected = expected_pod_role(name).filter(|role| {
                config.roles.contains(role) && config.vendors.contains(&vendor_of(name))
            });
            match (expected, &result) {
                (None, None) => {}
                (None, Some(r)) => panic!("{name}: a non-Kafka pod was patched: {r}"),
                (Some(role), None) => {
                    panic!("{name}: expected a {role:?} patch, got none: {response}")
                }
                (Some(role), Some(r)) => {
                    check_pod(name, original, r, role, &config);
                    patched_pods += 1;
                }
            }
        } else {
            let kafka_ports: Vec<&Value> = original["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| is_kafka_service_port(p))
                .collect();
            match &result {
                None => assert!(
                    kafka_ports.is_empty(),
                    "{name}: Kafka ports not marked: {response}"
                ),
                Some(r) => {
                    for (before, after) in original["spec"]["ports"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .zip(r["spec"]["ports"].as_array().unwrap())
                    {
                        if is_kafka_service_port(before) {
                            assert_eq!(after["appProtocol"], "tcp", "{name}: {after}");
                        } else {
                            assert_eq!(before, after, "{name}");
                        }
                    }
                    assert_eq!(original["metadata"], r["metadata"], "{name}");
                }
            }
        }
        let result = result.unwrap_or_else(|| original.clone());
        // Reinvocation: the webhook's own output needs nothing more.
        let (again, second) = admit(&server, &result, "CREATE", false).await;
        assert!(
            second.is_none(),
            "{name}: second pass patched again: {again}"
        );
        to_validate.push((name.clone(), result));
    }
    assert!(patched_pods >= 8, "only {patched_pods} pods patched");
    fixtures::validate(&to_validate);

    let metrics = server.get("/metrics").await.text();
    assert!(
        metrics.contains(
            "meshka_webhook_admissions_total{kind=\"Pod\",role=\"broker\",result=\"patched\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "meshka_webhook_admissions_total{kind=\"Pod\",role=\"broker\",result=\"unchanged\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "meshka_webhook_admissions_total{kind=\"Pod\",role=\"none\",result=\"ignored\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "meshka_webhook_admissions_total{kind=\"Service\",role=\"broker\",result=\"patched\"}"
        ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_api_server_review_is_answered() {
    let server = harness::start(Config::default(), Limits::default()).await;
    let body = std::fs::read(
        fixtures::fixtures_dir().join("admission-review/kube-rs-admissionreview-pod-create.json"),
    )
    .unwrap();
    let resp = server.post("/mutate", &body).await;
    assert_eq!(resp.status, 200);
    let review = resp.json();
    assert_eq!(
        review["response"]["uid"],
        "0c9a8d74-9cb7-44dd-b98e-09fd62def2f4"
    );
    assert_eq!(review["response"]["allowed"], true);
    assert!(
        review["response"]["patch"].is_null(),
        "echo-server is not Kafka"
    );

    // The same captured request with a Kafka role annotation: patched, and the patch applies
    // to the captured object (managedFields, defaulted spec and all).
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v["request"]["object"]["metadata"]["annotations"]["meshka.io/kafka-role"] = json!("client");
    let resp = server
        .post("/mutate", &serde_json::to_vec(&v).unwrap())
        .await;
    let response = resp.json()["response"].clone();
    let patch: json_patch::Patch = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(response["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut pod = v["request"]["object"].clone();
    json_patch::patch(&mut pod, &patch).unwrap();
    assert_eq!(pod["metadata"]["labels"]["meshka.io/kafka-role"], "client");
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 60);
    assert!(
        response["warnings"][0]
            .as_str()
            .unwrap()
            .contains("raised from 30 to 60"),
        "{response}"
    );
    pod.as_object_mut().unwrap().remove("status");
    fixtures::validate(&[("captured".into(), pod)]);

    // v1beta1 is answered in v1beta1 (Kubernetes drops answers of another version), admitted
    // unchanged, with a warning that says what to set.
    let body = std::fs::read(
        fixtures::fixtures_dir()
            .join("admission-review/sighupio-admissionreview-v1beta1-pod-create-debug.json"),
    )
    .unwrap();
    let resp = server.post("/mutate", &body).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let sent: Value = serde_json::from_slice(&body).unwrap();
    let review = resp.json();
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(review["response"]["uid"], sent["request"]["uid"]);
    assert_eq!(review["response"]["allowed"], true);
    assert!(review["response"]["patch"].is_null());
    assert!(
        review["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("admissionReviewVersions: [v1]"),
        "{review}"
    );
}

fn kafka_pod(annotations: Option<Value>) -> Value {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kafka-0", "namespace": "kafka"},
        "spec": {"containers": [{"name": "kafka", "image": "apache/kafka:4.0.0",
                                  "ports": [{"containerPort": 9092}, {"containerPort": 9093, "name": "controller"}]}]}
    });
    if let Some(a) = annotations {
        pod["metadata"]["annotations"] = a;
    }
    pod
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escaping_missing_annotations_and_proxy_config_formats() {
    let mut config = Config::default();
    config
        .labels
        .insert("example.com/odd~key".into(), "x".into());
    let server = harness::start(config, Limits::default()).await;

    // No metadata.annotations, no labels at all.
    let pod = kafka_pod(None);
    let (response, result) = admit(&server, &pod, "CREATE", false).await;
    let result = result.unwrap();
    let patch = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(response["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(result["metadata"]["labels"]["example.com/odd~key"], "x");
    assert_eq!(
        result["metadata"]["labels"]["sidecar.istio.io/inject"],
        "true"
    );
    assert_eq!(
        result["spec"]["containers"][0]["ports"][0]["name"],
        "tcp-9092"
    );
    assert_eq!(
        result["spec"]["containers"][0]["ports"][1]["name"],
        "controller"
    );

    // Existing labels and annotations: keys are added one by one, escaped.
    let mut pod = kafka_pod(Some(json!({"team/a~b": "1"})));
    pod["metadata"]["labels"] = json!({"app": "kafka"});
    let (response, result) = admit(&server, &pod, "CREATE", false).await;
    let result = result.unwrap();
    let patch = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(response["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
        + &patch;
    assert!(
        patch.contains("/metadata/labels/example.com~1odd~0key"),
        "{patch}"
    );
    assert!(
        patch.contains("/metadata/annotations/proxy.istio.io~1config"),
        "{patch}"
    );
    assert!(
        patch.contains("/metadata/labels/sidecar.istio.io~1inject"),
        "{patch}"
    );
    assert_eq!(result["metadata"]["annotations"]["team/a~b"], "1");
    assert_eq!(result["metadata"]["labels"]["example.com/odd~key"], "x");
    assert!(admit(&server, &result, "CREATE", false).await.1.is_none());

    // proxy.istio.io/config in YAML: merged, user values kept, still YAML.
    let yaml =
        "terminationDrainDuration: 100s\nproxyMetadata:\n  ISTIO_META_DNS_CAPTURE: \"true\"\n";
    let (_, result) = admit(
        &server,
        &kafka_pod(Some(json!({"proxy.istio.io/config": yaml}))),
        "CREATE",
        false,
    )
    .await;
    let result = result.unwrap();
    let text = result["metadata"]["annotations"]["proxy.istio.io/config"]
        .as_str()
        .unwrap();
    assert!(!text.trim_start().starts_with('{'), "{text}");
    let v: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    assert_eq!(
        v["terminationDrainDuration"],
        serde_yaml::Value::from("100s")
    );
    assert_eq!(
        v["proxyMetadata"]["ISTIO_META_DNS_CAPTURE"],
        serde_yaml::Value::from("true")
    );
    assert_eq!(
        v["proxyMetadata"]["EXIT_ON_ZERO_ACTIVE_CONNECTIONS"],
        serde_yaml::Value::from("true")
    );
    assert_eq!(
        v["holdApplicationUntilProxyStarts"],
        serde_yaml::Value::from(true)
    );
    // The grace period follows the user's longer drain.
    assert_eq!(result["spec"]["terminationGracePeriodSeconds"], 115);
    assert!(admit(&server, &result, "CREATE", false).await.1.is_none());

    // proxy.istio.io/config in JSON: merged, still JSON; the user's `false` is respected.
    let json_cfg = r#"{"holdApplicationUntilProxyStarts":false,"concurrency":2}"#;
    let (_, result) = admit(
        &server,
        &kafka_pod(Some(json!({"proxy.istio.io/config": json_cfg}))),
        "CREATE",
        false,
    )
    .await;
    let result = result.unwrap();
    let text = result["metadata"]["annotations"]["proxy.istio.io/config"]
        .as_str()
        .unwrap();
    let v: Value = serde_json::from_str(text).unwrap();
    assert_eq!(v["holdApplicationUntilProxyStarts"], false);
    assert_eq!(v["concurrency"], 2);
    assert_eq!(v["terminationDrainDuration"], "45s");
    assert!(admit(&server, &result, "CREATE", false).await.1.is_none());

    // A broken proxy.istio.io/config is left alone, with a warning.
    let (response, result) = admit(
        &server,
        &kafka_pod(Some(json!({"proxy.istio.io/config": "a: [b"}))),
        "CREATE",
        false,
    )
    .await;
    assert_eq!(
        result.unwrap()["metadata"]["annotations"]["proxy.istio.io/config"],
        "a: [b"
    );
    assert!(
        response["warnings"]
            .to_string()
            .contains("proxy.istio.io/config"),
        "{response}"
    );

    // Istio-owned fields are never written, even when configured.
    // (sidecar.istio.io/status set by the injector stays as it is.)
    let mut pod = kafka_pod(Some(json!({"sidecar.istio.io/status": "{\"x\":1}"})));
    pod["metadata"]["labels"] = json!({"security.istio.io/tlsMode": "istio"});
    let (_, result) = admit(&server, &pod, "CREATE", false).await;
    let result = result.unwrap();
    assert_eq!(
        result["metadata"]["annotations"]["sidecar.istio.io/status"],
        "{\"x\":1}"
    );
    assert_eq!(
        result["metadata"]["labels"]["security.istio.io/tlsMode"],
        "istio"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotation_overrides_and_dry_run_and_operations() {
    let server = harness::start(Config::default(), Limits::default()).await;
    // `none` leaves a broker alone.
    let pod = kafka_pod(Some(json!({"meshka.io/kafka-role": "none"})));
    assert!(admit(&server, &pod, "CREATE", false).await.1.is_none());
    // An unknown value: untouched, with a warning.
    let (response, result) = admit(
        &server,
        &kafka_pod(Some(json!({"meshka.io/kafka-role": "brokr"}))),
        "CREATE",
        false,
    )
    .await;
    assert!(result.is_none());
    assert!(response["warnings"].to_string().contains("brokr"));
    // dryRun gives the same answer and has no side effects (the review is pure).
    let a = admit(&server, &kafka_pod(None), "CREATE", true).await;
    let b = admit(&server, &kafka_pod(None), "CREATE", false).await;
    assert_eq!(a.0["patch"], b.0["patch"]);
    // Pods are only mutated on CREATE.
    assert!(admit(&server, &kafka_pod(None), "UPDATE", false)
        .await
        .1
        .is_none());
    // Services also on UPDATE.
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kafka"},
                     "spec": {"ports": [{"name": "http-kafka", "port": 9092}]}});
    let (response, result) = admit(&server, &svc, "UPDATE", false).await;
    assert_eq!(result.unwrap()["spec"]["ports"][0]["appProtocol"], "tcp");
    assert!(
        response["warnings"].to_string().contains("http"),
        "{response}"
    );
    // A Service port whose appProtocol the user set to http: kept, warned.
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kafka"},
                     "spec": {"ports": [{"name": "kafka", "port": 9092, "appProtocol": "http"}]}});
    let (response, result) = admit(&server, &svc, "CREATE", false).await;
    assert!(result.is_none());
    assert!(
        response["warnings"]
            .to_string()
            .contains("appProtocol: http"),
        "{response}"
    );
    // A broker on emptyDir: warned.
    let mut pod = kafka_pod(None);
    pod["spec"]["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
    pod["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "data", "mountPath": "/var/lib/kafka/data"}]);
    let (response, _) = admit(&server, &pod, "CREATE", false).await;
    assert!(
        response["warnings"].to_string().contains("emptyDir"),
        "{response}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_clear_answers() {
    let limits = Limits {
        handshake_timeout: Duration::from_millis(500),
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let server = harness::start(Config::default(), limits).await;
    let ca = server.certs.ca_pem.clone();

    // Malformed JSON.
    let r = server.post("/mutate", b"{\"kind\": ").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("not JSON"), "{}", r.text());
    // The wrong kind: a bare Pod.
    let r = server
        .post(
            "/mutate",
            serde_json::to_vec(&kafka_pod(None)).unwrap().as_slice(),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("expected kind AdmissionReview"),
        "{}",
        r.text()
    );
    // No request.
    let r = server
        .post(
            "/mutate",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    // Missing required fields of a request with a uid: admitted unchanged, the field named.
    let r = server.post("/mutate", br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x"}}"#).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["response"]["uid"], "x");
    assert_eq!(r.json()["response"]["allowed"], true);
    assert!(
        r.json()["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("AdmissionReview.request: missing field `kind`"),
        "{}",
        r.text()
    );
    // No object: denied with a message.
    let mut review = fixtures::review(&kafka_pod(None), "CREATE", false);
    review["request"].as_object_mut().unwrap().remove("object");
    let r = server
        .post("/mutate", &serde_json::to_vec(&review).unwrap())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["response"]["allowed"], false);
    assert!(r.json()["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("no object"));
    // A pod that does not parse: admitted unchanged, with a warning.
    let mut bad = kafka_pod(None);
    bad["spec"]["containers"] = json!("not a list");
    let (response, result) = admit(&server, &bad, "CREATE", false).await;
    assert!(result.is_none());
    assert!(
        response["warnings"]
            .to_string()
            .contains("could not read the Pod"),
        "{response}"
    );
    // A kind the webhook does not handle.
    let mut review = fixtures::review(&kafka_pod(None), "CREATE", false);
    review["request"]["kind"] = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
    let r = server
        .post("/mutate", &serde_json::to_vec(&review).unwrap())
        .await;
    assert_eq!(r.json()["response"]["allowed"], true);
    assert!(r.json()["response"]["patch"].is_null());
    // Oversized, declared in Content-Length: refused before reading.
    let mut req = format!(
        "POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        4 * 1024 * 1024
    )
    .into_bytes();
    req.extend_from_slice(b"{");
    let r = harness::raw(server.addr, &ca, &req).await;
    assert_eq!(r.status, 413);
    // Oversized, chunked (no length given): cut off at 3 MiB.
    let mut req = b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..4 {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(&chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = harness::raw(server.addr, &ca, &req).await;
    assert_eq!(r.status, 413, "{}", r.text());
    // A body just under the limit is read (and then rejected as not an AdmissionReview).
    let mut body = vec![b' '; 3 * 1024 * 1024 - 2];
    body[0] = b'{';
    *body.last_mut().unwrap() = b'}';
    let r = server.post("/mutate", &body).await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Wrong method and path.
    assert_eq!(server.get("/mutate").await.status, 405);
    assert_eq!(server.get("/nope").await.status, 404);

    // Slow clients are cut off, not waited for.
    let started = std::time::Instant::now();
    // 1. TCP connect, then silence: no TLS handshake.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("handshake timeout not enforced");
    assert!(matches!(n, Ok(0) | Err(_)));
    // 2. Plain HTTP on the TLS port.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut out))
        .await
        .expect("plain HTTP not closed");
    assert!(!String::from_utf8_lossy(&out).contains("200 OK"));
    // 3. Headers that never end.
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut tls = harness::connector(&ca)
        .connect(harness::server_name(), tcp)
        .await
        .unwrap();
    tls.write_all(b"POST /mutate HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut out))
        .await
        .expect("header timeout not enforced");
    // 4. A body that never arrives.
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut tls = harness::connector(&ca)
        .connect(harness::server_name(), tcp)
        .await
        .unwrap();
    tls.write_all(
        b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut out))
        .await
        .expect("body timeout not enforced");
    assert!(
        String::from_utf8_lossy(&out).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(8));

    // Still healthy, and the rejections are counted.
    assert_eq!(server.get("/healthz").await.status, 200);
    let metrics = server.get("/metrics").await.text();
    for reason in ["bad_request", "too_large", "timeout", "tls_handshake"] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{reason} not counted:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_admissions() {
    let server = std::sync::Arc::new(harness::start(Config::default(), Limits::default()).await);
    let body = serde_json::to_vec(&fixtures::review(&kafka_pod(None), "CREATE", false)).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let server = std::sync::Arc::clone(&server);
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            server.post("/mutate", &body).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let server = harness::start(Config::default(), Limits::default()).await;
    assert_eq!(server.get("/healthz").await.status, 200);
    assert_eq!(server.get("/readyz").await.status, 200);
    server.state.set_ready(false);
    assert_eq!(server.get("/readyz").await.status, 503);
    let m = server.get("/metrics").await;
    assert_eq!(m.status, 200);
    assert!(m
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("text/plain")));
    assert!(m
        .text()
        .contains("# TYPE meshka_webhook_admission_duration_seconds histogram"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_files_are_reloaded() {
    use meshka_webhook::server::tls::{self, CertFiles, CertStore};
    let dir = tempfile::tempdir().unwrap();
    let files = CertFiles {
        cert: dir.path().join("tls.crt"),
        key: dir.path().join("tls.key"),
    };
    let names = tls::service_dns_names(harness::SERVICE, harness::NAMESPACE);
    let first = tls::provision(names.clone()).unwrap();
    std::fs::write(&files.cert, &first.cert_pem).unwrap();
    std::fs::write(&files.key, &first.key_pem).unwrap();
    let store = CertStore::new(files.load().unwrap());
    let server = harness::start_with(
        Config::default(),
        Limits::default(),
        first.clone(),
        std::sync::Arc::clone(&store),
    )
    .await;
    tokio::spawn(files.clone().watch(
        std::sync::Arc::clone(&store),
        Duration::from_millis(100),
        std::sync::Arc::clone(&server.metrics),
    ));
    assert_eq!(server.get("/healthz").await.status, 200);

    // A half-written pair (new certificate, old key) is refused; the old certificate stays.
    let second = tls::provision(names).unwrap();
    std::fs::write(&files.cert, &second.cert_pem).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.get("/healthz").await.status, 200);
    // The key arrives: the new certificate is served.
    std::fs::write(&files.key, &second.key_pem).unwrap();
    let mut switched = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        if harness::connector(&second.ca_pem)
            .connect(harness::server_name(), tcp)
            .await
            .is_ok()
        {
            switched = true;
            break;
        }
    }
    assert!(switched, "the new certificate was not picked up");
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert!(harness::connector(&first.ca_pem)
        .connect(harness::server_name(), tcp)
        .await
        .is_err());
    let r = harness::raw(
        server.addr,
        &second.ca_pem,
        &harness::request_bytes("GET", "/metrics", b""),
    )
    .await;
    assert!(
        r.text()
            .contains("meshka_webhook_tls_reloads_total{result=\"ok\"} 1"),
        "{}",
        r.text()
    );
    assert!(
        r.text()
            .contains("meshka_webhook_tls_reloads_total{result=\"error\"} 1"),
        "{}",
        r.text()
    );
}

#[test]
fn binary_self_provisions_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_meshka"))
        .args([
            "webhook",
            "--self-provision",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--service",
            harness::SERVICE,
            "--namespace",
            harness::NAMESPACE,
            "--shutdown-delay-seconds",
            "0",
            "--header-timeout-seconds",
            "1",
        ])
        .arg("--ca-out")
        .arg(&ca)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        for _ in 0..100 {
            if ca.exists() && tokio::net::TcpStream::connect(addr).await.is_ok() {
                let pem = std::fs::read_to_string(&ca).unwrap();
                // --header-timeout-seconds 1: a client that sends no request is cut off.
                let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                let mut idle = harness::connector(&pem)
                    .connect(harness::server_name(), tcp)
                    .await
                    .unwrap();
                let started = std::time::Instant::now();
                let mut buf = [0u8; 16];
                let closed =
                    tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
                assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
                assert!(
                    started.elapsed() < Duration::from_secs(3),
                    "{:?}",
                    started.elapsed()
                );
                let r =
                    harness::raw(addr, &pem, &harness::request_bytes("GET", "/readyz", b"")).await;
                let body = serde_json::to_vec(&fixtures::review(&kafka_pod(None), "CREATE", false))
                    .unwrap();
                let m = harness::raw(
                    addr,
                    &pem,
                    &harness::request_bytes("POST", "/mutate", &body),
                )
                .await;
                return Some((r.status, m.json()["response"]["patchType"].clone()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    });
    // SIGTERM: a clean, quick exit.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut exited = None;
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if exited.is_none() {
        let _ = child.kill();
    }
    assert_eq!(result, Some((200, json!("JSONPatch"))));
    assert!(
        exited.is_some_and(|s| s.success()),
        "did not exit cleanly on SIGTERM: {exited:?}"
    );

    // A bad configuration file is refused with a message that names the problem.
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(&cfg, "drainDuration: 3\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshka"))
        .args(["webhook", "--self-provision", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("drainDuration"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// No Strimzi broker pod is in the fixtures (the operator creates them); this one is built from
/// the labels and ports Strimzi documents for a KafkaNodePool broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strimzi_broker_and_controller_pods() {
    let config = Config::default();
    let server = harness::start(config.clone(), Limits::default()).await;
    let pod = |broker: bool| {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "my-cluster-broker-0", "namespace": "kafka",
                "labels": {"strimzi.io/kind": "Kafka", "strimzi.io/cluster": "my-cluster",
                           "strimzi.io/name": "my-cluster-kafka", "strimzi.io/pool-name": "broker",
                           "strimzi.io/broker-role": broker.to_string(), "strimzi.io/controller-role": (!broker).to_string()}},
            "spec": {"containers": [{"name": "kafka", "image": "quay.io/strimzi/kafka:1.2.0-kafka-4.1.0",
                "ports": [{"containerPort": 9090, "name": "tcp-ctrlplane"}, {"containerPort": 9091, "name": "tcp-replication"},
                          {"containerPort": 9092, "name": "tcp-clients"}, {"containerPort": 9404, "name": "tcp-prometheus"}],
                "volumeMounts": [{"name": "data-0", "mountPath": "/var/lib/kafka/data-0"}]}],
                "volumes": [{"name": "data-0", "emptyDir": {}}]}
        })
    };
    for (broker, role) in [(true, Role::Broker), (false, Role::Controller)] {
        let original = pod(broker);
        let (response, result) = admit(&server, &original, "CREATE", false).await;
        let result = result.unwrap();
        check_pod(
            "strimzi/constructed-broker",
            &original,
            &result,
            role,
            &config,
        );
        let inbound = ports_of(
            result["metadata"]["annotations"]["traffic.sidecar.istio.io/excludeInboundPorts"]
                .as_str(),
        );
        assert_eq!(inbound, [8443, 9090, 9091, 9404, 9999].into());
        assert!(
            response["warnings"].to_string().contains("emptyDir"),
            "ephemeral storage warned: {response}"
        );
        assert!(admit(&server, &result, "CREATE", false).await.1.is_none());
        fixtures::validate(&[("strimzi".into(), result)]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let limits = Limits {
        header_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let server = harness::start(Config::default(), limits).await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut tls = harness::connector(&server.certs.ca_pem)
        .connect(harness::server_name(), tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tls.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Kept alive after the response, then closed once idle for the header timeout.
    let started = std::time::Instant::now();
    let idle = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
        .await
        .expect("an idle keep-alive connection was not closed");
    assert!(matches!(idle, Ok(0) | Err(_)), "{idle:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "closed too early"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_large_bodies_is_bounded() {
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        max_buffered_bytes: 64 * 1024,
        body_timeout: Duration::from_millis(1000),
        queue_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let server = harness::start(Config::default(), limits).await;
    let body = serde_json::to_vec(&fixtures::review(&kafka_pod(None), "CREATE", false)).unwrap();
    // One client has sent 60 KiB of a body and stalls: the buffer budget (64 KiB) is nearly
    // full. A small admission still fits and is answered; a large one waits, then gets 503.
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut hog = harness::connector(&server.certs.ca_pem)
        .connect(harness::server_name(), tcp)
        .await
        .unwrap();
    hog.write_all(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 65000\r\n\r\n")
        .await
        .unwrap();
    hog.write_all(&[b' '; 60 * 1024]).await.unwrap();
    hog.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = server.post("/mutate", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut large = vec![b' '; 30 * 1024];
    large[..body.len()].copy_from_slice(&body);
    let r = server.post("/mutate", &large).await;
    assert_eq!(r.status, 503, "{}", r.text());
    // Once the stalled body timed out, its bytes are released and large bodies flow again.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let r = server.post("/mutate", &large).await;
    assert_eq!(r.status, 200, "{}", r.text());
    drop(hog);
    let metrics = server.get("/metrics").await.text();
    assert!(metrics.contains("reason=\"busy\"} 1"), "{metrics}");
}
