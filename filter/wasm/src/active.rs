//! The configuration every connection of this VM uses *now*.
//!
//! Istio delivers a changed `pluginConfig` through ECDS: Envoy configures a new plugin instance
//! for new connections, and connections already open keep the old one. Kafka connections live
//! for hours, so a revocation must reach them too: every plugin instance of the VM publishes its
//! configuration here, and every connection reads it per callback. One VM runs per Envoy worker,
//! and each worker's VM is configured with the same updates.

use std::cell::RefCell;
use std::rc::Rc;

use meshka_policy::authz::CompiledPolicy;
use meshka_policy::config::FilterConfig;

/// A configuration with its compiled policy.
pub struct Active {
    /// Increases with every configuration the VM accepted.
    pub generation: u64,
    pub config: FilterConfig,
    pub policy: Option<CompiledPolicy>,
}

thread_local! {
    static ACTIVE: RefCell<Option<Rc<Active>>> = const { RefCell::new(None) };
}

/// Makes `config` the one every connection uses from its next callback on.
pub fn publish(config: FilterConfig, policy: Option<CompiledPolicy>) -> u64 {
    ACTIVE.with(|a| {
        let mut a = a.borrow_mut();
        let generation = a.as_ref().map_or(1, |old| old.generation + 1);
        *a = Some(Rc::new(Active {
            generation,
            config,
            policy,
        }));
        generation
    })
}

/// The configuration in force.
pub fn current() -> Option<Rc<Active>> {
    ACTIVE.with(|a| a.borrow().clone())
}
