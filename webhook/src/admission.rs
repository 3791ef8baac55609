//! Admission: from an `AdmissionReview` to its response, as pure functions.
//!
//! [`review_body`] parses the HTTP body, [`review`] decides; the server only adds I/O. The patch
//! is `json_patch::diff` of the typed object before and after [`pod::mutate_pod`] or
//! [`service::mutate_service`], so keys are escaped (`/` → `~1`, `~` → `~0`) by construction.

pub mod pod;
pub mod proxy_config;
pub mod role;
pub mod service;

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::DynamicObject;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::Config;

/// How an admission ended, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A patch was returned.
    Patched,
    /// A handled Kafka object that already had everything.
    Unchanged,
    /// Not a Kafka object, or not handled by the configuration, or not a CREATE.
    Ignored,
    /// The object could not be read; admitted unchanged with a warning.
    Unreadable,
    /// The request itself was invalid; denied.
    Invalid,
}

impl Outcome {
    /// Lower-case name used as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Patched => "patched",
            Outcome::Unchanged => "unchanged",
            Outcome::Ignored => "ignored",
            Outcome::Unreadable => "unreadable",
            Outcome::Invalid => "invalid",
        }
    }
}

/// The decision on one request, with what metrics need to know.
#[derive(Debug, Clone)]
pub struct Reviewed {
    /// The response to send back.
    pub response: AdmissionResponse,
    /// The object kind (`Pod`, `Service`, or whatever was sent).
    pub kind: String,
    /// The detected role (`broker`, …) or `none`.
    pub role: &'static str,
    /// How it ended.
    pub outcome: Outcome,
}

/// Why a body is not an AdmissionReview: answered with HTTP 400 and this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses an HTTP body into an `admission.k8s.io/v1` AdmissionReview request and reviews it.
pub fn review_body(body: &[u8], config: &Config) -> Result<Reviewed, BadRequest> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        BadRequest(format!(
            "the body is not JSON ({e}); send an admission.k8s.io/v1 AdmissionReview"
        ))
    })?;
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    let api_version = value
        .get("apiVersion")
        .and_then(|k| k.as_str())
        .unwrap_or("");
    if kind != "AdmissionReview" {
        return Err(BadRequest(format!(
            "expected kind AdmissionReview, got {kind:?}; point only a MutatingWebhookConfiguration at this endpoint"
        )));
    }
    if api_version != "admission.k8s.io/v1" {
        return Err(BadRequest(format!(
            "expected apiVersion admission.k8s.io/v1, got {api_version:?}; set admissionReviewVersions: [v1] in the MutatingWebhookConfiguration"
        )));
    }
    let parsed: AdmissionReview<DynamicObject> = serde_json::from_value(value)
        .map_err(|e| BadRequest(format!("the AdmissionReview is malformed ({e})")))?;
    let request: AdmissionRequest<DynamicObject> = parsed
        .try_into()
        .map_err(|_| BadRequest("the AdmissionReview has no request".to_string()))?;
    Ok(review(&request, config))
}

fn typed<T: DeserializeOwned>(object: &DynamicObject) -> Result<T, String> {
    let value = serde_json::to_value(object).map_err(|e| e.to_string())?;
    serde_json::from_value(value).map_err(|e| e.to_string())
}

fn patch_between<T: Serialize>(before: &T, after: &T) -> Result<json_patch::Patch, String> {
    let a = serde_json::to_value(before).map_err(|e| e.to_string())?;
    let b = serde_json::to_value(after).map_err(|e| e.to_string())?;
    Ok(json_patch::diff(&a, &b))
}

fn finish(
    response: AdmissionResponse,
    patch: Result<json_patch::Patch, String>,
    warnings: Vec<String>,
    kind: &str,
    role: &'static str,
) -> Reviewed {
    let mut response = response;
    let mut outcome = Outcome::Unchanged;
    let mut warnings = warnings;
    match patch {
        Ok(patch) if !patch.0.is_empty() => match response.clone().with_patch(patch) {
            Ok(r) => {
                response = r;
                outcome = Outcome::Patched;
            }
            Err(e) => warnings.push(format!(
                "meshka: could not encode the patch ({e}); admitted unchanged"
            )),
        },
        Ok(_) => {}
        Err(e) => warnings.push(format!(
            "meshka: could not compute the patch ({e}); admitted unchanged"
        )),
    }
    if !warnings.is_empty() {
        response.warnings = Some(warnings);
    }
    Reviewed {
        response,
        kind: kind.to_string(),
        role,
        outcome,
    }
}

/// The API server may truncate a warning above 256 characters, and drops warnings beyond 4096
/// characters in total; meshka keeps within both.
pub const MAX_WARNING_CHARS: usize = 256;
const MAX_WARNINGS_TOTAL: usize = 4096;

fn clamp_warnings(warnings: Vec<String>) -> Vec<String> {
    let mut total = 0;
    let mut out = Vec::new();
    for w in warnings {
        let w: String = if w.chars().count() > MAX_WARNING_CHARS {
            let mut t: String = w.chars().take(MAX_WARNING_CHARS - 1).collect();
            t.push('…');
            t
        } else {
            w
        };
        total += w.len();
        if total > MAX_WARNINGS_TOTAL {
            break;
        }
        out.push(w);
    }
    out
}

/// Reviews one admission request: the pure core of the webhook. Never fails: problems with the
/// object become warnings (admitted unchanged) or a denial with a message.
pub fn review(request: &AdmissionRequest<DynamicObject>, config: &Config) -> Reviewed {
    let mut reviewed = review_unclamped(request, config);
    if let Some(w) = reviewed.response.warnings.take() {
        reviewed.response.warnings = Some(clamp_warnings(w));
    }
    reviewed
}

fn review_unclamped(request: &AdmissionRequest<DynamicObject>, config: &Config) -> Reviewed {
    let kind = request.kind.kind.clone();
    let base = AdmissionResponse::from(request);
    let ignored = |response: AdmissionResponse, warning: Option<String>| {
        let mut response = response;
        if let Some(w) = warning {
            response.warnings = Some(vec![w]);
        }
        Reviewed {
            response,
            kind: kind.clone(),
            role: "none",
            outcome: Outcome::Ignored,
        }
    };
    if request.sub_resource.is_some() {
        return ignored(base, None);
    }
    let is_core = request.kind.group.is_empty();
    let mutate_on = match (is_core, kind.as_str()) {
        (true, "Pod") => matches!(request.operation, Operation::Create),
        (true, "Service") => matches!(request.operation, Operation::Create | Operation::Update),
        _ => {
            let w = format!(
                "meshka: only Pods and Services are mutated, got {}/{}; remove it from the MutatingWebhookConfiguration rules",
                request.kind.group, kind
            );
            return ignored(base, Some(w));
        }
    };
    if !mutate_on {
        return ignored(base, None);
    }
    let Some(object) = &request.object else {
        return Reviewed {
            response: base.deny(format!(
                "the {} request has no object; nothing to admit",
                request.operation_name()
            )),
            kind,
            role: "none",
            outcome: Outcome::Invalid,
        };
    };
    // dryRun: the review is pure, so it is the same as a real one; nothing else happens.
    if kind == "Pod" {
        let original: Pod = match typed(object) {
            Ok(p) => p,
            Err(e) => {
                let mut response = base;
                response.warnings = Some(vec![format!(
                    "meshka: could not read the Pod ({e}); it was admitted unchanged"
                )]);
                return Reviewed {
                    response,
                    kind,
                    role: "none",
                    outcome: Outcome::Unreadable,
                };
            }
        };
        let mut pod = original.clone();
        let outcome = pod::mutate_pod(&mut pod, config);
        let role = outcome.detection.role.map_or("none", |r| r.as_str());
        if !outcome.handled {
            let mut reviewed = finish(
                base,
                Ok(json_patch::Patch(vec![])),
                outcome.warnings,
                &kind,
                role,
            );
            reviewed.outcome = Outcome::Ignored;
            return reviewed;
        }
        finish(
            base,
            patch_between(&original, &pod),
            outcome.warnings,
            &kind,
            role,
        )
    } else {
        let original: Service = match typed(object) {
            Ok(s) => s,
            Err(e) => {
                let mut response = base;
                response.warnings = Some(vec![format!(
                    "meshka: could not read the Service ({e}); it was admitted unchanged"
                )]);
                return Reviewed {
                    response,
                    kind,
                    role: "none",
                    outcome: Outcome::Unreadable,
                };
            }
        };
        let mut svc = original.clone();
        let outcome = service::mutate_service(&mut svc, config);
        let role = outcome.role.map_or("none", |r| r.as_str());
        let mut reviewed = finish(
            base,
            patch_between(&original, &svc),
            outcome.warnings,
            &kind,
            role,
        );
        if outcome.role.is_none() {
            reviewed.outcome = Outcome::Ignored;
        }
        reviewed
    }
}

trait OperationName {
    fn operation_name(&self) -> &'static str;
}

impl OperationName for AdmissionRequest<DynamicObject> {
    fn operation_name(&self) -> &'static str {
        match self.operation {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// Encodes the response as the AdmissionReview JSON the API server expects, with the patch as a
/// base64 string (Go's encoding of `[]byte`; kube's type would write an array of numbers).
pub fn response_json(response: AdmissionResponse) -> Result<Vec<u8>, serde_json::Error> {
    use base64::Engine as _;
    let mut response = response;
    let patch = response.patch.take();
    let mut value = serde_json::to_value(response.into_review())?;
    if let (Some(bytes), Some(obj)) = (
        patch,
        value.get_mut("response").and_then(|r| r.as_object_mut()),
    ) {
        obj.insert(
            "patch".into(),
            serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        );
    }
    serde_json::to_vec(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_clamped() {
        let long = "é".repeat(1000);
        let out = clamp_warnings(vec![long.clone(), "short".into()]);
        assert_eq!(out[0].chars().count(), MAX_WARNING_CHARS);
        assert!(out[0].ends_with('…'));
        assert_eq!(out[1], "short");
        let many = clamp_warnings(vec!["x".repeat(200); 100]);
        assert!(many.iter().map(String::len).sum::<usize>() <= MAX_WARNINGS_TOTAL);
        assert!(!many.is_empty());
    }

    #[test]
    fn a_huge_role_annotation_gives_a_bounded_warning() {
        let pod = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "annotations": {"meshka.io/kafka-role": "x".repeat(100_000)}},
            "spec": {"containers": [{"name": "a", "image": "apache/kafka", "ports": [{"containerPort": 9092}]}]}
        });
        let body = serde_json::json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "operation": "CREATE", "userInfo": {}, "object": pod}
        });
        let r = review_body(&serde_json::to_vec(&body).unwrap(), &Config::default()).unwrap();
        let w = r.response.warnings.unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].chars().count() <= MAX_WARNING_CHARS);
        assert!(r.response.patch.is_none());
    }
}
