//! The regression corpus, in `make test`: every seed (frames captured from confluent-kafka and
//! kafka-python in the test bed, `make fuzz-seeds`) and every input a fuzz target ever crashed
//! on (`filter/fuzz/regressions`) through the same target bodies cargo-fuzz runs; then what real
//! traffic must do (decode at any cut, pass the enforcer without a decoding error) and what
//! garbage must do (fail closed, sending nothing of itself or what follows).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};

use meshka_codec::session::Observe;
use meshka_codec::{Output, Session};
use meshka_fuzzing::{enforce, enforce_input, frames, frames_input, run, LIMITS, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `<fuzz>/<kind>/<target>`, sorted, with their contents.
fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

#[test]
fn every_seed_and_regression_runs_through_its_target() {
    for target in TARGETS {
        let seeds = inputs("seeds", target);
        assert!(
            !seeds.is_empty(),
            "no seeds for {target}: run `make fuzz-seeds`"
        );
        for kind in ["seeds", "regressions"] {
            for (name, data) in inputs(kind, target) {
                let outcome = std::panic::catch_unwind(|| run(target, &data));
                assert!(
                    matches!(outcome, Ok(true)),
                    "{target} crashed on {kind}/{target}/{name}"
                );
            }
        }
    }
}

/// Splits a stream of whole frames (prefix included).
fn frames_of(mut stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while stream.len() >= 4 {
        let len = i32::from_be_bytes(stream[..4].try_into().unwrap()) as usize;
        out.push(&stream[..4 + len]);
        stream = &stream[4 + len..];
    }
    assert!(stream.is_empty(), "a seed ends inside a frame");
    out
}

/// The (requests, responses) of an `enforce` seed.
fn parts(data: &[u8]) -> (&[u8], &[u8]) {
    let len = usize::from(u16::from_be_bytes([data[1], data[2]]));
    data[3..].split_at(len)
}

#[test]
fn real_client_traffic_decodes_at_every_cut() {
    let seeds = inputs("seeds", "frames");
    for (name, data) in &seeds {
        let stream = &data[1..];
        // Every cut the target's input can name (prefixes, headers, client ids)…
        for cut in 0..=u8::MAX {
            assert_eq!(
                frames(&frames_input(cut, stream)),
                None,
                "{name} cut at {cut}"
            );
        }
        // …and every 61st byte after, through an observing session directly.
        for cut in (256..stream.len()).step_by(61) {
            let mut session = Session::new(LIMITS);
            let mut hooks = Observe(|_, _| {});
            for piece in [&stream[..cut], &stream[cut..]] {
                let mut out = Output::default();
                let mut src = piece;
                session
                    .on_request_data(&mut src, 0, &mut hooks, &mut out)
                    .unwrap_or_else(|e| panic!("{name} cut at {cut}: {e}"));
                assert!(out.is_unchanged(piece.len()));
            }
            assert!(session.at_boundary(), "{name} cut at {cut}");
        }
    }
}

#[test]
fn real_client_traffic_passes_the_enforcer_and_is_decided() {
    let seeds = inputs("seeds", "enforce");
    let (mut decisions, mut allowed) = (0, 0);
    for (name, data) in &seeds {
        for cut in [0u8, 1, 4, 5, 13, 200, 255] {
            let mut input = data.clone();
            input[0] = cut;
            let run = enforce(&input);
            assert_eq!(run.request_error, None, "{name} cut {cut}");
            assert_eq!(run.response_error, None, "{name} cut {cut}");
            let (requests, responses) = parts(data);
            assert!(!run.to_broker.is_empty(), "{name}: nothing forwarded");
            assert_eq!(
                frames_of(responses).len(),
                frames_of(&run.to_client).len(),
                "{name}: every response answered in turn"
            );
            assert!(
                frames_of(&run.to_broker).len() <= frames_of(requests).len(),
                "{name}"
            );
            if cut == 0 {
                decisions += run.decisions;
                allowed += run.allowed;
            }
        }
    }
    // The seeds hold both what the fuzz policy allows (orders.* and group g for shop/orders)
    // and what it denies (payments, other groups, the cluster's topics listing).
    assert!(decisions > 50, "{decisions} decisions");
    assert!(
        allowed > 0 && allowed < decisions,
        "{allowed} of {decisions}"
    );
}

/// Damages one frame in place.
type Corrupt = fn(&mut Vec<u8>);

#[test]
fn garbage_in_real_traffic_fails_closed_and_nothing_after_it_is_sent() {
    let seeds = inputs("seeds", "enforce");
    let mut checked = 0;
    for (name, data) in &seeds {
        let (requests, responses) = parts(data);
        let frames = frames_of(requests);
        let k = frames.len() / 2;
        let before: Vec<u8> = frames[..k].concat();
        let corruptions: [(&str, Corrupt); 4] = [
            ("unknown api key", |f| {
                f[4..6].copy_from_slice(&0x7f00i16.to_be_bytes())
            }),
            ("negative length", |f| {
                f[..4].copy_from_slice(&(-2i32).to_be_bytes())
            }),
            ("version below the decodable range", |f| {
                f[6..8].copy_from_slice(&(-1i16).to_be_bytes())
            }),
            ("oversized frame", |f| {
                f[..4].copy_from_slice(&(8i32 << 20).to_be_bytes())
            }),
        ];
        for (what, corrupt) in corruptions {
            let mut bad = frames[k].to_vec();
            corrupt(&mut bad);
            let stream = [before.as_slice(), &bad, &frames[k + 1..].concat()].concat();
            for cut in [0u8, 3, 9, 255] {
                let run = enforce(&enforce_input(cut, &stream, responses).unwrap());
                assert!(
                    run.request_error.is_some(),
                    "{name}: {what} at frame {k} passed"
                );
                // What went to the broker is at most what the frames before it make.
                let good = enforce(&enforce_input(cut, &before, &[]).unwrap());
                assert!(
                    good.to_broker.starts_with(&run.to_broker),
                    "{name}: {what} at frame {k} (cut {cut}) sent bytes of or after it"
                );
                assert!(run.to_client.is_empty(), "{name}: {what}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 4 * 20, "{checked}");
}
