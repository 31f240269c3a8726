// What HTTP/2 handling costs the server's event loop per unary gRPC call, and what a lean
// HTTP/2 implementation of our own would cost instead: the measurement behind the next step
// for the put row (bench/README.md, 2026-12-07).
//
// Three stand-in servers answer every KV.Put with a fixed PutResponse after the same token
// work on the request bytes; nothing else (no Raft, no WAL, no apply):
//   node-http2  node:http2 as the member used it until 2026-12-07 (respond, write, trailers
//               on 'wantTrailers');
//   transport   the member's gRPC transport since then (v3rpc/transport: GrpcServer on our
//               own HTTP/2, from dist/), with a unary method answering on the next turn;
//   lean        frames read and written by hand on a net socket, request headers decoded with
//               our HPACK decoder (src/util/http2/hpack.ts, from dist/), each response as three
//               precomputed frames, one socket write per read. Enough for this load only: no
//               flow control towards the client, no CONTINUATION, padding or priorities.
// The Go clientv3 generator (bench/go/loadgen) puts at 100 in flight over 4 connections;
// the script reads the server thread's CPU from /proc and prints µs per call.
//
//   node bench/h2-floor.mjs [--duration=4s] [--rounds=2]
//
// Linux only (/proc). Build first (npm run build) for the transport and lean modes.

import net from 'node:net';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));

/** A PutResponse{header{cluster_id: 1, member_id: 2, revision: 3}} with its 5-byte gRPC prefix. */
const RESPONSE = Buffer.from([0, 0, 0, 0, 8, 0x0a, 6, 0x08, 1, 0x10, 2, 0x18, 3]);

/** The same small amount of work on every request in both modes (a stand-in for decoding it). */
function touch(msg) {
  let x = 0;
  for (let i = 0; i < msg.length; i++) x = (x * 31 + msg[i]) | 0;
  return x;
}

function serveNodeHttp2(port) {
  const srv = http2.createServer({ settings: { maxConcurrentStreams: 2 ** 32 - 1, initialWindowSize: 1 << 20 } });
  srv.on('stream', (stream) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      touch((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).subarray(5));
      setImmediate(() => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(RESPONSE);
      });
    });
  });
  srv.listen(port, '127.0.0.1', () => process.send?.('ready'));
}

async function serveTransport(port) {
  const { GrpcServer } = await import(join(root, 'dist/src/server/etcdserver/api/v3rpc/transport/server.js'));
  const server = new GrpcServer({ maxRecvBytes: 2 << 20 });
  const payload = RESPONSE.subarray(5);
  server.addMethod('etcdserverpb.KV', 'Put', {
    kind: 'unary',
    decode: (msg) => touch(msg),
    encode: () => payload,
    handler: (call, req) => setImmediate(() => call.sendResponse(req)),
  });
  const srv = net.createServer((sock) => server.handleConnection(sock));
  srv.listen(port, '127.0.0.1', () => process.send?.('ready'));
}

function frame(type, flags, streamId, payload) {
  const b = Buffer.allocUnsafe(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(streamId, 5);
  payload.copy(b, 9);
  return b;
}

async function serveLean(port) {
  const { HpackDecoder, encodeLiteralBlock } = await import(join(root, 'dist/src/util/http2/hpack.js'));
  const lit = (name, value) => ({ name, value, neverIndex: false });
  const headers = encodeLiteralBlock([lit(':status', '200'), lit('content-type', 'application/grpc')]);
  const trailers = encodeLiteralBlock([lit('grpc-status', '0')]);
  const srv = net.createServer((sock) => {
    sock.setNoDelay(true);
    const hpack = new HpackDecoder();
    const streams = new Map();
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    let unacked = 0;
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(0x4, 0); // SETTINGS_INITIAL_WINDOW_SIZE
    settings.writeUInt32BE(1 << 20, 2);
    const widen = Buffer.alloc(4);
    widen.writeUInt32BE((16 << 20) - 65535);
    sock.write(Buffer.concat([frame(0x4, 0, 0, settings), frame(0x8, 0, 0, widen)]));
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf = buf.length > 0 ? Buffer.concat([buf, d]) : d;
      let p = 0;
      if (!prefaceSeen) {
        if (buf.length < 24) return;
        p = 24;
        prefaceSeen = true;
      }
      const out = [];
      while (buf.length - p >= 9) {
        const len = buf.readUIntBE(p, 3);
        if (buf.length - p - 9 < len) break;
        const type = buf[p + 3];
        const flags = buf[p + 4];
        const id = buf.readUInt32BE(p + 5) & 0x7fffffff;
        const payload = buf.subarray(p + 9, p + 9 + len);
        p += 9 + len;
        if (type === 0x1) {
          hpack.decode(flags & 0x20 ? payload.subarray(5) : payload); // keeps the client's dynamic table
          streams.set(id, []);
        } else if (type === 0x0) {
          unacked += len;
          const chunks = streams.get(id);
          if (chunks) chunks.push(payload);
          if (flags & 0x1 && chunks) {
            streams.delete(id);
            touch((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).subarray(5));
            out.push(frame(0x1, 0x4, id, headers), frame(0x0, 0, id, RESPONSE), frame(0x1, 0x5, id, trailers));
          }
        } else if (type === 0x4 && !(flags & 0x1)) out.push(frame(0x4, 0x1, 0, Buffer.alloc(0)));
        else if (type === 0x6 && !(flags & 0x1)) out.push(frame(0x6, 0x1, 0, payload));
      }
      buf = p < buf.length ? buf.subarray(p) : Buffer.alloc(0);
      if (unacked > 1 << 19) {
        const w = Buffer.alloc(4);
        w.writeUInt32BE(unacked);
        out.push(frame(0x8, 0, 0, w));
        unacked = 0;
      }
      if (out.length > 0) sock.write(out.length === 1 ? out[0] : Buffer.concat(out));
    });
  });
  srv.listen(port, '127.0.0.1', () => process.send?.('ready'));
}

/** user and system CPU of the process's main thread, seconds (/proc/<pid>/task/<pid>/stat). */
function mainThreadCpu(pid) {
  const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 };
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function measure(mode, loadgen, duration) {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), `--serve=${mode}`, `--port=${port}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`${mode} server exited (${code})`)));
    });
    const before = mainThreadCpu(child.pid);
    const r = spawnSync(loadgen, ['--endpoint', `127.0.0.1:${port}`, '--kind', 'put', '--clients', '100', '--conns', '4', '--duration', duration], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const after = mainThreadCpu(child.pid);
    if (r.status !== 0) throw new Error(`loadgen: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    if (out.errors) throw new Error(`${mode}: ${out.errors} failed calls`);
    const calls = out.ok;
    return { mode, callsPerSec: Math.round((calls / out.elapsedMs) * 1000), userUs: ((after.user - before.user) * 1e6) / calls, sysUs: ((after.sys - before.sys) * 1e6) / calls };
  } finally {
    child.kill();
  }
}

if (args.serve === 'node-http2') serveNodeHttp2(Number(args.port));
else if (args.serve === 'lean') await serveLean(Number(args.port));
else if (args.serve === 'transport') await serveTransport(Number(args.port));
else {
  const { buildGo } = await import('./go/build.mjs');
  const loadgen = buildGo('loadgen');
  const rounds = Number(args.rounds ?? 2);
  for (let i = 0; i < rounds; i++) {
    for (const mode of ['node-http2', 'transport', 'lean']) {
      const m = await measure(mode, loadgen, args.duration ?? '4s');
      console.log(`${mode.padEnd(10)} ${String(m.callsPerSec).padStart(6)} calls/s, server main thread ${m.userUs.toFixed(1)} µs user + ${m.sysUs.toFixed(1)} µs system per call`);
    }
  }
}
