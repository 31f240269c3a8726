// The committed history: the events of every revision, in order, as the reference watch
// (watch 0: the whole key space from the first revision, with prev_kv) delivered them,
// checked against the model and against the clients' operations:
// - replaying it from an empty store, every event must be what the store makes:
//   put: mod_revision = the revision, create_revision kept (or = the revision for a new
//   key), version + 1, prev_kv = the key before; delete: of a key that exists;
// - revisions are contiguous (every revision change makes at least one event);
// - every acknowledged write is in it, at the revision its answer gave, with its
//   effect (lost acknowledged writes show here);
// - every revision is explained by one write a client sent (no phantom writes): an
//   acknowledged one with that revision, or an ambiguous one with the same effect.
// The states after each revision are kept for the snapshot-read checks.

import { describeOp, kvText, type History, type KV, type Operation, type Request, type TxnOp, type WatchEvent } from './history.js';
import { kvEqual } from './model.js';

/** A violation found by a checker: its kind (ledger name) and a readable explanation. */
export interface Violation {
  kind: string;
  message: string;
}

/** The committed history and the store after each revision. */
export interface Committed {
  first: number;
  last: number;
  /** Events by revision (first+1 .. last). */
  events: Map<number, WatchEvent[]>;
  /** Revisions made by acknowledged writes (the others were made by ambiguous ones). */
  explained?: Set<number>;
  /** The store after revision r (first .. last); the store at `first` is empty. */
  stateAt(rev: number): ReadonlyMap<string, KV> | undefined;
}

/** Builds the committed history from watch 0 and checks it (see the module comment). */
export function buildCommitted(h: History, violations: Violation[]): Committed | undefined {
  const ref = h.watches[0];
  if (!ref) {
    violations.push({ kind: 'no-reference-watch', message: 'the history has no watch to take the committed history from' });
    return undefined;
  }
  const events = new Map<number, WatchEvent[]>();
  for (const seg of ref.segments) {
    for (const resp of seg.responses) {
      for (const ev of resp.events) {
        const r = ev.kv.modRevision;
        let list = events.get(r);
        if (!list) events.set(r, (list = []));
        if (!list.some((e) => e.kv.key === ev.kv.key)) list.push(ev);
      }
    }
  }
  const first = h.firstRevision;
  const revs = [...events.keys()].sort((a, b) => a - b);
  const last = revs.length ? revs[revs.length - 1]! : first;
  const states: Array<Map<string, KV>> = [new Map()];
  let cur = new Map<string, KV>();
  for (let r = first + 1; r <= last; r++) {
    const evs = events.get(r);
    if (!evs) {
      violations.push({ kind: 'committed-gap', message: `the committed history has no events at revision ${r} (revisions ${first + 1}..${last} must each have some)` });
      states.push(cur);
      continue;
    }
    const next = new Map(cur);
    for (const ev of evs) {
      const prev = cur.get(ev.kv.key);
      if (ev.type === 'put') {
        const want: KV = { key: ev.kv.key, value: ev.kv.value, createRevision: prev ? prev.createRevision : r, modRevision: r, version: prev ? prev.version + 1 : 1, lease: ev.kv.lease };
        if (!kvEqual(want, ev.kv)) violations.push({ kind: 'committed-kv', message: `revision ${r}: put event ${kvText(ev.kv)}, but after ${kvText(prev)} the store makes ${kvText(want)}` });
        next.set(ev.kv.key, ev.kv);
      } else {
        if (!prev) violations.push({ kind: 'committed-kv', message: `revision ${r}: delete of ${ev.kv.key}, which does not exist` });
        next.delete(ev.kv.key);
      }
      if (ev.prevKv !== undefined && !kvEqual(ev.prevKv, prev)) violations.push({ kind: 'watch-prev-kv', message: `revision ${r}: ${ev.type} of ${ev.kv.key} has prev_kv ${kvText(ev.prevKv)}, the key was ${kvText(prev)}` });
    }
    states.push(next);
    cur = next;
  }
  const committed: Committed = {
    first,
    last,
    events,
    stateAt: (rev) => (rev < first || rev > last ? undefined : states[rev - first]),
  };
  checkWrites(h.operations, committed, violations);
  return committed;
}

/** The writes (puts and deletes, in order) a request makes when it succeeds with branch `succeeded`. */
function writesOf(op: Operation, succeeded?: boolean): TxnOp[] {
  const r = op.request;
  if (r.type === 'put') return [{ type: 'put', key: r.key, value: r.value, lease: r.lease }];
  if (r.type === 'delete') return [{ type: 'delete', key: r.key }];
  if (r.type === 'txn') {
    const branches = succeeded === undefined ? [r.success, r.failure] : [succeeded ? r.success : r.failure];
    return branches.flat().filter((o) => o.type !== 'range');
  }
  return [];
}

/** True if the events of one revision are exactly the effect of writes `ws` (deletes of absent keys make none). */
function eventsMatch(evs: WatchEvent[], ws: TxnOp[]): boolean {
  const puts = ws.filter((w) => w.type === 'put') as Array<{ key: string; value: string; lease?: number }>;
  const dels = ws.filter((w) => w.type === 'delete').map((w) => w.key);
  const evPuts = evs.filter((e) => e.type === 'put');
  const evDels = evs.filter((e) => e.type === 'delete').map((e) => e.kv.key);
  if (evPuts.length !== puts.length) return false;
  if (!puts.every((p) => evPuts.some((e) => e.kv.key === p.key && e.kv.value === p.value && e.kv.lease === (p.lease ?? 0)))) return false;
  // a delete in the request may find no key; every delete event must be one of the request's
  return evDels.every((k) => dels.includes(k)) && evs.length > 0;
}

function checkWrites(ops: readonly Operation[], c: Committed, violations: Violation[]): void {
  c.explained = new Set();
  const explained = new Map<number, Operation>();
  for (const op of ops) {
    if (op.status !== 'ok' || !op.response) continue;
    const res = op.response;
    const r = op.request;
    if (r.type === 'range' || r.type === 'leaseGrant') continue;
    const evs = c.events.get(res.revision) ?? [];
    let expectsChange: boolean;
    let ws: TxnOp[] = [];
    if (r.type === 'leaseRevoke') {
      // a revoke makes a revision only if the lease had keys; its events are deletes
      const dels = evs.filter((e) => e.type === 'delete');
      expectsChange = dels.length > 0 && dels.length === evs.length && evs.every((e) => e.prevKv === undefined || e.prevKv.lease === r.id);
      if (expectsChange && !explained.has(res.revision)) explained.set(res.revision, op);
      continue;
    } else if (r.type === 'txn' && res.type === 'txn') {
      ws = writesOf(op, res.succeeded);
      expectsChange = ws.some((w) => w.type === 'put') || (res.results.some((x) => x.type === 'delete' && x.deleted > 0));
    } else if (r.type === 'delete' && res.type === 'delete') {
      ws = writesOf(op);
      expectsChange = res.deleted > 0;
    } else {
      ws = writesOf(op);
      expectsChange = true;
    }
    if (!expectsChange) continue;
    if (res.revision > c.last) {
      violations.push({ kind: 'lost-write', message: `acknowledged write at revision ${res.revision} is beyond the committed history (last revision ${c.last}): ${describeOp(op)}` });
      continue;
    }
    if (!eventsMatch(evs, ws)) {
      violations.push({ kind: 'lost-write', message: `acknowledged write is not in the committed history at revision ${res.revision} (there: ${evs.map((e) => `${e.type} ${kvText(e.kv)}`).join(', ') || 'nothing'}): ${describeOp(op)}` });
      continue;
    }
    const other = explained.get(res.revision);
    if (other) violations.push({ kind: 'duplicate-revision', message: `two acknowledged writes answered with revision ${res.revision}: ${describeOp(other)} and ${describeOp(op)}` });
    explained.set(res.revision, op);
  }
  for (const r of explained.keys()) c.explained!.add(r);
  // every other revision: an ambiguous write (a unique put value identifies it), a revoke, or a phantom
  const ambiguous = ops.filter((o) => o.status === 'ambiguous' && o.request.type !== 'range' && o.request.type !== 'leaseGrant');
  const used = new Set<number>();
  for (let rev = c.first + 1; rev <= c.last; rev++) {
    if (explained.has(rev)) continue;
    const evs = c.events.get(rev);
    if (!evs) continue;
    const cand = ambiguous.find((o) => !used.has(o.id) && (o.request.type === 'leaseRevoke'
      ? evs.every((e) => e.type === 'delete' && e.prevKv?.lease === (o.request as { id: number }).id)
      : o.request.type === 'txn' ? [true, false].some((b) => writesOf(o, b).length > 0 && eventsMatch(evs, writesOf(o, b))) : eventsMatch(evs, writesOf(o))));
    if (cand) {
      used.add(cand.id);
      continue;
    }
    // an acknowledged revoke of a lease whose keys these are (its answer's revision is checked by the model)
    const revoke = ops.some((o) => o.request.type === 'leaseRevoke' && o.status !== 'error' && evs.every((e) => e.type === 'delete' && e.prevKv?.lease === (o.request as { id: number }).id));
    if (revoke) continue;
    violations.push({ kind: 'phantom-write', message: `revision ${rev} (${evs.map((e) => `${e.type} ${kvText(e.kv)}`).join(', ')}) was made by no operation any client sent` });
  }
}

/**
 * Resolves ambiguous puts from the committed history: a put whose unique value is in
 * it was applied at that revision (its answer is filled in); a put or txn whose unique
 * values are nowhere in it had no effect and is dropped; so is an ambiguous lease grant
 * whose ID no other operation names (nothing can observe it). The other ambiguous
 * writes get a revision hint (Operation.revisionHint) where the committed history
 * allows: 'none' if no unexplained revision has their effect, the revision if exactly
 * one has and nothing else could have made it (requests with the same effect competing
 * for the same revisions get them in the order they were sent). Returns the operations to check
 * (copies where changed).
 */
export function resolveAmbiguous(ops: readonly Operation[], c: Committed): Operation[] {
  const byValue = new Map<string, number>();
  for (const [rev, evs] of c.events) for (const e of evs) if (e.type === 'put') byValue.set(`${e.kv.key}\0${e.kv.value}`, rev);
  // lease IDs other operations name (an ambiguous grant of an ID nobody uses again is unobservable)
  const leaseUses = new Map<number, number>();
  const use = (id: number | undefined) => { if (id) leaseUses.set(id, (leaseUses.get(id) ?? 0) + 1); };
  for (const op of ops) {
    const r = op.request;
    if (r.type === 'put') use(r.lease);
    else if (r.type === 'leaseGrant' || r.type === 'leaseRevoke') use(r.id);
    else if (r.type === 'txn') for (const o of [...r.success, ...r.failure]) if (o.type === 'put') use(o.lease);
  }
  const out: Operation[] = [];
  for (const op of ops) {
    if (op.status !== 'ambiguous') {
      out.push(op);
      continue;
    }
    const r = op.request;
    if (r.type === 'leaseGrant' && leaseUses.get(r.id) === 1) continue;
    if (r.type === 'put') {
      const rev = byValue.get(`${r.key}\0${r.value}`);
      if (rev === undefined) continue;
      out.push({ ...op, response: { type: 'put', revision: rev } });
      continue;
    }
    if (r.type === 'txn') {
      const puts = [...r.success, ...r.failure].filter((o) => o.type === 'put') as Array<{ key: string; value: string }>;
      const bothBranchesPut = r.success.some((o) => o.type === 'put') && r.failure.some((o) => o.type === 'put');
      if (bothBranchesPut && !puts.some((p) => byValue.has(`${p.key}\0${p.value}`))) continue;
    }
    out.push(op);
  }
  // the other ambiguous writes: which unexplained revisions each could have made
  const unexplained: number[] = [];
  for (let r = c.first + 1; r <= c.last; r++) if (!c.explained?.has(r) && c.events.has(r)) unexplained.push(r);
  const cands = new Map<Operation, number[]>();
  const byRev = new Map<number, Operation[]>();
  for (const op of out) {
    if (op.status !== 'ambiguous' || op.response || op.request.type === 'range' || op.request.type === 'leaseGrant') continue;
    const rs = unexplained.filter((r) => canMake(op, c.events.get(r)!));
    cands.set(op, rs);
    for (const r of rs) {
      let l = byRev.get(r);
      if (!l) byRev.set(r, (l = []));
      l.push(op);
    }
  }
  // requests with the same effect (e.g. two ambiguous deletes of one key, with or without
  // prev_kv: an ambiguous answer is unknown, so prev_kv changes nothing) competing for the
  // same revisions: the earliest sent makes the earliest revision, the next the next, the
  // rest none (any valid assignment can be reordered into this one: each was sent
  // before the revision it gets)
  const assigned = new Map<Operation, number | 'none'>();
  const groups = new Map<string, Operation[]>();
  for (const [op, rs] of cands) {
    if (rs.length === 0) continue;
    const { prevKv: _answerOnly, ...effect } = op.request as Request & { prevKv?: boolean };
    const sig = JSON.stringify(effect);
    let g = groups.get(sig);
    if (!g) groups.set(sig, (g = []));
    g.push(op);
  }
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    const revs = cands.get(g[0]!)!;
    const closed = revs.every((r) => byRev.get(r)!.every((o) => g.includes(o))) && g.every((o) => cands.get(o)!.join() === revs.join());
    if (!closed || revs.length > g.length) continue;
    const byInvoke = [...g].sort((a, b) => a.invoke - b.invoke);
    byInvoke.forEach((o, i) => assigned.set(o, i < revs.length ? revs[i]! : 'none'));
  }
  return out.map((op) => {
    const rs = cands.get(op);
    if (!rs) return op;
    const a = assigned.get(op);
    if (a !== undefined) return { ...op, revisionHint: a };
    if (rs.length === 0) return { ...op, revisionHint: 'none' as const };
    if (rs.length === 1 && byRev.get(rs[0]!)!.length === 1) return { ...op, revisionHint: rs[0]! };
    return op;
  });
}

/** True if ambiguous write `op` could have made a revision with events `evs`. */
function canMake(op: Operation, evs: WatchEvent[]): boolean {
  const r = op.request;
  if (r.type === 'leaseRevoke') return evs.every((e) => e.type === 'delete' && e.prevKv?.lease === r.id);
  if (r.type === 'txn') return [true, false].some((b) => writesOf(op, b).length > 0 && eventsMatch(evs, writesOf(op, b)));
  return eventsMatch(evs, writesOf(op));
}
