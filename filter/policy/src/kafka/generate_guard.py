#!/usr/bin/env python3
"""Generates guard/schema.rs: the layout of every Kafka message the filter decodes, version by
version, as tables that `guard.rs` walks.

The layouts are read from kafka-protocol 0.18's own generated decoders (no Kafka JSON specs are
needed): every `impl Decodable` body is evaluated for each version, which leaves the sequence of
reads that version makes, and runs of versions with the same reads share one layout.

Why a walk before kafka-protocol decodes: kafka-protocol 0.18 decodes an array with
`Vec::with_capacity(count)` straight from the wire (upstream PRs kafka-protocol-rs#152, #161,
#200 are open), so 8 bytes claiming 2^31 elements abort the process (a capacity-overflow panic
in Wasm, an allocation failure on 64-bit hosts). Tables instead of generated walking code:
the same walk in ~40 KB of data and one small interpreter instead of ~350 KB of code.

Usage: python3 generate_guard.py ~/.cargo/registry/src/*/kafka-protocol-0.18.0/src/messages > guard/schema.rs
"""

import re
import sys
from pathlib import Path

SRC = Path(sys.argv[1])
# The responses the kafka module rewrites or merges denials into, and those routing rewrites.
RESPONSES = [
    "add_partitions_to_txn_response.rs",
    "alter_configs_response.rs",
    "consumer_group_heartbeat_response.rs",
    "describe_cluster_response.rs",
    "describe_configs_response.rs",
    "find_coordinator_response.rs",
    "incremental_alter_configs_response.rs",
    "offset_delete_response.rs",
    "api_versions_response.rs",
    "consumer_group_describe_response.rs",
    "create_partitions_response.rs",
    "create_topics_response.rs",
    "delete_groups_response.rs",
    "delete_records_response.rs",
    "delete_topics_response.rs",
    "describe_groups_response.rs",
    "describe_producers_response.rs",
    "describe_transactions_response.rs",
    "fetch_response.rs",
    "list_offsets_response.rs",
    "offset_commit_response.rs",
    "offset_for_leader_epoch_response.rs",
    "share_group_describe_response.rs",
    "txn_offset_commit_response.rs",
    "produce_response.rs",
    "describe_topic_partitions_response.rs",
    "list_groups_response.rs",
    "list_transactions_response.rs",
    "metadata_response.rs",
    "offset_fetch_response.rs",
    "list_config_resources_response.rs",
    # Denials written from the tables (kafka/guard.rs `write_response`).
    "heartbeat_response.rs",
    "leave_group_response.rs",
    "sync_group_response.rs",
    "join_group_response.rs",
    "add_offsets_to_txn_response.rs",
    "end_txn_response.rs",
    "init_producer_id_response.rs",
    "describe_acls_response.rs",
    "alter_partition_reassignments_response.rs",
    "list_partition_reassignments_response.rs",
    "describe_client_quotas_response.rs",
    "describe_user_scram_credentials_response.rs",
    "describe_quorum_response.rs",
    "update_features_response.rs",
    "unregister_broker_response.rs",
    "share_group_heartbeat_response.rs",
    "share_fetch_response.rs",
    "share_acknowledge_response.rs",
    "alter_share_group_offsets_response.rs",
    "delete_share_group_offsets_response.rs",
    "describe_log_dirs_response.rs",
]
REQUESTS = sorted(p.name for p in SRC.glob("*_request.rs"))
MAX_VERSION = 64

FIXED = {
    "Int8": "I8", "Int16": "I16", "Int32": "I32", "Int64": "I64", "UInt16": "U16",
    "Float64": "F64", "Boolean": "Bool", "Uuid": "Uuid",
}


class Unsupported(Exception):
    pass


def indent(line):
    return len(line) - len(line.lstrip(" "))


def block_end(lines, i):
    """The index of the line closing the block that lines[i] opens (rustfmt's indentation)."""
    ind = indent(lines[i])
    for j in range(i + 1, len(lines)):
        if indent(lines[j]) == ind and lines[j].lstrip().startswith("}"):
            return j
    raise Unsupported(f"unclosed block at {lines[i]!r}")


COND = re.compile(r"^[version0-9<>=!&| ]+$")


def holds(cond, version):
    if not COND.match(cond):
        raise Unsupported(f"condition {cond!r}")
    return eval(cond.replace("||", " or ").replace("&&", " and "), {"version": version})


def elem_type(t):
    """The struct an array field of type t holds."""
    m = re.match(r"^(?:Option<)?Vec<(?:super::)?(\w+)>>?$", t)
    if not m:
        raise Unsupported(f"not an array of structs: {t}")
    return m.group(1)


def struct_type(t):
    m = re.match(r"^(?:Option<)?(?:super::)?(\w+)>?$", t)
    if not m:
        raise Unsupported(f"not a struct: {t}")
    return m.group(1)


def read_op(expr, field, fields, module, field_type=None):
    """The op for one `types::...decode(buf)?` expression assigned to `field` (or, for an array's
    elements, of `field_type`)."""
    t = field_type if field_type is not None else fields[field]
    nullable = t.startswith("Option<")
    expr = expr.strip().rstrip(";")
    m = re.match(r"^types::(\w+)\.decode\(buf\)\?$", expr)
    if m:
        kind = m.group(1)
        if kind in FIXED:
            return ("fixed", FIXED[kind])
        if kind in ("String", "Bytes", "CompactString", "CompactBytes"):
            length = "Varint" if kind.startswith("Compact") else ("Int16" if kind == "String" else "Int32")
            return ("string" if kind.endswith("String") else "bytes", length, nullable)
        raise Unsupported(f"type {kind}")
    if re.match(r"^types::Struct \{ version \}\.decode\(buf\)\?$", expr):
        return ("struct", (module, struct_type(t)))
    if re.match(r"^types::OptionStruct \{ version \}\.decode\(buf\)\?$", expr):
        return ("optstruct", (module, struct_type(t)))
    m = re.match(r"^types::(Compact)?Array\((.*)\)\.decode\(buf\)\?$", expr)
    if m:
        inner = m.group(2)
        element = re.match(r"^(?:Option<)?Vec<(.*?)>>?$", t)
        if not element:
            raise Unsupported(f"not an array: {t}")
        if inner == "types::Struct { version }":
            elem = ("struct", (module, elem_type(t)))
        else:
            elem = read_op(f"{inner}.decode(buf)?", field, fields, module, element.group(1))
        return ("array", "Varint" if m.group(1) else "Int32", nullable, elem)
    raise Unsupported(f"expression {expr!r}")


FAIL = ("fail",)


def evaluate(lines, version, fields, module, field=None):
    """The reads `lines` make at `version`, ending in FAIL where they bail."""
    ops = []
    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if not s or s == "let mut unknown_tagged_fields = BTreeMap::new();":
            i += 1
            continue
        if s.startswith("Ok(Self {") or s.startswith("Ok(Self{"):
            break
        if s.startswith("bail!"):
            ops.append(FAIL)
            return ops
        m = re.match(r"^(?:let (?:mut )?)?(\w+)(?::[^=]*)? = (.*)$", s)
        target = field
        rhs = s
        if m and not s.startswith("if "):
            target, rhs = m.group(1), m.group(2)
        if rhs.startswith("if ") and rhs.endswith("{"):
            end = block_end(lines, i)
            cond = rhs[3:-1].strip()
            then = lines[i + 1:end]
            other = []
            close = end
            if lines[end].strip() == "} else {":
                close = block_end(lines, end)
                other = lines[end + 1:close]
            branch = then if holds(cond, version) else other
            ops += evaluate(branch, version, fields, module, target)
            if ops and ops[-1] == FAIL:
                return ops
            i = close + 1
            continue
        if target == "num_tagged_fields":
            # The tagged fields: a count, then tag, size and value per field.
            loop = i + 1
            if not lines[loop].strip().startswith("for _ in 0..num_tagged_fields {"):
                raise Unsupported(f"tagged fields at {lines[loop]!r}")
            end = block_end(lines, loop)
            ops.append(("tagged", tagged(lines[loop + 1:end], version, fields, module)))
            i = end + 1
            continue
        if ".decode(buf)?" in rhs:
            if target not in fields:
                raise Unsupported(f"read into {target!r}: {s!r}")
            ops.append(("field", target, read_op(rhs, target, fields, module)))
        elif not re.match(r"^[\w:()<>\-\.\"\[\], ]*;?$", rhs):
            raise Unsupported(f"statement {s!r}")
        elif target in fields:
            # A value for a field absent at this version: kept when it is a number other than 0.
            value = default_number(rhs.rstrip(";"))
            if value:
                ops.append(("default", target, value))
        i += 1
    return ops


def default_number(expr):
    """The integer a default expression stands for (true is 1), or None."""
    expr = expr.strip()
    m = re.match(r"^\(?(-?\d+)\)?(?:\.into\(\))?$", expr)
    if m:
        return int(m.group(1))
    if expr == "true":
        return 1
    return None


def tagged(lines, version, fields, module):
    """The known tags of a tagged-field loop at `version`: (tag, op) or (tag, FAIL)."""
    tags = []
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        m = re.match(r"^(\d+) => \{$", s)
        if m:
            end = block_end(lines, i)
            ops = [o for o in evaluate(lines[i + 1:end], version, fields, module) if o[0] != "default"]
            if len(ops) != 1:
                raise Unsupported(f"tag {m.group(1)}: {ops}")
            tags.append((int(m.group(1)), ops[0]))
            i = end + 1
            continue
        i += 1
    return tuple(tags)


def join_wrapped(lines):
    """rustfmt wraps a long assignment after its `=`: one line again."""
    out = []
    for line in lines:
        if out and out[-1].endswith(" ="):
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def struct_fields(text):
    structs = {}
    for m in re.finditer(r"^pub struct (\w+) \{\n(.*?)^\}", text, re.M | re.S):
        structs[m.group(1)] = dict(re.findall(r"^    pub (\w+): (.*),$", m.group(2), re.M))
    return structs


def structs_of(fname):
    """(module, struct) -> [(version, ops)] for every struct kafka-protocol decodes in fname."""
    text = (SRC / fname).read_text()
    fields = struct_fields(text)
    module = fname[:-3]
    out = {}
    for m in re.finditer(
        r"^impl Decodable for (\w+) \{\n    fn decode<B: ByteBuf>\(buf: &mut B, version: i16\) -> Result<Self> \{\n(.*?)\n    \}\n\}",
        text,
        re.M | re.S,
    ):
        name, body = m.group(1), join_wrapped(m.group(2).split("\n"))
        per_version = []
        for v in range(MAX_VERSION):
            try:
                ops = evaluate(body, v, fields[name], module)
            except Unsupported as e:
                raise SystemExit(f"{fname} {name} v{v}: {e}")
            if FAIL not in ops[:1]:
                per_version.append((v, ops))
        out[(module, name)] = per_version
        INITIAL[(module, name)] = initial_values(text, name)
        PRESENT[(module, name)] = initial_present(text, name)
    return out


INITIAL = {}
PRESENT = {}


def default_fields(text, name):
    """(field, expression) of kafka-protocol's `impl Default` for a struct."""
    m = re.search(
        r"^impl Default for " + name + r" \{\n    fn default\(\) -> Self \{\n        Self \{\n(.*?)\n        \}",
        text,
        re.M | re.S,
    )
    return re.findall(r"^\s*(\w+): (.*),$", m.group(1), re.M) if m else []


def initial_values(text, name):
    """kafka-protocol's `Default` for a struct: its fields that start as a number other than 0."""
    values = [(field, default_number(value)) for field, value in default_fields(text, name)]
    return [(field, n) for field, n in values if n]


def initial_present(text, name):
    """The nullable fields kafka-protocol's `Default` starts as empty rather than null."""
    return [field for field, value in default_fields(text, name) if value.startswith("Some(")]


def api_keys():
    """Request struct name -> api key, from the `impl Request` blocks of messages.rs."""
    text = (SRC.parent / "messages.rs").read_text()
    return {
        name: int(key)
        for name, key in re.findall(r"impl Request for (\w+) \{\n\s*const KEY: i16 = (\d+);", text)
    }


def camel(module):
    return "".join(w.capitalize() for w in module.split("_"))


structs = {}
for f in REQUESTS + RESPONSES:
    structs.update(structs_of(f))
ids = {key: n for n, key in enumerate(sorted(structs))}


def null(nullable):
    return "Nullable" if nullable else "NotNull"


def rust(op):
    kind = op[0]
    if kind == "fixed":
        return f"Int({op[1]})"
    if kind == "string":
        return f"String({op[1]}, {null(op[2])})"
    if kind == "bytes":
        return f"Bytes({op[1]}, {null(op[2])})"
    if kind == "struct":
        return f"Struct({ids[op[1]]})"
    if kind == "optstruct":
        return f"OptionStruct({ids[op[1]]})"
    if kind == "array":
        return f"Array({op[1]}, {null(op[2])}, &{rust(op[3])})"
    raise SystemExit(f"op {op}")


def const(name):
    return name.upper()


def layout(lo, hi, ops):
    """A Layout: the fields read in order, then the tagged fields (the last read, if any)."""
    reads = [o for o in ops if o[0] != "default"]
    fields = [o for o in reads if o[0] == "field"]
    tagged = [o for o in reads if o[0] == "tagged"]
    if tagged and reads[-1] is not tagged[0] or len(tagged) > 1:
        raise SystemExit(f"tagged fields before other fields: {ops}")
    f = ", ".join(f"({const(o[1])}, {rust(o[2])})" for o in fields)
    if tagged:
        known = ", ".join(
            f"({t}, {const(o[1]) if o != FAIL else 'NONE'}, {'None' if o == FAIL else f'Some({rust(o[2])})'})"
            for t, o in tagged[0][1]
        )
        t = f"Some(&[{known}])"
    else:
        t = "None"
    d = ", ".join(f"({const(o[1])}, {o[2]})" for o in ops if o[0] == "default")
    return f"Layout {{ versions: ({lo}, {hi}), fields: &[{f}], tagged: {t}, defaults: &[{d}] }}"


names = set()
for per_version in structs.values():
    for _, ops in per_version:
        for o in ops:
            if o[0] in ("field", "default"):
                names.add(o[1])
            if o[0] == "tagged":
                names.update(x[1] for _, x in o[1] if x != FAIL)
for values in INITIAL.values():
    names.update(f for f, _ in values)
for fields in PRESENT.values():
    names.update(fields)

out = [
    "//! Generated by `generate_guard.py` from kafka-protocol 0.18.0's decoders; do not edit.",
    "//!",
    "//! Every message the filter decodes, as the reads kafka-protocol makes for it at each version.",
    "",
    "use super::Int::*;",
    "use super::Len::*;",
    "use super::Null::*;",
    "use super::Op::*;",
    "use super::{Layout, Schema};",
    "use field::*;",
    "",
    "/// Field names, as kafka-protocol's struct fields are named.",
    "pub(crate) mod field {",
    "    /// A tag kafka-protocol refuses at a version has no field.",
    "    pub(crate) const NONE: u16 = u16::MAX;",
]
for n, name in enumerate(sorted(names)):
    out.append(f"    pub(crate) const {const(name)}: u16 = {n};")
out += [
    "}",
    "",
    "/// Requests by api key: (key, message).",
    "pub(super) static REQUEST_MESSAGES: &[(i16, u16)] = &[",
]
by_name = api_keys()
keys = {f[: -len("_request.rs")]: by_name[camel(f[:-3])] for f in REQUESTS}
for f in sorted(REQUESTS, key=lambda f: keys[f[: -len("_request.rs")]]):
    module = f[:-3]
    out.append(f"    ({keys[module[:-len('_request')]]}, {ids[(module, camel(module))]}), // {camel(module)}")
out += ["];", "", "/// The responses the filter decodes, by api key: (key, message).", "pub(super) static RESPONSE_MESSAGES: &[(i16, u16)] = &["]
for f in sorted(RESPONSES, key=lambda f: keys[f[: -len("_response.rs")]]):
    module = f[:-3]
    out.append(f"    ({keys[module[:-len('_response')]]}, {ids[(module, camel(module))]}), // {camel(module)}")
out += ["];", "", "/// Every struct of those messages: its name and its layouts by version.", "pub(super) static SCHEMAS: &[Schema] = &["]
for key in sorted(structs):
    layouts = []
    for v, ops in structs[key]:
        if layouts and layouts[-1][2] == ops and layouts[-1][1] == v - 1:
            layouts[-1][1] = v
        else:
            layouts.append([v, v, ops])
    out.append(f"    Schema {{ // {ids[key]}: {key[0]}")
    out.append(f"        name: \"{key[1]}\",")
    initial = ", ".join(f"({const(f)}, {n})" for f, n in INITIAL[key])
    out.append(f"        initial: &[{initial}],")
    out.append(f"        present: &[{', '.join(const(f) for f in PRESENT[key])}],")
    out.append("        layouts: &[")
    for lo, hi, ops in layouts:
        out.append(f"            {layout(lo, hi, ops)},")
    out.append("        ],")
    out.append("    },")
out += ["];", ""]
print("\n".join(out))
