//! Kafka wire framing and request/response header decoding, incremental and total.
