//! Broker address rewriting: the host and port a broker advertises, replaced in Metadata,
//! FindCoordinator and DescribeCluster responses by a mesh-routable name built from its node id.

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, DescribeClusterResponse, FindCoordinatorResponse, MetadataResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::kafka::{decode, encode, guard_response, KafkaError};

const NODE_ID: &str = "{node_id}";

/// A compiled `brokerAddress` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    /// The host with `{node_id}` placeholders, split around them.
    host_parts: Vec<Box<str>>,
    port: Option<i32>,
}

impl BrokerAddress {
    /// Parses `host[:port]` with `{node_id}` in the host; the error says what to write.
    pub fn parse(template: &str) -> Result<BrokerAddress, String> {
        let (host, port) = match template.rsplit_once(':') {
            Some((host, port)) if !port.contains('}') => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{port:?} is not a port: give 1..65535 after the ':' or leave the port out to keep the broker's"))?;
                (host, Some(i32::from(port)))
            }
            _ => (template, None),
        };
        if host.is_empty() {
            return Err("the host is empty: give e.g. kafka-{node_id}.kafka-brokers.kafka.svc.cluster.local:9092".into());
        }
        let rest = host.replace(NODE_ID, "");
        if rest.contains('{') || rest.contains('}') {
            return Err(format!(
                "{host:?} has a placeholder other than {NODE_ID}, the only one there is"
            ));
        }
        if !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Err(format!(
                "{host:?} is not a DNS name: use letters, digits, '.', '-' and {NODE_ID}"
            ));
        }
        if !host.contains(NODE_ID) {
            // One name for every broker would send each client to whichever broker answers it,
            // and partition leadership would break.
            return Err(format!(
                "{host:?} has no {NODE_ID}: every broker needs its own address"
            ));
        }
        Ok(BrokerAddress {
            host_parts: host.split(NODE_ID).map(Box::from).collect(),
            port,
        })
    }

    /// The host for one broker.
    pub fn host(&self, node_id: i32) -> String {
        let id = node_id.to_string();
        let mut host = String::new();
        for (i, part) in self.host_parts.iter().enumerate() {
            if i > 0 {
                host.push_str(&id);
            }
            host.push_str(part);
        }
        host
    }

    fn apply(&self, node_id: i32, host: &mut StrBytes, port: &mut i32) {
        *host = StrBytes::from_string(self.host(node_id));
        if let Some(p) = self.port {
            *port = p;
        }
    }

    /// Whether responses of this api carry broker addresses.
    pub fn rewrites(api_key: i16) -> bool {
        [
            ApiKey::Metadata,
            ApiKey::FindCoordinator,
            ApiKey::DescribeCluster,
        ]
        .iter()
        .any(|k| *k as i16 == api_key)
    }

    /// The response body with every broker address rewritten; `Ok(None)` for other apis.
    pub fn rewrite_response(
        &self,
        api_key: i16,
        version: i16,
        body: &[u8],
    ) -> Result<Option<Vec<u8>>, KafkaError> {
        let Ok(key) = ApiKey::try_from(api_key) else {
            return Ok(None);
        };
        let bytes = &Bytes::copy_from_slice(body);
        let encoded = match key {
            ApiKey::Metadata => {
                guard_response(key, version, bytes)?;
                let mut r: MetadataResponse = decode("MetadataResponse", bytes, version)?;
                for b in &mut r.brokers {
                    self.apply(b.node_id.0, &mut b.host, &mut b.port);
                }
                encode("MetadataResponse", &r, version)?
            }
            ApiKey::FindCoordinator => {
                guard_response(key, version, bytes)?;
                let mut r: FindCoordinatorResponse =
                    decode("FindCoordinatorResponse", bytes, version)?;
                // A coordinator that could not be found has node id -1 and an empty host: keep it.
                if version < 4 && r.node_id.0 >= 0 {
                    self.apply(r.node_id.0, &mut r.host, &mut r.port);
                }
                for c in &mut r.coordinators {
                    if c.node_id.0 >= 0 {
                        self.apply(c.node_id.0, &mut c.host, &mut c.port);
                    }
                }
                encode("FindCoordinatorResponse", &r, version)?
            }
            ApiKey::DescribeCluster => {
                guard_response(key, version, bytes)?;
                let mut r: DescribeClusterResponse =
                    decode("DescribeClusterResponse", bytes, version)?;
                for b in &mut r.brokers {
                    self.apply(b.broker_id.0, &mut b.host, &mut b.port);
                }
                encode("DescribeClusterResponse", &r, version)?
            }
            _ => return Ok(None),
        };
        Ok(Some(encoded))
    }
}

#[cfg(test)]
mod tests;
