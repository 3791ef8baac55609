//! Turns connections captured from real clients (`make fuzz-seeds`: the test bed's relay writes
//! `conn-NNNN.c2s` and `conn-NNNN.s2c` per connection) into seed inputs for every fuzz target:
//!
//! - `frames/`: each connection's first request frames, cut inside the first frame;
//! - `enforce/`: the same requests with the broker's responses to them;
//! - `checks/`: every distinct request body and the ApiVersions and Metadata response bodies,
//!   with their api key and version;
//! - `config/`: the plugin configurations the repository's tests and docs use.
//!
//! Usage: `seeds <capture dir> <seeds dir>`; the seeds dir's target subdirectories are replaced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use meshka_codec::api::Api;
use meshka_codec::head::parse_request;

/// Most bytes of requests per connection seed (the `enforce` target's length field is a u16, and
/// seeds stay small).
const MAX_REQUESTS: usize = 12 * 1024;
/// Most bytes of responses per `enforce` seed (each is held whole, below `maxHoldBytes`).
const MAX_RESPONSES: usize = 24 * 1024;

fn frames_of(stream: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut rest = stream;
    while let Some(prefix) = rest.first_chunk::<4>() {
        let Ok(len) = usize::try_from(i32::from_be_bytes(*prefix)) else {
            break;
        };
        let Some(frame) = rest.get(..4 + len) else {
            break;
        };
        frames.push(frame);
        rest = &rest[4 + len..];
    }
    frames
}

fn fnv(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

fn clean(s: &[u8]) -> String {
    String::from_utf8_lossy(s)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(24)
        .collect()
}

struct Writer {
    root: PathBuf,
    count: BTreeMap<&'static str, (usize, usize)>,
}

impl Writer {
    fn write(&mut self, target: &'static str, name: &str, data: &[u8]) {
        let path = self
            .root
            .join(target)
            .join(format!("{name}-{:08x}", fnv(data)));
        if path.exists() {
            return;
        }
        std::fs::write(&path, data).expect("write a seed");
        let c = self.count.entry(target).or_default();
        c.0 += 1;
        c.1 += data.len();
    }
}

/// The configurations the tests and docs use, as seeds for `config`.
const CONFIGS: [&str; 6] = [
    r#"{}"#,
    r#"{"maxFrameBytes": 52428800, "failureMode": "closed"}"#,
    r#"{"maxFrameBytes": 65536, "failureMode": "open", "maxInFlight": 100, "maxHoldBytes": 1048576, "maxHeaderBytes": 64, "logConnections": false, "logAllowedEvery": 3, "closeOnDeniedAcksZero": true, "maxTopicMetrics": 5}"#,
    r#"{"logAllowedEvery": 1, "authorization": {"mode": "enforce", "defaultAction": "deny", "rules": [
        {"name": "orders-writes-orders", "action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Write"],
         "resources": [{"type": "topic", "name": "orders.", "patternType": "prefixed"}]},
        {"name": "orders-reads-payments", "action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Read"],
         "resources": [{"type": "topic", "name": "payments"}, {"type": "group", "name": "orders-", "patternType": "prefixed"}]},
        {"name": "analytics-reads-orders", "action": "allow", "serviceAccounts": ["bi/analytics"], "operations": ["Read"],
         "resources": [{"type": "topic", "name": "orders.", "patternType": "prefixed"},
                       {"type": "group", "name": "analytics-", "patternType": "prefixed"}]}]}}"#,
    r#"{"authorization": {"mode": "audit", "rules": [
        {"action": "deny", "namespaces": ["bi"], "operations": ["All"], "resources": [{"type": "topic", "name": "secrets"}]},
        {"action": "allow", "users": ["User:alice"], "operations": ["Describe", "Read"], "resources": [{"type": "cluster", "name": "kafka-cluster"}]}]}}"#,
    meshka_fuzzing::POLICY,
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (capture, root) = match args.as_slice() {
        [_, capture, root] => (Path::new(capture), PathBuf::from(root)),
        _ => {
            eprintln!("usage: seeds <capture dir> <seeds dir>");
            std::process::exit(2);
        }
    };
    for target in meshka_fuzzing::TARGETS {
        let dir = root.join(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a seeds dir");
    }
    let mut w = Writer {
        root,
        count: BTreeMap::new(),
    };
    let mut conns: Vec<PathBuf> = std::fs::read_dir(capture)
        .expect("read the capture dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "c2s"))
        .collect();
    conns.sort();
    let mut bodies = BTreeMap::<(i16, i16), Vec<Vec<u8>>>::new();
    for c2s in &conns {
        let requests = std::fs::read(c2s).expect("read a capture");
        let responses = std::fs::read(c2s.with_extension("s2c")).unwrap_or_default();
        let (requests, responses) = (frames_of(&requests), frames_of(&responses));
        let conn = c2s.file_stem().map(|s| s.to_string_lossy().into_owned());
        let conn = conn.unwrap_or_default();
        let mut client = String::from("none");
        // The connection's first requests (whole frames), and how many responses they expect.
        let (mut stream, mut expected) = (Vec::new(), Vec::new());
        let mut heads = Vec::new();
        for frame in &requests {
            let body = &frame[4..];
            let Ok(Some(head)) = parse_request(body, body.len()) else {
                eprintln!("{conn}: a request the filter does not decode; skipped");
                break;
            };
            if let Some(id) = head.client_id {
                client = clean(id);
            }
            let key = (head.api.key(), head.api_version);
            let same = bodies.entry(key).or_default();
            let b = body[head.header_len..].to_vec();
            if same.len() < 3 && !same.contains(&b) {
                same.push(b);
            }
            heads.push((head.api, head.api_version, head.expects_response()));
            if stream.len() + frame.len() <= MAX_REQUESTS {
                stream.extend_from_slice(frame);
                if head.expects_response() {
                    expected.push(head.correlation_id);
                }
            }
        }
        if stream.is_empty() {
            continue;
        }
        let name = format!("{client}-{conn}");
        // Cut inside the first frame's header: the codec must resume mid-field.
        w.write("frames", &name, &meshka_fuzzing::frames_input(7, &stream));
        // The responses to those requests, in order. tansu also answers Produce with acks=0,
        // which a Kafka broker does not (and the filter refuses as unasked): those are left out.
        let cid = |f: &[u8]| {
            f.get(4..8)
                .map(|b| i32::from_be_bytes(b.try_into().unwrap()))
        };
        let mut back = Vec::new();
        let mut answers = responses
            .iter()
            .filter(|f| cid(f).is_some_and(|c| expected.contains(&c)));
        for (want, frame) in expected.iter().zip(answers.by_ref()) {
            if cid(frame) != Some(*want) || back.len() + frame.len() > MAX_RESPONSES {
                break;
            }
            back.extend_from_slice(frame);
        }
        if let Some(input) = meshka_fuzzing::enforce_input(9, &stream, &back) {
            w.write("enforce", &name, &input);
        }
        // Response bodies for the response rewriters the `checks` target runs.
        let answered = heads.iter().filter(|(_, _, expects)| *expects);
        let real = responses
            .iter()
            .filter(|f| cid(f).is_some_and(|c| expected.contains(&c)));
        for ((api, version, _), frame) in answered.zip(real) {
            if !matches!(api.name(), "ApiVersions" | "Metadata") {
                continue;
            }
            let header = if api.name() == "ApiVersions" {
                4
            } else {
                4 + usize::from(api.response_header_version(*version) >= 1)
            };
            let Some(body) = frame.get(4 + header..) else {
                continue;
            };
            let input = meshka_fuzzing::checks_input(api.key(), *version, body);
            w.write(
                "checks",
                &format!("response-{}-v{version}", api.name()),
                &input,
            );
        }
    }
    for ((key, version), list) in &bodies {
        let api = Api::from_key(*key).map_or("unknown", Api::name);
        for body in list {
            let input = meshka_fuzzing::checks_input(*key, *version, body);
            w.write("checks", &format!("request-{api}-v{version}"), &input);
        }
    }
    for (i, config) in CONFIGS.iter().enumerate() {
        w.write("config", &format!("config-{i}"), config.as_bytes());
    }
    for (target, (files, bytes)) in &w.count {
        println!("{target}: {files} seeds, {bytes} bytes");
    }
}
