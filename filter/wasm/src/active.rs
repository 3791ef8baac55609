//! The configuration every connection of this VM uses *now*.
//!
//! Istio delivers a changed `pluginConfig` through ECDS: Envoy configures a new plugin instance
//! for new connections, and connections already open keep the old one. Kafka connections live
//! for hours, so a revocation must reach them too: every plugin instance of the VM publishes its
//! configuration here, under its plugin name, and every connection reads the one of its plugin
//! per callback. One VM runs per Envoy worker, and each worker's VM is configured with the same
//! updates. Keyed by name because Envoy shares one VM between plugins that load the same module
//! (two `WasmPlugin`s, i.e. two KafkaPolicies, must not see each other's rules).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use meshka_policy::authz::CompiledPolicy;
use meshka_policy::config::FilterConfig;
use meshka_policy::route::CompiledRouting;

/// A configuration with its compiled policy.
pub struct Active {
    /// Increases with every configuration the VM accepted.
    pub generation: u64,
    pub config: FilterConfig,
    /// The authorization policy; allow-all when only routing is configured (routing needs every
    /// request decoded, and the enforcer is what decodes them).
    pub policy: Option<CompiledPolicy>,
    pub routing: Option<CompiledRouting>,
}

thread_local! {
    static ACTIVE: RefCell<HashMap<String, Rc<Active>>> = RefCell::new(HashMap::new());
}

/// Makes `config` the one every connection of plugin `name` uses from its next callback on.
pub fn publish(
    name: &str,
    config: FilterConfig,
    policy: Option<CompiledPolicy>,
    routing: Option<CompiledRouting>,
) -> u64 {
    ACTIVE.with(|a| {
        let mut a = a.borrow_mut();
        let generation = a.get(name).map_or(1, |old| old.generation + 1);
        let active = Active {
            generation,
            config,
            policy,
            routing,
        };
        a.insert(name.to_string(), Rc::new(active));
        generation
    })
}

/// The configuration in force for plugin `name`.
pub fn current(name: &str) -> Option<Rc<Active>> {
    ACTIVE.with(|a| a.borrow().get(name).cloned())
}
