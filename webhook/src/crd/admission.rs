//! The validating admission webhook for KafkaPolicy (`POST /validate-kafkapolicy` on the
//! webhook's server): it refuses, at `kubectl apply` time, every policy the controller and the
//! filter would refuse, with the same messages naming the fields.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::DynamicObject;

use super::validate::{check, parse_document};
use crate::server::AppState;

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
        Err(e) => return response.deny(format!("could not read the object: {e}")),
    };
    match parse_document(1, json).and_then(|policy| check(&policy).map(|_| ())) {
        Ok(()) => response,
        Err(e) => response.deny(e.to_string()),
    }
}

/// Parses an AdmissionReview body and answers it as JSON; `Err` is a 400 message.
pub fn review_body(body: &[u8]) -> Result<Vec<u8>, String> {
    let review: AdmissionReview<DynamicObject> =
        serde_json::from_slice(body).map_err(|e| format!("not an AdmissionReview v1: {e}"))?;
    let request: AdmissionRequest<DynamicObject> = review
        .try_into()
        .map_err(|e| format!("AdmissionReview without a request: {e}"))?;
    serde_json::to_vec(&review_response(&request))
        .map_err(|e| format!("could not encode the response: {e}"))
}

fn review_response(request: &AdmissionRequest<DynamicObject>) -> AdmissionReview<DynamicObject> {
    review(request).into_review()
}

/// The axum handler.
pub async fn handler(State(state): State<Arc<AppState>>, body: Body) -> Response {
    let limits = &state.limits;
    let bytes = match tokio::time::timeout(
        limits.body_timeout,
        axum::body::to_bytes(body, limits.max_body_bytes),
    )
    .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("could not read the request body ({e})"),
            )
                .into_response()
        }
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                "request body not received in time",
            )
                .into_response()
        }
    };
    match review_body(&bytes) {
        Ok(json) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response(),
        Err(message) => (StatusCode::BAD_REQUEST, message).into_response(),
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
    fn deletes_pass_and_garbage_is_a_bad_request() {
        let r = review_of("DELETE", serde_json::Value::Null);
        assert_eq!(r["response"]["allowed"], true);
        assert!(review_body(b"{").is_err());
    }
}
