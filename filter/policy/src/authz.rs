//! Per-resource authorization of Kafka requests, host-independent.
//!
//! [`AuthorizationPolicy`] is the configuration (serde, shared with the controller);
//! [`AuthorizationPolicy::validate`] reports every problem with the field that has it;
//! [`AuthorizationPolicy::compile`] builds a [`CompiledPolicy`] whose
//! [`decide`](CompiledPolicy::decide) answers with Kafka's `StandardAuthorizer` semantics
//! (deny wins, implied operations, a default when no rule matches) for a [`Principal`].
//! The reference is `filter/policy/AUTHORIZATION.md`.

pub mod compile;
pub mod decide;
pub mod pattern;
pub mod principal;
pub mod types;
pub mod validate;

pub use compile::CompiledPolicy;
pub use decide::{BoundPrincipal, Decision, Reason};
pub use principal::{parse_spiffe_id, Principal, PrincipalParseError, SpiffeError, SpiffeId};
pub use types::{
    Action, AuthorizationPolicy, Mode, Operation, PatternType, ResourcePattern, ResourceType, Rule,
    CLUSTER_NAME,
};
pub use validate::{ValidationError, ValidationErrors};

#[cfg(test)]
mod tests;
