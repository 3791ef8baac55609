//! The request → checks table and the synthesized denials on arbitrary bodies: errors, no panics,
//! no huge allocations (kafka-protocol pre-allocates by wire counts; the guard must stop that).
//! The body is `meshka_fuzzing::checks`, which `make test` also runs on the seeds and regressions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    meshka_fuzzing::checks(data);
});
