//! The test bed: processes, certificates and Envoy configurations for end-to-end tests.
