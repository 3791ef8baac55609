//! Hostile request and response streams through the enforcer with a real policy: never a panic,
//! never unbounded memory, whatever the bytes.
//! The body is `meshka_fuzzing::enforce`, which `make test` also runs on the seeds and regressions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = meshka_fuzzing::enforce(data);
});
