//! The plugin configuration parser on arbitrary input: a config or an error naming the field.
//! The body is `meshka_fuzzing::config`, which `make test` also runs on the seeds and regressions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    meshka_fuzzing::config(data);
});
