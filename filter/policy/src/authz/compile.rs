//! Compilation of a validated [`AuthorizationPolicy`] into tables that decide without building
//! strings: one table per (resource type, requested operation), each holding the deny and the
//! allow rules that can apply — with `All` and Kafka's implied operations already expanded —
//! indexed by literal name (`BTreeMap`), wildcard `*`, and prefix (one map lookup per distinct
//! prefix length).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::pattern::Pattern;
use super::principal::Principal;
use super::types::{Action, AuthorizationPolicy, Mode, Operation, PatternType, ResourceType, Rule};
use super::validate::{ValidationErrors, ANONYMOUS_USER};

static NEXT_POLICY_ID: AtomicU64 = AtomicU64::new(1);

/// A validated, compiled policy. Build it once per configuration (`on_configure`) and share it.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    /// Unique per compilation in this process (VM): ties [`BoundPrincipal`]s to their policy.
    ///
    /// [`BoundPrincipal`]: super::decide::BoundPrincipal
    pub(crate) id: u64,
    pub(crate) mode: Mode,
    pub(crate) default_action: Action,
    pub(crate) subjects: Vec<Subjects>,
    names: Vec<Option<Box<str>>>,
    /// Indexed by `resource_type.index() * Operation::ALL.len() + operation.index()`.
    pub(crate) tables: Vec<OpTable>,
}

/// The rules that may decide one (resource type, requested operation).
#[derive(Clone, Debug, Default)]
pub(crate) struct OpTable {
    pub(crate) deny: NameIndex,
    pub(crate) allow: NameIndex,
}

/// Rule indexes by resource-name pattern; every list is sorted ascending and deduplicated.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameIndex {
    any: Vec<usize>,
    literal: BTreeMap<Box<str>, Vec<usize>>,
    prefixed: BTreeMap<Box<str>, Vec<usize>>,
    /// Distinct prefix lengths in bytes, ascending.
    prefix_lens: Vec<usize>,
}

impl NameIndex {
    /// A name each pattern of the index matches: the literal names, the prefixes themselves, and
    /// `*` for the all-names pattern.
    pub(crate) fn sample_names(&self) -> impl Iterator<Item = &str> {
        let any = (!self.any.is_empty()).then_some("*");
        self.literal
            .keys()
            .chain(self.prefixed.keys())
            .map(|k| &**k)
            .chain(any)
    }

    fn insert(&mut self, pattern_type: PatternType, name: &str, rule: usize) {
        match pattern_type {
            PatternType::Literal if name == "*" => self.any.push(rule),
            PatternType::Literal => self.literal.entry(name.into()).or_default().push(rule),
            PatternType::Prefixed => {
                self.prefixed.entry(name.into()).or_default().push(rule);
                self.prefix_lens.push(name.len());
            }
        }
    }

    fn finish(&mut self) {
        fn tidy(v: &mut Vec<usize>) {
            v.sort_unstable();
            v.dedup();
        }
        tidy(&mut self.any);
        self.literal.values_mut().for_each(tidy);
        self.prefixed.values_mut().for_each(tidy);
        tidy(&mut self.prefix_lens);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.any.is_empty() && self.literal.is_empty() && self.prefixed.is_empty()
    }

    /// The lowest rule index whose resource pattern matches `name` and for which `subject`
    /// holds.
    pub(crate) fn first_match(
        &self,
        name: &str,
        subject: &mut impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let mut best: Option<usize> = None;
        let mut consider = |rules: &[usize]| {
            for &rule in rules {
                if best.is_some_and(|b| rule >= b) {
                    break;
                }
                if subject(rule) {
                    best = Some(rule);
                    break;
                }
            }
        };
        consider(&self.any);
        if let Some(rules) = self.literal.get(name) {
            consider(rules);
        }
        for &len in &self.prefix_lens {
            // `get` is None past the end and inside a UTF-8 sequence: no such prefix there.
            let Some(prefix) = name.get(..len) else {
                if len > name.len() {
                    break;
                }
                continue;
            };
            if let Some(rules) = self.prefixed.get(prefix) {
                consider(rules);
            }
        }
        best
    }
}

/// A rule's subjects; a principal matches when it matches any of them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Subjects {
    everyone: bool,
    anonymous: bool,
    principals: Vec<Pattern>,
    namespaces: Vec<Pattern>,
    service_accounts: Vec<(Pattern, Pattern)>,
    users: Vec<Pattern>,
}

impl Subjects {
    fn compile(rule: &Rule) -> Subjects {
        Subjects::from_lists(
            &rule.principals,
            &rule.namespaces,
            &rule.service_accounts,
            &rule.users,
        )
    }

    /// Subjects from the four lists rules (and routing tenants and quotas) name callers with;
    /// entries that do not parse are skipped (validation reports them).
    pub(crate) fn from_lists(
        principals: &[String],
        namespaces: &[String],
        service_accounts: &[String],
        users: &[String],
    ) -> Subjects {
        let mut s = Subjects::default();
        for p in principals.iter().filter_map(|p| Pattern::parse(p).ok()) {
            match p {
                Pattern::Any => s.everyone = true,
                other => s.principals.push(other),
            }
        }
        s.namespaces = namespaces
            .iter()
            .filter_map(|n| Pattern::parse(n).ok())
            .collect();
        s.service_accounts = service_accounts
            .iter()
            .filter_map(|v| {
                let (ns, sa) = v.split_once('/')?;
                Some((Pattern::parse(ns).ok()?, Pattern::parse(sa).ok()?))
            })
            .collect();
        for user in users.iter().filter_map(|u| u.strip_prefix("User:")) {
            if user == ANONYMOUS_USER {
                s.anonymous = true;
            }
            if let Ok(p) = Pattern::parse(user) {
                s.users.push(p);
            }
        }
        s
    }

    pub(crate) fn matches(&self, p: &Principal) -> bool {
        if self.everyone || (self.anonymous && p.is_anonymous()) {
            return true;
        }
        if let Some(id) = &p.spiffe_id {
            if self.principals.iter().any(|pat| pat.matches(id)) {
                return true;
            }
        }
        if let Some(ns) = &p.namespace {
            if self.namespaces.iter().any(|pat| pat.matches(ns)) {
                return true;
            }
            if let Some(sa) = &p.service_account {
                if self
                    .service_accounts
                    .iter()
                    .any(|(n, s)| n.matches(ns) && s.matches(sa))
                {
                    return true;
                }
            }
        }
        if let Some(user) = &p.sasl_user {
            if self.users.iter().any(|pat| pat.matches(user)) {
                return true;
            }
        }
        false
    }
}

impl AuthorizationPolicy {
    /// Validates and compiles the policy.
    pub fn compile(&self) -> Result<CompiledPolicy, ValidationErrors> {
        CompiledPolicy::new(self)
    }
}

impl CompiledPolicy {
    /// Validates (errors under `authorization`) and compiles `policy`.
    pub fn new(policy: &AuthorizationPolicy) -> Result<CompiledPolicy, ValidationErrors> {
        policy.validate()?;
        let ops = Operation::ALL.len();
        let mut tables = vec![OpTable::default(); ResourceType::ALL.len() * ops];
        for (i, rule) in policy.rules.iter().enumerate() {
            for resource in &rule.resources {
                for requested in Operation::ALL {
                    let covering = match rule.action {
                        Action::Deny => requested.denied_by(),
                        Action::Allow => requested.allowed_by(),
                    };
                    if !rule.operations.iter().any(|op| covering.contains(op)) {
                        continue;
                    }
                    let slot = resource.resource_type.index() * ops + requested.index();
                    let Some(table) = tables.get_mut(slot) else {
                        continue;
                    };
                    let index = match rule.action {
                        Action::Deny => &mut table.deny,
                        Action::Allow => &mut table.allow,
                    };
                    index.insert(resource.pattern_type, &resource.name, i);
                }
            }
        }
        for table in &mut tables {
            table.deny.finish();
            table.allow.finish();
        }
        Ok(CompiledPolicy {
            id: NEXT_POLICY_ID.fetch_add(1, Ordering::Relaxed),
            mode: policy.mode,
            default_action: policy.default_action,
            subjects: policy.rules.iter().map(Subjects::compile).collect(),
            names: policy
                .rules
                .iter()
                .map(|r| r.name.as_deref().map(Box::from))
                .collect(),
            tables,
        })
    }

    /// Whether `principal` may do `operation` on at least one resource of `resource_type`: Kafka's
    /// "on any topic" checks (an idempotent producer without a transactional id needs `Write` on
    /// some topic, or `IdempotentWrite` on the cluster). Tries one name per allow pattern.
    pub fn allows_any(
        &self,
        principal: &Principal,
        resource_type: ResourceType,
        operation: Operation,
    ) -> bool {
        self.table(resource_type, operation).is_some_and(|t| {
            t.allow.sample_names().any(|name| {
                self.decide(principal, resource_type, name, operation)
                    .allowed
            })
        })
    }

    /// `enforce` or `audit`.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The action when no rule matches.
    pub fn default_action(&self) -> Action {
        self.default_action
    }

    /// The number of rules.
    pub fn rule_count(&self) -> usize {
        self.subjects.len()
    }

    /// The `name` of `rules[index]`, if it has one (for decision logs).
    pub fn rule_name(&self, index: usize) -> Option<&str> {
        self.names.get(index).and_then(|n| n.as_deref())
    }

    pub(crate) fn table(
        &self,
        resource_type: ResourceType,
        operation: Operation,
    ) -> Option<&OpTable> {
        self.tables
            .get(resource_type.index() * Operation::ALL.len() + operation.index())
    }
}

impl TryFrom<&AuthorizationPolicy> for CompiledPolicy {
    type Error = ValidationErrors;

    fn try_from(policy: &AuthorizationPolicy) -> Result<Self, Self::Error> {
        CompiledPolicy::new(policy)
    }
}
