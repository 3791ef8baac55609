//! `make bench`, end-to-end part: what the filter costs against plain Envoy, in one run.
//!
//! For each round, and within a round for each broker-sidecar configuration in turn (rotated
//! each round, so no configuration always runs first or last), starts a fresh mesh (tansu, the
//! broker sidecar, a client sidecar), creates the topic and runs the same two producer loads
//! (`kclient.py load`, confluent-kafka, 1 KiB records, acks=1):
//!
//! - `saturation`: as fast as librdkafka takes records, 16 KB batches, pipelined;
//! - `rate`: a fixed moderate rate with `linger.ms=0`, so nearly every record is its own
//!   Produce request (the per-request cost, and latency without queueing).
//!
//! In the first round, before the loads, it also opens 1,000 idle connections through the mesh
//! and reads the broker sidecar's resident memory before and after (`--idle-connections`).
//!
//! Around each load it reads the broker sidecar's CPU time (its threads' `/proc/<pid>/task/*/schedstat`,
//! else `/proc/<pid>/stat` utime+stime) and
//! the filter's byte counters (`wasmcustom.meshka.*.bytes[_copied]`). Writes every run and a
//! summary (ratios against `tcp_proxy` alone) to `<out>/e2e.json` and `<out>/e2e.md`.
//!
//! Benchmarks, not tests: nothing here asserts a timing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use meshka_tests::envoy::BrokerFilter;
use meshka_tests::{clients, env, Mesh, MeshOptions};
use serde_json::{json, Value};

const TOPIC: &str = "bench.load";
const RECORD_BYTES: usize = 1024;
const BATCH_BYTES: &str = "16384";

struct Config {
    key: &'static str,
    label: String,
    filter: BrokerFilter,
    noop: bool,
    config: Value,
    /// Another build of the filter (`--baseline-wasm`): the same configuration as (c) with that
    /// module, to see what a change to the module costs Envoy in the same run.
    module: Option<PathBuf>,
}

fn configs() -> Vec<Config> {
    vec![
        Config {
            key: "tcp_proxy",
            label: "(a) tcp_proxy only".into(),
            filter: BrokerFilter::None,
            noop: false,
            config: json!({}),
            module: None,
        },
        Config {
            key: "noop_wasm",
            label: "(b) no-op Wasm filter".into(),
            filter: BrokerFilter::Meshka,
            noop: true,
            config: json!({}),
            module: None,
        },
        Config {
            key: "noop_read",
            label: "(b2) no-op Wasm filter + one host read per callback".into(),
            filter: BrokerFilter::Meshka,
            noop: true,
            config: json!({"mode": "read"}),
            module: None,
        },
        Config {
            key: "meshka",
            label: "(c) meshka, no policy".into(),
            filter: BrokerFilter::Meshka,
            noop: false,
            config: json!({}),
            module: None,
        },
        Config {
            key: "meshka_allow_all",
            label: "(d) meshka, allow-all policy".into(),
            filter: BrokerFilter::Meshka,
            noop: false,
            config: json!({"authorization": {"rules": [{
                "name": "allow-all", "action": "allow", "principals": ["*"], "operations": ["All"],
                "resources": [{"type": "topic", "name": "*"}, {"type": "group", "name": "*"},
                              {"type": "cluster", "name": "*"}]
            }]}}),
            module: None,
        },
        Config {
            key: "meshka_100_rules",
            label: "(e) meshka, 100-rule policy".into(),
            filter: BrokerFilter::Meshka,
            noop: false,
            config: json!({"authorization": hundred_rules("bench.")}),
            module: None,
        },
        Config {
            key: "meshka_routing",
            label: "(f) meshka, 100 rules + topic rewriting".into(),
            filter: BrokerFilter::Meshka,
            noop: false,
            // The producer's namespace is a tenant: `bench.load` is `apps.bench.load` on the
            // broker, and the rules (which see the broker's names) allow that.
            config: json!({
                "authorization": hundred_rules("apps.bench."),
                "routing": {"tenants": [{"name": "apps", "namespaces": ["apps"], "topicPrefix": "apps."}]}
            }),
            module: None,
        },
    ]
}

/// 100 rules of the shapes real policies have: literal and prefixed topics, groups, several
/// kinds of subject, some denials; the one for the bench's producer (its topics under
/// `bench_prefix`, as the broker names them) sits in the middle.
fn hundred_rules(bench_prefix: &str) -> Value {
    let mut rules = Vec::new();
    for i in 0..100 {
        if i == 50 {
            rules.push(json!({
                "name": "orders-writes-bench", "action": "allow", "serviceAccounts": ["apps/orders"],
                "operations": ["Write", "Describe", "Create"],
                "resources": [{"type": "topic", "name": bench_prefix, "patternType": "prefixed"}]
            }));
            continue;
        }
        let topic = match i % 3 {
            0 => json!({"type": "topic", "name": format!("team-{i}.orders")}),
            1 => json!({"type": "topic", "name": format!("team-{i}."), "patternType": "prefixed"}),
            _ => json!({"type": "topic", "name": format!("bench.t{i}"), "patternType": "prefixed"}),
        };
        rules.push(json!({
            "name": format!("rule-{i}"),
            "action": if i % 10 == 9 { "deny" } else { "allow" },
            "principals": [format!("spiffe://cluster.local/ns/team-{i}/sa/writer")],
            "namespaces": [format!("team-{i}")],
            "serviceAccounts": [format!("team-{i}/reader")],
            "users": [format!("User:svc-{i}")],
            "operations": ["Read", "Write", "Describe"],
            "resources": [topic, {"type": "group", "name": format!("g-{i}")}]
        }));
    }
    json!({"rules": rules})
}

struct Args {
    rounds: usize,
    seconds: u64,
    rate: u64,
    out: PathBuf,
    only: Vec<String>,
    idle_connections: usize,
    /// Only re-render the tables of an earlier run's `e2e.json`.
    from: Option<PathBuf>,
    /// Only print the configurations (key, label, module, filter configuration) as JSON: what
    /// `make bench`'s host-call count (`tests/python/hostcalls.py`) runs.
    print_configs: bool,
    /// Also run configuration (c) with this module: (c0).
    baseline_wasm: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        rounds: 2,
        seconds: 10,
        rate: 1000,
        out: env::workspace().join("target/bench"),
        only: Vec::new(),
        idle_connections: 1000,
        from: None,
        print_configs: false,
        baseline_wasm: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--configs" {
            a.print_configs = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => a.rounds = value.parse().expect("--rounds N"),
            "--seconds" => a.seconds = value.parse().expect("--seconds N"),
            "--rate" => a.rate = value.parse().expect("--rate records/s"),
            "--out" => a.out = PathBuf::from(value),
            "--only" => a.only = value.split(',').map(str::to_string).collect(),
            "--idle-connections" => a.idle_connections = value.parse().expect("--idle-connections N"),
            "--from" => a.from = Some(PathBuf::from(value)),
            "--baseline-wasm" => a.baseline_wasm = Some(PathBuf::from(value)),
            _ => panic!(
                "usage: bench [--rounds N] [--seconds N] [--rate R] [--out DIR] [--only a,b] [--idle-connections N] [--from e2e.json] [--baseline-wasm other.wasm] [--configs]"
            ),
        }
    }
    a
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU time of a process in seconds: the sum of its threads' `schedstat` run time
/// (nanoseconds), or utime + stime from `/proc/<pid>/stat` (clock ticks) where that is missing.
fn cpu_seconds(pid: u32, ticks_per_s: f64) -> f64 {
    schedstat_seconds(pid).unwrap_or_else(|| stat_seconds(pid, ticks_per_s))
}

fn schedstat_seconds(pid: u32) -> Option<f64> {
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().map(|t| t.path()).collect::<Vec<_>>())
        .unwrap_or_default();
    let ns: Option<u64> = threads
        .iter()
        .map(|t| {
            std::fs::read_to_string(t.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum();
    ns.filter(|_| !threads.is_empty()).map(|ns| ns as f64 / 1e9)
}

fn stat_seconds(pid: u32, ticks_per_s: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    let field = |n: usize| -> u64 { fields.get(n - 3).and_then(|f| f.parse().ok()).unwrap_or(0) };
    (field(14) + field(15)) as f64 / ticks_per_s
}

const COUNTERS: [&str; 4] = [
    "wasmcustom.meshka.downstream.bytes",
    "wasmcustom.meshka.upstream.bytes",
    "wasmcustom.meshka.downstream.bytes_copied",
    "wasmcustom.meshka.upstream.bytes_copied",
];

fn counters(mesh: &Mesh) -> [u64; 4] {
    COUNTERS.map(|c| mesh.broker_stat(c).unwrap_or(0))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_load(mesh: &Mesh, load: &str, a: &Args, ticks_per_s: f64) -> Value {
    let seconds = a.seconds.to_string();
    let size = RECORD_BYTES.to_string();
    let rate = a.rate.to_string();
    let bootstrap = mesh.bootstrap();
    let mut cmd = vec![
        "load",
        "--bootstrap",
        &bootstrap,
        "--topic",
        TOPIC,
        "--seconds",
        &seconds,
        "--size",
        &size,
        "--batch-size",
        BATCH_BYTES,
        "--message-timeout-ms",
        "30000",
    ];
    if load == "rate" {
        cmd.extend(["--rate", &rate, "--linger-ms", "0"]);
    }
    let pid = mesh.broker_sidecar.pid();
    let load_before = loadavg();
    let stat0 = stat_seconds(pid, ticks_per_s);
    let (cpu0, c0) = (cpu_seconds(pid, ticks_per_s), counters(mesh));
    let out = clients::run(&cmd, Duration::from_secs(a.seconds + 120));
    let (cpu1, c1) = (cpu_seconds(pid, ticks_per_s), counters(mesh));
    let stat1 = stat_seconds(pid, ticks_per_s);
    let cpu_s = (cpu1 - cpu0).max(0.0);
    let delivered = out["delivered"].as_u64().unwrap_or(0);
    let mb = (delivered as usize * RECORD_BYTES) as f64 / 1e6;
    let diff = |i: usize| c1[i].saturating_sub(c0[i]);
    let proxied = diff(0) + diff(1);
    let copied = diff(2) + diff(3);
    json!({
        "load": load,
        "client": out,
        "delivered": delivered,
        "mb": mb,
        "mb_per_s": out["mb_per_s"],
        "p50_ms": out["latency_ms"]["p50"],
        "p99_ms": out["latency_ms"]["p99"],
        "envoy_cpu_s": cpu_s,
        "envoy_cpu_s_stat": stat1 - stat0,
        "envoy_cpu_ms_per_mb": if mb > 0.0 { cpu_s * 1e3 / mb } else { 0.0 },
        "envoy_cpu_us_per_record": if delivered > 0 { cpu_s * 1e6 / delivered as f64 } else { 0.0 },
        "bytes_proxied": proxied,
        "bytes_copied": copied,
        "bytes_copied_per_mb": if mb > 0.0 { copied as f64 / mb } else { 0.0 },
        "loadavg_before": load_before,
    })
}

/// Starts a mesh, trying again when it fails to come up (the test bed picks free ports by binding
/// and releasing them, and on a busy machine two picks can collide).
fn start(options: &MeshOptions) -> Mesh {
    for attempt in 1..=3 {
        let o = options.clone();
        match std::panic::catch_unwind(move || Mesh::start(o)) {
            Ok(mesh) => return mesh,
            Err(_) => eprintln!("the mesh did not start (attempt {attempt} of 3); trying again"),
        }
    }
    panic!("the mesh did not start in 3 attempts");
}

/// Resident memory of a process in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Opens `n` client connections through the mesh, each sending one ApiVersions v0 request so
/// every hop (client sidecar, mTLS, broker sidecar and its filter) holds a live connection, then
/// measures the broker sidecar's resident memory growth per connection.
fn idle_memory(mesh: &Mesh, n: usize) -> Value {
    use std::io::Write;
    let pid = mesh.broker_sidecar.pid();
    let before = rss_kib(pid);
    // ApiVersions v0, header v1: api key 18, version 0, correlation id 1, null client id.
    let request = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff];
    let mut streams = Vec::new();
    for _ in 0..n {
        match std::net::TcpStream::connect(mesh.bootstrap()) {
            Ok(mut s) => {
                let _ = s.write_all(&request);
                streams.push(s);
            }
            Err(e) => {
                eprintln!("connection {} failed: {e}", streams.len());
                break;
            }
        }
    }
    std::thread::sleep(Duration::from_secs(3));
    let after = rss_kib(pid);
    let active = mesh
        .broker_stat("wasmcustom.meshka.connections.active")
        .unwrap_or(0);
    drop(streams);
    let opened = n as f64;
    json!({
        "connections": n,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": after.saturating_sub(before) as f64 / opened,
        "filter_connections_active": active,
    })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn main() {
    let a = args();
    if a.print_configs {
        let configs: Vec<Value> = configs()
            .iter()
            .filter(|c| c.filter == BrokerFilter::Meshka)
            .map(|c| json!({"key": c.key, "label": c.label, "noop": c.noop, "config": c.config}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&configs).unwrap());
        return;
    }
    if let Some(from) = &a.from {
        let text = std::fs::read_to_string(from).expect("read the e2e.json");
        let doc: Value = serde_json::from_str(&text).expect("an e2e.json");
        println!("{}", markdown(&doc));
        return;
    }
    std::fs::create_dir_all(&a.out).expect("create the output directory");
    let noop_wasm =
        env::workspace().join("target/wasm/wasm32-wasip1/release/meshka_noop_filter.wasm");
    let meshka_wasm = env::wasm();
    let ticks = clock_ticks();
    let mut all = configs();
    if let Some(module) = &a.baseline_wasm {
        let bytes = std::fs::metadata(module)
            .expect("the --baseline-wasm module")
            .len();
        all.push(Config {
            key: "meshka_baseline",
            label: format!(
                "(c0) meshka, no policy, module {} ({bytes} B)",
                module.display()
            ),
            filter: BrokerFilter::Meshka,
            noop: false,
            config: json!({}),
            module: Some(module.clone()),
        });
    }
    let configs: Vec<&Config> = all
        .iter()
        .filter(|c| a.only.is_empty() || a.only.iter().any(|o| o == c.key))
        .collect();
    let loads = ["saturation", "rate"];
    let started = Instant::now();
    let mut runs: Vec<Value> = Vec::new();
    let mut memory: Vec<Value> = Vec::new();
    for round in 0..a.rounds {
        for i in 0..configs.len() {
            let c = configs[(i + round) % configs.len()];
            // Mesh::start reads the module from MESHKA_WASM; single-threaded here.
            std::env::set_var(
                "MESHKA_WASM",
                match (&c.module, c.noop) {
                    (Some(module), _) => module,
                    (None, true) => &noop_wasm,
                    (None, false) => &meshka_wasm,
                },
            );
            let options = MeshOptions {
                filter_config: c.config.clone(),
                broker_filter: c.filter,
                ..MeshOptions::default()
            };
            let mesh = start(&options);
            let created = clients::run(
                &["create", "--bootstrap", &mesh.bootstrap(), "--topic", TOPIC],
                Duration::from_secs(90),
            );
            assert!(
                created["listed"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|t| t == TOPIC)),
                "{}: topic not created: {created}",
                c.key
            );
            if round == 0 && a.idle_connections > 0 {
                let mem = idle_memory(&mesh, a.idle_connections);
                eprintln!(
                    "[{:>4.0}s] round {round} {:<18} {} idle connections: broker sidecar RSS {} → {} KiB ({:.1} KiB each), filter sees {} active",
                    started.elapsed().as_secs_f64(),
                    c.key,
                    a.idle_connections,
                    mem["rss_before_kib"],
                    mem["rss_after_kib"],
                    mem["kib_per_connection"].as_f64().unwrap_or(0.0),
                    mem["filter_connections_active"],
                );
                // Let the closed connections drain before the loads.
                std::thread::sleep(Duration::from_secs(3));
                memory.push(json!({"config": c.key, "memory": mem}));
            }
            for load in loads {
                let mut run = run_load(&mesh, load, &a, ticks);
                run["round"] = json!(round);
                run["config"] = json!(c.key);
                eprintln!(
                    "[{:>4.0}s] round {round} {:<18} {:<10} {:>7} MB/s  p50 {:>7} ms  p99 {:>7} ms  envoy {:.2} ms/MB {:.1} µs/record  copied {:.0} B/MB  errors {}",
                    started.elapsed().as_secs_f64(),
                    c.key,
                    load,
                    run["mb_per_s"],
                    run["p50_ms"],
                    run["p99_ms"],
                    run["envoy_cpu_ms_per_mb"].as_f64().unwrap_or(0.0),
                    run["envoy_cpu_us_per_record"].as_f64().unwrap_or(0.0),
                    run["bytes_copied_per_mb"].as_f64().unwrap_or(0.0),
                    run["client"]["errors"],
                );
                runs.push(run);
                let partial = a.out.join("e2e-runs.json");
                let _ = std::fs::write(&partial, serde_json::to_string_pretty(&runs).unwrap());
            }
            drop(mesh);
        }
    }

    // Per configuration and load: medians over rounds; ratios against tcp_proxy alone.
    let pick = |config: &str, load: &str, field: &str| -> Option<f64> {
        median(
            runs.iter()
                .filter(|r| r["config"] == config && r["load"] == load)
                .filter_map(|r| r[field].as_f64())
                .collect(),
        )
    };
    let base = |load: &str, field: &str| pick("tcp_proxy", load, field);
    let ratio = |x: Option<f64>, b: Option<f64>| match (x, b) {
        (Some(x), Some(b)) if b > 0.0 => Some(x / b),
        _ => None,
    };
    let diff_us = |x: Option<f64>, b: Option<f64>| match (x, b) {
        (Some(x), Some(b)) => Some((x - b) * 1e3),
        _ => None,
    };
    let mut summary = Vec::new();
    for c in &configs {
        let f = |load: &str, field: &str| pick(c.key, load, field);
        let s = json!({
            "config": c.key,
            "label": c.label,
            "saturation": {
                "mb_per_s": f("saturation", "mb_per_s"),
                "throughput_ratio": ratio(f("saturation", "mb_per_s"), base("saturation", "mb_per_s")),
                "envoy_cpu_ms_per_mb": f("saturation", "envoy_cpu_ms_per_mb"),
                "cpu_per_mb_ratio": ratio(f("saturation", "envoy_cpu_ms_per_mb"), base("saturation", "envoy_cpu_ms_per_mb")),
                "p50_ms": f("saturation", "p50_ms"),
                "p99_ms": f("saturation", "p99_ms"),
                "bytes_copied_per_mb": f("saturation", "bytes_copied_per_mb"),
            },
            "rate": {
                "mb_per_s": f("rate", "mb_per_s"),
                "p50_ms": f("rate", "p50_ms"),
                "p99_ms": f("rate", "p99_ms"),
                "p50_diff_us": diff_us(f("rate", "p50_ms"), base("rate", "p50_ms")),
                "p99_diff_us": diff_us(f("rate", "p99_ms"), base("rate", "p99_ms")),
                "envoy_cpu_us_per_record": f("rate", "envoy_cpu_us_per_record"),
                "cpu_per_record_diff_us": f("rate", "envoy_cpu_us_per_record")
                    .zip(base("rate", "envoy_cpu_us_per_record"))
                    .map(|(x, b)| x - b),
                "bytes_copied_per_mb": f("rate", "bytes_copied_per_mb"),
            },
        });
        summary.push(s);
    }
    let errors: u64 = runs
        .iter()
        .map(|r| {
            r["client"]["errors"]
                .as_object()
                .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
                + r["client"]["undelivered"].as_u64().unwrap_or(0)
        })
        .sum();
    let meta = json!({
        "rounds": a.rounds,
        "seconds_per_load": a.seconds,
        "rate_records_per_s": a.rate,
        "record_bytes": RECORD_BYTES,
        "batch_bytes": BATCH_BYTES,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "undelivered_or_failed_records": errors,
        "wall_seconds": started.elapsed().as_secs(),
    });
    let doc = json!({"meta": meta, "summary": summary, "runs": runs, "idle_memory": memory});
    let json_path = a.out.join("e2e.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&doc).unwrap())
        .expect("write e2e.json");
    let md = markdown(&doc);
    std::fs::write(a.out.join("e2e.md"), &md).expect("write e2e.md");
    println!("{md}");
    println!("wrote {} and e2e.md", json_path.display());
}

fn fmt(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}"))
}

fn signed(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_string(), |x| format!("{x:+.digits$}"))
}

fn markdown(doc: &Value) -> String {
    let m = &doc["meta"];
    let mut s = format!(
        "Broker sidecar configurations under the same producer load (confluent-kafka, {} B records, acks=1), \
         {} round(s) of {} s per load, configurations alternating, medians over rounds. \
         Saturation: max rate, batch.size={}. Rate: {} records/s, linger.ms=0. \
         Records undelivered or failed in all runs: {}.\n\n",
        m["record_bytes"], m["rounds"], m["seconds_per_load"], m["batch_bytes"].as_str().unwrap_or(""),
        m["rate_records_per_s"], m["undelivered_or_failed_records"],
    );
    s.push_str("| broker sidecar | throughput (MB/s) | × tcp_proxy | Envoy CPU ms/MB | × tcp_proxy | VM bytes copied per MB | rate: p50 ms (Δ µs) | rate: p99 ms (Δ µs) | rate: Envoy CPU µs/record (Δ) |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for c in doc["summary"].as_array().into_iter().flatten() {
        let (sat, rate) = (&c["saturation"], &c["rate"]);
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} ({}) | {} ({}) | {} ({}) |\n",
            c["label"].as_str().unwrap_or(""),
            fmt(&sat["mb_per_s"], 1),
            fmt(&sat["throughput_ratio"], 3),
            fmt(&sat["envoy_cpu_ms_per_mb"], 2),
            fmt(&sat["cpu_per_mb_ratio"], 3),
            fmt(&sat["bytes_copied_per_mb"], 0),
            fmt(&rate["p50_ms"], 3),
            signed(&rate["p50_diff_us"], 0),
            fmt(&rate["p99_ms"], 3),
            signed(&rate["p99_diff_us"], 0),
            fmt(&rate["envoy_cpu_us_per_record"], 1),
            signed(&rate["cpu_per_record_diff_us"], 1),
        ));
    }
    let memory = doc["idle_memory"].as_array().cloned().unwrap_or_default();
    if !memory.is_empty() {
        s.push_str("\nBroker sidecar memory with idle connections (first round, before the loads; each sent one ApiVersions):\n\n");
        s.push_str("| broker sidecar | connections | RSS before (MiB) | RSS after (MiB) | KiB per connection |\n|---|---:|---:|---:|---:|\n");
        for m in &memory {
            let label = doc["summary"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["config"] == m["config"])
                .and_then(|c| c["label"].as_str())
                .unwrap_or("");
            let mem = &m["memory"];
            let mib = |v: &Value| fmt(&json!(v.as_f64().unwrap_or(0.0) / 1024.0), 1);
            s.push_str(&format!(
                "| {label} | {} | {} | {} | {} |\n",
                mem["connections"],
                mib(&mem["rss_before_kib"]),
                mib(&mem["rss_after_kib"]),
                fmt(&mem["kib_per_connection"], 1),
            ));
        }
    }
    // The spread: every round's value, in the order the rounds ran.
    s.push_str("\nPer round (the noise): saturation MB/s · saturation Envoy CPU ms/MB · rate Envoy CPU µs/record\n\n");
    s.push_str("| broker sidecar | saturation MB/s | CPU ms/MB | rate CPU µs/record |\n|---|---|---|---|\n");
    let runs = doc["runs"].as_array().cloned().unwrap_or_default();
    for c in doc["summary"].as_array().into_iter().flatten() {
        let values = |load: &str, field: &str, digits: usize| -> String {
            runs.iter()
                .filter(|r| r["config"] == c["config"] && r["load"] == load)
                .map(|r| fmt(&r[field], digits))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c["label"].as_str().unwrap_or(""),
            values("saturation", "mb_per_s", 1),
            values("saturation", "envoy_cpu_ms_per_mb", 2),
            values("rate", "envoy_cpu_us_per_record", 1),
        ));
    }
    s
}
