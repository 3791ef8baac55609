//! The controller against kube's `tower-test` mock API server: every request it makes, in
//! order, with its exact method, path, query and body.

use std::sync::Arc;

use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::{json, Value};

use super::*;
use crate::crd::validate::parse_manifests;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

const POLICY: &str = r#"
apiVersion: meshka.io/v1alpha1
kind: KafkaPolicy
metadata:
  name: orders
  namespace: kafka
  uid: 9d0c6b1e-0000-4000-8000-000000000001
  generation: 2
spec:
  selector:
    matchLabels:
      meshka.io/kafka-role: broker
  authorization:
    rules:
      - action: allow
        serviceAccounts: ["shop/orders"]
        resources: [{ type: topic, name: orders }]
        operations: [Write]
"#;

fn policy(yaml: &str) -> Arc<KafkaPolicy> {
    Arc::new(parse_manifests(yaml).unwrap().remove(0))
}

fn image() -> FilterImage {
    FilterImage {
        url: "oci://registry.example/meshka-filter:0.1.0".into(),
        sha256: Some("ab".repeat(32)),
        pull_policy: None,
        pull_secret: None,
    }
}

fn context() -> (Arc<Context>, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let mut ctx = Context::new(client, image(), Some("meshka-controller-0".into()));
    ctx.clock = Box::new(|| "2026-01-02T03:04:05Z".to_owned());
    (Arc::new(ctx), handle)
}

/// One expected request: method, path with query, and a check of the body.
struct Expect {
    method: Method,
    path: &'static str,
    check: Box<dyn Fn(&Value) + Send>,
    status: u16,
    reply: Value,
}

fn exact(method: Method, path: &'static str, body: Value, status: u16, reply: Value) -> Expect {
    Expect {
        method,
        path,
        check: Box::new(move |got| assert_eq!(got, &body, "body of {path}")),
        status,
        reply,
    }
}

/// Serves `expected` in order, then checks that nothing else was asked.
fn serve(mut handle: Handle, expected: Vec<Expect>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for e in expected {
            let (request, send) = handle.next_request().await.expect("a request");
            assert_eq!(request.method(), e.method, "method for {}", e.path);
            assert_eq!(request.uri().to_string(), e.path);
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (e.check)(&body);
            send.send_response(
                Response::builder()
                    .status(e.status)
                    .body(Body::from(serde_json::to_vec(&e.reply).unwrap()))
                    .unwrap(),
            );
        }
    })
}

async fn no_more_requests(handle_task: tokio::task::JoinHandle<()>) {
    tokio::time::timeout(std::time::Duration::from_secs(5), handle_task)
        .await
        .expect("the mock server got every expected request")
        .unwrap();
}

fn policy_reply(status: Value) -> Value {
    let mut p = serde_json::to_value(&*policy(POLICY)).unwrap();
    p["status"] = status;
    p
}

fn event_check(
    type_: &'static str,
    reason: &'static str,
    note_contains: &'static str,
) -> Box<dyn Fn(&Value) + Send> {
    Box::new(move |e: &Value| {
        assert_eq!(e["type"], type_);
        assert_eq!(e["reason"], reason);
        assert!(e["note"].as_str().unwrap().contains(note_contains), "{e}");
        assert_eq!(e["reportingController"], FIELD_MANAGER);
        assert_eq!(e["reportingInstance"], "meshka-controller-0");
        assert_eq!(
            e["regarding"],
            json!({"apiVersion": "meshka.io/v1alpha1", "kind": "KafkaPolicy", "name": "orders",
                   "namespace": "kafka", "uid": "9d0c6b1e-0000-4000-8000-000000000001"})
        );
    })
}

fn ready_status() -> Value {
    json!({
        "observedGeneration": 2,
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Applied",
             "message": "WasmPlugin meshka-orders carries generation 2",
             "lastTransitionTime": "2026-01-02T03:04:05Z", "observedGeneration": 2},
            {"type": "Invalid", "status": "False", "reason": "Valid", "message": "the policy is valid",
             "lastTransitionTime": "2026-01-02T03:04:05Z", "observedGeneration": 2},
            {"type": "Overlapping", "status": "False", "reason": "Disjoint",
             "message": "no other KafkaPolicy selects these pods on these ports",
             "lastTransitionTime": "2026-01-02T03:04:05Z", "observedGeneration": 2},
        ],
        "wasmPlugin": "meshka-orders",
    })
}

#[tokio::test]
async fn a_valid_policy_gets_its_wasm_plugin_status_and_event() {
    let (ctx, handle) = context();
    let p = policy(POLICY);
    let plugin = crate::crd::wasm_plugin(&p, &image()).unwrap();
    assert_eq!(
        plugin["metadata"]["ownerReferences"][0]["uid"],
        "9d0c6b1e-0000-4000-8000-000000000001"
    );
    let server = serve(
        handle,
        vec![
            exact(
                Method::PATCH,
                "/apis/extensions.istio.io/v1alpha1/namespaces/kafka/wasmplugins/meshka-orders?&force=true&fieldManager=meshka-controller",
                plugin.clone(),
                200,
                plugin,
            ),
            exact(
                Method::PATCH,
                "/apis/meshka.io/v1alpha1/namespaces/kafka/kafkapolicies/orders/status?&force=true&fieldManager=meshka-controller",
                json!({"apiVersion": "meshka.io/v1alpha1", "kind": "KafkaPolicy", "status": ready_status()}),
                200,
                policy_reply(ready_status()),
            ),
            Expect {
                method: Method::POST,
                path: "/apis/events.k8s.io/v1/namespaces/kafka/events?",
                check: event_check("Normal", "Applied", "WasmPlugin meshka-orders applied for generation 2"),
                status: 201,
                reply: json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null}),
            },
        ],
    );
    let action = reconcile(p, ctx).await.unwrap();
    assert_eq!(action, Action::requeue(RESYNC));
    no_more_requests(server).await;
}

#[tokio::test]
async fn an_unchanged_status_is_not_rewritten() {
    let (ctx, handle) = context();
    let mut p = (*policy(POLICY)).clone();
    p.status = Some(serde_json::from_value(ready_status()).unwrap());
    let plugin = crate::crd::wasm_plugin(&p, &image()).unwrap();
    let server = serve(
        handle,
        vec![exact(
            Method::PATCH,
            "/apis/extensions.istio.io/v1alpha1/namespaces/kafka/wasmplugins/meshka-orders?&force=true&fieldManager=meshka-controller",
            plugin.clone(),
            200,
            plugin,
        )],
    );
    reconcile(Arc::new(p), ctx).await.unwrap();
    no_more_requests(server).await;
}

#[tokio::test]
async fn an_invalid_policy_never_reaches_a_wasm_plugin() {
    let (ctx, handle) = context();
    let p = policy(&POLICY.replace("name: orders }", "name: \"orders.*\" }"));
    let message =
        "KafkaPolicy kafka/orders is invalid: spec.authorization.rules[0].resources[0].name: ";
    let server = serve(
        handle,
        vec![
            Expect {
                method: Method::PATCH,
                path: "/apis/meshka.io/v1alpha1/namespaces/kafka/kafkapolicies/orders/status?&force=true&fieldManager=meshka-controller",
                check: Box::new(move |body| {
                    assert_eq!(body["apiVersion"], "meshka.io/v1alpha1");
                    assert_eq!(body["kind"], "KafkaPolicy");
                    let status = &body["status"];
                    assert_eq!(status["observedGeneration"], 2);
                    assert!(status.get("wasmPlugin").is_none());
                    assert_eq!(status["conditions"][0]["type"], "Ready");
                    assert_eq!(status["conditions"][0]["status"], "False");
                    assert_eq!(status["conditions"][0]["reason"], "InvalidPolicy");
                    assert_eq!(status["conditions"][1]["type"], "Invalid");
                    assert_eq!(status["conditions"][1]["status"], "True");
                    assert!(
                        status["conditions"][1]["message"].as_str().unwrap().starts_with(message),
                        "{status}"
                    );
                }),
                status: 200,
                reply: policy_reply(json!({})),
            },
            Expect {
                method: Method::POST,
                path: "/apis/events.k8s.io/v1/namespaces/kafka/events?",
                check: event_check("Warning", "InvalidPolicy", "spec.authorization.rules[0].resources[0].name"),
                status: 201,
                reply: json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null}),
            },
        ],
    );
    let action = reconcile(p, ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    no_more_requests(server).await;
}

#[tokio::test]
async fn invalid_routing_is_reported_under_spec_routing() {
    let (ctx, handle) = context();
    let p = policy(&format!(
        "{POLICY}  routing:\n    brokerAddress: \"kafka-{{id}}.kafka-brokers:9092\"\n    tenants:\n      - {{ name: team-a, namespaces: [team-a], topicPrefix: \"team a.\" }}\n"
    ));
    let server = serve(
        handle,
        vec![
            Expect {
                method: Method::PATCH,
                path: "/apis/meshka.io/v1alpha1/namespaces/kafka/kafkapolicies/orders/status?&force=true&fieldManager=meshka-controller",
                check: Box::new(move |body| {
                    let status = &body["status"];
                    assert!(status.get("wasmPlugin").is_none());
                    assert_eq!(status["conditions"][0]["reason"], "InvalidPolicy");
                    assert_eq!(status["conditions"][1]["type"], "Invalid");
                    let message = status["conditions"][1]["message"].as_str().unwrap();
                    assert!(
                        message.starts_with("KafkaPolicy kafka/orders is invalid (2 problems):"),
                        "{message}"
                    );
                    assert!(message.contains("\n  spec.routing.tenants[0].topicPrefix: "), "{message}");
                    assert!(message.contains("\n  spec.routing.brokerAddress: "), "{message}");
                }),
                status: 200,
                reply: policy_reply(json!({})),
            },
            Expect {
                method: Method::POST,
                path: "/apis/events.k8s.io/v1/namespaces/kafka/events?",
                check: event_check("Warning", "InvalidPolicy", "spec.routing.tenants[0].topicPrefix"),
                status: 201,
                reply: json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null}),
            },
        ],
    );
    let action = reconcile(p, ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    no_more_requests(server).await;
}

#[tokio::test]
async fn a_refused_apply_is_reported_and_retried() {
    let (ctx, handle) = context();
    let p = policy(POLICY);
    let plugin = crate::crd::wasm_plugin(&p, &image()).unwrap();
    let forbidden = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": "wasmplugins.extensions.istio.io is forbidden", "reason": "Forbidden", "code": 403});
    let server = serve(
        handle,
        vec![
            exact(
                Method::PATCH,
                "/apis/extensions.istio.io/v1alpha1/namespaces/kafka/wasmplugins/meshka-orders?&force=true&fieldManager=meshka-controller",
                plugin,
                403,
                forbidden,
            ),
            Expect {
                method: Method::PATCH,
                path: "/apis/meshka.io/v1alpha1/namespaces/kafka/kafkapolicies/orders/status?&force=true&fieldManager=meshka-controller",
                check: Box::new(|body| {
                    let ready = &body["status"]["conditions"][0];
                    assert_eq!(ready["reason"], "ApplyFailed");
                    assert!(ready["message"].as_str().unwrap().contains("forbidden"), "{ready}");
                }),
                status: 200,
                reply: policy_reply(json!({})),
            },
            Expect {
                method: Method::POST,
                path: "/apis/events.k8s.io/v1/namespaces/kafka/events?",
                check: event_check("Warning", "ApplyFailed", "RBAC"),
                status: 201,
                reply: json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null}),
            },
        ],
    );
    let error = reconcile(p.clone(), ctx.clone()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("applying WasmPlugin kafka/meshka-orders"),
        "{error}"
    );
    assert_eq!(error_policy(p, &error, ctx), Action::requeue(RETRY));
    no_more_requests(server).await;
}

#[tokio::test]
async fn a_transition_keeps_unchanged_condition_times() {
    let previous: KafkaPolicyStatus = serde_json::from_value(ready_status()).unwrap();
    let next = next_status(
        &previous,
        Some(3),
        vec![
            condition("Ready", false, "InvalidPolicy", "x".into()),
            condition("Invalid", false, "Valid", "y".into()),
        ],
        None,
        "2026-02-02T00:00:00Z",
    );
    assert_eq!(
        next.conditions[0].last_transition_time.as_deref(),
        Some("2026-02-02T00:00:00Z")
    );
    assert_eq!(
        next.conditions[1].last_transition_time.as_deref(),
        Some("2026-01-02T03:04:05Z")
    );
    assert_eq!(next.conditions[1].observed_generation, Some(3));
}

#[tokio::test]
async fn a_policy_being_deleted_is_left_to_the_garbage_collector() {
    let (ctx, handle) = context();
    let mut p = (*policy(POLICY)).clone();
    p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-01-02T03:04:05Z".parse().unwrap(),
    ));
    let server = serve(handle, vec![]);
    assert_eq!(
        reconcile(Arc::new(p), ctx).await.unwrap(),
        Action::await_change()
    );
    no_more_requests(server).await;
}

#[tokio::test]
async fn a_policy_sharing_pods_with_another_is_flagged() {
    let (ctx, handle) = context();
    let p = policy(POLICY);
    let mut other = (*policy(POLICY)).clone();
    other.metadata.name = Some("billing".into());
    other.metadata.uid = Some("9d0c6b1e-0000-4000-8000-000000000002".into());
    let (store, mut writer) = kube::runtime::reflector::store::<KafkaPolicy>();
    writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply((*p).clone()));
    writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(other));
    let mut ctx = Arc::into_inner(ctx).unwrap();
    ctx.policies = store;
    let ctx = Arc::new(ctx);
    let plugin = crate::crd::wasm_plugin(&p, &image()).unwrap();
    let event = || json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": null});
    let server = serve(
        handle,
        vec![
            exact(
                Method::PATCH,
                "/apis/extensions.istio.io/v1alpha1/namespaces/kafka/wasmplugins/meshka-orders?&force=true&fieldManager=meshka-controller",
                plugin.clone(),
                200,
                plugin,
            ),
            Expect {
                method: Method::PATCH,
                path: "/apis/meshka.io/v1alpha1/namespaces/kafka/kafkapolicies/orders/status?&force=true&fieldManager=meshka-controller",
                check: Box::new(|body| {
                    let c = &body["status"]["conditions"][2];
                    assert_eq!(c["type"], "Overlapping");
                    assert_eq!(c["status"], "True");
                    assert_eq!(c["reason"], "SharedPods");
                    assert!(c["message"].as_str().unwrap().starts_with("also selected, on a common port, by kafka/billing: "), "{c}");
                    assert_eq!(body["status"]["conditions"][0]["status"], "True", "still applied");
                }),
                status: 200,
                reply: policy_reply(json!({})),
            },
            Expect {
                method: Method::POST,
                path: "/apis/events.k8s.io/v1/namespaces/kafka/events?",
                check: event_check("Normal", "Applied", "applied for generation 2"),
                status: 201,
                reply: event(),
            },
            Expect {
                method: Method::POST,
                path: "/apis/events.k8s.io/v1/namespaces/kafka/events?",
                check: event_check("Warning", "Overlapping", "merge them into one policy"),
                status: 201,
                reply: event(),
            },
        ],
    );
    reconcile(p, ctx).await.unwrap();
    no_more_requests(server).await;
}

#[test]
fn a_change_reconciles_the_other_policies_of_its_namespace() {
    let named = |ns: &str, name: &str| {
        let mut p = (*policy(POLICY)).clone();
        p.metadata.namespace = Some(ns.into());
        p.metadata.name = Some(name.into());
        Arc::new(p)
    };
    let all = vec![
        named("kafka", "orders"),
        named("kafka", "billing"),
        named("other", "billing"),
    ];
    let peers: Vec<String> = peers_of(&all[0], &all)
        .into_iter()
        .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
        .collect();
    assert_eq!(peers, ["kafka/billing"]);
}

#[tokio::test]
async fn run_says_to_install_the_crd_when_it_is_missing() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let server = tokio::spawn(async move {
        let (request, send) = handle.next_request().await.unwrap();
        assert_eq!(request.method(), Method::GET);
        assert_eq!(
            request.uri().to_string(),
            "/apis/meshka.io/v1alpha1/kafkapolicies?&limit=1"
        );
        send.send_response(
            Response::builder()
                .status(404)
                .body(Body::from(
                    br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"the server could not find the requested resource"}"#.to_vec(),
                ))
                .unwrap(),
        );
    });
    let error = run(client, image(), Options::default()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("install the CRD: kubectl apply -f deploy/crds/"),
        "{error}"
    );
    server.await.unwrap();

    let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let bad = FilterImage {
        url: "ghcr.io/meshka/meshka-filter:0.1.0".into(),
        ..image()
    };
    let error = run(client, bad, Options::default()).await.unwrap_err();
    assert!(
        error.to_string().contains("must start with oci://"),
        "{error}"
    );
}
