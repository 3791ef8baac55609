//! The filter's metrics, defined in Envoy on first use and cached per VM.
//!
//! Names put the label value in the middle (`meshka.api.<Api>.requests`) so one stats-tag regex
//! per dimension turns them into Prometheus labels; see the filter README.

use std::cell::RefCell;
use std::collections::HashMap;

use meshka_codec::api::Api;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

/// Per-api metric ids.
#[derive(Clone, Copy)]
struct ApiMetrics {
    requests: Option<u32>,
    responses: Option<u32>,
    latency_us: Option<u32>,
    allowed: Option<u32>,
    denied: Option<u32>,
}

#[derive(Default)]
struct Registry {
    by_api: HashMap<i16, ApiMetrics>,
    by_name: HashMap<String, Option<u32>>,
    /// Topics with their own metrics (bounded by `maxTopicMetrics`).
    topics: HashMap<String, (Option<u32>, Option<u32>)>,
}

/// Where topics beyond `maxTopicMetrics` are counted.
const OTHER_TOPICS: &str = "_other";

thread_local! {
    // A Wasm VM is single-threaded; each Envoy worker has its own VM and so its own registry.
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

fn define(kind: MetricType, name: &str) -> Option<u32> {
    match hostcalls::define_metric(kind, name) {
        Ok(id) => Some(id),
        Err(status) => {
            log::warn!("meshka: cannot define metric {name}: {status:?}");
            None
        }
    }
}

fn api_metrics(api: Api) -> ApiMetrics {
    REGISTRY.with(|r| {
        *r.borrow_mut().by_api.entry(api.key()).or_insert_with(|| {
            let name = api.name();
            ApiMetrics {
                requests: define(MetricType::Counter, &format!("meshka.api.{name}.requests")),
                responses: define(MetricType::Counter, &format!("meshka.api.{name}.responses")),
                latency_us: define(
                    MetricType::Histogram,
                    &format!("meshka.api.{name}.latency_us"),
                ),
                allowed: define(MetricType::Counter, &format!("meshka.api.{name}.allowed")),
                denied: define(MetricType::Counter, &format!("meshka.api.{name}.denied")),
            }
        })
    })
}

fn named(kind: MetricType, name: &str) -> Option<u32> {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        if let Some(id) = r.by_name.get(name) {
            return *id;
        }
        let id = define(kind, name);
        r.by_name.insert(name.to_string(), id);
        id
    })
}

fn add(id: Option<u32>, n: i64) {
    if let Some(id) = id {
        // Metric updates are best effort: a failure must not affect the connection.
        let _ = hostcalls::increment_metric(id, n);
    }
}

fn clamp(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn request(api: Api) {
    add(api_metrics(api).requests, 1);
}

pub fn response(api: Api, latency_ns: u64) {
    let m = api_metrics(api);
    add(m.responses, 1);
    if let Some(id) = m.latency_us {
        let _ = hostcalls::record_metric(id, latency_ns / 1_000);
    }
}

pub fn decode_error(kind: &str) {
    add(
        named(
            MetricType::Counter,
            &format!("meshka.reason.{kind}.decode_errors"),
        ),
        1,
    );
}

pub fn bytes(downstream: bool, proxied: usize, copied: usize) {
    let (p, c) = if downstream {
        ("meshka.downstream.bytes", "meshka.downstream.bytes_copied")
    } else {
        ("meshka.upstream.bytes", "meshka.upstream.bytes_copied")
    };
    add(named(MetricType::Counter, p), clamp(proxied));
    add(named(MetricType::Counter, c), clamp(copied));
}

pub fn connection_opened() {
    add(named(MetricType::Counter, "meshka.connections.total"), 1);
    add(named(MetricType::Gauge, "meshka.connections.active"), 1);
    vm_memory();
}

pub fn connection_closed() {
    add(named(MetricType::Gauge, "meshka.connections.active"), -1);
    vm_memory();
}

/// The VM's linear memory in bytes. The heap grows into it and never gives pages back, so it is
/// the VM's high-water mark: sampled as connections open and close (`make soak` watches it).
fn vm_memory() {
    #[cfg(target_arch = "wasm32")]
    if let Some(id) = named(MetricType::Gauge, "meshka.vm.memory_bytes") {
        let bytes = core::arch::wasm32::memory_size::<0>().saturating_mul(65536);
        let _ = hostcalls::record_metric(id, u64::try_from(bytes).unwrap_or(u64::MAX));
    }
}

pub fn closed_by_filter() {
    add(
        named(MetricType::Counter, "meshka.connections.closed_by_filter"),
        1,
    );
}

pub fn passed_undecoded() {
    add(
        named(MetricType::Counter, "meshka.connections.passed_undecoded"),
        1,
    );
}

fn topic_metrics(topic: &str, cap: u32) -> (Option<u32>, Option<u32>) {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        if let Some(ids) = r.topics.get(topic) {
            return *ids;
        }
        let name = if r.topics.len() < cap as usize {
            topic
        } else {
            OTHER_TOPICS
        };
        if let Some(ids) = r.topics.get(name) {
            return *ids;
        }
        let ids = (
            define(
                MetricType::Counter,
                &format!("meshka.topic.{name}.requests"),
            ),
            define(MetricType::Counter, &format!("meshka.topic.{name}.denied")),
        );
        r.topics.insert(name.to_string(), ids);
        ids
    })
}

/// Counts a decision by api and by topic.
pub fn decision(record: &meshka_policy::enforce::DecisionRecord, topic_cap: u32) {
    if let Some(api) = meshka_codec::api::Api::from_key(record.api_key) {
        let m = api_metrics(api);
        add(if record.allowed { m.allowed } else { m.denied }, 1);
    }
    for check in &record.checks {
        if check.resource == meshka_policy::authz::ResourceType::Topic {
            let (requests, denied) = topic_metrics(&check.name, topic_cap);
            add(requests, 1);
            if !check.allowed {
                add(denied, 1);
            }
        }
    }
}
