//! meshka's test bed: a real mesh on one machine.
//!
//! A real Kafka-protocol broker (tansu), a broker-side Envoy shaped like an Istio inbound sidecar
//! (mTLS required, the meshka filter, `tcp_proxy`), a client-side Envoy shaped like an outbound
//! sidecar (plaintext for the app, mTLS with the workload's SPIFFE certificate upstream), and real
//! Kafka clients. Everything listens on 127.0.0.1 with free ports and stops on drop; logs are
//! kept when a test fails.

pub mod admin;
pub mod broker;
pub mod clients;
pub mod env;
pub mod envoy;
pub mod mesh;
pub mod netns;
pub mod pki;
pub mod process;
pub mod relay;
pub mod restart;

pub use mesh::{Mesh, MeshOptions};
pub use pki::Identity;
