//! Per-topic byte-rate limits and read-only topics (`routing.quotas`), signalled the Kafka way.
//!
//! - [`CompiledQuotas`] validates and compiles the quotas; [`CompiledQuotas::read_only`] says
//!   whether a write is denied, [`CompiledQuotas::budgets`] which budgets a produce or fetch
//!   charges.
//! - [`produce_bytes`] / [`fetch_bytes`] measure the record bytes per topic of a Produce request
//!   or a Fetch response by walking the message and skipping each record batch by its length
//!   (no batch is decoded, nothing is copied).
//! - [`charge`] charges a budget kept in a [`BucketStore`] and answers the throttle time;
//!   [`raise_throttle_time`] (or [`throttle_time_offset`] to patch the host's buffer in place)
//!   puts it into the response's `throttle_time_ms`, which well-behaved clients honour by not
//!   sending to that broker for that long (KIP-219).
//!
//! ## The budget: a token bucket with debt
//!
//! Each budget is a bucket of `rate` bytes per second holding at most one second of bytes
//! ([`BURST_MS`]): an idle caller may send a one-second burst at once. Every charge takes its
//! bytes, possibly driving the bucket below zero; the throttle time is how long the refill takes
//! to pay the debt back (`debt / rate`). A client that waits that long before sending again finds
//! the bucket at zero, so over any stretch longer than the burst it moves `rate` bytes per
//! second, whatever its batch size and however many requests it keeps in flight (each response
//! carries the whole debt, not a share). The debt is capped at [`MAX_THROTTLE_MS`] of refill, so
//! one huge batch never locks a caller out for long, and throttle times never exceed it.
//!
//! Kafka's broker instead measures the rate over a sliding window (11 one-second samples) and
//! answers `(observed - limit) / limit * window`; the token bucket reaches the same steady state
//! with 16 bytes of state per budget and no window bookkeeping.
//!
//! Tokens are kept in milli-bytes, so small rates refill exactly however often they are charged;
//! all arithmetic is widened to `i128` and clamped.
//!
//! ## Several worker VMs
//!
//! Envoy runs one VM per worker thread; connections from one client may land on different
//! workers. Budgets live in proxy-wasm shared data, which all VMs of a plugin on one Envoy share:
//! each charge reads the bucket, computes the new one and writes it back with compare-and-swap,
//! retrying up to [`CAS_ATTEMPTS`] times when another worker wrote in between. Limits are thus
//! exact per Envoy (per sidecar — the broker's). Losing [`CAS_ATTEMPTS`] races in a row drops that
//! one charge (the caller still gets the throttle time it computed), which needs heavy contention
//! on a single budget. Across sidecars nothing is shared: with one sidecar per broker, a limit is
//! per broker, as Kafka's own quotas are.

use std::collections::HashMap;

use kafka_protocol::messages::ApiKey;

use super::config::{Quota, QuotaScope};
use crate::authz::compile::Subjects;
use crate::authz::pattern::{Pattern, PatternError};
use crate::authz::validate::{validate_subjects, ValidationError, MAX_TOPIC_NAME_LEN};
use crate::authz::{Principal, ValidationErrors};
use crate::kafka::{api, KafkaError, Resource};

#[cfg(test)]
mod tests;

/// The burst an idle budget allows: one second of its rate.
pub const BURST_MS: u64 = 1000;
/// The longest throttle time answered (and the most debt a budget keeps, in time to repay).
pub const MAX_THROTTLE_MS: u32 = 30_000;
/// Compare-and-swap attempts per charge before it is dropped.
pub const CAS_ATTEMPTS: usize = 8;
/// The prefix of every budget key in the store.
pub const KEY_PREFIX: &str = "meshka.quota.";
/// The longest quota name.
pub const MAX_QUOTA_NAME_LEN: usize = 253;

/// Which way record bytes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Produce requests: bytes written.
    Produce,
    /// Fetch responses: bytes read.
    Fetch,
}

impl Direction {
    fn key_part(self) -> &'static str {
        match self {
            Direction::Produce => "produce",
            Direction::Fetch => "fetch",
        }
    }
}

/// One compiled quota.
#[derive(Clone, Debug)]
struct CompiledQuota {
    name: Option<Box<str>>,
    subjects: Subjects,
    /// Empty: every topic.
    topics: Vec<Pattern>,
    produce: Option<u64>,
    fetch: Option<u64>,
    read_only: bool,
    per: QuotaScope,
}

impl CompiledQuota {
    fn covers(&self, principal: &Principal, topic: &str) -> bool {
        (self.topics.is_empty() || self.topics.iter().any(|p| p.matches(topic)))
            && self.subjects.matches(principal)
    }
}

/// Quotas compiled once per configuration.
#[derive(Clone, Debug, Default)]
pub struct CompiledQuotas {
    quotas: Vec<CompiledQuota>,
}

impl CompiledQuotas {
    /// Validates `quotas` — every problem with its path under `path` (`routing.quotas` in the
    /// plugin configuration, `spec.routing.quotas` in a KafkaPolicy), e.g.
    /// `routing.quotas[2].produceBytesPerSecond: 0 …` — and compiles them.
    pub fn new(quotas: &[Quota], path: &str) -> Result<CompiledQuotas, ValidationErrors> {
        let mut errors = Vec::new();
        let mut compiled = Vec::with_capacity(quotas.len());
        for (i, quota) in quotas.iter().enumerate() {
            let at = format!("{path}[{i}]");
            compiled.push(compile_quota(quota, &at, &mut errors));
        }
        if errors.is_empty() {
            Ok(CompiledQuotas { quotas: compiled })
        } else {
            Err(ValidationErrors(errors))
        }
    }

    /// Whether there are no quotas (nothing to measure or deny).
    pub fn is_empty(&self) -> bool {
        self.quotas.is_empty()
    }

    /// Whether any quota limits a rate in `dir` (the filter need not measure otherwise).
    pub fn limits(&self, dir: Direction) -> bool {
        self.quotas.iter().any(|q| match dir {
            Direction::Produce => q.produce.is_some(),
            Direction::Fetch => q.fetch.is_some(),
        })
    }

    /// Whether `principal` may not write `topic` (the broker's name) because a matching quota
    /// marks it read-only; the write is then denied with `TOPIC_AUTHORIZATION_FAILED`.
    pub fn read_only(&self, principal: &Principal, topic: &str) -> bool {
        self.quotas
            .iter()
            .any(|q| q.read_only && q.covers(principal, topic))
    }

    /// The budgets a transfer of `topic` (the broker's name) in `dir` by `principal` (in
    /// `tenant`, by name) charges: `(budget key, bytes per second)`, one per matching quota with
    /// a rate in `dir`. The key holds the quota's index, the direction and the scope's unit (the
    /// principal and topic, the principal, or the tenant — a caller in no tenant is its own
    /// unit), so budgets of different quotas never mix.
    pub fn budgets(
        &self,
        principal: &Principal,
        tenant: Option<&str>,
        topic: &str,
        dir: Direction,
    ) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for (i, q) in self.quotas.iter().enumerate() {
            let rate = match dir {
                Direction::Produce => q.produce,
                Direction::Fetch => q.fetch,
            };
            let Some(rate) = rate else { continue };
            if !q.covers(principal, topic) {
                continue;
            }
            let d = dir.key_part();
            let key = match (q.per, tenant) {
                (QuotaScope::PrincipalTopic, _) => {
                    format!("{KEY_PREFIX}{i}.{d}.pt.{}{topic}", principal_key(principal))
                }
                (QuotaScope::Tenant, Some(t)) => format!("{KEY_PREFIX}{i}.{d}.t.{t}"),
                (QuotaScope::Principal | QuotaScope::Tenant, _) => {
                    format!("{KEY_PREFIX}{i}.{d}.p.{}", principal_key(principal))
                }
            };
            out.push((key, rate));
        }
        out
    }

    /// The name of the quota a budget key belongs to (for logs), if it has one.
    pub fn quota_name(&self, key: &str) -> Option<&str> {
        let index: usize = key
            .strip_prefix(KEY_PREFIX)?
            .split('.')
            .next()?
            .parse()
            .ok()?;
        self.quotas.get(index)?.name.as_deref()
    }
}

/// A principal as a key part that no other principal shares: each identity length-prefixed.
fn principal_key(p: &Principal) -> String {
    fn part(tag: char, v: Option<&str>) -> String {
        match v {
            None => format!("{tag}-"),
            Some(v) => format!("{tag}{}:{v}", v.len()),
        }
    }
    format!(
        "{}{}/",
        part('s', p.spiffe_id.as_deref()),
        part('u', p.sasl_user.as_deref())
    )
}

fn compile_quota(q: &Quota, path: &str, errors: &mut Vec<ValidationError>) -> CompiledQuota {
    let invalid = |field: String, reason: String| ValidationError::Invalid {
        path: field,
        reason,
    };
    if let Some(name) = &q.name {
        if name.trim().is_empty()
            || name.len() > MAX_QUOTA_NAME_LEN
            || name.chars().any(char::is_control)
        {
            errors.push(invalid(
                format!("{path}.name"),
                format!("{name:?} cannot name a quota — give a short printable label such as \"orders-ingest\" (at most {MAX_QUOTA_NAME_LEN} characters), or leave name out"),
            ));
        }
    }
    validate_subjects(
        [&q.principals, &q.namespaces, &q.service_accounts, &q.users],
        path,
        errors,
    );
    let mut topics = Vec::with_capacity(q.topics.len());
    for (i, t) in q.topics.iter().enumerate() {
        match topic_pattern(t) {
            Ok(p) => topics.push(p),
            Err(reason) => errors.push(invalid(format!("{path}.topics[{i}]"), reason)),
        }
    }
    for (field, rate, what) in [
        ("produceBytesPerSecond", q.produce_bytes_per_second, "write"),
        ("fetchBytesPerSecond", q.fetch_bytes_per_second, "read"),
    ] {
        if rate == Some(0) {
            errors.push(invalid(
                format!("{path}.{field}"),
                format!("0 bytes per second would throttle every {what} for good — give at least 1{}, or leave it out for no limit", if what == "write" { " (readOnly: true denies writes)" } else { "" }),
            ));
        }
    }
    if q.produce_bytes_per_second.is_none() && q.fetch_bytes_per_second.is_none() && !q.read_only {
        errors.push(invalid(
            path.to_owned(),
            "a quota needs produceBytesPerSecond, fetchBytesPerSecond or readOnly: true — without one it limits nothing".into(),
        ));
    }
    // A quota with a problem is never used: `new` fails.
    CompiledQuota {
        name: q.name.as_deref().map(Into::into),
        subjects: Subjects::from_lists(&q.principals, &q.namespaces, &q.service_accounts, &q.users),
        topics,
        produce: q.produce_bytes_per_second,
        fetch: q.fetch_bytes_per_second,
        read_only: q.read_only,
        per: q.per,
    }
}

/// A topic pattern: a name, a prefix ending in `*`, or `*` alone.
fn topic_pattern(value: &str) -> Result<Pattern, String> {
    let pattern = Pattern::parse(value).map_err(|e| match e {
        PatternError::Empty => "must not be empty — write a topic name such as \"orders\", a prefix such as \"orders.*\", or leave topics out for every topic".to_owned(),
        PatternError::WildcardNotAtEnd => format!("{value:?} has a '*' before its end — '*' may only end a pattern, as in \"orders.*\""),
    })?;
    let fixed = pattern.fixed();
    if fixed.len() > MAX_TOPIC_NAME_LEN {
        return Err(format!(
            "{value:?} is longer than Kafka's {MAX_TOPIC_NAME_LEN}-character topic names"
        ));
    }
    if !fixed
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(format!(
            "{value:?} has characters Kafka does not allow in topic names: use ASCII letters, digits, '.', '_' and '-' (and '*' to end a prefix)"
        ));
    }
    Ok(pattern)
}

/// Where budgets live: proxy-wasm shared data in the filter (one store for all worker VMs of an
/// Envoy, updated with compare-and-swap), a map in tests.
pub trait BucketStore {
    /// The value and its compare-and-swap token, if the key exists.
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Stores `value` if the key's token is still `cas` (0: the key is new, or no check).
    /// `Err(())` on a mismatch: someone else updated it; reload and retry.
    #[allow(clippy::result_unit_err)]
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), ()>;
}

/// An in-memory [`BucketStore`] with compare-and-swap tokens as proxy-wasm hands them out.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    entries: HashMap<String, (Vec<u8>, u32)>,
}

impl BucketStore for MemoryStore {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.entries.get(key).cloned()
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), ()> {
        let current = self.entries.get(key).map_or(0, |(_, c)| *c);
        if cas != 0 && cas != current {
            return Err(());
        }
        let next = current.wrapping_add(1).max(1);
        self.entries.insert(key.to_owned(), (value.to_vec(), next));
        Ok(())
    }
}

/// A budget's state: tokens in milli-bytes (negative: debt) as of `at_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bucket {
    tokens: i64,
    at_ms: u64,
}

impl Bucket {
    const LEN: usize = 16;

    fn encode(self) -> [u8; Bucket::LEN] {
        let mut out = [0u8; Bucket::LEN];
        let (t, a) = out.split_at_mut(8);
        t.copy_from_slice(&self.tokens.to_le_bytes());
        a.copy_from_slice(&self.at_ms.to_le_bytes());
        out
    }

    /// `None` for anything but a stored bucket (the budget then starts afresh).
    fn decode(value: &[u8]) -> Option<Bucket> {
        let (t, a) = value.split_first_chunk::<8>()?;
        let a: &[u8; 8] = a.try_into().ok()?;
        Some(Bucket {
            tokens: i64::from_le_bytes(*t),
            at_ms: u64::from_le_bytes(*a),
        })
    }
}

fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The most tokens (milli-bytes) a budget of `rate` holds, and the most debt it keeps.
fn bounds(rate: u64) -> (i128, i128) {
    let rate = i128::from(rate);
    (
        rate.saturating_mul(i128::from(BURST_MS)),
        rate.saturating_mul(i128::from(MAX_THROTTLE_MS)),
    )
}

/// The bucket at `now_ms` after refilling since its last charge and taking `bytes`.
fn step(old: Option<Bucket>, rate: u64, bytes: u64, now_ms: u64) -> Bucket {
    let (capacity, max_debt) = bounds(rate);
    let (tokens, at_ms) = match old {
        // A new budget starts full: an idle caller may burst.
        None => (capacity, now_ms),
        Some(b) => {
            // Another worker's clock may be a little behind: never refill for negative time.
            let elapsed = now_ms.saturating_sub(b.at_ms);
            let refill = i128::from(rate).saturating_mul(i128::from(elapsed));
            (
                i128::from(b.tokens).saturating_add(refill).min(capacity),
                b.at_ms.max(now_ms),
            )
        }
    };
    let cost = i128::from(bytes).saturating_mul(1000);
    let tokens = tokens.saturating_sub(cost).max(-max_debt);
    Bucket {
        tokens: clamp_i64(tokens),
        at_ms,
    }
}

/// The time a bucket's debt takes to repay, in ms (rounded up, at most [`MAX_THROTTLE_MS`]).
fn throttle_of(bucket: Bucket, rate: u64) -> u32 {
    if bucket.tokens >= 0 {
        return 0;
    }
    if rate == 0 {
        return MAX_THROTTLE_MS;
    }
    let debt = i128::from(bucket.tokens).saturating_neg();
    let rate = i128::from(rate);
    let ms = debt.saturating_add(rate.saturating_sub(1)) / rate;
    u32::try_from(ms).map_or(MAX_THROTTLE_MS, |ms| ms.min(MAX_THROTTLE_MS))
}

/// Charges `bytes` to budget `key` (`rate` bytes per second) at `now_ms` and answers the throttle
/// time to signal in ms (0 within the limit). A token bucket with debt (see the module
/// documentation): one second of burst, then a client that waits the answered time before
/// sending again moves `rate` bytes per second. Retries compare-and-swap up to
/// [`CAS_ATTEMPTS`] times; charging 0 bytes only reads. Total, never panics.
pub fn charge(store: &mut dyn BucketStore, key: &str, rate: u64, bytes: u64, now_ms: u64) -> u32 {
    if rate == 0 {
        return if bytes == 0 { 0 } else { MAX_THROTTLE_MS };
    }
    let mut throttle = 0;
    for _ in 0..CAS_ATTEMPTS {
        let (old, cas) = match store.get(key) {
            Some((value, cas)) => (Bucket::decode(&value), cas),
            None => (None, 0),
        };
        let bucket = step(old, rate, bytes, now_ms);
        throttle = throttle_of(bucket, rate);
        if bytes == 0 || store.set(key, &bucket.encode(), cas).is_ok() {
            return throttle;
        }
    }
    throttle
}

/// A bounds-checked reader over a message body; every problem is a [`KafkaError::Decode`].
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
    version: i16,
    flexible: bool,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str, version: i16, flexible: bool) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            what,
            version,
            flexible,
        }
    }

    fn error(&self, reason: impl Into<String>) -> KafkaError {
        KafkaError::Decode {
            what: self.what,
            version: self.version,
            reason: format!("at byte {}: {}", self.pos, reason.into()),
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], KafkaError> {
        let slice = self
            .pos
            .checked_add(n)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or_else(|| self.error(format!("{n} bytes needed, {} left", self.remaining())))?;
        self.pos = self.pos.saturating_add(n);
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], KafkaError> {
        let slice = self.take(N)?;
        slice.try_into().map_err(|_| self.error("short read"))
    }

    fn i16(&mut self) -> Result<i16, KafkaError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, KafkaError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn uvarint(&mut self) -> Result<u32, KafkaError> {
        let mut value: u32 = 0;
        for i in 0..5u32 {
            let [b] = self.array::<1>()?;
            value |= u32::from(b & 0x7f).wrapping_shl(i * 7);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(self.error("unsigned varint longer than 5 bytes"))
    }

    /// A length or count: `None` for null (-1, or 0 in compact form).
    fn length(&mut self, compact: bool, short: bool) -> Result<Option<usize>, KafkaError> {
        let n: i64 = if compact {
            i64::from(self.uvarint()?) - 1
        } else if short {
            i64::from(self.i16()?)
        } else {
            i64::from(self.i32()?)
        };
        match n {
            -1 => Ok(None),
            n if n < -1 => Err(self.error(format!("negative length {n}"))),
            n => usize::try_from(n)
                .map(Some)
                .map_err(|_| self.error("length too large")),
        }
    }

    /// An array's element count (`None`: null), never more than the bytes left.
    fn count(&mut self) -> Result<Option<usize>, KafkaError> {
        let n = self.length(self.flexible, false)?;
        if let Some(n) = n {
            if n > self.remaining() {
                return Err(self.error(format!(
                    "array of {n} elements in {} bytes",
                    self.remaining()
                )));
            }
        }
        Ok(n)
    }

    /// A non-null array's count.
    fn required_count(&mut self) -> Result<usize, KafkaError> {
        self.count()?
            .ok_or_else(|| self.error("null array where one is required"))
    }

    /// A (nullable) string's bytes.
    fn string(&mut self) -> Result<Option<&'a [u8]>, KafkaError> {
        match self.length(self.flexible, true)? {
            None => Ok(None),
            Some(n) => self.take(n).map(Some),
        }
    }

    /// A (nullable) bytes field's length, skipping its content.
    fn skip_bytes(&mut self) -> Result<u64, KafkaError> {
        match self.length(self.flexible, false)? {
            None => Ok(0),
            Some(n) => {
                self.take(n)?;
                Ok(u64::try_from(n).unwrap_or(u64::MAX))
            }
        }
    }

    /// Tagged fields, in flexible versions: skipped by their sizes.
    fn tagged_fields(&mut self) -> Result<(), KafkaError> {
        if !self.flexible {
            return Ok(());
        }
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = self.uvarint()?;
            self.take(usize::try_from(size).map_err(|_| self.error("tag too large"))?)?;
        }
        Ok(())
    }

    /// A topic: its name (versions before `id_from`) or its id.
    fn topic(&mut self, id_from: i16) -> Result<Resource, KafkaError> {
        if self.version >= id_from {
            return Ok(Resource::TopicId(self.array::<16>()?));
        }
        let name = self
            .string()?
            .ok_or_else(|| self.error("null topic name"))?;
        let name = std::str::from_utf8(name).map_err(|_| self.error("topic name not UTF-8"))?;
        Ok(Resource::Name(name.to_owned()))
    }
}

/// Bytes per topic in first-seen order, merging repeated topics.
#[derive(Default)]
struct Tally {
    order: Vec<(Resource, u64)>,
    index: HashMap<Resource, usize>,
}

impl Tally {
    fn add(&mut self, topic: Resource, bytes: u64) {
        if let Some(slot) = self.index.get(&topic).and_then(|&i| self.order.get_mut(i)) {
            slot.1 = slot.1.saturating_add(bytes);
            return;
        }
        self.index.insert(topic.clone(), self.order.len());
        self.order.push((topic, bytes));
    }
}

/// The first version of Produce and Fetch that names topics by id.
const TOPIC_ID_VERSION_PRODUCE: i16 = 13;
const TOPIC_ID_VERSION_FETCH: i16 = 13;

/// The record bytes per topic of a Produce request body (after the request header): each topic
/// (its name, or its id from v13) with the sum of its partitions' record set lengths, in the
/// request's order (a topic named twice is summed). Record batches are skipped by length.
pub fn produce_bytes(version: i16, body: &[u8]) -> Result<Vec<(Resource, u64)>, KafkaError> {
    api(ApiKey::Produce as i16, version)?;
    let mut r = Reader::new(body, "Produce request", version, version >= 9);
    r.string()?; // transactional_id
    r.take(2 + 4)?; // acks, timeout_ms
    let mut tally = Tally::default();
    for _ in 0..r.required_count()? {
        let topic = r.topic(TOPIC_ID_VERSION_PRODUCE)?;
        let mut bytes = 0u64;
        for _ in 0..r.required_count()? {
            r.take(4)?; // index
            bytes = bytes.saturating_add(r.skip_bytes()?);
            r.tagged_fields()?;
        }
        r.tagged_fields()?;
        tally.add(topic, bytes);
    }
    r.tagged_fields()?;
    Ok(tally.order)
}

/// The record bytes per topic of a Fetch response body (after the response header), as
/// [`produce_bytes`] does for Produce requests (topic ids from v13).
pub fn fetch_bytes(version: i16, body: &[u8]) -> Result<Vec<(Resource, u64)>, KafkaError> {
    api(ApiKey::Fetch as i16, version)?;
    let mut r = Reader::new(body, "Fetch response", version, version >= 12);
    r.take(4)?; // throttle_time_ms
    if version >= 7 {
        r.take(2 + 4)?; // error_code, session_id
    }
    let mut tally = Tally::default();
    for _ in 0..r.required_count()? {
        let topic = r.topic(TOPIC_ID_VERSION_FETCH)?;
        let mut bytes = 0u64;
        for _ in 0..r.required_count()? {
            // partition_index, error_code, high_watermark, last_stable_offset
            r.take(4 + 2 + 8 + 8)?;
            if version >= 5 {
                r.take(8)?; // log_start_offset
            }
            if let Some(n) = r.count()? {
                for _ in 0..n {
                    r.take(8 + 8)?; // producer_id, first_offset
                    r.tagged_fields()?;
                }
            }
            if version >= 11 {
                r.take(4)?; // preferred_read_replica
            }
            bytes = bytes.saturating_add(r.skip_bytes()?);
            r.tagged_fields()?;
        }
        r.tagged_fields()?;
        tally.add(topic, bytes);
    }
    r.tagged_fields()?;
    Ok(tally.order)
}

/// Where `throttle_time_ms` (4 bytes, big-endian) sits in a Produce or Fetch response body, so
/// the host can overwrite just those bytes in its buffer; `None` for other apis. Fetch: the
/// first field. Produce: after the topic responses, which are walked (small).
pub fn throttle_time_offset(
    api_key: i16,
    version: i16,
    body: &[u8],
) -> Result<Option<usize>, KafkaError> {
    let key = api(api_key, version)?;
    let offset = match key {
        ApiKey::Fetch => 0,
        ApiKey::Produce => produce_response_throttle_offset(version, body)?,
        _ => return Ok(None),
    };
    if body.len() < offset.saturating_add(4) {
        return Err(KafkaError::Decode {
            what: if key == ApiKey::Fetch {
                "Fetch response"
            } else {
                "Produce response"
            },
            version,
            reason: format!("throttle_time_ms at byte {offset} is past the end"),
        });
    }
    Ok(Some(offset))
}

fn produce_response_throttle_offset(version: i16, body: &[u8]) -> Result<usize, KafkaError> {
    let mut r = Reader::new(body, "Produce response", version, version >= 9);
    for _ in 0..r.required_count()? {
        r.topic(TOPIC_ID_VERSION_PRODUCE)?;
        for _ in 0..r.required_count()? {
            // index, error_code, base_offset, log_append_time_ms
            r.take(4 + 2 + 8 + 8)?;
            if version >= 5 {
                r.take(8)?; // log_start_offset
            }
            if version >= 8 {
                if let Some(n) = r.count()? {
                    for _ in 0..n {
                        r.take(4)?; // batch_index
                        r.string()?; // batch_index_error_message
                        r.tagged_fields()?;
                    }
                }
                r.string()?; // error_message
            }
            r.tagged_fields()?;
        }
        r.tagged_fields()?;
    }
    Ok(r.pos)
}

/// Raises `throttle_time_ms` in a Produce or Fetch response body to at least `ms` (a larger one
/// the broker set is kept; `ms` is capped at `i32::MAX`). `Ok(None)`: another api, or the field
/// already holds at least `ms`. Only those four bytes change; nothing is re-encoded.
pub fn raise_throttle_time(
    api_key: i16,
    version: i16,
    body: &[u8],
    ms: u32,
) -> Result<Option<Vec<u8>>, KafkaError> {
    let Some(offset) = throttle_time_offset(api_key, version, body)? else {
        return Ok(None);
    };
    let want = i32::try_from(ms).unwrap_or(i32::MAX);
    let end = offset.saturating_add(4);
    let current = body
        .get(offset..end)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_be_bytes)
        .ok_or(KafkaError::Decode {
            what: "response",
            version,
            reason: "throttle_time_ms past the end".into(),
        })?;
    if current >= want {
        return Ok(None);
    }
    let mut out = body.to_vec();
    if let Some(field) = out.get_mut(offset..end) {
        field.copy_from_slice(&want.to_be_bytes());
    }
    Ok(Some(out))
}
