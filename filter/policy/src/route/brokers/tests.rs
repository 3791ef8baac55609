use bytes::Bytes;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
use kafka_protocol::messages::{
    BrokerId, DescribeClusterResponse, FindCoordinatorResponse, MetadataResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::protocol::{Decodable, Encodable};

use super::*;

fn enc<T: Encodable>(m: &T, v: i16) -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    m.encode(&mut b, v).unwrap();
    b.to_vec()
}

fn dec<T: Decodable>(b: Vec<u8>, v: i16) -> T {
    T::decode(&mut Bytes::from(b), v).unwrap()
}

fn template() -> BrokerAddress {
    BrokerAddress::parse("kafka-{node_id}.kafka-brokers.kafka.svc.cluster.local:9093").unwrap()
}

#[test]
fn hosts_come_from_the_node_id() {
    let t = template();
    assert_eq!(t.host(7), "kafka-7.kafka-brokers.kafka.svc.cluster.local");
    let keep_port = BrokerAddress::parse("b{node_id}-{node_id}").unwrap();
    assert_eq!(keep_port.host(12), "b12-12");
    assert_eq!(keep_port.port, None);
}

#[test]
fn metadata_brokers_are_rewritten_at_every_version() {
    let t = template();
    for v in ApiKey::Metadata.valid_versions().min..=ApiKey::Metadata.valid_versions().max {
        let mut r = MetadataResponse::default();
        for id in [0, 5] {
            r.brokers.push(
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(id))
                    .with_host(StrBytes::from_static_str("10.0.0.9"))
                    .with_port(9092),
            );
        }
        let out = t
            .rewrite_response(ApiKey::Metadata as i16, v, &enc(&r, v))
            .unwrap()
            .unwrap();
        let back: MetadataResponse = dec(out, v);
        let hosts: Vec<(String, i32)> = back
            .brokers
            .iter()
            .map(|b| (b.host.to_string(), b.port))
            .collect();
        assert_eq!(
            hosts,
            [
                (
                    "kafka-0.kafka-brokers.kafka.svc.cluster.local".to_string(),
                    9093
                ),
                (
                    "kafka-5.kafka-brokers.kafka.svc.cluster.local".to_string(),
                    9093
                )
            ],
            "v{v}"
        );
    }
}

#[test]
fn coordinators_are_rewritten_at_every_version_unless_not_found() {
    let t = template();
    for v in
        ApiKey::FindCoordinator.valid_versions().min..=ApiKey::FindCoordinator.valid_versions().max
    {
        let mut r = FindCoordinatorResponse::default();
        if v < 4 {
            r = r
                .with_node_id(BrokerId(3))
                .with_host(StrBytes::from_static_str("x"))
                .with_port(1);
        } else {
            r.coordinators.push(
                Coordinator::default()
                    .with_key(StrBytes::from_static_str("g"))
                    .with_node_id(BrokerId(3))
                    .with_host(StrBytes::from_static_str("x"))
                    .with_port(1),
            );
            r.coordinators.push(
                Coordinator::default()
                    .with_key(StrBytes::from_static_str("h"))
                    .with_node_id(BrokerId(-1))
                    .with_error_code(15),
            );
        }
        let out = t
            .rewrite_response(ApiKey::FindCoordinator as i16, v, &enc(&r, v))
            .unwrap()
            .unwrap();
        let back: FindCoordinatorResponse = dec(out, v);
        if v < 4 {
            assert_eq!(
                (back.host.as_str(), back.port),
                ("kafka-3.kafka-brokers.kafka.svc.cluster.local", 9093)
            );
        } else {
            assert_eq!(
                (
                    back.coordinators[0].host.as_str(),
                    back.coordinators[0].port
                ),
                ("kafka-3.kafka-brokers.kafka.svc.cluster.local", 9093)
            );
            assert_eq!(
                (
                    back.coordinators[1].host.as_str(),
                    back.coordinators[1].port
                ),
                ("", 0)
            );
        }
    }
}

#[test]
fn describe_cluster_brokers_are_rewritten() {
    let t = template();
    for v in
        ApiKey::DescribeCluster.valid_versions().min..=ApiKey::DescribeCluster.valid_versions().max
    {
        let mut r = DescribeClusterResponse::default();
        r.brokers.push(
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(2))
                .with_host(StrBytes::from_static_str("h"))
                .with_port(1),
        );
        let out = t
            .rewrite_response(ApiKey::DescribeCluster as i16, v, &enc(&r, v))
            .unwrap()
            .unwrap();
        let back: DescribeClusterResponse = dec(out, v);
        assert_eq!(
            back.brokers[0].host.as_str(),
            "kafka-2.kafka-brokers.kafka.svc.cluster.local"
        );
    }
}

#[test]
fn other_apis_and_garbage() {
    let t = template();
    assert_eq!(
        t.rewrite_response(ApiKey::Produce as i16, 9, b"\x00")
            .unwrap(),
        None
    );
    assert!(BrokerAddress::rewrites(ApiKey::Metadata as i16));
    assert!(!BrokerAddress::rewrites(ApiKey::Fetch as i16));
    let mut r = MetadataResponse::default();
    r.brokers
        .push(MetadataResponseBroker::default().with_host(StrBytes::from_static_str("h")));
    let good = enc(&r, 12);
    for cut in 0..good.len() {
        let _ = t.rewrite_response(ApiKey::Metadata as i16, 12, &good[..cut]);
    }
    assert!(t
        .rewrite_response(ApiKey::Metadata as i16, 12, &good[..good.len() - 3])
        .is_err());
}
