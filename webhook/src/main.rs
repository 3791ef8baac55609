//! The `meshka` binary: admission webhook, KafkaPolicy controller and command line.
fn main() {}
