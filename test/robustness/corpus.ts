// Helpers to write histories by hand (the checker's known-good and known-bad corpus)
// and to generate random correct histories from the model.

import type { History, Operation, Request, Response, WatchEvent, WatchRecord, WatchResponse, DefiniteError } from './history.js';
import { apply, initialState, type State } from './model.js';

/** Builds a history operation by operation; times in ms (stored as µs). */
export class HistoryBuilder {
  readonly operations: Operation[] = [];
  readonly watches: WatchRecord[] = [];
  private nextId = 1;

  /** An acknowledged operation. */
  ok(client: number, invokeMs: number, returnMs: number, request: Request, response: Response): Operation {
    return this.add({ id: this.nextId++, client, invoke: invokeMs * 1000, return: returnMs * 1000, request, status: 'ok', response });
  }
  /** A definite failure. */
  fail(client: number, invokeMs: number, returnMs: number, request: Request, error: DefiniteError): Operation {
    return this.add({ id: this.nextId++, client, invoke: invokeMs * 1000, return: returnMs * 1000, request, status: 'error', error });
  }
  /** A timed-out operation. */
  ambiguous(client: number, invokeMs: number, request: Request): Operation {
    return this.add({ id: this.nextId++, client, invoke: invokeMs * 1000, return: Infinity, request, status: 'ambiguous', detail: 'deadline exceeded' });
  }
  private add(op: Operation): Operation {
    this.operations.push(op);
    return op;
  }
  /** A watch with one stream per entry of `segments` (each: start revision and responses). */
  watch(w: Omit<WatchRecord, 'id' | 'segments'>, segments: Array<{ start: number; responses: Array<Partial<WatchResponse> & { events: WatchEvent[] }> }>): WatchRecord {
    const rec: WatchRecord = {
      ...w,
      id: this.watches.length,
      segments: segments.map((s) => ({ member: 'm1', startRevision: s.start, end: 'closed', responses: s.responses.map((r) => ({ time: 0, headerRevision: r.headerRevision ?? Math.max(0, ...r.events.map((e) => e.kv.modRevision)), ...r })) })),
    };
    this.watches.push(rec);
    return rec;
  }
  history(firstRevision = 1): History {
    return { operations: this.operations, watches: this.watches, firstRevision };
  }
}

/**
 * The events a correct store makes for `writes` applied in order from an empty store
 * at revision `first` (with prev_kv), one WatchResponse per revision.
 */
export function eventsOf(writes: Request[], first = 1): { responses: WatchResponse[]; state: State } {
  let s = initialState(first);
  const responses: WatchResponse[] = [];
  for (const w of writes) {
    const a = apply(s, w);
    s = a.state;
    if (a.events.length) responses.push({ time: 0, headerRevision: s.rev, events: a.events.map((e) => ({ ...e })) });
  }
  return { responses, state: s };
}

/** A small deterministic PRNG (xorshift32) for generated histories and traffic. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) || 0x1234567;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x / 0x100000000;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

/**
 * A random correct history: `n` operations over a few keys and leases, executed in
 * order by the model, each given an invoke/return interval around its linearization
 * point (so clients overlap); some writes are ambiguous (their outcome known to the
 * model, not to the client). Includes the reference watch of everything.
 */
export function randomHistory(seed: number, n: number): History {
  const rng = new Rng(seed);
  const keys = ['/rb/k0', '/rb/k1', '/rb/k2', '/rb/k3'];
  const leases = [0x101, 0x102, 0x103];
  let s = initialState(1);
  const b = new HistoryBuilder();
  const writes: Request[] = [];
  let t = 10;
  let seq = 0;
  for (let i = 0; i < n; i++) {
    t += 1 + rng.int(3);
    const inv = t - rng.int(8);
    const ret = t + rng.int(8);
    const key = rng.pick(keys);
    let req: Request;
    const kind = rng.int(10);
    if (kind < 3) req = { type: 'put', key, value: `v${seq++}`, ...(rng.int(4) === 0 ? { lease: rng.pick(leases) } : {}) };
    else if (kind < 4) req = { type: 'delete', key };
    else if (kind < 5) {
      const cur = s.kvs.get(key);
      req = { type: 'txn', compare: [{ key, target: 'mod', value: rng.int(2) === 0 && cur ? cur.modRevision : rng.int(5) }], success: [{ type: 'put', key, value: `v${seq++}` }], failure: [{ type: 'range', key }] };
    } else if (kind < 8) req = { type: 'range', key: '/rb/', end: '/rb0' };
    else if (kind < 9) req = { type: 'leaseGrant', id: rng.pick(leases), ttl: 600 };
    else req = { type: 'leaseRevoke', id: rng.pick(leases) };
    const a = apply(s, req);
    const ambiguous = req.type !== 'range' && rng.int(12) === 0;
    if (ambiguous) {
      // the write may or may not have happened; the model decides at random
      b.ambiguous(1 + rng.int(4), inv, req);
      if (rng.int(2) === 0) continue;
    } else if (a.error) {
      b.fail(1 + rng.int(4), inv, ret, req, a.error);
    } else {
      b.ok(1 + rng.int(4), inv, ret, req, a.response!);
    }
    s = a.state;
    if (req.type !== 'range') writes.push(req);
  }
  const { responses } = eventsOf(writes);
  b.watch({ key: '/rb/', end: '/rb0', prevKv: true, filters: [], startRevision: 1 }, [{ start: 1, responses }]);
  return b.history();
}
