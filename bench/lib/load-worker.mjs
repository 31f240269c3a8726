// Load generator worker (worker_threads) for bench/server.mjs.
//
// workerData: {
//   endpoint: "127.0.0.1:PORT",
//   kind: "put" | "get",          put: KV.Put of a 256-byte value; get: linearizable KV.Range of one key
//   conns: number,                gRPC connections (channels) this worker opens
//   concurrency: number,          requests kept in flight by this worker, spread over its conns
//   keys: number, prefix: string, keyspace: keys "<prefix><n>" for n in [0, keys)
//   valueSize: number,            bytes per put value
//   durationMs: number,           how long to keep issuing requests
//   seed: number,
//   fill: boolean,                put every key of the keyspace once, in order (no timing; ends when done)
//   worker: number, workers: number   with fill: this worker puts the keys n with n % workers == worker
// }
// Requests are protobuf-encoded by hand once per key before the clock starts (two
// fields; no dependency on dist/, which may be mid-rebuild), sent with grpc-js's makeUnaryRequest and
// identity (de)serializers: per request the worker does no encoding or decoding.
//
// Posts back: { ok, errors, errorSamples, latencies: Float64Array (ms, transferred),
//               elapsedMs, elu } where elu is this worker's event-loop utilization
// (0..1; near 1 means the worker itself was the bottleneck).
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';

/** Protobuf varint bytes of a non-negative integer. */
function varint(n) {
  const out = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
/** A length-delimited protobuf field (wire type 2). */
const bytesField = (field, b) => Buffer.concat([varint((field << 3) | 2), varint(b.length), b]);
// etcdserverpb (rpc.proto): PutRequest { bytes key = 1; bytes value = 2; ... },
// RangeRequest { bytes key = 1; ... } (serializable = 7 left false: linearizable).
const encodePut = (key, value) => Buffer.concat([bytesField(1, key), value.length ? bytesField(2, value) : Buffer.alloc(0)]);
const encodeRange = (key) => bytesField(1, key);

const { endpoint, kind, conns, concurrency, keys, prefix, valueSize, durationMs, seed, fill, worker, workers } = workerData;

let s = seed >>> 0;
const rand = () => {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = Math.imul(s ^ (s >>> 15), s | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const value = Buffer.alloc(valueSize);
for (let i = 0; i < valueSize; i++) value[i] = 97 + Math.floor(rand() * 26);
const requests = new Array(keys);
for (let n = 0; n < keys; n++) {
  const key = Buffer.from(`${prefix}${n}`);
  requests[n] = kind === 'put' ? encodePut(key, value) : encodeRange(key);
}
const method = kind === 'put' ? '/etcdserverpb.KV/Put' : '/etcdserverpb.KV/Range';
const identity = (b) => b;

// One channel per connection: a local subchannel pool keeps grpc-js from sharing one TCP connection.
const clients = Array.from({ length: conns }, () =>
  new grpc.Client(endpoint, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
await Promise.all(clients.map((c) => new Promise((resolve, reject) =>
  c.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())))));

let latencies = new Float64Array(1 << 16);
let ok = 0;
let errors = 0;
const errorSamples = [];
let inflight = 0;

const elu0 = performance.eventLoopUtilization();
const t0 = performance.now();
const end = t0 + (durationMs ?? 0);
let done;
const finished = new Promise((r) => { done = r; });

let nextFill = worker ?? 0;
/** The next request: a random key, or with `fill` the next key of this worker (undefined when all are sent). */
function nextRequest() {
  if (!fill) return requests[Math.floor(rand() * keys)];
  if (nextFill >= keys) return undefined;
  const r = requests[nextFill];
  nextFill += workers;
  return r;
}

function issue(slot) {
  const client = clients[slot % conns];
  const req = nextRequest();
  if (req === undefined) {
    if (inflight === 0) done();
    return;
  }
  const start = performance.now();
  inflight++;
  client.makeUnaryRequest(method, identity, identity, req, { deadline: Date.now() + 30_000 }, (err, resp) => {
    const now = performance.now();
    inflight--;
    if (err || !resp || resp.length === 0) {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(err ? `${err.code} ${err.details}` : 'empty response');
    } else {
      if (ok === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[ok++] = now - start;
    }
    if (fill || now < end) issue(slot);
    else if (inflight === 0) done();
  });
}
for (let i = 0; i < concurrency; i++) issue(i);
await finished;
const elapsedMs = performance.now() - t0;
const elu = performance.eventLoopUtilization(elu0).utilization;
for (const c of clients) c.close();
const out = latencies.slice(0, ok);
parentPort.postMessage({ ok, errors, errorSamples, latencies: out, elapsedMs, elu }, [out.buffer]);
