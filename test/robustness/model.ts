// The etcd model the linearizability checker runs operations through: one key space
// with a global revision, leases, txns with equality compares. It follows etcd 3.4's
// apply path (etcdserver/apply.go, mvcc/kvstore_txn.go, lease/lessor.go):
// - a write that changes keys makes one new revision; every key it changes gets
//   mod_revision = that revision, create_revision = it for a new key, version + 1;
// - a delete of an absent key, a txn whose branch writes nothing, a lease grant and
//   a revoke of a lease without keys leave the revision as it is;
// - every response header carries the store revision after the request applied;
// - a put with an unknown lease fails (`requested lease not found`) with no effect,
//   a revoke deletes the lease's keys in one revision;
// - a txn compare on VALUE of an absent key is false, on MOD compares with 0.
// Leases are granted with TTLs far longer than a run, so they never expire here.

import type { KV, Operation, Request, Response, TxnOp, TxnOpResult } from './history.js';
import { inRange } from './history.js';

/** The store: revision, keys, live leases. Never mutated once made (steps copy). */
export interface State {
  rev: number;
  kvs: ReadonlyMap<string, KV>;
  leases: ReadonlySet<number>;
  /** Memoized fingerprint (see fingerprint()). */
  fp?: string;
}

/** The empty store at revision `rev` (a fresh cluster: 1). */
export function initialState(rev = 1): State {
  return { rev, kvs: new Map(), leases: new Set() };
}

/** A string equal for equal states (the checker's cache key part). */
export function fingerprint(s: State): string {
  if (s.fp !== undefined) return s.fp;
  const keys = [...s.kvs.keys()].sort();
  let out = `${s.rev}|`;
  for (const k of keys) {
    const kv = s.kvs.get(k)!;
    out += `${k}=${kv.value},${kv.createRevision},${kv.modRevision},${kv.version},${kv.lease};`;
  }
  out += `|${[...s.leases].sort((a, b) => a - b).join(',')}`;
  (s as State).fp = out;
  return out;
}

/** One event a write makes (the committed history is a list of these per revision). */
export interface ModelEvent {
  type: 'put' | 'delete';
  /** For a put, the new KV; for a delete, the key with mod_revision = the revision. */
  kv: KV;
  /** The key's KV before this revision (absent for a new key). */
  prevKv?: KV;
}

/** The result of applying a request to a state (ignoring what the server answered). */
export interface Applied {
  state: State;
  /** What a correct server answers. */
  response?: Response;
  error?: 'lease not found' | 'lease exists' | 'future revision' | 'compacted';
  /** The events of the new revision (empty when the revision did not change). */
  events: ModelEvent[];
}

class Writer {
  kvs: Map<string, KV> | undefined;
  leases: Set<number> | undefined;
  events: ModelEvent[] = [];
  constructor(readonly base: State) {}
  get rev(): number {
    return this.base.rev + 1;
  }
  get(key: string): KV | undefined {
    return (this.kvs ?? this.base.kvs).get(key);
  }
  put(key: string, value: string, lease: number): void {
    this.kvs ??= new Map(this.base.kvs);
    const prev = this.kvs.get(key);
    const kv: KV = { key, value, createRevision: prev ? prev.createRevision : this.rev, modRevision: this.rev, version: prev ? prev.version + 1 : 1, lease };
    this.kvs.set(key, kv);
    this.events.push(prev ? { type: 'put', kv, prevKv: prev } : { type: 'put', kv });
  }
  delete(key: string): boolean {
    const prev = this.get(key);
    if (!prev) return false;
    this.kvs ??= new Map(this.base.kvs);
    this.kvs.delete(key);
    this.events.push({ type: 'delete', kv: { key, value: '', createRevision: 0, modRevision: this.rev, version: 0, lease: 0 }, prevKv: prev });
    return true;
  }
  state(): State {
    const changed = this.events.length > 0;
    return {
      rev: changed ? this.rev : this.base.rev,
      kvs: this.kvs ?? this.base.kvs,
      leases: this.leases ?? this.base.leases,
    };
  }
}

function rangeOf(kvs: ReadonlyMap<string, KV>, key: string, end?: string): KV[] {
  if (end === undefined || end === '') {
    const kv = kvs.get(key);
    return kv ? [kv] : [];
  }
  return [...kvs.values()].filter((kv) => inRange(kv.key, key, end)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function compareHolds(s: State, c: { key: string; target: 'mod' | 'value'; value: number | string }): boolean {
  const kv = s.kvs.get(c.key);
  if (c.target === 'value') return kv !== undefined && kv.value === c.value;
  return (kv ? kv.modRevision : 0) === c.value;
}

/**
 * Applies `req` to `s` as a correct etcd 3.4 server does. Ranges at an explicit
 * revision are answered with the revision only (their KVs need the store's past,
 * which check.ts validates against the committed history).
 */
export function apply(s: State, req: Request): Applied {
  switch (req.type) {
    case 'put': {
      const lease = req.lease ?? 0;
      if (lease !== 0 && !s.leases.has(lease)) return { state: s, error: 'lease not found', events: [] };
      const w = new Writer(s);
      const prev = w.get(req.key);
      w.put(req.key, req.value, lease);
      const st = w.state();
      return { state: st, response: { type: 'put', revision: st.rev, ...(req.prevKv ? { prevKv: prev ?? null } : {}) }, events: w.events };
    }
    case 'delete': {
      const w = new Writer(s);
      const prev = w.get(req.key);
      const deleted = w.delete(req.key) ? 1 : 0;
      const st = w.state();
      return { state: st, response: { type: 'delete', revision: st.rev, deleted, ...(req.prevKv ? { prevKvs: prev ? [prev] : [] } : {}) }, events: w.events };
    }
    case 'txn': {
      const succeeded = req.compare.every((c) => compareHolds(s, c));
      const ops = succeeded ? req.success : req.failure;
      // a txn whose puts name an unknown lease fails as a whole (etcd checks leases before applying)
      for (const o of ops) if (o.type === 'put' && o.lease && !s.leases.has(o.lease)) return { state: s, error: 'lease not found', events: [] };
      const w = new Writer(s);
      const results: TxnOpResult[] = ops.map((o: TxnOp): TxnOpResult => {
        if (o.type === 'put') {
          w.put(o.key, o.value, o.lease ?? 0);
          return { type: 'put' };
        }
        if (o.type === 'delete') return { type: 'delete', deleted: w.delete(o.key) ? 1 : 0 };
        const kv = w.get(o.key);
        return { type: 'range', kvs: kv ? [kv] : [] };
      });
      const st = w.state();
      return { state: st, response: { type: 'txn', revision: st.rev, succeeded, results }, events: w.events };
    }
    case 'range': {
      if (req.revision !== undefined && req.revision > s.rev) return { state: s, error: 'future revision', events: [] };
      const kvs = req.revision !== undefined ? [] : rangeOf(s.kvs, req.key, req.end);
      return { state: s, response: { type: 'range', revision: s.rev, kvs, count: kvs.length }, events: [] };
    }
    case 'leaseGrant': {
      if (s.leases.has(req.id)) return { state: s, error: 'lease exists', events: [] };
      const leases = new Set(s.leases);
      leases.add(req.id);
      const st: State = { rev: s.rev, kvs: s.kvs, leases };
      return { state: st, response: { type: 'leaseGrant', revision: st.rev }, events: [] };
    }
    case 'leaseRevoke': {
      if (!s.leases.has(req.id)) return { state: s, error: 'lease not found', events: [] };
      const w = new Writer(s);
      for (const kv of [...s.kvs.values()].sort((a, b) => (a.key < b.key ? -1 : 1))) if (kv.lease === req.id) w.delete(kv.key);
      w.leases = new Set(s.leases);
      w.leases.delete(req.id);
      const st = w.state();
      return { state: st, response: { type: 'leaseRevoke', revision: st.rev }, events: w.events };
    }
  }
}

/** True if two KV lists are equal (same keys in order, same fields). */
export function kvsEqual(a: readonly KV[], b: readonly KV[]): boolean {
  return a.length === b.length && a.every((x, i) => kvEqual(x, b[i]));
}

/** True if two KVs (either may be absent) are equal in every field. */
export function kvEqual(a: KV | undefined | null, b: KV | undefined | null): boolean {
  if (!a || !b) return !a && !b;
  return a.key === b.key && a.value === b.value && a.createRevision === b.createRevision && a.modRevision === b.modRevision && a.version === b.version && a.lease === b.lease;
}

/** True if the server's answer `got` is what a correct server answers (`want`). */
export function responseMatches(want: Response, got: Response): boolean {
  if (want.type !== got.type || want.revision !== got.revision) return false;
  switch (want.type) {
    case 'put': {
      const g = got as typeof want;
      return want.prevKv === undefined || g.prevKv === undefined || kvEqual(want.prevKv, g.prevKv);
    }
    case 'delete': {
      const g = got as typeof want;
      return want.deleted === g.deleted && (want.prevKvs === undefined || g.prevKvs === undefined || kvsEqual(want.prevKvs, g.prevKvs));
    }
    case 'range': {
      const g = got as typeof want;
      return want.count === g.count && kvsEqual(want.kvs, g.kvs);
    }
    case 'txn': {
      const g = got as typeof want;
      if (want.succeeded !== g.succeeded || want.results.length !== g.results.length) return false;
      return want.results.every((r, i) => {
        const o = g.results[i]!;
        if (r.type !== o.type) return false;
        if (r.type === 'delete') return r.deleted === (o as typeof r).deleted;
        if (r.type === 'range') return kvsEqual(r.kvs, (o as typeof r).kvs);
        return true;
      });
    }
    default:
      return true;
  }
}

/** True if `req` can change the store (the checker may apply an ambiguous one or not). */
export function isWrite(req: Request): boolean {
  return req.type !== 'range';
}

/**
 * The states `op` can leave `s` in, given what the client saw; empty if none (the
 * operation cannot be linearized at this point).
 * - ok: the model's answer must equal the server's;
 * - error: the model must fail the same way (the state does not change);
 * - ambiguous write: not applied, or applied (when its answer was resolved from the
 *   committed history, only applied with that answer; with a revision hint, only
 *   applied making that revision, or, with hint 'none', only without a new revision);
 * - explicit-revision and serializable ranges are not run here (check.ts).
 */
export function step(s: State, op: Operation): State[] {
  const a = apply(s, op.request);
  if (op.status === 'ok') {
    if (!a.response || !op.response) return [];
    return responseMatches(a.response, op.response) ? [a.state] : [];
  }
  if (op.status === 'error') return a.error === op.error || op.error === 'not sent' ? [s] : [];
  // ambiguous
  if (op.response) return a.response && responseMatches(a.response, op.response) ? [a.state] : [];
  if (op.revisionHint !== undefined) {
    if (op.revisionHint === 'none') return a.state.rev === s.rev && a.state !== s && fingerprint(a.state) !== fingerprint(s) ? [s, a.state] : [s];
    return a.state.rev === op.revisionHint && a.state.rev === s.rev + 1 ? [a.state] : [];
  }
  if (!isWrite(op.request) || a.state === s || fingerprint(a.state) === fingerprint(s)) return [s];
  return [s, a.state];
}
