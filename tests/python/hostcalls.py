"""make bench: what each broker-sidecar configuration asks of its host per Kafka request.

The end-to-end bench measures Envoy's CPU time, which on a shared 2-core machine is noisy to a
few µs per request. What a Wasm filter costs Envoy per request is mostly counted, not timed: the
calls Envoy makes into the VM (one callback per buffer, plus one allocation for every buffer
read it hands over) and the host calls the VM makes (buffer reads, clock, metrics). This script
counts them exactly, by running each module in wasmtime behind a small proxy-wasm host that
answers like Envoy, and replaying a 1-record Produce request (captured from librdkafka, see
filter/fuzz/seeds) and its response on one connection, as the `rate` load does.

Usage: hostcalls.py --configs configs.json --wasm meshka.wasm --noop noop.wasm --out DIR
(configs.json from `bench --configs`). Writes DIR/hostcalls.md and DIR/hostcalls.json.
"""
import argparse
import json
import os
import struct
import sys
import time

import wasmtime

# proxy-wasm ABI 0.2.1 buffer types and statuses.
DOWNSTREAM, UPSTREAM, VM_CONFIGURATION, PLUGIN_CONFIGURATION = 2, 3, 6, 7
OK, NOT_FOUND = 0, 1
# The bench's client workload (the mesh's `apps/orders` service account) and topic.
PEER = b"spiffe://cluster.local/ns/apps/sa/orders"
TOPIC = b"bench.load"
SEED = "filter/fuzz/seeds/checks/request-Produce-v10-c054e40d"
WARM_UP = 256
MEASURED = 4096


def produce_body(seed_path, topic=TOPIC):
    """The captured Produce v10 body (acks=1, one topic, one ~900-byte record batch) with its
    topic renamed to `topic`."""
    data = open(seed_path, "rb").read()
    key, version = struct.unpack(">hh", data[:4])
    assert (key, version) == (0, 10), "the seed is a Produce v10 request"
    body = data[4:]
    # transactional_id (compact nullable string), acks, timeout, topics (compact array), name.
    assert body[0] == 0 and struct.unpack(">h", body[1:3])[0] == 1, "acks=1, no transaction"
    at = 1 + 2 + 4 + 1
    name_len = body[at] - 1
    return body[:at] + bytes([len(topic) + 1]) + topic + body[at + 1 + name_len:]


def uvarint(n):
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def batch_body(batch_bytes, topic=TOPIC):
    """A Produce v10 body (acks=1) writing one `batch_bytes` record batch to one partition: the
    saturation load's shape. The batch bytes are filler: on this path no filter reads them."""
    batch = bytes(i % 251 for i in range(batch_bytes))
    partition = struct.pack(">i", 0) + uvarint(len(batch) + 1) + batch + b"\x00"
    topics = bytes([len(topic) + 1]) + topic + b"\x02" + partition + b"\x00"
    return b"\x00" + struct.pack(">hi", 1, 30000) + b"\x02" + topics + b"\x00"


def produce_request(body, correlation_id):
    # Request header v2: api key, version, correlation id, client id, no tagged fields.
    header = struct.pack(">hhih", 0, 10, correlation_id, 7) + b"rdkafka" + b"\x00"
    frame = header + body
    return struct.pack(">i", len(frame)) + frame


def produce_response(correlation_id, topic=TOPIC):
    partition = struct.pack(">ihqqq", 0, 0, correlation_id, -1, 0) + b"\x01" + b"\x00" + b"\x00"
    topics = bytes([len(topic) + 1]) + topic + b"\x02" + partition + b"\x00"
    frame = struct.pack(">i", correlation_id) + b"\x00" + b"\x02" + topics + struct.pack(">i", 0) + b"\x00"
    return struct.pack(">i", len(frame)) + frame


class Host:
    """The parts of Envoy's proxy-wasm host the filters use, counting every call."""

    def __init__(self, wasm_path, plugin_config):
        self.engine = wasmtime.Engine()
        self.store = wasmtime.Store(self.engine)
        self.store.set_wasi(wasmtime.WasiConfig())
        module = wasmtime.Module.from_file(self.engine, wasm_path)
        linker = wasmtime.Linker(self.engine)
        linker.define_wasi()
        self.buffers = {PLUGIN_CONFIGURATION: plugin_config, VM_CONFIGURATION: b""}
        self.calls = {}
        self.next_metric = 1
        self.logs = []
        handlers = {
            "proxy_get_buffer_bytes": self.get_buffer_bytes,
            "proxy_set_buffer_bytes": self.set_buffer_bytes,
            "proxy_get_property": self.get_property,
            "proxy_define_metric": self.define_metric,
            "proxy_increment_metric": lambda *a: self.count("counter increment", OK),
            "proxy_record_metric": lambda *a: self.count("histogram/gauge record", OK),
            "proxy_get_current_time_nanoseconds": self.now,
            "proxy_log": self.log,
            "proxy_get_shared_data": lambda *a: self.count("shared data read", NOT_FOUND),
            "proxy_set_shared_data": lambda *a: self.count("shared data write", OK),
            "proxy_set_tick_period_milliseconds": lambda *a: OK,
            "proxy_continue_stream": lambda *a: self.count("continue", OK),
            "proxy_close_stream": lambda *a: self.count("close", OK),
            "proxy_set_effective_context": lambda *a: self.count("set context", OK),
            "proxy_done": lambda *a: OK,
        }
        for imp in module.imports:
            if imp.module != "env":
                continue
            name = imp.name
            handler = handlers.get(name) or (lambda *a, name=name: self.count(name, NOT_FOUND))
            linker.define_func("env", name, imp.type, handler)
        instance = linker.instantiate(self.store, module)
        self.exports = instance.exports(self.store)
        self.memory = self.exports["memory"]
        self.allocate = self.exports["proxy_on_memory_allocate"]
        self.exports["_initialize"](self.store)

    def count(self, what, status):
        self.calls[what] = self.calls.get(what, 0) + 1
        return status

    def write(self, at, data):
        self.memory.write(self.store, data, at)

    def read(self, at, n):
        return bytes(self.memory.read(self.store, at, at + n))

    def hand_over(self, data, ptr_at, size_at):
        """Copies `data` into the VM as Envoy does: the VM allocates, the host writes."""
        if data:
            self.count("VM allocation (callback)", OK)
            ptr = self.allocate(self.store, len(data))
            self.write(ptr, data)
        else:
            ptr = 0
        self.write(ptr_at, struct.pack("<I", ptr))
        self.write(size_at, struct.pack("<I", len(data)))

    def get_buffer_bytes(self, kind, start, max_size, ptr_at, size_at):
        self.count("buffer read", OK)
        data = self.buffers.get(kind, b"")[start:start + (max_size & 0xFFFFFFFF)]
        if kind in (DOWNSTREAM, UPSTREAM):
            self.calls["bytes read"] = self.calls.get("bytes read", 0) + len(data)
        self.hand_over(data, ptr_at, size_at)
        return OK

    def set_buffer_bytes(self, kind, start, size, data_at, data_size):
        self.count("buffer write", OK)
        old = self.buffers.get(kind, b"")
        self.buffers[kind] = self.read(data_at, data_size) + old[start + size:]
        return OK

    def get_property(self, path_at, path_size, ptr_at, size_at):
        self.count("property read", OK)
        if self.read(path_at, path_size) == b"connection\x00uri_san_peer_certificate":
            self.hand_over(PEER, ptr_at, size_at)
            return OK
        return NOT_FOUND

    def define_metric(self, kind, name_at, name_size, id_at):
        self.count("metric definition", OK)
        self.write(id_at, struct.pack("<I", self.next_metric))
        self.next_metric += 1
        return OK

    def now(self, at):
        self.count("clock read", OK)
        self.write(at, struct.pack("<Q", time.time_ns()))
        return OK

    def log(self, level, at, size):
        self.count("log", OK)
        self.logs.append((level, self.read(at, size).decode(errors="replace")))
        return OK

    def callback(self, name, *args):
        self.count("VM callback", OK)
        return self.exports[name](self.store, *args)


def broker_topic(config):
    """The bench topic's name on the broker: under the tenant's prefix when the configuration
    routes the producer's namespace (`bench --configs`, configuration f)."""
    for tenant in (config.get("routing") or {}).get("tenants", []):
        if "apps" in tenant.get("namespaces", []):
            return tenant.get("topicPrefix", "").encode() + TOPIC
    return TOPIC


def measure(wasm, config, make_body, read_size=None):
    """Per Produce request and its response. With `read_size`, requests are pipelined and reach
    the filter in reads of that many bytes (frames straddle reads), as Envoy reads a busy
    socket; else each request is one read. The broker must get the requests in its names and
    the client the responses in the client's."""
    body, routed_topic = make_body(TOPIC), broker_topic(config)
    broker_body = make_body(routed_topic)
    host = Host(wasm, json.dumps(config, separators=(",", ":")).encode())
    root, stream = 1, 2
    host.exports["proxy_on_context_create"](host.store, root, 0)
    host.exports["proxy_on_vm_start"](host.store, root, 0)
    configured = host.exports["proxy_on_configure"](host.store, root, len(host.buffers[PLUGIN_CONFIGURATION]))
    if configured != 1:
        raise SystemExit(f"{wasm}: configuration rejected: {host.logs[-3:]}")
    host.exports["proxy_on_context_create"](host.store, stream, root)
    host.exports["proxy_on_new_connection"](host.store, stream)
    forwarded = 0
    # What each direction received, and what went on (the buffer after each callback): a filter
    # may hold a frame's first bytes back in one read and send them with the next.
    sent = {DOWNSTREAM: bytearray(), UPSTREAM: bytearray()}
    passed = {DOWNSTREAM: bytearray(), UPSTREAM: bytearray()}
    expected = {DOWNSTREAM: bytearray(), UPSTREAM: bytearray()}

    def pass_through(kind, data):
        host.buffers[kind] = data
        name = "proxy_on_downstream_data" if kind == DOWNSTREAM else "proxy_on_upstream_data"
        action = host.callback(name, stream, len(data), 0)
        if action != 0:
            raise SystemExit(f"{wasm}: the filter paused a Produce ({action}): {host.logs[-3:]}")
        sent[kind] += data
        passed[kind] += host.buffers[kind]

    def exchanges(first, n):
        nonlocal forwarded
        ids = range(first, first + n)
        expected[DOWNSTREAM].extend(b"".join(produce_request(broker_body, c) for c in ids))
        expected[UPSTREAM].extend(b"".join(produce_response(c) for c in ids))
        if read_size is None:
            for correlation_id in ids:
                pass_through(DOWNSTREAM, produce_request(body, correlation_id))
                pass_through(UPSTREAM, produce_response(correlation_id, routed_topic))
        else:
            stream_bytes = b"".join(produce_request(body, c) for c in ids)
            for at in range(0, len(stream_bytes), read_size):
                pass_through(DOWNSTREAM, stream_bytes[at:at + read_size])
            for correlation_id in ids:
                pass_through(UPSTREAM, produce_response(correlation_id, routed_topic))
        forwarded += n

    exchanges(1, WARM_UP)
    host.calls.clear()
    exchanges(WARM_UP + 1, MEASURED)
    for kind, direction in ((DOWNSTREAM, "requests to the broker"), (UPSTREAM, "responses to the client")):
        if passed[kind] != expected[kind]:
            at = next((i for i, (x, y) in enumerate(zip(passed[kind], expected[kind])) if x != y), None)
            raise SystemExit(f"{wasm}: {direction} are not what the broker/client must get "
                             f"(first difference at byte {at}): {host.logs[-3:]}")
    bytes_read = host.calls.pop("bytes read", 0)
    per = {k: v / MEASURED for k, v in sorted(host.calls.items())}
    into_vm = per.get("VM callback", 0) + per.get("VM allocation (callback)", 0)
    host_calls = sum(v for k, v in per.items() if not k.startswith("VM "))
    proxied = len(sent[DOWNSTREAM]) + len(sent[UPSTREAM])
    return {"per_request": per, "calls_into_vm": into_vm, "host_calls": host_calls,
            "bytes_read_per_request": bytes_read / MEASURED,
            "bytes_read_share": bytes_read / proxied if proxied else 0.0, "forwarded": forwarded}


def write_replay(a, configs):
    """<out>/replay.json: the rate shape's exchange per configuration (the module, its
    configuration, what the client and broker send, what each must get), for `tests/v8/replay.cjs`
    to time the modules in V8 itself."""
    cases = []
    for c in configs:
        routed = broker_topic(c["config"])
        client_body = produce_body(a.seed)
        cases.append({
            "key": c["key"],
            "label": c["label"],
            "wasm": os.path.abspath(a.noop if c["noop"] else a.wasm),
            "config": c["config"],
            "request": produce_request(client_body, 1).hex(),
            "broker_request": produce_request(produce_body(a.seed, routed), 1).hex(),
            "response": produce_response(1, routed).hex(),
            "client_response": produce_response(1).hex(),
            # Where the correlation id sits in each (after the length prefix, and the request's
            # api key and version).
            "request_correlation_at": 8,
            "response_correlation_at": 4,
        })
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "replay.json"), "w") as f:
        json.dump(cases, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--noop", required=True)
    ap.add_argument("--seed", default=SEED)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    write_replay(a, json.load(open(a.configs)))
    loads = [
        ("rate", f"1-record Produce (acks=1, {len(produce_body(a.seed)) + 25} B), one read each",
         lambda topic: produce_body(a.seed, topic), None),
        ("saturation", "16 KiB-batch Produce (acks=1), pipelined, in 16 KiB reads",
         lambda topic: batch_body(16 << 10, topic), 16 << 10),
    ]
    configs = json.load(open(a.configs))
    rows = []
    for load, _, make_body, read_size in loads:
        for c in configs:
            result = measure(a.noop if c["noop"] else a.wasm, c["config"], make_body, read_size)
            result.update(key=c["key"], label=c["label"], load=load)
            rows.append(result)
            print(f"{load:<10} {c['key']:<18} into the VM {result['calls_into_vm']:.3f}  host calls {result['host_calls']:.3f}  {result['per_request']}", file=sys.stderr)
    kinds = sorted({k for r in rows for k in r["per_request"] if not k.startswith("VM ")})
    lines = [
        f"Calls per Produce request and its response, over {MEASURED} requests on one connection "
        f"after {WARM_UP} to warm up: calls Envoy makes into the VM (a callback per read; an "
        "allocation per buffer read it hands over) and calls the VM makes to Envoy. Counted in "
        "wasmtime behind a proxy-wasm host that answers like Envoy (`tests/python/hostcalls.py`).",
        "",
        "| load | broker sidecar | calls into the VM | host calls | " + " | ".join(kinds) + " | bytes read into the VM (share of bytes proxied) |",
        "|---|---|---:|---:|" + "---:|" * len(kinds) + "---:|",
    ]
    for load, description, _, _ in loads:
        for r in (r for r in rows if r["load"] == load):
            cells = [f"{r['per_request'].get(k, 0):.3f}" for k in kinds]
            read = f"{r['bytes_read_per_request']:,.0f} ({100 * r['bytes_read_share']:.2f} %)"
            lines.append(f"| {description} | {r['label']} | {r['calls_into_vm']:.3f} | {r['host_calls']:.3f} | " + " | ".join(cells) + f" | {read} |")
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "hostcalls.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(a.out, "hostcalls.json"), "w") as f:
        json.dump(rows, f, indent=2)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
