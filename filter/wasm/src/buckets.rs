//! Quota budgets in proxy-wasm shared data: one store for every worker VM of this Envoy, updated
//! with compare-and-swap, so a limit holds per sidecar whichever worker a connection landed on.

use meshka_policy::route::BucketStore;
use proxy_wasm::hostcalls;

/// The plugin's shared budgets.
pub struct SharedBuckets;

impl BucketStore for SharedBuckets {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        let (bytes, cas) = hostcalls::get_shared_data(key).ok()?;
        Some((bytes?, cas.unwrap_or(0)))
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), ()> {
        let cas = (cas != 0).then_some(cas);
        hostcalls::set_shared_data(key, Some(value), cas).map_err(|_| ())
    }
}
