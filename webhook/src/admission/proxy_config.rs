//! Merging settings into the `proxy.istio.io/config` annotation, which holds an Istio
//! `ProxyConfig` as YAML or JSON. Keys the user set are never changed; the text is rewritten
//! only when a key is missing (in the format it came in), so a second pass yields no change.

use serde_yaml::{Mapping, Value};

/// One setting to ensure: a path of keys into the ProxyConfig and the value to put there.
#[derive(Debug, Clone)]
pub struct Want {
    /// Keys from the top, e.g. `["proxyMetadata", "EXIT_ON_ZERO_ACTIVE_CONNECTIONS"]`.
    pub path: Vec<&'static str>,
    /// The value to set when the key is missing.
    pub value: Value,
}

/// The result of a merge.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The new annotation text, or `None` when nothing had to change.
    pub text: Option<String>,
    /// The effective `terminationDrainDuration` (the user's or ours), if any.
    pub drain: Option<String>,
}

/// Merges `wants` into the annotation text `existing` (absent: an empty ProxyConfig).
///
/// Errors (the existing text is not a YAML/JSON mapping, or a path crosses a non-mapping) are
/// returned as a message for an AdmissionResponse warning; the caller leaves the annotation alone.
pub fn merge(existing: Option<&str>, wants: &[Want]) -> Result<Merged, String> {
    let text = existing.unwrap_or("");
    let json = text.trim_start().starts_with('{');
    let mut root = if text.trim().is_empty() {
        Value::Mapping(Mapping::new())
    } else {
        serde_yaml::from_str::<Value>(text).map_err(|e| {
            format!("the proxy.istio.io/config annotation is not valid YAML or JSON ({e})")
        })?
    };
    if root.is_null() {
        root = Value::Mapping(Mapping::new());
    }
    let mut changed = false;
    for want in wants {
        let Some((last, parents)) = want.path.split_last() else {
            continue;
        };
        let mut node = &mut root;
        for key in parents {
            let Value::Mapping(map) = node else {
                return Err(format!(
                    "the proxy.istio.io/config annotation has a non-mapping where {} was expected",
                    want.path.join(".")
                ));
            };
            let key = Value::String((*key).to_string());
            if !map.contains_key(&key) {
                map.insert(key.clone(), Value::Mapping(Mapping::new()));
                changed = true;
            }
            let Some(next) = map.get_mut(&key) else {
                return Err("internal error while merging proxy.istio.io/config".into());
            };
            node = next;
        }
        let Value::Mapping(map) = node else {
            return Err(format!(
                "the proxy.istio.io/config annotation has a non-mapping where {} was expected",
                want.path.join(".")
            ));
        };
        let key = Value::String((*last).to_string());
        if !map.contains_key(&key) {
            map.insert(key, want.value.clone());
            changed = true;
        }
    }
    let drain = match &root {
        Value::Mapping(m) => match m.get("terminationDrainDuration") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    if !changed {
        return Ok(Merged { text: None, drain });
    }
    let out = if json {
        serde_json::to_string(&root)
            .map_err(|e| format!("could not write proxy.istio.io/config as JSON ({e})"))?
    } else {
        serde_yaml::to_string(&root)
            .map_err(|e| format!("could not write proxy.istio.io/config as YAML ({e})"))?
    };
    Ok(Merged {
        text: Some(out),
        drain,
    })
}

/// Parses a Go duration as Istio accepts it (`45s`, `1m30s`, `1.5m`, `500ms`, `2h`) into whole
/// seconds, rounded up. `None` for anything else.
pub fn parse_duration_seconds(text: &str) -> Option<u64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total_ms: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (num, tail) = rest.split_at(num_len);
        let n: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let factor = match unit {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return None,
        };
        total_ms += n * factor;
        rest = tail;
    }
    if !total_ms.is_finite() || total_ms > 1.0e15 {
        return None;
    }
    Some((total_ms / 1000.0).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants() -> Vec<Want> {
        vec![
            Want {
                path: vec!["holdApplicationUntilProxyStarts"],
                value: Value::Bool(true),
            },
            Want {
                path: vec!["terminationDrainDuration"],
                value: Value::String("45s".into()),
            },
            Want {
                path: vec!["proxyMetadata", "EXIT_ON_ZERO_ACTIVE_CONNECTIONS"],
                value: Value::String("true".into()),
            },
        ]
    }

    #[test]
    fn absent_becomes_yaml() {
        let m = merge(None, &wants()).unwrap();
        let v: serde_yaml::Value = serde_yaml::from_str(m.text.as_deref().unwrap()).unwrap();
        assert_eq!(v["holdApplicationUntilProxyStarts"], Value::Bool(true));
        assert_eq!(
            v["proxyMetadata"]["EXIT_ON_ZERO_ACTIVE_CONNECTIONS"],
            Value::String("true".into())
        );
        assert_eq!(m.drain.as_deref(), Some("45s"));
        // Second pass: nothing to do.
        assert_eq!(merge(m.text.as_deref(), &wants()).unwrap().text, None);
    }

    #[test]
    fn json_stays_json_and_user_values_win() {
        let m = merge(
            Some(r#"{"terminationDrainDuration":"120s","proxyMetadata":{"ISTIO_META_DNS_CAPTURE":"true"},"holdApplicationUntilProxyStarts":false}"#),
            &wants(),
        )
        .unwrap();
        let text = m.text.unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["terminationDrainDuration"], "120s");
        assert_eq!(v["holdApplicationUntilProxyStarts"], false);
        assert_eq!(v["proxyMetadata"]["ISTIO_META_DNS_CAPTURE"], "true");
        assert_eq!(
            v["proxyMetadata"]["EXIT_ON_ZERO_ACTIVE_CONNECTIONS"],
            "true"
        );
        assert!(
            text.starts_with("{\"terminationDrainDuration\""),
            "order kept: {text}"
        );
        assert_eq!(m.drain.as_deref(), Some("120s"));
    }

    #[test]
    fn garbage_is_reported() {
        assert!(merge(Some("a: [b"), &wants()).is_err());
        assert!(merge(Some("- a\n- b"), &wants()).is_err());
        assert!(merge(Some("proxyMetadata: 3"), &wants()).is_err());
    }

    #[test]
    fn alias_bombs_are_refused_quickly() {
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            bomb.push_str(&format!("{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = c;
        }
        let started = std::time::Instant::now();
        let result = merge(Some(&bomb), &wants());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        assert!(result.is_err(), "{result:?}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_seconds("45s"), Some(45));
        assert_eq!(parse_duration_seconds("1m30s"), Some(90));
        assert_eq!(parse_duration_seconds("1.5m"), Some(90));
        assert_eq!(parse_duration_seconds("500ms"), Some(1));
        assert_eq!(parse_duration_seconds("2h"), Some(7200));
        assert_eq!(parse_duration_seconds("x"), None);
        assert_eq!(parse_duration_seconds("5"), None);
        assert_eq!(parse_duration_seconds(""), None);
        assert_eq!(parse_duration_seconds("9999999999999999999h"), None);
    }
}
