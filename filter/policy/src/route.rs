//! Per-topic routing, the Kafka way: through names and metadata (a network filter cannot pick
//! an upstream per request). Topic virtualization and tenants rewrite the names in requests and
//! map them back in responses; broker addresses in Metadata, FindCoordinator and DescribeCluster
//! responses are rewritten to mesh-routable names; produce and fetch byte rates are limited
//! through `throttle_time_ms`.

pub mod brokers;
pub mod config;
pub mod fetch;
pub mod names;
pub mod rewrite;
pub mod tenant;
pub mod throttle;

pub use brokers::BrokerAddress;
pub use config::{Quota, QuotaScope, RoutingConfig, Tenant, TopicRoute};
pub use names::{ClientName, NameKind, NameMap};
pub use tenant::CompiledTenant;
pub use throttle::{BucketStore, CompiledQuotas};

use crate::authz::{Principal, ValidationError, ValidationErrors};

/// Routing compiled once per configuration.
#[derive(Debug, Clone, Default)]
pub struct CompiledRouting {
    tenants: Vec<CompiledTenant>,
    broker_address: Option<BrokerAddress>,
    quotas: Option<CompiledQuotas>,
}

impl CompiledRouting {
    /// Validates and compiles `config`; every problem is reported with its path under `path`
    /// (`routing` in the plugin configuration, `spec.routing` in a KafkaPolicy).
    pub fn new(config: &RoutingConfig, path: &str) -> Result<CompiledRouting, ValidationErrors> {
        let mut errors = Vec::new();
        let mut tenants = Vec::new();
        for (i, tenant) in config.tenants.iter().enumerate() {
            let at = format!("{path}.tenants[{i}]");
            if config.tenants.iter().take(i).any(|t| t.name == tenant.name) {
                errors.push(ValidationError::Invalid {
                    path: format!("{at}.name"),
                    reason: format!("another tenant is already named {:?}: names label logs and metrics, give each its own", tenant.name),
                });
            }
            if let Some(t) = CompiledTenant::new(tenant, &at, &mut errors) {
                tenants.push(t);
            }
        }
        let broker_address = match config.broker_address.as_deref().map(BrokerAddress::parse) {
            None => None,
            Some(Ok(b)) => Some(b),
            Some(Err(reason)) => {
                errors.push(ValidationError::Invalid {
                    path: format!("{path}.brokerAddress"),
                    reason,
                });
                None
            }
        };
        let quotas = match CompiledQuotas::new(&config.quotas, &format!("{path}.quotas")) {
            Ok(q) => (!q.is_empty()).then_some(q),
            Err(e) => {
                errors.extend(e.0);
                None
            }
        };
        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        Ok(CompiledRouting {
            tenants,
            broker_address,
            quotas,
        })
    }

    /// The index of the tenant `principal` belongs to: the first whose subjects match.
    pub fn tenant_of(&self, principal: &Principal) -> Option<usize> {
        self.tenants.iter().position(|t| t.covers(principal))
    }

    /// A tenant by index.
    pub fn tenant(&self, index: usize) -> Option<&CompiledTenant> {
        self.tenants.get(index)
    }

    /// Byte-rate limits and read-only topics, if any.
    pub fn quotas(&self) -> Option<&CompiledQuotas> {
        self.quotas.as_ref()
    }

    /// Where clients are told to find brokers, if rewritten.
    pub fn broker_address(&self) -> Option<&BrokerAddress> {
        self.broker_address.as_ref()
    }
}

#[cfg(test)]
mod tests;
