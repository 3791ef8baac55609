//! `make soak`: mixed traffic through the filter for `--minutes` (default `SOAK_MINUTES`, 10) with
//! the policy changed every minute, checking that nothing is lost or altered and that the Wasm
//! VM's memory stays flat.
//!
//! Two workloads in their own pods: `shop/orders` produces keyed records (confluent-kafka,
//! idempotent, `acks=all`) to a new topic each minute; `bi/analytics` consumes the previous
//! minute's topic with a consumer group (Fetch, the group apis; kafka-python and confluent-kafka
//! in turn) and lists the topics (Metadata, which the filter trims). Half-way through each minute
//! the policy changes, alternating between two that differ in whether `bi/analytics` may write
//! `soak.probe`; a probe write right after checks that the change reached the filter. Each
//! minute ends by reading the minute's topic whole straight from the broker (no filter) and
//! comparing every record with what the producer had acknowledged (SHA-256 of each value), and
//! by sampling the VM's linear memory (`wasmcustom.meshka.vm.memory_bytes`), the broker
//! sidecar's RSS and the filter's counters. Prints one line per minute and a JSON summary (also
//! written to `--out`); exits non-zero on any lost, duplicated or altered record, a failed probe,
//! a decoding error, or VM memory still growing after the first minute.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use meshka_tests::{clients, env, Identity, Mesh, MeshOptions};
use serde_json::{json, Value};

const RATE: u64 = 60;
const PRODUCE_SECONDS: u64 = 50;
const SIZE: &str = "1000";

/// Policy `n % 2`: both let orders create, write and read `soak.*` and analytics read it with
/// its groups; only the even one lets analytics write `soak.probe`. Nobody may see `private.*`.
fn policy(n: u64) -> Value {
    let mut rules = vec![
        json!({"action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Create", "Write", "Read"],
               "resources": [{"type": "topic", "name": "soak.", "patternType": "prefixed"}]}),
        json!({"action": "allow", "serviceAccounts": ["bi/analytics"], "operations": ["Read"],
               "resources": [{"type": "topic", "name": "soak.", "patternType": "prefixed"},
                             {"type": "group", "name": "analytics-", "patternType": "prefixed"}]}),
    ];
    if n.is_multiple_of(2) {
        rules.push(
            json!({"action": "allow", "serviceAccounts": ["bi/analytics"], "operations": ["Write"],
                          "resources": [{"type": "topic", "name": "soak.probe"}]}),
        );
    }
    json!({"authorization": {"rules": rules}})
}

fn spawn(mesh: &Mesh, workload: usize, args: &[&str]) -> Child {
    let w = mesh.workload(workload);
    let bootstrap = w.bootstrap(mesh.ports.client_sidecar);
    let pod = w.pod.as_ref().expect("pods");
    pod.command(&env::python())
        .arg(env::script("kclient.py"))
        .arg(args[0])
        .args(["--bootstrap", &bootstrap])
        .args(["--client-id", &w.identity.service_account])
        .args(&args[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a client")
}

fn summary(child: Child) -> Value {
    let out = child.wait_with_output().expect("wait for a client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().rev().find(|l| l.starts_with('{'));
    serde_json::from_str(last.unwrap_or("")).unwrap_or_else(|_| {
        json!({"failed": out.status.to_string(), "stderr": String::from_utf8_lossy(&out.stderr).lines().rev().take(5).collect::<Vec<_>>()})
    })
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn stat(mesh: &Mesh, name: &str) -> u64 {
    mesh.broker_stat(name).unwrap_or(0)
}

/// Sum of the counters `wasmcustom.meshka.<prefix>…<suffix>` in `/stats`.
fn sum_stats(mesh: &Mesh, prefix: &str, suffix: &str) -> u64 {
    let prefix = format!("wasmcustom.meshka.{prefix}");
    mesh.broker_stats()
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(n, _)| n.starts_with(&prefix) && n.ends_with(suffix))
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .sum()
}

/// One topic listing by analytics: it must show this minute's topic and no `private.*` one.
fn check_listing(
    mesh: &Mesh,
    topic: &str,
    minute: u64,
    listings: &mut u64,
    failures: &mut Vec<String>,
) {
    let lib = if listings.is_multiple_of(2) {
        "confluent"
    } else {
        "kafka-python"
    };
    let out = clients::run_app(mesh, mesh.workload(1), &["topics", "--lib", lib]);
    *listings += 1;
    let listed: Vec<&str> = out["topics"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !listed.contains(&topic) || listed.iter().any(|t| t.starts_with("private.")) {
        failures.push(format!("minute {minute}: analytics listed {listed:?}"));
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut minutes: u64 = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    let mut out_path = env::workspace().join("target/soak.json");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--minutes" => minutes = args.next().and_then(|m| m.parse().ok()).unwrap_or(minutes),
            "--out" => out_path = args.next().map(Into::into).unwrap_or(out_path),
            _ => {
                eprintln!("usage: soak [--minutes N] [--out FILE]");
                std::process::exit(2);
            }
        }
    }
    // The module is copied first: a `make filter` during the soak must not swap the filter
    // under it (each policy change reloads the module from its path).
    let pinned = env::workspace().join("target/soak-filter.wasm");
    std::fs::copy(env::wasm(), &pinned).expect("copy the filter module");
    std::env::set_var("MESHKA_WASM", &pinned);
    let start = Instant::now();
    let mut mesh = Mesh::start(MeshOptions {
        workloads: vec![
            Identity::new("shop", "orders"),
            Identity::new("bi", "analytics"),
        ],
        filter_config: policy(0),
        ..Default::default()
    });
    let direct = mesh.broker_direct();
    let admin = |topic: &str| {
        clients::run(
            &[
                "create",
                "--bootstrap",
                &direct,
                "--topic",
                topic,
                "--partitions",
                "3",
            ],
            Duration::from_secs(60),
        )
    };
    admin("soak.probe");
    admin("private.ledger");
    let count = (RATE * PRODUCE_SECONDS).to_string();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let (mut acked_total, mut verified_total, mut consumed_total, mut listings) =
        (0u64, 0u64, 0u64, 0u64);
    let sample = |mesh: &Mesh| {
        json!({
            "vm_memory_bytes": stat(mesh, "wasmcustom.meshka.vm.memory_bytes"),
            "sidecar_rss_kib": rss_kib(mesh.broker_sidecar.pid()),
            "connections_active": stat(mesh, "wasmcustom.meshka.connections.active"),
            "connections_total": stat(mesh, "wasmcustom.meshka.connections.total"),
            "requests": sum_stats(mesh, "api.", ".requests"),
            "denied": stat(mesh, "wasmcustom.meshka.api.Produce.denied"),
            "decode_errors": sum_stats(mesh, "reason.", ".decode_errors"),
            "closed_by_filter": stat(mesh, "wasmcustom.meshka.connections.closed_by_filter"),
        })
    };
    println!("minute 0 {}", sample(&mesh));
    for minute in 1..=minutes {
        let round = Instant::now();
        let topic = format!("soak.m{minute}");
        let seed = format!("soak-{minute}");
        admin(&topic);
        let producer = spawn(
            &mesh,
            0,
            &[
                "produce-keys",
                "--lib",
                "confluent",
                "--topic",
                &topic,
                "--seed",
                &seed,
                "--count",
                &count,
                "--seconds",
                &PRODUCE_SECONDS.to_string(),
                "--size",
                SIZE,
                "--idempotent",
            ],
        );
        // The previous minute's records, read back through the filter with a consumer group.
        let consumer = (minute > 1).then(|| {
            let lib = if minute.is_multiple_of(2) {
                "confluent"
            } else {
                "kafka-python"
            };
            spawn(
                &mesh,
                1,
                &[
                    "consume",
                    "--lib",
                    lib,
                    "--topic",
                    &format!("soak.m{}", minute - 1),
                    "--group",
                    &format!("analytics-{minute}"),
                    "--count",
                    &count,
                    "--timeout",
                    "50",
                ],
            )
        });
        // Metadata listings until half-time, then the policy change and its probe.
        while round.elapsed() < Duration::from_secs(25) {
            check_listing(&mesh, &topic, minute, &mut listings, &mut failures);
            std::thread::sleep(Duration::from_secs(5));
        }
        if let Err(e) = mesh.set_filter_config(&policy(minute)) {
            failures.push(format!(
                "minute {minute}: the policy change was refused: {e}"
            ));
        }
        let probe = clients::run_app(
            &mesh,
            mesh.workload(1),
            &[
                "produce",
                "--lib",
                "confluent",
                "--topic",
                "soak.probe",
                "--count",
                "3",
            ],
        );
        let may_write = minute.is_multiple_of(2);
        let probe_ok = if may_write {
            probe["delivered"] == 3
        } else {
            probe["delivered"] == 0 && probe["errors"].get("TOPIC_AUTHORIZATION_FAILED").is_some()
        };
        if !probe_ok {
            failures.push(format!(
                "minute {minute}: probe (write allowed: {may_write}) got {probe}"
            ));
        }
        while round.elapsed() < Duration::from_secs(PRODUCE_SECONDS) {
            check_listing(&mesh, &topic, minute, &mut listings, &mut failures);
            std::thread::sleep(Duration::from_secs(5));
        }
        let produced = summary(producer);
        let acked: Vec<u64> = produced["acked_keys"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let consumed = consumer.map(summary);
        let read = clients::run(
            &[
                "verify",
                "--bootstrap",
                &direct,
                "--topic",
                &topic,
                "--seed",
                &seed,
                "--size",
                SIZE,
            ],
            Duration::from_secs(120),
        );
        let found: std::collections::HashSet<u64> = read["keys"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let lost = acked.iter().filter(|k| !found.contains(k)).count();
        let (dups, altered, foreign) = (
            read["duplicates"].as_u64().unwrap_or(0),
            read["altered"].as_u64().unwrap_or(0),
            read["foreign"].as_u64().unwrap_or(0),
        );
        acked_total += acked.len() as u64;
        verified_total += read["distinct"].as_u64().unwrap_or(0);
        if acked.len() as u64 != RATE * PRODUCE_SECONDS
            || lost > 0
            || dups > 0
            || altered > 0
            || foreign > 0
            || read["complete"] != true
        {
            failures.push(format!("minute {minute}: acked {} lost {lost} duplicated {dups} altered {altered} foreign {foreign}; producer {} ",
                acked.len(), produced["errors"]));
        }
        if let Some(c) = &consumed {
            let got = c["consumed"].as_u64().unwrap_or(0);
            consumed_total += got;
            if got != RATE * PRODUCE_SECONDS {
                failures.push(format!("minute {minute}: the consumer got {c}"));
            }
        }
        // Let the minute's connections close before sampling.
        while round.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(200));
        }
        let s = sample(&mesh);
        println!(
            "minute {minute} acked {} verified {} lost {lost} dup {dups} altered {altered} consumed {} probe {} {s}",
            acked.len(),
            read["distinct"],
            consumed.as_ref().map_or(json!(null), |c| c["consumed"].clone()),
            if probe_ok { "ok" } else { "FAILED" },
        );
        rows.push(json!({"minute": minute, "acked": acked.len(), "verified": read["distinct"], "lost": lost,
                         "duplicates": dups, "altered": altered, "consumed": consumed.map(|c| c["consumed"].clone()),
                         "probe_ok": probe_ok, "sample": s}));
    }
    let memory: Vec<u64> = rows
        .iter()
        .filter_map(|r| r["sample"]["vm_memory_bytes"].as_u64())
        .collect();
    let rss: Vec<u64> = rows
        .iter()
        .filter_map(|r| r["sample"]["sidecar_rss_kib"].as_u64())
        .collect();
    // The heap settles in the first minute; after that the high-water mark must not keep rising.
    if let (Some(first), Some(last)) = (memory.first(), memory.last()) {
        if *last > first + first / 4 {
            failures.push(format!("VM memory grew from {first} to {last} bytes"));
        }
    }
    let last = rows.last().map(|r| r["sample"].clone()).unwrap_or_default();
    if last["decode_errors"].as_u64().unwrap_or(0) > 0
        || last["closed_by_filter"].as_u64().unwrap_or(0) > 0
    {
        failures.push(format!("the filter failed connections: {last}"));
    }
    let result = json!({
        "minutes": minutes, "seconds": start.elapsed().as_secs(), "records_acked": acked_total,
        "records_verified": verified_total, "records_consumed_through_filter": consumed_total,
        "metadata_listings": listings, "policy_changes": minutes,
        "vm_memory_bytes": memory, "sidecar_rss_kib": rss, "failures": failures, "rounds": rows,
    });
    let _ = std::fs::write(
        &out_path,
        serde_json::to_string_pretty(&result).unwrap_or_default(),
    );
    println!(
        "soak: {minutes} min, {acked_total} records acknowledged, {verified_total} verified byte-exact, {consumed_total} consumed through the filter, {listings} listings, {minutes} policy changes; VM memory (bytes) per minute {memory:?}; sidecar RSS (KiB) {rss:?}; {} failures{}",
        failures.len(),
        if failures.is_empty() { String::new() } else { format!(": {failures:#?}") }
    );
    println!("written to {}", out_path.display());
    if !failures.is_empty() {
        let kept = mesh.keep_logs();
        eprintln!("test bed logs kept in {}", kept.display());
        std::process::exit(1);
    }
}
