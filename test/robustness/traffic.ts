// Traffic for robustness runs: concurrent clients sending etcd v3 requests over gRPC
// (@grpc/grpc-js with the generated protobuf schemas, one channel per member, no
// retries: every attempt is one recorded operation) and logical watches that resume on
// another member when their stream breaks. Everything is recorded in a History.
//
// Outcomes: an answer is `ok`; an etcd error that says the request had no effect
// (`requested lease not found`, `lease already exists`, `required revision is a future
// revision`, `... has been compacted`) is `error`, and so is a call grpc-js fails before
// sending it (`No connection established`: 'not sent'); anything else (deadline, unavailable,
// connection lost, `leader changed`, `request timed out`, ...) is `ambiguous`: a write
// may or may not have been applied.

import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import {
  Compare_CompareResult, Compare_CompareTarget, CompactionRequestSchema, CompactionResponseSchema, DeleteRangeRequestSchema, DeleteRangeResponseSchema,
  HashKVRequestSchema, HashKVResponseSchema, LeaseGrantRequestSchema, LeaseGrantResponseSchema, LeaseRevokeRequestSchema, LeaseRevokeResponseSchema,
  PutRequestSchema, PutResponseSchema, RangeRequestSchema, RangeResponseSchema, StatusRequestSchema, StatusResponseSchema, TxnRequestSchema,
  TxnResponseSchema, WatchCreateRequest_FilterType, WatchRequestSchema, WatchResponseSchema,
} from '../../src/gen/etcdserverpb/rpc_pb.js';
import { Event_EventType, type KeyValue } from '../../src/gen/mvccpb/kv_pb.js';
import { Rng } from './corpus.js';
import type { DefiniteError, History, KV, Operation, Request, Response, TxnOp, WatchRecord, WatchResponse, WatchSegment } from './history.js';
import { prefixEnd } from './history.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Microseconds on the process's monotonic clock (the history's time base). */
export function nowUs(): number {
  return performance.now() * 1000;
}

/** A member the traffic talks to. */
export interface Endpoint {
  name: string;
  /** host:port */
  endpoint: string;
}

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 500,
  'grpc.keepalive_time_ms': 2000,
  'grpc.keepalive_timeout_ms': 1000,
};

/** One gRPC channel to one member; unary calls with a deadline and no retries. */
export class Conn {
  readonly client: grpc.Client;
  constructor(readonly ep: Endpoint) {
    this.client = new grpc.Client(ep.endpoint, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  }
  /** One call; rejects with the grpc ServiceError. */
  unary<I extends DescMessage, O extends DescMessage>(path: string, inS: I, outS: O, req: MessageInitShape<I>, timeoutMs: number): Promise<MessageShape<O>> {
    const bytes = Buffer.from(toBinary(inS, create(inS, req)));
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(path, (x: Buffer) => x, (x: Buffer) => x, bytes, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err || !res) reject(err ?? new Error('empty response'));
        else {
          try {
            resolve(fromBinary(outS, res));
          } catch (e) {
            reject(e);
          }
        }
      });
    });
  }
  close(): void {
    this.client.close();
  }
}

function toKV(kv: KeyValue | undefined): KV {
  if (!kv) throw new Error('missing kv');
  return { key: dec.decode(kv.key), value: dec.decode(kv.value), createRevision: Number(kv.createRevision), modRevision: Number(kv.modRevision), version: Number(kv.version), lease: Number(kv.lease) };
}

/** The definite etcd error named by a gRPC error's details, if any. */
function definite(details: string): DefiniteError | undefined {
  // grpc-js fails a call at once when the channel has no connection (connect refused):
  // the request never left the client
  if (details.startsWith('No connection established')) return 'not sent';
  if (details.includes('requested lease not found')) return 'lease not found';
  if (details.includes('lease already exists')) return 'lease exists';
  if (details.includes('future revision')) return 'future revision';
  if (details.includes('has been compacted')) return 'compacted';
  return undefined;
}

function txnOpToPb(o: TxnOp) {
  if (o.type === 'put') return { request: { case: 'requestPut' as const, value: { key: b(o.key), value: b(o.value), lease: BigInt(o.lease ?? 0) } } };
  if (o.type === 'delete') return { request: { case: 'requestDeleteRange' as const, value: { key: b(o.key) } } };
  return { request: { case: 'requestRange' as const, value: { key: b(o.key) } } };
}

/** Sends `req` on `conn`; returns the recorded answer. */
async function send(conn: Conn, req: Request, timeoutMs: number): Promise<Response> {
  switch (req.type) {
    case 'put': {
      const r = await conn.unary('/etcdserverpb.KV/Put', PutRequestSchema, PutResponseSchema, { key: b(req.key), value: b(req.value), lease: BigInt(req.lease ?? 0), prevKv: !!req.prevKv }, timeoutMs);
      return { type: 'put', revision: Number(r.header?.revision ?? 0n), ...(req.prevKv ? { prevKv: r.prevKv ? toKV(r.prevKv) : null } : {}) };
    }
    case 'delete': {
      const r = await conn.unary('/etcdserverpb.KV/DeleteRange', DeleteRangeRequestSchema, DeleteRangeResponseSchema, { key: b(req.key), prevKv: !!req.prevKv }, timeoutMs);
      return { type: 'delete', revision: Number(r.header?.revision ?? 0n), deleted: Number(r.deleted), ...(req.prevKv ? { prevKvs: r.prevKvs.map(toKV) } : {}) };
    }
    case 'range': {
      const r = await conn.unary('/etcdserverpb.KV/Range', RangeRequestSchema, RangeResponseSchema, { key: b(req.key), rangeEnd: req.end !== undefined ? b(req.end) : new Uint8Array(), revision: BigInt(req.revision ?? 0), serializable: !!req.serializable }, timeoutMs);
      return { type: 'range', revision: Number(r.header?.revision ?? 0n), kvs: r.kvs.map(toKV), count: Number(r.count) };
    }
    case 'txn': {
      const r = await conn.unary('/etcdserverpb.KV/Txn', TxnRequestSchema, TxnResponseSchema, {
        compare: req.compare.map((c) => ({
          result: Compare_CompareResult.EQUAL,
          target: c.target === 'mod' ? Compare_CompareTarget.MOD : Compare_CompareTarget.VALUE,
          key: b(c.key),
          targetUnion: c.target === 'mod' ? { case: 'modRevision' as const, value: BigInt(c.value) } : { case: 'value' as const, value: b(String(c.value)) },
        })),
        success: req.success.map(txnOpToPb),
        failure: req.failure.map(txnOpToPb),
      }, timeoutMs);
      return {
        type: 'txn',
        revision: Number(r.header?.revision ?? 0n),
        succeeded: r.succeeded,
        results: r.responses.map((x) => {
          const c = x.response.case;
          if (c === 'responseRange') return { type: 'range' as const, kvs: x.response.value.kvs.map(toKV) };
          if (c === 'responseDeleteRange') return { type: 'delete' as const, deleted: Number(x.response.value.deleted) };
          return { type: 'put' as const };
        }),
      };
    }
    case 'leaseGrant': {
      const r = await conn.unary('/etcdserverpb.Lease/LeaseGrant', LeaseGrantRequestSchema, LeaseGrantResponseSchema, { ID: BigInt(req.id), TTL: BigInt(req.ttl) }, timeoutMs);
      if (r.error) throw Object.assign(new Error(r.error), { details: r.error });
      return { type: 'leaseGrant', revision: Number(r.header?.revision ?? 0n) };
    }
    case 'leaseRevoke': {
      const r = await conn.unary('/etcdserverpb.Lease/LeaseRevoke', LeaseRevokeRequestSchema, LeaseRevokeResponseSchema, { ID: BigInt(req.id) }, timeoutMs);
      return { type: 'leaseRevoke', revision: Number(r.header?.revision ?? 0n) };
    }
  }
}

/** Records operations into a shared list. */
export class Recorder {
  readonly operations: Operation[] = [];
  private nextId = 1;
  /**
   * Sends `req` through `conn` and records it: invoke before sending, return when the
   * answer (or the error) arrives.
   */
  async run(client: number, conn: Conn, req: Request, timeoutMs: number): Promise<Operation> {
    const op: Operation = { id: this.nextId++, client, member: conn.ep.name, invoke: nowUs(), return: Infinity, request: req, status: 'ambiguous' };
    this.operations.push(op);
    try {
      op.response = await send(conn, req, timeoutMs);
      op.return = nowUs();
      op.status = 'ok';
    } catch (e) {
      const details = String((e as { details?: string }).details ?? (e as Error).message);
      const d = definite(details);
      if (d) {
        op.return = nowUs();
        op.status = 'error';
        op.error = d;
      } else {
        op.detail = details.slice(0, 200);
      }
    }
    return op;
  }
}

/** Options of the client traffic. */
export interface TrafficOptions {
  seed: number;
  clients: number;
  /** Requests per second over all clients (paced; 0 = as fast as possible). */
  rate: number;
  /** Per-request deadline, ms. */
  timeoutMs: number;
  keyPrefix: string;
}

/** The keys traffic uses: a few plain keys and a few for leases, all under `<prefix>k`. */
function keysOf(prefix: string): { plain: string[]; leased: string[] } {
  return {
    plain: Array.from({ length: 8 }, (_, i) => `${prefix}k${i}`),
    leased: Array.from({ length: 4 }, (_, i) => `${prefix}kl${i}`),
  };
}

/**
 * Concurrent clients: each has its own seeded generator and a member it talks to
 * (moving to the next after a failure), and sends, paced to `rate` in total: puts
 * (25%, a fifth with prev_kv), deletes (8%), txns with a MOD or VALUE compare (12%),
 * linearizable ranges of a key or the prefix (20%), serializable ranges (10%), ranges
 * at a recent explicit revision (7%), lease grants with client-chosen IDs (4%, and
 * whenever the client has no lease), puts attached to one of its leases (9%), revokes
 * of one of them (5%). Values are unique (`c<client>.<seq>`).
 */
export class Traffic {
  private stopped = false;
  private readonly done: Promise<void>[] = [];
  /** The highest header revision any answer carried (watches start from below it). */
  maxRevision = 1;

  constructor(readonly rec: Recorder, readonly conns: Conn[], readonly opts: TrafficOptions) {}

  start(): void {
    for (let c = 0; c < this.opts.clients; c++) this.done.push(this.client(c + 1));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.done);
  }

  private async client(id: number): Promise<void> {
    const rng = new Rng(this.opts.seed * 7919 + id * 104_729);
    const { plain, leased } = keysOf(this.opts.keyPrefix);
    let member = rng.int(this.conns.length);
    let seq = 0;
    const leases: number[] = [];
    const lastMod = new Map<string, number>();
    const interval = this.opts.rate > 0 ? (this.opts.clients * 1000) / this.opts.rate : 0;
    const leaseBase = ((this.opts.seed % 1000) * 1000 + id) * 100_000;
    while (!this.stopped) {
      const started = Date.now();
      const conn = this.conns[member]!;
      const key = rng.pick(plain);
      const value = `c${id}.${seq++}`;
      const p = rng.int(100);
      let req: Request;
      if (p < 25) req = { type: 'put', key, value, ...(rng.int(5) === 0 ? { prevKv: true } : {}) };
      else if (p < 33) req = { type: 'delete', key, ...(rng.int(4) === 0 ? { prevKv: true } : {}) };
      else if (p < 45) {
        const cmp = rng.int(3) === 0 ? { key, target: 'value' as const, value: `c${id}.${seq - 2}` } : { key, target: 'mod' as const, value: lastMod.get(key) ?? 0 };
        const other = rng.pick(plain.filter((k) => k !== key));
        req = { type: 'txn', compare: [cmp], success: rng.int(2) ? [{ type: 'put', key, value }] : [{ type: 'put', key, value }, { type: 'delete', key: other }], failure: [{ type: 'range', key }] };
      } else if (p < 65) req = rng.int(2) ? { type: 'range', key } : { type: 'range', key: this.opts.keyPrefix, end: prefixEnd(this.opts.keyPrefix) };
      else if (p < 75) req = { type: 'range', key: this.opts.keyPrefix, end: prefixEnd(this.opts.keyPrefix), serializable: true };
      else if (p < 82) req = { type: 'range', key: this.opts.keyPrefix, end: prefixEnd(this.opts.keyPrefix), revision: Math.max(1, this.maxRevision - rng.int(40)), ...(rng.int(2) ? { serializable: true } : {}) };
      else if (p < 86 || leases.length === 0) {
        const lid = leaseBase + seq;
        leases.push(lid);
        req = { type: 'leaseGrant', id: lid, ttl: 600 };
      } else if (p < 95) req = { type: 'put', key: rng.pick(leased), value, lease: rng.pick(leases) };
      else {
        const i = rng.int(leases.length);
        req = { type: 'leaseRevoke', id: leases[i]! };
        leases.splice(i, 1);
      }
      const op = await this.rec.run(id, conn, req, this.opts.timeoutMs);
      if (op.status === 'ok' && op.response) {
        this.maxRevision = Math.max(this.maxRevision, op.response.revision);
        const r = op.response;
        if (r.type === 'range') for (const kv of r.kvs) lastMod.set(kv.key, kv.modRevision);
        if (r.type === 'txn') for (const x of r.results) if (x.type === 'range') for (const kv of x.kvs) lastMod.set(kv.key, kv.modRevision);
      } else if (op.status === 'ambiguous' || op.error === 'not sent') {
        member = (member + 1) % this.conns.length;
        await sleep(20);
      }
      const wait = interval - (Date.now() - started);
      if (wait > 0) await sleep(wait);
    }
  }
}

/** What a logical watch asks for. */
export interface WatchSpec {
  key: string;
  end?: string;
  prevKv: boolean;
  filters: Array<'noput' | 'nodelete'>;
  startRevision: number;
}

/**
 * A logical watch (WatchRecord): one stream at a time; when a stream ends (error,
 * cancel, member gone) it reopens on the next member from the revision after the last
 * it saw (event or progress notification). Sends a progress request now and then.
 */
export class Watcher {
  readonly record: WatchRecord;
  private member: number;
  private closed = false;
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private loop: Promise<void>;
  private progressTimer: NodeJS.Timeout | undefined;
  /** The highest revision this watch has seen (events or progress notifications). */
  seen = 0;
  lastEvent = 0;

  constructor(id: number, readonly conns: Conn[], spec: WatchSpec, firstMember: number) {
    this.record = { id, key: spec.key, ...(spec.end !== undefined ? { end: spec.end } : {}), prevKv: spec.prevKv, filters: spec.filters, startRevision: spec.startRevision, segments: [] };
    this.member = firstMember % conns.length;
    this.seen = spec.startRevision - 1;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      const conn = this.conns[this.member]!;
      // resume after the last event (not after a progress notification: etcd 3.4.23's may run
      // ahead of or behind the stream, etcd#15220)
      const seg: WatchSegment = { member: conn.ep.name, startRevision: Math.max(this.lastEvent + 1, this.record.startRevision), responses: [], end: '' };
      this.record.segments.push(seg);
      seg.end = await this.stream(conn, seg);
      if (!this.closed) {
        this.member = (this.member + 1) % this.conns.length;
        await sleep(100);
      }
    }
  }

  private stream(conn: Conn, seg: WatchSegment): Promise<string> {
    return new Promise((resolve) => {
      const md = new grpc.Metadata();
      md.set('hasleader', 'true');
      const call = conn.client.makeBidiStreamRequest('/etcdserverpb.Watch/Watch', (x: Buffer) => x, (x: Buffer) => x, md, {});
      this.call = call;
      let finished = false;
      const finish = (why: string) => {
        if (finished) return;
        finished = true;
        clearInterval(this.progressTimer);
        call.removeAllListeners('data');
        try { call.cancel(); } catch { /* gone */ }
        resolve(why);
      };
      call.on('data', (buf: Buffer) => {
        const r = fromBinary(WatchResponseSchema, buf);
        if (r.created) return;
        if (r.canceled) {
          finish(`canceled: ${r.cancelReason}${r.compactRevision ? ` (compacted at ${r.compactRevision})` : ''}`);
          return;
        }
        const resp: WatchResponse = {
          time: nowUs(),
          headerRevision: Number(r.header?.revision ?? 0n),
          events: r.events.map((e) => ({ type: e.type === Event_EventType.DELETE ? 'delete' : 'put', kv: toKV(e.kv), ...(e.prevKv ? { prevKv: toKV(e.prevKv) } : {}) })),
        };
        if (resp.events.length === 0) resp.progress = true;
        seg.responses.push(resp);
        for (const e of resp.events) this.lastEvent = Math.max(this.lastEvent, e.kv.modRevision);
        this.seen = Math.max(this.seen, this.lastEvent, resp.progress ? resp.headerRevision : 0);
      });
      call.on('error', (e: grpc.ServiceError) => finish(`error: ${e.details ?? e.message}`));
      call.on('end', () => finish('ended'));
      call.on('status', (s: grpc.StatusObject) => { if (s.code !== grpc.status.OK) finish(`status ${s.code}: ${s.details}`); });
      const filters = this.record.filters.map((f) => (f === 'noput' ? WatchCreateRequest_FilterType.NOPUT : WatchCreateRequest_FilterType.NODELETE));
      call.write(Buffer.from(toBinary(WatchRequestSchema, create(WatchRequestSchema, {
        requestUnion: { case: 'createRequest', value: { key: b(this.record.key), rangeEnd: this.record.end !== undefined ? b(this.record.end) : new Uint8Array(), startRevision: BigInt(seg.startRevision), prevKv: this.record.prevKv, filters } },
      }))));
      this.progressTimer = setInterval(() => this.requestProgress(), 700);
    });
  }

  /** Asks the member for a progress notification (WatchProgressRequest). */
  requestProgress(): void {
    try {
      this.call?.write(Buffer.from(toBinary(WatchRequestSchema, create(WatchRequestSchema, { requestUnion: { case: 'progressRequest', value: {} } }))));
    } catch { /* the stream is gone; it is reopened */ }
  }

  /** Ends the watch (the current stream is cancelled and recorded as 'closed'). */
  async close(): Promise<void> {
    this.closed = true;
    try { this.call?.cancel(); } catch { /* gone */ }
    await this.loop;
    const last = this.record.segments[this.record.segments.length - 1];
    if (last) last.end = 'closed';
  }
}

/** Calls `f` on each member in turn until one answers (at most `ms`); returns the answer. */
export async function untilOk<T>(conns: Conn[], ms: number, f: (c: Conn) => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  let i = 0;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await f(conns[i % conns.length]!);
    } catch (e) {
      last = e;
      i++;
      await sleep(200);
    }
  }
  throw new Error(`no member answered within ${ms} ms: ${String((last as { details?: string })?.details ?? last)}`);
}

/** Status of one member (header revision and raft applied index), or undefined. */
export async function statusOf(c: Conn): Promise<{ revision: number; applied: number; leader: string; memberId: string } | undefined> {
  try {
    const s = await c.unary('/etcdserverpb.Maintenance/Status', StatusRequestSchema, StatusResponseSchema, {}, 2000);
    return { revision: Number(s.header?.revision ?? 0n), applied: Number(s.raftAppliedIndex), leader: s.leader.toString(16), memberId: (s.header?.memberId ?? 0n).toString(16) };
  } catch {
    return undefined;
  }
}

/** Compacts at `rev` (physical: the answer comes once the compaction is done). */
export async function compact(c: Conn, rev: number): Promise<void> {
  await c.unary('/etcdserverpb.KV/Compact', CompactionRequestSchema, CompactionResponseSchema, { revision: BigInt(rev), physical: true }, 10_000);
}

/** HashKV of one member at `rev`. */
export async function hashKV(c: Conn, rev: number): Promise<{ hash: number; compactRevision: number; revision: number }> {
  const r = await c.unary('/etcdserverpb.Maintenance/HashKV', HashKVRequestSchema, HashKVResponseSchema, { revision: BigInt(rev) }, 10_000);
  return { hash: r.hash, compactRevision: Number(r.compactRevision), revision: Number(r.header?.revision ?? 0n) };
}

export type { History };
