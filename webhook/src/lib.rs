//! meshka's mutating admission webhook: makes Kafka pods and Services ready for an Istio mesh.
//!
//! - [`admission`]: pure functions from an `AdmissionRequest` to an `AdmissionResponse`
//!   (role detection, mutation, JSON patch);
//! - [`server`]: the HTTPS server (axum over rustls) with certificate reload and self-provisioned
//!   certificates;
//! - [`config`]: what to patch; [`metrics`]: Prometheus exposition;
//! - [`crd`]: the `KafkaPolicy` resource, its checks and the WasmPlugin it compiles to;
//!   [`controller`]: the KafkaPolicy controller; [`cli`]: `meshka validate|explain|render`;
//!   [`oci`]: packing the filter as an OCI image for `oci://` WasmPlugin URLs.

pub mod admission;
pub mod cli;
pub mod config;
pub mod controller;
pub mod crd;
pub mod metrics;
pub mod oci;
pub mod server;

pub use config::{Config, Role, Vendor};

/// Everything that can go wrong in the webhook library. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is not valid.
    #[error("invalid webhook configuration: {message}; fix the file (see webhook/README.md)")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("could not {what}: {source}; check the path and the container's permissions")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key is unusable.
    #[error(
        "TLS setup failed: {message}; provide a PEM certificate chain and its PEM private key"
    )]
    Tls {
        /// What is wrong.
        message: String,
    },
    /// Creating a certificate failed.
    #[error("could not create a certificate: {source}")]
    CertGen {
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// Talking to the Kubernetes API failed.
    #[error("Kubernetes API call failed while {what}: {source}; check the webhook's RBAC (get/update mutatingwebhookconfigurations) and that the object exists")]
    Kube {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: Box<kube::Error>,
    },
    /// Serializing the patch failed (should not happen for well-formed objects).
    #[error("could not serialize a JSON patch: {message}")]
    Patch {
        /// What is wrong.
        message: String,
    },
}
