//! The plugin configuration parser on arbitrary input: a config or an error naming the field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshka_policy::config::FilterConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = FilterConfig::from_json(data) {
        if let Some(authz) = &config.authorization {
            let _ = authz.compile();
        }
    }
});
