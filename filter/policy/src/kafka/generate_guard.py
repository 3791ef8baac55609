#!/usr/bin/env python3
"""Generates guard.rs: a pre-pass over a Kafka message that follows kafka-protocol 0.18's own
generated decoders field by field, but checks every array's element count against the bytes left
before anything is allocated.

Why: kafka-protocol 0.18 decodes an array with `Vec::with_capacity(count)` straight from the wire
(upstream PRs kafka-protocol-rs#152, #161, #200 are open), so 8 bytes claiming 2^31 elements abort
the process (a capacity-overflow panic in Wasm, an allocation failure on 64-bit hosts). The guard
decodes nothing it keeps; when it passes, every array count is at most the bytes that remain, and
kafka-protocol's decoder can run.

Usage: python3 generate_guard.py ~/.cargo/registry/src/*/kafka-protocol-0.18.0/src/messages > guard.rs
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
]
FILES = sorted(p.name for p in SRC.glob("*_request.rs")) + RESPONSES

PRIMS = {
    "i8", "i16", "i32", "i64", "u16", "u32", "f64", "bool", "Uuid", "Bytes", "StrBytes",
}


def rust_type(t):
    """The annotation for a field's local in the guard: () for anything the guard walks itself."""
    if t.startswith("Vec<") or t.startswith("Option<Vec<"):
        return "()"
    inner = t[len("Option<"):-1] if t.startswith("Option<") else t
    inner = inner.replace("super::", "")
    if inner in PRIMS or inner in {"TopicName", "GroupId", "TransactionalId", "BrokerId", "ProducerId"}:
        return t.replace("super::", "")
    if inner.startswith("BTreeMap"):
        return t
    return "()"  # a struct of this message


def elem_type(t):
    m = re.match(r"(?:Option<)?Vec<(.*)>>?$", t)
    if not m:
        raise SystemExit(f"not a vec: {t} at {CURRENT}")
    e = m.group(1)
    if e.endswith(">") and t.startswith("Option<"):
        e = e[:-1]
    return e.replace("super::", "")


def struct_fields(text):
    structs = {}
    for m in re.finditer(r"^pub struct (\w+) \{\n(.*?)^\}", text, re.M | re.S):
        fields = dict(re.findall(r"^    pub (\w+): (.*),$", m.group(2), re.M))
        structs[m.group(1)] = fields
    return structs


ARRAY = re.compile(r"types::(Compact)?Array\((types::\w+(?: \{ version \})?)\)\.decode\(buf\)\?")
STRUCT = re.compile(r"types::Struct \{ version \}\.decode\(buf\)\?")
OPTSTRUCT = re.compile(r"types::OptionStruct \{ version \}\.decode\(buf\)\?")


def transform(name, body, fields):
    out = []
    field = None
    skipping = False
    for line in body.split("\n"):
        if re.match(r"^\s*Ok\(Self \{.*\}\)$", line):
            out.append("        Ok(())")
            continue
        line = line.replace("buf.try_get_bytes(size as usize)?", "take(buf, size as usize)?")
        if line.strip() == "Some(Default::default())":
            line = line.replace("Some(Default::default())", "Default::default()")
        if line.strip() == "Ok(Self {":
            skipping = True
            out.append("        Ok(())")
            continue
        if skipping:
            if line.strip() == "})":
                skipping = False
            continue
        m = re.match(r"^(\s*)let (mut )?(\w+) = (.*)$", line)
        if m and m.group(3) in fields:
            field = m.group(3)
            line = f"{m.group(1)}let {m.group(2) or ''}{field}: {rust_type(fields[field])} = {m.group(4)}"
        m = re.match(r"^\s*(\w+) =( |$)", line)
        if m and m.group(1) in fields:
            field = m.group(1)

        def array(mm):
            compact = "true" if mm.group(1) else "false"
            inner = mm.group(2)
            e = elem_type(fields[field])
            if inner == "types::Struct { version }":
                f = f"|buf| check_{e}(buf, version)"
            else:
                f = f"|buf| {{ let _: {e} = {inner}.decode(buf)?; Ok(()) }}"
            return f"guard_array(buf, {compact}, {f})?"

        global CURRENT
        CURRENT = (name, line)
        line = ARRAY.sub(array, line)
        if STRUCT.search(line):
            t = fields[field].replace("super::", "")
            line = STRUCT.sub(f"check_{t}(buf, version)?", line)
        if OPTSTRUCT.search(line):
            t = fields[field][len("Option<"):-1]
            line = OPTSTRUCT.sub(f"guard_option_struct(buf, |buf| check_{t}(buf, version))?", line)
        out.append(line)
    return "\n".join(out)


def module(fname):
    text = (SRC / fname).read_text()
    structs = struct_fields(text)
    mod = fname[:-3]
    fns = []
    for m in re.finditer(
        r"^impl Decodable for (\w+) \{\n    fn decode<B: ByteBuf>\(buf: &mut B, version: i16\) -> Result<Self> \{\n(.*?)\n    \}\n\}",
        text,
        re.M | re.S,
    ):
        name, body = m.group(1), m.group(2)
        fns.append(
            f"    pub(super) fn check_{name}(buf: &mut Bytes, version: i16) -> Result<()> {{\n"
            + transform(name, body, structs[name])
            + "\n    }\n"
        )
    return f"#[rustfmt::skip]\nmod {mod} {{\n    use super::prelude::*;\n\n" + "\n".join(fns) + "}\n"


def request_type(fname):
    return "".join(w.capitalize() for w in fname[:-3].split("_"))


out = [
    "//! Generated by `generate_guard.py` from kafka-protocol 0.18.0's decoders; do not edit.",
    "//!",
    "//! Walks a message the way kafka-protocol decodes it and fails when an array claims more",
    "//! elements than bytes remain, before kafka-protocol would pre-allocate them.",
    "",
    "#![allow(unused_variables, unused_mut, unused_assignments, non_snake_case, dead_code, clippy::all, clippy::pedantic)]",
    "",
    "mod prelude {",
    "    pub(super) use super::{guard_array, guard_option_struct, take, types};",
    "    pub(super) use anyhow::{bail, Result};",
    "    pub(super) use bytes::Bytes;",
    "    pub(super) use kafka_protocol::messages::{BrokerId, GroupId, ProducerId, TopicName, TransactionalId};",
    "    pub(super) use kafka_protocol::protocol::StrBytes;",
    "    pub(super) use std::collections::BTreeMap;",
    "    pub(super) use uuid::Uuid;",
    "}",
    "",
    "use anyhow::{bail, Result};",
    "use bytes::{Buf, Bytes};",
    "use kafka_protocol::messages::ApiKey;",
    "",
    "/// The next `n` bytes.",
    "fn take(buf: &mut Bytes, n: usize) -> Result<Bytes> {",
    "    if n > buf.remaining() {",
    "        bail!(\"{n} bytes needed, {} left\", buf.remaining());",
    "    }",
    "    Ok(buf.split_to(n))",
    "}",
    "",
    "/// kafka-protocol's primitive decoders, as far as the guard needs them: they consume exactly",
    "/// the bytes kafka-protocol's do, and return the type's default (the guard keeps no values)",
    "/// except for the unsigned varints that count and size tagged fields.",
    "mod types {",
    "    use super::take;",
    "    use anyhow::Result;",
    "    use bytes::Buf;",
    "    type Buffer = bytes::Bytes;",
    "",
    "    macro_rules! fixed {",
    "        ($($name:ident = $size:expr),*) => {$(",
    "            pub(super) struct $name;",
    "            impl $name {",
    "                pub(super) fn decode<T: Default>(&self, buf: &mut Buffer) -> Result<T> {",
    "                    take(buf, $size)?;",
    "                    Ok(T::default())",
    "                }",
    "            }",
    "        )*};",
    "    }",
    "    fixed!(Int8 = 1, Int16 = 2, Int32 = 4, Int64 = 8, UInt16 = 2, UInt32 = 4, Float64 = 8, Boolean = 1, Uuid = 16);",
    "",
    "    pub(super) struct UnsignedVarInt;",
    "    impl UnsignedVarInt {",
    "        pub(super) fn decode(&self, buf: &mut Buffer) -> Result<u32> {",
    "            let mut value: u32 = 0;",
    "            for i in 0..5u32 {",
    "                let b = u32::from(take(buf, 1)?.get_u8());",
    "                value |= (b & 0x7f).wrapping_shl(i * 7);",
    "                if b < 0x80 {",
    "                    break;",
    "                }",
    "            }",
    "            Ok(value)",
    "        }",
    "    }",
    "",
    "    /// A length-prefixed run of bytes: i16 (`String`) or i32 (`Bytes`) length, -1 for null.",
    "    pub(super) struct String;",
    "    impl String {",
    "        pub(super) fn decode<T: Default>(&self, buf: &mut Buffer) -> Result<T> {",
    "            let n = take(buf, 2)?.get_i16();",
    "            take(buf, usize::try_from(n).unwrap_or(0))?;",
    "            Ok(T::default())",
    "        }",
    "    }",
    "    pub(super) struct Bytes_;",
    "    impl Bytes_ {",
    "        pub(super) fn decode<T: Default>(&self, buf: &mut Buffer) -> Result<T> {",
    "            let n = take(buf, 4)?.get_i32();",
    "            take(buf, usize::try_from(n).unwrap_or(0))?;",
    "            Ok(T::default())",
    "        }",
    "    }",
    "    /// Compact strings and bytes: unsigned varint length + 1, 0 for null.",
    "    pub(super) struct CompactString;",
    "    impl CompactString {",
    "        pub(super) fn decode<T: Default>(&self, buf: &mut Buffer) -> Result<T> {",
    "            let n = UnsignedVarInt.decode(buf)?;",
    "            take(buf, usize::try_from(n.saturating_sub(1)).unwrap_or(usize::MAX))?;",
    "            Ok(T::default())",
    "        }",
    "    }",
    "    pub(super) use CompactString as CompactBytes;",
    "    pub(super) use Bytes_ as Bytes;",
    "}",
    "",
    "/// An array's elements, after checking their count against the bytes left (every element",
    "/// takes at least one byte). A null or negative count is left to kafka-protocol's decoder.",
    "fn guard_array(",
    "    buf: &mut Bytes,",
    "    compact: bool,",
    "    mut element: impl FnMut(&mut Bytes) -> Result<()>,",
    ") -> Result<()> {",
    "    let count: i64 = if compact {",
    "        i64::from(types::UnsignedVarInt.decode(buf)?) - 1",
    "    } else {",
    "        i64::from(take(buf, 4)?.get_i32())",
    "    };",
    "    if count <= 0 {",
    "        return Ok(());",
    "    }",
    "    if usize::try_from(count).map_or(true, |n| n > buf.remaining()) {",
    "        bail!(\"an array claims {count} elements but only {} bytes are left\", buf.remaining());",
    "    }",
    "    for _ in 0..count {",
    "        element(buf)?;",
    "    }",
    "    Ok(())",
    "}",
    "",
    "/// A nullable struct: a presence byte, then the struct when it is 1.",
    "fn guard_option_struct(buf: &mut Bytes, inner: impl FnOnce(&mut Bytes) -> Result<()>) -> Result<()> {",
    "    let present = take(buf, 1)?.get_i8();",
    "    if present == 1 {",
    "        inner(buf)?;",
    "    }",
    "    Ok(())",
    "}",
    "",
    "/// Checks a request body for `key` at `version`.",
    "pub(crate) fn request(key: ApiKey, buf: &mut Bytes, version: i16) -> Result<()> {",
    "    match key {",
]
for f in FILES:
    if f.endswith("_request.rs"):
        t = request_type(f)
        out.append(f"        ApiKey::{t[:-len('Request')]} => {f[:-3]}::check_{t}(buf, version),")
out += [
    "    }",
    "}",
    "",
    "/// Checks a response body for `key` at `version` (only the responses the kafka module rewrites).",
    "pub(crate) fn response(key: ApiKey, buf: &mut Bytes, version: i16) -> Result<()> {",
    "    match key {",
] + [
    f"        ApiKey::{request_type(f)[:-len('Response')]} => {f[:-3]}::check_{request_type(f)}(buf, version),"
    for f in RESPONSES
] + [
    "        other => bail!(\"no guard for {other:?} responses\"),",
    "    }",
    "}",
    "",
]
for f in FILES:
    out.append(module(f))
print("\n".join(out))
