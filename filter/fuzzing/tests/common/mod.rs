//! Helpers shared by the fuzzing crate's test binaries.
pub mod heap;
