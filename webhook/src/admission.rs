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
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
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
    /// The object, or a request with a uid, could not be read; admitted unchanged with a warning.
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

/// The AdmissionReview version meshka serves (the webhook configurations list only it).
pub const API_VERSION: &str = "admission.k8s.io/v1";

/// Why a body cannot be reviewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Not an AdmissionReview, or one without a request uid to answer: HTTP 400 with this
    /// message (the API server then applies the webhook's failurePolicy).
    BadRequest(BadRequest),
    /// An AdmissionReview with a request uid whose request cannot be read. Kubernetes expects
    /// an AdmissionReview back in the version it sent, with that uid; the endpoint decides
    /// whether to allow (see [`unreadable_response`]).
    Request {
        /// `apiVersion` of the review, echoed in the answer.
        api_version: String,
        /// `request.uid`, echoed in the answer.
        uid: String,
        /// What is wrong, with the JSON path (`request.operation: unknown variant ...`).
        message: String,
    },
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Longest message about a bad request: serde's messages quote the offending value, which
/// may be megabytes long.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// `text` cut to `max` characters (the last one `…` when cut).
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Deserializes `value`, naming the JSON path of the first problem below `prefix`.
fn at_path<T: DeserializeOwned>(value: serde_json::Value, prefix: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            format!("{prefix}: {inner}")
        } else {
            format!("{prefix}.{path}: {inner}")
        };
        clip(&message, MAX_MESSAGE_CHARS)
    })
}

/// Parses an HTTP body into an AdmissionReview request. Bodies nested deeper than serde_json's
/// recursion limit (128) are refused by the parser before anything recurses over them.
pub fn parse_review(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, Unreadable> {
    parse_review_keeping_object(body, false).map(|(request, _)| request)
}

/// [`parse_review`], also returning `request.object` as sent when `keep_object` (the patch is
/// checked against it: the typed object it is computed from may differ in shape).
fn parse_review_keeping_object(
    body: &[u8],
    keep_object: bool,
) -> Result<(AdmissionRequest<DynamicObject>, Option<serde_json::Value>), Unreadable> {
    let bad = |m: String| Unreadable::BadRequest(BadRequest(m));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        let hint = if e.to_string().starts_with("recursion limit exceeded") {
            " (nested deeper than 128 levels)"
        } else {
            ""
        };
        bad(format!(
            "the body is not JSON ({e}){hint}; send an {API_VERSION} AdmissionReview"
        ))
    })?;
    let serde_json::Value::Object(mut review) = value else {
        return Err(bad(format!(
            "the body is {}, not an AdmissionReview object; send an {API_VERSION} AdmissionReview",
            json_kind(&value)
        )));
    };
    let kind = review.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if kind != "AdmissionReview" {
        return Err(bad(format!(
            "expected kind AdmissionReview, got {:?}; point only a webhook configuration at this endpoint",
            clip(kind, 64)
        )));
    }
    let api_version = review
        .get("apiVersion")
        .and_then(|k| k.as_str())
        .unwrap_or("")
        .to_string();
    let Some(request) = review.remove("request") else {
        return Err(bad(
            "the AdmissionReview has no request; the API server sends one per review".into(),
        ));
    };
    let serde_json::Value::Object(request) = request else {
        return Err(bad(format!(
            "AdmissionReview.request: expected an object, got {}",
            json_kind(&request)
        )));
    };
    let uid = match request.get("uid") {
        Some(serde_json::Value::String(uid)) if !uid.is_empty() => uid.clone(),
        other => {
            return Err(bad(format!(
                "AdmissionReview.request.uid: expected a non-empty string, got {}; the API server matches the answer to the request by it",
                other.map_or("nothing", json_kind)
            )))
        }
    };
    // Another AdmissionReview version is answered in that version (Kubernetes drops answers of
    // another version); anything else claiming to be a review is not one.
    if api_version != API_VERSION {
        if !api_version.starts_with("admission.k8s.io/") {
            return Err(bad(format!(
                "expected apiVersion {API_VERSION}, got {:?}; set admissionReviewVersions: [v1] in the webhook configuration",
                clip(&api_version, 64)
            )));
        }
        return Err(Unreadable::Request {
            message: format!(
                "AdmissionReview.apiVersion: meshka serves {API_VERSION}, got {}; set admissionReviewVersions: [v1] in the webhook configuration",
                clip(&api_version, 64)
            ),
            api_version,
            uid,
        });
    }
    let sent_object = if keep_object {
        request.get("object").cloned()
    } else {
        None
    };
    let mut parsed: AdmissionRequest<DynamicObject> = at_path(
        serde_json::Value::Object(request),
        "AdmissionReview.request",
    )
    .map_err(|message| Unreadable::Request {
        api_version: api_version.clone(),
        uid: uid.clone(),
        message,
    })?;
    parsed.types = kube::core::TypeMeta {
        api_version,
        kind: "AdmissionReview".into(),
    };
    Ok((parsed, sent_object))
}

/// The answer to a review whose request has a uid but cannot be read: in the review's version,
/// with that uid. `allow`: admit unchanged with the message as a warning (what the mutating
/// webhook's failurePolicy `Ignore` would do, but telling the user why); otherwise deny with
/// the message.
pub fn unreadable_response(
    api_version: &str,
    uid: &str,
    message: &str,
    allow: bool,
) -> AdmissionResponse {
    let mut response = AdmissionResponse::invalid(message);
    response.types = kube::core::TypeMeta {
        api_version: api_version.to_string(),
        kind: "AdmissionReview".into(),
    };
    response.uid = uid.to_string();
    if allow {
        response.allowed = true;
        response.result = kube::core::Status::default();
        response.warnings = Some(clamp_warnings(vec![format!(
            "meshka: could not read the admission request ({message}); admitted unchanged"
        )]));
    } else {
        response.result = kube::core::Status::failure(message, "BadRequest").with_code(400);
    }
    response
}

/// Parses an HTTP body into an `admission.k8s.io/v1` AdmissionReview request and reviews it.
/// A request that has a uid but cannot be read is admitted unchanged with a warning: meshka
/// must not block a pod because it cannot read the review.
pub fn review_body(body: &[u8], config: &Config) -> Result<Reviewed, BadRequest> {
    match parse_review_keeping_object(body, true) {
        Ok((request, sent)) => Ok(checked_against_sent(
            review(&request, config),
            &request,
            sent,
        )),
        Err(Unreadable::BadRequest(bad)) => Err(bad),
        Err(Unreadable::Request {
            api_version,
            uid,
            message,
        }) => Ok(Reviewed {
            response: unreadable_response(&api_version, &uid, &message, true),
            kind: "other".into(),
            role: "none",
            outcome: Outcome::Unreadable,
        }),
    }
}

/// The API server rejects the whole request, whatever the failurePolicy, when a patch does not
/// apply. The patch is a diff of typed objects, which can differ in shape from what was sent
/// (e.g. no `metadata` at all, or `metadata: null`), so it is tried on the object as sent; if it
/// fails there, the object is admitted unchanged with a warning.
fn checked_against_sent(
    reviewed: Reviewed,
    request: &AdmissionRequest<DynamicObject>,
    sent: Option<serde_json::Value>,
) -> Reviewed {
    let (Some(bytes), Some(mut object)) = (&reviewed.response.patch, sent) else {
        return reviewed;
    };
    let applied = serde_json::from_slice::<json_patch::Patch>(bytes)
        .map_err(|e| e.to_string())
        .and_then(|patch| json_patch::patch(&mut object, &patch).map_err(|e| e.to_string()));
    let Err(e) = applied else {
        return reviewed;
    };
    let mut warnings = reviewed.response.warnings.clone().unwrap_or_default();
    warnings.insert(
        0,
        format!(
            "meshka: the {} as sent cannot take meshka's patch ({e}); admitted unchanged",
            reviewed.kind
        ),
    );
    let mut response = AdmissionResponse::from(request);
    response.warnings = Some(clamp_warnings(warnings));
    Reviewed {
        response,
        outcome: Outcome::Unreadable,
        ..reviewed
    }
}

fn typed<T: DeserializeOwned>(object: &DynamicObject) -> Result<T, String> {
    let value = serde_json::to_value(object).map_err(|e| e.to_string())?;
    at_path(value, "request.object")
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
