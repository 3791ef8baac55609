//! Any byte stream, cut anywhere, both directions: a result, never a panic, memory bounded.
//! The body is `meshka_fuzzing::frames`, which `make test` also runs on the seeds and regressions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = meshka_fuzzing::frames(data);
});
