//! The validating admission webhook for KafkaPolicy (`POST /validate-kafkapolicy` on the
//! webhook's server): it refuses, at `kubectl apply` time, every policy the controller and the
//! filter would refuse, with the same messages naming the fields.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use kube::core::DynamicObject;

use super::validate::{check, parse_document};
use crate::admission::{self, Unreadable};
use crate::server::{self, AppState};

/// The answer for one request: allowed, or denied with every problem.
pub fn review(request: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    let response = AdmissionResponse::from(request);
    if !matches!(request.operation, Operation::Create | Operation::Update) {
        return response;
    }
    let Some(object) = &request.object else {
        return response.deny("no object in the AdmissionReview: nothing to validate");
    };
    let json = match serde_json::to_value(object) {
        Ok(json) => json,
        Err(e) => {
            return response.deny(admission::clip(
                &format!("could not read the object: {e}"),
                admission::MAX_MESSAGE_CHARS,
            ))
        }
    };
    match parse_document(1, json).and_then(|policy| check(&policy).map(|_| ())) {
        Ok(()) => response,
        // The message quotes the policy's values, which may be megabytes long.
        Err(e) => response.deny(admission::clip(
            &e.to_string(),
            admission::MAX_MESSAGE_CHARS,
        )),
    }
}

/// Parses an AdmissionReview body and answers it as JSON; `Err` is a 400 message. A request
/// with a uid that cannot be read is denied with the reason: a policy nobody could check is not
/// let in (the chart's failurePolicy for this webhook is `Fail` for the same reason).
pub fn review_body(body: &[u8]) -> Result<Vec<u8>, String> {
    let response = match admission::parse_review(body) {
        Ok(request) => review(&request),
        Err(Unreadable::BadRequest(bad)) => return Err(bad.0),
        Err(Unreadable::Request {
            api_version,
            uid,
            message,
        }) => admission::unreadable_response(&api_version, &uid, &message, false),
    };
    admission::response_json(response).map_err(|e| format!("could not encode the response: {e}"))
}

/// The axum handler.
pub async fn handler(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (bytes, budget) = match server::read_body(&state, &headers, body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let reviewed = server::run_review(&state, move || {
        let _budget = budget;
        review_body(&bytes)
    })
    .await;
    let reviewed = match reviewed {
        Ok(r) => r,
        Err(response) => return response,
    };
    match reviewed {
        Ok(json) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response(),
        Err(message) => {
            state.metrics.rejected("bad_request");
            server::text(StatusCode::BAD_REQUEST, message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn review_of(operation: &str, object: serde_json::Value) -> serde_json::Value {
        let body = json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "u-1",
                "kind": {"group": "meshka.io", "version": "v1alpha1", "kind": "KafkaPolicy"},
                "resource": {"group": "meshka.io", "version": "v1alpha1", "resource": "kafkapolicies"},
                "name": "orders", "namespace": "kafka",
                "operation": operation,
                "userInfo": {"username": "alice"},
                "object": object,
            }
        });
        serde_json::from_slice(&review_body(body.to_string().as_bytes()).unwrap()).unwrap()
    }

    fn policy(resource_name: &str) -> serde_json::Value {
        json!({
            "apiVersion": "meshka.io/v1alpha1", "kind": "KafkaPolicy",
            "metadata": {"name": "orders", "namespace": "kafka"},
            "spec": {"selector": {"matchLabels": {"app": "kafka"}}, "ports": [9092],
                "authorization": {"rules": [{"action": "allow", "principals": ["*"],
                    "resources": [{"type": "topic", "name": resource_name}], "operations": ["Read"]}]}}
        })
    }

    #[test]
    fn valid_policies_are_allowed() {
        let r = review_of("CREATE", policy("orders"));
        assert_eq!(r["response"]["uid"], "u-1");
        assert_eq!(r["response"]["allowed"], true);
    }

    #[test]
    fn invalid_policies_are_denied_naming_the_field() {
        let r = review_of("UPDATE", policy("orders.*"));
        assert_eq!(r["response"]["allowed"], false);
        let message = r["response"]["status"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("KafkaPolicy kafka/orders is invalid: spec.authorization.rules[0].resources[0].name: "),
            "{message}"
        );
    }

    #[test]
    fn routing_problems_are_denied_under_spec_routing() {
        let mut p = policy("orders");
        p["spec"]["routing"] = json!({
            "brokerAddress": "kafka-{node_id}.kafka-brokers.kafka.svc.cluster.local:9092",
            "tenants": [{"name": "team-a", "namespaces": ["team-a"], "topicPrefix": "team-a."}],
        });
        let r = review_of("CREATE", p.clone());
        assert_eq!(r["response"]["allowed"], true, "{r}");

        p["spec"]["routing"]["tenants"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "team-a", "namespaces": ["team-b"]}));
        let r = review_of("UPDATE", p.clone());
        assert_eq!(r["response"]["allowed"], false);
        let message = r["response"]["status"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "KafkaPolicy kafka/orders is invalid: spec.routing.tenants[1].name: another tenant is already named"
            ),
            "{message}"
        );

        p["spec"]["routing"]["quotas"] = json!([{"fetchBytesPerSecond": "fast"}]);
        let r = review_of("UPDATE", p);
        assert_eq!(r["response"]["allowed"], false);
        let message = r["response"]["status"]["message"].as_str().unwrap();
        assert!(
            message.contains("spec.routing.quotas[0].fetchBytesPerSecond: invalid type"),
            "{message}"
        );
    }

    #[test]
    fn deletes_pass_and_garbage_is_a_bad_request() {
        let r = review_of("DELETE", serde_json::Value::Null);
        assert_eq!(r["response"]["allowed"], true);
        assert!(review_body(b"{").is_err());
    }
}
