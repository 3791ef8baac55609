//! Envoy bootstraps shaped like Istio's sidecars, and the ECDS file that carries the filter's
//! configuration the way istiod delivers a `WasmPlugin`.

use std::path::Path;

use serde_json::{json, Value};

use crate::pki::CertFiles;

/// Stats-tag rules that turn the filter's metric names into Prometheus labels. Istio users add
/// the same rules through a bootstrap override (see filter/README.md).
pub fn meshka_stats_config() -> Value {
    json!({
        "stats_tags": [
            {"tag_name": "kafka_api", "regex": "^wasmcustom\\.meshka\\.api\\.((.+?)\\.)(requests|responses|latency_us|allowed|denied)$"},
            {"tag_name": "topic", "regex": "^wasmcustom\\.meshka\\.topic\\.((.+?)\\.)(requests|denied)$"},
            {"tag_name": "reason", "regex": "^wasmcustom\\.meshka\\.reason\\.((.+?)\\.)decode_errors$"}
        ],
        "histogram_bucket_settings": [{
            "match": {"prefix": "wasmcustom.meshka"},
            "buckets": [50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000]
        }]
    })
}

fn admin(address: &str, port: u16) -> Value {
    json!({"address": {"socket_address": {"address": address, "port_value": port}}})
}

fn cluster(name: &str, (address, port): (&str, u16), transport_socket: Option<Value>) -> Value {
    let mut c = json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "5s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": {"socket_address": {"address": address, "port_value": port}}}}
        ]}]}
    });
    if let (Some(ts), Some(obj)) = (transport_socket, c.as_object_mut()) {
        obj.insert("transport_socket".into(), ts);
    }
    c
}

fn tcp_proxy(stat_prefix: &str, cluster: &str) -> Value {
    json!({
        "name": "envoy.filters.network.tcp_proxy",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
            "stat_prefix": stat_prefix,
            "cluster": cluster
        }
    })
}

fn tls_context(certs: &CertFiles, ca: &Path, peer_prefix: &str) -> Value {
    json!({
        "tls_certificates": [{
            "certificate_chain": {"filename": certs.cert},
            "private_key": {"filename": certs.key}
        }],
        "validation_context": {
            "trusted_ca": {"filename": ca},
            "match_typed_subject_alt_names": [{"san_type": "URI", "matcher": {"prefix": peer_prefix}}]
        }
    })
}

/// The filter as a network filter whose configuration comes from the ECDS file at `ecds`.
fn meshka_filter_ecds(ecds: &Path) -> Value {
    json!({
        "name": "meshka",
        "config_discovery": {
            "config_source": {"path_config_source": {"path": ecds}, "resource_api_version": "V3"},
            "type_urls": ["type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"]
        }
    })
}

/// The ECDS resource: what istiod sends for a `WasmPlugin` with `pluginConfig: <config>`.
pub fn meshka_ecds(wasm: &Path, config: &Value, version: u64) -> Value {
    json!({
        "version_info": version.to_string(),
        "type_url": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
        "resources": [{
            "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
            "name": "meshka",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm",
                "config": {
                    "name": "meshka",
                    "root_id": "meshka",
                    "configuration": {
                        "@type": "type.googleapis.com/google.protobuf.StringValue",
                        "value": config.to_string()
                    },
                    "vm_config": {
                        "vm_id": "meshka",
                        "runtime": "envoy.wasm.runtime.v8",
                        "code": {"local": {"filename": wasm}}
                    }
                }
            }
        }]
    })
}

/// What the broker-side Envoy runs in front of the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerFilter {
    /// Plain `tcp_proxy`, no Wasm: the baseline.
    None,
    /// The meshka filter, configured through ECDS.
    Meshka,
}

/// The broker's inbound sidecar: mTLS required (Istio STRICT), the filter, `tcp_proxy`.
pub fn broker_sidecar(
    admin_port: u16,
    (listen_address, listen): (&str, u16),
    broker: u16,
    certs: &CertFiles,
    ca: &Path,
    filter: BrokerFilter,
    ecds: &Path,
) -> Value {
    let mut filters = Vec::new();
    if filter == BrokerFilter::Meshka {
        filters.push(meshka_filter_ecds(ecds));
    }
    filters.push(tcp_proxy("inbound_kafka", "inbound|9092||"));
    json!({
        "admin": admin("127.0.0.1", admin_port),
        "stats_config": meshka_stats_config(),
        "static_resources": {
            "listeners": [{
                "name": "virtualInbound-kafka",
                "address": {"socket_address": {"address": listen_address, "port_value": listen}},
                "per_connection_buffer_limit_bytes": 1048576,
                "filter_chains": [{
                    "transport_socket": {
                        "name": "envoy.transport_sockets.tls",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                            "require_client_certificate": true,
                            "common_tls_context": tls_context(certs, ca, "spiffe://cluster.local/")
                        }
                    },
                    "filters": filters
                }]
            }],
            "clusters": [cluster("inbound|9092||", ("127.0.0.1", broker), None)]
        }
    })
}

/// A client's outbound sidecar: plaintext from the app, mTLS with the workload's identity to the
/// broker's sidecar, which must present the broker's SPIFFE ID.
pub fn client_sidecar(
    (admin_address, admin_port): (&str, u16),
    listen: u16,
    broker_sidecar: (&str, u16),
    certs: &CertFiles,
    ca: &Path,
    broker_id: &str,
) -> Value {
    let upstream_tls = json!({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": "outbound_.9092_._.kafka.kafka.svc.cluster.local",
            "common_tls_context": tls_context(certs, ca, broker_id)
        }
    });
    json!({
        "admin": admin(admin_address, admin_port),
        "static_resources": {
            "listeners": [{
                "name": "kafka-outbound",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen}},
                "per_connection_buffer_limit_bytes": 1048576,
                "filter_chains": [{"filters": [tcp_proxy("outbound_kafka", "outbound|9092||kafka")]}]
            }],
            "clusters": [cluster("outbound|9092||kafka", broker_sidecar, Some(upstream_tls))]
        }
    })
}

/// Writes `value` to `path` atomically (Envoy watches ECDS files by rename).
pub fn write_json(path: &Path, value: &Value) {
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(value).expect("serialize JSON"),
    )
    .expect("write a config file");
    std::fs::rename(&tmp, path).expect("move a config file into place");
}
