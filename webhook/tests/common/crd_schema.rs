//! Validation of custom resources against the `openAPIV3Schema` of their CRDs (Istio's from
//! `tests/fixtures/istio`, meshka's own from `deploy/crds`), made strict: an object schema without
//! `x-kubernetes-preserve-unknown-fields` accepts no unknown field, so a misspelt field fails
//! here instead of being pruned silently by the API server.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Istio's CRDs: `$MESHKA_ISTIO_CRDS`, else `<workspace>/tests/fixtures/istio/istio-crd-all.gen.yaml`.
pub fn istio_crds_path() -> PathBuf {
    std::env::var_os("MESHKA_ISTIO_CRDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("tests/fixtures/istio/istio-crd-all.gen.yaml"))
}

/// Every YAML document of `text` as JSON (empty documents skipped).
pub fn yaml_documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde_yaml::Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .map(|v| serde_json::to_value(v).unwrap())
        .collect()
}

/// Compiled schemas by (apiVersion, kind).
pub struct Schemas {
    by_kind: HashMap<(String, String), jsonschema::Validator>,
}

impl Schemas {
    /// Istio's CRDs plus meshka's.
    pub fn load() -> Schemas {
        let istio = istio_crds_path();
        let text = std::fs::read_to_string(&istio).unwrap_or_else(|e| {
            panic!(
                "cannot read Istio's CRDs at {}: {e}; set MESHKA_ISTIO_CRDS to istio-crd-all.gen.yaml",
                istio.display()
            )
        });
        let mut schemas = Schemas {
            by_kind: HashMap::new(),
        };
        schemas.add_crds(&text);
        let ours = workspace().join("deploy/crds/kafkapolicies.meshka.io.yaml");
        schemas.add_crds(&std::fs::read_to_string(ours).unwrap());
        schemas
    }

    /// Adds every version of every CRD in `text`.
    pub fn add_crds(&mut self, text: &str) {
        for crd in yaml_documents(text) {
            if crd["kind"] != "CustomResourceDefinition" {
                continue;
            }
            let group = crd["spec"]["group"].as_str().unwrap().to_owned();
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap().to_owned();
            for version in crd["spec"]["versions"].as_array().unwrap() {
                let name = version["name"].as_str().unwrap();
                let mut schema = version["schema"]["openAPIV3Schema"].clone();
                strict(&mut schema);
                let props = schema["properties"].as_object_mut().unwrap();
                props.insert("apiVersion".into(), json!({"type": "string"}));
                props.insert("kind".into(), json!({"type": "string"}));
                props.insert(
                    "metadata".into(),
                    json!({"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string", "maxLength": 253, "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
                        "namespace": {"type": "string"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                        "ownerReferences": {"type": "array", "items": {"type": "object",
                            "required": ["apiVersion", "kind", "name", "uid"], "additionalProperties": false,
                            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                "name": {"type": "string"}, "uid": {"type": "string"},
                                "controller": {"type": "boolean"}, "blockOwnerDeletion": {"type": "boolean"}}}}
                    }, "additionalProperties": false}),
                );
                let validator = jsonschema::draft4::new(&schema)
                    .unwrap_or_else(|e| panic!("schema of {group}/{name} {kind}: {e}"));
                self.by_kind
                    .insert((format!("{group}/{name}"), kind.clone()), validator);
            }
        }
    }

    /// Whether a schema for this object's apiVersion and kind is known.
    pub fn knows(&self, object: &Value) -> bool {
        self.by_kind.contains_key(&key(object))
    }

    /// Every schema violation of `object` (panics when its kind is unknown).
    pub fn errors(&self, object: &Value) -> Vec<String> {
        let k = key(object);
        let validator = self
            .by_kind
            .get(&k)
            .unwrap_or_else(|| panic!("no schema for {k:?}"));
        validator
            .iter_errors(object)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect()
    }

    /// Panics with every violation.
    pub fn assert_valid(&self, object: &Value, what: &str) {
        let errors = self.errors(object);
        assert!(
            errors.is_empty(),
            "{what} does not match its CRD schema:\n  {}\n{}",
            errors.join("\n  "),
            serde_yaml::to_string(object).unwrap()
        );
    }
}

fn key(object: &Value) -> (String, String) {
    (
        object["apiVersion"].as_str().unwrap_or_default().to_owned(),
        object["kind"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Closes every object schema that lists properties and does not preserve unknown fields.
fn strict(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    let preserve = map
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if map.contains_key("properties") && !map.contains_key("additionalProperties") && !preserve {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    for (_, child) in map.iter_mut() {
        match child {
            Value::Object(_) => strict(child),
            Value::Array(items) => items.iter_mut().for_each(strict),
            _ => {}
        }
    }
    // `properties` maps names to schemas: recurse into each (done above through the map).
}
