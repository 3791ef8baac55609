//! Decision cost for a 100-rule policy: literal, prefixed and wildcard resources, mixed subjects.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use meshka_policy::authz::{
    Action, AuthorizationPolicy, Operation, PatternType, Principal, ResourcePattern, ResourceType,
    Rule,
};

fn policy() -> AuthorizationPolicy {
    let mut rules = Vec::new();
    for i in 0..100 {
        let (name, pattern_type) = match i % 3 {
            0 => (format!("team-{i}.orders"), PatternType::Literal),
            1 => (format!("team-{i}."), PatternType::Prefixed),
            _ => (format!("t{i}"), PatternType::Prefixed),
        };
        rules.push(Rule {
            name: Some(format!("rule-{i}")),
            action: if i % 10 == 9 {
                Action::Deny
            } else {
                Action::Allow
            },
            principals: vec![format!("spiffe://cluster.local/ns/team-{i}/sa/writer")],
            namespaces: vec![format!("ns-{i}")],
            service_accounts: vec![format!("team-{i}/reader")],
            users: vec![format!("User:svc-{i}")],
            resources: vec![
                ResourcePattern {
                    resource_type: ResourceType::Topic,
                    name,
                    pattern_type,
                },
                ResourcePattern {
                    resource_type: ResourceType::Group,
                    name: format!("g-{i}"),
                    pattern_type: PatternType::Literal,
                },
            ],
            operations: vec![Operation::Read, Operation::Write],
        });
    }
    AuthorizationPolicy {
        rules,
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let Ok(compiled) = policy().compile() else {
        return;
    };
    let writer = Principal::from_spiffe_id("spiffe://cluster.local/ns/team-52/sa/writer");
    let stranger = Principal::from_spiffe_id("spiffe://cluster.local/ns/other/sa/x");
    c.bench_function("decide 100 rules: allowed by prefix", |b| {
        b.iter(|| {
            compiled.decide(
                black_box(&writer),
                ResourceType::Topic,
                black_box("team-52.orders.v1"),
                Operation::Write,
            )
        })
    });
    c.bench_function("decide 100 rules: implied Describe", |b| {
        b.iter(|| {
            compiled.decide(
                black_box(&writer),
                ResourceType::Topic,
                black_box("team-52.orders.v1"),
                Operation::Describe,
            )
        })
    });
    let bound = compiled.bind(writer.clone());
    c.bench_function("decide_bound 100 rules: allowed by prefix", |b| {
        b.iter(|| {
            compiled.decide_bound(
                black_box(&bound),
                ResourceType::Topic,
                black_box("team-52.orders.v1"),
                Operation::Write,
            )
        })
    });
    c.bench_function("decide 100 rules: default deny", |b| {
        b.iter(|| {
            compiled.decide(
                black_box(&stranger),
                ResourceType::Topic,
                black_box("team-52.orders.v1"),
                Operation::Read,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
