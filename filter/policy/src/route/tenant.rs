//! A tenant compiled into a [`NameMap`]: exact topic aliases, prefix rewrites and the tenant's
//! prefixes, checked at compile time to map back exactly.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::config::{Tenant, TopicRoute};
use super::names::{ClientName, NameKind, NameMap};
use crate::authz::compile::Subjects;
use crate::authz::validate::{validate_subjects, ValidationError, MAX_TOPIC_NAME_LEN};
use crate::authz::Principal;

/// A tenant ready to rewrite names.
#[derive(Debug, Clone)]
pub struct CompiledTenant {
    name: Box<str>,
    subjects: Subjects,
    topic_prefix: Option<Box<str>>,
    group_prefix: Option<Box<str>>,
    transactional_id_prefix: Option<Box<str>>,
    /// Client name → broker name, and back.
    aliases: BTreeMap<Box<str>, Box<str>>,
    aliases_back: BTreeMap<Box<str>, Box<str>>,
    /// (client prefix, broker prefix), longest client prefix first.
    prefixes: Vec<(Box<str>, Box<str>)>,
    /// The same pairs, longest broker prefix first.
    prefixes_back: Vec<(Box<str>, Box<str>)>,
}

impl CompiledTenant {
    /// Compiles `tenant`, reporting every problem under `path` (`routing.tenants[0]`).
    pub fn new(
        tenant: &Tenant,
        path: &str,
        errors: &mut Vec<ValidationError>,
    ) -> Option<CompiledTenant> {
        let before = errors.len();
        let invalid = |field: String, reason: String| ValidationError::Invalid {
            path: field,
            reason,
        };
        if tenant.name.trim().is_empty() || tenant.name.chars().any(char::is_control) {
            errors.push(invalid(
                format!("{path}.name"),
                "give the tenant a printable name such as \"team-a\"".into(),
            ));
        }
        validate_subjects(
            [
                &tenant.principals,
                &tenant.namespaces,
                &tenant.service_accounts,
                &tenant.users,
            ],
            path,
            errors,
        );
        for (field, prefix) in [
            ("topicPrefix", &tenant.topic_prefix),
            ("groupPrefix", &tenant.group_prefix),
            ("transactionalIdPrefix", &tenant.transactional_id_prefix),
        ] {
            if let Some(p) = prefix {
                if let Err(reason) = check_name_part(p, field == "topicPrefix") {
                    errors.push(invalid(format!("{path}.{field}"), reason));
                }
            }
        }
        let mut aliases: BTreeMap<Box<str>, Box<str>> = BTreeMap::new();
        let mut aliases_back: BTreeMap<Box<str>, Box<str>> = BTreeMap::new();
        let mut prefixes = Vec::new();
        for (i, route) in tenant.topics.iter().enumerate() {
            let at = format!("{path}.topics[{i}]");
            match route_kind(route) {
                Err(reason) => errors.push(invalid(at, reason)),
                Ok((exact, from)) => {
                    for (field, value) in [
                        (if exact { "name" } else { "prefix" }, from),
                        ("to", route.to.as_str()),
                    ] {
                        if let Err(reason) = check_name_part(value, true) {
                            errors.push(invalid(format!("{at}.{field}"), reason));
                        }
                    }
                    if exact {
                        if aliases
                            .insert(Box::from(from), Box::from(route.to.as_str()))
                            .is_some()
                        {
                            errors.push(invalid(
                                format!("{at}.name"),
                                format!(
                                    "{from:?} is routed twice: give each client name one route"
                                ),
                            ));
                        }
                        if aliases_back
                            .insert(Box::from(route.to.as_str()), Box::from(from))
                            .is_some()
                        {
                            errors.push(invalid(format!("{at}.to"), format!("two client names route to {:?}: responses could not name it back; give each broker topic one client name", route.to)));
                        }
                    } else {
                        prefixes.push((
                            Box::<str>::from(from),
                            Box::<str>::from(route.to.as_str()),
                            at,
                        ));
                    }
                }
            }
        }
        // Every broker name must map back to exactly one client name: no broker-side prefix may
        // contain another (or the tenant's topic prefix), and no alias target may fall under one.
        let topic_prefix = tenant.topic_prefix.as_deref();
        for (i, (from, to, at)) in prefixes.iter().enumerate() {
            for (other_from, other_to, _) in prefixes.iter().skip(i + 1) {
                if from.starts_with(&**other_from) || other_from.starts_with(&**from) {
                    errors.push(invalid(format!("{at}.prefix"), format!("{from:?} overlaps the prefix {other_from:?} of another route: a name would match both")));
                }
                if to.starts_with(&**other_to) || other_to.starts_with(&**to) {
                    errors.push(invalid(format!("{at}.to"), format!("{to:?} overlaps {other_to:?}, the broker prefix of another route: responses could not tell them apart")));
                }
            }
            if let Some(tp) = topic_prefix {
                if to.starts_with(tp) || tp.starts_with(&**to) {
                    errors.push(invalid(format!("{at}.to"), format!("{to:?} overlaps the tenant's topicPrefix {tp:?}: responses could not tell them apart")));
                }
            }
        }
        for (target, from) in &aliases_back {
            let under_prefix = prefixes.iter().any(|(_, to, _)| target.starts_with(&**to))
                || topic_prefix.is_some_and(|tp| target.starts_with(tp));
            if under_prefix {
                errors.push(invalid(format!("{path}.topics"), format!("the route of {from:?} targets {target:?}, which a prefix of this tenant also produces: responses could not name it back; pick a target outside the tenant's prefixes")));
            }
        }
        if errors.len() > before {
            return None;
        }
        let mut prefixes: Vec<(Box<str>, Box<str>)> =
            prefixes.into_iter().map(|(f, t, _)| (f, t)).collect();
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        let mut prefixes_back = prefixes.clone();
        prefixes_back.sort_by_key(|p| std::cmp::Reverse(p.1.len()));
        Some(CompiledTenant {
            name: tenant.name.as_str().into(),
            subjects: Subjects::from_lists(
                &tenant.principals,
                &tenant.namespaces,
                &tenant.service_accounts,
                &tenant.users,
            ),
            topic_prefix: tenant.topic_prefix.as_deref().map(Box::from),
            group_prefix: tenant.group_prefix.as_deref().map(Box::from),
            transactional_id_prefix: tenant.transactional_id_prefix.as_deref().map(Box::from),
            aliases,
            aliases_back,
            prefixes,
            prefixes_back,
        })
    }

    /// The tenant's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `principal` belongs to this tenant.
    pub fn covers(&self, principal: &Principal) -> bool {
        self.subjects.matches(principal)
    }

    fn prefix(&self, kind: NameKind) -> Option<&str> {
        match kind {
            NameKind::Topic => self.topic_prefix.as_deref(),
            NameKind::Group => self.group_prefix.as_deref(),
            NameKind::TransactionalId => self.transactional_id_prefix.as_deref(),
        }
    }
}

/// `(exact, client side)` of a route with exactly one of `name` and `prefix`.
fn route_kind(route: &TopicRoute) -> Result<(bool, &str), String> {
    match (&route.name, &route.prefix) {
        (Some(name), None) => Ok((true, name)),
        (None, Some(prefix)) => Ok((false, prefix)),
        _ => Err("give exactly one of name (one topic) and prefix (every topic starting with it), and to".into()),
    }
}

/// A topic name or prefix: Kafka's legal characters (ASCII letters, digits, `.`, `_`, `-`).
fn check_name_part(value: &str, topic: bool) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > MAX_TOPIC_NAME_LEN {
        return Err(format!(
            "{value:?} is longer than Kafka's {MAX_TOPIC_NAME_LEN}-character topic names"
        ));
    }
    if topic
        && !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(format!(
            "{value:?} has characters Kafka does not allow in topic names: use ASCII letters, digits, '.', '_' and '-'"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{value:?} has control characters"));
    }
    Ok(())
}

impl NameMap for CompiledTenant {
    fn to_broker<'a>(&self, kind: NameKind, name: &'a str) -> Cow<'a, str> {
        if kind == NameKind::Topic {
            if let Some(to) = self.aliases.get(name) {
                return Cow::Owned(to.to_string());
            }
            for (from, to) in &self.prefixes {
                if let Some(rest) = name.strip_prefix(&**from) {
                    return Cow::Owned(format!("{to}{rest}"));
                }
            }
        }
        match self.prefix(kind) {
            Some(prefix) => Cow::Owned(format!("{prefix}{name}")),
            None => Cow::Borrowed(name),
        }
    }

    fn to_client<'a>(&self, kind: NameKind, name: &'a str) -> ClientName<'a> {
        if kind == NameKind::Topic {
            if let Some(from) = self.aliases_back.get(name) {
                return ClientName::Named(Cow::Owned(from.to_string()));
            }
            for (from, to) in &self.prefixes_back {
                if let Some(rest) = name.strip_prefix(&**to) {
                    return ClientName::Named(Cow::Owned(format!("{from}{rest}")));
                }
            }
        }
        match self.prefix(kind) {
            Some(prefix) => match name.strip_prefix(prefix) {
                Some(rest) => ClientName::Named(Cow::Borrowed(rest)),
                None => ClientName::Hidden,
            },
            None => ClientName::Named(Cow::Borrowed(name)),
        }
    }
}
