// A linearizability checker for etcd histories: the Wing & Gong search with Lowe's
// memoization (as in Porcupine; written from the papers' description), over the etcd
// model of model.ts.
//
// The history becomes a list of call and return entries ordered by time (a call
// before a return at the same time: such operations count as concurrent). The search
// is a depth-first search: the operations that may go next are the calls before the
// first return left in the list; it tries one (runs it through the model; if the
// model accepts and the pair (linearized set, state) was not seen before, the
// operation is taken out of the list and the search goes on from there); when none
// can go, it backtracks to the last choice. The history is linearizable iff the list
// empties.
//
// The model is nondeterministic for ambiguous writes (applied or not), so the search
// runs on sets of states (the powerset construction): an operation is accepted if
// some state in the set accepts it, and the new set holds every outcome.
//
// Not partitioned by key: every response carries the store's global revision, so an
// operation on one key constrains all others; instead the revisions prune the search
// (a write's answer pins it to one place in the order), which keeps it near linear.
//
// Bounded: `deadlineMs` stops the search with result 'unknown'.

import { describeOp, type Operation } from './history.js';
import { apply, fingerprint, initialState, step, type State } from './model.js';
import { inRange, kvText } from './history.js';

/** The outcome of a check. */
export interface LinearizabilityResult {
  result: 'ok' | 'violation' | 'unknown';
  /** Operations checked (after dropping ambiguous reads). */
  checked: number;
  /** For a violation: the smallest part of the history that shows it, one line per operation, and why. */
  report?: string;
  /** For a violation: the ids of the operations in the violating sub-history. */
  violatingIds?: number[];
  /** For 'ok': the order found (operation ids). */
  order?: number[];
  /** Search steps taken. */
  steps: number;
}

interface Entry {
  call: boolean;
  op: number;
  time: number;
  match?: Entry;
  prev?: Entry;
  next?: Entry;
}

const MAX_STATES = 4096;

/** The operations the search runs (ranges at an explicit revision, serializable ranges and ambiguous reads are checked elsewhere). */
export function linearizableOps(ops: readonly Operation[]): Operation[] {
  return ops.filter((o) => {
    if (o.request.type === 'range' && (o.request.serializable || o.request.revision !== undefined)) return false;
    if (o.status === 'ambiguous' && o.request.type === 'range') return false;
    if (o.status === 'error' && o.error === 'not sent') return false;
    return true;
  });
}

/** Keys an operation names (txn: compares and ops; ranges: their start key). */
function keysOf(op: Operation): string[] {
  const r = op.request;
  switch (r.type) {
    case 'txn': return [...new Set([...r.compare.map((c) => c.key), ...r.success.map((o) => o.key), ...r.failure.map((o) => o.key)])];
    case 'leaseGrant':
    case 'leaseRevoke': return [];
    default: return [r.key];
  }
}

/**
 * Checks that `history` is linearizable with respect to etcd's model, starting from
 * an empty store at revision `firstRevision`.
 * @param deadlineMs wall-clock budget of the search (ms); past it the result is 'unknown'
 */
export function checkLinearizable(history: readonly Operation[], opts: { firstRevision?: number; deadlineMs?: number } = {}): LinearizabilityResult {
  const ops = linearizableOps(history);
  const n = ops.length;
  const deadline = Date.now() + (opts.deadlineMs ?? 60_000);
  // entries: a sentinel head, then calls and returns by time
  const entries: Entry[] = [];
  ops.forEach((op, i) => {
    const call: Entry = { call: true, op: i, time: op.invoke };
    const ret: Entry = { call: false, op: i, time: op.status === 'ambiguous' ? Infinity : op.return };
    call.match = ret;
    entries.push(call, ret);
  });
  entries.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
  const head: Entry = { call: false, op: -1, time: -Infinity };
  let prev = head;
  for (const e of entries) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  // a 96-bit hash of the linearized set: three xors of per-operation random words
  let seed = 0x9e3779b9;
  const rnd = () => {
    seed ^= seed << 13; seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5; seed >>>= 0;
    return seed;
  };
  const h = ops.map(() => [rnd(), rnd(), rnd()] as const);
  let h0 = 0, h1 = 0, h2 = 0;
  const linearized = new Uint8Array(n);
  const cache = new Map<string, Set<string>>();
  const setKey = (states: State[]) => states.map(fingerprint).sort().join('#');
  const seen = (states: State[]): boolean => {
    const k = `${h0}:${h1}:${h2}`;
    const fp = setKey(states);
    let s = cache.get(k);
    if (!s) cache.set(k, (s = new Set()));
    if (s.has(fp)) return true;
    s.add(fp);
    return false;
  };
  const toggle = (i: number) => {
    linearized[i] ^= 1;
    h0 ^= h[i]![0]; h1 ^= h[i]![1]; h2 ^= h[i]![2];
  };
  const lift = (e: Entry) => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry) => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };

  /**
   * The calls that may be linearized next: those before the first return in the list
   * (an operation that has returned must precede everything invoked after that).
   * Tried in this order: first the acknowledged operations whose answer carries the
   * current revision (reads and other operations that do not move the revision: they
   * must go before the next write), then the other answered ones in invoke order, then
   * the ambiguous ones (never answered, they block nothing: one is tried at a point only
   * when what was answered cannot go on without it; tried in invoke order, an ambiguous
   * lease grant went in first, long before a "lease not found" answer that must precede
   * it, and the search undid it from hundreds of positions). The order changes
   * only how fast the search finds an answer, not the answer. None when one of them
   * was answered with a revision older than every state here (revisions never go
   * back, so it can never be placed).
   */
  let deadOp: number | undefined;
  const candidates = (states: State[]): Entry[] => {
    deadOp = undefined;
    const rev = Math.min(...states.map((s) => s.rev));
    const first: Entry[] = [];
    const later: Entry[] = [];
    const ambiguous: Entry[] = [];
    for (let e: Entry | undefined = head.next; e && e.call; e = e.next) {
      const op = ops[e.op]!;
      // an answer older than every state here can never fit any more: a dead end
      const answered = op.response?.revision ?? (typeof op.revisionHint === 'number' ? op.revisionHint : undefined);
      if (answered !== undefined && answered < rev) {
        deadOp = e.op;
        return [];
      }
      if (op.status === 'ok' && op.response && op.response.revision === rev) first.push(e);
      else if (op.status === 'ambiguous') ambiguous.push(e);
      else later.push(e);
    }
    return first.concat(later, ambiguous);
  };
  const stepSet = (states: State[], op: Operation): State[] => {
    const next: State[] = [];
    const fps = new Set<string>();
    for (const s of states) {
      for (const t of step(s, op)) {
        const f = fingerprint(t);
        if (!fps.has(f)) {
          fps.add(f);
          next.push(t);
        }
      }
    }
    return next;
  };

  /** One choice point: the candidates, the one being tried, the states before it, the dead-end operation if any. */
  interface Frame { cands: Entry[]; i: number; states: State[]; dead?: number }
  const stack: Frame[] = [];
  let frame: Frame = { cands: [], i: 0, states: [initialState(opts.firstRevision ?? 1)] };
  frame.cands = candidates(frame.states);
  frame.dead = deadOp;
  let best: { depth: number; order: number[]; states: State[]; blocking: number; candidates: number[] } | undefined;
  let steps = 0;
  for (;;) {
    if (!head.next) return { result: 'ok', checked: n, steps, order: stack.map((f) => ops[f.cands[f.i]!.op]!.id) };
    if (++steps % 4096 === 0 && Date.now() > deadline) return { result: 'unknown', checked: n, steps, ...(best ? { report: `(search stopped at its time bound; the deepest point it reached)\n${explain(ops, best).report}` } : {}) };
    if (frame.i >= frame.cands.length) {
      // nothing can go next: backtrack
      if (!best || stack.length > best.depth) {
        let ret: Entry | undefined = head.next;
        while (ret && ret.call) ret = ret.next;
        const window: number[] = [];
        for (let e: Entry | undefined = head.next; e && e.call; e = e.next) window.push(e.op);
        const blocking = frame.dead ?? (ret ? ret.op : window[0] ?? 0);
        best = { depth: stack.length, order: stack.map((f) => f.cands[f.i]!.op), states: frame.states, blocking, candidates: window };
      }
      const prev = stack.pop();
      if (!prev) break;
      const e = prev.cands[prev.i]!;
      unlift(e);
      toggle(e.op);
      prev.i++;
      frame = prev;
      continue;
    }
    const e = frame.cands[frame.i]!;
    const next = stepSet(frame.states, ops[e.op]!);
    if (next.length > MAX_STATES) return { result: 'unknown', checked: n, steps };
    if (next.length > 0) {
      toggle(e.op);
      if (!seen(next)) {
        lift(e);
        stack.push(frame);
        frame = { cands: [], i: 0, states: next };
        frame.cands = candidates(next);
        frame.dead = deadOp;
        continue;
      }
      toggle(e.op);
    }
    frame.i++;
  }
  if (!best) best = { depth: 0, order: [], states: frame.states, blocking: 0, candidates: [] };
  return { result: 'violation', checked: n, steps, ...explain(ops, best) };
}

/**
 * The violating sub-history: the operation that could not be linearized (it returned
 * before any order could place it), the operations concurrent with it that could not
 * be placed either, and, for every key they name, the last operations of the longest
 * linearizable prefix that touched that key (the writes it contradicts); plus what
 * the model expected in each state it could be in.
 */
function explain(ops: Operation[], best: { order: number[]; states: State[]; blocking: number; candidates: number[] }): { report: string; violatingIds: number[] } {
  const blocking = ops[best.blocking]!;
  const stuck = [best.blocking, ...best.candidates.filter((c) => c !== best.blocking)].map((i) => ops[i]!);
  const keys = new Set(stuck.flatMap(keysOf));
  const stuckRanges = stuck.map((o) => o.request).filter((r): r is { type: 'range'; key: string; end?: string } => r.type === 'range' && r.end !== undefined);
  const context: Operation[] = [];
  const perKey = new Map<string, number>();
  for (let i = best.order.length - 1; i >= 0 && context.length < 12; i--) {
    const op = ops[best.order[i]!]!;
    const ks = keysOf(op);
    const touches = ks.some((k) => keys.has(k) || stuckRanges.some((r) => inRange(k, r.key, r.end))) || (op.request.type === 'leaseRevoke' && stuck.some((s) => s.request.type === 'put' && s.request.lease === (op.request as { id: number }).id));
    if (!touches || op.status === 'ambiguous') continue;
    if (ks.every((k) => (perKey.get(k) ?? 0) >= 2)) continue;
    for (const k of ks) perKey.set(k, (perKey.get(k) ?? 0) + 1);
    context.unshift(op);
  }
  // the last revision-changing op before, so the report shows the revision the store was at
  const lines: string[] = [];
  lines.push('linearizable prefix ends with (operations on the same keys):');
  for (const op of context) lines.push(`  ${describeOp(op)}`);
  lines.push(`could not linearize (${stuck.length} concurrent operation${stuck.length === 1 ? '' : 's'} could not be placed; the first must precede its return):`);
  for (const op of stuck.slice(0, 8)) lines.push(`  ${describeOp(op)}`);
  lines.push('the store could be in:');
  for (const s of best.states.slice(0, 4)) {
    const ks = [...s.kvs.keys()].filter((k) => keys.has(k) || stuckRanges.some((r) => inRange(k, r.key, r.end))).sort();
    const a = apply(s, blocking.request);
    const want = a.error ? `error: ${a.error}` : describeOp({ ...blocking, status: 'ok', response: a.response! }).replace(/^.*-> /, '');
    lines.push(`  revision ${s.rev}: ${ks.map((k) => kvText(s.kvs.get(k))).join(', ') || '(keys absent)'}; there #${blocking.id} would answer: ${want}`);
  }
  return { report: lines.join('\n'), violatingIds: [...context, ...stuck].map((o) => o.id) };
}
