//! Broker address rewriting: the host and port a broker advertises, replaced in Metadata,
//! FindCoordinator and DescribeCluster responses by a mesh-routable name built from its node id.

use kafka_protocol::messages::ApiKey;

use crate::kafka::{self, field, Edits, KafkaError, Node};

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

    /// The host and port of the broker (or coordinator) `b`, whose id is its field `id`.
    fn apply(&self, edits: &mut Edits, b: &Node<'_>, id: u16) {
        let node_id = i32::try_from(b.int(id)).unwrap_or(-1);
        if let Some((_, span)) = b.string(field::HOST) {
            edits.rename(span, &self.host(node_id));
        }
        if let (Some(port), Some(span)) = (self.port, b.int_span(field::PORT)) {
            edits.int(span, port.into());
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
        let (brokers, id) = match key {
            ApiKey::Metadata => (field::BROKERS, field::NODE_ID),
            ApiKey::FindCoordinator => (field::COORDINATORS, field::NODE_ID),
            ApiKey::DescribeCluster => (field::BROKERS, field::BROKER_ID),
            _ => return Ok(None),
        };
        let r = kafka::decode_response(key, version, body)?;
        let mut edits = Edits::default();
        // A coordinator that could not be found has node id -1 and an empty host: keep it.
        let found = |b: &Node<'_>| key != ApiKey::FindCoordinator || b.int(field::NODE_ID) >= 0;
        if key == ApiKey::FindCoordinator && version < 4 && found(&r) {
            self.apply(&mut edits, &r, field::NODE_ID);
        }
        for b in r.nodes(brokers).filter(|b| found(b)) {
            self.apply(&mut edits, b, id);
        }
        edits.apply(body, "response", version).map(Some)
    }
}

#[cfg(test)]
mod tests;
