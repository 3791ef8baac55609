//! The filter configuration: types (shared with the controller), validation and decisions.

pub mod authz;
pub mod config;
pub mod enforce;
pub mod kafka;
pub mod route;
pub mod sasl;
