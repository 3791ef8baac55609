//! The fixtures (tests/fixtures/kubernetes, or $MESHKA_FIXTURES): every Pod and Service, plus
//! the Pods that Jobs would create, and helpers to wrap them into AdmissionReviews and to
//! validate results with kubernetes-validate.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("MESHKA_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kubernetes"),
    }
}

pub struct Fixture {
    /// Path relative to the fixtures directory (plus `#pod` for Pods made from Job templates).
    pub name: String,
    pub object: Value,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "cannot read fixtures at {} ({e}); set MESHKA_FIXTURES",
            dir.display()
        )
    }) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

/// Every Pod and Service in the fixtures, and a Pod for every Job (as the Job controller makes it).
pub fn load() -> Vec<Fixture> {
    let dir = fixtures_dir();
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.strip_prefix(&dir).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let object: Value = match serde_yaml::from_str::<serde_yaml::Value>(&text) {
            Ok(v) => serde_json::to_value(v).unwrap(),
            Err(e) => panic!("fixture {name} does not parse: {e}"),
        };
        match object["kind"].as_str() {
            Some("Pod") | Some("Service") => out.push(Fixture { name, object }),
            Some("Job") => {
                let job_name = object["metadata"]["name"].as_str().unwrap().to_string();
                let mut template = object["spec"]["template"].clone();
                template["apiVersion"] = json!("v1");
                template["kind"] = json!("Pod");
                let meta = template["metadata"].as_object_mut().unwrap();
                meta.remove("creationTimestamp");
                meta.insert("generateName".into(), json!(format!("{job_name}-")));
                if let Some(ns) = object["metadata"]["namespace"].as_str() {
                    meta.insert("namespace".into(), json!(ns));
                }
                let labels = meta.entry("labels").or_insert(json!({}));
                labels["batch.kubernetes.io/job-name"] = json!(job_name);
                labels["job-name"] = json!(job_name);
                meta.insert(
                    "ownerReferences".into(),
                    json!([{"apiVersion": "batch/v1", "kind": "Job", "name": job_name,
                            "uid": "00000000-0000-0000-0000-000000000000", "controller": true, "blockOwnerDeletion": true}]),
                );
                if let Some(spec) = template["spec"].as_object_mut() {
                    spec.retain(|_, v| !v.is_null());
                }
                out.push(Fixture {
                    name: format!("{name}#pod"),
                    object: template,
                });
            }
            _ => {}
        }
    }
    out
}

/// An admission.k8s.io/v1 AdmissionReview as the API server sends it for `object`.
pub fn review(object: &Value, operation: &str, dry_run: bool) -> Value {
    let kind = object["kind"].as_str().unwrap_or("Pod");
    let resource = match kind {
        "Service" => "services",
        _ => "pods",
    };
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("uid-{}", object["metadata"]["name"].as_str().unwrap_or("generated")),
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": resource},
            "requestKind": {"group": "", "version": "v1", "kind": kind},
            "requestResource": {"group": "", "version": "v1", "resource": resource},
            "name": object["metadata"]["name"].as_str().unwrap_or(""),
            "namespace": object["metadata"]["namespace"].as_str().unwrap_or("default"),
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": object,
            "oldObject": null,
            "dryRun": dry_run,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
        }
    })
}

/// The kubernetes-validate executable from $MESHKA_VENV (default `<workspace>/target/venv`).
/// Panics (fails the test) when it is missing: validation is part of what the tests prove.
pub fn kubernetes_validate() -> PathBuf {
    let venv = match std::env::var_os("MESHKA_VENV") {
        Some(v) => PathBuf::from(v),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/venv"),
    };
    let exe = venv.join("bin/kubernetes-validate");
    assert!(
        exe.is_file(),
        "{} not found: run `make venv` (or set MESHKA_VENV to a venv with kubernetes-validate)",
        exe.display()
    );
    exe
}

/// Validates objects strictly against the Kubernetes schema; panics with the tool's output on
/// any failure.
pub fn validate(objects: &[(String, Value)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, (name, object)) in objects.iter().enumerate() {
        let file = dir
            .path()
            .join(format!("{i:03}-{}.yaml", name.replace(['/', '#'], "_")));
        // JSON (a subset of YAML) keeps timestamps strings for the Python YAML loader.
        std::fs::write(&file, serde_json::to_string_pretty(object).unwrap()).unwrap();
        paths.push(file);
    }
    let output = Command::new(kubernetes_validate())
        .args(["--strict", "--quiet", "-k", "1.35.0"])
        .args(&paths)
        .output()
        .expect("run kubernetes-validate");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stdout.contains("ERROR") && !stderr.contains("ERROR"),
        "kubernetes-validate failed:\n{stdout}\n{stderr}"
    );
}
