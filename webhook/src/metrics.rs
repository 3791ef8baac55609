//! Prometheus metrics, written by hand in the text exposition format (no global registry).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the admission latency histogram.
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// The webhook's counters and histogram. Cheap to update from many tasks.
#[derive(Debug, Default)]
pub struct Metrics {
    admissions: Mutex<BTreeMap<(String, &'static str, &'static str), u64>>,
    latency_buckets: [AtomicU64; 12],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    tls_reloads: AtomicU64,
    tls_reload_errors: AtomicU64,
}

impl Metrics {
    /// Counts one reviewed admission and its latency.
    pub fn admission(
        &self,
        kind: &str,
        role: &'static str,
        result: &'static str,
        elapsed: Duration,
    ) {
        // Bound label cardinality: kinds other than Pod and Service are folded.
        let kind = match kind {
            "Pod" | "Service" => kind.to_string(),
            _ => "other".to_string(),
        };
        if let Ok(mut map) = self.admissions.lock() {
            *map.entry((kind, role, result)).or_insert(0) += 1;
        }
        let secs = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(self.latency_buckets.iter()) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ns.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Counts a request answered with an HTTP error (`reason`: bad_request, too_large, timeout, …).
    pub fn rejected(&self, reason: &'static str) {
        if let Ok(mut map) = self.rejected.lock() {
            *map.entry(reason).or_insert(0) += 1;
        }
    }

    /// Counts a certificate reload; `ok` false for a failed one.
    pub fn tls_reload(&self, ok: bool) {
        if ok {
            self.tls_reloads.fetch_add(1, Ordering::Relaxed);
        } else {
            self.tls_reload_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition of all metrics.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP meshka_webhook_admissions_total Admission reviews by object kind, detected Kafka role and result.\n");
        out.push_str("# TYPE meshka_webhook_admissions_total counter\n");
        if let Ok(map) = self.admissions.lock() {
            for ((kind, role, result), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "meshka_webhook_admissions_total{{kind=\"{kind}\",role=\"{role}\",result=\"{result}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP meshka_webhook_admission_duration_seconds Time to review one admission request.\n");
        out.push_str("# TYPE meshka_webhook_admission_duration_seconds histogram\n");
        for (bound, bucket) in BUCKETS.iter().zip(self.latency_buckets.iter()) {
            let _ = writeln!(
                out,
                "meshka_webhook_admission_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "meshka_webhook_admission_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.latency_sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "meshka_webhook_admission_duration_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "meshka_webhook_admission_duration_seconds_count {count}"
        );
        out.push_str("# HELP meshka_webhook_rejected_requests_total HTTP requests answered with an error status, by reason.\n");
        out.push_str("# TYPE meshka_webhook_rejected_requests_total counter\n");
        if let Ok(map) = self.rejected.lock() {
            for (reason, n) in map.iter() {
                let _ = writeln!(
                    out,
                    "meshka_webhook_rejected_requests_total{{reason=\"{reason}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP meshka_webhook_tls_reloads_total Serving certificate reloads, by result.\n",
        );
        out.push_str("# TYPE meshka_webhook_tls_reloads_total counter\n");
        let _ = writeln!(
            out,
            "meshka_webhook_tls_reloads_total{{result=\"ok\"}} {}",
            self.tls_reloads.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "meshka_webhook_tls_reloads_total{{result=\"error\"}} {}",
            self.tls_reload_errors.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_buckets() {
        let m = Metrics::default();
        m.admission("Pod", "broker", "patched", Duration::from_micros(300));
        m.admission("Deployment", "none", "ignored", Duration::from_millis(2));
        m.rejected("too_large");
        let text = m.render();
        assert!(text.contains(
            "meshka_webhook_admissions_total{kind=\"Pod\",role=\"broker\",result=\"patched\"} 1"
        ));
        assert!(text.contains("kind=\"other\""));
        assert!(text.contains("meshka_webhook_admission_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("meshka_webhook_admission_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("meshka_webhook_rejected_requests_total{reason=\"too_large\"} 1"));
    }
}
