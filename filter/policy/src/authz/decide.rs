//! Decisions: [`CompiledPolicy::decide`] with Kafka's semantics — a matching deny (on the
//! operation or `All`) wins; otherwise a matching allow (on the operation, `All`, or an operation
//! that implies it); otherwise the default action. Audit mode decides the same and marks the
//! decision as not enforced.

use super::compile::CompiledPolicy;
use super::principal::Principal;
use super::types::{Action, Mode, Operation, ResourceType};

/// A [`Principal`] with the rules of one [`CompiledPolicy`] that its subjects match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundPrincipal {
    principal: Principal,
    policy_id: u64,
    matched: Vec<u64>,
}

impl BoundPrincipal {
    /// The principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Whether this binding was made by `policy` (or a clone of it).
    pub fn is_bound_to(&self, policy: &CompiledPolicy) -> bool {
        self.policy_id == policy.id
    }
}

/// Why a decision came out as it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A deny rule matched (`Decision::rule` names it).
    DenyRule,
    /// No deny rule matched and an allow rule did (`Decision::rule` names it).
    AllowRule,
    /// No rule matched; the policy's `defaultAction` decided.
    Default,
}

impl Reason {
    /// `deny_rule`, `allow_rule`, `default`: for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::DenyRule => "deny_rule",
            Reason::AllowRule => "allow_rule",
            Reason::Default => "default",
        }
    }
}

/// The outcome of one authorization check. Serializes (camelCase) for JSON decision logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// What the policy says.
    pub allowed: bool,
    /// False in audit mode: the filter forwards the request whatever `allowed` says.
    pub enforced: bool,
    /// The index in `rules` of the rule that decided (the lowest matching one); `None` when
    /// the default action decided.
    pub rule: Option<usize>,
    /// Why.
    pub reason: Reason,
}

impl Decision {
    /// Whether the filter lets the request through: allowed, or not enforced (audit).
    pub fn permits(&self) -> bool {
        self.allowed || !self.enforced
    }

    /// A denial that audit mode let through: log it as "would deny".
    pub fn would_deny(&self) -> bool {
        !self.allowed && !self.enforced
    }
}

impl std::fmt::Display for Decision {
    /// `allow by rules[2]`, `deny by default`, `deny by rules[0] (audit: not enforced)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.allowed { "allow" } else { "deny" })?;
        match self.rule {
            Some(rule) => write!(f, " by rules[{rule}]")?,
            None => f.write_str(" by default")?,
        }
        if !self.enforced {
            f.write_str(" (audit: not enforced)")?;
        }
        Ok(())
    }
}

impl CompiledPolicy {
    /// Decides whether `principal` may perform `operation` on the resource `name` of
    /// `resource_type` (for the cluster resource, `name` is `kafka-cluster`). Never panics and
    /// allocates nothing.
    pub fn decide(
        &self,
        principal: &Principal,
        resource_type: ResourceType,
        name: &str,
        operation: Operation,
    ) -> Decision {
        self.decide_with(resource_type, name, operation, |rule| {
            self.subjects
                .get(rule)
                .is_some_and(|s| s.matches(principal))
        })
    }

    /// Like [`decide`](Self::decide) for a principal bound with [`bind`](Self::bind): the
    /// subject matching was done once. A principal bound to another policy (an older
    /// configuration) is matched afresh, so a stale binding can never decide.
    pub fn decide_bound(
        &self,
        bound: &BoundPrincipal,
        resource_type: ResourceType,
        name: &str,
        operation: Operation,
    ) -> Decision {
        if !bound.is_bound_to(self) {
            return self.decide(&bound.principal, resource_type, name, operation);
        }
        self.decide_with(resource_type, name, operation, |rule| {
            bound
                .matched
                .get(rule / 64)
                .is_some_and(|word| word & (1u64 << (rule % 64)) != 0)
        })
    }

    /// Precomputes which rules' subjects `principal` matches, for
    /// [`decide_bound`](Self::decide_bound): do it once per connection (and again after a
    /// policy change, or let `decide_bound` fall back).
    pub fn bind(&self, principal: Principal) -> BoundPrincipal {
        let mut matched = vec![0u64; self.subjects.len().div_ceil(64)];
        for (rule, subjects) in self.subjects.iter().enumerate() {
            if subjects.matches(&principal) {
                if let Some(word) = matched.get_mut(rule / 64) {
                    *word |= 1u64 << (rule % 64);
                }
            }
        }
        BoundPrincipal {
            principal,
            policy_id: self.id,
            matched,
        }
    }

    fn decide_with(
        &self,
        resource_type: ResourceType,
        name: &str,
        operation: Operation,
        mut subject: impl FnMut(usize) -> bool,
    ) -> Decision {
        let enforced = self.mode == Mode::Enforce;
        if let Some(table) = self.table(resource_type, operation) {
            if let Some(rule) = table.deny.first_match(name, &mut subject) {
                return Decision {
                    allowed: false,
                    enforced,
                    rule: Some(rule),
                    reason: Reason::DenyRule,
                };
            }
            if let Some(rule) = table.allow.first_match(name, &mut subject) {
                return Decision {
                    allowed: true,
                    enforced,
                    rule: Some(rule),
                    reason: Reason::AllowRule,
                };
            }
        }
        Decision {
            allowed: self.default_action == Action::Allow,
            enforced,
            rule: None,
            reason: Reason::Default,
        }
    }

    /// Whether any rule could allow `operation` on some resource of `resource_type` (for
    /// anyone): lets the filter skip per-name checks, e.g. when nothing can grant a type.
    pub fn has_rules_for(&self, resource_type: ResourceType, operation: Operation) -> bool {
        self.table(resource_type, operation)
            .is_some_and(|t| !t.deny.is_empty() || !t.allow.is_empty())
    }
}
