//! The `meshka validate | explain | render` commands as pure functions from a manifest's text to
//! what to print and the exit code, so that the binary only reads files and prints.
//!
//! Exit codes ([`ExitCode`]): 0 success (valid; allowed; rendered), 1 a policy is invalid,
//! 2 usage error or unreadable input, 3 `explain`: the request is denied by a policy.

use meshka_policy::authz::{Decision, Operation, Principal, ResourceType, CLUSTER_NAME};
use meshka_policy::route::throttle::Direction;
use meshka_policy::route::{CompiledQuotas, NameKind, NameMap, Quota, QuotaScope, RoutingConfig};

use crate::crd::validate::{
    check, display_name, overlap_message, overlapping, parse_manifests, Checked,
};
use crate::crd::{wasm_plugin, FilterImage};

/// The process exit codes of the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Valid, allowed, rendered.
    Success = 0,
    /// At least one policy is invalid (or not a KafkaPolicy).
    Invalid = 1,
    /// Bad arguments or unreadable input.
    Usage = 2,
    /// `explain`: at least one policy denies the request.
    Denied = 3,
}

/// What a command prints and how it exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// For standard output.
    pub stdout: String,
    /// For standard error.
    pub stderr: String,
    /// The exit code.
    pub code: ExitCode,
}

impl Outcome {
    fn failed(code: ExitCode, source: &str, message: impl std::fmt::Display) -> Outcome {
        Outcome {
            stdout: String::new(),
            stderr: format!("{source}: {message}\n"),
            code,
        }
    }
}

/// Output format of `render` and `explain`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// YAML documents (render) or text (explain).
    #[default]
    Text,
    /// JSON.
    Json,
}

/// `meshka validate`: checks every KafkaPolicy in `text` (read from `source`).
pub fn validate(text: &str, source: &str) -> Outcome {
    let policies = match parse_manifests(text) {
        Ok(p) => p,
        Err(e) => return Outcome::failed(ExitCode::Invalid, source, e),
    };
    let mut out = Outcome {
        stdout: String::new(),
        stderr: String::new(),
        code: ExitCode::Success,
    };
    for policy in &policies {
        match check(policy) {
            Ok(checked) => {
                let a = &policy.spec.authorization;
                let ports: Vec<String> = policy.spec.ports.iter().map(u16::to_string).collect();
                out.stdout.push_str(&format!(
                    "{}: valid ({} rule{}, mode {}, default {}, ports {}, {}{})\n",
                    display_name(&policy.metadata),
                    checked.compiled.rule_count(),
                    plural(checked.compiled.rule_count()),
                    enum_str(&a.mode),
                    enum_str(&a.default_action),
                    ports.join(","),
                    policy.spec.fail_strategy.as_istio(),
                    policy
                        .spec
                        .routing
                        .as_ref()
                        .map(routing_summary)
                        .unwrap_or_default(),
                ));
            }
            Err(e) => {
                out.stderr.push_str(&format!("{source}: {e}\n"));
                out.code = ExitCode::Invalid;
            }
        }
    }
    for policy in &policies {
        let names = overlapping(policy, &policies);
        if !names.is_empty() {
            out.stderr.push_str(&format!(
                "{source}: warning: {}: {}\n",
                display_name(&policy.metadata),
                overlap_message(&names)
            ));
        }
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `; routing: 2 tenants (team-a, team-b), broker address …, 2 quotas (1 read-only)` for the
/// `validate` summary.
fn routing_summary(routing: &RoutingConfig) -> String {
    let mut parts = Vec::new();
    if !routing.tenants.is_empty() {
        let names: Vec<&str> = routing.tenants.iter().map(|t| t.name.as_str()).collect();
        parts.push(format!(
            "{} tenant{} ({})",
            names.len(),
            plural(names.len()),
            names.join(", ")
        ));
    }
    if let Some(address) = &routing.broker_address {
        parts.push(format!("broker address {address}"));
    }
    if !routing.quotas.is_empty() {
        let read_only = routing.quotas.iter().filter(|q| q.read_only).count();
        parts.push(format!(
            "{} quota{}{}",
            routing.quotas.len(),
            plural(routing.quotas.len()),
            if read_only > 0 {
                format!(" ({read_only} read-only)")
            } else {
                String::new()
            }
        ));
    }
    if parts.is_empty() {
        parts.push("nothing rewritten".into());
    }
    format!("; routing: {}", parts.join(", "))
}

/// What routing does to an explained request, as the filter does it: the caller's tenant and
/// the broker's name for the resource (authorization decides on that name), a quota that makes
/// the topic read-only for the caller, and the quotas whose byte rates the transfer is charged to.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Routed {
    /// The caller's tenant, by name.
    tenant: Option<String>,
    /// The resource's name on the broker.
    broker_name: String,
    /// The index in `spec.routing.quotas` of a quota that makes the topic read-only for the
    /// caller (writes are then denied whatever the rules say).
    read_only_quota: Option<usize>,
    /// Indexes in `spec.routing.quotas` of the quotas whose rates apply to this operation
    /// (Write: produce, Read: fetch).
    rate_quotas: Vec<usize>,
}

fn route(checked: &Checked, config: &RoutingConfig, request: &Request) -> Option<Routed> {
    let routing = checked.routing.as_ref()?;
    let tenant = routing
        .tenant_of(&request.principal)
        .and_then(|i| routing.tenant(i));
    let kind = match request.resource_type {
        ResourceType::Topic => Some(NameKind::Topic),
        ResourceType::Group => Some(NameKind::Group),
        ResourceType::TransactionalId => Some(NameKind::TransactionalId),
        ResourceType::Cluster => None,
    };
    let broker_name = match (tenant, kind) {
        (Some(t), Some(kind)) => t.to_broker(kind, &request.resource_name).into_owned(),
        _ => request.resource_name.clone(),
    };
    let mut routed = Routed {
        tenant: tenant.map(|t| t.name().to_owned()),
        broker_name,
        read_only_quota: None,
        rate_quotas: Vec::new(),
    };
    if request.resource_type != ResourceType::Topic {
        return Some(routed);
    }
    // Each quota on its own, to name the ones that apply (the whole list compiled already).
    let one = |q: &Quota| CompiledQuotas::new(std::slice::from_ref(q), "spec.routing.quotas").ok();
    for (i, quota) in config.quotas.iter().enumerate() {
        let Some(compiled) = one(quota) else { continue };
        if request.operation == Operation::Write
            && routed.read_only_quota.is_none()
            && compiled.read_only(&request.principal, &routed.broker_name)
        {
            routed.read_only_quota = Some(i);
        }
        let dir = match request.operation {
            Operation::Write => Direction::Produce,
            Operation::Read => Direction::Fetch,
            _ => continue,
        };
        if !compiled
            .budgets(
                &request.principal,
                routed.tenant.as_deref(),
                &routed.broker_name,
                dir,
            )
            .is_empty()
        {
            routed.rate_quotas.push(i);
        }
    }
    Some(routed)
}

/// `quotas[1] (team-a-produce)`.
fn quota_label(config: &RoutingConfig, i: usize) -> String {
    let name = config
        .quotas
        .get(i)
        .and_then(|q| q.name.as_deref())
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    format!("spec.routing.quotas[{i}]{name}")
}

/// `produce 1048576 bytes/s per tenant`.
fn quota_rate(quota: &Quota, operation: Operation) -> String {
    let rate = match operation {
        Operation::Write => quota.produce_bytes_per_second.map(|r| ("produce", r)),
        _ => quota.fetch_bytes_per_second.map(|r| ("fetch", r)),
    };
    let per = match quota.per {
        QuotaScope::PrincipalTopic => "per caller and topic",
        QuotaScope::Principal => "per caller",
        QuotaScope::Tenant => "per tenant",
    };
    match rate {
        Some((what, rate)) => format!("{what} at most {rate} bytes/s {per}"),
        None => String::new(),
    }
}

fn enum_str<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A request to explain: who, on what, how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The caller.
    pub principal: Principal,
    /// The resource type.
    pub resource_type: ResourceType,
    /// The resource name (`kafka-cluster` for the cluster).
    pub resource_name: String,
    /// The operation.
    pub operation: Operation,
}

/// Parses `topic:orders`, `group:billing`, `transactionalId:tx-1`, `cluster`.
pub fn parse_resource(s: &str) -> Result<(ResourceType, String), String> {
    let (kind, name) = match s.split_once(':') {
        Some((kind, name)) => (kind, Some(name)),
        None => (s, None),
    };
    let resource_type: ResourceType = kind
        .parse()
        .map_err(|e| format!("{e} (write e.g. topic:orders)"))?;
    let name = match (resource_type, name) {
        (ResourceType::Cluster, None) => CLUSTER_NAME.to_owned(),
        (_, Some(name)) if !name.is_empty() => name.to_owned(),
        _ => {
            return Err(format!(
                "{s:?} has no name: write {kind}:<name>, e.g. topic:orders (or just cluster)"
            ))
        }
    };
    Ok((resource_type, name))
}

/// `meshka explain`: the decision of every policy in `text` for `request`, with the rule that
/// made it and, with `spec.routing`, the caller's tenant, the broker's name for the resource, a
/// read-only quota (which denies writes whatever the rules say) and the byte rates that apply. Denied by any policy gives [`ExitCode::Denied`] (each policy is its own filter in
/// the chain: a request must pass all of them).
pub fn explain(text: &str, source: &str, request: &Request, format: Format) -> Outcome {
    let policies = match parse_manifests(text) {
        Ok(p) => p,
        Err(e) => return Outcome::failed(ExitCode::Invalid, source, e),
    };
    let mut out = Outcome {
        stdout: String::new(),
        stderr: String::new(),
        code: ExitCode::Success,
    };
    let mut json = Vec::new();
    for policy in &policies {
        let checked = match check(policy) {
            Ok(c) => c,
            Err(e) => return Outcome::failed(ExitCode::Invalid, source, e),
        };
        let routed = policy
            .spec
            .routing
            .as_ref()
            .and_then(|config| route(&checked, config, request));
        let decision: Decision = checked.compiled.decide(
            &request.principal,
            request.resource_type,
            routed
                .as_ref()
                .map_or(&request.resource_name, |r| &r.broker_name),
            request.operation,
        );
        // A read-only topic refuses writes whatever the rules say.
        let read_only = routed.as_ref().and_then(|r| r.read_only_quota);
        let allowed = decision.allowed && read_only.is_none();
        if !allowed && out.code == ExitCode::Success {
            out.code = ExitCode::Denied;
        }
        let rule = decision
            .rule
            .and_then(|i| policy.spec.authorization.rules.get(i));
        let name = display_name(&policy.metadata);
        match format {
            Format::Json => {
                let mut entry = serde_json::json!({
                    "policy": name,
                    "principal": request.principal.to_string(),
                    "resource": {"type": request.resource_type, "name": request.resource_name},
                    "operation": request.operation,
                    "decision": decision,
                    "rule": rule,
                });
                // With routing, `decision` is the rules' and `allowed` also counts read-only
                // topics.
                if let (Some(routed), Some(map)) = (&routed, entry.as_object_mut()) {
                    map.insert("allowed".into(), allowed.into());
                    map.insert(
                        "routing".into(),
                        serde_json::to_value(routed).unwrap_or_default(),
                    );
                }
                json.push(entry);
            }
            Format::Text => {
                let verdict = match read_only {
                    Some(i) => {
                        format!(
                            "deny: read-only by spec.routing.quotas[{i}]; the rules: {decision}"
                        )
                    }
                    None => decision.to_string(),
                };
                out.stdout.push_str(&format!(
                    "{name}: {} — {} {} on {}:{} ({verdict})\n",
                    if allowed { "ALLOW" } else { "DENY" },
                    request.principal,
                    request.operation,
                    request.resource_type,
                    request.resource_name,
                ));
                if let (Some(routed), Some(config)) = (&routed, &policy.spec.routing) {
                    explain_routing(&mut out.stdout, routed, config, request);
                }
                match rule {
                    Some(rule) => {
                        let label = rule
                            .name
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default();
                        out.stdout.push_str(&format!(
                            "  rules[{}]{label}:\n",
                            decision.rule.unwrap_or_default()
                        ));
                        let yaml = serde_yaml::to_string(rule).unwrap_or_default();
                        for line in yaml.lines() {
                            out.stdout.push_str(&format!("    {line}\n"));
                        }
                    }
                    None => out.stdout.push_str(&format!(
                        "  no rule matched: defaultAction is {}\n",
                        enum_str(&policy.spec.authorization.default_action)
                    )),
                }
            }
        }
    }
    if format == Format::Json {
        out.stdout = format!(
            "{}\n",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    }
    out
}

/// The routing lines of `explain`'s text: the tenant and the broker's name, a read-only quota,
/// and the byte rates the transfer is charged to.
fn explain_routing(out: &mut String, routed: &Routed, config: &RoutingConfig, request: &Request) {
    match &routed.tenant {
        Some(tenant) if routed.broker_name != request.resource_name => out.push_str(&format!(
            "  tenant {tenant}: {} {} is {} on the broker (the rules decide on that name)\n",
            request.resource_type, request.resource_name, routed.broker_name
        )),
        Some(tenant) => out.push_str(&format!(
            "  tenant {tenant}: {} {} keeps its name on the broker\n",
            request.resource_type, request.resource_name
        )),
        None => out.push_str("  in no tenant: names reach the broker unchanged\n"),
    }
    if let Some(i) = routed.read_only_quota {
        out.push_str(&format!(
            "  {}: read-only for this caller: writes are denied with TOPIC_AUTHORIZATION_FAILED whatever the rules say\n",
            quota_label(config, i)
        ));
    }
    for &i in &routed.rate_quotas {
        if let Some(quota) = config.quotas.get(i) {
            out.push_str(&format!(
                "  {}: {}\n",
                quota_label(config, i),
                quota_rate(quota, request.operation)
            ));
        }
    }
}

/// `meshka render`: the WasmPlugin of every policy in `text`, or nothing when any is invalid.
pub fn render(text: &str, source: &str, image: &FilterImage, format: Format) -> Outcome {
    let policies = match parse_manifests(text) {
        Ok(p) => p,
        Err(e) => return Outcome::failed(ExitCode::Invalid, source, e),
    };
    let mut plugins: Vec<serde_json::Value> = Vec::new();
    let mut errors = String::new();
    for policy in &policies {
        match wasm_plugin(policy, image) {
            Ok(p) => plugins.push(p),
            Err(e @ crate::crd::validate::Error::Image { .. }) => {
                return Outcome::failed(ExitCode::Usage, "meshka render", e)
            }
            Err(e) => errors.push_str(&format!("{source}: {e}\n")),
        }
    }
    if !errors.is_empty() {
        return Outcome {
            stdout: String::new(),
            stderr: errors,
            code: ExitCode::Invalid,
        };
    }
    let serialized = match format {
        Format::Json => {
            let value = match plugins.as_slice() {
                [one] => one.clone(),
                _ => serde_json::json!({"apiVersion": "v1", "kind": "List", "items": plugins}),
            };
            serde_json::to_string_pretty(&value)
                .map(|s| format!("{s}\n"))
                .map_err(|e| e.to_string())
        }
        Format::Text => plugins
            .iter()
            .map(|p| serde_yaml::to_string(p).map(|y| format!("---\n{y}")))
            .collect::<Result<String, _>>()
            .map_err(|e| e.to_string()),
    };
    match serialized {
        Ok(stdout) => Outcome {
            stdout,
            stderr: String::new(),
            code: ExitCode::Success,
        },
        // Never print a partial manifest that a pipeline would apply.
        Err(e) => Outcome::failed(
            ExitCode::Invalid,
            source,
            format!("could not serialize the WasmPlugin: {e}"),
        ),
    }
}

/// Reads `path` (`-` is standard input).
fn read_input(path: &std::path::Path) -> Result<(String, String), Outcome> {
    let source = path.display().to_string();
    let text = if source == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
    } else {
        std::fs::read_to_string(path)
    };
    match text {
        Ok(t) => Ok((t, source)),
        Err(e) => Err(Outcome::failed(
            ExitCode::Usage,
            &source,
            format!("cannot read: {e}; give the path of a KafkaPolicy YAML file, or - for standard input"),
        )),
    }
}

/// Arguments of `meshka validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// KafkaPolicy manifest (YAML or JSON, several documents allowed); `-` reads standard input.
    pub file: std::path::PathBuf,
}

/// Arguments of `meshka explain`.
#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// KafkaPolicy manifest; `-` reads standard input.
    pub file: std::path::PathBuf,
    /// The caller: `spiffe://cluster.local/ns/<ns>/sa/<sa>`, `User:alice`, both joined by
    /// " + ", or `User:ANONYMOUS`.
    #[arg(long)]
    pub principal: Principal,
    /// The resource: `topic:orders`, `group:billing`, `transactionalId:tx-1`, or `cluster`,
    /// named as the client names it: with `spec.routing`, the caller's tenant maps it to the
    /// broker's name, on which the rules decide.
    #[arg(long, value_parser = parse_resource)]
    pub resource: (ResourceType, String),
    /// The Kafka operation: Read, Write, Create, Delete, Alter, Describe, DescribeConfigs,
    /// AlterConfigs, IdempotentWrite, ClusterAction.
    #[arg(long)]
    pub operation: Operation,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `meshka render`.
#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// KafkaPolicy manifest; `-` reads standard input.
    pub file: std::path::PathBuf,
    /// Where sidecars fetch the filter (`oci://…`, `https://…`); the controller's --filter-url.
    #[arg(long, env = "MESHKA_FILTER_URL")]
    pub filter_url: Option<String>,
    /// The filter's sha256 (64 hex digits, printed by `make oci`).
    #[arg(long, env = "MESHKA_FILTER_SHA256")]
    pub filter_sha256: Option<String>,
    /// IfNotPresent or Always.
    #[arg(long)]
    pub image_pull_policy: Option<String>,
    /// Print JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
}

impl RenderArgs {
    /// The filter image these flags describe (defaults for what is not given).
    pub fn image(&self) -> FilterImage {
        let default = FilterImage::default();
        FilterImage {
            url: self.filter_url.clone().unwrap_or(default.url),
            sha256: self.filter_sha256.clone().filter(|s| !s.is_empty()),
            pull_policy: self.image_pull_policy.clone(),
            pull_secret: None,
        }
    }
}

fn format(json: bool) -> Format {
    if json {
        Format::Json
    } else {
        Format::Text
    }
}

/// `meshka validate FILE`.
pub fn run_validate(args: &ValidateArgs) -> Outcome {
    match read_input(&args.file) {
        Ok((text, source)) => validate(&text, &source),
        Err(o) => o,
    }
}

/// `meshka explain FILE --principal … --resource … --operation …`.
pub fn run_explain(args: &ExplainArgs) -> Outcome {
    let request = Request {
        principal: args.principal.clone(),
        resource_type: args.resource.0,
        resource_name: args.resource.1.clone(),
        operation: args.operation,
    };
    match read_input(&args.file) {
        Ok((text, source)) => explain(&text, &source, &request, format(args.json)),
        Err(o) => o,
    }
}

/// `meshka render FILE`.
pub fn run_render(args: &RenderArgs) -> Outcome {
    match read_input(&args.file) {
        Ok((text, source)) => render(&text, &source, &args.image(), format(args.json)),
        Err(o) => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse() {
        assert_eq!(
            parse_resource("topic:orders"),
            Ok((ResourceType::Topic, "orders".into()))
        );
        assert_eq!(
            parse_resource("cluster"),
            Ok((ResourceType::Cluster, CLUSTER_NAME.into()))
        );
        assert_eq!(
            parse_resource("transactionalId:tx:1"),
            Ok((ResourceType::TransactionalId, "tx:1".into()))
        );
        assert!(parse_resource("topic")
            .unwrap_err()
            .contains("topic:<name>"));
        assert!(parse_resource("topics:a")
            .unwrap_err()
            .contains("unknown resource type"));
    }
}
