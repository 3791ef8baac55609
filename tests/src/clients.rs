//! Real Kafka clients, written by others: `confluent-kafka` (librdkafka) and `kafka-python`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::env;
use crate::mesh::{Mesh, Workload};
use crate::netns::Pod;

/// The Python client library a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    Confluent,
    KafkaPython,
}

impl Library {
    pub fn arg(self) -> &'static str {
        match self {
            Library::Confluent => "confluent",
            Library::KafkaPython => "kafka-python",
        }
    }
}

/// Runs `tests/python/kclient.py <args>` and returns the JSON summary it prints last. Panics
/// with its output when it fails or overruns `timeout`.
pub fn run(args: &[&str], timeout: Duration) -> Value {
    run_in(None, args, timeout)
}

/// Runs the client as the app of `workload` (inside its pod when it has one).
pub fn run_as(workload: &Workload, args: &[&str], timeout: Duration) -> Value {
    run_in(workload.pod.as_ref(), args, timeout)
}

fn run_in(pod: Option<&Pod>, args: &[&str], timeout: Duration) -> Value {
    let mut cmd = match pod {
        Some(pod) => pod.command(&env::python()),
        None => Command::new(env::python()),
    };
    let mut child = cmd
        .arg(env::script("kclient.py"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python client");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    let Some(status) = status else {
        panic!("client {args:?} ran over {timeout:?}\nstdout:\n{out}\nstderr:\n{err}");
    };
    assert!(
        status.success(),
        "client {args:?} failed ({status})\nstdout:\n{out}\nstderr:\n{err}"
    );
    let last = out.lines().rev().find(|l| l.starts_with('{')).unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("client printed no JSON summary ({e})\nstdout:\n{out}\nstderr:\n{err}")
    })
}

/// Runs the client as `w`'s app through its sidecar: `args[0]` is the subcommand, then
/// `--bootstrap` (the sidecar) and `--client-id` (the service account) are added.
pub fn run_app(mesh: &Mesh, w: &Workload, args: &[&str]) -> Value {
    let bootstrap = w.bootstrap(mesh.ports.client_sidecar);
    let mut full = vec![
        args.first().copied().unwrap_or("topics"),
        "--bootstrap",
        &bootstrap,
        "--client-id",
        &w.identity.service_account,
    ];
    full.extend(args.iter().skip(1));
    run_as(w, &full, Duration::from_secs(120))
}

/// Runs the client as an operator straight on the broker: no sidecar, no filter.
pub fn run_direct(mesh: &Mesh, args: &[&str]) -> Value {
    let bootstrap = mesh.broker_direct();
    let mut full = vec![
        args.first().copied().unwrap_or("topics"),
        "--bootstrap",
        &bootstrap,
    ];
    full.extend(args.iter().skip(1));
    run(&full, Duration::from_secs(120))
}

/// Creates `topic` straight on the broker; panics unless the broker then lists it.
pub fn create_direct(mesh: &Mesh, topic: &str, partitions: u32) -> Value {
    let out = run_direct(
        mesh,
        &[
            "create",
            "--topic",
            topic,
            "--partitions",
            &partitions.to_string(),
        ],
    );
    assert!(
        out["listed"]
            .as_array()
            .is_some_and(|l| l.iter().any(|t| t == topic)),
        "{out}"
    );
    out
}
