// All checks of one history, in order:
// 1. the committed history from the reference watch, checked against the model and
//    the acknowledged writes (committed.ts);
// 2. ambiguous puts resolved from it;
// 3. linearizability of puts, deletes, txns, linearizable ranges and leases
//    (linearizability.ts);
// 4. snapshot reads: a serializable range must show the committed store at its
//    header revision; a range at an explicit revision the store at that revision,
//    and (linearizable) a header revision no older than any write acknowledged
//    before it was sent;
// 5. every watch against the committed history (watch-check.ts);
// 6. convergence: equal HashKV at one revision and equal compact revisions on all
//    members.

import { buildCommitted, resolveAmbiguous, type Violation } from './committed.js';
import { describeOp, inRange, kvText, type History, type KV } from './history.js';
import { checkLinearizable } from './linearizability.js';
import { kvsEqual } from './model.js';
import { checkWatches } from './watch-check.js';

export type { Violation } from './committed.js';

/** What the checks found. */
export interface CheckReport {
  violations: Violation[];
  /** Violations of the kinds passed as `known` (documented server behaviour, reported apart). */
  known: Violation[];
  /** Operations in the history / run through the linearizability search. */
  operations: number;
  linearizabilityChecked: number;
  /** 'unknown' when the search ran out of time. */
  linearizability: 'ok' | 'violation' | 'unknown';
  /** For 'unknown': the deepest point the search reached (a likely violation). */
  linearizabilityReport?: string;
  snapshotReadsChecked: number;
  watchEventsChecked: number;
  ambiguous: number;
}

/**
 * Runs every check on `h` (see the module comment). Violations whose kind is in
 * `known` go to `report.known` instead of `report.violations`.
 */
export function checkHistory(h: History, opts: { deadlineMs?: number; requireCaughtUp?: boolean; known?: readonly string[] } = {}): CheckReport {
  const violations: Violation[] = [];
  const committed = buildCommitted(h, violations);
  const report: CheckReport = {
    violations,
    known: [],
    operations: h.operations.length,
    linearizabilityChecked: 0,
    linearizability: 'unknown',
    snapshotReadsChecked: 0,
    watchEventsChecked: 0,
    ambiguous: h.operations.filter((o) => o.status === 'ambiguous').length,
  };
  const ops = committed ? resolveAmbiguous(h.operations, committed) : h.operations;
  const lin = checkLinearizable(ops, { firstRevision: h.firstRevision, deadlineMs: opts.deadlineMs });
  report.linearizabilityChecked = lin.checked;
  report.linearizability = lin.result;
  if (lin.result === 'unknown' && lin.report) report.linearizabilityReport = lin.report;
  if (lin.result === 'violation') violations.push({ kind: 'linearizability', message: `the history is not linearizable:\n${lin.report}` });
  if (committed) {
    // snapshot reads
    const acked = h.operations.filter((o) => o.status === 'ok' && o.response && o.request.type !== 'range').sort((a, b) => a.return - b.return);
    for (const op of h.operations) {
      const r = op.request;
      if (r.type !== 'range' || op.status !== 'ok' || !op.response || op.response.type !== 'range') continue;
      if (!r.serializable && r.revision === undefined) continue;
      report.snapshotReadsChecked++;
      const at = r.revision ?? op.response.revision;
      const st = committed.stateAt(at);
      if (!st) {
        violations.push({ kind: 'stale-read', message: `read at revision ${at}, outside the committed history (${committed.first}..${committed.last}): ${describeOp(op)}` });
        continue;
      }
      const want: KV[] = [...st.values()].filter((kv) => inRange(kv.key, r.key, r.end)).sort((a, b) => (a.key < b.key ? -1 : 1));
      if (!kvsEqual(want, op.response.kvs)) violations.push({ kind: 'snapshot-read', message: `read at revision ${at} returned [${op.response.kvs.map(kvText).join(', ')}], the committed store then was [${want.map(kvText).join(', ')}]: ${describeOp(op)}` });
      if (!r.serializable) {
        let floor = 0;
        for (const w of acked) {
          if (w.return >= op.invoke) break;
          floor = Math.max(floor, w.response!.revision);
        }
        if (op.response.revision < floor) violations.push({ kind: 'stale-read', message: `linearizable read answered at revision ${op.response.revision}, but a write acknowledged before it was sent made revision ${floor}: ${describeOp(op)}` });
      }
    }
    report.watchEventsChecked = checkWatches(h.watches, committed, violations, { requireCaughtUp: opts.requireCaughtUp });
  }
  if (h.finals && h.finals.length > 0) {
    const f0 = h.finals[0]!;
    for (const f of h.finals) {
      if (f.hashRevision !== f0.hashRevision || f.hash !== f0.hash) violations.push({ kind: 'convergence', message: `HashKV at revision ${f.hashRevision} on ${f.member} is ${f.hash}, on ${f0.member} at revision ${f0.hashRevision} ${f0.hash}` });
      if (f.compactRevision !== f0.compactRevision) violations.push({ kind: 'convergence', message: `compact revision ${f.compactRevision} on ${f.member}, ${f0.compactRevision} on ${f0.member}` });
      if (committed && f.revision !== committed.last) violations.push({ kind: 'convergence', message: `${f.member} ends at revision ${f.revision}, the committed history at ${committed.last}` });
    }
  }
  if (opts.known?.length) {
    report.known = violations.filter((v) => opts.known!.includes(v.kind));
    report.violations = violations.filter((v) => !opts.known!.includes(v.kind));
  }
  return report;
}
