// make bench-v8: each broker-sidecar module's own code, timed in V8 (node, `--no-liftoff` as Envoy
// runs V8), outside Envoy.
//
// The end-to-end bench measures Envoy's CPU per request to a few µs of noise; bench-hostcalls
// counts the calls across the VM boundary. This times what is left: the module's own Wasm code.
// It replays the rate load's exchange (a 1-record Produce and its response, one read each, on
// one connection) from <dir>/replay.json (written by tests/python/hostcalls.py) through each
// module behind a JavaScript proxy-wasm host — cheap host calls, so the time is the module's —
// checks that the broker and the client get exactly their bytes, and reports nanoseconds per
// request and response: the median of ROUNDS rounds, configurations interleaved.
//
// Usage: node --no-liftoff tests/v8/replay.cjs <dir>  (writes <dir>/v8.md and <dir>/v8.json)
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node --no-liftoff tests/v8/replay.cjs <dir with replay.json>');
  process.exit(2);
}
const ROUNDS = 5;
const WARM_UP = 5000;
const MEASURED = 40000;
const DOWNSTREAM = 2, UPSTREAM = 3, VM_CONFIGURATION = 6, PLUGIN_CONFIGURATION = 7;
const OK = 0, NOT_FOUND = 1;
const PEER = new TextEncoder().encode('spiffe://cluster.local/ns/apps/sa/orders');
const hex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));

// One module instance and connection, driven as Envoy drives it.
function start(c) {
  const buffers = {
    [VM_CONFIGURATION]: new Uint8Array(0),
    [PLUGIN_CONFIGURATION]: new TextEncoder().encode(JSON.stringify(c.config)),
  };
  let exports = null;
  const bytes = () => new Uint8Array(exports.memory.buffer);
  const view = () => new DataView(exports.memory.buffer);
  const handOver = (data, ptrAt, sizeAt) => {
    let ptr = 0;
    if (data.length) {
      ptr = exports.proxy_on_memory_allocate(data.length);
      bytes().set(data, ptr);
    }
    view().setUint32(ptrAt, ptr, true);
    view().setUint32(sizeAt, data.length, true);
  };
  let metricId = 0;
  const env = {
    proxy_get_buffer_bytes(kind, start, max, ptrAt, sizeAt) {
      const b = buffers[kind] || new Uint8Array(0);
      handOver(b.subarray(start, start + (max >>> 0)), ptrAt, sizeAt);
      return OK;
    },
    // Envoy writes only at the front: the first `size` bytes are replaced by the new ones.
    proxy_set_buffer_bytes(kind, start, size, dataAt, dataSize) {
      const b = buffers[kind] || new Uint8Array(0);
      if (start !== 0) return 2;
      const next = new Uint8Array(dataSize + b.length - size);
      next.set(bytes().subarray(dataAt, dataAt + dataSize));
      next.set(b.subarray(size), dataSize);
      buffers[kind] = next;
      return OK;
    },
    proxy_get_property(pathAt, pathSize, ptrAt, sizeAt) {
      const p = Buffer.from(bytes().subarray(pathAt, pathAt + pathSize)).toString();
      if (p !== 'connection\0uri_san_peer_certificate') return NOT_FOUND;
      handOver(PEER, ptrAt, sizeAt);
      return OK;
    },
    proxy_define_metric(kind, nameAt, nameSize, idAt) {
      view().setUint32(idAt, ++metricId, true);
      return OK;
    },
    proxy_increment_metric: () => OK,
    proxy_record_metric: () => OK,
    proxy_get_current_time_nanoseconds(at) {
      view().setBigUint64(at, process.hrtime.bigint(), true);
      return OK;
    },
    proxy_log: () => OK,
    proxy_set_tick_period_milliseconds: () => OK,
    proxy_get_shared_data: () => NOT_FOUND,
    proxy_set_shared_data: () => OK,
    proxy_done: () => OK,
  };
  const wasm = new WebAssembly.Module(fs.readFileSync(c.wasm));
  const imports = {
    env: {},
    wasi_snapshot_preview1: {
      random_get(at, n) {
        bytes().fill(7, at, at + n);
        return 0;
      },
      environ_get: () => 0,
      environ_sizes_get(countAt, sizeAt) {
        view().setUint32(countAt, 0, true);
        view().setUint32(sizeAt, 0, true);
        return 0;
      },
      fd_write: () => 0,
      proc_exit() {
        throw new Error(`${c.key}: the module exited`);
      },
    },
  };
  for (const imp of WebAssembly.Module.imports(wasm)) {
    if (imp.module === 'env') imports.env[imp.name] = env[imp.name] || (() => NOT_FOUND);
  }
  exports = new WebAssembly.Instance(wasm, imports).exports;
  exports._initialize();
  exports.proxy_on_context_create(1, 0);
  exports.proxy_on_vm_start(1, 0);
  if (exports.proxy_on_configure(1, buffers[PLUGIN_CONFIGURATION].length) !== 1) {
    throw new Error(`${c.key}: configuration rejected`);
  }
  exports.proxy_on_context_create(2, 1);
  exports.proxy_on_new_connection(2);

  const request = hex(c.request), brokerRequest = hex(c.broker_request);
  const response = hex(c.response), clientResponse = hex(c.client_response);
  const withId = (frame, at, id) => {
    const f = frame.slice();
    new DataView(f.buffer).setInt32(at, id);
    return f;
  };
  const same = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
  let next = 1;
  // One exchange; `check` compares what went on with what must.
  const exchange = (check) => {
    const id = next++;
    buffers[DOWNSTREAM] = withId(request, c.request_correlation_at, id);
    if (exports.proxy_on_downstream_data(2, buffers[DOWNSTREAM].length, 0) !== 0) {
      throw new Error(`${c.key}: the request was paused`);
    }
    if (check && !same(buffers[DOWNSTREAM], withId(brokerRequest, c.request_correlation_at, id))) {
      throw new Error(`${c.key}: the broker did not get the request it must`);
    }
    buffers[UPSTREAM] = withId(response, c.response_correlation_at, id);
    if (exports.proxy_on_upstream_data(2, buffers[UPSTREAM].length, 0) !== 0) {
      throw new Error(`${c.key}: the response was paused`);
    }
    if (check && !same(buffers[UPSTREAM], withId(clientResponse, c.response_correlation_at, id))) {
      throw new Error(`${c.key}: the client did not get the response it must`);
    }
  };
  for (let i = 0; i < WARM_UP; i++) exchange(true);
  return exchange;
}

const cases = JSON.parse(fs.readFileSync(path.join(dir, 'replay.json')));
const runs = cases.map((c) => ({ c, exchange: start(c), ns: [] }));
for (let round = 0; round < ROUNDS; round++) {
  for (const r of runs) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < MEASURED; i++) r.exchange(false);
    r.ns.push(Number(process.hrtime.bigint() - t0) / MEASURED);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const floor = runs.find((r) => r.c.key === 'noop_read');
const rows = runs.map((r) => ({ key: r.c.key, label: r.c.label, ns: median(r.ns), rounds: r.ns }));
const base = floor ? median(floor.ns) : 0;
const lines = [
  `The rate load's exchange (a 1-record Produce and its response) replayed ${MEASURED} times per round, ` +
    `${ROUNDS} rounds with the configurations interleaved, in V8 (node ${process.version}, \`--no-liftoff\`) ` +
    'behind a JavaScript proxy-wasm host (`tests/v8/replay.cjs`); every output checked in the warm-up. ' +
    'Medians; the difference to (b2) is the module\'s own code beyond reading the bytes.',
  '',
  '| broker sidecar | ns per request and response | over (b2) | rounds |',
  '|---|---:|---:|---|',
  ...rows.map((r) =>
    `| ${r.label} | ${r.ns.toFixed(0)} | ${floor ? (r.ns - base >= 0 ? '+' : '') + (r.ns - base).toFixed(0) : ''} | ${r.rounds.map((x) => x.toFixed(0)).join(', ')} |`),
];
fs.writeFileSync(path.join(dir, 'v8.md'), lines.join('\n') + '\n');
fs.writeFileSync(path.join(dir, 'v8.json'), JSON.stringify(rows, null, 1));
console.log(lines.join('\n'));
