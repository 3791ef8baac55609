//! Authorization applied to one connection's requests and responses: the policy's decisions
//! turned into the codec's verdicts, plus the records the host logs and counts.

use meshka_codec::head::RequestHead;
use meshka_codec::inflight::{Pending, Rewrite};
use meshka_codec::session::Early;
use meshka_codec::{Error, Verdict};
use serde::Serialize;

use kafka_protocol::messages::ApiKey;

use crate::authz::{CompiledPolicy, Operation, Principal, ResourceType, CLUSTER_NAME};
use crate::kafka::{self, field, Check, Denied, ProduceStart, ProduceTopic, Resource, Split};
use crate::route::throttle::{self, BucketStore, Direction};
use crate::route::{self, ClientName, CompiledRouting, CompiledTenant, NameKind, NameMap};
use crate::sasl::Exchange;

/// Response rewrite tags (see [`Rewrite::Transform`]).
pub const CLAMP_API_VERSIONS: u32 = 1;
pub const FILTER_METADATA: u32 = 2;
/// Not a rewrite: the SaslAuthenticate response is read to learn whether the user is in.
pub const SASL_RESULT: u32 = 3;
pub const FILTER_LISTING: u32 = 4;
/// Merge the denied part of a split request back into the broker's response.
pub const MERGE_DENIED: u32 = 5;
/// Flags added to the tags above: after them, map the broker's names back to the client's
/// (routing), and rewrite broker addresses.
pub const ROUTE_NAMES: u32 = 1 << 8;
pub const ROUTE_BROKERS: u32 = 1 << 9;
/// With [`ROUTE_NAMES`] on a FindCoordinator response: its keys are transactional ids.
pub const ROUTE_TRANSACTION_KEYS: u32 = 1 << 10;
const FIND_COORDINATOR: i16 = 10;
/// Charge the Fetch response's record bytes to the caller's fetch quotas.
pub const FETCH_QUOTA: u32 = 1 << 11;
/// A Produce's throttle time (ms, from its quotas) rides in the tag's top 16 bits to its response.
const THROTTLE_SHIFT: u32 = 16;
const BASE_TAG: u32 = 0xff;
const PRODUCE: i16 = 0;
const FETCH: i16 = 1;

/// Whether a response tagged `tag` may carry a throttle time from the caller's quotas.
pub fn is_throttled(tag: u32) -> bool {
    tag >> THROTTLE_SHIFT != 0 || tag & FETCH_QUOTA != 0
}

const API_VERSIONS: i16 = 18;
/// How a topic id the filter could not name appears in checks and logs.
const UNKNOWN_ID: &str = "unknown-id:";
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;
const METADATA: i16 = 3;

/// The outcome of one check, for logs and per-topic metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRecord {
    #[serde(rename = "type")]
    pub resource: ResourceType,
    pub name: String,
    pub operation: Operation,
    pub allowed: bool,
    /// The rule that decided (index in `authorization.rules`), or `None` for the default.
    pub rule: Option<usize>,
}

/// One request's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRecord {
    #[serde(skip)]
    pub api_key: i16,
    pub api: &'static str,
    pub version: i16,
    pub correlation_id: i32,
    pub principal: String,
    /// Whether the request went to the broker.
    pub forwarded: bool,
    /// Whether every check allowed it (in audit mode a request can be forwarded and not allowed).
    pub allowed: bool,
    pub audit: bool,
    pub checks: Vec<CheckRecord>,
    /// Why the request could not be checked at all, when that is why it was denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Topic names by topic id, learned from the broker's Metadata responses: requests that name
/// topics by id (Fetch v13+, Produce v13) are authorized on the name.
pub trait TopicIds {
    fn name(&self, id: &[u8; 16]) -> Option<String>;
    fn learn(&mut self, id: [u8; 16], name: &str);
}

impl TopicIds for std::collections::HashMap<[u8; 16], String> {
    fn name(&self, id: &[u8; 16]) -> Option<String> {
        self.get(id).cloned()
    }
    fn learn(&mut self, id: [u8; 16], name: &str) {
        self.insert(id, name.to_string());
    }
}

/// Decides the requests of one connection.
pub struct Enforcer<'a> {
    pub policy: &'a CompiledPolicy,
    /// The connection's principal; a successful SASL exchange sets its user.
    pub principal: &'a mut Principal,
    /// The connection's SASL exchange, followed to learn the user it authenticates.
    pub sasl: &'a mut Exchange,
    pub topic_ids: &'a mut dyn TopicIds,
    /// Close the connection on a denied `acks=0` Produce instead of dropping it.
    pub close_on_denied_acks_zero: bool,
    /// The denied parts of split requests, by correlation id, until their responses come back
    /// (at most one per request in flight).
    pub merges: &'a mut Vec<(i32, Denied)>,
    /// Every decided request, for the host to log and count.
    pub records: &'a mut Records,
    /// Topic virtualization, tenants and broker addresses, when configured.
    pub routing: Option<&'a CompiledRouting>,
    /// Where quota budgets live, and the time to charge them at; quotas need both.
    pub quota_clock: Option<QuotaClock<'a>>,
    /// The largest response the host holds whole (`maxHoldBytes`): Fetch requests whose
    /// responses routing or quotas must read are limited to it.
    pub hold_limit: u32,
}

/// Quota budgets (shared by the host's worker VMs) and the current time.
pub struct QuotaClock<'a> {
    pub store: &'a mut dyn BucketStore,
    pub now_ms: u64,
    /// When the budgets the connection was charged to are paid off: its throttle ends then.
    /// Kept by the host per connection; every charge may push it out.
    pub deadline_ms: &'a mut u64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Enforcer<'_> {
    fn permits(
        &self,
        resource: ResourceType,
        name: &str,
        operation: Operation,
    ) -> (bool, Option<usize>) {
        let d = self
            .policy
            .decide(self.principal, resource, name, operation);
        (d.permits(), d.rule)
    }

    /// Whether the rules allow it (in audit mode too, unlike [`Enforcer::permits`]).
    fn allows(
        &self,
        resource: ResourceType,
        name: &str,
        operation: Operation,
    ) -> (bool, Option<usize>) {
        let d = self
            .policy
            .decide(self.principal, resource, name, operation);
        (d.allowed, d.rule)
    }

    fn check(&self, check: &Check) -> CheckRecord {
        let name = match &check.name {
            Resource::Name(name) => Some(name.clone()),
            // A tenant must not reach another tenant's topic through its id.
            Resource::TopicId(id) => self.topic_ids.name(id).filter(|name| {
                self.tenant()
                    .is_none_or(|t| t.to_client(NameKind::Topic, name) != ClientName::Hidden)
            }),
        };
        let (name, allowed, rule) = match name {
            Some(name) => {
                let d = self
                    .policy
                    .decide(self.principal, check.resource, &name, check.operation);
                (name, d.allowed, d.rule)
            }
            // A topic id the filter cannot name must never get past a name rule.
            None => match &check.name {
                Resource::TopicId(id) => (format!("{UNKNOWN_ID}{}", hex(id)), false, None),
                Resource::Name(n) => (n.clone(), false, None),
            },
        };
        // A read-only topic refuses writes whatever the rules say.
        let read_only = check.resource == ResourceType::Topic
            && check.operation == Operation::Write
            && self
                .quotas()
                .is_some_and(|q| q.read_only(self.principal, &name));
        CheckRecord {
            resource: check.resource,
            name,
            operation: check.operation,
            allowed: allowed && !read_only,
            rule: if read_only { None } else { rule },
        }
    }

    fn quotas(&self) -> Option<&route::CompiledQuotas> {
        self.routing.and_then(CompiledRouting::quotas)
    }

    /// Charges `bytes` of `topic` to every budget the caller's quotas give it; the throttle
    /// time to signal, in ms.
    fn charge(&mut self, topic: &str, bytes: u64, dir: Direction) -> u32 {
        let Some(quotas) = self.quotas() else {
            return 0;
        };
        let tenant = self.tenant().map(CompiledTenant::name);
        let budgets = quotas.budgets(self.principal, tenant, topic, dir);
        let Some(clock) = self.quota_clock.as_mut() else {
            return 0;
        };
        let mut ms = 0;
        for (key, rate) in budgets {
            ms = ms.max(throttle::charge(
                clock.store,
                &key,
                rate,
                bytes,
                clock.now_ms,
            ));
        }
        *clock.deadline_ms = (*clock.deadline_ms).max(clock.now_ms + u64::from(ms));
        ms
    }

    /// Charges a transfer's record bytes per topic (names or ids the filter resolves); the
    /// throttle time, in ms.
    fn charge_all(&mut self, bytes: Vec<(Resource, u64)>, dir: Direction) -> u32 {
        let mut ms = 0;
        for (resource, n) in bytes {
            let name = match resource {
                Resource::Name(name) => Some(name),
                Resource::TopicId(id) => self.topic_ids.name(&id),
            };
            if let Some(name) = name {
                ms = ms.max(self.charge(&name, n, dir));
            }
        }
        ms
    }

    /// Quota flags for an allowed request: a Produce is charged now and its throttle time sent
    /// with its response; a Fetch is charged when its response shows how much it read.
    fn quota_flags(&mut self, head: &RequestHead<'_>, body: &[u8]) -> u32 {
        let Some(quotas) = self.quotas() else {
            return 0;
        };
        let (key, version) = (head.api.key(), head.api_version);
        if key == PRODUCE && quotas.limits(Direction::Produce) {
            // Unreadable record sizes charge nothing; the request itself was decoded already.
            let bytes = throttle::produce_bytes(version, body).unwrap_or_default();
            let ms = self.charge_all(bytes, Direction::Produce);
            if head.expects_response() && ms > 0 {
                return ms.min(u32::from(u16::MAX)) << THROTTLE_SHIFT;
            }
        } else if key == FETCH && quotas.limits(Direction::Fetch) {
            return FETCH_QUOTA;
        }
        0
    }

    fn audit(&self) -> bool {
        self.policy.mode() == crate::authz::Mode::Audit
    }

    /// The record of `head`'s decision, to fill (a recycled one where there is one).
    fn blank_record(&mut self, head: &RequestHead<'_>) -> DecisionRecord {
        let audit = self.audit();
        self.records.blank(head, self.principal, audit)
    }

    /// The tenant of the connection's principal (which a SASL exchange may change).
    fn tenant(&self) -> Option<&CompiledTenant> {
        let routing = self.routing?;
        routing.tenant(routing.tenant_of(self.principal)?)
    }

    /// Adds the routing flags a request's response needs to `rewrite`.
    fn routed(&self, head: &RequestHead<'_>, body: &[u8], extra: u32, rewrite: Rewrite) -> Rewrite {
        let key = head.api.key();
        let mut flags = extra;
        if self.tenant().is_some() && route::rewrite::response_has_names(key, head.api_version) {
            flags |= ROUTE_NAMES;
            if key == FIND_COORDINATOR && find_coordinator_key_type(head.api_version, body) == 1 {
                flags |= ROUTE_TRANSACTION_KEYS;
            }
        }
        if self
            .routing
            .and_then(CompiledRouting::broker_address)
            .is_some()
            && route::BrokerAddress::rewrites(key)
        {
            flags |= ROUTE_BROKERS;
        }
        match rewrite {
            _ if flags == 0 => rewrite,
            Rewrite::None => Rewrite::Transform(flags),
            Rewrite::Transform(tag) => Rewrite::Transform(tag | flags),
            // A synthesized response already speaks the client's names.
            Rewrite::Replace(frame) => Rewrite::Replace(frame),
        }
    }

    /// Adds routing to an allowed request's verdict: the body with the broker's names (when they
    /// differ) and the response rewrites routing needs.
    fn route_verdict(
        &mut self,
        head: &RequestHead<'_>,
        body: &[u8],
        routed: Option<Vec<u8>>,
        verdict: Verdict,
    ) -> Verdict {
        let extra = match &verdict {
            Verdict::Forward(_) | Verdict::ForwardRewritten(..) => self.quota_flags(head, body),
            _ => 0,
        };
        let (mut new, rewrite) = match verdict {
            Verdict::Forward(rewrite) => (routed, rewrite),
            Verdict::ForwardRewritten(new, rewrite) => (Some(new), rewrite),
            other => return other,
        };
        let rewrite = self.routed(head, body, extra, rewrite);
        let held = match &rewrite {
            Rewrite::Transform(tag) => tag & (ROUTE_NAMES | FETCH_QUOTA) != 0,
            _ => false,
        };
        if head.api.key() == FETCH && held {
            // The response will be held whole: ask the broker for no more than the hold limit.
            let current = new.as_deref().unwrap_or(body);
            if let Ok(Some(limited)) =
                route::fetch::limit_fetch_bytes(head.api_version, current, self.hold_limit)
            {
                new = Some(limited);
            }
        }
        match new {
            Some(new) => Verdict::ForwardRewritten(new, rewrite),
            None => Verdict::Forward(rewrite),
        }
    }

    /// Decides a request from its first bytes, when that is enough: a Produce to one topic that
    /// every check allows streams on (its record batches are neither copied nor decoded). A
    /// tenant's topic name is renamed in those first bytes. Everything else — other apis,
    /// several topics, a denial, a tenant's transactional id or topic id, quotas — is decided
    /// whole by [`Enforcer::on_request`].
    pub fn on_request_start(
        &mut self,
        head: &RequestHead<'_>,
        body: &[u8],
    ) -> Result<Early, Error> {
        if head.api.key() != PRODUCE || self.quotas().is_some() {
            // Quotas charge (and read-only topics deny) from the whole request.
            return Ok(Early::Whole);
        }
        let (transactional_id, topic, topic_field) =
            match kafka::produce_start(head.api_version, body) {
                ProduceStart::OneTopic {
                    transactional_id,
                    topic,
                    topic_field,
                    ..
                } => (transactional_id, topic, topic_field),
                ProduceStart::Incomplete => return Ok(Early::More),
                ProduceStart::Whole => return Ok(Early::Whole),
            };
        // The broker's name, when this connection's tenant renames the topic; the checks below
        // see it, as the rules see the broker's names.
        let mut renamed = None;
        if let Some(tenant) = self.tenant() {
            let renames_id = transactional_id
                .is_some_and(|id| tenant.to_broker(NameKind::TransactionalId, id) != id);
            let ProduceTopic::Name(name) = topic else {
                // Ids: whether the tenant may reach the topic is decided whole.
                return Ok(Early::Whole);
            };
            if renames_id {
                return Ok(Early::Whole);
            }
            let broker = tenant.to_broker(NameKind::Topic, name);
            if broker != name {
                renamed = Some(broker.into_owned());
            }
        }
        // The new first bytes: the body up to the topic, then its new name field. A name too long
        // for the field is left to the whole-request path (which answers it).
        let edit = match &renamed {
            Some(name) => match kafka::topic_name_field(head.api_version, name) {
                Some(field) => {
                    let mut with = Vec::with_capacity(topic_field.0 + field.len());
                    with.extend_from_slice(body.get(..topic_field.0).unwrap_or_default());
                    with.extend_from_slice(&field);
                    Some(with)
                }
                None => return Ok(Early::Whole),
            },
            None => None,
        };
        let topic = match &renamed {
            Some(name) => ProduceTopic::Name(name),
            None => topic,
        };
        // The checks `kafka::request_checks` makes for a Produce, in its order; any denial is
        // answered by the whole-request path.
        let transactional = match transactional_id {
            Some(id) => match self.allows(ResourceType::TransactionalId, id, Operation::Write) {
                (true, rule) => Some((id, rule)),
                (false, _) => return Ok(Early::Whole),
            },
            None => None,
        };
        let topic_check = match topic {
            ProduceTopic::Name(name) => {
                match self.allows(ResourceType::Topic, name, Operation::Write) {
                    (true, rule) => Ok((name, rule)),
                    (false, _) => return Ok(Early::Whole),
                }
            }
            ProduceTopic::Id(id) => {
                let check = self.check(&Check::topic_id(id, Operation::Write));
                if !check.allowed {
                    return Ok(Early::Whole);
                }
                Err(check)
            }
        };
        let mut record = self.blank_record(head);
        record.forwarded = true;
        record.allowed = true;
        if let Some((id, rule)) = transactional {
            let check = self.records.check(
                ResourceType::TransactionalId,
                id,
                Operation::Write,
                true,
                rule,
            );
            record.checks.push(check);
        }
        let check = match topic_check {
            Ok((name, rule)) => {
                self.records
                    .check(ResourceType::Topic, name, Operation::Write, true, rule)
            }
            Err(check) => check,
        };
        record.checks.push(check);
        self.records.push(record);
        // A tenant's response names its topic as the broker does: mapped back, as for a request
        // decided whole.
        let rewrite = self.routed(head, body, 0, Rewrite::None);
        Ok(match edit {
            None => Early::Forward(rewrite),
            Some(with) => Early::ForwardEdited {
                replaced: topic_field.1,
                with,
                rewrite,
            },
        })
    }

    /// Decides a whole request (`body` follows its header).
    pub fn on_request(&mut self, head: &RequestHead<'_>, body: &[u8]) -> Result<Verdict, Error> {
        let key = head.api.key();
        match key {
            API_VERSIONS => return Ok(Verdict::Forward(Rewrite::Transform(CLAMP_API_VERSIONS))),
            SASL_HANDSHAKE => {
                let request = decode_request(ApiKey::SaslHandshake, head.api_version, body)?;
                if head.api_version == 0 {
                    // v0 is followed by raw SASL tokens without Kafka framing the filter could
                    // authorize; every current client uses v1.
                    return Err(Error::Denied(
                        "SaslHandshake v0 (raw SASL tokens) is not supported: use a client that speaks SaslHandshake v1".into(),
                    ));
                }
                self.sasl.handshake(request.text(field::MECHANISM));
                return Ok(Verdict::Forward(Rewrite::None));
            }
            SASL_AUTHENTICATE => {
                let request = decode_request(ApiKey::SaslAuthenticate, head.api_version, body)?;
                self.sasl
                    .message(request.bytes(field::AUTH_BYTES).unwrap_or_default());
                return Ok(Verdict::Forward(Rewrite::Transform(SASL_RESULT)));
            }
            _ => {}
        }
        let mut record = self.blank_record(head);
        // Routing first: the checks below and the policy's rules see the broker's names.
        let client_body = body;
        let routed = match self.tenant() {
            Some(tenant) => {
                match route::rewrite::rewrite_request(key, head.api_version, body, tenant) {
                    Ok(routed) => routed,
                    Err(e) => {
                        record.error = Some(format!("routing: {e}"));
                        return self.finish(head, body, record, Verdict::Forward(Rewrite::None));
                    }
                }
            }
            None => None,
        };
        let body = routed.as_deref().unwrap_or(body);
        let needs = match kafka::request_checks(key, head.api_version, body) {
            Ok(needs) => needs,
            Err(e) => {
                // An api the table does not cover is denied, never waved through.
                record.error = Some(e.to_string());
                return self.finish(head, client_body, record, Verdict::Forward(Rewrite::None));
            }
        };
        let cluster_ok = needs
            .cluster_alternative
            .is_some_and(|op| self.permits(ResourceType::Cluster, CLUSTER_NAME, op).0);
        for check in &needs.checks {
            let mut rec = self.check(check);
            if cluster_ok {
                rec.allowed = true;
            }
            record.checks.push(rec);
        }
        if needs.any_topic_write_alternative
            && self
                .policy
                .allows_any(self.principal, ResourceType::Topic, Operation::Write)
        {
            // Kafka lets an idempotent producer in with Write on any topic instead of
            // IdempotentWrite on the cluster (Java producers are idempotent by default).
            for c in &mut record.checks {
                c.allowed = true;
            }
        }
        record.allowed = record.checks.iter().all(|c| c.allowed);
        let mut verdict = Verdict::Forward(Rewrite::None);
        if key == METADATA {
            // Every Metadata response is read: it trims all-topics listings and teaches the
            // filter the topic ids that later requests use instead of names.
            verdict = Verdict::Forward(Rewrite::Transform(FILTER_METADATA));
        } else if needs.filters_response {
            // Listings (ListGroups, ListTransactions, DescribeTopicPartitions, OffsetFetch of
            // all topics) show only what the caller may describe, as Kafka does.
            verdict = Verdict::Forward(Rewrite::Transform(FILTER_LISTING));
        } else if needs.fetch_session && record.allowed && !self.audit() {
            // An incremental fetch names only changed partitions; without the session every
            // fetch names all of them, so a revoked topic stops at the next fetch.
            let body = kafka::disable_fetch_session(head.api_version, body)
                .map_err(|e| Error::Denied(format!("Fetch: {e}")))?;
            verdict = Verdict::ForwardRewritten(body, Rewrite::None);
        }
        if record.allowed && !needs.auto_create.is_empty() && !cluster_ok {
            let refused: Vec<CheckRecord> = needs
                .auto_create
                .iter()
                .map(|c| self.check(c))
                .filter(|c| !c.allowed)
                .collect();
            if !refused.is_empty() && head.api_version < 4 {
                // Before v4 Metadata always auto-creates: refuse it the way Kafka does.
                record.checks.extend(refused);
                record.allowed = false;
            } else if !refused.is_empty() && !self.audit() {
                // Topics this caller may not create must not appear as a side effect.
                let body = kafka::disable_auto_create(head.api_version, body)
                    .map_err(|e| Error::Denied(format!("Metadata: {e}")))?;
                verdict = Verdict::ForwardRewritten(body, Rewrite::Transform(FILTER_METADATA));
            }
        }
        if let Some(split) = self.split(head, body, &record)? {
            self.records.push(record);
            return Ok(self.route_verdict(head, body, None, split));
        }
        let verdict = self.route_verdict(head, body, routed.clone(), verdict);
        // Denials echo the request's names: the client's.
        self.finish(head, client_body, record, verdict)
    }

    /// A request with allowed and denied resources: the allowed part goes to the broker and the
    /// denied part's errors are merged into its response, as Kafka answers per resource.
    /// `None` when the request is to be forwarded or denied whole.
    fn split(
        &mut self,
        head: &RequestHead<'_>,
        body: &[u8],
        record: &DecisionRecord,
    ) -> Result<Option<Verdict>, Error> {
        let some_allowed = record.checks.iter().any(|c| c.allowed);
        if record.allowed || record.error.is_some() || self.audit() || !some_allowed {
            return Ok(None);
        }
        let (key, version) = (head.api.key(), head.api_version);
        let split = kafka::split_request(key, version, body, &mut |c| !self.check(c).allowed);
        let Ok(Split::Partial { body, denied }) = split else {
            return Ok(None);
        };
        let rewrite = if head.expects_response() {
            self.merges.push((head.correlation_id, denied));
            Rewrite::Transform(MERGE_DENIED)
        } else {
            Rewrite::None
        };
        Ok(Some(Verdict::ForwardRewritten(body, rewrite)))
    }

    fn finish(
        &mut self,
        head: &RequestHead<'_>,
        body: &[u8],
        mut record: DecisionRecord,
        allowed: Verdict,
    ) -> Result<Verdict, Error> {
        let verdict = if record.allowed && record.error.is_none() || self.audit() {
            record.forwarded = true;
            allowed
        } else if !head.expects_response() {
            if self.close_on_denied_acks_zero {
                self.records.push(record);
                return Err(Error::Denied(format!(
                    "{} with acks=0 was denied; closing the connection as Kafka does (closeOnDeniedAcksZero)",
                    head.api.name()
                )));
            }
            Verdict::Drop
        } else {
            let (key, version, cid) = (head.api.key(), head.api_version, head.correlation_id);
            let first_denied = record.checks.iter().find(|c| !c.allowed);
            let response = match first_denied {
                // An id the filter could not name: answered as a broker answers an id it does not
                // know, so the client refreshes its metadata (and the filter learns the id).
                Some(c) if c.name.starts_with(UNKNOWN_ID) => {
                    kafka::deny_response_with_code(key, version, cid, body, kafka::UNKNOWN_TOPIC_ID)
                }
                // The error of the level that failed: a transactional produce whose id is
                // allowed but whose topic is not gets 29, not the fatal 53.
                Some(c) => kafka::deny_response_for(key, version, cid, body, c.resource),
                None => kafka::deny_response(key, version, cid, body),
            }
            .map_err(|e| {
                Error::Denied(format!(
                    "{} v{} was denied but {e}",
                    head.api.name(),
                    head.api_version
                ))
            })?;
            Verdict::Deny(response)
        };
        if record.error.is_some() && !self.audit() {
            record.allowed = false;
        }
        self.records.push(record);
        Ok(verdict)
    }

    /// Learns the topic ids a Metadata response names (an undecodable one teaches nothing; the
    /// rewrite that follows reports it).
    fn learn_topic_ids(&mut self, version: i16, body: &[u8]) {
        if let Ok(ids) = kafka::metadata_topic_ids(version, body) {
            for (name, id) in ids {
                self.topic_ids.learn(id, &name);
            }
        }
    }

    /// Rewrites a response whose request asked for it.
    pub fn on_response(
        &mut self,
        request: &Pending,
        tag: u32,
        body: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let mut body = match tag & BASE_TAG {
            0 => body.to_vec(),
            base => self.rewrite_response(request, base, body)?,
        };
        let (key, version) = (request.api.key(), request.api_version);
        let failed = |e: kafka::KafkaError| {
            Error::Denied(format!("routing a {} response: {e}", request.api.name()))
        };
        if tag & ROUTE_NAMES != 0 {
            if let Some(tenant) = self.tenant() {
                let fast = match key {
                    PRODUCE => rename_produce_response(version, &body, tenant),
                    _ => None,
                };
                let rewritten = if let Some(renamed) = fast {
                    Ok(renamed)
                } else if key == FIND_COORDINATOR {
                    let key_type = i8::from(tag & ROUTE_TRANSACTION_KEYS != 0);
                    route::rewrite::rewrite_find_coordinator_response(
                        version, key_type, &body, tenant,
                    )
                } else {
                    route::rewrite::rewrite_response(key, version, &body, tenant)
                };
                if let Some(b) = rewritten.map_err(failed)? {
                    body = b;
                }
            }
        }
        let mut throttle_ms = tag >> THROTTLE_SHIFT;
        if tag & FETCH_QUOTA != 0 {
            let bytes = throttle::fetch_bytes(version, &body).map_err(failed)?;
            throttle_ms = throttle_ms.max(self.charge_all(bytes, Direction::Fetch));
        }
        if let (true, Some(clock)) = (is_throttled(tag), &self.quota_clock) {
            // What is left of the connection's debt: the time since the charge (requests held
            // meanwhile) is not owed twice, and charges made since are owed too.
            throttle_ms = u32::try_from(clock.deadline_ms.saturating_sub(clock.now_ms))
                .unwrap_or(u32::MAX)
                .min(throttle::MAX_THROTTLE_MS);
        }
        if throttle_ms > 0 {
            if let Some(b) =
                throttle::raise_throttle_time(key, version, &body, throttle_ms).map_err(failed)?
            {
                body = b;
            }
        }
        if tag & ROUTE_BROKERS != 0 {
            if let Some(brokers) = self.routing.and_then(CompiledRouting::broker_address) {
                if let Some(b) = brokers
                    .rewrite_response(key, version, &body)
                    .map_err(failed)?
                {
                    body = b;
                }
            }
        }
        Ok(body)
    }

    /// The rewrite (or observation) a request's response was tagged with.
    fn rewrite_response(
        &mut self,
        request: &Pending,
        tag: u32,
        body: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let result = match tag {
            CLAMP_API_VERSIONS => kafka::clamp_api_versions(request.api_version, body),
            FILTER_METADATA => {
                self.learn_topic_ids(request.api_version, body);
                let (policy, principal) = (self.policy, &*self.principal);
                kafka::filter_metadata_response(request.api_version, body, &mut |topic| {
                    policy
                        .decide(principal, ResourceType::Topic, topic, Operation::Describe)
                        .permits()
                })
            }
            FILTER_LISTING => {
                let (policy, principal) = (self.policy, &*self.principal);
                kafka::filter_listing_response(
                    request.api.key(),
                    request.api_version,
                    body,
                    &mut |kind, name| {
                        policy
                            .decide(principal, kind, name, Operation::Describe)
                            .permits()
                    },
                )
            }
            MERGE_DENIED => {
                let at = self
                    .merges
                    .iter()
                    .position(|(cid, _)| *cid == request.correlation_id);
                let (_, denied) = at
                    .map(|i| self.merges.swap_remove(i))
                    .ok_or(Error::Internal(
                        "a split request's denied part went missing",
                    ))?;
                if request.api.key() == METADATA {
                    self.learn_topic_ids(request.api_version, body);
                }
                kafka::merge_response(&denied, body)
            }
            SASL_RESULT => {
                // The error code leads the body at every version; nothing else is needed.
                let code = body
                    .first_chunk::<2>()
                    .map(|c| i16::from_be_bytes(*c))
                    .ok_or(Error::Truncated {
                        what: "SaslAuthenticate response",
                        len: body.len(),
                    })?;
                if let Some(user) = self.sasl.answer(code) {
                    *self.principal = self.principal.clone().with_sasl_user(&user);
                }
                return Ok(body.to_vec());
            }
            _ => return Err(Error::Internal("unknown response rewrite")),
        };
        result
            .map_err(|e| Error::Denied(format!("rewriting a {} response: {e}", request.api.name())))
    }
}

/// A one-topic Produce response (`version`, body after its header) with its topic named as the
/// tenant's client knows it, renamed in place — the rest of the bytes as the broker sent them:
/// `Some(None)` when the name is the client's already. `None` when only a full rewrite can tell:
/// several topics, topic ids, a name the client may not see.
fn rename_produce_response(
    version: i16,
    body: &[u8],
    tenant: &CompiledTenant,
) -> Option<Option<Vec<u8>>> {
    let (name, (start, end)) = kafka::produce_response_topic(version, body)?;
    let client = match tenant.to_client(NameKind::Topic, name) {
        ClientName::Hidden => return None,
        ClientName::Named(client) if client == name => return Some(None),
        ClientName::Named(client) => client,
    };
    let field = kafka::topic_name_field(version, &client)?;
    Some(Some(
        [body.get(..start)?, &field, body.get(end..)?].concat(),
    ))
}

/// The key type of a FindCoordinator request (0 group, 1 transactional id); before v1 every
/// key is a group. Undecodable: 0 (the request itself is checked, and denied, elsewhere).
fn find_coordinator_key_type(version: i16, body: &[u8]) -> i8 {
    decode_request(ApiKey::FindCoordinator, version, body).map_or(0, |r| r.i8(field::KEY_TYPE))
}

/// Decodes a request body the filter must read, refusing what it cannot.
fn decode_request(key: ApiKey, version: i16, body: &[u8]) -> Result<kafka::Node<'_>, Error> {
    kafka::decode_request(key, version, body)
        .map_err(|e| Error::Denied(format!("reading a {key:?} v{version} request: {e}")))
}

mod records;
#[cfg(test)]
mod tests;

pub use records::Records;
