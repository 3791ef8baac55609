//! The decisions an enforcer made, kept for the host to log and count, then recycled: a later
//! decision refills a reported record (its strings and check list keep their capacity), so a
//! steady stream of decisions allocates nothing.

use std::fmt::Write as _;
use std::ops::Deref;

use meshka_codec::head::RequestHead;

use super::{CheckRecord, DecisionRecord};
use crate::authz::{Operation, Principal, ResourceType};

/// Spares kept for reuse; what a burst of decisions needs beyond them is freed.
const SPARE_RECORDS: usize = 64;
const SPARE_CHECKS: usize = 256;

/// Every decided request since the host last [`cleared`](Records::clear) them, in order.
#[derive(Debug, Default)]
pub struct Records {
    made: Vec<DecisionRecord>,
    spare: Vec<DecisionRecord>,
    spare_checks: Vec<CheckRecord>,
}

impl Records {
    /// Empties the list; its records and checks become spares for later decisions.
    pub fn clear(&mut self) {
        for mut record in self.made.drain(..) {
            if self.spare.len() >= SPARE_RECORDS {
                continue;
            }
            let keep = record
                .checks
                .len()
                .min(SPARE_CHECKS.saturating_sub(self.spare_checks.len()));
            self.spare_checks.extend(record.checks.drain(..keep));
            record.checks.clear();
            record.error = None;
            self.spare.push(record);
        }
    }

    /// Empties the list and frees the spares.
    pub fn shrink_to_fit(&mut self) {
        self.made = Vec::new();
        self.spare = Vec::new();
        self.spare_checks = Vec::new();
    }

    pub(crate) fn push(&mut self, record: DecisionRecord) {
        self.made.push(record);
    }

    /// A record for the request `head` starts, neither forwarded nor allowed yet, without
    /// checks: a spare where there is one.
    pub(crate) fn blank(
        &mut self,
        head: &RequestHead<'_>,
        principal: &Principal,
        audit: bool,
    ) -> DecisionRecord {
        let mut record = self.spare.pop().unwrap_or_else(|| DecisionRecord {
            api_key: 0,
            api: "",
            version: 0,
            correlation_id: 0,
            principal: String::new(),
            forwarded: false,
            allowed: false,
            audit: false,
            checks: Vec::new(),
            error: None,
        });
        record.api_key = head.api.key();
        record.api = head.api.name();
        record.version = head.api_version;
        record.correlation_id = head.correlation_id;
        record.principal.clear();
        // Writing into a String cannot fail.
        let _ = write!(record.principal, "{principal}");
        record.forwarded = false;
        record.allowed = false;
        record.audit = audit;
        record
    }

    /// One check's outcome: a spare where there is one.
    pub(crate) fn check(
        &mut self,
        resource: ResourceType,
        name: &str,
        operation: Operation,
        allowed: bool,
        rule: Option<usize>,
    ) -> CheckRecord {
        match self.spare_checks.pop() {
            Some(mut check) => {
                check.resource = resource;
                check.name.clear();
                check.name.push_str(name);
                check.operation = operation;
                check.allowed = allowed;
                check.rule = rule;
                check
            }
            None => CheckRecord {
                resource,
                name: name.to_owned(),
                operation,
                allowed,
                rule,
            },
        }
    }
}

impl Deref for Records {
    type Target = [DecisionRecord];

    fn deref(&self) -> &[DecisionRecord] {
        &self.made
    }
}
