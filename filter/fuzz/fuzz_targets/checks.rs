//! The request → checks table and the synthesized denials on arbitrary bodies: errors, no panics,
//! no huge allocations (kafka-protocol pre-allocates by wire counts; the guard must stop that).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshka_policy::kafka;

fuzz_target!(|data: &[u8]| {
    let [k0, k1, v0, v1, body @ ..] = data else {
        return;
    };
    let key = i16::from_be_bytes([*k0, *k1]) % 100;
    let version = i16::from_be_bytes([*v0, *v1]) % 20;
    let _ = kafka::request_checks(key, version, body);
    let _ = kafka::deny_response(key, version, 1, body);
    let _ = kafka::clamp_api_versions(version, body);
    let _ = kafka::filter_metadata_response(version, body, &mut |_| true);
});
