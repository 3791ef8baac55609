//! The filter's metrics, defined in Envoy on first use and cached per VM.
//!
//! Names put the label value in the middle (`meshka.api.<Api>.requests`) so one stats-tag regex
//! per dimension turns them into Prometheus labels; see the filter README.
//!
//! Counter increments are kept in the VM and sent to Envoy in batches (one host call per
//! counter that changed, instead of one per increment): at every [`FLUSH_AFTER`] updates, when a
//! connection opens or closes, and on the root context's tick ([`flush`]). A counter read from
//! Envoy is therefore at most that far behind; everything a connection did is in Envoy once
//! it closed. Gauges and the latency histogram go to Envoy at once.

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
    /// Requests of this api seen by the VM (decides which are timed).
    seen: u64,
}

/// The byte counters of one direction.
#[derive(Clone, Copy)]
struct ByteMetrics {
    bytes: Option<u32>,
    copied: Option<u32>,
}

#[derive(Default)]
struct Registry {
    /// By api key (Kafka's keys are small and dense).
    by_api: Vec<Option<ApiMetrics>>,
    by_name: HashMap<String, Option<u32>>,
    /// Topics with their own metrics (bounded by `maxTopicMetrics`).
    topics: HashMap<String, (Option<u32>, Option<u32>)>,
    /// Downstream (client → broker) and upstream byte counters.
    bytes: Option<[ByteMetrics; 2]>,
    /// Counter increments not sent to Envoy yet, by metric id.
    pending: Vec<(u32, i64)>,
    /// Updates since the last flush.
    updates: u32,
}

/// Counter updates kept in the VM before they are sent to Envoy.
const FLUSH_AFTER: u32 = 1024;

/// One request in this many of each api is timed for `meshka.api.<Api>.latency_us` (the first
/// one, then every `LATENCY_SAMPLE`th): reading the host's clock twice and recording a histogram
/// value per request would be a fifth of the filter's per-request cost.
pub const LATENCY_SAMPLE: u64 = 32;

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

impl Registry {
    fn api(&mut self, api: Api) -> Option<&mut ApiMetrics> {
        let at = usize::try_from(api.key()).ok()?;
        if self.by_api.len() <= at {
            self.by_api.resize(at + 1, None);
        }
        let slot = self.by_api.get_mut(at)?;
        Some(slot.get_or_insert_with(|| {
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
                seen: 0,
            }
        }))
    }

    fn named(&mut self, kind: MetricType, name: &str) -> Option<u32> {
        if let Some(id) = self.by_name.get(name) {
            return *id;
        }
        let id = define(kind, name);
        self.by_name.insert(name.to_string(), id);
        id
    }

    fn bytes(&mut self, downstream: bool) -> ByteMetrics {
        let all = *self.bytes.get_or_insert_with(|| {
            let both = |p: &str| ByteMetrics {
                bytes: define(MetricType::Counter, &format!("meshka.{p}.bytes")),
                copied: define(MetricType::Counter, &format!("meshka.{p}.bytes_copied")),
            };
            [both("downstream"), both("upstream")]
        });
        let [down, up] = all;
        if downstream {
            down
        } else {
            up
        }
    }

    /// Adds `n` to counter `id`, in the VM until the next flush.
    fn add(&mut self, id: Option<u32>, n: i64) {
        let Some(id) = id else { return };
        if n == 0 {
            return;
        }
        match self.pending.iter_mut().find(|(i, _)| *i == id) {
            Some((_, sum)) => *sum = sum.saturating_add(n),
            None => self.pending.push((id, n)),
        }
        self.updates += 1;
        if self.updates >= FLUSH_AFTER {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for (id, n) in self.pending.drain(..) {
            // Metric updates are best effort: a failure must not affect the connection.
            let _ = hostcalls::increment_metric(id, n);
        }
        self.updates = 0;
    }

    fn topic(&mut self, topic: &str, cap: u32) -> (Option<u32>, Option<u32>) {
        if let Some(ids) = self.topics.get(topic) {
            return *ids;
        }
        let name = if self.topics.len() < cap as usize {
            topic
        } else {
            OTHER_TOPICS
        };
        if let Some(ids) = self.topics.get(name) {
            return *ids;
        }
        let ids = (
            define(
                MetricType::Counter,
                &format!("meshka.topic.{name}.requests"),
            ),
            define(MetricType::Counter, &format!("meshka.topic.{name}.denied")),
        );
        self.topics.insert(name.to_string(), ids);
        ids
    }
}

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    REGISTRY.with(|r| f(&mut r.borrow_mut()))
}

/// Sends the counter increments kept in the VM to Envoy.
pub fn flush() {
    with(Registry::flush);
}

fn clamp(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Counts a request; whether to time it (see [`LATENCY_SAMPLE`]).
pub fn request(api: Api) -> bool {
    with(|r| {
        let Some(m) = r.api(api) else {
            return false;
        };
        let (id, seen) = (m.requests, m.seen);
        m.seen = seen.wrapping_add(1);
        r.add(id, 1);
        seen.is_multiple_of(LATENCY_SAMPLE)
    })
}

/// Counts a response, and records its latency when its request was timed.
pub fn response(api: Api, latency_ns: Option<u64>) {
    with(|r| {
        let Some(m) = r.api(api).copied() else {
            return;
        };
        r.add(m.responses, 1);
        if let (Some(id), Some(ns)) = (m.latency_us, latency_ns) {
            let _ = hostcalls::record_metric(id, ns / 1_000);
        }
    });
}

pub fn decode_error(kind: &str) {
    with(|r| {
        let id = r.named(
            MetricType::Counter,
            &format!("meshka.reason.{kind}.decode_errors"),
        );
        r.add(id, 1);
        r.flush();
    });
}

pub fn bytes(downstream: bool, proxied: usize, copied: usize) {
    with(|r| {
        let m = r.bytes(downstream);
        r.add(m.bytes, clamp(proxied));
        r.add(m.copied, clamp(copied));
    });
}

pub fn connection_opened() {
    with(|r| {
        let total = r.named(MetricType::Counter, "meshka.connections.total");
        r.add(total, 1);
        let active = r.named(MetricType::Gauge, "meshka.connections.active");
        gauge_add(active, 1);
        r.flush();
    });
    vm_memory();
}

pub fn connection_closed() {
    with(|r| {
        let active = r.named(MetricType::Gauge, "meshka.connections.active");
        gauge_add(active, -1);
        r.flush();
    });
    vm_memory();
}

fn gauge_add(id: Option<u32>, n: i64) {
    if let Some(id) = id {
        let _ = hostcalls::increment_metric(id, n);
    }
}

/// The VM's linear memory in bytes. The heap grows into it and never gives pages back, so it is
/// the VM's high-water mark: sampled as connections open and close (`make soak` watches it).
fn vm_memory() {
    #[cfg(target_arch = "wasm32")]
    if let Some(id) = with(|r| r.named(MetricType::Gauge, "meshka.vm.memory_bytes")) {
        let bytes = core::arch::wasm32::memory_size::<0>().saturating_mul(65536);
        let _ = hostcalls::record_metric(id, u64::try_from(bytes).unwrap_or(u64::MAX));
    }
}

pub fn closed_by_filter() {
    with(|r| {
        let id = r.named(MetricType::Counter, "meshka.connections.closed_by_filter");
        r.add(id, 1);
        r.flush();
    });
}

/// Counts a response that carried a quota's throttle time, and the time.
pub fn throttled(ms: u64) {
    with(|r| {
        let count = r.named(MetricType::Counter, "meshka.quota.throttled");
        r.add(count, 1);
        let time = r.named(MetricType::Counter, "meshka.quota.throttle_ms");
        r.add(time, i64::try_from(ms).unwrap_or(i64::MAX));
    });
}

pub fn passed_undecoded() {
    with(|r| {
        let id = r.named(MetricType::Counter, "meshka.connections.passed_undecoded");
        r.add(id, 1);
        r.flush();
    });
}

/// Counts a decision by api and by topic.
pub fn decision(record: &meshka_policy::enforce::DecisionRecord, topic_cap: u32) {
    with(|r| {
        if let Some(api) = Api::from_key(record.api_key) {
            if let Some(m) = r.api(api).copied() {
                r.add(if record.allowed { m.allowed } else { m.denied }, 1);
            }
        }
        for check in &record.checks {
            if check.resource == meshka_policy::authz::ResourceType::Topic {
                let (requests, denied) = r.topic(&check.name, topic_cap);
                r.add(requests, 1);
                if !check.allowed {
                    r.add(denied, 1);
                }
            }
        }
    });
}
